import DevhostManifest
import DevhostRuntime
import DevhostTestSupport
import Foundation
import Testing

/// Collects a supervisor's events so tests can wait for conditions instead of sleeping.
actor EventLog {
    private struct Waiter {
        var id: UUID
        var predicate: @Sendable ([SupervisorEvent]) -> Bool
        var continuation: CheckedContinuation<Bool, Never>
    }

    private(set) var events: [SupervisorEvent] = []
    private var waiters: [Waiter] = []

    func append(_ event: SupervisorEvent) {
        events.append(event)
        let ready = waiters.filter { $0.predicate(events) }
        waiters.removeAll { waiter in ready.contains { $0.id == waiter.id } }
        for waiter in ready { waiter.continuation.resume(returning: true) }
    }

    /// Waits until `predicate` holds over the events so far, or `timeout` passes (returns false).
    func wait(timeout: Duration = .seconds(20), _ predicate: @escaping @Sendable ([SupervisorEvent]) -> Bool) async -> Bool {
        if predicate(events) { return true }
        let id = UUID()
        return await withCheckedContinuation { continuation in
            waiters.append(Waiter(id: id, predicate: predicate, continuation: continuation))
            Task {
                try? await Task.sleep(for: timeout)
                self.expire(id)
            }
        }
    }

    private func expire(_ id: UUID) {
        guard let index = waiters.firstIndex(where: { $0.id == id }) else { return }
        waiters.remove(at: index).continuation.resume(returning: false)
    }

    var lines: [String] { events.map(\.description) }
}

/// A project with a manifest and scripts, a supervisor over it, and a marker in every service's
/// environment so the test can find any process the run left behind.
final class Harness: @unchecked Sendable {
    let project: TempProject
    let manifest: Manifest
    let supervisor: Supervisor
    let log = EventLog()
    let marker = "devhost-test-\(UUID().uuidString)"
    private var pump: Task<Void, Never>?

    init(_ yaml: String, files: [String: String] = [:], services: [String] = []) throws {
        var all = files
        all["devhost.yml"] = yaml
        project = try TempProject(all)
        manifest = try project.load()
        var environment = ProcessInfo.processInfo.environment
        environment["DEVHOST_TEST_MARKER"] = marker
        let output = LogOutput(options: .init(directory: project.path + "/.devhost/logs", descriptor: open("/dev/null", O_WRONLY)))
        supervisor = Supervisor(manifest: manifest, options: .init(services: services, log: output, environment: environment))
    }

    func start() async throws {
        let stream = await supervisor.events()
        let log = self.log
        pump = Task { for await event in stream { await log.append(event) } }
        try await supervisor.start()
    }

    func stop(force: Bool = false) async {
        await supervisor.stop(force: force)
        pump?.cancel()
    }

    func wait(timeout: Duration = .seconds(20), _ predicate: @escaping @Sendable ([SupervisorEvent]) -> Bool) async -> Bool {
        await log.wait(timeout: timeout, predicate)
    }

    func waitFor(_ text: String, timeout: Duration = .seconds(20)) async -> Bool {
        await log.wait(timeout: timeout) { events in events.contains { $0.description.contains(text) } }
    }

    func instance(_ label: String) async -> InstanceSnapshot? {
        await supervisor.snapshot().first { $0.label == label }
    }

    /// Processes still alive that carry this harness's marker (zombies excluded).
    func leftovers() -> [String] {
        livingProcesses(withMarker: marker)
    }
}

func livingProcesses(withMarker marker: String) -> [String] {
    var found: [String] = []
    let needle = Data("DEVHOST_TEST_MARKER=\(marker)".utf8)
    for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
        guard Int32(entry) != nil, let environ = FileManager.default.contents(atPath: "/proc/\(entry)/environ"),
            environ.range(of: needle) != nil
        else { continue }
        let stat = (try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8)) ?? ""
        if let close = stat.lastIndex(of: ")"), stat[stat.index(after: close)...].hasPrefix(" Z") { continue }
        let command = (FileManager.default.contents(atPath: "/proc/\(entry)/cmdline") ?? Data()).split(separator: 0).map {
            String(decoding: $0, as: UTF8.self)
        }
        found.append("\(entry): \(command.joined(separator: " "))")
    }
    return found
}

/// A tiny HTTP server used as a service: answers /healthz (unless FAIL_HEALTH exists), `/env/NAME`,
/// and `/`. Listens on $PORT, or on a port the OS picks when IGNORE_PORT=1 (printing it).
let serverScript = #"""
    import os, sys, socket
    from http.server import BaseHTTPRequestHandler, HTTPServer

    class H(BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path == "/healthz" and os.path.exists("FAIL_HEALTH"):
                self.send_response(503); self.end_headers(); return
            if self.path.startswith("/env/"):
                body = os.environ.get(self.path[5:], "").encode()
            else:
                body = ("%s %s" % (os.environ.get("DEVHOST_SERVICE"), os.environ.get("DEVHOST_INSTANCE"))).encode()
            self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
        def log_message(self, *a): pass

    port = 0 if os.environ.get("IGNORE_PORT") else int(os.environ["PORT"])
    server = HTTPServer(("127.0.0.1", port), H)
    print("serving on", server.server_address[1], flush=True)
    server.serve_forever()
    """#
