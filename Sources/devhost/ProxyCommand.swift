import ArgumentParser
import DevhostManifest
import DevhostProxy
import DevhostRuntime
import Foundation
import NIOPosix

/// `devhost proxy`: the per-user edge proxy every project registers with, and its life cycle.
struct ProxyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "proxy",
        abstract: "The edge proxy every project on this machine shares (run, start, stop, restart, status).",
        discussion: """
            One proxy per user serves every running project's hosts and the standalone routes \
            (`devhost route add`) on the proxy port (7777, or $DEVHOST_EDGE_PORT). `devhost up` starts it \
            when none runs; `devhost proxy` runs it in the foreground.
            """,
        subcommands: [Run.self, Start.self, Stop.self, Restart.self, Status.self],
        defaultSubcommand: Run.self
    )

    /// The edge's port: `--proxy-port`, $DEVHOST_PROXY_PORT, $DEVHOST_EDGE_PORT, 7777.
    static func paths(_ options: ProxyOptions) throws -> EdgePaths {
        let fallback: Int
        do { fallback = try EdgePaths.port() } catch { throw CommandFailure(message: error.description) }
        return EdgePaths(port: try options.resolvedPort(manifestPort: nil, default: fallback))
    }

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "run", abstract: "Run the edge proxy in the foreground (the default).",
            discussion: "Serves NAME.localhost for every `devhost route add` entry and every project that registers.")

        @OptionGroup var proxyOptions: ProxyOptions

        @Option(
            name: .customLong("route"), help: ArgumentHelp("An extra route, HOST=TARGET (api.localhost=8000).", valueName: "host=target"))
        var extraRoutes: [String] = []

        @Option(
            name: .customLong("fault"),
            help: ArgumentHelp(
                "A fault on a standalone route, HOST?OPTIONS with the options of `devhost fault` (api.localhost?latency=300ms&for=1h).",
                valueName: "host?options"))
        var faults: [String] = []

        /// `--fault` values as fault inputs named by their route's host.
        func faultInputs() throws -> [FaultInput] {
            try faults.map { item in
                let parts = item.split(separator: "?", maxSplits: 1).map(String.init)
                var values = ["service": parts[0].lowercased()]
                for pair in (parts.count > 1 ? parts[1] : "").split(separator: "&") {
                    let kv = pair.split(separator: "=", maxSplits: 1).map(String.init)
                    values[kv[0]] = kv.count > 1 ? kv[1] : "1"
                }
                do {
                    return try FaultInput.parse(values)
                } catch {
                    throw CommandFailure(message: "--fault \(item): \(error)")
                }
            }
        }

        @Option(help: "Address to listen on.")
        var bind = "127.0.0.1"

        @Option(help: "Event loop threads (default: one per core).")
        var threads: Int?

        @Option(name: .customLong("exit-when-idle"), help: "Exit after this long with no project and no standalone route (e.g. 5m).")
        var exitWhenIdle: String?

        @Option(
            name: .customLong("https-port"),
            help:
                "HTTPS (HTTP/2 and HTTP/1.1) on this port, with certificates from devhost's CA; 0: none (default: $DEVHOST_EDGE_HTTPS_PORT, or 7443)."
        )
        var httpsPort: Int?

        /// Measurement only (scripts/bench/proxy_ab.sh): the edge records the standalone routes'
        /// exchanges too, as it records a project's (which no project reads).
        @Flag(name: .customLong("inspect"), help: .hidden)
        var inspect = false

        /// `--https-port`, then `$DEVHOST_EDGE_HTTPS_PORT`, then 7443 (where a taken port only means no HTTPS).
        func https(environment: [String: String]) throws -> HTTPSPort {
            if let httpsPort {
                guard (0...65535).contains(httpsPort) else { throw ValidationError("--https-port \(httpsPort) is not a port number") }
                return HTTPSPort(port: httpsPort, explicit: true)
            }
            guard let text = environment["DEVHOST_EDGE_HTTPS_PORT"], !text.isEmpty else { return .default }
            guard let port = Int(text), (0...65535).contains(port) else {
                throw CommandFailure(message: "DEVHOST_EDGE_HTTPS_PORT=\(text) is not a port number (0 turns HTTPS off)")
            }
            return HTTPSPort(port: port, explicit: true)
        }

        func run() async throws {
            let faultInputs = try faultInputs()
            var extra: [ProxyRoutes.Route] = []
            for item in extraRoutes {
                guard let equals = item.firstIndex(of: "=") else { throw ValidationError("--route takes HOST=TARGET, got \(item)") }
                do {
                    let (host, port) = try RouteFile.parseTarget(String(item[item.index(after: equals)...]))
                    extra.append(.init(host: String(item[..<equals]).lowercased(), target: .address(host: host, port: port)))
                } catch {
                    throw CommandFailure(message: error.description)
                }
            }
            let idle = try exitWhenIdle.map { text in
                guard let value = DurationText.parse(text), value > .zero else {
                    throw CommandFailure(message: "--exit-when-idle \(text) is not a duration")
                }
                return value
            }
            let out = Console.standardOutput
            let log = LogOutput(options: .init(colored: out.colored))
            let group = threads.map { MultiThreadedEventLoopGroup(numberOfThreads: max(1, $0)) } ?? MultiThreadedEventLoopGroup.singleton
            let file = RouteFile(path: RouteFile.defaultPath())
            var configuration = Edge.Configuration(
                paths: try ProxyCommand.paths(proxyOptions), bind: bind, settings: try proxyOptions.settings(),
                accessLog: try proxyOptions.accessLog(terminal: log), routeFile: file, extraRoutes: extra, exitWhenIdle: idle,
                version: Devhost.version, log: log, group: group)
            configuration.https = try https(environment: ProcessInfo.processInfo.environment)
            configuration.inspector = Inspector(loops: threads.map { max(1, $0) } ?? ProcessInfo.processInfo.activeProcessorCount)
            configuration.inspectsStandalone = inspect
            let edge: Edge
            do {
                edge = try await Edge.start(configuration)
            } catch {
                throw CommandFailure(message: error.description)
            }
            edge.registry.setStandaloneFaults(faultInputs)
            let secure = edge.httpsPort.map { " and https://\(bind):\($0)" } ?? ""
            log.event("edge proxy on http://\(bind):\(edge.port)\(secure) (pid \(getpid())); projects register on \(edge.socket)")
            log.event("standalone routes from \(file.path); dashboard http://devhost.localhost:\(edge.port)/")
            let signals = SignalRelay(notice: nil) { _ in edge.stop(saying: "stopped by a signal (`devhost proxy stop`)") }
            defer { signals.cancel() }
            await edge.run()
            log.event("edge proxy stopped")
        }
    }

    struct Start: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "start", abstract: "Start the edge proxy in the background (if none runs) and return once it answers.")

        @OptionGroup var proxyOptions: ProxyOptions

        func run() async throws {
            try await ProxyCommand.start(ProxyCommand.paths(proxyOptions))
        }
    }

    struct Stop: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "stop", abstract: "Stop the edge proxy; running projects wait for the next one and register again.")

        @OptionGroup var proxyOptions: ProxyOptions

        func run() async throws {
            let paths = try ProxyCommand.paths(proxyOptions)
            guard let pid = await paths.stopRunning() else {
                Console.standardOutput.line("no edge proxy runs on port \(paths.port)")
                return
            }
            Console.standardOutput.line("stopped the edge proxy on port \(paths.port) (pid \(pid))")
        }
    }

    struct Restart: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "restart",
            abstract: "Stop the edge proxy and start this devhost's; running projects register with the new one by themselves.")

        @OptionGroup var proxyOptions: ProxyOptions

        func run() async throws {
            let paths = try ProxyCommand.paths(proxyOptions)
            if let pid = await paths.stopRunning() { Console.standardOutput.line("stopped the edge proxy (pid \(pid))") }
            try await ProxyCommand.start(paths)
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "status", abstract: "Show what the edge proxy serves.")

        @OptionGroup var proxyOptions: ProxyOptions

        @Flag(help: "Print the status as JSON.")
        var json = false

        func run() async throws {
            let paths = try ProxyCommand.paths(proxyOptions)
            let status: EdgeStatus
            do {
                status = try await EdgeLink.status(ProxyCommand.linkOptions(paths, spawning: false))
            } catch {
                throw CommandFailure(message: "\(error)")
            }
            let out = Console.standardOutput
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
                out.line(String(decoding: try encoder.encode(status), as: UTF8.self))
                return
            }
            out.write(EdgeStatusText.render(status))
        }
    }

    /// Starts the background edge unless one answers already, and says which one answers.
    static func start(_ paths: EdgePaths) async throws {
        do {
            let link = try await EdgeLink.connect(linkOptions(paths))
            let summary = await link.welcomeSummary
            await link.withdraw()
            Console.standardOutput.line("edge proxy on http://127.0.0.1:\(paths.port) (\(summary))")
        } catch {
            throw CommandFailure(message: error.description)
        }
    }

    static func linkOptions(_ paths: EdgePaths, spawning: Bool = true, log: LogOutput? = nil) -> EdgeLink.Options {
        EdgeLink.Options(
            paths: paths, version: Devhost.version, spawn: spawning ? spawnArguments(paths) : nil, environment: edgeEnvironment(), log: log)
    }

    /// The background edge outlives the project that starts it and serves every other one: it gets
    /// only what it needs to find its files, not the project's environment (its secrets, its markers).
    static func edgeEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> [String: String] {
        let kept = [
            "PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TZ", "XDG_RUNTIME_DIR", "XDG_CONFIG_HOME", "XDG_DATA_HOME",
            "DEVHOST_ROUTES",
            "NO_COLOR",
        ]
        var result = environment.filter { kept.contains($0.key) || $0.key.hasPrefix("DEVHOST_EDGE_") }
        result["NO_COLOR"] = "1"
        return result
    }

    /// The background edge: this binary, `proxy run` on the port, exiting after a while with
    /// nothing to serve ($DEVHOST_EDGE_IDLE, 5 minutes by default), access log off.
    static func spawnArguments(_ paths: EdgePaths) -> [String] {
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let idle = ProcessInfo.processInfo.environment["DEVHOST_EDGE_IDLE"].flatMap { $0.isEmpty ? nil : $0 } ?? "5m"
        return [executable, "proxy", "run", "--proxy-port", String(paths.port), "--exit-when-idle", idle, "--log-format", "off"]
    }
}
