//! `mh`: Maglev hashing (`ip_vs_mh.c`, after Eisenbud et al., NSDI 2016).
//!
//! Contract and kernel behaviour mirrored:
//! - the lookup table has `M` slots, `M` one of [`PRIMES`]
//!   ([`SchedParams::mh_table_size`], default 4093 =
//!   `CONFIG_IP_VS_MH_TAB_INDEX` 12); any other size is refused with
//!   [`Error::Invalid`], as is a service with more than `M` destinations
//!   (the kernel's `-EINVAL`);
//! - each destination gets a permutation of the slots from two `hsiphash`
//!   values of `port + addr_fold` (host order, 32-bit wrapping sum) under
//!   the kernel's two fixed keys ([`MH_KEY1`], [`MH_KEY2`]):
//!   `offset = h1 mod M`, `skip = h2 mod (M - 1) + 1`;
//! - the table is refilled on every add, edit and delete: destinations take
//!   turns in list order (newest first), each claiming `turns` free slots per
//!   round by walking its permutation (`offset`, `offset + skip`, ... mod M),
//!   until all `M` slots are claimed. `turns = (last_weight / g) >> rshift`,
//!   or 1 if that is 0 but `last_weight != 0`, where `g` is the gcd of the
//!   positive `last_weight`s and `rshift = max(fls(max_last_weight / g) -
//!   index / 2, 0)` (`index / 2` is `IP_VS_MH_TAB_BITS`, 6 by default; it
//!   keeps turns at most 2^6). Destinations with `last_weight` 0 — added
//!   with weight 0 — take no slot; if none has a positive `last_weight`
//!   the table is empty;
//! - the kernel keeps `last_weight` at the last **non-zero** weight set by an
//!   edit (see [`crate::dest::Dest::last_weight`]), so a destination edited
//!   to weight 0 keeps its slots: lookups that land on it see an
//!   unavailable destination (weight <= 0 or OVERLOAD) and fail without
//!   `mh-fallback`;
//! - a client maps to slot `hsiphash(port + saddr_fold, MH_KEY1) mod M`,
//!   `port` being the source port with `mh-port` (`IP_VS_SVC_F_SCHED2`), else
//!   0; with `mh-fallback` (`IP_VS_SVC_F_SCHED1`) an unavailable first
//!   choice leads to trying `roffset = (i + ihash) mod M` for `i` in `0..M`,
//!   rehashing `roffset + port + saddr_fold`, and returning the first
//!   available destination (an empty slot ends the search).
//!
//! Deviations: the kernel folds a destination's address with the
//! *service's* family; we fold it with its own family, which differs only
//! for a mixed-family tunnel destination of an IPv4 service. The "inverse"
//! lookup of outgoing connections is not modelled.
//!
//! Cost: a pick is one `hsiphash` (4 SipRounds) and one table read, O(1);
//! with `mh-fallback` and unavailable servers at most `M` more. A rebuild is
//! the kernel's permutation walk: O(n) setup plus about `M ln M` probes of a
//! bitmap in the worst case; it reuses its buffers (no allocation after the
//! first build of a given size).

use super::hash::{MH_KEY1, MH_KEY2, hsiphash_u32};
use super::sh::unavailable;
use super::{DestList, RandomSource, SchedParams, SchedRequest, Scheduler};
use crate::addr::addr_fold;
use crate::dest::{Dest, DestId};
use crate::error::{Error, Result};
use crate::service::ServiceFlags;

/// Allowed table sizes (`primes[]`, indexed by `CONFIG_IP_VS_MH_TAB_INDEX - 8`).
pub const PRIMES: [u32; 10] = [
    251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521, 131071,
];

#[derive(Debug, Clone, Copy, Default)]
struct Setup {
    skip: u32,
    perm: u32,
    turns: u32,
}

/// Maglev hashing state: the lookup table and reusable build buffers.
#[derive(Debug, Clone)]
pub struct Mh {
    size: u32,
    tab_bits: u32,
    table: Vec<Option<DestId>>,
    used: Vec<u64>,
    setup: Vec<Setup>,
}

/// Create the scheduler over the service's current destinations; fails on
/// a table size not in [`PRIMES`] or more destinations than slots.
pub fn create(dests: DestList<'_>, params: &SchedParams) -> Result<Box<dyn Scheduler>> {
    Ok(Box::new(Mh::new(dests, params.mh_table_size)?))
}

fn gcd(mut a: u32, mut b: u32) -> u32 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// `fls`: 1-based index of the highest set bit, 0 for 0.
fn fls(x: u32) -> u32 {
    32 - x.leading_zeros()
}

/// `port + addr_fold` as the kernel's `ip_vs_mh_hashkey` sums them, plus
/// the fallback offset.
#[inline]
fn key_value(fold: u32, port: u16, offset: u32) -> u32 {
    offset.wrapping_add(u32::from(port)).wrapping_add(fold)
}

fn last_weight(d: Option<&Dest>) -> u32 {
    d.map_or(0, |d| u32::try_from(d.last_weight).unwrap_or(0))
}

impl Mh {
    /// A table of `size` slots filled from `dests`.
    pub fn new(dests: DestList<'_>, size: u32) -> Result<Mh> {
        let index = PRIMES
            .iter()
            .position(|p| *p == size)
            .ok_or(Error::Invalid("mh table size must be one of the mh primes"))?;
        if dests.len() > size as usize {
            return Err(Error::Invalid("more destinations than mh table slots"));
        }
        let mut mh = Mh {
            size,
            // IP_VS_MH_TAB_BITS = CONFIG_IP_VS_MH_TAB_INDEX / 2.
            tab_bits: (index as u32 + 8) / 2,
            table: vec![None; size as usize],
            used: vec![0; (size as usize).div_ceil(64)],
            setup: Vec::new(),
        };
        mh.rebuild(dests);
        Ok(mh)
    }

    /// The lookup table (for inspection and tests).
    pub fn table(&self) -> &[Option<DestId>] {
        &self.table
    }

    /// The slot of a client key (`offset` 0 is the first choice).
    #[inline]
    pub fn slot_of(&self, saddr_fold: u32, port: u16, offset: u32) -> usize {
        (hsiphash_u32(key_value(saddr_fold, port, offset), MH_KEY1) % self.size) as usize
    }

    /// A destination's `(offset, skip)` permutation parameters.
    pub fn permutation_of(&self, d: &Dest) -> (u32, u32) {
        let v = key_value(addr_fold(&d.config.addr), d.config.port, 0);
        let offset = hsiphash_u32(v, MH_KEY1) % self.size;
        let skip = hsiphash_u32(v, MH_KEY2) % (self.size - 1) + 1;
        (offset, skip)
    }

    /// Refill the table from `dests` (the kernel's `ip_vs_mh_reassign`).
    /// With more destinations than slots the table is left as it was, as
    /// the kernel does.
    pub fn rebuild(&mut self, dests: DestList<'_>) {
        if dests.len() > self.size as usize {
            return;
        }
        let mut g = 0u32;
        let mut max_w = 0u32;
        for d in dests.iter() {
            let w = last_weight(Some(d));
            if w > 0 {
                g = if g > 0 { gcd(w, g) } else { w };
            }
            max_w = max_w.max(w);
        }
        if g == 0 {
            self.table.fill(None);
            return;
        }
        let rshift = fls(max_w / g).saturating_sub(self.tab_bits);

        self.setup.clear();
        for &id in dests.ids() {
            let d = dests.get(id);
            let lw = last_weight(d);
            let (perm, skip) = d.map_or((0, 1), |d| self.permutation_of(d));
            let t = (lw / g) >> rshift;
            let turns = if t > 0 { t } else { u32::from(lw != 0) };
            self.setup.push(Setup { skip, perm, turns });
        }

        self.used.fill(0);
        let m = self.size;
        let ids = dests.ids();
        let mut filled = 0u32;
        let mut i = 0usize;
        let mut dt_count = 0u32;
        loop {
            let s = &mut self.setup[i];
            if s.turns == 0 {
                i += 1;
                if i == ids.len() {
                    i = 0;
                }
                continue;
            }
            let mut c = s.perm;
            while self.used[(c >> 6) as usize] & (1u64 << (c & 63)) != 0 {
                c += s.skip;
                if c >= m {
                    c -= m;
                }
            }
            s.perm = c;
            self.used[(c >> 6) as usize] |= 1u64 << (c & 63);
            self.table[c as usize] = Some(ids[i]);
            filled += 1;
            if filled == m {
                break;
            }
            dt_count += 1;
            if dt_count >= s.turns {
                dt_count = 0;
                i += 1;
                if i == ids.len() {
                    i = 0;
                }
            }
        }
    }
}

impl Scheduler for Mh {
    fn name(&self) -> &'static str {
        "mh"
    }

    fn dest_added(&mut self, dests: DestList<'_>, _id: DestId) {
        self.rebuild(dests);
    }

    fn dest_removed(&mut self, dests: DestList<'_>, _id: DestId, _old_pos: usize) {
        self.rebuild(dests);
    }

    fn dest_updated(&mut self, dests: DestList<'_>, _id: DestId) {
        self.rebuild(dests);
    }

    fn schedule(
        &mut self,
        dests: DestList<'_>,
        req: &SchedRequest,
        _rng: &mut dyn RandomSource,
    ) -> Option<DestId> {
        let port = if req.flags.has(ServiceFlags::MH_PORT) {
            req.sport
        } else {
            0
        };
        let fold = addr_fold(&req.saddr);
        let ihash = self.slot_of(fold, port, 0);
        let first = self.table[ihash]?;
        if dests.get(first).is_some_and(|d| !unavailable(d)) {
            return Some(first);
        }
        if !req.flags.has(ServiceFlags::MH_FALLBACK) {
            return None;
        }
        for off in 0..self.size {
            let roffset = (off + ihash as u32) % self.size;
            let id = self.table[self.slot_of(fold, port, roffset)]?;
            if dests.get(id).is_some_and(|d| !unavailable(d)) {
                return Some(id);
            }
        }
        None
    }
}
