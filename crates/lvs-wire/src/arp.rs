//! ARP for Ethernet and IPv4 (RFC 826).
//!
//! Contract: [`ArpPacket::new_checked`] accepts 28 bytes or more with
//! hardware type 1, protocol type `0x0800`, lengths 6 and 4, and reports
//! anything else as [`Error::Unsupported`]. Bytes past 28 (Ethernet padding)
//! are ignored. [`write()`] builds requests and replies (gratuitous ARP is a
//! request whose sender and target IP are equal).

use std::net::Ipv4Addr;

use crate::error::{Error, Layer, Result, need, room};
use crate::ethernet::{MacAddr, ethertype};
use crate::field::{get_mac, get_v4, get16, set16};

/// Length of an Ethernet/IPv4 ARP packet.
pub const LEN: usize = 28;
/// `ar$op` request.
pub const OP_REQUEST: u16 = 1;
/// `ar$op` reply.
pub const OP_REPLY: u16 = 2;

/// A checked view of an Ethernet/IPv4 ARP packet.
#[derive(Debug, Clone)]
pub struct ArpPacket<T> {
    buf: T,
}

impl<T: AsRef<[u8]>> ArpPacket<T> {
    /// Validates length and the hardware/protocol types and sizes.
    pub fn new_checked(buf: T) -> Result<Self> {
        let b = buf.as_ref();
        need(Layer::Arp, b, LEN)?;
        if get16(b, 0) != 1 || get16(b, 2) != ethertype::IPV4 || b[4] != 6 || b[5] != 4 {
            return Err(Error::Unsupported {
                layer: Layer::Arp,
                what: "hardware/protocol other than Ethernet/IPv4",
            });
        }
        Ok(ArpPacket { buf })
    }

    /// Operation (1 request, 2 reply).
    #[inline]
    pub fn operation(&self) -> u16 {
        get16(self.buf.as_ref(), 6)
    }

    /// Sender hardware address.
    #[inline]
    pub fn sender_mac(&self) -> MacAddr {
        MacAddr(get_mac(self.buf.as_ref(), 8))
    }

    /// Sender protocol address.
    #[inline]
    pub fn sender_ip(&self) -> Ipv4Addr {
        get_v4(self.buf.as_ref(), 14)
    }

    /// Target hardware address.
    #[inline]
    pub fn target_mac(&self) -> MacAddr {
        MacAddr(get_mac(self.buf.as_ref(), 18))
    }

    /// Target protocol address.
    #[inline]
    pub fn target_ip(&self) -> Ipv4Addr {
        get_v4(self.buf.as_ref(), 24)
    }

    /// Gratuitous: sender and target protocol addresses are equal.
    #[inline]
    pub fn is_gratuitous(&self) -> bool {
        self.sender_ip() == self.target_ip()
    }
}

/// Writes an Ethernet/IPv4 ARP packet into the first 28 bytes of `out`.
pub fn write(
    out: &mut [u8],
    operation: u16,
    sender_mac: MacAddr,
    sender_ip: Ipv4Addr,
    target_mac: MacAddr,
    target_ip: Ipv4Addr,
) -> Result<usize> {
    room(out, LEN)?;
    set16(out, 0, 1);
    set16(out, 2, ethertype::IPV4);
    out[4] = 6;
    out[5] = 4;
    set16(out, 6, operation);
    out[8..14].copy_from_slice(&sender_mac.0);
    out[14..18].copy_from_slice(&sender_ip.octets());
    out[18..24].copy_from_slice(&target_mac.0);
    out[24..28].copy_from_slice(&target_ip.octets());
    Ok(LEN)
}
