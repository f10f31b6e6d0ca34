"""Peers for the protocol health check tests, each listening on a loopback port from the OS and
printing it on the first line of stdout; they run until the test stops them.

  silent                  accepts connections and reads, but never says a word
  garbage                 greets every connection as an SSH server would (a probe pointed at the wrong port)
  mysql-blocked           sends the error packet a MySQL server sends instead of its greeting to a blocked host
  kafka [wrong-id]        a stand-in for a Kafka broker: answers ApiVersions v0-v3 requests as the Kafka
                          protocol specifies (v0 response body); `wrong-id` answers with another
                          correlation id. No real broker runs here: it needs a JVM and takes seconds to start.
"""
import socket
import struct
import sys
import threading

# (api key, min version, max version) as a Kafka 3.7 broker lists them, abridged.
KAFKA_APIS = [(0, 0, 9), (1, 0, 15), (2, 0, 8), (3, 0, 12), (8, 0, 8), (9, 0, 8), (10, 0, 4), (18, 0, 3), (19, 0, 7)]


def read_exactly(conn, count):
    data = b""
    while len(data) < count:
        chunk = conn.recv(count - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


def kafka(conn, wrong_id):
    while True:
        size = struct.unpack(">i", read_exactly(conn, 4))[0]
        request = read_exactly(conn, size)
        api_key, api_version, correlation_id = struct.unpack(">hhi", request[:8])
        if api_key != 18:
            return  # a broker closes the connection on a request it cannot parse in this state
        if wrong_id:
            correlation_id += 1
        error = 0 if api_version <= 3 else 35  # UNSUPPORTED_VERSION, still listing what it speaks
        body = struct.pack(">ihi", correlation_id, error, len(KAFKA_APIS))
        body += b"".join(struct.pack(">hhh", *api) for api in KAFKA_APIS)
        conn.sendall(struct.pack(">i", len(body)) + body)


def serve(conn, mode, args):
    try:
        if mode == "garbage":
            conn.sendall(b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n")
        if mode == "mysql-blocked":
            text = b"Host '127.0.0.1' is blocked because of many connection errors; unblock with 'mariadb-admin flush-hosts'"
            payload = b"\xff" + struct.pack("<H", 1129) + text
            conn.sendall(struct.pack("<I", len(payload))[:3] + b"\x00" + payload)
        if mode == "kafka":
            kafka(conn, "wrong-id" in args)
        while conn.recv(4096):
            pass
    except (EOFError, OSError):
        pass
    finally:
        conn.close()


def main():
    mode, args = sys.argv[1], sys.argv[2:]
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    print(listener.getsockname()[1], flush=True)
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=serve, args=(conn, mode, args), daemon=True).start()


if __name__ == "__main__":
    main()
