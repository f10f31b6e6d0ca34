import ArgumentParser
import DevhostRuntime
import Foundation

/// `devhost mcp`: the project's tools for coding agents, as a Model Context Protocol server on
/// stdin/stdout (docs/mcp.md). The agent's client starts it in the project folder.
struct MCPCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mcp",
        abstract: "Serve this project's tools to coding agents (Model Context Protocol over stdio).",
        discussion: """
            Tools: status, logs, validate, doctor, up, down, restart, stop, start; resources: the manifest \
            and each service's log. Register it with your agent's client, e.g. `{"command": "devhost", \
            "args": ["mcp"]}` started in the project folder. See docs/mcp.md.
            """
    )

    @Option(name: [.short, .customLong("file")], help: "The manifest, or a folder to search upward from (default: the current folder).")
    var file: String?

    @Option(name: .customLong("env"), help: "Merge devhost.ENV.yml over devhost.yml (default: $DEVHOST_ENV).")
    var environment: String?

    @Flag(name: .customLong("read-only"), help: "Offer only the tools that change nothing: status, logs, validate, doctor.")
    var readOnly = false

    func run() async throws {
        // A client that goes away while a reply is being written must not kill the server mid-restart.
        signal(SIGPIPE, SIG_IGN)
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let start = file.map { ($0 as NSString).expandingTildeInPath } ?? FileManager.default.currentDirectoryPath
        let project = AgentProject(
            start: URL(fileURLWithPath: start).path, overlay: environment,
            executable: executable)
        var tools = AgentTools.all(project)
        var withheld: [String: String] = [:]
        if readOnly {
            for tool in tools where !AgentTools.readOnlyNames.contains(tool.name) {
                withheld[tool.name] =
                    "\(tool.name) is not available: this devhost mcp runs with --read-only (tools: \(AgentTools.readOnlyNames.joined(separator: ", ")))"
            }
            tools = tools.filter { AgentTools.readOnlyNames.contains($0.name) }
        }
        let server = MCPServer(
            name: "devhost", version: Devhost.version,
            instructions: """
                devhost runs this project's services behind a local proxy. `status` shows what runs, its health and \
                URLs; `logs` reads a service's recent output (use `filter` to find errors); `restart` a service after \
                editing it; `up` starts the project in the background and `down` stops it. Messages are the CLI's.
                """ + (readOnly ? " This server is read-only: it can look, not change." : ""),
            tools: tools, withheld: withheld, resources: MCPResources(project: project))
        await server.run()
    }
}
