import Foundation

/// Counters for `/_devhost/metrics` (Prometheus text format).
public final class ProxyMetrics: @unchecked Sendable {
    static let buckets: [Double] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    /// A class so a request updates its counters in place (a struct copied out of the dictionary
    /// copied its histogram and status table on every request). Connections keep the one they
    /// last used (`route(_:)`), so a request does not hash its route's name.
    ///
    /// The counts live in buffers of their own, indexed directly: counting into an array held by
    /// a class checks the array's uniqueness on every request.
    final class Route {
        var requests = 0
        /// Requests by status code, 0 to 999.
        let statuses = UnsafeMutableBufferPointer<Int>.allocate(capacity: 1000)
        /// Requests per latency bucket (`ProxyMetrics.buckets`, not cumulative).
        let histogram = UnsafeMutableBufferPointer<Int>.allocate(capacity: ProxyMetrics.buckets.count)
        var sum = 0.0
        var upstreamErrors = 0

        init() {
            statuses.initialize(repeating: 0)
            histogram.initialize(repeating: 0)
        }

        deinit {
            statuses.deallocate()
            histogram.deallocate()
        }
    }

    private let lock = NSLock()
    private var routes: [String: Route] = [:]
    private var openConnections = 0
    private var totalConnections = 0

    func connectionOpened() {
        lock.withLock {
            openConnections += 1
            totalConnections += 1
        }
    }
    func connectionClosed() { lock.withLock { openConnections -= 1 } }

    /// The counters of `route`, for `record`.
    func route(_ route: String) -> Route {
        lock.withLock { entry(route) }
    }

    func record(_ entry: Route, status: Int, seconds: Double) {
        let bucket = Self.bucket(seconds)
        lock.withLock {
            entry.requests += 1
            entry.statuses[min(max(status, 0), 999)] += 1
            entry.sum += seconds
            if let bucket { entry.histogram[bucket] += 1 }
        }
    }

    /// The first bucket `seconds` fits in; nil past the last (counted only in +Inf).
    static func bucket(_ seconds: Double) -> Int? {
        buckets.firstIndex { seconds <= $0 }
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
                for (status, count) in entry.statuses.enumerated() where count > 0 {
                    out += "devhost_proxy_requests_total{route=\"\(route)\",status=\"\(status)\"} \(count)\n"
                }
            }
            out +=
                "# HELP devhost_proxy_upstream_errors_total Upstream connect failures and resets.\n# TYPE devhost_proxy_upstream_errors_total counter\n"
            for (route, entry) in routes.sorted(by: { $0.key < $1.key }) {
                out += "devhost_proxy_upstream_errors_total{route=\"\(route)\"} \(entry.upstreamErrors)\n"
            }
            out +=
                "# HELP devhost_proxy_request_duration_seconds Time to the end of the response.\n# TYPE devhost_proxy_request_duration_seconds histogram\n"
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
