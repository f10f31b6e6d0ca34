#!/usr/bin/env python3
"""`devhost top`'s cost with 20 services (issue #22: under 1% of a core and under 15 MB RSS).

A project of 20 services (four Python HTTP servers behind routes with HTTP health checks, sixteen
`sleep` workers) under `devhost up -d`; `devhost top` in a 140x40 tmux window of its own tmux server
for DURATION seconds (60 by default). Reported: CPU as a share of one core (utime+stime from
/proc/PID/stat before and after), RSS sampled every second (peak is the kernel's VmHWM, steady the
median of the second half), PSS and private memory from smaps_rollup, and where the resident pages
are by mapping (the binary's code and read-only data, its writable data, heap, other anonymous
memory, thread stacks, shared libraries). For scale, the peak RSS of one `devhost status`.

Environment: DEVHOST (the binary, default .build/release/devhost), TOP_BENCH_SECONDS (60).
"""
import os, re, shutil, signal, socket, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEVHOST = os.path.abspath(os.environ.get("DEVHOST", os.path.join(ROOT, ".build/release/devhost")))
DURATION = float(os.environ.get("TOP_BENCH_SECONDS", "60"))
TICKS = os.sysconf("SC_CLK_TCK")
MB = 1024 * 1024


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def write_project(folder):
    lines = ["name: topbench", "services:"]
    for i in range(4):
        lines.append(f"  web{i}:")
        lines.append("    command: python3 -m http.server $PORT --bind 127.0.0.1")
        lines.append(f"    route: web{i}")
        lines.append("    health: { http: /, interval: 1s }")
    for i in range(16):
        lines.append(f"  worker{i}: {{ command: \"sleep 3600\", port: none }}")
    with open(os.path.join(folder, "devhost.yml"), "w") as f:
        f.write("\n".join(lines) + "\n")


def run(argv, env, cwd=None, timeout=120):
    return subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def kilobytes(path, key):
    for row in open(path):
        if row.startswith(key + ":"):
            return int(row.split()[1]) * 1024
    return 0


def cpu_ticks(pid):
    text = open(f"/proc/{pid}/stat").read()
    fields = text[text.rindex(")") + 2:].split()
    return int(fields[11]) + int(fields[12])


def rollup(pid):
    values = {}
    for row in open(f"/proc/{pid}/smaps_rollup"):
        parts = row.split()
        if len(parts) >= 3 and parts[2] == "kB":
            values[parts[0].rstrip(":")] = int(parts[1]) * 1024
    return values


def by_mapping(pid, binary):
    """Resident bytes by kind of mapping, from /proc/PID/smaps."""
    kinds = {}
    kind = None
    header = re.compile(r"^[0-9a-f]+-[0-9a-f]+ (\S{4}) \S+ \S+ \d+\s*(.*)$")
    for row in open(f"/proc/{pid}/smaps"):
        m = header.match(row)
        if m:
            perms, name = m.group(1), m.group(2).strip()
            if name == binary or name.endswith("/devhost"):
                kind = "binary code" if "x" in perms else ("binary writable data" if "w" in perms else "binary read-only data")
            elif name == "[heap]":
                kind = "heap (brk)"
            elif name.startswith("[stack"):
                kind = "main stack"
            elif name.startswith("/"):
                kind = "shared libraries" if ".so" in name else "other files"
            elif name.startswith("["):
                kind = "vdso/vvar"
            else:
                # Anonymous: malloc arenas, mmap'd allocations, thread stacks (with guard pages), BSS spill.
                kind = "anonymous (arenas, mmaps, thread stacks)"
        elif row.startswith("Rss:") and kind:
            kinds[kind] = kinds.get(kind, 0) + int(row.split()[1]) * 1024
    return kinds


def threads(pid):
    names = []
    for tid in sorted(os.listdir(f"/proc/{pid}/task"), key=int):
        try:
            names.append(open(f"/proc/{pid}/task/{tid}/comm").read().strip())
        except OSError:
            pass
    return names


def status_peak(folder, env):
    """Peak RSS of one `devhost status`, from wait4's rusage."""
    proc = subprocess.Popen([DEVHOST, "status"], cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, code, usage = os.wait4(proc.pid, 0)
    proc.returncode = code
    return usage.ru_maxrss * 1024


def main():
    if not os.access(DEVHOST, os.X_OK):
        sys.exit(f"no devhost at {DEVHOST} (make release)")
    if not shutil.which("tmux"):
        sys.exit("tmux is not installed (scripts/install-deps.sh test)")
    folder = tempfile.mkdtemp(prefix="top-bench-")
    env = dict(os.environ, DEVHOST_PROXY_PORT=str(free_port()), DEVHOST_ROUTES=os.path.join(folder, "routes.yml"),
               TERM="xterm-256color")
    env.pop("NO_COLOR", None)
    env.pop("TMUX", None)
    socket_name = f"devhost-top-bench-{os.getpid()}"
    tmux = ["tmux", "-L", socket_name, "-f", "/dev/null"]
    up_done = False
    try:
        write_project(folder)
        up = run([DEVHOST, "up", "-d"], env, cwd=folder)
        if up.returncode != 0:
            sys.exit(f"devhost up -d failed:\n{up.stdout}{up.stderr}")
        up_done = True
        started = run(tmux + ["new-session", "-d", "-s", "top", "-x", "140", "-y", "40", "-c", folder, f"exec {DEVHOST} top"], env)
        if started.returncode != 0:
            sys.exit(f"tmux: {started.stderr}")
        pid = int(run(tmux + ["display-message", "-p", "-t", "top", "#{pane_pid}"], env).stdout.strip())
        deadline = time.time() + 30
        screen = ""
        while time.time() < deadline:
            screen = run(tmux + ["capture-pane", "-p", "-t", "top"], env).stdout
            if "20 services, 20 instances" in screen and "worker0.1" in screen:
                break
            time.sleep(0.2)
        else:
            sys.exit(f"top did not show the project:\n{screen}")

        samples = []
        start_ticks, start = cpu_ticks(pid), time.monotonic()
        while time.monotonic() - start < DURATION:
            time.sleep(1)
            r = rollup(pid)
            samples.append((kilobytes(f"/proc/{pid}/status", "VmRSS"), r.get("Pss", 0)))
        ticks, took = cpu_ticks(pid) - start_ticks, time.monotonic() - start
        peak = kilobytes(f"/proc/{pid}/status", "VmHWM")
        final = rollup(pid)
        kinds = by_mapping(pid, DEVHOST)
        names = threads(pid)
        screen = run(tmux + ["capture-pane", "-p", "-t", "top"], env).stdout
        if "20 services" not in screen:
            sys.exit(f"top lost the project during the run:\n{screen}")
        run(tmux + ["send-keys", "-t", "top", "q"], env)
        deadline = time.time() + 10
        while time.time() < deadline and os.path.exists(f"/proc/{pid}"):
            time.sleep(0.1)
        one_shot = status_peak(folder, env)

        half = samples[len(samples) // 2:]
        steady = statistics.median(s[0] for s in half)
        steady_pss = statistics.median(s[1] for s in half)
        cpu = ticks / TICKS / took * 100
        private = final.get("Private_Clean", 0) + final.get("Private_Dirty", 0)
        print(f"devhost top, 20 services (4 HTTP + 16 workers), 140x40 tmux window, {took:.0f} s ({DEVHOST})")
        print(f"  CPU   {cpu:5.2f} % of a core ({ticks} ticks in {took:.0f} s)   (aim < 1 %)")
        print(f"  RSS   steady {steady / MB:5.1f} MiB, peak {peak / MB:5.1f} MiB   (aim < 15 MB; MiB here)")
        print(f"  PSS   steady {steady_pss / MB:5.1f} MiB; private {private / MB:.1f} MiB, anonymous {final.get('Anonymous', 0) / MB:.1f} MiB")
        print(f"  threads {len(names)}: {', '.join(names)}")
        print("  resident by mapping:")
        for kind, size in sorted(kinds.items(), key=lambda item: -item[1]):
            print(f"    {kind:44s} {size / MB:5.1f} MiB")
        print(f"  for scale: one `devhost status` peaks at {one_shot / MB:.1f} MiB RSS")
    finally:
        subprocess.run(tmux + ["kill-server"], capture_output=True)
        if up_done:
            run([DEVHOST, "down"], env, cwd=folder)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
