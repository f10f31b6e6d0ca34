#!/usr/bin/env python3
"""Drive the devhost dashboard in headless Chromium and report what it shows.

    dashboard_check.py --url URL --screenshot OUT.png --expect SERVICE[,SERVICE...]
                       [--click SERVICE:ACTION] [--timeout 30] [--chromium PATH]

Talks the DevTools protocol over --remote-debugging-pipe (fd 3: commands to the browser,
fd 4: responses, NUL-terminated JSON), so it needs nothing beyond the standard library.
Prints one JSON object on stdout and exits 0; exits 1 (message on stderr) on timeout or
failure, 2 when no Chromium is found.
"""

import argparse
import atexit
import base64
import fcntl
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time


class Failure(Exception):
    pass


def become_subreaper():
    """Linux: Chromium's helpers that outlive the browser process get reparented to us, not to
    init, so close() can reap them and leave no zombies behind."""
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass


def reap_orphans():
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


class Browser:
    """A headless Chromium in its own process group, torn down by close() whatever happens."""

    def __init__(self, executable):
        self.proc = None
        become_subreaper()
        self.tmp = tempfile.mkdtemp(prefix="dashboard-check-")
        self.log_path = os.path.join(self.tmp, "chromium.log")
        cmd_r, cmd_w = os.pipe()  # we write commands, the browser reads them on its fd 3
        res_r, res_w = os.pipe()  # the browser writes responses on its fd 4, we read them

        def child_fds():
            # Move both ends above the low fds first so dup2 onto 3/4 never aliases itself,
            # then dup2 (which clears close-on-exec) onto the numbers Chromium expects.
            a = fcntl.fcntl(cmd_r, fcntl.F_DUPFD, 10)
            b = fcntl.fcntl(res_w, fcntl.F_DUPFD, 10)
            os.dup2(a, 3)
            os.dup2(b, 4)
            os.close(a)
            os.close(b)

        args = [
            executable, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--remote-debugging-pipe", "--user-data-dir=" + os.path.join(self.tmp, "profile"),
            "--no-first-run", "--disable-extensions", "--window-size=1280,900", "about:blank",
        ]
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                args, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                # Chromium drops org.chromium.Chromium.* folders into TMPDIR and never removes them.
                env={**os.environ, "TMPDIR": self.tmp},
                close_fds=False, preexec_fn=child_fds, start_new_session=True)
        os.close(cmd_r)
        os.close(res_w)
        self.wfd, self.rfd = cmd_w, res_r
        self.buf = b""
        self.next_id = 0
        self.console_errors = []

    def close(self):
        for fd in ("wfd", "rfd"):
            if getattr(self, fd, None) is not None:
                try:
                    os.close(getattr(self, fd))
                except OSError:
                    pass
                setattr(self, fd, None)
        if self.proc is not None and self.proc.poll() is None:
            for sig, grace in ((signal.SIGTERM, 3), (signal.SIGKILL, 3)):
                try:
                    os.killpg(self.proc.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    self.proc.wait(grace)
                    break
                except subprocess.TimeoutExpired:
                    pass
        if self.proc is not None:
            pgid, deadline = self.proc.pid, time.monotonic() + 3
            while time.monotonic() < deadline:  # stragglers left in the group after the main process
                try:
                    os.killpg(pgid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    break  # group empty
                reap_orphans()
                time.sleep(0.02)
            self.proc = None
        if self.tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None

    def log_tail(self, n=15):
        try:
            with open(self.log_path, "rb") as f:
                return b"\n".join(f.read().splitlines()[-n:]).decode(errors="replace")
        except OSError:
            return ""

    # --- protocol -----------------------------------------------------------------------------

    def _read_message(self, deadline):
        """The next message, or None when the deadline passes first."""
        while b"\0" not in self.buf:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            ready, _, _ = select.select([self.rfd], [], [], remaining)
            if not ready:
                return None
            chunk = os.read(self.rfd, 1 << 16)
            if not chunk:
                raise Failure("chromium closed the DevTools pipe (exited?)\n" + self.log_tail())
            self.buf += chunk
        raw, self.buf = self.buf.split(b"\0", 1)
        return json.loads(raw)

    def _event(self, msg):
        method, params = msg.get("method"), msg.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            parts = []
            for arg in params.get("args", []):
                parts.append(str(arg["value"]) if "value" in arg else arg.get("description", arg.get("type", "")))
            self.console_errors.append(" ".join(parts))
        elif method == "Runtime.exceptionThrown":
            d = params.get("exceptionDetails", {})
            exc = d.get("exception") or {}
            self.console_errors.append(exc.get("description") or d.get("text", "exception"))

    def pump(self, seconds):
        """Handle events for up to `seconds` (the polling interval)."""
        deadline = time.monotonic() + seconds
        while True:
            msg = self._read_message(deadline)
            if msg is None:
                return
            self._event(msg)

    def send(self, method, params=None, session=None, deadline=None):
        self.next_id += 1
        mid = self.next_id
        msg = {"id": mid, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        data = json.dumps(msg).encode() + b"\0"
        while data:
            data = data[os.write(self.wfd, data):]
        deadline = min(deadline or float("inf"), time.monotonic() + 20)
        while True:
            reply = self._read_message(deadline)
            if reply is None:
                raise Failure(f"timed out waiting for {method}")
            if reply.get("id") == mid:
                if "error" in reply:
                    raise Failure(f"{method}: {reply['error'].get('message')}")
                return reply.get("result", {})
            self._event(reply)


class Page:
    def __init__(self, browser, deadline):
        self.b, self.deadline = browser, deadline
        target = self.b.send("Target.createTarget", {"url": "about:blank"}, deadline=deadline)["targetId"]
        self.session = self.b.send("Target.attachToTarget", {"targetId": target, "flatten": True},
                                   deadline=deadline)["sessionId"]
        self.call("Runtime.enable")
        self.call("Page.enable")

    def call(self, method, params=None):
        return self.b.send(method, params, session=self.session, deadline=self.deadline)

    def eval(self, expression, grace=0):
        r = self.b.send("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True},
                        session=self.session, deadline=max(self.deadline, time.monotonic() + grace))
        if "exceptionDetails" in r:
            d = r["exceptionDetails"]
            raise Failure("evaluate failed: " + ((d.get("exception") or {}).get("description") or d.get("text", "")))
        return r["result"].get("value")

    def wait_for(self, expression, what):
        """Poll `expression` every 100 ms until it is truthy; return its value."""
        last = None
        while True:
            try:
                last = self.eval(expression)
                if last:
                    return last
            except Failure as e:  # e.g. the context went away during navigation: try again
                if time.monotonic() < self.deadline:  # else it is only the deadline speaking
                    last = f"error: {e}"
            if time.monotonic() >= self.deadline:
                raise Failure(f"timed out waiting for {what} (last: {json.dumps(last)})")
            self.b.pump(min(0.1, max(0.0, self.deadline - time.monotonic())))


SNAPSHOT_JS = """(() => {
  const services = [...document.querySelectorAll('[data-service]:not(button)')].map(e => e.dataset.service);
  const states = {};
  for (const e of document.querySelectorAll('[data-instance]')) {
    const s = e.querySelector('[data-state]');
    states[e.dataset.instance] = s ? s.textContent : null;
  }
  const remotes = {}, last_errors = {}, health_details = {};
  for (const e of document.querySelectorAll('[data-remote]')) if (e.textContent) remotes[e.dataset.remote] = e.textContent;
  for (const e of document.querySelectorAll('[data-last-error]')) {
    last_errors[e.dataset.lastError] = {text: e.textContent, color: getComputedStyle(e).color};
  }
  const routes = {};
  for (const e of document.querySelectorAll('[data-service]:not(button)')) {
    routes[e.dataset.service] = [...e.querySelectorAll('.routes a')].map(a => a.getAttribute('href'));
  }
  for (const e of document.querySelectorAll('[data-health-detail]')) health_details[e.dataset.healthDetail] = e.textContent;
  return {ready: !!document.body && document.body.dataset.ready === '1', services, states, remotes, last_errors, routes,
          health_details};
})()"""


def find_chromium(explicit):
    if explicit:
        path = shutil.which(explicit) or (explicit if os.access(explicit, os.X_OK) else None)
        if not path:
            print(f"dashboard_check: --chromium {explicit} is not an executable", file=sys.stderr)
            sys.exit(2)
        return path
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    print("dashboard_check: no chromium, chromium-browser or google-chrome on PATH "
          "(install one, e.g. apt-get install chromium, or pass --chromium PATH)", file=sys.stderr)
    sys.exit(2)


def run(args, browser):
    deadline = time.monotonic() + args.timeout
    expect = [s for s in args.expect.split(",") if s]
    page = Page(browser, deadline)

    nav = page.call("Page.navigate", {"url": args.url})
    if nav.get("errorText"):
        raise Failure(f"navigation to {args.url} failed: {nav['errorText']}")

    cond = json.dumps(expect)
    try:
        page.wait_for(
            f"""(() => document.body && document.body.dataset.ready === '1' &&
                 {cond}.every(n => document.querySelector('[data-service="' + CSS.escape(n) + '"]:not(button)')))()""",
            f"the dashboard to be ready with services {', '.join(expect)}")
    except Failure as e:
        try:  # say what the page does show
            snap = page.eval(SNAPSHOT_JS, grace=3) or {}
            missing = [n for n in expect if n not in snap.get("services", [])]
            e = Failure(f"{e}; page ready={snap.get('ready')}, services={snap.get('services')}, missing={missing}")
        except Failure:
            pass
        raise e

    # Log lines arrive right after the first status and grow the page: let its height settle
    # (unchanged over 3 polls, at most 3 s) so the screenshot shows the page as it stays.
    settle_until, last_height, stable = min(deadline, time.monotonic() + 3), None, 0
    while stable < 3 and time.monotonic() < settle_until:
        height = page.eval("document.documentElement.scrollHeight")
        stable, last_height = (stable + 1 if height == last_height else 0), height
        browser.pump(0.1)

    metrics = page.call("Page.getLayoutMetrics")
    size = metrics.get("cssContentSize") or metrics.get("contentSize")
    # The whole page (up to 6000 px), as wide as the window: captured beyond the viewport the page
    # loses its scrollbar and lays out at the window's full width.
    width = max(int(size["width"]), int(page.eval("window.innerWidth") or 0))
    height = min(max(int(size["height"]), 1), 6000)
    shot = page.call("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}})
    png = base64.b64decode(shot["data"])
    with open(args.screenshot, "wb") as f:
        f.write(png)

    clicked = None
    if args.click:
        service, _, action = args.click.partition(":")
        if not service or not action:
            raise Failure(f"--click wants SERVICE:ACTION, got {args.click!r}")
        sel = json.dumps(f'button[data-action="{action}"][data-service="{service}"]')
        err_sel = json.dumps(f'[data-error="{service}"]')
        box = page.eval(f"""(() => {{
            const b = document.querySelector({sel});
            if (!b) return {{error: 'no button ' + {sel}}};
            if (b.disabled) return {{error: 'button is disabled'}};
            b.scrollIntoView({{block: 'center'}});
            window.__dashboardCheckClicks = 0;
            b.addEventListener('click', () => window.__dashboardCheckClicks++, {{once: true}});
            const r = b.getBoundingClientRect(), x = r.left + r.width / 2, y = r.top + r.height / 2;
            const hit = document.elementFromPoint(x, y);
            return {{x, y, covered: !(hit && (hit === b || b.contains(hit)))}};
        }})()""")
        if box.get("error"):
            raise Failure(box["error"])
        if box["covered"]:
            raise Failure(f"the {action} button of {service} is covered by another element")
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            params = {"type": kind, "x": box["x"], "y": box["y"]}
            if kind != "mouseMoved":
                params.update(button="left", clickCount=1)
            page.call("Input.dispatchMouseEvent", params)
        page.wait_for("window.__dashboardCheckClicks > 0", f"the click on {args.click} to land")
        page.wait_for(f"!document.querySelector({sel}).disabled", f"{args.click} to finish")
        error = page.eval(f"(document.querySelector({err_sel}) || {{}}).textContent || ''")
        if error.strip():
            raise Failure(f"{args.click} failed: {error.strip()}")
        clicked = args.click

    requests = check_requests(page, args.requests) if args.requests else None
    faults = None
    if args.fault_banner:
        # The banner of injected faults: its entries, then its Clear button clicked like a user.
        page.wait_for("""(() => { const b = document.getElementById('faults');
            return b && !b.hidden && b.querySelector('[data-fault]') !== null; })()""", "the fault banner")
        faults = page.eval("[...document.querySelectorAll('#faults [data-fault]')].map(e => ({id: e.dataset.fault, text: e.textContent}))")
        box = page.eval("""(() => { const b = document.getElementById('faultclear');
            const r = b.getBoundingClientRect(), x = r.left + r.width / 2, y = r.top + r.height / 2;
            const hit = document.elementFromPoint(x, y);
            return {x, y, covered: !(hit && (hit === b || b.contains(hit)))}; })()""")
        if box["covered"]:
            raise Failure("the Clear faults button is covered by another element")
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            params = {"type": kind, "x": box["x"], "y": box["y"]}
            if kind != "mouseMoved":
                params.update(button="left", clickCount=1)
            page.call("Input.dispatchMouseEvent", params)
        page.wait_for("document.getElementById('faults').hidden", "the fault banner to go after Clear faults")

    snap = page.eval(SNAPSHOT_JS)
    browser.pump(0)  # collect console events already queued
    return {
        "requests": requests,
        "services": snap["services"],
        "states": snap["states"],
        "remotes": snap["remotes"],
        "last_errors": snap["last_errors"],
        "routes": snap["routes"],
        "health_details": snap["health_details"],
        "screenshot": args.screenshot,
        "screenshot_bytes": len(png),
        "clicked": clicked,
        "faults": faults,
        "console_errors": browser.console_errors,
    }


def check_requests(page, target):
    """The request inspector's panel: the exchange for TARGET is listed, its detail opens on a
    click, Replay sends it again and the replay is listed too."""
    row = json.dumps(f'#rq-list tr[data-request]')
    page.wait_for(f"""[...document.querySelectorAll({row})].some(r => r.querySelector('[data-target]').dataset.target === {json.dumps(target)})""",
                  f"the request list to show {target}")
    listed = page.eval(f"""[...document.querySelectorAll({row})].reverse().map(r => ({{id: +r.dataset.request,
        target: r.querySelector('[data-target]').dataset.target, status: +r.querySelector('[data-status]').dataset.status}}))""")
    chosen = next(r for r in listed if r["target"] == target)
    page.eval(f"""document.querySelector('#rq-list tr[data-request="{chosen['id']}"]').click()""")
    page.wait_for(f"""(document.getElementById('rq-detail').dataset.id || '') === '{chosen['id']}'""", "the detail view")
    detail = page.eval("""({response: document.querySelector('pre[data-body=response]').textContent,
        request: document.querySelector('pre[data-body=request]').textContent,
        curl: document.querySelector('pre[data-curl]').textContent})""")
    page.eval("document.querySelector('button[data-rq-action=replay]').click()")
    page.wait_for("/^replayed as #\\d+: \\d+/.test(document.querySelector('[data-replay-result]').textContent)", "the replay to be answered")
    replay = page.eval("document.querySelector('[data-replay-result]').textContent")
    new_id = int(replay.split("#")[1].split(":")[0])
    page.wait_for(f"""!!document.querySelector('#rq-list tr[data-request="{new_id}"]')""", "the replay to be listed")
    return {"listed": listed, "chosen": chosen, "detail": detail, "replay": replay, "replay_id": new_id}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", required=True)
    p.add_argument("--screenshot", required=True)
    p.add_argument("--expect", required=True, help="SERVICE[,SERVICE...]")
    p.add_argument("--click", help="SERVICE:ACTION (restart, stop or start)")
    p.add_argument("--requests", help="TARGET: check the request inspector with this request's row (list, detail, replay)")
    p.add_argument("--fault-banner", action="store_true", help="expect the banner of injected faults, then clear them with its button")
    p.add_argument("--timeout", type=float, default=30)
    p.add_argument("--chromium")
    args = p.parse_args()
    executable = find_chromium(args.chromium)

    browser = None

    def cleanup():
        if browser is not None:
            browser.close()

    def on_term(signum, _frame):
        raise SystemExit(128 + signum)

    atexit.register(cleanup)
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)
    try:
        browser = Browser(executable)
        result = run(args, browser)
    except Failure as e:
        print(f"dashboard_check: {e}", file=sys.stderr)
        if browser is not None and browser.console_errors:
            print("console errors:\n  " + "\n  ".join(browser.console_errors), file=sys.stderr)
        return 1
    except OSError as e:
        print(f"dashboard_check: {e}", file=sys.stderr)
        return 1
    finally:
        cleanup()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
