import ArgumentParser
import DevhostManifest
import DevhostRuntime
import Foundation

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show the running devhost's services: instances, pids, ports, health, routes, restarts, uptime.",
        discussion: "Exit status: 0 when every instance is fine, 3 when one is not (or devhost is not running), 1 on errors."
    )

    @OptionGroup var project: ProjectOptions

    @Flag(help: "Print the status as JSON.")
    var json = false

    func run() throws {
        let client = ControlClient(state: try project.state())
        let response: ControlClient.Response
        do {
            response = try client.get("/v1/status")
        } catch {
            if case .notRunning = error {
                if json {
                    print("{\"running\":false}")
                } else {
                    Console.standardError.line("devhost is not running here (`devhost up -d` starts it)")
                }
                throw ExitCode(3)
            }
            throw CommandFailure(message: "\(error)")
        }
        guard response.status == 200, let report = try? StatusReport.decode(response.body) else {
            throw CommandFailure(message: "unexpected answer from devhost (\(response.status)): \(response.message)")
        }
        if json {
            print(response.text, terminator: "")
        } else {
            Console.standardOutput.write(StatusTable.render(report, console: .standardOutput))
        }
        if !report.ok { throw ExitCode(3) }
    }
}

/// The status table `devhost status` and `devhost up -d` print.
enum StatusTable {
    static func render(_ report: StatusReport, console: Console) -> String {
        var rows: [[String]] = [["SERVICE", "INSTANCE", "PID", "PORT", "HEALTH", "STATE", "ROUTE", "RESTARTS", "UPTIME"]]
        var styles: [Console.Style?] = [.bold]
        for service in report.services {
            // One route a row, beside the instances: a service with more routes than instances
            // (microservices' `www.`) gets rows of its own for the rest, so every route shows.
            let rowCount = max(service.instances.count, service.routes.count, 1)
            for row in 0..<rowCount {
                let route = row < service.routes.count ? service.routes[row] : (row == 0 ? "-" : "")
                let name = row == 0 ? service.name : ""
                if row < service.instances.count {
                    let instance = service.instances[row]
                    rows.append([
                        name, instance.label, instance.pid.map(String.init) ?? "-", instance.port.map(String.init) ?? "-",
                        instance.health, instance.state, route, String(instance.restarts), instance.uptimeSeconds.map(uptime) ?? "-",
                    ])
                    styles.append(instance.ok ? nil : .red)
                } else if row == 0 {
                    rows.append([name, "-", "-", "-", "-", "not started", route, "-", "-"])
                    styles.append(.dim)
                } else {
                    rows.append(["", "", "", "", "", "", route, "", ""])
                    styles.append(nil)
                }
            }
        }
        let widths = (0..<rows[0].count).map { column in rows.map { $0[column].count }.max() ?? 0 }
        var text = ""
        for (row, style) in zip(rows, styles) {
            let line = row.enumerated().map { index, cell in
                index == row.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
            text += (style.map { console.paint(line, $0) } ?? line) + "\n"
        }
        // A forward's far end, what its passing check found and its last error, under the table (in it
        // they would stretch its columns).
        for service in report.services {
            guard let remote = service.remote else { continue }
            let detail = service.instances.compactMap(\.healthDetail).first.map { " · \($0)" } ?? ""
            let error = service.instances.compactMap(\.lastError).first.map { " · last error: \($0)" } ?? ""
            text += console.paint("\(service.name) → \(remote)\(detail)\(error)", .dim) + "\n"
        }
        for fault in report.faults ?? [] { text += console.paint("fault " + fault.line, .yellow) + "\n" }
        let bad = report.services.flatMap(\.instances).filter { !$0.ok }.count
        if let proxy = report.proxy {
            let endpoints = PublicEndpoints(httpPort: proxy.port, httpsPort: proxy.httpsPort)
            text += "dashboard: \(endpoints.url(host: "devhost.\(proxy.domain)"))/  ·  "
        }
        let total = report.services.flatMap(\.instances).count
        switch (bad, total) {
        case (0, 0): text += "no instances running\n"
        case (0, 1): text += "1 instance, fine\n"
        case (0, _): text += "all \(total) instances fine\n"
        default: text += "\(bad) of \(counted(total, "instance")) not fine\n"
        }
        return text
    }

    /// `45s`, `3m12s`, `2h05m`, `3d4h`.
    static func uptime(_ seconds: Double) -> String {
        let total = Int(seconds)
        if total < 60 { return "\(total)s" }
        if total < 3600 { return "\(total / 60)m\(String(format: "%02d", total % 60))s" }
        if total < 86400 { return "\(total / 3600)h\(String(format: "%02d", total % 3600 / 60))m" }
        return "\(total / 86400)d\(total % 86400 / 3600)h"
    }
}
