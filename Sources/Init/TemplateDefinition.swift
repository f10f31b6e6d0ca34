import DevhostManifest
import Foundation

/// A template's `template.yml`: what it is, what it asks, and which files it includes.
public struct TemplateDefinition: Sendable, Equatable {
    public struct Variable: Sendable, Equatable {
        public enum Kind: String, Sendable { case string, bool }
        public var name: String
        public var prompt: String
        public var defaultValue: String?
        public var choices: [String]
        public var pattern: String?
        public var kind: Kind
    }

    public struct FileRule: Sendable, Equatable {
        public var pattern: String
        public var verbatim: Bool
        public var condition: Condition?
    }

    /// `when:` — `flag`, `name == value` or `name != value`.
    public enum Condition: Sendable, Equatable {
        case truthy(String)
        case equals(String, String)
        case notEquals(String, String)

        public func holds(in values: [String: String]) -> Bool {
            switch self {
            case .truthy(let name): return values[name] == "true"
            case .equals(let name, let value): return values[name] == value
            case .notEquals(let name, let value): return values[name] != value
            }
        }

        static func parse(_ text: String) -> Condition? {
            for (op, make) in [("!=", Condition.notEquals), ("==", Condition.equals)] as [(String, (String, String) -> Condition)] {
                if let range = text.range(of: op) {
                    let name = text[..<range.lowerBound].trimmingCharacters(in: .whitespaces)
                    var value = text[range.upperBound...].trimmingCharacters(in: .whitespaces)
                    if value.count >= 2, let first = value.first, first == "\"" || first == "'", value.last == first {
                        value = String(value.dropFirst().dropLast())
                    }
                    return name.isEmpty ? nil : make(name, value)
                }
            }
            let name = text.trimmingCharacters(in: .whitespaces)
            return name.isEmpty || name.contains(" ") ? nil : .truthy(name)
        }

        var variable: String {
            switch self {
            case .truthy(let name), .equals(let name, _), .notEquals(let name, _): return name
            }
        }
    }

    public var name: String
    public var description: String
    public var variables: [Variable]
    public var rules: [FileRule]

    /// Variables every template gets without declaring them.
    public static let builtInVariables = ["project_name", "project_slug"]

    public static func load(from directory: String) throws(InitError) -> TemplateDefinition {
        let path = URL(fileURLWithPath: directory).appendingPathComponent("template.yml").path
        guard FileManager.default.fileExists(atPath: path) else {
            throw InitError.invalidTemplate("\(directory) is not a devhost template: it has no template.yml")
        }
        let bytes: [UInt8]
        do { bytes = try ManifestFile.read(path, kind: "template definition") } catch { throw InitError.templateManifest(error.issues) }
        return try parse(
            String(decoding: bytes, as: UTF8.self), file: path, fallbackName: URL(fileURLWithPath: directory).lastPathComponent)
    }

    public static func parse(_ text: String, file: String, fallbackName: String) throws(InitError) -> TemplateDefinition {
        let root: YAMLNode?
        do {
            root = try YAMLNode.parse(text, file: file)
        } catch {
            throw InitError.templateManifest(error.issues)
        }
        var problems: [ManifestIssue] = []
        func fail(_ path: String, _ message: String, _ node: YAMLNode) {
            problems.append(ManifestIssue(path: path, message: message, at: node.location))
        }
        var definition = TemplateDefinition(name: fallbackName, description: "", variables: [], rules: [])
        guard let root, let entries = root.entries else {
            throw InitError.templateManifest([
                ManifestIssue(path: "", message: "expected a mapping", at: SourceLocation(file: file, line: 1, column: 1))
            ])
        }
        for entry in entries {
            switch entry.key {
            case "name": definition.name = entry.value.scalar ?? definition.name
            case "description": definition.description = entry.value.scalar ?? ""
            case "variables":
                guard let variables = entry.value.entries else {
                    fail("variables", "expected a mapping of variable names", entry.value)
                    continue
                }
                for variable in variables {
                    if let parsed = parseVariable(variable, fail: fail) { definition.variables.append(parsed) }
                }
            case "files":
                guard let items = entry.value.items else {
                    fail("files", "expected a list of rules", entry.value)
                    continue
                }
                for (index, item) in items.enumerated() {
                    if let rule = parseRule(item, path: "files[\(index)]", fail: fail) { definition.rules.append(rule) }
                }
            default:
                fail(entry.key, "unknown key \"\(entry.key)\" (name, description, variables, files)", entry.value)
            }
        }
        let declared = Set(definition.variables.map(\.name) + builtInVariables)
        for rule in definition.rules {
            if let condition = rule.condition, !declared.contains(condition.variable) {
                problems.append(
                    ManifestIssue(
                        path: "files", message: "when: names undeclared variable \"\(condition.variable)\"",
                        at: SourceLocation(file: file, line: 1, column: 1)))
            }
        }
        if !problems.isEmpty { throw InitError.templateManifest(problems) }
        return definition
    }

    private static func parseVariable(_ entry: YAMLNode.Entry, fail: (String, String, YAMLNode) -> Void) -> Variable? {
        let path = "variables.\(entry.key)"
        guard entry.key.first?.isLetter == true, entry.key.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else {
            fail(path, "\"\(entry.key)\" is not a variable name (letters, digits, _)", entry.value)
            return nil
        }
        if builtInVariables.contains(entry.key) {
            fail(path, "\"\(entry.key)\" is built in and cannot be redeclared", entry.value)
            return nil
        }
        var variable = Variable(name: entry.key, prompt: entry.key, defaultValue: nil, choices: [], pattern: nil, kind: .string)
        // `name: default` is the short form.
        if let scalar = entry.value.scalar {
            variable.defaultValue = scalar
            return variable
        }
        guard let fields = entry.value.entries else {
            fail(path, "expected a default value or a mapping", entry.value)
            return nil
        }
        for field in fields {
            switch field.key {
            case "prompt", "description": variable.prompt = field.value.scalar ?? variable.prompt
            case "default": variable.defaultValue = field.value.scalar
            case "choices": variable.choices = field.value.items?.compactMap(\.scalar) ?? []
            case "pattern":
                variable.pattern = field.value.scalar
                if let pattern = variable.pattern, (try? Regex(pattern)) == nil {
                    fail("\(path).pattern", "\"\(pattern)\" is not a valid regular expression", field.value)
                }
            case "type":
                if let kind = field.value.scalar.flatMap(Variable.Kind.init(rawValue:)) {
                    variable.kind = kind
                } else {
                    fail("\(path).type", "expected string or bool", field.value)
                }
            default:
                fail("\(path).\(field.key)", "unknown key \"\(field.key)\" (prompt, default, choices, pattern, type)", field.value)
            }
        }
        if variable.kind == .bool, let value = variable.defaultValue {
            variable.defaultValue = TemplateAnswers.normalizeBool(value) ?? value
        }
        return variable
    }

    private static func parseRule(_ node: YAMLNode, path: String, fail: (String, String, YAMLNode) -> Void) -> FileRule? {
        guard let fields = node.entries, let pattern = node["path"]?.scalar else {
            fail(path, "a rule needs path:", node)
            return nil
        }
        var rule = FileRule(pattern: pattern, verbatim: false, condition: nil)
        for field in fields {
            switch field.key {
            case "path": break
            case "verbatim": rule.verbatim = field.value.scalar == "true"
            case "when":
                guard let text = field.value.scalar, let condition = Condition.parse(text) else {
                    fail("\(path).when", "expected `flag`, `name == value` or `name != value`", field.value)
                    continue
                }
                rule.condition = condition
            default:
                fail("\(path).\(field.key)", "unknown key \"\(field.key)\" (path, verbatim, when)", field.value)
            }
        }
        return rule
    }
}
