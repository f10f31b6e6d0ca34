import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// The edge's own dashboard, `devhost.localhost`: every running project with its services, their
/// links and states, and a link to each project's own dashboard (logs, restarts). HTTP on a Unix
/// socket that only the user can open; the proxy reaches it with the same loopback-and-uid check
/// as a project's dashboard.
public final class EdgePagesServer: Sendable {
    private let channel: Channel
    private let path: String
    private let source: NIOLockedValueBox<(@Sendable () -> EdgeStatus)?>

    var status: (@Sendable () -> EdgeStatus)? {
        get { source.withLockedValue { $0 } }
        set { source.withLockedValue { $0 = newValue } }
    }

    static func start(path: String, group: EventLoopGroup) async throws -> EdgePagesServer {
        let source = NIOLockedValueBox<(@Sendable () -> EdgeStatus)?>(nil)
        let previous = umask(0o177)
        defer { umask(previous) }
        let channel = try await ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(EdgePageHandler(source: source))
                }
            }
            .bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true).get()
        chmod(path, 0o600)
        return EdgePagesServer(channel: channel, path: path, source: source)
    }

    private init(channel: Channel, path: String, source: NIOLockedValueBox<(@Sendable () -> EdgeStatus)?>) {
        self.channel = channel
        self.path = path
        self.source = source
    }

    func close() async {
        try? await channel.close()
        unlink(path)
    }

    /// The index page: one section a project.
    static func html(_ status: EdgeStatus, port: Int) -> String {
        func escape(_ text: String) -> String {
            text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
                .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
        }
        func link(_ host: String) -> String { "<a href=\"http://\(escape(host)):\(port)/\">\(escape(host))</a>" }
        var body = "<h1>devhost</h1><p>Edge proxy on port \(port), pid \(status.pid), devhost \(escape(status.version)).</p>"
        if status.projects.isEmpty { body += "<p>No project is running. Start one with <code>devhost up</code>.</p>" }
        for project in status.projects {
            body += "<section class=\"project\" data-key=\"\(escape(project.key))\"><h2>\(escape(project.key))</h2>"
            body += "<p><code>\(escape(project.folder))</code> · pid \(project.pid)"
            if let prefix = project.prefix { body += " · worktree, hosts prefixed with <code>\(escape(prefix)).</code>" }
            body +=
                " · \(link(project.dashboard)) (logs, restarts)</p><table><tr><th>service</th><th>state</th><th>healthy</th><th>links</th></tr>"
            for service in project.services {
                body +=
                    "<tr class=\"service\"><td>\(escape(service.name))</td><td>\(escape(service.state))</td><td>\(service.healthy)</td><td>"
                body += service.hosts.map(link).joined(separator: " ") + "</td></tr>"
            }
            body += "</table></section>"
        }
        if !status.standalone.isEmpty {
            body += "<h2>Standalone routes</h2><ul>"
            for route in status.standalone { body += "<li>\(link(route.host)) → <code>\(escape(route.target))</code></li>" }
            body += "</ul>"
        }
        return """
            <!doctype html><html><head><meta charset="utf-8"><title>devhost</title><meta http-equiv="refresh" content="5">
            <style>body{font:15px/1.5 system-ui,sans-serif;margin:2em auto;max-width:60em;color:#222}table{border-collapse:collapse}td,th{padding:.2em .8em;text-align:left;border-bottom:1px solid #ddd}code{background:#f4f4f4;padding:.1em .3em}a{color:#0b63c5}</style>
            </head><body>\(body)</body></html>

            """
    }
}

final class EdgePageHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let source: NIOLockedValueBox<(@Sendable () -> EdgeStatus)?>
    private var head: HTTPRequestHead?

    init(source: NIOLockedValueBox<(@Sendable () -> EdgeStatus)?>) {
        self.source = source
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): self.head = head
        case .body: break
        case .end:
            guard let head else { return }
            self.head = nil
            let path = head.uri.split(separator: "?").first.map(String.init) ?? head.uri
            guard let status = source.withLockedValue({ $0 })?() else {
                return respond(context, head, .serviceUnavailable, "text/plain", "starting\n")
            }
            let port = Int(head.headers["host"].first?.split(separator: ":").last.flatMap { Int($0) } ?? status.port)
            switch (head.method, path) {
            case (.GET, "/"), (.HEAD, "/"):
                respond(context, head, .ok, "text/html; charset=utf-8", EdgePagesServer.html(status, port: port))
            case (.GET, "/v1/edge"):
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
                let body = (try? encoder.encode(status)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
                respond(context, head, .ok, "application/json", body + "\n")
            default:
                respond(context, head, .notFound, "text/plain", "not found: the edge serves / and /v1/edge\n")
            }
        }
    }

    private func respond(
        _ context: ChannelHandlerContext, _ request: HTTPRequestHead, _ status: HTTPResponseStatus, _ type: String, _ body: String
    ) {
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: type)
        headers.add(name: "content-length", value: String(body.utf8.count))
        headers.add(name: "cache-control", value: "no-store")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: status, headers: headers))), promise: nil)
        if request.method != .HEAD { context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: body)))), promise: nil) }
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        if !request.isKeepAlive { context.close(promise: nil) }
    }
}

@available(*, unavailable)
extension EdgePageHandler: Sendable {}
