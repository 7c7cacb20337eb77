//! CRC32c (Castagnoli, reflected polynomial `0x82f63b78`), the SCTP checksum
//! (RFC 9260 §6.8 and appendix A; RFC 3309).
//!
//! Contract: [`crc32c`] returns the finished CRC (initial value all ones,
//! final complement), e.g. `0xe3069283` for `"123456789"`. SCTP stores it in
//! the checksum field least-significant byte first, which
//! [`crate::sctp::SctpPacket`] does. Slicing-by-8 with tables built at compile
//! time: one table lookup per byte, eight lookups per loop turn; no
//! allocation.

const POLY: u32 = 0x82f6_3b78;

const fn build_tables() -> [[u32; 256]; 8] {
    let mut t = [[0u32; 256]; 8];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { (c >> 1) ^ POLY } else { c >> 1 };
            k += 1;
        }
        t[0][i] = c;
        i += 1;
    }
    let mut s = 1;
    while s < 8 {
        let mut i = 0;
        while i < 256 {
            let prev = t[s - 1][i];
            t[s][i] = (prev >> 8) ^ t[0][(prev & 0xff) as usize];
            i += 1;
        }
        s += 1;
    }
    t
}

static TABLES: [[u32; 256]; 8] = build_tables();

/// Continues a CRC32c computation: `state` is the running (not yet
/// complemented) register; start with `!0`.
#[inline]
pub fn crc32c_update(mut state: u32, data: &[u8]) -> u32 {
    let t = &TABLES;
    let (blocks, rest) = data.as_chunks::<8>();
    for b in blocks {
        let lo = state ^ u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        state = t[7][(lo & 0xff) as usize]
            ^ t[6][((lo >> 8) & 0xff) as usize]
            ^ t[5][((lo >> 16) & 0xff) as usize]
            ^ t[4][(lo >> 24) as usize]
            ^ t[3][b[4] as usize]
            ^ t[2][b[5] as usize]
            ^ t[1][b[6] as usize]
            ^ t[0][b[7] as usize];
    }
    for &b in rest {
        state = (state >> 8) ^ t[0][((state ^ u32::from(b)) & 0xff) as usize];
    }
    state
}

/// CRC32c of `data`.
#[inline]
pub fn crc32c(data: &[u8]) -> u32 {
    !crc32c_update(!0, data)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bit-at-a-time reference, straight from the definition.
    fn bitwise(data: &[u8]) -> u32 {
        let mut c = !0u32;
        for &b in data {
            c ^= u32::from(b);
            for _ in 0..8 {
                c = if c & 1 != 0 { (c >> 1) ^ POLY } else { c >> 1 };
            }
        }
        !c
    }

    #[test]
    fn check_value() {
        // The catalogue "check" value of CRC-32C.
        assert_eq!(crc32c(b"123456789"), 0xe306_9283);
    }

    #[test]
    fn rfc3720_vectors() {
        // RFC 3720 appendix B.4: 32 bytes of zeros -> bytes aa 36 91 8a
        // (stored least significant byte first), 32 bytes of 0xff -> 43 ab a8 62.
        assert_eq!(crc32c(&[0u8; 32]).to_le_bytes(), [0xaa, 0x36, 0x91, 0x8a]);
        assert_eq!(
            crc32c(&[0xffu8; 32]).to_le_bytes(),
            [0x43, 0xab, 0xa8, 0x62]
        );
        let inc: Vec<u8> = (0..32).collect();
        assert_eq!(crc32c(&inc).to_le_bytes(), [0x4e, 0x79, 0xdd, 0x46]);
    }

    #[test]
    fn sliced_matches_bitwise_at_every_length() {
        let data: Vec<u8> = (0..70u32).map(|i| (i * 131 + 7) as u8).collect();
        for n in 0..data.len() {
            assert_eq!(crc32c(&data[..n]), bitwise(&data[..n]), "len {n}");
        }
        let (a, b) = data.split_at(13);
        assert_eq!(!crc32c_update(crc32c_update(!0, a), b), crc32c(&data));
    }
}
