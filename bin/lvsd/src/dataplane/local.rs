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
//! as IPVS drops it. Gaps: replies of a local NAT real server are the
//! kernel's own output and are not translated back (kernel IPVS does it in
//! `LOCAL_OUT`): NAT to the director's own non-loopback address does not
//! work yet; DR/TUN to a local address decrement the TTL once.
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

use lvs_core::Ipvs;
use lvs_datapath::{Config, Interface, Neighbour, Route};
use lvs_io::{IoError, Tap};
use lvs_wire::MacAddr;

/// The TAP device's name.
pub(crate) const TAP_NAME: &str = "lvsd-local";

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
        tracing::debug!(ifindex = tap.ifindex(), "local delivery through {TAP_NAME}");
        Ok(Self {
            tap,
            mac,
            buf: vec![0; lvs_io::afpacket::MAX_FRAME + 64],
            delivered: 0,
            failed: 0,
        })
    }

    /// The TAP's interface index.
    pub(crate) fn ifindex(&self) -> u32 {
        self.tap.ifindex()
    }

    /// The TAP's MAC address.
    pub(crate) fn mac(&self) -> MacAddr {
        MacAddr(self.mac)
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
