import CDevhostSpawn
import DevhostRuntime
import Foundation

/// A child process for tests, started through devhost's own `ChildProcesses` so that one reaper sees
/// every child of the test process (a second `waitpid` user would steal its exit statuses). It is a
/// session leader, so `stop()` reaches its grandchildren; stdout and stderr are captured together.
public final class ChildProcess: @unchecked Sendable {
    public let pid: pid_t
    private let lock = NSLock()
    private var buffer = Data()
    private var exitStatus: ExitStatus?
    private let readerDone = DispatchSemaphore(value: 0)

    public init(argv: [String], directory: String? = nil, environment: [String: String]? = nil) throws {
        var fds: [Int32] = [0, 0]
        guard devhost_pipe_cloexec(&fds) == 0 else { throw POSIXError(.EMFILE) }
        do {
            pid = try ChildProcesses.shared.spawn(
                argv, environment: environment ?? ProcessInfo.processInfo.environment,
                directory: directory ?? FileManager.default.currentDirectoryPath, outputFD: fds[1])
        } catch {
            close(fds[0])
            close(fds[1])
            throw error
        }
        close(fds[1])
        let readFD = fds[0]
        let thread = Thread { [self] in
            var chunk = [UInt8](repeating: 0, count: 65536)
            while true {
                let count = read(readFD, &chunk, chunk.count)
                if count > 0 {
                    lock.withLock { buffer.append(contentsOf: chunk[0..<count]) }
                } else if count < 0, errno == EINTR {
                    continue
                } else {
                    break
                }
            }
            close(readFD)
            readerDone.signal()
        }
        thread.start()
    }

    public var output: String { lock.withLock { String(decoding: buffer, as: UTF8.self) } }

    public var isRunning: Bool {
        lock.withLock { exitStatus == nil } && ChildProcesses.shared.peekStatus(of: pid) == nil
    }

    /// Waits for the exit and the end of output; returns the exit code (128+signal when killed).
    @discardableResult
    public func wait() -> Int32 {
        let status: ExitStatus =
            lock.withLock { exitStatus }
            ?? {
                let status = ChildProcesses.shared.waitBlocking(for: pid)
                lock.withLock { exitStatus = status }
                readerDone.wait()
                readerDone.signal()
                return status
            }()
        switch status {
        case .exited(let code): return code
        case .signaled(let signal): return 128 + signal
        }
    }

    /// SIGTERM to the process group, SIGKILL after `grace` seconds, then reaps the leader.
    public func stop(grace: TimeInterval = 5) {
        if lock.withLock({ exitStatus != nil }) { return }
        kill(-pid, SIGTERM)
        let deadline = Date().addingTimeInterval(grace)
        while isRunning, Date() < deadline { usleep(10_000) }
        kill(-pid, SIGKILL)
        wait()
    }
}
