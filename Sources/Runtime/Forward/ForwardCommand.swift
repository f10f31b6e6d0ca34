import DevhostManifest
import Foundation

/// The command lines devhost runs for a forward (pure: tests compare them word for word).
///
/// ssh: one master connection per destination (`ssh -M -N`, ControlPersist off, so the master is a
/// child devhost supervises and ends), and each forward added to it with `ssh -O forward` and taken
/// away with `-O cancel`: ten forwards to one bastion are one TCP connection and one authentication.
/// The user's `~/.ssh/config`, agent, keys and known_hosts apply as for any ssh; `DEVHOST_SSH_CONFIG`
/// names another config file (`-F`), which the tests use to keep the user's ~/.ssh out of it.
public struct ForwardCommand: Sendable, Equatable {
    /// ServerAliveInterval × ServerAliveCountMax: a dead connection is noticed within 10 s.
    public static let aliveInterval = 5
    public static let aliveCountMax = 2

    public var ssh: SSHForward
    public var configFile: String?
    public var controlDirectory: String

    public init(ssh: SSHForward, configFile: String?, controlDirectory: String) {
        self.ssh = ssh
        self.configFile = configFile
        self.controlDirectory = controlDirectory
    }

    /// Forwards with the same key share one master connection.
    public var masterKey: String {
        [
            configFile ?? "", ssh.user ?? "", ssh.host, ssh.port.map(String.init) ?? "", ssh.jump.joined(separator: ","),
            ssh.identityFile ?? "",
        ]
        .joined(separator: "\u{1}")
    }

    /// Short enough for a Unix socket path (108 bytes) under any control directory devhost picks.
    public var controlPath: String { controlDirectory + "/" + FNV1a.hex(masterKey) }

    /// Options every ssh invocation of this destination shares (the master and its `-O` requests).
    var common: [String] {
        var words: [String] = []
        if let configFile { words += ["-F", configFile] }
        words += ["-o", "ControlPath=\(controlPath)"]
        if let port = ssh.port { words += ["-p", String(port)] }
        if let user = ssh.user { words += ["-l", user] }
        return words
    }

    public var master: [String] {
        var words = ["ssh", "-M", "-N"] + common
        words += [
            "-o", "ControlMaster=yes", "-o", "ControlPersist=no", "-o", "ExitOnForwardFailure=yes", "-o", "BatchMode=yes",
            "-o", "ServerAliveInterval=\(Self.aliveInterval)", "-o", "ServerAliveCountMax=\(Self.aliveCountMax)",
            "-o", "ConnectTimeout=10",
        ]
        if !ssh.jump.isEmpty { words += ["-J", ssh.jump.joined(separator: ",")] }
        if let identity = ssh.identityFile { words += ["-i", identity] }
        return words + [ssh.host]
    }

    /// `-L 127.0.0.1:INNER:REMOTE:PORT`: the tunnel's own end, which only devhost's relay connects to.
    public func localForward(inner: Int) -> String {
        let host = ssh.remoteHost.contains(":") ? "[\(ssh.remoteHost)]" : ssh.remoteHost
        return "127.0.0.1:\(inner):\(host):\(ssh.remotePort)"
    }

    /// `-O forward`, `-O cancel` (with the forward), `-O check` or `-O exit` sent to the master.
    public func control(_ operation: String, inner: Int? = nil) -> [String] {
        ["ssh"] + common + ["-o", "BatchMode=yes", "-O", operation] + (inner.map { ["-L", localForward(inner: $0)] } ?? []) + [ssh.host]
    }

    /// `ssh -G`: the configuration ssh would use, read for the first hop's address (no connection made).
    public func resolve(_ destination: String? = nil) -> [String] {
        var words = ["ssh", "-G"]
        if let configFile { words += ["-F", configFile] }
        if let destination {
            // A jump host is `[user@]host[:port]`, which ssh -G does not take as one word.
            let (host, port) = Self.splitJump(destination)
            return words + (port.map { ["-p", String($0)] } ?? []) + [host]
        }
        if let port = ssh.port { words += ["-p", String(port)] }
        if let user = ssh.user { words += ["-l", user] }
        if !ssh.jump.isEmpty { words += ["-J", ssh.jump.joined(separator: ",")] }
        return words + [ssh.host]
    }

    /// `user@host:2222` → (`user@host`, 2222); `[::1]:22` and a bare IPv6 address keep their host.
    public static func splitJump(_ spec: String) -> (String, Int?) {
        if let close = spec.lastIndex(of: "]") {
            let rest = spec[spec.index(after: close)...]
            let host = spec[..<close].replacingOccurrences(of: "[", with: "")
            return (host, rest.hasPrefix(":") ? Int(rest.dropFirst()) : nil)
        }
        guard let colon = spec.lastIndex(of: ":"), spec.firstIndex(of: ":") == colon, let port = Int(spec[spec.index(after: colon)...])
        else { return (spec, nil) }
        return (String(spec[..<colon]), port)
    }

    /// From `ssh -G` output: where a TCP connect tells whether the first hop is up. `proxyjump` names
    /// the first hop to resolve next; a `proxycommand` leaves nothing devhost can probe (nil).
    public static func firstHop(fromResolved lines: [String]) -> (host: String, port: Int, jump: String?)? {
        var values: [String: String] = [:]
        for line in lines {
            let parts = line.split(separator: " ", maxSplits: 1)
            if parts.count == 2, values[String(parts[0])] == nil { values[String(parts[0])] = String(parts[1]) }
        }
        if let command = values["proxycommand"], command != "none" { return nil }
        guard let host = values["hostname"] else { return nil }
        let port = Int(values["port"] ?? "22") ?? 22
        let jump = values["proxyjump"].flatMap { $0 == "none" ? nil : $0.split(separator: ",").first.map(String.init) }
        return (host, port, jump)
    }
}

extension KubectlForward {
    /// `kubectl port-forward --address 127.0.0.1 TARGET INNER:REMOTE` with `--context`/`--namespace`.
    public func portForward(inner: Int) -> [String] {
        ["kubectl"] + scope + ["port-forward", "--address", "127.0.0.1", target, "\(inner):\(remotePort)"]
    }

    /// The API server's URL from the kubeconfig (no request to the cluster).
    public var serverLookup: [String] {
        ["kubectl"] + scope + ["config", "view", "--minify", "-o", "jsonpath={.clusters[0].cluster.server}"]
    }

    private var scope: [String] {
        (context.map { ["--context", $0] } ?? []) + (namespace.map { ["--namespace", $0] } ?? [])
    }

    /// `https://host:port` → where a TCP connect tells whether the API server is up.
    public static func serverAddress(_ url: String) -> (host: String, port: Int)? {
        guard let components = URLComponents(string: url.trimmingCharacters(in: .whitespacesAndNewlines)), let host = components.host,
            !host.isEmpty
        else { return nil }
        return (host, components.port ?? (components.scheme == "http" ? 80 : 443))
    }
}

/// The private folder for ssh's control sockets: created 0700, and refused when it is not this user's
/// own 0700 folder (a socket there lets anyone who can reach it use the authenticated connection).
public enum ControlDirectory {
    public static func prepare(base: String? = nil) throws -> String {
        let root = base ?? ProcessInfo.processInfo.environment["XDG_RUNTIME_DIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        let path = "\(root)/devhost-ssh-\(getuid())"
        if mkdir(path, 0o700) != 0, errno != EEXIST {
            throw ForwardError.controlDirectory(path, String(cString: strerror(errno)))
        }
        var info = stat()
        guard lstat(path, &info) == 0 else { throw ForwardError.controlDirectory(path, String(cString: strerror(errno))) }
        guard info.st_mode & S_IFMT == S_IFDIR, info.st_uid == getuid(), info.st_mode & 0o077 == 0 else {
            throw ForwardError.controlDirectory(path, "not a folder of this user with mode 0700; remove it and start again")
        }
        return path
    }
}

public enum ForwardError: Error, CustomStringConvertible {
    case controlDirectory(String, String)

    public var description: String {
        switch self {
        case .controlDirectory(let path, let reason): return "ssh control folder \(path): \(reason)"
        }
    }
}
