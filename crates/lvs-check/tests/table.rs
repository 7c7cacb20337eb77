//! The table the state machines stand for, and the reload carry-over.
//!
//! - A freshly started machine stands for exactly the start-up table that
//!   `lvs_config::lower_table` builds (itself golden-tested against the
//!   lab's keepalived), for every sample of the corpus.
//! - Property: applying every emitted action, in order, to a table gives
//!   [`VsMachine::ipvs_dests`], whatever the sequence of check results.
//! - Reload: expected states worked by hand from keepalived 2.x's
//!   `clear_diff_rs` / `migrate_checkers` rules.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use lvs_check::{Action, CheckerId, Outcome, ScriptRef, Target, VsMachine, XorShift, table};
use lvs_config::{Config, MemFs, Options, OsFs, VirtualServer};
use lvs_proto::Request;
use proptest::prelude::*;

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/keepalived")
}

fn conf_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() && p.file_name().is_some_and(|n| n != "conf.d") {
            conf_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "conf") {
            out.push(p);
        }
    }
}

fn load_str(conf: &str) -> Config {
    let fs = MemFs::new().with("/k.conf", conf);
    let report = lvs_config::check(&fs, Path::new("/k.conf"), &Options::default());
    report.into_result().unwrap().0
}

fn start(cfg: &Config) -> Vec<VsMachine> {
    cfg.virtual_servers
        .iter()
        .map(|vs| VsMachine::new(vs, Duration::ZERO, &mut XorShift(3), &mut Vec::new()))
        .collect()
}

fn machine_table(cfg: &Config, machines: &[VsMachine]) -> Vec<lvs_config::TableService> {
    cfg.virtual_servers
        .iter()
        .zip(machines)
        .flat_map(|(vs, m)| table::table(&lvs_config::vs_services(cfg, vs), m))
        .collect()
}

#[test]
fn fresh_machines_stand_for_the_start_up_table_of_every_sample() {
    let mut files = Vec::new();
    conf_files(&corpus(), &mut files);
    let mut checked = 0;
    for f in files {
        for id in [None, Some("high"), Some("low")] {
            let opts = Options {
                config_id: id.map(str::to_owned),
                ..Options::default()
            };
            let Some(cfg) = lvs_config::check(&OsFs, &f, &opts).config else {
                continue;
            };
            let machines = start(&cfg);
            assert_eq!(
                machine_table(&cfg, &machines),
                lvs_config::lower_table(&cfg),
                "{} ({id:?})",
                f.display()
            );
            checked += 1;
        }
    }
    // Each file loads at least once (the conditional one with each id).
    assert!(checked >= 30, "only {checked} configurations loaded");
}

const QUORUM: &str = r#"
virtual_server 10.0.0.1 80 {
    delay_loop 2
    lb_algo wrr
    lb_kind NAT
    protocol TCP
    quorum 4
    hysteresis 1
    sorry_server 10.0.1.99 8080
    real_server 10.0.1.1 80 {
        weight 2
        TCP_CHECK {
            connect_timeout 1
            retry 1
            delay_before_retry 1
        }
    }
    real_server 10.0.1.2 80 {
        weight 2
        inhibit_on_failure
        HTTP_GET {
            url {
                path /
                status_code 200
            }
            retry 0
        }
    }
    real_server 10.0.1.3 80 {
        weight 3
        MISC_CHECK {
            misc_path "/bin/true"
            misc_dynamic
        }
    }
    real_server 10.0.1.4 80 {
        weight 1
        alpha
        TCP_CHECK {
            retry 2
        }
    }
}
"#;

fn simulate(tbl: &mut BTreeMap<(IpAddr, u16), u32>, actions: &[Action]) {
    for a in actions {
        match a {
            Action::AddDest { dest, .. } => {
                assert!(
                    tbl.insert((dest.addr, dest.port), dest.weight).is_none(),
                    "add of a present destination: {a:?}"
                );
            }
            Action::SetWeight { dest, .. } => {
                let w = tbl.get_mut(&(dest.addr, dest.port));
                *w.unwrap_or_else(|| panic!("edit of a missing destination: {a:?}")) = dest.weight;
            }
            Action::RemoveDest { dest, .. } => {
                assert!(
                    tbl.remove(&(dest.addr, dest.port)).is_some(),
                    "removal of a missing destination: {a:?}"
                );
            }
            Action::RunScript(_) => {}
        }
    }
}

fn as_map(m: &VsMachine) -> BTreeMap<(IpAddr, u16), u32> {
    m.ipvs_dests()
        .into_iter()
        .map(|(_, d)| ((d.addr, d.port), d.weight))
        .collect()
}

fn outcome() -> impl Strategy<Value = Outcome> {
    prop_oneof![
        Just(Outcome::Up),
        Just(Outcome::Down),
        (0u32..6).prop_map(Outcome::UpWithWeight),
    ]
}

proptest! {
    #[test]
    fn actions_build_exactly_the_machine_table(
        steps in proptest::collection::vec((0usize..4, outcome()), 0..60)
    ) {
        let vs = load_str(QUORUM).virtual_servers.remove(0);
        let mut out = Vec::new();
        let mut m = VsMachine::new(&vs, Duration::ZERO, &mut XorShift(1), &mut out);
        let mut tbl = BTreeMap::new();
        simulate(&mut tbl, &out);
        prop_assert_eq!(&tbl, &as_map(&m));
        for (t, (real, o)) in steps.into_iter().enumerate() {
            let mut out = Vec::new();
            let now = Duration::from_secs(t as u64 + 1);
            m.on_result(now, CheckerId { real, checker: 0 }, o, &mut out);
            simulate(&mut tbl, &out);
            prop_assert_eq!(&tbl, &as_map(&m));
        }
        let mut out = Vec::new();
        m.shutdown(&mut out);
        simulate(&mut tbl, &out);
        prop_assert!(tbl.is_empty(), "{tbl:?}");
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn one_vs(conf: &str) -> VirtualServer {
    load_str(conf).virtual_servers.remove(0)
}

/// Feeds `n` failures to checker 0 of real `real`, one second apart.
fn fail(m: &mut VsMachine, t0: u64, real: usize, n: u64, out: &mut Vec<Action>) {
    for k in 0..n {
        m.on_result(
            Duration::from_secs(t0 + k),
            CheckerId { real, checker: 0 },
            Outcome::Down,
            out,
        );
    }
}

const BASE: &str = r#"
virtual_server 10.0.0.1 80 {
    lb_algo rr
    real_server 10.0.1.1 80 {
        weight 1
        notify_up "/bin/up a"
        notify_down "/bin/down a"
        TCP_CHECK {
            connect_timeout 1
            retry 1
        }
    }
    real_server 10.0.1.2 80 {
        weight 1
        TCP_CHECK {
            connect_timeout 1
            retry 1
        }
    }
    real_server 10.0.1.3 80 {
        weight 1
        TCP_CHECK {
            connect_timeout 1
            retry 1
        }
    }
}
"#;

#[test]
fn reload_keeps_the_down_state_of_a_kept_server_with_the_same_check() {
    let old_vs = one_vs(BASE);
    let mut old = VsMachine::new(&old_vs, Duration::ZERO, &mut XorShift(1), &mut Vec::new());
    // retry 1, the first failure is enough initially: rs0 goes down.
    let mut out = Vec::new();
    fail(&mut old, 1, 0, 1, &mut out);
    assert!(!old.is_alive(0));
    // New config: rs1's weight 1 -> 5, rs2 removed, rs 10.0.1.4 added.
    let new_vs = one_vs(
        r#"
virtual_server 10.0.0.1 80 {
    lb_algo rr
    real_server 10.0.1.1 80 {
        weight 1
        notify_up "/bin/up a"
        notify_down "/bin/down a"
        TCP_CHECK {
            connect_timeout 1
            retry 1
        }
    }
    real_server 10.0.1.2 80 {
        weight 5
        TCP_CHECK {
            connect_timeout 1
            retry 1
        }
    }
    real_server 10.0.1.4 80 {
        weight 1
        TCP_CHECK {
            connect_timeout 1
            retry 1
        }
    }
}
"#,
    );
    let mut new = VsMachine::new(&new_vs, Duration::ZERO, &mut XorShift(1), &mut Vec::new());
    let mut scripts = Vec::new();
    let carried = new.carry_from(&new_vs, &old_vs, &old, &mut scripts);
    // rs0 and rs1 are kept with the same checker; rs 10.0.1.4 is new.
    let ids = |r| CheckerId {
        real: r,
        checker: 0,
    };
    assert_eq!(carried, vec![(ids(0), ids(0)), (ids(1), ids(1))]);
    assert!(!new.is_alive(0), "down stays down: not re-added on reload");
    assert!(new.is_alive(1) && new.is_alive(2));
    assert_eq!(new.weight(1), Some(5));
    assert!(scripts.is_empty(), "no transition, no script: {scripts:?}");
    let dests: Vec<(IpAddr, u32)> = new
        .ipvs_dests()
        .into_iter()
        .map(|(_, d)| (d.addr, d.weight))
        .collect();
    assert_eq!(dests, vec![(ip("10.0.1.2"), 5), (ip("10.0.1.4"), 1)]);
    // The carried checker keeps its schedule (delay_loop 60 after the verdict).
    assert_eq!(new.next_due(ids(0)), old.next_due(ids(0)));
}

#[test]
fn reload_restarts_a_changed_checker_and_the_server_comes_back() {
    let old_vs = one_vs(BASE);
    let mut old = VsMachine::new(&old_vs, Duration::ZERO, &mut XorShift(1), &mut Vec::new());
    fail(&mut old, 1, 0, 1, &mut Vec::new());
    // rs0's check changes (another port): a fresh, non-alpha checker is up,
    // so the server is alive again: notify_up runs.
    let new_vs = one_vs(&BASE.replacen("retry 1\n", "retry 1\n connect_port 81\n", 1));
    let mut new = VsMachine::new(&new_vs, Duration::ZERO, &mut XorShift(1), &mut Vec::new());
    let mut scripts = Vec::new();
    let carried = new.carry_from(&new_vs, &old_vs, &old, &mut scripts);
    assert_eq!(carried.len(), 2, "{carried:?}");
    assert!(carried.iter().all(|(n, _)| n.real != 0));
    assert!(new.is_alive(0));
    assert_eq!(scripts, vec![Action::RunScript(ScriptRef::NotifyUp(0))]);
    assert_eq!(new.ipvs_dests().len(), 3);
}

#[test]
fn reload_with_a_new_alpha_checker_on_a_failed_server_keeps_it_down() {
    let old_vs = one_vs(BASE);
    let mut old = VsMachine::new(&old_vs, Duration::ZERO, &mut XorShift(1), &mut Vec::new());
    fail(&mut old, 1, 0, 1, &mut Vec::new());
    // A second checker (alpha) is added to the failed rs0: pessimistic,
    // it starts down; the first keeps its failed state.
    let new_vs = one_vs(&BASE.replacen(
        "retry 1\n        }\n",
        "retry 1\n        }\n        HTTP_GET {\n url {\n path /\n }\n alpha\n }\n",
        1,
    ));
    let mut new = VsMachine::new(&new_vs, Duration::ZERO, &mut XorShift(1), &mut Vec::new());
    let mut scripts = Vec::new();
    new.carry_from(&new_vs, &old_vs, &old, &mut scripts);
    assert!(!new.is_alive(0));
    assert!(scripts.is_empty());
    // The old checker passes: still down, the alpha one has not passed.
    let mut out = Vec::new();
    new.on_result(
        Duration::from_secs(70),
        CheckerId {
            real: 0,
            checker: 0,
        },
        Outcome::Up,
        &mut out,
    );
    assert!(!new.is_alive(0), "{out:?}");
}

#[test]
fn reload_keeps_the_sorry_server_while_the_quorum_stays_lost() {
    let conf = r#"
virtual_server 10.0.0.1 80 {
    lb_algo rr
    quorum 2
    sorry_server 10.0.9.9 80
    real_server 10.0.1.1 80 {
        weight 1
        TCP_CHECK {
            retry 1
        }
    }
    real_server 10.0.1.2 80 {
        weight 1
        TCP_CHECK {
            retry 1
        }
    }
}
"#;
    let old_vs = one_vs(conf);
    let mut old = VsMachine::new(&old_vs, Duration::ZERO, &mut XorShift(1), &mut Vec::new());
    fail(&mut old, 1, 1, 1, &mut Vec::new());
    assert!(old.sorry_active(), "1 < quorum 2");
    // Reload adds a third server of weight 1: 2 alive >= quorum 2 + 0:
    // the quorum is regained, the sorry server leaves, the alive servers
    // come back.
    let new_vs = one_vs(&conf.replace(
        "real_server 10.0.1.2 80",
        "real_server 10.0.1.3 80 {\n weight 1\n TCP_CHECK {\n retry 1\n }\n }\n real_server 10.0.1.2 80",
    ));
    let mut new = VsMachine::new(&new_vs, Duration::ZERO, &mut XorShift(1), &mut Vec::new());
    let mut scripts = Vec::new();
    new.carry_from(&new_vs, &old_vs, &old, &mut scripts);
    assert!(!new.sorry_active());
    let dests: Vec<IpAddr> = new.ipvs_dests().into_iter().map(|(_, d)| d.addr).collect();
    assert_eq!(dests, vec![ip("10.0.1.1"), ip("10.0.1.3")]);
    // Without the new server the quorum stays lost: the sorry server stays.
    let mut same = VsMachine::new(&old_vs, Duration::ZERO, &mut XorShift(1), &mut Vec::new());
    same.carry_from(&old_vs, &old_vs, &old, &mut Vec::new());
    assert!(same.sorry_active());
    assert_eq!(
        same.ipvs_dests(),
        old.ipvs_dests(),
        "same config, same table"
    );
    assert!(matches!(same.ipvs_dests()[..], [(Target::Sorry, _)]));
}

#[test]
fn requests_cover_every_service_of_a_group() {
    let cfg = load_str(
        r#"
virtual_server_group web {
    10.0.0.1-2 80
    fwmark 7
}
virtual_server group web {
    lb_kind DR
    real_server 10.0.1.1 80 {
        weight 3
    }
}
"#,
    );
    let vs = &cfg.virtual_servers[0];
    let services = lvs_config::vs_services(&cfg, vs);
    let m = start(&cfg).remove(0);
    let (_, dest) = m.ipvs_dests()[0];
    let reqs = table::requests(
        &services,
        &Action::RemoveDest {
            target: Target::Real(0),
            dest,
        },
    );
    // Three services; DR takes the service's port (0 for the fwmark).
    let ports: Vec<u16> = reqs
        .iter()
        .map(|r| match r {
            Request::DelDest { dest, .. } => dest.port,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(ports, vec![80, 80, 0]);
}

#[test]
fn reload_moves_a_serving_sorry_server_to_its_new_address() {
    let conf = r#"
virtual_server 10.0.0.1 80 {
    lb_algo rr
    quorum 2
    sorry_server 10.0.9.9 80
    real_server 10.0.1.1 80 {
        weight 1
        TCP_CHECK {
            retry 1
        }
    }
    real_server 10.0.1.2 80 {
        weight 1
        alpha
        TCP_CHECK {
            retry 1
        }
    }
}
"#;
    let old_vs = one_vs(conf);
    let old = VsMachine::new(&old_vs, Duration::ZERO, &mut XorShift(1), &mut Vec::new());
    // The alpha server starts down: 1 < quorum 2, the sorry server serves.
    assert!(old.sorry_active());
    let new_vs = one_vs(&conf.replace("10.0.9.9 80", "10.0.9.8 80"));
    let mut new = VsMachine::new(&new_vs, Duration::ZERO, &mut XorShift(1), &mut Vec::new());
    let mut scripts = Vec::new();
    new.carry_from(&new_vs, &old_vs, &old, &mut scripts);
    assert!(new.sorry_active() && !new.quorum_up());
    let dests: Vec<IpAddr> = new.ipvs_dests().into_iter().map(|(_, d)| d.addr).collect();
    assert_eq!(dests, vec![ip("10.0.9.8")]);
}
