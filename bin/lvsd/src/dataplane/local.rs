//! Local delivery: packets of connections whose real server is the
//! director itself (IPVS `LOCALNODE`).
//!
//! Kernel behaviour mirrored: a destination whose address is local to the
//! director when it is added or edited (`inet_addr_type() == RTN_LOCAL`,
//! e.g. `127.0.0.1` or one of the director's own addresses; for IPv6 an
//! address routed to the loopback device) gets the LOCALNODE forwarding
//! method whatever `-g/-m/-i` said (`__ip_vs_update_dest`), which the
//! listing shows as `Local`. Its connections' packets are handed to the
//! local stack unchanged (`ip_vs_null_xmit`): the local server sees the
//! client's address and the virtual address and port it was sent to, so it
//! listens on the VIP (or the wildcard) and the service's port. Its replies
//! leave by the kernel's own path, which IPVS does not account
//! (`ip_vs_out` ignores non-MASQ connections): such connections count no
//! outgoing packets, like DR.
//!
//! [`mark_local_dests`] applies the rule: the data plane calls it whenever
//! the configuration generation changes, with the director's addresses.
//!
//! Reinjection: frames are written to a TAP device owned by lvsd,
//! `lvsd-local`, in its namespace; the kernel receives them on that
//! interface (`netif_rx`) as if from a wire, so routing and socket lookup
//! are the kernel's own. The frame gets a fresh Ethernet header addressed to
//! the TAP's MAC (`PACKET_HOST`; VLAN tags dropped). The TAP has no address
//! and no IPv6 link-local address (`addr_gen_mode` 1: no DAD, no router
//! solicitations), so the kernel never routes anything to it. Reverse-path
//! filtering would refuse a client reached through another interface: the
//! TAP's `rp_filter` is set to 2 (loose) when the namespace's
//! `conf.all.rp_filter` is non-zero (the effective value is the maximum of
//! the two), 0 otherwise. Why a TAP and not an `XDP_PASS` map: the engine
//! must see every packet of the connection (state, timeouts, counters,
//! scheduling of the first packet, which is only decided in userspace), and
//! the TAP works the same for AF_XDP and AF_PACKET.
//!
//! Fragments are not reinjected (the engine asks for reassembly before
//! IPVS, which is not done yet: they are dropped and counted).

use std::net::IpAddr;

use lvs_core::{FwdMethod, Ipvs};
use lvs_io::{IoError, Tap};

/// The TAP device's name.
pub(crate) const TAP_NAME: &str = "lvsd-local";

/// Ethernet header length.
const ETH_HLEN: usize = 14;

/// The reinjection path.
#[derive(Debug)]
pub(crate) struct LocalPath {
    tap: Tap,
    mac: [u8; 6],
    buf: Vec<u8>,
    /// Frames handed to the kernel.
    pub(crate) delivered: u64,
    /// Frames the TAP refused or that could not be rebuilt.
    pub(crate) failed: u64,
}

fn sysctl(key: &str, value: &str) {
    if let Err(e) = lvs_sys::sysctl::write(key, value) {
        tracing::warn!("sysctl {key}={value}: {e}");
    }
}

impl LocalPath {
    /// Creates and configures the TAP device (see the module docs).
    pub(crate) fn open() -> Result<Self, IoError> {
        let tap = Tap::create(TAP_NAME)?;
        let all = lvs_sys::sysctl::read("net.ipv4.conf.all.rp_filter").unwrap_or_default();
        let rp = if all == "0" { "0" } else { "2" };
        sysctl(&format!("net.ipv4.conf.{TAP_NAME}.rp_filter"), rp);
        sysctl(&format!("net.ipv6.conf.{TAP_NAME}.addr_gen_mode"), "1");
        sysctl(&format!("net.ipv6.conf.{TAP_NAME}.accept_ra"), "0");
        tap.set_up()?;
        let mac = tap.mac()?;
        Ok(Self {
            tap,
            mac,
            buf: vec![0; lvs_io::afpacket::MAX_FRAME + 64],
            delivered: 0,
            failed: 0,
        })
    }

    /// Hands the IP packet starting at `l3` in `frame` to the local stack.
    pub(crate) fn deliver(&mut self, frame: &[u8], l3: usize) {
        // The ethertype is the two bytes before the IP header (after any VLAN tags).
        let (Some(ip), Some(ethertype)) = (
            frame.get(l3..),
            l3.checked_sub(2).and_then(|o| frame.get(o..l3)),
        ) else {
            self.failed += 1;
            return;
        };
        if l3 < ETH_HLEN {
            self.failed += 1;
            return;
        }
        let len = ETH_HLEN + ip.len();
        let Some(out) = self.buf.get_mut(..len) else {
            self.failed += 1;
            return;
        };
        out[..6].copy_from_slice(&self.mac);
        out[6..12].copy_from_slice(&frame[6..12]);
        out[12..14].copy_from_slice(ethertype);
        out[ETH_HLEN..].copy_from_slice(ip);
        match self.tap.write(out) {
            Ok(true) => self.delivered += 1,
            Ok(false) => self.failed += 1,
            Err(e) => {
                self.failed += 1;
                tracing::debug!("local delivery: {e}");
            }
        }
    }
}

/// Whether the kernel would call `addr` local: one of the namespace's
/// addresses, or a loopback address (`127.0.0.0/8` is routed locally as
/// a whole, `::1`).
pub(crate) fn is_local_addr(addr: &IpAddr, local_addrs: &[IpAddr]) -> bool {
    addr.is_loopback() || local_addrs.contains(addr)
}

/// Gives LOCALNODE forwarding to every destination whose address is local
/// (the rule of `__ip_vs_update_dest`); returns how many were changed.
pub(crate) fn mark_local_dests(ipvs: &mut Ipvs, local_addrs: &[IpAddr]) -> usize {
    let mut edits = Vec::new();
    for s in ipvs.services() {
        for d in s.dests.iter().filter_map(|id| ipvs.dest(*id)) {
            if d.config.fwd != FwdMethod::Local && is_local_addr(&d.config.addr, local_addrs) {
                let mut cfg = d.config;
                cfg.fwd = FwdMethod::Local;
                edits.push((s.config.key, cfg));
            }
        }
    }
    let mut changed = 0;
    for (key, cfg) in edits {
        match ipvs.edit_dest(&key, cfg) {
            Ok(()) => changed += 1,
            Err(e) => tracing::warn!("marking {} local: {e}", cfg.addr),
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn control(lines: &[&[&str]]) -> lvs_control::Control {
        let mut c = lvs_control::Control::new(lvs_core::Time::ZERO, "t");
        for argv in lines {
            let (rc, _, err) = lvs_control::run_ipvsadm(&mut c, lvs_core::Time::ZERO, argv, "");
            assert_eq!(rc, 0, "{err}");
        }
        c
    }

    #[test]
    fn loopback_and_own_addresses_become_local_remote_ones_do_not() {
        let own: IpAddr = "192.168.100.17".parse().unwrap();
        let mut c = control(&[
            &["-A", "-t", "172.16.10.21:80", "-s", "wrr"],
            &["-a", "-t", "172.16.10.21:80", "-r", "192.168.100.39", "-m"],
            &["-a", "-t", "172.16.10.21:80", "-r", "127.0.0.1", "-m"],
            &["-a", "-t", "172.16.10.21:80", "-r", "192.168.100.17", "-g"],
        ]);
        assert_eq!(mark_local_dests(&mut c.ipvs, &[own]), 2);
        let fwd_of = |c: &lvs_control::Control, a: &str| {
            let a: IpAddr = a.parse().unwrap();
            c.ipvs
                .services()
                .flat_map(|s| s.dests.iter())
                .filter_map(|id| c.ipvs.dest(*id))
                .find(|d| d.config.addr == a)
                .map(|d| d.config.fwd)
                .unwrap()
        };
        assert_eq!(fwd_of(&c, "127.0.0.1"), FwdMethod::Local);
        assert_eq!(fwd_of(&c, "192.168.100.17"), FwdMethod::Local);
        assert_eq!(fwd_of(&c, "192.168.100.39"), FwdMethod::Masq);
        // The listing shows it as ipvsadm shows the kernel's LOCALNODE.
        let (rc, out, _) = lvs_control::run_ipvsadm(&mut c, lvs_core::Time::ZERO, &["-ln"], "");
        assert_eq!(rc, 0);
        assert!(
            out.lines()
                .any(|l| l.contains("127.0.0.1:80") && l.contains("Local")),
            "{out}"
        );
        // Idempotent.
        assert_eq!(mark_local_dests(&mut c.ipvs, &[own]), 0);
    }
}
