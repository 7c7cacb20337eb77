//! `lvs-wire`: checked, zero-copy packet views and builders for the lvs-rs
//! data path, with RFC 1071 checksums and RFC 1624 incremental updates.
//!
//! Contract, for every module:
//! - **Views** (`XxxPacket<T>`, `XxxHeader<T>`) wrap any `T: AsRef<[u8]>`
//!   (`&[u8]`, `&mut [u8]`, arrays); read accessors need only that, mutators
//!   need `T: AsMut<[u8]>` too. `new_checked` validates every length the
//!   accessors rely on and returns an [`Error`] otherwise, so no accessor can
//!   index out of bounds: **no input makes this crate panic** (checked by the
//!   no-panic property tests and the `fuzz/` targets).
//! - **No allocation** anywhere: views borrow, builders write into the
//!   caller's buffer and return the length written, errors are `Copy`.
//! - **Checksums** are not verified by constructors (the data path decides
//!   what to verify); every view offers `verify_*` and `fill_*`, and every
//!   in-place mutator keeps the affected checksums correct incrementally.
//! - Mirrors Linux: IPv6 extension-header walk as `ipv6_find_hdr`, GUE flags
//!   as `validate_gue_flags`, tunnel headers as IPVS `ip_vs_tunnel_xmit`,
//!   ICMP error sizes as `icmp_send` / `icmp6_send`, SCTP CRC32c as
//!   `sctp_compute_cksum`, UDP zero-checksum rules as `udp_snat_handler`.
//!
//! Modules: [`ethernet`] (+802.1Q/802.1ad), [`arp`], [`ipv4`], [`ipv6`]
//! (extension headers, fragment header), [`tcp`], [`udp`], [`sctp`],
//! [`icmp`], [`icmpv6`], [`gue`], [`gre`], [`encap`] (IPIP/GUE/GRE in all
//! family combinations), [`nat`] (address/port rewrites), [`parse`] (one-pass
//! frame summary), [`checksum`], [`crc32c`].

pub mod arp;
pub mod checksum;
pub mod crc32c;
pub mod encap;
mod error;
pub mod ethernet;
#[doc(hidden)]
pub mod exercise;
mod field;
pub mod gre;
pub mod gue;
pub mod icmp;
pub mod icmpv6;
pub mod ip;
pub mod ipv4;
pub mod ipv6;
pub mod nat;
pub mod parse;
pub mod sctp;
pub mod tcp;
pub mod udp;

pub use error::{Error, Layer, Result};
pub use ethernet::{EthernetFrame, MacAddr, VlanTag};
pub use icmp::Icmpv4Packet;
pub use icmpv6::Icmpv6Packet;
pub use ipv4::{Ipv4Header, Ipv4Packet};
pub use ipv6::{Ipv6Header, Ipv6Packet};
pub use sctp::SctpPacket;
pub use tcp::TcpSegment;
pub use udp::UdpDatagram;
