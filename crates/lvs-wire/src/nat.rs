//! Address and port rewriting that keeps every checksum valid: the building
//! block of NAT (DNAT on the way in, SNAT on the way out) and FULLNAT.
//!
//! Contract: [`rewrite_ipv4`] / [`rewrite_ipv6`] take an IP packet (from its
//! IP header) and apply the requested changes:
//! - IPv4 header checksum: RFC 1624 update per changed address;
//! - TCP, UDP: the pseudo-header address change and the port change are
//!   folded into the transport checksum incrementally (UDP with checksum 0
//!   keeps 0: "none" over IPv4, a tunnel's zero checksum over IPv6 (RFC
//!   6935); a result of 0 is written `0xffff`), as the kernel's
//!   `tcp_snat_handler` / `udp_snat_handler` do. Only the transport header
//!   needs to be present, so a first fragment is handled: its checksum
//!   covers the whole datagram and the delta is the same;
//! - ICMPv6: the pseudo-header address change is folded in; ICMP for IPv4
//!   has no pseudo-header;
//! - SCTP: no pseudo-header; a port change recomputes the CRC32c over the
//!   packet, which therefore must not be a fragment ([`Error::Unsupported`]);
//! - non-first fragments carry no transport header: only addresses change;
//! - a port change on a protocol without ports is [`Error::Unsupported`].
//!
//! ICMP errors about a connection ([`rewrite_icmpv4_error`],
//! [`rewrite_icmpv6_error`]) are translated as the kernel's `ip_vs_nat_icmp`
//! / `ip_vs_nat_icmp_v6` do: the quoted packet's addresses (its IPv4 header
//! checksum recomputed) and ports (when quoted) change, the quoted transport
//! checksum is left as it is, and the ICMP checksum is recomputed over the
//! whole message.
//!
//! On error the packet may be partly rewritten only when the error comes
//! from the transport layer after the IP header was validated; callers drop
//! the packet then. With an IPv6 routing header the pseudo-header uses the
//! final destination, which this function does not track.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::checksum::Delta;
use crate::error::{Error, Layer, Result, need};
use crate::field::{get16, set16};
use crate::icmp::Icmpv4Packet;
use crate::icmpv6::Icmpv6Packet;
use crate::ip::proto;
use crate::ipv4::Ipv4Packet;
use crate::ipv6::Ipv6Packet;
use crate::sctp::SctpPacket;

/// Changes to apply; `None` leaves a field alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rewrite<A> {
    /// New source address.
    pub src: Option<A>,
    /// New destination address.
    pub dst: Option<A>,
    /// New source port.
    pub src_port: Option<u16>,
    /// New destination port.
    pub dst_port: Option<u16>,
}

impl<A> Default for Rewrite<A> {
    fn default() -> Self {
        Rewrite {
            src: None,
            dst: None,
            src_port: None,
            dst_port: None,
        }
    }
}

impl<A> Rewrite<A> {
    fn has_ports(&self) -> bool {
        self.src_port.is_some() || self.dst_port.is_some()
    }
}

/// Applies the transport part: `addr` is the pseudo-header address delta;
/// `fragment` means the packet is a first fragment.
fn rewrite_l4(
    protocol: u8,
    l4: &mut [u8],
    addr: Delta,
    src_port: Option<u16>,
    dst_port: Option<u16>,
    fragment: bool,
) -> Result<()> {
    let ports = src_port.is_some() || dst_port.is_some();
    match protocol {
        proto::TCP | proto::UDP => {
            let (off, layer) = if protocol == proto::TCP {
                (crate::tcp::CHECKSUM_OFFSET, Layer::Tcp)
            } else {
                (crate::udp::CHECKSUM_OFFSET, Layer::Udp)
            };
            need(layer, l4, off + 2)?;
            let mut d = addr;
            if let Some(p) = src_port {
                d = d.change16(get16(l4, 0), p);
                set16(l4, 0, p);
            }
            if let Some(p) = dst_port {
                d = d.change16(get16(l4, 2), p);
                set16(l4, 2, p);
            }
            let old = get16(l4, off);
            let c = if protocol == proto::TCP {
                d.apply(old)
            } else {
                d.apply_udp(old)
            };
            set16(l4, off, c);
            Ok(())
        }
        proto::SCTP => {
            if !ports {
                return Ok(());
            }
            if fragment {
                return Err(Error::Unsupported {
                    layer: Layer::Sctp,
                    what: "port rewrite in a fragment (CRC32c needs the whole packet)",
                });
            }
            let mut s = SctpPacket::new_checked(l4)?;
            if let Some(p) = src_port {
                s.set_src_port(p);
            }
            if let Some(p) = dst_port {
                s.set_dst_port(p);
            }
            s.fill_checksum();
            Ok(())
        }
        _ if ports => Err(Error::Unsupported {
            layer: Layer::Ipv4,
            what: "port rewrite for a protocol without ports",
        }),
        proto::ICMPV6 => {
            need(Layer::Icmpv6, l4, 4)?;
            let c = addr.apply(get16(l4, 2));
            set16(l4, 2, c);
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Rewrites an IPv4 packet in place (see the module docs).
pub fn rewrite_ipv4(packet: &mut [u8], rw: &Rewrite<Ipv4Addr>) -> Result<()> {
    let mut ip = Ipv4Packet::new_checked(packet)?;
    let protocol = ip.protocol();
    let mut addr = Delta::new();
    if let Some(a) = rw.src {
        addr = addr.change_ipv4(ip.src(), a);
    }
    if let Some(a) = rw.dst {
        addr = addr.change_ipv4(ip.dst(), a);
    }
    if protocol == proto::ICMP && rw.has_ports() {
        return Err(Error::Unsupported {
            layer: Layer::Icmpv4,
            what: "port rewrite for a protocol without ports",
        });
    }
    if ip.has_transport_header() && protocol != proto::ICMP {
        let fragment = ip.is_fragment();
        rewrite_l4(
            protocol,
            ip.payload_mut(),
            addr,
            rw.src_port,
            rw.dst_port,
            fragment,
        )?;
    }
    let b = ip.into_inner();
    if let Some(a) = rw.src {
        b[12..16].copy_from_slice(&a.octets());
    }
    if let Some(a) = rw.dst {
        b[16..20].copy_from_slice(&a.octets());
    }
    let c = addr.apply(get16(b, 10));
    set16(b, 10, c);
    Ok(())
}

/// Rewrites an IPv6 packet in place (see the module docs).
pub fn rewrite_ipv6(packet: &mut [u8], rw: &Rewrite<Ipv6Addr>) -> Result<()> {
    let mut ip = Ipv6Packet::new_checked(packet)?;
    let ul = ip.upper_layer()?;
    let mut addr = Delta::new();
    if let Some(a) = rw.src {
        addr = addr.change_ipv6(&ip.src(), &a);
    }
    if let Some(a) = rw.dst {
        addr = addr.change_ipv6(&ip.dst(), &a);
    }
    if ul.has_transport_header() {
        let off = ul.offset - crate::ipv6::HEADER_LEN;
        rewrite_l4(
            ul.protocol,
            &mut ip.payload_mut()[off..],
            addr,
            rw.src_port,
            rw.dst_port,
            ul.fragment.is_some(),
        )?;
    }
    if let Some(a) = rw.src {
        ip.set_src(&a);
    }
    if let Some(a) = rw.dst {
        ip.set_dst(&a);
    }
    Ok(())
}

/// Rewrites the ports of a quoted transport header if it carries ports and
/// at least their four bytes were quoted.
fn rewrite_quoted_ports(protocol: u8, l4: &mut [u8], rw_sp: Option<u16>, rw_dp: Option<u16>) {
    if !matches!(protocol, proto::TCP | proto::UDP | proto::SCTP) || l4.len() < 4 {
        return;
    }
    if let Some(p) = rw_sp {
        set16(l4, 0, p);
    }
    if let Some(p) = rw_dp {
        set16(l4, 2, p);
    }
}

/// Translates an ICMP error (the ICMP message, from its type byte): the
/// quoted IPv4 packet gets `quote`'s addresses and ports, its header
/// checksum is recomputed, and so is the ICMP checksum.
pub fn rewrite_icmpv4_error(icmp: &mut [u8], quote: &Rewrite<Ipv4Addr>) -> Result<()> {
    let mut m = Icmpv4Packet::new_checked(&mut *icmp)?;
    if !m.is_error() {
        return Err(Error::Unsupported {
            layer: Layer::Icmpv4,
            what: "translation of a non-error message",
        });
    }
    {
        let mut q = Ipv4Packet::new_truncated(m.payload_mut())?;
        if let Some(a) = quote.src {
            q.set_src(a);
        }
        if let Some(a) = quote.dst {
            q.set_dst(a);
        }
        q.fill_checksum();
        let protocol = q.protocol();
        if q.has_transport_header() {
            rewrite_quoted_ports(protocol, q.payload_mut(), quote.src_port, quote.dst_port);
        }
    }
    m.fill_checksum();
    Ok(())
}

/// Translates an ICMPv6 error (the message, from its type byte) travelling
/// from `src` to `dst` (the outer addresses after any rewrite of the outer
/// header): the quoted IPv6 packet gets `quote`'s addresses and ports, and
/// the ICMPv6 checksum is recomputed.
pub fn rewrite_icmpv6_error(
    icmp: &mut [u8],
    src: &Ipv6Addr,
    dst: &Ipv6Addr,
    quote: &Rewrite<Ipv6Addr>,
) -> Result<()> {
    let mut m = Icmpv6Packet::new_checked(&mut *icmp)?;
    if !m.is_error() {
        return Err(Error::Unsupported {
            layer: Layer::Icmpv6,
            what: "translation of a non-error message",
        });
    }
    {
        let mut q = Ipv6Packet::new_truncated(m.payload_mut())?;
        let ul = q.upper_layer()?;
        if let Some(a) = quote.src {
            q.set_src(&a);
        }
        if let Some(a) = quote.dst {
            q.set_dst(&a);
        }
        if ul.has_transport_header() {
            let off = ul.offset - crate::ipv6::HEADER_LEN;
            rewrite_quoted_ports(
                ul.protocol,
                &mut q.payload_mut()[off..],
                quote.src_port,
                quote.dst_port,
            );
        }
    }
    m.fill_checksum(src, dst);
    Ok(())
}
