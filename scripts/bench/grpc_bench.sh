#!/bin/bash
# gRPC unary calls per second through devhost's proxy next to the same gRPC server called directly
# (issue #18). The services are two `protocol: grpc` services of one project started by `devhost up`
# on an edge proxy of this run's own (`devhost proxy --threads 1 --log-format off`, a temporary
# XDG_RUNTIME_DIR and XDG_DATA_HOME): a standalone `--route` is always HTTP/1.1, only a project's
# service can say `protocol: grpc`.
#   cpp: a C++ grpc++ server (scripts/bench/grpc_bench.cc, callback API, ~50 µs of CPU per call),
#        fast enough for the proxy's cost to show in the request rate;
#   py:  a Python grpcio server (grpc.aio, generic handler), the usual dev server, which is the
#        bottleneck (500+ µs per call): through devhost it shows the proxy's CPU, not its rate.
# Each server is called three ways with h2load -c10 -m10 -t1 (100 streams over 10 connections), as
# many calls as take about SECONDS, each call one gRPC message (5-byte prefix + the protobuf bytes
# of {1: "hello"}) as POST /bench.Echo/Unary with content-type application/grpc and te: trailers:
#   direct: h2c with prior knowledge to the server's port;
#   h2c:    the same through devhost's plain port (HTTP/2 prior knowledge, :authority picks the route);
#   h2:     through devhost's HTTPS port (ALPN h2, the CA's leaf; h2load does not verify it).
# devhost relays all streams of its one thread over one HTTP/2 connection to each server.
# Per cell: req/s, devhost's and the server's CPU µs per call (utime+stime from /proc/PID/stat),
# and calls that did not succeed. h2load cannot see the gRPC status in the trailers: before the
# rounds one curl call per server and way must come back with grpc-status 0 and the same bytes,
# and each cell must have every call succeeded with :status 200. Medians and ratios to direct last.
#   scripts/bench/grpc_bench.sh [ROUNDS] [SECONDS]        (DEVHOST=.build/release/devhost by default)
# Installs h2load (nghttp2-client), libgrpc++-dev, g++ and grpcio (PyPI, as scripts/install-deps.sh
# test) when missing. All ports are free ones the OS gives, on 127.0.0.1.
set -u
cd "$(dirname "$0")/../.."
missing=()
for pair in h2load:nghttp2-client curl:curl g++:g++ pkg-config:pkg-config; do
  command -v ${pair%%:*} >/dev/null || missing+=(${pair#*:})
done
pkg-config --exists grpc++ 2>/dev/null || missing+=(libgrpc++-dev)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]} (the gRPC benchmark's client and C++ server)"
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if ! python3 -c 'import grpc' 2>/dev/null; then
  echo "installing grpcio (PyPI)"
  python3 -m pip install -q 'grpcio==1.85.4'
fi
for tool in h2load curl g++; do
  command -v $tool >/dev/null || { echo "needs $tool (apt-get install nghttp2-client curl g++ libgrpc++-dev)" >&2; exit 2; }
done
DEVHOST=${DEVHOST:-$PWD/.build/release/devhost}
R=${1:-3}; S=${2:-5}
[ -x "$DEVHOST" ] || { echo "no devhost at $DEVHOST (make release, or DEVHOST=...)" >&2; exit 2; }
SERVER_BIN=$PWD/.build/grpc-bench/echo_server
if [ ! -x $SERVER_BIN ] || [ scripts/bench/grpc_bench.cc -nt $SERVER_BIN ]; then
  mkdir -p $(dirname $SERVER_BIN)
  g++ -O2 -std=c++17 -o $SERVER_BIN scripts/bench/grpc_bench.cc $(pkg-config --cflags --libs grpc++) ||
    { echo "could not build the C++ gRPC server" >&2; exit 2; }
fi
D=$(mktemp -d)
# The server binary is copied so that its path is this run's own: found by pgrep -f below.
cp $SERVER_BIN $D/echo_server
cat > $D/echo_server.py <<'PY'
import asyncio, os
import grpc

identity = lambda b: b

async def unary(request, context):
    return request

async def main():
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
        "bench.Echo", {"Unary": grpc.unary_unary_rpc_method_handler(unary, identity, identity)}),))
    server.add_insecure_port("127.0.0.1:%s" % os.environ["PORT"])
    await server.start()
    await server.wait_for_termination()

asyncio.run(main())
PY
# One gRPC message: not compressed (0), length (big-endian), the protobuf bytes of field 1 = "hello".
printf '\x00\x00\x00\x00\x07\x0a\x05hello' > $D/body
read CPP_PORT PY_PORT PLAIN TLS < <(python3 -c '
import socket
s = [socket.socket() for _ in range(4)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')
mkdir -p $D/gb $D/run $D/data
chmod 700 $D/run
cat > $D/gb/devhost.yml <<YML
name: gb
services:
  cpp:
    command: ["$D/echo_server"]
    port: $CPP_PORT
    protocol: grpc
    route: cpp
  py:
    command: ["python3", "$D/echo_server.py"]
    port: $PY_PORT
    protocol: grpc
    route: py
YML
export XDG_RUNTIME_DIR=$D/run XDG_DATA_HOME=$D/data DEVHOST_EDGE_PORT=$PLAIN DEVHOST_EDGE_HTTPS_PORT=$TLS \
  DEVHOST_ROUTES=$D/routes.yml NO_COLOR=1
unset DEVHOST_PROXY_PORT
setsid $DEVHOST proxy run --proxy-port $PLAIN --https-port $TLS --threads 1 --log-format off > $D/proxy.log 2>&1 & DH=$!
UP=
cleanup() {
  if [ -n "$UP" ]; then
    kill -INT $UP 2>/dev/null
    for i in $(seq 150); do kill -0 $UP 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- -$UP 2>/dev/null
  fi
  for pid in $(pgrep -f "$D/echo_server" 2>/dev/null); do kill $pid 2>/dev/null; done
  kill $DH 2>/dev/null
  wait 2>/dev/null
  rm -rf $D
}
trap cleanup EXIT
trap 'exit 130' INT TERM
for i in $(seq 100); do [ -S $D/run/devhost/edge-$PLAIN.sock ] && break; sleep 0.05; done
[ -S $D/run/devhost/edge-$PLAIN.sock ] || { echo "the proxy did not start; its log:" >&2; cat $D/proxy.log >&2; exit 1; }
(cd $D/gb && exec setsid $DEVHOST up > $D/up.log 2>&1) & UP=$!

# One unary call with curl: grpc-status 0 in the trailers and the request's bytes back. "way" is
# direct, h2c or h2; prints nothing when it worked, what came back otherwise.
call() { # server way
  local port=$CPP_PORT; [ $1 = py ] && port=$PY_PORT
  local args
  case $2 in
    direct) args=(--http2-prior-knowledge http://127.0.0.1:$port/bench.Echo/Unary) ;;
    h2c) args=(--http2-prior-knowledge -H "Host: $1.gb.localhost" http://127.0.0.1:$PLAIN/bench.Echo/Unary) ;;
    h2) args=(-k --http2 --resolve $1.gb.localhost:$TLS:127.0.0.1 https://$1.gb.localhost:$TLS/bench.Echo/Unary) ;;
  esac
  rm -f $D/answer
  local head=$(curl -s --max-time 3 -H 'content-type: application/grpc' -H 'te: trailers' --data-binary @$D/body \
    -D - -o $D/answer "${args[@]}" | tr -d '\r')
  if ! echo "$head" | grep -qx 'grpc-status: 0' || ! cmp -s $D/answer $D/body; then echo "${head:-no answer}"; fi
}
for server in cpp py; do
  for way in direct h2c h2; do
    for i in $(seq 300); do [ -z "$(call $server $way)" ] && break; sleep 0.1; done
    bad=$(call $server $way)
    [ -z "$bad" ] || { echo "$server $way: no grpc-status 0 with the echo: $bad" >&2; cat $D/up.log $D/proxy.log >&2; exit 1; }
  done
done
CPP_PID=$(pgrep -f "^$D/echo_server" | head -1)
PY_PID=$(pgrep -f "python3 $D/echo_server.py" | head -1)
[ -n "$CPP_PID" ] && [ -n "$PY_PID" ] || { echo "cannot find the servers' processes" >&2; exit 1; }
echo "load average at the start: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores; curl: grpc-status 0 and the echo for every server and way"

cpu() { awk '{print $14+$15}' /proc/$1/stat; }
per_call() { python3 -c "print(round(($2-$1)*1e6/$(getconf CLK_TCK)/max(1,$3),2))"; }
# h2load -n CALLS, not -D: a timed run ends with ~100 calls in flight that h2load abandons (and
# that made 2d4865b's relay stop answering the route, see docs/proxy.md). With -n every call is
# answered before h2load closes, and it must be: calls sent = calls done.
h2_run() { # server way calls -> "rps done notok devhost_us server_us"
  local port=$CPP_PORT pid=$CPP_PID url
  [ $1 = py ] && { port=$PY_PORT; pid=$PY_PID; }
  local auth=()
  case $2 in
    direct) url=http://127.0.0.1:$port/bench.Echo/Unary ;;
    h2c) url=http://127.0.0.1:$PLAIN/bench.Echo/Unary; auth=(-H ":authority: $1.gb.localhost") ;;
    h2) url=https://127.0.0.1:$TLS/bench.Echo/Unary; auth=(-H ":authority: $1.gb.localhost") ;;
  esac
  local d0=$(cpu $DH) s0=$(cpu $pid)
  local out=$(timeout $((S * 10 + 20)) h2load -c10 -m10 -t1 -n $3 -d $D/body -H 'content-type: application/grpc' \
    -H 'te: trailers' "${auth[@]}" $url 2>&1)
  local d1=$(cpu $DH) s1=$(cpu $pid)
  local rps=$(echo "$out" | awk '/^finished in/ {print $4}')
  # requests: N total, N started, N done, N succeeded, N failed, N errored, N timeout
  local done=$(echo "$out" | awk '/^requests:/ {print $6}')
  local ok=$(echo "$out" | awk '/^requests:/ {print $8}')
  local s200=$(echo "$out" | awk '/^status codes:/ {print $3}')
  [ -n "$rps" ] && [ -n "$done" ] || { echo "$1 $2: h2load did not finish $3 calls within $((S * 10 + 20)) s" >&2; rps=0; done=0; ok=0; s200=0; }
  local notok=$(( $3 - (ok < s200 ? ok : s200) ))
  local dus=-; [ $2 = direct ] || dus=$(per_call $d0 $d1 $done)
  echo "$rps $done $notok $dus $(per_call $s0 $s1 $done)"
}
# Calls per cell: about SECONDS at the rate of a first, unrecorded run (which also warms up).
declare -A CALLS
for server in cpp py; do
  for way in direct h2c h2; do
    first=2000; [ $server = py ] && first=500
    set -- $(h2_run $server $way $first)
    CALLS[$server-$way]=$(python3 -c "print(max($first, int($1 * $S) // 100 * 100))")
  done
done
echo "calls per cell (about $S s each): $(for k in "${!CALLS[@]}"; do printf '%s=%s ' $k ${CALLS[$k]}; done)"
for r in $(seq $R); do
  for server in cpp py; do
    for way in direct h2c h2; do
      res=$(h2_run $server $way ${CALLS[$server-$way]})
      echo "$r $server $way $res" >> $D/rounds
      echo "round $r $server $way: $res"
    done
  done
done
python3 - $D/rounds <<'PY'
import statistics, sys
cells = {}
for line in open(sys.argv[1]):
    r, server, way, rps, done, notok, dus, sus = line.split()
    cells.setdefault((server, way), []).append((float(rps), int(done), int(notok), dus, float(sus)))
names = {"cpp": "C++ grpc++", "py": "Python grpcio (aio)"}
ways = {"direct": "direct, h2c", "h2c": "devhost plain port, h2c", "h2": "devhost HTTPS port, h2"}
print("gRPC unary calls, h2load -c10 -m10 (100 streams over 10 connections), devhost on 1 thread; medians")
print(f"  {'server':20} {'way':26} {'calls/s':>9} {'/direct':>8} {'devhost us/call':>16} {'server us/call':>15} {'failed':>7}")
for server, name in names.items():
    direct = statistics.median(c[0] for c in cells[(server, "direct")])
    for way, label in ways.items():
        c = cells[(server, way)]
        rps = statistics.median(x[0] for x in c)
        dus = "-" if way == "direct" else f"{statistics.median(float(x[3]) for x in c):.1f}"
        sus = statistics.median(x[4] for x in c)
        failed = sum(x[2] for x in c)
        ratio = "" if way == "direct" else f"{rps / direct:.2f}"
        print(f"  {name:20} {label:26} {rps:9.0f} {ratio:>8} {dus:>16} {sus:15.1f} {failed:7}")
bad = sum(x[2] for c in cells.values() for x in c)
print("every call succeeded with :status 200 (h2load; grpc-status checked with curl before)" if bad == 0 else
      f"{bad} calls did not succeed with :status 200")
sys.exit(1 if bad else 0)
PY
