//! The decapsulation program under BPF_PROG_TEST_RUN, on tunnel packets built by lvs-wire's
//! encapsulation code (the director's). Expected output, from the program's contract: the
//! Ethernet addresses unchanged, the Ethernet type of the inner family, then the inner packet
//! byte for byte; packets outside the contract come back untouched. Needs root (CAP_BPF).
#![allow(clippy::unwrap_used)]

mod common;

use std::net::IpAddr;

use common::*;
use lvs_realserver::decap::{Decap, DecapConfig, verdict};
use lvs_wire::encap::{Encap, GueCsum, Tunnel};
use proptest::prelude::*;

const DMAC: [u8; 6] = [2, 0, 0, 0, 0, 2];
const SMAC: [u8; 6] = [2, 0, 0, 0, 0, 1];
const GUE_PORT: u16 = 6080;

fn rs4() -> IpAddr {
    v4("10.0.0.2")
}
fn rs6() -> IpAddr {
    v6("fd00::2")
}
fn dir4() -> IpAddr {
    v4("10.0.0.1")
}
fn dir6() -> IpAddr {
    v6("fd00::1")
}

fn load(local: Vec<IpAddr>, gue_port: Option<u16>) -> Decap {
    load_with(local, gue_port, false)
}

fn load_with(local: Vec<IpAddr>, gue_port: Option<u16>, force_compat: bool) -> Decap {
    assert!(is_root(), "decap tests need root (BPF_PROG_TEST_RUN)");
    Decap::load(&DecapConfig {
        gue_port,
        local,
        force_compat,
    })
    .unwrap()
}

fn inner4() -> Vec<u8> {
    inner_udp(
        v4("192.0.2.7"),
        v4("10.9.9.9"),
        40001,
        9000,
        b"hello over the tunnel",
    )
}
fn inner6() -> Vec<u8> {
    inner_udp(v6("2001:db8::7"), v6("fd99::9"), 40001, 9000, b"hello v6")
}

/// Runs `outer_ip` through the program and checks it comes out as exactly `inner`.
fn assert_decapsulated(d: &Decap, outer_ip: &[u8], inner: &[u8]) {
    let f = frame(DMAC, SMAC, outer_ip);
    let (v, out) = d.test_run(&f).unwrap();
    assert_eq!(v, verdict::OK);
    let et: u16 = if inner[0] >> 4 == 6 { 0x86dd } else { 0x0800 };
    assert_eq!(&out[..6], &DMAC);
    assert_eq!(&out[6..12], &SMAC);
    assert_eq!(u16::from_be_bytes([out[12], out[13]]), et, "ethertype");
    assert_eq!(&out[14..], inner, "inner packet");
}

fn assert_untouched(d: &Decap, outer_ip: &[u8]) {
    let f = frame(DMAC, SMAC, outer_ip);
    let (v, out) = d.test_run(&f).unwrap();
    assert_eq!(v, verdict::OK);
    assert_eq!(out, f);
}

#[test]
fn ipip_all_four_family_mixes() {
    let d = load(vec![rs4(), rs6()], None);
    let (i4, i6) = (inner4(), inner6());
    assert_decapsulated(&d, &encapsulate(&i4, dir4(), rs4(), Tunnel::Ipip), &i4);
    assert_decapsulated(&d, &encapsulate(&i6, dir6(), rs6(), Tunnel::Ipip), &i6);
    assert_decapsulated(&d, &encapsulate(&i6, dir4(), rs4(), Tunnel::Ipip), &i6);
    assert_decapsulated(&d, &encapsulate(&i4, dir6(), rs6(), Tunnel::Ipip), &i4);
    let st = d.stats().unwrap();
    assert_eq!((st.ipip, st.gue, st.gre, st.passed), (4, 0, 0, 0));
}

#[test]
fn mixed_families_the_pre_6_3_way() {
    // bpf_skb_change_proto + adjust_room instead of the DECAP_L3 flags: same result.
    let d = load_with(vec![rs4(), rs6()], Some(GUE_PORT), true);
    let (i4, i6) = (inner4(), inner6());
    for t in [Tunnel::Ipip, gue(GUE_PORT), Tunnel::Gre { csum: true }] {
        assert_decapsulated(&d, &encapsulate(&i6, dir4(), rs4(), t), &i6);
        assert_decapsulated(&d, &encapsulate(&i4, dir6(), rs6(), t), &i4);
        assert_decapsulated(&d, &encapsulate(&i4, dir4(), rs4(), t), &i4);
    }
}

#[test]
fn gue_on_the_configured_port_only() {
    let d = load(vec![rs4(), rs6()], Some(GUE_PORT));
    let (i4, i6) = (inner4(), inner6());
    for csum in [GueCsum::None, GueCsum::Csum] {
        let t = Tunnel::Gue {
            src_port: 50000,
            dst_port: GUE_PORT,
            csum,
        };
        assert_decapsulated(&d, &encapsulate(&i4, dir4(), rs4(), t), &i4);
        assert_decapsulated(&d, &encapsulate(&i6, dir6(), rs6(), t), &i6);
        assert_decapsulated(&d, &encapsulate(&i4, dir6(), rs6(), t), &i4);
        assert_decapsulated(&d, &encapsulate(&i6, dir4(), rs4(), t), &i6);
    }
    // Another UDP port is ordinary UDP.
    assert_untouched(&d, &encapsulate(&i4, dir4(), rs4(), gue(GUE_PORT + 1)));
    let st = d.stats().unwrap();
    assert_eq!((st.gue, st.passed), (8, 1));
}

#[test]
fn gue_needs_a_port() {
    let d = load(vec![], None);
    assert_untouched(&d, &encapsulate(&inner4(), dir4(), rs4(), gue(GUE_PORT)));
}

#[test]
fn gue_remcsum_is_left_to_the_stack() {
    // The remote-checksum option (flags set) is outside the program's contract.
    let d = load(vec![], Some(GUE_PORT));
    let mut inner = inner4();
    lvs_wire::gue::remcsum_to_partial(&mut inner).unwrap();
    let mut buf = vec![0u8; HEADROOM + inner.len()];
    buf[HEADROOM..].copy_from_slice(&inner);
    let e = Encap {
        outer: outer(dir4(), rs4()),
        tunnel: Tunnel::Gue {
            src_port: 1,
            dst_port: GUE_PORT,
            csum: GueCsum::RemCsum,
        },
    };
    let start = e
        .encapsulate_partial(&mut buf, HEADROOM, inner.len())
        .unwrap();
    assert_untouched(&d, &buf[start..]);
}

#[test]
fn gre_with_and_without_checksum() {
    let d = load(vec![rs4(), rs6()], None);
    let (i4, i6) = (inner4(), inner6());
    for csum in [false, true] {
        let t = Tunnel::Gre { csum };
        assert_decapsulated(&d, &encapsulate(&i4, dir4(), rs4(), t), &i4);
        assert_decapsulated(&d, &encapsulate(&i6, dir6(), rs6(), t), &i6);
        assert_decapsulated(&d, &encapsulate(&i6, dir4(), rs4(), t), &i6);
        assert_decapsulated(&d, &encapsulate(&i4, dir6(), rs6(), t), &i4);
    }
    assert_eq!(d.stats().unwrap().gre, 8);
}

#[test]
fn only_packets_addressed_to_this_host() {
    let d = load(vec![rs4(), rs6()], Some(GUE_PORT));
    let i4 = inner4();
    for t in [Tunnel::Ipip, gue(GUE_PORT), Tunnel::Gre { csum: false }] {
        assert_untouched(&d, &encapsulate(&i4, dir4(), v4("10.0.0.3"), t));
        assert_untouched(&d, &encapsulate(&i4, dir6(), v6("fd00::3"), t));
    }
    // With no address configured, any destination is accepted.
    let any = load(vec![], None);
    assert_decapsulated(
        &any,
        &encapsulate(&i4, dir4(), v4("10.0.0.3"), Tunnel::Ipip),
        &i4,
    );
}

#[test]
fn plain_traffic_and_fragments_pass_untouched() {
    let d = load(vec![], Some(GUE_PORT));
    assert_untouched(&d, &inner4());
    assert_untouched(&d, &inner6());
    // An outer fragment (MF set): reassembly is the stack's job.
    let mut p = encapsulate(&inner4(), dir4(), rs4(), Tunnel::Ipip);
    p[6] |= 0x20;
    let c = lvs_wire::checksum::checksum(&{
        let mut h = p[..20].to_vec();
        h[10] = 0;
        h[11] = 0;
        h
    });
    p[10..12].copy_from_slice(&c.to_be_bytes());
    assert_untouched(&d, &p);
    // ARP.
    let mut arp = vec![0u8; 14 + 28];
    arp[12] = 0x08;
    arp[13] = 0x06;
    let (v, out) = d.test_run(&arp).unwrap();
    assert_eq!((v, out), (verdict::OK, arp));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]
    // Any payload, any tunnel type and family mix: what comes out is the inner packet.
    #[test]
    fn decap_inverts_encap(
        payload in proptest::collection::vec(any::<u8>(), 0..1200),
        kind in 0u8..4,
        inner_v6 in any::<bool>(),
        outer_v6 in any::<bool>(),
        compat in any::<bool>(),
    ) {
        // One load per variant for all cases (loading runs the verifier).
        thread_local! {
            static PROGS: [Decap; 2] = [
                load_with(vec![rs4(), rs6()], Some(GUE_PORT), false),
                load_with(vec![rs4(), rs6()], Some(GUE_PORT), true),
            ];
        }
        let inner = if inner_v6 {
            inner_udp(v6("2001:db8::7"), v6("fd99::9"), 1, 2, &payload)
        } else {
            inner_udp(v4("192.0.2.7"), v4("10.9.9.9"), 1, 2, &payload)
        };
        let t = match kind {
            0 => Tunnel::Ipip,
            1 => gue(GUE_PORT),
            2 => Tunnel::Gre { csum: false },
            _ => Tunnel::Gre { csum: true },
        };
        let (s, dst) = if outer_v6 { (dir6(), rs6()) } else { (dir4(), rs4()) };
        let packet = encapsulate(&inner, s, dst, t);
        PROGS.with(|p| assert_decapsulated(&p[usize::from(compat)], &packet, &inner));
    }
}
