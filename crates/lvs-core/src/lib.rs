//! `lvs-core`: a pure model of a Linux IPVS director.
//!
//! Contract: nothing in this crate opens a socket, reads the clock, spawns a
//! task or draws randomness it was not handed. Time enters as [`Time`]
//! arguments; randomness as a [`sched::RandomSource`]. `unsafe` is forbidden.
//!
//! The behaviour mirrored is the kernel's `net/netfilter/ipvs/` (Linux 6.x) as
//! specified in `docs/lvs-reference.md`:
//! - [`service`] / [`dest`]: virtual services and real servers with the
//!   kernel's flags, thresholds and OVERLOAD hysteresis (`ip_vs_ctl.c`,
//!   `ip_vs_conn.c` bind/unbind);
//! - [`sched`]: the fourteen schedulers, one module each;
//! - [`conn`]: the connection table, protocol state machines, timeouts and
//!   persistence templates;
//! - [`stats`]: counters and the 2-second rate estimator (`ip_vs_est.c`);
//! - [`ipvs`]: the director state tying them together, with the kernel's
//!   configuration operations and error kinds.

pub mod addr;
pub mod conn;
pub mod dest;
pub mod error;
pub mod ipvs;
pub mod sched;
pub mod service;
pub mod stats;
pub mod time;

pub use addr::Af;
pub use dest::{Dest, DestConfig, DestId, FwdMethod, TunnelConfig, TunnelType};
pub use error::{Error, Result};
pub use ipvs::Ipvs;
pub use service::{Protocol, ServiceConfig, ServiceFlags, ServiceId, ServiceKey};
pub use time::Time;
