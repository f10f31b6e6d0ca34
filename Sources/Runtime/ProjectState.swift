import DevhostManifest
import Foundation

/// The `.devhost/` folder beside a manifest: logs, setup hashes, stable ports, the lock and the
/// control socket. Kept out of git by the generated `.gitignore`.
public struct ProjectState: Sendable {
    public let root: String

    public init(manifest: Manifest) {
        self.init(directory: manifest.directory)
    }

    /// For the project whose manifest is in `directory`.
    public init(directory: String) {
        self.root = URL(fileURLWithPath: directory).appendingPathComponent(".devhost").path
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
