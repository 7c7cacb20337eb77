//! An open-addressing index from key hashes to entry ids.
//!
//! The index stores only `(id, hash)` pairs, 8 bytes a bucket: keys live
//! in the entries, and a probe compares the stored 32-bit hash first, so an
//! entry is read only on a likely match. Linear probing, at most 3/4 full,
//! deletion by backward shift (no tombstones), so a lookup never allocates
//! and its cost does not degrade with churn.

/// Marks an empty bucket.
const EMPTY: u32 = u32::MAX;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    id: u32,
    hash: u32,
}

const VACANT: Bucket = Bucket { id: EMPTY, hash: 0 };

/// The index. Duplicate keys are allowed (lookups return the first match).
#[derive(Debug, Default, Clone)]
pub struct Index {
    buckets: Vec<Bucket>,
    len: usize,
}

impl Index {
    #[inline]
    fn mask(&self) -> usize {
        self.buckets.len().wrapping_sub(1)
    }

    /// Number of stored ids.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no id is stored.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes held by the bucket array.
    pub fn heap_bytes(&self) -> usize {
        self.buckets.capacity() * std::mem::size_of::<Bucket>()
    }

    /// First id with hash `hash` for which `eq` holds.
    #[inline]
    pub fn find(&self, hash: u32, mut eq: impl FnMut(u32) -> bool) -> Option<u32> {
        if self.buckets.is_empty() {
            return None;
        }
        let mask = self.mask();
        let mut i = hash as usize & mask;
        loop {
            let b = self.buckets[i];
            if b.id == EMPTY {
                return None;
            }
            if b.hash == hash && eq(b.id) {
                return Some(b.id);
            }
            i = (i + 1) & mask;
        }
    }

    /// Store `id` under `hash`.
    pub fn insert(&mut self, hash: u32, id: u32) {
        if (self.len + 1) * 4 > self.buckets.len() * 3 {
            self.grow();
        }
        self.place(Bucket { id, hash });
        self.len += 1;
    }

    fn place(&mut self, b: Bucket) {
        let mask = self.mask();
        let mut i = b.hash as usize & mask;
        while self.buckets[i].id != EMPTY {
            i = (i + 1) & mask;
        }
        self.buckets[i] = b;
    }

    fn grow(&mut self) {
        let cap = (self.buckets.len() * 2).max(16);
        let old = std::mem::replace(&mut self.buckets, vec![VACANT; cap]);
        for b in old {
            if b.id != EMPTY {
                self.place(b);
            }
        }
    }

    /// Remove `id` stored under `hash`; false if it is not there.
    pub fn remove(&mut self, hash: u32, id: u32) -> bool {
        if self.buckets.is_empty() {
            return false;
        }
        let mask = self.mask();
        let mut i = hash as usize & mask;
        loop {
            let b = self.buckets[i];
            if b.id == EMPTY {
                return false;
            }
            if b.id == id && b.hash == hash {
                break;
            }
            i = (i + 1) & mask;
        }
        // Backward shift: pull later members of the cluster into the hole
        // unless their home lies cyclically in (hole, j].
        self.buckets[i] = VACANT;
        let mut hole = i;
        let mut j = i;
        loop {
            j = (j + 1) & mask;
            let b = self.buckets[j];
            if b.id == EMPTY {
                break;
            }
            let home = b.hash as usize & mask;
            let stays = if hole <= j {
                hole < home && home <= j
            } else {
                hole < home || home <= j
            };
            if !stays {
                self.buckets[hole] = b;
                self.buckets[j] = VACANT;
                hole = j;
            }
        }
        self.len -= 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    proptest! {
        /// Against a model: after any sequence of inserts and removes every
        /// live id is found under its hash and removed ids are not. Hashes
        /// are drawn from a small range to force long clusters.
        #[test]
        fn behaves_like_a_multimap(ops in proptest::collection::vec((any::<bool>(), 0u32..64, 0u32..40), 1..400)) {
            let mut idx = Index::default();
            let mut model: HashMap<u32, u32> = HashMap::new(); // id -> hash
            for (ins, hash, id) in ops {
                if ins && !model.contains_key(&id) {
                    idx.insert(hash, id);
                    model.insert(id, hash);
                } else if let Some(h) = model.remove(&id) {
                    prop_assert!(idx.remove(h, id));
                } else {
                    prop_assert!(!idx.remove(hash, id));
                }
                prop_assert_eq!(idx.len(), model.len());
                prop_assert_eq!(idx.is_empty(), model.is_empty());
                for id in 0..40u32 {
                    match model.get(&id) {
                        Some(h) => prop_assert_eq!(idx.find(*h, |x| x == id), Some(id)),
                        None => for h in 0..64 {
                            prop_assert_eq!(idx.find(h, |x| x == id), None);
                        },
                    }
                }
            }
        }
    }
}
