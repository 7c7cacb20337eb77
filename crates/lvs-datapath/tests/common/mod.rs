//! Independent packet builder for the fixtures: every header is laid out
//! byte by byte from the RFCs and every checksum computed from scratch
//! (RFC 1071 over the bytes, pseudo-headers per RFC 793/768/8200, CRC32c
//! bit by bit per RFC 4960 appendix B). Nothing here uses `lvs-wire`, so an
//! expected frame cannot agree with a bug of the code under test; the
//! data path rewrites incrementally (RFC 1624), this builder never does.
#![allow(dead_code, clippy::unwrap_used)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use lvs_core::{DestConfig, FwdMethod, Ipvs, Protocol, ServiceConfig, ServiceKey, TunnelConfig};
use lvs_datapath::{Config, Datapath, Interface, Neighbour, Route};
use lvs_wire::MacAddr;

pub const TCP: u8 = 6;
pub const UDP: u8 = 17;
pub const SCTP: u8 = 132;
pub const ICMP: u8 = 1;
pub const ICMP6: u8 = 58;

pub const SYN: u8 = 0x02;
pub const ACK: u8 = 0x10;
pub const PSH: u8 = 0x08;

// ---------------------------------------------------------------- sums

/// RFC 1071 one's-complement sum folded, not inverted.
pub fn sum16(data: &[u8], mut acc: u32) -> u32 {
    let mut i = 0;
    while i + 1 < data.len() {
        acc += u32::from(u16::from_be_bytes([data[i], data[i + 1]]));
        i += 2;
    }
    if i < data.len() {
        acc += u32::from(data[i]) << 8;
    }
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc
}

pub fn csum(data: &[u8]) -> u16 {
    !(sum16(data, 0) as u16)
}

fn pseudo(src: IpAddr, dst: IpAddr, proto: u8, len: usize) -> Vec<u8> {
    let mut p = Vec::new();
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            p.extend(s.octets());
            p.extend(d.octets());
            p.push(0);
            p.push(proto);
            p.extend((len as u16).to_be_bytes());
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            p.extend(s.octets());
            p.extend(d.octets());
            p.extend((len as u32).to_be_bytes());
            p.extend([0, 0, 0, proto]);
        }
        _ => panic!("mixed families"),
    }
    p
}

/// Transport checksum with pseudo-header over `seg` (checksum field zero).
pub fn l4_csum(src: IpAddr, dst: IpAddr, proto: u8, seg: &[u8]) -> u16 {
    let mut all = pseudo(src, dst, proto, seg.len());
    all.extend_from_slice(seg);
    csum(&all)
}

/// CRC32c, bitwise (reflected polynomial 0x82F63B78).
pub fn crc32c(data: &[u8]) -> u32 {
    let mut crc: u32 = !0;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0x82F6_3B78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

// ------------------------------------------------------------ headers

pub fn eth(dst: MacAddr, src: MacAddr, ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend(dst.0);
    f.extend(src.0);
    f.extend(ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

#[derive(Clone, Copy, Debug)]
pub struct V4 {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub proto: u8,
    pub ttl: u8,
    pub tos: u8,
    pub id: u16,
    pub df: bool,
}

pub fn ipv4(h: V4, payload: &[u8]) -> Vec<u8> {
    let total = 20 + payload.len();
    let mut p = vec![
        0x45,
        h.tos,
        (total >> 8) as u8,
        total as u8,
        (h.id >> 8) as u8,
        h.id as u8,
        if h.df { 0x40 } else { 0 },
        0,
        h.ttl,
        h.proto,
        0,
        0,
    ];
    p.extend(h.src.octets());
    p.extend(h.dst.octets());
    let c = csum(&p);
    p[10..12].copy_from_slice(&c.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

#[derive(Clone, Copy, Debug)]
pub struct V6 {
    pub src: Ipv6Addr,
    pub dst: Ipv6Addr,
    pub next: u8,
    pub hlim: u8,
    pub tc: u8,
}

pub fn ipv6(h: V6, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![
        0x60 | (h.tc >> 4),
        (h.tc << 4),
        0,
        0,
        (payload.len() >> 8) as u8,
        payload.len() as u8,
        h.next,
        h.hlim,
    ];
    p.extend(h.src.octets());
    p.extend(h.dst.octets());
    p.extend_from_slice(payload);
    p
}

#[allow(clippy::too_many_arguments)]
pub fn tcp(
    src: IpAddr,
    dst: IpAddr,
    sport: u16,
    dport: u16,
    seq: u32,
    ack: u32,
    flags: u8,
    payload: &[u8],
) -> Vec<u8> {
    let mut s = Vec::new();
    s.extend(sport.to_be_bytes());
    s.extend(dport.to_be_bytes());
    s.extend(seq.to_be_bytes());
    s.extend(ack.to_be_bytes());
    s.push(5 << 4);
    s.push(flags);
    s.extend(64240u16.to_be_bytes());
    s.extend([0, 0, 0, 0]);
    s.extend_from_slice(payload);
    let c = l4_csum(src, dst, TCP, &s);
    s[16..18].copy_from_slice(&c.to_be_bytes());
    s
}

/// UDP; `with_csum` false writes 0 ("no checksum", IPv4 only).
pub fn udp(
    src: IpAddr,
    dst: IpAddr,
    sport: u16,
    dport: u16,
    payload: &[u8],
    with_csum: bool,
) -> Vec<u8> {
    let len = 8 + payload.len();
    let mut s = Vec::new();
    s.extend(sport.to_be_bytes());
    s.extend(dport.to_be_bytes());
    s.extend((len as u16).to_be_bytes());
    s.extend([0, 0]);
    s.extend_from_slice(payload);
    if with_csum {
        let mut c = l4_csum(src, dst, UDP, &s);
        if c == 0 {
            c = 0xffff;
        }
        s[6..8].copy_from_slice(&c.to_be_bytes());
    }
    s
}

/// SCTP common header + one chunk (`kind`, flags 0, `value`).
pub fn sctp(sport: u16, dport: u16, vtag: u32, kind: u8, value: &[u8]) -> Vec<u8> {
    let mut s = Vec::new();
    s.extend(sport.to_be_bytes());
    s.extend(dport.to_be_bytes());
    s.extend(vtag.to_be_bytes());
    s.extend([0, 0, 0, 0]);
    s.push(kind);
    s.push(0);
    s.extend(((4 + value.len()) as u16).to_be_bytes());
    s.extend_from_slice(value);
    while s.len() % 4 != 0 {
        s.push(0);
    }
    // RFC 4960 appendix B / Linux `sctp_compute_cksum`: the CRC's bytes go
    // on the wire least significant first.
    let c = crc32c(&s);
    s[8..12].copy_from_slice(&c.to_le_bytes());
    s
}

pub fn icmp4(kind: u8, code: u8, rest: u32, data: &[u8]) -> Vec<u8> {
    let mut m = vec![kind, code, 0, 0];
    m.extend(rest.to_be_bytes());
    m.extend_from_slice(data);
    let c = csum(&m);
    m[2..4].copy_from_slice(&c.to_be_bytes());
    m
}

pub fn icmp6(src: Ipv6Addr, dst: Ipv6Addr, kind: u8, code: u8, rest: u32, data: &[u8]) -> Vec<u8> {
    let mut m = vec![kind, code, 0, 0];
    m.extend(rest.to_be_bytes());
    m.extend_from_slice(data);
    let c = l4_csum(src.into(), dst.into(), ICMP6, &m);
    m[2..4].copy_from_slice(&c.to_be_bytes());
    m
}

/// Recomputes the IPv4 header checksum of a (possibly truncated, quoted)
/// packet in place.
pub fn refill_ipv4_csum(p: &mut [u8]) {
    let ihl = usize::from(p[0] & 0x0f) * 4;
    p[10] = 0;
    p[11] = 0;
    let c = csum(&p[..ihl]);
    p[10..12].copy_from_slice(&c.to_be_bytes());
}

// ------------------------------------------------------------ topology

pub fn mac(last: u8) -> MacAddr {
    MacAddr([0x02, 0, 0, 0, 0, last])
}

/// Director, external side.
pub const IF_EXT: u32 = 1;
/// Director, real-server side.
pub const IF_INT: u32 = 2;
pub fn dir_ext_mac() -> MacAddr {
    mac(0x01)
}
pub fn dir_int_mac() -> MacAddr {
    mac(0x02)
}
/// The client-side router.
pub fn router_mac() -> MacAddr {
    mac(0xfe)
}
pub fn rs1_mac() -> MacAddr {
    mac(0x11)
}
pub fn rs2_mac() -> MacAddr {
    mac(0x12)
}

pub fn ip4(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}
pub fn ip6(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

pub fn vip4() -> Ipv4Addr {
    ip4("192.0.2.100")
}
pub fn vip6() -> Ipv6Addr {
    ip6("2001:db8:1::100")
}
pub fn client4() -> Ipv4Addr {
    ip4("198.51.100.10")
}
pub fn client6() -> Ipv6Addr {
    ip6("2001:db8:99::10")
}
pub fn rs1_4() -> Ipv4Addr {
    ip4("10.0.0.11")
}
pub fn rs2_4() -> Ipv4Addr {
    ip4("10.0.0.12")
}
pub fn rs1_6() -> Ipv6Addr {
    ip6("fd00::11")
}
pub fn rs2_6() -> Ipv6Addr {
    ip6("fd00::12")
}
pub fn dir_int4() -> Ipv4Addr {
    ip4("10.0.0.1")
}
pub fn dir_int6() -> Ipv6Addr {
    ip6("fd00::1")
}
pub fn router4() -> Ipv4Addr {
    ip4("192.0.2.254")
}
pub fn router6() -> Ipv6Addr {
    ip6("2001:db8:1::fe")
}
pub fn fullnat_pool() -> Ipv4Addr {
    ip4("10.0.0.200")
}
pub fn fullnat_pool6() -> Ipv6Addr {
    ip6("fd00::200")
}

/// Interfaces, routes and neighbours of the test director; MTU 1500.
pub fn machine() -> Config {
    let mut c = Config::new();
    c.interfaces = vec![
        Interface {
            ifindex: IF_EXT,
            mac: dir_ext_mac(),
            mtu: 1500,
            v4: Some(ip4("192.0.2.1")),
            v6: Some(ip6("2001:db8:1::1")),
        },
        Interface {
            ifindex: IF_INT,
            mac: dir_int_mac(),
            mtu: 1500,
            v4: Some(dir_int4()),
            v6: Some(dir_int6()),
        },
    ];
    c.routes = vec![
        Route {
            prefix: "0.0.0.0".parse().unwrap(),
            len: 0,
            gateway: Some(router4().into()),
            ifindex: IF_EXT,
        },
        Route {
            prefix: "::".parse().unwrap(),
            len: 0,
            gateway: Some(router6().into()),
            ifindex: IF_EXT,
        },
        Route {
            prefix: "10.0.0.0".parse().unwrap(),
            len: 24,
            gateway: None,
            ifindex: IF_INT,
        },
        Route {
            prefix: "fd00::".parse().unwrap(),
            len: 64,
            gateway: None,
            ifindex: IF_INT,
        },
    ];
    c.neighbours = vec![
        Neighbour {
            ip: router4().into(),
            mac: router_mac(),
        },
        Neighbour {
            ip: router6().into(),
            mac: router_mac(),
        },
        Neighbour {
            ip: rs1_4().into(),
            mac: rs1_mac(),
        },
        Neighbour {
            ip: rs2_4().into(),
            mac: rs2_mac(),
        },
        Neighbour {
            ip: rs1_6().into(),
            mac: rs1_mac(),
        },
        Neighbour {
            ip: rs2_6().into(),
            mac: rs2_mac(),
        },
    ];
    c.local_addrs = vec![vip4().into(), vip6().into()];
    c
}

pub fn key(proto: Protocol, addr: IpAddr, port: u16) -> ServiceKey {
    ServiceKey::Addr { proto, addr, port }
}

/// A data path with one `rr` service `proto vip:port` and the given
/// destinations `(addr, port, method)`, each weight 1, added in order.
pub fn datapath(svc: ServiceConfig, dests: &[(IpAddr, u16, FwdMethod)]) -> Datapath {
    let mut ipvs = Ipvs::new();
    let k = svc.key;
    ipvs.add_service(svc).unwrap();
    for &(a, p, m) in dests {
        ipvs.add_dest(&k, DestConfig::new(a, p).with_fwd(m).with_weight(1))
            .unwrap();
    }
    Datapath::new(ipvs, machine())
}

pub fn rr(k: ServiceKey) -> ServiceConfig {
    ServiceConfig::new(k).with_scheduler("rr")
}

pub fn tun(kind: lvs_core::TunnelType, port: u16, csum: lvs_core::dest::TunnelCsum) -> FwdMethod {
    FwdMethod::Tunnel(TunnelConfig { kind, port, csum })
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
