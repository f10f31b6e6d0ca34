"""A background worker: polls the API every few seconds through its stable address."""
import json
import os
import time
import urllib.request

api = os.environ.get("API_URL", "http://127.0.0.1:8000")
while True:
    try:
        with urllib.request.urlopen(f"{api}/items", timeout=2) as response:
            print(f"worker saw {len(json.load(response))} items", flush=True)
    except OSError as error:
        print(f"worker: api unreachable: {error}", flush=True)
    time.sleep(5)
