import DevhostManifest
import Foundation

extension Supervisor {
    /// Stops everything in reverse dependency order: each instance's whole process group gets its
    /// `stop_signal`, then SIGKILL after `stop_timeout`. `force` (a second Ctrl-C) kills at once.
    public func stop(force: Bool = false) async {
        if force {
            forced = true
            for instance in instances.values.flatMap({ $0 }) {
                if let pid = instance.pid { signalGroup(pid, SIGKILL) }
            }
        }
        guard !stopping else { return }
        stopping = true
        notifyChange()
        // Services stop in waves: a service goes once everything that depends on it is down, and
        // services of one wave go together (a hundred independent services stop in one step).
        for wave in stopWaves() {
            await withTaskGroup(of: Void.self) { group in
                for service in wave {
                    for instance in instances[service.name] ?? [] {
                        guard let pid = instance.pid else { continue }
                        setState(instance, .stopping)
                        group.addTask {
                            await self.endGroup(pid, signal: service.stopSignal.number, timeout: service.stopTimeout)
                        }
                    }
                }
            }
            // Dependents are fully down (reaped, output drained) before what they depend on is touched.
            while wave.contains(where: { service in (instances[service.name] ?? []).contains { $0.pid != nil } }) {
                await nextChange()
            }
        }
        for task in serviceTasks { await task.value }
        discoveryTask?.cancel()
        for relay in relays { await relay.close() }
        relays = []
        watchdog?.shutdown()
        finished = true
        let waiters = stoppedWaiters
        stoppedWaiters = []
        for waiter in waiters { waiter.resume() }
        for stream in eventStreams.values { stream.finish() }
    }

    /// Selected services grouped for stopping: each wave holds the services whose dependents are all
    /// in earlier waves.
    func stopWaves() -> [[Service]] {
        var depth: [String: Int] = [:]
        func level(_ service: Service) -> Int {
            if let known = depth[service.name] { return known }
            let dependents = selected.filter { $0.dependsOn.contains { $0.service == service.name } }
            let value = (dependents.map(level).max() ?? -1) + 1
            depth[service.name] = value
            return value
        }
        let levels = selected.map { ($0, level($0)) }
        let count = (levels.map(\.1).max() ?? -1) + 1
        return (0..<count).map { wave in levels.filter { $0.1 == wave }.map(\.0) }
    }

    /// Returns once `stop` has finished.
    public func waitUntilStopped() async {
        if finished { return }
        await withCheckedContinuation { stoppedWaiters.append($0) }
    }
}
