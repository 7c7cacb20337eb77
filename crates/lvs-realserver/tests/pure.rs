//! The diagnosis and the setup planner on hand-made snapshots (no kernel). Expected findings
//! and plans are the seeds' rules worked by hand for each host; the properties tie the two
//! together: whatever the starting sysctls, a host after `plan_setup` plans nothing more and
//! has no findings, and `plan_teardown` brings it back to where it started.
#![allow(clippy::unwrap_used)]

use std::net::IpAddr;

use lvs_realserver::diagnose::{
    self, ArpAnswer, DirectorDest, DirectorService, Finding, RealServerSpec,
};
use lvs_realserver::plan::{Change, SetupSpec, plan_setup, plan_teardown, simulate};
use lvs_realserver::snapshot::{AddrState, LinkState, RouteState, Snapshot, conf_key};
use lvs_realserver::{Mode, TunType};
use proptest::prelude::*;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn link(name: &str, index: u32, mtu: u32) -> LinkState {
    LinkState {
        name: name.into(),
        index,
        mac: if name == "lo" {
            vec![]
        } else {
            vec![2, 0, 0, 0, 0, index as u8]
        },
        mtu,
        up: true,
        loopback: name == "lo",
        noarp: name == "lo",
        kind: None,
        decap: false,
    }
}

fn addr(dev: &str, a: &str, prefix: u8) -> AddrState {
    AddrState {
        dev: dev.into(),
        addr: ip(a),
        prefix,
    }
}

fn route(dst: &str, prefix: u8, gw: Option<&str>, dev: &str) -> RouteState {
    RouteState {
        dst: ip(dst),
        prefix,
        gateway: gw.map(ip),
        dev: Some(dev.into()),
    }
}

/// A freshly installed real server: eth0 10.0.0.2/24, default via the router 10.0.0.254,
/// every ARP / rp_filter sysctl 0.
fn fresh() -> Snapshot {
    let mut s = Snapshot {
        links: vec![link("lo", 1, 65536), link("eth0", 2, 1500)],
        addrs: vec![addr("lo", "127.0.0.1", 8), addr("eth0", "10.0.0.2", 24)],
        routes: vec![
            route("10.0.0.0", 24, None, "eth0"),
            route("0.0.0.0", 0, Some("10.0.0.254"), "eth0"),
        ],
        ..Snapshot::default()
    };
    for d in ["all", "lo", "eth0"] {
        for k in ["arp_ignore", "arp_announce", "rp_filter"] {
            s.sysctls.insert(conf_key(d, k), 0);
        }
    }
    s
}

fn ids(f: &[Finding]) -> Vec<(&'static str, String)> {
    f.iter().map(|f| (f.id, f.subject.clone())).collect()
}

fn dr(vip: &str) -> RealServerSpec {
    RealServerSpec::new(Mode::Dr, vec![ip(vip)])
}

fn setup(mode: Mode, vips: &[&str]) -> SetupSpec {
    SetupSpec {
        mode,
        vips: vips.iter().map(|v| ip(v)).collect(),
        dev: None,
        gateway: None,
        gue_port: None,
    }
}

#[test]
fn fresh_host_as_dr_real_server() {
    let f = diagnose::real_server(&fresh(), &dr("10.0.0.100"));
    assert_eq!(
        ids(&f),
        vec![
            ("RS-VIP-MISSING", "10.0.0.100".to_owned()),
            ("RS-ARP-IGNORE", "eth0".to_owned()),
            ("RS-ARP-ANNOUNCE", "eth0".to_owned()),
        ]
    );
    // Each line carries the fix.
    assert!(
        f[0].to_string()
            .ends_with("fix: ip addr add 10.0.0.100/32 dev lo")
    );
    assert!(f[1].fix.contains("net.ipv4.conf.eth0.arp_ignore=1"));
}

#[test]
fn setup_plan_sets_arp_before_the_vip() {
    let p = plan_setup(&fresh(), &setup(Mode::Dr, &["10.0.0.100"])).unwrap();
    let cmds: Vec<String> = p.changes.iter().map(Change::command).collect();
    assert_eq!(
        cmds,
        vec![
            "sysctl -w net.ipv4.conf.all.arp_ignore=1",
            "sysctl -w net.ipv4.conf.all.arp_announce=2",
            "sysctl -w net.ipv4.conf.eth0.arp_ignore=1",
            "sysctl -w net.ipv4.conf.eth0.arp_announce=2",
            "ip addr add 10.0.0.100/32 dev lo",
        ]
    );
}

#[test]
fn ipv6_vip_needs_no_arp_sysctls() {
    let mut s = fresh();
    s.addrs.push(addr("eth0", "fd00::2", 64));
    s.routes.push(route("::", 0, Some("fd00::1"), "eth0"));
    let p = plan_setup(&s, &setup(Mode::Dr, &["fd00::100"])).unwrap();
    assert_eq!(
        p.changes,
        vec![Change::AddrAdd {
            dev: "lo".into(),
            addr: ip("fd00::100"),
            prefix: 128
        }]
    );
}

#[test]
fn vip_on_an_arping_interface_or_wrong_prefix() {
    let mut s = fresh();
    s.addrs.push(addr("eth0", "10.0.0.100", 24));
    let f = diagnose::real_server(&s, &dr("10.0.0.100"));
    assert_eq!(f[0].id, "RS-VIP-ARPING");
    assert!(plan_setup(&s, &setup(Mode::Dr, &["10.0.0.100"])).is_err());

    let mut s = fresh();
    s.addrs.push(addr("lo", "10.0.0.100", 24));
    let f = diagnose::real_server(&s, &dr("10.0.0.100"));
    assert_eq!(f[0].id, "RS-VIP-PREFIX");
    assert!(f[0].evidence.contains("/24"));
}

#[test]
fn gateway_rules_by_mode() {
    let mut spec = dr("10.0.0.100");
    spec.dip = Some(ip("10.0.0.254"));
    let f = diagnose::real_server(&fresh(), &spec);
    assert!(ids(&f).contains(&("RS-GW-DIP", "default route".to_owned())));

    let mut nat = RealServerSpec::new(Mode::Nat, vec![]);
    nat.dip = Some(ip("10.0.0.1"));
    let f = diagnose::real_server(&fresh(), &nat);
    assert_eq!(ids(&f), vec![("RS-NAT-GW", "default route".to_owned())]);
    assert!(f[0].fix.contains("via 10.0.0.1"));
    nat.dip = Some(ip("10.0.0.254"));
    assert!(diagnose::real_server(&fresh(), &nat).is_empty());
}

#[test]
fn nat_setup_changes_the_route_only_when_asked() {
    let s = fresh();
    let p = plan_setup(&s, &setup(Mode::Nat, &[])).unwrap();
    assert!(p.changes.is_empty());
    assert!(p.notes[0].contains("10.0.0.254"));
    let mut spec = setup(Mode::Nat, &[]);
    spec.gateway = Some(ip("10.0.0.1"));
    let p = plan_setup(&s, &spec).unwrap();
    assert_eq!(
        p.changes,
        vec![Change::DefaultRoute {
            via: ip("10.0.0.1"),
            dev: Some("eth0".into()),
            from: Some(ip("10.0.0.254"))
        }]
    );
    let mut after = s.clone();
    simulate(&mut after, &p.changes[0]);
    let t = plan_teardown(&after, &p.changes);
    for c in &t.changes {
        simulate(&mut after, c);
    }
    assert_eq!(
        after.default_route(false).unwrap().gateway,
        Some(ip("10.0.0.254"))
    );
}

#[test]
fn strict_rp_filter_with_the_way_back_elsewhere() {
    let mut s = fresh();
    s.links.push(link("eth1", 3, 1500));
    s.routes.retain(|r| r.prefix != 0);
    s.routes
        .push(route("0.0.0.0", 0, Some("192.168.1.1"), "eth1"));
    s.sysctls.insert(conf_key("eth0", "rp_filter"), 1);
    let mut spec = dr("10.0.0.100");
    spec.dev = Some("eth0".into());
    let f = diagnose::real_server(&s, &spec);
    assert!(ids(&f).contains(&("RS-RP-FILTER", "eth0".to_owned())));
    // Loose mode on `all` wins (max of all and the interface).
    s.sysctls.insert(conf_key("all", "rp_filter"), 2);
    let f = diagnose::real_server(&s, &spec);
    assert!(!f.iter().any(|f| f.id == "RS-RP-FILTER"));
}

#[test]
fn tun_decap_and_mtu() {
    let mut spec = RealServerSpec::new(Mode::Tun, vec![ip("10.0.0.100")]);
    let mut s = fresh();
    s.sysctls.insert(conf_key("all", "arp_ignore"), 1);
    s.sysctls.insert(conf_key("all", "arp_announce"), 2);
    s.addrs.push(addr("lo", "10.0.0.100", 32));
    assert_eq!(
        ids(&diagnose::real_server(&s, &spec)),
        vec![("RS-TUN-DECAP", "eth0".to_owned())]
    );
    // A kernel tunnel device that is up also decapsulates.
    let mut k = s.clone();
    let mut t = link("tunl0", 9, 1480);
    t.kind = Some("ipip".into());
    t.noarp = true;
    k.links.push(t);
    assert!(diagnose::real_server(&k, &spec).is_empty());
    // ... unless rp_filter is strict on it (lab: tunl0 strict, or all=1, gives no answer).
    k.sysctls.insert(conf_key("all", "rp_filter"), 1);
    let f = diagnose::real_server(&k, &spec);
    assert_eq!(ids(&f), vec![("RS-RP-FILTER", "tunl0".to_owned())]);
    assert!(f[0].fix.ends_with("net.ipv4.conf.tunl0.rp_filter=2"));
    k.sysctls.insert(conf_key("tunl0", "rp_filter"), 2);
    assert!(diagnose::real_server(&k, &spec).is_empty());
    // Our filter, but a receive MTU below the director's.
    s.links[1].decap = true;
    s.links[1].mtu = 1400;
    spec.tun_type = TunType::Gue;
    let f = diagnose::real_server(&s, &spec);
    assert_eq!(ids(&f), vec![("RS-TUN-MTU", "eth0".to_owned())]);
    assert!(f[0].evidence.contains("1400") && f[0].fix.ends_with("mtu 1500"));
}

fn director_host() -> Snapshot {
    let mut s = Snapshot {
        links: vec![
            link("lo", 1, 65536),
            link("eth0", 2, 1500),
            link("eth1", 3, 1500),
        ],
        addrs: vec![
            addr("eth0", "192.0.2.10", 24),
            addr("eth0", "192.0.2.100", 32),
            addr("eth1", "10.0.0.1", 24),
        ],
        routes: vec![
            route("192.0.2.0", 24, None, "eth0"),
            route("10.0.0.0", 24, None, "eth1"),
            route("0.0.0.0", 0, Some("192.0.2.1"), "eth0"),
        ],
        ..Snapshot::default()
    };
    s.sysctls.insert("net.ipv4.ip_forward".into(), 0);
    s
}

fn svc(vip: &str, dests: &[(&str, Mode)]) -> DirectorService {
    DirectorService {
        vip: Some(ip(vip)),
        dests: dests
            .iter()
            .map(|(r, m)| DirectorDest {
                rip: ip(r),
                mode: *m,
                tun_type: TunType::Ipip,
            })
            .collect(),
    }
}

#[test]
fn director_rules() {
    let s = director_host();
    // A clean DR director.
    assert!(
        diagnose::director(&s, &[svc("192.0.2.100", &[("10.0.0.2", Mode::Dr)])], &[]).is_empty()
    );
    // NAT without forwarding; a VIP that is not here; a DR server behind a gateway.
    let f = diagnose::director(
        &s,
        &[
            svc("192.0.2.100", &[("10.0.0.2", Mode::Nat)]),
            svc("192.0.2.200", &[("198.51.100.7", Mode::Dr)]),
        ],
        &[],
    );
    assert_eq!(
        ids(&f),
        vec![
            ("DIR-VIP-MISSING", "192.0.2.200".to_owned()),
            ("DIR-IP-FORWARD", "net.ipv4.ip_forward".to_owned()),
            ("DIR-DR-ONLINK", "198.51.100.7".to_owned()),
        ]
    );
    // Tunnel toward eth1 (MTU 1500) while clients come in at 1500.
    let f = diagnose::director(&s, &[svc("192.0.2.100", &[("10.0.0.2", Mode::Tun)])], &[]);
    assert_eq!(ids(&f), vec![("DIR-TUN-MTU", "10.0.0.2".to_owned())]);
    assert!(f[0].evidence.contains("1480") && f[0].fix.ends_with("mtu 1520"));
    // Someone else answers ARP for the VIP.
    let f = diagnose::director(
        &s,
        &[svc("192.0.2.100", &[("10.0.0.2", Mode::Dr)])],
        &[ArpAnswer {
            vip: ip("192.0.2.100"),
            dev: "eth0".into(),
            mac: [2, 0, 0, 0, 0, 0x42],
        }],
    );
    assert_eq!(f[0].id, "DIR-VIP-ARP");
    assert!(f[0].evidence.contains("02:00:00:00:00:42"));
}

#[test]
fn router_drops_dr_replies_with_strict_rp_filter() {
    // Seed 000 §4: the router forwards replies whose source (the VIP, on the client side)
    // arrive from the real servers' side.
    let mut s = director_host();
    s.addrs.retain(|a| a.addr != ip("192.0.2.100"));
    s.sysctls.insert("net.ipv4.ip_forward".into(), 1);
    s.sysctls.insert(conf_key("eth1", "rp_filter"), 1);
    let services = [svc("192.0.2.100", &[("10.0.0.2", Mode::Dr)])];
    let f = diagnose::director(&s, &services, &[]);
    assert_eq!(
        ids(&f),
        vec![
            ("DIR-VIP-MISSING", "192.0.2.100".to_owned()),
            ("DIR-RP-FILTER", "eth1".to_owned()),
        ]
    );
    s.sysctls.insert(conf_key("eth1", "rp_filter"), 2);
    assert_eq!(diagnose::director(&s, &services, &[]).len(), 1);
}

proptest! {
    // Whatever the ARP / rp_filter sysctls and whether the VIP is already on lo: after the
    // planned setup the host is clean, a second plan is empty, and teardown restores it.
    #[test]
    fn setup_is_complete_idempotent_and_undoable(
        vals in proptest::collection::vec(0i64..=8, 9),
        vip_there in any::<bool>(),
        tun in any::<bool>(),
        lo_down in any::<bool>(),
    ) {
        let mut s = fresh();
        let keys = ["arp_ignore", "arp_announce", "rp_filter"];
        for (i, d) in ["all", "lo", "eth0"].iter().enumerate() {
            for (j, k) in keys.iter().enumerate() {
                let v = vals[i * 3 + j];
                let v = if *k == "arp_ignore" { v } else { v % 3 };
                s.sysctls.insert(conf_key(d, k), v);
            }
        }
        if vip_there {
            s.addrs.push(addr("lo", "10.0.0.100", 32));
        }
        s.links[0].up = !lo_down;
        let mode = if tun { Mode::Tun } else { Mode::Dr };
        let p = plan_setup(&s, &setup(mode, &["10.0.0.100"])).unwrap();
        let mut after = s.clone();
        for c in &p.changes {
            simulate(&mut after, c);
        }
        let f = diagnose::real_server(&after, &RealServerSpec::new(mode, vec![ip("10.0.0.100")]));
        prop_assert!(f.is_empty(), "{:?}", f);
        prop_assert!(plan_setup(&after, &setup(mode, &["10.0.0.100"])).unwrap().changes.is_empty());
        let t = plan_teardown(&after, &p.changes);
        for c in &t.changes {
            simulate(&mut after, c);
        }
        after.links[0].up = s.links[0].up; // lo is left up on purpose
        prop_assert_eq!(after, s);
    }
}
