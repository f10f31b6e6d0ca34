import DevhostRuntime
import DevhostTestSupport
import Foundation

/// A real OpenSSH server (Debian's openssh-server) for the forward tests: its own folder with
/// throwaway host and user keys, its own sshd_config on a loopback port from the OS, and a client
/// config (`DEVHOST_SSH_CONFIG`, passed to ssh as `-F`) so the user's ~/.ssh is never read or written.
final class SSHTestServer: @unchecked Sendable {
    let folder: String
    let port: Int
    let user: String
    private(set) var child: ChildProcess?
    private let lock = NSLock()
    private var earlierLogs = ""

    /// `authorized: false` starts a server that knows no key of the client (authentication refused).
    init(authorized: Bool = true) throws {
        folder = "/tmp/devhost-sshd-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false)
        port = try freeLoopbackPort()
        user = String(cString: getpwuid(getuid()).pointee.pw_name)
        for key in ["host", "user", "other"] {
            let made = try run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "devhost-test", "-f", "\(folder)/\(key)_key"])
            guard made.status == 0 else { throw Failed(description: "ssh-keygen: \(made.output)") }
        }
        let authorizedKey = try String(contentsOfFile: "\(folder)/\(authorized ? "user" : "other")_key.pub", encoding: .utf8)
        try authorizedKey.write(toFile: "\(folder)/authorized_keys", atomically: true, encoding: .utf8)
        try """
        Port \(port)
        ListenAddress 127.0.0.1
        HostKey \(folder)/host_key
        AuthorizedKeysFile \(folder)/authorized_keys
        AllowUsers \(user)
        UsePAM no
        PasswordAuthentication no
        KbdInteractiveAuthentication no
        PermitRootLogin prohibit-password
        StrictModes no
        AllowTcpForwarding yes
        PidFile none
        LogLevel VERBOSE
        MaxStartups 100
        MaxSessions 100

        """.write(toFile: "\(folder)/sshd_config", atomically: true, encoding: .utf8)
        try start()
    }

    /// `[127.0.0.1]:PORT KEY`: the line a client's known_hosts needs for this server.
    func knownHostsLine(wrongKey: Bool = false) throws -> String {
        let key = try String(contentsOfFile: "\(folder)/\(wrongKey ? "other" : "host")_key.pub", encoding: .utf8)
        let parts = key.split(separator: " ")
        return "[127.0.0.1]:\(port) \(parts[0]) \(parts[1])"
    }

    var userKey: String { "\(folder)/user_key" }

    func start() throws {
        // sshd checks its privilege separation folder even when it runs as its own user.
        try? FileManager.default.createDirectory(atPath: "/run/sshd", withIntermediateDirectories: true)
        let server = try ChildProcess(argv: ["/usr/sbin/sshd", "-D", "-e", "-f", "\(folder)/sshd_config"])
        lock.withLock { child = server }
        let deadline = Date().addingTimeInterval(10)
        while !server.output.contains("Server listening"), server.isRunning, Date() < deadline { usleep(10_000) }
        guard server.output.contains("Server listening") else { throw Failed(description: "sshd did not start:\n\(server.output)") }
    }

    /// Stops the listener and every connection it serves (the per-connection sshd processes are its
    /// children), as a machine going away would.
    func stop() {
        guard let server = lock.withLock({ child }) else { return }
        // Each connection's sshd leads a session of its own, and its child holds the log pipe. The
        // listener goes first: a client whose connection then dies finds the host gone, as when a
        // machine goes away (the other way round, devhost's check could still reach the listener
        // and rightly count the ssh that ended as a crash).
        let connections = Self.descendants(of: server.pid)
        kill(-server.pid, SIGKILL)
        for pid in connections { kill(pid, SIGKILL) }
        server.stop(grace: 2)
        lock.withLock {
            earlierLogs += server.output
            child = nil
        }
    }

    /// Everything sshd logged, across restarts.
    var log: String { lock.withLock { earlierLogs + (child?.output ?? "") } }

    /// TCP connections that spoke SSH: sshd (LogLevel VERBOSE) logs "Connection from" for each accepted
    /// one, and a connection closed before the protocol began (devhost's reachability check) as
    /// "kex_exchange_identification: Connection closed by remote host".
    var connections: Int {
        let log = self.log
        return log.components(separatedBy: "Connection from ").count - log.components(separatedBy: "kex_exchange_identification").count
    }
    var authentications: Int { log.components(separatedBy: "Accepted publickey").count - 1 }

    func remove() {
        stop()
        try? FileManager.default.removeItem(atPath: folder)
    }

    static func descendants(of parent: pid_t) -> [pid_t] {
        let direct = children(of: parent)
        return direct + direct.flatMap { descendants(of: $0) }
    }

    static func children(of parent: pid_t) -> [pid_t] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { entry -> pid_t? in
            guard let pid = pid_t(entry), let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { return nil }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 1 && pid_t(fields[1]) == parent ? pid : nil
        }
    }

    struct Failed: Error, CustomStringConvertible { var description: String }
}

/// The client side: a config file and known_hosts of the test's own, for `DEVHOST_SSH_CONFIG`.
struct SSHClientConfig {
    let file: String

    /// `servers` go into known_hosts; `wrongKeyFor` gets another key than its real one.
    init(folder: String, identity: String, servers: [SSHTestServer], wrongKeyFor: SSHTestServer? = nil) throws {
        let known = try servers.map { try $0.knownHostsLine(wrongKey: $0 === wrongKeyFor) }.joined(separator: "\n") + "\n"
        try known.write(toFile: "\(folder)/known_hosts", atomically: true, encoding: .utf8)
        file = "\(folder)/ssh_config"
        try """
        Host *
          UserKnownHostsFile \(folder)/known_hosts
          GlobalKnownHostsFile /dev/null
          StrictHostKeyChecking yes
          IdentityFile \(identity)
          IdentitiesOnly yes
          IdentityAgent none
          ConnectTimeout 5

        """.write(toFile: file, atomically: true, encoding: .utf8)
    }
}

/// redis-server on a loopback port from the OS, without persistence, ended by `stop()`.
final class RedisTestServer: @unchecked Sendable {
    let port: Int
    let child: ChildProcess

    init() async throws {
        port = try freeLoopbackPort()
        child = try ChildProcess(argv: [
            "redis-server", "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "no",
        ])
        let child = self.child
        let port = self.port
        let up = await eventually(timeout: .seconds(10)) { redisPing(port: port) == "+PONG" || !child.isRunning }
        guard up, child.isRunning else { throw SSHTestServer.Failed(description: "redis-server did not start:\n\(child.output)") }
    }

    func stop() { child.stop() }
}

/// Sends PING on a fresh connection; the first line of the answer, "" when the connection closed
/// without one, nil when it could not connect.
func redisPing(port: Int, timeout: TimeInterval = 2) -> String? {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var tv = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - floor(timeout)) * 1_000_000))
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
    }
    guard connected else { return nil }
    let ping = Array("PING\r\n".utf8)
    guard write(fd, ping, ping.count) == ping.count else { return "" }
    var answer: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 256)
    while !answer.contains(UInt8(ascii: "\n")) {
        let count = read(fd, &chunk, chunk.count)
        if count <= 0 { break }
        answer += chunk[0..<count]
    }
    return String(decoding: answer, as: UTF8.self).split(separator: "\r\n").first.map(String.init) ?? ""
}
