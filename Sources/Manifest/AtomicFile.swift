import Foundation

/// Plain file writes. Foundation's `Data.write` calls fsync on every file, which made a 15-file
/// project take tens of milliseconds; a generated project is published by one rename of its
/// staging folder, and a crash before that leaves only the staging folder behind.
public enum FileWriter {
    /// `fresh`: the file must not exist yet, not even as a link (O_EXCL refuses a link at `path`).
    public static func write(_ bytes: some Collection<UInt8>, to path: String, mode: mode_t = 0o644, fresh: Bool = false) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | (fresh ? O_EXCL : O_TRUNC), mode)
        guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        defer { close(fd) }
        let data = Array(bytes)
        var offset = 0
        while offset < data.count {
            let written = data.withUnsafeBytes { Foundation.write(fd, $0.baseAddress! + offset, data.count - offset) }
            if written < 0 {
                if errno == EINTR { continue }
                throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
            }
            offset += written
        }
    }
}

/// Write to a temporary file in the same folder, then rename: readers never see half a file.
/// (Foundation's `write(…, atomically: true)` on Linux leaves a `TemporaryDirectory.*` folder in
/// /tmp behind for every write.)
public enum AtomicFile {
    public static func write(_ content: String, to path: String) throws {
        try write(bytes: Array(content.utf8), to: path)
    }

    public static func write(bytes: [UInt8], to path: String) throws {
        let url = URL(fileURLWithPath: path)
        let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(getpid()).tmp").path
        do {
            try FileWriter.write(bytes, to: temporary)
        } catch {
            unlink(temporary)
            throw error
        }
        if rename(temporary, path) != 0 {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw CocoaError(.fileWriteUnknown, userInfo: [NSLocalizedDescriptionKey: reason])
        }
    }
}
