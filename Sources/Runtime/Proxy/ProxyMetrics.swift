import Foundation

/// Counters for `/_devhost/metrics` (Prometheus text format).
public final class ProxyMetrics: @unchecked Sendable {
    static let buckets: [Double] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    /// A class so a request updates its counters in place (a struct copied out of the dictionary
    /// copied its histogram and status table on every request). Connections keep the one they
    /// last used (`route(_:)`), so a request does not hash its route's name.
    final class Route {
        var requests = 0
        /// (status, count): a route sees a handful of statuses, found faster by a scan than a hash.
        var statuses: [(status: Int, count: Int)] = []
        var histogram = [Int](repeating: 0, count: ProxyMetrics.buckets.count)
        var sum = 0.0
        var upstreamErrors = 0
    }

    private let lock = NSLock()
    private var routes: [String: Route] = [:]
    private var openConnections = 0
    private var totalConnections = 0

    func connectionOpened() { lock.withLock { openConnections += 1; totalConnections += 1 } }
    func connectionClosed() { lock.withLock { openConnections -= 1 } }

    /// The counters of `route`, for `record`.
    func route(_ route: String) -> Route {
        lock.withLock { entry(route) }
    }

    func record(_ entry: Route, status: Int, seconds: Double) {
        lock.withLock {
            entry.requests += 1
            if let index = entry.statuses.firstIndex(where: { $0.status == status }) {
                entry.statuses[index].count += 1
            } else {
                entry.statuses.append((status, 1))
            }
            entry.sum += seconds
            if let bucket = Self.buckets.firstIndex(where: { seconds <= $0 }) { entry.histogram[bucket] += 1 }
        }
    }

    func upstreamError(route: String) {
        lock.withLock { entry(route).upstreamErrors += 1 }
    }

    /// Called with the lock held.
    private func entry(_ route: String) -> Route {
        if let entry = routes[route] { return entry }
        let entry = Route()
        routes[route] = entry
        return entry
    }

    public func prometheus() -> String {
        lock.withLock {
            var out = "# HELP devhost_proxy_open_connections Client connections open now.\n# TYPE devhost_proxy_open_connections gauge\n"
            out += "devhost_proxy_open_connections \(openConnections)\n"
            out += "# HELP devhost_proxy_connections_total Client connections accepted.\n# TYPE devhost_proxy_connections_total counter\n"
            out += "devhost_proxy_connections_total \(totalConnections)\n"
            out += "# HELP devhost_proxy_requests_total Requests by route and status.\n# TYPE devhost_proxy_requests_total counter\n"
            for (route, entry) in routes.sorted(by: { $0.key < $1.key }) {
                for (status, count) in entry.statuses.sorted(by: { $0.status < $1.status }) {
                    out += "devhost_proxy_requests_total{route=\"\(route)\",status=\"\(status)\"} \(count)\n"
                }
            }
            out += "# HELP devhost_proxy_upstream_errors_total Upstream connect failures and resets.\n# TYPE devhost_proxy_upstream_errors_total counter\n"
            for (route, entry) in routes.sorted(by: { $0.key < $1.key }) {
                out += "devhost_proxy_upstream_errors_total{route=\"\(route)\"} \(entry.upstreamErrors)\n"
            }
            out += "# HELP devhost_proxy_request_duration_seconds Time to the end of the response.\n# TYPE devhost_proxy_request_duration_seconds histogram\n"
            for (route, entry) in routes.sorted(by: { $0.key < $1.key }) {
                var cumulative = 0
                for (index, bound) in Self.buckets.enumerated() {
                    cumulative += entry.histogram[index]
                    out += "devhost_proxy_request_duration_seconds_bucket{route=\"\(route)\",le=\"\(bound)\"} \(cumulative)\n"
                }
                out += "devhost_proxy_request_duration_seconds_bucket{route=\"\(route)\",le=\"+Inf\"} \(entry.requests)\n"
                out += "devhost_proxy_request_duration_seconds_sum{route=\"\(route)\"} \(entry.sum)\n"
                out += "devhost_proxy_request_duration_seconds_count{route=\"\(route)\"} \(entry.requests)\n"
            }
            return out
        }
    }
}
