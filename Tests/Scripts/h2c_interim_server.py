"""An h2c server (HTTP/2 with prior knowledge, written with hyper-h2) that answers every request
with an interim `100 Continue` head first, then `200` with a body saying how many request bytes
it read: the shape of a service that honours `Expect: 100-continue` over HTTP/2.

    h2c_interim_server.py      prints "port N" once it listens on 127.0.0.1, serves until killed
"""
import socket
import sys
import threading

import h2.config
import h2.connection
import h2.events
import h2.exceptions


def serve(conn):
    h2conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=False))
    h2conn.initiate_connection()
    conn.sendall(h2conn.data_to_send())
    received = {}
    try:
        while True:
            data = conn.recv(65536)
            if not data:
                return
            for event in h2conn.receive_data(data):
                if isinstance(event, h2.events.RequestReceived):
                    received[event.stream_id] = 0
                    h2conn.send_headers(event.stream_id, [(":status", "100")])
                elif isinstance(event, h2.events.DataReceived):
                    received[event.stream_id] = received.get(event.stream_id, 0) + len(event.data)
                    h2conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                elif isinstance(event, h2.events.StreamEnded) and event.stream_id in received:
                    answer(h2conn, event.stream_id, received.pop(event.stream_id))
            conn.sendall(h2conn.data_to_send())
    except (OSError, h2.exceptions.ProtocolError):
        return
    finally:
        conn.close()


def answer(h2conn, stream_id, count):
    body = f"read {count} bytes".encode()
    h2conn.send_headers(stream_id, [(":status", "200"), ("content-length", str(len(body)))])
    h2conn.send_data(stream_id, body, end_stream=True)


def main():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    print(f"port {listener.getsockname()[1]}", flush=True)
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
