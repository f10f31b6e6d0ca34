import DevhostManifest
import DevhostRuntime
import DevhostTestSupport
import Foundation
import Testing

/// A service's setup runs again when its `setup_inputs` change while devhost runs: on `restart`, and
/// by itself when the file watcher reports the change.
@Suite(.serialized) struct SetupRerunTests {
    static let manifest = """
        services:
          api:
            command: python3 server.py
            setup: echo ran >> setup-runs.txt
            setup_inputs: [requirements.txt]
            health: { http: /healthz, interval: 100ms }
        """

    static func runs(_ harness: Harness) -> Int {
        ((try? harness.project.read("setup-runs.txt")) ?? "").split(separator: "\n").count
    }

    @Test func restartRerunsSetupWhenItsInputsChanged() async throws {
        let harness = try Harness(Self.manifest, files: ["server.py": serverScript, "requirements.txt": "fastapi==1\n"])
        try await harness.start()
        #expect(await harness.waitFor("all services are up"))
        #expect(Self.runs(harness) == 1)
        // Unchanged inputs: a restart is just a restart.
        _ = try await harness.supervisor.exclusive { try await $0.restart("api") }
        #expect(Self.runs(harness) == 1)
        try harness.project.write("requirements.txt", "fastapi==2\n")
        let outcome = try await harness.supervisor.exclusive { try await $0.restart("api") }
        #expect(outcome.done, "\(outcome.message)")
        #expect(Self.runs(harness) == 2)
        await harness.stop()
        #expect(harness.leftovers().isEmpty, "\(harness.leftovers())")
    }

    @Test func anEditedSetupInputWhileRunningRerunsSetupThenRestarts() async throws {
        let harness = try Harness(Self.manifest, files: ["server.py": serverScript, "requirements.txt": "fastapi==1\n"])
        try await harness.start()
        #expect(await harness.waitFor("all services are up"))
        let before = try #require(await harness.instance("api.1")?.pid)
        let log = LogOutput(options: .init(descriptor: open("/dev/null", O_WRONLY)))
        let project = harness.project
        let reloader = Reloader(supervisor: harness.supervisor, log: log, load: { try project.load() }, applied: { _ in })
        try harness.project.write("requirements.txt", "fastapi==2\n")
        await reloader.filesChanged(["requirements.txt"])
        #expect(Self.runs(harness) == 2)
        let after = await harness.instance("api.1")
        #expect(after?.pid != nil && after?.pid != before && after?.isOK == true, "\(String(describing: after))")
        await harness.stop()
        #expect(harness.leftovers().isEmpty, "\(harness.leftovers())")
    }
}
