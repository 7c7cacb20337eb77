//! `lower` against the IPVS tables keepalived 2.2.7 built in the lab VM
//! (`testdata/keepalived/samples/*.ipvsadm`, `ipvsadm -Sn` after start-up).
//!
//! The golden file is fed to our `ipvsadm -R` (lvs-ipvsadm) with a backend
//! that records the requests instead of applying them; the lowering of the
//! same configuration must produce the same set of requests.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use lvs_config::{Config, Options, OsFs, check, lower};
use lvs_proto::{FwdMethod, Info, Request, Response};

fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/keepalived/samples")
}

fn load(name: &str, id: Option<&str>) -> Config {
    let opts = Options {
        config_id: id.map(str::to_owned),
        ..Options::default()
    };
    let report = check(&OsFs, &samples().join(name), &opts);
    report.config.expect("sample loads")
}

fn load_text(text: &str) -> Config {
    let fs = lvs_config::MemFs::new().with("/k.conf", text);
    let report = check(&fs, Path::new("/k.conf"), &Options::default());
    let errors: Vec<String> = report.errors().map(ToString::to_string).collect();
    assert!(errors.is_empty(), "{errors:?}");
    report.config.expect("accepted")
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

/// The requests `ipvsadm -R < golden` sends.
fn golden(tag: &str) -> Vec<Request> {
    golden_at(&samples().join(format!("{tag}.ipvsadm")))
}

fn golden_at(path: &Path) -> Vec<Request> {
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

fn sorted(reqs: &[Request]) -> Vec<String> {
    let mut v: Vec<String> = reqs.iter().map(|r| format!("{r:?}")).collect();
    v.sort();
    v
}

#[test]
fn lowering_matches_keepalived_tables() {
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
        // `lvs_timeouts` is not part of `ipvsadm -Sn` (checked below).
        let lowered: Vec<Request> = lower(&load(file, id))
            .into_iter()
            .filter(|r| !matches!(r, Request::SetTimeouts(_)))
            .collect();
        assert_eq!(
            sorted(&lowered),
            sorted(&golden(tag)),
            "{file} with config id {id:?}"
        );
    }
}

#[test]
fn lvs_timeouts_come_first() {
    // lvs_syncd.conf: `lvs_timeouts tcp 900 tcpfin 120 udp 300`.
    let reqs = lower(&load("lvs_syncd.conf", None));
    assert_eq!(
        reqs.first(),
        Some(&Request::SetTimeouts(lvs_proto::Timeouts {
            tcp: 900,
            tcp_fin: 120,
            udp: 300
        }))
    );
    let reqs = lower(&load_text(
        "global_defs {\n lvs_timeouts udp 30\n}\nvirtual_server 10.0.0.1 80 {\n protocol TCP\n real_server 10.0.1.1 80 {\n }\n}\n",
    ));
    assert_eq!(
        reqs.first(),
        Some(&Request::SetTimeouts(lvs_proto::Timeouts {
            tcp: 0,
            tcp_fin: 0,
            udp: 30
        }))
    );
    assert!(
        !lower(&load("sample.conf", None))
            .iter()
            .any(|r| matches!(r, Request::SetTimeouts(_)))
    );
}

#[test]
fn every_dest_follows_its_service() {
    // Order matters for one atomic batch: a destination needs its service.
    let reqs = lower(&load("virtual_server_group.conf", None));
    let mut seen = Vec::new();
    for r in &reqs {
        match r {
            Request::AddService(s) => seen.push(s.key),
            Request::AddDest { service, .. } => assert!(seen.contains(service), "{r:?}"),
            other => panic!("unexpected {other:?}"),
        }
    }
}

fn dests(reqs: &[Request]) -> Vec<(IpAddr, u16, FwdMethod, i32)> {
    reqs.iter()
        .filter_map(|r| match r {
            Request::AddDest { dest, .. } => Some((dest.addr, dest.port, dest.fwd, dest.weight)),
            _ => None,
        })
        .collect()
}

#[test]
fn fnat_thresholds_and_alpha() {
    // FNAT is lvs-rs's full NAT; alpha holds back a checked server, not an
    // unchecked one; inhibit_on_failure keeps a held-back server at weight 0.
    let cfg = load_text(
        "virtual_server 192.0.2.1 80 {\n lb_kind FNAT\n protocol TCP\n alpha\n \
         real_server 10.0.0.1 8080 {\n  weight 3\n  uthreshold 100\n  lthreshold 10\n }\n \
         real_server 10.0.0.2 8080 {\n  TCP_CHECK {\n  }\n }\n \
         real_server 10.0.0.3 8080 {\n  inhibit_on_failure\n  TCP_CHECK {\n  }\n }\n}\n",
    );
    let reqs = lower(&cfg);
    let d = dests(&reqs);
    assert_eq!(
        d,
        [
            ("10.0.0.1".parse().unwrap(), 80, FwdMethod::FullNat, 3),
            ("10.0.0.3".parse().unwrap(), 80, FwdMethod::FullNat, 0),
        ]
    );
    let Some(Request::AddDest { dest, .. }) = reqs.get(1) else {
        panic!("{reqs:?}")
    };
    assert_eq!((dest.u_threshold, dest.l_threshold), (100, 10));
}

/// `tests/lower/startup.conf`, run by keepalived 2.2.7 in the lab VM
/// (`keepalived -C`, `ipvsadm -Sn` 3 s later, before any check ran; saved as
/// `startup.ipvsadm`): alpha with the quorum lost (sorry server at weight 1,
/// the inhibited server at 0, the other left out), `sorry_server_inhibit`
/// with the quorum up (sorry server at 0), alpha on a server without checker
/// (added) and with one (left out), a DR group whose real server port is
/// reset to the service port, and keepalived's quorum reduction.
#[test]
fn start_up_rules_match_keepalived() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/lower");
    let report = check(&OsFs, &dir.join("startup.conf"), &Options::default());
    let cfg = report.config.expect("startup.conf loads");
    assert_eq!(
        sorted(&lower(&cfg)),
        sorted(&golden_at(&dir.join("startup.ipvsadm")))
    );
}

mod props {
    use super::*;
    use lvs_proto::ServiceKey;
    use proptest::prelude::*;

    /// One real server: port, weight, method keyword.
    type Rs = (u16, u32, &'static str);

    fn rs_strategy() -> impl Strategy<Value = Rs> {
        (
            1u16..=65535,
            0u32..=1000,
            prop::sample::select(vec!["NAT", "DR", "FNAT", "TUN"]),
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

        /// Without alpha or sorry server: one service per group member, every
        /// real server on each, in order, with its weight; the port is the
        /// real server's for NAT, the service's otherwise (0 for fwmarks).
        #[test]
        fn group_expansion(
            ranges in prop::collection::vec((1u8..=100, 0u8..=4, 1u16..=65535), 1..4),
            marks in prop::collection::vec(1u32..=1000, 0..3),
            servers in prop::collection::btree_map(1u8..=250, rs_strategy(), 1..4),
        ) {
            let mut text = String::from("virtual_server_group G {\n");
            for (i, (first, extra, port)) in ranges.iter().enumerate() {
                let last = first + extra;
                text.push_str(&format!("  10.{i}.0.{first}-{last} {port}\n"));
            }
            for m in &marks {
                text.push_str(&format!("  fwmark {m}\n"));
            }
            text.push_str("}\nvirtual_server group G {\n  protocol TCP\n  lb_algo rr\n");
            for (octet, (port, weight, method)) in &servers {
                text.push_str(&format!(
                    "  real_server 10.200.0.{octet} {port} {{\n    weight {weight}\n    lvs_method {method}\n  }}\n"
                ));
            }
            text.push_str("}\n");
            let cfg = load_text(&text);
            let reqs = lower(&cfg);

            let mut want_keys: Vec<ServiceKey> = Vec::new();
            for (i, (first, extra, port)) in ranges.iter().enumerate() {
                for n in *first..=first + extra {
                    want_keys.push(ServiceKey::Addr {
                        protocol: lvs_proto::Protocol::Tcp,
                        addr: format!("10.{i}.0.{n}").parse().unwrap(),
                        port: *port,
                    });
                }
            }
            // Marks as the model kept them (a repeated entry may be dropped
            // by the loader).
            let group_marks: Vec<u32> = cfg.group("G").unwrap().entries.iter().filter_map(|e| match e {
                lvs_config::VsgEntry::Fwmark { mark, .. } => Some(*mark),
                _ => None,
            }).collect();
            for m in &group_marks {
                want_keys.push(ServiceKey::Fwmark { mark: *m, family: lvs_proto::Family::Inet });
            }
            let rs: Vec<&lvs_config::RealServer> = cfg.virtual_servers[0].real_servers.iter().collect();
            let mut it = reqs.iter();
            for key in &want_keys {
                let Some(Request::AddService(spec)) = it.next() else { panic!("service {key:?} missing") };
                prop_assert_eq!(&spec.key, key);
                for r in &rs {
                    let Some(Request::AddDest { service, dest }) = it.next() else { panic!("dest missing") };
                    prop_assert_eq!(service, key);
                    prop_assert_eq!(dest.addr, r.addr);
                    prop_assert_eq!(i64::from(dest.weight), i64::from(r.weight.unwrap()));
                    let want_port = if matches!(dest.fwd, FwdMethod::Masq) { r.port } else { key.port() };
                    prop_assert_eq!(dest.port, want_port);
                }
            }
            prop_assert!(it.next().is_none());
        }
    }
}
