import Foundation
import NIOConcurrencyHelpers

/// A forward instance's runtime side: its decisions (`ForwardLifecycle`), the tunnel now open, and
/// how to end it. Owned by the supervisor actor, like `Instance`.
final class ForwardRun {
    var machine: ForwardLifecycle
    /// The open tunnel, if any; its `end` is what `devhost stop`/`restart` and a failed check call.
    var tunnel: Tunnel?
    /// The last error shown by `devhost status` and the dashboard (kept after recovery until replaced).
    var lastError: String? { machine.lastError }

    init(host: String) {
        machine = ForwardLifecycle(host: host)
    }
}

/// One open tunnel: the process it lives in (the ssh master, or kubectl) and its ending.
final class Tunnel {
    let pid: pid_t
    let inner: Int
    private var ended: TunnelEnd?
    private var waiters: [CheckedContinuation<TunnelEnd, Never>] = []
    /// Ends this tunnel only (`ssh -O cancel`, or kubectl's process group).
    let close: @Sendable () async -> Void

    init(pid: pid_t, inner: Int, close: @escaping @Sendable () async -> Void) {
        self.pid = pid
        self.inner = inner
        self.close = close
    }

    /// Called once, by whoever sees the end first (the process exited, or the tunnel was closed).
    func finish(_ end: TunnelEnd) {
        guard ended == nil else { return }
        ended = end
        let list = waiters
        waiters = []
        for waiter in list { waiter.resume(returning: end) }
    }

    var finished: TunnelEnd? { ended }

    /// Resumed with the end (the caller checked `finished` first, on the same actor).
    func onEnd(_ waiter: CheckedContinuation<TunnelEnd, Never>) {
        if let ended { return waiter.resume(returning: ended) }
        waiters.append(waiter)
    }
}

struct TunnelEnd: Error, Sendable {
    var status: ExitStatus
    /// The last lines the tunnel's process wrote (ssh's and kubectl's own errors).
    var lines: [String]
}

/// The last lines a process wrote, kept beside the log for classifying why it ended.
final class RecentLines: Sendable {
    private let lines = NIOLockedValueBox<[String]>([])
    private let limit: Int

    /// `limit` lines are kept (the last ones); `ssh -G` prints about a hundred, all needed.
    init(limit: Int = 20) {
        self.limit = limit
    }

    func append(_ line: String) {
        lines.withLockedValue { list in
            list.append(line)
            if list.count > limit { list.removeFirst(list.count - limit) }
        }
    }

    var all: [String] { lines.withLockedValue { $0 } }
}
