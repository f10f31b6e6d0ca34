import DevhostManifest
import Foundation

extension Supervisor {
    /// Finds the ports instances really listen on. The LISTEN tables are read every tick; the
    /// per-process scan runs only when the set of listening sockets changed.
    func discoveryLoop() async {
        var lastInodes = Set<UInt64>()
        while !phase.isStopping {
            // A forward's listener is known when its tunnel opens (and may sit in a shared ssh master).
            let running = selected.filter { $0.hasPort && $0.forward == nil }.flatMap { instances[$0.name] ?? [] }.filter { $0.pid != nil }
            var waiting = false
            if !running.isEmpty {
                let sockets = scanner.listeningSockets()
                let inodes = Set(sockets.keys)
                // An instance whose listening socket is still in the table needs no look at its processes.
                let unknown = running.filter { instance in instance.listeningInode.map { sockets[$0] == nil } ?? true }
                waiting = !unknown.isEmpty
                if !unknown.isEmpty, inodes != lastInodes {
                    lastInodes = inodes
                    let members = scanner.members(ofGroups: Set(unknown.compactMap(\.pid)))
                    for instance in unknown {
                        guard let pgid = instance.pid else { continue }
                        var found: [(port: Int, inode: UInt64)] = []
                        for pid in members[pgid] ?? [] {
                            for inode in scanner.socketInodes(of: pid) { if let port = sockets[inode] { found.append((port, inode)) } }
                        }
                        update(instance, listening: found)
                    }
                }
                reportSilentInstances(running)
            }
            try? await Task.sleep(for: waiting ? options.discoveryTick : .milliseconds(250))
        }
    }

    private func update(_ instance: Instance, listening found: [(port: Int, inode: UInt64)]) {
        // Prefer the port devhost assigned; otherwise the lowest (a debug port usually sits higher).
        let chosen = found.first { $0.port == instance.assignedPort } ?? found.min { $0.port < $1.port }
        instance.listeningInode = chosen?.inode
        guard chosen?.port != instance.listeningPort else { return }
        let previous = instance.listeningPort
        let service = instance.service
        if let port = chosen?.port {
            emit(SupervisorEvent(service: service.name, instance: instance.index, kind: .listening(port: port)))
        } else if let previous {
            emit(SupervisorEvent(service: service.name, instance: instance.index, kind: .stoppedListening(port: previous)))
        }
        handle(.listening(port: chosen?.port), for: instance)
    }

    /// An instance that has not listened after its start period is reported once, with its last lines.
    private func reportSilentInstances(_ running: [Instance]) {
        for instance in running where instance.listeningPort == nil && !instance.reportedSilence {
            let period = instance.service.health?.startPeriod ?? HealthCheck.defaultStartPeriod
            guard ContinuousClock.now - instance.startedAt >= period else { continue }
            instance.reportedSilence = true
            let lines = Array(options.log.recentLines(of: instance.service.name).suffix(10))
            emit(SupervisorEvent(service: instance.service.name, instance: instance.index, kind: .neverListened(lastLines: lines)))
        }
    }
}
