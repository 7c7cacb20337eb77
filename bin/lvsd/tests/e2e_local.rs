#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

//! End to end, seed 000 §4's director-local real server (RIP 127.0.0.1,
//! IPVS `LOCALNODE`), with both packet backends.
//!
//! Topology (namespaces `lvsd-e2e-PID-b-*`, deleted by name by their
//! guards, also on failure; nothing in the root namespace):
//!
//! ```text
//! cli 172.16.10.22/24 c0 ── d0 172.16.10.21/24 (VIP)  dir  d1 192.168.100.17/24 ── r0 rs1 192.168.100.39/24
//! ```
//!
//! One service `-t VIP:80 -s rr` with two destinations: the remote real
//! server (`-m`) and `127.0.0.1` (`-m`, which the kernel turns into
//! LOCALNODE because the address is local: the listing says `Local`). The
//! director runs an HTTP server of its own on VIP:80 (the kernel hands
//! LOCALNODE packets to the local stack unchanged, so the local server gets
//! them at the address and port the client used). Round robin over two
//! destinations gives every other connection to each: 10 requests → 5 and
//! 5. Both servers see the client's own address; the listing counts 5
//! connections per destination and no outgoing packets for the local one
//! (its replies leave by the kernel's own path, which IPVS does not
//! account: `ip_vs_out` ignores non-NAT connections). Last, the director
//! itself fetches from the NAT real server, as a health check would: the
//! answer comes from a steered reply source and belongs to no connection,
//! so it too must reach the local stack.

mod common;

use std::net::{IpAddr, Ipv4Addr};

use common::lab::{HttpServer, Lvsd, get_many, netns, sh, stats_column, sysctl, veth};
use common::{Scratch, ipvsadm, is_root};
use lvs_sys::NetNs;

const VIP: Ipv4Addr = Ipv4Addr::new(172, 16, 10, 21);
const CLIENT: Ipv4Addr = Ipv4Addr::new(172, 16, 10, 22);
const REQUESTS: usize = 10;

struct Lab {
    cli: NetNs,
    dir: NetNs,
    rs: NetNs,
}

fn lab(tag: &str) -> Lab {
    let lab = Lab {
        cli: netns(&format!("b-{tag}-cli")),
        dir: netns(&format!("b-{tag}-dir")),
        rs: netns(&format!("b-{tag}-rs")),
    };
    let Lab { cli, dir, rs } = &lab;
    veth(cli, "c0", dir, "d0");
    veth(dir, "d1", rs, "r0");
    sh(cli, &["addr", "add", "172.16.10.22/24", "dev", "c0"]);
    sh(dir, &["addr", "add", "172.16.10.21/24", "dev", "d0"]);
    sh(dir, &["addr", "add", "192.168.100.17/24", "dev", "d1"]);
    sh(rs, &["addr", "add", "192.168.100.39/24", "dev", "r0"]);
    sysctl(dir, "net.ipv4.ip_forward", "1");
    for (n, dev) in [(cli, "c0"), (dir, "d0"), (dir, "d1"), (rs, "r0")] {
        sh(n, &["link", "set", dev, "up"]);
    }
    sh(rs, &["route", "add", "default", "via", "192.168.100.17"]);
    for n in [cli, dir, rs] {
        sh(n, &["link", "set", "lo", "up"]);
    }
    lab
}

fn local_real_server_answers(tag: &str, args: &[&str]) {
    assert!(
        is_root(),
        "this privileged test needs root (network namespaces, XDP, TAP): run the suite as root"
    );
    let lab = lab(tag);
    let scratch = Scratch::new(&format!("e2e-local-{tag}"));
    let mut lvsd = Lvsd::start_with(&lab.dir, &scratch, args);
    let servers = [
        HttpServer::start(&lab.rs, Ipv4Addr::new(192, 168, 100, 39), "from RS1"),
        HttpServer::start(&lab.dir, VIP, "from the director"),
    ];
    for argv in [
        &["-A", "-t", "172.16.10.21:80", "-s", "rr"][..],
        &["-a", "-t", "172.16.10.21:80", "-r", "192.168.100.39", "-m"],
        &["-a", "-t", "172.16.10.21:80", "-r", "127.0.0.1", "-m"],
    ] {
        let out = ipvsadm(&scratch, argv);
        assert_eq!(out.code, 0, "ipvsadm {argv:?}: {}", out.stderr);
    }

    if args.contains(&"afpacket") {
        // The kernel filter is updated asynchronously: wait for the real
        // server's reply key (127.0.0.1 is LOCALNODE: no key).
        let table = || {
            let out = std::process::Command::new("ip")
                .args([
                    "netns",
                    "exec",
                    lab.dir.name(),
                    "nft",
                    "-nn",
                    "list",
                    "table",
                ])
                .args(["netdev", "lvsd"])
                .output()
                .unwrap();
            String::from_utf8(out.stdout).unwrap()
        };
        assert!(
            common::wait_until(|| table().contains("192.168.100.39 . 6 . 80")),
            "filter not updated: {}",
            table()
        );
    }
    let answers = get_many(&lab.cli, VIP, REQUESTS);
    let failures: Vec<&String> = answers.iter().filter_map(|a| a.as_ref().err()).collect();
    assert!(
        failures.is_empty(),
        "failed requests {answers:?}; lvsd log:\n{}",
        lvsd.log_text()
    );
    let count = |body: &str| answers.iter().filter(|a| a.as_deref() == Ok(body)).count();
    assert_eq!(
        (count("from RS1"), count("from the director")),
        (5, 5),
        "{answers:?}"
    );
    // rr alternates: no two consecutive answers from the same server.
    assert!(answers.windows(2).all(|w| w[0] != w[1]), "{answers:?}");
    for s in &servers {
        let peers = s.peers.lock().unwrap().clone();
        assert_eq!(peers.len(), 5, "{peers:?}");
        assert!(
            peers.iter().all(|p| *p == IpAddr::V4(CLIENT)),
            "the server saw the client's address: {peers:?}"
        );
    }

    let listing = ipvsadm(&scratch, &["-ln"]);
    assert_eq!(listing.code, 0, "{}", listing.stderr);
    assert!(
        listing
            .stdout
            .lines()
            .any(|l| l.contains("127.0.0.1:80") && l.split_whitespace().nth(2) == Some("Local")),
        "{}",
        listing.stdout
    );
    let stats = ipvsadm(&scratch, &["-ln", "--stats"]).stdout;
    assert_eq!(stats_column(&stats, "127.0.0.1:80", 0), Some(5), "{stats}");
    assert_eq!(
        stats_column(&stats, "192.168.100.39:80", 0),
        Some(5),
        "{stats}"
    );
    assert_eq!(stats_column(&stats, "127.0.0.1:80", 2), Some(0), "{stats}");
    assert!(
        stats_column(&stats, "127.0.0.1:80", 1).unwrap() >= 4 * 5,
        "{stats}"
    );

    // The director's own connection to the NAT real server (what a health
    // check does): the answers come from RIP:80, a steered reply source,
    // and are no connection's, so the engine hands them to the local stack
    // (`Local`), which must get them.
    let direct = lab
        .dir
        .run(|| common::lab::get(Ipv4Addr::new(192, 168, 100, 39)))
        .unwrap();
    assert_eq!(direct.as_deref(), Ok("from RS1"), "{}", lvsd.log_text());

    let status = lvsd.terminate();
    assert!(
        status.is_some_and(|s| s.success()),
        "lvsd exit {status:?}: {}",
        lvsd.log_text()
    );
    // The TAP goes with lvsd.
    let links = String::from_utf8(lab.dir.ip(&["link", "show"]).unwrap().stdout).unwrap();
    assert!(!links.contains("lvsd-local"), "TAP left behind: {links}");
    drop(servers);
}

#[test]
fn director_local_real_server_over_af_xdp() {
    local_real_server_answers("lx", &[]);
}

#[test]
fn director_local_real_server_over_af_packet() {
    local_real_server_answers("lp", &["--io", "afpacket"]);
}
