//! The data plane's view of the machine (`lvs_datapath::Config`: served
//! interfaces, main-table routes, the director's addresses, neighbours),
//! kept current by an rtnetlink monitor rather than periodic dumps.
//!
//! Contract:
//! - [`MachineView::open`] subscribes to links, neighbours, and IPv4 and
//!   IPv6 addresses and routes *before* the first dump
//!   ([`machine_config`]), so no change can fall between the two.
//! - [`MachineView::poll`] reads what the kernel queued, without blocking
//!   (one `recv` when nothing changed) and applies it: a neighbour
//!   notification of a served interface updates the neighbour table in
//!   place (only served interfaces' entries are kept; usable entries,
//!   `NUD_REACHABLE | STALE | DELAY | PROBE | PERMANENT | NOARP` with a
//!   MAC, are added or replaced; others and deletions are removed); a link,
//!   address or route notification makes it dump links, addresses, routes
//!   and neighbours again (rare events; one consistent snapshot, simpler
//!   than patching longest-prefix tables). An overrun of the monitor's
//!   buffer (`ENOBUFS`: notifications were lost) also triggers the full
//!   dump. The served interfaces stay the ones chosen at start.
//! - There is no timer: a change is visible to the next packet after the
//!   poll that read it (the worker polls once per loop turn, at least every
//!   millisecond when idle).
//!
//! Kernel behaviour relied on: every neighbour state change
//! (`neigh_update`) and every address / route / link change is notified to
//! the `RTNLGRP_*` groups as `RTM_NEW*` / `RTM_DEL*`, and a full socket
//! buffer makes the next `recv` fail with `ENOBUFS` once.

use std::net::IpAddr;

use lvs_datapath::{Config, Interface, Neighbour, Route};
use lvs_sys::SysError;
use lvs_sys::rtnl::{self, Event, Rtnl, groups};
use lvs_wire::MacAddr;

/// What a poll changed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Changed {
    /// The neighbour table changed.
    pub(crate) neighbours: bool,
    /// Links, addresses or routes changed (the view was dumped again).
    pub(crate) machine: bool,
}

/// The monitor and its scratch space.
#[derive(Debug)]
pub(crate) struct MachineView {
    monitor: Rtnl,
    events: Vec<Event>,
    /// Overruns seen (each one cost a full dump).
    pub(crate) overruns: u64,
}

pub(crate) fn mac_of(bytes: &[u8]) -> MacAddr {
    let mut m = [0u8; 6];
    if bytes.len() == 6 {
        m.copy_from_slice(bytes);
    }
    MacAddr(m)
}

impl MachineView {
    /// Subscribes to every group the view needs (call before dumping).
    pub(crate) fn open() -> Result<Self, SysError> {
        Ok(Self {
            monitor: Rtnl::monitor(groups::ALL)?,
            events: Vec::with_capacity(64),
            overruns: 0,
        })
    }

    /// Applies the queued notifications to `config` (see the module docs);
    /// `ifindexes` are the served interfaces.
    pub(crate) fn poll(
        &mut self,
        rtnl: &mut Rtnl,
        ifindexes: &[u32],
        config: &mut Config,
    ) -> Changed {
        self.events.clear();
        let mut changed = Changed::default();
        match self.monitor.try_next_events(&mut self.events) {
            Ok(false) => return changed,
            Ok(true) => {}
            Err(SysError::Overrun) => {
                self.overruns += 1;
                tracing::warn!("rtnetlink monitor overrun: dumping again");
                changed.machine = true;
            }
            Err(e) => {
                // A malformed message: the rest of its batch is lost too.
                tracing::warn!("rtnetlink monitor: {e}: dumping again");
                changed.machine = true;
            }
        }
        for ev in &self.events {
            match ev {
                // Only the served interfaces' neighbours: the engine sends
                // nowhere else, and the table is keyed by address (the
                // TAP's NOARP entries for the same addresses must not win).
                Event::Neighbour { neigh, .. } if !ifindexes.contains(&neigh.index) => {}
                Event::Neighbour { neigh, deleted } => {
                    changed.neighbours |= apply_neighbour(&mut config.neighbours, neigh, *deleted);
                }
                Event::Link { .. } | Event::Address { .. } | Event::Route { .. } => {
                    changed.machine = true;
                }
            }
        }
        if changed.machine {
            match rtnl
                .links()
                .and_then(|links| machine_config(rtnl, &links, ifindexes))
            {
                Ok(mut c) => {
                    c.fwmark_rules = std::mem::take(&mut config.fwmark_rules);
                    c.pmtu_disc = config.pmtu_disc;
                    *config = c;
                    changed.neighbours = true;
                }
                Err(e) => tracing::warn!("machine view dump: {e}"),
            }
        }
        changed
    }
}

/// Applies one neighbour notification; true when the table changed.
fn apply_neighbour(table: &mut Vec<Neighbour>, n: &rtnl::Neighbour, deleted: bool) -> bool {
    let pos = table.iter().position(|e| e.ip == n.addr);
    match (n.lladdr.as_deref(), deleted || !n.is_usable()) {
        (Some(mac), false) => {
            let entry = Neighbour {
                ip: n.addr,
                mac: mac_of(mac),
            };
            match pos {
                Some(i) if table[i] == entry => false,
                Some(i) => {
                    table[i] = entry;
                    true
                }
                None => {
                    table.push(entry);
                    true
                }
            }
        }
        _ => match pos {
            Some(i) => {
                table.swap_remove(i);
                true
            }
            None => false,
        },
    }
}

/// The machine view from rtnetlink dumps, for the served interfaces
/// `ifindexes`.
pub(crate) fn machine_config(
    rtnl: &mut Rtnl,
    links: &[rtnl::Link],
    ifindexes: &[u32],
) -> Result<Config, SysError> {
    let addrs = rtnl.addresses()?;
    let routes = rtnl.routes()?;
    let mut config = Config::new();
    for &ifindex in ifindexes {
        let Some(link) = links.iter().find(|l| l.index == ifindex) else {
            continue;
        };
        let mine = || addrs.iter().filter(|a| a.index == link.index);
        config.interfaces.push(Interface {
            ifindex: link.index,
            mac: mac_of(&link.mac),
            mtu: u16::try_from(link.mtu).unwrap_or(u16::MAX),
            v4: mine().find_map(|a| match a.addr {
                IpAddr::V4(v) => Some(v),
                IpAddr::V6(_) => None,
            }),
            v6: mine().find_map(|a| match a.addr {
                IpAddr::V6(v) if a.scope == 0 => Some(v),
                _ => None,
            }),
        });
    }
    const MAIN_TABLE: u32 = 254;
    const RTN_UNICAST: u8 = 1;
    for r in &routes {
        let Some(oif) = r.oif else { continue };
        if r.table == MAIN_TABLE && r.kind == RTN_UNICAST {
            config.routes.push(Route {
                prefix: r.dst,
                len: r.dst_len,
                gateway: r.gateway,
                ifindex: oif,
            });
        }
    }
    config.local_addrs = addrs.iter().map(|a| a.addr).collect();
    for n in rtnl.neighbours()? {
        if n.is_usable()
            && ifindexes.contains(&n.index)
            && let Some(mac) = &n.lladdr
        {
            config.neighbours.push(Neighbour {
                ip: n.addr,
                mac: mac_of(mac),
            });
        }
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lvs_sys::NetNs;
    use lvs_sys::rtnl::nud;
    use std::time::{Duration, Instant};

    fn neigh(addr: &str, mac: Option<[u8; 6]>, state: u16) -> rtnl::Neighbour {
        rtnl::Neighbour {
            index: 2,
            addr: addr.parse().unwrap(),
            lladdr: mac.map(|m| m.to_vec()),
            state,
        }
    }

    #[test]
    fn neighbour_notifications_add_replace_and_remove() {
        let mut t = Vec::new();
        let a = [2, 0, 0, 0, 0, 1];
        let b = [2, 0, 0, 0, 0, 2];
        // Incomplete (no MAC yet): nothing to add.
        assert!(!apply_neighbour(
            &mut t,
            &neigh("10.0.0.1", None, nud::INCOMPLETE),
            false
        ));
        assert!(apply_neighbour(
            &mut t,
            &neigh("10.0.0.1", Some(a), nud::REACHABLE),
            false
        ));
        assert_eq!(
            t,
            [Neighbour {
                ip: "10.0.0.1".parse().unwrap(),
                mac: MacAddr(a)
            }]
        );
        // Same again (REACHABLE -> STALE keeps the MAC): no change.
        assert!(!apply_neighbour(
            &mut t,
            &neigh("10.0.0.1", Some(a), nud::STALE),
            false
        ));
        // The MAC moved.
        assert!(apply_neighbour(
            &mut t,
            &neigh("10.0.0.1", Some(b), nud::REACHABLE),
            false
        ));
        assert_eq!(t[0].mac, MacAddr(b));
        // FAILED keeps the old lladdr in the message but is not usable.
        assert!(apply_neighbour(
            &mut t,
            &neigh("10.0.0.1", Some(b), nud::FAILED),
            false
        ));
        assert!(t.is_empty());
        assert!(apply_neighbour(
            &mut t,
            &neigh("10.0.0.1", Some(a), nud::PERMANENT),
            false
        ));
        assert!(apply_neighbour(
            &mut t,
            &neigh("10.0.0.1", Some(a), nud::PERMANENT),
            true
        ));
        assert!(t.is_empty());
    }

    /// Polls until `f(config)` holds; the view has no timer, so what makes
    /// it true can only be a notification read by `poll`.
    fn poll_until(
        view: &mut MachineView,
        rtnl: &mut Rtnl,
        ifs: &[u32],
        config: &mut Config,
        f: impl Fn(&Config) -> bool,
    ) -> bool {
        let end = Instant::now() + Duration::from_secs(5);
        while Instant::now() < end {
            view.poll(rtnl, ifs, config);
            if f(config) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        false
    }

    #[test]
    fn address_route_and_neighbour_changes_are_seen_through_the_monitor() {
        let root = std::fs::read_to_string("/proc/self/status")
            .unwrap()
            .lines()
            .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"));
        assert!(
            root,
            "this privileged test needs root (network namespaces): run the suite as root"
        );
        let ns = NetNs::create(&format!("lvsd-unit-{}-b-mon", std::process::id())).unwrap();
        ns.ip(&["link", "add", "m0", "type", "veth", "peer", "name", "m1"])
            .unwrap();
        ns.ip(&["link", "set", "m0", "up"]).unwrap();
        ns.ip(&["link", "set", "m1", "up"]).unwrap();
        let ns_name = ns.name().to_owned();
        let ip = move |args: &[&str]| {
            let st = std::process::Command::new("ip")
                .args(["-n", &ns_name])
                .args(args)
                .status()
                .unwrap();
            assert!(st.success(), "ip {args:?}");
        };
        ns.run(|| {
            let mut view = MachineView::open().unwrap();
            let mut rtnl = Rtnl::open().unwrap();
            let links = rtnl.links().unwrap();
            let m0 = links.iter().find(|l| l.name == "m0").unwrap().index;
            let mut config = machine_config(&mut rtnl, &links, &[m0]).unwrap();
            let own: IpAddr = "10.77.0.1".parse().unwrap();
            let gw: IpAddr = "10.77.0.254".parse().unwrap();
            let far: IpAddr = "10.78.0.0".parse().unwrap();
            assert!(!config.local_addrs.contains(&own));
            // Nothing queued: nothing changes.
            assert_eq!(view.poll(&mut rtnl, &[m0], &mut config), Changed::default());

            ip(&["addr", "add", "10.77.0.1/24", "dev", "m0"]);
            assert!(poll_until(&mut view, &mut rtnl, &[m0], &mut config, |c| {
                c.local_addrs.contains(&own)
                    && c.interfaces
                        .iter()
                        .any(|i| i.v4 == Some("10.77.0.1".parse().unwrap()))
            }));
            ip(&["route", "add", "10.78.0.0/16", "via", "10.77.0.254"]);
            assert!(poll_until(&mut view, &mut rtnl, &[m0], &mut config, |c| {
                c.routes
                    .iter()
                    .any(|r| r.prefix == far && r.len == 16 && r.gateway == Some(gw))
            }));
            ip(&[
                "neigh",
                "add",
                "10.77.0.254",
                "lladdr",
                "02:00:00:00:00:fe",
                "dev",
                "m0",
            ]);
            let mac = MacAddr([2, 0, 0, 0, 0, 0xfe]);
            assert!(poll_until(&mut view, &mut rtnl, &[m0], &mut config, |c| {
                c.neighbours.iter().any(|n| n.ip == gw && n.mac == mac)
            }));
            ip(&["neigh", "del", "10.77.0.254", "dev", "m0"]);
            assert!(poll_until(&mut view, &mut rtnl, &[m0], &mut config, |c| {
                !c.neighbours.iter().any(|n| n.ip == gw)
            }));
            ip(&["route", "del", "10.78.0.0/16"]);
            assert!(poll_until(&mut view, &mut rtnl, &[m0], &mut config, |c| {
                !c.routes.iter().any(|r| r.prefix == far)
            }));
        })
        .unwrap();
    }

    #[test]
    fn an_overrun_is_repaired_by_a_dump() {
        let root = std::fs::read_to_string("/proc/self/status")
            .unwrap()
            .lines()
            .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"));
        assert!(
            root,
            "this privileged test needs root (network namespaces): run the suite as root"
        );
        let ns = NetNs::create(&format!("lvsd-unit-{}-b-ovr", std::process::id())).unwrap();
        ns.ip(&["link", "add", "m0", "type", "veth", "peer", "name", "m1"])
            .unwrap();
        ns.ip(&["link", "set", "m0", "up"]).unwrap();
        ns.ip(&["addr", "add", "10.76.0.1/24", "dev", "m0"])
            .unwrap();
        // Far more route notifications than the monitor's buffer holds,
        // added while nobody reads it.
        const ROUTES: usize = 40_000;
        let batch: String = (0..ROUTES)
            .map(|i| format!("route add 11.{}.{}.0/24 dev m0\n", i / 256, i % 256))
            .collect();
        let name = ns.name().to_owned();
        let (view, mut rtnl, mut config, m0) = ns
            .run(|| {
                let view = MachineView::open().unwrap();
                let mut rtnl = Rtnl::open().unwrap();
                let links = rtnl.links().unwrap();
                let m0 = links.iter().find(|l| l.name == "m0").unwrap().index;
                let config = machine_config(&mut rtnl, &links, &[m0]).unwrap();
                (view, rtnl, config, m0)
            })
            .unwrap();
        let mut child = std::process::Command::new("ip")
            .args(["-n", &name, "-batch", "-"])
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(child.stdin.as_mut().unwrap(), batch.as_bytes()).unwrap();
        drop(child.stdin.take());
        assert!(child.wait().unwrap().success());
        let mut view = view;
        let routes = ns
            .run(move || {
                view.poll(&mut rtnl, &[m0], &mut config);
                let added = config
                    .routes
                    .iter()
                    .filter(|r| matches!(r.prefix, IpAddr::V4(a) if a.octets()[0] == 11))
                    .count();
                (view.overruns, added)
            })
            .unwrap();
        assert!(routes.0 >= 1, "no overrun after {ROUTES} changes");
        // The dump after the overrun has every route.
        assert_eq!(routes.1, ROUTES);
    }
}
