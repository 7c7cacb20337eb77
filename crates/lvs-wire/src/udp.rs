//! UDP datagrams (RFC 768): checked view, checksum with the zero rule, port
//! and pseudo-header rewrites, header builder.
//!
//! Contract:
//! - [`UdpDatagram::new_checked`] takes the transport bytes and requires the
//!   8-byte header and `8 ≤ length field ≤ buffer length`; the datagram is
//!   the first `length` bytes (the rest is ignored, as the kernel trims).
//! - Over IPv4 a checksum of 0 means "not computed": verification accepts
//!   it and the update methods leave it at 0 (kernel `udp_snat_handler`).
//!   Any computed or updated checksum that comes out 0 is written `0xffff`.
//! - Over IPv6 a zero checksum is invalid for ordinary UDP (RFC 8200 §8.1)
//!   but used by tunnels (RFC 6935, the kernel's GUE "nocsum"):
//!   [`UdpDatagram::verify_checksum_v6`] rejects it and
//!   [`UdpDatagram::has_checksum`] lets the caller decide.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::checksum::{
    self, Checksum, pseudo_header_v4, pseudo_header_v6, udp_nonzero, update_ipv4_addr,
    update_ipv6_addr, update16,
};
use crate::error::{Error, Layer, Result, need, room};
use crate::field::{get16, set16};
use crate::ip::proto;

/// Header length.
pub const HEADER_LEN: usize = 8;
/// Checksum field offset (used as the remote-checksum offset).
pub const CHECKSUM_OFFSET: usize = 6;

/// A checked view of a UDP datagram.
#[derive(Debug, Clone)]
pub struct UdpDatagram<T> {
    buf: T,
    len: usize,
}

impl<T: AsRef<[u8]>> UdpDatagram<T> {
    /// Validates the header and the length field.
    pub fn new_checked(buf: T) -> Result<Self> {
        let b = buf.as_ref();
        need(Layer::Udp, b, HEADER_LEN)?;
        let len = usize::from(get16(b, 4));
        if len < HEADER_LEN || len > b.len() {
            return Err(Error::BadLength {
                layer: Layer::Udp,
                len,
                have: b.len(),
            });
        }
        Ok(UdpDatagram { buf, len })
    }

    #[inline]
    fn b(&self) -> &[u8] {
        &self.buf.as_ref()[..self.len]
    }

    /// Source port.
    #[inline]
    pub fn src_port(&self) -> u16 {
        get16(self.b(), 0)
    }

    /// Destination port.
    #[inline]
    pub fn dst_port(&self) -> u16 {
        get16(self.b(), 2)
    }

    /// Length field.
    #[inline]
    pub fn len_field(&self) -> u16 {
        get16(self.b(), 4)
    }

    /// Checksum field.
    #[inline]
    pub fn checksum(&self) -> u16 {
        get16(self.b(), CHECKSUM_OFFSET)
    }

    /// Whether a checksum is present (non-zero).
    #[inline]
    pub fn has_checksum(&self) -> bool {
        self.checksum() != 0
    }

    /// Data after the header.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.b()[HEADER_LEN..]
    }

    /// The datagram (length-field bytes).
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        self.b()
    }

    /// Checksum this datagram should carry over IPv4 (never 0).
    pub fn compute_checksum_v4(&self, src: Ipv4Addr, dst: Ipv4Addr) -> u16 {
        compute(
            pseudo_header_v4(src, dst, proto::UDP, self.len as u16),
            self.b(),
        )
    }

    /// Checksum this datagram should carry over IPv6 (never 0).
    pub fn compute_checksum_v6(&self, src: &Ipv6Addr, dst: &Ipv6Addr) -> u16 {
        compute(
            pseudo_header_v6(src, dst, proto::UDP, self.len as u32),
            self.b(),
        )
    }

    /// Correct over IPv4, or absent (0).
    pub fn verify_checksum_v4(&self, src: Ipv4Addr, dst: Ipv4Addr) -> bool {
        if !self.has_checksum() {
            return true;
        }
        let mut c = pseudo_header_v4(src, dst, proto::UDP, self.len as u16);
        c.add_bytes(self.b()).sum() == 0xffff
    }

    /// Correct over IPv6 (a zero checksum is not accepted).
    pub fn verify_checksum_v6(&self, src: &Ipv6Addr, dst: &Ipv6Addr) -> bool {
        if !self.has_checksum() {
            return false;
        }
        let mut c = pseudo_header_v6(src, dst, proto::UDP, self.len as u32);
        c.add_bytes(self.b()).sum() == 0xffff
    }
}

fn compute(mut pseudo: Checksum, dgram: &[u8]) -> u16 {
    let field = get16(dgram, CHECKSUM_OFFSET);
    pseudo.add_bytes(dgram);
    udp_nonzero(!checksum::add(pseudo.sum(), !field))
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> UdpDatagram<T> {
    #[inline]
    fn bm(&mut self) -> &mut [u8] {
        let l = self.len;
        &mut self.buf.as_mut()[..l]
    }

    /// Sets the checksum field as is.
    #[inline]
    pub fn set_checksum(&mut self, c: u16) {
        set16(self.bm(), CHECKSUM_OFFSET, c);
    }

    /// Applies `f` to a present checksum, writing `0xffff` for 0; leaves an
    /// absent (0) checksum alone.
    #[inline]
    fn adjust(&mut self, f: impl FnOnce(u16) -> u16) {
        let c = self.checksum();
        if c != 0 {
            self.set_checksum(udp_nonzero(f(c)));
        }
    }

    /// Sets the source port, updating a present checksum.
    #[inline]
    pub fn set_src_port(&mut self, p: u16) {
        let old = self.src_port();
        self.adjust(|c| update16(c, old, p));
        set16(self.bm(), 0, p);
    }

    /// Sets the destination port, updating a present checksum.
    #[inline]
    pub fn set_dst_port(&mut self, p: u16) {
        let old = self.dst_port();
        self.adjust(|c| update16(c, old, p));
        set16(self.bm(), 2, p);
    }

    /// Folds an IPv4 pseudo-header address change into a present checksum.
    #[inline]
    pub fn update_pseudo_v4(&mut self, old: Ipv4Addr, new: Ipv4Addr) {
        self.adjust(|c| update_ipv4_addr(c, old, new));
    }

    /// Folds an IPv6 pseudo-header address change into the checksum (a zero
    /// checksum is left alone, as for IPv4).
    #[inline]
    pub fn update_pseudo_v6(&mut self, old: &Ipv6Addr, new: &Ipv6Addr) {
        self.adjust(|c| update_ipv6_addr(c, old, new));
    }

    /// Recomputes the checksum over IPv4.
    pub fn fill_checksum_v4(&mut self, src: Ipv4Addr, dst: Ipv4Addr) {
        let c = self.compute_checksum_v4(src, dst);
        self.set_checksum(c);
    }

    /// Recomputes the checksum over IPv6.
    pub fn fill_checksum_v6(&mut self, src: &Ipv6Addr, dst: &Ipv6Addr) {
        let c = self.compute_checksum_v6(src, dst);
        self.set_checksum(c);
    }

    /// Data after the header, mutable (the caller refreshes the checksum).
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.bm()[HEADER_LEN..]
    }
}

/// Writes an 8-byte UDP header for `payload_len` bytes with checksum 0;
/// returns 8.
pub fn write_header(
    out: &mut [u8],
    src_port: u16,
    dst_port: u16,
    payload_len: usize,
) -> Result<usize> {
    let len = HEADER_LEN + payload_len;
    let len16 = u16::try_from(len).map_err(|_| Error::TooLong {
        layer: Layer::Udp,
        len,
    })?;
    room(out, HEADER_LEN)?;
    set16(out, 0, src_port);
    set16(out, 2, dst_port);
    set16(out, 4, len16);
    set16(out, 6, 0);
    Ok(HEADER_LEN)
}
