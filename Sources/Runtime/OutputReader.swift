import NIOCore
import NIOPosix

/// Reads a service instance's output pipe on the event loop and hands complete lines to `LogOutput`.
final class OutputLineHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private var splitter = LineSplitter()
    private let emit: @Sendable (String) -> Void
    private let finished: EventLoopPromise<Void>

    init(emit: @escaping @Sendable (String) -> Void, finished: EventLoopPromise<Void>) {
        self.emit = emit
        self.finished = finished
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        buffer.withUnsafeReadableBytes { splitter.feed($0, emit) }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // The writing end closed (every process holding it exited): flush and close.
        if event is ChannelEvent, case .inputClosed = event as! ChannelEvent {
            context.close(promise: nil)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        splitter.finish(emit)
        finished.succeed(())
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}

// Confined to the pipe's event loop.
@available(*, unavailable)
extension OutputLineHandler: Sendable {}

enum OutputReader {
    /// Takes ownership of `fd`. The returned future completes when the pipe reaches end of file.
    static func attach(fd: Int32, group: EventLoopGroup, emit: @escaping @Sendable (String) -> Void) -> EventLoopFuture<Void> {
        let loop = group.next()
        let finished = loop.makePromise(of: Void.self)
        NIOPipeBootstrap(group: loop)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(OutputLineHandler(emit: emit, finished: finished))
                }
            }
            .takingOwnershipOfDescriptor(input: fd)
            .whenFailure { error in
                close(fd)
                finished.succeed(())
            }
        return finished.futureResult
    }
}
