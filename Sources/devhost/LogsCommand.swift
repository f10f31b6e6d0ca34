import ArgumentParser
import DevhostManifest
import DevhostRuntime
import Foundation

struct LogsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logs",
        abstract: "Print services' logs: from the running devhost, or from .devhost/logs when it is not running.",
        discussion: "`devhost` as a service name shows devhost's own lines (reloads, restarts, health changes)."
    )

    // -f means follow here, as in `docker compose logs -f` and `tail -f`, so the manifest is --file only.
    @Option(name: .customLong("file"), help: "The manifest, or a folder to search upward from (default: the current folder).")
    var file: String?

    @Argument(help: "Services (default: all).")
    var services: [String] = []

    @Flag(name: .shortAndLong, help: "Keep printing new lines as they come (needs a running devhost).")
    var follow = false

    @Option(name: .short, help: "Lines to print first (default: 100; all with --since).")
    var n: Int?

    @Option(help: "Only lines newer than this (e.g. 30s, 5m, 2h).")
    var since: String?

    @Flag(name: .shortAndLong, help: "Show each line's date and time.")
    var timestamps = false

    func run() throws {
        let state = try ProjectOptions(file: file).state()
        var cutoff: Date?
        if let since {
            guard let duration = DurationText.parse(since) else {
                throw CommandFailure(message: "--since \(since) is not a duration (e.g. 30s, 5m, 2h)")
            }
            cutoff = Date().addingTimeInterval(-Double(DurationText.millisecondsExact(duration)) / 1000)
        }
        let limit = n ?? (since == nil ? 100 : nil)
        let history = LogHistory(directory: state.logs)
        let known = history.services()
        if let unknown = services.first(where: { !known.contains($0) }), !follow {
            throw CommandFailure(message: "no logs for \(unknown) (services with logs: \(known.joined(separator: ", ")))")
        }
        if follow {
            // Services that have not written a line yet are valid too: ask the running devhost.
            if let response = try? ControlClient(state: state).get("/v1/status"), let report = try? StatusReport.decode(response.body) {
                let names = Set(report.services.map(\.name) + ["devhost"])
                if let unknown = services.first(where: { !names.contains($0) }) {
                    throw CommandFailure(
                        message: "no service named \(unknown) (services: \(report.services.map(\.name).joined(separator: ", ")))")
                }
            }
            do {
                return try Self.follow(
                    client: ControlClient(state: state), services: services, lines: limit, since: cutoff, timestamps: timestamps)
            } catch let failure as ControlClient.Failure {
                throw CommandFailure(message: "\(failure)")
            }
        }
        let lines = history.lines(services: services, limit: limit, since: cutoff)
        let printer = Self.printer(timestamps: timestamps, labels: lines.map(\.label))
        for line in lines { printer.replay(line) }
    }

    /// History then live lines from the running devhost, until it stops.
    static func follow(client: ControlClient, services: [String], lines: Int?, since: Date?, timestamps: Bool) throws {
        var query = services.map { "service=\($0)" } + ["follow=1"]
        if let lines { query.append("n=\(lines)") }
        if let since { query.append("since=\(since.timeIntervalSince1970)") }
        let printer = Self.printer(timestamps: timestamps, labels: [])
        let decoder = JSONDecoder()
        let status = try client.lines("/v1/logs?" + query.joined(separator: "&")) { raw in
            if let line = try? decoder.decode(LogLine.self, from: Data(raw.utf8)) { printer.replay(line) }
            return true
        }
        if status != 200 { throw CommandFailure(message: "devhost answered \(status)") }
    }

    /// Prints as `devhost up` does: an aligned, coloured label, then the text.
    static func printer(timestamps: Bool, labels: [String]) -> LogOutput {
        LogOutput(options: .init(colored: Console.standardOutput.colored, timestamps: timestamps), labels: labels)
    }
}
