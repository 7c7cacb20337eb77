#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

//! `lvsd --metrics`: the real daemon, in the director namespace of the
//! NAT lab ([`common::ops::NatLab`], namespaces `lvsd-e2e-PID-a-mt-*`,
//! deleted by name by their guards, also on failure), serves
//! `http://127.0.0.1:9917/metrics` inside that namespace; the scrape is made
//! from a thread that entered it. After real traffic (TCP through a NAT
//! service with two real servers, UDP through a persistent service), every
//! number the scrape gives for a service or a real server equals what the
//! real `lvsadm` as `ipvsadm` lists: `-ln --stats --exact` (connections,
//! packets, bytes), `-ln` (weight, ActiveConn, InActConn),
//! `--persistent-conn` (PersistConn), and the connection table of `-lnc`
//! (entries, templates). With a keepalived.conf, the health-check series
//! equal `lvsadm health --json`. Bounded: every wait has a deadline.

mod common;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use common::lab::Lvsd;
use common::ops::{NAT_CLIENT, NAT_RIPS, NAT_VIP, Server, get_from, nat_lab, udp_ask};
use common::{Scratch, client_with, ipvsadm, is_root, wait_until};
use lvs_proto::VsHealth;

const METRICS: &str = "127.0.0.1:9917";

fn list(scratch: &Scratch, argv: &[&str]) -> String {
    let out = ipvsadm(scratch, argv);
    assert_eq!(out.code, 0, "ipvsadm {argv:?}: {}", out.stderr);
    out.stdout
}

/// One HTTP/1.1 request to the metrics listener (in the caller's
/// namespace): status line and body.
fn http(request: &str) -> (String, String) {
    let addr: SocketAddr = METRICS.parse().unwrap();
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(3)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let (head, body) = resp.split_once("\r\n\r\n").unwrap();
    (head.to_string(), body.to_string())
}

/// Sample lines of a scrape: `name{labels}` → value.
fn samples(text: &str) -> HashMap<String, u64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            let (k, v) = l.rsplit_once(' ').unwrap();
            (k.to_string(), v.parse().unwrap())
        })
        .collect()
}

/// The numbers after `addr` on its listing line.
fn row(listing: &str, addr: &str) -> Vec<u64> {
    listing
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let i = f.iter().position(|w| *w == addr)?;
            Some(f[i + 1..].iter().filter_map(|w| w.parse().ok()).collect())
        })
        .unwrap_or_else(|| panic!("no line for {addr} in\n{listing}"))
}

#[test]
fn scrape_equals_ipvsadm_listings() {
    assert!(
        is_root(),
        "this privileged test needs root (network namespaces, XDP): run the suite as root"
    );
    let lab = nat_lab("mt", &[]);
    let scratch = Scratch::new("metrics");
    let lvsd = Lvsd::start_with(&lab.dir, &scratch, &["--metrics", METRICS]);
    let _servers = [
        Server::http(&lab.rs[0], NAT_RIPS[0], "RS1"),
        Server::http(&lab.rs[1], NAT_RIPS[1], "RS2"),
        Server::udp(&lab.rs[0], NAT_RIPS[0], 53, "RS1"),
    ];
    let tcp = format!("{NAT_VIP}:80");
    let udp = format!("{NAT_VIP}:53");
    let rs = |i: usize, port: u16| format!("{}:{port}", NAT_RIPS[i]);
    for argv in [
        vec!["-A", "-t", &tcp, "-s", "rr"],
        vec!["-a", "-t", &tcp, "-r", &rs(0, 80), "-m", "-w", "1"],
        vec!["-a", "-t", &tcp, "-r", &rs(1, 80), "-m", "-w", "3"],
        vec!["-A", "-u", &udp, "-s", "wlc", "-p", "120"],
        vec!["-a", "-u", &udp, "-r", &rs(0, 53), "-m", "-w", "2"],
    ] {
        list(&scratch, &argv);
    }

    // Traffic: 5 HTTP requests, 3 datagrams from fresh ports.
    let dst = SocketAddr::new(NAT_VIP.into(), 80);
    let answers = lab
        .cli
        .run(|| {
            (0..5)
                .map(|_| get_from(Some(NAT_CLIENT), dst))
                .collect::<Vec<_>>()
        })
        .unwrap();
    for a in answers {
        a.unwrap_or_else(|e| panic!("{e:?}; lvsd log:\n{}", lvsd.log_text()));
    }
    let dst = SocketAddr::new(NAT_VIP.into(), 53);
    let asked = lab
        .cli
        .run(|| (0..3).map(|_| udp_ask(NAT_CLIENT, dst)).collect::<Vec<_>>())
        .unwrap();
    for a in asked {
        a.unwrap_or_else(|e| panic!("{e}; lvsd log:\n{}", lvsd.log_text()));
    }

    // The closing segments may still be on their way: wait for a listing
    // that stays the same, then scrape, then list again (equal too).
    let stats = ["-ln", "--stats", "--exact"];
    let mut before = list(&scratch, &stats);
    assert!(wait_until(|| {
        std::thread::sleep(Duration::from_millis(100));
        let now = list(&scratch, &stats);
        std::mem::replace(&mut before, now) == before
    }));
    let (head, body) = lab
        .dir
        .run(|| http("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"))
        .unwrap();
    let after = list(&scratch, &stats);
    assert_eq!(before, after, "traffic during the scrape");
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    assert!(
        head.contains("Content-Type: application/openmetrics-text"),
        "{head}"
    );
    let s = samples(&body);
    let get = |k: String| -> u64 {
        *s.get(&k)
            .unwrap_or_else(|| panic!("no sample {k} in the scrape:\n{body}"))
    };

    // --stats: Conns InPkts OutPkts InBytes OutBytes.
    let names = [
        "connections_total",
        "in_packets_total",
        "out_packets_total",
        "in_bytes_total",
        "out_bytes_total",
    ];
    let svc_tcp = format!(r#"protocol="tcp",vip="{NAT_VIP}",port="80""#);
    let svc_udp = format!(r#"protocol="udp",vip="{NAT_VIP}",port="53""#);
    let server = |svc: &str, i: usize, port: u16| {
        format!(
            r#"{svc},rip="{}",rport="{port}",method="masq""#,
            NAT_RIPS[i]
        )
    };
    let rows = [
        ("service", svc_tcp.clone(), tcp.clone()),
        ("server", server(&svc_tcp, 0, 80), rs(0, 80)),
        ("server", server(&svc_tcp, 1, 80), rs(1, 80)),
        ("service", svc_udp.clone(), udp.clone()),
        ("server", server(&svc_udp, 0, 53), rs(0, 53)),
    ];
    for (kind, labels, addr) in &rows {
        let want = row(&after, addr);
        assert_eq!(want.len(), 5, "{addr}: {after}");
        for (name, v) in names.iter().zip(&want) {
            assert_eq!(
                get(format!("lvs_{kind}_{name}{{{labels}}}")),
                *v,
                "lvs_{kind}_{name} of {addr}\n{after}"
            );
        }
    }
    // The traffic was counted at all (the comparison is not 0 == 0).
    assert_eq!(
        get(format!("lvs_service_connections_total{{{svc_tcp}}}")),
        5
    );
    assert_eq!(
        get(format!("lvs_service_connections_total{{{svc_udp}}}")),
        3
    );
    assert!(get(format!("lvs_service_in_bytes_total{{{svc_tcp}}}")) > 0);

    // -ln: Weight ActiveConn InActConn of each real server.
    let ln = list(&scratch, &["-ln"]);
    for (svc, i, port) in [(&svc_tcp, 0, 80), (&svc_tcp, 1, 80), (&svc_udp, 0, 53)] {
        let want = row(&ln, &rs(i, port));
        let l = server(svc, i, port);
        assert_eq!(get(format!("lvs_server_weight{{{l}}}")), want[0], "{ln}");
        assert_eq!(
            get(format!("lvs_server_active_connections{{{l}}}")),
            want[1],
            "{ln}"
        );
        assert_eq!(
            get(format!("lvs_server_inactive_connections{{{l}}}")),
            want[2],
            "{ln}"
        );
    }
    // --persistent-conn: Weight PersistConn ActiveConn InActConn.
    let pc = list(&scratch, &["-ln", "--persistent-conn"]);
    let want = row(&pc, &rs(0, 53));
    assert_eq!(
        get(format!(
            "lvs_server_persistent_connections{{{}}}",
            server(&svc_udp, 0, 53)
        )),
        want[1],
        "{pc}"
    );
    assert_eq!(want[1], 1, "one template for the client: {pc}");
    // -lnc: one line per entry; templates have state NONE or ASSURED and
    // client port 0.
    let lnc = list(&scratch, &["-lnc"]);
    let entries: Vec<&str> = lnc
        .lines()
        .filter(|l| l.starts_with("TCP") || l.starts_with("UDP"))
        .collect();
    let templates = entries
        .iter()
        .filter(|l| l.contains(&format!("{NAT_CLIENT}:0 ")))
        .count();
    assert_eq!(get("lvs_connections".into()), entries.len() as u64, "{lnc}");
    assert_eq!(
        get("lvs_connection_templates".into()),
        templates as u64,
        "{lnc}"
    );
    assert_eq!(templates, 1, "{lnc}");
    assert_eq!(get("lvs_services".into()), 2);
    assert_eq!(
        get(format!(
            r#"lvs_build_info{{version="{}"}}"#,
            env!("CARGO_PKG_VERSION")
        )),
        1
    );

    // The data plane's counters: every packet the listing counts was
    // forwarded by the engine and sent.
    let packets: u64 = [&svc_tcp, &svc_udp]
        .iter()
        .map(|l| {
            get(format!("lvs_service_in_packets_total{{{l}}}"))
                + get(format!("lvs_service_out_packets_total{{{l}}}"))
        })
        .sum();
    let forwarded = get(r#"lvs_dataplane_verdicts_total{verdict="forward"}"#.into());
    assert!(
        packets > 0 && forwarded >= packets,
        "{forwarded} < {packets}"
    );
    assert!(get("lvs_dataplane_tx_frames_total".into()) >= forwarded);

    // Other paths and methods.
    let (head, _) = lab.dir.run(|| http("GET /nope HTTP/1.1\r\n\r\n")).unwrap();
    assert!(head.starts_with("HTTP/1.1 404 "), "{head}");
    let (head, _) = lab
        .dir
        .run(|| http("POST /metrics HTTP/1.1\r\n\r\n"))
        .unwrap();
    assert!(head.starts_with("HTTP/1.1 405 "), "{head}");
    let (head, body) = lab
        .dir
        .run(|| http("HEAD /metrics HTTP/1.1\r\n\r\n"))
        .unwrap();
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    assert!(body.is_empty(), "{body}");
}

#[test]
fn metrics_port_taken_stops_the_start() {
    assert!(
        is_root(),
        "this privileged test needs root (network namespaces): run the suite as root"
    );
    let scratch = Scratch::new("metrics-busy");
    let ns = common::lab::netns("mt-busy");
    common::lab::sh(&ns, &["link", "set", "lo", "up"]);
    let taken = ns
        .run(|| std::net::TcpListener::bind(METRICS))
        .unwrap()
        .unwrap();
    let out = std::process::Command::new("ip")
        .args(["netns", "exec", ns.name(), "timeout", "10"])
        .args([env!("CARGO_BIN_EXE_lvsd"), "--metrics", METRICS])
        .env("LVSD_SOCKET", scratch.socket())
        .output()
        .unwrap();
    drop(taken);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("metrics listener 127.0.0.1:9917"), "{err}");
    assert!(!scratch.socket().exists(), "control socket left behind");
}

/// `lvsadm health --json`.
fn health(scratch: &Scratch) -> Vec<VsHealth> {
    let out = client_with(
        scratch,
        "lvsadm",
        &scratch.socket(),
        &["health", "--json"],
        "",
        |_| {},
    );
    assert_eq!(out.code, 0, "lvsadm health: {}", out.stderr);
    serde_json::from_str(&out.stdout).unwrap()
}

#[test]
fn health_states_equal_lvsadm_health() {
    assert!(
        is_root(),
        "this privileged test needs root (network namespaces, XDP): run the suite as root"
    );
    let lab = nat_lab("mh", &[]);
    let scratch = Scratch::new("metrics-health");
    // RS1 answers on 80, nothing listens on RS2: its TCP_CHECK is refused,
    // down after 1 + retry failures, and it leaves the table.
    let conf = scratch.dir.join("keepalived.conf");
    let mut text = format!(
        "virtual_server {NAT_VIP} 80 {{\n delay_loop 1\n lb_algo rr\n lb_kind NAT\n protocol TCP\n"
    );
    for (ip, w) in [(NAT_RIPS[0], 1), (NAT_RIPS[1], 2)] {
        text.push_str(&format!(
            " real_server {ip} 80 {{\n  weight {w}\n  TCP_CHECK {{\n   connect_timeout 1\n   retry 1\n   delay_before_retry 0.5\n  }}\n }}\n"
        ));
    }
    text.push_str("}\n");
    std::fs::write(&conf, text).unwrap();
    let _server = Server::http(&lab.rs[0], NAT_RIPS[0], "RS1");
    let lvsd = Lvsd::start_with(
        &lab.dir,
        &scratch,
        &["--config", conf.to_str().unwrap(), "--metrics", METRICS],
    );
    let vs = format!(r#"virtual_server="{NAT_VIP}:80 TCP""#);
    let state = |s: &HashMap<String, u64>, i: usize, st: &str| {
        s.get(&format!(
            r#"lvs_health_server_state{{{vs},real_server="{}:80",state="{st}"}}"#,
            NAT_RIPS[i]
        ))
        .copied()
    };
    let scrape = || {
        let (head, body) = lab
            .dir
            .run(|| http("GET /metrics HTTP/1.1\r\n\r\n"))
            .unwrap();
        assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
        (samples(&body), body)
    };
    let settled = wait_until(|| {
        let (s, _) = scrape();
        state(&s, 0, "up") == Some(1) && state(&s, 1, "down") == Some(1)
    });
    assert!(settled, "{}\n{}", scrape().1, lvsd.log_text());

    // Failures keep counting on RS2: the scrape lies between two listings.
    let before = health(&scratch);
    let (s, body) = scrape();
    let after = health(&scratch);
    assert_eq!(before.len(), 1);
    let quorum = s.get(&format!("lvs_health_quorum_up{{{vs}}}")).copied();
    assert_eq!(quorum, Some(u64::from(after[0].quorum_up)), "{body}");
    let sorry = s
        .get(&format!("lvs_health_sorry_server_active{{{vs}}}"))
        .copied();
    assert_eq!(sorry, Some(u64::from(after[0].sorry_active)), "{body}");
    for (i, (b, a)) in before[0].reals.iter().zip(&after[0].reals).enumerate() {
        assert_eq!(a.addr, format!("{}:80", NAT_RIPS[i]));
        assert_eq!(a.state, b.state, "{a:?}");
        for st in ["up", "down", "warming", "quorum-sorry"] {
            let want = u64::from(a.state.as_str() == st);
            assert_eq!(state(&s, i, st), Some(want), "{} {st}\n{body}", a.addr);
        }
        let c = &a.checkers[0];
        let got = s[&format!(
            r#"lvs_health_checker_failures{{{vs},real_server="{}",checker="TCP_CHECK",target="{}"}}"#,
            a.addr, c.target
        )];
        assert!(
            (u64::from(b.checkers[0].failures)..=u64::from(c.failures)).contains(&got),
            "{got} not within {:?} .. {:?}",
            b.checkers[0],
            c
        );
    }
    assert!(
        after[0].reals[1].checkers[0].failures >= 1,
        "{:?}",
        after[0].reals[1]
    );
    // RS2 left the table: no lvs_server_* series for it, as -ln lists none.
    let ln = list(&scratch, &["-ln"]);
    assert!(!ln.contains(&NAT_RIPS[1].to_string()), "{ln}");
    assert!(
        !body.contains(&format!(r#"rip="{}""#, NAT_RIPS[1])),
        "{body}"
    );
    assert!(
        body.contains(&format!(r#"rip="{}""#, NAT_RIPS[0])),
        "{body}"
    );
}
