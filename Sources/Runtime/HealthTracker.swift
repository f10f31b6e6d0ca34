import DevhostManifest

/// The health of one instance, from probe results (pure: time comes in, transitions go out).
///
/// Failures inside `start_period` do not count, so a slow starter is not unhealthy; one success makes
/// it healthy; `retries` failures in a row after that (or after the start period) make it unhealthy.
public struct HealthTracker: Sendable, Equatable {
    public enum State: String, Sendable, Equatable {
        case starting, healthy, unhealthy
    }

    public let check: HealthCheck
    public let startedAt: ContinuousClock.Instant
    public private(set) var state: State = .starting
    public private(set) var consecutiveFailures = 0
    public private(set) var lastError: String?

    public init(check: HealthCheck, startedAt: ContinuousClock.Instant) {
        self.check = check
        self.startedAt = startedAt
    }

    /// Records a probe result; returns the new state when it changed.
    public mutating func record(success: Bool, error: String? = nil, at now: ContinuousClock.Instant) -> State? {
        let previous = state
        if success {
            consecutiveFailures = 0
            lastError = nil
            state = .healthy
        } else {
            lastError = error
            let inStartPeriod = now - startedAt < check.startPeriod
            if !(inStartPeriod && state == .starting) { consecutiveFailures += 1 }
            if consecutiveFailures >= check.retries { state = .unhealthy }
        }
        return state == previous ? nil : state
    }
}

/// Decides what happens when an instance exits or turns unhealthy (pure).
///
/// Backoff starts at 0.5 s and doubles to 30 s; it resets once the instance has been healthy for a
/// minute. `max_restarts` counts restarts since the last healthy check, not successful spawns, so a
/// process that starts fine but never becomes healthy still runs out of restarts.
public struct RestartTracker: Sendable, Equatable {
    public enum Decision: Sendable, Equatable {
        case restart(after: Duration)
        case giveUp(reason: String)
        /// Exited and stays down: completed (exit 0 under on-failure) or `restart: no`.
        case stay
    }

    public static let initialBackoff: Duration = .milliseconds(500)
    public static let maximumBackoff: Duration = .seconds(30)
    public static let stableAfter: Duration = .seconds(60)

    public let policy: RestartPolicy
    public let maxRestarts: Int?
    public private(set) var restartsSinceHealthy = 0
    public private(set) var totalRestarts = 0
    private var backoffStep = 0
    private var healthySince: ContinuousClock.Instant?

    public init(policy: RestartPolicy, maxRestarts: Int?) {
        self.policy = policy
        self.maxRestarts = maxRestarts
    }

    public mutating func becameHealthy(at now: ContinuousClock.Instant) {
        restartsSinceHealthy = 0
        if healthySince == nil { healthySince = now }
    }

    public mutating func becameUnhealthy() {
        healthySince = nil
    }

    public mutating func exited(_ status: ExitStatus, at now: ContinuousClock.Instant) -> Decision {
        resetBackoffIfStable(at: now)
        switch policy {
        case .no: return .stay
        case .onFailure where status.succeeded: return .stay
        default: return nextRestart(because: status.description)
        }
    }

    /// A running process that failed its health check past the threshold (liveness).
    public mutating func failedLiveness(at now: ContinuousClock.Instant) -> Decision {
        resetBackoffIfStable(at: now)
        if policy == .no { return .giveUp(reason: "unhealthy and restart: no") }
        return nextRestart(because: "unhealthy")
    }

    private mutating func resetBackoffIfStable(at now: ContinuousClock.Instant) {
        if let since = healthySince, now - since >= Self.stableAfter { backoffStep = 0 }
        healthySince = nil
    }

    private mutating func nextRestart(because reason: String) -> Decision {
        if let limit = maxRestarts, restartsSinceHealthy >= limit {
            return .giveUp(reason: "gave up after \(restartsSinceHealthy) restart\(restartsSinceHealthy == 1 ? "" : "s") (\(reason))")
        }
        let delay = min(Self.initialBackoff * (1 << min(backoffStep, 16)), Self.maximumBackoff)
        backoffStep += 1
        restartsSinceHealthy += 1
        totalRestarts += 1
        return .restart(after: delay)
    }
}
