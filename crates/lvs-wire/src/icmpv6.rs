//! ICMPv6 (RFC 4443): checked view, checksum with the IPv6 pseudo-header,
//! quoted-packet access for errors, builders.
//!
//! Contract:
//! - [`Icmpv6Packet::new_checked`] takes the ICMPv6 bytes (the upper-layer
//!   payload) and requires the 8-byte header (type, code, checksum and the
//!   32-bit field that every error and echo message has).
//! - The checksum covers the IPv6 pseudo-header (source, destination,
//!   upper-layer length, next header 58) and the message (RFC 4443 §2.3).
//! - Error messages are types below 128 (RFC 4443 §2.1); for those
//!   [`Icmpv6Packet::embedded`] parses the quoted packet leniently.
//! - [`write_error`] / [`build_error`] quote as much of the offending packet
//!   as fits in the IPv6 minimum MTU, 1280 bytes (RFC 4443 §2.4(c); kernel
//!   `icmp6_send`).

use std::net::Ipv6Addr;

use crate::checksum::{pseudo_header_v6, update_ipv6_addr, update32};
use crate::error::{Error, Layer, Result, need, room};
use crate::field::{get16, get32, set16, set32};
use crate::ip::proto;
use crate::ipv6::{self, Ipv6Header, Ipv6Packet};

/// Header length.
pub const HEADER_LEN: usize = 8;
/// Largest IPv6 packet carrying an ICMPv6 error.
pub const ERROR_MAX_PACKET: usize = 1280;

/// Message types.
pub mod kind {
    /// Destination unreachable.
    pub const DEST_UNREACH: u8 = 1;
    /// Packet too big (carries the MTU).
    pub const PACKET_TOO_BIG: u8 = 2;
    /// Time exceeded.
    pub const TIME_EXCEEDED: u8 = 3;
    /// Parameter problem.
    pub const PARAM_PROBLEM: u8 = 4;
    /// Echo request.
    pub const ECHO_REQUEST: u8 = 128;
    /// Echo reply.
    pub const ECHO_REPLY: u8 = 129;
    /// Neighbor solicitation.
    pub const NEIGHBOR_SOLICIT: u8 = 135;
    /// Neighbor advertisement.
    pub const NEIGHBOR_ADVERT: u8 = 136;
}

/// Destination-unreachable codes.
pub mod code {
    /// No route.
    pub const NO_ROUTE: u8 = 0;
    /// Administratively prohibited.
    pub const ADMIN_PROHIBITED: u8 = 1;
    /// Address unreachable.
    pub const ADDR_UNREACH: u8 = 3;
    /// Port unreachable.
    pub const PORT_UNREACH: u8 = 4;
}

/// A checked view of an ICMPv6 message.
#[derive(Debug, Clone)]
pub struct Icmpv6Packet<T> {
    buf: T,
}

impl<T: AsRef<[u8]>> Icmpv6Packet<T> {
    /// Validates the header length.
    pub fn new_checked(buf: T) -> Result<Self> {
        need(Layer::Icmpv6, buf.as_ref(), HEADER_LEN)?;
        Ok(Icmpv6Packet { buf })
    }

    #[inline]
    fn b(&self) -> &[u8] {
        self.buf.as_ref()
    }

    /// Type.
    #[inline]
    pub fn kind(&self) -> u8 {
        self.b()[0]
    }

    /// Code.
    #[inline]
    pub fn code(&self) -> u8 {
        self.b()[1]
    }

    /// Checksum field.
    #[inline]
    pub fn checksum(&self) -> u16 {
        get16(self.b(), 2)
    }

    /// The 32-bit field after the checksum (MTU, pointer, or id/seq).
    #[inline]
    pub fn rest_of_header(&self) -> u32 {
        get32(self.b(), 4)
    }

    /// MTU of a packet-too-big message.
    #[inline]
    pub fn mtu(&self) -> u32 {
        self.rest_of_header()
    }

    /// Echo identifier.
    #[inline]
    pub fn echo_ident(&self) -> u16 {
        get16(self.b(), 4)
    }

    /// Echo sequence number.
    #[inline]
    pub fn echo_seq(&self) -> u16 {
        get16(self.b(), 6)
    }

    /// Error message (type < 128).
    #[inline]
    pub fn is_error(&self) -> bool {
        self.kind() < 128
    }

    /// Bytes after the 8-byte header.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.b()[HEADER_LEN..]
    }

    /// The quoted IPv6 packet of an error message.
    pub fn embedded(&self) -> Result<Ipv6Packet<&[u8]>> {
        if !self.is_error() {
            return Err(Error::Unsupported {
                layer: Layer::Icmpv6,
                what: "quoted packet in a non-error message",
            });
        }
        Ipv6Packet::new_truncated(self.payload())
    }

    fn len32(&self) -> u32 {
        u32::try_from(self.b().len()).unwrap_or(u32::MAX)
    }

    /// The checksum this message should carry between `src` and `dst`.
    pub fn compute_checksum(&self, src: &Ipv6Addr, dst: &Ipv6Addr) -> u16 {
        let mut c = pseudo_header_v6(src, dst, proto::ICMPV6, self.len32());
        let b = self.b();
        c.add_bytes(&b[..2]).add_bytes(&b[4..]);
        c.finish()
    }

    /// Whether the checksum is correct.
    pub fn verify_checksum(&self, src: &Ipv6Addr, dst: &Ipv6Addr) -> bool {
        let mut c = pseudo_header_v6(src, dst, proto::ICMPV6, self.len32());
        c.add_bytes(self.b()).sum() == 0xffff
    }

    /// The message bytes.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        self.b()
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Icmpv6Packet<T> {
    /// Recomputes the checksum.
    pub fn fill_checksum(&mut self, src: &Ipv6Addr, dst: &Ipv6Addr) {
        let c = self.compute_checksum(src, dst);
        set16(self.buf.as_mut(), 2, c);
    }

    /// Folds an address change of the pseudo-header into the checksum.
    pub fn update_pseudo(&mut self, old: &Ipv6Addr, new: &Ipv6Addr) {
        let c = update_ipv6_addr(self.checksum(), old, new);
        set16(self.buf.as_mut(), 2, c);
    }

    /// Sets the MTU of a packet-too-big message, updating the checksum.
    pub fn set_mtu(&mut self, mtu: u32) {
        let c = update32(self.checksum(), self.mtu(), mtu);
        let b = self.buf.as_mut();
        set32(b, 4, mtu);
        set16(b, 2, c);
    }

    /// Bytes after the header, mutable (the caller refreshes the checksum).
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buf.as_mut()[HEADER_LEN..]
    }
}

/// Writes an ICMPv6 message (type, code, 32-bit field, `data` truncated to a
/// message of at most `max_len` bytes) with its checksum for `src`→`dst`;
/// returns the length.
#[allow(clippy::too_many_arguments)]
pub fn write_message(
    out: &mut [u8],
    src: &Ipv6Addr,
    dst: &Ipv6Addr,
    kind: u8,
    code: u8,
    rest: u32,
    data: &[u8],
    max_len: usize,
) -> Result<usize> {
    if max_len < HEADER_LEN {
        return Err(Error::NoRoom {
            need: HEADER_LEN,
            have: max_len,
        });
    }
    let n = data.len().min(max_len - HEADER_LEN);
    let len = HEADER_LEN + n;
    room(out, len)?;
    let m = &mut out[..len];
    m[0] = kind;
    m[1] = code;
    set16(m, 2, 0);
    set32(m, 4, rest);
    m[HEADER_LEN..].copy_from_slice(&data[..n]);
    let mut v = Icmpv6Packet { buf: m };
    v.fill_checksum(src, dst);
    Ok(len)
}

/// Writes an ICMPv6 error quoting `original`, sized for a 40-byte IPv6
/// header and [`ERROR_MAX_PACKET`]; returns the ICMPv6 length.
pub fn write_error(
    out: &mut [u8],
    src: &Ipv6Addr,
    dst: &Ipv6Addr,
    kind: u8,
    code: u8,
    rest: u32,
    original: &[u8],
) -> Result<usize> {
    write_message(
        out,
        src,
        dst,
        kind,
        code,
        rest,
        original,
        ERROR_MAX_PACKET - ipv6::HEADER_LEN,
    )
}

/// Builds a whole IPv6 packet carrying an ICMPv6 error about `original`
/// (`ip.next_header` is forced to 58); returns its length.
pub fn build_error(
    out: &mut [u8],
    ip: &Ipv6Header,
    kind: u8,
    code: u8,
    rest: u32,
    original: &[u8],
) -> Result<usize> {
    room(out, ipv6::HEADER_LEN + HEADER_LEN)?;
    let (head, body) = out.split_at_mut(ipv6::HEADER_LEN);
    let n = write_error(body, &ip.src, &ip.dst, kind, code, rest, original)?;
    let mut h = *ip;
    h.next_header = proto::ICMPV6;
    h.write(head, n)?;
    Ok(ipv6::HEADER_LEN + n)
}

/// Builds a packet-too-big error advertising `mtu`.
pub fn build_packet_too_big(
    out: &mut [u8],
    src: Ipv6Addr,
    dst: Ipv6Addr,
    mtu: u32,
    original: &[u8],
) -> Result<usize> {
    let ip = Ipv6Header::new(src, dst, proto::ICMPV6);
    build_error(out, &ip, kind::PACKET_TOO_BIG, 0, mtu, original)
}
