//! Number and address parsing exactly as ipvsadm 1.31 does it (with glibc's
//! `strtol`, `inet_aton`, `inet_pton` and `atoi` rules), so that the same
//! strings are accepted and refused.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use lvs_proto::Protocol;

use crate::resolve::Resolver;

fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// C `strtol(s, &end, 10)`: `(value, consumed)`; `None` on overflow (`ERANGE`).
/// `consumed` is 0 when no digits were found.
fn strtol10(s: &str) -> Option<(i64, usize)> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() && is_c_space(b[i]) {
        i += 1;
    }
    let neg = match b.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let start = i;
    let mut v: i64 = 0;
    let mut overflow = false;
    while i < b.len() && b[i].is_ascii_digit() {
        let d = i64::from(b[i] - b'0');
        match v.checked_mul(10).and_then(|x| {
            if neg {
                x.checked_sub(d)
            } else {
                x.checked_add(d)
            }
        }) {
            Some(x) => v = x,
            None => overflow = true,
        }
        i += 1;
    }
    if i == start {
        return Some((0, 0));
    }
    if overflow { None } else { Some((v, i)) }
}

/// ipvsadm's `string_to_number(s, min, max)`: a whole-string base-10 integer
/// (leading blanks and a sign allowed, as `strtol` does) within `min..=max`.
pub fn string_to_number(s: &str, min: i64, max: i64) -> Option<i64> {
    let (v, used) = strtol10(s)?;
    (used != 0 && used == s.len() && (min..=max).contains(&v)).then_some(v)
}

/// ipvsadm's `str_is_digit`: true when every byte is an ASCII digit (also for
/// the empty string).
pub fn str_is_digit(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_digit())
}

/// C `atoi` (glibc: `(int) strtol(s, NULL, 10)`, saturating then truncated).
pub fn atoi(s: &str) -> i32 {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() && is_c_space(b[i]) {
        i += 1;
    }
    let neg = match b.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let mut v: i64 = 0;
    while i < b.len() && b[i].is_ascii_digit() {
        let d = i64::from(b[i] - b'0');
        v = if neg {
            v.saturating_mul(10).saturating_sub(d)
        } else {
            v.saturating_mul(10).saturating_add(d)
        };
        i += 1;
    }
    v as i32
}

/// ipvsadm's `parse_fwmark`: a base-10 integer in `1..=u32::MAX`.
pub fn parse_fwmark(s: &str) -> Option<u32> {
    let (v, used) = strtol10(s)?;
    if used == 0 || used != s.len() || v <= 0 {
        return None;
    }
    u32::try_from(v).ok()
}

/// One part of an `inet_aton` address: `strtoul(.., 0)` (`0x` hex, `0` octal,
/// decimal). Returns the value (`None` if beyond 32 bits) and bytes consumed.
fn aton_part(b: &[u8]) -> (Option<u64>, usize) {
    let (radix, mut i) = if b.len() > 2
        && b[0] == b'0'
        && (b[1] == b'x' || b[1] == b'X')
        && b[2].is_ascii_hexdigit()
    {
        (16, 2)
    } else if b.first() == Some(&b'0') {
        (8, 0)
    } else {
        (10, 0)
    };
    let mut v: Option<u64> = Some(0);
    while i < b.len() {
        let Some(d) = (b[i] as char).to_digit(radix) else {
            break;
        };
        v = v
            .and_then(|x| x.checked_mul(u64::from(radix)))
            .and_then(|x| x.checked_add(u64::from(d)));
        v = v.filter(|x| *x <= 0xffff_ffff);
        i += 1;
    }
    (v, i)
}

/// glibc `inet_aton`: `a`, `a.b`, `a.b.c` or `a.b.c.d`, each part decimal,
/// octal (`0`) or hex (`0x`), the last part filling the remaining bytes;
/// trailing blanks (and anything after them) are ignored.
pub fn inet_aton(s: &str) -> Option<Ipv4Addr> {
    let b = s.as_bytes();
    let mut parts: Vec<u64> = Vec::with_capacity(4);
    let mut i = 0;
    loop {
        if !b.get(i).is_some_and(u8::is_ascii_digit) {
            return None;
        }
        let (v, used) = aton_part(&b[i..]);
        let v = v?;
        i += used;
        if b.get(i) == Some(&b'.') {
            if parts.len() >= 3 || v > 0xff {
                return None;
            }
            parts.push(v);
            i += 1;
        } else {
            parts.push(v);
            break;
        }
    }
    if b.get(i).is_some_and(|&c| !is_c_space(c)) {
        return None;
    }
    let last = *parts.last()?;
    let max: u64 = match parts.len() {
        1 => 0xffff_ffff,
        2 => 0xff_ffff,
        3 => 0xffff,
        _ => 0xff,
    };
    if last > max {
        return None;
    }
    let mut word: u64 = 0;
    for (k, p) in parts[..parts.len() - 1].iter().enumerate() {
        word |= p << (24 - 8 * k);
    }
    word |= last;
    Some(Ipv4Addr::from(word as u32))
}

/// `inet_pton(AF_INET6, ..)`.
pub fn inet_pton6(s: &str) -> Option<Ipv6Addr> {
    s.parse().ok()
}

/// `inet_pton(AF_INET, ..)`: strict dotted quad, decimal, no leading zeros.
pub fn inet_pton4(s: &str) -> Option<Ipv4Addr> {
    s.parse().ok()
}

/// What ipvsadm's `parse_service` extracted from `host[:port]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostPort {
    /// The address.
    pub addr: IpAddr,
    /// The port, when one was given (`SERVICE_PORT`).
    pub port: Option<u16>,
}

/// ipvsadm's `parse_service`: `host`, `host:port`, `[ipv6]:port` or a bare
/// IPv6 address. The host is an IPv6 literal, an `inet_aton` IPv4 form or a
/// name resolved to IPv4; the port a number or a service name for `proto`.
/// `None` is ipvsadm's `SERVICE_NONE` (an all-digit string, a bracketed
/// address without `:port`, an unknown host or port).
///
/// As in ipvsadm, a bracketed non-IPv6 address loses its port
/// (`[10.0.0.1]:80` is 10.0.0.1 without port).
pub fn parse_service(buf: &str, proto: Option<Protocol>, r: &dyn Resolver) -> Option<HostPort> {
    if str_is_digit(buf) {
        return None;
    }
    let mut host = buf;
    let mut port: Option<&str> = None;
    if let Some(rest) = buf.strip_prefix('[') {
        let close = rest.find(']')?;
        host = &rest[..close];
        port = Some(rest[close + 1..].strip_prefix(':')?);
    }
    let addr = if let Some(a6) = inet_pton6(host) {
        IpAddr::V6(a6)
    } else {
        port = None;
        if let Some(i) = host.rfind(':') {
            port = Some(&host[i + 1..]);
            host = &host[..i];
        }
        IpAddr::V4(inet_aton(host).or_else(|| r.host_to_ipv4(host))?)
    };
    let port = match port {
        None => None,
        Some(p) => Some(match string_to_number(p, 0, 65535) {
            Some(n) => n as u16,
            None => r.service_to_port(p, proto?)?,
        }),
    };
    Some(HostPort { addr, port })
}

/// ipvsadm's `parse_netmask` for IPv4: `inet_aton` or a host name. Returns
/// the mask as a host-order integer.
pub fn parse_netmask(s: &str, r: &dyn Resolver) -> Option<u32> {
    inet_aton(s).or_else(|| r.host_to_ipv4(s)).map(u32::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resolve::NoNames;
    use proptest::prelude::*;

    #[test]
    fn string_to_number_follows_strtol() {
        assert_eq!(string_to_number("300", 1, 400), Some(300));
        assert_eq!(string_to_number("+30", 1, 400), Some(30));
        assert_eq!(string_to_number(" 30", 1, 400), Some(30));
        assert_eq!(string_to_number("30 ", 1, 400), None);
        assert_eq!(string_to_number("30x", 1, 400), None);
        assert_eq!(string_to_number("", 0, 400), None);
        assert_eq!(string_to_number("+", 0, 400), None);
        assert_eq!(string_to_number("-0", 0, 400), Some(0));
        assert_eq!(string_to_number("0", 1, 400), None);
        assert_eq!(string_to_number("99999999999999999999", 0, i64::MAX), None);
    }

    #[test]
    fn inet_aton_forms() {
        let a = |s: &str| inet_aton(s).map(|a| a.to_string());
        assert_eq!(a("10.0.0.1").as_deref(), Some("10.0.0.1"));
        assert_eq!(a("10.2").as_deref(), Some("10.0.0.2"));
        assert_eq!(a("10.1.2").as_deref(), Some("10.1.0.2"));
        assert_eq!(a("1234").as_deref(), Some("0.0.4.210"));
        assert_eq!(a("0x0a000002").as_deref(), Some("10.0.0.2"));
        assert_eq!(a("012.0.0.1").as_deref(), Some("10.0.0.1"));
        assert_eq!(a("24").as_deref(), Some("0.0.0.24"));
        assert_eq!(a("1.2.3.4 junk").as_deref(), Some("1.2.3.4"));
        assert_eq!(a("10.0.0.256"), None);
        assert_eq!(a("08.0.0.1"), None);
        assert_eq!(a("1..2"), None);
        assert_eq!(a("1.2.3.4.5"), None);
        assert_eq!(a("0x"), None);
        assert_eq!(a("4294967296"), None);
        assert_eq!(a("256.1"), None);
        assert_eq!(a("1.16777216"), None);
        assert_eq!(a(""), None);
        assert_eq!(a("foo"), None);
    }

    proptest! {
        #[test]
        fn inet_aton_reads_every_dotted_quad(a: u8, b: u8, c: u8, d: u8) {
            let s = format!("{a}.{b}.{c}.{d}");
            prop_assert_eq!(inet_aton(&s), Some(Ipv4Addr::new(a, b, c, d)));
        }

        #[test]
        fn inet_aton_reads_any_u32(x: u32) {
            prop_assert_eq!(inet_aton(&x.to_string()), Some(Ipv4Addr::from(x)));
            prop_assert_eq!(inet_aton(&format!("{x:#x}")), Some(Ipv4Addr::from(x)));
        }

        #[test]
        fn string_to_number_agrees_with_parse(n in -100_000i64..100_000) {
            prop_assert_eq!(string_to_number(&n.to_string(), -100_000, 100_000), Some(n));
        }
    }

    #[test]
    fn fwmark_range() {
        assert_eq!(parse_fwmark("1"), Some(1));
        assert_eq!(parse_fwmark("4294967295"), Some(u32::MAX));
        assert_eq!(parse_fwmark("4294967296"), None);
        assert_eq!(parse_fwmark("0"), None);
        assert_eq!(parse_fwmark("-1"), None);
        assert_eq!(parse_fwmark("1x"), None);
        assert_eq!(parse_fwmark(""), None);
    }

    #[test]
    fn atoi_stops_at_garbage() {
        assert_eq!(atoi("64abc"), 64);
        assert_eq!(atoi("abc"), 0);
        assert_eq!(atoi(" -5"), -5);
    }

    #[test]
    fn service_forms() {
        let p = |s: &str| parse_service(s, Some(Protocol::Tcp), &NoNames);
        let v4 = |s: &str| IpAddr::V4(s.parse().unwrap());
        let v6 = |s: &str| IpAddr::V6(s.parse().unwrap());
        assert_eq!(
            p("10.0.0.1:80"),
            Some(HostPort {
                addr: v4("10.0.0.1"),
                port: Some(80)
            })
        );
        assert_eq!(
            p("10.0.0.1"),
            Some(HostPort {
                addr: v4("10.0.0.1"),
                port: None
            })
        );
        assert_eq!(
            p("1234:80"),
            Some(HostPort {
                addr: v4("0.0.4.210"),
                port: Some(80)
            })
        );
        assert_eq!(p("1234"), None);
        assert_eq!(
            p("[2001:db8::2]:80"),
            Some(HostPort {
                addr: v6("2001:db8::2"),
                port: Some(80)
            })
        );
        assert_eq!(
            p("2001:db8::2"),
            Some(HostPort {
                addr: v6("2001:db8::2"),
                port: None
            })
        );
        assert_eq!(p("[2001:db8::2]"), None);
        assert_eq!(p("[2001:db8::2:80"), None);
        assert_eq!(
            p("[10.0.0.2]:80"),
            Some(HostPort {
                addr: v4("10.0.0.2"),
                port: None
            })
        );
        assert_eq!(p("10.0.0.2:"), None);
        assert_eq!(p("10.0.0.2:65536"), None);
        assert_eq!(p("10.0.0.2:http"), None, "no names without a resolver");
        assert_eq!(p(""), None);
    }
}
