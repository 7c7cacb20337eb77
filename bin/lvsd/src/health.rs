//! keepalived inside lvsd: the health checkers of a `--config`
//! keepalived.conf, their actions, notify scripts, and graceful reload.
//!
//! Contract:
//! - **Checks**: after the start-up table (the lowering of the file) is
//!   applied, one task on lvsd's tokio runtime runs every checker of every
//!   real server ([`lvs_check::runner::Fleet`]; TCP_CHECK, HTTP_GET,
//!   SSL_GET, MISC_CHECK, UDP_CHECK, DNS_CHECK, SMTP_CHECK) on keepalived's
//!   schedule (`delay_loop`, `retry`, `delay_before_retry`, `warmup`,
//!   `alpha`...), from lvsd's own network namespace. Nothing of it runs on
//!   the packet path: the data-plane worker only sees the table change.
//! - **Actions**: each transition of a virtual server's state machine
//!   (a real server removed, or set to weight 0 under `inhibit_on_failure`;
//!   added back; a `misc_dynamic` weight; the sorry server in or out when
//!   the quorum, with its hysteresis, is lost or regained) becomes one
//!   control request per IPVS service of the virtual server (a group has
//!   several), applied through the same handler as socket requests
//!   ([`crate::server::Shared::handle`]) and logged at `info`.
//! - **Scripts**: `notify_up` / `notify_down` of a real server and
//!   `quorum_up` / `quorum_down` of a virtual server are started without
//!   waiting (the control plane never blocks on them), as keepalived
//!   does: the command string is split into arguments with keepalived's
//!   quoting rules and executed directly — keepalived 2.x never runs a
//!   shell, not even for a string with `;`, `|` or `$` (checked in the lab,
//!   `crates/lvs-check/lab/keepalived_rules.out`); write
//!   `"/bin/sh -c '...'"` to get one. They run as their `user`, else
//!   `global_defs` `script_user`, with standard streams on `/dev/null`, in
//!   their own process group, which is killed after [`NOTIFY_TIMEOUT`]
//!   (keepalived sets no bound on notify scripts; this one only stops
//!   runaways).
//! - **Reload** (SIGHUP, or `lvsadm reload` = `NativeRequest::Reload`):
//!   the same file is read again and validated whole. Errors: nothing
//!   changes (table, checkers and their state), the diagnostics are logged
//!   and returned with `file:line:col`. Otherwise the new machines carry the
//!   state of what is still there (see `VsMachine::carry_from`: kept
//!   servers keep their up/down state, kept checkers their schedule and
//!   check in flight; only changed or new checkers start afresh), the
//!   difference between the table the old machines stand for and the new
//!   one ([`lvs_config::diff`]) is applied as one atomic batch (unchanged
//!   services and destinations keep their connections and counters; weight
//!   changes are edits in place), and only then the checkers switch. A
//!   refused batch leaves everything as it was.
//! - **Health** (`lvsadm health` = `NativeRequest::Health`): the fleet's
//!   view of every checker (type, target, verdict, consecutive failures vs
//!   `retry`, last result and its reason, time since the real server's
//!   last transition, weight in effect), answered by the checks task
//!   between two steps, so it is consistent with the table it drives.
//! - **Shutdown** (SIGTERM, SIGINT): the checks stop; with `omega`, the
//!   `notify_down` scripts of the alive servers and `quorum_down` run and
//!   are waited for at most [`SHUTDOWN_SCRIPTS`], as keepalived does.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use lvs_check::runner::{Fleet, TlsConfig, TlsOptions, spawn_notify_bounded, tls_client_config};
use lvs_check::{Action, ScriptRef, Target, XorShift};
use lvs_config::{CheckKind, Config, VirtualServer};
use lvs_proto::{Errno, ReloadReport, Request, Response, VsHealth};
use tokio::sync::{mpsc, oneshot};

use crate::server::Shared;

/// How long a notify script may run before its process group is killed.
pub const NOTIFY_TIMEOUT: Duration = Duration::from_secs(30);

/// How long the `omega` scripts may run at shutdown (keepalived gives its
/// stopping scripts one second too).
pub const SHUTDOWN_SCRIPTS: Duration = Duration::from_secs(1);

enum Command {
    Reload(oneshot::Sender<ReloadReport>),
    Health(oneshot::Sender<Vec<VsHealth>>),
    Shutdown(oneshot::Sender<()>),
}

/// The running health checks (cheap to clone).
#[derive(Debug, Clone)]
pub struct Handle {
    tx: mpsc::Sender<Command>,
    path: PathBuf,
}

impl Handle {
    /// Reloads the configuration file (see the module docs).
    pub async fn reload(&self) -> ReloadReport {
        let (tx, rx) = oneshot::channel();
        let gone = || ReloadReport {
            applied: false,
            file: self.path.display().to_string(),
            changes: 0,
            kept_checkers: 0,
            new_checkers: 0,
            diagnostics: vec!["the health-check task has stopped".to_owned()],
        };
        if self.tx.send(Command::Reload(tx)).await.is_err() {
            return gone();
        }
        rx.await.unwrap_or_else(|_| gone())
    }

    /// The state of every checker (`lvsadm health`, `NativeRequest::Health`);
    /// empty when the health-check task has stopped.
    pub async fn health(&self) -> Vec<VsHealth> {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Command::Health(tx)).await.is_err() {
            return Vec::new();
        }
        rx.await.unwrap_or_default()
    }

    /// Stops the checks; with `omega`, runs `notify_down` of each alive
    /// server and `quorum_down` of its virtual server, waiting for them at
    /// most [`SHUTDOWN_SCRIPTS`] (keepalived's shutdown). The table is left
    /// as it is: it ends with the process.
    pub async fn shutdown(&self) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Command::Shutdown(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }
}

/// The SSL_GET client configuration of `cfg` (`SSL { ca }` verifies the
/// servers; keepalived verifies nothing otherwise), when it has SSL_GET.
fn tls(cfg: &Config) -> Option<TlsConfig> {
    let wanted = cfg.virtual_servers.iter().any(|vs| {
        vs.real_servers.iter().any(|rs| {
            rs.checkers
                .iter()
                .any(|c| matches!(c.kind, CheckKind::Ssl(_)))
        })
    });
    if !wanted {
        return None;
    }
    let ca_pem = match cfg.ssl.as_ref().and_then(|s| s.ca.as_ref()) {
        Some(ca) => match std::fs::read(ca) {
            Ok(pem) => Some(pem),
            Err(e) => {
                tracing::warn!("SSL ca {ca}: {e}; SSL_GET checks will fail");
                return None;
            }
        },
        None => None,
    };
    match tls_client_config(&TlsOptions { ca_pem }) {
        Ok(c) => Some(c),
        Err(e) => {
            tracing::warn!("{e}; SSL_GET checks will fail");
            None
        }
    }
}

fn seed() -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    (t as u64) ^ u64::from(std::process::id()).rotate_left(32) | 1
}

/// Starts the health checks of `cfg`, loaded from `path`, whose start-up
/// table is already applied.
pub fn start(shared: Arc<Shared>, path: &Path, cfg: Config) -> Handle {
    let mut rng = XorShift(seed());
    let mut startup = Vec::new();
    let fleet = Fleet::new(&cfg, tls(&cfg), &mut rng, &mut startup);
    tracing::info!(
        "health checks: {} virtual server(s), {} checker(s)",
        fleet.len(),
        fleet.checker_count()
    );
    // The IPVS part of the start-up actions is the lowered table applied
    // already; the scripts (quorum state at start) still run.
    let m = Manager {
        shared,
        path: path.to_path_buf(),
        cfg,
        fleet,
        rng,
    };
    for (vs, a) in startup {
        if let Action::RunScript(which) = a {
            m.run_script(vs, which);
        }
    }
    let (tx, rx) = mpsc::channel(4);
    tokio::spawn(m.run(rx));
    Handle {
        tx,
        path: path.to_path_buf(),
    }
}

struct Manager {
    shared: Arc<Shared>,
    path: PathBuf,
    cfg: Config,
    fleet: Fleet,
    rng: XorShift,
}

enum Event {
    Command(Option<Command>),
    Stepped,
}

impl Manager {
    async fn run(mut self, mut rx: mpsc::Receiver<Command>) {
        let mut out = Vec::new();
        loop {
            let event = tokio::select! {
                biased;
                c = rx.recv() => Event::Command(c),
                () = self.fleet.step(&mut out) => Event::Stepped,
            };
            match event {
                Event::Command(None) => break,
                Event::Command(Some(Command::Reload(reply))) => {
                    let report = self.reload();
                    let _ = reply.send(report);
                }
                Event::Command(Some(Command::Health(reply))) => {
                    let _ = reply.send(self.fleet.health());
                }
                Event::Command(Some(Command::Shutdown(reply))) => {
                    self.shutdown().await;
                    let _ = reply.send(());
                    break;
                }
                Event::Stepped => {}
            }
            for (vs, a) in out.drain(..) {
                self.apply(vs, a);
            }
        }
    }

    fn vs_name(&self, vs: usize) -> String {
        self.fleet
            .virtual_server(vs)
            .map(describe)
            .unwrap_or_else(|| format!("#{vs}"))
    }

    /// Applies one action of virtual server `vs`.
    fn apply(&mut self, vs: usize, action: Action) {
        let (target, what) = match &action {
            Action::RunScript(which) => {
                self.run_script(vs, *which);
                return;
            }
            Action::AddDest { target, dest } => (*target, format!("add, weight {}", dest.weight)),
            Action::SetWeight { target, dest } => (*target, format!("weight {}", dest.weight)),
            Action::RemoveDest { target, .. } => (*target, "remove".to_owned()),
        };
        let dest = match &action {
            Action::AddDest { dest, .. }
            | Action::SetWeight { dest, .. }
            | Action::RemoveDest { dest, .. } => *dest,
            Action::RunScript(_) => return,
        };
        let who = match target {
            Target::Real(_) => "real server",
            Target::Sorry => "sorry server",
        };
        let name = self.vs_name(vs);
        for req in self.fleet.requests(vs, &action) {
            let resp = self.handle_tolerant(req.clone());
            match resp {
                Response::Ok => tracing::info!(
                    "health: {name}: {who} {}: {what}",
                    lvs_config::VsKey::Addr {
                        addr: dest.addr,
                        port: dest.port
                    }
                ),
                other => tracing::warn!("health: {name}: {who} {req:?} refused: {other:?}"),
            }
        }
    }

    /// Applies a destination request; when the table was changed by hand
    /// (the destination is already there, or already gone), the request
    /// that gets the intended result is sent instead, as keepalived carries
    /// on after a failed IPVS command.
    fn handle_tolerant(&self, req: Request) -> Response {
        let resp = self.shared.handle(req.clone());
        let Response::Error(e) = &resp else {
            return resp;
        };
        match (req, e.errno) {
            (Request::AddDest { service, dest }, Errno::Eexist) => {
                self.shared.handle(Request::EditDest { service, dest })
            }
            (Request::EditDest { service, dest }, Errno::Enoent) => {
                self.shared.handle(Request::AddDest { service, dest })
            }
            (Request::DelDest { .. }, Errno::Enoent) => Response::Ok,
            _ => resp,
        }
    }

    fn run_script(&self, vs: usize, which: ScriptRef) {
        let Some(script) = self.fleet.script(vs, which) else {
            return;
        };
        let user = self.cfg.global.script_user.as_ref();
        match spawn_notify_bounded(script, user, NOTIFY_TIMEOUT) {
            Ok(pid) => tracing::info!(
                "health: {}: {which:?}: started {:?} (pid {pid})",
                self.vs_name(vs),
                script.command
            ),
            Err(e) => tracing::warn!(
                "health: {}: {which:?}: cannot start {:?}: {e}",
                self.vs_name(vs),
                script.command
            ),
        }
    }

    /// keepalived's shutdown: only the scripts (with `omega`), waited for.
    async fn shutdown(&mut self) {
        let mut actions = Vec::new();
        self.fleet.shutdown(&mut actions);
        let user = self.cfg.global.script_user.clone();
        let mut running = tokio::task::JoinSet::new();
        for (vs, a) in actions {
            let Action::RunScript(which) = a else {
                continue;
            };
            let Some(script) = self.fleet.script(vs, which) else {
                continue;
            };
            tracing::info!(
                "health: {}: {which:?} at shutdown: {:?}",
                self.vs_name(vs),
                script.command
            );
            let (argv, user) = (
                script.argv.clone(),
                script.user.clone().or_else(|| user.clone()),
            );
            running.spawn(async move {
                lvs_check::runner::run_program(&argv, user.as_ref(), SHUTDOWN_SCRIPTS).await
            });
        }
        while running.join_next().await.is_some() {}
    }

    /// Re-reads the file and applies the difference (module docs).
    fn reload(&mut self) -> ReloadReport {
        let file = self.path.display().to_string();
        tracing::info!("reloading {file}");
        let report = lvs_config::check_file(&self.path);
        let diagnostics: Vec<String> = report.diagnostics.iter().map(ToString::to_string).collect();
        let mut result = ReloadReport {
            applied: false,
            file,
            changes: 0,
            kept_checkers: 0,
            new_checkers: 0,
            diagnostics,
        };
        for w in report.warnings() {
            tracing::warn!("{w}");
        }
        let Some(cfg) = report.config else {
            for e in report.errors() {
                tracing::error!("{e}");
            }
            tracing::error!(
                "reload of {} rejected: the running configuration is unchanged",
                result.file
            );
            return result;
        };
        let mut prepared = self.fleet.prepare(&cfg, &mut self.rng);
        let mut requests = std::mem::take(&mut prepared.requests);
        // `lvs_timeouts` changed: set the new values (keepalived does so on
        // reload too; removing the keyword leaves the timeouts as they are).
        if let Some(t) = lvs_config::timeouts(&cfg)
            && lvs_config::timeouts(&self.cfg) != Some(t)
        {
            requests.insert(0, Request::SetTimeouts(t));
        }
        // The table may have been changed by hand since the machines set
        // it: adapt the batch to what is there.
        if let Response::Services(live) = self.shared.handle(Request::ListServices) {
            let live: Vec<lvs_config::TableService> = live
                .into_iter()
                .map(|s| lvs_config::TableService {
                    spec: s.spec,
                    dests: s.dests.into_iter().map(|d| d.spec).collect(),
                })
                .collect();
            let adapted = lvs_config::reconcile(requests.clone(), &live);
            if adapted != requests {
                tracing::warn!(
                    "reload: the table was changed by hand; {} request(s) adapted",
                    requests.len().abs_diff(adapted.len()).max(1)
                );
            }
            requests = adapted;
        }
        if !requests.is_empty() {
            for r in &requests {
                tracing::info!("reload: {r:?}");
            }
            match self.shared.handle(Request::Batch {
                requests: requests.clone(),
                atomic: true,
            }) {
                Response::Ok => {}
                refused => {
                    let detail = match &refused {
                        Response::BatchFailed { index, error } => format!(
                            "request {} refused ({error:?}): {:?}",
                            index.saturating_add(1),
                            usize::try_from(*index).ok().and_then(|i| requests.get(i))
                        ),
                        other => format!("batch refused: {other:?}"),
                    };
                    tracing::error!("reload of {} not applied: {detail}", result.file);
                    result.diagnostics.push(detail);
                    return result;
                }
            }
        }
        result.applied = true;
        result.changes = u32::try_from(requests.len()).unwrap_or(u32::MAX);
        result.kept_checkers = u32::try_from(prepared.kept_checkers).unwrap_or(u32::MAX);
        result.new_checkers = u32::try_from(prepared.new_checkers).unwrap_or(u32::MAX);
        let scripts = std::mem::take(&mut prepared.scripts);
        self.fleet.commit(prepared);
        self.fleet.set_tls(tls(&cfg));
        crate::ha::reload(&cfg);
        self.cfg = cfg;
        for (vs, a) in scripts {
            if let Action::RunScript(which) = a {
                self.run_script(vs, which);
            }
        }
        tracing::info!(
            "reloaded {}: {} change(s), {} checker(s) kept, {} started",
            result.file,
            result.changes,
            result.kept_checkers,
            result.new_checkers
        );
        result
    }
}

fn describe(vs: &VirtualServer) -> String {
    format!("virtual server {}", vs.key)
}
