//! Drives every parser, accessor and mutator of the crate over arbitrary
//! bytes. Used by the no-panic property tests and the `fuzz/` targets; not
//! part of the stable API.
//!
//! Contract: for any input, these functions return without panicking. The
//! returned count only keeps the work observable.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::encap::{self, Encap, GueCsum, Outer, Tunnel};
use crate::nat::{self, Rewrite};
use crate::{
    Icmpv4Packet, Icmpv6Packet, Ipv4Packet, Ipv6Packet, SctpPacket, TcpSegment, UdpDatagram, arp,
    ethernet, gre, gue, parse,
};

fn count<T, E>(r: &Result<T, E>) -> usize {
    usize::from(r.is_ok())
}

/// Reads every field of every view that accepts `data` (as any layer).
pub fn parsers(data: &[u8]) -> usize {
    let mut n = 0;
    n += count(&parse::parse_frame(data));
    n += count(&parse::parse_ip(data));
    if let Ok(e) = ethernet::EthernetFrame::new_checked(data) {
        n += usize::from(e.dst().is_multicast()) + e.vlan_count() + e.payload().len();
        n += usize::from(e.vlan(0).is_some()) + usize::from(e.vlan(1).is_some());
        n += usize::from(e.ethertype());
    }
    if let Ok(a) = arp::ArpPacket::new_checked(data) {
        n += usize::from(a.operation()) + usize::from(a.is_gratuitous());
        n += usize::from(a.sender_mac().0[0]) + usize::from(a.target_mac().0[5]);
    }
    for ip in [
        Ipv4Packet::new_checked(data),
        Ipv4Packet::new_truncated(data),
    ]
    .into_iter()
    .flatten()
    {
        n += ip.header_len() + ip.payload().len() + ip.options().len();
        n += usize::from(ip.verify_checksum()) + usize::from(ip.is_fragment());
        n += ip.frag_offset_bytes() + usize::from(ip.is_truncated());
        n += usize::from(ip.ttl()) + usize::from(ip.dscp()) + usize::from(ip.ecn());
        n += usize::from(ip.src().octets()[0]) + usize::from(ip.dst().octets()[3]);
        n += usize::from(encap::decapsulate(data, 6080).is_ok());
        n += usize::from(gue::remcsum_params(data).is_ok());
        n += usize::from(encap::inner_fields(data).is_ok());
    }
    for ip in [
        Ipv6Packet::new_checked(data),
        Ipv6Packet::new_truncated(data),
    ]
    .into_iter()
    .flatten()
    {
        n += ip.payload().len() + ip.flow_label() as usize + usize::from(ip.traffic_class());
        for h in ip.ext_headers() {
            n += h.map_or(1, |h| h.len);
        }
        if let Ok(ul) = ip.upper_layer() {
            n += ul.offset + usize::from(ul.has_transport_header());
        }
        n += usize::from(encap::decapsulate(data, 6080).is_ok());
    }
    let (a4, b4) = (Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2));
    let (a6, b6) = (Ipv6Addr::LOCALHOST, Ipv6Addr::UNSPECIFIED);
    if let Ok(t) = TcpSegment::new_checked(data) {
        n += t.header_len() + t.payload().len() + usize::from(t.flags());
        n +=
            usize::from(t.verify_checksum_v4(a4, b4)) + usize::from(t.verify_checksum_v6(&a6, &b6));
        n += t.options_iter().count() + usize::from(t.mss().is_some());
    }
    if let Ok(u) = UdpDatagram::new_checked(data) {
        n += u.payload().len() + usize::from(u.verify_checksum_v4(a4, b4));
        n += usize::from(u.verify_checksum_v6(&a6, &b6));
    }
    if let Ok(s) = SctpPacket::new_checked(data) {
        n += usize::from(s.verify_checksum()) + s.chunks().count();
        n += usize::from(s.first_chunk().is_ok()) + usize::from(s.first_chunk_type().is_some());
    }
    if let Ok(i) = Icmpv4Packet::new_checked(data) {
        n += usize::from(i.verify_checksum()) + usize::from(i.next_hop_mtu());
        if let Ok(q) = i.embedded() {
            n += q.payload().len() + usize::from(crate::ip::ports(q.payload()).is_some());
        }
    }
    if let Ok(i) = Icmpv6Packet::new_checked(data) {
        n += usize::from(i.verify_checksum(&a6, &b6)) + i.mtu() as usize;
        if let Ok(q) = i.embedded() {
            n += count(&q.upper_layer());
        }
    }
    if let Ok(g) = gue::GueHeader::new_checked(data) {
        n += g.header_len() + usize::from(g.protocol()) + usize::from(g.remcsum().is_some());
        n += g.payload().len() + usize::from(g.is_control());
    }
    if let Ok(g) = gre::GreHeader::new_checked(data) {
        n += g.header_len() + usize::from(g.verify_checksum()) + g.payload().len();
        n += usize::from(g.key().is_some()) + usize::from(g.sequence().is_some());
    }
    n
}

/// Applies every mutator and builder to `data` (changed in place), with
/// values taken from `knobs`.
pub fn mutators(data: &mut [u8], knobs: &[u8]) -> usize {
    let k = |i: usize| knobs.get(i).copied().unwrap_or(0);
    let k16 = |i: usize| u16::from_be_bytes([k(i), k(i + 1)]);
    let a4 = Ipv4Addr::new(k(0), k(1), k(2), k(3));
    let mut a6 = [0u8; 16];
    for (i, b) in a6.iter_mut().enumerate() {
        *b = k(i);
    }
    let a6 = Ipv6Addr::from(a6);
    let on = |i: usize| k(i) & 1 == 1;
    let mut n = 0;
    let rw4 = Rewrite {
        src: on(4).then_some(a4),
        dst: on(5).then_some(Ipv4Addr::new(k(6), 0, 0, 1)),
        src_port: on(7).then_some(k16(8)),
        dst_port: on(10).then_some(k16(11)),
    };
    n += count(&nat::rewrite_ipv4(data, &rw4));
    let rw6 = Rewrite {
        src: on(4).then_some(a6),
        dst: on(5).then_some(Ipv6Addr::LOCALHOST),
        src_port: on(7).then_some(k16(8)),
        dst_port: on(10).then_some(k16(11)),
    };
    n += count(&nat::rewrite_ipv6(data, &rw6));
    n += count(&nat::rewrite_icmpv4_error(data, &rw4));
    n += count(&nat::rewrite_icmpv6_error(data, &a6, &a6, &rw6));
    if let Ok(mut ip) = Ipv4Packet::new_checked(&mut *data) {
        ip.decrement_ttl();
        ip.set_tos(k(12));
        ip.set_ident(k16(13));
        ip.set_dont_fragment(k(14) & 1 == 1);
        ip.set_src(a4);
        ip.fill_checksum();
        n += ip.payload_mut().len() + ip.options_mut().len();
    }
    if let Ok(mut ip) = Ipv6Packet::new_checked(&mut *data) {
        ip.decrement_hop_limit();
        ip.set_traffic_class(k(12));
        ip.set_flow_label(u32::from(k16(13)));
        ip.set_dst(&a6);
        n += ip.payload_mut().len();
    }
    if let Ok(mut t) = TcpSegment::new_checked(&mut *data) {
        t.set_src_port(k16(0));
        t.set_seq(u32::from(k16(2)));
        t.set_ack(u32::from(k16(4)));
        t.set_flags(k16(6));
        t.set_window(k16(8));
        t.update_pseudo_v4(a4, Ipv4Addr::BROADCAST);
        t.update_pseudo_v6(&a6, &Ipv6Addr::LOCALHOST);
        t.fill_checksum_v6(&a6, &a6);
        n += t.options_mut().len() + t.payload_mut().len();
    }
    if let Ok(mut u) = UdpDatagram::new_checked(&mut *data) {
        u.set_dst_port(k16(0));
        u.update_pseudo_v4(a4, Ipv4Addr::BROADCAST);
        u.fill_checksum_v4(a4, a4);
        n += u.payload_mut().len();
    }
    if let Ok(mut s) = SctpPacket::new_checked(&mut *data) {
        s.set_src_port(k16(0));
        s.set_verification_tag(u32::from(k16(2)));
        s.fill_checksum();
        n += usize::from(s.verify_checksum());
    }
    if let Ok(mut i) = Icmpv4Packet::new_checked(&mut *data) {
        i.set_next_hop_mtu(k16(0));
        i.set_echo_ident(k16(2));
        i.fill_checksum();
        n += i.payload_mut().len();
    }
    if let Ok(mut i) = Icmpv6Packet::new_checked(&mut *data) {
        i.set_mtu(u32::from(k16(0)));
        i.update_pseudo(&a6, &Ipv6Addr::LOCALHOST);
        i.fill_checksum(&a6, &a6);
        n += i.payload_mut().len();
    }
    if let Ok(mut e) = ethernet::EthernetFrame::new_checked(&mut *data) {
        e.set_vlan_id(usize::from(k(0) & 3), k16(1));
        e.set_ethertype(k16(3));
        e.set_src(ethernet::MacAddr([k(5); 6]));
        n += e.payload_mut().len();
    }
    if let Ok(mut g) = gre::GreHeader::new_checked(&mut *data) {
        g.fill_checksum();
        n += g.payload_mut().len();
    }
    n += count(&gue::remcsum_apply(data, k16(0), k16(2)));
    n += count(&gue::remcsum_to_partial(data));
    // Encapsulate the tail of `data` behind a knob-chosen headroom.
    let head = usize::from(k(15)) % (data.len() + 1);
    let csum = match k(16) % 3 {
        0 => GueCsum::None,
        1 => GueCsum::Csum,
        _ => GueCsum::RemCsum,
    };
    let tunnel = match k(17) % 3 {
        0 => Tunnel::Ipip,
        1 => Tunnel::Gue {
            src_port: k16(18),
            dst_port: 6080,
            csum,
        },
        _ => Tunnel::Gre {
            csum: k(19) & 1 == 1,
        },
    };
    let outer = if k(20) & 1 == 0 {
        Outer::V4 {
            src: a4,
            dst: a4,
            ttl: k(21),
            tos: k(22),
            dont_fragment: true,
            ident: 0,
        }
    } else {
        Outer::V6 {
            src: a6,
            dst: a6,
            hop_limit: k(21),
            traffic_class: k(22),
            flow_label: 0,
        }
    };
    let e = Encap { outer, tunnel };
    let inner_len = data.len() - head;
    n += count(&e.encapsulate(data, head, inner_len));
    n += count(&e.encapsulate_partial(data, head, usize::from(k(23))));
    n
}
