import DevhostManifest
import Testing

@Suite struct ProtocolHealthManifestTests {
    @Test func eachProtocolProbeAndItsDefaults() throws {
        let manifest = try load(
            """
            services:
              db: { command: x, health: { postgres: { user: app, database: shop }, timeout: 2s } }
              pg: { command: x, health: { postgres: true } }
              pgUser: { command: x, health: { postgres: { user: app } } }
              cache: { command: x, health: { redis: true } }
              locked: { command: x, health: { redis: { password: "s3cret$" } } }
              acl: { command: x, health: { redis: { user: probe, password: pw } } }
              mysql: { command: x, health: { mysql: true } }
              events: { command: x, health: { kafka: true, interval: 5s } }
            """)
        let probes = Dictionary(uniqueKeysWithValues: manifest.services.map { ($0.name, $0.health?.probe) })
        #expect(probes["db"] == .postgres(user: "app", database: "shop"))
        #expect(probes["pg"] == .postgres(user: "postgres", database: "postgres"))
        #expect(probes["pgUser"] == .postgres(user: "app", database: "app"))
        #expect(probes["cache"] == .redis(user: nil, password: nil))
        #expect(probes["locked"] == .redis(user: nil, password: "s3cret$"))
        #expect(probes["acl"] == .redis(user: "probe", password: "pw"))
        #expect(probes["mysql"] == .mysql)
        #expect(probes["events"] == .kafka)
        #expect(manifest.services[0].health?.timeout == .seconds(2))
        // The password never reaches JSON output (status, the agent schema).
        let json = manifest.services.first { $0.name == "locked" }!.health!.json.serialized()
        #expect(!json.contains("s3cret") && json.contains("\"password\""), "\(json)")
    }

    struct Case: CustomTestStringConvertible, Sendable {
        var health: String
        var path: String
        var message: String
        /// Where the error points: the first occurrence of this text on the health line.
        var at: String
        var testDescription: String { path + ": " + message }
    }

    static let cases: [Case] = [
        Case(
            health: "{ postgres: { usr: app } }", path: "services.db.health.postgres.usr",
            message: "unknown key \"usr\" (did you mean \"user\"?)", at: "usr"),
        Case(health: "{ postgres: { user: \"\" } }", path: "services.db.health.postgres.user", message: "must not be empty", at: "\"\""),
        Case(health: "{ postgres: yes please }", path: "services.db.health.postgres", message: "expected true or false", at: "yes"),
        Case(
            health: "{ redis: { user: probe } }", path: "services.db.health.redis.user", message: "needs a password next to it",
            at: "probe"),
        Case(health: "{ mysql: 3306 }", path: "services.db.health.mysql", message: "expected true or false", at: "3306"),
        Case(health: "{ kafka: [a] }", path: "services.db.health.kafka", message: "expected true or false", at: "["),
        Case(health: "{ kafka: true, tcp: true }", path: "services.db.health", message: "has kafka and tcp: choose one probe", at: "{"),
        Case(health: "{ kafak: true }", path: "services.db.health.kafak", message: "did you mean \"kafka\"?", at: "kafak"),
    ]

    @Test(arguments: cases)
    func mistakesAreNamedWithTheirPosition(_ c: Case) throws {
        let line = "    health: \(c.health)"
        let found = try issues("services:\n  db:\n    command: x\n\(line)\n")
        let issue = try #require(found.first { $0.path == c.path }, "\(found)")
        #expect(issue.message.contains(c.message), "\(issue.message)")
        let column = line.distance(from: line.startIndex, to: line.range(of: c.at)!.lowerBound) + 1
        #expect(issue.location?.line == 4 && issue.location?.column == column, "\(String(describing: issue.location))")
    }

    @Test func aProtocolProbeNeedsAPort() throws {
        let found = try issues("services:\n  w: { command: x, port: none, health: { redis: true } }\n")
        #expect(found.contains { $0.path == "services.w.health" && $0.message.contains("redis needs a port") }, "\(found)")
    }
}
