import DevhostRuntime
import DevhostTestSupport
import Foundation
import Testing

/// A private world for the shared edge proxy: its own runtime folder, edge port and route file,
/// so a test's edge never meets the user's (or another test's). Every process it starts carries
/// its marker; `shutDown` downs every project, stops the edge and kills what is left.
final class EdgeWorld: @unchecked Sendable {
    let root: TempProject
    let port: Int
    let httpsPort: Int
    let marker = "edge-\(UUID().uuidString.prefix(8))"
    var environment: [String: String]
    private(set) var projects: [String] = []

    init(idle: String = "10m") throws {
        root = try TempProject([:])
        let ports = try freeLoopbackPorts(2)
        (port, httpsPort) = (ports[0], ports[1])
        let runtime = root.file("run")
        try FileManager.default.createDirectory(atPath: runtime, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        var environment = ProcessInfo.processInfo.environment
        environment["XDG_RUNTIME_DIR"] = runtime
        environment["DEVHOST_EDGE_PORT"] = String(port)
        environment["DEVHOST_EDGE_HTTPS_PORT"] = String(httpsPort)
        // The local CA the edge makes for HTTPS stays in the world, not in the user's data folder.
        environment["XDG_DATA_HOME"] = root.file("data")
        environment["DEVHOST_EDGE_IDLE"] = idle
        environment["DEVHOST_ROUTES"] = root.file("routes.yml")
        environment["DEVHOST_TEST_MARKER"] = marker
        environment["NO_COLOR"] = "1"
        environment["DEVHOST_PROXY_PORT"] = nil
        self.environment = environment
    }

    var paths: EdgePaths { EdgePaths(port: port, environment: environment) }

    /// A project folder `name` under the world (or `folder`), serving `who` from `api`.
    @discardableResult
    func project(_ folder: String, name: String, who: String) throws -> String {
        let path = root.file(folder)
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        try edgeManifest(name: name).write(toFile: path + "/devhost.yml", atomically: true, encoding: .utf8)
        try edgeServer.write(toFile: path + "/server.py", atomically: true, encoding: .utf8)
        try who.write(toFile: path + "/who.txt", atomically: true, encoding: .utf8)
        return path
    }

    @discardableResult
    func devhost(_ arguments: [String], in folder: String) throws -> (status: Int32, output: String) {
        if arguments.first == "up", !projects.contains(folder) { projects.append(folder) }
        return try run([devhostBinary] + arguments, in: folder, environment: environment)
    }

    /// GET through the edge: (status, body); status 0 when nothing answered.
    func get(_ host: String, path: String = "/", asUser uid: Int? = nil) -> (Int, String) {
        let prefix = uid.map { ["setpriv", "--reuid=\($0)", "--regid=\($0)", "--clear-groups"] } ?? []
        guard
            let result = try? run(
                prefix + [
                    "curl", "-s", "--max-time", "5", "-H", "Host: \(host)", "-w", "\n%{http_code}", "http://127.0.0.1:\(port)\(path)",
                ])
        else { return (0, "") }
        let lines = result.output.split(separator: "\n", omittingEmptySubsequences: false)
        return (Int(lines.last ?? "") ?? 0, lines.dropLast().joined(separator: "\n"))
    }

    /// GET over HTTPS (HTTP/2 when `http2`) through the edge, trusting the world's CA: (status, body, HTTP version).
    func getSecure(_ host: String, http2: Bool = true) -> (Int, String, String) {
        let ca = root.file("data") + "/devhost/ca/ca.pem"
        guard
            let result = try? run(
                [
                    "curl", "-s", "--max-time", "5", "--cacert", ca, http2 ? "--http2" : "--http1.1", "--resolve",
                    "\(host):\(httpsPort):127.0.0.1", "-w", "\n%{http_code} %{http_version}", "https://\(host):\(httpsPort)/",
                ])
        else { return (0, "", "") }
        let lines = result.output.split(separator: "\n", omittingEmptySubsequences: false)
        let last = (lines.last ?? "").split(separator: " ")
        return (Int(last.first ?? "") ?? 0, lines.dropLast().joined(separator: "\n"), last.count > 1 ? String(last[1]) : "")
    }

    func status() -> EdgeStatus? {
        guard let result = try? run([devhostBinary, "proxy", "status", "--json"], environment: environment), result.status == 0,
            let start = result.output.firstIndex(of: "{")
        else { return nil }
        return try? JSONDecoder().decode(EdgeStatus.self, from: Data(result.output[start...].utf8))
    }

    /// Downs every project, stops the edge, kills whatever still carries the marker; returns those.
    @discardableResult
    func shutDown() -> [String] {
        for folder in projects { _ = try? devhost(["down", "--timeout", "20s"], in: folder) }
        _ = try? run([devhostBinary, "proxy", "stop"], environment: environment)
        let left = livingProcesses(withMarker: marker)
        for entry in left {
            if let pid = Int32(entry.prefix { $0 != ":" }) { kill(pid, SIGKILL) }
        }
        if let edge = paths.runningPID() { kill(edge, SIGKILL) }
        return left
    }
}

func edgeManifest(name: String) -> String {
    """
    name: \(name)
    services:
      api:
        command: python3 server.py
        route: api
        health: { http: /, interval: 100ms, retries: 1 }
        env: { PUBLIC: "${api.public_url}", PLAIN: "${api.public_http_url}" }
    """
}

/// Answers GET /public with its `${api.public_url}`, /plain with `${api.public_http_url}`, every other GET with the project's who.txt
/// and the Host it was asked for.
let edgeServer = #"""
    import os
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    WHO = open("who.txt").read().strip()
    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        def do_GET(self):
            if self.path in ("/public", "/plain"):
                text = os.environ[self.path[1:].upper()]
            else:
                text = WHO + " " + self.headers.get("Host", "")
            body = text.encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        def log_message(self, *args):
            pass
    ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
    """#
