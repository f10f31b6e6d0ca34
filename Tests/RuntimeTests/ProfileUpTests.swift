import DevhostRuntime
import DevhostTestSupport
import Foundation
import Testing

/// `devhost up --profile` with a real PostgreSQL behind a postgres health check: the app that depends on
/// it being healthy starts only once it answers as a database.
@Suite("Profiles and the postgres check through devhost up", .serialized)
struct ProfileUpTests {
    /// Connects once at start and says what the database answered: ready (ReadyForQuery), starting up, or nothing.
    static let app = #"""
        import socket, struct, sys, time
        body = struct.pack("!i", 196608) + b"user\0app\0database\0postgres\0\0"
        try:
            s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
            s.sendall(struct.pack("!i", len(body) + 4) + body)
            data = b""
            while not (b"Z\0\0\0\5" in data or data.startswith(b"E")):
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
            print("db ready for queries" if b"Z\0\0\0\5" in data else "db said %r" % data[:80], flush=True)
        except OSError as error:
            print("db unreachable: %s" % error, flush=True)
        time.sleep(3600)
        """#

    func manifest(folder: String) -> String {
        let user = LocalServer.asServerUser.joined(separator: " ")
        // The sleep stands in for a database that takes a while to start (recovery, a big shared_buffers).
        let start =
            "sleep 1; exec \(user) \(LocalServer.postgresBin("postgres")) -D \(folder)/data -k \(folder) -p $PORT "
            + "-c listen_addresses=127.0.0.1 -c fsync=off"
        return """
            name: pgup
            services:
              app:
                command: python3 app.py ${db.port}
                port: none
                depends_on: { db: { condition: healthy } }
              db:
                command: "\(start)"
                profiles: [local]
                stop_signal: SIGINT
                health: { postgres: { user: app, database: postgres }, interval: 200ms }
            """
    }

    @Test func appStartsOnceTheProfiledDatabaseAnswers() async throws {
        let folder = try LocalServer.folder("pgup")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let made = try run(
            LocalServer.asServerUser + [
                LocalServer.postgresBin("initdb"), "-D", folder + "/data", "-U", "app", "--auth=trust", "--locale=C", "--no-sync",
            ])
        #expect(made.status == 0, "\(made.output)")
        let dev = try DevhostRun(manifest(folder: folder), files: ["app.py": Self.app])
        defer { dev.shutDown() }

        // Without the profile the app's dependency is left out: one clear error with its position.
        let refused = try dev.devhost(["up", "-d"])
        #expect(refused.status == 1, "\(refused.output)")
        #expect(refused.output.contains("services.app.depends_on.db: \"db\" runs only with profile local"), "\(refused.output)")
        #expect(refused.output.contains("devhost.yml:6:"), "\(refused.output)")

        let up = try dev.devhost(["up", "-d", "--profile", "local"])
        #expect(up.status == 0, "\(up.output)")
        let report = await dev.waitForStatus { report in report.services.first { $0.name == "app" }?.instances.first?.pid != nil }
        #expect(report?.services.map(\.name).sorted() == ["app", "db"])
        #expect(report?.services.first { $0.name == "db" }?.instances.first?.health == "ok", "\(String(describing: report))")
        var appLog = ""
        let answered = await eventually(timeout: .seconds(20)) {
            appLog = (try? dev.devhost(["logs", "app", "-n", "20"]))?.output ?? ""
            return appLog.contains("db ")
        }
        #expect(answered && appLog.contains("db ready for queries"), "\(appLog)")
        #expect(dev.shutDown().isEmpty)
    }
}
