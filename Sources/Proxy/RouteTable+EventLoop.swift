import Foundation
import NIOCore

extension RouteTable {
    /// `next(_:waitingUpTo:excluding:)` for code on an event loop: `done` runs on `loop` with an
    /// endpoint as soon as one can take the request, or with nil once `limit` has passed. It waits
    /// with the loop's timer and the table's wake-up, with no task: a request never waits on Swift's
    /// shared thread pool, which other work can hold (two blocking calls are enough on two cores).
    func next(
        _ service: String, waitingUpTo limit: Duration, excluding: Set<String>, on loop: EventLoop,
        _ done: @escaping (Endpoint?) -> Void
    ) {
        if let endpoint = next(service, excluding: excluding) { return done(endpoint) }
        guard limit > .zero else { return done(nil) }
        LoopWait(table: self, service: service, excluding: excluding, loop: loop, done: done).start(until: loop.now + TimeAmount(limit))
    }
}

/// One request's wait for an instance of a service. Loop-confined.
private final class LoopWait {
    /// How often a service whose instances are all set aside (tried, or suspended after a failure)
    /// is looked at again: the table tells waiters only of new endpoints.
    static let recheck = TimeAmount.milliseconds(20)

    let table: RouteTable
    let service: String
    let excluding: Set<String>
    let loop: EventLoop
    let done: (RouteTable.Endpoint?) -> Void
    let id = UUID()
    var deadline = NIODeadline.uptimeNanoseconds(0)
    var finished = false
    var timeout: Scheduled<Void>?

    init(
        table: RouteTable, service: String, excluding: Set<String>, loop: EventLoop, done: @escaping (RouteTable.Endpoint?) -> Void
    ) {
        self.table = table
        self.service = service
        self.excluding = excluding
        self.loop = loop
        self.done = done
    }

    func start(until deadline: NIODeadline) {
        self.deadline = deadline
        let wait = NIOLoopBound(self, eventLoop: loop)
        timeout = loop.scheduleTask(deadline: deadline) {
            wait.value.finish(wait.value.table.next(wait.value.service, excluding: wait.value.excluding))
        }
        park()
    }

    private func park() {
        let wait = NIOLoopBound(self, eventLoop: loop)
        let loop = self.loop
        if table.park(service, id: id, wake: { loop.execute { wait.value.woken() } }) { return }
        // Endpoints there, none usable: look again shortly (the timeout ends the wait).
        let next = loop.now + Self.recheck
        guard next < deadline else { return }
        loop.scheduleTask(deadline: next) { wait.value.woken() }
    }

    private func woken() {
        guard !finished else { return }
        if let endpoint = table.next(service, excluding: excluding) { return finish(endpoint) }
        park()
    }

    private func finish(_ endpoint: RouteTable.Endpoint?) {
        guard !finished else { return }
        finished = true
        timeout?.cancel()
        table.unpark(service, id: id)
        done(endpoint)
    }
}
