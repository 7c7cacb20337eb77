//! GRE (RFC 2784 with the RFC 2890 key and sequence extensions), version 0.
//!
//! Contract: [`GreHeader::new_checked`] takes the IP payload, requires
//! version 0 (version 1, PPTP's enhanced GRE, is [`Error::Unsupported`]) and
//! the header its C/K/S bits announce (4 bytes, +4 with checksum, +4 with
//! key, +4 with sequence number); the obsolete R bit (RFC 1701 source
//! routing) is unsupported, as in the kernel's `gre_parse_header`. The checksum, when present, covers the GRE header and payload
//! with the checksum field zero. IPVS sends GRE without key or sequence, with
//! or without checksum ([`write_header`], kernel `gre_build_header`).

use crate::checksum;
use crate::error::{Error, Layer, Result, need, room};
use crate::field::{get16, get32, set16};

/// Base header length.
pub const HEADER_LEN: usize = 4;
/// Checksum-present bit.
pub const FLAG_CSUM: u16 = 0x8000;
/// Routing-present bit (RFC 1701, obsolete).
pub const FLAG_ROUTING: u16 = 0x4000;
/// Key-present bit.
pub const FLAG_KEY: u16 = 0x2000;
/// Sequence-number-present bit.
pub const FLAG_SEQ: u16 = 0x1000;
const VERSION_MASK: u16 = 0x0007;

/// A checked view of a GRE header and its payload.
#[derive(Debug, Clone)]
pub struct GreHeader<T> {
    buf: T,
}

fn header_len_for(flags: u16) -> usize {
    let mut l = HEADER_LEN;
    if flags & (FLAG_CSUM | FLAG_ROUTING) != 0 {
        l += 4;
    }
    if flags & FLAG_KEY != 0 {
        l += 4;
    }
    if flags & FLAG_SEQ != 0 {
        l += 4;
    }
    l
}

impl<T: AsRef<[u8]>> GreHeader<T> {
    /// Validates version and length.
    pub fn new_checked(buf: T) -> Result<Self> {
        let b = buf.as_ref();
        need(Layer::Gre, b, HEADER_LEN)?;
        let f = get16(b, 0);
        if f & VERSION_MASK != 0 {
            return Err(Error::Unsupported {
                layer: Layer::Gre,
                what: "version other than 0",
            });
        }
        if f & FLAG_ROUTING != 0 {
            return Err(Error::Unsupported {
                layer: Layer::Gre,
                what: "source routing (RFC 1701)",
            });
        }
        need(Layer::Gre, b, header_len_for(f))?;
        Ok(GreHeader { buf })
    }

    #[inline]
    fn b(&self) -> &[u8] {
        self.buf.as_ref()
    }

    /// Flags and version word.
    #[inline]
    pub fn flags(&self) -> u16 {
        get16(self.b(), 0)
    }

    /// Protocol type of the payload (an EtherType).
    #[inline]
    pub fn protocol(&self) -> u16 {
        get16(self.b(), 2)
    }

    /// Header length.
    #[inline]
    pub fn header_len(&self) -> usize {
        header_len_for(self.flags())
    }

    /// The checksum field, if present.
    #[inline]
    pub fn checksum(&self) -> Option<u16> {
        (self.flags() & FLAG_CSUM != 0).then(|| get16(self.b(), 4))
    }

    /// The key, if present.
    pub fn key(&self) -> Option<u32> {
        let f = self.flags();
        (f & FLAG_KEY != 0).then(|| {
            let at = if f & FLAG_CSUM != 0 { 8 } else { 4 };
            get32(self.b(), at)
        })
    }

    /// The sequence number, if present.
    pub fn sequence(&self) -> Option<u32> {
        let f = self.flags();
        (f & FLAG_SEQ != 0).then(|| get32(self.b(), self.header_len() - 4))
    }

    /// Whether the checksum is absent or correct.
    pub fn verify_checksum(&self) -> bool {
        self.checksum().is_none() || checksum::ones_sum(self.b()) == 0xffff
    }

    /// The encapsulated packet.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.b()[self.header_len()..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> GreHeader<T> {
    /// Recomputes the checksum over header and payload, if the C bit is set.
    pub fn fill_checksum(&mut self) {
        if self.flags() & FLAG_CSUM == 0 {
            return;
        }
        let b = self.buf.as_mut();
        set16(b, 4, 0);
        let c = checksum::checksum(b);
        set16(b, 4, c);
    }

    /// The encapsulated packet, mutable.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let h = self.header_len();
        &mut self.buf.as_mut()[h..]
    }
}

/// Header length IPVS uses: 4, or 8 with a checksum.
#[inline]
pub fn header_len(csum: bool) -> usize {
    if csum { HEADER_LEN + 4 } else { HEADER_LEN }
}

/// Writes a GRE header for `protocol` (an EtherType), with a zero checksum
/// field when `csum` (fill it with [`GreHeader::fill_checksum`] once the
/// payload is in place); returns the length.
pub fn write_header(out: &mut [u8], protocol: u16, csum: bool) -> Result<usize> {
    let len = header_len(csum);
    room(out, len)?;
    set16(out, 0, if csum { FLAG_CSUM } else { 0 });
    set16(out, 2, protocol);
    if csum {
        out[4..8].fill(0);
    }
    Ok(len)
}
