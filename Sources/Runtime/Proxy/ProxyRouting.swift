import DevhostManifest
import Foundation

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

/// Host name → target, swapped atomically as a whole when routes change (requests in flight keep
/// the target they resolved).
public final class ProxyRoutes: @unchecked Sendable {
    public struct Route: Sendable, Equatable {
        public var host: String
        public var target: ProxyTarget
        public init(host: String, target: ProxyTarget) {
            self.host = host
            self.target = target
        }
    }

    private let lock = NSLock()
    private var table: [String: ProxyTarget] = [:]
    private var ordered: [Route] = []

    public init(_ routes: [Route] = []) {
        replace(with: routes)
    }

    public func replace(with routes: [Route]) {
        var table: [String: ProxyTarget] = [:]
        for route in routes { table[route.host.lowercased()] = route.target }
        lock.withLock {
            self.table = table
            self.ordered = routes
        }
    }

    public var all: [Route] { lock.withLock { ordered } }

    /// Looks up a `Host` header value: the port is ignored and case does not matter.
    public func resolve(hostHeader: String) -> (host: String, target: ProxyTarget?) {
        let host = Self.hostName(hostHeader)
        return (host, lock.withLock { table[host] })
    }

    static func hostName(_ header: String) -> String {
        var value = Substring(header)
        if value.hasPrefix("[") {
            if let close = value.firstIndex(of: "]") { value = value[value.index(after: value.startIndex)..<close] }
        } else if let colon = value.lastIndex(of: ":") {
            value = value[..<colon]
        }
        if value.hasSuffix(".") { value = value.dropLast() }
        return value.lowercased()
    }

    /// The routes of a manifest: `api.shop.localhost` → service api.
    public static func routes(for manifest: Manifest) -> [Route] {
        manifest.services.flatMap { service in
            service.routes.map { Route(host: manifest.host(forRoute: $0), target: .service(service.name, rewriteHost: service.rewriteHost)) }
        }
    }
}
