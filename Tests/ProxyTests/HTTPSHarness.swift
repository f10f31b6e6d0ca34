import DevhostManifest
import DevhostProxy
import DevhostTestSupport
import Foundation
import NIOPosix

/// An upstream for the HTTPS tests (Python's http.server, HTTP/1.1): `/echo` answers the request
/// it read as one JSON line, `/chunked` and `/until-close` answer with those framings, `/sse` sends
/// one event and holds the second until a file `release` appears, `/ws` switches protocols and
/// echoes what comes next. Its port is written to `port`.
let httpsUpstreamScript = #"""
    import json, os, time
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        def log_message(self, *args): pass

        def read_body(self):
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                data = b""
                while True:
                    size = int(self.rfile.readline().split(b";")[0], 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b""): pass
                        return data
                    data += self.rfile.read(size)
                    self.rfile.readline()
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def echo(self):
            body = self.read_body()
            payload = json.dumps({"path": self.path, "method": self.command, "body": body.decode("latin-1"),
                                  "headers": [[k.lower(), v] for k, v in self.headers.items()]}).encode() + b"\n"
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        do_POST = do_PUT = do_HEAD = echo

        def do_GET(self):
            if self.path.startswith("/echo"):
                return self.echo()
            if self.path == "/chunked":
                self.send_response(200)
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                self.wfile.write(b"6\r\nhello \r\n6\r\nworld\n\r\n0\r\n\r\n")
            elif self.path == "/until-close":
                self.send_response(200)
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(b"until the end\n")
                self.close_connection = True
            elif self.path == "/sse":
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(b"data: first\n\n")
                self.wfile.flush()
                deadline = time.time() + 15
                while not os.path.exists("release") and time.time() < deadline:
                    time.sleep(0.02)
                self.wfile.write(b"data: second\n\n")
                self.close_connection = True
            elif self.path == "/ws" and self.headers.get("Upgrade"):
                self.send_response(101)
                self.send_header("Connection", "Upgrade")
                self.send_header("Upgrade", "websocket")
                self.end_headers()
                self.connection.sendall(self.connection.recv(4096))
                self.close_connection = True
            else:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    with open("port.tmp", "w") as f: f.write(str(server.server_address[1]))
    os.rename("port.tmp", "port")
    server.serve_forever()
    """#

/// devhost's own lines as a terminal would get them, kept for the tests to read.
final class RecordingTerminal: LogTerminal, @unchecked Sendable {
    private let lock = NSLock()
    private var recorded: [String] = []
    var lines: [String] { lock.withLock { recorded } }
    func linePrefix(label: String, color: String) -> [UInt8] { Array("\(label) | ".utf8) }
    func writeRaw(_ bytes: UnsafeRawBufferPointer) {}
    func event(_ text: String, service: String?, label: String) { lock.withLock { recorded.append("\(label) | \(text)") } }
}

/// The proxy's plain and HTTPS listeners (one context, as `up` and the edge run them) in front of
/// `httpsUpstreamScript`, with a CA made in a temporary folder. api.localhost is the upstream.
final class HTTPSHarness: Stoppable, @unchecked Sendable {
    let folder: TempProject
    let data: TempProject
    let upstream: ChildProcess
    let plain: ProxyServer
    let secure: ProxyServer
    let terminal = RecordingTerminal()
    var securePort: Int { secure.port }
    var ca: String { LocalCAFiles(folder: data.file("ca")).certificate }

    /// `script` is the upstream (by default `httpsUpstreamScript`); it writes its port to `port`.
    init(upstream script: String = httpsUpstreamScript, settings custom: ProxyContext.Settings? = nil) async throws {
        folder = try TempProject(["upstream.py": script])
        data = try TempProject()
        upstream = try ChildProcess(argv: ["python3", "upstream.py"], directory: folder.path)
        let folder = folder
        let ready = await eventually(timeout: .seconds(10)) { FileManager.default.fileExists(atPath: folder.file("port")) }
        guard ready, let port = Int(try folder.read("port")) else {
            upstream.stop()
            throw HarnessFailure(message: "upstream did not start: \(upstream.output)")
        }
        let routes = ProxyRoutes([.init(host: "api.localhost", target: .address(host: "127.0.0.1", port: port))])
        var settings = custom ?? ProxyContext.Settings()
        settings.accessLog = .off
        let context = ProxyContext(routes: routes, instances: RouteTable(), settings: settings, log: terminal)
        do {
            let tls = try ProxyTLS.make(port: 0, files: LocalCAFiles(folder: data.file("ca")), domain: "localhost", log: terminal)
            plain = try await ProxyServer.start(host: "127.0.0.1", port: 0, context: context, group: MultiThreadedEventLoopGroup.singleton)
            secure = try await ProxyServer.start(
                host: "127.0.0.1", port: 0, context: context, group: MultiThreadedEventLoopGroup.singleton, tls: tls.sslContext)
        } catch {
            upstream.stop()
            throw error
        }
    }

    func stop() async {
        await secure.close()
        await plain.close()
        upstream.stop()
    }

    /// Runs `body` against a new harness and always stops it: its upstream must not outlive the test.
    static func with(
        upstream script: String = httpsUpstreamScript, settings: ProxyContext.Settings? = nil, _ body: (HTTPSHarness) async throws -> Void
    ) async throws {
        try await using(HTTPSHarness(upstream: script, settings: settings), body)
    }

    /// curl with the CA against `host` on the HTTPS port (resolved to loopback); the output ends
    /// with a line `HTTP_VERSION v STATUS n`.
    func curl(_ options: [String], path: String, host: String = "api.localhost") throws -> (status: Int32, output: String) {
        try run(
            ["curl", "-sS", "--cacert", ca, "--resolve", "\(host):\(securePort):127.0.0.1"] + options + [
                "-w", "\nHTTP_VERSION %{http_version} STATUS %{http_code}", "https://\(host):\(securePort)\(path)",
            ])
    }

    struct Echo: Decodable {
        let path: String
        let method: String
        let body: String
        let headers: [[String]]
        func header(_ name: String) -> String? { headers.first { $0[0] == name }?[1] }
    }

    /// The upstream's `/echo` line in `output`.
    static func echo(_ output: String) throws -> Echo {
        guard let line = output.split(separator: "\n").first(where: { $0.hasPrefix("{\"path\"") }) else {
            throw HarnessFailure(message: "no echo in: \(output)")
        }
        return try JSONDecoder().decode(Echo.self, from: Data(line.utf8))
    }
}
