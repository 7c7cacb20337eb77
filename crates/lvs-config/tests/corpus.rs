//! The corpus of realistic configurations (`testdata/keepalived/corpus/`)
//! and of configurations with mistakes (`testdata/keepalived/mistakes/`).
//!
//! - Every corpus file loads without error, and its lowering is the table
//!   the real keepalived 2.2.7 built from it in the lab VM (`*.ipvsadm`,
//!   `ipvsadm -Sn`; see `corpus/README.md` and `corpus/lab/`). Each file
//!   also gets checks of what it is about, worked by hand from
//!   keepalived.conf(5).
//! - Every mistake file produces exactly the diagnostics of its `.expect`
//!   file (`line:col: severity: message`, the file name dropped), and the
//!   ones with an error are rejected.
//! - [`lvs_config::diff`] between two lowered tables, worked by hand.
#![allow(clippy::unwrap_used)]

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use lvs_config::{
    CheckKind, Config, DnsType, LvsMethod, Options, OsFs, Report, Scheduler, VsKey, check, diff,
    lower, lower_table,
};
use lvs_proto::{Info, Request, Response};

fn dir(sub: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/keepalived")
        .join(sub)
}

fn report(path: &Path) -> Report {
    check(&OsFs, path, &Options::default())
}

fn load(name: &str) -> Config {
    let r = report(&dir("corpus").join(name));
    let errors: Vec<String> = r.errors().map(ToString::to_string).collect();
    assert!(errors.is_empty(), "{name}: {errors:?}");
    r.config.expect("loads")
}

struct Recorder(Vec<Request>);

impl lvs_ipvsadm::Backend for Recorder {
    fn connect(&mut self) -> Result<Info, lvs_ipvsadm::ConnectError> {
        Ok(Info {
            version: Info::KERNEL_VERSION,
            conn_tab_size: 4096,
        })
    }
    fn call(&mut self, req: Request) -> Result<Response, lvs_ipvsadm::TransportError> {
        match req {
            Request::Batch { requests, .. } => self.0.extend(requests),
            other => self.0.push(other),
        }
        Ok(Response::Ok)
    }
}

/// The requests our `ipvsadm -R` sends for a golden file.
fn golden(path: &Path) -> Vec<Request> {
    let text = std::fs::read_to_string(path).expect("golden file");
    let argv = ["ipvsadm".to_string(), "-R".to_string()];
    let mut input = text.as_bytes();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let mut io = lvs_ipvsadm::Io {
        stdin: &mut input,
        stdout: &mut out,
        stderr: &mut err,
    };
    let mut rec = Recorder(Vec::new());
    let code = lvs_ipvsadm::run(
        &argv,
        &mut io,
        &mut rec,
        &lvs_ipvsadm::NoNames,
        lvs_ipvsadm::RunOptions::default(),
    );
    assert_eq!(code, 0, "{}", String::from_utf8_lossy(&err));
    rec.0
}

/// Requests as sorted debug strings (the kernel lists destinations in its
/// own order, ipvsadm -Sn prints them so).
fn sorted(reqs: &[Request]) -> Vec<String> {
    let mut v: Vec<String> = reqs.iter().map(|r| format!("{r:?}")).collect();
    v.sort();
    v
}

const CORPUS: [&str; 7] = [
    "dr-web-farm",
    "tun-smtp",
    "fwmark-dns",
    "macros-groups",
    "include-main",
    "mixed-methods",
    "persistent-voip",
];

#[test]
fn corpus_lowers_to_the_lab_tables() {
    for name in CORPUS {
        let cfg = load(&format!("{name}.conf"));
        let want = golden(&dir("corpus").join(format!("{name}.ipvsadm")));
        assert_eq!(sorted(&lower(&cfg)), sorted(&want), "{name}");
    }
}

#[test]
fn corpus_and_samples_make_at_least_twenty_files() {
    let count = |sub: &str| {
        std::fs::read_dir(dir(sub))
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|x| x == "conf")
            })
            .count()
    };
    let n = count("corpus") + count("samples");
    assert!(n >= 20, "{n} configuration files");
    for sub in ["corpus", "samples"] {
        for e in std::fs::read_dir(dir(sub)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "conf") {
                // conditional.conf needs a config id for its @ lines.
                let id = p.ends_with("conditional.conf").then(|| "high".to_owned());
                let opts = Options {
                    config_id: id,
                    ..Options::default()
                };
                let r = check(&OsFs, &p, &opts);
                assert!(r.is_ok(), "{}: {:?}", p.display(), r.diagnostics);
            }
        }
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn dr_web_farm_urls_digest_status_range_and_alpha() {
    let cfg = load("dr-web-farm.conf");
    let vs = &cfg.virtual_servers[0];
    assert_eq!(vs.lvs_method, Some(LvsMethod::Dr));
    assert_eq!(vs.persistence_timeout, Some(300));
    assert_eq!(vs.virtualhost.as_deref(), Some("www.example.net"));
    let CheckKind::Http(h) = &vs.real_servers[0].checkers[0].kind else {
        panic!("HTTP_GET expected");
    };
    assert_eq!(h.urls.len(), 2);
    assert_eq!(h.urls[1].path, "/static/logo.png");
    let hex: String = h.urls[1]
        .digest
        .unwrap()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(hex, "9b3a0c85a887a256d6939da88aabd8cd");
    let t = vs.real_servers[0].checkers[0].timing;
    assert_eq!(
        (
            t.connect_timeout,
            t.retry,
            t.delay_before_retry,
            t.delay_loop
        ),
        (
            Duration::from_secs(3),
            3,
            Duration::from_secs(2),
            Duration::from_secs(6)
        )
    );
    let rs4 = &vs.real_servers[3];
    assert_eq!(
        (rs4.alpha, rs4.inhibit_on_failure),
        (Some(true), Some(true))
    );
    let CheckKind::Ssl(s) = &cfg.virtual_servers[1].real_servers[0].checkers[0].kind else {
        panic!("SSL_GET expected");
    };
    let codes = &s.urls[0].status_codes;
    assert!(codes.iter().any(|r| r.contains(&200) && r.contains(&299)));
    assert!(!codes.iter().any(|r| r.contains(&300)));
}

#[test]
fn tun_smtp_thresholds_and_connect_options() {
    let cfg = load("tun-smtp.conf");
    let vs = &cfg.virtual_servers[0];
    assert_eq!(vs.scheduler, Some(Scheduler::Sh));
    assert!(matches!(vs.lvs_method, Some(LvsMethod::Tun { .. })));
    let rs = &vs.real_servers;
    assert_eq!((rs[0].uthreshold, rs[0].lthreshold), (Some(500), Some(400)));
    let CheckKind::Smtp(s) = &rs[0].checkers[0].kind else {
        panic!("SMTP_CHECK expected");
    };
    assert_eq!(s.helo_name.as_deref(), Some("lb.example.org"));
    let c = &rs[1].checkers[0].connect;
    assert_eq!(
        (c.connect_ip, c.connect_port),
        (Some(ip("10.70.3.2")), Some(2525))
    );
}

#[test]
fn fwmark_dns_checks_and_port_clearing() {
    let r = report(&dir("corpus").join("fwmark-dns.conf"));
    // keepalived 2.2.7 -t: "fwmark virtual server FWM 53, real server
    // [10.80.0.11]:none:53 has port specified - clearing" (two of them).
    let clearing: Vec<u32> = r
        .warnings()
        .filter(|w| w.message.contains("has port specified - clearing"))
        .map(|w| w.location.line)
        .collect();
    assert_eq!(clearing, [10, 18]);
    let cfg = r.config.unwrap();
    let vs = &cfg.virtual_servers[0];
    assert_eq!(vs.key, VsKey::Fwmark(53));
    let CheckKind::Dns(d) = &vs.real_servers[0].checkers[0].kind else {
        panic!("DNS_CHECK expected");
    };
    assert_eq!((d.qtype, d.name.as_str()), (DnsType::Soa, "example.org."));
    assert!(cfg.virtual_servers[1].one_packet);
    assert!(matches!(
        cfg.virtual_servers[1].real_servers[0].checkers[0].kind,
        CheckKind::Udp(_)
    ));
}

#[test]
fn macros_expand_to_three_misc_checked_servers() {
    let cfg = load("macros-groups.conf");
    let vs = &cfg.virtual_servers[0];
    assert_eq!(vs.key, VsKey::Group("app".into()));
    assert_eq!((vs.quorum, vs.hysteresis), (8, 2));
    assert!(vs.sorry_server.as_ref().unwrap().inhibit);
    assert_eq!(vs.real_servers.len(), 3);
    for (n, rs) in vs.real_servers.iter().enumerate() {
        let host = format!("10.91.1.{}", n + 1);
        assert_eq!((rs.addr, rs.port), (ip(&host), 8080));
        let CheckKind::Misc(m) = &rs.checkers[0].kind else {
            panic!("MISC_CHECK expected");
        };
        // The command string split as keepalived does: no shell.
        assert_eq!(
            m.path.argv,
            [
                "/usr/local/bin/app-check",
                "--host",
                host.as_str(),
                "--port",
                "8080"
            ]
        );
        assert!(m.dynamic);
        assert_eq!(m.timeout, Some(Duration::from_secs(3)));
    }
    // Three addresses and a mark: four services.
    assert_eq!(lower_table(&cfg).len(), 4);
}

#[test]
fn include_main_reads_each_service_file() {
    let r = report(&dir("corpus").join("include-main.conf"));
    let names: Vec<String> = r
        .files
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        ["include-main.conf", "10-ipv6-web.conf", "20-imap.conf"]
    );
    let cfg = r.config.unwrap();
    assert_eq!(cfg.global.script_user.as_ref().unwrap().user, "nobody");
    let imap = &cfg.virtual_servers[1];
    let down = imap.real_servers[0].notify_down.as_ref().unwrap();
    assert_eq!(down.argv, ["/usr/local/bin/page-oncall", "imap 1 down"]);
    assert_eq!(
        imap.real_servers[0].checkers[0].connect.bindto,
        Some(ip("10.72.0.254"))
    );
}

#[test]
fn mixed_methods_per_server_and_default_weight() {
    let cfg = load("mixed-methods.conf");
    let vs = &cfg.virtual_servers[0];
    assert!(vs.ha_suspend);
    let methods: Vec<bool> = vs
        .real_servers
        .iter()
        .map(|r| matches!(r.lvs_method, Some(LvsMethod::Tun { .. })))
        .collect();
    assert_eq!(methods, [false, false, true, false]);
    // The virtual server's `weight 2` is the default of the first server.
    assert_eq!(vs.real_servers[0].weight, Some(2));
    assert!(vs.real_servers[3].checkers.is_empty());
    assert_eq!(
        vs.sorry_server.as_ref().unwrap().lvs_method,
        Some(LvsMethod::Dr)
    );
    // The per-server checker delay_loop wins over the virtual server's.
    assert_eq!(
        vs.real_servers[2].checkers[0].timing.delay_loop,
        Duration::from_secs(15)
    );
}

#[test]
fn persistent_all_ports_and_sip_engine() {
    let cfg = load("persistent-voip.conf");
    assert_eq!(
        cfg.virtual_servers[0].key,
        VsKey::Addr {
            addr: ip("10.74.0.1"),
            port: 0
        }
    );
    assert_eq!(cfg.virtual_servers[0].persistence_timeout, Some(900));
    assert_eq!(
        cfg.virtual_servers[1].persistence_engine.as_deref(),
        Some("sip")
    );
}

/// `line:col: severity: message` of every diagnostic, file name dropped.
fn diagnostics(path: &Path) -> Vec<String> {
    let prefix = format!("{}:", path.display());
    report(path)
        .diagnostics
        .iter()
        .map(|d| d.to_string().trim_start_matches(&prefix).to_owned())
        .collect()
}

#[test]
fn mistakes_give_their_expected_messages() {
    let mut checked = 0;
    for e in std::fs::read_dir(dir("mistakes")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_none_or(|x| x != "conf") {
            continue;
        }
        let expect = p.with_extension("expect");
        let want: Vec<String> = std::fs::read_to_string(&expect)
            .unwrap_or_else(|_| panic!("{} missing", expect.display()))
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(str::to_owned)
            .collect();
        let got = diagnostics(&p);
        assert_eq!(got, want, "{}", p.display());
        let has_error = want.iter().any(|l| l.contains(": error: "));
        assert_eq!(report(&p).is_ok(), !has_error, "{}", p.display());
        checked += 1;
    }
    assert!(checked >= 10, "{checked} mistake files");
}

#[test]
fn diff_of_two_tables_touches_only_the_differences() {
    let base = r#"
virtual_server 10.0.0.1 80 {
    lb_algo wrr
    lb_kind NAT
    protocol TCP
    real_server 10.0.1.1 80 {
        weight 3
    }
    real_server 10.0.1.2 80 {
        weight 1
    }
}
virtual_server 10.0.0.2 80 {
    lb_algo rr
    lb_kind DR
    protocol TCP
    real_server 10.0.2.1 80 {
        weight 1
    }
}
"#;
    let load_text = |t: &str| {
        let fs = lvs_config::MemFs::new().with("/k.conf", t);
        check(&fs, Path::new("/k.conf"), &Options::default())
            .config
            .unwrap()
    };
    let old = lower_table(&load_text(base));
    assert!(diff(&old, &old).is_empty());
    // RS 10.0.1.2 removed, 10.0.1.3 added, 10.0.1.1 weight 3 -> 5, the
    // first service's scheduler changes, the second service goes, a third
    // comes.
    let new_text = base
        .replace("weight 3", "weight 5")
        .replace("real_server 10.0.1.2 80", "real_server 10.0.1.3 80")
        .replace("lb_algo wrr", "lb_algo wlc")
        .replace("10.0.0.2 80", "10.0.0.3 80");
    let new = lower_table(&load_text(&new_text));
    let got: Vec<String> = diff(&old, &new)
        .iter()
        .map(|r| match r {
            Request::DelDest { dest, .. } => format!("del {}", dest.addr),
            Request::DelService(k) => format!("del-svc {k:?}"),
            Request::EditService(s) => format!("edit-svc {}", s.scheduler),
            Request::AddService(s) => format!("add-svc {:?}", s.key),
            Request::AddDest { dest, .. } => format!("add {} w{}", dest.addr, dest.weight),
            Request::EditDest { dest, .. } => format!("edit {} w{}", dest.addr, dest.weight),
            other => format!("{other:?}"),
        })
        .collect();
    let svc = |a: &str| {
        format!(
            "{:?}",
            lvs_proto::ServiceKey::Addr {
                protocol: lvs_proto::Protocol::Tcp,
                addr: ip(a),
                port: 80
            }
        )
    };
    assert_eq!(
        got,
        [
            "del 10.0.1.2".to_owned(),
            format!("del-svc {}", svc("10.0.0.2")),
            "edit-svc wlc".to_owned(),
            format!("add-svc {}", svc("10.0.0.3")),
            "add 10.0.1.3 w1".to_owned(),
            "add 10.0.2.1 w1".to_owned(),
            "edit 10.0.1.1 w5".to_owned(),
        ]
    );
}

#[test]
fn reconcile_adapts_a_batch_to_a_table_changed_by_hand() {
    let load_text = |t: &str| {
        let fs = lvs_config::MemFs::new().with("/k.conf", t);
        check(&fs, Path::new("/k.conf"), &Options::default())
            .config
            .unwrap()
    };
    let conf = |servers: &[&str]| {
        let mut t = String::from("virtual_server 10.0.0.1 80 {\n protocol TCP\n lb_algo rr\n");
        for s in servers {
            t.push_str(&format!(" real_server {s} 80 {{\n weight 2\n }}\n"));
        }
        t.push_str("}\n");
        t
    };
    let believed = lower_table(&load_text(&conf(&["10.0.1.1", "10.0.1.2"])));
    let new = lower_table(&load_text(&conf(&["10.0.1.1", "10.0.1.3"])));
    let batch = diff(&believed, &new);
    // By hand meanwhile: 10.0.1.2 deleted, 10.0.1.3 added.
    let live = lower_table(&load_text(&conf(&["10.0.1.1", "10.0.1.3"])));
    let kinds = |reqs: &[Request]| -> Vec<String> {
        reqs.iter()
            .map(|r| match r {
                Request::DelDest { dest, .. } => format!("del {}", dest.addr),
                Request::AddDest { dest, .. } => format!("add {}", dest.addr),
                Request::EditDest { dest, .. } => format!("edit {}", dest.addr),
                other => format!("{other:?}"),
            })
            .collect()
    };
    assert_eq!(kinds(&batch), ["del 10.0.1.2", "add 10.0.1.3"]);
    assert_eq!(
        kinds(&lvs_config::reconcile(batch.clone(), &live)),
        ["edit 10.0.1.3"]
    );
    // Against the believed table nothing changes.
    assert_eq!(lvs_config::reconcile(batch.clone(), &believed), batch);
    // A service deleted by hand is not re-created: the add of its
    // destination stays (and the daemon's batch is refused as a whole).
    let svc_only: Vec<lvs_config::TableService> = Vec::new();
    let fixed = lvs_config::reconcile(batch, &svc_only);
    assert_eq!(kinds(&fixed), ["add 10.0.1.3"]);
}
