//! IP protocol numbers and helpers shared by IPv4 and IPv6.

/// IP protocol / IPv6 next-header numbers (IANA).
pub mod proto {
    /// IPv6 hop-by-hop options.
    pub const HOPOPTS: u8 = 0;
    /// ICMP for IPv4.
    pub const ICMP: u8 = 1;
    /// IPv4 encapsulation (IPIP).
    pub const IPIP: u8 = 4;
    /// TCP.
    pub const TCP: u8 = 6;
    /// UDP.
    pub const UDP: u8 = 17;
    /// IPv6 encapsulation.
    pub const IPV6: u8 = 41;
    /// IPv6 routing header.
    pub const ROUTING: u8 = 43;
    /// IPv6 fragment header.
    pub const FRAGMENT: u8 = 44;
    /// GRE.
    pub const GRE: u8 = 47;
    /// ESP.
    pub const ESP: u8 = 50;
    /// Authentication header.
    pub const AH: u8 = 51;
    /// ICMPv6.
    pub const ICMPV6: u8 = 58;
    /// IPv6 "no next header".
    pub const NONE: u8 = 59;
    /// IPv6 destination options.
    pub const DSTOPTS: u8 = 60;
    /// SCTP.
    pub const SCTP: u8 = 132;
}

/// ECN field mask in the TOS / traffic-class byte.
pub const ECN_MASK: u8 = 0x03;
/// ECN "congestion experienced".
pub const ECN_CE: u8 = 0x03;
/// ECN "ECT(0)".
pub const ECN_ECT0: u8 = 0x02;

/// The outer DS field for a tunnel, from the inner one (RFC 6040 "normal
/// mode", as the kernel's `INET_ECN_encapsulate(inner, inner)` computes it for
/// IPVS tunnels): DSCP copied, ECN copied except that CE becomes ECT(0).
#[inline]
pub fn ecn_encapsulate(inner_ds: u8) -> u8 {
    let ecn = inner_ds & ECN_MASK;
    let outer_ecn = if ecn == ECN_CE { ECN_ECT0 } else { ecn };
    (inner_ds & !ECN_MASK) | outer_ecn
}

/// IP version of a packet from its first nibble, if 4 or 6.
#[inline]
pub fn version(packet: &[u8]) -> Option<u8> {
    match packet.first().map(|b| b >> 4) {
        Some(4) => Some(4),
        Some(6) => Some(6),
        _ => None,
    }
}

/// Source and destination ports of a TCP, UDP or SCTP header (its first four
/// bytes), if present.
#[inline]
pub fn ports(l4: &[u8]) -> Option<(u16, u16)> {
    match l4 {
        [a, b, c, d, ..] => Some((u16::from_be_bytes([*a, *b]), u16::from_be_bytes([*c, *d]))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ecn_encapsulation_rules() {
        // DSCP AF41 (0x22 << 2 = 0x88) with each ECN codepoint.
        assert_eq!(ecn_encapsulate(0x88), 0x88); // not-ECT stays
        assert_eq!(ecn_encapsulate(0x89), 0x89); // ECT(1) stays
        assert_eq!(ecn_encapsulate(0x8a), 0x8a); // ECT(0) stays
        assert_eq!(ecn_encapsulate(0x8b), 0x8a); // CE -> ECT(0)
    }
}
