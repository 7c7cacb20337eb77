//! `lc`: least connection (kernel `ip_vs_lc.c`).
//!
//! Contract: pick the destination with the smallest overhead
//! `(activeconns << 8) + inactconns` ([`crate::Dest::overhead`]), skipping
//! OVERLOAD and quiescent (weight 0) destinations. Weights are otherwise
//! ignored. Ties go to the first in list order (newest first): a later
//! destination replaces the candidate only when its overhead is strictly
//! smaller. `None` when no destination is available.
//!
//! The kernel skips `weight == 0`; we skip `weight <= 0`, which is the same
//! set because a negative weight is rejected (`ERANGE`) before it can be
//! configured. The kernel keeps the overhead in an `unsigned int`; ours is
//! 64-bit, so the two differ only beyond 2^24 active connections on one
//! destination, where the kernel's value wraps.
//!
//! Stateless: the hooks do nothing. Cost per pick: O(n), one walk.

use super::{DestList, RandomSource, SchedParams, SchedRequest, Scheduler};
use crate::dest::DestId;

/// Least-connection scheduler (no state).
#[derive(Debug, Default)]
pub struct LeastConn;

/// Create the scheduler.
pub fn create(_dests: DestList<'_>, _params: &SchedParams) -> Box<dyn Scheduler> {
    Box::new(LeastConn)
}

impl Scheduler for LeastConn {
    fn name(&self) -> &'static str {
        "lc"
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
        let mut least: Option<(DestId, u64)> = None;
        for d in dests.iter() {
            if !d.is_schedulable() {
                continue;
            }
            let oh = d.overhead();
            if least.is_none_or(|(_, l)| oh < l) {
                least = Some((d.id, oh));
            }
        }
        least.map(|(id, _)| id)
    }
}
