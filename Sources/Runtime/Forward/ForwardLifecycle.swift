/// One forward's decisions about its remote (pure): whether to connect, wait for the remote, retry
/// with backoff or give up for good. Time comes in with each event, so tests run it on a fake clock.
///
/// The rule that keeps a cluster outage from burning the restart budget: every ending is followed by a
/// cheap reachability check of the remote (DNS and a TCP connect to the ssh host or the API server).
/// Unreachable means `waiting for remote`, polled every `pollInterval`, nothing spent; reachable means
/// the tunnel itself failed, which is a crash the instance's `RestartTracker` counts. Host key and
/// authentication failures are final whatever the remote's state.
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

    public let host: String
    public private(set) var phase: Phase = .idle
    public private(set) var lastError: String?
    /// Why the tunnel last ended, kept until the reachability check says what that means.
    private var pendingEnd: ForwardFailure?
    private var lastClocks: (monotonic: ContinuousClock.Instant, wallSeconds: Double)?

    public init(host: String) {
        self.host = host
    }

    public static func == (a: Self, b: Self) -> Bool {
        a.host == b.host && a.phase == b.phase && a.lastError == b.lastError && a.pendingEnd == b.pendingEnd
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
        if let ended = pendingEnd {
            // The remote answers, so the tunnel's own failure is real: the restart policy decides.
            pendingEnd = nil
            phase = .idle
            return [.crashed(ended.message)]
        }
        phase = .connecting
        return [.connect]
    }
}
