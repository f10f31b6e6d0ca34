import DevhostManifest
import Foundation

/// The `.devhost/` folder beside a manifest: logs, setup hashes, stable ports, the lock and the
/// control socket. Kept out of git by the generated `.gitignore`.
public struct ProjectState: Sendable {
    public let root: String

    /// What devhost creates inside `.devhost/`; none of them may be a link either.
    static let entries = ["logs", "setup", "ports.json", "devhost.pid", "up.log", "control.sock"]

    public init(manifest: Manifest) throws(ProjectStateError) {
        try self.init(directory: manifest.directory)
    }

    /// For the project whose manifest is in `directory`. A repository can ship `.devhost` (or one of
    /// its entries) as a symbolic link; following it would put the pid lock, logs and control socket
    /// wherever it points, and truncate or append to files there. Like git with a linked `.git`, refuse.
    public init(directory: String) throws(ProjectStateError) {
        self.root = Self.root(of: directory)
        for path in [root] + Self.entries.map({ root + "/" + $0 }) {
            var info = stat()
            guard lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFLNK else { continue }
            let target = (try? FileManager.default.destinationOfSymbolicLink(atPath: path)) ?? "?"
            throw ProjectStateError(path: path, target: target)
        }
    }

    /// Where the state of the project in `directory` lives, unchecked (check with `init(directory:)`).
    static func root(of directory: String) -> String {
        // A standard absolute folder as a string: what URL gives, without its code resident in
        // `devhost top` (docs/top.md).
        guard ManifestLoader.isStandardAbsolute(directory) else {
            return URL(fileURLWithPath: directory).appendingPathComponent(".devhost").path
        }
        return directory == "/" ? "/.devhost" : directory + "/.devhost"
    }

    public var logs: String { root + "/logs" }

    /// Held (flock) by the running devhost for as long as it lives; holds its pid.
    public var lockFile: String { root + "/devhost.pid" }

    /// Where `devhost up -d` writes what the foreground would have printed.
    public var detachedLog: String { root + "/up.log" }

    /// The control API's Unix socket. Socket paths are limited to 107 bytes, so a deep project gets one
    /// under /tmp named after a hash of its folder (the same for every client).
    public var controlSocket: String {
        let local = root + "/control.sock"
        if local.utf8.count < 100 { return local }
        return "/tmp/devhost-\(getuid())/\(FNV1a.hex(root)).sock"
    }
}

/// `.devhost` (or an entry in it) is a symbolic link.
public struct ProjectStateError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var target: String

    public var description: String {
        let name = path.hasSuffix("/.devhost") ? ".devhost" : ".devhost/" + URL(fileURLWithPath: path).lastPathComponent
        return
            "\(name) is a symbolic link to \(target) (\(path)); devhost keeps its state there and will not follow it: remove it (rm \(path))"
    }
}
