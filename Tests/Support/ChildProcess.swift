import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A child process started with posix_spawn, its stdout and stderr captured through one pipe.
///
/// Foundation's `Process` waits for exits through a run loop, which can stall when Swift Testing's
/// few cooperative threads are all blocked; `waitpid` and a reader thread have no such dependency.
public final class ChildProcess: @unchecked Sendable {
    public let pid: pid_t
    private let lock = NSLock()
    private var buffer = Data()
    private var exitStatus: Int32?
    private let reader: Thread
    private let readerDone = DispatchSemaphore(value: 0)

    /// `newSession`: the child is a session and group leader (pid == pgid), so `stop()` reaches grandchildren.
    public init(argv: [String], directory: String? = nil, environment: [String: String]? = nil, newSession: Bool = false) throws {
        var pipeFDs: [Int32] = [0, 0]
        guard pipe(&pipeFDs) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, pipeFDs[1], 1)
        posix_spawn_file_actions_adddup2(&actions, pipeFDs[1], 2)
        posix_spawn_file_actions_addclose(&actions, pipeFDs[0])
        posix_spawn_file_actions_addclose(&actions, pipeFDs[1])
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // POSIX_SPAWN_SETSID (glibc): setsid() in the child before exec.
        if newSession { posix_spawnattr_setflags(&attributes, Int16(0x80)) }

        // glibc's addchdir_np is not visible to Swift; env(1) changes directory and execs in place.
        let argv = directory.map { ["/usr/bin/env", "-C", $0] + argv } ?? argv
        let env = (environment ?? ProcessInfo.processInfo.environment).map { "\($0.key)=\($0.value)" }
        var child: pid_t = 0
        let code = withCStrings(argv) { argvPointers in
            withCStrings(env) { envPointers in
                posix_spawnp(&child, argv[0], &actions, &attributes, argvPointers, envPointers)
            }
        }
        close(pipeFDs[1])
        guard code == 0 else {
            close(pipeFDs[0])
            throw POSIXError(POSIXErrorCode(rawValue: code) ?? .ENOENT)
        }
        pid = child
        let readFD = pipeFDs[0]
        let box = ReaderBox()
        reader = Thread { [box] in
            var chunk = [UInt8](repeating: 0, count: 65536)
            while true {
                let count = read(readFD, &chunk, chunk.count)
                if count > 0 {
                    box.append?(Data(chunk[0..<count]))
                } else if count < 0, errno == EINTR {
                    continue
                } else {
                    break
                }
            }
            close(readFD)
            box.done?()
        }
        box.append = { [weak self] data in self?.lock.withLock { self?.buffer.append(data) } }
        box.done = { [readerDone] in readerDone.signal() }
        reader.start()
    }

    public var output: String { lock.withLock { String(decoding: buffer, as: UTF8.self) } }

    /// Reaps the child without blocking; false once it has exited.
    public var isRunning: Bool {
        lock.withLock {
            if exitStatus != nil { return false }
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid {
                exitStatus = status
                return false
            }
            return true
        }
    }

    /// Waits for the child to exit and its output to end; returns the exit code (128+signal when killed).
    @discardableResult
    public func wait() -> Int32 {
        var status: Int32 = 0
        let reaped: Int32? = lock.withLock { exitStatus }
        if let reaped {
            status = reaped
        } else {
            while waitpid(pid, &status, 0) < 0, errno == EINTR {}
            lock.withLock { exitStatus = status }
        }
        readerDone.wait()
        readerDone.signal()
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }

    /// SIGTERM to the child's process group, SIGKILL after `grace` seconds, then reaps it.
    public func stop(grace: TimeInterval = 5) {
        kill(-pid, SIGTERM)
        kill(pid, SIGTERM)
        let deadline = Date().addingTimeInterval(grace)
        while isRunning, Date() < deadline { usleep(10_000) }
        kill(-pid, SIGKILL)
        if isRunning { kill(pid, SIGKILL) }
        wait()
    }
}

private final class ReaderBox: @unchecked Sendable {
    var append: ((Data) -> Void)?
    var done: (() -> Void)?
}

private func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
    var pointers = strings.map { strdup($0) }
    pointers.append(nil)
    defer { pointers.forEach { free($0) } }
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}
