//! TCP segments (RFC 9293): checked view, option walk, in-place mutators with
//! incremental checksum updates, checksum computation with the IPv4 or IPv6
//! pseudo-header, and a header builder.
//!
//! Contract: [`TcpSegment::new_checked`] takes exactly the transport bytes
//! (the IP payload) and requires data offset ≥ 5 with the whole header in
//! the buffer; the segment length used for the pseudo-header is the buffer
//! length. Port and sequence mutators update the checksum with RFC 1624;
//! [`TcpSegment::update_pseudo_v4`] / [`TcpSegment::update_pseudo_v6`]
//! account for an address change in the IP header. The option walk never
//! reads past the header and stops at a malformed option.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::checksum::{
    self, Checksum, pseudo_header_v4, pseudo_header_v6, update_ipv4_addr, update_ipv6_addr,
    update16, update32,
};
use crate::error::{Error, Layer, Result, need, room};
use crate::field::{get16, get32, set16, set32};
use crate::ip::proto;

/// Header length without options.
pub const MIN_HEADER_LEN: usize = 20;
/// Checksum field offset (used as the remote-checksum offset).
pub const CHECKSUM_OFFSET: usize = 16;

/// TCP flag bits (in the low 9 bits of bytes 12-13).
pub mod flags {
    /// FIN.
    pub const FIN: u16 = 0x001;
    /// SYN.
    pub const SYN: u16 = 0x002;
    /// RST.
    pub const RST: u16 = 0x004;
    /// PSH.
    pub const PSH: u16 = 0x008;
    /// ACK.
    pub const ACK: u16 = 0x010;
    /// URG.
    pub const URG: u16 = 0x020;
    /// ECE.
    pub const ECE: u16 = 0x040;
    /// CWR.
    pub const CWR: u16 = 0x080;
    /// AE (formerly NS).
    pub const AE: u16 = 0x100;
}

/// Option kinds.
pub mod option {
    /// End of option list.
    pub const END: u8 = 0;
    /// No operation.
    pub const NOP: u8 = 1;
    /// Maximum segment size.
    pub const MSS: u8 = 2;
    /// Window scale.
    pub const WINDOW_SCALE: u8 = 3;
    /// SACK permitted.
    pub const SACK_PERMITTED: u8 = 4;
    /// SACK.
    pub const SACK: u8 = 5;
    /// Timestamps.
    pub const TIMESTAMPS: u8 = 8;
}

/// A checked view of a TCP segment.
#[derive(Debug, Clone)]
pub struct TcpSegment<T> {
    buf: T,
}

/// One TCP option: kind and data (without kind/length bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpOption<'a> {
    /// Option kind.
    pub kind: u8,
    /// Option data.
    pub data: &'a [u8],
}

/// Iterator over TCP options; ends at END, at the end of the header, or
/// after yielding an error for a malformed length.
#[derive(Debug, Clone)]
pub struct TcpOptions<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for TcpOptions<'a> {
    type Item = Result<TcpOption<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        let (&kind, tail) = self.rest.split_first()?;
        match kind {
            option::END => {
                self.rest = &[];
                None
            }
            option::NOP => {
                self.rest = tail;
                Some(Ok(TcpOption { kind, data: &[] }))
            }
            _ => {
                let len = tail.first().map_or(0, |&l| usize::from(l));
                if len < 2 || len > self.rest.len() {
                    self.rest = &[];
                    return Some(Err(Error::Malformed {
                        layer: Layer::Tcp,
                        what: "option length",
                    }));
                }
                let data = &self.rest[2..len];
                self.rest = &self.rest[len..];
                Some(Ok(TcpOption { kind, data }))
            }
        }
    }
}

impl<T: AsRef<[u8]>> TcpSegment<T> {
    /// Validates the header.
    pub fn new_checked(buf: T) -> Result<Self> {
        let b = buf.as_ref();
        need(Layer::Tcp, b, MIN_HEADER_LEN)?;
        let hl = usize::from(b[12] >> 4) * 4;
        if hl < MIN_HEADER_LEN || hl > b.len() {
            return Err(Error::BadHeaderLen {
                layer: Layer::Tcp,
                len: hl,
            });
        }
        Ok(TcpSegment { buf })
    }

    #[inline]
    fn b(&self) -> &[u8] {
        self.buf.as_ref()
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

    /// Sequence number.
    #[inline]
    pub fn seq(&self) -> u32 {
        get32(self.b(), 4)
    }

    /// Acknowledgement number.
    #[inline]
    pub fn ack(&self) -> u32 {
        get32(self.b(), 8)
    }

    /// Header length in bytes (data offset × 4).
    #[inline]
    pub fn header_len(&self) -> usize {
        usize::from(self.b()[12] >> 4) * 4
    }

    /// Flag bits (see [`flags`]).
    #[inline]
    pub fn flags(&self) -> u16 {
        get16(self.b(), 12) & 0x01ff
    }

    /// Whether all of `f` are set.
    #[inline]
    pub fn has_flags(&self, f: u16) -> bool {
        self.flags() & f == f
    }

    /// SYN set.
    #[inline]
    pub fn syn(&self) -> bool {
        self.has_flags(flags::SYN)
    }

    /// ACK set.
    #[inline]
    pub fn ack_flag(&self) -> bool {
        self.has_flags(flags::ACK)
    }

    /// FIN set.
    #[inline]
    pub fn fin(&self) -> bool {
        self.has_flags(flags::FIN)
    }

    /// RST set.
    #[inline]
    pub fn rst(&self) -> bool {
        self.has_flags(flags::RST)
    }

    /// Window.
    #[inline]
    pub fn window(&self) -> u16 {
        get16(self.b(), 14)
    }

    /// Checksum field.
    #[inline]
    pub fn checksum(&self) -> u16 {
        get16(self.b(), CHECKSUM_OFFSET)
    }

    /// Urgent pointer.
    #[inline]
    pub fn urgent(&self) -> u16 {
        get16(self.b(), 18)
    }

    /// Options bytes.
    #[inline]
    pub fn options(&self) -> &[u8] {
        &self.b()[MIN_HEADER_LEN..self.header_len()]
    }

    /// Length of the options in bytes.
    #[inline]
    pub fn options_len(&self) -> usize {
        self.header_len() - MIN_HEADER_LEN
    }

    /// Walks the options.
    #[inline]
    pub fn options_iter(&self) -> TcpOptions<'_> {
        TcpOptions {
            rest: self.options(),
        }
    }

    /// The MSS option's value, if present and well formed.
    pub fn mss(&self) -> Option<u16> {
        self.options_iter()
            .map_while(|o| o.ok())
            .find(|o| o.kind == option::MSS && o.data.len() == 2)
            .map(|o| u16::from_be_bytes([o.data[0], o.data[1]]))
    }

    /// Data after the header.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.b()[self.header_len()..]
    }

    /// The segment bytes.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        self.b()
    }

    fn len32(&self) -> u32 {
        u32::try_from(self.b().len()).unwrap_or(u32::MAX)
    }

    /// Checksum this segment should carry over IPv4.
    pub fn compute_checksum_v4(&self, src: Ipv4Addr, dst: Ipv4Addr) -> u16 {
        let len = u16::try_from(self.b().len()).unwrap_or(u16::MAX);
        compute(pseudo_header_v4(src, dst, proto::TCP, len), self.b())
    }

    /// Checksum this segment should carry over IPv6.
    pub fn compute_checksum_v6(&self, src: &Ipv6Addr, dst: &Ipv6Addr) -> u16 {
        compute(
            pseudo_header_v6(src, dst, proto::TCP, self.len32()),
            self.b(),
        )
    }

    /// Whether the checksum is correct over IPv4.
    pub fn verify_checksum_v4(&self, src: Ipv4Addr, dst: Ipv4Addr) -> bool {
        let len = u16::try_from(self.b().len()).unwrap_or(u16::MAX);
        let mut c = pseudo_header_v4(src, dst, proto::TCP, len);
        c.add_bytes(self.b()).sum() == 0xffff
    }

    /// Whether the checksum is correct over IPv6.
    pub fn verify_checksum_v6(&self, src: &Ipv6Addr, dst: &Ipv6Addr) -> bool {
        let mut c = pseudo_header_v6(src, dst, proto::TCP, self.len32());
        c.add_bytes(self.b()).sum() == 0xffff
    }
}

/// Sum of `pseudo` and `seg` with the checksum field at `CHECKSUM_OFFSET`
/// counted as zero.
fn compute(mut pseudo: Checksum, seg: &[u8]) -> u16 {
    let field = get16(seg, CHECKSUM_OFFSET);
    pseudo.add_bytes(seg);
    // Remove the field's contribution: one's-complement subtraction.
    !checksum::add(pseudo.sum(), !field)
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> TcpSegment<T> {
    #[inline]
    fn bm(&mut self) -> &mut [u8] {
        self.buf.as_mut()
    }

    #[inline]
    fn set_check(&mut self, c: u16) {
        set16(self.bm(), CHECKSUM_OFFSET, c);
    }

    /// Sets the checksum field as is.
    #[inline]
    pub fn set_checksum(&mut self, c: u16) {
        self.set_check(c);
    }

    /// Sets the source port, updating the checksum.
    #[inline]
    pub fn set_src_port(&mut self, p: u16) {
        let c = update16(self.checksum(), self.src_port(), p);
        set16(self.bm(), 0, p);
        self.set_check(c);
    }

    /// Sets the destination port, updating the checksum.
    #[inline]
    pub fn set_dst_port(&mut self, p: u16) {
        let c = update16(self.checksum(), self.dst_port(), p);
        set16(self.bm(), 2, p);
        self.set_check(c);
    }

    /// Sets the sequence number, updating the checksum.
    #[inline]
    pub fn set_seq(&mut self, s: u32) {
        let c = update32(self.checksum(), self.seq(), s);
        set32(self.bm(), 4, s);
        self.set_check(c);
    }

    /// Sets the acknowledgement number, updating the checksum.
    #[inline]
    pub fn set_ack(&mut self, a: u32) {
        let c = update32(self.checksum(), self.ack(), a);
        set32(self.bm(), 8, a);
        self.set_check(c);
    }

    /// Sets the flag bits (low 9 bits), updating the checksum.
    #[inline]
    pub fn set_flags(&mut self, f: u16) {
        let old = get16(self.b(), 12);
        let new = (old & 0xfe00) | (f & 0x01ff);
        let c = update16(self.checksum(), old, new);
        set16(self.bm(), 12, new);
        self.set_check(c);
    }

    /// Sets the window, updating the checksum.
    #[inline]
    pub fn set_window(&mut self, w: u16) {
        let c = update16(self.checksum(), self.window(), w);
        set16(self.bm(), 14, w);
        self.set_check(c);
    }

    /// Folds an IPv4 address change in the pseudo-header into the checksum.
    #[inline]
    pub fn update_pseudo_v4(&mut self, old: Ipv4Addr, new: Ipv4Addr) {
        let c = update_ipv4_addr(self.checksum(), old, new);
        self.set_check(c);
    }

    /// Folds an IPv6 address change in the pseudo-header into the checksum.
    #[inline]
    pub fn update_pseudo_v6(&mut self, old: &Ipv6Addr, new: &Ipv6Addr) {
        let c = update_ipv6_addr(self.checksum(), old, new);
        self.set_check(c);
    }

    /// Recomputes the checksum over IPv4.
    pub fn fill_checksum_v4(&mut self, src: Ipv4Addr, dst: Ipv4Addr) {
        let c = self.compute_checksum_v4(src, dst);
        self.set_check(c);
    }

    /// Recomputes the checksum over IPv6.
    pub fn fill_checksum_v6(&mut self, src: &Ipv6Addr, dst: &Ipv6Addr) {
        let c = self.compute_checksum_v6(src, dst);
        self.set_check(c);
    }

    /// Options, mutable (the caller refreshes the checksum).
    #[inline]
    pub fn options_mut(&mut self) -> &mut [u8] {
        let h = self.header_len();
        &mut self.bm()[MIN_HEADER_LEN..h]
    }

    /// Data after the header, mutable (the caller refreshes the checksum).
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let h = self.header_len();
        &mut self.bm()[h..]
    }
}

/// Fields for building a TCP header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpHeader {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgement number.
    pub ack: u32,
    /// Flags (see [`flags`]).
    pub flags: u16,
    /// Window.
    pub window: u16,
    /// Urgent pointer.
    pub urgent: u16,
}

impl TcpHeader {
    /// Writes the header with `options` (length a multiple of 4, at most 40)
    /// and a zero checksum; returns the header length. Fill the checksum
    /// once the payload is in place.
    pub fn write(&self, out: &mut [u8], options: &[u8]) -> Result<usize> {
        if !options.len().is_multiple_of(4) || options.len() > 40 {
            return Err(Error::BadHeaderLen {
                layer: Layer::Tcp,
                len: MIN_HEADER_LEN + options.len(),
            });
        }
        let hl = MIN_HEADER_LEN + options.len();
        room(out, hl)?;
        set16(out, 0, self.src_port);
        set16(out, 2, self.dst_port);
        set32(out, 4, self.seq);
        set32(out, 8, self.ack);
        set16(out, 12, ((hl as u16 / 4) << 12) | (self.flags & 0x01ff));
        set16(out, 14, self.window);
        set16(out, 16, 0);
        set16(out, 18, self.urgent);
        out[MIN_HEADER_LEN..hl].copy_from_slice(options);
        Ok(hl)
    }
}
