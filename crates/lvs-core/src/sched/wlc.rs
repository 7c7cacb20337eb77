//! `wlc`: weighted least connection (kernel `ip_vs_wlc.c`), ipvsadm's
//! default scheduler.
//!
//! Contract: pick the destination with the smallest
//! `overhead / weight`, overhead = `(activeconns << 8) + inactconns`,
//! skipping OVERLOAD destinations and those with weight <= 0. The first
//! available destination in list order (newest first) is the initial
//! candidate; a later one replaces it only when the candidate's ratio is
//! strictly worse, compared without division as
//! `cand_overhead * weight > overhead * cand_weight`. Ties therefore keep the
//! earlier destination. `None` when no destination is available.
//!
//! The kernel's second loop checks only OVERLOAD, not the weight; a weight-0
//! destination can never win that comparison (`x * 0 > y * w` is false for
//! non-negative `x, y`), so skipping it is the same rule. The products are
//! computed in 128 bits: exact for any overhead and weight (the kernel uses
//! `int` overhead and 64-bit products, which agree with ours short of 2^23
//! active connections on a destination).
//!
//! Stateless: the hooks do nothing. Cost per pick: O(n), one walk.

use super::{DestList, RandomSource, SchedParams, SchedRequest, Scheduler};
use crate::dest::DestId;

/// Weighted least-connection scheduler (no state).
#[derive(Debug, Default)]
pub struct WeightedLeastConn;

/// Create the scheduler.
pub fn create(_dests: DestList<'_>, _params: &SchedParams) -> Box<dyn Scheduler> {
    Box::new(WeightedLeastConn)
}

/// Whether `a_load / a_weight > b_load / b_weight`, by cross-multiplying.
#[inline]
pub(crate) fn ratio_gt(a_load: u64, a_weight: i32, b_load: u64, b_weight: i32) -> bool {
    let aw = u128::from(a_weight.max(0).unsigned_abs());
    let bw = u128::from(b_weight.max(0).unsigned_abs());
    u128::from(a_load) * bw > u128::from(b_load) * aw
}

/// The pick shared by wlc, sed and nq's fallback: minimum `load(d) /
/// weight(d)` over available destinations, first in list order on ties.
#[inline]
pub(crate) fn least_ratio(
    dests: DestList<'_>,
    load: impl Fn(&crate::dest::Dest) -> u64,
) -> Option<DestId> {
    let mut least: Option<(DestId, u64, i32)> = None;
    for d in dests.iter() {
        if !d.is_schedulable() {
            continue;
        }
        let (dl, dw) = (load(d), d.weight());
        match least {
            Some((_, ll, lw)) if !ratio_gt(ll, lw, dl, dw) => {}
            _ => least = Some((d.id, dl, dw)),
        }
    }
    least.map(|(id, _, _)| id)
}

impl Scheduler for WeightedLeastConn {
    fn name(&self) -> &'static str {
        "wlc"
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
        least_ratio(dests, crate::dest::Dest::overhead)
    }
}

#[cfg(test)]
mod tests {
    use super::ratio_gt;

    #[test]
    fn ratio_comparison_is_exact_at_the_extremes() {
        // 2^40 / (2^31 - 1) vs (2^40 - 1) / (2^31 - 1): 64-bit products
        // would overflow.
        let big = 1u64 << 40;
        assert!(ratio_gt(big, i32::MAX, big - 1, i32::MAX));
        assert!(!ratio_gt(big - 1, i32::MAX, big, i32::MAX));
        assert!(
            !ratio_gt(big, i32::MAX, big, i32::MAX),
            "equal is not worse"
        );
        // 3/2 > 4/3
        assert!(ratio_gt(3, 2, 4, 3));
        assert!(!ratio_gt(4, 3, 3, 2));
    }
}
