/// What a tunnel's own output says about why it ended (pure). Only what retrying cannot fix is final:
/// a host key that does not match and a refused authentication both need the user, so they are said
/// once, naming the host, instead of being retried into a lockout.
public enum ForwardFailure: Sendable, Equatable {
    /// The host key is unknown or changed (`known_hosts`).
    case hostKey(String)
    /// The server refused every key offered (`Permission denied (publickey)`).
    case authentication(String)
    /// DNS, a refused or timed-out connect, a connection lost: the remote may come back by itself.
    case unreachable(String)
    /// Anything else (a forward refused, kubectl's pod gone): retried with backoff.
    case other(String)

    public var isFinal: Bool {
        switch self {
        case .hostKey, .authentication: return true
        case .unreachable, .other: return false
        }
    }

    public var message: String {
        switch self {
        case .hostKey(let text), .authentication(let text), .unreachable(let text), .other(let text): return text
        }
    }

    /// Classifies the last lines of `ssh`'s or `kubectl`'s output; `host` names the destination in messages.
    public static func classify(_ lines: [String], host: String) -> ForwardFailure {
        let text = lines.joined(separator: "\n")
        func has(_ needle: String) -> Bool { text.range(of: needle, options: .caseInsensitive) != nil }
        if has("REMOTE HOST IDENTIFICATION HAS CHANGED") || has("Host key verification failed")
            || has("host key is known") || has("Host key for") && has("has changed")
        {
            return .hostKey(
                "ssh to \(host): the host key does not match known_hosts (or is unknown); check it and update known_hosts, devhost will not retry"
            )
        }
        if has("Permission denied (") || has("Too many authentication failures") || has("no more authentication methods") {
            return .authentication(
                "ssh to \(host): authentication refused (\(lastMeaningful(lines) ?? "permission denied")); check user, identity_file and the agent, devhost will not retry"
            )
        }
        let unreachable = [
            "Could not resolve hostname", "Name or service not known", "Temporary failure in name resolution", "Connection refused",
            "Connection timed out", "No route to host", "Network is unreachable", "Connection closed by", "Connection reset",
            "kex_exchange_identification", "Broken pipe", "not responding", "Unable to connect to the server",
            "connect: connection refused",
            "i/o timeout", "dial tcp",
        ]
        if unreachable.contains(where: has) {
            return .unreachable("\(host): \(lastMeaningful(lines) ?? "unreachable")")
        }
        return .other(lastMeaningful(lines) ?? "exited")
    }

    /// The last line that says something (ssh's debug noise and empty lines skipped).
    static func lastMeaningful(_ lines: [String]) -> String? {
        lines.last { line in
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            return !trimmed.isEmpty && !trimmed.hasPrefix("debug") && !trimmed.hasPrefix("Warning: Permanently added")
        }?.trimmingCharacters(in: .whitespaces)
    }
}
