import DevhostRuntime
import DevhostTestSupport
import Foundation
import Testing

/// A tmux server of the test's own (its own socket), with one 100x30 window running bash.
private final class Tmux {
    let socket = "devhost-top-\(UUID().uuidString.prefix(8))"
    let environment: [String: String]

    init(environment: [String: String], directory: String) throws {
        self.environment = environment.merging(["TERM": "xterm-256color", "PS1": "$ "]) { $1 }
        let started = try tmux(["new-session", "-d", "-s", "top", "-x", "100", "-y", "30", "-c", directory, "bash --norc --noprofile"])
        #expect(started.status == 0, "\(started.output)")
    }

    @discardableResult
    func tmux(_ arguments: [String]) throws -> (status: Int32, output: String) {
        try run(["tmux", "-L", socket, "-f", "/dev/null"] + arguments, environment: environment)
    }

    func type(_ text: String, enter: Bool = true) throws {
        try tmux(["send-keys", "-t", "top", "-l", text])
        if enter { try tmux(["send-keys", "-t", "top", "Enter"]) }
    }

    func key(_ name: String) throws { try tmux(["send-keys", "-t", "top", name]) }

    var screen: String { (try? tmux(["capture-pane", "-p", "-t", "top"]).output) ?? "" }

    /// `alternate_on cursor_flag`: whether the alternate screen is in use and the cursor shown.
    var modes: String {
        ((try? tmux(["display-message", "-p", "-t", "top", "#{alternate_on} #{cursor_flag}"]).output) ?? "").trimmingCharacters(
            in: .whitespacesAndNewlines)
    }

    var shellPid: Int32? {
        Int32(
            ((try? tmux(["display-message", "-p", "-t", "top", "#{pane_pid}"]).output) ?? "").trimmingCharacters(
                in: .whitespacesAndNewlines))
    }

    func stop() { _ = try? tmux(["kill-server"]) }
}

private let project = twoReplicasAndAWorker(project: "tops")

@Suite("devhost top in tmux", .serialized)
struct TopTerminalTests {
    @Test("top attaches to up -d: shows the instances and logs, r restarts, keys select, resizes, q and SIGTERM give the terminal back")
    func topInTmux() async throws {
        let dev = try DevhostRun(project)
        defer { dev.shutDown() }
        let up = try dev.devhost(["up", "-d"])
        #expect(up.status == 0, "\(up.output)")
        let before = dev.pids(of: "api")
        #expect(before.count == 2)

        let tmux = try Tmux(environment: dev.environment, directory: dev.project.path)
        defer { tmux.stop() }
        try tmux.type("echo before-top; \(devhostBinary) top")
        let shown = await eventually(timeout: .seconds(20)) {
            let screen = tmux.screen
            return screen.contains("api.1") && screen.contains("worker.1") && screen.contains(String(before[0]))
                && screen.contains("── api logs")
        }
        #expect(shown, "top did not show the project:\n\(tmux.screen)")
        #expect(tmux.modes == "1 0", "top runs on the alternate screen with the cursor hidden: \(tmux.modes)")
        #expect(tmux.screen.contains("http://api.tops.localhost:\(dev.proxyPort)"))
        #expect(tmux.screen.split(separator: "\n").last?.hasPrefix("↑↓/jk select") == true, "\(tmux.screen)")

        // r on the first row (api): a rolling restart through the control API; the screen shows the new pids.
        try tmux.key("r")
        let restarted = await dev.waitForStatus { report in
            report.ok && Set(report.services[0].instances.compactMap(\.pid)).isDisjoint(with: before)
        }
        let after = try #require(restarted, "r did not restart api: \(dev.pids(of: "api"))\n\(tmux.screen)")
        #expect(after.services[0].instances.allSatisfy { $0.restarts == 0 }, "a requested restart is not counted as a crash")
        let newPids = after.services[0].instances.compactMap(\.pid).map(String.init)
        let updated = await eventually(timeout: .seconds(10)) {
            let screen = tmux.screen
            return newPids.allSatisfy(screen.contains) && screen.contains("api restarted (2 instances)")
        }
        #expect(updated, "the screen did not show \(newPids):\n\(tmux.screen)")

        // j j selects worker.1; its log follows.
        try tmux.key("j")
        try tmux.key("j")
        #expect(
            await eventually(timeout: .seconds(10)) { tmux.screen.contains("── worker logs") && tmux.screen.contains("worker up") },
            "\(tmux.screen)")

        // A smaller window: every line fits and the help line stays at the bottom.
        try tmux.tmux(["resize-window", "-t", "top", "-x", "60", "-y", "16"])
        let resized = await eventually(timeout: .seconds(10)) {
            let lines = tmux.screen.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
            return lines.count == 16 && lines.allSatisfy { $0.count <= 60 } && lines.last?.hasPrefix("↑↓/jk select") == true
                && lines.contains { $0.hasPrefix(">worker") }
        }
        #expect(resized, "\(tmux.screen)")

        // q: the screen as it was, the cursor back, echo on again.
        try tmux.key("q")
        #expect(
            await eventually(timeout: .seconds(10)) { tmux.modes == "0 1" && tmux.screen.contains("before-top") },
            "\(tmux.modes)\n\(tmux.screen)")
        try tmux.type("echo typed-after")
        #expect(await eventually(timeout: .seconds(5)) { tmux.screen.components(separatedBy: "typed-after").count == 3 }, "\(tmux.screen)")

        // SIGTERM (and SIGINT alike) restores the terminal too.
        try tmux.type("\(devhostBinary) top")
        #expect(await eventually(timeout: .seconds(20)) { tmux.modes == "1 0" && tmux.screen.contains("api.1") }, "\(tmux.screen)")
        let shell = try #require(tmux.shellPid)
        let children = (try? String(contentsOfFile: "/proc/\(shell)/task/\(shell)/children", encoding: .utf8)) ?? ""
        let top = try #require(children.split(separator: " ").compactMap { Int32($0) }.first, "no top under the shell")
        kill(top, SIGTERM)
        #expect(await eventually(timeout: .seconds(10)) { tmux.modes == "0 1" && kill(top, 0) != 0 }, "\(tmux.modes)\n\(tmux.screen)")
        tmux.stop()
    }

    @Test("without a terminal top says so in one line and exits 1")
    func notATerminal() throws {
        let dev = try DevhostRun(project)
        let result = try run(["bash", "-c", "\"$1\" top | cat", "bash", devhostBinary], in: dev.project.path, environment: dev.environment)
        #expect(result.status == 0, "cat's status; top's is below")
        #expect(result.output.contains("error: devhost top needs a terminal"), "\(result.output)")
        let status = try run(["bash", "-c", "\"$1\" top </dev/null >/dev/null 2>&1; echo $?", "bash", devhostBinary], in: dev.project.path)
        #expect(status.output.trimmingCharacters(in: .whitespacesAndNewlines) == "1")
    }
}
