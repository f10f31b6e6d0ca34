import DevhostManifest
import Foundation

extension Supervisor {
    /// Finds the ports instances really listen on. The LISTEN tables are read every tick; the
    /// per-process scan runs only when the set of listening sockets changed.
    func discoveryLoop() async {
        var lastInodes = Set<UInt64>()
        while !stopping {
            let running = selected.filter(\.hasPort).flatMap { instances[$0.name] ?? [] }.filter { $0.pid != nil }
            let waiting = running.contains { $0.listeningPort == nil }
            if !running.isEmpty {
                let sockets = scanner.listeningSockets()
                let inodes = Set(sockets.keys)
                if inodes != lastInodes {
                    lastInodes = inodes
                    let members = scanner.members(ofGroups: Set(running.compactMap(\.pid)))
                    for instance in running {
                        guard let pgid = instance.pid else { continue }
                        var ports = Set<Int>()
                        for pid in members[pgid] ?? [] {
                            for inode in scanner.socketInodes(of: pid) { if let port = sockets[inode] { ports.insert(port) } }
                        }
                        update(instance, listening: ports)
                    }
                }
                reportSilentInstances(running)
            }
            try? await Task.sleep(for: waiting ? options.discoveryTick : .milliseconds(250))
        }
    }

    private func update(_ instance: Instance, listening ports: Set<Int>) {
        // Prefer the port devhost assigned; otherwise the lowest (a debug port usually sits higher).
        let chosen = instance.assignedPort.flatMap { ports.contains($0) ? $0 : nil } ?? ports.min()
        guard chosen != instance.listeningPort else { return }
        let previous = instance.listeningPort
        instance.listeningPort = chosen
        let service = instance.service
        if let port = chosen {
            emit(SupervisorEvent(service: service.name, instance: instance.index, kind: .listening(port: port)))
            if service.health == nil {
                publishRoute(instance)
                setState(instance, .healthy)
            } else if instance.isHealthy {
                publishRoute(instance)
            }
        } else if let previous {
            emit(SupervisorEvent(service: service.name, instance: instance.index, kind: .stoppedListening(port: previous)))
            if service.health == nil {
                routes.set(service: service.name, instance: instance.label, endpoint: nil)
                setState(instance, .running)
            }
        }
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
