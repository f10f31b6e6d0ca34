import NIOCore

/// The request being served on a client connection and what its response has produced so far:
/// the data the proxy carries, while `ConnectionStateMachine` holds the decisions. A class: it is
/// updated in place, never copied, and a callback that captured it can tell whether it is still
/// the connection's current request. Only ever touched on the client channel's event loop.
final class ProxyExchange {
    /// Kept until the response starts, so a failed attempt can be sent again elsewhere.
    let head: HTTPHead
    /// Where the Host header routes (shared with the connection's later requests to that host).
    let route: ResolvedRoute
    var host: String { route.host }
    var target: ProxyTarget? { route.target }
    var routeLabel: String { route.label }
    let requestID: RequestID
    let started: NIODeadline
    let isHEAD: Bool
    var requestBody: BodyFraming
    /// Body bytes that arrived before the upstream connection was ready (at most
    /// `ProxyHandler.pendingLimit`: past it the client is not read until the request has gone out).
    var pending: [ByteBuffer] = []
    var pendingBytes = 0
    var responseBody = BodyFraming.none
    var status = 0
    var bytes = 0
    var instance: String?
    /// Instances that failed this request (not chosen again for it).
    var tried: Set<String> = []
    /// The endpoint in use.
    var endpoint: (key: UpstreamPool.Key, instance: String?)?
    /// The service instance this request is counted against while in flight (RouteTable.drain).
    var counted: (service: String, instance: String)?
    /// The request inspector's record of this exchange (nil when the inspector is off).
    var inspected: InspectedExchange?
    /// What an injected fault does to this request (its id goes on the response), and the pace of
    /// its response body under a bandwidth fault.
    var fault: FaultDecision?
    var pacer: FaultPacer?
    /// The route's service speaks h2c: the request goes on an HTTP/2 stream (`open`).
    var overHTTP2 = false

    init(head: HTTPHead, route: ResolvedRoute, requestID: RequestID, requestBody: BodyFraming, now: NIODeadline) {
        self.head = head
        self.route = route
        self.requestID = requestID
        self.started = now
        self.isHEAD = head.methodIs("HEAD")
        self.requestBody = requestBody
    }
}

/// SplitMix64: a small, fast generator; request ids need to be unlikely to collide, not secret.
struct SplitMix64 {
    private var state: UInt64

    init() {
        var system = SystemRandomNumberGenerator()
        state = system.next()
    }

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
