import Yams

/// A YAML tree that remembers where every node came from.
///
/// Overlays merge nodes from several files, so a node carries its own file name rather than
/// relying on one document-wide source.
public struct YAMLNode: Sendable, Hashable {
    public enum Kind: Sendable, Hashable {
        /// `quoted` tells `8000` from `"8000"`: only plain scalars may be numbers, booleans or null.
        case scalar(String, quoted: Bool)
        case mapping([Entry])
        case sequence([YAMLNode])
    }

    public struct Entry: Sendable, Hashable {
        public var key: String
        public var keyLocation: SourceLocation
        public var value: YAMLNode
    }

    public var kind: Kind
    public var location: SourceLocation

    public init(_ kind: Kind, at location: SourceLocation) {
        self.kind = kind
        self.location = location
    }

    /// A plain `~`, `null` or empty scalar.
    public var isNull: Bool {
        if case .scalar(let text, quoted: false) = kind {
            return text.isEmpty || text == "~" || text == "null" || text == "Null" || text == "NULL"
        }
        return false
    }

    public var scalar: String? {
        if case .scalar(let text, _) = kind { return text }
        return nil
    }

    public var entries: [Entry]? {
        if case .mapping(let entries) = kind { return entries }
        return nil
    }

    public var items: [YAMLNode]? {
        if case .sequence(let items) = kind { return items }
        return nil
    }

    public subscript(key: String) -> YAMLNode? {
        entries?.first(where: { $0.key == key })?.value
    }

    /// What a user would call this node's type in an error message.
    public var typeName: String {
        switch kind {
        case .scalar: return isNull ? "null" : "a scalar"
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        }
    }

    /// Overlay semantics: mappings merge key by key, anything else is replaced by the overlay.
    public func merged(with overlay: YAMLNode) -> YAMLNode {
        guard case .mapping(var base) = kind, case .mapping(let top) = overlay.kind else { return overlay }
        for entry in top {
            if let index = base.firstIndex(where: { $0.key == entry.key }) {
                base[index].value = base[index].value.merged(with: entry.value)
            } else {
                base.append(entry)
            }
        }
        return YAMLNode(.mapping(base), at: location)
    }
}

extension YAMLNode {
    /// Parses one YAML document; syntax errors come back as a located `ManifestIssue`.
    public static func parse(_ text: String, file: String) throws(ManifestError) -> YAMLNode? {
        let root: Node?
        do {
            // The basic resolver skips Yams' regex-based tag resolution (slow to compile at start-up):
            // devhost types scalars itself, and keeps `quoted` to tell "8000" from 8000.
            root = try Yams.compose(yaml: text, .basic)
        } catch let error as YamlError {
            throw ManifestError([ManifestIssue(yamlError: error, file: file)])
        } catch {
            throw ManifestError([ManifestIssue(path: "", message: "\(error)", at: SourceLocation(file: file, line: 1, column: 1))])
        }
        guard let root else { return nil }
        return try convert(root, file: file)
    }

    private static func convert(_ node: Node, file: String) throws(ManifestError) -> YAMLNode {
        let location = SourceLocation(file: file, line: node.mark?.line ?? 1, column: node.mark?.column ?? 1)
        switch node {
        case .scalar(let scalar):
            return YAMLNode(.scalar(scalar.string, quoted: scalar.style != .plain && scalar.style != .any), at: location)
        case .sequence(let sequence):
            var items: [YAMLNode] = []
            for item in sequence { items.append(try convert(item, file: file)) }
            return YAMLNode(.sequence(items), at: location)
        case .mapping(let mapping):
            var entries: [Entry] = []
            var issues: [ManifestIssue] = []
            for (key, value) in mapping {
                let keyLocation = SourceLocation(file: file, line: key.mark?.line ?? 1, column: key.mark?.column ?? 1)
                guard let keyText = key.scalar?.string else {
                    issues.append(ManifestIssue(path: "", message: "mapping keys must be plain strings", at: keyLocation))
                    continue
                }
                if entries.contains(where: { $0.key == keyText }) {
                    issues.append(ManifestIssue(path: keyText, message: "duplicate key \"\(keyText)\"", at: keyLocation))
                    continue
                }
                entries.append(Entry(key: keyText, keyLocation: keyLocation, value: try convert(value, file: file)))
            }
            if !issues.isEmpty { throw ManifestError(issues) }
            return YAMLNode(.mapping(entries), at: location)
        case .alias:
            // Yams resolves aliases while composing; an unresolved one is a document error.
            throw ManifestError([ManifestIssue(path: "", message: "unresolved YAML alias", at: location)])
        }
    }
}
