#!/usr/bin/env bash
# Installs the Debian packages the benchmark harness (bench/run) needs, when missing.
# Idempotent and quiet: does nothing when everything is present. Needs root for apt-get.
#   nftables           the nftables DNAT peer (`numgen inc mod N`)
#   haproxy, nginx     the user-space proxy peers (HAProxy TCP mode, nginx `stream`), and
#                      nginx as the HTTP server on the real servers
#   libnginx-mod-stream  nginx's dynamic `stream` module (Debian builds it separately)
#   wrk                TCP connections/s and keep-alive requests/s
#   python3-matplotlib the PNG charts
#   valgrind           instruction counts of the micro-benchmarks (--micro)
#   clang, iproute2    the sink's XDP drop program (`clang -target bpf`, `ip link set xdp obj`)
set -euo pipefail

pkgs=(nftables haproxy nginx libnginx-mod-stream wrk python3-matplotlib valgrind clang llvm libbpf-dev iproute2 util-linux)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "[bench-deps] installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The packaged daemons must not run in the machine's own namespace: the harness starts its
# own instances inside the namespaces it creates.
for svc in nginx haproxy; do
    if command -v systemctl >/dev/null 2>&1 && systemctl is-active -q "$svc" 2>/dev/null; then
        systemctl stop "$svc" || true
    fi
done
