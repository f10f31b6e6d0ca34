import DevhostManifest
import NIOCore
import NIOHPACK
import NIOHTTP2

/// One client HTTP/2 stream relayed frame for frame to a stream on an HTTP/2 cleartext connection
/// to an h2c or gRPC service (`protocol: h2c | grpc`): headers, data and trailers go on as they
/// come, both ways, with no buffering beyond what flow control allows (each side reads only while
/// the other can take more), so unary calls, server streaming and bidirectional streaming all work,
/// and `grpc-status` arrives in trailers as the server sent it. It takes the place of the
/// `HTTP2Bridge` and `ProxyHandler` of a stream whose route is such a service (`claim`); what a
/// failure becomes is `HTTP2RelayMachine`'s call. Loop-confined, like the stream.
final class HTTP2Relay: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame.FramePayload
    typealias OutboundOut = HTTP2Frame.FramePayload

    private let shared: ProxyContext
    private let pool: HTTP2UpstreamPool
    private let service: String
    private let rewriteHost: Bool
    private var head: HPACKHeaders
    private var machine: HTTP2RelayMachine
    private var context: ChannelHandlerContext?
    /// Client frames that came before the upstream stream was open.
    private var pending: [HTTP2Frame.FramePayload] = []
    private var upstream: Channel?
    private var instance: String?
    private var tried: Set<String> = []
    private var counted = false
    private var resetCode: UInt32?
    /// The client's HEADERS ended its request (a call with no message, a GET).
    private let headEndsStream: Bool

    private init(shared: ProxyContext, pool: HTTP2UpstreamPool, service: String, rewriteHost: Bool, head: HPACKHeaders, endStream: Bool) {
        self.shared = shared
        self.pool = pool
        self.service = service
        self.rewriteHost = rewriteHost
        self.head = head
        let type = head.first(name: "content-type") ?? ""
        machine = HTTP2RelayMachine(grpc: type.hasPrefix("application/grpc"))
        headEndsStream = endStream
    }

    /// A relay for a request whose route is an h2c or gRPC service, or nil (the bridge carries on).
    /// Costs one atomic load when no route of the proxy has such a service.
    static func claim(_ headers: HPACKHeaders, endStream: Bool, origin: HTTP2Origin) -> HTTP2Relay? {
        let routes = origin.shared.routes
        guard routes.hasHTTP2Upstreams else { return nil }
        let authority = headers.first(name: ":authority") ?? headers.first(name: "host") ?? ""
        guard let hostRoutes = routes.lookup(hostHeader: authority).routes else { return nil }
        let path = headers.first(name: ":path") ?? "/"
        let prefix = hostRoutes.prefixes.isEmpty ? nil : hostRoutes.match(target: path)
        guard case .service(let name, let rewrite)? = prefix?.target ?? hostRoutes.catchAll, routes.upstreamProtocol(of: name).isHTTP2
        else { return nil }
        var head = forwarded(
            headers, client: origin.clientIP, authority: authority, strip: prefix?.strip == true ? prefix : nil, secure: origin.secure)
        if head.first(name: "x-request-id") == nil {
            var seed = origin.nextGenerator()
            head.add(name: "x-request-id", value: String(seed.next(), radix: 16))
        }
        return HTTP2Relay(
            shared: origin.shared, pool: origin.http2Upstreams, service: name, rewriteHost: rewrite, head: head, endStream: endStream)
    }

    /// Why a request over HTTP/1.1 cannot reach a service of this protocol, or nil when it can. gRPC
    /// needs trailers and full-duplex streams, which HTTP/1.1 cannot carry; h2c from HTTP/1.1 is
    /// not translated yet.
    static func refusalOverHTTP1(_ upstream: UpstreamProtocol, service: String) -> String? {
        switch upstream {
        case .http1: return nil
        case .grpc:
            return
                "service \(service) speaks gRPC (protocol: grpc), which needs HTTP/2: call it over HTTPS (the proxy's HTTPS port, ALPN h2) "
                + "or with HTTP/2 prior knowledge on this port (a plaintext gRPC channel)"
        case .h2c:
            return
                "service \(service) speaks HTTP/2 only (protocol: h2c): reach it over HTTPS with HTTP/2 (the proxy's HTTPS port, ALPN h2)"
        }
    }

    /// The relay takes the stream's place of the bridge and the proxy handler behind it.
    static func takeOver(_ context: ChannelHandlerContext, from bridge: HTTP2Bridge, relay: HTTP2Relay) {
        let operations = context.pipeline.syncOperations
        do {
            try operations.addHandler(relay, position: .after(bridge))
            operations.removeHandler(name: "proxy", promise: nil)
            operations.removeHandler(context: context, promise: nil)
        } catch {
            context.close(promise: nil)
        }
    }

    /// The request's fields as they go upstream: a client's own forwarding fields never pass (as on
    /// HTTP/1.1), the proxy's are added, and a stripped path prefix comes off `:path`.
    static func forwarded(_ headers: HPACKHeaders, client: String, authority: String, strip: PathPrefix?, secure: Bool = true)
        -> HPACKHeaders
    {
        var out = HPACKHeaders()
        out.reserveCapacity(headers.count + 6)
        for (name, value, indexing) in headers {
            switch name {
            case "forwarded", "x-forwarded-for", "x-forwarded-host", "x-forwarded-proto", "x-forwarded-prefix", "x-real-ip": continue
            case ":path" where strip != nil: out.add(name: name, value: strip!.stripped(value), indexing: indexing)
            default: out.add(name: name, value: value, indexing: indexing)
            }
        }
        out.add(name: "x-forwarded-for", value: client)
        out.add(name: "x-forwarded-proto", value: secure ? "https" : "http")
        out.add(name: "x-forwarded-host", value: authority)
        out.add(
            name: "forwarded",
            value: (client.contains(":") ? "for=\"[\(client)]\"" : "for=\(client)")
                + ";host=\"\(authority)\";proto=\(secure ? "https" : "http")")
        if let strip { out.add(name: "x-forwarded-prefix", value: strip.path) }
        return out
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        // Nothing is read from the client until there is somewhere to send it.
        context.channel.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in }
        connect()
    }

    // MARK: Client → upstream

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame {
        case .data, .headers:
            // After devhost's own answer, what the client still sends is read and dropped (its
            // END_STREAM closes the stream).
            guard machine.phase != .done else { return }
            guard let upstream else { return pending.append(frame) }
            upstream.write(frame, promise: nil)
            _ = machine.handle(.requestBodySent)
        default:
            break
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        upstream?.flush()
        if let upstream, !upstream.isWritable { context.channel.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in } }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        // The client took what was waiting: the upstream may send more.
        if context.channel.isWritable, let upstream {
            upstream.setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in }
            upstream.read()
        }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        perform(machine.handle(.clientGone))
        finish()
        // The stream's ProxyHandler counted it open and left before it could count it closed.
        shared.metrics.connectionClosed()
        self.context = nil
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // A client's reset arrives here before the stream goes inactive: that is where it is handled.
    }

    // MARK: Upstream

    private func connect() {
        guard let context else { return }
        if let endpoint = shared.instances.next(service, excluding: tried) { return open(endpoint, context: context) }
        let wait = tried.isEmpty ? shared.settings.waitForHealthy : .zero
        let (instances, name, tried) = (shared.instances, service, tried)
        let relay = NIOLoopBound(self, eventLoop: context.eventLoop)
        context.eventLoop.makeFutureWithTask { await instances.next(name, waitingUpTo: wait, excluding: tried) }
            .whenComplete { result in
                let this = relay.value
                guard let context = this.context else { return }
                if case .success(let endpoint?) = result { return this.open(endpoint, context: context) }
                this.perform(this.machine.handle(.noInstance))
            }
    }

    private func open(_ endpoint: RouteTable.Endpoint, context: ChannelHandlerContext) {
        instance = endpoint.instance
        let key = UpstreamPool.Key(host: endpoint.host, port: endpoint.port)
        let relay = NIOLoopBound(self, eventLoop: context.eventLoop)
        pool.stream(to: key, loop: context.eventLoop, connector: shared.connector) { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(HTTP2RelayUpstream(relay: relay))
            }
        }.whenComplete { result in
            let this = relay.value
            guard let context = this.context, this.machine.phase == .requesting else {
                if case .success(let channel) = result { channel.close(promise: nil) }
                return
            }
            switch result {
            case .success(let channel): this.send(over: channel, key: key, context: context)
            case .failure: this.perform(this.machine.handle(.connectFailed))
            }
        }
    }

    private func send(over channel: Channel, key: UpstreamPool.Key, context: ChannelHandlerContext) {
        upstream = channel
        resetCode = nil
        if let instance {
            shared.instances.began(service: service, instance: instance)
            counted = true
        }
        var fields = head
        if rewriteHost { fields.replaceOrAdd(name: ":authority", value: "\(key.host):\(key.port)") }
        channel.write(HTTP2Frame.FramePayload.headers(.init(headers: fields, endStream: headEndsStream)), promise: nil)
        for frame in pending { channel.write(frame, promise: nil) }
        if !pending.isEmpty { _ = machine.handle(.requestBodySent) }
        pending = []
        channel.flush()
        context.channel.setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in }
        context.read()
    }

    fileprivate func upstreamRead(_ frame: HTTP2Frame.FramePayload, from channel: Channel) {
        guard let context, channel === upstream else { return }
        switch frame {
        case .headers(let headers):
            perform(machine.handle(.responseHead(endStream: headers.endStream)))
            context.write(wrapOutboundOut(frame), promise: nil)
        case .data(let data):
            if data.endStream { perform(machine.handle(.responseEnded)) }
            context.write(wrapOutboundOut(frame), promise: nil)
        default:
            return
        }
        if machine.phase == .done { finish() }
        if !context.channel.isWritable { channel.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in } }
    }

    fileprivate func upstreamReadComplete() {
        context?.flush()
    }

    fileprivate func upstreamWritable(_ channel: Channel) {
        guard let context, channel === upstream, channel.isWritable else { return }
        context.channel.setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in }
        context.read()
    }

    fileprivate func upstreamReset(_ code: UInt32, from channel: Channel) {
        if channel === upstream { resetCode = code }
    }

    fileprivate func upstreamClosed(_ channel: Channel) {
        guard channel === upstream else { return }
        upstream = nil
        release()
        // The stream's last frames may still wait for the read completion that follows its close.
        context?.flush()
        perform(machine.handle(resetCode.map { .upstreamReset($0) } ?? .upstreamClosed))
    }

    // MARK: Actions

    private func perform(_ action: HTTP2RelayMachine.Action) {
        switch action {
        case .none:
            return
        case .retry(let suspend):
            if let instance {
                if suspend { shared.instances.suspend(service: service, instance: instance, for: .seconds(2)) }
                tried.insert(instance)
            }
            release()
            upstream = nil
            connect()
        case .answer(let failure):
            cancelUpstream()
            answer(failure)
        case .trailers(let failure):
            cancelUpstream()
            guard let context else { return }
            let fields = Self.statusFields(failure, service: service)
            context.writeAndFlush(wrapOutboundOut(.headers(.init(headers: fields, endStream: true))), promise: nil)
        case .resetClient:
            cancelUpstream()
            context?.writeAndFlush(wrapOutboundOut(.rstStream(.internalError)), promise: nil)
            context?.close(promise: nil)
        case .cancelUpstream:
            cancelUpstream()
        }
    }

    /// devhost's own answer before any of the upstream's: for a gRPC client a trailers-only
    /// response (HTTP 200, the status in `grpc-status`), as gRPC clients read failures.
    private func answer(_ failure: HTTP2RelayMachine.Failure) {
        guard let context else { return }
        pending = []
        // Reads were held while an instance was chosen; the rest of the request is read and dropped.
        context.channel.setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in }
        context.read()
        let message = "devhost: service \(service): \(failure.message)"
        if machine.grpc {
            var fields: HPACKHeaders = [":status": "200", "content-type": "application/grpc"]
            fields.add(contentsOf: Self.statusFields(failure, service: service))
            context.writeAndFlush(wrapOutboundOut(.headers(.init(headers: fields, endStream: true))), promise: nil)
            return
        }
        let body = ByteBuffer(string: message + "\n")
        let fields: HPACKHeaders = [
            ":status": String(failure.httpStatus), "content-type": "text/plain; charset=utf-8",
            "content-length": String(body.readableBytes),
        ]
        context.write(wrapOutboundOut(.headers(.init(headers: fields))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.data(.init(data: .byteBuffer(body), endStream: true))), promise: nil)
    }

    static func statusFields(_ failure: HTTP2RelayMachine.Failure, service: String) -> HPACKHeaders {
        ["grpc-status": String(failure.grpcStatus), "grpc-message": percentEncoded("devhost: service \(service): \(failure.message)")]
    }

    /// grpc-message is percent-encoded UTF-8 (gRPC over HTTP/2, "Responses").
    static func percentEncoded(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            if byte >= 0x20, byte < 0x7F, byte != UInt8(ascii: "%") {
                out.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                out += "%" + (byte < 16 ? "0" : "") + String(byte, radix: 16, uppercase: true)
            }
        }
        return out
    }

    private func cancelUpstream() {
        guard let channel = upstream else { return }
        upstream = nil
        release()
        // Closing an open stream resets it (CANCEL); one already ended just goes.
        channel.close(promise: nil)
    }

    private func finish() {
        release()
        if machine.phase == .done, let channel = upstream, !channel.isActive { upstream = nil }
    }

    private func release() {
        guard counted, let instance else { return }
        counted = false
        shared.instances.ended(service: service, instance: instance)
    }
}

/// A stream for an h2c or gRPC service leaves the bridge for the relay (`HTTP2Relay.takeOver`).
extension HTTP2Bridge: RemovableChannelHandler {}

/// The relay's end of a stream on an upstream connection: frames and their end go to the relay.
private final class HTTP2RelayUpstream: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame.FramePayload

    let relay: NIOLoopBound<HTTP2Relay>

    init(relay: NIOLoopBound<HTTP2Relay>) {
        self.relay = relay
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        relay.value.upstreamRead(unwrapInboundIn(data), from: context.channel)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        relay.value.upstreamReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        relay.value.upstreamWritable(context.channel)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if let closed = error as? NIOHTTP2Errors.StreamClosed {
            relay.value.upstreamReset(UInt32(closed.errorCode.networkCode), from: context.channel)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        relay.value.upstreamClosed(context.channel)
    }
}
