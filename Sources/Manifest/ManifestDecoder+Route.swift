/// `route:`: absent (the service's name), `false`/`none`, a label, a mapping
/// `{ host, path, strip_prefix }`, or a list of labels and mappings.
extension ManifestDecoder {
    mutating func decodeRoutes(_ node: YAMLNode?, service: Service, path: String) -> [ServiceRoute] {
        guard let node else {
            // A service with a port is reachable by its own name unless it says otherwise.
            return service.hasPort ? [ServiceRoute(host: service.name.replacingOccurrences(of: "_", with: "-").lowercased())] : []
        }
        if node.isNull { return [] }
        if case .scalar(let text, quoted: false) = node.kind, text == "false" || text == "none" { return [] }
        let items: [(node: YAMLNode, path: String)]
        if let list = node.items {
            items = list.enumerated().map { ($0.element, "\(path)[\($0.offset)]") }
        } else {
            items = [(node, path)]
        }
        if !service.hasPort {
            reader.fail(path, "a service with port: none cannot have a route", at: node.location)
            return []
        }
        return items.compactMap { decodeRoute($0.node, path: $0.path) }
    }

    private mutating func decodeRoute(_ node: YAMLNode, path: String) -> ServiceRoute? {
        if node.entries == nil {
            guard let label = reader.string(node, path), let host = hostLabel(label, node, path) else { return nil }
            return ServiceRoute(host: host, location: node.location)
        }
        guard let entries = reader.mapping(node, path, allowed: ManifestKeys.route) else { return nil }
        var route = ServiceRoute(host: "", location: node.location)
        var strip: YAMLNode?
        var valid = true
        for entry in entries {
            let keyPath = "\(path).\(entry.key)"
            switch entry.key {
            case "host":
                if let label = reader.string(entry.value, keyPath), let host = hostLabel(label, entry.value, keyPath) {
                    route.host = host
                } else {
                    valid = false
                }
            case "path":
                guard let text = reader.string(entry.value, keyPath) else {
                    valid = false
                    continue
                }
                switch ServiceRoute.normalizedPath(text) {
                case .success(let normalized): route.path = normalized
                case .failure(let problem):
                    reader.fail(keyPath, "\"\(text)\" \(problem)", at: entry.value.location)
                    valid = false
                }
            case "strip_prefix":
                strip = entry.value
                route.stripPrefix = reader.bool(entry.value, keyPath) ?? false
            default: break
            }
        }
        if !entries.contains(where: { $0.key == "host" }) {
            reader.fail("\(path).host", "is missing: say which host (\"@\" for the project's own) the path is under", at: node.location)
            return nil
        }
        if let strip, route.path == nil, valid {
            reader.fail("\(path).strip_prefix", "needs a path: only a path prefix can be stripped", at: strip.location)
            return nil
        }
        return valid ? route : nil
    }

    private mutating func hostLabel(_ label: String, _ node: YAMLNode, _ path: String) -> String? {
        if label == "@" { return label }
        if let problem = DNSLabel.problem(label, allowDots: true) {
            reader.fail(path, "\"\(label)\" \(problem) (use \"@\" for the project's own host name)", at: node.location)
            return nil
        }
        return label.lowercased()
    }
}
