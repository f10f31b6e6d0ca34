import NIOCore
import NIOPosix

/// The reverse proxy: one listener on `proxy.bind:proxy.port` serving every route by `Host`.
public final class ProxyServer: @unchecked Sendable {
    public let context: ProxyContext
    private let channel: Channel
    public var port: Int { channel.localAddress?.port ?? 0 }

    public static func start(host: String, port: Int, context: ProxyContext, group: EventLoopGroup) async throws -> ProxyServer {
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ProxyHandler(shared: context), name: "proxy")
                }
            }
            .bind(host: host, port: port).get()
        return ProxyServer(context: context, channel: channel)
    }

    private init(context: ProxyContext, channel: Channel) {
        self.context = context
        self.channel = channel
    }

    /// Stops listening, then writes what the access log still holds.
    public func close() async {
        try? await channel.close()
        context.accessLog?.close()
    }
}
