import DevhostProxy
import DevhostTestSupport
import Foundation
import Testing

@testable import DevhostRuntime

/// The request inspector at the shared edge: which routes the edge records, what a project that
/// asks an older edge hears, and two recording projects and a quiet one behind a real edge.
@Suite struct EdgeInspectorWireTests {
    /// The edge records the routes of projects that ask for it (`inspect: true`), not those of
    /// projects that asked for none or are older than the edge's inspector (no `inspect`), nor the
    /// standalone routes unless told to.
    @Test(arguments: [(Bool?.some(true), true), (.some(false), false), (.none, false)])
    func theEdgeRecordsTheRoutesOfProjectsThatAskForIt(inspect: Bool?, recorded: Bool) {
        let registry = EdgeRegistry(pagesSocket: "/run/edge-http.sock", inspector: Inspector(loops: 1))
        registry.setStandalone([.init(host: "fixed.localhost", target: .address(host: "127.0.0.1", port: 9))])
        let project = EdgeProject(
            name: "shop", folder: "/src/shop", controlSocket: "/src/shop/c.sock", pid: 1,
            routes: [.init(host: "shop.localhost", service: "web"), .init(host: "shop.localhost", service: "api", path: "/api")],
            inspect: inspect)
        #expect(registry.register(1, project).type == .registered)
        let flags = registry.routes.all.map { ($0.host + ($0.path ?? ""), $0.inspected) }
        #expect(flags.filter { $0.0.hasPrefix("shop.localhost") }.map(\.1) == [recorded, recorded], "\(flags)")
        #expect(flags.first { $0.0 == "fixed.localhost" }?.1 == false)
        #expect(!registry.routes.inspectsUnrouted)
    }

    /// A question to an edge whose welcome lacks `requests` is answered by the project itself: a
    /// 409 saying to restart the edge. The edge here is a test double (Python) that says hello as
    /// an edge of the previous release did.
    @Test func anOlderEdgeIsAnsweredWithAConflictSayingToRestartIt() async throws {
        let folder = try TempProject([
            "old_edge.py": """
            import json, os, socket, sys
            s = socket.socket(socket.AF_UNIX)
            s.bind(sys.argv[1]); s.listen(4)
            print("ready", flush=True)
            while True:
                c, _ = s.accept()
                f = c.makefile("rwb")
                for line in f:
                    m = json.loads(line)
                    if m["type"] == "hello":
                        f.write(b'{"type":"welcome","protocol":1,"version":"0.9.0","pid":%d,"port":7777,"features":["path-routes","faults"]}\\n' % os.getpid())
                        f.flush()
                    elif m["type"] == "withdraw":
                        f.write(b'{"type":"withdrawn"}\\n')
                        f.flush()
            """
        ])
        let runtime = folder.file("run")
        try FileManager.default.createDirectory(atPath: runtime, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let paths = EdgePaths(port: 7777, environment: ["XDG_RUNTIME_DIR": runtime])
        try paths.prepare()
        let edge = try ChildProcess(argv: ["python3", folder.file("old_edge.py"), paths.socket])
        defer { edge.stop() }
        #expect(await eventually(timeout: .seconds(10)) { edge.output.contains("ready") }, "\(edge.output)")
        let link = try await EdgeLink.connect(.init(paths: paths, version: "1.0.0", spawn: nil))
        let answer = await link.answer(RequestQuery(.list))
        #expect(answer.status == 409)
        #expect(answer.body.contains("predates the request inspector") && answer.body.contains("devhost proxy restart"), "\(answer.body)")
        await link.withdraw()
    }

    @Test func aRequestsMessageCarriesItsQuestionAndItsAnswer() throws {
        var query = RequestQuery(.list)
        query.services = ["api"]
        query.status = "5xx"
        query.follow = true
        var message = EdgeMessage(.requests)
        message.id = 7
        message.query = query
        let decoded = try EdgeMessage.decode(Array(message.encoded().dropLast()))
        #expect(decoded == message)
        var reply = EdgeMessage(.requests)
        reply.id = 7
        reply.answer = RequestAnswer(status: 200, body: "", lines: [.init(id: 3, inFlight: true, summary: #"{"id":3}"#)], lastID: 3)
        #expect(try EdgeMessage.decode(Array(reply.encoded().dropLast())) == reply)
    }
}

extension EdgeTests {
    /// The edge killed and replaced: its ids begin again at 1, and a follower started before goes
    /// on printing (it used to wait for ids past the last one it had seen).
    @Test func aFollowerGoesOnAcrossAReplacedEdge() async throws {
        let world = try EdgeWorld()
        defer { world.shutDown() }
        let app = try world.project("app", name: "app", who: "app")
        #expect(try world.devhost(["up", "-d"], in: app).status == 0)
        #expect(await eventually(timeout: .seconds(15)) { world.get("api.app.localhost").0 == 200 })
        let follower = try ChildProcess(argv: [devhostBinary, "requests", "-f", "--json"], directory: app, environment: world.environment)
        defer { follower.stop() }
        // Enough requests that the follower's last id is past what the new edge reaches below.
        for index in 0..<5 { #expect(world.get("api.app.localhost", path: "/before-\(index)").0 == 200) }
        #expect(await eventually(timeout: .seconds(10)) { follower.output.contains("/before-4") }, "\(follower.output)")

        let first = try #require(world.paths.runningPID())
        kill(first, SIGKILL)
        #expect(
            await eventually(timeout: .seconds(10)) {
                world.paths.runningPID() != first && world.get("api.app.localhost", path: "/after").0 == 200
            })
        #expect(await eventually(timeout: .seconds(10)) { follower.output.contains("\"target\":\"/after\"") }, "\(follower.output)")
    }

    /// Three projects on one real edge (started by `devhost up -d`): shop and blog record, quiet
    /// has `proxy.inspect: false`. Each recording project lists, shows, follows and replays its own
    /// exchanges only, under its own service names, with its own masking switch; nothing of quiet's
    /// is recorded at all (the edge's ids stay consecutive across its requests).
    @Test func theSharedEdgeRecordsEachProjectsExchangesForItAlone() async throws {
        let world = try EdgeWorld()
        defer { world.shutDown() }
        let shop = try world.project("shop", name: "shop", who: "shop")
        let blog = try world.project("blog", name: "blog", who: "blog")
        let quiet = try world.project("quiet", name: "quiet", who: "quiet")
        try edgeManifest(name: "quiet").replacingOccurrences(of: "services:", with: "proxy: { inspect: false }\nservices:")
            .write(toFile: quiet + "/devhost.yml", atomically: true, encoding: .utf8)
        for folder in [shop, blog, quiet] {
            let up = try world.devhost(["up", "-d"], in: folder)
            #expect(up.status == 0, "\(up.output)")
        }
        for name in ["shop", "blog", "quiet"] {
            #expect(await eventually(timeout: .seconds(15)) { world.get("api.\(name).localhost").0 == 200 }, "\(name) never answered")
        }
        func list(_ folder: String, _ extra: [String] = []) throws -> [[String: Any]] {
            let listed = try world.devhost(["requests", "--json"] + extra, in: folder)
            #expect(listed.status == 0, "\(listed.output)")
            return InspectorCLITests.jsonLines(listed.output)
        }
        // What the health waits above sent is recorded too: the checks below start after it.
        let shopStart = (try list(shop).last?["id"] as? Int) ?? 0
        let blogStart = (try list(blog).last?["id"] as? Int) ?? 0
        let follower = try ChildProcess(
            argv: [devhostBinary, "requests", "-f", "--json"], directory: shop, environment: world.environment)
        defer { follower.stop() }

        let secret = try run([
            "curl", "-s", "-H", "Host: api.shop.localhost", "-H", "Authorization: Bearer s3cret", "http://127.0.0.1:\(world.port)/a",
        ])
        #expect(secret.output.hasPrefix("shop"))
        for _ in 0..<3 { #expect(world.get("api.quiet.localhost", path: "/q").0 == 200) }
        #expect(world.get("api.blog.localhost", path: "/blog-only").0 == 200)
        #expect(world.get("api.shop.localhost", path: "/b").0 == 200)

        let shopped = try list(shop).filter { ($0["id"] as? Int ?? 0) > shopStart }
        #expect(shopped.map { $0["target"] as? String } == ["/a", "/b"], "\(shopped)")
        #expect(shopped.allSatisfy { $0["service"] as? String == "api" && $0["host"] as? String == "api.shop.localhost" })
        // blog's one request came between them and quiet's three were never recorded.
        let ids = shopped.compactMap { $0["id"] as? Int }
        #expect(ids.count == 2 && ids[1] == ids[0] + 2, "\(ids)")
        let blogged = try list(blog).filter { ($0["id"] as? Int ?? 0) > blogStart }
        #expect(blogged.map { $0["target"] as? String } == ["/blog-only"], "\(blogged)")
        #expect(blogged.first?["id"] as? Int == ids[0] + 1)
        let off = try world.devhost(["requests"], in: quiet)
        #expect(off.status == 1 && off.output.contains("proxy.inspect is false"), "\(off.output)")

        // Another project's id is not found from here.
        let foreign = try world.devhost(["requests", String(ids[0] + 1)], in: shop)
        #expect(foreign.status == 1 && foreign.output.contains("is not kept"), "\(foreign.output)")
        // Detail, masked; unmasked for shop only.
        let masked = try world.devhost(["requests", String(ids[0])], in: shop)
        #expect(masked.output.contains("Authorization: ••••••") && !masked.output.contains("s3cret"), "\(masked.output)")
        #expect(try world.devhost(["requests", "--unmask"], in: shop).status == 0)
        #expect(try world.devhost(["requests", String(ids[0])], in: shop).output.contains("Authorization: Bearer s3cret"))
        let blogDetail = try world.devhost(["requests", "--json", String(ids[0] + 1)], in: blog).output
        #expect(blogDetail.contains("\"masked\":true"), "\(blogDetail)")

        // A replay goes through the edge to shop's upstream and is recorded for shop.
        let replay = try world.devhost(["replay", String(ids[0]), "-H", "X-Extra: 1"], in: shop)
        #expect(
            replay.status == 0 && replay.output.contains("replayed #\(ids[0]) as #") && replay.output.contains(": 200"), "\(replay.output)")
        let replayed = try #require(try list(shop).last)
        #expect((replayed["request_id"] as? String)?.hasPrefix("replay-\(ids[0])-") == true && replayed["target"] as? String == "/a")
        let replayedID = try #require(replayed["id"] as? Int)
        let shown = try world.devhost(["requests", "--json", String(replayedID)], in: shop).output
        #expect(shown.contains("shop api.shop.localhost") && shown.contains("Bearer s3cret") && shown.contains("X-Extra"), "\(shown)")

        // The follower printed shop's requests as they ended, none of blog's.
        #expect(await eventually(timeout: .seconds(10)) { follower.output.contains("replay-\(ids[0])-") }, "\(follower.output)")
        #expect(follower.output.contains("\"target\":\"/b\"") && !follower.output.contains("/blog-only"), "\(follower.output)")

        // quiet turns proxy.inspect on: after the reload the edge records its exchanges, from then on.
        try edgeManifest(name: "quiet").write(toFile: quiet + "/devhost.yml", atomically: true, encoding: .utf8)
        _ = try world.devhost(["reload"], in: quiet)
        func quietTargets() -> [String] {
            guard let listed = try? world.devhost(["requests", "--json"], in: quiet), listed.status == 0 else { return ["off"] }
            return InspectorCLITests.jsonLines(listed.output).compactMap { $0["target"] as? String }
        }
        #expect(
            await eventually(timeout: .seconds(10)) {
                _ = world.get("api.quiet.localhost", path: "/q-on")
                return quietTargets().contains("/q-on")
            })
        #expect(!quietTargets().contains("/q"), "\(quietTargets())")
    }
}
