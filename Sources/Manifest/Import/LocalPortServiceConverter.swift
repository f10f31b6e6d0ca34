/// One LocalPort service → one devhost service's YAML, with a note for each field that cannot carry over.
struct LocalPortServiceConverter {
    let file: String
    var issues: [ManifestIssue] = []
    var notes: [String] = []

    init(file: String) {
        self.file = file
    }

    mutating func convert(_ node: YAMLNode, defaults: YAMLNode?) -> (name: String, yaml: String)? {
        guard node.entries != nil, let rawName = node["name"]?.scalar, !rawName.isEmpty else {
            issues.append(ManifestIssue(path: "services", message: "a service without a name", at: node.location))
            return nil
        }
        let name = Self.serviceName(rawName)
        if name != rawName { notes.append("\(rawName): renamed \(name) (devhost service names are letters, digits, - and _)") }
        func int(_ key: String, in parent: YAMLNode? = nil) -> Int? { (parent ?? node)[key]?.scalar.flatMap { Int($0) } }
        guard let localPort = int("local_port"), let remotePort = int("remote_port"),
            (1...65535).contains(localPort), (1...65535).contains(remotePort)
        else {
            issues.append(
                ManifestIssue(path: "services.\(rawName)", message: "needs local_port and remote_port (1-65535)", at: node.location))
            return nil
        }
        guard let connection = node["connection"], connection.entries != nil else {
            issues.append(ManifestIssue(path: "services.\(rawName).connection", message: "is missing", at: node.location))
            return nil
        }
        var lines: [String] = []
        if let description = node["description"]?.scalar { lines.append("  # \(description)") }
        lines.append("  \(name):")
        switch node["technology"]?.scalar {
        case "kubectl":
            lines += kubectl(connection, remotePort: remotePort, service: name)
        case "ssh":
            lines += ssh(connection, remotePort: remotePort, service: name)
        case let other:
            issues.append(
                ManifestIssue(
                    path: "services.\(rawName).technology", message: "\"\(other ?? "")\" is not kubectl or ssh",
                    at: node["technology"]?.location ?? node.location))
            return nil
        }
        lines.append("    port: \(localPort)")
        // Without one LocalPort does not monitor the forward; devhost's default (a TCP check) applies.
        if let check = node["health_check"] ?? defaults?["health_check"] { lines += health(check, localPort: localPort, service: name) }
        if let policy = node["restart_policy"] ?? defaults?["restart_policy"] { lines += restart(policy, service: name) }
        if node["enabled"]?.scalar == "false" {
            lines.append("    profiles: [disabled]")
            notes.append("\(name).enabled: false became profiles: [disabled] (`devhost up --profile disabled` starts it)")
        }
        if let tags = node["tags"]?.items?.compactMap(\.scalar), !tags.isEmpty {
            lines.append("    x-localport-tags: [\(tags.map(Self.scalar).joined(separator: ", "))]")
            notes.append("\(name).tags: kept as x-localport-tags; devhost has no tags (`devhost up \(name) …` starts a subset)")
        }
        return (name, lines.joined(separator: "\n") + "\n")
    }

    private mutating func kubectl(_ connection: YAMLNode, remotePort: Int, service: String) -> [String] {
        let resource = connection["resource_name"]?.scalar ?? service
        var target: String
        switch connection["resource_type"]?.scalar ?? "service" {
        case "deployment": target = "deploy/\(resource)"
        case "pod": target = "pod/\(resource)"
        case "statefulset":
            target = "pod/\(resource)-0"
            notes.append("\(service).connection.resource_type: statefulset became its first pod, pod/\(resource)-0")
        default: target = "svc/\(resource)"
        }
        var fields: [String] = []
        if let context = connection["context"]?.scalar { fields.append("context: \(Self.scalar(context))") }
        if let namespace = connection["namespace"]?.scalar { fields.append("namespace: \(Self.scalar(namespace))") }
        fields += ["target: \(Self.scalar(target))", "remote_port: \(remotePort)"]
        return ["    forward:", "      kubectl: { \(fields.joined(separator: ", ")) }"]
    }

    private mutating func ssh(_ connection: YAMLNode, remotePort: Int, service: String) -> [String] {
        var fields: [String] = []
        fields.append("host: \(Self.scalar(connection["host"]?.scalar ?? ""))")
        if let user = connection["user"]?.scalar { fields.append("user: \(Self.scalar(user))") }
        if let port = connection["port"]?.scalar, port != "22" { fields.append("port: \(port)") }
        if let key = connection["key_file"]?.scalar { fields.append("identity_file: \(Self.scalar(key))") }
        if connection["password"] != nil {
            notes.append(
                "\(service).connection.password: not carried over: devhost runs ssh with BatchMode (keys, the agent, ~/.ssh/config), never sshpass"
            )
        }
        let remoteHost = connection["remote_host"]?.scalar ?? "localhost"
        return [
            "    forward:", "      ssh: { \(fields.joined(separator: ", ")) }",
            "      remote: \(Self.scalar("\(remoteHost):\(remotePort)"))",
        ]
    }

    private mutating func health(_ check: YAMLNode, localPort: Int, service: String) -> [String] {
        let config = check["config"]
        let path = "\(service).health_check"
        var probe = "tcp: true"
        func localTarget(_ host: String?, _ port: String?) -> Bool {
            (host == nil || ["localhost", "127.0.0.1", "::1"].contains(host!)) && (port == nil || port == String(localPort))
        }
        switch check["type"]?.scalar ?? "tcp" {
        case "tcp":
            if !localTarget(config?["host"]?.scalar, config?["port"]?.scalar) {
                notes.append("\(path).config: checks another host or port; devhost checks the forward's own port")
            }
        case "http":
            let url = config?["url"]?.scalar ?? "http://localhost:\(localPort)/health"
            if let parsed = Self.httpURL(url), localTarget(parsed.host, parsed.port) {
                probe = "http: \(Self.scalar(parsed.path))"
            } else {
                notes.append("\(path).config.url: \(url) is not this forward's local port; devhost checks its port over TCP instead")
            }
            if let codes = config?["expected_status_codes"]?.items?.compactMap({ $0.scalar.flatMap { Int($0) } }),
                codes.contains(where: { !(200..<400).contains($0) })
            {
                notes.append("\(path).config.expected_status_codes: devhost takes 2xx and 3xx as healthy")
            }
            for key in ["expected_content", "headers"] where config?[key] != nil {
                notes.append("\(path).config.\(key): not carried over (devhost's http check looks at the status only)")
            }
            if let method = config?["method"]?.scalar, method.uppercased() != "GET" {
                notes.append("\(path).config.method: \(method) not carried over (devhost sends GET)")
            }
        case "https":
            notes.append("\(path).type: https (accepted by LocalPort but never run by it) became a TCP check")
        case "postgres", "postgresql":
            let user = config?["user"]?.scalar ?? "postgres"
            let database = config?["database"]?.scalar ?? user
            probe = "postgres: { user: \(Self.scalar(user)), database: \(Self.scalar(database)) }"
            if config?["password"] != nil {
                notes.append("\(path).config.password: not needed: a server that asks for the password is up and counts as healthy")
            }
            if config?["sslmode"] != nil { notes.append("\(path).config.sslmode: not carried over (the check does not negotiate TLS)") }
            if !localTarget(config?["host"]?.scalar, config?["port"]?.scalar) {
                notes.append("\(path).config: checks another host or port; devhost checks the forward's own port")
            }
        case "kafka":
            probe = "kafka: true"
            if let servers = config?["bootstrap_servers"]?.scalar, servers != "localhost:\(localPort)", servers != "127.0.0.1:\(localPort)"
            {
                notes.append("\(path).config.bootstrap_servers: \(servers) not carried over; devhost asks the forward's own port")
            }
        case let other:
            notes.append("\(path).type: \(other) is unknown to LocalPort; a TCP check instead")
        }
        var fields = [probe]
        if let interval = check["interval"]?.scalar { fields.append("interval: \(interval)s") } else { fields.append("interval: 30s") }
        if let timeout = check["timeout"]?.scalar { fields.append("timeout: \(timeout)s") } else { fields.append("timeout: 5s") }
        if let threshold = check["failure_threshold"]?.scalar { fields.append("retries: \(threshold)") }
        if check["success_threshold"] != nil { notes.append("\(path).success_threshold: not carried over (unused by LocalPort too)") }
        if check["cluster_aware"] != nil {
            notes.append("\(path).cluster_aware: not needed: devhost waits for an unreachable cluster without restarting")
        }
        return ["    health: { \(fields.joined(separator: ", ")) }"]
    }

    private mutating func restart(_ policy: YAMLNode, service: String) -> [String] {
        if policy["enabled"]?.scalar == "false" { return ["    restart: no"] }
        var lines: [String] = []
        if let attempts = policy["max_attempts"]?.scalar { lines.append("    max_restarts: \(attempts)") }
        for key in ["initial_delay", "backoff_multiplier", "max_delay"] where policy[key] != nil {
            notes.append("\(service).restart_policy.\(key): not carried over (devhost's own exponential backoff applies)")
        }
        return lines
    }

    static func serviceName(_ name: String) -> String {
        let mapped = String(name.map { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") ? $0 : "-" })
        let trimmed = mapped.drop { $0 == "-" || $0 == "_" }
        return String((trimmed.isEmpty ? "service" : trimmed).prefix(63))
    }

    static func httpURL(_ url: String) -> (host: String, port: String?, path: String)? {
        guard url.hasPrefix("http://") else { return nil }
        let rest = url.dropFirst(7)
        let authority = rest.prefix { $0 != "/" }
        let path = rest.dropFirst(authority.count)
        let parts = authority.split(separator: ":", maxSplits: 1)
        return (String(parts.first ?? ""), parts.count > 1 ? String(parts[1]) : "80", path.isEmpty ? "/" : String(path))
    }

    /// A YAML scalar: plain when that reads back as the same string, else double-quoted.
    static func scalar(_ text: String) -> String {
        let plain = text.range(of: #"^[A-Za-z0-9_./~][A-Za-z0-9_./~@:-]*$"#, options: .regularExpression) != nil
        let reserved = ["true", "false", "yes", "no", "on", "off", "null", "~", "y", "n"].contains(text.lowercased())
        if plain, !reserved, Double(text) == nil { return text }
        var quoted = "\""
        for character in text {
            switch character {
            case "\"": quoted += "\\\""
            case "\\": quoted += "\\\\"
            case "\n": quoted += "\\n"
            default: quoted.append(character)
            }
        }
        return quoted + "\""
    }
}
