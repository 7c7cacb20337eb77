#!/usr/bin/env bash
# Installs the Debian packages the workspace needs to build and test, when missing.
# Idempotent and quiet: does nothing when everything is present. Needs root for apt-get.
#   clang, llvm    build the XDP programs of lvs-io (`clang -target bpf`, llvm-strip/objdump)
#   libbpf-dev     bpf/bpf_helpers.h, bpf_endian.h (header-only use; no libbpf linked)
#   linux-libc-dev linux/bpf.h, linux/if_xdp.h and asm/ headers for the BPF build
#   g++            libFuzzer (fuzz/smoke.sh); python3 seeds the fuzz corpus
#   curl           the client of scripts/demo
#   iproute2       `ip netns` / `ip link` for the privileged lvs-io and lvs-sys tests
#   nftables       `nft`: lvsd --io afpacket keeps the kernel off its frames (netdev ingress)
#   iptables       `iptables-nft`: lvsd queues fwmark services (NFQUEUE via nft_compat); e2e_fwmark marks with it
#   keepalived     the real VRRP peer of lvsd's interop test (bin/lvsd/tests/e2e_keepalived_interop.rs)
set -euo pipefail

pkgs=(clang llvm libbpf-dev linux-libc-dev iproute2 gcc g++ pkg-config python3 curl nftables iptables keepalived)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "[deps] installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq "${missing[@]}" >/dev/null
fi
