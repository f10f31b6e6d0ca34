import DevhostManifest
import DevhostProxy
import Foundation
import NIOCore

extension Supervisor {
    /// Spawns an instance and keeps it running as its lifecycle says, until devhost stops.
    func runInstance(_ instance: Instance, launched: Bool = false) async {
        guard launched || !instance.looping else { return }
        instance.looping = true
        defer { instance.looping = false }
        if instance.service.forward != nil {
            await runForwardInstance(instance)
            return
        }
        while !phase.isStopping, instance.lifecycle.mayRun {
            let service = instance.service
            var assigned: Int?
            switch service.port {
            case .none: assigned = nil
            case .auto:
                assigned = try? freeLoopbackPort()
            case .fixed(let port):
                // Fail fast, naming the holder: devhost never signals a process it did not start.
                if let owner = scanner.owner(ofPort: port), !ownsProcess(owner.pid) {
                    handle(.failedToStart("port \(port) is taken by pid \(owner.pid) (\(owner.command))"), for: instance)
                    return
                }
                assigned = port
            }
            let pid: pid_t
            let output: EventLoopFuture<Void>
            do {
                let builder = serviceEnvironment()
                let environment = try builder.environment(
                    for: service, in: manifest, instance: .init(index: instance.index, port: assigned))
                let argv = try builder.render(service.command, env: environment)
                (pid, output) = try spawnLogged(
                    argv, environment: environment, directory: service.cwd, label: instance.label, service: service.name)
            } catch {
                handle(.failedToStart("\(error)"), for: instance)
                return
            }
            instance.generation += 1
            instance.pid = pid
            instance.listeningInode = nil
            instance.startedAt = .now
            instance.reportedSilence = false
            emit(SupervisorEvent(service: service.name, instance: instance.index, kind: .spawned(pid: pid, port: assigned)))
            handle(.spawned(port: assigned, at: instance.startedAt), for: instance)

            let generation = instance.generation
            let healthTask = Task { await self.healthLoop(instance, generation: generation) }
            let status = await ChildProcesses.shared.exitStatus(of: pid)
            healthTask.cancel()
            // The leader is gone; end whatever it left in its group (workers, `sh -c 'a & b'`).
            await endGroup(pid, signal: SIGKILL, timeout: .seconds(2))
            watchdog?.forget(pid)
            try? await output.get()
            instance.pid = nil
            instance.listeningInode = nil
            guard let delay = handle(.exited(status, at: .now), for: instance).respawnAfter else { return }
            if delay > .zero { await sleepUnlessStopping(delay, or: instance) }
        }
        handle(.loopEnded, for: instance)
    }

    /// Probes an instance while this generation of it runs and feeds the results to its lifecycle.
    func healthLoop(_ instance: Instance, generation: Int) async {
        guard let check = instance.service.health else { return }
        let probe = HealthProbe(group: group)
        // Only exec probes and a password written as `${VAR}` need the instance's environment.
        let builder = serviceEnvironment()
        let environment =
            check.probe.needsPort && !ProbeSecrets.readVariables(check.probe)
            ? [:]
            : (try? builder.environment(
                for: instance.service, in: manifest, instance: .init(index: instance.index, port: instance.assignedPort))) ?? [:]
        let resolved = ProbeSecrets.resolve(check.probe, environment: environment, reference: builder.reference)
        while !Task.isCancelled, instance.generation == generation, instance.pid != nil {
            // Until the first success probe quickly (like compose's start_interval), so "healthy" follows
            // "listening" within a few milliseconds; then at the configured interval.
            let fast = instance.state != .healthy && ContinuousClock.now - instance.startedAt < check.startPeriod
            try? await Task.sleep(for: fast ? .milliseconds(25) : check.interval)
            guard !Task.isCancelled, instance.generation == generation, instance.lifecycle.probing else { return }
            // http and tcp probes wait for discovery; a missing port only counts once probing slows down.
            let port = instance.listeningPort
            if check.probe.needsPort, port == nil, fast { continue }
            let outcome: ProbeOutcome
            let probedAt = ContinuousClock.now
            switch resolved {
            case .success(let concrete):
                outcome = await probe.check(
                    concrete, port: port, timeout: check.timeout, environment: environment, directory: instance.service.cwd)
            case .failure(let problem): outcome = .unhealthy(problem.message)
            }
            guard instance.generation == generation else { return }
            let failure = outcome.healthy ? nil : outcome.detail
            instance.healthDetail = outcome.healthy ? outcome.detail : nil
            // A forward whose remote went away is waiting for it, not failing: its tunnel ends at no cost.
            if failure != nil, let forward = instance.service.forward, await remoteProblem(forward, since: probedAt) != nil {
                // The check took a while: the tunnel it was about may have been replaced meanwhile.
                guard instance.generation == generation else { return }
                await endForward(label: instance.label, service: instance.service.name)
                return
            }
            let followup = handle(.probed(failure: failure, at: .now), for: instance)
            if let end = followup.end {
                Task { await end() }
                return
            }
        }
    }

    /// True for processes in a group devhost started (so "port taken" never blames our own instance).
    func ownsProcess(_ pid: pid_t) -> Bool {
        let groups = Set(instances.values.flatMap { $0.compactMap(\.pid) })
        let stat = ProcFile.read("/proc/\(pid)/stat")
        guard let close = stat.lastIndex(of: ")") else { return false }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return fields.count > 2 && groups.contains(pid_t(fields[2]) ?? -1)
    }

    /// Sends `signal` to the group, waits up to `timeout` for every member to go, then SIGKILLs the rest.
    func endGroup(_ pgid: pid_t, signal: Int32, timeout: Duration) async {
        guard groupExists(pgid) else { return }
        signalGroup(pgid, signal)
        let deadline = ContinuousClock.now + timeout
        while groupExists(pgid), ContinuousClock.now < deadline, !phase.isForced {
            try? await Task.sleep(for: .milliseconds(10))
        }
        if groupExists(pgid) { signalGroup(pgid, SIGKILL) }
        let hardDeadline = ContinuousClock.now + .seconds(2)
        while groupExists(pgid), ContinuousClock.now < hardDeadline {
            try? await Task.sleep(for: .milliseconds(5))
        }
    }

    func sleepUnlessStopping(_ delay: Duration, or instance: Instance? = nil) async {
        let deadline = ContinuousClock.now + delay
        while !phase.isStopping, instance?.held != true, ContinuousClock.now < deadline {
            try? await Task.sleep(for: min(.milliseconds(50), deadline - ContinuousClock.now))
        }
    }
}
