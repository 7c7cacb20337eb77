//! tokio runners of the checkers (feature `io`).
//!
//! [`CheckSpec::new`] resolves, from the loaded configuration, where and how
//! one checker probes (keepalived's defaults: connect to the real server's
//! address and port unless `connect_ip`/`connect_port`, from `bindto` /
//! `bind_port` when given, within `connect_timeout`), and [`run`] performs
//! one check and returns its [`Outcome`]. [`Driver`] runs the checks of a
//! virtual server on the [`VsMachine`] schedule and hands out the
//! resulting [`Action`]s; [`Fleet`] does the same for every virtual server
//! of a configuration and computes graceful reloads.
//!
//! Each check is bounded in time: `connect_timeout` bounds a whole network
//! check (connect and exchange; keepalived applies it to each step), and
//! `misc_timeout` (default `delay_loop`) a MISC_CHECK program, which is
//! then killed with its process group.
//!
//! PING_CHECK sends one ICMP echo over a raw socket (needs `CAP_NET_RAW`).
//!
//! Not supported (reported by the configuration layer as unsupported):
//! `bind_if`, `fwmark` on check packets, HTTP `regex`, `SSL { certificate
//! key }` client certificates; not done: chunked transfer decoding for
//! `digest` with `http_protocol 1.1`.

mod fleet;
mod net;
mod ping;
mod script;

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use lvs_config::{CheckKind, Checker, RealServer, ScriptUser, VirtualServer};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::state::{Action, CheckerId, Outcome, RandomSource, VsMachine, misc_outcome};

pub use fleet::{Fleet, Prepared, default_script_user};

/// The SSL_GET client configuration (see [`tls_client_config`]).
pub type TlsConfig = Arc<rustls::ClientConfig>;
pub use net::{TlsOptions, tls_client_config};
pub use script::{MiscExit, run_program, spawn_notify, spawn_notify_bounded};

/// Everything one checker needs to probe, resolved from the configuration.
#[derive(Debug, Clone)]
pub struct CheckSpec {
    /// Checker type and settings.
    pub kind: CheckKind,
    /// Where to connect.
    pub target: SocketAddr,
    /// Local address to bind (address and/or port given).
    pub bind: Option<SocketAddr>,
    /// Bound of one network check.
    pub timeout: Duration,
    /// Host header / SNI default when no url `virtualhost` is set: the
    /// checker's, else the real server's, else the virtual server's.
    pub virtualhost: Option<String>,
    /// Bound of a MISC_CHECK program (`misc_timeout`, else `delay_loop`).
    pub misc_timeout: Duration,
    /// Who runs a MISC_CHECK program (its `user`, else `global_defs`
    /// `script_user` as passed by the caller).
    pub script_user: Option<ScriptUser>,
    /// Weight restored by a MISC_CHECK exit 0 under `misc_dynamic`.
    pub configured_weight: u32,
}

impl CheckSpec {
    /// Resolves checker `checker` of real server `rs` of `vs`.
    /// `script_user` is `global_defs`' default user for scripts.
    pub fn new(
        vs: &VirtualServer,
        rs: &RealServer,
        checker: &Checker,
        script_user: Option<&ScriptUser>,
    ) -> CheckSpec {
        let c = &checker.connect;
        let addr = c.connect_ip.unwrap_or(rs.addr);
        let port = c.connect_port.unwrap_or(rs.port);
        let bind = match (c.bindto, c.bind_port) {
            (None, None) => None,
            (ip, port) => {
                let unspecified = match addr {
                    IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                    IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
                };
                Some(SocketAddr::new(
                    ip.unwrap_or(unspecified),
                    port.unwrap_or(0),
                ))
            }
        };
        let checker_vhost = match &checker.kind {
            CheckKind::Http(h) | CheckKind::Ssl(h) => h.virtualhost.clone(),
            _ => None,
        };
        let (misc_timeout, misc_user) = match &checker.kind {
            CheckKind::Misc(m) => (
                m.timeout.unwrap_or(checker.timing.delay_loop),
                m.user.clone().or_else(|| m.path.user.clone()),
            ),
            _ => (checker.timing.delay_loop, None),
        };
        CheckSpec {
            kind: checker.kind.clone(),
            target: SocketAddr::new(addr, port),
            bind,
            timeout: checker.timing.connect_timeout,
            virtualhost: checker_vhost
                .or_else(|| rs.virtualhost.clone())
                .or_else(|| vs.virtualhost.clone()),
            misc_timeout,
            script_user: misc_user.or_else(|| script_user.cloned()),
            configured_weight: rs.weight.unwrap_or(vs.weight),
        }
    }
}

/// Performs one check. `tls` is the client configuration for SSL_GET (see
/// [`tls_client_config`]); an SSL_GET without it fails.
pub async fn run(spec: &CheckSpec, tls: Option<&Arc<rustls::ClientConfig>>) -> Outcome {
    run_explained(spec, tls).await.0
}

/// [`run`], with why the check passed or failed, in words for operators
/// (`connect: Connection refused`, `HTTP status 503`, `timeout after 3 s`,
/// `digest mismatch`, `exit status 1`...).
pub async fn run_explained(
    spec: &CheckSpec,
    tls: Option<&Arc<rustls::ClientConfig>>,
) -> (Outcome, String) {
    let verdict = match &spec.kind {
        CheckKind::Tcp => net::tcp_check(spec).await,
        CheckKind::Http(h) => net::http_check(spec, h, None).await,
        CheckKind::Ssl(h) => match tls {
            Some(cfg) => net::http_check(spec, h, Some(cfg)).await,
            None => Err("no TLS client configuration (see the SSL block)".to_owned()),
        },
        CheckKind::Smtp(s) => net::smtp_check(spec, s).await,
        CheckKind::Dns(d) => net::dns_check(spec, d).await,
        CheckKind::Udp(u) => net::udp_check(spec, u).await,
        CheckKind::Misc(m) => {
            let exit =
                run_program(&m.path.argv, spec.script_user.as_ref(), spec.misc_timeout).await;
            // A program that cannot be started counts as passing, as in
            // keepalived 2.2.7: a missing or non-executable `misc_path`
            // disables the checker at load, and a file exec refuses
            // (no `#!`) makes the child exit 0 ("script errors aren't
            // server errors"; lab/keepalived_rules2.out).
            let (code, why) = match exit {
                MiscExit::Exited(c) => (Some(c), format!("exit status {c}")),
                MiscExit::SpawnFailed(e) => (Some(0), format!("cannot start ({e}): passes")),
                MiscExit::Killed => (None, "killed (signal or misc_timeout)".to_owned()),
            };
            return (misc_outcome(code, m.dynamic, spec.configured_weight), why);
        }
        CheckKind::Ping => ping::ping_check(spec).await,
    };
    match verdict {
        Ok(why) => (Outcome::Up, why),
        Err(why) => (Outcome::Down, why),
    }
}

/// Runs the checkers of one virtual server on the [`VsMachine`] schedule.
#[derive(Debug)]
pub struct Driver {
    machine: VsMachine,
    specs: Vec<Vec<Arc<CheckSpec>>>,
    tls: Option<Arc<rustls::ClientConfig>>,
    origin: Instant,
    in_flight: BTreeMap<tokio::task::Id, CheckerId>,
    tasks: JoinSet<Outcome>,
}

impl Driver {
    /// Builds the driver; the start-up actions go to `out`.
    pub fn new(
        vs: &VirtualServer,
        script_user: Option<&ScriptUser>,
        tls: Option<Arc<rustls::ClientConfig>>,
        rng: &mut dyn RandomSource,
        out: &mut Vec<Action>,
    ) -> Driver {
        let machine = VsMachine::new(vs, Duration::ZERO, rng, out);
        let specs = vs
            .real_servers
            .iter()
            .map(|rs| {
                rs.checkers
                    .iter()
                    .map(|c| Arc::new(CheckSpec::new(vs, rs, c, script_user)))
                    .collect()
            })
            .collect();
        Driver {
            machine,
            specs,
            tls,
            origin: Instant::now(),
            in_flight: BTreeMap::new(),
            tasks: JoinSet::new(),
        }
    }

    /// The state machine (for inspection).
    pub fn machine(&self) -> &VsMachine {
        &self.machine
    }

    /// Starts the due checks, waits for the next result or deadline and
    /// pushes the resulting actions to `out` (a virtual server without
    /// checkers has neither: the call then waits forever). Call in a loop; cancel-safe
    /// between calls only (drop the driver to stop; then call
    /// [`VsMachine::shutdown`] on a clone if removal actions are needed).
    pub async fn step(&mut self, out: &mut Vec<Action>) {
        let now = self.origin.elapsed();
        let mut due = Vec::new();
        self.machine.due(now, &mut due);
        for id in due {
            if self.in_flight.values().any(|c| *c == id) {
                continue;
            }
            let Some(spec) = self.specs.get(id.real).and_then(|v| v.get(id.checker)) else {
                continue;
            };
            let spec = Arc::clone(spec);
            let tls = self.tls.clone();
            let task = self
                .tasks
                .spawn(async move { run(&spec, tls.as_ref()).await });
            self.in_flight.insert(task.id(), id);
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
                // A check task that panicked counts as a failed check.
                let (task, outcome) = match done {
                    Ok((task, outcome)) => (task, outcome),
                    Err(e) => (e.id(), Outcome::Down),
                };
                if let Some(id) = self.in_flight.remove(&task) {
                    let now = self.origin.elapsed();
                    self.machine.on_result(now, id, outcome, out);
                }
            }
            () = sleep => {}
        }
    }

    /// The earliest deadline of a checker not running now.
    fn next_idle_deadline(&self) -> Option<Duration> {
        let mut best: Option<Duration> = None;
        for (real, v) in self.specs.iter().enumerate() {
            for checker in 0..v.len() {
                let id = CheckerId { real, checker };
                if self.in_flight.values().any(|c| *c == id) {
                    continue;
                }
                if let Some(t) = self.machine.next_due(id)
                    && best.is_none_or(|b| t < b)
                {
                    best = Some(t);
                }
            }
        }
        best
    }

    /// Stops: aborts running checks and emits the shutdown actions.
    pub fn shutdown(&mut self, out: &mut Vec<Action>) {
        self.tasks.abort_all();
        self.in_flight.clear();
        self.machine.shutdown(out);
    }
}
