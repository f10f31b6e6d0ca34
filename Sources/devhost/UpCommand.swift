import ArgumentParser
import DevhostManifest
import DevhostProxy
import DevhostRuntime
import Dispatch
import Foundation
import NIOPosix

struct UpCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "up",
        abstract: "Start the services in devhost.yml and keep them running until Ctrl-C (or `devhost down`).",
        discussion: """
            Naming services starts them and what they depend on. Ctrl-C stops everything in reverse \
            dependency order (stop_signal, then SIGKILL after stop_timeout); a second Ctrl-C kills at once. \
            With -d devhost runs in the background and returns once every service is up; `devhost status`, \
            `logs`, `restart` and `down` talk to it from any terminal. One devhost runs per project: a \
            second `up` follows the running one's logs instead.
            """
    )

    @OptionGroup var manifestOptions: ManifestOptions

    @Argument(help: "Services to start (default: all).")
    var services: [String] = []

    @Flag(name: [.short, .customLong("detach")], help: "Run in the background; return once every service is up.")
    var detach = false

    @Option(name: .customLong("ready-timeout"), help: "With -d: how long to wait for the services to come up (e.g. 2m).")
    var readyTimeout = "3m"

    @Flag(help: "Prefix every line with the time.")
    var timestamps = false

    @OptionGroup var proxyOptions: ProxyOptions

    @Flag(name: .customLong("no-proxy"), help: "Do not start the reverse proxy (stable service ports still work).")
    var noProxy = false

    /// Set on the background process `up -d` starts.
    @Flag(name: .customLong("detached"), help: .hidden)
    var detached = false

    func run() async throws {
        let manifest = try manifestOptions.load()
        let state: ProjectState
        do { state = try ProjectState(manifest: manifest) } catch { throw CommandFailure(message: error.description) }
        if let pid = ProjectLock.holder(state) {
            return try Self.alreadyRunning(pid: pid, state: state, follow: !detach && !detached)
        }
        if detach {
            guard let timeout = DurationText.parse(readyTimeout) else {
                throw CommandFailure(message: "--ready-timeout \(readyTimeout) is not a duration")
            }
            return try await Detach.start(state: state, timeout: timeout)
        }
        guard let lock = try ProjectLock.acquire(state) else {
            return try Self.alreadyRunning(pid: ProjectLock.holder(state) ?? 0, state: state, follow: !detached)
        }
        // Never released by hand: the kernel drops it as the process exits, so `devhost down`, which
        // waits for it, returns only when this devhost is gone.
        Self.heldLock = lock
        try await serve(manifest, state: state)
    }

    nonisolated(unsafe) private static var heldLock: ProjectLock?

    private func serve(_ manifest: Manifest, state: ProjectState) async throws {
        let out = Console.standardOutput
        let log = LogOutput(
            options: .init(colored: out.colored, timestamps: timestamps, directory: state.logs),
            labels: manifest.services.flatMap { service in (1...service.replicas).map { "\(service.name).\($0)" } })
        let supervisor = Supervisor(manifest: manifest, options: .init(services: services, log: log))
        let signals = SignalRelay { force in
            Task { await supervisor.stop(force: force) }
        }
        defer { signals.cancel() }
        var proxy: ProxyServer?
        var routeWatcher: Task<Void, Never>?
        let base = RouteBase(manifest: manifest, controlSocket: state.controlSocket)
        let routes = ProxyRoutes(base.routes)
        do {
            if !noProxy {
                let board = supervisor.board
                // Standalone routes (`devhost route add`) are served next to the manifest's.
                let file = RouteFile(path: RouteFile.defaultPath())
                do {
                    try RouteFileWatcher.apply(file, base: base.routes, to: routes)
                } catch {
                    Console.standardError.warning("\(error)")
                }
                routeWatcher = RouteFileWatcher.watch(file, base: { base.routes }, routes: routes, log: log)
                var settings = try proxyOptions.settings()
                settings.domain = manifest.proxy.domain
                let context = ProxyContext(
                    routes: routes, instances: supervisor.routes, settings: settings,
                    log: log, accessLog: try proxyOptions.accessLog(terminal: log),
                    describe: { service in (board.summary(of: service), log.recentLines(of: service).suffix(20)) })
                let port = try proxyOptions.resolvedPort(manifestPort: manifest.proxy.port)
                do {
                    proxy = try await ProxyServer.start(
                        host: manifest.proxy.bind, port: port, context: context, group: MultiThreadedEventLoopGroup.singleton)
                } catch {
                    let holder = PortScanner().owner(ofPort: port).map { " by pid \($0.pid) (\($0.command))" } ?? ""
                    throw CommandFailure(
                        message:
                            "cannot listen on \(manifest.proxy.bind):\(port)\(holder.isEmpty ? "" : ": it is taken" + holder) (use --proxy-port or DEVHOST_PROXY_PORT)"
                    )
                }
            }
        } catch {
            await proxy?.close()
            if let failure = error as? CommandFailure { throw failure }
            throw CommandFailure(message: "\(error)")
        }
        let proxyPort = proxy?.port
        let routeFile = RouteFile(path: RouteFile.defaultPath())
        let reloader = Reloader(
            supervisor: supervisor, log: log, load: manifestOptions.reloader,
            applied: { new in
                base.update(manifest: new)
                try? RouteFileWatcher.apply(routeFile, base: base.routes, to: routes)
            })
        let api = ControlAPI(
            supervisor: supervisor, log: log, proxyPort: proxyPort, reload: { await reloader.reload() },
            shutdown: {
                await supervisor.stop()
            })
        // The control socket opens before any service starts: `status` and a second `up` work from
        // the first moment, and no child is forked while the socket's umask is in force.
        let control: ControlServer
        do {
            control = try await ControlServer.start(path: state.controlSocket, api: api)
        } catch {
            await proxy?.close()
            throw CommandFailure(message: "cannot open the control socket \(state.controlSocket): \(error)")
        }
        do {
            try await supervisor.start()
        } catch {
            await supervisor.stop()
            await proxy?.close()
            await control.close()
            throw CommandFailure(message: "\(error)")
        }
        let watcher: FileWatcher?
        do {
            watcher = try FileWatcher(root: manifest.directory) { paths in
                Task { await reloader.filesChanged(paths) }
            }
        } catch {
            watcher = nil
            log.event("not watching files (\(error)): edits to devhost.yml need `devhost reload`")
        }
        let events = await supervisor.events()
        let summary = Task {
            for await event in events where event.kind == .ready {
                let current = await supervisor.manifest
                let ports = await supervisor.stablePorts
                Self.printSummary(manifest: current, ports: ports, proxyPort: proxyPort, log: log)
            }
        }
        await supervisor.waitUntilStopped()
        watcher?.stop()
        routeWatcher?.cancel()
        await proxy?.close()
        summary.cancel()
        log.finishFollowers()
        await control.close()
        let failed = await supervisor.snapshot().filter { if case .failed = $0.state { return true } else { return false } }
        if !failed.isEmpty, !signals.received {
            throw CommandFailure(message: failed.map { "\($0.label) \($0.state)" }.joined(separator: "; "))
        }
    }

    /// A second `up` in a project that already runs: follow the running devhost (foreground) or say so.
    static func alreadyRunning(pid: pid_t, state: ProjectState, follow: Bool) throws {
        let err = Console.standardError
        guard follow else {
            err.line("devhost is already running for this project (pid \(pid)); `devhost status` shows it, `devhost down` stops it")
            return
        }
        err.line(
            "devhost is already running for this project (pid \(pid)); following its logs (Ctrl-C stops following, `devhost down` stops devhost)"
        )
        try LogsCommand.follow(client: ControlClient(state: state), services: [], lines: 20, since: nil, timestamps: false)
    }

    static func printSummary(manifest: Manifest, ports: [String: Int], proxyPort: Int?, log: LogOutput) {
        for service in manifest.services {
            guard let port = ports[service.name] else { continue }
            var line = "\(service.name):"
            if let proxyPort {
                line += service.routes.map { " http://\(manifest.host(forRoute: $0)):\(proxyPort)" }.joined()
            }
            line += "  (services use http://127.0.0.1:\(port), ${\(service.name).url})"
            log.event(line)
        }
        if let proxyPort {
            log.event("dashboard: http://devhost.\(manifest.proxy.domain):\(proxyPort)/")
        }
    }
}

/// The proxy's routes that come from the project: the manifest's, and `devhost.<domain>` for the
/// dashboard. Swapped as a whole on reload.
final class RouteBase: @unchecked Sendable {
    private let lock = NSLock()
    private var current: [ProxyRoutes.Route]
    private let controlSocket: String

    init(manifest: Manifest, controlSocket: String) {
        self.controlSocket = controlSocket
        self.current = []
        update(manifest: manifest)
    }

    var routes: [ProxyRoutes.Route] { lock.withLock { current } }

    func update(manifest: Manifest) {
        let dashboard = ProxyRoutes.Route(host: "devhost.\(manifest.proxy.domain)", target: .socket(path: controlSocket))
        let routes = ProxyRoutes.routes(for: manifest) + [dashboard]
        lock.withLock { current = routes }
    }
}

/// Turns SIGINT and SIGTERM into a graceful stop, and a second one into a forced stop.
final class SignalRelay: @unchecked Sendable {
    private var sources: [DispatchSourceSignal] = []
    private let lock = NSLock()
    private var count = 0

    init(_ handler: @escaping @Sendable (_ force: Bool) -> Void) {
        for number in [SIGINT, SIGTERM] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [weak self] in
                guard let self else { return }
                let seen = self.lock.withLock { () -> Int in
                    self.count += 1
                    return self.count
                }
                if seen == 1 { Console.standardError.line("\nstopping (Ctrl-C again to kill at once)") }
                handler(seen > 1)
            }
            source.resume()
            sources.append(source)
        }
    }

    var received: Bool { lock.withLock { count > 0 } }

    func cancel() {
        for source in sources { source.cancel() }
    }
}
