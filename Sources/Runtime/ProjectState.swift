import DevhostManifest
import Foundation

/// The `.devhost/` folder beside a manifest: logs, setup hashes, stable ports, the control socket.
/// Kept out of git by the generated `.gitignore`.
public struct ProjectState: Sendable {
    public let root: String

    public init(manifest: Manifest) {
        self.root = URL(fileURLWithPath: manifest.directory).appendingPathComponent(".devhost").path
    }

    public var logs: String { root + "/logs" }
}
