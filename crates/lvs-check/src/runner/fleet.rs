//! The checkers of a whole configuration, and its graceful reload.
//!
//! A [`Fleet`] holds one [`VsMachine`] per `virtual_server` of a loaded
//! configuration, runs every checker on its schedule on the calling tokio
//! runtime (one task per check in flight, never more than one per checker)
//! and hands out the resulting actions tagged with the virtual server they
//! belong to; [`Fleet::requests`] turns an action into the control requests
//! for each service of that virtual server.
//!
//! Reload is two-phase so that a refused batch changes nothing:
//! [`Fleet::prepare`] builds the machines of the new configuration, carrying
//! the state of every virtual server, real server and checker that is still
//! there ([`VsMachine::carry_from`]), and computes the [`lvs_config::diff`]
//! between the table the current machines stand for and the new one;
//! the caller applies [`Prepared::requests`] as one atomic batch and then
//! [`Fleet::commit`]s (or drops the [`Prepared`] on failure). Carried
//! checkers keep their schedule and their check in flight; the others are
//! aborted, and new ones start after their `warmup`.
//!
//! Virtual servers match by identity, as keepalived's `vs_iseq`: the same
//! address, port and protocol, or the same fwmark and family, or the same
//! group name and protocol.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use lvs_config::{Config, Script, ScriptUser, TableService, VirtualServer, VsKey};
use lvs_proto::{CheckerHealth, HealthState, RealHealth, Request, ServiceSpec, VsHealth};
use tokio::task::{AbortHandle, Id, JoinSet};
use tokio::time::Instant;

use super::{CheckSpec, run_explained};
use crate::state::{Action, CheckerId, Outcome, RandomSource, ScriptRef, Target, VsMachine};
use crate::table;

#[derive(Debug)]
struct Entry {
    vs: VirtualServer,
    services: Vec<ServiceSpec>,
    machine: VsMachine,
    specs: Vec<Vec<Arc<CheckSpec>>>,
    /// Per real server, per checker: the last results.
    records: Vec<Vec<Record>>,
    /// Per real server: when its state (alive, in the pool) last changed.
    since: Vec<Duration>,
}

/// The last results of one checker (what `lvsadm health` shows).
#[derive(Debug, Clone, Default)]
struct Record {
    /// Consecutive failed checks.
    failures: u32,
    /// Passed, why, when.
    last: Option<(bool, String, Duration)>,
}

impl Entry {
    fn new(
        cfg: &Config,
        vs: &VirtualServer,
        now: Duration,
        rng: &mut dyn RandomSource,
        out: &mut Vec<Action>,
    ) -> Entry {
        let user = cfg.global.script_user.as_ref();
        let n = vs.real_servers.len();
        Entry {
            records: vs
                .real_servers
                .iter()
                .map(|rs| vec![Record::default(); rs.checkers.len()])
                .collect(),
            since: vec![now; n],
            vs: vs.clone(),
            services: lvs_config::vs_services(cfg, vs),
            machine: VsMachine::new(vs, now, rng, out),
            specs: vs
                .real_servers
                .iter()
                .map(|rs| {
                    rs.checkers
                        .iter()
                        .map(|c| Arc::new(CheckSpec::new(vs, rs, c, user)))
                        .collect()
                })
                .collect(),
        }
    }
}

impl Entry {
    /// Records the result of checker `id` at `now`; `before` is whether each
    /// real server was in the pool before the result was fed.
    fn record(
        &mut self,
        now: Duration,
        id: CheckerId,
        outcome: Outcome,
        why: String,
        before: &[bool],
    ) {
        if let Some(r) = self
            .records
            .get_mut(id.real)
            .and_then(|v| v.get_mut(id.checker))
        {
            let ok = !matches!(outcome, Outcome::Down);
            r.failures = if ok { 0 } else { r.failures.saturating_add(1) };
            r.last = Some((ok, why, now));
        }
        for (real, was) in before.iter().enumerate() {
            if self.machine.in_pool(real) != *was
                && let Some(t) = self.since.get_mut(real)
            {
                *t = now;
            }
        }
    }

    fn health(&self, now: Duration) -> VsHealth {
        let proto = self
            .vs
            .protocol
            .map(|p| format!(" {p:?}").to_uppercase())
            .unwrap_or_default();
        let ipvs = self.machine.ipvs_dests();
        let reals = self
            .vs
            .real_servers
            .iter()
            .enumerate()
            .map(|(real, rs)| {
                let checkers: Vec<CheckerHealth> = self
                    .specs
                    .get(real)
                    .into_iter()
                    .flatten()
                    .enumerate()
                    .map(|(checker, spec)| {
                        let id = CheckerId { real, checker };
                        let view = self.machine.checker_view(id);
                        let rec = self
                            .records
                            .get(real)
                            .and_then(|v| v.get(checker))
                            .cloned()
                            .unwrap_or_default();
                        let state = match view {
                            Some(v) if !v.has_run => HealthState::Warming,
                            Some(v) if v.is_up => HealthState::Up,
                            _ => HealthState::Down,
                        };
                        let target = match &spec.kind {
                            lvs_config::CheckKind::Misc(m) => m.path.command.clone(),
                            _ => addr_port(spec.target.ip(), spec.target.port()),
                        };
                        CheckerHealth {
                            kind: spec.kind.keyword().to_owned(),
                            target,
                            state,
                            failures: rec.failures,
                            retry: view.map_or(0, |v| v.retry),
                            last_ok: rec.last.as_ref().map(|l| l.0),
                            reason: rec.last.as_ref().map(|l| l.1.clone()).unwrap_or_default(),
                            last_ms: rec.last.as_ref().map(|l| millis(now.saturating_sub(l.2))),
                        }
                    })
                    .collect();
                let state = if !self.machine.is_alive(real) {
                    HealthState::Down
                } else if checkers.iter().any(|c| c.state == HealthState::Warming) {
                    HealthState::Warming
                } else if !self.machine.in_pool(real) {
                    HealthState::QuorumSorry
                } else {
                    HealthState::Up
                };
                let weight = ipvs
                    .iter()
                    .find(|(t, _)| *t == Target::Real(real))
                    .map(|(_, d)| d.weight);
                RealHealth {
                    addr: addr_port(rs.addr, rs.port),
                    state,
                    weight,
                    since_ms: millis(
                        now.saturating_sub(self.since.get(real).copied().unwrap_or_default()),
                    ),
                    checkers,
                }
            })
            .collect();
        VsHealth {
            name: format!("{}{proto}", self.vs.key),
            quorum_up: self.machine.quorum_up(),
            sorry_active: self.machine.sorry_active(),
            reals,
        }
    }
}

fn addr_port(addr: std::net::IpAddr, port: u16) -> String {
    std::net::SocketAddr::new(addr, port).to_string()
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Whether two virtual servers are the same one (keepalived's `vs_iseq`).
fn same_vs(a: &VirtualServer, b: &VirtualServer) -> bool {
    match (&a.key, &b.key) {
        (VsKey::Fwmark(x), VsKey::Fwmark(y)) => x == y && a.ip_family == b.ip_family,
        (ka, kb) => ka == kb && a.protocol == b.protocol,
    }
}

/// What a reload will do, computed by [`Fleet::prepare`].
#[derive(Debug)]
pub struct Prepared {
    entries: Vec<Entry>,
    /// `(new vs, new checker)` ← `(old vs, old checker)`.
    carried: Vec<((usize, CheckerId), (usize, CheckerId))>,
    /// The requests to apply as one atomic batch (may be empty).
    pub requests: Vec<Request>,
    /// Notify scripts of the transitions the reload causes, by virtual
    /// server (index in the new configuration); run them after commit.
    pub scripts: Vec<(usize, Action)>,
    /// Checkers kept running with their state.
    pub kept_checkers: usize,
    /// Checkers (re)started afresh.
    pub new_checkers: usize,
}

/// The health checks of a configuration (see the module docs).
#[derive(Debug)]
pub struct Fleet {
    entries: Vec<Entry>,
    tls: Option<Arc<rustls::ClientConfig>>,
    origin: Instant,
    in_flight: BTreeMap<Id, (usize, CheckerId)>,
    handles: BTreeMap<(usize, CheckerId), AbortHandle>,
    tasks: JoinSet<(Outcome, String)>,
}

impl Fleet {
    /// Builds the machines of `cfg`; their start-up actions go to `out`,
    /// tagged with the index of their virtual server. `tls` is the SSL_GET
    /// client configuration.
    pub fn new(
        cfg: &Config,
        tls: Option<Arc<rustls::ClientConfig>>,
        rng: &mut dyn RandomSource,
        out: &mut Vec<(usize, Action)>,
    ) -> Fleet {
        let mut entries = Vec::new();
        for (i, vs) in cfg.virtual_servers.iter().enumerate() {
            let mut actions = Vec::new();
            entries.push(Entry::new(cfg, vs, Duration::ZERO, rng, &mut actions));
            out.extend(actions.into_iter().map(|a| (i, a)));
        }
        Fleet {
            entries,
            tls,
            origin: Instant::now(),
            in_flight: BTreeMap::new(),
            handles: BTreeMap::new(),
            tasks: JoinSet::new(),
        }
    }

    /// Replaces the SSL_GET client configuration (for the checks started
    /// from now on).
    pub fn set_tls(&mut self, tls: Option<Arc<rustls::ClientConfig>>) {
        self.tls = tls;
    }

    /// Number of virtual servers.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there is no virtual server.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The machine of virtual server `vs`.
    pub fn machine(&self, vs: usize) -> Option<&VsMachine> {
        self.entries.get(vs).map(|e| &e.machine)
    }

    /// The configuration of virtual server `vs`.
    pub fn virtual_server(&self, vs: usize) -> Option<&VirtualServer> {
        self.entries.get(vs).map(|e| &e.vs)
    }

    /// The control requests of `action` of virtual server `vs`.
    pub fn requests(&self, vs: usize, action: &Action) -> Vec<Request> {
        self.entries
            .get(vs)
            .map(|e| table::requests(&e.services, action))
            .unwrap_or_default()
    }

    /// The script a [`ScriptRef`] of virtual server `vs` names.
    pub fn script(&self, vs: usize, which: ScriptRef) -> Option<&Script> {
        let v = &self.entries.get(vs)?.vs;
        match which {
            ScriptRef::NotifyUp(r) => v.real_servers.get(r)?.notify_up.as_ref(),
            ScriptRef::NotifyDown(r) => v.real_servers.get(r)?.notify_down.as_ref(),
            ScriptRef::QuorumUp => v.quorum_up.as_ref(),
            ScriptRef::QuorumDown => v.quorum_down.as_ref(),
        }
    }

    /// The IPVS table the machines stand for.
    pub fn table(&self) -> Vec<TableService> {
        self.entries
            .iter()
            .flat_map(|e| table::table(&e.services, &e.machine))
            .collect()
    }

    /// Number of checkers.
    pub fn checker_count(&self) -> usize {
        self.entries
            .iter()
            .map(|e| e.specs.iter().map(Vec::len).sum::<usize>())
            .sum()
    }

    /// Starts the due checks, waits for the next result or deadline and
    /// pushes the resulting actions to `out`. Cancel-safe: the state only
    /// changes when a result is taken, synchronously. Without any checker
    /// it waits forever.
    pub async fn step(&mut self, out: &mut Vec<(usize, Action)>) {
        let now = self.origin.elapsed();
        let mut due = Vec::new();
        for vs in 0..self.entries.len() {
            self.entries[vs].machine.due(now, &mut due);
            for id in due.drain(..) {
                if self.handles.contains_key(&(vs, id)) {
                    continue;
                }
                let Some(spec) = self.entries[vs]
                    .specs
                    .get(id.real)
                    .and_then(|v| v.get(id.checker))
                else {
                    continue;
                };
                let spec = Arc::clone(spec);
                let tls = self.tls.clone();
                let handle = self
                    .tasks
                    .spawn(async move { run_explained(&spec, tls.as_ref()).await });
                self.in_flight.insert(handle.id(), (vs, id));
                self.handles.insert((vs, id), handle);
            }
        }
        let next = self.next_idle_deadline();
        let sleep = async {
            match next {
                Some(t) => tokio::time::sleep_until(self.origin + t).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            Some(done) = self.tasks.join_next_with_id(), if !self.tasks.is_empty() => {
                // A check task that panicked counts as a failed check; an
                // aborted one (reload) is not ours any more.
                let (task, outcome) = match done {
                    Ok((task, outcome)) => (task, Some(outcome)),
                    Err(e) if e.is_cancelled() => (e.id(), None),
                    Err(e) => (e.id(), Some((Outcome::Down, format!("check task failed: {e}")))),
                };
                if let Some((vs, id)) = self.in_flight.remove(&task) {
                    self.handles.remove(&(vs, id));
                    if let (Some((outcome, why)), Some(e)) = (outcome, self.entries.get_mut(vs)) {
                        let now = self.origin.elapsed();
                        let mut actions = Vec::new();
                        let before: Vec<bool> =
                            (0..e.since.len()).map(|r| e.machine.in_pool(r)).collect();
                        e.machine.on_result(now, id, outcome, &mut actions);
                        e.record(now, id, outcome, why, &before);
                        out.extend(actions.into_iter().map(|a| (vs, a)));
                    }
                }
            }
            () = sleep => {}
        }
    }

    /// The earliest deadline of a checker not running now.
    fn next_idle_deadline(&self) -> Option<Duration> {
        let mut best: Option<Duration> = None;
        for (vs, e) in self.entries.iter().enumerate() {
            for (real, v) in e.specs.iter().enumerate() {
                for checker in 0..v.len() {
                    let id = CheckerId { real, checker };
                    if self.handles.contains_key(&(vs, id)) {
                        continue;
                    }
                    if let Some(t) = e.machine.next_due(id)
                        && best.is_none_or(|b| t < b)
                    {
                        best = Some(t);
                    }
                }
            }
        }
        best
    }

    /// Computes the reload to `cfg` (see the module docs); nothing changes
    /// until [`Fleet::commit`].
    pub fn prepare(&self, cfg: &Config, rng: &mut dyn RandomSource) -> Prepared {
        let now = self.origin.elapsed();
        let mut entries = Vec::new();
        let mut carried = Vec::new();
        let mut scripts = Vec::new();
        let mut used = vec![false; self.entries.len()];
        let mut new_checkers = 0;
        for (i, vs) in cfg.virtual_servers.iter().enumerate() {
            let mut startup = Vec::new();
            let mut e = Entry::new(cfg, vs, now, rng, &mut startup);
            let old = self
                .entries
                .iter()
                .enumerate()
                .position(|(j, o)| !used[j] && same_vs(&o.vs, vs));
            let n_checkers: usize = e.specs.iter().map(Vec::len).sum();
            match old {
                Some(j) => {
                    used[j] = true;
                    let o = &self.entries[j];
                    let mut s = Vec::new();
                    let pairs = e.machine.carry_from(vs, &o.vs, &o.machine, &mut s);
                    new_checkers += n_checkers - pairs.len();
                    carried.extend(pairs.into_iter().map(|(n, p)| ((i, n), (j, p))));
                    scripts.extend(s.into_iter().map(|a| (i, a)));
                }
                None => {
                    new_checkers += n_checkers;
                    scripts.extend(
                        startup
                            .into_iter()
                            .filter(|a| matches!(a, Action::RunScript(_)))
                            .map(|a| (i, a)),
                    );
                }
            }
            entries.push(e);
        }
        let new_table: Vec<TableService> = entries
            .iter()
            .flat_map(|e| table::table(&e.services, &e.machine))
            .collect();
        let requests = lvs_config::diff(&self.table(), &new_table);
        Prepared {
            kept_checkers: carried.len(),
            entries,
            carried,
            requests,
            scripts,
            new_checkers,
        }
    }

    /// Switches to a prepared reload (after its requests were applied):
    /// carried checkers keep their check in flight, the others' are
    /// aborted.
    pub fn commit(&mut self, p: Prepared) {
        let mut in_flight = BTreeMap::new();
        let mut handles = BTreeMap::new();
        let mut old_handles = std::mem::take(&mut self.handles);
        for &(new, old) in &p.carried {
            if let Some(h) = old_handles.remove(&old) {
                in_flight.insert(h.id(), new);
                handles.insert(new, h);
            }
        }
        for h in old_handles.values() {
            h.abort();
        }
        let mut entries = p.entries;
        for ((nv, nid), (ov, oid)) in &p.carried {
            let old = self.entries.get(*ov);
            let rec = old.and_then(|o| o.records.get(oid.real)?.get(oid.checker).cloned());
            let since = old.and_then(|o| o.since.get(oid.real).copied());
            if let Some(e) = entries.get_mut(*nv) {
                if let (Some(r), Some(slot)) = (
                    rec,
                    e.records
                        .get_mut(nid.real)
                        .and_then(|v| v.get_mut(nid.checker)),
                ) {
                    *slot = r;
                }
                if let (Some(t), Some(slot)) = (since, e.since.get_mut(nid.real)) {
                    *slot = t;
                }
            }
        }
        self.in_flight = in_flight;
        self.handles = handles;
        self.entries = entries;
    }

    /// What `lvsadm health` shows: every virtual server in configuration
    /// order, its real servers and their checkers (see
    /// [`lvs_proto::VsHealth`]).
    pub fn health(&self) -> Vec<VsHealth> {
        let now = self.origin.elapsed();
        self.entries.iter().map(|e| e.health(now)).collect()
    }

    /// Stops: aborts running checks and returns, by virtual server, the
    /// actions removing what the machines put in IPVS (keepalived's
    /// shutdown without `lvs_flush_on_stop`).
    pub fn shutdown(&mut self, out: &mut Vec<(usize, Action)>) {
        self.tasks.abort_all();
        self.in_flight.clear();
        self.handles.clear();
        for (i, e) in self.entries.iter_mut().enumerate() {
            let mut actions = Vec::new();
            e.machine.shutdown(&mut actions);
            out.extend(actions.into_iter().map(|a| (i, a)));
        }
    }
}

/// `global_defs`' `script_user` of `cfg` (the default user of notify
/// scripts).
pub fn default_script_user(cfg: &Config) -> Option<&ScriptUser> {
    cfg.global.script_user.as_ref()
}
