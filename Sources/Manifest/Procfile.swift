import Foundation

/// honcho/foreman `Procfile`s: `name: command` per line, each a service with `port: auto`.
/// No health check: a worker line never listens, and a web line is routed once its port is discovered.
public enum Procfile {
    public static func parse(_ text: String, file: String, directory: String) throws(ManifestError) -> [Service] {
        var services: [Service] = []
        var issues: [ManifestIssue] = []
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let location = SourceLocation(file: file, line: index + 1, column: 1)
            guard let colon = line.firstIndex(of: ":") else {
                issues.append(ManifestIssue(path: "", message: "expected \"name: command\"", at: location))
                continue
            }
            let name = String(line[..<colon]).trimmingCharacters(in: .whitespaces)
            let command = String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces)
            if let problem = ServiceName.problem(name) {
                issues.append(ManifestIssue(path: name, message: "\"\(name)\" is not a valid process name: it \(problem)", at: location))
                continue
            }
            if command.isEmpty {
                issues.append(ManifestIssue(path: name, message: "has no command", at: location))
                continue
            }
            if services.contains(where: { $0.name == name }) {
                issues.append(ManifestIssue(path: name, message: "is declared twice", at: location))
                continue
            }
            let route = name.replacingOccurrences(of: "_", with: "-").lowercased()
            services.append(
                Service(
                    name: name, command: .shell(command), cwd: directory, port: .auto, routes: [route],
                    location: location))
        }
        if !issues.isEmpty { throw ManifestError(issues) }
        if services.isEmpty {
            throw ManifestError([
                ManifestIssue(path: "", message: "declares no process", at: SourceLocation(file: file, line: 1, column: 1))
            ])
        }
        return services
    }
}
