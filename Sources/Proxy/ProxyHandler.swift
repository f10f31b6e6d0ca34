import DevhostManifest
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// One client connection of the reverse proxy, working on the bytes themselves: a request head is
/// parsed in place (`HTTPHead`), the upstream gets the kept lines plus devhost's own fields, and
/// bodies pass through with their framing as they arrived (`BodyFraming` only follows where they
/// end). Each request goes to a healthy instance over a keep-alive upstream connection taken from
/// the event loop's `UpstreamPool` and given back when its response ends. Pipelined requests wait as unread bytes until the response
/// before them ends. Everything runs on the client channel's event loop.
final class ProxyHandler: ChannelDuplexHandler, RemovableChannelHandler, UpstreamDelegate, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// The request being served (a class: it is updated in place, never copied). Only ever touched
    /// on the client channel's event loop, including from the callbacks that capture it.
    final class Exchange: @unchecked Sendable {
        /// Kept until the response starts, so a failed attempt can be sent again elsewhere.
        let head: HTTPHead
        /// Where the Host header routes (shared with the connection's later requests to that host).
        let route: ResolvedRoute
        var host: String { route.host }
        var target: ProxyTarget? { route.target }
        var routeLabel: String { route.label }
        let requestID: RequestID
        let started: NIODeadline
        let isHEAD: Bool
        /// The last time a part of this request arrived (a stalled upload gets 408).
        var lastPart: NIODeadline
        var requestBody: BodyFraming
        /// Body bytes that arrived before the upstream connection was ready (at most `pendingLimit`:
        /// past it the client is not read until the request has gone out).
        var pending: [ByteBuffer] = []
        var pendingBytes = 0
        /// When the deadline ticker last saw the upstream send part of the response (or become
        /// readable again after a pause), and whether it has since: a read only sets the flag, so
        /// the clock is not read per response.
        var lastUpstreamRead: NIODeadline
        var upstreamSpoke = false
        var headSent = false
        var bodySent = false
        /// The whole request has arrived.
        var ended: Bool
        var responseStarted = false
        var responseBody = BodyFraming.none
        var upgrading = false
        var closeAfter = false
        var keepUpstream = true
        var status = 0
        var bytes = 0
        var instance: String?
        var tried: Set<String> = []
        /// The endpoint in use, and whether its connection came from the pool (kept alive by an
        /// earlier request): an upstream may close such a connection just as it is reused.
        var endpoint: (key: UpstreamPool.Key, instance: String?)?
        var reused = false
        /// The service instance this request is counted against while in flight (RouteTable.drain).
        var counted: (service: String, instance: String)?
        /// When the upstream must have started its response (504 after that).
        var responseDeadline: NIODeadline?

        init(head: HTTPHead, route: ResolvedRoute, requestID: RequestID, requestBody: BodyFraming, now: NIODeadline) {
            self.head = head
            self.route = route
            self.requestID = requestID
            self.started = now
            self.lastPart = now
            self.lastUpstreamRead = now
            self.isHEAD = head.methodIs("HEAD")
            self.requestBody = requestBody
            self.ended = requestBody.isDone
        }
    }

    /// How long a closing connection keeps reading (and dropping) what its client still sends.
    private static let lingerLimit = TimeAmount.seconds(2)
    /// Unparsed client bytes beyond the upstream's reach (a pipelined backlog) stop client reads.
    private static let backlogLimit = 64 * 1024
    /// Body bytes held for a request whose upstream connection is not ready yet (connecting, or
    /// waiting for a healthy instance): past this the client is simply not read.
    static let pendingLimit = 64 * 1024
    /// A response head larger than this from an upstream is a bad gateway.
    private static let maxResponseHead = 64 * 1024

    let shared: ProxyContext
    /// This event loop's idle upstream connections (set when the handler is added).
    private var pool = UpstreamPool()
    /// This event loop's end-of-tick flushes (set when the handler is added).
    private var flushes: FlushBatch?
    /// This event loop's access-log lines (nil when the log is off).
    private var accessLines: AccessBatch?
    private var context: ChannelHandlerContext?
    private var exchange: Exchange?
    private var upstream: UpstreamConnection?
    private var client = ClientAddress("127.0.0.1")
    /// Client bytes not consumed yet: a partial head, or pipelined requests waiting their turn.
    private var inbound: ByteBuffer?
    /// Upstream bytes not consumed yet (a response head split across reads).
    private var upstreamInbound: ByteBuffer?
    /// Every request and response head of this connection is parsed into these (their storage is
    /// reused once the exchange holding the previous request has ended).
    private var requestHead = HTTPHead(bytes: ByteBuffer())
    private var responseHead = HTTPHead(bytes: ByteBuffer())
    /// Reused head buffers, one per direction (see `prepare`).
    private var upstreamOut = ByteBuffer()
    private var clientOut = ByteBuffer()
    private var processing = false
    /// Set once a response has ended the connection's use: whatever else the client sends is dropped.
    private var discardingInput = false
    private var readPending = false
    /// One repeating timer per connection checks idle and upstream deadlines: scheduling a timer per
    /// request cost more than the rest of the request's bookkeeping together.
    private var ticker: RepeatedTask?
    /// Request ids come from a per-connection generator, seeded once from the system (a getrandom
    /// call per request showed up in profiles).
    private var random = SplitMix64()
    private var idleSince: NIODeadline = .now()
    /// When the client read being handled began: the clock is read once per read, not at every
    /// step of a request (five reads of it per request showed in profiles).
    private var readTime: NIODeadline = .now()
    /// The time for a request's bookkeeping (start, deadlines): inside a client read that read's
    /// time is close enough; outside one (a pipelined request started after a response, a
    /// connect callback) the clock is read.
    private var now: NIODeadline { inClientRead ? readTime : .now() }
    private let idleLimit: TimeAmount
    /// Set while a client read is being handled: its channelReadComplete flushes the upstream once,
    /// and `now` is that read's time.
    private var inClientRead = false
    private let allocator = ByteBufferAllocator()
    private let upstreamLimit: TimeAmount
    private let readLimit: TimeAmount

    init(shared: ProxyContext) {
        self.shared = shared
        idleLimit = .milliseconds(DurationText.milliseconds(shared.settings.idleTimeout))
        upstreamLimit = .milliseconds(DurationText.milliseconds(shared.settings.upstreamTimeout))
        readLimit = .milliseconds(DurationText.milliseconds(shared.settings.upstreamReadTimeout))
    }

    // MARK: Client side

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        let perLoop = shared.perLoop(context.eventLoop)
        pool = perLoop.pool
        flushes = perLoop.flushes
        accessLines = perLoop.accessLines
        if case .v4(let address)? = context.channel.remoteAddress { client = ClientAddress(address.host) }
        if case .v6(let address)? = context.channel.remoteAddress { client = ClientAddress(address.host) }
        shared.metrics.connectionOpened()
        let tick = TimeAmount.nanoseconds(min(TimeAmount.seconds(1).nanoseconds, min(idleLimit, upstreamLimit, readLimit).nanoseconds / 4))
        // Captured strongly, as in every callback here: one weak reference gives an object a side
        // table for good, and each retain and release of it then takes the slow path (a tenth of a
        // microsecond per request in profiles). Each callback ends in bounded time; the ticker is
        // cancelled when the connection closes.
        ticker = context.eventLoop.scheduleRepeatedTask(initialDelay: tick, delay: tick) { _ in self.checkDeadlines() }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        // A channel that closes before it was active is removed without channelInactive.
        ticker?.cancel()
        ticker = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        release(exchange)
        // Connect and wait callbacks still under way find no exchange and send nothing.
        exchange = nil
        shared.metrics.connectionClosed()
        ticker?.cancel()
        dropUpstream()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if discardingInput { return }
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
        if discardingInput { return context.read() }
        if (inbound?.readableBytes ?? 0) > Self.backlogLimit || (upstream.map { !$0.channel.isWritable } ?? false) || holdingBody {
            readPending = true
            return
        }
        context.read()
    }

    /// A request body is waiting for its upstream connection and has filled its allowance.
    private var holdingBody: Bool {
        guard let current = exchange else { return false }
        return !current.headSent && current.pendingBytes >= Self.pendingLimit
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable, let upstream {
            // The upstream was paused for this client: its silence meanwhile is not a stall.
            exchange?.upstreamSpoke = true
            upstream.handler.resumeReading()
        }
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    /// Consumes client bytes: a request head, then its body, then (once the response has ended)
    /// the next pipelined request.
    private func process() {
        guard !processing else { return }
        processing = true
        defer { processing = false }
        while context != nil, var buffer = inbound, buffer.readableBytes > 0 {
            // Taken out while it is sliced, so slices do not force a copy of what stays behind.
            inbound = nil
            if let current = exchange {
                if current.ended || current.upgrading || holdingBody {
                    inbound = buffer
                    return
                }
                guard let body = current.requestBody.take(from: &buffer) else {
                    // Once a response is under way, no error page can be put in front of it.
                    if current.responseStarted, let context { return abandonResponse(context) }
                    return writeSimple(.badRequest, message: "malformed chunked request body", close: true)
                }
                if let body {
                    current.lastPart = now
                    forward(body)
                }
                if current.requestBody.isDone {
                    current.ended = true
                    // The upstream's time to answer starts once it has the whole request: a client
                    // that stalls mid-body is the client's fault (408), not the upstream's (504).
                    if current.headSent, current.responseDeadline == nil { current.responseDeadline = now + upstreamLimit }
                }
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
                return writeSimple(.badRequest, message: "malformed request", close: true)
            case .complete:
                if buffer.readableBytes > 0 { inbound = buffer }
                begin(requestHead)
            }
        }
    }

    private func markIdle(at time: NIODeadline? = nil) {
        idleSince = time ?? .now()
    }

    private func checkDeadlines() {
        guard let context else { return }
        let now = NIODeadline.now()
        if discardingInput {
            if now - idleSince >= Self.lingerLimit { context.close(promise: nil) }
            return
        }
        if let current = exchange {
            if current.upstreamSpoke {
                current.upstreamSpoke = false
                current.lastUpstreamRead = now
            }
            if let deadline = current.responseDeadline, !current.responseStarted, now >= deadline {
                dropUpstream()
                writeSimple(.gatewayTimeout, message: "the upstream did not answer in time", close: false)
            } else if !current.ended, !current.responseStarted, !holdingBody, now - current.lastPart >= idleLimit {
                writeSimple(.requestTimeout, message: "the request was not completed in time", close: true)
            } else if current.responseStarted, let upstream, !upstream.handler.paused, now - current.lastUpstreamRead >= readLimit {
                // Cut off mid-response: closing the client's connection too tells it the body is
                // incomplete (a length-framed or chunked body that never ends).
                shared.metrics.upstreamError(route: current.routeLabel)
                abandonResponse(context)
            }
        } else if inbound.map({ $0.readableBytes > 0 }) ?? false, now - idleSince >= idleLimit {
            writeSimple(.requestTimeout, message: "the request was not completed in time", close: true)
        } else if now - idleSince >= idleLimit {
            context.close(promise: nil)
        }
    }

    // MARK: Requests

    private func begin(_ head: HTTPHead) {
        guard context != nil else { return }
        // A client's id is kept only when it is a plain token: it goes into log lines and pages.
        let sent = head.first(.xRequestID).flatMap { field in
            RequestID.isPlain(head, field.value)
                ? head.bytes.getSlice(at: head.bytes.readerIndex + field.value.lowerBound, length: field.value.count) : nil
        }
        let requestID = RequestID(sent: sent, generated: sent == nil ? random.next() : 0)
        // The connection's last host was valid when it was looked up: its bytes need no new check.
        let cached = cachedRoute(head)
        let refusal = RequestRefusal.check(head, allowTrace: shared.settings.allowTrace, hostKnownValid: cached != nil)
        if let refusal {
            // A refused head's host is only logged: never looked up, never kept for the next request.
            let route = ResolvedRoute(header: [], generation: -1, host: head.host.map { head.string($0) } ?? "", target: nil)
            exchange = Exchange(head: head, route: route, requestID: requestID, requestBody: .none, now: now)
            return writeSimple(refusal.status, message: refusal.message, close: true)
        }
        let route = cached ?? resolve(head)
        guard let framing = BodyFraming.request(head) else {
            exchange = Exchange(head: head, route: route.unrouted, requestID: requestID, requestBody: .none, now: now)
            return writeSimple(.badRequest, message: "the request body's length is ambiguous", close: true)
        }
        exchange = Exchange(head: head, route: route, requestID: requestID, requestBody: framing, now: now)

        // Devhost's own answers, and the list of routes, only for hosts it serves: a page on
        // another name that resolves to 127.0.0.1 (DNS rebinding) learns nothing from them.
        if head.targetStartsWithReservedPrefix, shared.serves(host: route.host) {
            return builtIn(head)
        }
        guard route.target != nil else {
            let (type, body) = ProxyPages.notFound(
                host: route.host, routes: shared.serves(host: route.host) ? shared.routes.all : [],
                port: (context?.channel.localAddress?.port) ?? 0, json: head.wantsJSON, requestID: requestID.string)
            return respond(.notFound, contentType: type, body: body)
        }
        connect()
    }

    /// Keep-alive connections ask for the same host again and again: the last answer is kept until
    /// the route table changes.
    private var lastRoute: ResolvedRoute?

    private func cachedRoute(_ head: HTTPHead) -> ResolvedRoute? {
        guard let lastRoute, let field = head.host, lastRoute.generation == shared.routes.generation,
            head.bytesEqual(field, lastRoute.header)
        else { return nil }
        return lastRoute
    }

    private func resolve(_ head: HTTPHead) -> ResolvedRoute {
        let field = head.host ?? 0..<0
        // Read before the lookup: a change in between then only makes the next request look again.
        let generation = shared.routes.generation
        let (host, target) = shared.routes.resolve(hostHeader: head.string(field))
        let route = ResolvedRoute(header: head.byteArray(field), generation: generation, host: host, target: target)
        lastRoute = route
        return route
    }

    private func forward(_ body: ByteBuffer) {
        guard let current = exchange else { return }
        if let upstream, current.headSent, upstream.channel.isActive {
            // Inside a client read, channelReadComplete flushes; a pipelined request started after
            // a response (outside any client read) must flush its own body.
            upstream.handler.write(body)
            if !inClientRead { upstream.handler.flush() }
            current.bodySent = true
        } else {
            current.pending.append(body)
            current.pendingBytes += body.readableBytes
        }
    }

    /// Picks the endpoint for the current request's route and sends the request there.
    private func connect() {
        guard let context, let current = exchange else { return }
        let route = current.route
        // A fixed address, the common case, needs nothing from the target itself.
        if let key = route.addressKey { return use(key: key, instance: nil, context: context) }
        switch route.target {
        case nil, .address?:
            return
        case .socket(let path)?:
            // devhost's own control API: only for the user running devhost, from this machine (the
            // socket behind it is mode 0600 for the same reason).
            guard isOwnUser(context.channel) else {
                return writeSimple(
                    .forbidden, message: "the devhost dashboard answers only the user running devhost, on this machine", close: false)
            }
            use(key: UpstreamPool.Key(host: "localhost", port: 0, path: path), instance: nil, context: context)
        case .service(let name, _)?:
            if let endpoint = shared.instances.next(name, excluding: current.tried) {
                return use(key: UpstreamPool.Key(host: endpoint.host, port: endpoint.port), instance: endpoint.instance, context: context)
            }
            // Nothing healthy: a service that is starting or restarting just looks slow.
            let wait = current.tried.isEmpty ? shared.settings.waitForHealthy : .zero
            let instances = shared.instances
            let tried = current.tried
            context.eventLoop.makeFutureWithTask { await instances.next(name, waitingUpTo: wait, excluding: tried) }
                .whenComplete { result in
                    guard let context = self.context, self.exchange === current else { return }
                    if case .success(let endpoint?) = result {
                        self.use(
                            key: UpstreamPool.Key(host: endpoint.host, port: endpoint.port), instance: endpoint.instance, context: context)
                    } else {
                        let about = self.shared.describe(name)
                        let (type, body) = ProxyPages.unavailable(
                            service: name, state: about.state, lines: about.lines, json: current.head.wantsJSON,
                            requestID: current.requestID.string)
                        self.respond(.serviceUnavailable, contentType: type, body: body)
                    }
                }
        }
    }

    /// Sends the current request over an idle pooled connection to that endpoint, or a new one.
    private func use(key: UpstreamPool.Key, instance: String?, context: ChannelHandlerContext) {
        guard let current = exchange else { return }
        current.endpoint = (key, instance)
        current.reused = false
        if let pooled = pool.take(key) {
            current.reused = true
            dropUpstream()
            upstream = pooled
            upstreamInbound = nil
            pooled.handler.proxy = self
            return send(over: pooled)
        }
        open(key: key, instance: instance, context: context)
    }

    /// Opens a new connection to `key` (through the context's connector) and sends the current
    /// request over it.
    private func open(key: UpstreamPool.Key, instance: String?, context: ChannelHandlerContext) {
        dropUpstream()
        let pool = self.pool
        let current = exchange
        let connected = shared.connector(key, context.eventLoop) { channel in
            // One handler per channel: for a host name, NIO tries each address on a channel of its
            // own, and the attempts it abandons remove their handler later.
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(UpstreamHandler(pool: pool, key: key), name: "upstream")
            }
        }
        connected.whenComplete { result in
            guard let current, self.exchange === current else {
                if case .success(let channel) = result { channel.close(promise: nil) }
                return
            }
            switch result {
            case .success(let channel):
                guard let handler = try? channel.pipeline.syncOperations.handler(type: UpstreamHandler.self) else {
                    channel.close(promise: nil)
                    return self.upstreamFailed(instance: instance)
                }
                handler.proxy = self
                let connection = UpstreamConnection(channel: channel, key: key, instance: instance, handler: handler)
                self.upstream = connection
                self.send(over: connection)
            case .failure:
                self.upstreamFailed(instance: instance)
            }
        }
    }

    private func send(over connection: UpstreamConnection) {
        guard let current = exchange else { return }
        let route = current.route
        current.instance = connection.instance
        prepare(&upstreamOut)
        ProxyHeaders.upstreamRequest(
            current.head, client: client, requestID: current.requestID,
            rewriteHost: route.rewriteHost ? (connection.key.host, connection.key.port) : nil, into: &upstreamOut)
        connection.handler.write(upstreamOut)
        release(current)
        if route.isService, let instance = connection.instance {
            shared.instances.began(service: route.label, instance: instance)
            current.counted = (route.label, instance)
        }
        current.headSent = true
        for body in current.pending {
            connection.handler.write(body)
            current.bodySent = true
        }
        current.pending = []
        current.pendingBytes = 0
        // Inside a client read, channelReadComplete flushes once for the whole batch.
        if !inClientRead { connection.handler.flush() }
        if current.ended { current.responseDeadline = now + upstreamLimit }
        // Body bytes held back while the connection was made go out now.
        process()
        resumeClientReads()
    }

    /// Connect failure or reset: the instance is set aside for a moment (passive health), and an
    /// idempotent request without a body already sent is tried on another instance.
    func upstreamFailed(instance: String?) {
        guard let current = exchange else { return }
        release(current)
        upstream = nil
        upstreamInbound = nil
        let idempotent = ["GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"].contains(current.head.methodString)
        if current.reused, idempotent, !current.bodySent, !current.responseStarted, let endpoint = current.endpoint, let context {
            // A kept-alive connection closed by the upstream as it was reused says nothing about
            // the instance's health: the request goes again, once, on a new connection.
            current.reused = false
            current.headSent = false
            let key = endpoint.key
            return open(key: key, instance: endpoint.instance, context: context)
        }
        shared.metrics.upstreamError(route: current.routeLabel)
        // A kept-alive connection that failed says nothing about the instance (see above).
        if !current.reused, let instance, case .service(let name, _)? = current.target {
            shared.instances.suspend(service: name, instance: instance, for: .seconds(2))
        }
        guard !current.responseStarted else {
            context?.close(promise: nil)
            return
        }
        if idempotent, !current.bodySent, current.route.isService, current.tried.count < 4 {
            current.headSent = false
            current.tried.insert(instance ?? "")
            connect()
            return
        }
        writeSimple(.badGateway, message: "the upstream closed the connection", close: false)
    }

    // MARK: Responses from the upstream

    func isCurrent(_ handler: UpstreamHandler) -> Bool { upstream?.handler === handler }

    func resumeClientReads() {
        if readPending, (inbound?.readableBytes ?? 0) <= Self.backlogLimit, upstream.map({ $0.channel.isWritable }) ?? true {
            readPending = false
            context?.read()
        }
    }

    func upstreamRead(_ data: ByteBuffer, from handler: UpstreamHandler) {
        guard let context, upstream?.handler === handler, let current = exchange else {
            // Bytes nobody asked for: the connection is out of step, so it is not reused.
            if upstream?.handler === handler {
                dropUpstream()
            } else {
                handler.proxy = nil
                handler.close()
            }
            return
        }
        current.upstreamSpoke = true
        var buffer = data
        if var earlier = upstreamInbound {
            upstreamInbound = nil
            earlier.writeBuffer(&buffer)
            buffer = earlier
        }
        while buffer.readableBytes > 0 {
            if !current.responseStarted {
                switch HTTPHead.parse(&buffer, into: &responseHead, isRequest: false, maxHead: Self.maxResponseHead, maxTarget: 0) {
                case .incomplete:
                    upstreamInbound = buffer
                    return
                case .failed:
                    dropUpstream()
                    return writeSimple(.badGateway, message: "the upstream sent a malformed response", close: false)
                case .complete:
                    let head = responseHead
                    if head.status == 101, current.head.isUpgrade {
                        current.upgrading = true
                        current.status = 101
                        var out = allocator.buffer(capacity: 0)
                        ProxyHeaders.downstreamResponse(
                            head, clientMinor: current.head.minor, requestID: current.requestID, closing: false, into: &out)
                        context.write(wrapOutboundOut(out), promise: nil)
                        if buffer.readableBytes > 0 { context.write(wrapOutboundOut(buffer), promise: nil) }
                        context.flush()
                        return switchToRelay()
                    }
                    if head.status < 200 {
                        // Interim answers (100 Continue, 103 Early Hints) go to HTTP/1.1 clients as they come.
                        if current.head.minor >= 1, head.status != 101 {
                            var out = allocator.buffer(capacity: 0)
                            ProxyHeaders.downstreamResponse(head, clientMinor: 1, requestID: current.requestID, closing: false, into: &out)
                            context.write(wrapOutboundOut(out), promise: nil)
                        }
                        continue
                    }
                    current.responseStarted = true
                    current.status = head.status
                    current.responseBody = BodyFraming.response(head, toHEAD: current.isHEAD)
                    if case .untilClose = current.responseBody { current.keepUpstream = false }
                    if !head.keepAlive { current.keepUpstream = false }
                    // A response that ends with the connection, or one that came before the request
                    // finished, leaves the client connection unusable for another request.
                    var closing = !current.head.keepAlive || !current.ended
                    if case .untilClose = current.responseBody { closing = true }
                    // An HTTP/1.0 client cannot read chunked framing (an upstream may send it
                    // anyway): the data goes on plain and the connection's end ends it.
                    var dechunk = false
                    if current.head.minor == 0, case .chunked(let scanner) = current.responseBody {
                        current.responseBody = .dechunked(scanner)
                        dechunk = true
                        closing = true
                    }
                    current.closeAfter = closing
                    prepare(&clientOut)
                    ProxyHeaders.downstreamResponse(
                        head, clientMinor: current.head.minor, requestID: current.requestID, closing: closing, dechunk: dechunk,
                        into: &clientOut)
                    // A small body that came with the head leaves in the same write.
                    if !current.responseBody.isDone, buffer.readableBytes > 0, buffer.readableBytes <= 16 * 1024 {
                        guard let body = current.responseBody.take(from: &buffer) else { return abandonResponse(context) }
                        if var body {
                            current.bytes += body.readableBytes
                            clientOut.writeBuffer(&body)
                        }
                    }
                    context.write(wrapOutboundOut(clientOut), promise: nil)
                    if current.responseBody.isDone { return complete(current, leftover: buffer) }
                }
            } else {
                guard let body = current.responseBody.take(from: &buffer) else { return abandonResponse(context) }
                if let body {
                    current.bytes += body.readableBytes
                    context.write(wrapOutboundOut(body), promise: nil)
                    if !context.channel.isWritable { handler.pauseReading() }
                }
                if current.responseBody.isDone { return complete(current, leftover: buffer) }
            }
        }
    }

    /// Lets go of the upstream connection in use and closes it. Taken out before it is closed:
    /// closing on the event loop reports the close at once (`upstreamClosed`), which must find it
    /// no longer current, or it would count as a failure of the request and start a retry.
    private func dropUpstream() {
        guard let connection = upstream else { return }
        upstream = nil
        upstreamInbound = nil
        connection.handler.proxy = nil
        connection.channel.close(promise: nil)
    }

    /// A response that cannot be finished correctly (its framing, or its request's, broke mid-way):
    /// both connections close.
    private func abandonResponse(_ context: ChannelHandlerContext) {
        dropUpstream()
        context.close(promise: nil)
    }

    func upstreamWritable() {
        resumeClientReads()
    }

    func upstreamReadComplete() {
        if let context, let flushes { flushes.flush(context) }
    }

    /// The upstream closed. A response without a length ends here; before any response byte this
    /// is a failed attempt (retried when safe); an idle connection closing is nothing to report.
    func upstreamClosed(_ handler: UpstreamHandler) {
        guard isCurrent(handler) else { return }
        guard let current = exchange, current.headSent else {
            upstream = nil
            upstreamInbound = nil
            return
        }
        if current.responseStarted, case .untilClose = current.responseBody {
            upstream = nil
            return complete(current, leftover: nil)
        }
        upstreamFailed(instance: upstream?.instance)
    }

    /// Writes the last bytes, then closes. A client that may still be sending (an upload answered
    /// early) gets a lingering close: the write side is shut and its input read and dropped for a
    /// moment, because closing a socket with unread input sends a reset that can destroy the answer
    /// before the client has read it.
    private func closeAfterWrites(_ last: ByteBuffer, clientStillSending: Bool) {
        guard let context else { return }
        discardingInput = true
        inbound = nil
        markIdle()
        let written = context.writeAndFlush(wrapOutboundOut(last))
        let channel = context.channel
        if readPending {
            readPending = false
            context.read()
        }
        if clientStillSending {
            written.whenComplete { _ in channel.close(mode: .output, promise: nil) }
        } else {
            written.whenComplete { _ in channel.close(promise: nil) }
        }
    }

    /// Ends the in-flight count of a request (see `Exchange.counted`).
    private func release(_ current: Exchange?) {
        guard let current, let counted = current.counted else { return }
        shared.instances.ended(service: counted.service, instance: counted.instance)
        current.counted = nil
    }

    private func complete(_ current: Exchange, leftover: ByteBuffer?) {
        guard let context else { return }
        release(current)
        exchange = nil
        let finished = finish(current)
        if current.closeAfter {
            closeAfterWrites(allocator.buffer(capacity: 0), clientStillSending: !current.ended)
        } else {
            // Flushed here: the upstream connection's read completion no longer reaches this
            // client once it is back in the pool (or closed).
            flushes?.flush(context)
        }
        if let connection = upstream {
            upstream = nil
            upstreamInbound = nil
            // An upstream still owed part of the request body is out of step for anyone else.
            if !current.keepUpstream || !current.ended || (leftover?.readableBytes ?? 0) > 0 {
                connection.channel.close(promise: nil)
            } else {
                connection.handler.proxy = nil
                connection.handler.resumeReading()
                pool.put(connection)
            }
        }
        markIdle(at: finished)
        if !current.closeAfter {
            process()
            resumeClientReads()
        }
    }

    /// Records a finished exchange; returns the time it finished.
    @discardableResult
    private func finish(_ done: Exchange) -> NIODeadline {
        let finished = NIODeadline.now()
        let nanoseconds = (finished - done.started).nanoseconds
        let counters: ProxyMetrics.Route
        if let cached = done.route.counters {
            counters = cached
        } else {
            counters = shared.metrics.route(done.routeLabel)
            done.route.counters = counters
        }
        shared.metrics.record(counters, status: done.status, seconds: Double(nanoseconds) / 1e9)
        accessLines?.record(
            method: done.head.methodBytes, host: done.host, target: done.head.targetBytes, status: done.status, bytes: done.bytes,
            nanoseconds: nanoseconds, requestID: done.requestID, instance: done.instance)
        return finished
    }

    /// After a 101, both connections become one byte pipe until either side closes.
    private func switchToRelay() {
        guard let context, let upstream else { return }
        let (client, server) = GlueHandler.matchedPair()
        do {
            if let early = inbound, early.readableBytes > 0 { upstream.channel.writeAndFlush(early, promise: nil) }
            inbound = nil
            try context.pipeline.syncOperations.addHandler(client)
            try upstream.channel.pipeline.syncOperations.addHandler(server)
            upstream.channel.pipeline.syncOperations.removeHandler(name: "upstream", promise: nil)
            if let done = exchange { finish(done) }
            release(exchange)
            // The relay has its own life; this handler's deadline checks end with it.
            ticker?.cancel()
            exchange = nil
            self.upstream = nil
            context.pipeline.syncOperations.removeHandler(self, promise: nil)
            context.channel.read()
            upstream.channel.read()
        } catch {
            context.close(promise: nil)
            upstream.channel.close(promise: nil)
        }
    }

    // MARK: Local responses

    private func builtIn(_ head: HTTPHead) {
        let uri = head.targetString
        let path = uri.split(separator: "?").first.map(String.init) ?? uri
        switch path {
        case "/_devhost/health":
            respond(.ok, contentType: "application/json", body: ProxyPages.health(context: shared))
        case "/_devhost/metrics":
            var text = shared.metrics.prometheus()
            if let log = shared.accessLog {
                text +=
                    "# HELP devhost_proxy_access_log_dropped_total Access-log lines dropped because the terminal or disk was slower than the traffic.\n"
                text +=
                    "# TYPE devhost_proxy_access_log_dropped_total counter\ndevhost_proxy_access_log_dropped_total \(log.droppedLines)\n"
            }
            respond(.ok, contentType: "text/plain; version=0.0.4", body: text)
        default:
            writeSimple(.notFound, message: "\(path) is not a devhost endpoint (try /_devhost/health or /_devhost/metrics)", close: false)
        }
    }

    private var ownUser: Bool?

    private func isOwnUser(_ channel: Channel) -> Bool {
        if let ownUser { return ownUser }
        var verdict = false
        if let remote = channel.remoteAddress, let local = channel.localAddress {
            let ip = remote.ipAddress ?? ""
            let loopback = ip.hasPrefix("127.") || ip == "::1" || ip.hasPrefix("::ffff:127.")
            verdict = loopback && PeerUser.uid(client: remote, server: local) == getuid()
        }
        ownUser = verdict
        return verdict
    }

    private func writeSimple(_ status: HTTPResponseStatus, message: String, close: Bool) {
        let json = exchange?.head.wantsJSON ?? false
        let (type, body) = ProxyPages.error(
            status, message, json: json, requestID: (exchange?.requestID ?? RequestID(generated: random.next())).string)
        respond(status, contentType: type, body: body, close: close)
    }

    /// Writes a whole response of devhost's own; a request whose body has not all arrived closes
    /// the connection afterwards (its remaining bytes cannot be told from a next request).
    private func respond(_ status: HTTPResponseStatus, contentType: String, body: String, close: Bool = false) {
        guard let context else { return }
        let current = exchange
        let minor = current?.head.minor ?? 1
        let closing = close || !(current?.head.keepAlive ?? false) || current?.ended == false
        var out = allocator.buffer(capacity: body.utf8.count + 256)
        out.writeString(
            "HTTP/1.\(minor) \(status.code) \(status.reasonPhrase)\r\nContent-Type: \(contentType)\r\nContent-Length: \(body.utf8.count)\r\nCache-Control: no-store\r\n"
        )
        if let id = current?.requestID {
            out.writeStaticString("X-Request-ID: ")
            id.write(into: &out)
            out.writeStaticString("\r\n")
        }
        out.writeStaticString(closing ? "Connection: close\r\n\r\n" : (minor == 0 ? "Connection: keep-alive\r\n\r\n" : "\r\n"))
        if current?.isHEAD != true { out.writeString(body) }
        var finished: NIODeadline?
        if let done = current {
            done.status = Int(status.code)
            done.bytes = body.utf8.count
            finished = finish(done)
        }
        release(current)
        exchange = nil
        // Any upstream attempt still under way for this request is abandoned.
        if current?.responseStarted == false, current?.headSent == true {
            dropUpstream()
        }
        markIdle(at: finished)
        if closing {
            // Unless the whole request arrived, the client may still be sending (a body, an
            // oversized head): it gets a lingering close.
            closeAfterWrites(out, clientStillSending: current?.ended != true)
        } else {
            context.writeAndFlush(wrapOutboundOut(out), promise: nil)
            // Pipelined requests behind this one, outside the current call stack.
            context.eventLoop.execute {
                self.process()
                self.resumeClientReads()
            }
        }
    }

    /// A head buffer written once per request is cleared and filled again (an allocation per head
    /// showed up in profiles). Its storage is reused once the socket has let go of the last one
    /// (`clear` gives a fresh buffer otherwise); an outsized one is not kept.
    private func prepare(_ buffer: inout ByteBuffer) {
        if buffer.capacity > 32 * 1024 {
            buffer = allocator.buffer(capacity: 1024)
        } else {
            buffer.clear()
        }
    }
}

/// SplitMix64: a small, fast generator; request ids need to be unlikely to collide, not secret.
struct SplitMix64 {
    private var state: UInt64

    init() {
        var system = SystemRandomNumberGenerator()
        state = system.next()
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
