//! A hierarchical timer wheel over intrusive links, driven by `now`.
//!
//! Contract:
//! - time is in milliseconds; six levels of 64 slots, level `l` slots span
//!   `64^l` ms, so the wheel covers 2^36 ms (≈ 795 days) ahead; later
//!   deadlines park in the last level and are looked at again when it turns;
//! - an entry sits in at most one list; the links (`prev`, `next`) live in
//!   the entries themselves (4 + 4 bytes), so insert and cancel are O(1)
//!   and allocate nothing;
//! - **lazy extension**: moving an entry's deadline *later* (what every
//!   packet of a connection does) only rewrites its deadline field; when
//!   its old slot comes up the entry is re-filed. Moving a deadline
//!   *earlier* re-files it at once ([`Wheel::rearm`]);
//! - [`Wheel::pop`] returns due entries in deadline order (the order of
//!   their exact deadlines across slots; ties in one millisecond in list
//!   order), one at a time, so the caller can act on each (and re-arm it)
//!   before the next one is taken.
//!
//! The kernel arms one `timer_list` per connection (`mod_timer` on every
//! packet); this wheel gives the same expiry instants at 1 ms resolution
//! (the kernel's is one jiffy, 4 ms at HZ=250).
//!
//! Cost: insert O(1); cancel O(1); re-filing a slot costs O(entries in it)
//! and an entry is re-filed at most once per level on its way down, plus
//! once per lazy extension that outlived its slot.

/// No entry / not linked.
pub const NIL: u32 = u32::MAX;
/// Tag in `prev`: the entry heads list `prev & !HEAD`.
const HEAD: u32 = 1 << 31;

const BITS: u32 = 6;
const SLOTS: usize = 1 << BITS;
const LEVELS: usize = 6;
/// List of entries found due, handed out by `pop`.
const DUE: usize = LEVELS * SLOTS;
/// Farthest deadline placed exactly.
const MAX_SPAN: u64 = 1 << (BITS as u64 * LEVELS as u64);

/// Access to the intrusive links and deadlines stored in the entries.
pub trait Links {
    /// `prev` link (an entry id, `HEAD | list`, or [`NIL`] when unlinked).
    fn prev(&self, id: u32) -> u32;
    /// Set the `prev` link.
    fn set_prev(&mut self, id: u32, v: u32);
    /// `next` link.
    fn next(&self, id: u32) -> u32;
    /// Set the `next` link.
    fn set_next(&mut self, id: u32, v: u32);
    /// The entry's deadline in ms.
    fn deadline(&self, id: u32) -> u64;
}

/// The wheel: list heads, occupancy bitmaps and the time processed so far.
#[derive(Debug, Clone)]
pub struct Wheel {
    heads: Vec<u32>,
    occupied: [u64; LEVELS],
    elapsed: u64,
    /// A lower bound of every pending deadline: `pop` before it is free.
    hint: u64,
}

impl Default for Wheel {
    fn default() -> Self {
        Wheel {
            heads: vec![NIL; DUE + 1],
            occupied: [0; LEVELS],
            elapsed: 0,
            hint: u64::MAX,
        }
    }
}

impl Wheel {
    /// Whether `id` is in the wheel.
    #[inline]
    pub fn is_linked<S: Links>(s: &S, id: u32) -> bool {
        s.prev(id) != NIL
    }

    fn push(&mut self, s: &mut impl Links, list: usize, id: u32) {
        let head = self.heads[list];
        s.set_prev(id, HEAD | list as u32);
        s.set_next(id, head);
        if head != NIL {
            s.set_prev(head, id);
        }
        self.heads[list] = id;
        if list < DUE {
            self.occupied[list / SLOTS] |= 1 << (list % SLOTS);
        }
    }

    /// Which list a deadline belongs to, relative to `elapsed`.
    fn list_for(&self, when: u64) -> usize {
        if when <= self.elapsed {
            return DUE;
        }
        let when = when.min(self.elapsed + MAX_SPAN - 1);
        let masked = (self.elapsed ^ when) | (SLOTS as u64 - 1);
        let level = ((63 - masked.leading_zeros()) / BITS) as usize;
        let level = level.min(LEVELS - 1);
        let slot = ((when >> (BITS as usize * level)) as usize) & (SLOTS - 1);
        level * SLOTS + slot
    }

    /// File `id` (not linked) under its current deadline.
    pub fn insert(&mut self, s: &mut impl Links, id: u32) {
        let when = s.deadline(id);
        let list = self.list_for(when);
        self.push(s, list, id);
        self.hint = self.hint.min(when);
    }

    /// Unlink `id` if it is linked.
    pub fn remove(&mut self, s: &mut impl Links, id: u32) {
        let prev = s.prev(id);
        if prev == NIL {
            return;
        }
        let next = s.next(id);
        if prev & HEAD != 0 && prev != NIL {
            let list = (prev & !HEAD) as usize;
            self.heads[list] = next;
            if next == NIL && list < DUE {
                self.occupied[list / SLOTS] &= !(1 << (list % SLOTS));
            }
            if next != NIL {
                s.set_prev(next, prev);
            }
        } else {
            s.set_next(prev, next);
            if next != NIL {
                s.set_prev(next, prev);
            }
        }
        s.set_prev(id, NIL);
        s.set_next(id, NIL);
    }

    /// The entry's deadline changed from `old` to its current value: file
    /// it if unlinked, re-file it if the deadline moved earlier, else leave
    /// it (lazy extension).
    #[inline]
    pub fn rearm(&mut self, s: &mut impl Links, id: u32, old: u64) {
        let new = s.deadline(id);
        if !Self::is_linked(s, id) {
            self.insert(s, id);
        } else if new < old {
            self.remove(s, id);
            self.insert(s, id);
        }
    }

    /// Whether [`Wheel::pop`] at `now` would find nothing due and leave
    /// the wheel as it is (nothing in the due list, `now` before every
    /// pending deadline): the per-packet check, a few instructions.
    #[inline]
    pub fn idle(&self, now: u64) -> bool {
        now < self.hint && self.heads.get(DUE).is_none_or(|h| *h == NIL)
    }

    /// The first occupied slot at or after the current position of some
    /// level, lowest level first, with the instant it must be processed.
    fn next_slot(&self) -> Option<(usize, u64)> {
        for level in 0..LEVELS {
            let occ = self.occupied[level];
            if occ == 0 {
                continue;
            }
            let shift = BITS as usize * level;
            let slot_span = 1u64 << shift;
            let level_span = slot_span << BITS;
            let cur = ((self.elapsed >> shift) as usize) & (SLOTS - 1);
            let off = occ.rotate_right(cur as u32).trailing_zeros() as usize;
            let slot = (cur + off) & (SLOTS - 1);
            let start = self.elapsed & !(level_span - 1);
            let mut at = start + slot as u64 * slot_span;
            if at < self.elapsed {
                at += level_span;
            }
            return Some((level * SLOTS + slot, at));
        }
        None
    }

    /// The next entry whose deadline is `<= now`, unlinked, or `None` when
    /// nothing more is due (the wheel then stands at `now`).
    pub fn pop(&mut self, s: &mut impl Links, now: u64) -> Option<u32> {
        loop {
            let id = self.heads[DUE];
            if id != NIL {
                self.remove(s, id);
                return Some(id);
            }
            if now < self.hint {
                // Nothing is due. `elapsed` stays: a slot may still have
                // to cascade before `now`, and moving past it would
                // misplace its entries.
                return None;
            }
            let Some((list, at)) = self.next_slot() else {
                self.elapsed = self.elapsed.max(now);
                self.hint = u64::MAX;
                return None;
            };
            if at > now {
                // Every slot lies beyond `now`: positions computed from
                // `now` name the same instants, so the wheel may stand here.
                self.elapsed = self.elapsed.max(now);
                self.hint = at;
                return None;
            }
            self.elapsed = at;
            let mut id = self.heads[list];
            self.heads[list] = NIL;
            self.occupied[list / SLOTS] &= !(1 << (list % SLOTS));
            while id != NIL {
                let next = s.next(id);
                s.set_prev(id, NIL);
                s.set_next(id, NIL);
                let when = s.deadline(id);
                let to = self.list_for(when);
                self.push(s, to, id);
                id = next;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Default)]
    struct Store {
        prev: Vec<u32>,
        next: Vec<u32>,
        when: Vec<u64>,
    }

    impl Store {
        fn add(&mut self, when: u64) -> u32 {
            self.prev.push(NIL);
            self.next.push(NIL);
            self.when.push(when);
            (self.when.len() - 1) as u32
        }
    }

    impl Links for Store {
        fn prev(&self, id: u32) -> u32 {
            self.prev[id as usize]
        }
        fn set_prev(&mut self, id: u32, v: u32) {
            self.prev[id as usize] = v;
        }
        fn next(&self, id: u32) -> u32 {
            self.next[id as usize]
        }
        fn set_next(&mut self, id: u32, v: u32) {
            self.next[id as usize] = v;
        }
        fn deadline(&self, id: u32) -> u64 {
            self.when[id as usize]
        }
    }

    fn drain(w: &mut Wheel, s: &mut Store, now: u64) -> Vec<u32> {
        let mut out = Vec::new();
        while let Some(id) = w.pop(s, now) {
            out.push(id);
        }
        out
    }

    #[test]
    fn fires_at_exact_deadline_across_levels() {
        let mut s = Store::default();
        let mut w = Wheel::default();
        let deadlines = [
            1u64,
            63,
            64,
            65,
            4095,
            4096,
            300_000,
            900_000,
            1 << 30,
            1 << 37,
        ];
        for d in deadlines {
            let id = s.add(d);
            w.insert(&mut s, id);
        }
        for (i, d) in deadlines.iter().enumerate() {
            assert!(
                drain(&mut w, &mut s, d - 1).is_empty(),
                "nothing before {d}"
            );
            assert_eq!(drain(&mut w, &mut s, *d), vec![i as u32], "fires at {d}");
        }
    }

    #[test]
    fn lazy_extension_and_earlier_rearm() {
        let mut s = Store::default();
        let mut w = Wheel::default();
        let a = s.add(1000);
        w.insert(&mut s, a);
        // Later: only the field changes.
        s.when[a as usize] = 5000;
        w.rearm(&mut s, a, 1000);
        assert!(drain(&mut w, &mut s, 4999).is_empty());
        assert_eq!(drain(&mut w, &mut s, 5000), vec![a]);
        // Earlier: re-filed.
        let b = s.add(90_000);
        w.insert(&mut s, b);
        s.when[b as usize] = 6000;
        w.rearm(&mut s, b, 90_000);
        assert_eq!(drain(&mut w, &mut s, 6000), vec![b]);
    }

    #[test]
    fn removed_entries_never_fire_and_past_deadlines_fire_next() {
        let mut s = Store::default();
        let mut w = Wheel::default();
        let a = s.add(100);
        let b = s.add(100);
        w.insert(&mut s, a);
        w.insert(&mut s, b);
        w.remove(&mut s, a);
        assert_eq!(drain(&mut w, &mut s, 200), vec![b]);
        let c = s.add(50); // already past
        w.insert(&mut s, c);
        assert_eq!(drain(&mut w, &mut s, 200), vec![c]);
    }

    proptest! {
        /// Against a model: with random inserts, extensions, shortenings,
        /// removals and clock steps, `pop(now)` hands out exactly the
        /// entries whose deadline is `<= now`, in deadline order.
        #[test]
        fn matches_a_sorted_model(ops in proptest::collection::vec((0u8..4, 0u64..200_000, 0usize..32), 1..300)) {
            let mut s = Store::default();
            let mut w = Wheel::default();
            let mut now = 0u64;
            let mut live: Vec<bool> = Vec::new();
            for (op, x, pick) in ops {
                match op {
                    0 => {
                        let id = s.add(now + x);
                        live.push(true);
                        w.insert(&mut s, id);
                    }
                    1 | 2 if !live.is_empty() => {
                        let id = (pick % live.len()) as u32;
                        if live[id as usize] {
                            let old = s.when[id as usize];
                            s.when[id as usize] = now + x;
                            w.rearm(&mut s, id, old);
                        }
                    }
                    3 if !live.is_empty() => {
                        let id = pick % live.len();
                        if live[id] {
                            w.remove(&mut s, id as u32);
                            live[id] = false;
                        }
                    }
                    _ => {}
                }
                now += x / 8;
                let mut expect: Vec<(u64, u32)> = (0..live.len())
                    .filter(|i| live[*i] && s.when[*i] <= now)
                    .map(|i| (s.when[i], i as u32))
                    .collect();
                expect.sort_unstable();
                // The inline check never hides a due entry...
                prop_assert!(!w.idle(now) || expect.is_empty(), "idle while entries are due");
                let got = drain(&mut w, &mut s, now);
                // ...and after a drain the next packet at `now` takes it.
                prop_assert!(w.idle(now), "not idle right after a drain");
                let mut got_sorted: Vec<(u64, u32)> = got.iter().map(|id| (s.when[*id as usize], *id)).collect();
                let in_order = got_sorted.windows(2).all(|p| p[0].0 <= p[1].0);
                prop_assert!(in_order, "deadline order");
                got_sorted.sort_unstable();
                prop_assert_eq!(got_sorted, expect);
                for id in got {
                    live[id as usize] = false;
                }
            }
        }
    }
}
