//! Shared helpers of the `conn_*` integration tests.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::IpAddr;

use lvs_core::conn::tcp::flags::{ACK, FIN, RST, SYN};
use lvs_core::conn::{ConnInfo, InForward, InVerdict, OutVerdict, PacketMeta};
use lvs_core::sched::XorShiftRandom;
use lvs_core::{DestConfig, DestId, FwdMethod, Ipvs, Protocol, ServiceConfig, ServiceKey, Time};

pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

pub fn tcp_key(vip: &str, port: u16) -> ServiceKey {
    ServiceKey::Addr {
        proto: Protocol::Tcp,
        addr: ip(vip),
        port,
    }
}

pub fn udp_key(vip: &str, port: u16) -> ServiceKey {
    ServiceKey::Addr {
        proto: Protocol::Udp,
        addr: ip(vip),
        port,
    }
}

pub fn sctp_key(vip: &str, port: u16) -> ServiceKey {
    ServiceKey::Addr {
        proto: Protocol::Sctp,
        addr: ip(vip),
        port,
    }
}

/// A director plus a clock and a random source.
pub struct Lab {
    pub ipvs: Ipvs,
    pub now: Time,
    pub rng: XorShiftRandom,
}

impl Default for Lab {
    fn default() -> Self {
        Lab::new()
    }
}

impl Lab {
    pub fn new() -> Lab {
        Lab {
            ipvs: Ipvs::new(),
            now: Time(1_000_000),
            rng: XorShiftRandom(7),
        }
    }

    pub fn service(&mut self, cfg: ServiceConfig) {
        self.ipvs.add_service(cfg).unwrap();
    }

    pub fn dest(&mut self, key: &ServiceKey, addr: &str, port: u16, fwd: FwdMethod) -> DestId {
        self.ipvs
            .add_dest(key, DestConfig::new(ip(addr), port).with_fwd(fwd))
            .unwrap()
    }

    pub fn advance_secs(&mut self, secs: u64) {
        self.now = self.now.plus_secs(secs);
        self.ipvs.expire(self.now);
    }

    pub fn advance_ms(&mut self, ms: u64) {
        self.now = Time(self.now.0 + ms);
        self.ipvs.expire(self.now);
    }

    pub fn send(&mut self, pkt: PacketMeta) -> InVerdict {
        self.ipvs.conn_in(self.now, &pkt, &mut self.rng)
    }

    /// Send a packet that must be forwarded.
    pub fn fwd(&mut self, pkt: PacketMeta) -> InForward {
        match self.send(pkt) {
            InVerdict::Forward(f) => f,
            other => panic!("expected Forward, got {other:?} for {pkt:?}"),
        }
    }

    pub fn reply(&mut self, pkt: PacketMeta) -> OutVerdict {
        self.ipvs.conn_out(self.now, &pkt)
    }

    /// The single non-template entry with client port `cport`.
    pub fn conn(&self, cport: u16) -> ConnInfo {
        let all: Vec<ConnInfo> = self
            .ipvs
            .conns()
            .filter(|c| !c.is_template() && c.cport == cport)
            .collect();
        assert_eq!(
            all.len(),
            1,
            "connections with client port {cport}: {all:?}"
        );
        all[0]
    }

    pub fn templates(&self) -> Vec<ConnInfo> {
        self.ipvs.conns().filter(|c| c.is_template()).collect()
    }

    pub fn counts(&self, d: DestId) -> (u32, u32, u32) {
        let d = self.ipvs.dest(d).unwrap();
        (d.activeconns, d.inactconns, d.persistconns)
    }

    /// Seconds left before `c` expires.
    pub fn left(&self, c: &ConnInfo) -> u64 {
        (c.expires.0 - self.now.0) / 1000
    }
}

pub fn tcp(c: (&str, u16), v: (&str, u16), flags: u8) -> PacketMeta {
    PacketMeta::tcp((ip(c.0), c.1), (ip(v.0), v.1), flags).with_len(60)
}

pub fn syn(c: (&str, u16), v: (&str, u16)) -> PacketMeta {
    tcp(c, v, SYN)
}

pub fn ack(c: (&str, u16), v: (&str, u16)) -> PacketMeta {
    tcp(c, v, ACK)
}

pub fn fin(c: (&str, u16), v: (&str, u16)) -> PacketMeta {
    tcp(c, v, FIN | ACK)
}

pub fn rst(c: (&str, u16), v: (&str, u16)) -> PacketMeta {
    tcp(c, v, RST)
}

pub fn udp(c: (&str, u16), v: (&str, u16)) -> PacketMeta {
    PacketMeta::udp((ip(c.0), c.1), (ip(v.0), v.1)).with_len(100)
}

/// Everything the table says must match the destinations: per destination
/// active / inactive / persistent counts and references equal the table's
/// contents, every template's `n_control` equals the connections it
/// controls, and no entry has a deadline at or before `now`.
pub fn check_invariants(ipvs: &Ipvs, now: Time) {
    let mut want: HashMap<DestId, (u32, u32, u32, u32)> = HashMap::new();
    let mut controlled: HashMap<lvs_core::conn::ConnId, u32> = HashMap::new();
    let all: Vec<ConnInfo> = ipvs.conns().collect();
    for c in &all {
        assert!(
            c.expires > now,
            "expired entry still in the table at {now:?}: {c:?}"
        );
        if let Some(ct) = c.control {
            *controlled.entry(ct).or_default() += 1;
        }
        let Some(d) = c.dest else { continue };
        assert!(
            ipvs.dest(d).is_some(),
            "{c:?} refers to a destination that was freed"
        );
        let w = want.entry(d).or_default();
        w.3 += 1;
        if c.is_template() {
            w.2 += 1;
        } else if c.flags & u32::from(lvs_core::conn::flags::INACTIVE) != 0 {
            w.1 += 1;
        } else {
            w.0 += 1;
        }
    }
    for c in &all {
        assert_eq!(
            c.n_control,
            controlled.get(&c.id).copied().unwrap_or(0),
            "n_control of {c:?}"
        );
        if let Some(ct) = c.control {
            let t = ipvs.conn_info(ct).expect("controlling template is live");
            assert!(t.is_template());
        }
    }
    for d in ipvs.dest_arena().iter() {
        let (a, i, p, r) = want.get(&d.id).copied().unwrap_or_default();
        assert_eq!(
            (d.activeconns, d.inactconns, d.persistconns),
            (a, i, p),
            "counters of {:?} ({})",
            d.id,
            d.config.addr
        );
        assert_eq!(ipvs.dest_refcount(d.id), r, "refcount of {:?}", d.id);
    }
}
