import NIOHTTP1

/// Header rewriting for the proxy (RFC 9110 §7.6.1), kept pure so it is tested byte for byte.
enum ProxyHeaders {
    static let hopByHop: Set<String> = [
        "connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade",
        "proxy-authenticate", "proxy-authorization",
    ]

    /// Removes hop-by-hop headers and those the `Connection` header names. `keepUpgrade` keeps
    /// `Connection: upgrade` and `Upgrade` for protocol switches (WebSocket).
    static func stripHopByHop(_ headers: inout HTTPHeaders, keepUpgrade: Bool) {
        var named = Set<String>()
        for value in headers[canonicalForm: "connection"] { named.insert(value.lowercased()) }
        var drop = hopByHop.union(named)
        if keepUpgrade {
            drop.remove("upgrade")
            drop.remove("connection")
        }
        let doomed = headers.map(\.name).filter { drop.contains($0.lowercased()) }
        for name in Set(doomed) { headers.remove(name: name) }
        if keepUpgrade {
            headers.replaceOrAdd(name: "Connection", value: "upgrade")
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
        let upgrade = isUpgrade(head)
        stripHopByHop(&out.headers, keepUpgrade: upgrade)
        let originalHost = head.headers.first(name: "host") ?? ""
        for name in ["x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "forwarded", "x-real-ip", "x-request-id"] {
            out.headers.remove(name: name)
        }
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
        stripHopByHop(&out.headers, keepUpgrade: head.status == .switchingProtocols)
        out.headers.replaceOrAdd(name: "X-Request-ID", value: requestID)
        if closing { out.headers.replaceOrAdd(name: "Connection", value: "close") }
        return out
    }
}
