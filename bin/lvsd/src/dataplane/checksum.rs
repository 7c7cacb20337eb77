//! Checksum completion for frames received on veth.
//!
//! A veth sender leaves TCP / UDP checksums partial (`CHECKSUM_PARTIAL`:
//! the field holds only the pseudo-header sum, the device is trusted to
//! finish it), and both AF_XDP and AF_PACKET see the bytes as they are. The
//! kernel itself never verifies such a packet (it trusts the flag); we have
//! no flag, so every TCP / UDP checksum of a frame received on a veth is
//! recomputed before processing: one pass over the segment.
//!
//! Covered: unfragmented IPv4 and IPv6 (after the extension headers the
//! parser walks). UDP over IPv4 with a zero checksum means "none" and is
//! left alone; UDP over IPv6 must carry one (RFC 8200 §8.1) and is always
//! filled. Not covered: IPv6 packets with a routing header (the
//! pseudo-header would need the final destination, not the header's) and
//! fragments (the checksum covers the reassembled datagram).

use std::net::IpAddr;

use lvs_datapath::Frame;
use lvs_wire::parse::{self, L3, Transport};
use lvs_wire::{TcpSegment, UdpDatagram};

/// IPv6 routing extension header number.
const IPV6_ROUTING: u8 = 43;

/// Recomputes the TCP / UDP checksum of an unfragmented IPv4 or IPv6
/// packet in place (see the module docs).
pub(crate) fn complete_l4_checksum(frame: &mut Frame) {
    let Ok(sum) = parse::parse_frame(frame.data()) else {
        return;
    };
    let L3::Ip(ip) = sum.l3 else { return };
    if ip.fragment.is_some() {
        return;
    }
    let start = sum.l3_offset + ip.l4_offset;
    let end = sum.l3_offset + ip.len;
    if let (IpAddr::V6(_), IpAddr::V6(_)) = (ip.src, ip.dst)
        && has_routing_header(frame.data(), sum.l3_offset, ip.l4_offset)
    {
        return;
    }
    let Some(l4) = frame.data_mut().get_mut(start..end) else {
        return;
    };
    match (ip.transport, ip.src, ip.dst) {
        (Transport::Tcp { .. }, IpAddr::V4(s), IpAddr::V4(d)) => {
            if let Ok(mut seg) = TcpSegment::new_checked(l4) {
                seg.fill_checksum_v4(s, d);
            }
        }
        (Transport::Tcp { .. }, IpAddr::V6(s), IpAddr::V6(d)) => {
            if let Ok(mut seg) = TcpSegment::new_checked(l4) {
                seg.fill_checksum_v6(&s, &d);
            }
        }
        (Transport::Udp { .. }, IpAddr::V4(s), IpAddr::V4(d)) => {
            if let Ok(mut dg) = UdpDatagram::new_checked(l4)
                && dg.has_checksum()
            {
                dg.fill_checksum_v4(s, d);
            }
        }
        (Transport::Udp { .. }, IpAddr::V6(s), IpAddr::V6(d)) => {
            if let Ok(mut dg) = UdpDatagram::new_checked(l4) {
                dg.fill_checksum_v6(&s, &d);
            }
        }
        _ => {}
    }
}

/// Whether the IPv6 header chain between the fixed header (at `l3`) and
/// the transport header (at `l3 + l4_offset`) holds a routing header.
fn has_routing_header(data: &[u8], l3: usize, l4_offset: usize) -> bool {
    let Some(mut next) = data.get(l3 + 6).copied() else {
        return false;
    };
    let mut off = l3 + 40;
    while off < l3 + l4_offset {
        if next == IPV6_ROUTING {
            return true;
        }
        let (Some(nh), Some(len)) = (data.get(off).copied(), data.get(off + 1).copied()) else {
            return false;
        };
        // Fragment headers (44) are 8 bytes whatever their second byte says.
        off += if next == 44 {
            8
        } else {
            (usize::from(len) + 1) * 8
        };
        next = nh;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv6Addr;

    /// RFC 1071 / RFC 8200 §8.1 rule, written out independently of
    /// lvs-wire's helpers: the one's-complement sum of the pseudo-header
    /// and the segment (checksum field included) is 0xffff.
    fn sums_to_ffff(pseudo: &[u8], segment: &[u8]) -> bool {
        let mut acc: u32 = 0;
        for chunk in pseudo.chunks(2).chain(segment.chunks(2)) {
            let hi = u32::from(chunk[0]) << 8;
            let lo = chunk.get(1).map_or(0, |b| u32::from(*b));
            acc += hi | lo;
        }
        while acc > 0xffff {
            acc = (acc & 0xffff) + (acc >> 16);
        }
        acc == 0xffff
    }

    fn ipv4_frame(proto: u8, l4: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; 14 + 20];
        f[12] = 0x08;
        f[14] = 0x45;
        let total = u16::try_from(20 + l4.len()).unwrap();
        f[16..18].copy_from_slice(&total.to_be_bytes());
        f[22] = 64;
        f[23] = proto;
        f[26..30].copy_from_slice(&[10, 0, 0, 1]);
        f[30..34].copy_from_slice(&[10, 0, 0, 2]);
        let ip_sum = lvs_wire::checksum::checksum(&f[14..34]);
        f[24..26].copy_from_slice(&ip_sum.to_be_bytes());
        f.extend_from_slice(l4);
        f
    }

    fn ipv6_frame(next: u8, ext: &[u8], l4: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; 14 + 40];
        f[12] = 0x86;
        f[13] = 0xdd;
        f[14] = 0x60;
        let plen = u16::try_from(ext.len() + l4.len()).unwrap();
        f[18..20].copy_from_slice(&plen.to_be_bytes());
        f[20] = next;
        f[21] = 64;
        f[22..38].copy_from_slice(&"2001:db8::1".parse::<Ipv6Addr>().unwrap().octets());
        f[38..54].copy_from_slice(&"2001:db8:1::2".parse::<Ipv6Addr>().unwrap().octets());
        f.extend_from_slice(ext);
        f.extend_from_slice(l4);
        f
    }

    /// A TCP SYN 1234 -> 80 whose checksum field holds garbage, as a veth
    /// sender leaves it.
    fn tcp_syn() -> Vec<u8> {
        let mut t = vec![0u8; 20];
        t[0..2].copy_from_slice(&1234u16.to_be_bytes());
        t[2..4].copy_from_slice(&80u16.to_be_bytes());
        t[12] = 0x50;
        t[13] = 0x02;
        t[16..18].copy_from_slice(&[0xde, 0xad]);
        t
    }

    fn udp(payload: &[u8], check: [u8; 2]) -> Vec<u8> {
        let mut u = vec![0u8; 8];
        u[0..2].copy_from_slice(&5353u16.to_be_bytes());
        u[2..4].copy_from_slice(&53u16.to_be_bytes());
        let len = u16::try_from(8 + payload.len()).unwrap();
        u[4..6].copy_from_slice(&len.to_be_bytes());
        u[6..8].copy_from_slice(&check);
        u.extend_from_slice(payload);
        u
    }

    fn pseudo_v4(d: &[u8], proto: u8, len: usize) -> Vec<u8> {
        let mut p = d[26..34].to_vec();
        p.extend_from_slice(&[0, proto]);
        p.extend_from_slice(&u16::try_from(len).unwrap().to_be_bytes());
        p
    }

    fn pseudo_v6(d: &[u8], proto: u8, len: usize) -> Vec<u8> {
        let mut p = d[22..54].to_vec();
        p.extend_from_slice(&u32::try_from(len).unwrap().to_be_bytes());
        p.extend_from_slice(&[0, 0, 0, proto]);
        p
    }

    #[test]
    fn partial_tcp_checksum_over_ipv4_is_completed() {
        let mut frame = Frame::from_bytes(&ipv4_frame(6, &tcp_syn()));
        complete_l4_checksum(&mut frame);
        let d = frame.data();
        assert!(sums_to_ffff(&pseudo_v4(d, 6, 20), &d[34..54]));
    }

    #[test]
    fn partial_tcp_checksum_over_ipv6_is_completed() {
        let mut frame = Frame::from_bytes(&ipv6_frame(6, &[], &tcp_syn()));
        complete_l4_checksum(&mut frame);
        let d = frame.data();
        assert!(sums_to_ffff(&pseudo_v6(d, 6, 20), &d[54..74]));
    }

    #[test]
    fn partial_udp_checksum_over_ipv6_is_completed_behind_an_extension_header() {
        // A destination-options header (8 bytes: next = UDP, len 0, PadN).
        let ext = [17u8, 0, 1, 4, 0, 0, 0, 0];
        let payload = b"odd";
        let mut frame = Frame::from_bytes(&ipv6_frame(60, &ext, &udp(payload, [0x12, 0x34])));
        complete_l4_checksum(&mut frame);
        let d = frame.data();
        let seg = &d[62..62 + 8 + payload.len()];
        assert!(sums_to_ffff(&pseudo_v6(d, 17, seg.len()), seg));
    }

    #[test]
    fn zero_udp_checksum_over_ipv6_is_filled_over_ipv4_kept() {
        let mut v6 = Frame::from_bytes(&ipv6_frame(17, &[], &udp(b"abcd", [0, 0])));
        complete_l4_checksum(&mut v6);
        let d = v6.data();
        assert_ne!(&d[60..62], &[0, 0]);
        assert!(sums_to_ffff(&pseudo_v6(d, 17, 12), &d[54..66]));

        let mut v4 = Frame::from_bytes(&ipv4_frame(17, &udp(b"abcd", [0, 0])));
        complete_l4_checksum(&mut v4);
        assert_eq!(&v4.data()[40..42], &[0, 0], "IPv4: zero means no checksum");
    }

    #[test]
    fn routing_header_packets_are_left_alone() {
        // Routing header type 0 with no segments left (8 bytes).
        let ext = [6u8, 0, 0, 0, 0, 0, 0, 0];
        let bytes = ipv6_frame(43, &ext, &tcp_syn());
        let mut frame = Frame::from_bytes(&bytes);
        complete_l4_checksum(&mut frame);
        assert_eq!(frame.data(), &bytes[..]);
    }
}
