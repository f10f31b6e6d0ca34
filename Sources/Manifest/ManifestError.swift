import Yams

/// One problem in a manifest, with the key path and position a user needs to fix it.
public struct ManifestIssue: Sendable, Hashable, CustomStringConvertible {
    public enum Severity: String, Sendable, Hashable { case error, warning }

    public var path: String
    public var message: String
    public var location: SourceLocation?
    public var severity: Severity

    public init(path: String, message: String, at location: SourceLocation?, severity: Severity = .error) {
        self.path = path
        self.message = message
        self.location = location
        self.severity = severity
    }

    /// `services.api.health.interval: "1x" is not a duration (devhost.yml:14:17)`
    public var description: String {
        var text = path.isEmpty ? message : "\(path): \(message)"
        if let location { text += " (\(location))" }
        return text
    }

    init(yamlError error: YamlError, file: String) {
        switch error {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _),
            .composer(_, let problem, let mark, _):
            self.init(path: "", message: "invalid YAML: \(problem)", at: SourceLocation(file: file, line: mark.line, column: mark.column))
        case .duplicatedKeysInMapping(let duplicates, let context):
            self.init(
                path: "", message: "duplicate key \(duplicates.map { "\"\($0)\"" }.joined(separator: ", "))",
                at: SourceLocation(file: file, line: context.mark.line, column: context.mark.column))
        case .reader(let problem, _, _, _):
            self.init(path: "", message: "cannot read YAML: \(problem)", at: SourceLocation(file: file, line: 1, column: 1))
        default:
            self.init(path: "", message: "invalid YAML: \(error)", at: SourceLocation(file: file, line: 1, column: 1))
        }
    }
}

/// Every problem found in a manifest: validation reports them all at once, not only the first.
public struct ManifestError: Error, Sendable, CustomStringConvertible {
    public var issues: [ManifestIssue]

    public init(_ issues: [ManifestIssue]) {
        self.issues = issues
    }

    public var description: String {
        issues.map(\.description).joined(separator: "\n")
    }
}
