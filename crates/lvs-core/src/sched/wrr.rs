//! `wrr`: interleaved weighted round robin (kernel `ip_vs_wrr.c`).
//!
//! State, as in the kernel: a list cursor `cl` (the list head or the
//! destination picked last), the current weight level `cw`, `mw` = the
//! largest weight minus `di - 1`, and `di` = the gcd of the positive weights
//! (1 when there is none).
//!
//! A pick walks forward from the entry after `cl` and returns the first
//! destination that is not OVERLOAD and has `weight >= cw`; it becomes `cl`.
//! Each time the walk runs off the end of the list, `cw` drops by `di` and
//! the walk resumes at the first entry; when `cw` reaches 0 or below it
//! restarts at `mw`. The pick fails ("all destinations are overloaded") once
//! every destination has been tried at the lowest level (`cw <= di`) —
//! the kernel's `last_pass` / `restarted` / `stop` bookkeeping, which we keep:
//! - a restart when the pick began at the head, or after a lowest-level
//!   pass, fails with `cw = mw` and `cl` at the head;
//! - after a restart, reaching the lowest level makes the walk stop at the
//!   entry the pick began from: failing there leaves `cl` on it.
//!
//! `mw == 0` (no positive weight) fails at once. Every change of the list —
//! add, edit, delete — runs `ip_vs_wrr_dest_changed`: `cl` goes back to the
//! head, `di` and `mw` are recomputed, and `cw` becomes `mw` when it is above
//! `mw` or 0, else (if `di > 1`) `(cw / di) * di + 1`. With servers added one
//! by one the first one sets `di` to its own weight, so `mw = cw = 1` and
//! later adds leave `cw` at 1: the first sweep after the adds is a plain
//! round robin in list order (newest first).
//!
//! Our one departure is in cost, not result: when a walk over the **whole**
//! list finds nothing at level `cw`, every level above the largest weight of
//! a non-OVERLOAD destination is provably empty too, so we drop `cw` straight
//! to the first level at or below that weight instead of re-walking the list
//! once per level. `cw` stays `≡ 1 (mod di)` and the skipped levels are all
//! above `di`, so the kernel's bookkeeping would not have changed on them;
//! picks, failures and the final `cl`/`cw` are the kernel's.
//!
//! Cost per pick: O(n) worst case (at most a partial walk plus three whole
//! ones), O(n / available-share) typical; the kernel's own loop is
//! O(n · mw / di) in the worst case. Hooks: add O(1) (the gcd and maximum
//! are updated incrementally, which gives the kernel's result because only
//! the new weight is new), edit and delete O(n) like the kernel.

use super::{DestList, RandomSource, SchedParams, SchedRequest, Scheduler};
use crate::dest::DestId;

/// Weighted round-robin state (`struct ip_vs_wrr_mark`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeightedRoundRobin {
    /// Position of the destination picked last; `None` = the list head.
    cl: Option<usize>,
    /// Current weight level.
    cw: i64,
    /// Maximum weight minus `di - 1`.
    mw: i64,
    /// gcd of the positive weights (1 if none).
    di: i64,
    /// gcd of the positive weights, 0 if none (kept for O(1) adds).
    gcd: i64,
    /// Largest weight (0 if none positive).
    max: i64,
}

/// Create the scheduler (kernel `init_service`): cursor at the head,
/// `cw = mw`.
pub fn create(dests: DestList<'_>, _params: &SchedParams) -> Box<dyn Scheduler> {
    Box::new(WeightedRoundRobin::new(dests))
}

fn gcd(mut a: i64, mut b: i64) -> i64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

impl WeightedRoundRobin {
    /// State for a service whose current destinations are `dests`.
    pub fn new(dests: DestList<'_>) -> Self {
        let mut s = WeightedRoundRobin {
            cl: None,
            cw: 0,
            mw: 0,
            di: 1,
            gcd: 0,
            max: 0,
        };
        s.scan_weights(dests);
        s.derive();
        s.cw = s.mw;
        s
    }

    /// Current weight level `cw` (for tests and introspection).
    pub fn current_weight(&self) -> i64 {
        self.cw
    }

    /// `mw` and `di`.
    pub fn max_weight_and_step(&self) -> (i64, i64) {
        (self.mw, self.di)
    }

    fn fold_weight(&mut self, w: i64) {
        if w > 0 {
            self.gcd = if self.gcd > 0 { gcd(self.gcd, w) } else { w };
        }
        self.max = self.max.max(w);
    }

    fn scan_weights(&mut self, dests: DestList<'_>) {
        self.gcd = 0;
        self.max = 0;
        for d in dests.iter() {
            self.fold_weight(i64::from(d.weight()));
        }
    }

    fn derive(&mut self) {
        self.di = if self.gcd > 0 { self.gcd } else { 1 };
        self.mw = self.max - (self.di - 1);
    }

    /// `ip_vs_wrr_dest_changed` once `gcd` and `max` are up to date.
    fn changed(&mut self) {
        self.cl = None;
        self.derive();
        if self.cw > self.mw || self.cw == 0 {
            self.cw = self.mw;
        } else if self.di > 1 {
            self.cw = (self.cw / self.di) * self.di + 1;
        }
    }
}

impl Scheduler for WeightedRoundRobin {
    fn name(&self) -> &'static str {
        "wrr"
    }

    fn dest_added(&mut self, dests: DestList<'_>, id: DestId) {
        match dests.get(id) {
            Some(d) => self.fold_weight(i64::from(d.weight())),
            None => self.scan_weights(dests),
        }
        self.changed();
    }

    fn dest_removed(&mut self, dests: DestList<'_>, _id: DestId, _old_pos: usize) {
        self.scan_weights(dests);
        self.changed();
    }

    fn dest_updated(&mut self, dests: DestList<'_>, _id: DestId) {
        self.scan_weights(dests);
        self.changed();
    }

    fn schedule(
        &mut self,
        dests: DestList<'_>,
        _req: &SchedRequest,
        _rng: &mut dyn RandomSource,
    ) -> Option<DestId> {
        if self.mw <= 0 {
            return None;
        }
        let ids = dests.ids();
        let n = ids.len();
        // The entry the pick begins from (None = the head).
        let last = self.cl.filter(|p| *p < n);
        let mut stop: Option<usize> = None;
        let mut last_pass = false;
        let mut restarted = false;
        let mut from = last.map_or(0, |p| p + 1);
        loop {
            // Largest weight among non-OVERLOAD entries walked.
            let mut best: i64 = 0;
            for (pos, id) in ids.iter().enumerate().skip(from) {
                if let Some(d) = dests.get(*id)
                    && !d.overload
                {
                    let w = i64::from(d.weight());
                    if w >= self.cw {
                        self.cl = Some(pos);
                        return Some(*id);
                    }
                    best = best.max(w);
                }
                if stop == Some(pos) {
                    self.cl = Some(pos);
                    return None;
                }
            }
            // Off the end of the list: next level. After a walk over the
            // whole list, skip the levels no destination can reach.
            let mut steps = 1;
            if from == 0 {
                let target = best.max(1);
                let need = (self.cw - target + self.di - 1) / self.di;
                if need > 1 && self.cw - need * self.di >= 1 {
                    steps = need;
                }
            }
            self.cw -= steps * self.di;
            if self.cw <= 0 {
                self.cw = self.mw;
                if last_pass || last.is_none() {
                    self.cl = None;
                    return None;
                }
                restarted = true;
            }
            last_pass = self.cw <= self.di;
            if last_pass && restarted && last.is_some() {
                stop = last;
            }
            from = 0;
        }
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

    fn arena(weights: &[i32]) -> (DestArena, Vec<DestId>) {
        let mut a = DestArena::default();
        let ids = weights
            .iter()
            .enumerate()
            .map(|(i, w)| {
                let ip = IpAddr::V4(Ipv4Addr::new(10, 0, 0, i as u8 + 1));
                let cfg = DestConfig::new(ip, 80).with_weight(*w);
                a.insert_with(|id| Dest::new(id, ServiceId(0), cfg))
            })
            .collect();
        (a, ids)
    }

    /// The kernel loop without the level skip, for comparison.
    fn kernel_pick(s: &mut WeightedRoundRobin, dests: DestList<'_>) -> Option<DestId> {
        if s.mw <= 0 {
            return None;
        }
        let ids = dests.ids();
        let last = s.cl;
        let (mut stop, mut last_pass, mut restarted) = (None, false, false);
        let mut from = last.map_or(0, |p| p + 1);
        loop {
            for (pos, id) in ids.iter().enumerate().skip(from) {
                let d = dests.at(pos);
                if !d.overload && i64::from(d.weight()) >= s.cw {
                    s.cl = Some(pos);
                    return Some(*id);
                }
                if stop == Some(pos) {
                    s.cl = Some(pos);
                    return None;
                }
            }
            s.cw -= s.di;
            if s.cw <= 0 {
                s.cw = s.mw;
                if last_pass || last.is_none() {
                    s.cl = None;
                    return None;
                }
                restarted = true;
            }
            last_pass = s.cw <= s.di;
            if last_pass && restarted && last.is_some() {
                stop = last;
            }
            from = 0;
        }
    }

    #[test]
    fn weights_4_3_2_from_init_give_the_reference_cycle() {
        let (a, ids) = arena(&[4, 3, 2]);
        let mut s = WeightedRoundRobin::new(DestList::new(&ids, &a));
        let mut rng = XorShiftRandom(1);
        let names: String = (0..18)
            .map(|_| {
                let id = s
                    .schedule(DestList::new(&ids, &a), &req(), &mut rng)
                    .unwrap();
                (b'A' + ids.iter().position(|x| *x == id).unwrap() as u8) as char
            })
            .collect();
        assert_eq!(names, "AABABCABCAABABCABC");
    }

    #[test]
    fn level_skip_matches_the_plain_kernel_loop() {
        // A heavy overloaded dest makes the plain loop walk many levels.
        level_skip_case(&[1000, 7, 3, 21, 0, 14]);
        level_skip_case(&[1000, 6, 4, 20, 0, 14]);
        level_skip_case(&[9, 3, 6]);
    }

    fn level_skip_case(weights: &[i32]) {
        let (mut a, ids) = arena(weights);
        let mut fast = WeightedRoundRobin::new(DestList::new(&ids, &a));
        let mut slow = fast.clone();
        let mut rng = XorShiftRandom(1);
        let mut x = XorShiftRandom(99);
        for round in 0..2000 {
            // Flip OVERLOAD flags pseudo-randomly, including all-overloaded.
            for id in &ids {
                a.get_mut(*id).unwrap().overload = x.below(3) == 0;
            }
            if round % 7 == 0 {
                a.get_mut(ids[0]).unwrap().overload = true;
            }
            if round % 50 == 49 {
                // An edit: new weight (a multiple of 1, 2 or 3), then the
                // kernel's dest_changed on both.
                let id = ids[x.below(ids.len() as u32) as usize];
                let w = (x.below(12) * (1 + x.below(3))) as i32;
                a.get_mut(id).unwrap().config.weight = w;
                fast.dest_updated(DestList::new(&ids, &a), id);
                slow.dest_updated(DestList::new(&ids, &a), id);
            }
            let l = DestList::new(&ids, &a);
            let got = fast.schedule(l, &req(), &mut rng);
            let want = kernel_pick(&mut slow, l);
            assert_eq!(got, want, "round {round}");
            assert_eq!(fast, slow, "round {round}");
        }
    }

    #[test]
    fn no_positive_weight_fails_at_once() {
        let (a, ids) = arena(&[0, 0]);
        let mut s = WeightedRoundRobin::new(DestList::new(&ids, &a));
        assert_eq!(s.max_weight_and_step(), (0, 1));
        let mut rng = XorShiftRandom(1);
        assert_eq!(s.schedule(DestList::new(&ids, &a), &req(), &mut rng), None);
    }
}
