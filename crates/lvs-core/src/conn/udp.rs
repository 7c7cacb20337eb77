//! UDP connections (kernel `ip_vs_proto_udp.c`).
//!
//! One state, `UDP` (number 0, `IP_VS_UDP_S_NORMAL`), with a 300 s default
//! timeout (`ipvsadm --set ... udp`). Every packet re-applies the timeout;
//! the state never changes, so a UDP connection stays counted as
//! *inactive* on its destination for its whole life. A reply (server →
//! client) marks the controlling persistence template ASSURED.

/// The only UDP state number.
pub const NORMAL: u8 = 0;

/// Name of the state as `ipvsadm -Lc` prints it.
pub const STATE_NAME: &str = "UDP";

/// Default timeout in seconds.
pub const DEFAULT_TIMEOUT: u32 = 5 * 60;
