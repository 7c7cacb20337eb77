//! No input makes a parser, accessor, mutator or builder panic: arbitrary
//! bytes, and valid packets with random bytes overwritten and random
//! truncation (which reach deeper layers than pure noise). Every view,
//! mutator and builder is driven by `lvs_wire::exercise`, which the `fuzz/`
//! targets run too.

#![allow(clippy::unwrap_used)]

mod common;

use common::{build, spec};
use lvs_wire::exercise;
use proptest::prelude::*;

/// Frames `ip` in Ethernet with 0-2 VLAN tags.
fn framed(ip: &[u8], v6: bool, tags: u8) -> Vec<u8> {
    let mut f = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2];
    for i in 0..tags {
        f.extend([0x81, 0x00, 0, 10 + i]);
    }
    f.extend(if v6 { [0x86, 0xdd] } else { [0x08, 0x00] });
    f.extend(ip);
    f
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes(data in proptest::collection::vec(any::<u8>(), 0..400), knobs in proptest::collection::vec(any::<u8>(), 0..32)) {
        exercise::parsers(&data);
        let mut d = data.clone();
        exercise::mutators(&mut d, &knobs);
        exercise::parsers(&d);
    }

    #[test]
    fn arbitrary_bytes_behind_valid_headers(
        v6 in any::<bool>(),
        proto in prop_oneof![Just(6u8), Just(17), Just(132), Just(1), Just(58), Just(4), Just(41), Just(47), Just(0), Just(44), Just(60), Just(43), Just(51)],
        tail in proptest::collection::vec(any::<u8>(), 0..200),
        knobs in proptest::collection::vec(any::<u8>(), 0..32),
    ) {
        // A correct IP header announcing `proto`, followed by noise.
        let mut p = if v6 {
            let mut h = vec![0x60, 0, 0, 0];
            h.extend((tail.len() as u16).to_be_bytes());
            h.extend([proto, 64]);
            h.extend([0xfd; 32]);
            h
        } else {
            let mut h = vec![0x45, 0];
            h.extend(((20 + tail.len()) as u16).to_be_bytes());
            h.extend([0, 0, 0, 0, 64, proto, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
            h
        };
        p.extend(&tail);
        exercise::parsers(&p);
        let f = framed(&p, v6, knobs.first().map_or(0, |k| k % 3));
        exercise::parsers(&f);
        let mut m = p.clone();
        exercise::mutators(&mut m, &knobs);
        exercise::parsers(&m);
    }

    #[test]
    fn mutated_valid_packets(
        s in spec(),
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..6),
        cut in any::<usize>(),
        tags in 0u8..3,
        knobs in proptest::collection::vec(any::<u8>(), 0..32),
    ) {
        let b = build(&s);
        let mut f = framed(&b.bytes, b.v6, tags);
        for (at, v) in edits {
            let n = f.len();
            f[at % n] = v;
        }
        let keep = cut % (f.len() + 1);
        f.truncate(keep.max(f.len().saturating_sub(keep % 64)));
        exercise::parsers(&f);
        let mut m = f.clone();
        exercise::mutators(&mut m, &knobs);
        exercise::parsers(&m);
        // The IP packet alone, as the encapsulation and NAT paths see it.
        let off = 14 + usize::from(tags) * 4;
        if f.len() > off {
            let mut ip = f[off..].to_vec();
            exercise::parsers(&ip);
            exercise::mutators(&mut ip, &knobs);
        }
    }
}
