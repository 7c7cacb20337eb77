//! Deterministic simulation: seeded runs of thousands of connections over
//! TCP (NAT, DR, FULLNAT, persistent), UDP (plain, one-packet), SCTP, fwmark
//! and IPv6 services, opened, used, closed and left to time out while
//! `now` jumps forward at random, with destinations edited, quiesced,
//! deleted and re-added, services deleted and re-created and sysctls
//! flipped. After every step the table must agree with the destinations
//! (`check_invariants`: active/inactive/persistent counters, references,
//! `n_control`, no expired entry).

#![allow(clippy::unwrap_used)]

mod conn_common;

use conn_common::*;
use lvs_core::conn::sctp::chunk;
use lvs_core::conn::tcp::flags::{ACK, FIN, PSH, RST, SYN};
use lvs_core::conn::{InVerdict, OutVerdict, PacketMeta};
use lvs_core::{
    Af, DestConfig, FwdMethod, Protocol, ServiceConfig, ServiceFlags, ServiceKey, Time,
};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::net::IpAddr;

struct Svc {
    cfg: ServiceConfig,
    /// (address, port, method) of the servers.
    dests: Vec<(IpAddr, u16, FwdMethod)>,
    /// Address and port packets are sent to.
    vip: (IpAddr, u16),
    mark: Option<u32>,
}

fn services() -> Vec<Svc> {
    let v4 = |s: &str| ip(s);
    let rs = |n: u8, port: u16, fwd: FwdMethod| (v4(&format!("10.0.1.{n}")), port, fwd);
    vec![
        Svc {
            cfg: ServiceConfig::new(tcp_key("10.0.0.1", 80)).with_scheduler("rr"),
            dests: vec![
                rs(1, 8080, FwdMethod::Masq),
                rs(2, 8080, FwdMethod::Masq),
                rs(3, 8080, FwdMethod::Masq),
            ],
            vip: (v4("10.0.0.1"), 80),
            mark: None,
        },
        Svc {
            cfg: {
                let mut c = ServiceConfig::new(tcp_key("10.0.0.2", 443))
                    .with_scheduler("wlc")
                    .with_persistence(120);
                c.netmask = 0xffff_ff00;
                c
            },
            dests: vec![rs(11, 443, FwdMethod::Route), rs(12, 443, FwdMethod::Route)],
            vip: (v4("10.0.0.2"), 443),
            mark: None,
        },
        Svc {
            cfg: ServiceConfig::new(udp_key("10.0.0.3", 53)).with_scheduler("rr"),
            dests: vec![rs(21, 53, FwdMethod::Masq), rs(22, 53, FwdMethod::Route)],
            vip: (v4("10.0.0.3"), 53),
            mark: None,
        },
        Svc {
            cfg: ServiceConfig::new(udp_key("10.0.0.4", 5060))
                .with_scheduler("rr")
                .with_persistence(60)
                .with_flags(ServiceFlags::ONEPACKET),
            dests: vec![
                rs(31, 5060, FwdMethod::Route),
                rs(32, 5060, FwdMethod::Route),
            ],
            vip: (v4("10.0.0.4"), 5060),
            mark: None,
        },
        Svc {
            cfg: ServiceConfig::new(ServiceKey::Fwmark {
                af: Af::Inet,
                mark: 9,
            })
            .with_scheduler("wlc")
            .with_persistence(90),
            dests: vec![rs(41, 0, FwdMethod::Route), rs(42, 0, FwdMethod::Route)],
            vip: (v4("10.0.0.5"), 22),
            mark: Some(9),
        },
        Svc {
            cfg: ServiceConfig::new(sctp_key("10.0.0.6", 3868)).with_scheduler("rr"),
            dests: vec![
                rs(51, 3868, FwdMethod::Route),
                rs(52, 3868, FwdMethod::Masq),
            ],
            vip: (v4("10.0.0.6"), 3868),
            mark: None,
        },
        Svc {
            cfg: ServiceConfig::new(tcp_key("10.0.0.7", 80)).with_scheduler("rr"),
            dests: vec![
                rs(61, 80, FwdMethod::FullNat),
                rs(62, 80, FwdMethod::FullNat),
            ],
            vip: (v4("10.0.0.7"), 80),
            mark: None,
        },
        Svc {
            cfg: ServiceConfig::new(tcp_key("2001:db8::1", 80)).with_scheduler("wlc"),
            dests: vec![
                (ip("2001:db8:1::1"), 80, FwdMethod::Masq),
                (ip("2001:db8:1::2"), 80, FwdMethod::Route),
            ],
            vip: (ip("2001:db8::1"), 80),
            mark: None,
        },
    ]
}

fn client_addr(rng: &mut SmallRng, v6: bool) -> IpAddr {
    if v6 {
        ip(&format!(
            "2001:db8:9:{}::{}",
            rng.gen_range(0..4),
            rng.gen_range(1..20)
        ))
    } else {
        ip(&format!(
            "10.9.{}.{}",
            rng.gen_range(0..16),
            rng.gen_range(1..100)
        ))
    }
}

fn add_dest(lab: &mut Lab, key: &ServiceKey, d: &(IpAddr, u16, FwdMethod), rng: &mut SmallRng) {
    let mut cfg = DestConfig::new(d.0, d.1).with_fwd(d.2);
    if rng.gen_bool(0.3) {
        let u = rng.gen_range(2..30);
        cfg = cfg.with_thresholds(u, rng.gen_range(0..u));
    }
    let _ = lab.ipvs.add_dest(key, cfg);
}

/// A packet of an ongoing exchange: client side, or the server's reply.
fn traffic(lab: &mut Lab, rng: &mut SmallRng, svc: &Svc, c: (IpAddr, u16), first: bool) {
    let (vaddr, vport) = svc.vip;
    let pkt = match svc.cfg.key {
        ServiceKey::Addr {
            proto: Protocol::Udp,
            ..
        } => PacketMeta::udp(c, (vaddr, vport)),
        ServiceKey::Addr {
            proto: Protocol::Sctp,
            ..
        } => {
            let ch = if first {
                chunk::INIT
            } else {
                [
                    chunk::DATA,
                    chunk::COOKIE_ECHO,
                    chunk::SHUTDOWN,
                    chunk::SHUTDOWN_COMPLETE,
                    chunk::ABORT,
                    chunk::INIT,
                ][rng.gen_range(0..6)]
            };
            PacketMeta::sctp(c, (vaddr, vport), ch)
        }
        _ => {
            let f = if first {
                SYN
            } else {
                [ACK, ACK | PSH, FIN | ACK, RST, SYN, PSH][rng.gen_range(0..6)]
            };
            PacketMeta::tcp(c, (vaddr, vport), f)
        }
    };
    let mut pkt = pkt.with_len(rng.gen_range(40..1500));
    if let Some(m) = svc.mark {
        pkt = pkt.with_fwmark(m);
    }
    let v = lab.send(pkt);
    // Occasionally the server answers (NAT and FULLNAT replies map back).
    if let InVerdict::Forward(f) = v
        && rng.gen_bool(0.5)
    {
        let to = f.local.unwrap_or(c);
        let mut reply = pkt;
        reply.saddr = f.daddr;
        reply.sport = f.dport;
        reply.daddr = to.0;
        reply.dport = to.1;
        reply.tcp_flags = [SYN | ACK, ACK, FIN | ACK, RST][rng.gen_range(0..4)];
        reply.sctp_chunk = [
            chunk::INIT_ACK,
            chunk::COOKIE_ACK,
            chunk::SHUTDOWN_ACK,
            chunk::DATA,
        ][rng.gen_range(0..4)];
        let out = lab.reply(reply);
        if f.fwd.sees_replies()
            && let OutVerdict::Forward(o) = out
        {
            assert_eq!((o.caddr, o.cport), c);
            assert_eq!((o.vaddr, o.vport), (vaddr, vport));
        }
    }
}

fn run(seed: u64, steps: usize) -> (usize, u64) {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut lab = Lab::new();
    lab.ipvs
        .set_fullnat_local_addrs(&[ip("192.168.0.1"), ip("192.168.0.2")]);
    let svcs = services();
    for s in &svcs {
        lab.service(s.cfg.clone());
        for d in &s.dests {
            add_dest(&mut lab, &s.cfg.key, d, &mut rng);
        }
    }
    // Ongoing exchanges: (service index, client).
    let mut flows: Vec<(usize, (IpAddr, u16))> = Vec::new();
    let mut peak = 0;
    let mut created = 0u64;
    for _ in 0..steps {
        match rng.gen_range(0..100) {
            0..=44 => {
                let si = rng.gen_range(0..svcs.len());
                let v6 = matches!(svcs[si].vip.0, IpAddr::V6(_));
                let c = (client_addr(&mut rng, v6), rng.gen_range(1024..1400));
                traffic(&mut lab, &mut rng, &svcs[si], c, true);
                if rng.gen_bool(0.6) {
                    traffic(&mut lab, &mut rng, &svcs[si], c, false);
                }
                flows.push((si, c));
                if flows.len() > 3000 {
                    flows.swap_remove(rng.gen_range(0..flows.len()));
                }
                created += 1;
            }
            45..=79 if !flows.is_empty() => {
                let (si, c) = flows[rng.gen_range(0..flows.len())];
                traffic(&mut lab, &mut rng, &svcs[si], c, false);
            }
            80..=89 => {
                let ms = if rng.gen_bool(0.995) {
                    rng.gen_range(0..300)
                } else {
                    rng.gen_range(0..400_000)
                };
                lab.advance_ms(ms);
            }
            90..=95 if rng.gen_bool(0.5) => {
                // Destination edits: weight (0 = quiesce), thresholds,
                // delete, re-add.
                let s = &svcs[rng.gen_range(0..svcs.len())];
                let d = s.dests[rng.gen_range(0..s.dests.len())];
                match rng.gen_range(0..4) {
                    0 => {
                        let _ = lab.ipvs.del_dest(&s.cfg.key, &d.0, d.1, lab.now);
                    }
                    1 => add_dest(&mut lab, &s.cfg.key, &d, &mut rng),
                    _ => {
                        let mut cfg = DestConfig::new(d.0, d.1)
                            .with_fwd(d.2)
                            .with_weight(rng.gen_range(0..4));
                        if rng.gen_bool(0.3) {
                            let u = rng.gen_range(1..20);
                            cfg = cfg.with_thresholds(u, rng.gen_range(0..u));
                        }
                        let _ = lab.ipvs.edit_dest(&s.cfg.key, cfg);
                    }
                }
            }
            96 if rng.gen_bool(0.2) => {
                let s = &svcs[rng.gen_range(0..svcs.len())];
                if lab.ipvs.del_service(&s.cfg.key, lab.now).is_err() {
                    lab.service(s.cfg.clone());
                    for d in &s.dests {
                        add_dest(&mut lab, &s.cfg.key, d, &mut rng);
                    }
                }
            }
            97 => {
                let sys = lab.ipvs.sysctls_mut();
                match rng.gen_range(0..5) {
                    0 => sys.expire_nodest_conn = !sys.expire_nodest_conn,
                    1 => sys.expire_quiescent_template = !sys.expire_quiescent_template,
                    2 => sys.conn_reuse_mode = rng.gen_range(0..4),
                    3 => sys.sloppy_tcp = !sys.sloppy_tcp,
                    _ => sys.secure_tcp = rng.gen_range(0..4),
                }
            }
            98 => {
                let t = rng.gen_range(0..200);
                let _ = lab
                    .ipvs
                    .set_timeouts(t, rng.gen_range(0..100), rng.gen_range(0..100));
            }
            _ => lab.ipvs.tick(lab.now),
        }
        lab.ipvs.expire(lab.now);
        peak = peak.max(lab.ipvs.conn_count());
        check_invariants(&lab.ipvs, lab.now);
    }
    // Let everything run out: the table empties and all counters return
    // to zero.
    lab.now = Time(lab.now.0 + 400 * 24 * 3600 * 1000);
    lab.ipvs.expire(lab.now);
    check_invariants(&lab.ipvs, lab.now);
    assert_eq!(lab.ipvs.conn_count(), 0);
    for d in lab.ipvs.dest_arena().iter() {
        assert_eq!((d.activeconns, d.inactconns, d.persistconns), (0, 0, 0));
        assert_eq!(lab.ipvs.dest_refcount(d.id), 0);
    }
    (peak, created)
}

#[test]
fn simulation_seed_1() {
    let (peak, created) = run(1, 8000);
    assert!(created > 3000, "{created} flows");
    assert!(peak > 400, "peak table size {peak}");
}

#[test]
fn simulation_seed_2() {
    run(2, 8000);
}

#[test]
fn simulation_seed_3() {
    run(3, 8000);
}
