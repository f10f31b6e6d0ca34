#!/usr/bin/env bash
# make bench: performance next to anchors measured in the same run (ratios, not absolute targets).
set -euo pipefail
cd "$(dirname "$0")/.."
export BENCH_VENV="${BENCH_VENV:-$PWD/.build/bench-venv}"
if [ ! -x "$BENCH_VENV/bin/copier" ] || [ ! -x "$BENCH_VENV/bin/cookiecutter" ]; then
  echo "installing cookiecutter and copier into $BENCH_VENV"
  python3 -m venv "$BENCH_VENV"
  "$BENCH_VENV/bin/pip" install -q --disable-pip-version-check cookiecutter copier
fi
export DEVHOST="${DEVHOST:-$PWD/.build/release/devhost}"
"$BENCH_VENV/bin/python" scripts/bench/init_bench.py
python3 scripts/bench/up_bench.py
# Each built-in template: cold `up -d` with uv on PATH and without it, and save-to-new-answer (issue #23).
python3 scripts/bench/template_bench.py
# The shared edge: what registering costs `up` to its first routed request, next to a proxy of its own; RSS with 20 projects (issue #17).
python3 scripts/bench/edge_bench.py
# Forwards through a real sshd: restore a killed forward, 1 GiB vs plain ssh -L, 20 forwards up and RSS (issue #19).
python3 scripts/bench/forward_bench.py
# devhost top with 20 services for 60 s in tmux: CPU share, steady and peak RSS, PSS, where the pages are (issue #22).
python3 scripts/bench/top_bench.py
# Five interleaved rounds of 5 s rather than two of 10 s: on this 2-core machine one round differs
# from the next by 10-25% (the table's spread column), so the best of more rounds depends less on luck.
scripts/bench/proxy_bench.sh --rounds 5 --duration 5 --out .build/proxy-bench.json
# The request inspector's cost (issue #20): the same binary without (A) and with (B) recording,
# interleaved; req/s and CPU µs per request each.
echo "request inspector: A off, B on"
B_ARGS=--inspect scripts/bench/proxy_ab.sh "$DEVHOST" "$DEVHOST" 6
# A 0% fault rule on the measured route (B) next to no fault (A), then the other way round, same
# binary (issue 20: the fault path must cost nothing measurable when it does nothing).
zero="--fault=api.localhost?error=503&rate=0&for=1h"
echo "fault injection: A none, B a 0% rule"; B_ARGS="$zero" scripts/bench/proxy_ab.sh "$DEVHOST" "$DEVHOST" 5
echo "fault injection: A a 0% rule, B none"; A_ARGS="$zero" scripts/bench/proxy_ab.sh "$DEVHOST" "$DEVHOST" 5
# HTTPS/1.1 (wrk), HTTP/2 (h2load, 100 streams over 10 connections) and new TLS connections (a full
# handshake each) through devhost next to nginx (ssl, http2), Caddy and HAProxy (ssl), one thread each
# (issue #18).
scripts/bench/tls_bench.sh 5 5
# gRPC unary calls (h2load, 100 streams over 10 connections) through devhost's relay, plain h2c and
# HTTPS h2, next to the same server called directly: a C++ grpc++ server and a Python grpcio one
# (issue #18).
scripts/bench/grpc_bench.sh 3 5
