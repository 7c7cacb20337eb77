#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

//! End to end, seed 000 §3 / seed 001 §5: LVS-DR. Real TCP between network
//! namespaces created here, through the real `lvsd` configured with the real
//! `lvsadm` as `ipvsadm`, `-g` (gatewaying = direct routing) real servers.
//!
//! Topology: one shared L2 segment (a bridge in its own namespace); every
//! piece lives in namespaces named `lvsd-e2e-PID-*`, deleted by name by
//! their guards, also on failure; nothing in the root namespace.
//!
//! ```text
//!   cli 192.168.100.50/24 c0     dir d0 192.168.100.17/24 + VIP 192.168.100.100/32
//!              │                          │
//!              └── sw: bridge br0 (s0 s1 s2 s3) ──┐
//!                        │            │
//!   rs1 r0 192.168.100.39/24   rs2 r0 192.168.100.23/24   (VIP /32 on lo of both)
//! ```
//!
//! DR rule mirrored: the director rewrites only the frame's destination MAC
//! (to the chosen real server's) and keeps the IP packet as the client sent
//! it; the real server accepts it because it holds the VIP on `lo`, and
//! answers the client directly from the VIP, so the director never sees a
//! reply (its OutPkts stay 0). `arp_ignore=1` (answer ARP only for addresses
//! of the receiving interface) and `arp_announce=2` (use the best local
//! address of the outgoing interface as ARP source) on the real servers,
//! set before the VIP is added, keep them from claiming the VIP on the
//! segment: the client's neighbour entry for the VIP is the director's MAC.
//!
//! Phase 1, `-s wrr` with weights 2 and 3: the weighted round robin rule
//! gives 2 and 3 out of every 5 new connections, so 25 sequential requests
//! split exactly 10 / 15. Phase 2, the service edited to `-s rr` and both
//! weights to 1: plain round robin alternates, so every two consecutive
//! answers differ and 10 requests split 5 / 5. Bounded: every connect/read
//! has a timeout and each run a deadline.

mod common;

use std::net::{IpAddr, Ipv4Addr};

use common::lab::{HttpServer, Lvsd, get_many, mac, netns, sh, stats_column, sysctl, veth};
use common::{Scratch, ipvsadm, is_root};
use lvs_sys::NetNs;

const VIP: Ipv4Addr = Ipv4Addr::new(192, 168, 100, 100);
const SVC: &str = "192.168.100.100:80";
const CLIENT: Ipv4Addr = Ipv4Addr::new(192, 168, 100, 50);
const RIPS: [&str; 2] = ["192.168.100.39", "192.168.100.23"];

struct Lab {
    cli: NetNs,
    dir: NetNs,
    sw: NetNs,
    rs: [NetNs; 2],
}

fn lab() -> Lab {
    let lab = Lab {
        cli: netns("dr-cli"),
        dir: netns("dr-dir"),
        sw: netns("dr-sw"),
        rs: [netns("dr-rs1"), netns("dr-rs2")],
    };
    let Lab { cli, dir, sw, rs } = &lab;
    sh(sw, &["link", "add", "br0", "type", "bridge"]);
    veth(dir, "d0", sw, "s0");
    veth(rs.first().unwrap(), "r0", sw, "s1");
    veth(rs.get(1).unwrap(), "r0", sw, "s2");
    veth(cli, "c0", sw, "s3");
    for s in ["s0", "s1", "s2", "s3"] {
        sh(sw, &["link", "set", s, "master", "br0", "up"]);
    }
    sh(sw, &["link", "set", "br0", "up"]);

    sh(cli, &["addr", "add", "192.168.100.50/24", "dev", "c0"]);
    sh(cli, &["link", "set", "c0", "up"]);
    sh(dir, &["addr", "add", "192.168.100.17/24", "dev", "d0"]);
    sh(dir, &["addr", "add", "192.168.100.100/32", "dev", "d0"]);
    sh(dir, &["link", "set", "d0", "up"]);
    for (r, ip) in rs.iter().zip(RIPS) {
        // Before the VIP exists anywhere on the real server.
        for iface in ["all", "r0"] {
            sysctl(r, &format!("net.ipv4.conf.{iface}.arp_ignore"), "1");
            sysctl(r, &format!("net.ipv4.conf.{iface}.arp_announce"), "2");
        }
        sh(r, &["addr", "add", &format!("{ip}/24"), "dev", "r0"]);
        sh(r, &["link", "set", "r0", "up"]);
        sh(r, &["addr", "add", "192.168.100.100/32", "dev", "lo"]);
    }
    for n in [cli, dir, sw, &rs[0], &rs[1]] {
        sh(n, &["link", "set", "lo", "up"]);
    }
    lab
}

fn run(scratch: &Scratch, argv: &[&str]) {
    let out = ipvsadm(scratch, argv);
    assert_eq!(out.code, 0, "ipvsadm {argv:?}: {}", out.stderr);
}

fn listing(scratch: &Scratch) -> String {
    let out = ipvsadm(scratch, &["-ln", "--stats"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    out.stdout
}

#[test]
fn seed_000_dr_wrr_2_3_then_rr_with_vip_on_real_servers_lo() {
    assert!(
        is_root(),
        "this privileged test needs root (network namespaces, XDP): run the suite as root"
    );
    let lab = lab();
    let scratch = Scratch::new("e2e-dr");
    let mut lvsd = Lvsd::start(&lab.dir, &scratch);
    // Both real servers listen on the VIP itself (held on their `lo`).
    let servers = [
        HttpServer::start(&lab.rs[0], VIP, "from RS1"),
        HttpServer::start(&lab.rs[1], VIP, "from RS2"),
    ];

    // Phase 1: wrr, weights 2 and 3.
    run(&scratch, &["-A", "-t", SVC, "-s", "wrr"]);
    run(&scratch, &["-a", "-t", SVC, "-r", RIPS[0], "-g", "-w", "2"]);
    run(&scratch, &["-a", "-t", SVC, "-r", RIPS[1], "-g", "-w", "3"]);

    let answers = get_many(&lab.cli, VIP, 25);
    let failures: Vec<&String> = answers.iter().filter_map(|a| a.as_ref().err()).collect();
    assert!(
        failures.is_empty(),
        "failed requests {failures:?}; lvsd log:\n{}",
        lvsd.log_text()
    );
    let count = |v: &[Result<String, String>], body: &str| {
        v.iter().filter(|a| a.as_deref() == Ok(body)).count()
    };
    assert_eq!(
        (count(&answers, "from RS1"), count(&answers, "from RS2")),
        (10, 15),
        "{answers:?}"
    );
    for (s, n) in servers.iter().zip([10, 15]) {
        let peers = s.peers.lock().unwrap().clone();
        assert_eq!(peers.len(), n, "{peers:?}");
        assert!(
            peers.iter().all(|p| *p == IpAddr::V4(CLIENT)),
            "the real server saw the client's address: {peers:?}"
        );
    }

    let plain = ipvsadm(&scratch, &["-ln"]).stdout;
    for rip in RIPS {
        assert!(
            plain
                .lines()
                .any(|l| l.contains(&format!("{rip}:80")) && l.contains("Route")),
            "{plain}"
        );
    }
    let text = listing(&scratch);
    assert_eq!(stats_column(&text, SVC, 0), Some(25), "{text}");
    assert_eq!(
        stats_column(&text, "192.168.100.39:80", 0),
        Some(10),
        "{text}"
    );
    assert_eq!(
        stats_column(&text, "192.168.100.23:80", 0),
        Some(15),
        "{text}"
    );
    // At least SYN, request, ACK of the answer and FIN in per connection;
    // the replies go from the real servers straight to the client.
    let in_pkts = stats_column(&text, SVC, 1).unwrap();
    assert!(in_pkts >= 4 * 25, "{text}");
    assert_eq!(stats_column(&text, SVC, 2), Some(0), "{text}");
    assert_eq!(
        stats_column(&text, "192.168.100.39:80", 2),
        Some(0),
        "{text}"
    );
    assert_eq!(
        stats_column(&text, "192.168.100.23:80", 2),
        Some(0),
        "{text}"
    );

    // arp_ignore works: the client resolved the VIP to the director.
    let neigh = String::from_utf8(
        lab.cli
            .ip(&["neigh", "show", "192.168.100.100", "dev", "c0"])
            .unwrap()
            .stdout,
    )
    .unwrap()
    .to_ascii_lowercase();
    let dir_mac = mac(&lab.dir, "d0");
    assert!(
        neigh.contains(&format!("lladdr {dir_mac}")),
        "client's neighbour entry for the VIP {neigh:?}, director d0 is {dir_mac}"
    );
    for r in &lab.rs {
        let m = mac(r, "r0");
        assert!(
            !neigh.contains(&m),
            "a real server claimed the VIP: {neigh:?}"
        );
    }

    // Phase 2: the same service edited to rr, weights 1 and 1.
    run(&scratch, &["-E", "-t", SVC, "-s", "rr"]);
    for rip in RIPS {
        run(&scratch, &["-e", "-t", SVC, "-r", rip, "-g", "-w", "1"]);
    }
    let plain = ipvsadm(&scratch, &["-ln"]).stdout;
    assert!(
        plain.lines().any(|l| l.contains(SVC) && l.contains(" rr")),
        "{plain}"
    );
    for rip in RIPS {
        let row = format!("-> {rip}:80 Route 1 ");
        assert!(
            plain.lines().any(|l| l
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .starts_with(&row)),
            "{plain}"
        );
    }
    let answers = get_many(&lab.cli, VIP, 10);
    let failures: Vec<&String> = answers.iter().filter_map(|a| a.as_ref().err()).collect();
    assert!(
        failures.is_empty(),
        "failed requests {failures:?}; lvsd log:\n{}",
        lvsd.log_text()
    );
    assert!(
        answers.windows(2).all(|w| w[0] != w[1]),
        "rr did not alternate: {answers:?}"
    );
    assert_eq!(
        (count(&answers, "from RS1"), count(&answers, "from RS2")),
        (5, 5),
        "{answers:?}"
    );
    let text = listing(&scratch);
    assert_eq!(stats_column(&text, SVC, 0), Some(35), "{text}");
    assert_eq!(stats_column(&text, SVC, 2), Some(0), "{text}");

    let status = lvsd.terminate();
    assert!(
        status.is_some_and(|s| s.success()),
        "lvsd exit {status:?}: {}",
        lvsd.log_text()
    );
    let links = String::from_utf8(lab.dir.ip(&["link", "show"]).unwrap().stdout).unwrap();
    assert!(!links.contains("xdp"), "XDP left attached: {links}");
    drop(servers);
}
