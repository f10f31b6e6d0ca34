import Foundation

/// Reads typed values out of a `YAMLNode` tree, collecting every problem instead of stopping at the first.
struct NodeReader {
    var issues: [ManifestIssue] = []

    mutating func fail(_ path: String, _ message: String, at location: SourceLocation?) {
        issues.append(ManifestIssue(path: path, message: message, at: location))
    }

    mutating func warn(_ path: String, _ message: String, at location: SourceLocation?) {
        issues.append(ManifestIssue(path: path, message: message, at: location, severity: .warning))
    }

    /// The entries of a mapping, reporting keys outside `allowed` (keys starting with `x-` are for users).
    mutating func mapping(_ node: YAMLNode, _ path: String, allowed: [String]) -> [YAMLNode.Entry]? {
        guard let entries = node.entries else {
            fail(path, "expected a mapping, found \(describe(node))", at: node.location)
            return nil
        }
        for entry in entries where !allowed.contains(entry.key) && !entry.key.hasPrefix("x-") {
            var message = "unknown key \"\(entry.key)\""
            if let suggestion = closest(to: entry.key, in: allowed) { message += " (did you mean \"\(suggestion)\"?)" }
            fail(join(path, entry.key), message, at: entry.keyLocation)
        }
        return entries.filter { allowed.contains($0.key) }
    }

    mutating func string(_ node: YAMLNode, _ path: String) -> String? {
        guard let text = node.scalar, !node.isNull else {
            fail(path, "expected a string, found \(describe(node))", at: node.location)
            return nil
        }
        return text
    }

    mutating func nonEmptyString(_ node: YAMLNode, _ path: String) -> String? {
        guard let text = string(node, path) else { return nil }
        if text.trimmingCharacters(in: .whitespaces).isEmpty {
            fail(path, "must not be empty", at: node.location)
            return nil
        }
        return text
    }

    mutating func int(_ node: YAMLNode, _ path: String, in range: ClosedRange<Int>) -> Int? {
        guard case .scalar(let text, quoted: false) = node.kind, let value = Int(text) else {
            fail(path, "expected a whole number, found \(describe(node))", at: node.location)
            return nil
        }
        guard range.contains(value) else {
            fail(path, "\(value) is out of range (\(range.lowerBound)...\(range.upperBound))", at: node.location)
            return nil
        }
        return value
    }

    mutating func bool(_ node: YAMLNode, _ path: String) -> Bool? {
        if case .scalar(let text, quoted: false) = node.kind {
            switch text.lowercased() {
            case "true", "yes", "on": return true
            case "false", "no", "off": return false
            default: break
            }
        }
        fail(path, "expected true or false, found \(describe(node))", at: node.location)
        return nil
    }

    mutating func duration(_ node: YAMLNode, _ path: String) -> Duration? {
        guard let text = node.scalar, !node.isNull, let value = DurationText.parse(text) else {
            fail(path, "\(describe(node)) is not a duration (write e.g. 500ms, 2s, 1m30s)", at: node.location)
            return nil
        }
        return value
    }

    /// A string or a list of strings.
    mutating func stringList(_ node: YAMLNode, _ path: String) -> [String]? {
        if let items = node.items {
            var values: [String] = []
            for (index, item) in items.enumerated() {
                guard let value = string(item, "\(path)[\(index)]") else { return nil }
                values.append(value)
            }
            return values
        }
        return string(node, path).map { [$0] }
    }

    mutating func command(_ node: YAMLNode, _ path: String) -> Command? {
        if let items = node.items {
            guard !items.isEmpty else {
                fail(path, "must not be an empty list", at: node.location)
                return nil
            }
            return stringList(node, path).map(Command.argv)
        }
        return nonEmptyString(node, path).map(Command.shell)
    }

    /// `KEY: value` pairs; numbers and booleans are taken as the text written.
    mutating func env(_ node: YAMLNode, _ path: String) -> [EnvEntry] {
        // The list form (`- KEY=value`) is what compose users bring along.
        if let items = node.items {
            var entries: [EnvEntry] = []
            for (index, item) in items.enumerated() {
                guard let text = string(item, "\(path)[\(index)]") else { continue }
                guard let equals = text.firstIndex(of: "="), isEnvName(String(text[..<equals])) else {
                    fail("\(path)[\(index)]", "expected KEY=value, found \"\(text)\"", at: item.location)
                    continue
                }
                entries.append(
                    EnvEntry(key: String(text[..<equals]), value: String(text[text.index(after: equals)...]), location: item.location))
            }
            return entries
        }
        guard let pairs = node.entries else {
            fail(path, "expected a mapping of NAME: value, found \(describe(node))", at: node.location)
            return []
        }
        var entries: [EnvEntry] = []
        for pair in pairs {
            let keyPath = join(path, pair.key)
            guard isEnvName(pair.key) else {
                fail(keyPath, "\"\(pair.key)\" is not a valid environment variable name", at: pair.keyLocation)
                continue
            }
            guard case .scalar(let text, _) = pair.value.kind else {
                fail(keyPath, "expected a string, found \(describe(pair.value))", at: pair.value.location)
                continue
            }
            entries.append(EnvEntry(key: pair.key, value: pair.value.isNull ? "" : text, location: pair.value.location))
        }
        return entries
    }

    func describe(_ node: YAMLNode) -> String {
        switch node.kind {
        case .scalar(let text, _): return node.isNull ? "null" : "\"\(text)\""
        default: return node.typeName
        }
    }
}

func join(_ path: String, _ key: String) -> String {
    path.isEmpty ? key : "\(path).\(key)"
}

func isEnvName(_ name: String) -> Bool {
    guard let first = name.first, first.isASCII, first.isLetter || first == "_" else { return false }
    return name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }
}

/// The allowed key closest to a misspelt one, if it is close enough to be a typo.
func closest(to word: String, in candidates: [String]) -> String? {
    let scored = candidates.map { ($0, editDistance(word.lowercased(), $0)) }.filter { $0.1 <= max(2, word.count / 3) }
    return scored.min { $0.1 < $1.1 }?.0
}

func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a)
    let b = Array(b)
    guard !a.isEmpty else { return b.count }
    guard !b.isEmpty else { return a.count }
    var previous = Array(0...b.count)
    for i in 1...a.count {
        var current = [i] + Array(repeating: 0, count: b.count)
        for j in 1...b.count {
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        previous = current
    }
    return previous[b.count]
}
