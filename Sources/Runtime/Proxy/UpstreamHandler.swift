import NIOCore
import NIOHTTP1

/// The upstream end of a proxied exchange: hands response parts to the client's `ProxyHandler`, and
/// reads only while the client can take more (back-pressure for downloads).
final class UpstreamHandler: ChannelDuplexHandler, RemovableChannelHandler, @unchecked Sendable {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = HTTPClientRequestPart
    typealias OutboundOut = HTTPClientRequestPart

    private weak var proxy: ProxyHandler?
    private var context: ChannelHandlerContext?
    private var paused = false
    private var readPending = false
    private var sawResponse = false
    private(set) var keepAlive = true

    init(proxy: ProxyHandler) {
        self.proxy = proxy
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        if case .head(let head) = part {
            sawResponse = true
            keepAlive = head.isKeepAlive
        }
        if case .end = part { sawResponse = false }
        proxy?.upstreamResponse(part, from: self)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        proxy?.upstreamReadComplete()
        context.fireChannelReadComplete()
    }

    func channelInactive(context: ChannelHandlerContext) {
        keepAlive = false
        proxy?.upstreamClosed(self, midResponse: sawResponse)
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
    /// The upstream closed. Before any response byte this is a failed attempt (retried when safe);
    /// an idle pooled connection closing is nothing to report.
    func upstreamClosed(_ handler: UpstreamHandler, midResponse: Bool) {
        guard isCurrent(handler) else { return }
        if hasExchangeWaitingForResponse || midResponse {
            upstreamFailed(instance: currentUpstreamInstance, before: !midResponse)
        } else {
            dropUpstream()
        }
    }

    func upstreamWritable() {
        resumeClientReads()
    }
}
