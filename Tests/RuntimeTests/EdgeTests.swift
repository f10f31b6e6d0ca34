import DevhostRuntime
import DevhostTestSupport
import Foundation
import Testing

/// The shared edge proxy with real devhost processes: several projects (and a git worktree) on one
/// port, projects and the edge killed, clashes, other users, version skew, idle exit.
@Suite(.serialized) struct EdgeTests {
    @Test func threeProjectsShareOneEdgeAndADeadProjectLosesItsHosts() async throws {
        let world = try EdgeWorld()
        defer { world.shutDown() }
        let shop = try world.project("shop", name: "shop", who: "shop-main")
        let blog = try world.project("blog", name: "blog", who: "blog")
        try world.root.write("load.py", loadScript)
        for command in [
            ["init", "-q", "-b", "main", "."], ["add", "-A"], ["-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "shop"],
        ] {
            #expect(try run(["git"] + command, in: shop).status == 0)
        }
        let worktree = world.root.file("shop-feature")
        #expect(try run(["git", "worktree", "add", "-q", "-b", "feature/x", worktree], in: shop).status == 0)
        try "shop-feature".write(toFile: worktree + "/who.txt", atomically: true, encoding: .utf8)

        for folder in [shop, blog, worktree] {
            let up = try world.devhost(["up", "-d"], in: folder)
            #expect(up.status == 0, "\(folder): \(up.output)")
        }
        #expect(try world.root.read("shop-feature/.devhost/up.log").contains("its hosts carry the branch prefix feature-x"))
        #expect(world.get("api.shop.localhost") == (200, "shop-main api.shop.localhost"))
        #expect(world.get("api.blog.localhost") == (200, "blog api.blog.localhost"))
        #expect(world.get("feature-x.api.shop.localhost") == (200, "shop-feature feature-x.api.shop.localhost"))
        // The same hosts over HTTPS from the edge, HTTP/2 and HTTP/1.1, with the edge's local CA.
        let secure = world.getSecure("feature-x.api.shop.localhost")
        #expect(
            secure.0 == 200 && secure.1 == "shop-feature feature-x.api.shop.localhost:\(world.httpsPort)" && secure.2 == "2", "\(secure)")
        #expect(world.getSecure("api.blog.localhost", http2: false) == (200, "blog api.blog.localhost:\(world.httpsPort)", "1.1"))
        let status = try #require(world.status())
        #expect(status.projects.map(\.key) == ["blog", "feature-x.shop", "shop"])
        #expect(status.projects.first { $0.key == "feature-x.shop" }?.services.first?.hosts == ["feature-x.api.shop.localhost"])
        // The worktree's services see their own public URL: https on the edge's HTTPS port, and the
        // plain one beside it.
        let feature = "feature-x.api.shop.localhost"
        #expect(world.get(feature, path: "/public").1 == "https://\(feature):\(world.httpsPort)")
        #expect(world.get(feature, path: "/plain").1 == "http://\(feature):\(world.port)")
        #expect(world.get("api.blog.localhost", path: "/public").1 == "https://api.blog.localhost:\(world.httpsPort)")
        #expect(world.get("api.blog.localhost", path: "/plain").1 == "http://api.blog.localhost:\(world.port)")
        let dashboard = world.get("devhost.localhost")
        #expect(dashboard.0 == 200 && ["shop", "blog", "feature-x.shop", "feature-x.api.shop.localhost"].allSatisfy(dashboard.1.contains))
        #expect(world.get("devhost.blog.localhost", path: "/v1/status").0 == 200)
        // `hosts sync` lists every host the edge serves, whichever project it runs in.
        try world.root.write("hosts", "127.0.0.1 localhost\n")
        #expect(try world.devhost(["hosts", "sync", "--file", world.root.file("hosts")], in: blog).status == 0)
        let synced = try world.root.read("hosts")
        for host in ["api.shop.localhost", "api.blog.localhost", "feature-x.api.shop.localhost", "devhost.feature-x.shop.localhost"] {
            #expect(synced.contains("127.0.0.1 \(host)\n"), "\(host) missing from:\n\(synced)")
        }
        #expect(synced.hasPrefix("127.0.0.1 localhost\n"))

        // `down` of one project under keep-alive load on another: not one request fails.
        let load = try ChildProcess(
            argv: ["python3", "load.py", String(world.port), "api.shop.localhost", "STOP", "60"], directory: world.root.path)
        defer { load.stop() }
        #expect(await eventually(timeout: .seconds(10)) { load.output.contains("first-ok") }, "\(load.output)")
        #expect(try world.devhost(["down"], in: blog).status == 0)
        #expect(await eventually(timeout: .seconds(5)) { world.get("api.blog.localhost").0 == 404 })
        // The load goes on for a while after the withdrawal too.
        var after = 0
        #expect(
            await eventually(timeout: .seconds(10)) {
                if world.get("api.shop.localhost").0 == 200 { after += 1 }
                return after >= 10
            })
        try world.root.write("STOP", "")
        #expect(load.wait() == 0)
        let summary = try #require(
            load.output.split(separator: "\n").last.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] })
        // Its count depends on how busy the machine is; what matters is that none failed.
        #expect(summary["fail"] as? Int == 0 && (summary["ok"] as? Int ?? 0) > 0, "\(summary)")

        // SIGKILL of a project's devhost: its hosts stop routing within a second, the others stay.
        let pid = try #require(ProjectLock.holder(try ProjectState(directory: shop)))
        kill(pid, SIGKILL)
        let killed = ContinuousClock.now
        #expect(await eventually(timeout: .seconds(1)) { world.get("api.shop.localhost").0 == 404 })
        #expect(ContinuousClock.now - killed < .seconds(1))
        let gone = world.get("api.shop.localhost")
        #expect(gone.1.contains("is not running") && gone.1.contains(shop), "\(gone)")
        #expect(world.get("feature-x.api.shop.localhost").0 == 200)
    }

    @Test func aKilledEdgeIsReplacedAndProjectsRegisterAgain() async throws {
        let world = try EdgeWorld()
        defer { world.shutDown() }
        let app = try world.project("app", name: "app", who: "app")
        #expect(try world.devhost(["up", "-d"], in: app).status == 0)
        #expect(world.get("api.app.localhost").0 == 200)
        let first = try #require(world.paths.runningPID())
        kill(first, SIGKILL)
        let killed = ContinuousClock.now
        #expect(await eventually(timeout: .seconds(2)) { world.get("api.app.localhost").0 == 200 })
        #expect(ContinuousClock.now - killed < .seconds(2))
        let second = try #require(world.paths.runningPID())
        #expect(second != first)
        #expect(try world.root.read("app/.devhost/up.log").contains("registered with the edge proxy again"))

        // A restart through the edge under keep-alive load: requests in flight at the edge are
        // drained before the instance stops, and new ones wait for the new instance.
        try world.root.write("load.py", loadScript)
        let load = try ChildProcess(
            argv: ["python3", "load.py", String(world.port), "api.app.localhost", "STOP", "60"], directory: world.root.path)
        defer { load.stop() }
        #expect(await eventually(timeout: .seconds(10)) { load.output.contains("first-ok") })
        let restart = try world.devhost(["restart", "api"], in: app)
        #expect(restart.status == 0, "\(restart.output)")
        try world.root.write("STOP", "")
        #expect(load.wait() == 0)
        let summary = try #require(
            load.output.split(separator: "\n").last.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] })
        #expect(summary["fail"] as? Int == 0, "\(summary)")

        // `devhost proxy stop`: projects are told, and wait for the next edge instead of starting one.
        #expect(try run([devhostBinary, "proxy", "stop"], environment: world.environment).output.contains("stopped the edge proxy"))
        #expect(
            await eventually(timeout: .seconds(5)) {
                (try? world.root.read("app/.devhost/up.log"))?.contains("the edge proxy stopped") == true
            })
        #expect(world.paths.runningPID() == nil, "a project started an edge after `proxy stop`")
        #expect(world.get("api.app.localhost").0 == 0)
        let start = try run([devhostBinary, "proxy", "start"], environment: world.environment)
        #expect(start.status == 0, "\(start.output)")
        #expect(await eventually(timeout: .seconds(3)) { world.get("api.app.localhost").0 == 200 })
    }

    @Test func unrelatedProjectsCannotShareHosts() async throws {
        let world = try EdgeWorld()
        defer { world.shutDown() }
        let first = try world.project("one/app", name: "app", who: "one")
        let second = try world.project("two/app", name: "app", who: "two")
        #expect(try world.devhost(["up", "-d"], in: first).status == 0)
        let refused = try world.devhost(["up", "-d"], in: second)
        #expect(refused.status != 0)
        #expect(refused.output.contains("api.app.localhost is already served by the project in \(first)"), "\(refused.output)")
        #expect(refused.output.contains(second))
        #expect(world.get("api.app.localhost") == (200, "one api.app.localhost"))
        #expect(world.status()?.projects.count == 1)
        // doctor takes the edge on the port for what it is, not for a program in the way.
        let doctor = try world.devhost(["doctor"], in: second)
        #expect(
            doctor.output.contains("the shared edge proxy (pid \(world.paths.runningPID() ?? 0)) serves port \(world.port)"),
            "\(doctor.output)")
    }

    @Test(.enabled(if: getuid() == 0, "needs root to act as another user"))
    func anotherUserCanNeitherRegisterNorSeeTheDashboard() async throws {
        let world = try EdgeWorld()
        defer { world.shutDown() }
        let app = try world.project("app", name: "app", who: "app")
        #expect(try world.devhost(["up", "-d"], in: app).status == 0)
        let socket = world.paths.socket
        let attempt = try run([
            "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c",
            """
            import socket
            s = socket.socket(socket.AF_UNIX)
            try:
                s.connect("\(socket)")
                s.sendall(b'{"type":"hello","protocol":1}\\n')
                print("connected", s.recv(100))
            except OSError as error:
                print("refused", error.errno)
            """,
        ])
        #expect(attempt.output.hasPrefix("refused 13"), "\(attempt.output)")
        #expect(world.get("devhost.localhost").0 == 200)
        #expect(world.get("devhost.localhost", asUser: 65534).0 == 403)
        #expect(world.get("devhost.app.localhost", path: "/v1/status", asUser: 65534).0 == 403)
    }

    @Test func anEdgeOfAnotherProtocolIsNeverTalkedTo() async throws {
        let world = try EdgeWorld()
        defer { world.shutDown() }
        let app = try world.project("app", name: "app", who: "app")
        // Stands in for an edge of a future devhost: it welcomes with protocol 99.
        let paths = world.paths
        try paths.prepare()
        let future = try ChildProcess(
            argv: [
                "python3", "-c",
                """
                import os, socket, sys
                s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(); print("ready", flush=True)
                while True:
                    c, _ = s.accept(); c.recv(4096)
                    c.sendall(b'{"type":"welcome","protocol":99,"version":"9.9.9","pid":4242,"port":1}\\n'); c.close()
                """, paths.socket,
            ], environment: world.environment)
        defer { future.stop() }
        #expect(await eventually(timeout: .seconds(5)) { future.output.contains("ready") })
        let up = try world.devhost(["up"], in: app)
        #expect(up.status != 0)
        #expect(
            up.output.contains("devhost 9.9.9") && up.output.contains("protocol 99") && up.output.contains("devhost proxy restart"),
            "\(up.output)")
    }

    @Test func theEdgeServesStandaloneRoutesAndExitsWhenIdle() async throws {
        let world = try EdgeWorld(idle: "1s")
        defer { world.shutDown() }
        let app = try world.project("app", name: "app", who: "app")
        #expect(try world.devhost(["up", "-d"], in: app).status == 0)
        // A standalone route, beside the project, in the same edge.
        let port = try freeLoopbackPort()
        let standalone = try ChildProcess(
            argv: ["python3", "server.py"], directory: app, environment: world.environment.merging(["PORT": String(port)]) { $1 })
        defer { standalone.stop() }
        #expect(try world.devhost(["route", "add", "side", String(port)], in: app).status == 0)
        #expect(await eventually(timeout: .seconds(5)) { world.get("side.localhost").0 == 200 })
        #expect(try world.devhost(["route", "rm", "side"], in: app).status == 0)
        let edge = try #require(world.paths.runningPID())
        #expect(try world.devhost(["down"], in: app).status == 0)
        // Nothing left to serve: gone after the idle time.
        #expect(await eventually(timeout: .seconds(8)) { kill(edge, 0) != 0 })
    }
}
