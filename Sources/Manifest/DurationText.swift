import Foundation

/// Durations as users write them in manifests: `500ms`, `1s`, `1.5s`, `2m`, `1h30m`, or a bare number of seconds.
public enum DurationText {
    private static let units: [(suffix: String, milliseconds: Double)] = [
        ("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000),
    ]

    /// Longer is refused (nil, a "not a duration" error): 100 years, far past any timeout or interval,
    /// and far enough inside Int64 nanoseconds that adding one to a clock reading cannot overflow.
    public static let longest: Double = 100 * 365 * 24 * 3_600_000

    public static func parse(_ text: String) -> Duration? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if let seconds = Double(trimmed), seconds >= 0, seconds.isFinite {
            return seconds * 1000 <= longest ? .milliseconds(Int64((seconds * 1000).rounded())) : nil
        }
        var rest = Substring(trimmed)
        var total = 0.0
        guard !rest.isEmpty else { return nil }
        while !rest.isEmpty {
            let number = rest.prefix { $0.isNumber || $0 == "." }
            guard !number.isEmpty, let value = Double(number) else { return nil }
            rest = rest.dropFirst(number.count)
            let unitText = rest.prefix { $0.isLetter }
            // `ms` must win over `m` followed by garbage, so match the whole letter run.
            guard let unit = units.first(where: { $0.suffix == String(unitText) }) else { return nil }
            rest = rest.dropFirst(unitText.count)
            total += value * unit.milliseconds
        }
        return total <= longest ? .milliseconds(Int64(total.rounded())) : nil
    }

    /// The shortest exact spelling: `1s`, `500ms`, `1m30s`.
    public static func format(_ duration: Duration) -> String {
        let ms = milliseconds(duration)
        if ms == 0 { return "0s" }
        if ms % 1000 != 0 { return "\(ms)ms" }
        var seconds = ms / 1000
        var text = ""
        if seconds >= 3600 {
            text += "\(seconds / 3600)h"
            seconds %= 3600
        }
        if seconds >= 60 {
            text += "\(seconds / 60)m"
            seconds %= 60
        }
        if seconds > 0 { text += "\(seconds)s" }
        return text
    }

    public static func milliseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}

extension DurationText {
    /// Milliseconds with their fraction.
    public static func millisecondsExact(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) * 1000 + Double(attoseconds) / 1e15
    }
}
