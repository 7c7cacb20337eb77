//! Packet builders for the decapsulation tests: inner UDP datagrams and their tunnelled forms,
//! built with lvs-wire (the director's own encapsulation code).
#![allow(dead_code, clippy::unwrap_used)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use lvs_wire::encap::{Encap, GueCsum, Outer, Tunnel};
use lvs_wire::ip::proto;
use lvs_wire::ipv4::Ipv4Header;
use lvs_wire::ipv6::Ipv6Header;
use lvs_wire::udp::{self, UdpDatagram};

pub const HEADROOM: usize = 128;

/// An inner UDP datagram `src:sport -> dst:dport` carrying `payload`, checksums complete.
pub fn inner_udp(src: IpAddr, dst: IpAddr, sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let ulen = udp::HEADER_LEN + payload.len();
    let mut v = vec![0u8; 40 + ulen];
    let hl = match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => Ipv4Header {
            src: s,
            dst: d,
            protocol: proto::UDP,
            ttl: 64,
            tos: 0,
            ident: 7,
            dont_fragment: true,
            more_fragments: false,
            frag_offset: 0,
        }
        .write(&mut v, ulen)
        .unwrap(),
        (IpAddr::V6(s), IpAddr::V6(d)) => Ipv6Header {
            src: s,
            dst: d,
            next_header: proto::UDP,
            hop_limit: 64,
            traffic_class: 0,
            flow_label: 0,
        }
        .write(&mut v, ulen)
        .unwrap(),
        _ => panic!("mixed families"),
    };
    v.truncate(hl + ulen);
    udp::write_header(&mut v[hl..], sport, dport, payload.len()).unwrap();
    v[hl + udp::HEADER_LEN..].copy_from_slice(payload);
    let mut d = UdpDatagram::new_checked(&mut v[hl..]).unwrap();
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(t)) => d.fill_checksum_v4(s, t),
        (IpAddr::V6(s), IpAddr::V6(t)) => d.fill_checksum_v6(&s, &t),
        _ => unreachable!(),
    }
    v
}

pub fn outer(src: IpAddr, dst: IpAddr) -> Outer {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => Outer::V4 {
            src: s,
            dst: d,
            ttl: 64,
            tos: 0,
            dont_fragment: false,
            ident: 1,
        },
        (IpAddr::V6(s), IpAddr::V6(d)) => Outer::V6 {
            src: s,
            dst: d,
            hop_limit: 64,
            traffic_class: 0,
            flow_label: 0,
        },
        _ => panic!("mixed families"),
    }
}

/// `inner` encapsulated by lvs-wire with `tunnel` from `osrc` to `odst` (outer IP packet).
pub fn encapsulate(inner: &[u8], osrc: IpAddr, odst: IpAddr, tunnel: Tunnel) -> Vec<u8> {
    let mut buf = vec![0u8; HEADROOM + inner.len()];
    buf[HEADROOM..].copy_from_slice(inner);
    let e = Encap {
        outer: outer(osrc, odst),
        tunnel,
    };
    let start = e.encapsulate(&mut buf, HEADROOM, inner.len()).unwrap();
    buf.split_off(start)
}

/// An Ethernet frame around an IP packet.
pub fn frame(dst: [u8; 6], src: [u8; 6], ip: &[u8]) -> Vec<u8> {
    let et: u16 = if ip[0] >> 4 == 6 { 0x86dd } else { 0x0800 };
    let mut f = Vec::with_capacity(14 + ip.len());
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&et.to_be_bytes());
    f.extend_from_slice(ip);
    f
}

pub fn gue(port: u16) -> Tunnel {
    Tunnel::Gue {
        src_port: 40000,
        dst_port: port,
        csum: GueCsum::Csum,
    }
}

pub fn v4(s: &str) -> IpAddr {
    IpAddr::V4(s.parse::<Ipv4Addr>().unwrap())
}

pub fn v6(s: &str) -> IpAddr {
    IpAddr::V6(s.parse::<Ipv6Addr>().unwrap())
}

pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}
