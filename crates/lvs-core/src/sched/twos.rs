//! `twos`: power of two choices (kernel `ip_vs_twos.c`, Linux 6.2+).
//!
//! Contract, as the kernel does it:
//! 1. Sum the weights of the destinations that are not OVERLOAD and have
//!    weight > 0 (`total`); none → `None`. Add 1.
//! 2. Draw `r1`, then `r2`, each `rng.below(total + 1)` — the kernel's two
//!    `get_random_u32_below(total_weight)` calls, in that order, so a value
//!    in `[0, total]`.
//! 3. Walk the available destinations in list order (newest first),
//!    subtracting each weight from both; the first destination at which
//!    `r1` reaches `<= 0` is choice 1, likewise for `r2` choice 2 (so a draw
//!    of 0 selects the first available destination). Stop once both are
//!    found.
//! 4. Return choice 2 if its load is strictly lower, i.e.
//!    `weight2 * overhead1 > weight1 * overhead2` with overhead
//!    `(activeconns << 8) + inactconns`; otherwise choice 1.
//!
//! Deliberate exactness beyond the kernel: the kernel keeps the weight sum
//! and the products in `int`, which wrap once a sum of weights passes 2^31
//! or `weight * overhead` does (e.g. weight 1000 with ~8400 active
//! connections); we sum in 64 bits, compare 128-bit products, and clamp the
//! draw bound to `u32::MAX` (the draw is still below the sum then, so both
//! choices are always found).
//!
//! Stateless apart from the injected [`RandomSource`]: the hooks do nothing.
//! Cost per pick: O(n), at most two walks, no allocation.

use super::wlc::ratio_gt;
use super::{DestList, RandomSource, SchedParams, SchedRequest, Scheduler};
use crate::dest::DestId;

/// Power-of-two-choices scheduler (no state).
#[derive(Debug, Default)]
pub struct TwoChoices;

/// Create the scheduler.
pub fn create(_dests: DestList<'_>, _params: &SchedParams) -> Box<dyn Scheduler> {
    Box::new(TwoChoices)
}

impl Scheduler for TwoChoices {
    fn name(&self) -> &'static str {
        "twos"
    }
    fn dest_added(&mut self, _d: DestList<'_>, _id: DestId) {}
    fn dest_removed(&mut self, _d: DestList<'_>, _id: DestId, _p: usize) {}
    fn dest_updated(&mut self, _d: DestList<'_>, _id: DestId) {}

    fn schedule(
        &mut self,
        dests: DestList<'_>,
        _req: &SchedRequest,
        rng: &mut dyn RandomSource,
    ) -> Option<DestId> {
        let mut total: u64 = 0;
        // The kernel's fallback choice 1: the last available destination.
        let mut fallback = None;
        for d in dests.iter() {
            if d.is_schedulable() {
                total += u64::from(d.weight().unsigned_abs());
                fallback = Some(d);
            }
        }
        let fallback = fallback?;
        let bound = u32::try_from(total + 1).unwrap_or(u32::MAX);
        let mut r1 = i64::from(rng.below(bound));
        let mut r2 = i64::from(rng.below(bound));

        let mut choice1 = None;
        let mut choice2 = None;
        for d in dests.iter() {
            if !d.is_schedulable() {
                continue;
            }
            let w = i64::from(d.weight());
            r1 -= w;
            r2 -= w;
            if r1 <= 0 && choice1.is_none() {
                choice1 = Some(d);
            }
            if r2 <= 0 && choice2.is_none() {
                choice2 = Some(d);
            }
            if choice1.is_some() && choice2.is_some() {
                break;
            }
        }
        let c1 = choice1.unwrap_or(fallback);
        Some(match choice2 {
            // weight2 * overhead1 > weight1 * overhead2  <=>  load1 > load2
            Some(c2) if ratio_gt(c1.overhead(), c1.weight(), c2.overhead(), c2.weight()) => c2.id,
            _ => c1.id,
        })
    }
}
