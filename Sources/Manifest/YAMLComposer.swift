// libyaml as Yams builds it. Yams' own `compose` returns a finished tree, with no hook to count
// aliases before they are expanded, so the composer reads libyaml's events itself.
internal import CYaml

/// Builds a `YAMLNode` tree from libyaml's events, counting every alias at the size of what it stands for.
///
/// An alias costs nothing to build (the anchored value is shared), but everything that walks the tree
/// afterwards pays for each expansion: nine levels of nine aliases are 387 million nodes from a few
/// hundred bytes. Each anchored node's expanded size and height are known when its anchor is defined,
/// so the alias that would take the document past a budget is refused where it is written.
struct YAMLComposer {
    /// Nodes in a document with its aliases expanded: a large manifest has a few thousand.
    static let maxNodes = 1_000_000
    /// Nesting with aliases expanded, as deep as libyaml lets a document be written.
    static let maxDepth = 1_000

    let file: String

    /// A finished node with what it costs once its aliases are expanded.
    private struct Built {
        var node: YAMLNode
        var size: Int
        var height: Int
    }

    /// A sequence or mapping whose end has not been read yet.
    private struct Frame {
        var location: SourceLocation
        var anchor: String?
        var isMapping: Bool
        var items: [YAMLNode] = []
        var entries: [YAMLNode.Entry] = []
        /// A mapping's key waiting for its value; `text` is nil for a key that is not a scalar.
        var key: (text: String?, location: SourceLocation)?
        var keyLocations: [String: SourceLocation] = [:]
        var size = 1
        var height = 1
    }

    private var stack: [Frame] = []
    private var anchors: [String: Built] = [:]
    private var nodes = 0
    private var root: YAMLNode?
    private var documents = 0
    private var issues: [ManifestIssue] = []

    init(file: String) {
        self.file = file
    }

    /// The document's root (nil for an empty stream); syntax errors and budget overruns throw at once,
    /// key problems (duplicates, non-string keys) are collected and thrown together at the end.
    mutating func compose(_ text: String) throws(ManifestError) -> YAMLNode? {
        var bytes = Array(text.utf8)
        let parser = UnsafeMutablePointer<yaml_parser_t>.allocate(capacity: 1)
        let event = UnsafeMutablePointer<yaml_event_t>.allocate(capacity: 1)
        defer {
            parser.deallocate()
            event.deallocate()
        }
        guard yaml_parser_initialize(parser) == 1 else { throw error("invalid YAML: libyaml could not start", at: 1, 1) }
        defer { yaml_parser_delete(parser) }
        try bytes.withUnsafeMutableBufferPointer { (buffer) throws(ManifestError) in
            yaml_parser_set_encoding(parser, YAML_UTF8_ENCODING)
            yaml_parser_set_input_string(parser, buffer.baseAddress, buffer.count)
            while true {
                guard yaml_parser_parse(parser, event) == 1 else { throw syntaxError(parser.pointee) }
                defer { yaml_event_delete(event) }
                if event.pointee.type == YAML_STREAM_END_EVENT { break }
                try handle(event.pointee)
            }
        }
        if !issues.isEmpty { throw ManifestError(issues) }
        return root
    }

    private mutating func handle(_ event: yaml_event_t) throws(ManifestError) {
        let location = SourceLocation(file: file, line: event.start_mark.line + 1, column: event.start_mark.column + 1)
        switch event.type {
        case YAML_DOCUMENT_START_EVENT:
            documents += 1
            if documents > 1 {
                throw ManifestError([
                    ManifestIssue(
                        path: "", message: "invalid YAML: a second document starts here; a manifest is one document (remove the `---`)",
                        at: location)
                ])
            }
        case YAML_SCALAR_EVENT:
            try count(at: location)
            let scalar = event.data.scalar
            let text = String(decoding: UnsafeBufferPointer(start: scalar.value, count: scalar.length), as: UTF8.self)
            // `quoted` tells "8000" from 8000: only plain scalars may be numbers, booleans or null.
            let quoted = scalar.style != YAML_PLAIN_SCALAR_STYLE && scalar.style != YAML_ANY_SCALAR_STYLE
            finish(
                Built(node: YAMLNode(.scalar(text, quoted: quoted), at: location), size: 1, height: 1), anchor: Self.string(scalar.anchor))
        case YAML_SEQUENCE_START_EVENT, YAML_MAPPING_START_EVENT:
            try count(at: location)
            if stack.count + 1 > Self.maxDepth {
                throw error("nesting deeper than \(Self.maxDepth) levels", at: location)
            }
            let isMapping = event.type == YAML_MAPPING_START_EVENT
            let anchor = isMapping ? event.data.mapping_start.anchor : event.data.sequence_start.anchor
            stack.append(Frame(location: location, anchor: Self.string(anchor), isMapping: isMapping))
        case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
            let frame = stack.removeLast()
            let kind: YAMLNode.Kind = frame.isMapping ? .mapping(frame.entries) : .sequence(frame.items)
            finish(Built(node: YAMLNode(kind, at: frame.location), size: frame.size, height: frame.height), anchor: frame.anchor)
        case YAML_ALIAS_EVENT:
            let name = Self.string(event.data.alias.anchor) ?? ""
            guard let anchored = anchors[name] else {
                throw error("the alias *\(name) refers to no anchor &\(name) defined before it", at: location)
            }
            if nodes + anchored.size > Self.maxNodes {
                throw error(
                    "the alias *\(name) stands for \(anchored.size) nodes and takes the document past \(Self.maxNodes): "
                        + "aliases of aliases multiply (a \"billion laughs\"); write the values out or alias less", at: location)
            }
            if stack.count + anchored.height > Self.maxDepth {
                throw error("the alias *\(name) nests the document deeper than \(Self.maxDepth) levels", at: location)
            }
            nodes += anchored.size
            // A key written as an alias is reported where the alias is, not where its anchor was.
            var placed = anchored
            if stack.last?.isMapping == true, stack.last?.key == nil { placed.node.location = location }
            add(placed)
        default:
            break
        }
    }

    private mutating func count(at location: SourceLocation) throws(ManifestError) {
        nodes += 1
        if nodes > Self.maxNodes {
            throw error(
                "the document has more than \(Self.maxNodes) nodes; a manifest this large is not supported (remove entries or split the project)",
                at: location)
        }
    }

    private mutating func finish(_ built: Built, anchor: String?) {
        // A later anchor of the same name shadows an earlier one, as YAML specifies.
        if let anchor { anchors[anchor] = built }
        add(built)
    }

    private mutating func add(_ built: Built) {
        guard !stack.isEmpty else {
            root = built.node
            return
        }
        let top = stack.count - 1
        stack[top].size += built.size
        stack[top].height = max(stack[top].height, built.height + 1)
        guard stack[top].isMapping else {
            stack[top].items.append(built.node)
            return
        }
        guard let key = stack[top].key else {
            guard case .scalar(let text, _) = built.node.kind else {
                issues.append(ManifestIssue(path: "", message: "mapping keys must be plain strings", at: built.node.location))
                stack[top].key = (nil, built.node.location)
                return
            }
            stack[top].key = (text, built.node.location)
            return
        }
        stack[top].key = nil
        guard let text = key.text else { return }
        // A dictionary of the keys seen so far: rescanning them for each new key made 100,000 keys take minutes.
        if let first = stack[top].keyLocations[text] {
            issues.append(
                ManifestIssue(
                    path: "", message: "duplicate key \"\(text)\" (again on line \(key.location.line), column \(key.location.column))",
                    at: first))
            return
        }
        stack[top].keyLocations[text] = key.location
        stack[top].entries.append(YAMLNode.Entry(key: text, keyLocation: key.location, value: built.node))
    }

    private func error(_ message: String, at location: SourceLocation) -> ManifestError {
        ManifestError([ManifestIssue(path: "", message: message, at: location)])
    }

    private func error(_ message: String, at line: Int, _ column: Int) -> ManifestError {
        error(message, at: SourceLocation(file: file, line: line, column: column))
    }

    private func syntaxError(_ parser: yaml_parser_t) -> ManifestError {
        let problem = parser.problem.map { String(cString: $0) } ?? "unknown problem"
        switch parser.error {
        case YAML_READER_ERROR:
            return error("cannot read YAML: \(problem) (at byte \(parser.problem_offset))", at: 1, 1)
        case YAML_MEMORY_ERROR:
            return error("invalid YAML: out of memory", at: 1, 1)
        default:
            return error("invalid YAML: \(problem)", at: parser.problem_mark.line + 1, parser.problem_mark.column + 1)
        }
    }

    private static func string(_ pointer: UnsafeMutablePointer<yaml_char_t>?) -> String? {
        pointer.map { String(cString: $0) }
    }
}
