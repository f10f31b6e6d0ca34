import Foundation

/// The values a template is rendered with: built-ins, `--set`, prompts and defaults, each validated.
public enum TemplateAnswers {
    /// Names that would break a generated Python package or shadow a framework import.
    static let reservedNames: Set<String> = [
        "app", "core", "django", "fastapi", "flask", "site", "test", "tests", "uvicorn", "node", "static",
        "and", "as", "assert", "async", "await", "break", "class", "continue", "def", "del", "elif", "else",
        "except", "false", "finally", "for", "from", "global", "if", "import", "in", "is", "lambda", "none",
        "nonlocal", "not", "or", "pass", "raise", "return", "true", "try", "while", "with", "yield",
    ]

    /// A project name becomes a host label (`api.NAME.localhost`), a compose project and a package name.
    public static func validateProjectName(_ name: String) throws(InitError) {
        func fail(_ rule: String) throws(InitError) -> Never { throw InitError.invalidProjectName(name, rule: rule) }
        if name.isEmpty { try fail("it is empty") }
        if name.count > 63 { try fail("a host label is at most 63 characters") }
        guard name.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-") }) else {
            try fail("use lowercase letters, digits and '-' (it is a host label: NAME.localhost)")
        }
        guard name.first!.isLetter else { try fail("it must start with a letter (it is also a package name)") }
        if name.hasSuffix("-") { try fail("a host label must not end with '-'") }
        if name.contains("--") { try fail("'--' is reserved in host labels (punycode)") }
        if reservedNames.contains(name.replacingOccurrences(of: "-", with: "_")) {
            try fail("\"\(name)\" would shadow a Python module or keyword; choose another name")
        }
    }

    public static func slug(_ name: String) -> String {
        name.lowercased().replacingOccurrences(of: "-", with: "_")
    }

    static func normalizeBool(_ text: String) -> String? {
        switch text.lowercased() {
        case "true", "yes", "y", "on", "1": return "true"
        case "false", "no", "n", "off", "0": return "false"
        default: return nil
        }
    }

    /// Resolves every variable, in declaration order. `ask` is called for variables without a `--set`
    /// value when prompting is allowed; it returns nil to take the default.
    public static func resolve(
        _ definition: TemplateDefinition, projectName: String, sets: [String: String], useDefaults: Bool,
        ask: ((TemplateDefinition.Variable) -> String?)? = nil
    ) throws(InitError) -> [(String, String)] {
        try validateProjectName(projectName)
        let declared = definition.variables.map(\.name)
        for name in sets.keys.sorted() where !declared.contains(name) {
            throw InitError.unknownVariable(name, known: declared)
        }
        var answers: [(String, String)] = [("project_name", projectName), ("project_slug", slug(projectName))]
        for variable in definition.variables {
            var value = sets[variable.name]
            if value == nil, !useDefaults, let ask {
                value = ask(variable)
            }
            guard let raw = value ?? variable.defaultValue else { throw InitError.missingValue(variable.name) }
            answers.append((variable.name, try validate(raw, for: variable)))
        }
        return answers
    }

    public static func validate(_ raw: String, for variable: TemplateDefinition.Variable) throws(InitError) -> String {
        var value = raw
        if variable.kind == .bool {
            guard let normalized = normalizeBool(raw) else {
                throw InitError.invalidValue(variable: variable.name, value: raw, rule: "expected true or false")
            }
            value = normalized
        }
        if !variable.choices.isEmpty, !variable.choices.contains(value) {
            throw InitError.invalidValue(
                variable: variable.name, value: raw, rule: "choose one of \(variable.choices.joined(separator: ", "))")
        }
        if let pattern = variable.pattern, let regex = try? Regex(pattern), (try? regex.wholeMatch(in: value)) == nil {
            throw InitError.invalidValue(variable: variable.name, value: raw, rule: "must match \(pattern)")
        }
        return value
    }
}
