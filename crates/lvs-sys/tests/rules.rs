//! Policy-routing rules and table routes through rtnetlink, read back with `ip rule` /
//! `ip route` inside a namespace created here (`lvsio-<pid>-b-*`, deleted by name on drop).
//! Root only: fails, never skips, when it cannot run.

#![allow(clippy::unwrap_used)]

use std::net::IpAddr;

use lvs_sys::NetNs;
use lvs_sys::rtnl::{Rtnl, SourceRule};

fn show(ns: &NetNs, args: &[&str]) -> String {
    String::from_utf8(ns.ip(args).unwrap().stdout).unwrap()
}

#[test]
fn source_rules_and_table_default_routes() {
    let ns = NetNs::create(&format!("lvsio-{}-b-rules", std::process::id())).unwrap();
    ns.ip(&["link", "add", "t0", "type", "veth", "peer", "name", "t1"])
        .unwrap();
    ns.ip(&["link", "set", "t0", "up"]).unwrap();
    ns.ip(&["link", "set", "t1", "up"]).unwrap();
    let v4 = SourceRule {
        priority: 1789,
        src: "172.16.10.21".parse::<IpAddr>().unwrap(),
        proto: 6,
        sport: 80,
        table: 1789,
    };
    let v6 = SourceRule {
        src: "2001:db8::21".parse().unwrap(),
        sport: 0,
        proto: 17,
        ..v4
    };
    ns.run(|| {
        let mut nl = Rtnl::open().unwrap();
        let t0 = nl
            .links()
            .unwrap()
            .into_iter()
            .find(|l| l.name == "t0")
            .unwrap()
            .index;
        nl.add_rule(&v4).unwrap();
        nl.add_rule(&v6).unwrap();
        assert!(matches!(
            nl.add_rule(&v4),
            Err(lvs_sys::SysError::Netlink(17))
        ));
        nl.replace_default_route(libc::AF_INET as u8, t0, 1789)
            .unwrap();
        nl.replace_default_route(libc::AF_INET6 as u8, t0, 1789)
            .unwrap();
    })
    .unwrap();
    let rules = show(&ns, &["rule", "show"]);
    assert!(
        rules.contains("1789:\tfrom 172.16.10.21 ipproto tcp sport 80 lookup 1789"),
        "{rules}"
    );
    let rules6 = show(&ns, &["-6", "rule", "show"]);
    assert!(
        rules6.contains("1789:\tfrom 2001:db8::21 ipproto udp lookup 1789"),
        "{rules6}"
    );
    let routes = show(&ns, &["route", "show", "table", "1789"]);
    assert!(routes.contains("default dev t0"), "{routes}");
    let routes6 = show(&ns, &["-6", "route", "show", "table", "1789"]);
    assert!(routes6.contains("default dev t0"), "{routes6}");

    ns.run(|| {
        let mut nl = Rtnl::open().unwrap();
        nl.del_rule(&v4).unwrap();
        nl.add_rule(&v4).unwrap();
        assert_eq!(nl.del_rules_at(libc::AF_INET as u8, 1789).unwrap(), 1);
        assert_eq!(nl.del_rules_at(libc::AF_INET6 as u8, 1789).unwrap(), 1);
        assert_eq!(nl.del_rules_at(libc::AF_INET as u8, 1789).unwrap(), 0);
    })
    .unwrap();
    assert!(!show(&ns, &["rule", "show"]).contains("1789"));
    assert!(!show(&ns, &["-6", "rule", "show"]).contains("1789"));
}
