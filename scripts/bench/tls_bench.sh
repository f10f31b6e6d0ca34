#!/bin/bash
# HTTPS through devhost next to nginx (ssl + http2), Caddy (tls, h1 + h2) and HAProxy (ssl, alpn
# h2,http/1.1), one proxy thread each, all four reverse proxies in front of the same nginx upstream
# (a 100-byte 200, keep-alive pools everywhere), measured interleaved in one run:
#   HTTPS/1.1 keep-alive: wrk -t2 -c64 -d D
#   HTTP/2: h2load -c10 -m10 -t1 -D D (100 streams over 10 connections)
#   new TLS connections: wrk -t2 -c16 -H 'Connection: close' -d D: every request on a new connection
#     with a full handshake (wrk keeps no TLS session between connections: no resumption), so
#     requests/s is handshakes/s, each with its one request
# Each cell gives req/s and the proxy's CPU µs per request (from /proc/PID/stat); medians and the
# ratios devhost/anchor at the end.
# devhost runs on one thread without access log, with its own CA's leaves (P-256) from a CA made in a
# temporary XDG_DATA_HOME; the anchors get one P-256 certificate made here with openssl (the
# benchmark's tool; devhost itself never shells out to it). Caddy runs with GOMAXPROCS=1.
#   scripts/bench/tls_bench.sh [ROUNDS] [SECONDS]        (DEVHOST=.build/release/devhost by default)
# Installs nginx, wrk, h2load, caddy and haproxy when missing (apt); an anchor that still is not
# there is left out. Ports 18180, 18201, 18443-18446.
set -u
cd "$(dirname "$0")/../.."
missing=()
for pair in nginx:nginx wrk:wrk h2load:nghttp2-client openssl:openssl caddy:caddy haproxy:haproxy; do
  command -v ${pair%%:*} >/dev/null || missing+=(${pair#*:})
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]} (the HTTPS benchmark's clients and anchors)"
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
for tool in nginx wrk h2load openssl; do
  command -v $tool >/dev/null || { echo "needs $tool (apt-get install nginx wrk nghttp2-client openssl)" >&2; exit 2; }
done
DEVHOST=${DEVHOST:-$PWD/.build/release/devhost}
R=${1:-5}; S=${2:-5}
D=$(mktemp -d)
chmod 755 $D
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=api.localhost \
  -addext subjectAltName=DNS:api.localhost,DNS:localhost,IP:127.0.0.1 -keyout $D/key.pem -out $D/cert.pem 2>/dev/null
cat $D/cert.pem $D/key.pem > $D/both.pem
cat > $D/upstream.conf <<NG
worker_processes 1; daemon off; pid $D/up.pid; error_log $D/up.err;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000;
  server { listen 127.0.0.1:18180 backlog=4096; location / { return 200 "$(head -c 100 /dev/zero | tr '\0' x)"; } } }
NG
cat > $D/nginx.conf <<NG
worker_processes 1; daemon off; pid $D/ng.pid; error_log $D/ng.err;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000;
  upstream up { server 127.0.0.1:18180; keepalive 256; keepalive_requests 1000000; }
  server {
    listen 127.0.0.1:18443 ssl http2 backlog=4096;
    ssl_certificate $D/cert.pem; ssl_certificate_key $D/key.pem; ssl_protocols TLSv1.2 TLSv1.3;
    location / {
      proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection "";
      proxy_set_header Host \$host; proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto \$scheme;
    }
  }
}
NG
cat > $D/Caddyfile <<CF
{
	admin off
	auto_https off
	storage file_system $D/caddy
	servers {
		protocols h1 h2
	}
}
https://api.localhost:18445, https://127.0.0.1:18445 {
	bind 127.0.0.1
	tls $D/cert.pem $D/key.pem
	reverse_proxy 127.0.0.1:18180 {
		transport http {
			keepalive 60s
			keepalive_idle_conns 256
			keepalive_idle_conns_per_host 256
		}
	}
}
CF
cat > $D/haproxy.cfg <<HA
global
    nbthread 1
    maxconn 4096
    tune.ssl.default-dh-param 2048
defaults
    mode http
    option http-keep-alive
    option forwardfor
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    timeout http-keep-alive 60s
frontend fe
    bind 127.0.0.1:18446 ssl crt $D/both.pem alpn h2,http/1.1
    http-request set-header X-Forwarded-Proto https
    default_backend be
backend be
    http-reuse safe
    server up1 127.0.0.1:18180
HA
setsid nginx -c $D/upstream.conf & UP=$!
setsid nginx -c $D/nginx.conf & NG=$!
XDG_DATA_HOME=$D/data XDG_RUNTIME_DIR=$D setsid $DEVHOST proxy --proxy-port 18201 --https-port 18444 --threads 1 --log-format off \
  --route api.localhost=127.0.0.1:18180 > $D/devhost.log 2>&1 & DH=$!
PIDS="$UP $NG $DH"
# name port pid-of-the-worker (filled in once up)
TARGETS=("devhost 18444 $DH")
CY=; HP=
if command -v caddy >/dev/null; then
  HOME=$D XDG_DATA_HOME=$D/caddy XDG_CONFIG_HOME=$D/caddy GOMAXPROCS=1 setsid caddy run --config $D/Caddyfile \
    --adapter caddyfile > $D/caddy.log 2>&1 & CY=$!
  PIDS="$PIDS $CY"
fi
if command -v haproxy >/dev/null; then
  setsid haproxy -db -f $D/haproxy.cfg > $D/haproxy.log 2>&1 & HP=$!
  PIDS="$PIDS $HP"
fi
trap 'kill $PIDS 2>/dev/null; wait 2>/dev/null; rm -rf $D' EXIT
ready() { curl -sk -o /dev/null --max-time 1 -H "Host: api.localhost" https://127.0.0.1:$1/; }
for port in 18444 18443 ${CY:+18445} ${HP:+18446}; do
  for i in $(seq 100); do ready $port && break; sleep 0.1; done
  ready $port || { echo "the proxy on $port did not answer; its log:" >&2; cat $D/*.log >&2; exit 1; }
done
# nginx's worker is the child of its master; the master does no request work.
TARGETS+=("nginx 18443 $(pgrep -P $NG | head -1)")
[ -n "$CY" ] && TARGETS+=("caddy 18445 $CY")
[ -n "$HP" ] && TARGETS+=("haproxy 18446 $HP")
cpu() { awk '{print $14+$15}' /proc/$1/stat; }
per_request() { python3 -c "print(round(($2-$1)*1e6/$(getconf CLK_TCK)/max(1,$3),2))"; }
wrk_run() { # port pid [header] -> "rps cpu_us"
  local c0=$(cpu $2) out
  if [ -n "${3:-}" ]; then
    out=$(wrk -t2 -c16 -d$S -H "Host: api.localhost" -H "$3" https://127.0.0.1:$1/ 2>/dev/null)
  else
    out=$(wrk -t2 -c64 -d$S -H "Host: api.localhost" https://127.0.0.1:$1/ 2>/dev/null)
  fi
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
# rounds: "round test target rps cpu" lines
for r in $(seq $R); do
  for test in https1.1 h2 handshake; do
    line="round $r $test"
    for t in "${TARGETS[@]}"; do
      set -- $t
      case $test in
        https1.1) res=$(wrk_run $2 $3) ;;
        h2) res=$(h2_run $2 $3) ;;
        handshake) res=$(wrk_run $2 $3 "Connection: close") ;;
      esac
      echo "$r $test $1 $res" >> $D/rounds
      line="$line $1 $res"
    done
    echo "$line"
  done
done
python3 - $D/rounds <<'PY'
import statistics, sys
cells = {}
for line in open(sys.argv[1]):
    r, test, target, rps, cpu = line.split()
    cells.setdefault((test, target), []).append((float(rps or 0), float(cpu)))
labels = {"https1.1": "HTTPS/1.1 keep-alive (wrk -c64)", "h2": "HTTP/2 (h2load -c10 -m10)",
          "handshake": "new TLS connections, full handshake + 1 request each (wrk -c16, Connection: close)"}
targets = []
for (_, target) in cells:
    if target not in targets: targets.append(target)
for test, label in labels.items():
    med = {t: (statistics.median(v[0] for v in cells[(test, t)]), statistics.median(v[1] for v in cells[(test, t)]))
           for t in targets if (test, t) in cells}
    print(f"{label}:")
    for t, (rps, cpu) in med.items():
        ratio = "" if t == "devhost" else f"  devhost/{t} {med['devhost'][0] / rps:.2f}" if rps else ""
        print(f"  {t:8} median {rps:8.0f} req/s, {cpu:7.2f} CPU us/req{ratio}")
PY
