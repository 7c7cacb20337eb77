//! `sh`: source hashing (`ip_vs_sh.c`).
//!
//! Contract and kernel behaviour mirrored:
//! - a static table of `2^bits` buckets ([`SchedParams::sh_tab_bits`],
//!   `CONFIG_IP_VS_SH_TAB_BITS`, default 8, clamped to the Kconfig range
//!   4..=20) is refilled on **every** add, edit and delete: walking the
//!   destinations in list order (newest first), each destination takes
//!   `weight` consecutive buckets (a weight of 0 or less still takes one)
//!   before the walk moves on, cycling over the list until every bucket is
//!   filled; an empty service leaves every bucket empty;
//! - a client maps to bucket `hash_32(port + saddr_fold, bits)` where
//!   `saddr_fold` is the IPv4 address, or the XOR of the four 32-bit words of
//!   an IPv6 address (host order), and `port` is the source port with
//!   `sh-port` (`IP_VS_SVC_F_SCHED2`), else 0 (32-bit wrapping sum);
//! - without `sh-fallback` (`IP_VS_SVC_F_SCHED1`) the pick fails when the
//!   bucket's destination is unavailable (weight <= 0 or OVERLOAD);
//! - with `sh-fallback`, the kernel tries `roffset = (i + ihash) mod size`
//!   for `i` in `0..size` and rehashes as `(roffset + hash) mod size`,
//!   returning the first available destination.
//!
//! Not mirrored: the "inverse" lookup of outgoing connections (hash on the
//! destination address and port), which [`SchedRequest`] does not describe.
//!
//! Cost: a pick is one `hash_32` and one table read, O(1); with
//! `sh-fallback` and unavailable servers at most `size` more reads. A
//! rebuild is O(size + n) and allocates nothing once the table exists.

use super::hash::hash_32;
use super::{DestList, RandomSource, SchedParams, SchedRequest, Scheduler};
use crate::addr::addr_fold;
use crate::dest::{Dest, DestId};
use crate::service::ServiceFlags;

/// Kconfig range of `CONFIG_IP_VS_SH_TAB_BITS`.
pub const TAB_BITS_RANGE: (u32, u32) = (4, 20);

/// Source hashing state: the bucket table.
#[derive(Debug, Clone)]
pub struct Sh {
    bits: u32,
    buckets: Vec<Option<DestId>>,
}

/// Create the scheduler over the service's current destinations.
pub fn create(dests: DestList<'_>, params: &SchedParams) -> Box<dyn Scheduler> {
    Box::new(Sh::new(dests, params.sh_tab_bits))
}

/// Whether the hashing schedulers (sh, dh, mh) treat `d` as unavailable:
/// weight <= 0 or OVERLOAD.
#[inline]
pub(crate) fn unavailable(d: &Dest) -> bool {
    d.weight() <= 0 || d.overload
}

impl Sh {
    /// A table of `2^bits` buckets (bits clamped to 4..=20) filled from
    /// `dests`.
    pub fn new(dests: DestList<'_>, bits: u32) -> Sh {
        let bits = bits.clamp(TAB_BITS_RANGE.0, TAB_BITS_RANGE.1);
        let mut sh = Sh {
            bits,
            buckets: vec![None; 1 << bits],
        };
        sh.reassign(dests);
        sh
    }

    /// The bucket table (for inspection and tests).
    pub fn buckets(&self) -> &[Option<DestId>] {
        &self.buckets
    }

    /// The bucket a client key maps to (`offset` 0 is the first choice).
    #[inline]
    pub fn bucket_of(&self, saddr_fold: u32, port: u16, offset: u32) -> usize {
        let mask = (1u32 << self.bits) - 1;
        let h = hash_32(u32::from(port).wrapping_add(saddr_fold), self.bits);
        (offset.wrapping_add(h) & mask) as usize
    }

    fn reassign(&mut self, dests: DestList<'_>) {
        if dests.is_empty() {
            self.buckets.fill(None);
            return;
        }
        let ids = dests.ids();
        let mut pos = 0usize;
        let mut taken: i64 = 0;
        for b in self.buckets.iter_mut() {
            let id = ids[pos];
            *b = Some(id);
            taken += 1;
            let w = dests.get(id).map_or(0, Dest::weight);
            if taken >= i64::from(w) {
                taken = 0;
                pos += 1;
                if pos == ids.len() {
                    pos = 0;
                }
            }
        }
    }
}

impl Scheduler for Sh {
    fn name(&self) -> &'static str {
        "sh"
    }

    fn dest_added(&mut self, dests: DestList<'_>, _id: DestId) {
        self.reassign(dests);
    }

    fn dest_removed(&mut self, dests: DestList<'_>, _id: DestId, _old_pos: usize) {
        self.reassign(dests);
    }

    fn dest_updated(&mut self, dests: DestList<'_>, _id: DestId) {
        self.reassign(dests);
    }

    fn schedule(
        &mut self,
        dests: DestList<'_>,
        req: &SchedRequest,
        _rng: &mut dyn RandomSource,
    ) -> Option<DestId> {
        let port = if req.flags.has(ServiceFlags::SH_PORT) {
            req.sport
        } else {
            0
        };
        let fold = addr_fold(&req.saddr);
        let ihash = self.bucket_of(fold, port, 0);
        let first = self.buckets[ihash]?;
        let d = dests.get(first)?;
        if !unavailable(d) {
            return Some(first);
        }
        if !req.flags.has(ServiceFlags::SH_FALLBACK) {
            return None;
        }
        let size = self.buckets.len() as u32;
        for off in 0..size {
            let roffset = (off + ihash as u32) % size;
            let id = self.buckets[self.bucket_of(fold, port, roffset)]?;
            if dests.get(id).is_some_and(|d| !unavailable(d)) {
                return Some(id);
            }
        }
        None
    }
}
