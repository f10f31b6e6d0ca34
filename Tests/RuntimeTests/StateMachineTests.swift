import DevhostManifest
import DevhostRuntime
import Testing

@Suite struct HealthTrackerTests {
    let start = ContinuousClock.now
    let check = HealthCheck(probe: .tcp, interval: .seconds(1), timeout: .seconds(1), retries: 3, startPeriod: .seconds(10))

    @Test func failuresInTheStartPeriodDoNotCount() {
        var tracker = HealthTracker(check: check, startedAt: start)
        for second in 1...9 { #expect(tracker.record(success: false, at: start + .seconds(second)) == nil) }
        #expect(tracker.state == .starting)
        #expect(tracker.record(success: true, at: start + .seconds(9)) == .healthy)
    }

    @Test func retriesConsecutiveFailuresMakeItUnhealthyAndOneSuccessHealsIt() {
        var tracker = HealthTracker(check: check, startedAt: start)
        _ = tracker.record(success: true, at: start + .seconds(1))
        #expect(tracker.record(success: false, error: "refused", at: start + .seconds(2)) == nil)
        #expect(tracker.record(success: false, at: start + .seconds(3)) == nil)
        #expect(tracker.record(success: false, error: "refused", at: start + .seconds(4)) == .unhealthy)
        #expect(tracker.lastError == "refused")
        #expect(tracker.record(success: true, at: start + .seconds(5)) == .healthy)
        #expect(tracker.consecutiveFailures == 0)
    }

    @Test func aServiceThatNeverBecomesHealthyTurnsUnhealthyAfterTheStartPeriod() {
        var tracker = HealthTracker(check: check, startedAt: start)
        var states: [HealthTracker.State] = []
        for second in 1...13 {
            if let change = tracker.record(success: false, at: start + .seconds(second)) { states.append(change) }
        }
        #expect(states == [.unhealthy])
    }
}

@Suite struct RestartTrackerTests {
    let start = ContinuousClock.now

    @Test func backoffDoublesToThirtySecondsAndOnFailureStopsAtSuccess() {
        var tracker = RestartTracker(policy: .onFailure, maxRestarts: nil)
        let delays = (0..<9).map { step -> Duration? in
            if case .restart(let delay) = tracker.exited(.exited(1), at: start + .seconds(step)) { return delay }
            return nil
        }
        #expect(
            delays == [
                .milliseconds(500), .seconds(1), .seconds(2), .seconds(4), .seconds(8), .seconds(16), .seconds(30), .seconds(30),
                .seconds(30),
            ])
        #expect(tracker.exited(.exited(0), at: start) == .stay)
        #expect(tracker.exited(.signaled(9), at: start) != .stay)
    }

    @Test func policies() {
        var no = RestartTracker(policy: .no, maxRestarts: 0)
        #expect(no.exited(.exited(1), at: start) == .stay)
        var always = RestartTracker(policy: .always, maxRestarts: nil)
        #expect(always.exited(.exited(0), at: start) == .restart(after: .milliseconds(500)))
    }

    @Test func maxRestartsCountsUntilAHealthyCheckNotASpawn() {
        var tracker = RestartTracker(policy: .always, maxRestarts: 2)
        #expect(tracker.exited(.exited(1), at: start) == .restart(after: .milliseconds(500)))
        #expect(tracker.exited(.exited(1), at: start) == .restart(after: .seconds(1)))
        #expect(tracker.exited(.exited(1), at: start) == .giveUp(reason: "gave up after 2 restarts (exited 1)"))

        var healed = RestartTracker(policy: .always, maxRestarts: 2)
        _ = healed.exited(.exited(1), at: start)
        _ = healed.exited(.exited(1), at: start)
        healed.becameHealthy(at: start)
        #expect(healed.restartsSinceHealthy == 0)
        if case .restart = healed.exited(.exited(1), at: start + .seconds(1)) {
        } else {
            Issue.record("a healthy check should reset the count")
        }
    }

    @Test func backoffResetsAfterAHealthyMinute() {
        var tracker = RestartTracker(policy: .always, maxRestarts: nil)
        for _ in 0..<4 { _ = tracker.exited(.exited(1), at: start) }
        tracker.becameHealthy(at: start)
        #expect(tracker.exited(.exited(1), at: start + .seconds(61)) == .restart(after: .milliseconds(500)))
    }

    @Test func livenessFailuresUseTheSameBackoffAndLimit() {
        var tracker = RestartTracker(policy: .onFailure, maxRestarts: 1)
        #expect(tracker.failedLiveness(at: start) == .restart(after: .milliseconds(500)))
        #expect(tracker.failedLiveness(at: start) == .giveUp(reason: "gave up after 1 restart (unhealthy)"))
    }
}
