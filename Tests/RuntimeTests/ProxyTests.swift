import DevhostManifest
import DevhostProxy
import DevhostRuntime
import DevhostTestSupport
import Foundation
import NIOPosix
import Testing

/// How a test's requests reach the proxy: plain HTTP/1.1, or HTTP/2 over TLS (ALPN h2) on the HTTPS
/// listener beside it, whose streams are bridged to the same proxy handler (docs/proxy.md).
enum Transport: String, CustomTestStringConvertible, Sendable {
    case http1, http2
    var testDescription: String { rawValue }
}

/// A supervised upstream (two replicas of `proxyUpstreamScript`) behind a real proxy on a port the OS
/// chose, and an HTTPS listener on the same context when the transport is HTTP/2.
final class ProxyHarness: @unchecked Sendable {
    let harness: Harness
    var proxy: ProxyServer!
    var secure: ProxyServer?
    var routes: ProxyRoutes!
    let transport: Transport
    /// The CA the HTTPS listener's leaves come from (HTTP/2 only).
    let data: TempProject

    init(replicas: Int = 2, settings: ProxyContext.Settings = ProxyContext.Settings(), transport: Transport = .http1) async throws {
        self.transport = transport
        data = try TempProject()
        harness = try Harness(
            """
            name: shop
            services:
              api:
                command: python3 upstream.py
                replicas: \(replicas)
                route: [api, "@"]
                health: { http: /healthz, interval: 100ms, retries: 1 }
            """, files: ["upstream.py": proxyUpstreamScript])
        try await harness.start()
        #expect(await harness.waitFor("all services are up"))
        routes = ProxyRoutes(ProxyRoutes.routes(for: harness.manifest))
        var quiet = settings
        quiet.accessLog = .off
        let board = harness.supervisor.board
        let context = ProxyContext(
            routes: routes, instances: harness.supervisor.routes, settings: quiet,
            describe: { (board.summary(of: $0), ["last line of \($0)"]) })
        proxy = try await ProxyServer.start(host: "127.0.0.1", port: 0, context: context, group: MultiThreadedEventLoopGroup.singleton)
        if transport == .http2 {
            let tls = try ProxyTLS.make(port: 0, files: LocalCAFiles(folder: data.file("ca")), domain: "localhost", log: nil)
            secure = try await ProxyServer.start(
                host: "127.0.0.1", port: 0, context: context, group: MultiThreadedEventLoopGroup.singleton, tls: tls.sslContext)
        }
    }

    /// Where curl sends requests (the Host header names the route): the plain port, or the HTTPS
    /// port with the test CA, HTTP/2 required (a connection that fell back to HTTP/1.1 fails).
    var base: String { secure.map { "https://127.0.0.1:\($0.port)" } ?? "http://127.0.0.1:\(proxy.port)" }
    var curlOptions: [String] {
        transport == .http2 ? ["--http2", "--cacert", LocalCAFiles(folder: data.file("ca")).certificate] : []
    }
    /// What the forwarding fields say about the client's connection.
    var scheme: String { transport == .http2 ? "https" : "http" }

    func stop() async {
        await secure?.close()
        await proxy.close()
        await harness.stop()
        let refused = (try? harness.project.read("h11-errors.txt")) ?? ""
        #expect(refused.isEmpty, "h11 refused what reached the upstream: \(refused)")
    }

    /// curl with a Host header; returns status, headers (lowercased names) and body.
    func request(_ path: String, host: String = "api.shop.localhost", args: [String] = []) throws -> (
        status: Int, headers: [(String, String)], body: String
    ) {
        let result = try run(["curl", "-s", "-i", "--max-time", "20", "-H", "Host: \(host)"] + curlOptions + args + [base + path])
        let parsed = Self.parse(result.output)
        #expect(
            parsed.status == 0 || result.output.hasPrefix(transport == .http2 ? "HTTP/2 " : "HTTP/1.1 "),
            "\(transport): \(result.output.prefix(200))")
        return parsed
    }

    static func parse(_ raw: String) -> (status: Int, headers: [(String, String)], body: String) {
        var text = raw
        // Skip interim responses (100 Continue).
        while text.hasPrefix("HTTP/1.1 1") || text.hasPrefix("HTTP/2 1"), let end = text.range(of: "\r\n\r\n") {
            text = String(text[end.upperBound...])
        }
        guard let end = text.range(of: "\r\n\r\n") else { return (0, [], raw) }
        let lines = text[..<end.lowerBound].split(separator: "\r\n")
        let status = lines.first.flatMap { Int($0.split(separator: " ")[1]) } ?? 0
        let headers = lines.dropFirst().compactMap { line -> (String, String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (line[..<colon].lowercased(), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        return (status, headers, String(text[end.upperBound...]))
    }
}

func header(_ headers: [(String, String)], _ name: String) -> [String] {
    headers.filter { $0.0 == name }.map(\.1)
}

func echoed(_ body: String) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])
}

func echoedHeaders(_ body: String) throws -> [String: [String]] {
    let pairs = (try echoed(body)["headers"] as? [[String]]) ?? []
    return Dictionary(grouping: pairs, by: { $0[0].lowercased() }).mapValues { $0.map { $0[1] } }
}

/// The tests that speak HTTP through curl run over HTTP/1.1 and over HTTP/2 (TLS); those that write
/// raw HTTP/1.1 bytes (pipelining, framing, upgrades, a malformed request line) or drive Python's
/// http.client stay HTTP/1.1: their subject is that protocol's framing (HTTP/2's own is tested in
/// HTTPSProxyTests and HTTP2FramingTests).
@Suite(.serialized) struct ProxyTests {
    @Test(arguments: [Transport.http1, .http2])
    func routesByHostIgnoringPortAndCase(transport: Transport) async throws {
        let p = try await ProxyHarness(transport: transport)
        #expect(try p.request("/echo", host: "API.Shop.LocalHost:1234").status == 200)
        #expect(try p.request("/echo", host: "shop.localhost").status == 200, "@ is the apex")
        // The page lists the routes on the scheme and port the client came in on.
        let listed = { (host: String) in p.secure.map { "https://\(host):\($0.port)/" } ?? "http://\(host):\(p.proxy.port)/" }
        let unknown = try p.request("/", host: "nope.shop.localhost")
        #expect(unknown.status == 404)
        #expect(unknown.body.contains(listed("api.shop.localhost")), "\(unknown.body)")
        let json = try p.request("/", host: "nope.localhost", args: ["-H", "Accept: application/json"])
        #expect(json.status == 404)
        #expect((try echoed(json.body)["routes"] as? [String])?.contains(listed("shop.localhost")) == true, "\(json.body)")
        await p.stop()
    }

    @Test(arguments: [Transport.http1, .http2])
    func targetAndMethodPassThroughUntouched(transport: Transport) async throws {
        let p = try await ProxyHarness(transport: transport)
        let raw = try p.request("/a%2Fb?x=1&", args: ["--path-as-is"])
        #expect(try echoed(raw.body)["path"] as? String == "/a%2Fb?x=1&")
        for method in ["PROPFIND", "PURGE", "DELETE", "OPTIONS"] {
            let response = try p.request("/echo", args: ["-X", method])
            #expect(try echoed(response.body)["method"] as? String == method)
        }
        await p.stop()
    }

    @Test(arguments: [Transport.http1, .http2])
    func forwardingHeadersAreReplacedAndRequestIDsFlow(transport: Transport) async throws {
        let p = try await ProxyHarness(transport: transport)
        let spoofed = try p.request(
            "/echo", args: ["-H", "X-Forwarded-For: 6.6.6.6", "-H", "Forwarded: for=6.6.6.6", "-H", "X-Real-IP: 6.6.6.6"])
        let seen = try echoedHeaders(spoofed.body)
        #expect(seen["x-forwarded-for"] == ["127.0.0.1"])
        #expect(seen["x-real-ip"] == nil)
        #expect(seen["forwarded"] == ["for=127.0.0.1;host=\"api.shop.localhost\";proto=\(p.scheme)"])
        #expect(seen["x-forwarded-proto"] == [p.scheme])
        #expect(seen["x-forwarded-host"] == ["api.shop.localhost"])
        #expect(seen["host"] == ["api.shop.localhost"], "Host is passed on unchanged")
        let generated = try #require(header(spoofed.headers, "x-request-id").first)
        #expect(seen["x-request-id"] == [generated])
        let kept = try p.request("/echo", args: ["-H", "X-Request-ID: abc-123"])
        #expect(header(kept.headers, "x-request-id") == ["abc-123"])
        #expect(try echoedHeaders(kept.body)["x-request-id"] == ["abc-123"])
        let hop = try p.request(
            "/echo",
            args: ["-H", "Connection: keep-alive, X-Secret", "-H", "X-Secret: 1", "-H", "Proxy-Authorization: x", "-H", "TE: trailers"])
        let hopSeen = try echoedHeaders(hop.body)
        // HTTP/2 has no Connection field (curl leaves it out), so there X-Secret is named by nothing
        // and is an ordinary field.
        #expect(hopSeen["x-secret"] == (transport == .http2 ? ["1"] : nil), "\(hopSeen)")
        #expect(hopSeen["proxy-authorization"] == nil && hopSeen["te"] == nil, "\(hopSeen)")
        await p.stop()
    }

    @Test(arguments: [Transport.http1, .http2])
    func repeatedHeadersSurviveAndDateIsNotDuplicated(transport: Transport) async throws {
        let p = try await ProxyHarness(transport: transport)
        let response = try p.request("/cookies")
        #expect(header(response.headers, "set-cookie") == ["a=1", "b=2"])
        #expect(header(response.headers, "date").count == 1)
        #expect(header(response.headers, "server").count == 1)
        await p.stop()
    }

    @Test(arguments: [Transport.http1, .http2])
    func headAndBodylessStatuses(transport: Transport) async throws {
        let p = try await ProxyHarness(transport: transport)
        let head = try p.request("/echo", args: ["-I"])
        #expect(head.status == 200)
        #expect(head.body.isEmpty)
        #expect(try p.request("/status/204").status == 204)
        #expect(try p.request("/status/304").status == 304)
        await p.stop()
    }

    @Test(arguments: [Transport.http1, .http2])
    func bodiesStreamBothWays(transport: Transport) async throws {
        let p = try await ProxyHarness(transport: transport)
        let size = 50_000_000
        let download = try run(
            ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{size_download}", "-H", "Host: api.shop.localhost"] + p.curlOptions
                + ["\(p.base)/big?n=\(size)"])
        #expect(download.output == "200 \(size)")
        let file = p.harness.project.file("upload.bin")
        try Data(count: 20_000_000).write(to: URL(fileURLWithPath: file))
        // curl sends Expect: 100-continue for a body this size.
        let upload = try p.request("/echo", args: ["--data-binary", "@" + file, "-H", "Content-Type: application/octet-stream"])
        #expect(try echoed(upload.body)["body"] as? Int == 20_000_000)
        let chunked = try p.request("/echo", args: ["--data-binary", "@" + file, "-H", "Transfer-Encoding: chunked"])
        #expect(try echoed(chunked.body)["body"] as? Int == 20_000_000)
        await p.stop()
    }

    @Test func eventsArriveOneByOne() async throws {
        let p = try await ProxyHarness()
        let script = """
            import socket, time
            s = socket.create_connection(("127.0.0.1", \(p.proxy.port)))
            s.sendall(b"GET /sse HTTP/1.1\\r\\nHost: api.shop.localhost\\r\\n\\r\\n")
            start = time.time(); data = b""; first = None
            while b"event 2" not in data:
                chunk = s.recv(4096)
                if not chunk: break
                data += chunk
                if first is None and b"event 0" in data: first = time.time() - start
            print("%.3f %.3f" % (first, time.time() - start))
            """
        let result = try run(["python3", "-c", script])
        let times = result.output.split(separator: " ").compactMap { Double($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        #expect(times.count == 2, "\(result.output)")
        if times.count == 2 {
            // Measured against the last event rather than the clock, so that a slow start does not count.
            #expect(times[1] - times[0] >= 0.45, "the first event must not wait for the last: \(times)")
            #expect(times[1] >= 0.55)
        }
        await p.stop()
    }

    @Test func pipelinedRequestsAnswerInOrder() async throws {
        let p = try await ProxyHarness()
        let script = """
            import socket
            s = socket.create_connection(("127.0.0.1", \(p.proxy.port)))
            req = "GET /echo?n=%d HTTP/1.1\\r\\nHost: api.shop.localhost\\r\\n\\r\\n"
            s.sendall("".join(req % i for i in range(3)).encode() + b"GET /echo?n=3 HTTP/1.1\\r\\nHost: api.shop.localhost\\r\\nConnection: close\\r\\n\\r\\n")
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk: break
                data += chunk
            print(",".join(str(data.find(b"/echo?n=%d" % i)) for i in range(4)))
            """
        let positions = try run(["python3", "-c", script]).output.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ",")
            .compactMap { Int($0) }
        #expect(positions.count == 4 && positions.allSatisfy { $0 >= 0 } && positions == positions.sorted(), "\(positions)")
        await p.stop()
    }

    /// Bodies are forwarded with their framing, so the proxy must find where each one ends however
    /// the bytes are split, and refuse framing that two servers could read differently.
    @Test func framingEdgeCases() async throws {
        let p = try await ProxyHarness()
        let script = """
            import socket, time, json
            def conn():
                return socket.create_connection(("127.0.0.1", \(p.proxy.port)), timeout=10)
            def read_response(s):
                data = b""
                while b"\\r\\n\\r\\n" not in data:
                    data += s.recv(65536)
                head, _, rest = data.partition(b"\\r\\n\\r\\n")
                length = int([l.split(b":")[1] for l in head.split(b"\\r\\n") if l.lower().startswith(b"content-length:")][0])
                while len(rest) < length:
                    rest += s.recv(65536)
                return head.split(b"\\r\\n")[0].decode(), rest[:length]
            # A chunked upload dribbled a few bytes at a time, then a second request on the same connection.
            s = conn()
            body = b"4\\r\\nabcd\\r\\n10;x=y\\r\\n" + b"z" * 16 + b"\\r\\n0\\r\\nX-Trailer: t\\r\\n\\r\\n"
            s.sendall(b"POST /echo HTTP/1.1\\r\\nHost: api.shop.localhost\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\n")
            for i in range(0, len(body), 3):
                s.sendall(body[i:i + 3]); time.sleep(0.002)
            line, payload = read_response(s)
            print("chunked", line, json.loads(payload)["body"])
            s.sendall(b"GET /echo HTTP/1.1\\r\\nHost: api.shop.localhost\\r\\n\\r\\n")
            print("again", read_response(s)[0])
            # Content-Length and Transfer-Encoding together: the classic smuggling shape.
            s = conn()
            s.sendall(b"POST /echo HTTP/1.1\\r\\nHost: api.shop.localhost\\r\\nContent-Length: 4\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\n0\\r\\n\\r\\n")
            print("smuggle", s.recv(100).split(b"\\r\\n")[0].decode())
            # HTTP/1.0 with keep-alive: answered in 1.0, and the connection stays usable.
            s = conn()
            for i in range(2):
                s.sendall(b"GET /echo HTTP/1.0\\r\\nHost: api.shop.localhost\\r\\nConnection: keep-alive\\r\\n\\r\\n")
                print("http10", read_response(s)[0])
            # An upstream that closes after each response: the client's connection stays open and usable.
            s = conn()
            for i in range(2):
                s.sendall(b"GET /closing HTTP/1.1\\r\\nHost: api.shop.localhost\\r\\n\\r\\n")
                line, payload = read_response(s)
                print("closing", line, payload.decode())
            # A response without a length ends when the upstream closes; the client connection closes too.
            s = conn()
            s.sendall(b"GET /unframed HTTP/1.1\\r\\nHost: api.shop.localhost\\r\\n\\r\\n")
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk: break
                data += chunk
            head, _, rest = data.partition(b"\\r\\n\\r\\n")
            print("unframed", len(rest), b"connection: close" in head.lower())
            """
        let result = try run(["python3", "-c", script])
        let lines = result.output.split(separator: "\n").map(String.init)
        #expect(lines.contains("chunked HTTP/1.1 200 OK 20"), "\(result.output)")
        #expect(lines.contains("again HTTP/1.1 200 OK"), "\(result.output)")
        #expect(lines.contains("smuggle HTTP/1.1 400 Bad Request"), "\(result.output)")
        #expect(lines.filter { $0 == "http10 HTTP/1.0 200 OK" }.count == 2, "\(result.output)")
        #expect(lines.contains("unframed 1000 True"), "\(result.output)")
        #expect(lines.filter { $0 == "closing HTTP/1.1 200 OK closing" }.count == 2, "\(result.output)")
        #expect(try p.request("/echo").status == 200, "the proxy survives")
        await p.stop()
    }

    /// Upstream connections are pooled across clients; an upstream may close one just as it is
    /// reused. That request goes again on a new connection and the instance is not set aside.
    @Test func aPooledConnectionTheUpstreamDropsCostsNoRequest() async throws {
        let p = try await ProxyHarness(replicas: 1)
        // One client connection, so both requests are served on the same event loop and its pool:
        // the first opens an upstream connection that goes back to the pool, the second reuses it.
        let codes = try run([
            "curl", "-s", "-o", "/dev/null", "-o", "/dev/null", "-w", "%{http_code}\\n", "--max-time", "20", "-H",
            "Host: api.shop.localhost",
            "\(p.base)/drop-reused", "\(p.base)/drop-reused",
        ]).output
        #expect(codes == "200\n200\n", "\(codes)")
        let metrics = try p.request("/_devhost/metrics").body
        #expect(metrics.contains("devhost_proxy_upstream_errors_total{route=\"api\"} 0"), "\(metrics)")
        await p.stop()
    }

    /// An upstream that answers before the request body has all arrived is still owed the rest:
    /// that connection must not serve anyone else, and the client's leftover bytes are not requests.
    @Test func anEarlyAnswerRetiresItsUpstreamConnection() async throws {
        let p = try await ProxyHarness(replicas: 1)
        let script = """
            import socket
            s = socket.create_connection(("127.0.0.1", \(p.proxy.port)), timeout=10)
            s.sendall(b"POST /early HTTP/1.1\\r\\nHost: api.shop.localhost\\r\\nContent-Length: 100000\\r\\n\\r\\n" + b"GET /echo HTTP/1.1\\r\\n" * 3)
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk: break
                data += chunk
                try: s.sendall(b"x" * 1000)
                except OSError: pass
            print(data.split(b"\\r\\n")[0].decode(), data.count(b"HTTP/1.1"), b"connection: close" in data.lower())
            """
        let early = try run(["python3", "-c", script])
        #expect(
            early.output.trimmingCharacters(in: .whitespacesAndNewlines) == "HTTP/1.1 413 Request Entity Too Large 1 True",
            "\(early.output)")
        // Both event loops' pools: neither may hand out the connection that still expects a body.
        for _ in 1...4 { #expect(try p.request("/echo").status == 200) }
        // A Host that would add entries to Forwarded is refused.
        #expect(try p.request("/echo", host: "api.shop.localhost:1\";for=6.6.6.6").status == 400)
        await p.stop()
    }

    @Test func upgradesBecomeAByteRelay() async throws {
        let p = try await ProxyHarness()
        let script = """
            import socket
            s = socket.create_connection(("127.0.0.1", \(p.proxy.port)))
            s.sendall(b"GET /upgrade HTTP/1.1\\r\\nHost: api.shop.localhost\\r\\nConnection: Upgrade\\r\\nUpgrade: echo\\r\\n\\r\\n")
            head = b""
            while b"\\r\\n\\r\\n" not in head: head += s.recv(1)
            s.sendall(b"ping-1"); a = s.recv(100)
            s.sendall(b"ping-2"); b = s.recv(100)
            print(head.split(b"\\r\\n")[0].decode(), a.decode(), b.decode())
            """
        let output = try run(["python3", "-c", script]).output
        #expect(output.trimmingCharacters(in: .whitespacesAndNewlines) == "HTTP/1.1 101 Switching Protocols ping-1 ping-2", "\(output)")
        await p.stop()
    }

    @Test(arguments: [Transport.http1, .http2])
    func limitsHaveClearAnswers(transport: Transport) async throws {
        var settings = ProxyContext.Settings()
        settings.upstreamTimeout = .seconds(1)
        let p = try await ProxyHarness(settings: settings, transport: transport)
        #expect(try p.request("/" + String(repeating: "a", count: 9000)).status == 414)
        #expect(try p.request("/slow?s=3").status == 504)
        guard transport == .http1 else {
            // HTTP/2 header blocks past HPACK's 16 KiB (the SETTINGS say so) end the connection with
            // GOAWAY before any proxy handler sees them: curl fails at once instead of waiting for
            // an answer that will not come (28 would be its timeout).
            let huge = try run(
                ["curl", "-s", "-o", "/dev/null", "--max-time", "15", "-H", "Host: api.shop.localhost"] + p.curlOptions
                    + ["-H", "X-Big: " + String(repeating: "b", count: 40_000), p.base + "/echo"])
            #expect(huge.status != 0 && huge.status != 28, "curl exit \(huge.status): \(huge.output)")
            #expect(try p.request("/echo").status == 200, "the proxy survives")
            return await p.stop()
        }
        #expect(try p.request("/echo", args: ["-H", "X-Big: " + String(repeating: "b", count: 40_000)]).status == 431)
        let malformed = try run([
            "python3", "-c",
            """
            import socket
            s = socket.create_connection(("127.0.0.1", \(p.proxy.port)))
            s.sendall(b"GARBAGE\\x01 / HTTP/9.9\\r\\n\\r\\n")
            print(s.recv(100).split(b"\\r\\n")[0].decode())
            """,
        ])
        #expect(malformed.output.hasPrefix("HTTP/1.1 400"), "\(malformed.output)")
        #expect(try p.request("/echo").status == 200, "the proxy survives")
        await p.stop()
    }

    @Test func aCrashedReplicaCostsNoRequest() async throws {
        let p = try await ProxyHarness()
        let victim = try #require(await p.harness.instance("api.1")?.pid)
        let script = """
            import http.client, os, signal, sys
            failures = 0; seen = set()
            for i in range(300):
                if i == 50: os.killpg(\(victim), signal.SIGKILL)
                c = http.client.HTTPConnection("127.0.0.1", \(p.proxy.port), timeout=10)
                c.request("GET", "/echo", headers={"Host": "api.shop.localhost"})
                r = c.getresponse(); r.read()
                if r.status != 200: failures += 1
                seen.add(r.getheader("X-Instance")); c.close()
            print(failures, sorted(x for x in seen if x))
            """
        let output = try run(["python3", "-c", script]).output
        #expect(output.hasPrefix("0 "), "failed GETs: \(output)")
        await p.stop()
    }

    @Test(arguments: [Transport.http1, .http2])
    func noHealthyInstanceWaitsThenAnswers503WithTheState(transport: Transport) async throws {
        var settings = ProxyContext.Settings()
        settings.waitForHealthy = .milliseconds(800)
        let p = try await ProxyHarness(replicas: 1, settings: settings, transport: transport)
        try p.harness.project.write("DOWN", "")
        #expect(await p.harness.waitFor("api.1 unhealthy"))
        let response = try p.request("/echo", args: ["-H", "Accept: application/json"])
        #expect(response.status == 503)
        let body = try echoed(response.body)
        #expect(body["service"] as? String == "api")
        #expect((body["state"] as? String)?.contains("api.1") == true)
        #expect(body["last_lines"] as? [String] == ["last line of api"])
        await p.stop()
    }

    @Test func aRouteChangeUnderLoadFailsNoRequest() async throws {
        let p = try await ProxyHarness()
        let load = Task.detached {
            try run([
                "python3", "-c",
                """
                import http.client
                failures = 0
                for i in range(400):
                    c = http.client.HTTPConnection("127.0.0.1", \(p.proxy.port), timeout=10)
                    c.request("GET", "/echo", headers={"Host": "api.shop.localhost"})
                    r = c.getresponse(); r.read(); c.close()
                    if r.status != 200: failures += 1
                print(failures)
                """,
            ]).output
        }
        for round in 0..<20 {
            // Swap the whole table: add and drop an extra host while api stays.
            var routes = ProxyRoutes.routes(for: p.harness.manifest)
            if round % 2 == 0 { routes.append(.init(host: "extra.shop.localhost", target: .service("api", rewriteHost: true))) }
            p.routes.replace(with: routes)
            try await Task.sleep(for: .milliseconds(20))
        }
        let failures = try await load.value
        #expect(failures.trimmingCharacters(in: .whitespacesAndNewlines) == "0")
        await p.stop()
    }

    /// A standalone route may name its target by host name: NIO resolves it and may try several
    /// addresses, each on a channel of its own with its own upstream handler.
    @Test(arguments: [Transport.http1, .http2])
    func aTargetNamedByHostNameIsReached(transport: Transport) async throws {
        let p = try await ProxyHarness(replicas: 1, transport: transport)
        let endpoint = try #require(p.harness.supervisor.routes.healthy("api").first)
        var routes = ProxyRoutes.routes(for: p.harness.manifest)
        routes.append(.init(host: "byname.shop.localhost", target: .address(host: "localhost", port: endpoint.port)))
        p.routes.replace(with: routes)
        // The first request opens the upstream connection; the next ones may reuse it.
        for _ in 0..<3 {
            let response = try p.request("/echo/by-name", host: "byname.shop.localhost")
            #expect(response.status == 200, "\(response.body)")
            #expect(try echoed(response.body)["path"] as? String == "/echo/by-name")
        }
        await p.stop()
    }

    @Test(arguments: [Transport.http1, .http2])
    func builtInEndpointsLiveUnderTheReservedPrefix(transport: Transport) async throws {
        let p = try await ProxyHarness(transport: transport)
        _ = try p.request("/echo")
        let health = try p.request("/_devhost/health")
        #expect(health.status == 200 && health.body.contains("\"service\": \"api\""))
        let metrics = try p.request("/_devhost/metrics")
        #expect(metrics.body.contains("devhost_proxy_requests_total{route=\"api\",status=\"200\"}"))
        #expect(try p.request("/healthz").status == 200, "the application's own /healthz is not hidden")
        await p.stop()
    }
}
