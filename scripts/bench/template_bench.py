#!/usr/bin/env python3
"""The first hour with each built-in template: cold `devhost up -d` (setup included) with uv on PATH
and without it, and save-to-new-answer (an edit to the code behind a route, until the proxy serves
the new text; the templates' `watch:` restarts the service, or the static server reads the file).

Usage: template_bench.py [TEMPLATE...]   (DEVHOST: the binary; BENCH_PORT: the proxy port)
Figures go to the templates' READMEs and docs/templates.md by hand; nothing here asserts a time.
"""
import os, re, shutil, statistics, subprocess, sys, tempfile, time, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEVHOST = os.environ.get("DEVHOST", os.path.join(ROOT, ".build/release/devhost"))
PORT = os.environ.get("BENCH_PORT", "7791")
EDITS = 5
# template -> (host prefix, path, file, regex of the literal to change, replacement)
CASES = {
    "static": ("", "/", "public/index.html", r"<title>[^<]*</title>", "<title>ok{}</title>"),
    "node": ("", "/healthz", "server.js", r"status: 'ok[0-9]*'", "status: 'ok{}'"),
    "flask": ("", "/healthz", "app/views.py", r'status="ok[0-9]*"', 'status="ok{}"'),
    "django": ("", "/healthz", "core/views.py", r'"status": "ok[0-9]*"', '"status": "ok{}"'),
    "fastapi": ("api.", "/healthz", "app/main.py", r'"status": "ok[0-9]*"', '"status": "ok{}"'),
    "microservices": ("api.", "/healthz", "services/api/app/main.py", r'"status": "ok[0-9]*"', '"status": "ok{}"'),
    "fullstack": ("api.", "/healthz", "services/backend/app/main.py", r'"status": "ok[0-9]*"', '"status": "ok{}"'),
}
PYTHON = {"flask", "django", "fastapi", "microservices", "fullstack"}


def environment(uv):
    path = os.environ.get("PATH", "")
    if not uv:
        path = ":".join(d for d in path.split(":") if not os.access(os.path.join(d, "uv"), os.X_OK))
    return dict(os.environ, PATH=path, DEVHOST_PROXY_PORT=PORT, NO_COLOR="1")


def fetch(host, path):
    # *.localhost may not resolve through the system resolver: connect to loopback, name the host.
    request = urllib.request.Request(f"http://127.0.0.1:{PORT}{path}", headers={"Host": f"{host}:{PORT}"})
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            return response.read().decode()
    except Exception:
        return ""


def run(template, uv, edits):
    env = environment(uv)
    work = tempfile.mkdtemp(prefix="bench-template-")
    name = "b" + template
    try:
        subprocess.run([DEVHOST, "init", "-t", template, "--defaults", "--no-git", name], cwd=work, check=True, capture_output=True, env=env)
        project = os.path.join(work, name)
        began = time.perf_counter()
        up = subprocess.run([DEVHOST, "up", "-d"], cwd=project, capture_output=True, text=True, env=env)
        cold = time.perf_counter() - began
        if up.returncode != 0:
            raise SystemExit(f"{template}: up -d failed:\n{up.stdout}{up.stderr}")
        figures = []
        try:
            prefix, path, file, pattern, replacement = CASES[template]
            target = os.path.join(project, file)
            for index in range(1, edits + 1):
                text = open(target).read()
                with open(target, "w") as handle:
                    began = time.perf_counter()
                    handle.write(re.sub(pattern, replacement.format(index), text, count=1))
                while f"ok{index}" not in fetch(f"{prefix}{name}.localhost", path):
                    if time.perf_counter() - began > 60:
                        raise SystemExit(f"{template}: no new answer 60 s after the save")
                    time.sleep(0.005)
                figures.append(time.perf_counter() - began)
                time.sleep(1)  # the next save after the restart has settled
        finally:
            subprocess.run([DEVHOST, "down"], cwd=project, capture_output=True, env=env)
        return cold, figures
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main():
    templates = sys.argv[1:] or list(CASES)
    has_uv = shutil.which("uv") is not None
    print(f"{'template':<14} {'cold up -d':>22} {'save-to-new-answer (median, min-max)':>40}")
    for template in templates:
        cold, figures = run(template, uv=True, edits=EDITS)
        colds = f"{cold:.1f} s" + (" (uv)" if has_uv and template in PYTHON else "")
        if has_uv and template in PYTHON:
            without, _ = run(template, uv=False, edits=0)
            colds += f" / {without:.1f} s (pip)"
        ms = [f * 1000 for f in figures]
        print(f"{template:<14} {colds:>22} {statistics.median(ms):>26.0f} ms ({min(ms):.0f}-{max(ms):.0f})", flush=True)


if __name__ == "__main__":
    main()
