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
    /// Parses one YAML document; syntax errors come back as a located `ManifestIssue`, and so does an
    /// alias that would expand the document past `YAMLComposer.maxNodes`.
    public static func parse(_ text: String, file: String) throws(ManifestError) -> YAMLNode? {
        var composer = YAMLComposer(file: file)
        return try composer.compose(text)
    }
}
