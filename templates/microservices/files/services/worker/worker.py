"""The worker service: every WORKER_INTERVAL seconds, fetch $API_URL/items and log a summary.

Standard library only. `python3 worker.py --check` is the health check: it
succeeds while the last successful poll is recent (see devhost.yml).
"""

import json
import logging
import os
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

log = logging.getLogger("worker")

HEARTBEAT = Path(os.environ.get("WORKER_HEARTBEAT", ".worker-heartbeat"))


def fetch_items(api_url: str, timeout: float = 5.0) -> list[dict]:
    url = api_url.rstrip("/") + "/items"
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.load(response)


def run_once(api_url: str, heartbeat: Path = HEARTBEAT) -> int:
    """Poll the api once, log the result, record a heartbeat; return the item count."""
    items = fetch_items(api_url)
    names = ", ".join(str(item.get("name")) for item in items)
    log.info("api has %d item(s): %s", len(items), names)
    heartbeat.touch()
    return len(items)


def is_healthy(max_age: float, heartbeat: Path = HEARTBEAT) -> bool:
    try:
        return time.time() - heartbeat.stat().st_mtime <= max_age
    except FileNotFoundError:
        return False


def main(argv: list[str]) -> int:
    interval = float(os.environ.get("WORKER_INTERVAL", "5"))
    if "--check" in argv:
        return 0 if is_healthy(max_age=3 * interval) else 1

    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "info").upper(),
        format="%(levelname)s %(name)s: %(message)s",
    )
    api_url = os.environ.get("API_URL", "http://127.0.0.1:8000")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())

    log.info("polling %s every %ss", api_url, interval)
    while not stop.is_set():
        try:
            run_once(api_url)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            log.warning("could not poll %s: %s", api_url, exc)
        stop.wait(interval)
    log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
