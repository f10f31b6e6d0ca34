import DevhostProxy
import Foundation

/// Where service output and devhost's own lines go: the terminal, interleaved line by line with an
/// aligned coloured prefix, and one file per service under `.devhost/logs/` with size-based rotation.
///
/// One lock serialises every write, and each line is written with a single `write(2)`, so a line is
/// never cut in two or mixed with another.
public final class LogOutput: LogTerminal, @unchecked Sendable {
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
    private let lock = NSLock()
    private var prefixWidth: Int
    private var files: [String: (fd: Int32, size: Int)] = [:]
    private var colors: [String: String] = [:]
    private var recent: [String: [String]] = [:]
    private var followers: [UUID: (services: Set<String>?, continuation: AsyncStream<LogLine>.Continuation)] = [:]
    private static let palette = ["36", "33", "32", "35", "34", "96", "93", "92", "95", "94"]
    public static let recentLimit = 50

    public init(options: Options, labels: [String] = []) {
        self.options = options
        self.prefixWidth = max(7, labels.map(\.count).max() ?? 0)
        if let directory = options.directory {
            try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
    }

    deinit {
        for file in files.values { close(file.fd) }
    }

    /// A line of a service's output. `label` is `api.1`; `service` names the log file.
    public func serviceLine(_ line: String, label: String, service: String) {
        lock.withLock {
            // A terminal that wants colour gets the service's own colours; files, followers (the
            // dashboard, `logs -f`) and plain output get the text without escapes.
            let plain = ANSIText.strip(line)
            remember(plain, for: service)
            let color = colorLocked(for: service)
            emitLocked(prefix: label, color: color, text: options.colored ? line : plain)
            appendLocked(plain, label: label, service: service)
        }
    }

    /// devhost's own status line about `label` (`api.1 listening on :43123`).
    public func event(_ text: String, service: String? = nil, label: String = "devhost") {
        lock.withLock {
            emitLocked(prefix: label, color: "1", text: text)
            if let service { appendLocked(text, label: label, service: service) }
        }
    }

    /// Prints a stored line the way `up` printed it (`devhost logs`); with timestamps, its recorded time.
    public func replay(_ line: LogLine) {
        lock.withLock {
            let color = line.label == "devhost" ? "1" : colorLocked(for: line.service)
            // Files written before escapes were stripped can still hold them.
            emitLocked(prefix: line.label, color: color, text: options.colored ? line.text : ANSIText.strip(line.text), time: line.time)
        }
    }

    /// The last lines a service printed (for "never listened" and 503 pages).
    public func recentLines(of service: String) -> [String] {
        lock.withLock { recent[service] ?? [] }
    }

    /// Every line written from now on (of `services`, or all), for `devhost logs -f` and the dashboard.
    /// A follower that does not keep up loses the oldest lines, never blocks the services.
    public func follow(services: Set<String>? = nil) -> AsyncStream<LogLine> {
        let id = UUID()
        let (stream, continuation) = AsyncStream<LogLine>.makeStream(bufferingPolicy: .bufferingNewest(5000))
        lock.withLock { followers[id] = (services, continuation) }
        continuation.onTermination = { [weak self] _ in
            guard let self else { return }
            self.lock.withLock { self.followers[id] = nil }
        }
        return stream
    }

    /// Ends every follower (devhost is stopping).
    public func finishFollowers() {
        let all = lock.withLock { () -> [AsyncStream<LogLine>.Continuation] in
            defer { followers = [:] }
            return followers.values.map(\.continuation)
        }
        for follower in all { follower.finish() }
    }

    private func remember(_ line: String, for service: String) {
        var lines = recent[service] ?? []
        lines.append(line)
        if lines.count > Self.recentLimit { lines.removeFirst(lines.count - Self.recentLimit) }
        recent[service] = lines
    }

    private func colorLocked(for service: String) -> String {
        if let color = colors[service] { return color }
        let color = Self.palette[colors.count % Self.palette.count]
        colors[service] = color
        return color
    }

    private func emitLocked(prefix: String, color: String, text: String, time: String? = nil) {
        var line = prefixLocked(label: prefix, color: color, time: time)
        line += text + "\n"
        writeAll(options.descriptor, Array(line.utf8))
    }

    private func prefixLocked(label: String, color: String, time: String? = nil) -> String {
        prefixWidth = max(prefixWidth, label.count)
        let padded = label.padding(toLength: prefixWidth, withPad: " ", startingAt: 0)
        var line = ""
        if options.timestamps { line += (time ?? Self.timestamp()) + " " }
        line += options.colored ? "\u{1B}[\(color)m\(padded) |\u{1B}[0m " : "\(padded) | "
        return line
    }

    /// What `event` would put before a line of `label` now (the access log formats its own lines).
    public func linePrefix(label: String, color: String) -> [UInt8] {
        lock.withLock { Array(prefixLocked(label: label, color: color).utf8) }
    }

    /// Whole lines formatted elsewhere (the access log), written to the terminal in one piece
    /// between other lines.
    public func writeRaw(_ bytes: UnsafeRawBufferPointer) {
        lock.withLock { writeAll(options.descriptor, bytes) }
    }

    private func appendLocked(_ text: String, label: String, service: String) {
        // One record per line: a multi-line message (a reload's list of problems) stays readable by `devhost logs`.
        if text.contains("\n") {
            for part in text.split(separator: "\n", omittingEmptySubsequences: false) {
                appendLocked(String(part), label: label, service: service)
            }
            return
        }
        let line = LogLine(time: Self.timestamp(dated: true), service: service, label: label, text: text)
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

    private func rotate(service: String, in directory: String) {
        let base = "\(directory)/\(service).log"
        unlink("\(base).\(options.keptFiles)")
        for index in stride(from: options.keptFiles - 1, through: 1, by: -1) {
            rename("\(base).\(index)", "\(base).\(index + 1)")
        }
        rename(base, "\(base).1")
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

func writeAll(_ fd: Int32, _ bytes: [UInt8]) {
    bytes.withUnsafeBytes { writeAll(fd, $0) }
}
