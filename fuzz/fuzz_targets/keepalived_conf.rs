//! keepalived.conf front door: preprocessor (conditionals, definitions,
//! `~SEQ`/`~LST` replays, include globs), tree, parser, validation, then the
//! lowering to ipvsadm requests and the ipvsadm table, over arbitrary text
//! and an in-memory file tree. Must never panic; memory and time stay
//! bounded by the preprocessor's limits (include depth, files opened,
//! replayed lines, line length), which this target sets lower than the
//! defaults so that a blow-up shows as a slow unit rather than an OOM.
//!
//! Input: the root file `/etc/keepalived/keepalived.conf`, then any number of
//! further files, each introduced by a line `@@@ <path>` (relative paths are
//! under `/etc/keepalived/`). A file may include itself or any other.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use lvs_config::{MemFs, Options};

const ROOT: &str = "/etc/keepalived/keepalived.conf";

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut fs = MemFs::new();
    let mut parts = text.split("\n@@@ ");
    fs.add(ROOT, parts.next().unwrap_or_default());
    for part in parts {
        let (name, body) = part.split_once('\n').unwrap_or((part, ""));
        let name = name.trim();
        if name.is_empty() {
            continue;
        }
        fs.add(Path::new("/etc/keepalived").join(name), body);
    }
    let opts = Options {
        config_id: Some("lb1".to_owned()),
        random_seed: 7,
        max_include_depth: 8,
        max_files: 64,
        max_replayed_lines: 20_000,
        max_line_len: 64 << 10,
        max_output_bytes: 4 << 20,
    };
    let (_lines, _diags) = lvs_config::expand(&fs, Path::new(ROOT), &opts);
    let report = lvs_config::check(&fs, Path::new(ROOT), &opts);
    for d in &report.diagnostics {
        let _ = d.to_string();
    }
    if let Some(cfg) = &report.config {
        let requests = lvs_config::lower(cfg);
        let table = lvs_config::lower_table(cfg);
        let _ = lvs_config::timeouts(cfg);
        let _ = lvs_config::diff(&table, &[]);
        let _ = lvs_config::diff(&[], &table);
        let _ = lvs_config::reconcile(requests, &table);
    }
});
