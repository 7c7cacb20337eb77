#!/usr/bin/env bash
# Instructions per packet of Datapath::process, measured with callgrind
# (repeatable on a noisy machine): (Ir(N2) - Ir(N1)) / (N2 - N1).
# usage: crates/lvs-datapath/icount.sh [cases...]
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --quiet --release -p lvs-datapath --example icount
bin=${CARGO_TARGET_DIR:-target}/release/examples/icount
cases=${*:-nat_in nat_out dr fullnat_in fullnat_out tun_ipip tun_gue tun_gre new_wlc100}
n1=${N1:-1000}; n2=${N2:-11000}
ir() {
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$1" "$2" 2>&1 \
        | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
echo "| case | instructions/packet |"
echo "|---|---|"
for c in $cases; do
    a=$(ir "$c" "$n1"); b=$(ir "$c" "$n2")
    echo "| $c | $(( (b - a) / (n2 - n1) )) |"
done
