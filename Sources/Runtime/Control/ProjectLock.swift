import Foundation

/// One devhost per project: an exclusive `flock` on `.devhost/devhost.pid`, held until the process
/// ends (the kernel drops it even after SIGKILL, so a stale file never blocks the next `up`).
public final class ProjectLock: Sendable {
    private let fd: Int32
    public let path: String

    private init(fd: Int32, path: String) {
        self.fd = fd
        self.path = path
    }

    deinit { close(fd) }

    /// Takes the lock and writes our pid into it; nil when another devhost holds it.
    public static func acquire(_ state: ProjectState) throws -> ProjectLock? {
        try FileManager.default.createDirectory(atPath: state.root, withIntermediateDirectories: true)
        let fd = open(state.lockFile, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            return nil
        }
        ftruncate(fd, 0)
        let text = Array("\(getpid())\n".utf8)
        _ = text.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        return ProjectLock(fd: fd, path: state.lockFile)
    }

    /// The pid of the devhost holding the project's lock, or nil when none runs.
    public static func holder(_ state: ProjectState) -> pid_t? {
        let fd = open(state.lockFile, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        // A shared lock we can take means nobody holds the exclusive one.
        if flock(fd, LOCK_SH | LOCK_NB) == 0 {
            flock(fd, LOCK_UN)
            return nil
        }
        var buffer = [UInt8](repeating: 0, count: 32)
        let count = read(fd, &buffer, buffer.count)
        guard count > 0 else { return 0 }
        return pid_t(String(decoding: buffer[..<count], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
    }

    /// Waits (bounded) until nobody holds the lock: the running devhost has fully exited.
    public static func waitUntilReleased(_ state: ProjectState, timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while holder(state) != nil {
            if ContinuousClock.now >= deadline { return false }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return true
    }
}
