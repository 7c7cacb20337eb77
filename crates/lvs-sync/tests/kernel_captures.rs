//! Ground truth: sync datagrams sent by a real Linux 6.1 master (ipvsadm 1.31),
//! captured in the reference lab by `testdata/sync/scripts/kernel-capture*.sh`.
//! The expected field values below come from the lab's independent Python
//! decoder output, recorded in `testdata/sync/kernel-capture*.out.txt`.

#![allow(clippy::unwrap_used)]

use std::net::IpAddr;
use std::time::Duration;

use lvs_sync::backup::{self, BackupConfig, DatagramError};
use lvs_sync::flags;
use lvs_sync::master::{Master, MasterConfig, SyncConn, SyncMark};
use lvs_sync::proto::{IPPROTO_IP, IPPROTO_TCP, IPPROTO_UDP, tcp, template};
use lvs_sync::wire::{self, ConnEntry, MessageBuilder, Version};

const V1: &str = include_str!("../../../testdata/sync/kernel-v1.txt");
const V0: &str = include_str!("../../../testdata/sync/kernel-v0.txt");
const MAXLEN: &str = include_str!("../../../testdata/sync/kernel-maxlen.txt");
const V1_2: &str = include_str!("../../../testdata/sync/kernel2-v1.txt");
const V0_2: &str = include_str!("../../../testdata/sync/kernel2-v0.txt");

fn datagrams(text: &str) -> Vec<Vec<u8>> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let l = l.trim();
            (0..l.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&l[i..i + 2], 16).unwrap())
                .collect()
        })
        .collect()
}

fn entries(d: &[u8]) -> Vec<ConnEntry<'_>> {
    wire::parse(d)
        .unwrap()
        .entries()
        .map(|e| e.unwrap())
        .collect()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// (client port, destination, state, flags, timeout) of an entry.
fn brief(e: &ConnEntry<'_>) -> (u16, IpAddr, u16, u32, u32) {
    (e.cport, e.daddr, e.state, e.flags, e.timeout)
}

#[test]
fn every_captured_datagram_decodes_and_reencodes_identically() {
    let mut total = 0;
    for text in [V1, V0, MAXLEN, V1_2, V0_2] {
        for d in datagrams(text) {
            let msg = wire::parse(&d).unwrap();
            let es = entries(&d);
            assert_eq!(es.len(), usize::from(msg.nr_conns));
            let mut b = MessageBuilder::new(msg.version, msg.syncid, d.len(), 0);
            for e in &es {
                b.push(e).unwrap();
            }
            assert_eq!(b.finish(), d, "re-encoding differs");
            total += 1;
        }
    }
    assert_eq!(total, 2 + 3 + 3 + 2 + 1);
}

#[test]
fn v1_short_and_held_connections() {
    let ds = datagrams(V1);
    let m = wire::parse(&ds[0]).unwrap();
    assert_eq!(
        (m.version, m.syncid, m.nr_conns, ds[0].len()),
        (Version::V1, 7, 10, 368)
    );
    let es = entries(&ds[0]);
    let (rs1, rs2) = (ip("10.0.2.2"), ip("10.0.3.2"));
    let (es_, tw, cw) = (tcp::ESTABLISHED, tcp::TIME_WAIT, tcp::CLOSE_WAIT);
    let ina = flags::INACTIVE;
    assert_eq!(
        es.iter().map(brief).collect::<Vec<_>>(),
        vec![
            (41000, rs2, es_, 0, 900),
            (41000, rs2, tw, ina, 120),
            (41001, rs1, es_, 0, 900),
            (41001, rs1, tw, ina, 120),
            (41002, rs2, es_, 0, 900),
            (41003, rs1, es_, 0, 900),
            (41002, rs2, cw, ina, 60),
            (41002, rs2, tw, ina, 120),
            (41003, rs1, cw, ina, 60),
            (41003, rs1, tw, ina, 120),
        ]
    );
    for e in &es {
        assert_eq!(e.protocol, IPPROTO_TCP);
        assert_eq!(
            (e.caddr, e.vaddr, e.vport, e.dport),
            (ip("10.0.1.2"), ip("10.0.1.100"), 80, 80)
        );
        assert_eq!((e.fwmark, e.seq, e.pe_data), (0, None, None));
    }
}

#[test]
fn v1_templates_udp_and_fwmark() {
    let ds = datagrams(V1);
    let es = entries(&ds[1]);
    assert_eq!(es.len(), 17);
    // Persistence templates: client port 0, TEMPLATE|INACTIVE, the persistence timeout
    // (60 s); NONE at the first packet, ASSURED afterwards; sent on every packet of the
    // connections they control, after the connection's own entry.
    let t: Vec<(bool, u16)> = es[..14]
        .iter()
        .map(|e| (e.is_template(), e.state))
        .collect();
    let (n, a) = (template::NONE, template::ASSURED);
    let (es_, tw) = (tcp::ESTABLISHED, tcp::TIME_WAIT);
    assert_eq!(
        t,
        vec![
            (true, n),
            (true, a),
            (false, es_),
            (true, a),
            (true, a),
            (false, tw),
            (true, a),
            (true, a),
            (true, a),
            (false, es_),
            (true, a),
            (true, a),
            (false, tw),
            (true, a),
        ]
    );
    for e in es[..14].iter().filter(|e| e.is_template()) {
        assert_eq!((e.cport, e.vport, e.dport, e.timeout), (0, 8080, 80, 60));
        assert_eq!(e.flags, flags::TEMPLATE | flags::INACTIVE);
        assert_eq!(e.protocol, IPPROTO_TCP);
    }
    // UDP: one entry (at the 3rd datagram of 4), always INACTIVE, 300 s.
    let u = &es[14];
    assert_eq!(
        (u.protocol, u.cport, u.vport, u.state, u.flags, u.timeout),
        (IPPROTO_UDP, 43000, 53, 0, flags::INACTIVE, 300)
    );
    // fwmark service connection: the real VIP and port, plus fwmark 5.
    let f = &es[15];
    assert_eq!(
        (f.vaddr, f.vport, f.fwmark, f.daddr),
        (ip("10.0.1.101"), 80, 5, ip("10.0.3.2"))
    );
}

#[test]
fn v0_format() {
    let ds = datagrams(V0);
    let m = wire::parse(&ds[0]).unwrap();
    assert_eq!(
        (m.version, m.syncid, m.nr_conns, ds[0].len()),
        (Version::V0, 7, 4, 100)
    );
    // In v0 a template follows the connection it controls, and only when that
    // connection is sent (ip_vs_sync_conn_v0 returns before the controller otherwise).
    let es = entries(&ds[1]);
    let t: Vec<(bool, u16, u16)> = es
        .iter()
        .map(|e| (e.is_template(), e.cport, e.state))
        .collect();
    assert_eq!(
        t,
        vec![
            (false, 47000, tcp::ESTABLISHED),
            (true, 0, template::ASSURED),
            (false, 47000, tcp::TIME_WAIT),
            (true, 0, template::ASSURED)
        ]
    );
    assert!(es.iter().all(|e| e.timeout == 0 && e.fwmark == 0));
    let u = &entries(&ds[2])[0];
    assert_eq!(
        (u.protocol, u.cport, u.flags),
        (IPPROTO_UDP, 48000, flags::INACTIVE)
    );
}

#[test]
fn ipv6_fwmark_template_and_sip_options() {
    let ds = datagrams(V1_2);
    let es = entries(&ds[0]);
    assert_eq!(ds[0].len(), 8 + 2 * 72);
    assert!(es.iter().all(|e| e.is_ipv6()));
    assert_eq!(
        (es[0].caddr, es[0].vaddr, es[0].daddr, es[0].cport),
        (ip("fd00:1::2"), ip("fd00:1::100"), ip("fd00:2::2"), 51000)
    );
    // conntrack=1: NFCT (bit 16) travels in v1 flags.
    assert_eq!(es[0].flags, flags::NFCT);
    assert_eq!(es[1].flags, flags::NFCT | flags::INACTIVE);

    let es = entries(&ds[1]);
    assert_eq!(es.len(), 13);
    // fwmark persistence template: protocol 0, vaddr = the mark as an address, ports 0.
    let t = &es[0];
    assert_eq!(
        (t.protocol, t.vaddr, t.vport, t.dport, t.fwmark, t.timeout),
        (IPPROTO_IP, ip("0.0.0.6"), 0, 0, 6, 30)
    );
    // SIP template: PE_DATA (Call-ID) then PE_NAME; entry size 36 + 14 + 5 = 55.
    let s = &es[7];
    assert!(s.is_template());
    assert_eq!(s.pe_data, Some(&b"lvsrs-call-1"[..]));
    assert_eq!(s.pe_name, Some(&b"sip"[..]));
    assert_eq!(wire::entry_len(Version::V1, s), Ok(55));
    // ... so one padding byte sits between it and the next entry on the wire.
    let off: usize = 8 + 7 * 36;
    assert_eq!(u16::from_be_bytes([ds[1][off + 2], ds[1][off + 3]]), 55);
    assert_eq!(ds[1][off + 55], 0);
    assert_eq!(ds[1][off + 56], 0, "next entry's type byte");
}

#[test]
fn backup_accepts_what_a_kernel_backup_accepted() {
    let cfg = BackupConfig {
        syncid: 7,
        ..BackupConfig::default()
    };
    let mut n = 0;
    let mut timeouts = vec![];
    for d in datagrams(V1).iter().chain(datagrams(V0).iter()) {
        let sum = backup::process(&cfg, d, |u| {
            let u = u.unwrap();
            assert_ne!(u.flags & flags::SYNC, 0);
            timeouts.push((u.entry.cport, u.is_template(), u.state, u.timeout));
        })
        .unwrap();
        assert_eq!(sum.skipped, 0);
        n += sum.applied;
    }
    assert_eq!(n, 10 + 17 + 4 + 4 + 1);
    let secs = Duration::from_secs;
    // v1: the message's timeouts.
    assert!(timeouts.contains(&(41002, false, tcp::CLOSE_WAIT, secs(60))));
    assert!(timeouts.contains(&(0, true, template::ASSURED, secs(60))));
    // v0: per-state defaults, 3 minutes for templates (the kernel backup listed the
    // template with 157 s left about 23 s after the v0 message).
    assert!(timeouts.contains(&(46000, false, tcp::TIME_WAIT, secs(120))));
    assert!(timeouts.contains(&(46000, false, tcp::ESTABLISHED, secs(900))));
    assert!(timeouts.contains(&(0, true, template::ASSURED, secs(180))));
    assert!(timeouts.contains(&(48000, false, 0, secs(300))));

    // Another syncid is ignored; 0 accepts any; the SIP templates pass (engine "sip").
    let other = BackupConfig {
        syncid: 8,
        ..BackupConfig::default()
    };
    let d = &datagrams(V1)[0];
    assert_eq!(
        backup::process(&other, d, |_| {}),
        Err(DatagramError::SyncId { got: 7, ours: 8 })
    );
    let any = BackupConfig::default();
    for d in datagrams(V1_2) {
        let sum = backup::process(&any, &d, |_| {}).unwrap();
        assert_eq!(sum.skipped, 0);
    }
}

fn tcp_conn(cport: u16, daddr: &str) -> SyncConn {
    SyncConn {
        protocol: IPPROTO_TCP,
        caddr: ip("10.0.1.2"),
        vaddr: ip("10.0.1.100"),
        daddr: ip(daddr),
        cport,
        vport: 80,
        dport: 80,
        fwmark: 0,
        flags: 0,
        state: tcp::SYN_RECV,
        timeout: Duration::from_secs(60),
        in_pkts: 0,
        seq: None,
        pe: None,
        mark: SyncMark::default(),
    }
}

/// The client-to-server packets of one HTTP/1.0 exchange through a NAT director, as
/// (state after the packet, timeout): SYN, ACK, request, ACK, FIN. The states are the
/// kernel's TCP table worked by hand; the timeouts are the defaults.
fn short_exchange(now: Duration, m: &mut Master, c: &mut SyncConn) {
    let s = Duration::from_secs;
    for (state, timeout, flags) in [
        (tcp::SYN_RECV, s(60), flags::INACTIVE),
        (tcp::ESTABLISHED, s(900), 0),
        (tcp::ESTABLISHED, s(900), 0),
        (tcp::ESTABLISHED, s(900), 0),
        (tcp::TIME_WAIT, s(120), flags::INACTIVE),
    ] {
        c.state = state;
        c.timeout = timeout;
        c.flags = flags;
        m.on_input_packet(now, c, &mut []);
    }
}

#[test]
fn master_rebuilds_the_kernel_maxlen_datagrams_byte_for_byte() {
    // --sync-maxlen 100: two 36-byte entries per message; three connections, each sent at
    // its 3rd packet (ESTABLISHED) and at the change into TIME_WAIT.
    let mut m = Master::new(MasterConfig {
        syncid: 7,
        maxlen: 100,
        ..MasterConfig::default()
    });
    let t0 = Duration::from_secs(100);
    for (port, rs) in [
        (49000, "10.0.3.2"),
        (49001, "10.0.2.2"),
        (49002, "10.0.3.2"),
    ] {
        let mut c = tcp_conn(port, rs);
        short_exchange(t0, &mut m, &mut c);
    }
    let mut got = vec![];
    got.extend(m.poll_transmit(t0));
    got.extend(m.poll_transmit(t0));
    assert_eq!(
        m.poll_transmit(t0),
        None,
        "the last message waits for the flush"
    );
    got.extend(m.poll_transmit(t0 + Duration::from_secs(2)));
    assert_eq!(got, datagrams(MAXLEN));
}

#[test]
fn master_rebuilds_the_kernel_v0_datagram_byte_for_byte() {
    let mut m = Master::new(MasterConfig {
        syncid: 7,
        version: Version::V0,
        ..MasterConfig::default()
    });
    let t0 = Duration::from_secs(5);
    for (port, rs) in [(46000, "10.0.3.2"), (46001, "10.0.2.2")] {
        let mut c = tcp_conn(port, rs);
        short_exchange(t0, &mut m, &mut c);
    }
    let d = m.poll_transmit(t0 + Duration::from_secs(2)).unwrap();
    assert_eq!(d, datagrams(V0)[0]);
}

#[test]
fn master_rebuilds_the_persistent_sequence() {
    // Two connections to a persistent service (-p 60): the kernel sent, in datagram 2,
    // 14 entries for them (see v1_templates_udp_and_fwmark). Rebuild them: the template
    // is NONE until its first connection is established, then ASSURED.
    let mut m = Master::new(MasterConfig {
        syncid: 7,
        ..MasterConfig::default()
    });
    let s = Duration::from_secs;
    let mut tpl = tcp_conn(0, "10.0.2.2");
    tpl.vport = 8080;
    tpl.flags = flags::TEMPLATE | flags::INACTIVE;
    tpl.state = template::NONE;
    tpl.timeout = s(60);
    for port in [42000, 42001] {
        let mut c = tcp_conn(port, "10.0.2.2");
        c.vport = 8080;
        for (state, timeout, fl) in [
            (tcp::SYN_RECV, s(60), flags::INACTIVE),
            (tcp::ESTABLISHED, s(900), 0),
            (tcp::ESTABLISHED, s(900), 0),
            (tcp::ESTABLISHED, s(900), 0),
            (tcp::TIME_WAIT, s(120), flags::INACTIVE),
        ] {
            c.state = state;
            c.timeout = timeout;
            c.flags = fl;
            if state == tcp::ESTABLISHED {
                tpl.state = template::ASSURED;
            }
            m.on_input_packet(s(1), &mut c, &mut [&mut tpl]);
        }
    }
    let d = m.poll_transmit(s(3)).unwrap();
    let kernel = datagrams(V1);
    let want = entries(&kernel[1]);
    let got = entries(&d);
    assert_eq!(got, want[..14].to_vec());
}

#[test]
fn master_rebuilds_the_kernel_v0_persistent_datagram_byte_for_byte() {
    // v0: the template goes out only right after a connection it controls is sent.
    let mut m = Master::new(MasterConfig {
        syncid: 7,
        version: Version::V0,
        ..MasterConfig::default()
    });
    let s = Duration::from_secs;
    let mut tpl = tcp_conn(0, "10.0.2.2");
    tpl.vport = 8080;
    tpl.flags = flags::TEMPLATE | flags::INACTIVE;
    tpl.state = template::NONE;
    tpl.timeout = s(60);
    let mut c = tcp_conn(47000, "10.0.2.2");
    c.vport = 8080;
    for (state, timeout, fl) in [
        (tcp::SYN_RECV, s(60), flags::INACTIVE),
        (tcp::ESTABLISHED, s(900), 0),
        (tcp::ESTABLISHED, s(900), 0),
        (tcp::ESTABLISHED, s(900), 0),
        (tcp::TIME_WAIT, s(120), flags::INACTIVE),
    ] {
        c.state = state;
        c.timeout = timeout;
        c.flags = fl;
        if state == tcp::ESTABLISHED {
            tpl.state = template::ASSURED;
        }
        m.on_input_packet(s(1), &mut c, &mut [&mut tpl]);
    }
    assert_eq!(tpl.in_pkts, 2, "the template was considered twice");
    let d = m.poll_transmit(s(3)).unwrap();
    assert_eq!(d, datagrams(V0)[1]);
}
