import NIOCore

/// Idle keep-alive connections to upstreams, one pool per event loop and used only on that loop.
/// A request takes the most recently used connection to its endpoint and gives it back when its
/// response has ended, so a busy route runs on a small warm set of connections instead of one per
/// client. Measured against one upstream connection per client connection: the upstream spent less
/// CPU per request, as it does behind nginx's keep-alive pool.
final class UpstreamPool: @unchecked Sendable {
    struct Key: Equatable {
        var host: String
        var port: Int
        /// A Unix socket (the control API behind the dashboard route).
        var path: String?

        /// The port first: it tells endpoints apart at the cost of one comparison.
        static func == (a: Key, b: Key) -> Bool { a.port == b.port && a.host == b.host && a.path == b.path }
    }

    /// Idle connections per endpoint, most recently used last. A proxy has a few endpoints (one
    /// per instance or route target): scanning them beats hashing the host name on every request.
    private var endpoints: [(key: Key, idle: [UpstreamConnection])] = []
    /// Idle connections kept per endpoint; more are closed.
    private let limit: Int

    init(limit: Int = 256) {
        self.limit = limit
    }

    /// The newest idle connection to `key` that is still open.
    func take(_ key: Key) -> UpstreamConnection? {
        guard let index = endpoints.firstIndex(where: { $0.key == key }) else { return nil }
        while let connection = endpoints[index].idle.popLast() {
            if connection.channel.isActive { return connection }
        }
        return nil
    }

    func put(_ connection: UpstreamConnection) {
        guard connection.channel.isActive else { return }
        guard let index = endpoints.firstIndex(where: { $0.key == connection.key }) else {
            // A new endpoint (rare): endpoints left without idle connections, such as instances
            // that have gone, are dropped here rather than on the hot path.
            endpoints.removeAll { $0.idle.isEmpty }
            endpoints.append((connection.key, [connection]))
            return
        }
        if endpoints[index].idle.count >= limit {
            connection.channel.close(promise: nil)
            return
        }
        endpoints[index].idle.append(connection)
    }

    /// An idle connection closed by its upstream leaves the pool at once.
    func remove(_ handler: UpstreamHandler, key: Key) {
        guard let index = endpoints.firstIndex(where: { $0.key == key }) else { return }
        endpoints[index].idle.removeAll { $0.handler === handler }
        if endpoints[index].idle.isEmpty { endpoints.remove(at: index) }
    }
}
