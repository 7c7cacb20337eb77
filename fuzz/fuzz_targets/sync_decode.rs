//! IPVS sync message decoding (v0 and v1) and the backup's validation over
//! arbitrary bytes: must never panic; decoding does not allocate.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lvs_sync::BackupConfig;

fuzz_target!(|data: &[u8]| {
    if let Ok(msg) = lvs_sync::wire::parse(data) {
        for e in msg.entries() {
            if e.is_err() {
                break;
            }
        }
    }
    for syncid in [0, 7] {
        let cfg = BackupConfig {
            syncid,
            ..BackupConfig::default()
        };
        let _ = lvs_sync::backup::process(&cfg, data, |r| {
            if let Ok(u) = r {
                let _ = lvs_sync::backup::decide(&u, None);
            }
        });
    }
});
