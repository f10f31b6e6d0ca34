#!/bin/bash
# HTTPS through devhost next to nginx (ssl + http2, one worker), both reverse proxies in front of the
# same nginx upstream (a 100-byte 200, keep-alive pools on both), measured interleaved in one run:
#   HTTPS/1.1 keep-alive: wrk -t2 -c64 -d D
#   HTTP/2: h2load -c10 -m10 -t1 -D D (100 streams over 10 connections)
# Each line gives req/s and the proxy's CPU µs per request (from /proc/PID/stat); medians at the end.
# devhost runs on one thread without access log, with its own CA's leaves (P-256) from a CA made in a
# temporary XDG_DATA_HOME; nginx gets a P-256 certificate made here with openssl (the benchmark's
# tool; devhost itself never shells out to it).
#   scripts/bench/tls_bench.sh [ROUNDS] [SECONDS]        (DEVHOST=.build/release/devhost by default)
# Needs nginx, wrk, h2load (apt-get install nginx wrk nghttp2-client). Ports 18180, 18443, 18444, 18201.
set -u
cd "$(dirname "$0")/../.."
for tool in nginx wrk h2load openssl; do
  command -v $tool >/dev/null || { echo "needs $tool (apt-get install nginx wrk nghttp2-client openssl)" >&2; exit 2; }
done
DEVHOST=${DEVHOST:-$PWD/.build/release/devhost}
R=${1:-5}; S=${2:-5}
D=$(mktemp -d)
chmod 755 $D
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=api.localhost \
  -addext subjectAltName=DNS:api.localhost,DNS:localhost,IP:127.0.0.1 -keyout $D/key.pem -out $D/cert.pem 2>/dev/null
cat > $D/upstream.conf <<NG
worker_processes 1; daemon off; pid $D/up.pid; error_log $D/up.err;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000;
  server { listen 127.0.0.1:18180; location / { return 200 "$(head -c 100 /dev/zero | tr '\0' x)"; } } }
NG
cat > $D/nginx.conf <<NG
worker_processes 1; daemon off; pid $D/ng.pid; error_log $D/ng.err;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000;
  upstream up { server 127.0.0.1:18180; keepalive 256; keepalive_requests 1000000; }
  server {
    listen 127.0.0.1:18443 ssl http2;
    ssl_certificate $D/cert.pem; ssl_certificate_key $D/key.pem; ssl_protocols TLSv1.2 TLSv1.3;
    location / {
      proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection "";
      proxy_set_header Host \$host; proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto \$scheme;
    }
  }
}
NG
setsid nginx -c $D/upstream.conf & UP=$!
setsid nginx -c $D/nginx.conf & NG=$!
XDG_DATA_HOME=$D/data XDG_RUNTIME_DIR=$D setsid $DEVHOST proxy --proxy-port 18201 --https-port 18444 --threads 1 --log-format off \
  --route api.localhost=127.0.0.1:18180 > $D/devhost.log 2>&1 & DH=$!
trap 'kill $UP $NG $DH 2>/dev/null; wait 2>/dev/null; rm -rf $D' EXIT
for i in $(seq 100); do
  curl -sk -o /dev/null -H "Host: api.localhost" https://127.0.0.1:18444/ && curl -sk -o /dev/null https://127.0.0.1:18443/ && break
  sleep 0.1
done
# nginx's worker is the child of its master; the master does no request work.
NGW=$(pgrep -P $NG | head -1)
cpu() { awk '{print $14+$15}' /proc/$1/stat; }
per_request() { python3 -c "print(round(($2-$1)*1e6/$(getconf CLK_TCK)/max(1,$3),2))"; }
wrk_run() { # port pid -> "rps cpu_us"
  local c0=$(cpu $2)
  local out=$(wrk -t2 -c64 -d$S -H "Host: api.localhost" https://127.0.0.1:$1/ 2>/dev/null)
  local c1=$(cpu $2)
  echo "$(echo "$out" | awk '/Requests\/sec/ {print $2}') $(per_request $c0 $c1 $(echo "$out" | awk '/requests in/ {print $1}'))"
}
h2_run() { # port pid -> "rps cpu_us"
  local c0=$(cpu $2)
  local out=$(h2load -c10 -m10 -t1 -D $S -H ':authority: api.localhost' https://127.0.0.1:$1/ 2>/dev/null)
  local c1=$(cpu $2)
  local done=$(echo "$out" | awk '/^requests:/ {print $8}')
  echo "$(echo "$out" | awk '/^finished in/ {print $4}') $(per_request $c0 $c1 $done)"
}
for r in $(seq $R); do
  echo "round $r https1.1 devhost $(wrk_run 18444 $DH) nginx $(wrk_run 18443 $NGW) h2 devhost $(h2_run 18444 $DH) nginx $(h2_run 18443 $NGW)" | tee -a $D/rounds
done
python3 - $D/rounds <<'PY'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
for label, base in (("HTTPS/1.1 (wrk -c64)", 3), ("HTTP/2 (h2load -c10 -m10)", 10)):
    d_rps, d_cpu, n_rps, n_cpu = ([float(r[base + i]) for r in rows] for i in (1, 2, 4, 5))
    print(f"{label}: devhost median {statistics.median(d_rps):.0f} req/s, {statistics.median(d_cpu):.2f} CPU us/req; "
          f"nginx {statistics.median(n_rps):.0f} req/s, {statistics.median(n_cpu):.2f} CPU us/req; "
          f"ratio {statistics.median(d_rps) / statistics.median(n_rps):.2f}")
PY
