import NIOCore
import NIOPosix
import NIOSSL

/// The reverse proxy: one listener on `proxy.bind:proxy.port` serving every route by `Host`, plain
/// HTTP/1.1, or HTTPS (HTTP/2 and HTTP/1.1 by ALPN) when started with a TLS context.
public final class ProxyServer: @unchecked Sendable {
    public let context: ProxyContext
    private let channel: Channel
    /// The access log is shared by a project's HTTP and HTTPS listeners: the plain one closes it.
    private let closesLog: Bool
    public var port: Int { channel.localAddress?.port ?? 0 }

    /// `tls`: serve HTTPS on this listener (see `ProxyTLS`); nil: plain HTTP/1.1, whose pipeline is
    /// the proxy handler alone, as before HTTPS existed.
    public static func start(
        host: String, port: Int, context: ProxyContext, group: EventLoopGroup, tls: NIOSSLContext? = nil
    ) async throws -> ProxyServer {
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelInitializer { channel in
                if let tls { return ProxyTLS.configureSecure(channel, shared: context, tls: tls) }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ProxyHandler(shared: context), name: "proxy")
                }
            }
            .bind(host: host, port: port).get()
        return ProxyServer(context: context, channel: channel, closesLog: tls == nil)
    }

    private init(context: ProxyContext, channel: Channel, closesLog: Bool) {
        self.context = context
        self.channel = channel
        self.closesLog = closesLog
    }

    /// Stops listening, then writes what the access log still holds.
    public func close() async {
        try? await channel.close()
        if closesLog { context.accessLog?.close() }
    }
}
