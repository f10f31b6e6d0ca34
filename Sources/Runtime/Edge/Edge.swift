import DevhostProxy
import Foundation
import NIOCore
import NIOPosix

/// The per-user edge proxy: one listener on the proxy port serving every registered project's
/// routes and the standalone routes, a registration socket, and its own dashboard. It never reads
/// a project's files and never starts a process; projects push their routes and instances to it.
public final class Edge: Sendable {
    public struct Configuration: Sendable {
        public var paths: EdgePaths
        public var bind: String
        public var settings: ProxyContext.Settings
        public var accessLog: AccessLog?
        public var routeFile: RouteFile
        /// `--route` flags: fixed routes beside the route file's.
        public var extraRoutes: [ProxyRoutes.Route]
        /// Exit after this long with no project and no standalone route; nil: never.
        public var exitWhenIdle: Duration?
        public var version: String
        public var log: LogOutput
        public var group: EventLoopGroup
        /// HTTPS beside HTTP (`--https-port`, `$DEVHOST_EDGE_HTTPS_PORT`); off unless set.
        public var https: HTTPSPort = .off
        /// The edge's one request inspector: it records the exchanges of the projects that ask for
        /// it (each reads its own through its edge link); made with the default limits when nil.
        public var inspector: Inspector?
        /// Standalone routes are recorded too (`devhost proxy --inspect`): no project reads them;
        /// what the recording costs is measured this way by scripts/bench/proxy_ab.sh.
        public var inspectsStandalone = false

        public init(
            paths: EdgePaths, bind: String = "127.0.0.1", settings: ProxyContext.Settings, accessLog: AccessLog?, routeFile: RouteFile,
            extraRoutes: [ProxyRoutes.Route] = [], exitWhenIdle: Duration?, version: String, log: LogOutput,
            group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton
        ) {
            self.paths = paths
            self.bind = bind
            self.settings = settings
            self.accessLog = accessLog
            self.routeFile = routeFile
            self.extraRoutes = extraRoutes
            self.exitWhenIdle = exitWhenIdle
            self.version = version
            self.log = log
            self.group = group
        }
    }

    public let registry: EdgeRegistry
    public let port: Int
    /// The HTTPS listener's port; nil when none is served.
    public var httpsPort: Int? { secure?.port }
    /// Where projects register.
    public var socket: String { configuration.paths.socket }
    private let configuration: Configuration
    private let proxy: ProxyServer
    private let secure: ProxyServer?
    private let pages: EdgePagesServer
    private let stopped = AsyncStream<String?>.makeStream()
    private let started = ContinuousClock.now
    private let parts: Parts

    private final class Parts: @unchecked Sendable {
        var server: EdgeServer?
        var watcher: Task<Void, Never>?
        var lock: Int32 = -1
    }

    /// Takes the edge lock, listens on the proxy port, then opens the registration socket (so a
    /// project that can register finds the port served).
    public static func start(_ configuration: Configuration) async throws(EdgeError) -> Edge {
        let paths = configuration.paths
        try paths.prepare()
        let lock = open(paths.lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard lock >= 0 else { throw .unreachable("cannot open \(paths.lock): \(String(cString: strerror(errno)))") }
        // A moment's patience: `devhost proxy status` probes the lock with a shared one.
        let lockDeadline = ContinuousClock.now + .milliseconds(300)
        while flock(lock, LOCK_EX | LOCK_NB) != 0, ContinuousClock.now < lockDeadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        guard flock(lock, LOCK_EX | LOCK_NB) == 0 else {
            let pid = (try? String(contentsOfFile: paths.lock, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "?"
            close(lock)
            throw .unreachable("an edge proxy for port \(paths.port) already runs (pid \(pid))")
        }
        ftruncate(lock, 0)
        _ = Array("\(getpid())\n".utf8).withUnsafeBytes { write(lock, $0.baseAddress, $0.count) }

        let inspector = configuration.inspector ?? Inspector()
        let registry = EdgeRegistry(pagesSocket: paths.pages, inspector: inspector, inspectsStandalone: configuration.inspectsStandalone)
        let context = ProxyContext(
            routes: registry.routes, instances: registry.instances, settings: configuration.settings, log: configuration.log,
            accessLog: configuration.accessLog, inspector: inspector, describe: { registry.describe($0) },
            explainMissing: { registry.departure(of: $0) })
        let proxy: ProxyServer
        do {
            proxy = try await ProxyServer.start(host: configuration.bind, port: paths.port, context: context, group: configuration.group)
        } catch {
            configuration.accessLog?.close()
            close(lock)
            let holder = PortScanner().owner(ofPort: paths.port).map { ": it is taken by pid \($0.pid) (\($0.command))" } ?? ""
            throw .unreachable("cannot listen on \(configuration.bind):\(paths.port)\(holder)")
        }
        var secure: ProxyServer?
        if configuration.https.port != 0 {
            do {
                let environment = ProcessInfo.processInfo.environment
                let listener = try await ProxyTLS.startListener(
                    host: configuration.bind, port: configuration.https.port, context: context, group: configuration.group,
                    environment: environment)
                secure = listener
                // `proxy.https: prefer`, the default: browsers go to HTTPS once the CA is trusted.
                if ProxyTLS.caTrusted(environment: environment) { context.redirectBrowsers(toHTTPSPort: listener.port) }
            } catch {
                let holder =
                    error.portTaken
                    ? PortScanner().owner(ofPort: configuration.https.port).map { ": it is taken by pid \($0.pid) (\($0.command))" } ?? ""
                    : ""
                if configuration.https.explicit {
                    await proxy.close()
                    close(lock)
                    throw .unreachable("cannot serve HTTPS: \(error)\(holder)")
                }
                configuration.log.event(
                    "no HTTPS: \(error)\(holder); HTTP only (--https-port or $DEVHOST_EDGE_HTTPS_PORT picks another port)")
            }
        }
        let pages: EdgePagesServer
        do {
            pages = try await EdgePagesServer.start(path: paths.pages, group: configuration.group)
        } catch {
            await secure?.close()
            await proxy.close()
            close(lock)
            throw .unreachable("cannot open \(paths.pages): \(error)")
        }
        let edge = Edge(configuration: configuration, registry: registry, proxy: proxy, secure: secure, pages: pages)
        edge.parts.lock = lock
        pages.status = { edge.status() }
        do {
            let hooks = EdgeServer.Hooks(
                status: { edge.status() }, version: configuration.version, port: proxy.port, httpsPort: secure?.port,
                replayHost: ControlInspection.connectable(configuration.bind))
            edge.parts.server = try await EdgeServer.start(path: paths.socket, registry: registry, hooks: hooks, group: configuration.group)
        } catch {
            await pages.close()
            await secure?.close()
            await proxy.close()
            close(lock)
            throw .unreachable("cannot open \(paths.socket): \(error)")
        }
        edge.watchRouteFile()
        return edge
    }

    private init(configuration: Configuration, registry: EdgeRegistry, proxy: ProxyServer, secure: ProxyServer?, pages: EdgePagesServer) {
        self.configuration = configuration
        self.registry = registry
        self.proxy = proxy
        self.secure = secure
        self.pages = pages
        self.port = proxy.port
        self.parts = Parts()
    }

    private func watchRouteFile() {
        let (file, extra, registry, log) = (configuration.routeFile, configuration.extraRoutes, registry, configuration.log)
        let standalone = ProxyRoutes()
        let publish: @Sendable () -> Void = { registry.setStandalone(standalone.all) }
        do {
            try RouteFileWatcher.apply(file, base: extra, to: standalone)
        } catch {
            log.event("\(error)")
        }
        publish()
        let watcher = RouteFileWatcher.watch(file, base: { extra }, routes: standalone, log: log, applied: publish)
        parts.watcher = watcher
    }

    /// Ends `run`; `message` goes to every registered project (nil: they take it as a crash and
    /// start another edge).
    public func stop(saying message: String?) {
        stopped.continuation.yield(message)
    }

    /// Serves until stopped (`devhost proxy stop`, a signal) or idle for `exitWhenIdle`.
    public func run() async {
        let idleCheck: Task<Void, Never>? = configuration.exitWhenIdle.map { limit in
            Task { [registry] in
                while !Task.isCancelled {
                    try? await Task.sleep(for: .milliseconds(500))
                    if let idle = registry.idle(), idle >= limit {
                        self.stop(saying: nil)
                        return
                    }
                }
            }
        }
        var reason: String?
        for await message in stopped.stream {
            reason = message
            break
        }
        idleCheck?.cancel()
        await parts.server?.close(saying: reason)
        parts.watcher?.cancel()
        await pages.close()
        await secure?.close()
        await proxy.close()
        unlink(configuration.paths.lock)
        close(parts.lock)
    }

    public func status() -> EdgeStatus {
        let (projects, standalone) = registry.status()
        let exits = configuration.exitWhenIdle.flatMap { limit in registry.idle().map { max(0, Int((limit - $0).components.seconds)) } }
        return EdgeStatus(
            version: configuration.version, protocol: EdgeProtocol.version, pid: getpid(), port: port,
            uptimeSeconds: Int((ContinuousClock.now - started).components.seconds), exitsInSeconds: exits, projects: projects,
            standalone: standalone)
    }
}
