"""A gRPC server and client for devhost's gRPC tests, with no generated code: the service
devhost.test.Echo is defined with grpc's generic handlers on raw bytes.

  grpc_peer.py server            serves on $PORT (or a free port, printed as `port N`), with the
                                 grpc.health.v1 service; SetHealth(b"NOT_SERVING" | b"SERVING")
                                 sets the health of the server ("") and of "devhost.test.Echo".
  grpc_peer.py client TARGET     calls through TARGET and prints one JSON line of what came back.
     [--ca FILE --authority NAME]   over TLS with this CA (the name is the certificate's and :authority);
                                    with --authority alone, in plaintext (HTTP/2 with prior knowledge)
  grpc_peer.py health TARGET STATE --ca FILE --authority NAME   calls SetHealth(STATE)
"""
import json
import os
import signal
import sys
import threading
from concurrent import futures

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

SERVICE = "devhost.test.Echo"
identity = lambda b: b


def server():
    status = health.HealthServicer()
    status.set("", health_pb2.HealthCheckResponse.SERVING)
    status.set(SERVICE, health_pb2.HealthCheckResponse.SERVING)

    def unary(request, context):
        meta = dict(context.invocation_metadata())
        return b"echo:" + request + b" via " + meta.get("x-forwarded-proto", "-").encode()

    def stream(request, context):
        for i in range(int(request)):
            yield b"item %d" % i

    def bidi(requests, context):
        for request in requests:
            yield b"back:" + request

    def fail(request, context):
        context.set_trailing_metadata((("detail-bin", b"\x00\x01"), ("why", "asked")))
        context.abort(grpc.StatusCode.FAILED_PRECONDITION, "not today: " + request.decode())

    def set_health(request, context):
        state = getattr(health_pb2.HealthCheckResponse, request.decode())
        status.set("", state)
        status.set(SERVICE, state)
        return b"ok"

    handlers = {
        "Unary": grpc.unary_unary_rpc_method_handler(unary, identity, identity),
        "ServerStream": grpc.unary_stream_rpc_method_handler(stream, identity, identity),
        "Bidi": grpc.stream_stream_rpc_method_handler(bidi, identity, identity),
        "Fail": grpc.unary_unary_rpc_method_handler(fail, identity, identity),
        "SetHealth": grpc.unary_unary_rpc_method_handler(set_health, identity, identity),
    }
    srv = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    srv.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))
    health_pb2_grpc.add_HealthServicer_to_server(status, srv)
    port = srv.add_insecure_port("127.0.0.1:%s" % os.environ.get("PORT", "0"))
    srv.start()
    print("port %d" % port, flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    done.wait()
    srv.stop(0)


def channel(target, ca, authority):
    if not ca:
        # Plaintext: HTTP/2 with prior knowledge; the proxy routes by :authority.
        return grpc.insecure_channel(target, options=[("grpc.default_authority", authority)] if authority else None)
    with open(ca, "rb") as f:
        credentials = grpc.ssl_channel_credentials(root_certificates=f.read())
    options = [("grpc.ssl_target_name_override", authority), ("grpc.default_authority", authority)]
    return grpc.secure_channel(target, credentials, options=options)


def method(ch, kind, name):
    path = "/%s/%s" % (SERVICE, name)
    return getattr(ch, kind)(path, request_serializer=identity, response_deserializer=identity)


def client(target, ca, authority):
    ch = channel(target, ca, authority)
    out = {}
    out["unary"] = method(ch, "unary_unary", "Unary")(b"hello", timeout=5).decode()
    out["stream"] = [m.decode() for m in method(ch, "unary_stream", "ServerStream")(b"3", timeout=5)]
    # Each request is sent only after the previous answer came back: a proxy that held either
    # direction back would stall here.
    replies = []
    cond = threading.Condition()

    def requests():
        for sent, word in enumerate((b"a", b"b", b"c")):
            with cond:
                cond.wait_for(lambda: len(replies) >= sent, timeout=5)
            yield word

    for reply in method(ch, "stream_stream", "Bidi")(requests(), timeout=10):
        with cond:
            replies.append(reply.decode())
            cond.notify_all()
    out["bidi"] = replies
    try:
        method(ch, "unary_unary", "Fail")(b"x", timeout=5)
        out["fail"] = "no error"
    except grpc.RpcError as e:
        trailing = dict(e.trailing_metadata() or ())
        out["fail"] = {"code": e.code().name, "details": e.details(), "why": trailing.get("why"),
                       "bin": list(trailing.get("detail-bin", b""))}
    try:
        method(ch, "unary_unary", "Missing")(b"x", timeout=5)
    except grpc.RpcError as e:
        out["missing"] = e.code().name
    print(json.dumps(out), flush=True)


def call_unary(target, ca, authority, name, payload):
    try:
        reply = method(channel(target, ca, authority), "unary_unary", name)(payload.encode(), timeout=5)
        print(json.dumps({"ok": reply.decode()}), flush=True)
    except grpc.RpcError as e:
        print(json.dumps({"code": e.code().name, "details": e.details()}), flush=True)


if __name__ == "__main__":
    args = sys.argv[1:]
    opts = {}
    positional = []
    while args:
        a = args.pop(0)
        if a.startswith("--"):
            opts[a[2:]] = args.pop(0)
        else:
            positional.append(a)
    if positional[0] == "server":
        server()
    elif positional[0] == "client":
        client(positional[1], opts.get("ca"), opts.get("authority"))
    elif positional[0] == "health":
        call_unary(positional[1], opts.get("ca"), opts.get("authority"), "SetHealth", positional[2])
    elif positional[0] == "unary":
        call_unary(positional[1], opts.get("ca"), opts.get("authority"), "Unary", positional[2])
