import NIOCore
import NIOHTTP2

/// HTTP/2 cleartext connections (prior knowledge) to h2c and gRPC upstreams, one per endpoint per
/// event loop, each carrying every stream its loop relays there: what gRPC clients and servers
/// expect (one connection, many calls). A connection that closes or receives GOAWAY is dropped and
/// the next stream opens a new one; streams beyond the server's SETTINGS_MAX_CONCURRENT_STREAMS wait
/// in NIOHTTP2 until one ends. Used only on its loop.
final class HTTP2UpstreamPool {
    private struct Entry {
        var key: UpstreamPool.Key
        /// The multiplexer once connected; streams asked for while connecting wait on `ready`.
        var ready: EventLoopFuture<NIOHTTP2Handler.StreamMultiplexer>
        var channel: Channel?
    }

    private var entries: [Entry] = []
    private let flushes: FlushBatch

    init(flushes: FlushBatch) {
        self.flushes = flushes
    }

    /// A new stream to `key`, its pipeline set up by `initializer`; a connection is opened first
    /// when the loop has none to that endpoint.
    func stream(
        to key: UpstreamPool.Key, loop: EventLoop, connector: ProxyContext.Connector,
        _ initializer: @escaping @Sendable (Channel) -> EventLoopFuture<Void>
    ) -> EventLoopFuture<Channel> {
        let ready: EventLoopFuture<NIOHTTP2Handler.StreamMultiplexer>
        if let entry = entries.first(where: { $0.key == key }) {
            ready = entry.ready
        } else {
            ready = connect(key, loop: loop, connector: connector)
        }
        return ready.flatMap { multiplexer in
            let promise = loop.makePromise(of: Channel.self)
            multiplexer.createStreamChannel(promise: promise, initializer)
            return promise.futureResult
        }
    }

    private func connect(_ key: UpstreamPool.Key, loop: EventLoop, connector: ProxyContext.Connector) -> EventLoopFuture<
        NIOHTTP2Handler.StreamMultiplexer
    > {
        let pool = NIOLoopBound(self, eventLoop: loop)
        let flushes = NIOLoopBound(flushes, eventLoop: loop)
        let connected = connector(key, loop) { channel in
            channel.eventLoop.makeCompletedFuture {
                let operations = channel.pipeline.syncOperations
                // The streams the loop's batch flushes reach the socket in one write.
                try operations.addHandler(HTTP2ConnectionFlush(batch: flushes.value))
                _ = try operations.configureHTTP2Pipeline(
                    mode: .client, connectionConfiguration: HTTP2Bridge.upstreamConnectionConfiguration,
                    streamConfiguration: HTTP2Bridge.streamConfiguration
                ) { pushed in
                    // No server push is asked for (and gRPC has none): a pushed stream is refused.
                    pushed.close()
                }
                try operations.addHandler(HTTP2UpstreamWatch(key: key, pool: pool))
            }
        }
        let ready = connected.flatMapThrowing { channel in
            try channel.pipeline.syncOperations.handler(type: NIOHTTP2Handler.self).syncMultiplexer()
        }
        entries.append(Entry(key: key, ready: ready, channel: nil))
        connected.whenComplete { result in
            let this = pool.value
            switch result {
            case .success(let channel):
                if let index = this.entries.firstIndex(where: { $0.key == key && $0.channel == nil }) {
                    this.entries[index].channel = channel
                }
            case .failure:
                // The next stream tries again (after the instance was set aside, maybe another one).
                this.entries.removeAll { $0.key == key && $0.channel == nil }
            }
        }
        return ready
    }

    /// The connection closed or is going away: no new streams go there.
    fileprivate func drop(_ channel: Channel) {
        entries.removeAll { $0.channel === channel }
    }
}

/// Watches one upstream connection for its end (close, or a GOAWAY from the server).
private final class HTTP2UpstreamWatch: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame

    let key: UpstreamPool.Key
    let pool: NIOLoopBound<HTTP2UpstreamPool>

    init(key: UpstreamPool.Key, pool: NIOLoopBound<HTTP2UpstreamPool>) {
        self.key = key
        self.pool = pool
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .goAway = unwrapInboundIn(data).payload { pool.value.drop(context.channel) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        pool.value.drop(context.channel)
        context.fireChannelInactive()
    }

    /// A connection error (NIOHTTP2 has sent GOAWAY) ends the connection, as RFC 9113 §5.4.1 asks:
    /// kept, it would take new calls it can no longer carry. Its streams end, and their calls get
    /// the answer for a lost connection; the next call opens a new one.
    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if HTTP2ConnectionErrors.endsConnection(error) {
            pool.value.drop(context.channel)
            context.close(promise: nil)
        }
        context.fireErrorCaught(error)
    }
}
