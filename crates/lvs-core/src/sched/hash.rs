//! Hash functions of the kernel's hashing schedulers.
//!
//! - [`hash_32`]: `include/linux/hash.h`, the multiplicative hash used by
//!   sh, dh, lblc and lblcr: multiply by `GOLDEN_RATIO_32` (0x61C88647)
//!   modulo 2^32 and keep the top `bits` bits.
//! - [`hsiphash_u32`]: the kernel's `hsiphash()` as built on 64-bit machines
//!   (`lib/siphash.c`), used by mh. On 64-bit kernels "HalfSipHash-1-3" is
//!   really **SipHash-1-3** on 64-bit words, keyed by two `unsigned long`
//!   (2 × u64), and the 64-bit result is truncated to its low 32 bits. mh
//!   hashes a 4-byte `unsigned int`, read in little-endian order (x86).
//! - [`siphash`]: the SipHash-c-d core both are checked with (SipHash-2-4
//!   against the published test vector, SipHash-1-3 for mh).
//!
//! Everything here is a pure function of its arguments: no allocation, no
//! state. Cost: `hash_32` is one multiply; `hsiphash_u32` is 4 SipRounds.

/// `GOLDEN_RATIO_32` of `include/linux/hash.h`.
pub const GOLDEN_RATIO_32: u32 = 0x61C8_8647;

/// The kernel's `hash_32(val, bits)`: `(val * GOLDEN_RATIO_32) >> (32 - bits)`
/// with 32-bit wrapping multiplication. `bits` is clamped to `1..=32`.
#[inline]
pub fn hash_32(val: u32, bits: u32) -> u32 {
    let bits = bits.clamp(1, 32);
    val.wrapping_mul(GOLDEN_RATIO_32) >> (32 - bits)
}

/// A 128-bit SipHash key as two 64-bit words (`hsiphash_key_t` on 64-bit
/// kernels: `unsigned long key[2]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SipKey(pub u64, pub u64);

/// mh's first fixed key (`generate_hash_secret`: both words 2654435761).
/// Used for each destination's `offset` and for every lookup.
pub const MH_KEY1: SipKey = SipKey(2_654_435_761, 2_654_435_761);

/// mh's second fixed key (both words 2654446892), used for `skip`.
pub const MH_KEY2: SipKey = SipKey(2_654_446_892, 2_654_446_892);

#[inline(always)]
fn sipround(v: &mut [u64; 4]) {
    v[0] = v[0].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(13);
    v[1] ^= v[0];
    v[0] = v[0].rotate_left(32);
    v[2] = v[2].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(16);
    v[3] ^= v[2];
    v[0] = v[0].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(21);
    v[3] ^= v[0];
    v[2] = v[2].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(17);
    v[1] ^= v[2];
    v[2] = v[2].rotate_left(32);
}

/// SipHash-`C`-`D` of `msg` under `key`, 64-bit output, as defined by
/// Aumasson and Bernstein ("SipHash: a fast short-input PRF", 2012): `C`
/// compression rounds per 8-byte little-endian word, a final word holding
/// the leftover bytes and `len mod 256` in its top byte, then `D`
/// finalisation rounds after `v2 ^= 0xff`.
pub fn siphash<const C: usize, const D: usize>(key: SipKey, msg: &[u8]) -> u64 {
    let mut v = [
        key.0 ^ 0x736f_6d65_7073_6575,
        key.1 ^ 0x646f_7261_6e64_6f6d,
        key.0 ^ 0x6c79_6765_6e65_7261,
        key.1 ^ 0x7465_6462_7974_6573,
    ];
    let mut chunks = msg.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        let m = u64::from_le_bytes(w);
        v[3] ^= m;
        for _ in 0..C {
            sipround(&mut v);
        }
        v[0] ^= m;
    }
    let mut last = [0u8; 8];
    let rest = chunks.remainder();
    last[..rest.len()].copy_from_slice(rest);
    // Only the low 8 bits of the length count (the top byte of the word).
    last[7] = msg.len() as u8;
    let b = u64::from_le_bytes(last);
    v[3] ^= b;
    for _ in 0..C {
        sipround(&mut v);
    }
    v[0] ^= b;
    v[2] ^= 0xff;
    for _ in 0..D {
        sipround(&mut v);
    }
    v[0] ^ v[1] ^ v[2] ^ v[3]
}

/// The kernel's 64-bit `hsiphash(&val, 4, key)`: SipHash-1-3 of the four
/// little-endian bytes of `val`, truncated to the low 32 bits.
///
/// Specialised for the single 4-byte word (no buffer): the message is the
/// final word `4 << 56 | val`.
#[inline]
pub fn hsiphash_u32(val: u32, key: SipKey) -> u32 {
    let mut v = [
        key.0 ^ 0x736f_6d65_7073_6575,
        key.1 ^ 0x646f_7261_6e64_6f6d,
        key.0 ^ 0x6c79_6765_6e65_7261,
        key.1 ^ 0x7465_6462_7974_6573,
    ];
    let b = (4u64 << 56) | u64::from(val);
    v[3] ^= b;
    sipround(&mut v);
    v[0] ^= b;
    v[2] ^= 0xff;
    sipround(&mut v);
    sipround(&mut v);
    sipround(&mut v);
    (v[0] ^ v[1] ^ v[2] ^ v[3]) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_32_takes_top_bits_of_the_product() {
        // 1 * 0x61C88647 = 0x61C88647; top 8 bits = 0x61.
        assert_eq!(hash_32(1, 8), 0x61);
        // 2 * 0x61C88647 = 0xC3910C8E; top 8 bits = 0xC3.
        assert_eq!(hash_32(2, 8), 0xC3);
        // 32 bits keeps the whole (wrapped) product.
        assert_eq!(hash_32(3, 32), 3u32.wrapping_mul(0x61C8_8647));
        assert_eq!(hash_32(0, 8), 0);
    }

    #[test]
    fn hsiphash_specialisation_matches_generic_core() {
        for (i, val) in [0u32, 1, 0x0a00_0002, 0xffff_ffff, 0x1234_5678]
            .into_iter()
            .enumerate()
        {
            let key = SipKey(i as u64 * 0x0101_0101, !(i as u64));
            let generic = siphash::<1, 3>(key, &val.to_le_bytes()) as u32;
            assert_eq!(hsiphash_u32(val, key), generic, "val {val:#x}");
        }
    }
}
