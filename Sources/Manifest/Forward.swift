/// A service that is not a local process but a port on another machine, brought to a stable loopback
/// port by a supervised `ssh` tunnel or `kubectl port-forward` (`forward:` in devhost.yml).
public struct Forward: Sendable, Equatable, CustomStringConvertible {
    public enum Via: Sendable, Equatable {
        case ssh(SSHForward)
        case kubectl(KubectlForward)
    }

    public var via: Via

    public init(_ via: Via) {
        self.via = via
    }

    /// What the forward reaches, as `devhost status` shows it: `ssh deploy@bastion → db.internal:5432`.
    public var description: String {
        switch via {
        case .ssh(let ssh):
            let jumps = ssh.jump.isEmpty ? "" : " via \(ssh.jump.joined(separator: ","))"
            return "ssh \(ssh.destination)\(jumps) → \(ssh.remoteHost):\(ssh.remotePort)"
        case .kubectl(let kube):
            let scope = [kube.context, kube.namespace].compactMap { $0 }.joined(separator: "/")
            return "kubectl \(scope.isEmpty ? "" : scope + " ")\(kube.target):\(kube.remotePort)"
        }
    }
}

/// `forward: { ssh: { host, user, port, jump, identity_file }, remote: HOST:PORT }`.
public struct SSHForward: Sendable, Equatable {
    public var host: String
    public var user: String?
    /// The ssh port; nil leaves it to ssh (its config, else 22).
    public var port: Int?
    /// ProxyJump hosts, in order (`[user@]host[:port]`).
    public var jump: [String]
    /// As written (`~` is expanded by ssh itself); a relative path is made absolute against the manifest.
    public var identityFile: String?
    /// The far end, as the ssh host sees it.
    public var remoteHost: String
    public var remotePort: Int

    public init(
        host: String, user: String? = nil, port: Int? = nil, jump: [String] = [], identityFile: String? = nil, remoteHost: String,
        remotePort: Int
    ) {
        self.host = host
        self.user = user
        self.port = port
        self.jump = jump
        self.identityFile = identityFile
        self.remoteHost = remoteHost
        self.remotePort = remotePort
    }

    /// `user@host` or `host`, with `:port` when one is set.
    public var destination: String {
        (user.map { "\($0)@" } ?? "") + host + (port.map { ":\($0)" } ?? "")
    }

    /// `HOST:PORT` parsed, with IPv6 literals in brackets (`[::1]:5432`); nil when it is not that.
    public static func parseRemote(_ text: String) -> (host: String, port: Int)? {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (1...65535).contains(port)
        else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty, !host.contains(where: { $0 == " " || $0 == "/" || $0 == "@" }) else { return nil }
        return (host, port)
    }
}

/// `forward: { kubectl: { context, namespace, target: pod/x|svc/x|deploy/x, remote_port } }`.
public struct KubectlForward: Sendable, Equatable {
    public var context: String?
    public var namespace: String?
    /// `pod/NAME`, `svc/NAME` (or `service/`), `deploy/NAME` (or `deployment/`).
    public var target: String
    public var remotePort: Int

    public static let targetKinds = ["pod", "pods", "svc", "service", "services", "deploy", "deployment", "deployments"]

    public init(context: String? = nil, namespace: String? = nil, target: String, remotePort: Int) {
        self.context = context
        self.namespace = namespace
        self.target = target
        self.remotePort = remotePort
    }
}
