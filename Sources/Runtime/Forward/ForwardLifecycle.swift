/// One forward's decisions about its remote (pure): whether to connect, wait for the remote, retry
/// with backoff or give up for good. Time comes in with each event, so tests run it on a fake clock.
///
/// The rule that keeps a cluster outage from burning the restart budget: every ending is followed by a
/// cheap reachability check of the remote (DNS and a TCP connect to the ssh host or the API server).
/// Unreachable means `waiting for remote`, polled every `pollInterval`, nothing spent; reachable means
/// the tunnel itself failed, which is a crash the instance's `RestartTracker` counts. Host key and
/// authentication failures are final whatever the remote's state.
///
/// A tunnel that ssh or kubectl could not get through (refused, closed during key exchange) while the
/// first hop accepts TCP is waited for too: sshd drops unauthenticated connections past its
/// `MaxStartups` (10 by default), a host behind a jump may be down, sshd may be restarting. Those
/// retries wait longer each time, with jitter, so forwards that lost one master together do not come
/// back in step and trip the same limit again.
public struct ForwardLifecycle: Sendable, Equatable {
    public enum Phase: Sendable, Equatable {
        case idle
        /// A reachability check is running before (re)connecting.
        case checkingRemote
        case waitingForRemote
        case connecting
        case up
        case failed(String)
    }

    public enum Event: Sendable, Equatable {
        /// The instance wants its tunnel (first start, or after a backoff).
        case start
        case remoteChecked(reachable: Bool, detail: String?)
        /// The tunnel is in place (ssh's forward accepted, kubectl's listener up).
        case connected(at: ContinuousClock.Instant)
        /// The tunnel ended (or could not be set up); `output` is its last lines.
        case ended(output: [String])
        /// A clock sample: the monotonic and wall clocks advance together unless the machine slept.
        case clocks(monotonic: ContinuousClock.Instant, wallSeconds: Double)
    }

    public enum Action: Sendable, Equatable {
        case checkRemote(after: Duration)
        case connect
        /// Shown as `waiting for remote`; the restart budget is untouched.
        case waitForRemote(String)
        /// Final: the instance fails with this message and is not retried.
        case fail(String)
        /// The tunnel failed while the remote answers: an exit the restart policy counts.
        case crashed(String)
        /// The machine slept: check the remote and the tunnel at once instead of at the next interval.
        case checkNow
    }

    public static let pollInterval: Duration = .milliseconds(500)
    /// A wall clock that ran this much further than the monotonic one means a suspend.
    public static let suspendThreshold: Duration = .seconds(2)
    /// The first retry after a refusal by a reachable remote, doubled each time up to `refusalCap`.
    public static let refusalBase: Duration = .milliseconds(250)
    public static let refusalCap: Duration = .seconds(5)

    public let host: String
    public private(set) var phase: Phase = .idle
    public private(set) var lastError: String?
    /// Why the tunnel last ended, kept until the reachability check says what that means.
    private var pendingEnd: ForwardFailure?
    private var lastClocks: (monotonic: ContinuousClock.Instant, wallSeconds: Double)?
    /// Refusals by a reachable remote since the tunnel was last up.
    public private(set) var refusals = 0
    /// The jitter's generator state (SplitMix64): seeded per forward, fixed in tests.
    private var seed: UInt64

    public init(host: String, seed: UInt64 = UInt64.random(in: 0...UInt64.max)) {
        self.host = host
        self.seed = seed
    }

    public static func == (a: Self, b: Self) -> Bool {
        a.host == b.host && a.phase == b.phase && a.lastError == b.lastError && a.pendingEnd == b.pendingEnd
            && a.refusals == b.refusals
    }

    public mutating func handle(_ event: Event) -> [Action] {
        switch event {
        case .start:
            if case .failed = phase { return [] }
            phase = .checkingRemote
            return [.checkRemote(after: .zero)]
        case .remoteChecked(let reachable, let detail):
            return remoteChecked(reachable: reachable, detail: detail)
        case .connected:
            guard phase == .connecting else { return [] }
            phase = .up
            refusals = 0
            return []
        case .ended(let output):
            guard phase == .connecting || phase == .up else { return [] }
            let failure = ForwardFailure.classify(output, host: host)
            lastError = failure.message
            if failure.isFinal {
                phase = .failed(failure.message)
                return [.fail(failure.message)]
            }
            pendingEnd = failure
            phase = .checkingRemote
            return [.checkRemote(after: .zero)]
        case .clocks(let monotonic, let wallSeconds):
            defer { lastClocks = (monotonic, wallSeconds) }
            guard let last = lastClocks else { return [] }
            let monotonicElapsed = monotonic - last.monotonic
            let wallElapsed = Duration.milliseconds(Int64((wallSeconds - last.wallSeconds) * 1000))
            return wallElapsed - monotonicElapsed > Self.suspendThreshold ? [.checkNow] : []
        }
    }

    private mutating func remoteChecked(reachable: Bool, detail: String?) -> [Action] {
        guard phase == .checkingRemote || phase == .waitingForRemote else { return [] }
        if !reachable {
            pendingEnd = nil
            lastError = detail.map { "\(host) unreachable: \($0)" } ?? "\(host) unreachable"
            let entering = phase != .waitingForRemote
            phase = .waitingForRemote
            return (entering ? [.waitForRemote(lastError!)] : []) + [.checkRemote(after: Self.pollInterval)]
        }
        if case .unreachable(let message) = pendingEnd {
            pendingEnd = nil
            refusals += 1
            lastError = message
            phase = .waitingForRemote
            return [.waitForRemote(message), .checkRemote(after: nextRefusalDelay())]
        }
        if let ended = pendingEnd {
            // The remote answers, so the tunnel's own failure is real: the restart policy decides.
            pendingEnd = nil
            phase = .idle
            return [.crashed(ended.message)]
        }
        phase = .connecting
        return [.connect]
    }

    /// `refusalBase × 2^(refusals−1)`, at most `refusalCap`, times a factor in [0.5, 1.5).
    private mutating func nextRefusalDelay() -> Duration {
        let doublings = min(refusals - 1, 16)
        let base = min(Self.refusalBase * (1 << doublings), Self.refusalCap)
        seed &+= 0x9E37_79B9_7F4A_7C15
        var mixed = seed
        mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
        mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
        mixed ^= mixed >> 31
        let unit = Double(mixed >> 11) / Double(1 << 53)
        return base * (0.5 + unit)
    }
}
