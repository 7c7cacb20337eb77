//! Parameter values: numbers, timers, booleans, addresses, hex strings.
//!
//! Stricter than keepalived's `strtoul`/`strtod` in one way on purpose: a
//! value with trailing garbage (`3x`, `$X.1`) is an error here, where
//! keepalived 2.2.7 outside `-t` warns and uses the numeric prefix.

use std::net::IpAddr;
use std::time::Duration;

/// Unsigned decimal integer within `lo..=hi`.
pub(crate) fn uint(s: &str, lo: u64, hi: u64) -> Result<u64, String> {
    let digits = s.strip_prefix('+').unwrap_or(s);
    if s.starts_with('-') && digits.len() > 1 && digits[1..].bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("negative number, expected {lo}..={hi}"));
    }
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("not a number, expected {lo}..={hi}"));
    }
    match digits.parse::<u64>() {
        Ok(v) if (lo..=hi).contains(&v) => Ok(v),
        _ => Err(format!("out of range, expected {lo}..={hi}")),
    }
}

/// Signed decimal integer within `lo..=hi`.
pub(crate) fn int(s: &str, lo: i64, hi: i64) -> Result<i64, String> {
    let (neg, digits) = match s.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("not a number, expected {lo}..={hi}"));
    }
    let v = match digits.parse::<i64>() {
        Ok(v) => {
            if neg {
                -v
            } else {
                v
            }
        }
        Err(_) => return Err(format!("out of range, expected {lo}..={hi}")),
    };
    if (lo..=hi).contains(&v) {
        Ok(v)
    } else {
        Err(format!("out of range, expected {lo}..={hi}"))
    }
}

/// keepalived's `<TIMER>`: seconds with an optional fraction, microsecond
/// resolution (extra digits are truncated), within `lo..=hi`.
pub(crate) fn timer(s: &str, lo: Duration, hi: Duration) -> Result<Duration, String> {
    let range = || format!("expected seconds {}..={}", fmt_secs(lo), fmt_secs(hi));
    let (int_part, frac) = match s.split_once('.') {
        Some((i, f)) => (i, f),
        None => (s, ""),
    };
    let int_part = int_part.strip_prefix('+').unwrap_or(int_part);
    let ok_int = int_part.bytes().all(|b| b.is_ascii_digit());
    let ok_frac = frac.bytes().all(|b| b.is_ascii_digit());
    if (int_part.is_empty() && frac.is_empty()) || !ok_int || !ok_frac {
        return Err(format!("not a number, {}", range()));
    }
    let secs: u64 = if int_part.is_empty() {
        0
    } else {
        int_part
            .parse()
            .map_err(|_| format!("out of range, {}", range()))?
    };
    let mut micros: u32 = 0;
    for (i, d) in frac.bytes().take(6).enumerate() {
        micros += u32::from(d - b'0') * 10u32.pow(5 - i as u32);
    }
    let d = Duration::from_secs(secs)
        .checked_add(Duration::from_micros(u64::from(micros)))
        .ok_or_else(|| format!("out of range, {}", range()))?;
    if d < lo || d > hi {
        return Err(format!("out of range, {}", range()));
    }
    Ok(d)
}

fn fmt_secs(d: Duration) -> String {
    if d.subsec_micros() == 0 {
        d.as_secs().to_string()
    } else {
        format!("{}.{:06}", d.as_secs(), d.subsec_micros())
            .trim_end_matches('0')
            .to_owned()
    }
}

/// `on|off|true|false|yes|no`.
pub(crate) fn boolean(s: &str) -> Option<bool> {
    match s {
        "on" | "true" | "yes" => Some(true),
        "off" | "false" | "no" => Some(false),
        _ => None,
    }
}

/// An IPv4 or IPv6 address (numeric).
pub(crate) fn ip(s: &str) -> Result<IpAddr, String> {
    s.parse::<IpAddr>()
        .map_err(|_| "not an IPv4 or IPv6 address".to_owned())
}

/// A port 0..=65535 (0 = none).
pub(crate) fn port(s: &str) -> Result<u16, String> {
    uint(s, 0, 65535).map(|v| v as u16)
}

/// keepalived's free-format hex: words of hex digits, two digits a byte
/// from the left, an odd last digit is a byte of its own (`Ab12f 3` is
/// `AB 12 0F 03`). With `wild`, `X`/`x` digits match anything.
pub(crate) fn hex_pattern(words: &[&str], wild: bool) -> Result<(Vec<u8>, Vec<u8>), String> {
    let mut bytes = Vec::new();
    let mut masks = Vec::new();
    for w in words {
        let digits: Vec<char> = w.chars().collect();
        for pair in digits.chunks(2) {
            let mut v = 0u8;
            let mut m = 0u8;
            for &c in pair {
                let (dv, dm) = match c.to_digit(16) {
                    Some(d) => (d as u8, 0xf),
                    None if wild && (c == 'x' || c == 'X') => (0, 0),
                    None => return Err(format!("`{c}` is not a hex digit")),
                };
                v = (v << 4) | dv;
                m = (m << 4) | dm;
            }
            if pair.len() == 1 {
                // A lone digit is the low nibble; the high nibble is 0.
                m |= 0xf0;
            }
            bytes.push(v);
            masks.push(m);
        }
    }
    if bytes.is_empty() {
        return Err("no hex digits".to_owned());
    }
    Ok((bytes, masks))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsigned_numbers() {
        assert_eq!(uint("42", 0, 100), Ok(42));
        assert_eq!(uint("+7", 0, 100), Ok(7));
        assert!(uint("101", 0, 100).unwrap_err().contains("out of range"));
        assert!(uint("-4", 0, 100).unwrap_err().contains("negative"));
        assert!(uint("abc", 0, 100).unwrap_err().contains("not a number"));
        assert!(uint("3x", 0, 100).is_err());
        assert!(uint("", 0, 100).is_err());
        assert!(uint("99999999999999999999999", 0, u64::MAX).is_err());
    }

    #[test]
    fn signed_numbers() {
        assert_eq!(int("-253", -253, 253), Ok(-253));
        assert_eq!(int("+10", -253, 253), Ok(10));
        assert!(int("-254", -253, 253).is_err());
        assert!(int("-", -253, 253).is_err());
    }

    #[test]
    fn timers() {
        let max = Duration::from_secs(1_000_000);
        assert_eq!(timer("3", Duration::ZERO, max), Ok(Duration::from_secs(3)));
        assert_eq!(
            timer("2.71828", Duration::ZERO, max),
            Ok(Duration::from_micros(2_718_280))
        );
        assert_eq!(
            timer("0.0000019", Duration::ZERO, max),
            Ok(Duration::from_micros(1))
        );
        assert_eq!(
            timer(".5", Duration::ZERO, max),
            Ok(Duration::from_millis(500))
        );
        assert_eq!(timer("5.", Duration::ZERO, max), Ok(Duration::from_secs(5)));
        assert!(
            timer("0", Duration::from_secs(1), max)
                .unwrap_err()
                .contains("1..=")
        );
        assert!(timer("1e3", Duration::ZERO, max).is_err());
        assert!(timer(".", Duration::ZERO, max).is_err());
        assert!(timer("-1", Duration::ZERO, max).is_err());
    }

    #[test]
    fn hex_free_format_from_man_page() {
        // keepalived.conf(5): "Ab12f 3 456 546443123" is AB 12 0F 03 45 06 54 64 43 12 03.
        let (b, m) = hex_pattern(&["Ab12f", "3", "456", "546443123"], false).unwrap();
        assert_eq!(
            b,
            [
                0xAB, 0x12, 0x0F, 0x03, 0x45, 0x06, 0x54, 0x64, 0x43, 0x12, 0x03
            ]
        );
        assert!(m.iter().all(|&m| m == 0xff));
        let (b, m) = hex_pattern(&["1X", "x"], true).unwrap();
        assert_eq!(b, [0x10, 0x00]);
        assert_eq!(m, [0xf0, 0xf0]);
        assert!(hex_pattern(&["1X"], false).is_err());
        assert!(hex_pattern(&["zz"], true).is_err());
    }
}
