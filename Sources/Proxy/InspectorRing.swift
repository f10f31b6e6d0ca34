import NIOCore

/// One event loop's share of the request inspector: the most recent exchanges its connections
/// served, oldest first, within an entry and a byte budget. Used on its loop only: the proxy
/// appends without a lock, and readers come to the loop (`Inspector.snapshot`).
final class InspectorRing {
    /// What an entry costs beyond the buffers it holds (the object, its strings' references).
    static let entryOverhead = 320

    let capacity: Int
    let byteLimit: Int
    let bodyLimit: Int
    private unowned let inspector: Inspector
    /// A circular buffer of `capacity` slots; `first` is the oldest, `count` are filled.
    private var slots: [InspectedExchange?]
    private var first = 0
    private(set) var count = 0
    /// The bytes the kept entries account for (their `accounted`, summed).
    private(set) var bytes = 0
    /// New exchanges are recorded (`Inspector.isRecording`, set on this loop by `Inspector.record`).
    var recording = true

    init(inspector: Inspector, capacity: Int, byteLimit: Int, bodyLimit: Int) {
        self.inspector = inspector
        self.capacity = max(1, capacity)
        self.byteLimit = byteLimit
        self.bodyLimit = bodyLimit
        slots = Array(repeating: nil, count: self.capacity)
    }

    /// Starts recording an exchange: it is listed from now on, in flight until it ends.
    func begin(_ exchange: ProxyExchange, secure: Bool) -> InspectedExchange {
        add(InspectedExchange(id: inspector.nextID(), exchange: exchange, secure: secure, ring: self))
    }

    /// The same for an exchange that is not a `ProxyExchange` (a relayed HTTP/2 stream).
    func begin(stream start: InspectedExchange.Start) -> InspectedExchange {
        add(InspectedExchange(id: inspector.nextID(), start: start, ring: self))
    }

    private func add(_ entry: InspectedExchange) -> InspectedExchange {
        if count == capacity { evictOldest() }
        slots[(first + count) % capacity] = entry
        count += 1
        bytes += entry.accounted
        trim()
        return entry
    }

    /// An entry took more storage (a body piece, a response head).
    func grew(_ entry: InspectedExchange, by delta: Int) {
        entry.accounted += delta
        bytes += delta
        if bytes > byteLimit { trim() }
    }

    /// Oldest first until the bytes fit (possibly the entry that just grew: it then stops keeping).
    private func trim() {
        while bytes > byteLimit, count > 0 { evictOldest() }
    }

    /// Drops every entry (the inspector was turned off); entries still in flight stop keeping.
    func clear() {
        for entry in entries { entry.evicted = true }
        slots = Array(repeating: nil, count: capacity)
        (first, count, bytes) = (0, 0, 0)
    }

    private func evictOldest() {
        guard let oldest = slots[first] else { return }
        slots[first] = nil
        first = (first + 1) % capacity
        count -= 1
        bytes -= oldest.accounted
        oldest.evicted = true
    }

    /// The kept entries, oldest first.
    var entries: [InspectedExchange] { (0..<count).compactMap { slots[(first + $0) % capacity] } }

    /// The entries with an id above `after`, oldest first.
    func snapshot(after: Int) -> [InspectedSnapshot] {
        var taken: [InspectedSnapshot] = []
        for index in 0..<count {
            guard let entry = slots[(first + index) % capacity], entry.id > after else { continue }
            taken.append(entry.snapshot)
        }
        return taken
    }
}
