//! `virtual_server_group`, `virtual_server`, `real_server`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use super::{Cx, TIMER_MAX, check};
use crate::diag::DiagKind;
use crate::model::{
    CheckDefaults, DEFAULT_PERSISTENCE_TIMEOUT, Family, Granularity, LvsMethod, Protocol,
    RealServer, SchedFlags, Scheduler, SorryServer, TunnelCsum, TunnelType, VirtualServer,
    VirtualServerGroup, VsKey, VsgEntry,
};
use crate::tree::{Stmt, Word};
use crate::value;

/// keepalived's `IPVS_WEIGHT_LIMIT` (INT_MAX).
const WEIGHT_LIMIT: u32 = i32::MAX as u32;
/// keepalived's `LVS_MAX_TIMEOUT` (31 days), for `persistence_timeout`.
const LVS_MAX_TIMEOUT: u32 = 86_400 * 31;
/// Largest connect_timeout keepalived accepts (UINT_MAX microseconds).
const MAX_CONNECT_TIMEOUT: Duration = Duration::from_micros(u32::MAX as u64);

/// `virtual_server_group NAME { entries }`.
pub(super) fn virtual_server_group(cx: &mut Cx<'_>, s: &Stmt) -> Option<VirtualServerGroup> {
    let name = cx.arg(s, 1, "a group name")?.text.clone();
    cx.max_args(s, 1);
    let b = cx.block(s)?;
    let mut g = VirtualServerGroup {
        location: s.loc().clone(),
        name,
        entries: Vec::new(),
    };
    for line in cx.value_lines(b) {
        if let Some(e) = vsg_entry(cx, line) {
            g.entries.push(e);
        }
    }
    if g.entries.is_empty() {
        cx.warn(
            DiagKind::Corrected,
            s.loc(),
            format!(
                "virtual server group `{}` has no entries - removing",
                g.name
            ),
            &g.name,
        );
        return None;
    }
    let v4 = g.entries.iter().any(|e| {
        matches!(
            e,
            VsgEntry::Range {
                first: IpAddr::V4(_),
                ..
            }
        )
    });
    let v6 = g.entries.iter().any(|e| {
        matches!(
            e,
            VsgEntry::Range {
                first: IpAddr::V6(_),
                ..
            }
        )
    });
    let bare_mark = g
        .entries
        .iter()
        .any(|e| matches!(e, VsgEntry::Fwmark { family: None, .. }));
    if v4 && v6 && bare_mark {
        cx.err(
            DiagKind::InvalidValue,
            s.loc(),
            format!(
                "virtual server group `{}` cannot have IPv4, IPv6 and fwmark without family",
                g.name
            ),
            &g.name,
        );
        return None;
    }
    Some(g)
}

fn vsg_entry(cx: &mut Cx<'_>, line: &Stmt) -> Option<VsgEntry> {
    let first = &line.words[0];
    if first.text == "fwmark" {
        cx.max_args(line, 2);
        let mark = cx.u32_at(line, 1, 1, u32::MAX)?;
        let family = match line.words.get(2) {
            None => None,
            Some(w) => match w.text.as_str() {
                "inet" => Some(Family::Inet),
                "inet6" => Some(Family::Inet6),
                _ => {
                    cx.invalid(w, "fwmark", "expected inet or inet6");
                    return None;
                }
            },
        };
        return Some(VsgEntry::Fwmark { mark, family });
    }
    cx.max_args(line, 1);
    let (lo, hi) = match addr_range(&first.text) {
        Ok(r) => r,
        Err(e) => {
            cx.err(
                DiagKind::InvalidValue,
                &first.loc,
                format!("invalid virtual server group entry `{}`: {e}", first.text),
                &first.text,
            );
            return None;
        }
    };
    let port = match line.words.get(1) {
        Some(w) => match value::port(&w.text) {
            Ok(p) => p,
            Err(e) => {
                cx.invalid(w, "virtual_server_group", &e);
                return None;
            }
        },
        None => 0,
    };
    Some(VsgEntry::Range {
        first: lo,
        last: hi,
        port,
    })
}

/// `IP`, `IP-N`, `IP-IP`, `IP/LEN`.
pub(crate) fn addr_range(text: &str) -> Result<(IpAddr, IpAddr), String> {
    if let Some((a, len)) = text.split_once('/') {
        let addr: IpAddr = a
            .parse()
            .map_err(|_| "not an IPv4 or IPv6 address".to_owned())?;
        return match addr {
            IpAddr::V4(v) => {
                let l = value::uint(len, 0, 32).map_err(|e| format!("prefix length: {e}"))?;
                let mask = if l == 0 { 0 } else { u32::MAX << (32 - l) };
                let n = u32::from(v) & mask;
                Ok((
                    IpAddr::V4(Ipv4Addr::from(n)),
                    IpAddr::V4(Ipv4Addr::from(n | !mask)),
                ))
            }
            IpAddr::V6(v) => {
                let l = value::uint(len, 0, 128).map_err(|e| format!("prefix length: {e}"))?;
                let mask = if l == 0 { 0 } else { u128::MAX << (128 - l) };
                let n = u128::from(v) & mask;
                Ok((
                    IpAddr::V6(Ipv6Addr::from(n)),
                    IpAddr::V6(Ipv6Addr::from(n | !mask)),
                ))
            }
        };
    }
    if let Some((a, b)) = text.split_once('-') {
        let lo: IpAddr = a
            .parse()
            .map_err(|_| "not an IPv4 or IPv6 address".to_owned())?;
        let hi = match (lo, b.parse::<IpAddr>()) {
            (IpAddr::V4(_), Ok(hi @ IpAddr::V4(_))) | (IpAddr::V6(_), Ok(hi @ IpAddr::V6(_))) => hi,
            (_, Ok(_)) => return Err("range ends in another address family".to_owned()),
            (IpAddr::V4(v), Err(_)) => {
                let last = value::uint(b, 0, 255).map_err(|e| format!("last octet: {e}"))?;
                let mut o = v.octets();
                o[3] = last as u8;
                IpAddr::V4(Ipv4Addr::from(o))
            }
            (IpAddr::V6(v), Err(_)) => {
                let last = u16::from_str_radix(b, 16)
                    .map_err(|_| "last group: expected hex 0..=ffff".to_owned())?;
                let mut seg = v.segments();
                seg[7] = last;
                IpAddr::V6(Ipv6Addr::from(seg))
            }
        };
        if crate::model::addr_to_u128(&hi) < crate::model::addr_to_u128(&lo) {
            return Err("range ends before it starts".to_owned());
        }
        return Ok((lo, hi));
    }
    let a: IpAddr = text
        .parse()
        .map_err(|_| "not an IPv4 or IPv6 address".to_owned())?;
    Ok((a, a))
}

/// `virtual_server IP [PORT] | fwmark N | group NAME { ... }`.
pub(super) fn virtual_server(cx: &mut Cx<'_>, s: &Stmt) -> Option<VirtualServer> {
    let first = cx.arg(s, 1, "an address, `fwmark N` or `group NAME`")?;
    let key = match first.text.as_str() {
        "fwmark" => {
            cx.max_args(s, 2);
            VsKey::Fwmark(cx.u32_at(s, 2, 1, u32::MAX)?)
        }
        "group" => {
            cx.max_args(s, 2);
            VsKey::Group(cx.arg(s, 2, "a group name")?.text.clone())
        }
        _ => {
            cx.max_args(s, 2);
            let addr = cx.ip_at(s, 1)?;
            let port = match s.words.get(2) {
                Some(_) => cx.port_at(s, 2)?,
                None => 0,
            };
            VsKey::Addr { addr, port }
        }
    };
    let b = cx.block(s)?;
    let mut vs = VirtualServer::new(s.loc().clone(), key);
    if let VsKey::Addr { addr, .. } = &vs.key {
        vs.ip_family = Some(Family::of(addr));
    }
    for s in &b.stmts {
        vs_stmt(cx, s, &mut vs);
    }
    Some(vs)
}

fn vs_stmt(cx: &mut Cx<'_>, s: &Stmt, vs: &mut VirtualServer) {
    let kw = s.keyword();
    match kw {
        "ip_family" => {
            if let Some(v) = cx.string_kw(s) {
                let fam = match v.as_str() {
                    "inet" => Family::Inet,
                    "inet6" => Family::Inet6,
                    _ => {
                        cx.invalid(&s.words[1], kw, "expected inet or inet6");
                        return;
                    }
                };
                if vs.ip_family.is_some_and(|f| f != fam) {
                    cx.err(
                        DiagKind::InvalidValue,
                        &s.words[1].loc,
                        format!("`ip_family {v}` conflicts with the virtual server's addresses"),
                        &v,
                    );
                    return;
                }
                vs.ip_family = Some(fam);
            }
        }
        "lb_algo" | "lvs_sched" => {
            if let Some(name) = cx.string_kw(s) {
                match Scheduler::from_name(&name) {
                    Some(sc) => vs.scheduler = Some(sc),
                    None => cx.invalid(
                        &s.words[1],
                        kw,
                        "expected rr, wrr, lc, wlc, lblc, lblcr, dh, sh, sed, nq, mh, fo, ovf or twos",
                    ),
                }
            }
        }
        "hashed" => vs.hashed = cx.flag_kw(s),
        "ops" => vs.one_packet |= cx.flag_kw(s),
        "flag-1" | "flag-2" | "flag-3" | "sh-port" | "sh-fallback" | "mh-port" | "mh-fallback" => {
            if !cx.flag_kw(s) {
                return;
            }
            let bit = match kw {
                "flag-1" | "sh-fallback" | "mh-fallback" => SchedFlags::FLAG_1,
                "flag-3" => SchedFlags::FLAG_3,
                _ => SchedFlags::FLAG_2,
            };
            // keepalived applies sh-*/mh-* only when the scheduler written
            // before them is sh/mh.
            let need = match kw {
                "sh-port" | "sh-fallback" => Some(Scheduler::Sh),
                "mh-port" | "mh-fallback" => Some(Scheduler::Mh),
                _ => None,
            };
            match need {
                Some(sched) if vs.scheduler != Some(sched) => cx.warn(
                    DiagKind::Corrected,
                    s.loc(),
                    format!(
                        "`{kw}` only applies to the {sched} scheduler (set `lvs_sched {sched}` \
                         before it) - ignoring"
                    ),
                    kw,
                ),
                _ => vs.sched_flags.0 |= bit,
            }
        }
        "lb_kind" | "lvs_method" => {
            if cx.simple(s) {
                vs.lvs_method = lvs_method(cx, s);
            }
        }
        "persistence_engine" => vs.persistence_engine = cx.string_kw(s),
        "persistence_timeout" => {
            if cx.simple(s) {
                cx.max_args(s, 1);
                vs.persistence_timeout = match s.words.get(1) {
                    None => Some(DEFAULT_PERSISTENCE_TIMEOUT),
                    Some(_) => cx.u32_at(s, 1, 1, LVS_MAX_TIMEOUT),
                };
            }
        }
        "persistence_granularity" => {
            if let Some(text) = cx.string_kw(s) {
                let v6 = match vs.ip_family {
                    Some(f) => f == Family::Inet6,
                    None => !text.contains('.'),
                };
                let g = if v6 {
                    value::uint(&text, 1, 128).map(|l| Granularity::V6(l as u8))
                } else {
                    text.parse::<Ipv4Addr>()
                        .map(Granularity::V4)
                        .map_err(|_| "expected an IPv4 netmask".to_owned())
                };
                match g {
                    Ok(g) => {
                        vs.persistence_granularity = Some(g);
                        if vs.ip_family.is_none() {
                            vs.ip_family = Some(if v6 { Family::Inet6 } else { Family::Inet });
                        }
                        vs.persistence_timeout
                            .get_or_insert(DEFAULT_PERSISTENCE_TIMEOUT);
                    }
                    Err(e) => cx.invalid(&s.words[1], kw, &e),
                }
            }
        }
        "protocol" => {
            if let Some(p) = cx.string_kw(s) {
                vs.protocol = match p.to_ascii_uppercase().as_str() {
                    "TCP" => Some(Protocol::Tcp),
                    "UDP" => Some(Protocol::Udp),
                    "SCTP" => Some(Protocol::Sctp),
                    _ => {
                        cx.invalid(&s.words[1], kw, "expected TCP, UDP or SCTP");
                        vs.protocol
                    }
                };
            }
        }
        "ha_suspend" => vs.ha_suspend |= cx.flag_kw(s),
        "smtp_alert" => vs.smtp_alert = cx.bool_kw(s).or(vs.smtp_alert),
        "virtualhost" => vs.virtualhost = cx.string_kw(s),
        "snmp_name" => vs.snmp_name = cx.string_kw(s),
        "alpha" => vs.alpha |= cx.flag_kw(s),
        "omega" => vs.omega |= cx.flag_kw(s),
        "inhibit_on_failure" => vs.inhibit_on_failure |= cx.flag_kw(s),
        "quorum_up" => set_script_once(cx, s, &mut vs.quorum_up),
        "quorum_down" => set_script_once(cx, s, &mut vs.quorum_down),
        "quorum" => {
            if let Some(q) = cx.u32_kw(s, 1, u32::MAX) {
                vs.quorum = q;
            }
        }
        "hysteresis" => {
            if let Some(h) = cx.u32_kw(s, 0, u32::MAX) {
                vs.hysteresis = h;
            }
        }
        "weight" => {
            if let Some(w) = cx.u32_kw(s, 1, WEIGHT_LIMIT) {
                vs.weight = w;
            }
        }
        "sorry_server" => {
            if cx.simple(s) {
                cx.max_args(s, 2);
                if let Some((addr, port)) = server_addr(cx, s) {
                    let old = vs.sorry_server.take();
                    vs.sorry_server = Some(SorryServer {
                        location: s.loc().clone(),
                        addr,
                        port,
                        inhibit: old.as_ref().is_some_and(|o| o.inhibit),
                        lvs_method: old.and_then(|o| o.lvs_method),
                    });
                }
            }
        }
        "sorry_server_inhibit" => {
            if cx.flag_kw(s) {
                match &mut vs.sorry_server {
                    Some(ss) => ss.inhibit = true,
                    None => before_sorry(cx, s),
                }
            }
        }
        "sorry_server_lvs_method" => {
            if cx.simple(s) {
                let m = lvs_method(cx, s);
                match &mut vs.sorry_server {
                    Some(ss) => ss.lvs_method = m.or(ss.lvs_method),
                    None => before_sorry(cx, s),
                }
            }
        }
        "real_server" => {
            if let Some(rs) = real_server(cx, s) {
                vs.real_servers.push(rs);
            }
        }
        _ => {
            if !check_defaults_stmt(cx, s, &mut vs.check_defaults, 1) {
                cx.unknown(s);
            }
        }
    }
}

fn before_sorry(cx: &mut Cx<'_>, s: &Stmt) {
    let kw = s.keyword();
    cx.err(
        DiagKind::Missing,
        s.loc(),
        format!("`{kw}` used before or without `sorry_server` (keepalived ignores it)"),
        kw,
    );
}

/// `retry`, `connect_timeout`, `delay_before_retry`, `warmup`,
/// `delay_loop` at any level. Returns false if `s` is none of them.
pub(super) fn check_defaults_stmt(
    cx: &mut Cx<'_>,
    s: &Stmt,
    d: &mut CheckDefaults,
    min_retry: u32,
) -> bool {
    let us = Duration::from_micros(1);
    match s.keyword() {
        "retry" => d.retry = cx.u32_kw(s, min_retry, u32::MAX).or(d.retry),
        "nb_get_retry" => {
            cx.deprecated(s, "retry");
            d.retry = cx.u32_kw(s, min_retry, u32::MAX).or(d.retry);
        }
        "connect_timeout" => {
            d.connect_timeout = cx
                .timer_kw(s, us, MAX_CONNECT_TIMEOUT)
                .or(d.connect_timeout);
        }
        "delay_before_retry" => {
            d.delay_before_retry = cx
                .timer_kw(s, Duration::ZERO, TIMER_MAX)
                .or(d.delay_before_retry);
        }
        "warmup" => d.warmup = cx.timer_kw(s, Duration::ZERO, TIMER_MAX).or(d.warmup),
        "delay_loop" => d.delay_loop = cx.timer_kw(s, us, TIMER_MAX).or(d.delay_loop),
        _ => return false,
    }
    true
}

fn set_script_once(cx: &mut Cx<'_>, s: &Stmt, slot: &mut Option<crate::model::Script>) {
    if slot.is_some() {
        let kw = s.keyword();
        cx.warn(
            DiagKind::Duplicate,
            s.loc(),
            format!("`{kw}` script already specified - ignoring this one"),
            kw,
        );
        return;
    }
    *slot = cx.script_kw(s);
}

/// `IP [PORT]` of a real or sorry server.
fn server_addr(cx: &mut Cx<'_>, s: &Stmt) -> Option<(IpAddr, u16)> {
    let addr = cx.ip_at(s, 1)?;
    let port = match s.words.get(2) {
        Some(_) => cx.port_at(s, 2)?,
        None => 0,
    };
    Some((addr, port))
}

/// `NAT | DR | TUN [type {ipip|gue port N|gre}] [nocsum|csum|remcsum] | FNAT`.
pub(super) fn lvs_method(cx: &mut Cx<'_>, s: &Stmt) -> Option<LvsMethod> {
    let kw = s.keyword();
    let w = cx.arg(s, 1, "a forwarding method")?;
    let tunnel = match w.text.as_str() {
        "NAT" | "DR" | "FNAT" | "FULLNAT" => {
            cx.max_args(s, 1);
            return Some(match w.text.as_str() {
                "NAT" => LvsMethod::Nat,
                "DR" => LvsMethod::Dr,
                _ => LvsMethod::FullNat,
            });
        }
        "TUN" => true,
        _ => false,
    };
    if !tunnel {
        cx.invalid(w, kw, "expected NAT, DR, TUN or FNAT");
        return None;
    }
    let mut kind = TunnelType::Ipip;
    let mut port: Option<(u16, &Word)> = None;
    let mut csum = TunnelCsum::NoCsum;
    let mut i = 2;
    while i < s.words.len() {
        let w = &s.words[i];
        match w.text.as_str() {
            "type" => {
                let t = cx.arg(s, i + 1, "a tunnel type")?;
                kind = match t.text.as_str() {
                    "ipip" => TunnelType::Ipip,
                    "gue" => TunnelType::Gue { port: 0 },
                    "gre" => TunnelType::Gre,
                    _ => {
                        cx.invalid(t, kw, "unknown tunnel type, expected ipip, gue or gre");
                        return None;
                    }
                };
                i += 2;
            }
            "port" => {
                let p = cx.u32_at(s, i + 1, 1, 65535)?;
                port = Some((p as u16, w));
                i += 2;
            }
            "nocsum" | "csum" | "remcsum" => {
                csum = match w.text.as_str() {
                    "nocsum" => TunnelCsum::NoCsum,
                    "csum" => TunnelCsum::Csum,
                    _ => TunnelCsum::RemCsum,
                };
                i += 1;
            }
            _ => {
                cx.invalid(w, kw, "invalid tunnel option");
                return None;
            }
        }
    }
    match (&mut kind, port) {
        (TunnelType::Gue { port: p }, Some((v, _))) => *p = v,
        (TunnelType::Gue { .. }, None) => {
            cx.err(
                DiagKind::Missing,
                &s.end,
                format!("`{kw}`: gue tunnels require `port N`"),
                &s.raw,
            );
            return None;
        }
        (_, Some((_, w))) => {
            cx.invalid(w, kw, "only gue tunnels take a port");
            return None;
        }
        (_, None) => {}
    }
    if kind == TunnelType::Ipip && csum != TunnelCsum::NoCsum {
        cx.err(
            DiagKind::InvalidValue,
            s.loc(),
            format!("`{kw}`: ipip tunnels do not support a checksum option"),
            &s.raw,
        );
        return None;
    }
    if kind == TunnelType::Gre && csum == TunnelCsum::RemCsum {
        cx.err(
            DiagKind::InvalidValue,
            s.loc(),
            format!("`{kw}`: gre tunnels do not support the remote checksum option"),
            &s.raw,
        );
        return None;
    }
    Some(LvsMethod::Tun { kind, csum })
}

/// `real_server IP [PORT] { ... }`.
fn real_server(cx: &mut Cx<'_>, s: &Stmt) -> Option<RealServer> {
    cx.max_args(s, 2);
    let (addr, port) = server_addr(cx, s)?;
    let b = cx.block(s)?;
    let mut rs = RealServer::new(s.loc().clone(), addr, port);
    for s in &b.stmts {
        let kw = s.keyword();
        match kw {
            "weight" => rs.weight = cx.u32_kw(s, 0, WEIGHT_LIMIT).or(rs.weight),
            "lvs_method" | "lb_kind" => {
                if cx.simple(s) {
                    rs.lvs_method = lvs_method(cx, s).or(rs.lvs_method);
                }
            }
            "uthreshold" => rs.uthreshold = cx.u32_kw(s, 0, u32::MAX).or(rs.uthreshold),
            "lthreshold" => rs.lthreshold = cx.u32_kw(s, 0, u32::MAX).or(rs.lthreshold),
            "inhibit_on_failure" => {
                rs.inhibit_on_failure = cx.bool_kw(s).or(rs.inhibit_on_failure);
            }
            "notify_up" => set_script_once(cx, s, &mut rs.notify_up),
            "notify_down" => set_script_once(cx, s, &mut rs.notify_down),
            "alpha" => rs.alpha = cx.bool_kw(s).or(rs.alpha),
            "smtp_alert" => rs.smtp_alert = cx.bool_kw(s).or(rs.smtp_alert),
            "virtualhost" => rs.virtualhost = cx.string_kw(s),
            "snmp_name" => rs.snmp_name = cx.string_kw(s),
            _ if check::is_checker(kw) => {
                if let Some(c) = check::checker(cx, s) {
                    rs.checkers.push(c);
                }
            }
            _ if check::UNSUPPORTED_CHECKERS.contains(&kw) => cx.unsupported(s),
            _ => {
                if !check_defaults_stmt(cx, s, &mut rs.check_defaults, 1) {
                    cx.unknown(s);
                }
            }
        }
    }
    Some(rs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> (String, String) {
        let (a, b) = addr_range(s).unwrap();
        (a.to_string(), b.to_string())
    }

    #[test]
    fn ranges() {
        assert_eq!(r("10.8.1.1-3"), ("10.8.1.1".into(), "10.8.1.3".into()));
        // As the lab's keepalived 2.2.7: a /30 covers network to broadcast.
        assert_eq!(r("10.8.2.0/30"), ("10.8.2.0".into(), "10.8.2.3".into()));
        assert_eq!(r("10.8.2.5/30"), ("10.8.2.4".into(), "10.8.2.7".into()));
        assert_eq!(
            r("10.8.3.254-10.8.4.1"),
            ("10.8.3.254".into(), "10.8.4.1".into())
        );
        assert_eq!(
            r("2001:db8::1-1f"),
            ("2001:db8::1".into(), "2001:db8::1f".into())
        );
        assert_eq!(
            r("2001:db8::/126"),
            ("2001:db8::".into(), "2001:db8::3".into())
        );
        assert_eq!(r("10.0.0.7"), ("10.0.0.7".into(), "10.0.0.7".into()));
        assert!(addr_range("10.0.0.9-3").is_err());
        assert!(addr_range("10.0.0.1-256").is_err());
        assert!(addr_range("10.0.0.1-2001:db8::1").is_err());
        assert!(addr_range("10.0.0.1/33").is_err());
        assert!(addr_range("host.example").is_err());
    }
}
