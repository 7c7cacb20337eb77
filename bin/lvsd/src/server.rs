//! The control socket: start-up checks, accept loop, one task per client,
//! the timer task and the shutdown on SIGTERM/SIGINT.

use std::io::{self, Cursor, Read, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use lvs_control::Control;
use lvs_core::Time;
use lvs_proto::frame::MAX_FRAME;
use lvs_proto::{
    ApiError, Errno, HandshakeError, NativeRequest, NativeResponse, Request, Response,
    accept_handshake,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};
use tokio::signal::unix::{SignalKind, signal};
use tokio::time::Instant;

use crate::args::Options;
use crate::dataplane;

/// How the daemon names itself in the handshake and status answers.
fn server_name() -> String {
    format!("lvsd {}", env!("CARGO_PKG_VERSION"))
}

/// Why the daemon could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A live lvsd answers on the socket.
    #[error("another lvsd is already serving {0}")]
    AlreadyRunning(PathBuf),
    /// The socket path is taken by something else.
    #[error("{0} exists and is not a socket; not replacing it")]
    NotASocket(PathBuf),
    /// A file-system or socket operation failed.
    #[error("{what} {path}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// On which path.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// `--config` could not be applied.
    #[error("configuration {path}: {detail}")]
    Config {
        /// The file.
        path: PathBuf,
        /// ipvsadm's messages, or the keepalived.conf errors.
        detail: String,
    },
    /// Signal handlers could not be installed.
    #[error("cannot install signal handlers: {0}")]
    Signal(io::Error),
    /// The `--metrics` listener could not be bound.
    #[error("metrics listener {0}: {1}")]
    Metrics(std::net::SocketAddr, io::Error),
    /// The data plane could not start.
    #[error("data plane: {0}")]
    Dataplane(#[from] dataplane::DataplaneError),
}

/// Longest wait of a reply for the data plane to apply its request.
const APPLY_BOUND: Duration = Duration::from_millis(200);

/// The state every task shares: the one control handler, the clock
/// (tokio's monotonic clock, so that tests can pause it) and a generation
/// counter bumped after every request that can change something (not after
/// a query), which the data plane and the sync daemons watch.
#[derive(Debug)]
pub struct Shared {
    control: Mutex<Control>,
    epoch: Instant,
    generation: AtomicU64,
    /// The last generation the data plane put in place (its steering), and
    /// whether a data plane runs to say so (see [`Shared::applied`]).
    applied: AtomicU64,
    acks: AtomicBool,
    /// The health checks of a keepalived.conf `--config` (reload target).
    health: std::sync::OnceLock<crate::health::Handle>,
    /// The data plane's counters, for `--metrics`.
    dataplane_stats: crate::metrics::DataplaneStats,
}

fn lock(m: &Mutex<Control>) -> MutexGuard<'_, Control> {
    // A panic inside a handler leaves a consistent-enough model (each
    // request is applied whole); keep serving.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    fn new(control: Control) -> Shared {
        Shared {
            control: Mutex::new(control),
            epoch: Instant::now(),
            generation: AtomicU64::new(0),
            applied: AtomicU64::new(0),
            acks: AtomicBool::new(false),
            health: std::sync::OnceLock::new(),
            dataplane_stats: crate::metrics::DataplaneStats::default(),
        }
    }

    /// The control handler, locked.
    pub fn lock(&self) -> MutexGuard<'_, Control> {
        lock(&self.control)
    }

    /// The health checks of a keepalived.conf `--config`, if any.
    pub(crate) fn health_checks(&self) -> Option<&crate::health::Handle> {
        self.health.get()
    }

    /// Where the data plane publishes its counters (`--metrics`).
    pub(crate) fn dataplane_stats(&self) -> &crate::metrics::DataplaneStats {
        &self.dataplane_stats
    }

    /// How many requests that can change something were handled (a change
    /// marker; queries do not count).
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The data plane has the configuration of `generation` in place.
    pub fn mark_applied(&self, generation: u64) {
        self.applied.fetch_max(generation, Ordering::Release);
        self.acks.store(true, Ordering::Release);
    }

    /// Waits until the data plane has put `generation` in place (bounded by
    /// [`APPLY_BOUND`]; at once when no data plane runs), so that a reply
    /// means what it means with the kernel: a service added is steered to
    /// lvsd, a service deleted is no longer, when ipvsadm returns.
    pub(crate) async fn applied(&self, generation: u64) {
        let end = Instant::now() + APPLY_BOUND;
        while self.acks.load(Ordering::Acquire)
            && self.applied.load(Ordering::Acquire) < generation
            && Instant::now() < end
        {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// Milliseconds since the daemon started.
    pub fn now(&self) -> Time {
        Time(u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX))
    }

    /// Applies one request atomically.
    pub(crate) fn handle(&self, req: Request) -> Response {
        let changes = changes_state(&req);
        let mut control = lock(&self.control);
        let now = self.now();
        let resp = match refuse_missing_interface(&mut control, now, &req) {
            Some(resp) => resp,
            None => control.handle(now, req),
        };
        if changes {
            self.generation.fetch_add(1, Ordering::Release);
        }
        resp
    }
}

/// Whether `req` can change anything (services, real servers, daemons,
/// timeouts): only those move the generation the data plane and the sync
/// daemons watch, so a query (ipvsadm's `GET_INFO` before every command, a
/// listing) neither waits for nor causes a steering pass.
fn changes_state(req: &Request) -> bool {
    match req {
        Request::GetInfo
        | Request::ListServices
        | Request::GetService(_)
        | Request::ListConnections
        | Request::GetTimeouts
        | Request::ListDaemons
        | Request::Native(NativeRequest::Status | NativeRequest::Health) => false,
        Request::Batch { requests, .. } => requests.iter().any(changes_state),
        _ => true,
    }
}

/// Whether a network interface of this namespace is called `name`.
fn interface_exists(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && !name.contains('/')
        && Path::new("/sys/class/net").join(name).exists()
}

/// The kernel refuses to start a sync daemon on a missing interface
/// (`ENODEV`), after its "already running" check (`EEXIST`). The model does
/// not see interfaces, so the daemon checks here.
fn refuse_missing_interface(control: &mut Control, now: Time, req: &Request) -> Option<Response> {
    match req {
        Request::StartDaemon(cfg) if !interface_exists(&cfg.mcast_ifn) => {
            let running = match control.handle(now, Request::ListDaemons) {
                Response::Daemons(d) => d.iter().any(|d| d.state == cfg.state),
                _ => false,
            };
            (!running).then(|| Response::Error(ApiError::new(Errno::Enodev)))
        }
        Request::Batch { requests, atomic } => {
            let index = requests.iter().position(
                |r| matches!(r, Request::StartDaemon(cfg) if !interface_exists(&cfg.mcast_ifn)),
            )?;
            let failed = Response::BatchFailed {
                index: u32::try_from(index).unwrap_or(u32::MAX),
                error: ApiError::new(Errno::Enodev),
            };
            if *atomic || index == 0 {
                return Some(failed);
            }
            // Not atomic: what comes before the bad request is applied.
            let head = Request::Batch {
                requests: requests[..index].to_vec(),
                atomic: false,
            };
            match control.handle(now, head) {
                Response::Ok => Some(failed),
                other => Some(other),
            }
        }
        _ => None,
    }
}

/// Runs the daemon until SIGTERM or SIGINT.
pub async fn run(opts: Options) -> Result<(), StartError> {
    let path = opts.socket.clone().unwrap_or_else(lvs_proto::socket_path);
    let shared = Arc::new(Shared::new(Control::new(Time::ZERO, server_name())));
    if !opts.fullnat_laddrs.is_empty() {
        lock(&shared.control)
            .ipvs
            .set_fullnat_local_addrs(&opts.fullnat_laddrs);
    }
    if let Some(config) = &opts.config {
        let keepalived = apply_config(&shared, config)?;
        tracing::info!(
            "applied {}: {} services",
            config.display(),
            lock(&shared.control).ipvs.service_count()
        );
        if let Some(cfg) = keepalived {
            let _ = shared
                .health
                .set(crate::health::start(shared.clone(), config, cfg));
        }
    }

    let metrics = match opts.metrics {
        Some(a) => Some(crate::metrics::bind(a).map_err(|e| StartError::Metrics(a, e))?),
        None => None,
    };
    let listener = bind(&path)?;
    let dataplane = match start_dataplane(&opts, &shared) {
        Ok(d) => d,
        Err(e) => {
            drop(listener);
            let _ = std::fs::remove_file(&path);
            return Err(e);
        }
    };
    let bound = std::fs::metadata(&path).map_err(|source| StartError::Io {
        what: "cannot stat",
        path: path.clone(),
        source,
    })?;
    let mut sigterm = signal(SignalKind::terminate()).map_err(StartError::Signal)?;
    let mut sigint = signal(SignalKind::interrupt()).map_err(StartError::Signal)?;
    let mut sighup = signal(SignalKind::hangup()).map_err(StartError::Signal)?;
    tracing::info!("listening on {}", path.display());

    let timers = tokio::spawn(timers(shared.clone()));
    let ha = crate::ha::start(&opts, &shared, dataplane.is_some());
    let metrics = metrics.map(|l| {
        tracing::info!("metrics on http://{:?}/metrics", l.local_addr());
        let sources = crate::metrics::Sources {
            socket: path.clone(),
        };
        tokio::spawn(crate::metrics::serve(l, shared.clone(), sources))
    });
    let mut next_id: u64 = 0;
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    next_id += 1;
                    tokio::spawn(serve(shared.clone(), stream, next_id));
                }
                Err(e) => {
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            _ = sigterm.recv() => {
                tracing::info!("SIGTERM: shutting down");
                break;
            }
            _ = sigint.recv() => {
                tracing::info!("SIGINT: shutting down");
                break;
            }
            _ = sighup.recv() => match shared.health.get() {
                Some(h) => {
                    let h = h.clone();
                    tokio::spawn(async move { h.reload().await });
                }
                None => tracing::warn!("SIGHUP: no keepalived.conf to reload"),
            },
        }
    }
    if let Some(h) = shared.health.get() {
        h.shutdown().await;
    }
    timers.abort();
    if let Some(m) = metrics {
        m.abort();
    }
    ha.stop();
    if let Some(d) = dataplane {
        d.stop();
        tracing::info!("XDP programs detached");
    }
    drop(listener);
    remove_if_ours(&path, &bound);
    Ok(())
}

/// Starts the data plane when there is something to serve (see
/// [`dataplane`] for the rule without `--interfaces`).
fn start_dataplane(
    opts: &Options,
    shared: &Arc<Shared>,
) -> Result<Option<dataplane::Dataplane>, StartError> {
    if opts.interfaces.is_none() && !dataplane::in_named_namespace() {
        tracing::info!("not in a named network namespace and no --interfaces: control plane only");
        return Ok(None);
    }
    let d = dataplane::start(
        dataplane::Options {
            interfaces: opts.interfaces.clone(),
            io: opts.io,
        },
        shared.clone(),
    )?;
    tracing::info!(interfaces = ?d.interfaces, io = ?opts.io, "serving");
    Ok(Some(d))
}

/// The ipvsadm program's view of the daemon, in process: every request goes
/// through [`Shared::handle`], as a socket client's would.
struct InProcess<'a>(&'a Shared);

impl lvs_ipvsadm::Backend for InProcess<'_> {
    fn connect(&mut self) -> Result<lvs_proto::Info, lvs_ipvsadm::ConnectError> {
        match self.0.handle(Request::GetInfo) {
            Response::Info(i) => Ok(i),
            other => Err(lvs_ipvsadm::ConnectError::Unavailable(format!(
                "unexpected answer {other:?}"
            ))),
        }
    }
    fn call(&mut self, req: Request) -> Result<Response, lvs_ipvsadm::TransportError> {
        Ok(self.0.handle(req))
    }
}

/// Whether `text` is keepalived syntax rather than ipvsadm-save lines: it
/// has a `{`, or a line that is neither blank, a `#` comment, nor an option
/// line starting with `-`.
fn is_keepalived(text: &str) -> bool {
    text.contains('{')
        || text
            .lines()
            .map(str::trim_start)
            .any(|l| !(l.is_empty() || l.starts_with('#') || l.starts_with('-')))
}

/// `--config` with a keepalived.conf: check, lower, one atomic batch.
fn apply_keepalived(shared: &Shared, path: &Path) -> Result<lvs_config::Config, StartError> {
    let report = lvs_config::check_file(path);
    for w in report.warnings() {
        tracing::warn!("{w}");
    }
    let Some(config) = report.config.as_ref() else {
        let errors: Vec<String> = report.errors().map(ToString::to_string).collect();
        for e in &errors {
            eprintln!("{e}");
        }
        return Err(StartError::Config {
            path: path.to_path_buf(),
            detail: format!("{} error(s): {}", errors.len(), errors.join("; ")),
        });
    };
    let requests = lvs_config::lower(config);
    let count = requests.len();
    match shared.handle(Request::Batch {
        requests: requests.clone(),
        atomic: true,
    }) {
        Response::Ok => {
            tracing::info!("{}: {count} requests applied", path.display());
            Ok(config.clone())
        }
        Response::BatchFailed { index, error } => Err(StartError::Config {
            path: path.to_path_buf(),
            detail: format!(
                "request {} of {count} refused ({error:?}): {:?}",
                index.saturating_add(1),
                usize::try_from(index).ok().and_then(|i| requests.get(i))
            ),
        }),
        other => Err(StartError::Config {
            path: path.to_path_buf(),
            detail: format!("batch refused: {other:?}"),
        }),
    }
}

/// `--config`: a keepalived.conf (see [`apply_keepalived`]) or one atomic
/// `ipvsadm -R` of an ipvsadm-save file. Returns the keepalived
/// configuration, if it was one.
fn apply_config(shared: &Shared, path: &Path) -> Result<Option<lvs_config::Config>, StartError> {
    let text = std::fs::read_to_string(path).map_err(|source| StartError::Io {
        what: "cannot read",
        path: path.to_path_buf(),
        source,
    })?;
    if is_keepalived(&text) {
        return apply_keepalived(shared, path).map(Some);
    }
    let argv = ["ipvsadm".to_string(), "-R".to_string()];
    let mut input = text.as_bytes();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let mut io = lvs_ipvsadm::Io {
        stdin: &mut input,
        stdout: &mut out,
        stderr: &mut err,
    };
    let code = lvs_ipvsadm::run(
        &argv,
        &mut io,
        &mut InProcess(shared),
        &lvs_ipvsadm::NoNames,
        lvs_ipvsadm::RunOptions::default(),
    );
    if code != 0 {
        return Err(StartError::Config {
            path: path.to_path_buf(),
            detail: String::from_utf8_lossy(&err).trim_end().replace('\n', "; "),
        });
    }
    Ok(None)
}

/// Prepares the socket path and binds it with mode 0600.
fn bind(path: &Path) -> Result<UnixListener, StartError> {
    let io_err = |what: &'static str| {
        let path = path.to_path_buf();
        move |source| StartError::Io { what, path, source }
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io_err("cannot create directory for"))?;
    }
    match std::fs::symlink_metadata(path) {
        Ok(m) if !m.file_type().is_socket() => {
            return Err(StartError::NotASocket(path.to_path_buf()));
        }
        Ok(_) => match std::os::unix::net::UnixStream::connect(path) {
            Ok(_) => return Err(StartError::AlreadyRunning(path.to_path_buf())),
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                tracing::info!("replacing stale socket {}", path.display());
                std::fs::remove_file(path).map_err(io_err("cannot remove stale socket"))?;
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err("cannot probe existing socket")(e)),
        },
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_err("cannot stat")(e)),
    }
    let listener = UnixListener::bind(path).map_err(io_err("cannot bind"))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(io_err("cannot set the mode of"))?;
    Ok(listener)
}

/// Removes the socket file if it is still the one we bound (another lvsd
/// may have replaced it meanwhile).
fn remove_if_ours(path: &Path, bound: &std::fs::Metadata) {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.dev() == bound.dev() && m.ino() == bound.ino() => {
            if let Err(e) = std::fs::remove_file(path) {
                tracing::warn!("cannot remove {}: {e}", path.display());
            }
        }
        Ok(_) => tracing::warn!("{} was replaced; leaving it", path.display()),
        Err(_) => {}
    }
}

/// The periodic work of the kernel's timers.
/// Ticks at 1 s, 2 s, 3 s… after `shared.epoch`; the estimator runs at the
/// even ones (every 2 s, as the kernel's `ip_vs_est` timer).
async fn timers(shared: Arc<Shared>) {
    let period = Duration::from_secs(1);
    let mut every_second = tokio::time::interval_at(shared.epoch + period, period);
    every_second.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut ticks: u64 = 0;
    loop {
        every_second.tick().await;
        ticks += 1;
        let mut control = lock(&shared.control);
        let now = shared.now();
        control.ipvs.tick(now);
        control.ipvs.expire(now);
        if ticks.is_multiple_of(2) {
            control.ipvs.estimate();
        }
    }
}

/// Reads one whole frame (length prefix included); `None` on a clean end of
/// stream before a frame starts.
async fn read_frame_bytes(stream: &mut UnixStream) -> io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 4];
    if stream.read(&mut len[..1]).await? == 0 {
        return Ok(None);
    }
    stream.read_exact(&mut len[1..]).await?;
    let n = u32::from_be_bytes(len);
    if n > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("frame of {n} bytes exceeds the limit"),
        ));
    }
    let mut buf = vec![0u8; 4 + n as usize];
    buf[..4].copy_from_slice(&len);
    stream.read_exact(&mut buf[4..]).await?;
    Ok(Some(buf))
}

/// One received frame as input and the bytes to send back as output, so
/// that [`accept_handshake`] (written for blocking streams) runs unchanged.
#[derive(Debug)]
struct Exchange {
    input: Cursor<Vec<u8>>,
    output: Vec<u8>,
}

impl Read for Exchange {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Read::read(&mut self.input, buf)
    }
}

impl Write for Exchange {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Write::write(&mut self.output, buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// How long a client may take to say hello.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves one client connection.
async fn serve(shared: Arc<Shared>, mut stream: UnixStream, id: u64) {
    let uid = stream.peer_cred().ok().map(|c| c.uid());
    let root = uid == Some(0);
    let hello = tokio::time::timeout(HANDSHAKE_TIMEOUT, read_frame_bytes(&mut stream)).await;
    let Ok(Ok(Some(hello))) = hello else {
        tracing::debug!(client = id, "no handshake");
        return;
    };
    let mut exchange = Exchange {
        input: Cursor::new(hello),
        output: Vec::new(),
    };
    let handshake = accept_handshake(&mut exchange, &server_name());
    if stream.write_all(&exchange.output).await.is_err() {
        return;
    }
    match handshake {
        Ok(h) => tracing::debug!(client = id, ?uid, "client {:?} connected", h.client),
        Err(HandshakeError::Version { version, client }) => {
            tracing::warn!(
                client = id,
                "refused {client:?}: protocol version {version}"
            );
            return;
        }
        Err(e) => {
            tracing::warn!(client = id, "bad handshake: {e}");
            return;
        }
    }
    if !root {
        tracing::warn!(
            client = id,
            ?uid,
            "peer is not root: every request gets EPERM"
        );
    }
    loop {
        let frame = match read_frame_bytes(&mut stream).await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                tracing::debug!(client = id, "read failed: {e}");
                break;
            }
        };
        let resp = match lvs_proto::read_frame::<_, Request>(&mut frame.as_slice()) {
            Err(e) => Response::Error(ApiError::with_detail(
                Errno::Einval,
                format!("malformed request: {e}"),
            )),
            Ok(_) if !root => Response::Error(ApiError::with_detail(
                Errno::Eperm,
                "lvsd accepts requests from root only",
            )),
            Ok(Request::Native(NativeRequest::Reload)) => match shared.health.get() {
                Some(h) => Response::Native(NativeResponse::Reload(h.clone().reload().await)),
                None => Response::Error(ApiError::with_detail(
                    Errno::Eopnotsupp,
                    "lvsd was not started with --config keepalived.conf: nothing to reload",
                )),
            },
            Ok(Request::Native(NativeRequest::Health)) => match shared.health.get() {
                Some(h) => Response::Native(NativeResponse::Health(h.clone().health().await)),
                None => Response::Error(ApiError::with_detail(
                    Errno::Eopnotsupp,
                    "lvsd was not started with --config keepalived.conf: no health checks",
                )),
            },
            Ok(req) => {
                tracing::debug!(client = id, ?req, "request");
                let resp = shared.handle(req);
                shared.applied(shared.generation()).await;
                resp
            }
        };
        let bytes = match lvs_proto::frame::encode(&resp) {
            Ok(b) => b,
            Err(e) => {
                let fallback = Response::Error(ApiError::with_detail(Errno::Enomem, e.to_string()));
                match lvs_proto::frame::encode(&fallback) {
                    Ok(b) => b,
                    Err(_) => break,
                }
            }
        };
        if stream.write_all(&bytes).await.is_err() {
            break;
        }
    }
    tracing::debug!(client = id, "disconnected");
}

#[cfg(test)]
mod tests {
    use super::*;
    use lvs_proto::{DaemonConfig, DaemonState};

    fn start(ifn: &str) -> Request {
        Request::StartDaemon(DaemonConfig {
            state: DaemonState::Master,
            mcast_ifn: ifn.into(),
            syncid: 1,
            sync_maxlen: None,
            mcast_group: None,
            mcast_port: None,
            mcast_ttl: None,
        })
    }

    fn shared() -> Shared {
        Shared::new(Control::new(Time::ZERO, "t"))
    }

    #[tokio::test(start_paused = true)]
    async fn timers_run_the_estimator_every_two_seconds() {
        let shared = Arc::new(shared());
        let key = {
            let mut c = lock(&shared.control);
            let (rc, _, err) =
                lvs_control::run_ipvsadm(&mut c, Time::ZERO, &["-A", "-t", "10.0.0.1:80"], "");
            assert_eq!(rc, 0, "{err}");
            let id = c.ipvs.services().next().unwrap().id;
            c.ipvs.service_mut(id).unwrap().stats.counters.conns = 1000;
            id
        };
        let cps = |s: &Shared| {
            let c = lock(&s.control);
            c.ipvs.service(key).unwrap().stats.rates().cps
        };
        tokio::spawn(timers(shared.clone()));
        tokio::time::sleep(Duration::from_millis(1900)).await;
        assert_eq!(cps(&shared), 0, "no estimate before 2 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(cps(&shared) > 0, "the estimator ran at 2 s");
        // The clock the handlers see is the same paused clock.
        assert_eq!(shared.now(), Time(2100));
    }

    #[test]
    fn queries_leave_the_generation_changes_move_it() {
        let s = shared();
        let g0 = s.generation();
        for q in [
            Request::GetInfo,
            Request::ListServices,
            Request::ListConnections,
            Request::GetTimeouts,
            Request::ListDaemons,
            Request::Native(NativeRequest::Status),
            Request::Batch {
                requests: vec![Request::GetInfo, Request::ListServices],
                atomic: false,
            },
        ] {
            s.handle(q);
            assert_eq!(s.generation(), g0, "a query moved the generation");
        }
        s.handle(Request::Flush);
        assert_eq!(s.generation(), g0 + 1);
        s.handle(Request::Zero(None));
        assert_eq!(s.generation(), g0 + 2);
        s.handle(Request::Batch {
            requests: vec![Request::GetInfo, Request::Flush],
            atomic: true,
        });
        assert_eq!(s.generation(), g0 + 3, "a batch with a change moves it");
    }

    #[tokio::test(start_paused = true)]
    async fn replies_wait_until_the_data_plane_applied_the_request() {
        let s = Arc::new(shared());
        // No data plane: no wait.
        let g = s.generation() + 1;
        let t0 = Instant::now();
        s.applied(g).await;
        assert_eq!(t0.elapsed(), Duration::ZERO);
        // A data plane acknowledged generation 0: generation 1 waits for it.
        s.mark_applied(0);
        let s2 = s.clone();
        let waiter = tokio::spawn(async move {
            s2.applied(1).await;
            Instant::now()
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            !waiter.is_finished(),
            "replied before the data plane applied"
        );
        s.mark_applied(1);
        let done = waiter.await.unwrap();
        assert!(done >= t0 + Duration::from_millis(50));
        assert!(done < t0 + APPLY_BOUND);
        // A data plane that never answers delays a reply by the bound only.
        let t1 = Instant::now();
        s.applied(5).await;
        assert_eq!(t1.elapsed(), APPLY_BOUND);
    }

    #[test]
    fn interface_names() {
        assert!(interface_exists("lo"));
        for bad in ["", ".", "..", "../net/lo", "no-such-if0"] {
            assert!(!interface_exists(bad), "{bad}");
        }
    }

    #[test]
    fn sync_daemon_on_missing_interface_is_enodev_after_eexist() {
        let s = shared();
        assert_eq!(
            s.handle(start("no-such-if0")),
            Response::Error(ApiError::new(Errno::Enodev))
        );
        assert_eq!(s.handle(start("lo")), Response::Ok);
        // Already running: the kernel says so before looking at the interface.
        let Response::Error(e) = s.handle(start("no-such-if0")) else {
            panic!("accepted")
        };
        assert_eq!(e.errno, Errno::Eexist);
    }

    #[test]
    fn batch_with_missing_interface() {
        let flush_then_bad = |atomic| Request::Batch {
            requests: vec![
                Request::SetTimeouts(lvs_proto::Timeouts {
                    tcp: 77,
                    tcp_fin: 0,
                    udp: 0,
                }),
                start("no-such-if0"),
            ],
            atomic,
        };
        let s = shared();
        let failed = Response::BatchFailed {
            index: 1,
            error: ApiError::new(Errno::Enodev),
        };
        assert_eq!(s.handle(flush_then_bad(true)), failed);
        let tcp = |s: &Shared| match s.handle(Request::GetTimeouts) {
            Response::Timeouts(t) => t.tcp,
            other => panic!("{other:?}"),
        };
        assert_eq!(tcp(&s), 900, "atomic: nothing applied");
        assert_eq!(s.handle(flush_then_bad(false)), failed);
        assert_eq!(tcp(&s), 77, "not atomic: the head applied");
    }
}
