import Foundation
import NIOCore
import Synchronization

/// The fault rules in force, published to every proxy connection (and TCP relay) the way routes are:
/// a whole `FaultSet` swapped under a lock, with an atomic generation and count so a connection
/// reads one atomic per request while nothing is installed and takes the lock only when the set
/// changed since it last looked. Expired rules stop applying at once and leave the table (and the
/// edge, and `devhost status`) by themselves.
public final class FaultTable: @unchecked Sendable {
    private let lock = NSLock()
    private var set = FaultSet([])
    private var serial = 0
    private let count = Atomic<Int>(0)
    private let version = Atomic<Int>(0)
    private var expiry: Task<Void, Never>?
    /// Told of the rules in force after every change (a project on the shared edge sends them there).
    public typealias Observer = @Sendable (_ rules: [FaultRule]) -> Void
    private var observer: Observer?
    private var refusal: String?

    /// Why faults cannot be installed here (a shared edge too old to apply them); nil: they can.
    public var unsupported: String? {
        get { lock.withLock { refusal } }
        set { lock.withLock { refusal = newValue } }
    }

    public init() {}

    /// Nothing installed: the proxy's whole cost of faults then is this load.
    @inline(__always) var isEmpty: Bool { count.load(ordering: .relaxed) == 0 }

    var generation: Int { version.load(ordering: .acquiring) }

    /// The set and the generation it belongs to.
    func snapshot() -> (generation: Int, set: FaultSet) {
        lock.withLock { (version.load(ordering: .relaxed), set) }
    }

    public func observe(_ observer: @escaping Observer) {
        lock.withLock { self.observer = observer }
    }

    /// The monotonic clock the rules' expiry times are on.
    public static var now: UInt64 { NIODeadline.now().uptimeNanoseconds }

    /// Installs a rule made from `input`; it replaces a rule for the same service and path.
    @discardableResult
    public func install(_ input: FaultInput) -> FaultRule {
        let now = Self.now
        let rule: FaultRule = lock.withLock {
            serial += 1
            return input.rule(id: "f\(serial)", now: now)
        }
        change { $0.filter { $0.service != rule.service || $0.path != rule.path } + [rule] }
        return rule
    }

    /// Removes the rules of `service` (every rule when nil) or the one with that id; returns them.
    @discardableResult
    public func clear(service: String? = nil, id: String? = nil) -> [FaultRule] {
        var removed: [FaultRule] = []
        change { rules in
            removed = rules.filter { rule in (service == nil || rule.service == service) && (id == nil || rule.id == id) }
            return rules.filter { rule in !removed.contains { $0.id == rule.id } }
        }
        return removed
    }

    /// Puts these rules in force instead of the current ones (the edge, for the projects' rules).
    public func replace(with rules: [FaultRule]) {
        change { _ in rules }
    }

    /// The rules in force now, in the order they were installed.
    public func active() -> [FaultRule] {
        let now = Self.now
        return lock.withLock {
            set.rules.filter { now < $0.expires }.sorted { $0.id.count != $1.id.count ? $0.id.count < $1.id.count : $0.id < $1.id }
        }
    }

    private func change(_ edit: ([FaultRule]) -> [FaultRule]) {
        let now = Self.now
        let (rules, observer): ([FaultRule], Observer?) = lock.withLock {
            let rules = edit(set.rules).filter { now < $0.expires }
            set = FaultSet(rules)
            count.store(rules.count, ordering: .relaxed)
            // Inside the lock, after the set: whoever sees the new generation finds the new set.
            version.add(1, ordering: .releasing)
            scheduleExpiry(rules)
            return (rules, self.observer)
        }
        observer?(rules)
    }

    /// Wakes at the earliest expiry to take the expired rules out (called with the lock held).
    private func scheduleExpiry(_ rules: [FaultRule]) {
        expiry?.cancel()
        expiry = nil
        guard let first = rules.map(\.expires).min() else { return }
        let now = Self.now
        let wait = first > now ? first - now : 0
        expiry = Task { [weak self] in
            try? await Task.sleep(for: .nanoseconds(Int64(wait)))
            guard !Task.isCancelled, let self else { return }
            self.change { $0 }
        }
    }
}
