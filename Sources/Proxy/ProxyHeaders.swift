import NIOCore

/// Header rewriting for the proxy (RFC 9110 §7.6.1), written straight into the bytes that go out:
/// kept lines are copied as they came, and only devhost's own fields are formatted.
enum ProxyHeaders {
    /// The request as the upstream sees it: hop-by-hop fields gone (framing fields stay, because the
    /// body is forwarded with its framing), forwarding fields replaced so a client cannot spoof its
    /// address, the request id set, and `Host` kept unless `rewriteHost` gives the upstream's address.
    /// `strip`: a path route's prefix comes off the target, and `X-Forwarded-Prefix` names it (a
    /// client's own `X-Forwarded-Prefix` never goes through, like every forwarding field).
    static func upstreamRequest(
        _ head: HTTPHead, client: ClientAddress, requestID: RequestID, rewriteHost: (host: String, port: Int)?,
        strip: PathPrefix? = nil, into out: inout ByteBuffer
    ) {
        let upgrade = head.isUpgrade
        out.reserveCapacity(minimumWritableBytes: head.bytes.readableBytes + 256)
        var host: Range<Int>?
        head.bytes.withUnsafeReadableBytes { p in
            // Start line: method and target byte for byte (an absolute-form target goes in origin
            // form: its authority is the Host). HTTP/1.1 upstream keeps the connection alive; an
            // HTTP/1.0 client's request stays 1.0 so the answer needs no chunked decoding.
            if let strip {
                out.writeBytes(UnsafeRawBufferPointer(rebasing: p[head.method]))
                out.writeStaticString(" ")
                let (slash, rest) = strip.rest(p, head.target)
                if slash { out.writeStaticString("/") }
                out.writeBytes(UnsafeRawBufferPointer(rebasing: p[rest]))
            } else if head.absoluteTarget {
                out.writeBytes(UnsafeRawBufferPointer(rebasing: p[head.method]))
                out.writeStaticString(" ")
                if head.target.isEmpty { out.writeStaticString("/") }
                out.writeBytes(UnsafeRawBufferPointer(rebasing: p[head.target]))
            } else {
                out.writeBytes(UnsafeRawBufferPointer(rebasing: p[head.method.lowerBound..<head.target.upperBound]))
            }
            out.writeStaticString(head.minor == 0 ? " HTTP/1.0\r\n" : " HTTP/1.1\r\n")
            host = head.host
            if head.absoluteTarget, rewriteHost == nil, let authority = head.host {
                out.writeStaticString("Host: ")
                out.writeBytes(UnsafeRawBufferPointer(rebasing: p[authority]))
                out.writeStaticString("\r\n")
            }
            for field in head.fields {
                switch field.kind {
                case .contentLength, .transferEncoding:
                    break
                case .connectionToken, .underscored:
                    continue
                case .host:
                    if rewriteHost != nil || head.absoluteTarget { continue }
                case .upgrade:
                    if !upgrade { continue }
                case let kind where kind.isHopByHop || kind.isForwarding:
                    continue
                default:
                    if head.isNamedByConnection(field) { continue }
                }
                out.writeBytes(UnsafeRawBufferPointer(rebasing: p[field.line]))
                if p[field.line.upperBound - 2] != 13 {
                    // A bare LF line end becomes CRLF on the way out.
                    out.moveWriterIndex(to: out.writerIndex - 1)
                    out.writeStaticString("\r\n")
                }
            }
            if let upstream = rewriteHost {
                out.writeStaticString("Host: ")
                out.writeString(upstream.host)
                out.writeStaticString(":")
                out.writeString(String(upstream.port))
                out.writeStaticString("\r\n")
            }
        }
        if let strip {
            out.writeStaticString("X-Forwarded-Prefix: ")
            out.writeBytes(strip.bytes)
            out.writeStaticString("\r\n")
        }
        let originalHost = host.map { head.bytes.getSlice(at: head.bytes.readerIndex + $0.lowerBound, length: $0.count)! } ?? ByteBuffer()
        client.lines.withUnsafeBytes { lines in
            out.writeBytes(UnsafeRawBufferPointer(rebasing: lines[..<client.forwardedStart]))
            if originalHost.readableBytes > 0 {
                out.writeStaticString("X-Forwarded-Host: ")
                out.writeImmutableBuffer(originalHost)
                out.writeStaticString("\r\n")
            }
            out.writeBytes(UnsafeRawBufferPointer(rebasing: lines[client.forwardedStart...]))
        }
        out.writeImmutableBuffer(originalHost)
        out.writeStaticString(client.secure ? "\";proto=https\r\nX-Request-ID: " : "\";proto=http\r\nX-Request-ID: ")
        requestID.write(into: &out)
        out.writeStaticString(upgrade ? "\r\nConnection: upgrade\r\n\r\n" : "\r\n\r\n")
    }

    /// The response as the client sees it: the client's HTTP version, hop-by-hop fields gone (kept for
    /// a protocol switch), the request id set, and `Connection` saying what happens next.
    /// `dechunk`: the body goes to the client without its chunked framing (an HTTP/1.0 client,
    /// which cannot read it), so neither framing field is kept and the connection closes after.
    static func downstreamResponse(
        _ head: HTTPHead, clientMinor: Int, requestID: RequestID, closing: Bool, dechunk: Bool = false, fault: String? = nil,
        into out: inout ByteBuffer
    ) {
        let switching = head.status == 101
        var lengthWritten = false
        out.reserveCapacity(minimumWritableBytes: head.bytes.readableBytes + 96)
        head.bytes.withUnsafeReadableBytes { p in
            out.writeStaticString(clientMinor == 0 ? "HTTP/1.0" : "HTTP/1.1")
            let lineEnd = head.fields.first?.line.lowerBound ?? (head.bytes.readableBytes - 2)
            var end = lineEnd
            while end > head.afterVersion, p[end - 1] == 10 || p[end - 1] == 13 { end -= 1 }
            out.writeBytes(UnsafeRawBufferPointer(rebasing: p[head.afterVersion..<end]))
            out.writeStaticString("\r\n")
            for field in head.fields {
                switch field.kind {
                case .contentLength:
                    // RFC 9112 §6.3: with Transfer-Encoding, an intermediary MUST remove
                    // Content-Length; repeated identical lengths go out once.
                    if head.hasTransferEncoding || lengthWritten || dechunk { continue }
                    lengthWritten = true
                case .transferEncoding:
                    if dechunk { continue }
                case .other, .host, .accept, .forwarded, .xForwardedFor, .xForwardedHost, .xForwardedProto, .xForwardedPrefix, .xRealIP:
                    if field.kind == .other, head.isNamedByConnection(field) { continue }
                case .upgrade:
                    if !switching { continue }
                default:
                    continue
                }
                out.writeBytes(UnsafeRawBufferPointer(rebasing: p[field.line]))
                if p[field.line.upperBound - 2] != 13 {
                    out.moveWriterIndex(to: out.writerIndex - 1)
                    out.writeStaticString("\r\n")
                }
            }
        }
        if let fault { out.writeString("X-Devhost-Fault: " + fault + "\r\n") }
        out.writeStaticString("X-Request-ID: ")
        requestID.write(into: &out)
        if switching {
            out.writeStaticString("\r\nConnection: upgrade\r\n\r\n")
        } else if closing {
            out.writeStaticString("\r\nConnection: close\r\n\r\n")
        } else if clientMinor == 0 {
            out.writeStaticString("\r\nConnection: keep-alive\r\n\r\n")
        } else {
            out.writeStaticString("\r\n\r\n")
        }
    }
}

/// The client's address as the forwarding fields give it, formatted once per connection rather than
/// once per request: `X-Forwarded-For` and `X-Forwarded-Proto`, then the start of `Forwarded` up to
/// its host parameter (an IPv6 address is quoted and bracketed there, RFC 7239 §6).
struct ClientAddress {
    let lines: [UInt8]
    /// Where `Forwarded` starts in `lines` (`X-Forwarded-Host`, when there is a host, goes before it).
    let forwardedStart: Int
    /// The connection came over TLS: `https` in `X-Forwarded-Proto` and `Forwarded`'s proto.
    let secure: Bool

    /// Until the connection's address is known (made once, not per connection).
    static let loopback = ClientAddress("127.0.0.1")

    init(_ ip: String, secure: Bool = false) {
        self.secure = secure
        var lines = Array("X-Forwarded-For: \(ip)\r\nX-Forwarded-Proto: \(secure ? "https" : "http")\r\n".utf8)
        forwardedStart = lines.count
        lines += Array((ip.contains(":") ? "Forwarded: for=\"[\(ip)]\";host=\"" : "Forwarded: for=\(ip);host=\"").utf8)
        self.lines = lines
    }
}

/// A request's id: the client's own `X-Request-ID` when it sent a usable one, otherwise 16 hex
/// digits from a per-connection generator. Written into heads as bytes; a string is made only for
/// logs and pages.
struct RequestID {
    var sent: ByteBuffer?
    var generated: UInt64 = 0

    func write(into out: inout ByteBuffer) {
        if let sent {
            out.writeImmutableBuffer(sent)
            return
        }
        let value = generated
        out.writeWithUnsafeMutableBytes(minimumWritableBytes: 16) { bytes in
            var rest = value
            for index in stride(from: 15, through: 0, by: -1) {
                let digit = UInt8(truncatingIfNeeded: rest & 0xF)
                bytes[index] = digit < 10 ? 48 + digit : 87 + digit
                rest >>= 4
            }
            return 16
        }
    }

    /// A client's id is kept when it is 1–200 bytes of letters, digits and `-_.:+/=@` (UUIDs,
    /// trace ids, base64): anything else (control bytes, quotes, spaces) could rewrite a terminal
    /// or a log line, and is replaced by a generated id.
    static func isPlain(_ head: HTTPHead, _ value: Range<Int>) -> Bool {
        guard !value.isEmpty, value.count <= 200 else { return false }
        return head.bytes.withUnsafeReadableBytes { p in
            value.allSatisfy { i in
                switch p[i] {
                case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                    UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: ":"), UInt8(ascii: "+"), UInt8(ascii: "/"),
                    UInt8(ascii: "="), UInt8(ascii: "@"):
                    return true
                default: return false
                }
            }
        }
    }

    var string: String {
        var out = ByteBuffer()
        write(into: &out)
        return String(buffer: out)
    }
}
