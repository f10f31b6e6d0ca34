/// One injected fault: what happens to a service's requests (all of them, or those under a path)
/// until it expires. A value: the table publishes copies, and every decision about it is a pure
/// function of the rule, the request, the time and a random source.
public struct FaultRule: Sendable, Equatable {
    /// Named on every response it touched (`X-Devhost-Fault`) and by `devhost fault clear`.
    public var id: String
    public var service: String
    /// A path prefix (whole segments, compared with the target as the client sent it); nil: every path.
    public var path: String?
    public var latencyMilliseconds: Int
    /// Each delay is the latency plus or minus up to this, uniformly.
    public var jitterMilliseconds: Int
    /// The status answered instead of forwarding (0: none), for `errorRate` of the requests.
    public var errorStatus: Int
    public var errorRate: Double
    /// The share of requests whose client connection is reset instead.
    public var resetRate: Double
    /// Response bodies are paced to this many bytes a second (0: not paced).
    public var bytesPerSecond: Int
    /// When the rule ends, on the monotonic clock the proxy reads (`NIODeadline`'s nanoseconds).
    public var expires: UInt64

    /// `path` as the proxy compares it (nil: every path).
    let prefix: PathPrefix?
    private let errorThreshold: UInt64
    private let resetThreshold: UInt64

    public init(
        id: String, service: String, path: String? = nil, latencyMilliseconds: Int = 0, jitterMilliseconds: Int = 0,
        errorStatus: Int = 0, errorRate: Double = 0, resetRate: Double = 0, bytesPerSecond: Int = 0, expires: UInt64
    ) {
        self.id = id
        self.service = service
        // `/checkout/` is the prefix `/checkout`; `/` is every path.
        var path = path
        while let last = path?.last, last == "/" { path?.removeLast() }
        self.path = path?.isEmpty == false ? path : nil
        self.latencyMilliseconds = latencyMilliseconds
        self.jitterMilliseconds = jitterMilliseconds
        self.errorStatus = errorStatus
        self.errorRate = errorStatus == 0 ? 0 : errorRate
        self.resetRate = resetRate
        self.bytesPerSecond = bytesPerSecond
        self.expires = expires
        self.prefix = self.path.map { PathPrefix(path: $0, target: .service(service, rewriteHost: false), strip: false) }
        errorThreshold = Self.threshold(self.errorRate)
        resetThreshold = Self.threshold(resetRate)
    }

    public static func == (a: FaultRule, b: FaultRule) -> Bool {
        a.id == b.id && a.service == b.service && a.path == b.path && a.latencyMilliseconds == b.latencyMilliseconds
            && a.jitterMilliseconds == b.jitterMilliseconds && a.errorStatus == b.errorStatus && a.errorRate == b.errorRate
            && a.resetRate == b.resetRate && a.bytesPerSecond == b.bytesPerSecond && a.expires == b.expires
    }

    /// A draw below the threshold hits: `rate` of the 2^64 values (every one for 1, none for 0).
    private static func threshold(_ rate: Double) -> UInt64 {
        if rate <= 0 { return 0 }
        if rate >= 1 { return .max }
        return UInt64(rate * 18_446_744_073_709_551_616.0)
    }

    /// What this rule does to one request, or nil when it leaves it alone (a 0% rule, or a draw
    /// that missed with nothing else to do): nothing is drawn for a rate of 0.
    public func decide(using random: inout some RandomNumberGenerator) -> FaultDecision? {
        var outcome = FaultDecision.Outcome.forward
        if resetThreshold != 0, resetThreshold == .max || random.next() < resetThreshold {
            outcome = .reset
        } else if errorThreshold != 0, errorThreshold == .max || random.next() < errorThreshold {
            outcome = .error(status: errorStatus)
        }
        var delay = Int64(latencyMilliseconds)
        if jitterMilliseconds > 0 {
            let span = UInt64(2 * jitterMilliseconds + 1)
            delay += Int64(random.next() % span) - Int64(jitterMilliseconds)
        }
        delay = max(0, delay) * 1_000_000
        if outcome == .forward, delay == 0, bytesPerSecond == 0 { return nil }
        return FaultDecision(id: id, delayNanoseconds: delay, outcome: outcome, bytesPerSecond: outcome == .forward ? bytesPerSecond : 0)
    }
}

/// What a fault does to one request: wait `delayNanoseconds`, then forward it (paced when
/// `bytesPerSecond` is set), answer `status` locally, or reset the client's connection.
public struct FaultDecision: Sendable, Equatable {
    public enum Outcome: Sendable, Equatable {
        case forward
        case error(status: Int)
        case reset
    }

    public var id: String
    public var delayNanoseconds: Int64
    public var outcome: Outcome
    public var bytesPerSecond: Int
}

/// The rules in force, most specific first: which one applies to a request is the first that
/// names its service, covers its path and has not expired.
public struct FaultSet: Sendable, Equatable {
    public let rules: [FaultRule]

    public init(_ rules: [FaultRule]) {
        // Longest path first (a rule without a path last); among equals, the newest first.
        self.rules = rules.enumerated().sorted {
            let (a, b) = ($0.element.prefix?.bytes.count ?? -1, $1.element.prefix?.bytes.count ?? -1)
            return a != b ? a > b : $0.offset > $1.offset
        }.map(\.element)
    }

    public var isEmpty: Bool { rules.isEmpty }

    /// The rule for a request to `service` with this target (its bytes at `target` in `p`), at `now`.
    func rule(service: String, _ p: UnsafeRawBufferPointer, _ target: Range<Int>, now: UInt64) -> FaultRule? {
        for rule in rules where rule.service == service && now < rule.expires {
            if let prefix = rule.prefix, !prefix.matches(p, target) { continue }
            return rule
        }
        return nil
    }

    /// The same, for a target given as a string (tests, the TCP relay with no path).
    public func rule(service: String, target: String, now: UInt64) -> FaultRule? {
        Array(target.utf8).withUnsafeBytes { rule(service: service, $0, 0..<$0.count, now: now) }
    }

    /// The rules still in force at `now`.
    public func active(at now: UInt64) -> [FaultRule] {
        rules.filter { now < $0.expires }
    }
}
