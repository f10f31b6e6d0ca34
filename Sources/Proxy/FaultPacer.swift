/// Paces one response body to a fault's bandwidth: how many bytes may go now, and when the next
/// may. A token bucket that starts with the first body byte and holds at most `burst` bytes (a
/// fiftieth of a second's worth, at least 512), so the average rate is exact and the pauses short.
/// Times are nanoseconds on the proxy's monotonic clock.
struct FaultPacer: Equatable {
    let bytesPerSecond: Int
    let burst: Int
    private(set) var start: UInt64?
    private(set) var sent = 0
    /// A wake-up is scheduled to send what is held back.
    var waking = false
    /// The upstream closed while bytes were held back: its close is handled once they have gone.
    var upstreamClosed = false

    init(bytesPerSecond: Int) {
        self.bytesPerSecond = bytesPerSecond
        burst = max(512, bytesPerSecond / 50)
    }

    /// The bytes that may go at `now` (and are counted as sent), out of `available`.
    mutating func take(_ available: Int, now: UInt64) -> Int {
        let start = self.start ?? now
        self.start = start
        let earned = Double(now &- start) * Double(bytesPerSecond) / 1e9
        let allowed = min(Double(Int.max / 2), earned) + Double(burst) - Double(sent)
        let granted = max(0, min(available, Int(allowed)))
        sent += granted
        return granted
    }

    /// When `wanted` more bytes (at most a burst) may go.
    func due(wanted: Int) -> UInt64 {
        let start = self.start ?? 0
        let need = Double(sent + min(max(wanted, 1), burst) - burst)
        return start + UInt64(max(0, need) * 1e9 / Double(bytesPerSecond))
    }
}
