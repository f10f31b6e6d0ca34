import Logging
import NIOCore
import NIOPosix

/// A service's stable loopback port: every connection is relayed, byte for byte, to a healthy instance
/// (round-robin), so `${api.url}` works for any protocol (HTTP, Postgres, Redis, gRPC) and survives
/// restarts. A connection that arrives while no instance is healthy waits up to `waitLimit` for one.
public final class TCPRelay: @unchecked Sendable {
    public let service: String
    public let port: Int
    private let channel: Channel

    public static func start(
        service: String, port: Int, host: String = "127.0.0.1", routes: RouteTable, group: EventLoopGroup,
        waitLimit: Duration = .seconds(10)
    ) async throws -> TCPRelay {
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.autoRead, value: false)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelOption(.recvAllocator, value: RelayConnector.reads)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        RelayConnector(service: service, routes: routes, waitLimit: waitLimit))
                }
            }
            .bind(host: host, port: port).get()
        return TCPRelay(service: service, port: channel.localAddress?.port ?? port, channel: channel)
    }

    private init(service: String, port: Int, channel: Channel) {
        self.service = service
        self.port = port
        self.channel = channel
    }

    public func close() async {
        try? await channel.close()
    }
}

/// Waits for a healthy instance, connects to it from the same event loop, then glues the two channels.
final class RelayConnector: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    let service: String
    let routes: RouteTable
    let waitLimit: Duration

    /// Bulk transfers (a database dump, a file through an ssh forward) move in reads of up to 1 MiB
    /// rather than NIO's default 64 KiB, so the relay's hop costs fewer system calls a byte; the
    /// adaptive allocator shrinks back for connections that carry little.
    static let reads = AdaptiveRecvByteBufferAllocator(minimum: 1024, initial: 16384, maximum: 1 << 20)

    init(service: String, routes: RouteTable, waitLimit: Duration) {
        self.service = service
        self.routes = routes
        self.waitLimit = waitLimit
    }

    func channelActive(context: ChannelHandlerContext) {
        if !routes.faults.isEmpty, let fault = fault() {
            injectFault(fault, context: context)
        } else {
            relay(context.channel)
        }
        context.fireChannelActive()
    }

    /// Relays `channel` to a healthy instance, each direction paced to `bytesPerSecond` when set.
    func relay(_ channel: Channel, bytesPerSecond: Int = 0) {
        let loop = channel.eventLoop
        let (service, routes, waitLimit) = (self.service, self.routes, self.waitLimit)
        // The usual case takes no detour through Swift concurrency: a healthy instance is known now.
        let upstream: EventLoopFuture<Channel?>
        if let endpoint = routes.next(service) {
            upstream = Self.connect(endpoint, on: loop).flatMap { channel in
                if let channel { return loop.makeSucceededFuture(channel) }
                return Self.waitAndConnect(service: service, routes: routes, waitLimit: .zero, tried: [endpoint.instance], on: loop)
            }
        } else {
            upstream = Self.waitAndConnect(service: service, routes: routes, waitLimit: waitLimit, tried: [], on: loop)
        }
        let connector = NIOLoopBound(self, eventLoop: loop)
        upstream.whenComplete { result in
            guard case .success(let upstream?) = result, channel.isActive else {
                channel.close(promise: nil)
                if case .success(let upstream?) = result { upstream.close(promise: nil) }
                return
            }
            let (local, remote) = GlueHandler.matchedPair(bytesPerSecond: bytesPerSecond)
            do {
                try channel.pipeline.syncOperations.addHandler(local)
                try upstream.pipeline.syncOperations.addHandler(remote)
                channel.pipeline.syncOperations.removeHandler(connector.value, promise: nil)
                channel.setOption(.autoRead, value: true).whenFailure { _ in channel.close(promise: nil) }
            } catch {
                channel.close(promise: nil)
                upstream.close(promise: nil)
            }
        }
    }

    private static func connect(_ endpoint: RouteTable.Endpoint, on loop: EventLoop) -> EventLoopFuture<Channel?> {
        ClientBootstrap(group: loop)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .channelOption(.recvAllocator, value: reads)
            .connectTimeout(.seconds(2))
            .connect(host: endpoint.host, port: endpoint.port)
            .map { Optional($0) }
            .recover { _ in nil }
    }

    /// Waits for an instance to become healthy, then tries each healthy one not tried yet.
    private static func waitAndConnect(
        service: String, routes: RouteTable, waitLimit: Duration, tried: Set<String>, on loop: EventLoop
    ) -> EventLoopFuture<Channel?> {
        loop.makeFutureWithTask { () -> Channel? in
            var tried = tried
            while let endpoint = await routes.next(service, waitingUpTo: tried.isEmpty ? waitLimit : .zero),
                !tried.contains(endpoint.instance)
            {
                tried.insert(endpoint.instance)
                if let channel = try? await connect(endpoint, on: loop).get() { return channel }
            }
            return nil
        }
    }
}
