#!/bin/bash
# Before/after of a change to the HTTP/2 path: two devhost binaries side by side, interleaved, as
# proxy_ab.sh does for HTTP/1.1. An nginx upstream answers a 100-byte 200; each proxy runs on one
# thread without access log, its HTTPS port on its own CA in a temporary folder; h2load -c10 -m10
# -D 3 (100 streams over 10 connections, ALPN h2) runs against A, then B, ROUNDS times; each line
# gives req/s and the proxy's CPU µs per request (from /proc/PID/stat). Compare medians; swap A and
# B for a second set (the second of a pair tends to win on this machine).
#   scripts/bench/h2_ab.sh OLD/devhost .build/release/devhost 6
# Needs nginx, h2load and curl (scripts/bench/tls_bench.sh installs them). Ports 18180, 18211-18212,
# 18454-18455.
set -u
A=$1; B=$2; R=${3:-6}
for tool in nginx h2load curl; do
  command -v $tool >/dev/null || { echo "needs $tool (scripts/bench/tls_bench.sh installs it)" >&2; exit 2; }
done
D=$(mktemp -d)
chmod 755 $D
mkdir -p $D/a $D/b
cat > $D/upstream.conf <<NG
worker_processes 1; daemon off; pid $D/up.pid; error_log $D/up.err;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000;
  server { listen 127.0.0.1:18180; location / { return 200 "$(head -c 100 /dev/zero | tr '\0' x)"; } } }
NG
setsid nginx -c $D/upstream.conf & UP=$!
XDG_DATA_HOME=$D/a/data XDG_RUNTIME_DIR=$D/a setsid $A proxy --proxy-port 18211 --https-port 18454 --threads 1 \
  --log-format off --route api.localhost=127.0.0.1:18180 > $D/a.log 2>&1 & PA=$!
XDG_DATA_HOME=$D/b/data XDG_RUNTIME_DIR=$D/b setsid $B proxy --proxy-port 18212 --https-port 18455 --threads 1 \
  --log-format off --route api.localhost=127.0.0.1:18180 > $D/b.log 2>&1 & PB=$!
trap 'kill $UP $PA $PB 2>/dev/null; wait 2>/dev/null; rm -rf $D' EXIT
for port in 18454 18455; do
  for i in $(seq 100); do curl -sk -o /dev/null --max-time 1 -H "Host: api.localhost" https://127.0.0.1:$port/ && break; sleep 0.1; done
  curl -sk -o /dev/null --max-time 1 -H "Host: api.localhost" https://127.0.0.1:$port/ ||
    { echo "the proxy on $port did not answer; its log:" >&2; cat $D/*.log >&2; exit 1; }
done
cpu() { awk '{print $14+$15}' /proc/$1/stat; }
run() { # port pid -> "rps cpu_us_per_req"
  local c0=$(cpu $2)
  local out=$(h2load -c10 -m10 -t1 -D 3 -H ':authority: api.localhost' https://127.0.0.1:$1/ 2>/dev/null)
  local c1=$(cpu $2)
  local rps=$(echo "$out" | awk '/^finished in/ {print $4}')
  local done=$(echo "$out" | awk '/^requests:/ {print $8}')
  echo "$rps $(python3 -c "print(round(($c1-$c0)*1e6/$(getconf CLK_TCK)/max(1,${done:-0}),2))")"
}
run 18454 $PA > /dev/null; run 18455 $PB > /dev/null
for r in $(seq $R); do
  echo "round $r A $(run 18454 $PA) B $(run 18455 $PB)" | tee -a $D/rounds
done
python3 - $D/rounds <<'PY'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
for name, at in (("A", 3), ("B", 6)):
    print(f"{name}: median {statistics.median(float(r[at]) for r in rows):.0f} req/s, "
          f"{statistics.median(float(r[at + 1]) for r in rows):.2f} CPU us/req")
PY
