#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

//! End to end, LVS-TUN (`-i`) to real servers in another subnet, behind a
//! router (the lab of `common/tunlab.rs`). The real servers are set up by
//! the real `lvsadm realserver setup --mode tun` inside their namespaces:
//! VIP on `lo`, ARP sysctls, and the `lvs_decap` tc filter, which strips
//! IPIP, GUE (port 6080) and GRE (this kernel has no `ipip`/`fou`/`gre`
//! drivers). The director is the real `lvsd`, configured by the real
//! `lvsadm` as `ipvsadm`.
//!
//! What is checked, for each tunnel type (`ipip`, `gue --tun-port 6080`
//! without and with `--tun-csum`, `gre` without and with `--tun-csum`): every request is answered; rr alternates between the two real
//! servers (2 and 2 of 4); the servers see the client's own address
//! (tunnelling keeps the inner packet); the replies bypass the director
//! (OutPkts 0 in `--stats`, the kernel's rule for DR/TUN: the director sees
//! one direction only); the listing shows `Tunnel` and the tunnel's type,
//! port and checksum option (`--tun-info`).
//!
//! PMTU (kernel `ensure_mtu_is_adequate` in `ip_vs_tunnel_xmit`): the
//! route to the real servers has MTU 1500 and IPIP adds 20 bytes, so a
//! client's full-size (1500-byte, DF) segment cannot be tunnelled. The
//! director answers it with ICMP "fragmentation needed" quoting MTU 1480;
//! the client caches that path MTU for the VIP (`ip route get` shows
//! `mtu 1480`), resends smaller segments, and a 256 KiB upload completes.
//! The same with GUE, whose 32 bytes of outer headers leave 1468.

mod common;

use std::net::{IpAddr, SocketAddr};

use common::lab::Lvsd;
use common::ops::dest_rows;
use common::tunlab::{
    CLIENT, EchoServer, GUE_PORT, RIPS, VIP, exec, realserver_setup, request, route_mtu, snmp,
    tun_lab,
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

/// `ipvsadm -ln --stats` columns of `addr`: Conns, InPkts, OutPkts, ...
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

#[test]
fn tun_ipip_gue_gre_across_a_router_keep_the_client_address_and_pmtu_adapts() {
    assert!(
        is_root(),
        "this privileged test needs root (network namespaces, XDP, tc): run the suite as root"
    );
    let lab = tun_lab("tun", &[]);
    let scratch = Scratch::new("e2e-tun");
    let vip = VIP.to_string();
    for r in &lab.rs {
        let out = realserver_setup(
            &scratch,
            r,
            &[
                "--mode",
                "tun",
                "--vip",
                &vip,
                "--dev",
                "r0",
                "--gue-port",
                &GUE_PORT.to_string(),
            ],
        );
        assert!(out.contains("lvs_decap"), "{out}");
    }
    let lvsd = Lvsd::start(&lab.dir, &scratch);
    let dst = SocketAddr::new(VIP.into(), 80);
    let servers = [
        EchoServer::start(&lab.rs[0], &[dst], "RS1"),
        EchoServer::start(&lab.rs[1], &[dst], "RS2"),
    ];
    let svc = format!("{VIP}:80");
    let rips: Vec<String> = RIPS.iter().map(|r| format!("{r}:80")).collect();
    let port = GUE_PORT.to_string();
    // (name, options, `--tun-info` column)
    let variants: [(&str, Vec<&str>, &str); 5] = [
        ("ipip", vec![], "ipip"),
        (
            "gue",
            vec!["--tun-type", "gue", "--tun-port", &port],
            "gue:6080:-c",
        ),
        (
            "gue-csum",
            vec!["--tun-type", "gue", "--tun-port", &port, "--tun-csum"],
            "gue:6080:+c",
        ),
        ("gre", vec!["--tun-type", "gre"], "gre:-c"),
        (
            "gre-csum",
            vec!["--tun-type", "gre", "--tun-csum"],
            "gre:+c",
        ),
    ];
    let mut seen = 0;
    for (name, extra, info) in &variants {
        run(&scratch, &["-A", "-t", &svc, "-s", "rr"]);
        for rip in &rips {
            let mut argv = vec!["-a", "-t", &svc, "-r", rip, "-i"];
            argv.extend_from_slice(extra);
            run(&scratch, &argv);
        }
        let answers: Vec<String> = lab
            .cli
            .run(|| (0..4).map(|_| request(None, dst, 0)).collect::<Vec<_>>())
            .unwrap()
            .into_iter()
            .map(|r| r.unwrap_or_else(|e| panic!("{name}: {e}; lvsd log:\n{}", lvsd.log_text())))
            .collect();
        let count = |s: &str| answers.iter().filter(|a| *a == &format!("{s} 0")).count();
        assert_eq!((count("RS1"), count("RS2")), (2, 2), "{name}: {answers:?}");
        assert_ne!(answers[0], answers[1], "{name}: rr alternates: {answers:?}");
        for s in &servers {
            let peers = s.seen();
            assert!(
                peers[seen / 2..]
                    .iter()
                    .all(|p| p.ip() == IpAddr::V4(CLIENT)),
                "{name}: the client's address is kept: {peers:?}"
            );
        }
        seen += 4;
        let text = list(&scratch, &["-ln", "--tun-info"]);
        let rows = dest_rows(&list(&scratch, &["-ln"]));
        assert_eq!(rows.len(), 2, "{rows:?}");
        for rip in &rips {
            let line = text.lines().find(|l| l.contains(rip.as_str())).unwrap();
            let f: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(f[2..4], ["Tunnel", *info], "{name}: {text}");
        }
        let st = list(&scratch, &["-ln", "--stats"]);
        let s = stats(&st, &svc);
        assert_eq!(s[0], 4, "{name}: 4 connections: {st}");
        assert!(s[1] >= 12, "{name}: SYN, ACK, request, FIN... of 4: {st}");
        assert_eq!(s[2], 0, "{name}: replies bypass the director: {st}");
        run(&scratch, &["-D", "-t", &svc]);
    }

    // PMTU: a tunnel over a 1500-byte route leaves 1500 minus the outer
    // headers for the inner packet: IPIP 20 (1480); GUE 20 + 8 (UDP) + 4
    // (GUE header) = 32 (1468).
    for (extra, mtu) in [
        (vec![], 1480),
        (vec!["--tun-type", "gue", "--tun-port", &port], 1468),
    ] {
        run(&scratch, &["-A", "-t", &svc, "-s", "rr"]);
        for rip in &rips {
            let mut argv = vec!["-a", "-t", &svc, "-r", rip, "-i"];
            argv.extend_from_slice(&extra);
            run(&scratch, &argv);
        }
        // Forget what the previous round cached.
        exec(&lab.cli, &["ip", "route", "flush", "cache"]);
        assert_eq!(route_mtu(&lab.cli, VIP.into()), None, "no cached PMTU yet");
        let unreach_before = snmp(&lab.cli, "Icmp", "InDestUnreachs");
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
            snmp(&lab.cli, "Icmp", "InDestUnreachs") > unreach_before,
            "the director's frag-needed reached the client"
        );
        assert_eq!(
            route_mtu(&lab.cli, VIP.into()),
            Some(mtu),
            "the client cached the tunnel's MTU ({extra:?})"
        );
        run(&scratch, &["-D", "-t", &svc]);
    }
    drop(servers);
    drop(lvsd);
}
