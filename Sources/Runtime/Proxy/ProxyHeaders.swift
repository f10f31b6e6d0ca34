import NIOHTTP1

/// Header rewriting for the proxy (RFC 9110 §7.6.1), kept pure so it is tested byte for byte.
enum ProxyHeaders {
    static let hopByHop: Set<String> = [
        "connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade",
        "proxy-authenticate", "proxy-authorization",
    ]

    /// Removes hop-by-hop headers and those the `Connection` header names. `keepUpgrade` keeps
    /// `Connection: upgrade` and `Upgrade` for protocol switches (WebSocket). One pass, no allocation
    /// for the common case of a `Connection` header naming only `keep-alive` or `close`.
    static func stripHopByHop(_ headers: inout HTTPHeaders, keepUpgrade: Bool, dropAlso: (String) -> Bool = { _ in false }) {
        var named: [String] = []
        for value in headers[canonicalForm: "connection"] {
            let token = value.lowercased()
            if token != "keep-alive" && token != "close" && token != "upgrade" { named.append(token) }
        }
        var out = HTTPHeaders()
        out.reserveCapacity(headers.count + 6)
        for (name, value) in headers {
            if isHopByHop(name) {
                if keepUpgrade, name.caseInsensitiveEquals("upgrade") { out.add(name: name, value: value) }
                continue
            }
            if dropAlso(name) { continue }
            if !named.isEmpty, named.contains(where: { name.caseInsensitiveEquals($0) }) { continue }
            out.add(name: name, value: value)
        }
        if keepUpgrade { out.add(name: "Connection", value: "upgrade") }
        headers = out
    }

    static func isHopByHop(_ name: String) -> Bool {
        switch name.utf8.count {
        case 2: return name.caseInsensitiveEquals("te")
        case 7: return name.caseInsensitiveEquals("trailer") || name.caseInsensitiveEquals("upgrade")
        case 10: return name.caseInsensitiveEquals("connection") || name.caseInsensitiveEquals("keep-alive")
        case 16: return name.caseInsensitiveEquals("proxy-connection")
        case 17: return name.caseInsensitiveEquals("transfer-encoding")
        case 18: return name.caseInsensitiveEquals("proxy-authenticate")
        case 19: return name.caseInsensitiveEquals("proxy-authorization")
        default: return false
        }
    }

    /// Forwarding headers the client sent are dropped: devhost sets its own, so no client can spoof them.
    static func isForwarding(_ name: String) -> Bool {
        switch name.utf8.count {
        case 9: return name.caseInsensitiveEquals("forwarded") || name.caseInsensitiveEquals("x-real-ip")
        case 12: return name.caseInsensitiveEquals("x-request-id")
        case 15: return name.caseInsensitiveEquals("x-forwarded-for")
        case 16: return name.caseInsensitiveEquals("x-forwarded-host")
        case 17: return name.caseInsensitiveEquals("x-forwarded-proto")
        default: return false
        }
    }

    static func isUpgrade(_ head: HTTPRequestHead) -> Bool {
        head.headers[canonicalForm: "connection"].contains { $0.lowercased() == "upgrade" } && head.headers.contains(name: "upgrade")
    }

    /// The request as the upstream sees it: hop-by-hop gone, forwarding headers replaced (a client
    /// cannot spoof its address), the request id set, `Host` kept unless `rewriteHost`.
    static func upstreamRequest(
        _ head: HTTPRequestHead, clientIP: String, requestID: String, upstream: (host: String, port: Int), rewriteHost: Bool
    ) -> HTTPRequestHead {
        var out = head
        let originalHost = head.headers.first(name: "host") ?? ""
        stripHopByHop(&out.headers, keepUpgrade: isUpgrade(head), dropAlso: isForwarding)
        out.headers.add(name: "X-Forwarded-For", value: clientIP)
        out.headers.add(name: "X-Forwarded-Proto", value: "http")
        if !originalHost.isEmpty { out.headers.add(name: "X-Forwarded-Host", value: originalHost) }
        let forwardedFor = clientIP.contains(":") ? "\"[\(clientIP)]\"" : clientIP
        out.headers.add(name: "Forwarded", value: "for=\(forwardedFor);host=\"\(originalHost)\";proto=http")
        out.headers.add(name: "X-Request-ID", value: requestID)
        if rewriteHost { out.headers.replaceOrAdd(name: "Host", value: "\(upstream.host):\(upstream.port)") }
        // The upstream connection is kept alive by devhost regardless of what the client asked.
        out.version = .http1_1
        return out
    }

    static func downstreamResponse(_ head: HTTPResponseHead, requestID: String, closing: Bool) -> HTTPResponseHead {
        var out = head
        stripHopByHop(&out.headers, keepUpgrade: head.status == .switchingProtocols, dropAlso: { $0.caseInsensitiveEquals("x-request-id") })
        out.headers.add(name: "X-Request-ID", value: requestID)
        if closing { out.headers.replaceOrAdd(name: "Connection", value: "close") }
        return out
    }
}

extension String {
    /// ASCII case-insensitive equality without allocating lowercased copies (header names are ASCII).
    func caseInsensitiveEquals(_ other: String) -> Bool {
        let a = utf8, b = other.utf8
        guard a.count == b.count else { return false }
        return zip(a, b).allSatisfy { x, y in x == y || (x | 0x20 == y | 0x20 && (x | 0x20) >= 97 && (x | 0x20) <= 122) }
    }
}
