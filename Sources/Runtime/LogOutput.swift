import DevhostProxy
import Foundation
import NIOConcurrencyHelpers

/// Where service output and devhost's own lines go: the terminal, interleaved line by line with an
/// aligned coloured prefix, and one file per service under `.devhost/logs/` with size-based rotation.
///
/// One lock serialises every write, and each line is written with a single `write(2)`, so a line is
/// never cut in two or mixed with another.
public final class LogOutput: LogTerminal, Sendable {
    public struct Options: Sendable {
        public var colored: Bool
        public var timestamps: Bool
        /// Folder for per-service files; nil keeps logs on the terminal only.
        public var directory: String?
        public var maxFileBytes: Int
        public var keptFiles: Int
        /// Where terminal output goes (standard output by default).
        public var descriptor: Int32

        public init(
            colored: Bool = false, timestamps: Bool = false, directory: String? = nil, maxFileBytes: Int = 5 << 20, keptFiles: Int = 3,
            descriptor: Int32 = STDOUT_FILENO
        ) {
            self.colored = colored
            self.timestamps = timestamps
            self.directory = directory
            self.maxFileBytes = maxFileBytes
            self.keptFiles = keptFiles
            self.descriptor = descriptor
        }
    }

    private let options: Options
    /// Guards everything written or remembered: the terminal and the files are written while it is
    /// held, so lines from services, devhost and the access log never interleave mid-line.
    private let state: NIOLockedValueBox<State>

    fileprivate struct State {
        let options: Options
        var prefixWidth: Int
        var files: [String: (fd: Int32, size: Int)] = [:]
        var colors: [String: String] = [:]
        var recent: [String: [String]] = [:]
        var followers: [UUID: (services: Set<String>?, continuation: AsyncStream<LogLine>.Continuation)] = [:]
    }

    fileprivate static let palette = ["36", "33", "32", "35", "34", "96", "93", "92", "95", "94"]
    public static let recentLimit = 50

    public init(options: Options, labels: [String] = []) {
        self.options = options
        self.state = NIOLockedValueBox(State(options: options, prefixWidth: max(7, labels.map(\.count).max() ?? 0)))
        if let directory = options.directory {
            try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
    }

    deinit {
        state.withLockedValue { state in
            for file in state.files.values { close(file.fd) }
        }
    }

    /// A line of a service's output. `label` is `api.1`; `service` names the log file.
    public func serviceLine(_ line: String, label: String, service: String) {
        state.withLockedValue { state in
            // A terminal that wants colour gets the service's own colours; files, followers (the
            // dashboard, `logs -f`) and plain output get the text without escapes.
            let plain = ANSIText.strip(line)
            state.remember(plain, for: service)
            let color = state.color(for: service)
            state.emit(prefix: label, color: color, text: options.colored ? line : plain)
            state.append(plain, label: label, service: service)
        }
    }

    /// devhost's own status line about `label` (`api.1 listening on :43123`).
    public func event(_ text: String, service: String? = nil, label: String = "devhost") {
        state.withLockedValue { state in
            state.emit(prefix: label, color: "1", text: text)
            if let service { state.append(text, label: label, service: service) }
        }
    }

    /// Prints a stored line the way `up` printed it (`devhost logs`); with timestamps, its recorded time.
    public func replay(_ line: LogLine) {
        state.withLockedValue { state in
            let color = line.label == "devhost" ? "1" : state.color(for: line.service)
            // Files written before escapes were stripped can still hold them.
            state.emit(prefix: line.label, color: color, text: options.colored ? line.text : ANSIText.strip(line.text), time: line.time)
        }
    }

    /// The last lines a service printed (for "never listened" and 503 pages).
    public func recentLines(of service: String) -> [String] {
        state.withLockedValue { $0.recent[service] ?? [] }
    }

    /// Every line written from now on (of `services`, or all), for `devhost logs -f` and the dashboard.
    /// A follower that does not keep up loses the oldest lines, never blocks the services.
    public func follow(services: Set<String>? = nil) -> AsyncStream<LogLine> {
        let id = UUID()
        let (stream, continuation) = AsyncStream<LogLine>.makeStream(bufferingPolicy: .bufferingNewest(5000))
        state.withLockedValue { $0.followers[id] = (services, continuation) }
        continuation.onTermination = { [weak self] _ in
            self?.state.withLockedValue { $0.followers[id] = nil }
        }
        return stream
    }

    /// Ends every follower (devhost is stopping).
    public func finishFollowers() {
        let all = state.withLockedValue { state -> [AsyncStream<LogLine>.Continuation] in
            defer { state.followers = [:] }
            return state.followers.values.map(\.continuation)
        }
        for follower in all { follower.finish() }
    }

    /// What `event` would put before a line of `label` now (the access log formats its own lines).
    public func linePrefix(label: String, color: String) -> [UInt8] {
        state.withLockedValue { Array($0.prefix(label: label, color: color).utf8) }
    }

    /// Whole lines formatted elsewhere (the access log), written to the terminal in one piece
    /// between other lines.
    public func writeRaw(_ bytes: UnsafeRawBufferPointer) {
        state.withLockedValue { _ in writeAll(options.descriptor, bytes) }
    }

    /// `10:15:03.123` for the terminal; `2026-11-24 10:15:03.123` (local time, sorts as text) in files.
    static func timestamp(dated: Bool = false, at date: Date? = nil) -> String {
        var now = timespec()
        if let date {
            now.tv_sec = Int(date.timeIntervalSince1970)
            now.tv_nsec = Int((date.timeIntervalSince1970 - Double(now.tv_sec)) * 1e9)
        } else {
            clock_gettime(CLOCK_REALTIME, &now)
        }
        var parts = tm()
        var seconds = now.tv_sec
        localtime_r(&seconds, &parts)
        let time = String(format: "%02d:%02d:%02d.%03d", parts.tm_hour, parts.tm_min, parts.tm_sec, now.tv_nsec / 1_000_000)
        guard dated else { return time }
        return String(format: "%04d-%02d-%02d ", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday) + time
    }
}

extension LogOutput.State {
    mutating func remember(_ line: String, for service: String) {
        var lines = recent[service] ?? []
        lines.append(line)
        if lines.count > LogOutput.recentLimit { lines.removeFirst(lines.count - LogOutput.recentLimit) }
        recent[service] = lines
    }

    mutating func color(for service: String) -> String {
        if let color = colors[service] { return color }
        let color = LogOutput.palette[colors.count % LogOutput.palette.count]
        colors[service] = color
        return color
    }

    mutating func emit(prefix: String, color: String, text: String, time: String? = nil) {
        var line = self.prefix(label: prefix, color: color, time: time)
        line += text + "\n"
        writeAll(options.descriptor, Array(line.utf8))
    }

    mutating func prefix(label: String, color: String, time: String? = nil) -> String {
        prefixWidth = max(prefixWidth, label.count)
        let padded = label.padding(toLength: prefixWidth, withPad: " ", startingAt: 0)
        var line = ""
        if options.timestamps { line += (time ?? LogOutput.timestamp()) + " " }
        line += options.colored ? "\u{1B}[\(color)m\(padded) |\u{1B}[0m " : "\(padded) | "
        return line
    }

    mutating func append(_ text: String, label: String, service: String) {
        // One record per line: a multi-line message (a reload's list of problems) stays readable by `devhost logs`.
        if text.contains("\n") {
            for part in text.split(separator: "\n", omittingEmptySubsequences: false) {
                append(String(part), label: label, service: service)
            }
            return
        }
        let line = LogLine(time: LogOutput.timestamp(dated: true), service: service, label: label, text: text)
        for follower in followers.values where line.isFollowed(by: follower.services) {
            follower.continuation.yield(line)
        }
        guard let directory = options.directory else { return }
        var file = files[service]
        if file == nil {
            let path = "\(directory)/\(service).log"
            let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0o644)
            guard fd >= 0 else { return }
            var info = stat()
            fstat(fd, &info)
            file = (fd, Int(info.st_size))
        }
        guard var current = file else { return }
        let bytes = Array((line.fileLine + "\n").utf8)
        if current.size + bytes.count > options.maxFileBytes {
            close(current.fd)
            rotate(service: service, in: directory)
            current = (open("\(directory)/\(service).log", O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0o644), 0)
        }
        writeAll(current.fd, bytes)
        current.size += bytes.count
        files[service] = current
    }

    func rotate(service: String, in directory: String) {
        let base = "\(directory)/\(service).log"
        unlink("\(base).\(options.keptFiles)")
        for index in stride(from: options.keptFiles - 1, through: 1, by: -1) {
            rename("\(base).\(index)", "\(base).\(index + 1)")
        }
        rename(base, "\(base).1")
    }
}

func writeAll(_ fd: Int32, _ bytes: [UInt8]) {
    bytes.withUnsafeBytes { writeAll(fd, $0) }
}
