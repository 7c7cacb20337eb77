//! `sed`: shortest expected delay (kernel `ip_vs_sed.c`).
//!
//! Contract: pick the destination with the smallest
//! `(activeconns + 1) / weight` — inactive connections are ignored —
//! skipping OVERLOAD destinations and those with weight <= 0. The first
//! available destination in list order (newest first) is the initial
//! candidate; a later one replaces it only when the candidate's delay is
//! strictly larger (`cand_delay * weight > delay * cand_weight`, no
//! division, 128-bit products). Ties keep the earlier destination. `None`
//! when no destination is available.
//!
//! As in wlc, the kernel's second loop does not test the weight; a weight-0
//! destination can never win (`x * 0 > y * w` is false), so skipping it is
//! the same rule.
//!
//! Stateless: the hooks do nothing. Cost per pick: O(n), one walk.

use super::wlc::least_ratio;
use super::{DestList, RandomSource, SchedParams, SchedRequest, Scheduler};
use crate::dest::{Dest, DestId};

/// Shortest-expected-delay scheduler (no state).
#[derive(Debug, Default)]
pub struct ShortestExpectedDelay;

/// Create the scheduler.
pub fn create(_dests: DestList<'_>, _params: &SchedParams) -> Box<dyn Scheduler> {
    Box::new(ShortestExpectedDelay)
}

/// The expected delay's numerator: `activeconns + 1`.
#[inline]
pub(crate) fn sed_overhead(d: &Dest) -> u64 {
    u64::from(d.activeconns) + 1
}

impl Scheduler for ShortestExpectedDelay {
    fn name(&self) -> &'static str {
        "sed"
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
        least_ratio(dests, sed_overhead)
    }
}
