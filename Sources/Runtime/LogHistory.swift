import DevhostManifest
import Foundation

/// One line of a service's log: what `devhost logs` prints and the dashboard streams.
public struct LogLine: Sendable, Equatable, Codable {
    /// Local time, `2026-11-24 10:15:03.123`: sorts as text.
    public var time: String
    public var service: String
    /// `api.1` for output, `devhost` for devhost's own lines about the service.
    public var label: String
    public var text: String

    public init(time: String, service: String, label: String, text: String) {
        self.time = time
        self.service = service
        self.label = label
        self.text = text
    }

    private enum CodingKeys: String, CodingKey {
        case time, service, label
        case text = "line"
    }

    /// The label (and file) of devhost's own lines.
    public static let devhost = "devhost"

    /// Whether someone following `services` (nil: all) sees this line; devhost's own lines about a
    /// service also go to whoever follows `devhost`.
    func isFollowed(by services: Set<String>?) -> Bool {
        guard let services else { return true }
        return services.contains(service) || (label == Self.devhost && services.contains(Self.devhost))
    }

    /// One JSON object (`{"label","line","service","time"}`), as the API streams it.
    public var json: String {
        String(decoding: (try? JSONEncoder().encode(self)) ?? Data("{}".utf8), as: UTF8.self)
    }

    /// `2026-11-24 10:15:03.123 api.1 | text`, as stored under `.devhost/logs/`.
    var fileLine: String { "\(time) \(label) | \(text)" }

    init?(fileLine: Substring, service: String) {
        // The timestamp is fixed-width (23 characters); the label ends at the first " | ".
        guard fileLine.count > 24, let bar = Self.bar(in: fileLine) else { return nil }
        let time = fileLine.prefix(23)
        let labelStart = fileLine.index(fileLine.startIndex, offsetBy: 24)
        guard labelStart <= bar.lowerBound else { return nil }
        self.init(
            time: String(time), service: service, label: String(fileLine[labelStart..<bar.lowerBound]),
            text: String(fileLine[bar.upperBound...]))
    }

    /// The first ` | `, found in the UTF-8 bytes: Foundation's range(of:) goes through
    /// CoreFoundation, whose search code `devhost top` would otherwise keep resident.
    static func bar(in line: Substring) -> Range<Substring.Index>? {
        let utf8 = line.utf8
        var index = utf8.startIndex
        while let space = utf8[index...].firstIndex(of: UInt8(ascii: " ")) {
            let pipe = utf8.index(after: space)
            guard pipe != utf8.endIndex, utf8[pipe] == UInt8(ascii: "|") else {
                index = pipe
                continue
            }
            let after = utf8.index(after: pipe)
            guard after != utf8.endIndex else { return nil }
            if utf8[after] == UInt8(ascii: " ") { return space..<utf8.index(after: after) }
            index = after
        }
        return nil
    }
}

/// Reads the log files a running (or finished) devhost wrote, across rotations.
public struct LogHistory: Sendable {
    public let directory: String

    public init(directory: String) {
        self.directory = directory
    }

    /// Services with a log file.
    public func services() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { $0.hasSuffix(".log") }.map { String($0.dropLast(4)) }.sorted()
    }

    /// The last `limit` lines of `services` (all when empty), oldest first, merged by time;
    /// `since` drops older lines.
    public func lines(services wanted: [String] = [], limit: Int? = nil, since: Date? = nil) -> [LogLine] {
        let cutoff = since.map { LogOutput.timestamp(dated: true, at: $0) }
        var all: [LogLine] = []
        let names = wanted.isEmpty ? services() : wanted
        // devhost's lines about a service (restarts, health, watch) live in that service's file;
        // `devhost logs devhost` shows them beside the project-wide ones, as the dashboard does.
        let borrowed = names.contains(LogLine.devhost) ? services().filter { !names.contains($0) } : []
        // A service name is a file name here; one that is not a valid name could be a path (`../x`).
        for service in names + borrowed where ServiceName.problem(service) == nil {
            let onlyDevhostLines = borrowed.contains(service)
            var mine: [LogLine] = []
            // Oldest rotation first: service.log.3, .2, .1, then service.log.
            let base = "\(directory)/\(service).log"
            let rotated = (1...9).map { "\(base).\($0)" }.filter { FileManager.default.fileExists(atPath: $0) }
            for path in rotated.reversed() + [base] {
                guard let data = FileManager.default.contents(atPath: path) else { continue }
                let text = String(decoding: data, as: UTF8.self)
                for raw in text.split(separator: "\n", omittingEmptySubsequences: true) {
                    guard let line = LogLine(fileLine: raw, service: service) else { continue }
                    if onlyDevhostLines, line.label != LogLine.devhost { continue }
                    if let cutoff, line.time < cutoff { continue }
                    mine.append(line)
                }
            }
            if let limit, mine.count > limit { mine.removeFirst(mine.count - limit) }
            all += mine
        }
        // A stable sort keeps each service's own order for lines written in the same millisecond.
        all = all.enumerated().sorted { ($0.element.time, $0.offset) < ($1.element.time, $1.offset) }.map(\.element)
        if let limit, all.count > limit { all.removeFirst(all.count - limit) }
        return all
    }
}
