"""h2c peers (HTTP/2 with prior knowledge, written with hyper-h2) for the proxy's h2c relay tests.

    h2c_peer.py server interim   answers every request with an interim `100 Continue` head, then
                                 `200` and a body saying how many request bytes it read
    h2c_peer.py server late N    answers other requests at once; holds requests for /abandoned
                                 until it has N, prints "holding N", waits until the client side
                                 sends anything more (the resets of those streams), and answers the
                                 N without reading it: answers that arrive after the client reset
                                 the streams, the late frames RFC 9113 §5.4.2 tells a client to expect
    h2c_peer.py abandon PORT AUTHORITY COUNT GOFILE
                                 sends COUNT requests for /abandoned on one connection to
                                 127.0.0.1:PORT, waits until GOFILE exists, and closes the connection
                                 with every call unanswered

A server prints "port N" once it listens on 127.0.0.1 and serves until killed.
"""
import os
import select
import socket
import sys
import threading
import time

import h2.config
import h2.connection
import h2.events
import h2.exceptions


def answer(h2conn, stream_id, count):
    body = f"read {count} bytes".encode()
    h2conn.send_headers(stream_id, [(":status", "200"), ("content-length", str(len(body)))])
    h2conn.send_data(stream_id, body, end_stream=True)


def serve(conn, mode, hold):
    h2conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=False))
    h2conn.initiate_connection()
    conn.sendall(h2conn.data_to_send())
    received = {}
    held = []
    try:
        while True:
            data = conn.recv(65536)
            if not data:
                return
            ended = []
            for event in h2conn.receive_data(data):
                if isinstance(event, h2.events.RequestReceived):
                    received[event.stream_id] = 0
                    if mode == "interim":
                        h2conn.send_headers(event.stream_id, [(":status", "100")])
                elif isinstance(event, h2.events.DataReceived):
                    received[event.stream_id] = received.get(event.stream_id, 0) + len(event.data)
                    h2conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                elif isinstance(event, h2.events.StreamEnded) and event.stream_id in received:
                    ended.append(event.stream_id)
                if isinstance(event, h2.events.RequestReceived) and mode == "late":
                    if dict(event.headers).get(b":path") == b"/abandoned":
                        held.append(event.stream_id)
            ended = [stream_id for stream_id in ended if stream_id not in held]
            if hold and len(held) >= hold:
                conn.sendall(h2conn.data_to_send())
                print(f"holding {len(held)}", flush=True)
                select.select([conn], [], [], 10)
                ended += held
                held = []
            for stream_id in ended:
                answer(h2conn, stream_id, received.pop(stream_id))
            conn.sendall(h2conn.data_to_send())
    except (OSError, h2.exceptions.ProtocolError):
        return
    finally:
        conn.close()


def server(mode, hold):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    print(f"port {listener.getsockname()[1]}", flush=True)
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=serve, args=(conn, mode, hold), daemon=True).start()


def abandon(port, authority, count, gofile):
    conn = socket.create_connection(("127.0.0.1", port), timeout=5)
    h2conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=True))
    h2conn.initiate_connection()
    for _ in range(count):
        stream_id = h2conn.get_next_available_stream_id()
        headers = [(":method", "GET"), (":scheme", "http"), (":authority", authority), (":path", "/abandoned")]
        h2conn.send_headers(stream_id, headers, end_stream=True)
    conn.sendall(h2conn.data_to_send())
    deadline = time.monotonic() + 10
    while not os.path.exists(gofile) and time.monotonic() < deadline:
        time.sleep(0.01)
    conn.close()
    print(f"abandoned {count}", flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "server":
        server(sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 0)
    elif sys.argv[1] == "abandon":
        abandon(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5])
