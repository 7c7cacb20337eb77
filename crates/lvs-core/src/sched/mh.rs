//! `mh` scheduler (placeholder until implemented).

use super::{DestList, RandomSource, SchedParams, SchedRequest, Scheduler};
use crate::dest::DestId;
use crate::error::Result;

/// Allowed table sizes.
pub const PRIMES: [u32; 10] = [
    251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521, 131071,
];

/// Placeholder state.
#[derive(Debug, Default)]
pub struct Placeholder;

/// Create the scheduler.
pub fn create(_dests: DestList<'_>, _params: &SchedParams) -> Result<Box<dyn Scheduler>> {
    Ok(Box::new(Placeholder))
}

impl Scheduler for Placeholder {
    fn name(&self) -> &'static str {
        "mh"
    }
    fn dest_added(&mut self, _d: DestList<'_>, _id: DestId) {}
    fn dest_removed(&mut self, _d: DestList<'_>, _id: DestId, _p: usize) {}
    fn dest_updated(&mut self, _d: DestList<'_>, _id: DestId) {}
    fn schedule(
        &mut self,
        _d: DestList<'_>,
        _r: &SchedRequest,
        _g: &mut dyn RandomSource,
    ) -> Option<DestId> {
        None
    }
}
