import DevhostManifest
import DevhostRuntime
import DevhostTestSupport
import Foundation
import Testing

@Suite(.serialized) struct LifecycleTests {
    @Test func onFailureRestartsWithBackoffThenGivesUpOnce() async throws {
        let harness = try Harness("services:\n  crash: { command: \"echo boom; exit 2\", port: none, max_restarts: 3 }\n")
        try await harness.start()
        #expect(await harness.waitFor("crash.1 failed: gave up after 3 restarts (exited 2)"))
        let lines = await harness.log.lines
        #expect(
            lines.filter { $0.contains("crash.1 restarting in") } == [
                "crash.1 restarting in 500ms", "crash.1 restarting in 1s", "crash.1 restarting in 2s",
            ])
        #expect(lines.filter { $0.contains("gave up") }.count == 1, "giving up is said once")
        #expect(await harness.instance("crash.1")?.restarts == 3)
        // Everything ended: devhost stops by itself.
        #expect(await harness.waitFor("nothing is left running"))
        await harness.stop()
    }

    @Test func onFailureLeavesACleanExitAloneAndAlwaysRestartsIt() async throws {
        let harness = try Harness(
            """
            services:
              once: { command: "exit 0", port: none }
              loop: { command: "exit 0", port: none, restart: always, max_restarts: 1 }
              keep: { command: "sleep 30", port: none }
            """)
        try await harness.start()
        #expect(await harness.waitFor("once.1 completed"))
        #expect(await harness.waitFor("loop.1 failed: gave up after 1 restart (exited 0)"))
        #expect(await harness.instance("once.1")?.restarts == 0)
        await harness.stop()
    }

    @Test func restartNoStaysDown() async throws {
        let harness = try Harness(
            "services:\n  job: { command: \"exit 1\", port: none, restart: \"no\" }\n  keep: { command: \"sleep 30\", port: none }\n")
        try await harness.start()
        #expect(await harness.waitFor("job.1 exited 1"))
        #expect(await harness.instance("job.1")?.restarts == 0)
        await harness.stop()
    }

    @Test func healthTransitionsAndALivenessRestart() async throws {
        let harness = try Harness(
            "services:\n  api: { command: python3 server.py, health: { http: /healthz, interval: 100ms, retries: 2, start_period: 1s } }\n",
            files: ["server.py": serverScript])
        try await harness.start()
        #expect(await harness.waitFor("api.1 healthy"))
        let firstPid = try #require(await harness.instance("api.1")?.pid)
        try harness.project.write("FAIL_HEALTH", "")
        #expect(await harness.waitFor("api.1 unhealthy: GET /healthz answered 503"))
        #expect(await harness.waitFor("api.1 restarting in 500ms"))
        try FileManager.default.removeItem(atPath: harness.project.path + "/FAIL_HEALTH")
        #expect(await harness.wait { events in events.filter { $0.description == "api.1 healthy" }.count == 2 })
        let secondPid = try #require(await harness.instance("api.1")?.pid)
        #expect(secondPid != firstPid)
        #expect(kill(firstPid, 0) != 0, "the unhealthy process was ended")
        await harness.stop()
        #expect(harness.leftovers().isEmpty)
    }

    @Test func gracefulStopUsesStopSignalAndGrandchildrenGoToo() async throws {
        // The service traps SIGINT to write a file; it also starts two background grandchildren.
        let harness = try Harness(
            """
            services:
              tree:
                command: "trap 'echo bye > stopped.txt; exit 0' INT; sleep 300 & sleep 301 & wait"
                port: none
                stop_signal: SIGINT
                stop_timeout: 5s
            """)
        try await harness.start()
        #expect(await harness.waitFor("tree.1 running"))
        #expect(await eventually { harness.leftovers().count >= 3 }, "sh and two sleeps")
        let begin = ContinuousClock.now
        await harness.stop()
        #expect(ContinuousClock.now - begin < .seconds(4))
        #expect(harness.leftovers().isEmpty, "\(harness.leftovers())")
        #expect(FileManager.default.fileExists(atPath: harness.project.path + "/stopped.txt"), "the stop signal was SIGINT")
    }

    @Test func stubbornProcessesAreKilledAfterStopTimeout() async throws {
        let harness = try Harness(
            "services:\n  stubborn: { command: \"trap '' TERM; touch trapped; sleep 300 & wait; sleep 300\", port: none, stop_timeout: 300ms }\n"
        )
        try await harness.start()
        // Stop only once the shell has set its trap (a SIGTERM before that would end it at once).
        #expect(await eventually { FileManager.default.fileExists(atPath: harness.project.path + "/trapped") })
        let begin = ContinuousClock.now
        await harness.stop()
        let took = ContinuousClock.now - begin
        let lines = await harness.log.lines
        #expect(took >= .milliseconds(300) && took < .seconds(3), "\(took) \(lines)")
        #expect(harness.leftovers().isEmpty)
    }

    @Test func forcedStopKillsAtOnce() async throws {
        let harness = try Harness(
            "services:\n  slow: { command: \"trap '' TERM; touch trapped; sleep 300\", port: none, stop_timeout: 60s }\n")
        try await harness.start()
        #expect(await eventually { FileManager.default.fileExists(atPath: harness.project.path + "/trapped") })
        let graceful = Task { await harness.stop() }
        #expect(await harness.waitFor("slow.1 stopping"))
        let begin = ContinuousClock.now
        await harness.stop(force: true)
        await graceful.value
        #expect(ContinuousClock.now - begin < .seconds(3))
        #expect(harness.leftovers().isEmpty)
    }

    @Test func stopOrderIsTheReverseOfDependencies() async throws {
        let harness = try Harness(
            """
            services:
              db: { command: "sleep 30", port: none }
              api: { command: "sleep 30", port: none, depends_on: [db] }
              web: { command: "sleep 30", port: none, depends_on: [api] }
            """)
        try await harness.start()
        #expect(await harness.waitFor("all services are up"))
        await harness.stop()
        let stopped = await harness.log.lines.filter { $0.hasSuffix(" stopped") }
        #expect(stopped == ["web.1 stopped", "api.1 stopped", "db.1 stopped"])
    }
}

@Suite(.serialized) struct OrphanTests {
    /// `kill -9` of devhost itself: the watchdog ends every service, grandchildren included.
    @Test func killingDevhostWithSIGKILLLeavesNoService() async throws {
        let marker = "devhost-test-\(UUID().uuidString)"
        let project = try TempProject([
            "devhost.yml": """
            services:
              tree: { command: "sleep 300 & sleep 301 & wait", port: none }
              api: { command: "python3 -m http.server $PORT --bind 127.0.0.1", health: { tcp: true, interval: 100ms } }
            """
        ])
        var environment = ProcessInfo.processInfo.environment
        environment["DEVHOST_TEST_MARKER"] = marker
        // A proxy of its own on a free port: the shared edge would outlive the test.
        environment["DEVHOST_PROXY_PORT"] = String(try freeLoopbackPort())
        let devhost = try ChildProcess(argv: [devhostBinary, "up"], directory: project.path, environment: environment)
        defer { devhost.stop() }
        let up = await eventually(timeout: .seconds(30)) { devhost.output.contains("all services are up") }
        #expect(up, "\(devhost.output)")
        #expect(livingProcesses(withMarker: marker).count >= 4, "\(livingProcesses(withMarker: marker))")
        kill(devhost.pid, SIGKILL)
        devhost.wait()
        let gone = await eventually { livingProcesses(withMarker: marker).isEmpty }
        #expect(gone, "left behind: \(livingProcesses(withMarker: marker))")
    }

    @Test func ctrlCStopsEverythingAndExitsZero() async throws {
        let marker = "devhost-test-\(UUID().uuidString)"
        let project = try TempProject(["devhost.yml": "services:\n  tree: { command: \"sleep 300 & wait\", port: none }\n"])
        var environment = ProcessInfo.processInfo.environment
        environment["DEVHOST_TEST_MARKER"] = marker
        // A proxy of its own on a free port: the shared edge would outlive the test.
        environment["DEVHOST_PROXY_PORT"] = String(try freeLoopbackPort())
        let devhost = try ChildProcess(argv: [devhostBinary, "up"], directory: project.path, environment: environment)
        defer { devhost.stop() }
        #expect(await eventually(timeout: .seconds(30)) { devhost.output.contains("all services are up") })
        kill(devhost.pid, SIGINT)
        #expect(devhost.wait() == 0, "\(devhost.output)")
        #expect(livingProcesses(withMarker: marker).isEmpty)
        #expect(devhost.output.contains("tree.1 stopped"))
    }
}
