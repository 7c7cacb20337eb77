//! The pure health-check state machine of one virtual server.
//!
//! Inputs are the time (`now`, a [`Duration`] since any fixed origin) and
//! check results; outputs are [`Action`]s the caller applies to IPVS and to
//! its script runner. Nothing here sleeps, reads a clock, opens a socket or
//! draws ambient randomness (the first-check `warmup` delay comes from an
//! injected [`RandomSource`]).
//!
//! Rules mirrored from keepalived 2.x (`check/ipwrapper.c`,
//! `check/check_tcp.c` and the other checkers' epilogues):
//!
//! - **Retry**: a failed check is retried `retry` times, `delay_before_retry`
//!   apart; the failure after the last retry marks the checker down, so a
//!   checker goes down after `retry + 1` consecutive failures. The very
//!   first check is the exception: "one failure is enough initially"
//!   (keepalived starts each checker with its retries used up). A success
//!   resets the retry count; after a success or a verdict the next check is
//!   `delay_loop` later.
//! - **While down** a failure is a verdict at once (no retries), and the
//!   next check is `delay_loop` later (HTTP_GET/SSL_GET: the larger of
//!   `delay_loop` and `delay_before_retry`). TCP_CHECK alone keeps its
//!   retry cadence while down (`retry` retries `delay_before_retry` apart,
//!   then `delay_loop`), without any state change. Lab runs:
//!   `lab/keepalived_rules.out` (MISC), `lab/keepalived_tcp_retry.out`,
//!   `lab/keepalived_http_retry.out`.
//! - **Real server**: alive when none of its checkers is down. When the first
//!   checker goes down the server is removed from the pool (or, with
//!   `inhibit_on_failure`, kept with weight 0) and `notify_down` runs; when
//!   the last failed checker comes back it is added again (or its weight
//!   restored) and `notify_up` runs.
//! - **HTTP_GET / SSL_GET recovery**: a checker that failed comes back only
//!   after two passing checks: the one where the failed url answers again,
//!   then a full pass over the urls `delay_loop` later (at once with
//!   `fast_recovery`). keepalived 2.2.7 in the lab:
//!   `lab/keepalived_http_retry.out`. (keepalived probes one url per check
//!   and walks the list; a runner check here covers all urls at once.)
//! - **alpha**: a checker with `alpha` starts down, so its server starts out
//!   of the pool (present with weight 0 under `inhibit_on_failure`) until
//!   it passes. An alpha checker whose first check fails runs
//!   `notify_down` once, at once (keepalived's `has_run`).
//! - **Quorum**: the sum of the weights of alive servers is compared with
//!   `quorum - hysteresis` while the quorum is up and `quorum + hysteresis`
//!   while it is down. Losing it runs `quorum_down`; when a `sorry_server`
//!   is configured, the alive servers are taken out of the pool and the
//!   sorry server is put in. Gaining it runs `quorum_up`, removes the sorry
//!   server (weight 0 with `sorry_server_inhibit`) and puts the alive
//!   servers back. While the sorry server serves, server transitions change
//!   state and run notifies but touch no IPVS destination.
//! - **misc_dynamic**: a MISC_CHECK exit code 2..=255 means up with weight
//!   `exit - 2` (see [`misc_outcome`]); a weight change of a server in the
//!   pool becomes a weight edit and may change the quorum.
//! - **omega**: [`VsMachine::shutdown`] removes every destination; with
//!   `omega` it also runs `notify_down` of each alive server and then
//!   `quorum_down`.
//!
//! Cost: [`VsMachine::new`] builds the tables; after that every call is
//! O(number of real servers and checkers of the virtual server) at worst
//! (the quorum sum, the deadline scan) and allocates nothing except
//! pushing to the caller's buffers.

use std::net::IpAddr;
use std::time::Duration;

use lvs_config::{CheckKind, Checker, LvsMethod, RealServer, VirtualServer};

/// Where a check result or an action belongs: real server `real`, checker
/// `checker` (indices in the configuration's order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CheckerId {
    /// Index of the real server in `VirtualServer::real_servers`.
    pub real: usize,
    /// Index of the checker in `RealServer::checkers`.
    pub checker: usize,
}

/// A destination of the virtual server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Target {
    /// Real server by index.
    Real(usize),
    /// The sorry server.
    Sorry,
}

/// An IPVS destination as it must be added or edited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DestSpec {
    /// Address.
    pub addr: IpAddr,
    /// Port.
    pub port: u16,
    /// Weight to set.
    pub weight: u32,
    /// Forwarding method.
    pub method: LvsMethod,
    /// Upper connection threshold (0 = none).
    pub uthreshold: u32,
    /// Lower connection threshold (0 = none).
    pub lthreshold: u32,
}

/// Which configured script to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScriptRef {
    /// `notify_up` of a real server.
    NotifyUp(usize),
    /// `notify_down` of a real server.
    NotifyDown(usize),
    /// `quorum_up` of the virtual server.
    QuorumUp,
    /// `quorum_down` of the virtual server.
    QuorumDown,
}

/// What the caller must do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Add a destination.
    AddDest {
        /// Which one.
        target: Target,
        /// Its settings.
        dest: DestSpec,
    },
    /// Edit a destination's weight (other settings unchanged).
    SetWeight {
        /// Which one.
        target: Target,
        /// Its settings, `weight` being the new weight.
        dest: DestSpec,
    },
    /// Remove a destination.
    RemoveDest {
        /// Which one.
        target: Target,
        /// Its settings.
        dest: DestSpec,
    },
    /// Run a script; only emitted when that script is configured.
    RunScript(ScriptRef),
}

/// The verdict of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The server answered as required.
    Up,
    /// Up, and the server's weight becomes this (MISC_CHECK `misc_dynamic`).
    UpWithWeight(u32),
    /// The check failed (refused, timed out, wrong answer, exit 1...).
    Down,
}

/// keepalived's reading of a MISC_CHECK exit: `Some(code)` for a normal exit,
/// `None` when the program was killed (signal or `misc_timeout`).
///
/// 0 is up; with `misc_dynamic`, 2..=255 is up with weight `code - 2`;
/// anything else (1, or 2..=255 without `misc_dynamic`, or a kill) is down.
/// With `misc_dynamic`, exit 0 puts the configured weight back (keepalived
/// 2.2.7 in the lab: exit 12 set weight 10, exit 0 restored 5;
/// `lab/keepalived_rules.out`).
pub fn misc_outcome(exit: Option<i32>, dynamic: bool, configured_weight: u32) -> Outcome {
    match exit {
        Some(0) if dynamic => Outcome::UpWithWeight(configured_weight),
        Some(0) => Outcome::Up,
        Some(code @ 2..=255) if dynamic => Outcome::UpWithWeight(code.unsigned_abs() - 2),
        _ => Outcome::Down,
    }
}

/// Where one checker stands, for operators ([`VsMachine::checker_view`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckerView {
    /// Its verdict (keepalived's `is_up`; true before the first check,
    /// unless `alpha`).
    pub is_up: bool,
    /// Whether a first verdict was reached.
    pub has_run: bool,
    /// Its `retry`.
    pub retry: u32,
}

/// A source of randomness for the `warmup` delay.
pub trait RandomSource {
    /// A value uniformly drawn from `0..bound` (`bound > 0`).
    fn below(&mut self, bound: u64) -> u64;
}

/// A deterministic xorshift source (for tests and reproducible runs).
#[derive(Debug, Clone)]
pub struct XorShift(pub u64);

impl RandomSource for XorShift {
    fn below(&mut self, bound: u64) -> u64 {
        let mut x = self.0 | 1;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x % bound.max(1)
    }
}

/// Timing of one checker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Timing {
    delay_loop: Duration,
    delay_before_retry: Duration,
    retry: u32,
    /// Interval of checks while down.
    down_delay: Duration,
    /// HTTP_GET / SSL_GET recovery: `Some(fast_recovery)`.
    http_recovery: Option<bool>,
    /// TCP_CHECK keeps its retry cadence while down.
    retry_while_down: bool,
}

#[derive(Debug, Clone)]
struct CheckerState {
    timing: Timing,
    is_up: bool,
    has_run: bool,
    retry_it: u32,
    /// HTTP: the failed check passed once; the confirming pass is due.
    confirming: bool,
    next_due: Duration,
}

#[derive(Debug, Clone)]
struct RealState {
    dest: DestSpec,
    configured_weight: u32,
    effective_weight: u32,
    inhibit: bool,
    alive: bool,
    set: bool,
    num_failed: usize,
    has_notify_up: bool,
    has_notify_down: bool,
    checkers: Vec<CheckerState>,
}

#[derive(Debug, Clone)]
struct SorryState {
    dest: DestSpec,
    inhibit: bool,
    alive: bool,
    set: bool,
}

/// Health-check state of one virtual server and its real servers.
#[derive(Debug, Clone)]
pub struct VsMachine {
    quorum: u64,
    hysteresis: u64,
    omega: bool,
    quorum_up: bool,
    has_quorum_up: bool,
    has_quorum_down: bool,
    sorry: Option<SorryState>,
    reals: Vec<RealState>,
}

impl VsMachine {
    /// Builds the machine for a loaded virtual server and emits the start-up
    /// actions (keepalived's `init_service_vs`): alive servers are added,
    /// inhibited servers with a failed (alpha) checker are added with weight
    /// 0, the quorum is evaluated (which may put the sorry server in), and an
    /// inhibited sorry server is added with weight 0. Each checker's first
    /// check is due at `now` plus a random delay below its `warmup`.
    pub fn new(
        vs: &VirtualServer,
        now: Duration,
        rng: &mut dyn RandomSource,
        out: &mut Vec<Action>,
    ) -> VsMachine {
        let vs_method = vs.lvs_method.unwrap_or(LvsMethod::Nat);
        let reals = vs
            .real_servers
            .iter()
            .map(|rs| {
                let weight = rs.weight.unwrap_or(vs.weight);
                let checkers: Vec<CheckerState> = rs
                    .checkers
                    .iter()
                    .map(|c| {
                        let t = c.timing;
                        let warm = u64::try_from(t.warmup.as_micros()).unwrap_or(u64::MAX);
                        let delay = if warm == 0 {
                            Duration::ZERO
                        } else {
                            Duration::from_micros(rng.below(warm))
                        };
                        let http_recovery = match &c.kind {
                            CheckKind::Http(h) | CheckKind::Ssl(h) => {
                                Some(h.fast_recovery.unwrap_or(false))
                            }
                            _ => None,
                        };
                        let down_delay = if http_recovery.is_some() {
                            t.delay_loop.max(t.delay_before_retry)
                        } else {
                            t.delay_loop
                        };
                        CheckerState {
                            timing: Timing {
                                delay_loop: t.delay_loop,
                                delay_before_retry: t.delay_before_retry,
                                retry: t.retry,
                                down_delay,
                                http_recovery,
                                retry_while_down: matches!(c.kind, CheckKind::Tcp),
                            },
                            is_up: !t.alpha,
                            has_run: false,
                            // keepalived: "one failure is enough initially".
                            retry_it: t.retry,
                            confirming: false,
                            next_due: now + delay,
                        }
                    })
                    .collect();
                let num_failed = checkers.iter().filter(|c| !c.is_up).count();
                RealState {
                    dest: DestSpec {
                        addr: rs.addr,
                        port: rs.port,
                        weight,
                        method: rs.lvs_method.unwrap_or(vs_method),
                        uthreshold: rs.uthreshold.unwrap_or(0),
                        lthreshold: rs.lthreshold.unwrap_or(0),
                    },
                    configured_weight: weight,
                    effective_weight: weight,
                    inhibit: rs.inhibit_on_failure.unwrap_or(vs.inhibit_on_failure),
                    alive: false,
                    set: false,
                    num_failed,
                    has_notify_up: rs.notify_up.is_some(),
                    has_notify_down: rs.notify_down.is_some(),
                    checkers,
                }
            })
            .collect();
        let sorry = vs.sorry_server.as_ref().map(|s| SorryState {
            dest: DestSpec {
                addr: s.addr,
                port: s.port,
                weight: 1,
                method: s.lvs_method.unwrap_or(vs_method),
                uthreshold: 0,
                lthreshold: 0,
            },
            inhibit: s.inhibit,
            alive: false,
            set: false,
        });
        let mut m = VsMachine {
            quorum: u64::from(vs.quorum),
            hysteresis: u64::from(vs.hysteresis),
            omega: vs.omega,
            quorum_up: false,
            has_quorum_up: vs.quorum_up.is_some(),
            has_quorum_down: vs.quorum_down.is_some(),
            sorry,
            reals,
        };
        // keepalived's set_quorum_states() runs before the services are
        // set up: the weights counted are those of servers alive then (none).
        m.quorum_up = m.live_weight() >= m.quorum + m.hysteresis;
        for i in 0..m.reals.len() {
            let rs = &m.reals[i];
            if (rs.num_failed == 0 && !rs.alive) || (rs.inhibit && !rs.set) {
                let weight = if rs.num_failed == 0 {
                    rs.effective_weight
                } else {
                    0
                };
                let dest = DestSpec { weight, ..rs.dest };
                out.push(Action::AddDest {
                    target: Target::Real(i),
                    dest,
                });
                let rs = &mut m.reals[i];
                rs.set = true;
                if rs.num_failed == 0 {
                    rs.alive = true;
                }
            }
        }
        m.update_quorum(true, out);
        if let Some(s) = &mut m.sorry
            && s.inhibit
            && !s.set
        {
            s.set = true;
            out.push(Action::AddDest {
                target: Target::Sorry,
                dest: DestSpec {
                    weight: 0,
                    ..s.dest
                },
            });
        }
        m
    }

    /// Whether the quorum is up.
    pub fn quorum_up(&self) -> bool {
        self.quorum_up
    }

    /// Whether real server `real` is alive (false when out of range).
    pub fn is_alive(&self, real: usize) -> bool {
        self.reals.get(real).is_some_and(|r| r.alive)
    }

    /// The effective weight of real server `real` (`misc_dynamic` may have
    /// changed it).
    pub fn weight(&self, real: usize) -> Option<u32> {
        self.reals.get(real).map(|r| r.effective_weight)
    }

    /// The weight configured for real server `real` (what MISC_CHECK exit 0
    /// restores under `misc_dynamic`).
    pub fn configured_weight(&self, real: usize) -> Option<u32> {
        self.reals.get(real).map(|r| r.configured_weight)
    }

    /// Where checker `id` stands (None for an unknown id).
    pub fn checker_view(&self, id: CheckerId) -> Option<CheckerView> {
        self.checker(id).map(|c| CheckerView {
            is_up: c.is_up,
            has_run: c.has_run,
            retry: c.timing.retry,
        })
    }

    /// Whether real server `real` is alive and in the pool (not replaced by
    /// the sorry server after a quorum loss).
    pub fn in_pool(&self, real: usize) -> bool {
        self.is_alive(real) && self.reals_in_pool()
    }

    /// Whether the sorry server is in service.
    pub fn sorry_active(&self) -> bool {
        self.sorry.as_ref().is_some_and(|s| s.alive)
    }

    /// Sum of the weights of the alive real servers.
    pub fn live_weight(&self) -> u64 {
        self.reals
            .iter()
            .filter(|r| r.alive)
            .map(|r| u64::from(r.effective_weight))
            .sum()
    }

    /// When checker `id` is due next (None for an unknown id).
    pub fn next_due(&self, id: CheckerId) -> Option<Duration> {
        self.checker(id).map(|c| c.next_due)
    }

    /// The earliest due checker and its time.
    pub fn next_deadline(&self) -> Option<(CheckerId, Duration)> {
        let mut best: Option<(CheckerId, Duration)> = None;
        for (real, r) in self.reals.iter().enumerate() {
            for (checker, c) in r.checkers.iter().enumerate() {
                if best.is_none_or(|(_, t)| c.next_due < t) {
                    best = Some((CheckerId { real, checker }, c.next_due));
                }
            }
        }
        best
    }

    /// Checkers due at or before `now`, pushed to `due` (cleared first).
    pub fn due(&self, now: Duration, due: &mut Vec<CheckerId>) {
        due.clear();
        for (real, r) in self.reals.iter().enumerate() {
            for (checker, c) in r.checkers.iter().enumerate() {
                if c.next_due <= now {
                    due.push(CheckerId { real, checker });
                }
            }
        }
    }

    fn checker(&self, id: CheckerId) -> Option<&CheckerState> {
        self.reals.get(id.real)?.checkers.get(id.checker)
    }

    /// Feeds the result of checker `id`, finished at `now`: updates the
    /// retry count, schedules the next check and emits the transitions.
    /// Unknown ids are ignored.
    pub fn on_result(
        &mut self,
        now: Duration,
        id: CheckerId,
        outcome: Outcome,
        out: &mut Vec<Action>,
    ) {
        let Some(c) = self
            .reals
            .get_mut(id.real)
            .and_then(|r| r.checkers.get_mut(id.checker))
        else {
            return;
        };
        let success = !matches!(outcome, Outcome::Down);
        let verdict = if success {
            c.retry_it = 0;
            match c.timing.http_recovery {
                // HTTP_GET/SSL_GET: once the failed url passes, keepalived
                // checks every url again before declaring the checker up
                // (at once with `fast_recovery`).
                Some(fast) if !c.is_up && c.has_run && !c.confirming => {
                    c.confirming = true;
                    c.next_due = now
                        + if fast {
                            Duration::ZERO
                        } else {
                            c.timing.delay_loop
                        };
                    None
                }
                _ => {
                    c.confirming = false;
                    c.next_due = now + c.timing.delay_loop;
                    Some(true)
                }
            }
        } else if c.is_up && c.retry_it < c.timing.retry {
            c.retry_it += 1;
            c.next_due = now + c.timing.delay_before_retry;
            None
        } else if c.timing.retry_while_down && !c.is_up && c.retry_it < c.timing.retry {
            // Already down: the retries change nothing but the cadence.
            c.retry_it += 1;
            c.next_due = now + c.timing.delay_before_retry;
            None
        } else {
            c.retry_it = 0;
            c.confirming = false;
            c.next_due = now + c.timing.down_delay;
            Some(false)
        };
        if let Outcome::UpWithWeight(w) = outcome {
            self.update_weight(id.real, w, out);
        }
        if let Some(up) = verdict {
            self.checker_state(id, up, out);
        }
    }

    /// keepalived's `update_svr_checker_state`.
    fn checker_state(&mut self, id: CheckerId, up: bool, out: &mut Vec<Action>) {
        let Some(r) = self.reals.get_mut(id.real) else {
            return;
        };
        let Some(c) = r.checkers.get_mut(id.checker) else {
            return;
        };
        if c.is_up == up {
            if !c.has_run {
                c.has_run = true;
                if !up {
                    let notify = r.has_notify_down && !r.alive;
                    if notify {
                        out.push(Action::RunScript(ScriptRef::NotifyDown(id.real)));
                    }
                }
            }
            return;
        }
        c.has_run = true;
        c.is_up = up;
        let before = r.num_failed;
        if up {
            r.num_failed = r.num_failed.saturating_sub(1);
            if before <= 1 {
                self.server_state(id.real, true, out);
            }
        } else {
            r.num_failed += 1;
            if before == 0 {
                self.server_state(id.real, false, out);
            }
        }
    }

    /// Whether real servers are in the pool now (quorum up, or no sorry
    /// server serving).
    fn reals_in_pool(&self) -> bool {
        self.quorum_up || !self.sorry_active()
    }

    /// keepalived's `perform_svr_state`.
    fn server_state(&mut self, real: usize, alive: bool, out: &mut Vec<Action>) {
        let in_pool = self.reals_in_pool();
        let Some(r) = self.reals.get_mut(real) else {
            return;
        };
        if r.alive == alive {
            return;
        }
        if in_pool {
            if alive {
                put_in(r, Target::Real(real), out);
            } else {
                take_out(r, Target::Real(real), out);
            }
        }
        r.alive = alive;
        if alive && r.has_notify_up {
            out.push(Action::RunScript(ScriptRef::NotifyUp(real)));
        } else if !alive && r.has_notify_down {
            out.push(Action::RunScript(ScriptRef::NotifyDown(real)));
        }
        self.update_quorum(false, out);
    }

    /// keepalived's `update_svr_wgt`.
    fn update_weight(&mut self, real: usize, weight: u32, out: &mut Vec<Action>) {
        let in_pool = self.reals_in_pool();
        let Some(r) = self.reals.get_mut(real) else {
            return;
        };
        if r.effective_weight == weight {
            return;
        }
        r.effective_weight = weight;
        if r.set && r.alive && in_pool {
            out.push(Action::SetWeight {
                target: Target::Real(real),
                dest: DestSpec { weight, ..r.dest },
            });
        }
        self.update_quorum(false, out);
    }

    /// keepalived's `update_quorum_state`.
    fn update_quorum(&mut self, init: bool, out: &mut Vec<Action>) {
        let sum = self.live_weight();
        if !self.quorum_up {
            let threshold = self.quorum + self.hysteresis;
            if sum >= threshold {
                self.quorum_up = true;
                if let Some(s) = self.sorry.as_mut().filter(|s| s.alive) {
                    s.alive = false;
                    sorry_out(s, out);
                    for (i, r) in self.reals.iter_mut().enumerate() {
                        if r.alive {
                            put_in(r, Target::Real(i), out);
                        }
                    }
                }
                if self.has_quorum_up {
                    out.push(Action::RunScript(ScriptRef::QuorumUp));
                }
                return;
            }
        }
        let threshold = self.quorum.saturating_sub(self.hysteresis);
        let lost = self.quorum_up && (sum == 0 || sum < threshold);
        let start_sorry = init && !self.quorum_up && self.sorry.as_ref().is_some_and(|s| !s.alive);
        if lost || start_sorry {
            self.quorum_up = false;
            if let Some(s) = self.sorry.as_mut().filter(|s| !s.alive) {
                for (i, r) in self.reals.iter_mut().enumerate() {
                    if r.alive {
                        take_out(r, Target::Real(i), out);
                    }
                }
                s.alive = true;
                let was_set = s.set;
                s.set = true;
                let (target, dest) = (Target::Sorry, s.dest);
                out.push(if was_set {
                    Action::SetWeight { target, dest }
                } else {
                    Action::AddDest { target, dest }
                });
            }
            if self.has_quorum_down {
                out.push(Action::RunScript(ScriptRef::QuorumDown));
            }
        }
    }

    /// The destinations the machine's actions have put in IPVS, with their
    /// current weights: each real server that is set (alive and in the pool
    /// with its effective weight, else at weight 0 under
    /// `inhibit_on_failure`), then the sorry server when set (weight 1 while
    /// it serves, else 0 under `sorry_server_inhibit`). Applying every
    /// [`Action`] emitted so far to an empty table gives exactly this list
    /// (a property test checks it).
    pub fn ipvs_dests(&self) -> Vec<(Target, DestSpec)> {
        let in_pool = self.reals_in_pool();
        let mut out = Vec::new();
        for (i, r) in self.reals.iter().enumerate() {
            if r.alive && in_pool {
                out.push((
                    Target::Real(i),
                    DestSpec {
                        weight: r.effective_weight,
                        ..r.dest
                    },
                ));
            } else if r.inhibit {
                out.push((
                    Target::Real(i),
                    DestSpec {
                        weight: 0,
                        ..r.dest
                    },
                ));
            }
        }
        if let Some(s) = &self.sorry {
            if s.alive {
                out.push((Target::Sorry, s.dest));
            } else if s.inhibit {
                out.push((
                    Target::Sorry,
                    DestSpec {
                        weight: 0,
                        ..s.dest
                    },
                ));
            }
        }
        out
    }

    /// Reload: carries the health state of `old` (the machine of `old_vs`)
    /// into `self`, a machine just built with [`VsMachine::new`] for
    /// `new_vs`, the same virtual server in the reloaded configuration.
    /// Returns the checkers carried over, as `(new id, old id)` pairs: they
    /// keep their schedule and in-flight check (they are not restarted).
    ///
    /// Rules (keepalived 2.x `clear_diff_rs` / `migrate_checkers`):
    /// - real servers are matched by address and port; a kept one keeps
    ///   its alive state and its `misc_dynamic` weight (a configured weight
    ///   change applies unless a MISC_CHECK changed the weight);
    /// - its checkers are matched to old ones with the same type, settings,
    ///   connection and timing: a matched checker keeps its state (up or
    ///   down, retries used, next check); the others start afresh, down if
    ///   `alpha` when the server has a failed checker or was down without
    ///   any check run yet, up otherwise;
    /// - the quorum state and the sorry server's state are kept (a sorry
    ///   server at a new address takes over the old one's state);
    /// - then the state settles: a kept server whose checkers are all up is
    ///   alive, one with a failed checker is down, new servers are as at
    ///   start, and the quorum is evaluated (which may put the sorry server
    ///   in or out). The transitions run their notify scripts: only
    ///   [`Action::RunScript`] actions go to `scripts` (the caller derives
    ///   the IPVS changes from [`VsMachine::ipvs_dests`] before and after).
    pub fn carry_from(
        &mut self,
        new_vs: &VirtualServer,
        old_vs: &VirtualServer,
        old: &VsMachine,
        scripts: &mut Vec<Action>,
    ) -> Vec<(CheckerId, CheckerId)> {
        let mut carried = Vec::new();
        self.quorum_up = old.quorum_up;
        // The sorry server (the same one or a new address) serves when the
        // old one did; the quorum evaluation below settles the rest.
        if let Some(s) = self.sorry.as_mut() {
            s.alive = old.sorry.as_ref().is_some_and(|o| o.alive);
        }
        for (i, (r, rs)) in self.reals.iter_mut().zip(&new_vs.real_servers).enumerate() {
            let Some(j) = old
                .reals
                .iter()
                .position(|o| o.dest.addr == r.dest.addr && o.dest.port == r.dest.port)
            else {
                continue;
            };
            let (o, ors) = (&old.reals[j], &old_vs.real_servers[j]);
            r.alive = o.alive;
            r.effective_weight = if o.effective_weight == o.configured_weight {
                r.configured_weight
            } else {
                o.effective_weight
            };
            let mut used = vec![false; o.checkers.len()];
            let mut matched = vec![false; r.checkers.len()];
            for (k, c) in rs.checkers.iter().enumerate() {
                let found =
                    ors.checkers.iter().enumerate().position(|(m, oc)| {
                        !used[m] && same_checker(c, rs, new_vs, oc, ors, old_vs)
                    });
                let (Some(m), Some(state)) = (found, r.checkers.get_mut(k)) else {
                    continue;
                };
                used[m] = true;
                matched[k] = true;
                let oc = &o.checkers[m];
                state.is_up = oc.is_up;
                state.has_run = oc.has_run;
                state.retry_it = oc.retry_it.min(state.timing.retry);
                state.confirming = oc.confirming;
                state.next_due = oc.next_due;
                carried.push((
                    CheckerId {
                        real: i,
                        checker: k,
                    },
                    CheckerId {
                        real: j,
                        checker: m,
                    },
                ));
            }
            let failed = r.checkers.iter().zip(&matched).any(|(c, m)| *m && !c.is_up);
            let any_run = r
                .checkers
                .iter()
                .zip(&matched)
                .any(|(c, m)| *m && c.has_run);
            let pessimistic = failed || (!r.alive && !any_run);
            for (c, m) in r.checkers.iter_mut().zip(&matched) {
                if !*m {
                    // Fresh: alpha checkers are down only when pessimistic.
                    c.is_up = c.is_up || !pessimistic;
                }
            }
            r.num_failed = r.checkers.iter().filter(|c| !c.is_up).count();
        }
        // The table follows from the state: re-derive `set`.
        let in_pool = self.reals_in_pool();
        for r in &mut self.reals {
            r.set = (r.alive && in_pool) || r.inhibit;
        }
        if let Some(s) = self.sorry.as_mut() {
            s.set = s.alive || s.inhibit;
        }
        let mut out = Vec::new();
        for i in 0..self.reals.len() {
            let r = &self.reals[i];
            if r.num_failed == 0 && !r.alive {
                self.server_state(i, true, &mut out);
            } else if r.num_failed > 0 && r.alive {
                self.server_state(i, false, &mut out);
            }
        }
        self.update_quorum(true, &mut out);
        scripts.extend(
            out.into_iter()
                .filter(|a| matches!(a, Action::RunScript(_))),
        );
        carried
    }

    /// Stops checking (keepalived's `clear_services` without
    /// `lvs_flush_on_stop`): removes the sorry server and every real server
    /// present in IPVS (even inhibited ones); with `omega`, runs
    /// `notify_down` of each alive server, then `quorum_down`.
    pub fn shutdown(&mut self, out: &mut Vec<Action>) {
        if let Some(s) = self.sorry.as_mut().filter(|s| s.set || s.alive) {
            s.set = false;
            s.alive = false;
            out.push(Action::RemoveDest {
                target: Target::Sorry,
                dest: s.dest,
            });
        }
        for (i, r) in self.reals.iter_mut().enumerate() {
            if !r.set {
                continue;
            }
            r.set = false;
            out.push(Action::RemoveDest {
                target: Target::Real(i),
                dest: DestSpec {
                    weight: r.effective_weight,
                    ..r.dest
                },
            });
            if !r.alive {
                continue;
            }
            r.alive = false;
            if self.omega && r.has_notify_down {
                out.push(Action::RunScript(ScriptRef::NotifyDown(i)));
            }
        }
        self.quorum_up = false;
        if self.omega && self.has_quorum_down {
            out.push(Action::RunScript(ScriptRef::QuorumDown));
        }
    }
}

/// Whether checker `a` of real server `ars` of `avs` probes exactly as
/// checker `b` of `brs` of `bvs` (its location aside): same type and
/// settings, connection options, timing and resolved `virtualhost`.
fn same_checker(
    a: &Checker,
    ars: &RealServer,
    avs: &VirtualServer,
    b: &Checker,
    brs: &RealServer,
    bvs: &VirtualServer,
) -> bool {
    let vhost = |c: &Checker, rs: &RealServer, vs: &VirtualServer| {
        let own = match &c.kind {
            CheckKind::Http(h) | CheckKind::Ssl(h) => h.virtualhost.clone(),
            _ => None,
        };
        own.or_else(|| rs.virtualhost.clone())
            .or_else(|| vs.virtualhost.clone())
    };
    a.kind == b.kind
        && a.connect == b.connect
        && a.timing == b.timing
        && vhost(a, ars, avs) == vhost(b, brs, bvs)
}

/// Puts a real server (back) in the pool.
fn put_in(r: &mut RealState, target: Target, out: &mut Vec<Action>) {
    let dest = DestSpec {
        weight: r.effective_weight,
        ..r.dest
    };
    out.push(if r.set {
        Action::SetWeight { target, dest }
    } else {
        Action::AddDest { target, dest }
    });
    r.set = true;
}

/// Takes a real server out of the pool: weight 0 when inhibited.
fn take_out(r: &mut RealState, target: Target, out: &mut Vec<Action>) {
    if r.inhibit {
        out.push(Action::SetWeight {
            target,
            dest: DestSpec {
                weight: 0,
                ..r.dest
            },
        });
    } else {
        out.push(Action::RemoveDest {
            target,
            dest: DestSpec {
                weight: r.effective_weight,
                ..r.dest
            },
        });
        r.set = false;
    }
}

/// Takes the sorry server out of service: weight 0 when inhibited.
fn sorry_out(s: &mut SorryState, out: &mut Vec<Action>) {
    if s.inhibit {
        out.push(Action::SetWeight {
            target: Target::Sorry,
            dest: DestSpec {
                weight: 0,
                ..s.dest
            },
        });
    } else {
        s.set = false;
        out.push(Action::RemoveDest {
            target: Target::Sorry,
            dest: s.dest,
        });
    }
}
