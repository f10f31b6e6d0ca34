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
