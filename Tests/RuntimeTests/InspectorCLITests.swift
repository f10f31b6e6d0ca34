import DevhostRuntime
import DevhostTestSupport
import Foundation
import Testing

/// `devhost requests` and `devhost replay` against a real `devhost up`, and the two ways to turn
/// recording off.
@Suite(.serialized) struct InspectorCLITests {
    static func manifest(_ name: String, inspect: Bool? = nil) -> String {
        """
        name: \(name)
        proxy: { https_port: 0\(inspect.map { ", inspect: \($0)" } ?? "") }
        services:
          api:
            command: python3 server.py
            route: api
            health: { http: /healthz, interval: 100ms, retries: 1 }
        """
    }

    static func jsonLines(_ text: String) -> [[String: Any]] {
        text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    @Test func requestsListsFiltersShowsAndReplays() async throws {
        let devhost = try DevhostRun(Self.manifest("inspcli"), files: ["server.py": mirrorUpstreamScript])
        defer { devhost.shutDown() }
        try await devhost.startForeground()
        let host = "api.inspcli.localhost"
        #expect(await devhost.waitForStatus { $0.services.first?.instances.first?.state == "healthy" } != nil)
        _ = try run([
            "curl", "-s", "-H", "Host: \(host)", "-H", "Authorization: Bearer s3cret", "http://127.0.0.1:\(devhost.proxyPort)/plain/a",
        ])
        _ = try run(["curl", "-s", "-H", "Host: \(host)", "http://127.0.0.1:\(devhost.proxyPort)/status/503"])

        let all = Self.jsonLines(try devhost.devhost(["requests", "--json"]).output)
        #expect(all.map { $0["target"] as? String } == ["/plain/a", "/status/503"])
        let failing = Self.jsonLines(try devhost.devhost(["requests", "--json", "--status", "5xx", "--service", "api"]).output)
        #expect(failing.map { $0["status"] as? Int } == [503])
        let id = try #require(all.first?["id"] as? Int)
        let plain = try devhost.devhost(["requests"]).output
        #expect(plain.contains("GET \(host)/plain/a 200") && plain.contains("/status/503 503"), "\(plain)")

        let masked = try devhost.devhost(["requests", String(id)])
        #expect(
            masked.status == 0 && masked.output.contains("Authorization: ••••••") && !masked.output.contains("s3cret"), "\(masked.output)")
        let shown = try devhost.devhost(["requests", "--unmask", String(id)])
        #expect(shown.output.contains("Authorization: Bearer s3cret"), "\(shown.output)")
        _ = try devhost.devhost(["requests", "--mask"])

        let replay = try devhost.devhost(["replay", String(id), "-H", "X-Extra: 1"])
        #expect(replay.status == 0 && replay.output.contains("replayed #\(id) as #") && replay.output.contains(": 200"), "\(replay.output)")
        let after = Self.jsonLines(try devhost.devhost(["requests", "--json"]).output)
        let last = try #require(after.last)
        #expect((last["request_id"] as? String)?.hasPrefix("replay-\(id)-") == true && last["target"] as? String == "/plain/a")
        let bad = try devhost.devhost(["requests", "--status", "6xx"])
        #expect(bad.status != 0 && bad.output.contains("6xx"))

        // Following prints requests as they end.
        let follower = try ChildProcess(
            argv: [devhostBinary, "requests", "-f", "--json"], directory: devhost.project.path, environment: devhost.environment)
        defer { follower.stop() }
        #expect(await eventually(timeout: .seconds(10)) { follower.output.contains("/status/503") })
        _ = try run(["curl", "-s", "-H", "Host: \(host)", "http://127.0.0.1:\(devhost.proxyPort)/mirror/followed"])
        #expect(await eventually(timeout: .seconds(10)) { follower.output.contains("/mirror/followed") }, "\(follower.output)")
    }

    @Test(arguments: [true, false]) func turnedOffNothingIsRecorded(byFlag: Bool) async throws {
        let devhost = try DevhostRun(
            Self.manifest(byFlag ? "inspoff" : "inspno", inspect: byFlag ? nil : false), files: ["server.py": mirrorUpstreamScript])
        defer { devhost.shutDown() }
        try await devhost.startForeground(byFlag ? ["--no-inspect"] : [])
        #expect(await devhost.waitForStatus { $0.services.first?.instances.first?.state == "healthy" } != nil)
        let host = byFlag ? "api.inspoff.localhost" : "api.inspno.localhost"
        let answer = try run([
            "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Host: \(host)", "http://127.0.0.1:\(devhost.proxyPort)/mirror/x",
        ])
        #expect(answer.output == "200")
        let listed = try devhost.devhost(["requests"])
        #expect(listed.status == 1)
        #expect(listed.output.contains(byFlag ? "--no-inspect" : "proxy.inspect is false"), "\(listed.output)")
    }

    /// An exchange that came over HTTPS, seen from the plain dashboard: its curl names the HTTPS
    /// URL, and Replay sends it over TLS to the HTTPS listener (the service sees `proto=https`).
    @Test func anHTTPSExchangeIsShownAndReplayedAsHTTPS() async throws {
        let data = try TempProject()
        let httpsPort = try freeLoopbackPorts(1)[0]
        let devhost = try DevhostRun(
            Self.manifest("insptls").replacingOccurrences(of: "https_port: 0", with: "https_port: \(httpsPort)"),
            files: ["server.py": mirrorUpstreamScript], environment: ["XDG_DATA_HOME": data.path])
        defer { devhost.shutDown() }
        try await devhost.startForeground()
        #expect(await devhost.waitForStatus { $0.services.first?.instances.first?.state == "healthy" } != nil)
        let host = "api.insptls.localhost"
        let sent = try run([
            "curl", "-s", "--cacert", data.file("devhost/ca/ca.pem"), "--resolve", "\(host):\(httpsPort):127.0.0.1",
            "https://\(host):\(httpsPort)/mirror/secure",
        ])
        #expect(sent.output.contains("proto=https"), "\(sent.output)")
        let script = repositoryRoot.appendingPathComponent("Tests/Scripts/dashboard_check.py").path
        let check = try run([
            "python3", script, "--url", "http://devhost.localhost:\(devhost.proxyPort)/", "--screenshot",
            devhost.project.file("dashboard.png"), "--expect", "api", "--requests", "/mirror/secure", "--timeout", "60",
        ])
        #expect(check.status == 0, "\(check.output)")
        let json = check.output.split(separator: "\n").last { $0.hasPrefix("{") }.map(String.init) ?? ""
        let result = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any], "\(check.output)")
        let requests = try #require(result["requests"] as? [String: Any], "\(result)")
        let detail = requests["detail"] as? [String: String] ?? [:]
        #expect(detail["curl"]?.hasPrefix("curl 'https://\(host):\(httpsPort)/mirror/secure'") == true, "\(detail)")
        #expect((requests["replay"] as? String)?.hasSuffix(": 200") == true, "\(requests)")
        let listed = Self.jsonLines(try devhost.devhost(["requests", "--json"]).output)
        let replayed = try #require(listed.last)
        #expect(replayed["scheme"] as? String == "https" && (replayed["request_id"] as? String)?.hasPrefix("replay-") == true, "\(listed)")
        let shown = try devhost.devhost(["requests", "--json", String(try #require(replayed["id"] as? Int))]).output
        #expect(shown.contains("proto=https"), "the service saw the replay come over HTTPS: \(shown)")
    }

    /// `proxy.inspect` edited while devhost runs: a reload starts recording, and stops it again
    /// with what was kept dropped.
    @Test func aReloadTurnsTheInspectorOnAndOff() async throws {
        let devhost = try DevhostRun(Self.manifest("insprl", inspect: false), files: ["server.py": mirrorUpstreamScript])
        defer { devhost.shutDown() }
        try await devhost.startForeground()
        #expect(await devhost.waitForStatus { $0.services.first?.instances.first?.state == "healthy" } != nil)
        func get(_ path: String) throws -> String {
            try run([
                "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Host: api.insprl.localhost",
                "http://127.0.0.1:\(devhost.proxyPort)\(path)",
            ]).output
        }
        func targets() throws -> [String]? {
            let listed = try devhost.devhost(["requests", "--json"])
            return listed.status == 0 ? Self.jsonLines(listed.output).compactMap { $0["target"] as? String } : nil
        }
        func inspect(_ on: Bool) async throws {
            try devhost.project.write("devhost.yml", Self.manifest("insprl", inspect: on))
            _ = try devhost.devhost(["reload"])
            // The file watcher or the command, whichever came first, said so.
            #expect(
                await eventually(timeout: .seconds(10)) {
                    ((try? devhost.devhost(["logs", "devhost", "-n", "50"]).output) ?? "").contains("proxy.inspect \(on ? "on" : "off")")
                })
        }
        #expect(try get("/mirror/before") == "200")
        let off = try devhost.devhost(["requests"])
        #expect(off.status == 1 && off.output.contains("proxy.inspect is false"), "\(off.output)")

        try await inspect(true)
        #expect(try get("/mirror/on") == "200")
        #expect(try targets() == ["/mirror/on"])

        try await inspect(false)
        #expect(try get("/mirror/off") == "200")
        let offAgain = try devhost.devhost(["requests"])
        #expect(offAgain.status == 1 && offAgain.output.contains("proxy.inspect is false"), "\(offAgain.output)")

        try await inspect(true)
        #expect(try targets() == [], "turning it off dropped /mirror/on; /mirror/off was not recorded")
        #expect(try get("/mirror/again") == "200")
        #expect(try targets() == ["/mirror/again"])
    }

    @Test func theDashboardListsRequestsShowsOneAndReplaysItInChromium() async throws {
        let devhost = try DevhostRun(Self.manifest("inspdash"), files: ["server.py": mirrorUpstreamScript])
        defer { devhost.shutDown() }
        try await devhost.startForeground()
        #expect(await devhost.waitForStatus { $0.services.first?.instances.first?.state == "healthy" } != nil)
        let url = "http://api.inspdash.localhost:\(devhost.proxyPort)"
        _ = try run(["curl", "-s", "--resolve", "api.inspdash.localhost:\(devhost.proxyPort):127.0.0.1", url + "/mirror/first"])
        _ = try run([
            "curl", "-s", "--resolve", "api.inspdash.localhost:\(devhost.proxyPort):127.0.0.1", "-H", "Content-Type: application/json",
            "--data",
            #"{"order":{"id":7,"items":["a","b"]}}"#, url + "/mirror/dash",
        ])
        let script = repositoryRoot.appendingPathComponent("Tests/Scripts/dashboard_check.py").path
        let check = try run([
            "python3", script, "--url", "http://devhost.localhost:\(devhost.proxyPort)/", "--screenshot",
            devhost.project.file("dashboard.png"),
            "--expect", "api", "--requests", "/mirror/dash", "--timeout", "60",
        ])
        #expect(check.status == 0, "\(check.output)")
        let json = check.output.split(separator: "\n").last { $0.hasPrefix("{") }.map(String.init) ?? ""
        let result = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any], "\(check.output)")
        let requests = try #require(result["requests"] as? [String: Any], "\(result)")
        let listed = (requests["listed"] as? [[String: Any]] ?? []).map { $0["target"] as? String ?? "" }
        #expect(listed == ["/mirror/first", "/mirror/dash"], "the list shows the proxy's requests in order, not the dashboard's own")
        let detail = requests["detail"] as? [String: String] ?? [:]
        #expect(detail["request"]?.contains("\"items\": [\n      \"a\",") == true, "the JSON body pretty-printed: \(detail)")
        #expect(detail["response"]?.contains("\n  \"method\": \"POST\"") == true, "\(detail)")
        #expect(detail["curl"]?.hasPrefix("curl -X POST '\(url)/mirror/dash'") == true, "\(detail)")
        #expect((requests["replay"] as? String)?.hasSuffix(": 200") == true, "\(requests)")
        #expect((result["console_errors"] as? [Any])?.isEmpty == true, "\(result)")
        let replayID = try #require(requests["replay_id"] as? Int)
        let shown = try devhost.devhost(["requests", String(replayID), "--json"]).output
        #expect(
            shown.contains("\"target\":\"/mirror/dash\"") && shown.contains("\"method\":\"POST\"") && shown.contains("items"), "\(shown)")
    }
}
