#!/usr/bin/env bash
# Installs what building and testing devhost needs, only when it is missing.
#   scripts/install-deps.sh build   libgit2 (headers, and the static archives devhost links in)
#   scripts/install-deps.sh test    + docker-compose (no engine) and check-jsonschema, used to validate compose files,
#                                   and chromium (headless) for the dashboard and HTTPS browser tests, kubectl (its built-in kustomize)
#                                   and kubernetes-validate for `devhost kube`, PostgreSQL, Redis and MariaDB
#                                   servers for the protocol health checks, curl, openssl, certutil
#                                   (libnss3-tools), node and nghttp (nghttp2-client) for the HTTPS tests, grpcio
#                                   for the gRPC tests
set -euo pipefail
need_apt=()
if ! pkg-config --exists libgit2 2>/dev/null; then need_apt+=(libgit2-dev pkg-config); fi
if [ "${1:-build}" = test ]; then
  command -v docker-compose >/dev/null 2>&1 || need_apt+=(docker-compose)
  command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
  # tmux: `devhost top` is tested in a real terminal (send-keys, capture-pane).
  command -v tmux >/dev/null 2>&1 || need_apt+=(tmux)
  # `kubectl kustomize` builds devhost kube's folders; no cluster is needed. This machine image ships
  # kubectl 1.32 (kustomize v5) from its google-cloud-cli packages; elsewhere Debian's kubernetes-client
  # has `kubectl kustomize` too (1.20, kustomize v2: it builds every folder except those whose Secret
  # generators read env files outside the folder, which need --load-restrictor, kubectl >= 1.21).
  kubectl kustomize --help >/dev/null 2>&1 || need_apt+=(kubernetes-client)
  # The protocol health checks are tested against real servers the tests start on loopback ports:
  # PostgreSQL (initdb, postgres; pg_isready for the compose mapping), Redis (redis-server, redis-cli),
  # MariaDB (mariadb-install-db, mariadbd).
  ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need_apt+=(postgresql)
  command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
  command -v mariadbd >/dev/null 2>&1 || need_apt+=(mariadb-server)
  # Forwards (docs/up.md#forwards) are tested through real OpenSSH: the client, and sshd started by the
  # tests on loopback ports with throwaway keys and configs of their own (the system's sshd is not used).
  command -v ssh >/dev/null 2>&1 || need_apt+=(openssh-client)
  [ -x /usr/sbin/sshd ] || need_apt+=(openssh-server)
  # HTTPS (docs/https.md): the local CA is checked by real clients and trusted in real stores made in
  # temporary folders: curl and openssl, certutil (NSS databases), update-ca-certificates, and node
  # (NODE_EXTRA_CA_CERTS from a service's environment).
  command -v curl >/dev/null 2>&1 || need_apt+=(curl)
  command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
  command -v certutil >/dev/null 2>&1 || need_apt+=(libnss3-tools)
  command -v update-ca-certificates >/dev/null 2>&1 || [ -x /usr/sbin/update-ca-certificates ] || need_apt+=(ca-certificates)
  command -v node >/dev/null 2>&1 || need_apt+=(nodejs)
  # nghttp (HTTP/2 frames as a client sees them: END_STREAM placement, streams on one connection).
  command -v nghttp >/dev/null 2>&1 || need_apt+=(nghttp2-client)
fi
sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing: ${need_apt[*]}"
  $sudo apt-get update -qq
  # --no-install-recommends: docker-compose must not pull a Docker engine; it only validates files here.
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi
# h11: the proxy tests read what reached the upstream with an independent, strict HTTP/1.1 parser.
if [ "${1:-build}" = test ] && ! python3 -c 'import h11' >/dev/null 2>&1; then
  echo "installing: h11 (PyPI)"
  python3 -m pip install -q h11
fi
# h2 (hyper-h2): an HTTP/2 client that opens a WebSocket as an extended CONNECT stream (RFC 8441).
if [ "${1:-build}" = test ] && ! python3 -c 'import h2.connection' >/dev/null 2>&1; then
  echo "installing: h2 (PyPI)"
  python3 -m pip install -q 'h2==4.4.1'
fi
if [ "${1:-build}" = test ] && ! command -v check-jsonschema >/dev/null 2>&1; then
  echo "installing: check-jsonschema (PyPI)"
  python3 -m pip install -q check-jsonschema
fi
# kubernetes-validate: the schemas of each Kubernetes version, to validate devhost kube's objects strictly.
if [ "${1:-build}" = test ] && ! command -v kubernetes-validate >/dev/null 2>&1; then
  echo "installing: kubernetes-validate (PyPI)"
  python3 -m pip install -q 'kubernetes-validate==1.37.0'
fi
# mcp: the official MCP Python SDK drives `devhost mcp` over stdio as an agent's client would.
if [ "${1:-build}" = test ] && ! python3 -c 'import mcp.client.stdio' >/dev/null 2>&1; then
  echo "installing: mcp (PyPI)"
  python3 -m pip install -q 'mcp==2.3.0'
fi
# grpcio and grpcio-health-checking: a real gRPC server and client (generic handlers on bytes, no
# generated code) for the h2c/grpc upstream protocols and the grpc health check.
if [ "${1:-build}" = test ] && ! python3 -c 'import grpc, grpc_health.v1.health' >/dev/null 2>&1; then
  echo "installing: grpcio grpcio-health-checking (PyPI)"
  python3 -m pip install -q 'grpcio==1.85.4' 'grpcio-health-checking==1.85.1'
fi
