import DevhostManifest

/// What an instance is doing, as `devhost status` and the dashboard show it.
public enum InstanceState: Sendable, Equatable, CustomStringConvertible {
    case waiting(String)
    case settingUp
    case starting
    case running
    case healthy
    case unhealthy(String)
    case restarting(after: Duration)
    case exited(ExitStatus)
    case completed
    case failed(String)
    case stopping
    case stopped

    public var description: String {
        switch self {
        case .waiting(let reason): return "waiting for \(reason)"
        case .settingUp: return "setting up"
        case .starting: return "starting"
        case .running: return "running"
        case .healthy: return "healthy"
        case .unhealthy(let reason): return "unhealthy: \(reason)"
        case .restarting(let delay): return "restarting in \(DurationText.format(delay))"
        case .exited(let status): return status.description
        case .completed: return "completed"
        case .failed(let reason): return "failed: \(reason)"
        case .stopping: return "stopping"
        case .stopped: return "stopped"
        }
    }

    /// Ended for good: nothing will start this instance again until devhost is told to.
    public var isFinal: Bool {
        switch self {
        case .exited, .completed, .failed, .stopped: return true
        default: return false
        }
    }
}

/// A change the supervisor announces: printed as devhost's own lines, consumed by tests and the proxy.
public struct SupervisorEvent: Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        case state(InstanceState)
        case spawned(pid: Int32, port: Int?)
        case listening(port: Int)
        case stoppedListening(port: Int)
        case neverListened(lastLines: [String])
        case setup(String)
        case ready
        case allEnded
        /// Something devhost did on request or on its own (a reload, a watch restart).
        case note(String)
    }

    public var service: String
    /// 0 for events about the whole service (setup, failures before any instance ran).
    public var instance: Int
    public var kind: Kind

    public var label: String { instance == 0 ? service : "\(service).\(instance)" }

    public var description: String {
        switch kind {
        case .state(let state): return "\(label) \(state)"
        case .spawned(let pid, let port): return "\(label) started (pid \(pid)\(port.map { ", PORT=\($0)" } ?? ""))"
        case .listening(let port): return "\(label) listening on :\(port)"
        case .stoppedListening(let port): return "\(label) stopped listening on :\(port)"
        case .neverListened(let lines):
            return "\(label) has not listened on any port yet"
                + (lines.isEmpty ? "" : "; its last lines:\n  " + lines.joined(separator: "\n  "))
        case .setup(let text): return "\(label) setup: \(text)"
        case .ready: return "all services are up"
        case .allEnded: return "nothing is left running"
        case .note(let text): return text
        }
    }
}

/// One instance as `devhost status` reports it.
public struct InstanceSnapshot: Sendable, Equatable {
    public var service: String
    public var index: Int
    public var pid: Int32?
    public var assignedPort: Int?
    public var listeningPort: Int?
    public var state: InstanceState
    public var restarts: Int
    /// `ok`, `failing`, `pending`, or `-` when the service has no health check.
    public var health: String = "-"
    /// When the running process started (nil when none runs).
    public var startedAt: ContinuousClock.Instant?
    /// Stopped on request.
    public var held = false
    /// A forward's last error (the remote unreachable, ssh's or kubectl's complaint), kept after recovery.
    public var lastError: String? = nil
    /// What the last passing health check found (`redis PONG`, `postgres ready for queries as app@app`).
    public var healthDetail: String? = nil
    public var label: String { "\(service).\(index)" }

    /// What the service is for, reached: healthy, running without a check, or completed.
    public var isOK: Bool {
        switch state {
        case .healthy, .completed: return true
        case .running: return health == "-"
        default: return false
        }
    }
}
