import DevhostManifest
import Foundation

/// The project an agent works in, found afresh on every call as the CLI finds it (`devhost.yml`
/// searched upward from the folder, or `--file`), so a manifest created or fixed after the server
/// started is seen at once.
public struct AgentProject: Sendable {
    /// The folder or manifest to start from.
    public var start: String
    /// `--env`: the overlay merged over devhost.yml.
    public var overlay: String?
    /// The devhost binary that `up`, `down` and `doctor` run, so they say exactly what the CLI says.
    public var executable: String

    public init(start: String, overlay: String?, executable: String) {
        self.start = start
        self.overlay = overlay
        self.executable = executable
    }

    /// The manifest's path, or the CLI's message when there is none.
    public func manifestPath() throws(AgentFailure) -> String {
        do {
            return try ManifestLoader().locate(from: start)
        } catch {
            throw AgentFailure(error.issues.map(\.message).joined(separator: "\n"))
        }
    }

    /// The manifest, validated; its problems with their positions as `devhost validate` prints them.
    public func manifest() throws(AgentFailure) -> Manifest {
        let path = try manifestPath()
        do {
            return try ManifestLoader().load(path, overlay: overlay)
        } catch {
            throw AgentFailure(Self.problems(error))
        }
    }

    /// `devhost validate`'s wording: the heading only when there is more than one.
    static func problems(_ error: ManifestError) -> String {
        let count = error.issues.count
        let heading = count == 1 ? "" : "\(count) problems in the manifest:\n"
        return heading + error.issues.map(\.description).joined(separator: "\n")
    }

    /// `.devhost/` beside the manifest (found without validating it: the manifest may be mid-edit).
    public func state() throws(AgentFailure) -> ProjectState {
        let path = try manifestPath()
        do {
            return try ProjectState(directory: (path as NSString).deletingLastPathComponent)
        } catch {
            throw AgentFailure(error.description)
        }
    }

    /// Service names to check a request against: the manifest's when it validates, else the
    /// running devhost's (an edit in progress must not lock the agent out of `restart`).
    func serviceNames() -> [String]? {
        if let manifest = try? manifest() { return manifest.services.map(\.name) }
        guard let state = try? state(), let response = try? ControlClient(state: state).get("/v1/status"),
            let report = try? StatusReport.decode(response.body)
        else { return nil }
        return report.services.map(\.name)
    }

    /// The supervisor's own wording for a name it does not know (`devhost restart nope`).
    func unknownService(_ requested: [String]) -> String? {
        guard let known = serviceNames(), let unknown = requested.first(where: { !known.contains($0) }) else { return nil }
        return "no service named \"\(unknown)\" (the manifest has: \(known.joined(separator: ", ")))"
    }
}

/// A failure with the message the CLI prints for it.
public struct AgentFailure: Error, Sendable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}
