import DevhostManifest
import Foundation

/// Describes a manifest's services as a kustomize folder: per service a Deployment (or a Job), a
/// Service and a ConfigMap; one Ingress for the routes; kustomization.yaml listing them, the images
/// and a Secret generator per env file.
///
/// As under compose, every container has its own network namespace: an `auto` port is the container
/// port 8000 and services find each other by their Service's name (`http://api:8000`). Every string
/// that varies from machine to machine (the env files' values, the shell's variables) stays out of the
/// output, so `devhost kube --check` gives the same answer everywhere.
public struct KubeExport: Sendable {
    /// Waits for a dependency's Service to accept connections (`nc` is in busybox).
    public static let waitImage = "busybox:1.36"
    /// Waits for a Job to complete (`kubectl wait`), with the Role below.
    public static let kubectlImage = "registry.k8s.io/kubectl:v1.32.4"
    /// The Role and ServiceAccount pods that wait for a Job run as.
    static let jobWaiter = "wait-for-jobs"

    /// The manifest without its forward services: nothing runs for them in the cluster.
    public let manifest: Manifest
    public let options: KubeOptions
    let omission: ForwardOmission

    public init(manifest: Manifest, options: KubeOptions = KubeOptions()) throws(KubeError) {
        self.omission = ForwardOmission(manifest)
        self.manifest = omission.manifest
        self.options = try options.validated()
    }

    /// One file of the folder, header included.
    public struct File: Sendable, Equatable {
        public var name: String
        public var content: String
    }

    public struct Output: Sendable {
        /// Sorted by name.
        public var files: [File]
        /// One line per thing the user must know (each env file), without the `warning:` prefix.
        public var warnings: [String]
    }

    /// Everything the folder at `directory` should hold. `directory` only decides the relative paths
    /// kustomization.yaml uses to reach env files.
    public func render(into directory: String) throws -> Output {
        let plan = try Plan(manifest: manifest, options: options)
        var files: [File] = []
        var resources: [String] = []
        for service in manifest.services {
            let name = "\(plan.names[service.name]!).yaml"
            files.append(File(name: name, content: try serviceFile(service, plan: plan)))
            resources.append(name)
        }
        if plan.needsJobWaiter {
            files.append(File(name: "\(Self.jobWaiter).yaml", content: finish(jobWaiterDocuments(plan))))
            resources.append("\(Self.jobWaiter).yaml")
        }
        if let ingress = ingress(plan) {
            files.append(File(name: "ingress.yaml", content: finish([ingress.document], notes: ingress.notes)))
            resources.append("ingress.yaml")
        }
        let (kustomization, warnings) = try self.kustomization(plan: plan, resources: resources.sorted(), directory: directory)
        files.append(File(name: "kustomization.yaml", content: kustomization))
        return Output(files: files.sorted { $0.name < $1.name }, warnings: omission.warnings + warnings)
    }

    /// The header and the documents of one file, with comment lines above the first.
    func finish(_ documents: [YAMLNode], notes: [String] = []) -> String {
        var body = notes.map { "# " + $0.replacingOccurrences(of: "\n", with: " ") + "\n" }.joined()
        body += documents.map { $0.emitted() }.joined(separator: "---\n")
        let source = URL(fileURLWithPath: manifest.file).lastPathComponent
        return GeneratedFile.render(
            body: body, source: source, command: "devhost kube",
            note: "Cluster-only changes belong in a kustomize overlay that uses this folder as its base.")
    }

    func labels(_ name: String, managed: Bool = true) -> YAMLNode {
        var pairs: [(String, YAMLNode)] = []
        if managed { pairs.append(("app.kubernetes.io/managed-by", .string("devhost"))) }
        pairs.append(("app.kubernetes.io/name", .string(name)))
        pairs.append(("app.kubernetes.io/part-of", .string(manifest.name)))
        return .map(pairs)
    }

    func metadata(_ name: String) -> YAMLNode {
        .map([("name", .string(name)), ("labels", labels(name))])
    }
}

/// Decisions that span services: object names, ports, which services are Jobs, route hosts.
struct Plan {
    var names: [String: String] = [:]
    var ports: [String: Int] = [:]
    /// Services something waits on with `condition: completed`: they run to completion, as Jobs.
    var jobs: Set<String> = []
    var domain: String
    var needsJobWaiter: Bool { !jobs.isEmpty }

    init(manifest: Manifest, options: KubeOptions) throws {
        domain = options.domain ?? "\(manifest.name).\(manifest.proxy.domain)"
        var owners: [String: String] = [:]
        for service in manifest.services {
            let name = try KubeNames.objectName(of: service)
            if let other = owners[name] {
                throw KubeError.badServiceName(
                    service: service.name, location: service.location,
                    reason: "\"\(service.name)\" and \"\(other)\" both become the Kubernetes name \"\(name)\"; rename one")
            }
            owners[name] = service.name
            names[service.name] = name
            ports[service.name] = ContainerText.containerPort(of: service)
            for dependency in service.dependsOn where dependency.condition == .completed { jobs.insert(dependency.service) }
        }
        for name in [KubeExport.jobWaiter, "ingress", "kustomization"]
        where owners[name] != nil && (name != KubeExport.jobWaiter || !jobs.isEmpty) {
            let service = manifest.services.first { names[$0.name] == name }!
            throw KubeError.badServiceName(
                service: service.name, location: service.location,
                reason: "\"\(name)\" is the name of a file devhost kube writes for the whole project; rename the service")
        }
    }

    /// `api` → `api.DOMAIN`, `@` → `DOMAIN`.
    func host(forRoute route: String) -> String {
        route == "@" ? domain : "\(route).\(domain)"
    }

    /// `${svc.…}` as seen from inside the cluster: the Service's DNS name, or the Ingress host.
    func reference(_ ref: Interpolation.ServiceReference, in manifest: Manifest) -> String {
        let name = names[ref.service] ?? ref.service
        let port = ports[ref.service] ?? ContainerText.autoContainerPort
        switch ref.field {
        case .host: return name
        case .port: return String(port)
        case .url: return "http://\(name):\(port)"
        case .publicURL, .publicHTTPURL:
            if let route = manifest.service(named: ref.service)?.routeEntries.first {
                return "http://\(host(forRoute: route.host))\(route.pathSuffix)"
            }
            return "http://\(name):\(port)"
        }
    }
}
