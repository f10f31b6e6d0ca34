"""A WebSocket over one HTTP/2 stream (RFC 8441 extended CONNECT), as a browser opens it, written
with hyper-h2 (PyPI `h2`) and Python's ssl: the client checks the server's certificate against
the CA, offers ALPN h2, reads the server's SETTINGS, sends CONNECT with `:protocol: websocket`,
then WebSocket frames (RFC 6455, masked) as DATA, and prints one JSON line of what it saw.

    h2_websocket.py HOST_HEADER PORT CA_FILE PATH MESSAGE...
"""
import json
import os
import socket
import ssl
import struct
import sys

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings


def ws_frame(opcode, payload):
    mask = os.urandom(4)
    head = bytes([0x80 | opcode])
    if len(payload) < 126:
        head += bytes([0x80 | len(payload)])
    else:
        head += bytes([0x80 | 126]) + struct.pack("!H", len(payload))
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def ws_parse(buffer):
    """(opcode, payload, rest) for the first whole unmasked frame, or None."""
    if len(buffer) < 2:
        return None
    opcode, length, at = buffer[0] & 0x0F, buffer[1] & 0x7F, 2
    if length == 126:
        if len(buffer) < 4:
            return None
        length, at = struct.unpack("!H", buffer[2:4])[0], 4
    if len(buffer) < at + length:
        return None
    return opcode, buffer[at:at + length], buffer[at + length:]


def main():
    host, port, ca, path, messages = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5:]
    context = ssl.create_default_context(cafile=ca)
    context.set_alpn_protocols(["h2"])
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock = context.wrap_socket(raw, server_hostname=host)
    result = {"alpn": sock.selected_alpn_protocol(), "echoes": []}
    conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=True))
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    events = []

    def pump():
        data = sock.recv(65536)
        if not data:
            raise EOFError("the server closed the connection")
        for event in conn.receive_data(data):
            events.append(event)
        out = conn.data_to_send()
        if out:
            sock.sendall(out)

    def wait_for(kind, stream=None):
        for _ in range(1000):
            for event in events:
                if isinstance(event, kind) and (stream is None or getattr(event, "stream_id", None) == stream):
                    events.remove(event)
                    return event
            pump()
        raise TimeoutError(kind.__name__)

    settings = wait_for(h2.events.RemoteSettingsChanged)
    enable = settings.changed_settings.get(h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL)
    result["enable_connect_protocol"] = enable.new_value if enable else None
    stream = conn.get_next_available_stream_id()
    conn.send_headers(stream, [
        (":method", "CONNECT"), (":protocol", "websocket"), (":scheme", "https"), (":path", path),
        (":authority", host), ("sec-websocket-version", "13"), ("origin", f"https://{host}"),
    ])
    sock.sendall(conn.data_to_send())
    response = wait_for(h2.events.ResponseReceived, stream)
    headers = {k.decode(): v.decode() for k, v in response.headers}
    result["status"] = headers.get(":status")
    result["headers"] = headers
    if headers.get(":status") == "200":
        buffer = b""
        for message in messages:
            conn.send_data(stream, ws_frame(0x1, message.encode()))
            sock.sendall(conn.data_to_send())
            while (frame := ws_parse(buffer)) is None:
                data = wait_for(h2.events.DataReceived, stream)
                conn.acknowledge_received_data(data.flow_controlled_length, stream)
                buffer += data.data
            opcode, payload, buffer = frame
            result["echoes"].append(payload.decode())
        # A close frame, then the end of this side's stream; the server's close frame and END_STREAM follow.
        try:
            conn.send_data(stream, ws_frame(0x8, struct.pack("!H", 1000)), end_stream=True)
            sock.sendall(conn.data_to_send())
        except h2.exceptions.StreamClosedError:
            result["closed_before_close_frame"] = True
        ended = False
        for _ in range(1000):
            for event in list(events):
                events.remove(event)
                if isinstance(event, h2.events.StreamEnded) and event.stream_id == stream:
                    ended = True
                if isinstance(event, h2.events.StreamReset) and event.stream_id == stream:
                    result["reset"] = event.error_code
                    ended = True
            if ended:
                break
            pump()
        result["stream_ended"] = ended
    sock.close()
    print(json.dumps(result))


main()
