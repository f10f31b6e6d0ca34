import Foundation

/// Files under /proc, read whole. They report a size of 0, and Foundation's readers can stop after
/// the first page: a busy /proc/net/tcp (probes leave TIME_WAIT lines) would lose entries. Used by
/// the proxy's peer check and the supervisor's port discovery alike.
public enum ProcFile {
    public static func read(_ path: String) -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return "" }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = Foundation.read(fd, &chunk, chunk.count)
            if count > 0 {
                bytes.append(contentsOf: chunk[0..<count])
            } else if count < 0, errno == EINTR {
                continue
            } else {
                break
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
