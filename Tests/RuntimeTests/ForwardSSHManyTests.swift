import DevhostRuntime
import Foundation
import Testing

/// Many forwards sharing one real ssh master (OpenSSH client and sshd on loopback): the master killed
/// outright brings every forward back onto one new master at once.
@Suite(.serialized) struct ForwardSSHManyTests {
    /// Twenty forwards, their master SIGKILLed three times: each time every forward is healthy again
    /// on one new master within 5 s (about a second unloaded), having restarted at most twice.
    @Test(.timeLimit(.minutes(2))) func twentyForwardsComeBackTogetherAfterTheirMasterIsKilled() async throws {
        let setup = try await ForwardSSHTests.Setup()
        defer { setup.end() }
        // sshd's default MaxStartups (10:30:100), as a real bastion has: past ten unauthenticated
        // connections at once it drops new ones at random.
        setup.target.stop()
        let config = setup.target.folder + "/sshd_config"
        try String(contentsOfFile: config, encoding: .utf8).replacingOccurrences(of: "MaxStartups 100\n", with: "")
            .write(toFile: config, atomically: true, encoding: .utf8)
        try setup.target.start()
        let labels = (1...20).map { "db\($0).1" }
        let names = (1...20).map { "db\($0)" }
        let harness = try ForwardSSHTests.ForwardHarness(
            "services:\n" + names.map { setup.service($0) }.joined(), sshConfig: setup.client.file)
        try await harness.start()

        func snapshots() async -> [InstanceSnapshot] { await harness.supervisor.snapshot().filter { labels.contains($0.label) } }
        /// Every forward healthy on one live master other than `killed`, polled every 10 ms.
        func allBack(from killed: pid_t?, within timeout: Duration) async -> Bool {
            let deadline = ContinuousClock.now + timeout
            while ContinuousClock.now < deadline {
                let all = await snapshots()
                let pids = Set(all.map(\.pid))
                if all.count == labels.count, all.allSatisfy({ $0.state == .healthy }), pids.count == 1, let pid = pids.first ?? nil,
                    pid != killed
                {
                    return true
                }
                try? await Task.sleep(for: .milliseconds(10))
            }
            return false
        }
        func describe() async -> String {
            let all = await snapshots()
            let states = all.map {
                "\($0.label) \($0.state) pid \($0.pid.map(String.init) ?? "-") restarts \($0.restarts) \($0.lastError ?? "")"
            }
            return (states + (await harness.log.lines).suffix(40) + setup.target.log.split(separator: "\n").suffix(30).map(String.init))
                .joined(separator: "\n")
        }

        let started = await allBack(from: nil, within: .seconds(30))
        let startReport = await describe()
        #expect(started, "\(startReport)")
        guard started else { return await harness.stop() }
        for round in 1...3 {
            let before = Dictionary(uniqueKeysWithValues: await snapshots().map { ($0.label, $0.restarts) })
            let master = try #require(await snapshots().first?.pid)
            let killedAt = ContinuousClock.now
            kill(master, SIGKILL)
            let back = await allBack(from: master, within: .seconds(5))
            let restoredIn = ContinuousClock.now - killedAt
            let after = await snapshots()
            let extra = after.filter { ($0.restarts - (before[$0.label] ?? 0)) > 2 }.map(\.label)
            let report = await describe()
            #expect(back, "round \(round): not back in \(restoredIn)\n\(report)")
            #expect(extra.isEmpty, "round \(round): more than two restarts: \(extra)\n\(report)")
            print("round \(round): back \(back) in \(restoredIn)")
            if !back || !extra.isEmpty { break }
        }
        var answers: [String?] = []
        for name in names { answers.append(redisPing(port: try #require(await harness.port(name)))) }
        let pids = Set(await snapshots().compactMap(\.pid))
        await harness.stop()
        #expect(answers == Array(repeating: "+PONG", count: names.count))
        #expect(SSHTestServer.children(of: getpid()).allSatisfy { !pids.contains($0) }, "the master ended with devhost")
    }
}
