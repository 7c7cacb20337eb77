//! Every lvs-wire mutator, NAT rewrite, remcsum helper and encapsulation over
//! arbitrary bytes; the first 32 bytes choose the values written. Must never
//! panic, and must leave bytes the parsers still survive.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (knobs, rest) = data.split_at(data.len().min(32));
    let mut buf = rest.to_vec();
    let _ = lvs_wire::exercise::mutators(&mut buf, knobs);
    let _ = lvs_wire::exercise::parsers(&buf);
});
