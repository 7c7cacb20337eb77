//! The steering program's decision, computed in userspace, for backends that
//! see every frame (AF_PACKET).
//!
//! [`classify`] applies the rules of `bpf/steer.c` (see [`crate::steer`]) to a
//! frame, with the steering set given as a lookup function, and says why a
//! frame is IPVS business: [`Steered::Inbound`] (service traffic, a service
//! address's non-first fragment or port-less packet, a NAT reply: the keys a
//! kernel-side filter can match on the packet's own headers) or
//! [`Steered::IcmpError`] (an ICMP / ICMPv6 error quoting a packet of ours:
//! matched on the quoted headers). `tests/classify_vs_bpf.rs` checks the two
//! implementations agree frame by frame with `BPF_PROG_TEST_RUN`.
//!
//! Cost: one header walk (no allocation), at most five set lookups.

use crate::steer::{KIND_DST, KIND_SRC, KIND_VIP, SteerKey};

/// Why a frame is steered to the engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Steered {
    /// Matched on its own headers (service, fragment of a service address,
    /// NAT reply source).
    Inbound,
    /// An ICMP / ICMPv6 error whose quoted packet matches.
    IcmpError,
}

const PROTO_TCP: u8 = 6;
const PROTO_UDP: u8 = 17;
const PROTO_SCTP: u8 = 132;
const PROTO_ICMP: u8 = 1;
const PROTO_ICMPV6: u8 = 58;

#[derive(Default)]
struct Flow<'a> {
    family: u8,
    proto: u8,
    has_ports: bool,
    icmp_err: bool,
    sport: u16,
    dport: u16,
    saddr: [u8; 16],
    daddr: [u8; 16],
    l4: &'a [u8],
}

fn is_icmp_error(proto: u8, ty: u8) -> bool {
    match proto {
        PROTO_ICMP => matches!(ty, 3 | 4 | 11 | 12),
        PROTO_ICMPV6 => (1..=4).contains(&ty),
        _ => false,
    }
}

fn be16(b: &[u8], o: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(o)?, *b.get(o + 1)?]))
}

/// Parses an IP header of `family` at the start of `p` and the ports behind it.
fn parse_ip(p: &[u8], family: u8) -> Option<Flow<'_>> {
    let mut f = Flow {
        family,
        ..Flow::default()
    };
    let mut frag_later = false;
    let l4_off;
    if family == 4 {
        let h = p.get(..20)?;
        let ihl = usize::from(h[0] & 0x0f);
        if h[0] >> 4 != 4 || ihl < 5 {
            return None;
        }
        f.saddr[..4].copy_from_slice(&h[12..16]);
        f.daddr[..4].copy_from_slice(&h[16..20]);
        f.proto = h[9];
        frag_later = be16(h, 6)? & 0x1fff != 0;
        l4_off = ihl * 4;
    } else {
        let h = p.get(..40)?;
        if h[0] >> 4 != 6 {
            return None;
        }
        f.saddr.copy_from_slice(&h[8..24]);
        f.daddr.copy_from_slice(&h[24..40]);
        let mut nh = h[6];
        let mut off = 40usize;
        for _ in 0..4 {
            match nh {
                0 | 43 | 60 => {
                    let eh = p.get(off..off + 2)?;
                    nh = eh[0];
                    off += (usize::from(eh[1]) + 1) * 8;
                }
                44 => {
                    let fh = p.get(off..off + 8)?;
                    nh = fh[0];
                    if u16::from_be_bytes([fh[2], fh[3]]) & 0xfff8 != 0 {
                        frag_later = true;
                    }
                    off += 8;
                }
                _ => break,
            }
        }
        f.proto = nh;
        l4_off = off;
    }
    f.l4 = p.get(l4_off..).unwrap_or(&[]);
    if frag_later {
        return Some(f);
    }
    match f.proto {
        PROTO_TCP | PROTO_UDP | PROTO_SCTP => {
            if let (Some(s), Some(d)) = (be16(f.l4, 0), be16(f.l4, 2)) {
                f.sport = s;
                f.dport = d;
                f.has_ports = true;
            }
        }
        PROTO_ICMP | PROTO_ICMPV6 if f.l4.len() >= 8 && is_icmp_error(f.proto, f.l4[0]) => {
            f.icmp_err = true;
        }
        _ => {}
    }
    Some(f)
}

fn key(kind: u8, proto: u8, port: u16, family: u8, addr: &[u8; 16]) -> SteerKey {
    SteerKey::raw(kind, proto, port, family, *addr)
}

fn match_inbound(f: &Flow<'_>, has: &impl Fn(&SteerKey) -> bool) -> bool {
    if f.has_ports {
        if f.dport != 0 && has(&key(KIND_DST, f.proto, f.dport, f.family, &f.daddr)) {
            return true;
        }
        if has(&key(KIND_DST, f.proto, 0, f.family, &f.daddr)) {
            return true;
        }
        if f.sport != 0 && has(&key(KIND_SRC, f.proto, f.sport, f.family, &f.saddr)) {
            return true;
        }
    } else if has(&key(KIND_VIP, 0, 0, f.family, &f.daddr)) {
        return true;
    }
    has(&key(KIND_DST, 0, 0, f.family, &f.daddr))
}

fn match_quoted(q: &Flow<'_>, has: &impl Fn(&SteerKey) -> bool) -> bool {
    (q.has_ports && q.sport != 0 && has(&key(KIND_DST, q.proto, q.sport, q.family, &q.saddr)))
        || has(&key(KIND_DST, q.proto, 0, q.family, &q.saddr))
        || has(&key(KIND_DST, 0, 0, q.family, &q.saddr))
        || (q.has_ports
            && q.dport != 0
            && has(&key(KIND_SRC, q.proto, q.dport, q.family, &q.daddr)))
}

/// The steering decision for `frame` (Ethernet, up to two VLAN tags), with
/// `has` telling whether a key is in the steering set; `None`: the kernel's.
pub fn classify(frame: &[u8], has: impl Fn(&SteerKey) -> bool) -> Option<Steered> {
    let mut ethertype = be16(frame, 12)?;
    let mut off = 14usize;
    for _ in 0..2 {
        if ethertype == 0x8100 || ethertype == 0x88a8 {
            ethertype = be16(frame, off + 2)?;
            off += 4;
        }
    }
    let family = match ethertype {
        0x0800 => 4,
        0x86dd => 6,
        _ => return None,
    };
    let f = parse_ip(frame.get(off..)?, family)?;
    if f.proto == PROTO_ICMP || f.proto == PROTO_ICMPV6 {
        if f.icmp_err {
            let q = parse_ip(f.l4.get(8..)?, f.family)?;
            if match_quoted(&q, &has) {
                return Some(Steered::IcmpError);
            }
        }
        return None;
    }
    match_inbound(&f, &has).then_some(Steered::Inbound)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::net::{IpAddr, Ipv4Addr};

    fn v4(s: &str) -> IpAddr {
        IpAddr::V4(s.parse::<Ipv4Addr>().unwrap())
    }

    /// Ethernet + IPv4 (no options) + 4 port bytes.
    fn frame4(proto: u8, src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, frag: u16) -> Vec<u8> {
        let mut f = vec![0u8; 14 + 20 + 8];
        f[12] = 0x08;
        f[14] = 0x45;
        f[20..22].copy_from_slice(&frag.to_be_bytes());
        f[23] = proto;
        f[26..30].copy_from_slice(&src);
        f[30..34].copy_from_slice(&dst);
        f[34..36].copy_from_slice(&sport.to_be_bytes());
        f[36..38].copy_from_slice(&dport.to_be_bytes());
        f
    }

    fn set() -> HashSet<SteerKey> {
        [
            SteerKey::service(6, v4("172.16.10.21"), 80),
            SteerKey::vip(v4("172.16.10.21")),
            SteerKey::reply_source(6, v4("192.168.100.39"), 80),
        ]
        .into_iter()
        .collect()
    }

    #[test]
    fn service_fragment_and_reply_are_inbound_others_are_not() {
        let s = set();
        let has = |k: &SteerKey| s.contains(k);
        let vip = [172, 16, 10, 21];
        let cli = [172, 16, 10, 22];
        let rs = [192, 168, 100, 39];
        assert_eq!(
            classify(&frame4(6, cli, vip, 999, 80, 0), has),
            Some(Steered::Inbound)
        );
        assert_eq!(classify(&frame4(6, cli, vip, 999, 81, 0), has), None);
        assert_eq!(classify(&frame4(17, cli, vip, 999, 80, 0), has), None);
        // Non-first fragment (offset 8 bytes): the address alone decides.
        assert_eq!(
            classify(&frame4(6, cli, vip, 1, 2, 1), has),
            Some(Steered::Inbound)
        );
        assert_eq!(
            classify(&frame4(6, rs, cli, 80, 999, 0), has),
            Some(Steered::Inbound)
        );
        assert_eq!(classify(&frame4(6, rs, cli, 81, 999, 0), has), None);
        // ARP is the kernel's.
        let mut arp = vec![0u8; 42];
        arp[12..14].copy_from_slice(&[0x08, 0x06]);
        assert_eq!(classify(&arp, has), None);
    }

    #[test]
    fn icmp_error_quoting_our_packet_is_steered_echo_is_not() {
        let s = set();
        let has = |k: &SteerKey| s.contains(k);
        // Port unreachable from the client about our packet VIP:80 -> client.
        let quoted = &frame4(6, [172, 16, 10, 21], [172, 16, 10, 22], 80, 999, 0)[14..];
        let mut f = frame4(1, [172, 16, 10, 22], [172, 16, 10, 21], 0, 0, 0);
        f.truncate(34);
        f.extend_from_slice(&[3, 3, 0, 0, 0, 0, 0, 0]);
        f.extend_from_slice(quoted);
        assert_eq!(classify(&f, has), Some(Steered::IcmpError));
        f[34] = 8; // echo request
        assert_eq!(classify(&f, has), None);
    }
}
