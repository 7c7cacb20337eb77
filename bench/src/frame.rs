//! Pre-built UDP/IPv4 Ethernet frames for the generator: one frame per
//! flow, flows differing by their UDP source port.
//!
//! The frames are complete (Ethernet header, IPv4 header with its header
//! checksum, UDP header with the RFC 768 checksum over the pseudo-header),
//! so every hop on the path sees a well-formed packet, as if it came from a
//! real host: the director's kernel, nftables and lvsd all check them.
//! A "64-byte" frame is the classic minimum Ethernet frame: 60 bytes on the
//! wire as the kernel sees them plus the 4-byte FCS the veth does not carry,
//! i.e. 14 + 20 + 8 header bytes and an 18-byte payload.

use std::net::Ipv4Addr;

/// Ethernet + IPv4 + UDP header bytes.
pub const HEADERS: usize = 14 + 20 + 8;
/// The UDP payload that makes a 64-byte Ethernet frame (FCS included).
pub const PAYLOAD_64: usize = 64 - 4 - HEADERS;

/// What every generated frame shares; flows differ by source port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameSpec {
    /// Source MAC (the generator's interface).
    pub src_mac: [u8; 6],
    /// Destination MAC (the next hop: the director's interface).
    pub dst_mac: [u8; 6],
    /// Source IPv4 address.
    pub src: Ipv4Addr,
    /// Destination IPv4 address (the VIP, or the sink for plain forwarding).
    pub dst: Ipv4Addr,
    /// Destination UDP port.
    pub dport: u16,
    /// UDP payload bytes (filled with a fixed pattern).
    pub payload: usize,
}

/// One's complement sum of `data` as big-endian 16-bit words (an odd last
/// byte is padded with zero), not yet folded.
fn sum16(data: &[u8], mut acc: u32) -> u32 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        acc += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        acc += u32::from(*last) << 8;
    }
    acc
}

/// Folds the carries of a 32-bit sum into 16 bits and complements it.
fn finish(mut acc: u32) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

/// Builds the frame of the flow with UDP source port `sport`.
pub fn udp_frame(spec: &FrameSpec, sport: u16) -> Vec<u8> {
    let udp_len = 8 + spec.payload;
    let ip_len = 20 + udp_len;
    let mut f = Vec::with_capacity(14 + ip_len);
    f.extend_from_slice(&spec.dst_mac);
    f.extend_from_slice(&spec.src_mac);
    f.extend_from_slice(&0x0800u16.to_be_bytes());
    // IPv4 header: version 4, IHL 5, no options, DF, TTL 64, protocol 17.
    let ip_start = f.len();
    f.extend_from_slice(&[0x45, 0x00]);
    f.extend_from_slice(&(ip_len as u16).to_be_bytes());
    f.extend_from_slice(&sport.to_be_bytes()); // identification: varies per flow
    f.extend_from_slice(&0x4000u16.to_be_bytes());
    f.extend_from_slice(&[64, 17, 0, 0]);
    f.extend_from_slice(&spec.src.octets());
    f.extend_from_slice(&spec.dst.octets());
    let ip_csum = finish(sum16(&f[ip_start..ip_start + 20], 0));
    f[ip_start + 10..ip_start + 12].copy_from_slice(&ip_csum.to_be_bytes());
    // UDP header and payload.
    let udp_start = f.len();
    f.extend_from_slice(&sport.to_be_bytes());
    f.extend_from_slice(&spec.dport.to_be_bytes());
    f.extend_from_slice(&(udp_len as u16).to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.extend((0..spec.payload).map(|i| b'a' + (i % 26) as u8));
    let mut pseudo = sum16(&spec.src.octets(), 0);
    pseudo = sum16(&spec.dst.octets(), pseudo);
    pseudo += 17 + udp_len as u32;
    let mut csum = finish(sum16(&f[udp_start..], pseudo));
    if csum == 0 {
        csum = 0xffff; // zero means "no checksum" in UDP/IPv4
    }
    f[udp_start + 6..udp_start + 8].copy_from_slice(&csum.to_be_bytes());
    f
}

/// The frames of `flows` flows: source ports `base_port`, `base_port + 1`, …
pub fn flow_frames(spec: &FrameSpec, flows: u16, base_port: u16) -> Vec<Vec<u8>> {
    (0..flows)
        .map(|i| udp_frame(spec, base_port.wrapping_add(i)))
        .collect()
}

/// Parses `aa:bb:cc:dd:ee:ff`.
pub fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut parts = s.trim().split(':');
    for b in &mut mac {
        *b = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use lvs_wire::ipv4::Ipv4Packet;
    use lvs_wire::parse::{L3, Transport, parse_frame};
    use lvs_wire::udp::UdpDatagram;
    use proptest::prelude::*;

    fn spec() -> FrameSpec {
        FrameSpec {
            src_mac: [2, 0, 0, 0, 0, 1],
            dst_mac: [2, 0, 0, 0, 0, 2],
            src: Ipv4Addr::new(10, 10, 1, 2),
            dst: Ipv4Addr::new(10, 10, 9, 100),
            dport: 9,
            payload: PAYLOAD_64,
        }
    }

    #[test]
    fn a_64_byte_frame_is_60_bytes_without_fcs() {
        assert_eq!(udp_frame(&spec(), 1000).len(), 60);
    }

    #[test]
    fn flows_differ_only_by_source_port() {
        let frames = flow_frames(&spec(), 1000, 10_000);
        assert_eq!(frames.len(), 1000);
        let mut ports: Vec<(u16, u16)> = frames
            .iter()
            .map(|f| match parse_frame(f).unwrap().l3 {
                L3::Ip(ip) => match ip.transport {
                    Transport::Udp { src_port, dst_port } => (src_port, dst_port),
                    t => panic!("{t:?}"),
                },
                l3 => panic!("{l3:?}"),
            })
            .collect();
        ports.dedup();
        assert_eq!(ports.len(), 1000);
        assert!(ports.iter().all(|&(_, d)| d == 9));
        assert_eq!(ports[0].0, 10_000);
        assert_eq!(ports[999].0, 10_999);
    }

    #[test]
    fn mac_parsing() {
        assert_eq!(
            parse_mac("02:0a:FF:00:10:01"),
            Some([2, 0x0a, 0xff, 0, 0x10, 1])
        );
        assert_eq!(parse_mac("02:0a:ff:00:10"), None);
        assert_eq!(parse_mac("02:0a:ff:00:10:01:02"), None);
        assert_eq!(parse_mac("02:0a:fg:00:10:01"), None);
    }

    proptest! {
        // lvs-wire's own checksum verification accepts every frame we build.
        #[test]
        fn checksums_verify(sport in any::<u16>(), payload in 0usize..64, a in any::<u32>(), b in any::<u32>()) {
            let s = FrameSpec { src: Ipv4Addr::from(a), dst: Ipv4Addr::from(b), payload, ..spec() };
            let f = udp_frame(&s, sport);
            let ip = Ipv4Packet::new_checked(&f[14..]).unwrap();
            prop_assert!(ip.verify_checksum());
            let udp = UdpDatagram::new_checked(&f[34..]).unwrap();
            prop_assert!(udp.verify_checksum_v4(s.src, s.dst));
            prop_assert_ne!(udp.checksum(), 0);
        }
    }
}
