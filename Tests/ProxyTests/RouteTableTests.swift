import NIOCore
import NIOEmbedded
import Testing

@testable import DevhostProxy

@Suite struct RouteTableTests {
    private func table(_ instances: [String]) -> RouteTable {
        let table = RouteTable()
        for (index, instance) in instances.enumerated() {
            table.set(service: "api", instance: instance, endpoint: .init(instance: instance, port: 9000 + index))
        }
        return table
    }

    @Test func roundRobinSkipsExcludedAndSuspendedInstances() {
        let routes = table(["api.1", "api.2", "api.3"])
        #expect((0..<6).compactMap { _ in routes.next("api")?.instance } == ["api.1", "api.2", "api.3", "api.1", "api.2", "api.3"])
        #expect((0..<4).compactMap { _ in routes.next("api", excluding: ["api.2"])?.instance }.allSatisfy { $0 != "api.2" })
        routes.suspend(service: "api", instance: "api.1", for: .seconds(60))
        #expect((0..<4).compactMap { _ in routes.next("api")?.instance }.allSatisfy { $0 != "api.1" })
        // Suspended instances still serve when nothing else is left.
        #expect(routes.next("api", excluding: ["api.2", "api.3"])?.instance == "api.1")
        routes.set(service: "api", instance: "api.2", endpoint: nil)
        #expect(routes.next("api", excluding: ["api.3"])?.instance == "api.1")
        #expect(routes.next("db") == nil)
    }

    @Test func drainWaitsForRequestsInFlightAndIsBounded() async {
        let routes = table(["api.1"])
        routes.began(service: "api", instance: "api.1")
        let start = ContinuousClock.now
        await routes.drain(service: "api", instance: "api.1", upTo: .milliseconds(100))
        #expect(ContinuousClock.now - start >= .milliseconds(100), "it waited while a request was in flight, and no longer than its bound")
        routes.ended(service: "api", instance: "api.1")
        let after = ContinuousClock.now
        await routes.drain(service: "api", instance: "api.1", upTo: .seconds(30))
        #expect(ContinuousClock.now - after < .seconds(10), "nothing in flight: no wait")
    }

    /// The event loop's wait for an instance, on the embedded loop's clock: what it answers, and
    /// when (ms after the request), for each course of events.
    struct WaitRow: Sendable, CustomTestStringConvertible {
        var name: String
        var instances: [String]
        var excluding: Set<String> = []
        var limit: Duration = .milliseconds(100)
        /// (ms, instance set as healthy then)
        var events: [(Int64, String)] = []
        var answer: String?
        var at: Int64
        var testDescription: String { name }
    }

    static let waitRows: [WaitRow] = [
        WaitRow(name: "an instance is there: at once", instances: ["api.1"], answer: "api.1", at: 0),
        WaitRow(name: "none and no wait: nil at once", instances: [], limit: .zero, answer: nil, at: 0),
        WaitRow(name: "one comes up while waiting: as it does", instances: [], events: [(30, "api.1")], answer: "api.1", at: 30),
        WaitRow(name: "none comes up: nil at the limit", instances: [], answer: nil, at: 100),
        WaitRow(name: "one comes up too late: nil at the limit", instances: [], events: [(150, "api.1")], answer: nil, at: 100),
        WaitRow(
            name: "the only one was tried: nil at the limit", instances: ["api.1"], excluding: ["api.1"], answer: nil, at: 100),
        WaitRow(
            name: "another comes up beside a tried one: at the next look (20 ms)", instances: ["api.1"], excluding: ["api.1"],
            events: [(50, "api.2")], answer: "api.2", at: 60),
    ]

    @Test(arguments: waitRows) func theLoopsWaitForAnInstance(_ row: WaitRow) throws {
        let loop = EmbeddedEventLoop()
        defer { try? loop.syncShutdownGracefully() }
        let routes = table(row.instances)
        let start = loop.now
        var answered: (instance: String?, at: Int64)?
        routes.next("api", waitingUpTo: row.limit, excluding: row.excluding, on: loop) { endpoint in
            #expect(answered == nil, "answered once")
            answered = (endpoint?.instance, (loop.now - start).nanoseconds / 1_000_000)
        }
        var events = row.events
        for ms in stride(from: Int64(0), through: 200, by: 10) where answered == nil || !events.isEmpty {
            loop.advanceTime(to: start + .milliseconds(ms))
            while let first = events.first, first.0 <= ms {
                routes.set(service: "api", instance: first.1, endpoint: .init(instance: first.1, port: 9100))
                events.removeFirst()
            }
            loop.run()
        }
        let result = try #require(answered)
        #expect(result.instance == row.answer && result.at == row.at, "\(result)")
    }
}
