/// A validated `devhost.yml`, with every default filled in.
///
/// String values that may hold `${…}` references (env, commands) are kept as written; they are
/// resolved per instance at start time by `Interpolator`, because ports are only known then.
public struct Manifest: Sendable, Equatable {
    /// Project name: a DNS label, used in host names (`api.NAME.localhost`).
    public var name: String
    /// Absolute path of the manifest (or Procfile) the model came from.
    public var file: String
    /// Files merged over `file`, in order (overlays).
    public var overlays: [String]
    /// Absolute folder that relative paths are resolved against.
    public var directory: String
    public var proxy: ProxySettings
    /// Absolute path of the env file, when one is declared.
    public var envFile: String?
    /// Project-wide env, in file order.
    public var env: [EnvEntry]
    /// Services in file order.
    public var services: [Service]
    /// A raw compose fragment merged into generated compose files (extra services, volumes).
    public var compose: YAMLNode?
    /// Problems that do not stop devhost (an unset variable, a missing optional env file).
    public var warnings: [ManifestIssue] = []

    public init(
        name: String, file: String, overlays: [String] = [], directory: String, proxy: ProxySettings = ProxySettings(),
        envFile: String? = nil, env: [EnvEntry] = [], services: [Service], compose: YAMLNode? = nil
    ) {
        self.name = name
        self.file = file
        self.overlays = overlays
        self.directory = directory
        self.proxy = proxy
        self.envFile = envFile
        self.env = env
        self.services = services
        self.compose = compose
    }

    public func service(named name: String) -> Service? {
        services.first { $0.name == name }
    }

    /// The full host name of a route label: `api` → `api.shop.localhost`, `@` → `shop.localhost`.
    public func host(forRoute route: String) -> String {
        let host = route == "@" ? "\(name).\(proxy.domain)" : "\(route).\(name).\(proxy.domain)"
        return proxy.hostPrefix.map { "\($0).\(host)" } ?? host
    }

    /// A route's host and path: `shop.localhost/api`.
    public func address(of route: ServiceRoute) -> String {
        host(forRoute: route.host) + route.pathSuffix
    }

    /// A route's URL through the proxy on `port`: `http://shop.localhost:7777/api`.
    public func url(of route: ServiceRoute, port: Int) -> String {
        "http://\(host(forRoute: route.host)):\(port)\(route.pathSuffix)"
    }

    /// Services ordered so that each comes after everything it depends on (file order otherwise).
    public var startOrder: [Service] {
        var ordered: [Service] = []
        var placed = Set<String>()
        func place(_ service: Service) {
            guard !placed.contains(service.name) else { return }
            placed.insert(service.name)
            for dependency in service.dependsOn {
                if let target = self.service(named: dependency.service) { place(target) }
            }
            ordered.append(service)
        }
        services.forEach(place)
        return ordered
    }
}

public struct ProxySettings: Sendable, Equatable {
    public static let defaultPort = 7777
    public var port: Int
    public var bind: String
    public var domain: String
    /// Set by the shared edge proxy for a worktree of a project another checkout already serves:
    /// its hosts become `PREFIX.api.shop.localhost`. Never read from devhost.yml.
    public var hostPrefix: String?
    /// `proxy.https_port`: nil when the manifest does not say (7443 is tried, and a taken port only
    /// means no HTTPS), 0 for none, else the port (taken: `up` fails).
    public var httpsPort: Int?
    /// `proxy.https`: whether HTTPS is served and whether browsers are sent to it.
    public var https: HTTPSMode = .prefer
    /// `proxy.inspect`: whether the proxy keeps recent exchanges for the request inspector.
    public var inspect = true

    public init(port: Int = ProxySettings.defaultPort, bind: String = "127.0.0.1", domain: String = "localhost") {
        self.port = port
        self.bind = bind
        self.domain = domain
    }
}

/// `proxy.https`: `prefer` serves HTTPS and redirects browser navigations on HTTP to it once the CA
/// is trusted; `both` serves both without redirecting; `off` serves no HTTPS.
public enum HTTPSMode: String, Sendable, Equatable, CaseIterable {
    case prefer, both, off
}

/// One `KEY: value` pair; order is kept so generated files and `validate` output follow the manifest.
public struct EnvEntry: Sendable, Equatable {
    public var key: String
    public var value: String
    public var location: SourceLocation?

    public init(key: String, value: String, location: SourceLocation? = nil) {
        self.key = key
        self.value = value
        self.location = location
    }
}
