import CDevhostSpawn
import Foundation
import NIOConcurrencyHelpers

/// Ends every service if devhost itself dies, even by SIGKILL.
///
/// A small `/bin/sh` in its own session reads `+PGID` / `-PGID` lines from a pipe only devhost holds.
/// When devhost exits for any reason the kernel closes that pipe, `read` sees end of file, and the
/// watchdog signals the process groups still listed. It is in its own session, so the terminal's
/// Ctrl-C does not reach it, and it lists only groups devhost started and has not yet reaped, so it
/// never signals a process devhost did not start. (PR_SET_PDEATHSIG is not used: it fires when the
/// spawning *thread* exits, and reaches only the group leader, not the grandchildren.)
final class Watchdog: Sendable {
    static let script = """
        groups=" "
        while read -r line; do
          case "$line" in
            +*) groups="$groups${line#+} " ;;
            -*) kept=" "; for g in $groups; do [ "$g" = "${line#-}" ] || kept="$kept$g "; done; groups=$kept ;;
          esac
        done
        for g in $groups; do kill -TERM -"$g" 2>/dev/null; done
        [ "$groups" = " " ] && exit 0
        sleep 2
        for g in $groups; do kill -KILL -"$g" 2>/dev/null; done
        """

    /// Guards the pipe's writing end (-1 once closed): lines go out whole, and none after `shutdown`.
    private let writeFD: NIOLockedValueBox<Int32>
    let pid: pid_t

    init() throws {
        var fds: [Int32] = [0, 0]
        guard devhost_pipe_cloexec(&fds) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EMFILE) }
        let null = open("/dev/null", O_WRONLY | O_CLOEXEC)
        defer {
            close(null)
            close(fds[0])
        }
        pid = try ChildProcesses.shared.spawn(
            ["/bin/sh", "-c", Self.script], environment: ["PATH": "/usr/bin:/bin"], directory: "/", inputFD: fds[0], outputFD: null)
        writeFD = NIOLockedValueBox(fds[1])
    }

    func watch(_ pgid: pid_t) { send("+\(pgid)\n") }
    func forget(_ pgid: pid_t) { send("-\(pgid)\n") }

    /// devhost is exiting cleanly with nothing left running: the watchdog exits too.
    func shutdown() {
        writeFD.withLockedValue { fd in
            if fd >= 0 { close(fd) }
            fd = -1
        }
    }

    private func send(_ line: String) {
        writeFD.withLockedValue { fd in
            if fd >= 0 { writeAll(fd, Array(line.utf8)) }
        }
    }
}
