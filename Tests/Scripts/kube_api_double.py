"""A test double of a Kubernetes API server: just enough of one for the real `kubectl port-forward`.

No cluster runs here. This serves, over plain HTTP on a loopback port, what kubectl asks a cluster for
when it forwards a port: discovery (/api, /apis and their resource lists), one namespace holding a
Service, a Deployment and the Pod both select, and the Pod's `portforward` subresource. The forwarded
port is relayed to a real local server (`--relay CONTAINER_PORT=LOCAL_PORT`), so a client of kubectl's
local port talks to that server through kubectl and this double.

kubectl >= 1.31 asks for the portforward subresource as a WebSocket (subprotocol
`SPDY/3.1+portforward.k8s.io`) carrying SPDY/3.1, and falls back to a plain SPDY/3.1 upgrade when the
server refuses the WebSocket handshake; older kubectl only knows the latter. Both are served
(`--no-websocket` refuses the WebSocket, as an API server before 1.31 would). Inside SPDY, each local
connection kubectl accepts is two streams sharing a `requestid`: `streamtype: error`, on which the
server reports a failed forward, and `streamtype: data`, carrying the bytes.

  kube_api_double.py --namespace NS --app NAME --service-port P --relay 6379=PORT [--port N] [--no-websocket]

Prints `listening PORT` first, then one line per request. SIGUSR1 reschedules the pod: it gets a new
name, and every open port-forward session ends, as when a pod is deleted under kubectl.
"""
import argparse
import base64
import hashlib
import json
import signal
import socket
import struct
import sys
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

# SPDY/3's preset dictionary for header compression (draft 3, section 2.6.10.1): length-prefixed
# header names and values, then a run of common strings. 1,423 bytes.
_WORDS = (
    "options head post put delete trace accept accept-charset accept-encoding accept-language accept-ranges age allow "
    "authorization cache-control connection content-base content-encoding content-language content-length "
    "content-location content-md5 content-range content-type date etag expect expires from host if-match "
    "if-modified-since if-none-match if-range if-unmodified-since last-modified location max-forwards pragma "
    "proxy-authenticate proxy-authorization range referer retry-after server te trailer transfer-encoding upgrade "
    "user-agent vary via warning www-authenticate method get status"
).split() + ["200 OK", "version", "HTTP/1.1", "url", "public", "set-cookie", "keep-alive", "origin"]
_TAIL = (
    "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
    "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized403 Forbidden"
    "404 Not Found500 Internal Server Error501 Not Implemented503 Service Unavailable"
    "Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT"
    "chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,text/javascript,"
    "publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0."
)
SPDY_DICTIONARY = b"".join(struct.pack(">I", len(w)) + w.encode() for w in _WORDS) + _TAIL.encode()
assert hashlib.sha256(SPDY_DICTIONARY).hexdigest().startswith("51d27341373f923f")

SYN_STREAM, SYN_REPLY, RST_STREAM, PING, GOAWAY = 1, 2, 3, 6, 7
FLAG_FIN = 0x01
WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TUNNEL_PROTOCOL = "SPDY/3.1+portforward.k8s.io"


def log(line):
    print(line, flush=True)


class Cluster:
    """The one namespace the double serves; `generation` names the pod (a reschedule bumps it)."""

    def __init__(self, args):
        self.namespace = args.namespace
        self.app = args.app
        self.service_port = args.service_port
        self.relay = dict((int(k), int(v)) for k, v in (r.split("=") for r in args.relay))
        self.generation = 1
        self.lock = threading.Lock()
        self.sessions = set()

    @property
    def pod_name(self):
        return f"{self.app}-5d8f9c7b4-g{self.generation}"

    def labels(self):
        return {"app": self.app}

    def container(self):
        ports = [{"name": self.app, "containerPort": p, "protocol": "TCP"} for p in sorted(self.relay)]
        return {"name": self.app, "image": f"{self.app}:stand-in", "ports": ports}

    def pod(self):
        name = self.pod_name
        return {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": self.namespace, "uid": f"uid-{name}", "labels": self.labels(),
                         "creationTimestamp": "2026-01-01T00:00:00Z"},
            "spec": {"containers": [self.container()], "nodeName": "double-node"},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}],
                       "containerStatuses": [{"name": self.app, "ready": True, "restartCount": 0, "image": "", "imageID": "",
                                              "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}}}]},
        }

    def service(self):
        # The service port differs from the container's and names it, so kubectl must translate it.
        return {
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": self.app, "namespace": self.namespace, "uid": "uid-svc"},
            "spec": {"selector": self.labels(), "ports": [{"name": self.app, "port": self.service_port, "targetPort": self.app,
                                                           "protocol": "TCP"}]},
        }

    def deployment(self):
        return {
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": self.app, "namespace": self.namespace, "uid": "uid-deploy"},
            "spec": {"replicas": 1, "selector": {"matchLabels": self.labels()},
                     "template": {"metadata": {"labels": self.labels()}, "spec": {"containers": [self.container()]}}},
            "status": {"replicas": 1, "readyReplicas": 1, "availableReplicas": 1},
        }

    def reschedule(self):
        with self.lock:
            self.generation += 1
            sessions = list(self.sessions)
        log(f"rescheduled pod={self.pod_name} (ended {len(sessions)} port-forward sessions)")
        for conn in sessions:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def resource(name, kind, short=None, namespaced=True, verbs=("get", "list")):
    entry = {"name": name, "singularName": "", "namespaced": namespaced, "kind": kind, "verbs": list(verbs)}
    if short:
        entry["shortNames"] = [short]
    return entry


DISCOVERY = {
    "/version": {"major": "1", "minor": "32", "gitVersion": "v1.32.0-test-double", "platform": "linux/amd64"},
    "/api": {"kind": "APIVersions", "versions": ["v1"],
             "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]},
    "/apis": {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
        {"name": "apps", "versions": [{"groupVersion": "apps/v1", "version": "v1"}],
         "preferredVersion": {"groupVersion": "apps/v1", "version": "v1"}}]},
    "/api/v1": {"kind": "APIResourceList", "groupVersion": "v1", "resources": [
        resource("namespaces", "Namespace", "ns", namespaced=False), resource("pods", "Pod", "po"),
        resource("pods/portforward", "PodPortForwardOptions", verbs=("create", "get")), resource("services", "Service", "svc")]},
    "/apis/apps/v1": {"kind": "APIResourceList", "groupVersion": "apps/v1", "resources": [
        resource("deployments", "Deployment", "deploy"), resource("replicasets", "ReplicaSet", "rs")]},
}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    cluster: Cluster = None
    websocket = True

    def log_message(self, *args):
        pass

    def send_json(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def not_found(self, what):
        self.send_json(404, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": f"{what} not found",
                             "reason": "NotFound", "code": 404})

    def do_GET(self):
        log(f"GET {self.path}")
        url = urlparse(self.path)
        if url.path in DISCOVERY:
            return self.send_json(200, DISCOVERY[url.path])
        parts = url.path.strip("/").split("/")
        cluster = self.cluster
        prefix_core = ["api", "v1", "namespaces", cluster.namespace]
        prefix_apps = ["apis", "apps", "v1", "namespaces", cluster.namespace]
        if parts[:4] == prefix_core:
            rest = parts[4:]
            if rest == ["pods"]:
                selector = parse_qs(url.query).get("labelSelector", [""])[0]
                wanted = dict(kv.split("=", 1) for kv in selector.split(",") if "=" in kv)
                pods = [cluster.pod()] if all(cluster.labels().get(k) == v for k, v in wanted.items()) else []
                return self.send_json(200, {"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": pods})
            if rest == ["pods", cluster.pod_name]:
                return self.send_json(200, cluster.pod())
            if rest == ["pods", cluster.pod_name, "portforward"]:
                return self.port_forward(via_websocket=True)
            if rest == ["services", cluster.app]:
                return self.send_json(200, cluster.service())
        if parts[:5] == prefix_apps and parts[5:] == ["deployments", cluster.app]:
            return self.send_json(200, cluster.deployment())
        self.not_found(url.path)

    def do_POST(self):
        log(f"POST {self.path}")
        parts = urlparse(self.path).path.strip("/").split("/")
        if parts == ["api", "v1", "namespaces", self.cluster.namespace, "pods", self.cluster.pod_name, "portforward"]:
            return self.port_forward(via_websocket=False)
        self.not_found(self.path)

    def port_forward(self, via_websocket):
        upgrade = self.headers.get("Upgrade", "").lower()
        if via_websocket:
            protocols = [p.strip() for p in self.headers.get("Sec-WebSocket-Protocol", "").split(",")]
            if not self.websocket or upgrade != "websocket" or TUNNEL_PROTOCOL not in protocols:
                # What an API server without WebSocket port-forwarding answers: kubectl falls back to SPDY.
                return self.send_json(400, {"kind": "Status", "status": "Failure", "message": "upgrade refused", "code": 400})
            accept = base64.b64encode(hashlib.sha1((self.headers["Sec-WebSocket-Key"] + WEBSOCKET_GUID).encode()).digest())
            self.wfile.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                             b"Sec-WebSocket-Accept: " + accept + b"\r\nSec-WebSocket-Protocol: " + TUNNEL_PROTOCOL.encode() + b"\r\n\r\n")
            transport = WebSocketTransport(self.connection, self.rfile)
        else:
            if upgrade != "spdy/3.1":
                return self.send_json(400, {"kind": "Status", "status": "Failure", "message": "SPDY/3.1 upgrade expected"})
            self.wfile.write(b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
                             b"X-Stream-Protocol-Version: portforward.k8s.io\r\n\r\n")
            transport = RawTransport(self.connection, self.rfile)
        self.wfile.flush()
        self.close_connection = True
        pod = self.cluster.pod_name
        log(f"portforward pod={pod} via={'websocket' if via_websocket else 'spdy'}")
        with self.cluster.lock:
            self.cluster.sessions.add(self.connection)
        try:
            SPDYSession(transport, self.cluster, pod).serve()
        finally:
            with self.cluster.lock:
                self.cluster.sessions.discard(self.connection)
            log(f"portforward pod={pod} ended")


class RawTransport:
    def __init__(self, conn, rfile):
        self.conn, self.rfile, self.lock = conn, rfile, threading.Lock()

    def read(self):
        return self.rfile.read1(65536)

    def write(self, data):
        with self.lock:
            self.conn.sendall(data)


class WebSocketTransport:
    """The SPDY byte stream in binary WebSocket messages (RFC 6455; client frames are masked)."""

    def __init__(self, conn, rfile):
        self.conn, self.rfile, self.lock = conn, rfile, threading.Lock()

    def exactly(self, count):
        data = self.rfile.read(count)
        if len(data) < count:
            raise EOFError
        return data

    def read(self):
        while True:
            first, second = self.exactly(2)
            opcode, length = first & 0x0F, second & 0x7F
            if length == 126:
                length = struct.unpack(">H", self.exactly(2))[0]
            elif length == 127:
                length = struct.unpack(">Q", self.exactly(8))[0]
            mask = self.exactly(4) if second & 0x80 else b"\0\0\0\0"
            payload = bytes(b ^ mask[i % 4] for i, b in enumerate(self.exactly(length)))
            if opcode == 0x8:
                return b""
            if opcode == 0x9:
                self.frame(0xA, payload)
            elif opcode in (0x0, 0x2) and payload:
                return payload

    def frame(self, opcode, payload):
        size = len(payload)
        header = bytes([0x80 | opcode]) + (bytes([size]) if size < 126 else
                                           bytes([126]) + struct.pack(">H", size) if size < 65536 else
                                           bytes([127]) + struct.pack(">Q", size))
        with self.lock:
            self.conn.sendall(header + payload)

    def write(self, data):
        self.frame(0x2, data)


class SPDYSession:
    """The server side of one SPDY/3.1 port-forward connection."""

    def __init__(self, transport, cluster, pod):
        self.transport, self.cluster, self.pod = transport, cluster, pod
        self.buffer = b""
        self.inflate = zlib.decompressobj(zdict=SPDY_DICTIONARY)
        self.deflate = zlib.compressobj(zdict=SPDY_DICTIONARY)
        self.write_lock = threading.Lock()
        self.streams = {}  # stream id -> (type, port, request id)
        self.requests = {}  # request id -> {"error": id, "data": id, "socket": target}

    def exactly(self, count):
        while len(self.buffer) < count:
            chunk = self.transport.read()
            if not chunk:
                raise EOFError
            self.buffer += chunk
        data, self.buffer = self.buffer[:count], self.buffer[count:]
        return data

    def send_control(self, kind, flags, payload):
        self.send(struct.pack(">HHI", 0x8003, kind, (flags << 24) | len(payload)) + payload)

    def send_data(self, stream, payload, fin=False):
        self.send(struct.pack(">II", stream, ((FLAG_FIN if fin else 0) << 24) | len(payload)) + payload)

    def send(self, frame):
        with self.write_lock:
            self.transport.write(frame)

    def headers(self, block):
        data = self.inflate.decompress(block)
        count, offset, headers = struct.unpack_from(">I", data)[0], 4, {}
        for _ in range(count):
            (size,) = struct.unpack_from(">I", data, offset)
            name = data[offset + 4: offset + 4 + size].decode()
            offset += 4 + size
            (size,) = struct.unpack_from(">I", data, offset)
            headers[name.lower()] = data[offset + 4: offset + 4 + size].decode()
            offset += 4 + size
        return headers

    def serve(self):
        try:
            while True:
                head = self.exactly(8)
                word, flags_length = struct.unpack(">II", head)
                flags, length = flags_length >> 24, flags_length & 0xFFFFFF
                payload = self.exactly(length)
                if word & 0x80000000:
                    self.control(word & 0xFFFF, flags, payload)
                else:
                    self.data(word & 0x7FFFFFFF, flags, payload)
        except (EOFError, OSError, ConnectionError):
            pass
        finally:
            for request in self.requests.values():
                if request.get("socket"):
                    request["socket"].close()

    def control(self, kind, flags, payload):
        if kind == SYN_STREAM:
            stream = struct.unpack_from(">I", payload)[0] & 0x7FFFFFFF
            headers = self.headers(payload[10:])
            with self.write_lock:
                block = self.deflate.compress(struct.pack(">I", 0)) + self.deflate.flush(zlib.Z_SYNC_FLUSH)
                self.transport.write(struct.pack(">HHI", 0x8003, SYN_REPLY, len(block) + 4) + struct.pack(">I", stream) + block)
            kind_, port, request = headers.get("streamtype"), int(headers.get("port", "0")), headers.get("requestid", "")
            self.streams[stream] = (kind_, port, request)
            self.requests.setdefault(request, {})[kind_] = stream
            if kind_ == "data":
                self.open(request, port)
        elif kind == PING:
            self.send_control(PING, 0, payload)
        elif kind == RST_STREAM:
            stream = struct.unpack_from(">I", payload)[0] & 0x7FFFFFFF
            target = self.requests.get(self.streams.get(stream, (None, None, None))[2], {}).get("socket")
            if target:
                target.close()
        elif kind == GOAWAY:
            raise EOFError

    def open(self, request, port):
        entry = self.requests[request]
        local = self.cluster.relay.get(port)
        log(f"forward pod={self.pod} port={port} request={request}")
        try:
            if local is None:
                raise ConnectionRefusedError(f"the pod has no port {port}")
            entry["socket"] = socket.create_connection(("127.0.0.1", local), timeout=5)
            entry["socket"].settimeout(None)
        except OSError as error:
            # What the kubelet sends on the error stream when the container's port refuses.
            message = f"error forwarding port {port} to pod {self.pod}, uid : failed to connect to localhost:{port}: {error}"
            if "error" in entry:
                self.send_data(entry["error"], message.encode(), fin=True)
            self.send_data(entry["data"], b"", fin=True)
            return
        threading.Thread(target=self.pump, args=(entry,), daemon=True).start()

    def pump(self, entry):
        target = entry["socket"]
        try:
            while True:
                chunk = target.recv(65536)
                if not chunk:
                    break
                self.send_data(entry["data"], chunk)
        except OSError:
            pass
        try:
            self.send_data(entry["data"], b"", fin=True)
            if "error" in entry:
                self.send_data(entry["error"], b"", fin=True)
        except OSError:
            pass

    def data(self, stream, flags, payload):
        kind, _, request = self.streams.get(stream, (None, None, None))
        target = self.requests.get(request, {}).get("socket") if kind == "data" else None
        if target is None:
            return
        try:
            if payload:
                target.sendall(payload)
            if flags & FLAG_FIN:
                target.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--namespace", default="default")
    parser.add_argument("--app", default="redis")
    parser.add_argument("--service-port", type=int, default=16379)
    parser.add_argument("--relay", action="append", default=[], help="CONTAINER_PORT=LOCAL_PORT")
    parser.add_argument("--no-websocket", action="store_true")
    args = parser.parse_args()
    cluster = Cluster(args)
    Handler.cluster = cluster
    Handler.websocket = not args.no_websocket
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    signal.signal(signal.SIGUSR1, lambda *_: threading.Thread(target=cluster.reschedule, daemon=True).start())
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    log(f"listening {server.server_address[1]}")
    server.serve_forever()


if __name__ == "__main__":
    main()
