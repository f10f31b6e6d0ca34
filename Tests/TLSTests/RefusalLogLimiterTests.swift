import Testing

@testable import DevhostTLS

/// Which refused handshakes get a log line: one per name per minute, the next line counting those
/// left out. Times are seconds on a fake clock (offsets from one instant).
@Suite struct RefusalLogLimiterTests {
    struct Step: Sendable, CustomTestStringConvertible {
        var second: Int
        var name: String
        var decision: RefusalLogLimiter.Decision
        var testDescription: String { "\(second)s \(name) → \(decision)" }
    }

    static let cases: [(String, [Step])] = [
        (
            "the first refusal of a name is logged, repeats within the minute are not",
            [
                Step(second: 0, name: "a.example", decision: .log(suppressed: 0)),
                Step(second: 1, name: "a.example", decision: .suppress),
                Step(second: 59, name: "a.example", decision: .suppress),
            ]
        ),
        (
            "a minute after its last line a name is logged again, saying how many were left out",
            [
                Step(second: 0, name: "a.example", decision: .log(suppressed: 0)),
                Step(second: 10, name: "a.example", decision: .suppress),
                Step(second: 20, name: "a.example", decision: .suppress),
                Step(second: 30, name: "a.example", decision: .suppress),
                Step(second: 60, name: "a.example", decision: .log(suppressed: 3)),
                Step(second: 61, name: "a.example", decision: .suppress),
                Step(second: 200, name: "a.example", decision: .log(suppressed: 1)),
                Step(second: 400, name: "a.example", decision: .log(suppressed: 0)),
            ]
        ),
        (
            "names are limited each on its own",
            [
                Step(second: 0, name: "a.example", decision: .log(suppressed: 0)),
                Step(second: 1, name: "b.example", decision: .log(suppressed: 0)),
                Step(second: 2, name: "a.example", decision: .suppress),
                Step(second: 3, name: "b.example", decision: .suppress),
                Step(second: 60, name: "a.example", decision: .log(suppressed: 1)),
                Step(second: 60, name: "b.example", decision: .suppress),
                Step(second: 61, name: "b.example", decision: .log(suppressed: 2)),
            ]
        ),
    ]

    @Test(arguments: cases)
    func decisions(_ name: String, _ steps: [Step]) {
        var limiter = RefusalLogLimiter(interval: .seconds(60))
        let start = ContinuousClock.now
        for step in steps {
            #expect(limiter.refused(step.name, at: start + .seconds(step.second)) == step.decision, "\(name): \(step)")
        }
    }

    @Test func aFloodOfDistinctNamesKeepsTheMemoryBounded() {
        var limiter = RefusalLogLimiter(interval: .seconds(60), capacity: 3)
        let start = ContinuousClock.now
        for index in 0..<10 {
            #expect(limiter.refused("n\(index).example", at: start + .seconds(index)) == .log(suppressed: 0))
            #expect(limiter.count <= 3)
        }
        // The newest names are still remembered (and limited); the oldest was forgotten.
        #expect(limiter.refused("n9.example", at: start + .seconds(10)) == .suppress)
        #expect(limiter.refused("n0.example", at: start + .seconds(10)) == .log(suppressed: 0))
    }
}
