//! IPv4 packets (RFC 791): checked view, in-place mutators with incremental
//! header-checksum updates, and a header builder.
//!
//! Contract:
//! - [`Ipv4Packet::new_checked`] requires version 4, IHL ≥ 5, the whole
//!   header (options included) in the buffer, and `IHL*4 ≤ total length ≤
//!   buffer length`. Bytes past the total length (Ethernet padding) are not
//!   part of the packet: [`Ipv4Packet::payload`] stops at the total length.
//! - [`Ipv4Packet::new_truncated`] is for the packet quoted inside an ICMP
//!   error: the header must be complete, but the total length may exceed the
//!   buffer; the payload is whatever was quoted.
//! - Mutators (`set_ttl`, `decrement_ttl`, `set_src`, `set_dst`, `set_tos`,
//!   `set_ident`, `set_dont_fragment`) keep the header checksum correct with
//!   RFC 1624 updates, like the kernel's `ip_decrease_ttl` and
//!   `csum_replace4`. They do not touch transport checksums: see
//!   [`crate::nat`] for rewrites that include the pseudo-header.
//! - The header checksum is not verified by the constructor (the kernel
//!   verifies in `ip_rcv`; the caller decides): use
//!   [`Ipv4Packet::verify_checksum`].

use std::net::Ipv4Addr;

use crate::checksum::{self, update_ipv4_addr, update16};
use crate::error::{Error, Layer, Result, need, room};
use crate::field::{get_v4, get16, set16};

/// Header length without options.
pub const MIN_HEADER_LEN: usize = 20;
/// Header length with the most options.
pub const MAX_HEADER_LEN: usize = 60;

const FLAG_RESERVED: u16 = 0x8000;
const FLAG_DF: u16 = 0x4000;
const FLAG_MF: u16 = 0x2000;
const FRAG_OFFSET_MASK: u16 = 0x1fff;

/// A checked view of an IPv4 packet.
#[derive(Debug, Clone)]
pub struct Ipv4Packet<T> {
    buf: T,
    /// End of the packet in `buf` (total length, or the buffer end when
    /// truncated).
    end: usize,
}

fn check_header(b: &[u8]) -> Result<(usize, usize)> {
    need(Layer::Ipv4, b, MIN_HEADER_LEN)?;
    let version = b[0] >> 4;
    if version != 4 {
        return Err(Error::BadVersion {
            layer: Layer::Ipv4,
            version,
        });
    }
    let hl = usize::from(b[0] & 0x0f) * 4;
    if hl < MIN_HEADER_LEN {
        return Err(Error::BadHeaderLen {
            layer: Layer::Ipv4,
            len: hl,
        });
    }
    need(Layer::Ipv4, b, hl)?;
    let total = usize::from(get16(b, 2));
    if total < hl {
        return Err(Error::BadLength {
            layer: Layer::Ipv4,
            len: total,
            have: b.len(),
        });
    }
    Ok((hl, total))
}

impl<T: AsRef<[u8]>> Ipv4Packet<T> {
    /// Validates a complete packet.
    pub fn new_checked(buf: T) -> Result<Self> {
        let b = buf.as_ref();
        let (_, total) = check_header(b)?;
        if total > b.len() {
            return Err(Error::BadLength {
                layer: Layer::Ipv4,
                len: total,
                have: b.len(),
            });
        }
        Ok(Ipv4Packet { buf, end: total })
    }

    /// Validates a possibly truncated packet (an ICMP error's quote).
    pub fn new_truncated(buf: T) -> Result<Self> {
        let b = buf.as_ref();
        let (_, total) = check_header(b)?;
        let end = total.min(b.len());
        Ok(Ipv4Packet { buf, end })
    }

    #[inline]
    fn b(&self) -> &[u8] {
        self.buf.as_ref()
    }

    /// Header length in bytes (IHL × 4).
    #[inline]
    pub fn header_len(&self) -> usize {
        usize::from(self.b()[0] & 0x0f) * 4
    }

    /// Type of service / DS field byte (DSCP and ECN).
    #[inline]
    pub fn tos(&self) -> u8 {
        self.b()[1]
    }

    /// DSCP (6 bits).
    #[inline]
    pub fn dscp(&self) -> u8 {
        self.tos() >> 2
    }

    /// ECN (2 bits).
    #[inline]
    pub fn ecn(&self) -> u8 {
        self.tos() & 3
    }

    /// Total length field.
    #[inline]
    pub fn total_len(&self) -> u16 {
        get16(self.b(), 2)
    }

    /// Identification.
    #[inline]
    pub fn ident(&self) -> u16 {
        get16(self.b(), 4)
    }

    #[inline]
    fn frag_word(&self) -> u16 {
        get16(self.b(), 6)
    }

    /// Reserved flag (must be zero).
    #[inline]
    pub fn reserved_flag(&self) -> bool {
        self.frag_word() & FLAG_RESERVED != 0
    }

    /// Don't Fragment.
    #[inline]
    pub fn dont_fragment(&self) -> bool {
        self.frag_word() & FLAG_DF != 0
    }

    /// More Fragments.
    #[inline]
    pub fn more_fragments(&self) -> bool {
        self.frag_word() & FLAG_MF != 0
    }

    /// Fragment offset in 8-byte units.
    #[inline]
    pub fn frag_offset(&self) -> u16 {
        self.frag_word() & FRAG_OFFSET_MASK
    }

    /// Fragment offset in bytes.
    #[inline]
    pub fn frag_offset_bytes(&self) -> usize {
        usize::from(self.frag_offset()) * 8
    }

    /// Part of a fragmented datagram (MF set or offset non-zero).
    #[inline]
    pub fn is_fragment(&self) -> bool {
        self.frag_word() & (FLAG_MF | FRAG_OFFSET_MASK) != 0
    }

    /// Carries the transport header: not a fragment, or the first one.
    #[inline]
    pub fn has_transport_header(&self) -> bool {
        self.frag_offset() == 0
    }

    /// Time to live.
    #[inline]
    pub fn ttl(&self) -> u8 {
        self.b()[8]
    }

    /// Protocol of the payload.
    #[inline]
    pub fn protocol(&self) -> u8 {
        self.b()[9]
    }

    /// Header checksum field.
    #[inline]
    pub fn checksum(&self) -> u16 {
        get16(self.b(), 10)
    }

    /// Source address.
    #[inline]
    pub fn src(&self) -> Ipv4Addr {
        get_v4(self.b(), 12)
    }

    /// Destination address.
    #[inline]
    pub fn dst(&self) -> Ipv4Addr {
        get_v4(self.b(), 16)
    }

    /// The header, options included.
    #[inline]
    pub fn header(&self) -> &[u8] {
        &self.b()[..self.header_len()]
    }

    /// The options bytes (empty when IHL is 5).
    #[inline]
    pub fn options(&self) -> &[u8] {
        &self.b()[MIN_HEADER_LEN..self.header_len()]
    }

    /// The payload, up to the total length (or the buffer end if truncated).
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.b()[self.header_len()..self.end]
    }

    /// The packet bytes, header and payload, without trailing padding.
    #[inline]
    pub fn packet(&self) -> &[u8] {
        &self.b()[..self.end]
    }

    /// Whether the buffer holds less than the total length (only possible
    /// through [`Ipv4Packet::new_truncated`]).
    #[inline]
    pub fn is_truncated(&self) -> bool {
        self.end < usize::from(self.total_len())
    }

    /// Whether the header checksum is correct.
    #[inline]
    pub fn verify_checksum(&self) -> bool {
        checksum::ones_sum(self.header()) == 0xffff
    }

    /// Gives the buffer back.
    #[inline]
    pub fn into_inner(self) -> T {
        self.buf
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv4Packet<T> {
    #[inline]
    fn bm(&mut self) -> &mut [u8] {
        self.buf.as_mut()
    }

    #[inline]
    fn set_check(&mut self, c: u16) {
        set16(self.bm(), 10, c);
    }

    /// Replaces the 16-bit header word at `at` (even), updating the checksum.
    #[inline]
    fn replace_word(&mut self, at: usize, new: u16) {
        let old = get16(self.b(), at);
        let c = update16(self.checksum(), old, new);
        let b = self.bm();
        set16(b, at, new);
        set16(b, 10, c);
    }

    /// Recomputes the header checksum from scratch.
    pub fn fill_checksum(&mut self) {
        self.set_check(0);
        let c = checksum::checksum(self.header());
        self.set_check(c);
    }

    /// Sets the TTL, updating the checksum.
    #[inline]
    pub fn set_ttl(&mut self, ttl: u8) {
        let w = (u16::from(ttl) << 8) | u16::from(self.protocol());
        self.replace_word(8, w);
    }

    /// Decrements the TTL (not below zero), updating the checksum; returns
    /// the new TTL.
    #[inline]
    pub fn decrement_ttl(&mut self) -> u8 {
        let t = self.ttl().saturating_sub(1);
        self.set_ttl(t);
        t
    }

    /// Sets the TOS byte, updating the checksum.
    #[inline]
    pub fn set_tos(&mut self, tos: u8) {
        let w = (u16::from(self.b()[0]) << 8) | u16::from(tos);
        self.replace_word(0, w);
    }

    /// Sets the identification, updating the checksum.
    #[inline]
    pub fn set_ident(&mut self, id: u16) {
        self.replace_word(4, id);
    }

    /// Sets or clears DF, updating the checksum.
    #[inline]
    pub fn set_dont_fragment(&mut self, df: bool) {
        let w = self.frag_word();
        let w = if df { w | FLAG_DF } else { w & !FLAG_DF };
        self.replace_word(6, w);
    }

    /// Sets the source address, updating the header checksum only.
    #[inline]
    pub fn set_src(&mut self, a: Ipv4Addr) {
        let c = update_ipv4_addr(self.checksum(), self.src(), a);
        let b = self.bm();
        b[12..16].copy_from_slice(&a.octets());
        set16(b, 10, c);
    }

    /// Sets the destination address, updating the header checksum only.
    #[inline]
    pub fn set_dst(&mut self, a: Ipv4Addr) {
        let c = update_ipv4_addr(self.checksum(), self.dst(), a);
        let b = self.bm();
        b[16..20].copy_from_slice(&a.octets());
        set16(b, 10, c);
    }

    /// The payload, mutable.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let (h, e) = (self.header_len(), self.end);
        &mut self.bm()[h..e]
    }

    /// The options, mutable (the caller refreshes the checksum).
    #[inline]
    pub fn options_mut(&mut self) -> &mut [u8] {
        let h = self.header_len();
        &mut self.bm()[MIN_HEADER_LEN..h]
    }
}

/// Fields for building an IPv4 header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Header {
    /// Source address.
    pub src: Ipv4Addr,
    /// Destination address.
    pub dst: Ipv4Addr,
    /// Payload protocol.
    pub protocol: u8,
    /// Time to live.
    pub ttl: u8,
    /// TOS / DS byte.
    pub tos: u8,
    /// Identification.
    pub ident: u16,
    /// Don't Fragment.
    pub dont_fragment: bool,
    /// More Fragments.
    pub more_fragments: bool,
    /// Fragment offset in 8-byte units.
    pub frag_offset: u16,
}

impl Ipv4Header {
    /// A header with TTL 64, TOS 0, id 0, no fragmentation flags.
    pub fn new(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8) -> Self {
        Ipv4Header {
            src,
            dst,
            protocol,
            ttl: 64,
            tos: 0,
            ident: 0,
            dont_fragment: false,
            more_fragments: false,
            frag_offset: 0,
        }
    }

    /// Writes a 20-byte header for a payload of `payload_len` bytes at the
    /// start of `out`, with its checksum; returns 20.
    pub fn write(&self, out: &mut [u8], payload_len: usize) -> Result<usize> {
        self.write_with_options(out, &[], payload_len)
    }

    /// Writes the header with `options` (length a multiple of 4, at most 40
    /// bytes) for a payload of `payload_len` bytes; returns the header length.
    pub fn write_with_options(
        &self,
        out: &mut [u8],
        options: &[u8],
        payload_len: usize,
    ) -> Result<usize> {
        if !options.len().is_multiple_of(4) || options.len() > MAX_HEADER_LEN - MIN_HEADER_LEN {
            return Err(Error::BadHeaderLen {
                layer: Layer::Ipv4,
                len: MIN_HEADER_LEN + options.len(),
            });
        }
        let hl = MIN_HEADER_LEN + options.len();
        let total = hl + payload_len;
        let total16 = u16::try_from(total).map_err(|_| Error::TooLong {
            layer: Layer::Ipv4,
            len: total,
        })?;
        room(out, hl)?;
        let h = &mut out[..hl];
        h[0] = 0x40 | (hl / 4) as u8;
        h[1] = self.tos;
        set16(h, 2, total16);
        set16(h, 4, self.ident);
        let mut frag = self.frag_offset & FRAG_OFFSET_MASK;
        if self.dont_fragment {
            frag |= FLAG_DF;
        }
        if self.more_fragments {
            frag |= FLAG_MF;
        }
        set16(h, 6, frag);
        h[8] = self.ttl;
        h[9] = self.protocol;
        set16(h, 10, 0);
        h[12..16].copy_from_slice(&self.src.octets());
        h[16..20].copy_from_slice(&self.dst.octets());
        h[20..].copy_from_slice(options);
        let c = checksum::checksum(h);
        set16(h, 10, c);
        Ok(hl)
    }
}
