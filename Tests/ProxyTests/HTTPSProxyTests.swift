import DevhostManifest
import DevhostProxy
import DevhostTestSupport
import Foundation
import NIOPosix
import Testing

/// The HTTPS listener against real clients: curl (HTTP/1.1 and HTTP/2), Python's ssl and urllib,
/// and a raw TLS socket for WebSocket, through the proxy to a real Python upstream, with a CA made
/// in a temporary folder. Everything on loopback ports the OS chose.
@Suite(.serialized) struct HTTPSProxyTests {
    @Test func curlOverHTTP11GetsTheRightCertificateAndForwardedHTTPS() async throws {
        try await HTTPSHarness.with { h in
            let result = try h.curl(["--http1.1", "-v"], path: "/echo")
            #expect(result.status == 0, "\(result.output)")
            #expect(result.output.contains("HTTP_VERSION 1.1 STATUS 200"), "\(result.output)")
            #expect(result.output.contains("matched cert's \"api.localhost\""), "\(result.output)")
            #expect(result.output.contains("ALPN: server accepted http/1.1"), "\(result.output)")
            let echo = try HTTPSHarness.echo(result.output)
            #expect(echo.header("x-forwarded-proto") == "https")
            #expect(echo.header("forwarded")?.hasSuffix("proto=https") == true, "\(echo.headers)")
            #expect(echo.header("x-request-id") != nil)
            // The plain listener on the same context still says http.
            let plain = try run(["curl", "-sS", "-H", "Host: api.localhost", "http://127.0.0.1:\(h.plain.port)/echo"])
            #expect(try HTTPSHarness.echo(plain.output).header("x-forwarded-proto") == "http")
            #expect(try HTTPSHarness.echo(plain.output).header("forwarded")?.hasSuffix("proto=http") == true)
        }
    }

    @Test func curlOverHTTP2GetsTheSameAnswers() async throws {
        try await HTTPSHarness.with { h in
            let get = try h.curl(["--http2", "-v"], path: "/echo?x=1")
            #expect(get.status == 0, "\(get.output)")
            #expect(get.output.contains("HTTP_VERSION 2 STATUS 200"), "\(get.output)")
            #expect(get.output.contains("ALPN: server accepted h2"), "\(get.output)")
            #expect(get.output.contains("matched cert's \"api.localhost\""), "\(get.output)")
            let echo = try HTTPSHarness.echo(get.output)
            #expect(echo.path == "/echo?x=1")
            #expect(echo.header("x-forwarded-proto") == "https")
            #expect(echo.header("host") == "api.localhost:\(h.securePort)")

            // A body with a length, and one without (read from a pipe: the stream is chunked upstream).
            let post = try h.curl(["--http2", "--data-binary", "hello over h2"], path: "/echo")
            #expect(try HTTPSHarness.echo(post.output).body == "hello over h2", "\(post.output)")
            let piped = try run([
                "sh", "-c",
                "printf 'piped body' | curl -sS --cacert \(h.ca) --resolve api.localhost:\(h.securePort):127.0.0.1 --http2 -T - "
                    + "-w '\\nHTTP_VERSION %{http_version} STATUS %{http_code}' https://api.localhost:\(h.securePort)/echo",
            ])
            #expect(piped.output.contains("HTTP_VERSION 2 STATUS 200"), "\(piped.output)")
            let pipedEcho = try HTTPSHarness.echo(piped.output)
            #expect(pipedEcho.body == "piped body")
            #expect(pipedEcho.header("transfer-encoding") == "chunked")

            // A chunked response loses its framing; HEAD gets the length and no body; a close-delimited
            // body ends the stream.
            let chunked = try h.curl(["--http2"], path: "/chunked")
            #expect(chunked.output.hasPrefix("hello world\n\nHTTP_VERSION 2 STATUS 200"), "\(chunked.output)")
            let head = try h.curl(["--http2", "-I"], path: "/echo")
            #expect(head.output.contains("HTTP/2 200"), "\(head.output)")
            #expect(head.output.lowercased().contains("content-length:"), "\(head.output)")
            let closing = try h.curl(["--http2"], path: "/until-close")
            #expect(closing.output.hasPrefix("until the end\n\nHTTP_VERSION 2 STATUS 200"), "\(closing.output)")

            // devhost's own answers come through the same bridge.
            let missing = try h.curl(["--http2"], path: "/", host: "nothing.localhost")
            #expect(missing.output.contains("HTTP_VERSION 2 STATUS 404"), "\(missing.output)")
        }
    }

    /// HTTP/2 with prior knowledge on the plain listener (what gRPC's insecure channels speak): the
    /// preface opens an HTTP/2 connection with the same streams as over TLS, forwarding fields say
    /// `http`, and several streams share the connection; HTTP/1.1 on the same port is untouched and
    /// a preface after an HTTP/1.1 request is a malformed request, not a switch.
    @Test func http2WithPriorKnowledgeOnThePlainPort() async throws {
        try await HTTPSHarness.with { h in
            let url = "http://127.0.0.1:\(h.plain.port)/echo"
            let get = try run([
                "curl", "-sS", "-v", "--http2-prior-knowledge", "-H", "Host: api.localhost", "-w",
                "\nHTTP_VERSION %{http_version} STATUS %{http_code}",
                url,
            ])
            #expect(get.output.contains("HTTP_VERSION 2 STATUS 200"), "\(get.output)")
            let echo = try HTTPSHarness.echo(get.output)
            #expect(echo.header("x-forwarded-proto") == "http", "\(echo.headers)")
            #expect(echo.header("forwarded")?.hasSuffix("proto=http") == true, "\(echo.headers)")
            let post = try run([
                "curl", "-sS", "--http2-prior-knowledge", "-H", "Host: api.localhost", "--data-binary", "over h2c", url,
            ])
            #expect(try HTTPSHarness.echo(post.output).body == "over h2c", "\(post.output)")
            // nghttp's frames: three streams on one connection, each answered.
            let many = try run(["nghttp", "-n", "-v", "-H", ":authority: api.localhost", url, url + "?2", url + "?3"])
            #expect(many.output.components(separatedBy: ":status: 200").count - 1 == 3, "\(many.output)")
            let plain = try run(["curl", "-sS", "--http1.1", "-H", "Host: api.localhost", "-w", "\nSTATUS %{http_code}", url])
            #expect(plain.output.contains("STATUS 200"), "\(plain.output)")
            let after = try run([
                "python3", "-c",
                """
                import socket, sys
                s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
                s.sendall(b"GET /echo HTTP/1.1\\r\\nHost: api.localhost\\r\\n\\r\\nPRI * HTTP/2.0\\r\\n\\r\\nSM\\r\\n\\r\\n")
                data = b""
                while b"HTTP/1.1 400" not in data:
                    chunk = s.recv(65536)
                    if not chunk: break
                    data += chunk
                print(data.decode(errors="replace").count("HTTP/1.1 200"), "then", "HTTP/1.1 400" in data.decode(errors="replace"))
                """,
                String(h.plain.port),
            ])
            #expect(after.output.contains("1 then True"), "\(after.output)")
        }
    }

    @Test func withoutTheCACurlRefusesTheCertificate() async throws {
        try await HTTPSHarness.with { h in
            let result = try run([
                "curl", "-sS", "--resolve", "api.localhost:\(h.securePort):127.0.0.1", "https://api.localhost:\(h.securePort)/echo",
            ])
            #expect(result.status == 60, "\(result.output)")
            #expect(result.output.contains("unable to get local issuer certificate"), "\(result.output)")
        }
    }

    @Test func pythonTrustsTheRouteWithTheCA() async throws {
        try await HTTPSHarness.with { h in
            let script = """
                import json, ssl, sys, urllib.request
                context = ssl.create_default_context(cafile=sys.argv[1])
                request = urllib.request.Request("https://localhost:" + sys.argv[2] + "/echo", headers={"Host": "api.localhost"})
                with urllib.request.urlopen(request, context=context, timeout=10) as response:
                    body = json.load(response)
                    print(response.status, dict(body["headers"])["x-forwarded-proto"])
                try:
                    urllib.request.urlopen("https://localhost:" + sys.argv[2] + "/echo", context=ssl.create_default_context(), timeout=10)
                except urllib.error.URLError as error:
                    print("refused without the CA:", isinstance(error.reason, ssl.SSLCertVerificationError))
                """
            let result = try run(["python3", "-c", script, h.ca, String(h.securePort)])
            #expect(result.output.contains("200 https"), "\(result.output)")
            #expect(result.output.contains("refused without the CA: True"), "\(result.output)")
        }
    }

    @Test func serverSentEventsStreamOverHTTP2() async throws {
        try await HTTPSHarness.with { h in
            let client = try ChildProcess(argv: [
                "curl", "-sS", "-N", "--http2", "--cacert", h.ca, "--resolve", "api.localhost:\(h.securePort):127.0.0.1",
                "-w", "\nHTTP_VERSION %{http_version}", "https://api.localhost:\(h.securePort)/sse",
            ])
            defer { client.stop() }
            // The upstream holds the second event until `release` exists: the first must arrive alone.
            let first = await eventually(timeout: .seconds(10)) { client.output.contains("data: first") }
            #expect(first, "\(client.output)")
            #expect(!client.output.contains("data: second"))
            #expect(client.isRunning)
            try h.folder.write("release", "")
            #expect(client.wait() == 0)
            #expect(client.output.contains("data: second"), "\(client.output)")
            #expect(client.output.contains("HTTP_VERSION 2"), "\(client.output)")
        }
    }

    @Test func webSocketOverTLSRelaysBothWays() async throws {
        try await HTTPSHarness.with { h in
            let script = """
                import socket, ssl, sys
                context = ssl.create_default_context(cafile=sys.argv[1])
                context.set_alpn_protocols(["http/1.1"])
                raw = socket.create_connection(("127.0.0.1", int(sys.argv[2])), timeout=10)
                s = context.wrap_socket(raw, server_hostname="api.localhost")
                s.sendall(b"GET /ws HTTP/1.1\\r\\nHost: api.localhost\\r\\nConnection: Upgrade\\r\\nUpgrade: websocket\\r\\n\\r\\n")
                data = b""
                while b"\\r\\n\\r\\n" not in data:
                    data += s.recv(4096)
                head, _, rest = data.partition(b"\\r\\n\\r\\n")
                print(head.split(b"\\r\\n")[0].decode())
                s.sendall(b"ping over tls")
                while len(rest) < 13:
                    rest += s.recv(4096)
                print("echo:", rest.decode())
                """
            let result = try run(["python3", "-c", script, h.ca, String(h.securePort)])
            #expect(result.output.contains("HTTP/1.1 101"), "\(result.output)")
            #expect(result.output.contains("echo: ping over tls"), "\(result.output)")
        }
    }

    @Test func preferRedirectsBrowserNavigationsOnlyOnceAsked() async throws {
        try await HTTPSHarness.with { h in
            let url = "http://127.0.0.1:\(h.plain.port)/echo?q=1"
            let html = ["-H", "Accept: text/html,application/xhtml+xml,*/*;q=0.8"]
            func answer(_ options: [String]) throws -> String {
                try run(
                    ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}", "-H", "Host: api.localhost"] + options + [url]
                )
                .output
            }
            // Not yet trusted (nothing asked for redirects): served over HTTP.
            let before = try answer(html)
            #expect(before == "200 ")
            h.plain.context.redirectBrowsers(toHTTPSPort: h.securePort)
            let after = try answer(html)
            #expect(after == "307 https://api.localhost:\(h.securePort)/echo?q=1")
            // API clients never: another Accept, no Accept, another method.
            let json = try answer(["-H", "Accept: application/json"])
            let none = try answer([])
            let post = try answer(html + ["--data-binary", "x"])
            #expect([json, none, post] == ["200 ", "200 ", "200 "])
            // A host whose project keeps HTTP (`proxy.https: both` or `off`, at the shared edge) is
            // served as it is.
            let routes = h.plain.context.routes
            let api = try #require(routes.all.first)
            routes.replace(with: routes.all + [.init(host: "keep.localhost", target: api.target, keepsHTTP: true)])
            let kept = try run(
                ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}", "-H", "Host: keep.localhost"] + html + [url])
            #expect(kept.output == "200 ", "\(kept.output)")
            #expect(try answer(html) == after)
            // The HTTPS listener itself answers.
            let secure = try h.curl(["-H", "Accept: text/html"], path: "/echo")
            #expect(secure.output.contains("STATUS 200"))
        }
    }

    @Test func aNameOutsideTheCAIsRefusedAtTheHandshake() async throws {
        try await HTTPSHarness.with { h in
            let result = try run([
                "curl", "-sS", "--cacert", h.ca, "--resolve", "www.example.com:\(h.securePort):127.0.0.1",
                "https://www.example.com:\(h.securePort)/",
            ])
            #expect(result.status == 35, "\(result.output)")
            let logged = await eventually(timeout: .seconds(5)) { h.terminal.lines.contains { $0.contains("TLS handshake refused") } }
            #expect(logged, "\(h.terminal.lines)")
            let line = h.terminal.lines.first { $0.contains("TLS handshake refused") } ?? ""
            #expect(line.contains("www.example.com") && line.contains("outside"), "\(line)")
            // Refused again at once: no second line (one per name per minute, RefusalLogLimiterTests).
            let again = try run([
                "curl", "-sS", "--cacert", h.ca, "--resolve", "www.example.com:\(h.securePort):127.0.0.1",
                "https://www.example.com:\(h.securePort)/",
            ])
            #expect(again.status == 35, "\(again.output)")
            // The listener still serves names inside.
            #expect(try h.curl(["--http2"], path: "/echo").output.contains("STATUS 200"))
            #expect(h.terminal.lines.filter { $0.contains("TLS handshake refused") }.count == 1, "\(h.terminal.lines)")
        }
    }
}
