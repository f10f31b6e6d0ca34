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
        for service in selected.reversed() {
            await withTaskGroup(of: Void.self) { group in
                for instance in instances[service.name] ?? [] {
                    guard let pid = instance.pid else { continue }
                    setState(instance, .stopping)
                    group.addTask {
                        await self.endGroup(pid, signal: service.stopSignal.number, timeout: service.stopTimeout)
                    }
                }
            }
            // Dependents are fully down (reaped, output drained) before what they depend on is touched.
            while (instances[service.name] ?? []).contains(where: { $0.pid != nil }) {
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
        waiters.forEach { $0.resume() }
        for stream in eventStreams.values { stream.finish() }
    }

    /// Returns once `stop` has finished.
    public func waitUntilStopped() async {
        if finished { return }
        await withCheckedContinuation { stoppedWaiters.append($0) }
    }
}
