import DevhostManifest
import Foundation

/// A fault as a user asks for it (`devhost fault api --latency 300ms --error 503 --rate 0.2`, or the
/// same words as query parameters of `POST /v1/faults`), read and checked before it becomes a rule.
/// Every problem names the option it is about and what is accepted.
public struct FaultInput: Sendable, Equatable {
    public var service: String
    public var path: String?
    public var latencyMilliseconds = 0
    public var jitterMilliseconds = 0
    public var errorStatus = 0
    public var errorRate = 0.0
    public var resetRate = 0.0
    public var bytesPerSecond = 0
    /// How long the fault lasts (default 10 minutes: none is left on by accident).
    public var milliseconds: Int64 = 600_000

    public static let defaultDuration = "10m"
    /// The longest a fault may last, and the longest latency it may add.
    public static let maxMilliseconds: Int64 = 24 * 3_600_000
    public static let maxLatencyMilliseconds = 600_000

    public struct Problem: Error, Sendable, Equatable, CustomStringConvertible {
        public var description: String
        init(_ text: String) { description = text }
    }

    /// The query parameters' names: the CLI's options without the dashes.
    public static let keys = [
        "service", "path", "latency", "jitter", "error", "reset", "rate", "error_rate", "reset_rate", "bandwidth", "for",
    ]

    /// Reads the parameters. `rate` is the rate of whichever of `error` and `reset` is given (1 when
    /// omitted); with both, `error_rate` and `reset_rate` say which is which.
    public static func parse(_ values: [String: String]) throws(Problem) -> FaultInput {
        if let unknown = values.keys.sorted().first(where: { !keys.contains($0) }) {
            throw Problem("unknown fault option \(unknown) (options: \(keys.joined(separator: ", ")))")
        }
        guard let service = values["service"], !service.isEmpty else { throw Problem("a fault needs a service") }
        var input = FaultInput(service: service)
        if let path = values["path"] {
            guard path.hasPrefix("/"), !path.contains("?"), !path.contains("#"), !path.contains(" ") else {
                throw Problem("--path \(path): a path prefix starts with / and has no query (like /checkout)")
            }
            input.path = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
        }
        if let text = values["latency"] {
            input.latencyMilliseconds = try milliseconds(text, option: "latency", max: Int64(maxLatencyMilliseconds))
        }
        if let text = values["jitter"] {
            input.jitterMilliseconds = try milliseconds(text, option: "jitter", max: Int64(maxLatencyMilliseconds))
        }
        if let text = values["error"] {
            guard let status = Int(text), (400...599).contains(status) else {
                throw Problem("--error \(text): the status to answer must be a number from 400 to 599 (like 503)")
            }
            input.errorStatus = status
        }
        let reset = values["reset"].map { $0 != "0" && $0 != "false" } ?? false
        let errorRate = try values["error_rate"].map { t throws(Problem) in try rate(t, option: "error-rate") }
        let resetRate = try values["reset_rate"].map { t throws(Problem) in try rate(t, option: "reset-rate") }
        let common = try values["rate"].map { t throws(Problem) in try rate(t, option: "rate") }
        if common != nil, input.errorStatus != 0, reset {
            throw Problem("--rate is ambiguous with both --error and --reset: give --error-rate and --reset-rate")
        }
        if common != nil, input.errorStatus == 0, !reset { throw Problem("--rate needs --error STATUS or --reset") }
        if errorRate != nil, input.errorStatus == 0 { throw Problem("--error-rate needs --error STATUS") }
        if resetRate != nil, !reset { throw Problem("--reset-rate needs --reset") }
        if input.errorStatus != 0 { input.errorRate = errorRate ?? common ?? 1 }
        if reset { input.resetRate = resetRate ?? common ?? 1 }
        if input.jitterMilliseconds > 0, input.latencyMilliseconds == 0 { throw Problem("--jitter needs --latency") }
        if let text = values["bandwidth"] { input.bytesPerSecond = try bandwidth(text) }
        if let text = values["for"] {
            guard let duration = DurationText.parse(text), DurationText.milliseconds(duration) > 0 else {
                throw Problem("--for \(text): not a duration (like 30s, 5m or 1h)")
            }
            input.milliseconds = DurationText.milliseconds(duration)
            guard input.milliseconds <= maxMilliseconds else { throw Problem("--for \(text): at most 24h") }
        }
        if input.latencyMilliseconds == 0, input.errorStatus == 0, !reset, input.bytesPerSecond == 0 {
            throw Problem("nothing to inject: give --latency, --error STATUS, --reset or --bandwidth")
        }
        return input
    }

    /// The rule, with its id, ending `milliseconds` after `now` (nanoseconds, the proxy's clock).
    public func rule(id: String, now: UInt64) -> FaultRule {
        FaultRule(
            id: id, service: service, path: path, latencyMilliseconds: latencyMilliseconds, jitterMilliseconds: jitterMilliseconds,
            errorStatus: errorStatus, errorRate: errorRate, resetRate: resetRate, bytesPerSecond: bytesPerSecond,
            expires: now + UInt64(milliseconds) * 1_000_000)
    }

    static func milliseconds(_ text: String, option: String, max: Int64) throws(Problem) -> Int {
        guard let duration = DurationText.parse(text) else { throw Problem("--\(option) \(text): not a duration (like 300ms or 1.5s)") }
        let ms = DurationText.milliseconds(duration)
        guard ms <= max else { throw Problem("--\(option) \(text): at most \(DurationText.format(.milliseconds(max)))") }
        return Int(ms)
    }

    static func rate(_ text: String, option: String) throws(Problem) -> Double {
        guard let value = Double(text), value.isFinite, (0...1).contains(value) else {
            throw Problem("--\(option) \(text): a rate is a number from 0 to 1 (0.2 is one request in five)")
        }
        return value
    }

    private static let sizeUnits: [(String, Double)] = [
        ("", 1), ("b", 1), ("kb", 1000), ("mb", 1_000_000), ("gb", 1_000_000_000), ("k", 1024), ("kib", 1024), ("m", 1_048_576),
        ("mib", 1_048_576), ("gib", 1_073_741_824),
    ]

    /// `64KiB/s`, `1MB/s`, `500B/s` or a bare number of bytes a second (`/s` may be left off).
    static func bandwidth(_ text: String) throws(Problem) -> Int {
        var body = Substring(text.lowercased().trimmingCharacters(in: .whitespaces))
        if body.hasSuffix("/s") { body = body.dropLast(2) }
        let number = body.prefix { $0.isNumber || $0 == "." }
        let unit = body.dropFirst(number.count)
        guard let value = Double(number), value > 0, value.isFinite, let scale = sizeUnits.first(where: { $0.0 == unit })?.1,
            value * scale >= 1, value * scale < 1e12
        else {
            throw Problem("--bandwidth \(text): not a rate (like 64KiB/s, 1MB/s or 500B/s)")
        }
        return Int(value * scale)
    }
}
