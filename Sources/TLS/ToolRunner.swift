import Foundation

/// Runs the store tools (`certutil`, `update-ca-certificates`, `sudo`) to completion. Injected: a
/// process with devhost's `waitpid(-1)` reaper must spawn through it (the executable and the tests
/// pass `ChildProcesses`), or the reaper would take the tool's exit status.
public struct ToolRunner: Sendable {
    public struct Outcome: Sendable {
        public var status: Int32
        /// stdout and stderr together.
        public var output: String

        public init(status: Int32, output: String) {
            self.status = status
            self.output = output
        }
    }

    /// Runs a resolved argv (the first word an absolute path).
    public var spawn: @Sendable ([String]) throws -> Outcome

    public init(spawn: @escaping @Sendable ([String]) throws -> Outcome) { self.spawn = spawn }

    /// Runs `argv`, looking its program up on PATH (and /usr/sbin, /sbin, where the store tools live).
    func run(_ argv: [String]) throws -> Outcome {
        guard let executable = Self.which(argv[0]) else {
            throw TLSError("\(argv[0]) is not installed\(Self.hint(argv[0]))")
        }
        return try spawn([executable] + argv.dropFirst())
    }

    /// Runs `argv` and throws, with the tool's own words, when it fails.
    @discardableResult
    func check(_ argv: [String]) throws -> String {
        let outcome = try run(argv)
        guard outcome.status == 0 else {
            let said = outcome.output.trimmingCharacters(in: .whitespacesAndNewlines)
            throw TLSError("`\(Self.display(argv))` exited with \(outcome.status)\(said.isEmpty ? "" : ": \(said)")")
        }
        return outcome.output
    }

    /// `argv` as a shell would need it typed: words with spaces or quotes in single quotes.
    static func display(_ argv: [String]) -> String {
        argv.map { word in
            word.contains(where: { " '\"()$;&|<>".contains($0) }) ? "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'" : word
        }.joined(separator: " ")
    }

    static func which(_ name: String) -> String? {
        if name.contains("/") { return FileManager.default.isExecutableFile(atPath: name) ? name : nil }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        let dirs = path.split(separator: ":").map(String.init) + ["/usr/sbin", "/sbin"]
        return dirs.lazy.map { $0 + "/" + name }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    private static func hint(_ name: String) -> String {
        switch name {
        case "certutil": return " (Debian and Ubuntu: apt-get install libnss3-tools; Fedora: dnf install nss-tools)"
        case "update-ca-certificates": return " (Debian and Ubuntu: apt-get install ca-certificates)"
        default: return ""
        }
    }
}
