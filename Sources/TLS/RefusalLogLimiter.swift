/// Decides which refused handshakes get a log line: at most one per SNI name per interval (a
/// minute), and the next line for that name says how many were left out. A browser retrying a
/// mistyped host, or a script in a loop, would otherwise fill the terminal with the same line.
///
/// Pure: the time is passed in, so tests drive it with a fake clock.
public struct RefusalLogLimiter: Sendable {
    public enum Decision: Sendable, Equatable {
        /// Log a line; `suppressed` refusals of this name since its last line were not logged.
        case log(suppressed: Int)
        case suppress
    }

    private struct Entry {
        var logged: ContinuousClock.Instant
        var suppressed: Int
    }

    public let interval: Duration
    /// Names remembered at most; past that the name logged longest ago is forgotten (its untold
    /// count with it), so a flood of distinct names costs bounded memory.
    public let capacity: Int
    private var entries: [String: Entry] = [:]

    public init(interval: Duration = .seconds(60), capacity: Int = 1000) {
        self.interval = interval
        self.capacity = max(1, capacity)
    }

    /// How many names are remembered now.
    public var count: Int { entries.count }

    public mutating func refused(_ name: String, at now: ContinuousClock.Instant) -> Decision {
        if var entry = entries[name] {
            if now - entry.logged < interval {
                entry.suppressed += 1
                entries[name] = entry
                return .suppress
            }
            entries[name] = Entry(logged: now, suppressed: 0)
            return .log(suppressed: entry.suppressed)
        }
        if entries.count >= capacity {
            // A scan, only when full: entries whose window has passed go first, else the oldest.
            let expired = entries.filter { now - $0.value.logged >= interval && $0.value.suppressed == 0 }.map(\.key)
            if expired.isEmpty {
                if let oldest = entries.min(by: { $0.value.logged < $1.value.logged })?.key { entries[oldest] = nil }
            } else {
                for key in expired { entries[key] = nil }
            }
        }
        entries[name] = Entry(logged: now, suppressed: 0)
        return .log(suppressed: 0)
    }
}
