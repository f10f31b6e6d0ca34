extension Manifest {
    /// The resolved model as `devhost validate --json` prints it.
    public var json: JSONValue {
        .object([
            ("name", .string(name)),
            ("file", .string(file)),
            ("overlays", .array(overlays.map(JSONValue.string))),
            ("directory", .string(directory)),
            ("proxy", .object([("port", .int(proxy.port)), ("bind", .string(proxy.bind)), ("domain", .string(proxy.domain))])),
            ("env_file", envFile.map(JSONValue.string) ?? .null),
            ("env", Self.json(env)),
            ("services", .array(services.map { $0.json(in: self) })),
            ("warnings", .array(warnings.map { .string($0.description) })),
        ])
    }

    static func json(_ env: [EnvEntry]) -> JSONValue {
        .object(env.map { ($0.key, .string($0.value)) })
    }
}

extension Service {
    public func json(in manifest: Manifest) -> JSONValue {
        let portValue: JSONValue
        switch port {
        case .auto: portValue = .string("auto")
        case .fixed(let number): portValue = .int(number)
        case .none: portValue = .string("none")
        }
        let commandValue: JSONValue
        switch command {
        case .shell(let text): commandValue = .string(text)
        case .argv(let words): commandValue = .array(words.map(JSONValue.string))
        }
        return .object([
            ("name", .string(name)),
            ("command", commandValue),
            ("cwd", .string(cwd)),
            ("port", portValue),
            ("routes", .array(routeEntries.map { .string(manifest.address(of: $0)) })),
            ("replicas", .int(replicas)),
            (
                "depends_on",
                .array(dependsOn.map { .object([("service", .string($0.service)), ("condition", .string($0.condition.rawValue))]) })
            ),
            ("health", health.map(\.json) ?? .null),
            ("restart", .string(restart.rawValue)),
            ("max_restarts", maxRestarts.map(JSONValue.int) ?? .null),
            ("setup", setup.map { .string($0.description) } ?? .null),
            ("setup_inputs", .array(setupInputs.map(JSONValue.string))),
            ("stop_signal", .string(stopSignal.rawValue)),
            ("stop_timeout", .string(DurationText.format(stopTimeout))),
            ("env", Manifest.json(env)),
            ("env_file", envFile.map(JSONValue.string) ?? .null),
            ("host_header", .string(rewriteHost ? "upstream" : "preserve")),
            ("protocol", .string(upstreamProtocol.rawValue)),
            ("watch", .array(watch.map(JSONValue.string))),
        ])
    }
}

extension HealthCheck {
    public var json: JSONValue {
        var pairs: [(String, JSONValue)]
        switch probe {
        case .http(let path): pairs = [("http", .string(path))]
        case .tcp: pairs = [("tcp", .bool(true))]
        case .exec(let command): pairs = [("exec", .string(command))]
        case .postgres(let user, let database):
            pairs = [("postgres", .object([("user", .string(user)), ("database", .string(database))]))]
        case .redis(let user, let password):
            // The password itself stays out of status and schema output.
            var fields: [(String, JSONValue)] = []
            if let user { fields.append(("user", .string(user))) }
            if password != nil { fields.append(("password", .string("********"))) }
            pairs = [("redis", fields.isEmpty ? .bool(true) : .object(fields))]
        case .mysql: pairs = [("mysql", .bool(true))]
        case .kafka: pairs = [("kafka", .bool(true))]
        case .grpc(let service): pairs = [("grpc", .string(service))]
        }
        pairs += [
            ("interval", .string(DurationText.format(interval))),
            ("timeout", .string(DurationText.format(timeout))),
            ("retries", .int(retries)),
            ("start_period", .string(DurationText.format(startPeriod))),
        ]
        return .object(pairs)
    }
}
