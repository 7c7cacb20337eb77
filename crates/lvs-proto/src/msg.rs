//! Messages: the handshake, requests, responses and errors.

use serde::{Deserialize, Serialize};

use crate::types::{
    ConnEntry, DaemonConfig, DaemonEntry, DaemonState, DestKey, DestSpec, Info, ServiceEntry,
    ServiceKey, ServiceSpec, Timeouts,
};

/// Version of this protocol. A server refuses a client announcing another one.
pub const PROTO_VERSION: u32 = 1;

/// Magic string of the handshake, so that a stray peer is told apart from an old
/// version.
pub const MAGIC: &str = "lvs-rs control";

/// First message on a connection, sent by the client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// Always [`MAGIC`].
    pub magic: String,
    /// The client's [`PROTO_VERSION`].
    pub version: u32,
    /// Free-form client name and version, for the daemon's log.
    pub client: String,
}

impl Hello {
    /// The hello of this build, from `client`.
    pub fn new(client: impl Into<String>) -> Hello {
        Hello {
            magic: MAGIC.to_string(),
            version: PROTO_VERSION,
            client: client.into(),
        }
    }
}

/// The server's answer to [`Hello`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Welcome {
    /// Versions match; requests may follow.
    Accepted {
        /// The server's [`PROTO_VERSION`].
        version: u32,
        /// Free-form server name and version.
        server: String,
    },
    /// The server does not speak the client's version; it closes the connection.
    Rejected {
        /// The server's [`PROTO_VERSION`].
        version: u32,
        /// Free-form server name and version.
        server: String,
    },
}

/// A request. One request gets exactly one [`Response`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Request {
    /// `GET_INFO`: version and connection table size.
    GetInfo,
    /// `-A`.
    AddService(ServiceSpec),
    /// `-E`.
    EditService(ServiceSpec),
    /// `-D`.
    DelService(ServiceKey),
    /// `-C`: remove every service.
    Flush,
    /// `-Z`: zero the counters of one service or (None) of all.
    Zero(Option<ServiceKey>),
    /// `-a`.
    AddDest {
        /// Service.
        service: ServiceKey,
        /// Destination.
        dest: DestSpec,
    },
    /// `-e`.
    EditDest {
        /// Service.
        service: ServiceKey,
        /// Destination (matched by address and port).
        dest: DestSpec,
    },
    /// `-d`.
    DelDest {
        /// Service.
        service: ServiceKey,
        /// Destination.
        dest: DestKey,
    },
    /// `--set tcp tcpfin udp` (0 = unchanged).
    SetTimeouts(Timeouts),
    /// `--start-daemon`.
    StartDaemon(DaemonConfig),
    /// `--stop-daemon` (the sync id is not part of the request, as in the kernel).
    StopDaemon(DaemonState),
    /// Every service with its destinations, counters and rates.
    ListServices,
    /// One service (`-L -t ...`, `-Z`'s lookup): [`Response::Service`].
    GetService(ServiceKey),
    /// The connection table (`-L -c`).
    ListConnections,
    /// `--timeout`.
    GetTimeouts,
    /// `--daemon`.
    ListDaemons,
    /// Several requests applied in order. With `atomic`, either all succeed or
    /// none is applied ([`Response::BatchFailed`] names the failing one).
    /// Nested batches are refused with `EINVAL`.
    Batch {
        /// The requests, in order.
        requests: Vec<Request>,
        /// All or nothing.
        atomic: bool,
    },
    /// lvs-rs commands beyond ipvsadm's.
    Native(NativeRequest),
}

/// lvs-rs specific requests (room for status, health checks, VRRP, ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NativeRequest {
    /// Daemon status summary.
    Status,
    /// Re-read the keepalived.conf given with `--config` and apply only the
    /// difference (what SIGHUP does); answered by lvsd itself with
    /// [`NativeResponse::Reload`].
    Reload,
    /// The health checks of the `--config` keepalived.conf, per virtual and
    /// real server: [`NativeResponse::Health`].
    Health,
}

/// The answer to a [`Request`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Response {
    /// A change was applied.
    Ok,
    /// [`Request::GetInfo`].
    Info(Info),
    /// [`Request::ListServices`], services in the daemon's order.
    Services(Vec<ServiceEntry>),
    /// [`Request::GetService`].
    Service(ServiceEntry),
    /// [`Request::ListConnections`].
    Connections(Vec<ConnEntry>),
    /// [`Request::GetTimeouts`].
    Timeouts(Timeouts),
    /// [`Request::ListDaemons`] (at most one master and one backup).
    Daemons(Vec<DaemonEntry>),
    /// A batch where request `index` (0-based) failed; with `atomic` nothing was
    /// applied, otherwise the requests before `index` were.
    BatchFailed {
        /// Index of the failing request in the batch.
        index: u32,
        /// Its error.
        error: ApiError,
    },
    /// [`Request::Native`] answers.
    Native(NativeResponse),
    /// The request failed.
    Error(ApiError),
}

/// lvs-rs specific answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NativeResponse {
    /// [`NativeRequest::Status`].
    Status(Status),
    /// [`NativeRequest::Reload`].
    Reload(ReloadReport),
    /// [`NativeRequest::Health`]: the virtual servers in configuration order.
    Health(Vec<VsHealth>),
}

/// State of a real server or checker as the health checks see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HealthState {
    /// Passing, and (for a real server) in the pool.
    Up,
    /// Failed: out of the pool (or at weight 0 under `inhibit_on_failure`).
    Down,
    /// Not judged yet: a checker whose first check has not finished (its
    /// `warmup`), a real server with such a checker.
    Warming,
    /// Alive, but out of the pool because the virtual server lost its
    /// quorum and the sorry server serves.
    QuorumSorry,
}

impl HealthState {
    /// The word shown by `lvsadm health`.
    pub fn as_str(self) -> &'static str {
        match self {
            HealthState::Up => "up",
            HealthState::Down => "down",
            HealthState::Warming => "warming",
            HealthState::QuorumSorry => "quorum-sorry",
        }
    }
}

/// Health of one virtual server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VsHealth {
    /// `ADDR:PORT PROTO`, `fwmark N` or `group NAME PROTO`.
    pub name: String,
    /// Whether the quorum is up.
    pub quorum_up: bool,
    /// Whether the sorry server serves.
    pub sorry_active: bool,
    /// The real servers, in configuration order.
    pub reals: Vec<RealHealth>,
}

/// Health of one real server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RealHealth {
    /// `ADDR:PORT`.
    pub addr: String,
    /// Its state.
    pub state: HealthState,
    /// Weight in effect in IPVS; `None` when the server is not in the table.
    pub weight: Option<u32>,
    /// Milliseconds since its state last changed (since the checks started
    /// when it never changed).
    pub since_ms: u64,
    /// Its checkers, in configuration order.
    pub checkers: Vec<CheckerHealth>,
}

/// Health of one checker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckerHealth {
    /// keepalived keyword (`TCP_CHECK`, `HTTP_GET`, ...).
    pub kind: String,
    /// What it probes (`ADDR:PORT`, or the program of a `MISC_CHECK`).
    pub target: String,
    /// Its own verdict (up, down, or warming before its first result).
    pub state: HealthState,
    /// Consecutive failed checks.
    pub failures: u32,
    /// Its `retry`: failures tolerated before it is down.
    pub retry: u32,
    /// Whether the last check passed; `None` before the first result.
    pub last_ok: Option<bool>,
    /// Why the last check passed or failed (`connect: Connection refused`,
    /// `HTTP status 503`, `timeout after 3 s`, `digest mismatch`...).
    pub reason: String,
    /// Milliseconds since the last result.
    pub last_ms: Option<u64>,
}

/// The outcome of a configuration reload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReloadReport {
    /// The new configuration is running. When false nothing changed: the
    /// previous configuration and its health checks still run.
    pub applied: bool,
    /// The configuration file.
    pub file: String,
    /// Requests applied (one atomic batch).
    pub changes: u32,
    /// Checkers that kept running with their state.
    pub kept_checkers: u32,
    /// Checkers started afresh.
    pub new_checkers: u32,
    /// Diagnostics, `file:line:col: severity: message` (errors, then or
    /// also warnings), or why the batch was refused.
    pub diagnostics: Vec<String>,
}

/// Daemon status summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// Server name and version.
    pub server: String,
    /// Seconds since the daemon started.
    pub uptime_secs: u64,
    /// Number of virtual services.
    pub services: u32,
    /// Number of destinations over all services.
    pub dests: u32,
    /// Entries in the connection table (templates included).
    pub connections: u64,
}

/// The kernel error kinds a control operation can fail with. The client turns
/// them into libipvs's texts (which depend on the operation), so the daemon must
/// pick the errno the kernel would have returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Errno {
    /// 1: not permitted.
    Eperm,
    /// 2: no such destination / scheduler / persistence engine.
    Enoent,
    /// 3: no such service / no daemon.
    Esrch,
    /// 12: out of memory.
    Enomem,
    /// 16: busy.
    Ebusy,
    /// 17: already exists.
    Eexist,
    /// 19: no such device (sync daemon interface).
    Enodev,
    /// 22: invalid argument.
    Einval,
    /// 34: out of range.
    Erange,
    /// 90: message too long (wrong module version).
    Emsgsize,
    /// 92: protocol not available.
    Enoprotoopt,
    /// 95: operation not supported.
    Eopnotsupp,
    /// 97: address family not supported.
    Eafnosupport,
    /// Any other errno, by number.
    #[serde(untagged)]
    Other(i32),
}

impl Errno {
    /// The Linux errno number.
    pub fn number(self) -> i32 {
        match self {
            Errno::Eperm => 1,
            Errno::Enoent => 2,
            Errno::Esrch => 3,
            Errno::Enomem => 12,
            Errno::Ebusy => 16,
            Errno::Eexist => 17,
            Errno::Enodev => 19,
            Errno::Einval => 22,
            Errno::Erange => 34,
            Errno::Emsgsize => 90,
            Errno::Enoprotoopt => 92,
            Errno::Eopnotsupp => 95,
            Errno::Eafnosupport => 97,
            Errno::Other(n) => n,
        }
    }

    /// The variant for a Linux errno number.
    pub fn from_number(n: i32) -> Errno {
        match n {
            1 => Errno::Eperm,
            2 => Errno::Enoent,
            3 => Errno::Esrch,
            12 => Errno::Enomem,
            16 => Errno::Ebusy,
            17 => Errno::Eexist,
            19 => Errno::Enodev,
            22 => Errno::Einval,
            34 => Errno::Erange,
            90 => Errno::Emsgsize,
            92 => Errno::Enoprotoopt,
            95 => Errno::Eopnotsupp,
            97 => Errno::Eafnosupport,
            n => Errno::Other(n),
        }
    }

    /// glibc's `strerror` text for the errno (the fallback libipvs prints for an
    /// errno it has no operation-specific text for).
    pub fn strerror(self) -> String {
        let s = match self.number() {
            1 => "Operation not permitted",
            2 => "No such file or directory",
            3 => "No such process",
            4 => "Interrupted system call",
            5 => "Input/output error",
            11 => "Resource temporarily unavailable",
            12 => "Cannot allocate memory",
            13 => "Permission denied",
            16 => "Device or resource busy",
            17 => "File exists",
            19 => "No such device",
            22 => "Invalid argument",
            28 => "No space left on device",
            34 => "Numerical result out of range",
            90 => "Message too long",
            92 => "Protocol not available",
            95 => "Operation not supported",
            97 => "Address family not supported by protocol",
            98 => "Address already in use",
            99 => "Cannot assign requested address",
            n => return format!("Unknown error {n}"),
        };
        s.to_string()
    }
}

/// An operation error: the errno plus an optional human explanation (for logs
/// and lvs-rs native output; ipvsadm compatible output prints only the errno's
/// text).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{}{}", errno.strerror(), detail.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
pub struct ApiError {
    /// The kernel errno kind.
    pub errno: Errno,
    /// Optional explanation.
    pub detail: Option<String>,
}

impl ApiError {
    /// An error without explanation.
    pub fn new(errno: Errno) -> ApiError {
        ApiError {
            errno,
            detail: None,
        }
    }

    /// An error with an explanation.
    pub fn with_detail(errno: Errno, detail: impl Into<String>) -> ApiError {
        ApiError {
            errno,
            detail: Some(detail.into()),
        }
    }
}
