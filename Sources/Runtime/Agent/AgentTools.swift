import DevhostManifest
import Foundation

/// The tools `devhost mcp` offers: each one what a CLI command does, with the CLI's messages.
public enum AgentTools {
    /// The tools that change nothing, which `--read-only` keeps.
    public static let readOnlyNames = ["status", "logs", "validate", "doctor"]

    public static func all(_ project: AgentProject) -> [MCPTool] {
        [
            MCPTool(
                name: "status", title: "Service status",
                description:
                    "The running devhost's services and instances: state, health, pid, port, public URLs (routes), restarts and uptime; the same data as `devhost status --json`. `running` is false when devhost is not running in this project (the `up` tool starts it).",
                inputSchema: Schema.object([]), outputSchema: AgentSchemas.status, readOnly: true
            ) { _ in status(project) },
            MCPTool(
                name: "logs", title: "Service logs",
                description:
                    "The last lines of services' logs, merged by time, from .devhost/logs (they outlive devhost). `devhost` as a service gives devhost's own lines: restarts, health changes, reloads. At most 1000 lines and 64 KiB of text; `truncated` says when older matching lines were left out.",
                inputSchema: Schema.object([
                    ("services", Schema.array(Schema.string(), "Services (default: all).")),
                    ("service", Schema.string("One service (same as services: [service]).")),
                    ("lines", Schema.integer("How many of the last lines (default 100, at most 1000).")),
                    ("since", Schema.string("Only lines newer than this duration, e.g. 30s, 5m, 2h.")),
                    ("filter", Schema.string("Only lines containing this text (case-insensitive).")),
                ]), outputSchema: AgentSchemas.logs, readOnly: true
            ) { arguments in logs(project, arguments) },
            MCPTool(
                name: "validate", title: "Validate devhost.yml",
                description:
                    "Checks devhost.yml (and the --env overlay) as `devhost validate` does: `valid`, each problem with its key path and file:line:column, warnings, and the services with their ports and public URLs.",
                inputSchema: Schema.object([]), outputSchema: AgentSchemas.validate, readOnly: true
            ) { _ in validate(project) },
            MCPTool(
                name: "doctor", title: "Check the machine",
                description:
                    "Runs `devhost doctor`: whether this machine has what the project needs (programs, env files, proxy port, resolver), each finding with its fix. `ok` is false when something would stop `devhost up`.",
                inputSchema: Schema.object([]), outputSchema: AgentSchemas.doctor, readOnly: true
            ) { _ in await doctor(project) },
            MCPTool(
                name: "up", title: "Start the project",
                description:
                    "Starts devhost in the background (`devhost up -d`) with all services or the ones named (and what they depend on), waits until they are up and answers with the status. Does nothing but report when devhost already runs.",
                inputSchema: Schema.object([
                    ("services", Schema.array(Schema.string(), "Services to start (default: all).")),
                    ("ready_timeout", Schema.string("How long to wait for the services to come up (default 3m).")),
                ]), outputSchema: AgentSchemas.command, readOnly: false
            ) { arguments in await up(project, arguments) },
            MCPTool(
                name: "down", title: "Stop the project",
                description: "Stops every service and devhost itself (`devhost down`), in reverse dependency order.",
                inputSchema: Schema.object([]), outputSchema: AgentSchemas.command, readOnly: false
            ) { _ in await runCLI(project, ["down"]) },
        ] + ["restart", "stop", "start"].map { control($0, project) }
    }

    static func control(_ action: String, _ project: AgentProject) -> MCPTool {
        let what: String
        switch action {
        case "restart":
            what =
                "Restarts services rolling (`devhost restart`): one instance at a time, the next once the new one is healthy; setup runs first when its inputs changed. Answers when done, with each instance's new pid and state."
        case "stop": what = "Stops services until started again (`devhost stop`); devhost keeps running."
        default:
            what =
                "Starts stopped services, or ones `up` did not select, with what they depend on (`devhost start`); waits until they are up."
        }
        return MCPTool(
            name: action, title: action.prefix(1).uppercased() + action.dropFirst() + " services", description: what,
            inputSchema: Schema.object([
                ("services", Schema.array(Schema.string(), "Services, by their names in devhost.yml.")),
                ("service", Schema.string("One service (same as services: [service]).")),
            ]), outputSchema: AgentSchemas.control, readOnly: false
        ) { arguments in controlCall(action, project, arguments) }
    }

    // MARK: Reading

    static func status(_ project: AgentProject) -> MCPToolResult {
        let client: ControlClient
        do {
            client = ControlClient(state: try project.state())
        } catch {
            return .failure(error.message)
        }
        do {
            let response = try client.get("/v1/status")
            guard response.status == 200, (try? StatusReport.decode(response.body)) != nil,
                case .object(let fields) = try JSONValue.parse(response.text)
            else {
                return .failure("unexpected answer from devhost (\(response.status)): \(response.message)")
            }
            let structured = JSONValue.object([("running", .bool(true))] + fields)
            return MCPToolResult(text: structured.serialized(), structured: structured)
        } catch let failure as ControlClient.Failure {
            if case .notRunning = failure {
                let message = "devhost is not running here (`devhost up -d` starts it)"
                let structured = JSONValue.object([("running", .bool(false)), ("message", .string(message))])
                return MCPToolResult(text: message, structured: structured)
            }
            return .failure("\(failure)")
        } catch {
            return .failure("unexpected answer from devhost: \(error)")
        }
    }

    /// Caps that keep one answer inside an agent's context.
    static let maximumLines = 1000
    static let maximumBytes = 64 * 1024

    static func logs(_ project: AgentProject, _ arguments: JSONValue) -> MCPToolResult {
        let state: ProjectState
        let services: [String]
        do {
            state = try project.state()
            services = try serviceList(arguments, required: false)
        } catch {
            return .failure(error.message)
        }
        var count = 100
        if let lines = arguments["lines"] {
            guard let value = lines.int, (1...maximumLines).contains(value) else {
                return .failure("lines must be a whole number from 1 to \(maximumLines)")
            }
            count = value
        }
        var cutoff: Date?
        if let since = arguments["since"] {
            guard let text = since.string, let duration = DurationText.parse(text) else {
                return .failure("--since \(arguments["since"]?.string ?? "(not text)") is not a duration (e.g. 30s, 5m, 2h)")
            }
            cutoff = Date().addingTimeInterval(-Double(DurationText.millisecondsExact(duration)) / 1000)
        }
        let filter = arguments["filter"]?.string.flatMap { $0.isEmpty ? nil : $0 }
        let history = LogHistory(directory: state.logs)
        let known = history.services()
        if let unknown = services.first(where: { !known.contains($0) }) {
            return .failure("no logs for \(unknown) (services with logs: \(known.joined(separator: ", ")))")
        }
        var lines = history.lines(services: services, limit: filter == nil ? count : nil, since: cutoff)
        if let filter { lines = lines.filter { $0.text.range(of: filter, options: .caseInsensitive) != nil } }
        let matched = lines.count
        lines = Array(lines.suffix(count))
        var bytes = 0
        var kept = 0
        for line in lines.reversed() {
            bytes += line.time.utf8.count + line.label.utf8.count + line.text.utf8.count + 5
            if bytes > maximumBytes { break }
            kept += 1
        }
        lines = Array(lines.suffix(kept))
        let text = lines.map { "\($0.time) \($0.label) | \($0.text)" }.joined(separator: "\n")
        let structured = JSONValue.object([
            ("lines", .array(lines.map { JSONValue.encoding($0) })), ("matched", .int(matched)),
            ("truncated", .bool(lines.count < matched)),
        ])
        return MCPToolResult(text: text.isEmpty ? "(no lines)" : text, structured: structured)
    }

    static func validate(_ project: AgentProject) -> MCPToolResult {
        let path: String
        do {
            path = try project.manifestPath()
        } catch {
            return .failure(error.message)
        }
        do {
            let manifest = try ManifestLoader().load(path, overlay: project.overlay)
            let services = manifest.services.map { service in
                JSONValue.object([
                    ("name", .string(service.name)), ("port", .string(service.port.description)),
                    ("routes", .array(service.routeEntries.map { .string(manifest.url(of: $0, port: manifest.proxy.port)) })),
                ])
            }
            let source = ([manifest.file] + manifest.overlays).joined(separator: " + ")
            let text =
                "\(source): project \(manifest.name), \(manifest.services.count) service\(manifest.services.count == 1 ? "" : "s")"
                + manifest.warnings.map { "\nwarning: \($0.description)" }.joined()
            return MCPToolResult(
                text: text,
                structured: .object([
                    ("valid", .bool(true)), ("file", .string(manifest.file)), ("project", .string(manifest.name)),
                    ("services", .array(services)), ("problems", .array([])), ("warnings", .array(manifest.warnings.map(issue))),
                ]))
        } catch {
            let problems = error.issues.filter { $0.severity == .error }
            let warnings = error.issues.filter { $0.severity == .warning }
            return MCPToolResult(
                text: AgentProject.problems(error),
                structured: .object([
                    ("valid", .bool(false)), ("file", .string(path)), ("services", .array([])), ("problems", .array(problems.map(issue))),
                    ("warnings", .array(warnings.map(issue))),
                ]))
        }
    }

    static func issue(_ issue: ManifestIssue) -> JSONValue {
        var fields: [(String, JSONValue)] = [("path", .string(issue.path)), ("message", .string(issue.message))]
        if let location = issue.location {
            fields += [("file", .string(location.file)), ("line", .int(location.line)), ("column", .int(location.column))]
        }
        fields.append(("text", .string(issue.description)))
        return .object(fields)
    }

    /// `services` (or `service`) from the arguments; names must be text.
    static func serviceList(_ arguments: JSONValue, required: Bool) throws(AgentFailure) -> [String] {
        var names: [String] = []
        if let list = arguments["services"] {
            guard let items = list.array, items.allSatisfy({ $0.string != nil }) else {
                throw AgentFailure("services must be a list of names")
            }
            names = items.compactMap(\.string)
        }
        if let one = arguments["service"] {
            guard let name = one.string else { throw AgentFailure("service must be a name") }
            names.append(name)
        }
        if required, names.isEmpty { throw AgentFailure("name at least one service (services: [\"api\"])") }
        return names
    }
}
