import Foundation

/// `.env` files as docker compose and python-dotenv read them: `KEY=value`, `export KEY=value`,
/// `#` comments, single quotes taken literally, double quotes with `\n`, `\"` and `\\` escapes.
public enum EnvFile {
    public static func parse(_ text: String, file: String) throws(ManifestError) -> [EnvEntry] {
        var entries: [EnvEntry] = []
        var issues: [ManifestIssue] = []
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var line = rawLine.hasSuffix("\r") ? rawLine.dropLast() : rawLine
            line = line.drop(while: { $0 == " " || $0 == "\t" })
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("export ") { line = line.dropFirst(7).drop(while: { $0 == " " }) }
            let location = SourceLocation(file: file, line: index + 1, column: 1)
            guard let equals = line.firstIndex(of: "=") else {
                issues.append(ManifestIssue(path: String(line), message: "expected KEY=value", at: location))
                continue
            }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces)
            guard isEnvName(key) else {
                issues.append(ManifestIssue(path: key, message: "\"\(key)\" is not a valid environment variable name", at: location))
                continue
            }
            let rawValue = line[line.index(after: equals)...].drop(while: { $0 == " " || $0 == "\t" })
            switch value(rawValue) {
            case .success(let value): entries.append(EnvEntry(key: key, value: value, location: location))
            case .failure(let problem): issues.append(ManifestIssue(path: key, message: problem.message, at: location))
            }
        }
        if !issues.isEmpty { throw ManifestError(issues) }
        return entries
    }

    public static func load(_ path: String) throws(ManifestError) -> [EnvEntry] {
        try parse(String(decoding: try ManifestFile.read(path, kind: "env file"), as: UTF8.self), file: path)
    }

    struct Problem: Error { var message: String }

    private static func value(_ raw: Substring) -> Result<String, Problem> {
        guard let quote = raw.first, quote == "\"" || quote == "'" else {
            // An unquoted value ends at ` #` (a trailing comment), as in compose.
            var text = raw
            if let comment = text.range(of: " #") { text = text[..<comment.lowerBound] }
            return .success(text.trimmingCharacters(in: .whitespaces))
        }
        var output = ""
        var index = raw.index(after: raw.startIndex)
        while index < raw.endIndex {
            let character = raw[index]
            if character == quote { return .success(output) }
            if quote == "\"", character == "\\", raw.index(after: index) < raw.endIndex {
                index = raw.index(after: index)
                switch raw[index] {
                case "n": output.append("\n")
                case "t": output.append("\t")
                case "r": output.append("\r")
                default: output.append(raw[index])
                }
            } else {
                output.append(character)
            }
            index = raw.index(after: index)
        }
        return .failure(Problem(message: "the quoted value is not closed"))
    }
}
