import DevhostRuntime
import DevhostTestSupport
import Foundation
import Testing

/// `devhost fault` against a real detached `devhost up` (its own proxy on a port the OS chose):
/// install, the header on what it touched, list, status, bad input, clear.
@Suite struct FaultCommandTests {
    @Test func theCLIInstallsListsAndClearsFaults() async throws {
        let dev = try DevhostRun(
            """
            name: flt
            services:
              api:
                command: python3 server.py
                route: api
                health: { http: /healthz, interval: 100ms, retries: 1 }
            """)
        defer { dev.shutDown() }
        let up = try dev.devhost(["up", "-d"])
        #expect(up.status == 0, "\(up.output)")

        let added = try dev.devhost(["fault", "api", "--error", "503", "--path", "/pay", "--latency", "50ms", "--for", "5m"])
        #expect(added.status == 0, "\(added.output)")
        #expect(added.output.contains("fault f1 api/pay: latency 50ms; 503 for 100% (5m00s left)"), "\(added.output)")

        let faulted = try run([
            "curl", "-s", "-i", "--max-time", "10", "-H", "Host: api.flt.localhost", "http://127.0.0.1:\(dev.proxyPort)/pay/now",
        ])
        #expect(faulted.output.hasPrefix("HTTP/1.1 503"), "\(faulted.output)")
        #expect(faulted.output.contains("X-Devhost-Fault: f1\r\n"), "\(faulted.output)")
        #expect(dev.get("/", host: "api.flt.localhost").0 == 200)

        let list = try dev.devhost(["fault", "list", "--json"])
        let listed = try JSONSerialization.jsonObject(with: Data(list.output.utf8)) as? [String: Any]
        let first = (listed?["faults"] as? [[String: Any]])?.first
        #expect(first?["id"] as? String == "f1" && first?["error_status"] as? Int == 503 && first?["path"] as? String == "/pay", "\(list)")
        #expect(dev.status()?.faults?.map(\.id) == ["f1"])
        let status = try dev.devhost(["status"])
        #expect(status.output.contains("fault f1 api/pay: latency 50ms; 503 for 100%"), "\(status.output)")

        // Bad input: one error line naming the option, exit 1, nothing installed.
        let refusals: [([String], String)] = [
            (["fault", "api", "--error", "503", "--rate", "2"], "error: --rate 2: a rate is a number from 0 to 1"),
            (["fault", "nope", "--latency", "1s"], "error: no service named nope (services: api)"),
            (["fault", "api", "--latency", "1s", "--for", "soon"], "error: --for soon: not a duration"),
            (["fault", "api", "--bandwidth", "lots"], "error: --bandwidth lots: not a rate"),
            (["fault", "api"], "error: nothing to inject"),
        ]
        for (arguments, message) in refusals {
            let refused = try dev.devhost(arguments)
            #expect(refused.status == 1 && refused.output.contains(message), "\(arguments): \(refused.output)")
        }
        #expect(dev.status()?.faults?.count == 1)

        let cleared = try dev.devhost(["fault", "clear", "api"])
        #expect(cleared.status == 0 && cleared.output.contains("cleared f1"), "\(cleared.output)")
        #expect(dev.get("/pay/now", host: "api.flt.localhost").0 == 200)
        #expect(try dev.devhost(["fault", "list"]).output.contains("no faults"))
        #expect(dev.status()?.faults == [])
    }
}
