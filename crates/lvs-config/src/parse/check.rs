//! Checker blocks: `TCP_CHECK`, `HTTP_GET`, `SSL_GET`, `SMTP_CHECK`,
//! `DNS_CHECK`, `MISC_CHECK`, `UDP_CHECK`, `PING_CHECK`.

use std::time::Duration;

use super::Cx;
use super::lvs::check_defaults_stmt;
use crate::diag::DiagKind;
use crate::model::{
    CheckDefaults, CheckKind, CheckTiming, Checker, ConnectOptions, DnsCheck, DnsType, HexPattern,
    HttpCheck, HttpProtocol, MiscCheck, SmtpCheck, UdpCheck, UrlCheck,
};
use crate::tree::{Block, Stmt};
use crate::value;

/// keepalived checkers lvs-rs does not implement.
pub(super) const UNSUPPORTED_CHECKERS: &[&str] = &["BFD_CHECK", "FILE_CHECK"];

pub(super) fn is_checker(kw: &str) -> bool {
    matches!(
        kw,
        "TCP_CHECK"
            | "HTTP_GET"
            | "SSL_GET"
            | "SMTP_CHECK"
            | "DNS_CHECK"
            | "MISC_CHECK"
            | "UDP_CHECK"
            | "PING_CHECK"
    )
}

pub(super) fn checker(cx: &mut Cx<'_>, s: &Stmt) -> Option<Checker> {
    let kw = s.keyword();
    cx.max_args(s, 0);
    let b = cx.block(s)?;
    let mut c = Checker {
        location: s.loc().clone(),
        kind: CheckKind::Tcp,
        connect: ConnectOptions::default(),
        written: CheckDefaults::default(),
        alpha: None,
        log_all_failures: None,
        timing: CheckTiming::default(),
    };
    let misc = kw == "MISC_CHECK";
    let mut http = HttpCheck::default();
    let mut smtp = SmtpCheck::default();
    let mut dns = DnsCheck::default();
    let mut udp = UdpCheck::default();
    let mut misc_path = None;
    let mut misc_timeout = None;
    let mut misc_dynamic = false;
    let mut misc_user = None;
    for s in &b.stmts {
        let k = s.keyword();
        // Options common to every checker (MISC_CHECK: only `alpha` onwards).
        if !misc && connect_stmt(cx, s, &mut c.connect) {
            continue;
        }
        match k {
            "alpha" => {
                c.alpha = cx.bool_kw(s).or(c.alpha);
                continue;
            }
            "log_all_failures" => {
                c.log_all_failures = cx.bool_kw(s).or(c.log_all_failures);
                continue;
            }
            _ => {}
        }
        if check_defaults_stmt(cx, s, &mut c.written, 0) {
            continue;
        }
        let handled = match kw {
            "HTTP_GET" | "SSL_GET" => http_stmt(cx, s, &mut http),
            "SMTP_CHECK" => match k {
                "helo_name" => {
                    smtp.helo_name = cx.string_kw(s);
                    true
                }
                "host" => {
                    cx.unsupported(s);
                    true
                }
                _ => false,
            },
            "DNS_CHECK" => match k {
                "type" => {
                    if let Some(t) = cx.string_kw(s) {
                        match dns_type(&t) {
                            Some(q) => dns.qtype = q,
                            None => cx.invalid(
                                &s.words[1],
                                k,
                                "expected A, NS, CNAME, SOA, MX, TXT or AAAA",
                            ),
                        }
                    }
                    true
                }
                "name" => {
                    if let Some(n) = cx.string_kw(s) {
                        dns.name = n;
                    }
                    true
                }
                _ => false,
            },
            "MISC_CHECK" => match k {
                "misc_path" => {
                    if misc_path.is_some() {
                        cx.warn(
                            DiagKind::Duplicate,
                            s.loc(),
                            "`misc_path` already specified - replacing".to_owned(),
                            k,
                        );
                    }
                    misc_path = cx.script_kw(s).or(misc_path.take());
                    true
                }
                "misc_timeout" => {
                    misc_timeout = cx
                        .u32_kw(s, 1, u32::MAX)
                        .map(|v| Duration::from_secs(u64::from(v)));
                    true
                }
                "misc_dynamic" => {
                    misc_dynamic = cx.flag_kw(s);
                    true
                }
                "user" => {
                    misc_user = cx.user_kw(s);
                    true
                }
                _ => false,
            },
            "UDP_CHECK" => udp_stmt(cx, s, &mut udp),
            _ => false,
        };
        if !handled {
            cx.unknown(s);
        }
    }
    c.kind = match kw {
        "TCP_CHECK" => CheckKind::Tcp,
        "PING_CHECK" => CheckKind::Ping,
        "HTTP_GET" | "SSL_GET" => {
            if http.urls.is_empty() {
                cx.err(
                    DiagKind::Missing,
                    s.loc(),
                    format!("`{kw}` has no `url` block to check"),
                    kw,
                );
                return None;
            }
            if kw == "HTTP_GET" {
                CheckKind::Http(http)
            } else {
                CheckKind::Ssl(http)
            }
        }
        "SMTP_CHECK" => CheckKind::Smtp(smtp),
        "DNS_CHECK" => CheckKind::Dns(dns),
        "UDP_CHECK" => CheckKind::Udp(udp),
        "MISC_CHECK" => {
            let Some(path) = misc_path else {
                cx.err(
                    DiagKind::Missing,
                    s.loc(),
                    "`MISC_CHECK` has no `misc_path`".to_owned(),
                    kw,
                );
                return None;
            };
            CheckKind::Misc(MiscCheck {
                path,
                timeout: misc_timeout,
                dynamic: misc_dynamic,
                user: misc_user,
            })
        }
        _ => return None,
    };
    Some(c)
}

/// `connect_ip`, `connect_port`, `bindto`, `bind_if`, `bind_port`,
/// `fwmark`.
fn connect_stmt(cx: &mut Cx<'_>, s: &Stmt, c: &mut ConnectOptions) -> bool {
    match s.keyword() {
        "connect_ip" => c.connect_ip = cx.ip_kw(s).or(c.connect_ip),
        "connect_port" => {
            if cx.simple(s) {
                cx.max_args(s, 1);
                c.connect_port = cx.port_at(s, 1).or(c.connect_port);
            }
        }
        "bindto" => c.bindto = cx.ip_kw(s).or(c.bindto),
        "bind_if" => {
            cx.not_applied(s);
            c.bind_if = cx.string_kw(s).or(c.bind_if.take());
        }
        "bind_port" => {
            if cx.simple(s) {
                cx.max_args(s, 1);
                c.bind_port = cx.port_at(s, 1).or(c.bind_port);
            }
        }
        "fwmark" => {
            cx.not_applied(s);
            c.fwmark = cx.u32_kw(s, 0, u32::MAX).or(c.fwmark);
        }
        _ => return false,
    }
    true
}

fn http_stmt(cx: &mut Cx<'_>, s: &Stmt, h: &mut HttpCheck) -> bool {
    let k = s.keyword();
    match k {
        "http_protocol" => {
            if let Some(v) = cx.string_kw(s) {
                h.http_protocol = match v.as_str() {
                    "1.0" => Some(HttpProtocol::V1_0),
                    "1.0C" | "1.0c" => Some(HttpProtocol::V1_0C),
                    "1.1" => Some(HttpProtocol::V1_1),
                    _ => {
                        cx.invalid(&s.words[1], k, "expected 1.0, 1.0C or 1.1");
                        h.http_protocol
                    }
                };
            }
        }
        "fast_recovery" => h.fast_recovery = cx.bool_kw(s).or(h.fast_recovery),
        "virtualhost" => h.virtualhost = cx.string_kw(s),
        "enable_sni" => h.enable_sni |= cx.flag_kw(s),
        "sni_name" => h.sni_name = cx.string_kw(s),
        "tls_compliant" => h.tls_compliant |= cx.flag_kw(s),
        "url" => {
            cx.max_args(s, 0);
            if let Some(b) = cx.block(s)
                && let Some(u) = url(cx, s, b)
            {
                h.urls.push(u);
            }
        }
        _ => return false,
    }
    true
}

fn url(cx: &mut Cx<'_>, s: &Stmt, b: &Block) -> Option<UrlCheck> {
    let mut u = UrlCheck {
        location: s.loc().clone(),
        path: String::new(),
        digest: None,
        status_codes: Vec::new(),
        virtualhost: None,
        regex: None,
        regex_no_match: false,
        regex_options: Vec::new(),
        regex_min_offset: None,
        regex_max_offset: None,
    };
    let mut have_path = false;
    for s in &b.stmts {
        let k = s.keyword();
        match k {
            "path" => {
                if let Some(p) = cx.string_kw(s) {
                    u.path = p;
                    have_path = true;
                }
            }
            "digest" => {
                if let Some(d) = cx.string_kw(s) {
                    match md5_hex(&d) {
                        Some(v) => u.digest = Some(v),
                        None => cx.invalid(&s.words[1], k, "expected 32 hex digits (an MD5)"),
                    }
                }
            }
            "status_code" => {
                if cx.simple(s) {
                    cx.arg(s, 1, "a status code or range");
                    for w in s.args() {
                        match status_range(&w.text) {
                            Ok(r) => u.status_codes.push(r),
                            Err(e) => cx.invalid(w, k, &e),
                        }
                    }
                }
            }
            "virtualhost" => u.virtualhost = cx.string_kw(s),
            "regex" => {
                cx.not_applied(s);
                u.regex = cx.string_kw(s);
            }
            "regex_no_match" => u.regex_no_match |= cx.flag_kw(s),
            "regex_options" => {
                if cx.simple(s) {
                    u.regex_options
                        .extend(s.args().iter().map(|w| w.text.clone()));
                }
            }
            "regex_stack" => {
                if cx.simple(s) {
                    cx.max_args(s, 2);
                    cx.u64_at(s, 1, 0, u64::MAX);
                    cx.u64_at(s, 2, 0, u64::MAX);
                }
            }
            "regex_min_offset" => {
                if cx.simple(s) {
                    cx.max_args(s, 1);
                    u.regex_min_offset = cx.u64_at(s, 1, 0, u64::MAX);
                }
            }
            "regex_max_offset" => {
                if cx.simple(s) {
                    cx.max_args(s, 1);
                    u.regex_max_offset = cx.u64_at(s, 1, 0, u64::MAX);
                }
            }
            "tls_compliant" => {
                cx.flag_kw(s);
            }
            _ => cx.unknown(s),
        }
    }
    if !have_path {
        cx.err(
            DiagKind::Missing,
            s.loc(),
            "`url` block has no `path`".to_owned(),
            "url",
        );
        return None;
    }
    Some(u)
}

fn md5_hex(s: &str) -> Option<[u8; 16]> {
    if s.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// `N` or `A-B`, HTTP status codes 100..=599.
fn status_range(s: &str) -> Result<std::ops::RangeInclusive<u16>, String> {
    let (a, b) = match s.split_once('-') {
        Some((a, b)) => (a, b),
        None => (s, s),
    };
    let lo = value::uint(a, 100, 599)? as u16;
    let hi = value::uint(b, 100, 599)? as u16;
    if hi < lo {
        return Err("range ends before it starts".to_owned());
    }
    Ok(lo..=hi)
}

fn dns_type(s: &str) -> Option<DnsType> {
    Some(match s.to_ascii_uppercase().as_str() {
        "A" => DnsType::A,
        "NS" => DnsType::Ns,
        "CNAME" => DnsType::Cname,
        "SOA" => DnsType::Soa,
        "MX" => DnsType::Mx,
        "TXT" => DnsType::Txt,
        "AAAA" => DnsType::Aaaa,
        _ => return None,
    })
}

fn udp_stmt(cx: &mut Cx<'_>, s: &Stmt, u: &mut UdpCheck) -> bool {
    let k = s.keyword();
    match k {
        "payload" => {
            if cx.simple(s) && cx.arg(s, 1, "hex data").is_some() {
                let words: Vec<&str> = s.args().iter().map(|w| w.text.as_str()).collect();
                match value::hex_pattern(&words, false) {
                    Ok((bytes, _)) => u.payload = Some(bytes),
                    Err(e) => cx.invalid(&s.words[1], k, &e),
                }
            }
        }
        "require_reply" => {
            if cx.simple(s) {
                if s.words.len() == 1 {
                    u.require_reply = Some(None);
                } else {
                    let words: Vec<&str> = s.args().iter().map(|w| w.text.as_str()).collect();
                    match value::hex_pattern(&words, true) {
                        Ok((bytes, masks)) => {
                            u.require_reply = Some(Some(HexPattern { bytes, masks }));
                        }
                        Err(e) => cx.invalid(&s.words[1], k, &e),
                    }
                }
            }
        }
        "min_reply_length" => {
            if let Some(v) = cx.u32_kw(s, 0, 65535) {
                u.min_reply_length = v;
            }
        }
        "max_reply_length" => {
            if let Some(v) = cx.u32_kw(s, 0, 65535) {
                u.max_reply_length = v;
            }
        }
        _ => return false,
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes() {
        assert_eq!(status_range("200"), Ok(200..=200));
        assert_eq!(status_range("200-299"), Ok(200..=299));
        assert!(status_range("299-200").is_err());
        assert!(status_range("99").is_err());
        assert!(status_range("600").is_err());
        assert!(status_range("2xx").is_err());
    }

    #[test]
    fn digest() {
        let d = md5_hex("640205b7b0fc66c1ea91c463fac6334d").unwrap();
        assert_eq!(d[0], 0x64);
        assert_eq!(d[15], 0x4d);
        assert!(md5_hex("640205b7b0fc66c1ea91c463fac6334").is_none());
        assert!(md5_hex("g40205b7b0fc66c1ea91c463fac6334d").is_none());
    }
}
