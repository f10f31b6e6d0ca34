import CDevhostSpawn
import DevhostManifest
import Foundation

/// Reports changed files under a folder, in debounced batches, through inotify (one watch per folder,
/// added as folders appear). Editors that save by rename and tools that write in several steps
/// produce one batch, delivered once the tree has been quiet for `quiet`.
///
/// Unchecked Sendable: `folders` and `thread` are touched only by `init` and then by the watching
/// thread alone; `stop` writes to the wake pipe, which any thread may do.
public final class FileWatcher: @unchecked Sendable {
    /// Folders never watched: dependencies, caches, VCS data and devhost's own state (its log
    /// files would otherwise report themselves forever).
    public static let skipped: Set<String> = [
        ".git", ".hg", ".devhost", "node_modules", "__pycache__", ".venv", "venv", ".mypy_cache", ".pytest_cache", ".tox", ".build",
    ]

    private let root: String
    private let fd: Int32
    private let wake: (read: Int32, write: Int32)
    private var folders: [Int32: String] = [:]
    private let quiet: Duration
    private let maxDelay: Duration
    private let onChange: @Sendable ([String]) -> Void
    private var thread: Thread?

    /// `onChange` gets paths relative to `root`, on the watcher's own thread.
    /// `maxDelay` bounds the wait for quiet: a file written without pause (a SQLite database the app
    /// touches on every request, a log) would otherwise hold back every batch, saved code included.
    public init(
        root: String, quiet: Duration = .milliseconds(150), maxDelay: Duration = .seconds(1),
        onChange: @escaping @Sendable ([String]) -> Void
    ) throws {
        self.root = (root as NSString).standardizingPath
        self.quiet = quiet
        self.maxDelay = maxDelay
        self.onChange = onChange
        fd = inotify_init1(Int32(IN_CLOEXEC) | Int32(IN_NONBLOCK))
        guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EMFILE) }
        var pipeFDs: [Int32] = [0, 0]
        guard devhost_pipe_cloexec(&pipeFDs) == 0 else {
            close(fd)
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EMFILE)
        }
        wake = (pipeFDs[0], pipeFDs[1])
        addTree(self.root, relative: "")
        let thread = Thread { [self] in loop() }
        thread.name = "devhost-watch"
        self.thread = thread
        thread.start()
    }

    /// Ends the watching thread (it notices the wake pipe at once; a batch being delivered finishes).
    public func stop() {
        var byte: UInt8 = 1
        _ = write(wake.write, &byte, 1)
    }

    private static let mask = UInt32(IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE | IN_ATTRIB)

    private func addTree(_ path: String, relative: String) {
        let wd = inotify_add_watch(fd, path, Self.mask | UInt32(IN_ONLYDIR))
        guard wd >= 0 else { return }
        folders[wd] = relative
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: path) else { return }
        for name in entries where !Self.skipped.contains(name) {
            var info = stat()
            let child = path + "/" + name
            // lstat: symlinked folders are not followed (they may point anywhere, even at a parent).
            if lstat(child, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR {
                addTree(child, relative: relative.isEmpty ? name : relative + "/" + name)
            }
        }
    }

    private func loop() {
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        var pending = Set<String>()
        var fds = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0), pollfd(fd: wake.read, events: Int16(POLLIN), revents: 0)]
        let quietMS = DurationText.millisecondsExact(quiet)
        var firstPending: ContinuousClock.Instant?
        func deliver() {
            let batch = pending.sorted()
            pending = []
            firstPending = nil
            onChange(batch)
        }
        while true {
            var timeout: Int32 = -1
            if let firstPending {
                let left = DurationText.millisecondsExact(firstPending + maxDelay - .now)
                timeout = Int32(max(0, min(quietMS, left)))
            }
            let ready = poll(&fds, 2, timeout)
            if ready < 0 {
                if errno == EINTR { continue }
                break
            }
            if fds[1].revents != 0 { break }
            if ready == 0 {
                if !pending.isEmpty { deliver() }
                continue
            }
            let count = read(fd, &buffer, buffer.count)
            guard count > 0 else { continue }
            var offset = 0
            while offset + 16 <= count {
                let wd = buffer.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: Int32.self) }
                let mask = buffer.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self) }
                let length = Int(buffer.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset + 12, as: UInt32.self) })
                let nameBytes = buffer[(offset + 16)..<min(count, offset + 16 + length)].prefix { $0 != 0 }
                offset += 16 + length
                guard let folder = folders[wd] else { continue }
                if mask & UInt32(IN_IGNORED) != 0 {
                    folders[wd] = nil
                    continue
                }
                let name = String(decoding: nameBytes, as: UTF8.self)
                guard !name.isEmpty else { continue }
                let relative = folder.isEmpty ? name : folder + "/" + name
                if mask & UInt32(IN_ISDIR) != 0 {
                    if mask & (UInt32(IN_CREATE) | UInt32(IN_MOVED_TO)) != 0, !Self.skipped.contains(name) {
                        addTree(root + "/" + relative, relative: relative)
                    }
                    continue
                }
                pending.insert(relative)
            }
            if !pending.isEmpty, firstPending == nil { firstPending = .now }
            if let firstPending, ContinuousClock.now - firstPending >= maxDelay { deliver() }
        }
        close(fd)
        close(wake.read)
        close(wake.write)
    }
}
