//! The Internet checksum (RFC 1071) and its incremental update (RFC 1624).
//!
//! Contract:
//! - [`ones_sum`] returns the folded 16-bit one's-complement sum of the data
//!   read as big-endian 16-bit words, an odd trailing byte padded with a zero
//!   low byte (RFC 1071 §1). [`checksum`] is its complement, the value written
//!   into a checksum field. Data whose checksum field holds a correct value
//!   sums to `0xffff`.
//! - The sum reads eight bytes at a time into a 128-bit accumulator (no
//!   carry handling inside the loop, one fold at the end), in native byte
//!   order, converting once at the end (RFC 1071 §2(B): the sum is byte-order
//!   independent up to a final swap). Cost: about one add per 8 bytes.
//! - [`Checksum`] accumulates pieces (pseudo-header, header, payload) and
//!   handles pieces of odd length: a piece starting at an odd offset
//!   contributes its byte-swapped sum (RFC 1071 §2(B)), so the result equals
//!   the sum over the concatenation.
//! - [`update16`], [`update32`], [`update_bytes`], [`update_ipv4_addr`],
//!   [`update_ipv6_addr`] apply RFC 1624 eqn. 3, `HC' = ~(~HC + ~m + m')`,
//!   which, unlike eqn. 2 of RFC 1141, never turns a correct checksum into
//!   `0xffff` wrongly. The same functions adjust a TCP/UDP/ICMPv6 checksum for
//!   an address change, since the address enters the pseudo-header sum as two
//!   (IPv4) or eight (IPv6) 16-bit words. Changed fields must start at an even
//!   offset of the checksummed data (all address and port fields do).
//!   [`Delta`] sums several changes first and applies them in one step, so
//!   a per-connection rewrite can be precomputed.
//! - UDP's zero rule (RFC 768): over IPv4 a transmitted checksum of 0 means
//!   "no checksum", so a computed 0 is sent as `0xffff` ([`udp_nonzero`]),
//!   and a checksum of 0 is left untouched by updates (the kernel's
//!   `udp_*_csum` helpers and IPVS's `udp_snat_handler` do the same).
//!
//! Nothing here allocates or panics.

use std::net::{Ipv4Addr, Ipv6Addr};

/// Adds with end-around carry.
#[inline]
fn add_carry(a: u64, b: u64) -> u64 {
    let (s, c) = a.overflowing_add(b);
    s + u64::from(c)
}

/// Folds a 64-bit one's-complement accumulator to 16 bits.
#[inline]
pub fn fold(x: u64) -> u16 {
    let x = (x & 0xffff_ffff) + (x >> 32);
    let x = (x & 0xffff) + (x >> 16);
    let x = (x & 0xffff) + (x >> 16);
    let x = (x & 0xffff) + (x >> 16);
    x as u16
}

#[inline]
fn fold128(x: u128) -> u16 {
    fold(add_carry(x as u64, (x >> 64) as u64))
}

/// One's-complement sum of `data` in native word order, folded to 16 bits.
#[inline]
fn native_sum(data: &[u8]) -> u16 {
    let (blocks, rest) = data.as_chunks::<32>();
    let mut a0: u128 = 0;
    let mut a1: u128 = 0;
    for b in blocks {
        let (w, _) = b.as_chunks::<8>();
        a0 += u128::from(u64::from_ne_bytes(w[0])) + u128::from(u64::from_ne_bytes(w[1]));
        a1 += u128::from(u64::from_ne_bytes(w[2])) + u128::from(u64::from_ne_bytes(w[3]));
    }
    let (words, rest) = rest.as_chunks::<8>();
    for w in words {
        a0 += u128::from(u64::from_ne_bytes(*w));
    }
    let (pairs, last) = rest.as_chunks::<2>();
    for p in pairs {
        a1 += u128::from(u16::from_ne_bytes(*p));
    }
    if let Some(&b) = last.first() {
        a1 += u128::from(u16::from_ne_bytes([b, 0]));
    }
    fold128(a0 + a1)
}

/// Folded one's-complement sum of `data` as big-endian 16-bit words (not
/// complemented). Odd length: the last byte is the high byte of a word.
#[inline]
pub fn ones_sum(data: &[u8]) -> u16 {
    let s = native_sum(data);
    u16::from_be_bytes(s.to_ne_bytes())
}

/// The Internet checksum of `data`: `!ones_sum(data)`.
#[inline]
pub fn checksum(data: &[u8]) -> u16 {
    !ones_sum(data)
}

/// One's-complement addition of two 16-bit sums.
#[inline]
pub fn add(a: u16, b: u16) -> u16 {
    fold(u64::from(a) + u64::from(b))
}

/// A running one's-complement sum over several pieces.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Checksum {
    acc: u64,
    odd: bool,
}

impl Checksum {
    /// An empty sum.
    #[inline]
    pub const fn new() -> Self {
        Checksum { acc: 0, odd: false }
    }

    /// Appends `data` (any length; alignment is tracked).
    #[inline]
    pub fn add_bytes(&mut self, data: &[u8]) -> &mut Self {
        let s = ones_sum(data);
        self.acc += u64::from(if self.odd { s.swap_bytes() } else { s });
        self.odd ^= data.len() % 2 == 1;
        self
    }

    /// Appends one big-endian 16-bit word.
    #[inline]
    pub fn add_u16(&mut self, v: u16) -> &mut Self {
        self.acc += u64::from(if self.odd { v.swap_bytes() } else { v });
        self
    }

    /// Appends one big-endian 32-bit word.
    #[inline]
    pub fn add_u32(&mut self, v: u32) -> &mut Self {
        self.add_u16((v >> 16) as u16).add_u16(v as u16)
    }

    /// Appends a precomputed folded sum of an even-length piece.
    #[inline]
    pub fn add_sum(&mut self, s: u16) -> &mut Self {
        self.add_u16(s)
    }

    /// The folded sum so far (not complemented).
    #[inline]
    pub fn sum(&self) -> u16 {
        fold(self.acc)
    }

    /// The checksum value: the complement of the folded sum.
    #[inline]
    pub fn finish(&self) -> u16 {
        !self.sum()
    }
}

/// The IPv4 pseudo-header sum (RFC 793 §3.1, RFC 768): source, destination,
/// zero, protocol, upper-layer length.
#[inline]
pub fn pseudo_header_v4(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, len: u16) -> Checksum {
    let s = u32::from(src);
    let d = u32::from(dst);
    let acc = u64::from(s >> 16)
        + u64::from(s & 0xffff)
        + u64::from(d >> 16)
        + u64::from(d & 0xffff)
        + u64::from(protocol)
        + u64::from(len);
    Checksum { acc, odd: false }
}

/// The IPv6 pseudo-header sum (RFC 8200 §8.1): source, destination, 32-bit
/// upper-layer length, three zero bytes, next header.
#[inline]
pub fn pseudo_header_v6(src: &Ipv6Addr, dst: &Ipv6Addr, next_header: u8, len: u32) -> Checksum {
    let acc = u64::from(ones_sum(&src.octets()))
        + u64::from(ones_sum(&dst.octets()))
        + u64::from(len >> 16)
        + u64::from(len & 0xffff)
        + u64::from(next_header);
    Checksum { acc, odd: false }
}

/// RFC 1624 eqn. 3 for a 16-bit field changing from `old` to `new`.
#[inline]
pub fn update16(check: u16, old: u16, new: u16) -> u16 {
    !fold(u64::from(!check) + u64::from(!old) + u64::from(new))
}

/// RFC 1624 eqn. 3 for a 32-bit field (two 16-bit words).
#[inline]
pub fn update32(check: u16, old: u32, new: u32) -> u16 {
    let acc = u64::from(!check)
        + u64::from(!(old >> 16) & 0xffff)
        + u64::from(!old & 0xffff)
        + u64::from(new >> 16)
        + u64::from(new & 0xffff);
    !fold(acc)
}

/// RFC 1624 eqn. 3 for a field of several words changing from `old` to
/// `new` (same length, starting at an even offset).
#[inline]
pub fn update_bytes(check: u16, old: &[u8], new: &[u8]) -> u16 {
    !fold(u64::from(!check) + u64::from(!ones_sum(old)) + u64::from(ones_sum(new)))
}

/// Adjusts `check` for an IPv4 address change (in the IPv4 header, or in a
/// TCP/UDP pseudo-header).
#[inline]
pub fn update_ipv4_addr(check: u16, old: Ipv4Addr, new: Ipv4Addr) -> u16 {
    update32(check, u32::from(old), u32::from(new))
}

/// Adjusts `check` for an IPv6 address change in a TCP/UDP/ICMPv6
/// pseudo-header.
#[inline]
pub fn update_ipv6_addr(check: u16, old: &Ipv6Addr, new: &Ipv6Addr) -> u16 {
    update_bytes(check, &old.octets(), &new.octets())
}

/// A one's-complement difference `new - old` accumulated over several field
/// changes, applied to a checksum in one step: `HC' = ~(~HC + Δ)`, RFC 1624
/// eqn. 3 with the changes summed first. A rewrite that is the same for
/// every packet of a connection (NAT address and port) can precompute its
/// delta once; the same address delta serves the IPv4 header and the
/// transport pseudo-header.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Delta(u32);

impl Delta {
    /// No change.
    #[inline]
    pub const fn new() -> Self {
        Delta(0)
    }

    #[inline]
    fn plus(self, x: u64) -> Self {
        Delta(u32::from(fold(u64::from(self.0) + x)))
    }

    /// Adds a 16-bit field change.
    #[inline]
    pub fn change16(self, old: u16, new: u16) -> Self {
        self.plus(u64::from(!old) + u64::from(new))
    }

    /// Adds a 32-bit field change.
    #[inline]
    pub fn change32(self, old: u32, new: u32) -> Self {
        self.change16((old >> 16) as u16, (new >> 16) as u16)
            .change16(old as u16, new as u16)
    }

    /// Adds a change of an even-aligned run of bytes (same lengths).
    #[inline]
    pub fn change_bytes(self, old: &[u8], new: &[u8]) -> Self {
        self.plus(u64::from(!ones_sum(old)) + u64::from(ones_sum(new)))
    }

    /// Adds an IPv4 address change.
    #[inline]
    pub fn change_ipv4(self, old: Ipv4Addr, new: Ipv4Addr) -> Self {
        self.change32(u32::from(old), u32::from(new))
    }

    /// Adds an IPv6 address change.
    #[inline]
    pub fn change_ipv6(self, old: &Ipv6Addr, new: &Ipv6Addr) -> Self {
        self.change_bytes(&old.octets(), &new.octets())
    }

    /// Combines two deltas.
    #[inline]
    pub fn and(self, other: Delta) -> Self {
        self.plus(u64::from(other.0))
    }

    /// Applies the delta to a checksum field value.
    #[inline]
    pub fn apply(self, check: u16) -> u16 {
        !fold(u64::from(!check) + u64::from(self.0))
    }

    /// Applies the delta to a UDP checksum: 0 ("none") stays 0 and a result
    /// of 0 becomes `0xffff`.
    #[inline]
    pub fn apply_udp(self, check: u16) -> u16 {
        if check == 0 {
            0
        } else {
            udp_nonzero(self.apply(check))
        }
    }
}

/// UDP transmits a computed checksum of 0 as `0xffff` (RFC 768), since 0
/// means "no checksum".
#[inline]
pub fn udp_nonzero(check: u16) -> u16 {
    if check == 0 { 0xffff } else { check }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Straightforward RFC 1071 reference: big-endian words, carry folded at
    /// the end.
    fn reference(data: &[u8]) -> u16 {
        let mut acc: u64 = 0;
        let mut i = 0;
        while i + 1 < data.len() {
            acc += u64::from(u16::from_be_bytes([data[i], data[i + 1]]));
            i += 2;
        }
        if i < data.len() {
            acc += u64::from(data[i]) << 8;
        }
        while acc > 0xffff {
            acc = (acc & 0xffff) + (acc >> 16);
        }
        acc as u16
    }

    #[test]
    fn rfc1071_example() {
        // RFC 1071 §3: bytes 00 01 f2 03 f4 f5 f6 f7 sum to 0xddf2.
        let d = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(ones_sum(&d), 0xddf2);
        assert_eq!(checksum(&d), !0xddf2);
    }

    #[test]
    fn sums_of_every_length_match_reference() {
        let data: Vec<u8> = (0..200u32).map(|i| (i * 37 + 11) as u8).collect();
        for n in 0..data.len() {
            assert_eq!(ones_sum(&data[..n]), reference(&data[..n]), "len {n}");
        }
        let ff = [0xffu8; 97];
        for n in 0..ff.len() {
            assert_eq!(ones_sum(&ff[..n]), reference(&ff[..n]), "ff len {n}");
        }
    }

    #[test]
    fn pieces_of_odd_length_combine() {
        let data: Vec<u8> = (0..101u32).map(|i| (i * 91 + 5) as u8).collect();
        for cut1 in 0..data.len() {
            let cut2 = (cut1 * 7 + 3) % (data.len() - cut1 + 1) + cut1;
            let mut c = Checksum::new();
            c.add_bytes(&data[..cut1])
                .add_bytes(&data[cut1..cut2])
                .add_bytes(&data[cut2..]);
            assert_eq!(c.sum(), reference(&data), "cuts {cut1} {cut2}");
        }
    }

    #[test]
    fn update16_examples_from_rfc1624() {
        // RFC 1624 §4: HC = 0xdd2f, m = 0x5555 -> m' = 0x3285 gives 0x0000.
        assert_eq!(update16(0xdd2f, 0x5555, 0x3285), 0x0000);
    }
}
