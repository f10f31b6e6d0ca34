import DevhostManifest
import Foundation

/// One running copy of a service (`api.2`), owned by the supervisor actor. What it is doing and what
/// happens next is decided by its `lifecycle`; this holds the process it runs and the spawn loop's
/// bookkeeping.
final class Instance {
    /// Replaced by a reload that changed the service; the next spawn uses the new definition.
    var service: Service {
        didSet { lifecycle.adopt(service) }
    }
    let index: Int
    var lifecycle: InstanceLifecycle
    var pid: pid_t?
    /// The LISTEN socket behind the listening port; while it is in the kernel's table the port stands.
    var listeningInode: UInt64?
    var startedAt: ContinuousClock.Instant = .now
    /// Bumped on every spawn so a health loop of a previous process cannot touch the new one.
    var generation = 0
    var reportedSilence = false
    /// Whether a task is running this instance's spawn loop.
    var looping = false
    /// What the last passing health check found (`redis PONG`); nil after a failing one.
    var healthDetail: String?
    /// A forward's tunnel and its decisions about the remote (nil for a local process).
    var forward: ForwardRun?

    init(service: Service, index: Int) {
        self.service = service
        self.index = index
        self.lifecycle = InstanceLifecycle(service: service)
    }

    var label: String { "\(service.name).\(index)" }
    var state: InstanceState { lifecycle.state }
    var held: Bool { lifecycle.held }
    var assignedPort: Int? { lifecycle.assignedPort }
    var listeningPort: Int? { lifecycle.listeningPort }

    var snapshot: InstanceSnapshot {
        InstanceSnapshot(
            service: service.name, index: index, pid: pid, assignedPort: assignedPort, listeningPort: listeningPort, state: state,
            restarts: lifecycle.restarts.totalRestarts, health: healthSummary, startedAt: pid == nil ? nil : startedAt, held: held,
            lastError: forward?.lastError, healthDetail: pid == nil ? nil : healthDetail)
    }

    /// `ok`, `failing`, `pending`, or `-` without a check.
    var healthSummary: String {
        guard service.health != nil else { return "-" }
        guard pid != nil, let health = lifecycle.health else { return "-" }
        switch health.state {
        case .healthy: return "ok"
        case .unhealthy: return "failing"
        case .starting: return health.consecutiveFailures > 0 ? "failing" : "pending"
        }
    }

    /// Healthy enough to take traffic and to satisfy `depends_on: healthy`.
    var isHealthy: Bool { state == .healthy }
}
