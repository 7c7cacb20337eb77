//! Resource limits of the preprocessor under default [`Options`]: inputs a
//! few kilobytes long that would otherwise expand to gigabytes.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use lvs_config::{DiagKind, MemFs, Options};

/// `$D` is 10^6 bytes through four levels of definitions (1 + 10 + 100 +
/// 1000 substitutions, under the per-line bound), replayed `n` times by a
/// `~SEQ`: `n` MB of output from 4 kB of input.
fn amplifier(n: u32) -> String {
    format!(
        "$A={}\n$B={}\n$C={}\n$D={}\n~SEQ(i, 1, {n}) $D\n",
        "a".repeat(1000),
        "${A}".repeat(10),
        "${B}".repeat(10),
        "${C}".repeat(10),
    )
}

#[test]
fn replayed_megabyte_lines_stop_at_the_output_limit() {
    // 100 000 lines of 1 MB would be 100 GB (under the 1 000 000 replayed
    // lines and 1 MiB line limits); the output limit stops it.
    let opts = Options {
        max_output_bytes: 8 << 20,
        ..Options::default()
    };
    let fs = MemFs::new().with("/k.conf", amplifier(100_000));
    let (lines, diags) = lvs_config::expand(&fs, Path::new("/k.conf"), &opts);
    let total: usize = lines.iter().map(|l| l.text.len() + 1).sum();
    assert!(total <= 8 << 20, "{total}");
    // 8 lines of 1 000 001 bytes fit, the 9th does not.
    assert_eq!(lines.len(), 8);
    let limit: Vec<String> = diags
        .iter()
        .filter(|d| d.kind == DiagKind::Limit)
        .map(ToString::to_string)
        .collect();
    assert_eq!(limit.len(), 1, "{diags:?}");
    assert!(
        limit[0].contains("more than 8388608 bytes after preprocessing - giving up"),
        "{limit:?}"
    );
    assert!(limit[0].starts_with("/k.conf:5:"), "{limit:?}");
}

#[test]
fn the_default_output_limit_is_64_mib_and_rejects_the_file() {
    assert_eq!(Options::default().max_output_bytes, 64 << 20);
    let small = Options {
        max_output_bytes: 1 << 20,
        ..Options::default()
    };
    let fs = MemFs::new().with("/k.conf", amplifier(3));
    let report = lvs_config::check(&fs, Path::new("/k.conf"), &small);
    assert!(!report.is_ok());
    assert!(report.errors().any(|d| d.kind == DiagKind::Limit));
}
