import Foundation

/// Which instances of each service can take traffic right now. The supervisor writes it as
/// instances come and go; the TCP relays (and the HTTP proxy) read it on every connection.
public final class RouteTable: @unchecked Sendable {
    public struct Endpoint: Sendable, Hashable {
        public var instance: String
        public var port: Int
        public var host: String = "127.0.0.1"

        public init(instance: String, port: Int, host: String = "127.0.0.1") {
            self.instance = instance
            self.port = port
            self.host = host
        }
    }

    private let lock = NSLock()
    private var endpoints: [String: [String: Endpoint]] = [:]
    /// Each service's endpoints sorted by instance, kept with `endpoints`: `next` runs for every
    /// proxied request and must not sort or allocate.
    private var ordered: [String: [Endpoint]] = [:]
    /// Requests the proxy has sent to an instance and not finished, so a planned stop can wait for them.
    private var inFlight: [String: [String: Int]] = [:]
    /// Instances set aside after a connect failure or reset, until the given time.
    private var suspended: [String: ContinuousClock.Instant] = [:]
    private var cursor: [String: Int] = [:]
    /// Waits for a service's first endpoint, each told once when one is set.
    private var waiters: [String: [(id: UUID, wake: @Sendable () -> Void)]] = [:]

    /// Told of every change, in order, after it is made: a project on the shared edge mirrors its
    /// table there. Set before the table is used.
    public typealias Observer = @Sendable (_ service: String, _ instance: String, _ endpoint: Endpoint?) -> Void
    private var observer: Observer?
    /// Waits for requests in flight elsewhere (the shared edge's) before a planned stop.
    public typealias RemoteDrain = @Sendable (_ service: String, _ instance: String, _ limit: Duration) async -> Void
    private var remoteDrain: RemoteDrain?

    /// Faults injected into the services' requests (`devhost fault`).
    public let faults = FaultTable()

    public init() {}

    public func observe(_ observer: @escaping Observer, drain: @escaping RemoteDrain) {
        lock.withLock {
            self.observer = observer
            self.remoteDrain = drain
        }
    }

    /// Every service's routable endpoints (for a new edge to learn the table whole).
    public func all() -> [String: [Endpoint]] {
        lock.withLock { ordered.filter { !$0.value.isEmpty } }
    }

    /// Sets (or, with nil, removes) the healthy endpoint of one instance.
    public func set(service: String, instance: String, endpoint: Endpoint?) {
        let (woken, observer): ([@Sendable () -> Void], Observer?) = lock.withLock {
            defer { ordered[service] = (endpoints[service] ?? [:]).values.sorted { $0.instance < $1.instance } }
            if let endpoint {
                endpoints[service, default: [:]][instance] = endpoint
                return ((waiters.removeValue(forKey: service) ?? []).map(\.wake), self.observer)
            }
            endpoints[service]?[instance] = nil
            return ([], self.observer)
        }
        for wake in woken { wake() }
        observer?(service, instance, endpoint)
    }

    public func healthy(_ service: String) -> [Endpoint] {
        lock.withLock { (endpoints[service] ?? [:]).values.sorted { $0.instance < $1.instance } }
    }

    /// Round-robin over the healthy instances, skipping `excluding` and recently failed ones (unless
    /// nothing else is left).
    public func next(_ service: String, excluding: Set<String> = []) -> Endpoint? {
        lock.withLock {
            guard let list = ordered[service], !list.isEmpty else { return nil }
            let start = cursor[service] ?? 0
            let now = suspended.isEmpty ? nil : ContinuousClock.now
            var fallback: (offset: Int, endpoint: Endpoint)?
            for offset in 0..<list.count {
                let candidate = list[(start + offset) % list.count]
                if !excluding.isEmpty, excluding.contains(candidate.instance) { continue }
                if let now, let until = suspended[service + "/" + candidate.instance], until > now {
                    if fallback == nil { fallback = (offset, candidate) }
                    continue
                }
                cursor[service] = (start + offset + 1) % list.count
                return candidate
            }
            guard let fallback else { return nil }
            cursor[service] = (start + fallback.offset + 1) % list.count
            return fallback.endpoint
        }
    }

    /// The proxy sent a request to `instance` / that request has ended (counted for `drain`).
    public func began(service: String, instance: String) {
        lock.withLock { inFlight[service, default: [:]][instance, default: 0] += 1 }
    }

    public func ended(service: String, instance: String) {
        lock.withLock { inFlight[service]?[instance]? -= 1 }
    }

    /// Waits, up to `limit`, until the requests sent to an instance before it left the table have
    /// ended: a planned stop (rolling restart, `stop`) must not cut an answer in half.
    public func drain(service: String, instance: String, upTo limit: Duration) async {
        let deadline = ContinuousClock.now + limit
        if let remote = lock.withLock({ remoteDrain }) { await remote(service, instance, limit) }
        while ContinuousClock.now < deadline, lock.withLock({ inFlight[service]?[instance] ?? 0 }) > 0 {
            try? await Task.sleep(for: .milliseconds(5))
        }
    }

    private func wake(service: String, id: UUID) {
        unpark(service, id: id)?()
    }

    /// Parks `wake` until an endpoint of `service` is set; false, with nothing parked, when the
    /// service has one already.
    func park(_ service: String, id: UUID, wake: @escaping @Sendable () -> Void) -> Bool {
        lock.withLock {
            if !(endpoints[service] ?? [:]).isEmpty { return false }
            waiters[service, default: []].append((id, wake))
            return true
        }
    }

    /// Takes a parked waiter out, returning its wake-up (nil when it was told already).
    @discardableResult
    func unpark(_ service: String, id: UUID) -> (@Sendable () -> Void)? {
        lock.withLock {
            guard let index = waiters[service]?.firstIndex(where: { $0.id == id }) else { return nil }
            return waiters[service]?.remove(at: index).wake
        }
    }

    /// Passive health: an instance that refused or reset a connection gets no new traffic for a while.
    public func suspend(service: String, instance: String, for duration: Duration) {
        lock.withLock { suspended[service + "/" + instance] = ContinuousClock.now + duration }
    }

    /// Waits up to `limit` for a healthy instance (a service that is starting just looks slow).
    public func next(_ service: String, waitingUpTo limit: Duration, excluding: Set<String> = []) async -> Endpoint? {
        if let endpoint = next(service, excluding: excluding) { return endpoint }
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            let id = UUID()
            await withTaskGroup(of: Void.self) { group in
                group.addTask { [self] in
                    await withCheckedContinuation { continuation in
                        if !park(service, id: id, wake: { continuation.resume() }) { continuation.resume() }
                    }
                }
                group.addTask { try? await Task.sleep(until: deadline) }
                await group.next()
                // Whichever finished first, the parked waiter must not outlive this call.
                wake(service: service, id: id)
                group.cancelAll()
            }
            if let endpoint = next(service, excluding: excluding) { return endpoint }
        }
        return next(service, excluding: excluding)
    }
}
