#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

//! End to end, UDP scheduling rules in the routed lab of
//! `common/tunlab.rs` (TUN to real servers behind a router, set up by the
//! real `lvsadm realserver setup --mode tun`; the director is the real
//! `lvsd`, configured by the real `lvsadm` as `ipvsadm`). UDP servers on
//! the VIP answer with their name.
//!
//! **One-packet scheduling** (`-o`, kernel `IP_VS_CONN_F_ONE_PACKET`:
//! the connection is built for one datagram and never hashed): six
//! datagrams from one client socket (one source port) go alternately to
//! the two servers under rr, and `-lnc` shows no entry for the service;
//! its Conns count is 6. Without `-o` the same six go to one server, one
//! entry per client port.
//!
//! With NAT (`one_packet_scheduling_with_nat_replies_are_not_translated`)
//! the kernel has no entry to translate the answers back: they reach the
//! client from the real servers' addresses, and OutPkts stays 0 (checked
//! in the lab, `crates/lvs-realserver/lab/hash_fallback_ops.out`).
//!
//! **Hashing with a failed server** (`ip_vs_sh.c`, `ip_vs_mh.c`): 16 client
//! addresses ask services `sh -b sh-fallback`, `sh`, `mh -b mh-fallback`
//! and `mh` twice each (a new source port each time: the same server,
//! since the hash key is the source address only), then real server RS1 is
//! set to weight 0 (unavailable: `is_unavailable`, weight <= 0). The
//! kernel's rule: sh's table does not change (each server takes `weight`
//! consecutive buckets but at least one, so weights 1,1 and 0,1 give the
//! same table), and mh's table keeps RS1's slots (it is built from
//! `last_weight`, the last non-zero weight); the lookup then finds an
//! unavailable server. With the fallback flag the client is rehashed to
//! an available one (here RS2, the only one), without it the pick fails
//! and the director answers ICMP port unreachable (`ip_vs_leave`): the
//! client's socket reports "connection refused". Clients that hashed to
//! RS2 stay on RS2 in all four services. Which clients hash to RS1 is the
//! real kernel's answer for the same addresses (see [`KERNEL_RS1`]), and
//! so are the moves and refusals after the weight change. With `-b sh-port` / `-b mh-port`
//! the source port joins the key: 20 sockets of one client address reach
//! both servers, while without it they all reach one.
//!
//! With three real servers the fallback has a choice: every client's
//! server before and after RS1's weight change (moved, refused or kept) is
//! compared with the real kernel's answer for the same addresses, ports and
//! list order ([`KERNEL3`]).

mod common;

/// The clients (last byte of `10.10.0.160..=175`) that the real kernel's
/// sh and mh sent to RS1 with this lab's addresses and ports (ipvs-ref lab,
/// Linux 6.1: `crates/lvs-realserver/lab/hash_fallback_ops.sh`, output in
/// `hash_fallback_ops.out`). sh's table depends only on the list order,
/// mh's on the real servers' addresses and ports, which the lab copies.
const KERNEL_RS1: [(u16, &[u8]); 4] = [
    (60, &[161, 162, 163, 164, 165, 170, 171, 172, 173, 174]),
    (61, &[161, 162, 163, 164, 165, 170, 171, 172, 173, 174]),
    (63, &[160, 161, 165, 166, 167, 169, 170, 171, 174]),
    (64, &[162, 164, 168, 172, 173, 175]),
];

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};

use common::lab::Lvsd;
use common::ops::{Server, conn_entries, dest_rows, udp_ask};
use common::tunlab::{CLIENT, RIPS, TunLab, VIP, extra_rs, realserver_setup, tun_lab};
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

/// The lab, its scratch and the real servers set up for TUN.
fn setup(tag: &str, extra: &[Ipv4Addr]) -> (TunLab, Scratch) {
    let lab = tun_lab(tag, extra);
    let scratch = Scratch::new(&format!("e2e-hash-{tag}"));
    for r in &lab.rs {
        realserver_setup(
            &scratch,
            r,
            &["--mode", "tun", "--vip", &VIP.to_string(), "--dev", "r0"],
        );
    }
    (lab, scratch)
}

/// `-A -u VIP:port ARGS` and both real servers with `-i`.
fn service(scratch: &Scratch, port: u16, args: &[&str]) -> String {
    let svc = format!("{VIP}:{port}");
    let mut argv = vec!["-A", "-u", &svc];
    argv.extend_from_slice(args);
    run(scratch, &argv);
    for r in RIPS {
        run(
            scratch,
            &["-a", "-u", &svc, "-r", &format!("{r}:{port}"), "-i"],
        );
    }
    svc
}

/// UDP servers on `VIP:port` for each port, in both real servers.
fn servers(lab: &TunLab, ports: &[u16]) -> Vec<Server> {
    ports
        .iter()
        .flat_map(|p| {
            [
                Server::udp(&lab.rs[0], VIP, *p, "RS1"),
                Server::udp(&lab.rs[1], VIP, *p, "RS2"),
            ]
        })
        .collect()
}

#[test]
fn one_packet_scheduling_schedules_each_datagram_and_keeps_no_entry() {
    assert!(
        is_root(),
        "this privileged test needs root (network namespaces, XDP, tc): run the suite as root"
    );
    let (lab, scratch) = setup("ops", &[]);
    let lvsd = Lvsd::start(&lab.dir, &scratch);
    let _servers = servers(&lab, &[53, 54]);
    let ops = service(&scratch, 53, &["-s", "rr", "-o"]);
    let plain = service(&scratch, 54, &["-s", "rr"]);
    let listing = list(&scratch, &["-ln"]);
    let line = listing.lines().find(|l| l.contains(&ops)).unwrap();
    assert!(line.contains("ops"), "{listing}");

    // One socket, six datagrams, per service.
    let ask6 = |port: u16| -> (Vec<String>, SocketAddr) {
        lab.cli
            .run(move || {
                let s = std::net::UdpSocket::bind((CLIENT, 0)).unwrap();
                s.set_read_timeout(Some(std::time::Duration::from_secs(3)))
                    .unwrap();
                s.connect((VIP, port)).unwrap();
                let mut buf = [0u8; 64];
                let answers = (0..6)
                    .map(|_| {
                        s.send(b"who").unwrap();
                        let n = s.recv(&mut buf).unwrap();
                        String::from_utf8_lossy(&buf[..n]).into_owned()
                    })
                    .collect();
                (answers, s.local_addr().unwrap())
            })
            .unwrap()
    };
    let (answers, _) = ask6(53);
    // rr per datagram, newest server first (as the kernel in the lab run).
    assert_eq!(
        answers,
        ["RS2", "RS1", "RS2", "RS1", "RS2", "RS1"],
        "rr per datagram"
    );
    let (plain_answers, local) = ask6(54);
    assert!(
        plain_answers.iter().all(|a| *a == plain_answers[0]),
        "one connection, one server: {plain_answers:?}"
    );
    let entries = conn_entries(&list(&scratch, &["-lnc"]));
    assert!(
        !entries.iter().any(|e| e.virt == ops),
        "no one-packet entry lingers: {entries:?}"
    );
    let plain_entries: Vec<_> = entries.iter().filter(|e| e.virt == plain).collect();
    assert_eq!(plain_entries.len(), 1, "{entries:?}");
    assert_eq!(plain_entries[0].source, local.to_string());
    let st = list(&scratch, &["-ln", "--stats"]);
    let conns = |svc: &str| -> u64 {
        st.lines()
            .find(|l| l.contains(svc))
            .and_then(|l| l.split_whitespace().nth(2))
            .unwrap()
            .parse()
            .unwrap()
    };
    assert_eq!((conns(&ops), conns(&plain)), (6, 1), "{st}");
    drop(lvsd);
}

#[test]
fn sh_and_mh_fallback_move_only_the_failed_servers_clients_and_port_flags_spread() {
    assert!(
        is_root(),
        "this privileged test needs root (network namespaces, XDP, tc): run the suite as root"
    );
    let clients: Vec<Ipv4Addr> = (160..176).map(|i| Ipv4Addr::new(10, 10, 0, i)).collect();
    let (lab, scratch) = setup("sh", &clients);
    let lvsd = Lvsd::start(&lab.dir, &scratch);
    let _servers = servers(&lab, &[60, 61, 62, 63, 64, 65]);
    // (port, scheduler flags, fallback)
    let hashed: [(u16, &[&str], bool); 4] = [
        (60, &["-s", "sh", "-b", "sh-fallback"], true),
        (61, &["-s", "sh"], false),
        (63, &["-s", "mh", "-b", "mh-fallback"], true),
        (64, &["-s", "mh"], false),
    ];
    for (port, args, _) in &hashed {
        service(&scratch, *port, args);
    }
    service(&scratch, 62, &["-s", "sh", "-b", "sh-port"]);
    service(&scratch, 65, &["-s", "mh", "-b", "mh-port"]);
    let listing = list(&scratch, &["-ln"]);
    for (port, flags) in [
        (60, "sh-fallback"),
        (62, "sh-port"),
        (63, "mh-fallback"),
        (65, "mh-port"),
    ] {
        let l = listing
            .lines()
            .find(|l| l.contains(&format!("{VIP}:{port}")))
            .unwrap();
        assert!(l.contains(flags), "{listing}");
    }
    let ask = |src: Ipv4Addr, port: u16| -> Result<String, String> {
        lab.cli
            .run(move || udp_ask(src, SocketAddr::new(VIP.into(), port)).map(|(a, _)| a))
            .unwrap()
    };

    // Before: each client address sticks to one server, whatever its port.
    let mut before: HashMap<(u16, Ipv4Addr), String> = HashMap::new();
    for (port, _, _) in &hashed {
        for c in &clients {
            let a = ask(*c, *port).unwrap_or_else(|e| panic!("{port} {c}: {e}"));
            let b = ask(*c, *port).unwrap();
            assert_eq!(a, b, "{port} {c}: the source address alone is hashed");
            before.insert((*port, *c), a);
        }
        let on_rs1: Vec<u8> = clients
            .iter()
            .filter(|c| before[&(*port, **c)] == "RS1")
            .map(|c| c.octets()[3])
            .collect();
        let kernel = KERNEL_RS1.iter().find(|(p, _)| p == port).unwrap().1;
        assert_eq!(on_rs1, kernel, "{port}: the kernel's picks");
    }
    // The port flags: 20 sockets of one address spread.
    for (port, flagged) in [(62, true), (65, true), (61, false), (64, false)] {
        let answers: Vec<String> = (0..20).map(|_| ask(CLIENT, port).unwrap()).collect();
        let rs1 = answers.iter().filter(|a| *a == "RS1").count();
        if flagged {
            assert!(rs1 > 0 && rs1 < 20, "{port}: ports spread: {answers:?}");
        } else {
            assert!(rs1 == 0 || rs1 == 20, "{port}: one server: {answers:?}");
        }
    }

    // RS1 fails: weight 0 in the four hashed services.
    for (port, _, _) in &hashed {
        run(
            &scratch,
            &[
                "-e",
                "-u",
                &format!("{VIP}:{port}"),
                "-r",
                &format!("{}:{port}", RIPS[0]),
                "-i",
                "-w",
                "0",
            ],
        );
    }
    for (port, _, fallback) in &hashed {
        for c in &clients {
            let was = &before[&(*port, *c)];
            let now = ask(*c, *port);
            match (was.as_str(), fallback) {
                ("RS2", _) => assert_eq!(now.as_deref(), Ok("RS2"), "{port} {c}: stays"),
                (_, true) => assert_eq!(now.as_deref(), Ok("RS2"), "{port} {c}: moved"),
                (_, false) => assert!(
                    now.as_ref().is_err_and(|e| e.contains("refused")),
                    "{port} {c}: no fallback, refused: {now:?}"
                ),
            }
        }
    }
    // The listings: RS1 at weight 0 took no new entry.
    let entries = conn_entries(&list(&scratch, &["-lnc"]));
    let rows = dest_rows(&list(&scratch, &["-ln"]));
    for (port, _, _) in &hashed {
        let svc = format!("{VIP}:{port}");
        let rs1 = format!("{}:{port}", RIPS[0]);
        let on_rs1 = clients
            .iter()
            .filter(|c| before[&(*port, **c)] == "RS1")
            .count();
        let n = entries
            .iter()
            .filter(|e| e.virt == svc && e.dest == rs1)
            .count();
        assert_eq!(
            n,
            2 * on_rs1,
            "{port}: only the first two rounds: {entries:?}"
        );
        assert_eq!(rows[&rs1][0], 0, "{port}: weight 0: {rows:?}");
    }
    drop(lvsd);
}

#[test]
fn one_packet_scheduling_with_nat_replies_are_not_translated() {
    assert!(
        is_root(),
        "this privileged test needs root (network namespaces, XDP): run the suite as root"
    );
    let lab = tun_lab("opsnat", &[]);
    let scratch = Scratch::new("e2e-hash-opsnat");
    // NAT: the real servers' gateway becomes the director (on br1).
    common::lab::sh(&lab.dir, &["route", "del", "10.30.0.0/24"]);
    common::lab::sh(&lab.dir, &["addr", "add", "10.30.0.1/24", "dev", "d1"]);
    for r in &lab.rs {
        common::lab::sh(r, &["route", "replace", "default", "via", "10.30.0.1"]);
    }
    let lvsd = Lvsd::start(&lab.dir, &scratch);
    let _servers = [
        Server::udp(&lab.rs[0], RIPS[0], 53, "RS1"),
        Server::udp(&lab.rs[1], RIPS[1], 53, "RS2"),
        Server::udp(&lab.rs[0], RIPS[0], 54, "RS1"),
        Server::udp(&lab.rs[1], RIPS[1], 54, "RS2"),
    ];
    for (port, args) in [(53u16, &["-s", "rr", "-o"][..]), (54, &["-s", "rr"][..])] {
        let svc = format!("{VIP}:{port}");
        let mut argv = vec!["-A", "-u", &svc];
        argv.extend_from_slice(args);
        run(&scratch, &argv);
        for r in RIPS {
            run(
                &scratch,
                &["-a", "-u", &svc, "-r", &format!("{r}:{port}"), "-m"],
            );
        }
    }
    let got = |port: u16| -> Vec<String> {
        lab.cli
            .run(move || {
                let s = std::net::UdpSocket::bind((CLIENT, 0)).unwrap();
                s.set_read_timeout(Some(std::time::Duration::from_secs(2)))
                    .unwrap();
                let mut buf = [0u8; 64];
                (0..4)
                    .map(|_| {
                        s.send_to(b"who", (VIP, port)).unwrap();
                        match s.recv_from(&mut buf) {
                            Ok((n, peer)) => {
                                format!("{} from {}", String::from_utf8_lossy(&buf[..n]), peer.ip())
                            }
                            Err(e) => format!("{e}"),
                        }
                    })
                    .collect()
            })
            .unwrap()
    };
    // As the 6.1 kernel in the lab (`hash_fallback_ops.out`, "ops:"): each
    // datagram scheduled, the answers un-translated, from the real servers.
    assert_eq!(
        got(53),
        [
            "RS2 from 10.30.0.12",
            "RS1 from 10.30.0.11",
            "RS2 from 10.30.0.12",
            "RS1 from 10.30.0.11"
        ]
    );
    // Without -o: one entry, one server, answers from the VIP.
    let plain = got(54);
    assert!(
        plain == vec!["RS2 from 10.10.0.100"; 4] || plain == vec!["RS1 from 10.10.0.100"; 4],
        "{plain:?}"
    );
    // Conns, InPkts, OutPkts: the kernel's 3-s-later listing shape (n n 0).
    let st = list(&scratch, &["-ln", "--stats"]);
    let row = |svc: &str| -> Vec<u64> {
        st.lines()
            .find(|l| l.contains(svc))
            .unwrap()
            .split_whitespace()
            .filter_map(|w| w.parse().ok())
            .take(3)
            .collect()
    };
    assert_eq!(row(&format!("{VIP}:53")), [4, 4, 0], "{st}");
    assert_eq!(row(&format!("{VIP}:54")), [1, 4, 4], "{st}");
    drop(lvsd);
}

/// Three real servers (RS3 `10.30.0.13`): each client address `NN` of
/// `10.10.0.160..=175` as `NN=SERVER`, before and after RS1 is edited to
/// weight 0, from the real kernel with the same addresses, ports and list
/// order (`crates/lvs-realserver/lab/hash_fallback3.sh`, output in
/// `hash_fallback3.out`).
const KERNEL3: [(u16, &str, &str); 4] = [
    (
        70,
        "160=RS2 161=RS1 162=RS2 163=RS1 164=RS2 165=RS1 166=RS3 167=RS1 168=RS3 169=RS1 170=RS3 171=RS2 172=RS3 173=RS2 174=RS3 175=RS2",
        "160=RS2 161=RS3 162=RS2 163=RS2 164=RS2 165=RS2 166=RS3 167=RS3 168=RS3 169=RS3 170=RS3 171=RS2 172=RS3 173=RS2 174=RS3 175=RS2",
    ),
    (
        71,
        "160=RS2 161=RS1 162=RS2 163=RS1 164=RS2 165=RS1 166=RS3 167=RS1 168=RS3 169=RS1 170=RS3 171=RS2 172=RS3 173=RS2 174=RS3 175=RS2",
        "160=RS2 161=REFUSED 162=RS2 163=REFUSED 164=RS2 165=REFUSED 166=RS3 167=REFUSED 168=RS3 169=REFUSED 170=RS3 171=RS2 172=RS3 173=RS2 174=RS3 175=RS2",
    ),
    (
        73,
        "160=RS2 161=RS1 162=RS3 163=RS3 164=RS1 165=RS1 166=RS1 167=RS3 168=RS3 169=RS2 170=RS3 171=RS1 172=RS1 173=RS1 174=RS3 175=RS2",
        "160=RS2 161=RS2 162=RS3 163=RS3 164=RS2 165=RS3 166=RS3 167=RS3 168=RS3 169=RS2 170=RS3 171=RS3 172=RS2 173=RS2 174=RS3 175=RS2",
    ),
    (
        74,
        "160=RS1 161=RS1 162=RS2 163=RS2 164=RS2 165=RS3 166=RS1 167=RS2 168=RS2 169=RS3 170=RS3 171=RS3 172=RS2 173=RS3 174=RS2 175=RS1",
        "160=REFUSED 161=REFUSED 162=RS2 163=RS2 164=RS2 165=RS3 166=REFUSED 167=RS2 168=RS2 169=RS3 170=RS3 171=RS3 172=RS2 173=RS3 174=RS2 175=REFUSED",
    ),
];

#[test]
fn sh_and_mh_fallback_with_three_servers_pick_as_the_kernel() {
    assert!(
        is_root(),
        "this privileged test needs root (network namespaces, XDP, tc): run the suite as root"
    );
    let clients: Vec<Ipv4Addr> = (160..176).map(|i| Ipv4Addr::new(10, 10, 0, i)).collect();
    let (lab, scratch) = setup("sh3", &clients);
    let rs3_ip = Ipv4Addr::new(10, 30, 0, 13);
    let rs3 = extra_rs(&lab, "sh3", rs3_ip);
    realserver_setup(
        &scratch,
        &rs3,
        &["--mode", "tun", "--vip", &VIP.to_string(), "--dev", "r0"],
    );
    let lvsd = Lvsd::start(&lab.dir, &scratch);
    let ports = [70u16, 71, 73, 74];
    let mut servers = servers(&lab, &ports);
    for p in ports {
        servers.push(Server::udp(&rs3, VIP, p, "RS3"));
    }
    let rips = [RIPS[0], RIPS[1], rs3_ip];
    for (port, args) in [
        (70u16, &["-s", "sh", "-b", "sh-fallback"][..]),
        (71, &["-s", "sh"][..]),
        (73, &["-s", "mh", "-b", "mh-fallback"][..]),
        (74, &["-s", "mh"][..]),
    ] {
        let svc = format!("{VIP}:{port}");
        let mut argv = vec!["-A", "-u", &svc];
        argv.extend_from_slice(args);
        run(&scratch, &argv);
        for r in rips {
            run(
                &scratch,
                &["-a", "-u", &svc, "-r", &format!("{r}:{port}"), "-i"],
            );
        }
    }
    let picks = |port: u16| -> String {
        clients
            .iter()
            .map(|c| {
                let c = *c;
                let a = lab
                    .cli
                    .run(move || udp_ask(c, SocketAddr::new(VIP.into(), port)).map(|(a, _)| a))
                    .unwrap();
                let a = match a {
                    Ok(a) => a,
                    Err(e) if e.contains("refused") => "REFUSED".to_string(),
                    Err(_) => "TIMEOUT".to_string(),
                };
                format!("{}={a}", c.octets()[3])
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    let before: Vec<String> = ports.iter().map(|p| picks(*p)).collect();
    for p in ports {
        run(
            &scratch,
            &[
                "-e",
                "-u",
                &format!("{VIP}:{p}"),
                "-r",
                &format!("{}:{p}", RIPS[0]),
                "-i",
                "-w",
                "0",
            ],
        );
    }
    let after: Vec<String> = ports.iter().map(|p| picks(*p)).collect();
    for (i, (port, kb, ka)) in KERNEL3.iter().enumerate() {
        assert_eq!(before[i], *kb, "{port}: before");
        assert_eq!(after[i], *ka, "{port}: after RS1 weight 0");
    }
    drop(servers);
    drop(lvsd);
}
