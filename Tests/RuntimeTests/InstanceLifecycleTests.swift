import DevhostManifest
import DevhostRuntime
import Testing

/// `InstanceLifecycle` fed events on a fake clock, each step compared with the actions it must return.
@Suite struct InstanceLifecycleTests {
    typealias Event = InstanceLifecycle.Event
    typealias Action = InstanceLifecycle.Action

    let t0 = ContinuousClock.now
    let check = HealthCheck(probe: .tcp, interval: .seconds(1), timeout: .seconds(1), retries: 2, startPeriod: .seconds(5))

    func service(port: PortSpec = .auto, health: HealthCheck? = nil, restart: RestartPolicy = .onFailure, maxRestarts: Int? = 5)
        -> Service
    {
        Service(
            name: "api", command: .shell("serve"), cwd: "/", port: port, health: health, restart: restart, maxRestarts: maxRestarts)
    }

    func at(_ seconds: Double) -> ContinuousClock.Instant { t0 + .milliseconds(Int(seconds * 1000)) }

    /// Runs the steps in order; a mismatch names the step.
    func play(_ lifecycle: inout InstanceLifecycle, _ steps: [(Event, [Action])], sourceLocation: Testing.SourceLocation = #_sourceLocation)
    {
        for (number, (event, expected)) in steps.enumerated() {
            let actions = lifecycle.handle(event)
            #expect(actions == expected, "step \(number + 1): \(event)", sourceLocation: sourceLocation)
        }
    }

    @Test func withoutACheckListeningPublishesAndStoppingListeningWithdraws() {
        var lifecycle = InstanceLifecycle(service: service())
        play(
            &lifecycle,
            [
                (.waiting("db (healthy)"), [.enter(.waiting("db (healthy)"))]),
                (.spawned(port: 4100, at: at(0)), [.enter(.starting)]),
                (.listening(port: 4100), [.publish(port: 4100), .enter(.healthy)]),
                // Moving to another port moves the route; the state stays.
                (.listening(port: 4200), [.publish(port: 4200)]),
                (.listening(port: 4200), []),
                (.listening(port: nil), [.withdraw, .enter(.running)]),
                // Probe results mean nothing without a check.
                (.probed(failure: nil, at: at(1)), []),
            ])
    }

    @Test func aServiceWithoutAPortRunsAtOnce() {
        var lifecycle = InstanceLifecycle(service: service(port: .none))
        play(&lifecycle, [(.spawned(port: nil, at: at(0)), [.enter(.running)])])
    }

    @Test func withACheckOnlyAHealthyInstanceTakesTraffic() {
        var lifecycle = InstanceLifecycle(service: service(health: check))
        play(
            &lifecycle,
            [
                (.spawned(port: 4100, at: at(0)), [.enter(.starting)]),
                (.listening(port: 4101), []),
                // Failures inside the start period do not count.
                (.probed(failure: "refused", at: at(1)), []),
                (.probed(failure: "refused", at: at(2)), []),
                (.probed(failure: nil, at: at(3)), [.publish(port: 4101), .enter(.healthy)]),
                (.probed(failure: nil, at: at(4)), []),
                (.listening(port: 4102), [.publish(port: 4102)]),
                // Listening stops: the route goes, the state waits for the probes.
                (.listening(port: nil), [.withdraw]),
            ])
        #expect(lifecycle.state == .healthy)
        #expect(lifecycle.restarts.restartsSinceHealthy == 0)
    }

    @Test func beforeDiscoveryTheAssignedPortIsPublished() {
        var lifecycle = InstanceLifecycle(service: service(health: check))
        play(
            &lifecycle,
            [
                (.spawned(port: 4100, at: at(0)), [.enter(.starting)]),
                (.probed(failure: nil, at: at(0.1)), [.publish(port: 4100), .enter(.healthy)]),
            ])
    }

    @Test func failingLivenessWithdrawsSignalsAndRestartsAfterTheBackoff() {
        var lifecycle = InstanceLifecycle(service: service(health: check))
        play(
            &lifecycle,
            [
                (.spawned(port: 4100, at: at(0)), [.enter(.starting)]),
                (.probed(failure: nil, at: at(1)), [.publish(port: 4100), .enter(.healthy)]),
                (.probed(failure: "503", at: at(6)), []),
                (.probed(failure: "503", at: at(7)), [.withdraw, .enter(.unhealthy("503")), .signal(drain: false)]),
                // Killed for it: later results and the exit's own status do not count again.
                (.probed(failure: "503", at: at(8)), []),
                (
                    .exited(.signaled(15), at: at(8)),
                    [
                        .withdraw, .reportExit(.signaled(15)), .enter(.restarting(after: .milliseconds(500))),
                        .respawn(after: .milliseconds(500)),
                    ]
                ),
                (.spawned(port: 4100, at: at(9)), [.enter(.starting)]),
            ])
        #expect(lifecycle.restarts.totalRestarts == 1)
    }

    @Test func livenessUnderRestartNoGivesUp() {
        var lifecycle = InstanceLifecycle(service: service(health: check, restart: .no))
        play(
            &lifecycle,
            [
                (.spawned(port: 4100, at: at(0)), [.enter(.starting)]),
                (.probed(failure: nil, at: at(1)), [.publish(port: 4100), .enter(.healthy)]),
                (.probed(failure: "x", at: at(6)), []),
                (.probed(failure: "x", at: at(7)), [.withdraw, .enter(.unhealthy("x")), .signal(drain: false)]),
                (.exited(.signaled(15), at: at(8)), [.withdraw, .enter(.failed("unhealthy and restart: no"))]),
            ])
    }

    @Test func exitsFollowTheRestartPolicy() {
        let cases: [(RestartPolicy, DevhostRuntime.ExitStatus, [Action])] = [
            (.onFailure, .exited(0), [.withdraw, .enter(.completed)]),
            (.no, .exited(3), [.withdraw, .enter(.exited(.exited(3)))]),
            (
                .onFailure, .exited(1),
                [.withdraw, .reportExit(.exited(1)), .enter(.restarting(after: .milliseconds(500))), .respawn(after: .milliseconds(500))]
            ),
            (
                .always, .exited(0),
                [.withdraw, .reportExit(.exited(0)), .enter(.restarting(after: .milliseconds(500))), .respawn(after: .milliseconds(500))]
            ),
        ]
        for (policy, status, expected) in cases {
            var lifecycle = InstanceLifecycle(service: service(port: .none, restart: policy))
            _ = lifecycle.handle(.spawned(port: nil, at: at(0)))
            #expect(lifecycle.handle(.exited(status, at: at(1))) == expected, "\(policy) after \(status)")
        }
    }

    @Test func crashingGivesUpAfterMaxRestartsAndAStartGivesAFreshBudget() {
        var lifecycle = InstanceLifecycle(service: service(port: .none, maxRestarts: 1))
        play(
            &lifecycle,
            [
                (.spawned(port: nil, at: at(0)), [.enter(.running)]),
                (
                    .exited(.exited(1), at: at(1)),
                    [
                        .withdraw, .reportExit(.exited(1)), .enter(.restarting(after: .milliseconds(500))),
                        .respawn(after: .milliseconds(500)),
                    ]
                ),
                (.spawned(port: nil, at: at(2)), [.enter(.running)]),
                (.exited(.exited(1), at: at(3)), [.withdraw, .enter(.failed("gave up after 1 restart (exited 1)"))]),
                (.startRequested, []),
                (.spawned(port: nil, at: at(4)), [.enter(.running)]),
                // A fresh budget starts the backoff over too.
                (
                    .exited(.exited(1), at: at(5)),
                    [
                        .withdraw, .reportExit(.exited(1)), .enter(.restarting(after: .milliseconds(500))),
                        .respawn(after: .milliseconds(500)),
                    ]
                ),
            ])
    }

    @Test func aRequestedRestartDrainsSignalsAndRespawnsAtOnceWithoutCountingACrash() {
        var lifecycle = InstanceLifecycle(service: service())
        play(
            &lifecycle,
            [
                (.spawned(port: 4100, at: at(0)), [.enter(.starting)]),
                (.listening(port: 4100), [.publish(port: 4100), .enter(.healthy)]),
                (.restartRequested, [.withdraw, .enter(.stopping), .signal(drain: true)]),
                // The old process going down neither serves nor counts.
                (.listening(port: 4101), []),
                (.exited(.exited(143), at: at(1)), [.withdraw, .respawn(after: .zero)]),
                (.spawned(port: 4100, at: at(1)), [.enter(.starting)]),
            ])
        #expect(lifecycle.restarts.totalRestarts == 0)
        #expect(!lifecycle.restartRequested)
    }

    @Test func aRestartWithoutAProcessOnlyWithdrawsAndReleasesAHold() {
        var lifecycle = InstanceLifecycle(service: service())
        play(
            &lifecycle,
            [
                (.stopRequested(hold: true, looping: false), [.withdraw, .enter(.stopped)]),
                (.restartRequested, [.withdraw]),
            ])
        #expect(!lifecycle.held)
        #expect(lifecycle.mayRun)
    }

    @Test func aStopOnRequestHoldsTheInstanceUntilStarted() {
        var lifecycle = InstanceLifecycle(service: service(health: check))
        play(
            &lifecycle,
            [
                (.spawned(port: 4100, at: at(0)), [.enter(.starting)]),
                (.probed(failure: nil, at: at(1)), [.publish(port: 4100), .enter(.healthy)]),
                (.stopRequested(hold: true, looping: true), [.withdraw, .enter(.stopping), .signal(drain: true)]),
                (.probed(failure: nil, at: at(2)), []),
                (.exited(.signaled(15), at: at(2)), [.withdraw, .enter(.stopped)]),
            ])
        #expect(lifecycle.held && !lifecycle.mayRun)
        #expect(lifecycle.handle(.startRequested) == [])
        #expect(!lifecycle.held && lifecycle.mayRun)
    }

    @Test func stoppingAnInstanceThatIsNotRunning() {
        // Its spawn loop waits out a backoff: the loop ends it, and says so.
        var waiting = InstanceLifecycle(service: service())
        play(
            &waiting,
            [
                (.stopRequested(hold: true, looping: true), [.withdraw]),
                (.loopEnded, [.enter(.stopped)]),
            ])
        // devhost stopping says nothing for an instance without a process; its loop ends it.
        var ended = InstanceLifecycle(service: service())
        play(&ended, [(.shutdown, []), (.stopRequested(hold: false, looping: false), [])])
        #expect(!ended.mayRun)
    }

    @Test func devhostStoppingSignalsWithoutDrainingAndNothingRespawns() {
        var lifecycle = InstanceLifecycle(service: service(health: check, restart: .always))
        play(
            &lifecycle,
            [
                (.spawned(port: 4100, at: at(0)), [.enter(.starting)]),
                (.probed(failure: nil, at: at(1)), [.publish(port: 4100), .enter(.healthy)]),
                (.shutdown, []),
                // Probes fail on the way down: that is no crash.
                (.probed(failure: "refused", at: at(7)), []),
                (.probed(failure: "refused", at: at(8)), []),
                (.stopRequested(hold: false, looping: true), [.enter(.stopping), .signal(drain: false)]),
                (.exited(.exited(0), at: at(9)), [.withdraw, .enter(.stopped)]),
            ])
        #expect(lifecycle.restarts.totalRestarts == 0)
    }

    @Test func failuresBeforeASpawnAndSetup() {
        var lifecycle = InstanceLifecycle(service: service())
        play(
            &lifecycle,
            [
                (.settingUp, [.enter(.settingUp)]),
                (.settingUp, []),
                (.failedToStart("setup exited 1"), [.enter(.failed("setup exited 1"))]),
            ])
    }

    @Test func aReloadedDefinitionAppliesFromTheNextSpawn() {
        var lifecycle = InstanceLifecycle(service: service())
        _ = lifecycle.handle(.spawned(port: 4100, at: at(0)))
        lifecycle.adopt(service(port: .none))
        #expect(lifecycle.handle(.exited(.exited(1), at: at(1))).contains(.respawn(after: .milliseconds(500))))
        #expect(lifecycle.handle(.spawned(port: nil, at: at(2))) == [.enter(.running)])
    }
}
