//! Whole-configuration checks and keepalived's load-time corrections.
//!
//! Mirrors keepalived's `vs_end_handler`, `rs_end_handler` and
//! `validate_check_config` (`keepalived/check/check_data.c`, 2.2.x): the
//! same defaults are filled and the same doubtful settings corrected, each
//! correction reported as a warning with keepalived's wording where it has
//! one. Things keepalived would silently drop (a real server of the wrong
//! address family, a reference to an undefined group or instance) are errors
//! here, except where keepalived itself only warns (unknown `track_script`).

use std::collections::HashSet;
use std::time::Duration;

use crate::diag::{DiagKind, Diags, Location};
use crate::model::{
    CheckKind, CheckTiming, Config, DEFAULT_PERSISTENCE_TIMEOUT, Family, LvsMethod, Protocol,
    RealServer, Scheduler, VirtualServer, VsKey, VsgEntry,
};

/// keepalived's default `delay_loop`.
const DEFAULT_DELAY_LOOP: Duration = Duration::from_secs(60);
/// keepalived's default `connect_timeout`.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

pub(crate) fn validate(cfg: &mut Config, d: &mut Diags) {
    unique_names(cfg, d);
    let groups = cfg.virtual_server_groups.clone();
    let mut kept = Vec::with_capacity(cfg.virtual_servers.len());
    for mut vs in std::mem::take(&mut cfg.virtual_servers) {
        if virtual_server(&mut vs, &groups, d) {
            kept.push(vs);
        }
    }
    cfg.virtual_servers = kept;
    vrrp(cfg, d);
    global(cfg, d);
}

fn unique_names(cfg: &Config, d: &mut Diags) {
    let mut seen = HashSet::new();
    for g in &cfg.virtual_server_groups {
        if !seen.insert(g.name.as_str()) {
            d.error(
                DiagKind::Duplicate,
                &g.location,
                format!("virtual server group `{}` is defined twice", g.name),
                &g.name,
            );
        }
    }
    let mut seen = HashSet::new();
    for i in &cfg.vrrp_instances {
        if !seen.insert(i.name.as_str()) {
            d.error(
                DiagKind::Duplicate,
                &i.location,
                format!("vrrp_instance `{}` is defined twice", i.name),
                &i.name,
            );
        }
    }
    let mut seen = HashSet::new();
    for s in &cfg.vrrp_scripts {
        if !seen.insert(s.name.as_str()) {
            d.warn(
                DiagKind::Duplicate,
                &s.location,
                format!(
                    "vrrp_script `{}` is defined twice - the first is used",
                    s.name
                ),
                &s.name,
            );
        }
    }
}

fn effective_method(rs: Option<LvsMethod>, vs: Option<LvsMethod>) -> LvsMethod {
    rs.or(vs).unwrap_or(LvsMethod::Nat)
}

fn is_tun(m: LvsMethod) -> bool {
    matches!(m, LvsMethod::Tun { .. })
}

/// Returns false when the virtual server is dropped.
fn virtual_server(
    vs: &mut VirtualServer,
    groups: &[crate::model::VirtualServerGroup],
    d: &mut Diags,
) -> bool {
    let name = vs.key.to_string();
    let loc = vs.location.clone();
    let group = match &vs.key {
        VsKey::Group(g) => match groups.iter().find(|x| &x.name == g) {
            Some(x) => Some(x),
            None => {
                d.error(
                    DiagKind::Reference,
                    &loc,
                    format!("virtual server group `{g}` is not defined"),
                    g,
                );
                return false;
            }
        },
        _ => None,
    };
    let (has_ranges, has_marks, port_less_range) = match group {
        Some(g) => (
            g.entries
                .iter()
                .any(|e| matches!(e, VsgEntry::Range { .. })),
            g.entries
                .iter()
                .any(|e| matches!(e, VsgEntry::Fwmark { .. })),
            g.entries
                .iter()
                .any(|e| matches!(e, VsgEntry::Range { port: 0, .. })),
        ),
        None => (false, false, false),
    };
    if let (None, Some(g)) = (vs.ip_family, group) {
        vs.ip_family = g.entries.iter().find_map(|e| match e {
            VsgEntry::Range { first, .. } => Some(Family::of(first)),
            VsgEntry::Fwmark { family, .. } => *family,
        });
    }
    let fwmark = matches!(vs.key, VsKey::Fwmark(_));
    let by_addr = matches!(vs.key, VsKey::Addr { .. }) || has_ranges;

    // Address families (rs_end_handler / vs_end_handler): tunnelled servers
    // may differ.
    let vs_method = vs.lvs_method;
    let mut family = vs.ip_family;
    let mut ok = true;
    for rs in &vs.real_servers {
        if is_tun(effective_method(rs.lvs_method, vs_method)) {
            continue;
        }
        let f = Family::of(&rs.addr);
        match family {
            None => family = Some(f),
            Some(v) if v != f => {
                d.error(
                    DiagKind::InvalidValue,
                    &rs.location,
                    format!(
                        "address family of virtual server {name} and real server {} don't match",
                        rs.addr
                    ),
                    &rs.addr.to_string(),
                );
                ok = false;
            }
            Some(_) => {}
        }
    }
    if let Some(ss) = &vs.sorry_server
        && !is_tun(effective_method(ss.lvs_method, vs_method))
    {
        let f = Family::of(&ss.addr);
        match family {
            None => family = Some(f),
            Some(v) if v != f => {
                d.error(
                    DiagKind::InvalidValue,
                    &ss.location,
                    format!(
                        "address family of virtual server {name} and sorry server {} don't \
                             match",
                        ss.addr
                    ),
                    &ss.addr.to_string(),
                );
                ok = false;
            }
            Some(_) => {}
        }
    }
    if family.is_none() && group.is_none() {
        // fwmark with only tunnelled servers: their family if they agree,
        // else IPv4.
        let mut fams = vs.real_servers.iter().map(|r| Family::of(&r.addr));
        let first = vs
            .sorry_server
            .as_ref()
            .map(|s| Family::of(&s.addr))
            .or_else(|| fams.next());
        family = match first {
            Some(f) if fams.all(|g| g == f) => Some(f),
            _ => Some(Family::Inet),
        };
    }
    vs.ip_family = family;

    if vs.real_servers.is_empty() {
        d.warn(
            DiagKind::Corrected,
            &loc,
            format!("virtual server {name} has no real servers - ignoring it"),
            &name,
        );
        return false;
    }
    if vs.ha_suspend && (fwmark || has_marks) {
        d.warn(
            DiagKind::Corrected,
            &loc,
            format!(
                "virtual server {name}: cannot use ha_suspend with fwmarks - clearing ha_suspend"
            ),
            "ha_suspend",
        );
        vs.ha_suspend = false;
    }
    if by_addr {
        if vs.protocol.is_none() {
            d.warn(
                DiagKind::Corrected,
                &loc,
                format!(
                    "virtual server {name}: no protocol set - defaulting to UDP (as keepalived)"
                ),
                &name,
            );
            vs.protocol = Some(Protocol::Udp);
        }
        if vs.one_packet && vs.protocol != Some(Protocol::Udp) {
            d.warn(
                DiagKind::Corrected,
                &loc,
                format!("virtual server {name}: one packet scheduling requires UDP - resetting"),
                "ops",
            );
            vs.one_packet = false;
        }
        if !vs.is_persistent() && matches!(vs.key, VsKey::Addr { port: 0, .. }) {
            d.warn(
                DiagKind::Corrected,
                &loc,
                format!(
                    "virtual server {name}: zero port only valid for persistent services - \
                     setting persistence_timeout {}",
                    DEFAULT_PERSISTENCE_TIMEOUT
                ),
                &name,
            );
            vs.persistence_timeout = Some(DEFAULT_PERSISTENCE_TIMEOUT);
        }
    }
    if !vs.is_persistent() && port_less_range {
        d.warn(
            DiagKind::Corrected,
            &loc,
            format!(
                "virtual server {name}: zero port only valid for persistent services - setting \
                 persistence_timeout {}",
                DEFAULT_PERSISTENCE_TIMEOUT
            ),
            &name,
        );
        vs.persistence_timeout = Some(DEFAULT_PERSISTENCE_TIMEOUT);
    }
    if vs.protocol.is_some() && !by_addr {
        d.warn(
            DiagKind::Corrected,
            &loc,
            format!(
                "virtual server {name}: protocol specified for fwmark - protocol will be ignored"
            ),
            "protocol",
        );
        vs.protocol = None;
    }
    if vs.scheduler.is_none() {
        d.warn(
            DiagKind::Corrected,
            &loc,
            format!("virtual server {name}: no scheduler set, setting default 'wlc'"),
            &name,
        );
        vs.scheduler = Some(Scheduler::Wlc);
    }

    // Real servers: duplicates, inherited settings, weight sum.
    let mut seen = HashSet::new();
    let mut warned_nat = false;
    let mut weight_sum: u64 = 0;
    let mut servers = Vec::with_capacity(vs.real_servers.len());
    for mut rs in std::mem::take(&mut vs.real_servers) {
        if !seen.insert((rs.addr, rs.port)) {
            d.warn(
                DiagKind::Duplicate,
                &rs.location,
                format!(
                    "VS {name}: real server {} is duplicated - removing second rs",
                    rs_name(&rs)
                ),
                &rs.addr.to_string(),
            );
            continue;
        }
        if rs.lvs_method.is_none() {
            if vs.lvs_method.is_none() {
                nat_default(d, &loc, &name, &mut warned_nat);
                vs.lvs_method = Some(LvsMethod::Nat);
            }
            rs.lvs_method = vs.lvs_method;
        }
        rs.alpha.get_or_insert(vs.alpha);
        rs.inhibit_on_failure.get_or_insert(vs.inhibit_on_failure);
        let w = *rs.weight.get_or_insert(vs.weight);
        weight_sum += u64::from(w);
        if let Some(ss) = &mut vs.sorry_server
            && ss.addr == rs.addr
            && ss.port == rs.port
        {
            let rs_inhibit = rs.inhibit_on_failure.unwrap_or(false);
            if ss.inhibit != rs_inhibit {
                d.warn(
                    DiagKind::Corrected,
                    &ss.location,
                    format!(
                        "virtual server {name}: real server {} matches sorry server, but \
                             inhibit setting differs, {}ing on sorry server",
                        rs_name(&rs),
                        if rs_inhibit { "sett" } else { "clear" }
                    ),
                    "sorry_server_inhibit",
                );
                ss.inhibit = rs_inhibit;
            }
        }
        servers.push(rs);
    }
    vs.real_servers = servers;
    if vs
        .sorry_server
        .as_ref()
        .is_some_and(|s| s.lvs_method.is_none())
    {
        if vs.lvs_method.is_none() {
            nat_default(d, &loc, &name, &mut warned_nat);
            vs.lvs_method = Some(LvsMethod::Nat);
        }
        if let Some(ss) = &mut vs.sorry_server {
            ss.lvs_method = vs.lvs_method;
        }
    }
    let sum = u32::try_from(weight_sum).unwrap_or(u32::MAX);
    if vs.quorum > sum {
        d.warn(
            DiagKind::Corrected,
            &loc,
            format!(
                "quorum {} for {name} exceeds total weight of real servers {sum}, reducing quorum \
                 to {sum}",
                vs.quorum
            ),
            "quorum",
        );
        vs.quorum = sum;
    }
    if vs.hysteresis >= vs.quorum && (vs.hysteresis > 0 || vs.quorum > 0) {
        let h = vs.quorum.saturating_sub(1);
        d.warn(
            DiagKind::Corrected,
            &loc,
            format!(
                "virtual server {name}: hysteresis {} >= quorum {}; setting hysteresis to {h}",
                vs.hysteresis, vs.quorum
            ),
            "hysteresis",
        );
        vs.hysteresis = h;
    }

    ports(vs, group, &name, d);
    timings(vs);
    ok
}

fn nat_default(d: &mut Diags, loc: &Location, name: &str, warned: &mut bool) {
    if !*warned {
        d.warn(
            DiagKind::Corrected,
            loc,
            format!("virtual server {name}: no forwarding method set, setting default NAT"),
            name,
        );
        *warned = true;
    }
}

fn rs_name(rs: &RealServer) -> String {
    match rs.addr {
        std::net::IpAddr::V6(a) => format!("[{a}]:{}", rs.port),
        a => format!("{a}:{}", rs.port),
    }
}

/// Port rules: unless NAT, real and virtual servers share the port; with a
/// fwmark the real server port is 0.
fn ports(
    vs: &mut VirtualServer,
    group: Option<&crate::model::VirtualServerGroup>,
    name: &str,
    d: &mut Diags,
) {
    let nat = |m: Option<LvsMethod>| m == Some(LvsMethod::Nat);
    if let Some(g) = group {
        let marks = g
            .entries
            .iter()
            .any(|e| matches!(e, VsgEntry::Fwmark { .. }));
        for rs in &vs.real_servers {
            if nat(rs.lvs_method) || rs.port == 0 {
                continue;
            }
            if marks {
                d.warn(
                    DiagKind::Corrected,
                    &rs.location,
                    format!(
                        "fwmark virtual server {name}, real server {} has port specified - port \
                         will be ignored",
                        rs_name(rs)
                    ),
                    &rs.port.to_string(),
                );
            }
            for e in &g.entries {
                if let VsgEntry::Range { port, .. } = e
                    && *port != rs.port
                {
                    d.warn(
                        DiagKind::Corrected,
                        &rs.location,
                        format!(
                            "virtual server {name} entry port {port} and real server {} \
                                 ports don't match",
                            rs_name(rs)
                        ),
                        &rs.port.to_string(),
                    );
                    break;
                }
            }
        }
        return;
    }
    let (fwmark, vport) = match vs.key {
        VsKey::Addr { port, .. } => (false, port),
        _ => (true, 0),
    };
    for rs in &mut vs.real_servers {
        if nat(rs.lvs_method) {
            if !fwmark && rs.port == 0 {
                rs.port = vport;
            }
            continue;
        }
        if fwmark {
            if rs.port != 0 {
                d.warn(
                    DiagKind::Corrected,
                    &rs.location,
                    format!(
                        "fwmark virtual server {name}, real server {} has port specified - \
                         clearing",
                        rs_name(rs)
                    ),
                    &rs.port.to_string(),
                );
                rs.port = 0;
            }
        } else if rs.port == 0 {
            rs.port = vport;
        } else if rs.port != vport {
            d.warn(
                DiagKind::Corrected,
                &rs.location,
                format!(
                    "virtual server {name} and real server {} ports don't match - resetting",
                    rs_name(rs)
                ),
                &rs.port.to_string(),
            );
            rs.port = vport;
        }
    }
    if let Some(ss) = &mut vs.sorry_server {
        if nat(ss.lvs_method) {
            if !fwmark && ss.port == 0 {
                ss.port = vport;
            }
        } else if fwmark {
            if ss.port != 0 {
                d.warn(
                    DiagKind::Corrected,
                    &ss.location,
                    format!("virtual server {name}, sorry server has port specified - clearing"),
                    &ss.port.to_string(),
                );
                ss.port = 0;
            }
        } else if ss.port == 0 {
            ss.port = vport;
        } else if ss.port != vport {
            d.warn(
                DiagKind::Corrected,
                &ss.location,
                format!("virtual server {name} and sorry server ports don't match - resetting"),
                &ss.port.to_string(),
            );
            ss.port = vport;
        }
    }
}

/// Resolve every checker's timing: checker, else real server, else virtual
/// server, else the checker type's default.
fn timings(vs: &mut VirtualServer) {
    let v = vs.check_defaults;
    for rs in &mut vs.real_servers {
        let r = rs.check_defaults;
        let rs_alpha = rs.alpha.unwrap_or(vs.alpha);
        let rs_retry = r.retry.or(v.retry);
        let rs_conn = r
            .connect_timeout
            .or(v.connect_timeout)
            .unwrap_or(DEFAULT_CONNECT_TIMEOUT);
        let rs_loop = r.delay_loop.or(v.delay_loop).unwrap_or(DEFAULT_DELAY_LOOP);
        let rs_warmup = r.warmup.or(v.warmup);
        let rs_dbr = r.delay_before_retry.or(v.delay_before_retry);
        for c in &mut rs.checkers {
            let (default_retry, default_dbr) = match c.kind {
                CheckKind::Dns(_) => (3, None),
                CheckKind::Misc(_) => (0, Some(Duration::from_secs(1))),
                CheckKind::Http(_) | CheckKind::Ssl(_) => (1, Some(Duration::from_secs(3))),
                _ => (1, Some(Duration::from_secs(1))),
            };
            let w = c.written;
            let delay_loop = w.delay_loop.unwrap_or(rs_loop);
            c.timing = CheckTiming {
                delay_loop,
                connect_timeout: w.connect_timeout.unwrap_or(rs_conn),
                retry: w.retry.or(rs_retry).unwrap_or(default_retry),
                delay_before_retry: w
                    .delay_before_retry
                    .or(rs_dbr)
                    .or(default_dbr)
                    .unwrap_or(delay_loop),
                warmup: w.warmup.or(rs_warmup).unwrap_or(delay_loop),
                alpha: c.alpha.unwrap_or(rs_alpha),
            };
        }
    }
}

fn vrrp(cfg: &mut Config, d: &mut Diags) {
    let scripts: HashSet<String> = cfg.vrrp_scripts.iter().map(|s| s.name.clone()).collect();
    for inst in &mut cfg.vrrp_instances {
        let name = inst.name.clone();
        if inst.virtual_router_id == 0 {
            d.error(
                DiagKind::Missing,
                &inst.location,
                format!("({name}) the virtual router id must be set"),
                &name,
            );
        }
        inst.track_script.retain(|t| {
            let ok = scripts.contains(&t.name);
            if !ok {
                d.warn(
                    DiagKind::Reference,
                    &inst.location,
                    format!("({name}) track script {} not found, ignoring...", t.name),
                    &t.name,
                );
            }
            ok
        });
        let mut fam = None;
        for a in &inst.virtual_ipaddress {
            let f = Family::of(&a.addr);
            match fam {
                None => fam = Some(f),
                Some(x) if x != f => {
                    d.error(
                        DiagKind::InvalidValue,
                        &a.location,
                        format!(
                            "({name}) virtual_ipaddress {} is not of the same family as the first \
                             one (use virtual_ipaddress_excluded for mixed families)",
                            a.addr
                        ),
                        &a.addr.to_string(),
                    );
                }
                Some(_) => {}
            }
        }
        if let Some(src) = inst.unicast_src_ip {
            for p in &inst.unicast_peer {
                if Family::of(&p.addr) != Family::of(&src) {
                    d.error(
                        DiagKind::InvalidValue,
                        &inst.location,
                        format!(
                            "({name}) unicast peer {} and unicast_src_ip {src} are of different \
                             families",
                            p.addr
                        ),
                        &p.addr.to_string(),
                    );
                }
            }
        }
    }
    let instances: HashSet<String> = cfg.vrrp_instances.iter().map(|i| i.name.clone()).collect();
    let mut member_of: HashSet<String> = HashSet::new();
    for g in &mut cfg.vrrp_sync_groups {
        let gname = g.name.clone();
        let loc = g.location.clone();
        g.group.retain(|m| {
            if !instances.contains(m) {
                d.warn(
                    DiagKind::Reference,
                    &loc,
                    format!("virtual router {m} specified in sync group {gname} doesn't exist - ignoring"),
                    m,
                );
                return false;
            }
            if !member_of.insert(m.clone()) {
                d.warn(
                    DiagKind::Duplicate,
                    &loc,
                    format!("vrrp instance {m} is already in a sync group - ignoring it in {gname}"),
                    m,
                );
                return false;
            }
            true
        });
        g.track_script.retain(|t| {
            let ok = scripts.contains(&t.name);
            if !ok {
                d.warn(
                    DiagKind::Reference,
                    &loc,
                    format!("({gname}) track script {} not found, ignoring...", t.name),
                    &t.name,
                );
            }
            ok
        });
        if g.group.len() < 2 {
            d.warn(
                DiagKind::Corrected,
                &loc,
                format!(
                    "sync group {gname} has only {} virtual router(s) - this probably isn't what \
                     you want",
                    g.group.len()
                ),
                &gname,
            );
        }
    }
}

fn global(cfg: &mut Config, d: &mut Diags) {
    let instances: HashSet<&str> = cfg.vrrp_instances.iter().map(|i| i.name.as_str()).collect();
    if let Some(sd) = &cfg.global.lvs_sync_daemon {
        let loc = &sd.location;
        if sd.interface.is_empty() {
            d.error(
                DiagKind::Missing,
                loc,
                "lvs sync daemon settings without an interface".to_owned(),
                "lvs_sync_daemon",
            );
        }
        if let Some(inst) = &sd.instance
            && !instances.contains(inst.as_str())
        {
            d.error(
                DiagKind::Reference,
                loc,
                format!("lvs_sync_daemon vrrp instance `{inst}` is not defined"),
                inst,
            );
        }
    }
}
