//! Connection life cycles through `Ipvs::conn_in` / `conn_out`: state
//! transitions per direction, active/inactive accounting, timeouts and
//! expiry, verdicts. Expected values are the kernel's rules (tables of
//! `ip_vs_proto_{tcp,udp,sctp}.c`, `ip_vs_core.c`) worked by hand, and §0 /
//! §1.8 of the reference.

#![allow(clippy::unwrap_used)]

mod conn_common;

use conn_common::*;
use lvs_core::conn::sctp::chunk;
use lvs_core::conn::tcp::flags::{ACK, FIN, PSH, SYN};
use lvs_core::conn::{InVerdict, OutVerdict, PacketMeta};
use lvs_core::{FwdMethod, ServiceConfig, ServiceFlags, ServiceKey};

const VIP: (&str, u16) = ("10.0.0.1", 80);
const C1: (&str, u16) = ("10.9.0.1", 1000);

fn rs_reply(rs: (&str, u16), c: (&str, u16), flags: u8) -> PacketMeta {
    tcp(rs, c, flags)
}

#[test]
fn tcp_nat_life_cycle() {
    let mut lab = Lab::new();
    lab.service(ServiceConfig::new(tcp_key(VIP.0, VIP.1)).with_scheduler("rr"));
    let d = lab.dest(&tcp_key(VIP.0, VIP.1), "10.0.1.1", 8080, FwdMethod::Masq);
    let rs = ("10.0.1.1", 8080);

    let f = lab.fwd(syn(C1, VIP));
    assert!(f.new);
    assert_eq!(
        (f.daddr, f.dport, f.fwd),
        (ip("10.0.1.1"), 8080, FwdMethod::Masq)
    );
    let c = lab.conn(C1.1);
    assert_eq!((c.state_name(), lab.left(&c)), ("SYN_RECV", 60));
    assert_eq!(lab.counts(d), (1, 0, 0), "SYN_RECV is active");

    // The server's SYN+ACK is a SYN event: SYN_RECV holds.
    match lab.reply(rs_reply(rs, C1, SYN | ACK)) {
        OutVerdict::Forward(o) => {
            assert_eq!((o.vaddr, o.vport), (ip(VIP.0), VIP.1));
            assert_eq!((o.caddr, o.cport), (ip(C1.0), C1.1));
        }
        v => panic!("{v:?}"),
    }
    assert_eq!(lab.conn(C1.1).state_name(), "SYN_RECV");

    let f = lab.fwd(ack(C1, VIP));
    assert!(!f.new);
    let c = lab.conn(C1.1);
    assert_eq!((c.state_name(), lab.left(&c)), ("ESTABLISHED", 900));

    lab.fwd(fin(C1, VIP));
    let c = lab.conn(C1.1);
    assert_eq!((c.state_name(), lab.left(&c)), ("CLOSE_WAIT", 60));
    assert_eq!(lab.counts(d), (0, 1, 0), "CLOSE_WAIT is inactive");

    lab.reply(rs_reply(rs, C1, FIN | ACK));
    let c = lab.conn(C1.1);
    assert_eq!((c.state_name(), lab.left(&c)), ("TIME_WAIT", 120));
    lab.fwd(ack(C1, VIP));
    assert_eq!(lab.conn(C1.1).state_name(), "TIME_WAIT");

    lab.advance_secs(119);
    assert_eq!(lab.ipvs.conn_count(), 1);
    check_invariants(&lab.ipvs, lab.now);
    lab.advance_secs(1);
    assert_eq!(
        lab.ipvs.conn_count(),
        0,
        "expires 120 s after the last packet"
    );
    assert_eq!(lab.counts(d), (0, 0, 0));
    assert_eq!(lab.ipvs.dest_refcount(d), 0);

    let st = lab.ipvs.dest(d).unwrap().stats.counters;
    assert_eq!((st.conns, st.inpkts, st.outpkts), (1, 4, 2));
    assert_eq!((st.inbytes, st.outbytes), (240, 120));
    let svc = lab.ipvs.service_by_key(&tcp_key(VIP.0, VIP.1)).unwrap();
    assert_eq!(svc.stats.counters, st);
    assert_eq!(lab.ipvs.stats.counters, st);
}

/// §0: in DR mode replies are never seen; the INPUT_ONLY table leaves a
/// closed connection in FIN_WAIT.
#[test]
fn dr_connection_ends_in_fin_wait() {
    let mut lab = Lab::new();
    lab.service(ServiceConfig::new(tcp_key(VIP.0, VIP.1)).with_scheduler("rr"));
    let d = lab.dest(&tcp_key(VIP.0, VIP.1), "10.0.1.1", 80, FwdMethod::Route);
    let f = lab.fwd(syn(C1, VIP));
    assert_eq!(f.fwd, FwdMethod::Route);
    lab.fwd(ack(C1, VIP));
    lab.fwd(tcp(C1, VIP, ACK | PSH));
    assert_eq!(lab.conn(C1.1).state_name(), "ESTABLISHED");
    lab.fwd(fin(C1, VIP));
    lab.fwd(ack(C1, VIP));
    let c = lab.conn(C1.1);
    assert_eq!((c.state_name(), lab.left(&c)), ("FIN_WAIT", 120));
    assert_eq!(lab.counts(d), (0, 1, 0));
    assert_eq!(
        lab.reply(rs_reply(("10.0.1.1", 80), C1, ACK)),
        OutVerdict::Pass,
        "DR replies have no reply-side entry"
    );
    assert_eq!(lab.ipvs.dest(d).unwrap().stats.counters.outpkts, 0);
}

/// Lab (6.1): a DR connection also matches packets from the VIP to its
/// client (`ip_vs_conn_out_get` for non-NAT connections); such a reply is
/// an OUTPUT event and clears `NOOUTPUT`, so the client's FIN then meets
/// the INPUT table (CLOSE_WAIT, not FIN_WAIT).
#[test]
fn dr_reply_through_the_director_is_tracked() {
    let mut lab = Lab::new();
    lab.service(ServiceConfig::new(tcp_key(VIP.0, VIP.1)).with_scheduler("rr"));
    let d = lab.dest(&tcp_key(VIP.0, VIP.1), "10.0.1.1", 80, FwdMethod::Route);
    lab.fwd(syn(C1, VIP));
    match lab.reply(rs_reply(VIP, C1, SYN | ACK)) {
        OutVerdict::Forward(o) => assert_eq!((o.vaddr, o.caddr), (ip(VIP.0), ip(C1.0))),
        v => panic!("{v:?}"),
    }
    assert_eq!(lab.conn(C1.1).flags & 0x80, 0, "NOOUTPUT cleared");
    lab.fwd(ack(C1, VIP));
    lab.fwd(fin(C1, VIP));
    assert_eq!(lab.conn(C1.1).state_name(), "CLOSE_WAIT");
    assert_eq!(lab.ipvs.dest(d).unwrap().stats.counters.outpkts, 1);
    // A NAT connection is not matched that way.
    let key = tcp_key(VIP.0, 81);
    lab.service(ServiceConfig::new(key).with_scheduler("rr"));
    lab.dest(&key, "10.0.1.1", 81, FwdMethod::Masq);
    lab.fwd(syn(C1, (VIP.0, 81)));
    assert_eq!(lab.reply(rs_reply((VIP.0, 81), C1, ACK)), OutVerdict::Pass);
}

#[test]
fn only_syn_creates_tcp_connections_unless_sloppy() {
    let mut lab = Lab::new();
    lab.service(ServiceConfig::new(tcp_key(VIP.0, VIP.1)).with_scheduler("rr"));
    let d = lab.dest(&tcp_key(VIP.0, VIP.1), "10.0.1.1", 80, FwdMethod::Route);
    assert_eq!(lab.send(ack(C1, VIP)), InVerdict::Pass);
    assert_eq!(lab.send(rst(C1, VIP)), InVerdict::Pass);
    assert_eq!(
        lab.send(tcp(C1, VIP, SYN | conn_rst())),
        InVerdict::Pass,
        "SYN+RST"
    );
    assert_eq!(lab.ipvs.conn_count(), 0);

    lab.ipvs.sysctls_mut().sloppy_tcp = true;
    assert_eq!(
        lab.send(rst(C1, VIP)),
        InVerdict::Pass,
        "RST never schedules"
    );
    // Mid-stream pickup: NONE + ACK from the client goes to ESTABLISHED.
    lab.fwd(ack(C1, VIP));
    let c = lab.conn(C1.1);
    assert_eq!((c.state_name(), lab.left(&c)), ("ESTABLISHED", 900));
    assert_eq!(lab.counts(d), (1, 0, 0));
    // A segment with none of SYN/FIN/ACK/RST moves to CLOSE: the new
    // connection stays counted inactive, as bound.
    lab.fwd(tcp(("10.9.0.2", 2000), VIP, PSH));
    let c = lab.conn(2000);
    assert_eq!((c.state_name(), lab.left(&c)), ("CLOSE", 10));
    assert_eq!(lab.counts(d), (1, 1, 0));
    check_invariants(&lab.ipvs, lab.now);
}

fn conn_rst() -> u8 {
    lvs_core::conn::tcp::flags::RST
}

#[test]
fn no_service_no_dest_and_ftp_data_port() {
    let mut lab = Lab::new();
    assert_eq!(lab.send(syn(C1, VIP)), InVerdict::Pass, "no service");
    lab.service(ServiceConfig::new(tcp_key(VIP.0, VIP.1)).with_scheduler("rr"));
    assert_eq!(lab.send(syn(C1, VIP)), InVerdict::NoDest, "no destination");
    let d = lab.dest(&tcp_key(VIP.0, VIP.1), "10.0.1.1", 80, FwdMethod::Route);
    lab.ipvs
        .edit_dest(
            &tcp_key(VIP.0, VIP.1),
            lvs_core::DestConfig::new(ip("10.0.1.1"), 80).with_weight(0),
        )
        .unwrap();
    assert_eq!(lab.send(syn(C1, VIP)), InVerdict::NoDest, "all weights 0");
    lab.ipvs
        .edit_dest(
            &tcp_key(VIP.0, VIP.1),
            lvs_core::DestConfig::new(ip("10.0.1.1"), 80),
        )
        .unwrap();
    assert_eq!(
        lab.send(syn(("10.9.0.1", 20), VIP)),
        InVerdict::Pass,
        "client port 20 (FTP data) is never scheduled"
    );
    lab.fwd(syn(C1, VIP));
    assert_eq!(lab.counts(d), (1, 0, 0));
    // Another port of the VIP: no service.
    assert_eq!(lab.send(syn(C1, ("10.0.0.1", 81))), InVerdict::Pass);
}

/// A port-0 service without persistence schedules nothing; the kernel
/// leaves through `ip_vs_leave` (ICMP port unreachable).
#[test]
fn port_zero_needs_persistence() {
    let mut lab = Lab::new();
    let key = tcp_key(VIP.0, 0);
    lab.service(ServiceConfig::new(key).with_scheduler("rr"));
    lab.dest(&key, "10.0.1.1", 0, FwdMethod::Route);
    assert_eq!(lab.send(syn(C1, ("10.0.0.1", 443))), InVerdict::NoDest);
    assert_eq!(lab.ipvs.conn_count(), 0);
}

#[test]
fn udp_single_state_inactive_and_set_timeout() {
    let mut lab = Lab::new();
    let key = udp_key("10.0.0.1", 53);
    lab.service(ServiceConfig::new(key).with_scheduler("rr"));
    let d = lab.dest(&key, "10.0.1.1", 53, FwdMethod::Masq);
    let f = lab.fwd(udp(C1, ("10.0.0.1", 53)));
    assert!(f.new);
    let c = lab.conn(C1.1);
    assert_eq!((c.state_name(), lab.left(&c), c.state), ("UDP", 300, 0));
    assert_eq!(lab.counts(d), (0, 1, 0), "UDP connections are inactive");
    lab.ipvs.set_timeouts(0, 0, 10).unwrap();
    assert_eq!(
        lab.left(&lab.conn(C1.1)),
        300,
        "unchanged until the next packet"
    );
    lab.advance_secs(5);
    let f = lab.fwd(udp(C1, ("10.0.0.1", 53)));
    assert!(!f.new);
    assert_eq!(lab.left(&lab.conn(C1.1)), 10);
    match lab.reply(udp(("10.0.1.1", 53), C1)) {
        OutVerdict::Forward(o) => assert_eq!(o.vport, 53),
        v => panic!("{v:?}"),
    }
    lab.advance_secs(10);
    assert_eq!(lab.ipvs.conn_count(), 0);
    assert_eq!(lab.counts(d), (0, 0, 0));
}

#[test]
fn sctp_dr_association() {
    let mut lab = Lab::new();
    let key = sctp_key("10.0.0.1", 3868);
    lab.service(ServiceConfig::new(key).with_scheduler("rr"));
    let d = lab.dest(&key, "10.0.1.1", 3868, FwdMethod::Route);
    let v = ("10.0.0.1", 3868);
    let pkt = |ch| PacketMeta::sctp((ip(C1.0), C1.1), (ip(v.0), v.1), ch);
    assert_eq!(
        lab.send(pkt(chunk::DATA)),
        InVerdict::Pass,
        "only INIT creates"
    );
    lab.fwd(pkt(chunk::INIT));
    let c = lab.conn(C1.1);
    assert_eq!((c.state_name(), lab.left(&c)), ("INIT1", 4));
    assert_eq!(lab.counts(d), (0, 1, 0));
    lab.fwd(pkt(chunk::COOKIE_ECHO));
    let c = lab.conn(C1.1);
    assert_eq!((c.state_name(), lab.left(&c)), ("ESTABLISHED", 900));
    assert_eq!(lab.counts(d), (1, 0, 0));
    lab.fwd(pkt(chunk::SACK));
    lab.fwd(pkt(chunk::SHUTDOWN));
    assert_eq!(lab.conn(C1.1).state_name(), "S-RECEIVED");
    assert_eq!(lab.counts(d), (0, 1, 0));
    lab.fwd(pkt(chunk::SHUTDOWN_COMPLETE));
    let c = lab.conn(C1.1);
    assert_eq!((c.state_name(), lab.left(&c)), ("CLOSED", 61));

    lab.ipvs.sysctls_mut().sloppy_sctp = true;
    let other = PacketMeta::sctp((ip("10.9.0.2"), 5), (ip(v.0), v.1), chunk::ABORT);
    assert_eq!(lab.send(other), InVerdict::Pass, "ABORT never schedules");
    let data = PacketMeta::sctp((ip("10.9.0.2"), 5), (ip(v.0), v.1), chunk::DATA);
    lab.fwd(data);
    assert_eq!(lab.conn(5).state_name(), "ESTABLISHED");
}

#[test]
fn secure_tcp_tables() {
    let mut lab = Lab::new();
    lab.ipvs.sysctls_mut().secure_tcp = 3;
    lab.service(ServiceConfig::new(tcp_key(VIP.0, VIP.1)).with_scheduler("rr"));
    let d = lab.dest(&tcp_key(VIP.0, VIP.1), "10.0.1.1", 80, FwdMethod::Route);
    lab.fwd(syn(C1, VIP));
    let c = lab.conn(C1.1);
    assert_eq!((c.state_name(), lab.left(&c)), ("SYNACK", 120));
    assert_eq!(lab.counts(d), (1, 0, 0), "SYNACK is active");
    lab.fwd(ack(C1, VIP));
    assert_eq!(lab.conn(C1.1).state_name(), "ESTABLISHED");
    // secure_tcp = 1 only arms under memory pressure.
    lab.ipvs.sysctls_mut().secure_tcp = 1;
    lab.fwd(syn(("10.9.0.2", 7), VIP));
    assert_eq!(lab.conn(7).state_name(), "SYN_RECV");
    lab.ipvs.sysctls_mut().low_memory = true;
    lab.fwd(syn(("10.9.0.3", 7), VIP));
    let c = lab
        .ipvs
        .conns()
        .find(|c| c.caddr == ip("10.9.0.3"))
        .unwrap();
    assert_eq!(c.state_name(), "SYNACK");
}

#[test]
fn set_timeout_applies_at_next_packet() {
    let mut lab = Lab::new();
    lab.service(ServiceConfig::new(tcp_key(VIP.0, VIP.1)).with_scheduler("rr"));
    lab.dest(&tcp_key(VIP.0, VIP.1), "10.0.1.1", 80, FwdMethod::Route);
    lab.fwd(syn(C1, VIP));
    lab.fwd(ack(C1, VIP));
    lab.ipvs.set_timeouts(100, 30, 0).unwrap();
    assert_eq!(lab.left(&lab.conn(C1.1)), 900);
    lab.fwd(ack(C1, VIP));
    assert_eq!(lab.left(&lab.conn(C1.1)), 100);
    lab.fwd(fin(C1, VIP));
    assert_eq!(
        lab.left(&lab.conn(C1.1)),
        30,
        "tcpfin is the FIN_WAIT timeout"
    );
    assert_eq!(lab.ipvs.timeouts().get(), (100, 30, 300));
}

#[test]
fn ipv6_connections() {
    let mut lab = Lab::new();
    let key = tcp_key("2001:db8::1", 443);
    lab.service(ServiceConfig::new(key).with_scheduler("rr"));
    let d = lab.dest(&key, "2001:db8:1::10", 8443, FwdMethod::Masq);
    let c = ("2001:db8:9::5", 40000);
    let v = ("2001:db8::1", 443);
    let f = lab.fwd(syn(c, v));
    assert_eq!((f.daddr, f.dport), (ip("2001:db8:1::10"), 8443));
    assert_eq!(f.conn.unwrap().af(), lvs_core::Af::Inet6);
    match lab.reply(tcp(("2001:db8:1::10", 8443), c, SYN | ACK)) {
        OutVerdict::Forward(o) => assert_eq!((o.vaddr, o.vport), (ip(v.0), v.1)),
        other => panic!("{other:?}"),
    }
    lab.fwd(ack(c, v));
    assert_eq!(lab.conn(40000).state_name(), "ESTABLISHED");
    assert_eq!(lab.counts(d), (1, 0, 0));
    // Mixed families in one packet are refused.
    let bad = PacketMeta::tcp((ip("10.9.0.1"), 1), (ip(v.0), v.1), SYN);
    assert!(matches!(lab.send(bad), InVerdict::Drop(_)));
}

#[test]
fn one_packet_udp_is_never_kept() {
    let mut lab = Lab::new();
    let key = udp_key("10.0.0.1", 53);
    lab.service(
        ServiceConfig::new(key)
            .with_scheduler("rr")
            .with_flags(ServiceFlags::ONEPACKET),
    );
    let d1 = lab.dest(&key, "10.0.1.1", 53, FwdMethod::Route);
    let d2 = lab.dest(&key, "10.0.1.2", 53, FwdMethod::Route);
    let mut seen = Vec::new();
    for _ in 0..4 {
        let f = lab.fwd(udp(C1, ("10.0.0.1", 53)));
        assert!(f.new && f.conn.is_none());
        seen.push(f.dest.unwrap());
    }
    assert_eq!(lab.ipvs.conn_count(), 0);
    // Each datagram was scheduled on its own (rr alternates).
    assert!(seen.contains(&d1) && seen.contains(&d2));
    let conns = |d| lab.ipvs.dest(d).unwrap().stats.counters.conns;
    assert_eq!(conns(d1) + conns(d2), 4);
    assert_eq!((lab.counts(d1), lab.counts(d2)), ((0, 0, 0), (0, 0, 0)));
    assert_eq!(lab.ipvs.dest_refcount(d1) + lab.ipvs.dest_refcount(d2), 0);
}

#[test]
fn fwmark_service_wins_over_address_service() {
    let mut lab = Lab::new();
    let fw = ServiceKey::Fwmark {
        af: lvs_core::Af::Inet,
        mark: 7,
    };
    lab.service(ServiceConfig::new(fw).with_scheduler("rr"));
    lab.service(ServiceConfig::new(tcp_key(VIP.0, VIP.1)).with_scheduler("rr"));
    let dm = lab.dest(&fw, "10.0.1.7", 0, FwdMethod::Route);
    let da = lab.dest(&tcp_key(VIP.0, VIP.1), "10.0.1.1", 80, FwdMethod::Route);
    let f = lab.fwd(syn(C1, VIP).with_fwmark(7));
    assert_eq!(f.dest, Some(dm));
    assert_eq!(f.dport, 80, "dest port 0: the packet's port");
    let f = lab.fwd(syn(("10.9.0.1", 1001), VIP));
    assert_eq!(f.dest, Some(da));
    let f = lab.fwd(syn(("10.9.0.1", 1002), VIP).with_fwmark(8));
    assert_eq!(f.dest, Some(da), "unknown mark falls back to the address");
}

#[test]
fn fullnat_allocates_local_ports_and_maps_replies() {
    let mut lab = Lab::new();
    lab.service(ServiceConfig::new(tcp_key(VIP.0, VIP.1)).with_scheduler("rr"));
    lab.dest(&tcp_key(VIP.0, VIP.1), "10.0.1.1", 80, FwdMethod::FullNat);
    assert_eq!(
        lab.send(syn(C1, VIP)),
        InVerdict::Drop(lvs_core::conn::DropReason::NoLocalPort),
        "no local address configured"
    );
    lab.ipvs.set_fullnat_local_addrs(&[ip("192.168.0.1")]);
    let a = lab.fwd(syn(C1, VIP));
    let b = lab.fwd(syn(("10.9.0.2", 1000), VIP));
    let (la, lb) = (a.local.unwrap(), b.local.unwrap());
    assert_eq!(la.0, ip("192.168.0.1"));
    assert_ne!(la.1, lb.1);
    match lab.reply(tcp(("10.0.1.1", 80), (("192.168.0.1"), lb.1), SYN | ACK)) {
        OutVerdict::Forward(o) => {
            assert_eq!((o.caddr, o.cport), (ip("10.9.0.2"), 1000));
            assert_eq!(o.conn, b.conn.unwrap());
        }
        v => panic!("{v:?}"),
    }
    // A reply to the client address is not this connection's.
    assert_eq!(lab.reply(tcp(("10.0.1.1", 80), C1, ACK)), OutVerdict::Pass);
    let info = lab.ipvs.conn_info(a.conn.unwrap()).unwrap();
    assert_eq!(info.local, Some(la));
}

#[test]
fn listing_fields() {
    let mut lab = Lab::new();
    lab.service(ServiceConfig::new(tcp_key(VIP.0, VIP.1)).with_scheduler("rr"));
    let d = lab.dest(&tcp_key(VIP.0, VIP.1), "10.0.1.1", 8080, FwdMethod::Route);
    lab.fwd(syn(C1, VIP));
    let c = lab.conn(C1.1);
    assert_eq!(c.protocol_name(), "TCP");
    assert_eq!((c.caddr, c.cport), (ip(C1.0), C1.1));
    assert_eq!((c.vaddr, c.vport), (ip(VIP.0), VIP.1));
    assert_eq!((c.daddr, c.dport), (ip("10.0.1.1"), 8080));
    assert_eq!(c.dest, Some(d));
    assert_eq!(c.expires_in_secs(lab.now), 60);
    assert_eq!(c.in_pkts, 1);
    assert_eq!(c.pe_name(), None);
    // DR: forwarding method 3, HASHED (0x40), NOOUTPUT (0x80); INACTIVE
    // (0x100) is clear since SYN_RECV is active.
    assert_eq!(c.flags & 0x1ff, 0xc3);
}

#[test]
fn fullnat_workers_share_local_addresses_without_collisions() {
    // Two workers, one table each, the same local address: each only takes
    // ports of its own residue class, so their `<laddr, lport>` never meet
    // and a reply is steered by `lport % 2`.
    let mut workers: Vec<Lab> = (0..2).map(|_| Lab::new()).collect();
    for (i, lab) in workers.iter_mut().enumerate() {
        lab.service(ServiceConfig::new(tcp_key(VIP.0, VIP.1)).with_scheduler("rr"));
        lab.dest(&tcp_key(VIP.0, VIP.1), "10.0.1.1", 80, FwdMethod::FullNat);
        lab.ipvs.set_fullnat_local_addrs(&[ip("192.168.0.1")]);
        assert!(lab.ipvs.set_fullnat_worker(i as u16, 2));
    }
    assert!(
        !workers[0].ipvs.set_fullnat_worker(2, 2),
        "worker index out of range"
    );
    assert!(!workers[0].ipvs.set_fullnat_worker(0, 0));
    let mut seen = std::collections::HashSet::new();
    for n in 0..200u16 {
        let w = usize::from(n % 2);
        let client = ("10.9.0.7", 2000 + n);
        let local = workers[w].fwd(syn(client, VIP)).local.unwrap();
        assert_eq!(
            usize::from(local.1 % 2),
            w,
            "port {} from worker {w}",
            local.1
        );
        assert!(local.1 >= lvs_core::conn::FULLNAT_MIN_PORT);
        assert!(seen.insert(local), "{local:?} allocated twice");
        // The reply, steered by lport % 2, finds its connection.
        match workers[usize::from(local.1 % 2)].reply(tcp(
            ("10.0.1.1", 80),
            ("192.168.0.1", local.1),
            SYN | ACK,
        )) {
            OutVerdict::Forward(o) => assert_eq!((o.caddr, o.cport), (ip(client.0), client.1)),
            v => panic!("{v:?}"),
        }
    }
}
