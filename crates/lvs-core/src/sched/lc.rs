//! `lc` scheduler (placeholder until implemented).

use super::{DestList, RandomSource, SchedParams, SchedRequest, Scheduler};
use crate::dest::DestId;

/// Placeholder state.
#[derive(Debug, Default)]
pub struct Placeholder;

/// Create the scheduler.
pub fn create(_dests: DestList<'_>, _params: &SchedParams) -> Box<dyn Scheduler> {
    Box::new(Placeholder)
}

impl Scheduler for Placeholder {
    fn name(&self) -> &'static str {
        "lc"
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
