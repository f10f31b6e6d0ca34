import DevhostManifest
import Foundation
import Synchronization

/// Where a request for a host goes.
public enum ProxyTarget: Sendable, Equatable {
    /// The healthy instances of a supervised service.
    case service(String, rewriteHost: Bool)
    /// A fixed address (standalone routes: `devhost route add api 8000`).
    case address(host: String, port: Int)
    /// An HTTP server on a Unix socket (devhost's own control API, for the dashboard).
    case socket(path: String)

    var key: String {
        switch self {
        case .service(let name, _): return "service:" + name
        case .address(let host, let port): return "address:\(host):\(port)"
        case .socket(let path): return "socket:" + path
        }
    }
}

/// Host name → target (and, under a host, path prefix → target), swapped atomically as a whole
/// when routes change (requests in flight keep the target they resolved).
public final class ProxyRoutes: @unchecked Sendable {
    public struct Route: Sendable, Equatable {
        public var host: String
        public var target: ProxyTarget
        /// A path prefix under the host (`/api`, no trailing `/`); nil: the host's catch-all.
        public var path: String?
        /// The prefix is taken off the target before the request goes upstream.
        public var stripPrefix: Bool
        /// What a service target's port speaks (h2c and gRPC go through `HTTP2Relay`).
        public var upstreamProtocol: UpstreamProtocol
        /// The request inspector (when the proxy has one) records this route's exchanges. Off for
        /// the routes of a project at the shared edge that asked for no recording: the flag is
        /// resolved once per route and connection, never looked up per request.
        public var inspected: Bool
        /// Browsers on plain HTTP are never sent to HTTPS for this host: its project said
        /// `proxy.https: both` or `off` (at the shared edge, which otherwise follows `prefer`).
        public var keepsHTTP: Bool
        public init(
            host: String, target: ProxyTarget, path: String? = nil, stripPrefix: Bool = false, upstreamProtocol: UpstreamProtocol = .http1,
            inspected: Bool = true, keepsHTTP: Bool = false
        ) {
            self.keepsHTTP = keepsHTTP
            self.host = host
            self.target = target
            self.path = path
            self.stripPrefix = stripPrefix
            self.upstreamProtocol = upstreamProtocol
            self.inspected = inspected
        }
    }

    private let lock = NSLock()
    private var table: [String: HostRoutes] = [:]
    private var ordered: [Route] = []
    /// Services that speak HTTP/2 (h2c, gRPC); most projects have none, and then `hasHTTP2Upstreams`
    /// spares every HTTP/2 stream the lookup.
    private var protocols: [String: UpstreamProtocol] = [:]
    private let anyHTTP2 = Atomic<Bool>(false)
    /// Bumped on every change, so connections know when a host they looked up may route elsewhere.
    /// An atomic, as every request reads it: taking the lock for it showed in profiles.
    private let version = Atomic<Int>(0)
    /// The request inspector records requests for hosts with no route (404s) and requests refused
    /// before routing. Off at the shared edge: no project could read them.
    public let inspectsUnrouted: Bool

    public init(_ routes: [Route] = [], inspectsUnrouted: Bool = true) {
        self.inspectsUnrouted = inspectsUnrouted
        replace(with: routes)
    }

    public func replace(with routes: [Route]) {
        var catchAll: [String: ProxyTarget] = [:]
        var prefixes: [String: [PathPrefix]] = [:]
        var inspected: [String: Bool] = [:]
        var keepsHTTP: Set<String> = []
        for route in routes {
            let host = route.host.lowercased()
            if route.keepsHTTP { keepsHTTP.insert(host) }
            if let path = route.path {
                prefixes[host, default: []].removeAll { $0.path == path }
                prefixes[host, default: []].append(
                    PathPrefix(path: path, target: route.target, strip: route.stripPrefix, inspected: route.inspected))
                // A host with paths only: its unmatched requests are recorded if any of its paths are.
                if catchAll[host] == nil { inspected[host] = (inspected[host] ?? false) || route.inspected }
            } else {
                catchAll[host] = route.target
                inspected[host] = route.inspected
            }
        }
        var protocols: [String: UpstreamProtocol] = [:]
        for route in routes where route.upstreamProtocol != .http1 {
            if case .service(let name, _) = route.target { protocols[name] = route.upstreamProtocol }
        }
        var table: [String: HostRoutes] = [:]
        for host in Set(catchAll.keys).union(prefixes.keys) {
            table[host] = HostRoutes(
                catchAll: catchAll[host], prefixes: prefixes[host] ?? [], inspected: inspected[host] ?? true,
                keepsHTTP: keepsHTTP.contains(host))
        }
        lock.withLock {
            self.table = table
            self.ordered = routes
            self.protocols = protocols
            anyHTTP2.store(!protocols.isEmpty, ordering: .relaxed)
            // Inside the lock, after the table: whoever sees the new generation finds the new table.
            version.add(1, ordering: .releasing)
        }
    }

    var generation: Int { version.load(ordering: .acquiring) }

    /// Some route goes to an h2c or gRPC service.
    var hasHTTP2Upstreams: Bool { anyHTTP2.load(ordering: .relaxed) }

    func upstreamProtocol(of service: String) -> UpstreamProtocol {
        lock.withLock { protocols[service] ?? .http1 }
    }

    public var all: [Route] { lock.withLock { ordered } }

    /// Looks up a `Host` header value: the port is ignored and case does not matter. `target` is the
    /// host's catch-all (a host with path routes only has none).
    public func resolve(hostHeader: String) -> (host: String, target: ProxyTarget?) {
        let (host, routes) = lookup(hostHeader: hostHeader)
        return (host, routes?.catchAll)
    }

    /// Everything a host routes to: its catch-all and its path prefixes.
    func lookup(hostHeader: String) -> (host: String, routes: HostRoutes?) {
        let host = Self.hostName(hostHeader)
        return (host, lock.withLock { table[host] })
    }

    /// The host serves something (a catch-all or a path).
    func serves(hostHeader: String) -> Bool {
        lookup(hostHeader: hostHeader).routes != nil
    }

    static func hostName(_ header: String) -> String {
        let bytes = header.utf8
        var start = bytes.startIndex
        var end = bytes.endIndex
        if bytes.first == UInt8(ascii: "[") {
            if let close = bytes.firstIndex(of: UInt8(ascii: "]")) {
                start = bytes.index(after: start)
                end = close
            }
        } else if let colon = bytes.lastIndex(of: UInt8(ascii: ":")) {
            end = colon
        }
        if end > start, bytes[bytes.index(before: end)] == UInt8(ascii: ".") { end = bytes.index(before: end) }
        return String(Substring(header.utf8[start..<end])).lowercased()
    }

    /// The routes of a manifest: `api.shop.localhost` → service api, `shop.localhost/api` → service api.
    public static func routes(for manifest: Manifest) -> [Route] {
        manifest.services.flatMap { service in
            service.routeEntries.map {
                Route(
                    host: manifest.host(forRoute: $0.host), target: .service(service.name, rewriteHost: service.rewriteHost),
                    path: $0.path, stripPrefix: $0.stripPrefix, upstreamProtocol: service.upstreamProtocol)
            }
        }
    }
}
