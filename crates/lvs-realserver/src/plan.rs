//! Setting up and tearing down a real server: a pure planner, an applier and a state file.
//!
//! [`plan_setup`] turns a [`Snapshot`] and a [`SetupSpec`] into the ordered [`Change`]s that
//! make the host a correct real server, and nothing else: a host already set up gets an empty
//! plan (idempotence), and the same snapshot always gives the same plan. The order follows the
//! seeds: the ARP sysctls on `all` and the interface first, so the host never answers ARP for
//! the VIP even for an instant; then `lo` up and the VIPs on `lo` as /32 (/128) — the kernel
//! adds the local host route itself; for TUN the relaxed `rp_filter` (2, loose) on the
//! receiving interface and the decapsulation filter; for NAT the default route through the
//! director only when `--gateway` names it (otherwise the plan only notes what the gateway is).
//! IPv6 VIPs need no ARP sysctls: Linux answers neighbour solicitations only for addresses of
//! the interface they arrive on.
//!
//! [`apply`] carries changes out (sysctls through `/proc/sys`, addresses and routes with `ip`,
//! the filter with aya) and returns those that took effect. `lvsadm realserver setup` records
//! them, with the values they replaced, in a [`State`] file (`/run/lvs/realserver.json` by
//! default: `/run` is cleared at boot, like the changes themselves); [`plan_teardown`] undoes
//! exactly the recorded changes that are still in place, newest first, and leaves alone
//! anything changed by someone else since.

use std::net::IpAddr;
use std::path::Path;
use std::process::Command;

use serde::{Deserialize, Serialize};

use crate::decap::{self, Decap, DecapConfig, MAX_LOCAL4, MAX_LOCAL6};
use crate::diagnose::resolve_dev;
use crate::snapshot::{AddrState, LinkState, RouteState, Snapshot, conf_key};
use crate::{Error, Mode};

/// One change to the host.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Change {
    /// Write an integer sysctl (`from`: the value it had).
    Sysctl {
        /// Dotted name.
        key: String,
        /// Previous value, when it could be read.
        from: Option<i64>,
        /// New value.
        to: i64,
    },
    /// Bring an interface up.
    LinkUp {
        /// Interface.
        dev: String,
    },
    /// Add an address.
    AddrAdd {
        /// Interface.
        dev: String,
        /// Address.
        addr: IpAddr,
        /// Prefix length.
        prefix: u8,
    },
    /// Remove an address.
    AddrDel {
        /// Interface.
        dev: String,
        /// Address.
        addr: IpAddr,
        /// Prefix length.
        prefix: u8,
    },
    /// Attach the decapsulation filter to an interface's ingress.
    DecapAttach {
        /// Interface.
        dev: String,
        /// GUE port decapsulated, if any.
        gue_port: Option<u16>,
        /// Outer destinations accepted.
        local: Vec<IpAddr>,
    },
    /// Remove the decapsulation filter from an interface.
    DecapDetach {
        /// Interface.
        dev: String,
    },
    /// Replace the default route of the gateway's family.
    DefaultRoute {
        /// New gateway.
        via: IpAddr,
        /// Output interface.
        dev: Option<String>,
        /// Previous gateway, if there was a default route.
        from: Option<IpAddr>,
    },
    /// Delete the default route of a family.
    DefaultRouteDel {
        /// The gateway it has.
        via: IpAddr,
    },
}

fn join(a: &[IpAddr]) -> String {
    a.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

impl Change {
    /// The shell command doing the same (what `--dry-run` prints and setup reports).
    pub fn command(&self) -> String {
        match self {
            Change::Sysctl { key, to, .. } => format!("sysctl -w {key}={to}"),
            Change::LinkUp { dev } => format!("ip link set {dev} up"),
            Change::AddrAdd { dev, addr, prefix } => {
                format!("ip addr add {addr}/{prefix} dev {dev}")
            }
            Change::AddrDel { dev, addr, prefix } => {
                format!("ip addr del {addr}/{prefix} dev {dev}")
            }
            Change::DecapAttach {
                dev,
                gue_port,
                local,
            } => format!(
                "tc qdisc add dev {dev} clsact; tc filter add dev {dev} ingress bpf \
                 direct-action object {} (ipip, gre{}; outer destinations {})",
                decap::PROG,
                gue_port.map_or_else(String::new, |p| format!(", gue udp/{p}")),
                if local.is_empty() {
                    "any".to_owned()
                } else {
                    join(local)
                }
            ),
            Change::DecapDetach { dev } => {
                format!(
                    "tc filter del dev {dev} ingress (filters named {})",
                    decap::PROG
                )
            }
            Change::DefaultRoute { via, dev, .. } => match dev {
                Some(d) => format!("ip route replace default via {via} dev {d}"),
                None => format!("ip route replace default via {via}"),
            },
            Change::DefaultRouteDel { via } => format!("ip route del default via {via}"),
        }
    }
}

/// What `setup` is asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetupSpec {
    /// Forwarding method.
    pub mode: Mode,
    /// Virtual addresses (DR/TUN).
    pub vips: Vec<IpAddr>,
    /// Interface facing the director (`None`: the default route's).
    pub dev: Option<String>,
    /// NAT: make this (the director's DIP) the default gateway.
    pub gateway: Option<IpAddr>,
    /// TUN: also decapsulate GUE on this UDP port.
    pub gue_port: Option<u16>,
}

/// A setup or teardown plan.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// Changes, in order.
    pub changes: Vec<Change>,
    /// Remarks for the operator (hints, things left alone).
    pub notes: Vec<String>,
}

fn host_prefix(a: IpAddr) -> u8 {
    if a.is_ipv4() { 32 } else { 128 }
}

fn want_sysctl(s: &Snapshot, plan: &mut Plan, key: String, to: i64) {
    let from = s.sysctl(&key);
    if from != Some(to) {
        plan.changes.push(Change::Sysctl { key, from, to });
    }
}

/// Plans a setup (pure). Fails when the request conflicts with the host (a VIP already on an
/// ARPing interface or with another prefix: the operator must remove it first).
pub fn plan_setup(s: &Snapshot, spec: &SetupSpec) -> Result<Plan, Error> {
    let mut plan = Plan::default();
    let v6_only = !spec.vips.is_empty() && spec.vips.iter().all(IpAddr::is_ipv6);
    let dev = resolve_dev(s, spec.dev.as_deref(), v6_only);
    if let Some(d) = spec.dev.as_deref()
        && s.link(d).is_none()
    {
        return Err(Error::Invalid(format!("no interface {d}")));
    }
    if spec.mode == Mode::Nat {
        if !spec.vips.is_empty() {
            plan.notes.push(
                "NAT real servers do not hold the VIP: --vip ignored (the director rewrites the \
                 destination to this host's address)"
                    .into(),
            );
        }
        let fam_v6 = spec.gateway.is_some_and(|g| g.is_ipv6());
        let cur = s.default_route(fam_v6);
        let cur_gw = cur.and_then(|r| r.gateway);
        match spec.gateway {
            Some(g) if cur_gw != Some(g) => plan.changes.push(Change::DefaultRoute {
                via: g,
                dev: spec.dev.clone().or_else(|| s.dev_to(g).map(str::to_owned)),
                from: cur_gw,
            }),
            Some(_) => {}
            None => plan.notes.push(match cur_gw {
                Some(g) => format!(
                    "default gateway is {g}: in NAT mode it must be the director's DIP \
                     (check with lvsadm realserver check --mode nat --dip DIP; set with \
                     --gateway DIP)"
                ),
                None => "no default route: in NAT mode the director's DIP must be the default \
                         gateway (set with --gateway DIP)"
                    .into(),
            }),
        }
        return Ok(plan);
    }

    let Some(dev) = dev else {
        return Err(Error::Invalid(
            "no interface facing the director: give --dev".into(),
        ));
    };
    if spec.vips.is_empty() {
        return Err(Error::Invalid("--vip is required for dr and tun".into()));
    }
    // Conflicts first: nothing is planned for a request that cannot be met.
    for &vip in &spec.vips {
        for a in s.addrs_of(vip) {
            let arps = s.link(&a.dev).is_none_or(LinkState::arps);
            if arps || a.prefix != host_prefix(vip) {
                return Err(Error::Invalid(format!(
                    "{vip}/{} is already on {}: remove it first (ip addr del {vip}/{} dev {})",
                    a.prefix, a.dev, a.prefix, a.dev
                )));
            }
        }
    }
    if spec.vips.iter().any(IpAddr::is_ipv4) {
        for d in ["all", dev.as_str()] {
            want_sysctl(s, &mut plan, conf_key(d, "arp_ignore"), 1);
            want_sysctl(s, &mut plan, conf_key(d, "arp_announce"), 2);
        }
    }
    let lo = s.links.iter().find(|l| l.loopback);
    let lo_name = lo.map_or("lo", |l| l.name.as_str()).to_owned();
    if lo.is_some_and(|l| !l.up) {
        plan.changes.push(Change::LinkUp {
            dev: lo_name.clone(),
        });
    }
    for &vip in &spec.vips {
        if s.addrs_of(vip).next().is_none()
            && !plan
                .changes
                .iter()
                .any(|c| matches!(c, Change::AddrAdd { addr, .. } if *addr == vip))
        {
            plan.changes.push(Change::AddrAdd {
                dev: lo_name.clone(),
                addr: vip,
                prefix: host_prefix(vip),
            });
        }
    }
    if spec.mode == Mode::Tun {
        if spec.vips.iter().any(IpAddr::is_ipv4) && s.effective(&dev, "rp_filter") == 1 {
            want_sysctl(s, &mut plan, conf_key(&dev, "rp_filter"), 2);
        }
        let link = s.link(&dev);
        if link.is_some_and(|l| l.decap) {
            plan.notes.push(format!(
                "{} already attached on {dev} (teardown first to change its configuration)",
                decap::PROG
            ));
        } else {
            let v4 = s
                .addrs_on(&dev)
                .filter(|a| a.addr.is_ipv4())
                .take(MAX_LOCAL4);
            // Link-local addresses are never tunnel endpoints.
            let v6 = s
                .addrs_on(&dev)
                .filter(|a| matches!(a.addr, IpAddr::V6(v) if v.segments()[0] & 0xffc0 != 0xfe80))
                .take(MAX_LOCAL6);
            plan.changes.push(Change::DecapAttach {
                dev: dev.clone(),
                gue_port: spec.gue_port,
                local: v4.chain(v6).map(|a| a.addr).collect(),
            });
        }
    }
    Ok(plan)
}

/// Plans the undoing of `recorded` (a [`State`]'s changes) on the host as it is now (pure).
pub fn plan_teardown(s: &Snapshot, recorded: &[Change]) -> Plan {
    let mut plan = Plan::default();
    for c in recorded.iter().rev() {
        match c {
            Change::Sysctl { key, from, to } => match (s.sysctl(key), from) {
                (Some(cur), Some(old)) if cur == *to => plan.changes.push(Change::Sysctl {
                    key: key.clone(),
                    from: Some(cur),
                    to: *old,
                }),
                (Some(cur), Some(_)) => plan.notes.push(format!(
                    "{key} is {cur} now (set to {to} by setup): left alone"
                )),
                _ => {}
            },
            Change::LinkUp { dev } => plan.notes.push(format!("{dev} left up")),
            Change::AddrAdd { dev, addr, prefix } => {
                if s.addrs_on(dev)
                    .any(|a| a.addr == *addr && a.prefix == *prefix)
                {
                    plan.changes.push(Change::AddrDel {
                        dev: dev.clone(),
                        addr: *addr,
                        prefix: *prefix,
                    });
                }
            }
            Change::DecapAttach { dev, .. } => {
                if s.link(dev).is_some_and(|l| l.decap) {
                    plan.changes.push(Change::DecapDetach { dev: dev.clone() });
                }
            }
            Change::DefaultRoute { via, dev, from } => {
                let cur = s.default_route(via.is_ipv6()).and_then(|r| r.gateway);
                if cur == Some(*via) {
                    plan.changes.push(match from {
                        Some(old) => Change::DefaultRoute {
                            via: *old,
                            dev: dev.clone(),
                            from: Some(*via),
                        },
                        None => Change::DefaultRouteDel { via: *via },
                    });
                } else {
                    plan.notes
                        .push(format!("default route no longer via {via}: left alone"));
                }
            }
            Change::AddrDel { .. }
            | Change::DecapDetach { .. }
            | Change::DefaultRouteDel { .. } => {}
        }
    }
    plan
}

/// The snapshot as it is after `c` (the model of a change, used to test plans).
pub fn simulate(s: &mut Snapshot, c: &Change) {
    match c {
        Change::Sysctl { key, to, .. } => {
            s.sysctls.insert(key.clone(), *to);
        }
        Change::LinkUp { dev } => {
            if let Some(l) = s.links.iter_mut().find(|l| l.name == *dev) {
                l.up = true;
            }
        }
        Change::AddrAdd { dev, addr, prefix } => s.addrs.push(AddrState {
            dev: dev.clone(),
            addr: *addr,
            prefix: *prefix,
        }),
        Change::AddrDel { dev, addr, prefix } => s
            .addrs
            .retain(|a| !(a.dev == *dev && a.addr == *addr && a.prefix == *prefix)),
        Change::DecapAttach { dev, .. } | Change::DecapDetach { dev } => {
            let on = matches!(c, Change::DecapAttach { .. });
            if let Some(l) = s.links.iter_mut().find(|l| l.name == *dev) {
                l.decap = on;
            }
        }
        Change::DefaultRoute { via, dev, .. } => {
            s.routes
                .retain(|r| !(r.prefix == 0 && r.dst.is_ipv6() == via.is_ipv6()));
            s.routes.push(RouteState {
                dst: if via.is_ipv6() {
                    IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED)
                } else {
                    IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)
                },
                prefix: 0,
                gateway: Some(*via),
                dev: dev.clone(),
            });
        }
        Change::DefaultRouteDel { via } => s
            .routes
            .retain(|r| !(r.prefix == 0 && r.gateway == Some(*via))),
    }
}

fn ip(args: &[String]) -> Result<(), Error> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| Error::Command(format!("ip {}: {e}", args.join(" "))))?;
    if !out.status.success() {
        return Err(Error::Command(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

fn apply_one(c: &Change) -> Result<(), Error> {
    let s = |x: &dyn ToString| x.to_string();
    match c {
        Change::Sysctl { key, to, .. } => Ok(lvs_sys::sysctl::write(key, &to.to_string())?),
        Change::LinkUp { dev } => ip(&[s(&"link"), s(&"set"), s(dev), s(&"up")]),
        Change::AddrAdd { dev, addr, prefix } => ip(&[
            s(&"addr"),
            s(&"add"),
            format!("{addr}/{prefix}"),
            s(&"dev"),
            s(dev),
        ]),
        Change::AddrDel { dev, addr, prefix } => ip(&[
            s(&"addr"),
            s(&"del"),
            format!("{addr}/{prefix}"),
            s(&"dev"),
            s(dev),
        ]),
        Change::DecapAttach {
            dev,
            gue_port,
            local,
        } => {
            let mut d = Decap::load(&DecapConfig {
                gue_port: *gue_port,
                local: local.clone(),
                force_compat: false,
            })?;
            d.attach(dev)?;
            Ok(())
        }
        Change::DecapDetach { dev } => decap::detach(dev).map(|_| ()),
        Change::DefaultRoute { via, dev, .. } => {
            let mut a = vec![s(&"route"), s(&"replace"), s(&"default"), s(&"via"), s(via)];
            if let Some(d) = dev {
                a.push(s(&"dev"));
                a.push(s(d));
            }
            ip(&a)
        }
        Change::DefaultRouteDel { via } => {
            ip(&[s(&"route"), s(&"del"), s(&"default"), s(&"via"), s(via)])
        }
    }
}

/// Applies `changes` in order, stopping at the first failure. Returns the changes that took
/// effect and the failure, if any.
pub fn apply(changes: &[Change]) -> (Vec<Change>, Option<Error>) {
    let mut done = Vec::new();
    for c in changes {
        if let Err(e) = apply_one(c) {
            return (done, Some(e));
        }
        done.push(c.clone());
    }
    (done, None)
}

/// What setup did, for teardown.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// Mode of the last setup.
    pub mode: Option<Mode>,
    /// Changes applied, oldest first.
    pub applied: Vec<Change>,
}

/// Default state file.
pub const STATE_FILE: &str = "/run/lvs/realserver.json";

impl State {
    /// Reads a state file; a missing file is an empty state.
    pub fn load(path: &Path) -> Result<State, Error> {
        let p = path.display().to_string();
        match std::fs::read_to_string(path) {
            Ok(t) => serde_json::from_str(&t).map_err(|e| Error::State(p, e.to_string())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
            Err(e) => Err(Error::State(p, e.to_string())),
        }
    }

    /// Writes the state file (creating its directory), or removes it when empty.
    pub fn save(&self, path: &Path) -> Result<(), Error> {
        let p = path.display().to_string();
        if self.applied.is_empty() {
            return match std::fs::remove_file(path) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(Error::State(p, e.to_string())),
            };
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::State(p.clone(), e.to_string()))?;
        }
        let t = serde_json::to_string_pretty(self)
            .map_err(|e| Error::State(p.clone(), e.to_string()))?;
        std::fs::write(path, t + "\n").map_err(|e| Error::State(p, e.to_string()))
    }
}
