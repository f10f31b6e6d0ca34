import DevhostProxy
import Foundation
import NIOCore
import NIOPosix

/// A project's link to the shared edge proxy: starts the edge when none runs, registers the
/// project's routes, mirrors its instance table there, and, when the edge goes away, starts a new
/// one and registers again (the services keep running; only routing pauses).
public actor EdgeLink {
    public struct Options: Sendable {
        public var paths: EdgePaths
        public var version: String
        /// How to start a background edge (nil: never start one, only join).
        public var spawn: [String]?
        public var environment: [String: String]
        public var log: LogOutput?
        public var group: EventLoopGroup
        /// How long to wait for an edge to answer after starting it.
        public var startTimeout: Duration

        public init(
            paths: EdgePaths, version: String, spawn: [String]?, environment: [String: String] = ProcessInfo.processInfo.environment,
            log: LogOutput? = nil, group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton, startTimeout: Duration = .seconds(5)
        ) {
            self.paths = paths
            self.version = version
            self.spawn = spawn
            self.environment = environment
            self.log = log
            self.group = group
            self.startTimeout = startTimeout
        }
    }

    public struct Registration: Sendable, Equatable {
        public var key: String
        public var prefix: String?
        public var rule: String
        public var hosts: [String]
        /// The edge's proxy port and pid.
        public var port: Int
        public var edgePID: Int32
        /// The edge's HTTPS port; nil when it serves no HTTPS (or is older than HTTPS).
        public var httpsPort: Int? = nil
    }

    private let options: Options
    private(set) var connection: EdgeConnection?
    private var welcome: EdgeMessage?
    private var project: EdgeProject?
    private var table: RouteTable?
    private var describe: (@Sendable (String) -> (state: String, lines: [String]))?
    private var services: [String] = []
    private var drains: [Int: CheckedContinuation<Void, Never>] = [:]
    private var nextDrain = 0
    /// Questions to the edge's request inspector waiting for their answers, by id.
    var queries: [Int: CheckedContinuation<RequestAnswer?, Never>] = [:]
    var nextQuery = 0
    private var closing = false
    /// The edge said it was stopped on purpose: rejoin one that comes back, do not start one.
    private var stoppedByUser = false
    private var recovery: Task<Void, Never>?
    private var updates: AsyncStream<(String, String, RouteTable.Endpoint?)>.Continuation?
    public private(set) var registration: Registration?

    /// Connects to the running edge, starting one first when none answers.
    public static func connect(_ options: Options) async throws(EdgeError) -> EdgeLink {
        let link = EdgeLink(options)
        try await link.open(spawning: options.spawn != nil)
        return link
    }

    private init(_ options: Options) {
        self.options = options
    }

    // MARK: Connecting

    private func open(spawning: Bool) async throws(EdgeError) {
        let deadline = ContinuousClock.now + options.startTimeout
        var started: pid_t?
        var exited: ExitStatus?
        while true {
            // A recovery cancelled by `withdraw`: its sleeps no longer wait, so stop here.
            if Task.isCancelled { throw .unreachable("stopped joining the edge proxy") }
            if let connection = await EdgeConnection.open(path: options.paths.socket, group: options.group) {
                let reply = await connection.request(.hello(version: options.version))
                guard let reply else {
                    connection.close()
                    if ContinuousClock.now > deadline { throw .unreachable("the edge proxy at \(options.paths.socket) did not answer") }
                    try? await Task.sleep(for: .milliseconds(25))
                    continue
                }
                guard reply.type == .welcome, reply.protocol == EdgeProtocol.version else {
                    connection.close()
                    throw .versionSkew(edgeVersion: reply.version ?? "unknown", edgeProtocol: reply.protocol ?? 0, pid: reply.pid ?? 0)
                }
                self.connection = connection
                self.welcome = reply
                watch(connection)
                return
            }
            if spawning, started == nil, let argv = options.spawn {
                started = try spawn(argv)
            }
            if let pid = started, exited == nil { exited = ChildProcesses.shared.peekStatus(of: pid) }
            if ContinuousClock.now > deadline {
                // The one started here may have lost a race with another project's (and then that one
                // answers in time); only a missing answer counts.
                if let exited {
                    let tail = (try? String(contentsOfFile: options.paths.log, encoding: .utf8))?.split(separator: "\n").suffix(5) ?? []
                    throw .unreachable("the edge proxy exited (\(exited)) as it started:\n" + tail.joined(separator: "\n"))
                }
                throw .unreachable(
                    "no edge proxy answers at \(options.paths.socket)" + (spawning ? " (one was started; see \(options.paths.log))" : ""))
            }
            try? await Task.sleep(for: .milliseconds(started == nil ? 100 : 10))
        }
    }

    private func spawn(_ argv: [String]) throws(EdgeError) -> pid_t {
        try options.paths.prepare()
        let output = Foundation.open(options.paths.log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard output >= 0 else { throw .unreachable("cannot write \(options.paths.log): \(String(cString: strerror(errno)))") }
        defer { close(output) }
        do {
            return try ChildProcesses.shared.spawn(argv, environment: options.environment, directory: "/", outputFD: output)
        } catch {
            throw .unreachable("cannot start the edge proxy: \(error)")
        }
    }

    /// Reads the edge's messages until the connection ends, then recovers.
    private func watch(_ connection: EdgeConnection) {
        Task {
            for await message in connection.unsolicited { self.received(message) }
            self.lost(connection)
        }
    }

    private func received(_ message: EdgeMessage) {
        switch message.type {
        case .drained:
            if let id = message.id { drains.removeValue(forKey: id)?.resume() }
        case .requests:
            if let id = message.id { queries.removeValue(forKey: id)?.resume(returning: message.answer) }
        case .bye:
            stoppedByUser = true
            options.log?.event("the edge proxy stopped (\(message.message ?? "no reason given")); routes return when it runs again")
        default:
            break
        }
    }

    private func lost(_ gone: EdgeConnection) {
        guard connection === gone else { return }
        connection = nil
        for (_, waiter) in drains { waiter.resume() }
        drains = [:]
        for (_, waiter) in queries { waiter.resume(returning: nil) }
        queries = [:]
        guard !closing, project != nil, recovery == nil else { return }
        if !stoppedByUser { options.log?.event("the edge proxy went away; starting a new one and registering again") }
        recovery = Task { await self.recover() }
    }

    /// Joins (or starts) an edge again and registers with what it had: the same prefix, the whole
    /// instance table, each service's state.
    private func recover() async {
        var pause = Duration.milliseconds(50)
        while !closing {
            do {
                try await open(spawning: !stoppedByUser)
                if let project { _ = try await register(project) }
                sendSnapshot()
                options.log?.event("registered with the edge proxy again (pid \(welcome?.pid ?? 0))")
                stoppedByUser = false
                break
            } catch {
                if case .refused(let text) = error { options.log?.event("the edge proxy refused this project: \(text)") }
                try? await Task.sleep(for: pause)
                pause = min(pause * 2, .seconds(1))
            }
        }
        recovery = nil
    }

    /// What the edge understands beyond its protocol version (`EdgeProtocol.features`).
    var welcomeFeatures: [String] { welcome?.features ?? [] }

    /// Which edge answered: its pid and version.
    public var welcomeSummary: String {
        "pid \(welcome?.pid ?? 0), devhost \(welcome?.version ?? "?")"
    }

    /// The running edge's status, without starting one.
    public static func status(_ options: Options) async throws(EdgeError) -> EdgeStatus {
        var options = options
        options.spawn = nil
        options.startTimeout = .milliseconds(500)
        let link = EdgeLink(options)
        do {
            try await link.open(spawning: false)
        } catch .unreachable {
            throw .unreachable("no edge proxy runs on port \(options.paths.port) (`devhost up` or `devhost proxy start` starts one)")
        }
        defer { Task { await link.withdraw() } }
        guard let reply = await link.connection?.request(EdgeMessage(.status)), let status = reply.status else {
            throw .unreachable("the edge proxy did not answer with its status")
        }
        return status
    }

    // MARK: Registering

    /// Registers the project's routes (again, after a reload); returns which hosts it got.
    @discardableResult
    public func register(_ project: EdgeProject) async throws(EdgeError) -> Registration {
        guard let connection else { throw .unreachable("not connected to the edge proxy") }
        if project.routes.contains(where: { $0.path != nil }), !(welcome?.features ?? []).contains("path-routes") {
            throw .invalid(
                "the running edge proxy (\(welcomeSummary)) predates path routes, which this project uses: "
                    + "restart it with `devhost proxy restart` (running projects register again by themselves)")
        }
        if project.routes.contains(where: { $0.protocol != nil }), !(welcome?.features ?? []).contains("upstream-protocols") {
            throw .invalid(
                "the running edge proxy (\(welcomeSummary)) predates h2c and gRPC services, which this project has: "
                    + "restart it with `devhost proxy restart` (running projects register again by themselves)")
        }
        var project = project
        if project.prefix == nil { project.prefix = registration?.prefix }
        var message = EdgeMessage(self.project == nil ? .register : .routes)
        message.project = project
        guard let reply = await connection.request(message) else { throw .unreachable("the edge proxy closed the connection") }
        switch reply.type {
        case .registered:
            self.project = project
            let result = Registration(
                key: reply.key ?? project.name, prefix: reply.prefix, rule: reply.rule ?? "", hosts: reply.hosts ?? [],
                port: welcome?.port ?? options.paths.port, edgePID: welcome?.pid ?? 0, httpsPort: welcome?.httpsPort)
            registration = result
            return result
        case .refused: throw .refused(reply.message ?? "refused")
        default: throw .unreachable(reply.message ?? "unexpected answer \(reply.type.rawValue)")
        }
    }

    /// Mirrors `table` (the supervisor's) into the edge from now on, and after every reconnection.
    public func mirror(_ table: RouteTable, describe: @escaping @Sendable (String) -> (state: String, lines: [String])) {
        self.table = table
        self.describe = describe
        let (stream, continuation) = AsyncStream<(String, String, RouteTable.Endpoint?)>.makeStream()
        updates = continuation
        table.observe(
            { service, instance, endpoint in continuation.yield((service, instance, endpoint)) },
            drain: { [weak self] service, instance, limit in await self?.drain(service: service, instance: instance, upTo: limit) })
        Task {
            for await (service, instance, endpoint) in stream { self.send(service: service, instance: instance, endpoint: endpoint) }
        }
        let (faults, faultChanges) = AsyncStream<[FaultRule]>.makeStream(bufferingPolicy: .bufferingNewest(1))
        table.faults.observe { faultChanges.yield($0) }
        Task {
            for await rules in faults { self.send(faults: rules) }
        }
        sendSnapshot()
    }

    /// The project's faults in force, whole; an edge without the `faults` feature gets none, and
    /// the project refuses new ones while it serves it (they would silently not happen).
    private func send(faults rules: [FaultRule]) {
        guard let table else { return }
        guard (welcome?.features ?? []).contains("faults") else {
            table.faults.unsupported =
                "the running edge proxy (\(welcomeSummary)) predates fault injection: "
                + "restart it with `devhost proxy restart` (running projects register again by themselves)"
            return
        }
        table.faults.unsupported = nil
        var message = EdgeMessage(.faults)
        let now = FaultTable.now
        message.faults = rules.map { EdgeFault($0, now: now) }
        connection?.send(message)
    }

    private func send(service: String, instance: String, endpoint: RouteTable.Endpoint?) {
        var message = EdgeMessage(.endpoint)
        message.service = service
        message.instance = instance
        message.host = endpoint?.host
        message.port = endpoint?.port
        connection?.send(message)
    }

    private func sendSnapshot() {
        guard let table else { return }
        for (service, endpoints) in table.all() {
            for endpoint in endpoints { send(service: service, instance: endpoint.instance, endpoint: endpoint) }
        }
        for service in services { described(service: service) }
        send(faults: table.faults.active())
    }

    /// The wait page's text for `service` changed (its state, its last lines).
    public func described(service: String) {
        if !services.contains(service) { services.append(service) }
        guard let describe else { return }
        let (state, lines) = describe(service)
        var message = EdgeMessage(.describe)
        message.service = service
        message.state = state
        message.lines = lines
        connection?.send(message)
    }

    private func drain(service: String, instance: String, upTo limit: Duration) async {
        guard let connection else { return }
        nextDrain += 1
        let id = nextDrain
        var message = EdgeMessage(.drain)
        message.service = service
        message.instance = instance
        message.id = id
        message.timeoutMs = Int(limit.components.seconds * 1000 + limit.components.attoseconds / 1_000_000_000_000_000)
        let timeout = Task { [weak self] in
            try? await Task.sleep(for: limit + .milliseconds(200))
            await self?.finishDrain(id)
        }
        await withCheckedContinuation { continuation in
            drains[id] = continuation
            connection.send(message)
        }
        timeout.cancel()
    }

    private func finishDrain(_ id: Int) {
        drains.removeValue(forKey: id)?.resume()
    }

    /// Takes the project's routes off the edge and closes the link (`down`, Ctrl-C).
    public func withdraw() async {
        closing = true
        recovery?.cancel()
        updates?.finish()
        guard let connection else { return }
        _ = await connection.request(EdgeMessage(.withdraw), timeout: .seconds(1))
        connection.close()
        self.connection = nil
    }
}
