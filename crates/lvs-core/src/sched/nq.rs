//! `nq`: never queue (kernel `ip_vs_nq.c`).
//!
//! Contract: walking the list in order (newest first) over destinations
//! that are not OVERLOAD and have weight > 0, return **the first one with no
//! active connection** at once. If every available destination is busy,
//! apply the sed rule: the smallest `(activeconns + 1) / weight`, ties kept
//! by the earlier destination (`cand * weight > delay * cand_weight`,
//! 128-bit products). Inactive connections are ignored. `None` when no
//! destination is available.
//!
//! The kernel skips `weight == 0`; negative weights cannot be configured, so
//! skipping `weight <= 0` is the same set.
//!
//! Stateless: the hooks do nothing. Cost per pick: O(n), one walk (shorter
//! when an idle destination comes early).

use super::sed::sed_overhead;
use super::wlc::ratio_gt;
use super::{DestList, RandomSource, SchedParams, SchedRequest, Scheduler};
use crate::dest::DestId;

/// Never-queue scheduler (no state).
#[derive(Debug, Default)]
pub struct NeverQueue;

/// Create the scheduler.
pub fn create(_dests: DestList<'_>, _params: &SchedParams) -> Box<dyn Scheduler> {
    Box::new(NeverQueue)
}

impl Scheduler for NeverQueue {
    fn name(&self) -> &'static str {
        "nq"
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
        let mut least: Option<(DestId, u64, i32)> = None;
        for d in dests.iter() {
            if !d.is_schedulable() {
                continue;
            }
            if d.activeconns == 0 {
                return Some(d.id);
            }
            let (dl, dw) = (sed_overhead(d), d.weight());
            match least {
                Some((_, ll, lw)) if !ratio_gt(ll, lw, dl, dw) => {}
                _ => least = Some((d.id, dl, dw)),
            }
        }
        least.map(|(id, _, _)| id)
    }
}
