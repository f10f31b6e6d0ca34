import DevhostManifest
import DevhostProxy
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// One `devhost up`: the signal relay, the route file, the proxy, the control server, the supervisor
/// and the file watcher, started in that order and stopped in reverse through one teardown.
///
/// A plain actor holding a stack of started parts rather than swift-service-lifecycle's `ServiceGroup`:
/// that would be a new package dependency, and these parts are not uniform services. The supervisor
/// decides when the session ends (Ctrl-C, `devhost down`, or nothing left running), several parts must
/// be up before the next can start (the control socket before any child is forked), and a part that
/// failed to start must unwind exactly the ones before it. A list of named stop closures says that
/// directly, and tests can read it.
public actor UpSession {
    public struct Configuration: Sendable {
        public var manifest: Manifest
        public var state: ProjectState
        /// Services to start (with what they depend on); empty for all.
        public var services: [String]
        public var log: LogOutput
        /// Loads the manifest again for a reload.
        public var reload: @Sendable () throws -> Manifest
        /// nil: no proxy of its own (`--no-proxy`, or the shared edge).
        public var proxy: Proxy?
        /// The shared edge proxy this project registered with (instead of a proxy of its own).
        public var edge: EdgeLink?
        /// The shared edge records this project's exchanges (false: `--no-inspect`; a proxy of its
        /// own has `Proxy.inspect`). `proxy.inspect: false` in the manifest turns it off too.
        public var inspect: Bool
        /// SIGINT and SIGTERM stop the session (a second one kills at once). Off in tests.
        public var handleSignals: Bool
        /// Edits under the project folder reload the manifest or restart watched services.
        public var watchFiles: Bool
        public var environment: [String: String]
        public var group: EventLoopGroup
        /// A problem that does not stop `up` (an unreadable route file), for standard error.
        public var warn: @Sendable (String) -> Void

        public init(
            manifest: Manifest, state: ProjectState, services: [String] = [], log: LogOutput,
            reload: @escaping @Sendable () throws -> Manifest, proxy: Proxy? = nil, edge: EdgeLink? = nil, inspect: Bool = true,
            handleSignals: Bool = true,
            watchFiles: Bool = true,
            environment: [String: String] = ProcessInfo.processInfo.environment,
            group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
            warn: @escaping @Sendable (String) -> Void = { text in
                Array("warning: \(text)\n".utf8).withUnsafeBytes { writeAll(STDERR_FILENO, $0) }
            }
        ) {
            self.manifest = manifest
            self.state = state
            self.services = services
            self.log = log
            self.reload = reload
            self.proxy = proxy
            self.edge = edge
            self.inspect = inspect
            self.handleSignals = handleSignals
            self.watchFiles = watchFiles
            self.environment = environment
            self.group = group
            self.warn = warn
        }
    }

    /// How the proxy runs: its address, its settings and access log, and the standalone route file.
    public struct Proxy: Sendable {
        public var host: String
        public var port: Int
        public var settings: ProxyContext.Settings
        public var accessLog: AccessLog?
        public var routeFile: RouteFile
        /// Record exchanges for the request inspector (`--no-inspect` turns it off; so does
        /// `proxy.inspect: false` in the manifest).
        public var inspect: Bool
        public var inspectorLimits: Inspector.Limits

        public init(
            host: String, port: Int, settings: ProxyContext.Settings, accessLog: AccessLog?, routeFile: RouteFile, inspect: Bool = true,
            inspectorLimits: Inspector.Limits = Inspector.Limits()
        ) {
            self.inspect = inspect
            self.inspectorLimits = inspectorLimits
            self.host = host
            self.port = port
            self.settings = settings
            self.accessLog = accessLog
            self.routeFile = routeFile
        }
    }

    /// How the session ended.
    public struct Outcome: Sendable {
        /// Instances that ended failed or exited with an error.
        public var failed: [InstanceSnapshot]
        /// The stop came from SIGINT or SIGTERM.
        public var signalled: Bool
    }

    private struct Part {
        var name: String
        var stop: () async -> Void
    }

    public let supervisor: Supervisor
    public nonisolated let routes: ProxyRoutes
    private let configuration: Configuration
    private let base: RouteBase
    private var parts: [Part] = []
    /// The parts stopped so far, in the order they were stopped.
    public private(set) var stopped: [String] = []
    private var signals: SignalRelay?
    /// The proxy's port once it listens.
    public private(set) var proxyPort: Int?
    /// The project's own HTTPS listener's port, when it serves one.
    public private(set) var httpsPort: Int?
    /// The request inspector of the project's own proxy (none with `--no-inspect`; paused while
    /// `proxy.inspect` is false).
    public private(set) var inspector: Inspector?

    public init(_ configuration: Configuration) {
        self.configuration = configuration
        self.supervisor = Supervisor(
            manifest: configuration.manifest,
            options: .init(services: configuration.services, log: configuration.log, environment: configuration.environment),
            group: configuration.group)
        self.base = RouteBase(manifest: configuration.manifest, controlSocket: configuration.state.controlSocket)
        self.routes = ProxyRoutes(base.routes)
    }

    /// The names of the parts running now, in start order.
    public var running: [String] { parts.map(\.name) }

    /// Starts every part; on a failure stops the parts already started (in reverse) and throws.
    public func start() async throws(UpSessionError) {
        do {
            try await startParts()
        } catch {
            await teardown()
            throw error
        }
    }

    /// Waits until the supervisor has stopped, then stops every part; says how the services ended.
    public func run() async -> Outcome {
        await supervisor.waitUntilStopped()
        await teardown()
        let failed = await supervisor.snapshot().filter { if case .failed = $0.state { return true } else { return false } }
        return Outcome(failed: failed, signalled: signals?.received ?? false)
    }

    /// Stops the services (and then the session): what Ctrl-C and `devhost down` do.
    public func stop(force: Bool = false) async {
        await supervisor.stop(force: force)
    }

    private func record(_ name: String, stop: @escaping () async -> Void) {
        parts.append(Part(name: name, stop: stop))
    }

    /// The one teardown: every started part, last first.
    private func teardown() async {
        while let part = parts.popLast() {
            await part.stop()
            stopped.append(part.name)
        }
    }

    private func startParts() async throws(UpSessionError) {
        let (configuration, supervisor, log) = (self.configuration, self.supervisor, self.configuration.log)
        if configuration.handleSignals {
            let relay = SignalRelay(notice: "\nstopping (Ctrl-C again to kill at once)") { force in
                Task { await supervisor.stop(force: force) }
            }
            signals = relay
            record("signals") { relay.cancel() }
        }
        if let proxy = configuration.proxy {
            try await startProxy(proxy)
        }
        if let edge = configuration.edge {
            await startEdgeLink(edge)
        }
        let (base, routes, routeFile, proxyPort, httpsPort) = (
            self.base, self.routes, configuration.proxy?.routeFile, self.proxyPort, self.httpsPort
        )
        // Before any service starts: `${svc.public_url}` names the ports the routes are served on.
        if let proxyPort { await supervisor.proxyServes(httpPort: proxyPort, httpsPort: httpsPort) }
        let (edge, state, inspect) = (configuration.edge, configuration.state, configuration.inspect)
        // `proxy.inspect` as last loaded: a reload turns the recorder (own or the edge's) on or off.
        let manifestInspects = NIOLockedValueBox(configuration.manifest.proxy.inspect)
        let inspector = self.inspector
        let inspection = ControlInspection(
            inspector: inspector, edge: inspect ? edge : nil, offReason: Self.inspectorOffReason(configuration),
            proxyHost: configuration.proxy?.host ?? "", recording: { manifestInspects.withLockedValue { $0 } },
            ca: LocalCAFiles(environment: configuration.environment))
        let reloader = Reloader(
            supervisor: supervisor, log: log, load: configuration.reload,
            applied: { new in
                base.update(manifest: new)
                manifestInspects.withLockedValue { $0 = new.proxy.inspect }
                inspector?.record(new.proxy.inspect)
                if let routeFile { try? RouteFileWatcher.apply(routeFile, base: base.routes, to: routes) }
                if let edge {
                    Task {
                        do {
                            try await edge.register(EdgeProject.of(new, controlSocket: state.controlSocket, inspect: inspect))
                        } catch {
                            log.event("the edge proxy kept the previous routes: \(error)")
                        }
                    }
                }
            })
        let api = ControlAPI(
            supervisor: supervisor, log: log, proxyPort: proxyPort, httpsPort: httpsPort, reload: { await reloader.reload() },
            shutdown: { await supervisor.stop() }, inspection: inspection)
        // The control socket opens before any service starts: `status` and a second `up` work from
        // the first moment, and no child is forked while the socket's umask is in force.
        let path = configuration.state.controlSocket
        let control: ControlServer
        do {
            control = try await ControlServer.start(path: path, api: api, group: configuration.group)
        } catch {
            throw .controlSocket(path: path, reason: "\(error)")
        }
        record("control server") {
            // Followers (`logs -f`, the dashboard) end first, so their connections are not in flight.
            log.finishFollowers()
            await control.close()
        }
        do {
            try await supervisor.start()
        } catch {
            record("supervisor") { await supervisor.stop() }
            throw .supervisor("\(error)")
        }
        record("supervisor") {
            await supervisor.stop()
            await supervisor.waitUntilStopped()
        }
        if configuration.watchFiles {
            do {
                let watcher = try FileWatcher(root: configuration.manifest.directory) { paths in
                    Task { await reloader.filesChanged(paths) }
                }
                record("file watcher") { watcher.stop() }
            } catch {
                log.event("not watching files (\(error)): edits to devhost.yml need `devhost reload`")
            }
        }
        let events = await supervisor.events()
        let summary = Task {
            for await event in events where event.kind == .ready {
                let current = await supervisor.manifest
                let ports = await supervisor.stablePorts
                let endpoints = proxyPort == nil ? nil : await supervisor.publicEndpoints
                Self.printSummary(manifest: current, ports: ports, endpoints: endpoints, log: log)
            }
        }
        record("summary") { summary.cancel() }
    }

    /// Mirrors the supervisor's instance table and each service's state into the shared edge.
    private func startEdgeLink(_ edge: EdgeLink) async {
        let (supervisor, log) = (self.supervisor, configuration.log)
        let board = supervisor.board
        await edge.mirror(supervisor.routes) { service in (board.summary(of: service), log.recentLines(of: service).suffix(20)) }
        proxyPort = await edge.registration?.port
        httpsPort = await edge.registration?.httpsPort
        let events = await supervisor.events()
        let states = Task {
            // An instance's state change is what changes the wait page; devhost's own events
            // (notes, ready) are about no service and cost the supervisor nothing here.
            for await event in events {
                guard case .state = event.kind else { continue }
                await edge.described(service: event.service)
            }
        }
        record("edge link") {
            states.cancel()
            await edge.withdraw()
        }
    }

    private func startProxy(_ proxy: Proxy) async throws(UpSessionError) {
        let (supervisor, log, base, routes) = (self.supervisor, configuration.log, self.base, self.routes)
        // Standalone routes (`devhost route add`) are served next to the manifest's.
        do {
            try RouteFileWatcher.apply(proxy.routeFile, base: base.routes, to: routes)
        } catch {
            configuration.warn("\(error)")
        }
        let watcher = RouteFileWatcher.watch(proxy.routeFile, base: { base.routes }, routes: routes, log: log)
        record("route file watcher") {
            watcher.cancel()
            await watcher.value
        }
        var settings = proxy.settings
        settings.domain = configuration.manifest.proxy.domain
        let board = supervisor.board
        // Made even when `proxy.inspect` is false, which only pauses it: a reload may turn it on.
        if proxy.inspect {
            inspector = Inspector(limits: proxy.inspectorLimits, recording: configuration.manifest.proxy.inspect)
        }
        let context = ProxyContext(
            routes: routes, instances: supervisor.routes, settings: settings, log: log, accessLog: proxy.accessLog, inspector: inspector,
            describe: { service in (board.summary(of: service), log.recentLines(of: service).suffix(20)) })
        let server: ProxyServer
        do {
            server = try await ProxyServer.start(host: proxy.host, port: proxy.port, context: context, group: configuration.group)
        } catch {
            // The access log may own a writer thread and a file even though nothing was served.
            proxy.accessLog?.close()
            let holder = PortScanner().owner(ofPort: proxy.port).map { (pid: $0.pid, command: $0.command) }
            throw .proxyListen(host: proxy.host, port: proxy.port, holder: holder.map { "pid \($0.pid) (\($0.command))" })
        }
        proxyPort = server.port
        let secure: ProxyServer?
        do {
            secure = try await startHTTPS(proxy, context: context)
        } catch {
            await server.close()
            throw error
        }
        // One part: the HTTPS listener shares the plain one's context and access log.
        record("proxy") {
            await secure?.close()
            await server.close()
        }
    }

    /// HTTPS beside the project's own proxy: `proxy.https_port` (0: none; not set: 7443, where a
    /// taken port only means no HTTPS, because the shared edge usually holds it).
    /// The CA's folder comes from the session's environment (`XDG_DATA_HOME`, `HOME`).
    private func startHTTPS(_ proxy: Proxy, context: ProxyContext) async throws(UpSessionError) -> ProxyServer? {
        let settings = configuration.manifest.proxy
        let wanted = settings.httpsPort.map { HTTPSPort(port: $0, explicit: true) } ?? .default
        guard settings.https != .off, wanted.port != 0 else { return nil }
        let environment = configuration.environment
        do {
            let secure = try await ProxyTLS.startListener(
                host: proxy.host, port: wanted.port, context: context, group: configuration.group, environment: environment)
            httpsPort = secure.port
            if settings.https == .prefer, ProxyTLS.caTrusted(environment: environment) {
                context.redirectBrowsers(toHTTPSPort: secure.port)
            }
            return secure
        } catch {
            let holder =
                error.portTaken
                ? PortScanner().owner(ofPort: wanted.port).map { ": it is taken by pid \($0.pid) (\($0.command))" } ?? "" : ""
            if wanted.explicit { throw .https("proxy.https_port \(wanted.port): \(error)\(holder)") }
            configuration.log.event("no HTTPS: \(error)\(holder); HTTP only (proxy.https_port picks another port)")
            return nil
        }
    }

    /// What `/v1/requests` says when nothing is recorded.
    static func inspectorOffReason(_ configuration: Configuration) -> String {
        if let proxy = configuration.proxy {
            return proxy.inspect ? "proxy.inspect is false in devhost.yml" : "devhost up was started with --no-inspect"
        }
        if configuration.edge != nil {
            return configuration.inspect ? "proxy.inspect is false in devhost.yml" : "devhost up was started with --no-inspect"
        }
        return "devhost up was started with --no-proxy"
    }

    static func printSummary(manifest: Manifest, ports: [String: Int], endpoints: PublicEndpoints?, log: LogOutput) {
        for service in manifest.services {
            guard let port = ports[service.name] else { continue }
            var line = "\(service.name):"
            if let endpoints {
                line += service.routeEntries.map { " " + endpoints.url(host: manifest.host(forRoute: $0.host)) + $0.pathSuffix }.joined()
            }
            line += "  (services use http://127.0.0.1:\(port), ${\(service.name).url})"
            log.event(line)
        }
        if let endpoints {
            log.event("dashboard: \(endpoints.url(host: "devhost.\(manifest.proxy.domain)"))/")
        }
    }
}

/// Why `up` could not start; every part started before the failure has been stopped.
public enum UpSessionError: Error, Sendable, CustomStringConvertible {
    /// The proxy could not listen; `holder` names the process that has the port, when one is found.
    case proxyListen(host: String, port: Int, holder: String?)
    case controlSocket(path: String, reason: String)
    case supervisor(String)
    /// The HTTPS listener the manifest asks for could not start.
    case https(String)

    public var description: String {
        switch self {
        case .proxyListen(let host, let port, let holder):
            return "cannot listen on \(host):\(port)" + (holder.map { ": it is taken by \($0)" } ?? "")
        case .controlSocket(let path, let reason): return "cannot open the control socket \(path): \(reason)"
        case .supervisor(let reason), .https(let reason): return reason
        }
    }
}
