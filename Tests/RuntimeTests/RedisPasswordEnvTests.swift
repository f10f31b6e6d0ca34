import DevhostManifest
import DevhostRuntime
import DevhostTestSupport
import Foundation
import Testing

/// `health: { redis: { password: ${REDIS_PASSWORD} } }`: the password is read from the instance's
/// environment when the check runs, against a real redis-server with requirepass that devhost runs.
@Suite(.serialized) struct RedisPasswordEnvTests {
    typealias Harness = ForwardSSHTests.ForwardHarness
    static let secret = "s3cret-from-env"

    /// `strict`: the first failing check makes it unhealthy (the default start period forgives it).
    static func manifest(password: String, top: String = "", strict: Bool = false) -> String {
        """
        \(top)services:
          cache:
            command: redis-server --port $PORT --bind 127.0.0.1 --requirepass \(secret) --save '' --appendonly no
            health: { redis: { password: "\(password)" }, interval: 200ms\(strict ? ", start_period: 0s, retries: 1" : "") }

        """
    }

    /// From devhost's own environment, from the project's env file, and with a default.
    @Test(
        .timeLimit(.minutes(1)),
        arguments: [
            (RedisPasswordEnvTests.manifest(password: "${REDIS_PASSWORD}"), ["REDIS_PASSWORD": RedisPasswordEnvTests.secret], [:]),
            (
                RedisPasswordEnvTests.manifest(password: "${REDIS_PASSWORD}", top: "env_file: .env\n"), [:],
                [".env": "REDIS_PASSWORD=\(RedisPasswordEnvTests.secret)\n"]
            ),
            (RedisPasswordEnvTests.manifest(password: "${UNSET_PASSWORD_VARIABLE:-\(RedisPasswordEnvTests.secret)}"), [:], [:]),
        ])
    func aPasswordFromTheEnvironmentPassesAuth(yaml: String, environment: [String: String], files: [String: String]) async throws {
        let harness = try Harness(yaml, environment: environment)
        for (name, content) in files { try harness.project.write(name, content) }
        try await harness.start()
        let healthy = await harness.until("cache.1", timeout: .seconds(15)) { $0.state == .healthy }
        let snapshot = await harness.instance("cache.1")
        let lines = await harness.log.lines
        await harness.stop()
        #expect(healthy, "\(String(describing: snapshot)) \(lines)")
        #expect(snapshot?.healthDetail == "redis PONG")
        #expect(snapshot?.restarts == 0)
    }

    /// Unset: a clear failure naming the key, before any AUTH is sent; wrong: Redis's own refusal.
    @Test(
        .timeLimit(.minutes(1)),
        arguments: [
            ("${REDIS_PASSWORD_NOT_SET}", "health.redis.password ${REDIS_PASSWORD_NOT_SET} is empty"),
            ("${REDIS_PASSWORD_NOT_SET:?ask the team for it}", "health.redis.password: REDIS_PASSWORD_NOT_SET: ask the team for it"),
            ("${WRONG_PASSWORD}", "AUTH refused"),
        ])
    func anUnsetOrWrongPasswordIsUnhealthyWithAClearReason(password: String, expected: String) async throws {
        let harness = try Harness(Self.manifest(password: password, strict: true), environment: ["WRONG_PASSWORD": "not-it"])
        try await harness.start()
        let said = await harness.log.wait(timeout: .seconds(15)) { events in
            events.contains { $0.description.contains("unhealthy") && $0.description.contains(expected) }
        }
        let lines = await harness.log.lines
        await harness.stop()
        #expect(said, "\(lines)")
    }

    /// A `${…}` the language does not allow is a load error with the key's position.
    @Test func aMalformedPasswordReferenceIsALoadError() throws {
        let project = try TempProject(["devhost.yml": Self.manifest(password: "${REDIS_PASSWORD")])
        #expect {
            _ = try project.load()
        } throws: { error in
            "\(error)".contains("services.cache.health.redis.password") && "\(error)".contains("devhost.yml:4")
        }
    }
}
