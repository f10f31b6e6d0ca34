import DevhostManifest
import DevhostProxy
import Foundation

extension Supervisor {
    /// What devhost as a whole is doing; one value instead of a flag per question.
    enum Phase: Equatable {
        /// Services are coming up; "all services are up" has not been said.
        case starting
        /// "All services are up" was said once (a reload does not say it again).
        case ready
        /// `stop` runs; `forced` (a second Ctrl-C) kills at once and waits for nothing. `wasReady`:
        /// the status still says whether everything had come up.
        case stopping(forced: Bool, wasReady: Bool)
        /// `stop` has finished.
        case stopped(wasReady: Bool)

        var isStopping: Bool {
            switch self {
            case .stopping, .stopped: return true
            case .starting, .ready: return false
            }
        }

        var isStopped: Bool {
            if case .stopped = self { return true }
            return false
        }

        var isForced: Bool {
            if case .stopping(forced: true, _) = self { return true }
            return false
        }

        /// "All services are up" has been said.
        var hasBeenReady: Bool {
            switch self {
            case .starting: return false
            case .ready: return true
            case .stopping(_, let wasReady), .stopped(let wasReady): return wasReady
            }
        }

        /// The phase once `stop` begins (or is forced while it runs).
        func stopping(forced: Bool) -> Phase {
            isStopped ? self : .stopping(forced: forced || isForced, wasReady: hasBeenReady)
        }
    }

    /// Feeds an event to an instance's lifecycle and carries out what it decides. A `signal` is
    /// returned as work for the caller, which knows whether to wait for it; a `respawn` delay too.
    @discardableResult
    func handle(_ event: InstanceLifecycle.Event, for instance: Instance, announce: Bool = true) -> Followup {
        var followup = Followup()
        for action in instance.lifecycle.handle(event) {
            switch action {
            case .publish(let port):
                routes.set(service: instance.service.name, instance: instance.label, endpoint: .init(instance: instance.label, port: port))
            case .withdraw:
                // The one place an endpoint leaves the table (besides a removed service's, in `remove`).
                routes.set(service: instance.service.name, instance: instance.label, endpoint: nil)
                notifyChange()
            case .signal(let drain):
                followup.end = instance.pid.map { pid in ending(instance, pid: pid, drain: drain) }
            case .respawn(let delay):
                followup.respawnAfter = delay
            case .enter(let state):
                entered(instance, state, announce: announce)
            case .reportExit(let status):
                emit(SupervisorEvent(service: instance.service.name, instance: instance.index, kind: .state(.exited(status))))
            }
        }
        return followup
    }

    /// What a lifecycle's actions leave to the caller.
    struct Followup {
        /// Ends the process group (after draining, if asked); the caller awaits it or runs it in a task.
        var end: (@Sendable () async -> Void)?
        var respawnAfter: Duration?
    }

    private func ending(_ instance: Instance, pid: pid_t, drain: Bool) -> @Sendable () async -> Void {
        let (service, label, routes) = (instance.service, instance.label, self.routes)
        return {
            // Answers already on their way through the proxy finish before the signal.
            if drain { await routes.drain(service: service.name, instance: label, upTo: Self.drainLimit(service)) }
            // A forward's process may be an ssh master other forwards share: only its own tunnel ends.
            if service.forward != nil { return await self.endForward(label: label, service: service.name) }
            await self.endGroup(pid, signal: service.stopSignal.number, timeout: service.stopTimeout)
        }
    }

    /// Every instance of a service gets the event; the service's own line is said once.
    func handle(_ event: InstanceLifecycle.Event, forService service: Service, announcing state: InstanceState? = nil) {
        for instance in instances[service.name] ?? [] { handle(event, for: instance, announce: false) }
        if let state { emit(SupervisorEvent(service: service.name, instance: 0, kind: .state(state))) }
    }

    private func entered(_ instance: Instance, _ state: InstanceState, announce: Bool) {
        board.set(service: instance.service.name, instance: instance.label, state: state.description)
        if announce { emit(SupervisorEvent(service: instance.service.name, instance: instance.index, kind: .state(state))) }
        notifyChange()
        checkReady()
        checkAllEnded()
    }
}
