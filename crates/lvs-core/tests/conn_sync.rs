//! Connections created and updated from sync messages (`ip_vs_proc_conn`),
//! and the bytes a connection costs.

#![allow(clippy::unwrap_used)]

mod conn_common;

use conn_common::*;
use lvs_core::conn::{SyncedConn, flags};
use lvs_core::{FwdMethod, ServiceConfig};

fn msg(cport: u16, fl: u16, state: u8, timeout: Option<u32>) -> SyncedConn {
    SyncedConn {
        protocol: 6,
        caddr: ip("10.9.0.1"),
        cport,
        vaddr: ip("10.0.0.1"),
        vport: 80,
        daddr: ip("10.0.1.1"),
        dport: 8080,
        flags: u32::from(fl),
        state,
        timeout,
        fwmark: 0,
    }
}

#[test]
fn synced_connection_binds_to_the_local_destination() {
    let mut lab = Lab::new();
    let key = tcp_key("10.0.0.1", 80);
    lab.service(ServiceConfig::new(key).with_scheduler("rr"));
    // Locally the server is NAT; the master said DR: the local method wins.
    let d = lab.dest(&key, "10.0.1.1", 8080, FwdMethod::Masq);
    let id = lab
        .ipvs
        .insert_synced(
            lab.now,
            &msg(1000, flags::FWD_ROUTE | flags::NOOUTPUT, 1, Some(840)),
        )
        .unwrap();
    let c = lab.ipvs.conn_info(id).unwrap();
    assert_eq!(c.state_name(), "ESTABLISHED");
    assert_eq!(c.flags & 0x7, 0, "forwarding method of the local dest");
    assert_ne!(c.flags & u32::from(flags::SYNC), 0);
    assert_eq!(c.flags & u32::from(flags::NOOUTPUT), 0);
    assert_eq!((c.dest, lab.left(&c), c.in_pkts), (Some(d), 840, 3));
    assert_eq!(lab.counts(d), (1, 0, 0), "active as the message says");
    // Update: now inactive (FIN_WAIT), v0 style (no timeout).
    let id2 = lab
        .ipvs
        .insert_synced(lab.now, &msg(1000, flags::INACTIVE, 4, None))
        .unwrap();
    assert_eq!(id2, id);
    let c = lab.ipvs.conn_info(id).unwrap();
    assert_eq!((c.state_name(), lab.left(&c)), ("FIN_WAIT", 120));
    assert_eq!(lab.counts(d), (0, 1, 0));
    // The reply path knows it (local NAT).
    assert!(matches!(
        lab.reply(tcp(("10.0.1.1", 8080), ("10.9.0.1", 1000), 0x10)),
        lvs_core::conn::OutVerdict::Forward(_)
    ));
    check_invariants(&lab.ipvs, lab.now);
    lab.advance_secs(120);
    assert_eq!(lab.ipvs.conn_count(), 0);
    assert_eq!(lab.counts(d), (0, 0, 0));
}

#[test]
fn synced_connection_without_local_destination_is_unbound() {
    let mut lab = Lab::new();
    let id = lab
        .ipvs
        .insert_synced(lab.now, &msg(1000, flags::FWD_ROUTE, 1, Some(900)))
        .unwrap();
    let c = lab.ipvs.conn_info(id).unwrap();
    assert_eq!(c.dest, None);
    assert_eq!((c.daddr, c.dport), (ip("10.0.1.1"), 8080));
    // Packets follow it with the message's method.
    let f = lab.fwd(ack(("10.9.0.1", 1000), ("10.0.0.1", 80)));
    assert_eq!(
        (f.fwd, f.dest, f.daddr),
        (FwdMethod::Route, None, ip("10.0.1.1"))
    );
}

#[test]
fn synced_template_gets_three_minutes_without_timeout() {
    let mut lab = Lab::new();
    let key = tcp_key("10.0.0.1", 80);
    lab.service(
        ServiceConfig::new(key)
            .with_scheduler("rr")
            .with_persistence(600),
    );
    let d = lab.dest(&key, "10.0.1.1", 8080, FwdMethod::Route);
    let mut t = msg(0, flags::TEMPLATE, 0, None);
    t.caddr = ip("10.9.0.0");
    let id = lab.ipvs.insert_synced(lab.now, &t).unwrap();
    let c = lab.ipvs.conn_info(id).unwrap();
    assert!(c.is_template());
    assert_eq!((lab.left(&c), lab.counts(d)), (180, (0, 0, 1)));
    check_invariants(&lab.ipvs, lab.now);
}

/// The storage goal: at most 128 bytes per IPv4 connection, entry and
/// indices included, for DR (one index) and NAT (two).
#[test]
fn bytes_per_ipv4_connection() {
    for (fwd, n) in [(FwdMethod::Route, 50_000u32), (FwdMethod::Masq, 50_000)] {
        let mut lab = Lab::new();
        let key = tcp_key("10.0.0.1", 80);
        lab.service(ServiceConfig::new(key).with_scheduler("rr"));
        lab.dest(&key, "10.0.1.1", 80, fwd);
        for i in 0..n {
            let c = format!("10.{}.{}.{}", 100 + i / 65536, (i / 256) % 256, i % 256);
            lab.fwd(syn((&c, 1000), ("10.0.0.1", 80)));
        }
        assert_eq!(lab.ipvs.conn_count(), n as usize);
        let per = lab.ipvs.conn_state().heap_bytes() as f64 / f64::from(n);
        assert!(per <= 128.0, "{fwd:?}: {per:.1} bytes per connection");
        assert!(per >= 68.0, "{fwd:?}: {per:.1} is below the entry size");
    }
}
