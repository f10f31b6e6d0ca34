/// An upstream for hostile-input tests that reads what the proxy sends with h11, a strict and
/// independent HTTP/1.1 parser (PyPI): whatever h11 refuses is recorded as an error, so a test
/// fails when devhost forwards bytes two servers could read differently. Every request it reads is
/// appended to `records.jsonl` as {target, method, headers, body}; `/raw/NAME` answers with fixed
/// bytes instead (see RAW), for the response side. Its port is written to `port`.
let strictUpstreamScript = #"""
    import h11, json, os, socket, sys, threading, time

    RAW = {
        # Content-Length and chunked together: the client must get only Transfer-Encoding.
        "cl-te": [b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"],
        # Chunked to an HTTP/1.0 request: the client must get the data without the framing.
        "chunked": [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nhello \r\n5\r\nworld\r\n0\r\n\r\n"],
        # Two identical lengths: the client gets one.
        "dup-cl": [b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok"],
        # A full answer, then a second response nobody asked for on the idle connection.
        "late": [b"HTTP/1.1 204 No Content\r\n\r\n", "late-sent", b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nsmuggle"],
        # Ten bytes of a hundred, then silence.
        "stall": [b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789", "sleep"],
    }
    lock = threading.Lock()

    def record(entry):
        with lock, open("records.jsonl", "a") as f:
            f.write(json.dumps(entry) + "\n")

    def serve(sock):
        conn = h11.Connection(h11.SERVER)
        request, body = None, b""
        try:
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    data = sock.recv(65536)
                    conn.receive_data(data)
                    if not data and conn.their_state is h11.IDLE:
                        return
                    continue
                if isinstance(event, h11.Request):
                    request, body = event, b""
                elif isinstance(event, h11.Data):
                    body += event.data
                elif isinstance(event, h11.EndOfMessage):
                    target = request.target.decode("latin-1")
                    headers = [[k.decode("latin-1"), v.decode("latin-1")] for k, v in request.headers]
                    record({"target": target, "method": request.method.decode(), "headers": headers, "body": body.decode("latin-1")})
                    name = target.split("/raw/")[1] if target.startswith("/raw/") else None
                    if name in RAW:
                        for part in RAW[name]:
                            if part == "late-sent":
                                time.sleep(0.3); continue
                            if part == "sleep":
                                time.sleep(30); return
                            sock.sendall(part)
                        if name == "late":
                            record({"target": "late-sent"})
                        # Whatever comes next on this connection is recorded, not answered.
                        while True:
                            data = sock.recv(65536)
                            if not data: return
                            record({"target": "after-raw", "raw": data.decode("latin-1")})
                    payload = json.dumps({"target": target, "headers": headers, "body": body.decode("latin-1")}).encode()
                    head = conn.send(h11.Response(status_code=200, headers=[("Content-Type", "application/json"), ("Content-Length", str(len(payload)))]))
                    sock.sendall(head + conn.send(h11.Data(data=payload)) + conn.send(h11.EndOfMessage()))
                    conn.start_next_cycle()
                elif isinstance(event, h11.ConnectionClosed):
                    return
        except h11.RemoteProtocolError as error:
            record({"target": "h11-error", "error": str(error)})
        except OSError:
            pass
        finally:
            sock.close()

    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    with open("port.tmp", "w") as f: f.write(str(listener.getsockname()[1]))
    os.rename("port.tmp", "port")
    while True:
        client, _ = listener.accept()
        threading.Thread(target=serve, args=(client,), daemon=True).start()
    """#

/// A raw client for the same tests: each case is sent on a connection of its own as bytes
/// (latin-1 in the JSON), and the proxy's answer is read until it closes the connection (every
/// case asks for that) or 10 s pass. Prints {name: {status, head, body, sent, closed, statuses}} as JSON
/// (`closed`: the proxy closed the connection, rather than the client giving up).
/// `stream: N` offers N MiB after the head (as fast as the proxy takes it) and reports how much it took.
let rawClientScript = #"""
    import json, re, socket, sys, time
    cases = json.load(open(sys.argv[1]))
    port = int(sys.argv[2])
    results = {}
    for case in cases:
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        sent = 0
        data = b""
        closed = False
        try:
            s.sendall(case["send"].encode("latin-1"))
            if case.get("stream"):
                s.setblocking(False)
                chunk = b"x" * 65536
                deadline = time.time() + 15
                total = case["stream"] * 1024 * 1024
                while sent < total and time.time() < deadline:
                    try:
                        more = s.recv(65536)
                        if not more: break
                        data += more
                        if b"\r\n\r\n" in data: break
                    except BlockingIOError:
                        pass
                    try:
                        sent += s.send(chunk)
                    except BlockingIOError:
                        time.sleep(0.001)
                    except OSError:
                        break
                s.setblocking(True)
                s.settimeout(10)
            while True:
                more = s.recv(65536)
                if not more:
                    closed = True
                    break
                data += more
        except OSError:
            pass
        s.close()
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        results[case["name"]] = {"status": lines[0], "head": lines[1:], "body": body.decode("latin-1"), "sent": sent, "closed": closed,
                                "statuses": re.findall(r"HTTP/1\.[01] \d\d\d[^\r\n]*", data.decode("latin-1"))}
    print(json.dumps(results))
    """#
