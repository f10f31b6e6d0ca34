/// `health:` — one probe (http, tcp, exec or a wire protocol) and its timing.
extension ManifestDecoder {
    mutating func decodeHealth(_ node: YAMLNode?, service: Service, path: String) -> HealthCheck? {
        guard let node else { return service.hasPort ? HealthCheck(probe: .tcp) : nil }
        if node.isNull { return nil }
        if case .scalar(let text, quoted: false) = node.kind, text == "false" || text == "none" { return nil }
        guard let entries = reader.mapping(node, path, allowed: ManifestKeys.health) else { return nil }
        var check = HealthCheck(probe: .tcp)
        var probes: [(String, HealthCheck.Probe)] = []
        for entry in entries {
            let keyPath = "\(path).\(entry.key)"
            let value = entry.value
            switch entry.key {
            case "http":
                if let target = reader.nonEmptyString(value, keyPath) {
                    if target.hasPrefix("/") {
                        probes.append((entry.key, .http(path: target)))
                    } else {
                        reader.fail(keyPath, "\"\(target)\" must be a path starting with /", at: value.location)
                    }
                }
            case "tcp":
                if reader.bool(value, keyPath) == true { probes.append((entry.key, .tcp)) }
            case "exec":
                if let command = reader.command(value, keyPath) {
                    probes.append(
                        (entry.key, .exec(command.argv.count == 3 && command.argv[0] == "/bin/sh" ? command.argv[2] : command.description)))
                }
            case "postgres":
                if let probe = decodePostgres(value, keyPath) { probes.append((entry.key, probe)) }
            case "redis":
                if let probe = decodeRedis(value, keyPath) { probes.append((entry.key, probe)) }
            case "mysql":
                if reader.bool(value, keyPath) == true { probes.append((entry.key, .mysql)) }
            case "kafka":
                if reader.bool(value, keyPath) == true { probes.append((entry.key, .kafka)) }
            case "grpc":
                // An empty name is grpc.health.v1's "the server as a whole", so it is allowed.
                if let name = reader.string(value, keyPath) { probes.append((entry.key, .grpc(service: name))) }
            case "interval": check.interval = reader.duration(value, keyPath) ?? check.interval
            case "timeout": check.timeout = reader.duration(value, keyPath) ?? check.timeout
            case "retries": check.retries = reader.int(value, keyPath, in: 1...1000) ?? check.retries
            case "start_period": check.startPeriod = reader.duration(value, keyPath) ?? check.startPeriod
            default: break
            }
        }
        switch probes.count {
        case 0:
            guard service.hasPort else {
                reader.fail(path, "needs one of http, tcp or exec (a service without a port has nothing to connect to)", at: node.location)
                return nil
            }
        case 1:
            check.probe = probes[0].1
        default:
            reader.fail(path, "has \(probes.map(\.0).joined(separator: " and ")): choose one probe", at: node.location)
        }
        if !service.hasPort, probes.count == 1, probes[0].1.needsPort {
            reader.fail(path, "\(probes[0].0) needs a port, but the service has port: none", at: node.location)
        }
        return check
    }

    /// `postgres: true` or `postgres: { user, database }`; like libpq, the user defaults to postgres
    /// and the database to the user.
    private mutating func decodePostgres(_ node: YAMLNode, _ path: String) -> HealthCheck.Probe? {
        if node.entries == nil {
            return reader.bool(node, path) == true ? .postgres(user: "postgres", database: "postgres") : nil
        }
        guard let fields = reader.mapping(node, path, allowed: ManifestKeys.postgresHealth) else { return nil }
        var user: String?
        var database: String?
        for field in fields {
            let value = reader.nonEmptyString(field.value, "\(path).\(field.key)")
            if field.key == "user" { user = value } else { database = value }
        }
        let name = user ?? "postgres"
        return .postgres(user: name, database: database ?? name)
    }

    /// `redis: true` or `redis: { password, user }` (a user is Redis 6's ACL user; without one AUTH
    /// takes the password alone).
    private mutating func decodeRedis(_ node: YAMLNode, _ path: String) -> HealthCheck.Probe? {
        if node.entries == nil {
            return reader.bool(node, path) == true ? .redis(user: nil, password: nil) : nil
        }
        guard let fields = reader.mapping(node, path, allowed: ManifestKeys.redisHealth) else { return nil }
        var user: String?
        var password: String?
        for field in fields {
            let value = reader.string(field.value, "\(path).\(field.key)")
            if field.key == "user" { user = value } else { password = value }
        }
        if user != nil, password == nil, let field = fields.first(where: { $0.key == "user" }) {
            reader.fail("\(path).user", "needs a password next to it (AUTH takes both)", at: field.value.location)
        }
        return .redis(user: user, password: password)
    }
}
