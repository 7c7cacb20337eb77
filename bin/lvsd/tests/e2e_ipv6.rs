#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

//! End to end over IPv6: seed 000 §1's NAT lab with IPv6 addresses
//! (`-s wrr`, weights 2 and 3), through the real `lvsd` with both packet
//! backends. Every frame crosses veth pairs, whose senders leave TCP
//! checksums partial (only the pseudo-header sum): the director must
//! complete them before rewriting, or the real servers and the client drop
//! every segment. So besides the split (10 requests → 4 and 6, the wrr rule
//! worked by hand: 2 and 3 of every 5) and the client's address seen by
//! the servers, this checks the IPv6 checksum completion on veth and, with
//! `--io afpacket`, the `ip6` rules of the kernel filter.
//!
//! ```text
//! cli 2001:db8:10::22 c0 ── d0 2001:db8:10::21 (VIP)  dir  d1 2001:db8:100::17
//!                                                            │
//!                                      sw: bridge br0 (s0, s1, s2)
//!                                             │            │
//!                      rs1 2001:db8:100::39 r0    rs2 2001:db8:100::23 r0
//! ```
//!
//! Namespaces `lvsd-e2e-PID-b-*`, deleted by name by their guards.

mod common;

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::lab::{Lvsd, netns, sh, stats_column, sysctl, veth};
use common::{Scratch, ipvsadm, is_root};
use lvs_sys::NetNs;

const VIP: &str = "2001:db8:10::21";
const CLIENT: &str = "2001:db8:10::22";
const RIPS: [&str; 2] = ["2001:db8:100::39", "2001:db8:100::23"];
const REQUESTS: usize = 10;

fn v6(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

struct Lab {
    cli: NetNs,
    dir: NetNs,
    sw: NetNs,
    rs: [NetNs; 2],
}

fn lab(tag: &str) -> Lab {
    let n = |role: &str| netns(&format!("b-{tag}-{role}"));
    let lab = Lab {
        cli: n("cli"),
        dir: n("dir"),
        sw: n("sw"),
        rs: [n("rs1"), n("rs2")],
    };
    let Lab { cli, dir, sw, rs } = &lab;
    veth(cli, "c0", dir, "d0");
    veth(dir, "d1", sw, "s0");
    sh(sw, &["link", "add", "br0", "type", "bridge"]);
    for (i, r) in rs.iter().enumerate() {
        veth(r, "r0", sw, &format!("s{}", i + 1));
    }
    for s in ["s0", "s1", "s2"] {
        sh(sw, &["link", "set", s, "master", "br0", "up"]);
    }
    sh(sw, &["link", "set", "br0", "up"]);
    let addr = |ns: &NetNs, a: &str, dev: &str| {
        sh(
            ns,
            &["addr", "add", &format!("{a}/64"), "dev", dev, "nodad"],
        );
        sh(ns, &["link", "set", dev, "up"]);
    };
    addr(cli, CLIENT, "c0");
    addr(dir, VIP, "d0");
    addr(dir, "2001:db8:100::17", "d1");
    sysctl(dir, "net.ipv6.conf.all.forwarding", "1");
    for (r, ip) in rs.iter().zip(RIPS) {
        addr(r, ip, "r0");
        sh(
            r,
            &["-6", "route", "add", "default", "via", "2001:db8:100::17"],
        );
    }
    for n in [cli, dir, sw, &rs[0], &rs[1]] {
        sh(n, &["link", "set", "lo", "up"]);
    }
    lab
}

/// An HTTP/1.0 server on `[addr]:80` in `ns`, answering `body` and
/// recording its peers; stopped on drop.
struct Server {
    stop: Arc<AtomicBool>,
    peers: Arc<Mutex<Vec<IpAddr>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    fn start(ns: &NetNs, addr: Ipv6Addr, body: &'static str) -> Server {
        let listener = ns
            .run(move || TcpListener::bind(SocketAddr::new(addr.into(), 80)))
            .unwrap()
            .unwrap();
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let peers = Arc::new(Mutex::new(Vec::new()));
        let (stop2, peers2) = (stop.clone(), peers.clone());
        let thread = std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(120);
            while !stop2.load(Ordering::Relaxed) && Instant::now() < deadline {
                let Ok((mut s, peer)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                };
                peers2.lock().unwrap().push(peer.ip());
                s.set_nonblocking(false).unwrap();
                s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                let mut req = Vec::new();
                let mut buf = [0u8; 1024];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => req.extend_from_slice(&buf[..n]),
                    }
                }
                let resp = format!(
                    "HTTP/1.0 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = s.write_all(resp.as_bytes());
            }
        });
        Server {
            stop,
            peers,
            thread: Some(thread),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn get(vip: Ipv6Addr) -> Result<String, String> {
    let mut s =
        TcpStream::connect_timeout(&SocketAddr::new(vip.into(), 80), Duration::from_secs(5))
            .map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"GET / HTTP/1.0\r\n\r\n")
        .map_err(|e| format!("write: {e}"))?;
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).map_err(|e| format!("read: {e}"))?;
    let text = String::from_utf8_lossy(&resp).into_owned();
    match text.split_once("\r\n\r\n") {
        Some((_, body)) => Ok(body.to_string()),
        None => Err(format!("no body in {text:?}")),
    }
}

fn nat_over_ipv6(tag: &str, args: &[&str]) {
    assert!(
        is_root(),
        "this privileged test needs root (network namespaces, XDP): run the suite as root"
    );
    let lab = lab(tag);
    let scratch = Scratch::new(&format!("e2e-ipv6-{tag}"));
    let mut lvsd = Lvsd::start_with(&lab.dir, &scratch, args);
    let servers = [
        Server::start(&lab.rs[0], v6(RIPS[0]), "from RS1"),
        Server::start(&lab.rs[1], v6(RIPS[1]), "from RS2"),
    ];
    let svc = format!("[{VIP}]:80");
    for argv in [
        vec!["-A", "-t", &svc, "-s", "wrr"],
        vec![
            "-a",
            "-t",
            &svc,
            "-r",
            "[2001:db8:100::39]:80",
            "-m",
            "-w",
            "2",
        ],
        vec![
            "-a",
            "-t",
            &svc,
            "-r",
            "[2001:db8:100::23]:80",
            "-m",
            "-w",
            "3",
        ],
    ] {
        let out = ipvsadm(&scratch, &argv);
        assert_eq!(out.code, 0, "ipvsadm {argv:?}: {}", out.stderr);
    }
    if args.contains(&"afpacket") {
        // The kernel filter is updated asynchronously: wait for the last key.
        let table = || {
            let out = std::process::Command::new("ip")
                .args(["netns", "exec", lab.dir.name(), "nft", "list", "table"])
                .args(["netdev", "lvsd"])
                .output()
                .unwrap();
            String::from_utf8(out.stdout).unwrap()
        };
        assert!(
            common::wait_until(|| table().contains("2001:db8:100::23 . tcp . 80")),
            "filter not updated: {}",
            table()
        );
    }

    let answers = lab
        .cli
        .run(|| (0..REQUESTS).map(|_| get(v6(VIP))).collect::<Vec<_>>())
        .unwrap();
    let failures: Vec<&String> = answers.iter().filter_map(|a| a.as_ref().err()).collect();
    assert!(
        failures.is_empty(),
        "failed requests {answers:?}; lvsd log:\n{}",
        lvsd.log_text()
    );
    let count = |body: &str| answers.iter().filter(|a| a.as_deref() == Ok(body)).count();
    assert_eq!(
        (count("from RS1"), count("from RS2")),
        (4, 6),
        "{answers:?}"
    );
    for (s, n) in servers.iter().zip([4, 6]) {
        let peers = s.peers.lock().unwrap().clone();
        assert_eq!(peers.len(), n, "{peers:?}");
        assert!(
            peers.iter().all(|p| *p == IpAddr::V6(v6(CLIENT))),
            "the real server saw the client's address: {peers:?}"
        );
    }
    let stats = ipvsadm(&scratch, &["-ln", "--stats"]).stdout;
    assert_eq!(stats_column(&stats, &svc, 0), Some(10), "{stats}");
    assert_eq!(
        stats_column(&stats, "[2001:db8:100::39]:80", 0),
        Some(4),
        "{stats}"
    );
    assert_eq!(
        stats_column(&stats, "[2001:db8:100::23]:80", 0),
        Some(6),
        "{stats}"
    );

    let status = lvsd.terminate();
    assert!(
        status.is_some_and(|s| s.success()),
        "lvsd exit {status:?}: {}",
        lvsd.log_text()
    );
    drop(servers);
}

#[test]
fn nat_over_ipv6_with_af_xdp() {
    nat_over_ipv6("6x", &[]);
}

#[test]
fn nat_over_ipv6_with_af_packet() {
    nat_over_ipv6("6p", &["--io", "afpacket"]);
}
