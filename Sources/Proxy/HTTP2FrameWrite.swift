import NIOCore
import NIOHTTP2

/// The frames one write of HTTP/1.1 bytes becomes on a stream (`HTTP2Bridge`'s responses,
/// `H2CTranslator`'s requests), each written as the next is made so that the write's promise goes
/// with the last: it completes when that frame has gone out (ProxyHandler closes after its last
/// bytes are written).
struct HTTP2FrameWrite {
    let context: ChannelHandlerContext
    let promise: EventLoopPromise<Void>?
    private var last: HTTP2Frame.FramePayload?

    init(_ context: ChannelHandlerContext, promise: EventLoopPromise<Void>?) {
        self.context = context
        self.promise = promise
    }

    mutating func emit(_ frame: HTTP2Frame.FramePayload) {
        if let last { context.write(NIOAny(last), promise: nil) }
        last = frame
    }

    /// The body bytes `framing` takes from `buffer` as a DATA frame, END_STREAM on the last (an
    /// empty one when the body ended with no bytes left); false when the bytes break the framing.
    mutating func emitBody(_ framing: inout BodyFraming, from buffer: inout ByteBuffer) -> Bool {
        guard let piece = framing.take(from: &buffer) else { return false }
        let done = framing.isDone
        if let piece, piece.readableBytes > 0 || done {
            emit(.data(.init(data: .byteBuffer(piece), endStream: done)))
        } else if done {
            emit(.data(.init(data: .byteBuffer(ByteBuffer()), endStream: true)))
        }
        return true
    }

    /// The last frame goes out with the promise (kept when there was none).
    func finish() {
        if let last {
            context.write(NIOAny(last), promise: promise)
        } else {
            promise?.succeed()
        }
    }

    /// Bytes that cannot become frames (ProxyHandler writes only heads it parsed itself: a bug, not
    /// input): what was made goes, the promise fails and the stream closes.
    func fail() {
        if let last { context.write(NIOAny(last), promise: nil) }
        promise?.fail(ChannelError.ioOnClosedChannel)
        context.close(promise: nil)
    }
}
