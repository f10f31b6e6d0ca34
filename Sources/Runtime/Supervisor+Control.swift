import DevhostManifest
import Foundation

/// What a request to the supervisor came to, per instance or service, for the caller to print.
public struct ControlOutcome: Sendable, Equatable {
    public var service: String
    public var done: Bool
    public var message: String
}

extension Supervisor {
    // MARK: Restart, stop, start

    /// Restarts a service rolling: one instance at a time, each out of the route table before it is
    /// signalled, the next only once the new one is healthy, so the others carry the traffic.
    public func restart(_ name: String) async throws -> ControlOutcome {
        let list = try managedInstances(name)
        // Edited requirements (or migrations) take effect on a restart, not only at the next `up`.
        if let service = list.first?.service, service.setup != nil, !SetupRunner(stateDirectory: stateDirectory).isUpToDate(service),
            let problem = await runSetup(service)
        {
            return ControlOutcome(service: name, done: false, message: "\(name) \(problem); the running instances were left as they are")
        }
        for instance in list {
            let generation = instance.generation
            if let problem = await restartInstance(instance) {
                return ControlOutcome(
                    service: name, done: false, message: "\(instance.label) \(problem); the other instances were left as they are")
            }
            // A job is "up" the moment it runs; restarting one means running it again to its end.
            if Self.isJob(instance.service), let problem = await waitUntilEnded(instance, after: generation) {
                return ControlOutcome(service: name, done: false, message: "\(instance.label) \(problem)")
            }
        }
        if let first = list.first, Self.isJob(first.service) {
            return ControlOutcome(service: name, done: true, message: "\(name) ran again and completed (exit 0)")
        }
        return ControlOutcome(service: name, done: true, message: "\(name) restarted (\(list.count) instance\(list.count == 1 ? "" : "s"))")
    }

    /// A one-shot job: nothing to serve or probe, and a successful exit is its end (`restart: no`).
    static func isJob(_ service: Service) -> Bool {
        service.restart == .no && !service.hasPort && service.health == nil
    }

    /// Waits until an instance's run newer than `generation` has ended; nil when it completed (exit 0),
    /// else how it ended.
    func waitUntilEnded(_ instance: Instance, after generation: Int) async -> String? {
        while true {
            if instance.generation > generation, instance.state.isFinal {
                return instance.state == .completed ? nil : "\(instance.state)"
            }
            if phase.isStopping { return "did not finish: devhost is stopping" }
            await nextChange()
        }
    }

    /// Stops a service's instances until `start`; they do not count as failures or end devhost.
    public func stopService(_ name: String) async throws -> ControlOutcome {
        let list = try managedInstances(name)
        await withTaskGroup(of: Void.self) { group in
            for instance in list {
                if let end = handle(.stopRequested(hold: true, looping: instance.looping), for: instance).end {
                    group.addTask { await end() }
                }
            }
        }
        while list.contains(where: \.looping) { await nextChange() }
        return ControlOutcome(service: name, done: true, message: "\(name) stopped")
    }

    /// Starts a stopped (or ended) service again, with a fresh restart budget; a service that was
    /// not selected at `up` starts with what it depends on.
    public func startService(_ name: String) async throws -> ControlOutcome {
        guard let service = manifest.service(named: name) else {
            throw SupervisorError.unknownService(name, known: manifest.services.map(\.name))
        }
        if instances[name] == nil {
            let wanted = try Self.selection([name], in: manifest).filter { instances[$0.name] == nil }
            admit(wanted)
            for added in wanted { serviceTasks.append(Task { await self.launchService(added) }) }
        } else {
            // A service still waiting for its dependencies or setup starts by itself when they are done.
            for instance in instances[name] ?? [] where !instance.looping && !pendingServices.contains(name) {
                handle(.startRequested, for: instance)
                launch(instance)
            }
        }
        let list = instances[name] ?? []
        if let problem = await waitUntilReady(list, after: [:]) {
            return ControlOutcome(service: name, done: false, message: "\(name) \(problem)")
        }
        return ControlOutcome(service: service.name, done: true, message: "\(name) started")
    }

    /// Whether the service has instances under supervision that have not been stopped on request.
    public func isRunning(_ name: String) -> Bool {
        (instances[name] ?? []).contains { !$0.held }
    }

    func managedInstances(_ name: String) throws -> [Instance] {
        guard let list = instances[name] else {
            if manifest.service(named: name) != nil { throw SupervisorError.notStarted(name) }
            throw SupervisorError.unknownService(name, known: manifest.services.map(\.name))
        }
        return list.sorted { $0.index < $1.index }
    }

    /// Replaces one instance's process and waits until the new one is ready; returns why not, or nil.
    func restartInstance(_ instance: Instance) async -> String? {
        let generation = instance.generation
        let looping = instance.looping
        if let end = handle(.restartRequested, for: instance).end, looping {
            await end()
        } else if !instance.lifecycle.running, !looping, !pendingServices.contains(instance.service.name) {
            handle(.startRequested, for: instance)
            launch(instance)
        }
        return await waitUntilReady([instance], after: [instance.label: generation])
    }

    /// How long a planned stop waits for requests in flight: the stop timeout, at most 10 s.
    static func drainLimit(_ service: Service) -> Duration {
        min(service.stopTimeout, .seconds(10))
    }

    /// Runs an instance's spawn loop in a new task; it counts as looping from now, so a wait that
    /// starts before the task does sees it coming.
    func launch(_ instance: Instance) {
        instance.looping = true
        serviceTasks.append(Task { await self.runInstance(instance, launched: true) })
    }

    /// Waits until each instance runs a process newer than `after[label]` and has reached what it is
    /// for; returns why one never will, or nil.
    func waitUntilReady(_ list: [Instance], after generations: [String: Int]) async -> String? {
        // Bounded, so one service that never comes up cannot hold every later control call.
        let limit =
            list.map { instance in
                (instance.service.health?.startPeriod ?? .seconds(30)) + instance.service.stopTimeout + .seconds(30)
            }.max() ?? .seconds(60)
        let deadline = ContinuousClock.now + limit
        let timer = Task { [weak self] in
            try? await Task.sleep(for: limit)
            await self?.notifyChange()
        }
        defer { timer.cancel() }
        while true {
            if phase.isStopping { return "not ready: devhost is stopping" }
            if ContinuousClock.now >= deadline {
                let states = list.map { "\($0.label) \($0.state)" }.joined(separator: ", ")
                return "not ready after \(DurationText.format(limit)) (\(states))"
            }
            var pending = false
            for instance in list {
                let fresh = instance.generation > (generations[instance.label] ?? -1)
                if fresh, instance.snapshot.isOK { continue }
                if fresh, instance.state.isFinal, !instance.looping { return "\(instance.state)" }
                pending = true
            }
            if !pending { return nil }
            await nextChange()
        }
    }

    /// Adds services to the running set with fresh instances (start order is kept).
    func admit(_ services: [Service]) {
        for service in services where instances[service.name] == nil {
            instances[service.name] = (1...service.replicas).map { Instance(service: service, index: $0) }
        }
        let names = Set(selected.map(\.name)).union(services.map(\.name))
        selected = manifest.startOrder.filter { names.contains($0.name) }
    }

    /// Runs a service that joined after `up` (start, reload): a relay for its stable port, then the
    /// usual dependency wait, setup and instances.
    func launchService(_ service: Service) async {
        try? await openRelay(for: service)
        await runService(service)
    }
}
