//! `fo`: weighted failover (kernel `ip_vs_fo.c`).
//!
//! Contract: pick the destination with the highest weight among those that
//! are not OVERLOAD and have weight > 0. Ties go to the first in list order
//! (newest first): a later destination replaces the candidate only with a
//! strictly higher weight. Connection counts are ignored. `None` when no
//! destination is available.
//!
//! Stateless: the hooks do nothing. Cost per pick: O(n), one walk.

use super::{DestList, RandomSource, SchedParams, SchedRequest, Scheduler};
use crate::dest::DestId;

/// Weighted-failover scheduler (no state).
#[derive(Debug, Default)]
pub struct Failover;

/// Create the scheduler.
pub fn create(_dests: DestList<'_>, _params: &SchedParams) -> Box<dyn Scheduler> {
    Box::new(Failover)
}

impl Scheduler for Failover {
    fn name(&self) -> &'static str {
        "fo"
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
        // The kernel starts from "highest weight so far = 0", so weight <= 0
        // never qualifies.
        let mut best: Option<DestId> = None;
        let mut hw = 0;
        for d in dests.iter() {
            if !d.overload && d.weight() > hw {
                best = Some(d.id);
                hw = d.weight();
            }
        }
        best
    }
}
