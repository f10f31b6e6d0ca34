import DevhostManifest
import DevhostRuntime
import DevhostTestSupport
import Foundation
import Testing

@Suite(.serialized) struct DownTests {
    /// Runs `devhost up -d` as a child subreaper that reaps orphans only once a second, as some
    /// inits do: the detached devhost becomes its orphan when `up -d` returns.
    static let slowReaper = """
        import ctypes, os, subprocess, sys, time
        ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
        print("up", subprocess.run(sys.argv[1:]).returncode, flush=True)
        while True:
            time.sleep(1)
            try:
                while os.waitpid(-1, os.WNOHANG)[0] != 0:
                    pass
            except ChildProcessError:
                break
        """

    @Test func downReturnsOnlyOnceTheDetachedDevhostIsReaped() async throws {
        let dev = try DevhostRun("services:\n  api: { command: python3 server.py, health: { http: /healthz, interval: 100ms } }\n")
        let reaper = try ChildProcess(
            argv: ["python3", "-c", Self.slowReaper, devhostBinary, "up", "-d"], directory: dev.project.path, environment: dev.environment)
        defer { reaper.stop() }
        #expect(await eventually(timeout: .seconds(60)) { reaper.output.contains("up 0") }, "\(reaper.output)")
        let pid = try #require(dev.status()?.pid)
        let down = try dev.devhost(["down"])
        #expect(down.status == 0, "\(down.output)")
        let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? "gone"
        #expect(stat == "gone", "devhost (pid \(pid)) is still in the process table after down: \(stat)")
        #expect(reaper.wait() == 0)
        #expect(livingProcesses(withMarker: dev.marker).isEmpty)
    }
}
