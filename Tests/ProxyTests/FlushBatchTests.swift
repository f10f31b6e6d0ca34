import NIOCore
import NIOEmbedded
import Testing

@testable import DevhostProxy

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

    private struct Side {
        let channel: EmbeddedChannel
        let context: ChannelHandlerContext
        let counter: FlushCounter

        func write(_ text: String) {
            context.write(NIOAny(ByteBuffer(string: text)), promise: nil)
        }

        func sent() throws -> String? {
            try channel.readOutbound(as: ByteBuffer.self).map { String(buffer: $0) }
        }
    }

    private func side() throws -> Side {
        let counter = FlushCounter()
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandlers([counter, Writer()])
        return Side(channel: channel, context: try channel.pipeline.syncOperations.context(handlerType: Writer.self), counter: counter)
    }

    /// A loop, its batch, and two channels flushed through it, closed when `body` ends.
    private func withTwoChannels(_ body: (EmbeddedEventLoop, FlushBatch, Side, Side) throws -> Void) throws {
        let loop = EmbeddedEventLoop()
        let (first, second) = (try side(), try side())
        defer {
            _ = try? first.channel.finish()
            _ = try? second.channel.finish()
        }
        try body(loop, FlushBatch(loop: loop), first, second)
    }

    @Test func writesLeaveAtTheEndOfTheTickTogether() throws {
        try withTwoChannels { loop, batch, first, second throws in
            first.write("GET / HTTP/1.1\r\n\r\n")
            batch.flush(first.context)
            second.write("HTTP/1.1 200 OK\r\n\r\n")
            batch.flush(second.context)
            #expect(try first.sent() == nil, "nothing leaves before the tick ends")
            #expect(try second.sent() == nil)

            loop.run()
            #expect(try first.sent() == "GET / HTTP/1.1\r\n\r\n")
            #expect(try second.sent() == "HTTP/1.1 200 OK\r\n\r\n")
            #expect(first.counter.flushes == 1 && second.counter.flushes == 1)

            // A later tick flushes again, once, and a tick with nothing asked flushes nothing.
            first.write("next")
            batch.flush(first.context)
            loop.run()
            loop.run()
            #expect(try first.sent() == "next")
            #expect(first.counter.flushes == 2 && second.counter.flushes == 1)
        }
    }

    /// A flush asked for while the batch is being flushed (a handler reacting to its own flush)
    /// goes out in a pass right after, not with the next tick and not never.
    @Test func aFlushAskedForDuringThePassIsNotLost() throws {
        try withTwoChannels { loop, batch, first, second throws in
            first.counter.onFlush = {
                second.write("follow-up")
                batch.flush(second.context)
            }
            first.write("first")
            batch.flush(first.context)
            loop.run()
            #expect(try first.sent() == "first")
            #expect(try second.sent() == "follow-up")
            #expect(first.counter.flushes == 1 && second.counter.flushes == 1)
        }
    }
}
