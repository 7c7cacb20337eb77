#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

//! End to end, seed 000 §4.3: LVS-DR with the real servers in another
//! subnet than the VIP, their replies going back through a Linux router
//! whose reverse path filter decides their fate. Real TCP between network
//! namespaces created here (`lvsd-e2e-PID-a-rt-*`, deleted by name by their
//! guards, also on failure), through the real `lvsd` configured with the
//! real `lvsadm` as `ipvsadm`, with the seed's addresses and commands. (The
//! seed's director-local real server, RIP 127.0.0.1, is another test's.)
//!
//! ```text
//!   cli 172.16.10.22 c0   dir d0 172.16.10.21 (VIP)   router e1 172.16.10.23
//!          └──────── sw: br0 (172.16.10.0/24) ───────────────┘
//!                         dir d1 192.168.100.17       router e0 192.168.100.32
//!          ┌──────── sw: br1 (192.168.100.0/24) ──────────────┘
//!   rs1 r0 192.168.100.47   rs2 r0 192.168.100.23
//!   (VIP /32 on lo, arp_ignore=1, arp_announce=2, default via 192.168.100.32)
//! ```
//!
//! The client is on the VIP's segment and sends to the director directly
//! (the seed's dashed client → router → director line); the director
//! forwards in DR mode (destination MAC rewritten) to a real server, which
//! answers from the VIP through its default gateway, the router. The router
//! receives on `e0` a packet from 172.16.10.21, whose route leaves by `e1`.
//!
//! Kernel behaviour mirrored (`ip-sysctl` `rp_filter`, `fib_validate_source`):
//! the value used for an interface is the maximum of `conf/all` and
//! `conf/<if>`; **1 (strict)**: the reverse route of the source must leave
//! by the receiving interface, else the packet is dropped (counted in
//! `TcpExt: IPReversePathFilter`); **2 (loose)**: the source only needs a
//! route by any interface. So with 1 (the seed's "default") every SYN-ACK
//! dies at the router: the client never connects, the real servers keep
//! SYN_RECV sockets, and the director's entries stay in SYN_RECV (in DR it
//! sees only the client's side: its `-lnc` is the seed's listing). With
//! `e0`'s `rp_filter` set to 2 (the seed's fix; `all` stays 1) every
//! request is answered. `wrr` with equal weights takes the servers in list
//! order, newest first: RS2, RS1, RS2, ...

mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::Command;

use common::lab::{HttpServer, Lvsd, netns, sh, stats_column, sysctl, veth};
use common::ops::{conn_entries, dest_rows, get_from};
use common::{Scratch, ipvsadm, is_root};
use lvs_sys::NetNs;

const VIP: Ipv4Addr = Ipv4Addr::new(172, 16, 10, 21);
const SVC: &str = "172.16.10.21:80";
const CLIENT: Ipv4Addr = Ipv4Addr::new(172, 16, 10, 22);
const RIPS: [&str; 2] = ["192.168.100.47", "192.168.100.23"];

struct Lab {
    cli: NetNs,
    dir: NetNs,
    router: NetNs,
    sw: NetNs,
    rs: [NetNs; 2],
}

fn lab() -> Lab {
    let lab = Lab {
        cli: netns("a-rt-cli"),
        dir: netns("a-rt-dir"),
        router: netns("a-rt-router"),
        sw: netns("a-rt-sw"),
        rs: [netns("a-rt-rs1"), netns("a-rt-rs2")],
    };
    let Lab {
        cli,
        dir,
        router,
        sw,
        rs,
    } = &lab;
    sh(sw, &["link", "add", "br0", "type", "bridge"]);
    sh(sw, &["link", "add", "br1", "type", "bridge"]);
    veth(cli, "c0", sw, "s0");
    veth(dir, "d0", sw, "s1");
    veth(router, "e1", sw, "s2");
    veth(dir, "d1", sw, "t0");
    veth(router, "e0", sw, "t1");
    veth(&rs[0], "r0", sw, "t2");
    veth(&rs[1], "r0", sw, "t3");
    for (p, br) in [
        ("s0", "br0"),
        ("s1", "br0"),
        ("s2", "br0"),
        ("t0", "br1"),
        ("t1", "br1"),
        ("t2", "br1"),
        ("t3", "br1"),
    ] {
        sh(sw, &["link", "set", p, "master", br, "up"]);
    }
    sh(sw, &["link", "set", "br0", "up"]);
    sh(sw, &["link", "set", "br1", "up"]);

    sh(cli, &["addr", "add", "172.16.10.22/24", "dev", "c0"]);
    sh(cli, &["link", "set", "c0", "up"]);
    sh(dir, &["addr", "add", "172.16.10.21/24", "dev", "d0"]);
    sh(dir, &["addr", "add", "192.168.100.17/24", "dev", "d1"]);
    sh(dir, &["link", "set", "d0", "up"]);
    sh(dir, &["link", "set", "d1", "up"]);

    // The router: forwarding on, strict reverse path filter everywhere.
    sysctl(router, "net.ipv4.ip_forward", "1");
    for iface in ["all", "default", "e0", "e1"] {
        sysctl(router, &format!("net.ipv4.conf.{iface}.rp_filter"), "1");
    }
    sh(router, &["addr", "add", "172.16.10.23/24", "dev", "e1"]);
    sh(router, &["addr", "add", "192.168.100.32/24", "dev", "e0"]);
    sh(router, &["link", "set", "e0", "up"]);
    sh(router, &["link", "set", "e1", "up"]);

    for (r, ip) in rs.iter().zip(RIPS) {
        for iface in ["all", "r0"] {
            sysctl(r, &format!("net.ipv4.conf.{iface}.arp_ignore"), "1");
            sysctl(r, &format!("net.ipv4.conf.{iface}.arp_announce"), "2");
        }
        sh(r, &["addr", "add", &format!("{ip}/24"), "dev", "r0"]);
        sh(r, &["link", "set", "r0", "up"]);
        sh(r, &["addr", "add", "172.16.10.21/32", "dev", "lo"]);
        sh(r, &["route", "add", "default", "via", "192.168.100.32"]);
    }
    for n in [cli, dir, router, sw, &rs[0], &rs[1]] {
        sh(n, &["link", "set", "lo", "up"]);
    }
    lab
}

fn run(scratch: &Scratch, argv: &[&str]) {
    let out = ipvsadm(scratch, argv);
    assert_eq!(out.code, 0, "ipvsadm {argv:?}: {}", out.stderr);
}

fn list(scratch: &Scratch, argv: &[&str]) -> String {
    let out = ipvsadm(scratch, argv);
    assert_eq!(out.code, 0, "ipvsadm {argv:?}: {}", out.stderr);
    out.stdout
}

/// `ip netns exec NS ARGV`: its standard output.
fn exec(ns: &NetNs, argv: &[&str]) -> String {
    let out = Command::new("ip")
        .args(["netns", "exec", ns.name()])
        .args(argv)
        .output()
        .unwrap();
    assert!(out.status.success(), "{argv:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// The router's `TcpExt: IPReversePathFilter` (drops by `rp_filter`).
fn rp_filter_drops(router: &NetNs) -> u64 {
    let text = exec(router, &["cat", "/proc/net/netstat"]);
    let mut lines = text.lines().filter(|l| l.starts_with("TcpExt:"));
    let (names, values) = (lines.next().unwrap(), lines.next().unwrap());
    let i = names
        .split_whitespace()
        .position(|n| n == "IPReversePathFilter")
        .unwrap();
    values.split_whitespace().nth(i).unwrap().parse().unwrap()
}

#[test]
fn seed_000_dr_rip_in_other_subnet_fails_with_rp_filter_1_works_with_2() {
    assert!(
        is_root(),
        "this privileged test needs root (network namespaces, XDP): run the suite as root"
    );
    let lab = lab();
    let scratch = Scratch::new("e2e-routed");
    let mut lvsd = Lvsd::start(&lab.dir, &scratch);
    let servers = [
        HttpServer::start(&lab.rs[0], VIP, "from RS1"),
        HttpServer::start(&lab.rs[1], VIP, "from RS2"),
    ];
    // The seed's commands (`-C` first, as it does).
    run(&scratch, &["-C"]);
    run(&scratch, &["-A", "-t", SVC, "-s", "wrr"]);
    let rs1 = format!("{}:80", RIPS[0]);
    let rs2 = format!("{}:80", RIPS[1]);
    run(&scratch, &["-a", "-t", SVC, "-r", &rs1, "-g", "-w", "1"]);
    run(&scratch, &["-a", "-t", SVC, "-r", &rs2, "-g", "-w", "1"]);
    let dst = SocketAddr::new(VIP.into(), 80);

    // rp_filter 1: the SYN-ACKs from the VIP arrive on the wrong side.
    let drops_before = rp_filter_drops(&lab.router);
    let failed = lab
        .cli
        .run(|| [get_from(None, dst), get_from(None, dst)])
        .unwrap();
    for f in &failed {
        assert!(
            matches!(f, Err((std::io::ErrorKind::TimedOut, _))),
            "no answer expected through a strict router: {failed:?}"
        );
    }
    assert!(
        rp_filter_drops(&lab.router) > drops_before,
        "the router's reverse path filter dropped them"
    );
    // The real servers did answer: their sockets wait in SYN_RECV.
    for r in &lab.rs {
        let syn_recv = exec(r, &["ss", "-Htn", "state", "syn-recv"]);
        assert!(
            syn_recv.contains("172.16.10.21:80") && syn_recv.contains("172.16.10.22:"),
            "{syn_recv}"
        );
    }
    // The seed's listing: one SYN_RECV entry per real server.
    let entries = conn_entries(&list(&scratch, &["-lnc"]));
    let mut dests: Vec<&str> = entries.iter().map(|e| e.dest.as_str()).collect();
    dests.sort_unstable();
    assert_eq!(dests, [rs2.as_str(), rs1.as_str()], "{entries:?}");
    assert!(
        entries.iter().all(|e| e.state == "SYN_RECV"
            && e.virt == SVC
            && e.source.starts_with("172.16.10.22:")),
        "{entries:?}"
    );
    // SYN_RECV is an active state (`tcp_state_active_table`).
    let rows = dest_rows(&list(&scratch, &["-ln"]));
    assert_eq!(rows[&rs1], [1, 1, 0], "weight, active, inactive");
    assert_eq!(rows[&rs2], [1, 1, 0], "weight, active, inactive");
    assert!(servers.iter().all(|s| s.peers.lock().unwrap().is_empty()));

    // rp_filter 2 on the interface facing the real servers (all stays 1:
    // the maximum, 2, applies).
    sysctl(&lab.router, "net.ipv4.conf.e0.rp_filter", "2");
    let answers: Vec<String> = lab
        .cli
        .run(|| (0..4).map(|_| get_from(None, dst)).collect::<Vec<_>>())
        .unwrap()
        .into_iter()
        .map(|r| r.unwrap_or_else(|e| panic!("{e:?}; lvsd log:\n{}", lvsd.log_text())))
        .collect();
    assert_eq!(
        answers,
        ["from RS2", "from RS1", "from RS2", "from RS1"],
        "wrr 1:1 in list order"
    );
    for s in &servers {
        let peers = s.peers.lock().unwrap().clone();
        assert_eq!(peers, vec![IpAddr::V4(CLIENT); 2], "DR keeps the client");
    }
    let text = list(&scratch, &["-ln", "--stats"]);
    assert_eq!(stats_column(&text, SVC, 0), Some(6), "{text}");
    assert_eq!(stats_column(&text, &rs1, 0), Some(3), "{text}");
    assert_eq!(stats_column(&text, &rs2, 0), Some(3), "{text}");
    // The replies go through the router, never the director.
    assert_eq!(stats_column(&text, SVC, 2), Some(0), "{text}");

    let status = lvsd.terminate();
    assert!(
        status.is_some_and(|s| s.success()),
        "lvsd exit {status:?}: {}",
        lvsd.log_text()
    );
    drop(servers);
}
