//! `ovf`: overflow connection (kernel `ip_vs_ovf.c`).
//!
//! Contract: among destinations that are not OVERLOAD, have weight > 0 and
//! have `activeconns <= weight`, pick the one with the highest weight; ties
//! go to the first in list order (newest first). The highest-weight server
//! thus takes new connections while it has at most `weight` active ones —
//! so it ends up with `weight + 1` — and then the next one in weight order
//! takes over. Only active connections count, so with UDP (always inactive)
//! the rule never overflows. `None` when no destination qualifies.
//!
//! The kernel skips `weight == 0`; negative weights cannot be configured, so
//! skipping `weight <= 0` is the same set.
//!
//! Stateless: the hooks do nothing. Cost per pick: O(n), one walk.

use super::{DestList, RandomSource, SchedParams, SchedRequest, Scheduler};
use crate::dest::DestId;

/// Overflow-connection scheduler (no state).
#[derive(Debug, Default)]
pub struct Overflow;

/// Create the scheduler.
pub fn create(_dests: DestList<'_>, _params: &SchedParams) -> Box<dyn Scheduler> {
    Box::new(Overflow)
}

impl Scheduler for Overflow {
    fn name(&self) -> &'static str {
        "ovf"
    }
    fn dest_added(&mut self, _d: DestList<'_>, _id: DestId) {}
    fn dest_removed(&mut self, _d: DestList<'_>, _id: DestId, _p: usize) {}
    fn dest_updated(&mut self, _d: DestList<'_>, _id: DestId) {}

    fn schedule(
        &mut self,
        dests: DestList<'_>,
        _req: &SchedRequest,
        _rng: &mut dyn RandomSource,
    ) -> Option<DestId> {
        let mut best: Option<(DestId, i32)> = None;
        for d in dests.iter() {
            let w = d.weight();
            if !d.is_schedulable() || i64::from(d.activeconns) > i64::from(w) {
                continue;
            }
            if best.is_none_or(|(_, hw)| w > hw) {
                best = Some((d.id, w));
            }
        }
        best.map(|(id, _)| id)
    }
}
