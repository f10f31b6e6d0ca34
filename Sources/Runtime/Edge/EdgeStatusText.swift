import DevhostManifest
import Foundation

/// `devhost proxy status` as text: the edge, then one block a project, then the standalone routes.
public enum EdgeStatusText {
    public static func render(_ status: EdgeStatus) -> String {
        var text =
            "edge proxy: http://127.0.0.1:\(status.port) · pid \(status.pid) · devhost \(status.version) (protocol \(status.protocol))"
        text += " · up \(DurationText.format(.seconds(status.uptimeSeconds)))"
        if let exits = status.exitsInSeconds { text += " · exits in \(DurationText.format(.seconds(exits))) unless a project registers" }
        text += "\n"
        if status.projects.isEmpty { text += "no project registered\n" }
        for project in status.projects {
            text += "\n\(project.key)  \(project.folder)  (pid \(project.pid))"
            if let prefix = project.prefix { text += "  worktree: hosts prefixed with \(prefix)." }
            text += "\n  dashboard  http://\(project.dashboard):\(status.port)/\n"
            let width = max(8, project.services.map(\.name.count).max() ?? 0)
            for service in project.services {
                let name = service.name.padding(toLength: width, withPad: " ", startingAt: 0)
                let hosts = service.hosts.map { "http://\($0):\(status.port)" }.joined(separator: " ")
                text += "  \(name)  \(service.healthy) healthy  \(service.state)\(hosts.isEmpty ? "" : "  " + hosts)\n"
            }
        }
        if !status.standalone.isEmpty {
            text += "\nstandalone routes\n"
            for route in status.standalone { text += "  http://\(route.host):\(status.port) → \(route.target)\n" }
        }
        return text
    }
}
