import CDevhostSpawn
import Foundation

/// How a child process ended.
public enum ExitStatus: Sendable, Equatable, CustomStringConvertible {
    case exited(Int32)
    case signaled(Int32)

    init(waitStatus status: Int32) {
        let signal = status & 0x7f
        self = signal == 0 ? .exited((status >> 8) & 0xff) : .signaled(signal)
    }

    public var succeeded: Bool { self == .exited(0) }

    public var description: String {
        switch self {
        case .exited(let code): return "exited \(code)"
        case .signaled(let signal): return "killed by \(signalName(signal))"
        }
    }
}

func signalName(_ signal: Int32) -> String {
    switch signal {
    case SIGHUP: return "SIGHUP"
    case SIGINT: return "SIGINT"
    case SIGQUIT: return "SIGQUIT"
    case SIGKILL: return "SIGKILL"
    case SIGSEGV: return "SIGSEGV"
    case SIGTERM: return "SIGTERM"
    case SIGABRT: return "SIGABRT"
    default: return "signal \(signal)"
    }
}

public struct SpawnError: Error, CustomStringConvertible, Sendable {
    public var command: String
    public var reason: String
    public var description: String { "cannot start \(command): \(reason)" }
}

/// Every child devhost starts goes through here, and one thread reaps them all.
///
/// devhost is a child subreaper, so orphaned grandchildren are reparented to it; a single
/// `waitpid(-1)` loop reaps those too, which per-pid waits (Foundation's `Process`) would leave as zombies.
public final class ChildProcesses: @unchecked Sendable {
    public static let shared = ChildProcesses()

    /// Guards waiters, finished statuses, the tracked pids and the reaper's counters. A condition
    /// rather than a lock box: the reaper sleeps on it until a spawn, and `waitBlocking` until an exit.
    private let lock = NSCondition()
    private var waiters: [pid_t: [CheckedContinuation<ExitStatus, Never>]] = [:]
    private var finished: [pid_t: ExitStatus] = [:]
    private var tracked = Set<pid_t>()
    /// Spawns since the reaper last found no children: it sleeps only when this is zero.
    private var spawnsSinceIdle = 0
    private var reaperStarted = false

    private init() {}

    /// Starts `argv` (resolved through `PATH` from `environment`) as a new session leader.
    /// Returns the pid; stdout and stderr go to `outputFD` (the caller closes its copy).
    public func spawn(_ argv: [String], environment: [String: String], directory: String, inputFD: Int32 = -1, outputFD: Int32) throws
        -> pid_t
    {
        guard let program = argv.first else { throw SpawnError(command: "", reason: "empty command") }
        guard let path = Self.resolve(program, path: environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin") else {
            throw SpawnError(command: program, reason: "\(program) was not found on PATH")
        }
        startReaper()
        let envStrings = environment.map { "\($0.key)=\($0.value)" }
        lock.lock()
        let pid = withCStrings(argv) { argvPointer in
            withCStrings(envStrings) { envPointer in
                devhost_spawn(path, argvPointer, envPointer, directory, inputFD, outputFD)
            }
        }
        if pid > 0 {
            // A status left by an earlier process with this pid (one nobody waited for) is stale now.
            finished[pid] = nil
            tracked.insert(pid)
            spawnsSinceIdle += 1
            lock.broadcast()
        }
        let error = errno
        lock.unlock()
        guard pid > 0 else {
            let reason = error == ENOENT ? "no such file or folder (\(directory))" : String(cString: strerror(error))
            throw SpawnError(command: argv.joined(separator: " "), reason: reason)
        }
        return pid
    }

    /// Waits for a child started by `spawn` to exit.
    public func exitStatus(of pid: pid_t) async -> ExitStatus {
        await withCheckedContinuation { continuation in
            lock.lock()
            if let status = finished.removeValue(forKey: pid) {
                lock.unlock()
                continuation.resume(returning: status)
                return
            }
            waiters[pid, default: []].append(continuation)
            lock.unlock()
        }
    }

    /// The exit status if the child has exited and nobody has taken it yet.
    public func peekStatus(of pid: pid_t) -> ExitStatus? {
        lock.lock()
        defer { lock.unlock() }
        return finished[pid]
    }

    /// Blocks the calling thread until the child exits (for synchronous callers such as tests and CLIs).
    public func waitBlocking(for pid: pid_t) -> ExitStatus {
        lock.lock()
        defer { lock.unlock() }
        while finished[pid] == nil { lock.wait() }
        return finished.removeValue(forKey: pid)!
    }

    private func startReaper() {
        lock.lock()
        defer { lock.unlock() }
        guard !reaperStarted else { return }
        reaperStarted = true
        _ = devhost_set_subreaper()
        let thread = Thread { [self] in reapForever() }
        thread.name = "devhost-reaper"
        thread.start()
    }

    private func reapForever() {
        while true {
            var status: Int32 = 0
            let pid = waitpid(-1, &status, 0)
            if pid > 0 {
                deliver(pid, ExitStatus(waitStatus: status))
            } else if errno == ECHILD {
                lock.lock()
                while spawnsSinceIdle == 0 { lock.wait() }
                // A child may have been reaped by nobody yet; loop and wait for it.
                spawnsSinceIdle = 0
                lock.unlock()
            }
        }
    }

    private func deliver(_ pid: pid_t, _ status: ExitStatus) {
        lock.lock()
        // Orphaned grandchildren are reaped without anyone waiting for them.
        guard tracked.remove(pid) != nil else {
            lock.unlock()
            return
        }
        let continuations = waiters.removeValue(forKey: pid) ?? []
        if continuations.isEmpty {
            finished[pid] = status
            lock.broadcast()
        }
        lock.unlock()
        for continuation in continuations { continuation.resume(returning: status) }
    }

    /// `program` found on `path` (a colon-separated PATH); a name with a slash is returned as it is.
    public static func resolve(_ program: String, path: String) -> String? {
        if program.contains("/") { return program }
        for folder in path.split(separator: ":") {
            let candidate = "\(folder)/\(program)"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }
}

/// Signals a whole process group (a service instance and everything it started).
@discardableResult
func signalGroup(_ pgid: pid_t, _ signal: Int32) -> Bool {
    kill(-pgid, signal) == 0
}

/// True while any process of the group exists (zombies included, until reaped).
func groupExists(_ pgid: pid_t) -> Bool {
    kill(-pgid, 0) == 0 || errno == EPERM
}

func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
    var pointers = strings.map { strdup($0) }
    pointers.append(nil)
    defer {
        for pointer in pointers { free(pointer) }
    }
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}
