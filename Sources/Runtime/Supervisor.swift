import CDevhostSpawn
import DevhostManifest
import DevhostProxy
import Foundation
import NIOCore
import NIOPosix

/// Runs a manifest's services as child processes: dependency order, setup, ports, discovery, health,
/// restarts, and a stop that leaves nothing behind.
public actor Supervisor {
    public struct Options: Sendable {
        /// Services to start (with what they depend on); empty for all.
        public var services: [String]
        public var log: LogOutput
        /// devhost's own environment, inherited by services.
        public var environment: [String: String]
        /// How often discovery looks for new listeners while an instance has none yet.
        public var discoveryTick: Duration
        public var relays: Bool

        public init(
            services: [String] = [], log: LogOutput, environment: [String: String] = ProcessInfo.processInfo.environment,
            discoveryTick: Duration = .milliseconds(20), relays: Bool = true
        ) {
            self.services = services
            self.log = log
            self.environment = environment
            self.discoveryTick = discoveryTick
            self.relays = relays
        }
    }

    /// The manifest being run; a reload swaps it (see `apply`).
    public internal(set) var manifest: Manifest
    public nonisolated let routes = RouteTable()
    public nonisolated let board = StatusBoard()
    public nonisolated let stateDirectory: String
    let options: Options
    let group: EventLoopGroup
    let scanner = PortScanner()
    var instances: [String: [Instance]] = [:]
    var selected: [Service] = []
    public internal(set) var stablePorts: [String: Int] = [:]
    var relays: [TCPRelay] = []
    var watchdog: Watchdog?
    var phase = Phase.starting
    var changeWaiters: [CheckedContinuation<Void, Never>] = []
    var eventStreams: [UUID: AsyncStream<SupervisorEvent>.Continuation] = [:]
    var serviceTasks: [Task<Void, Never>] = []
    var discoveryTask: Task<Void, Never>?
    var stoppedWaiters: [CheckedContinuation<Void, Never>] = []
    /// What each service's definition was when last (re)started, to tell what a reload changed.
    var fingerprints: [String: String] = [:]
    var lastOperation: Task<Void, Never>?
    /// Services whose start is still waiting for dependencies or setup (their instances launch after).
    var pendingServices: Set<String> = []
    /// ssh master connections, one per destination, shared by the forwards to it (Forward/).
    var sshMasters: [String: SSHMaster] = [:]
    /// Reachability checks of forwards' remotes, shared by the forwards of one remote.
    var remoteChecks = RemoteChecks()
    var remoteCheckTasks: [String: Task<String?, Never>] = [:]
    /// Compares the clocks while forwards run, to check them all at once after a suspend.
    var forwardClockTask: Task<Void, Never>?
    /// The ports the proxy (the project's own, or the shared edge) serves the routes on, once it
    /// listens: `${svc.public_url}` names them. nil: the manifest's `proxy.port`, and no HTTPS.
    var servedPorts: (http: Int?, https: Int?) = (nil, nil)

    public init(manifest: Manifest, options: Options, group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.manifest = manifest
        self.options = options
        self.group = group
        self.stateDirectory = ProjectState.root(of: manifest.directory)
    }

    // MARK: Starting

    /// Chooses stable ports, opens their relays, and starts every selected service; returns once
    /// everything is launched (services come up in the background, in dependency order).
    public func start() async throws {
        selected = try Self.selection(options.services, in: manifest)
        recordFingerprints()
        _ = try ProjectState(manifest: manifest)
        try FileManager.default.createDirectory(atPath: stateDirectory, withIntermediateDirectories: true)
        watchdog = try Watchdog()
        let ported = manifest.services.filter { $0.hasPort && Self.forwardPort(of: $0) == nil }.map(\.name)
        stablePorts = try StablePorts(stateDirectory: stateDirectory).assign(
            ported, avoiding: Self.fixedPorts(of: manifest).union([manifest.proxy.port]))
        // A forward's fixed `port:` is its local end: the relay listens there itself.
        for service in manifest.services { if let port = Self.forwardPort(of: service) { stablePorts[service.name] = port } }
        for service in selected { try await openRelay(for: service) }
        for service in selected {
            instances[service.name] = (1...service.replicas).map { Instance(service: service, index: $0) }
        }
        discoveryTask = Task { await self.discoveryLoop() }
        for service in selected {
            serviceTasks.append(Task { await self.runService(service) })
        }
    }

    /// Opens the TCP relay on a service's stable port, unless it has one already (or needs none).
    func openRelay(for service: Service) async throws {
        guard options.relays, !phase.isStopping, service.hasPort, let port = stablePorts[service.name],
            !relays.contains(where: { $0.service == service.name })
        else { return }
        relays.append(try await TCPRelay.start(service: service.name, port: port, routes: routes, group: group))
    }

    static func fixedPorts(of manifest: Manifest) -> Set<Int> {
        Set(
            manifest.services.compactMap { service -> Int? in
                if case .fixed(let port) = service.port { return port }
                return nil
            })
    }

    /// The named services and, transitively, what they depend on, in start order.
    static func selection(_ names: [String], in manifest: Manifest) throws -> [Service] {
        guard !names.isEmpty else { return manifest.startOrder }
        var wanted = Set<String>()
        func add(_ name: String) throws {
            guard let service = manifest.service(named: name) else {
                throw SupervisorError.unknownService(name, known: manifest.services.map(\.name))
            }
            guard wanted.insert(name).inserted else { return }
            for dependency in service.dependsOn { try add(dependency.service) }
        }
        for name in names { try add(name) }
        return manifest.startOrder.filter { wanted.contains($0.name) }
    }

    func runService(_ service: Service) async {
        pendingServices.insert(service.name)
        defer { pendingServices.remove(service.name) }
        for dependency in service.dependsOn {
            handle(.waiting("\(dependency.service) (\(dependency.condition.rawValue))"), forService: service)
            if let problem = await waitFor(dependency) {
                handle(.failedToStart(problem), forService: service, announcing: .failed(problem))
                return
            }
        }
        if phase.isStopping { return }
        if service.setup != nil, let problem = await runSetup(service) {
            handle(.failedToStart(problem), forService: service, announcing: .failed(problem))
            return
        }
        pendingServices.remove(service.name)
        await withTaskGroup(of: Void.self) { group in
            for index in (instances[service.name] ?? []).map(\.index) {
                group.addTask { await self.runSpawnLoop(of: service.name, index: index) }
            }
        }
    }

    /// Runs the spawn loop of one instance of `service`, unless a loop runs it already.
    private func runSpawnLoop(of service: String, index: Int) async {
        guard let instance = instances[service]?.first(where: { $0.index == index }), !instance.looping else { return }
        await runInstance(instance)
    }

    /// Suspends until `dependency`'s condition holds; returns why it never will, or nil.
    private func waitFor(_ dependency: Dependency) async -> String? {
        while true {
            if phase.isStopping { return "devhost is stopping" }
            let list = instances[dependency.service] ?? []
            switch dependency.condition {
            case .started:
                if list.contains(where: { $0.pid != nil || $0.state == .completed || $0.isHealthy }) { return nil }
            case .healthy:
                if list.contains(where: \.isHealthy) { return nil }
            case .completed:
                if !list.isEmpty, list.allSatisfy({ $0.state == .completed }) { return nil }
            }
            if let failed = list.first(where: { $0.state.isFinal && $0.state != .completed }) {
                return "dependency \(dependency.service) \(failed.state)"
            }
            if !list.isEmpty, list.allSatisfy({ $0.state.isFinal }) {
                return "dependency \(dependency.service) ended before it was \(dependency.condition.rawValue)"
            }
            await nextChange()
        }
    }

    func runSetup(_ service: Service) async -> String? {
        let runner = SetupRunner(stateDirectory: stateDirectory)
        if runner.isUpToDate(service) {
            emit(SupervisorEvent(service: service.name, instance: 0, kind: .setup("up to date, skipped")))
            return nil
        }
        guard let setup = service.setup else { return nil }
        // A re-run for a running service (its inputs changed) leaves the serving instances' state alone.
        if !(instances[service.name] ?? []).contains(where: { $0.pid != nil }) {
            handle(.settingUp, forService: service, announcing: .settingUp)
        }
        emit(SupervisorEvent(service: service.name, instance: 0, kind: .setup("running \(setup)")))
        do {
            let builder = serviceEnvironment()
            let environment = try builder.environment(for: service, in: manifest, instance: .init(index: 0, port: nil))
            let argv = try builder.render(setup, env: environment)
            let status = try await runCommand(
                argv, environment: environment, directory: service.cwd, label: "\(service.name):setup", service: service.name)
            guard status.succeeded else { return "setup \(status)" }
        } catch {
            return "setup: \(error)"
        }
        runner.markDone(service)
        emit(SupervisorEvent(service: service.name, instance: 0, kind: .setup("done")))
        return nil
    }

    /// Starts a process whose output goes to the log under `label`, watched by the watchdog.
    /// The returned future completes when its output ends.
    func spawnLogged(_ argv: [String], environment: [String: String], directory: String, label: String, service: String) throws -> (
        pid: pid_t, output: EventLoopFuture<Void>
    ) {
        let (readFD, writeFD) = try Self.makePipe()
        let pid: pid_t
        do {
            pid = try ChildProcesses.shared.spawn(argv, environment: environment, directory: directory, outputFD: writeFD)
        } catch {
            close(readFD)
            close(writeFD)
            throw error
        }
        close(writeFD)
        watchdog?.watch(pid)
        let log = options.log
        return (
            pid, OutputReader.attach(fd: readFD, group: group) { log.serviceLine($0, label: label, service: service) }
        )
    }

    /// Runs a command to completion with its output in the log, as part of devhost's process tree.
    func runCommand(_ argv: [String], environment: [String: String], directory: String, label: String, service: String) async throws
        -> ExitStatus
    {
        let (pid, output) = try spawnLogged(argv, environment: environment, directory: directory, label: label, service: service)
        let status = await ChildProcesses.shared.exitStatus(of: pid)
        signalGroup(pid, SIGKILL)
        watchdog?.forget(pid)
        try? await output.get()
        return status
    }

    static func makePipe() throws -> (Int32, Int32) {
        var fds: [Int32] = [0, 0]
        guard devhost_pipe_cloexec(&fds) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EMFILE) }
        return (fds[0], fds[1])
    }

    /// Tells the supervisor where the proxy serves the routes, before any service starts (a reload
    /// keeps it: the listeners stay for the whole `up`).
    public func proxyServes(httpPort: Int?, httpsPort: Int?) {
        servedPorts = (httpPort, httpsPort)
    }

    /// The public URLs' ports for the manifest running now.
    public var publicEndpoints: PublicEndpoints {
        PublicEndpoints(proxy: manifest.proxy, httpPort: servedPorts.http ?? manifest.proxy.port, servedHTTPSPort: servedPorts.https)
    }

    func serviceEnvironment() -> ServiceEnvironment {
        let ports = stablePorts
        let manifest = self.manifest
        let endpoints = publicEndpoints
        return ServiceEnvironment(inherited: options.environment) { reference in
            guard let port = ports[reference.service] else { return nil }
            switch reference.field {
            case .host: return "127.0.0.1"
            case .port: return String(port)
            case .url: return "http://127.0.0.1:\(port)"
            case .publicURL, .publicHTTPURL:
                guard let route = manifest.service(named: reference.service)?.routeEntries.first else { return nil }
                let host = manifest.host(forRoute: route.host)
                return (reference.field == .publicURL ? endpoints.url(host: host) : endpoints.httpURL(host: host)) + route.pathSuffix
            }
        }
    }

    // MARK: State and events

    /// When nothing is left running or coming (every instance completed, exited or failed), devhost
    /// stops, as `docker compose up` does, rather than sit idle.
    func checkAllEnded() {
        guard !phase.isStopping, !selected.isEmpty else { return }
        let all = selected.flatMap { instances[$0.name] ?? [] }
        // Services stopped on request are a choice, not an ending: the control API stays up.
        guard all.allSatisfy({ $0.state.isFinal }), !all.contains(where: \.held) else { return }
        emit(SupervisorEvent(service: "devhost", instance: 0, kind: .allEnded))
        Task { await self.stop() }
    }

    func notifyChange() {
        let waiters = changeWaiters
        changeWaiters = []
        for waiter in waiters { waiter.resume() }
    }

    func nextChange() async {
        await withCheckedContinuation { changeWaiters.append($0) }
    }

    func emit(_ event: SupervisorEvent) {
        options.log.event(event.description, service: event.service)
        for stream in eventStreams.values { stream.yield(event) }
    }

    /// Every event from now on (tests, the control API, the proxy).
    public func events() -> AsyncStream<SupervisorEvent> {
        let id = UUID()
        let (stream, continuation) = AsyncStream<SupervisorEvent>.makeStream()
        eventStreams[id] = continuation
        continuation.onTermination = { _ in Task { await self.removeStream(id) } }
        return stream
    }

    private func removeStream(_ id: UUID) {
        eventStreams[id] = nil
    }

    public func snapshot() -> [InstanceSnapshot] {
        selected.flatMap { instances[$0.name] ?? [] }.map(\.snapshot)
    }

    /// Announces once that every selected service reached what it is for.
    func checkReady() {
        guard phase == .starting else { return }
        let all = selected.flatMap { instances[$0.name] ?? [] }
        let ready = all.allSatisfy { instance in
            switch instance.state {
            case .healthy, .completed: return true
            case .running: return instance.service.health == nil
            default: return false
            }
        }
        if ready {
            phase = .ready
            emit(SupervisorEvent(service: "devhost", instance: 0, kind: .ready))
        }
    }
}

public enum SupervisorError: Error, CustomStringConvertible {
    case unknownService(String, known: [String])
    case notStarted(String)

    public var description: String {
        switch self {
        case .notStarted(let name): return "\(name) is not running (it was not selected at `devhost up`; `devhost start \(name)` starts it)"
        case .unknownService(let name, let known):
            return "no service named \"\(name)\" (the manifest has: \(known.joined(separator: ", ")))"
        }
    }
}
