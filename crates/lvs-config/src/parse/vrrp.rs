//! `vrrp_instance`, `vrrp_sync_group`, `vrrp_script`.

use std::time::Duration;

use super::{Cx, TIMER_MAX};
use crate::diag::DiagKind;
use crate::model::{
    AddrScope, Script, TrackInterface, TrackScript, UnicastPeer, UseVmac, VirtualAddress, VrrpAuth,
    VrrpInstance, VrrpNotify, VrrpScript, VrrpState, VrrpSyncGroup,
};
use crate::tree::{Block, Stmt};
use crate::value;

/// `vrrp_instance` keywords keepalived knows that lvs-rs does not implement.
const UNSUPPORTED_INSTANCE: &[&str] = &[
    "virtual_routes",
    "virtual_rules",
    "track_file",
    "track_process",
    "track_bfd",
    "use_vmac_addr",
    "use_ipvlan",
    "vrf",
    "native_ipv6",
    "track_src_ip",
    "old_unicast_checksum",
    "v3_checksum_as_v2",
    "garp_extra_if",
    "timer_expired_backup",
    "auth_hmac",
    "linkbeat_use_polling",
];

/// `vrrp_sync_group` keywords keepalived knows that lvs-rs does not
/// implement.
const UNSUPPORTED_GROUP: &[&str] = &[
    "track_file",
    "track_process",
    "track_bfd",
    "global_tracking",
];

pub(super) fn instance(cx: &mut Cx<'_>, s: &Stmt) -> Option<VrrpInstance> {
    let name = cx.arg(s, 1, "an instance name")?.text.clone();
    cx.max_args(s, 1);
    let b = cx.block(s)?;
    let mut v = VrrpInstance::new(s.loc().clone(), name);
    let ms = Duration::from_millis;
    for s in &b.stmts {
        let kw = s.keyword();
        if notify_stmt(cx, s, &mut v.notify) {
            continue;
        }
        match kw {
            "state" => {
                if let Some(st) = cx.string_kw(s) {
                    match st.as_str() {
                        "MASTER" => v.state = Some(VrrpState::Master),
                        "BACKUP" => v.state = Some(VrrpState::Backup),
                        _ => cx.invalid(&s.words[1], kw, "expected MASTER or BACKUP"),
                    }
                }
            }
            "interface" => v.interface = cx.string_kw(s),
            "virtual_router_id" => {
                if let Some(id) = cx.u32_kw(s, 1, 255) {
                    v.virtual_router_id = id as u8;
                }
            }
            "priority" => {
                if let Some(p) = cx.u32_kw(s, 1, 255) {
                    v.priority = p as u8;
                }
            }
            "advert_int" => {
                if let Some(d) = cx.timer_kw(s, ms(10), Duration::from_secs(255)) {
                    v.advert_int = d;
                }
            }
            "version" => v.version = cx.u32_kw(s, 2, 3).map(|x| x as u8),
            "nopreempt" => v.nopreempt |= cx.flag_kw(s),
            "preempt" => {
                if cx.flag_kw(s) {
                    v.nopreempt = false;
                }
            }
            "preempt_delay" => {
                v.preempt_delay = cx.timer_kw(s, Duration::ZERO, Duration::from_secs(1000));
            }
            "accept" => {
                if cx.flag_kw(s) {
                    v.accept = Some(true);
                }
            }
            "no_accept" => {
                if cx.flag_kw(s) {
                    v.accept = Some(false);
                }
            }
            "down_timer_adverts" => v.down_timer_adverts = cx.u32_kw(s, 1, 100),
            "authentication" => {
                cx.max_args(s, 0);
                if let Some(b) = cx.block(s) {
                    v.authentication = authentication(cx, s, b);
                }
            }
            "virtual_ipaddress" => {
                cx.max_args(s, 0);
                if let Some(b) = cx.block(s) {
                    v.virtual_ipaddress.extend(addresses(cx, b));
                }
            }
            "virtual_ipaddress_excluded" => {
                cx.max_args(s, 0);
                if let Some(b) = cx.block(s) {
                    v.virtual_ipaddress_excluded.extend(addresses(cx, b));
                }
            }
            "no_virtual_ipaddress" => v.no_virtual_ipaddress |= cx.flag_kw(s),
            "promote_secondaries" => v.promote_secondaries |= cx.flag_kw(s),
            "track_interface" => {
                cx.max_args(s, 0);
                if let Some(b) = cx.block(s) {
                    v.track_interface.extend(track_interfaces(cx, b));
                }
            }
            "track_script" => {
                cx.max_args(s, 0);
                if let Some(b) = cx.block(s) {
                    v.track_script.extend(track_scripts(cx, b));
                }
            }
            "dont_track_primary" => v.dont_track_primary |= cx.flag_kw(s),
            "mcast_src_ip" => v.mcast_src_ip = cx.ip_kw(s).or(v.mcast_src_ip),
            "mcast_dst_ip" => v.mcast_dst_ip = cx.ip_kw(s).or(v.mcast_dst_ip),
            "unicast_src_ip" => v.unicast_src_ip = cx.ip_kw(s).or(v.unicast_src_ip),
            "unicast_peer" => {
                cx.max_args(s, 0);
                if let Some(b) = cx.block(s) {
                    v.unicast_peer.extend(unicast_peers(cx, b));
                }
            }
            "unicast_ttl" => v.unicast_ttl = cx.u32_kw(s, 0, 255).map(|x| x as u8),
            "unicast_fault_no_peer" => v.unicast_fault_no_peer |= cx.flag_kw(s),
            "check_unicast_src" => v.check_unicast_src |= cx.flag_kw(s),
            "use_vmac" => {
                if cx.simple(s) {
                    let mut vmac = UseVmac::default();
                    let mut i = 1;
                    while let Some(w) = s.words.get(i) {
                        if w.text == "name" {
                            vmac.name = cx.arg(s, i + 1, "a name").map(|w| w.text.clone());
                            i += 2;
                        } else if w.text.contains(':') {
                            vmac.mac = Some(w.text.clone());
                            i += 1;
                        } else if vmac.name.is_none() && i == 1 {
                            vmac.name = Some(w.text.clone());
                            i += 1;
                        } else {
                            cx.invalid(w, kw, "expected [name] NAME and/or a MAC address");
                            i += 1;
                        }
                    }
                    v.use_vmac = Some(vmac);
                }
            }
            "vmac_xmit_base" => v.vmac_xmit_base |= cx.flag_kw(s),
            "garp_master_delay" => {
                v.garp_master_delay = cx.timer_kw(s, Duration::ZERO, Duration::from_secs(86_400));
            }
            "garp_master_repeat" => v.garp_master_repeat = cx.u32_kw(s, 0, u32::MAX),
            "garp_master_refresh" => {
                v.garp_master_refresh = cx.timer_kw(s, Duration::ZERO, Duration::from_secs(86_400));
            }
            "garp_master_refresh_repeat" => {
                v.garp_master_refresh_repeat = cx.u32_kw(s, 0, u32::MAX);
            }
            "garp_lower_prio_delay" => {
                v.garp_lower_prio_delay =
                    cx.timer_kw(s, Duration::ZERO, Duration::from_secs(86_400));
            }
            "garp_lower_prio_repeat" => v.garp_lower_prio_repeat = cx.u32_kw(s, 0, u32::MAX),
            "smtp_alert" => v.smtp_alert = cx.bool_kw(s).or(v.smtp_alert),
            "strict_mode" => v.strict_mode = cx.bool_kw(s).or(v.strict_mode),
            "skip_check_adv_addr" => v.skip_check_adv_addr = cx.bool_kw(s),
            "lower_prio_no_advert" => v.lower_prio_no_advert = cx.bool_kw(s),
            "higher_prio_send_advert" => v.higher_prio_send_advert = cx.bool_kw(s),
            "kernel_rx_buf_size" => v.kernel_rx_buf_size = cx.u32_kw(s, 0, u32::MAX),
            "debug" => v.debug = cx.u32_kw(s, 0, 4).map(|x| x as u8),
            _ if UNSUPPORTED_INSTANCE.contains(&kw) => cx.unsupported(s),
            _ => cx.unknown(s),
        }
    }
    Some(v)
}

/// `notify_*` and `notify` of instances and sync groups.
fn notify_stmt(cx: &mut Cx<'_>, s: &Stmt, n: &mut VrrpNotify) -> bool {
    let slot: &mut Option<Script> = match s.keyword() {
        "notify_master" => &mut n.master,
        "notify_backup" => &mut n.backup,
        "notify_fault" => &mut n.fault,
        "notify_stop" => &mut n.stop,
        "notify" => &mut n.any,
        "notify_master_rx_lower_pri" => &mut n.master_rx_lower_pri,
        "notify_deleted" => {
            if cx.simple(s) {
                n.deleted = Some(if s.words.len() > 1 {
                    cx.script_kw(s)
                } else {
                    None
                });
            }
            return true;
        }
        "notify_priority_changes" => {
            n.priority_changes = cx.bool_kw(s).or(n.priority_changes);
            return true;
        }
        _ => return false,
    };
    *slot = cx.script_kw(s).or(slot.take());
    true
}

fn authentication(cx: &mut Cx<'_>, s: &Stmt, b: &Block) -> Option<VrrpAuth> {
    let mut kind: Option<String> = None;
    let mut pass: Option<String> = None;
    for s in &b.stmts {
        match s.keyword() {
            "auth_type" => {
                if let Some(t) = cx.string_kw(s) {
                    if t == "PASS" || t == "AH" {
                        kind = Some(t);
                    } else {
                        cx.invalid(&s.words[1], "auth_type", "expected PASS or AH");
                    }
                }
            }
            "auth_pass" => {
                if let Some(p) = cx.string_kw(s) {
                    if p.chars().count() > 8 {
                        cx.warn(
                            DiagKind::Corrected,
                            &s.words[1].loc,
                            "`auth_pass` is longer than 8 characters - truncated".to_owned(),
                            &p,
                        );
                    }
                    pass = Some(p.chars().take(8).collect());
                }
            }
            _ => cx.unknown(s),
        }
    }
    let kind = kind.unwrap_or_else(|| "PASS".to_owned());
    match pass {
        Some(p) if kind == "AH" => Some(VrrpAuth::Ah(p)),
        Some(p) => Some(VrrpAuth::Pass(p)),
        None => {
            cx.err(
                DiagKind::Missing,
                s.loc(),
                "`authentication` block has no `auth_pass`".to_owned(),
                "authentication",
            );
            None
        }
    }
}

fn scope(s: &str) -> Option<AddrScope> {
    Some(match s {
        "global" => AddrScope::Global,
        "site" => AddrScope::Site,
        "link" => AddrScope::Link,
        "host" => AddrScope::Host,
        "nowhere" => AddrScope::Nowhere,
        n => AddrScope::Other(n.parse().ok()?),
    })
}

fn addresses(cx: &mut Cx<'_>, b: &Block) -> Vec<VirtualAddress> {
    let mut out = Vec::new();
    for line in cx.value_lines(b) {
        if let Some(a) = address(cx, line) {
            out.push(a);
        }
    }
    out
}

/// `IP[/LEN] [brd IP] [dev IF] [scope S] [label L] [peer IP] [flags...]`.
fn address(cx: &mut Cx<'_>, line: &Stmt) -> Option<VirtualAddress> {
    let first = &line.words[0];
    let (ip_text, len_text) = match first.text.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (first.text.as_str(), None),
    };
    let addr = match value::ip(ip_text) {
        Ok(a) => a,
        Err(e) => {
            cx.err(
                DiagKind::InvalidValue,
                &first.loc,
                format!("invalid virtual address `{}`: {e}", first.text),
                &first.text,
            );
            return None;
        }
    };
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let prefix_len = match len_text {
        None => max,
        Some(l) => match value::uint(l, 0, u64::from(max)) {
            Ok(v) => v as u8,
            Err(e) => {
                cx.err(
                    DiagKind::InvalidValue,
                    &first.loc,
                    format!("invalid prefix length in `{}`: {e}", first.text),
                    &first.text,
                );
                return None;
            }
        },
    };
    let mut a = VirtualAddress {
        location: first.loc.clone(),
        addr,
        prefix_len,
        broadcast: None,
        dev: None,
        scope: None,
        label: None,
        peer: None,
        no_track: false,
        extra: Vec::new(),
    };
    let mut i = 1;
    while let Some(w) = line.words.get(i) {
        let opt = w.text.as_str();
        let takes_value = matches!(
            opt,
            "brd" | "dev" | "scope" | "label" | "peer" | "preferred_lft" | "track_group"
        );
        let val = if takes_value {
            match line.words.get(i + 1) {
                Some(v) => Some(v),
                None => {
                    cx.err(
                        DiagKind::Missing,
                        &line.end,
                        format!("`{opt}` needs a value in `{}`", line.raw),
                        opt,
                    );
                    return None;
                }
            }
        } else {
            None
        };
        match (opt, val) {
            ("brd", Some(v)) => a.broadcast = Some(v.text.clone()),
            ("dev", Some(v)) => a.dev = Some(v.text.clone()),
            ("label", Some(v)) => a.label = Some(v.text.clone()),
            ("scope", Some(v)) => match scope(&v.text) {
                Some(sc) => a.scope = Some(sc),
                None => {
                    cx.invalid(
                        v,
                        "scope",
                        "expected global, site, link, host, nowhere or 0..255",
                    );
                    return None;
                }
            },
            ("peer", Some(v)) => match value::ip(&v.text) {
                Ok(p) => a.peer = Some(p),
                Err(e) => {
                    cx.invalid(v, "peer", &e);
                    return None;
                }
            },
            ("preferred_lft" | "track_group", Some(v)) => {
                a.extra.push(opt.to_owned());
                a.extra.push(v.text.clone());
            }
            ("no_track", None) => a.no_track = true,
            (
                "home" | "-nodad" | "mngtmpaddr" | "noprefixroute" | "autojoin" | "use_vmac",
                None,
            ) => {
                a.extra.push(opt.to_owned());
            }
            _ => {
                cx.invalid(w, "virtual_ipaddress", "unknown address option");
                return None;
            }
        }
        i += if takes_value { 2 } else { 1 };
    }
    Some(a)
}

/// `weight N [reverse|noreverse]` tails of tracking lines.
fn track_tail(cx: &mut Cx<'_>, line: &Stmt, allow_noreverse: bool) -> (Option<i32>, Option<bool>) {
    let mut weight = None;
    let mut reverse = None;
    let mut i = 1;
    while let Some(w) = line.words.get(i) {
        match w.text.as_str() {
            "weight" => {
                weight = cx.i32_at(line, i + 1, -253, 253);
                i += 2;
            }
            "reverse" => {
                reverse = Some(true);
                i += 1;
            }
            "noreverse" if allow_noreverse => {
                reverse = Some(false);
                i += 1;
            }
            _ => {
                cx.invalid(w, line.keyword(), "expected `weight N` and/or `reverse`");
                i += 1;
            }
        }
    }
    (weight, reverse)
}

fn track_interfaces(cx: &mut Cx<'_>, b: &Block) -> Vec<TrackInterface> {
    let mut out = Vec::new();
    for line in cx.value_lines(b) {
        let (weight, reverse) = track_tail(cx, line, false);
        out.push(TrackInterface {
            name: line.words[0].text.clone(),
            weight,
            reverse: reverse.unwrap_or(false),
        });
    }
    out
}

fn track_scripts(cx: &mut Cx<'_>, b: &Block) -> Vec<TrackScript> {
    let mut out = Vec::new();
    for line in cx.value_lines(b) {
        let (weight, reverse) = track_tail(cx, line, true);
        out.push(TrackScript {
            name: line.words[0].text.clone(),
            weight,
            reverse,
        });
    }
    out
}

fn unicast_peers(cx: &mut Cx<'_>, b: &Block) -> Vec<UnicastPeer> {
    let mut out = Vec::new();
    for line in cx.value_lines(b) {
        let first = &line.words[0];
        let addr = match value::ip(&first.text) {
            Ok(a) => a,
            Err(e) => {
                cx.invalid(first, "unicast_peer", &e);
                continue;
            }
        };
        let mut p = UnicastPeer {
            addr,
            min_ttl: None,
            max_ttl: None,
        };
        let mut i = 1;
        while let Some(w) = line.words.get(i) {
            match w.text.as_str() {
                "min_ttl" => p.min_ttl = cx.u32_at(line, i + 1, 0, 255).map(|v| v as u8),
                "max_ttl" => p.max_ttl = cx.u32_at(line, i + 1, 0, 255).map(|v| v as u8),
                _ => cx.invalid(w, "unicast_peer", "expected min_ttl or max_ttl"),
            }
            i += 2;
        }
        out.push(p);
    }
    out
}

pub(super) fn sync_group(cx: &mut Cx<'_>, s: &Stmt) -> Option<VrrpSyncGroup> {
    let name = cx.arg(s, 1, "a group name")?.text.clone();
    cx.max_args(s, 1);
    let b = cx.block(s)?;
    let mut g = VrrpSyncGroup {
        location: s.loc().clone(),
        name,
        group: Vec::new(),
        track_interface: Vec::new(),
        track_script: Vec::new(),
        notify: VrrpNotify::default(),
        smtp_alert: None,
        sync_group_tracking_weight: false,
    };
    for s in &b.stmts {
        let kw = s.keyword();
        if notify_stmt(cx, s, &mut g.notify) {
            continue;
        }
        match kw {
            "group" => {
                cx.max_args(s, 0);
                if let Some(b) = cx.block(s) {
                    for line in cx.value_lines(b) {
                        g.group.extend(line.words.iter().map(|w| w.text.clone()));
                    }
                }
            }
            "track_interface" => {
                if let Some(b) = cx.block(s) {
                    g.track_interface.extend(track_interfaces(cx, b));
                }
            }
            "track_script" => {
                if let Some(b) = cx.block(s) {
                    g.track_script.extend(track_scripts(cx, b));
                }
            }
            "smtp_alert" => g.smtp_alert = cx.bool_kw(s).or(g.smtp_alert),
            "sync_group_tracking_weight" => g.sync_group_tracking_weight |= cx.flag_kw(s),
            _ if UNSUPPORTED_GROUP.contains(&kw) => cx.unsupported(s),
            _ => cx.unknown(s),
        }
    }
    Some(g)
}

pub(super) fn script(cx: &mut Cx<'_>, s: &Stmt) -> Option<VrrpScript> {
    let name = cx.arg(s, 1, "a script name")?.text.clone();
    cx.max_args(s, 1);
    let b = cx.block(s)?;
    let mut script = None;
    let mut v = VrrpScript {
        location: s.loc().clone(),
        name,
        script: Script {
            argv: Vec::new(),
            user: None,
            command: String::new(),
        },
        interval: Duration::from_secs(1),
        timeout: None,
        weight: 0,
        reverse: false,
        rise: 1,
        fall: 1,
        user: None,
        init_fail: false,
    };
    let ms = Duration::from_millis(1);
    for st in &b.stmts {
        let kw = st.keyword();
        match kw {
            "script" => script = cx.script_kw(st).or(script),
            "interval" => {
                if let Some(d) = cx.timer_kw(st, ms, TIMER_MAX) {
                    v.interval = d;
                }
            }
            "timeout" => v.timeout = cx.timer_kw(st, ms, TIMER_MAX).or(v.timeout),
            "weight" => {
                if cx.simple(st) {
                    cx.max_args(st, 2);
                    if let Some(w) = cx.i32_at(st, 1, -253, 253) {
                        v.weight = w;
                    }
                    if let Some(r) = st.words.get(2) {
                        if r.text == "reverse" {
                            v.reverse = true;
                        } else {
                            cx.invalid(r, kw, "expected `reverse`");
                        }
                    }
                }
            }
            "rise" => v.rise = cx.u32_kw(st, 1, u32::MAX).unwrap_or(v.rise),
            "fall" => v.fall = cx.u32_kw(st, 1, u32::MAX).unwrap_or(v.fall),
            "user" => v.user = cx.user_kw(st),
            "init_fail" => v.init_fail |= cx.flag_kw(st),
            _ => cx.unknown(st),
        }
    }
    match script {
        Some(sc) => {
            v.script = sc;
            Some(v)
        }
        None => {
            cx.err(
                DiagKind::Missing,
                s.loc(),
                format!("vrrp_script `{}` has no `script`", v.name),
                &v.name,
            );
            None
        }
    }
}
