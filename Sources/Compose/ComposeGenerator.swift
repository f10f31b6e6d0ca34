import DevhostManifest
import Foundation

/// Describes a manifest's services for Docker Compose.
///
/// In a container every service has its own network namespace, so an `auto` port becomes the fixed
/// container port 8000 (`PORT` is set to it) and services find each other by name (`http://api:8000`).
/// Routed services are published on loopback at deterministic host ports, so the output is the same
/// on every machine and `devhost compose --check` is stable in CI.
public struct ComposeGenerator: Sendable {
    public static let autoContainerPort = ContainerText.autoContainerPort
    public static let firstHostPort = 8000

    public let manifest: Manifest
    /// Forward services are left out: nothing runs for them in a container.
    let omission: ForwardOmission

    public init(manifest: Manifest) {
        self.manifest = manifest
        self.omission = ForwardOmission(manifest)
    }

    private func fileExists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

    private func readFile(_ path: String) -> String? {
        FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) }
    }

    struct Endpoint {
        var containerPort: Int
        /// First published host port, when the service has a route.
        var hostPort: Int?
    }

    /// The compose document and comment lines keyed by the dotted path they stand above.
    public func document() throws -> (document: YAMLNode, comments: [String: [String]]) {
        let endpoints = assignPorts()
        var services: [(String, YAMLNode)] = []
        var comments: [String: [String]] = [:]
        for service in omission.manifest.services {
            var (node, notes) = try composeService(service, endpoints: endpoints)
            notes = omission.notes(for: omission.original(service), globalEnv: manifest.env) + notes
            services.append((service.name, node))
            if !notes.isEmpty { comments["services.\(service.name)"] = notes }
        }
        var document = YAMLNode.map([("services", .map(services))])
        if let extra = manifest.compose { document = document.composeMerged(with: extra) }
        return (document, comments)
    }

    func assignPorts() -> [String: Endpoint] {
        var taken = Set(
            omission.manifest.services.compactMap { service -> Int? in
                if case .fixed(let port) = service.port { return port }
                return nil
            })
        var next = Self.firstHostPort
        var endpoints: [String: Endpoint] = [:]
        for service in omission.manifest.services {
            switch service.port {
            case .none: continue
            case .fixed(let port):
                endpoints[service.name] = Endpoint(containerPort: port, hostPort: service.routes.isEmpty ? nil : port)
            case .auto:
                var hostPort: Int?
                if !service.routes.isEmpty {
                    while (next..<next + service.replicas).contains(where: taken.contains) { next += 1 }
                    hostPort = next
                    for port in next..<next + service.replicas { taken.insert(port) }
                    next += service.replicas
                }
                endpoints[service.name] = Endpoint(containerPort: Self.autoContainerPort, hostPort: hostPort)
            }
        }
        return endpoints
    }

    private func composeService(_ service: Service, endpoints: [String: Endpoint]) throws -> (YAMLNode, [String]) {
        var pairs: [(String, YAMLNode)] = []
        var notes: [String] = []
        let reference = { (ref: Interpolation.ServiceReference) -> String in
            let endpoint = endpoints[ref.service]
            let port = endpoint?.containerPort ?? Self.autoContainerPort
            switch ref.field {
            case .host: return ref.service
            case .port: return String(port)
            case .url: return "http://\(ref.service):\(port)"
            case .publicURL, .publicHTTPURL: return "http://localhost:\(endpoint?.hostPort ?? port)"
            }
        }
        let dockerfilePath = URL(fileURLWithPath: service.cwd).appendingPathComponent("Dockerfile").path
        let hasDockerfile = fileExists(dockerfilePath)
        if let image = service.image {
            pairs.append(("image", .string(image)))
        } else {
            var build: [(String, YAMLNode)] = [("context", .string(service.relativeCwd))]
            if hasDockerfile { build.append(("dockerfile", .string("Dockerfile"))) }
            pairs.append(("build", .map(build)))
            if !hasDockerfile {
                notes.append("\(service.relativeCwd)/Dockerfile does not exist yet: add one, or set image: in devhost.yml")
            }
        }
        if let setup = service.setup {
            notes.append("setup (\(setup)) is not run by compose: it belongs in the Dockerfile")
        }
        for route in service.routeEntries {
            guard let path = route.path else { continue }
            let host = route.host == "@" ? "the project's host" : route.host
            notes.append(
                "route \(path) under \(host)\(route.stripPrefix ? " (prefix stripped)" : "") is not carried over: compose has no routing; "
                    + "the service is published on its own port, so put a reverse proxy in front for one origin")
        }
        pairs.append(
            (
                "command",
                .strings(try ContainerText.command(service.command, port: endpoints[service.name]?.containerPort, reference: reference))
            ))

        var environment: [(String, YAMLNode)] = []
        let endpoint = endpoints[service.name]
        if let endpoint {
            environment.append(("PORT", .string(String(endpoint.containerPort))))
            // In a container, loopback is private to the container: listen on every interface.
            environment.append(("HOST", .string("0.0.0.0")))
        }
        environment.append(("DEVHOST_SERVICE", .string(service.name)))
        let seen = Set(environment.map(\.0))
        let merged = ContainerText.mergedEnv(manifest.env, service.env)
        for entry in merged where !seen.contains(entry.key) {
            let segments = try Interpolation.parse(entry.value)
            environment.append((entry.key, .string(ContainerText.text(segments, variables: .compose, reference: reference))))
        }
        pairs.append(("environment", .map(environment)))

        let envFiles = [manifest.envFile, service.envFile].compactMap { $0 }.filter(fileExists)
        if !envFiles.isEmpty {
            pairs.append(("env_file", .strings(envFiles.map { relative($0) })))
        }
        if let endpoint, let hostPort = endpoint.hostPort {
            let hostRange = service.replicas > 1 ? "\(hostPort)-\(hostPort + service.replicas - 1)" : String(hostPort)
            pairs.append(("ports", .strings(["127.0.0.1:\(hostRange):\(endpoint.containerPort)"])))
        }
        if !service.dependsOn.isEmpty {
            pairs.append(
                (
                    "depends_on",
                    .map(
                        service.dependsOn.map { dependency in
                            let condition: String
                            switch dependency.condition {
                            case .started: condition = "service_started"
                            case .healthy: condition = "service_healthy"
                            case .completed: condition = "service_completed_successfully"
                            }
                            return (dependency.service, .map([("condition", .string(condition))]))
                        })
                ))
        }
        if let health = service.health {
            let family = ImageFamily.guess(
                image: service.image, dockerfile: hasDockerfile ? readFile(dockerfilePath) : nil, command: service.command)
            let port = endpoint?.containerPort ?? Self.autoContainerPort
            var probe = health.probe
            if let note = ComposeHealthcheck.note(for: probe) { notes.append(note) }
            if case .exec(let command) = probe {
                probe = .exec(try ContainerText.shellLine(command, reference: reference))
            }
            pairs.append(
                (
                    "healthcheck",
                    .map([
                        ("test", .strings(ComposeHealthcheck.test(for: probe, port: port, family: family))),
                        ("interval", .string(DurationText.format(health.interval))),
                        ("timeout", .string(DurationText.format(health.timeout))),
                        ("retries", .int(health.retries)),
                        ("start_period", .string(DurationText.format(health.startPeriod))),
                    ])
                ))
        }
        switch service.restart {
        case .no: pairs.append(("restart", .string("no")))
        case .onFailure: pairs.append(("restart", .string("on-failure")))
        case .always: pairs.append(("restart", .string("always")))
        }
        if service.replicas > 1 { pairs.append(("deploy", .map([("replicas", .int(service.replicas))]))) }
        // Compose has the same profiles with the same rules (`docker compose --profile NAME up`).
        if !service.profiles.isEmpty { pairs.append(("profiles", .strings(service.profiles))) }
        if service.stopSignal != .term { pairs.append(("stop_signal", .string(service.stopSignal.rawValue))) }
        if service.stopTimeout != .seconds(10) { pairs.append(("stop_grace_period", .string(DurationText.format(service.stopTimeout)))) }

        var node = YAMLNode.map(pairs)
        if let extra = service.compose { node = node.composeMerged(with: extra) }
        return (node, notes)
    }

    private func relative(_ path: String) -> String {
        let base = manifest.directory.hasSuffix("/") ? manifest.directory : manifest.directory + "/"
        return path.hasPrefix(base) ? String(path.dropFirst(base.count)) : path
    }
}
