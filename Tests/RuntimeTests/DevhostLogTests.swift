import DevhostManifest
import DevhostRuntime
import DevhostTestSupport
import Foundation
import Testing

/// What reaches the terminal, the log files and `devhost logs devhost`.
@Suite(.serialized) struct DevhostLogTests {
    static let coloured = "\u{1B}[33mGET /nope HTTP/1.1\u{1B}[0m 404"

    /// A LogOutput writing to a pipe (the "terminal") and a temporary folder; returns what each got.
    static func write(colored: Bool, _ body: (LogOutput) -> Void) throws -> (terminal: String, file: [LogLine]) {
        let project = try TempProject()
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        defer { close(fds[0]) }
        let output = LogOutput(options: .init(colored: colored, directory: project.path + "/logs", descriptor: fds[1]))
        body(output)
        close(fds[1])
        var terminal: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while case let count = read(fds[0], &buffer, buffer.count), count > 0 { terminal += buffer[..<count] }
        return (String(decoding: terminal, as: UTF8.self), LogHistory(directory: project.path + "/logs").lines())
    }

    @Test func aTerminalThatWantsColourKeepsTheServicesEscapesButTheFileDoesNot() throws {
        let (terminal, file) = try Self.write(colored: true) { $0.serviceLine(Self.coloured, label: "api.1", service: "api") }
        #expect(terminal.contains(Self.coloured), "\(terminal.debugDescription)")
        #expect(file.map(\.text) == ["GET /nope HTTP/1.1 404"])
    }

    @Test func plainOutputNoColourAndPipesGetTheTextWithoutEscapes() throws {
        let (terminal, _) = try Self.write(colored: false) { output in
            output.serviceLine(Self.coloured, label: "api.1", service: "api")
            // A file written before escapes were stripped, replayed by `devhost logs` into a pipe.
            output.replay(LogLine(time: "2026-01-01 10:00:00.000", service: "api", label: "api.1", text: Self.coloured))
        }
        #expect(!terminal.contains("\u{1B}"), "\(terminal.debugDescription)")
        #expect(terminal.components(separatedBy: "GET /nope HTTP/1.1 404").count == 3, "\(terminal.debugDescription)")
    }

    @Test(arguments: [
        ("plain", "plain"), ("\u{1B}[1;31mred\u{1B}[0m", "red"), ("\u{1B}]0;title\u{07}after", "after"),
        ("\u{1B}]8;;http://x\u{1B}\\link\u{1B}]8;;\u{1B}\\", "link"), ("a\u{1B}(Bb", "ab"), ("end\u{1B}", "end"),
        ("ünï\u{1B}[2Kcode", "ünïcode"),
    ])
    func stripRemovesTerminalSequences(input: String, expected: String) {
        #expect(ANSIText.strip(input) == expected)
    }

    @Test func devhostLogsShowRestartHealthAndReloadLines() async throws {
        let harness = try Harness(
            """
            services:
              api: { command: python3 server.py, health: { http: /healthz, interval: 100ms } }
            """, files: ["server.py": serverScript])
        try await harness.start()
        #expect(await harness.waitFor("all services are up"))
        let outcome = try await harness.supervisor.exclusive { try await $0.restart("api") }
        #expect(outcome.done, "\(outcome.message)")
        // An edit that changes nothing a process sees (a comment) is still acknowledged.
        let report = await harness.supervisor.apply(harness.manifest)
        #expect(report.isEmpty)
        await harness.stop()
        let texts = LogHistory(directory: harness.project.path + "/.devhost/logs").lines(services: ["devhost"]).map(\.text)
        for expected in ["api.1 healthy", "api.1 stopping", "reloaded: nothing to do", "all services are up"] {
            #expect(texts.contains { $0.hasPrefix(expected) }, "no \(expected) in \(texts)")
        }
        // Asking for every service shows each devhost line once.
        let all = LogHistory(directory: harness.project.path + "/.devhost/logs").lines().map(\.text)
        #expect(all.filter { $0 == "api.1 stopping" }.count == texts.filter { $0 == "api.1 stopping" }.count, "\(all)")
        #expect(harness.leftovers().isEmpty, "\(harness.leftovers())")
    }

    /// The HTTPS listener starts with the session: a reload that changes `proxy.https` or
    /// `proxy.https_port` says a restart applies it, as for `proxy.port`, instead of leaving the old
    /// listener serving in silence.
    @Test func aReloadThatChangesHTTPSSaysARestartAppliesIt() async throws {
        let harness = try Harness("services:\n  api: { command: python3 server.py }\n", files: ["server.py": serverScript])
        try harness.project.write(
            "devhost.yml", "proxy: { https: off, https_port: 9443 }\nservices:\n  api: { command: python3 server.py }\n")
        let report = await harness.supervisor.apply(try harness.project.load())
        #expect(report.needsRestart == ["proxy.https", "proxy.https_port"], "\(report.summary)")
        #expect(report.summary.contains("proxy.https, proxy.https_port changed: restart devhost to apply"), "\(report.summary)")
        try harness.project.write(
            "devhost.yml", "proxy: { https: off, https_port: 9443 }\nservices:\n  api: { command: python3 server.py }\n")
        #expect(await harness.supervisor.apply(try harness.project.load()).needsRestart.isEmpty)
    }

    @Test func restartingAJobWaitsForItToEndAndReportsItsExit() async throws {
        let harness = try Harness(
            """
            services:
              web: { command: python3 server.py, health: { http: /healthz, interval: 100ms } }
              migrate:
                command: "while [ ! -e release ]; do sleep 0.02; done; exit $(cat code)"
                port: none
                restart: "no"
            """, files: ["server.py": serverScript, "release": "", "code": "0"])
        try await harness.start()
        #expect(await harness.waitFor("migrate.1 completed"))
        for (code, run) in [(0, 2), (3, 3)] {
            try FileManager.default.removeItem(atPath: harness.project.file("release"))
            try harness.project.write("code", "\(code)")
            let supervisor = harness.supervisor
            let restart = Task { try await supervisor.exclusive { try await $0.restart("migrate") } }
            // The job is blocked until `release` exists: a restart that answers now has not waited.
            #expect(
                await harness.wait { events in
                    events.filter { $0.service == "migrate" && $0.description.contains("started (pid") }.count == run
                })
            try harness.project.write("release", "")
            let outcome = try await restart.value
            if code == 0 {
                #expect(outcome.done && outcome.message == "migrate ran again and completed (exit 0)", "\(outcome)")
            } else {
                #expect(!outcome.done && outcome.message.contains("exited 3"), "\(outcome)")
            }
        }
        await harness.stop()
        #expect(harness.leftovers().isEmpty, "\(harness.leftovers())")
    }
}
