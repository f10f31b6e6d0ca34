import DevhostManifest
import Foundation

/// One running copy of a service (`api.2`), owned by the supervisor actor.
final class Instance {
    /// Replaced by a reload that changed the service; the next spawn uses the new definition.
    var service: Service
    let index: Int
    var pid: pid_t?
    var assignedPort: Int?
    var listeningPort: Int?
    /// The LISTEN socket behind `listeningPort`; while it is in the kernel's table the port stands.
    var listeningInode: UInt64?
    var state: InstanceState = .waiting("start")
    var startedAt: ContinuousClock.Instant = .now
    var health: HealthTracker?
    var restarts: RestartTracker
    /// Set when devhost kills a running instance for failing its health check, so the exit that
    /// follows is handled with this decision instead of as a crash.
    var livenessDecision: RestartTracker.Decision?
    /// Bumped on every spawn so a health loop of a previous process cannot touch the new one.
    var generation = 0
    var reportedSilence = false
    /// Stopped on request (`devhost stop`): stays down until `devhost start`, and never ends devhost.
    var held = false
    /// The next exit is a requested restart: respawn at once, without counting it as a crash.
    var restartRequested = false
    /// Whether a task is running this instance's spawn loop.
    var looping = false

    init(service: Service, index: Int) {
        self.service = service
        self.index = index
        self.restarts = RestartTracker(policy: service.restart, maxRestarts: service.maxRestarts)
    }

    var label: String { "\(service.name).\(index)" }

    var snapshot: InstanceSnapshot {
        InstanceSnapshot(
            service: service.name, index: index, pid: pid, assignedPort: assignedPort, listeningPort: listeningPort, state: state,
            restarts: restarts.totalRestarts, health: healthSummary, startedAt: pid == nil ? nil : startedAt, held: held)
    }

    /// `ok`, `failing`, `pending`, or `-` without a check.
    var healthSummary: String {
        guard service.health != nil else { return "-" }
        guard pid != nil, let health else { return "-" }
        switch health.state {
        case .healthy: return "ok"
        case .unhealthy: return "failing"
        case .starting: return health.consecutiveFailures > 0 ? "failing" : "pending"
        }
    }

    /// Healthy enough to take traffic and to satisfy `depends_on: healthy`.
    var isHealthy: Bool { state == .healthy }
}
