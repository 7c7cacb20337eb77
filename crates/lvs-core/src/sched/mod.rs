//! The kernel's fourteen schedulers, one module each.
//!
//! Each scheduler sees its service's destinations in **list order** — newest
//! first, as the kernel keeps them — through a [`DestList`], keeps its own
//! state, and is told about every destination change the way the kernel's
//! `add_dest` / `del_dest` / `upd_dest` hooks are called (after the list was
//! updated). A pick returns a [`DestId`] or `None` ("no destination
//! available"). Schedulers read destinations; they never change them.
//!
//! Costs per pick (n = destinations): see each module's documentation; none
//! is worse than O(n), table-driven ones (sh, dh, mh) are O(1) without
//! fallback.

use std::fmt;
use std::net::IpAddr;

use crate::dest::{Dest, DestArena, DestId};
use crate::error::{Error, Result};
use crate::service::ServiceFlags;
use crate::time::Time;

pub mod dh;
pub mod fo;
pub mod hash;
pub mod lblc;
pub mod lblcr;
pub mod lc;
pub mod mh;
pub mod nq;
pub mod ovf;
pub mod rr;
pub mod sed;
pub mod sh;
pub mod twos;
pub mod wlc;
pub mod wrr;

/// The names of all schedulers, in the kernel's Kconfig order.
pub const SCHEDULER_NAMES: [&str; 14] = [
    "rr", "wrr", "lc", "wlc", "fo", "ovf", "lblc", "lblcr", "dh", "sh", "mh", "sed", "nq", "twos",
];

/// A service's destinations in list order (newest first).
#[derive(Clone, Copy)]
pub struct DestList<'a> {
    order: &'a [DestId],
    arena: &'a DestArena,
}

impl fmt::Debug for DestList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.order).finish()
    }
}

impl<'a> DestList<'a> {
    /// A view of `order` resolved through `arena`. Every id in `order` must
    /// be present in `arena`.
    pub fn new(order: &'a [DestId], arena: &'a DestArena) -> Self {
        DestList { order, arena }
    }

    /// Number of destinations.
    #[inline]
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether there is none.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// The handles in list order.
    #[inline]
    pub fn ids(&self) -> &'a [DestId] {
        self.order
    }

    /// The destination at list position `pos`.
    ///
    /// # Panics
    /// If `pos >= len()` or the arena lost the destination (a broken
    /// invariant of [`crate::Ipvs`], never data-dependent).
    #[inline]
    pub fn at(&self, pos: usize) -> &'a Dest {
        self.get(self.order[pos])
            .expect("dest list refers to a live arena slot")
    }

    /// Look a destination up by handle.
    #[inline]
    pub fn get(&self, id: DestId) -> Option<&'a Dest> {
        self.arena.get(id)
    }

    /// The destinations in list order.
    #[inline]
    pub fn iter(&self) -> impl Iterator<Item = &'a Dest> + 'a {
        let arena = self.arena;
        self.order.iter().filter_map(move |id| arena.get(*id))
    }
}

/// What a scheduler may look at when picking.
#[derive(Debug, Clone, Copy)]
pub struct SchedRequest {
    /// Current time.
    pub now: Time,
    /// Client (source) address of the packet.
    pub saddr: IpAddr,
    /// Client (source) port.
    pub sport: u16,
    /// Destination address of the packet (the VIP, or the original
    /// destination for fwmark services — what lblc/lblcr/dh key on).
    pub daddr: IpAddr,
    /// Destination port.
    pub dport: u16,
    /// The service's flags (sh-port, sh-fallback, mh-port, mh-fallback).
    pub flags: ServiceFlags,
}

/// A source of randomness handed to schedulers that need it (twos):
/// the kernel's `get_random_u32_below(n)`.
pub trait RandomSource {
    /// A uniformly distributed value in `[0, n)`; `n > 0`.
    fn below(&mut self, n: u32) -> u32;
}

/// A deterministic xorshift source for tests and simulations.
#[derive(Debug, Clone)]
pub struct XorShiftRandom(pub u64);

impl RandomSource for XorShiftRandom {
    fn below(&mut self, n: u32) -> u32 {
        let mut x = self.0.max(1);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        (((x >> 32) * u64::from(n)) >> 32) as u32
    }
}

/// Tunables of schedulers that the kernel takes from Kconfig or sysctls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchedParams {
    /// mh table size, one of [`mh::PRIMES`] (default 4093).
    pub mh_table_size: u32,
    /// sh table bits (`CONFIG_IP_VS_SH_TAB_BITS`, default 8).
    pub sh_tab_bits: u32,
    /// dh table bits (`CONFIG_IP_VS_DH_TAB_BITS`, default 8).
    pub dh_tab_bits: u32,
    /// sysctl `lblc_expiration` in seconds (default 86400).
    pub lblc_expiration: u64,
    /// sysctl `lblcr_expiration` in seconds (default 86400).
    pub lblcr_expiration: u64,
}

impl Default for SchedParams {
    fn default() -> Self {
        SchedParams {
            mh_table_size: 4093,
            sh_tab_bits: 8,
            dh_tab_bits: 8,
            lblc_expiration: 24 * 60 * 60,
            lblcr_expiration: 24 * 60 * 60,
        }
    }
}

/// A scheduler bound to one service.
pub trait Scheduler: fmt::Debug + Send {
    /// Kernel name (`rr`, `wrr`, ...).
    fn name(&self) -> &'static str;

    /// A destination was inserted at the head of the list (kernel
    /// `add_dest`); `dests` already contains it.
    fn dest_added(&mut self, dests: DestList<'_>, id: DestId);

    /// A destination was unlinked from list position `old_pos` (kernel
    /// `del_dest`); `dests` no longer contains it.
    fn dest_removed(&mut self, dests: DestList<'_>, id: DestId, old_pos: usize);

    /// A destination's weight, thresholds or method changed (kernel
    /// `upd_dest`).
    fn dest_updated(&mut self, dests: DestList<'_>, id: DestId);

    /// Pick a destination for a new connection, or `None` when no
    /// destination is available.
    fn schedule(
        &mut self,
        dests: DestList<'_>,
        req: &SchedRequest,
        rng: &mut dyn RandomSource,
    ) -> Option<DestId>;

    /// Periodic housekeeping (lblc/lblcr garbage collection). Called by the
    /// owner at least once a second; the default does nothing.
    fn tick(&mut self, _now: Time, _dests: DestList<'_>) {}
}

/// Create scheduler `name` for a service whose current destinations are
/// `dests` (kernel `init_service`). Unknown names give
/// [`Error::NoScheduler`], as the kernel's failed `request_module` does.
pub fn create(name: &str, dests: DestList<'_>, params: &SchedParams) -> Result<Box<dyn Scheduler>> {
    Ok(match name {
        "rr" => rr::create(dests, params),
        "wrr" => wrr::create(dests, params),
        "lc" => lc::create(dests, params),
        "wlc" => wlc::create(dests, params),
        "sed" => sed::create(dests, params),
        "nq" => nq::create(dests, params),
        "fo" => fo::create(dests, params),
        "ovf" => ovf::create(dests, params),
        "twos" => twos::create(dests, params),
        "dh" => dh::create(dests, params),
        "sh" => sh::create(dests, params),
        "mh" => mh::create(dests, params)?,
        "lblc" => lblc::create(dests, params),
        "lblcr" => lblcr::create(dests, params),
        _ => return Err(Error::NoScheduler(name.to_owned())),
    })
}
