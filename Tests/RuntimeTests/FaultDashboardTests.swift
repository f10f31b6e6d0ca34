import DevhostRuntime
import DevhostTestSupport
import Foundation
import Testing

/// The dashboard's fault banner in headless Chromium (Tests/Scripts/dashboard_check.py): shown
/// while a fault installed with `devhost fault` is in force, gone once its button cleared it.
@Suite struct FaultDashboardTests {
    @Test func theDashboardShowsAFaultBannerWhoseButtonClearsIt() async throws {
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
        let added = try dev.devhost(["fault", "api", "--latency", "20ms", "--path", "/slow"])
        #expect(added.status == 0, "\(added.output)")

        let script = repositoryRoot.appendingPathComponent("Tests/Scripts/dashboard_check.py").path
        let check = try run([
            "python3", script, "--url", "http://devhost.localhost:\(dev.proxyPort)/", "--screenshot", dev.project.file("faults.png"),
            "--expect", "api", "--fault-banner", "--timeout", "60",
        ])
        #expect(check.status == 0, "\(check.output)")
        let json = check.output.split(separator: "\n").last { $0.hasPrefix("{") }.map(String.init) ?? ""
        let result = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any], "\(check.output)")
        let faults = result["faults"] as? [[String: String]] ?? []
        #expect(faults.map { $0["id"] } == ["f1"], "\(result)")
        #expect(faults.first?["text"]?.hasPrefix("Fault f1 on api/slow: latency 20ms (") == true, "\(result)")
        #expect((result["console_errors"] as? [Any])?.isEmpty == true, "\(result)")
        #expect(dev.status()?.faults == [])
    }
}
