//! The state machine, driven with deterministic sequences. Every expected
//! action list is keepalived 2.x's rule worked by hand (see the comments),
//! starting from configurations loaded by lvs-config.
#![allow(clippy::unwrap_used)]

use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use lvs_check::{
    Action, CheckerId, Outcome, RandomSource, ScriptRef, Target, VsMachine, XorShift, misc_outcome,
};
use lvs_config::{MemFs, Options, VirtualServer};
use proptest::prelude::*;

fn load(conf: &str) -> VirtualServer {
    let fs = MemFs::new().with("/k.conf", conf);
    let report = lvs_config::check(&fs, Path::new("/k.conf"), &Options::default());
    let (cfg, _) = report.into_result().unwrap();
    cfg.virtual_servers.into_iter().next().unwrap()
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn start(vs: &VirtualServer) -> (VsMachine, Vec<Action>) {
    let mut out = Vec::new();
    let m = VsMachine::new(vs, Duration::ZERO, &mut XorShift(7), &mut out);
    (m, out)
}

fn feed(m: &mut VsMachine, t: u64, real: usize, checker: usize, o: Outcome) -> Vec<Action> {
    let mut out = Vec::new();
    m.on_result(secs(t), CheckerId { real, checker }, o, &mut out);
    out
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// Short names for the action kinds: (kind, target, weight).
fn kinds(actions: &[Action]) -> Vec<(&'static str, String, u32)> {
    actions
        .iter()
        .map(|a| match a {
            Action::AddDest { target, dest } => ("add", name(*target), dest.weight),
            Action::SetWeight { target, dest } => ("weight", name(*target), dest.weight),
            Action::RemoveDest { target, .. } => ("remove", name(*target), 0),
            Action::RunScript(s) => match s {
                ScriptRef::NotifyUp(i) => ("notify_up", format!("rs{i}"), 0),
                ScriptRef::NotifyDown(i) => ("notify_down", format!("rs{i}"), 0),
                ScriptRef::QuorumUp => ("quorum_up", "vs".into(), 0),
                ScriptRef::QuorumDown => ("quorum_down", "vs".into(), 0),
            },
        })
        .collect()
}

fn name(t: Target) -> String {
    match t {
        Target::Real(i) => format!("rs{i}"),
        Target::Sorry => "sorry".into(),
    }
}

fn k(kind: &'static str, who: &str, w: u32) -> (&'static str, String, u32) {
    (kind, who.to_owned(), w)
}

const ONE_RS: &str = r#"
virtual_server 10.0.0.1 80 {
    delay_loop 10
    protocol TCP
    INHIBIT
    real_server 192.168.1.1 80 {
        weight 3
        notify_up /bin/up.sh
        notify_down /bin/down.sh
        TCP_CHECK {
            retry 2
            delay_before_retry 1
            warmup 0
            ALPHA
        }
    }
}
"#;

fn one_rs(inhibit: bool, alpha: bool) -> VirtualServer {
    load(
        &ONE_RS
            .replace("INHIBIT", if inhibit { "inhibit_on_failure" } else { "" })
            .replace("ALPHA", if alpha { "alpha" } else { "" }),
    )
}

#[test]
fn startup_adds_live_servers_with_their_settings() {
    let vs = one_rs(false, false);
    let (m, out) = start(&vs);
    assert_eq!(kinds(&out), vec![k("add", "rs0", 3)]);
    let Action::AddDest { dest, .. } = out[0] else {
        panic!()
    };
    assert_eq!((dest.addr, dest.port), (ip("192.168.1.1"), 80));
    assert!(m.is_alive(0));
    assert!(m.quorum_up());
    // warmup 0: first check at once.
    assert_eq!(
        m.next_due(CheckerId {
            real: 0,
            checker: 0
        }),
        Some(secs(0))
    );
}

/// lab/keepalived_tcp_retry.out, port 8080 (times relative): up; stopped;
/// failures 1 s apart, removed at the third; while down TCP_CHECK keeps
/// its cadence (three attempts 1 s apart, then delay_loop) without any
/// state change; one success brings it back.
#[test]
fn down_after_retry_plus_one_failures_spaced_by_delay_before_retry() {
    let vs = one_rs(false, false);
    let (mut m, _) = start(&vs);
    let id = CheckerId {
        real: 0,
        checker: 0,
    };
    assert!(feed(&mut m, 0, 0, 0, Outcome::Up).is_empty());
    assert_eq!(m.next_due(id), Some(secs(10)));
    // retry 2: failures 1 and 2 are retried 1 s later, the third marks down.
    assert!(feed(&mut m, 10, 0, 0, Outcome::Down).is_empty());
    assert_eq!(m.next_due(id), Some(secs(11)));
    assert!(feed(&mut m, 11, 0, 0, Outcome::Down).is_empty());
    assert_eq!(m.next_due(id), Some(secs(12)));
    assert!(m.is_alive(0));
    let out = feed(&mut m, 12, 0, 0, Outcome::Down);
    assert_eq!(
        kinds(&out),
        vec![k("remove", "rs0", 0), k("notify_down", "rs0", 0)]
    );
    assert!(!m.is_alive(0));
    assert_eq!(m.next_due(id), Some(secs(22)));
    // Down: 22, 23, 24, then 34; nothing changes.
    for (t, next) in [(22, 23), (23, 24), (24, 34)] {
        assert!(feed(&mut m, t, 0, 0, Outcome::Down).is_empty());
        assert_eq!(m.next_due(id), Some(secs(next)));
    }
    // One success brings it back.
    let out = feed(&mut m, 34, 0, 0, Outcome::Up);
    assert_eq!(
        kinds(&out),
        vec![k("add", "rs0", 3), k("notify_up", "rs0", 0)]
    );
    assert!(m.is_alive(0));
    assert_eq!(m.next_due(id), Some(secs(44)));
}

#[test]
fn the_first_check_gets_no_retry() {
    let vs = one_rs(false, false);
    let (mut m, _) = start(&vs);
    assert_eq!(
        kinds(&feed(&mut m, 0, 0, 0, Outcome::Down)),
        vec![k("remove", "rs0", 0), k("notify_down", "rs0", 0)]
    );
}

/// lab/keepalived_rules.out, server A (MISC_CHECK, retry 2,
/// delay_before_retry 1, delay_loop 4): removed at the third failure, then
/// checked every delay_loop without retries.
#[test]
fn misc_check_is_not_retried_while_down() {
    let vs = load(
        r#"
virtual_server 10.0.0.1 80 {
  delay_loop 4
  protocol TCP
  real_server 10.0.1.1 80 {
    MISC_CHECK { misc_path "/tmp/c.sh A"
      retry 2
      delay_before_retry 1
      warmup 0 }
  }
}
"#,
    );
    let (mut m, _) = start(&vs);
    let id = CheckerId {
        real: 0,
        checker: 0,
    };
    assert!(feed(&mut m, 0, 0, 0, Outcome::Up).is_empty());
    assert!(feed(&mut m, 4, 0, 0, Outcome::Down).is_empty());
    assert!(feed(&mut m, 5, 0, 0, Outcome::Down).is_empty());
    assert_eq!(
        kinds(&feed(&mut m, 6, 0, 0, Outcome::Down)),
        vec![k("remove", "rs0", 0)]
    );
    assert_eq!(m.next_due(id), Some(secs(10)));
    assert!(feed(&mut m, 10, 0, 0, Outcome::Down).is_empty());
    assert_eq!(m.next_due(id), Some(secs(14)));
}

#[test]
fn success_resets_the_retry_count() {
    let vs = one_rs(false, false);
    let (mut m, _) = start(&vs);
    for (t, o) in [
        (0, Outcome::Up),
        (10, Outcome::Down),
        (11, Outcome::Down),
        (12, Outcome::Up),
        (22, Outcome::Down),
        (23, Outcome::Down),
    ] {
        assert!(feed(&mut m, t, 0, 0, o).is_empty(), "at {t}");
    }
    assert!(m.is_alive(0));
    assert_eq!(
        kinds(&feed(&mut m, 24, 0, 0, Outcome::Down))[0],
        k("remove", "rs0", 0)
    );
}

#[test]
fn inhibit_on_failure_sets_weight_zero_instead_of_removing() {
    let vs = one_rs(true, false);
    let (mut m, _) = start(&vs);
    feed(&mut m, 0, 0, 0, Outcome::Up);
    feed(&mut m, 10, 0, 0, Outcome::Down);
    feed(&mut m, 11, 0, 0, Outcome::Down);
    let out = feed(&mut m, 12, 0, 0, Outcome::Down);
    assert_eq!(
        kinds(&out),
        vec![k("weight", "rs0", 0), k("notify_down", "rs0", 0)]
    );
    let out = feed(&mut m, 22, 0, 0, Outcome::Up);
    assert_eq!(
        kinds(&out),
        vec![k("weight", "rs0", 3), k("notify_up", "rs0", 0)]
    );
}

#[test]
fn alpha_starts_down_until_the_first_success() {
    let vs = one_rs(false, true);
    let (mut m, out) = start(&vs);
    // Nothing added; no sorry server so no quorum action either.
    assert!(out.is_empty());
    assert!(!m.is_alive(0));
    assert!(!m.quorum_up());
    let out = feed(&mut m, 0, 0, 0, Outcome::Up);
    assert_eq!(
        kinds(&out),
        vec![k("add", "rs0", 3), k("notify_up", "rs0", 0)]
    );
    assert!(m.quorum_up());
}

/// lab/keepalived_tcp_retry.out, port 8081 (alpha TCP_CHECK never
/// answering): notify_down after the first failure, then the TCP cadence
/// while down (1 s, 1 s, delay_loop).
#[test]
fn alpha_first_failure_reports_down_once() {
    let vs = one_rs(false, true);
    let (mut m, _) = start(&vs);
    let id = CheckerId {
        real: 0,
        checker: 0,
    };
    assert_eq!(
        kinds(&feed(&mut m, 0, 0, 0, Outcome::Down)),
        vec![k("notify_down", "rs0", 0)]
    );
    assert_eq!(m.next_due(id), Some(secs(10)));
    for (t, next) in [(10, 11), (11, 12), (12, 22)] {
        assert!(feed(&mut m, t, 0, 0, Outcome::Down).is_empty());
        assert_eq!(m.next_due(id), Some(secs(next)));
    }
}

#[test]
fn alpha_with_inhibit_starts_present_with_weight_zero() {
    let vs = one_rs(true, true);
    let (mut m, out) = start(&vs);
    assert_eq!(kinds(&out), vec![k("add", "rs0", 0)]);
    let out = feed(&mut m, 0, 0, 0, Outcome::Up);
    assert_eq!(
        kinds(&out),
        vec![k("weight", "rs0", 3), k("notify_up", "rs0", 0)]
    );
}

const TWO_CHECKERS: &str = r#"
virtual_server 10.0.0.1 80 {
    delay_loop 5
    protocol TCP
    real_server 192.168.1.1 80 {
        TCP_CHECK {
            retry 0
            warmup 0
        }
        MISC_CHECK {
            misc_path "/bin/true"
            warmup 0
        }
    }
}
"#;

#[test]
fn server_is_down_while_any_checker_is_down() {
    let vs = load(TWO_CHECKERS);
    let (mut m, _) = start(&vs);
    // retry 0: one failure is enough.
    assert_eq!(
        kinds(&feed(&mut m, 0, 0, 0, Outcome::Down)),
        vec![k("remove", "rs0", 0)]
    );
    // Second checker fails too: already down, nothing to do.
    assert!(feed(&mut m, 0, 0, 1, Outcome::Down).is_empty());
    // First recovers: the second is still down.
    assert!(feed(&mut m, 5, 0, 0, Outcome::Up).is_empty());
    assert!(!m.is_alive(0));
    // Second recovers: back in.
    assert_eq!(
        kinds(&feed(&mut m, 5, 0, 1, Outcome::Up)),
        vec![k("add", "rs0", 1)]
    );
}

const QUORUM: &str = r#"
virtual_server 10.0.0.1 80 {
    delay_loop 5
    protocol TCP
    quorum 4
    hysteresis 1
    quorum_up /bin/qup.sh
    quorum_down /bin/qdown.sh
    sorry_server 192.168.9.9 8080
    SORRY_INHIBIT
    real_server 192.168.1.1 80 {
        weight 2
        TCP_CHECK { retry 0
            warmup 0 }
    }
    real_server 192.168.1.2 80 {
        weight 2
        TCP_CHECK { retry 0
            warmup 0 }
    }
    real_server 192.168.1.3 80 {
        weight 2
        TCP_CHECK { retry 0
            warmup 0 }
    }
}
"#;

/// The same sequence run on keepalived 2.2.7 in the lab:
/// lab/keepalived_quorum.out (IPVS and the quorum scripts after each step).
#[test]
fn quorum_hysteresis_and_sorry_server() {
    let vs = load(&QUORUM.replace("SORRY_INHIBIT", ""));
    let (mut m, out) = start(&vs);
    // Live weight 6 >= quorum + hysteresis = 5: starts with quorum up.
    assert_eq!(
        kinds(&out),
        vec![
            k("add", "rs0", 2),
            k("add", "rs1", 2),
            k("add", "rs2", 2),
            k("quorum_up", "vs", 0)
        ]
    );
    // 6 -> 4: still >= quorum - hysteresis = 3.
    assert_eq!(
        kinds(&feed(&mut m, 0, 0, 0, Outcome::Down)),
        vec![k("remove", "rs0", 0)]
    );
    assert!(m.quorum_up());
    // 4 -> 2 < 3: quorum lost, the remaining server leaves, sorry comes in.
    assert_eq!(
        kinds(&feed(&mut m, 0, 1, 0, Outcome::Down)),
        vec![
            k("remove", "rs1", 0),
            k("remove", "rs2", 0),
            k("add", "sorry", 1),
            k("quorum_down", "vs", 0)
        ]
    );
    assert!(m.sorry_active());
    // 2 -> 4: below quorum + hysteresis = 5, the sorry server stays and the
    // recovered server is not put in the pool.
    assert!(feed(&mut m, 5, 0, 0, Outcome::Up).is_empty());
    assert!(m.is_alive(0));
    assert!(!m.quorum_up());
    // 4 -> 6 >= 5: quorum back, sorry out, alive servers in.
    assert_eq!(
        kinds(&feed(&mut m, 5, 1, 0, Outcome::Up)),
        vec![
            k("remove", "sorry", 0),
            k("add", "rs0", 2),
            k("add", "rs1", 2),
            k("add", "rs2", 2),
            k("quorum_up", "vs", 0)
        ]
    );
    assert!(!m.sorry_active());
}

#[test]
fn sorry_server_inhibit_keeps_it_present_with_weight_zero() {
    let vs = load(&QUORUM.replace("SORRY_INHIBIT", "sorry_server_inhibit"));
    let (mut m, out) = start(&vs);
    assert_eq!(
        kinds(&out),
        vec![
            k("add", "rs0", 2),
            k("add", "rs1", 2),
            k("add", "rs2", 2),
            k("quorum_up", "vs", 0),
            k("add", "sorry", 0)
        ]
    );
    feed(&mut m, 0, 0, 0, Outcome::Down);
    let out = feed(&mut m, 0, 1, 0, Outcome::Down);
    assert!(out.contains(&Action::SetWeight {
        target: Target::Sorry,
        dest: lvs_check::DestSpec {
            addr: ip("192.168.9.9"),
            port: 8080,
            weight: 1,
            method: lvs_config::LvsMethod::Nat,
            uthreshold: 0,
            lthreshold: 0,
        }
    }));
    feed(&mut m, 5, 0, 0, Outcome::Up);
    let out = feed(&mut m, 5, 1, 0, Outcome::Up);
    assert_eq!(kinds(&out)[0], k("weight", "sorry", 0));
}

#[test]
fn starting_below_quorum_puts_the_sorry_server_in() {
    // Alpha: nothing alive at start, quorum down, sorry server serves.
    let vs = load(
        &QUORUM
            .replace("SORRY_INHIBIT", "")
            .replace("protocol TCP", "protocol TCP\n    alpha"),
    );
    let (mut m, out) = start(&vs);
    assert_eq!(
        kinds(&out),
        vec![k("add", "sorry", 1), k("quorum_down", "vs", 0)]
    );
    // Servers come up one by one; quorum + hysteresis = 5 needs all three.
    assert!(feed(&mut m, 0, 0, 0, Outcome::Up).is_empty());
    assert!(feed(&mut m, 0, 1, 0, Outcome::Up).is_empty());
    assert_eq!(
        kinds(&feed(&mut m, 0, 2, 0, Outcome::Up)),
        vec![
            k("remove", "sorry", 0),
            k("add", "rs0", 2),
            k("add", "rs1", 2),
            k("add", "rs2", 2),
            k("quorum_up", "vs", 0)
        ]
    );
}

const DYNAMIC: &str = r#"
virtual_server 10.0.0.1 80 {
    delay_loop 5
    protocol TCP
    quorum 3
    quorum_down /bin/qdown.sh
    real_server 192.168.1.1 80 {
        weight 5
        MISC_CHECK {
            misc_path "/bin/check.sh"
            misc_dynamic
            warmup 0
        }
    }
}
"#;

#[test]
fn misc_exit_codes() {
    assert_eq!(misc_outcome(Some(0), false, 5), Outcome::Up);
    assert_eq!(misc_outcome(Some(1), false, 5), Outcome::Down);
    assert_eq!(misc_outcome(Some(7), false, 5), Outcome::Down);
    assert_eq!(misc_outcome(None, false, 5), Outcome::Down);
    assert_eq!(misc_outcome(Some(0), true, 5), Outcome::UpWithWeight(5));
    assert_eq!(misc_outcome(Some(1), true, 5), Outcome::Down);
    assert_eq!(misc_outcome(Some(2), true, 5), Outcome::UpWithWeight(0));
    assert_eq!(misc_outcome(Some(255), true, 5), Outcome::UpWithWeight(253));
    assert_eq!(misc_outcome(None, true, 5), Outcome::Down);
}

#[test]
fn misc_dynamic_weight_edits_and_quorum() {
    let vs = load(DYNAMIC);
    let (mut m, out) = start(&vs);
    assert_eq!(kinds(&out), vec![k("add", "rs0", 5)]);
    // exit 12 -> weight 10.
    let out = feed(&mut m, 0, 0, 0, misc_outcome(Some(12), true, 5));
    assert_eq!(kinds(&out), vec![k("weight", "rs0", 10)]);
    assert_eq!(m.weight(0), Some(10));
    // exit 3 -> weight 1 < quorum 3: quorum lost (no sorry server).
    let out = feed(&mut m, 5, 0, 0, misc_outcome(Some(3), true, 5));
    assert_eq!(
        kinds(&out),
        vec![k("weight", "rs0", 1), k("quorum_down", "vs", 0)]
    );
    // exit 0 -> configured weight back; quorum regained (no quorum_up
    // script configured, so no script action).
    let out = feed(&mut m, 10, 0, 0, misc_outcome(Some(0), true, 5));
    assert_eq!(kinds(&out), vec![k("weight", "rs0", 5)]);
    assert!(m.quorum_up());
    // MISC_CHECK's retry defaults to 0: exit 1 is down at once.
    let out = feed(&mut m, 15, 0, 0, misc_outcome(Some(1), true, 5));
    assert_eq!(
        kinds(&out),
        vec![k("remove", "rs0", 0), k("quorum_down", "vs", 0)]
    );
}

#[test]
fn shutdown_with_and_without_omega() {
    for omega in [false, true] {
        let conf = QUORUM
            .replace("SORRY_INHIBIT", "")
            .replace(
                "protocol TCP",
                if omega {
                    "protocol TCP\n    omega"
                } else {
                    "protocol TCP"
                },
            )
            .replace("weight 2\n", "weight 2\n        notify_down /bin/d.sh\n");
        let vs = load(&conf);
        let (mut m, _) = start(&vs);
        feed(&mut m, 0, 0, 0, Outcome::Down);
        let mut out = Vec::new();
        m.shutdown(&mut out);
        let mut expect = vec![k("remove", "rs1", 0)];
        if omega {
            expect.push(k("notify_down", "rs1", 0));
        }
        expect.push(k("remove", "rs2", 0));
        if omega {
            expect.push(k("notify_down", "rs2", 0));
            expect.push(k("quorum_down", "vs", 0));
        }
        assert_eq!(kinds(&out), expect, "omega {omega}");
    }
}

#[test]
fn shutdown_removes_inhibited_servers_too() {
    let vs = one_rs(true, false);
    let (mut m, _) = start(&vs);
    for t in 0..3 {
        feed(&mut m, t, 0, 0, Outcome::Down);
    }
    let mut out = Vec::new();
    m.shutdown(&mut out);
    assert_eq!(kinds(&out), vec![k("remove", "rs0", 0)]);
}

struct Fixed(u64, Vec<u64>);
impl RandomSource for Fixed {
    fn below(&mut self, bound: u64) -> u64 {
        self.1.push(bound);
        self.0.min(bound - 1)
    }
}

#[test]
fn warmup_delays_the_first_check_by_a_random_amount_below_it() {
    let vs = load(
        &ONE_RS
            .replace("warmup 0", "warmup 7")
            .replace("INHIBIT", "")
            .replace("ALPHA", ""),
    );
    let mut rng = Fixed(2_500_000, Vec::new());
    let mut out = Vec::new();
    let m = VsMachine::new(&vs, secs(100), &mut rng, &mut out);
    assert_eq!(rng.1, vec![7_000_000]);
    let id = CheckerId {
        real: 0,
        checker: 0,
    };
    assert_eq!(m.next_due(id), Some(Duration::from_millis(102_500)));
    assert_eq!(
        m.next_deadline(),
        Some((id, Duration::from_millis(102_500)))
    );
    let mut due = Vec::new();
    m.due(secs(102), &mut due);
    assert!(due.is_empty());
    m.due(secs(103), &mut due);
    assert_eq!(due, vec![id]);
}

proptest! {
    /// Whatever the results, the machine's view matches the rules: a server
    /// is alive iff none of its checkers is down, the quorum state follows
    /// the hysteresis band, and a server is in IPVS with a non-zero weight
    /// exactly when it is alive and no sorry server serves.
    #[test]
    fn invariants_hold_for_any_result_sequence(
        events in proptest::collection::vec((0usize..3, any::<bool>()), 0..200)
    ) {
        let vs = load(&QUORUM.replace("SORRY_INHIBIT", ""));
        let (mut m, out) = start(&vs);
        let mut pool: std::collections::BTreeMap<String, u32> = Default::default();
        let apply = |pool: &mut std::collections::BTreeMap<String, u32>, out: &[Action]| {
            for a in out {
                match a {
                    Action::AddDest { target, dest } => {
                        assert!(pool.insert(name(*target), dest.weight).is_none(), "double add");
                    }
                    Action::SetWeight { target, dest } => {
                        let w = pool.get_mut(&name(*target)).expect("edit of absent dest");
                        *w = dest.weight;
                    }
                    Action::RemoveDest { target, .. } => {
                        assert!(pool.remove(&name(*target)).is_some(), "remove of absent dest");
                    }
                    Action::RunScript(_) => {}
                }
            }
        };
        apply(&mut pool, &out);
        let mut t = 0;
        let mut prev_up = m.quorum_up();
        for (real, ok) in events {
            t += 1;
            let out = feed(&mut m, t, real, 0, if ok { Outcome::Up } else { Outcome::Down });
            apply(&mut pool, &out);
            let sum = m.live_weight();
            let up = m.quorum_up();
            if up != prev_up {
                if up { prop_assert!(sum >= 5); } else { prop_assert!(sum < 3); }
            } else if up {
                prop_assert!(sum >= 3);
            } else {
                prop_assert!(sum < 5);
            }
            prev_up = up;
            prop_assert_eq!(m.sorry_active(), !up);
            for i in 0..3 {
                let live = pool.get(&format!("rs{i}")).is_some_and(|w| *w > 0);
                prop_assert_eq!(live, m.is_alive(i) && up, "rs{}", i);
            }
            prop_assert_eq!(pool.contains_key("sorry"), !up);
        }
    }
}

/// lab/keepalived_rules.out, VS 10.0.0.3: three servers of weight 2 all
/// passing, quorum 6, hysteresis 1. Starting with the quorum down needs
/// 6 >= 7, so keepalived 2.2.7 starts with only the sorry server in IPVS
/// and runs quorum_down.
#[test]
fn lab_start_below_quorum_plus_hysteresis_serves_the_sorry_server() {
    let conf = QUORUM
        .replace("SORRY_INHIBIT", "")
        .replace("quorum 4", "quorum 6");
    let vs = load(&conf);
    let (m, out) = start(&vs);
    assert_eq!(
        kinds(&out),
        vec![
            k("add", "rs0", 2),
            k("add", "rs1", 2),
            k("add", "rs2", 2),
            k("remove", "rs0", 0),
            k("remove", "rs1", 0),
            k("remove", "rs2", 0),
            k("add", "sorry", 1),
            k("quorum_down", "vs", 0)
        ]
    );
    assert!(m.sorry_active());
}

/// lab/keepalived_rules2.out, VS 10.0.0.4: alpha, inhibit_on_failure,
/// sorry_server_inhibit; real servers of weight 3 (always failing) and 4
/// (passing). IPVS at start: both at weight 0, sorry at 1; after the
/// checks: 0, 4 and sorry 0.
#[test]
fn lab_alpha_inhibit_and_sorry_inhibit() {
    let vs = load(
        r#"
virtual_server 10.0.0.4 80 {
  delay_loop 3
  protocol TCP
  alpha
  inhibit_on_failure
  sorry_server 10.0.9.9 80
  sorry_server_inhibit
  real_server 10.0.4.1 80 { weight 3
    MISC_CHECK { misc_path "/bin/false"
      warmup 0 } }
  real_server 10.0.4.2 80 { weight 4
    MISC_CHECK { misc_path "/bin/true"
      warmup 0 } }
}
"#,
    );
    let (mut m, out) = start(&vs);
    assert_eq!(
        kinds(&out),
        vec![k("add", "rs0", 0), k("add", "rs1", 0), k("add", "sorry", 1)]
    );
    assert!(feed(&mut m, 1, 0, 0, Outcome::Down).is_empty());
    assert_eq!(
        kinds(&feed(&mut m, 1, 1, 0, Outcome::Up)),
        vec![k("weight", "sorry", 0), k("weight", "rs1", 4)]
    );
}

const HTTP: &str = r#"
virtual_server 10.0.0.1 80 {
  delay_loop 4
  protocol TCP
  real_server 127.0.0.1 8080 {
    notify_down "/tmp/n.sh down"
    notify_up "/tmp/n.sh up"
    HTTP_GET { url { path / }
      retry 2
      delay_before_retry 1
      connect_timeout 2
      warmup 0
      FAST } }
}
"#;

/// lab/keepalived_http_retry.out (times relative to the first check):
/// passes at 0 and 4; failures at 8, 9, 10 (delay_before_retry 1) and the
/// removal at 10; while down, checks every 4 s; the url passes again at 20
/// but the server comes back only after the confirming pass at 24.
#[test]
fn lab_http_get_retry_and_recovery() {
    let vs = load(&HTTP.replace("FAST", ""));
    let (mut m, _) = start(&vs);
    let id = CheckerId {
        real: 0,
        checker: 0,
    };
    assert!(feed(&mut m, 0, 0, 0, Outcome::Up).is_empty());
    assert!(feed(&mut m, 4, 0, 0, Outcome::Up).is_empty());
    assert!(feed(&mut m, 8, 0, 0, Outcome::Down).is_empty());
    assert_eq!(m.next_due(id), Some(secs(9)));
    assert!(feed(&mut m, 9, 0, 0, Outcome::Down).is_empty());
    assert_eq!(
        kinds(&feed(&mut m, 10, 0, 0, Outcome::Down)),
        vec![k("remove", "rs0", 0), k("notify_down", "rs0", 0)]
    );
    assert_eq!(m.next_due(id), Some(secs(14)));
    assert!(feed(&mut m, 14, 0, 0, Outcome::Down).is_empty());
    assert!(feed(&mut m, 20, 0, 0, Outcome::Up).is_empty());
    assert_eq!(m.next_due(id), Some(secs(24)));
    assert!(!m.is_alive(0));
    assert_eq!(
        kinds(&feed(&mut m, 24, 0, 0, Outcome::Up)),
        vec![k("add", "rs0", 1), k("notify_up", "rs0", 0)]
    );
}

#[test]
fn http_fast_recovery_confirms_at_once_and_a_failure_restarts() {
    let vs = load(&HTTP.replace("FAST", "fast_recovery"));
    let (mut m, _) = start(&vs);
    let id = CheckerId {
        real: 0,
        checker: 0,
    };
    for t in 0..3 {
        feed(&mut m, t, 0, 0, Outcome::Down);
    }
    assert!(!m.is_alive(0));
    // Passing again: the confirming pass is due at once.
    assert!(feed(&mut m, 6, 0, 0, Outcome::Up).is_empty());
    assert_eq!(m.next_due(id), Some(secs(6)));
    // It fails: back to waiting for the failed url.
    assert!(feed(&mut m, 6, 0, 0, Outcome::Down).is_empty());
    assert!(feed(&mut m, 10, 0, 0, Outcome::Up).is_empty());
    assert_eq!(
        kinds(&feed(&mut m, 10, 0, 0, Outcome::Up)),
        vec![k("add", "rs0", 1), k("notify_up", "rs0", 0)]
    );
}

#[test]
fn http_alpha_first_pass_is_enough() {
    let vs = load(&HTTP.replace("FAST", "alpha"));
    let (mut m, out) = start(&vs);
    assert!(out.is_empty());
    assert_eq!(
        kinds(&feed(&mut m, 0, 0, 0, Outcome::Up)),
        vec![k("add", "rs0", 1), k("notify_up", "rs0", 0)]
    );
}
