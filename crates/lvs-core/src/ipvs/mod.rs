//! The director state: services, destinations (with the trash), scheduler
//! instances and global counters, with the kernel's configuration
//! operations (`ip_vs_ctl.c`).
//!
//! Kernel behaviour mirrored:
//! - a new destination goes to the **head** of its service's list
//!   (`list_add_rcu` in `__ip_vs_update_dest`), and the scheduler's
//!   `add_dest` hook runs after the insertion; `del_dest` runs after the
//!   unlink, `upd_dest` after an edit;
//! - a deleted destination moves to the trash with its counters; adding the
//!   same `<service, address, port>` again revives it (`ip_vs_trash_get_dest`)
//!   at the head of the list; trash entries no connection refers to are freed
//!   after [`DEST_TRASH_PERIOD_MS`];
//! - validation returns the kernel's error kinds: `EEXIST`, `ESRCH` (no
//!   service), `ENOENT` (no destination, unknown scheduler or PE), `ERANGE`
//!   (weight < 0, lower threshold above upper), `EINVAL` (mixed family
//!   without tunnelling, GUE without port, bad IPv6 prefix).

use std::collections::HashMap;

use crate::addr::Af;
use crate::conn::ConnState;
use crate::dest::{Dest, DestArena, DestConfig, DestId, FwdMethod, TunnelType};
use crate::error::{Error, Result};
use crate::sched::{self, DestList, RandomSource, SchedParams, SchedRequest, Scheduler};
use crate::service::{ServiceConfig, ServiceFlags, ServiceId, ServiceKey};
use crate::stats::Stats;
use crate::time::Time;

/// How long an unreferenced destination stays in the trash
/// (`IP_VS_DEST_TRASH_PERIOD`, 120 s).
pub const DEST_TRASH_PERIOD_MS: u64 = 120_000;

/// A virtual service with its runtime state.
#[derive(Debug)]
pub struct Service {
    /// Stable handle.
    pub id: ServiceId,
    /// Configuration.
    pub config: ServiceConfig,
    /// Destinations in list order (newest first).
    pub dests: Vec<DestId>,
    /// Counters and rates.
    pub stats: Stats,
    sched: Box<dyn Scheduler>,
}

impl Service {
    /// The scheduler instance.
    pub fn scheduler(&self) -> &dyn Scheduler {
        self.sched.as_ref()
    }
}

/// A destination sitting in the trash.
#[derive(Debug, Clone, Copy)]
struct Trashed {
    id: DestId,
    key: ServiceKey,
    since: Time,
}

/// The director's whole configuration and runtime state.
#[derive(Debug, Default)]
pub struct Ipvs {
    services: Vec<Option<Service>>,
    free_services: Vec<u32>,
    by_key: HashMap<ServiceKey, ServiceId>,
    dests: DestArena,
    /// Number of connections/templates referring to each destination,
    /// indexed by `DestId`.
    dest_refs: Vec<u32>,
    trash: Vec<Trashed>,
    /// Scheduler tunables.
    pub sched_params: SchedParams,
    /// Global counters (`/proc/net/ip_vs_stats`).
    pub stats: Stats,
    /// Connection table, timeouts and sysctls (see `flow.rs`).
    conn: ConnState,
    /// Connections a sync master may have to send (see `conn/sync_out.rs`).
    sync_out: crate::conn::sync_out::SyncOut,
}

fn validate_dest(svc: &ServiceConfig, d: &DestConfig) -> Result<()> {
    if d.weight < 0 {
        return Err(Error::Range("weight"));
    }
    // The kernel refuses this even when the upper threshold is 0 (checked on 6.1).
    if d.l_threshold > d.u_threshold {
        return Err(Error::Range("lower threshold above upper threshold"));
    }
    let tunnel = match d.fwd {
        FwdMethod::Tunnel(t) => Some(t),
        _ => None,
    };
    if Af::of(&d.addr) != svc.key.af() && tunnel.is_none() {
        return Err(Error::Invalid(
            "different address family is allowed only for tunnels",
        ));
    }
    if let Some(t) = tunnel
        && t.kind == TunnelType::Gue
        && t.port == 0
    {
        return Err(Error::Invalid("GUE tunnel needs a port"));
    }
    if d.addr.is_unspecified() || d.addr.is_multicast() {
        return Err(Error::Invalid("destination address is not unicast"));
    }
    Ok(())
}

fn validate_service(cfg: &ServiceConfig) -> Result<()> {
    if let ServiceKey::Fwmark { mark: 0, .. } = cfg.key {
        return Err(Error::Invalid("fwmark 0"));
    }
    if cfg.key.af() == Af::Inet6 && cfg.is_persistent() && !(1..=128).contains(&cfg.netmask) {
        return Err(Error::Invalid("IPv6 prefix length must be 1..128"));
    }
    if cfg.scheduler.len() >= 16 {
        return Err(Error::Invalid("scheduler name too long"));
    }
    match cfg.pe_name.as_deref() {
        None | Some("sip") => Ok(()),
        Some(other) => Err(Error::NoScheduler(other.to_owned())),
    }
}

impl Ipvs {
    /// An empty director with default scheduler tunables.
    pub fn new() -> Ipvs {
        Ipvs::default()
    }

    // ----------------------------------------------------------- lookups

    /// Service handle for a key.
    pub fn service_id(&self, key: &ServiceKey) -> Option<ServiceId> {
        self.by_key.get(key).copied()
    }

    /// A service by handle.
    #[inline]
    pub fn service(&self, id: ServiceId) -> Option<&Service> {
        self.services.get(id.0 as usize).and_then(Option::as_ref)
    }

    /// A service by handle, mutably.
    #[inline]
    pub fn service_mut(&mut self, id: ServiceId) -> Option<&mut Service> {
        self.services
            .get_mut(id.0 as usize)
            .and_then(Option::as_mut)
    }

    /// A service by key.
    pub fn service_by_key(&self, key: &ServiceKey) -> Option<&Service> {
        self.service_id(key).and_then(|id| self.service(id))
    }

    /// All services, in no particular order.
    pub fn services(&self) -> impl Iterator<Item = &Service> {
        self.services.iter().filter_map(Option::as_ref)
    }

    /// Number of services.
    pub fn service_count(&self) -> usize {
        self.by_key.len()
    }

    /// A destination by handle (including trashed ones).
    #[inline]
    pub fn dest(&self, id: DestId) -> Option<&Dest> {
        self.dests.get(id)
    }

    /// A destination by handle, mutably.
    #[inline]
    pub fn dest_mut(&mut self, id: DestId) -> Option<&mut Dest> {
        self.dests.get_mut(id)
    }

    /// The destination arena.
    pub fn dest_arena(&self) -> &DestArena {
        &self.dests
    }

    /// A service's destinations in list order.
    pub fn dest_list(&self, svc: ServiceId) -> Option<DestList<'_>> {
        self.service(svc)
            .map(|s| DestList::new(&s.dests, &self.dests))
    }

    /// Find a destination of a service by address and port.
    pub fn find_dest(&self, svc: ServiceId, addr: &std::net::IpAddr, port: u16) -> Option<DestId> {
        let s = self.service(svc)?;
        s.dests.iter().copied().find(|id| {
            self.dests
                .get(*id)
                .is_some_and(|d| d.config.addr == *addr && d.config.port == port)
        })
    }

    // ------------------------------------------------------ service ops

    /// `ipvsadm -A`.
    pub fn add_service(&mut self, cfg: ServiceConfig) -> Result<ServiceId> {
        validate_service(&cfg)?;
        if self.by_key.contains_key(&cfg.key) {
            return Err(Error::Exists);
        }
        let sched = sched::create(
            &cfg.scheduler,
            DestList::new(&[], &self.dests),
            &self.sched_params,
        )?;
        let idx = match self.free_services.pop() {
            Some(i) => i,
            None => {
                self.services.push(None);
                u32::try_from(self.services.len() - 1).unwrap_or(u32::MAX)
            }
        };
        let id = ServiceId(idx);
        self.by_key.insert(cfg.key, id);
        self.services[idx as usize] = Some(Service {
            id,
            config: cfg,
            dests: Vec::new(),
            stats: Stats::default(),
            sched,
        });
        Ok(id)
    }

    /// `ipvsadm -E`: the key selects the service; scheduler, flags,
    /// timeout, netmask and PE are replaced. A scheduler change creates a
    /// fresh scheduler over the current destinations.
    pub fn edit_service(&mut self, cfg: ServiceConfig) -> Result<()> {
        validate_service(&cfg)?;
        let id = self.service_id(&cfg.key).ok_or(Error::NoService)?;
        let params = self.sched_params;
        let Ipvs {
            services, dests, ..
        } = self;
        let svc = services
            .get_mut(id.0 as usize)
            .and_then(Option::as_mut)
            .ok_or(Error::NoService)?;
        if svc.config.scheduler != cfg.scheduler {
            svc.sched = sched::create(&cfg.scheduler, DestList::new(&svc.dests, dests), &params)?;
        }
        svc.config = cfg;
        Ok(())
    }

    /// `ipvsadm -D`.
    pub fn del_service(&mut self, key: &ServiceKey, now: Time) -> Result<()> {
        let id = self.by_key.remove(key).ok_or(Error::NoService)?;
        let svc = self.services[id.0 as usize]
            .take()
            .ok_or(Error::NoService)?;
        self.free_services.push(id.0);
        for d in svc.dests {
            self.trash_dest(d, svc.config.key, now);
        }
        Ok(())
    }

    /// `ipvsadm -C`.
    pub fn flush(&mut self, now: Time) {
        let keys: Vec<ServiceKey> = self.by_key.keys().copied().collect();
        for k in keys {
            // Cannot fail: the key was just listed.
            let _ = self.del_service(&k, now);
        }
    }

    /// `ipvsadm -Z [service]`.
    pub fn zero(&mut self, key: Option<&ServiceKey>) -> Result<()> {
        let ids: Vec<ServiceId> = match key {
            Some(k) => vec![self.service_id(k).ok_or(Error::NoService)?],
            None => {
                self.stats.zero();
                self.services().map(|s| s.id).collect()
            }
        };
        for id in ids {
            let Ipvs {
                services, dests, ..
            } = self;
            if let Some(svc) = services.get_mut(id.0 as usize).and_then(Option::as_mut) {
                svc.stats.zero();
                for d in &svc.dests {
                    if let Some(d) = dests.get_mut(*d) {
                        d.stats.zero();
                    }
                }
            }
        }
        Ok(())
    }

    // --------------------------------------------------------- dest ops

    /// `ipvsadm -a`.
    pub fn add_dest(&mut self, key: &ServiceKey, cfg: DestConfig) -> Result<DestId> {
        let id = self.service_id(key).ok_or(Error::NoService)?;
        let svc_cfg = &self.service(id).ok_or(Error::NoService)?.config;
        validate_dest(svc_cfg, &cfg)?;
        if self.find_dest(id, &cfg.addr, cfg.port).is_some() {
            return Err(Error::Exists);
        }
        if svc_cfg.scheduler == "mh" {
            let n = self.service(id).map_or(0, |s| s.dests.len());
            if n + 1 > self.sched_params.mh_table_size as usize {
                return Err(Error::Invalid("more destinations than mh table slots"));
            }
        }
        // Revive from the trash, or create.
        let trashed = self
            .trash
            .iter()
            .position(|t| {
                t.key == *key
                    && self
                        .dests
                        .get(t.id)
                        .is_some_and(|d| d.config.addr == cfg.addr && d.config.port == cfg.port)
            })
            .map(|i| self.trash.swap_remove(i).id);
        let did = match trashed {
            Some(did) => {
                if let Some(d) = self.dests.get_mut(did) {
                    d.apply_edit(cfg);
                    d.last_weight = cfg.weight;
                    d.service = id;
                }
                did
            }
            None => {
                let did = self.dests.insert_with(|did| Dest::new(did, id, cfg));
                let i = did.0 as usize;
                if self.dest_refs.len() <= i {
                    self.dest_refs.resize(i + 1, 0);
                }
                self.dest_refs[i] = 0;
                did
            }
        };
        let Ipvs {
            services, dests, ..
        } = self;
        let svc = services
            .get_mut(id.0 as usize)
            .and_then(Option::as_mut)
            .ok_or(Error::NoService)?;
        svc.dests.insert(0, did);
        svc.sched.dest_added(DestList::new(&svc.dests, dests), did);
        Ok(did)
    }

    /// `ipvsadm -e`.
    pub fn edit_dest(&mut self, key: &ServiceKey, cfg: DestConfig) -> Result<()> {
        let id = self.service_id(key).ok_or(Error::NoService)?;
        let svc_cfg = &self.service(id).ok_or(Error::NoService)?.config;
        validate_dest(svc_cfg, &cfg)?;
        let did = self
            .find_dest(id, &cfg.addr, cfg.port)
            .ok_or(Error::NoDest)?;
        let Ipvs {
            services, dests, ..
        } = self;
        if let Some(d) = dests.get_mut(did) {
            d.apply_edit(cfg);
        }
        let svc = services
            .get_mut(id.0 as usize)
            .and_then(Option::as_mut)
            .ok_or(Error::NoService)?;
        svc.sched
            .dest_updated(DestList::new(&svc.dests, dests), did);
        Ok(())
    }

    /// `ipvsadm -d`.
    pub fn del_dest(
        &mut self,
        key: &ServiceKey,
        addr: &std::net::IpAddr,
        port: u16,
        now: Time,
    ) -> Result<()> {
        let id = self.service_id(key).ok_or(Error::NoService)?;
        let did = self.find_dest(id, addr, port).ok_or(Error::NoDest)?;
        let Ipvs {
            services, dests, ..
        } = self;
        let svc = services
            .get_mut(id.0 as usize)
            .and_then(Option::as_mut)
            .ok_or(Error::NoService)?;
        let pos = svc
            .dests
            .iter()
            .position(|d| *d == did)
            .ok_or(Error::NoDest)?;
        svc.dests.remove(pos);
        if let Some(d) = dests.get_mut(did) {
            d.available = false;
        }
        svc.sched
            .dest_removed(DestList::new(&svc.dests, dests), did, pos);
        self.trash_dest(did, *key, now);
        Ok(())
    }

    fn trash_dest(&mut self, did: DestId, key: ServiceKey, now: Time) {
        if let Some(d) = self.dests.get_mut(did) {
            d.available = false;
        }
        self.conn.nodest_pending = true;
        self.trash.push(Trashed {
            id: did,
            key,
            since: now,
        });
    }

    /// Destinations currently in the trash.
    pub fn trash(&self) -> impl Iterator<Item = DestId> + '_ {
        self.trash.iter().map(|t| t.id)
    }

    // ------------------------------------------------ references, timers

    /// A connection or template now refers to `did`.
    #[inline]
    pub fn dest_ref(&mut self, did: DestId) {
        if let Some(r) = self.dest_refs.get_mut(did.0 as usize) {
            *r += 1;
        }
    }

    /// A connection or template no longer refers to `did`.
    #[inline]
    pub fn dest_unref(&mut self, did: DestId) {
        if let Some(r) = self.dest_refs.get_mut(did.0 as usize) {
            *r = r.saturating_sub(1);
        }
    }

    /// Number of connections and templates referring to `did`.
    pub fn dest_refcount(&self, did: DestId) -> u32 {
        self.dest_refs.get(did.0 as usize).copied().unwrap_or(0)
    }

    /// Periodic housekeeping: frees trash entries that nothing refers to
    /// and that have been idle for [`DEST_TRASH_PERIOD_MS`], and lets
    /// schedulers collect garbage.
    pub fn tick(&mut self, now: Time) {
        let mut i = 0;
        while i < self.trash.len() {
            let t = self.trash[i];
            if self.dest_refcount(t.id) == 0
                && now.0.saturating_sub(t.since.0) >= DEST_TRASH_PERIOD_MS
            {
                self.trash.swap_remove(i);
                self.dests.remove(t.id);
            } else {
                i += 1;
            }
        }
        let Ipvs {
            services, dests, ..
        } = self;
        for svc in services.iter_mut().filter_map(Option::as_mut) {
            svc.sched.tick(now, DestList::new(&svc.dests, dests));
        }
    }

    /// Run one 2-second estimator step on every counter set.
    pub fn estimate(&mut self) {
        self.stats.estimate();
        for svc in self.services.iter_mut().filter_map(Option::as_mut) {
            svc.stats.estimate();
        }
        for d in self.dests.iter_mut() {
            d.stats.estimate();
        }
    }

    // ----------------------------------------------------------- picking

    /// Run a service's scheduler (no connection is created).
    pub fn schedule(
        &mut self,
        svc: ServiceId,
        req: &SchedRequest,
        rng: &mut dyn RandomSource,
    ) -> Option<DestId> {
        let Ipvs {
            services, dests, ..
        } = self;
        let s = services.get_mut(svc.0 as usize).and_then(Option::as_mut)?;
        s.sched.schedule(DestList::new(&s.dests, dests), req, rng)
    }

    /// Service flags of a service (convenience for callers building a
    /// [`SchedRequest`]).
    pub fn service_flags(&self, svc: ServiceId) -> ServiceFlags {
        self.service(svc)
            .map(|s| s.config.flags)
            .unwrap_or_default()
    }
}

mod flow;
#[cfg(test)]
mod tests;
