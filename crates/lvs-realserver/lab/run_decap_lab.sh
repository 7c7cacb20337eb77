#!/bin/bash
# Host side: builds bpf/decap.c with GUE port 6080 compiled in (tc's loader keeps the
# object's initial values), embeds it in the scenario ($1, default decap_kernel_director.sh)
# and runs that in the ipvs-ref lab VM (Linux 6.1: no DECAP_L3 flags, so 4in6/6in4 take the
# compat path).
set -e
here="$(cd "$(dirname "$0")" && pwd)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
clang -O2 -g -Wall -Werror -target bpf -I/usr/include/x86_64-linux-gnu -DGUE_PORT_INIT=6080 \
    -c "$here/../bpf/decap.c" -o "$tmp/decap.o"
llvm-strip -g "$tmp/decap.o"
{
    echo "base64 -d > /tmp/decap.o <<'B64'"
    base64 "$tmp/decap.o"
    echo "B64"
    cat "$here/${1:-decap_kernel_director.sh}"
} > "$tmp/script.sh"
"${IPVS_REF:-/work/shared/lab/ipvs-ref}/run.sh" "$tmp/script.sh"
