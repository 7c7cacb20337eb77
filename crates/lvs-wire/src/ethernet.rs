//! Ethernet II frames with up to two VLAN tags (802.1Q `0x8100`, 802.1ad
//! `0x88a8`, and the old QinQ `0x9100`).
//!
//! Contract: [`EthernetFrame::new_checked`] accepts any buffer holding the
//! 14-byte header plus each announced tag; the frame's payload is everything
//! after the last tag (trailing Ethernet padding included: the IP views trim
//! it with their own length fields). A third stacked tag is reported as
//! [`Error::Unsupported`]. No FCS is expected. Views never panic and never
//! allocate.

use core::fmt;

use crate::error::{Error, Layer, Result, need, room};
use crate::field::{get_mac, get16, set16};

/// Ethernet header length without tags.
pub const HEADER_LEN: usize = 14;
/// Length of one VLAN tag.
pub const VLAN_TAG_LEN: usize = 4;
/// Most VLAN tags parsed.
pub const MAX_VLAN_TAGS: usize = 2;

/// EtherType values used by this crate.
pub mod ethertype {
    /// IPv4.
    pub const IPV4: u16 = 0x0800;
    /// ARP.
    pub const ARP: u16 = 0x0806;
    /// 802.1Q customer VLAN tag.
    pub const VLAN: u16 = 0x8100;
    /// 802.1ad service VLAN tag (QinQ outer).
    pub const QINQ: u16 = 0x88a8;
    /// Pre-standard QinQ outer tag.
    pub const QINQ_OLD: u16 = 0x9100;
    /// IPv6.
    pub const IPV6: u16 = 0x86dd;

    /// Whether `t` introduces a VLAN tag.
    #[inline]
    pub fn is_vlan(t: u16) -> bool {
        t == VLAN || t == QINQ || t == QINQ_OLD
    }
}

/// A 48-bit MAC address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    /// `ff:ff:ff:ff:ff:ff`.
    pub const BROADCAST: MacAddr = MacAddr([0xff; 6]);
    /// `00:00:00:00:00:00`.
    pub const ZERO: MacAddr = MacAddr([0; 6]);

    /// Group bit set (broadcast included).
    #[inline]
    pub fn is_multicast(&self) -> bool {
        self.0[0] & 1 == 1
    }

    /// The six bytes.
    #[inline]
    pub fn octets(&self) -> [u8; 6] {
        self.0
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

/// One VLAN tag: TPID and TCI fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VlanTag {
    /// Tag protocol identifier (`0x8100`, `0x88a8`, `0x9100`).
    pub tpid: u16,
    /// Priority code point (3 bits).
    pub pcp: u8,
    /// Drop eligible indicator.
    pub dei: bool,
    /// VLAN identifier (12 bits).
    pub vid: u16,
}

impl VlanTag {
    /// An 802.1Q tag with priority 0.
    pub fn dot1q(vid: u16) -> Self {
        VlanTag {
            tpid: ethertype::VLAN,
            pcp: 0,
            dei: false,
            vid: vid & 0x0fff,
        }
    }

    fn tci(&self) -> u16 {
        (u16::from(self.pcp & 7) << 13) | (u16::from(self.dei) << 12) | (self.vid & 0x0fff)
    }
}

/// A checked view of an Ethernet frame.
#[derive(Debug, Clone)]
pub struct EthernetFrame<T> {
    buf: T,
    tags: u8,
}

impl<T: AsRef<[u8]>> EthernetFrame<T> {
    /// Validates the header and any VLAN tags.
    pub fn new_checked(buf: T) -> Result<Self> {
        let b = buf.as_ref();
        need(Layer::Ethernet, b, HEADER_LEN)?;
        let mut tags = 0u8;
        let mut at = 12;
        while ethertype::is_vlan(get16(b, at)) {
            if usize::from(tags) == MAX_VLAN_TAGS {
                return Err(Error::Unsupported {
                    layer: Layer::Vlan,
                    what: "more than two stacked VLAN tags",
                });
            }
            tags += 1;
            at += VLAN_TAG_LEN;
            need(Layer::Vlan, b, at + 2)?;
        }
        Ok(EthernetFrame { buf, tags })
    }

    /// Destination MAC.
    #[inline]
    pub fn dst(&self) -> MacAddr {
        MacAddr(get_mac(self.buf.as_ref(), 0))
    }

    /// Source MAC.
    #[inline]
    pub fn src(&self) -> MacAddr {
        MacAddr(get_mac(self.buf.as_ref(), 6))
    }

    /// Number of VLAN tags (0, 1 or 2).
    #[inline]
    pub fn vlan_count(&self) -> usize {
        usize::from(self.tags)
    }

    /// The `i`-th tag, outermost first.
    pub fn vlan(&self, i: usize) -> Option<VlanTag> {
        if i >= self.vlan_count() {
            return None;
        }
        let b = self.buf.as_ref();
        let at = 12 + i * VLAN_TAG_LEN;
        let tci = get16(b, at + 2);
        Some(VlanTag {
            tpid: get16(b, at),
            pcp: (tci >> 13) as u8,
            dei: tci & 0x1000 != 0,
            vid: tci & 0x0fff,
        })
    }

    /// The EtherType after the tags.
    #[inline]
    pub fn ethertype(&self) -> u16 {
        get16(self.buf.as_ref(), 12 + self.vlan_count() * VLAN_TAG_LEN)
    }

    /// Header length including tags.
    #[inline]
    pub fn header_len(&self) -> usize {
        HEADER_LEN + self.vlan_count() * VLAN_TAG_LEN
    }

    /// Bytes after the header.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buf.as_ref()[self.header_len()..]
    }

    /// The whole frame.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        self.buf.as_ref()
    }

    /// Gives the buffer back.
    #[inline]
    pub fn into_inner(self) -> T {
        self.buf
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> EthernetFrame<T> {
    /// Rewrites the destination MAC (the DR forwarding method).
    #[inline]
    pub fn set_dst(&mut self, mac: MacAddr) {
        self.buf.as_mut()[0..6].copy_from_slice(&mac.0);
    }

    /// Rewrites the source MAC.
    #[inline]
    pub fn set_src(&mut self, mac: MacAddr) {
        self.buf.as_mut()[6..12].copy_from_slice(&mac.0);
    }

    /// Rewrites the VLAN id of tag `i`; false when there is no such tag.
    pub fn set_vlan_id(&mut self, i: usize, vid: u16) -> bool {
        if i >= self.vlan_count() {
            return false;
        }
        let at = 12 + i * VLAN_TAG_LEN + 2;
        let b = self.buf.as_mut();
        let tci = (get16(b, at) & 0xf000) | (vid & 0x0fff);
        set16(b, at, tci);
        true
    }

    /// Rewrites the EtherType after the tags.
    #[inline]
    pub fn set_ethertype(&mut self, t: u16) {
        let at = 12 + self.vlan_count() * VLAN_TAG_LEN;
        set16(self.buf.as_mut(), at, t);
    }

    /// Mutable bytes after the header.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let h = self.header_len();
        &mut self.buf.as_mut()[h..]
    }
}

/// Header length for `tags` VLAN tags.
#[inline]
pub fn header_len(tags: usize) -> usize {
    HEADER_LEN + tags * VLAN_TAG_LEN
}

/// Writes an Ethernet header (with `vlans`, outermost first, at most two) at
/// the start of `out`; returns its length.
pub fn write_header(
    out: &mut [u8],
    dst: MacAddr,
    src: MacAddr,
    vlans: &[VlanTag],
    ethertype: u16,
) -> Result<usize> {
    if vlans.len() > MAX_VLAN_TAGS {
        return Err(Error::Unsupported {
            layer: Layer::Vlan,
            what: "more than two stacked VLAN tags",
        });
    }
    let len = header_len(vlans.len());
    room(out, len)?;
    out[0..6].copy_from_slice(&dst.0);
    out[6..12].copy_from_slice(&src.0);
    let mut at = 12;
    for v in vlans {
        set16(out, at, v.tpid);
        set16(out, at + 2, v.tci());
        at += VLAN_TAG_LEN;
    }
    set16(out, at, ethertype);
    Ok(len)
}
