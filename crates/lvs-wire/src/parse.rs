//! One-pass summary of a frame: Ethernet (+VLAN), IPv4/IPv6 (+extension
//! headers), and the transport header's ports, flags or ICMP type — what a
//! load balancer needs to classify a packet, with every offset it needs to
//! rewrite it.
//!
//! Contract: [`parse_frame`] / [`parse_ip`] never panic and never allocate.
//! They fail on a malformed or truncated header of a layer they descend into
//! (an IP packet whose length fields disagree with the buffer, a TCP header
//! with a bad data offset, a UDP length past the packet); they do not verify
//! checksums. Non-IP frames (ARP, unknown EtherTypes) summarise as
//! [`L3::Arp`] / [`L3::Other`]. For a non-first fragment the transport is
//! [`Transport::Fragment`]; for an unknown protocol [`Transport::Other`].

use std::net::IpAddr;

use crate::arp::ArpPacket;
use crate::error::Result;
use crate::ethernet::{EthernetFrame, MacAddr, VlanTag, ethertype};
use crate::icmp::Icmpv4Packet;
use crate::icmpv6::Icmpv6Packet;
use crate::ip::proto;
use crate::ipv4::Ipv4Packet;
use crate::ipv6::Ipv6Packet;
use crate::sctp::SctpPacket;
use crate::tcp::TcpSegment;
use crate::udp::UdpDatagram;

/// A summarised frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameSummary {
    /// Destination MAC.
    pub dst_mac: MacAddr,
    /// Source MAC.
    pub src_mac: MacAddr,
    /// Outer VLAN tag, if any.
    pub vlan: Option<VlanTag>,
    /// Inner VLAN tag of a QinQ frame.
    pub inner_vlan: Option<VlanTag>,
    /// EtherType after the tags.
    pub ethertype: u16,
    /// Offset of the network header.
    pub l3_offset: usize,
    /// Network layer.
    pub l3: L3,
}

/// The network layer of a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum L3 {
    /// IPv4 or IPv6 (offsets inside relative to the IP header).
    Ip(IpSummary),
    /// ARP (Ethernet/IPv4).
    Arp {
        /// Operation.
        operation: u16,
    },
    /// Anything else.
    Other,
}

/// Fragment information.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fragment {
    /// Offset in bytes.
    pub offset: usize,
    /// More fragments follow.
    pub more: bool,
    /// Identification (16 bits for IPv4, 32 for IPv6).
    pub ident: u32,
}

/// A summarised IP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpSummary {
    /// 4 or 6.
    pub version: u8,
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// Transport protocol (after IPv6 extension headers).
    pub protocol: u8,
    /// TTL / hop limit.
    pub ttl: u8,
    /// TOS / traffic class.
    pub tos: u8,
    /// Packet length (IP header included, padding excluded).
    pub len: usize,
    /// Offset of the transport header from the IP header.
    pub l4_offset: usize,
    /// Fragment information, if a fragment.
    pub fragment: Option<Fragment>,
    /// IPv4 DF flag (false for IPv6).
    pub dont_fragment: bool,
    /// Transport summary.
    pub transport: Transport,
}

/// A summarised transport header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// TCP.
    Tcp {
        /// Source port.
        src_port: u16,
        /// Destination port.
        dst_port: u16,
        /// Flags.
        flags: u16,
    },
    /// UDP.
    Udp {
        /// Source port.
        src_port: u16,
        /// Destination port.
        dst_port: u16,
    },
    /// SCTP.
    Sctp {
        /// Source port.
        src_port: u16,
        /// Destination port.
        dst_port: u16,
        /// First chunk's type, if present.
        first_chunk: Option<u8>,
    },
    /// ICMP (v4).
    Icmp {
        /// Type.
        kind: u8,
        /// Code.
        code: u8,
    },
    /// ICMPv6.
    Icmpv6 {
        /// Type.
        kind: u8,
        /// Code.
        code: u8,
    },
    /// A non-first fragment: no transport header.
    Fragment,
    /// Another protocol.
    Other,
}

impl Transport {
    /// Ports of TCP, UDP and SCTP.
    pub fn ports(&self) -> Option<(u16, u16)> {
        match *self {
            Transport::Tcp {
                src_port, dst_port, ..
            }
            | Transport::Udp { src_port, dst_port }
            | Transport::Sctp {
                src_port, dst_port, ..
            } => Some((src_port, dst_port)),
            _ => None,
        }
    }
}

/// Summarises an Ethernet frame.
pub fn parse_frame(frame: &[u8]) -> Result<FrameSummary> {
    let eth = EthernetFrame::new_checked(frame)?;
    let l3_offset = eth.header_len();
    let t = eth.ethertype();
    let payload = eth.payload();
    let l3 = match t {
        ethertype::IPV4 | ethertype::IPV6 => L3::Ip(parse_ip(payload)?),
        ethertype::ARP => L3::Arp {
            operation: ArpPacket::new_checked(payload)?.operation(),
        },
        _ => L3::Other,
    };
    Ok(FrameSummary {
        dst_mac: eth.dst(),
        src_mac: eth.src(),
        vlan: eth.vlan(0),
        inner_vlan: eth.vlan(1),
        ethertype: t,
        l3_offset,
        l3,
    })
}

/// Summarises an IP packet (version from its first nibble).
pub fn parse_ip(packet: &[u8]) -> Result<IpSummary> {
    if packet.first().map(|b| b >> 4) == Some(6) {
        let ip = Ipv6Packet::new_checked(packet)?;
        let ul = ip.upper_layer()?;
        let fragment = ul.fragment.map(|f| Fragment {
            offset: f.offset_bytes(),
            more: f.more,
            ident: f.ident,
        });
        let end = ip.packet().len();
        let transport = if ul.has_transport_header() {
            transport(ul.protocol, &packet[ul.offset..end], fragment.is_some())?
        } else {
            Transport::Fragment
        };
        Ok(IpSummary {
            version: 6,
            src: IpAddr::V6(ip.src()),
            dst: IpAddr::V6(ip.dst()),
            protocol: ul.protocol,
            ttl: ip.hop_limit(),
            tos: ip.traffic_class(),
            len: end,
            l4_offset: ul.offset,
            fragment,
            dont_fragment: false,
            transport,
        })
    } else {
        let ip = Ipv4Packet::new_checked(packet)?;
        let fragment = ip.is_fragment().then(|| Fragment {
            offset: ip.frag_offset_bytes(),
            more: ip.more_fragments(),
            ident: u32::from(ip.ident()),
        });
        let transport = if ip.has_transport_header() {
            transport(ip.protocol(), ip.payload(), fragment.is_some())?
        } else {
            Transport::Fragment
        };
        Ok(IpSummary {
            version: 4,
            src: IpAddr::V4(ip.src()),
            dst: IpAddr::V4(ip.dst()),
            protocol: ip.protocol(),
            ttl: ip.ttl(),
            tos: ip.tos(),
            len: ip.packet().len(),
            l4_offset: ip.header_len(),
            fragment,
            dont_fragment: ip.dont_fragment(),
            transport,
        })
    }
}

/// Transport summary; a first fragment only needs the fixed header (UDP's
/// length field then covers the whole datagram, not this fragment).
fn transport(protocol: u8, l4: &[u8], first_fragment: bool) -> Result<Transport> {
    Ok(match protocol {
        proto::TCP => {
            let t = TcpSegment::new_checked(l4)?;
            Transport::Tcp {
                src_port: t.src_port(),
                dst_port: t.dst_port(),
                flags: t.flags(),
            }
        }
        proto::UDP => {
            if first_fragment {
                crate::error::need(crate::error::Layer::Udp, l4, crate::udp::HEADER_LEN)?;
            } else {
                UdpDatagram::new_checked(l4)?;
            }
            let (src_port, dst_port) = crate::ip::ports(l4).unwrap_or((0, 0));
            Transport::Udp { src_port, dst_port }
        }
        proto::SCTP => {
            let s = SctpPacket::new_checked(l4)?;
            Transport::Sctp {
                src_port: s.src_port(),
                dst_port: s.dst_port(),
                first_chunk: s.first_chunk_type(),
            }
        }
        proto::ICMP => {
            let i = Icmpv4Packet::new_checked(l4)?;
            Transport::Icmp {
                kind: i.kind(),
                code: i.code(),
            }
        }
        proto::ICMPV6 => {
            let i = Icmpv6Packet::new_checked(l4)?;
            Transport::Icmpv6 {
                kind: i.kind(),
                code: i.code(),
            }
        }
        _ => Transport::Other,
    })
}
