//! `dh`: destination hashing (`ip_vs_dh.c`).
//!
//! Contract and kernel behaviour mirrored:
//! - a static table of `2^bits` buckets ([`SchedParams::dh_tab_bits`],
//!   `CONFIG_IP_VS_DH_TAB_BITS`, default 8, clamped to the Kconfig range
//!   1..=20) is filled round-robin, **one bucket per destination per pass**,
//!   walking the list in order (newest first): weights are ignored;
//! - the table is rebuilt when a destination is added or deleted; the
//!   kernel's dh has no `upd_dest` hook, and since an edit changes neither
//!   the list nor anything the fill reads, nothing is done on edit;
//! - a packet maps to bucket `hash_32(daddr_fold, bits)`, where
//!   `daddr_fold` is the destination IPv4 address or the XOR of the four
//!   32-bit words of an IPv6 one (host order);
//! - the pick fails (there is no fallback) when that bucket's destination is
//!   unavailable: weight <= 0 or OVERLOAD.
//!
//! Cost: a pick is one `hash_32` and one table read, O(1). A rebuild is
//! O(size) and allocates nothing.

use super::hash::hash_32;
use super::sh::unavailable;
use super::{DestList, RandomSource, SchedParams, SchedRequest, Scheduler};
use crate::addr::addr_fold;
use crate::dest::DestId;

/// Kconfig range of `CONFIG_IP_VS_DH_TAB_BITS`.
pub const TAB_BITS_RANGE: (u32, u32) = (1, 20);

/// Destination hashing state: the bucket table.
#[derive(Debug, Clone)]
pub struct Dh {
    bits: u32,
    buckets: Vec<Option<DestId>>,
}

/// Create the scheduler over the service's current destinations.
pub fn create(dests: DestList<'_>, params: &SchedParams) -> Box<dyn Scheduler> {
    Box::new(Dh::new(dests, params.dh_tab_bits))
}

impl Dh {
    /// A table of `2^bits` buckets (bits clamped to 1..=20) filled from
    /// `dests`.
    pub fn new(dests: DestList<'_>, bits: u32) -> Dh {
        let bits = bits.clamp(TAB_BITS_RANGE.0, TAB_BITS_RANGE.1);
        let mut dh = Dh {
            bits,
            buckets: vec![None; 1 << bits],
        };
        dh.reassign(dests);
        dh
    }

    /// The bucket table (for inspection and tests).
    pub fn buckets(&self) -> &[Option<DestId>] {
        &self.buckets
    }

    /// The bucket a destination-address fold maps to.
    #[inline]
    pub fn bucket_of(&self, daddr_fold: u32) -> usize {
        hash_32(daddr_fold, self.bits) as usize
    }

    fn reassign(&mut self, dests: DestList<'_>) {
        let ids = dests.ids();
        if ids.is_empty() {
            self.buckets.fill(None);
            return;
        }
        for (b, id) in self.buckets.iter_mut().zip(ids.iter().cycle()) {
            *b = Some(*id);
        }
    }
}

impl Scheduler for Dh {
    fn name(&self) -> &'static str {
        "dh"
    }

    fn dest_added(&mut self, dests: DestList<'_>, _id: DestId) {
        self.reassign(dests);
    }

    fn dest_removed(&mut self, dests: DestList<'_>, _id: DestId, _old_pos: usize) {
        self.reassign(dests);
    }

    fn dest_updated(&mut self, _dests: DestList<'_>, _id: DestId) {}

    fn schedule(
        &mut self,
        dests: DestList<'_>,
        req: &SchedRequest,
        _rng: &mut dyn RandomSource,
    ) -> Option<DestId> {
        let id = self.buckets[self.bucket_of(addr_fold(&req.daddr))]?;
        let d = dests.get(id)?;
        (d.available && !unavailable(d)).then_some(id)
    }
}
