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
/// failure becomes is `HTTP2RelayMachine`'s call. Each stream is logged, counted and inspected
/// like an HTTP/1.1 exchange (`HTTP2Relay+Record.swift`) and faults apply to it
/// (`HTTP2Relay+Faults.swift`). Loop-confined, like the stream.
final class HTTP2Relay: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame.FramePayload
    typealias OutboundOut = HTTP2Frame.FramePayload

    let shared: ProxyContext
    private let pool: HTTP2UpstreamPool
    /// The loop's flush batch: the frames of every stream read or answered in one tick go to each
    /// socket in one write, as on the bridged path.
    private let flushes: FlushBatch
    let service: String
    private let rewriteHost: Bool
    private var head: HPACKHeaders
    var machine: HTTP2RelayMachine
    var context: ChannelHandlerContext?
    /// Client frames that came before the upstream stream was open.
    private var pending: [HTTP2Frame.FramePayload] = []
    var upstream: Channel?
    var instance: String?
    private var tried: Set<String> = []
    private var counted = false
    private var resetCode: UInt32?
    /// The client's HEADERS ended its request (a call with no message, a GET).
    private let headEndsStream: Bool
    /// The access log's lines of this loop (nil when it is off).
    let accessLines: AccessBatch?
    var record: HTTP2RelayRecord
    /// The fault applied to this stream (nil, the common case: no fault installed or none drawn).
    var fault: HTTP2RelayFault?

    private init(
        origin: HTTP2Origin, service: String, rewriteHost: Bool, head: HPACKHeaders, endStream: Bool, record: HTTP2RelayRecord
    ) {
        shared = origin.shared
        pool = origin.http2Upstreams
        flushes = origin.perLoop.flushes
        accessLines = origin.perLoop.accessLines
        self.service = service
        self.rewriteHost = rewriteHost
        self.head = head
        self.record = record
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
        let (host, found) = routes.lookup(hostHeader: authority)
        guard let hostRoutes = found else { return nil }
        let path = headers.first(name: ":path") ?? "/"
        let prefix = hostRoutes.prefixes.isEmpty ? nil : hostRoutes.match(target: path)
        guard case .service(let name, let rewrite)? = prefix?.target ?? hostRoutes.catchAll, routes.upstreamProtocol(of: name).isHTTP2
        else { return nil }
        var head = forwarded(
            headers, client: origin.clientIP, authority: authority, strip: prefix?.strip == true ? prefix : nil, secure: origin.secure)
        // A client's id that is not a plain token is replaced, as on HTTP/1.1: it goes into log lines.
        var requestID = head.first(name: "x-request-id") ?? ""
        if !isPlainRequestID(requestID) {
            var seed = origin.nextGenerator()
            requestID = RequestID(generated: seed.next()).string
            head.replaceOrAdd(name: "x-request-id", value: requestID)
        }
        var record = HTTP2RelayRecord(
            started: .now(), method: headers.first(name: ":method") ?? "", path: path, host: host, requestID: requestID)
        // Recorded when the inspector is on and the route is (the shared edge: its project asked).
        let inspected = prefix?.inspected ?? hostRoutes.inspected
        record.inspected = inspect(
            headers, record: record, label: name, ring: inspected ? origin.perLoop.inspection : nil, secure: origin.secure)
        let relay = HTTP2Relay(origin: origin, service: name, rewriteHost: rewrite, head: head, endStream: endStream, record: record)
        if !origin.shared.instances.faults.isEmpty { relay.fault = HTTP2RelayFault.decide(origin: origin, service: name, path: path) }
        return relay
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        // Nothing is read from the client until there is somewhere to send it.
        context.channel.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in }
        guard fault == nil else { return startFault(context) }
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
            noteRequest(frame)
            guard let upstream else { return pending.append(frame) }
            upstream.write(frame, promise: nil)
            _ = machine.handle(.requestBodySent)
        default:
            break
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if let upstream { flushes.flush(channel: upstream) }
        if let upstream, !upstream.isWritable { context.channel.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in } }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        // The client took what was waiting: the upstream may send more.
        if context.channel.isWritable, let upstream, !pacedHolding {
            upstream.setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in }
            upstream.read()
        }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        perform(machine.handle(.clientGone))
        finish()
        recordGone()
        // The stream's ProxyHandler counted it open and left before it could count it closed.
        shared.metrics.connectionClosed()
        self.context = nil
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // A client's reset arrives here before the stream goes inactive: that is where it is handled.
    }

    // MARK: Upstream

    func connect() {
        guard let context else { return }
        if let endpoint = shared.instances.next(service, excluding: tried) { return open(endpoint, context: context) }
        let wait = tried.isEmpty ? shared.settings.waitForHealthy : .zero
        shared.instances.next(service, waitingUpTo: wait, excluding: tried, on: context.eventLoop) { [self] endpoint in
            guard let context = self.context else { return }
            if let endpoint { return open(endpoint, context: context) }
            perform(machine.handle(.noInstance))
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
            case .failure:
                this.shared.metrics.upstreamError(route: this.service)
                this.perform(this.machine.handle(.connectFailed))
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
        record.inspected?.sentUpstream(at: .now(), instance: instance)
        for frame in pending { channel.write(frame, promise: nil) }
        if !pending.isEmpty { _ = machine.handle(.requestBodySent) }
        pending = []
        flushes.flush(channel: channel)
        context.channel.setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in }
        context.read()
    }

    func upstreamRead(_ frame: HTTP2Frame.FramePayload, from channel: Channel) {
        guard let context, channel === upstream else { return }
        if let fault, fault.pacer != nil { return pace(frame) }
        deliver(frame)
        if !context.channel.isWritable { channel.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in } }
    }

    /// A response frame goes to the client.
    func deliver(_ frame: HTTP2Frame.FramePayload) {
        guard let context else { return }
        switch frame {
        case .headers(var headers):
            // A 1xx head is followed by the response's own head (RFC 9113 §8.1): it neither
            // begins the response nor ends the stream, and the record waits for the final one.
            if machine.phase == .requesting, Self.isInterim(headers.headers) {
                perform(machine.handle(.interimHead))
                context.write(wrapOutboundOut(.headers(headers)), promise: nil)
                return
            }
            // Every response a fault touched names it, as on HTTP/1.1.
            if record.status == 0, let fault { headers.headers.add(name: "x-devhost-fault", value: fault.rule.id) }
            noteResponse(headers.headers)
            perform(machine.handle(.responseHead(endStream: headers.endStream)))
            context.write(wrapOutboundOut(.headers(headers)), promise: nil)
            if headers.endStream { recordEnd() }
        case .data(let data):
            if case .byteBuffer(let body) = data.data { noteResponse(body) }
            if data.endStream { perform(machine.handle(.responseEnded)) }
            context.write(wrapOutboundOut(frame), promise: nil)
            if data.endStream { recordEnd() }
        default:
            return
        }
        if machine.phase == .done { finish() }
    }

    func upstreamReadComplete() {
        if let context { flushes.flush(context) }
    }

    func upstreamWritable(_ channel: Channel) {
        guard let context, channel === upstream, channel.isWritable else { return }
        context.channel.setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in }
        context.read()
    }

    func upstreamReset(_ code: UInt32, from channel: Channel) {
        if channel === upstream { resetCode = code }
    }

    func upstreamClosed(_ channel: Channel) {
        guard channel === upstream else { return }
        // Frames held back by a bandwidth fault go first; the close is handled after them.
        if let fault, !fault.held.isEmpty {
            fault.closedWhileHeld = true
            return
        }
        upstream = nil
        release()
        // The stream's last frames may still wait for the read completion that follows its close.
        if let context { flushes.flush(context) }
        let action = machine.handle(resetCode.map { .upstreamReset($0) } ?? .upstreamClosed)
        if action != .none { shared.metrics.upstreamError(route: service) }
        perform(action)
    }

    // MARK: Actions

    func perform(_ action: HTTP2RelayMachine.Action) {
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
            noteResponse(fields)
            context.writeAndFlush(wrapOutboundOut(.headers(.init(headers: fields, endStream: true))), promise: nil)
            recordEnd()
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
            if let fault { fields.add(name: "x-devhost-fault", value: fault.rule.id) }
            noteLocalAnswer(fields, body: nil)
            context.writeAndFlush(wrapOutboundOut(.headers(.init(headers: fields, endStream: true))), promise: nil)
            return recordEnd()
        }
        let body = ByteBuffer(string: message + "\n")
        var fields: HPACKHeaders = [
            ":status": String(failure.httpStatus), "content-type": "text/plain; charset=utf-8",
            "content-length": String(body.readableBytes),
        ]
        if let fault { fields.add(name: "x-devhost-fault", value: fault.rule.id) }
        noteLocalAnswer(fields, body: body)
        record.bytes = body.readableBytes
        context.write(wrapOutboundOut(.headers(.init(headers: fields))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.data(.init(data: .byteBuffer(body), endStream: true))), promise: nil)
        recordEnd()
    }

    func cancelUpstream() {
        guard let channel = upstream else { return }
        upstream = nil
        release()
        // Closing an open stream resets it (CANCEL); one already ended just goes.
        channel.close(promise: nil)
    }

    func finish() {
        release()
        if machine.phase == .done, let channel = upstream, !channel.isActive { upstream = nil }
    }

    func release() {
        guard counted, let instance else { return }
        counted = false
        shared.instances.ended(service: service, instance: instance)
    }
}
