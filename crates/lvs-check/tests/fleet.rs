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

fn dir() -> Dir {
    let d = std::env::temp_dir().join(format!("lvs-check-fleet-{}", std::process::id()));
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
    let d = dir();
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
