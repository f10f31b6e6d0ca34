import DevhostManifest

/// One instance's lifecycle (pure): what happened to it comes in as an event, what the supervisor
/// must do goes out as actions. Time is passed in, so tests run it on a fake clock.
///
/// It owns every decision about one instance: its state, when it takes traffic (publish, withdraw),
/// its health (`HealthTracker`) and restarts (`RestartTracker`), and the requests that change what an
/// exit means (stopped on request, restart requested, devhost stopping, killed for failing liveness).
/// The supervisor only carries the actions out: spawning, probing, signalling and waiting stay there.
public struct InstanceLifecycle: Sendable, Equatable {
    public enum Event: Sendable, Equatable {
        /// Waiting before the first spawn (dependencies, the start itself).
        case waiting(String)
        /// The service's setup runs before any instance starts.
        case settingUp
        /// Could not start a process (port taken, a dependency or setup failed, spawn failed).
        case failedToStart(String)
        /// A new process runs; `port` is the one devhost assigned (nil: none).
        case spawned(port: Int?, at: ContinuousClock.Instant)
        /// Discovery found the port the process listens on, or saw it stop listening (nil).
        case listening(port: Int?)
        /// A health probe's result: nil for success, else why it failed.
        case probed(failure: String?, at: ContinuousClock.Instant)
        case exited(ExitStatus, at: ContinuousClock.Instant)
        /// devhost is stopping: nothing respawns and probes no longer count, from now on.
        case shutdown
        /// The process is about to be stopped. `hold`: on request, until started again (`devhost stop`,
        /// a replica scaled away); otherwise devhost is stopping. `looping`: a task runs its spawn loop.
        case stopRequested(hold: Bool, looping: Bool)
        /// Replace the running process (`devhost restart`, a watched file, a changed definition).
        case restartRequested
        /// Run again after being held or having ended, with a fresh restart budget.
        case startRequested
        /// The spawn loop ended without starting another process (devhost is stopping, or held).
        case loopEnded
        /// A forward's tunnel ended by itself. Unlike `exited`, nothing is decided or counted: the
        /// forward's own lifecycle tells next whether the remote is away (waiting), the failure is
        /// final, or it was a crash (then `exited` follows).
        case tunnelEnded
    }

    public enum Action: Sendable, Equatable {
        /// The instance takes traffic on this port.
        case publish(port: Int)
        /// The instance takes no traffic.
        case withdraw
        /// End the process group with the service's stop signal (SIGKILL after stop_timeout); `drain`:
        /// let requests in flight through the proxy finish first.
        case signal(drain: Bool)
        /// Start a process again after `after`.
        case respawn(after: Duration)
        /// The instance's state changes (status, dashboard, the event stream).
        case enter(InstanceState)
        /// Said without a change of state: the exit that comes before a restart.
        case reportExit(ExitStatus)
    }

    public private(set) var state: InstanceState = .waiting("start")
    public private(set) var hasPort: Bool
    public private(set) var check: HealthCheck?
    public private(set) var policy: RestartPolicy
    public private(set) var maxRestarts: Int?
    public private(set) var health: HealthTracker?
    public private(set) var restarts: RestartTracker
    /// A process runs (spawned and not yet exited).
    public private(set) var running = false
    public private(set) var assignedPort: Int?
    public private(set) var listeningPort: Int?
    /// Stopped on request: stays down until started, and never ends devhost.
    public private(set) var held = false
    public private(set) var shuttingDown = false
    /// The next exit is a requested restart: respawn at once, without counting it as a crash.
    public private(set) var restartRequested = false
    /// Set when the instance is killed for failing its health check, so the exit that follows is
    /// handled with this decision instead of as a crash.
    private var livenessDecision: RestartTracker.Decision?

    public init(service: Service) {
        hasPort = service.hasPort
        check = service.health
        policy = service.restart
        maxRestarts = service.maxRestarts
        restarts = RestartTracker(policy: service.restart, maxRestarts: service.maxRestarts)
    }

    /// A reload changed the definition: the next spawn and probe use it; the restart budget is kept
    /// until the next `startRequested`.
    public mutating func adopt(_ service: Service) {
        hasPort = service.hasPort
        check = service.health
        policy = service.restart
        maxRestarts = service.maxRestarts
    }

    /// Whether the spawn loop may start another process.
    public var mayRun: Bool { !shuttingDown && !held }

    /// Whether probe results count: a process being stopped, replaced or killed fails its probes on the way down.
    public var probing: Bool { running && !shuttingDown && !held && !restartRequested && livenessDecision == nil }

    public mutating func handle(_ event: Event) -> [Action] {
        switch event {
        case .waiting(let reason): return enter(.waiting(reason))
        case .settingUp: return enter(.settingUp)
        case .failedToStart(let reason): return enter(.failed(reason))
        case .spawned(let port, let now): return spawned(port: port, at: now)
        case .listening(let port): return listening(on: port)
        case .probed(let failure, let now): return probed(failure: failure, at: now)
        case .exited(let status, let now): return exited(status, at: now)
        case .shutdown:
            shuttingDown = true
            return []
        case .stopRequested(let hold, let looping): return stopRequested(hold: hold, looping: looping)
        case .restartRequested: return restartRequestedNow()
        case .startRequested:
            held = false
            restarts = RestartTracker(policy: policy, maxRestarts: maxRestarts)
            return []
        case .loopEnded: return enter(.stopped)
        case .tunnelEnded:
            running = false
            listeningPort = nil
            return [.withdraw]
        }
    }

    private mutating func enter(_ new: InstanceState) -> [Action] {
        guard new != state else { return [] }
        state = new
        return [.enter(new)]
    }

    private mutating func spawned(port: Int?, at now: ContinuousClock.Instant) -> [Action] {
        running = true
        assignedPort = port
        listeningPort = nil
        livenessDecision = nil
        health = check.map { HealthTracker(check: $0, startedAt: now) }
        return enter(hasPort || check != nil ? .starting : .running)
    }

    private mutating func listening(on port: Int?) -> [Action] {
        guard port != listeningPort else { return [] }
        let previous = listeningPort
        listeningPort = port
        if let port {
            // Without a check, listening is what "ready" means; with one, only a healthy instance
            // takes traffic (a new port moves its route).
            guard running, !held, !restartRequested, !shuttingDown else { return [] }
            if check == nil { return [.publish(port: port)] + enter(.healthy) }
            return state == .healthy ? [.publish(port: port)] : []
        }
        guard previous != nil else { return [] }
        return [.withdraw] + (check == nil && state == .healthy ? enter(.running) : [])
    }

    private mutating func probed(failure: String?, at now: ContinuousClock.Instant) -> [Action] {
        guard probing, var tracker = health else { return [] }
        let change = tracker.record(success: failure == nil, error: failure, at: now)
        health = tracker
        switch change {
        case .healthy?:
            restarts.becameHealthy(at: now)
            let route = (listeningPort ?? assignedPort).flatMap { hasPort ? [Action.publish(port: $0)] : nil } ?? []
            return route + enter(.healthy)
        case .unhealthy?:
            restarts.becameUnhealthy()
            let actions = [Action.withdraw] + enter(.unhealthy(failure ?? "failing"))
            livenessDecision = restarts.failedLiveness(at: now)
            return actions + [.signal(drain: false)]
        default:
            return []
        }
    }

    private mutating func exited(_ status: ExitStatus, at now: ContinuousClock.Instant) -> [Action] {
        running = false
        listeningPort = nil
        var actions: [Action] = [.withdraw]
        if shuttingDown || held {
            restartRequested = false
            return actions + enter(.stopped)
        }
        if restartRequested {
            restartRequested = false
            return actions + [.respawn(after: .zero)]
        }
        let decision = livenessDecision ?? restarts.exited(status, at: now)
        livenessDecision = nil
        switch decision {
        case .stay:
            actions += enter(status.succeeded ? .completed : .exited(status))
        case .giveUp(let reason):
            actions += enter(.failed(reason))
        case .restart(let delay):
            actions.append(.reportExit(status))
            actions += enter(.restarting(after: delay))
            actions.append(.respawn(after: delay))
        }
        return actions
    }

    private mutating func stopRequested(hold: Bool, looping: Bool) -> [Action] {
        if hold {
            held = true
        } else {
            shuttingDown = true
        }
        var actions: [Action] = hold ? [.withdraw] : []
        if running {
            actions += enter(.stopping)
            actions.append(.signal(drain: hold))
        } else if hold, !looping {
            actions += enter(.stopped)
        }
        return actions
    }

    /// Without a process only the route goes: an instance waiting out its backoff respawns by itself,
    /// and one that ended is started with `startRequested`.
    private mutating func restartRequestedNow() -> [Action] {
        held = false
        guard running else { return [.withdraw] }
        restartRequested = true
        return [.withdraw] + enter(.stopping) + [.signal(drain: true)]
    }
}
