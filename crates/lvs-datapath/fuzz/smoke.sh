#!/usr/bin/env bash
# Bounded fuzz run of `datapath_process` on the stable toolchain (same
# SanitizerCoverage flags as /fuzz/smoke.sh), corpus seeded with the
# fixture and kernel-capture frames. Fails on a crash.
#   crates/lvs-datapath/fuzz/smoke.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")"
secs="${1:-60}"
t=datapath_process
triple="$(rustc -vV | sed -n 's/^host: //p')"
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks"
cargo build --release --target "$triple" --bins
bin="${CARGO_TARGET_DIR:-target}/$triple/release"
mkdir -p "corpus/$t" "artifacts/$t"
python3 - "corpus/$t" <<'PY'
import glob, hashlib, struct, sys, os
out = sys.argv[1]
for path in glob.glob('../testdata/*/*.pcap') + glob.glob('../../lvs-wire/testdata/*.pcap'):
    d = open(path, 'rb').read()
    off = 24
    while off + 16 <= len(d):
        incl = struct.unpack('<I', d[off + 8:off + 12])[0]
        frame = d[off + 16:off + 16 + incl]
        off += 16 + incl
        s = b'\x01' + frame
        open(os.path.join(out, hashlib.sha1(s).hexdigest()), 'wb').write(s)
PY
echo "[fuzz] $t for ${secs}s"
"$bin/$t" "corpus/$t" -max_total_time="$secs" -max_len=4096 -rss_limit_mb=2048 \
    -artifact_prefix="artifacts/$t/" -print_final_stats=1 2>&1 | grep -E '^(stat::|Done|==|SUMMARY|thread)' || true
if [ -n "$(ls -A "artifacts/$t")" ]; then
    echo "[fuzz] $t: crash, see artifacts/$t/" >&2
    exit 1
fi
