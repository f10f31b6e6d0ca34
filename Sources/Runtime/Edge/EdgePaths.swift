import Foundation

/// Where the per-user edge proxy keeps its sockets, lock and log: `$XDG_RUNTIME_DIR/devhost/`, or
/// `/tmp/devhost-UID/` when there is no runtime folder. One set per proxy port, so an edge on
/// another port (a second user session, a test) never meets this one.
public struct EdgePaths: Sendable, Equatable {
    public static let defaultPort = 7777

    public let folder: String
    public let port: Int

    /// `uid`: whose edge (root looking for the edge of the user who ran sudo).
    public init(port: Int, environment: [String: String] = ProcessInfo.processInfo.environment, uid: uid_t = getuid()) {
        self.port = port
        if let runtime = environment["XDG_RUNTIME_DIR"], runtime.hasPrefix("/") {
            folder = runtime + "/devhost"
        } else {
            folder = "/tmp/devhost-\(uid)"
        }
    }

    /// The edge's port: `$DEVHOST_EDGE_PORT`, else 7777.
    public static func port(environment: [String: String] = ProcessInfo.processInfo.environment) throws(EdgeError) -> Int {
        guard let text = environment["DEVHOST_EDGE_PORT"], !text.isEmpty else { return defaultPort }
        guard let port = Int(text), (1...65535).contains(port) else {
            throw .invalid("DEVHOST_EDGE_PORT=\(text) is not a port number")
        }
        return port
    }

    /// Where projects register (JSON lines).
    public var socket: String { folder + "/edge-\(port).sock" }
    /// The edge's own pages (`devhost.localhost`), HTTP on a Unix socket reached through the proxy.
    public var pages: String { folder + "/edge-\(port)-http.sock" }
    /// Held (flock) by the running edge for its whole life; holds its pid.
    public var lock: String { folder + "/edge-\(port).pid" }
    /// The background edge's output.
    public var log: String { folder + "/edge-\(port).log" }

    /// Creates the folder private to this user, or checks that an existing one is: a folder another
    /// user owns, or that others can enter, or a symbolic link, would let them take the socket's path.
    public func prepare() throws(EdgeError) {
        _ = mkdir(folder, 0o700)
        var info = stat()
        guard lstat(folder, &info) == 0 else { throw .unsafeFolder(folder, "cannot be created: \(String(cString: strerror(errno)))") }
        guard info.st_mode & S_IFMT == S_IFDIR else { throw .unsafeFolder(folder, "is not a folder") }
        guard info.st_uid == getuid() else { throw .unsafeFolder(folder, "belongs to uid \(info.st_uid)") }
        guard info.st_mode & 0o077 == 0 else {
            throw .unsafeFolder(folder, "is open to other users (mode \(String(info.st_mode & 0o777, radix: 8)))")
        }
    }
}

/// Why the edge, or a project's link to it, cannot go on.
public enum EdgeError: Error, Sendable, CustomStringConvertible, Equatable {
    case invalid(String)
    case unsafeFolder(String, String)
    /// The running edge speaks another protocol version.
    case versionSkew(edgeVersion: String, edgeProtocol: Int, pid: Int32)
    /// Another running project serves these hosts.
    case refused(String)
    case unreachable(String)

    public var description: String {
        switch self {
        case .invalid(let text): return text
        case .unsafeFolder(let folder, let why): return "\(folder) \(why); devhost keeps its edge proxy's socket there and will not use it"
        case .versionSkew(let version, let proto, let pid):
            return
                "the running edge proxy (pid \(pid), devhost \(version)) speaks protocol \(proto), this devhost speaks \(EdgeProtocol.version): "
                + "restart it with `devhost proxy restart` (running projects register again by themselves)"
        case .refused(let text): return text
        case .unreachable(let text): return text
        }
    }
}

extension EdgePaths {
    /// The pid of the edge running for this port: the one holding its lock.
    public func runningPID() -> pid_t? {
        let descriptor = open(lock, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        guard flock(descriptor, LOCK_SH | LOCK_NB) != 0 else { return nil }
        let text = (try? String(contentsOfFile: lock, encoding: .utf8)) ?? ""
        return pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// Stops the running edge with SIGTERM (whatever protocol it speaks), SIGKILL after `grace`;
    /// returns its pid, or nil when none ran. Registered projects are told it was stopped on
    /// purpose and wait for the next one instead of starting one.
    public func stopRunning(grace: Duration = .seconds(5)) async -> pid_t? {
        guard let pid = runningPID() else { return nil }
        kill(pid, SIGTERM)
        let deadline = ContinuousClock.now + grace
        while ContinuousClock.now < deadline, runningPID() != nil {
            try? await Task.sleep(for: .milliseconds(20))
        }
        if runningPID() != nil {
            kill(pid, SIGKILL)
            while runningPID() != nil, ContinuousClock.now < deadline + .seconds(2) { try? await Task.sleep(for: .milliseconds(20)) }
        }
        return pid
    }
}
