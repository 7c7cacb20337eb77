//! `lblcr`: locality-based least-connection with replication
//! (`ip_vs_lblcr.c`).
//!
//! Contract and kernel behaviour mirrored:
//! - a per-service table maps each destination address (`daddr`) to a
//!   **set** of destinations (newest member first) with the set's
//!   last-modification time and the entry's last-use time, both taken from
//!   [`SchedRequest::now`];
//! - on a hit the entry's last use is refreshed and the set's
//!   weighted-least-connection member is found (`ip_vs_dest_set_min`: first
//!   member that is not OVERLOAD, has weight > 0 and is still linked, then
//!   any later such member with a strictly smaller `overhead / weight`);
//! - then, if the set has more than one member and was last modified more
//!   than `lblcr_expiration` ago (strictly), its most loaded member
//!   (`ip_vs_dest_set_max`: largest `overhead / weight` among members with
//!   weight > 0, OVERLOAD and trash not considered) is removed, which counts
//!   as a modification. The member found before still serves this pick,
//!   even if it was the one removed;
//! - that member is used unless there is none or it is overloaded in the
//!   LBLC sense (`activeconns > weight` while some destination of the
//!   service has `activeconns * 2 < weight`); otherwise a WLC pick over the
//!   whole service ([`super::lblc::wlc_pick`]) is **added** to the set (if
//!   not already there; a modification) and used. No such destination →
//!   `None`;
//! - on a miss, the WLC pick starts a new one-member set;
//! - garbage collection is lblc's (see [`super::lblc`]): every 60 s from
//!   [`Scheduler::tick`], full expiry after `lblcr_expiration` every 30
//!   quiet rounds, and the 6-minute idle sweep while the table holds more
//!   than 16384 entries.
//!
//! Members are remembered by handle and identity as in lblc; a member
//! whose destination was freed from the trash (impossible in the kernel,
//! which holds a reference) is dropped from its set when next seen.
//!
//! Cost: a hit is one hash lookup plus O(set size), O(n) when the chosen
//! member has more active connections than its weight or a new member is
//! needed; a miss is an O(n) WLC scan and one insertion (which may
//! allocate).

use std::collections::HashMap;
use std::net::IpAddr;

use super::lblc::{DestRef, FixedState, Gc, lblc_overloaded, load, wlc_pick};
use super::{DestList, RandomSource, SchedParams, SchedRequest, Scheduler};
use crate::dest::{Dest, DestId};
use crate::time::Time;

#[derive(Debug, Clone)]
struct Entry {
    /// Members, newest first (the kernel's `list_add_rcu`).
    set: Vec<DestRef>,
    lastmod: Time,
    lastuse: Time,
}

/// LBLCR state: the address → destination-set table and its collector.
#[derive(Debug, Clone)]
pub struct Lblcr {
    table: HashMap<IpAddr, Entry, FixedState>,
    expiration_ms: u64,
    gc: Gc,
}

/// Create the scheduler (the table starts empty).
pub fn create(_dests: DestList<'_>, params: &SchedParams) -> Box<dyn Scheduler> {
    Box::new(Lblcr::new(params.lblcr_expiration))
}

/// `ip_vs_dest_set_min`.
fn set_min<'a>(set: &[DestRef], dests: DestList<'a>) -> Option<&'a Dest> {
    let mut it = set.iter().filter_map(|r| r.resolve(dests));
    let mut least = it
        .by_ref()
        .find(|d| !d.overload && d.weight() > 0 && d.available)?;
    let mut loh = least.overhead();
    for d in it {
        if d.overload {
            continue;
        }
        let doh = d.overhead();
        if load(loh, d.weight()) > load(doh, least.weight()) && d.available {
            least = d;
            loh = doh;
        }
    }
    Some(least)
}

/// `ip_vs_dest_set_max`.
fn set_max(set: &[DestRef], dests: DestList<'_>) -> Option<DestId> {
    let mut it = set.iter().filter_map(|r| r.resolve(dests));
    let mut most = it.by_ref().find(|d| d.weight() > 0)?;
    let mut moh = most.overhead();
    for d in it {
        let doh = d.overhead();
        if load(moh, d.weight()) < load(doh, most.weight()) && d.weight() > 0 {
            most = d;
            moh = doh;
        }
    }
    Some(most.id)
}

impl Lblcr {
    /// An empty table with `lblcr_expiration` in seconds.
    pub fn new(expiration_secs: u64) -> Lblcr {
        Lblcr {
            table: HashMap::default(),
            expiration_ms: expiration_secs.saturating_mul(1000),
            gc: Gc::new(),
        }
    }

    /// Number of cached addresses.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// The set cached for `daddr` (newest member first), if any.
    pub fn cached_set(&self, daddr: &IpAddr) -> Option<Vec<DestId>> {
        self.table
            .get(daddr)
            .map(|e| e.set.iter().map(|r| r.id).collect())
    }

    /// The set's last-modification and the entry's last-use times.
    pub fn cached_times(&self, daddr: &IpAddr) -> Option<(Time, Time)> {
        self.table.get(daddr).map(|e| (e.lastmod, e.lastuse))
    }
}

impl Scheduler for Lblcr {
    fn name(&self) -> &'static str {
        "lblcr"
    }

    fn dest_added(&mut self, _dests: DestList<'_>, _id: DestId) {}

    fn dest_removed(&mut self, _dests: DestList<'_>, _id: DestId, _old_pos: usize) {}

    fn dest_updated(&mut self, _dests: DestList<'_>, _id: DestId) {}

    fn schedule(
        &mut self,
        dests: DestList<'_>,
        req: &SchedRequest,
        _rng: &mut dyn RandomSource,
    ) -> Option<DestId> {
        let now = req.now;
        self.gc.arm(now);
        let Some(en) = self.table.get_mut(&req.daddr) else {
            let id = wlc_pick(dests)?;
            let d = dests.get(id)?;
            self.table.insert(
                req.daddr,
                Entry {
                    set: vec![DestRef::of(d)],
                    lastmod: now,
                    lastuse: now,
                },
            );
            return Some(id);
        };
        en.lastuse = now;
        en.set.retain(|r| r.resolve(dests).is_some());
        let chosen = set_min(&en.set, dests);
        if en.set.len() > 1
            && now.0 > en.lastmod.0.saturating_add(self.expiration_ms)
            && let Some(m) = set_max(&en.set, dests)
            && let Some(pos) = en.set.iter().position(|r| r.id == m)
        {
            en.set.remove(pos);
            en.lastmod = now;
        }
        if let Some(d) = chosen
            && !lblc_overloaded(d, dests)
        {
            return Some(d.id);
        }
        let id = wlc_pick(dests)?;
        let d = dests.get(id)?;
        if !en.set.iter().any(|r| r.id == id) {
            en.set.insert(0, DestRef::of(d));
            en.lastmod = now;
        }
        Some(id)
    }

    fn tick(&mut self, now: Time, _dests: DestList<'_>) {
        self.gc
            .run(now, &mut self.table, |e| e.lastuse, self.expiration_ms);
    }
}
