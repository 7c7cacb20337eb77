#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

//! End to end, seed 003 §2.4–2.5: a firewall-mark service fed by the
//! operator's own netfilter rule (`iptables -t mangle ... -j MARK
//! --set-mark 10`, read by lvsd through its NFQUEUE chain), persistent
//! client connection (PCC, `-t VIP:0 -p`) and persistent port connection
//! (PPC, `-t VIP:80 -p`), the same fwmark over IPv6 (`ip6tables` marks),
//! and what happens to established connections of a
//! deleted service or real server (the kernel drops their packets
//! silently while their entries live: `bin/lvsd/lab/ops_nodest.out`).
//!
//! Lab (namespaces `lvsd-e2e-PID-b-*`, deleted by name by their guards,
//! also on failure): the seed's NAT lab, the client holding a second
//! address:
//!
//! ```text
//! cli 172.16.10.22/24 + 172.16.10.30/32 c0 ── d0 172.16.10.21/24 (VIP) dir d1 192.168.100.17/24
//!                                                         │                    │
//!                                  rs1 192.168.100.39/24 r0        rs2 192.168.100.23/24 r0
//! ```
//!
//! (the real servers hang off a bridge in a switch namespace).
//! Every real server answers `RS1` / `RS2` per line on ports 80, 443 and
//! 8080, so each answer names the server that got the connection.
//!
//! Kernel rules checked (ip_vs_core.c `ip_vs_sched_persist`): a persistent
//! service schedules a client once and records it in a template
//! (`ipvsadm -lnc` protocol `IP`, state `ASSURED` once a connection used
//! it: `bin/lvsd/lab/ops_template_synrecv.out`); for a fwmark service the
//! template's virtual address is the mark (`0.0.0.10:0`) and its ports are
//! 0, so every port the mark covers follows the template; for a port-0
//! service (PCC) the template has port 0 and any port of the client
//! follows it; for an ordinary port service (PPC) the template carries the
//! service's port, so another port of the same client is scheduled anew.
//! `rr` starts with the server added last (real servers are listed newest
//! first). The fwmark case's picks, template rows and connection rows are
//! those of Linux 6.1 in `bin/lvsd/lab/fwmark_persist.out` (same lab, the
//! mark set by `tc skbedit` there).

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::process::Command;

use common::lab::{Lvsd, netns, sh, sysctl, veth};
use common::ops::{Server, Session};
use common::{Scratch, ipvsadm, is_root};
use lvs_sys::NetNs;

const VIP: Ipv4Addr = Ipv4Addr::new(172, 16, 10, 21);
const CLIENT1: Ipv4Addr = Ipv4Addr::new(172, 16, 10, 22);
const CLIENT2: Ipv4Addr = Ipv4Addr::new(172, 16, 10, 30);
const RIPS: [Ipv4Addr; 2] = [
    Ipv4Addr::new(192, 168, 100, 39),
    Ipv4Addr::new(192, 168, 100, 23),
];

struct Lab {
    cli: NetNs,
    dir: NetNs,
    sw: NetNs,
    rs: [NetNs; 2],
}

fn lab(tag: &str) -> Lab {
    assert!(
        is_root(),
        "this privileged test needs root (network namespaces, XDP, netfilter)"
    );
    let lab = Lab {
        cli: netns(&format!("b-{tag}-cli")),
        dir: netns(&format!("b-{tag}-dir")),
        sw: netns(&format!("b-{tag}-sw")),
        rs: [
            netns(&format!("b-{tag}-rs1")),
            netns(&format!("b-{tag}-rs2")),
        ],
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
    sh(cli, &["addr", "add", "172.16.10.22/24", "dev", "c0"]);
    sh(cli, &["addr", "add", &format!("{CLIENT2}/32"), "dev", "c0"]);
    sh(cli, &["link", "set", "c0", "up"]);
    sh(dir, &["addr", "add", "172.16.10.21/24", "dev", "d0"]);
    sh(dir, &["addr", "add", "192.168.100.17/24", "dev", "d1"]);
    sh(dir, &["link", "set", "d0", "up"]);
    sh(dir, &["link", "set", "d1", "up"]);
    sysctl(dir, "net.ipv4.ip_forward", "1");
    for (r, ip) in rs.iter().zip(RIPS) {
        sh(r, &["addr", "add", &format!("{ip}/24"), "dev", "r0"]);
        sh(r, &["link", "set", "r0", "up"]);
        sh(r, &["route", "add", "default", "via", "192.168.100.17"]);
    }
    for n in [cli, dir, sw, &rs[0], &rs[1]] {
        sh(n, &["link", "set", "lo", "up"]);
    }
    lab
}

fn servers(lab: &Lab) -> Vec<Server> {
    let mut v = Vec::new();
    for (i, name) in ["RS1", "RS2"].into_iter().enumerate() {
        for port in [80, 443, 8080] {
            v.push(Server::lines(&lab.rs[i], RIPS[i], port, name));
        }
    }
    v
}

fn run(scratch: &Scratch, argv: &[&str]) {
    let out = ipvsadm(scratch, argv);
    assert_eq!(out.code, 0, "ipvsadm {argv:?}: {}", out.stderr);
}

fn list(scratch: &Scratch, argv: &[&str]) -> String {
    let out = ipvsadm(scratch, argv);
    assert_eq!(out.code, 0, "ipvsadm {argv:?}: {}", out.stderr);
    out.stdout
}

/// `iptables ARGS` inside `ns` (the operator's own rule).
fn iptables(ns: &NetNs, args: &[&str]) {
    let st = Command::new("ip")
        .args(["netns", "exec", ns.name(), "iptables"])
        .args(args)
        .status()
        .unwrap();
    assert!(st.success(), "iptables {args:?}");
}

fn ask(lab: &Lab, src: Ipv4Addr, port: u16) -> (Session, String) {
    let mut s = Session::open(&lab.cli, Some(src), SocketAddr::new(VIP.into(), port))
        .unwrap_or_else(|e| panic!("{src} -> {VIP}:{port}: {e}"));
    let name = s
        .ask()
        .unwrap_or_else(|e| panic!("{src} -> {VIP}:{port}: {e}"));
    (s, name)
}

/// `-lnc` rows as (proto, state, source, virtual, destination).
fn entries(listing: &str) -> Vec<[String; 5]> {
    listing
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() == 6 && matches!(f[0], "TCP" | "UDP" | "IP"))
                .then(|| [f[0], f[2], f[3], f[4], f[5]].map(str::to_string))
        })
        .collect()
}

fn rip_of(name: &str) -> Ipv4Addr {
    match name {
        "RS1" => RIPS[0],
        "RS2" => RIPS[1],
        other => panic!("unexpected answer {other:?}"),
    }
}

#[test]
fn fwmark_10_covers_80_and_443_and_a_persistent_client_sticks() {
    fwmark_case("fwm", &[]);
}

#[test]
fn fwmark_10_with_io_afpacket() {
    fwmark_case("fwmp", &["--io", "afpacket"]);
}

fn fwmark_case(tag: &str, args: &[&str]) {
    let lab = lab(tag);
    let _servers = servers(&lab);
    // Seed 003 §2.4: the operator marks 80 and 443 of the VIP with 10.
    iptables(
        &lab.dir,
        &[
            "-t",
            "mangle",
            "-A",
            "PREROUTING",
            "-d",
            "172.16.10.21",
            "-p",
            "tcp",
            "-m",
            "multiport",
            "--dports",
            "80,443",
            "-j",
            "MARK",
            "--set-mark",
            "10",
        ],
    );
    let scratch = Scratch::new(&format!("e2e-fwmark-{tag}"));
    let lvsd = Lvsd::start_with(&lab.dir, &scratch, args);
    run(&scratch, &["-A", "-f", "10", "-s", "rr", "-p"]);
    for rip in RIPS {
        run(&scratch, &["-a", "-f", "10", "-r", &rip.to_string(), "-m"]);
    }
    let plain = list(&scratch, &["-ln"]);
    assert!(
        plain
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>()
                == ["FWM", "10", "rr", "persistent", "360"]),
        "{plain}"
    );

    // rr starts with the server added last: RS2 for the first client.
    let (mut a80, n80) = ask(&lab, CLIENT1, 80);
    let (mut a443, n443) = ask(&lab, CLIENT1, 443);
    assert_eq!(n80, "RS2", "first pick; lvsd log:\n{}", lvsd.log_text());
    assert_eq!(n443, n80, "both ports of one client on one server");
    let (mut b80, m80) = ask(&lab, CLIENT2, 80);
    assert_eq!(m80, "RS1", "the second client gets the other server");
    // Established sessions keep answering (NAT replies steered).
    for (s, want) in [(&mut a80, "RS2"), (&mut a443, "RS2"), (&mut b80, "RS1")] {
        assert_eq!(s.ask().unwrap(), want);
    }

    let conns = entries(&list(&scratch, &["-lnc"]));
    let c1 = RIPS[1].to_string();
    let c2 = RIPS[0].to_string();
    for (src, rip) in [(CLIENT1, &c1), (CLIENT2, &c2)] {
        let t = [
            "IP".to_string(),
            "ASSURED".to_string(),
            format!("{src}:0"),
            "0.0.0.10:0".to_string(),
            format!("{rip}:0"),
        ];
        assert!(conns.contains(&t), "template {t:?} in {conns:?}");
    }
    for (s, port, rip) in [(&a80, 80, &c1), (&a443, 443, &c1), (&b80, 80, &c2)] {
        let row = [
            "TCP".to_string(),
            "ESTABLISHED".to_string(),
            s.local.to_string(),
            format!("{VIP}:{port}"),
            format!("{rip}:{port}"),
        ];
        assert!(conns.contains(&row), "{row:?} in {conns:?}");
    }
    // A port the mark does not cover is no service: the director refuses.
    let other = Session::open(&lab.cli, Some(CLIENT1), SocketAddr::new(VIP.into(), 8080));
    assert!(other.is_err(), "8080 is not marked");
    drop(lvsd);
}

#[test]
fn pcc_port_0_sticks_every_port_ppc_only_its_port() {
    let lab = lab("pcc");
    let _servers = servers(&lab);
    let scratch = Scratch::new("e2e-fwmark-pcc");
    let lvsd = Lvsd::start(&lab.dir, &scratch);
    // PCC: all ports of a client to one server.
    run(&scratch, &["-A", "-t", "172.16.10.21:0", "-s", "rr", "-p"]);
    for rip in RIPS {
        run(
            &scratch,
            &["-a", "-t", "172.16.10.21:0", "-r", &rip.to_string(), "-m"],
        );
    }
    let (_s1, first) = ask(&lab, CLIENT1, 80);
    assert_eq!(first, "RS2", "lvsd log:\n{}", lvsd.log_text());
    let (_s2, n443) = ask(&lab, CLIENT1, 443);
    let (_s3, n8080) = ask(&lab, CLIENT1, 8080);
    assert_eq!((n443.as_str(), n8080.as_str()), ("RS2", "RS2"));
    let (_s4, other) = ask(&lab, CLIENT2, 443);
    assert_eq!(other, "RS1");
    let conns = entries(&list(&scratch, &["-lnc"]));
    let t = [
        "TCP".to_string(),
        "ASSURED".to_string(),
        format!("{CLIENT1}:0"),
        format!("{VIP}:0"),
        format!("{}:0", RIPS[1]),
    ];
    assert!(conns.contains(&t), "PCC template {t:?} in {conns:?}");
    run(&scratch, &["-C"]);

    // PPC: the template is per service port; 443 is another service,
    // scheduled on its own.
    for port in [80, 443] {
        let svc = format!("172.16.10.21:{port}");
        run(&scratch, &["-A", "-t", &svc, "-s", "rr", "-p"]);
        for rip in RIPS {
            run(
                &scratch,
                &["-a", "-t", &svc, "-r", &format!("{rip}:{port}"), "-m"],
            );
        }
    }
    let (_p1, a) = ask(&lab, CLIENT2, 80);
    let (_p2, b) = ask(&lab, CLIENT2, 80);
    assert_eq!(a, b, "PPC: the same port sticks");
    let (_p3, c) = ask(&lab, CLIENT2, 443);
    assert_eq!(c, "RS2", "443 has its own template and rr");
    let conns = entries(&list(&scratch, &["-lnc"]));
    for (port, name) in [(80, &a), (443, &c)] {
        let t = [
            "TCP".to_string(),
            "ASSURED".to_string(),
            format!("{CLIENT2}:0"),
            format!("{VIP}:{port}"),
            format!("{}:{port}", rip_of(name)),
        ];
        assert!(conns.contains(&t), "PPC template {t:?} in {conns:?}");
    }
    drop(lvsd);
}

#[test]
fn established_connections_of_a_deleted_service_or_server_are_dropped_not_reset() {
    let lab = lab("nodest");
    let _servers = servers(&lab);
    let scratch = Scratch::new("e2e-fwmark-nodest");
    let lvsd = Lvsd::start(&lab.dir, &scratch);
    for port in [80, 443] {
        let svc = format!("172.16.10.21:{port}");
        run(&scratch, &["-A", "-t", &svc, "-s", "rr"]);
        run(
            &scratch,
            &["-a", "-t", &svc, "-r", &format!("{}:{port}", RIPS[0]), "-m"],
        );
    }
    let (mut held80, _) = ask(&lab, CLIENT1, 80);
    let (mut held443, _) = ask(&lab, CLIENT1, 443);
    run(&scratch, &["-D", "-t", "172.16.10.21:80"]);
    run(
        &scratch,
        &[
            "-d",
            "-t",
            "172.16.10.21:443",
            "-r",
            &format!("{}:443", RIPS[0]),
        ],
    );
    // As the kernel (expire_nodest_conn=0): the entries stay, their
    // packets are dropped: no answer, and no RST from the director.
    for (s, what) in [(&mut held80, "-D"), (&mut held443, "-d")] {
        let err = s.ask().unwrap_err();
        assert!(
            err.contains("timed out")
                || err.contains("would block")
                || err.contains("Resource temporarily"),
            "held connection after {what}: {err} (a reset means the director's stack answered)"
        );
    }
    let conns = entries(&list(&scratch, &["-lnc"]));
    for port in [80, 443] {
        assert!(
            conns
                .iter()
                .any(|c| c[0] == "TCP" && c[3] == format!("{VIP}:{port}")),
            "the entry of :{port} stays: {conns:?}"
        );
    }
    // A new connection to the deleted service is the director's: refused.
    assert!(Session::open(&lab.cli, Some(CLIENT1), SocketAddr::new(VIP.into(), 80)).is_err());
    drop(lvsd);
}

/// A TCP server on `[addr]:port` in `ns` writing `name\n` to every
/// connection and closing it; stops with the test process (bounded).
fn v6_server(ns: &NetNs, addr: std::net::Ipv6Addr, port: u16, name: &'static str) {
    use std::io::Write as _;
    let listener = ns
        .run(move || std::net::TcpListener::bind(SocketAddr::new(addr.into(), port)))
        .unwrap()
        .unwrap();
    std::thread::spawn(move || {
        for mut s in listener.incoming().take(16).flatten() {
            let _ = s.write_all(format!("{name}\n").as_bytes());
        }
    });
}

/// The first line a connection from `[src]` to `[VIP6]:port` receives.
fn v6_get(ns: &NetNs, src: std::net::Ipv6Addr, dst: SocketAddr) -> Result<String, String> {
    use std::io::Read as _;
    ns.run(move || {
        let sock = socket2::Socket::new(
            socket2::Domain::IPV6,
            socket2::Type::STREAM,
            Some(socket2::Protocol::TCP),
        )
        .unwrap();
        sock.bind(&SocketAddr::new(src.into(), 0).into()).unwrap();
        // 10 s: KNOWN DEFECT — the first connection to this IPv6 fwmark
        // service currently loses its first SYN (and often the first
        // retransmission): it connects after 1-3 s in every run (12 runs:
        // 1.03 s once, 2.03-2.05 s seven times, 3.06-3.07 s four times), later
        // connections at once. Printed below when it happens; to be fixed in
        // the data plane (first packet of a queued, held flow).
        let started = std::time::Instant::now();
        sock.connect_timeout(&dst.into(), std::time::Duration::from_secs(10))
            .map_err(|e| format!("[{src}] -> {dst}: {e}"))?;
        if started.elapsed() > std::time::Duration::from_millis(900) {
            eprintln!("[{src}] -> {dst}: connected after {:?}", started.elapsed());
        }
        let mut s: std::net::TcpStream = sock.into();
        s.set_read_timeout(Some(std::time::Duration::from_secs(3)))
            .unwrap();
        let mut text = String::new();
        let _ = s.read_to_string(&mut text);
        Ok(text.trim_end().to_string())
    })
    .unwrap()
}

#[test]
fn fwmark_over_ipv6_with_ip6tables_marks() {
    use std::net::Ipv6Addr;
    let lab = lab("fwm6");
    let vip6: Ipv6Addr = "fd00:1::21".parse().unwrap();
    let c1: Ipv6Addr = "fd00:1::22".parse().unwrap();
    let c2: Ipv6Addr = "fd00:1::30".parse().unwrap();
    let rips: [Ipv6Addr; 2] = ["fd00:2::39".parse().unwrap(), "fd00:2::23".parse().unwrap()];
    for (ns, a, dev) in [
        (&lab.cli, "fd00:1::22/64", "c0"),
        (&lab.cli, "fd00:1::30/64", "c0"),
        (&lab.dir, "fd00:1::21/64", "d0"),
        (&lab.dir, "fd00:2::17/64", "d1"),
        (&lab.rs[0], "fd00:2::39/64", "r0"),
        (&lab.rs[1], "fd00:2::23/64", "r0"),
    ] {
        sh(ns, &["-6", "addr", "add", a, "dev", dev, "nodad"]);
    }
    for r in &lab.rs {
        sh(r, &["-6", "route", "add", "default", "via", "fd00:2::17"]);
    }
    sysctl(&lab.dir, "net.ipv6.conf.all.forwarding", "1");
    for (i, name) in ["RS1", "RS2"].into_iter().enumerate() {
        for port in [80, 443] {
            v6_server(&lab.rs[i], rips[i], port, name);
        }
    }
    let st = Command::new("ip")
        .args(["netns", "exec", lab.dir.name(), "ip6tables"])
        .args([
            "-t",
            "mangle",
            "-A",
            "PREROUTING",
            "-d",
            "fd00:1::21",
            "-p",
            "tcp",
        ])
        .args([
            "-m",
            "multiport",
            "--dports",
            "80,443",
            "-j",
            "MARK",
            "--set-mark",
            "10",
        ])
        .status()
        .unwrap();
    assert!(st.success());
    let scratch = Scratch::new("e2e-fwmark-v6");
    let lvsd = Lvsd::start(&lab.dir, &scratch);
    run(&scratch, &["-A", "-f", "10", "-6", "-s", "rr", "-p"]);
    for rip in rips {
        run(
            &scratch,
            &["-a", "-f", "10", "-6", "-r", &format!("[{rip}]:0"), "-m"],
        );
    }
    let plain = list(&scratch, &["-ln"]);
    assert!(
        plain
            .lines()
            .any(|l| l.starts_with("FWM") && l.contains("IPv6")),
        "{plain}"
    );
    let at = |port| SocketAddr::new(vip6.into(), port);
    let get = |src, port| {
        v6_get(&lab.cli, src, at(port))
            .unwrap_or_else(|e| panic!("{e}; lvsd log:\n{}", lvsd.log_text()))
    };
    let first = get(c1, 80);
    assert_eq!(
        first,
        "RS2",
        "rr starts with the last added; lvsd log:\n{}",
        lvsd.log_text()
    );
    assert_eq!(get(c1, 443), "RS2", "both ports stick");
    assert_eq!(get(c2, 443), "RS1", "the second client");
    drop(lvsd);
}
