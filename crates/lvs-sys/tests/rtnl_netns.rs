//! rtnetlink dumps, neighbour resolution and the monitor, inside two namespaces created here
//! (`lvsio-<pid>-*`, deleted by name on drop) joined by a veth pair. Root only: fails, never
//! skips, when it cannot run.

#![allow(clippy::unwrap_used)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use lvs_sys::NetNs;
use lvs_sys::rtnl::{Event, Rtnl, groups};

const A4: Ipv4Addr = Ipv4Addr::new(10, 88, 0, 1);
const B4: Ipv4Addr = Ipv4Addr::new(10, 88, 0, 2);
const A6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0x88, 0, 0, 0, 0, 1);
const B6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0x88, 0, 0, 0, 0, 2);

fn mac_of(ns: &NetNs, dev: &str) -> Vec<u8> {
    let out = String::from_utf8(ns.ip(&["link", "show", dev]).unwrap().stdout).unwrap();
    let s = out.split("link/ether ").nth(1).unwrap();
    s[..17]
        .split(':')
        .map(|h| u8::from_str_radix(h, 16).unwrap())
        .collect()
}

fn pair(tag: &str) -> (NetNs, NetNs) {
    let pid = std::process::id();
    let a = NetNs::create(&format!("lvsio-{pid}-{tag}a")).unwrap();
    let b = NetNs::create(&format!("lvsio-{pid}-{tag}b")).unwrap();
    a.ip(&[
        "link",
        "add",
        "va",
        "type",
        "veth",
        "peer",
        "name",
        "vb",
        "netns",
        b.name(),
    ])
    .unwrap();
    a.ip(&["addr", "add", "10.88.0.1/24", "dev", "va"]).unwrap();
    a.ip(&["addr", "add", "2001:db8:88::1/64", "dev", "va", "nodad"])
        .unwrap();
    a.ip(&["link", "set", "va", "up"]).unwrap();
    a.ip(&["link", "set", "lo", "up"]).unwrap();
    a.ip(&[
        "route",
        "add",
        "10.99.0.0/16",
        "via",
        "10.88.0.2",
        "metric",
        "7",
    ])
    .unwrap();
    b.ip(&["addr", "add", "10.88.0.2/24", "dev", "vb"]).unwrap();
    b.ip(&["addr", "add", "2001:db8:88::2/64", "dev", "vb", "nodad"])
        .unwrap();
    b.ip(&["link", "set", "vb", "up"]).unwrap();
    (a, b)
}

#[test]
fn dumps_links_addresses_routes() {
    let (a, _b) = pair("dump");
    let mac = mac_of(&a, "va");
    a.run(move || {
        let mut nl = Rtnl::open().unwrap();
        let links = nl.links().unwrap();
        let lo = links.iter().find(|l| l.name == "lo").unwrap();
        assert_eq!(lo.index, 1);
        assert!(lo.is_up());
        let va = links.iter().find(|l| l.name == "va").unwrap();
        assert_eq!(va.kind.as_deref(), Some("veth"));
        assert_eq!(va.mtu, 1500);
        assert_eq!(va.mac, mac);
        assert!(va.is_up());
        assert_eq!(
            links.len(),
            2,
            "a new namespace has lo and our veth only: {links:?}"
        );

        let addrs = nl.addresses().unwrap();
        let has = |ip: IpAddr, plen: u8, idx: u32| {
            addrs
                .iter()
                .any(|x| x.addr == ip && x.prefix_len == plen && x.index == idx)
        };
        assert!(has(A4.into(), 24, va.index), "{addrs:?}");
        assert!(has(A6.into(), 64, va.index), "{addrs:?}");
        assert!(has(Ipv4Addr::LOCALHOST.into(), 8, 1), "{addrs:?}");

        let routes = nl.routes().unwrap();
        let via = routes
            .iter()
            .find(|r| r.dst == IpAddr::V4(Ipv4Addr::new(10, 99, 0, 0)))
            .unwrap();
        assert_eq!(via.dst_len, 16);
        assert_eq!(via.gateway, Some(B4.into()));
        assert_eq!(via.oif, Some(va.index));
        assert_eq!(via.table, 254, "main table");
        assert_eq!(via.priority, Some(7));
        let connected = routes
            .iter()
            .find(|r| r.dst == IpAddr::V4(Ipv4Addr::new(10, 88, 0, 0)) && r.table == 254)
            .unwrap();
        assert_eq!(
            (connected.dst_len, connected.gateway, connected.prefsrc),
            (24, None, Some(A4.into()))
        );
        let local = routes
            .iter()
            .find(|r| r.dst == IpAddr::V4(A4) && r.table == 255)
            .unwrap();
        assert_eq!(
            (local.kind, local.dst_len),
            (2, 32),
            "RTN_LOCAL /32 in the local table"
        );
    })
    .unwrap();
}

#[test]
fn resolution_trigger_fills_the_neighbour_table_and_is_monitored() {
    let (a, b) = pair("neigh");
    let peer_mac = mac_of(&b, "vb");
    a.run(move || {
        let mut nl = Rtnl::open().unwrap();
        let mut mon = Rtnl::monitor(groups::NEIGH).unwrap();
        mon.set_timeout(Some(Duration::from_millis(200))).unwrap();
        let va = nl
            .links()
            .unwrap()
            .into_iter()
            .find(|l| l.name == "va")
            .unwrap()
            .index;
        let before = nl.neighbours().unwrap();
        assert!(
            !before.iter().any(|n| n.addr == IpAddr::V4(B4)),
            "{before:?}"
        );

        for target in [IpAddr::V4(B4), IpAddr::V6(B6)] {
            nl.resolve(va, target).unwrap();
            let deadline = Instant::now() + Duration::from_secs(3);
            let found = loop {
                let ns = nl.neighbours().unwrap();
                if let Some(n) = ns.into_iter().find(|n| n.addr == target && n.is_usable()) {
                    break Some(n);
                }
                if Instant::now() > deadline {
                    break None;
                }
                std::thread::sleep(Duration::from_millis(20));
            };
            let n = found.unwrap_or_else(|| panic!("{target} not resolved"));
            assert_eq!(n.index, va);
            assert_eq!(n.lladdr.as_deref(), Some(&peer_mac[..]));
        }

        // The monitor saw the IPv4 entry change state (incomplete -> reachable).
        let mut events = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline {
            let _ = mon.next_events(&mut events);
            if events.iter().any(|e| {
                matches!(e, Event::Neighbour { neigh, deleted: false }
                if neigh.addr == IpAddr::V4(B4) && neigh.lladdr.is_some())
            }) {
                break;
            }
        }
        assert!(
            events
                .iter()
                .any(|e| matches!(e, Event::Neighbour { neigh, deleted: false }
                if neigh.addr == IpAddr::V4(B4) && neigh.lladdr.as_deref() == Some(&peer_mac[..]))),
            "{events:?}"
        );
    })
    .unwrap();
}

#[test]
fn resolve_on_a_missing_interface_is_a_netlink_error() {
    let ns = NetNs::create(&format!("lvsio-{}-nerr", std::process::id())).unwrap();
    ns.run(|| {
        let mut nl = Rtnl::open().unwrap();
        let e = nl.resolve(4242, IpAddr::V4(B4)).unwrap_err();
        assert!(
            matches!(e, lvs_sys::SysError::Netlink(19)),
            "ENODEV expected: {e:?}"
        );
    })
    .unwrap();
}

#[test]
fn sysctl_writes_stay_in_the_namespace() {
    let root = lvs_sys::sysctl::read("net.ipv4.conf.all.rp_filter").unwrap();
    let ns = NetNs::create(&format!("lvsio-{}-sysctl", std::process::id())).unwrap();
    let want = if root == "2" { "1" } else { "2" };
    let got = ns
        .run(|| {
            lvs_sys::sysctl::write("net.ipv4.conf.all.rp_filter", want).unwrap();
            lvs_sys::sysctl::read("net.ipv4.conf.all.rp_filter").unwrap()
        })
        .unwrap();
    assert_eq!(got, want);
    assert_eq!(
        lvs_sys::sysctl::read("net.ipv4.conf.all.rp_filter").unwrap(),
        root
    );
    assert!(lvs_sys::sysctl::read("net/../../etc").is_err());
}
