//! `Ipvs::conn_reply` (the data path's one-lookup reply path) against the
//! pair it replaces, `conn_lookup_out` then `conn_out`: two directors fed
//! the same random packets and clock, one through each path, must give the
//! same verdicts and end in the same state (connections, timers, counters).
//! Replies are also sent exactly at a connection's expiry instant without
//! running the timers first, where the lookup still finds the connection
//! but the expiry that `conn_out` runs first ends it.

#![allow(clippy::unwrap_used)]

mod conn_common;

use conn_common::*;
use lvs_core::conn::tcp::flags::{ACK, FIN, RST, SYN};
use lvs_core::conn::{OutForward, OutVerdict, PacketMeta};
use lvs_core::{DestId, FwdMethod, ServiceConfig, Time};
use proptest::prelude::*;

const VIP: &str = "10.0.0.1";
const CLIENT: &str = "10.9.0.1";

#[derive(Debug, Clone)]
enum Op {
    /// Client → server TCP packet on client port `1000 + port`.
    In { port: u16, flags: u8, dr: bool },
    /// Server → client reply on client port `1000 + port`.
    Reply { port: u16, flags: u8, dr: bool },
    /// Move the clock by this many ms without running the timers.
    Jump(u64),
    /// Move the clock to the earliest connection deadline, timers not run.
    ToDeadline,
}

fn op() -> impl Strategy<Value = Op> {
    let flags = prop::sample::select(vec![SYN, ACK, FIN | ACK, RST, SYN | ACK, ACK]);
    prop_oneof![
        (0u16..6, flags.clone(), any::<bool>()).prop_map(|(port, flags, dr)| Op::In {
            port,
            flags,
            dr
        }),
        (0u16..6, flags, any::<bool>()).prop_map(|(port, flags, dr)| Op::Reply { port, flags, dr }),
        (0u64..200_000).prop_map(Op::Jump),
        Just(Op::ToDeadline),
    ]
}

fn lab() -> (Lab, Vec<DestId>) {
    let mut lab = Lab::new();
    let nat = tcp_key(VIP, 80);
    let dr = tcp_key(VIP, 81);
    lab.service(ServiceConfig::new(nat).with_scheduler("rr"));
    lab.service(ServiceConfig::new(dr).with_scheduler("rr"));
    let ds = vec![
        lab.dest(&nat, "10.0.1.1", 8080, FwdMethod::Masq),
        lab.dest(&nat, "10.0.1.2", 8080, FwdMethod::Masq),
        lab.dest(&dr, "10.0.1.3", 81, FwdMethod::Route),
    ];
    (lab, ds)
}

/// The old path: lookup, then `conn_out` only when it found one.
fn via_pair(lab: &mut Lab, pkt: &PacketMeta) -> Option<OutForward> {
    lab.ipvs.conn_lookup_out(pkt)?;
    match lab.ipvs.conn_out(lab.now, pkt) {
        OutVerdict::Forward(o) => Some(o),
        OutVerdict::Pass => None,
    }
}

fn reply_pkt(lab: &Lab, port: u16, flags: u8, dr: bool) -> Option<PacketMeta> {
    let cport = 1000 + port;
    let c = lab
        .ipvs
        .conns()
        .find(|c| !c.is_template() && c.cport == cport && (c.vport == 81) == dr)?;
    let mut p = tcp(("0.0.0.0", 0), (CLIENT, cport), flags);
    p.saddr = if dr { c.vaddr } else { c.daddr };
    p.sport = if dr { c.vport } else { c.dport };
    Some(p)
}

proptest! {
    #[test]
    fn conn_reply_is_lookup_then_conn_out(ops in proptest::collection::vec(op(), 1..120)) {
        let (mut a, ds) = lab();
        let (mut b, _) = lab();
        for op in ops {
            match op {
                Op::In { port, flags, dr } => {
                    let p = tcp((CLIENT, 1000 + port), (VIP, if dr { 81 } else { 80 }), flags);
                    prop_assert_eq!(a.send(p), b.send(p));
                }
                Op::Reply { port, flags, dr } => {
                    let Some(p) = reply_pkt(&a, port, flags, dr) else { continue };
                    let want = via_pair(&mut a, &p);
                    let got = b.ipvs.conn_reply(b.now, &p);
                    prop_assert_eq!(got, want);
                    if let Some(o) = got {
                        prop_assert!(!o.fullnat);
                    }
                }
                Op::Jump(ms) => {
                    a.now = Time(a.now.0 + ms);
                    b.now = a.now;
                }
                Op::ToDeadline => {
                    if let Some(t) = a.ipvs.conns().map(|c| c.expires).min() {
                        a.now = a.now.max(t);
                        b.now = a.now;
                    }
                }
            }
            let ca: Vec<_> = a.ipvs.conns().collect();
            let cb: Vec<_> = b.ipvs.conns().collect();
            prop_assert_eq!(ca, cb);
            for d in &ds {
                prop_assert_eq!(
                    format!("{:?}", a.ipvs.dest(*d)),
                    format!("{:?}", b.ipvs.dest(*d))
                );
            }
        }
    }
}

#[test]
fn reply_at_the_expiry_instant_is_not_forwarded() {
    // Worked by hand: the SYN makes a SYN_RECV connection with a 60 s
    // timer; a reply arriving exactly 60 s later finds it in the index,
    // but the timer due at that instant runs first and ends it, so the
    // reply is not IPVS business (as `conn_out`, which expires first).
    let (mut lab, _) = lab();
    lab.send(tcp((CLIENT, 1000), (VIP, 80), SYN));
    let p = reply_pkt(&lab, 0, SYN | ACK, false).unwrap();
    lab.now = lab.now.plus_secs(60);
    assert!(lab.ipvs.conn_lookup_out(&p).is_some());
    assert_eq!(lab.ipvs.conn_reply(lab.now, &p), None);
    assert_eq!(lab.ipvs.conns().count(), 0);
}

#[test]
fn reply_just_before_expiry_is_forwarded_and_counted() {
    let (mut lab, ds) = lab();
    lab.send(tcp((CLIENT, 1000), (VIP, 80), SYN));
    let p = reply_pkt(&lab, 0, SYN | ACK, false).unwrap();
    lab.now = Time(lab.now.plus_secs(60).0 - 1);
    let o = lab.ipvs.conn_reply(lab.now, &p).unwrap();
    assert_eq!((o.vaddr, o.vport), (ip(VIP), 80));
    assert_eq!((o.caddr, o.cport, o.fullnat), (ip(CLIENT), 1000, false));
    let c = lab.conn(1000);
    // SYN+ACK from the server keeps SYN_RECV and re-arms its 60 s.
    assert_eq!((c.state_name(), lab.left(&c)), ("SYN_RECV", 60));
    assert!(
        ds.iter()
            .any(|d| format!("{:?}", lab.ipvs.dest(*d)).contains("outpkts: 1"))
    );
}
