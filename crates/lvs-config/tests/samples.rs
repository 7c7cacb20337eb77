//! The sample corpus in `testdata/keepalived/samples/`.
//!
//! Two kinds of checks:
//! - golden: the IPVS table keepalived 2.2.7 built from each file in the lab
//!   VM (`keepalived -C`, then `ipvsadm -Sn`, saved as `*.ipvsadm`) must equal
//!   the table our typed configuration describes, rendered here with
//!   keepalived's start-up rules (servers are up unless `alpha`; with the
//!   quorum down the sorry server replaces them);
//! - typed: field by field expectations read off each file.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use lvs_config::{
    CheckKind, Config, DiagKind, DnsType, Granularity, HttpProtocol, LvsMethod, Options, OsFs,
    Protocol, RealServer, Report, SchedFlags, Scheduler, VirtualServer, VrrpAuth, VrrpState, VsKey,
    VsgEntry, check,
};

fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/keepalived/samples")
}

fn load_with(name: &str, id: Option<&str>) -> (Config, Report) {
    let opts = Options {
        config_id: id.map(str::to_owned),
        ..Options::default()
    };
    let report = check(&OsFs, &samples().join(name), &opts);
    let errors: Vec<String> = report.errors().map(ToString::to_string).collect();
    assert!(errors.is_empty(), "{name}: {errors:#?}");
    (report.config.clone().expect("accepted"), report)
}

fn load(name: &str) -> Config {
    load_with(name, None).0
}

fn warnings(report: &Report) -> Vec<(DiagKind, u32)> {
    report
        .warnings()
        .map(|d| (d.kind, d.location.line))
        .collect()
}

// ---------------------------------------------------------------- golden --

fn addr(a: IpAddr, port: u16) -> String {
    match a {
        IpAddr::V6(v) => format!("[{v}]:{port}"),
        IpAddr::V4(v) => format!("{v}:{port}"),
    }
}

fn method(m: LvsMethod) -> &'static str {
    match m {
        LvsMethod::Nat => "-m",
        LvsMethod::Dr => "-g",
        LvsMethod::Tun { .. } => "-i",
        LvsMethod::FullNat => "--fullnat",
    }
}

fn flag_names(vs: &VirtualServer) -> Option<String> {
    let f = vs.sched_flags;
    if f == SchedFlags::default() {
        return None;
    }
    let (one, two) = match vs.scheduler {
        Some(Scheduler::Sh) => ("sh-fallback", "sh-port"),
        Some(Scheduler::Mh) => ("mh-fallback", "mh-port"),
        _ => ("flag-1", "flag-2"),
    };
    let mut names = Vec::new();
    if f.has(SchedFlags::FLAG_1) {
        names.push(one);
    }
    if f.has(SchedFlags::FLAG_2) {
        names.push(two);
    }
    if f.has(SchedFlags::FLAG_3) {
        names.push("flag-3");
    }
    Some(names.join(","))
}

/// Service keys `-t A:P`, `-u A:P`, `-f M` a virtual server stands for.
fn service_keys(cfg: &Config, vs: &VirtualServer) -> Vec<String> {
    let proto = match vs.protocol {
        Some(Protocol::Udp) => "-u",
        Some(Protocol::Sctp) => "--sctp-service",
        _ => "-t",
    };
    match &vs.key {
        VsKey::Addr { addr: a, port } => vec![format!("{proto} {}", addr(*a, *port))],
        VsKey::Fwmark(m) => vec![format!("-f {m}")],
        VsKey::Group(g) => {
            let mut keys = Vec::new();
            for e in &cfg.group(g).expect("group").entries {
                match e {
                    VsgEntry::Range { port, .. } => {
                        keys.extend(e.addresses().map(|a| format!("{proto} {}", addr(a, *port))))
                    }
                    VsgEntry::Fwmark { mark, .. } => keys.push(format!("-f {mark}")),
                }
            }
            keys
        }
    }
}

fn rs_line(key: &str, rs: &RealServer, weight: u32) -> String {
    let mut l = format!(
        "-a {key} -r {} {} -w {weight}",
        addr(rs.addr, rs.port),
        method(rs.lvs_method.expect("resolved"))
    );
    if let Some(x) = rs.uthreshold {
        l.push_str(&format!(" -x {x}"));
    }
    if let Some(y) = rs.lthreshold {
        l.push_str(&format!(" -y {y}"));
    }
    l
}

/// `ipvsadm -Sn` lines keepalived creates at start-up, sorted.
fn render(cfg: &Config) -> Vec<String> {
    let mut out = Vec::new();
    for vs in &cfg.virtual_servers {
        let up: Vec<&RealServer> = vs
            .real_servers
            .iter()
            .filter(|r| !r.alpha.expect("resolved"))
            .collect();
        let live: u64 = up
            .iter()
            .map(|r| u64::from(r.weight.expect("resolved")))
            .sum();
        let quorum_up = live >= u64::from(vs.quorum);
        for key in service_keys(cfg, vs) {
            let mut a = format!("-A {key} -s {}", vs.scheduler.expect("resolved"));
            if let Some(t) = vs.persistence_timeout {
                a.push_str(&format!(" -p {t}"));
            }
            match vs.persistence_granularity {
                Some(Granularity::V4(m)) => a.push_str(&format!(" -M {m}")),
                Some(Granularity::V6(l)) => a.push_str(&format!(" -M {l}")),
                None => {}
            }
            if let Some(f) = flag_names(vs) {
                a.push_str(&format!(" -b {f}"));
            }
            if vs.one_packet {
                a.push_str(" -o");
            }
            out.push(a);
            match (&vs.sorry_server, quorum_up) {
                (Some(ss), false) => out.push(format!(
                    "-a {key} -r {} {} -w 1",
                    addr(ss.addr, ss.port),
                    method(ss.lvs_method.expect("resolved"))
                )),
                _ => {
                    for rs in &vs.real_servers {
                        let alive = !rs.alpha.expect("resolved");
                        if alive {
                            out.push(rs_line(&key, rs, rs.weight.expect("resolved")));
                        } else if rs.inhibit_on_failure.expect("resolved") {
                            out.push(rs_line(&key, rs, 0));
                        }
                    }
                }
            }
        }
    }
    out.sort();
    out
}

fn golden(tag: &str) -> Vec<String> {
    let text = std::fs::read_to_string(samples().join(format!("{tag}.ipvsadm"))).expect("golden");
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    lines.sort();
    lines
}

#[test]
fn ipvs_tables_match_keepalived() {
    for (file, id, tag) in [
        ("sample.conf", None, "sample"),
        ("virtual_server_group.conf", None, "virtual_server_group"),
        ("fwmark.conf", None, "fwmark"),
        ("inhibit.conf", None, "inhibit"),
        ("quorum.conf", None, "quorum"),
        ("ipv6.conf", None, "ipv6"),
        ("http_status.conf", None, "http_status"),
        ("ssl_get.conf", None, "ssl_get"),
        ("misc_check.conf", None, "misc_check"),
        ("other_checkers.conf", None, "other_checkers"),
        ("vrrp_sync.conf", None, "vrrp_sync"),
        ("lvs_syncd.conf", None, "lvs_syncd"),
        ("include.conf", None, "include"),
        ("conditional.conf", Some("high"), "conditional-high"),
        ("conditional.conf", Some("low"), "conditional-low"),
    ] {
        let (cfg, _) = load_with(file, id);
        assert_eq!(render(&cfg), golden(tag), "{file} with config id {id:?}");
    }
}

// ----------------------------------------------------------------- typed --

#[test]
fn sample_global_vrrp_and_http_service() {
    let (cfg, report) = load_with("sample.conf", None);
    assert!(warnings(&report).is_empty(), "{:?}", report.diagnostics);
    let g = &cfg.global;
    assert_eq!(
        g.notification_email,
        ["ops@example.net", "NOC desk <noc@example.net>"]
    );
    assert_eq!(
        g.notification_email_from.as_deref(),
        Some("lb1@example.net")
    );
    let smtp = g.smtp_server.as_ref().unwrap();
    assert_eq!((smtp.host.as_str(), smtp.port), ("192.0.2.25", 25));
    assert_eq!(g.smtp_connect_timeout, Some(30));
    assert_eq!(g.router_id.as_deref(), Some("LB_EDGE_1"));

    let vi = cfg.vrrp_instance("VI_EDGE").unwrap();
    assert_eq!(vi.interface.as_deref(), Some("eth0"));
    assert_eq!((vi.virtual_router_id, vi.priority), (51, 100));
    assert!(vi.nopreempt);
    assert_eq!(vi.advert_int, Duration::from_secs(1));
    let vips: Vec<String> = vi
        .virtual_ipaddress
        .iter()
        .map(|a| a.addr.to_string())
        .collect();
    assert_eq!(vips, ["198.51.100.11", "198.51.100.12", "198.51.100.13"]);
    assert!(vi.virtual_ipaddress.iter().all(|a| a.prefix_len == 32));

    let vs = &cfg.virtual_servers[0];
    assert_eq!(
        vs.key,
        VsKey::Addr {
            addr: "198.51.100.11".parse().unwrap(),
            port: 8080
        }
    );
    assert_eq!(vs.check_defaults.delay_loop, Some(Duration::from_secs(6)));
    assert_eq!(vs.scheduler, Some(Scheduler::Rr));
    assert_eq!(vs.lvs_method, Some(LvsMethod::Nat));
    assert_eq!(vs.persistence_timeout, Some(50));
    assert_eq!(vs.protocol, Some(Protocol::Tcp));
    let ss = vs.sorry_server.as_ref().unwrap();
    assert_eq!(
        (ss.addr.to_string(), ss.port),
        ("10.20.0.250".to_owned(), 8080)
    );
    let c = &vs.real_servers[0].checkers[0];
    let CheckKind::Http(h) = &c.kind else {
        panic!("{:?}", c.kind)
    };
    assert_eq!(h.urls[0].path, "/health/ready.jsp");
    assert_eq!(h.urls[0].digest.unwrap()[..2], [0x8b, 0x1a]);
    assert!(h.urls[0].status_ok(200) && h.urls[0].status_ok(299) && !h.urls[0].status_ok(301));
    // connect_timeout 3, retry 3, delay_before_retry 3 in the checker;
    // delay_loop 6 and warmup (= delay_loop) from the virtual server.
    assert_eq!(c.timing.connect_timeout, Duration::from_secs(3));
    assert_eq!(c.timing.retry, 3);
    assert_eq!(c.timing.delay_before_retry, Duration::from_secs(3));
    assert_eq!(c.timing.delay_loop, Duration::from_secs(6));
    assert_eq!(c.timing.warmup, Duration::from_secs(6));
    assert!(!c.timing.alpha);
}

#[test]
fn virtual_server_group_entries_and_deprecated_retry() {
    let (cfg, report) = load_with("virtual_server_group.conf", None);
    // keepalived 2.2.7 warns on both nb_get_retry lines (32 and 45).
    assert_eq!(
        warnings(&report),
        [(DiagKind::Deprecated, 32), (DiagKind::Deprecated, 45)]
    );
    let g = cfg.group("WEB_FRONT").unwrap();
    assert_eq!(g.entries.len(), 6);
    assert_eq!(g.entries[3].len(), 4);
    assert_eq!(
        g.entries[4],
        VsgEntry::Fwmark {
            mark: 11,
            family: None
        }
    );
    let vs = &cfg.virtual_servers[0];
    assert_eq!(vs.key, VsKey::Group("WEB_FRONT".into()));
    let c = &vs.real_servers[1].checkers[0];
    assert_eq!(c.timing.retry, 3);
    assert_eq!(vs.real_servers[1].weight, Some(2));
}

#[test]
fn fwmark_direct_routing_with_granularity() {
    let (cfg, report) = load_with("fwmark.conf", None);
    // keepalived: "fwmark virtual server FWM 7, real server ... has port
    // specified - clearing", once per real server.
    assert_eq!(
        warnings(&report),
        [(DiagKind::Corrected, 11), (DiagKind::Corrected, 18)]
    );
    let vs = &cfg.virtual_servers[0];
    assert_eq!(vs.key, VsKey::Fwmark(7));
    assert_eq!(vs.protocol, None);
    assert_eq!(
        vs.persistence_granularity,
        Some(Granularity::V4("255.255.255.0".parse().unwrap()))
    );
    assert!(vs.real_servers.iter().all(|r| r.port == 0));
    let c = &vs.real_servers[0].checkers[0];
    assert_eq!(c.connect.connect_port, Some(443));
    assert_eq!(c.timing.connect_timeout, Duration::from_secs(4));
    assert_eq!(c.timing.delay_before_retry, Duration::from_secs(1));
    assert_eq!(c.timing.retry, 1);
}

#[test]
fn inhibit_on_failure_is_per_real_server() {
    let cfg = load("inhibit.conf");
    let vs = &cfg.virtual_servers[0];
    assert!(!vs.inhibit_on_failure);
    assert!(
        vs.real_servers
            .iter()
            .all(|r| r.inhibit_on_failure == Some(true))
    );
    let CheckKind::Http(h) = &vs.real_servers[1].checkers[0].kind else {
        panic!()
    };
    assert_eq!(h.urls[0].status_codes, [200..=200]);
    // HTTP_GET default delay_before_retry is 3 s.
    assert_eq!(
        vs.real_servers[1].checkers[0].timing.delay_before_retry,
        Duration::from_secs(3)
    );
}

#[test]
fn quorum_scripts_and_sorry_server() {
    let cfg = load("quorum.conf");
    let vs = &cfg.virtual_servers[0];
    assert!(vs.alpha && vs.omega);
    assert_eq!((vs.quorum, vs.hysteresis), (3, 1));
    let up = vs.quorum_up.as_ref().unwrap();
    assert_eq!(up.argv, ["/usr/local/bin/quorum.sh", "up", "10.60.0.1:80"]);
    assert_eq!(up.command, "/usr/local/bin/quorum.sh up 10.60.0.1:80");
    let rs = &vs.real_servers[0];
    assert_eq!(rs.notify_down.as_ref().unwrap().argv[1], "down");
    assert_eq!(rs.alpha, Some(true));
    assert!(rs.checkers[0].timing.alpha);
    let ss = vs.sorry_server.as_ref().unwrap();
    assert_eq!((ss.port, ss.lvs_method), (8080, Some(LvsMethod::Nat)));
}

#[test]
fn ipv6_services_and_addresses() {
    let cfg = load("ipv6.conf");
    let vi = &cfg.vrrp_instances[0];
    assert_eq!(vi.state, Some(VrrpState::Backup));
    assert_eq!(vi.virtual_ipaddress[0].prefix_len, 64);
    assert_eq!(vi.virtual_ipaddress[0].dev.as_deref(), Some("eth0"));
    assert_eq!(vi.virtual_ipaddress[1].dev, None);
    let vs = &cfg.virtual_servers[0];
    assert_eq!(vs.persistence_granularity, Some(Granularity::V6(64)));
    assert_eq!(vs.persistence_timeout, Some(360));
    assert_eq!(vs.sched_flags, SchedFlags(SchedFlags::FLAG_2));
}

#[test]
fn http_checker_options() {
    let cfg = load("http_status.conf");
    let vs = &cfg.virtual_servers[0];
    assert_eq!(vs.virtualhost.as_deref(), Some("www.example.org"));
    let rs = &vs.real_servers[0];
    assert_eq!(rs.virtualhost.as_deref(), Some("app.example.org"));
    let c = &rs.checkers[0];
    let CheckKind::Http(h) = &c.kind else {
        panic!()
    };
    assert_eq!(h.urls.len(), 2);
    assert_eq!(h.urls[0].status_codes, [200..=200, 204..=204, 300..=302]);
    assert!(h.urls[0].status_ok(301) && !h.urls[0].status_ok(303) && !h.urls[0].status_ok(201));
    assert_eq!(h.urls[0].virtualhost.as_deref(), Some("health.example.org"));
    assert!(h.urls[1].status_codes.is_empty() && h.urls[1].status_ok(250));
    assert_eq!(h.http_protocol, Some(HttpProtocol::V1_1));
    assert_eq!(c.connect.connect_port, Some(8081));
    assert_eq!(c.connect.bindto, Some("10.70.0.254".parse().unwrap()));
    assert_eq!(c.timing.connect_timeout, Duration::from_millis(2500));
    assert_eq!(c.timing.delay_loop, Duration::from_secs(8));
    let c2 = &vs.real_servers[1].checkers[0];
    assert_eq!(c2.connect.connect_ip, Some("10.70.2.2".parse().unwrap()));
}

#[test]
fn ssl_context_and_ssl_get() {
    let cfg = load("ssl_get.conf");
    let ssl = cfg.ssl.as_ref().unwrap();
    assert_eq!(ssl.password.as_deref(), Some("s3cret"));
    assert_eq!(ssl.key.as_deref(), Some("/etc/keepalived/ssl/client.key"));
    let c = &cfg.virtual_servers[0].real_servers[0].checkers[0];
    let CheckKind::Ssl(h) = &c.kind else { panic!() };
    assert!(h.enable_sni);
    assert_eq!(
        (c.timing.retry, c.timing.delay_before_retry),
        (2, Duration::from_secs(2))
    );
}

#[test]
fn misc_check_argument_splitting() {
    let cfg = load("misc_check.conf");
    assert!(cfg.global.enable_script_security);
    assert_eq!(
        cfg.global.script_user.as_ref().unwrap().user,
        "keepalived_script"
    );
    let rs = &cfg.virtual_servers[0].real_servers;
    let c = &rs[0].checkers[0];
    let CheckKind::Misc(m) = &c.kind else {
        panic!()
    };
    assert_eq!(
        m.path.argv,
        ["/usr/local/bin/pg_check.sh", "10.90.1.1", "select 1"]
    );
    assert_eq!(m.timeout, Some(Duration::from_secs(5)));
    assert!(m.dynamic);
    // MISC_CHECK's retry default is 0.
    assert_eq!(c.timing.retry, 0);
    let CheckKind::Misc(m) = &rs[1].checkers[0].kind else {
        panic!()
    };
    let u = m.user.as_ref().unwrap();
    assert_eq!(
        (u.user.as_str(), u.group.as_deref(), u.supplementary_groups),
        ("postgres", Some("dbops"), false)
    );
    assert_eq!(rs[1].checkers[0].timing.retry, 2);
}

#[test]
fn smtp_dns_udp_ping_checkers() {
    let cfg = load("other_checkers.conf");
    let smtp = &cfg.virtual_servers[0].real_servers[0].checkers[0];
    let CheckKind::Smtp(s) = &smtp.kind else {
        panic!()
    };
    assert_eq!(s.helo_name.as_deref(), Some("lb.example.net"));
    assert_eq!(smtp.timing.delay_before_retry, Duration::from_secs(5));
    let vs = &cfg.virtual_servers[1];
    assert_eq!(vs.protocol, Some(Protocol::Udp));
    assert!(vs.one_packet);
    let dns = &vs.real_servers[0].checkers[0];
    let CheckKind::Dns(d) = &dns.kind else {
        panic!()
    };
    assert_eq!((d.qtype, d.name.as_str()), (DnsType::A, "www.example.org"));
    // DNS_CHECK: retry 3 and delay_before_retry = delay_loop by default.
    assert_eq!(
        (dns.timing.retry, dns.timing.delay_before_retry),
        (3, Duration::from_secs(5))
    );
    let rs = &vs.real_servers[1];
    let CheckKind::Udp(u) = &rs.checkers[0].kind else {
        panic!()
    };
    assert_eq!(u.payload.as_deref(), Some(&[0x0a, 0x0b, 0x0c][..]));
    let p = u.require_reply.as_ref().unwrap().as_ref().unwrap();
    assert!(
        p.matches(&[0x0a, 0x07]) && p.matches(&[0x0a, 0x0f, 0xff]) && !p.matches(&[0x0b, 0x00])
    );
    assert_eq!(u.max_reply_length, 512);
    assert_eq!(rs.checkers[1].kind, CheckKind::Ping);
}

#[test]
fn vrrp_sync_group_scripts_and_tracking() {
    let (cfg, report) = load_with("vrrp_sync.conf", None);
    assert!(warnings(&report).is_empty(), "{:?}", report.diagnostics);
    let sc = cfg.vrrp_script("chk_haproxy").unwrap();
    assert_eq!(sc.script.argv, ["/usr/bin/pgrep", "-x", "haproxy"]);
    assert_eq!(
        (sc.interval, sc.timeout),
        (Duration::from_secs(2), Some(Duration::from_secs(3)))
    );
    assert_eq!((sc.weight, sc.rise, sc.fall), (-20, 2, 3));
    let g = &cfg.vrrp_sync_groups[0];
    assert_eq!(g.group, ["VI_OUT", "VI_IN"]);
    assert_eq!(
        g.notify.fault.as_ref().unwrap().argv,
        ["/etc/keepalived/notify.sh", "fault"]
    );
    let out = cfg.vrrp_instance("VI_OUT").unwrap();
    assert_eq!(out.state, Some(VrrpState::Master));
    assert_eq!(out.authentication, Some(VrrpAuth::Pass("edge71".into())));
    assert_eq!(out.track_interface.len(), 2);
    assert_eq!(out.track_interface[1].weight, Some(-10));
    assert_eq!(out.track_script[0].name, "chk_haproxy");
    let vip = &out.virtual_ipaddress[0];
    assert_eq!(
        (vip.prefix_len, vip.label.as_deref()),
        (24, Some("eth0:vip"))
    );
    assert_eq!(out.garp_master_delay, Some(Duration::from_secs(2)));
    let inn = cfg.vrrp_instance("VI_IN").unwrap();
    assert_eq!(inn.unicast_src_ip, Some("10.110.0.1".parse().unwrap()));
    assert_eq!(inn.unicast_peer[0].addr.to_string(), "10.110.0.2");
    assert_eq!(inn.preempt_delay, Some(Duration::from_secs(30)));
}

#[test]
fn lvs_sync_daemon_and_timeouts() {
    let cfg = load("lvs_syncd.conf");
    let d = cfg.global.lvs_sync_daemon.as_ref().unwrap();
    assert_eq!(d.interface, "eth1");
    assert_eq!(d.instance.as_deref(), Some("VI_SYNC"));
    assert_eq!(
        (d.sync_id, d.maxlen, d.port, d.ttl),
        (Some(71), Some(1400), Some(8848), Some(1))
    );
    assert_eq!(d.group, Some("224.0.0.81".parse().unwrap()));
    let t = cfg.global.lvs_timeouts;
    assert_eq!((t.tcp, t.tcpfin, t.udp), (Some(900), Some(120), Some(300)));
    assert!(cfg.global.lvs_flush);
    // A real server without weight gets the virtual server's (1).
    assert_eq!(cfg.virtual_servers[0].real_servers[0].weight, Some(1));
}

#[test]
fn conditional_configuration_per_director() {
    let (high, _) = load_with("conditional.conf", Some("high"));
    let (low, _) = load_with("conditional.conf", Some("low"));
    assert_eq!(high.vrrp_instances[0].priority, 170);
    assert_eq!(low.vrrp_instances[0].priority, 85);
    assert_eq!(
        high.vrrp_scripts[0].script.argv,
        ["/etc/keepalived/scripts/check_high.sh"]
    );
    assert_eq!(
        low.vrrp_scripts[0].script.argv,
        ["/etc/keepalived/scripts/check_low.sh"]
    );
    assert_eq!(high.vrrp_instances[0].version, Some(3));
    assert_eq!(
        high.vrrp_instances[0].virtual_ipaddress[0].addr.to_string(),
        "10.130.0.254"
    );
    let weights: Vec<u32> = high.virtual_servers[0]
        .real_servers
        .iter()
        .map(|r| r.weight.unwrap())
        .collect();
    assert_eq!(weights, [1, 2, 3, 9]);
    assert_eq!(low.virtual_servers[0].real_servers.len(), 3);
    // Real servers made by ~SEQ over a multi-line definition point at the
    // ~SEQ line.
    assert_eq!(high.virtual_servers[0].real_servers[2].location.line, 48);
}

#[test]
fn includes_are_listed_and_located() {
    let (cfg, report) = load_with("include.conf", None);
    let names: Vec<String> = report
        .files
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    // In the order opened: a glob's matches are all opened when the include
    // line is read.
    assert_eq!(
        names,
        [
            "include.conf",
            "10-web.conf",
            "20-dns.conf",
            "web-servers.inc"
        ]
    );
    let rs = &cfg.virtual_servers[0].real_servers[1];
    assert!(
        rs.location.file.ends_with("conf.d/web-servers.inc"),
        "{}",
        rs.location
    );
    assert_eq!(rs.location.line, 2);
    assert_eq!(cfg.global.router_id.as_deref(), Some("LB_INCLUDE"));
}
