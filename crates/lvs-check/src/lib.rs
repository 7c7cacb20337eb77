//! `lvs-check`: keepalived's health checkers for lvs-rs.
//!
//! Contract:
//! - [`state`] is pure: the per-virtual-server state machine takes the time
//!   and check results and returns [`Action`]s (add, edit weight, remove a
//!   destination; run a notify script). It reproduces keepalived 2.x's
//!   rules for `retry`/`delay_before_retry`, `alpha`, `omega`,
//!   `inhibit_on_failure`, `quorum`/`hysteresis`/`sorry_server`, `warmup`
//!   and MISC_CHECK `misc_dynamic`; see the module docs.
//! - [`table`] is pure: actions to control requests (one per service of
//!   the virtual server), and the IPVS table the machines stand for (which
//!   a reload diffs).
//! - [`proto`] is pure too: the HTTP response, DNS and SMTP reply parsing
//!   and request building the checkers use.
//! - With the `io` feature (default), [`runner`] performs the checks with
//!   tokio: TCP_CHECK, HTTP_GET, SSL_GET (rustls), MISC_CHECK, UDP_CHECK,
//!   DNS_CHECK, SMTP_CHECK and PING_CHECK; `runner::Fleet` runs every
//!   checker of a configuration and prepares graceful reloads (state carried
//!   over with [`VsMachine::carry_from`], the difference of the tables with
//!   `lvs_config::diff`). Checks never run on the packet path.
//!
//! `unsafe` is forbidden; nothing panics on data from the network or from
//! scripts.

pub mod proto;
pub mod state;
pub mod table;

#[cfg(feature = "io")]
pub mod runner;

pub use state::{
    Action, CheckerId, CheckerView, DestSpec, Outcome, RandomSource, ScriptRef, Target, VsMachine,
    XorShift, misc_outcome,
};
