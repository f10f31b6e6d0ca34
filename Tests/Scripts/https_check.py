#!/usr/bin/env python3
"""Load an https page through devhost's proxy in headless Chromium and report how it went.

    https_check.py --url https://HOST:PORT/ --home DIR [--ca CA.pem] [--timeout 30] [--chromium PATH]

Chromium on Linux trusts the NSS database in $HOME/.pki/nssdb: this makes a fresh one in DIR
(certutil -N --empty-password -d sql:DIR/.pki/nssdb), adds --ca to it trusted for TLS servers
(-t C,,) when given, and runs Chromium with HOME=DIR. Then it navigates to --url, reads
window.isSecureContext and performance.getEntries()[0].nextHopProtocol, and opens a WebSocket to
wss://HOST:PORT/ws, sends a message and waits for its echo. The browser is driven as
dashboard_check.py drives it (its Browser and Page, over --remote-debugging-pipe).

Prints one JSON object and exits 0 (a navigation error such as ERR_CERT_AUTHORITY_INVALID is
reported in it as "navigation_error"); exits 1 on failure, 2 when no Chromium is found.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dashboard_check import Browser, Failure, Page, find_chromium  # noqa: E402

WEBSOCKET_JS = """new Promise(resolve => {
  const ws = new WebSocket('wss://' + location.host + '/ws');
  const done = value => { clearTimeout(timer); resolve(value); try { ws.close(); } catch (e) {} };
  const timer = setTimeout(() => done({error: 'no echo within 10 s'}), 10000);
  ws.onopen = () => ws.send('hello over wss');
  ws.onmessage = event => done({echo: event.data});
  ws.onerror = () => done({error: 'the WebSocket failed'});
})"""


class RecordingBrowser(Browser):
    """Also keeps the WebSocket handshake responses Chromium reports (status 101: HTTP/1.1
    Upgrade; 200: an HTTP/2 extended CONNECT, RFC 8441)."""

    def __init__(self, executable):
        self.websocket_statuses = []
        super().__init__(executable)

    def _event(self, msg):
        if msg.get("method") == "Network.webSocketHandshakeResponseReceived":
            self.websocket_statuses.append(msg["params"]["response"].get("status"))
        super()._event(msg)


def make_nssdb(home, ca):
    db = os.path.join(home, ".pki", "nssdb")
    os.makedirs(db, mode=0o700, exist_ok=True)
    subprocess.run(["certutil", "-N", "--empty-password", "-d", "sql:" + db], check=True, capture_output=True)
    if ca:
        subprocess.run(["certutil", "-A", "-d", "sql:" + db, "-n", "devhost test CA", "-t", "C,,", "-i", ca],
                       check=True, capture_output=True)
    listed = subprocess.run(["certutil", "-L", "-d", "sql:" + db], check=True, capture_output=True, text=True)
    return listed.stdout


def run(args, browser):
    deadline = time.monotonic() + args.timeout
    page = Page(browser, deadline)
    page.call("Network.enable")
    nav = page.call("Page.navigate", {"url": args.url})
    if nav.get("errorText"):
        return {"navigation_error": nav["errorText"]}
    page.wait_for("document.readyState === 'complete' && document.body !== null", "the page to load")
    facts = page.eval("""(() => ({
        secure: window.isSecureContext,
        protocol: performance.getEntries()[0].nextHopProtocol,
        scheme: location.protocol,
        text: document.body.textContent.trim()}))()""")
    facts["websocket"] = page.eval(WEBSOCKET_JS, grace=12)
    browser.pump(0.2)  # the handshake's Network event may trail the echo
    facts["websocket_statuses"] = browser.websocket_statuses
    facts["console_errors"] = browser.console_errors
    return facts


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", required=True)
    p.add_argument("--home", required=True, help="an empty folder: Chromium's HOME, with the NSS database")
    p.add_argument("--ca", help="a CA certificate (PEM) to trust for TLS servers")
    p.add_argument("--timeout", type=float, default=30)
    p.add_argument("--chromium")
    args = p.parse_args()
    executable = find_chromium(args.chromium)
    try:
        listed = make_nssdb(args.home, args.ca)
    except (OSError, subprocess.CalledProcessError) as e:
        print(f"https_check: certutil failed: {e} {getattr(e, 'stderr', b'')!r}", file=sys.stderr)
        return 1
    os.environ["HOME"] = args.home

    browser = None

    def on_term(signum, _frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)
    try:
        browser = RecordingBrowser(executable)
        result = run(args, browser)
    except (Failure, OSError) as e:
        print(f"https_check: {e}", file=sys.stderr)
        return 1
    finally:
        if browser is not None:
            browser.close()
    result["nssdb"] = listed
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
