import DevhostRuntime
import Foundation
import Testing

@testable import devhost

/// The table `devhost status` prints, from a report as the control API sends it.
@Suite struct StatusTableTests {
    static func report(_ services: String) throws -> StatusReport {
        let json = """
            {"project":"shop","directory":"/tmp/shop","pid":1,"started_at":"2026-01-01T00:00:00Z","ready":true,"ok":true,
             "proxy":{"bind":"127.0.0.1","port":7777,"domain":"localhost"},"services":[\(services)]}
            """
        return try StatusReport.decode(Data(json.utf8))
    }

    static func instance(_ label: String, ok: Bool = true) -> String {
        """
        {"label":"\(label)","index":1,"pid":42,"port":8000,"state":"\(ok ? "healthy" : "starting")","health":"ok","ok":\(ok),"failed":false,"restarts":0,"uptime_seconds":5}
        """
    }

    @Test func everyRouteOfAServiceShowsEvenWithOneInstance() throws {
        let report = try Self.report(
            """
            {"name":"gateway","routes":["http://gateway.shop.localhost:7777","http://www.shop.localhost:7777"],"port":8001,"instances":[\(Self.instance("gateway.1"))]}
            """)
        let text = StatusTable.render(report, console: Console(descriptor: -1))
        #expect(text.contains("http://gateway.shop.localhost:7777"), "\(text)")
        #expect(text.contains("http://www.shop.localhost:7777"), "\(text)")
    }

    @Test func aServiceNotStartedShowsAllItsRoutes() throws {
        let report = try Self.report(
            """
            {"name":"web","routes":["http://a.shop.localhost:7777","http://b.shop.localhost:7777"],"instances":[]}
            """)
        let text = StatusTable.render(report, console: Console(descriptor: -1))
        #expect(
            text.contains("not started") && text.contains("http://a.shop.localhost:7777") && text.contains("http://b.shop.localhost:7777"),
            "\(text)")
    }

    @Test(arguments: [
        (1, "1 instance, fine"), (2, "all 2 instances fine"), (0, "no instances running"),
    ])
    func theSummaryCountsInstancesInGoodEnglish(count: Int, summary: String) throws {
        let instances = (0..<count).map { Self.instance("api.\($0 + 1)") }.joined(separator: ",")
        let report = try Self.report(#"{"name":"api","routes":[],"instances":[\#(instances)]}"#)
        let text = StatusTable.render(report, console: Console(descriptor: -1))
        #expect(text.hasSuffix(summary + "\n"), "\(text)")
    }

    /// Under the table, a forward's line says what its passing check found through the tunnel and
    /// keeps the last error that took it down; a local service gets no such line.
    @Test func aForwardShowsWhatItsHealthCheckFoundAndItsLastError() throws {
        let healthy = Self.instance("cache.1").replacingOccurrences(
            of: #""uptime_seconds":5"#, with: #""uptime_seconds":5,"health_detail":"redis PONG","last_error":"the cluster unreachable""#)
        let report = try Self.report(
            """
            {"name":"cache","routes":[],"port":15432,"remote":"kubectl staging/data svc/redis:6379","instances":[\(healthy)]},
            {"name":"api","routes":[],"port":8001,"instances":[\(Self.instance("api.1").replacingOccurrences(
                of: #""uptime_seconds":5"#, with: #""uptime_seconds":5,"health_detail":"GET / answered 200""#))]}
            """)
        let text = StatusTable.render(report, console: Console(descriptor: -1))
        #expect(
            text.contains("cache → kubectl staging/data svc/redis:6379 · redis PONG · last error: the cluster unreachable\n"), "\(text)")
        #expect(!text.contains("GET / answered 200"), "\(text)")
    }

    @Test func counted() {
        #expect(devhost.counted(1, "service") == "1 service")
        #expect(devhost.counted(3, "service") == "3 services")
        #expect(devhost.counted(0, "entry", plural: "entries") == "0 entries")
    }
}
