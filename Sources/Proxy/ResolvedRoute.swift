/// What one `Host` header routes to, worked out once: a keep-alive connection sends the same host
/// request after request, and each of them shares this object until the route table changes. What a
/// request needs from its route (its label, its pool key, its metrics counters) is made here once
/// instead of being copied into every request. Used on its connection's event loop only.
final class ResolvedRoute {
    /// The `Host` value's bytes, to recognise the next request for the same host.
    let header: [UInt8]
    /// The route table's generation this was looked up in.
    let generation: Int
    /// The host name: lowercased, no port, no trailing dot.
    let host: String
    let target: ProxyTarget?
    /// What metrics and logs count a request under: the service, or the host for other routes.
    let label: String
    /// A fixed address's pool key.
    let addressKey: UpstreamPool.Key?
    /// The metrics counters of `label`, found on first use.
    var counters: ProxyMetrics.Route?
    /// The request inspector records this route's exchanges (`ProxyRoutes.Route.inspected`).
    let inspected: Bool
    /// No redirect to HTTPS for this host (`ProxyRoutes.Route.keepsHTTP`).
    let keepsHTTP: Bool

    /// The host's path routes, longest prefix first, each resolved like this one: empty for a host
    /// without paths, whose requests then skip the path lookup altogether.
    let paths: [ResolvedRoute]
    /// For a path route: its prefix (as `PathPrefix` compares it); nil for the host itself.
    let prefix: PathPrefix?

    init(
        header: [UInt8], generation: Int, host: String, target: ProxyTarget?, paths: [PathPrefix] = [], prefix: PathPrefix? = nil,
        inspected: Bool = true, keepsHTTP: Bool = false
    ) {
        self.keepsHTTP = keepsHTTP
        self.header = header
        self.generation = generation
        self.host = host
        self.target = target
        self.prefix = prefix
        self.inspected = inspected
        self.paths = paths.map {
            ResolvedRoute(
                header: header, generation: generation, host: host, target: $0.target, prefix: $0, inspected: $0.inspected,
                keepsHTTP: keepsHTTP)
        }
        switch target {
        case .service(let name, _)?:
            label = name
            addressKey = nil
        case .address(let address, let port)?:
            label = host
            addressKey = UpstreamPool.Key(host: address, port: port)
        case .socket?, nil:
            label = host
            addressKey = nil
        }
    }

    /// The target is a supervised service (`label` is its name).
    var isService: Bool {
        if case .service? = target { return true }
        return false
    }

    /// The service asks for `Host` to be its own address.
    var rewriteHost: Bool {
        if case .service(_, let rewrite)? = target { return rewrite }
        return false
    }

    /// The route of one request: the longest path prefix its target matches, else the host's own.
    func route(for head: HTTPHead) -> ResolvedRoute {
        if paths.isEmpty { return self }
        let index = head.bytes.withUnsafeReadableBytes { p in paths.firstIndex { $0.prefix!.matches(p, head.target) } }
        return index.map { paths[$0] } ?? self
    }

    /// The prefix to take off the target before it goes upstream, when this route strips one.
    var strip: PathPrefix? {
        guard let prefix, prefix.strip else { return nil }
        return prefix
    }

    /// The same host with no target: a request refused before routing still logs its host.
    var unrouted: ResolvedRoute {
        ResolvedRoute(header: header, generation: generation, host: host, target: nil, inspected: inspected)
    }
}
