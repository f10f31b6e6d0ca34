import DevhostManifest
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// One client connection of the reverse proxy. Each request is forwarded to a healthy instance over
/// an upstream connection owned by this handler and kept alive across requests, and the response
/// streams back part by part. Pipelined requests wait in a queue until the response before them
/// ends (NIO's pipelining handler does the same by switching read interest off and on around every
/// request, two epoll_ctl calls a request). Everything runs on the client channel's event loop.
final class ProxyHandler: ChannelDuplexHandler, RemovableChannelHandler, @unchecked Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    /// The request being served (a class: it is updated in place on every part, never copied).
    final class Exchange {
        var head: HTTPRequestHead
        var host: String
        var requestID: String
        var started: ContinuousClock.Instant
        /// The last time a part of this request arrived (a stalled upload gets 408).
        var lastPart = NIODeadline.now()
        var routeLabel: String
        var target: ProxyTarget?
        /// Parts kept until the upstream accepts them; the head stays for a retry until a response starts.
        var pending: [HTTPClientRequestPart] = []
        var bodySent = false
        var ended = false
        var responseStarted = false
        var upgrading = false
        var status = 0
        var bytes = 0
        var instance: String?
        var tried: Set<String> = []
        /// When the upstream must have started its response (504 after that).
        var responseDeadline: NIODeadline?

        init(head: HTTPRequestHead, host: String, requestID: String, started: ContinuousClock.Instant, routeLabel: String, target: ProxyTarget?) {
            self.head = head
            self.host = host
            self.requestID = requestID
            self.started = started
            self.routeLabel = routeLabel
            self.target = target
        }
    }

    let shared: ProxyContext
    private var context: ChannelHandlerContext?
    private var exchange: Exchange?
    private var upstream: Upstream?
    private var clientIP = "127.0.0.1"
    private var readPending = false
    /// One repeating timer per connection checks idle and upstream deadlines: scheduling a timer per
    /// request cost more than the rest of the request's bookkeeping together.
    private var ticker: RepeatedTask?
    /// Parts of pipelined requests that arrived while a response was still going out.
    private var queued: [HTTPServerRequestPart] = []
    private var draining = false
    private var random = SplitMix64()
    private var idleSince: NIODeadline = .now()
    var upgradeHandlers: [String] = []

    final class Upstream {
        let channel: Channel
        let key: String
        let instance: String?
        let handler: UpstreamHandler
        let host: String
        let port: Int
        init(channel: Channel, key: String, instance: String?, handler: UpstreamHandler, host: String, port: Int) {
            self.channel = channel
            self.key = key
            self.instance = instance
            self.handler = handler
            self.host = host
            self.port = port
        }
    }

    init(shared: ProxyContext) {
        self.shared = shared
    }

    // MARK: Client side

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if case .v4(let address)? = context.channel.remoteAddress { clientIP = address.host }
        if case .v6(let address)? = context.channel.remoteAddress { clientIP = address.host }
        shared.metrics.connectionOpened()
        let idle = TimeAmount.milliseconds(DurationText.milliseconds(shared.settings.idleTimeout))
        let upstreamLimit = TimeAmount.milliseconds(DurationText.milliseconds(shared.settings.upstreamTimeout))
        let tick = TimeAmount.nanoseconds(min(TimeAmount.seconds(1).nanoseconds, min(idle, upstreamLimit).nanoseconds / 4))
        ticker = context.eventLoop.scheduleRepeatedTask(initialDelay: tick, delay: tick) { [weak self] _ in self?.checkDeadlines() }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        shared.metrics.connectionClosed()
        ticker?.cancel()
        upstream?.channel.close(promise: nil)
        upstream = nil
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        if !queued.isEmpty || (exchange?.ended == true && !isUpgradeInProgress) {
            queued.append(part)
            return
        }
        handle(part, context: context)
    }

    private var isUpgradeInProgress: Bool { exchange?.upgrading == true }

    /// Serves queued pipelined requests once the previous response has ended.
    private func drainQueue() {
        guard !draining, let context else { return }
        draining = true
        defer { draining = false }
        while !queued.isEmpty, exchange == nil || exchange?.ended == false {
            let part = queued.removeFirst()
            handle(part, context: context)
        }
    }

    private func handle(_ part: HTTPServerRequestPart, context: ChannelHandlerContext) {
        switch part {
        case .head(let head):
            begin(head, context: context)
        case .body(let buffer):
            guard let current = exchange else { return }
            forward(.body(.byteBuffer(buffer)))
            current.bodySent = true
            current.lastPart = .now()
        case .end(let trailers):
            guard let current = exchange else { return }
            current.ended = true
            forward(.end(trailers))
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        upstream?.channel.flush()
        context.fireChannelReadComplete()
    }

    /// Reads from the client only while the upstream can take more (back-pressure for uploads) and
    /// the pipelining queue is short.
    func read(context: ChannelHandlerContext) {
        if queued.count > 64 || (upstream.map { !$0.channel.isWritable } ?? false) {
            readPending = true
            return
        }
        context.read()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { upstream?.handler.resumeReading() }
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if let parserError = error as? HTTPParserError, exchange == nil || exchange?.responseStarted == false {
            let status: HTTPResponseStatus = parserError == .headerOverflow ? .requestHeaderFieldsTooLarge : .badRequest
            writeSimple(status, message: status == .badRequest ? "malformed request" : "request headers too large", close: true)
            return
        }
        context.close(promise: nil)
    }

    private func markIdle() {
        idleSince = .now()
    }

    private func checkDeadlines() {
        guard let context else { return }
        let now = NIODeadline.now()
        if let current = exchange {
            if let deadline = current.responseDeadline, !current.responseStarted, now >= deadline {
                upstream?.channel.close(promise: nil)
                upstream = nil
                writeSimple(.gatewayTimeout, message: "the upstream did not answer in time", close: false)
            } else if !current.ended, !current.responseStarted,
                now - current.lastPart >= .milliseconds(DurationText.milliseconds(shared.settings.idleTimeout))
            {
                writeSimple(.requestTimeout, message: "the request was not completed in time", close: true)
            }
        } else if now - idleSince >= .milliseconds(DurationText.milliseconds(shared.settings.idleTimeout)) {
            context.close(promise: nil)
        }
    }

    // MARK: Requests

    private func begin(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        let requestID = head.headers.first(name: "x-request-id").flatMap { $0.isEmpty || $0.count > 200 ? nil : $0 } ?? newRequestID()
        let (host, target) = shared.routes.resolve(hostHeader: head.headers.first(name: "host") ?? "")
        let current = Exchange(head: head, host: host, requestID: requestID, started: .now, routeLabel: host, target: target)
        exchange = current

        if head.uri.utf8.count > shared.settings.maxURILength {
            return writeSimple(.uriTooLong, message: "the request target is longer than \(shared.settings.maxURILength) bytes", close: true)
        }
        if head.headers.reduce(0, { $0 + $1.name.utf8.count + $1.value.utf8.count + 4 }) > shared.settings.maxHeaderBytes {
            return writeSimple(.requestHeaderFieldsTooLarge, message: "request headers are larger than \(shared.settings.maxHeaderBytes) bytes", close: true)
        }
        if head.uri.hasPrefix("/_devhost/") {
            return builtIn(head)
        }
        guard let target else {
            let (type, body) = ProxyPages.notFound(
                host: host, routes: shared.routes.all, port: (context.channel.localAddress?.port) ?? 0, json: ProxyPages.wantsJSON(head),
                requestID: requestID)
            return respond(.notFound, contentType: type, body: body)
        }
        current.pending = [.head(head)]
        if case .service(let name, _) = target { current.routeLabel = name }
        connect(target)
    }

    private func forward(_ part: HTTPClientRequestPart) {
        guard let current = exchange else { return }
        if let upstream, current.pending.isEmpty, upstream.channel.isActive {
            upstream.channel.write(part, promise: nil)
            if case .end = part { upstream.channel.flush() }
        } else {
            current.pending.append(part)
        }
    }

    private func connect(_ target: ProxyTarget) {
        guard let context, let current = exchange else { return }
        switch target {
        case .address(let host, let port):
            if let upstream, upstream.key == target.key, upstream.channel.isActive { return send(over: upstream) }
            open(host: host, port: port, key: target.key, instance: nil, context: context)
        case .socket(let path):
            // devhost's own control API: only for the user running devhost, from this machine (the
            // socket behind it is mode 0600 for the same reason).
            guard isOwnUser(context.channel) else {
                return writeSimple(.forbidden, message: "the devhost dashboard answers only the user running devhost, on this machine", close: false)
            }
            if let upstream, upstream.key == target.key, upstream.channel.isActive { return send(over: upstream) }
            open(host: "localhost", port: 0, socketPath: path, key: target.key, instance: nil, context: context)
        case .service(let name, _):
            if let upstream, upstream.channel.isActive, let instance = upstream.instance, upstream.key.hasPrefix(target.key + "#"),
                shared.instances.isHealthy(service: name, instance: instance)
            {
                return send(over: upstream)
            }
            if let endpoint = shared.instances.next(name, excluding: current.tried) {
                open(host: endpoint.host, port: endpoint.port, key: target.key + "#" + endpoint.instance, instance: endpoint.instance, context: context)
                return
            }
            // Nothing healthy: a service that is starting or restarting just looks slow.
            let wait = current.tried.isEmpty ? shared.settings.waitForHealthy : .zero
            let instances = shared.instances
            let tried = current.tried
            context.eventLoop.makeFutureWithTask { await instances.next(name, waitingUpTo: wait, excluding: tried) }
                .whenComplete { [weak self] result in
                    guard let self, let context = self.context, self.exchange != nil else { return }
                    if case .success(let endpoint?) = result {
                        self.open(
                            host: endpoint.host, port: endpoint.port, key: target.key + "#" + endpoint.instance, instance: endpoint.instance,
                            context: context)
                    } else {
                        let about = self.shared.describe(name)
                        let (type, body) = ProxyPages.unavailable(
                            service: name, state: about.state, lines: about.lines, json: ProxyPages.wantsJSON(current.head),
                            requestID: current.requestID)
                        self.respond(.serviceUnavailable, contentType: type, body: body)
                    }
                }
        }
    }

    private func open(host: String, port: Int, socketPath: String? = nil, key: String, instance: String?, context: ChannelHandlerContext) {
        upstream?.channel.close(promise: nil)
        upstream = nil
        let handler = UpstreamHandler(proxy: self)
        let bootstrap = ClientBootstrap(group: context.eventLoop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelOption(.allowRemoteHalfClosure, value: false)
            .connectTimeout(.seconds(3))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    // Encoder first, then the decoder, which watches outgoing heads (HEAD responses have no body).
                    try channel.pipeline.syncOperations.addHandler(HTTPRequestEncoder(), name: "client-encoder")
                    try channel.pipeline.syncOperations.addHandler(
                        ByteToMessageHandler(HTTPResponseDecoder(leftOverBytesStrategy: .forwardBytes)), name: "client-decoder")
                    try channel.pipeline.syncOperations.addHandler(handler, name: "upstream")
                }
            }
        let connected = socketPath.map { bootstrap.connect(unixDomainSocketPath: $0) } ?? bootstrap.connect(host: host, port: port)
        connected.whenComplete { [weak self] result in
                guard let self, self.exchange != nil else {
                    if case .success(let channel) = result { channel.close(promise: nil) }
                    return
                }
                switch result {
                case .success(let channel):
                    let connection = Upstream(channel: channel, key: key, instance: instance, handler: handler, host: host, port: port)
                    self.upstream = connection
                    self.send(over: connection)
                case .failure:
                    self.upstreamFailed(instance: instance, before: true)
                }
            }
    }

    private func send(over connection: Upstream) {
        guard let current = exchange else { return }
        current.instance = connection.instance
        var first = true
        for part in current.pending {
            if first, case .head(let head) = part {
                var rewrite = false
                if case .service(_, let flag)? = current.target { rewrite = flag }
                let out = ProxyHeaders.upstreamRequest(
                    head, clientIP: clientIP, requestID: current.requestID, upstream: (connection.host, connection.port), rewriteHost: rewrite)
                connection.channel.write(HTTPClientRequestPart.head(out), promise: nil)
            } else {
                connection.channel.write(part, promise: nil)
            }
            first = false
        }
        connection.channel.flush()
        current.pending = []
        current.tried.insert(connection.instance ?? connection.key)
        current.responseDeadline = .now() + .milliseconds(DurationText.milliseconds(shared.settings.upstreamTimeout))
        if readPending, connection.channel.isWritable {
            readPending = false
            context?.read()
        }
    }

    /// Connect failure or reset: the instance is set aside for a moment (passive health), and an
    /// idempotent request without a body already sent is tried on another instance.
    func upstreamFailed(instance: String?, before responseStarted: Bool) {
        guard let current = exchange else { return }
        upstream = nil
        shared.metrics.upstreamError(route: current.routeLabel)
        if let instance, case .service(let name, _)? = current.target {
            shared.instances.suspend(service: name, instance: instance, for: .seconds(2))
        }
        guard !current.responseStarted else {
            context?.close(promise: nil)
            return
        }
        let idempotent = ["GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"].contains(current.head.method.rawValue)
        if idempotent, !current.bodySent, let target = current.target, case .service = target, current.tried.count < 4 {
            current.pending = [.head(current.head)] + (current.ended ? [.end(nil)] : [])
            current.tried.insert(instance ?? "")
            connect(target)
            return
        }
        writeSimple(.badGateway, message: "the upstream closed the connection", close: false)
    }

    // MARK: Responses from the upstream

    func isCurrent(_ handler: UpstreamHandler) -> Bool { upstream?.handler === handler }
    var hasExchangeWaitingForResponse: Bool { exchange != nil }
    var currentUpstreamInstance: String? { upstream?.instance }

    func dropUpstream() {
        upstream = nil
    }

    func resumeClientReads() {
        if readPending {
            readPending = false
            context?.read()
        }
    }

    func upstreamResponse(_ part: HTTPClientResponsePart, from handler: UpstreamHandler) {
        guard let context, let current = exchange, upstream?.handler === handler else { return }
        switch part {
        case .head(let head):
            current.responseStarted = true
            current.status = Int(head.status.code)
            if head.status == .switchingProtocols, ProxyHeaders.isUpgrade(current.head) {
                // The decoder still owes this response's end; the pipes are joined after it.
                current.upgrading = true
                var out = ProxyHeaders.downstreamResponse(head, requestID: current.requestID, closing: false)
                out.version = current.head.version
                context.writeAndFlush(wrapOutboundOut(.head(out)), promise: nil)
                return
            }
            let closing = !current.head.isKeepAlive
            var out = ProxyHeaders.downstreamResponse(head, requestID: current.requestID, closing: closing)
            out.version = current.head.version
            context.write(wrapOutboundOut(.head(out)), promise: nil)
        case .body(let buffer):
            current.bytes += buffer.readableBytes
            context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
            if !context.channel.isWritable { handler.pauseReading() }
        case .end(let trailers):
            if current.upgrading {
                context.flush()
                switchToRelay()
                return
            }
            let keepUpstream = handler.keepAlive
            exchange = nil
            finish(current)
            if current.head.isKeepAlive {
                context.writeAndFlush(wrapOutboundOut(.end(trailers)), promise: nil)
            } else {
                context.writeAndFlush(wrapOutboundOut(.end(trailers))).whenComplete { [weak self] _ in self?.context?.close(promise: nil) }
            }
            if !keepUpstream {
                upstream?.channel.close(promise: nil)
                upstream = nil
            }
            markIdle()
            if current.head.isKeepAlive { drainQueue() } else { queued = [] }
        }
    }

    func upstreamReadComplete() {
        context?.flush()
    }

    private func finish(_ done: Exchange) {
        let duration = ContinuousClock.now - done.started
        shared.metrics.record(route: done.routeLabel, status: done.status, seconds: Double(DurationText.millisecondsExact(duration)) / 1000)
        shared.access(
            method: done.head.method.rawValue, host: done.host, uri: done.head.uri, status: done.status, bytes: done.bytes, duration: duration,
            requestID: done.requestID, instance: done.instance)
    }

    /// After a 101, both connections become one byte pipe until either side closes.
    private func switchToRelay() {
        guard let context, let upstream else { return }
        let (client, server) = GlueHandler.matchedPair()
        do {
            try context.pipeline.syncOperations.addHandler(client)
            for name in upgradeHandlers { context.pipeline.syncOperations.removeHandler(name: name, promise: nil) }
            try upstream.channel.pipeline.syncOperations.addHandler(server)
            for name in ["upstream", "client-decoder", "client-encoder"] {
                upstream.channel.pipeline.syncOperations.removeHandler(name: name, promise: nil)
            }
            if let done = exchange { finish(done) }
            exchange = nil
            self.upstream = nil
            context.pipeline.syncOperations.removeHandler(self, promise: nil)
        } catch {
            context.close(promise: nil)
            upstream.channel.close(promise: nil)
        }
    }

    // MARK: Local responses

    private func builtIn(_ head: HTTPRequestHead) {
        let path = head.uri.split(separator: "?").first.map(String.init) ?? head.uri
        switch path {
        case "/_devhost/health":
            respond(.ok, contentType: "application/json", body: ProxyPages.health(context: shared))
        case "/_devhost/metrics":
            respond(.ok, contentType: "text/plain; version=0.0.4", body: shared.metrics.prometheus())
        default:
            writeSimple(.notFound, message: "\(path) is not a devhost endpoint (try /_devhost/health or /_devhost/metrics)", close: false)
        }
    }

    private var ownUser: Bool?

    private func isOwnUser(_ channel: Channel) -> Bool {
        if let ownUser { return ownUser }
        var verdict = false
        if let remote = channel.remoteAddress, let local = channel.localAddress, let clientPort = remote.port, let serverPort = local.port {
            let ip = remote.ipAddress ?? ""
            let loopback = ip.hasPrefix("127.") || ip == "::1" || ip.hasPrefix("::ffff:127.")
            verdict = loopback && PeerUser.uid(clientPort: clientPort, serverPort: serverPort) == getuid()
        }
        ownUser = verdict
        return verdict
    }

    private func writeSimple(_ status: HTTPResponseStatus, message: String, close: Bool) {
        let json = exchange.map { ProxyPages.wantsJSON($0.head) } ?? false
        let (type, body) = ProxyPages.error(status, message, json: json, requestID: exchange?.requestID ?? newRequestID())
        respond(status, contentType: type, body: body, close: close)
    }

    /// Writes a whole response of devhost's own; the request's remaining body is discarded.
    private func respond(_ status: HTTPResponseStatus, contentType: String, body: String, close: Bool = false) {
        guard let context else { return }
        let current = exchange
        let version = current?.head.version ?? .http1_1
        let closing = close || !(current?.head.isKeepAlive ?? false) || current?.ended == false
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: contentType)
        headers.add(name: "Content-Length", value: String(body.utf8.count))
        headers.add(name: "Cache-Control", value: "no-store")
        if let id = current?.requestID { headers.add(name: "X-Request-ID", value: id) }
        if closing { headers.add(name: "Connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: version, status: status, headers: headers))), promise: nil)
        if current?.head.method != .HEAD {
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))), promise: nil)
        }
        if let done = current {
            done.status = Int(status.code)
            done.bytes = body.utf8.count
            finish(done)
        }
        exchange = nil
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
            if closing { context.close(promise: nil) }
        }
        markIdle()
        if closing {
            queued = []
        } else {
            context.eventLoop.execute { [weak self] in self?.drainQueue() }
        }
    }

    /// 16 hex digits from a per-connection generator (seeded once from the system: a getrandom
    /// call per request showed up in profiles).
    func newRequestID() -> String {
        let hex = String(random.next(), radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
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
