//! ICMP for IPv4 (RFC 792): checked view, quoted-packet access for errors,
//! checksum, and builders for echo messages and errors.
//!
//! Contract:
//! - [`Icmpv4Packet::new_checked`] takes the ICMP bytes (the IPv4 payload)
//!   and requires the 8-byte header. The checksum covers the whole message,
//!   with no pseudo-header.
//! - [`Icmpv4Packet::is_error`] is true for destination unreachable (3),
//!   source quench (4), redirect (5), time exceeded (11) and parameter
//!   problem (12); for those [`Icmpv4Packet::embedded`] parses the quoted
//!   packet leniently ([`crate::ipv4::Ipv4Packet::new_truncated`]). IPVS
//!   itself relays only types 3, 4 and 11 ([`Icmpv4Packet::is_ipvs_related`],
//!   `ip_vs_in_icmp`).
//! - [`write_error`] / [`build_error`] quote as much of the offending packet
//!   as fits in 576 bytes of IPv4 packet, like the kernel's `icmp_send`
//!   (RFC 1812 §4.3.2.3).

use std::net::Ipv4Addr;

use crate::checksum::{self, update16};
use crate::error::{Error, Layer, Result, need, room};
use crate::field::{get16, get32, set16, set32};
use crate::ip::proto;
use crate::ipv4::{Ipv4Header, Ipv4Packet};

/// Header length.
pub const HEADER_LEN: usize = 8;
/// Largest IPv4 packet carrying an ICMP error (RFC 1812; kernel `icmp_send`).
pub const ERROR_MAX_PACKET: usize = 576;

/// Message types.
pub mod kind {
    /// Echo reply.
    pub const ECHO_REPLY: u8 = 0;
    /// Destination unreachable.
    pub const DEST_UNREACH: u8 = 3;
    /// Source quench.
    pub const SOURCE_QUENCH: u8 = 4;
    /// Redirect.
    pub const REDIRECT: u8 = 5;
    /// Echo request.
    pub const ECHO_REQUEST: u8 = 8;
    /// Time exceeded.
    pub const TIME_EXCEEDED: u8 = 11;
    /// Parameter problem.
    pub const PARAM_PROBLEM: u8 = 12;
}

/// Destination-unreachable codes.
pub mod code {
    /// Network unreachable.
    pub const NET_UNREACH: u8 = 0;
    /// Host unreachable.
    pub const HOST_UNREACH: u8 = 1;
    /// Protocol unreachable.
    pub const PROTO_UNREACH: u8 = 2;
    /// Port unreachable.
    pub const PORT_UNREACH: u8 = 3;
    /// Fragmentation needed and DF set (carries the next-hop MTU).
    pub const FRAG_NEEDED: u8 = 4;
    /// Time exceeded: TTL exceeded in transit.
    pub const TTL_EXCEEDED: u8 = 0;
}

/// A checked view of an ICMP message.
#[derive(Debug, Clone)]
pub struct Icmpv4Packet<T> {
    buf: T,
}

impl<T: AsRef<[u8]>> Icmpv4Packet<T> {
    /// Validates the header length.
    pub fn new_checked(buf: T) -> Result<Self> {
        need(Layer::Icmpv4, buf.as_ref(), HEADER_LEN)?;
        Ok(Icmpv4Packet { buf })
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

    /// Bytes 4-7 ("rest of header").
    #[inline]
    pub fn rest_of_header(&self) -> u32 {
        get32(self.b(), 4)
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

    /// Next-hop MTU of a "fragmentation needed" message (RFC 1191).
    #[inline]
    pub fn next_hop_mtu(&self) -> u16 {
        get16(self.b(), 6)
    }

    /// Whether this is an error message quoting a packet.
    #[inline]
    pub fn is_error(&self) -> bool {
        matches!(
            self.kind(),
            kind::DEST_UNREACH
                | kind::SOURCE_QUENCH
                | kind::REDIRECT
                | kind::TIME_EXCEEDED
                | kind::PARAM_PROBLEM
        )
    }

    /// Whether IPVS looks it up as related to a connection (types 3, 4, 11).
    #[inline]
    pub fn is_ipvs_related(&self) -> bool {
        matches!(
            self.kind(),
            kind::DEST_UNREACH | kind::SOURCE_QUENCH | kind::TIME_EXCEEDED
        )
    }

    /// Bytes after the 8-byte header.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.b()[HEADER_LEN..]
    }

    /// The quoted IPv4 packet of an error message.
    pub fn embedded(&self) -> Result<Ipv4Packet<&[u8]>> {
        if !self.is_error() {
            return Err(Error::Unsupported {
                layer: Layer::Icmpv4,
                what: "quoted packet in a non-error message",
            });
        }
        Ipv4Packet::new_truncated(self.payload())
    }

    /// Whether the checksum is correct.
    #[inline]
    pub fn verify_checksum(&self) -> bool {
        checksum::ones_sum(self.b()) == 0xffff
    }

    /// The message bytes.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        self.b()
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Icmpv4Packet<T> {
    /// Recomputes the checksum over the whole message.
    pub fn fill_checksum(&mut self) {
        let b = self.buf.as_mut();
        set16(b, 2, 0);
        let c = checksum::checksum(b);
        set16(b, 2, c);
    }

    /// Sets the echo identifier, updating the checksum.
    pub fn set_echo_ident(&mut self, id: u16) {
        let c = update16(self.checksum(), self.echo_ident(), id);
        let b = self.buf.as_mut();
        set16(b, 4, id);
        set16(b, 2, c);
    }

    /// Sets the next-hop MTU, updating the checksum.
    pub fn set_next_hop_mtu(&mut self, mtu: u16) {
        let c = update16(self.checksum(), self.next_hop_mtu(), mtu);
        let b = self.buf.as_mut();
        set16(b, 6, mtu);
        set16(b, 2, c);
    }

    /// Bytes after the header, mutable (the caller refreshes the checksum).
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buf.as_mut()[HEADER_LEN..]
    }
}

/// Writes an ICMP message: type, code, the 32-bit rest of header, and
/// `data`, truncated so that the message is at most `max_len` bytes; fills
/// the checksum and returns the length.
pub fn write_message(
    out: &mut [u8],
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
    let c = checksum::checksum(m);
    set16(m, 2, c);
    Ok(len)
}

/// Writes an ICMP error quoting `original` (the offending IPv4 packet, from
/// its IP header), sized for a 20-byte IPv4 header and
/// [`ERROR_MAX_PACKET`]; returns the ICMP length.
pub fn write_error(
    out: &mut [u8],
    kind: u8,
    code: u8,
    rest: u32,
    original: &[u8],
) -> Result<usize> {
    write_message(
        out,
        kind,
        code,
        rest,
        original,
        ERROR_MAX_PACKET - crate::ipv4::MIN_HEADER_LEN,
    )
}

/// Builds a whole IPv4 packet carrying an ICMP error about `original`:
/// `ip` gives addresses, TTL, TOS and id (its protocol is forced to ICMP).
/// Returns the packet length (at most [`ERROR_MAX_PACKET`]).
pub fn build_error(
    out: &mut [u8],
    ip: &Ipv4Header,
    kind: u8,
    code: u8,
    rest: u32,
    original: &[u8],
) -> Result<usize> {
    let hl = crate::ipv4::MIN_HEADER_LEN;
    room(out, hl + HEADER_LEN)?;
    let (head, body) = out.split_at_mut(hl);
    let n = write_error(body, kind, code, rest, original)?;
    let mut h = *ip;
    h.protocol = proto::ICMP;
    h.write(head, n)?;
    Ok(hl + n)
}

/// The TOS of an ICMP error about a packet with TOS `orig`: precedence
/// "internetwork control" plus the original TOS bits (kernel `icmp_send`).
#[inline]
pub fn error_tos(orig: u8) -> u8 {
    (orig & 0x1e) | 0xc0
}

/// Builds a "fragmentation needed" error (type 3 code 4) for `original`
/// advertising `mtu`, from `src` to `dst`, with TTL 64, id 0 and
/// [`error_tos`].
pub fn build_frag_needed(
    out: &mut [u8],
    src: Ipv4Addr,
    dst: Ipv4Addr,
    mtu: u16,
    original: &[u8],
) -> Result<usize> {
    let mut ip = Ipv4Header::new(src, dst, proto::ICMP);
    ip.tos = error_tos(original.get(1).copied().unwrap_or(0));
    build_error(
        out,
        &ip,
        kind::DEST_UNREACH,
        code::FRAG_NEEDED,
        u32::from(mtu),
        original,
    )
}
