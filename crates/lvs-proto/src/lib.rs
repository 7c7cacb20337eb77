//! `lvs-proto`: the control protocol between `lvsadm` (and other clients) and
//! `lvsd`.
//!
//! Contract:
//! - **Transport**: a Unix stream socket, [`DEFAULT_SOCKET`] unless the
//!   `LVSD_SOCKET` environment variable names another path ([`socket_path`]);
//!   both the daemon and the CLI honour it.
//! - **Framing**: each message is a 4-byte big-endian length followed by that
//!   many bytes of JSON ([`frame`]); frames over [`frame::MAX_FRAME`] are
//!   refused.
//! - **Handshake**: the client's first message is a [`Hello`] carrying
//!   [`MAGIC`] and its [`PROTO_VERSION`]; the server answers
//!   [`Welcome::Accepted`] or, on a version mismatch, [`Welcome::Rejected`]
//!   with its own version and closes. The client reports
//!   [`ClientError::VersionMismatch`] with both versions.
//! - **Requests**: then any number of [`Request`]s, each answered by exactly one
//!   [`Response`], in order. They cover everything ipvsadm 1.31 can ask of the
//!   kernel (services, destinations, flush, zero, timeouts, sync daemons,
//!   listings with counters, rates, thresholds, persistent counts and tunnel
//!   parameters, the connection table, version info), plus
//!   [`Request::Batch`] (atomic restore) and [`Request::Native`] for lvs-rs's
//!   own commands.
//! - **Errors** carry the kernel errno kind ([`Errno`]) the operation would have
//!   failed with, so that an ipvsadm-compatible client prints libipvs's texts.
//!
//! This crate has no dependency on the data plane (`lvs-core`): the daemon
//! converts, so that the CLI stays small.
//!
//! # What the daemon answers (so that `lvsadm` prints what ipvsadm prints)
//!
//! Observed on Linux 6.1 with ipvsadm 1.31 (`testdata/ipvsadm/golden/`):
//! - [`Request::GetInfo`]: version `0x010201` (1.2.1) and the connection
//!   table size (4096 by default) — the listing banner.
//! - [`Request::ListServices`] / [`Request::GetService`]: services in the
//!   daemon's own order and destinations newest first (the kernel's order;
//!   shown by `--nosort`, otherwise the CLI sorts as ipvsadm does).
//!   [`Request::GetService`] of a missing service is `ESRCH`.
//! - Changes fail with the kernel's errno: `EEXIST` (service, destination,
//!   running daemon), `ESRCH` (service; stopping a daemon that is not
//!   running), `ENOENT` (destination; unknown scheduler or persistence
//!   engine), `ERANGE` (weight < 0, or lower threshold above upper threshold —
//!   also when the upper one is 0), `EINVAL` (bad address, or starting a sync
//!   daemon while a service has a destination of the other address family),
//!   `ENODEV` (sync interface missing).
//! - [`Request::ListDaemons`]: every field filled with the effective value
//!   (kernel defaults: maxlen 1472, or 1452 with an IPv6 group; group
//!   224.0.0.81; port 8848; ttl 1); the sync id is not checked on stop.
//! - [`Request::ListConnections`]: entries in table order; templates have
//!   client port 0 and state `NONE`/`ASSURED`; a fwmark service's templates
//!   have protocol [`ConnProtocol::Ip`] and the mark as virtual IPv4 address;
//!   `pe_name`/`pe_data` only on entries carrying persistence-engine data.
//! - [`Request::Batch`] with `atomic`: apply all or nothing, and name the
//!   failing request's index.

pub mod conn;
pub mod frame;
pub mod msg;
pub mod types;

pub use conn::{
    Client, ClientError, DEFAULT_SOCKET, HandshakeError, SOCKET_ENV, accept_handshake, socket_path,
};
pub use frame::{FrameError, read_frame, write_frame};
pub use msg::{
    ApiError, CheckerHealth, Errno, HealthState, Hello, MAGIC, NativeRequest, NativeResponse,
    PROTO_VERSION, RealHealth, ReloadReport, Request, Response, Status, VsHealth, Welcome,
};
pub use types::{
    ConnEntry, ConnProtocol, DaemonConfig, DaemonEntry, DaemonState, DestEntry, DestKey, DestSpec,
    Family, FwdMethod, Info, Protocol, SchedFlags, ServiceEntry, ServiceKey, ServiceSpec, Stats,
    Timeouts, TunnelCsum, TunnelSpec, TunnelType,
};
