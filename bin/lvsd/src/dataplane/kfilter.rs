//! Keeps the kernel from handling the frames lvsd handles, when the packet
//! backend only gets a copy of them (`--io afpacket`).
//!
//! An AF_PACKET socket is a packet tap: the kernel still receives every
//! frame, and would answer service traffic itself (a RST from the VIP for a
//! NAT service) and forward the real servers' replies a second time. Taps
//! run in `__netif_receive_skb_core` before the ingress hooks, so a drop at
//! the `netdev` ingress hook leaves the AF_PACKET copy intact. This module
//! owns one nftables table, `netdev lvsd`, with one base chain per served
//! interface (`hook ingress device IF priority -500`) dropping exactly what
//! the XDP steering program would redirect on the packet's own headers
//! ([`lvs_io::classify::Steered::Inbound`]):
//!
//! - `proto daddr:dport` of a service (`svc4`/`svc6`), `proto daddr` for
//!   port-0 services (`svp4`/`svp6`);
//! - `proto saddr:sport` of a NAT / FULLNAT real server (`rep4`/`rep6`);
//! - non-first fragments, and packets of any protocol other than TCP, UDP,
//!   SCTP and ICMP, sent to a service address (`vip4`/`vip6`).
//!
//! ICMP errors quoting our packets are not dropped: the kernel sees them as
//! well as the engine (its own reaction, a PMTU update towards the sender,
//! is harmless), and the engine never hands them to the local stack again.
//!
//! Why `nft` and not our own nf_tables netlink: the ruleset is built once
//! per interface and changed only when the configuration changes (a
//! generation), never on the packet path; one `nft -f -` run is one atomic
//! nf_tables transaction (a set flushed and refilled never lets a packet
//! through half-updated), and the ruleset can be read back with
//! `nft list table netdev lvsd` by an operator. Writing the nf_tables
//! expression encoding (payload offsets, concatenated set keys) by hand
//! would be a large, untested surface for no gain at this rate of change.
//! The cost is the `nftables` package (scripts/deps.sh) at run time, only
//! for `--io afpacket`.
//!
//! Life cycle: [`KernelFilter::install`] deletes a stale `netdev lvsd` table
//! (a previous lvsd killed with SIGKILL) and creates the table in the same
//! transaction; [`KernelFilter::sync`] hands the new set to a helper thread
//! (`lvsd-nft`) that replaces the sets' contents, so that the packet worker
//! never waits for `nft` (a few tens of milliseconds); sets sent while one
//! is being applied are coalesced to the latest. The thread acknowledges
//! the configuration generation once `nft` returned, so a control reply
//! (which waits, bounded, for that acknowledgement) means the kernel is
//! off the new service's packets. Dropping the filter stops the
//! thread and deletes the table.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::io::Write as _;
use std::net::IpAddr;
use std::process::{Command, Stdio};
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;

use lvs_io::{SteerKey, SteerKind};

use crate::server::Shared;

/// The table's name (family `netdev`).
pub(crate) const TABLE: &str = "lvsd";

/// Why the filter could not be set.
#[derive(Debug, thiserror::Error)]
pub enum FilterError {
    /// `nft` could not be run.
    #[error("running nft (install the nftables package): {0}")]
    Spawn(#[source] std::io::Error),
    /// `nft` refused the script.
    #[error("nft: {0}")]
    Nft(String),
}

/// The installed table; deleted on drop.
#[derive(Debug)]
pub(crate) struct KernelFilter {
    tx: Option<mpsc::Sender<(HashSet<SteerKey>, u64)>>,
    thread: Option<JoinHandle<()>>,
}

/// The sets, by name, with their element type.
const SETS: [(&str, &str); 8] = [
    ("svc4", "ipv4_addr . inet_proto . inet_service"),
    ("svp4", "ipv4_addr . inet_proto"),
    ("rep4", "ipv4_addr . inet_proto . inet_service"),
    ("vip4", "ipv4_addr"),
    ("svc6", "ipv6_addr . inet_proto . inet_service"),
    ("svp6", "ipv6_addr . inet_proto"),
    ("rep6", "ipv6_addr . inet_proto . inet_service"),
    ("vip6", "ipv6_addr"),
];

/// Runs `nft -f -` with `script`.
fn nft(script: &str) -> Result<(), FilterError> {
    let mut child = Command::new("nft")
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(FilterError::Spawn)?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(script.as_bytes())
            .map_err(FilterError::Spawn)?;
    }
    let out = child.wait_with_output().map_err(FilterError::Spawn)?;
    if !out.status.success() {
        return Err(FilterError::Nft(
            String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        ));
    }
    Ok(())
}

/// The script creating the table for `interfaces` (name, index), after
/// deleting any table of the same name.
pub(crate) fn table_script(interfaces: &[(String, u32)]) -> String {
    let mut s = String::new();
    // "add" then "delete" in one transaction: removes a stale table, and is
    // no error when there is none.
    let _ = writeln!(s, "add table netdev {TABLE}");
    let _ = writeln!(s, "delete table netdev {TABLE}");
    let _ = writeln!(s, "add table netdev {TABLE}");
    for (name, ty) in SETS {
        let _ = writeln!(s, "add set netdev {TABLE} {name} {{ type {ty}; }}");
    }
    for (ifname, ifindex) in interfaces {
        let chain = format!("in{ifindex}");
        let _ = writeln!(
            s,
            "add chain netdev {TABLE} {chain} {{ type filter hook ingress device \"{ifname}\" priority -500; policy accept; }}"
        );
        for rule in [
            "ip daddr . meta l4proto . th dport @svc4 drop",
            "ip daddr . meta l4proto @svp4 drop",
            "ip saddr . meta l4proto . th sport @rep4 drop",
            "ip daddr @vip4 ip frag-off & 0x1fff != 0 drop",
            "ip daddr @vip4 meta l4proto != { tcp, udp, sctp, icmp } drop",
            "ip6 daddr . meta l4proto . th dport @svc6 drop",
            "ip6 daddr . meta l4proto @svp6 drop",
            "ip6 saddr . meta l4proto . th sport @rep6 drop",
            "ip6 daddr @vip6 frag frag-off != 0 drop",
            "ip6 daddr @vip6 meta l4proto != { tcp, udp, sctp, ipv6-icmp } drop",
        ] {
            let _ = writeln!(s, "add rule netdev {TABLE} {chain} {rule}");
        }
    }
    s
}

/// The script replacing the sets' contents with `keys`.
pub(crate) fn sync_script(keys: &HashSet<SteerKey>) -> String {
    let mut elements: [Vec<String>; 8] = Default::default();
    for k in keys {
        let v6 = matches!(k.addr(), IpAddr::V6(_));
        let base = if v6 { 4 } else { 0 };
        let (slot, text) = match k.kind() {
            SteerKind::Service if k.port() != 0 => {
                (base, format!("{} . {} . {}", k.addr(), k.proto(), k.port()))
            }
            SteerKind::Service if k.proto() != 0 => {
                (base + 1, format!("{} . {}", k.addr(), k.proto()))
            }
            // All protocols to the address: the fragment / port-less set
            // plus every port of the three protocols with ports.
            SteerKind::Service => (base + 3, k.addr().to_string()),
            SteerKind::ReplySource => (
                base + 2,
                format!("{} . {} . {}", k.addr(), k.proto(), k.port()),
            ),
            SteerKind::Vip => (base + 3, k.addr().to_string()),
        };
        elements[slot].push(text);
        if k.kind() == SteerKind::Service && k.port() == 0 && k.proto() == 0 {
            for p in [6, 17, 132] {
                elements[base + 1].push(format!("{} . {p}", k.addr()));
            }
        }
    }
    let mut s = String::new();
    for (i, (name, _)) in SETS.iter().enumerate() {
        let _ = writeln!(s, "flush set netdev {TABLE} {name}");
        let list = &mut elements[i];
        list.sort_unstable();
        list.dedup();
        if !list.is_empty() {
            let _ = writeln!(
                s,
                "add element netdev {TABLE} {name} {{ {} }}",
                list.join(", ")
            );
        }
    }
    s
}

impl KernelFilter {
    /// Creates the table and its chains on `interfaces` (name, index),
    /// replacing a stale one; the sets start empty.
    pub(crate) fn install(
        interfaces: &[(String, u32)],
        shared: Arc<Shared>,
    ) -> Result<Self, FilterError> {
        nft(&table_script(interfaces))?;
        let (tx, rx) = mpsc::channel::<(HashSet<SteerKey>, u64)>();
        let thread = std::thread::Builder::new()
            .name("lvsd-nft".into())
            .spawn(move || {
                while let Ok(mut latest) = rx.recv() {
                    while let Ok(newer) = rx.try_recv() {
                        latest = newer;
                    }
                    let (keys, generation) = latest;
                    match nft(&sync_script(&keys)) {
                        Ok(()) => tracing::debug!(keys = keys.len(), "kernel filter updated"),
                        Err(e) => tracing::error!("kernel filter update: {e}"),
                    }
                    // In place (or failed: replies must not wait for it).
                    shared.mark_applied(generation);
                }
            });
        let thread = match thread {
            Ok(t) => t,
            Err(e) => {
                let _ = nft(&format!("delete table netdev {TABLE}\n"));
                return Err(FilterError::Spawn(e));
            }
        };
        Ok(Self {
            tx: Some(tx),
            thread: Some(thread),
        })
    }

    /// Has the dropped set replaced by `keys` (one transaction, applied by
    /// the helper thread, which then acknowledges `generation` to the
    /// control plane: a control reply waits for it).
    pub(crate) fn sync(&mut self, keys: &HashSet<SteerKey>, generation: u64) {
        if let Some(tx) = &self.tx
            && tx.send((keys.clone(), generation)).is_err()
        {
            tracing::error!("kernel filter thread gone");
        }
    }
}

impl Drop for KernelFilter {
    fn drop(&mut self) {
        // Closing the channel ends the thread after its last update.
        self.tx = None;
        if let Some(t) = self.thread.take()
            && t.join().is_err()
        {
            tracing::error!("kernel filter thread panicked");
        }
        if let Err(e) = nft(&format!("delete table netdev {TABLE}\n")) {
            tracing::warn!("removing nftables table netdev {TABLE}: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// The elements each set receives, read back from the script.
    fn elements(script: &str, set: &str) -> Vec<String> {
        let prefix = format!("add element netdev {TABLE} {set} {{ ");
        script
            .lines()
            .filter_map(|l| l.strip_prefix(&prefix))
            .flat_map(|l| {
                l.trim_end_matches(" }")
                    .split(", ")
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    #[test]
    fn keys_land_in_the_set_of_their_kind_and_family() {
        let keys: HashSet<SteerKey> = [
            SteerKey::service(6, ip("172.16.10.21"), 80),
            SteerKey::vip(ip("172.16.10.21")),
            SteerKey::reply_source(6, ip("192.168.100.39"), 8080),
            SteerKey::service(17, ip("2001:db8::1"), 0),
            SteerKey::vip(ip("2001:db8::1")),
        ]
        .into_iter()
        .collect();
        let s = sync_script(&keys);
        assert_eq!(elements(&s, "svc4"), ["172.16.10.21 . 6 . 80"]);
        assert_eq!(elements(&s, "rep4"), ["192.168.100.39 . 6 . 8080"]);
        assert_eq!(elements(&s, "vip4"), ["172.16.10.21"]);
        assert_eq!(elements(&s, "svp6"), ["2001:db8::1 . 17"]);
        assert_eq!(elements(&s, "vip6"), ["2001:db8::1"]);
        assert!(elements(&s, "svc6").is_empty() && elements(&s, "rep6").is_empty());
        // Every set is flushed first, also the ones left empty.
        for (name, _) in SETS {
            assert!(s.contains(&format!("flush set netdev {TABLE} {name}\n")));
        }
    }

    #[test]
    fn every_interface_gets_its_ingress_chain() {
        let s = table_script(&[("d0".into(), 2), ("d1".into(), 3)]);
        assert!(s.contains("device \"d0\""));
        assert!(s.contains("device \"d1\""));
        assert_eq!(s.matches("hook ingress").count(), 2);
        assert_eq!(s.matches(" drop\n").count(), 20);
    }
}
