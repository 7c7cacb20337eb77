//! Counters per connection, destination and service after traffic through
//! `process` (the kernel's `ip_vs_in_stats` / `ip_vs_out_stats`): a NAT
//! connection counts its client packets as in and the server's replies
//! as out, bytes being IP packet lengths; a DR connection counts in only
//! (§0: OutPkts stay 0 in DR mode); the data path's own counters add up.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::IpAddr;

use common::*;
use lvs_core::{FwdMethod, Protocol, Time};
use lvs_datapath::{Datapath, DropReason, Frame, Verdict};

fn send(dp: &mut Datapath, frame: Vec<u8>) {
    let mut f = Frame::from_bytes(&frame);
    let _ = dp.process(Time(10), &mut f);
}

fn v4pkt(src: IpAddr, sp: u16, dst: IpAddr, dp: u16, flags: u8, data: &[u8]) -> Vec<u8> {
    let (IpAddr::V4(s), IpAddr::V4(d)) = (src, dst) else {
        unreachable!()
    };
    ipv4(
        V4 {
            src: s,
            dst: d,
            proto: TCP,
            ttl: 64,
            tos: 0,
            id: 1,
            df: true,
        },
        &tcp(src, dst, sp, dp, 1, 1, flags, data),
    )
}

#[test]
fn nat_counts_both_directions() {
    let (c, v, r): (IpAddr, IpAddr, IpAddr) = (client4().into(), vip4().into(), rs1_4().into());
    let k = key(Protocol::Tcp, v, 80);
    let mut dp = datapath(rr(k), &[(r, 8080, FwdMethod::Masq)]);
    let syn = v4pkt(c, 40000, v, 80, SYN, b"");
    let synack = v4pkt(r, 8080, c, 40000, SYN | ACK, b"");
    let req = v4pkt(c, 40000, v, 80, ACK, b"GET /");
    let (l_syn, l_synack, l_req) = (syn.len(), synack.len(), req.len());
    send(&mut dp, eth(dir_ext_mac(), router_mac(), 0x0800, &syn));
    send(&mut dp, eth(dir_int_mac(), rs1_mac(), 0x0800, &synack));
    send(&mut dp, eth(dir_ext_mac(), router_mac(), 0x0800, &req));
    let ipvs = dp.ipvs();
    let svc = ipvs.service_by_key(&k).unwrap();
    let d = ipvs.dest(svc.dests[0]).unwrap();
    for (who, cnt) in [
        ("service", &svc.stats.counters),
        ("dest", &d.stats.counters),
    ] {
        assert_eq!(cnt.conns, 1, "{who}");
        assert_eq!(cnt.inpkts, 2, "{who}");
        assert_eq!(cnt.outpkts, 1, "{who}");
        assert_eq!(cnt.inbytes, (l_syn + l_req) as u64, "{who}");
        assert_eq!(cnt.outbytes, l_synack as u64, "{who}");
    }
    let conn = ipvs.conns().find(|x| !x.is_template()).unwrap();
    assert_eq!(conn.in_pkts, 2);
    assert_eq!(conn.state_name(), "ESTABLISHED");
    let dc = dp.counters();
    assert_eq!(
        (dc.forwarded, dc.local, dc.dropped, dc.replies),
        (3, 0, 0, 0)
    );
}

#[test]
fn dr_counts_inbound_only() {
    let (c, v, r): (IpAddr, IpAddr, IpAddr) = (client4().into(), vip4().into(), rs1_4().into());
    let k = key(Protocol::Tcp, v, 80);
    let mut dp = datapath(rr(k), &[(r, 80, FwdMethod::Route)]);
    send(
        &mut dp,
        eth(
            dir_ext_mac(),
            router_mac(),
            0x0800,
            &v4pkt(c, 40000, v, 80, SYN, b""),
        ),
    );
    send(
        &mut dp,
        eth(
            dir_ext_mac(),
            router_mac(),
            0x0800,
            &v4pkt(c, 40000, v, 80, ACK, b"x"),
        ),
    );
    let svc = dp.ipvs().service_by_key(&k).unwrap();
    assert_eq!(svc.stats.counters.inpkts, 2);
    assert_eq!(svc.stats.counters.outpkts, 0);
    assert_eq!(svc.stats.counters.conns, 1);
}

#[test]
fn a_packet_processed_again_after_its_neighbour_resolved_counts_once() {
    let (c, v, r): (IpAddr, IpAddr, IpAddr) = (client4().into(), vip4().into(), rs1_4().into());
    let k = key(Protocol::Tcp, v, 80);
    let mut dp = datapath(rr(k), &[(r, 8080, FwdMethod::Masq)]);
    let all = dp.config().neighbours.clone();
    let syn = eth(
        dir_ext_mac(),
        router_mac(),
        0x0800,
        &v4pkt(c, 40000, v, 80, SYN, b""),
    );
    let synack = eth(
        dir_int_mac(),
        rs1_mac(),
        0x0800,
        &v4pkt(r, 8080, c, 40000, SYN | ACK, b""),
    );
    let ip_len = |f: &[u8]| (f.len() - 14) as u64;
    let run = |dp: &mut Datapath, f: &[u8]| dp.process(Time(10), &mut Frame::from_bytes(f));
    let counters = |dp: &Datapath| {
        let ipvs = dp.ipvs();
        let svc = ipvs.service_by_key(&k).unwrap();
        let d = ipvs.dest(svc.dests[0]).unwrap();
        let conn = ipvs.conns().find(|x| !x.is_template()).map(|x| x.in_pkts);
        (
            svc.stats.counters,
            d.stats.counters,
            ipvs.stats.counters,
            conn,
        )
    };

    // The real server's MAC is unknown: the connection is made, the SYN
    // waits uncounted; processed again once the MAC is known: once.
    dp.config_mut().neighbours.retain(|n| n.ip != r);
    assert_eq!(run(&mut dp, &syn), Verdict::Drop(DropReason::NoNeighbour));
    let (s, d, g, conn) = counters(&dp);
    assert_eq!((s.conns, s.inpkts, s.inbytes), (1, 0, 0));
    assert_eq!((d.conns, d.inpkts, g.inpkts), (1, 0, 0));
    assert_eq!(conn, Some(0));
    dp.config_mut().neighbours = all.clone();
    assert!(matches!(run(&mut dp, &syn), Verdict::Forward { .. }));
    let (s, d, g, conn) = counters(&dp);
    for c in [s, d, g] {
        assert_eq!((c.conns, c.inpkts, c.inbytes), (1, 1, ip_len(&syn)));
    }
    assert_eq!(conn, Some(1));

    // The same for a reply whose next hop (the router) is unknown.
    dp.config_mut().neighbours.retain(|n| n.mac != router_mac());
    assert_eq!(
        run(&mut dp, &synack),
        Verdict::Drop(DropReason::NoNeighbour)
    );
    assert_eq!(counters(&dp).0.outpkts, 0);
    dp.config_mut().neighbours = all;
    assert!(matches!(
        run(&mut dp, &synack),
        Verdict::Reply { .. } | Verdict::Forward { .. }
    ));
    let (s, d, g, _) = counters(&dp);
    for c in [s, d, g] {
        assert_eq!((c.outpkts, c.outbytes), (1, ip_len(&synack)));
    }
}
