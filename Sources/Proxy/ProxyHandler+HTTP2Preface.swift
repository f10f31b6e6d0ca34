import NIOCore

/// HTTP/2 with prior knowledge on the plain listener (RFC 9113 §3.3): clients that know the server
/// speaks HTTP/2 without TLS (gRPC's insecure channels, `curl --http2-prior-knowledge`, h2load)
/// open with the connection preface instead of a request. HTTP/1.1 costs nothing for it: the
/// preface's first line fails the request-line parse, and only then is it looked at.
extension ProxyHandler {
    /// The first line of the connection preface; NIOHTTP2 checks the whole of it.
    private static let prefaceLine = Array("PRI * HTTP/2.0\r\n".utf8)

    /// Whether a connection's first bytes are HTTP/2's preface (never after an HTTP/1.1 request,
    /// never on the HTTPS listener, where ALPN decides, nor on a stream).
    func speaksHTTP2(_ bytes: ByteBuffer) -> Bool {
        guard !spokeHTTP1, !secure, origin == nil, bytes.readableBytes >= Self.prefaceLine.count else { return false }
        return bytes.readableBytesView.prefix(Self.prefaceLine.count).elementsEqual(Self.prefaceLine)
    }

    /// The connection becomes the HTTPS listener's HTTP/2 connection without TLS: this handler
    /// leaves, each stream gets a proxy handler of its own (forwarding fields say `http`), and the
    /// bytes read so far, preface included, go to NIOHTTP2.
    func startHTTP2(_ context: ChannelHandlerContext, bytes: ByteBuffer) {
        let channel = context.channel
        let pipeline = context.pipeline
        stopTicking()
        // The streams count as connections, each while it lasts; this one no longer does.
        shared.metrics.connectionClosed()
        machine.closed()
        do {
            try ProxyTLS.configureHTTP2(channel, shared: shared, secure: false)
            pipeline.syncOperations.removeHandler(context: context, promise: nil)
            pipeline.syncOperations.fireChannelRead(NIOAny(bytes))
        } catch {
            channel.close(promise: nil)
        }
    }
}
