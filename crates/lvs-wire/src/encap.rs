//! Tunnel encapsulation for the TUN forwarding method: IPIP (4in4, 6in6 and
//! the mixed families 4in6 / 6in4), GUE and GRE, in place, in front of an
//! inner packet that already sits in the buffer with enough headroom; and
//! the matching decapsulation parser.
//!
//! Mirrors the kernel's `ip_vs_tunnel_xmit{,_v6}`, `ipvs_gue_encap` and
//! `ipvs_gre_encap`:
//! - outer IPv4: IHL 5, the given TOS/TTL/DF/id, protocol 4 (IPv4 inner), 41
//!   (IPv6 inner), 17 (GUE) or 47 (GRE), header checksum;
//! - outer IPv6: the given traffic class, flow label and hop limit;
//! - [`inner_fields`] derives what the kernel copies from the inner packet
//!   (`ip_vs_prepare_tunneled_skb`): the DS field with
//!   [`crate::ip::ecn_encapsulate`], the TTL or hop limit, and DF (IPv4 inner
//!   only; an IPv6 inner packet gives DF clear);
//! - GUE: UDP (the caller's flow-hash source port, `--tun-port` destination)
//!   and a 4-byte GUE header; UDP checksum 0 for `nocsum`, a full checksum
//!   for `csum` and `remcsum`. The kernel adds the remcsum option only when
//!   the inner packet's checksum is still partial (`CHECKSUM_PARTIAL`, a
//!   locally generated packet); a forwarded packet with a complete checksum
//!   gets plain `csum` framing. [`Encap::encapsulate`] is that forwarding
//!   case; [`Encap::encapsulate_partial`] is for an inner TCP/UDP packet
//!   whose checksum field holds the pseudo-header sum (see
//!   [`crate::gue::remcsum_to_partial`]) and adds the 8-byte private-flags
//!   and option block pointing at it;
//! - GRE: 4-byte header, or 8 bytes with the C bit and a checksum over the
//!   GRE header and inner packet; protocol `0x0800` / `0x86dd`.
//!
//! Cost: the outer headers are written once; checksummed variants (GUE
//! `csum`/`remcsum`, GRE `csum`) read the whole inner packet once. No
//! allocation.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::error::{Error, Layer, Result};
use crate::ethernet::ethertype;
use crate::gre::{self, GreHeader};
use crate::gue::{self, GueHeader};
use crate::ip::{self, proto};
use crate::ipv4::{self, Ipv4Header, Ipv4Packet};
use crate::ipv6::{self, Ipv6Header, Ipv6Packet};
use crate::udp::{self, UdpDatagram};

/// GUE checksum mode (`--tun-nocsum`, `--tun-csum`, `--tun-remcsum`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GueCsum {
    /// UDP checksum 0.
    None,
    /// Full UDP checksum.
    Csum,
    /// Full UDP checksum plus remote checksum offload of the inner packet.
    RemCsum,
}

/// Tunnel type (`--tun-type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tunnel {
    /// IP in IP (protocol 4 or 41).
    Ipip,
    /// UDP + GUE.
    Gue {
        /// UDP source port (the kernel uses a flow hash).
        src_port: u16,
        /// UDP destination port (`--tun-port`).
        dst_port: u16,
        /// Checksum mode.
        csum: GueCsum,
    },
    /// GRE, with or without checksum.
    Gre {
        /// Checksum present.
        csum: bool,
    },
}

/// Outer IP header fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outer {
    /// IPv4 outer header.
    V4 {
        /// Tunnel source.
        src: Ipv4Addr,
        /// Tunnel destination (the real server).
        dst: Ipv4Addr,
        /// TTL.
        ttl: u8,
        /// TOS.
        tos: u8,
        /// Don't Fragment.
        dont_fragment: bool,
        /// Identification.
        ident: u16,
    },
    /// IPv6 outer header.
    V6 {
        /// Tunnel source.
        src: Ipv6Addr,
        /// Tunnel destination (the real server).
        dst: Ipv6Addr,
        /// Hop limit.
        hop_limit: u8,
        /// Traffic class.
        traffic_class: u8,
        /// Flow label.
        flow_label: u32,
    },
}

impl Outer {
    /// Outer IP header length (20 or 40).
    #[inline]
    pub fn header_len(&self) -> usize {
        match self {
            Outer::V4 { .. } => ipv4::MIN_HEADER_LEN,
            Outer::V6 { .. } => ipv6::HEADER_LEN,
        }
    }
}

/// What the kernel copies from the inner packet into the outer header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InnerFields {
    /// Outer DS byte (ECN-encapsulated inner DS).
    pub ds: u8,
    /// Inner TTL / hop limit.
    pub ttl: u8,
    /// Inner DF (always false for IPv6 inner packets).
    pub dont_fragment: bool,
}

/// Reads [`InnerFields`] from an inner IPv4 or IPv6 packet.
pub fn inner_fields(inner: &[u8]) -> Result<InnerFields> {
    match ip::version(inner) {
        Some(4) => {
            let p = Ipv4Packet::new_checked(inner)?;
            Ok(InnerFields {
                ds: ip::ecn_encapsulate(p.tos()),
                ttl: p.ttl(),
                dont_fragment: p.dont_fragment(),
            })
        }
        Some(6) => {
            let p = Ipv6Packet::new_checked(inner)?;
            Ok(InnerFields {
                ds: ip::ecn_encapsulate(p.traffic_class()),
                ttl: p.hop_limit(),
                dont_fragment: false,
            })
        }
        _ => Err(not_ip()),
    }
}

fn not_ip() -> Error {
    Error::Malformed {
        layer: Layer::Ipv4,
        what: "inner packet is neither IPv4 nor IPv6",
    }
}

/// A complete encapsulation: outer IP header and tunnel type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Encap {
    /// Outer IP header.
    pub outer: Outer,
    /// Tunnel type.
    pub tunnel: Tunnel,
}

impl Encap {
    /// Tunnel header length after the outer IP header, given whether a
    /// remcsum option is added.
    fn tunnel_len(&self, remcsum: bool) -> usize {
        match self.tunnel {
            Tunnel::Ipip => 0,
            Tunnel::Gue { .. } => {
                udp::HEADER_LEN
                    + if remcsum {
                        gue::REMCSUM_HEADER_LEN
                    } else {
                        gue::HEADER_LEN
                    }
            }
            Tunnel::Gre { csum } => gre::header_len(csum),
        }
    }

    /// The most headroom [`Encap::encapsulate`] may need.
    pub fn max_header_len(&self) -> usize {
        let rem = matches!(
            self.tunnel,
            Tunnel::Gue {
                csum: GueCsum::RemCsum,
                ..
            }
        );
        self.outer.header_len() + self.tunnel_len(rem)
    }

    /// The overhead the tunnel adds to a forwarded packet (complete
    /// checksums) for the PMTU check: the kernel's tunnel MTU is the route
    /// MTU minus this.
    pub fn overhead(&self) -> usize {
        self.outer.header_len() + self.tunnel_len(false)
    }

    /// Encapsulates the inner packet `buf[inner_start..inner_start +
    /// inner_len]`, whose checksums are complete, by writing the outer
    /// headers just before it. Returns the offset where the outer packet
    /// starts; it ends where the inner one does. Fails without touching
    /// `buf` when the headroom is too small, the inner packet is not
    /// IPv4/IPv6, or the result would be too long.
    pub fn encapsulate(
        &self,
        buf: &mut [u8],
        inner_start: usize,
        inner_len: usize,
    ) -> Result<usize> {
        self.encap(buf, inner_start, inner_len, false)
    }

    /// Like [`Encap::encapsulate`] for an inner packet whose TCP/UDP
    /// checksum is partial (the folded pseudo-header sum): with
    /// [`GueCsum::RemCsum`] the remcsum option is added for it, as the
    /// kernel does for `CHECKSUM_PARTIAL` packets. Other tunnel types frame
    /// it as [`Encap::encapsulate`] does (the inner checksum stays partial).
    pub fn encapsulate_partial(
        &self,
        buf: &mut [u8],
        inner_start: usize,
        inner_len: usize,
    ) -> Result<usize> {
        self.encap(buf, inner_start, inner_len, true)
    }

    fn encap(
        &self,
        buf: &mut [u8],
        inner_start: usize,
        inner_len: usize,
        inner_partial: bool,
    ) -> Result<usize> {
        let end = inner_start
            .checked_add(inner_len)
            .filter(|&e| e <= buf.len())
            .ok_or(Error::NoRoom {
                need: inner_start.saturating_add(inner_len),
                have: buf.len(),
            })?;
        let inner_v = ip::version(&buf[inner_start..end]).ok_or_else(not_ip)?;
        let option = match self.tunnel {
            Tunnel::Gue {
                csum: GueCsum::RemCsum,
                ..
            } if inner_partial => gue::remcsum_params(&buf[inner_start..end])?,
            _ => None,
        };
        let rem = option.is_some();
        let tlen = self.tunnel_len(rem);
        let hlen = self.outer.header_len() + tlen;
        if inner_start < hlen {
            return Err(Error::NoRoom {
                need: hlen,
                have: inner_start,
            });
        }
        let outer_payload = tlen + inner_len;
        let limit = match self.outer {
            Outer::V4 { .. } => usize::from(u16::MAX) - ipv4::MIN_HEADER_LEN,
            Outer::V6 { .. } => usize::from(u16::MAX),
        };
        if outer_payload > limit {
            return Err(Error::TooLong {
                layer: match self.outer {
                    Outer::V4 { .. } => Layer::Ipv4,
                    Outer::V6 { .. } => Layer::Ipv6,
                },
                len: hlen + inner_len,
            });
        }
        let start = inner_start - hlen;
        let ip_proto_inner = if inner_v == 4 {
            proto::IPIP
        } else {
            proto::IPV6
        };

        // Tunnel header (and inner remcsum rewrite) first: the outer IP header
        // does not depend on it.
        let t_start = start + self.outer.header_len();
        let next_proto = match self.tunnel {
            Tunnel::Ipip => ip_proto_inner,
            Tunnel::Gue {
                src_port,
                dst_port,
                csum,
            } => {
                let g_at = t_start + udp::HEADER_LEN;
                gue::write_header(&mut buf[g_at..inner_start], ip_proto_inner, option)?;
                udp::write_header(
                    &mut buf[t_start..g_at],
                    src_port,
                    dst_port,
                    outer_payload - udp::HEADER_LEN,
                )?;
                if csum != GueCsum::None {
                    let mut d = UdpDatagram::new_checked(&mut buf[t_start..end])?;
                    match self.outer {
                        Outer::V4 { src, dst, .. } => d.fill_checksum_v4(src, dst),
                        Outer::V6 { src, dst, .. } => d.fill_checksum_v6(&src, &dst),
                    }
                }
                proto::UDP
            }
            Tunnel::Gre { csum } => {
                let et = if inner_v == 4 {
                    ethertype::IPV4
                } else {
                    ethertype::IPV6
                };
                gre::write_header(&mut buf[t_start..inner_start], et, csum)?;
                if csum {
                    GreHeader::new_checked(&mut buf[t_start..end])?.fill_checksum();
                }
                proto::GRE
            }
        };
        match self.outer {
            Outer::V4 {
                src,
                dst,
                ttl,
                tos,
                dont_fragment,
                ident,
            } => {
                let h = Ipv4Header {
                    src,
                    dst,
                    protocol: next_proto,
                    ttl,
                    tos,
                    ident,
                    dont_fragment,
                    more_fragments: false,
                    frag_offset: 0,
                };
                h.write(&mut buf[start..t_start], outer_payload)?;
            }
            Outer::V6 {
                src,
                dst,
                hop_limit,
                traffic_class,
                flow_label,
            } => {
                let h = Ipv6Header {
                    src,
                    dst,
                    next_header: next_proto,
                    hop_limit,
                    traffic_class,
                    flow_label,
                };
                h.write(&mut buf[start..t_start], outer_payload)?;
            }
        }
        Ok(start)
    }
}

/// Tunnel type found by [`decapsulate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TunnelKind {
    /// IPIP / IP6IP6 / mixed.
    Ipip,
    /// GUE; `remcsum` is the option if present.
    Gue {
        /// The remcsum option.
        remcsum: Option<(u16, u16)>,
    },
    /// GRE.
    Gre,
}

/// Where the inner packet of a tunnelled packet is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decapsulated {
    /// Tunnel type.
    pub kind: TunnelKind,
    /// Offset of the inner packet in the outer packet.
    pub inner_offset: usize,
    /// Inner packet length.
    pub inner_len: usize,
    /// Inner IP version (4 or 6).
    pub inner_version: u8,
}

/// Finds the inner packet of an IPIP, GUE (UDP to `gue_port`) or GRE
/// packet starting at the outer IP header. `Ok(None)` when the packet is not
/// one of these tunnels. Checksums are not verified.
pub fn decapsulate(packet: &[u8], gue_port: u16) -> Result<Option<Decapsulated>> {
    let (protocol, l4, end) = match ip::version(packet) {
        Some(4) => {
            let p = Ipv4Packet::new_checked(packet)?;
            if p.is_fragment() {
                return Ok(None);
            }
            (p.protocol(), p.header_len(), p.packet().len())
        }
        Some(6) => {
            let p = Ipv6Packet::new_checked(packet)?;
            let ul = p.upper_layer()?;
            if ul.fragment.is_some() {
                return Ok(None);
            }
            (ul.protocol, ul.offset, p.packet().len())
        }
        _ => return Err(not_ip()),
    };
    let body = &packet[l4..end];
    let mut end = end;
    let (kind, off) = match protocol {
        proto::IPIP | proto::IPV6 => (TunnelKind::Ipip, 0),
        proto::UDP => {
            let d = UdpDatagram::new_checked(body)?;
            end = l4 + usize::from(d.len_field());
            if d.dst_port() != gue_port {
                return Ok(None);
            }
            let g = GueHeader::new_checked(d.payload())?;
            if g.is_control() {
                return Ok(None);
            }
            (
                TunnelKind::Gue {
                    remcsum: g.remcsum(),
                },
                udp::HEADER_LEN + g.header_len(),
            )
        }
        proto::GRE => {
            let g = GreHeader::new_checked(body)?;
            (TunnelKind::Gre, g.header_len())
        }
        _ => return Ok(None),
    };
    let inner_offset = l4 + off;
    let inner = &packet[inner_offset..end];
    let inner_version = match ip::version(inner) {
        Some(v) => v,
        None => return Err(not_ip()),
    };
    Ok(Some(Decapsulated {
        kind,
        inner_offset,
        inner_len: inner.len(),
        inner_version,
    }))
}
