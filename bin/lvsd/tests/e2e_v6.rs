#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

//! End to end over IPv6, DR and TUN (NAT over IPv6 is `e2e_ipv6.rs`), in
//! the routed dual-stack lab of `common/tunlab.rs`. The real servers are
//! set up by the real `lvsadm realserver setup --mode tun --vip
//! fd00:10::100` (VIP /128 on `lo`, the `lvs_decap` filter on `r0`), the
//! director is the real `lvsd` configured by the real `lvsadm` as
//! `ipvsadm`.
//!
//! - TUN 6in6 (`ipip`, `gue --tun-port 6080`, `gre --tun-csum`) to real servers behind
//!   the router (`fd00:30::/64`): every request answered, rr 2 and 2 of 4,
//!   the client's address seen by the servers, replies bypass the director
//!   (OutPkts 0). PMTU: the tunnel over a 1500-byte route leaves 1460 for
//!   the inner packet (40 bytes of outer IPv6); a 256 KiB upload makes the
//!   director answer "packet too big" (`Icmp6: InPktTooBigs` on the
//!   client), the client caches `mtu 1460` for the VIP, and the body
//!   arrives whole.
//! - DR over IPv6 to the real servers' on-link addresses (`fd00:31::/64`,
//!   the director's `d1`): the same split and client address, the replies
//!   going back through the router.
//! - Mixed families (TUN only, as in the kernel): an IPv4 service to IPv6
//!   real servers (4in6) and an IPv6 service to IPv4 ones (6in4).

mod common;

use std::net::{IpAddr, SocketAddr};

use common::lab::Lvsd;
use common::tunlab::{
    CLIENT, CLIENT6, DR_RIPS6, EchoServer, GUE_PORT, RIPS, RIPS6, TunLab, VIP, VIP6,
    realserver_setup, request, route_mtu, tun_lab,
};
use common::{Scratch, ipvsadm, is_root};

fn run(scratch: &Scratch, argv: &[&str]) {
    let out = ipvsadm(scratch, argv);
    assert_eq!(out.code, 0, "ipvsadm {argv:?}: {}", out.stderr);
}

fn list(scratch: &Scratch, argv: &[&str]) -> String {
    let out = ipvsadm(scratch, argv);
    assert_eq!(out.code, 0, "ipvsadm {argv:?}: {}", out.stderr);
    out.stdout
}

/// `--stats` numbers of the line naming `addr`: Conns, InPkts, OutPkts, ...
fn stats(listing: &str, addr: &str) -> Vec<u64> {
    listing
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let i = f.iter().position(|w| *w == addr)?;
            Some(f[i + 1..].iter().filter_map(|w| w.parse().ok()).collect())
        })
        .unwrap_or_default()
}

fn setup(tag: &str) -> (TunLab, Scratch) {
    let lab = tun_lab(tag, &[]);
    let scratch = Scratch::new(&format!("e2e-v6-{tag}"));
    for r in &lab.rs {
        let out = realserver_setup(
            &scratch,
            r,
            &[
                "--mode",
                "tun",
                "--vip",
                &VIP6.to_string(),
                "--dev",
                "r0",
                "--gue-port",
                &GUE_PORT.to_string(),
            ],
        );
        assert!(out.contains("fd00:10::100/128"), "{out}");
    }
    (lab, scratch)
}

/// Four requests from the client; checks the rr split and the client's
/// address at the servers (`seen` earlier peers skipped).
fn four(lab: &TunLab, lvsd: &Lvsd, servers: &[EchoServer; 2], seen: usize, what: &str) {
    let dst = SocketAddr::new(VIP6.into(), 80);
    let answers: Vec<String> = lab
        .cli
        .run(|| (0..4).map(|_| request(None, dst, 0)).collect::<Vec<_>>())
        .unwrap()
        .into_iter()
        .map(|r| r.unwrap_or_else(|e| panic!("{what}: {e}; lvsd log:\n{}", lvsd.log_text())))
        .collect();
    let count = |s: &str| answers.iter().filter(|a| *a == &format!("{s} 0")).count();
    assert_eq!((count("RS1"), count("RS2")), (2, 2), "{what}: {answers:?}");
    for s in servers {
        let peers = s.seen();
        assert_eq!(peers.len(), seen / 2 + 2, "{what}: {peers:?}");
        assert!(
            peers[seen / 2..]
                .iter()
                .all(|p| p.ip() == IpAddr::V6(CLIENT6)),
            "{what}: the client's address is kept: {peers:?}"
        );
    }
}

#[test]
fn tun_over_ipv6_ipip_gue_gre_across_a_router_and_packet_too_big() {
    assert!(
        is_root(),
        "this privileged test needs root (network namespaces, XDP, tc): run the suite as root"
    );
    let (lab, scratch) = setup("t6");
    let lvsd = Lvsd::start(&lab.dir, &scratch);
    let dst = SocketAddr::new(VIP6.into(), 80);
    let servers = [
        EchoServer::start(&lab.rs[0], &[dst], "RS1"),
        EchoServer::start(&lab.rs[1], &[dst], "RS2"),
    ];
    let svc = format!("[{VIP6}]:80");
    let rips: Vec<String> = RIPS6.iter().map(|r| format!("[{r}]:80")).collect();
    let port = GUE_PORT.to_string();
    let variants: [(&str, Vec<&str>); 3] = [
        ("ipip", vec![]),
        ("gue", vec!["--tun-type", "gue", "--tun-port", &port]),
        ("gre", vec!["--tun-type", "gre", "--tun-csum"]),
    ];
    let mut seen = 0;
    for (name, extra) in &variants {
        run(&scratch, &["-A", "-t", &svc, "-s", "rr"]);
        for rip in &rips {
            let mut argv = vec!["-a", "-t", &svc, "-r", rip, "-i"];
            argv.extend_from_slice(extra);
            run(&scratch, &argv);
        }
        four(&lab, &lvsd, &servers, seen, name);
        seen += 4;
        let text = list(&scratch, &["-ln", "--tun-info"]);
        for rip in &rips {
            let line = text.lines().find(|l| l.contains(rip.as_str())).unwrap();
            assert!(line.contains("Tunnel"), "{name}: {text}");
        }
        let st = list(&scratch, &["-ln", "--stats"]);
        let s = stats(&st, &svc);
        assert_eq!(s[0], 4, "{name}: {st}");
        assert_eq!(s[2], 0, "{name}: replies bypass the director: {st}");
        run(&scratch, &["-D", "-t", &svc]);
    }

    run(&scratch, &["-A", "-t", &svc, "-s", "rr"]);
    for rip in &rips {
        run(&scratch, &["-a", "-t", &svc, "-r", rip, "-i"]);
    }
    assert_eq!(route_mtu(&lab.cli, VIP6.into()), None, "no cached PMTU yet");
    let too_big_before = snmp6(&lab, "Icmp6InPktTooBigs");
    let big = 256 * 1024;
    let answer = lab
        .cli
        .run(|| request(None, dst, big))
        .unwrap()
        .unwrap_or_else(|e| panic!("large upload: {e}; lvsd log:\n{}", lvsd.log_text()));
    assert!(
        answer == format!("RS1 {big}") || answer == format!("RS2 {big}"),
        "the whole body arrived: {answer}"
    );
    assert!(
        snmp6(&lab, "Icmp6InPktTooBigs") > too_big_before,
        "the director's packet-too-big reached the client"
    );
    assert_eq!(route_mtu(&lab.cli, VIP6.into()), Some(1460));
    drop(servers);
    drop(lvsd);
}

/// A counter of the client's `/proc/net/snmp6`.
fn snmp6(lab: &TunLab, name: &str) -> u64 {
    let text = common::tunlab::exec(&lab.cli, &["cat", "/proc/net/snmp6"]);
    text.lines()
        .find_map(|l| {
            let (k, v) = l.split_once(char::is_whitespace)?;
            (k == name).then(|| v.trim().parse().ok())?
        })
        .unwrap()
}

#[test]
fn dr_over_ipv6_to_on_link_real_servers() {
    assert!(
        is_root(),
        "this privileged test needs root (network namespaces, XDP): run the suite as root"
    );
    let (lab, scratch) = setup("d6");
    let lvsd = Lvsd::start(&lab.dir, &scratch);
    let dst = SocketAddr::new(VIP6.into(), 80);
    let servers = [
        EchoServer::start(&lab.rs[0], &[dst], "RS1"),
        EchoServer::start(&lab.rs[1], &[dst], "RS2"),
    ];
    let svc = format!("[{VIP6}]:80");
    run(&scratch, &["-A", "-t", &svc, "-s", "rr"]);
    for r in DR_RIPS6 {
        run(
            &scratch,
            &["-a", "-t", &svc, "-r", &format!("[{r}]:80"), "-g"],
        );
    }
    four(&lab, &lvsd, &servers, 0, "dr6");
    let text = list(&scratch, &["-ln"]);
    assert_eq!(
        text.lines().filter(|l| l.contains("Route")).count(),
        2,
        "{text}"
    );
    let st = list(&scratch, &["-ln", "--stats"]);
    let s = stats(&st, &svc);
    assert_eq!(s[0], 4, "{st}");
    assert!(s[1] >= 12, "{st}");
    assert_eq!(s[2], 0, "replies go through the router: {st}");
    drop(servers);
    drop(lvsd);
}

/// Mixed families (the kernel allows them for TUN only): an IPv4 service
/// tunnelled to IPv6 real servers (4in6) and an IPv6 service to IPv4 real
/// servers (6in4), through the router.
#[test]
fn tun_mixed_families_4in6_and_6in4() {
    assert!(
        is_root(),
        "this privileged test needs root (network namespaces, XDP, tc): run the suite as root"
    );
    let lab = tun_lab("mx", &[]);
    let scratch = Scratch::new("e2e-v6-mx");
    for r in &lab.rs {
        realserver_setup(
            &scratch,
            r,
            &[
                "--mode",
                "tun",
                "--vip",
                &VIP.to_string(),
                "--vip",
                &VIP6.to_string(),
                "--dev",
                "r0",
            ],
        );
    }
    let lvsd = Lvsd::start(&lab.dir, &scratch);
    let dst4 = SocketAddr::new(VIP.into(), 80);
    let dst6 = SocketAddr::new(VIP6.into(), 80);
    let servers = [
        EchoServer::start(&lab.rs[0], &[dst4, dst6], "RS1"),
        EchoServer::start(&lab.rs[1], &[dst4, dst6], "RS2"),
    ];
    let svc4 = format!("{}:80", VIP);
    let svc6 = format!("[{VIP6}]:80");
    run(&scratch, &["-A", "-t", &svc4, "-s", "rr"]);
    run(&scratch, &["-A", "-t", &svc6, "-s", "rr"]);
    for i in 0..2 {
        run(
            &scratch,
            &["-a", "-t", &svc4, "-r", &format!("[{}]:80", RIPS6[i]), "-i"],
        );
        run(
            &scratch,
            &["-a", "-t", &svc6, "-r", &format!("{}:80", RIPS[i]), "-i"],
        );
    }
    for dst in [dst4, dst6] {
        let answers: Vec<String> = lab
            .cli
            .run(|| (0..4).map(|_| request(None, dst, 0)).collect::<Vec<_>>())
            .unwrap()
            .into_iter()
            .map(|r| r.unwrap_or_else(|e| panic!("{dst}: {e}; lvsd log:\n{}", lvsd.log_text())))
            .collect();
        let rs1 = answers.iter().filter(|a| *a == "RS1 0").count();
        assert_eq!(rs1, 2, "{dst}: {answers:?}");
    }
    for s in &servers {
        let peers = s.seen();
        assert_eq!(peers.len(), 4, "{peers:?}");
        assert!(
            peers
                .iter()
                .all(|p| p.ip() == IpAddr::V4(CLIENT) || p.ip() == IpAddr::V6(CLIENT6)),
            "the client's own addresses: {peers:?}"
        );
    }
    drop(servers);
    drop(lvsd);
}
