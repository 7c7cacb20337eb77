//! The IPVS sync message formats, version 0 and version 1 (`ip_vs_sync.c`).
//!
//! A sync datagram is one message: a header then `nr_conns` connection
//! entries.
//!
//! Version 0 (`sync_version=0`, IPv4 only):
//! ```text
//! header  nr_conns u8 | syncid u8 | size be16
//! entry   reserved u8 | protocol u8 | cport be16 | vport be16 | dport be16 |
//!         caddr be32 | vaddr be32 | daddr be32 | flags be16 | state be16     (24 bytes)
//!         + 24-byte sequence option when flags has IN_SEQ or OUT_SEQ
//! ```
//! The v0 sequence option is the kernel's `struct ip_vs_seq` pair copied
//! with `memcpy`, i.e. in the sender's host byte order; this codec reads and
//! writes it little-endian, as x86 kernels do.
//!
//! Version 1 (default):
//! ```text
//! header  reserved u8 = 0 | syncid u8 | size be16 | nr_conns u8 | version u8 = 1 | spare be16 = 0
//! entry   type u8 (bit 0: IPv6) | protocol u8 | ver_size be16 (version << 12 | size) |
//!         flags be32 | state be16 | cport be16 | vport be16 | dport be16 |
//!         fwmark be32 | timeout be32 (seconds) | caddr | vaddr | daddr
//!         (36 bytes for IPv4, 72 for IPv6), then options:
//!         type u8 | length u8 | data   -- 1 SEQ_DATA (24 bytes, network order),
//!                                         2 PE_DATA, 3 PE_NAME; type bit 0x40 = ignorable
//! ```
//! `size` counts the entry with its options but without padding; the next
//! entry starts at the next 4-byte boundary. Like the kernel, the encoder
//! writes the padding *before* the following entry, so a message never ends
//! in padding.
//!
//! Decoding follows `ip_vs_process_message`: structural errors stop the
//! walk (the kernel drops the rest of the datagram but keeps the entries it
//! already applied), so entries are yielded one by one by [`Entries`]. The
//! decoder never panics and never allocates; entries borrow the datagram.
//! Semantic checks (protocol, state, persistence engine, syncid) belong to
//! [`crate::backup`].

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use thiserror::Error;

use crate::flags;

/// Length of the version 0 header.
pub const HEADER_V0_LEN: usize = 4;
/// Length of the version 1 header.
pub const HEADER_V1_LEN: usize = 8;
/// Length of a version 0 entry without options.
pub const CONN_V0_LEN: usize = 24;
/// Length of the sequence option (both formats).
pub const SEQ_OPT_LEN: usize = 24;
/// Length of a version 1 IPv4 entry without options.
pub const CONN_V1_V4_LEN: usize = 36;
/// Length of a version 1 IPv6 entry without options.
pub const CONN_V1_V6_LEN: usize = 72;
/// `SYNC_PROTO_VER`: the version byte of version 1 messages.
pub const SYNC_PROTO_VER: u8 = 1;
/// Option type: sequence data.
pub const OPT_SEQ_DATA: u8 = 1;
/// Option type: persistence engine data (SIP Call-ID).
pub const OPT_PE_DATA: u8 = 2;
/// Option type: persistence engine name.
pub const OPT_PE_NAME: u8 = 3;
/// Option type bit: the option may be ignored when unknown
/// (`IPVS_OPT_F_PARAM` = `1 << (7 - 1)`).
pub const OPT_F_PARAM: u8 = 0x40;
/// Longest persistence-engine data (`IP_VS_PEDATA_MAXLEN`).
pub const PE_DATA_MAXLEN: usize = 255;
/// Longest persistence-engine name (`IP_VS_PENAME_MAXLEN`).
pub const PE_NAME_MAXLEN: usize = 16;
/// Type bit of version 1 entries: IPv6 addresses.
pub const STYPE_F_INET6: u8 = 1;

/// Message format version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    /// The original IPv4-only format without timeouts.
    V0,
    /// The current format (IPv6, fwmark, timeout, options).
    V1,
}

impl Version {
    /// Header length of this format.
    pub const fn header_len(self) -> usize {
        match self {
            Version::V0 => HEADER_V0_LEN,
            Version::V1 => HEADER_V1_LEN,
        }
    }
}

/// One direction's TCP sequence adjustment (`struct ip_vs_seq`, NAT FTP).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Seq {
    /// Sequence number where the adjustment starts.
    pub init_seq: u32,
    /// Current delta.
    pub delta: u32,
    /// Delta before the last change.
    pub previous_delta: u32,
}

/// Both sequence adjustments of a connection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct SeqData {
    /// Client-to-server adjustment.
    pub in_seq: Seq,
    /// Server-to-client adjustment.
    pub out_seq: Seq,
}

/// One connection (or template) as carried by a sync message.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ConnEntry<'a> {
    /// IP protocol number (0 for fwmark templates).
    pub protocol: u8,
    /// Client address.
    pub caddr: IpAddr,
    /// Virtual address.
    pub vaddr: IpAddr,
    /// Destination (real server) address.
    pub daddr: IpAddr,
    /// Client port.
    pub cport: u16,
    /// Virtual port.
    pub vport: u16,
    /// Destination port.
    pub dport: u16,
    /// `IP_VS_CONN_F_*` bits as on the wire (16 bits in version 0).
    pub flags: u32,
    /// Protocol state (or template state).
    pub state: u16,
    /// Firewall mark (version 1 only; 0 in version 0).
    pub fwmark: u32,
    /// Timeout in seconds (version 1 only; 0 in version 0, which a backup
    /// reads as "use the per-state default").
    pub timeout: u32,
    /// Sequence adjustments (present exactly when the entry carries the option).
    pub seq: Option<SeqData>,
    /// Persistence-engine data (version 1).
    pub pe_data: Option<&'a [u8]>,
    /// Persistence-engine name (version 1).
    pub pe_name: Option<&'a [u8]>,
    /// The entry carried an option of unknown type without the ignorable bit
    /// (a kernel backup skips such entries). Always false when encoding.
    pub unknown_mandatory_option: bool,
}

impl ConnEntry<'_> {
    /// True for a persistence template.
    pub fn is_template(&self) -> bool {
        self.flags & flags::TEMPLATE != 0
    }

    /// True when the three addresses are IPv6.
    pub fn is_ipv6(&self) -> bool {
        self.caddr.is_ipv6()
    }
}

/// Why a datagram was rejected before its entries were looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum HeaderError {
    /// Shorter than the 4-byte version 0 header ("message header too short").
    #[error("message header too short: {0} bytes")]
    TooShort(usize),
    /// The header's size differs from the datagram length ("bogus message size").
    #[error("bogus message size: header says {header} bytes, datagram has {actual}")]
    SizeMismatch {
        /// The `size` field.
        header: u16,
        /// The datagram length.
        actual: usize,
    },
}

/// A structural error inside a message: the kernel drops the rest of the
/// datagram (entries before it were already applied).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum EntryError {
    /// The datagram ends before the fixed part of the next entry
    /// ("v0, bogus conn" / "Dropping buffer, too small").
    #[error("entry {index} truncated")]
    Truncated {
        /// Zero-based entry index.
        index: usize,
    },
    /// Version 0: the sequence option does not fit in the datagram.
    #[error("entry {index}: sequence option truncated")]
    V0OptionsTruncated {
        /// Zero-based entry index.
        index: usize,
    },
    /// Version 1: the entry's size goes past the datagram ("msg > buffer").
    #[error("entry {index}: size {size} goes past the end of the datagram")]
    PastEnd {
        /// Zero-based entry index.
        index: usize,
        /// The entry's size field.
        size: usize,
    },
    /// Version 1: the entry's version nibble is not 0 ("Unknown version").
    #[error("entry {index}: unknown entry version {version}")]
    UnknownVersion {
        /// Zero-based entry index.
        index: usize,
        /// The version nibble.
        version: u8,
    },
    /// Version 1: type byte is neither 0 nor has the IPv6 bit (kernel error -10).
    #[error("entry {index}: unknown type {ty:#x}")]
    BadType {
        /// Zero-based entry index.
        index: usize,
        /// The type byte.
        ty: u8,
    },
    /// Version 1: size smaller than the fixed part for the family (-20).
    #[error("entry {index}: size {size} smaller than the fixed part")]
    SizeTooSmall {
        /// Zero-based entry index.
        index: usize,
        /// The entry's size field.
        size: usize,
    },
    /// Version 1: an option header is cut off (-30).
    #[error("entry {index}: option header truncated")]
    OptionTruncated {
        /// Zero-based entry index.
        index: usize,
    },
    /// Version 1: an option has length 0 or goes past the entry (-40).
    #[error("entry {index}: bad option length {len}")]
    OptionLength {
        /// Zero-based entry index.
        index: usize,
        /// The option's length byte.
        len: u8,
    },
    /// Version 1: sequence option with a length other than 24, or twice (-50).
    #[error("entry {index}: bogus sequence option")]
    BadSeqOption {
        /// Zero-based entry index.
        index: usize,
    },
    /// Version 1: persistence-engine data twice (-60).
    #[error("entry {index}: persistence-engine data found twice")]
    BadPeData {
        /// Zero-based entry index.
        index: usize,
    },
    /// Version 1: persistence-engine name longer than 16 bytes, or twice (-70).
    #[error("entry {index}: bogus persistence-engine name")]
    BadPeName {
        /// Zero-based entry index.
        index: usize,
    },
}

/// Why an entry cannot be encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum EncodeError {
    /// The client, virtual and destination addresses are not of one family
    /// (a version 1 entry carries one family).
    #[error("addresses of mixed families")]
    MixedFamilies,
    /// Version 0 carries IPv4 only.
    #[error("version 0 carries IPv4 connections only")]
    V0NotIpv4,
    /// Persistence-engine data longer than 255 bytes.
    #[error("persistence-engine data longer than {PE_DATA_MAXLEN} bytes")]
    PeDataTooLong,
    /// Persistence-engine name longer than 16 bytes.
    #[error("persistence-engine name longer than {PE_NAME_MAXLEN} bytes")]
    PeNameTooLong,
    /// A persistence-engine name is only sent together with data.
    #[error("persistence-engine name without data")]
    PeNameWithoutData,
    /// The entry does not fit in the message (or the message has 255 entries).
    #[error("message full")]
    Full,
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn v4(b: &[u8], at: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(b[at], b[at + 1], b[at + 2], b[at + 3]))
}

fn v6(b: &[u8], at: usize) -> IpAddr {
    let mut a = [0u8; 16];
    a.copy_from_slice(&b[at..at + 16]);
    IpAddr::V6(Ipv6Addr::from(a))
}

fn seq_from(b: &[u8], at: usize, le: bool) -> Seq {
    let rd = |o| if le { le32(b, at + o) } else { be32(b, at + o) };
    Seq {
        init_seq: rd(0),
        delta: rd(4),
        previous_delta: rd(8),
    }
}

fn seqdata_from(b: &[u8], at: usize, le: bool) -> SeqData {
    SeqData {
        in_seq: seq_from(b, at, le),
        out_seq: seq_from(b, at + 12, le),
    }
}

/// A datagram whose header passed the length checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message<'a> {
    /// Detected format.
    pub version: Version,
    /// Sync id of the sender.
    pub syncid: u8,
    /// Number of entries announced.
    pub nr_conns: u8,
    data: &'a [u8],
}

/// Parse a datagram's header the way `ip_vs_process_message` does: at least
/// 4 bytes, `size` equal to the length, then version 1 when the reserved
/// byte is 0, the version byte is 1 and the spare field is 0, else version 0.
/// (A version 1 header with another version byte therefore reads as a
/// version 0 message with zero entries.)
pub fn parse(data: &[u8]) -> Result<Message<'_>, HeaderError> {
    if data.len() < HEADER_V0_LEN {
        return Err(HeaderError::TooShort(data.len()));
    }
    let size = be16(data, 2);
    if usize::from(size) != data.len() {
        return Err(HeaderError::SizeMismatch {
            header: size,
            actual: data.len(),
        });
    }
    let syncid = data[1];
    let is_v1 = data.len() >= HEADER_V1_LEN
        && data[0] == 0
        && data[5] == SYNC_PROTO_VER
        && be16(data, 6) == 0;
    Ok(if is_v1 {
        Message {
            version: Version::V1,
            syncid,
            nr_conns: data[4],
            data,
        }
    } else {
        Message {
            version: Version::V0,
            syncid,
            nr_conns: data[0],
            data,
        }
    })
}

impl<'a> Message<'a> {
    /// The entries, in order. The iterator stops after the first error.
    pub fn entries(&self) -> Entries<'a> {
        Entries {
            data: self.data,
            version: self.version,
            remaining: usize::from(self.nr_conns),
            index: 0,
            pos: self.version.header_len(),
        }
    }

    /// The whole datagram.
    pub fn bytes(&self) -> &'a [u8] {
        self.data
    }
}

/// Iterator over a message's entries (see [`Message::entries`]).
#[derive(Debug, Clone)]
pub struct Entries<'a> {
    data: &'a [u8],
    version: Version,
    remaining: usize,
    index: usize,
    pos: usize,
}

impl<'a> Iterator for Entries<'a> {
    type Item = Result<ConnEntry<'a>, EntryError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        let r = match self.version {
            Version::V0 => self.next_v0(),
            Version::V1 => self.next_v1(),
        };
        self.index += 1;
        if r.is_err() {
            self.remaining = 0;
        }
        Some(r)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.remaining))
    }
}

impl<'a> Entries<'a> {
    fn next_v0(&mut self) -> Result<ConnEntry<'a>, EntryError> {
        let (b, p, index) = (self.data, self.pos, self.index);
        if p + CONN_V0_LEN > b.len() {
            return Err(EntryError::Truncated { index });
        }
        let flags = u32::from(be16(b, p + 20));
        let mut seq = None;
        let mut end = p + CONN_V0_LEN;
        if flags & flags::SEQ_MASK != 0 {
            if end + SEQ_OPT_LEN > b.len() {
                return Err(EntryError::V0OptionsTruncated { index });
            }
            seq = Some(seqdata_from(b, end, true));
            end += SEQ_OPT_LEN;
        }
        self.pos = end;
        Ok(ConnEntry {
            protocol: b[p + 1],
            cport: be16(b, p + 2),
            vport: be16(b, p + 4),
            dport: be16(b, p + 6),
            caddr: v4(b, p + 8),
            vaddr: v4(b, p + 12),
            daddr: v4(b, p + 16),
            flags,
            state: be16(b, p + 22),
            fwmark: 0,
            timeout: 0,
            seq,
            pe_data: None,
            pe_name: None,
            unknown_mandatory_option: false,
        })
    }

    fn next_v1(&mut self) -> Result<ConnEntry<'a>, EntryError> {
        let (b, p, index) = (self.data, self.pos, self.index);
        // The kernel checks room for the IPv4 fixed part whatever the family.
        if p + CONN_V1_V4_LEN > b.len() {
            return Err(EntryError::Truncated { index });
        }
        let ver_size = be16(b, p + 2);
        let size = usize::from(ver_size & 0x0fff);
        let end = p + size;
        if end > b.len() {
            return Err(EntryError::PastEnd { index, size });
        }
        let version = (ver_size >> 12) as u8;
        if version != 0 {
            return Err(EntryError::UnknownVersion { index, version });
        }
        let ty = b[p];
        let ipv6 = ty & STYPE_F_INET6 != 0;
        if !ipv6 && ty != 0 {
            return Err(EntryError::BadType { index, ty });
        }
        let fixed = if ipv6 { CONN_V1_V6_LEN } else { CONN_V1_V4_LEN };
        if fixed > size {
            return Err(EntryError::SizeTooSmall { index, size });
        }
        let (caddr, vaddr, daddr) = if ipv6 {
            (v6(b, p + 24), v6(b, p + 40), v6(b, p + 56))
        } else {
            (v4(b, p + 24), v4(b, p + 28), v4(b, p + 32))
        };
        let mut e = ConnEntry {
            protocol: b[p + 1],
            flags: be32(b, p + 4),
            state: be16(b, p + 8),
            cport: be16(b, p + 10),
            vport: be16(b, p + 12),
            dport: be16(b, p + 14),
            fwmark: be32(b, p + 16),
            timeout: be32(b, p + 20),
            caddr,
            vaddr,
            daddr,
            seq: None,
            pe_data: None,
            pe_name: None,
            unknown_mandatory_option: false,
        };
        let mut o = p + fixed;
        while o < end {
            if o + 2 > end {
                return Err(EntryError::OptionTruncated { index });
            }
            let (ptype, plen) = (b[o], b[o + 1]);
            let len = usize::from(plen);
            o += 2;
            if len == 0 || o + len > end {
                return Err(EntryError::OptionLength { index, len: plen });
            }
            let data = &b[o..o + len];
            match ptype & !OPT_F_PARAM {
                OPT_SEQ_DATA => {
                    if len != SEQ_OPT_LEN || e.seq.is_some() {
                        return Err(EntryError::BadSeqOption { index });
                    }
                    e.seq = Some(seqdata_from(b, o, false));
                }
                OPT_PE_DATA => {
                    if e.pe_data.is_some() {
                        return Err(EntryError::BadPeData { index });
                    }
                    e.pe_data = Some(data);
                }
                OPT_PE_NAME => {
                    if len > PE_NAME_MAXLEN || e.pe_name.is_some() {
                        return Err(EntryError::BadPeName { index });
                    }
                    e.pe_name = Some(data);
                }
                _ => {
                    if ptype & OPT_F_PARAM == 0 {
                        // The kernel stops parsing this entry and skips it.
                        e.unknown_mandatory_option = true;
                        break;
                    }
                }
            }
            o += len;
        }
        self.pos = p + ((size + 3) & !3);
        Ok(e)
    }
}

fn family_check(e: &ConnEntry<'_>) -> Result<bool, EncodeError> {
    match (e.caddr, e.vaddr, e.daddr) {
        (IpAddr::V4(_), IpAddr::V4(_), IpAddr::V4(_)) => Ok(false),
        (IpAddr::V6(_), IpAddr::V6(_), IpAddr::V6(_)) => Ok(true),
        _ => Err(EncodeError::MixedFamilies),
    }
}

/// Encoded length of an entry in a format (without alignment padding).
pub fn entry_len(version: Version, e: &ConnEntry<'_>) -> Result<usize, EncodeError> {
    let ipv6 = family_check(e)?;
    match version {
        Version::V0 => {
            if ipv6 {
                return Err(EncodeError::V0NotIpv4);
            }
            Ok(CONN_V0_LEN
                + if e.flags & flags::SEQ_MASK != 0 {
                    SEQ_OPT_LEN
                } else {
                    0
                })
        }
        Version::V1 => {
            let mut len = if ipv6 { CONN_V1_V6_LEN } else { CONN_V1_V4_LEN };
            if e.seq.is_some() {
                len += 2 + SEQ_OPT_LEN;
            }
            match (e.pe_data, e.pe_name) {
                (None, Some(_)) => return Err(EncodeError::PeNameWithoutData),
                (Some(d), name) => {
                    if d.len() > PE_DATA_MAXLEN {
                        return Err(EncodeError::PeDataTooLong);
                    }
                    len += 2 + d.len();
                    if let Some(n) = name {
                        if n.len() > PE_NAME_MAXLEN {
                            return Err(EncodeError::PeNameTooLong);
                        }
                        len += 2 + n.len();
                    }
                }
                (None, None) => {}
            }
            Ok(len)
        }
    }
}

/// Builds one sync message, appending entries as the kernel's
/// `ip_vs_sync_conn` / `ip_vs_sync_conn_v0` do.
#[derive(Debug, Clone)]
pub struct MessageBuilder {
    buf: Vec<u8>,
    version: Version,
    nr: u8,
    capacity: usize,
}

impl MessageBuilder {
    /// An empty message with room for `capacity` bytes (header included).
    /// Like `ip_vs_sync_buff_create`, the capacity is raised so that at
    /// least `first_entry_len` fits.
    pub fn new(version: Version, syncid: u8, capacity: usize, first_entry_len: usize) -> Self {
        let capacity = capacity.max(version.header_len() + first_entry_len);
        let mut buf = Vec::with_capacity(capacity);
        match version {
            Version::V0 => buf.extend_from_slice(&[0, syncid, 0, HEADER_V0_LEN as u8]),
            Version::V1 => {
                buf.extend_from_slice(&[0, syncid, 0, HEADER_V1_LEN as u8, 0, SYNC_PROTO_VER, 0, 0])
            }
        }
        MessageBuilder {
            buf,
            version,
            nr: 0,
            capacity,
        }
    }

    /// Format of this message.
    pub fn version(&self) -> Version {
        self.version
    }

    /// Number of entries so far.
    pub fn len(&self) -> usize {
        usize::from(self.nr)
    }

    /// True when no entry was added.
    pub fn is_empty(&self) -> bool {
        self.nr == 0
    }

    /// Current message size in bytes.
    pub fn size(&self) -> usize {
        self.buf.len()
    }

    fn pad(&self) -> usize {
        match self.version {
            Version::V0 => 0,
            Version::V1 => (4 - self.buf.len() % 4) % 4,
        }
    }

    /// True when an entry of `len` bytes still fits (with its padding).
    pub fn fits(&self, len: usize) -> bool {
        self.nr < u8::MAX && self.buf.len() + self.pad() + len <= self.capacity
    }

    /// Append an entry. Fails with [`EncodeError::Full`] when it does not fit.
    pub fn push(&mut self, e: &ConnEntry<'_>) -> Result<(), EncodeError> {
        let len = entry_len(self.version, e)?;
        if !self.fits(len) {
            return Err(EncodeError::Full);
        }
        let pad = self.pad();
        self.buf.resize(self.buf.len() + pad, 0);
        match self.version {
            Version::V0 => self.put_v0(e),
            Version::V1 => self.put_v1(e, len),
        }
        self.nr += 1;
        let size = self.buf.len() as u16;
        self.buf[2..4].copy_from_slice(&size.to_be_bytes());
        match self.version {
            Version::V0 => self.buf[0] = self.nr,
            Version::V1 => self.buf[4] = self.nr,
        }
        Ok(())
    }

    fn put_addr(&mut self, a: IpAddr) {
        match a {
            IpAddr::V4(a) => self.buf.extend_from_slice(&a.octets()),
            IpAddr::V6(a) => self.buf.extend_from_slice(&a.octets()),
        }
    }

    fn put_v0(&mut self, e: &ConnEntry<'_>) {
        let b = &mut self.buf;
        b.push(0);
        b.push(e.protocol);
        b.extend_from_slice(&e.cport.to_be_bytes());
        b.extend_from_slice(&e.vport.to_be_bytes());
        b.extend_from_slice(&e.dport.to_be_bytes());
        self.put_addr(e.caddr);
        self.put_addr(e.vaddr);
        self.put_addr(e.daddr);
        let b = &mut self.buf;
        // The kernel stores htons(flags): only the low 16 bits travel.
        b.extend_from_slice(&(e.flags as u16).to_be_bytes());
        b.extend_from_slice(&e.state.to_be_bytes());
        if e.flags & flags::SEQ_MASK != 0 {
            let s = e.seq.unwrap_or_default();
            for v in [
                s.in_seq.init_seq,
                s.in_seq.delta,
                s.in_seq.previous_delta,
                s.out_seq.init_seq,
                s.out_seq.delta,
                s.out_seq.previous_delta,
            ] {
                b.extend_from_slice(&v.to_le_bytes());
            }
        }
    }

    fn put_v1(&mut self, e: &ConnEntry<'_>, len: usize) {
        let b = &mut self.buf;
        b.push(if e.is_ipv6() { STYPE_F_INET6 } else { 0 });
        b.push(e.protocol);
        b.extend_from_slice(&((len & 0x0fff) as u16).to_be_bytes());
        b.extend_from_slice(&e.flags.to_be_bytes());
        b.extend_from_slice(&e.state.to_be_bytes());
        b.extend_from_slice(&e.cport.to_be_bytes());
        b.extend_from_slice(&e.vport.to_be_bytes());
        b.extend_from_slice(&e.dport.to_be_bytes());
        b.extend_from_slice(&e.fwmark.to_be_bytes());
        b.extend_from_slice(&e.timeout.to_be_bytes());
        self.put_addr(e.caddr);
        self.put_addr(e.vaddr);
        self.put_addr(e.daddr);
        let b = &mut self.buf;
        if let Some(s) = e.seq {
            b.push(OPT_SEQ_DATA);
            b.push(SEQ_OPT_LEN as u8);
            for v in [
                s.in_seq.init_seq,
                s.in_seq.delta,
                s.in_seq.previous_delta,
                s.out_seq.init_seq,
                s.out_seq.delta,
                s.out_seq.previous_delta,
            ] {
                b.extend_from_slice(&v.to_be_bytes());
            }
        }
        if let Some(d) = e.pe_data {
            b.push(OPT_PE_DATA);
            b.push(d.len() as u8);
            b.extend_from_slice(d);
            if let Some(n) = e.pe_name {
                b.push(OPT_PE_NAME);
                b.push(n.len() as u8);
                b.extend_from_slice(n);
            }
        }
    }

    /// The finished datagram.
    pub fn finish(self) -> Vec<u8> {
        self.buf
    }

    /// The datagram so far.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4e(c: [u8; 4], v: [u8; 4], d: [u8; 4]) -> ConnEntry<'static> {
        ConnEntry {
            protocol: 6,
            caddr: IpAddr::from(c),
            vaddr: IpAddr::from(v),
            daddr: IpAddr::from(d),
            cport: 41000,
            vport: 80,
            dport: 80,
            flags: 0x0100,
            state: 1,
            fwmark: 0,
            timeout: 900,
            seq: None,
            pe_data: None,
            pe_name: None,
            unknown_mandatory_option: false,
        }
    }

    #[test]
    fn v1_entry_layout_by_hand() {
        // One IPv4 TCP entry, laid out per the kernel's struct ip_vs_sync_v4:
        // header 00 07 00 2c 01 01 00 00 (size 8 + 36 = 44 = 0x2c)
        // entry  00 06 00 24 | 00 00 01 00 | 00 01 | a0 28 | 00 50 | 00 50 |
        //        00 00 00 00 | 00 00 03 84 | 0a 00 01 02 | 0a 00 01 64 | 0a 00 02 02
        let mut m = MessageBuilder::new(Version::V1, 7, 1472, 0);
        m.push(&v4e([10, 0, 1, 2], [10, 0, 1, 100], [10, 0, 2, 2]))
            .unwrap();
        let want: Vec<u8> = vec![
            0x00, 0x07, 0x00, 0x2c, 0x01, 0x01, 0x00, 0x00, //
            0x00, 0x06, 0x00, 0x24, 0x00, 0x00, 0x01, 0x00, 0x00, 0x01, 0xa0, 0x28, 0x00, 0x50,
            0x00, 0x50, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x84, 0x0a, 0x00, 0x01, 0x02,
            0x0a, 0x00, 0x01, 0x64, 0x0a, 0x00, 0x02, 0x02,
        ];
        assert_eq!(m.as_bytes(), &want[..]);
        let msg = parse(&want).unwrap();
        assert_eq!(msg.version, Version::V1);
        assert_eq!(msg.syncid, 7);
        let got: Vec<_> = msg.entries().collect();
        assert_eq!(
            got,
            vec![Ok(v4e([10, 0, 1, 2], [10, 0, 1, 100], [10, 0, 2, 2]))]
        );
    }

    #[test]
    fn v0_entry_layout_by_hand() {
        // v0: header 01 07 00 1c; entry 00 11 | a7 f8 | 00 35 | 00 35 | caddr vaddr daddr |
        // flags 01 00 | state 00 00. Timeout and fwmark are not carried.
        let mut e = v4e([10, 0, 1, 2], [10, 0, 1, 100], [10, 0, 2, 2]);
        e.protocol = 17;
        e.cport = 43000;
        e.vport = 53;
        e.dport = 53;
        e.state = 0;
        e.timeout = 0;
        let mut m = MessageBuilder::new(Version::V0, 7, 1472, 0);
        m.push(&e).unwrap();
        let want: Vec<u8> = vec![
            0x01, 0x07, 0x00, 0x1c, 0x00, 0x11, 0xa7, 0xf8, 0x00, 0x35, 0x00, 0x35, 0x0a, 0x00,
            0x01, 0x02, 0x0a, 0x00, 0x01, 0x64, 0x0a, 0x00, 0x02, 0x02, 0x01, 0x00, 0x00, 0x00,
        ];
        assert_eq!(m.as_bytes(), &want[..]);
        let msg = parse(&want).unwrap();
        assert_eq!(msg.version, Version::V0);
        assert_eq!(msg.entries().next(), Some(Ok(e)));
    }

    #[test]
    fn padding_goes_before_the_next_entry_only() {
        // PE data of 3 bytes: 36 + 2 + 3 = 41 bytes, so 3 bytes of padding separate it
        // from the next entry, and the message does not end in padding.
        let mut a = v4e([1, 1, 1, 1], [2, 2, 2, 2], [3, 3, 3, 3]);
        a.pe_data = Some(b"abc");
        let b = v4e([4, 4, 4, 4], [2, 2, 2, 2], [3, 3, 3, 3]);
        let mut m = MessageBuilder::new(Version::V1, 1, 1472, 0);
        m.push(&a).unwrap();
        assert_eq!(m.size(), 8 + 41);
        m.push(&b).unwrap();
        assert_eq!(m.size(), 8 + 41 + 3 + 36);
        m.push(&a).unwrap();
        assert_eq!(m.size(), 8 + 41 + 3 + 36 + 41);
        let bytes = m.finish();
        assert_eq!(&bytes[8 + 41..8 + 44], &[0, 0, 0]);
        let msg = parse(&bytes).unwrap();
        let got: Vec<_> = msg.entries().map(|r| r.unwrap()).collect();
        assert_eq!(got, vec![a.clone(), b, a]);
    }

    #[test]
    fn header_errors() {
        assert_eq!(parse(&[0, 1, 0]), Err(HeaderError::TooShort(3)));
        assert_eq!(
            parse(&[0, 1, 0, 9, 0]),
            Err(HeaderError::SizeMismatch {
                header: 9,
                actual: 5
            })
        );
        // A v1-looking header with version 2 is a v0 message with zero entries.
        let m = parse(&[0, 1, 0, 8, 3, 2, 0, 0]).unwrap();
        assert_eq!((m.version, m.nr_conns), (Version::V0, 0));
        assert_eq!(m.entries().count(), 0);
    }

    #[test]
    fn option_flag_is_0x40() {
        // An unknown option type 9 with bit 0x40 is ignored; without it, the entry is
        // marked (the kernel skips it); type 0x41 is the sequence option.
        let mut m = MessageBuilder::new(Version::V1, 1, 1472, 0);
        m.push(&v4e([1, 1, 1, 1], [2, 2, 2, 2], [3, 3, 3, 3]))
            .unwrap();
        let base = m.finish();
        for (ty, unknown) in [(0x49u8, false), (0x09u8, true)] {
            let mut b = base.clone();
            b.extend_from_slice(&[ty, 2, 0xaa, 0xbb]);
            b[3] = b.len() as u8;
            b[11] = 40; // entry size 36 + 4
            let msg = parse(&b).unwrap();
            let e = msg.entries().next().unwrap().unwrap();
            assert_eq!(e.unknown_mandatory_option, unknown, "type {ty:#x}");
        }
        let mut b = base.clone();
        b.extend_from_slice(&[0x41, 24]);
        b.extend_from_slice(&[0u8; 23]);
        b.push(5);
        b[3] = b.len() as u8;
        b[11] = 36 + 26;
        let e = parse(&b).unwrap().entries().next().unwrap().unwrap();
        assert_eq!(e.seq.unwrap().out_seq.previous_delta, 5);
    }

    #[test]
    fn structural_errors_stop_the_walk() {
        let mut m = MessageBuilder::new(Version::V1, 1, 1472, 0);
        m.push(&v4e([1, 1, 1, 1], [2, 2, 2, 2], [3, 3, 3, 3]))
            .unwrap();
        m.push(&v4e([1, 1, 1, 2], [2, 2, 2, 2], [3, 3, 3, 3]))
            .unwrap();
        let mut b = m.finish();
        b[4] = 3; // announce a third entry that is not there
        let got: Vec<_> = parse(&b).unwrap().entries().collect();
        assert_eq!(got.len(), 3);
        assert!(got[0].is_ok() && got[1].is_ok());
        assert_eq!(got[2], Err(EntryError::Truncated { index: 2 }));
        // Bad type byte on the second entry.
        b[4] = 2;
        b[8 + 36] = 2;
        let got: Vec<_> = parse(&b).unwrap().entries().collect();
        assert_eq!(got[1], Err(EntryError::BadType { index: 1, ty: 2 }));
        // Entry version nibble.
        b[8 + 36] = 0;
        b[8 + 36 + 2] = 0x10;
        let got: Vec<_> = parse(&b).unwrap().entries().collect();
        assert_eq!(
            got[1],
            Err(EntryError::UnknownVersion {
                index: 1,
                version: 1
            })
        );
    }

    #[test]
    fn encode_errors() {
        let mut e = v4e([1, 1, 1, 1], [2, 2, 2, 2], [3, 3, 3, 3]);
        e.daddr = "::1".parse().unwrap();
        assert_eq!(entry_len(Version::V1, &e), Err(EncodeError::MixedFamilies));
        let mut e6 = e.clone();
        e6.caddr = "::2".parse().unwrap();
        e6.vaddr = "::3".parse().unwrap();
        assert_eq!(entry_len(Version::V1, &e6), Ok(72));
        assert_eq!(entry_len(Version::V0, &e6), Err(EncodeError::V0NotIpv4));
        let mut p = v4e([1, 1, 1, 1], [2, 2, 2, 2], [3, 3, 3, 3]);
        p.pe_name = Some(b"sip");
        assert_eq!(
            entry_len(Version::V1, &p),
            Err(EncodeError::PeNameWithoutData)
        );
        p.pe_data = Some(&[0u8; 256]);
        assert_eq!(entry_len(Version::V1, &p), Err(EncodeError::PeDataTooLong));
        p.pe_data = Some(b"x");
        p.pe_name = Some(b"12345678901234567");
        assert_eq!(entry_len(Version::V1, &p), Err(EncodeError::PeNameTooLong));
    }

    #[test]
    fn capacity_and_first_entry() {
        // A message always takes its first entry even when maxlen is smaller.
        let e = v4e([1, 1, 1, 1], [2, 2, 2, 2], [3, 3, 3, 3]);
        let mut m = MessageBuilder::new(Version::V1, 1, 20, 36);
        m.push(&e).unwrap();
        assert_eq!(m.push(&e), Err(EncodeError::Full));
        // maxlen 100 takes two IPv4 entries (8 + 72) but not three (116).
        let mut m = MessageBuilder::new(Version::V1, 1, 100, 36);
        m.push(&e).unwrap();
        m.push(&e).unwrap();
        assert_eq!(m.push(&e), Err(EncodeError::Full));
    }
}
