import NIOCore
import NIOHTTP2

/// What the streams of one HTTP/2 connection share: the client's address (its forwarding fields
/// made once, not per stream), the event loop's pool and flush batch (looked up once), seeds for
/// each stream's request-id generator (no system call per stream), the last route looked up, and
/// one ticker that checks every open stream's deadlines. Made when the connection has chosen
/// HTTP/2; used only on its event loop.
final class HTTP2Origin: @unchecked Sendable {
    let shared: ProxyContext
    let perLoop: ProxyContext.PerLoop
    let client: ClientAddress
    /// The client's address as text (the h2c and gRPC relay's forwarding fields).
    let clientIP: String
    private var seeds = SplitMix64()
    /// The route its streams last looked up: a connection's streams mostly go to one host, and
    /// each stream's handler starts from it as an HTTP/1.1 connection starts from its last.
    var lastRoute: ResolvedRoute?
    private let loop: EventLoop
    /// The streams whose deadlines the ticker checks; a stream's slot is reused once it ends.
    private var ticking: [ProxyHandler?] = []
    private var freeSlots: [Int] = []
    private var ticker: RepeatedTask?
    private var closed = false

    /// Over TLS (ALPN h2), or false: HTTP/2 with prior knowledge on the plain listener.
    let secure: Bool

    init(channel: Channel, shared: ProxyContext, secure: Bool = true) {
        self.secure = secure
        loop = channel.eventLoop
        self.shared = shared
        perLoop = shared.perLoop(channel.eventLoop)
        switch channel.remoteAddress {
        case .v4(let address)?: clientIP = address.host
        case .v6(let address)?: clientIP = address.host
        default: clientIP = "127.0.0.1"
        }
        client = ClientAddress(clientIP, secure: secure)
    }

    var http2Upstreams: HTTP2UpstreamPool { perLoop.http2Upstreams }

    func nextGenerator() -> SplitMix64 {
        SplitMix64(seed: seeds.next())
    }

    /// Checks `handler`'s deadlines every `tick` (every stream of a connection has the same
    /// limits, so the first stream's tick serves all) until `stopTicking(slot)`.
    func startTicking(_ handler: ProxyHandler, every tick: TimeAmount) -> Int? {
        guard !closed else { return nil }
        let slot: Int
        if let free = freeSlots.popLast() {
            slot = free
            ticking[slot] = handler
        } else {
            slot = ticking.count
            ticking.append(handler)
        }
        if ticker == nil {
            let origin = NIOLoopBound(self, eventLoop: loop)
            ticker = loop.scheduleRepeatedTask(initialDelay: tick, delay: tick) { _ in origin.value.tick() }
        }
        return slot
    }

    func stopTicking(_ slot: Int) {
        guard slot < ticking.count else { return }
        ticking[slot] = nil
        freeSlots.append(slot)
    }

    private func tick() {
        // By index: a check may close its stream, which empties its slot meanwhile.
        var index = 0
        while index < ticking.count {
            ticking[index]?.checkDeadlines()
            index += 1
        }
    }

    /// The connection has ended: no more checks, and no stream kept alive by this list.
    func close() {
        closed = true
        ticker?.cancel()
        ticker = nil
        ticking = []
        freeSlots = []
    }
}

/// Sits between TLS and the HTTP/2 handler. Responses mostly end while the proxy reads its
/// upstreams, and the loop's `FlushBatch` then flushes each finished stream; every stream flush
/// reaches the connection as a flush of its own, and each would be a TLS record and a write. Here
/// the flushes that arrive while the batch runs become one, done when the batch's streams are all
/// in; any other flush (settings, window updates, a stream flushed on its own) passes at once.
final class HTTP2ConnectionFlush: ChannelOutboundHandler, @unchecked Sendable {
    typealias OutboundIn = Any

    private let batch: FlushBatch
    /// A client connection's streams' shared state, told when the connection ends (nil for a
    /// connection to an h2c or gRPC upstream).
    private let origin: HTTP2Origin?
    private var context: ChannelHandlerContext?
    private var queued = false

    init(origin: HTTP2Origin) {
        self.origin = origin
        batch = origin.perLoop.flushes
    }

    init(batch: FlushBatch) {
        origin = nil
        self.batch = batch
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    /// The connection has closed (every handler leaves its pipeline then).
    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        origin?.close()
    }

    func flush(context: ChannelHandlerContext) {
        guard batch.flushing else { return context.flush() }
        if !queued {
            queued = true
            batch.flushAfterStreams(self)
        }
    }

    func flushNow() {
        queued = false
        context?.flush()
    }
}

/// Last in an HTTP/2 connection's pipeline: a frame that cannot be read (a header block past
/// SETTINGS_MAX_HEADER_LIST_SIZE, too many CONTINUATIONs, bytes that are no frame, no preface) is a
/// connection error whose GOAWAY NIOHTTP2 has written when the error arrives here; the connection
/// then closes. Left open, a client that takes GOAWAY's "streams up to the last may still
/// complete" at its word waits on a stream that will never be answered. Stream errors (a frame on
/// a stream already reset) also pass here and leave the connection alone.
final class HTTP2ConnectionErrors: ChannelInboundHandler, Sendable {
    typealias InboundIn = Any

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        guard Self.endsConnection(error) else { return context.fireErrorCaught(error) }
        context.flush()
        context.close(promise: nil)
    }

    /// The errors NIOHTTP2 raises only as connection errors (it has written GOAWAY for them): those
    /// it can also raise for one stream are left out, since closing for them would end every other
    /// stream too. NoSuchStream is a frame on a stream closed longer ago than NIOHTTP2 remembers.
    static func endsConnection(_ error: Error) -> Bool {
        switch error {
        case is NIOHTTP2Errors.ExcessivelyLargeHeaderBlock, is NIOHTTP2Errors.ExcessiveContinuationFrames,
            is NIOHTTP2Errors.UnableToParseFrame, is NIOHTTP2Errors.BadClientMagic, is NIOHTTP2Errors.NoSuchStream,
            is NIOHTTP2Errors.ExcessiveRSTFrames, is NIOHTTP2Errors.ExcessiveStreamErrors, is NIOHTTP2Errors.ExcessiveNumberOfGlitches,
            is NIOHTTP2Errors.ExcessiveEmptyDataFrames, is NIOHTTP2Errors.ExcessiveControlFrames, is NIOHTTP2Errors.ReceivedBadSettings,
            is NIOHTTP2Errors.MissingPreface:
            return true
        default:
            return false
        }
    }
}
