//! Proof that `process` does not allocate per packet: a counting global
//! allocator (`stats_alloc`) watches a region in which established flows
//! of every method, ICMP answers, ICMP relays and drops are processed.
//! One `#[test]` only, so no other test thread allocates meanwhile.
#![allow(clippy::unwrap_used)]

mod common;

use std::alloc::System;
use std::net::IpAddr;

use common::*;
use lvs_core::dest::TunnelCsum;
use lvs_core::{FwdMethod, Protocol, Time, TunnelType};
use lvs_datapath::{Datapath, Frame, Verdict};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

fn v4(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn tcp_frame(src: IpAddr, sport: u16, dst: IpAddr, dport: u16, flags: u8, len: usize) -> Vec<u8> {
    let seg = tcp(src, dst, sport, dport, 1, 2, flags, &vec![7u8; len]);
    let p = match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => ipv4(
            V4 {
                src: s,
                dst: d,
                proto: TCP,
                ttl: 64,
                tos: 0,
                id: 1,
                df: true,
            },
            &seg,
        ),
        (IpAddr::V6(s), IpAddr::V6(d)) => ipv6(
            V6 {
                src: s,
                dst: d,
                next: TCP,
                hlim: 64,
                tc: 0,
            },
            &seg,
        ),
        _ => unreachable!(),
    };
    let et = if src.is_ipv4() { 0x0800 } else { 0x86dd };
    eth(dir_ext_mac(), router_mac(), et, &p)
}

/// A data path for `method`, one connection from the client opened, and
/// the frames to replay on it.
fn setup(method: FwdMethod, v6: bool) -> (Datapath, Vec<Vec<u8>>) {
    let (c, v, r): (IpAddr, IpAddr, IpAddr) = if v6 {
        (client6().into(), vip6().into(), rs1_6().into())
    } else {
        (client4().into(), vip4().into(), rs1_4().into())
    };
    let port = if matches!(method, FwdMethod::Masq | FwdMethod::FullNat) {
        8080
    } else {
        80
    };
    let mut dp = datapath(rr(key(Protocol::Tcp, v, 80)), &[(r, port, method)]);
    dp.set_fullnat_local_addrs(&[fullnat_pool().into(), fullnat_pool6().into()]);
    let mut f = Frame::from_bytes(&tcp_frame(c, 40000, v, 80, SYN, 0));
    assert!(matches!(
        dp.process(Time(1), &mut f),
        Verdict::Forward { .. }
    ));
    let mut frames = vec![
        tcp_frame(c, 40000, v, 80, ACK, 100),
        // Too big for a tunnel, fine otherwise: exercises PMTU answers.
        tcp_frame(c, 40000, v, 80, ACK, 1500 - 20 - if v6 { 40 } else { 20 }),
        // TTL / hop limit 1: time exceeded answer.
        {
            let mut x = tcp_frame(c, 40000, v, 80, ACK, 10);
            if v6 {
                x[14 + 7] = 1;
            } else {
                x[14 + 8] = 1;
                x[14 + 10] = 0;
                x[14 + 11] = 0;
                let cs = csum(&x[14..34]);
                x[24..26].copy_from_slice(&cs.to_be_bytes());
            }
            x
        },
        // Malformed: truncated.
        tcp_frame(c, 40000, v, 80, ACK, 0)[..30].to_vec(),
    ];
    if matches!(method, FwdMethod::Masq | FwdMethod::FullNat) {
        // A reply from the real server to the client (NAT) or to the pool
        // address (FULLNAT).
        let l = dp.ipvs().conns().find(|x| !x.is_template()).unwrap();
        let (to, to_port) = l.local.unwrap_or((c, 40000));
        let mut rep = tcp_frame(r, 8080, to, to_port, ACK, 100);
        rep[6..12].copy_from_slice(&rs1_mac().0);
        rep[0..6].copy_from_slice(&dir_int_mac().0);
        frames.push(rep);
    }
    // No destination: a service-less port answers nothing, but a service
    // without servers answers ICMP; use a second service for that.
    let k2 = key(Protocol::Tcp, v, 81);
    dp.ipvs_mut()
        .add_service(lvs_core::ServiceConfig::new(k2))
        .unwrap();
    frames.push(tcp_frame(c, 40001, v, 81, SYN, 0));
    let _ = v4;
    (dp, frames)
}

#[test]
fn process_does_not_allocate() {
    let methods = [
        FwdMethod::Masq,
        FwdMethod::Route,
        FwdMethod::FullNat,
        tun(TunnelType::Ipip, 0, TunnelCsum::NoCsum),
        tun(TunnelType::Gue, 6080, TunnelCsum::Csum),
        tun(TunnelType::Gre, 0, TunnelCsum::Csum),
    ];
    let mut setups = Vec::new();
    for m in methods {
        for v6 in [false, true] {
            setups.push(setup(m, v6));
        }
    }
    let mut frame = Frame::default();
    let mut verdicts = Vec::with_capacity(1000);
    let region = Region::new(GLOBAL);
    for round in 0..10u64 {
        for (dp, frames) in &mut setups {
            for input in frames.iter() {
                frame.load(input).unwrap();
                let v = dp.process(Time(10 + round), &mut frame);
                if verdicts.len() < verdicts.capacity() {
                    verdicts.push(v);
                }
            }
        }
    }
    let stats = region.change();
    assert_eq!(
        (stats.allocations, stats.reallocations),
        (0, 0),
        "allocations during processing: {stats:?}"
    );
    // The replay did exercise every kind of outcome.
    assert!(
        verdicts
            .iter()
            .any(|v| matches!(v, Verdict::Forward { .. }))
    );
    assert!(verdicts.iter().any(|v| matches!(v, Verdict::Reply { .. })));
    assert!(verdicts.iter().any(|v| matches!(v, Verdict::Drop(_))));
}
