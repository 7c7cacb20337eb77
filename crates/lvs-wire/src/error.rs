//! Errors returned by the checked constructors and builders.
//!
//! Every error is `Copy` and carries only integers and static strings, so
//! returning one never allocates.

use core::fmt;

/// The protocol layer an [`Error`] refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Layer {
    /// Ethernet II header.
    Ethernet,
    /// An 802.1Q / 802.1ad tag.
    Vlan,
    /// ARP for Ethernet/IPv4.
    Arp,
    /// IPv4 header.
    Ipv4,
    /// IPv6 fixed header.
    Ipv6,
    /// An IPv6 extension header.
    Ipv6Ext,
    /// TCP header.
    Tcp,
    /// UDP header.
    Udp,
    /// SCTP common header or chunk.
    Sctp,
    /// ICMP for IPv4.
    Icmpv4,
    /// ICMPv6.
    Icmpv6,
    /// Generic UDP Encapsulation header.
    Gue,
    /// GRE header.
    Gre,
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Layer::Ethernet => "ethernet",
            Layer::Vlan => "vlan",
            Layer::Arp => "arp",
            Layer::Ipv4 => "ipv4",
            Layer::Ipv6 => "ipv6",
            Layer::Ipv6Ext => "ipv6 extension header",
            Layer::Tcp => "tcp",
            Layer::Udp => "udp",
            Layer::Sctp => "sctp",
            Layer::Icmpv4 => "icmp",
            Layer::Icmpv6 => "icmpv6",
            Layer::Gue => "gue",
            Layer::Gre => "gre",
        };
        f.write_str(s)
    }
}

/// Why a view could not be made or a header could not be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The buffer ends before the header (or the part of it needed) does.
    #[error("{layer}: truncated: need {need} bytes, have {have}")]
    Truncated {
        /// Layer being parsed.
        layer: Layer,
        /// Bytes needed.
        need: usize,
        /// Bytes available.
        have: usize,
    },
    /// The version field is not the one this view parses.
    #[error("{layer}: bad version {version}")]
    BadVersion {
        /// Layer being parsed.
        layer: Layer,
        /// Version found.
        version: u8,
    },
    /// A header-length field is smaller than the fixed header or points
    /// past the end of the buffer.
    #[error("{layer}: bad header length {len}")]
    BadHeaderLen {
        /// Layer being parsed.
        layer: Layer,
        /// Header length in bytes as encoded.
        len: usize,
    },
    /// A total-length field is inconsistent with the header or the buffer.
    #[error("{layer}: bad length field {len} (buffer {have})")]
    BadLength {
        /// Layer being parsed.
        layer: Layer,
        /// Length as encoded.
        len: usize,
        /// Bytes available.
        have: usize,
    },
    /// Well formed, but a variant this crate does not handle (e.g. ARP for
    /// a non-Ethernet hardware type, GRE version 1).
    #[error("{layer}: unsupported {what}")]
    Unsupported {
        /// Layer being parsed.
        layer: Layer,
        /// What is unsupported.
        what: &'static str,
    },
    /// A field holds a value the protocol forbids.
    #[error("{layer}: malformed: {what}")]
    Malformed {
        /// Layer being parsed.
        layer: Layer,
        /// What is wrong.
        what: &'static str,
    },
    /// A builder was given an output buffer (or headroom) too small.
    #[error("buffer too small: need {need} bytes, have {have}")]
    NoRoom {
        /// Bytes needed.
        need: usize,
        /// Bytes available.
        have: usize,
    },
    /// A builder was asked for a packet longer than its length field can
    /// express.
    #[error("{layer}: length {len} does not fit the length field")]
    TooLong {
        /// Layer being built.
        layer: Layer,
        /// Requested length.
        len: usize,
    },
}

/// Result alias for this crate.
pub type Result<T> = core::result::Result<T, Error>;

/// `Err(Truncated)` unless `buf` holds at least `need` bytes.
#[inline]
pub(crate) fn need(layer: Layer, buf: &[u8], need: usize) -> Result<()> {
    if buf.len() < need {
        Err(Error::Truncated {
            layer,
            need,
            have: buf.len(),
        })
    } else {
        Ok(())
    }
}

/// `Err(NoRoom)` unless `buf` holds at least `need` bytes.
#[inline]
pub(crate) fn room(buf: &[u8], need: usize) -> Result<()> {
    if buf.len() < need {
        Err(Error::NoRoom {
            need,
            have: buf.len(),
        })
    } else {
        Ok(())
    }
}
