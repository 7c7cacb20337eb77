//! Every lvs-wire view and accessor over arbitrary bytes (as a frame, an IP
//! packet, and each transport / tunnel header): must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = lvs_wire::exercise::parsers(data);
});
