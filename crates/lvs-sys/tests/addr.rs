#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

//! `lvs_sys::addr` against the real kernel, inside a namespace created
//! here (`lvsha-PID-addr`, deleted by its guard): add IPv4 (with a label)
//! and IPv6 (nodad) addresses to `lo`, see them in the rtnetlink dump,
//! get EEXIST for a second add, remove them, get EADDRNOTAVAIL for a
//! second removal.

use std::net::IpAddr;

use lvs_sys::addr::{AddrSpec, add, del};
use lvs_sys::rtnl::Rtnl;
use lvs_sys::{NetNs, SysError};

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|e| e == "0"))
        })
        .unwrap_or(false)
}

#[test]
fn add_and_remove_addresses_in_a_namespace() {
    assert!(
        is_root(),
        "this privileged test needs root: run the suite as root"
    );
    let ns = NetNs::create(&format!("lvsha-{}-addr", std::process::id())).unwrap();
    ns.ip(&["link", "set", "lo", "up"]).unwrap();
    ns.run(|| {
        let mut rtnl = Rtnl::open().unwrap();
        let lo = rtnl
            .links()
            .unwrap()
            .into_iter()
            .find(|l| l.name == "lo")
            .unwrap()
            .index;
        let v4: IpAddr = "10.55.0.100".parse().unwrap();
        let v6: IpAddr = "fd00:55::100".parse().unwrap();
        let specs = [
            AddrSpec {
                index: lo,
                addr: v4,
                prefix_len: 32,
                label: Some("lo:vip"),
                nodad: false,
            },
            AddrSpec {
                index: lo,
                addr: v6,
                prefix_len: 128,
                label: None,
                nodad: true,
            },
        ];
        let held = |rtnl: &mut Rtnl| -> Vec<(IpAddr, u8)> {
            rtnl.addresses()
                .unwrap()
                .into_iter()
                .filter(|a| a.index == lo && (a.addr == v4 || a.addr == v6))
                .map(|a| (a.addr, a.prefix_len))
                .collect()
        };
        for s in &specs {
            add(s).unwrap();
        }
        let mut got = held(&mut rtnl);
        got.sort();
        assert_eq!(got, vec![(v4, 32), (v6, 128)]);
        for s in &specs {
            assert!(matches!(add(s), Err(SysError::Netlink(e)) if e == -EEXIST));
        }
        for s in &specs {
            del(s).unwrap();
        }
        assert!(held(&mut rtnl).is_empty());
        assert!(matches!(del(&specs[0]), Err(SysError::Netlink(e)) if e == -99));
    })
    .unwrap();
}

/// EEXIST.
const EEXIST: i32 = 17;
