//! IPv6 packets (RFC 8200): checked view, extension-header walk, mutators and
//! a header builder.
//!
//! Contract:
//! - [`Ipv6Packet::new_checked`] requires version 6, the 40-byte header and
//!   `40 + payload length ≤ buffer length`; bytes past that are padding and
//!   not part of the packet. Jumbograms (payload length 0 with a jumbo
//!   option) are not supported: such a packet has an empty payload.
//!   [`Ipv6Packet::new_truncated`] accepts a quoted packet whose payload was
//!   cut short (inside ICMPv6 errors).
//! - [`Ipv6Packet::ext_headers`] walks hop-by-hop (0, only as the first
//!   header), routing (43), fragment (44), destination options (60) and AH
//!   (51) headers, the set the kernel's `ipv6_find_hdr` skips; any other next
//!   header ends the walk as the upper layer (ESP, 59 "no next header" and
//!   unknown numbers included). A header running past the packet is
//!   [`Error::Truncated`]. Each header is at least 8 bytes, so the walk is
//!   bounded by the packet length.
//! - [`Ipv6Packet::upper_layer`] returns the upper-layer protocol and its
//!   offset. For a non-first fragment (offset ≠ 0) the walk stops at the
//!   fragment header: the protocol is the fragment header's next header and
//!   no transport header is present (like `ipv6_find_hdr` setting
//!   `fragoffs`).
//! - The pseudo-header destination is the `dst` field: with a routing header
//!   the final destination differs (RFC 8200 §8.1); the caller supplies it.
//! - Mutators never change lengths. IPv6 has no header checksum; address
//!   changes must be folded into transport checksums (see [`crate::nat`]).

use std::net::Ipv6Addr;

use crate::error::{Error, Layer, Result, need, room};
use crate::field::{get_v6, get16, get32, set16, set32};
use crate::ip::proto;

/// Fixed header length.
pub const HEADER_LEN: usize = 40;
/// Fragment header length.
pub const FRAGMENT_HEADER_LEN: usize = 8;

/// A checked view of an IPv6 packet.
#[derive(Debug, Clone)]
pub struct Ipv6Packet<T> {
    buf: T,
    end: usize,
}

/// One extension header found by [`Ipv6Packet::ext_headers`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtHeader {
    /// The header's type (its protocol number: 0, 43, 44, 51 or 60).
    pub kind: u8,
    /// Offset from the start of the IPv6 header.
    pub offset: usize,
    /// Length in bytes.
    pub len: usize,
    /// Its next-header field.
    pub next_header: u8,
}

/// The fragment header's fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6Fragment {
    /// Offset of the fragment header from the start of the IPv6 header.
    pub header_offset: usize,
    /// Fragment offset in 8-byte units.
    pub offset: u16,
    /// More fragments.
    pub more: bool,
    /// Identification.
    pub ident: u32,
}

impl Ipv6Fragment {
    /// Fragment offset in bytes.
    #[inline]
    pub fn offset_bytes(&self) -> usize {
        usize::from(self.offset) * 8
    }
}

/// Where the upper-layer header starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpperLayer {
    /// Upper-layer protocol.
    pub protocol: u8,
    /// Offset from the start of the IPv6 header.
    pub offset: usize,
    /// The fragment header, if any.
    pub fragment: Option<Ipv6Fragment>,
}

impl UpperLayer {
    /// Whether the transport header is in this packet (not a non-first
    /// fragment).
    #[inline]
    pub fn has_transport_header(&self) -> bool {
        self.fragment.is_none_or(|f| f.offset == 0)
    }
}

/// Iterator over extension headers; see [`Ipv6Packet::ext_headers`].
#[derive(Debug, Clone)]
pub struct ExtHeaders<'a> {
    packet: &'a [u8],
    next: u8,
    offset: usize,
    done: bool,
}

impl<'a> ExtHeaders<'a> {
    /// The upper-layer protocol and offset once the iterator is exhausted
    /// without error (or the state so far).
    #[inline]
    pub fn position(&self) -> (u8, usize) {
        (self.next, self.offset)
    }
}

fn is_ext(n: u8) -> bool {
    matches!(
        n,
        proto::HOPOPTS | proto::ROUTING | proto::FRAGMENT | proto::AH | proto::DSTOPTS
    )
}

impl Iterator for ExtHeaders<'_> {
    type Item = Result<ExtHeader>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || !is_ext(self.next) {
            self.done = true;
            return None;
        }
        let kind = self.next;
        let at = self.offset;
        if kind == proto::HOPOPTS && at != HEADER_LEN {
            self.done = true;
            return Some(Err(Error::Malformed {
                layer: Layer::Ipv6Ext,
                what: "hop-by-hop header not first",
            }));
        }
        let rest = &self.packet[at..];
        if rest.len() < 2 {
            self.done = true;
            return Some(Err(Error::Truncated {
                layer: Layer::Ipv6Ext,
                need: at + 2,
                have: self.packet.len(),
            }));
        }
        let len = match kind {
            proto::FRAGMENT => FRAGMENT_HEADER_LEN,
            proto::AH => (usize::from(rest[1]) + 2) * 4,
            _ => (usize::from(rest[1]) + 1) * 8,
        };
        if rest.len() < len {
            self.done = true;
            return Some(Err(Error::Truncated {
                layer: Layer::Ipv6Ext,
                need: at + len,
                have: self.packet.len(),
            }));
        }
        let next_header = rest[0];
        self.next = next_header;
        self.offset = at + len;
        if kind == proto::FRAGMENT && get16(rest, 2) & 0xfff8 != 0 {
            // Non-first fragment: what follows is not a header.
            self.done = true;
        }
        Some(Ok(ExtHeader {
            kind,
            offset: at,
            len,
            next_header,
        }))
    }
}

fn check_header(b: &[u8]) -> Result<usize> {
    need(Layer::Ipv6, b, HEADER_LEN)?;
    let version = b[0] >> 4;
    if version != 6 {
        return Err(Error::BadVersion {
            layer: Layer::Ipv6,
            version,
        });
    }
    Ok(HEADER_LEN + usize::from(get16(b, 4)))
}

impl<T: AsRef<[u8]>> Ipv6Packet<T> {
    /// Validates a complete packet.
    pub fn new_checked(buf: T) -> Result<Self> {
        let b = buf.as_ref();
        let end = check_header(b)?;
        if end > b.len() {
            return Err(Error::BadLength {
                layer: Layer::Ipv6,
                len: end,
                have: b.len(),
            });
        }
        Ok(Ipv6Packet { buf, end })
    }

    /// Validates a possibly truncated packet (an ICMPv6 error's quote).
    pub fn new_truncated(buf: T) -> Result<Self> {
        let b = buf.as_ref();
        let end = check_header(b)?.min(b.len());
        Ok(Ipv6Packet { buf, end })
    }

    #[inline]
    fn b(&self) -> &[u8] {
        self.buf.as_ref()
    }

    /// Traffic class (DSCP and ECN).
    #[inline]
    pub fn traffic_class(&self) -> u8 {
        ((get16(self.b(), 0) >> 4) & 0xff) as u8
    }

    /// Flow label (20 bits).
    #[inline]
    pub fn flow_label(&self) -> u32 {
        get32(self.b(), 0) & 0x000f_ffff
    }

    /// Payload length field.
    #[inline]
    pub fn payload_len(&self) -> u16 {
        get16(self.b(), 4)
    }

    /// Next header of the fixed header.
    #[inline]
    pub fn next_header(&self) -> u8 {
        self.b()[6]
    }

    /// Hop limit.
    #[inline]
    pub fn hop_limit(&self) -> u8 {
        self.b()[7]
    }

    /// Source address.
    #[inline]
    pub fn src(&self) -> Ipv6Addr {
        get_v6(self.b(), 8)
    }

    /// Destination address.
    #[inline]
    pub fn dst(&self) -> Ipv6Addr {
        get_v6(self.b(), 24)
    }

    /// Everything after the fixed header, up to the payload length.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.b()[HEADER_LEN..self.end]
    }

    /// The packet without trailing padding.
    #[inline]
    pub fn packet(&self) -> &[u8] {
        &self.b()[..self.end]
    }

    /// Whether the buffer holds less than the payload length announces.
    #[inline]
    pub fn is_truncated(&self) -> bool {
        self.end < HEADER_LEN + usize::from(self.payload_len())
    }

    /// Walks the extension headers.
    #[inline]
    pub fn ext_headers(&self) -> ExtHeaders<'_> {
        ExtHeaders {
            packet: self.packet(),
            next: self.next_header(),
            offset: HEADER_LEN,
            done: false,
        }
    }

    /// Finds the upper-layer protocol and offset.
    pub fn upper_layer(&self) -> Result<UpperLayer> {
        let mut it = self.ext_headers();
        let mut fragment = None;
        for h in it.by_ref() {
            let h = h?;
            if h.kind == proto::FRAGMENT {
                let b = self.b();
                let w = get16(b, h.offset + 2);
                fragment = Some(Ipv6Fragment {
                    header_offset: h.offset,
                    offset: w >> 3,
                    more: w & 1 != 0,
                    ident: get32(b, h.offset + 4),
                });
            }
        }
        let (protocol, offset) = it.position();
        Ok(UpperLayer {
            protocol,
            offset,
            fragment,
        })
    }

    /// Gives the buffer back.
    #[inline]
    pub fn into_inner(self) -> T {
        self.buf
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv6Packet<T> {
    #[inline]
    fn bm(&mut self) -> &mut [u8] {
        self.buf.as_mut()
    }

    /// Sets the hop limit.
    #[inline]
    pub fn set_hop_limit(&mut self, h: u8) {
        self.bm()[7] = h;
    }

    /// Decrements the hop limit (not below zero); returns the new value.
    #[inline]
    pub fn decrement_hop_limit(&mut self) -> u8 {
        let h = self.hop_limit().saturating_sub(1);
        self.set_hop_limit(h);
        h
    }

    /// Sets the traffic class.
    #[inline]
    pub fn set_traffic_class(&mut self, tc: u8) {
        let w = (get32(self.b(), 0) & 0xf00f_ffff) | (u32::from(tc) << 20);
        set32(self.bm(), 0, w);
    }

    /// Sets the flow label (low 20 bits of `fl`).
    #[inline]
    pub fn set_flow_label(&mut self, fl: u32) {
        let w = (get32(self.b(), 0) & 0xfff0_0000) | (fl & 0x000f_ffff);
        set32(self.bm(), 0, w);
    }

    /// Sets the source address (transport checksums untouched).
    #[inline]
    pub fn set_src(&mut self, a: &Ipv6Addr) {
        self.bm()[8..24].copy_from_slice(&a.octets());
    }

    /// Sets the destination address (transport checksums untouched).
    #[inline]
    pub fn set_dst(&mut self, a: &Ipv6Addr) {
        self.bm()[24..40].copy_from_slice(&a.octets());
    }

    /// Everything after the fixed header, mutable.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let e = self.end;
        &mut self.bm()[HEADER_LEN..e]
    }
}

/// Fields for building an IPv6 fixed header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6Header {
    /// Source address.
    pub src: Ipv6Addr,
    /// Destination address.
    pub dst: Ipv6Addr,
    /// Next header.
    pub next_header: u8,
    /// Hop limit.
    pub hop_limit: u8,
    /// Traffic class.
    pub traffic_class: u8,
    /// Flow label (20 bits).
    pub flow_label: u32,
}

impl Ipv6Header {
    /// A header with hop limit 64, traffic class 0 and flow label 0.
    pub fn new(src: Ipv6Addr, dst: Ipv6Addr, next_header: u8) -> Self {
        Ipv6Header {
            src,
            dst,
            next_header,
            hop_limit: 64,
            traffic_class: 0,
            flow_label: 0,
        }
    }

    /// Writes the 40-byte header for `payload_len` bytes of payload
    /// (extension headers included); returns 40.
    pub fn write(&self, out: &mut [u8], payload_len: usize) -> Result<usize> {
        let plen = u16::try_from(payload_len).map_err(|_| Error::TooLong {
            layer: Layer::Ipv6,
            len: payload_len,
        })?;
        room(out, HEADER_LEN)?;
        let w = (6u32 << 28) | (u32::from(self.traffic_class) << 20) | (self.flow_label & 0xf_ffff);
        set32(out, 0, w);
        set16(out, 4, plen);
        out[6] = self.next_header;
        out[7] = self.hop_limit;
        out[8..24].copy_from_slice(&self.src.octets());
        out[24..40].copy_from_slice(&self.dst.octets());
        Ok(HEADER_LEN)
    }
}

/// Writes an 8-byte fragment header; `offset` in 8-byte units.
pub fn write_fragment_header(
    out: &mut [u8],
    next_header: u8,
    offset: u16,
    more: bool,
    ident: u32,
) -> Result<usize> {
    room(out, FRAGMENT_HEADER_LEN)?;
    out[0] = next_header;
    out[1] = 0;
    set16(out, 2, (offset << 3) | u16::from(more));
    set32(out, 4, ident);
    Ok(FRAGMENT_HEADER_LEN)
}

/// Writes an options-style extension header (hop-by-hop, routing,
/// destination options) holding `body` (the bytes after the two-byte
/// next-header/length prefix), padded with PadN/zeros to a multiple of 8;
/// returns its length.
pub fn write_options_header(out: &mut [u8], next_header: u8, body: &[u8]) -> Result<usize> {
    let len = (2 + body.len()).div_ceil(8) * 8;
    if len > 2048 {
        return Err(Error::TooLong {
            layer: Layer::Ipv6Ext,
            len,
        });
    }
    room(out, len)?;
    out[0] = next_header;
    out[1] = (len / 8 - 1) as u8;
    out[2..2 + body.len()].copy_from_slice(body);
    let pad = &mut out[2 + body.len()..len];
    pad.fill(0);
    if pad.len() >= 2 {
        // PadN option covering the rest.
        pad[0] = 1;
        pad[1] = (pad.len() - 2) as u8;
    }
    Ok(len)
}
