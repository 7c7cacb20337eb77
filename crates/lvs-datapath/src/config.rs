//! What the shell tells the data path about the machine: interfaces, routes,
//! neighbours (IP → MAC), the director's own addresses and the fwmark
//! classification rules.
//!
//! Lookups are linear scans over small tables (a director has a handful of
//! interfaces and routes; rules are few): O(entries), no allocation.
//! Routes are chosen by longest prefix, first listed on a tie.

use std::net::IpAddr;

use lvs_core::Protocol;
use lvs_wire::MacAddr;

/// A network interface of the director.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interface {
    /// Interface index.
    pub ifindex: u32,
    /// Its MAC address (source of frames sent on it).
    pub mac: MacAddr,
    /// Its MTU (IP packet size).
    pub mtu: u16,
    /// Its IPv4 address (tunnel source and ICMP source towards hosts
    /// behind it).
    pub v4: Option<std::net::Ipv4Addr>,
    /// Its IPv6 address.
    pub v6: Option<std::net::Ipv6Addr>,
}

/// A route: `prefix/len` reachable through `ifindex`, via `gateway` or
/// on-link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// Network address.
    pub prefix: IpAddr,
    /// Prefix length.
    pub len: u8,
    /// Next hop, or `None` for on-link destinations.
    pub gateway: Option<IpAddr>,
    /// Egress interface.
    pub ifindex: u32,
}

/// A neighbour: the MAC address of an on-link host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Neighbour {
    /// Its IP address.
    pub ip: IpAddr,
    /// Its MAC address.
    pub mac: MacAddr,
}

/// A fwmark classification rule, standing in for the iptables mangle rule
/// that marks packets for a fwmark service: packets of `proto` to `vaddr`
/// whose destination port is one of `ports` (any port when empty) get
/// `mark`. First matching rule wins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FwmarkRule {
    /// Transport protocol.
    pub proto: Protocol,
    /// Destination address.
    pub vaddr: IpAddr,
    /// Destination ports (empty: all).
    pub ports: Vec<u16>,
    /// Mark given.
    pub mark: u32,
}

/// The shell-provided view of the machine.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// Interfaces.
    pub interfaces: Vec<Interface>,
    /// Routes.
    pub routes: Vec<Route>,
    /// Neighbour table.
    pub neighbours: Vec<Neighbour>,
    /// The director's own addresses (packets to them that are no IPVS
    /// business go to the local stack). Interface addresses count too.
    pub local_addrs: Vec<IpAddr>,
    /// Fwmark rules.
    pub fwmark_rules: Vec<FwmarkRule>,
    /// `pmtu_disc` sysctl (default on): tunnels copy DF from the inner
    /// packet and answer "fragmentation needed"; off: outer DF clear.
    pub pmtu_disc: bool,
}

impl Config {
    /// An empty configuration with `pmtu_disc` on.
    pub fn new() -> Config {
        Config {
            pmtu_disc: true,
            ..Config::default()
        }
    }

    pub(crate) fn interface(&self, ifindex: u32) -> Option<&Interface> {
        self.interfaces.iter().find(|i| i.ifindex == ifindex)
    }

    /// Longest-prefix route to `dst`.
    pub(crate) fn route(&self, dst: &IpAddr) -> Option<&Route> {
        let mut best: Option<&Route> = None;
        for r in &self.routes {
            if prefix_match(&r.prefix, r.len, dst) && best.is_none_or(|b| r.len > b.len) {
                best = Some(r);
            }
        }
        best
    }

    pub(crate) fn neighbour(&self, ip: &IpAddr) -> Option<MacAddr> {
        self.neighbours.iter().find(|n| n.ip == *ip).map(|n| n.mac)
    }

    pub(crate) fn is_local(&self, ip: &IpAddr) -> bool {
        self.local_addrs.contains(ip)
            || self.interfaces.iter().any(|i| match ip {
                IpAddr::V4(a) => i.v4 == Some(*a),
                IpAddr::V6(a) => i.v6 == Some(*a),
            })
    }

    pub(crate) fn fwmark(&self, proto: Protocol, daddr: &IpAddr, dport: u16) -> Option<u32> {
        self.fwmark_rules
            .iter()
            .find(|r| {
                r.proto == proto
                    && r.vaddr == *daddr
                    && (r.ports.is_empty() || r.ports.contains(&dport))
            })
            .map(|r| r.mark)
    }
}

fn prefix_match(prefix: &IpAddr, len: u8, ip: &IpAddr) -> bool {
    match (prefix, ip) {
        (IpAddr::V4(p), IpAddr::V4(a)) => {
            let len = u32::from(len.min(32));
            let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
            u32::from(*p) & mask == u32::from(*a) & mask
        }
        (IpAddr::V6(p), IpAddr::V6(a)) => {
            let len = u32::from(len.min(128));
            let mask = if len == 0 {
                0
            } else {
                u128::MAX << (128 - len)
            };
            u128::from(*p) & mask == u128::from(*a) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_prefix_wins() {
        let mut c = Config::new();
        c.routes.push(Route {
            prefix: "0.0.0.0".parse().unwrap(),
            len: 0,
            gateway: Some("10.0.0.254".parse().unwrap()),
            ifindex: 1,
        });
        c.routes.push(Route {
            prefix: "192.168.1.0".parse().unwrap(),
            len: 24,
            gateway: None,
            ifindex: 2,
        });
        assert_eq!(c.route(&"192.168.1.7".parse().unwrap()).unwrap().ifindex, 2);
        assert_eq!(c.route(&"192.168.2.7".parse().unwrap()).unwrap().ifindex, 1);
        assert!(c.route(&"::1".parse().unwrap()).is_none());
    }
}
