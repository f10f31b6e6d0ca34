import DevhostManifest
import DevhostProxy
import Foundation

/// Standalone routes (`devhost route add api 8000`) kept in a user-level YAML file:
///
/// ```yaml
/// routes:
///   api: 8000                       # → 127.0.0.1:8000
///   web: 127.0.0.1:3000
///   nas: http://192.168.1.10:8080
/// ```
/// The file is never rewritten when it cannot be read: a malformed file is refused with its position.
public struct RouteFile: Sendable {
    public struct Entry: Sendable, Equatable {
        public var name: String
        public var host: String
        public var port: Int
    }

    public enum Problem: Error, CustomStringConvertible, Equatable {
        case malformed(String)
        case invalidName(String, String)
        case invalidTarget(String, String)
        case exists(String, String)
        case missing(String)
        case io(String)

        public var description: String {
            switch self {
            case .malformed(let text): return text
            case .invalidName(let name, let rule): return "\"\(name)\" cannot be a route name: it \(rule)"
            case .invalidTarget(let target, let rule): return "\"\(target)\" is not a route target: \(rule)"
            case .exists(let name, let target): return "route \(name) already exists (→ \(target)); use --force to replace it"
            case .missing(let name): return "there is no route named \(name)"
            case .io(let text): return text
            }
        }
    }

    public let path: String

    public init(path: String) {
        self.path = path
    }

    /// `$DEVHOST_ROUTES`, else `$XDG_CONFIG_HOME/devhost/routes.yml`, else `~/.config/devhost/routes.yml`.
    public static func defaultPath(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let explicit = environment["DEVHOST_ROUTES"], !explicit.isEmpty { return explicit }
        let config =
            environment["XDG_CONFIG_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? ((environment["HOME"] ?? NSHomeDirectory()) + "/.config")
        return config + "/devhost/routes.yml"
    }

    /// Parses `8000`, `host:port` or `http://host:port`.
    public static func parseTarget(_ text: String) throws(Problem) -> (host: String, port: Int) {
        var rest = Substring(text.trimmingCharacters(in: .whitespaces))
        if rest.hasPrefix("https://") {
            throw .invalidTarget(text, "https upstreams are not supported; the proxy speaks plain HTTP to its upstreams")
        }
        if rest.hasPrefix("http://") { rest = rest.dropFirst(7) }
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        if let port = Int(rest) {
            guard (1...65535).contains(port) else { throw .invalidTarget(text, "port \(port) is out of range") }
            return ("127.0.0.1", port)
        }
        guard let colon = rest.lastIndex(of: ":"), let port = Int(rest[rest.index(after: colon)...]), (1...65535).contains(port) else {
            throw .invalidTarget(text, "write a port (8000), host:port (127.0.0.1:8000) or http://host:port")
        }
        var host = String(rest[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty, !host.contains("/") else { throw .invalidTarget(text, "the host part is empty or has a path") }
        return (host, port)
    }

    public func load() throws(Problem) -> [Entry] {
        guard let data = FileManager.default.contents(atPath: path) else { return [] }
        let text = String(decoding: data, as: UTF8.self)
        let root: YAMLNode?
        do {
            root = try YAMLNode.parse(text, file: path)
        } catch {
            throw .malformed("\(path) is not valid YAML; it was left as it is:\n" + error.issues.map(\.description).joined(separator: "\n"))
        }
        guard let root, !root.isNull, root.entries?.isEmpty != true else { return [] }
        guard let routes = root["routes"], let entries = routes.isNull ? [] : routes.entries else {
            throw .malformed("\(path): expected a `routes:` mapping of name: target (\(root.location))")
        }
        var result: [Entry] = []
        for entry in entries {
            guard let target = entry.value.scalar else {
                throw .malformed("\(path): routes.\(entry.key) must be a port, host:port or URL (\(entry.value.location))")
            }
            do {
                let (host, port) = try Self.parseTarget(target)
                result.append(Entry(name: entry.key, host: host, port: port))
            } catch {
                throw .malformed("\(path): routes.\(entry.key): \(error) (\(entry.value.location))")
            }
        }
        return result
    }

    public func add(name: String, target: String, force: Bool) throws(Problem) -> Entry {
        if let rule = DNSLabel.problem(name) { throw .invalidName(name, rule) }
        let (host, port) = try Self.parseTarget(target)
        var entries = try load()
        let entry = Entry(name: name.lowercased(), host: host, port: port)
        if let index = entries.firstIndex(where: { $0.name == entry.name }) {
            guard force else { throw .exists(name, "\(entries[index].host):\(entries[index].port)") }
            entries[index] = entry
        } else {
            entries.append(entry)
        }
        try save(entries)
        return entry
    }

    public func remove(name: String) throws(Problem) {
        var entries = try load()
        guard let index = entries.firstIndex(where: { $0.name == name.lowercased() }) else { throw .missing(name) }
        entries.remove(at: index)
        try save(entries)
    }

    /// Written to a temporary file and renamed over the old one: a crash never leaves half a file.
    private func save(_ entries: [Entry]) throws(Problem) {
        let document = YAMLNode.map([("routes", .map(entries.map { ($0.name, YAMLNode.string("\($0.host):\($0.port)")) }))])
        let text = "# devhost standalone routes: NAME: port | host:port | http://host:port\n" + document.emitted()
        let folder = (path as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            try AtomicFile.write(text, to: path)
        } catch {
            throw .io("cannot write \(path): \(error.localizedDescription)")
        }
    }

    /// The file's modification time, to notice edits without a restart.
    public var modified: Date? {
        (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date
    }

    public func routes(domain: String = "localhost") throws(Problem) -> [ProxyRoutes.Route] {
        try load().map { .init(host: "\($0.name).\(domain)", target: .address(host: $0.host, port: $0.port)) }
    }
}
