import DevhostManifest
import Foundation

/// devhost's marked block in a hosts file (`devhost hosts sync` / `devhost hosts clean`):
///
/// ```
/// # >>> devhost (managed by devhost hosts sync; edits inside are lost) >>>
/// 127.0.0.1 api.shop.localhost
/// ::1 api.shop.localhost
/// # <<< devhost <<<
/// ```
/// The file is handled as bytes, not text: a Latin-1 comment, CRLF, tabs or a missing final newline
/// outside the block come back exactly as they were. Only lines equal to a marker (their line ending
/// aside) count as markers, so a comment that merely mentions devhost stays foreign.
public enum HostsFile {
    public static let startMarker = "# >>> devhost (managed by devhost hosts sync; edits inside are lost) >>>"
    public static let endMarker = "# <<< devhost <<<"
    public static let defaultPath = "/etc/hosts"

    public enum Problem: Error, CustomStringConvertible, Equatable {
        /// The file's own block is broken: the message names the line; nothing was written.
        case malformed(String)
        case invalidHost(String, String)
        /// Writing needs a permission this process lacks (hosts files belong to root).
        case notPermitted(path: String, reason: String)
        case io(String)

        public var description: String {
            switch self {
            case .malformed(let text): return text
            case .invalidHost(let host, let rule): return "\"\(host)\" cannot go in a hosts file: it \(rule)"
            case .notPermitted(let path, let reason): return "cannot write \(path): \(reason)"
            case .io(let text): return text
            }
        }
    }

    /// One line with its ending ("\n", "\r\n", or nothing on an unterminated last line).
    struct Line {
        var bytes: ArraySlice<UInt8>
        var content: ArraySlice<UInt8>
        var ending: ArraySlice<UInt8>
    }

    /// Where the block sits: the indices of its start and end marker lines.
    struct Block {
        var start: Int
        var end: Int
    }

    /// The file with devhost's block listing `hosts` (replaced where it stands, else appended).
    public static func sync(text: String, hosts: [String], file: String = defaultPath) throws(Problem) -> String {
        String(decoding: try sync(bytes: Array(text.utf8), hosts: hosts, file: file), as: UTF8.self)
    }

    /// The file without devhost's block; unchanged when it has none.
    public static func clean(text: String, file: String = defaultPath) throws(Problem) -> String {
        String(decoding: try clean(bytes: Array(text.utf8), file: file), as: UTF8.self)
    }

    /// The hosts devhost's block lists now (empty when there is none).
    public static func listed(text: String, file: String = defaultPath) throws(Problem) -> [String] {
        let lines = split(Array(text.utf8))
        guard let block = try block(in: lines, file: file) else { return [] }
        var hosts: [String] = []
        for line in lines[(block.start + 1)..<block.end] {
            let fields = String(decoding: line.content, as: UTF8.self).split(whereSeparator: { $0 == " " || $0 == "\t" })
            if fields.count >= 2, !fields[0].hasPrefix("#"), !hosts.contains(String(fields[1])) { hosts.append(String(fields[1])) }
        }
        return hosts
    }

    public static func sync(bytes: [UInt8], hosts: [String], file: String = defaultPath) throws(Problem) -> [UInt8] {
        let names = try normalized(hosts)
        let lines = split(bytes)
        let existing = try block(in: lines, file: file)
        // The block's lines end as the file's do: the old block's start line, else the first line.
        let newline = Array((existing.map { lines[$0.start] } ?? lines.first { !$0.ending.isEmpty })?.ending ?? [10])
        var body: [[UInt8]] = [Array(startMarker.utf8)]
        for name in names {
            body.append(Array("127.0.0.1 \(name)".utf8))
            body.append(Array("::1 \(name)".utf8))
        }
        body.append(Array(endMarker.utf8))
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + body.reduce(0) { $0 + $1.count + 2 })
        if let existing {
            for line in lines[..<existing.start] { out += line.bytes }
            for (index, line) in body.enumerated() {
                out += line
                // The end marker keeps its own ending: an unterminated block at the end stays so.
                out += index == body.count - 1 ? Array(lines[existing.end].ending) : newline
            }
            for line in lines[(existing.end + 1)...] { out += line.bytes }
            return out
        }
        out = bytes
        // A file without a final newline gets one before the block, and the block itself ends
        // without one: `clean` takes both away again and gives back the original bytes.
        let unterminated = lines.last.map { $0.ending.isEmpty } ?? false
        if unterminated { out += newline }
        for (index, line) in body.enumerated() {
            out += line
            if !(unterminated && index == body.count - 1) { out += newline }
        }
        return out
    }

    public static func clean(bytes: [UInt8], file: String = defaultPath) throws(Problem) -> [UInt8] {
        let lines = split(bytes)
        guard let block = try block(in: lines, file: file) else { return bytes }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        for line in lines[..<block.start] { out += line.bytes }
        if block.end == lines.count - 1, lines[block.end].ending.isEmpty, block.start > 0 {
            // An unterminated block at the end owns the newline before it (see `sync`).
            out.removeLast(lines[block.start - 1].ending.count)
        }
        for line in lines[(block.end + 1)...] { out += line.bytes }
        return out
    }

    /// Lowercased, deduplicated and sorted (so a sync with the same hosts writes the same bytes),
    /// each a valid DNS name: a host is written into a root-owned file, so nothing that could end
    /// the line or start a comment gets through.
    static func normalized(_ hosts: [String]) throws(Problem) -> [String] {
        var names = Set<String>()
        for host in hosts {
            let name = host.lowercased()
            if name.utf8.count > 253 { throw .invalidHost(host, "is longer than 253 characters") }
            if let rule = DNSLabel.problem(name, allowDots: true) { throw .invalidHost(host, "has a label that \(rule)") }
            names.insert(name)
        }
        return names.sorted()
    }

    static func split(_ bytes: [UInt8]) -> [Line] {
        var lines: [Line] = []
        var start = bytes.startIndex
        var index = start
        while index < bytes.endIndex {
            if bytes[index] == 10 {
                let contentEnd = index > start && bytes[index - 1] == 13 ? index - 1 : index
                lines.append(Line(bytes: bytes[start...index], content: bytes[start..<contentEnd], ending: bytes[contentEnd...index]))
                start = index + 1
            }
            index += 1
        }
        if start < bytes.endIndex { lines.append(Line(bytes: bytes[start...], content: bytes[start...], ending: bytes[bytes.endIndex...])) }
        return lines
    }

    /// The one block, nil when there is none; a start without an end, an end without a start, a
    /// start inside the block or a second block is refused with the line numbers, since guessing
    /// which lines are devhost's could delete someone's own.
    static func block(in lines: [Line], file: String) throws(Problem) -> Block? {
        let start = Array(startMarker.utf8)
        let end = Array(endMarker.utf8)
        var open: Int?
        var found: Block?
        for (index, line) in lines.enumerated() {
            if line.content.elementsEqual(start) {
                if let open {
                    throw .malformed("\(file):\(index + 1): a second devhost start marker inside the block opened on line \(open + 1)")
                }
                if let found {
                    throw .malformed(
                        "\(file):\(index + 1): a second devhost block (the first is lines \(found.start + 1)-\(found.end + 1)); "
                            + "remove one of them by hand, nothing was written")
                }
                open = index
            } else if line.content.elementsEqual(end) {
                guard let opened = open else {
                    throw .malformed("\(file):\(index + 1): a devhost end marker without a start marker above it; nothing was written")
                }
                found = Block(start: opened, end: index)
                open = nil
            }
        }
        if let open {
            throw .malformed(
                "\(file):\(open + 1): the devhost start marker has no end marker (\(endMarker)) below it; "
                    + "fix or remove the block by hand, nothing was written")
        }
        return found
    }
}

extension HostsFile {
    public enum Outcome: Sendable, Equatable {
        case unchanged
        case written
    }

    /// The hosts the running project `report` describes serve: its routes' hosts and its dashboard's.
    public static func hosts(in report: StatusReport) -> [String] {
        var hosts: [String] = []
        if let proxy = report.proxy { hosts.append("devhost.\(proxy.domain)") }
        for route in report.services.flatMap(\.routes) {
            // Path routes put one host in several URLs.
            guard let host = URLComponents(string: route)?.host, !host.isEmpty, !hosts.contains(host) else { continue }
            hosts.append(host)
        }
        return hosts
    }

    /// Reads the file at `path`, passes its bytes through `change` and puts the result in its place
    /// atomically: a temporary file in the same folder with the original's owner and mode, fsync'd,
    /// renamed over it, and the folder fsync'd. (Extended attributes such as an SELinux label are not
    /// copied: Glibc's Swift module has no xattr calls.) A link is
    /// followed, so the link stays a link. Nothing is written when `change` returns the same bytes.
    public static func update(path: String, change: ([UInt8]) throws(Problem) -> [UInt8]) throws(Problem) -> Outcome {
        guard let resolved = realpath(path, nil) else { throw .io("cannot read \(path): \(String(cString: strerror(errno)))") }
        let target = String(cString: resolved)
        free(resolved)
        let (original, info) = try read(target, shownAs: path)
        let updated = try change(original)
        if updated == original { return .unchanged }

        let folder = (target as NSString).deletingLastPathComponent
        let temporary = folder + "/." + (target as NSString).lastPathComponent + ".devhost-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw failure(errno, path: path, info: info, doing: "create a file in \(folder)") }
        var renamed = false
        defer { if !renamed { unlink(temporary) } }
        do {
            defer { close(fd) }
            var offset = 0
            while offset < updated.count {
                let written = updated.withUnsafeBytes { Foundation.write(fd, $0.baseAddress! + offset, updated.count - offset) }
                if written < 0, errno == EINTR { continue }
                guard written > 0 else { throw failure(errno, path: path, info: info, doing: "write \(temporary)") }
                offset += written
            }
            if fchown(fd, info.st_uid, info.st_gid) != 0 {
                throw failure(errno, path: path, info: info, doing: "keep its owner (uid \(info.st_uid), gid \(info.st_gid))")
            }
            guard fchmod(fd, info.st_mode & 0o7777) == 0 else { throw failure(errno, path: path, info: info, doing: "keep its mode") }
            guard fsync(fd) == 0 else { throw failure(errno, path: path, info: info, doing: "fsync") }
        }
        // Someone else's edit between our read and the rename would be lost without a word.
        var now = stat()
        guard stat(target, &now) == 0, now.st_ino == info.st_ino, now.st_dev == info.st_dev, now.st_size == info.st_size,
            now.st_mtim.tv_sec == info.st_mtim.tv_sec, now.st_mtim.tv_nsec == info.st_mtim.tv_nsec
        else { throw .io("\(path) changed while devhost was rewriting it; nothing was written, run the command again") }
        guard rename(temporary, target) == 0 else {
            if errno == EBUSY {
                throw .io(
                    "cannot replace \(path): it is a mount point (a container runtime bind-mounts /etc/hosts), and devhost "
                        + "only writes it by an atomic rename; nothing was written")
            }
            throw failure(errno, path: path, info: info, doing: "rename over it")
        }
        renamed = true
        let directory = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directory >= 0 {
            fsync(directory)
            close(directory)
        }
        return .written
    }

    static func read(_ target: String, shownAs path: String) throws(Problem) -> ([UInt8], stat) {
        let fd = open(target, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .io("cannot read \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { throw .io("\(path) is not a regular file") }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = Foundation.read(fd, &chunk, chunk.count)
            if count < 0, errno == EINTR { continue }
            guard count >= 0 else { throw .io("cannot read \(path): \(String(cString: strerror(errno)))") }
            if count == 0 { break }
            bytes += chunk[..<count]
            // A hosts file is kilobytes; a huge one is not what the user meant.
            if bytes.count > 16 << 20 { throw .io("\(path) is larger than 16 MiB; it is not a hosts file devhost will rewrite") }
        }
        return (bytes, info)
    }

    private static func failure(_ code: Int32, path: String, info: stat, doing: String) -> Problem {
        let reason = String(cString: strerror(code))
        if code == EACCES || code == EPERM || code == EROFS {
            let owner = getpwuid(info.st_uid).map { String(cString: $0.pointee.pw_name) } ?? "uid \(info.st_uid)"
            return .notPermitted(
                path: path, reason: "cannot \(doing): \(reason) (it belongs to \(owner), mode \(String(info.st_mode & 0o7777, radix: 8)))")
        }
        return .io("cannot write \(path): cannot \(doing): \(reason); nothing was written")
    }
}
