//! SCTP packets (RFC 9260): common header, chunk walk, CRC32c checksum.
//!
//! Contract: [`SctpPacket::new_checked`] takes the transport bytes and
//! requires the 12-byte common header. The checksum is CRC32c over the whole
//! packet with the checksum field zeroed, stored least-significant byte first
//! (RFC 9260 appendix A; Linux `sctp_compute_cksum`); [`SctpPacket::checksum`]
//! returns it as that integer. There is no pseudo-header, so address changes
//! leave it valid, but any port change needs [`SctpPacket::fill_checksum`]
//! (the kernel's `sctp_nat_csum` recomputes it too). Chunks are walked by
//! their length rounded up to 4; a chunk whose length is below 4 or runs past
//! the packet ends the walk with an error.

use crate::crc32c::crc32c_update;
use crate::error::{Error, Layer, Result, need, room};
use crate::field::{get16, get32, set16, set32};

/// Common header length.
pub const HEADER_LEN: usize = 12;
/// Chunk header length.
pub const CHUNK_HEADER_LEN: usize = 4;

/// Chunk types used by the load balancer.
pub mod chunk {
    /// DATA.
    pub const DATA: u8 = 0;
    /// INIT.
    pub const INIT: u8 = 1;
    /// INIT ACK.
    pub const INIT_ACK: u8 = 2;
    /// SACK.
    pub const SACK: u8 = 3;
    /// HEARTBEAT.
    pub const HEARTBEAT: u8 = 4;
    /// HEARTBEAT ACK.
    pub const HEARTBEAT_ACK: u8 = 5;
    /// ABORT.
    pub const ABORT: u8 = 6;
    /// SHUTDOWN.
    pub const SHUTDOWN: u8 = 7;
    /// SHUTDOWN ACK.
    pub const SHUTDOWN_ACK: u8 = 8;
    /// ERROR.
    pub const ERROR: u8 = 9;
    /// COOKIE ECHO.
    pub const COOKIE_ECHO: u8 = 10;
    /// COOKIE ACK.
    pub const COOKIE_ACK: u8 = 11;
    /// SHUTDOWN COMPLETE.
    pub const SHUTDOWN_COMPLETE: u8 = 14;
}

/// A chunk header and its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunk<'a> {
    /// Chunk type.
    pub kind: u8,
    /// Chunk flags.
    pub flags: u8,
    /// Length field (header included, padding excluded).
    pub len: u16,
    /// The value bytes (after the 4-byte header, up to `len`).
    pub value: &'a [u8],
}

/// Iterator over chunks.
#[derive(Debug, Clone)]
pub struct Chunks<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Chunks<'a> {
    type Item = Result<Chunk<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let r = parse_chunk(self.rest);
        match r {
            Ok((c, adv)) => {
                self.rest = self.rest.get(adv..).unwrap_or(&[]);
                Some(Ok(c))
            }
            Err(e) => {
                self.rest = &[];
                Some(Err(e))
            }
        }
    }
}

fn parse_chunk(b: &[u8]) -> Result<(Chunk<'_>, usize)> {
    need(Layer::Sctp, b, CHUNK_HEADER_LEN)?;
    let len = get16(b, 2);
    let l = usize::from(len);
    if l < CHUNK_HEADER_LEN {
        return Err(Error::Malformed {
            layer: Layer::Sctp,
            what: "chunk length below 4",
        });
    }
    need(Layer::Sctp, b, l)?;
    Ok((
        Chunk {
            kind: b[0],
            flags: b[1],
            len,
            value: &b[CHUNK_HEADER_LEN..l],
        },
        l.next_multiple_of(4),
    ))
}

/// A checked view of an SCTP packet.
#[derive(Debug, Clone)]
pub struct SctpPacket<T> {
    buf: T,
}

impl<T: AsRef<[u8]>> SctpPacket<T> {
    /// Validates the common header.
    pub fn new_checked(buf: T) -> Result<Self> {
        need(Layer::Sctp, buf.as_ref(), HEADER_LEN)?;
        Ok(SctpPacket { buf })
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

    /// Verification tag.
    #[inline]
    pub fn verification_tag(&self) -> u32 {
        get32(self.b(), 4)
    }

    /// The checksum field as the CRC32c value it encodes.
    #[inline]
    pub fn checksum(&self) -> u32 {
        let b = self.b();
        u32::from_le_bytes([b[8], b[9], b[10], b[11]])
    }

    /// The first chunk's header, if a valid one follows the common header.
    pub fn first_chunk(&self) -> Result<Chunk<'_>> {
        parse_chunk(&self.b()[HEADER_LEN..]).map(|(c, _)| c)
    }

    /// The first chunk's type, if at least a chunk header is present.
    #[inline]
    pub fn first_chunk_type(&self) -> Option<u8> {
        self.b().get(HEADER_LEN).copied()
    }

    /// Walks the chunks.
    #[inline]
    pub fn chunks(&self) -> Chunks<'_> {
        Chunks {
            rest: &self.b()[HEADER_LEN..],
        }
    }

    /// The CRC32c this packet should carry.
    pub fn compute_checksum(&self) -> u32 {
        let b = self.b();
        let s = crc32c_update(!0, &b[..8]);
        let s = crc32c_update(s, &[0; 4]);
        !crc32c_update(s, &b[HEADER_LEN..])
    }

    /// Whether the checksum is correct.
    #[inline]
    pub fn verify_checksum(&self) -> bool {
        self.compute_checksum() == self.checksum()
    }

    /// The packet bytes.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        self.b()
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> SctpPacket<T> {
    /// Sets the source port (call [`SctpPacket::fill_checksum`] after).
    #[inline]
    pub fn set_src_port(&mut self, p: u16) {
        set16(self.buf.as_mut(), 0, p);
    }

    /// Sets the destination port (call [`SctpPacket::fill_checksum`] after).
    #[inline]
    pub fn set_dst_port(&mut self, p: u16) {
        set16(self.buf.as_mut(), 2, p);
    }

    /// Sets the verification tag (call [`SctpPacket::fill_checksum`] after).
    #[inline]
    pub fn set_verification_tag(&mut self, t: u32) {
        set32(self.buf.as_mut(), 4, t);
    }

    /// Recomputes and stores the CRC32c.
    pub fn fill_checksum(&mut self) {
        let c = self.compute_checksum();
        self.buf.as_mut()[8..12].copy_from_slice(&c.to_le_bytes());
    }
}

/// Writes a 12-byte common header with a zero checksum; returns 12.
pub fn write_header(out: &mut [u8], src_port: u16, dst_port: u16, vtag: u32) -> Result<usize> {
    room(out, HEADER_LEN)?;
    set16(out, 0, src_port);
    set16(out, 2, dst_port);
    set32(out, 4, vtag);
    set32(out, 8, 0);
    Ok(HEADER_LEN)
}

/// Writes a chunk header and `value`, zero-padded to a multiple of 4;
/// returns the padded length.
pub fn write_chunk(out: &mut [u8], kind: u8, flags: u8, value: &[u8]) -> Result<usize> {
    let len = CHUNK_HEADER_LEN + value.len();
    let len16 = u16::try_from(len).map_err(|_| Error::TooLong {
        layer: Layer::Sctp,
        len,
    })?;
    let padded = len.next_multiple_of(4);
    room(out, padded)?;
    out[0] = kind;
    out[1] = flags;
    set16(out, 2, len16);
    out[CHUNK_HEADER_LEN..len].copy_from_slice(value);
    out[len..padded].fill(0);
    Ok(padded)
}
