//! `lblc`: locality-based least-connection (`ip_vs_lblc.c`).
//!
//! Contract and kernel behaviour mirrored:
//! - a per-service table maps each destination address (`daddr`: the VIP,
//!   or the original destination for fwmark services) to the destination
//!   last chosen for it, with the entry's last-use time, taken from
//!   [`SchedRequest::now`] on every lookup;
//! - the cached destination is reused while it is still linked in the
//!   service (`IP_VS_DEST_F_AVAILABLE`), has weight > 0, and is not
//!   "overloaded" in the LBLC sense: `activeconns > weight` **and** some
//!   destination of the service has `activeconns * 2 < weight`. The
//!   threshold OVERLOAD flag is not consulted for a cached destination;
//! - otherwise the weighted-least-connection destination of the whole
//!   service is chosen ([`wlc_pick`]: minimum `overhead / weight`,
//!   cross-multiplied, skipping OVERLOAD and weight 0, ties to the earlier
//!   in list order) and stored; no such destination → `None`;
//! - garbage collection runs from [`Scheduler::tick`] every 60 s
//!   (`CHECK_EXPIRE_INTERVAL`; the first run 60 s after the scheduler first
//!   sees a time, standing for the kernel's timer armed at service
//!   creation). A round counter starts at 1: when it is a multiple of 30
//!   (`COUNT_FOR_FULL_EXPIRATION`) every entry unused for at least
//!   `lblc_expiration` is dropped and the counter resets to 1; else, while
//!   the table holds at most [`MAX_SIZE`] (16384 = 16 × 1024 buckets)
//!   entries, the counter just increments; else entries unused for 6 min
//!   (`ENTRY_TIMEOUT`) are dropped bucket by bucket, in the kernel's bucket
//!   order (`hash_32(daddr_fold, 10)`, starting after a rover), until
//!   `min((entries - 16384) * 4 / 3, 8192)` are gone (whole buckets at a
//!   time). The size is a goal for the collector, not a hard cap.
//!
//! Representation: a `HashMap` keyed on the address with a fixed-key hasher
//! (deterministic; the crate draws no randomness). A cached destination is
//! remembered by handle **and** by `<service, address, port>`, so a handle
//! whose arena slot was freed and reused is not mistaken for it (the kernel
//! holds a reference that keeps the destination in the trash instead; in
//! this model a trashed destination may be freed, after which the entry
//! simply counts as unavailable).
//!
//! Cost: a cache hit is one hash lookup plus an O(1) check, O(n) only when
//! the cached server has more active connections than its weight; a miss
//! is an O(n) WLC scan and one insertion (which may allocate).

use std::collections::HashMap;
use std::collections::hash_map::DefaultHasher;
use std::hash::BuildHasherDefault;
use std::net::IpAddr;

use super::hash::hash_32;
use super::{DestList, RandomSource, SchedParams, SchedRequest, Scheduler};
use crate::addr::addr_fold;
use crate::dest::{Dest, DestId};
use crate::service::ServiceId;
use crate::time::Time;

/// `CONFIG_IP_VS_LBLC_TAB_BITS` (also lblcr's): 1024 buckets.
pub const TAB_BITS: u32 = 10;
/// Number of buckets of the kernel's table.
pub const TAB_SIZE: usize = 1 << TAB_BITS;
/// `max_size`: the collector's goal, 16 entries per bucket.
pub const MAX_SIZE: usize = TAB_SIZE * 16;
/// `CHECK_EXPIRE_INTERVAL`: 60 s between collector rounds.
pub const CHECK_EXPIRE_INTERVAL_MS: u64 = 60_000;
/// `ENTRY_TIMEOUT`: idle time after which an over-size table drops entries.
pub const ENTRY_TIMEOUT_MS: u64 = 6 * 60_000;
/// `COUNT_FOR_FULL_EXPIRATION`: a full expiry every 30 quiet rounds.
pub const COUNT_FOR_FULL_EXPIRATION: u32 = 30;

/// Deterministic hasher for the per-address tables.
pub(crate) type FixedState = BuildHasherDefault<DefaultHasher>;

/// A remembered destination: its handle plus identity, checked on use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DestRef {
    pub(crate) id: DestId,
    service: ServiceId,
    addr: IpAddr,
    port: u16,
}

impl DestRef {
    pub(crate) fn of(d: &Dest) -> DestRef {
        DestRef {
            id: d.id,
            service: d.service,
            addr: d.config.addr,
            port: d.config.port,
        }
    }

    /// The destination, if the handle still designates the same one (it
    /// may be in the trash: check `available`).
    #[inline]
    pub(crate) fn resolve<'a>(&self, dests: DestList<'a>) -> Option<&'a Dest> {
        dests.get(self.id).filter(|d| {
            d.service == self.service && d.config.port == self.port && d.config.addr == self.addr
        })
    }
}

/// `ip_vs_dest_conn_overhead`, cross-multiplied with a weight in 128 bits.
#[inline]
pub(crate) fn load(overhead: u64, weight: i32) -> i128 {
    i128::from(overhead) * i128::from(weight)
}

/// The kernel's `__ip_vs_lblc_schedule` (and lblcr's): the first
/// destination in list order that is not OVERLOAD and has weight > 0, then
/// any later non-OVERLOAD one with a strictly smaller `overhead / weight`.
pub fn wlc_pick(dests: DestList<'_>) -> Option<DestId> {
    let mut it = dests.iter();
    let mut least = it.by_ref().find(|d| !d.overload && d.weight() > 0)?;
    let mut loh = least.overhead();
    for d in it {
        if d.overload {
            continue;
        }
        let doh = d.overhead();
        if load(loh, d.weight()) > load(doh, least.weight()) {
            least = d;
            loh = doh;
        }
    }
    Some(least.id)
}

/// LBLC's "overloaded": more active connections than weight while some
/// destination of the service is below half its weight.
pub fn lblc_overloaded(d: &Dest, dests: DestList<'_>) -> bool {
    i64::from(d.activeconns) > i64::from(d.weight())
        && dests
            .iter()
            .any(|m| i64::from(m.activeconns) * 2 < i64::from(m.weight()))
}

/// The kernel's bucket of an address in the lblc/lblcr table.
#[inline]
pub fn bucket_of(addr: &IpAddr) -> usize {
    hash_32(addr_fold(addr), TAB_BITS) as usize
}

/// Collector state shared by lblc and lblcr (`periodic_timer`, `rover`,
/// `counter`).
#[derive(Debug, Clone)]
pub(crate) struct Gc {
    next: Option<Time>,
    rover: usize,
    counter: u32,
}

impl Gc {
    pub(crate) fn new() -> Gc {
        Gc {
            next: None,
            rover: 0,
            counter: 1,
        }
    }

    /// Arm the timer the first time a time is seen.
    #[inline]
    pub(crate) fn arm(&mut self, now: Time) {
        if self.next.is_none() {
            self.next = Some(now.plus_secs(CHECK_EXPIRE_INTERVAL_MS / 1000));
        }
    }

    /// One collector round if due (`ip_vs_lblc_check_expire`).
    pub(crate) fn run<E>(
        &mut self,
        now: Time,
        table: &mut HashMap<IpAddr, E, FixedState>,
        lastuse: impl Fn(&E) -> Time,
        expiration_ms: u64,
    ) {
        self.arm(now);
        match self.next {
            Some(t) if now >= t => {}
            _ => return,
        }
        self.next = Some(now.plus_secs(CHECK_EXPIRE_INTERVAL_MS / 1000));

        if self.counter.is_multiple_of(COUNT_FOR_FULL_EXPIRATION) {
            // Full check: every bucket, the rover ends where it started.
            table.retain(|_, e| now.0 < lastuse(e).0.saturating_add(expiration_ms));
            self.counter = 1;
            return;
        }
        if table.len() <= MAX_SIZE {
            self.counter += 1;
            return;
        }
        let over = table.len() - MAX_SIZE;
        let mut goal = (over * 4 / 3).min(MAX_SIZE / 2) as i64;
        // Expired entries by distance (in buckets) from the rover.
        let rover = self.rover;
        let mut expired: Vec<(usize, IpAddr)> = table
            .iter()
            .filter(|(_, e)| now.0 >= lastuse(e).0.saturating_add(ENTRY_TIMEOUT_MS))
            .map(|(k, _)| ((bucket_of(k) + TAB_SIZE - rover - 1) % TAB_SIZE, *k))
            .collect();
        expired.sort_unstable_by_key(|(dist, _)| *dist);
        let mut idx = 0;
        let mut j = rover;
        for dist in 0..TAB_SIZE {
            j = (rover + 1 + dist) & (TAB_SIZE - 1);
            while idx < expired.len() && expired[idx].0 == dist {
                table.remove(&expired[idx].1);
                goal -= 1;
                idx += 1;
            }
            if goal <= 0 {
                break;
            }
        }
        self.rover = j;
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    dest: DestRef,
    lastuse: Time,
}

/// LBLC state: the address → destination cache and its collector.
#[derive(Debug, Clone)]
pub struct Lblc {
    table: HashMap<IpAddr, Entry, FixedState>,
    expiration_ms: u64,
    gc: Gc,
}

/// Create the scheduler (the cache starts empty).
pub fn create(_dests: DestList<'_>, params: &SchedParams) -> Box<dyn Scheduler> {
    Box::new(Lblc::new(params.lblc_expiration))
}

impl Lblc {
    /// An empty cache with `lblc_expiration` in seconds.
    pub fn new(expiration_secs: u64) -> Lblc {
        Lblc {
            table: HashMap::default(),
            expiration_ms: expiration_secs.saturating_mul(1000),
            gc: Gc::new(),
        }
    }

    /// Number of cached addresses.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// The destination cached for `daddr`, and its last-use time.
    pub fn cached(&self, daddr: &IpAddr) -> Option<(DestId, Time)> {
        self.table.get(daddr).map(|e| (e.dest.id, e.lastuse))
    }
}

impl Scheduler for Lblc {
    fn name(&self) -> &'static str {
        "lblc"
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
        self.gc.arm(req.now);
        if let Some(en) = self.table.get_mut(&req.daddr) {
            en.lastuse = req.now;
            if let Some(d) = en.dest.resolve(dests)
                && d.available
                && d.weight() > 0
                && !lblc_overloaded(d, dests)
            {
                return Some(d.id);
            }
        }
        let id = wlc_pick(dests)?;
        let d = dests.get(id)?;
        self.table.insert(
            req.daddr,
            Entry {
                dest: DestRef::of(d),
                lastuse: req.now,
            },
        );
        Some(id)
    }

    fn tick(&mut self, now: Time, _dests: DestList<'_>) {
        self.gc
            .run(now, &mut self.table, |e| e.lastuse, self.expiration_ms);
    }
}
