import ArgumentParser
import DevhostManifest
import DevhostRuntime
import Foundation

/// Options every command that reads a manifest shares.
struct ManifestOptions: ParsableArguments {
    @Option(name: [.short, .customLong("file")], help: "The manifest, or a folder to search upward from (default: the current folder).")
    var file: String?

    @Option(name: .customLong("env"), help: "Merge devhost.ENV.yml over devhost.yml (default: $DEVHOST_ENV).")
    var environment: String?

    /// Loading again as the running devhost does on a reload: errors stay `ManifestError`s (positions).
    var reloader: @Sendable () throws -> Manifest {
        let start = file ?? FileManager.default.currentDirectoryPath
        let overlay = environment
        return {
            let loader = ManifestLoader()
            return try loader.load(try loader.locate(from: start), overlay: overlay)
        }
    }

    func load() throws -> Manifest {
        let loader = ManifestLoader()
        do {
            let path = try loader.locate(from: file ?? FileManager.default.currentDirectoryPath)
            return try loader.load(path, overlay: environment)
        } catch {
            let count = error.issues.count
            let heading = count == 1 ? "" : "\(count) problems in the manifest:\n"
            throw CommandFailure(message: heading + error.issues.map(\.description).joined(separator: "\n"))
        }
    }
}

/// For commands that talk to a running devhost: they find the project without validating its
/// manifest (which may be mid-edit).
struct ProjectOptions: ParsableArguments {
    @Option(name: [.short, .customLong("file")], help: "The manifest, or a folder to search upward from (default: the current folder).")
    var file: String?

    init() {}

    init(file: String?) {
        self.file = file
    }

    func state() throws -> ProjectState {
        try Self.state(file: file)
    }

    /// getcwd, as FileManager.currentDirectoryPath reads it, without FileManager's code.
    static func currentDirectory() -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buffer, buffer.count) != nil else { return FileManager.default.currentDirectoryPath }
        return buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    /// The state of the project `file` names (or the one around the current folder); static so
    /// `devhost top` finds it without building argument-parser's option (TopCommand.quick).
    static func state(file: String?) throws -> ProjectState {
        let path: String
        do {
            path = try ManifestLoader(environment: [:]).locate(from: file ?? currentDirectory())
        } catch {
            throw CommandFailure(message: error.issues.map(\.message).joined(separator: "\n"))
        }
        do {
            // The folder of a standard absolute path by its last slash; NSString otherwise.
            guard ManifestLoader.isStandardAbsolute(path), let slash = path.utf8.lastIndex(of: UInt8(ascii: "/")) else {
                return try ProjectState(directory: (path as NSString).deletingLastPathComponent)
            }
            return try ProjectState(directory: slash == path.startIndex ? "/" : String(path[..<slash]))
        } catch {
            throw CommandFailure(message: error.description)
        }
    }
}
