import DevhostRuntime
import DevhostTestSupport
import Foundation
import Testing

/// A project run by the real devhost binary (detached or in the foreground), talked to through its
/// control socket. Every process carries a marker, so the test can prove nothing is left behind.
final class DevhostRun: @unchecked Sendable {
    let project: TempProject
    let proxyPort: Int
    let marker = "control-\(UUID().uuidString.prefix(8))"
    let environment: [String: String]
    var foreground: ChildProcess?

    init(_ manifest: String, files: [String: String] = [:], environment overrides: [String: String] = [:]) throws {
        project = try TempProject(files.merging(["devhost.yml": manifest, "server.py": serverScript]) { mine, _ in mine })
        proxyPort = try freeLoopbackPort()
        var environment = ProcessInfo.processInfo.environment
        environment["DEVHOST_TEST_MARKER"] = marker
        environment["DEVHOST_ROUTES"] = project.file("routes.yml")
        environment["DEVHOST_PROXY_PORT"] = String(proxyPort)
        environment["NO_COLOR"] = "1"
        environment.merge(overrides) { _, new in new }
        self.environment = environment
    }

    var state: ProjectState { try! ProjectState(directory: project.path) }
    var client: ControlClient { ControlClient(state: state) }

    /// Runs `devhost ARGS` in the project to completion.
    @discardableResult
    func devhost(_ arguments: [String]) throws -> (status: Int32, output: String) {
        try run([devhostBinary] + arguments, in: project.path, environment: environment)
    }

    /// `devhost up` in the foreground; returns once it answers on its socket.
    func startForeground(_ arguments: [String] = []) async throws {
        let child = try ChildProcess(argv: [devhostBinary, "up"] + arguments, directory: project.path, environment: environment)
        foreground = child
        let answered = await eventually(timeout: .seconds(30)) { (try? client.get("/v1/status")) != nil || !child.isRunning }
        #expect(answered && child.isRunning, "devhost up did not come up:\n\(child.output)")
    }

    func status() -> StatusReport? {
        guard let response = try? client.get("/v1/status"), response.status == 200 else { return nil }
        return try? StatusReport.decode(response.body)
    }

    /// Polls the status until `condition` holds (bounded); returns the last report.
    func waitForStatus(timeout: Duration = .seconds(30), _ condition: (StatusReport) -> Bool) async -> StatusReport? {
        var last: StatusReport?
        let held = await eventually(timeout: timeout) {
            last = status()
            return last.map(condition) ?? false
        }
        return held ? last : nil
    }

    func pids(of service: String) -> [Int32] {
        status()?.services.first { $0.name == service }?.instances.compactMap(\.pid) ?? []
    }

    /// A GET through the proxy: (status, body), status 0 when the request failed.
    func get(_ path: String, host: String) -> (Int, String) {
        guard
            let result = try? run([
                "curl", "-s", "--max-time", "10", "-H", "Host: \(host)", "-w", "\n%{http_code}", "http://127.0.0.1:\(proxyPort)\(path)",
            ])
        else {
            return (0, "")
        }
        let lines = result.output.split(separator: "\n", omittingEmptySubsequences: false)
        return (Int(lines.last ?? "") ?? 0, lines.dropLast().joined(separator: "\n"))
    }

    /// Ends devhost (down, then the foreground process and any marked leftover by force) and
    /// returns what was still alive before the forced part.
    @discardableResult
    func shutDown() -> [String] {
        _ = try? devhost(["down", "--timeout", "30s"])
        if let foreground {
            let deadline = Date().addingTimeInterval(10)
            while foreground.isRunning, Date() < deadline { usleep(20_000) }
            foreground.stop()
        }
        let left = livingProcesses(withMarker: marker)
        for entry in left {
            if let pid = Int32(entry.prefix { $0 != ":" }) { kill(pid, SIGKILL) }
        }
        return left
    }
}

/// Sequential GETs through the proxy on one keep-alive connection until a stop file appears (or a
/// time limit); prints `first-ok` after the first success and a JSON summary at the end.
let loadScript = #"""
    import http.client, json, os, sys, time
    port, host, stop, limit = int(sys.argv[1]), sys.argv[2], sys.argv[3], float(sys.argv[4])
    ok = fail = 0
    errors = []
    conn = None
    started = time.time()
    while not os.path.exists(stop) and time.time() - started < limit:
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
            conn.request("GET", "/", headers={"Host": host})
            response = conn.getresponse()
            response.read()
            if response.status == 200:
                ok += 1
                if ok == 1:
                    print("first-ok", flush=True)
            else:
                fail += 1
                errors.append(response.status)
        except Exception as error:
            fail += 1
            errors.append(repr(error))
            conn = None
    print(json.dumps({"ok": ok, "fail": fail, "errors": errors[:10]}), flush=True)
    """#

/// Two replicas of a tiny HTTP server behind a route, and a worker with no port: the project the
/// control, MCP and top tests drive.
func twoReplicasAndAWorker(project name: String) -> String {
    """
    name: \(name)
    # No HTTPS: these runs must not contend for 7443, and their links stay http (PublicURLUpTests covers HTTPS).
    proxy: { https_port: 0 }
    services:
      api:
        command: python3 server.py
        replicas: 2
        route: api
        health: { http: /healthz, interval: 100ms, retries: 1 }
      worker:
        command: python3 -c "import time; print('worker up', flush=True); time.sleep(3600)"
        port: none
    """
}
