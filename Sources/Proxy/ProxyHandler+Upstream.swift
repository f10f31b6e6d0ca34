import NIOCore

/// The upstream side of a client connection: choosing the endpoint, sending the request over a
/// pooled or new connection, reading the response back, and what a failure or a close means
/// (decided by `ConnectionStateMachine`).
extension ProxyHandler {
    /// Picks the endpoint for the current request's route and sends the request there.
    func connect() {
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
            if shared.routes.hasHTTP2Upstreams {
                let upstream = shared.routes.upstreamProtocol(of: name)
                if let refusal = HTTP2Relay.refusalOverHTTP1(upstream, service: name) {
                    return writeSimple(.httpVersionNotSupported, message: refusal, close: false)
                }
                current.overHTTP2 = upstream == .h2c
            }
            if let endpoint = shared.instances.next(name, excluding: current.tried) {
                return use(key: UpstreamPool.Key(host: endpoint.host, port: endpoint.port), instance: endpoint.instance, context: context)
            }
            // Nothing healthy: a service that is starting or restarting just looks slow.
            let wait = current.tried.isEmpty ? shared.settings.waitForHealthy : .zero
            // The handler and the exchange are loop-confined; the callback runs on the same loop.
            shared.instances.next(name, waitingUpTo: wait, excluding: current.tried, on: context.eventLoop) { [self] endpoint in
                guard let context = self.context, exchange === current else { return }
                if let endpoint {
                    use(key: UpstreamPool.Key(host: endpoint.host, port: endpoint.port), instance: endpoint.instance, context: context)
                } else {
                    let about = shared.describe(name)
                    let (type, body) = ProxyPages.unavailable(
                        service: name, state: about.state, lines: about.lines, json: current.head.wantsJSON,
                        requestID: current.requestID.string)
                    respond(.serviceUnavailable, contentType: type, body: body)
                }
            }
        }
    }

    /// Sends the current request over an idle pooled connection to that endpoint, or a new one.
    func use(key: UpstreamPool.Key, instance: String?, context: ChannelHandlerContext) {
        guard let current = exchange else { return }
        current.endpoint = (key, instance)
        if let pooled = pool.take(key) {
            dropUpstream()
            upstream = pooled
            upstreamInbound = nil
            pooled.handler.proxy = self
            return send(over: pooled, reused: true)
        }
        open(key: key, instance: instance, context: context)
    }

    /// Opens a new connection to `key` (through the context's connector) and sends the current
    /// request over it.
    func open(key: UpstreamPool.Key, instance: String?, context: ChannelHandlerContext) {
        dropUpstream()
        machine.connecting()
        let pool = self.pool
        let attempt = NIOLoopBound(exchange, eventLoop: context.eventLoop)
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        let connected: EventLoopFuture<Channel>
        if exchange?.overHTTP2 == true {
            // An h2c service (`protocol: h2c`): the request goes on a stream of the loop's HTTP/2
            // connection to the instance (shared with the relayed HTTP/2 streams), behind an
            // `H2CTranslator` that makes the stream look like an HTTP/1.1 connection closing after
            // one response; everything else is this path's.
            connected = shared.perLoop(context.eventLoop).http2Upstreams.stream(
                to: key, loop: context.eventLoop, connector: shared.connector
            ) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let operations = channel.pipeline.syncOperations
                    try operations.addHandler(H2CTranslator())
                    try operations.addHandler(UpstreamHandler(pool: pool, key: key), name: "upstream")
                }
            }
        } else {
            connected = shared.connector(key, context.eventLoop) { channel in
                // One handler per channel: for a host name, NIO tries each address on a channel of
                // its own, and the attempts it abandons remove their handler later.
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(UpstreamHandler(pool: pool, key: key), name: "upstream")
                }
            }
        }
        connected.whenComplete { result in
            let (this, current) = (handler.value, attempt.value)
            guard let current, this.exchange === current else {
                if case .success(let channel) = result { channel.close(promise: nil) }
                return
            }
            switch result {
            case .success(let channel):
                guard let handler = try? channel.pipeline.syncOperations.handler(type: UpstreamHandler.self) else {
                    channel.close(promise: nil)
                    return this.upstreamFailed(instance: instance)
                }
                handler.proxy = this
                let connection = UpstreamConnection(channel: channel, key: key, instance: instance, handler: handler)
                this.upstream = connection
                this.send(over: connection, reused: false)
            case .failure:
                this.upstreamFailed(instance: instance)
            }
        }
    }

    func send(over connection: UpstreamConnection, reused: Bool) {
        guard let current = exchange else { return }
        let route = current.route
        current.instance = connection.instance
        prepare(&upstreamOut)
        ProxyHeaders.upstreamRequest(
            current.head, client: client, requestID: current.requestID,
            rewriteHost: route.rewriteHost ? (connection.key.host, connection.key.port) : nil, strip: route.strip, into: &upstreamOut)
        connection.handler.write(upstreamOut)
        current.inspected?.sentUpstream(at: now, instance: connection.instance)
        release(current)
        if route.isService, let instance = connection.instance {
            shared.instances.began(service: route.label, instance: instance)
            current.counted = (route.label, instance)
        }
        for body in current.pending { connection.handler.write(body) }
        machine.requestSent(reused: reused, bodyWritten: !current.pending.isEmpty, now: now)
        current.pending = []
        current.pendingBytes = 0
        // Inside a client read, channelReadComplete flushes once for the whole batch.
        if !inClientRead { connection.handler.flush() }
        // Body bytes held back while the connection was made go out now.
        process()
        resumeClientReads()
    }

    /// Connect failure or reset: what follows is the machine's call (again on a new connection,
    /// another instance, 502, or closing a response already under way). A failure that says
    /// something about the instance sets it aside for a moment (passive health).
    func upstreamFailed(instance: String?) {
        guard let current = exchange else { return }
        release(current)
        upstream = nil
        upstreamInbound = nil
        let idempotent = ["GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"].contains(current.head.methodString)
        let decision = machine.upstreamFailed(idempotent: idempotent, toService: current.route.isService)
        let suspend: Bool
        switch decision {
        case .reconnect:
            guard let endpoint = current.endpoint, let context else { return }
            return open(key: endpoint.key, instance: endpoint.instance, context: context)
        case .tryAnotherInstance(let s), .badGateway(let s), .closeClient(let s):
            suspend = s
        }
        shared.metrics.upstreamError(route: current.routeLabel)
        if suspend, let instance, case .service(let name, _)? = current.target {
            shared.instances.suspend(service: name, instance: instance, for: .seconds(2))
        }
        switch decision {
        case .reconnect:
            return
        case .closeClient:
            context?.close(promise: nil)
        case .tryAnotherInstance:
            current.tried.insert(instance ?? "")
            connect()
        case .badGateway:
            writeSimple(.badGateway, message: "the upstream closed the connection", close: false)
        }
    }

    // MARK: UpstreamDelegate

    func isCurrent(_ handler: UpstreamHandler) -> Bool { upstream?.handler === handler }

    func upstreamWritable() {
        resumeClientReads()
    }

    func upstreamReadComplete() {
        if let context, let flushes { flushes.flush(context) }
    }

    /// The upstream closed: the end of a response without a length, a failed attempt, or (an idle
    /// connection) nothing to report.
    func upstreamClosed(_ handler: UpstreamHandler) {
        guard isCurrent(handler), !closeWaitsForPacing() else { return }
        switch machine.upstreamClosed() {
        case .forget:
            upstream = nil
            upstreamInbound = nil
        case .responseEnded:
            upstream = nil
            if let current = exchange { complete(current, leftover: nil) }
        case .failed:
            upstreamFailed(instance: upstream?.instance)
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
        machine.upstreamSpoke()
        var buffer = data
        if var earlier = upstreamInbound {
            upstreamInbound = nil
            earlier.writeBuffer(&buffer)
            buffer = earlier
        }
        while buffer.readableBytes > 0 {
            if machine.responseStarted {
                if current.pacer != nil, holdBack(&buffer, current, handler) { return }
                guard let body = current.responseBody.take(from: &buffer) else { return abandonResponse(context) }
                if let body {
                    current.bytes += body.readableBytes
                    current.inspected?.responseBytes(body)
                    context.write(wrapOutboundOut(body), promise: nil)
                    if !context.channel.isWritable { handler.pauseReading() }
                }
                if current.responseBody.isDone { return complete(current, leftover: buffer) }
                continue
            }
            switch HTTPHead.parse(&buffer, into: &responseHead, isRequest: false, maxHead: Self.maxResponseHead, maxTarget: 0) {
            case .incomplete:
                upstreamInbound = buffer
                return
            case .failed:
                dropUpstream()
                return writeSimple(.badGateway, message: "the upstream sent a malformed response", close: false)
            case .complete:
                if startResponse(current, &buffer, context: context) { return }
            }
        }
    }

    /// A response head arrived (in `responseHead`, with what followed it in `buffer`). Returns
    /// true when the exchange is over or the connection changed hands (nothing more to read here).
    private func startResponse(_ current: ProxyExchange, _ buffer: inout ByteBuffer, context: ChannelHandlerContext) -> Bool {
        let head = responseHead
        let request = current.head
        let framing = head.status >= 200 ? BodyFraming.response(head, toHEAD: current.isHEAD) : .none
        var untilClose = false
        var chunked = false
        switch framing {
        case .untilClose: untilClose = true
        case .chunked: chunked = true
        default: break
        }
        let decision = machine.responseHead(
            status: head.status, upgradeAccepted: head.status == 101 && request.isUpgrade, clientMinor: request.minor,
            clientKeepAlive: head.status >= 200 && request.keepAlive, upstreamKeepAlive: head.keepAlive, untilClose: untilClose,
            chunked: chunked)
        switch decision {
        case .relay:
            current.status = 101
            current.inspected?.responded(head: head.bytes, chunked: false, status: 101)
            var out = allocator.buffer(capacity: 0)
            ProxyHeaders.downstreamResponse(head, clientMinor: request.minor, requestID: current.requestID, closing: false, into: &out)
            context.write(wrapOutboundOut(out), promise: nil)
            if buffer.readableBytes > 0 { context.write(wrapOutboundOut(buffer), promise: nil) }
            context.flush()
            switchToRelay()
            return true
        case .forwardInterim:
            // Interim answers (100 Continue, 103 Early Hints) go to HTTP/1.1 clients as they come.
            var out = allocator.buffer(capacity: 0)
            ProxyHeaders.downstreamResponse(head, clientMinor: 1, requestID: current.requestID, closing: false, into: &out)
            context.write(wrapOutboundOut(out), promise: nil)
            return false
        case .dropInterim:
            return false
        case .begin(let closing, let dechunk):
            current.status = head.status
            current.responseBody = framing
            if dechunk, case .chunked(let scanner) = framing { current.responseBody = .dechunked(scanner) }
            current.inspected?.responded(head: head.bytes, chunked: chunked && !dechunk, status: head.status)
            prepare(&clientOut)
            ProxyHeaders.downstreamResponse(
                head, clientMinor: request.minor, requestID: current.requestID, closing: closing, dechunk: dechunk,
                fault: current.fault?.id,
                into: &clientOut)
            // A small body that came with the head leaves in the same write.
            if !current.responseBody.isDone, buffer.readableBytes > 0, buffer.readableBytes <= 16 * 1024 {
                guard let body = current.responseBody.take(from: &buffer) else {
                    abandonResponse(context)
                    return true
                }
                if var body {
                    current.bytes += body.readableBytes
                    current.inspected?.responseBytes(body)
                    clientOut.writeBuffer(&body)
                }
            }
            context.write(wrapOutboundOut(clientOut), promise: nil)
            if current.responseBody.isDone {
                complete(current, leftover: buffer)
                return true
            }
            return false
        }
    }

    /// The response's last byte went to the client: the upstream connection goes back to the pool
    /// or closes, and the client connection serves the next request or closes.
    func complete(_ current: ProxyExchange, leftover: ByteBuffer?) {
        guard let context else { return }
        release(current)
        exchange = nil
        let finished = finish(current)
        let completion = machine.responseEnded(leftover: (leftover?.readableBytes ?? 0) > 0, now: finished)
        if completion.closeClient {
            closeAfterWrites(allocator.buffer(capacity: 0), clientStillSending: completion.clientStillSending)
        } else {
            // Flushed here: the upstream connection's read completion no longer reaches this
            // client once it is back in the pool (or closed).
            flushes?.flush(context)
        }
        if let connection = upstream {
            upstream = nil
            upstreamInbound = nil
            if completion.poolUpstream {
                connection.handler.proxy = nil
                connection.handler.resumeReading()
                pool.put(connection)
            } else {
                connection.channel.close(promise: nil)
            }
        }
        if !completion.closeClient {
            process()
            resumeClientReads()
        }
    }

    /// Lets go of the upstream connection in use and closes it. Taken out before it is closed:
    /// closing on the event loop reports the close at once (`upstreamClosed`), which must find it
    /// no longer current, or it would count as a failure of the request and start a retry.
    func dropUpstream() {
        guard let connection = upstream else { return }
        upstream = nil
        upstreamInbound = nil
        connection.handler.proxy = nil
        connection.channel.close(promise: nil)
    }

    /// A response that cannot be finished correctly (its framing, or its request's, broke mid-way):
    /// both connections close.
    func abandonResponse(_ context: ChannelHandlerContext) {
        dropUpstream()
        machine.closed()
        context.close(promise: nil)
    }

    /// After a 101, both connections become one byte pipe until either side closes.
    func switchToRelay() {
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
            stopTicking()
            exchange = nil
            machine.relayStarted()
            self.upstream = nil
            context.pipeline.syncOperations.removeHandler(self, promise: nil)
            context.channel.read()
            upstream.channel.read()
        } catch {
            machine.closed()
            context.close(promise: nil)
            upstream.channel.close(promise: nil)
        }
    }
}
