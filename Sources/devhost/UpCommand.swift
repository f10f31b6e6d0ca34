import ArgumentParser
import DevhostManifest
import DevhostRuntime
import Dispatch
import Foundation
import NIOPosix

struct UpCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "up",
        abstract: "Start the services in devhost.yml and keep them running until Ctrl-C.",
        discussion: """
            Naming services starts them and what they depend on. Ctrl-C stops everything in reverse
            dependency order (stop_signal, then SIGKILL after stop_timeout); a second Ctrl-C kills at once.
            """
    )

    @OptionGroup var manifestOptions: ManifestOptions

    @Argument(help: "Services to start (default: all).")
    var services: [String] = []

    @Flag(help: "Prefix every line with the time.")
    var timestamps = false

    @OptionGroup var proxyOptions: ProxyOptions

    @Flag(name: .customLong("no-proxy"), help: "Do not start the reverse proxy (stable service ports still work).")
    var noProxy = false

    func run() async throws {
        let manifest = try manifestOptions.load()
        let out = Console.standardOutput
        let log = LogOutput(
            options: .init(colored: out.colored, timestamps: timestamps, directory: ProjectState(manifest: manifest).logs),
            labels: manifest.services.flatMap { service in (1...service.replicas).map { "\(service.name).\($0)" } })
        let supervisor = Supervisor(manifest: manifest, options: .init(services: services, log: log))
        let signals = SignalRelay { force in
            Task { await supervisor.stop(force: force) }
        }
        defer { signals.cancel() }
        var proxy: ProxyServer?
        var watcher: Task<Void, Never>?
        do {
            if !noProxy {
                let board = supervisor.board
                // Standalone routes (`devhost route add`) are served next to the manifest's.
                let routes = ProxyRoutes(ProxyRoutes.routes(for: manifest))
                let file = RouteFile(path: RouteFile.defaultPath())
                do {
                    try RouteFileWatcher.apply(file, base: routes.all, to: routes)
                } catch {
                    Console.standardError.warning("\(error)")
                }
                watcher = RouteFileWatcher.watch(file, base: ProxyRoutes.routes(for: manifest), routes: routes, log: log)
                let context = ProxyContext(
                    routes: routes, instances: supervisor.routes, settings: try proxyOptions.settings(),
                    log: log, describe: { service in (board.summary(of: service), log.recentLines(of: service).suffix(20)) })
                let port = try proxyOptions.resolvedPort(manifestPort: manifest.proxy.port)
                do {
                    proxy = try await ProxyServer.start(host: manifest.proxy.bind, port: port, context: context, group: MultiThreadedEventLoopGroup.singleton)
                } catch {
                    let holder = PortScanner().owner(ofPort: port).map { " by pid \($0.pid) (\($0.command))" } ?? ""
                    throw CommandFailure(message: "cannot listen on \(manifest.proxy.bind):\(port)\(holder.isEmpty ? "" : ": it is taken" + holder) (use --proxy-port or DEVHOST_PROXY_PORT)")
                }
            }
            try await supervisor.start()
        } catch {
            await supervisor.stop()
            await proxy?.close()
            if let failure = error as? CommandFailure { throw failure }
            throw CommandFailure(message: "\(error)")
        }
        let events = await supervisor.events()
        let proxyPort = proxy?.port
        let summary = Task {
            for await event in events where event.kind == .ready {
                let ports = await supervisor.stablePorts
                Self.printSummary(manifest: manifest, ports: ports, proxyPort: proxyPort, log: log)
            }
        }
        await supervisor.waitUntilStopped()
        watcher?.cancel()
        await proxy?.close()
        summary.cancel()
        let failed = await supervisor.snapshot().filter { if case .failed = $0.state { return true } else { return false } }
        if !failed.isEmpty, !signals.received {
            throw CommandFailure(message: failed.map { "\($0.label) \($0.state)" }.joined(separator: "; "))
        }
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
        sources.forEach { $0.cancel() }
    }
}
