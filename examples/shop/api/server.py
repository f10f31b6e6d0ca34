"""A tiny JSON API on the standard library: /healthz and /items."""
import json
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DB = os.environ.get("SHOP_DB", "../.devhost/shop.json")
INSTANCE = os.environ.get("DEVHOST_INSTANCE", "0")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _send(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/healthz":
            self._send(200, {"status": "ok", "instance": INSTANCE})
        elif self.path == "/items":
            with open(DB) as f:
                self._send(200, json.load(f)["items"])
        else:
            self._send(404, {"error": "not found"})

    def log_message(self, fmt, *args):
        if self.path == "/healthz":
            return  # devhost probes every second; keep them out of the log
        print(f"{self.command} {self.path} -> {args[1] if len(args) > 1 else ''}", flush=True)


if __name__ == "__main__":
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "8000"))
    print(f"api instance {INSTANCE} listening on {host}:{port}", flush=True)
    ThreadingHTTPServer((host, port), Handler).serve_forever()
