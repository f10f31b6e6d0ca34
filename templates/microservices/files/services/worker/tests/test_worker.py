"""Run with:  python3 -m unittest"""

import json
import os
import tempfile
import threading
import unittest
import urllib.error
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import worker

ITEMS = [{"id": 1, "name": "keyboard"}, {"id": 2, "name": "mouse"}]


class FakeApi(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/items":
            body = json.dumps(ITEMS).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        else:
            self.send_error(404)

    def log_message(self, *args):
        pass


class WorkerTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = ThreadingHTTPServer(("127.0.0.1", 0), FakeApi)
        cls.thread = threading.Thread(target=cls.server.serve_forever, daemon=True)
        cls.thread.start()
        cls.api_url = f"http://127.0.0.1:{cls.server.server_address[1]}"

    @classmethod
    def tearDownClass(cls):
        cls.server.shutdown()
        cls.server.server_close()

    def setUp(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.heartbeat = Path(tmp.name) / "heartbeat"

    def test_fetch_items(self):
        self.assertEqual(worker.fetch_items(self.api_url), ITEMS)

    def test_run_once_counts_items_and_records_a_heartbeat(self):
        self.assertFalse(worker.is_healthy(60, self.heartbeat))
        with self.assertLogs("worker", level="INFO") as logs:
            self.assertEqual(worker.run_once(self.api_url + "/", self.heartbeat), 2)
        self.assertIn("keyboard, mouse", logs.output[0])
        self.assertTrue(worker.is_healthy(60, self.heartbeat))

    def test_stale_heartbeat_is_unhealthy(self):
        self.heartbeat.touch()
        os.utime(self.heartbeat, (0, 0))
        self.assertFalse(worker.is_healthy(60, self.heartbeat))

    def test_unreachable_api_raises(self):
        with self.assertRaises(urllib.error.URLError):
            worker.fetch_items(self.api_url + "/missing-prefix")


if __name__ == "__main__":
    unittest.main()
