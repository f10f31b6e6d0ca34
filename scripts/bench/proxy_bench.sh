#!/usr/bin/env bash
# The proxy next to nginx, Caddy and HAProxy, measured in one run by the shared proxy-compare.sh.
# devhost gets the same thread budget as the anchors (--proxy-threads, default 1) and no access log,
# as the anchors run without one (unless --access-log is passed through).
set -euo pipefail
cd "$(dirname "$0")/../.."
compare=../shared/bench/proxy-compare.sh
[ -x "$compare" ] || compare="$(dirname "$0")/../../../shared/bench/proxy-compare.sh"
if ! command -v wrk >/dev/null || ! command -v nginx >/dev/null; then
  echo "installing wrk nginx caddy haproxy (the benchmark's anchors)"
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq wrk nginx caddy haproxy >/dev/null
fi
devhost="${DEVHOST:-$PWD/.build/release/devhost}"
# BENCH_ROUTES is "host=127.0.0.1:port host=127.0.0.1:port"; each becomes a --route.
# With --access-log, proxy-compare.sh sets BENCH_ACCESS_LOG to the file each proxy logs to: devhost
# then writes its default (human) access log there, as the anchors write theirs.
proxy_cmd='exec '"$devhost"' proxy --proxy-port "$BENCH_LISTEN_PORT" --threads "$BENCH_PROXY_THREADS" $( [ -n "${BENCH_ACCESS_LOG:-}" ] && printf -- "--log-format human --access-log %s" "$BENCH_ACCESS_LOG" || printf -- "--log-format off") $(for r in $BENCH_ROUTES; do printf -- "--route %s " "$r"; done)'
DEVHOST_ROUTES=/nonexistent/routes.yml exec bash "$compare" --proxy "$proxy_cmd" --proxy-name devhost "$@"
