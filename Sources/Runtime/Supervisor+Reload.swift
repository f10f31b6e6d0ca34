import DevhostManifest
import DevhostProxy
import Foundation

/// What a reload changed, service by service.
public struct ReloadReport: Sendable, Equatable {
    public var added: [String] = []
    public var removed: [String] = []
    public var changed: [String] = []
    /// Only the number of replicas changed: instances were added or removed, none restarted.
    public var scaled: [String] = []
    /// Problems met while applying (a changed service that did not come back healthy).
    public var problems: [String] = []
    /// Some host name now leads somewhere else (the proxy swaps its table).
    public var routesChanged = false
    /// Settings that only take effect when devhost restarts (the proxy's port and address).
    public var needsRestart: [String] = []
    /// `proxy.inspect`'s new value, when it changed (the request inspector records or stops).
    public var inspect: Bool?

    public var isEmpty: Bool {
        added.isEmpty && removed.isEmpty && changed.isEmpty && scaled.isEmpty && needsRestart.isEmpty && !routesChanged && inspect == nil
    }

    public var summary: String {
        var parts: [String] = []
        if !added.isEmpty { parts.append("started " + added.joined(separator: ", ")) }
        if !removed.isEmpty { parts.append("stopped " + removed.joined(separator: ", ")) }
        if !changed.isEmpty { parts.append("restarted " + changed.joined(separator: ", ")) }
        if !scaled.isEmpty { parts.append("scaled " + scaled.joined(separator: ", ")) }
        if routesChanged { parts.append("routes updated") }
        if let inspect { parts.append("proxy.inspect \(inspect ? "on" : "off")") }
        if !needsRestart.isEmpty { parts.append(needsRestart.joined(separator: ", ") + " changed: restart devhost to apply") }
        if parts.isEmpty { parts.append("nothing to do (no service changed)") }
        return parts.joined(separator: "; ") + (problems.isEmpty ? "" : "; problems: " + problems.joined(separator: "; "))
    }
}

extension Supervisor {
    /// Runs control operations one at a time (a restart never interleaves with a reload).
    public func exclusive<T: Sendable>(_ body: @escaping @Sendable (Supervisor) async throws -> T) async throws -> T {
        let previous = lastOperation
        let task = Task<T, Error> {
            await previous?.value
            return try await body(self)
        }
        lastOperation = Task { _ = try? await task.value }
        return try await task.value
    }

    /// Applies a new manifest: removed services stop, new ones start, changed ones restart rolling;
    /// the rest are left alone.
    public func apply(_ new: Manifest) async -> ReloadReport {
        var report = ReloadReport()
        let old = manifest
        if old.proxy.port != new.proxy.port { report.needsRestart.append("proxy.port") }
        if old.proxy.bind != new.proxy.bind { report.needsRestart.append("proxy.bind") }
        // The HTTPS listener is started with the session and is not swapped under open connections.
        if old.proxy.https != new.proxy.https { report.needsRestart.append("proxy.https") }
        if old.proxy.httpsPort != new.proxy.httpsPort { report.needsRestart.append("proxy.https_port") }
        report.routesChanged = ProxyRoutes.routes(for: old) != ProxyRoutes.routes(for: new)
        if old.proxy.inspect != new.proxy.inspect { report.inspect = new.proxy.inspect }
        let newFingerprints = Dictionary(uniqueKeysWithValues: new.services.map { ($0.name, Self.fingerprint($0, in: new)) })
        let running = Set(instances.keys)
        report.removed = old.startOrder.map(\.name).filter { running.contains($0) && new.service(named: $0) == nil }.reversed()
        report.added = new.startOrder.map(\.name).filter { old.service(named: $0) == nil }
        report.changed = new.startOrder.map(\.name).filter {
            running.contains($0) && fingerprints[$0] != nil && fingerprints[$0] != newFingerprints[$0]
        }
        report.scaled = new.startOrder.compactMap { service in
            guard running.contains(service.name), !report.changed.contains(service.name),
                (instances[service.name] ?? []).count != service.replicas
            else { return nil }
            return service.name
        }
        manifest = new
        fingerprints = newFingerprints
        // Said even when nothing changed: whoever saved the file sees the edit was read (docs/control.md).
        if report.isEmpty {
            emit(SupervisorEvent(service: "devhost", instance: 0, kind: .note("reloaded: " + report.summary)))
            return report
        }
        emit(SupervisorEvent(service: "devhost", instance: 0, kind: .note("reloading: " + report.summary)))

        for name in report.removed { await remove(name) }
        // A forward's fixed `port:` is its local end, as at start: a new forward's relay listens there,
        // and one whose port was edited moves there (it never gets an automatic port instead).
        for service in new.services {
            guard let port = Self.forwardPort(of: service), stablePorts[service.name] != port else { continue }
            if let index = relays.firstIndex(where: { $0.service == service.name }) { await relays.remove(at: index).close() }
            stablePorts[service.name] = port
            if instances[service.name] != nil { try? await openRelay(for: service) }
        }
        // Services that already have a stable port keep it (their relay listens there); only new ones get one.
        let needing = new.services.filter { $0.hasPort && stablePorts[$0.name] == nil }.map(\.name)
        if !needing.isEmpty,
            let assigned = try? StablePorts(stateDirectory: stateDirectory).assign(
                needing, avoiding: Set(stablePorts.values).union(Self.fixedPorts(of: new)).union([new.proxy.port]))
        {
            stablePorts.merge(assigned) { _, new in new }
        }
        let added = report.added.compactMap { new.service(named: $0) }
        admit(added)
        for service in added { serviceTasks.append(Task { await self.launchService(service) }) }
        for name in report.scaled {
            guard let service = new.service(named: name) else { continue }
            _ = await replace(service, restarting: false)
        }
        for name in report.changed {
            guard let service = new.service(named: name) else { continue }
            if let problem = await replace(service, restarting: true) { report.problems.append("\(name): \(problem)") }
        }
        selected = new.startOrder.filter { instances[$0.name] != nil }
        emit(SupervisorEvent(service: "devhost", instance: 0, kind: .note("reloaded: " + report.summary)))
        return report
    }

    /// A service's definition as it matters to its running processes: positions, routes, replicas and
    /// watch globs left out (those change without a restart), env files' contents and the routes its
    /// `${x.public_url}` references resolve to put in.
    static func fingerprint(_ service: Service, in manifest: Manifest) -> String {
        var plain = service
        plain.replicas = 1
        plain.routes = []
        plain.rewriteHost = false
        plain.watch = []
        plain.location = nil
        plain.locations = [:]
        plain.env = plain.env.map { EnvEntry(key: $0.key, value: $0.value) }
        plain.dependsOn = plain.dependsOn.map { Dependency(service: $0.service, condition: $0.condition) }
        var text = manifest.name + "\n" + String(reflecting: plain)
        text += "\n" + manifest.env.map { "\($0.key)=\($0.value)" }.joined(separator: "\n")
        if text.contains("public_url") || text.contains("public_http_url") {
            text +=
                "\n" + manifest.services.map { "\($0.name)=\($0.routeEntries.map { $0.host + $0.pathSuffix })" }.joined(separator: ",")
                + "@\(manifest.proxy.domain):\(manifest.proxy.port) https=\(manifest.proxy.https):\(manifest.proxy.httpsPort ?? -1)"
        }
        for path in [manifest.envFile, service.envFile].compactMap({ $0 }) {
            text += "\n" + ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "")
        }
        return text
    }

    func recordFingerprints() {
        fingerprints = Dictionary(uniqueKeysWithValues: manifest.services.map { ($0.name, Self.fingerprint($0, in: manifest)) })
    }

    /// Stops a service that left the manifest and forgets it: instances, routes, relay, state.
    private func remove(_ name: String) async {
        // Stopping it took its instances out of the route table.
        _ = try? await stopService(name)
        instances[name] = nil
        board.remove(service: name)
        selected.removeAll { $0.name == name }
        if let index = relays.firstIndex(where: { $0.service == name }) {
            await relays.remove(at: index).close()
        }
    }

    /// Moves a running service to a new definition: replicas added or removed, the rest restarted rolling.
    private func replace(_ service: Service, restarting: Bool) async -> String? {
        var list = (instances[service.name] ?? []).sorted { $0.index < $1.index }
        for instance in list { instance.service = service }
        if list.count > service.replicas {
            let extra = Array(list[service.replicas...])
            list.removeLast(list.count - service.replicas)
            instances[service.name] = list
            await withTaskGroup(of: Void.self) { group in
                for instance in extra {
                    if let end = handle(.stopRequested(hold: true, looping: instance.looping), for: instance).end {
                        group.addTask { await end() }
                    }
                }
            }
            // The loops' last state change must land before the entries go.
            while extra.contains(where: \.looping) { await nextChange() }
            for instance in extra { board.remove(service: service.name, instance: instance.label) }
        }
        let existing = list
        // A service stopped on request stays stopped, new replicas included.
        let held = !list.isEmpty && list.allSatisfy(\.held)
        if list.count < service.replicas {
            let fresh = ((list.count + 1)...service.replicas).map { Instance(service: service, index: $0) }
            instances[service.name] = list + fresh
            for instance in fresh {
                if held {
                    handle(.stopRequested(hold: true, looping: false), for: instance)
                } else if !pendingServices.contains(service.name) {
                    // (A pending service's start launches every instance it has by then.)
                    launch(instance)
                }
            }
        }
        try? await openRelay(for: service)
        selected = selected.map { $0.name == service.name ? service : $0 }
        guard restarting, !held else { return nil }
        // A changed setup (or its inputs) runs before the new processes start.
        if service.setup != nil, !SetupRunner(stateDirectory: stateDirectory).isUpToDate(service), let problem = await runSetup(service) {
            return problem
        }
        for instance in existing where !instance.held {
            handle(.startRequested, for: instance)
            if let problem = await restartInstance(instance) { return "\(instance.label) \(problem)" }
        }
        return nil
    }
}
