//! Golden tests: whole ipvsadm invocations (argv → request → listing) against
//! the bytes, exit status and stderr the real ipvsadm 1.31 produced in the lab
//! (`testdata/ipvsadm/golden/`, captured by `scripts/capture-ipvsadm.sh`).
//!
//! The daemon is a fake backend holding the state the captures were taken
//! from: `golden/state.json` (configuration, kernel order, connection counts
//! and counters, see `scripts/make-state.py`), the kernel's
//! `/proc/net/ip_vs_conn` snapshots for connection listings, and the lab's
//! `/etc/hosts` and `/etc/services` for name resolution.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

use lvs_ipvsadm::run::{Backend, ConnectError, Io, RunOptions, TransportError, run};
use lvs_ipvsadm::{FilesResolver, Resolver};
use lvs_proto::*;

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/ipvsadm/golden")
}

fn read(name: &str) -> String {
    std::fs::read_to_string(golden_dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn resolver() -> FilesResolver {
    FilesResolver::new(&read("etc-hosts"), &read("etc-services"))
}

#[derive(serde::Deserialize)]
struct State {
    info: Info,
    services: Vec<ServiceEntry>,
}

fn state() -> State {
    serde_json::from_str(&read("state.json")).unwrap()
}

/// A daemon answering from fixed data.
#[derive(Default)]
struct Fake {
    info: Option<Info>,
    services: Vec<ServiceEntry>,
    conns: Vec<ConnEntry>,
    timeouts: Timeouts,
    daemons: Vec<DaemonEntry>,
    /// Errno returned to changes.
    change_error: Option<Errno>,
    requests: Vec<Request>,
}

impl Backend for Fake {
    fn connect(&mut self) -> Result<Info, ConnectError> {
        self.info
            .ok_or_else(|| ConnectError::Unavailable("no daemon".into()))
    }

    fn call(&mut self, req: Request) -> Result<Response, TransportError> {
        self.requests.push(req.clone());
        Ok(match req {
            Request::ListServices => Response::Services(self.services.clone()),
            Request::GetService(k) => match self.services.iter().find(|s| s.spec.key == k) {
                Some(s) => Response::Service(s.clone()),
                None => Response::Error(ApiError::new(Errno::Esrch)),
            },
            Request::ListConnections => Response::Connections(self.conns.clone()),
            Request::GetTimeouts => Response::Timeouts(self.timeouts),
            Request::ListDaemons => Response::Daemons(self.daemons.clone()),
            _ => match self.change_error {
                Some(e) => Response::Error(ApiError::new(e)),
                None => Response::Ok,
            },
        })
    }
}

fn fake_from_state() -> Fake {
    let s = state();
    Fake {
        info: Some(s.info),
        services: s.services,
        timeouts: Timeouts {
            tcp: 3600,
            tcp_fin: 3600,
            udp: 3600,
        },
        ..Fake::default()
    }
}

fn invoke(args: &str, fake: &mut Fake, r: &dyn Resolver) -> (String, String, i32) {
    let argv: Vec<String> = std::iter::once("ipvsadm")
        .chain(args.split_whitespace())
        .map(String::from)
        .collect();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let mut stdin: &[u8] = b"";
    let code = {
        let mut io = Io {
            stdin: &mut stdin,
            stdout: &mut out,
            stderr: &mut err,
        };
        run(&argv, &mut io, fake, r, RunOptions::default())
    };
    (
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
        code,
    )
}

/// Compares with `golden/NAME.{out,err,rc}`.
fn check(name: &str, args: &str, fake: &mut Fake) {
    let (out, err, code) = invoke(args, fake, &resolver());
    let want_out = read(&format!("{name}.out"));
    let want_err = read(&format!("{name}.err"));
    let want_rc: i32 = read(&format!("{name}.rc")).trim().parse().unwrap();
    if out != want_out {
        let diff: Vec<String> = want_out
            .lines()
            .zip(out.lines())
            .enumerate()
            .filter(|(_, (a, b))| a != b)
            .take(5)
            .map(|(i, (a, b))| format!("line {}:\n  want {a:?}\n  got  {b:?}", i + 1))
            .collect();
        panic!(
            "{name} (ipvsadm {args}): stdout differs ({} vs {} lines)\n{}",
            want_out.lines().count(),
            out.lines().count(),
            diff.join("\n")
        );
    }
    assert_eq!(err, want_err, "{name}: stderr");
    assert_eq!(code, want_rc, "{name}: exit status");
}

#[test]
fn full_listings() {
    let cases = [
        ("list_noargs", ""),
        ("list_L", "-L"),
        ("list_l", "-l"),
        ("list_Ln", "-Ln"),
        ("list_Ln_nosort", "-Ln --nosort"),
        ("list_Ln_exact", "-Ln --exact"),
        ("list_stats", "-L --stats"),
        ("list_Ln_stats", "-Ln --stats"),
        ("list_Ln_stats_exact", "-Ln --stats --exact"),
        ("list_Ln_stats_nosort", "-Ln --stats --nosort"),
        ("list_rate", "-L --rate"),
        ("list_Ln_rate", "-Ln --rate"),
        ("list_Ln_rate_exact", "-Ln --rate --exact"),
        ("list_Ln_stats_rate", "-Ln --stats --rate"),
        ("list_Ln_thresholds", "-Ln --thresholds"),
        ("list_thresholds", "-L --thresholds"),
        ("list_Ln_pconn", "-Ln --persistent-conn"),
        ("list_pconn", "-L --persistent-conn"),
        (
            "list_Ln_thresholds_pconn",
            "-Ln --thresholds --persistent-conn",
        ),
        ("list_Ln_tuninfo", "-Ln --tun-info"),
        ("list_tuninfo", "-L --tun-info"),
        ("list_Ln_stats_tuninfo", "-Ln --stats --tun-info"),
        ("list_Ln_pconn_tuninfo", "-Ln --persistent-conn --tun-info"),
        ("list_Ln_rate_thresholds", "-Ln --rate --thresholds"),
    ];
    for (name, args) in cases {
        check(name, args, &mut fake_from_state());
    }
}

#[test]
fn single_service_listings() {
    let cases = [
        ("one_Ln_t80", "-Ln -t 10.0.0.1:80"),
        ("one_L_thttp", "-L -t 10.0.0.1:http"),
        ("one_L_tname", "-L -t vip1.example:80"),
        ("one_Ln_stats_t80", "-Ln --stats -t 10.0.0.1:80"),
        ("one_Ln_rate_u53", "-Ln --rate -u 10.0.0.1:53"),
        ("one_Ln_thr_t8443", "-Ln --thresholds -t 10.0.0.1:8443"),
        ("one_Ln_tun_t8443", "-Ln --tun-info -t 10.0.0.1:8443"),
        ("one_Ln_f7", "-Ln -f 7"),
        ("one_Ln_f8v6", "-Ln -f 8 -6"),
        ("one_Ln_fmax", "-Ln -f 4294967295"),
        ("one_Ln_t6", "-Ln -t [2001:db8::1]:80"),
        ("one_L_t6", "-L -t [2001:db8::1]:80"),
        ("one_Ln_sctp", "-Ln --sctp-service 10.0.0.1:5672"),
        ("one_Ln_missing", "-Ln -t 10.0.0.1:84"),
        ("one_Ln_missing_f", "-Ln -f 99"),
        (
            "one_Ln_pconn_u5060",
            "-Ln --persistent-conn -u 10.0.0.1:5060",
        ),
        ("one_Ln_exact_t80", "-Ln --exact --stats -t 10.0.0.1:80"),
    ];
    for (name, args) in cases {
        check(name, args, &mut fake_from_state());
    }
}

#[test]
fn timeouts_and_empty_daemon_list() {
    check("timeout", "-L --timeout", &mut fake_from_state());
    check("timeout_n", "-Ln --timeout", &mut fake_from_state());
    check("daemon_none", "-L --daemon", &mut fake_from_state());
}

/// ipvsadm -S forgets thresholds; lvsadm saves non-zero ones (documented
/// deviation): the expected text is the capture with ` -x U -y L` appended to
/// those destinations' lines.
fn with_thresholds(captured: &str, st: &State, numeric: bool) -> String {
    let r = resolver();
    let mut out = String::new();
    for line in captured.lines() {
        out.push_str(line);
        if line.starts_with("-a ") {
            for s in &st.services {
                for d in &s.dests {
                    let (u, l) = (d.spec.u_threshold, d.spec.l_threshold);
                    if u == 0 && l == 0 {
                        continue;
                    }
                    let proto = s.spec.key.protocol();
                    let dn =
                        lvs_ipvsadm::format::addrport(d.spec.addr, d.spec.port, proto, numeric, &r);
                    let vn = match s.spec.key {
                        ServiceKey::Addr { addr, port, .. } => {
                            lvs_ipvsadm::format::addrport(addr, port, proto, numeric, &r)
                        }
                        ServiceKey::Fwmark { .. } => continue,
                    };
                    if line.contains(&format!(" {vn} -r {dn} ")) {
                        if u != 0 {
                            out.push_str(&format!(" -x {u}"));
                        }
                        if l != 0 {
                            out.push_str(&format!(" -y {l}"));
                        }
                    }
                }
            }
        }
        out.push('\n');
    }
    out
}

#[test]
fn save_formats() {
    let st = state();
    for (name, args, numeric) in [
        ("save", "-S", false),
        ("save_n", "-Sn", true),
        ("save_long", "--save --numeric", true),
    ] {
        let (out, err, code) = invoke(args, &mut fake_from_state(), &resolver());
        let want = with_thresholds(&read(&format!("{name}.out")), &st, numeric);
        assert_ne!(
            want,
            read(&format!("{name}.out")),
            "the state has thresholds to save"
        );
        assert_eq!(out, want, "{name}");
        assert_eq!(err, "");
        assert_eq!(code, 0);
    }
}

#[test]
fn early_listing_with_short_lived_connections() {
    // Same state, connection counts from the /proc/net/ip_vs snapshot taken
    // with that listing (TIME_WAIT connections still counted).
    let mut fake = fake_from_state();
    let proc_counts = proc_ip_vs_counts(&read("early_Ln.proc"));
    for s in &mut fake.services {
        for d in &mut s.dests {
            let (a, i) = proc_counts[&(s.spec.key, d.spec.addr, d.spec.port)];
            d.active_conns = a;
            d.inact_conns = i;
        }
    }
    check("early_Ln", "-Ln", &mut fake);
}

fn hexaddr(s: &str) -> IpAddr {
    match s.strip_prefix('[').and_then(|x| x.strip_suffix(']')) {
        Some(v6) => IpAddr::V6(v6.parse().unwrap()),
        None => IpAddr::V4(Ipv4Addr::from(u32::from_str_radix(s, 16).unwrap())),
    }
}

fn split_hex_addrport(s: &str) -> (IpAddr, u16) {
    let i = s.rfind(':').unwrap();
    (
        hexaddr(&s[..i]),
        u16::from_str_radix(&s[i + 1..], 16).unwrap(),
    )
}

/// `/proc/net/ip_vs` → (service key, dest addr, dest port) → (active, inactive).
fn proc_ip_vs_counts(text: &str) -> HashMap<(ServiceKey, IpAddr, u16), (u32, u32)> {
    let st = state();
    let mut m = HashMap::new();
    let mut cur: Option<ServiceKey> = None;
    for line in text.lines().skip(3) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f[0] == "->" {
            let (a, p) = split_hex_addrport(f[1]);
            m.insert(
                (cur.unwrap(), a, p),
                (f[4].parse().unwrap(), f[5].parse().unwrap()),
            );
        } else if f[0] == "FWM" {
            let mark = u32::from_str_radix(f[1], 16).unwrap();
            cur = st
                .services
                .iter()
                .map(|s| s.spec.key)
                .find(|k| matches!(k, ServiceKey::Fwmark { mark: m, .. } if *m == mark));
        } else {
            let (a, p) = split_hex_addrport(f[1]);
            let protocol = match f[0] {
                "TCP" => Protocol::Tcp,
                "UDP" => Protocol::Udp,
                _ => Protocol::Sctp,
            };
            cur = Some(ServiceKey::Addr {
                protocol,
                addr: a,
                port: p,
            });
        }
    }
    m
}

/// A `/proc/net/ip_vs_conn` snapshot as connection entries. The expiry times
/// tick between the snapshot and the listing, so they are taken from the
/// listing's `mm:ss` column; every other field is the kernel's.
fn conns_from_proc(proc_text: &str, listing: &str) -> Vec<ConnEntry> {
    let expires: Vec<u32> = listing
        .lines()
        .skip(2)
        .map(|l| {
            let e = l.split_whitespace().nth(1).unwrap();
            let (m, s) = e.split_once(':').unwrap();
            m.parse::<u32>().unwrap() * 60 + s.parse::<u32>().unwrap()
        })
        .collect();
    let addr = |s: &str| -> IpAddr {
        if s.contains(':') {
            IpAddr::V6(s.parse::<Ipv6Addr>().unwrap())
        } else {
            IpAddr::V4(Ipv4Addr::from(u32::from_str_radix(s, 16).unwrap()))
        }
    };
    let port = |s: &str| u16::from_str_radix(s, 16).unwrap();
    let rows: Vec<ConnEntry> = proc_text
        .lines()
        .skip(1)
        .zip(expires.iter())
        .map(|(l, &exp)| {
            let f: Vec<&str> = l.split_whitespace().collect();
            ConnEntry {
                protocol: match f[0] {
                    "TCP" => ConnProtocol::Tcp,
                    "UDP" => ConnProtocol::Udp,
                    "SCTP" => ConnProtocol::Sctp,
                    _ => ConnProtocol::Ip,
                },
                caddr: addr(f[1]),
                cport: port(f[2]),
                vaddr: addr(f[3]),
                vport: port(f[4]),
                daddr: addr(f[5]),
                dport: port(f[6]),
                state: f[7].to_string(),
                expires: exp,
                pe_name: f.get(9).map(|s| s.to_string()),
                pe_data: f.get(10).map(|s| s.to_string()),
            }
        })
        .collect();
    assert_eq!(
        rows.len(),
        expires.len(),
        "snapshot and listing have the same entries"
    );
    rows
}

#[test]
fn connection_listings() {
    for (name, args) in [
        ("conn_Lnc", "-Lnc"),
        ("conn_Lc", "-Lc"),
        ("conn_Lnc_pconn", "-Lnc --persistent-conn"),
        ("conn_Lc_pconn", "-Lc --persistent-conn"),
        ("conn_Lnc_late", "-Lnc"),
    ] {
        let mut fake = fake_from_state();
        fake.conns = conns_from_proc(
            &read(&format!("{name}.proc")),
            &read(&format!("{name}.out")),
        );
        check(name, args, &mut fake);
    }
}

#[test]
fn expire_column_worked_by_hand() {
    // "%02d:%02d" of minutes and seconds; minutes are not capped.
    let r = resolver();
    let mk = |exp| ConnEntry {
        protocol: ConnProtocol::Tcp,
        caddr: IpAddr::V4(Ipv4Addr::new(1, 2, 3, 4)),
        cport: 1,
        vaddr: IpAddr::V4(Ipv4Addr::new(5, 6, 7, 8)),
        vport: 2,
        daddr: IpAddr::V4(Ipv4Addr::new(9, 10, 11, 12)),
        dport: 3,
        state: "ESTABLISHED".into(),
        expires: exp,
        pe_name: None,
        pe_data: None,
    };
    let mut fake = fake_from_state();
    fake.conns = vec![mk(0), mk(59), mk(61), mk(6000)];
    let (out, _, _) = invoke("-Lnc", &mut fake, &r);
    let col: Vec<&str> = out.lines().skip(2).map(|l| &l[4..10]).collect();
    assert_eq!(col, vec!["00:00 ", "00:59 ", "01:01 ", "100:00"]);
}

fn daemon(
    state: DaemonState,
    ifn: &str,
    syncid: u8,
    maxlen: u16,
    group: &str,
    port: u16,
    ttl: u8,
) -> DaemonEntry {
    DaemonEntry {
        state,
        mcast_ifn: ifn.into(),
        syncid,
        sync_maxlen: Some(maxlen),
        mcast_group: Some(group.parse().unwrap()),
        mcast_port: Some(port),
        mcast_ttl: Some(ttl),
    }
}

#[test]
fn daemon_listings() {
    // As the kernel reported the daemons started in capture-ipvsadm.sh §5
    // (kernel defaults: maxlen 1472 / 1452 for IPv6, group 224.0.0.81,
    // port 8848, ttl 1).
    let master = daemon(DaemonState::Master, "vs0", 5, 1400, "224.0.0.99", 9000, 2);
    let backup = daemon(DaemonState::Backup, "vs1", 6, 1472, "224.0.0.81", 8848, 1);
    let mut fake = fake_from_state();
    // Backup first: the listing still shows the master first.
    fake.daemons = vec![backup, master.clone()];
    check("daemon", "-L --daemon", &mut fake);
    check("daemon_n", "-Ln --daemon", &mut fake);
    fake.daemons = vec![
        master,
        daemon(DaemonState::Backup, "vs1", 0, 1452, "ff02::9", 9001, 1),
    ];
    check("daemon6", "-L --daemon", &mut fake);
    fake.daemons = vec![daemon(
        DaemonState::Master,
        "lo",
        0,
        1472,
        "224.0.0.81",
        8848,
        1,
    )];
    check("daemon_plain", "-L --daemon", &mut fake);
}

#[test]
fn daemon_commands() {
    let mut fake = fake_from_state();
    fake.change_error = Some(Errno::Eexist);
    check(
        "d_again",
        "--start-daemon master --mcast-interface vs0",
        &mut fake,
    );
    fake.change_error = Some(Errno::Enodev);
    check("d_start_default", "--start-daemon master", &mut fake);
    assert_eq!(
        fake.requests.last(),
        Some(&Request::StartDaemon(DaemonConfig {
            state: DaemonState::Master,
            mcast_ifn: "eth0".into(),
            syncid: 0,
            sync_maxlen: None,
            mcast_group: None,
            mcast_port: None,
            mcast_ttl: None,
        }))
    );
    fake.change_error = None;
    check(
        "d_start_master",
        "--start-daemon master --mcast-interface vs0 --syncid 5 --sync-maxlen 1400 --mcast-group 224.0.0.99 --mcast-port 9000 --mcast-ttl 2",
        &mut fake,
    );
    assert_eq!(
        fake.requests.last(),
        Some(&Request::StartDaemon(DaemonConfig {
            state: DaemonState::Master,
            mcast_ifn: "vs0".into(),
            syncid: 5,
            sync_maxlen: Some(1400),
            mcast_group: Some("224.0.0.99".parse().unwrap()),
            mcast_port: Some(9000),
            mcast_ttl: Some(2),
        }))
    );
    check(
        "d_stop_backup_syncid",
        "--stop-daemon backup --syncid 99",
        &mut fake,
    );
    assert_eq!(
        fake.requests.last(),
        Some(&Request::StopDaemon(DaemonState::Backup))
    );
    check("daemon_after_stop", "--daemon -L", &mut fake);
}

#[test]
fn empty_table_zero_and_flush() {
    let empty = || Fake {
        info: Some(Info {
            version: Info::KERNEL_VERSION,
            conn_tab_size: 4096,
        }),
        ..Fake::default()
    };
    check("empty_Ln", "-Ln", &mut empty());
    check("empty_stats", "-Ln --stats", &mut empty());
    check("empty_save", "-S", &mut empty());
    check("flush", "-C", &mut empty());
    let mut zeroed = fake_from_state();
    for s in &mut zeroed.services {
        s.stats = Stats::default();
        for d in &mut s.dests {
            d.stats = Stats::default();
        }
    }
    check("after_zero", "-Ln --stats", &mut zeroed);
    let mut f = fake_from_state();
    check("zero_all", "-Z", &mut f);
    assert_eq!(f.requests, vec![Request::Zero(None)]);
}

#[test]
fn daemon_unreachable_is_cant_initialize() {
    check("noipvs_list", "-Ln", &mut Fake::default());
    check("noipvs_help", "-h", &mut Fake::default());
}
