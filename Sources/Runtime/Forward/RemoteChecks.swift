/// Which reachability checks of a remote actually connect (pure; time comes in). Forwards that share
/// an ssh host or a cluster end together when their master or the network goes, and each then asks
/// whether its remote answers. Each check is a TCP connection the remote has to accept; twenty at once
/// to one sshd are past its default `MaxStartups` (10), which then drops connections at random,
/// including the new master's. So one check per remote is in flight at a time, the others join it, and
/// a fresh answer is reused.
public struct RemoteChecks: Sendable {
    public enum Decision: Sendable, Equatable {
        /// Connect, then `finish` with the answer.
        case probe
        /// A check of this remote is under way: wait for its answer.
        case join
        /// Checked a moment ago: this answer (nil means reachable).
        case reuse(String?)
    }

    /// How long an answer stands for the forwards asking after it.
    public static let freshFor: Duration = .milliseconds(250)

    private var inFlight: Set<String> = []
    private var answers: [String: (at: ContinuousClock.Instant, problem: String?)] = [:]

    public init() {}

    /// `since`: what prompted the check (a failed health check) happened then, and an answer from
    /// before it says nothing about it: only an answer taken since is reused.
    public mutating func begin(_ remote: String, at now: ContinuousClock.Instant, since: ContinuousClock.Instant? = nil) -> Decision {
        if inFlight.contains(remote) { return .join }
        if let answer = answers[remote], now - answer.at < Self.freshFor, since.map({ answer.at >= $0 }) ?? true {
            return .reuse(answer.problem)
        }
        inFlight.insert(remote)
        return .probe
    }

    public mutating func finish(_ remote: String, problem: String?, at now: ContinuousClock.Instant) {
        inFlight.remove(remote)
        answers[remote] = (now, problem)
        // Stale answers go, so a long session with many remotes keeps only the recent ones.
        answers = answers.filter { now - $0.value.at < Self.freshFor }
    }
}
