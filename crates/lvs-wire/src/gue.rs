//! Generic UDP Encapsulation (draft-ietf-intarea-gue) as Linux implements it
//! (`include/net/gue.h`, `net/ipv4/fou.c`, IPVS `ipvs_gue_encap`), with the
//! remote checksum offload option (draft-herbert-remotecsumoffload).
//!
//! Wire format (variant 0): one byte `version(2) | C(1) | hlen(5)`, the
//! protocol (or control type), 16 bits of flags; `hlen` counts the optional
//! fields in 32-bit words. Linux knows one standard flag, `P` (bit 0,
//! private flags present: a 32-bit private-flags word), and one private flag,
//! `REMCSUM` (bit 31), followed by the 32-bit remcsum option: the start of
//! the checksummed region and the position of the checksum field, both
//! relative to the start of the encapsulated packet. Variant 1 (the first
//! two bits `01`) is "direct" IPv4/IPv6 encapsulation without a GUE header.
//!
//! Contract: [`GueHeader::new_checked`] takes the UDP payload. Like
//! `validate_gue_flags`, unknown standard or private flags are
//! [`Error::Unsupported`]; unlike it, a remcsum flag whose option does not fit
//! `hlen` is an error rather than read past the options. The
//! IPVS sender ([`write_header`]) emits hlen 0 and flags 0, or, for remcsum,
//! hlen 2 with `P`, `REMCSUM` and the option.
//!
//! Remote checksum offload: the sender leaves the inner transport checksum
//! holding the folded pseudo-header sum (the `CHECKSUM_PARTIAL` state; see
//! [`remcsum_to_partial`]); the receiver sums the inner packet from `start`
//! to its end and stores the complement at `offset` ([`remcsum_apply`], the
//! kernel's `remcsum_adjust`). IPVS adds the option only for packets whose
//! checksum is still partial (locally generated); for forwarded packets with
//! complete checksums `--tun-remcsum` behaves as `--tun-csum`.

use crate::checksum::{self, pseudo_header_v4, pseudo_header_v6};
use crate::error::{Error, Layer, Result, need, room};
use crate::field::{get16, get32, set16, set32};
use crate::ip::proto;
use crate::ipv4::Ipv4Packet;
use crate::ipv6::Ipv6Packet;
use crate::{tcp, udp};

/// Base header length.
pub const HEADER_LEN: usize = 4;
/// Standard flag: private flags present.
pub const FLAG_PRIV: u16 = 0x0001;
/// Length of the private flags word.
pub const PRIV_LEN: usize = 4;
/// Private flag: remote checksum offload option present.
pub const PFLAG_REMCSUM: u32 = 0x8000_0000;
/// Length of the remcsum option.
pub const REMCSUM_LEN: usize = 4;
/// Header length with the remcsum option.
pub const REMCSUM_HEADER_LEN: usize = HEADER_LEN + PRIV_LEN + REMCSUM_LEN;

/// A checked view of a GUE header and what follows.
#[derive(Debug, Clone)]
pub struct GueHeader<T> {
    buf: T,
    header_len: usize,
}

impl<T: AsRef<[u8]>> GueHeader<T> {
    /// Validates the header (see the module docs).
    pub fn new_checked(buf: T) -> Result<Self> {
        let b = buf.as_ref();
        need(Layer::Gue, b, 1)?;
        match b[0] >> 6 {
            0 => {}
            1 => {
                return match b[0] >> 4 {
                    4 | 6 => Ok(GueHeader { buf, header_len: 0 }),
                    _ => Err(Error::Malformed {
                        layer: Layer::Gue,
                        what: "direct encapsulation of neither IPv4 nor IPv6",
                    }),
                };
            }
            v => {
                return Err(Error::BadVersion {
                    layer: Layer::Gue,
                    version: v,
                });
            }
        }
        need(Layer::Gue, b, HEADER_LEN)?;
        let optlen = usize::from(b[0] & 0x1f) * 4;
        let header_len = HEADER_LEN + optlen;
        need(Layer::Gue, b, header_len)?;
        let flags = get16(b, 2);
        if flags & !FLAG_PRIV != 0 {
            return Err(Error::Unsupported {
                layer: Layer::Gue,
                what: "unknown standard flags",
            });
        }
        if flags & FLAG_PRIV != 0 {
            if optlen < PRIV_LEN {
                return Err(Error::BadHeaderLen {
                    layer: Layer::Gue,
                    len: header_len,
                });
            }
            let pflags = get32(b, HEADER_LEN);
            if pflags & !PFLAG_REMCSUM != 0 {
                return Err(Error::Unsupported {
                    layer: Layer::Gue,
                    what: "unknown private flags",
                });
            }
            if pflags & PFLAG_REMCSUM != 0 && optlen < PRIV_LEN + REMCSUM_LEN {
                return Err(Error::BadHeaderLen {
                    layer: Layer::Gue,
                    len: header_len,
                });
            }
        }
        Ok(GueHeader { buf, header_len })
    }

    #[inline]
    fn b(&self) -> &[u8] {
        self.buf.as_ref()
    }

    /// Variant: 0 (GUE header) or 1 (direct IP).
    #[inline]
    pub fn version(&self) -> u8 {
        self.b()[0] >> 6
    }

    /// Control message (C bit; variant 0 only).
    #[inline]
    pub fn is_control(&self) -> bool {
        self.version() == 0 && self.b()[0] & 0x20 != 0
    }

    /// Header length in bytes (0 for direct encapsulation).
    #[inline]
    pub fn header_len(&self) -> usize {
        self.header_len
    }

    /// Inner IP protocol (or control type when [`GueHeader::is_control`]).
    /// For variant 1, 4 (IPIP) or 41 (IPv6) from the inner version nibble.
    #[inline]
    pub fn protocol(&self) -> u8 {
        let b = self.b();
        if self.version() == 1 {
            if b[0] >> 4 == 4 {
                proto::IPIP
            } else {
                proto::IPV6
            }
        } else {
            b[1]
        }
    }

    /// Standard flags (variant 0).
    #[inline]
    pub fn flags(&self) -> u16 {
        if self.version() == 0 {
            get16(self.b(), 2)
        } else {
            0
        }
    }

    /// The private flags word, if the P flag is set.
    #[inline]
    pub fn private_flags(&self) -> Option<u32> {
        (self.flags() & FLAG_PRIV != 0).then(|| get32(self.b(), HEADER_LEN))
    }

    /// The remcsum option `(start, offset)`, relative to the start of the
    /// encapsulated packet.
    #[inline]
    pub fn remcsum(&self) -> Option<(u16, u16)> {
        let p = self.private_flags()?;
        (p & PFLAG_REMCSUM != 0).then(|| {
            let b = self.b();
            let at = HEADER_LEN + PRIV_LEN;
            (get16(b, at), get16(b, at + 2))
        })
    }

    /// The encapsulated packet.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.b()[self.header_len..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> GueHeader<T> {
    /// The encapsulated packet, mutable.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let h = self.header_len;
        &mut self.buf.as_mut()[h..]
    }
}

/// Writes a variant-0 GUE header for `protocol` as IPVS does: 4 bytes, or 12
/// with the remcsum option `(start, offset)`; returns the length.
pub fn write_header(out: &mut [u8], protocol: u8, remcsum: Option<(u16, u16)>) -> Result<usize> {
    let len = if remcsum.is_some() {
        REMCSUM_HEADER_LEN
    } else {
        HEADER_LEN
    };
    room(out, len)?;
    out[0] = ((len - HEADER_LEN) / 4) as u8;
    out[1] = protocol;
    match remcsum {
        None => set16(out, 2, 0),
        Some((start, offset)) => {
            set16(out, 2, FLAG_PRIV);
            set32(out, 4, PFLAG_REMCSUM);
            set16(out, 8, start);
            set16(out, 10, offset);
        }
    }
    Ok(len)
}

/// Where the transport checksum of an inner IPv4/IPv6 packet is: `(start,
/// offset)` = (transport header offset, checksum field offset), both from
/// the start of `inner`. `None` when there is nothing to offload: not TCP or
/// UDP, a non-first fragment, or UDP over IPv4 without a checksum.
pub fn remcsum_params(inner: &[u8]) -> Result<Option<(u16, u16)>> {
    let (protocol, l4, l4_end) = locate_l4(inner)?;
    let field = match protocol {
        proto::TCP => tcp::CHECKSUM_OFFSET,
        proto::UDP => udp::CHECKSUM_OFFSET,
        _ => return Ok(None),
    };
    let Some(l4) = l4 else { return Ok(None) };
    if l4 + field + 2 > l4_end {
        return Err(Error::Truncated {
            layer: if protocol == proto::TCP {
                Layer::Tcp
            } else {
                Layer::Udp
            },
            need: l4 + field + 2,
            have: l4_end,
        });
    }
    if protocol == proto::UDP && inner[0] >> 4 == 4 && get16(inner, l4 + field) == 0 {
        return Ok(None);
    }
    let start = u16::try_from(l4).map_err(|_| Error::TooLong {
        layer: Layer::Gue,
        len: l4,
    })?;
    let off = u16::try_from(l4 + field).map_err(|_| Error::TooLong {
        layer: Layer::Gue,
        len: l4 + field,
    })?;
    Ok(Some((start, off)))
}

/// (protocol, transport offset if present, packet end) of an inner packet.
fn locate_l4(inner: &[u8]) -> Result<(u8, Option<usize>, usize)> {
    match crate::ip::version(inner) {
        Some(4) => {
            let ip = Ipv4Packet::new_checked(inner)?;
            let l4 = ip.has_transport_header().then(|| ip.header_len());
            Ok((ip.protocol(), l4, ip.packet().len()))
        }
        Some(6) => {
            let ip = Ipv6Packet::new_checked(inner)?;
            let ul = ip.upper_layer()?;
            let l4 = ul.has_transport_header().then_some(ul.offset);
            Ok((ul.protocol, l4, ip.packet().len()))
        }
        _ => Err(Error::Malformed {
            layer: Layer::Gue,
            what: "inner packet is neither IPv4 nor IPv6",
        }),
    }
}

/// Sender side of remote checksum offload: replaces the complete TCP/UDP
/// checksum of `inner` with the folded pseudo-header sum, as a
/// `CHECKSUM_PARTIAL` packet carries it, and returns the remcsum option
/// values. `None` (packet untouched) when [`remcsum_params`] finds nothing
/// to offload.
pub fn remcsum_to_partial(inner: &mut [u8]) -> Result<Option<(u16, u16)>> {
    let Some((start, off)) = remcsum_params(inner)? else {
        return Ok(None);
    };
    let (protocol, _, end) = locate_l4(inner)?;
    let l4_len = end - usize::from(start);
    let pseudo = if inner[0] >> 4 == 4 {
        let ip = Ipv4Packet::new_checked(&*inner)?;
        pseudo_header_v4(ip.src(), ip.dst(), protocol, l4_len as u16)
    } else {
        let ip = Ipv6Packet::new_checked(&*inner)?;
        pseudo_header_v6(&ip.src(), &ip.dst(), protocol, l4_len as u32)
    };
    set16(inner, usize::from(off), pseudo.sum());
    Ok(Some((start, off)))
}

/// Receiver side: sums `inner` from `start` to its end and stores the
/// complement at `offset` (kernel `remcsum_adjust`).
pub fn remcsum_apply(inner: &mut [u8], start: u16, offset: u16) -> Result<()> {
    let (s, o) = (usize::from(start), usize::from(offset));
    if s > inner.len() || o + 2 > inner.len() {
        return Err(Error::Malformed {
            layer: Layer::Gue,
            what: "remcsum start or offset past the packet",
        });
    }
    let c = checksum::checksum(&inner[s..]);
    set16(inner, o, c);
    Ok(())
}
