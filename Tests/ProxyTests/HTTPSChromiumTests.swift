import DevhostTestSupport
import Foundation
import Testing

/// A page and a real WebSocket echo server (RFC 6455, Python's standard library only): GET /
/// answers a small HTML page, GET /ws with `Upgrade: websocket` completes the handshake and echoes
/// every text or binary message until a close. Its port is written to `port`.
let webSocketEchoScript = #"""
    import base64, hashlib, os, struct
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    def read_exact(sock, n):
        data = b""
        while len(data) < n:
            chunk = sock.recv(n - len(data))
            if not chunk:
                raise EOFError
            data += chunk
        return data

    def frame(opcode, payload):
        head = bytes([0x80 | opcode])
        if len(payload) < 126:
            head += bytes([len(payload)])
        elif len(payload) < 1 << 16:
            head += bytes([126]) + struct.pack("!H", len(payload))
        else:
            head += bytes([127]) + struct.pack("!Q", len(payload))
        return head + payload

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        def log_message(self, *args): pass

        def do_GET(self):
            if self.path == "/ws" and self.headers.get("Upgrade", "").lower() == "websocket":
                return self.echo()
            body = b"<!doctype html><title>devhost https</title><p>served through the proxy</p>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def echo(self):
            key = self.headers["Sec-WebSocket-Key"]
            accept = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
            self.send_response(101)
            self.send_header("Upgrade", "websocket")
            self.send_header("Connection", "Upgrade")
            self.send_header("Sec-WebSocket-Accept", accept)
            self.end_headers()
            self.wfile.flush()
            sock = self.connection
            try:
                while True:
                    first, second = read_exact(sock, 2)
                    opcode, length = first & 0x0F, second & 0x7F
                    if length == 126:
                        length = struct.unpack("!H", read_exact(sock, 2))[0]
                    elif length == 127:
                        length = struct.unpack("!Q", read_exact(sock, 8))[0]
                    mask = read_exact(sock, 4) if second & 0x80 else b"\0\0\0\0"
                    payload = bytes(b ^ mask[i % 4] for i, b in enumerate(read_exact(sock, length)))
                    if opcode == 8:
                        sock.sendall(frame(8, payload[:2]))
                        break
                    if opcode == 9:
                        sock.sendall(frame(10, payload))
                    elif opcode in (1, 2):
                        sock.sendall(frame(opcode, payload))
            except (EOFError, ConnectionError):
                pass
            self.close_connection = True

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    with open("port.tmp", "w") as f: f.write(str(server.server_address[1]))
    os.rename("port.tmp", "port")
    server.serve_forever()
    """#

/// Headless Chromium against the HTTPS listener, trusting devhost's CA through a fresh NSS
/// database (Tests/Scripts/https_check.py): what a developer's browser sees once `devhost trust`
/// has run, and what it sees before.
@Suite struct HTTPSChromiumTests {
    /// https_check.py's JSON, with Chromium's HOME (and NSS database) in a temporary folder.
    func check(_ h: HTTPSHarness, trusting ca: String?) throws -> [String: Any] {
        let home = try TempProject()
        let script = repositoryRoot.appendingPathComponent("Tests/Scripts/https_check.py").path
        let result = try run(
            ["python3", script, "--url", "https://api.localhost:\(h.securePort)/", "--home", home.path, "--timeout", "45"]
                + (ca.map { ["--ca", $0] } ?? []))
        #expect(result.status == 0, "\(result.output)")
        let json = result.output.split(separator: "\n").last { $0.hasPrefix("{") }.map(String.init) ?? ""
        return try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any], "\(result.output)")
    }

    @Test func chromiumTrustingTheCALoadsTheRouteOverHTTP2AndItsWebSocketEchoes() async throws {
        try await HTTPSHarness.with(upstream: webSocketEchoScript) { h in
            let page = try check(h, trusting: h.ca)
            #expect(page["navigation_error"] == nil, "\(page)")
            #expect((page["nssdb"] as? String)?.contains("devhost test CA") == true, "\(page)")
            #expect(page["scheme"] as? String == "https:", "\(page)")
            #expect(page["text"] as? String == "served through the proxy", "\(page)")
            #expect(page["secure"] as? Bool == true, "\(page)")
            #expect(page["protocol"] as? String == "h2", "\(page)")
            #expect((page["websocket"] as? [String: String])?["echo"] == "hello over wss", "\(page)")
            // The proxy advertises SETTINGS_ENABLE_CONNECT_PROTOCOL, so Chromium opens the WebSocket
            // as a stream of the page's HTTP/2 connection (RFC 8441: 200), not a connection of its
            // own (HTTP/1.1: 101).
            #expect(page["websocket_statuses"] as? [Int] == [200], "\(page)")
            #expect((page["console_errors"] as? [Any])?.isEmpty == true, "\(page)")
        }
    }

    /// hyper-h2 as the client (Tests/Scripts/h2_websocket.py): the server's SETTINGS offer
    /// extended CONNECT, the stream's CONNECT with `:protocol: websocket` reaches the upstream as an
    /// HTTP/1.1 upgrade, its 101 comes back as a 200 without the accept value, messages echo as DATA,
    /// and a close frame with END_STREAM ends the stream from both sides.
    @Test func aWebSocketOverAnHTTP2StreamEchoesThroughTheUpgradeUpstream() async throws {
        try await HTTPSHarness.with(upstream: webSocketEchoScript) { h in
            let script = repositoryRoot.appendingPathComponent("Tests/Scripts/h2_websocket.py").path
            let result = try run(
                [
                    "python3", script, "api.localhost", String(h.securePort), h.ca, "/ws", "hello over h2",
                    String(repeating: "x", count: 300),
                ])
            #expect(result.status == 0, "\(result.output)")
            let json = result.output.split(separator: "\n").last { $0.hasPrefix("{") }.map(String.init) ?? ""
            let seen = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any], "\(result.output)")
            #expect(seen["alpn"] as? String == "h2", "\(seen)")
            #expect(seen["enable_connect_protocol"] as? Int == 1, "\(seen)")
            #expect(seen["status"] as? String == "200", "\(seen)")
            let headers = seen["headers"] as? [String: String] ?? [:]
            #expect(headers["sec-websocket-accept"] == nil && headers["upgrade"] == nil && headers["connection"] == nil, "\(seen)")
            #expect(seen["echoes"] as? [String] == ["hello over h2", String(repeating: "x", count: 300)], "\(seen)")
            #expect(seen["stream_ended"] as? Bool == true, "\(seen)")
            #expect(seen["reset"] == nil, "\(seen)")
        }
    }

    /// A `:protocol` other than websocket is refused (the stream is reset), and the proxy goes on
    /// serving the connection's other streams.
    @Test func anExtendedConnectForAnotherProtocolIsReset() async throws {
        try await HTTPSHarness.with(upstream: webSocketEchoScript) { h in
            let output = try run([
                "python3", "-c", Self.otherProtocolScript, "api.localhost", String(h.securePort), h.ca,
            ]).output
            #expect(output.contains("reset") && output.contains("then 200"), "\(output)")
        }
    }

    static let otherProtocolScript = #"""
        import socket, ssl, sys
        import h2.connection, h2.config, h2.events
        host, port, ca = sys.argv[1], int(sys.argv[2]), sys.argv[3]
        context = ssl.create_default_context(cafile=ca)
        context.set_alpn_protocols(["h2"])
        sock = context.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10), server_hostname=host)
        conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=True))
        conn.initiate_connection()
        conn.send_headers(1, [(":method", "CONNECT"), (":protocol", "chat"), (":scheme", "https"), (":path", "/ws"), (":authority", host)])
        sock.sendall(conn.data_to_send())
        out = []
        for _ in range(200):
            for event in conn.receive_data(sock.recv(65536)):
                if isinstance(event, h2.events.StreamReset) and event.stream_id == 1:
                    out.append("reset")
                    conn.send_headers(3, [(":method", "GET"), (":scheme", "https"), (":path", "/"), (":authority", host)], end_stream=True)
                if isinstance(event, h2.events.ResponseReceived) and event.stream_id == 3:
                    out.append("then " + dict(event.headers)[b":status"].decode())
            sock.sendall(conn.data_to_send())
            if len(out) == 2:
                break
        print(" ".join(out))
        """#

    @Test func chromiumWithoutTheCARefusesTheCertificate() async throws {
        try await HTTPSHarness.with(upstream: webSocketEchoScript) { h in
            let page = try check(h, trusting: nil)
            #expect((page["navigation_error"] as? String)?.hasPrefix("net::ERR_CERT_AUTHORITY_INVALID") == true, "\(page)")
        }
    }
}
