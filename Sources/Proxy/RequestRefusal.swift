import NIOHTTP1

/// What the proxy refuses in a request head before routing it, and with which status. Each rule
/// closes a way for two HTTP readers (devhost and the upstream) to see different requests in the
/// same bytes, or for a client to make devhost act as something it is not (a forward proxy).
/// docs/proxy.md ("Framing") lists them for users.
struct RequestRefusal: Equatable {
    let status: HTTPResponseStatus
    let message: String

    /// `hostKnownValid`: the host's bytes are those of a host checked earlier on the connection.
    static func check(_ head: HTTPHead, allowTrace: Bool, hostKnownValid: Bool = false) -> RequestRefusal? {
        if head.methodIsConnect {
            return RequestRefusal(status: .methodNotAllowed, message: "devhost is a reverse proxy, not a forward proxy: CONNECT is refused")
        }
        if head.methodIsTrace, !allowTrace {
            // TRACE echoes the request, cookies included, back to a page (cross-site tracing).
            return RequestRefusal(status: .methodNotAllowed, message: "TRACE is refused (it echoes cookies back to the page)")
        }
        if !head.absoluteTarget, !head.targetIsOriginForm, !(head.targetIsAsterisk && head.methodIs("OPTIONS")) {
            return RequestRefusal(status: .badRequest, message: "the request target must start with / (or be an http:// URL)")
        }
        // RFC 9112 §3.2: a server MUST answer 400 to a request with no Host (HTTP/1.1), more than
        // one, or one that is not a host; an absolute-form target's authority must be a host too.
        if head.hostCount > 1 {
            return RequestRefusal(status: .badRequest, message: "the request has more than one Host field")
        }
        if head.minor >= 1, head.host == nil {
            return RequestRefusal(status: .badRequest, message: "an HTTP/1.1 request needs a Host field")
        }
        if !hostKnownValid, let host = head.host, !head.isHostSyntax(host) {
            return RequestRefusal(status: .badRequest, message: "the Host is not a host name")
        }
        if head.absoluteTarget, let field = head.first(.host), !head.isHostSyntax(field.value) {
            return RequestRefusal(status: .badRequest, message: "the Host is not a host name")
        }
        if head.contentLengthCount > 1 {
            return RequestRefusal(status: .badRequest, message: "Content-Length appears more than once")
        }
        if head.hasTransferEncoding {
            if head.minor == 0 {
                // RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 message is faulty framing.
                return RequestRefusal(status: .badRequest, message: "an HTTP/1.0 request cannot use Transfer-Encoding")
            }
            if head.contentLength != nil {
                return RequestRefusal(
                    status: .badRequest, message: "the request body's length is ambiguous (Content-Length and Transfer-Encoding)")
            }
            if head.transferEncodingCount > 1 {
                return RequestRefusal(status: .badRequest, message: "Transfer-Encoding appears more than once")
            }
            if !head.chunkedOnly {
                // As nginx does: only `chunked`, which takes no parameters (RFC 9112 §7).
                return RequestRefusal(status: .notImplemented, message: "only the chunked transfer coding is supported")
            }
        }
        return nil
    }
}

extension HTTPHead {
    /// A host (RFC 3986 reg-name or IPv4 address, or an IPv6 literal in brackets) and an optional
    /// port, nothing else: the value is copied into `Forwarded` and `X-Forwarded-Host`, where a
    /// quote or a comma could add entries, and routes are looked up by it.
    func isHostSyntax(_ range: Range<Int>) -> Bool {
        bytes.withUnsafeReadableBytes { p in
            var i = range.lowerBound
            let end = range.upperBound
            guard i < end else { return false }
            if p[i] == UInt8(ascii: "[") {
                i += 1
                var colons = 0
                while i < end, p[i] != UInt8(ascii: "]") {
                    switch p[i] {
                    case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "f"),
                        UInt8(ascii: "A")...UInt8(ascii: "F"),
                        UInt8(ascii: "."):
                        break
                    case UInt8(ascii: ":"): colons += 1
                    default: return false
                    }
                    i += 1
                }
                guard i < end, colons >= 2 else { return false }
                i += 1
            } else {
                let start = i
                while i < end, p[i] != UInt8(ascii: ":") {
                    switch p[i] {
                    case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                        UInt8(ascii: "0")...UInt8(ascii: "9"),
                        UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: "%"):
                        break
                    default: return false
                    }
                    i += 1
                }
                guard i > start else { return false }
            }
            guard i < end else { return true }
            guard p[i] == UInt8(ascii: ":"), end - i <= 6 else { return false }
            i += 1
            while i < end {
                guard p[i] >= 48, p[i] <= 57 else { return false }
                i += 1
            }
            return true
        }
    }
}
