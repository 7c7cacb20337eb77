//! `lvs_io::classify` (the steering rule in Rust, for AF_PACKET) against the
//! XDP program itself: the same frames through both, with the same keys, by
//! `BPF_PROG_TEST_RUN`. A frame is steered by one exactly when it is by the
//! other. Root only; fails (never skips) when the program cannot be loaded.
//!
//! Frames are generated from a small alphabet (service, real-server, client
//! and other addresses; service and other ports; TCP, UDP, SCTP, ICMP, GRE;
//! fragments; VLAN tags; ICMP errors quoting such a packet) so that hits
//! and misses are both frequent, then truncated at a random length.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::AsFd;

use common::*;
use lvs_io::classify::classify;
use lvs_io::steer::{action, proto};
use lvs_io::{PacketIo, SteerKey, Steering, XskConfig, XskSocket};
use lvs_sys::NetNs;
use proptest::prelude::*;

const V4: [Ipv4Addr; 4] = [
    Ipv4Addr::new(10, 0, 0, 100), // VIP
    Ipv4Addr::new(10, 1, 0, 2),   // NAT real server
    Ipv4Addr::new(192, 168, 1, 7),
    Ipv4Addr::new(10, 0, 0, 101), // port-0 / all-protocol service
];
const V6: [Ipv6Addr; 4] = [
    Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x100),
    Ipv6Addr::new(0x2001, 0xdb8, 2, 0, 0, 0, 0, 2),
    Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 7),
    Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x101),
];
const PORTS: [u16; 5] = [80, 8080, 53, 22, 0];
const PROTOS: [u8; 5] = [6, 17, 132, 1, 47];

fn keys() -> Vec<SteerKey> {
    let a4 = |i: usize| IpAddr::V4(V4[i]);
    let a6 = |i: usize| IpAddr::V6(V6[i]);
    vec![
        SteerKey::service(proto::TCP, a4(0), 80),
        SteerKey::service(proto::UDP, a4(0), 53),
        SteerKey::vip(a4(0)),
        SteerKey::reply_source(proto::TCP, a4(1), 8080),
        SteerKey::service(proto::SCTP, a4(3), 0),
        SteerKey::service(proto::ANY, a4(3), 0),
        SteerKey::service(proto::TCP, a6(0), 80),
        SteerKey::vip(a6(0)),
        SteerKey::reply_source(proto::UDP, a6(1), 53),
    ]
}

#[derive(Debug, Clone)]
struct Spec {
    v6: bool,
    proto: u8,
    src: usize,
    dst: usize,
    sport: usize,
    dport: usize,
    later_fragment: bool,
    vlans: usize,
    /// Wrap the packet, reversed in role, in an ICMP error of this type.
    icmp_error: Option<u8>,
    cut: usize,
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        any::<bool>(),
        0..PROTOS.len(),
        (0..4usize, 0..4usize, 0..PORTS.len(), 0..PORTS.len()),
        any::<bool>(),
        0..3usize,
        prop_oneof![
            Just(None),
            Just(Some(3u8)),
            Just(Some(11u8)),
            Just(Some(8u8))
        ],
        0..160usize,
    )
        .prop_map(
            |(v6, p, (src, dst, sport, dport), frag, vlans, icmp_error, cut)| Spec {
                v6,
                proto: PROTOS[p],
                src,
                dst,
                sport,
                dport,
                later_fragment: frag && icmp_error.is_none(),
                vlans,
                icmp_error,
                cut,
            },
        )
}

fn ip_packet(s: &Spec, p: u8, src: usize, dst: usize, frag: bool) -> Vec<u8> {
    let body = l4(p, PORTS[s.sport], PORTS[s.dport]);
    if s.v6 {
        let p = if p == 1 { 58 } else { p };
        if frag {
            let mut fh = vec![p, 0, 0x00, 0xb8, 0, 0, 0, 1];
            fh.extend_from_slice(&body);
            ipv6(44, V6[src], V6[dst], &fh)
        } else {
            ipv6(p, V6[src], V6[dst], &body)
        }
    } else {
        ipv4(
            p,
            V4[src],
            V4[dst],
            if frag { 0x00b9 } else { 0x4000 },
            &body,
        )
    }
}

fn frame(s: &Spec) -> Vec<u8> {
    let ethertype = if s.v6 { 0x86dd } else { 0x0800 };
    let vids: Vec<u16> = (0..s.vlans).map(|i| 100 + i as u16).collect();
    let mut f = eth(ethertype, &vids);
    match s.icmp_error {
        None => f.extend(ip_packet(s, s.proto, s.src, s.dst, s.later_fragment)),
        Some(ty) => {
            // The quoted packet goes the other way (one we would have sent).
            let quoted = ip_packet(s, s.proto, s.dst, s.src, false);
            let (icmp_proto, ty) = if s.v6 {
                // ICMPv6: 1 unreachable, 3 time exceeded, 128 echo request.
                (
                    58,
                    if ty == 3 {
                        1
                    } else if ty == 11 {
                        3
                    } else {
                        128
                    },
                )
            } else {
                (1, ty)
            };
            let mut icmp = vec![ty, 0, 0, 0, 0, 0, 0, 0];
            icmp.extend_from_slice(&quoted);
            if s.v6 {
                f.extend(ipv6(icmp_proto, V6[s.src], V6[s.dst], &icmp));
            } else {
                f.extend(ipv4(icmp_proto, V4[s.src], V4[s.dst], 0, &icmp));
            }
        }
    }
    let len = f.len();
    f.truncate(len.min(14 + s.cut.max(1)).max(14));
    f
}

#[test]
fn classify_agrees_with_the_xdp_program() {
    let ns = NetNs::create(&format!("lvsio-{}-b-classify", std::process::id())).unwrap();
    ns.run(|| {
        let mut steering = Steering::load().unwrap();
        let set: HashSet<SteerKey> = keys().into_iter().collect();
        for k in &set {
            steering.insert(*k).unwrap();
        }
        let cfg = XskConfig {
            frames: 64,
            ring_size: 32,
            ..XskConfig::default()
        };
        let xsk = XskSocket::bind(1, 0, cfg).unwrap();
        steering.set_socket(0, xsk.fd().as_fd()).unwrap();
        let hits = std::cell::Cell::new(0u32);
        let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(1024));
        runner
            .run(&spec(), |s| {
                let f = frame(&s);
                let bpf = steering.test_run(&f).unwrap();
                prop_assert!(bpf == action::REDIRECT || bpf == action::PASS, "{bpf}");
                let ours = classify(&f, |k| set.contains(k));
                hits.set(hits.get() + u32::from(ours.is_some()));
                prop_assert_eq!(
                    bpf == action::REDIRECT,
                    ours.is_some(),
                    "{:?} {:02x?}",
                    s,
                    f
                );
                Ok(())
            })
            .unwrap();
        // The alphabet makes both outcomes common.
        let hits = hits.get();
        assert!(hits > 50 && hits < 1000, "{hits} hits");
        drop(xsk);
    })
    .unwrap();
}
