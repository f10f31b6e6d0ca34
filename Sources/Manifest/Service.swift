/// One entry under `services:`, with defaults applied.
public struct Service: Sendable, Equatable {
    public var name: String
    public var command: Command
    /// Absolute working directory.
    public var cwd: String
    /// `cwd` as written, relative to the manifest (compose uses it as the build context).
    public var relativeCwd: String
    public var port: PortSpec
    /// Its `route:` entries (host labels, each with an optional path prefix); empty when the
    /// service has no route.
    public var routeEntries: [ServiceRoute]
    /// The host label of each route entry (a label with several paths appears once per path).
    public var routes: [String] {
        get { routeEntries.map(\.host) }
        set { routeEntries = newValue.map { ServiceRoute(host: $0) } }
    }
    public var replicas: Int
    public var dependsOn: [Dependency]
    public var health: HealthCheck?
    public var restart: RestartPolicy
    /// Restarts allowed without a healthy check in between; nil means no limit.
    public var maxRestarts: Int?
    public var setup: Command?
    public var setupInputs: [String]
    public var stopSignal: StopSignal
    public var stopTimeout: Duration
    public var env: [EnvEntry]
    /// Absolute path of the service's own env file, loaded over the project's.
    public var envFile: String?
    /// Compose only: an image to use instead of building `cwd`.
    public var image: String?
    /// Compose only: raw keys deep-merged into the generated compose service.
    public var compose: YAMLNode?
    /// Proxy: send the upstream's address as `Host` instead of the client's.
    public var rewriteHost: Bool
    /// Proxy: what the service's port speaks (`protocol:`); HTTP/1.1 unless it says otherwise.
    public var upstreamProtocol: UpstreamProtocol = .http1
    /// Globs (relative to `cwd`) whose changes restart the service.
    public var watch: [String]
    /// Not a local process but a tunnel to a remote port (`forward:`); such a service has no command.
    public var forward: Forward?
    /// Compose-style profiles: a service that names some starts only when one of them is active.
    public var profiles: [String] = []
    public var location: SourceLocation?
    /// Where each key's value stands, for errors found after decoding.
    public var locations: [String: SourceLocation] = [:]

    public init(
        name: String, command: Command, cwd: String, relativeCwd: String = ".", port: PortSpec = .auto,
        routes: [String] = [], replicas: Int = 1, dependsOn: [Dependency] = [], health: HealthCheck? = nil,
        restart: RestartPolicy = .onFailure, maxRestarts: Int? = 5, setup: Command? = nil, setupInputs: [String] = [],
        stopSignal: StopSignal = .term, stopTimeout: Duration = .seconds(10), env: [EnvEntry] = [],
        envFile: String? = nil, image: String? = nil, compose: YAMLNode? = nil, rewriteHost: Bool = false, watch: [String] = [],
        location: SourceLocation? = nil
    ) {
        self.name = name
        self.command = command
        self.cwd = cwd
        self.relativeCwd = relativeCwd
        self.port = port
        self.routeEntries = routes.map { ServiceRoute(host: $0) }
        self.replicas = replicas
        self.dependsOn = dependsOn
        self.health = health
        self.restart = restart
        self.maxRestarts = maxRestarts
        self.setup = setup
        self.setupInputs = setupInputs
        self.stopSignal = stopSignal
        self.stopTimeout = stopTimeout
        self.env = env
        self.envFile = envFile
        self.image = image
        self.compose = compose
        self.rewriteHost = rewriteHost
        self.watch = watch
        self.location = location
    }

    public var hasPort: Bool { port != .none }
}

/// A command as written: a string runs through `/bin/sh -c`, a list is an argv.
public enum Command: Sendable, Equatable, CustomStringConvertible {
    case shell(String)
    case argv([String])

    public var description: String {
        switch self {
        case .shell(let text): return text
        case .argv(let words): return words.map { $0.contains(" ") ? "'\($0)'" : $0 }.joined(separator: " ")
        }
    }

    /// The argv to exec: a shell string becomes `/bin/sh -c STRING`.
    public var argv: [String] {
        switch self {
        case .shell(let text): return ["/bin/sh", "-c", text]
        case .argv(let words): return words
        }
    }
}

public enum PortSpec: Sendable, Equatable, CustomStringConvertible {
    /// devhost reserves a free port, passes it as `PORT`, and discovers what the process really listens on.
    case auto
    case fixed(Int)
    /// No port and no route (workers, one-shot jobs).
    case none

    public var description: String {
        switch self {
        case .auto: return "auto"
        case .fixed(let port): return String(port)
        case .none: return "none"
        }
    }
}

public struct Dependency: Sendable, Equatable {
    public enum Condition: String, Sendable, Equatable, CaseIterable {
        case started, healthy, completed
    }

    public var service: String
    public var condition: Condition
    public var location: SourceLocation?

    public init(service: String, condition: Condition = .started, location: SourceLocation? = nil) {
        self.service = service
        self.condition = condition
        self.location = location
    }
}

public struct HealthCheck: Sendable, Equatable {
    public enum Probe: Sendable, Equatable {
        /// GET this path; 2xx and 3xx are healthy.
        case http(path: String)
        case tcp
        /// Exit status 0 is healthy; run by `/bin/sh -c` in the service's cwd.
        case exec(String)
        /// A PostgreSQL StartupMessage: healthy when the server asks for authentication or is ready for
        /// queries, not while it answers "the database system is starting up" (SQLSTATE 57P03).
        case postgres(user: String, database: String)
        /// `PING` (after `AUTH` when a password is given) answered by `+PONG`.
        case redis(user: String?, password: String?)
        /// The server's greeting: a protocol 10 handshake packet; an error packet is unhealthy.
        case mysql
        /// An ApiVersions (v0) request answered with the same correlation id and no error.
        case kafka
        /// grpc.health.v1.Health/Check over h2c for this service name (empty: the server as a whole);
        /// healthy when the answer is SERVING.
        case grpc(service: String)

        /// Every probe but exec connects to the instance's port.
        public var needsPort: Bool {
            if case .exec = self { return false }
            return true
        }
    }

    public var probe: Probe
    public var interval: Duration
    public var timeout: Duration
    public var retries: Int
    public var startPeriod: Duration

    public static let defaultInterval: Duration = .seconds(1)
    public static let defaultTimeout: Duration = .seconds(1)
    public static let defaultRetries = 3
    public static let defaultStartPeriod: Duration = .seconds(30)

    public init(
        probe: Probe, interval: Duration = HealthCheck.defaultInterval, timeout: Duration = HealthCheck.defaultTimeout,
        retries: Int = HealthCheck.defaultRetries, startPeriod: Duration = HealthCheck.defaultStartPeriod
    ) {
        self.probe = probe
        self.interval = interval
        self.timeout = timeout
        self.retries = retries
        self.startPeriod = startPeriod
    }
}

public enum RestartPolicy: String, Sendable, Equatable, CaseIterable {
    case no
    case onFailure = "on-failure"
    case always
}

/// The signals a service may ask to be stopped with.
public enum StopSignal: String, Sendable, Equatable, CaseIterable {
    case term = "SIGTERM"
    case int = "SIGINT"
    case quit = "SIGQUIT"
    case hup = "SIGHUP"
    case kill = "SIGKILL"
    case usr1 = "SIGUSR1"
    case usr2 = "SIGUSR2"
    case winch = "SIGWINCH"

    public var number: Int32 {
        switch self {
        case .hup: return 1
        case .int: return 2
        case .quit: return 3
        case .kill: return 9
        case .usr1: return 10
        case .usr2: return 12
        case .term: return 15
        case .winch: return 28
        }
    }

    /// Accepts `SIGTERM`, `TERM` and `term`.
    public init?(name: String) {
        let upper = name.uppercased()
        self.init(rawValue: upper.hasPrefix("SIG") ? upper : "SIG" + upper)
    }
}
