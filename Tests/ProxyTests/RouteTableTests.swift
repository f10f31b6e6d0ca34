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
}
