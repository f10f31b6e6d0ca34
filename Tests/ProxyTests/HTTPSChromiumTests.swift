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
            // The proxy does not advertise SETTINGS_ENABLE_CONNECT_PROTOCOL, so Chromium opens the
            // WebSocket on an HTTP/1.1 connection of its own (101), not as an HTTP/2 stream (200).
            #expect(page["websocket_statuses"] as? [Int] == [101], "\(page)")
            #expect((page["console_errors"] as? [Any])?.isEmpty == true, "\(page)")
        }
    }

    @Test func chromiumWithoutTheCARefusesTheCertificate() async throws {
        try await HTTPSHarness.with(upstream: webSocketEchoScript) { h in
            let page = try check(h, trusting: nil)
            #expect((page["navigation_error"] as? String)?.hasPrefix("net::ERR_CERT_AUTHORITY_INVALID") == true, "\(page)")
        }
    }
}
