#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

//! End to end, seed 000 §4's director-local real server (`-r 127.0.0.1:80
//! -g`), with both packet backends.
//!
//! Topology (namespaces `lvsd-e2e-PID-b-*`, deleted by name by their
//! guards, also on failure; nothing in the root namespace):
//!
//! ```text
//! cli 172.16.10.22/24 c0 ── d0 172.16.10.21/24 (VIP)  dir  d1 192.168.100.17/24 ── r0 rs1 192.168.100.39/24
//! ```
//!
//! One service `-t VIP:80 -s rr` with two destinations: the remote real
//! server (`-m`) and `127.0.0.1:80` (`-g`, as in the seed). What the real
//! kernel does, checked on the 6.1 lab (same topology, same commands): the
//! route to 127.0.0.1 is local, so IPVS hands those connections' packets to
//! the local stack unchanged; the director's own HTTP server on `*:80`
//! answers, seeing the client's address; the connections alternate
//! (`from DIRECTOR`, `from RS1`, ...); the listing keeps `Route` for
//! 127.0.0.1 (no `Local`). So: 10 requests → 5 and 5, alternating; both
//! servers see the client's address; the listing counts 5 connections per
//! destination and says `Route`. Last, the director itself fetches from the NAT real server, as
//! a health check would: the answer comes from a steered reply source and
//! belongs to no connection, so it must reach the local stack too. Then a
//! second service NATs to the director's own address (`-r
//! 192.168.100.17:80 -m`), which the 6.1 lab also serves (DNAT, local
//! delivery, replies translated back to the VIP and counted): 3 requests
//! all answered by the director's server, which sees the client, and
//! counted in and out.

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

/// One HTTP GET to `vip:port` from the calling thread's namespace.
fn get_port(vip: Ipv4Addr, port: u16) -> Result<String, String> {
    use std::io::{Read, Write};
    let addr = std::net::SocketAddr::new(vip.into(), port);
    let mut s = std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(5))
        .map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    s.write_all(b"GET / HTTP/1.0\r\n\r\n")
        .map_err(|e| format!("write: {e}"))?;
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).map_err(|e| format!("read: {e}"))?;
    let text = String::from_utf8_lossy(&resp).into_owned();
    text.split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
        .ok_or_else(|| format!("no body in {text:?}"))
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
        HttpServer::start(
            &lab.dir,
            std::net::Ipv4Addr::UNSPECIFIED,
            "from the director",
        ),
    ];
    for argv in [
        &["-A", "-t", "172.16.10.21:80", "-s", "rr"][..],
        &["-a", "-t", "172.16.10.21:80", "-r", "192.168.100.39", "-m"],
        &["-a", "-t", "172.16.10.21:80", "-r", "127.0.0.1:80", "-g"],
    ] {
        let out = ipvsadm(&scratch, argv);
        assert_eq!(out.code, 0, "ipvsadm {argv:?}: {}", out.stderr);
    }

    if args.contains(&"afpacket") {
        // The kernel filter is updated asynchronously: wait for the NAT
        // real server's reply key (the last key: DR has none).
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
    // rr alternates, starting with the destination added last (the 6.1
    // lab's order: from DIRECTOR, from RS1, ...).
    assert!(answers.windows(2).all(|w| w[0] != w[1]), "{answers:?}");
    assert_eq!(
        answers[0].as_deref(),
        Ok("from the director"),
        "{answers:?}"
    );
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
            .any(|l| l.contains("127.0.0.1:80") && l.split_whitespace().nth(2) == Some("Route")),
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
    // The local server's replies are counted too (the 6.1 lab counts 12
    // out for 2 such connections): at least SYN-ACK, answer and FIN each.
    assert!(
        stats_column(&stats, "127.0.0.1:80", 2).unwrap() >= 3 * 5,
        "{stats}"
    );
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

    // NAT to the director's own address (the 6.1 lab: DNAT, local delivery,
    // and the local server's replies translated back by the LOCAL_OUT hook
    // and counted). Its replies leave from 192.168.100.17:80, so they are
    // routed into lvsd's TAP and translated back to the VIP by the engine.
    for argv in [
        &["-A", "-t", "172.16.10.21:82", "-s", "rr"][..],
        &[
            "-a",
            "-t",
            "172.16.10.21:82",
            "-r",
            "192.168.100.17:80",
            "-m",
        ],
    ] {
        let out = ipvsadm(&scratch, argv);
        assert_eq!(out.code, 0, "ipvsadm {argv:?}: {}", out.stderr);
    }
    let nat_local = lab
        .cli
        .run(|| (0..3).map(|_| get_port(VIP, 82)).collect::<Vec<_>>())
        .unwrap();
    assert!(
        nat_local
            .iter()
            .all(|a| a.as_deref() == Ok("from the director")),
        "{nat_local:?}; lvsd log:\n{}",
        lvsd.log_text()
    );
    let peers = servers[1].peers.lock().unwrap().clone();
    assert_eq!(peers.len(), 5 + 3, "{peers:?}");
    assert!(peers.iter().all(|p| *p == IpAddr::V4(CLIENT)), "{peers:?}");
    let stats = ipvsadm(&scratch, &["-ln", "--stats"]).stdout;
    assert_eq!(
        stats_column(&stats, "192.168.100.17:80", 0),
        Some(3),
        "{stats}"
    );
    assert!(
        stats_column(&stats, "192.168.100.17:80", 2).unwrap() >= 3 * 3,
        "{stats}"
    );

    let status = lvsd.terminate();
    assert!(
        status.is_some_and(|s| s.success()),
        "lvsd exit {status:?}: {}",
        lvsd.log_text()
    );
    // The TAP goes with lvsd.
    let links = String::from_utf8(lab.dir.ip(&["link", "show"]).unwrap().stdout).unwrap();
    assert!(!links.contains("lvsd-local"), "TAP left behind: {links}");
    // And so do its reply rules.
    let rules = String::from_utf8(lab.dir.ip(&["rule", "show"]).unwrap().stdout).unwrap();
    assert!(!rules.contains("19542"), "reply rules left behind: {rules}");
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
