#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

//! End to end, seed 000 §1 (NAT, `-s wrr`, weights 2 and 3) with the
//! AF_PACKET backend (`lvsd --io afpacket`): the same lab and assertions as
//! `e2e_nat.rs`, but lvsd only gets a copy of each frame, so this checks
//! that the kernel does not handle what lvsd handles (its nftables
//! `netdev lvsd` ingress filter: no RST from the director's own stack for
//! the VIP, no second copy of the real servers' replies forwarded by the
//! kernel, which would show as failed or duplicated requests), that
//! other traffic still reaches the kernel, and that the filter is removed
//! on exit.
//!
//! Topology (`common::ops::nat_lab`, shared with the ops labs: namespaces
//! named `lvsd-e2e-PID-a-afp-*`, deleted by name by their guards, also on
//! failure; nothing in the root namespace):
//!
//! ```text
//! cli 172.16.10.22/24 c0 ── d0 172.16.10.21/24 (VIP)  dir  d1 192.168.100.17/24
//!                                                            │
//!                                      sw: bridge br0 (s0, s1, s2)
//!                                             │            │
//!                      rs1 192.168.100.39/24 r0   rs2 192.168.100.23/24 r0
//! ```
//!
//! The real servers answer HTTP with "from RS1" / "from RS2" (a std
//! `TcpListener` bound inside their namespace) and record the peer
//! address. 25 sequential requests: the weighted round robin rule with
//! weights 2 and 3 gives 2 and 3 out of every 5 connections, so exactly
//! 10 and 15; the servers see the client's own address (NAT keeps it); the
//! listing counts 25 connections. Bounded: every connect/read has a
//! timeout and the whole run a deadline.

mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::time::Duration;

use common::lab::{HttpServer, Lvsd, get_many, stats_column};
use common::{Scratch, ipvsadm, is_root};
use lvs_sys::NetNs;

const VIP: Ipv4Addr = Ipv4Addr::new(172, 16, 10, 21);
const CLIENT: Ipv4Addr = Ipv4Addr::new(172, 16, 10, 22);
const REQUESTS: usize = 25;

#[test]
fn seed_000_nat_over_afpacket_splits_25_requests_10_15() {
    assert!(
        is_root(),
        "this privileged test needs root (network namespaces, nftables): run the suite as root"
    );
    // The seed 000 §1 NAT lab the ops labs use.
    let lab = common::ops::nat_lab("afp", &[]);
    let scratch = Scratch::new("e2e-afpacket");
    let mut lvsd = Lvsd::start_with(&lab.dir, &scratch, &["--io", "afpacket"]);
    assert!(
        nft_tables(&lab.dir).contains("table netdev lvsd"),
        "no kernel filter: {}",
        lvsd.log_text()
    );

    let servers = [
        HttpServer::start(&lab.rs[0], Ipv4Addr::new(192, 168, 100, 39), "from RS1"),
        HttpServer::start(&lab.rs[1], Ipv4Addr::new(192, 168, 100, 23), "from RS2"),
    ];
    for argv in [
        &["-A", "-t", "172.16.10.21:80", "-s", "wrr"][..],
        &[
            "-a",
            "-t",
            "172.16.10.21:80",
            "-r",
            "192.168.100.39",
            "-m",
            "-w",
            "2",
        ],
        &[
            "-a",
            "-t",
            "172.16.10.21:80",
            "-r",
            "192.168.100.23",
            "-m",
            "-w",
            "3",
        ],
    ] {
        let out = ipvsadm(&scratch, argv);
        assert_eq!(out.code, 0, "ipvsadm {argv:?}: {}", out.stderr);
    }

    // The filter is updated asynchronously (lvsd's `lvsd-nft` thread):
    // wait until it holds the last key, the second real server's replies.
    assert!(
        common::wait_until(|| nft_table(&lab.dir).contains("192.168.100.23 . 6 . 80")),
        "filter not updated: {}",
        nft_table(&lab.dir)
    );
    let answers = get_many(&lab.cli, VIP, REQUESTS);
    // Traffic that is no service of lvsd goes to the director's kernel,
    // which refuses a port nobody listens on.
    let other_port = lab
        .cli
        .run(|| {
            TcpStream::connect_timeout(&SocketAddr::new(VIP.into(), 81), Duration::from_secs(5))
                .map(|_| ())
                .map_err(|e| e.kind())
        })
        .unwrap();
    assert_eq!(other_port, Err(std::io::ErrorKind::ConnectionRefused));
    let count = |body: &str| answers.iter().filter(|a| a.as_deref() == Ok(body)).count();
    let failures: Vec<&String> = answers.iter().filter_map(|a| a.as_ref().err()).collect();
    assert!(
        failures.is_empty(),
        "failed requests {failures:?}; lvsd log:\n{}",
        lvsd.log_text()
    );
    assert_eq!(
        (count("from RS1"), count("from RS2")),
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

    let listing = ipvsadm(&scratch, &["-ln", "--stats"]);
    assert_eq!(listing.code, 0, "{}", listing.stderr);
    let text = listing.stdout;
    assert_eq!(
        stats_column(&text, "172.16.10.21:80", 0),
        Some(25),
        "{text}"
    );
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
    let in_pkts = stats_column(&text, "172.16.10.21:80", 1).unwrap();
    let out_pkts = stats_column(&text, "172.16.10.21:80", 2).unwrap();
    // At least SYN, request, ACK of the answer and FIN in; SYN-ACK, answer, FIN out.
    assert!(in_pkts >= 4 * 25 && out_pkts >= 3 * 25, "{text}");

    // SIGTERM: clean exit, the kernel filter removed.
    let status = lvsd.terminate();
    assert!(
        status.is_some_and(|s| s.success()),
        "lvsd exit {status:?}: {}",
        lvsd.log_text()
    );
    eprintln!("lvsd log:\n{}", lvsd.log_text());
    let tables = nft_tables(&lab.dir);
    assert!(!tables.contains("lvsd"), "filter left behind: {tables}");
    drop(servers);
}

/// `nft ARGS` inside `ns`.
fn nft(ns: &NetNs, args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new("ip")
        .args(["netns", "exec", ns.name(), "nft"])
        .args(args)
        .output()
        .unwrap();
    (out.status.success(), String::from_utf8(out.stdout).unwrap())
}

/// `nft list tables` inside `ns`.
fn nft_tables(ns: &NetNs) -> String {
    let (ok, text) = nft(ns, &["list", "tables"]);
    assert!(ok, "nft list tables failed");
    text
}

/// lvsd's table, numerically (empty when absent).
fn nft_table(ns: &NetNs) -> String {
    nft(ns, &["-nn", "list", "table", "netdev", "lvsd"]).1
}
