/// What a service's port speaks, so the proxy talks to it in kind (`protocol:` in the manifest).
public enum UpstreamProtocol: String, Sendable, Equatable, CaseIterable {
    /// HTTP/1.1, the default: every route works this way.
    case http1
    /// HTTP/2 over cleartext with prior knowledge (RFC 9113 §3.3): the connection starts with the
    /// HTTP/2 preface, no Upgrade round trip.
    case h2c
    /// gRPC: h2c whose responses end in trailers (`grpc-status`), with streaming both ways. A gRPC
    /// call cannot travel over HTTP/1.1, so it reaches such a service only from an HTTP/2 client.
    case grpc

    /// Speaks HTTP/2 to the upstream.
    public var isHTTP2: Bool { self != .http1 }
}
