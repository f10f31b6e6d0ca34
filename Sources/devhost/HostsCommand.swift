import ArgumentParser
import DevhostManifest
import DevhostRuntime
import Foundation

struct HostsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hosts",
        abstract: "Write the running hosts into /etc/hosts, for resolvers that do not know *.localhost (needs root).",
        discussion: """
            devhost's lines live in one marked block (\(HostsFile.startMarker) … \(HostsFile.endMarker)); \
            nothing outside it is touched, and the file is replaced atomically.
            """,
        subcommands: [Sync.self, Clean.self]
    )

    struct Sync: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "sync",
            abstract: "Write (or rewrite) devhost's block with the running hosts: sudo devhost hosts sync",
            discussion: """
                Without HOST arguments: every host the edge proxy serves (all running projects and their dashboards), \
                the project running in the current folder (its routes and its dashboard) and the standalone routes \
                (`devhost route ls`). Each gets a 127.0.0.1 and a ::1 line.
                """
        )
        @Argument(help: "Hosts to list instead of the running ones (api.shop.localhost …).") var hosts: [String] = []
        @Option(help: "The hosts file to edit.") var file = HostsFile.defaultPath
        @Option(help: "The project: its manifest, or a folder to search upward from (default: the current folder).") var project: String?

        func run() async throws {
            let names = hosts.isEmpty ? try await HostsCommand.runningHosts(project: project) : hosts
            let outcome = try HostsCommand.update(file, command: "sync") { bytes throws(HostsFile.Problem) in
                try HostsFile.sync(bytes: bytes, hosts: names, file: file)
            }
            let listed = Set(names.map { $0.lowercased() }).sorted()
            // Explicit hosts are never empty, so an empty list means nothing runs.
            let what =
                listed.isEmpty
                ? "no hosts (no devhost project runs here and there are no standalone routes)" : listed.joined(separator: " ")
            Console.standardOutput.line(outcome == .written ? "\(file): devhost's block lists \(what)" : "\(file) already lists \(what)")
        }
    }

    struct Clean: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "clean", abstract: "Remove devhost's block and nothing else: sudo devhost hosts clean")
        @Option(help: "The hosts file to edit.") var file = HostsFile.defaultPath

        func run() throws {
            let outcome = try HostsCommand.update(file, command: "clean") { bytes throws(HostsFile.Problem) in
                try HostsFile.clean(bytes: bytes, file: file)
            }
            Console.standardOutput.line(outcome == .written ? "\(file): removed devhost's block" : "\(file) has no devhost block")
        }
    }

    static func update(_ file: String, command: String, change: ([UInt8]) throws(HostsFile.Problem) -> [UInt8]) throws -> HostsFile.Outcome
    {
        do {
            return try HostsFile.update(path: file, change: change)
        } catch {
            if case .notPermitted = error {
                let option = file == HostsFile.defaultPath ? "" : " --file \(file)"
                throw CommandFailure(message: "\(error); it needs root: run `sudo devhost hosts \(command)\(option)`")
            }
            throw CommandFailure(message: error.description)
        }
    }

    /// Every host the edge proxy serves (all running projects), the running project's hosts (if one
    /// runs here with a proxy of its own) and the standalone routes. Under sudo the routes file and
    /// the edge are the invoking user's, not root's.
    static func runningHosts(project: String?) async throws -> [String] {
        var hosts: [String] = []
        var environment = ProcessInfo.processInfo.environment
        var uid = getuid()
        if getuid() == 0, let user = environment["SUDO_USER"], let entry = getpwnam(user) {
            environment["HOME"] = String(cString: entry.pointee.pw_dir)
            environment["XDG_CONFIG_HOME"] = nil
            uid = entry.pointee.pw_uid
            let runtime = "/run/user/\(uid)"
            environment["XDG_RUNTIME_DIR"] = FileManager.default.fileExists(atPath: runtime) ? runtime : nil
        }
        if let port = try? EdgePaths.port(environment: environment),
            let status = try? await EdgeLink.status(
                ProxyCommand.linkOptions(EdgePaths(port: port, environment: environment, uid: uid), spawning: false))
        {
            hosts += status.projects.flatMap { project in project.services.flatMap(\.hosts) + [project.dashboard] }
            hosts += status.standalone.map(\.host) + ["devhost.localhost"]
        }
        do {
            hosts += try RouteFile(path: RouteFile.defaultPath(environment: environment)).routes().map(\.host)
        } catch {
            throw CommandFailure(message: error.description)
        }
        // No project here is fine (the routes alone); a project named with --project must exist.
        var seen = Set<String>()
        guard let state = project == nil ? try? ProjectOptions.state(file: nil) : try ProjectOptions.state(file: project) else {
            return hosts.filter { seen.insert($0).inserted }
        }
        let response: ControlClient.Response
        do {
            response = try ControlClient(state: state).get("/v1/status")
        } catch {
            if case .notRunning = error { return hosts.filter { seen.insert($0).inserted } }
            throw CommandFailure(message: "\(error)")
        }
        guard response.status == 200, let report = try? StatusReport.decode(response.body) else {
            throw CommandFailure(message: "unexpected answer from devhost (\(response.status)): \(response.message)")
        }
        return (hosts + HostsFile.hosts(in: report)).filter { seen.insert($0).inserted }
    }
}
