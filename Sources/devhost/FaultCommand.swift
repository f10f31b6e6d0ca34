import ArgumentParser
import DevhostRuntime
import Foundation

/// `devhost fault`: inject latency, errors, resets and slow bodies into a service's requests through
/// the proxy, list the faults in force and clear them. Each is a request to the running devhost,
/// which checks the options (one set of rules for the CLI, the API and the dashboard).
struct FaultCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fault",
        abstract: "Inject latency, errors, resets or a bandwidth limit into a service's requests (`devhost fault api --latency 300ms`).",
        discussion: """
            Faults apply in the proxy to the service's routes (all paths, or those under --path) and end by \
            themselves (--for, default 10m). Every response a fault touched carries X-Devhost-Fault: ID. A service \
            named clear or list is reached as `devhost fault add NAME …`.
            """,
        subcommands: [FaultAddCommand.self, FaultClearCommand.self, FaultListCommand.self],
        defaultSubcommand: FaultAddCommand.self)
}

struct FaultAddCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "add", abstract: "Inject a fault into a service's requests.")

    @OptionGroup var project: ProjectOptions
    @Argument(help: "The service whose requests get the fault.") var service: String
    @Option(help: "Delay before each request is forwarded (300ms, 1.5s).") var latency: String?
    @Option(help: "Each delay varies by up to this, either way.") var jitter: String?
    @Option(help: "Answer this status (400-599) instead of forwarding.") var error: String?
    @Flag(help: "Reset the client's connection (TCP RST) instead of forwarding.") var reset = false
    @Option(help: "The share of requests --error or --reset applies to (0-1, default 1).") var rate: String?
    @Option(help: "With both --error and --reset: the share for --error.") var errorRate: String?
    @Option(help: "With both --error and --reset: the share for --reset.") var resetRate: String?
    @Option(help: "Pace response bodies to this rate (64KiB/s, 1MB/s).") var bandwidth: String?
    @Option(name: .customLong("for"), help: "How long the fault lasts (default 10m).") var duration: String?
    @Option(help: "Only requests whose path is under this prefix (/checkout).") var path: String?

    func run() throws {
        var values: [(String, String)] = [("service", service)]
        let options: [(String, String?)] = [
            ("latency", latency), ("jitter", jitter), ("error", error), ("rate", rate), ("error_rate", errorRate),
            ("reset_rate", resetRate), ("bandwidth", bandwidth), ("for", duration), ("path", path),
        ]
        for case (let key, let value?) in options { values.append((key, value)) }
        if reset { values.append(("reset", "1")) }
        let query = values.map { "\($0.0)=\(Self.encoded($0.1))" }.joined(separator: "&")
        let response = try FaultListCommand.send(project, "POST", "/v1/faults?" + query)
        guard response.status == 201 else { throw CommandFailure(message: response.message) }
        let fault = try FaultListCommand.decoder.decode(FaultStatus.self, from: response.body)
        Console.standardOutput.line("fault \(fault.line)")
        Console.standardOutput.line(
            "responses it touches carry X-Devhost-Fault: \(fault.id); `devhost fault clear \(fault.service)` ends it")
    }

    static func encoded(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~/"))) ?? text
    }
}

struct FaultClearCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "clear", abstract: "End faults: a service's, one by id, or all.")

    @OptionGroup var project: ProjectOptions
    @Argument(help: "The service whose faults end (all when omitted).") var service: String?
    @Option(help: "End only the fault with this id.") var id: String?

    func run() throws {
        var query: [String] = []
        if let service { query.append("service=" + FaultAddCommand.encoded(service)) }
        if let id { query.append("id=" + FaultAddCommand.encoded(id)) }
        let response = try FaultListCommand.send(
            project, "DELETE", "/v1/faults" + (query.isEmpty ? "" : "?" + query.joined(separator: "&")))
        guard response.status == 200 else { throw CommandFailure(message: response.message) }
        let cleared = try FaultListCommand.decoder.decode(FaultListCommand.List.self, from: response.body).faults
        Console.standardOutput.line(cleared.isEmpty ? "no fault to clear" : "cleared " + cleared.map(\.id).joined(separator: ", "))
    }
}

struct FaultListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the faults in force.")

    @OptionGroup var project: ProjectOptions
    @Flag(help: "Print the list as JSON.") var json = false

    struct List: Decodable {
        var faults: [FaultStatus]
    }

    static var decoder: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return decoder
    }

    func run() throws {
        let response = try Self.send(project, "GET", "/v1/faults")
        guard response.status == 200 else { throw CommandFailure(message: response.message) }
        if json { return print(response.text, terminator: "") }
        let faults = try Self.decoder.decode(List.self, from: response.body).faults
        if faults.isEmpty { return Console.standardOutput.line("no faults") }
        for fault in faults { Console.standardOutput.line(fault.line) }
    }

    static func send(_ project: ProjectOptions, _ method: String, _ target: String) throws -> ControlClient.Response {
        do {
            return try ControlClient(state: try project.state()).request(method, target)
        } catch let failure as ControlClient.Failure {
            if case .notRunning = failure { throw CommandFailure(message: "devhost is not running here (`devhost up -d` starts it)") }
            throw CommandFailure(message: "\(failure)")
        }
    }
}
