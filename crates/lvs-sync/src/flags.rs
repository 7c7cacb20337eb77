//! Connection flag bits as carried in sync messages (uapi `IP_VS_CONN_F_*`).
//!
//! Version 1 carries the flags as a 32-bit field, version 0 as 16 bits (the
//! upper half is cut off on the wire). Bits 16 and up (`NFCT`, ...) are local
//! to a director and are masked out by the backup.

/// Mask of the forwarding method (low three bits).
pub const FWD_MASK: u32 = 0x0007;
/// Forwarding method: NAT (masquerading).
pub const FWD_MASQ: u32 = 0x0000;
/// Forwarding method: local node.
pub const FWD_LOCALNODE: u32 = 0x0001;
/// Forwarding method: IP tunnel.
pub const FWD_TUNNEL: u32 = 0x0002;
/// Forwarding method: direct routing.
pub const FWD_DROUTE: u32 = 0x0003;
/// Forwarding method: cache bypass.
pub const FWD_BYPASS: u32 = 0x0004;
/// The entry was created by the sync protocol.
pub const SYNC: u32 = 0x0020;
/// The entry is in the connection hash table (never sent: masked by the master).
pub const HASHED: u32 = 0x0040;
/// No output packets are seen (DR/TUN).
pub const NOOUTPUT: u32 = 0x0080;
/// The connection is not in an active state.
pub const INACTIVE: u32 = 0x0100;
/// Output sequence adjustment (NAT FTP).
pub const OUT_SEQ: u32 = 0x0200;
/// Input sequence adjustment (NAT FTP).
pub const IN_SEQ: u32 = 0x0400;
/// Both sequence adjustment bits: when set, a sequence option follows the entry.
pub const SEQ_MASK: u32 = 0x0600;
/// The client port is not known yet (FTP data, persistence port 0).
pub const NO_CPORT: u32 = 0x0800;
/// A persistence template, not a connection.
pub const TEMPLATE: u32 = 0x1000;
/// One-packet scheduling (OPS): never synced.
pub const ONE_PACKET: u32 = 0x2000;
/// Uses netfilter conntrack (local, bit 16: not meaningful to a backup).
pub const NFCT: u32 = 1 << 16;

/// Bits a backup accepts from a version 1 message when it creates an entry
/// (`IP_VS_CONN_F_BACKUP_MASK`).
pub const BACKUP_MASK: u32 = FWD_MASK | NOOUTPUT | INACTIVE | SEQ_MASK | NO_CPORT | TEMPLATE;
/// Bits a backup takes from a message when it updates an existing entry
/// (`IP_VS_CONN_F_BACKUP_UPD_MASK`); the others keep their local values.
pub const BACKUP_UPD_MASK: u32 = INACTIVE | SEQ_MASK;
