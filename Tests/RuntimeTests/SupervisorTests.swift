import DevhostManifest
import DevhostRuntime
import DevhostTestSupport
import Foundation
import Testing

func curl(_ url: String) throws -> (status: Int32, body: String) {
    let result = try run(["curl", "-s", "--max-time", "5", url])
    return (result.status, result.output)
}

@Suite(.serialized) struct SupervisorTests {
    @Test func dependencyConditionsOrderTheStart() async throws {
        let harness = try Harness(
            """
            services:
              migrate: { command: "sleep 0.3; echo migrated > migrated.txt", port: none, restart: "no" }
              db:
                command: python3 server.py
                depends_on: { migrate: { condition: completed } }
                health: { http: /healthz, interval: 100ms }
              api:
                command: python3 server.py
                depends_on: { db: { condition: healthy } }
                health: { http: /healthz, interval: 100ms }
              sidecar: { command: "sleep 30", port: none, depends_on: [api] }
            """, files: ["server.py": serverScript])
        try await harness.start()
        #expect(await harness.waitFor("all services are up"))
        let lines = await harness.log.lines
        func index(_ text: String) -> Int { lines.firstIndex { $0.contains(text) } ?? Int.max }
        #expect(index("migrate.1 completed") < index("db.1 started"))
        #expect(index("db.1 healthy") < index("api.1 started"))
        #expect(index("api.1 started") < index("sidecar.1 started"))
        #expect(FileManager.default.fileExists(atPath: harness.project.path + "/migrated.txt"))
        await harness.stop()
        #expect(harness.leftovers().isEmpty, "\(harness.leftovers())")
    }

    @Test func independentServicesStartInParallel() async throws {
        let services = (1...6).map { "  s\($0): { command: \"sleep 30\", port: none }" }.joined(separator: "\n")
        let harness = try Harness("services:\n\(services)\n")
        let begin = ContinuousClock.now
        try await harness.start()
        #expect(await harness.waitFor("all services are up"))
        #expect(ContinuousClock.now - begin < .seconds(3))
        let snapshot = await harness.supervisor.snapshot()
        #expect(snapshot.allSatisfy { $0.pid != nil })
        await harness.stop()
        #expect(harness.leftovers().isEmpty)
    }

    @Test func aFailedDependencyStopsItsDependents() async throws {
        let harness = try Harness(
            """
            services:
              migrate: { command: "exit 3", port: none, restart: "no" }
              api: { command: "sleep 30", port: none, depends_on: { migrate: { condition: completed } } }
            """)
        try await harness.start()
        #expect(await harness.waitFor("api failed: dependency migrate exited 3"))
        #expect(await harness.instance("api.1")?.pid == nil)
        await harness.stop()
    }

    @Test func portEnvironmentAndReplicas() async throws {
        let harness = try Harness(
            """
            name: shop
            env: { GREETING: "hello ${WHO:-you}" }
            services:
              api:
                command: python3 server.py
                replicas: 3
                env: { SELF: "${api.url}", PUBLIC: "${api.public_url}" }
                health: { http: /healthz, interval: 100ms }
            """, files: ["server.py": serverScript])
        try await harness.start()
        #expect(await harness.waitFor("all services are up"))
        let snapshot = await harness.supervisor.snapshot()
        #expect(snapshot.count == 3)
        let ports = snapshot.compactMap(\.listeningPort)
        #expect(Set(ports).count == 3, "each replica has its own port")
        #expect(snapshot.allSatisfy { $0.assignedPort == $0.listeningPort })
        let stable = try #require(await harness.supervisor.stablePorts["api"])
        for instance in snapshot {
            let port = try #require(instance.listeningPort)
            #expect(try curl("http://127.0.0.1:\(port)/env/PORT").body == String(port))
            #expect(try curl("http://127.0.0.1:\(port)/env/HOST").body == "127.0.0.1")
            #expect(try curl("http://127.0.0.1:\(port)/env/DEVHOST_INSTANCE").body == String(instance.index))
            #expect(try curl("http://127.0.0.1:\(port)/env/GREETING").body == "hello you")
            #expect(try curl("http://127.0.0.1:\(port)/env/SELF").body == "http://127.0.0.1:\(stable)")
            #expect(try curl("http://127.0.0.1:\(port)/env/PUBLIC").body == "http://api.shop.localhost:7777")
        }
        // The stable port relays to every healthy replica in turn.
        var seen = Set<String>()
        for _ in 0..<6 { seen.insert(try curl("http://127.0.0.1:\(stable)/").body) }
        #expect(seen == ["api 1", "api 2", "api 3"])
        await harness.stop()
        #expect(harness.leftovers().isEmpty)
    }

    @Test func discoversAServerThatIgnoresPORT() async throws {
        let harness = try Harness(
            "services:\n  api: { command: python3 server.py, env: { IGNORE_PORT: \"1\" }, health: { http: /healthz, interval: 100ms } }\n",
            files: ["server.py": serverScript])
        try await harness.start()
        #expect(await harness.waitFor("api.1 healthy"))
        let instance = try #require(await harness.instance("api.1"))
        let listening = try #require(instance.listeningPort)
        #expect(listening != instance.assignedPort)
        let printed = try String(contentsOfFile: harness.project.path + "/.devhost/logs/api.log", encoding: .utf8)
        #expect(printed.contains("serving on \(listening)"))
        let stable = try #require(await harness.supervisor.stablePorts["api"])
        #expect(try curl("http://127.0.0.1:\(stable)/").body == "api 1")
        await harness.stop()
    }

    @Test func setupRunsOnceAndAgainWhenInputsChange() async throws {
        let manifest = """
            services:
              app: { command: "sleep 30", port: none, setup: "echo ran >> setup-runs.txt", setup_inputs: [requirements.txt] }
            """
        let first = try Harness(manifest, files: ["requirements.txt": "flask\n"])
        try await first.start()
        #expect(await first.waitFor("all services are up"))
        await first.stop()
        let project = first.project.path
        func runs() throws -> Int { try String(contentsOfFile: project + "/setup-runs.txt", encoding: .utf8).split(separator: "\n").count }
        #expect(try runs() == 1)

        // Same inputs: skipped. The harness reuses the project by loading it again.
        let again = try HarnessOnExisting(first.project)
        try await again.start()
        #expect(await again.waitFor("setup: up to date, skipped"))
        await again.stop()
        #expect(try runs() == 1)

        try first.project.write("requirements.txt", "flask\nrequests\n")
        let changed = try HarnessOnExisting(first.project)
        try await changed.start()
        #expect(await changed.waitFor("all services are up"))
        await changed.stop()
        #expect(try runs() == 2)
    }

    @Test func aFailingSetupFailsTheServiceAndSaysWhy() async throws {
        let harness = try Harness("services:\n  app: { command: \"sleep 30\", port: none, setup: \"echo nope; exit 4\" }\n")
        try await harness.start()
        #expect(await harness.waitFor("app failed: setup exited 4"))
        await harness.stop()
    }

    @Test func fixedPortHeldByAForeignProcessFailsFastNamingIt() async throws {
        let port = try freeLoopbackPort()
        let squatter = try ChildProcess(argv: [
            "python3", "-c",
            "import socket,time; s=socket.socket(); s.bind(('127.0.0.1', \(port))); s.listen(); print('ready', flush=True); time.sleep(60)",
        ])
        defer { squatter.stop() }
        #expect(await eventually { squatter.output.contains("ready") })
        let harness = try Harness("services:\n  api: { command: \"sleep 30\", port: \(port) }\n")
        try await harness.start()
        #expect(await harness.waitFor("api.1 failed: port \(port) is taken by pid \(squatter.pid) ("))
        #expect(await harness.log.lines.contains { $0.contains("python3") && $0.contains("s.bind") })
        #expect(squatter.isRunning, "devhost must never signal a process it did not start")
        await harness.stop()
    }
}

/// A second supervisor over an existing project (for setup re-runs).
final class HarnessOnExisting: @unchecked Sendable {
    let supervisor: Supervisor
    let log = EventLog()
    private var pump: Task<Void, Never>?

    init(_ project: TempProject) throws {
        let output = LogOutput(options: .init(descriptor: open("/dev/null", O_WRONLY)))
        supervisor = Supervisor(manifest: try project.load(), options: .init(log: output))
    }

    func start() async throws {
        let stream = await supervisor.events()
        let log = self.log
        pump = Task { for await event in stream { await log.append(event) } }
        try await supervisor.start()
    }

    func waitFor(_ text: String) async -> Bool {
        await log.wait { $0.contains { $0.description.contains(text) } }
    }

    func stop() async {
        await supervisor.stop()
        pump?.cancel()
    }
}
