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
    /// Bumped on every change, so connections know when a host they looked up may route elsewhere.
    /// An atomic, as every request reads it: taking the lock for it showed in profiles.
    private let version = Atomic<Int>(0)

    public init(_ routes: [Route] = []) {
        replace(with: routes)
    }

    public func replace(with routes: [Route]) {
        var table: [String: ProxyTarget] = [:]
        for route in routes { table[route.host.lowercased()] = route.target }
        lock.withLock {
            self.table = table
            self.ordered = routes
            // Inside the lock, after the table: whoever sees the new generation finds the new table.
            version.add(1, ordering: .releasing)
        }
    }

    var generation: Int { version.load(ordering: .acquiring) }

    public var all: [Route] { lock.withLock { ordered } }

    /// Looks up a `Host` header value: the port is ignored and case does not matter.
    public func resolve(hostHeader: String) -> (host: String, target: ProxyTarget?) {
        let host = Self.hostName(hostHeader)
        return (host, lock.withLock { table[host] })
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

    /// The routes of a manifest: `api.shop.localhost` → service api.
    public static func routes(for manifest: Manifest) -> [Route] {
        manifest.services.flatMap { service in
            service.routes.map {
                Route(host: manifest.host(forRoute: $0), target: .service(service.name, rewriteHost: service.rewriteHost))
            }
        }
    }
}
