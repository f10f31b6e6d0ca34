import DevhostManifest
import DevhostProxy
import Foundation

/// A fault in force as `GET /v1/faults`, `devhost status --json` and the dashboard show it.
public struct FaultStatus: Codable, Sendable, Equatable {
    public var id: String
    public var service: String
    public var path: String?
    public var latencyMs: Int
    public var jitterMs: Int
    /// 0: no error answers.
    public var errorStatus: Int
    public var errorRate: Double
    public var resetRate: Double
    /// 0: not paced.
    public var bandwidthBytesPerSecond: Int
    public var expiresInSeconds: Double
    /// What it does, in words (`latency 300ms ±100ms; 503 for 20%`).
    public var summary: String

    init(
        id: String, service: String, path: String?, latencyMs: Int, jitterMs: Int, errorStatus: Int, errorRate: Double, resetRate: Double,
        bandwidthBytesPerSecond: Int, expiresInSeconds: Double, summary: String
    ) {
        (self.id, self.service, self.path, self.latencyMs, self.jitterMs) = (id, service, path, latencyMs, jitterMs)
        (self.errorStatus, self.errorRate, self.resetRate) = (errorStatus, errorRate, resetRate)
        (self.bandwidthBytesPerSecond, self.expiresInSeconds, self.summary) = (bandwidthBytesPerSecond, expiresInSeconds, summary)
    }

    public init(_ rule: FaultRule, now: UInt64) {
        id = rule.id
        service = rule.service
        path = rule.path
        latencyMs = rule.latencyMilliseconds
        jitterMs = rule.jitterMilliseconds
        errorStatus = rule.errorStatus
        errorRate = rule.errorRate
        resetRate = rule.resetRate
        bandwidthBytesPerSecond = rule.bytesPerSecond
        expiresInSeconds = rule.expires > now ? Double(rule.expires - now) / 1e9 : 0
        summary = Self.summary(rule)
    }

    static func summary(_ rule: FaultRule) -> String {
        var parts: [String] = []
        if rule.latencyMilliseconds > 0 {
            parts.append(
                "latency \(DurationText.format(.milliseconds(rule.latencyMilliseconds)))"
                    + (rule.jitterMilliseconds > 0 ? " ±\(DurationText.format(.milliseconds(rule.jitterMilliseconds)))" : ""))
        }
        if rule.errorStatus != 0 { parts.append("\(rule.errorStatus) for \(percent(rule.errorRate))") }
        if rule.resetRate > 0 { parts.append("reset for \(percent(rule.resetRate))") }
        if rule.bytesPerSecond > 0 { parts.append("bandwidth \(bandwidth(rule.bytesPerSecond))") }
        return parts.joined(separator: "; ")
    }

    static func percent(_ rate: Double) -> String {
        let value = rate * 100
        return value == value.rounded() ? "\(Int(value))%" : String(format: "%.1f%%", value)
    }

    static func bandwidth(_ bytes: Int) -> String {
        if bytes % 1_048_576 == 0 { return "\(bytes / 1_048_576)MiB/s" }
        if bytes % 1024 == 0 { return "\(bytes / 1024)KiB/s" }
        return "\(bytes)B/s"
    }

    /// One line: `f1 api /checkout: latency 300ms; 503 for 20% (4m59s left)`.
    public var line: String {
        let left = Int(expiresInSeconds.rounded(.up))
        let time = left >= 60 ? "\(left / 60)m\(String(format: "%02d", left % 60))s" : "\(left)s"
        return "\(id) \(service)\(path ?? ""): \(summary) (\(time) left)"
    }

    public static func list(_ table: FaultTable) -> [FaultStatus] {
        let now = FaultTable.now
        return table.active().map { FaultStatus($0, now: now) }
    }
}
