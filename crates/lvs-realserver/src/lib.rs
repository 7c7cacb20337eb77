//! Real-server tooling for lvs-rs: what an operator does by hand on the real servers of a
//! DR, TUN or NAT virtual service (seed 000 §3–4, seed 001 §3, seed 004), as code.
//!
//! * [`snapshot`]: the kernel state that matters (links, addresses, routes, the ARP and
//!   `rp_filter` sysctls, forwarding, decapsulation filters), read once into a plain value.
//! * [`diagnose`]: pure functions from a snapshot (and what the host is meant to be) to
//!   findings, each with a stable id, the evidence and the command that fixes it — for a real
//!   server ([`diagnose::real_server`]) and for a director ([`diagnose::director`]).
//! * [`plan`]: the pure setup planner (snapshot + wanted mode → ordered list of changes, empty
//!   when the host is already set up) and the applier/recorder behind `lvsadm realserver
//!   setup|teardown`.
//! * [`decap`]: the tc BPF tunnel decapsulator for kernels without `ipip`/`gre`/`fou`.
//! * [`arp`]: a one-shot ARP probe (who answers for an address on a link), used by the
//!   director check to catch real servers that answer ARP for the VIP.
//!
//! Everything that touches the kernel acts on the calling thread's network namespace.

pub mod arp;
pub mod decap;
pub mod diagnose;
pub mod plan;
pub mod snapshot;

use std::fmt;

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or changing kernel state failed.
    #[error(transparent)]
    Sys(#[from] lvs_sys::SysError),
    /// Loading or attaching the BPF program failed.
    #[error("bpf: {0}")]
    Bpf(String),
    /// An external command failed.
    #[error("{0}")]
    Command(String),
    /// A request that cannot be carried out as asked.
    #[error("{0}")]
    Invalid(String),
    /// The state file could not be read or written.
    #[error("state file {0}: {1}")]
    State(String, String),
}

/// Forwarding method of the virtual service a real server belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Direct routing (`-g`).
    Dr,
    /// IP tunnelling (`-i`).
    Tun,
    /// NAT (`-m`).
    Nat,
}

impl Mode {
    /// Parses `dr`, `tun` or `nat`.
    pub fn parse(s: &str) -> Option<Mode> {
        match s {
            "dr" | "route" | "gatewaying" => Some(Mode::Dr),
            "tun" | "ipip" | "tunnel" => Some(Mode::Tun),
            "nat" | "masq" | "masquerading" => Some(Mode::Nat),
            _ => None,
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Dr => "dr",
            Mode::Tun => "tun",
            Mode::Nat => "nat",
        })
    }
}

/// Tunnel type of a TUN service (`--tun-type`), for overhead computations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TunType {
    /// IP in IP.
    Ipip,
    /// UDP + 4-byte GUE header.
    Gue,
    /// GRE (4 bytes, 8 with checksum).
    Gre,
}

impl TunType {
    /// Bytes the director adds in front of an inner packet, for an outer header of family
    /// `outer_v6` (GRE counted with its checksum word, the larger variant).
    pub fn overhead(self, outer_v6: bool) -> u32 {
        let ip = if outer_v6 { 40 } else { 20 };
        ip + match self {
            TunType::Ipip => 0,
            TunType::Gue => 8 + 4,
            TunType::Gre => 8,
        }
    }

    /// Parses `ipip`, `gue` or `gre`.
    pub fn parse(s: &str) -> Option<TunType> {
        match s {
            "ipip" => Some(TunType::Ipip),
            "gue" => Some(TunType::Gue),
            "gre" => Some(TunType::Gre),
            _ => None,
        }
    }
}
