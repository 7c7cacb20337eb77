//! Persistence templates (`ip_vs_sched_persist`, `ip_vs_check_template`,
//! `ip_vs_conn_expire`), worked by hand from the kernel's rules and §1.5 of
//! the reference.

#![allow(clippy::unwrap_used)]

mod conn_common;

use conn_common::*;
use lvs_core::conn::tcp::flags::{ACK, SYN};
use lvs_core::conn::{ConnInfo, InVerdict, OutVerdict, PacketMeta};
use lvs_core::{Af, DestConfig, DestId, FwdMethod, ServiceConfig, ServiceFlags, ServiceKey};

const VIP: (&str, u16) = ("10.0.0.1", 80);

/// A persistent rr service with two DR servers; returns (older, newer).
fn two_dests(lab: &mut Lab, key: ServiceKey, cfg: ServiceConfig, port: u16) -> (DestId, DestId) {
    lab.service(cfg);
    let a = lab.dest(&key, "10.0.1.1", port, FwdMethod::Route);
    let b = lab.dest(&key, "10.0.1.2", port, FwdMethod::Route);
    (a, b)
}

fn persistent(key: ServiceKey, timeout: u32) -> ServiceConfig {
    ServiceConfig::new(key)
        .with_scheduler("rr")
        .with_persistence(timeout)
}

fn only_template(lab: &Lab) -> ConnInfo {
    let t = lab.templates();
    assert_eq!(t.len(), 1, "{t:?}");
    t[0]
}

#[test]
fn same_client_sticks_while_rr_alternates() {
    let mut lab = Lab::new();
    let key = tcp_key(VIP.0, VIP.1);
    let (a, b) = two_dests(&mut lab, key, persistent(key, 300), 80);
    let first = lab.fwd(syn(("10.9.0.1", 1000), VIP)).dest.unwrap();
    let other = lab.fwd(syn(("10.9.0.2", 1000), VIP)).dest.unwrap();
    assert_ne!(first, other, "a new client is scheduled (rr moves on)");
    for port in 1001..1010 {
        assert_eq!(lab.fwd(syn(("10.9.0.1", port), VIP)).dest, Some(first));
    }
    assert_eq!(lab.templates().len(), 2);
    let t = lab
        .templates()
        .into_iter()
        .find(|t| t.caddr == ip("10.9.0.1"))
        .unwrap();
    assert_eq!(t.protocol_name(), "TCP");
    assert_eq!((t.cport, t.vaddr, t.vport), (0, ip(VIP.0), 80));
    assert_eq!(t.dest, Some(first));
    assert_eq!(t.n_control, 10);
    assert_eq!((t.state_name(), lab.left(&t)), ("NONE", 300));
    let persist = |d| lab.counts(d).2;
    assert_eq!(persist(a) + persist(b), 2);
    check_invariants(&lab.ipvs, lab.now);
}

#[test]
fn template_is_assured_by_an_established_connection() {
    let mut lab = Lab::new();
    let key = tcp_key(VIP.0, VIP.1);
    two_dests(&mut lab, key, persistent(key, 300), 80);
    let c = ("10.9.0.1", 1000);
    lab.fwd(syn(c, VIP));
    assert_eq!(only_template(&lab).state_name(), "NONE");
    lab.fwd(ack(c, VIP));
    assert_eq!(only_template(&lab).state_name(), "ASSURED");
}

#[test]
fn udp_template_is_assured_by_a_reply() {
    let mut lab = Lab::new();
    let key = udp_key("10.0.0.1", 53);
    lab.service(persistent(key, 60));
    lab.dest(&key, "10.0.1.1", 53, FwdMethod::Masq);
    let c = ("10.9.0.1", 5353);
    lab.fwd(udp(c, ("10.0.0.1", 53)));
    lab.fwd(udp(c, ("10.0.0.1", 53)));
    assert_eq!(only_template(&lab).state_name(), "NONE");
    assert!(matches!(
        lab.reply(udp(("10.0.1.1", 53), c)),
        OutVerdict::Forward(_)
    ));
    assert_eq!(only_template(&lab).state_name(), "ASSURED");
}

#[test]
fn netmask_granularity_v4_and_v6() {
    let mut lab = Lab::new();
    let key = tcp_key(VIP.0, VIP.1);
    let mut cfg = persistent(key, 300);
    cfg.netmask = 0xffff_ff00;
    two_dests(&mut lab, key, cfg, 80);
    let d1 = lab.fwd(syn(("10.9.0.1", 1000), VIP)).dest;
    let d2 = lab.fwd(syn(("10.9.0.200", 1000), VIP)).dest;
    let d3 = lab.fwd(syn(("10.9.1.1", 1000), VIP)).dest;
    assert_eq!(d1, d2, "same /24");
    assert_ne!(d1, d3, "another /24 is scheduled anew");
    let nets: Vec<_> = lab.templates().iter().map(|t| t.caddr).collect();
    assert!(nets.contains(&ip("10.9.0.0")) && nets.contains(&ip("10.9.1.0")));

    let key6 = tcp_key("2001:db8::1", 80);
    let mut cfg6 = persistent(key6, 300);
    cfg6.netmask = 64;
    lab.service(cfg6);
    lab.dest(&key6, "2001:db8:1::1", 80, FwdMethod::Route);
    lab.dest(&key6, "2001:db8:1::2", 80, FwdMethod::Route);
    let v6 = ("2001:db8::1", 80);
    let e1 = lab.fwd(syn(("2001:db8:9:1::5", 1), v6)).dest;
    let e2 = lab.fwd(syn(("2001:db8:9:1:ffff::7", 2), v6)).dest;
    let e3 = lab.fwd(syn(("2001:db8:9:2::5", 3), v6)).dest;
    assert_eq!(e1, e2, "same /64");
    assert_ne!(e1, e3);
    assert!(
        lab.templates()
            .iter()
            .any(|t| t.af == Af::Inet6 && t.caddr == ip("2001:db8:9:1::"))
    );
    check_invariants(&lab.ipvs, lab.now);
}

#[test]
fn fwmark_template_spans_ports_and_keeps_the_packet_port() {
    let mut lab = Lab::new();
    let fw = ServiceKey::Fwmark {
        af: Af::Inet,
        mark: 5,
    };
    lab.service(persistent(fw, 300));
    // Real server port 8080 is ignored by persistent fwmark connections.
    let a = lab.dest(&fw, "10.0.1.1", 8080, FwdMethod::Route);
    lab.dest(&fw, "10.0.1.2", 8080, FwdMethod::Route);
    let c = "10.9.0.1";
    let f80 = lab.fwd(syn((c, 1000), ("10.0.0.1", 80)).with_fwmark(5));
    let f443 = lab.fwd(syn((c, 1001), ("10.0.0.1", 443)).with_fwmark(5));
    let f_other_vip = lab.fwd(syn((c, 1002), ("10.0.0.2", 22)).with_fwmark(5));
    assert_eq!(f80.dest, f443.dest);
    assert_eq!(
        f80.dest, f_other_vip.dest,
        "the mark, not the VIP, keys the template"
    );
    assert_eq!((f80.dport, f443.dport, f_other_vip.dport), (80, 443, 22));
    let t = only_template(&lab);
    assert_eq!(t.protocol, 0);
    assert_eq!(t.protocol_name(), "IP");
    assert_eq!((t.vaddr, t.vport, t.dport), (ip("0.0.0.5"), 0, 0));
    assert_eq!((t.caddr, t.fwmark), (ip(c), 5));
    let _ = a;
}

#[test]
fn port_zero_persistent_service() {
    let mut lab = Lab::new();
    let key = tcp_key(VIP.0, 0);
    lab.service(persistent(key, 300));
    lab.dest(&key, "10.0.1.1", 0, FwdMethod::Route);
    lab.dest(&key, "10.0.1.2", 0, FwdMethod::Route);
    let c = "10.9.0.1";
    let x = lab.fwd(syn((c, 1000), ("10.0.0.1", 443)));
    let y = lab.fwd(syn((c, 1001), ("10.0.0.1", 22)));
    assert_eq!(x.dest, y.dest);
    assert_eq!((x.dport, y.dport), (443, 22));
    let t = only_template(&lab);
    assert_eq!((t.protocol_name(), t.vport, t.dport), ("TCP", 0, 0));
    // An exact service on the VIP takes precedence over the port-0 one.
    let k22 = tcp_key(VIP.0, 22);
    lab.service(ServiceConfig::new(k22).with_scheduler("rr"));
    let d22 = lab.dest(&k22, "10.0.2.2", 2222, FwdMethod::Route);
    let z = lab.fwd(syn((c, 1002), ("10.0.0.1", 22)));
    assert_eq!((z.dest, z.dport), (Some(d22), 2222));
}

#[test]
fn ftp_port_template_has_no_ports() {
    let mut lab = Lab::new();
    let key = tcp_key(VIP.0, 21);
    lab.service(persistent(key, 300));
    lab.dest(&key, "10.0.1.1", 2121, FwdMethod::Route);
    let f = lab.fwd(syn(("10.9.0.1", 1000), ("10.0.0.1", 21)));
    assert_eq!(f.dport, 2121, "the control connection uses the server port");
    let t = only_template(&lab);
    assert_eq!((t.vport, t.dport), (0, 0));
}

#[test]
fn template_without_controlled_connections_expires_on_time() {
    let mut lab = Lab::new();
    let key = tcp_key(VIP.0, VIP.1);
    let (a, b) = two_dests(&mut lab, key, persistent(key, 300), 80);
    lab.fwd(syn(("10.9.0.1", 1000), VIP)); // SYN_RECV: 60 s
    lab.advance_secs(60);
    assert_eq!(lab.ipvs.conn_count(), 1, "only the template is left");
    lab.advance_secs(239);
    assert_eq!(only_template(&lab).n_control, 0);
    lab.advance_secs(1);
    assert_eq!(lab.ipvs.conn_count(), 0, "300 s after its last use");
    assert_eq!(lab.counts(a).2 + lab.counts(b).2, 0);
}

/// A template that still controls connections when its timer fires is
/// re-armed for 60 s, and 60 s becomes its timeout (`ip_vs_conn_expire`,
/// `expire_later`).
#[test]
fn template_controlling_connections_is_rearmed_for_60s() {
    let mut lab = Lab::new();
    let key = tcp_key(VIP.0, VIP.1);
    two_dests(&mut lab, key, persistent(key, 30), 80);
    let c = ("10.9.0.1", 1000);
    lab.fwd(syn(c, VIP));
    lab.fwd(ack(c, VIP)); // ESTABLISHED: 900 s
    lab.advance_secs(30);
    let t = only_template(&lab);
    assert_eq!((t.timeout, lab.left(&t)), (60, 60));
    lab.advance_secs(20);
    lab.fwd(rst(c, VIP)); // CLOSE: 10 s
    lab.advance_secs(10);
    assert_eq!(lab.ipvs.conns().filter(|c| !c.is_template()).count(), 0);
    assert_eq!(only_template(&lab).n_control, 0);
    lab.advance_secs(29);
    assert_eq!(
        lab.templates().len(),
        1,
        "rests until its re-armed deadline"
    );
    lab.advance_secs(1);
    assert_eq!(lab.ipvs.conn_count(), 0);
}

#[test]
fn new_connection_refreshes_template_with_its_current_timeout() {
    let mut lab = Lab::new();
    let key = tcp_key(VIP.0, VIP.1);
    two_dests(&mut lab, key, persistent(key, 300), 80);
    let c = "10.9.0.1";
    lab.fwd(syn((c, 1000), VIP));
    lab.fwd(ack((c, 1000), VIP));
    lab.advance_secs(100);
    lab.fwd(syn((c, 1001), VIP));
    assert_eq!(lab.left(&only_template(&lab)), 300, "re-armed for 300 s");
    lab.advance_secs(300); // fires while controlling: 60 s from now on
    lab.advance_secs(10);
    lab.fwd(syn((c, 1002), VIP));
    let t = only_template(&lab);
    assert_eq!((t.timeout, lab.left(&t)), (60, 60));
}

#[test]
fn quiesced_destination_keeps_its_clients_unless_sysctl() {
    let mut lab = Lab::new();
    let key = tcp_key(VIP.0, VIP.1);
    two_dests(&mut lab, key, persistent(key, 300), 80);
    let c = "10.9.0.1";
    let first = lab.fwd(syn((c, 1000), VIP)).dest.unwrap();
    let addr = lab.ipvs.dest(first).unwrap().config.addr;
    lab.ipvs
        .edit_dest(&key, DestConfig::new(addr, 80).with_weight(0))
        .unwrap();
    assert_eq!(
        lab.fwd(syn((c, 1001), VIP)).dest,
        Some(first),
        "weight 0 keeps persistent clients"
    );
    lab.ipvs.sysctls_mut().expire_quiescent_template = true;
    let moved = lab.fwd(syn((c, 1002), VIP)).dest.unwrap();
    assert_ne!(moved, first);
    // The old template is invalidated (ports 0xffff) and left to expire.
    let ts = lab.templates();
    assert_eq!(ts.len(), 2);
    let old = ts.iter().find(|t| t.dest == Some(first)).unwrap();
    assert_eq!((old.cport, old.vport, old.dport), (0, 0xffff, 0xffff));
    assert_eq!(old.n_control, 2, "it still controls the old connections");
    let new = ts.iter().find(|t| t.dest == Some(moved)).unwrap();
    assert_eq!(new.vport, 80);
    assert_eq!(lab.fwd(syn((c, 1003), VIP)).dest, Some(moved));
    check_invariants(&lab.ipvs, lab.now);
}

#[test]
fn removed_destination_invalidates_templates() {
    let mut lab = Lab::new();
    let key = tcp_key(VIP.0, VIP.1);
    two_dests(&mut lab, key, persistent(key, 300), 80);
    let c = "10.9.0.1";
    let first = lab.fwd(syn((c, 1000), VIP)).dest.unwrap();
    let addr = lab.ipvs.dest(first).unwrap().config.addr;
    lab.ipvs.del_dest(&key, &addr, 80, lab.now).unwrap();
    let moved = lab.fwd(syn((c, 1001), VIP)).dest.unwrap();
    assert_ne!(moved, first);
    // The old connection is still there; its packets are dropped.
    assert_eq!(
        lab.send(ack((c, 1000), VIP)),
        InVerdict::Drop(lvs_core::conn::DropReason::DestUnavailable)
    );
    check_invariants(&lab.ipvs, lab.now);
    // Once everything referring to it expired, the trash can free it.
    lab.advance_secs(400);
    assert_eq!(lab.ipvs.dest_refcount(first), 0);
    check_invariants(&lab.ipvs, lab.now);
}

#[test]
fn one_packet_persistent_service_keeps_the_template() {
    let mut lab = Lab::new();
    let key = udp_key("10.0.0.1", 53);
    lab.service(persistent(key, 120).with_flags(ServiceFlags::ONEPACKET));
    lab.dest(&key, "10.0.1.1", 53, FwdMethod::Route);
    lab.dest(&key, "10.0.1.2", 53, FwdMethod::Route);
    let c = ("10.9.0.1", 5353);
    let d: Vec<_> = (0..5)
        .map(|_| lab.fwd(udp(c, ("10.0.0.1", 53))).dest)
        .collect();
    assert!(d.iter().all(|x| *x == d[0]), "the template pins them all");
    let t = only_template(&lab);
    assert_eq!((t.n_control, t.in_pkts), (0, 5));
    assert_eq!(lab.ipvs.conn_count(), 1);
    check_invariants(&lab.ipvs, lab.now);
}

#[test]
fn conn_ids_of_templates_and_controlled_connections() {
    let mut lab = Lab::new();
    let key = tcp_key(VIP.0, VIP.1);
    two_dests(&mut lab, key, persistent(key, 300), 80);
    let f = lab.fwd(PacketMeta::tcp(
        (ip("10.9.0.1"), 1000),
        (ip(VIP.0), VIP.1),
        SYN,
    ));
    let c = lab.ipvs.conn_info(f.conn.unwrap()).unwrap();
    let t = lab.ipvs.conn_info(c.control.unwrap()).unwrap();
    assert!(t.is_template() && !c.is_template());
    let _ = ACK;
}
