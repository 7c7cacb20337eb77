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

pub mod conn;
pub mod frame;
pub mod msg;
pub mod types;

pub use conn::{
    Client, ClientError, DEFAULT_SOCKET, HandshakeError, SOCKET_ENV, accept_handshake, socket_path,
};
pub use frame::{FrameError, read_frame, write_frame};
pub use msg::{
    ApiError, Errno, Hello, MAGIC, NativeRequest, NativeResponse, PROTO_VERSION, Request, Response,
    Status, Welcome,
};
pub use types::{
    ConnEntry, ConnProtocol, DaemonConfig, DaemonEntry, DaemonState, DestEntry, DestKey, DestSpec,
    Family, FwdMethod, Info, Protocol, SchedFlags, ServiceEntry, ServiceKey, ServiceSpec, Stats,
    Timeouts, TunnelCsum, TunnelSpec, TunnelType,
};
