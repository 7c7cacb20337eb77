//! Connection reuse and unavailable destinations (`ip_vs_in_hook`:
//! `is_new_conn`, `is_new_conn_expected`, `conn_reuse_mode`,
//! `expire_nodest_conn`; `ip_vs_expire_nodest_conn_flush`), worked by hand
//! from the kernel's rules (conntrack = 0).

#![allow(clippy::unwrap_used)]

mod conn_common;

use conn_common::*;
use lvs_core::conn::sctp::chunk;
use lvs_core::conn::tcp::flags::{ACK, FIN, SYN};
use lvs_core::conn::{DropReason, InVerdict, PacketMeta};
use lvs_core::{DestConfig, DestId, FwdMethod, ServiceConfig};

const VIP: (&str, u16) = ("10.0.0.1", 80);
const C: (&str, u16) = ("10.9.0.1", 1000);

/// rr service with two servers of method `fwd`; returns (older, newer).
fn setup(fwd: FwdMethod) -> (Lab, DestId, DestId) {
    let mut lab = Lab::new();
    let key = tcp_key(VIP.0, VIP.1);
    lab.service(ServiceConfig::new(key).with_scheduler("rr"));
    let a = lab.dest(&key, "10.0.1.1", 80, fwd);
    let b = lab.dest(&key, "10.0.1.2", 80, fwd);
    (lab, a, b)
}

/// Drive a NAT connection to TIME_WAIT (client closes first).
fn to_time_wait(lab: &mut Lab, rs: &str) {
    lab.fwd(syn(C, VIP));
    lab.reply(tcp((rs, 80), C, SYN | ACK));
    lab.fwd(ack(C, VIP));
    lab.reply(tcp((rs, 80), C, FIN | ACK));
    lab.fwd(fin(C, VIP));
    assert_eq!(lab.conn(C.1).state_name(), "TIME_WAIT");
}

fn rs_of(lab: &Lab, d: DestId) -> String {
    lab.ipvs.dest(d).unwrap().config.addr.to_string()
}

#[test]
fn syn_on_time_wait_reschedules() {
    let (mut lab, _, _) = setup(FwdMethod::Masq);
    let first = {
        let f = lab.fwd(syn(("10.9.9.9", 1), VIP)); // moves rr on
        f.dest.unwrap()
    };
    let _ = first;
    let d0 = lab.fwd(syn(C, VIP)).dest.unwrap();
    let rs = rs_of(&lab, d0);
    lab.reply(tcp((&rs, 80), C, SYN | ACK));
    lab.fwd(ack(C, VIP));
    lab.reply(tcp((&rs, 80), C, FIN | ACK));
    lab.fwd(fin(C, VIP));
    assert_eq!(lab.conn(C.1).state_name(), "TIME_WAIT");
    let old = lab.conn(C.1).id;
    let f = lab.fwd(syn(C, VIP));
    assert!(f.new, "the old connection expired, a new one was scheduled");
    assert_ne!(f.dest.unwrap(), d0, "rr moved on");
    let c = lab.conn(C.1);
    assert_eq!(c.state_name(), "SYN_RECV");
    assert_eq!(c.id, old, "the freed slot was reused");
    check_invariants(&lab.ipvs, lab.now);
}

#[test]
fn conn_reuse_mode_0_follows_the_old_connection() {
    let (mut lab, a, b) = setup(FwdMethod::Masq);
    lab.ipvs.sysctls_mut().conn_reuse_mode = 0;
    to_time_wait(&mut lab, "10.0.1.2"); // rr's first pick is the newest
    let before = lab.conn(C.1).dest;
    let f = lab.fwd(syn(C, VIP));
    assert!(!f.new);
    assert_eq!(f.dest, before);
    assert_eq!(lab.conn(C.1).state_name(), "SYN_RECV", "TIME_WAIT + SYN");
    let _ = (a, b);
}

#[test]
fn close_state_is_reused_but_established_is_not() {
    let (mut lab, _, _) = setup(FwdMethod::Route);
    lab.fwd(syn(C, VIP));
    lab.fwd(ack(C, VIP));
    let f = lab.fwd(syn(C, VIP));
    assert!(!f.new, "SYN on ESTABLISHED follows the connection");
    lab.fwd(rst(C, VIP));
    assert_eq!(lab.conn(C.1).state_name(), "CLOSE");
    assert!(lab.fwd(syn(C, VIP)).new);
    check_invariants(&lab.ipvs, lab.now);
}

#[test]
fn noouput_fin_wait_needs_mode_bit_2() {
    let (mut lab, _, _) = setup(FwdMethod::Route);
    lab.fwd(syn(C, VIP));
    lab.fwd(ack(C, VIP));
    lab.fwd(fin(C, VIP));
    assert_eq!(lab.conn(C.1).state_name(), "FIN_WAIT");
    let f = lab.fwd(syn(C, VIP));
    assert!(!f.new, "mode 1: FIN_WAIT is not reused");
    assert_eq!(lab.conn(C.1).state_name(), "SYN_RECV");
    lab.fwd(ack(C, VIP));
    lab.fwd(fin(C, VIP));
    lab.ipvs.sysctls_mut().conn_reuse_mode = 3;
    assert!(lab.fwd(syn(C, VIP)).new, "mode 3: FIN_WAIT of a DR conn is");
    check_invariants(&lab.ipvs, lab.now);
}

#[test]
fn controlled_connection_is_not_reused() {
    let mut lab = Lab::new();
    let key = tcp_key(VIP.0, VIP.1);
    lab.service(
        ServiceConfig::new(key)
            .with_scheduler("rr")
            .with_persistence(300),
    );
    lab.dest(&key, "10.0.1.1", 80, FwdMethod::Route);
    lab.fwd(syn(C, VIP));
    lab.fwd(rst(C, VIP));
    assert_eq!(
        lab.conn(C.1).state_name(),
        "SYN_RECV",
        "a client RST in SYN_RECV leaves it there"
    );
    lab.fwd(ack(C, VIP));
    lab.fwd(rst(C, VIP));
    assert_eq!(lab.conn(C.1).state_name(), "CLOSE");
    let f = lab.fwd(syn(C, VIP));
    assert!(!f.new, "a template controls it");
    assert_eq!(lab.conn(C.1).state_name(), "SYN_RECV");
}

#[test]
fn sctp_closed_association_is_reused_by_init() {
    let mut lab = Lab::new();
    let key = sctp_key("10.0.0.1", 9);
    lab.service(ServiceConfig::new(key).with_scheduler("rr"));
    lab.dest(&key, "10.0.1.1", 9, FwdMethod::Route);
    let p = |ch| PacketMeta::sctp((ip(C.0), C.1), (ip("10.0.0.1"), 9), ch);
    lab.fwd(p(chunk::INIT));
    lab.fwd(p(chunk::COOKIE_ECHO));
    assert!(!lab.fwd(p(chunk::INIT)).new, "INIT on ESTABLISHED");
    lab.fwd(p(chunk::ABORT));
    assert_eq!(lab.conn(C.1).state_name(), "CLOSED");
    assert!(lab.fwd(p(chunk::INIT)).new);
}

/// Since 5.9 (kubernetes#81775) and 5.16 (any `conn_reuse_mode`): with
/// `expire_nodest_conn`, a SYN on a connection to a weight-0 server is
/// rescheduled.
#[test]
fn expire_nodest_conn_reschedules_syn_to_quiesced_server() {
    let (mut lab, a, b) = setup(FwdMethod::Route);
    lab.ipvs.sysctls_mut().conn_reuse_mode = 0;
    lab.fwd(syn(C, VIP));
    lab.fwd(ack(C, VIP));
    let d = lab.conn(C.1).dest.unwrap();
    let addr = lab.ipvs.dest(d).unwrap().config.addr;
    let key = tcp_key(VIP.0, VIP.1);
    lab.ipvs
        .edit_dest(&key, DestConfig::new(addr, 80).with_weight(0))
        .unwrap();
    let f = lab.fwd(syn(C, VIP));
    assert!(!f.new, "without expire_nodest_conn the SYN follows");
    lab.ipvs.sysctls_mut().expire_nodest_conn = true;
    assert!(!lab.fwd(ack(C, VIP)).new, "only a SYN is rescheduled");
    let f = lab.fwd(syn(C, VIP));
    assert!(f.new);
    assert_ne!(f.dest, Some(d));
    let _ = (a, b);
    check_invariants(&lab.ipvs, lab.now);
}

/// The reschedule also hits controlled connections; the template then
/// still points at the quiesced server (`ip_vs_check_template` only
/// rejects weight 0 with `expire_quiescent_template`).
#[test]
fn expire_nodest_conn_with_persistence_returns_to_the_template_server() {
    let mut lab = Lab::new();
    let key = tcp_key(VIP.0, VIP.1);
    lab.service(
        ServiceConfig::new(key)
            .with_scheduler("rr")
            .with_persistence(300),
    );
    lab.dest(&key, "10.0.1.1", 80, FwdMethod::Route);
    lab.dest(&key, "10.0.1.2", 80, FwdMethod::Route);
    lab.ipvs.sysctls_mut().expire_nodest_conn = true;
    let d = lab.fwd(syn(C, VIP)).dest.unwrap();
    lab.fwd(ack(C, VIP));
    let addr = lab.ipvs.dest(d).unwrap().config.addr;
    lab.ipvs
        .edit_dest(&key, DestConfig::new(addr, 80).with_weight(0))
        .unwrap();
    let f = lab.fwd(syn(C, VIP));
    assert!(f.new);
    assert_eq!(f.dest, Some(d));
    lab.ipvs.sysctls_mut().expire_quiescent_template = true;
    let f = lab.fwd(syn(C, VIP));
    assert!(f.new);
    assert_ne!(f.dest, Some(d));
    check_invariants(&lab.ipvs, lab.now);
}

#[test]
fn removed_destination_drops_or_expires() {
    let (mut lab, _, _) = setup(FwdMethod::Route);
    lab.fwd(syn(C, VIP));
    lab.fwd(ack(C, VIP));
    let d = lab.conn(C.1).dest.unwrap();
    let addr = lab.ipvs.dest(d).unwrap().config.addr;
    lab.ipvs
        .del_dest(&tcp_key(VIP.0, VIP.1), &addr, 80, lab.now)
        .unwrap();
    assert_eq!(
        lab.send(ack(C, VIP)),
        InVerdict::Drop(DropReason::DestUnavailable)
    );
    assert_eq!(
        lab.send(syn(C, VIP)),
        InVerdict::Drop(DropReason::DestUnavailable),
        "even a SYN"
    );
    let in_before = lab.ipvs.dest(d).unwrap().stats.counters.inpkts;
    assert_eq!(in_before, 2, "dropped packets are not counted");
    lab.ipvs.sysctls_mut().expire_nodest_conn = true;
    assert_eq!(
        lab.send(ack(C, VIP)),
        InVerdict::Pass,
        "expired; an ACK cannot schedule"
    );
    assert_eq!(lab.ipvs.conn_count(), 0);
    assert_eq!(lab.ipvs.dest_refcount(d), 0);
    let f = lab.fwd(syn(C, VIP));
    assert!(f.new);
    assert_ne!(f.dest, Some(d));
    check_invariants(&lab.ipvs, lab.now);
}

#[test]
fn flush_after_delete_with_expire_nodest_conn() {
    let mut lab = Lab::new();
    let key = tcp_key(VIP.0, VIP.1);
    lab.service(
        ServiceConfig::new(key)
            .with_scheduler("rr")
            .with_persistence(300),
    );
    let a = lab.dest(&key, "10.0.1.1", 80, FwdMethod::Route);
    let b = lab.dest(&key, "10.0.1.2", 80, FwdMethod::Route);
    for i in 0..6u8 {
        lab.fwd(syn((&format!("10.9.0.{i}"), 1000), VIP));
    }
    let on_a = lab.ipvs.conns().filter(|c| c.dest == Some(a)).count();
    assert!(on_a > 0);
    lab.ipvs.sysctls_mut().expire_nodest_conn = true;
    lab.ipvs
        .del_dest(&key, &ip("10.0.1.1"), 80, lab.now)
        .unwrap();
    lab.ipvs.expire(lab.now);
    assert_eq!(lab.ipvs.conns().filter(|c| c.dest == Some(a)).count(), 0);
    assert_eq!(lab.counts(a), (0, 0, 0));
    assert_eq!(lab.ipvs.dest_refcount(a), 0);
    assert!(lab.ipvs.conns().any(|c| c.dest == Some(b)));
    check_invariants(&lab.ipvs, lab.now);
}

#[test]
fn delete_without_sysctl_keeps_connections_until_they_expire() {
    let (mut lab, _, _) = setup(FwdMethod::Route);
    lab.fwd(syn(C, VIP));
    let d = lab.conn(C.1).dest.unwrap();
    let addr = lab.ipvs.dest(d).unwrap().config.addr;
    lab.ipvs
        .del_dest(&tcp_key(VIP.0, VIP.1), &addr, 80, lab.now)
        .unwrap();
    lab.ipvs.expire(lab.now);
    assert_eq!(lab.ipvs.conn_count(), 1);
    assert_eq!(lab.ipvs.dest_refcount(d), 1);
    lab.advance_secs(60);
    assert_eq!(lab.ipvs.conn_count(), 0);
    assert_eq!(lab.ipvs.dest_refcount(d), 0);
    // The trash may now free it.
    lab.ipvs.tick(lab.now.plus_secs(1000));
    assert!(lab.ipvs.dest(d).is_none());
    let _ = SYN;
}
