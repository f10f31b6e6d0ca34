import DevhostManifest

/// Forward services (`forward:`) are tunnels from this machine to something that already runs
/// elsewhere: there is no container to build or run for them, so compose and kube leave them out.
struct ForwardOmission {
    /// The manifest without its forward services, and with no `depends_on` left pointing at one.
    let manifest: Manifest
    /// The forwards that were left out, by name.
    let forwards: [String: Service]
    /// Each kept service's `depends_on` as written, forwards included.
    private let dependencies: [String: [Dependency]]

    init(_ original: Manifest) {
        var manifest = original
        let forwards = Dictionary(uniqueKeysWithValues: original.services.filter { $0.forward != nil }.map { ($0.name, $0) })
        self.forwards = forwards
        dependencies = Dictionary(uniqueKeysWithValues: original.services.map { ($0.name, $0.dependsOn) })
        manifest.services = original.services.compactMap { service in
            guard service.forward == nil else { return nil }
            var kept = service
            kept.dependsOn = service.dependsOn.filter { forwards[$0.service] == nil }
            return kept
        }
        self.manifest = manifest
    }

    /// `service` of the trimmed manifest with its `depends_on` as written.
    func original(_ service: Service) -> Service {
        var original = service
        original.dependsOn = dependencies[service.name] ?? service.dependsOn
        return original
    }

    /// One line per forward `service` depends on or refers to in its env, for a comment above it:
    /// `db is a devhost forward (ssh deploy@bastion → db.internal:5432), not a container: point DATABASE_URL at the real one`.
    func notes(for service: Service, globalEnv: [EnvEntry]) -> [String] {
        guard !forwards.isEmpty else { return [] }
        var keys: [String: [String]] = [:]
        var order = service.dependsOn.map(\.service).filter { forwards[$0] != nil }
        for entry in ContainerText.mergedEnv(globalEnv, service.env) {
            guard let segments = try? Interpolation.parse(entry.value) else { continue }
            for case .reference(let reference) in segments where forwards[reference.service] != nil {
                if !order.contains(reference.service) { order.append(reference.service) }
                if keys[reference.service]?.contains(entry.key) != true { keys[reference.service, default: []].append(entry.key) }
            }
        }
        return order.map { name in
            let forward = forwards[name]!.forward!
            let what = keys[name].map { $0.joined(separator: ", ") } ?? "\(service.name)"
            return "\(name) is a devhost forward (\(forward)), not a container: point \(what) at the real one"
        }
    }

    /// For stderr: what was left out, once per forward.
    var warnings: [String] {
        forwards.keys.sorted().map { name in
            "\(name) is a devhost forward (\(forwards[name]!.forward!)): left out, as it runs nowhere but on this machine"
        }
    }
}
