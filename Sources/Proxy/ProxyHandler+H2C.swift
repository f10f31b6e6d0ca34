import NIOCore

/// Requests from HTTP/1.1 clients to an h2c service (`protocol: h2c`): each goes on a stream of the
/// loop's HTTP/2 connection to the instance (`HTTP2UpstreamPool`, shared with the relayed HTTP/2
/// streams), behind an `H2CTranslator` that makes the stream look like an HTTP/1.1 connection
/// closing after one response. Everything else is the HTTP/1.1 path's: the same `UpstreamHandler`,
/// retries, deadlines and recording. Reached only for such a service.
extension ProxyHandler {
    func openStream(key: UpstreamPool.Key, instance: String?, context: ChannelHandlerContext) {
        dropUpstream()
        machine.connecting()
        let pool = self.pool
        let streams = shared.perLoop(context.eventLoop).http2Upstreams
        let attempt = NIOLoopBound(exchange, eventLoop: context.eventLoop)
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        streams.stream(to: key, loop: context.eventLoop, connector: shared.connector) { channel in
            channel.eventLoop.makeCompletedFuture {
                let operations = channel.pipeline.syncOperations
                try operations.addHandler(H2CTranslator())
                try operations.addHandler(UpstreamHandler(pool: pool, key: key), name: "upstream")
            }
        }.whenComplete { result in
            let (this, current) = (handler.value, attempt.value)
            guard let current, this.exchange === current else {
                if case .success(let channel) = result { channel.close(promise: nil) }
                return
            }
            guard case .success(let channel) = result,
                let upstream = try? channel.pipeline.syncOperations.handler(type: UpstreamHandler.self)
            else {
                if case .success(let channel) = result { channel.close(promise: nil) }
                return this.upstreamFailed(instance: instance)
            }
            upstream.proxy = this
            let connection = UpstreamConnection(channel: channel, key: key, instance: instance, handler: upstream)
            this.upstream = connection
            this.send(over: connection, reused: false)
        }
    }
}
