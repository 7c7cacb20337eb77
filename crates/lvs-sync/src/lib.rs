//! `lvs-sync`: the IPVS connection synchronization protocol, pure core.
//!
//! Contract: no sockets, no clock, no threads. Time enters as a
//! [`std::time::Duration`] since an epoch chosen by the caller (the daemon
//! uses a monotonic clock); bytes enter and leave as slices and vectors.
//! The socket driver (multicast group 224.0.0.81 or an IPv6 group, UDP port
//! 8848 + thread id, TTL 1, master bound to the interface's address) lives
//! in the daemon. Decoding never panics on any input and never allocates.
//!
//! The behaviour mirrored is Linux's `net/netfilter/ipvs/ip_vs_sync.c`
//! (checked against a 6.1 kernel, see `testdata/sync/`), as specified in
//! `docs/lvs-reference.md` §3:
//! - [`wire`]: message formats version 0 (IPv4, 24-byte entries, optional
//!   sequence option) and version 1 (8-byte header, typed entries with
//!   fwmark and timeout, IPv6, TLV options SEQ_DATA / PE_DATA / PE_NAME
//!   with the ignorable bit 0x40, 4-byte alignment between entries);
//! - [`master`]: which connections are sent and when (`sync_threshold`,
//!   `sync_refresh_period`, `sync_retries`, `sync_persist_mode`, TCP and
//!   SCTP state rules, one-packet connections never, controllers after the
//!   connection), batching into messages bounded by `sync_maxlen`, the
//!   bounded send queue and the 2-second flush;
//! - [`backup`]: datagram validation (size, syncid with 0 = any, version),
//!   per-entry checks, flags masking, timeouts (message or per-state
//!   defaults), and the create/update/replace decision;
//! - [`proto`]: protocol numbers, state numbers and default timeouts;
//! - [`flags`]: the `IP_VS_CONN_F_*` bits.

pub mod backup;
pub mod flags;
pub mod master;
pub mod proto;
pub mod wire;

pub use backup::{Apply, BackupConfig, DatagramError, SkipReason, SyncUpdate};
pub use master::{Master, MasterConfig, SyncConn, SyncMark, SyncPolicy};
pub use wire::{ConnEntry, MessageBuilder, SeqData, Version};
