import Foundation

/// Which instances of each service can take traffic right now. The supervisor writes it as
/// instances come and go; the TCP relays (and the HTTP proxy) read it on every connection.
public final class RouteTable: @unchecked Sendable {
    public struct Endpoint: Sendable, Hashable {
        public var instance: String
        public var port: Int
        public var host: String = "127.0.0.1"
    }

    private let lock = NSLock()
    private var endpoints: [String: [String: Endpoint]] = [:]
    /// Instances set aside after a connect failure or reset, until the given time.
    private var suspended: [String: ContinuousClock.Instant] = [:]
    private var cursor: [String: Int] = [:]
    private var waiters: [String: [(id: UUID, continuation: CheckedContinuation<Void, Never>)]] = [:]

    public init() {}

    /// Sets (or, with nil, removes) the healthy endpoint of one instance.
    public func set(service: String, instance: String, endpoint: Endpoint?) {
        let woken: [CheckedContinuation<Void, Never>] = lock.withLock {
            if let endpoint {
                endpoints[service, default: [:]][instance] = endpoint
                return (waiters.removeValue(forKey: service) ?? []).map(\.continuation)
            }
            endpoints[service]?[instance] = nil
            return []
        }
        woken.forEach { $0.resume() }
    }

    public func isHealthy(service: String, instance: String) -> Bool {
        lock.withLock { endpoints[service]?[instance] != nil }
    }

    public func healthy(_ service: String) -> [Endpoint] {
        lock.withLock { (endpoints[service] ?? [:]).values.sorted { $0.instance < $1.instance } }
    }

    /// Round-robin over the healthy instances, skipping `excluding` and recently failed ones (unless
    /// nothing else is left).
    public func next(_ service: String, excluding: Set<String> = []) -> Endpoint? {
        lock.withLock {
            let all = (endpoints[service] ?? [:]).values.filter { !excluding.contains($0.instance) }.sorted { $0.instance < $1.instance }
            let now = ContinuousClock.now
            let usable = all.filter { (suspended[service + "/" + $0.instance] ?? now) <= now }
            let list = usable.isEmpty ? all : usable
            guard !list.isEmpty else { return nil }
            let index = (cursor[service] ?? 0) % list.count
            cursor[service] = index + 1
            return list[index]
        }
    }

    private func wake(service: String, id: UUID) {
        let continuation: CheckedContinuation<Void, Never>? = lock.withLock {
            guard let index = waiters[service]?.firstIndex(where: { $0.id == id }) else { return nil }
            return waiters[service]?.remove(at: index).continuation
        }
        continuation?.resume()
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
                        let ready: Bool = lock.withLock {
                            if !(endpoints[service] ?? [:]).isEmpty { return true }
                            waiters[service, default: []].append((id, continuation))
                            return false
                        }
                        if ready { continuation.resume() }
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
