import NIOCore
import NIOHPACK
import NIOHTTP1
import NIOHTTP2

/// An HTTP/2 stream to an h2c service, seen by `ProxyHandler` as an HTTP/1.1 connection that
/// closes after one response: so a request from an HTTP/1.1 client reaches a service that speaks
/// only HTTP/2 with every behaviour of the proxy (routing, retries, limits, forwarded fields, the
/// access log, the inspector, faults) unchanged. The mirror of `HTTP2Bridge`: the request's
/// HTTP/1.1 bytes (as `ProxyHeaders.upstreamRequest` wrote them) become HEADERS and DATA frames,
/// the response's frames become HTTP/1.1 bytes, its body chunked unless it has a length, its
/// trailers in the last chunk. Body bytes go on as they come. Loop-confined, like the stream.
final class H2CTranslator: ChannelDuplexHandler {
    typealias InboundIn = HTTP2Frame.FramePayload
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = HTTP2Frame.FramePayload

    private enum Request {
        case head
        case body(BodyFraming)
        case done
    }

    private enum Response {
        case head
        /// The body as it comes (a length, or no body), or in chunks.
        case body(chunked: Bool)
        case done
    }

    private var request = Request.head
    private var response = Response.head
    private var head = HTTPHead(bytes: ByteBuffer())
    private var requestIsHEAD = false
    /// Request bytes of a head not complete yet.
    private var pending: ByteBuffer?

    // MARK: Request: HTTP/1.1 bytes out, frames on

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        var buffer = unwrapOutboundIn(data)
        if var earlier = pending {
            pending = nil
            earlier.writeBuffer(&buffer)
            buffer = earlier
        }
        var frames = HTTP2FrameWrite(context, promise: promise)
        while buffer.readableBytes > 0 {
            switch request {
            case .done:
                buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
            case .head:
                switch HTTPHead.parse(&buffer, into: &head, isRequest: true, maxHead: 1 << 20, maxTarget: 1 << 20) {
                case .incomplete:
                    pending = buffer
                    buffer = ByteBuffer()
                case .failed:
                    return frames.fail()
                case .complete:
                    guard var framing = BodyFraming.request(head) else { return frames.fail() }
                    if case .chunked(let scanner) = framing { framing = .dechunked(scanner) }
                    requestIsHEAD = head.methodIs("HEAD")
                    frames.emit(.headers(.init(headers: Self.requestFields(head), endStream: framing.isDone)))
                    request = framing.isDone ? .done : .body(framing)
                }
            case .body(var framing):
                guard frames.emitBody(&framing, from: &buffer) else { return frames.fail() }
                request = framing.isDone ? .done : .body(framing)
            }
        }
        frames.finish()
    }

    /// The request's fields for HTTP/2 (RFC 9113 §8.3.1): the pseudo-fields from the request line
    /// and `Host`, then the rest with connection-specific fields left out (§8.2.2), names in lower
    /// case.
    static func requestFields(_ head: HTTPHead) -> HPACKHeaders {
        var fields = HPACKHeaders()
        fields.reserveCapacity(head.fields.count + 4)
        fields.add(name: ":method", value: head.methodString)
        fields.add(name: ":scheme", value: "http")
        fields.add(name: ":authority", value: head.host.map { head.string($0) } ?? "localhost")
        fields.add(name: ":path", value: head.targetString)
        // The proxy passes trailers on (the last chunk of its chunked answer), and gRPC servers
        // refuse a call without this (the HTTP/1.1 `TE` is hop-by-hop and never reaches here).
        fields.add(name: "te", value: "trailers")
        for field in head.fields {
            switch field.kind {
            case .host, .connection, .keepAlive, .transferEncoding, .upgrade, .proxyConnection, .connectionToken, .trailer, .te:
                continue
            default:
                fields.add(name: head.lowercasedString(field.name), value: head.string(field.value))
            }
        }
        return fields
    }

    // MARK: Response: frames in, HTTP/1.1 bytes up

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let allocator = context.channel.allocator
        switch unwrapInboundIn(data) {
        case .headers(let frame):
            switch response {
            case .head:
                let status = frame.headers.first(name: ":status").flatMap { Int($0) } ?? 0
                guard status >= 100, status < 1000 else { return context.close(promise: nil) }
                var out = allocator.buffer(capacity: 256)
                out.writeString("HTTP/1.1 \(status) \(HTTPResponseStatus(statusCode: status).reasonPhrase)\r\n")
                var length = false
                for (name, value, _) in frame.headers where name.utf8.first != UInt8(ascii: ":") {
                    if name == "content-length" { length = true }
                    out.writeString(name)
                    out.writeStaticString(": ")
                    out.writeString(value)
                    out.writeStaticString("\r\n")
                }
                if status < 200 {
                    // An interim answer (100 Continue, 103 Early Hints): the final one follows.
                    out.writeStaticString("\r\n")
                    return context.fireChannelRead(wrapInboundOut(out))
                }
                let bodiless = requestIsHEAD || status == 204 || status == 304
                var chunked = false
                if frame.endStream {
                    if !length, !bodiless { out.writeStaticString("content-length: 0\r\n") }
                } else if !length, !bodiless {
                    chunked = true
                    out.writeStaticString("transfer-encoding: chunked\r\n")
                }
                // One stream, one response: the connection is not kept (never pooled).
                out.writeStaticString("connection: close\r\n\r\n")
                response = frame.endStream ? .done : .body(chunked: chunked)
                context.fireChannelRead(wrapInboundOut(out))
            case .body(let chunked):
                // Trailers: the last chunk carries them; a body with a length has no place for them.
                response = .done
                guard chunked else { return }
                var out = allocator.buffer(capacity: 64)
                out.writeStaticString("0\r\n")
                for (name, value, _) in frame.headers where name.utf8.first != UInt8(ascii: ":") {
                    out.writeString(name)
                    out.writeStaticString(": ")
                    out.writeString(value)
                    out.writeStaticString("\r\n")
                }
                out.writeStaticString("\r\n")
                context.fireChannelRead(wrapInboundOut(out))
            case .done:
                return
            }
        case .data(let frame):
            guard case .body(let chunked) = response, case .byteBuffer(let body) = frame.data else { return }
            if !chunked {
                if body.readableBytes > 0 { context.fireChannelRead(wrapInboundOut(body)) }
                if frame.endStream { response = .done }
                return
            }
            var out = allocator.buffer(capacity: body.readableBytes + 16)
            if body.readableBytes > 0 {
                out.writeString(String(body.readableBytes, radix: 16))
                out.writeStaticString("\r\n")
                out.writeImmutableBuffer(body)
                out.writeStaticString("\r\n")
            }
            if frame.endStream {
                response = .done
                out.writeStaticString("0\r\n\r\n")
            }
            if out.readableBytes > 0 { context.fireChannelRead(wrapInboundOut(out)) }
        default:
            return
        }
    }
}
