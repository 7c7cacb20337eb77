//! VRRP advertisement codec: version 2 (RFC 3768) and version 3 (RFC 5798),
//! IPv4 and IPv6.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! |Version| Type  | Virtual Rtr ID|   Priority    | Count IPvX Addr|
//! v2: | Auth Type | Adver Int (s) |          Checksum             |
//! v3: |(rsvd)|  Max Adver Int (cs, 12 bits)  |     Checksum        |
//! |                      IPvX Address(es)                         |
//! v2 (IPv4): |            Authentication Data (8 bytes)           |
//! ```
//!
//! Checksums: version 2 sums the VRRP message alone; version 3 adds the IPv4
//! pseudo-header (source, destination, 0, protocol 112, VRRP length) or the
//! IPv6 one (source, destination, 32-bit length, three zero bytes, 112).
//! Like keepalived, a version 2 advert over IPv6 carries no authentication
//! data.
//!
//! The parser checks structure only (version, type, length, checksum, IPv4
//! header fields); what must match an instance's configuration (VRID,
//! authentication, interval, addresses, TTL) is checked by
//! [`crate::engine`]. Parsing never panics and never allocates: the
//! address list borrows the packet. Over IPv6 the kernel delivers the
//! message without its header: the driver passes the source, the
//! destination (from `IPV6_PKTINFO`) and the hop limit (`IPV6_HOPLIMIT`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use thiserror::Error;

/// IP protocol number of VRRP.
pub const IPPROTO_VRRP: u8 = 112;
/// IP protocol number of IPsec AH (VRRPv2 AH authentication; not supported).
pub const IPPROTO_AH: u8 = 51;
/// IPv4 multicast group of VRRP.
pub const GROUP_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
/// IPv6 multicast group of VRRP.
pub const GROUP_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);
/// TTL / hop limit of every advert.
pub const TTL: u8 = 255;
/// Packet type: advertisement.
pub const TYPE_ADVERT: u8 = 1;
/// Length of the fixed VRRP header.
pub const HEADER_LEN: usize = 8;
/// Length of the VRRPv2 authentication data.
pub const AUTH_LEN: usize = 8;
/// Largest VRRPv3 interval (12 bits of centiseconds).
pub const MAX_V3_INTERVAL_CS: u16 = 0x0fff;
/// Type of service keepalived sends with (network control).
pub const TOS: u8 = 0xc0;

/// Protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    /// RFC 3768.
    V2,
    /// RFC 5798.
    V3,
}

impl Version {
    /// The version number on the wire.
    pub const fn number(self) -> u8 {
        match self {
            Version::V2 => 2,
            Version::V3 => 3,
        }
    }
}

/// Address family of an advert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// IPv4.
    V4,
    /// IPv6.
    V6,
}

impl Family {
    /// Length of one address.
    pub const fn addr_len(self) -> usize {
        match self {
            Family::V4 => 4,
            Family::V6 => 16,
        }
    }

    /// Family of an address.
    pub fn of(a: &IpAddr) -> Family {
        if a.is_ipv4() { Family::V4 } else { Family::V6 }
    }
}

/// VRRPv2 authentication types.
pub mod auth_type {
    /// No authentication.
    pub const NONE: u8 = 0;
    /// Simple text password ("PASS").
    pub const PASS: u8 = 1;
    /// IPsec AH (not supported here).
    pub const AH: u8 = 2;
}

/// VRRPv2 authentication as configured (`authentication { auth_type PASS ... }`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Auth {
    /// No authentication (the data field is zero).
    #[default]
    None,
    /// Password of at most 8 bytes, zero padded.
    Pass([u8; AUTH_LEN]),
}

impl Auth {
    /// A PASS authentication from a password (longer passwords are cut to 8
    /// bytes, as keepalived does).
    pub fn pass(password: &[u8]) -> Auth {
        let mut d = [0u8; AUTH_LEN];
        let n = password.len().min(AUTH_LEN);
        d[..n].copy_from_slice(&password[..n]);
        Auth::Pass(d)
    }

    /// The auth type number.
    pub fn type_number(&self) -> u8 {
        match self {
            Auth::None => auth_type::NONE,
            Auth::Pass(_) => auth_type::PASS,
        }
    }

    /// The 8 bytes of authentication data.
    pub fn data(&self) -> [u8; AUTH_LEN] {
        match self {
            Auth::None => [0; AUTH_LEN],
            Auth::Pass(d) => *d,
        }
    }
}

/// Addresses of an advert, borrowed from the packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddrList<'a> {
    family: Family,
    raw: &'a [u8],
}

impl<'a> AddrList<'a> {
    /// Number of addresses.
    pub fn len(&self) -> usize {
        self.raw.len() / self.family.addr_len()
    }

    /// True when there is none.
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// Family of the addresses.
    pub fn family(&self) -> Family {
        self.family
    }

    /// The addresses in order.
    pub fn iter(&self) -> impl Iterator<Item = IpAddr> + 'a {
        let fam = self.family;
        self.raw
            .chunks_exact(fam.addr_len())
            .map(move |c| match fam {
                Family::V4 => IpAddr::V4(Ipv4Addr::new(c[0], c[1], c[2], c[3])),
                Family::V6 => {
                    let mut a = [0u8; 16];
                    a.copy_from_slice(c);
                    IpAddr::V6(Ipv6Addr::from(a))
                }
            })
    }

    /// True when `a` is in the list.
    pub fn contains(&self, a: &IpAddr) -> bool {
        self.iter().any(|x| x == *a)
    }
}

/// A parsed advertisement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Advert<'a> {
    /// Protocol version.
    pub version: Version,
    /// Virtual router id.
    pub vrid: u8,
    /// Priority (0: the master stops, 255: address owner).
    pub priority: u8,
    /// v2: advertisement interval in seconds; v3: maximum advertisement
    /// interval in centiseconds (12 bits, reserved bits masked off).
    pub interval: u16,
    /// v2 authentication type (0 for v3).
    pub auth_type: u8,
    /// v2 authentication data (zero for v3 and for v2 over IPv6).
    pub auth_data: [u8; AUTH_LEN],
    /// Checksum as received.
    pub checksum: u16,
    /// Virtual addresses.
    pub addrs: AddrList<'a>,
}

impl Advert<'_> {
    /// The advertised interval as a duration.
    pub fn interval_duration(&self) -> std::time::Duration {
        match self.version {
            Version::V2 => std::time::Duration::from_secs(u64::from(self.interval)),
            Version::V3 => std::time::Duration::from_millis(u64::from(self.interval) * 10),
        }
    }
}

/// Where an advert came from, as the IP layer saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpInfo {
    /// Source address.
    pub src: IpAddr,
    /// Destination address (group or unicast).
    pub dst: IpAddr,
    /// TTL (IPv4) or hop limit (IPv6).
    pub ttl: u8,
}

/// Structural errors of a received packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum ParseError {
    /// Not an IPv4 packet, or IHL/total length inconsistent with the bytes.
    #[error("bad IPv4 header")]
    BadIpHeader,
    /// The IPv4 header checksum is wrong.
    #[error("bad IPv4 header checksum")]
    BadIpChecksum,
    /// IPsec AH authentication is not supported.
    #[error("IPsec AH authentication is not supported")]
    AhNotSupported,
    /// Not protocol 112.
    #[error("not a VRRP packet (protocol {0})")]
    NotVrrp(u8),
    /// Shorter than the VRRP header.
    #[error("vrrp header too short: {0} bytes")]
    TooShort(usize),
    /// Version other than 2 or 3.
    #[error("invalid VRRP version {0}")]
    BadVersion(u8),
    /// Type other than advertisement.
    #[error("invalid packet type {0}")]
    BadType(u8),
    /// Length does not match the address count (and auth data).
    #[error("packet length {got} does not match the expected {expected}")]
    BadLength {
        /// Received VRRP length.
        got: usize,
        /// Length implied by the address count.
        expected: usize,
    },
    /// Checksum mismatch.
    #[error("invalid VRRPv{0} checksum")]
    BadChecksum(u8),
}

/// Errors while building an advert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum EncodeError {
    /// More than 255 addresses.
    #[error("more than 255 addresses")]
    TooManyAddrs,
    /// Addresses of another family than the source/destination.
    #[error("address family mismatch")]
    FamilyMismatch,
    /// Interval out of range (v2: 1..=255 s; v3: 1..=4095 cs).
    #[error("advertisement interval out of range")]
    BadInterval,
}

/// Ones-complement sum of 16-bit big-endian words (RFC 1071), unfolded.
pub fn sum16(mut acc: u32, data: &[u8]) -> u32 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        acc += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        acc += u32::from(*last) << 8;
    }
    acc
}

/// Fold a sum and complement it.
pub fn fold(mut acc: u32) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

fn pseudo_sum(src: IpAddr, dst: IpAddr, len: usize) -> u32 {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let acc = sum16(0, &s.octets());
            let acc = sum16(acc, &d.octets());
            acc + u32::from(IPPROTO_VRRP) + len as u32
        }
        (s, d) => {
            let s6 = match s {
                IpAddr::V6(a) => a,
                IpAddr::V4(a) => a.to_ipv6_mapped(),
            };
            let d6 = match d {
                IpAddr::V6(a) => a,
                IpAddr::V4(a) => a.to_ipv6_mapped(),
            };
            let acc = sum16(0, &s6.octets());
            let acc = sum16(acc, &d6.octets());
            let l = len as u32;
            acc + (l >> 16) + (l & 0xffff) + u32::from(IPPROTO_VRRP)
        }
    }
}

/// The checksum a VRRP message must carry (the checksum field itself read as zero).
pub fn checksum(version: Version, src: IpAddr, dst: IpAddr, msg: &[u8]) -> u16 {
    let mut acc = if version == Version::V3 {
        pseudo_sum(src, dst, msg.len())
    } else {
        0
    };
    acc = sum16(acc, &msg[..6.min(msg.len())]);
    if msg.len() > 8 {
        acc = sum16(acc, &msg[8..]);
    }
    fold(acc)
}

/// Parse a VRRP message (the IP payload) received from `ip`. The address
/// family comes from `ip.src`.
pub fn parse<'a>(ip: &IpInfo, msg: &'a [u8]) -> Result<Advert<'a>, ParseError> {
    if msg.len() < HEADER_LEN {
        return Err(ParseError::TooShort(msg.len()));
    }
    let version = match msg[0] >> 4 {
        2 => Version::V2,
        3 => Version::V3,
        v => return Err(ParseError::BadVersion(v)),
    };
    let ty = msg[0] & 0x0f;
    if ty != TYPE_ADVERT {
        return Err(ParseError::BadType(ty));
    }
    let family = Family::of(&ip.src);
    let naddr = usize::from(msg[3]);
    let with_auth = version == Version::V2 && family == Family::V4;
    let expected = HEADER_LEN + naddr * family.addr_len() + if with_auth { AUTH_LEN } else { 0 };
    if msg.len() != expected {
        return Err(ParseError::BadLength {
            got: msg.len(),
            expected,
        });
    }
    let received = u16::from_be_bytes([msg[6], msg[7]]);
    if checksum(version, ip.src, ip.dst, msg) != received {
        return Err(ParseError::BadChecksum(version.number()));
    }
    let addr_end = HEADER_LEN + naddr * family.addr_len();
    let mut auth_data = [0u8; AUTH_LEN];
    if with_auth {
        auth_data.copy_from_slice(&msg[addr_end..addr_end + AUTH_LEN]);
    }
    let (auth_type, interval) = match version {
        Version::V2 => (msg[4], u16::from(msg[5])),
        Version::V3 => (0, u16::from_be_bytes([msg[4], msg[5]]) & MAX_V3_INTERVAL_CS),
    };
    Ok(Advert {
        version,
        vrid: msg[1],
        priority: msg[2],
        interval,
        auth_type,
        auth_data,
        checksum: received,
        addrs: AddrList {
            family,
            raw: &msg[HEADER_LEN..addr_end],
        },
    })
}

/// Parse a whole IPv4 packet (what a raw IPv4 socket delivers): checks the
/// header (version 4, IHL, total length equal to the bytes, header
/// checksum), the protocol (112; 51 = AH is reported as unsupported), then
/// the VRRP message. Returns the IP information with the advert.
pub fn parse_ipv4(pkt: &[u8]) -> Result<(IpInfo, Advert<'_>), ParseError> {
    if pkt.len() < 20 || pkt[0] >> 4 != 4 {
        return Err(ParseError::BadIpHeader);
    }
    let ihl = usize::from(pkt[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([pkt[2], pkt[3]]));
    if ihl < 20 || total != pkt.len() || ihl > total {
        return Err(ParseError::BadIpHeader);
    }
    if fold(sum16(0, &pkt[..ihl])) != 0 {
        return Err(ParseError::BadIpChecksum);
    }
    match pkt[9] {
        IPPROTO_VRRP => {}
        IPPROTO_AH => return Err(ParseError::AhNotSupported),
        p => return Err(ParseError::NotVrrp(p)),
    }
    let ip = IpInfo {
        src: IpAddr::V4(Ipv4Addr::new(pkt[12], pkt[13], pkt[14], pkt[15])),
        dst: IpAddr::V4(Ipv4Addr::new(pkt[16], pkt[17], pkt[18], pkt[19])),
        ttl: pkt[8],
    };
    let adv = parse(&ip, &pkt[ihl..])?;
    Ok((ip, adv))
}

/// What to put in an advert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdvertSpec<'a> {
    /// Version.
    pub version: Version,
    /// Virtual router id.
    pub vrid: u8,
    /// Priority to announce.
    pub priority: u8,
    /// v2: seconds; v3: centiseconds.
    pub interval: u16,
    /// v2 authentication (ignored for v3).
    pub auth: Auth,
    /// Virtual addresses (all of the family of `src`).
    pub addrs: &'a [IpAddr],
}

/// Append the VRRP message for `spec`, sent from `src` to `dst`, to `out`,
/// with its checksum.
pub fn encode(
    spec: &AdvertSpec<'_>,
    src: IpAddr,
    dst: IpAddr,
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    let family = Family::of(&src);
    if Family::of(&dst) != family {
        return Err(EncodeError::FamilyMismatch);
    }
    let naddr = u8::try_from(spec.addrs.len()).map_err(|_| EncodeError::TooManyAddrs)?;
    let word: [u8; 2] = match spec.version {
        Version::V2 => {
            let i = u8::try_from(spec.interval).map_err(|_| EncodeError::BadInterval)?;
            if i == 0 {
                return Err(EncodeError::BadInterval);
            }
            [spec.auth.type_number(), i]
        }
        Version::V3 => {
            if spec.interval == 0 || spec.interval > MAX_V3_INTERVAL_CS {
                return Err(EncodeError::BadInterval);
            }
            spec.interval.to_be_bytes()
        }
    };
    let start = out.len();
    out.push((spec.version.number() << 4) | TYPE_ADVERT);
    out.push(spec.vrid);
    out.push(spec.priority);
    out.push(naddr);
    out.extend_from_slice(&word);
    out.extend_from_slice(&[0, 0]);
    for a in spec.addrs {
        match (a, family) {
            (IpAddr::V4(a), Family::V4) => out.extend_from_slice(&a.octets()),
            (IpAddr::V6(a), Family::V6) => out.extend_from_slice(&a.octets()),
            _ => {
                out.truncate(start);
                return Err(EncodeError::FamilyMismatch);
            }
        }
    }
    if spec.version == Version::V2 && family == Family::V4 {
        out.extend_from_slice(&spec.auth.data());
    }
    let c = checksum(spec.version, src, dst, &out[start..]);
    out[start + 6..start + 8].copy_from_slice(&c.to_be_bytes());
    Ok(())
}

/// Append a whole IPv4 packet carrying the advert, as keepalived builds it
/// for its `IP_HDRINCL` socket: TOS 0xc0, no fragmentation flags, TTL 255,
/// protocol 112, the given IP id, and the header checksum filled in.
pub fn encode_ipv4(
    spec: &AdvertSpec<'_>,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    ip_id: u16,
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    let start = out.len();
    out.extend_from_slice(&[0x45, TOS, 0, 0]);
    out.extend_from_slice(&ip_id.to_be_bytes());
    out.extend_from_slice(&[0, 0, TTL, IPPROTO_VRRP, 0, 0]);
    out.extend_from_slice(&src.octets());
    out.extend_from_slice(&dst.octets());
    if let Err(e) = encode(spec, IpAddr::V4(src), IpAddr::V4(dst), out) {
        out.truncate(start);
        return Err(e);
    }
    let total = (out.len() - start) as u16;
    out[start + 2..start + 4].copy_from_slice(&total.to_be_bytes());
    let c = fold(sum16(0, &out[start..start + 20]));
    out[start + 10..start + 12].copy_from_slice(&c.to_be_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn v2_known_answer() {
        // VRRPv2, VRID 51, priority 150, 2 addresses, auth PASS "lvsrs12", interval 1:
        //   21 33 96 02 | 01 01 cs cs | 0a 00 05 64 | 0a 00 05 65 | 6c 76 73 72 73 31 32 00
        // 16-bit words: 2133 9602 0101 0a00 0564 0a00 0565 6c76 7372 7331 3200
        //   sum = 2133+9602 = b735; +0101 = b836; +0a00 = c236; +0564 = c79a; +0a00 = d19a;
        //         +0565 = d6ff; +6c76 = 14375 -> 4376; +7372 = b6e8; +7331 = 12a19 -> 2a1a;
        //         +3200 = 5c1a
        //   checksum = ~5c1a = a3e5
        let spec = AdvertSpec {
            version: Version::V2,
            vrid: 51,
            priority: 150,
            interval: 1,
            auth: Auth::pass(b"lvsrs12"),
            addrs: &[v4("10.0.5.100"), v4("10.0.5.101")],
        };
        let mut out = vec![];
        encode(&spec, v4("10.0.5.1"), v4("224.0.0.18"), &mut out).unwrap();
        assert_eq!(
            out,
            vec![
                0x21, 0x33, 0x96, 0x02, 0x01, 0x01, 0xa3, 0xe5, 10, 0, 5, 100, 10, 0, 5, 101, b'l',
                b'v', b's', b'r', b's', b'1', b'2', 0
            ]
        );
        let ip = IpInfo {
            src: v4("10.0.5.1"),
            dst: v4("224.0.0.18"),
            ttl: 255,
        };
        let a = parse(&ip, &out).unwrap();
        assert_eq!(
            (a.version, a.vrid, a.priority, a.interval, a.auth_type),
            (Version::V2, 51, 150, 1, 1)
        );
        assert_eq!(a.auth_data, *b"lvsrs12\0");
        assert_eq!(
            a.addrs.iter().collect::<Vec<_>>(),
            vec![v4("10.0.5.100"), v4("10.0.5.101")]
        );
    }

    #[test]
    fn v3_ipv4_known_answer() {
        // VRRPv3 from 10.0.5.1 to 224.0.0.18, VRID 52, priority 200, interval 50 cs,
        // one address 10.0.5.100:
        //   31 34 c8 01 | 00 32 cs cs | 0a 00 05 64
        // pseudo-header: 0a00 0501 e000 0012 + 0070 (proto) + 000c (length 12)
        //   = 0a00+0501 = 0f01; +e000 = ef01; +0012 = ef13; +0070 = ef83; +000c = ef8f
        // message: 3134 c801 0032 0a00 0564
        //   ef8f+3134 = 120c3 -> 20c4; +c801 = e8c5; +0032 = e8f7; +0a00 = f2f7;
        //   +0564 = f85b;  checksum = ~f85b = 07a4
        let spec = AdvertSpec {
            version: Version::V3,
            vrid: 52,
            priority: 200,
            interval: 50,
            auth: Auth::None,
            addrs: &[v4("10.0.5.100")],
        };
        let mut out = vec![];
        encode(&spec, v4("10.0.5.1"), v4("224.0.0.18"), &mut out).unwrap();
        assert_eq!(
            out,
            vec![
                0x31, 0x34, 0xc8, 0x01, 0x00, 0x32, 0x07, 0xa4, 10, 0, 5, 100
            ]
        );
    }

    #[test]
    fn v3_ipv6_known_answer() {
        // VRRPv3 from fe80::1 to ff02::12, VRID 53, priority 100, 100 cs, fd00:5::100:
        //   31 35 64 01 | 00 64 cs cs | fd00 0005 0000 0000 0000 0000 0000 0100
        // pseudo-header: fe80 + 0001 + ff02 + 0012 + length 0000 0018 + 0070
        //   = fe80+0001 = fe81; +ff02 = 1fd83 -> fd84; +0012 = fd96; +0018 = fdae;
        //   +0070 = fe1e
        // message: 3135 6401 0064 fd00 0005 0100
        //   fe1e+3135 = 12f53 -> 2f54; +6401 = 9355; +0064 = 93b9; +fd00 = 190b9 -> 90ba;
        //   +0005 = 90bf; +0100 = 91bf;  checksum = ~91bf = 6e40
        let spec = AdvertSpec {
            version: Version::V3,
            vrid: 53,
            priority: 100,
            interval: 100,
            auth: Auth::None,
            addrs: &[v4("fd00:5::100")],
        };
        let mut out = vec![];
        encode(&spec, v4("fe80::1"), v4("ff02::12"), &mut out).unwrap();
        assert_eq!(&out[..8], &[0x31, 0x35, 0x64, 0x01, 0x00, 0x64, 0x6e, 0x40]);
        assert_eq!(out.len(), 24);
    }

    #[test]
    fn ipv4_packet_round_trip_and_errors() {
        let spec = AdvertSpec {
            version: Version::V3,
            vrid: 1,
            priority: 100,
            interval: 100,
            auth: Auth::None,
            addrs: &[v4("192.0.2.1")],
        };
        let mut pkt = vec![];
        encode_ipv4(&spec, "192.0.2.10".parse().unwrap(), GROUP_V4, 7, &mut pkt).unwrap();
        assert_eq!(pkt.len(), 20 + 12);
        let (ip, a) = parse_ipv4(&pkt).unwrap();
        assert_eq!((ip.ttl, ip.src, a.vrid), (255, v4("192.0.2.10"), 1));
        // Corruptions.
        let mut bad = pkt.clone();
        bad[9] = 51;
        assert_eq!(parse_ipv4(&bad).map(|_| ()), Err(ParseError::BadIpChecksum));
        let mut bad = pkt.clone();
        bad[20 + 9] ^= 1;
        assert_eq!(
            parse_ipv4(&bad).map(|_| ()),
            Err(ParseError::BadChecksum(3))
        );
        let mut bad = pkt.clone();
        bad.push(0);
        assert_eq!(parse_ipv4(&bad).map(|_| ()), Err(ParseError::BadIpHeader));
        let ip = IpInfo {
            src: v4("192.0.2.10"),
            dst: v4("224.0.0.18"),
            ttl: 255,
        };
        let mut m = pkt[20..].to_vec();
        m[0] = 0x41;
        assert_eq!(parse(&ip, &m), Err(ParseError::BadVersion(4)));
        m[0] = 0x32;
        assert_eq!(parse(&ip, &m), Err(ParseError::BadType(2)));
        m[0] = 0x31;
        m[3] = 2;
        assert_eq!(
            parse(&ip, &m),
            Err(ParseError::BadLength {
                got: 12,
                expected: 16
            })
        );
        assert_eq!(parse(&ip, &m[..7]), Err(ParseError::TooShort(7)));
    }

    #[test]
    fn encode_errors() {
        let mut out = vec![];
        let spec = AdvertSpec {
            version: Version::V2,
            vrid: 1,
            priority: 1,
            interval: 256,
            auth: Auth::None,
            addrs: &[],
        };
        assert_eq!(
            encode(&spec, v4("1.1.1.1"), v4("224.0.0.18"), &mut out),
            Err(EncodeError::BadInterval)
        );
        let spec = AdvertSpec {
            version: Version::V3,
            interval: 4096,
            ..spec
        };
        assert_eq!(
            encode(&spec, v4("1.1.1.1"), v4("224.0.0.18"), &mut out),
            Err(EncodeError::BadInterval)
        );
        let spec = AdvertSpec {
            interval: 100,
            addrs: &[v4("::1")],
            ..spec
        };
        assert_eq!(
            encode(&spec, v4("1.1.1.1"), v4("224.0.0.18"), &mut out),
            Err(EncodeError::FamilyMismatch)
        );
        assert!(out.is_empty());
    }
}
