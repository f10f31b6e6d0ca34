import Foundation

/// Turns a LocalPort config (`localport.yaml`, version "1.0") into devhost services: each forward becomes
/// a `forward:` service on the same local port, with its health check and restart budget; whatever has no
/// devhost counterpart is listed in `notes`, one line per field, so nothing is dropped silently.
public enum LocalPortImport {
    public struct Converted: Sendable, Equatable {
        /// Service names and their YAML, indented to sit under `services:`.
        public var services: [(name: String, yaml: String)]
        public var notes: [String]

        public static func == (lhs: Converted, rhs: Converted) -> Bool {
            lhs.notes == rhs.notes && lhs.services.map(\.name) == rhs.services.map(\.name)
                && lhs.services.map(\.yaml) == rhs.services.map(\.yaml)
        }

        /// A whole devhost.yml holding only these services.
        public var manifest: String { "services:\n" + services.map(\.yaml).joined(separator: "\n") }
    }

    /// LocalPort replaces `${VAR}` and `${VAR:default}` in the raw text before parsing; the import does
    /// the same with `environment`, so the services carry the values LocalPort would have used.
    public static func convert(_ text: String, file: String, environment: [String: String]) throws(ManifestError) -> Converted {
        var notes: [String] = []
        let substituted = substitute(text, environment: environment, notes: &notes)
        guard let root = try YAMLNode.parse(substituted, file: file), let entries = root.entries else {
            throw ManifestError([ManifestIssue(path: "", message: "is not a LocalPort config (expected a mapping with services:)", at: nil)]
            )
        }
        var converter = LocalPortServiceConverter(file: file)
        let defaults = root["defaults"]
        for entry in entries {
            switch entry.key {
            case "version", "services": break
            case "defaults":
                notes.append(
                    "defaults: applied to services without their own health_check / restart_policy (LocalPort validates but never applies them)"
                )
            case "cluster_contexts":
                notes.append(
                    "cluster_contexts: not carried over: devhost shows a forward whose cluster or ssh host is unreachable as `waiting for remote` without spending restarts"
                )
            default: notes.append("\(entry.key): unknown LocalPort key, not carried over")
            }
        }
        guard let list = root["services"]?.items else {
            throw ManifestError([ManifestIssue(path: "services", message: "is missing or not a list", at: root.location)])
        }
        var services: [(String, String)] = []
        var names = Set<String>()
        for item in list {
            guard let service = converter.convert(item, defaults: defaults) else { continue }
            if names.insert(service.name).inserted {
                services.append((service.name, service.yaml))
            } else {
                converter.issues.append(
                    ManifestIssue(path: "services.\(service.name)", message: "a second service of this name", at: item.location))
            }
        }
        if !converter.issues.isEmpty { throw ManifestError(converter.issues) }
        return Converted(services: services, notes: notes + converter.notes)
    }

    static func substitute(_ text: String, environment: [String: String], notes: inout [String]) -> String {
        let pattern = try! NSRegularExpression(pattern: #"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::([^}]*))?\}"#)
        var output = ""
        var last = text.startIndex
        var seen = Set<String>()
        for match in pattern.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
            let range = Range(match.range, in: text)!
            let name = String(text[Range(match.range(at: 1), in: text)!])
            let fallback = Range(match.range(at: 2), in: text).map { String(text[$0]) }
            output += text[last..<range.lowerBound]
            last = range.upperBound
            if let value = environment[name] ?? fallback {
                output += value
                if seen.insert(name).inserted { notes.append("${\(name)}: replaced by its value now, as LocalPort does when it loads") }
            } else {
                output += text[range]
                if seen.insert(name).inserted { notes.append("${\(name)}: unset, left as written (LocalPort does the same and warns)") }
            }
        }
        return output + text[last...]
    }
}
