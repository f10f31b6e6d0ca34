import DevhostManifest
import Foundation

/// A service's own file: its ConfigMap, its Deployment or Job, and its Service.
extension KubeExport {
    func serviceFile(_ service: Service, plan: Plan) throws -> String {
        let name = plan.names[service.name]!
        let env = try containerEnv(service, plan: plan)
        var documents: [YAMLNode] = []
        if !env.configMap.isEmpty {
            documents.append(
                .map([
                    ("apiVersion", .string("v1")), ("kind", .string("ConfigMap")), ("metadata", metadata("\(name)-env")),
                    ("data", .map(env.configMap.map { ($0.0, .string($0.1)) })),
                ]))
        }
        let (pod, notes) = try podSpec(service, plan: plan, env: env)
        let template = YAMLNode.map([("metadata", .map([("labels", labels(name, managed: false))])), ("spec", pod)])
        if plan.jobs.contains(service.name) {
            var spec: [(String, YAMLNode)] = []
            if service.replicas > 1 { spec += [("completions", .int(service.replicas)), ("parallelism", .int(service.replicas))] }
            // restart: no means one try; on-failure allows max_restarts more (Kubernetes' default is 6).
            let retries = service.restart == .no ? 0 : service.maxRestarts ?? 6
            spec += [("backoffLimit", .int(retries)), ("template", template)]
            documents.append(
                .map([("apiVersion", .string("batch/v1")), ("kind", .string("Job")), ("metadata", metadata(name)), ("spec", .map(spec))]))
        } else {
            documents.append(
                .map([
                    ("apiVersion", .string("apps/v1")), ("kind", .string("Deployment")), ("metadata", metadata(name)),
                    (
                        "spec",
                        .map([
                            ("replicas", .int(service.replicas)),
                            ("selector", .map([("matchLabels", labels(name, managed: false))])),
                            ("template", template),
                        ])
                    ),
                ]))
        }
        if let port = plan.ports[service.name] {
            documents.append(
                .map([
                    ("apiVersion", .string("v1")), ("kind", .string("Service")), ("metadata", metadata(name)),
                    (
                        "spec",
                        .map([
                            ("selector", labels(name, managed: false)),
                            (
                                "ports",
                                .list([
                                    .map([
                                        ("name", .string(portName(service))), ("port", .int(port)),
                                        ("targetPort", .string(portName(service))),
                                    ])
                                ])
                            ),
                        ])
                    ),
                ]))
        }
        return finish(documents, notes: notes)
    }

    /// `http` when something speaks HTTP to the port (a route or an http check), `tcp` otherwise.
    func portName(_ service: Service) -> String {
        if !service.routes.isEmpty { return "http" }
        if case .http? = service.health?.probe { return "http" }
        return "tcp"
    }

    /// The image a service runs: its own `image:`, or the one built from its folder.
    func image(of service: Service) -> (reference: String, built: Bool) {
        if let image = service.image { return (image, false) }
        let name = "\(manifest.name)-\(service.name.lowercased().replacingOccurrences(of: "_", with: "-"))"
        return (options.imagePrefix.map { "\($0)/\(name)" } ?? name, true)
    }

    private func podSpec(_ service: Service, plan: Plan, env: ContainerEnv) throws -> (YAMLNode, [String]) {
        let name = plan.names[service.name]!
        var notes = omission.notes(for: omission.original(service), globalEnv: manifest.env) + self.notes(for: service, plan: plan)
        let reference = { (ref: Interpolation.ServiceReference) in plan.reference(ref, in: manifest) }
        let port = plan.ports[service.name]
        let (image, built) = self.image(of: service)
        var container: [(String, YAMLNode)] = [("name", .string(name)), ("image", .string(image))]
        // A built image is tagged `latest`, which Kubernetes would always pull: IfNotPresent lets an image
        // loaded straight into a local cluster (kind load, minikube image load) run.
        if built { container.append(("imagePullPolicy", .string("IfNotPresent"))) }
        // compose's `command` replaces the image's CMD and keeps its ENTRYPOINT: in Kubernetes that is `args`.
        let args = try ContainerText.command(service.command, port: port, reference: reference)
        container.append(("args", .strings(args)))
        if let port {
            container.append(("ports", .list([.map([("name", .string(portName(service))), ("containerPort", .int(port))])])))
        }
        container.append(("env", .list(env.env.map { .map([("name", .string($0.0)), ("value", .string($0.1))]) })))
        if !env.envFrom.isEmpty { container.append(("envFrom", .list(env.envFrom))) }
        if let health = service.health, !plan.jobs.contains(service.name) {
            let handler = try probeHandler(health.probe, service: service, port: plan.ports[service.name], reference: reference)
            let period = Self.seconds(health.interval)
            var readiness = handler
            readiness += [("periodSeconds", .int(period)), ("timeoutSeconds", .int(Self.seconds(health.timeout)))]
            readiness.append(("failureThreshold", .int(max(1, health.retries))))
            container.append(("readinessProbe", .map(readiness)))
            if health.startPeriod > .zero {
                // The start period plus the usual failure budget, as compose counts retries only after it.
                let attempts = Int((Double(Self.milliseconds(health.startPeriod)) / Double(period * 1000)).rounded(.up)) + health.retries
                var startup = handler
                startup += [("periodSeconds", .int(period)), ("timeoutSeconds", .int(Self.seconds(health.timeout)))]
                startup.append(("failureThreshold", .int(max(1, attempts))))
                container.append(("startupProbe", .map(startup)))
            }
        }
        var pod: [(String, YAMLNode)] = []
        let (initContainers, waitNotes) = waits(service, plan: plan)
        notes += waitNotes
        if service.dependsOn.contains(where: { $0.condition == .completed }) {
            pod.append(("serviceAccountName", .string(Self.jobWaiter)))
        }
        if !initContainers.isEmpty { pod.append(("initContainers", .list(initContainers))) }
        pod.append(("containers", .list([.map(container)])))
        if plan.jobs.contains(service.name) { pod.append(("restartPolicy", .string("Never"))) }
        pod.append(("terminationGracePeriodSeconds", .int(Self.seconds(service.stopTimeout))))
        return (.map(pod), notes)
    }

    private func probeHandler(
        _ probe: HealthCheck.Probe, service: Service, port: Int?, reference: (Interpolation.ServiceReference) -> String
    ) throws -> [(String, YAMLNode)] {
        switch probe {
        case .http(let path):
            return [("httpGet", .map([("path", .string(path)), ("port", .string(portName(service)))]))]
        case .tcp, .postgres, .redis, .mysql, .kafka:
            // The wire-protocol probes need a client in the image (pg_isready, redis-cli); a TCP check
            // is what every image supports.
            return [("tcpSocket", .map([("port", .string(portName(service)))]))]
        case .grpc(let name):
            // Kubernetes >= 1.24 calls grpc.health.v1 itself; its port is a number, not a port's name.
            guard let port else { return [("tcpSocket", .map([("port", .string(portName(service)))]))] }
            var action: [(String, YAMLNode)] = [("port", .int(port))]
            if !name.isEmpty { action.append(("service", .string(name))) }
            return [("grpc", .map(action))]
        case .exec(let command):
            // Kubernetes expands $(VAR) in exec probes too, so the line is escaped as a command is.
            return [("exec", .map([("command", .strings(["/bin/sh", "-c", try ContainerText.shellLine(command, reference: reference)]))]))]
        }
    }

    /// Init containers for `healthy` and `completed` dependencies: Kubernetes starts pods in no order.
    private func waits(_ service: Service, plan: Plan) -> ([YAMLNode], [String]) {
        var containers: [YAMLNode] = []
        var notes: [String] = []
        for dependency in service.dependsOn {
            let target = plan.names[dependency.service] ?? dependency.service
            switch dependency.condition {
            case .started:
                notes.append("depends_on \(dependency.service) (started): Kubernetes starts pods in no order, so nothing waits for it")
            case .completed:
                containers.append(
                    .map([
                        ("name", .string("wait-for-\(target)")), ("image", .string(Self.kubectlImage)),
                        ("args", .strings(["wait", "--for=condition=complete", "--timeout=24h", "job/\(target)"])),
                    ]))
            case .healthy:
                guard let port = plan.ports[dependency.service] else {
                    notes.append(
                        "depends_on \(dependency.service) (healthy): it has no port, so no other pod can see its health; nothing waits for it"
                    )
                    continue
                }
                // A Service only routes to ready pods, so a connection succeeds once one passed its readiness probe.
                let loop = "until nc -z -w 2 \(target) \(port); do echo waiting for \(target):\(port); sleep 2; done"
                containers.append(
                    .map([
                        ("name", .string("wait-for-\(target)")), ("image", .string(Self.waitImage)),
                        ("command", .strings(["sh", "-c", loop])),
                    ]))
            }
        }
        return (containers, notes)
    }

    /// What the manifest asks for that this service's objects cannot carry, as comment lines.
    private func notes(for service: Service, plan: Plan) -> [String] {
        var notes: [String] = []
        if service.image == nil, !FileManager.default.fileExists(atPath: service.cwd + "/Dockerfile") {
            notes.append("\(service.relativeCwd)/Dockerfile does not exist yet: add one, or set image: in devhost.yml")
        }
        if let setup = service.setup { notes.append("setup (\(setup)) is not run in the cluster: it belongs in the Dockerfile") }
        if !service.watch.isEmpty { notes.append("watch is not carried over: a cluster restarts nothing when files change") }
        if service.rewriteHost { notes.append("host_header: upstream is not carried over: the Ingress sends the client's Host") }
        if service.stopSignal != .term {
            notes.append("stop_signal \(service.stopSignal.rawValue) is not carried over: Kubernetes stops containers with SIGTERM")
        }
        if service.compose != nil { notes.append("the compose: block is compose-only and is not carried over") }
        if !plan.jobs.contains(service.name) {
            if service.restart == .no {
                notes.append(
                    "restart: no has no Deployment equivalent (Kubernetes restarts the pod); it becomes a Job when a service depends on it with condition: completed"
                )
            } else if service.maxRestarts != nil, service.restart != .always {
                notes.append("max_restarts is not carried over: Kubernetes restarts a failing pod with back-off, without a limit")
            }
        }
        return notes
    }

    static func milliseconds(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
    }

    /// Kubernetes counts probe times in whole seconds, at least 1: a duration is rounded up.
    static func seconds(_ duration: Duration) -> Int {
        max(1, Int((milliseconds(duration) + 999) / 1000))
    }
}
