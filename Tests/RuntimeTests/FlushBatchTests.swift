import NIOCore
import NIOEmbedded
import Testing

@testable import DevhostRuntime

/// The proxy's end-of-tick flushes: written bytes leave only once the event loop has finished what
/// it is handling, all of them in that one pass.
@Suite struct FlushBatchTests {
    /// Counts the flushes that reach the channel, so a test sees how many the batch made.
    private final class FlushCounter: ChannelOutboundHandler, @unchecked Sendable {
        typealias OutboundIn = ByteBuffer
        var flushes = 0
        var onFlush: (() -> Void)?
        func flush(context: ChannelHandlerContext) {
            flushes += 1
            context.flush()
            onFlush?()
        }
    }

    /// Stands where the proxy's handler stands: its context is the one the batch flushes.
    private final class Writer: ChannelOutboundHandler, Sendable {
        typealias OutboundIn = ByteBuffer
    }

    private func channel() throws -> (EmbeddedChannel, ChannelHandlerContext, FlushCounter) {
        let counter = FlushCounter()
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandlers([counter, Writer()])
        let context = try channel.pipeline.syncOperations.context(handlerType: Writer.self)
        return (channel, context, counter)
    }

    @Test func writesLeaveAtTheEndOfTheTickTogether() throws {
        let loop = EmbeddedEventLoop()
        let batch = FlushBatch(loop: loop)
        let (first, firstContext, firstCounter) = try channel()
        let (second, secondContext, secondCounter) = try channel()
        defer {
            _ = try? first.finish()
            _ = try? second.finish()
        }
        firstContext.write(NIOAny(ByteBuffer(string: "GET / HTTP/1.1\r\n\r\n")), promise: nil)
        batch.flush(firstContext)
        secondContext.write(NIOAny(ByteBuffer(string: "HTTP/1.1 200 OK\r\n\r\n")), promise: nil)
        batch.flush(secondContext)

        #expect(try first.readOutbound(as: ByteBuffer.self) == nil, "nothing leaves before the tick ends")
        #expect(try second.readOutbound(as: ByteBuffer.self) == nil)

        loop.run()
        #expect(try first.readOutbound(as: ByteBuffer.self) == ByteBuffer(string: "GET / HTTP/1.1\r\n\r\n"))
        #expect(try second.readOutbound(as: ByteBuffer.self) == ByteBuffer(string: "HTTP/1.1 200 OK\r\n\r\n"))
        #expect(firstCounter.flushes == 1 && secondCounter.flushes == 1)

        // A later tick flushes again, once, and a tick with nothing asked flushes nothing.
        firstContext.write(NIOAny(ByteBuffer(string: "next")), promise: nil)
        batch.flush(firstContext)
        loop.run()
        loop.run()
        #expect(try first.readOutbound(as: ByteBuffer.self) == ByteBuffer(string: "next"))
        #expect(firstCounter.flushes == 2 && secondCounter.flushes == 1)
    }

    /// A flush asked for while the batch is being flushed (a handler reacting to its own flush)
    /// goes out in a pass right after, not with the next tick and not never.
    @Test func aFlushAskedForDuringThePassIsNotLost() throws {
        let loop = EmbeddedEventLoop()
        let batch = FlushBatch(loop: loop)
        let (first, firstContext, firstCounter) = try channel()
        let (second, secondContext, secondCounter) = try channel()
        defer {
            _ = try? first.finish()
            _ = try? second.finish()
        }
        firstCounter.onFlush = {
            secondContext.write(NIOAny(ByteBuffer(string: "follow-up")), promise: nil)
            batch.flush(secondContext)
        }
        firstContext.write(NIOAny(ByteBuffer(string: "first")), promise: nil)
        batch.flush(firstContext)
        loop.run()
        #expect(try first.readOutbound(as: ByteBuffer.self) == ByteBuffer(string: "first"))
        #expect(try second.readOutbound(as: ByteBuffer.self) == ByteBuffer(string: "follow-up"))
        #expect(firstCounter.flushes == 1 && secondCounter.flushes == 1)
    }
}
