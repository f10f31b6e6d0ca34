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

    init(header: [UInt8], generation: Int, host: String, target: ProxyTarget?) {
        self.header = header
        self.generation = generation
        self.host = host
        self.target = target
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

    /// The same host with no target: a request refused before routing still logs its host.
    var unrouted: ResolvedRoute {
        ResolvedRoute(header: header, generation: generation, host: host, target: nil)
    }
}
