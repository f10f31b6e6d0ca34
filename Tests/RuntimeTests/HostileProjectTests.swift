import DevhostRuntime
import DevhostTestSupport
import Foundation
import Testing

/// One worker without a port: the smallest project a real devhost runs.
private let project = """
    name: hostile
    services:
      worker:
        command: python3 -c "import time; print('worker up', flush=True); time.sleep(3600)"
        port: none
    """

/// `x-a: &a [x, x, …]`, then each level `width` aliases of the one before.
private func aliasBomb(levels: Int, width: Int) -> String {
    let names = (0..<levels).map { String(UnicodeScalar(UInt8(ascii: "a") + UInt8($0))) }
    var lines = ["x-a: &a [" + Array(repeating: "\"x\"", count: width).joined(separator: ", ") + "]"]
    for (previous, name) in zip(names, names.dropFirst()) {
        lines.append("x-\(name): &\(name) [" + Array(repeating: "*\(previous)", count: width).joined(separator: ", ") + "]")
    }
    return lines.joined(separator: "\n") + "\n"
}

/// Resident memory of a process, from /proc.
private func residentBytes(of pid: pid_t) -> Int? {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
        let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
        let kilobytes = Int(line.split(separator: " ").dropFirst().first ?? "")
    else { return nil }
    return kilobytes * 1024
}

@Suite("Hostile projects", .serialized)
struct HostileProjectTests {
    @Test("an alias bomb written into devhost.yml while devhost runs is refused with its position; devhost keeps running, small")
    func aliasBombOnReload() async throws {
        let dev = try DevhostRun(project)
        defer { dev.shutDown() }
        try await dev.startForeground()
        #expect(await dev.waitForStatus { $0.ok && $0.ready } != nil)
        let workerPids = dev.pids(of: "worker")
        let devhostPid = try #require(ProjectLock.holder(dev.state))

        // Six levels of ten (1.1 million nodes expanded): one that an unbounded loader survives, so a
        // missing budget shows here as an applied reload rather than as a machine out of memory.
        try dev.project.write("devhost.yml", project + "\n" + aliasBomb(levels: 6, width: 10))
        let reload = try dev.devhost(["reload"])
        try #require(reload.status == 1, "the alias bomb was applied:\n\(reload.output)")
        #expect(
            reload.output.contains("not applied") && reload.output.contains("alias *e") && reload.output.contains("devhost.yml:11:"),
            "\(reload.output)")

        // Nine levels of nine: 387 million nodes, which grew devhost past 1 GB.
        try dev.project.write("devhost.yml", project + "\n" + aliasBomb(levels: 9, width: 9))
        let laughs = try dev.devhost(["reload"])
        #expect(laughs.status == 1 && laughs.output.contains("billion laughs"), "\(laughs.output)")

        #expect(dev.status()?.ok == true)
        #expect(dev.pids(of: "worker") == workerPids)
        let resident = try #require(residentBytes(of: devhostPid))
        #expect(resident < 256 << 20, "devhost holds \(resident >> 20) MB after refusing the bombs")
        #expect(dev.shutDown().isEmpty)
    }

    @Test("the logs endpoint answers only for services devhost knows: a name that is a path reads nothing")
    func logsRefuseAPathAsAServiceName() async throws {
        let dev = try DevhostRun(project, files: ["secret.log": "2026-11-24 10:15:03.123 x.1 | TOPSECRET\n"])
        defer { dev.shutDown() }
        try await dev.startForeground()
        #expect(await dev.waitForStatus { $0.ok && $0.ready } != nil)

        for name in ["../../secret", "..%2F..%2Fsecret", "nope"] {
            let answer = try run([
                "curl", "-s", "-w", "\n%{http_code}", "--unix-socket", dev.state.controlSocket, "http://devhost/v1/logs?service=\(name)",
            ])
            #expect(!answer.output.contains("TOPSECRET"), "\(name) read a file outside .devhost/logs")
            #expect(answer.output.hasSuffix("404") && answer.output.contains("no service named"), "\(name): \(answer.output)")
        }
        #expect(
            await eventually {
                (try? run(["curl", "-s", "--unix-socket", dev.state.controlSocket, "http://devhost/v1/logs?service=worker"]).output
                    .contains("worker up")) == true
            })
        #expect(dev.shutDown().isEmpty)
    }

    @Test("a .devhost that is a symbolic link is refused, as git refuses a linked .git; nothing is written where it points")
    func linkedStateFolderIsRefused() throws {
        let elsewhere = try TempProject()
        let dev = try DevhostRun(project)
        defer { dev.shutDown() }
        try FileManager.default.createSymbolicLink(atPath: dev.project.file(".devhost"), withDestinationPath: elsewhere.path)

        let up = try dev.devhost(["up", "-d"])
        #expect(up.status == 1, "\(up.output)")
        #expect(up.output.contains(".devhost is a symbolic link to \(elsewhere.path)") && up.output.contains("remove it"), "\(up.output)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: elsewhere.path).isEmpty)
        let status = try dev.devhost(["status"])
        #expect(status.status == 1 && status.output.contains("symbolic link"), "\(status.output)")
        #expect(throws: ProjectStateError.self) { try ProjectState(directory: dev.project.path) }
    }

    @Test("a pid lock shipped as a link into another file is refused instead of truncating that file")
    func linkedLockFileIsRefused() throws {
        let elsewhere = try TempProject(["precious.txt": "keep me\n"])
        let dev = try DevhostRun(project)
        defer { dev.shutDown() }
        try FileManager.default.createDirectory(atPath: dev.project.file(".devhost"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(
            atPath: dev.project.file(".devhost/devhost.pid"), withDestinationPath: elsewhere.file("precious.txt"))

        let up = try dev.devhost(["up", "-d"])
        #expect(up.status == 1 && up.output.contains(".devhost/devhost.pid is a symbolic link"), "\(up.output)")
        #expect(try elsewhere.read("precious.txt") == "keep me\n")
    }
}
