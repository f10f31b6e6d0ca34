import DevhostManifest
import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// What every proxy connection shares: routes, the live instance table, settings, logs and metrics.
public final class ProxyContext: @unchecked Sendable {
    public struct Settings: Sendable {
        /// How long a request for a service with no healthy instance waits for one before 503.
        public var waitForHealthy: Duration = .seconds(10)
        /// Time for the upstream to start its response before 504.
        public var upstreamTimeout: Duration = .seconds(60)
        /// A connection with no request in progress for this long is closed; one stuck mid-request gets 408.
        public var idleTimeout: Duration = .seconds(60)
        public var maxURILength = 8192
        public var maxHeaderBytes = 32 * 1024
        public var accessLog: AccessLogFormat = .human
        /// Once a response has started, an upstream silent for this long is cut off (both
        /// connections close, so the client cannot take a truncated body for a whole one).
        public var upstreamReadTimeout: Duration = .seconds(60)
        /// TRACE echoes a request back, cookies included: refused (405) unless allowed here.
        public var allowTrace = false
        /// The domain routes live under (`proxy.domain`); with `localhost` and loopback addresses,
        /// the hosts devhost answers its own endpoints for.
        public var domain = "localhost"
        public init() {}
    }

    public enum AccessLogFormat: String, Sendable, CaseIterable {
        case human, json, off
    }

    /// The HTTPS port browser navigations on plain HTTP are redirected to (`proxy.https: prefer`
    /// once the CA is trusted); 0: none. Set once the HTTPS listener is up.
    private let httpsRedirect = Atomic<Int>(0)
    var httpsRedirectPort: Int { httpsRedirect.load(ordering: .relaxed) }
    public func redirectBrowsers(toHTTPSPort port: Int) { httpsRedirect.store(port, ordering: .relaxed) }

    public let routes: ProxyRoutes
    public let instances: RouteTable
    public let settings: Settings
    public let metrics = ProxyMetrics()
    let log: (any LogTerminal)?
    /// nil when the access log is off.
    public let accessLog: AccessLog?
    /// The request inspector (nil: `--no-inspect`, `proxy.inspect: false`).
    public let inspector: Inspector?
    /// Opens a connection to an upstream endpoint on the given event loop, with the initializer
    /// applied to its channel. Sockets by default; tests put `EmbeddedChannel`s here to see the
    /// exact bytes both ways without a socket.
    typealias Connector =
        @Sendable (
            _ key: UpstreamPool.Key, _ loop: EventLoop, _ initializer: @escaping @Sendable (Channel) -> EventLoopFuture<Void>
        ) -> EventLoopFuture<Channel>
    var connector: Connector = ProxyContext.socketConnector

    static let socketConnector: Connector = { key, loop, initializer in
        let bootstrap = ClientBootstrap(group: loop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelOption(.allowRemoteHalfClosure, value: false)
            .connectTimeout(.seconds(3))
            .channelInitializer(initializer)
        return key.path.map { bootstrap.connect(unixDomainSocketPath: $0) } ?? bootstrap.connect(host: key.host, port: key.port)
    }

    /// Describes a service for the 503 page: its state and last log lines.
    let describe: @Sendable (String) -> (state: String, lines: [String])
    /// Why a host has no route, when devhost knows (the shared edge: its project stopped).
    let explainMissing: @Sendable (String) -> String?

    /// What the connections of one event loop share, used only on that loop.
    struct PerLoop {
        /// Idle upstream connections.
        let pool: UpstreamPool
        /// Flushes waiting for the end of the loop's tick.
        let flushes: FlushBatch
        /// HTTP/2 connections to h2c and gRPC upstreams.
        let http2Upstreams: HTTP2UpstreamPool
        /// Access-log lines waiting for the end of the loop's tick.
        let accessLines: AccessBatch?
        /// The request inspector's entries of this loop (nil when the inspector is off).
        let inspection: InspectorRing?
    }

    private let loopsLock = NSLock()
    private var loops: [ObjectIdentifier: PerLoop] = [:]

    func perLoop(_ loop: EventLoop) -> PerLoop {
        loopsLock.withLock {
            if let existing = loops[ObjectIdentifier(loop)] { return existing }
            let flushes = FlushBatch(loop: loop)
            let created = PerLoop(
                pool: UpstreamPool(), flushes: flushes, http2Upstreams: HTTP2UpstreamPool(flushes: flushes),
                accessLines: accessLog.map { AccessBatch(loop: loop, log: $0) },
                inspection: inspector?.ring(for: loop))
            loops[ObjectIdentifier(loop)] = created
            return created
        }
    }

    /// `accessLog`: where access-log lines go; by default `log`'s terminal in `settings.accessLog`'s
    /// format (none when that is `off`).
    public init(
        routes: ProxyRoutes, instances: RouteTable, settings: Settings = Settings(), log: (any LogTerminal)? = nil,
        accessLog: AccessLog? = nil, inspector: Inspector? = nil,
        describe: @escaping @Sendable (String) -> (state: String, lines: [String]) = { _ in ("unknown", []) },
        explainMissing: @escaping @Sendable (String) -> String? = { _ in nil }
    ) {
        self.routes = routes
        self.instances = instances
        self.settings = settings
        self.log = log
        if let accessLog {
            self.accessLog = accessLog
        } else if let log, settings.accessLog != .off {
            self.accessLog = AccessLog(format: settings.accessLog, destination: .output(log))
        } else {
            self.accessLog = nil
        }
        self.inspector = inspector
        self.describe = describe
        self.explainMissing = explainMissing
    }

    /// Whether `host` (lowercased, no port) is one devhost serves: `localhost` and its subdomains,
    /// the configured domain and its subdomains, loopback addresses, and every routed host. A page
    /// on another name that resolves to 127.0.0.1 (DNS rebinding) gets none of devhost's own answers.
    func serves(host: String) -> Bool {
        if host == "localhost" || host.hasSuffix(".localhost") || host == "::1" { return true }
        let domain = settings.domain.lowercased()
        if host == domain || host.hasSuffix("." + domain) { return true }
        if host.hasPrefix("127."), host.split(separator: ".").count == 4, host.allSatisfy({ $0.isNumber || $0 == "." }) { return true }
        return routes.serves(hostHeader: host)
    }

}
