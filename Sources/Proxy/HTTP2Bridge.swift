import NIOCore
import NIOHPACK
import NIOHTTP2

/// One HTTP/2 stream in front of a `ProxyHandler`: the stream's frames go to the proxy handler as
/// an HTTP/1.1 request in bytes, and the HTTP/1.1 response bytes it writes come back as frames, so
/// every behaviour of the proxy (routing, retries, limits, forwarded headers, the wait page) holds
/// over HTTP/2 unchanged. Frames are read and written here directly, with no HTTP/1 parts between.
///
/// The response is read with the proxy's own `HTTPHead` and `BodyFraming`: chunked framing is
/// taken off (HTTP/2 frames the data itself), hop-by-hop fields are dropped, END_STREAM rides on the
/// head or the last DATA frame, and a body that ends with the connection ends the stream. Body bytes
/// go on as they arrive, so streaming and server-sent events are not held back. Loop-confined, like
/// the handler behind it.
final class HTTP2Bridge: ChannelDuplexHandler {
    typealias InboundIn = HTTP2Frame.FramePayload
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = HTTP2Frame.FramePayload

    /// NIO's defaults (100 concurrent streams a connection, 16 KiB frames, 64 KiB windows).
    static let connectionConfiguration = NIOHTTP2Handler.ConnectionConfiguration()
    /// The listener's side adds SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441), so a browser opens a
    /// WebSocket as a stream of the connection it already has instead of a connection of its own.
    /// Header lists keep HPACK's default limit (16 KiB, below the proxy's own head limit): NIOHTTP2
    /// applies a larger one only once the client has acknowledged it, after its first requests.
    static let serverConnectionConfiguration: NIOHTTP2Handler.ConnectionConfiguration = {
        var configuration = connectionConfiguration
        configuration.initialSettings.append(HTTP2Setting(parameter: .enableConnectProtocol, value: 1))
        return configuration
    }()
    static let streamConfiguration = NIOHTTP2Handler.StreamConfiguration()
    /// The proxy's connections to h2c and gRPC services. When clients go away the proxy resets
    /// their calls' streams, as many at once as were in flight, and the service's answers already
    /// on their way arrive after the resets (RFC 9113 §5.4.2). NIOHTTP2 ignores such frames only
    /// for the last `maximumRecentlyResetStreams` resets (32 by default) and takes any older one as
    /// a connection error, which would end every call on the connection: it remembers as many as
    /// a burst can hold (16 KiB of stream ids per connection).
    static let upstreamConnectionConfiguration: NIOHTTP2Handler.ConnectionConfiguration = {
        var configuration = connectionConfiguration
        configuration.maximumRecentlyResetStreams = 4096
        return configuration
    }()

    enum Request {
        case head
        /// No length and more frames to come: each DATA frame becomes a chunk.
        case chunked
        /// A `content-length` (checked against the DATA frames by NIOHTTP2): the bytes as they are.
        case length
        /// A method without a body and no length: a body here would read as a second request on
        /// this stream, so the stream is reset.
        case noBody
        /// An extended CONNECT (RFC 8441): DATA frames are the WebSocket's bytes, passed as they are.
        case tunnel
        case done
    }

    private enum Response {
        case head
        case body(BodyFraming)
        /// The upstream switched protocols for an extended CONNECT: its bytes go out as DATA.
        case tunnel
        case done
    }

    /// Where the stream came from: a request for an h2c or gRPC service leaves the bridge for an
    /// `HTTP2Relay` (nil in tests of the bridge alone).
    private let origin: HTTP2Origin?
    var request = Request.head
    private var response = Response.head
    private var requestIsHEAD = false
    /// The stream is an RFC 8441 WebSocket: the upstream's 101 becomes this stream's 200.
    var extendedConnect = false
    private var responseHead = HTTPHead(bytes: ByteBuffer())
    /// Response bytes of a head not complete yet.
    private var pending: ByteBuffer?

    init(origin: HTTP2Origin? = nil) {
        self.origin = origin
    }

    // MARK: Request: frames in, HTTP/1.1 bytes out

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .headers(let headers):
            if case .head = request {
                if let origin, let relay = HTTP2Relay.claim(headers.headers, endStream: headers.endStream, origin: origin) {
                    return HTTP2Relay.takeOver(context, from: self, relay: relay)
                }
                guard let head = requestBytes(headers.headers, endStream: headers.endStream, allocator: context.channel.allocator) else {
                    return context.close(promise: nil)
                }
                context.fireChannelRead(wrapInboundOut(head))
            } else if headers.endStream {
                end(context, trailers: headers.headers)
            } else {
                context.close(promise: nil)
            }
        case .data(let frame):
            guard case .byteBuffer(let body) = frame.data else { return context.close(promise: nil) }
            switch request {
            case .length:
                if body.readableBytes > 0 { context.fireChannelRead(wrapInboundOut(body)) }
            case .tunnel:
                if body.readableBytes > 0 { context.fireChannelRead(wrapInboundOut(body)) }
                // The client is done sending: the upstream's side is shut for writing, as a
                // half-closed HTTP/1.1 WebSocket would be.
                if frame.endStream { context.fireUserInboundEventTriggered(ChannelEvent.inputClosed) }
                return
            case .chunked:
                if body.readableBytes > 0 {
                    var out = context.channel.allocator.buffer(capacity: body.readableBytes + 12)
                    out.writeString(String(body.readableBytes, radix: 16))
                    out.writeStaticString("\r\n")
                    out.writeImmutableBuffer(body)
                    out.writeStaticString("\r\n")
                    context.fireChannelRead(wrapInboundOut(out))
                }
            case .noBody:
                if body.readableBytes > 0 { return context.close(promise: nil) }
            case .head, .done:
                return context.close(promise: nil)
            }
            if frame.endStream { end(context, trailers: nil) }
        default:
            // Window updates, priority, resets: NIOHTTP2 handles them on the stream.
            break
        }
    }

    /// The request's head as HTTP/1.1 bytes, or nil when it cannot be one (the stream is reset).
    /// NIOHTTP2 has checked the block (pseudo-fields first, lower-case names, no connection-specific
    /// fields, no CR, LF or NUL in values); the proxy handler parses the bytes strictly again.
    private func requestBytes(_ headers: HPACKHeaders, endStream: Bool, allocator: ByteBufferAllocator) -> ByteBuffer? {
        var method: String?
        var path: String?
        var authority: String?
        var connectProtocol: String?
        var hasHost = false
        var length = false
        for (name, value, _) in headers {
            guard name.utf8.first == UInt8(ascii: ":") else {
                if name == "host" { hasHost = true }
                if name == "content-length" { length = true }
                // HTTP/2 has no transfer codings (RFC 9113 §8.2.2): a client sending one is broken.
                if name == "transfer-encoding" { return nil }
                continue
            }
            switch name {
            case ":method": method = value
            case ":path": path = value
            case ":authority": authority = value
            case ":protocol": connectProtocol = value
            default: break
            }
        }
        if let connectProtocol {
            // NIOHTTP2 accepts `:protocol` only on a CONNECT, after this side offered it.
            return tunnelRequest(
                headers, protocol: connectProtocol, path: path, authority: authority, endStream: endStream, allocator: allocator)
        }
        guard let method, let path, Self.isVisible(method), Self.isVisible(path) else { return nil }
        requestIsHEAD = method == "HEAD"
        var out = allocator.buffer(capacity: 256)
        out.writeString(method)
        out.writeStaticString(" ")
        out.writeString(path)
        out.writeStaticString(" HTTP/1.1\r\n")
        if !hasHost, let authority {
            out.writeStaticString("host: ")
            out.writeString(authority)
            out.writeStaticString("\r\n")
        }
        Self.writeFields(headers, into: &out)
        if endStream {
            request = .done
            // As NIOHTTP2's own HTTP/1 translation does: a method that carries a body says it has none.
            if !length, !Self.bodiless(method) { out.writeStaticString("content-length: 0\r\n") }
        } else if length {
            request = .length
        } else if Self.bodiless(method) {
            request = .noBody
        } else {
            request = .chunked
            out.writeStaticString("transfer-encoding: chunked\r\n")
        }
        out.writeStaticString("\r\n")
        return out
    }

    /// A request's regular fields as HTTP/1.1 lines, cookie crumbs joined into one field (RFC 9113
    /// §8.2.3: HTTP/1.1 has one `Cookie` line); `skip` leaves names out.
    static func writeFields(_ headers: HPACKHeaders, into out: inout ByteBuffer, skip: (String) -> Bool = { _ in false }) {
        var cookies: [String] = []
        for (name, value, _) in headers where name.utf8.first != UInt8(ascii: ":") && !skip(name) {
            if name == "cookie" {
                cookies.append(value)
                continue
            }
            out.writeString(name)
            out.writeStaticString(": ")
            out.writeString(value)
            out.writeStaticString("\r\n")
        }
        if !cookies.isEmpty {
            out.writeStaticString("cookie: ")
            out.writeString(cookies.joined(separator: "; "))
            out.writeStaticString("\r\n")
        }
    }

    private static func bodiless(_ method: String) -> Bool {
        switch method {
        case "GET", "HEAD", "DELETE", "CONNECT", "TRACE": true
        default: false
        }
    }

    /// Method and path go into the request line as they are: visible ASCII only.
    static func isVisible(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F }
    }

    private func end(_ context: ChannelHandlerContext, trailers: HPACKHeaders?) {
        if case .chunked = request {
            var out = context.channel.allocator.buffer(capacity: 5)
            out.writeStaticString("0\r\n")
            for (name, value, _) in trailers ?? HPACKHeaders() where name.utf8.first != UInt8(ascii: ":") {
                out.writeString(name)
                out.writeStaticString(": ")
                out.writeString(value)
                out.writeStaticString("\r\n")
            }
            out.writeStaticString("\r\n")
            context.fireChannelRead(wrapInboundOut(out))
        }
        request = .done
    }

    // MARK: Response: HTTP/1.1 bytes in, frames out

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        var buffer = unwrapOutboundIn(data)
        if var earlier = pending {
            pending = nil
            earlier.writeBuffer(&buffer)
            buffer = earlier
        }
        var frames = HTTP2FrameWrite(context, promise: promise)
        while buffer.readableBytes > 0 {
            switch response {
            case .done:
                buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
            case .tunnel:
                frames.emit(.data(.init(data: .byteBuffer(buffer))))
                buffer = ByteBuffer()
            case .head:
                switch HTTPHead.parse(
                    &buffer, into: &responseHead, isRequest: false, maxHead: ProxyHandler.maxResponseHead * 2, maxTarget: 0)
                {
                case .incomplete:
                    pending = buffer
                    buffer = ByteBuffer()
                case .failed:
                    return frames.fail()
                case .complete:
                    let status = responseHead.status
                    if status == 101 {
                        // The upstream took the WebSocket: the extended CONNECT succeeded (RFC 8441
                        // §5: a 200, and from here DATA both ways). 101 has no other place in HTTP/2.
                        guard extendedConnect else { continue }
                        frames.emit(.headers(.init(headers: responseFields(status: 200))))
                        response = .tunnel
                        continue
                    }
                    if status < 200 {
                        frames.emit(.headers(.init(headers: responseFields())))
                        continue
                    }
                    var framing = BodyFraming.response(responseHead, toHEAD: requestIsHEAD)
                    if case .chunked(let scanner) = framing { framing = .dechunked(scanner) }
                    frames.emit(.headers(.init(headers: responseFields(), endStream: framing.isDone)))
                    response = framing.isDone ? .done : .body(framing)
                }
            case .body(var framing):
                guard frames.emitBody(&framing, from: &buffer) else { return frames.fail() }
                response = framing.isDone ? .done : .body(framing)
            }
        }
        frames.finish()
    }

    /// The response's fields for HTTP/2: `:status` first, names in lower case, connection-specific
    /// fields left out (RFC 9113 §8.2.2).
    private func responseFields(status: Int? = nil) -> HPACKHeaders {
        var headers = HPACKHeaders()
        headers.reserveCapacity(responseHead.fields.count + 1)
        headers.add(name: ":status", value: String(status ?? responseHead.status))
        for field in responseHead.fields {
            switch field.kind {
            case .connection, .keepAlive, .transferEncoding, .upgrade, .te, .trailer, .proxyConnection, .connectionToken:
                continue
            case .xRequestID:
                // New on every response: in HPACK's dynamic table it would only push out the fields
                // that repeat, and lengthen the encoder's search for every other field.
                headers.add(name: "x-request-id", value: responseHead.string(field.value), indexing: .nonIndexable)
            default:
                let name = responseHead.lowercasedString(field.name)
                // The accept value answers the proxy's key, not anything the stream's client sent.
                if extendedConnect, name == "sec-websocket-accept" { continue }
                headers.add(name: name, value: responseHead.string(field.value))
            }
        }
        return headers
    }

    /// The proxy handler closes a client connection to end a body that has no length, to cut off
    /// a truncated one, and after its last answer. On a stream the first is END_STREAM, sent before
    /// the stream closes (and only once it has gone out: data still waiting for flow-control
    /// window would be dropped by the reset); the others reset the stream if it is still open.
    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        var endsWithClose = false
        switch response {
        case .body(.untilClose), .tunnel: endsWithClose = true
        default: break
        }
        if endsWithClose {
            response = .done
            let ended = context.eventLoop.makePromise(of: Void.self)
            context.writeAndFlush(wrapOutboundOut(.data(.init(data: .byteBuffer(ByteBuffer()), endStream: true))), promise: ended)
            if mode == .output {
                ended.futureResult.cascade(to: promise)
                return
            }
            let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
            ended.futureResult.whenComplete { _ in bound.value.close(mode: .all, promise: promise) }
            return
        }
        if mode == .output, case .done = response {
            // The answer is complete and its END_STREAM is on its way: nothing more to shut.
            promise?.succeed()
            return
        }
        context.close(mode: .all, promise: promise)
    }
}
