import DevhostManifest
import Foundation

/// The project-wide files: the Ingress, the Role that lets pods wait for Jobs, and kustomization.yaml.
extension KubeExport {
    /// The Ingress: one rule per host, its paths longest first (a host route is `/`), each a
    /// `Prefix` path, which Kubernetes matches by whole segments as devhost does. A stripped prefix
    /// has no generic Ingress field (each controller has its own rewrite annotation): the notes say
    /// which paths need one.
    func ingress(_ plan: Plan) -> (document: YAMLNode, notes: [String])? {
        var hosts: [String] = []
        var paths: [String: [(path: String, backend: YAMLNode)]] = [:]
        var notes: [String] = []
        for service in manifest.services {
            guard let port = plan.ports[service.name] else { continue }
            let backend = YAMLNode.map([
                ("service", .map([("name", .string(plan.names[service.name]!)), ("port", .map([("number", .int(port))]))]))
            ])
            for route in service.routeEntries {
                let host = plan.host(forRoute: route.host)
                if paths[host] == nil { hosts.append(host) }
                paths[host, default: []].append((route.path ?? "/", backend))
                if route.stripPrefix, let path = route.path {
                    notes.append(
                        "\(host)\(path) → \(service.name) strips \(path) in devhost (strip_prefix): a generic Ingress cannot; "
                            + "add your controller's rewrite annotation (ingress-nginx: nginx.ingress.kubernetes.io/rewrite-target) in an overlay"
                    )
                }
            }
        }
        guard !hosts.isEmpty else { return nil }
        let rules = hosts.map { host -> YAMLNode in
            let list = paths[host]!.sorted { $0.path.count > $1.path.count }.map {
                YAMLNode.map([("path", .string($0.path)), ("pathType", .string("Prefix")), ("backend", $0.backend)])
            }
            return .map([("host", .string(host)), ("http", .map([("paths", .list(list))]))])
        }
        var spec: [(String, YAMLNode)] = []
        if let ingressClass = options.ingressClass { spec.append(("ingressClassName", .string(ingressClass))) }
        spec.append(("rules", .list(rules)))
        let document = YAMLNode.map([
            ("apiVersion", .string("networking.k8s.io/v1")), ("kind", .string("Ingress")), ("metadata", metadata(manifest.name)),
            ("spec", .map(spec)),
        ])
        return (document, notes)
    }

    /// `kubectl wait` in an init container reads Jobs through the API: a ServiceAccount allowed just that.
    func jobWaiterDocuments(_ plan: Plan) -> [YAMLNode] {
        let name = Self.jobWaiter
        let rule = YAMLNode.map([
            ("apiGroups", .strings(["batch"])), ("resources", .strings(["jobs"])), ("verbs", .strings(["get", "list", "watch"])),
        ])
        // A ServiceAccount subject needs a namespace; kustomize's `namespace:` rewrites it with the rest.
        let subject = YAMLNode.map([
            ("kind", .string("ServiceAccount")), ("name", .string(name)), ("namespace", .string(options.namespace ?? "default")),
        ])
        return [
            .map([("apiVersion", .string("v1")), ("kind", .string("ServiceAccount")), ("metadata", metadata(name))]),
            .map([
                ("apiVersion", .string("rbac.authorization.k8s.io/v1")), ("kind", .string("Role")), ("metadata", metadata(name)),
                ("rules", .list([rule])),
            ]),
            .map([
                ("apiVersion", .string("rbac.authorization.k8s.io/v1")), ("kind", .string("RoleBinding")), ("metadata", metadata(name)),
                (
                    "roleRef",
                    .map([("apiGroup", .string("rbac.authorization.k8s.io")), ("kind", .string("Role")), ("name", .string(name))])
                ),
                ("subjects", .list([subject])),
            ]),
        ]
    }

    func kustomization(plan: Plan, resources: [String], directory: String) throws -> (String, [String]) {
        var pairs: [(String, YAMLNode)] = [
            ("apiVersion", .string("kustomize.config.k8s.io/v1beta1")), ("kind", .string("Kustomization")),
        ]
        if let namespace = options.namespace { pairs.append(("namespace", .string(namespace))) }
        pairs.append(("resources", .strings(resources)))
        var images: [String: (String?, String?)] = [:]
        var notes: [String] = []
        for service in manifest.services {
            let (reference, built) = image(of: service)
            let parts = KubeNames.splitImage(reference)
            images[parts.name] = built ? ("latest", nil) : (parts.tag, parts.digest)
            if built { notes.append("build: docker build -t \(reference):latest \(service.relativeCwd)") }
        }
        for helper in [plan.needsJobWaiter ? Self.kubectlImage : nil, usesWaitImage(plan) ? Self.waitImage : nil].compactMap({ $0 }) {
            let parts = KubeNames.splitImage(helper)
            images[parts.name] = (parts.tag, parts.digest)
        }
        // `kustomize edit set image NAME=…` finds an image by the name listed here.
        pairs.append(
            (
                "images",
                .list(
                    images.keys.sorted().map { name in
                        var entry: [(String, YAMLNode)] = [("name", .string(name))]
                        if let tag = images[name]!.0 { entry.append(("newTag", .string(tag))) }
                        if let digest = images[name]!.1 { entry.append(("digest", .string(digest))) }
                        return .map(entry)
                    })
            ))
        let (generators, warnings) = secretGenerators(plan: plan, directory: directory)
        if let generators {
            pairs.append(("secretGenerator", generators))
            notes.append(
                "env files are read when the folder is built and live outside it: kubectl kustomize --load-restrictor LoadRestrictionsNone DIR | kubectl apply -f -"
            )
        }
        if manifest.compose != nil {
            notes.append("the top-level compose: block (extra services, volumes) is compose-only and is not carried over")
        }
        if options.namespace == nil, plan.needsJobWaiter {
            notes.append(
                "the Role that lets pods wait for Jobs is bound in namespace default: generate with --namespace to deploy elsewhere")
        }
        return (finish([.map(pairs)], notes: notes), warnings)
    }

    private func usesWaitImage(_ plan: Plan) -> Bool {
        manifest.services.contains { service in
            service.dependsOn.contains { $0.condition == .healthy && plan.ports[$0.service] != nil }
        }
    }
}
