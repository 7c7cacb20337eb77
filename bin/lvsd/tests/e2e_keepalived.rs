#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

//! End to end, keepalived inside lvsd: the real `lvsd --config
//! keepalived.conf` in a director namespace, its health checkers probing
//! real HTTP servers in their own namespaces, `lvsadm` (as `ipvsadm` and
//! `lvsadm reload`) reading and reloading it, and SIGHUP.
//!
//! Topology (namespaces `lvsd-e2e-PID-c-*`, deleted by name by their
//! guards, also on failure; nothing in the root namespace), as the seed 000
//! NAT lab of `e2e_nat.rs` plus a third server:
//!
//! ```text
//! cli 172.16.10.22/24 c0 ── d0 172.16.10.21/24 (VIP)  dir  d1 192.168.100.17/24
//!                                                            │
//!                                  sw: bridge br0 (s0, s1, s2, s3)
//!                      │                      │                     │
//!      rs1 192.168.100.39/24   rs2 192.168.100.23/24   rs3 192.168.100.40/24
//! ```
//!
//! Timing bounds come from keepalived's rule, not from measurements: a
//! checker that passed goes down after `retry + 1` consecutive failures,
//! the first at most `delay_loop` after the server stops, the others
//! `delay_before_retry` apart, so with `delay_loop 1`, `retry 1`,
//! `delay_before_retry 0.5` a stopped server (connection refused at once)
//! is out of the table at most 1.5 s after it stops; the tests allow
//! `delay_loop × retry + 1 s` = 2 s (the issue's bound), polling `ipvsadm
//! -ln`. Coming back takes one passing check: at most `delay_loop` (HTTP:
//! plus the confirming pass, one more `delay_loop`).

mod common;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::lab::{HttpServer, get, netns, sh, stats_column, sysctl, veth};
use common::{Outcome, Scratch, client_with, ipvsadm, is_root, live, wait_until};
use lvs_sys::NetNs;

const VIP: Ipv4Addr = Ipv4Addr::new(172, 16, 10, 21);
const RS: [Ipv4Addr; 3] = [
    Ipv4Addr::new(192, 168, 100, 39),
    Ipv4Addr::new(192, 168, 100, 23),
    Ipv4Addr::new(192, 168, 100, 40),
];

struct Lab {
    cli: NetNs,
    dir: NetNs,
    _sw: NetNs,
    rs: [NetNs; 3],
}

fn lab(tag: &str) -> Lab {
    let n = |x: &str| netns(&format!("c-{tag}-{x}"));
    let lab = Lab {
        cli: n("cli"),
        dir: n("dir"),
        _sw: n("sw"),
        rs: [n("rs1"), n("rs2"), n("rs3")],
    };
    let Lab {
        cli,
        dir,
        _sw: sw,
        rs,
    } = &lab;
    veth(cli, "c0", dir, "d0");
    veth(dir, "d1", sw, "s0");
    sh(sw, &["link", "add", "br0", "type", "bridge"]);
    for (i, r) in rs.iter().enumerate() {
        veth(r, "r0", sw, &format!("s{}", i + 1));
    }
    for s in ["s0", "s1", "s2", "s3"] {
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
    for (r, ip) in rs.iter().zip(RS) {
        sh(r, &["addr", "add", &format!("{ip}/24"), "dev", "r0"]);
        sh(r, &["link", "set", "r0", "up"]);
        sh(r, &["route", "add", "default", "via", "192.168.100.17"]);
    }
    for n in [cli, dir, sw, &rs[0], &rs[1], &rs[2]] {
        sh(n, &["link", "set", "lo", "up"]);
    }
    lab
}

/// `lvsd --config FILE` inside the director namespace, killed on drop.
struct Director {
    child: Child,
    log: PathBuf,
}

impl Director {
    fn start(ns: &NetNs, scratch: &Scratch, conf: &Path) -> Director {
        let socket = scratch.socket();
        let log = scratch.dir.join("lvsd.log");
        let mut d = Director {
            child: Command::new("ip")
                .args(["netns", "exec", ns.name(), env!("CARGO_BIN_EXE_lvsd")])
                .arg("--config")
                .arg(conf)
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
            wait_until(|| live(&socket) || d.child.try_wait().unwrap().is_some()) && live(&socket),
            "lvsd did not come up: {}",
            d.log_text()
        );
        wait_until(|| {
            let t = d.log_text();
            t.contains("serving") || t.contains("ERROR")
        });
        assert!(d.log_text().contains("serving"), "{}", d.log_text());
        d
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn signal(&self, sig: &str) {
        let st = Command::new("kill")
            .args([&format!("-{sig}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(st.success());
    }
}

impl Drop for Director {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `ipvsadm -ln`, which must succeed.
fn listing(s: &Scratch) -> String {
    let out = ipvsadm(s, &["-ln"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    out.stdout
}

/// The `-> RIP:PORT Forward Weight ...` lines of a listing: (address, weight).
fn dests(listing: &str) -> Vec<(String, u32)> {
    listing
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            match f.as_slice() {
                ["->", addr, _fwd, w, ..] if addr.contains(':') => {
                    Some(((*addr).to_owned(), w.parse().ok()?))
                }
                _ => None,
            }
        })
        .collect()
}

fn dest_set(s: &Scratch) -> Vec<(String, u32)> {
    let mut d = dests(&listing(s));
    d.sort();
    d
}

fn set(v: &[(&str, u32)]) -> Vec<(String, u32)> {
    let mut d: Vec<(String, u32)> = v.iter().map(|(a, w)| ((*a).to_owned(), *w)).collect();
    d.sort();
    d
}

/// Polls `ipvsadm -ln` until its destinations are `want` or `bound`
/// passes; returns how long it took, or the last listing.
fn await_dests(s: &Scratch, want: &[(&str, u32)], bound: Duration) -> Result<Duration, String> {
    let want = set(want);
    let t0 = Instant::now();
    loop {
        let l = listing(s);
        let mut got = dests(&l);
        got.sort();
        if got == want {
            return Ok(t0.elapsed());
        }
        if t0.elapsed() > bound {
            return Err(l);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn lvsadm(s: &Scratch, args: &[&str]) -> Outcome {
    client_with(s, "lvsadm", &s.socket(), args, "", |_| {})
}

/// `delay_loop × retry + 1 s` with `delay_loop 1`, `retry 1`.
const DOWN_BOUND: Duration = Duration::from_secs(2);
/// Coming back: an HTTP_GET needs its passing check and the confirming
/// pass a `delay_loop` later (2 s), plus one second.
const UP_BOUND: Duration = Duration::from_secs(3);

fn health_conf(dir: &Path) -> String {
    let d = dir.display();
    format!(
        r#"
global_defs {{
    router_id c-health
}}
virtual_server 172.16.10.21 80 {{
    delay_loop 1
    lb_algo rr
    lb_kind NAT
    protocol TCP
    quorum 2
    quorum_up "/usr/bin/touch {d}/quorum.up"
    quorum_down "/usr/bin/touch {d}/quorum.down"
    sorry_server 192.168.100.40 80

    real_server 192.168.100.39 80 {{
        weight 1
        notify_up "/usr/bin/touch {d}/rs1.up"
        notify_down "/usr/bin/touch {d}/rs1.down"
        HTTP_GET {{
            url {{
                path /
                status_code 200
            }}
            connect_timeout 1
            retry 1
            delay_before_retry 0.5
        }}
    }}
    real_server 192.168.100.23 80 {{
        weight 2
        TCP_CHECK {{
            connect_timeout 1
            retry 1
            delay_before_retry 0.5
        }}
    }}
}}
"#
    )
}

/// The `lvsadm health` row of real server `real` (the virtual server's
/// name is `ADDR:PORT TCP`, two words): `[VS, PROTO, REAL, STATE, WEIGHT,
/// SINCE, CHECK, TARGET, FAILS, LAST, REASON]`, the reason in one cell.
fn health_row(s: &Scratch, real: &str) -> Vec<String> {
    let out = lvsadm(s, &["health"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let mut lines = out.stdout.lines();
    assert_eq!(
        lines
            .next()
            .map(|l| l.split_whitespace().collect::<Vec<_>>()),
        Some(vec![
            "VIRTUAL", "REAL", "STATE", "WEIGHT", "SINCE", "CHECK", "TARGET", "FAILS", "LAST",
            "REASON"
        ]),
        "{}",
        out.stdout
    );
    let line = lines
        .find(|l| l.split_whitespace().nth(2) == Some(real))
        .unwrap_or_else(|| panic!("no row for {real}:\n{}", out.stdout));
    // By words, the reason (from the 11th word on) kept whole.
    let words: Vec<&str> = line.split_whitespace().collect();
    let mut cells: Vec<String> = words.iter().take(10).map(|w| (*w).to_owned()).collect();
    cells.push(words.get(10..).unwrap_or_default().join(" "));
    cells
}

#[test]
fn stopped_server_leaves_and_returns_and_a_lost_quorum_brings_the_sorry_server() {
    assert!(
        is_root(),
        "this privileged test needs root (network namespaces, XDP): run the suite as root"
    );
    let lab = lab("h");
    let scratch = Scratch::new("e2e-keepalived-health");
    let conf = scratch.dir.join("keepalived.conf");
    std::fs::write(&conf, health_conf(&scratch.dir)).unwrap();
    let mut rs1 = Some(HttpServer::start(&lab.rs[0], RS[0], "from RS1"));
    let mut rs2 = Some(HttpServer::start(&lab.rs[1], RS[1], "from RS2"));
    let _sorry = HttpServer::start(&lab.rs[2], RS[2], "sorry");
    let lvsd = Director::start(&lab.dir, &scratch, &conf);
    let file = |n: &str| scratch.dir.join(n);
    let log = || lvsd.log_text();

    // Start: both servers, weights 1 + 2 = 3 >= quorum 2: quorum_up ran.
    assert_eq!(
        dest_set(&scratch),
        set(&[("192.168.100.39:80", 1), ("192.168.100.23:80", 2)]),
        "{}",
        log()
    );
    assert!(wait_until(|| file("quorum.up").exists()), "{}", log());
    let answers: Vec<_> = (0..3).map(|_| lab.cli.run(|| get(VIP)).unwrap()).collect();
    assert!(answers.iter().all(|a| a.is_ok()), "{answers:?}");

    // keepalived starts every checker with its retries used up ("one failure
    // is enough initially"): wait for RS1's first check to pass, so that the
    // stop below meets a checker with its `retry` left (down after 1 + retry
    // failures), not the start-up rule.
    assert!(
        wait_until(|| health_row(&scratch, "192.168.100.39:80")[9] == "ok"),
        "RS1's first check did not pass: {:?}\n{}",
        health_row(&scratch, "192.168.100.39:80"),
        log()
    );
    // RS1's HTTP server stops: removed within the bound, notify_down ran
    // (the command split into argv and executed without a shell).
    drop(rs1.take());
    let took = await_dests(&scratch, &[("192.168.100.23:80", 2)], DOWN_BOUND)
        .unwrap_or_else(|l| panic!("RS1 still listed after {DOWN_BOUND:?}:\n{l}\n{}", log()));
    eprintln!("RS1 removed {took:?} after its server stopped");
    assert!(wait_until(|| file("rs1.down").exists()), "{}", log());
    // `lvsadm health` says why: RS1 down, out of the table, its HTTP_GET
    // failing on the refused connection after 1 + retry (1) failures.
    let row = health_row(&scratch, "192.168.100.39:80");
    assert_eq!(row[3..5], ["down", "-"], "{row:?}");
    assert_eq!(row[6..8], ["HTTP_GET", "192.168.100.39:80"], "{row:?}");
    let fails: Vec<u32> = row[8].split('/').map(|n| n.parse().unwrap()).collect();
    assert!(fails[0] >= 2 && fails[1] == 1, "{row:?}");
    assert_eq!(row[9], "fail", "{row:?}");
    assert_eq!(row[10], "/: connect: Connection refused", "{row:?}");
    let row = health_row(&scratch, "192.168.100.23:80");
    assert_eq!(row[3..5], ["up", "2"], "{row:?}");
    assert_eq!(
        row[6..11],
        ["TCP_CHECK", "192.168.100.23:80", "0/1", "ok", "connected"]
    );
    // 2 >= 2 - 0: the quorum holds, no sorry server.
    assert!(!file("quorum.down").exists());
    // A reload of the same file keeps RS1's state: no change, still out
    // (keepalived: "Do not re-add failed RS instantly on reload").
    let out = lvsadm(&scratch, &["reload"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stderr, log());
    assert!(
        out.stdout
            .contains("reloaded, 0 change(s), 2 checker(s) kept, 0 started"),
        "{}",
        out.stdout
    );
    assert_eq!(dest_set(&scratch), set(&[("192.168.100.23:80", 2)]));
    for _ in 0..3 {
        assert_eq!(lab.cli.run(|| get(VIP)).unwrap().as_deref(), Ok("from RS2"));
    }

    // Restarted: added back with its weight, notify_up ran.
    rs1 = Some(HttpServer::start(&lab.rs[0], RS[0], "from RS1"));
    let took = await_dests(
        &scratch,
        &[("192.168.100.39:80", 1), ("192.168.100.23:80", 2)],
        UP_BOUND,
    )
    .unwrap_or_else(|l| panic!("RS1 not back after {UP_BOUND:?}:\n{l}\n{}", log()));
    eprintln!("RS1 back {took:?} after its server restarted");
    assert!(wait_until(|| file("rs1.up").exists()), "{}", log());

    // RS2 stops: 1 < quorum 2: the quorum is lost, the alive servers leave
    // and the sorry server (weight 1) serves; quorum_down ran.
    drop(rs2.take());
    await_dests(&scratch, &[("192.168.100.40:80", 1)], DOWN_BOUND)
        .unwrap_or_else(|l| panic!("no sorry server after {DOWN_BOUND:?}:\n{l}\n{}", log()));
    assert!(wait_until(|| file("quorum.down").exists()), "{}", log());
    assert_eq!(lab.cli.run(|| get(VIP)).unwrap().as_deref(), Ok("sorry"));
    // RS1 passes its check but is out: the sorry server serves.
    let row = health_row(&scratch, "192.168.100.39:80");
    assert_eq!(row[3..5], ["quorum-sorry", "-"], "{row:?}");
    assert_eq!(row[9..11], ["ok", "HTTP status 200"], "{row:?}");
    let row = health_row(&scratch, "192.168.100.23:80");
    assert_eq!(row[3], "down", "{row:?}");
    assert_eq!(row[10], "connect: Connection refused", "{row:?}");

    // RS2 back: 3 >= 2: the sorry server leaves, both servers return.
    std::fs::remove_file(file("quorum.up")).unwrap();
    rs2 = Some(HttpServer::start(&lab.rs[1], RS[1], "from RS2"));
    await_dests(
        &scratch,
        &[("192.168.100.39:80", 1), ("192.168.100.23:80", 2)],
        UP_BOUND,
    )
    .unwrap_or_else(|l| panic!("quorum not regained:\n{l}\n{}", log()));
    assert!(wait_until(|| file("quorum.up").exists()), "{}", log());
    drop((rs1, rs2));
}

/// A real server answering `GET /big` with [`BIG`] bytes (byte `i` is
/// `i % 251`) over about [`BIG_SECS`] seconds, anything else at once with
/// its name; one thread per connection. Stopped on drop.
struct SlowServer {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

const BIG: usize = 4 << 20;
const BIG_SECS: u64 = 5;
const CHUNK: usize = 64 << 10;

impl SlowServer {
    fn start(ns: &NetNs, addr: Ipv4Addr, name: &'static str) -> SlowServer {
        let listener = ns
            .run(move || TcpListener::bind(SocketAddr::new(addr.into(), 80)))
            .unwrap()
            .unwrap();
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let thread = std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(120);
            while !stop2.load(Ordering::Relaxed) && Instant::now() < deadline {
                match listener.accept() {
                    Ok((s, _)) => {
                        std::thread::spawn(move || serve_slow(s, name));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        SlowServer {
            stop,
            thread: Some(thread),
        }
    }
}

fn serve_slow(mut s: TcpStream, name: &str) {
    s.set_nonblocking(false).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut req = Vec::new();
    let mut buf = [0u8; 1024];
    while !req.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => req.extend_from_slice(&buf[..n]),
        }
    }
    if !req.starts_with(b"GET /big ") {
        let resp = format!(
            "HTTP/1.0 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{name}",
            name.len()
        );
        let _ = s.write_all(resp.as_bytes());
        return;
    }
    let head = format!("HTTP/1.0 200 OK\r\nContent-Length: {BIG}\r\nConnection: close\r\n\r\n");
    if s.write_all(head.as_bytes()).is_err() {
        return;
    }
    let pause = Duration::from_millis(BIG_SECS * 1000 * CHUNK as u64 / BIG as u64);
    let body: Vec<u8> = (0..BIG).map(|i| (i % 251) as u8).collect();
    for chunk in body.chunks(CHUNK) {
        if s.write_all(chunk).is_err() {
            return;
        }
        std::thread::sleep(pause);
    }
}

impl Drop for SlowServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// `GET /big` through the VIP: the body's length and whether every byte is
/// the expected one.
fn download() -> Result<(usize, bool), String> {
    let mut s =
        TcpStream::connect_timeout(&SocketAddr::new(VIP.into(), 80), Duration::from_secs(5))
            .map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"GET /big HTTP/1.0\r\nHost: vip\r\n\r\n")
        .map_err(|e| format!("write: {e}"))?;
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).map_err(|e| format!("read: {e}"))?;
    let at = resp
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no header end")?;
    let body = &resp[at + 4..];
    let intact = body.iter().enumerate().all(|(i, b)| *b == (i % 251) as u8);
    Ok((body.len(), intact))
}

fn reload_conf(servers: &[(Ipv4Addr, u32)], broken: bool) -> String {
    let mut text = String::from(
        r#"
virtual_server 172.16.10.21 80 {
    delay_loop 1
    lb_algo wrr
    lb_kind NAT
    protocol TCP
"#,
    );
    for (ip, w) in servers {
        text.push_str(&format!(
            r#"
    real_server {ip} 80 {{
        weight {w}
        TCP_CHECK {{
            connect_timeout 1
            retry 1
            delay_before_retry 0.5
        }}
    }}
"#
        ));
    }
    if broken {
        text.push_str("    persistence_timeout forever\n");
    }
    text.push_str("}\n");
    text
}

/// `Conns` (total connections) of `addr` in `ipvsadm -ln --stats`.
fn conns(s: &Scratch, addr: &str) -> Option<u64> {
    let out = ipvsadm(s, &["-ln", "--stats"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    stats_column(&out.stdout, addr, 0)
}

#[test]
fn reload_adds_and_removes_servers_while_a_download_runs_and_a_broken_one_changes_nothing() {
    assert!(
        is_root(),
        "this privileged test needs root (network namespaces, XDP): run the suite as root"
    );
    let lab = lab("r");
    let scratch = Scratch::new("e2e-keepalived-reload");
    let conf = scratch.dir.join("keepalived.conf");
    std::fs::write(&conf, reload_conf(&[(RS[1], 1), (RS[0], 3)], false)).unwrap();
    let _servers = [
        SlowServer::start(&lab.rs[0], RS[0], "from RS1"),
        SlowServer::start(&lab.rs[1], RS[1], "from RS2"),
        SlowServer::start(&lab.rs[2], RS[2], "from RS3"),
    ];
    let lvsd = Director::start(&lab.dir, &scratch, &conf);
    let log = || lvsd.log_text();
    assert_eq!(
        dest_set(&scratch),
        set(&[("192.168.100.39:80", 3), ("192.168.100.23:80", 1)])
    );

    std::thread::scope(|scope| {
        // wrr: servers added one by one leave the current weight at 1, so
        // the first sweep is a plain round robin, newest first (the
        // kernel's rule, see lvs-core's wrr): RS1, added last, which stays
        // through the reload.
        let dl = scope.spawn(|| lab.cli.run(download).unwrap());
        assert!(
            wait_until(|| conns(&scratch, "192.168.100.39:80") == Some(1)),
            "the download did not reach RS1: {}",
            listing(&scratch)
        );
        let before = ipvsadm(&scratch, &["-ln", "--stats"]).stdout;

        // Reload: RS2 removed, RS3 added; RS1 unchanged.
        std::fs::write(&conf, reload_conf(&[(RS[0], 3), (RS[2], 2)], false)).unwrap();
        let out = lvsadm(&scratch, &["reload"]);
        assert_eq!(out.code, 0, "{}\n{}\n{}", out.stdout, out.stderr, log());
        assert!(
            out.stdout.contains("reloaded, 2 change(s)"),
            "{}",
            out.stdout
        );
        assert!(
            out.stdout.contains("1 checker(s) kept, 1 started"),
            "{}",
            out.stdout
        );
        assert_eq!(
            dest_set(&scratch),
            set(&[("192.168.100.39:80", 3), ("192.168.100.40:80", 2)])
        );
        // RS1 and the service were not re-created: their total connection
        // counts are still the download's one.
        let after = ipvsadm(&scratch, &["-ln", "--stats"]).stdout;
        for addr in ["172.16.10.21:80", "192.168.100.39:80"] {
            assert_eq!(
                stats_column(&after, addr, 0),
                Some(1),
                "{addr}: before\n{before}\nafter\n{after}"
            );
            // Packet and byte counters kept counting from where they were
            // (columns InPkts, OutPkts, InBytes, OutBytes).
            for col in 1..=4 {
                let (b, a) = (
                    stats_column(&before, addr, col),
                    stats_column(&after, addr, col),
                );
                assert!(
                    b.is_some() && a >= b,
                    "{addr} column {col}: before\n{before}\nafter\n{after}"
                );
            }
        }
        assert!(!dl.is_finished(), "the download ended before the reload");

        let (len, intact) = dl.join().unwrap().unwrap();
        assert_eq!(len, BIG, "{}", log());
        assert!(intact, "the downloaded bytes differ");
    });
    // New connections: wrr 3:2 over RS1 and RS3 (RS2 is gone). The reload
    // reset the wrr state; any 5 consecutive picks of its cycle (RS3, RS1,
    // then RS1 / RS3 RS1 / RS3 RS1 at levels 3, 2, 1) hold 3 RS1 and 2 RS3.
    let names: Vec<String> = (0..5)
        .map(|_| lab.cli.run(|| get(VIP)).unwrap().unwrap())
        .collect();
    let count = |n: &str| names.iter().filter(|a| *a == n).count();
    assert_eq!((count("from RS1"), count("from RS3")), (3, 2), "{names:?}");

    // A broken file: rejected as a whole with file:line:col; nothing changes.
    let table = ipvsadm(&scratch, &["-Sn"]).stdout;
    std::fs::write(&conf, reload_conf(&[(RS[1], 1)], true)).unwrap();
    let out = lvsadm(&scratch, &["reload"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let where_ = format!("{}:", conf.display());
    assert!(
        out.stderr
            .lines()
            .any(|l| l.starts_with(&where_) && l.contains("error")),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("reload rejected"), "{}", out.stderr);
    assert_eq!(ipvsadm(&scratch, &["-Sn"]).stdout, table);
    // The same through SIGHUP: logged, table unchanged.
    let rejected = log().matches("rejected").count();
    lvsd.signal("HUP");
    assert!(
        wait_until(|| log().matches("rejected").count() > rejected),
        "{}",
        log()
    );
    assert_eq!(ipvsadm(&scratch, &["-Sn"]).stdout, table);

    // A good file again through SIGHUP: RS3 goes, RS2 comes back.
    std::fs::write(&conf, reload_conf(&[(RS[0], 3), (RS[1], 1)], false)).unwrap();
    lvsd.signal("HUP");
    await_dests(
        &scratch,
        &[("192.168.100.39:80", 3), ("192.168.100.23:80", 1)],
        Duration::from_secs(5),
    )
    .unwrap_or_else(|l| panic!("SIGHUP reload not applied:\n{l}\n{}", log()));
}
