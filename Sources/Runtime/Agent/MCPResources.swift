import DevhostManifest
import Foundation

/// The resources `devhost mcp` offers: the manifest (`devhost://manifest`) and each service's log
/// (`devhost://logs/SERVICE`, its last lines). Both can be subscribed to.
public struct MCPResources: Sendable {
    public struct Resource: Sendable {
        var uri: String
        var name: String
        var description: String
        var mimeType: String

        var listing: JSONValue {
            .object([
                ("uri", .string(uri)), ("name", .string(name)), ("description", .string(description)), ("mimeType", .string(mimeType)),
            ])
        }
    }

    static let manifestURI = "devhost://manifest"
    static let logPrefix = "devhost://logs/"
    /// What a log resource holds: enough to see a crash, small enough for a context window.
    static let logLines = 200

    let project: AgentProject

    public init(project: AgentProject) {
        self.project = project
    }

    func list() -> [Resource] {
        var resources: [Resource] = []
        if let path = try? project.manifestPath() {
            resources.append(
                Resource(
                    uri: Self.manifestURI, name: (path as NSString).lastPathComponent, description: "The project's manifest (\(path)).",
                    mimeType: "application/yaml"))
        }
        for service in logServices() {
            resources.append(
                Resource(
                    uri: Self.logPrefix + service, name: "\(service) log",
                    description: service == LogLine.devhost
                        ? "devhost's own lines: reloads, restarts, health changes (last \(Self.logLines))."
                        : "The last \(Self.logLines) lines \(service) printed, with devhost's lines about it.", mimeType: "text/plain"))
        }
        return resources
    }

    var templates: [JSONValue] {
        [
            .object([
                ("uriTemplate", .string(Self.logPrefix + "{service}")), ("name", .string("service log")),
                ("description", .string("The last \(Self.logLines) lines of a service's log.")), ("mimeType", .string("text/plain")),
            ])
        ]
    }

    /// The manifest's services (else those with a log), and `devhost`.
    func logServices() -> [String] {
        let declared = (try? project.manifest().services.map(\.name)) ?? []
        let logged = (try? project.state()).map { LogHistory(directory: $0.logs).services() } ?? []
        var names = declared
        for name in logged + [LogLine.devhost] where !names.contains(name) { names.append(name) }
        return names
    }

    func read(_ uri: String) throws(MCPError) -> JSONValue {
        if uri == Self.manifestURI {
            guard let path = try? project.manifestPath(), let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw MCPError(code: -32002, message: "resource not found: \(uri) (no devhost.yml here)")
            }
            return .object([("uri", .string(uri)), ("mimeType", .string("application/yaml")), ("text", .string(text))])
        }
        guard uri.hasPrefix(Self.logPrefix) else { throw MCPError(code: -32002, message: "resource not found: \(uri)") }
        let service = String(uri.dropFirst(Self.logPrefix.count)).removingPercentEncoding ?? ""
        // A name becomes a path under .devhost/logs: only names devhost knows.
        guard logServices().contains(service), let state = try? project.state() else {
            throw MCPError(code: -32002, message: "resource not found: \(uri) (no service named \(service))")
        }
        let lines = LogHistory(directory: state.logs).lines(services: [service], limit: Self.logLines)
        let text = lines.map { "\($0.time) \($0.label) | \($0.text)" }.joined(separator: "\n")
        return .object([("uri", .string(uri)), ("mimeType", .string("text/plain")), ("text", .string(text))])
    }

    /// Changes whenever the resource's content may have: the file's size and modification time.
    func fingerprint(_ uri: String) -> String {
        let path: String?
        if uri == Self.manifestURI {
            path = try? project.manifestPath()
        } else {
            let service = String(uri.dropFirst(Self.logPrefix.count))
            path = ServiceName.problem(service) == nil ? (try? project.state()).map { "\($0.logs)/\(service).log" } : nil
        }
        var info = stat()
        guard let path, stat(path, &info) == 0 else { return "absent" }
        return "\(info.st_size):\(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec)"
    }
}
