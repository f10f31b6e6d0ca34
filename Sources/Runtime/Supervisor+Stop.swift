import DevhostManifest
import Foundation

extension Supervisor {
    /// Stops everything in reverse dependency order: each instance's whole process group gets its
    /// `stop_signal`, then SIGKILL after `stop_timeout`. `force` (a second Ctrl-C) kills at once.
    public func stop(force: Bool = false) async {
        let alreadyStopping = phase.isStopping
        if force {
            phase = phase.stopping(forced: true)
            for instance in instances.values.flatMap({ $0 }) {
                if let pid = instance.pid { signalGroup(pid, SIGKILL) }
            }
        }
        guard !alreadyStopping else { return }
        phase = phase.stopping(forced: force)
        for instance in instances.values.flatMap({ $0 }) { handle(.shutdown, for: instance) }
        notifyChange()
        // Services stop in waves: a service goes once everything that depends on it is down, and
        // services of one wave go together (a hundred independent services stop in one step).
        for wave in stopWaves() {
            await withTaskGroup(of: Void.self) { group in
                for service in wave {
                    for instance in instances[service.name] ?? [] {
                        guard instance.pid != nil else { continue }
                        if let end = handle(.stopRequested(hold: false, looping: instance.looping), for: instance).end {
                            group.addTask { await end() }
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
        await endSSHMasters()
        watchdog?.shutdown()
        phase = .stopped(wasReady: phase.hasBeenReady)
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
        if phase.isStopped { return }
        await withCheckedContinuation { stoppedWaiters.append($0) }
    }
}
