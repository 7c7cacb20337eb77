//! Lowering: a loaded keepalived [`Config`] to the control requests that
//! build the same IPVS table keepalived builds at start-up.
//!
//! Why here: the lowering is as pure as the rest of this crate (no I/O, no
//! clock) and only needs the request types of `lvs-proto`; keeping it next
//! to the typed model means a model change and its lowering move together,
//! and both `lvsd` and the future reload (issue 6 item 3, a diff of two
//! lowerings) can call it without depending on the control handler.
//!
//! Contract ([`lower`]): `global_defs` `lvs_timeouts` first (one
//! `SetTimeouts`, as keepalived sets them at start), then for every
//! `virtual_server` in file order, one
//! `AddService` per member (the address, the `fwmark`, or each member of its
//! `virtual_server_group`: every address of a range, every fwmark), followed
//! by one `AddDest` per real server that keepalived adds at start. The input
//! must be a configuration that loaded without error ([`crate::check`]
//! fills the defaults the lowering relies on; anything still unset falls
//! back to keepalived's default). Cost: linear in services × real servers;
//! a group range of N addresses yields N services.
//!
//! keepalived's start-up rules mirrored (checked against keepalived 2.2.7
//! in the lab VM: the sample tables and `tests/lower/startup.conf`):
//! - service: scheduler (`lvs_sched`/`lb_algo`, default `wlc`), scheduler
//!   flags, `ops`, `persistence_engine`; persistent when a
//!   `persistence_timeout` is set, with the granularity (IPv4 mask, IPv6
//!   prefix length; none = /32 or /128).
//! - real server: weight (its own, else the virtual server's `weight`),
//!   `uthreshold`/`lthreshold`, forwarding method (its own, else the
//!   virtual server's, `FNAT` → full NAT). The port is the real server's for
//!   NAT; for the other methods the service's port (0 for fwmark services),
//!   as ipvsadm and the kernel force it.
//! - `alpha`: a real server with `alpha` and at least one checker starts
//!   down: it is not added (or added at weight 0 with
//!   `inhibit_on_failure`). A server without checker is always up.
//! - quorum: when the weight of the servers up at start is below `quorum`
//!   and there is a `sorry_server`, the sorry server is added and the real
//!   servers up are not (inhibited ones at weight 0). Otherwise the sorry
//!   server is added only with `sorry_server_inhibit`, at weight 0.
//! - Reload ([`diff`]): two tables ([`lower_table`], or the live table a
//!   health-check driver derives with [`vs_services`] and [`dest_spec`])
//!   compare service by service (key) and destination by destination
//!   (address and port); only the differences become requests, so what both
//!   share keeps its connections and counters (keepalived's
//!   `clear_diff_services` does the same on `SIGHUP`).
//! - Not lowered: everything health checks change later (servers going
//!   down/up, quorum transitions, notify scripts), VRRP, `lvs_sync_daemon`;
//!   `lvs-check` drives those at run time.

use std::net::IpAddr;

use lvs_proto::{
    DestSpec, Family as PFamily, FwdMethod, Protocol as PProtocol, Request, SchedFlags as PFlags,
    ServiceKey, ServiceSpec, Timeouts, TunnelCsum as PCsum, TunnelSpec, TunnelType as PTunnel,
};

use crate::model::{
    Config, Family, Granularity, LvsMethod, Protocol, RealServer, SchedFlags, Scheduler,
    TunnelCsum, TunnelType, VirtualServer, VsKey, VsgEntry,
};

/// The requests that build `cfg`'s IPVS table as keepalived does at start
/// (see the module docs). Apply them as one atomic batch.
pub fn lower(cfg: &Config) -> Vec<Request> {
    let mut out = Vec::new();
    if let Some(t) = timeouts(cfg) {
        out.push(Request::SetTimeouts(t));
    }
    for svc in lower_table(cfg) {
        out.push(Request::AddService(svc.spec.clone()));
        for dest in svc.dests {
            out.push(Request::AddDest {
                service: svc.spec.key,
                dest,
            });
        }
    }
    out
}

/// `global_defs` `lvs_timeouts` as an `ipvsadm --set` request (0 leaves a
/// timeout unchanged), when any is given.
pub fn timeouts(cfg: &Config) -> Option<Timeouts> {
    let t = &cfg.global.lvs_timeouts;
    (t.tcp.is_some() || t.tcpfin.is_some() || t.udp.is_some()).then(|| Timeouts {
        tcp: t.tcp.unwrap_or(0),
        tcp_fin: t.tcpfin.unwrap_or(0),
        udp: t.udp.unwrap_or(0),
    })
}

/// One IPVS service with its destinations, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableService {
    /// The service.
    pub spec: ServiceSpec,
    /// Its destinations.
    pub dests: Vec<DestSpec>,
}

/// The start-up table of [`lower`], service by service.
pub fn lower_table(cfg: &Config) -> Vec<TableService> {
    let mut out = Vec::new();
    for vs in &cfg.virtual_servers {
        let dests = start_dests(vs);
        for spec in vs_services(cfg, vs) {
            let dests = dests
                .iter()
                .map(|(addr, port, method, weight, uth, lth)| {
                    dest_spec(spec.key, *addr, *port, *method, *weight, *uth, *lth)
                })
                .collect();
            out.push(TableService { spec, dests });
        }
    }
    out
}

/// The IPVS services of virtual server `vs` of `cfg`: itself, or one per
/// member of its group (each address of a range, each fwmark).
pub fn vs_services(cfg: &Config, vs: &VirtualServer) -> Vec<ServiceSpec> {
    service_keys(cfg, vs)
        .into_iter()
        .map(|key| service_spec(vs, key))
        .collect()
}

/// A destination of service `key` as keepalived adds it: the real server's
/// port for NAT (when it has one), the service's port for the other methods
/// (0 for fwmark services), as ipvsadm and the kernel force it. Weights
/// above `i32::MAX` are clamped.
pub fn dest_spec(
    key: ServiceKey,
    addr: IpAddr,
    port: u16,
    method: LvsMethod,
    weight: u32,
    u_threshold: u32,
    l_threshold: u32,
) -> DestSpec {
    let fwd = fwd_method(method);
    let port = if matches!(fwd, FwdMethod::Masq) && port != 0 {
        port
    } else {
        key.port()
    };
    DestSpec {
        addr,
        port,
        fwd,
        weight: i32::try_from(weight).unwrap_or(i32::MAX),
        u_threshold,
        l_threshold,
    }
}

/// The requests turning table `old` into table `new` without touching what
/// both have in common, as one batch to apply atomically (graceful
/// reload). Services are matched by key, destinations by address and port
/// within their service.
///
/// Order: destinations gone from kept services are deleted, then services
/// gone are deleted (with their destinations), then kept services whose
/// settings changed are edited, new services added, new destinations added
/// and kept destinations whose settings changed (weight, thresholds,
/// forwarding method) edited in place. A destination or service present in
/// both with the same settings yields no request, so its connections and
/// counters are untouched.
pub fn diff(old: &[TableService], new: &[TableService]) -> Vec<Request> {
    let find = |t: &[TableService], key: &ServiceKey| -> Option<usize> {
        t.iter().position(|s| s.spec.key == *key)
    };
    let mut dels = Vec::new();
    let mut svc_dels = Vec::new();
    for o in old {
        match find(new, &o.spec.key) {
            None => svc_dels.push(Request::DelService(o.spec.key)),
            Some(i) => {
                for d in &o.dests {
                    if !new[i].dests.iter().any(|n| n.key() == d.key()) {
                        dels.push(Request::DelDest {
                            service: o.spec.key,
                            dest: d.key(),
                        });
                    }
                }
            }
        }
    }
    let mut edits = Vec::new();
    let mut adds = Vec::new();
    let mut dest_adds = Vec::new();
    let mut dest_edits = Vec::new();
    for n in new {
        let kept = find(old, &n.spec.key).map(|i| &old[i]);
        match kept {
            Some(o) if o.spec != n.spec => edits.push(Request::EditService(n.spec.clone())),
            Some(_) => {}
            None => adds.push(Request::AddService(n.spec.clone())),
        }
        for d in &n.dests {
            let before = kept.and_then(|o| o.dests.iter().find(|x| x.key() == d.key()));
            match before {
                None => dest_adds.push(Request::AddDest {
                    service: n.spec.key,
                    dest: *d,
                }),
                Some(b) if b != d => dest_edits.push(Request::EditDest {
                    service: n.spec.key,
                    dest: *d,
                }),
                Some(_) => {}
            }
        }
    }
    let mut out = dels;
    out.extend(svc_dels);
    out.extend(edits);
    out.extend(adds);
    out.extend(dest_adds);
    out.extend(dest_edits);
    out
}

/// Adapts a batch computed against the table lvs-rs believes in (see
/// [`diff`]) to the `live` table, which an operator may have changed by
/// hand meanwhile, so that it applies: deleting what is already gone is
/// dropped, adding what is already there becomes an edit, editing what is
/// gone becomes an add. Requests are followed in order (a service deleted
/// by an earlier request is gone for the later ones). Other requests pass
/// unchanged.
pub fn reconcile(requests: Vec<Request>, live: &[TableService]) -> Vec<Request> {
    use std::collections::HashSet;
    let mut services: HashSet<ServiceKey> = live.iter().map(|s| s.spec.key).collect();
    let mut dests: HashSet<(ServiceKey, lvs_proto::DestKey)> = live
        .iter()
        .flat_map(|s| s.dests.iter().map(|d| (s.spec.key, d.key())))
        .collect();
    let mut out = Vec::with_capacity(requests.len());
    for r in requests {
        let r = match r {
            Request::DelService(k) => {
                if !services.remove(&k) {
                    continue;
                }
                dests.retain(|(s, _)| *s != k);
                Request::DelService(k)
            }
            Request::AddService(spec) | Request::EditService(spec) => {
                if services.insert(spec.key) {
                    Request::AddService(spec)
                } else {
                    Request::EditService(spec)
                }
            }
            Request::DelDest { service, dest } => {
                if !dests.remove(&(service, dest)) {
                    continue;
                }
                Request::DelDest { service, dest }
            }
            Request::AddDest { service, dest } | Request::EditDest { service, dest } => {
                if dests.insert((service, dest.key())) {
                    Request::AddDest { service, dest }
                } else {
                    Request::EditDest { service, dest }
                }
            }
            other => other,
        };
        out.push(r);
    }
    out
}

/// Address, port, method, weight, upper and lower thresholds.
type StartDest = (IpAddr, u16, LvsMethod, u32, u32, u32);

/// The destinations keepalived adds at start for `vs`, in file order.
fn start_dests(vs: &VirtualServer) -> Vec<StartDest> {
    let vs_method = vs.lvs_method.unwrap_or(LvsMethod::Nat);
    let weight_of = |rs: &RealServer| rs.weight.unwrap_or(vs.weight);
    let up = |rs: &RealServer| !rs.alpha.unwrap_or(vs.alpha) || rs.checkers.is_empty();
    let inhibit = |rs: &RealServer| rs.inhibit_on_failure.unwrap_or(vs.inhibit_on_failure);
    let alive_weight: u64 = vs
        .real_servers
        .iter()
        .filter(|rs| up(rs))
        .map(|rs| u64::from(weight_of(rs)))
        .sum();
    let sorry_active = vs.sorry_server.is_some() && alive_weight < u64::from(vs.quorum);
    let mut dests = Vec::new();
    for rs in &vs.real_servers {
        let weight = if up(rs) && !sorry_active {
            weight_of(rs)
        } else if inhibit(rs) {
            0
        } else {
            continue;
        };
        dests.push((
            rs.addr,
            rs.port,
            rs.lvs_method.unwrap_or(vs_method),
            weight,
            rs.uthreshold.unwrap_or(0),
            rs.lthreshold.unwrap_or(0),
        ));
    }
    if let Some(ss) = &vs.sorry_server {
        let weight = if sorry_active {
            Some(1)
        } else if ss.inhibit {
            Some(0)
        } else {
            None
        };
        if let Some(w) = weight {
            dests.push((
                ss.addr,
                ss.port,
                ss.lvs_method.unwrap_or(vs_method),
                w,
                0,
                0,
            ));
        }
    }
    dests
}

/// The services of `vs`: itself, or each member of its group.
fn service_keys(cfg: &Config, vs: &VirtualServer) -> Vec<ServiceKey> {
    let protocol = proto(vs.protocol.unwrap_or(Protocol::Tcp));
    let vs_family = vs.ip_family.map(family);
    match &vs.key {
        VsKey::Addr { addr, port } => vec![ServiceKey::Addr {
            protocol,
            addr: *addr,
            port: *port,
        }],
        VsKey::Fwmark(mark) => vec![ServiceKey::Fwmark {
            mark: *mark,
            family: vs_family.or_else(|| rs_family(vs)).unwrap_or(PFamily::Inet),
        }],
        VsKey::Group(name) => {
            let Some(group) = cfg.group(name) else {
                return Vec::new();
            };
            let mut keys = Vec::new();
            for entry in &group.entries {
                match entry {
                    VsgEntry::Range { port, .. } => {
                        keys.extend(entry.addresses().map(|addr| ServiceKey::Addr {
                            protocol,
                            addr,
                            port: *port,
                        }));
                    }
                    VsgEntry::Fwmark { mark, family: f } => keys.push(ServiceKey::Fwmark {
                        mark: *mark,
                        family: f
                            .map(family)
                            .or(vs_family)
                            .or_else(|| rs_family(vs))
                            .unwrap_or(PFamily::Inet),
                    }),
                }
            }
            keys
        }
    }
}

/// The family of the first real server (keepalived's default for fwmark
/// services without `ip_family`).
fn rs_family(vs: &VirtualServer) -> Option<PFamily> {
    vs.real_servers.first().map(|rs| PFamily::of(&rs.addr))
}

fn service_spec(vs: &VirtualServer, key: ServiceKey) -> ServiceSpec {
    let v6 = key.family() == PFamily::Inet6;
    let netmask = match vs.persistence_granularity {
        Some(Granularity::V4(mask)) if !v6 => u32::from(mask),
        Some(Granularity::V6(len)) if v6 => u32::from(len),
        _ if v6 => 128,
        _ => u32::MAX,
    };
    ServiceSpec {
        key,
        scheduler: vs.scheduler.unwrap_or(Scheduler::Wlc).name().to_owned(),
        persistent: vs.persistence_timeout.is_some(),
        timeout: vs.persistence_timeout.unwrap_or(0),
        netmask,
        ops: vs.one_packet,
        sched_flags: flags(vs.sched_flags),
        pe_name: vs.persistence_engine.clone(),
    }
}

fn flags(f: SchedFlags) -> PFlags {
    PFlags {
        flag1: f.has(SchedFlags::FLAG_1),
        flag2: f.has(SchedFlags::FLAG_2),
        flag3: f.has(SchedFlags::FLAG_3),
    }
}

fn proto(p: Protocol) -> PProtocol {
    match p {
        Protocol::Tcp => PProtocol::Tcp,
        Protocol::Udp => PProtocol::Udp,
        Protocol::Sctp => PProtocol::Sctp,
    }
}

fn family(f: Family) -> PFamily {
    match f {
        Family::Inet => PFamily::Inet,
        Family::Inet6 => PFamily::Inet6,
    }
}

fn fwd_method(m: LvsMethod) -> FwdMethod {
    match m {
        LvsMethod::Nat => FwdMethod::Masq,
        LvsMethod::Dr => FwdMethod::Route,
        LvsMethod::FullNat => FwdMethod::FullNat,
        LvsMethod::Tun { kind, csum } => {
            let (kind, port) = match kind {
                TunnelType::Ipip => (PTunnel::Ipip, 0),
                TunnelType::Gue { port } => (PTunnel::Gue, port),
                TunnelType::Gre => (PTunnel::Gre, 0),
            };
            FwdMethod::Tunnel(TunnelSpec {
                kind,
                port,
                csum: match csum {
                    TunnelCsum::NoCsum => PCsum::NoCsum,
                    TunnelCsum::Csum => PCsum::Csum,
                    TunnelCsum::RemCsum => PCsum::RemCsum,
                },
            })
        }
    }
}
