import DevhostCompose
import DevhostManifest
import DevhostTestSupport
import Foundation
import Testing
import Yams

/// The protocol health checks in `devhost compose`: client commands where images have them, a TCP
/// check where they do not, and the lines themselves run against a real Redis.
@Suite struct ComposeProtocolHealthTests {
    static let manifest = """
        services:
          db: { command: postgres, image: "postgres:16-alpine", port: 5432, health: { postgres: { user: app, database: shop } } }
          cache: { command: redis-server, image: "redis:7-alpine", port: 6379, health: { redis: { password: "it's$ecret" } } }
          sql: { command: mariadbd, image: "mariadb:11", port: 3306, health: { mysql: true } }
          events: { command: kafka, image: "apache/kafka:3.7.0", port: 9092, health: { kafka: true } }
        """

    /// The healthcheck tests by service, and the project (its folder lives as long as it does).
    func healthTests() throws -> (tests: [String: [String]], path: String, project: TempProject) {
        let project = try TempProject(["devhost.yml": Self.manifest])
        let file = ComposeFile(manifest: try project.load())
        let rendered = try file.render()
        try file.write(to: file.defaultPath, force: false)
        let document = try #require(try Yams.load(yaml: rendered) as? [String: Any])
        let services = try #require(document["services"] as? [String: [String: Any]])
        var tests: [String: [String]] = [:]
        for (name, service) in services {
            tests[name] = (service["healthcheck"] as? [String: Any])?["test"] as? [String]
        }
        return (tests, file.defaultPath, project)
    }

    @Test func eachProbeMapsToAClientOrATCPCheck() throws {
        let (tests, path, project) = try healthTests()
        defer { withExtendedLifetime(project) {} }
        #expect(tests["db"]?[1].contains("pg_isready -q -h 127.0.0.1 -p 5432 -U 'app' -d 'shop'") == true, "\(tests)")
        #expect(tests["cache"]?[1].contains("redis-cli -h 127.0.0.1 -p 6379 ping | grep -q PONG") == true, "\(tests)")
        #expect(tests["sql"]?[1].contains("mysqladmin ping -h 127.0.0.1 -P 3306") == true, "\(tests)")
        #expect(tests["sql"]?[1].contains("mariadb-admin ping") == true, "\(tests)")
        #expect(tests["events"] == ["CMD-SHELL", "nc -z 127.0.0.1 9092 || (exec 3<>/dev/tcp/127.0.0.1/9092)"])
        try validateWithComposeTools(path)
    }

    static let freePort = "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])"

    /// What compose would run (`$$` is its escape for `$`), run by /bin/sh against a real redis-server.
    @Test func theRedisLineWorksAgainstARealServerWithAQuotedPassword() async throws {
        let (tests, _, _) = try healthTests()
        let port = try #require(Int(try run(["python3", "-c", Self.freePort]).output.trimmingCharacters(in: .whitespacesAndNewlines)))
        let line = try #require(tests["cache"]?[1]).replacingOccurrences(of: "$$", with: "$").replacingOccurrences(
            of: "6379", with: "\(port)")
        let folder = try TempProject()
        let server = try ChildProcess(argv: [
            "redis-server", "--port", "\(port)", "--bind", "127.0.0.1", "--save", "", "--dir", folder.path, "--requirepass", "it's$ecret",
        ])
        defer { server.stop() }
        #expect(await eventually { (try? run(["redis-cli", "-p", "\(port)", "ping"]))?.output.contains("NOAUTH") == true })
        #expect(try run(["/bin/sh", "-c", line]).status == 0, "\(line)")
        let wrong = line.replacingOccurrences(of: "it'\\''s$ecret", with: "guess")
        #expect(wrong != line)
        #expect(try run(["/bin/sh", "-c", wrong]).status != 0, "\(wrong)")
    }
}
