import DevhostRuntime
import DevhostTestSupport
import Foundation
import Testing

/// A real server (PostgreSQL, Redis, MariaDB) or a wire peer (Tests/Scripts/wire_peers.py) for the
/// protocol health check tests: in a folder of its own, on a loopback port from the OS, ended by `stop()`.
final class LocalServer: @unchecked Sendable {
    let port: Int
    let folder: String
    let child: ChildProcess

    private init(port: Int, folder: String, child: ChildProcess) {
        self.port = port
        self.folder = folder
        self.child = child
    }

    /// Stops the server (SIGTERM, SIGKILL after 10 s) and removes its folder.
    func stop() {
        child.stop(grace: 10)
        try? FileManager.default.removeItem(atPath: folder)
    }

    var log: String { child.output }

    /// A folder the server's user may write: PostgreSQL refuses to run as root, so as root the
    /// servers run as nobody (65534) in a folder nobody owns.
    static func folder(_ name: String) throws -> String {
        let path = "/tmp/devhost-\(name)-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        if getuid() == 0 { chown(path, 65534, 65534) }
        return path
    }

    static var asServerUser: [String] {
        getuid() == 0 ? ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] : []
    }

    /// Waits (bounded) until `ready` holds while the process runs, or stops it and fails.
    private static func started(_ server: LocalServer, what: String, timeout: Duration = .seconds(30), _ ready: () -> Bool) async throws
        -> LocalServer
    {
        let up = await eventually(timeout: timeout) { ready() || !server.child.isRunning }
        guard up, server.child.isRunning else {
            server.stop()
            throw ServerFailed(description: "\(what) did not start:\n\(server.log)")
        }
        return server
    }

    struct ServerFailed: Error, CustomStringConvertible { var description: String }

    // MARK: PostgreSQL

    /// The newest installed PostgreSQL's programs (Debian keeps them out of PATH).
    static func postgresBin(_ program: String) -> String {
        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).compactMap(Int.init).sorted()
        return versions.last.map { "\(root)/\($0)/bin/\(program)" } ?? program
    }

    /// `initdb` (user app, trust, or SCRAM with `password`) and `postgres` on loopback. A `standby`
    /// server waits for WAL that never comes and, with hot_standby off, answers every connection with
    /// 57P03 as a server still starting up does.
    static func postgres(password: String? = nil, standby: Bool = false) async throws -> LocalServer {
        let folder = try folder("pg")
        var initdb = asServerUser + [postgresBin("initdb"), "-D", folder + "/data", "-U", "app", "--locale=C", "-E", "UTF8", "--no-sync"]
        if let password {
            try password.write(toFile: folder + "/pw", atomically: true, encoding: .utf8)
            if getuid() == 0 { chown(folder + "/pw", 65534, 65534) }
            initdb += ["--auth=scram-sha-256", "--pwfile=" + folder + "/pw"]
        } else {
            initdb += ["--auth=trust"]
        }
        let made = try run(initdb)
        guard made.status == 0 else { throw ServerFailed(description: "initdb failed:\n\(made.output)") }
        if standby { _ = try run(asServerUser + ["touch", folder + "/data/standby.signal"]) }
        let port = try freeLoopbackPort()
        let child = try ChildProcess(
            argv: asServerUser + [
                postgresBin("postgres"), "-D", folder + "/data", "-k", folder, "-p", String(port), "-c", "listen_addresses=127.0.0.1",
                "-c", "fsync=off", "-c", "hot_standby=off",
            ])
        let server = LocalServer(port: port, folder: folder, child: child)
        // Listening comes first; until the startup process finishes, connections get 57P03.
        let ready = standby ? "entering standby mode" : "database system is ready to accept connections"
        return try await started(server, what: "postgres") { server.log.contains(ready) }
    }

    // MARK: Redis

    static func redis(_ extra: [String] = []) async throws -> LocalServer {
        let folder = try folder("redis")
        let port = try freeLoopbackPort()
        let child = try ChildProcess(
            argv: ["redis-server", "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", folder]
                + extra)
        return try await started(LocalServer(port: port, folder: folder, child: child), what: "redis-server") { accepts(port) }
    }

    // MARK: MariaDB

    static func mariadb(_ extra: [String] = []) async throws -> LocalServer {
        let folder = try folder("mysql")
        let user = getuid() == 0 ? ["--user=root"] : []
        let made = try run(
            [
                "mariadb-install-db", "--no-defaults", "--datadir=\(folder)/data", "--auth-root-authentication-method=normal",
                "--skip-test-db",
            ]
                + user)
        guard made.status == 0 else { throw ServerFailed(description: "mariadb-install-db failed:\n\(made.output)") }
        let port = try freeLoopbackPort()
        let child = try ChildProcess(
            argv: [
                "mariadbd", "--no-defaults", "--datadir=\(folder)/data", "--socket=\(folder)/sock", "--port=\(port)",
                "--bind-address=127.0.0.1", "--pid-file=\(folder)/pid", "--log-error=\(folder)/error.log", "--skip-name-resolve",
            ] + user + extra)
        // Not a test connection: one closed before logging in would be logged as aborted, which the test
        // checks the probe never causes.
        let server = LocalServer(port: port, folder: folder, child: child)
        return try await started(server, what: "mariadbd") { server.errorLog.contains("ready for connections") }
    }

    var errorLog: String { (try? String(contentsOfFile: folder + "/error.log", encoding: .utf8)) ?? "" }

    // MARK: Wire peers

    /// Tests/Scripts/wire_peers.py in `mode` (silent, garbage, kafka); it prints its port first.
    static func peer(_ mode: String, _ arguments: [String] = []) async throws -> LocalServer {
        let folder = try folder("peer")
        let script = repositoryRoot.appendingPathComponent("Tests/Scripts/wire_peers.py").path
        let child = try ChildProcess(argv: ["python3", "-u", script, mode] + arguments)
        let firstLine = { child.output.contains("\n") ? Int(child.output.prefix { $0 != "\n" }) : nil }
        let printed = await eventually { firstLine() != nil }
        guard printed, let port = firstLine() else {
            child.stop()
            throw ServerFailed(description: "wire_peers.py \(mode) did not start:\n\(child.output)")
        }
        return LocalServer(port: port, folder: folder, child: child)
    }

    /// A listening socket that accepts nothing: the kernel completes the TCP handshake from its backlog,
    /// so a client connects and then hears nothing at all.
    static func deaf() throws -> (port: Int, close: () -> Void) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 16) == 0 else { throw ServerFailed(description: "bind: \(errno)") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return (Int(UInt16(bigEndian: address.sin_port)), { close(fd) })
    }

    static func accepts(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }
}
