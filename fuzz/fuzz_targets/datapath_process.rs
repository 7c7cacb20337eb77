//! `Datapath::process` over arbitrary frames against a configured table
//! (NAT, DR, FULLNAT and every tunnel type, IPv4 and IPv6): must never
//! panic. The first input byte picks the service set's time step; the
//! rest is one or more frames separated by the 4-byte marker `LVS!`, all
//! processed on the same data path so that connections made by one frame
//! are met by the next.
#![no_main]

use std::net::IpAddr;
use std::sync::Mutex;

use libfuzzer_sys::fuzz_target;
use lvs_core::dest::TunnelCsum;
use lvs_core::{
    DestConfig, FwdMethod, Ipvs, Protocol, ServiceConfig, ServiceKey, Time, TunnelConfig,
    TunnelType,
};
use lvs_datapath::{Config, Datapath, Frame, FwmarkRule, Interface, Neighbour, Route};
use lvs_wire::MacAddr;

fn a(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn build() -> Datapath {
    let mut ipvs = Ipvs::new();
    let tun = |kind, port, csum| FwdMethod::Tunnel(TunnelConfig { kind, port, csum });
    let services: [(&str, &str, u16, FwdMethod); 10] = [
        ("192.0.2.100", "10.0.0.11", 8080, FwdMethod::Masq),
        ("192.0.2.101", "10.0.0.11", 0, FwdMethod::Route),
        ("192.0.2.102", "10.0.0.11", 8080, FwdMethod::FullNat),
        (
            "192.0.2.103",
            "10.0.0.11",
            0,
            tun(TunnelType::Ipip, 0, TunnelCsum::NoCsum),
        ),
        (
            "192.0.2.104",
            "10.0.0.11",
            0,
            tun(TunnelType::Gue, 6080, TunnelCsum::RemCsum),
        ),
        (
            "192.0.2.105",
            "fd00::11",
            0,
            tun(TunnelType::Gre, 0, TunnelCsum::Csum),
        ),
        ("2001:db8:1::100", "fd00::11", 8080, FwdMethod::Masq),
        ("2001:db8:1::101", "fd00::11", 0, FwdMethod::FullNat),
        (
            "2001:db8:1::102",
            "10.0.0.11",
            0,
            tun(TunnelType::Ipip, 0, TunnelCsum::NoCsum),
        ),
        (
            "2001:db8:1::103",
            "fd00::11",
            0,
            tun(TunnelType::Gue, 6080, TunnelCsum::Csum),
        ),
    ];
    for (vip, rs, port, m) in services {
        for proto in [Protocol::Tcp, Protocol::Udp, Protocol::Sctp] {
            let k = ServiceKey::Addr {
                proto,
                addr: a(vip),
                port: 80,
            };
            ipvs.add_service(ServiceConfig::new(k).with_scheduler("rr"))
                .unwrap();
            let p = if port == 0 { 80 } else { port };
            ipvs.add_dest(&k, DestConfig::new(a(rs), p).with_fwd(m))
                .unwrap();
        }
    }
    let k = ServiceKey::Fwmark {
        af: lvs_core::Af::Inet,
        mark: 10,
    };
    ipvs.add_service(ServiceConfig::new(k).with_persistence(60))
        .unwrap();
    ipvs.add_dest(&k, DestConfig::new(a("10.0.0.12"), 0))
        .unwrap();
    let none = ServiceKey::Addr {
        proto: Protocol::Tcp,
        addr: a("192.0.2.100"),
        port: 81,
    };
    ipvs.add_service(ServiceConfig::new(none)).unwrap();
    ipvs.set_fullnat_local_addrs(&[a("10.0.0.200"), a("fd00::200")]);
    let mut c = Config::new();
    c.interfaces = vec![
        Interface {
            ifindex: 1,
            mac: MacAddr([2, 0, 0, 0, 0, 1]),
            mtu: 1500,
            v4: Some("192.0.2.1".parse().unwrap()),
            v6: Some("2001:db8:1::1".parse().unwrap()),
        },
        Interface {
            ifindex: 2,
            mac: MacAddr([2, 0, 0, 0, 0, 2]),
            mtu: 1400,
            v4: Some("10.0.0.1".parse().unwrap()),
            v6: Some("fd00::1".parse().unwrap()),
        },
    ];
    for (p, len, gw, i) in [
        ("0.0.0.0", 0, Some("192.0.2.254"), 1),
        ("::", 0, Some("2001:db8:1::fe"), 1),
        ("10.0.0.0", 24, None, 2),
        ("fd00::", 64, None, 2),
    ] {
        c.routes.push(Route {
            prefix: a(p),
            len,
            gateway: gw.map(a),
            ifindex: i,
        });
    }
    for (ip, m) in [
        ("192.0.2.254", 0xfe),
        ("2001:db8:1::fe", 0xfe),
        ("10.0.0.11", 0x11),
        ("10.0.0.12", 0x12),
        ("fd00::11", 0x11),
    ] {
        c.neighbours.push(Neighbour {
            ip: a(ip),
            mac: MacAddr([2, 0, 0, 0, 0, m]),
        });
    }
    c.local_addrs = [
        "192.0.2.100",
        "192.0.2.101",
        "2001:db8:1::100",
        "10.0.0.200",
    ]
    .into_iter()
    .map(a)
    .collect();
    c.fwmark_rules.push(FwmarkRule {
        proto: Protocol::Tcp,
        vaddr: a("192.0.2.110"),
        ports: vec![80, 443],
        mark: 10,
    });
    Datapath::new(ipvs, c)
}

static STATE: Mutex<Option<(Datapath, Frame, u64)>> = Mutex::new(None);

fuzz_target!(|data: &[u8]| {
    let Some((&step, rest)) = data.split_first() else {
        return;
    };
    let mut guard = STATE.lock().unwrap_or_else(|e| e.into_inner());
    let (dp, frame, now) = guard.get_or_insert_with(|| (build(), Frame::default(), 0));
    // Rebuild now and then so the table does not grow without bound.
    if *now > 1_000_000 {
        *dp = build();
        *now = 0;
    }
    for part in rest.split_pattern() {
        *now += u64::from(step) * 100;
        if frame.load(part).is_ok() {
            let _ = dp.process(Time(*now), frame);
        }
    }
});

trait SplitMarker {
    fn split_pattern(&self) -> Vec<&[u8]>;
}

impl SplitMarker for [u8] {
    fn split_pattern(&self) -> Vec<&[u8]> {
        let mut out = Vec::new();
        let mut start = 0;
        let mut i = 0;
        while i + 4 <= self.len() {
            if &self[i..i + 4] == b"LVS!" {
                out.push(&self[start..i]);
                i += 4;
                start = i;
            } else {
                i += 1;
            }
        }
        out.push(&self[start..]);
        out
    }
}
