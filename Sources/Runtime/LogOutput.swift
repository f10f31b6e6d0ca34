import Foundation

/// Where service output and devhost's own lines go: the terminal, interleaved line by line with an
/// aligned coloured prefix, and one file per service under `.devhost/logs/` with size-based rotation.
///
/// One lock serialises every write, and each line is written with a single `write(2)`, so a line is
/// never cut in two or mixed with another.
public final class LogOutput: @unchecked Sendable {
    public struct Options: Sendable {
        public var colored: Bool
        public var timestamps: Bool
        /// Folder for per-service files; nil keeps logs on the terminal only.
        public var directory: String?
        public var maxFileBytes: Int
        public var keptFiles: Int
        /// Where terminal output goes (standard output by default).
        public var descriptor: Int32

        public init(colored: Bool = false, timestamps: Bool = false, directory: String? = nil, maxFileBytes: Int = 5 << 20, keptFiles: Int = 3, descriptor: Int32 = STDOUT_FILENO) {
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
            remember(line, for: service)
            let color = colorLocked(for: service)
            emitLocked(prefix: label, color: color, text: line)
            appendLocked(line, service: service)
        }
    }

    /// devhost's own status line about `label` (`api.1 listening on :43123`).
    public func event(_ text: String, service: String? = nil, label: String = "devhost") {
        lock.withLock {
            emitLocked(prefix: label, color: "1", text: text)
            if let service { appendLocked("[devhost] " + text, service: service) }
        }
    }

    /// The last lines a service printed (for "never listened" and 503 pages).
    public func recentLines(of service: String) -> [String] {
        lock.withLock { recent[service] ?? [] }
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

    private func emitLocked(prefix: String, color: String, text: String) {
        prefixWidth = max(prefixWidth, prefix.count)
        let padded = prefix.padding(toLength: prefixWidth, withPad: " ", startingAt: 0)
        var line = ""
        if options.timestamps { line += Self.timestamp() + " " }
        line += options.colored ? "\u{1B}[\(color)m\(padded) |\u{1B}[0m " : "\(padded) | "
        line += text + "\n"
        writeAll(options.descriptor, Array(line.utf8))
    }

    private func appendLocked(_ line: String, service: String) {
        guard let directory = options.directory else { return }
        var file = files[service]
        if file == nil {
            let path = "\(directory)/\(service).log"
            let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
            guard fd >= 0 else { return }
            var info = stat()
            fstat(fd, &info)
            file = (fd, Int(info.st_size))
        }
        guard var current = file else { return }
        let bytes = Array((Self.timestamp() + " " + line + "\n").utf8)
        if current.size + bytes.count > options.maxFileBytes {
            close(current.fd)
            rotate(service: service, in: directory)
            current = (open("\(directory)/\(service).log", O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0o644), 0)
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

    private static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var parts = tm()
        var seconds = now.tv_sec
        localtime_r(&seconds, &parts)
        return String(format: "%02d:%02d:%02d.%03d", parts.tm_hour, parts.tm_min, parts.tm_sec, now.tv_nsec / 1_000_000)
    }
}

func writeAll(_ fd: Int32, _ bytes: [UInt8]) {
    var offset = 0
    while offset < bytes.count {
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, bytes.count - offset) }
        if written < 0 {
            if errno == EINTR { continue }
            return
        }
        offset += written
    }
}
