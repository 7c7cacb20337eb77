//! `lvs-ipvsadm`: ipvsadm 1.31 compatibility for `lvsadm`, pure (no sockets,
//! no clock; the daemon is reached through [`run::Backend`]).
//!
//! - [`popt`]: command-line scanning with popt's semantics;
//! - [`grammar`]: every ipvsadm command and option, the command × option
//!   matrix, ipvsadm's checks and exact error texts and exit codes;
//! - [`addr`] and [`resolve`]: ipvsadm's number/address parsing and name
//!   resolution over `/etc/hosts` and `/etc/services`;
//! - [`format`](mod@format): every listing and the save format, byte for byte;
//! - [`errors`]: libipvs's per-operation error texts;
//! - [`usage`]: `-h` / `-v`;
//! - [`run`](mod@run): the whole program (including the atomic `-R`) over a backend.
//!
//! The behaviour is ipvsadm 1.31's as observed on the real tool (reference §2,
//! captures in `testdata/ipvsadm/golden/`). Deliberate differences, all opt-in
//! or additive: `--fullnat` (FULLNAT forwarding, printed `FullNat` / saved
//! `--fullnat`), `-S` also saves non-zero thresholds, `-R` is atomic and skips
//! `#` comment lines (see [`run`](mod@run) and `COMPAT.md`).

pub mod addr;
pub mod errors;
pub mod format;
pub mod grammar;
pub mod popt;
pub mod resolve;
pub mod run;
pub mod usage;

pub use grammar::{Action, Format, ListWhat, Refusal, parse};
pub use resolve::{FilesResolver, NoNames, Resolver};
pub use run::{Backend, ConnectError, Io, RunOptions, TransportError, run};
