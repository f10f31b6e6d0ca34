import NIOCore

/// The upstream end of a proxied exchange: hands response parts to the client's `ProxyHandler`, and
/// reads only while the client can take more (back-pressure for downloads).
final class UpstreamHandler: ChannelDuplexHandler, RemovableChannelHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private weak var proxy: ProxyHandler?
    private var context: ChannelHandlerContext?
    private var paused = false
    private var readPending = false

    init(proxy: ProxyHandler) {
        self.proxy = proxy
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        proxy?.upstreamRead(unwrapInboundIn(data), from: self)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        proxy?.upstreamReadComplete()
        context.fireChannelReadComplete()
    }

    func channelInactive(context: ChannelHandlerContext) {
        proxy?.upstreamClosed(self)
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

extension ProxyHandler {
    func upstreamWritable() {
        resumeClientReads()
    }
}
