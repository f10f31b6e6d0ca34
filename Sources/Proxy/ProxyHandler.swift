import DevhostManifest
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// One client connection of the reverse proxy, working on the bytes themselves: a request head is
/// parsed in place (`HTTPHead`), the upstream gets the kept lines plus devhost's own fields, and
/// bodies pass through with their framing as they arrived (`BodyFraming` only follows where they
/// end). Each request goes to a healthy instance over a keep-alive upstream connection taken from
/// the event loop's `UpstreamPool` and given back when its response ends. Pipelined requests wait
/// as unread bytes until the response before them ends. Everything runs on the client channel's
/// event loop.
///
/// Every decision (what a failure, a close or a deadline means; whether a connection is kept)
/// is `ConnectionStateMachine`'s: this handler does the I/O and switches over its answers. This
/// file holds the client side; ProxyHandler+Upstream.swift the upstream side and
/// ProxyHandler+LocalAnswers.swift devhost's own responses.
final class ProxyHandler: ChannelDuplexHandler, RemovableChannelHandler, UpstreamDelegate {
    // @unchecked: confined to its channel's event loop; Sendable only because NIO's callbacks
    // (the ticker, connect and wait completions) capture it, and they all run on that loop.
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Unparsed client bytes beyond the upstream's reach (a pipelined backlog) stop client reads.
    static let backlogLimit = 64 * 1024
    /// Body bytes held for a request whose upstream connection is not ready yet (connecting, or
    /// waiting for a healthy instance): past this the client is simply not read.
    static let pendingLimit = 64 * 1024
    /// A response head larger than this from an upstream is a bad gateway.
    static let maxResponseHead = 64 * 1024

    let shared: ProxyContext
    var machine: ConnectionStateMachine
    /// This event loop's idle upstream connections (set when the handler is added).
    var pool = UpstreamPool()
    /// This event loop's end-of-tick flushes (set when the handler is added).
    var flushes: FlushBatch?
    /// This event loop's access-log lines (nil when the log is off).
    var accessLines: AccessBatch?
    /// This event loop's request-inspector entries (nil when the inspector is off).
    var inspection: InspectorRing?
    var context: ChannelHandlerContext?
    /// The request in flight; present exactly when the machine's state has a request.
    var exchange: ProxyExchange?
    var upstream: UpstreamConnection?
    var client = ClientAddress.loopback
    /// Client bytes not consumed yet: a partial head, or pipelined requests waiting their turn.
    var inbound: ByteBuffer?
    /// Upstream bytes not consumed yet (a response head split across reads).
    var upstreamInbound: ByteBuffer?
    /// Every request and response head of this connection is parsed into these (their storage is
    /// reused once the exchange holding the previous request has ended).
    var requestHead = HTTPHead(bytes: ByteBuffer())
    var responseHead = HTTPHead(bytes: ByteBuffer())
    /// Reused head buffers, one per direction (see `prepare`).
    var upstreamOut = ByteBuffer()
    var clientOut = ByteBuffer()
    /// `process` is running (it is re-entered through writes and callbacks).
    var processing = false
    /// A read was held back (back-pressure) and is owed once the reason has passed.
    var readPending = false
    /// One repeating timer per connection checks the machine's deadlines: a timer per request
    /// cost more than the rest of the request's bookkeeping.
    var ticker: RepeatedTask?
    /// An HTTP/2 stream's place in its connection's ticker instead (see `HTTP2Origin`).
    var tickerSlot: Int?
    /// Request ids come from a per-connection generator, seeded once from the system (a system
    /// call per request is too dear).
    var random: SplitMix64
    /// When the client read being handled began: the clock is read once per read, not at every
    /// step of a request.
    var readTime: NIODeadline = .now()
    /// The time for a request's events: inside a client read that read's time is close enough;
    /// outside one (a pipelined request started after a response, a connect callback) the clock
    /// is read.
    var now: NIODeadline { inClientRead ? readTime : .now() }
    /// Set while a client read is being handled: its channelReadComplete flushes the upstream once,
    /// and `now` is that read's time.
    var inClientRead = false
    let allocator = ByteBufferAllocator()
    /// Keep-alive connections ask for the same host again and again: the last answer is kept until
    /// the route table changes.
    var lastRoute: ResolvedRoute?
    /// The connection's copy of the fault rules, and the table generation it is of.
    var faults: (generation: Int, set: FaultSet)?
    var ownUser: Bool?
    /// A request head was read: the connection is HTTP/1.1 for good (an HTTP/2 preface counts only
    /// as its first bytes).
    var spokeHTTP1 = false
    /// The connection came over TLS (the HTTPS listener, HTTP/1.1 or an HTTP/2 stream): the
    /// forwarding fields say `https`. Fixed per listener, read once per connection.
    let secure: Bool

    /// The HTTP/2 connection this handler's stream belongs to (nil: a connection of its own).
    let origin: HTTP2Origin?

    init(shared: ProxyContext, secure: Bool = false, origin: HTTP2Origin? = nil) {
        self.shared = shared
        self.secure = secure || origin?.secure == true
        self.origin = origin
        random = origin?.nextGenerator() ?? SplitMix64()
        let settings = shared.settings
        machine = ConnectionStateMachine(
            limits: .init(
                idle: .milliseconds(DurationText.milliseconds(settings.idleTimeout)),
                upstream: .milliseconds(DurationText.milliseconds(settings.upstreamTimeout)),
                upstreamRead: .milliseconds(DurationText.milliseconds(settings.upstreamReadTimeout))),
            now: .now())
    }

    // MARK: Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        let perLoop = origin?.perLoop ?? shared.perLoop(context.eventLoop)
        pool = perLoop.pool
        flushes = perLoop.flushes
        accessLines = perLoop.accessLines
        inspection = perLoop.inspection
        if let origin {
            client = origin.client
            lastRoute = origin.lastRoute
        } else if case .v4(let address)? = context.channel.remoteAddress {
            client = ClientAddress(address.host, secure: secure)
        } else if case .v6(let address)? = context.channel.remoteAddress {
            client = ClientAddress(address.host, secure: secure)
        }
        shared.metrics.connectionOpened()
        let limits = machine.limits
        let shortest = min(limits.idle, limits.upstream, limits.upstreamRead).nanoseconds / 4
        let tick = TimeAmount.nanoseconds(min(TimeAmount.seconds(1).nanoseconds, shortest))
        // The handler is loop-bound, as every callback's capture of it here: a handler is not
        // Sendable, and the callbacks run on its loop. Held strongly, as one weak reference gives
        // an object a side table for good and puts each retain and release of it on the slow path.
        // Each callback ends in bounded time; the ticker is cancelled when the connection closes.
        if let origin {
            // A stream's deadlines are checked by its connection's one ticker: a timer per stream
            // cost more than the stream's proxying.
            tickerSlot = origin.startTicking(self, every: tick)
            return
        }
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        ticker = context.eventLoop.scheduleRepeatedTask(initialDelay: tick, delay: tick) { _ in handler.value.checkDeadlines() }
    }

    /// Ends this handler's deadline checks (its connection or stream has ended, or a relay took over).
    func stopTicking() {
        ticker?.cancel()
        ticker = nil
        if let slot = tickerSlot {
            tickerSlot = nil
            origin?.stopTicking(slot)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        // A channel that closes before it was active is removed without channelInactive.
        stopTicking()
    }

    func channelInactive(context: ChannelHandlerContext) {
        exchange?.inspected?.cutOff(at: .now())
        release(exchange)
        // Connect and wait callbacks still under way find no exchange and send nothing.
        exchange = nil
        machine.closed()
        shared.metrics.connectionClosed()
        stopTicking()
        dropUpstream()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if machine.isLingering { return }
        var buffer = unwrapInboundIn(data)
        if inbound == nil {
            inbound = buffer
        } else {
            inbound!.writeBuffer(&buffer)
        }
        inClientRead = true
        readTime = .now()
        process()
        inClientRead = false
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        // Not passed on: nothing after this handler wants it (the tail drops it).
        if let upstream, let flushes { upstream.handler.flush(in: flushes) }
    }

    /// Reads from the client only while the upstream can take more (back-pressure for uploads) and
    /// the pipelined backlog is short.
    func read(context: ChannelHandlerContext) {
        // A lingering close reads (and drops) whatever the client still sends.
        if machine.isLingering { return context.read() }
        if (inbound?.readableBytes ?? 0) > Self.backlogLimit || (upstream.map { !$0.channel.isWritable } ?? false) || holdingBody {
            readPending = true
            return
        }
        context.read()
    }

    func resumeClientReads() {
        if readPending, (inbound?.readableBytes ?? 0) <= Self.backlogLimit, upstream.map({ $0.channel.isWritable }) ?? true {
            readPending = false
            context?.read()
        }
    }

    /// A request body is waiting for its upstream connection and has filled its allowance.
    var holdingBody: Bool {
        guard let current = exchange else { return false }
        return !machine.requestSent && current.pendingBytes >= Self.pendingLimit
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable, let upstream {
            // The upstream was paused for this client: its silence meanwhile is not a stall.
            machine.upstreamSpoke()
            upstream.handler.resumeReading()
        }
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    // MARK: Client bytes

    /// Consumes client bytes: a request head, then its body, then (once the response has ended)
    /// the next pipelined request.
    func process() {
        guard !processing else { return }
        processing = true
        defer { processing = false }
        while context != nil, var buffer = inbound, buffer.readableBytes > 0 {
            if machine.holdsClientBytes(holdingBody: holdingBody) { return }
            // Taken out while it is sliced, so slices do not force a copy of what stays behind.
            inbound = nil
            if let current = exchange {
                guard let body = current.requestBody.take(from: &buffer) else {
                    // Once a response is under way, no error page can be put in front of it.
                    if machine.responseStarted, let context { return abandonResponse(context) }
                    return writeSimple(.badRequest, message: "malformed chunked request body", close: true)
                }
                if let body {
                    machine.bodyReceived(now: now)
                    current.inspected?.requestBytes(body)
                    forward(body)
                }
                if current.requestBody.isDone { machine.requestEnded(now: now) }
                if buffer.readableBytes > 0 { inbound = buffer }
                continue
            }
            switch HTTPHead.parse(
                &buffer, into: &requestHead, isRequest: true, maxHead: shared.settings.maxHeaderBytes,
                maxTarget: shared.settings.maxURILength)
            {
            case .incomplete:
                inbound = buffer
                return
            case .failed(.targetTooLong):
                return writeSimple(
                    .uriTooLong, message: "the request target is longer than \(shared.settings.maxURILength) bytes", close: true)
            case .failed(.tooLarge):
                return writeSimple(
                    .requestHeaderFieldsTooLarge, message: "request headers are larger than \(shared.settings.maxHeaderBytes) bytes",
                    close: true)
            case .failed(.tooManyFields):
                return writeSimple(
                    .requestHeaderFieldsTooLarge,
                    message:
                        "the request has more than \(HTTPHead.maxFields) header fields or \(HTTPHead.maxConnectionTokens) Connection options",
                    close: true)
            case .failed(.malformed):
                if let context, speaksHTTP2(buffer) { return startHTTP2(context, bytes: buffer) }
                return writeSimple(.badRequest, message: "malformed request", close: true)
            case .complete:
                spokeHTTP1 = true
                if buffer.readableBytes > 0 { inbound = buffer }
                begin(requestHead)
            }
        }
    }

    /// Body bytes go upstream once the head has; before that they wait in the exchange.
    func forward(_ body: ByteBuffer) {
        guard let current = exchange else { return }
        if let upstream, machine.requestSent, upstream.channel.isActive {
            // Inside a client read, channelReadComplete flushes; a pipelined request started after
            // a response (outside any client read) must flush its own body.
            upstream.handler.write(body)
            if !inClientRead { upstream.handler.flush() }
            machine.bodyForwarded()
        } else {
            current.pending.append(body)
            current.pendingBytes += body.readableBytes
        }
    }

    func checkDeadlines() {
        guard let context else { return }
        let partialHead = exchange == nil && (inbound?.readableBytes ?? 0) > 0
        let deadline = machine.tick(
            now: .now(), holdingBody: holdingBody, upstreamPaused: upstream?.handler.paused ?? true, partialHead: partialHead)
        switch deadline {
        case .none:
            return
        case .close:
            context.close(promise: nil)
        case .gatewayTimeout:
            dropUpstream()
            writeSimple(.gatewayTimeout, message: "the upstream did not answer in time", close: false)
        case .requestTimeout:
            writeSimple(.requestTimeout, message: "the request was not completed in time", close: true)
        case .upstreamStalled:
            // Cut off mid-response: closing the client's connection too tells it the body is
            // incomplete (a length-framed or chunked body that never ends).
            if let current = exchange { shared.metrics.upstreamError(route: current.routeLabel) }
            abandonResponse(context)
        }
    }
}
