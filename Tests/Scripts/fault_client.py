"""A keep-alive HTTP client for the fault-injection tests: sends COUNT requests for PATH with
Host HOST to the proxy on PORT over one connection (a new one after a close or a reset) and prints
one JSON object: statuses, X-Devhost-Fault ids, resets (RST), closes without an answer, other errors, per-request seconds, bytes."""
import http.client, json, sys, time

port, host, path, count = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
result = {"statuses": {}, "faults": {}, "unfaulted_errors": 0, "resets": 0, "closes": 0, "errors": [], "seconds": [], "bytes": []}
conn = None
for _ in range(count):
    if conn is None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    start = time.monotonic()
    try:
        conn.request("GET", path, headers={"Host": host})
        response = conn.getresponse()
        body = response.read()
        result["seconds"].append(time.monotonic() - start)
        result["bytes"].append(len(body))
        status = str(response.status)
        result["statuses"][status] = result["statuses"].get(status, 0) + 1
        fault = response.getheader("X-Devhost-Fault")
        if fault:
            result["faults"][fault] = result["faults"].get(fault, 0) + 1
        elif response.status >= 400:
            result["unfaulted_errors"] += 1
        if response.will_close:
            conn.close()
            conn = None
    except http.client.RemoteDisconnected:
        # A close (FIN) without an answer; a subclass of ConnectionResetError, so caught first.
        result["closes"] += 1
        conn.close()
        conn = None
    except ConnectionResetError:
        result["resets"] += 1
        conn.close()
        conn = None
    except Exception as error:
        result["errors"].append(repr(error))
        conn.close()
        conn = None
print(json.dumps(result))
