import Foundation

/// Reads a manifest, an overlay or an env file whole, after checking that it is a regular file no
/// larger than `maxBytes`: what devhost reads here it holds in memory several times over.
public enum ManifestFile {
    /// Far above any hand-written manifest; a 59 MB one was killed at 2 GB while it loaded.
    public static let maxBytes = 4 << 20

    /// The bytes of `path`; `kind` names the file in errors ("manifest", "env file").
    public static func read(_ path: String, kind: String, limit: Int = maxBytes) throws(ManifestError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw failure("cannot read \(kind) \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw failure("cannot read \(kind) \(path): \(String(cString: strerror(errno)))") }
        // A FIFO or a device (a link to /dev/zero) would be read forever.
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw failure("\(kind) \(path) is not a regular file: devhost reads its \(kind) only from a plain file")
        }
        guard Int(info.st_size) <= limit else { throw tooLarge(path, kind: kind, size: Int(info.st_size), limit: limit) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Int(info.st_size) + 1)
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        // Reading one byte past the limit tells a file that grew since fstat from one that fits exactly.
        while bytes.count <= limit {
            let wanted = min(chunk.count, limit + 1 - bytes.count)
            let count = chunk.withUnsafeMutableBytes { Foundation.read(fd, $0.baseAddress!, wanted) }
            if count < 0, errno == EINTR { continue }
            guard count >= 0 else { throw failure("cannot read \(kind) \(path): \(String(cString: strerror(errno)))") }
            if count == 0 { break }
            bytes += chunk[..<count]
        }
        guard bytes.count <= limit else { throw tooLarge(path, kind: kind, size: nil, limit: limit) }
        return bytes
    }

    private static func tooLarge(_ path: String, kind: String, size: Int?, limit: Int) -> ManifestError {
        let measured = size.map { " (\($0) bytes)" } ?? ""
        return failure(
            "\(kind) \(path) is too large\(measured): devhost reads at most \(limit) bytes (\(limit >> 20) MiB); "
                + "keep generated data out of it, or split the project")
    }

    private static func failure(_ message: String) -> ManifestError {
        ManifestError([ManifestIssue(path: "", message: message, at: nil)])
    }
}
