import ArgumentParser
import DevhostManifest
import DevhostProxy
import DevhostRuntime
import Foundation

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

    @Option(
        name: .customLong("profile"),
        help: "Also start the services in this profile (repeatable; default: $DEVHOST_PROFILES or $COMPOSE_PROFILES, comma-separated).")
    var profiles: [String] = []

    @Flag(name: [.short, .customLong("detach")], help: "Run in the background; return once every service is up.")
    var detach = false

    @Option(name: .customLong("ready-timeout"), help: "With -d: how long to wait for the services to come up (e.g. 2m).")
    var readyTimeout = "3m"

    @Flag(help: "Prefix every line with the time.")
    var timestamps = false

    @OptionGroup var proxyOptions: ProxyOptions

    @Flag(name: .customLong("no-proxy"), help: "Do not start the reverse proxy (stable service ports still work).")
    var noProxy = false

    @Flag(name: .customLong("no-inspect"), help: "Record no requests for the request inspector (`devhost requests`, the dashboard).")
    var noInspect = false

    /// Set on the background process `up -d` starts.
    @Flag(name: .customLong("detached"), help: .hidden)
    var detached = false

    func run() async throws {
        let manifest = try activeServices(manifestOptions.load())
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

    /// Profiles from --profile, else from the environment.
    private var activeProfiles: [String] {
        profiles.isEmpty ? Manifest.profiles(fromEnvironment: ProcessInfo.processInfo.environment) : profiles
    }

    /// The services the active profiles let run.
    private func activeServices(_ manifest: Manifest) throws -> Manifest {
        do {
            return try manifest.activating(profiles: activeProfiles, requested: services)
        } catch {
            throw CommandFailure(message: error.issues.map(\.description).joined(separator: "\n"))
        }
    }

    /// Runs the session (Runtime's `UpSession`) and turns how it ended into a message and exit code.
    private func serve(_ manifest: Manifest, state: ProjectState) async throws {
        let out = Console.standardOutput
        let log = LogOutput(
            options: .init(colored: out.colored, timestamps: timestamps, directory: state.logs),
            labels: manifest.services.flatMap { service in (1...service.replicas).map { "\(service.name).\($0)" } })
        var proxy: UpSession.Proxy?
        var edge: EdgeLink?
        var manifest = manifest
        if !noProxy {
            switch try proxyOptions.placement(manifest: manifest) {
            case .isolated(let port):
                proxy = UpSession.Proxy(
                    host: manifest.proxy.bind, port: port, settings: try proxyOptions.settings(),
                    accessLog: try proxyOptions.accessLog(terminal: log), routeFile: RouteFile(path: RouteFile.defaultPath()),
                    inspect: !noInspect)
            case .shared(let paths):
                let link = try await Self.joinEdge(paths, log: log)
                let registration: EdgeLink.Registration
                do {
                    registration = try await link.register(
                        EdgeProject.of(manifest, controlSocket: state.controlSocket, inspect: !noInspect))
                } catch {
                    await link.withdraw()
                    throw CommandFailure(message: error.description)
                }
                manifest.proxy.hostPrefix = registration.prefix
                // `${svc.public_url}` names the edge's port ($DEVHOST_EDGE_PORT may move it from 7777).
                manifest.proxy.port = registration.port
                log.event("edge proxy on port \(registration.port) (pid \(registration.edgePID)); hosts: \(registration.rule)")
                edge = link
            }
        }
        let (reloader, prefix, port, shared) = (manifestOptions.reloader, manifest.proxy.hostPrefix, manifest.proxy.port, edge != nil)
        let (active, requested) = (activeProfiles, services)
        let session = UpSession(
            .init(
                manifest: manifest, state: state, services: services, log: log,
                reload: {
                    // A worktree keeps the prefix the edge gave it for as long as it runs.
                    // Errors stay ManifestErrors, with their positions.
                    var new = try reloader().activating(profiles: active, requested: requested)
                    new.proxy.hostPrefix = prefix
                    if shared { new.proxy.port = port }
                    return new
                }, proxy: proxy, edge: edge, inspect: !noInspect, warn: { Console.standardError.warning($0) }))
        do {
            try await session.start()
        } catch .proxyListen(let host, let port, let holder) {
            let taken = holder.map { ": it is taken by \($0)" } ?? ""
            throw CommandFailure(message: "cannot listen on \(host):\(port)\(taken) (use --proxy-port or DEVHOST_PROXY_PORT)")
        } catch {
            throw CommandFailure(message: error.description)
        }
        let outcome = await session.run()
        if !outcome.failed.isEmpty, !outcome.signalled {
            throw CommandFailure(message: outcome.failed.map { "\($0.label) \($0.state)" }.joined(separator: "; "))
        }
    }

    /// Joins the shared edge proxy, starting it when none runs. An edge of another protocol
    /// version is never talked to: in a terminal devhost offers to restart it, else it says how.
    static func joinEdge(_ paths: EdgePaths, log: LogOutput) async throws -> EdgeLink {
        do {
            return try await EdgeLink.connect(ProxyCommand.linkOptions(paths, log: log))
        } catch .versionSkew(let version, let proto, let pid) {
            let skew = EdgeError.versionSkew(edgeVersion: version, edgeProtocol: proto, pid: pid)
            guard isatty(STDIN_FILENO) == 1, isatty(STDERR_FILENO) == 1 else { throw CommandFailure(message: skew.description) }
            let err = Console.standardError
            err.write("\(skew.description)\nrestart it now? [y/N] ")
            guard let answer = readLine(), answer.lowercased().hasPrefix("y") else {
                throw CommandFailure(message: "the edge proxy was left as it is")
            }
            _ = await paths.stopRunning()
            do {
                return try await EdgeLink.connect(ProxyCommand.linkOptions(paths, log: log))
            } catch {
                throw CommandFailure(message: error.description)
            }
        } catch {
            throw CommandFailure(message: error.description)
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
}
