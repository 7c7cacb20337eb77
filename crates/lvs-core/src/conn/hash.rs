//! Keyed hashing of connection keys.
//!
//! The kernel hashes connection keys with `jhash` and a random seed so that
//! clients cannot aim at one bucket. The core draws no randomness, so the
//! seed is handed in ([`crate::Ipvs::set_conn_hash_seed`]); a fixed default
//! keeps tests reproducible. The mixer is a folded 64×64→128-bit multiply
//! per word (as in foldhash/wyhash), keyed by the seed: fast, and every
//! input bit reaches every output bit. It is not a cryptographic MAC.

/// Default seed when the caller sets none.
pub const DEFAULT_SEED: u64 = 0x5be4_cf2a_9d1c_7e31;

const K0: u64 = 0x243f_6a88_85a3_08d3;
const K1: u64 = 0x9e37_79b9_7f4a_7c15;

#[inline]
fn fold_mul(a: u64, b: u64) -> u64 {
    let p = u128::from(a) * u128::from(b);
    (p as u64) ^ ((p >> 64) as u64)
}

/// Incremental hasher over 64-bit words.
#[derive(Debug, Clone, Copy)]
pub struct KeyHasher {
    acc: u64,
    key: u64,
}

impl KeyHasher {
    /// A hasher keyed by `seed`.
    #[inline]
    pub fn new(seed: u64) -> KeyHasher {
        KeyHasher {
            acc: seed ^ K0,
            key: (seed.rotate_left(29) ^ K1) | 1,
        }
    }

    /// Mix one word in.
    #[inline]
    pub fn write(&mut self, w: u64) {
        self.acc = fold_mul(self.acc ^ w, self.key).rotate_left(23);
    }

    /// The 32-bit result: the low bits choose the bucket, all of them
    /// serve as the tag stored next to the entry id.
    #[inline]
    pub fn finish(self) -> u32 {
        let x = fold_mul(self.acc, K1 ^ self.key);
        (x ^ (x >> 32)) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(seed: u64, words: &[u64]) -> u32 {
        let mut k = KeyHasher::new(seed);
        for w in words {
            k.write(*w);
        }
        k.finish()
    }

    #[test]
    fn seed_and_every_word_matter() {
        let base = h(1, &[1, 2, 3]);
        assert_ne!(base, h(2, &[1, 2, 3]));
        assert_ne!(base, h(1, &[0, 2, 3]));
        assert_ne!(base, h(1, &[1, 2, 4]));
        assert_ne!(base, h(1, &[2, 1, 3]), "order matters");
    }

    #[test]
    fn low_bits_spread_over_sequential_ports() {
        // 4096 consecutive client ports must fill most of 1024 buckets.
        let mut seen = vec![false; 1024];
        for port in 0..4096u64 {
            seen[(h(DEFAULT_SEED, &[0x0a00_0001, port]) & 1023) as usize] = true;
        }
        let filled = seen.iter().filter(|b| **b).count();
        assert!(filled > 1000, "only {filled} of 1024 buckets used");
    }
}
