import DevhostManifest

/// What can go wrong when generating a project; each case says what to do about it.
public enum InitError: Error, CustomStringConvertible, Sendable {
    case unknownTemplate(String, available: [String])
    case invalidTemplate(String)
    case templateManifest([ManifestIssue])
    case invalidProjectName(String, rule: String)
    case invalidValue(variable: String, value: String, rule: String)
    case unknownVariable(String, known: [String])
    case missingValue(String)
    case targetNotEmpty(String)
    case unsafePath(String)
    case render(file: String, message: String)
    case generatedManifest([ManifestIssue])
    case io(String)
    case git(Git.Failure)

    public var description: String {
        switch self {
        case .unknownTemplate(let name, let available):
            return "no template named \"\(name)\" (built in: \(available.joined(separator: ", ")); or give a folder or a git URL)"
        case .invalidTemplate(let message): return message
        case .templateManifest(let issues):
            return "the template's template.yml is invalid:\n" + issues.map(\.description).joined(separator: "\n")
        case .invalidProjectName(let name, let rule): return "\"\(name)\" cannot be a project name: \(rule)"
        case .invalidValue(let variable, let value, let rule): return "\(variable)=\"\(value)\" is not allowed: \(rule)"
        case .unknownVariable(let name, let known):
            return "the template has no variable \"\(name)\" (it has: \(known.isEmpty ? "none" : known.joined(separator: ", ")))"
        case .missingValue(let name): return "\(name) has no default: pass --set \(name)=VALUE"
        case .targetNotEmpty(let path): return "\(path) exists and is not empty; use --force to generate into it anyway"
        case .unsafePath(let message): return "refusing to write outside the project: \(message)"
        case .render(let file, let message): return "cannot render \(file): \(message)"
        case .generatedManifest(let issues):
            return "the template produced an invalid devhost.yml:\n" + issues.map(\.description).joined(separator: "\n")
        case .io(let message): return message
        case .git(let failure): return failure.description
        }
    }
}
