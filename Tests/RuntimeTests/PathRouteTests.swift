import DevhostManifest
import DevhostProxy
import DevhostRuntime
import DevhostTestSupport
import Foundation
import NIOPosix
import Testing

/// A frontend and an API on one host (`shop.localhost`), and a host with paths only, behind the
/// real proxy: real Python services, curl and raw sockets on loopback ports the OS chose.
@Suite struct PathRouteTests {
    final class World: Stoppable, @unchecked Sendable {
        let harness: Harness
        let proxy: ProxyServer
        /// The same routes over HTTPS (HTTP/2 by ALPN), leaves from a CA made for the test.
        let secure: ProxyServer
        let data: TempProject
        var ca: String { LocalCAFiles(folder: data.file("ca")).certificate }

        init() async throws {
            harness = try Harness(
                """
                name: shop
                services:
                  web:
                    command: python3 paths.py
                    route: "@"
                    health: { http: /healthz, interval: 100ms, retries: 1 }
                  api:
                    command: python3 paths.py
                    route: [{ host: "@", path: /api, strip_prefix: true }]
                    health: { http: /healthz, interval: 100ms, retries: 1 }
                  v2:
                    command: python3 paths.py
                    route: [{ host: "@", path: /api/v2 }, { host: docs, path: /docs }]
                    health: { http: /healthz, interval: 100ms, retries: 1 }
                """, files: ["paths.py": pathsUpstream])
            try await harness.start()
            #expect(await harness.waitFor("all services are up"))
            var settings = ProxyContext.Settings()
            settings.accessLog = .off
            let board = harness.supervisor.board
            let context = ProxyContext(
                routes: ProxyRoutes(ProxyRoutes.routes(for: harness.manifest)), instances: harness.supervisor.routes, settings: settings,
                describe: { (board.summary(of: $0), []) })
            proxy = try await ProxyServer.start(host: "127.0.0.1", port: 0, context: context, group: MultiThreadedEventLoopGroup.singleton)
            data = try TempProject()
            let tls = try ProxyTLS.make(port: 0, files: LocalCAFiles(folder: data.file("ca")), domain: "localhost", log: nil)
            secure = try await ProxyServer.start(
                host: "127.0.0.1", port: 0, context: context, group: MultiThreadedEventLoopGroup.singleton, tls: tls.sslContext)
        }

        /// curl through the proxy: (status, body); `http2`: over HTTPS with HTTP/2 (checked).
        func get(_ target: String, host: String = "shop.localhost", args: [String] = [], http2: Bool = false) throws -> (Int, String) {
            let url =
                http2
                ? ["--http2", "--cacert", ca, "--resolve", "\(host):\(secure.port):127.0.0.1", "https://\(host):\(secure.port)\(target)"]
                : ["-H", "Host: \(host)", "http://127.0.0.1:\(proxy.port)\(target)"]
            let result = try run(
                ["curl", "-s", "--path-as-is", "--max-time", "10", "-w", "\n%{http_version} %{http_code}"] + args + url)
            let lines = result.output.split(separator: "\n", omittingEmptySubsequences: false)
            let last = (lines.last ?? "").split(separator: " ")
            #expect(last.first == (http2 ? "2" : "1.1"), "\(target): \(result.output)")
            return (Int(last.last ?? "") ?? 0, lines.dropLast().joined(separator: "\n"))
        }

        /// What the service that answered saw: its name, the target it got, its X-Forwarded-Prefix values.
        func seen(_ target: String, args: [String] = [], http2: Bool = false) throws -> (
            service: String, target: String, prefixes: [String]
        ) {
            let (status, body) = try get(target, args: args, http2: http2)
            #expect(status == 200, "\(target): \(status) \(body)")
            let json = try #require(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])
            return (json["service"] as? String ?? "", json["target"] as? String ?? "", json["prefix"] as? [String] ?? [])
        }

        func stop() async {
            await secure.close()
            await proxy.close()
            await harness.stop()
        }
    }

    /// Runs `body` on a fresh world and stops it (its services and proxy) whatever happens.
    func withWorld(_ body: (World) async throws -> Void) async throws {
        try await using(World(), body)
    }

    /// Over HTTP/1.1 on the plain port, and over HTTP/2 on the HTTPS port (each stream's `:path`
    /// becomes the target the same routing reads).
    @Test(arguments: [false, true])
    func theFrontendAndTheAPIShareOneHost(http2: Bool) async throws {
        try await withWorld { world in
            let expected: [(String, String, String, [String])] = [
                ("/", "web", "/", []),
                ("/index.html?x=1", "web", "/index.html?x=1", []),
                ("/apix", "web", "/apix", []),
                ("/api%2Fusers", "web", "/api%2Fusers", []),
                ("/api", "api", "/", ["/api"]),
                ("/api?x=1", "api", "/?x=1", ["/api"]),
                ("/api/users/a%2Fb?q=%20", "api", "/users/a%2Fb?q=%20", ["/api"]),
                ("/api/v2", "v2", "/api/v2", []),
                ("/api/v2/items?page=2", "v2", "/api/v2/items?page=2", []),
                ("/api/v20", "api", "/v20", ["/api"]),
            ]
            for (target, service, upstream, prefixes) in expected {
                let seen = try world.seen(target, http2: http2)
                #expect(seen.service == service && seen.target == upstream && seen.prefixes == prefixes, "\(target): \(seen)")
            }
            // A client's own X-Forwarded-Prefix is replaced where a prefix is stripped, dropped elsewhere.
            #expect(try world.seen("/api/me", args: ["-H", "X-Forwarded-Prefix: /admin"], http2: http2).prefixes == ["/api"])
            #expect(try world.seen("/me", args: ["-H", "X-Forwarded-Prefix: /admin"], http2: http2).prefixes == [])
            #expect(try world.seen("/api/v2/me", args: ["-H", "X-Forwarded-Prefix: /admin"], http2: http2).prefixes == [])
            // A body goes to the stripped target whole.
            let posted = try world.get("/api/echo", args: ["--data-binary", "hello"], http2: http2)
            #expect(posted.0 == 200 && posted.1.contains("\"body\": \"hello\""), "\(posted)")
        }
    }

    @Test func aHostWithPathsOnlyAnswersTheNotFoundPageListingThem() async throws {
        try await withWorld { world in
            let inside = try world.get("/docs/guide", host: "docs.shop.localhost")
            #expect(inside.0 == 200 && inside.1.contains("\"target\": \"/docs/guide\""), "\(inside)")
            let (status, page) = try world.get("/", host: "docs.shop.localhost")
            #expect(status == 404)
            for listed in [
                ">shop.localhost<", ">shop.localhost/api<", "(prefix stripped)", ">shop.localhost/api/v2<", ">docs.shop.localhost/docs<",
            ] {
                #expect(page.contains(listed), "\(listed) missing from \(page)")
            }
            #expect(page.contains("href=\"http://shop.localhost:\(world.proxy.port)/api\""))
            let json = try world.get("/nothing", host: "nope.shop.localhost", args: ["-H", "Accept: application/json"])
            #expect(json.0 == 404 && json.1.contains("\"http://docs.shop.localhost:\(world.proxy.port)/docs\""), "\(json)")
        }
    }

    /// A WebSocket (a real handshake and masked frames) and an SSE stream under the stripped prefix:
    /// the upgrade and the stream go through the same head as every request.
    @Test func aWebSocketAndAnEventStreamUnderAPrefix() async throws {
        try await withWorld { world in
            let output = try run(["python3", "-c", pathsClient, String(world.proxy.port)], in: world.harness.project.path)
            #expect(output.status == 0, "\(output.output)")
            let lines = output.output.split(separator: "\n").map(String.init)
            #expect(lines.contains("ws 101 accept-ok"), "\(lines)")
            #expect(lines.contains("ws echo api /ws ['/api'] hello"), "\(lines)")
            #expect(lines.contains("sse first api /events"), "\(lines)")
            #expect(lines.contains("sse rest second"), "\(lines)")
        }
    }

    /// A WebSocket as an HTTP/2 stream (RFC 8441, hyper-h2 as the client) under the stripped prefix:
    /// the stream's `:path` is routed and stripped as a request's target is.
    @Test func aWebSocketOverAnHTTP2StreamUnderAPrefix() async throws {
        try await withWorld { world in
            let script = repositoryRoot.appendingPathComponent("Tests/Scripts/h2_websocket.py").path
            let result = try run(["python3", script, "shop.localhost", String(world.secure.port), world.ca, "/api/ws", "hello"])
            let line = result.output.split(separator: "\n").last { $0.hasPrefix("{") }.map(String.init) ?? ""
            let seen = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "\(result.output)")
            #expect(seen["status"] as? String == "200", "\(seen)")
            #expect(seen["echoes"] as? [String] == ["api /ws ['/api'] hello"], "\(seen)")
        }
    }
}

/// Answers with what it saw (service, raw target, X-Forwarded-Prefix values, body), a WebSocket echo
/// at /ws (RFC 6455 handshake, one text frame back) and an event stream at /events whose second event
/// waits for a file named `release` (so the first must reach the client on its own).
let pathsUpstream = #"""
    import base64, hashlib, json, os, socket, struct, time
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    NAME = os.environ["DEVHOST_SERVICE"]
    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        def log_message(self, *a): pass
        def answer(self, data):
            body = json.dumps(data).encode()
            self.send_response(200); self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
        def do_POST(self):
            n = int(self.headers.get("Content-Length") or 0)
            self.answer({"service": NAME, "target": self.path, "body": self.rfile.read(n).decode()})
        def do_GET(self):
            prefix = self.headers.get_all("X-Forwarded-Prefix") or []
            if self.path == "/healthz":
                return self.answer({})
            if self.path == "/ws":
                key = self.headers["Sec-WebSocket-Key"].encode()
                accept = base64.b64encode(hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest()).decode()
                self.send_response(101); self.send_header("Upgrade", "websocket"); self.send_header("Connection", "Upgrade")
                self.send_header("Sec-WebSocket-Accept", accept); self.end_headers(); self.wfile.flush()
                head = self.rfile.read(2); n = head[1] & 0x7F; mask = self.rfile.read(4)
                text = bytes(b ^ mask[i % 4] for i, b in enumerate(self.rfile.read(n))).decode()
                reply = ("%s %s %s %s" % (NAME, self.path, prefix, text)).encode()
                self.wfile.write(bytes([0x81, len(reply)]) + reply); self.wfile.flush()
                self.close_connection = True; return
            if self.path == "/events":
                self.send_response(200); self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache"); self.send_header("Connection", "close"); self.end_headers()
                self.wfile.write(("data: first %s %s\n\n" % (NAME, self.path)).encode()); self.wfile.flush()
                for _ in range(200):
                    if os.path.exists("release"): break
                    time.sleep(0.05)
                self.wfile.write(b"data: second\n\n"); self.wfile.flush()
                self.close_connection = True; return
            self.answer({"service": NAME, "target": self.path, "prefix": prefix})
    ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
    """#

/// The client side: a WebSocket through the proxy (checks the accept value, sends a masked frame),
/// then an event stream whose first event must arrive before the upstream is let go on.
let pathsClient = #"""
    import base64, hashlib, os, socket, sys
    port = int(sys.argv[1])
    def head(s):
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(1)
            if not chunk: raise SystemExit("closed in head: %r" % data)
            data += chunk
        return data.decode()
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    key = base64.b64encode(os.urandom(16))
    s.sendall(b"GET /api/ws HTTP/1.1\r\nHost: shop.localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
              b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " + key + b"\r\n\r\n")
    h = head(s)
    want = base64.b64encode(hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest()).decode()
    print("ws", h.split(" ")[1], "accept-ok" if ("Sec-WebSocket-Accept: " + want) in h else "accept-bad " + h)
    payload, mask = b"hello", os.urandom(4)
    s.sendall(bytes([0x81, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
    frame = b""
    while len(frame) < 2 or len(frame) < 2 + frame[1]:
        chunk = s.recv(256)
        if not chunk: break
        frame += chunk
    print("ws echo", frame[2:].decode())
    s.close()
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"GET /api/events HTTP/1.1\r\nHost: shop.localhost\r\nAccept: text/event-stream\r\n\r\n")
    h = head(s)
    data = b""
    while b"\n\n" not in data:
        chunk = s.recv(256)
        if not chunk: break
        data += chunk
    print("sse", data.split(b"\n\n")[0].decode().replace("data: ", ""))
    open("release", "w").close()
    rest = data.split(b"\n\n", 1)[1]
    while True:
        chunk = s.recv(256)
        if not chunk: break
        rest += chunk
    print("sse rest", rest.decode().replace("data: ", "").strip())
    """#
