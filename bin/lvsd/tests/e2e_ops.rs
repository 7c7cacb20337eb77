#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

//! End to end, issue #4's operational labs: a UDP service, weight-0 drain,
//! `-x/-y` thresholds, `-p` persistence with `-M`, and `-e/-d/-D/-a/-A/-C`
//! while traffic flows. Real TCP/UDP between network namespaces created
//! here (the seed 000 §1 NAT lab of [`common::ops::NatLab`], namespaces
//! `lvsd-e2e-PID-a-*`, deleted by name by their guards, also on failure),
//! through the real `lvsd` configured with the real `lvsadm` as `ipvsadm`.
//! Each test asserts on what the client received and on the listings.
//!
//! Kernel behaviour mirrored (IPVS, `ip_vs_core.c`, `ip_vs_conn.c`,
//! `ip_vs_ctl.c`, `ip_vs_rr.c`, `ip_vs_wrr.c`, `ip_vs_proto_tcp.c`):
//! - **List order**: a service's real servers are kept newest first
//!   (`list_add` in `__ip_vs_update_dest`; the seed's own listing shows the
//!   second server first), so `rr` starts with the server added last.
//! - **UDP**: every datagram from a new client `ip:port` makes a new
//!   connection (state `UDP` in `-lnc`), scheduled by the service's
//!   scheduler and counted inactive (UDP has no active state); the reply is
//!   NATed back. `wrr` with weights 1 then 2: the adds leave the current
//!   weight at 1, so the first sweep is RS2, RS1 (list order), then the
//!   sweeps at 2 and 1 give RS2, then RS2, RS1, ...: period RS2, RS1, RS2,
//!   so 9 requests split 3 / 6 in that order. `--stats` counts one
//!   connection, one packet in and one out per request, and the IP length
//!   of each datagram as bytes.
//! - **Weight 0** quiesces a real server: the schedulers skip it for new
//!   connections, but its established connections are untouched (only
//!   `expire_nodest_conn` concerns removed servers, not weight 0); the
//!   listing keeps counting them as ActiveConn (state ESTABLISHED) until
//!   the client's RST moves them to CLOSE (inactive).
//! - **Thresholds**: binding a connection sets OVERLOAD when `-x` is
//!   non-zero and ActiveConn + InActConn reaches it; the schedulers skip an
//!   overloaded server. Unbinding (the entry expires: CLOSE after 10 s)
//!   clears it when the total falls below `-y`, or, when `-y` is 0, when
//!   `total * 4 < x * 3` (with `-x 4`: at 2, not at 3; with `-x 3 -y 2`:
//!   at 1, not at 2 where the 3/4 rule would). `rr` resumes after the last
//!   server it picked.
//! - **Persistence**: a persistent service (`-p T -M MASK`) schedules the
//!   first connection of a client network (`caddr & MASK`) and keeps a
//!   template `<caddr & MASK:0, VIP:port> → RS` (counted in PersistConn;
//!   `-lnc` state `NONE` when made, `ASSURED` once a TCP connection it
//!   controls reached ESTABLISHED, as here); later connections of the same
//!   network, from any address or port, follow the template without running
//!   the scheduler, while another network gets its own scheduling (`rr`:
//!   the next server).
//! - **Live changes**: `-e` and `-E` apply to new connections; after
//!   `-d RS` no new connection is scheduled to it; after `-D` or `-C` the
//!   VIP:port is no service: a SYN reaches the director's own stack, which
//!   refuses it (RST: "connection refused", at once); `-R` (atomic) brings
//!   the service back. Requests in flight across a change are not judged
//!   (the kernel drops their packets once their server is gone; lvsd
//!   differs for `-D`/`-C`, see docs/e2e-labs.md).

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::lab::{HttpServer, Lvsd, sh, stats_column};
use common::ops::{
    NAT_CLIENT, NAT_RIPS, NAT_VIP, NatLab, Server, Session, all_from, conn_entries, dest_rows,
    get_from, nat_lab, udp_ask,
};
use common::{Scratch, ipvsadm, ipvsadm_in, is_root, wait_until};

fn run(scratch: &Scratch, argv: &[&str]) {
    let out = ipvsadm(scratch, argv);
    assert_eq!(out.code, 0, "ipvsadm {argv:?}: {}", out.stderr);
}

fn list(scratch: &Scratch, argv: &[&str]) -> String {
    let out = ipvsadm(scratch, argv);
    assert_eq!(out.code, 0, "ipvsadm {argv:?}: {}", out.stderr);
    out.stdout
}

fn root() {
    assert!(
        is_root(),
        "this privileged test needs root (network namespaces, XDP): run the suite as root"
    );
}

fn start(tag: &str, extra: &[Ipv4Addr]) -> (NatLab, Scratch, Lvsd) {
    root();
    let lab = nat_lab(tag, extra);
    let scratch = Scratch::new(&format!("e2e-ops-{tag}"));
    let lvsd = Lvsd::start(&lab.dir, &scratch);
    (lab, scratch, lvsd)
}

fn rip(i: usize, port: u16) -> String {
    format!("{}:{port}", NAT_RIPS[i])
}

#[test]
fn udp_service_wrr_1_2_splits_and_lists_udp_entries() {
    let (lab, scratch, lvsd) = start("udp", &[]);
    let servers = [
        Server::udp(&lab.rs[0], NAT_RIPS[0], 53, "RS1"),
        Server::udp(&lab.rs[1], NAT_RIPS[1], 53, "RS2"),
    ];
    let svc = format!("{NAT_VIP}:53");
    run(&scratch, &["-A", "-u", &svc, "-s", "wrr"]);
    run(
        &scratch,
        &["-a", "-u", &svc, "-r", &rip(0, 53), "-m", "-w", "1"],
    );
    run(
        &scratch,
        &["-a", "-u", &svc, "-r", &rip(1, 53), "-m", "-w", "2"],
    );

    let dst = SocketAddr::new(NAT_VIP.into(), 53);
    let ask = |n: usize| -> Vec<(String, SocketAddr)> {
        lab.cli
            .run(|| (0..n).map(|_| udp_ask(NAT_CLIENT, dst)).collect::<Vec<_>>())
            .unwrap()
            .into_iter()
            .map(|a| a.unwrap_or_else(|e| panic!("{e}; lvsd log:\n{}", lvsd.log_text())))
            .collect()
    };
    let names = |v: &[(String, SocketAddr)]| v.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    // The director forgets every MAC: the first datagram to each server
    // and the first reply to the client wait (lvsd holds them while the
    // kernel resolves) and are counted once all the same.
    sh(&lab.dir, &["neigh", "flush", "all"]);
    // After the adds cw is 1: RS2, RS1 (newest first), then the sweeps
    // at cw 2 and 1 give RS2, then RS2, RS1, and so on: period 3.
    let answers = ask(9);
    assert_eq!(
        names(&answers),
        [
            "RS2", "RS1", "RS2", "RS2", "RS1", "RS2", "RS2", "RS1", "RS2"
        ],
        "wrr 1:2 order"
    );
    for (s, n) in servers.iter().zip([3, 6]) {
        let seen = s.seen();
        assert_eq!(seen.len(), n, "{seen:?}");
        assert!(
            all_from(&seen, NAT_CLIENT),
            "NAT keeps the client: {seen:?}"
        );
    }

    // 9 connections, one datagram each way; 20 + 8 + 3 bytes each.
    let text = list(&scratch, &["-ln", "--stats"]);
    let expect = [(svc.as_str(), 9), (&rip(0, 53), 3), (&rip(1, 53), 6)];
    for (addr, n) in expect {
        assert_eq!(
            stats_column(&text, addr, 0),
            Some(n),
            "conns {addr}\n{text}"
        );
        assert_eq!(
            stats_column(&text, addr, 1),
            Some(n),
            "inpkts {addr}\n{text}"
        );
        assert_eq!(
            stats_column(&text, addr, 2),
            Some(n),
            "outpkts {addr}\n{text}"
        );
        assert_eq!(
            stats_column(&text, addr, 3),
            Some(31 * n),
            "inbytes {addr}\n{text}"
        );
        assert_eq!(
            stats_column(&text, addr, 4),
            Some(31 * n),
            "outbytes {addr}\n{text}"
        );
    }

    // UDP connections have no active state: all inactive (the lab's 6.1
    // kernel lists a fresh UDP entry as `Masq 1 0 1`).
    let rows = dest_rows(&list(&scratch, &["-ln"]));
    assert_eq!(rows[&rip(0, 53)], [1, 0, 3], "weight, active, inactive");
    assert_eq!(rows[&rip(1, 53)], [2, 0, 6], "weight, active, inactive");

    // One UDP entry per client socket, to the server that answered it.
    let entries = conn_entries(&list(&scratch, &["-lnc"]));
    assert_eq!(entries.len(), 9, "{entries:?}");
    for (name, local) in &answers {
        let i = usize::from(name == "RS2");
        let e = entries
            .iter()
            .find(|e| e.source == local.to_string())
            .unwrap_or_else(|| panic!("no entry for {local}: {entries:?}"));
        assert_eq!(
            (e.proto.as_str(), e.state.as_str(), e.virt.as_str()),
            ("UDP", "UDP", svc.as_str())
        );
        assert_eq!(e.dest, rip(i, 53), "{e:?}");
    }
    drop(servers);
}

#[test]
fn weight_0_drains_rs1_established_connection_keeps_working() {
    let (lab, scratch, lvsd) = start("drain", &[]);
    let servers = [
        Server::lines(&lab.rs[0], NAT_RIPS[0], 80, "RS1"),
        Server::lines(&lab.rs[1], NAT_RIPS[1], 80, "RS2"),
    ];
    let svc = format!("{NAT_VIP}:80");
    let dst = SocketAddr::new(NAT_VIP.into(), 80);
    // RS2 added first: the list is newest first, so rr's first pick is RS1.
    run(&scratch, &["-A", "-t", &svc, "-s", "rr"]);
    run(
        &scratch,
        &["-a", "-t", &svc, "-r", &rip(1, 80), "-m", "-w", "1"],
    );
    run(
        &scratch,
        &["-a", "-t", &svc, "-r", &rip(0, 80), "-m", "-w", "1"],
    );

    let mut long = Session::open(&lab.cli, None, dst)
        .unwrap_or_else(|e| panic!("{e}; lvsd log:\n{}", lvsd.log_text()));
    assert_eq!(long.ask().as_deref(), Ok("RS1"));
    let rows = dest_rows(&list(&scratch, &["-ln"]));
    assert_eq!(rows[&rip(0, 80)], [1, 1, 0], "weight, active, inactive");

    run(
        &scratch,
        &["-e", "-t", &svc, "-r", &rip(0, 80), "-m", "-w", "0"],
    );
    for _ in 0..3 {
        assert_eq!(long.ask().as_deref(), Ok("RS1"), "drained, not cut");
    }
    for _ in 0..6 {
        let mut s = Session::open(&lab.cli, None, dst).unwrap();
        assert_eq!(
            s.ask().as_deref(),
            Ok("RS2"),
            "new connections avoid weight 0"
        );
        s.reset();
    }
    assert_eq!(long.ask().as_deref(), Ok("RS1"));
    // The six closed with a RST: CLOSE, inactive for 10 s.
    let ok = wait_until(|| {
        let rows = dest_rows(&list(&scratch, &["-ln"]));
        rows[&rip(0, 80)] == [0, 1, 0] && rows[&rip(1, 80)] == [1, 0, 6]
    });
    assert!(ok, "{}", list(&scratch, &["-ln"]));
    let seen0 = servers[0].seen();
    assert_eq!(seen0.len(), 1, "{seen0:?}");
    assert_eq!(seen0[0], long.local);

    long.reset();
    let ok = wait_until(|| dest_rows(&list(&scratch, &["-ln"]))[&rip(0, 80)] == [0, 0, 1]);
    assert!(ok, "RS1's connection closed: {}", list(&scratch, &["-ln"]));
    assert_eq!(servers[1].seen().len(), 6);
    drop(servers);
}

#[test]
fn threshold_x4_overloads_rs1_and_clears_below_three_quarters() {
    let (lab, scratch, lvsd) = start("thr", &[]);
    let servers = [
        Server::lines(&lab.rs[0], NAT_RIPS[0], 80, "RS1"),
        Server::lines(&lab.rs[1], NAT_RIPS[1], 80, "RS2"),
    ];
    let svc = format!("{NAT_VIP}:80");
    let dst = SocketAddr::new(NAT_VIP.into(), 80);
    run(&scratch, &["-A", "-t", &svc, "-s", "rr"]);
    run(
        &scratch,
        &["-a", "-t", &svc, "-r", &rip(0, 80), "-m", "-x", "4"],
    );
    run(&scratch, &["-a", "-t", &svc, "-r", &rip(1, 80), "-m"]);
    let thr = dest_rows(&list(&scratch, &["-ln", "--thresholds"]));
    assert_eq!(
        thr[&rip(0, 80)],
        [4, 0, 0, 0],
        "upper, lower, active, inactive"
    );
    assert_eq!(thr[&rip(1, 80)], [0, 0, 0, 0]);

    let open = |n: usize| -> Vec<(String, Session)> {
        (0..n)
            .map(|_| {
                let mut s = Session::open(&lab.cli, None, dst)
                    .unwrap_or_else(|e| panic!("{e}; lvsd log:\n{}", lvsd.log_text()));
                (s.ask().unwrap(), s)
            })
            .collect()
    };
    let names = |v: &[(String, Session)]| v.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    let rows = || dest_rows(&list(&scratch, &["-ln"]));

    // rr alternates in list order (newest first: RS2, RS1) until RS1
    // holds 4 connections: then it is overloaded.
    let mut first = open(8);
    assert_eq!(
        names(&first),
        ["RS2", "RS1", "RS2", "RS1", "RS2", "RS1", "RS2", "RS1"]
    );
    let over = open(3);
    assert_eq!(names(&over), ["RS2", "RS2", "RS2"], "RS1 overloaded at 4");
    assert_eq!(rows()[&rip(0, 80)], [1, 4, 0]);

    // 3 left: 3 * 4 = 12 is not below 4 * 3, still overloaded.
    let i = first.iter().position(|(n, _)| n == "RS1").unwrap();
    first.remove(i).1.reset();
    assert!(
        wait_until(|| rows()[&rip(0, 80)] == [1, 3, 0]),
        "the reset entry expires (CLOSE, 10 s): {}",
        list(&scratch, &["-ln"])
    );
    let still = open(2);
    assert_eq!(names(&still), ["RS2", "RS2"], "hysteresis: 3 of 4");

    // 2 left: 8 < 12, OVERLOAD cleared; rr goes on after RS2.
    let i = first.iter().position(|(n, _)| n == "RS1").unwrap();
    first.remove(i).1.reset();
    assert!(
        wait_until(|| rows()[&rip(0, 80)] == [1, 2, 0]),
        "{}",
        list(&scratch, &["-ln"])
    );
    let again = open(5);
    assert_eq!(
        names(&again),
        ["RS1", "RS2", "RS1", "RS2", "RS2"],
        "RS1 used again, overloaded again at 4"
    );
    let thr = dest_rows(&list(&scratch, &["-ln", "--thresholds"]));
    assert_eq!(thr[&rip(0, 80)], [4, 0, 4, 0]);
    // Every session is still served by its own server.
    let mut again = again;
    for (name, s) in first.iter_mut().chain(again.iter_mut()) {
        assert_eq!(s.ask().as_deref(), Ok(name.as_str()));
    }
    assert_eq!(servers[0].seen().len(), 6);
    drop((first, over, still, again));
    drop(servers);
}

#[test]
fn threshold_x3_y2_clears_only_below_the_lower_threshold() {
    let (lab, scratch, lvsd) = start("thry", &[]);
    let servers = [
        Server::lines(&lab.rs[0], NAT_RIPS[0], 80, "RS1"),
        Server::lines(&lab.rs[1], NAT_RIPS[1], 80, "RS2"),
    ];
    let svc = format!("{NAT_VIP}:80");
    let dst = SocketAddr::new(NAT_VIP.into(), 80);
    run(&scratch, &["-A", "-t", &svc, "-s", "rr"]);
    run(
        &scratch,
        &[
            "-a",
            "-t",
            &svc,
            "-r",
            &rip(0, 80),
            "-m",
            "-x",
            "3",
            "-y",
            "2",
        ],
    );
    run(&scratch, &["-a", "-t", &svc, "-r", &rip(1, 80), "-m"]);
    let thr = dest_rows(&list(&scratch, &["-ln", "--thresholds"]));
    assert_eq!(
        thr[&rip(0, 80)],
        [3, 2, 0, 0],
        "upper, lower, active, inactive"
    );

    let open = |n: usize| -> Vec<(String, Session)> {
        (0..n)
            .map(|_| {
                let mut s = Session::open(&lab.cli, None, dst)
                    .unwrap_or_else(|e| panic!("{e}; lvsd log:\n{}", lvsd.log_text()));
                (s.ask().unwrap(), s)
            })
            .collect()
    };
    let names = |v: &[(String, Session)]| v.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    let rows = || dest_rows(&list(&scratch, &["-ln"]));
    let close_one_rs1 = |v: &mut Vec<(String, Session)>| {
        let i = v.iter().position(|(n, _)| n == "RS1").unwrap();
        v.remove(i).1.reset();
    };

    let mut first = open(6);
    assert_eq!(names(&first), ["RS2", "RS1", "RS2", "RS1", "RS2", "RS1"]);
    let over = open(2);
    assert_eq!(names(&over), ["RS2", "RS2"], "RS1 overloaded at 3");

    // 2 left: not below -y 2 (the 3/4 rule alone would clear: 8 < 9).
    close_one_rs1(&mut first);
    assert!(
        wait_until(|| rows()[&rip(0, 80)] == [1, 2, 0]),
        "{}",
        list(&scratch, &["-ln"])
    );
    let still = open(2);
    assert_eq!(names(&still), ["RS2", "RS2"], "2 is not below -y 2");

    // 1 left: below -y 2, cleared.
    close_one_rs1(&mut first);
    assert!(
        wait_until(|| rows()[&rip(0, 80)] == [1, 1, 0]),
        "{}",
        list(&scratch, &["-ln"])
    );
    let again = open(5);
    assert_eq!(
        names(&again),
        ["RS1", "RS2", "RS1", "RS2", "RS2"],
        "RS1 used again, overloaded again at 3"
    );
    assert_eq!(servers[0].seen().len(), 3 + 2);
    drop((first, over, still, again));
    drop(servers);
}

#[test]
fn persistence_with_netmask_keeps_a_slash_24_on_one_server() {
    let a = NAT_CLIENT;
    let b = Ipv4Addr::new(172, 16, 10, 23);
    let c = Ipv4Addr::new(172, 16, 20, 22);
    let (lab, scratch, lvsd) = start("pers", &[b, c]);
    let servers = [
        HttpServer::start(&lab.rs[0], NAT_RIPS[0], "from RS1"),
        HttpServer::start(&lab.rs[1], NAT_RIPS[1], "from RS2"),
    ];
    let svc = format!("{NAT_VIP}:80");
    let dst = SocketAddr::new(NAT_VIP.into(), 80);
    run(
        &scratch,
        &[
            "-A",
            "-t",
            &svc,
            "-s",
            "rr",
            "-p",
            "60",
            "-M",
            "255.255.255.0",
        ],
    );
    run(&scratch, &["-a", "-t", &svc, "-r", &rip(0, 80), "-m"]);
    run(&scratch, &["-a", "-t", &svc, "-r", &rip(1, 80), "-m"]);
    let plain = list(&scratch, &["-ln"]);
    assert!(
        plain.lines().any(|l| l.contains(&svc)
            && l.split_whitespace().collect::<Vec<_>>().join(" ")
                == format!("TCP {svc} rr persistent 60 mask 255.255.255.0")),
        "{plain}"
    );

    let order = [a, a, b, b, c, c, c, b, a];
    let answers: Vec<String> = lab
        .cli
        .run(|| {
            order
                .iter()
                .map(|src| get_from(Some(*src), dst))
                .collect::<Vec<_>>()
        })
        .unwrap()
        .into_iter()
        .map(|r| r.unwrap_or_else(|e| panic!("{e:?}; lvsd log:\n{}", lvsd.log_text())))
        .collect();
    // A's network got rr's first pick (the newest server, RS2); C's
    // network the next one.
    let expect: Vec<&str> = order
        .iter()
        .map(|s| if *s == c { "from RS1" } else { "from RS2" })
        .collect();
    assert_eq!(answers, expect, "sources {order:?}");
    let peers1 = servers[1].peers.lock().unwrap().clone();
    let peers2 = servers[0].peers.lock().unwrap().clone();
    assert_eq!(peers1.len(), 6, "{peers1:?}");
    assert!(peers1.contains(&a.into()) && peers1.contains(&b.into()));
    assert!(peers1.iter().all(|p| *p == a || *p == b), "{peers1:?}");
    assert_eq!(peers2, vec![std::net::IpAddr::from(c); 3]);

    let entries = conn_entries(&list(&scratch, &["-lnc"]));
    let mut templates: Vec<(String, String)> = entries
        .iter()
        .filter(|e| e.source.ends_with(":0"))
        .map(|e| {
            assert_eq!(
                (e.proto.as_str(), e.state.as_str(), e.virt.as_str()),
                ("TCP", "ASSURED", svc.as_str())
            );
            (e.source.clone(), e.dest.clone())
        })
        .collect();
    templates.sort();
    assert_eq!(
        templates,
        [
            ("172.16.10.0:0".to_string(), rip(1, 80)),
            ("172.16.20.0:0".to_string(), rip(0, 80))
        ],
        "{entries:?}"
    );
    assert_eq!(entries.len(), 2 + order.len(), "{entries:?}");
    let pc = dest_rows(&list(&scratch, &["-ln", "--persistent-conn"]));
    assert_eq!(pc[&rip(0, 80)].get(1), Some(&1), "PersistConn {pc:?}");
    assert_eq!(pc[&rip(1, 80)].get(1), Some(&1), "PersistConn {pc:?}");
    drop(servers);
}

/// One request of the background loop: the phase when it started, the
/// phase when it ended, and what the client got.
type Record = (usize, usize, Result<String, (std::io::ErrorKind, String)>);

#[test]
fn live_edit_delete_clear_and_re_add_while_requests_flow() {
    let (lab, scratch, mut lvsd) = start("live", &[]);
    let servers = [
        Server::http(&lab.rs[0], NAT_RIPS[0], "from RS1"),
        Server::http(&lab.rs[1], NAT_RIPS[1], "from RS2"),
    ];
    let svc = format!("{NAT_VIP}:80");
    let dst = SocketAddr::new(NAT_VIP.into(), 80);
    let table = format!(
        "-A -t {svc} -s wrr\n-a -t {svc} -r {} -m -w 1\n-a -t {svc} -r {} -m -w 1\n",
        rip(0, 80),
        rip(1, 80)
    );
    let restore = |text: &str| {
        let out = ipvsadm_in(&scratch, &["-R"], text);
        assert_eq!(out.code, 0, "ipvsadm -R: {}", out.stderr);
    };
    restore(&table);

    let phase = AtomicUsize::new(0);
    let done = usize::MAX;
    let between = usize::MAX - 1;
    let records: Mutex<Vec<Record>> = Mutex::new(Vec::new());
    // In phase `p`, at least `n` requests that started in it have ended.
    let settled = |p: usize, n: usize| {
        wait_until(|| {
            let r = records.lock().unwrap();
            r.iter().filter(|(s, e, _)| *s == p && *e == p).count() >= n
        })
    };
    std::thread::scope(|sc| {
        sc.spawn(|| {
            lab.cli
                .run(|| {
                    let deadline = Instant::now() + Duration::from_secs(60);
                    for _ in 0..5000 {
                        let p = phase.load(Ordering::SeqCst);
                        if p == done || Instant::now() > deadline {
                            break;
                        }
                        let r = get_from(None, dst);
                        let e = phase.load(Ordering::SeqCst);
                        records.lock().unwrap().push((p, e, r));
                        std::thread::sleep(Duration::from_millis(5));
                    }
                })
                .unwrap();
        });
        let step = |p: usize, argv: &[&str]| {
            if !argv.is_empty() {
                // Requests that overlap the change belong to no phase.
                phase.store(between, Ordering::SeqCst);
                run(&scratch, argv);
            }
            phase.store(p, Ordering::SeqCst);
            let ok = settled(p, 8);
            if !ok {
                phase.store(done, Ordering::SeqCst);
            }
            assert!(
                ok,
                "phase {p} got no answers; lvsd log:\n{}",
                lvsd.log_text()
            );
        };
        // The service line's scheduler and the real servers' weights.
        let table_is = |sched: &str, weights: &[(usize, u64)]| {
            let plain = list(&scratch, &["-ln"]);
            let line = format!("TCP {svc} {sched}");
            assert!(
                plain
                    .lines()
                    .any(|l| l.split_whitespace().collect::<Vec<_>>().join(" ") == line),
                "{plain}"
            );
            let rows = dest_rows(&plain);
            assert_eq!(rows.len(), weights.len(), "{plain}");
            for (i, w) in weights {
                assert_eq!(rows[&rip(*i, 80)].first(), Some(w), "{plain}");
            }
        };
        step(0, &[]);
        table_is("wrr", &[(0, 1), (1, 1)]);
        step(1, &["-e", "-t", &svc, "-r", &rip(0, 80), "-m", "-w", "3"]);
        table_is("wrr", &[(0, 3), (1, 1)]);
        step(2, &["-E", "-t", &svc, "-s", "rr"]);
        table_is("rr", &[(0, 3), (1, 1)]);
        step(3, &["-d", "-t", &svc, "-r", &rip(0, 80)]);
        table_is("rr", &[(1, 1)]);
        step(4, &["-D", "-t", &svc]);
        let plain = list(&scratch, &["-ln"]);
        assert!(!plain.contains(&svc), "{plain}");
        phase.store(between, Ordering::SeqCst);
        restore(&table);
        step(5, &[]);
        table_is("wrr", &[(0, 1), (1, 1)]);
        step(6, &["-C"]);
        assert!(!list(&scratch, &["-ln"]).contains("TCP"));
        phase.store(between, Ordering::SeqCst);
        restore(&table);
        step(7, &[]);
        table_is("wrr", &[(0, 1), (1, 1)]);
        phase.store(done, Ordering::SeqCst);
    });

    let records = records.into_inner().unwrap();
    let in_phase = |p: usize| {
        records
            .iter()
            .filter(move |(s, e, _)| *s == p && *e == p)
            .map(|(_, _, r)| r)
    };
    let body = |r: &Result<String, (std::io::ErrorKind, String)>| r.as_ref().ok().cloned();
    let from = |p: usize, name: &str| {
        in_phase(p)
            .filter(|r| body(r).as_deref() == Some(name))
            .count()
    };
    for p in [0, 1, 2, 3, 5, 7] {
        let failures: Vec<_> = in_phase(p).filter(|r| r.is_err()).collect();
        assert!(
            failures.is_empty(),
            "phase {p}: {failures:?}; lvsd log:\n{}",
            lvsd.log_text()
        );
    }
    for p in [0, 1, 2, 5, 7] {
        assert!(
            from(p, "from RS1") > 0 && from(p, "from RS2") > 0,
            "phase {p}"
        );
    }
    assert_eq!(
        from(3, "from RS1"),
        0,
        "no new connection to a deleted server"
    );
    for p in [4, 6] {
        let got: Vec<_> = in_phase(p).collect();
        assert!(
            got.iter()
                .all(|r| matches!(r, Err((std::io::ErrorKind::ConnectionRefused, _)))),
            "phase {p}: the VIP is no service, the director refuses: {got:?}"
        );
    }
    // Every connection a server saw was answered to the client, but for
    // requests cut by a change (in flight across a phase boundary).
    let cut = records
        .iter()
        .filter(|(s, e, r)| (s != e || *s == between) && r.is_err())
        .count();
    for (s, name) in servers.iter().zip(["from RS1", "from RS2"]) {
        let answered = records
            .iter()
            .filter(|(_, _, r)| body(r).as_deref() == Some(name))
            .count();
        let seen = s.seen().len();
        assert!(
            answered <= seen && seen <= answered + cut,
            "{name}: seen {seen}, answered {answered}, cut {cut}"
        );
    }
    let text = list(&scratch, &["-ln", "--stats"]);
    let (r1, r2) = (from(7, "from RS1"), from(7, "from RS2"));
    assert!(
        stats_column(&text, &svc, 0).unwrap() >= (r1 + r2) as u64,
        "{text}"
    );
    assert!(lvsd.child.try_wait().unwrap().is_none(), "lvsd alive");
    let status = lvsd.terminate();
    assert!(status.is_some_and(|s| s.success()), "{}", lvsd.log_text());
    drop(servers);
}
