/// A Python upstream for proxy tests, on the standard library and h11 (see StrictReader). Paths:
///   /echo        JSON of method, raw path, headers and body length
///   /cookies     two Set-Cookie headers
///   /sse         three events, 300 ms apart, flushed one by one (chunked)
///   /big?n=N     N bytes of 'x', streamed in 64 KiB chunks
///   /slow?s=S    answers after S seconds
///   /status/N    an empty response with status N
///   /upgrade     101 Switching Protocols, then echoes raw bytes back
///   /unframed    1000 bytes without a length, ended by closing the connection
///   /closing     a response with a length after which the upstream closes (Connection: close)
///   /drop-reused answered on a new connection; on a kept-alive one the upstream closes it unanswered
///   /early       413 at once, without reading the request body (the connection stays open)
///   /healthz     200, or 503 while a file named DOWN exists
let proxyUpstreamScript = #"""
    import h11, json, os, sys, time
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    INSTANCE = os.environ.get("DEVHOST_INSTANCE", "0")

    class StrictReader:
        """Everything the proxy sends passes through h11 as well, a strict and independent HTTP/1.1
        parser: what it refuses is appended to h11-errors.txt, which the tests require to be empty."""
        def __init__(self, raw):
            self.raw, self.h11, self.done = raw, h11.Connection(h11.SERVER), False
        def feed(self, data):
            if self.done or not data: return
            try:
                self.h11.receive_data(data)
                while True:
                    event = self.h11.next_event()
                    if event is h11.NEED_DATA or event is h11.PAUSED: return
                    if isinstance(event, h11.Request) and any(k == b"upgrade" for k, _ in event.headers):
                        self.done = True; return  # raw bytes follow a protocol switch
                    if isinstance(event, h11.EndOfMessage):
                        # h11 needs an answer of its own before it reads the next request.
                        self.h11.send(h11.Response(status_code=200, headers=[("Content-Length", "0")]))
                        self.h11.send(h11.EndOfMessage())
                        if self.h11.their_state is h11.MUST_CLOSE:
                            self.done = True; return  # the request asked to close (health probes do)
                        self.h11.start_next_cycle()
            except h11.ProtocolError as error:
                self.done = True
                with open("h11-errors.txt", "a") as f: f.write("%r: %s\n" % (bytes(self.h11.trailing_data[0])[:200], error))
        def read(self, *a):
            data = self.raw.read(*a); self.feed(data); return data
        def readline(self, *a):
            data = self.raw.readline(*a); self.feed(data); return data
        def __getattr__(self, name):
            return getattr(self.raw, name)

    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        def log_message(self, *a): pass
        def setup(self):
            super().setup()
            self.rfile = StrictReader(self.rfile)

        def send_body(self, status, body, ctype="application/json", extra=()):
            data = body.encode() if isinstance(body, str) else body
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("X-Instance", INSTANCE)
            for k, v in extra: self.send_header(k, v)
            self.end_headers()
            if self.command != "HEAD": self.wfile.write(data)

        def body(self):
            length = int(self.headers.get("Content-Length") or 0)
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                total = 0
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""): pass
                        break
                    total += len(self.rfile.read(size)); self.rfile.readline()
                return total
            return len(self.rfile.read(length)) if length else 0

        def handle_any(self):
            path = self.path
            self.served = getattr(self, "served", 0) + 1
            if path == "/early":
                return self.send_body(413, "too large", "text/plain")
            if path == "/drop-reused":
                if self.served > 1:
                    self.close_connection = True; return
                return self.send_body(200, "fresh", "text/plain")
            if path == "/healthz":
                return self.send_body(503 if os.path.exists("DOWN") else 200, "{}")
            if path.startswith("/echo") or path.startswith("/a%2F"):
                n = self.body()
                return self.send_body(200, json.dumps({"method": self.command, "path": path, "headers": [[k, v] for k, v in self.headers.items()], "body": n, "instance": INSTANCE}))
            if path == "/cookies":
                return self.send_body(200, "ok", "text/plain", [("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")])
            if path == "/sse":
                self.send_response(200); self.send_header("Content-Type", "text/event-stream"); self.send_header("Transfer-Encoding", "chunked"); self.end_headers()
                for i in range(3):
                    chunk = ("data: event %d\n\n" % i).encode()
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk)); self.wfile.flush(); time.sleep(0.3)
                self.wfile.write(b"0\r\n\r\n"); self.wfile.flush(); return
            if path.startswith("/big"):
                n = int(path.split("n=")[1])
                self.send_response(200); self.send_header("Content-Length", str(n)); self.end_headers()
                left = n
                while left:
                    k = min(left, 65536); self.wfile.write(b"x" * k); left -= k
                return
            if path == "/closing":
                self.close_connection = True
                return self.send_body(200, "closing", "text/plain", [("Connection", "close")])
            if path == "/unframed":
                self.send_response(200); self.send_header("Connection", "close"); self.end_headers()
                self.wfile.write(b"y" * 1000); self.wfile.flush(); self.close_connection = True; return
            if path.startswith("/slow"):
                time.sleep(float(path.split("s=")[1])); return self.send_body(200, "slow")
            if path.startswith("/status/"):
                code = int(path.split("/")[2]); self.send_response(code); self.send_header("Content-Length", "0"); self.end_headers(); return
            if path == "/upgrade":
                self.send_response(101); self.send_header("Connection", "Upgrade"); self.send_header("Upgrade", "echo"); self.end_headers(); self.wfile.flush()
                while True:
                    data = self.connection.recv(65536)
                    if not data: break
                    self.connection.sendall(data)
                self.close_connection = True; return
            self.send_body(404, "{}")

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PROPFIND = do_PURGE = do_OPTIONS = handle_any

    ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
    """#
