import NIOCore
import NIOHPACK

/// WebSocket over an HTTP/2 stream (RFC 8441): the listener offers extended CONNECT in its
/// SETTINGS, and a stream that opens with `CONNECT` and `:protocol: websocket` is the upgrade the
/// upstream knows from HTTP/1.1. The bridge turns the upstream's 101 into the stream's 200 and then
/// passes bytes both ways as DATA (HTTP2Bridge.swift).
extension HTTP2Bridge {
    /// An extended CONNECT for a WebSocket (RFC 8441 §4) as the HTTP/1.1 upgrade the upstream
    /// understands (RFC 6455 §4.1): GET with `Upgrade: websocket` and a key of the proxy's own (the
    /// stream has none; its accept value is the proxy's to check, not the client's). Any other
    /// protocol, or a CONNECT that ends at once, resets the stream.
    func tunnelRequest(
        _ headers: HPACKHeaders, protocol name: String, path: String?, authority: String?, endStream: Bool,
        allocator: ByteBufferAllocator
    ) -> ByteBuffer? {
        guard name.lowercased() == "websocket", !endStream, let path, let authority, Self.isVisible(path) else { return nil }
        var out = allocator.buffer(capacity: 256)
        out.writeStaticString("GET ")
        out.writeString(path)
        out.writeStaticString(" HTTP/1.1\r\nhost: ")
        out.writeString(authority)
        out.writeStaticString("\r\nconnection: upgrade\r\nupgrade: websocket\r\nsec-websocket-key: ")
        out.writeString(Self.webSocketKey())
        out.writeStaticString("\r\n")
        // The proxy's key replaces any the client sent; an extended CONNECT has no body to measure.
        Self.writeFields(headers, into: &out) { $0 == "host" || $0 == "sec-websocket-key" || $0 == "content-length" }
        out.writeStaticString("\r\n")
        request = .tunnel
        extendedConnect = true
        return out
    }

    /// 16 random bytes in base64 (RFC 6455 §4.1).
    private static func webSocketKey() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) } + [0, 0]
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        var out: [UInt8] = []
        for i in stride(from: 0, to: 18, by: 3) {
            let n = Int(bytes[i]) << 16 | Int(bytes[i + 1]) << 8 | Int(bytes[i + 2])
            for shift in [18, 12, 6, 0] { out.append(alphabet[(n >> shift) & 63]) }
        }
        // 16 bytes are 22 characters and two of padding.
        return String(decoding: out.prefix(22), as: UTF8.self) + "=="
    }
}
