import DevhostManifest
import DevhostTestSupport
import Foundation
import NIOPosix
import Testing

@testable import DevhostRuntime

/// The wire-protocol health checks against real servers on loopback (PostgreSQL, Redis, MariaDB),
/// a stand-in for a Kafka broker, and peers that say nothing or the wrong thing.
@Suite("Protocol health checks", .serialized)
struct ProtocolHealthTests {
    let probe = HealthProbe(group: MultiThreadedEventLoopGroup.singleton)

    func check(_ kind: HealthCheck.Probe, _ port: Int, timeout: Duration = .seconds(2)) async -> ProbeOutcome {
        await probe.speak(kind, port: port, timeout: timeout)
    }

    @Test func postgresReadyAskingForAPasswordStartingUpAndRefusing() async throws {
        let trust = try await LocalServer.postgres()
        defer { trust.stop() }
        let ready = await check(.postgres(user: "app", database: "postgres"), trust.port)
        #expect(ready == .healthy("ready for queries as app@postgres"), "\(ready)")
        let missing = await check(.postgres(user: "app", database: "shop"), trust.port)
        #expect(!missing.healthy && missing.detail.contains("database \"shop\" does not exist (3D000)"), "\(missing)")
        // Through the whole run loop too: healthy is nil, unhealthy is the detail.
        let viaRun = await probe.run(
            .postgres(user: "app", database: "postgres"), port: trust.port, timeout: .seconds(2), environment: [:], directory: "/")
        #expect(viaRun == nil)

        let scram = try await LocalServer.postgres(password: "s3cret")
        defer { scram.stop() }
        let asks = await check(.postgres(user: "app", database: "app"), scram.port)
        #expect(asks == .healthy("accepting connections (asks for SASL (SCRAM) authentication)"), "\(asks)")

        let standby = try await LocalServer.postgres(standby: true)
        defer { standby.stop() }
        let starting = await check(.postgres(user: "app", database: "app"), standby.port)
        #expect(
            !starting.healthy && starting.detail.contains("57P03") && starting.detail.contains("not accepting connections"), "\(starting)")

        let port = trust.port
        trust.stop()
        let gone = await check(.postgres(user: "app", database: "postgres"), port)
        #expect(!gone.healthy && gone.detail.contains("connection refused"), "\(gone)")
    }

    @Test func redisPingWithAndWithoutAuth() async throws {
        let open = try await LocalServer.redis()
        defer { open.stop() }
        #expect(await check(.redis(user: nil, password: nil), open.port) == .healthy("PONG"))

        let locked = try await LocalServer.redis(["--requirepass", "s3cret", "--user", "probe", "on", ">probe-pw", "+ping"])
        defer { locked.stop() }
        let noAuth = await check(.redis(user: nil, password: nil), locked.port)
        #expect(!noAuth.healthy && noAuth.detail.contains("NOAUTH"), "\(noAuth)")
        let wrong = await check(.redis(user: nil, password: "guess"), locked.port)
        #expect(!wrong.healthy && wrong.detail.contains("AUTH refused: WRONGPASS"), "\(wrong)")
        #expect(!wrong.detail.contains("guess"), "the password must not appear in the detail")
        #expect(await check(.redis(user: nil, password: "s3cret"), locked.port) == .healthy("PONG"))
        #expect(await check(.redis(user: "probe", password: "probe-pw"), locked.port) == .healthy("PONG"))
    }

    @Test func mysqlGreetingFromMariaDBAndAnErrorPacket() async throws {
        let server = try await LocalServer.mariadb()
        defer { server.stop() }
        let greeted = await check(.mysql, server.port)
        #expect(greeted.healthy && greeted.detail.contains("MariaDB"), "\(greeted)")
        for _ in 0..<3 { #expect(await check(.mysql, server.port).healthy) }
        // The probe finishes the handshake, so the server logs no connection dropped before authentication
        // (those count towards max_connect_errors).
        let log = server.errorLog
        #expect(!log.contains("closed normally without authentication") && !log.contains("Got an error reading"), "\(log)")

        let blocked = try await LocalServer.peer("mysql-blocked")
        defer { blocked.stop() }
        let refused = await check(.mysql, blocked.port)
        #expect(
            !refused.healthy && refused.detail.contains("is blocked because of many connection errors") && refused.detail.contains("1129"))
    }

    @Test func kafkaApiVersionsFromAStandInBroker() async throws {
        let broker = try await LocalServer.peer("kafka")
        defer { broker.stop() }
        #expect(await check(.kafka, broker.port) == .healthy("ApiVersions lists 9 APIs"))
        let confused = try await LocalServer.peer("kafka", ["wrong-id"])
        defer { confused.stop() }
        let wrong = await check(.kafka, confused.port)
        #expect(!wrong.healthy && wrong.detail.contains("correlation id"), "\(wrong)")
    }

    static let wireProbes: [HealthCheck.Probe] = [
        .postgres(user: "app", database: "app"), .redis(user: nil, password: "x"), .mysql, .kafka,
    ]

    @Test(arguments: wireProbes)
    func aPeerThatAcceptsButSaysNothingIsUnhealthyWithinTheTimeout(_ kind: HealthCheck.Probe) async throws {
        let deaf = try LocalServer.deaf()
        defer { deaf.close() }
        let silent = try await LocalServer.peer("silent")
        defer { silent.stop() }
        for port in [deaf.port, silent.port] {
            let started = ContinuousClock.now
            let outcome = await check(kind, port, timeout: .milliseconds(500))
            let took = ContinuousClock.now - started
            #expect(!outcome.healthy && outcome.detail.contains("no answer within 500ms"), "\(outcome)")
            #expect(took >= .milliseconds(450) && took < .milliseconds(1500), "\(took)")
        }
    }

    @Test(arguments: wireProbes)
    func aPeerSpeakingAnotherProtocolIsUnhealthyAtOnce(_ kind: HealthCheck.Probe) async throws {
        let ssh = try await LocalServer.peer("garbage")
        defer { ssh.stop() }
        let started = ContinuousClock.now
        let outcome = await check(kind, ssh.port, timeout: .seconds(5))
        #expect(!outcome.healthy, "\(outcome)")
        #expect(!outcome.detail.contains("no answer"), "garbage is recognised, not waited out: \(outcome)")
        #expect(ContinuousClock.now - started < .seconds(2))
    }
}

extension HealthCheck.Probe: CustomTestStringConvertible {
    public var testDescription: String { "\(self)".prefix { $0 != "(" }.description }
}
