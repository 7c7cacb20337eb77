//! `rr`: round robin (kernel `ip_vs_rr.c`).
//!
//! Contract. The scheduler keeps a cursor that is either *the list head*
//! (a fresh service) or *the destination picked last*. A pick looks at the
//! entries after the cursor up to the end of the list and then, unless the
//! cursor is the head, wraps to the first entry and goes on up to and
//! including the cursor's own entry. The first destination that is not
//! OVERLOAD and has weight > 0 is returned and becomes the cursor. When none
//! qualifies the pick returns `None` and the cursor does not move.
//!
//! Kernel behaviour mirrored:
//! - the kernel's cursor is a pointer to the destination, so inserting a new
//!   destination at the head (`add_dest`, which `rr` does not hook) leaves it
//!   on the same destination; a cursor still at the head stays there, so the
//!   next pick starts with the newest destination;
//! - deleting the destination under the cursor moves the cursor back one
//!   entry (`ip_vs_rr_del_dest`): to the previous destination, or to the head
//!   when the deleted one was first; deleting any other destination leaves
//!   the cursor alone;
//! - edits (weight, thresholds) do not touch the cursor;
//! - a destination with weight 0 (quiescent) or OVERLOAD is skipped but the
//!   walk goes on past it.
//!
//! We track the cursor by [`DestId`] *and* list position; the hooks keep the
//! position right as entries are inserted at the head or unlinked, so a pick
//! never searches for the cursor.
//!
//! Cost per pick: O(k), k = entries skipped before the hit (O(n) worst case,
//! O(1) when every destination is available). Hooks: O(1).

use super::{DestList, RandomSource, SchedParams, SchedRequest, Scheduler};
use crate::dest::DestId;

/// Where the walk resumes: the destination picked last and its list
/// position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cursor {
    pos: usize,
    id: DestId,
}

/// Round-robin state: the cursor (`None` = the list head).
#[derive(Debug, Default)]
pub struct RoundRobin {
    cursor: Option<Cursor>,
}

/// Create the scheduler (kernel `init_service`: the cursor starts at the
/// list head).
pub fn create(_dests: DestList<'_>, _params: &SchedParams) -> Box<dyn Scheduler> {
    Box::new(RoundRobin::default())
}

impl RoundRobin {
    /// The destination the cursor is on (`None` = the list head).
    pub fn cursor(&self) -> Option<DestId> {
        self.cursor.map(|c| c.id)
    }

    /// The cursor's position in `dests`, re-synchronised by handle if the
    /// hooks were bypassed (never the case through [`crate::Ipvs`]).
    fn resolve(&mut self, dests: &DestList<'_>) -> Option<usize> {
        let c = self.cursor?;
        let ids = dests.ids();
        if ids.get(c.pos) == Some(&c.id) {
            return Some(c.pos);
        }
        match ids.iter().position(|id| *id == c.id) {
            Some(pos) => {
                self.cursor = Some(Cursor { pos, id: c.id });
                Some(pos)
            }
            None => {
                self.cursor = None;
                None
            }
        }
    }
}

impl Scheduler for RoundRobin {
    fn name(&self) -> &'static str {
        "rr"
    }

    fn dest_added(&mut self, _dests: DestList<'_>, _id: DestId) {
        // The new entry sits in front of the cursor's destination.
        if let Some(c) = &mut self.cursor {
            c.pos += 1;
        }
    }

    fn dest_removed(&mut self, dests: DestList<'_>, id: DestId, old_pos: usize) {
        let Some(c) = self.cursor else { return };
        if c.id == id {
            // Back one entry: the previous destination or the head.
            self.cursor = old_pos
                .checked_sub(1)
                .and_then(|pos| dests.ids().get(pos).map(|id| Cursor { pos, id: *id }));
        } else if c.pos > old_pos {
            self.cursor = Some(Cursor {
                pos: c.pos - 1,
                id: c.id,
            });
        }
    }

    fn dest_updated(&mut self, _dests: DestList<'_>, _id: DestId) {}

    fn schedule(
        &mut self,
        dests: DestList<'_>,
        _req: &SchedRequest,
        _rng: &mut dyn RandomSource,
    ) -> Option<DestId> {
        let ids = dests.ids();
        let last = self.resolve(&dests);
        let start = last.map_or(0, |p| p + 1);
        // After the cursor to the end, then from the first entry up to and
        // including the cursor's own entry.
        let wrap = last.map_or(0..0, |p| 0..p + 1);
        for pos in (start..ids.len()).chain(wrap) {
            let id = ids[pos];
            if dests.get(id).is_some_and(|d| d.is_schedulable()) {
                self.cursor = Some(Cursor { pos, id });
                return Some(id);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dest::{Dest, DestArena, DestConfig};
    use crate::sched::XorShiftRandom;
    use crate::service::{ServiceFlags, ServiceId};
    use crate::time::Time;
    use std::net::{IpAddr, Ipv4Addr};

    fn req() -> SchedRequest {
        let a = IpAddr::V4(Ipv4Addr::LOCALHOST);
        SchedRequest {
            now: Time::ZERO,
            saddr: a,
            sport: 1,
            daddr: a,
            dport: 80,
            flags: ServiceFlags::default(),
        }
    }

    /// Arena with `n` weight-1 dests; returns ids in creation order.
    fn arena(n: u8) -> (DestArena, Vec<DestId>) {
        let mut a = DestArena::default();
        let ids = (0..n)
            .map(|i| {
                let cfg = DestConfig::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, i + 1)), 80);
                a.insert_with(|id| Dest::new(id, ServiceId(0), cfg))
            })
            .collect();
        (a, ids)
    }

    #[test]
    fn walks_list_order_and_wraps() {
        let (a, ids) = arena(3);
        let order = [ids[2], ids[1], ids[0]];
        let mut rr = RoundRobin::default();
        let mut rng = XorShiftRandom(1);
        let got: Vec<DestId> = (0..7)
            .map(|_| {
                rr.schedule(DestList::new(&order, &a), &req(), &mut rng)
                    .unwrap()
            })
            .collect();
        let want: Vec<DestId> = [0, 1, 2, 0, 1, 2, 0].iter().map(|i| order[*i]).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn only_cursor_left_is_picked_again() {
        let (mut a, ids) = arena(3);
        let order = [ids[0], ids[1], ids[2]];
        let mut rr = RoundRobin::default();
        let mut rng = XorShiftRandom(1);
        assert_eq!(
            rr.schedule(DestList::new(&order, &a), &req(), &mut rng),
            Some(ids[0])
        );
        a.get_mut(ids[1]).unwrap().config.weight = 0;
        a.get_mut(ids[2]).unwrap().overload = true;
        // The wrap includes the cursor's own entry.
        assert_eq!(
            rr.schedule(DestList::new(&order, &a), &req(), &mut rng),
            Some(ids[0])
        );
        a.get_mut(ids[0]).unwrap().config.weight = 0;
        assert_eq!(
            rr.schedule(DestList::new(&order, &a), &req(), &mut rng),
            None
        );
        assert_eq!(rr.cursor(), Some(ids[0]), "a failed pick keeps the cursor");
    }

    #[test]
    fn cursor_resyncs_when_hooks_were_bypassed() {
        let (a, ids) = arena(3);
        let mut rr = RoundRobin::default();
        let mut rng = XorShiftRandom(1);
        let before = [ids[1], ids[2]];
        assert_eq!(
            rr.schedule(DestList::new(&before, &a), &req(), &mut rng),
            Some(ids[1])
        );
        // ids[0] inserted at the head without dest_added.
        let after = [ids[0], ids[1], ids[2]];
        assert_eq!(
            rr.schedule(DestList::new(&after, &a), &req(), &mut rng),
            Some(ids[2])
        );
    }
}
