//! `--metrics ADDR:PORT`: the director's numbers for Prometheus.
//!
//! Contract:
//! - **Off by default.** With `--metrics ADDR:PORT` lvsd binds a TCP
//!   listener there at start (a bind failure stops the start, exit 1) and
//!   answers `GET /metrics` (and `HEAD`) with the OpenMetrics text format
//!   that Prometheus scrapes (`prometheus-client`'s encoder: counters end
//!   in `_total`, the body ends with `# EOF`). `/` answers a one-line
//!   pointer, other paths 404, other methods 405. HTTP/1.1, one request
//!   per connection (`Connection: close`); a client has 5 s to send its
//!   request head (at most 8 KiB).
//! - **Built on demand**, never on the packet path: each scrape takes the
//!   control lock once, copies the numbers out ([`Snapshot::take`]: the
//!   same `ListServices` answer `ipvsadm -ln --stats` and `--rate` print,
//!   the connection-table size, templates and sync daemons), releases it,
//!   then formats ([`render`]). The data-plane worker therefore waits at
//!   most one copy of the table.
//! - **Names** (documented in `docs/metrics.md`): `lvs_service_*` per
//!   virtual service (labels `protocol`, `vip`, `port`, or `fwmark`,
//!   `family` for a fwmark service), `lvs_server_*` per real server (the
//!   service's labels plus `rip`, `rport`, `method`), `lvs_connections`,
//!   `lvs_connection_templates`, `lvs_services`, `lvs_sync_daemon`,
//!   `lvs_build_info{version}`; with a keepalived.conf `--config`, the
//!   health checks' states (`lvs_health_*`, asked of the health task after
//!   the lock is released, bounded by 2 s); with VRRP instances, their
//!   state and priority (`lvs_vrrp_*`, read from the driver's status file
//!   `SOCKET.vrrp`, the one `lvsadm vrrp` reads); with a data plane, its
//!   counters (`lvs_dataplane_*`: engine verdicts, frames sent, drops by
//!   the shell's reasons, held frames), which the worker publishes once per
//!   loop turn into [`DataplaneStats`] (a copy under an uncontended lock of
//!   its own, never the control lock). Counters are the kernel's `ip_vs_stats`
//!   totals (connections, packets and bytes in/out: what `--stats` prints),
//!   gauges its 2-second estimator's rates (what `--rate` prints), the
//!   destination's ActiveConn / InActConn / PersistConn and weight.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use lvs_proto::{
    DaemonEntry, Family, FwdMethod, HealthState, Request, Response, ServiceEntry, ServiceKey,
    Stats, VsHealth,
};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family as MetricFamily;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::server::Shared;

/// The content type of the answer (OpenMetrics 1.0 text).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Longest request head read.
const MAX_HEAD: usize = 8 * 1024;
/// Time a client has to send its request head.
const HEAD_TIMEOUT: Duration = Duration::from_secs(5);

/// The numbers of one scrape, copied out of the control under its lock.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// lvsd's version (`lvs_build_info`).
    pub version: String,
    /// Services with their real servers and counters, in listing order.
    pub services: Vec<ServiceEntry>,
    /// Entries of the connection table (templates included).
    pub connections: u64,
    /// Persistence templates among them.
    pub templates: u64,
    /// Running sync daemons.
    pub daemons: Vec<DaemonEntry>,
    /// Health checks of a keepalived.conf `--config` (empty without).
    pub health: Vec<VsHealth>,
    /// VRRP instances (empty when none runs).
    pub vrrp: Vec<VrrpInstance>,
    /// The data plane's counters (`None`: control plane only).
    pub dataplane: Option<DataplaneValues>,
}

/// One VRRP instance as lvsd's VRRP driver reports it in its status file
/// (`SOCKET.vrrp`, the one `lvsadm vrrp` reads: `NAME STATE PRIORITY DEV
/// VIPS` per line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VrrpInstance {
    /// `vrrp_instance` name.
    pub name: String,
    /// `INIT`, `BACKUP`, `MASTER` or `FAULT`.
    pub state: String,
    /// Effective priority.
    pub priority: i64,
    /// Interface.
    pub interface: String,
}

/// The data plane's numbers: the engine's verdicts (`lvs_datapath`) and
/// the shell's counters (`dataplane` module), all since start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DataplaneValues {
    /// Engine verdicts: forwarded, handed to the stack, dropped (a frame
    /// retried after a neighbour miss counts each time), ICMP answers.
    pub forwarded: u64,
    /// See [`DataplaneValues::forwarded`].
    pub local: u64,
    /// See [`DataplaneValues::forwarded`].
    pub dropped: u64,
    /// See [`DataplaneValues::forwarded`].
    pub replies: u64,
    /// Frames sent.
    pub tx: u64,
    /// Frames the socket refused (dropped).
    pub tx_failed: u64,
    /// Next hop without a MAC (the frame is held, or dropped when the pool
    /// is full).
    pub no_neighbour: u64,
    /// Frames held while their next hop was resolved.
    pub held: u64,
    /// Held frames dropped when their time was up.
    pub hold_expired: u64,
    /// Frames for an interface lvsd does not serve (dropped).
    pub no_port: u64,
    /// AF_PACKET frames that are not IPVS business (left to the kernel).
    pub not_steered: u64,
    /// `Local` verdicts not reinjected (fragments, or frames the kernel
    /// already has).
    pub local_not_reinjected: u64,
    /// Local real servers' frames the engine did not send out (dropped).
    pub local_reply_dropped: u64,
    /// Frames delivered to local real servers through the TAP.
    pub local_delivered: u64,
    /// Frames the TAP refused.
    pub local_failed: u64,
    /// Frames read back from local real servers.
    pub local_replies: u64,
    /// Frames held right now.
    pub held_now: u64,
}

/// Where the data-plane worker publishes its numbers for the scrape: one
/// uncontended lock and a copy per loop turn, no allocation.
#[derive(Debug, Default)]
pub struct DataplaneStats(std::sync::Mutex<Option<DataplaneValues>>);

impl DataplaneStats {
    /// The worker's latest numbers.
    pub fn publish(&self, v: DataplaneValues) {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(v);
    }

    /// The latest numbers; `None` when no data plane runs.
    pub fn get(&self) -> Option<DataplaneValues> {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The VRRP states, in the order of their `lvs_vrrp_instance_state` series.
pub const VRRP_STATES: [&str; 4] = ["INIT", "BACKUP", "MASTER", "FAULT"];

/// Reads a VRRP status file; lines that do not parse are skipped.
pub fn parse_vrrp_status(text: &str) -> Vec<VrrpInstance> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.split_ascii_whitespace();
            let name = f.next()?.to_string();
            let state = f.next()?.to_string();
            let priority = f.next()?.parse().ok()?;
            let interface = f.next()?.to_string();
            Some(VrrpInstance {
                name,
                state,
                priority,
                interface,
            })
        })
        .collect()
}

/// Where the scrape finds what is not in the control.
#[derive(Debug, Clone)]
pub struct Sources {
    /// The control socket path (the VRRP status file is `SOCKET.vrrp`).
    pub socket: PathBuf,
}

impl Sources {
    fn vrrp_status(&self) -> PathBuf {
        let mut p = self.socket.clone().into_os_string();
        p.push(".vrrp");
        p.into()
    }
}

/// Longest wait for the health checks' answer.
const HEALTH_BOUND: Duration = Duration::from_secs(2);

/// A full snapshot: the control's numbers ([`Snapshot::take`]), then,
/// outside the control lock, the health checks' states and the VRRP
/// status file.
pub async fn collect(shared: &Shared, sources: &Sources) -> Snapshot {
    let mut snap = Snapshot::take(shared);
    if let Some(h) = shared.health_checks() {
        snap.health = tokio::time::timeout(HEALTH_BOUND, h.health())
            .await
            .unwrap_or_default();
    }
    if let Ok(text) = std::fs::read_to_string(sources.vrrp_status()) {
        snap.vrrp = parse_vrrp_status(&text);
    }
    snap
}

impl Snapshot {
    /// Copies the numbers out of the control (one short lock).
    pub fn take(shared: &Shared) -> Snapshot {
        let now = shared.now();
        let mut control = shared.lock();
        let services = match control.handle(now, Request::ListServices) {
            Response::Services(s) => s,
            _ => Vec::new(),
        };
        let daemons = match control.handle(now, Request::ListDaemons) {
            Response::Daemons(d) => d,
            _ => Vec::new(),
        };
        let connections = control.ipvs.conn_count() as u64;
        let templates = control.ipvs.conn_state().templates() as u64;
        drop(control);
        Snapshot {
            version: env!("CARGO_PKG_VERSION").to_string(),
            services,
            connections,
            templates,
            daemons,
            health: Vec::new(),
            vrrp: Vec::new(),
            dataplane: shared.dataplane_stats().get(),
        }
    }
}

type Labels = Vec<(&'static str, String)>;

/// The labels naming a virtual service.
fn service_labels(key: &ServiceKey) -> Labels {
    match key {
        ServiceKey::Addr {
            protocol,
            addr,
            port,
        } => vec![
            ("protocol", protocol.name().to_ascii_lowercase()),
            ("vip", addr.to_string()),
            ("port", port.to_string()),
        ],
        ServiceKey::Fwmark { mark, family } => vec![
            ("fwmark", mark.to_string()),
            (
                "family",
                match family {
                    Family::Inet => "ipv4",
                    Family::Inet6 => "ipv6",
                }
                .to_string(),
            ),
        ],
    }
}

/// The forwarding method as ipvsadm names it, lower case.
fn method(fwd: &FwdMethod) -> &'static str {
    match fwd {
        FwdMethod::Masq => "masq",
        FwdMethod::Local => "local",
        FwdMethod::Tunnel(_) => "tunnel",
        FwdMethod::Route => "route",
        FwdMethod::FullNat => "fullnat",
    }
}

fn gauge_value(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// The `ip_vs_stats` metrics of one kind (`lvs_service_` or `lvs_server_`).
struct StatsMetrics {
    conns: MetricFamily<Labels, Counter>,
    inpkts: MetricFamily<Labels, Counter>,
    outpkts: MetricFamily<Labels, Counter>,
    inbytes: MetricFamily<Labels, Counter>,
    outbytes: MetricFamily<Labels, Counter>,
    cps: MetricFamily<Labels, Gauge>,
    inpps: MetricFamily<Labels, Gauge>,
    outpps: MetricFamily<Labels, Gauge>,
    inbps: MetricFamily<Labels, Gauge>,
    outbps: MetricFamily<Labels, Gauge>,
    active: MetricFamily<Labels, Gauge>,
    inactive: MetricFamily<Labels, Gauge>,
    persistent: MetricFamily<Labels, Gauge>,
}

impl StatsMetrics {
    fn register(registry: &mut Registry, prefix: &str, what: &str) -> StatsMetrics {
        let m = StatsMetrics {
            conns: MetricFamily::default(),
            inpkts: MetricFamily::default(),
            outpkts: MetricFamily::default(),
            inbytes: MetricFamily::default(),
            outbytes: MetricFamily::default(),
            cps: MetricFamily::default(),
            inpps: MetricFamily::default(),
            outpps: MetricFamily::default(),
            inbps: MetricFamily::default(),
            outbps: MetricFamily::default(),
            active: MetricFamily::default(),
            inactive: MetricFamily::default(),
            persistent: MetricFamily::default(),
        };
        let counters = [
            ("connections", "Connections scheduled", &m.conns),
            (
                "in_packets",
                "Packets in (client to real server)",
                &m.inpkts,
            ),
            (
                "out_packets",
                "Packets out (real server to client)",
                &m.outpkts,
            ),
            ("in_bytes", "Bytes in (client to real server)", &m.inbytes),
            (
                "out_bytes",
                "Bytes out (real server to client)",
                &m.outbytes,
            ),
        ];
        for (name, help, f) in counters {
            registry.register(
                format!("{prefix}_{name}"),
                format!("{help} to this {what} (ipvsadm --stats)"),
                f.clone(),
            );
        }
        let gauges = [
            ("connections_per_second", "Connections per second", &m.cps),
            ("in_packets_per_second", "Packets in per second", &m.inpps),
            (
                "out_packets_per_second",
                "Packets out per second",
                &m.outpps,
            ),
            ("in_bytes_per_second", "Bytes in per second", &m.inbps),
            ("out_bytes_per_second", "Bytes out per second", &m.outbps),
        ];
        for (name, help, f) in gauges {
            registry.register(
                format!("{prefix}_{name}"),
                format!("{help} of this {what}, 2 s estimator (ipvsadm --rate)"),
                f.clone(),
            );
        }
        let conns = [
            (
                "active_connections",
                "Active connections (ActiveConn)",
                &m.active,
            ),
            (
                "inactive_connections",
                "Inactive connections (InActConn)",
                &m.inactive,
            ),
            (
                "persistent_connections",
                "Persistence templates (PersistConn)",
                &m.persistent,
            ),
        ];
        for (name, help, f) in conns {
            registry.register(
                format!("{prefix}_{name}"),
                format!("{help} of this {what}"),
                f.clone(),
            );
        }
        m
    }

    fn record(&self, labels: &Labels, s: &Stats, active: u64, inactive: u64, persistent: u64) {
        self.conns.get_or_create(labels).inc_by(s.conns);
        self.inpkts.get_or_create(labels).inc_by(s.inpkts);
        self.outpkts.get_or_create(labels).inc_by(s.outpkts);
        self.inbytes.get_or_create(labels).inc_by(s.inbytes);
        self.outbytes.get_or_create(labels).inc_by(s.outbytes);
        self.cps.get_or_create(labels).set(gauge_value(s.cps));
        self.inpps.get_or_create(labels).set(gauge_value(s.inpps));
        self.outpps.get_or_create(labels).set(gauge_value(s.outpps));
        self.inbps.get_or_create(labels).set(gauge_value(s.inbps));
        self.outbps.get_or_create(labels).set(gauge_value(s.outbps));
        self.active.get_or_create(labels).set(gauge_value(active));
        self.inactive
            .get_or_create(labels)
            .set(gauge_value(inactive));
        self.persistent
            .get_or_create(labels)
            .set(gauge_value(persistent));
    }
}

/// Formats a snapshot in the OpenMetrics text format.
pub fn render(snap: &Snapshot) -> String {
    let mut registry = Registry::default();
    registry.register(
        "lvs_build",
        "lvsd build information",
        Info::new(vec![("version", snap.version.clone())]),
    );
    let services = Gauge::<i64>::default();
    services.set(gauge_value(snap.services.len() as u64));
    registry.register("lvs_services", "Virtual services", services);
    let conns = Gauge::<i64>::default();
    conns.set(gauge_value(snap.connections));
    registry.register(
        "lvs_connections",
        "Entries of the connection table, templates included (ipvsadm -lnc lines)",
        conns,
    );
    let templates = Gauge::<i64>::default();
    templates.set(gauge_value(snap.templates));
    registry.register(
        "lvs_connection_templates",
        "Persistence templates in the connection table",
        templates,
    );
    let daemons = MetricFamily::<Labels, Gauge>::default();
    registry.register(
        "lvs_sync_daemon",
        "Running connection-sync daemons (1 per state)",
        daemons.clone(),
    );
    for d in &snap.daemons {
        daemons
            .get_or_create(&vec![
                ("state", d.state.name().to_string()),
                ("interface", d.mcast_ifn.clone()),
                ("syncid", d.syncid.to_string()),
            ])
            .set(1);
    }

    let svc = StatsMetrics::register(&mut registry, "lvs_service", "virtual service");
    let servers = MetricFamily::<Labels, Gauge>::default();
    registry.register(
        "lvs_service_real_servers",
        "Real servers of this virtual service",
        servers.clone(),
    );
    let dst = StatsMetrics::register(&mut registry, "lvs_server", "real server");
    let weight = MetricFamily::<Labels, Gauge>::default();
    registry.register(
        "lvs_server_weight",
        "Weight of this real server (0: quiesced)",
        weight.clone(),
    );
    for s in &snap.services {
        let labels = service_labels(&s.spec.key);
        let sum = |f: fn(&lvs_proto::DestEntry) -> u32| {
            s.dests.iter().map(|d| u64::from(f(d))).sum::<u64>()
        };
        svc.record(
            &labels,
            &s.stats,
            sum(|d| d.active_conns),
            sum(|d| d.inact_conns),
            sum(|d| d.persist_conns),
        );
        servers
            .get_or_create(&labels)
            .set(gauge_value(s.dests.len() as u64));
        for d in &s.dests {
            let mut l = labels.clone();
            l.push(("rip", d.spec.addr.to_string()));
            l.push(("rport", d.spec.port.to_string()));
            l.push(("method", method(&d.spec.fwd).to_string()));
            dst.record(
                &l,
                &d.stats,
                u64::from(d.active_conns),
                u64::from(d.inact_conns),
                u64::from(d.persist_conns),
            );
            weight.get_or_create(&l).set(i64::from(d.spec.weight));
        }
    }
    render_health(&mut registry, &snap.health);
    render_vrrp(&mut registry, &snap.vrrp);
    if let Some(d) = &snap.dataplane {
        render_dataplane(&mut registry, d);
    }
    let mut out = String::new();
    if encode(&mut out, &registry).is_err() {
        // Writing into a String does not fail; keep the scrape readable.
        out.clear();
        let _ = writeln!(out, "# EOF");
    }
    out
}

/// The health-check states, in the order of their series.
const HEALTH_STATES: [HealthState; 4] = [
    HealthState::Up,
    HealthState::Down,
    HealthState::Warming,
    HealthState::QuorumSorry,
];

fn render_health(registry: &mut Registry, health: &[VsHealth]) {
    let state = MetricFamily::<Labels, Gauge>::default();
    let quorum = MetricFamily::<Labels, Gauge>::default();
    let sorry = MetricFamily::<Labels, Gauge>::default();
    let failures = MetricFamily::<Labels, Gauge>::default();
    registry.register(
        "lvs_health_server_state",
        "Health-check state of this real server (1 for its state, 0 for the others)",
        state.clone(),
    );
    registry.register(
        "lvs_health_quorum_up",
        "Whether this virtual server has its quorum",
        quorum.clone(),
    );
    registry.register(
        "lvs_health_sorry_server_active",
        "Whether this virtual server's sorry server serves",
        sorry.clone(),
    );
    registry.register(
        "lvs_health_checker_failures",
        "Consecutive failed checks of this checker",
        failures.clone(),
    );
    for vs in health {
        let vl: Labels = vec![("virtual_server", vs.name.clone())];
        quorum.get_or_create(&vl).set(i64::from(vs.quorum_up));
        sorry.get_or_create(&vl).set(i64::from(vs.sorry_active));
        for r in &vs.reals {
            let mut rl = vl.clone();
            rl.push(("real_server", r.addr.clone()));
            for st in HEALTH_STATES {
                let mut l = rl.clone();
                l.push(("state", st.as_str().to_string()));
                state.get_or_create(&l).set(i64::from(r.state == st));
            }
            for c in &r.checkers {
                let mut l = rl.clone();
                l.push(("checker", c.kind.clone()));
                l.push(("target", c.target.clone()));
                failures.get_or_create(&l).set(i64::from(c.failures));
            }
        }
    }
}

fn render_dataplane(registry: &mut Registry, d: &DataplaneValues) {
    let verdicts = MetricFamily::<Labels, Counter>::default();
    registry.register(
        "lvs_dataplane_verdicts",
        "Verdicts of the packet engine (a frame retried after a neighbour miss counts again)",
        verdicts.clone(),
    );
    for (v, n) in [
        ("forward", d.forwarded),
        ("local", d.local),
        ("drop", d.dropped),
        ("reply", d.replies),
    ] {
        verdicts
            .get_or_create(&vec![("verdict", v.to_string())])
            .inc_by(n);
    }
    let drops = MetricFamily::<Labels, Counter>::default();
    registry.register(
        "lvs_dataplane_drops",
        "Frames the data-plane shell dropped, by reason",
        drops.clone(),
    );
    for (r, n) in [
        ("tx_failed", d.tx_failed),
        ("hold_expired", d.hold_expired),
        ("no_port", d.no_port),
        ("local_reply", d.local_reply_dropped),
        ("local_delivery", d.local_failed),
    ] {
        drops
            .get_or_create(&vec![("reason", r.to_string())])
            .inc_by(n);
    }
    let counters = [
        ("lvs_dataplane_tx_frames", "Frames sent", d.tx),
        (
            "lvs_dataplane_neighbour_misses",
            "Frames whose next hop had no MAC (then held, or dropped when the pool is full)",
            d.no_neighbour,
        ),
        (
            "lvs_dataplane_held_frames",
            "Frames held while their next hop was resolved",
            d.held,
        ),
        (
            "lvs_dataplane_not_steered_frames",
            "AF_PACKET frames left to the kernel (not IPVS business)",
            d.not_steered,
        ),
        (
            "lvs_dataplane_local_not_reinjected_frames",
            "Local verdicts not reinjected (fragments, frames the kernel already has)",
            d.local_not_reinjected,
        ),
        (
            "lvs_dataplane_local_delivered_frames",
            "Frames delivered to local real servers",
            d.local_delivered,
        ),
        (
            "lvs_dataplane_local_reply_frames",
            "Frames read back from local real servers",
            d.local_replies,
        ),
    ];
    for (name, help, n) in counters {
        let c = Counter::<u64>::default();
        c.inc_by(n);
        registry.register(name, help, c);
    }
    let held = Gauge::<i64>::default();
    held.set(gauge_value(d.held_now));
    registry.register(
        "lvs_dataplane_held_frames_now",
        "Frames held right now, waiting for a neighbour",
        held,
    );
}

fn render_vrrp(registry: &mut Registry, vrrp: &[VrrpInstance]) {
    let state = MetricFamily::<Labels, Gauge>::default();
    let priority = MetricFamily::<Labels, Gauge>::default();
    registry.register(
        "lvs_vrrp_instance_state",
        "VRRP state of this instance (1 for its state, 0 for the others)",
        state.clone(),
    );
    registry.register(
        "lvs_vrrp_instance_priority",
        "Effective VRRP priority of this instance",
        priority.clone(),
    );
    for v in vrrp {
        let l: Labels = vec![
            ("instance", v.name.clone()),
            ("interface", v.interface.clone()),
        ];
        priority.get_or_create(&l).set(v.priority);
        for st in VRRP_STATES {
            let mut sl = l.clone();
            sl.push(("state", st.to_string()));
            state.get_or_create(&sl).set(i64::from(v.state == st));
        }
    }
}

/// Binds the metrics listener (at start, so that a bad address stops it).
pub fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let std_listener = std::net::TcpListener::bind(addr)?;
    std_listener.set_nonblocking(true)?;
    TcpListener::from_std(std_listener)
}

/// Serves scrapes until the task is aborted.
pub async fn serve(listener: TcpListener, shared: Arc<Shared>, sources: Sources) {
    let sources = Arc::new(sources);
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(answer(stream, shared.clone(), sources.clone()));
            }
            Err(e) => {
                tracing::warn!("metrics accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// What a request head asks for.
#[derive(Debug, PartialEq, Eq)]
enum Route {
    Metrics { head: bool },
    Index { head: bool },
    NotFound,
    BadMethod,
    BadRequest,
}

/// Reads the request line of a head.
fn route(head: &[u8]) -> Route {
    let text = String::from_utf8_lossy(head);
    let line = text.lines().next().unwrap_or("");
    let mut parts = line.split_ascii_whitespace();
    let (Some(m), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next()) else {
        return Route::BadRequest;
    };
    if !version.starts_with("HTTP/1.") {
        return Route::BadRequest;
    }
    let head = match m {
        "GET" => false,
        "HEAD" => true,
        _ => return Route::BadMethod,
    };
    let path = target.split(['?', '#']).next().unwrap_or("");
    match path {
        "/metrics" => Route::Metrics { head },
        "/" => Route::Index { head },
        _ => Route::NotFound,
    }
}

async fn answer(mut stream: TcpStream, shared: Arc<Shared>, sources: Arc<Sources>) {
    let mut buf = vec![0u8; MAX_HEAD];
    let mut len = 0usize;
    let read = tokio::time::timeout(HEAD_TIMEOUT, async {
        loop {
            match stream.read(&mut buf[len..]).await {
                Ok(0) | Err(_) => return false,
                Ok(n) => len += n,
            }
            if buf[..len].windows(4).any(|w| w == b"\r\n\r\n")
                || buf[..len].windows(2).any(|w| w == b"\n\n")
            {
                return true;
            }
            if len == buf.len() {
                return true;
            }
        }
    })
    .await;
    let route = match read {
        Ok(true) => route(&buf[..len]),
        _ => return,
    };
    let (status, ctype, body, head) = match route {
        Route::Metrics { head } => {
            let snap = collect(&shared, &sources).await;
            ("200 OK", CONTENT_TYPE, render(&snap), head)
        }
        Route::Index { head } => (
            "200 OK",
            "text/plain; charset=utf-8",
            "lvsd: metrics at /metrics\n".to_string(),
            head,
        ),
        Route::NotFound => (
            "404 Not Found",
            "text/plain",
            "not found\n".to_string(),
            false,
        ),
        Route::BadMethod => (
            "405 Method Not Allowed",
            "text/plain",
            "GET or HEAD\n".to_string(),
            false,
        ),
        Route::BadRequest => (
            "400 Bad Request",
            "text/plain",
            "bad request\n".to_string(),
            false,
        ),
    };
    let mut resp = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    if matches!(status, "405 Method Not Allowed") {
        resp.push_str("Allow: GET, HEAD\r\n");
    }
    resp.push_str("\r\n");
    if !head {
        resp.push_str(&body);
    }
    if let Err(e) = stream.write_all(resp.as_bytes()).await {
        tracing::debug!("metrics answer: {e}");
    }
    let _ = stream.shutdown().await;
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::net::IpAddr;

    use lvs_proto::{
        DaemonState, DestEntry, DestSpec, Protocol, SchedFlags, ServiceSpec, TunnelCsum,
        TunnelSpec, TunnelType,
    };
    use proptest::prelude::*;

    use super::*;

    fn stats(base: u64) -> Stats {
        Stats {
            conns: base + 1,
            inpkts: base + 2,
            outpkts: base + 3,
            inbytes: base + 4,
            outbytes: base + 5,
            cps: base + 6,
            inpps: base + 7,
            outpps: base + 8,
            inbps: base + 9,
            outbps: base + 10,
        }
    }

    fn spec(key: ServiceKey) -> ServiceSpec {
        ServiceSpec {
            key,
            scheduler: "wlc".into(),
            persistent: false,
            timeout: 0,
            netmask: 0,
            ops: false,
            sched_flags: SchedFlags::default(),
            pe_name: None,
        }
    }

    fn dest(addr: &str, port: u16, fwd: FwdMethod, weight: i32, base: u64) -> DestEntry {
        DestEntry {
            spec: DestSpec {
                addr: addr.parse().unwrap(),
                port,
                fwd,
                weight,
                u_threshold: 0,
                l_threshold: 0,
            },
            active_conns: 11,
            inact_conns: 12,
            persist_conns: 13,
            stats: stats(base),
        }
    }

    /// A hand-made table: a TCP service with a NAT and a tunnel server, an
    /// IPv6 fwmark service with a DR server, a master sync daemon.
    fn table() -> Snapshot {
        let tcp = ServiceKey::Addr {
            protocol: Protocol::Tcp,
            addr: "10.0.0.1".parse().unwrap(),
            port: 80,
        };
        let mut d2 = dest(
            "192.168.1.2",
            8080,
            FwdMethod::Tunnel(TunnelSpec {
                kind: TunnelType::Ipip,
                port: 0,
                csum: TunnelCsum::NoCsum,
            }),
            0,
            200,
        );
        d2.active_conns = 21;
        d2.inact_conns = 22;
        d2.persist_conns = 23;
        Snapshot {
            version: "9.8.7".into(),
            services: vec![
                ServiceEntry {
                    spec: spec(tcp),
                    stats: stats(1000),
                    dests: vec![dest("192.168.1.1", 80, FwdMethod::Masq, 3, 100), d2],
                },
                ServiceEntry {
                    spec: spec(ServiceKey::Fwmark {
                        mark: 7,
                        family: Family::Inet6,
                    }),
                    stats: stats(2000),
                    dests: vec![dest("fd00::5", 0, FwdMethod::Route, 1, 300)],
                },
            ],
            connections: 42,
            templates: 5,
            daemons: vec![DaemonEntry {
                state: DaemonState::Master,
                mcast_ifn: "eth1".into(),
                syncid: 9,
                sync_maxlen: None,
                mcast_group: None,
                mcast_port: None,
                mcast_ttl: None,
            }],
            ..Snapshot::default()
        }
    }

    /// Sample lines of a rendering: `name{labels}` → value.
    fn samples(text: &str) -> HashMap<String, String> {
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| {
                let (k, v) = l.rsplit_once(' ').unwrap();
                (k.to_string(), v.to_string())
            })
            .collect()
    }

    const TCP: &str = r#"protocol="tcp",vip="10.0.0.1",port="80""#;
    const FWM: &str = r#"fwmark="7",family="ipv6""#;

    #[test]
    fn renders_the_table() {
        let text = render(&table());
        let s = samples(&text);
        let get = |k: &str| s.get(k).map(String::as_str).unwrap_or("<missing>");
        assert_eq!(get(r#"lvs_build_info{version="9.8.7"}"#), "1");
        assert_eq!(get("lvs_connections"), "42");
        assert_eq!(get("lvs_connection_templates"), "5");
        assert_eq!(get("lvs_services"), "2");
        assert_eq!(
            get(r#"lvs_sync_daemon{state="master",interface="eth1",syncid="9"}"#),
            "1"
        );
        // Service counters (stats(1000)) and rates; connections summed over
        // the two servers (11 + 21, 12 + 22, 13 + 23).
        let svc = [
            ("connections_total", 1001),
            ("in_packets_total", 1002),
            ("out_packets_total", 1003),
            ("in_bytes_total", 1004),
            ("out_bytes_total", 1005),
            ("connections_per_second", 1006),
            ("in_packets_per_second", 1007),
            ("out_packets_per_second", 1008),
            ("in_bytes_per_second", 1009),
            ("out_bytes_per_second", 1010),
            ("active_connections", 32),
            ("inactive_connections", 34),
            ("persistent_connections", 36),
            ("real_servers", 2),
        ];
        for (name, v) in svc {
            assert_eq!(
                get(&format!("lvs_service_{name}{{{TCP}}}")),
                v.to_string(),
                "{name}"
            );
        }
        assert_eq!(get(&format!("lvs_service_in_bytes_total{{{FWM}}}")), "2004");
        assert_eq!(get(&format!("lvs_service_real_servers{{{FWM}}}")), "1");
        let rs1 = format!(r#"{TCP},rip="192.168.1.1",rport="80",method="masq""#);
        let rs2 = format!(r#"{TCP},rip="192.168.1.2",rport="8080",method="tunnel""#);
        let rs3 = format!(r#"{FWM},rip="fd00::5",rport="0",method="route""#);
        assert_eq!(
            get(&format!("lvs_server_connections_total{{{rs1}}}")),
            "101"
        );
        assert_eq!(
            get(&format!("lvs_server_out_packets_total{{{rs1}}}")),
            "103"
        );
        assert_eq!(get(&format!("lvs_server_in_bytes_total{{{rs2}}}")), "204");
        assert_eq!(
            get(&format!("lvs_server_out_bytes_per_second{{{rs3}}}")),
            "310"
        );
        assert_eq!(get(&format!("lvs_server_weight{{{rs1}}}")), "3");
        assert_eq!(get(&format!("lvs_server_weight{{{rs2}}}")), "0");
        assert_eq!(
            get(&format!("lvs_server_active_connections{{{rs2}}}")),
            "21"
        );
        assert_eq!(
            get(&format!("lvs_server_inactive_connections{{{rs1}}}")),
            "12"
        );
        assert_eq!(
            get(&format!("lvs_server_persistent_connections{{{rs2}}}")),
            "23"
        );
        // 2 services x 14 + 3 servers x 14 + 5 globals.
        assert_eq!(s.len(), 2 * 14 + 3 * 14 + 5, "{text}");
        assert!(text.ends_with("# EOF\n"), "{text}");
    }

    #[test]
    fn help_and_type_lines() {
        let text = render(&table());
        for (name, kind) in [
            ("lvs_service_connections", "counter"),
            ("lvs_service_in_bytes", "counter"),
            ("lvs_server_out_packets", "counter"),
            ("lvs_server_connections_per_second", "gauge"),
            ("lvs_server_weight", "gauge"),
            ("lvs_service_active_connections", "gauge"),
            ("lvs_connections", "gauge"),
            ("lvs_build", "info"),
            ("lvs_sync_daemon", "gauge"),
        ] {
            assert!(
                text.contains(&format!("\n# TYPE {name} {kind}\n")),
                "no TYPE line for {name}: {text}"
            );
            assert!(
                text.contains(&format!("\n# HELP {name} "))
                    || text.starts_with(&format!("# HELP {name} ")),
                "no HELP line for {name}"
            );
        }
        // A sample of a metric comes after its TYPE line.
        let t = text.find("# TYPE lvs_server_weight gauge").unwrap();
        let v = text.find("lvs_server_weight{").unwrap();
        assert!(t < v);
    }

    #[test]
    fn empty_table() {
        let text = render(&Snapshot::default());
        let s = samples(&text);
        assert_eq!(s.get("lvs_services").map(String::as_str), Some("0"));
        assert!(!text.contains("lvs_server_weight{"), "{text}");
        assert!(text.contains("\nlvs_connections 0\n"), "{text}");
    }

    #[test]
    fn health_and_vrrp() {
        use lvs_proto::{CheckerHealth, RealHealth};
        let checker = |failures| CheckerHealth {
            kind: "TCP_CHECK".into(),
            target: "192.168.1.1:80".into(),
            state: HealthState::Down,
            failures,
            retry: 2,
            last_ok: Some(false),
            reason: "connect: Connection refused".into(),
            last_ms: Some(10),
        };
        let real = |addr: &str, state| RealHealth {
            addr: addr.into(),
            state,
            weight: Some(1),
            since_ms: 5,
            checkers: vec![checker(4)],
        };
        let snap = Snapshot {
            health: vec![VsHealth {
                name: "10.0.0.1:80 TCP".into(),
                quorum_up: false,
                sorry_active: true,
                reals: vec![
                    real("192.168.1.1:80", HealthState::Down),
                    real("192.168.1.2:80", HealthState::QuorumSorry),
                ],
            }],
            vrrp: parse_vrrp_status(
                "VI_1 MASTER 150 eth0 10.0.0.1/32\nbroken line\nVI_2 BACKUP 100 eth1 \n",
            ),
            ..Snapshot::default()
        };
        assert_eq!(snap.vrrp.len(), 2, "{:?}", snap.vrrp);
        let s = samples(&render(&snap));
        let get = |k: &str| s.get(k).map(String::as_str).unwrap_or("<missing>");
        let vs = r#"virtual_server="10.0.0.1:80 TCP""#;
        assert_eq!(get(&format!("lvs_health_quorum_up{{{vs}}}")), "0");
        assert_eq!(get(&format!("lvs_health_sorry_server_active{{{vs}}}")), "1");
        let r1 = format!(r#"{vs},real_server="192.168.1.1:80""#);
        let r2 = format!(r#"{vs},real_server="192.168.1.2:80""#);
        for (r, st, v) in [
            (&r1, "down", "1"),
            (&r1, "up", "0"),
            (&r1, "warming", "0"),
            (&r1, "quorum-sorry", "0"),
            (&r2, "quorum-sorry", "1"),
            (&r2, "down", "0"),
        ] {
            assert_eq!(
                get(&format!(r#"lvs_health_server_state{{{r},state="{st}"}}"#)),
                v,
                "{r} {st}"
            );
        }
        assert_eq!(
            get(&format!(
                r#"lvs_health_checker_failures{{{r1},checker="TCP_CHECK",target="192.168.1.1:80"}}"#
            )),
            "4"
        );
        let vi1 = r#"instance="VI_1",interface="eth0""#;
        let vi2 = r#"instance="VI_2",interface="eth1""#;
        assert_eq!(get(&format!("lvs_vrrp_instance_priority{{{vi1}}}")), "150");
        assert_eq!(get(&format!("lvs_vrrp_instance_priority{{{vi2}}}")), "100");
        assert_eq!(
            get(&format!(
                r#"lvs_vrrp_instance_state{{{vi1},state="MASTER"}}"#
            )),
            "1"
        );
        assert_eq!(
            get(&format!(
                r#"lvs_vrrp_instance_state{{{vi1},state="BACKUP"}}"#
            )),
            "0"
        );
        assert_eq!(
            get(&format!(
                r#"lvs_vrrp_instance_state{{{vi2},state="BACKUP"}}"#
            )),
            "1"
        );
        assert_eq!(
            get(&format!(
                r#"lvs_vrrp_instance_state{{{vi2},state="FAULT"}}"#
            )),
            "0"
        );
    }

    #[test]
    fn dataplane_counters() {
        let none = samples(&render(&Snapshot::default()));
        assert!(!none.keys().any(|k| k.starts_with("lvs_dataplane")));
        let snap = Snapshot {
            dataplane: Some(DataplaneValues {
                forwarded: 1,
                local: 2,
                dropped: 3,
                replies: 4,
                tx: 5,
                tx_failed: 6,
                no_neighbour: 7,
                held: 8,
                hold_expired: 9,
                no_port: 10,
                not_steered: 11,
                local_not_reinjected: 12,
                local_reply_dropped: 13,
                local_delivered: 14,
                local_failed: 15,
                local_replies: 16,
                held_now: 17,
            }),
            ..Snapshot::default()
        };
        let text = render(&snap);
        let s = samples(&text);
        let want = [
            (r#"lvs_dataplane_verdicts_total{verdict="forward"}"#, "1"),
            (r#"lvs_dataplane_verdicts_total{verdict="local"}"#, "2"),
            (r#"lvs_dataplane_verdicts_total{verdict="drop"}"#, "3"),
            (r#"lvs_dataplane_verdicts_total{verdict="reply"}"#, "4"),
            ("lvs_dataplane_tx_frames_total", "5"),
            (r#"lvs_dataplane_drops_total{reason="tx_failed"}"#, "6"),
            ("lvs_dataplane_neighbour_misses_total", "7"),
            ("lvs_dataplane_held_frames_total", "8"),
            (r#"lvs_dataplane_drops_total{reason="hold_expired"}"#, "9"),
            (r#"lvs_dataplane_drops_total{reason="no_port"}"#, "10"),
            ("lvs_dataplane_not_steered_frames_total", "11"),
            ("lvs_dataplane_local_not_reinjected_frames_total", "12"),
            (r#"lvs_dataplane_drops_total{reason="local_reply"}"#, "13"),
            ("lvs_dataplane_local_delivered_frames_total", "14"),
            (
                r#"lvs_dataplane_drops_total{reason="local_delivery"}"#,
                "15",
            ),
            ("lvs_dataplane_local_reply_frames_total", "16"),
            ("lvs_dataplane_held_frames_now", "17"),
        ];
        for (k, v) in want {
            assert_eq!(s.get(k).map(String::as_str), Some(v), "{k}\n{text}");
        }
        let stats = DataplaneStats::default();
        assert_eq!(stats.get(), None);
        stats.publish(snap.dataplane.unwrap());
        assert_eq!(stats.get(), snap.dataplane);
    }

    #[test]
    fn routes() {
        assert_eq!(
            route(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"),
            Route::Metrics { head: false }
        );
        assert_eq!(
            route(b"HEAD /metrics?x=1 HTTP/1.0\r\n\r\n"),
            Route::Metrics { head: true }
        );
        assert_eq!(
            route(b"GET / HTTP/1.1\r\n\r\n"),
            Route::Index { head: false }
        );
        assert_eq!(route(b"GET /metricsx HTTP/1.1\r\n\r\n"), Route::NotFound);
        assert_eq!(route(b"POST /metrics HTTP/1.1\r\n\r\n"), Route::BadMethod);
        assert_eq!(route(b"GET /metrics\r\n\r\n"), Route::BadRequest);
        assert_eq!(route(b"GET /metrics SPDY/3\r\n\r\n"), Route::BadRequest);
        assert_eq!(route(b""), Route::BadRequest);
    }

    proptest! {
        /// Every counter and gauge of a server carries the number given,
        /// whatever it is (gauges saturate at i64::MAX).
        #[test]
        fn values_pass_through(
            v in proptest::collection::vec(any::<u64>(), 10),
            conns in any::<(u32, u32, u32)>(),
            weight in any::<i32>(),
            ip in any::<IpAddr>(),
        ) {
            let st = Stats {
                conns: v[0], inpkts: v[1], outpkts: v[2], inbytes: v[3], outbytes: v[4],
                cps: v[5], inpps: v[6], outpps: v[7], inbps: v[8], outbps: v[9],
            };
            let mut d = dest("10.1.1.1", 1, FwdMethod::FullNat, weight, 0);
            d.spec.addr = ip;
            d.stats = st;
            (d.active_conns, d.inact_conns, d.persist_conns) = conns;
            let key = ServiceKey::Addr { protocol: Protocol::Udp, addr: ip, port: 53 };
            let snap = Snapshot {
                services: vec![ServiceEntry { spec: spec(key), stats: st, dests: vec![d] }],
                ..Snapshot::default()
            };
            let s = samples(&render(&snap));
            let l = format!(r#"protocol="udp",vip="{ip}",port="53",rip="{ip}",rport="1",method="fullnat""#);
            let g = |x: u64| x.min(i64::MAX as u64).to_string();
            let want = [
                ("connections_total", v[0].to_string()),
                ("in_packets_total", v[1].to_string()),
                ("out_packets_total", v[2].to_string()),
                ("in_bytes_total", v[3].to_string()),
                ("out_bytes_total", v[4].to_string()),
                ("connections_per_second", g(v[5])),
                ("in_packets_per_second", g(v[6])),
                ("out_packets_per_second", g(v[7])),
                ("in_bytes_per_second", g(v[8])),
                ("out_bytes_per_second", g(v[9])),
                ("active_connections", conns.0.to_string()),
                ("inactive_connections", conns.1.to_string()),
                ("persistent_connections", conns.2.to_string()),
                ("weight", weight.to_string()),
            ];
            for (name, value) in want {
                let key = format!("lvs_server_{name}{{{l}}}");
                prop_assert_eq!(s.get(&key), Some(&value), "{}", key);
            }
        }
    }
}
