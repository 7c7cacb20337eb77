//! The kernel state the real-server and director checks look at, as a plain value.
//!
//! [`Snapshot::read`] fills it from the calling thread's namespace: links, addresses and the
//! main routing table over rtnetlink (lvs-sys), the `net.ipv4.conf.{all,<link>}` ARP and
//! `rp_filter` sysctls plus the forwarding switches from `/proc/sys`, and, per link, whether
//! the [`crate::decap`] filter sits on its ingress (`tc filter show`). Everything else in this
//! crate works on the value, so the diagnosis and the planning are pure and testable without a
//! kernel.
//!
//! Kernel rules mirrored by the helpers: for `arp_ignore`, `arp_announce` and `rp_filter` the
//! value in effect on an interface is the maximum of `conf/all` and `conf/<if>`
//! (Documentation/networking/ip-sysctl.rst); the route used for an address is the longest
//! prefix match of the main table (policy routing is not modelled).

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::Error;

/// An interface.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkState {
    /// Name.
    pub name: String,
    /// Index.
    pub index: u32,
    /// Hardware address (empty when none).
    #[serde(default)]
    pub mac: Vec<u8>,
    /// MTU.
    pub mtu: u32,
    /// Administratively up.
    pub up: bool,
    /// The loopback device.
    pub loopback: bool,
    /// `IFF_NOARP`: never answers ARP (dummy devices set to noarp, tunnels, lo).
    pub noarp: bool,
    /// Driver kind (`veth`, `ipip`, ...), when reported.
    pub kind: Option<String>,
    /// The lvs decapsulation filter is on its ingress.
    pub decap: bool,
}

impl LinkState {
    /// Whether an address on this link can be answered for in ARP by this link itself.
    pub fn arps(&self) -> bool {
        !self.loopback && !self.noarp
    }
}

/// An address.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddrState {
    /// Interface name.
    pub dev: String,
    /// Address.
    pub addr: IpAddr,
    /// Prefix length.
    pub prefix: u8,
}

/// A unicast route of the main table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteState {
    /// Destination network.
    pub dst: IpAddr,
    /// Prefix length (0: default route).
    pub prefix: u8,
    /// Next hop.
    pub gateway: Option<IpAddr>,
    /// Output interface name.
    pub dev: Option<String>,
}

/// What the checks know about a host.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Interfaces.
    pub links: Vec<LinkState>,
    /// Addresses.
    pub addrs: Vec<AddrState>,
    /// Main-table unicast routes.
    pub routes: Vec<RouteState>,
    /// Integer sysctls by dotted name (`net.ipv4.conf.all.arp_ignore`); absent when unread.
    pub sysctls: BTreeMap<String, i64>,
}

/// Per-interface IPv4 sysctls the checks read.
pub const CONF_KEYS: [&str; 3] = ["arp_ignore", "arp_announce", "rp_filter"];

/// The dotted name of `net.ipv4.conf.<dev>.<key>`.
pub fn conf_key(dev: &str, key: &str) -> String {
    format!("net.ipv4.conf.{dev}.{key}")
}

/// IPv4 forwarding switch.
pub const IP_FORWARD: &str = "net.ipv4.ip_forward";
/// IPv6 forwarding switch.
pub const IP6_FORWARD: &str = "net.ipv6.conf.all.forwarding";

fn prefix_contains(net: IpAddr, prefix: u8, addr: IpAddr) -> bool {
    match (net, addr) {
        (IpAddr::V4(n), IpAddr::V4(a)) => {
            let p = u32::from(prefix.min(32));
            let mask = if p == 0 { 0 } else { u32::MAX << (32 - p) };
            u32::from(n) & mask == u32::from(a) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(a)) => {
            let p = u32::from(prefix.min(128));
            let mask = if p == 0 { 0 } else { u128::MAX << (128 - p) };
            u128::from(n) & mask == u128::from(a) & mask
        }
        _ => false,
    }
}

/// Whether `addr` lies in `net/prefix` (same family).
pub fn in_prefix(net: IpAddr, prefix: u8, addr: IpAddr) -> bool {
    prefix_contains(net, prefix, addr)
}

impl Snapshot {
    /// A sysctl's value.
    pub fn sysctl(&self, key: &str) -> Option<i64> {
        self.sysctls.get(key).copied()
    }

    /// The value in effect of `net.ipv4.conf.*.<key>` on `dev`: max(all, dev).
    pub fn effective(&self, dev: &str, key: &str) -> i64 {
        let all = self.sysctl(&conf_key("all", key)).unwrap_or(0);
        let own = self.sysctl(&conf_key(dev, key)).unwrap_or(0);
        all.max(own)
    }

    /// The interface named `name`.
    pub fn link(&self, name: &str) -> Option<&LinkState> {
        self.links.iter().find(|l| l.name == name)
    }

    /// The addresses equal to `addr`, on whatever interface.
    pub fn addrs_of(&self, addr: IpAddr) -> impl Iterator<Item = &AddrState> {
        self.addrs.iter().filter(move |a| a.addr == addr)
    }

    /// The addresses of interface `dev`.
    pub fn addrs_on<'a>(&'a self, dev: &'a str) -> impl Iterator<Item = &'a AddrState> {
        self.addrs.iter().filter(move |a| a.dev == dev)
    }

    /// Whether `addr` is one of this host's addresses.
    pub fn is_local(&self, addr: IpAddr) -> bool {
        self.addrs_of(addr).next().is_some()
    }

    /// The main-table route used for `addr` (longest prefix; lowest index among equals).
    pub fn route_to(&self, addr: IpAddr) -> Option<&RouteState> {
        self.routes
            .iter()
            .filter(|r| prefix_contains(r.dst, r.prefix, addr))
            .max_by_key(|r| (r.prefix, std::cmp::Reverse(self.order(r))))
    }

    fn order(&self, r: &RouteState) -> usize {
        self.routes
            .iter()
            .position(|x| x == r)
            .unwrap_or(usize::MAX)
    }

    /// The default route of a family.
    pub fn default_route(&self, v6: bool) -> Option<&RouteState> {
        self.routes
            .iter()
            .find(|r| r.prefix == 0 && r.dst.is_ipv6() == v6)
    }

    /// The interface a packet to `addr` leaves by.
    pub fn dev_to(&self, addr: IpAddr) -> Option<&str> {
        self.route_to(addr).and_then(|r| r.dev.as_deref())
    }

    /// Reads the calling thread's namespace.
    pub fn read() -> Result<Snapshot, Error> {
        let mut rt = lvs_sys::rtnl::Rtnl::open()?;
        let raw_links = rt.links()?;
        let names: BTreeMap<u32, String> = raw_links
            .iter()
            .map(|l| (l.index, l.name.clone()))
            .collect();
        let mut links = Vec::new();
        for l in &raw_links {
            let loopback = l.flags & 0x8 != 0;
            let decap = if loopback {
                false
            } else {
                crate::decap::is_attached(&l.name)?
            };
            links.push(LinkState {
                name: l.name.clone(),
                index: l.index,
                mac: l.mac.clone(),
                mtu: l.mtu,
                up: l.is_up(),
                loopback,
                noarp: l.flags & 0x80 != 0,
                kind: l.kind.clone(),
                decap,
            });
        }
        let addrs = rt
            .addresses()?
            .into_iter()
            .filter_map(|a| {
                Some(AddrState {
                    dev: names.get(&a.index)?.clone(),
                    addr: a.addr,
                    prefix: a.prefix_len,
                })
            })
            .collect();
        let routes = rt
            .routes()?
            .into_iter()
            .filter(|r| r.table == 254 && r.kind == 1)
            .map(|r| RouteState {
                dst: r.dst,
                prefix: r.dst_len,
                gateway: r.gateway,
                dev: r.oif.and_then(|i| names.get(&i).cloned()),
            })
            .collect();
        let mut sysctls = BTreeMap::new();
        let mut read = |key: String| {
            if let Ok(v) = lvs_sys::sysctl::read(&key)
                && let Ok(n) = v.parse::<i64>()
            {
                sysctls.insert(key, n);
            }
        };
        for dev in std::iter::once("all").chain(raw_links.iter().map(|l| l.name.as_str())) {
            for k in CONF_KEYS {
                read(conf_key(dev, k));
            }
        }
        read(IP_FORWARD.to_owned());
        read(IP6_FORWARD.to_owned());
        Ok(Snapshot {
            links,
            addrs,
            routes,
            sysctls,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn route(dst: &str, prefix: u8, dev: &str) -> RouteState {
        RouteState {
            dst: dst.parse().unwrap(),
            prefix,
            gateway: None,
            dev: Some(dev.into()),
        }
    }

    #[test]
    fn effective_is_max_of_all_and_dev() {
        let mut s = Snapshot::default();
        s.sysctls.insert(conf_key("all", "arp_ignore"), 0);
        s.sysctls.insert(conf_key("eth0", "arp_ignore"), 1);
        s.sysctls.insert(conf_key("all", "rp_filter"), 2);
        s.sysctls.insert(conf_key("eth0", "rp_filter"), 1);
        assert_eq!(s.effective("eth0", "arp_ignore"), 1);
        assert_eq!(s.effective("eth0", "rp_filter"), 2);
        assert_eq!(s.effective("eth1", "arp_ignore"), 0);
    }

    #[test]
    fn longest_prefix_wins() {
        let s = Snapshot {
            routes: vec![
                route("0.0.0.0", 0, "eth0"),
                route("10.1.0.0", 16, "eth1"),
                route("10.1.2.0", 24, "eth2"),
            ],
            ..Snapshot::default()
        };
        let a = |x: &str| x.parse::<IpAddr>().unwrap();
        assert_eq!(s.dev_to(a("10.1.2.3")), Some("eth2"));
        assert_eq!(s.dev_to(a("10.1.3.3")), Some("eth1"));
        assert_eq!(s.dev_to(a("192.0.2.1")), Some("eth0"));
        assert_eq!(s.dev_to(a("2001:db8::1")), None);
    }

    proptest! {
        // Any address is inside its own /p network and /0; a /32 holds only itself.
        #[test]
        fn prefix_membership(a in any::<u32>(), b in any::<u32>(), p in 0u8..=32) {
            let x = IpAddr::V4(a.into());
            let y = IpAddr::V4(b.into());
            prop_assert!(in_prefix(x, p, x));
            prop_assert!(in_prefix(x, 0, y));
            prop_assert_eq!(in_prefix(x, 32, y), a == b);
            // Same top p bits <=> same network.
            let same = p == 0 || (a >> (32 - u32::from(p))) == (b >> (32 - u32::from(p)));
            prop_assert_eq!(in_prefix(x, p, y), same);
        }
    }
}
