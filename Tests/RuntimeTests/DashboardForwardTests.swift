import DevhostRuntime
import DevhostTestSupport
import Foundation
import Testing

@Suite(.serialized) struct DashboardForwardTests {
    @Test("the dashboard in headless Chromium shows a forward's remote, its last error in red, and what its check found")
    func forwardRemoteAndLastErrorInChromium() async throws {
        // Nothing listens on this port: the forward waits for its remote, with the refusal as its last error.
        let closed = try freeLoopbackPort()
        // A healthy kubectl forward through the API server double to a real Redis: its check's answer shows.
        let redis = try await RedisTestServer()
        defer { redis.stop() }
        let double = try await KubeAPIDouble(relayingTo: redis.port)
        defer { double.remove() }
        let dev = try DevhostRun(
            """
            services:
              api: { command: python3 server.py, route: api }
              db:
                forward: { ssh: { host: 127.0.0.1, user: deploy, port: \(closed) }, remote: db.internal:5432 }
              cache:
                forward: { kubectl: { context: staging, namespace: data, target: svc/redis, remote_port: 16379 } }
                health: { redis: true, interval: 200ms }
            """, environment: double.environment)
        defer { dev.shutDown() }
        try await dev.startForeground()
        let report = await dev.waitForStatus { report in
            report.services.first { $0.name == "db" }?.instances.first?.lastError != nil
                && report.services.first { $0.name == "cache" }?.instances.first?.healthDetail != nil
        }
        let db = try #require(report?.services.first { $0.name == "db" }, "db never had a last error: \(String(describing: dev.status()))")
        let lastError = try #require(db.instances.first?.lastError)
        let screenshot = dev.project.file("dashboard.png")
        let script = repositoryRoot.appendingPathComponent("Tests/Scripts/dashboard_check.py").path
        let check = try run([
            "python3", script, "--url", "http://devhost.localhost:\(dev.proxyPort)/", "--screenshot", screenshot, "--expect",
            "api,db,cache",
            "--timeout", "60",
        ])
        #expect(check.status == 0, "\(check.output)")
        let json = check.output.split(separator: "\n").last { $0.hasPrefix("{") }.map(String.init) ?? ""
        let result = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any], "\(check.output)")
        #expect(
            result["remotes"] as? [String: String] == [
                "db": "→ ssh deploy@127.0.0.1:\(closed) → db.internal:5432", "cache": "→ kubectl staging/data svc/redis:16379",
            ], "\(result)")
        let errors = try #require(result["last_errors"] as? [String: [String: String]], "\(result)")
        #expect(Set(errors.keys) == ["db.1"], "\(result)")
        #expect(result["health_details"] as? [String: String] == ["cache.1": "redis PONG"], "\(result)")
        // Whatever the page's last render had (the error text can be refreshed between polls), it names the host.
        #expect(errors["db.1"]?["text"]?.contains("127.0.0.1") == true, "\(result); status said \(lastError)")
        // --bad in the light and the dark scheme.
        #expect(["rgb(191, 36, 48)", "rgb(248, 113, 113)"].contains(errors["db.1"]?["color"] ?? ""), "\(result)")
        #expect((result["console_errors"] as? [Any])?.isEmpty == true, "\(result)")
    }
}
