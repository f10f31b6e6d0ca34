import DevhostManifest
import DevhostProxy
import DevhostTestSupport
import Foundation
import NIOPosix
import Testing

@testable import DevhostRuntime

/// A Python upstream that answers with what reached it: `/mirror…` JSON of the method, raw target,
/// headers and body (as text); `/slow?s=S` after S seconds; `/sse` three events 300 ms apart
/// (chunked); `/big?n=N` N bytes; `/cookie` a Set-Cookie; `/status/N` status N; `/healthz`.
let mirrorUpstreamScript = #"""
    import json, os, time
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        def log_message(self, *a): pass
        def answer(self, status, body, ctype="application/json", extra=()):
            data = body.encode() if isinstance(body, str) else body
            self.send_response(status); self.send_header("Content-Type", ctype); self.send_header("Content-Length", str(len(data)))
            for k, v in extra: self.send_header(k, v)
            self.end_headers(); self.wfile.write(data)
        def handle_any(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = b""
            while len(body) < length:
                chunk = self.rfile.read(min(1 << 20, length - len(body)))
                if not chunk: break
                body += chunk
            p = self.path
            if p.startswith("/mirror"):
                return self.answer(200, json.dumps({"method": self.command, "target": p, "headers": [[k, v] for k, v in self.headers.items()],
                                                    "body": body.decode("latin-1"), "size": len(body)}))
            if p.startswith("/slow"):
                time.sleep(float(p.split("s=")[1])); return self.answer(200, "slow", "text/plain")
            if p.startswith("/status/"):
                return self.answer(int(p.split("/")[2]), "{}")
            if p == "/cookie":
                return self.answer(200, "{}", extra=[("Set-Cookie", "session=s3cret-cookie")])
            if p == "/sse":
                self.send_response(200); self.send_header("Content-Type", "text/event-stream"); self.send_header("Transfer-Encoding", "chunked"); self.end_headers()
                for i in range(3):
                    chunk = ("data: event %d\n\n" % i).encode()
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk)); self.wfile.flush(); time.sleep(0.3)
                self.wfile.write(b"0\r\n\r\n"); self.wfile.flush(); return
            if p.startswith("/big"):
                n = int(p.split("n=")[1]); self.send_response(200); self.send_header("Content-Length", str(n)); self.end_headers()
                while n:
                    k = min(n, 65536); self.wfile.write(b"x" * k); n -= k
                return
            self.answer(200, "{}")
        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = handle_any

    ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
    """#

/// The mirror upstream behind a real proxy that records exchanges.
final class InspectorHarness: @unchecked Sendable {
    let harness: Harness
    let inspector = Inspector()
    var proxy: ProxyServer!
    var context: ProxyContext!

    init() async throws {
        harness = try Harness(
            """
            name: shop
            services:
              api:
                command: python3 upstream.py
                route: api
                health: { http: /healthz, interval: 100ms, retries: 1 }
            """, files: ["upstream.py": mirrorUpstreamScript])
        try await harness.start()
        #expect(await harness.waitFor("all services are up"))
        var settings = ProxyContext.Settings()
        settings.accessLog = .off
        let context = ProxyContext(
            routes: ProxyRoutes(ProxyRoutes.routes(for: harness.manifest)), instances: harness.supervisor.routes, settings: settings,
            inspector: inspector)
        self.context = context
        proxy = try await ProxyServer.start(host: "127.0.0.1", port: 0, context: context, group: MultiThreadedEventLoopGroup.singleton)
    }

    var base: String { "http://127.0.0.1:\(proxy.port)" }

    func curl(_ path: String, _ args: [String] = []) throws -> String {
        try run(["curl", "-s", "--max-time", "20", "-H", "Host: api.shop.localhost"] + args + [base + path]).output
    }

    func stop() async {
        await proxy.close()
        await harness.stop()
    }
}

@Suite(.serialized) struct InspectorTests {
    @Test func requestsAppearInOrderWithTimingsAndMaskedSecrets() async throws {
        let p = try await InspectorHarness()
        _ = try p.curl(
            "/plain/one", ["-H", "Authorization: Bearer s3cret-token", "-H", "Cookie: id=s3cret-cookie", "-H", "X-Plain: visible"])
        _ = try p.curl("/slow?s=0.3")
        _ = try p.curl("/plain/form", ["-H", "Proxy-Authorization: Basic s3cret-proxy", "--data", "a=1&b=two"])
        _ = try p.curl("/cookie")
        let list = await p.inspector.requests()
        #expect(list.map(\.target) == ["/plain/one", "/slow?s=0.3", "/plain/form", "/cookie"])
        #expect(list.map(\.method) == ["GET", "GET", "POST", "GET"])
        #expect(zip(list, list.dropFirst()).allSatisfy { $0.id < $1.id })
        #expect(list.allSatisfy { $0.status == 200 && $0.state == .complete && $0.service == "api" && $0.instance == "api.1" })
        #expect(list.allSatisfy { $0.host == "api.shop.localhost" && !$0.requestID.isEmpty })
        let slow = list[1]
        let (wait, first, total) = (slow.upstreamWaitMilliseconds ?? -1, slow.firstByteMilliseconds ?? -1, slow.totalMilliseconds ?? -1)
        #expect(wait >= 0 && wait < 100, "the upstream was ready: \(wait) ms")
        #expect(first >= 300 && first < 1500 && total >= first && total < 1500, "\(wait) \(first) \(total)")
        #expect(list[0].totalMilliseconds ?? 1000 < 300)
        let form = list[2]
        #expect(form.requestBody == Array("a=1&b=two".utf8) && form.requestBodySize == 9 && !form.requestBodyTruncated)
        #expect(form.responseBody == Array("{}".utf8) && form.responseBodySize == 2)

        let masked = list.map { $0.detailJSON(masked: true).serialized() }.joined()
        for secret in ["s3cret-token", "s3cret-cookie", "s3cret-proxy"] { #expect(!masked.contains(secret), "\(secret) shown masked") }
        #expect(masked.contains(Inspector.mask) && masked.contains("visible"))
        let shown = list.map { $0.detailJSON(masked: false).serialized() }.joined()
        for secret in ["Bearer s3cret-token", "id=s3cret-cookie", "Basic s3cret-proxy", "session=s3cret-cookie"] {
            #expect(shown.contains(secret), "\(secret) shown unmasked")
        }
        // A text search does not look into secrets.
        #expect(!RequestFilter(text: "s3cret-token").matches(list[0]))
        #expect(RequestFilter(text: "VISIBLE").matches(list[0]))
        await p.stop()
    }

    @Test func theBodyCapHoldsForAnUploadADownloadAndAnSSEStream() async throws {
        let p = try await InspectorHarness()
        let file = p.harness.project.file("upload.bin")
        try Data(repeating: UInt8(ascii: "u"), count: 10 << 20).write(to: URL(fileURLWithPath: file))
        let upload = try p.curl("/mirror/up", ["--data-binary", "@" + file, "-H", "Content-Type: application/octet-stream"])
        #expect(upload.contains("\"size\": \(10 << 20)"))
        let download = try run([
            "curl", "-s", "-o", "/dev/null", "-w", "%{size_download}", "-H", "Host: api.shop.localhost", p.base + "/big?n=\(10 << 20)",
        ])
        #expect(download.output == String(10 << 20))
        // The stream reaches the client event by event while it is recorded.
        let script = """
            import socket, time
            s = socket.create_connection(("127.0.0.1", \(p.proxy.port)))
            # The head's last field is the request's id, this one ending in "0" like a random one does
            # one time in sixteen: the terminal chunk is looked for in the body only.
            s.sendall(b"GET /sse HTTP/1.1\\r\\nHost: api.shop.localhost\\r\\nX-Request-ID: sse-10\\r\\n\\r\\n")
            start = time.time(); data = b""; first = None
            while b"\\r\\n0\\r\\n\\r\\n" not in data.partition(b"\\r\\n\\r\\n")[2]:
                chunk = s.recv(4096)
                if not chunk: break
                data += chunk
                if first is None and b"event 0" in data: first = time.time() - start
            print("%.3f %.3f" % (first, time.time() - start))
            """
        let times = try run(["python3", "-c", script]).output.split(separator: " ").compactMap {
            Double($0.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        #expect(times.count == 2 && times[1] - times[0] >= 0.45 && times[1] >= 0.55, "\(times)")
        let list = await p.inspector.requests()
        try #require(list.count == 3)
        let limit = p.inspector.limits.bodyBytes
        #expect(list[0].requestBodySize == 10 << 20 && list[0].requestBody.count == limit && list[0].requestBodyTruncated)
        #expect(list[1].responseBodySize == 10 << 20 && list[1].responseBody.count == limit && list[1].responseBodyTruncated)
        #expect(String(decoding: list[2].responseBody, as: UTF8.self) == "data: event 0\n\ndata: event 1\n\ndata: event 2\n\n")
        #expect((list[2].totalMilliseconds ?? 0) >= 550)
        let usage = await p.inspector.usage()
        #expect(usage.reduce(0) { $0 + $1.bytes } < 4 * limit + 64 * 1024)
        await p.stop()
    }

    @Test func replayReachesTheUpstreamWithTheSameRequestOrAnEditedOne() async throws {
        let p = try await InspectorHarness()
        let first = try p.curl(
            "/mirror/orders?x=1",
            [
                "-X", "PUT", "-H", "Authorization: Bearer s3cret", "-H", "X-Trace: t1", "-H", "Content-Type: application/json",
                "--data", #"{"n":1}"#,
            ])
        let original = try #require(await p.inspector.requests().last)
        let again = try await RequestReplay(original, edits: nil, requestID: "replay-a").send(host: "127.0.0.1", port: p.proxy.port)
        #expect(again.status == 200)
        let replayed = try #require(await p.inspector.requests().last)
        #expect(replayed.requestID == "replay-a" && replayed.id > original.id)
        let seen = try Self.mirror(replayed.responseBody)
        let before = try Self.mirror(Array(first.utf8))
        #expect(seen.method == "PUT" && seen.target == "/mirror/orders?x=1" && seen.body == #"{"n":1}"#)
        #expect(seen.method == before.method && seen.target == before.target && seen.body == before.body)
        // Every header the client sent reaches the upstream again; only the request id differs.
        func sent(_ headers: [[String]]) -> [[String]] {
            headers.filter { !["x-request-id", "connection"].contains($0[0].lowercased()) }.sorted { $0[0] < $1[0] }
        }
        #expect(sent(seen.headers) == sent(before.headers))

        let edits = try JSONValue.parse(
            #"{"method":"POST","target":"/mirror/edited","headers":[["Authorization","••••••"],["X-Edited","yes"]],"body":"changed"}"#)
        let edited = try await RequestReplay(original, edits: edits, requestID: "replay-b").send(host: "127.0.0.1", port: p.proxy.port)
        #expect(edited.status == 200)
        let after = try Self.mirror(try #require(await p.inspector.requests().last).responseBody)
        #expect(after.method == "POST" && after.target == "/mirror/edited" && after.body == "changed")
        let names = Dictionary(after.headers.map { ($0[0].lowercased(), $0[1]) }, uniquingKeysWith: { a, _ in a })
        #expect(names["x-edited"] == "yes" && names["x-trace"] == nil)
        #expect(names["authorization"] == "Bearer s3cret", "the mask stands for the recorded value")
        #expect(throws: ReplayError.self) { try RequestReplay(original, edits: try JSONValue.parse(#"{"method":"G ET"}"#), requestID: "x") }
        await p.stop()
    }

    /// A browser's page load over HTTPS, replayed: it goes over TLS to the HTTPS listener as it
    /// came (over plain HTTP the same request is redirected to HTTPS, and the service would see
    /// `proto=http`).
    @Test func anExchangeThatCameOverTLSIsReplayedOverTLS() async throws {
        let p = try await InspectorHarness()
        let data = try TempProject()
        let ca = try #require(LocalCAFiles(environment: ["XDG_DATA_HOME": data.path]))
        let secure = try await ProxyTLS.startListener(
            host: "127.0.0.1", port: 0, context: p.context, group: MultiThreadedEventLoopGroup.singleton,
            environment: ["XDG_DATA_HOME": data.path])
        p.context.redirectBrowsers(toHTTPSPort: secure.port)
        let host = "api.shop.localhost"
        let page = try run([
            "curl", "-s", "--max-time", "10", "--cacert", ca.certificate, "--resolve", "\(host):\(secure.port):127.0.0.1",
            "-H", "Accept: text/html", "https://\(host):\(secure.port)/mirror/page",
        ])
        #expect(page.output.contains("\"/mirror/page\""), "\(page.output)")
        let plain = try p.curl("/mirror/page", ["-o", "/dev/null", "-w", "%{http_code}", "-H", "Accept: text/html"])
        #expect(plain == "307", "a browser's GET over plain HTTP goes to HTTPS")
        let listed = await p.inspector.requests()
        #expect(listed.map(\.secure) == [true, false])
        let original = try #require(listed.first)

        let desk = InspectorDesk.own(
            p.inspector, replay: ReplayTarget(host: "127.0.0.1", port: p.proxy.port, httpsPort: secure.port, ca: ca))
        var query = RequestQuery(.replay)
        query.id = original.id
        let answer = await desk.answer(query)
        #expect(answer.status == 200 && answer.body.contains("\"status\":200"), "\(answer.body)")
        let replayed = try #require(await p.inspector.requests().last)
        #expect(replayed.secure && replayed.status == 200 && replayed.requestID.hasPrefix("replay-\(original.id)-"))
        let seen = try Self.mirror(replayed.responseBody)
        #expect(seen.target == "/mirror/page")
        let forwarded = seen.headers.first { $0[0].lowercased() == "forwarded" }?[1] ?? ""
        #expect(forwarded.contains("proto=https"), "\(seen.headers)")

        // Without an HTTPS listener to go to, the replay goes to the plain one (and meets its redirect).
        let fallback = InspectorDesk.own(p.inspector, replay: ReplayTarget(host: "127.0.0.1", port: p.proxy.port))
        let redirected = await fallback.answer(query)
        #expect(redirected.status == 200 && redirected.body.contains("\"status\":307"), "\(redirected.body)")
        await secure.close()
        await p.stop()
    }

    static func mirror(_ bytes: [UInt8]) throws -> (method: String, target: String, headers: [[String]], body: String) {
        let object = try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
        return (
            object["method"] as? String ?? "", object["target"] as? String ?? "", object["headers"] as? [[String]] ?? [],
            object["body"] as? String ?? ""
        )
    }
}
