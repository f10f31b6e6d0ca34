import CDevhostSpawn
import DevhostManifest
import Foundation

extension AgentTools {
    /// restart, stop, start: one control request per service, in order, as the CLI sends them.
    static func controlCall(_ action: String, _ project: AgentProject, _ arguments: JSONValue) -> MCPToolResult {
        let services: [String]
        let client: ControlClient
        do {
            services = try serviceList(arguments, required: true)
            client = ControlClient(state: try project.state())
        } catch {
            return .failure(error.message)
        }
        if let unknown = project.unknownService(services) { return .failure(unknown) }
        var results: [JSONValue] = []
        var messages: [String] = []
        var failed = false
        for service in services {
            let encoded =
                service.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/")))
                ?? service
            let response: ControlClient.Response
            do {
                response = try client.post("/v1/services/\(encoded)/\(action)")
            } catch {
                return .failure((messages + ["\(error)"]).joined(separator: "\n"))
            }
            messages.append(response.status == 200 ? response.message : "error: \(response.message)")
            failed = failed || response.status != 200
            if case .object(let fields)? = try? JSONValue.parse(response.text), fields.contains(where: { $0.0 == "service" }) {
                results.append(.object(fields))
            } else {
                results.append(
                    .object([
                        ("service", .string(service)), ("done", .bool(false)), ("message", .string(response.message)),
                        ("instances", .array([])),
                    ]))
            }
        }
        return MCPToolResult(
            text: messages.joined(separator: "\n"), structured: .object([("ok", .bool(!failed)), ("results", .array(results))]),
            isError: failed)
    }

    static func up(_ project: AgentProject, _ arguments: JSONValue) async -> MCPToolResult {
        let services: [String]
        do {
            services = try serviceList(arguments, required: false)
            // `up` validates the whole manifest before it starts anything; say its problems here.
            let manifest = try project.manifest()
            let known = manifest.services.map(\.name)
            if let unknown = services.first(where: { !known.contains($0) }) {
                return .failure("no service named \"\(unknown)\" (the manifest has: \(known.joined(separator: ", ")))")
            }
        } catch {
            return .failure(error.message)
        }
        var command = ["up", "-d"]
        if let timeout = arguments["ready_timeout"] {
            guard let text = timeout.string else { return .failure("ready_timeout must be a duration such as 2m") }
            command += ["--ready-timeout", text]
        }
        var result = await runCLI(project, command + services)
        if !result.isError, case .object(var fields)? = result.structured, let report = status(project).structured {
            fields.append(("status", report))
            result.structured = .object(fields)
        }
        return result
    }

    static func doctor(_ project: AgentProject) async -> MCPToolResult {
        let outcome: (status: ExitStatus, output: String)
        do {
            outcome = try await runDevhost(project, ["doctor"])
        } catch {
            return .failure(error.message)
        }
        guard outcome.status == .exited(0) || outcome.status == .exited(1) else {
            return .failure("devhost doctor ended (\(outcome.status)):\n\(outcome.output)")
        }
        let parsed = DoctorReport(outcome.output)
        return MCPToolResult(
            text: outcome.output.trimmingCharacters(in: .newlines),
            structured: .object([
                ("ok", .bool(outcome.status == .exited(0))), ("findings", .array(parsed.findings)), ("summary", .string(parsed.summary)),
            ]))
    }

    /// Runs `devhost ARGS` for the project and answers with its output; exit status non-zero is a
    /// tool error carrying that output.
    static func runCLI(_ project: AgentProject, _ arguments: [String]) async -> MCPToolResult {
        let outcome: (status: ExitStatus, output: String)
        do {
            outcome = try await runDevhost(project, arguments)
        } catch {
            return .failure(error.message)
        }
        let output = outcome.output.trimmingCharacters(in: .whitespacesAndNewlines)
        let code: Int
        switch outcome.status {
        case .exited(let value): code = Int(value)
        case .signaled(let signal): code = 128 + Int(signal)
        }
        return MCPToolResult(
            text: output.isEmpty ? "devhost \(arguments[0]): \(outcome.status)" : output,
            structured: .object([("ok", .bool(code == 0)), ("exit_code", .int(code)), ("output", .string(output))]),
            isError: code != 0)
    }

    /// The devhost binary on the project's manifest, without colour, its output (stdout and stderr)
    /// through a pipe of ours: the server's own stdout carries only protocol messages.
    static func runDevhost(_ project: AgentProject, _ arguments: [String]) async throws(AgentFailure) -> (
        status: ExitStatus, output: String
    ) {
        let manifest = try project.manifestPath()
        var argv = [project.executable] + arguments.prefix(1) + ["--file", manifest]
        if let overlay = project.overlay, ["up", "doctor"].contains(arguments[0]) { argv += ["--env", overlay] }
        argv += arguments.dropFirst()
        var environment = ProcessInfo.processInfo.environment
        environment["NO_COLOR"] = "1"
        var fds: [Int32] = [0, 0]
        guard devhost_pipe_cloexec(&fds) == 0 else { throw AgentFailure("cannot make a pipe: \(String(cString: strerror(errno)))") }
        let pid: pid_t
        do {
            pid = try ChildProcesses.shared.spawn(
                argv, environment: environment, directory: (manifest as NSString).deletingLastPathComponent, outputFD: fds[1])
        } catch {
            close(fds[0])
            close(fds[1])
            throw AgentFailure("\(error)")
        }
        close(fds[1])
        let readFD = fds[0]
        let output = await withCheckedContinuation { (continuation: CheckedContinuation<String, Never>) in
            let reader = Thread {
                var data = [UInt8]()
                var chunk = [UInt8](repeating: 0, count: 16 * 1024)
                while true {
                    let count = read(readFD, &chunk, chunk.count)
                    if count < 0, errno == EINTR { continue }
                    guard count > 0 else { break }
                    data += chunk[..<count]
                }
                close(readFD)
                continuation.resume(returning: String(decoding: data, as: UTF8.self))
            }
            reader.start()
        }
        return (await ChildProcesses.shared.exitStatus(of: pid), output)
    }
}

/// `devhost doctor`'s lines read back into findings: `ok  `, `warn` or `FAIL`, the text (continued
/// on indented lines), and an indented `fix:`; the last line is the summary.
struct DoctorReport {
    var findings: [JSONValue] = []
    var summary = ""

    init(_ output: String) {
        var level = ""
        var text: [String] = []
        var fix: String?
        func flush() {
            guard !level.isEmpty else { return }
            var fields: [(String, JSONValue)] = [("level", .string(level)), ("text", .string(text.joined(separator: "\n")))]
            if let fix { fields.append(("fix", .string(fix))) }
            findings.append(.object(fields))
            (level, text, fix) = ("", [], nil)
        }
        for line in output.split(separator: "\n", omittingEmptySubsequences: false) where !line.isEmpty {
            let marks = ["ok  ": "ok", "warn": "warn", "FAIL": "fail"]
            if let mark = marks[String(line.prefix(4))], line.dropFirst(4).hasPrefix("  ") {
                flush()
                level = mark
                text = [String(line.dropFirst(6))]
            } else if line.hasPrefix("      fix: ") {
                fix = String(line.dropFirst(11))
            } else if line.hasPrefix("      "), !level.isEmpty {
                text.append(String(line.dropFirst(6)))
            } else {
                flush()
                summary = String(line)
            }
        }
        flush()
    }
}
