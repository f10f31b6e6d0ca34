#!/usr/bin/env python3
"""`devhost up` overhead, discovery latency, and 100 services in a small RSS.

1. 20 trivial TCP services: time from exec to "all services are up" (devhost, tcp health checks)
   minus the time a shell script takes to start the same 20 and see every port accept.
2. Discovery latency: each service listens on a port the OS picks (ignoring PORT) and prints the wall
   time of its listen(); devhost's "listening on" line (with --timestamps) is compared with it.
3. 100 services: devhost's own RSS once all are up, and a clean Ctrl-C stop with nothing left behind.
Aims (issue #4): overhead < 150 ms for 20, discovery < 50 ms, RSS < 30 MB for 100.
"""
import os, re, signal, socket, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEVHOST = os.environ.get("DEVHOST", os.path.join(ROOT, ".build/release/devhost"))
RUNS = int(os.environ.get("BENCH_RUNS", "5"))

LISTENER = r'''
import os, socket, sys, time
time.sleep(float(os.environ.get("LISTEN_AFTER", "0")))
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0 if os.environ.get("ANY_PORT") else int(os.environ["PORT"]))); s.listen(64)
print("listen-at %.3f" % time.time(), flush=True)
while True:
    c, _ = s.accept(); c.close()
'''


def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close(); return port


def write_project(folder, count, any_port=False, none=False):
    with open(os.path.join(folder, "listener.py"), "w") as f:
        f.write(LISTENER)
    lines = ["services:"]
    for i in range(count):
        if none:
            lines.append(f"  s{i}: {{ command: \"sleep 300\", port: none }}")
        else:
            # Staggered listens, so each discovery is timed on a quiet machine, not behind ten Python start-ups.
            env = f", env: {{ ANY_PORT: \"1\", LISTEN_AFTER: \"{0.5 + i * 0.2:.1f}\" }}" if any_port else ""
            lines.append(f"  s{i}: {{ command: python3 listener.py, health: {{ tcp: true, interval: 1s }}{env} }}")
    with open(os.path.join(folder, "devhost.yml"), "w") as f:
        f.write("\n".join(lines) + "\n")


def run_devhost_until(folder, needle, extra=(), timeout=60):
    start = time.perf_counter()
    proc = subprocess.Popen([DEVHOST, "up", *extra], cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=dict(os.environ, NO_COLOR="1"), start_new_session=True)
    lines = []
    deadline = time.time() + timeout
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if needle in line:
            return proc, time.perf_counter() - start, lines
    proc.kill()
    sys.exit("devhost did not reach '%s':\n%s" % (needle, "".join(lines[-30:])))


def stop(proc):
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=30)
    return proc.returncode, out


def shell_baseline(folder, count):
    ports = [free_port() for _ in range(count)]
    script = "\n".join(f"PORT={p} python3 listener.py >/dev/null &" for p in ports) + "\nwait\n"
    start = time.perf_counter()
    proc = subprocess.Popen(["sh", "-c", script], cwd=folder, start_new_session=True)
    pending = set(ports)
    while pending:
        for port in list(pending):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.05).close()
                pending.discard(port)
            except OSError:
                pass
        time.sleep(0.002)
        if time.perf_counter() - start > 30:
            sys.exit("shell baseline did not come up")
    took = time.perf_counter() - start
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    return took


def overhead():
    devhost_times, shell_times = [], []
    for _ in range(RUNS):
        with tempfile.TemporaryDirectory() as folder:
            write_project(folder, 20)
            proc, took, _ = run_devhost_until(folder, "all services are up")
            devhost_times.append(took)
            stop(proc)
            shell_times.append(shell_baseline(folder, 20))
    d, s = statistics.median(devhost_times) * 1000, statistics.median(shell_times) * 1000
    print(f"up: 20 trivial TCP services, median of {RUNS} runs")
    print(f"  devhost up → all healthy        {d:8.1f} ms")
    print(f"  shell script → all ports accept {s:8.1f} ms")
    print(f"  overhead                        {d - s:8.1f} ms   (aim < 150 ms)")


def parse_clock(stamp):
    h, m, s = stamp.split(":")
    return int(h) * 3600 + int(m) * 60 + float(s)


def discovery():
    latencies = []
    with tempfile.TemporaryDirectory() as folder:
        write_project(folder, 10, any_port=True)
        proc, _, lines = run_devhost_until(folder, "all services are up", extra=("--timestamps",))
        _, out = stop(proc)
    text = "".join(lines) + out
    listened = {}
    for m in re.finditer(r"^\S+ (s\d+)\.1\s+\| listen-at ([\d.]+)", text, re.M):
        t = float(m.group(2))
        lt = time.localtime(t)
        listened[m.group(1)] = lt.tm_hour * 3600 + lt.tm_min * 60 + lt.tm_sec + (t % 1)
    for m in re.finditer(r"^(\S+) devhost\s+\| (s\d+)\.1 listening on :\d+", text, re.M):
        if m.group(2) in listened:
            latencies.append((parse_clock(m.group(1)) - listened[m.group(2)]) * 1000)
    if not latencies:
        sys.exit("no discovery samples:\n" + text[-3000:])
    print(f"discovery: listen() on an OS-chosen port → devhost 'listening' line, {len(latencies)} services")
    print(f"  median {statistics.median(latencies):6.1f} ms, max {max(latencies):6.1f} ms   (aim < 50 ms)")


def hundred():
    marker = "bench-%d" % os.getpid()
    with tempfile.TemporaryDirectory() as folder:
        write_project(folder, 100, none=True)
        env_marker = dict(os.environ, DEVHOST_BENCH_MARKER=marker)
        start = time.perf_counter()
        proc = subprocess.Popen([DEVHOST, "up"], cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                env=dict(env_marker, NO_COLOR="1"), start_new_session=True)
        while True:
            line = proc.stdout.readline()
            if not line or "all services are up" in line:
                break
        up = time.perf_counter() - start
        rss = 0
        for row in open(f"/proc/{proc.pid}/status"):
            if row.startswith("VmRSS:"):
                rss = int(row.split()[1]) / 1024
        start = time.perf_counter()
        code, _ = stop(proc)
        down = time.perf_counter() - start
    left = 0
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                if marker.encode() in open(f"/proc/{pid}/environ", "rb").read():
                    left += 1
            except OSError:
                pass
    print("100 services (sleep 300, port: none)")
    print(f"  up in {up * 1000:.0f} ms, devhost RSS {rss:.1f} MB (aim < 30 MB), Ctrl-C stop in {down * 1000:.0f} ms, exit {code}, processes left: {left}")


if __name__ == "__main__":
    overhead()
    discovery()
    hundred()
