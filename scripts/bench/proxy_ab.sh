#!/bin/bash
# Before/after of a proxy change: two devhost binaries side by side, interleaved. An nginx upstream
# answers a 100-byte 200; each proxy runs on one thread without access log on its own loopback
# port; wrk -t2 -c64 -d3 runs against A, then B, ROUNDS times; each line gives req/s and the
# proxy's CPU µs per request (from /proc/PID/stat). Compare medians; swap A and B for a second set.
#   scripts/bench/proxy_ab.sh OLD/devhost .build/release/devhost 10
# A_ARGS and B_ARGS are added to each proxy's command line: the request inspector's cost is
#   B_ARGS=--inspect scripts/bench/proxy_ab.sh .build/release/devhost .build/release/devhost 10
# and a 0% fault rule's: B_ARGS='--fault=api.localhost?error=503&rate=0&for=1h' (no spaces: the value is split).
# Needs nginx and wrk (scripts/bench/proxy_bench.sh installs them). Ports 18080, 18101-18104.
set -u
command -v wrk >/dev/null && command -v nginx >/dev/null || { echo 'needs wrk and nginx (apt-get install wrk nginx)' >&2; exit 2; }
A=$1; B=$2; R=${3:-8}
D=$(mktemp -d)
# A binary with HTTPS (issue 18) serves it beside the measured plain port, as in daily use: on a port
# of its own (A 18103, B 18104), with its CA in the temporary folder rather than the user's. Older
# binaries ignore both.
export XDG_DATA_HOME=$D/data
cat > $D/nginx.conf <<NG
worker_processes 1; daemon off; pid $D/nginx.pid; error_log $D/err.log;
events { worker_connections 4096; }
http { access_log off; server { listen 127.0.0.1:18080; location / { return 200 "$(head -c 100 /dev/zero | tr '\0' x)"; } } }
NG
setsid nginx -c $D/nginx.conf & NG=$!
DEVHOST_EDGE_HTTPS_PORT=18103 setsid $A proxy --proxy-port 18101 --threads 1 --log-format off --route api.localhost=127.0.0.1:18080 ${A_ARGS:-} > /dev/null 2>&1 & PA=$!
DEVHOST_EDGE_HTTPS_PORT=18104 setsid $B proxy --proxy-port 18102 --threads 1 --log-format off --route api.localhost=127.0.0.1:18080 ${B_ARGS:-} > /dev/null 2>&1 & PB=$!
trap 'kill $NG $PA $PB 2>/dev/null; rm -rf $D' EXIT
for i in $(seq 50); do curl -s -o /dev/null -H "Host: api.localhost" http://127.0.0.1:18101/ && curl -s -o /dev/null -H "Host: api.localhost" http://127.0.0.1:18102/ && break; sleep 0.1; done
cpu() { awk '{print $14+$15}' /proc/$1/stat; }
run() { # port pid -> "reqs cpu_us_per_req"
  local c0=$(cpu $2)
  local out=$(wrk -t2 -c64 -d3 -H "Host: api.localhost" http://127.0.0.1:$1/ 2>/dev/null)
  local c1=$(cpu $2)
  local reqs=$(echo "$out" | awk '/requests in/ {print $1}')
  local rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  echo "$rps $(python3 -c "print(round(($c1-$c0)*1e6/$(getconf CLK_TCK)/$reqs,2))")"
}
for r in $(seq $R); do
  a=$(run 18101 $PA); b=$(run 18102 $PB)
  echo "round $r A $a B $b" | tee -a $D/rounds
done
python3 - $D/rounds <<'PY'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
for name, rps, cpu in (("A", 3, 4), ("B", 6, 7)):
    print(f"{name}: median {statistics.median(float(r[rps]) for r in rows):.0f} req/s, "
          f"{statistics.median(float(r[cpu]) for r in rows):.2f} CPU us/req")
PY
