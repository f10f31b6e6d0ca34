/// Building and writing YAML trees (generated compose files, template records).
extension YAMLNode {
    static let generated = SourceLocation(file: "<generated>", line: 0, column: 0)

    public static func string(_ text: String) -> YAMLNode { YAMLNode(.scalar(text, quoted: true), at: generated) }
    public static func int(_ value: Int) -> YAMLNode { YAMLNode(.scalar(String(value), quoted: false), at: generated) }
    public static func bool(_ value: Bool) -> YAMLNode { YAMLNode(.scalar(value ? "true" : "false", quoted: false), at: generated) }
    public static func list(_ items: [YAMLNode]) -> YAMLNode { YAMLNode(.sequence(items), at: generated) }
    public static func strings(_ items: [String]) -> YAMLNode { list(items.map(string)) }

    public static func map(_ pairs: [(String, YAMLNode)]) -> YAMLNode {
        YAMLNode(.mapping(pairs.map { Entry(key: $0.0, keyLocation: generated, value: $0.1) }), at: generated)
    }

    /// Compose merge semantics: mappings merge recursively, lists append what they lack, scalars are replaced.
    public func composeMerged(with overlay: YAMLNode) -> YAMLNode {
        switch (kind, overlay.kind) {
        case (.mapping(var base), .mapping(let top)):
            for entry in top {
                if let index = base.firstIndex(where: { $0.key == entry.key }) {
                    base[index].value = base[index].value.composeMerged(with: entry.value)
                } else {
                    base.append(entry)
                }
            }
            return YAMLNode(.mapping(base), at: location)
        case (.sequence(let base), .sequence(let top)):
            return YAMLNode(.sequence(base + top.filter { item in !base.contains { $0.kind == item.kind } }), at: location)
        default:
            return overlay
        }
    }

    /// Block-style YAML with stable quoting: a string is plain only when no YAML reader could take it
    /// for anything else (a number, a boolean, null, a date, an anchor).
    public func emitted() -> String {
        var output = ""
        emit(into: &output, indent: 0, comments: [:], path: "")
        return output
    }

    /// Like `emitted()`, with comment lines written above the keys at the given dotted paths.
    public func emitted(comments: [String: [String]]) -> String {
        var output = ""
        emit(into: &output, indent: 0, comments: comments, path: "")
        return output
    }

    private func emit(into output: inout String, indent: Int, comments: [String: [String]], path: String) {
        let pad = String(repeating: "  ", count: indent)
        switch kind {
        case .mapping(let entries):
            for entry in entries {
                let childPath = path.isEmpty ? entry.key : path + "." + entry.key
                for comment in comments[childPath] ?? [] { output += pad + "# " + comment + "\n" }
                output += pad + YAMLNode.quoteIfNeeded(entry.key, quoted: false) + ":"
                entry.value.emitValue(into: &output, indent: indent, comments: comments, path: childPath)
            }
        case .sequence(let items):
            for item in items {
                output += pad + "-"
                item.emitValue(into: &output, indent: indent, comments: comments, path: path, inSequence: true)
            }
        case .scalar:
            output += pad + inlineScalar + "\n"
        }
    }

    private func emitValue(into output: inout String, indent: Int, comments: [String: [String]], path: String, inSequence: Bool = false) {
        switch kind {
        case .scalar:
            output += " " + inlineScalar + "\n"
        case .mapping(let entries) where entries.isEmpty:
            output += " {}\n"
        case .sequence(let items) where items.isEmpty:
            output += " []\n"
        case .mapping where inSequence:
            // `- key: value` keeps list items of mappings compact, as compose files are usually written.
            var nested = ""
            emit(into: &nested, indent: indent + 1, comments: comments, path: path)
            let trimmed = nested.dropFirst((indent + 1) * 2)
            output += " " + trimmed
        default:
            output += "\n"
            emit(into: &output, indent: indent + 1, comments: comments, path: path)
        }
    }

    private var inlineScalar: String {
        guard case .scalar(let text, let quoted) = kind else { return "" }
        return YAMLNode.quoteIfNeeded(text, quoted: quoted)
    }

    static func quoteIfNeeded(_ text: String, quoted: Bool) -> String {
        if !quoted, isPlainSafe(text, allowTyped: true) { return text }
        if quoted, isPlainSafe(text, allowTyped: false) { return text }
        var escaped = ""
        JSONValue.escape(text, into: &escaped)
        return escaped
    }

    private static let reserved: Set<String> = [
        "true", "false", "yes", "no", "on", "off", "y", "n", "null", "~", "",
    ]

    /// Plain scalars: letters, digits and a few safe marks, not reading as another type.
    private static func isPlainSafe(_ text: String, allowTyped: Bool) -> Bool {
        guard let first = text.first else { return false }
        let safe = text.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "_./-@+".contains($0)) }
        // A leading `-` is only an indicator when a space follows; `-c` is a plain string.
        let leadingDash = first == "-" && text.count > 1
        guard safe, first.isLetter || first.isNumber || first == "_" || first == "/" || first == "." || leadingDash else { return false }
        if allowTyped { return true }
        if reserved.contains(text.lowercased()) { return false }
        let second = text.dropFirst().first
        if first.isNumber || ((first == "." || first == "-") && (second?.isNumber == true || second == ".")) { return false }
        return true
    }
}
