//! Local delivery: real servers on the director itself, and packets the
//! engine hands to the local stack (`Verdict::Local`).
//!
//! Kernel behaviour mirrored (checked on the 6.1 lab: the listing keeps the
//! configured method, `Masq` / `Route`, for `127.0.0.1` and for the
//! director's own addresses; no `Local` is shown): the transmitter of every
//! method looks up the route to the real server per packet
//! (`__ip_vs_get_out_rt`), and when that route is local the packet goes to
//! the local stack instead of out: DR and TUN hand it over unchanged (the
//! local server gets it at the VIP and port the client used, with the
//! client's address), NAT first rewrites it to RIP:rport (and refuses a
//! loopback RIP for a packet from another host: "stopping DNAT to loopback
//! address"). TTLs are not decremented for local delivery.
//!
//! Here: every configured destination whose address is local (loopback, or
//! one of the namespace's addresses) gets a host route and a neighbour
//! entry in the engine's machine view pointing at lvsd's TAP device, so the
//! engine treats it like any real server (scheduling, rewriting, state,
//! counters) and its `Forward` verdicts for that interface are written to
//! the TAP, where the kernel receives them as from a wire. A NAT packet
//! rewritten to `127.0.0.1` is then dropped by the kernel itself (a
//! loopback destination arriving on a non-loopback interface is a martian),
//! as IPVS drops it.
//!
//! Replies: the kernel's `LOCAL_OUT` hook shows IPVS the local server's
//! answers (counted as OutPkts, the state table sees both directions, NAT
//! answers are translated back to the VIP). lvsd gets them by policy
//! routing: for every local destination a rule (priority and table
//! [`RULE_PRIORITY`] / [`RULE_TABLE`], whose only route is a default route
//! through the TAP) sends what leaves from `VIP:vport` (DR, TUN) or
//! `RIP:rport` (NAT, FULLNAT; none for a loopback RIP) into the TAP; the
//! worker reads it back and gives it to the engine, which counts it on its
//! connection, translates NAT replies and sends them towards the client.
//! The TAP is `NOARP` (no resolution before the kernel sends into it) and
//! has no checksum offload, so those frames carry complete checksums. The
//! rules follow the configuration; stale ones (a killed lvsd) are removed
//! at start, ours on exit. Deviations: the engine decrements the TTL of
//! packets it forwards to or from a local server (the kernel does not for
//! local delivery / local output).
//!
//! `Verdict::Local` (packets to the director that create no connection:
//! the kernel's stack answers them as kernel IPVS lets it, e.g. the
//! director's own connections to a NAT real server's steered port) are
//! written to the same TAP with their MAC header readdressed to it.
//!
//! The TAP, `lvsd-local`, has no address and no IPv6 link-local address
//! (`addr_gen_mode` 1: no DAD, no router solicitations), so the kernel
//! never routes anything to it. Reverse-path filtering would refuse a
//! client reached through another interface: the TAP's `rp_filter` is set
//! to 2 (loose) when the namespace's `conf.all.rp_filter` is non-zero (the
//! effective value is the maximum of the two), 0 otherwise. Why a TAP and
//! not an `XDP_PASS` map: the engine must see every packet of the
//! connection (state, timeouts, counters, and the scheduling of the first
//! packet, which is only decided in userspace), and the TAP works the same
//! for AF_XDP and AF_PACKET.
//!
//! Fragments are not reinjected (the engine asks for reassembly before
//! IPVS, which is not done yet: they are dropped and counted).

use std::net::IpAddr;

use lvs_core::{FwdMethod, Ipvs, ServiceKey};
use lvs_datapath::Frame;
use lvs_datapath::{Config, Interface, Neighbour, Route};
use lvs_io::{IoError, Tap};
use lvs_sys::rtnl::{Rtnl, SourceRule};
use lvs_wire::MacAddr;

/// The TAP device's name.
pub(crate) const TAP_NAME: &str = "lvsd-local";
/// Priority of the reply rules (also how stale ones are found).
pub(crate) const RULE_PRIORITY: u32 = 19542;
/// The table they look up (a default route through the TAP).
pub(crate) const RULE_TABLE: u32 = 19542;

/// Address families as rtnetlink wants them.
mod libc_af {
    pub(super) const INET: u8 = 2;
    pub(super) const INET6: u8 = 10;
}

/// Why local delivery could not be set up.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LocalError {
    /// The TAP device.
    #[error("{0}")]
    Io(#[from] IoError),
    /// rtnetlink (rules, routes).
    #[error("rtnetlink: {0}")]
    Rtnl(#[from] lvs_sys::SysError),
}

impl Drop for LocalPath {
    fn drop(&mut self) {
        for family in [libc_af::INET, libc_af::INET6] {
            if let Err(e) = self.rtnl.del_rules_at(family, RULE_PRIORITY) {
                tracing::warn!("removing reply rules: {e}");
            }
        }
    }
}

/// Ethernet header length.
const ETH_HLEN: usize = 14;
/// The MTU the engine assumes for the TAP (its default).
const TAP_MTU: u16 = 1500;

/// The reinjection path.
#[derive(Debug)]
pub(crate) struct LocalPath {
    tap: Tap,
    mac: [u8; 6],
    buf: Vec<u8>,
    /// Receive buffer for what the kernel sends out of the TAP.
    rbuf: Vec<u8>,
    /// Installs the reply rules.
    rtnl: Rtnl,
    /// The reply rules in place.
    rules: Vec<SourceRule>,
    /// Length of the last frame read into `rbuf`.
    rlen: usize,
    /// Frames of local real servers read back from the TAP.
    pub(crate) replies: u64,
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
    pub(crate) fn open() -> Result<Self, LocalError> {
        let mut rtnl = Rtnl::open()?;
        // Rules of a previous lvsd that did not exit cleanly.
        for family in [libc_af::INET, libc_af::INET6] {
            rtnl.del_rules_at(family, RULE_PRIORITY)?;
        }
        let tap = Tap::create(TAP_NAME)?;
        let all = lvs_sys::sysctl::read("net.ipv4.conf.all.rp_filter").unwrap_or_default();
        let rp = if all == "0" { "0" } else { "2" };
        sysctl(&format!("net.ipv4.conf.{TAP_NAME}.rp_filter"), rp);
        sysctl(&format!("net.ipv6.conf.{TAP_NAME}.addr_gen_mode"), "1");
        sysctl(&format!("net.ipv6.conf.{TAP_NAME}.accept_ra"), "0");
        tap.set_up()?;
        let mac = tap.mac()?;
        for family in [libc_af::INET, libc_af::INET6] {
            if let Err(e) = rtnl.replace_default_route(family, tap.ifindex(), RULE_TABLE) {
                tracing::warn!(family, "route to {TAP_NAME} in table {RULE_TABLE}: {e}");
            }
        }
        tracing::debug!(ifindex = tap.ifindex(), "local delivery through {TAP_NAME}");
        Ok(Self {
            tap,
            mac,
            buf: vec![0; lvs_io::afpacket::MAX_FRAME + 64],
            rbuf: vec![0; lvs_io::afpacket::MAX_FRAME + 64],
            rtnl,
            rules: Vec::new(),
            rlen: 0,
            replies: 0,
            delivered: 0,
            failed: 0,
        })
    }

    /// Makes the installed reply rules `want` (sorted).
    pub(crate) fn set_rules(&mut self, want: Vec<SourceRule>) {
        if want == self.rules {
            return;
        }
        for r in self.rules.iter().filter(|r| !want.contains(r)) {
            if let Err(e) = self.rtnl.del_rule(r) {
                tracing::warn!("removing reply rule {r:?}: {e}");
            }
        }
        for r in want.iter().filter(|r| !self.rules.contains(r)) {
            match self.rtnl.add_rule(r) {
                Ok(()) | Err(lvs_sys::SysError::Netlink(17)) => {}
                Err(e) => tracing::warn!("adding reply rule {r:?}: {e}"),
            }
        }
        tracing::debug!(rules = want.len(), "local real servers' reply rules");
        self.rules = want;
    }

    /// Reads one frame a local real server sent (routed into the TAP by
    /// the reply rules) into `frame`; false when there is none.
    pub(crate) fn read_reply(&mut self, frame: &mut Frame) -> bool {
        loop {
            match self.tap.read(&mut self.rbuf) {
                Ok(Some(n)) => {
                    if n <= self.rbuf.len() && frame.load(&self.rbuf[..n]).is_ok() {
                        self.rlen = n;
                        self.replies += 1;
                        return true;
                    }
                }
                Ok(None) => return false,
                Err(e) => {
                    tracing::debug!("reading {TAP_NAME}: {e}");
                    return false;
                }
            }
        }
    }

    /// The TAP's interface index.
    pub(crate) fn ifindex(&self) -> u32 {
        self.tap.ifindex()
    }

    /// The TAP's MAC address.
    pub(crate) fn mac(&self) -> MacAddr {
        MacAddr(self.mac)
    }

    /// The last frame [`LocalPath::read_reply`] returned, as read.
    pub(crate) fn last_read(&self) -> &[u8] {
        &self.rbuf[..self.rlen.min(self.rbuf.len())]
    }

    /// Hands a frame the engine addressed to the TAP to the kernel as is.
    pub(crate) fn write(&mut self, frame: &[u8]) {
        match self.tap.write(frame) {
            Ok(true) => self.delivered += 1,
            Ok(false) => self.failed += 1,
            Err(e) => {
                self.failed += 1;
                tracing::debug!("local delivery: {e}");
            }
        }
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

/// Whether the kernel would route `addr` locally: one of the namespace's
/// addresses, or a loopback address (`127.0.0.0/8` is routed locally as a
/// whole, `::1`).
pub(crate) fn is_local_addr(addr: &IpAddr, local_addrs: &[IpAddr]) -> bool {
    addr.is_loopback() || local_addrs.contains(addr)
}

/// The configured destinations' addresses that are local, sorted.
pub(crate) fn local_dests(ipvs: &Ipvs, local_addrs: &[IpAddr]) -> Vec<IpAddr> {
    let mut out: Vec<IpAddr> = ipvs
        .services()
        .flat_map(|s| s.dests.iter())
        .filter_map(|id| ipvs.dest(*id))
        .map(|d| d.config.addr)
        .filter(|a| is_local_addr(a, local_addrs))
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// The rules routing local real servers' output into the TAP: their
/// packets leave from the virtual address and port for DR / TUN (the
/// packet reached them unchanged), from the real server's address and port
/// for NAT / FULLNAT (a loopback RIP gets none: the kernel never lets a
/// remote client's packet be rewritten to it).
pub(crate) fn reply_rules(ipvs: &Ipvs, local_addrs: &[IpAddr]) -> Vec<SourceRule> {
    let mut out = Vec::new();
    for s in ipvs.services() {
        let ServiceKey::Addr { proto, addr, port } = s.config.key else {
            continue;
        };
        for d in s.dests.iter().filter_map(|id| ipvs.dest(*id)) {
            if !is_local_addr(&d.config.addr, local_addrs) {
                continue;
            }
            let (src, sport) = match d.config.fwd {
                FwdMethod::Masq | FwdMethod::FullNat if d.config.addr.is_loopback() => continue,
                FwdMethod::Masq | FwdMethod::FullNat => (d.config.addr, d.config.port),
                FwdMethod::Route | FwdMethod::Tunnel(_) | FwdMethod::Local => (addr, port),
            };
            out.push(SourceRule {
                priority: RULE_PRIORITY,
                src,
                proto: proto.number(),
                sport,
                table: RULE_TABLE,
            });
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// Points the engine's machine view at the TAP for `addrs`: the TAP as an
/// interface, a host route and a neighbour entry (the TAP's MAC) per
/// address. Entries of a previous call are replaced.
pub(crate) fn install(config: &mut Config, tap_ifindex: u32, tap_mac: MacAddr, addrs: &[IpAddr]) {
    config.interfaces.retain(|i| i.ifindex != tap_ifindex);
    config.routes.retain(|r| r.ifindex != tap_ifindex);
    config.neighbours.retain(|n| n.mac != tap_mac);
    if addrs.is_empty() {
        return;
    }
    config.interfaces.push(Interface {
        ifindex: tap_ifindex,
        mac: tap_mac,
        mtu: TAP_MTU,
        v4: None,
        v6: None,
    });
    for a in addrs {
        config.routes.push(Route {
            prefix: *a,
            len: if a.is_ipv4() { 32 } else { 128 },
            gateway: None,
            ifindex: tap_ifindex,
        });
        config.neighbours.push(Neighbour {
            ip: *a,
            mac: tap_mac,
        });
    }
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

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn loopback_and_own_addresses_are_local_remote_ones_are_not() {
        let c = control(&[
            &["-A", "-t", "172.16.10.21:80", "-s", "wrr"],
            &["-a", "-t", "172.16.10.21:80", "-r", "192.168.100.39", "-m"],
            &["-a", "-t", "172.16.10.21:80", "-r", "127.0.0.2", "-g"],
            &["-A", "-t", "172.16.10.21:81"],
            &["-a", "-t", "172.16.10.21:81", "-r", "192.168.100.17", "-g"],
            &["-a", "-t", "172.16.10.21:81", "-r", "127.0.0.2", "-g"],
        ]);
        assert_eq!(
            local_dests(&c.ipvs, &[ip("192.168.100.17")]),
            [ip("127.0.0.2"), ip("192.168.100.17")]
        );
        assert!(local_dests(&c.ipvs, &[]).len() == 1);
    }

    #[test]
    fn local_dests_route_to_the_tap_and_replace_earlier_entries() {
        let tap = 9;
        let mac = MacAddr([2, 0, 0, 0, 0, 9]);
        let mut config = Config::new();
        config.routes.push(Route {
            prefix: ip("0.0.0.0"),
            len: 0,
            gateway: Some(ip("10.0.0.1")),
            ifindex: 2,
        });
        config.neighbours.push(Neighbour {
            ip: ip("10.0.0.1"),
            mac: MacAddr([2, 0, 0, 0, 0, 1]),
        });
        install(&mut config, tap, mac, &[ip("127.0.0.1"), ip("::1")]);
        let to_tap: Vec<(IpAddr, u8)> = config
            .routes
            .iter()
            .filter(|r| r.ifindex == tap)
            .map(|r| (r.prefix, r.len))
            .collect();
        assert_eq!(to_tap, [(ip("127.0.0.1"), 32), (ip("::1"), 128)]);
        assert!(
            config
                .neighbours
                .iter()
                .any(|n| n.ip == ip("127.0.0.1") && n.mac == mac)
        );
        assert!(
            config
                .interfaces
                .iter()
                .any(|i| i.ifindex == tap && i.mac == mac)
        );
        // A new set replaces the old one; the machine's own entries stay.
        install(&mut config, tap, mac, &[ip("192.168.100.17")]);
        assert_eq!(config.routes.iter().filter(|r| r.ifindex == tap).count(), 1);
        assert_eq!(config.neighbours.len(), 2);
        assert_eq!(config.interfaces.len(), 1);
        install(&mut config, tap, mac, &[]);
        assert_eq!((config.routes.len(), config.neighbours.len()), (1, 1));
        assert!(config.interfaces.is_empty());
    }
}
