//! Property tests: incremental updates equal full recomputation (by the
//! reference in `common`, which shares no code with the crate), builders and
//! parsers round-trip, encapsulation is reversible.

#![allow(clippy::unwrap_used)]

mod common;

use std::net::{Ipv4Addr, Ipv6Addr};

use common::{Built, Spec, build, ref_checksum, ref_crc32c, ref_fill, ref_sum, spec};
use lvs_wire::checksum::{self, Checksum};
use lvs_wire::encap::{self, Encap, GueCsum, Outer, Tunnel, TunnelKind};
use lvs_wire::nat::{self, Rewrite};
use lvs_wire::{
    Icmpv4Packet, Icmpv6Packet, Ipv4Packet, Ipv6Packet, SctpPacket, TcpSegment, UdpDatagram, gre,
    gue, icmp, icmpv6, parse,
};
use proptest::prelude::*;

fn addrs4(b: &Built) -> (Ipv4Addr, Ipv4Addr) {
    let ip = Ipv4Packet::new_checked(&b.bytes[..]).unwrap();
    (ip.src(), ip.dst())
}

fn addrs6(b: &Built) -> (Ipv6Addr, Ipv6Addr) {
    let ip = Ipv6Packet::new_checked(&b.bytes[..]).unwrap();
    (ip.src(), ip.dst())
}

/// The crate's verifiers accept every checksum of `b`.
fn crate_verifies(b: &Built) -> bool {
    let l4 = &b.bytes[b.l4..];
    if b.v6 {
        let (s, d) = addrs6(b);
        match b.proto {
            6 => TcpSegment::new_checked(l4)
                .unwrap()
                .verify_checksum_v6(&s, &d),
            17 => {
                let u = UdpDatagram::new_checked(l4).unwrap();
                !u.has_checksum() || u.verify_checksum_v6(&s, &d)
            }
            132 => SctpPacket::new_checked(l4).unwrap().verify_checksum(),
            _ => Icmpv6Packet::new_checked(l4)
                .unwrap()
                .verify_checksum(&s, &d),
        }
    } else {
        let (s, d) = addrs4(b);
        Ipv4Packet::new_checked(&b.bytes[..])
            .unwrap()
            .verify_checksum()
            && match b.proto {
                6 => TcpSegment::new_checked(l4)
                    .unwrap()
                    .verify_checksum_v4(s, d),
                17 => UdpDatagram::new_checked(l4)
                    .unwrap()
                    .verify_checksum_v4(s, d),
                132 => SctpPacket::new_checked(l4).unwrap().verify_checksum(),
                _ => Icmpv4Packet::new_checked(l4).unwrap().verify_checksum(),
            }
    }
}

/// The same rewrite done by hand on the bytes, then every checksum
/// recomputed from scratch by the reference.
fn by_hand(
    b: &Built,
    src: Option<&[u8]>,
    dst: Option<&[u8]>,
    sp: Option<u16>,
    dp: Option<u16>,
) -> Vec<u8> {
    let mut e = b.clone();
    let (so, dso) = if b.v6 { (8, 24) } else { (12, 16) };
    if let Some(a) = src {
        e.bytes[so..so + a.len()].copy_from_slice(a);
    }
    if let Some(a) = dst {
        e.bytes[dso..dso + a.len()].copy_from_slice(a);
    }
    if let Some(p) = sp {
        e.bytes[b.l4..b.l4 + 2].copy_from_slice(&p.to_be_bytes());
    }
    if let Some(p) = dp {
        e.bytes[b.l4 + 2..b.l4 + 4].copy_from_slice(&p.to_be_bytes());
    }
    ref_fill(&mut e);
    e.bytes
}

fn has_ports(proto: u8) -> bool {
    matches!(proto, 6 | 17 | 132)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn generated_packets_verify_and_summarise(s in spec()) {
        let b = build(&s);
        prop_assert!(crate_verifies(&b));
        let sum = parse::parse_ip(&b.bytes).unwrap();
        prop_assert_eq!(sum.l4_offset, b.l4);
        prop_assert_eq!(sum.protocol, b.proto);
        prop_assert_eq!(sum.len, b.bytes.len());
        if has_ports(b.proto) {
            prop_assert_eq!(sum.transport.ports(), Some((s.sport, s.dport)));
        }
    }

    #[test]
    fn nat_rewrite_equals_full_recompute(
        s in spec(),
        new_src in any::<[u8; 16]>(),
        new_dst in any::<[u8; 16]>(),
        ports in any::<(u16, u16)>(),
        which in 0u8..16,
    ) {
        let b = build(&s);
        let alen = if b.v6 { 16 } else { 4 };
        let src = (which & 1 != 0).then_some(&new_src[..alen]);
        let dst = (which & 2 != 0).then_some(&new_dst[..alen]);
        let pr = has_ports(b.proto);
        let sp = (which & 4 != 0 && pr).then_some(ports.0);
        let dp = (which & 8 != 0 && pr).then_some(ports.1);
        let want = by_hand(&b, src, dst, sp, dp);
        let mut got = b.bytes.clone();
        if b.v6 {
            let rw = Rewrite {
                src: src.map(|a| Ipv6Addr::from(<[u8; 16]>::try_from(a).unwrap())),
                dst: dst.map(|a| Ipv6Addr::from(<[u8; 16]>::try_from(a).unwrap())),
                src_port: sp,
                dst_port: dp,
            };
            nat::rewrite_ipv6(&mut got, &rw).unwrap();
        } else {
            let rw = Rewrite {
                src: src.map(|a| Ipv4Addr::from(<[u8; 4]>::try_from(a).unwrap())),
                dst: dst.map(|a| Ipv4Addr::from(<[u8; 4]>::try_from(a).unwrap())),
                src_port: sp,
                dst_port: dp,
            };
            nat::rewrite_ipv4(&mut got, &rw).unwrap();
        }
        prop_assert_eq!(got, want);
    }

    #[test]
    fn port_rewrite_without_ports_is_refused(s in spec(), p in any::<u16>()) {
        let mut s = s;
        s.proto = 1;
        let b = build(&s);
        let mut got = b.bytes.clone();
        let r = if b.v6 {
            nat::rewrite_ipv6(&mut got, &Rewrite { dst_port: Some(p), ..Rewrite::default() })
        } else {
            nat::rewrite_ipv4(&mut got, &Rewrite { dst_port: Some(p), ..Rewrite::default() })
        };
        prop_assert!(r.is_err());
    }

    #[test]
    fn first_fragment_rewrite_fixes_the_reassembled_checksum(
        s in spec(),
        cut in 8usize..200,
        new_dst in any::<[u8; 16]>(),
        port in any::<u16>(),
    ) {
        // TCP/UDP datagram; the first fragment carries the header and `cut`
        // more bytes (rounded to 8), the rest stays in later fragments.
        let mut s = s;
        if !matches!(s.proto, 6 | 17) {
            s.proto = 17;
        }
        s.udp_zero = false;
        let b = build(&s);
        let l4len = b.bytes.len() - b.l4;
        let first = (cut.div_ceil(8) * 8).min(l4len.saturating_sub(1) / 8 * 8);
        prop_assume!(first >= 24 && first < l4len);
        let alen = if b.v6 { 16 } else { 4 };
        let want = by_hand(&b, None, Some(&new_dst[..alen]), None, Some(port));
        // First fragment: IP header (+ fragment header for IPv6) + `first` bytes.
        let mut frag = b.bytes[..b.l4 + first].to_vec();
        if b.v6 {
            let next = if s.ext > 0 { 60 } else { frag[6] };
            let mut fh = [0u8; 8];
            lvs_wire::ipv6::write_fragment_header(&mut fh, next, 0, true, 7).unwrap();
            // Insert the fragment header right after the fixed header.
            frag.splice(40..40, fh);
            frag[6] = 44;
            let plen = (frag.len() - 40) as u16;
            frag[4..6].copy_from_slice(&plen.to_be_bytes());
            let rw = Rewrite {
                dst: Some(Ipv6Addr::from(new_dst)),
                dst_port: Some(port),
                ..Rewrite::default()
            };
            nat::rewrite_ipv6(&mut frag, &rw).unwrap();
            frag.drain(40..48);
        } else {
            let total = frag.len() as u16;
            frag[2..4].copy_from_slice(&total.to_be_bytes());
            frag[6] = 0x20; // MF
            let rw = Rewrite {
                dst: Some(Ipv4Addr::from(<[u8; 4]>::try_from(&new_dst[..4]).unwrap())),
                dst_port: Some(port),
                ..Rewrite::default()
            };
            nat::rewrite_ipv4(&mut frag, &rw).unwrap();
        }
        // Reassembled transport bytes equal the by-hand rewrite of the whole.
        let mut re = frag[b.l4..].to_vec();
        re.extend_from_slice(&b.bytes[b.l4 + first..]);
        prop_assert_eq!(&re[..], &want[b.l4..]);
    }

    #[test]
    fn field_mutators_equal_full_recompute(s in spec(), v in any::<(u8, u8, u16, u32, u32, u16)>()) {
        let b = build(&s);
        let (ttl, tos, id, seq, ack, win) = v;
        let mut got = b.clone();
        let mut want = b.clone();
        if !b.v6 {
            let mut ip = Ipv4Packet::new_checked(&mut got.bytes[..]).unwrap();
            ip.set_ttl(ttl);
            ip.set_tos(tos);
            ip.set_ident(id);
            ip.set_dont_fragment(seq & 1 == 1);
            want.bytes[8] = ttl;
            want.bytes[1] = tos;
            want.bytes[4..6].copy_from_slice(&id.to_be_bytes());
            want.bytes[6] = if seq & 1 == 1 { 0x40 } else { 0 };
        }
        let l4 = b.l4;
        match b.proto {
            6 => {
                let mut t = TcpSegment::new_checked(&mut got.bytes[l4..]).unwrap();
                t.set_seq(seq);
                t.set_ack(ack);
                t.set_window(win);
                t.set_flags(0x012);
                want.bytes[l4 + 4..l4 + 8].copy_from_slice(&seq.to_be_bytes());
                want.bytes[l4 + 8..l4 + 12].copy_from_slice(&ack.to_be_bytes());
                want.bytes[l4 + 14..l4 + 16].copy_from_slice(&win.to_be_bytes());
                want.bytes[l4 + 13] = 0x12;
            }
            1 | 58 if !b.v6 => {
                let mut i = Icmpv4Packet::new_checked(&mut got.bytes[l4..]).unwrap();
                i.set_echo_ident(win);
                i.set_next_hop_mtu(id);
                want.bytes[l4 + 4..l4 + 6].copy_from_slice(&win.to_be_bytes());
                want.bytes[l4 + 6..l4 + 8].copy_from_slice(&id.to_be_bytes());
            }
            58 => {
                let mut i = Icmpv6Packet::new_checked(&mut got.bytes[l4..]).unwrap();
                i.set_mtu(seq);
                want.bytes[l4 + 4..l4 + 8].copy_from_slice(&seq.to_be_bytes());
            }
            _ => {}
        }
        ref_fill(&mut want);
        prop_assert_eq!(got.bytes, want.bytes);
    }

    #[test]
    fn ones_sum_matches_reference(data in proptest::collection::vec(any::<u8>(), 0..3000)) {
        prop_assert_eq!(checksum::ones_sum(&data), ref_sum(&[&data]));
        prop_assert_eq!(checksum::checksum(&data), ref_checksum(&[&data]));
    }

    #[test]
    fn pieces_sum_like_the_whole(data in proptest::collection::vec(any::<u8>(), 0..600), cuts in proptest::collection::vec(any::<usize>(), 0..6)) {
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (data.len() + 1)).collect();
        cuts.push(0);
        cuts.push(data.len());
        cuts.sort_unstable();
        let mut c = Checksum::new();
        for w in cuts.windows(2) {
            c.add_bytes(&data[w[0]..w[1]]);
        }
        prop_assert_eq!(c.sum(), ref_sum(&[&data]));
    }

    #[test]
    fn rfc1624_updates_equal_recompute(
        data in proptest::collection::vec(any::<u8>(), 4..400),
        at in any::<usize>(),
        new16 in any::<u16>(),
        new32 in any::<u32>(),
    ) {
        // `data` with a checksum field in front (as in an IPv4 header).
        let mut p = vec![0u8, 0];
        p.extend(&data);
        let c = ref_checksum(&[&p]);
        p[..2].copy_from_slice(&c.to_be_bytes());
        let words = (p.len() - 2) / 2;
        let at = 2 + (at % (words.max(2) - 1)) * 2;
        prop_assume!(at + 4 <= p.len());
        let old16 = u16::from_be_bytes([p[at], p[at + 1]]);
        let c16 = checksum::update16(c, old16, new16);
        p[at..at + 2].copy_from_slice(&new16.to_be_bytes());
        let mut z = p.clone();
        z[..2].fill(0);
        prop_assert_eq!(c16, ref_checksum(&[&z]));
        let old32 = u32::from_be_bytes(p[at..at + 4].try_into().unwrap());
        let c32 = checksum::update32(c16, old32, new32);
        p[at..at + 4].copy_from_slice(&new32.to_be_bytes());
        let mut z = p.clone();
        z[..2].fill(0);
        prop_assert_eq!(c32, ref_checksum(&[&z]));
    }

    #[test]
    fn delta_equals_sequential_updates_and_recompute(
        data in proptest::collection::vec(any::<u8>(), 40..200),
        changes in proptest::collection::vec((any::<usize>(), any::<u16>()), 1..8),
    ) {
        let mut p = vec![0u8, 0];
        p.extend(&data);
        if p.len() % 2 == 1 {
            p.push(0);
        }
        let c0 = ref_checksum(&[&p]);
        p[..2].copy_from_slice(&c0.to_be_bytes());
        let words = p.len() / 2 - 1;
        let mut delta = checksum::Delta::new();
        let mut seq = c0;
        for (at, new) in changes {
            let at = 2 + (at % words) * 2;
            let old = u16::from_be_bytes([p[at], p[at + 1]]);
            delta = delta.change16(old, new);
            seq = checksum::update16(seq, old, new);
            p[at..at + 2].copy_from_slice(&new.to_be_bytes());
        }
        let mut z = p.clone();
        z[..2].fill(0);
        let full = ref_checksum(&[&z]);
        prop_assert_eq!(delta.apply(c0), full);
        prop_assert_eq!(seq, full);
    }

    #[test]
    fn icmp_error_translation_matches_by_hand(
        s in spec(),
        new_src in any::<[u8; 16]>(),
        new_dst in any::<[u8; 16]>(),
        ports in any::<(u16, u16)>(),
        which in 0u8..16,
    ) {
        let b = build(&s);
        let alen = if b.v6 { 16 } else { 4 };
        let src = (which & 1 != 0).then_some(&new_src[..alen]);
        let dst = (which & 2 != 0).then_some(&new_dst[..alen]);
        let sp = (which & 4 != 0).then_some(ports.0);
        let dp = (which & 8 != 0).then_some(ports.1);
        let mut out = vec![0u8; 1400];
        if b.v6 {
            let (o_src, o_dst): (Ipv6Addr, Ipv6Addr) = ("2001:db8::9".parse().unwrap(), "2001:db8::a".parse().unwrap());
            let n = icmpv6::write_error(&mut out, &o_src, &o_dst, 1, 4, 0, &b.bytes).unwrap();
            let mut got = out[..n].to_vec();
            let rw = Rewrite {
                src: src.map(|a| Ipv6Addr::from(<[u8; 16]>::try_from(a).unwrap())),
                dst: dst.map(|a| Ipv6Addr::from(<[u8; 16]>::try_from(a).unwrap())),
                src_port: sp,
                dst_port: dp,
            };
            nat::rewrite_icmpv6_error(&mut got, &o_src, &o_dst, &rw).unwrap();
            // By hand: patch the quote, then the ICMPv6 checksum by the book.
            let mut want = out[..n].to_vec();
            let q = 8;
            if let Some(a) = src { want[q + 8..q + 24].copy_from_slice(a); }
            if let Some(a) = dst { want[q + 24..q + 40].copy_from_slice(a); }
            if has_ports(b.proto) {
                if let Some(p) = sp { want[q + b.l4..q + b.l4 + 2].copy_from_slice(&p.to_be_bytes()); }
                if let Some(p) = dp { want[q + b.l4 + 2..q + b.l4 + 4].copy_from_slice(&p.to_be_bytes()); }
            }
            want[2..4].fill(0);
            let ph = common::pseudo6(o_src.octets(), o_dst.octets(), 58, n);
            let c = ref_checksum(&[&ph, &want]);
            want[2..4].copy_from_slice(&c.to_be_bytes());
            prop_assert_eq!(got, want);
        } else {
            let n = icmp::write_error(&mut out, 3, 3, 0, &b.bytes).unwrap();
            let mut got = out[..n].to_vec();
            let rw = Rewrite {
                src: src.map(|a| Ipv4Addr::from(<[u8; 4]>::try_from(a).unwrap())),
                dst: dst.map(|a| Ipv4Addr::from(<[u8; 4]>::try_from(a).unwrap())),
                src_port: sp,
                dst_port: dp,
            };
            nat::rewrite_icmpv4_error(&mut got, &rw).unwrap();
            let mut want = out[..n].to_vec();
            let q = 8;
            if let Some(a) = src { want[q + 12..q + 16].copy_from_slice(a); }
            if let Some(a) = dst { want[q + 16..q + 20].copy_from_slice(a); }
            want[q + 10..q + 12].fill(0);
            let hc = ref_checksum(&[&want[q..q + b.l4]]);
            want[q + 10..q + 12].copy_from_slice(&hc.to_be_bytes());
            if has_ports(b.proto) && n >= q + b.l4 + 4 {
                if let Some(p) = sp { want[q + b.l4..q + b.l4 + 2].copy_from_slice(&p.to_be_bytes()); }
                if let Some(p) = dp { want[q + b.l4 + 2..q + b.l4 + 4].copy_from_slice(&p.to_be_bytes()); }
            }
            want[2..4].fill(0);
            let c = ref_checksum(&[&want]);
            want[2..4].copy_from_slice(&c.to_be_bytes());
            prop_assert_eq!(got, want);
        }
    }

    #[test]
    fn crc32c_matches_bitwise(data in proptest::collection::vec(any::<u8>(), 0..2000)) {
        prop_assert_eq!(lvs_wire::crc32c::crc32c(&data), ref_crc32c(&data));
    }

    #[test]
    fn encapsulation_round_trips(
        s in spec(),
        outer_v6 in any::<bool>(),
        kind in 0u8..6,
        sport in any::<u16>(),
        ident in any::<u16>(),
    ) {
        let b = build(&s);
        let tunnel = match kind {
            0 => Tunnel::Ipip,
            1 => Tunnel::Gue { src_port: sport, dst_port: 6080, csum: GueCsum::None },
            2 => Tunnel::Gue { src_port: sport, dst_port: 6080, csum: GueCsum::Csum },
            3 => Tunnel::Gue { src_port: sport, dst_port: 6080, csum: GueCsum::RemCsum },
            4 => Tunnel::Gre { csum: false },
            _ => Tunnel::Gre { csum: true },
        };
        let f = encap::inner_fields(&b.bytes).unwrap();
        let outer = if outer_v6 {
            Outer::V6 {
                src: "2001:db8::1".parse().unwrap(),
                dst: "2001:db8::2".parse().unwrap(),
                hop_limit: f.ttl,
                traffic_class: f.ds,
                flow_label: u32::from(ident),
            }
        } else {
            Outer::V4 {
                src: Ipv4Addr::new(192, 0, 2, 1),
                dst: Ipv4Addr::new(192, 0, 2, 2),
                ttl: f.ttl,
                tos: f.ds,
                dont_fragment: f.dont_fragment,
                ident,
            }
        };
        let e = Encap { outer, tunnel };
        let head = e.max_header_len() + 3;
        let mut buf = vec![0u8; head + b.bytes.len() + 5];
        buf[head..head + b.bytes.len()].copy_from_slice(&b.bytes);
        let start = e.encapsulate(&mut buf, head, b.bytes.len()).unwrap();
        let pkt = buf[start..head + b.bytes.len()].to_vec();
        prop_assert_eq!(start + e.overhead(), head);
        // Outer checksums by the book.
        let sum = parse::parse_ip(&pkt).unwrap();
        if !outer_v6 {
            prop_assert_eq!(ref_sum(&[&pkt[..20]]), 0xffff);
        }
        match tunnel {
            Tunnel::Gue { csum, .. } => {
                let u = UdpDatagram::new_checked(&pkt[sum.l4_offset..]).unwrap();
                prop_assert_eq!(u.has_checksum(), csum != GueCsum::None);
                let ok = match (sum.src, sum.dst) {
                    (std::net::IpAddr::V4(a), std::net::IpAddr::V4(d)) => u.verify_checksum_v4(a, d),
                    (std::net::IpAddr::V6(a), std::net::IpAddr::V6(d)) => u.verify_checksum_v6(&a, &d) || csum == GueCsum::None,
                    _ => false,
                };
                prop_assert!(ok);
            }
            Tunnel::Gre { .. } => {
                prop_assert!(gre::GreHeader::new_checked(&pkt[sum.l4_offset..]).unwrap().verify_checksum());
            }
            Tunnel::Ipip => {}
        }
        let d = encap::decapsulate(&pkt, 6080).unwrap().unwrap();
        prop_assert_eq!(&pkt[d.inner_offset..d.inner_offset + d.inner_len], &b.bytes[..]);
        prop_assert_eq!(d.inner_version, if b.v6 { 6 } else { 4 });
        let same_kind = matches!(
            (d.kind, tunnel),
            (TunnelKind::Ipip, Tunnel::Ipip)
                | (TunnelKind::Gue { remcsum: None }, Tunnel::Gue { .. })
                | (TunnelKind::Gre, Tunnel::Gre { .. })
        );
        prop_assert!(same_kind);
    }

    #[test]
    fn remcsum_partial_round_trips(s in spec(), outer_v6 in any::<bool>()) {
        let mut s = s;
        s.udp_zero = false;
        let b = build(&s);
        let mut inner = b.bytes.clone();
        let params = lvs_wire::gue::remcsum_to_partial(&mut inner).unwrap();
        prop_assert_eq!(params.is_some(), matches!(b.proto, 6 | 17));
        let e = Encap {
            outer: if outer_v6 {
                Outer::V6 { src: Ipv6Addr::LOCALHOST, dst: Ipv6Addr::LOCALHOST, hop_limit: 1, traffic_class: 0, flow_label: 0 }
            } else {
                Outer::V4 { src: Ipv4Addr::LOCALHOST, dst: Ipv4Addr::LOCALHOST, ttl: 1, tos: 0, dont_fragment: false, ident: 0 }
            },
            tunnel: Tunnel::Gue { src_port: 1, dst_port: 6080, csum: GueCsum::RemCsum },
        };
        let head = e.max_header_len();
        let mut buf = vec![0u8; head + inner.len()];
        buf[head..].copy_from_slice(&inner);
        let start = e.encapsulate_partial(&mut buf, head, inner.len()).unwrap();
        let pkt = &buf[start..];
        let d = encap::decapsulate(pkt, 6080).unwrap().unwrap();
        prop_assert_eq!(d.kind, TunnelKind::Gue { remcsum: params });
        let mut got = pkt[d.inner_offset..].to_vec();
        if let Some((st, off)) = params {
            gue::remcsum_apply(&mut got, st, off).unwrap();
        }
        prop_assert_eq!(got, b.bytes);
    }

    #[test]
    fn icmp_errors_quote_and_verify(s in spec(), mtu in any::<u16>()) {
        let b = build(&s);
        let mut out = vec![0u8; 1400];
        if b.v6 {
            let (src, dst) = addrs6(&b);
            let n = icmpv6::build_packet_too_big(&mut out, dst, src, u32::from(mtu), &b.bytes).unwrap();
            prop_assert!(n <= 1280);
            prop_assert_eq!(n, (40 + 8 + b.bytes.len()).min(1280));
            let ip = Ipv6Packet::new_checked(&out[..n]).unwrap();
            let m = Icmpv6Packet::new_checked(ip.payload()).unwrap();
            prop_assert!(m.verify_checksum(&dst, &src));
            prop_assert_eq!(m.mtu(), u32::from(mtu));
            let q = m.embedded().unwrap();
            prop_assert_eq!((q.src(), q.dst()), (src, dst));
        } else {
            let (src, dst) = addrs4(&b);
            let n = icmp::build_frag_needed(&mut out, dst, src, mtu, &b.bytes).unwrap();
            prop_assert_eq!(n, (20 + 8 + b.bytes.len()).min(576));
            let ip = Ipv4Packet::new_checked(&out[..n]).unwrap();
            prop_assert!(ip.verify_checksum());
            prop_assert_eq!(ip.tos(), (s.tos & 0x1e) | 0xc0);
            let m = Icmpv4Packet::new_checked(ip.payload()).unwrap();
            prop_assert!(m.verify_checksum());
            prop_assert_eq!(ref_sum(&[ip.payload()]), 0xffff);
            prop_assert_eq!(m.next_hop_mtu(), mtu);
            let q = m.embedded().unwrap();
            prop_assert_eq!((q.src(), q.dst(), q.protocol()), (src, dst, b.proto));
            prop_assert_eq!(q.is_truncated(), b.bytes.len() > 548);
        }
    }
}

#[test]
fn spec_generator_covers_udp_zero_over_v4() {
    // Guard against a generator that never exercises the zero rule.
    let s = Spec {
        v6: false,
        proto: 17,
        src: [1; 16],
        dst: [2; 16],
        sport: 1,
        dport: 2,
        ttl: 3,
        tos: 0,
        ip_opts: 0,
        ext: 0,
        tcp_opts: 0,
        udp_zero: true,
        payload: vec![9; 3],
    };
    let b = build(&s);
    assert_eq!(&b.bytes[26..28], &[0, 0]);
    let mut got = b.bytes.clone();
    nat::rewrite_ipv4(
        &mut got,
        &Rewrite {
            dst: Some(Ipv4Addr::new(9, 9, 9, 9)),
            dst_port: Some(99),
            ..Rewrite::default()
        },
    )
    .unwrap();
    assert_eq!(&got[26..28], &[0, 0]);
    assert_eq!(got, by_hand(&b, None, Some(&[9, 9, 9, 9]), None, Some(99)));
}
