import Foundation
import NIOCore
import Synchronization

/// The request inspector: the most recent exchanges of a proxy, for `devhost requests`, the
/// dashboard and replay. Recording is cheap and lock-free: each event loop appends to its own
/// `InspectorRing` (a copy of each head, the first `bodyBytes` of each body) and ids come from one
/// atomic counter. Readers go to each loop in turn to copy its entries out; parsing, de-chunking,
/// masking and JSON happen in the reader, never on the proxy's path.
public final class Inspector: Sendable {
    public struct Limits: Sendable {
        /// Exchanges listed (and kept by each event loop).
        public var entries = 500
        /// Bytes kept in all, shared out evenly between the event loops.
        public var bytes = 64 << 20
        /// Bytes kept of each body; the rest is counted.
        public var bodyBytes = 64 << 10
        public init() {}
    }

    /// Fields whose values are masked when shown (unless masking is off).
    public static let secretFields: Set<String> = ["authorization", "cookie", "set-cookie", "proxy-authorization"]
    public static let mask = "••••••"

    public let limits: Limits
    /// Names this inspector's run of ids: a reader that finds another one (the shared edge was
    /// started again, its ids from 1) starts over instead of waiting for ids past its last one.
    public let idEpoch = String(UInt32.random(in: 1...UInt32.max), radix: 16)
    private let ids = Atomic<Int>(0)
    private let masking = Atomic<Bool>(true)
    private let recording: Atomic<Bool>
    /// Wall-clock time of a monotonic instant: exchanges carry monotonic instants only.
    private let epoch: (wall: Date, monotonic: NIODeadline)
    private let loops: Int
    private let rings = Mutex<[NIOLoopBound<InspectorRing>]>([])

    /// `loops`: how many event loops share the byte budget (the proxy's group; all cores by default).
    /// `recording`: false keeps the inspector ready for a reload that turns `proxy.inspect` on.
    public init(limits: Limits = Limits(), loops: Int = System.coreCount, recording: Bool = true) {
        self.limits = limits
        self.recording = Atomic(recording)
        self.loops = max(1, loops)
        epoch = (Date(), .now())
    }

    /// Whether secrets (`secretFields`) are shown masked; on until turned off for the session.
    public var masksSecrets: Bool {
        get { masking.load(ordering: .relaxed) }
        set { masking.store(newValue, ordering: .relaxed) }
    }

    /// Whether new exchanges are recorded (`proxy.inspect`, which a reload may change).
    public var isRecording: Bool { recording.load(ordering: .relaxed) }

    /// Turns recording on or off. Off also drops what is kept: whoever turns the inspector off
    /// expects the recorded bodies and secrets gone and the memory back. Each ring learns it on its
    /// own loop, where exchanges begin: the proxy then reads a field of its ring, not an atomic.
    public func record(_ on: Bool) {
        let rings = rings.withLock { rings in
            recording.exchange(on, ordering: .relaxed) == on ? [] : rings
        }
        for ring in rings {
            ring.eventLoop.execute {
                ring.value.recording = on
                if !on { ring.value.clear() }
            }
        }
    }

    func nextID() -> Int { ids.wrappingAdd(1, ordering: .relaxed).newValue }

    /// The id of the newest exchange begun so far (0: none).
    public var lastID: Int { ids.load(ordering: .relaxed) }

    /// The ring of `loop` (made once per loop, by `ProxyContext.perLoop`).
    func ring(for loop: EventLoop) -> InspectorRing {
        let ring = InspectorRing(inspector: self, capacity: limits.entries, byteLimit: limits.bytes / loops, bodyLimit: limits.bodyBytes)
        let bound = NIOLoopBound(ring, eventLoop: loop)
        // Under the lock `record` takes: a ring made while it runs is either on its list or sees its value.
        rings.withLock {
            ring.recording = isRecording
            $0.append(bound)
        }
        return ring
    }

    func wallTime(_ instant: NIODeadline) -> Date {
        epoch.wall.addingTimeInterval(Double((instant - epoch.monotonic).nanoseconds) / 1e9)
    }

    /// The newest `limits.entries` exchanges with an id above `after`, oldest first. With
    /// `labelPrefix`, only those counted under a label starting with it (one project's services
    /// at the shared edge, `key/`), picked before any is parsed.
    public func requests(after: Int = 0, labelPrefix: String? = nil) async -> [InspectedRequest] {
        var snapshots = await snapshot(after: after)
        if let labelPrefix { snapshots.removeAll { !$0.label.hasPrefix(labelPrefix) } }
        return snapshots.suffix(limits.entries).map { InspectedRequest($0, inspector: self) }
    }

    /// One exchange, while it is still kept (and, with `labelPrefix`, counted under such a label).
    public func request(id: Int, labelPrefix: String? = nil) async -> InspectedRequest? {
        await snapshot(after: id - 1).first { $0.id == id && labelPrefix.map($0.label.hasPrefix) != false }.map {
            InspectedRequest($0, inspector: self)
        }
    }

    /// What the rings hold: entries and the bytes they account for, per event loop.
    public func usage() async -> [(entries: Int, bytes: Int)] {
        var usage: [(entries: Int, bytes: Int)] = []
        for ring in rings.withLock({ $0 }) {
            if let one = try? await ring.eventLoop.submit({ (ring.value.count, ring.value.bytes) }).get() {
                usage.append((one.0, one.1))
            }
        }
        return usage
    }

    private func snapshot(after: Int) async -> [InspectedSnapshot] {
        var all: [InspectedSnapshot] = []
        for ring in rings.withLock({ $0 }) {
            if let taken = try? await ring.eventLoop.submit({ ring.value.snapshot(after: after) }).get() {
                all += taken
            }
        }
        return all.sorted { $0.id < $1.id }
    }
}
