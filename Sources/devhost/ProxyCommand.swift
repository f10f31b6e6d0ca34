import ArgumentParser
import DevhostManifest
import DevhostProxy
import DevhostRuntime
import Foundation
import NIOPosix

struct ProxyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "proxy",
        abstract: "Run only the reverse proxy, for the standalone routes (and --route flags).",
        discussion: "Serves NAME.localhost for every `devhost route add` entry; edits to the route file apply without a restart."
    )

    @OptionGroup var proxyOptions: ProxyOptions

    @Option(name: .customLong("route"), help: ArgumentHelp("An extra route, HOST=TARGET (api.localhost=8000).", valueName: "host=target"))
    var extraRoutes: [String] = []

    @Option(help: "Address to listen on.")
    var bind = "127.0.0.1"

    @Option(help: "Event loop threads (default: one per core).")
    var threads: Int?

    func run() async throws {
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
        let file = RouteFile(path: RouteFile.defaultPath())
        let routes = ProxyRoutes()
        do { try RouteFileWatcher.apply(file, base: extra, to: routes) } catch { throw CommandFailure(message: "\(error)") }
        let out = Console.standardOutput
        let log = LogOutput(options: .init(colored: out.colored))
        let context = ProxyContext(
            routes: routes, instances: RouteTable(), settings: try proxyOptions.settings(), log: log,
            accessLog: try proxyOptions.accessLog(terminal: log))
        let group = threads.map { MultiThreadedEventLoopGroup(numberOfThreads: max(1, $0)) } ?? MultiThreadedEventLoopGroup.singleton
        let port = try proxyOptions.resolvedPort(manifestPort: nil)
        let server: ProxyServer
        do {
            server = try await ProxyServer.start(host: bind, port: port, context: context, group: group)
        } catch {
            throw CommandFailure(message: "cannot listen on \(bind):\(port): \(error)")
        }
        log.event("proxy on http://\(bind):\(server.port) with \(routes.all.count) route\(routes.all.count == 1 ? "" : "s") (\(file.path))")
        for route in routes.all { log.event("  http://\(route.host):\(server.port)") }
        let stopped = AsyncStream<Void>.makeStream()
        let signals = SignalRelay(notice: "\nstopping (Ctrl-C again to kill at once)") { _ in stopped.continuation.finish() }
        defer { signals.cancel() }
        let watcher = RouteFileWatcher.watch(file, base: { [extra] in extra }, routes: routes, log: log)
        for await _ in stopped.stream {}
        watcher.cancel()
        await server.close()
    }
}
