#!/usr/bin/env bash
# Bounded fuzz run of every target on the *stable* toolchain: builds the
# libFuzzer binaries with SanitizerCoverage through stable codegen flags (what
# cargo-fuzz passes, minus the nightly-only -Zsanitizer), seeds the corpus from
# the crates' pcap test data, and runs each target for SECONDS (default 60).
# Exits non-zero on the first crash; the reproducer is left in
# fuzz/artifacts/<target>/.
#   fuzz/smoke.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")"
secs="${1:-60}"
shift || true
targets=("$@")
[ "${#targets[@]}" -gt 0 ] || targets=(wire_parsers wire_mutators datapath_process vrrp_decode sync_decode keepalived_conf ipvsadm_cli)
triple="$(rustc -vV | sed -n 's/^host: //p')"
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks"
# --target keeps RUSTFLAGS off build scripts.
cargo build --release --locked --target "$triple" --bins
bin="${CARGO_TARGET_DIR:-target}/$triple/release"
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t" "artifacts/$t"
    python3 - "corpus/$t" "$t" <<'PY'
import glob, hashlib, struct, sys, os
out, target = sys.argv[1], sys.argv[2]
# VRRP adverts and sync datagrams: the lab captures, one hex packet a line.
captures = {'vrrp_decode': '../testdata/vrrp/*.txt', 'sync_decode': '../testdata/sync/*.txt'}
def put(s):
    open(os.path.join(out, hashlib.sha1(s).hexdigest()), 'wb').write(s)
# keepalived.conf: each configuration, with the files of its directory tree
# appended as `@@@ <relative path>` sections (the target's in-memory tree).
if target == 'keepalived_conf':
    for d in glob.glob('../testdata/keepalived/*'):
        extra = b''
        for f in sorted(glob.glob(d + '/**/*.conf', recursive=True)):
            rel = os.path.relpath(f, d)
            if os.sep in rel:
                extra += b'\n@@@ ' + rel.encode() + b'\n' + open(f, 'rb').read()
        for f in glob.glob(d + '/*.conf'):
            put(open(f, 'rb').read() + extra)
    sys.exit(0)
# ipvsadm: every captured argv case (first line, empty stdin), and the saved
# tables as restore input.
if target == 'ipvsadm_cli':
    for line in open('../testdata/ipvsadm/scripts/argv-cases.txt'):
        line = line.strip()
        if line and not line.startswith('#'):
            put(line.encode() + b'\n')
    for f in glob.glob('../testdata/ipvsadm/golden/save*.out') + glob.glob('../testdata/keepalived/*/*.ipvsadm'):
        put(b'-R\n' + open(f, 'rb').read())
    sys.exit(0)
if target in captures:
    for path in glob.glob(captures[target]):
        for line in open(path):
            line = line.strip()
            if line and not line.startswith('#') and all(c in '0123456789abcdef' for c in line):
                s = bytes.fromhex(line)
                open(os.path.join(out, hashlib.sha1(s).hexdigest()), 'wb').write(s)
    sys.exit(0)
for path in glob.glob('../crates/*/testdata/*.pcap') + glob.glob('../crates/*/testdata/*/*.pcap'):
    d = open(path, 'rb').read()
    off = 24
    while off + 16 <= len(d):
        incl = struct.unpack('<I', d[off + 8:off + 12])[0]
        frame = d[off + 16:off + 16 + incl]
        off += 16 + incl
        if target == 'wire_parsers':
            seeds = [frame, frame[14:]]
        elif target == 'datapath_process':
            seeds = [b'\x01' + frame]
        else:
            seeds = [bytes(32) + frame[14:]]
        for s in seeds:
            open(os.path.join(out, hashlib.sha1(s).hexdigest()), 'wb').write(s)
PY
    echo "[fuzz] $t for ${secs}s"
    case "$t" in keepalived_conf|ipvsadm_cli) max_len=16384 ;; *) max_len=2048 ;; esac
    "$bin/$t" "corpus/$t" -max_total_time="$secs" -max_len="$max_len" -rss_limit_mb=1024 \
        -artifact_prefix="artifacts/$t/" -print_final_stats=1 2>&1 | grep -E '^(stat::|Done|==|SUMMARY)' || true
    if [ -n "$(ls -A "artifacts/$t")" ]; then
        echo "[fuzz] $t: crash, see fuzz/artifacts/$t/" >&2
        exit 1
    fi
done
