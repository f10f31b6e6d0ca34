import DevhostRuntime
import DevhostTestSupport
import Foundation
import Testing

private let project = twoReplicasAndAWorker(project: "ctl")

@Suite("Control plane", .serialized)
struct ControlTests {
    @Test("up -d returns when the services are up; status, logs, a second up and down talk to it; nothing is left")
    func detachedLifecycle() async throws {
        let dev = try DevhostRun(project)
        defer { dev.shutDown() }
        let up = try dev.devhost(["up", "-d"])
        #expect(up.status == 0, "\(up.output)")
        #expect(up.output.contains("api.2") && up.output.contains("http://api.ctl.localhost:\(dev.proxyPort)"), "\(up.output)")

        // The control socket is the owner's only, and nothing of it is on TCP.
        var info = stat()
        #expect(stat(dev.state.controlSocket, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o600 && (info.st_mode & S_IFMT) == S_IFSOCK)

        let status = try dev.devhost(["status"])
        #expect(status.status == 0, "\(status.output)")
        for text in ["SERVICE", "api.1", "api.2", "worker.1", "healthy", "http://api.ctl.localhost:\(dev.proxyPort)"] {
            #expect(status.output.contains(text), "status lacks \(text):\n\(status.output)")
        }
        let json = try dev.devhost(["status", "--json"])
        let report = try StatusReport.decode(Data(json.output.utf8))
        #expect(report.ok && report.ready && report.project == "ctl")
        #expect(report.services.map(\.name) == ["api", "worker"])
        #expect(report.services[0].instances.allSatisfy { $0.pid != nil && $0.port != nil && $0.health == "ok" })
        #expect(dev.get("/", host: "api.ctl.localhost").0 == 200)

        // A second up neither starts a second devhost nor fails.
        let again = try dev.devhost(["up", "-d"])
        #expect(again.status == 0 && again.output.contains("already running"), "\(again.output)")

        let logs = try dev.devhost(["logs", "worker", "-n", "5"])
        #expect(logs.output.contains("worker.1") && logs.output.contains("worker up"), "\(logs.output)")
        let recent = try dev.devhost(["logs", "--since", "5m", "-t"])
        #expect(recent.output.contains("api.1") && recent.output.contains("healthy"), "\(recent.output)")
        let unknown = try dev.devhost(["logs", "nope"])
        #expect(unknown.status == 1 && unknown.output.contains("no logs for nope"), "\(unknown.output)")

        // State-changing calls need the header a browser cannot send cross-site.
        let forged = try run(["curl", "-s", "--unix-socket", dev.state.controlSocket, "-X", "POST", "http://devhost/v1/down"])
        #expect(forged.output.contains("X-Devhost-Request"), "\(forged.output)")
        #expect(ProjectLock.holder(dev.state) != nil)
        // Through the proxy the control API answers its own user, and nobody else on the machine.
        #expect(dev.get("/v1/status", host: "devhost.localhost").0 == 200)
        if getuid() == 0 {
            let other = try run([
                "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                "-H", "Host: devhost.localhost", "http://127.0.0.1:\(dev.proxyPort)/v1/status",
            ])
            #expect(other.output == "403", "\(other.output)")
        }

        let down = try dev.devhost(["down"])
        #expect(down.status == 0 && down.output.contains("devhost stopped"), "\(down.output)")
        #expect(ProjectLock.holder(dev.state) == nil)
        #expect(!FileManager.default.fileExists(atPath: dev.state.controlSocket))
        #expect(livingProcesses(withMarker: dev.marker).isEmpty)
        let after = try dev.devhost(["status"])
        #expect(after.status == 3 && after.output.contains("not running"), "\(after.output)")
        // Logs outlive devhost.
        let kept = try dev.devhost(["logs", "api", "-n", "3"])
        #expect(kept.status == 0 && kept.output.contains("api."), "\(kept.output)")
    }

    @Test("a rolling restart under a request loop fails no request; stop and start; down ends the foreground up")
    func rollingRestartUnderLoad() async throws {
        let dev = try DevhostRun(project, files: ["load.py": loadScript])
        defer { dev.shutDown() }
        try await dev.startForeground()
        #expect(await dev.waitForStatus { $0.ok && $0.ready } != nil)
        let before = dev.pids(of: "api")
        #expect(before.count == 2)

        let load = try ChildProcess(
            argv: ["python3", "load.py", String(dev.proxyPort), "api.ctl.localhost", "STOP", "120"], directory: dev.project.path)
        defer { load.stop() }
        #expect(await eventually(timeout: .seconds(20)) { load.output.contains("first-ok") }, "\(load.output)")
        for _ in 1...2 {
            let restart = try dev.devhost(["restart", "api"])
            #expect(restart.status == 0 && restart.output.contains("api restarted (2 instances)"), "\(restart.output)")
        }
        try dev.project.write("STOP", "")
        #expect(load.wait() == 0)
        let summary = try #require(
            load.output.split(separator: "\n").last.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] })
        #expect(summary["fail"] as? Int == 0, "failed requests during the rolling restart: \(summary)")
        #expect((summary["ok"] as? Int ?? 0) > 20, "\(summary)")
        let after = dev.pids(of: "api")
        #expect(after.count == 2 && Set(after).isDisjoint(with: before), "\(before) → \(after)")
        #expect(
            await dev.waitForStatus { $0.services[0].instances.allSatisfy { $0.restarts == 0 } } != nil,
            "requested restarts are not crashes")

        let stop = try dev.devhost(["stop", "worker"])
        #expect(stop.status == 0 && stop.output.contains("worker stopped"), "\(stop.output)")
        #expect(try dev.devhost(["status"]).status == 3)
        #expect(dev.status()?.services[1].instances[0].state == "stopped")
        let start = try dev.devhost(["start", "worker"])
        #expect(start.status == 0 && start.output.contains("worker started"), "\(start.output)")
        #expect(try dev.devhost(["status"]).status == 0)
        let missing = try dev.devhost(["restart", "nope"])
        #expect(missing.status == 1 && missing.output.contains("no service named \"nope\""), "\(missing.output)")

        let down = try dev.devhost(["down"])
        #expect(down.status == 0, "\(down.output)")
        // The lock is dropped by the kernel as devhost exits; the exit status follows within moments.
        let foreground = try #require(dev.foreground)
        #expect(await eventually(timeout: .seconds(5)) { !foreground.isRunning }, "down returned long before the foreground devhost exited")
        #expect(foreground.wait() == 0, "\(foreground.output)")
        #expect(livingProcesses(withMarker: dev.marker).isEmpty)
    }

    @Test(
        "hot reload: added, removed, changed and scaled services, new routes, env file edits, and an invalid edit that keeps the running state"
    )
    func hotReload() async throws {
        let dev = try DevhostRun(project, files: [".env": "GREETING=hello\n"])
        defer { dev.shutDown() }
        try await dev.startForeground()
        #expect(await dev.waitForStatus { $0.ok && $0.ready } != nil)
        let apiPids = dev.pids(of: "api")
        let workerPids = dev.pids(of: "worker")

        // A new service starts and gets its route; nothing else restarts.
        try dev.project.write(
            "devhost.yml",
            project + """

                  admin:
                    command: python3 server.py
                    route: admin
                    env_file: .env
                """)
        let added = await dev.waitForStatus { $0.services.contains { $0.name == "admin" && $0.instances.allSatisfy(\.ok) } }
        #expect(added != nil)
        #expect(dev.get("/env/GREETING", host: "admin.ctl.localhost") == (200, "hello"))
        #expect(dev.pids(of: "api") == apiPids && dev.pids(of: "worker") == workerPids)

        // Its env file changes: only it restarts, with the new value.
        let adminPids = dev.pids(of: "admin")
        try dev.project.write(".env", "GREETING=bonjour\n")
        #expect(await eventually(timeout: .seconds(20)) { dev.get("/env/GREETING", host: "admin.ctl.localhost") == (200, "bonjour") })
        #expect(dev.pids(of: "admin") != adminPids && dev.pids(of: "api") == apiPids)

        // An invalid edit is reported with its position; everything keeps running.
        try dev.project.write("devhost.yml", project + "\n  admin:\n    command: [python3\n")
        #expect(
            await eventually(timeout: .seconds(10)) {
                ((try? dev.devhost(["logs", "devhost", "-n", "20"]).output) ?? "").contains("devhost.yml:")
            })
        #expect(dev.pids(of: "api") == apiPids && dev.get("/", host: "admin.ctl.localhost").0 == 200)
        let reload = try dev.devhost(["reload"])
        #expect(reload.status == 1 && reload.output.contains("not applied") && reload.output.contains("devhost.yml:"), "\(reload.output)")

        // admin removed, worker changed, api scaled to 3 and its route renamed.
        try dev.project.write(
            "devhost.yml",
            """
            name: ctl
            services:
              api:
                command: python3 server.py
                replicas: 3
                route: backend
                health: { http: /healthz, interval: 100ms, retries: 1 }
              worker:
                command: python3 -c "import time; print('worker v2', flush=True); time.sleep(3600)"
                port: none
            """)
        let final = await dev.waitForStatus {
            $0.services.map(\.name) == ["api", "worker"] && $0.services[0].instances.count == 3 && $0.ok
                && $0.services[1].instances[0].pid.map { !workerPids.contains($0) } == true
        }
        #expect(final != nil, "\(String(describing: dev.status()))")
        #expect(Set(dev.pids(of: "api")).isSuperset(of: apiPids), "scaling must not restart the existing replicas")
        #expect(dev.get("/", host: "backend.ctl.localhost").0 == 200)
        #expect(dev.get("/", host: "api.ctl.localhost").0 == 404)
        #expect(dev.get("/", host: "admin.ctl.localhost").0 == 404)
        let logs = try dev.devhost(["logs", "devhost", "-n", "50"]).output
        #expect(
            logs.contains("stopped admin") && logs.contains("restarted worker") && logs.contains("scaled api")
                && logs.contains("routes updated"), "\(logs)")
        #expect(dev.shutDown().isEmpty)
    }

    @Test("watch: globs restart the service (debounced) when a matching file changes, and only then")
    func watchRestarts() async throws {
        let dev = try DevhostRun(
            """
            name: ctl
            services:
              api:
                command: python3 server.py
                route: api
                watch: ["src/**/*.py"]
              other:
                command: python3 server.py
            """, files: ["src/app/views.py": "x = 1\n", "notes.txt": ""])
        defer { dev.shutDown() }
        try await dev.startForeground()
        #expect(await dev.waitForStatus { $0.ok && $0.ready } != nil)
        let api = dev.pids(of: "api")
        let other = dev.pids(of: "other")
        try dev.project.write("notes.txt", "not watched\n")
        // Several writes in a burst make one restart.
        for index in 1...3 { try dev.project.write("src/app/views.py", "x = \(index)\n") }
        #expect(await dev.waitForStatus { $0.ok && $0.services[0].instances[0].pid.map { !api.contains($0) } == true } != nil)
        #expect(dev.pids(of: "other") == other)
        let logs = try dev.devhost(["logs", "api", "-n", "50"]).output
        #expect(logs.components(separatedBy: "changed: restarting api").count - 1 == 1, "\(logs)")
        #expect(logs.contains("src/app/views.py changed"), "\(logs)")
    }

    @Test("the dashboard in headless Chromium shows the running services and its restart button restarts one")
    func dashboardInChromium() async throws {
        let dev = try DevhostRun(project)
        defer { dev.shutDown() }
        let up = try dev.devhost(["up", "-d"])
        #expect(up.status == 0, "\(up.output)")
        let before = dev.pids(of: "api")
        let screenshot = dev.project.file("dashboard.png")
        let script = repositoryRoot.appendingPathComponent("Tests/Scripts/dashboard_check.py").path
        let check = try run([
            "python3", script, "--url", "http://devhost.localhost:\(dev.proxyPort)/", "--screenshot", screenshot, "--expect", "api,worker",
            "--click", "api:restart", "--timeout", "60",
        ])
        #expect(check.status == 0, "\(check.output)")
        let json = check.output.split(separator: "\n").last { $0.hasPrefix("{") }.map(String.init) ?? ""
        let result = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any], "\(check.output)")
        #expect(Set(result["services"] as? [String] ?? []) == ["api", "worker"], "\(result)")
        #expect((result["states"] as? [String: String])?["api.1"] == "healthy", "\(result)")
        #expect((result["screenshot_bytes"] as? Int ?? 0) > 10_000, "\(result)")
        #expect((result["console_errors"] as? [Any])?.isEmpty == true, "\(result)")
        // HTTPS is off for this project: the links are the plain ones.
        #expect((result["routes"] as? [String: [String]])?["api"] == ["http://api.ctl.localhost:\(dev.proxyPort)"], "\(result)")
        let after = await dev.waitForStatus { report in
            report.ok && Set(report.services[0].instances.compactMap(\.pid)).isDisjoint(with: before)
        }
        #expect(after != nil, "the click did not restart api: \(before) → \(dev.pids(of: "api"))")
    }

    @Test("doctor: a valid project passes; a missing program, a taken proxy port and a broken manifest fail with fixes")
    func doctor() async throws {
        let good = try DevhostRun(project)
        let fine = try good.devhost(["doctor"])
        #expect(fine.status == 0, "\(fine.output)")
        #expect(
            fine.output.contains("devhost.yml is valid (2 services)") && fine.output.contains("libgit2")
                && fine.output.contains(".localhost"), "\(fine.output)")

        let bad = try DevhostRun(
            """
            services:
              api:
                command: no-such-program --serve
              web:
                command: ./bin/missing
                setup: ./configure-it
            """)
        let listener = try ChildProcess(argv: [
            "python3", "-c",
            "import socket,sys,time; s=socket.socket(); s.bind(('127.0.0.1', \(bad.proxyPort))); s.listen(); print('bound', flush=True); time.sleep(60)",
        ])
        defer { listener.stop() }
        #expect(await eventually { listener.output.contains("bound") })
        let failing = try bad.devhost(["doctor"])
        #expect(failing.status == 1, "\(failing.output)")
        #expect(failing.output.contains("FAIL  services.api.command: no-such-program is not found on PATH"), "\(failing.output)")
        #expect(failing.output.contains("FAIL  services.web.setup: ./configure-it is not found"), "\(failing.output)")
        #expect(failing.output.contains("proxy port \(bad.proxyPort) is taken by pid \(listener.pid)"), "\(failing.output)")
        #expect(failing.output.contains("fix: "), "\(failing.output)")

        try bad.project.write("devhost.yml", "services:\n  api:\n    comand: x\n")
        let broken = try bad.devhost(["doctor"])
        #expect(broken.status == 1 && broken.output.contains("devhost.yml:3:5"), "\(broken.output)")
    }

    @Test("shell completion scripts for bash, zsh and fish name the commands; bash's parses")
    func completions() throws {
        for shell in ["bash", "zsh", "fish"] {
            let script = try run([devhostBinary, "--generate-completion-script", shell])
            #expect(script.status == 0)
            for command in ["status", "logs", "restart", "down", "doctor"] {
                #expect(script.output.contains(command), "\(shell) completion lacks \(command)")
            }
            if shell == "bash" {
                let file = NSTemporaryDirectory() + "devhost-completion-\(getpid()).bash"
                try script.output.write(toFile: file, atomically: false, encoding: .utf8)
                defer { unlink(file) }
                #expect(try run(["bash", "-n", file]).status == 0)
            }
        }
    }
}

@Suite("Control plane parts")
struct ControlPartsTests {
    @Test("log history merges services by time, keeps rotations in order, and honours -n and --since")
    func logHistory() throws {
        let folder = try TempProject([
            "api.log.1": "2026-11-24 10:00:00.000 api.1 | one\n2026-11-24 10:00:02.000 api.1 | three\n",
            "api.log": "2026-11-24 10:00:04.000 api.1 | five | with a bar\n",
            "web.log": "2026-11-24 10:00:01.000 web.1 | two\n2026-11-24 10:00:03.000 devhost | four\ngarbage\n",
        ])
        let history = LogHistory(directory: folder.path)
        #expect(history.services() == ["api", "web"])
        #expect(history.lines().map(\.text) == ["one", "two", "three", "four", "five | with a bar"])
        #expect(history.lines(limit: 2).map(\.text) == ["four", "five | with a bar"])
        #expect(history.lines(services: ["web"]).map(\.label) == ["web.1", "devhost"])
        var parts = DateComponents()
        (parts.year, parts.month, parts.day, parts.hour, parts.minute, parts.second) = (2026, 11, 24, 10, 0, 2)
        let since = try #require(Calendar.current.date(from: parts))
        #expect(history.lines(since: since).map(\.text) == ["three", "four", "five | with a bar"])
    }

    @Test("control requests: query strings decoded (repeated keys, percent escapes, keys without a value)")
    func requests() async throws {
        let request = ControlRequest(method: "GET", target: "/v1/logs?service=api&service=web%201&n=5&follow", headers: [:])
        #expect(request.path == "/v1/logs")
        #expect(request.query["service"] == ["api", "web 1"] && request.query["n"] == ["5"] && request.query["follow"] == [""])
    }
}
