#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

//! End to end, seed 000 §1 (NAT, `-s wrr`, weights 2 and 3): real TCP
//! between network namespaces created here, through the real `lvsd`
//! (XDP steering + AF_XDP) configured with the real `lvsadm` as `ipvsadm`.
//!
//! Topology (every piece in namespaces named `lvsd-e2e-PID-*`, deleted by
//! name by their guards, also on failure; nothing in the root namespace):
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

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Scratch, ipvsadm, is_root, live, wait_until};
use lvs_sys::NetNs;

const VIP: Ipv4Addr = Ipv4Addr::new(172, 16, 10, 21);
const CLIENT: Ipv4Addr = Ipv4Addr::new(172, 16, 10, 22);
const REQUESTS: usize = 25;

struct Lab {
    cli: NetNs,
    dir: NetNs,
    sw: NetNs,
    rs: [NetNs; 2],
}

fn sh(ns: &NetNs, args: &[&str]) {
    ns.ip(args).unwrap();
}

fn sysctl(ns: &NetNs, key: &str, value: &str) {
    let st = Command::new("ip")
        .args(["netns", "exec", ns.name(), "sysctl", "-qw"])
        .arg(format!("{key}={value}"))
        .status()
        .unwrap();
    assert!(st.success(), "sysctl {key}");
}

fn veth(a: &NetNs, a_if: &str, b: &NetNs, b_if: &str) {
    sh(
        a,
        &[
            "link",
            "add",
            a_if,
            "type",
            "veth",
            "peer",
            "name",
            b_if,
            "netns",
            b.name(),
        ],
    );
}

fn lab() -> Lab {
    let pid = std::process::id();
    let ns = |t: &str| NetNs::create(&format!("lvsd-e2e-{pid}-{t}")).unwrap();
    let lab = Lab {
        cli: ns("cli"),
        dir: ns("dir"),
        sw: ns("sw"),
        rs: [ns("rs1"), ns("rs2")],
    };
    let Lab { cli, dir, sw, rs } = &lab;
    veth(cli, "c0", dir, "d0");
    veth(dir, "d1", sw, "s0");
    sh(sw, &["link", "add", "br0", "type", "bridge"]);
    for (i, r) in rs.iter().enumerate() {
        let s = format!("s{}", i + 1);
        veth(r, "r0", sw, &s);
    }
    for s in ["s0", "s1", "s2"] {
        sh(sw, &["link", "set", s, "master", "br0", "up"]);
    }
    sh(sw, &["link", "set", "br0", "up"]);
    sh(cli, &["addr", "add", "172.16.10.22/24", "dev", "c0"]);
    sh(cli, &["link", "set", "c0", "up"]);
    sh(dir, &["addr", "add", "172.16.10.21/24", "dev", "d0"]);
    sh(dir, &["addr", "add", "192.168.100.17/24", "dev", "d1"]);
    sh(dir, &["link", "set", "d0", "up"]);
    sh(dir, &["link", "set", "d1", "up"]);
    sysctl(dir, "net.ipv4.ip_forward", "1");
    for (r, ip) in rs.iter().zip(["192.168.100.39/24", "192.168.100.23/24"]) {
        sh(r, &["addr", "add", ip, "dev", "r0"]);
        sh(r, &["link", "set", "r0", "up"]);
        sh(r, &["route", "add", "default", "via", "192.168.100.17"]);
    }
    for n in [cli, dir, sw, &rs[0], &rs[1]] {
        sh(n, &["link", "set", "lo", "up"]);
    }
    lab
}

/// A tiny HTTP server in a real server's namespace: answers every request
/// with `body` and records the peers it saw. Stopped (and joined) on drop.
struct HttpServer {
    stop: Arc<AtomicBool>,
    peers: Arc<Mutex<Vec<IpAddr>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl HttpServer {
    fn start(ns: &NetNs, addr: Ipv4Addr, body: &'static str) -> HttpServer {
        // The socket belongs to the namespace it was created in.
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
                match listener.accept() {
                    Ok((mut s, peer)) => {
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
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        HttpServer {
            stop,
            peers,
            thread: Some(thread),
        }
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// One HTTP GET to the VIP; the body, or the error.
fn get() -> Result<String, String> {
    let mut s =
        TcpStream::connect_timeout(&SocketAddr::new(VIP.into(), 80), Duration::from_secs(5))
            .map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"GET / HTTP/1.0\r\nHost: 172.16.10.21\r\n\r\n")
        .map_err(|e| format!("write: {e}"))?;
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).map_err(|e| format!("read: {e}"))?;
    let text = String::from_utf8_lossy(&resp).into_owned();
    match text.split_once("\r\n\r\n") {
        Some((_, body)) => Ok(body.to_string()),
        None => Err(format!("no body in {text:?}")),
    }
}

/// `lvsd` inside the director namespace, killed on drop (before the
/// namespaces go: declare it after the lab).
struct Lvsd {
    child: Child,
    log: std::path::PathBuf,
}

impl Lvsd {
    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Lvsd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Column `n` (0-based, after the protocol and address) of the listing
/// line whose address is `addr`.
fn stats_column(listing: &str, addr: &str, n: usize) -> Option<u64> {
    listing.lines().find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        let i = f.iter().position(|w| *w == addr)?;
        f.get(i + 1 + n)?.parse().ok()
    })
}

#[test]
fn seed_000_nat_wrr_2_3_splits_25_requests_10_15() {
    if !is_root() {
        eprintln!("skipped: needs root (network namespaces, XDP)");
        return;
    }
    let lab = lab();
    let scratch = Scratch::new("e2e-nat");
    let socket = scratch.socket();
    let log = scratch.dir.join("lvsd.log");
    let mut lvsd = Lvsd {
        child: Command::new("ip")
            .args(["netns", "exec", lab.dir.name(), env!("CARGO_BIN_EXE_lvsd")])
            .env("LVSD_SOCKET", &socket)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
        log,
    };
    assert!(
        wait_until(|| live(&socket) || lvsd.child.try_wait().unwrap().is_some()) && live(&socket),
        "lvsd did not come up: {}",
        lvsd.log_text()
    );
    // The socket accepts before the data plane is up: wait for its log line.
    wait_until(|| {
        let t = lvsd.log_text();
        t.contains("serving") || t.contains("ERROR") || t.contains("control plane only")
    });
    assert!(
        lvsd.log_text().contains("serving"),
        "no data plane: {}",
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

    let answers: Vec<Result<String, String>> = lab
        .cli
        .run(|| {
            let deadline = Instant::now() + Duration::from_secs(90);
            let mut v = Vec::new();
            for _ in 0..REQUESTS {
                if Instant::now() > deadline {
                    v.push(Err("deadline".to_string()));
                    continue;
                }
                v.push(get());
            }
            v
        })
        .unwrap();
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

    // SIGTERM: clean exit, XDP programs detached.
    let st = Command::new("kill")
        .args(["-TERM", &lvsd.child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let mut status = None;
    wait_until(|| {
        status = lvsd.child.try_wait().unwrap();
        status.is_some()
    });
    assert!(
        status.is_some_and(|s| s.success()),
        "lvsd exit {status:?}: {}",
        lvsd.log_text()
    );
    eprintln!("lvsd log:\n{}", lvsd.log_text());
    let links = String::from_utf8(lab.dir.ip(&["link", "show"]).unwrap().stdout).unwrap();
    assert!(!links.contains("xdp"), "XDP left attached: {links}");
    drop(servers);
}
