import Testing

@testable import DevhostProxy

/// The decisions of fault injection, without a socket: which rule applies to a request, what a
/// rule does to it given the random draws (a scripted random source), when a rule has expired (a
/// fake clock: plain nanoseconds), how a paced body is let out, and how user input is read.
@Suite struct FaultRuleTests {
    /// A random source that returns the draws it was given, in order (a test double: the proxy's is
    /// `SplitMix64`). Running out of draws is a test failure.
    struct ScriptedRandom: RandomNumberGenerator {
        var draws: [UInt64]
        mutating func next() -> UInt64 {
            guard !draws.isEmpty else {
                Issue.record("drew more than scripted")
                return 0
            }
            return draws.removeFirst()
        }
    }

    static let half = UInt64(1) << 63
    static let second: UInt64 = 1_000_000_000

    // MARK: Which rule

    struct Match: CustomTestStringConvertible, Sendable {
        var service: String
        var target: String
        var now: UInt64
        var rule: String?
        var testDescription: String { "\(service) \(target) at \(now / FaultRuleTests.second)s" }
    }

    static let set = FaultSet([
        FaultRule(id: "all", service: "api", latencyMilliseconds: 100, expires: 60 * second),
        FaultRule(id: "checkout", service: "api", path: "/checkout", errorStatus: 503, errorRate: 1, expires: 30 * second),
        FaultRule(id: "pay", service: "api", path: "/checkout/pay/", resetRate: 1, expires: 10 * second),
        FaultRule(id: "web", service: "web", path: "/", latencyMilliseconds: 5, expires: 60 * second),
    ])

    static let matches: [Match] = [
        Match(service: "api", target: "/", now: 0, rule: "all"),
        Match(service: "api", target: "/checkout", now: 0, rule: "checkout"),
        Match(service: "api", target: "/checkout?x=1", now: 0, rule: "checkout"),
        Match(service: "api", target: "/checkout/cart", now: 0, rule: "checkout"),
        // Whole segments only, nothing decoded.
        Match(service: "api", target: "/checkoutx", now: 0, rule: "all"),
        Match(service: "api", target: "/checkout%2Fpay", now: 0, rule: "all"),
        // The longest prefix wins (a trailing slash in the rule's path is the same prefix).
        Match(service: "api", target: "/checkout/pay", now: 0, rule: "pay"),
        Match(service: "api", target: "/checkout/pay/now", now: 0, rule: "pay"),
        // Expired rules step aside for the next that applies, then none is left.
        Match(service: "api", target: "/checkout/pay", now: 10 * second, rule: "checkout"),
        Match(service: "api", target: "/checkout/pay", now: 30 * second, rule: "all"),
        Match(service: "api", target: "/checkout/pay", now: 60 * second, rule: nil),
        // Another service's requests, and a service without rules.
        Match(service: "web", target: "/anything", now: 0, rule: "web"),
        Match(service: "docs", target: "/", now: 0, rule: nil),
        Match(service: "apis", target: "/", now: 0, rule: nil),
    ]

    @Test(arguments: matches)
    func theMostSpecificLiveRuleApplies(_ row: Match) {
        #expect(Self.set.rule(service: row.service, target: row.target, now: row.now)?.id == row.rule)
    }

    @Test func aNewerRuleForTheSamePathComesFirst() {
        let set = FaultSet([
            FaultRule(id: "old", service: "api", latencyMilliseconds: 1, expires: Self.second),
            FaultRule(id: "new", service: "api", latencyMilliseconds: 2, expires: Self.second),
        ])
        #expect(set.rule(service: "api", target: "/", now: 0)?.id == "new")
        #expect(set.active(at: Self.second).isEmpty)
    }

    // MARK: What a rule does

    struct Draw: CustomTestStringConvertible, Sendable {
        var name: String
        var rule: FaultRule
        var draws: [UInt64]
        var decision: FaultDecision?
        var testDescription: String { name }
    }

    static func decision(_ id: String, delay: Int64 = 0, _ outcome: FaultDecision.Outcome = .forward, bandwidth: Int = 0) -> FaultDecision {
        FaultDecision(id: id, delayNanoseconds: delay * 1_000_000, outcome: outcome, bytesPerSecond: bandwidth)
    }

    static let draws: [Draw] = [
        // A 0% rule draws nothing and touches nothing.
        Draw(
            name: "0% error", rule: FaultRule(id: "z", service: "a", errorStatus: 503, errorRate: 0, expires: 1), draws: [], decision: nil),
        Draw(name: "0% reset", rule: FaultRule(id: "z", service: "a", resetRate: 0, expires: 1), draws: [], decision: nil),
        // Rates of 1 hit without a draw.
        Draw(
            name: "100% error", rule: FaultRule(id: "e", service: "a", errorStatus: 502, errorRate: 1, expires: 1), draws: [],
            decision: decision("e", .error(status: 502))),
        Draw(
            name: "100% reset", rule: FaultRule(id: "r", service: "a", resetRate: 1, expires: 1), draws: [],
            decision: decision("r", .reset)),
        // A draw below rate × 2^64 hits, at or above it misses.
        Draw(
            name: "50% error hit", rule: FaultRule(id: "e", service: "a", errorStatus: 503, errorRate: 0.5, expires: 1),
            draws: [half - 1], decision: decision("e", .error(status: 503))),
        Draw(
            name: "50% error miss", rule: FaultRule(id: "e", service: "a", errorStatus: 503, errorRate: 0.5, expires: 1),
            draws: [half], decision: nil),
        // The reset is drawn first; an error only when it missed.
        Draw(
            name: "reset before error",
            rule: FaultRule(id: "b", service: "a", errorStatus: 500, errorRate: 0.5, resetRate: 0.5, expires: 1), draws: [0],
            decision: decision("b", .reset)),
        Draw(
            name: "error after a missed reset",
            rule: FaultRule(id: "b", service: "a", errorStatus: 500, errorRate: 0.5, resetRate: 0.5, expires: 1), draws: [half, 0],
            decision: decision("b", .error(status: 500))),
        // Latency delays whatever follows; jitter spreads it by up to ± jitter, never below zero (and a
        // request whose delay came to zero is left alone).
        Draw(
            name: "latency", rule: FaultRule(id: "l", service: "a", latencyMilliseconds: 300, expires: 1), draws: [],
            decision: decision("l", delay: 300)),
        Draw(
            name: "jitter low", rule: FaultRule(id: "l", service: "a", latencyMilliseconds: 300, jitterMilliseconds: 100, expires: 1),
            draws: [0], decision: decision("l", delay: 200)),
        Draw(
            name: "jitter high", rule: FaultRule(id: "l", service: "a", latencyMilliseconds: 300, jitterMilliseconds: 100, expires: 1),
            draws: [200], decision: decision("l", delay: 400)),
        Draw(
            name: "jitter wraps", rule: FaultRule(id: "l", service: "a", latencyMilliseconds: 300, jitterMilliseconds: 100, expires: 1),
            draws: [201], decision: decision("l", delay: 200)),
        Draw(
            name: "jitter floor", rule: FaultRule(id: "l", service: "a", latencyMilliseconds: 10, jitterMilliseconds: 50, expires: 1),
            draws: [0], decision: nil),
        Draw(
            name: "slow error",
            rule: FaultRule(id: "s", service: "a", latencyMilliseconds: 50, errorStatus: 504, errorRate: 1, expires: 1), draws: [],
            decision: decision("s", delay: 50, .error(status: 504))),
        // Bandwidth paces forwarded responses only.
        Draw(
            name: "bandwidth", rule: FaultRule(id: "w", service: "a", bytesPerSecond: 65536, expires: 1), draws: [],
            decision: decision("w", bandwidth: 65536)),
        Draw(
            name: "bandwidth and reset", rule: FaultRule(id: "w", service: "a", resetRate: 1, bytesPerSecond: 65536, expires: 1),
            draws: [], decision: decision("w", .reset)),
        // An error rate without a status does nothing.
        Draw(name: "rate without status", rule: FaultRule(id: "n", service: "a", errorRate: 1, expires: 1), draws: [], decision: nil),
    ]

    @Test(arguments: draws)
    func aRuleDecidesFromItsDraws(_ row: Draw) {
        var random = ScriptedRandom(draws: row.draws)
        #expect(row.rule.decide(using: &random) == row.decision)
        #expect(random.draws.isEmpty, "every scripted draw is used")
    }

    /// The proxy's generator over many draws: the share of errors is the rate within a bound that a
    /// correct draw fails once in about a million runs (five standard deviations).
    @Test(arguments: [0.05, 0.2, 0.5, 0.95])
    func ratesHoldOverManyDraws(_ rate: Double) {
        let rule = FaultRule(id: "e", service: "a", errorStatus: 503, errorRate: rate, expires: 1)
        var random = SplitMix64(seed: 20)
        let n = 100_000
        var hits = 0
        for _ in 0..<n where rule.decide(using: &random) != nil { hits += 1 }
        let bound = 5 * (Double(n) * rate * (1 - rate)).squareRoot()
        #expect(abs(Double(hits) - Double(n) * rate) <= bound, "\(hits) of \(n) at \(rate)")
    }

    // MARK: Pacing

    @Test func aPacedBodyKeepsItsAverageRate() {
        var pacer = FaultPacer(bytesPerSecond: 100_000)
        #expect(pacer.burst == 2000)
        // The first burst goes at once, then nothing until time has earned more.
        #expect(pacer.take(10_000, now: 0) == 2000)
        #expect(pacer.take(8000, now: 0) == 0)
        #expect(pacer.due(wanted: 8000) == 20_000_000)
        #expect(pacer.take(8000, now: 20_000_000) == 2000)
        // After a second, a second's worth has gone in all (plus the first burst).
        #expect(pacer.take(1_000_000, now: Self.second) == 100_000 + 2000 - 4000)
        #expect(pacer.sent == 102_000)
        // Small remainders wait only for themselves.
        #expect(pacer.due(wanted: 100) == Self.second + 1_000_000)
        #expect(FaultPacer(bytesPerSecond: 1000).burst == 512)
    }

    // MARK: Input

    struct Input: CustomTestStringConvertible, Sendable {
        var values: [String: String]
        var result: Result<FaultInput, FaultInput.Problem>
        var testDescription: String { values.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ") }
    }

    static func input(_ edit: (inout FaultInput) -> Void) -> Result<FaultInput, FaultInput.Problem> {
        var input = FaultInput(service: "api")
        edit(&input)
        return .success(input)
    }

    static func problem(_ text: String) -> Result<FaultInput, FaultInput.Problem> { .failure(.init(text)) }

    static let inputs: [Input] = [
        Input(values: ["service": "api", "latency": "300ms"], result: input { $0.latencyMilliseconds = 300 }),
        Input(
            values: ["service": "api", "latency": "1.5s", "jitter": "100ms", "for": "5m", "path": "/checkout/"],
            result: input {
                $0.latencyMilliseconds = 1500
                $0.jitterMilliseconds = 100
                $0.milliseconds = 300_000
                $0.path = "/checkout"
            }),
        Input(
            values: ["service": "api", "error": "503", "rate": "0.2"],
            result: input {
                $0.errorStatus = 503
                $0.errorRate = 0.2
            }),
        Input(
            values: ["service": "api", "error": "500"],
            result: input {
                $0.errorStatus = 500
                $0.errorRate = 1
            }),
        Input(values: ["service": "api", "reset": "1", "rate": "0.05"], result: input { $0.resetRate = 0.05 }),
        Input(
            values: ["service": "api", "reset": "1", "error": "502", "reset_rate": "0.1", "error_rate": "0.3"],
            result: input {
                $0.resetRate = 0.1
                $0.errorStatus = 502
                $0.errorRate = 0.3
            }),
        Input(values: ["service": "api", "error": "503", "rate": "0"], result: input { $0.errorStatus = 503 }),
        Input(values: ["service": "api", "bandwidth": "64KiB/s"], result: input { $0.bytesPerSecond = 65536 }),
        Input(values: ["service": "api", "bandwidth": "1MB/s"], result: input { $0.bytesPerSecond = 1_000_000 }),
        Input(values: ["service": "api", "bandwidth": "500"], result: input { $0.bytesPerSecond = 500 }),
        Input(values: ["service": "api"], result: problem("nothing to inject: give --latency, --error STATUS, --reset or --bandwidth")),
        Input(values: ["latency": "1s"], result: problem("a fault needs a service")),
        Input(
            values: ["service": "api", "error": "503", "rate": "1.5"],
            result: problem("--rate 1.5: a rate is a number from 0 to 1 (0.2 is one request in five)")),
        Input(
            values: ["service": "api", "error": "503", "rate": "-0.1"],
            result: problem("--rate -0.1: a rate is a number from 0 to 1 (0.2 is one request in five)")),
        Input(
            values: ["service": "api", "error": "200"],
            result: problem("--error 200: the status to answer must be a number from 400 to 599 (like 503)")),
        Input(values: ["service": "api", "latency": "soon"], result: problem("--latency soon: not a duration (like 300ms or 1.5s)")),
        Input(values: ["service": "api", "latency": "11m"], result: problem("--latency 11m: at most 10m")),
        Input(values: ["service": "api", "latency": "1s", "for": "0s"], result: problem("--for 0s: not a duration (like 30s, 5m or 1h)")),
        Input(values: ["service": "api", "latency": "1s", "for": "2d"], result: problem("--for 2d: not a duration (like 30s, 5m or 1h)")),
        Input(
            values: ["service": "api", "bandwidth": "fast"], result: problem("--bandwidth fast: not a rate (like 64KiB/s, 1MB/s or 500B/s)")
        ),
        Input(
            values: ["service": "api", "bandwidth": "0KiB/s"],
            result: problem("--bandwidth 0KiB/s: not a rate (like 64KiB/s, 1MB/s or 500B/s)")
        ),
        Input(values: ["service": "api", "rate": "0.5", "latency": "1s"], result: problem("--rate needs --error STATUS or --reset")),
        Input(
            values: ["service": "api", "rate": "0.5", "error": "503", "reset": "1"],
            result: problem("--rate is ambiguous with both --error and --reset: give --error-rate and --reset-rate")),
        Input(values: ["service": "api", "jitter": "5ms"], result: problem("--jitter needs --latency")),
        Input(
            values: ["service": "api", "path": "checkout", "latency": "1s"],
            result: problem("--path checkout: a path prefix starts with / and has no query (like /checkout)")),
        Input(
            values: ["service": "api", "latncy": "1s"],
            result: problem(
                "unknown fault option latncy (options: service, path, latency, jitter, error, reset, rate, error_rate, reset_rate, bandwidth, for)"
            )),
    ]

    @Test(arguments: inputs)
    func inputIsReadOrRefusedWithTheOptionNamed(_ row: Input) {
        #expect(Result { () throws(FaultInput.Problem) in try FaultInput.parse(row.values) } == row.result)
    }

    @Test func aRuleEndsItsDurationAfterItWasMade() throws {
        let input = try FaultInput.parse(["service": "api", "latency": "1s", "for": "30s"])
        let rule = input.rule(id: "f1", now: 5 * Self.second)
        #expect(rule.expires == 35 * Self.second)
        #expect(FaultSet([rule]).rule(service: "api", target: "/", now: 35 * Self.second - 1)?.id == "f1")
        #expect(FaultSet([rule]).rule(service: "api", target: "/", now: 35 * Self.second) == nil)
    }
}
