import DevhostManifest
import DevhostRuntime
import DevhostTestSupport
import Foundation
import Testing

/// Forwards through real OpenSSH (client and sshd) on loopback; nothing leaves the machine.
@Suite(.serialized) struct ForwardSSHTests {
    /// A supervisor over `yaml` whose ssh reads the test's own client config.
    final class ForwardHarness: @unchecked Sendable {
        let project: TempProject
        let supervisor: Supervisor
        let log = EventLog()
        private var pump: Task<Void, Never>?

        init(_ yaml: String, sshConfig: String) throws {
            project = try TempProject(["devhost.yml": yaml])
            var environment = ProcessInfo.processInfo.environment
            environment["DEVHOST_SSH_CONFIG"] = sshConfig
            let output = LogOutput(options: .init(directory: project.path + "/.devhost/logs", descriptor: open("/dev/null", O_WRONLY)))
            supervisor = Supervisor(manifest: try project.load(), options: .init(log: output, environment: environment))
        }

        func start() async throws {
            let stream = await supervisor.events()
            let log = self.log
            pump = Task { for await event in stream { await log.append(event) } }
            try await supervisor.start()
        }

        func stop() async {
            await supervisor.stop()
            pump?.cancel()
        }

        func instance(_ label: String) async -> InstanceSnapshot? {
            await supervisor.snapshot().first { $0.label == label }
        }

        func port(_ service: String) async -> Int? { await supervisor.stablePorts[service] }

        /// Polls the snapshot (every 10 ms) until `condition` holds for `label`, or `timeout` passes.
        func until(_ label: String, timeout: Duration = .seconds(20), _ condition: @escaping (InstanceSnapshot) -> Bool) async -> Bool {
            let deadline = ContinuousClock.now + timeout
            while ContinuousClock.now < deadline {
                if let snapshot = await instance(label), condition(snapshot) { return true }
                try? await Task.sleep(for: .milliseconds(10))
            }
            return false
        }
    }

    /// One sshd (and a jump host's when asked), a Redis behind it, a client config; all ended by `end()`.
    struct Setup {
        let target: SSHTestServer
        let jump: SSHTestServer?
        let redis: RedisTestServer
        let client: SSHClientConfig

        init(jump withJump: Bool = false, wrongHostKey: Bool = false, authorized: Bool = true) async throws {
            target = try SSHTestServer(authorized: authorized)
            jump = withJump ? try SSHTestServer() : nil
            redis = try await RedisTestServer()
            // One user key for both servers: the jump host's authorized_keys is the target's.
            if let jump { try FileManager.default.copyItem(atPath: target.userKey, toPath: jump.folder + "/client_key") }
            if let jump {
                try String(contentsOfFile: target.userKey + ".pub", encoding: .utf8).write(
                    toFile: jump.folder + "/authorized_keys", atomically: true, encoding: .utf8)
            }
            client = try SSHClientConfig(
                folder: target.folder, identity: target.userKey, servers: [target] + (jump.map { [$0] } ?? []),
                wrongKeyFor: wrongHostKey ? target : nil)
        }

        func service(_ name: String, port: String = "auto", health: String = "{ tcp: true, interval: 200ms }") -> String {
            let jumpText = jump.map { ", jump: [\"\(target.user)@127.0.0.1:\($0.port)\"]" } ?? ""
            return """
                  \(name):
                    forward:
                      ssh: { host: 127.0.0.1, port: \(target.port), user: \(target.user)\(jumpText) }
                      remote: 127.0.0.1:\(redis.port)
                    port: \(port)
                    health: \(health)

                """
        }

        func end() {
            target.remove()
            jump?.remove()
            redis.stop()
        }
    }

    @Test(.timeLimit(.minutes(1))) func aForwardThroughAJumpHostAnswersAsRedis() async throws {
        let setup = try await Setup(jump: true)
        defer { setup.end() }
        let harness = try ForwardHarness("services:\n" + setup.service("db"), sshConfig: setup.client.file)
        try await harness.start()
        let healthy = await harness.until("db.1") { $0.state == .healthy }
        let port = try #require(await harness.port("db"))
        let answer = redisPing(port: port)
        let snapshot = await harness.instance("db.1")
        let lines = await harness.log.lines
        await harness.stop()
        #expect(healthy, "\(String(describing: snapshot)) \(lines)")
        #expect(answer == "+PONG")
        // The jump host carried the connection: it accepted one, as did the target behind it.
        #expect(setup.jump?.connections == 1)
        #expect(setup.target.authentications == 1)
        #expect(await harness.instance("db.1")?.pid == nil)
    }
}
