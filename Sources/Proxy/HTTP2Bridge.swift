import NIOCore
import NIOHTTP1
import NIOHTTP2

/// One HTTP/2 stream in front of a `ProxyHandler`: the stream's request (from
/// `HTTP2FramePayloadToHTTP1ServerCodec`) goes to the proxy handler as HTTP/1.1 bytes, and the
/// HTTP/1.1 response bytes it writes come back as response parts, so every behaviour of the proxy
/// (routing, retries, limits, forwarded headers, the wait page) holds over HTTP/2 unchanged.
///
/// The response is read with the proxy's own `HTTPHead` and `BodyFraming`: chunked framing is
/// taken off (HTTP/2 frames the data itself), hop-by-hop fields are dropped, and a body that ends
/// with the connection ends the stream. Body bytes go on as they arrive, so streaming and
/// server-sent events are not held back. Loop-confined, like the handler behind it.
final class HTTP2Bridge: ChannelDuplexHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = HTTPServerResponsePart

    /// NIO's defaults (100 concurrent streams a connection, 16 KiB frames, 64 KiB windows). No
    /// RFC 8441 extended CONNECT: WebSocket over TLS goes through HTTP/1.1 (clients fall back).
    static let connectionConfiguration = NIOHTTP2Handler.ConnectionConfiguration()
    static let streamConfiguration = NIOHTTP2Handler.StreamConfiguration()

    private enum Request {
        case head
        /// The codec added `transfer-encoding: chunked` (no length, more frames to come): each DATA
        /// frame becomes a chunk.
        case chunked
        /// A `content-length` (checked against the DATA frames by NIOHTTP2): the bytes as they are.
        case length
        /// Neither: a body here would read as a second request on this stream, so the stream is reset.
        case noBody
        case done
    }

    private enum Response {
        case head
        case body(BodyFraming)
        case done
    }

    private var request = Request.head
    private var response = Response.head
    private var requestIsHEAD = false
    private var responseHead = HTTPHead(bytes: ByteBuffer())
    /// Response bytes of a head not complete yet.
    private var pending: ByteBuffer?

    // MARK: Request: parts in, HTTP/1.1 bytes out

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            guard case .head = request else { return context.close(promise: nil) }
            requestIsHEAD = head.method == .HEAD
            var out = context.channel.allocator.buffer(capacity: 256)
            out.writeString(head.method.rawValue)
            out.writeStaticString(" ")
            out.writeString(head.uri)
            out.writeStaticString(" HTTP/1.1\r\n")
            var cookies: [String] = []
            var chunked = false
            var length = false
            for (name, value) in head.headers {
                // RFC 9113 §8.2.3: cookie crumbs are joined into one field for HTTP/1.1.
                if name == "cookie" {
                    cookies.append(value)
                    continue
                }
                if name == "transfer-encoding" { chunked = true }
                if name == "content-length" { length = true }
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
            out.writeStaticString("\r\n")
            request = chunked ? .chunked : length ? .length : .noBody
            context.fireChannelRead(wrapInboundOut(out))
        case .body(let body):
            switch request {
            case .length:
                context.fireChannelRead(wrapInboundOut(body))
            case .chunked:
                guard body.readableBytes > 0 else { return }
                var out = context.channel.allocator.buffer(capacity: body.readableBytes + 12)
                out.writeString(String(body.readableBytes, radix: 16))
                out.writeStaticString("\r\n")
                out.writeImmutableBuffer(body)
                out.writeStaticString("\r\n")
                context.fireChannelRead(wrapInboundOut(out))
            case .noBody:
                if body.readableBytes > 0 { context.close(promise: nil) }
            case .head, .done:
                context.close(promise: nil)
            }
        case .end(let trailers):
            if case .chunked = request {
                var out = context.channel.allocator.buffer(capacity: 5)
                out.writeStaticString("0\r\n")
                for (name, value) in trailers ?? HTTPHeaders() {
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
    }

    // MARK: Response: HTTP/1.1 bytes in, parts out

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        var buffer = unwrapOutboundIn(data)
        if var earlier = pending {
            pending = nil
            earlier.writeBuffer(&buffer)
            buffer = earlier
        }
        // The caller's promise goes with the last part this write produces: it completes when that
        // part has gone out (ProxyHandler closes after its last bytes are written).
        var last: HTTPServerResponsePart?
        func emit(_ part: HTTPServerResponsePart) {
            if let last { context.write(wrapOutboundOut(last), promise: nil) }
            last = part
        }
        while buffer.readableBytes > 0 {
            switch response {
            case .done:
                buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
            case .head:
                switch HTTPHead.parse(
                    &buffer, into: &responseHead, isRequest: false, maxHead: ProxyHandler.maxResponseHead * 2, maxTarget: 0)
                {
                case .incomplete:
                    pending = buffer
                    buffer = ByteBuffer()
                case .failed:
                    // The handler writes only heads it parsed itself: this is a bug, not input.
                    if let last { context.write(wrapOutboundOut(last), promise: nil) }
                    promise?.fail(ChannelError.ioOnClosedChannel)
                    return context.close(promise: nil)
                case .complete:
                    let status = responseHead.status
                    // 101 has no place in HTTP/2 (no upgrades here); other interim answers pass.
                    if status == 101 { continue }
                    emit(.head(HTTPResponseHead(version: .http1_1, status: .init(statusCode: status), headers: responseFields())))
                    if status < 200 { continue }
                    var framing = BodyFraming.response(responseHead, toHEAD: requestIsHEAD)
                    if case .chunked(let scanner) = framing { framing = .dechunked(scanner) }
                    if framing.isDone {
                        emit(.end(nil))
                        response = .done
                    } else {
                        response = .body(framing)
                    }
                }
            case .body(var framing):
                guard let piece = framing.take(from: &buffer) else {
                    if let last { context.write(wrapOutboundOut(last), promise: nil) }
                    promise?.fail(ChannelError.ioOnClosedChannel)
                    return context.close(promise: nil)
                }
                if let piece, piece.readableBytes > 0 { emit(.body(.byteBuffer(piece))) }
                if framing.isDone {
                    emit(.end(nil))
                    response = .done
                } else {
                    response = .body(framing)
                }
            }
        }
        if let last {
            context.write(wrapOutboundOut(last), promise: promise)
        } else {
            promise?.succeed()
        }
    }

    /// The response's fields for HTTP/2: connection-specific ones go (RFC 9113 §8.2.2); the codec
    /// lower-cases the names.
    private func responseFields() -> HTTPHeaders {
        var headers = HTTPHeaders()
        headers.reserveCapacity(responseHead.fields.count)
        for field in responseHead.fields {
            switch field.kind {
            case .connection, .keepAlive, .transferEncoding, .upgrade, .te, .trailer, .proxyConnection, .connectionToken:
                continue
            default:
                headers.add(name: responseHead.string(field.name), value: responseHead.string(field.value))
            }
        }
        return headers
    }

    /// The proxy handler closes a client connection to end a body that has no length, to cut off
    /// a truncated one, and after its last answer. On a stream the first is END_STREAM, sent before
    /// the stream closes (and only once it has gone out: data still waiting for flow-control
    /// window would be dropped by the reset); the others reset the stream if it is still open.
    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        if case .body(.untilClose) = response {
            response = .done
            let ended = context.eventLoop.makePromise(of: Void.self)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: ended)
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
