import DevhostManifest
import DevhostRuntime
import DevhostTestSupport
import Foundation
import Testing

private let project = twoReplicasAndAWorker(project: "agent")

/// `devhost mcp` driven by the official MCP Python SDK (Tests/Scripts/mcp_check.py) over stdio.
@Suite("devhost mcp", .serialized)
struct MCPTests {
    /// Runs the client script; returns what it saw.
    func check(_ dev: DevhostRun, _ options: [String]) throws -> [String: Any] {
        let script = repositoryRoot.appendingPathComponent("Tests/Scripts/mcp_check.py").path
        let result = try run(
            ["python3", script, "--devhost", devhostBinary, "--project", dev.project.path, "--service", "api"] + options,
            in: dev.project.path, environment: dev.environment)
        #expect(result.status == 0, "\(result.output)")
        let json = result.output.split(separator: "\n").last { $0.hasPrefix("{") }.map(String.init) ?? "{}"
        return try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any], "\(result.output)")
    }

    func call(_ report: [String: Any], _ key: String) -> (isError: Bool, text: String, structured: [String: Any]) {
        let entry = report[key] as? [String: Any] ?? [:]
        return (entry["is_error"] as? Bool ?? true, entry["text"] as? String ?? "", entry["structured"] as? [String: Any] ?? [:])
    }

    func pids(_ structured: [String: Any], _ service: String) -> [Int] {
        let services = structured["services"] as? [[String: Any]] ?? []
        let instances = services.first { $0["name"] as? String == service }?["instances"] as? [[String: Any]] ?? []
        return instances.compactMap { $0["pid"] as? Int }
    }

    @Test("an MCP client lists the tools with valid schemas, starts the project, reads status and logs, restarts, is told off, stops it")
    func fullSession() async throws {
        let dev = try DevhostRun(project)
        defer { dev.shutDown() }
        let report = try check(dev, ["--up", "--down"])

        #expect(report["protocol_version"] as? String == "2025-11-25")
        #expect(report["tools"] as? [String] == ["doctor", "down", "logs", "restart", "start", "status", "stop", "up", "validate"])
        #expect((report["schema_problems"] as? [String])?.isEmpty == true, "\(report["schema_problems"] ?? "")")
        #expect((report["read_only_hints"] as? [String: Bool])?["status"] == true)
        #expect((report["read_only_hints"] as? [String: Bool])?["restart"] == false)

        let before = call(report, "status_before_up")
        #expect(!before.isError && before.structured["running"] as? Bool == false && before.text.contains("not running"))
        let unknownUp = call(report, "up_unknown")
        #expect(unknownUp.isError && unknownUp.text == "no service named \"nope\" (the manifest has: api, worker)", "\(unknownUp.text)")
        let up = call(report, "up")
        #expect(!up.isError && up.text.contains("api.2") && up.text.contains("http://api.agent.localhost:\(dev.proxyPort)"), "\(up.text)")

        let status = call(report, "status")
        #expect(!status.isError && status.structured["running"] as? Bool == true && status.structured["ok"] as? Bool == true)
        let first = pids(status.structured, "api")
        #expect(first.count == 2)
        let routes = (status.structured["services"] as? [[String: Any]])?.first?["routes"] as? [String]
        #expect(routes == ["http://api.agent.localhost:\(dev.proxyPort)"])
        let timing = report["status_ms"] as? [String: Double] ?? [:]
        #expect((timing["median"] ?? 1000) < 100, "status took \(timing)")

        let logs = call(report, "logs")
        let lines = logs.structured["lines"] as? [[String: Any]] ?? []
        #expect(!logs.isError && lines.count == 5 && lines.allSatisfy { $0["service"] as? String == "api" }, "\(logs.text)")
        let filtered = call(report, "logs_filtered")
        #expect(!filtered.isError && filtered.text.contains("healthy"), "\(filtered.text)")
        #expect((filtered.structured["lines"] as? [[String: Any]])?.count ?? 0 <= 3)
        let badLines = call(report, "logs_bad_lines")
        #expect(badLines.isError && badLines.text.contains("lines must be a whole number from 1 to 1000"))

        let validate = call(report, "validate")
        #expect(!validate.isError && validate.structured["valid"] as? Bool == true && validate.structured["project"] as? String == "agent")
        let doctor = call(report, "doctor")
        #expect(!doctor.isError && doctor.structured["ok"] as? Bool == true, "\(doctor.text)")
        let findings = doctor.structured["findings"] as? [[String: Any]] ?? []
        #expect(findings.contains { ($0["text"] as? String)?.contains("devhost.yml is valid (2 services)") == true }, "\(doctor.text)")

        #expect(
            report["resources"] as? [String] == [
                "devhost://logs/api", "devhost://logs/devhost", "devhost://logs/worker", "devhost://manifest",
            ])
        #expect(report["manifest_text"] as? String == project)
        #expect((report["bad_resource"] as? String)?.contains("resource not found") == true, "\(report["bad_resource"] ?? "")")

        // restart: new pids, healthy again; requested restarts are not counted as crashes.
        let restart = call(report, "restart")
        #expect(!restart.isError && restart.text == "api restarted (2 instances)", "\(restart.text)")
        let after = call(report, "status_after")
        let second = pids(after.structured, "api")
        #expect(second.count == 2 && Set(second).isDisjoint(with: first), "\(first) → \(second)")
        #expect(after.structured["ok"] as? Bool == true)
        #expect((report["updated"] as? [String])?.contains("devhost://logs/api") == true, "no resources/updated for the log")
        let newPorts = ((after.structured["services"] as? [[String: Any]])?.first?["instances"] as? [[String: Any]] ?? []).compactMap {
            $0["port"] as? Int
        }
        let logResource = report["log_resource"] as? String ?? ""
        #expect(!newPorts.isEmpty && newPorts.allSatisfy { logResource.contains("listening on :\($0)") }, "\(newPorts)\n\(logResource)")

        let unknown = call(report, "restart_unknown")
        #expect(unknown.isError && unknown.text == "no service named \"nope\" (the manifest has: api, worker)", "\(unknown.text)")
        #expect(call(report, "stop_nothing").isError)

        let down = call(report, "down")
        #expect(!down.isError && down.text == "devhost stopped", "\(down.text)")
        #expect(ProjectLock.holder(dev.state) == nil)
        #expect(livingProcesses(withMarker: dev.marker).isEmpty)
    }

    @Test("--read-only offers status, logs, validate and doctor, and refuses restart with the reason")
    func readOnly() async throws {
        let dev = try DevhostRun(project)
        defer { dev.shutDown() }
        let up = try dev.devhost(["up", "-d"])
        #expect(up.status == 0, "\(up.output)")
        let before = dev.pids(of: "api")
        let report = try check(dev, ["--read-only"])
        #expect(report["tools"] as? [String] == ["doctor", "logs", "status", "validate"])
        #expect((report["schema_problems"] as? [String])?.isEmpty == true)
        #expect(call(report, "status").structured["running"] as? Bool == true)
        let restart = call(report, "restart")
        #expect(
            restart.isError && restart.text.contains("restart is not available") && restart.text.contains("--read-only"), "\(restart.text)")
        #expect(dev.pids(of: "api") == before, "a read-only server restarted api")
    }

    /// Raw JSON-RPC lines through `devhost mcp` in a shell pipe: what no SDK would send.
    func raw(_ folder: String, _ lines: [String], arguments: [String] = []) throws -> [[String: Any]] {
        let input = lines.joined(separator: "\n") + "\n"
        let result = try run(
            ["bash", "-c", "printf '%s' \"$1\" | \"$2\" mcp \"${@:3}\"", "bash", input, devhostBinary] + arguments, in: folder,
            environment: ProcessInfo.processInfo.environment.merging(["NO_COLOR": "1"]) { $1 })
        #expect(result.status == 0, "\(result.output)")
        return result.output.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    @Test(
        "protocol errors are JSON-RPC errors; an invalid manifest is validate's answer with positions, and other tools say the CLI's message"
    )
    func protocolAndManifestErrors() async throws {
        let folder = try TempProject(["devhost.yml": "name: broken\nservices:\n  api:\n    command: python3 app.py\n    port: nine\n"])
        let answers = try raw(
            folder.path,
            [
                "not json",
                #"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"1999-01-01","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#,
                #"{"jsonrpc":"2.0","id":2,"method":"no/such"}"#,
                #"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"nope","arguments":{}}}"#,
                #"{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"validate","arguments":{}}}"#,
                #"{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"up","arguments":{}}}"#,
                #"{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"status","arguments":[]}}"#,
                #"{"jsonrpc":"2.0","id":7,"method":"resources/read","params":{"uri":"devhost://logs/api"}}"#,
                #"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
            ])
        func answer(_ id: Int?) -> [String: Any] {
            answers.first { ($0["id"] as? Int) == id && (id != nil || $0["id"] is NSNull) } ?? [:]
        }
        #expect((answer(nil)["error"] as? [String: Any])?["code"] as? Int == -32700)
        #expect(
            (answer(1)["result"] as? [String: Any])?["protocolVersion"] as? String == "2025-11-25", "the newest, for an unknown version")
        #expect((answer(2)["error"] as? [String: Any])?["code"] as? Int == -32601)
        #expect((answer(3)["error"] as? [String: Any])?["code"] as? Int == -32602)

        let validate = answer(4)["result"] as? [String: Any] ?? [:]
        let structured = validate["structuredContent"] as? [String: Any] ?? [:]
        #expect(structured["valid"] as? Bool == false)
        let problem = (structured["problems"] as? [[String: Any]])?.first ?? [:]
        #expect(problem["path"] as? String == "services.api.port" && problem["line"] as? Int == 5, "\(structured)")
        let up = answer(5)["result"] as? [String: Any] ?? [:]
        let upText = ((up["content"] as? [[String: Any]])?.first?["text"] as? String) ?? ""
        #expect(up["isError"] as? Bool == true && upText.contains("services.api.port") && upText.contains("devhost.yml:5"), "\(upText)")
        #expect((answer(6)["result"] as? [String: Any])?["isError"] as? Bool == true)
        #expect((answer(7)["error"] as? [String: Any])?["code"] as? Int == -32002)
        #expect(answers.count == 8, "one answer a request and the parse error, none for the notification: \(answers)")
    }
}
