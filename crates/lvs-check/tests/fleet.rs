//! `runner::Fleet`: every checker of a configuration on one runtime, and a
//! reload prepared, committed, and carrying a failed server's state.
//! MISC_CHECK programs read state files this test writes (as the lab's
//! keepalived runs do), so nothing touches the network. Every wait is
//! bounded; no assertion is on time.
#![cfg(feature = "io")]
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use lvs_check::runner::Fleet;
use lvs_check::{Action, ScriptRef, Target, XorShift};
use lvs_config::{Config, MemFs, Options};
use lvs_proto::Request;

const BOUND: Duration = Duration::from_secs(20);

struct Dir(PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A scratch directory per test (tests run in parallel threads).
fn dir(tag: &str) -> Dir {
    let d = std::env::temp_dir().join(format!("lvs-check-fleet-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("c.sh"), "read s < \"$1\"\nexit $s\n").unwrap();
    Dir(d)
}

fn state(d: &Path, n: u32, code: u32) {
    std::fs::write(d.join(format!("st_{n}")), format!("{code}\n")).unwrap();
}

fn conf(d: &Path, servers: &[(u32, u32)]) -> Config {
    let mut t = String::from(
        "virtual_server 10.0.0.1 80 {\n protocol TCP\n lb_algo rr\n lb_kind NAT\n delay_loop 0.2\n",
    );
    for (n, w) in servers {
        let check = d.join(format!("st_{n}"));
        t.push_str(&format!(
            " real_server 10.0.1.{n} 80 {{\n  weight {w}\n  notify_down \"/bin/true {n}\"\n  MISC_CHECK {{\n   misc_path \"/bin/sh {} {}\"\n   warmup 0\n   retry 0\n  }}\n }}\n",
            d.join("c.sh").display(),
            check.display()
        ));
    }
    t.push_str("}\n");
    let fs = MemFs::new().with("/k.conf", &t);
    lvs_config::check(&fs, Path::new("/k.conf"), &Options::default())
        .into_result()
        .unwrap()
        .0
}

/// Steps the fleet until an action satisfies `want`; returns every action
/// seen until then.
async fn until(fleet: &mut Fleet, want: impl Fn(&Action) -> bool) -> Vec<(usize, Action)> {
    let mut seen = Vec::new();
    tokio::time::timeout(BOUND, async {
        loop {
            let mut out = Vec::new();
            fleet.step(&mut out).await;
            let hit = out.iter().any(|(_, a)| want(a));
            seen.extend(out);
            if hit {
                break;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no such action within {BOUND:?}: {seen:?}"));
    seen
}

#[tokio::test]
async fn a_failed_server_stays_out_across_a_reload_and_returns_after() {
    let d = dir("reload");
    for n in 1..=3 {
        state(&d.0, n, 0);
    }
    let cfg = conf(&d.0, &[(1, 1), (2, 1)]);
    let mut start = Vec::new();
    let mut fleet = Fleet::new(&cfg, None, &mut XorShift(5), &mut start);
    assert_eq!(fleet.checker_count(), 2);
    // Both up at start (no alpha): two adds.
    assert_eq!(
        start
            .iter()
            .filter(|(_, a)| matches!(a, Action::AddDest { .. }))
            .count(),
        2
    );

    // RS1's program exits 1: retry 0, one failure takes it out.
    state(&d.0, 1, 1);
    let seen = until(&mut fleet, |a| {
        matches!(
            a,
            Action::RemoveDest {
                target: Target::Real(0),
                ..
            }
        )
    })
    .await;
    assert!(
        seen.iter()
            .any(|(_, a)| *a == Action::RunScript(ScriptRef::NotifyDown(0))),
        "{seen:?}"
    );
    assert!(!fleet.machine(0).unwrap().is_alive(0));

    // Reload: RS1 unchanged (still failing), RS2 weight 1 -> 4, RS3 added.
    let new = conf(&d.0, &[(1, 1), (2, 4), (3, 1)]);
    let prepared = fleet.prepare(&new, &mut XorShift(6));
    assert_eq!((prepared.kept_checkers, prepared.new_checkers), (2, 1));
    let reqs: Vec<String> = prepared
        .requests
        .iter()
        .map(|r| match r {
            Request::AddDest { dest, .. } => format!("add {} w{}", dest.addr, dest.weight),
            Request::EditDest { dest, .. } => format!("edit {} w{}", dest.addr, dest.weight),
            other => format!("{other:?}"),
        })
        .collect();
    // RS1 is not re-added: its failed state is carried.
    assert_eq!(reqs, ["add 10.0.1.3 w1", "edit 10.0.1.2 w4"]);
    assert!(prepared.scripts.is_empty(), "{:?}", prepared.scripts);
    fleet.commit(prepared);
    assert!(!fleet.machine(0).unwrap().is_alive(0));
    assert!(fleet.machine(0).unwrap().is_alive(2));

    // RS1's program passes again: back in, with the carried checker.
    state(&d.0, 1, 0);
    until(&mut fleet, |a| {
        matches!(
            a,
            Action::AddDest {
                target: Target::Real(0),
                ..
            }
        )
    })
    .await;
    let table = fleet.table();
    let weights: Vec<(String, i32)> = table[0]
        .dests
        .iter()
        .map(|d| (d.addr.to_string(), d.weight))
        .collect();
    assert_eq!(
        weights,
        [
            ("10.0.1.1".to_owned(), 1),
            ("10.0.1.2".to_owned(), 4),
            ("10.0.1.3".to_owned(), 1)
        ]
    );
}

/// Steps the fleet until `ok` holds for its health report.
async fn until_health(fleet: &mut Fleet, ok: impl Fn(&[lvs_proto::VsHealth]) -> bool) {
    tokio::time::timeout(BOUND, async {
        while !ok(&fleet.health()) {
            fleet.step(&mut Vec::new()).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("health not reached within {BOUND:?}: {:?}", fleet.health()));
}

#[tokio::test]
async fn health_reports_verdicts_reasons_and_weights_and_survives_a_reload() {
    use lvs_proto::HealthState::{Down, Up, Warming};
    let d = dir("health");
    state(&d.0, 1, 1);
    state(&d.0, 2, 0);
    let cfg = conf(&d.0, &[(1, 1), (2, 3)]);
    let mut fleet = Fleet::new(&cfg, None, &mut XorShift(5), &mut Vec::new());

    // Before any result: both alive (no alpha) and in the table with their
    // weights, but not judged yet.
    let h = fleet.health();
    assert_eq!(h.len(), 1);
    assert_eq!(h[0].name, "10.0.0.1:80 TCP");
    let rs: Vec<_> = h[0]
        .reals
        .iter()
        .map(|r| (r.addr.as_str(), r.state, r.weight))
        .collect();
    assert_eq!(
        rs,
        [
            ("10.0.1.1:80", Warming, Some(1)),
            ("10.0.1.2:80", Warming, Some(3))
        ]
    );
    let c = &h[0].reals[0].checkers[0];
    assert_eq!(
        (c.kind.as_str(), c.state, c.last_ok, c.failures, c.retry),
        ("MISC_CHECK", Warming, None, 0, 0)
    );
    assert!(
        c.target
            .ends_with(&format!("{}", d.0.join("st_1").display())),
        "{}",
        c.target
    );

    // RS1's program exits 1 (retry 0: down at once); RS2's exits 0.
    let judged =
        |h: &[lvs_proto::VsHealth]| h[0].reals.iter().all(|r| r.checkers[0].last_ok.is_some());
    until_health(&mut fleet, judged).await;
    let h = fleet.health();
    let (r1, r2) = (&h[0].reals[0], &h[0].reals[1]);
    assert_eq!((r1.state, r1.weight), (Down, None));
    let c1 = &r1.checkers[0];
    assert_eq!(
        (c1.state, c1.last_ok, c1.reason.as_str()),
        (Down, Some(false), "exit status 1")
    );
    assert!(c1.failures >= 1);
    assert_eq!((r2.state, r2.weight), (Up, Some(3)));
    let c2 = &r2.checkers[0];
    assert_eq!(
        (c2.state, c2.last_ok, c2.failures, c2.reason.as_str()),
        (Up, Some(true), 0, "exit status 0")
    );

    // A reload of the same file carries the records: RS1 still down, with
    // its reason.
    let prepared = fleet.prepare(&cfg, &mut XorShift(6));
    fleet.commit(prepared);
    let h = fleet.health();
    let c1 = &h[0].reals[0].checkers[0];
    assert_eq!(
        (h[0].reals[0].state, c1.last_ok, c1.reason.as_str()),
        (Down, Some(false), "exit status 1")
    );

    // RS1 passes again: up with its weight, failures back to 0.
    state(&d.0, 1, 0);
    until_health(&mut fleet, |h| h[0].reals[0].state == Up).await;
    let r1 = &fleet.health()[0].reals[0];
    assert_eq!(
        (r1.weight, r1.checkers[0].failures, r1.checkers[0].last_ok),
        (Some(1), 0, Some(true))
    );
}
