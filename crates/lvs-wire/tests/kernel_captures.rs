//! Known packets from the real kernel: Linux 6.1 with IPVS, captured by
//! `testdata/wirecap.sh` in the `ipvs-ref` lab VM (see `testdata/README.md`).
//!
//! - `kernel-client-side.pcap`: the client's veth (the client computes its
//!   checksums in software except for the first SYN, sent with offload on);
//!   TCP SYNs to the virtual services, ICMP errors from IPVS (frag needed,
//!   packet too big), UDP, IPv4 and IPv6 fragments, SCTP INIT/ABORT, pings,
//!   ARP, 802.1Q frames, neighbour discovery.
//! - `kernel-tunnel-side.pcap`: what IPVS sent to the real server for every
//!   TUN variant (IPIP, GUE nocsum/csum/remcsum, GRE nocsum/csum; 4in4,
//!   6in6, 4in6), with the director's checksums completed in software.
//!
//! These bytes are independent of this crate: parsing them, verifying their
//! checksums and rebuilding them byte for byte checks our views, checksums
//! and builders against the kernel.

#![allow(clippy::unwrap_used)]

mod common;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use common::{read_pcap, ref_sum};
use lvs_wire::checksum::pseudo_header_v4;
use lvs_wire::encap::{self, Encap, GueCsum, Outer, Tunnel, TunnelKind};
use lvs_wire::ip::proto;
use lvs_wire::parse::{self, L3, Transport};
use lvs_wire::{
    EthernetFrame, Icmpv4Packet, Icmpv6Packet, Ipv4Packet, Ipv6Packet, SctpPacket, TcpSegment,
    UdpDatagram, arp, gre, gue, icmp, icmpv6, sctp,
};

const CLIENT: &str = "kernel-client-side.pcap";
const TUNNEL: &str = "kernel-tunnel-side.pcap";

/// The IP packet of an Ethernet frame.
fn ip_of(frame: &[u8]) -> &[u8] {
    let e = EthernetFrame::new_checked(frame).unwrap();
    &frame[e.header_len()..]
}

/// The IP packets of a capture (non-IP frames skipped).
fn ip_packets(name: &str) -> Vec<Vec<u8>> {
    read_pcap(name)
        .into_iter()
        .filter(|f| matches!(parse::parse_frame(f).unwrap().l3, L3::Ip(_)))
        .map(|f| ip_of(&f).to_vec())
        .collect()
}

/// Outcome of checking every checksum of one IP packet.
#[derive(Debug, PartialEq)]
enum Verdict {
    /// All present checksums verified.
    Valid,
    /// Transport checksum is the folded pseudo-header sum (offloaded).
    PartialTcp,
    /// A fragment: transport checksum covers the reassembled datagram.
    Fragment,
    /// SCTP CRC left zero for offload.
    Invalid(&'static str),
}

/// Verifies IP, transport and (for tunnels) inner checksums of `p`.
fn verify_ip(p: &[u8]) -> Verdict {
    let s = parse::parse_ip(p).unwrap();
    let l4 = &p[s.l4_offset..s.len];
    if s.fragment.is_some() {
        if s.version == 4 {
            assert!(Ipv4Packet::new_checked(p).unwrap().verify_checksum());
        }
        return Verdict::Fragment;
    }
    let (v4, v6) = match (s.src, s.dst) {
        (IpAddr::V4(a), IpAddr::V4(b)) => (Some((a, b)), None),
        (IpAddr::V6(a), IpAddr::V6(b)) => (None, Some((a, b))),
        _ => unreachable!(),
    };
    if s.version == 4 {
        let ip = Ipv4Packet::new_checked(p).unwrap();
        if !ip.verify_checksum() {
            return Verdict::Invalid("ipv4 header");
        }
        // Independent reference: the header sums to 0xffff.
        assert_eq!(ref_sum(&[ip.header()]), 0xffff);
    }
    match s.protocol {
        proto::TCP => {
            let t = TcpSegment::new_checked(l4).unwrap();
            let ok = match (v4, v6) {
                (Some((a, b)), _) => t.verify_checksum_v4(a, b),
                (_, Some((a, b))) => t.verify_checksum_v6(&a, &b),
                _ => unreachable!(),
            };
            if ok {
                return Verdict::Valid;
            }
            if let Some((a, b)) = v4 {
                let partial = pseudo_header_v4(a, b, proto::TCP, l4.len() as u16).sum();
                if t.checksum() == partial {
                    return Verdict::PartialTcp;
                }
            }
            Verdict::Invalid("tcp")
        }
        proto::UDP => {
            let u = UdpDatagram::new_checked(l4).unwrap();
            let ok = match (v4, v6) {
                (Some((a, b)), _) => u.verify_checksum_v4(a, b),
                (_, Some((a, b))) => u.verify_checksum_v6(&a, &b) || !u.has_checksum(),
                _ => unreachable!(),
            };
            if !ok {
                return Verdict::Invalid("udp");
            }
            if u.dst_port() == 6080 {
                return verify_tunnelled(p);
            }
            Verdict::Valid
        }
        proto::ICMP => {
            if Icmpv4Packet::new_checked(l4).unwrap().verify_checksum() {
                Verdict::Valid
            } else {
                Verdict::Invalid("icmp")
            }
        }
        proto::ICMPV6 => {
            let (a, b) = v6.unwrap();
            if Icmpv6Packet::new_checked(l4)
                .unwrap()
                .verify_checksum(&a, &b)
            {
                Verdict::Valid
            } else {
                Verdict::Invalid("icmpv6")
            }
        }
        proto::SCTP => {
            if SctpPacket::new_checked(l4).unwrap().verify_checksum() {
                Verdict::Valid
            } else {
                Verdict::Invalid("sctp")
            }
        }
        proto::GRE => {
            if !gre::GreHeader::new_checked(l4).unwrap().verify_checksum() {
                return Verdict::Invalid("gre");
            }
            verify_tunnelled(p)
        }
        proto::IPIP | proto::IPV6 => verify_tunnelled(p),
        _ => Verdict::Invalid("unexpected protocol"),
    }
}

/// Verifies the inner packet of a tunnel, applying remcsum if present.
fn verify_tunnelled(p: &[u8]) -> Verdict {
    let d = encap::decapsulate(p, 6080).unwrap().unwrap();
    let mut inner = p[d.inner_offset..d.inner_offset + d.inner_len].to_vec();
    if let TunnelKind::Gue {
        remcsum: Some((start, offset)),
    } = d.kind
    {
        // The kernel left the inner checksum partial for the receiver.
        assert_eq!(verify_ip(&inner), Verdict::PartialTcp);
        gue::remcsum_apply(&mut inner, start, offset).unwrap();
    }
    verify_ip(&inner)
}

#[test]
fn every_client_side_checksum_is_valid() {
    let frames = read_pcap(CLIENT);
    let (mut valid, mut partial, mut frags, mut other) = (0, 0, 0, 0);
    for (i, f) in frames.iter().enumerate() {
        let s = parse::parse_frame(f).unwrap_or_else(|e| panic!("frame {i}: {e}"));
        match s.l3 {
            L3::Ip(_) => match verify_ip(ip_of(f)) {
                Verdict::Valid => valid += 1,
                Verdict::PartialTcp => partial += 1,
                Verdict::Fragment => frags += 1,
                Verdict::Invalid(what) => panic!("frame {i}: bad {what} checksum"),
            },
            _ => other += 1,
        }
    }
    // One SYN was sent with checksum offload on (its checksum is partial);
    // three IPv4 and three IPv6 UDP fragments; two ICMP fragments each way.
    assert_eq!(partial, 1);
    assert!(valid >= 45, "{valid} verified");
    assert!(frags >= 6, "{frags} fragments");
    assert!(other >= 4, "{other} ARP frames");
}

#[test]
fn every_tunnel_side_checksum_is_valid() {
    let frames = read_pcap(TUNNEL);
    let mut tunnels = 0;
    for (i, f) in frames.iter().enumerate() {
        let s = parse::parse_frame(f).unwrap_or_else(|e| panic!("frame {i}: {e}"));
        let L3::Ip(ip) = s.l3 else { continue };
        let p = ip_of(f);
        assert_eq!(verify_ip(p), Verdict::Valid, "frame {i}");
        if encap::decapsulate(p, 6080).unwrap().is_some() {
            tunnels += 1;
        }
        let _ = ip;
    }
    assert_eq!(tunnels, 12, "tunnelled packets in the capture");
}

/// Finds the client's SYN with source port `sport`.
fn client_syn(packets: &[Vec<u8>], sport: u16) -> Vec<u8> {
    packets
        .iter()
        .find(|p| {
            let s = parse::parse_ip(p).unwrap();
            matches!(s.transport, Transport::Tcp { src_port, flags, .. } if src_port == sport && flags == 2)
        })
        .unwrap_or_else(|| panic!("no SYN from port {sport}"))
        .to_vec()
}

/// Finds the tunnelled packet whose inner TCP source port is `sport`.
fn tunnelled(packets: &[Vec<u8>], sport: u16) -> (Vec<u8>, encap::Decapsulated) {
    for p in packets {
        if let Ok(Some(d)) = encap::decapsulate(p, 6080) {
            let inner = &p[d.inner_offset..d.inner_offset + d.inner_len];
            let s = parse::parse_ip(inner).unwrap();
            if s.transport.ports().map(|x| x.0) == Some(sport) {
                return (p.to_vec(), d);
            }
        }
    }
    panic!("no tunnelled packet from port {sport}")
}

/// Rebuilds what IPVS sent for the client SYN from `sport` with `tunnel`,
/// taking only the kernel's free choices (IP id, flow label, UDP source
/// port) from the capture, and compares byte for byte.
fn rebuild(sport: u16, tunnel: Tunnel, partial: bool) -> Vec<u8> {
    let client = ip_packets(CLIENT);
    let rs = ip_packets(TUNNEL);
    let mut inner = client_syn(&client, sport);
    let (captured, d) = tunnelled(&rs, sport);
    // The director forwards: the inner TTL / hop limit drops by one.
    match inner[0] >> 4 {
        4 => {
            Ipv4Packet::new_checked(&mut inner[..])
                .unwrap()
                .decrement_ttl();
        }
        _ => {
            Ipv6Packet::new_checked(&mut inner[..])
                .unwrap()
                .decrement_hop_limit();
        }
    }
    let fields = encap::inner_fields(&inner).unwrap();
    let tunnel = match tunnel {
        Tunnel::Gue { dst_port, csum, .. } => {
            let u =
                UdpDatagram::new_checked(&captured[d.inner_offset - 8 - gue_len(&d)..]).unwrap();
            Tunnel::Gue {
                src_port: u.src_port(),
                dst_port,
                csum,
            }
        }
        t => t,
    };
    let outer = if captured[0] >> 4 == 4 {
        let c = Ipv4Packet::new_checked(&captured[..]).unwrap();
        Outer::V4 {
            src: Ipv4Addr::new(10, 0, 2, 1),
            dst: Ipv4Addr::new(10, 0, 2, 2),
            ttl: fields.ttl,
            tos: fields.ds,
            dont_fragment: fields.dont_fragment,
            ident: c.ident(),
        }
    } else {
        let c = Ipv6Packet::new_checked(&captured[..]).unwrap();
        Outer::V6 {
            src: "fd02::1".parse().unwrap(),
            dst: "fd02::2".parse().unwrap(),
            hop_limit: fields.ttl,
            traffic_class: fields.ds,
            flow_label: c.flow_label(),
        }
    };
    let e = Encap { outer, tunnel };
    let head = e.max_header_len();
    let mut buf = vec![0u8; head + inner.len()];
    buf[head..].copy_from_slice(&inner);
    let start = if partial {
        e.encapsulate_partial(&mut buf, head, inner.len()).unwrap()
    } else {
        e.encapsulate(&mut buf, head, inner.len()).unwrap()
    };
    assert_eq!(
        hexs(&buf[start..]),
        hexs(&captured),
        "rebuilt packet for port {sport} differs from the kernel's"
    );
    captured
}

fn gue_len(d: &encap::Decapsulated) -> usize {
    match d.kind {
        TunnelKind::Gue { remcsum: Some(_) } => gue::REMCSUM_HEADER_LEN,
        _ => gue::HEADER_LEN,
    }
}

fn hexs(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

const GUE: u16 = 6080;

fn gue_t(csum: GueCsum) -> Tunnel {
    Tunnel::Gue {
        src_port: 0,
        dst_port: GUE,
        csum,
    }
}

#[test]
fn ipip_4in4_matches_kernel() {
    let p = rebuild(42001, Tunnel::Ipip, false);
    assert_eq!(p[9], proto::IPIP);
}

#[test]
fn gue_nocsum_matches_kernel() {
    let p = rebuild(42002, gue_t(GueCsum::None), false);
    assert_eq!(&p[26..28], &[0, 0], "UDP checksum absent");
}

#[test]
fn gue_csum_matches_kernel() {
    rebuild(42003, gue_t(GueCsum::Csum), false);
}

#[test]
fn gue_remcsum_of_a_complete_packet_is_plain_csum_like_the_kernel() {
    let p = rebuild(42004, gue_t(GueCsum::RemCsum), false);
    let g = gue::GueHeader::new_checked(&p[28..]).unwrap();
    assert_eq!(g.header_len(), 4);
    assert_eq!(g.remcsum(), None);
}

#[test]
fn gue_remcsum_of_a_partial_packet_carries_the_option_like_the_kernel() {
    let p = rebuild(41001, gue_t(GueCsum::RemCsum), true);
    let g = gue::GueHeader::new_checked(&p[28..]).unwrap();
    // start = inner IPv4 header (20), offset = start + TCP checksum (16).
    assert_eq!(g.remcsum(), Some((20, 36)));
    assert_eq!(g.private_flags(), Some(gue::PFLAG_REMCSUM));
}

#[test]
fn gre_nocsum_matches_kernel() {
    let p = rebuild(42005, Tunnel::Gre { csum: false }, false);
    assert_eq!(&p[20..24], &[0, 0, 0x08, 0x00]);
}

#[test]
fn gre_csum_matches_kernel() {
    let p = rebuild(42006, Tunnel::Gre { csum: true }, false);
    assert_eq!(&p[20..22], &[0x80, 0x00]);
}

#[test]
fn ipip_6in6_matches_kernel() {
    let p = rebuild(43001, Tunnel::Ipip, false);
    assert_eq!(p[6], proto::IPV6);
}

#[test]
fn gue_6in6_csum_matches_kernel() {
    rebuild(43002, gue_t(GueCsum::Csum), false);
}

#[test]
fn gre_6in6_csum_matches_kernel() {
    let p = rebuild(43003, Tunnel::Gre { csum: true }, false);
    assert_eq!(&p[42..44], &[0x86, 0xdd]);
}

#[test]
fn gue_4in6_csum_matches_kernel() {
    rebuild(44001, gue_t(GueCsum::Csum), false);
}

#[test]
fn ipip_4in6_matches_kernel() {
    let p = rebuild(44002, Tunnel::Ipip, false);
    assert_eq!(p[6], proto::IPIP);
}

/// The big UDP datagram from `sport` and the ICMP error answering it.
fn big_udp_and_error(sport: u16, icmp_proto: u8) -> (Vec<u8>, Vec<u8>) {
    let mut orig = None;
    let mut err = None;
    for p in &ip_packets(CLIENT) {
        let s = parse::parse_ip(p).unwrap();
        if s.transport.ports().map(|x| x.0) == Some(sport) && s.len > 1400 && s.fragment.is_none() {
            orig = Some(p[..s.len].to_vec());
        }
        if s.protocol == icmp_proto && orig.is_some() && err.is_none() && s.len > 500 {
            err = Some(p[..s.len].to_vec());
        }
    }
    (orig.unwrap(), err.unwrap())
}

#[test]
fn frag_needed_matches_kernel() {
    let (mut orig, kernel) = big_udp_and_error(45001, proto::ICMP);
    // IPVS decrements the TTL before its PMTU check, so the quote shows 63.
    Ipv4Packet::new_checked(&mut orig[..])
        .unwrap()
        .decrement_ttl();
    // Tunnel MTU by hand: the director's link MTU 1400 minus the outer
    // IPv4 header (20).
    let mtu = 1400 - 20;
    let mut out = [0u8; 600];
    let n = icmp::build_frag_needed(
        &mut out,
        "10.0.0.100".parse().unwrap(),
        "10.0.1.2".parse().unwrap(),
        mtu,
        &orig,
    )
    .unwrap();
    // The kernel's id is its own choice.
    let kid = Ipv4Packet::new_checked(&kernel[..]).unwrap().ident();
    Ipv4Packet::new_checked(&mut out[..n])
        .unwrap()
        .set_ident(kid);
    assert_eq!(n, 576);
    assert_eq!(hexs(&out[..n]), hexs(&kernel));
    let m = Icmpv4Packet::new_checked(&kernel[20..]).unwrap();
    assert_eq!(m.next_hop_mtu(), mtu);
    let q = m.embedded().unwrap();
    assert!(q.is_truncated());
    assert_eq!(q.ttl(), 63);
    assert_eq!(lvs_wire::ip::ports(q.payload()), Some((45001, 53)));
}

#[test]
fn packet_too_big_matches_kernel() {
    let (mut orig, kernel) = big_udp_and_error(45002, proto::ICMPV6);
    Ipv6Packet::new_checked(&mut orig[..])
        .unwrap()
        .decrement_hop_limit();
    // Tunnel MTU by hand: 1400 minus the outer IPv6 header (40).
    let mtu = 1400 - 40;
    let mut out = [0u8; 1300];
    let n = icmpv6::build_packet_too_big(
        &mut out,
        "fd00::100".parse().unwrap(),
        "fd01::2".parse().unwrap(),
        mtu,
        &orig,
    )
    .unwrap();
    let kfl = Ipv6Packet::new_checked(&kernel[..]).unwrap().flow_label();
    Ipv6Packet::new_checked(&mut out[..n])
        .unwrap()
        .set_flow_label(kfl);
    assert_eq!(n, 1280);
    assert_eq!(hexs(&out[..n]), hexs(&kernel));
    let m = Icmpv6Packet::new_checked(&kernel[40..]).unwrap();
    assert_eq!(m.mtu(), mtu);
    assert_eq!(m.embedded().unwrap().hop_limit(), 63);
}

#[test]
fn ipv4_fragments_reassemble_to_a_valid_datagram() {
    let mut data = vec![0u8; 3008];
    let mut seen = Vec::new();
    let mut addrs = None;
    for p in &ip_packets(CLIENT) {
        let s = parse::parse_ip(p).unwrap();
        let (Some(fr), 17, 4) = (s.fragment, s.protocol, s.version) else {
            continue;
        };
        let ip = Ipv4Packet::new_checked(p).unwrap();
        assert!(ip.verify_checksum());
        let pl = ip.payload();
        data[fr.offset..fr.offset + pl.len()].copy_from_slice(pl);
        seen.push((
            fr.offset,
            pl.len(),
            fr.more,
            matches!(s.transport, Transport::Fragment),
        ));
        addrs = Some((ip.src(), ip.dst()));
    }
    // 3000 bytes of data + 8 UDP header over a 1500-byte MTU: 1480-byte
    // pieces at offsets 0, 1480, 2960 (48 bytes), MF on all but the last.
    assert_eq!(
        seen,
        vec![
            (0, 1480, true, false),
            (1480, 1480, true, true),
            (2960, 48, false, true)
        ]
    );
    let (src, dst) = addrs.unwrap();
    let u = UdpDatagram::new_checked(&data[..]).unwrap();
    assert_eq!(u.len_field(), 3008);
    assert!(u.verify_checksum_v4(src, dst));
    assert_eq!(
        u.payload(),
        (0..3000).map(|i| (i % 251) as u8).collect::<Vec<_>>()
    );
}

#[test]
fn ipv6_fragments_walk_and_reassemble() {
    let mut data = vec![0u8; 3008];
    let mut seen = Vec::new();
    let mut addrs = None;
    for p in &ip_packets(CLIENT) {
        let s = parse::parse_ip(p).unwrap();
        let Some(fr) = s.fragment else { continue };
        if s.protocol != proto::UDP || s.version != 6 {
            continue;
        }
        let ip = Ipv6Packet::new_checked(p).unwrap();
        let ul = ip.upper_layer().unwrap();
        assert_eq!(ul.offset, 48, "after the 8-byte fragment header");
        let pl = &p[ul.offset..s.len];
        data[fr.offset..fr.offset + pl.len()].copy_from_slice(pl);
        seen.push((fr.offset, pl.len(), fr.more));
        addrs = Some((ip.src(), ip.dst()));
    }
    // IPv6: 1500 - 40 - 8 = 1452, rounded down to 1448 per fragment.
    assert_eq!(
        seen,
        vec![(0, 1448, true), (1448, 1448, true), (2896, 112, false)]
    );
    let (src, dst) = addrs.unwrap();
    let u = UdpDatagram::new_checked(&data[..]).unwrap();
    assert!(u.verify_checksum_v6(&src, &dst));
}

#[test]
fn sctp_crc32c_matches_kernel() {
    let mut kinds = Vec::new();
    for p in &ip_packets(CLIENT) {
        let s = parse::parse_ip(p).unwrap();
        if s.protocol != proto::SCTP {
            continue;
        }
        let l4 = &p[s.l4_offset..s.len];
        let sp = SctpPacket::new_checked(l4).unwrap();
        assert!(sp.verify_checksum());
        // Independent: bitwise CRC over the packet with the field zeroed,
        // stored least significant byte first.
        let mut z = l4.to_vec();
        z[8..12].fill(0);
        assert_eq!(common::ref_crc32c(&z).to_le_bytes(), l4[8..12]);
        // Recomputing reproduces the kernel's bytes.
        let mut again = z.clone();
        SctpPacket::new_checked(&mut again[..])
            .unwrap()
            .fill_checksum();
        assert_eq!(again, l4);
        let c = sp.first_chunk().unwrap();
        kinds.push((s.version, c.kind));
        assert_eq!(sp.chunks().count(), 1);
    }
    assert_eq!(
        kinds,
        vec![
            (4, sctp::chunk::INIT),
            (4, sctp::chunk::ABORT),
            (6, sctp::chunk::INIT),
            (6, sctp::chunk::ABORT)
        ]
    );
}

#[test]
fn vlan_and_arp_frames() {
    let frames = read_pcap(CLIENT);
    let mut arps = 0;
    let mut tagged = 0;
    for f in &frames {
        let e = EthernetFrame::new_checked(&f[..]).unwrap();
        if let Some(v) = e.vlan(0) {
            assert_eq!((v.tpid, v.vid, v.pcp, v.dei), (0x8100, 100, 0, false));
            assert_eq!(e.header_len(), 18);
            tagged += 1;
        }
        if e.ethertype() == 0x0806 {
            let a = arp::ArpPacket::new_checked(e.payload()).unwrap();
            assert!(matches!(a.operation(), arp::OP_REQUEST | arp::OP_REPLY));
            if a.operation() == arp::OP_REPLY {
                assert_eq!(a.sender_mac(), e.src());
                assert_eq!(a.target_mac(), e.dst());
            }
            let prefix: [u8; 3] = a.sender_ip().octets()[..3].try_into().unwrap();
            assert!(prefix == [10, 0, 1] || prefix == [192, 168, 100]);
            arps += 1;
        }
    }
    assert_eq!(tagged, 5, "RS + ARP x2 + ping x2 on VLAN 100");
    assert!(arps >= 4);
}

#[test]
fn icmp_errors_quote_the_offending_packets() {
    let mut n = 0;
    for name in [CLIENT, TUNNEL] {
        for p in &ip_packets(name) {
            let s = parse::parse_ip(p).unwrap();
            let l4 = &p[s.l4_offset..s.len];
            match s.transport {
                Transport::Icmp { .. } => {
                    let m = Icmpv4Packet::new_checked(l4).unwrap();
                    if !m.is_error() {
                        continue;
                    }
                    let q = m.embedded().unwrap();
                    // The quote was sent by the error's destination.
                    assert_eq!(IpAddr::V4(q.src()), s.dst);
                    n += 1;
                }
                Transport::Icmpv6 { .. } => {
                    let m = Icmpv6Packet::new_checked(l4).unwrap();
                    if !m.is_error() {
                        continue;
                    }
                    let q = m.embedded().unwrap();
                    assert_eq!(IpAddr::V6(q.src()), s.dst);
                    assert!(q.upper_layer().is_ok());
                    n += 1;
                }
                _ => {}
            }
        }
    }
    assert!(n >= 20, "{n} errors");
}

#[test]
fn decapsulate_reports_every_tunnel_kind() {
    let mut kinds = Vec::new();
    for p in &ip_packets(TUNNEL) {
        if let Some(d) = encap::decapsulate(p, 6080).unwrap() {
            let outer = p[0] >> 4;
            let k = match d.kind {
                TunnelKind::Ipip => "ipip",
                TunnelKind::Gue { remcsum: None } => "gue",
                TunnelKind::Gue { remcsum: Some(_) } => "gue-remcsum",
                TunnelKind::Gre => "gre",
            };
            kinds.push(format!("{k}{}in{outer}", d.inner_version));
        }
    }
    assert_eq!(
        kinds,
        [
            "gue-remcsum4in4",
            "ipip4in4",
            "gue4in4",
            "gue4in4",
            "gue4in4",
            "gre4in4",
            "gre4in4",
            "ipip6in6",
            "gue6in6",
            "gre6in6",
            "gue4in6",
            "ipip4in6"
        ]
    );
}

#[test]
fn addresses_from_parse_match_views() {
    let frames = read_pcap(CLIENT);
    let f = &frames
        .iter()
        .find(|f| {
            matches!(parse::parse_frame(f).unwrap().l3, L3::Ip(s) if s.version == 6 && s.protocol == proto::TCP)
        })
        .unwrap();
    let s = parse::parse_frame(f).unwrap();
    let L3::Ip(ip) = s.l3 else { unreachable!() };
    assert_eq!(ip.src, "fd01::2".parse::<Ipv6Addr>().unwrap());
    assert_eq!(ip.dst, "fd00::100".parse::<Ipv6Addr>().unwrap());
    assert_eq!(s.l3_offset, 14);
    assert_eq!(ip.l4_offset, 40);
    assert!(matches!(
        ip.transport,
        Transport::Tcp {
            dst_port: 80,
            flags: 2,
            ..
        }
    ));
}
