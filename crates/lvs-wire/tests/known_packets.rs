//! Hand-built packets whose checksums were computed independently: by the
//! by-the-book reference in `common` and, for the constants below, by this
//! Python arithmetic (RFC 1071 over big-endian words):
//!
//! ```python
//! def s16(b):
//!     if len(b) % 2: b += b'\0'
//!     s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
//!     while s > 0xffff: s = (s & 0xffff) + (s >> 16)
//!     return s
//! def cs(b): return ~s16(b) & 0xffff
//! ```

#![allow(clippy::unwrap_used)]

mod common;

use std::net::{Ipv4Addr, Ipv6Addr};

use common::{hex, pseudo4, pseudo6, ref_checksum, ref_crc32c, ref_sum};
use lvs_wire::ethernet::{self, VlanTag, ethertype};
use lvs_wire::ip::proto;
use lvs_wire::ipv6::{self, UpperLayer};
use lvs_wire::{
    Error, EthernetFrame, Icmpv6Packet, Ipv4Header, Ipv4Packet, Ipv6Packet, Layer, MacAddr,
    SctpPacket, TcpSegment, UdpDatagram, arp, gre, gue, sctp, tcp,
};

const A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

/// IPv4 10.0.0.1 -> 10.0.0.2, id 0x1234, DF, TTL 64, TCP, total 44:
/// cs(bytes.fromhex('4500002c12344000400600000a0000010a000002')) == 0x1496.
/// TCP SYN 40000 -> 80, seq 0x01020304, window 0xffff, MSS 1460:
/// cs(pseudo + bytes.fromhex('9c40005001020304000000006002ffff00000000020405b4'))
/// == 0xe38d.
fn syn_v4() -> Vec<u8> {
    hex("4500002c 1234 4000 4006 1496 0a000001 0a000002
         9c40 0050 01020304 00000000 6002 ffff e38d 0000 020405b4")
}

#[test]
fn ipv4_tcp_syn_fields_and_checksums() {
    let p = syn_v4();
    let ip = Ipv4Packet::new_checked(&p[..]).unwrap();
    assert_eq!(
        (ip.header_len(), ip.total_len(), ip.ident()),
        (20, 44, 0x1234)
    );
    assert!(ip.dont_fragment() && !ip.more_fragments() && !ip.is_fragment());
    assert_eq!((ip.ttl(), ip.protocol(), ip.src(), ip.dst()), (64, 6, A, B));
    assert!(ip.verify_checksum());
    let t = TcpSegment::new_checked(ip.payload()).unwrap();
    assert_eq!(
        (t.src_port(), t.dst_port(), t.seq(), t.ack()),
        (40000, 80, 0x0102_0304, 0)
    );
    assert_eq!(
        (t.header_len(), t.options_len(), t.flags()),
        (24, 4, tcp::flags::SYN)
    );
    assert_eq!((t.window(), t.mss()), (0xffff, Some(1460)));
    assert!(t.verify_checksum_v4(A, B));
    assert_eq!(t.compute_checksum_v4(A, B), 0xe38d);
    assert!(!t.verify_checksum_v4(A, Ipv4Addr::new(10, 0, 0, 3)));
}

#[test]
fn ipv4_header_builder_writes_the_known_bytes() {
    let mut h = Ipv4Header::new(A, B, proto::TCP);
    h.ident = 0x1234;
    h.dont_fragment = true;
    let mut out = [0u8; 20];
    assert_eq!(h.write(&mut out, 24), Ok(20));
    assert_eq!(&out[..], &syn_v4()[..20]);
    let mut t = [0u8; 24];
    let th = tcp::TcpHeader {
        src_port: 40000,
        dst_port: 80,
        seq: 0x0102_0304,
        ack: 0,
        flags: tcp::flags::SYN,
        window: 0xffff,
        urgent: 0,
    };
    assert_eq!(th.write(&mut t, &hex("020405b4")), Ok(24));
    TcpSegment::new_checked(&mut t[..])
        .unwrap()
        .fill_checksum_v4(A, B);
    assert_eq!(&t[..], &syn_v4()[20..]);
}

#[test]
fn ipv4_options_router_alert() {
    // IGMP-style header with Router Alert (94 04 00 00), 224.0.0.22:
    // cs(bytes.fromhex('460000180001000001020000c0a80001e000001694040000')) == 0x841f.
    let p = hex("46000018 0001 0000 0102 841f c0a80001 e0000016 94040000");
    let ip = Ipv4Packet::new_checked(&p[..]).unwrap();
    assert_eq!(ip.header_len(), 24);
    assert_eq!(ip.options(), &[0x94, 4, 0, 0]);
    assert!(ip.payload().is_empty());
    assert!(ip.verify_checksum());
    let mut out = [0u8; 24];
    let mut h = Ipv4Header::new(
        Ipv4Addr::new(192, 168, 0, 1),
        Ipv4Addr::new(224, 0, 0, 22),
        2,
    );
    h.ttl = 1;
    h.ident = 1;
    assert_eq!(h.write_with_options(&mut out, &hex("94040000"), 0), Ok(24));
    assert_eq!(&out[..], &p[..]);
    assert!(matches!(
        h.write_with_options(&mut out, &[1, 1, 1], 0),
        Err(Error::BadHeaderLen { .. })
    ));
}

#[test]
fn ipv4_rejects_bad_lengths_and_versions() {
    let p = syn_v4();
    let mut v6 = p.clone();
    v6[0] = 0x65;
    assert_eq!(
        Ipv4Packet::new_checked(&v6[..]).unwrap_err(),
        Error::BadVersion {
            layer: Layer::Ipv4,
            version: 6
        }
    );
    let mut ihl4 = p.clone();
    ihl4[0] = 0x44;
    assert!(matches!(
        Ipv4Packet::new_checked(&ihl4[..]),
        Err(Error::BadHeaderLen { len: 16, .. })
    ));
    let mut short_total = p.clone();
    short_total[2..4].copy_from_slice(&19u16.to_be_bytes());
    assert!(matches!(
        Ipv4Packet::new_checked(&short_total[..]),
        Err(Error::BadLength { len: 19, .. })
    ));
    // Total length past the buffer: strict view refuses, truncated view
    // (ICMP quotes) accepts and reports it.
    assert!(matches!(
        Ipv4Packet::new_checked(&p[..30]),
        Err(Error::BadLength {
            len: 44,
            have: 30,
            ..
        })
    ));
    let t = Ipv4Packet::new_truncated(&p[..30]).unwrap();
    assert!(t.is_truncated());
    assert_eq!(t.payload().len(), 10);
    assert!(matches!(
        Ipv4Packet::new_checked(&p[..19]),
        Err(Error::Truncated {
            need: 20,
            have: 19,
            ..
        })
    ));
    // Ethernet padding after the total length is not payload.
    let mut padded = p.clone();
    padded.extend_from_slice(&[0; 16]);
    let ip = Ipv4Packet::new_checked(&padded[..]).unwrap();
    assert_eq!(ip.payload().len(), 24);
    assert_eq!(ip.packet(), &p[..]);
}

#[test]
fn ttl_decrement_and_field_setters_keep_the_header_checksum() {
    let mut p = syn_v4();
    let mut ip = Ipv4Packet::new_checked(&mut p[..]).unwrap();
    assert_eq!(ip.decrement_ttl(), 63);
    ip.set_tos(0xb8);
    ip.set_ident(0xbeef);
    ip.set_dont_fragment(false);
    ip.set_src(Ipv4Addr::new(192, 0, 2, 7));
    ip.set_dst(Ipv4Addr::new(198, 51, 100, 9));
    assert!(ip.verify_checksum());
    let hdr = ip.header().to_vec();
    let mut z = hdr.clone();
    z[10..12].fill(0);
    assert_eq!(ip.checksum(), ref_checksum(&[&z]));
    assert_eq!(
        (ip.ttl(), ip.tos(), ip.ident(), ip.dont_fragment()),
        (63, 0xb8, 0xbeef, false)
    );
    // TTL 0 stays 0.
    let mut q = syn_v4();
    q[8] = 0;
    let mut ip = Ipv4Packet::new_checked(&mut q[..]).unwrap();
    ip.fill_checksum();
    assert_eq!(ip.decrement_ttl(), 0);
    assert!(ip.verify_checksum());
}

#[test]
fn udp_checksum_that_computes_to_zero_is_sent_as_ffff() {
    // 192.0.2.1:1000 -> 192.0.2.2:2000, two payload bytes 0x701e chosen so
    // the sum is 0xffff: S = s16(pseudo + header), P = ~S; cs(...) == 0.
    let src = Ipv4Addr::new(192, 0, 2, 1);
    let dst = Ipv4Addr::new(192, 0, 2, 2);
    let mut d = hex("03e8 07d0 000a 0000 701e");
    let ph = pseudo4(src.octets(), dst.octets(), 17, 10);
    assert_eq!(
        ref_checksum(&[&ph, &d]),
        0,
        "the crafted datagram sums to zero"
    );
    let mut u = UdpDatagram::new_checked(&mut d[..]).unwrap();
    assert_eq!(u.compute_checksum_v4(src, dst), 0xffff);
    u.fill_checksum_v4(src, dst);
    assert_eq!(u.checksum(), 0xffff);
    assert!(u.verify_checksum_v4(src, dst));
    // Over IPv6 the same rule holds.
    let s6: Ipv6Addr = "2001:db8::1".parse().unwrap();
    let d6: Ipv6Addr = "2001:db8::2".parse().unwrap();
    u.fill_checksum_v6(&s6, &d6);
    assert_ne!(u.checksum(), 0);
    assert!(u.verify_checksum_v6(&s6, &d6));
}

#[test]
fn udp_zero_checksum_means_none_over_ipv4_only() {
    let src = Ipv4Addr::new(192, 0, 2, 1);
    let dst = Ipv4Addr::new(192, 0, 2, 2);
    let mut d = hex("03e8 07d0 000c 0000 6c766c76");
    let mut u = UdpDatagram::new_checked(&mut d[..]).unwrap();
    assert!(!u.has_checksum());
    assert!(u.verify_checksum_v4(src, dst));
    assert!(!u.verify_checksum_v6(&"::1".parse().unwrap(), &"::2".parse().unwrap()));
    u.set_dst_port(53);
    u.update_pseudo_v4(dst, Ipv4Addr::new(10, 9, 8, 7));
    assert_eq!(u.checksum(), 0, "an absent checksum stays absent");
    assert_eq!(u.dst_port(), 53);
}

#[test]
fn udp_length_field_is_checked() {
    let d = hex("03e8 07d0 0007 0000");
    assert!(matches!(
        UdpDatagram::new_checked(&d[..]),
        Err(Error::BadLength { len: 7, .. })
    ));
    let d = hex("03e8 07d0 0010 0000 00");
    assert!(matches!(
        UdpDatagram::new_checked(&d[..]),
        Err(Error::BadLength {
            len: 16,
            have: 9,
            ..
        })
    ));
    // Trailing bytes past the length field are ignored.
    let d = hex("03e8 07d0 0009 0000 41 ffff");
    assert_eq!(UdpDatagram::new_checked(&d[..]).unwrap().payload(), b"A");
}

/// An IPv6 packet from fd00::1 to fd00::2 with hop-by-hop, routing (type 2),
/// destination options, fragment and AH headers before a TCP header.
fn ext_chain(frag_offset: u16, after_frag: u8) -> Vec<u8> {
    let mut p = hex("6000 0000 0000 00 40
        fd000000000000000000000000000001 fd000000000000000000000000000002");
    // HBH: next routing, len 0, PadN(4).
    p.extend(hex("2b00 0104 00000000"));
    // Routing type 2: next dstopts, len 2 (24 bytes), segments left 1.
    p.extend(hex("3c02 0201 00000000 20010db8000000000000000000000099"));
    // Destination options: next fragment, PadN(4).
    p.extend(hex("2c00 0104 00000000"));
    // Fragment: next `after_frag`, offset, M=1, id 0xdeadbeef.
    let mut f = [0u8; 8];
    ipv6::write_fragment_header(&mut f, after_frag, frag_offset, true, 0xdead_beef).unwrap();
    p.extend(f);
    if after_frag == proto::AH {
        // AH: next TCP, len 4 ((4+2)*4 = 24 bytes), SPI, seq, 12-byte ICV.
        p.extend(hex("0604 0000 00000100 00000001 000000000000000000000000"));
    }
    p.extend(hex("9c40 0050 00000001 00000000 5002 ffff 0000 0000"));
    let plen = (p.len() - 40) as u16;
    p[4..6].copy_from_slice(&plen.to_be_bytes());
    p[6] = proto::HOPOPTS;
    p
}

#[test]
fn ipv6_extension_headers_walk_to_tcp() {
    let p = ext_chain(0, proto::AH);
    let ip = Ipv6Packet::new_checked(&p[..]).unwrap();
    let kinds: Vec<(u8, usize, usize)> = ip
        .ext_headers()
        .map(|h| h.map(|h| (h.kind, h.offset, h.len)).unwrap())
        .collect();
    assert_eq!(
        kinds,
        vec![
            (0, 40, 8),
            (43, 48, 24),
            (60, 72, 8),
            (44, 80, 8),
            (51, 88, 24)
        ]
    );
    let ul = ip.upper_layer().unwrap();
    assert_eq!((ul.protocol, ul.offset), (proto::TCP, 112));
    let f = ul.fragment.unwrap();
    assert_eq!(
        (f.header_offset, f.offset, f.more, f.ident),
        (80, 0, true, 0xdead_beef)
    );
    assert!(ul.has_transport_header());
    let t = TcpSegment::new_checked(&p[ul.offset..]).unwrap();
    assert_eq!(t.dst_port(), 80);
}

#[test]
fn ipv6_non_first_fragment_has_no_transport_header() {
    let p = ext_chain(185, proto::TCP);
    let ip = Ipv6Packet::new_checked(&p[..]).unwrap();
    let ul = ip.upper_layer().unwrap();
    assert_eq!(
        ul,
        UpperLayer {
            protocol: proto::TCP,
            offset: 88,
            fragment: Some(ipv6::Ipv6Fragment {
                header_offset: 80,
                offset: 185,
                more: true,
                ident: 0xdead_beef
            })
        }
    );
    assert!(!ul.has_transport_header());
    assert_eq!(ul.fragment.unwrap().offset_bytes(), 1480);
}

#[test]
fn ipv6_malformed_extension_chains_are_errors() {
    // Truncated: cut inside the routing header.
    let p = ext_chain(0, proto::AH);
    let mut cut = p[..60].to_vec();
    cut[4..6].copy_from_slice(&20u16.to_be_bytes());
    let ip = Ipv6Packet::new_checked(&cut[..]).unwrap();
    assert!(matches!(
        ip.upper_layer(),
        Err(Error::Truncated {
            layer: Layer::Ipv6Ext,
            need: 72,
            have: 60
        })
    ));
    // Hop-by-hop after another header.
    let mut p2 = ext_chain(0, proto::AH);
    p2[72] = proto::HOPOPTS; // dstopts' next header (at 72) -> HBH
    p2[48] = proto::HOPOPTS; // routing -> HBH
    let ip = Ipv6Packet::new_checked(&p2[..]).unwrap();
    assert!(matches!(
        ip.upper_layer(),
        Err(Error::Malformed {
            layer: Layer::Ipv6Ext,
            ..
        })
    ));
    // Payload length past the buffer.
    let mut long = p.clone();
    long[4..6].copy_from_slice(&1000u16.to_be_bytes());
    assert!(matches!(
        Ipv6Packet::new_checked(&long[..]),
        Err(Error::BadLength {
            layer: Layer::Ipv6,
            ..
        })
    ));
    // No next header (59) ends the walk with protocol 59.
    let mut none = hex("60000000 0000 3b 40");
    none.extend([0u8; 32]);
    let ul = Ipv6Packet::new_checked(&none[..])
        .unwrap()
        .upper_layer()
        .unwrap();
    assert_eq!((ul.protocol, ul.offset), (59, 40));
}

#[test]
fn ipv6_options_header_builder_pads_to_eight() {
    let mut out = [0xaau8; 16];
    // Router alert option (5, 2, 0, 0) = 4 bytes + 2 prefix = 6 -> PadN(0).
    let n = ipv6::write_options_header(&mut out, proto::ICMPV6, &[5, 2, 0, 0]).unwrap();
    assert_eq!(&out[..n], &hex("3a00 05020000 0100")[..]);
    let n = ipv6::write_options_header(&mut out, proto::TCP, &[5, 2, 0, 0, 0]).unwrap();
    assert_eq!(&out[..n], &hex("0600 0502000000 00")[..], "one byte: Pad1");
}

#[test]
fn icmpv6_echo_checksum_with_pseudo_header() {
    // fd00::1 -> fd00::2 echo request id 0xabcd seq 1 "ping":
    // cs(src + dst + pack('!I', 12) + b'\0\0\0\x3a' + message) == 0xfb14.
    let s: Ipv6Addr = "fd00::1".parse().unwrap();
    let d: Ipv6Addr = "fd00::2".parse().unwrap();
    let m = hex("8000 fb14 abcd 0001 70696e67");
    let i = Icmpv6Packet::new_checked(&m[..]).unwrap();
    assert!(i.verify_checksum(&s, &d));
    assert_eq!(i.compute_checksum(&s, &d), 0xfb14);
    assert_eq!(
        (i.kind(), i.echo_ident(), i.echo_seq(), i.is_error()),
        (128, 0xabcd, 1, false)
    );
    assert!(i.embedded().is_err());
    let ph = pseudo6(s.octets(), d.octets(), 58, m.len());
    assert_eq!(ref_sum(&[&ph, &m]), 0xffff);
}

#[test]
fn sctp_init_crc32c_against_bitwise_reference() {
    let mut p = Vec::new();
    let mut hdr = [0u8; 12];
    sctp::write_header(&mut hdr, 5000, 9, 0).unwrap();
    p.extend(hdr);
    let mut chunk = [0u8; 20];
    // INIT: initiate tag, a_rwnd, streams, initial TSN (16 bytes of value).
    let v = hex("11223344 0001a000 000a ffff 01020304");
    let n = sctp::write_chunk(&mut chunk, sctp::chunk::INIT, 0, &v).unwrap();
    assert_eq!(n, 20);
    p.extend(&chunk[..n]);
    let mut s = SctpPacket::new_checked(&mut p[..]).unwrap();
    s.fill_checksum();
    assert_eq!(
        s.checksum(),
        ref_crc32c(&{
            let mut z = p.clone();
            z[8..12].fill(0);
            z
        })
    );
    let s = SctpPacket::new_checked(&p[..]).unwrap();
    assert!(s.verify_checksum());
    let c = s.first_chunk().unwrap();
    assert_eq!((c.kind, c.flags, c.len, c.value.len()), (1, 0, 20, 16));
    // A corrupted byte breaks it.
    let mut bad = p.clone();
    bad[20] ^= 1;
    assert!(!SctpPacket::new_checked(&bad[..]).unwrap().verify_checksum());
    // A chunk shorter than its header is an error item.
    let mut short = p.clone();
    short[14..16].copy_from_slice(&3u16.to_be_bytes());
    let s = SctpPacket::new_checked(&short[..]).unwrap();
    assert!(s.first_chunk().is_err());
    assert!(matches!(s.chunks().next(), Some(Err(_))));
}

#[test]
fn gre_key_and_sequence_are_located() {
    // K and S bits, IPv4 payload, key 0x01020304, seq 7.
    let g = hex("3000 0800 01020304 00000007 45");
    let h = gre::GreHeader::new_checked(&g[..]).unwrap();
    assert_eq!(
        (h.header_len(), h.key(), h.sequence()),
        (12, Some(0x0102_0304), Some(7))
    );
    assert_eq!(
        (h.checksum(), h.protocol(), h.payload()),
        (None, 0x0800, &[0x45][..])
    );
    assert!(h.verify_checksum());
    // C, K and S: checksum first.
    let g = hex("b000 0800 0000 0000 0a0b0c0d 00000009");
    let h = gre::GreHeader::new_checked(&g[..]).unwrap();
    assert_eq!(
        (h.header_len(), h.key(), h.sequence()),
        (16, Some(0x0a0b_0c0d), Some(9))
    );
    // Version 1 (PPTP) and routing are unsupported; short headers truncated.
    assert!(matches!(
        gre::GreHeader::new_checked(&hex("3001 880b 00000000 00000000")[..]),
        Err(Error::Unsupported { .. })
    ));
    assert!(matches!(
        gre::GreHeader::new_checked(&hex("4000 0800 00000000")[..]),
        Err(Error::Unsupported { .. })
    ));
    assert!(matches!(
        gre::GreHeader::new_checked(&hex("8000 0800 00")[..]),
        Err(Error::Truncated { need: 8, .. })
    ));
}

#[test]
fn gre_checksum_by_the_book() {
    let mut g = vec![0u8; 8];
    gre::write_header(&mut g, 0x86dd, true).unwrap();
    g.extend(hex("600000000000 3b40"));
    gre::GreHeader::new_checked(&mut g[..])
        .unwrap()
        .fill_checksum();
    let mut z = g.clone();
    z[4..6].fill(0);
    assert_eq!(u16::from_be_bytes([g[4], g[5]]), ref_checksum(&[&z]));
    assert_eq!(&g[..4], &[0x80, 0, 0x86, 0xdd]);
}

#[test]
fn gue_variants_and_flag_validation() {
    // IPVS remcsum header, exactly as the kernel sent it (see the captures).
    let h = hex("02040001 80000000 0014 0024 45");
    let g = gue::GueHeader::new_checked(&h[..]).unwrap();
    assert_eq!(
        (g.version(), g.header_len(), g.protocol()),
        (0, 12, proto::IPIP)
    );
    assert_eq!(g.remcsum(), Some((20, 36)));
    assert_eq!(g.payload(), &[0x45]);
    let mut out = [0u8; 12];
    assert_eq!(
        gue::write_header(&mut out, proto::IPIP, Some((20, 36))),
        Ok(12)
    );
    assert_eq!(&out[..], &h[..12]);
    assert_eq!(gue::write_header(&mut out, proto::IPV6, None), Ok(4));
    assert_eq!(&out[..4], &[0, 41, 0, 0]);
    // Variant 1: direct IPv4 / IPv6, no GUE header.
    let g = gue::GueHeader::new_checked(hex("45000014")).unwrap();
    assert_eq!(
        (g.version(), g.header_len(), g.protocol()),
        (1, 0, proto::IPIP)
    );
    let g = gue::GueHeader::new_checked(hex("60000000")).unwrap();
    assert_eq!(g.protocol(), proto::IPV6);
    assert!(gue::GueHeader::new_checked(&hex("50000000")[..]).is_err());
    // Control message.
    let g = gue::GueHeader::new_checked(hex("20010000")).unwrap();
    assert!(g.is_control());
    // Unknown standard flag, unknown private flag, option not fitting hlen,
    // version 2.
    for bad in [
        "00040002",
        "01040001 40000000",
        "01040001 80000000",
        "80040000",
    ] {
        assert!(gue::GueHeader::new_checked(&hex(bad)[..]).is_err(), "{bad}");
    }
    // hlen past the buffer.
    assert!(matches!(
        gue::GueHeader::new_checked(&hex("03040000 00000000")[..]),
        Err(Error::Truncated { need: 16, .. })
    ));
}

#[test]
fn remcsum_round_trip_on_the_known_syn() {
    let orig = syn_v4();
    let mut p = orig.clone();
    let (start, off) = gue::remcsum_to_partial(&mut p).unwrap().unwrap();
    assert_eq!((start, off), (20, 36));
    // The partial value is the folded pseudo-header sum, by the book.
    let ph = pseudo4(A.octets(), B.octets(), 6, 24);
    assert_eq!(u16::from_be_bytes([p[36], p[37]]), ref_sum(&[&ph]));
    gue::remcsum_apply(&mut p, start, off).unwrap();
    assert_eq!(p, orig);
    assert!(gue::remcsum_apply(&mut p, 20, 43).is_err());
    assert!(gue::remcsum_apply(&mut p, 45, 36).is_err());
}

#[test]
fn ethernet_vlan_stacks() {
    let dst = MacAddr([2, 0, 0, 0, 0, 1]);
    let src = MacAddr([2, 0, 0, 0, 0, 2]);
    let tags = [
        VlanTag {
            tpid: ethertype::QINQ,
            pcp: 5,
            dei: true,
            vid: 100,
        },
        VlanTag::dot1q(200),
    ];
    let mut f = [0u8; 30];
    assert_eq!(
        ethernet::write_header(&mut f, dst, src, &tags, ethertype::IPV6),
        Ok(22)
    );
    assert_eq!(
        &f[12..22],
        &hex("88a8 b064 8100 00c8 86dd")[..],
        "PCP 5, DEI, VID 100 = 0xb064"
    );
    let mut e = EthernetFrame::new_checked(&mut f[..]).unwrap();
    assert_eq!(
        (e.vlan_count(), e.ethertype(), e.header_len()),
        (2, 0x86dd, 22)
    );
    assert_eq!(e.vlan(0), Some(tags[0]));
    assert_eq!(e.vlan(1), Some(tags[1]));
    assert_eq!(e.vlan(2), None);
    assert!(e.set_vlan_id(1, 300));
    assert!(!e.set_vlan_id(2, 1));
    e.set_dst(MacAddr::BROADCAST);
    assert_eq!(e.vlan(1).unwrap().vid, 300);
    assert_eq!(e.vlan(0).unwrap().pcp, 5);
    assert!(e.dst().is_multicast());
    assert_eq!(e.payload().len(), 8);
    assert_eq!(format!("{}", e.src()), "02:00:00:00:00:02");
    // Three tags are refused; a tag cut short is truncated.
    let three = hex("ffffffffffff 020000000002 8100 0001 8100 0002 8100 0003 0800");
    assert!(matches!(
        EthernetFrame::new_checked(&three[..]),
        Err(Error::Unsupported { .. })
    ));
    let cut = hex("ffffffffffff 020000000002 8100 0001 08");
    assert!(matches!(
        EthernetFrame::new_checked(&cut[..]),
        Err(Error::Truncated { need: 18, .. })
    ));
}

#[test]
fn gratuitous_arp_round_trip() {
    let mac = MacAddr([2, 0, 0, 0, 0xd, 0]);
    let ip = Ipv4Addr::new(10, 0, 0, 100);
    let mut b = [0u8; 28];
    arp::write(&mut b, arp::OP_REQUEST, mac, ip, MacAddr::ZERO, ip).unwrap();
    assert_eq!(
        &b[..],
        &hex("0001 0800 06 04 0001 02000000 0d00 0a000064 000000000000 0a000064")[..]
    );
    let a = arp::ArpPacket::new_checked(&b[..]).unwrap();
    assert!(a.is_gratuitous());
    assert_eq!(
        (a.sender_mac(), a.sender_ip(), a.target_ip()),
        (mac, ip, ip)
    );
    let mut other = b;
    other[1] = 6; // IEEE 802 hardware type
    assert!(matches!(
        arp::ArpPacket::new_checked(&other[..]),
        Err(Error::Unsupported { .. })
    ));
}

#[test]
fn tcp_option_walk_stops_at_malformed_options() {
    // Kernel SYN options: MSS 1460, SACK-permitted, timestamps, NOP, wscale 7.
    let opts = hex("020405b4 0402 080aa37ba0c800000000 01 030307");
    let mut seg = hex("a4110050294f754800000000a002faf0b06c0000");
    seg.extend(&opts);
    let t = TcpSegment::new_checked(&seg[..]).unwrap();
    let kinds: Vec<(u8, usize)> = t
        .options_iter()
        .map(|o| o.map(|o| (o.kind, o.data.len())).unwrap())
        .collect();
    assert_eq!(kinds, vec![(2, 2), (4, 0), (8, 8), (1, 0), (3, 1)]);
    assert_eq!(t.mss(), Some(1460));
    // Length 1 and a length past the end are errors; END stops the walk.
    let mut bad = seg.clone();
    bad[20 + 1] = 1;
    let t = TcpSegment::new_checked(&bad[..]).unwrap();
    assert!(matches!(t.options_iter().next(), Some(Err(_))));
    assert_eq!(t.mss(), None);
    let mut end = seg.clone();
    end[20] = 0;
    assert_eq!(
        TcpSegment::new_checked(&end[..])
            .unwrap()
            .options_iter()
            .count(),
        0
    );
    // Data offset past the buffer / below 5.
    assert!(TcpSegment::new_checked(&seg[..39]).is_err());
    let mut small = seg.clone();
    small[12] = 0x40;
    assert!(TcpSegment::new_checked(&small[..]).is_err());
}
