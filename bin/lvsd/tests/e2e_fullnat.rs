#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

//! End to end, FULLNAT (`--fullnat`, DPVS-style two-sided NAT) across a
//! routed network where the real servers' default gateway is the router,
//! not the director (the lab of `common/tunlab.rs`). The director is the
//! real `lvsd` started with `--fullnat-laddr 10.10.0.51,10.10.0.52`, its
//! local address pool; those addresses are on its client-side interface,
//! where the router reaches them.
//!
//! A connection from the client to the VIP reaches a real server with the
//! director's local address and port as source, so the server answers to
//! that address, through its default route, the router, back to the
//! director, which restores VIP and client. With the client's address
//! kept (plain NAT) the answer would go from the router straight to the
//! client and be dropped (wrong source).
//!
//! 200 connections from 8 client threads are all open at once before any
//! request is sent: every one is answered, the servers saw 200 distinct
//! `(laddr, lport)` peers (a collision would merge two connections), all
//! from the pool, never the client's address, and the pool's two
//! addresses are both used (the pool is walked round-robin). The director
//! counts 200 connections with packets in both directions. Then the same
//! over IPv6 (40 connections, local address `fd00:10::51`).

mod common;

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::Duration;

use common::lab::Lvsd;
use common::ops::conn_entries;
use common::tunlab::{
    CLIENT, CLIENT6, EchoServer, LADDR6, LADDRS, RIPS, RIPS6, VIP, VIP6, connect, tun_lab,
};
use common::{Scratch, ipvsadm, is_root};

const THREADS: usize = 8;
const PER_THREAD: usize = 25;

fn run(scratch: &Scratch, argv: &[&str]) {
    let out = ipvsadm(scratch, argv);
    assert_eq!(out.code, 0, "ipvsadm {argv:?}: {}", out.stderr);
}

fn list(scratch: &Scratch, argv: &[&str]) -> String {
    let out = ipvsadm(scratch, argv);
    assert_eq!(out.code, 0, "ipvsadm {argv:?}: {}", out.stderr);
    out.stdout
}

/// Opens `n` connections to `dst`, then sends one request on each, then
/// reads every answer: the answers (or errors) in order.
fn burst(dst: SocketAddr, n: usize) -> Vec<Result<String, String>> {
    let streams: Vec<Result<TcpStream, String>> = (0..n).map(|_| connect(None, dst)).collect();
    let mut streams: Vec<Result<TcpStream, String>> = streams
        .into_iter()
        .map(|s| {
            let mut s = s?;
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            s.write_all(b"GET / HTTP/1.0\r\n\r\n")
                .map_err(|e| format!("write: {e}"))?;
            Ok(s)
        })
        .collect();
    streams
        .iter_mut()
        .map(|s| {
            let s = s.as_mut().map_err(|e| e.clone())?;
            let mut resp = Vec::new();
            s.read_to_end(&mut resp).map_err(|e| format!("read: {e}"))?;
            let text = String::from_utf8_lossy(&resp).into_owned();
            text.split_once("\r\n\r\n")
                .map(|(_, b)| b.to_string())
                .ok_or(format!("no body in {text:?}"))
        })
        .collect()
}

#[test]
fn fullnat_200_concurrent_connections_through_a_router_use_the_local_address_pool() {
    assert!(
        is_root(),
        "this privileged test needs root (network namespaces, XDP): run the suite as root"
    );
    let lab = tun_lab("fn", &[]);
    let scratch = Scratch::new("e2e-fullnat");
    let pool = format!("{},{},{LADDR6}", LADDRS[0], LADDRS[1]);
    let lvsd = Lvsd::start_with(&lab.dir, &scratch, &["--fullnat-laddr", &pool]);
    let at = |i: usize| {
        [
            SocketAddr::new(RIPS[i].into(), 80),
            SocketAddr::new(RIPS6[i].into(), 80),
        ]
    };
    let servers = [
        EchoServer::start(&lab.rs[0], &at(0), "RS1"),
        EchoServer::start(&lab.rs[1], &at(1), "RS2"),
    ];
    let svc = format!("{VIP}:80");
    run(&scratch, &["-A", "-t", &svc, "-s", "rr"]);
    for r in RIPS {
        run(
            &scratch,
            &["-a", "-t", &svc, "-r", &format!("{r}:80"), "--fullnat"],
        );
    }
    let listing = list(&scratch, &["-ln"]);
    assert!(listing.contains("FullNat"), "{listing}");

    let dst = SocketAddr::new(VIP.into(), 80);
    let results: Vec<Result<String, String>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|_| s.spawn(|| lab.cli.run(|| burst(dst, PER_THREAD)).unwrap()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let total = THREADS * PER_THREAD;
    let failed: Vec<&String> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(
        failed.is_empty(),
        "{} of {total} failed: {:?}; lvsd log:\n{}",
        failed.len(),
        &failed[..failed.len().min(5)],
        lvsd.log_text()
    );
    let rs1 = results
        .iter()
        .filter(|r| r.as_deref() == Ok("RS1 0"))
        .count();
    let rs2 = results
        .iter()
        .filter(|r| r.as_deref() == Ok("RS2 0"))
        .count();
    assert_eq!(rs1 + rs2, total, "{results:?}");
    assert_eq!((rs1, rs2), (total / 2, total / 2), "rr splits evenly");

    let peers: Vec<SocketAddr> = servers.iter().flat_map(|s| s.seen()).collect();
    assert_eq!(peers.len(), total);
    let distinct: HashSet<SocketAddr> = peers.iter().copied().collect();
    assert_eq!(
        distinct.len(),
        total,
        "no two connections share (laddr, lport)"
    );
    let pool_ips: Vec<IpAddr> = LADDRS.iter().map(|a| IpAddr::V4(*a)).collect();
    assert!(
        peers.iter().all(|p| pool_ips.contains(&p.ip())),
        "the servers see only the pool: {peers:?}"
    );
    assert!(!peers.iter().any(|p| p.ip() == IpAddr::V4(CLIENT)));
    let per_laddr: Vec<usize> = pool_ips
        .iter()
        .map(|a| peers.iter().filter(|p| p.ip() == *a).count())
        .collect();
    assert!(per_laddr.iter().all(|n| *n > 0), "both used: {per_laddr:?}");
    eprintln!("FULLNAT: {total} connections, per local address {per_laddr:?}");

    let entries = conn_entries(&list(&scratch, &["-lnc"]));
    let to_rs = entries
        .iter()
        .filter(|e| e.virt == svc && RIPS.iter().any(|r| e.dest == format!("{r}:80")))
        .count();
    assert_eq!(to_rs, total, "{entries:?}");
    let st = list(&scratch, &["-ln", "--stats"]);
    let row: Vec<u64> = st
        .lines()
        .find(|l| l.contains(&svc))
        .unwrap()
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    assert_eq!(row[0], total as u64, "{st}");
    assert!(
        row[2] >= 2 * total as u64,
        "replies cross the director: {st}"
    );

    // IPv6: the same through the router, from the IPv6 local address.
    let svc6 = format!("[{VIP6}]:80");
    run(&scratch, &["-A", "-t", &svc6, "-s", "rr"]);
    for r in RIPS6 {
        run(
            &scratch,
            &["-a", "-t", &svc6, "-r", &format!("[{r}]:80"), "--fullnat"],
        );
    }
    let dst6 = SocketAddr::new(VIP6.into(), 80);
    let results6: Vec<Result<String, String>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..2)
            .map(|_| s.spawn(|| lab.cli.run(|| burst(dst6, 20)).unwrap()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    assert!(
        results6.iter().all(|r| r.is_ok()),
        "{results6:?}; lvsd log:\n{}",
        lvsd.log_text()
    );
    let peers6: Vec<SocketAddr> = servers
        .iter()
        .flat_map(|s| s.seen())
        .filter(|p| p.is_ipv6())
        .collect();
    assert_eq!(peers6.len(), 40);
    assert!(
        peers6.iter().all(|p| p.ip() == IpAddr::V6(LADDR6)),
        "{peers6:?}"
    );
    assert!(!peers6.iter().any(|p| p.ip() == IpAddr::V6(CLIENT6)));
    let distinct6: HashSet<SocketAddr> = peers6.iter().copied().collect();
    assert_eq!(
        distinct6.len(),
        40,
        "no two connections share (laddr, lport)"
    );
    drop(servers);
    drop(lvsd);
}
