import NIOCore

/// Joins two channels on the same event loop into one byte pipe, with back-pressure (a side reads
/// only while the other can take writes) and half-close (end of input on one side closes the other's
/// output). Used for the stable TCP ports and for upgraded HTTP connections. A pair made with a
/// bandwidth (a fault on a stable port) paces each direction to it on its own.
final class GlueHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = NIOAny
    typealias OutboundOut = ByteBuffer

    private var partner: GlueHandler?
    private var context: ChannelHandlerContext?
    private var pendingRead = false
    /// Paces the bytes this side reads on their way to the partner; nil: not paced.
    private var pacing: Pacing?

    /// What a paced side holds back: bytes read but not yet allowed through, a read and an end of
    /// input (or a close) that wait for them. The channel is not read while bytes are held, so at
    /// most one read's worth is.
    private struct Pacing {
        var pacer: FaultPacer
        var held: ByteBuffer?
        var readWaits = false
        var inputClosedWaits = false
        var closeWaits = false
    }

    private init() {}

    static func matchedPair(bytesPerSecond: Int = 0) -> (GlueHandler, GlueHandler) {
        let first = GlueHandler()
        let second = GlueHandler()
        first.partner = second
        second.partner = first
        if bytesPerSecond > 0 {
            first.pacing = Pacing(pacer: FaultPacer(bytesPerSecond: bytesPerSecond))
            second.pacing = Pacing(pacer: FaultPacer(bytesPerSecond: bytesPerSecond))
        }
        return (first, second)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        // Bytes held back still go to the partner after this side closed.
        if pacing?.held == nil { partner = nil }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard pacing != nil else {
            partner?.context?.write(data, promise: nil)
            return
        }
        var buffer = Self.unwrapInboundIn(data)
        if pacing?.held == nil {
            pacing?.held = buffer
        } else {
            pacing?.held?.writeBuffer(&buffer)
        }
        pace(on: context.eventLoop)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        partner?.context?.flush()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if pacing?.held != nil {
            pacing?.closeWaits = true
        } else {
            partner?.context?.close(promise: nil)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, case .inputClosed = event {
            if pacing?.held != nil {
                pacing?.inputClosedWaits = true
            } else {
                partner?.context?.close(mode: .output, promise: nil)
            }
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable, let partner, partner.pendingRead {
            partner.pendingRead = false
            partner.context?.read()
        }
        context.fireChannelWritabilityChanged()
    }

    func read(context: ChannelHandlerContext) {
        if pacing?.held != nil {
            pacing?.readWaits = true
        } else if partner?.context?.channel.isWritable ?? false {
            context.read()
        } else {
            pendingRead = true
        }
    }

    /// Sends what the pacer allows of the held bytes now, and wakes when more may go; once none
    /// are held, what waited for them (a read, the end of input, a close) happens.
    private func pace(on loop: EventLoop) {
        guard var pacing, var held = pacing.held else { return }
        guard let target = partner?.context else {
            // The partner is gone: nothing left to send to.
            self.pacing?.held = nil
            partner = nil
            return
        }
        let granted = pacing.pacer.take(held.readableBytes, now: NIODeadline.now().uptimeNanoseconds)
        if granted > 0, let slice = held.readSlice(length: granted) { target.write(wrapOutboundOut(slice), promise: nil) }
        if held.readableBytes > 0 {
            pacing.held = held
            self.pacing = pacing
            if granted > 0 { target.flush() }
            let wake = NIODeadline.uptimeNanoseconds(pacing.pacer.due(wanted: held.readableBytes))
            let this = NIOLoopBound(self, eventLoop: loop)
            // Scheduled again only from here, after the held bytes shrank: one wake-up at a time.
            if !pacing.pacer.waking {
                self.pacing?.pacer.waking = true
                loop.scheduleTask(deadline: wake) {
                    this.value.pacing?.pacer.waking = false
                    this.value.pace(on: loop)
                }
            }
            return
        }
        pacing.held = nil
        self.pacing = pacing
        target.flush()
        if pacing.closeWaits {
            target.close(promise: nil)
            partner = nil
        } else if pacing.inputClosedWaits {
            self.pacing?.inputClosedWaits = false
            target.close(mode: .output, promise: nil)
        }
        if pacing.readWaits, let context {
            self.pacing?.readWaits = false
            read(context: context)
        }
    }
}
