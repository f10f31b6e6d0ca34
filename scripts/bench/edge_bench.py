#!/usr/bin/env python3
"""The shared edge: what joining it costs a project, next to a proxy of the project's own.

For each round, one project (a Python HTTP server behind a route, http health every 20 ms) is
started in the foreground twice, alternately: registered with an already running edge, and with
its own proxy (--proxy-port). A client sends GET requests through the proxy, on one keep-alive
connection, from the moment `devhost up` is executed until the first 200. A request sent before
the service is healthy waits in the proxy (wait-for-healthy), so the first 200 comes as soon as the
route and a healthy endpoint reach the proxy; the difference between the two modes is what the
registration adds (aim, issue #17: under 20 ms). Also reported: the time for a second project to
appear in the edge after the first is up, and the edge's RSS with 20 registered projects.
"""
import http.client, json, os, signal, socket, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEVHOST = os.environ.get("DEVHOST", os.path.join(ROOT, ".build/release/devhost"))
RUNS = int(os.environ.get("BENCH_RUNS", "7"))

SERVER = r'''
import os
from http.server import BaseHTTPRequestHandler, HTTPServer
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers(); self.wfile.write(b"ok")
    def log_message(self, *a): pass
HTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
'''


def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close(); return port


def project(folder, name):
    os.makedirs(folder, exist_ok=True)
    open(os.path.join(folder, "server.py"), "w").write(SERVER)
    open(os.path.join(folder, "devhost.yml"), "w").write(
        f"name: {name}\nservices:\n  api:\n    command: python3 server.py\n    route: api\n"
        "    health: { http: /, interval: 20ms, retries: 1 }\n")


def first_ok(port, host, started, limit=30):
    """Seconds from `started` to the first 200 through the proxy on `port`."""
    deadline = started + limit
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
            while time.monotonic() < deadline:
                conn.request("GET", "/", headers={"Host": host})
                response = conn.getresponse(); response.read()
                if response.status == 200:
                    return time.monotonic() - started
        except OSError:
            time.sleep(0.001)
    raise SystemExit(f"no 200 from {host} within {limit} s")


def run_up(folder, env, port, host):
    started = time.monotonic()
    up = subprocess.Popen([DEVHOST, "up"], cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                          start_new_session=True)
    try:
        return first_ok(port, host, started)
    finally:
        up.send_signal(signal.SIGINT)
        up.wait(timeout=30)


def rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def main():
    work = tempfile.mkdtemp(prefix="edge-bench-")
    runtime = os.path.join(work, "run"); os.makedirs(runtime, mode=0o700)
    edge_port, own_port = free_port(), free_port()
    env = dict(os.environ, XDG_RUNTIME_DIR=runtime, DEVHOST_EDGE_PORT=str(edge_port), NO_COLOR="1",
               DEVHOST_ROUTES=os.path.join(work, "routes.yml"))
    env.pop("DEVHOST_PROXY_PORT", None)
    edge = subprocess.Popen([DEVHOST, "proxy", "run", "--proxy-port", str(edge_port), "--log-format", "off"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        app = os.path.join(work, "app"); project(app, "app")
        for _ in range(100):
            if os.path.exists(os.path.join(runtime, "devhost", f"edge-{edge_port}.sock")):
                break
            time.sleep(0.02)
        shared, own = [], []
        for _ in range(RUNS):
            shared.append(run_up(app, env, edge_port, "api.app.localhost"))
            own.append(run_up(app, dict(env, DEVHOST_PROXY_PORT=str(own_port)), own_port, "api.app.localhost"))
        ms = lambda xs: statistics.median(xs) * 1000
        print(f"edge: `up` to the first routed 200, median of {RUNS}: on the edge {ms(shared):.1f} ms, "
              f"own proxy {ms(own):.1f} ms, registration adds {ms(shared) - ms(own):+.1f} ms (aim < 20 ms)")

        # 20 projects registered at once: the edge's RSS.
        ups = []
        for i in range(20):
            folder = os.path.join(work, f"p{i}"); project(folder, f"p{i}")
            ups.append(subprocess.Popen([DEVHOST, "up", "-d"], cwd=folder, env=env, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL))
        for up in ups:
            up.wait(timeout=120)
        status = json.loads(subprocess.run([DEVHOST, "proxy", "status", "--json"], env=env, capture_output=True, text=True).stdout)
        print(f"edge: {len(status['projects'])} projects registered, edge RSS {rss_kib(edge.pid) / 1024:.1f} MiB")
        for i in range(20):
            subprocess.run([DEVHOST, "down"], cwd=os.path.join(work, f"p{i}"), env=env, capture_output=True)
    finally:
        edge.send_signal(signal.SIGTERM)
        edge.wait(timeout=30)
        subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    main()
