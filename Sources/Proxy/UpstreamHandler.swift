import NIOCore

/// What an upstream connection reports to the client connection it serves now (a `ProxyHandler`).
protocol UpstreamDelegate: AnyObject {
    func upstreamRead(_ data: ByteBuffer, from handler: UpstreamHandler)
    func upstreamReadComplete()
    func upstreamClosed(_ handler: UpstreamHandler)
    /// The upstream can take more of the request body again.
    func upstreamWritable()
}

/// The upstream end of a proxied exchange: hands response bytes to the delegate (the client's
/// `ProxyHandler`) it serves now, and reads only while that client can take more (back-pressure for downloads).
/// Between exchanges it waits in its event loop's `UpstreamPool` with no client.
final class UpstreamHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// The client being served; nil while idle in the pool. Strong (see ProxyHandler's ticker for
    /// why not weak): the cycle through the client's `upstream` ends when this connection goes back
    /// to the pool, closes, or leaves its pipeline.
    var proxy: (any UpstreamDelegate)?
    /// Strong too: a weak reference would put the pool's every retain on the slow path. The cycle
    /// through an idle connection ends when it closes, which also takes it out of the pool.
    private let pool: UpstreamPool
    private let key: UpstreamPool.Key
    private var context: ChannelHandlerContext?
    private(set) var paused = false
    private var readPending = false

    init(pool: UpstreamPool, key: UpstreamPool.Key) {
        self.pool = pool
        self.key = key
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        proxy = nil
    }

    /// Writes from this handler's place in the pipeline: `channel.write` starts at the tail and
    /// passes through this handler on its way, pipeline hops that showed up on every request.
    func write(_ buffer: ByteBuffer) {
        context?.write(wrapOutboundOut(buffer), promise: nil)
    }

    func flush() {
        context?.flush()
    }

    func flush(in batch: FlushBatch) {
        if let context { batch.flush(context) }
    }

    func close() {
        context?.close(promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let proxy else {
            // Bytes while idle: the connection is out of step and cannot be reused.
            context.close(promise: nil)
            return
        }
        proxy.upstreamRead(unwrapInboundIn(data), from: self)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        // Not passed on: nothing after this handler wants it (the tail drops it).
        proxy?.upstreamReadComplete()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let proxy {
            self.proxy = nil
            proxy.upstreamClosed(self)
        } else {
            pool.remove(self, key: key)
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    func read(context: ChannelHandlerContext) {
        if paused {
            readPending = true
        } else {
            context.read()
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { proxy?.upstreamWritable() }
        context.fireChannelWritabilityChanged()
    }

    func pauseReading() { paused = true }

    func resumeReading() {
        paused = false
        if readPending {
            readPending = false
            context?.read()
        }
    }
}
