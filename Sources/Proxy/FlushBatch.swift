import NIOCore

/// Flushes gathered during one event-loop tick and done together once the tick's I/O events are
/// handled. Every flush of a socket wakes whoever sleeps on its other end; flushing right away wakes
/// the upstream (and the client) once per request, while flushing at the end of the tick hands each
/// of them a whole batch per wake-up. One per event loop, used only on that loop.
final class FlushBatch: @unchecked Sendable {
    private let loop: EventLoop
    private var pending: [ChannelHandlerContext] = []
    /// The list being flushed, kept to reuse its storage.
    private var spare: [ChannelHandlerContext] = []
    /// Whole channels to flush (the streams to h2c and gRPC upstreams, which the relay writes to
    /// from outside their pipelines).
    private var channels: [Channel] = []
    private var spareChannels: [Channel] = []
    private var scheduled = false
    /// HTTP/2 connections whose streams flushed during this batch: each goes to the socket once,
    /// after every stream's frames are in (see `HTTP2ConnectionFlush`).
    private var connections: [HTTP2ConnectionFlush] = []
    private var spareConnections: [HTTP2ConnectionFlush] = []
    /// The batch's contexts are being flushed right now.
    private(set) var flushing = false

    init(loop: EventLoop) {
        self.loop = loop
    }

    /// Flushes `context` at the end of this tick (NIO runs tasks scheduled from the loop itself
    /// after the I/O events it is handling). A handler that leaves its pipeline must flush its own
    /// last bytes first: NIO drops a flush through a removed context (see `switchToRelay`).
    func flush(_ context: ChannelHandlerContext) {
        pending.append(context)
        schedule()
    }

    /// Flushes `channel` at the end of this tick.
    func flush(channel: Channel) {
        channels.append(channel)
        schedule()
    }

    private func schedule() {
        if !scheduled {
            scheduled = true
            // Captured strongly: the task keeps the batch alive until it has run, however the
            // proxy is torn down meanwhile. One small allocation per tick, not per request.
            loop.execute { self.flushAll() }
        }
    }

    /// `connection`'s own flush, asked for by a stream flushed in this batch: done once the batch's
    /// streams are all flushed.
    func flushAfterStreams(_ connection: HTTP2ConnectionFlush) {
        connections.append(connection)
    }

    private func flushAll() {
        scheduled = false
        swap(&pending, &spare)
        flushing = true
        for context in spare { context.flush() }
        if !channels.isEmpty {
            swap(&channels, &spareChannels)
            for channel in spareChannels { channel.flush() }
            spareChannels.removeAll(keepingCapacity: true)
        }
        flushing = false
        spare.removeAll(keepingCapacity: true)
        guard !connections.isEmpty else { return }
        swap(&connections, &spareConnections)
        for connection in spareConnections { connection.flushNow() }
        spareConnections.removeAll(keepingCapacity: true)
    }
}
