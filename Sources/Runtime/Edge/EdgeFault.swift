import DevhostProxy

/// A project's fault rule as it travels to the shared edge (`faults` message): the project's own
/// service name and id, and the time left rather than an expiry (the two processes' clocks differ).
public struct EdgeFault: Codable, Sendable, Equatable {
    public var id: String
    public var service: String
    public var path: String?
    public var latencyMs: Int
    public var jitterMs: Int
    public var errorStatus: Int
    public var errorRate: Double
    public var resetRate: Double
    public var bytesPerSecond: Int
    public var remainingMs: Int

    public init(_ rule: FaultRule, now: UInt64) {
        id = rule.id
        service = rule.service
        path = rule.path
        latencyMs = rule.latencyMilliseconds
        jitterMs = rule.jitterMilliseconds
        errorStatus = rule.errorStatus
        errorRate = rule.errorRate
        resetRate = rule.resetRate
        bytesPerSecond = rule.bytesPerSecond
        remainingMs = rule.expires > now ? Int((rule.expires - now) / 1_000_000) : 0
    }

    /// The rule on the edge: for `service` as the edge names it (`key/api`), ending on its clock.
    /// Values a project could not have sent are brought into range, not trusted.
    public func rule(service: String, now: UInt64) -> FaultRule {
        FaultRule(
            id: id, service: service, path: path.flatMap { $0.hasPrefix("/") ? $0 : nil },
            latencyMilliseconds: min(max(0, latencyMs), FaultInput.maxLatencyMilliseconds),
            jitterMilliseconds: min(max(0, jitterMs), FaultInput.maxLatencyMilliseconds),
            errorStatus: (400...599).contains(errorStatus) ? errorStatus : 0, errorRate: min(max(0, errorRate), 1),
            resetRate: min(max(0, resetRate), 1), bytesPerSecond: max(0, bytesPerSecond),
            expires: now + UInt64(min(max(0, Int64(remainingMs)), FaultInput.maxMilliseconds)) * 1_000_000)
    }
}
