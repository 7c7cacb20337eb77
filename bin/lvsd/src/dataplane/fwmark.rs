//! Firewall-mark services (`ipvsadm -A -f MARK`): packets marked by the
//! operator's own netfilter rules, read from a netfilter queue.
//!
//! The operator marks packets as for kernel IPVS (`iptables -t mangle -A
//! PREROUTING -d VIP -p tcp -m multiport --dports 80,443 -j MARK --set-mark
//! 10`, or the nft equivalent). The mark exists only inside the IP stack,
//! after the XDP / tc / AF_PACKET hooks lvsd reads its other services from,
//! so lvsd takes these packets where kernel IPVS does: on their way to the
//! local stack. Its chain `LVSD-FWMARK` in the `security` table (hook
//! `INPUT`, priority 50: after mangle and filter, before the point where
//! kernel IPVS's `LOCAL_IN` hook would run, priority 98), for IPv4 and
//! IPv6, holds one rule per served mark:
//!
//! ```text
//! -A INPUT -j LVSD-FWMARK
//! -A LVSD-FWMARK ! -i lvsd-local -m mark --mark 10 -j NFQUEUE --queue-num 7600 --queue-bypass
//! ```
//!
//! As for kernel IPVS, a fwmark service's virtual address must be local
//! (the packets are routed to the director's stack). The rules are written
//! with `iptables-nft` / `ip6tables-nft` (the `NFQUEUE` target through
//! `nft_compat`: this kernel has no nft `queue` expression), replaced in one
//! `iptables-nft-restore --noflush` transaction per family when the set of
//! marks changes (a configuration change; never on the packet path),
//! removed when lvsd stops (a killed lvsd leaves them; the next start
//! replaces them). `--queue-bypass`: while no lvsd listens, the kernel
//! accepts the packets (its stack answers as without IPVS).
//!
//! The worker reads the queue ([`lvs_sys::nfqueue`]) once per loop turn,
//! gives each packet an Ethernet header (the input interface's MAC as the
//! destination, the sender's as the source), its mark as the engine's
//! fwmark input ([`lvs_datapath::Frame::set_mark`]), and runs it through
//! the engine like a frame read from a port; the kernel's verdict is
//! `DROP` for everything lvsd sent or dropped, `ACCEPT` for a `Local`
//! verdict (the stack goes on with its own packet). Held packets (next hop
//! unknown) keep their mark. Drops are given in one batch verdict per read
//! after the individual accepts.
//!
//! NAT replies: a fwmark service's NAT / FULLNAT real server with a port
//! steers `proto RIP:port` for TCP, UDP and SCTP (the service has no
//! protocol of its own); a real server without a port (the packet's port is
//! kept) has its reply sources steered per connection as connections
//! appear (see `dataplane.rs`, dynamic reply keys).
//!
//! Gaps: with `--io afpacket` the kernel filter learns a per-connection
//! reply source asynchronously (its `nft` thread), so the kernel may see
//! the first answer of a port-less NAT real server too and forward it
//! untranslated (the e2e passes, but the window exists). Lookup order: a
//! queued packet carries its mark into the engine, which looks the fwmark
//! service up before the address services, as the kernel's
//! `ip_vs_service_find` does (tested below). But a packet whose
//! destination is also an address service's (`-t VIP:80`) is steered to
//! lvsd before netfilter can mark it, so it never reaches the queue and
//! goes to the address service, while the kernel would give it to the
//! fwmark service.
//!
//! Cost per queued packet, beyond the engine: the kernel's copy into a
//! netlink message, one copy into the frame, and a share of one verdict
//! message per batch (plus a message per `Local` packet); the queue read
//! is one non-blocking `recv` per loop turn.

use std::io::Write as _;
use std::process::{Command, Stdio};

use lvs_sys::nfqueue::NfQueue;

/// The netfilter queue lvsd reads (per network namespace).
pub(crate) const QUEUE_NUM: u16 = 7600;
/// lvsd's chain in the `security` table.
const CHAIN: &str = "LVSD-FWMARK";

/// The queue and the rules feeding it.
#[derive(Debug)]
pub(crate) struct FwmarkPath {
    pub(crate) queue: NfQueue,
    /// The marks whose rules are installed.
    marks: Vec<u32>,
    /// Whether the jump rules were installed (removed on drop).
    installed: bool,
}

/// Why the fwmark path is not available.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FwmarkError {
    /// The queue could not be bound.
    #[error("netfilter queue {QUEUE_NUM}: {0}")]
    Queue(#[from] lvs_sys::SysError),
    /// `iptables-nft` failed.
    #[error("{0}")]
    Rules(String),
}

fn tools() -> [(&'static str, &'static str); 2] {
    [
        ("iptables-nft", "iptables-nft-restore"),
        ("ip6tables-nft", "ip6tables-nft-restore"),
    ]
}

/// Runs `restore --noflush` with `script` on stdin.
fn restore(tool: &str, script: &str) -> Result<(), FwmarkError> {
    let mut child = Command::new(tool)
        .arg("--noflush")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| FwmarkError::Rules(format!("{tool}: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(script.as_bytes())
            .map_err(|e| FwmarkError::Rules(format!("{tool}: {e}")))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| FwmarkError::Rules(format!("{tool}: {e}")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(FwmarkError::Rules(format!(
            "{tool}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// Runs `tool args`; whether it succeeded.
fn run(tool: &str, args: &[&str]) -> bool {
    Command::new(tool)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The restore script giving the chain one rule per mark.
fn chain_script(marks: &[u32], tap: &str) -> String {
    let mut s = format!("*security\n:{CHAIN} - [0:0]\n-F {CHAIN}\n");
    for m in marks {
        s.push_str(&format!(
            "-A {CHAIN} ! -i {tap} -m mark --mark {m:#x} -j NFQUEUE --queue-num {QUEUE_NUM} --queue-bypass\n"
        ));
    }
    s.push_str("COMMIT\n");
    s
}

impl FwmarkPath {
    /// Binds the queue and installs the (empty) chain and its jump.
    pub(crate) fn open() -> Result<FwmarkPath, FwmarkError> {
        let queue = NfQueue::bind(QUEUE_NUM)?;
        let mut path = FwmarkPath {
            queue,
            marks: Vec::new(),
            installed: false,
        };
        for (tool, restore_tool) in tools() {
            restore(restore_tool, &chain_script(&[], super::local::TAP_NAME))?;
            // One jump, however many a killed lvsd left.
            while run(tool, &["-t", "security", "-D", "INPUT", "-j", CHAIN]) {}
            if !run(tool, &["-t", "security", "-A", "INPUT", "-j", CHAIN]) {
                return Err(FwmarkError::Rules(format!("{tool}: jump to {CHAIN}")));
            }
        }
        path.installed = true;
        Ok(path)
    }

    /// Queues exactly the packets carrying one of `marks` (sorted, deduplicated).
    pub(crate) fn set_marks(&mut self, marks: &[u32]) {
        if marks == self.marks.as_slice() {
            return;
        }
        for (_, restore_tool) in tools() {
            if let Err(e) = restore(restore_tool, &chain_script(marks, super::local::TAP_NAME)) {
                tracing::warn!("fwmark rules: {e}");
            }
        }
        tracing::info!(?marks, queue = QUEUE_NUM, "fwmark services queued");
        self.marks = marks.to_vec();
    }
}

impl Drop for FwmarkPath {
    fn drop(&mut self) {
        if !self.installed {
            return;
        }
        for (tool, _) in tools() {
            while run(tool, &["-t", "security", "-D", "INPUT", "-j", CHAIN]) {}
            run(tool, &["-t", "security", "-F", CHAIN]);
            run(tool, &["-t", "security", "-X", CHAIN]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_queue_rule_per_mark_after_a_flush() {
        let s = chain_script(&[10, 0x1234], "lvsd-local");
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(lines[0], "*security");
        assert_eq!(lines[2], "-F LVSD-FWMARK");
        assert_eq!(
            lines[3],
            "-A LVSD-FWMARK ! -i lvsd-local -m mark --mark 0xa -j NFQUEUE --queue-num 7600 --queue-bypass"
        );
        assert!(lines[4].contains("--mark 0x1234 "));
        assert_eq!(lines.last(), Some(&"COMMIT"));
        assert_eq!(chain_script(&[], "t").lines().count(), 4);
    }

    /// Ethernet + IPv4 + UDP `src:sport -> dst:dport` (IP checksum set).
    fn udp4(src: [u8; 4], sport: u16, dst: [u8; 4], dport: u16) -> Vec<u8> {
        let mut b = vec![0u8; 14 + 20 + 8];
        b[12..14].copy_from_slice(&[0x08, 0x00]);
        b[14] = 0x45;
        b[16..18].copy_from_slice(&28u16.to_be_bytes());
        b[22] = 64;
        b[23] = 17;
        b[26..30].copy_from_slice(&src);
        b[30..34].copy_from_slice(&dst);
        let sum = !b[14..34]
            .chunks(2)
            .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
            .fold(0u32, |a, w| {
                let s = a + w;
                (s & 0xffff) + (s >> 16)
            }) as u16;
        b[24..26].copy_from_slice(&sum.to_be_bytes());
        b[34..36].copy_from_slice(&sport.to_be_bytes());
        b[36..38].copy_from_slice(&dport.to_be_bytes());
        b[38..40].copy_from_slice(&8u16.to_be_bytes());
        b
    }

    /// A queued packet carries its mark into the engine: like the kernel's
    /// `ip_vs_service_find`, a marked packet that matches both a fwmark
    /// service and an address service goes to the fwmark service; without
    /// the mark (or with a mark no service has) to the address service.
    #[test]
    fn a_queued_marked_packet_finds_the_fwmark_service_first() {
        use lvs_datapath::{Config, Datapath, Frame, Interface, Neighbour, Route, Verdict};
        use lvs_wire::MacAddr;
        use std::net::{IpAddr, Ipv4Addr};
        let ip = |s: &str| IpAddr::V4(s.parse::<Ipv4Addr>().unwrap());
        let mut c = lvs_control::Control::new(lvs_core::Time::ZERO, "t");
        for argv in [
            &["-A", "-u", "10.0.0.1:53", "-s", "rr"][..],
            &["-a", "-u", "10.0.0.1:53", "-r", "192.168.1.1:53", "-g"],
            &["-A", "-f", "7", "-s", "rr"],
            &["-a", "-f", "7", "-r", "192.168.1.2", "-g"],
        ] {
            let (rc, _, err) = lvs_control::run_ipvsadm(&mut c, lvs_core::Time::ZERO, argv, "");
            assert_eq!(rc, 0, "{err}");
        }
        let address_rs = MacAddr([2, 0, 0, 0, 0, 1]);
        let fwmark_rs = MacAddr([2, 0, 0, 0, 0, 2]);
        let mut config = Config::new();
        config.interfaces.push(Interface {
            ifindex: 2,
            mac: MacAddr([2, 0, 0, 0, 0, 0x10]),
            mtu: 1500,
            v4: Some("192.168.1.254".parse().unwrap()),
            v6: None,
        });
        config.routes.push(Route {
            prefix: ip("0.0.0.0"),
            len: 0,
            gateway: None,
            ifindex: 2,
        });
        for (a, mac) in [("192.168.1.1", address_rs), ("192.168.1.2", fwmark_rs)] {
            config.neighbours.push(Neighbour { ip: ip(a), mac });
        }
        config.local_addrs.push(ip("10.0.0.1"));
        let mut dp = Datapath::new(std::mem::take(&mut c.ipvs), config);
        let hop = |dp: &mut Datapath, sport: u16, mark: u32| {
            let mut f = Frame::default();
            f.load(&udp4([172, 16, 0, 9], sport, [10, 0, 0, 1], 53))
                .unwrap();
            f.set_mark(mark);
            match dp.process(lvs_core::Time::ZERO, &mut f) {
                Verdict::Forward { next_hop, .. } => next_hop,
                v => panic!("not forwarded: {v:?}"),
            }
        };
        assert_eq!(hop(&mut dp, 40001, 7), fwmark_rs, "mark 7: fwmark first");
        assert_eq!(hop(&mut dp, 40002, 0), address_rs, "no mark: address");
        assert_eq!(hop(&mut dp, 40003, 8), address_rs, "unknown mark: address");
    }
}
