import Foundation

/// Turns a YAML tree into a `Manifest`, checking each value where it stands.
/// Checks that need the whole project (cycles, references, routes, ports) live in `ManifestValidator`.
struct ManifestDecoder {
    var reader = NodeReader()
    let directory: String
    let defaultName: String

    mutating func decode(_ root: YAMLNode?, file: String) -> Manifest {
        var manifest = Manifest(name: defaultName, file: file, directory: directory, services: [])
        guard let root else {
            reader.fail(
                "", "the manifest is empty (it needs at least a services: mapping)", at: SourceLocation(file: file, line: 1, column: 1))
            return manifest
        }
        guard let entries = reader.mapping(root, "", allowed: ManifestKeys.root) else { return manifest }
        var sawServices = false
        for entry in entries {
            let path = entry.key
            let node = entry.value
            switch entry.key {
            case "name":
                if let name = reader.string(node, path) {
                    if let problem = DNSLabel.problem(name) {
                        reader.fail(path, "\"\(name)\" \(problem)", at: node.location)
                    } else {
                        manifest.name = name
                    }
                }
            case "proxy": decodeProxy(node, into: &manifest.proxy)
            case "env_file": manifest.envFile = reader.nonEmptyString(node, path).map(absolute)
            case "env": manifest.env = reader.env(node, path)
            case "compose":
                if node.entries == nil { reader.fail(path, "expected a mapping of compose keys", at: node.location) }
                manifest.compose = node
            case "services":
                sawServices = true
                guard let services = node.entries else {
                    reader.fail(path, "expected a mapping of service names to services, found \(reader.describe(node))", at: node.location)
                    continue
                }
                if services.isEmpty { reader.fail(path, "declares no service", at: node.location) }
                for service in services {
                    if let decoded = decodeService(service) { manifest.services.append(decoded) }
                }
            default: break
            }
        }
        if !sawServices { reader.fail("services", "is missing: declare at least one service", at: root.location) }
        return manifest
    }

    private mutating func decodeProxy(_ node: YAMLNode, into proxy: inout ProxySettings) {
        guard let entries = reader.mapping(node, "proxy", allowed: ManifestKeys.proxy) else { return }
        for entry in entries {
            let path = "proxy.\(entry.key)"
            switch entry.key {
            case "port": if let port = reader.int(entry.value, path, in: 1...65535) { proxy.port = port }
            case "bind": if let bind = reader.nonEmptyString(entry.value, path) { proxy.bind = bind }
            case "domain":
                if let domain = reader.nonEmptyString(entry.value, path) {
                    let labels = domain.split(separator: ".", omittingEmptySubsequences: false)
                    if let bad = labels.lazy.compactMap({ DNSLabel.problem(String($0)) }).first {
                        reader.fail(path, "\"\(domain)\" is not a domain: a label \(bad)", at: entry.value.location)
                    } else {
                        proxy.domain = domain.lowercased()
                    }
                }
            case "https_port": if let port = reader.int(entry.value, path, in: 0...65535) { proxy.httpsPort = port }
            case "inspect": if let inspect = reader.bool(entry.value, path) { proxy.inspect = inspect }
            case "https":
                if let text = reader.string(entry.value, path) {
                    if let mode = HTTPSMode(rawValue: text) {
                        proxy.https = mode
                    } else {
                        reader.fail(path, "\"\(text)\" is not an https mode (prefer, both, off)", at: entry.value.location)
                    }
                }
            default: break
            }
        }
    }

    private mutating func decodeService(_ entry: YAMLNode.Entry) -> Service? {
        let name = entry.key
        let base = "services.\(name)"
        if let problem = ServiceName.problem(name) {
            reader.fail(base, "\"\(name)\" is not a valid service name: it \(problem)", at: entry.keyLocation)
        }
        guard let entries = reader.mapping(entry.value, base, allowed: ManifestKeys.service) else { return nil }
        var service = Service(name: name, command: .shell(""), cwd: directory, location: entry.keyLocation)
        var routeNode: YAMLNode?
        var healthNode: YAMLNode?
        var sawCommand = false
        var maxRestartsSet = false
        for item in entries {
            let path = "\(base).\(item.key)"
            let node = item.value
            service.locations[item.key] = node.location
            switch item.key {
            case "command":
                sawCommand = true
                if let command = reader.command(node, path) { service.command = command }
            case "cwd":
                if let cwd = reader.nonEmptyString(node, path) {
                    service.relativeCwd = cwd
                    service.cwd = absolute(cwd)
                }
            case "env": service.env = reader.env(node, path)
            case "env_file": service.envFile = reader.nonEmptyString(node, path).map(absolute)
            case "port": service.port = decodePort(node, path) ?? service.port
            case "route": routeNode = node
            case "replicas": service.replicas = reader.int(node, path, in: 1...64) ?? service.replicas
            case "depends_on": service.dependsOn = decodeDependencies(node, path)
            case "health": healthNode = node
            case "restart":
                if let text = reader.string(node, path) {
                    // YAML reads a plain `no` as false; the user meant the policy.
                    let normalized = text == "false" ? "no" : text
                    if let policy = RestartPolicy(rawValue: normalized) {
                        service.restart = policy
                    } else {
                        reader.fail(path, "\"\(text)\" is not a restart policy (no, on-failure, always)", at: node.location)
                    }
                }
            case "max_restarts":
                maxRestartsSet = true
                service.maxRestarts = reader.int(node, path, in: 0...1_000_000)
            case "setup": service.setup = reader.command(node, path)
            case "setup_inputs": service.setupInputs = reader.stringList(node, path) ?? []
            case "stop_signal":
                if let text = reader.string(node, path) {
                    if let signal = StopSignal(name: text) {
                        service.stopSignal = signal
                    } else {
                        let names = StopSignal.allCases.map(\.rawValue).joined(separator: ", ")
                        reader.fail(path, "\"\(text)\" is not a signal devhost can send (\(names))", at: node.location)
                    }
                }
            case "stop_timeout": service.stopTimeout = reader.duration(node, path) ?? service.stopTimeout
            case "image": service.image = reader.nonEmptyString(node, path)
            case "compose":
                if node.entries == nil { reader.fail(path, "expected a mapping of compose service keys", at: node.location) }
                service.compose = node
            case "host_header":
                if let text = reader.string(node, path) {
                    switch text {
                    case "preserve": service.rewriteHost = false
                    case "upstream": service.rewriteHost = true
                    default: reader.fail(path, "\"\(text)\" is not a host_header mode (preserve, upstream)", at: node.location)
                    }
                }
            case "watch": service.watch = reader.stringList(node, path) ?? []
            case "protocol": service.upstreamProtocol = decodeProtocol(node, path) ?? service.upstreamProtocol
            case "forward": service.forward = decodeForward(node, path)
            case "profiles": service.profiles = decodeProfiles(node, path)
            default: break
            }
        }
        if entries.contains(where: { $0.key == "forward" }) {
            checkForward(service, base: base, sawCommand: sawCommand)
        } else if !sawCommand {
            reader.fail("\(base).command", "is missing: say what runs this service", at: entry.keyLocation)
        }
        if !maxRestartsSet, service.restart == .no { service.maxRestarts = 0 }
        service.routeEntries = decodeRoutes(routeNode, service: service, path: "\(base).route")
        service.health = decodeHealth(healthNode, service: service, path: "\(base).health")
        if service.upstreamProtocol != .http1, !service.hasPort, let location = service.locations["protocol"] {
            reader.fail(
                "\(base).protocol", "\(service.upstreamProtocol.rawValue) needs a port, but the service has port: none", at: location)
        }
        if case .fixed = service.port, service.replicas > 1 {
            reader.fail(
                "\(base).replicas", "\(service.replicas) replicas cannot share the fixed port \(service.port); use port: auto",
                at: entry.keyLocation)
        }
        return service
    }

    private mutating func decodeProtocol(_ node: YAMLNode, _ path: String) -> UpstreamProtocol? {
        guard let text = reader.string(node, path) else { return nil }
        if let value = UpstreamProtocol(rawValue: text) { return value }
        let names = UpstreamProtocol.allCases.map(\.rawValue).joined(separator: ", ")
        // h2 and http2 are what people write; the upstream is spoken to in cleartext, which is h2c.
        let hint = ["h2", "http2"].contains(text.lowercased()) ? "; HTTP/2 in cleartext with prior knowledge is h2c" : ""
        reader.fail(path, "\"\(text)\" is not an upstream protocol (\(names)\(hint))", at: node.location)
        return nil
    }

    private mutating func decodePort(_ node: YAMLNode, _ path: String) -> PortSpec? {
        if node.isNull { return PortSpec.none }
        if case .scalar(let text, quoted: false) = node.kind {
            switch text {
            case "auto": return .auto
            case "none", "false": return PortSpec.none
            default: break
            }
        }
        if case .scalar(let text, _) = node.kind, let number = Int(text) {
            guard (1...65535).contains(number) else {
                reader.fail(path, "\(number) is out of range (1...65535)", at: node.location)
                return nil
            }
            return .fixed(number)
        }
        reader.fail(path, "expected auto, none or a port number, found \(reader.describe(node))", at: node.location)
        return nil
    }

    private mutating func decodeDependencies(_ node: YAMLNode, _ path: String) -> [Dependency] {
        if let items = node.items {
            var dependencies: [Dependency] = []
            for (index, item) in items.enumerated() {
                if let name = reader.string(item, "\(path)[\(index)]") {
                    dependencies.append(Dependency(service: name, location: item.location))
                }
            }
            return dependencies
        }
        guard let entries = node.entries else {
            reader.fail(path, "expected a list of services or a mapping of service: {condition}", at: node.location)
            return []
        }
        var dependencies: [Dependency] = []
        for entry in entries {
            let keyPath = "\(path).\(entry.key)"
            var conditionNode: YAMLNode?
            if entry.value.isNull {
                conditionNode = nil
            } else if entry.value.scalar != nil {
                conditionNode = entry.value
            } else if let fields = reader.mapping(entry.value, keyPath, allowed: ManifestKeys.dependency) {
                conditionNode = fields.first?.value
            } else {
                continue
            }
            var condition = Dependency.Condition.started
            if let conditionNode, let text = reader.string(conditionNode, "\(keyPath).condition") {
                // Compose spells these service_healthy etc.; accept them so a compose file's block pastes in.
                let stripped = text.replacingOccurrences(of: "service_", with: "").replacingOccurrences(of: "_successfully", with: "")
                if let parsed = Dependency.Condition(rawValue: stripped) {
                    condition = parsed
                } else {
                    let names = Dependency.Condition.allCases.map(\.rawValue).joined(separator: ", ")
                    reader.fail("\(keyPath).condition", "\"\(text)\" is not a condition (\(names))", at: conditionNode.location)
                }
            }
            dependencies.append(Dependency(service: entry.key, condition: condition, location: entry.keyLocation))
        }
        return dependencies
    }

    private func absolute(_ path: String) -> String {
        if path.hasPrefix("/") { return URL(fileURLWithPath: path).standardizedFileURL.path }
        return URL(fileURLWithPath: directory).appendingPathComponent(path).standardizedFileURL.path
    }
}
