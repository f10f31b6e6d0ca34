import Foundation

/// Follows one service's log file under `.devhost/logs/` (which devhost writes, running or not):
/// the last lines at first, then what is appended, across rotations. Reading only new bytes keeps
/// a once-a-second refresh cheap however long the log has grown.
struct LogTail {
    let service: String
    let path: String
    private(set) var lines: [LogLine] = []
    private var offset: UInt64 = 0
    private var pending = [UInt8]()
    static let keep = 1000
    /// How far back the first read looks.
    static let firstRead: UInt64 = 256 * 1024

    init(service: String, directory: String) {
        self.service = service
        self.path = "\(directory)/\(service).log"
    }

    /// Reads what was appended; true when there are new lines.
    mutating func poll() -> Bool {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { return false }
        let size = UInt64(info.st_size)
        var skipPartial = false
        if size < offset {
            // Rotated: service.log is a new file.
            offset = 0
            pending = []
        }
        if offset == 0, lines.isEmpty, size > Self.firstRead {
            offset = size - Self.firstRead
            skipPartial = true
        }
        guard size > offset else { return false }
        var data = [UInt8](repeating: 0, count: Int(size - offset))
        let count = data.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, $0.count, off_t(offset)) }
        guard count > 0 else { return false }
        offset += UInt64(count)
        pending += data[..<count]
        if skipPartial, let newline = pending.firstIndex(of: UInt8(ascii: "\n")) { pending.removeSubrange(...newline) }
        var added = false
        while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
            let text = String(decoding: pending[..<newline], as: UTF8.self)
            pending.removeSubrange(...newline)
            if let line = LogLine(fileLine: Substring(text), service: service) {
                lines.append(line)
                added = true
            }
        }
        if lines.count > Self.keep { lines.removeFirst(lines.count - Self.keep) }
        return added
    }
}
