//! The ipvsadm 1.31 command line: every command and option, their
//! compatibility matrix and ipvsadm's checks, with its exact error texts.
//!
//! How ipvsadm reads a command line (mirrored here, observed on the real tool):
//! 1. The **first** option must be a command (`-A`, `--list`, `--set`, ...);
//!    otherwise — or on a popt error there — it prints
//!    "Try `PROG -h' or 'PROG --help' for more information." and exits 255.
//!    `-h` prints the usage and `-v` the version right there (exit 0), without
//!    reading further options.
//! 2. Every later option is applied in order; a second command is an
//!    "invalid option `X'" (X = the last argument consumed), a repeated option
//!    "multiple 'NAME' options specified", bad values the option's own message
//!    (all exit 2). A popt error prints "ARG: unknown option" (or "missing
//!    argument", ...) and exits 255.
//! 3. `--set` takes three leftover arguments; any other leftover is an
//!    "unexpected argument X".
//! 4. The command × option matrix (`commands_v_options`) is checked in option
//!    order: "You need to supply the 'O' option for the 'C' command",
//!    "Illegal 'O' option with the 'C' command", "The option 'O' conflicts with
//!    the 'P' option in the 'C' command".
//! 5. Per-command checks: zero port, one-packet scheduling, scheduler flags,
//!    address families and tunnel options of real servers (with the tunnel
//!    type × option matrix), list option conflicts.
//!
//! Options are scanned with popt's rules ([`crate::popt`]). Our one addition is
//! `--fullnat` (long form only; ipvsadm has no such option, so no ipvsadm
//! command line changes meaning): the FULLNAT forwarding method, a
//! forwarding-method option like `-g/-i/-m`.

use std::net::IpAddr;

use lvs_proto::{
    DaemonConfig, DaemonState, DestKey, DestSpec, Family, FwdMethod, Protocol, Request, SchedFlags,
    ServiceKey, ServiceSpec, Timeouts, TunnelCsum, TunnelSpec, TunnelType,
};

use crate::addr::{
    atoi, inet_pton4, inet_pton6, parse_fwmark, parse_netmask, parse_service, string_to_number,
};
use crate::popt::{ArgKind, OptDef, Popt, PoptError};
use crate::resolve::Resolver;

/// ipvsadm's default scheduler.
pub const DEFAULT_SCHEDULER: &str = "wlc";
/// Default persistence timeout of `-p` without a value (libipvs
/// `IPVS_SVC_PERSISTENT_TIMEOUT`; the man page's 300 is wrong).
pub const DEFAULT_PERSISTENT_TIMEOUT: u32 = 360;
/// Upper bound of timeouts (31 days).
pub const MAX_TIMEOUT: i64 = 86400 * 31;
/// Default multicast interface of `--start-daemon`.
pub const DEFAULT_MCAST_IFN: &str = "eth0";

/// The commands, in ipvsadm's order (the rows of its matrix).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmd {
    /// `-A`
    Add,
    /// `-E`
    Edit,
    /// `-D`
    Del,
    /// `-C`
    Flush,
    /// `-L` / `-l`
    List,
    /// `-a`
    AddDest,
    /// `-d`
    DelDest,
    /// `-e`
    EditDest,
    /// `--set`
    Timeout,
    /// `--start-daemon`
    StartDaemon,
    /// `--stop-daemon`
    StopDaemon,
    /// `-R`
    Restore,
    /// `-S`
    Save,
    /// `-Z`
    Zero,
}

impl Cmd {
    /// Name used in error messages.
    pub fn name(self) -> &'static str {
        match self {
            Cmd::Add => "add-service",
            Cmd::Edit => "edit-service",
            Cmd::Del => "delete-service",
            Cmd::Flush => "flush",
            Cmd::List => "list",
            Cmd::AddDest => "add-server",
            Cmd::DelDest => "delete-server",
            Cmd::EditDest => "edit-server",
            Cmd::Timeout => "set",
            Cmd::StartDaemon => "start-daemon",
            Cmd::StopDaemon => "stop-daemon",
            Cmd::Restore => "restore",
            Cmd::Save => "save",
            Cmd::Zero => "zero",
        }
    }

    /// The command × option row: per option (see [`OPT_NAMES`]) `+` compulsory,
    /// `x` illegal, `1` mutually exclusive with the other `1`s, blank optional.
    /// Taken from the behaviour of ipvsadm 1.31.
    fn row(self) -> &'static [u8; NOPT] {
        match self {
            Cmd::Add | Cmd::Edit => b"xx+   xxxxxxxxxxxxxxx   xxxxxxxxxx",
            Cmd::Del => b"xx+xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            Cmd::List => b" 11xxxxxxxxx11       xxxxxxx xxxxx",
            Cmd::AddDest | Cmd::EditDest => b"xx+xxx+    xxxxxxxxxxxxxxxxxx     ",
            Cmd::DelDest => b"xx+xxx+xxxxxxxxxxxxxxxxxxxxxxxxxxx",
            Cmd::StartDaemon => b"xxxxxxxxxxx xxxxxxx xxxx    xxxxxx",
            Cmd::StopDaemon => b"xxxxxxxxxxxxxxxxxxx xxxxxxxxxxxxxx",
            Cmd::Save => b" xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            Cmd::Zero => b"xx xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            Cmd::Flush | Cmd::Timeout | Cmd::Restore => b"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        }
    }
}

const NOPT: usize = 34;

/// Option names as ipvsadm's messages spell them, in matrix column order.
pub const OPT_NAMES: [&str; NOPT] = [
    "numeric",
    "connection",
    "service-address",
    "scheduler",
    "persistent",
    "netmask",
    "real-server",
    "forwarding-method",
    "weight",
    "u-threshold",
    "l-threshold",
    "mcast-interface",
    "timeout",
    "daemon",
    "stats",
    "rate",
    "thresholds",
    "persistent-conn",
    "nosort",
    "syncid",
    "exact",
    "ops",
    "pe",
    "sched-flags",
    "mcast-group",
    "mcast-port",
    "mcast-ttl",
    "sync-maxlen",
    "tun-info",
    "tun-type",
    "tun-port",
    "tun-nocsum",
    "tun-csum",
    "tun-remcsum",
];

/// Option column indexes.
mod o {
    pub const NUMERIC: usize = 0;
    pub const CONNECTION: usize = 1;
    pub const SERVICE: usize = 2;
    pub const SCHEDULER: usize = 3;
    pub const PERSISTENT: usize = 4;
    pub const NETMASK: usize = 5;
    pub const SERVER: usize = 6;
    pub const FORWARD: usize = 7;
    pub const WEIGHT: usize = 8;
    pub const UTHRESHOLD: usize = 9;
    pub const LTHRESHOLD: usize = 10;
    pub const MCAST: usize = 11;
    pub const TIMEOUT: usize = 12;
    pub const DAEMON: usize = 13;
    pub const STATS: usize = 14;
    pub const RATE: usize = 15;
    pub const THRESHOLDS: usize = 16;
    pub const PERSISTENTCONN: usize = 17;
    pub const NOSORT: usize = 18;
    pub const SYNCID: usize = 19;
    pub const EXACT: usize = 20;
    pub const ONEPACKET: usize = 21;
    pub const PE: usize = 22;
    pub const SCHED_FLAGS: usize = 23;
    pub const MCAST_GROUP: usize = 24;
    pub const MCAST_PORT: usize = 25;
    pub const MCAST_TTL: usize = 26;
    pub const SYNC_MAXLEN: usize = 27;
    pub const TUN_INFO: usize = 28;
    pub const TUN_TYPE: usize = 29;
    pub const TUN_PORT: usize = 30;
    pub const TUN_NOCSUM: usize = 31;
    pub const TUN_CSUM: usize = 32;
    pub const TUN_REMCSUM: usize = 33;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tag {
    Cmd(Cmd),
    Help,
    Version,
    Tcp,
    Udp,
    Sctp,
    Fwmark,
    Sched,
    Persistent,
    Netmask,
    Real,
    Masq,
    Ipip,
    Gate,
    FullNat,
    Weight,
    UThr,
    LThr,
    Numeric,
    Conn,
    McastIf,
    SyncId,
    TimeoutOpt,
    DaemonOpt,
    Stats,
    Rate,
    Thresholds,
    PConn,
    NoSort,
    Sort,
    Exact,
    Ipv6,
    Ops,
    Pe,
    SchedFlags,
    McastGroup,
    McastPort,
    McastTtl,
    SyncMaxlen,
    TunInfo,
    TunType,
    TunPort,
    TunNoCsum,
    TunCsum,
    TunRemCsum,
    StartDaemon,
    StopDaemon,
}

const fn opt(long: &'static str, short: Option<char>, kind: ArgKind, tag: Tag) -> OptDef<Tag> {
    OptDef {
        long,
        short,
        kind,
        tag,
    }
}

use ArgKind::{None as N, Optional as O, Required as R};

/// ipvsadm 1.31's popt table (plus `--fullnat`).
static TABLE: &[OptDef<Tag>] = &[
    opt("add-service", Some('A'), N, Tag::Cmd(Cmd::Add)),
    opt("edit-service", Some('E'), N, Tag::Cmd(Cmd::Edit)),
    opt("delete-service", Some('D'), N, Tag::Cmd(Cmd::Del)),
    opt("clear", Some('C'), N, Tag::Cmd(Cmd::Flush)),
    opt("list", Some('L'), N, Tag::Cmd(Cmd::List)),
    opt("list", Some('l'), N, Tag::Cmd(Cmd::List)),
    opt("zero", Some('Z'), N, Tag::Cmd(Cmd::Zero)),
    opt("add-server", Some('a'), N, Tag::Cmd(Cmd::AddDest)),
    opt("edit-server", Some('e'), N, Tag::Cmd(Cmd::EditDest)),
    opt("delete-server", Some('d'), N, Tag::Cmd(Cmd::DelDest)),
    opt("set", None, N, Tag::Cmd(Cmd::Timeout)),
    opt("help", Some('h'), N, Tag::Help),
    opt("version", Some('v'), N, Tag::Version),
    opt("restore", Some('R'), N, Tag::Cmd(Cmd::Restore)),
    opt("save", Some('S'), N, Tag::Cmd(Cmd::Save)),
    opt("start-daemon", None, R, Tag::StartDaemon),
    opt("stop-daemon", None, R, Tag::StopDaemon),
    opt("tcp-service", Some('t'), R, Tag::Tcp),
    opt("udp-service", Some('u'), R, Tag::Udp),
    opt("sctp-service", None, R, Tag::Sctp),
    opt("fwmark-service", Some('f'), R, Tag::Fwmark),
    opt("scheduler", Some('s'), R, Tag::Sched),
    opt("persistent", Some('p'), O, Tag::Persistent),
    opt("netmask", Some('M'), R, Tag::Netmask),
    opt("real-server", Some('r'), R, Tag::Real),
    opt("masquerading", Some('m'), N, Tag::Masq),
    opt("ipip", Some('i'), N, Tag::Ipip),
    opt("gatewaying", Some('g'), N, Tag::Gate),
    opt("fullnat", None, N, Tag::FullNat),
    opt("weight", Some('w'), R, Tag::Weight),
    opt("u-threshold", Some('x'), R, Tag::UThr),
    opt("l-threshold", Some('y'), R, Tag::LThr),
    opt("numeric", Some('n'), N, Tag::Numeric),
    opt("connection", Some('c'), N, Tag::Conn),
    opt("mcast-interface", None, R, Tag::McastIf),
    opt("syncid", None, R, Tag::SyncId),
    opt("timeout", None, N, Tag::TimeoutOpt),
    opt("daemon", None, N, Tag::DaemonOpt),
    opt("stats", None, N, Tag::Stats),
    opt("rate", None, N, Tag::Rate),
    opt("thresholds", None, N, Tag::Thresholds),
    opt("persistent-conn", None, N, Tag::PConn),
    opt("nosort", None, N, Tag::NoSort),
    opt("sort", None, N, Tag::Sort),
    opt("exact", Some('X'), N, Tag::Exact),
    opt("ipv6", Some('6'), N, Tag::Ipv6),
    opt("ops", Some('o'), N, Tag::Ops),
    opt("pe", None, R, Tag::Pe),
    opt("sched-flags", Some('b'), R, Tag::SchedFlags),
    opt("mcast-group", None, R, Tag::McastGroup),
    opt("mcast-port", None, R, Tag::McastPort),
    opt("mcast-ttl", None, R, Tag::McastTtl),
    opt("sync-maxlen", None, R, Tag::SyncMaxlen),
    opt("tun-info", None, N, Tag::TunInfo),
    opt("tun-type", None, R, Tag::TunType),
    opt("tun-port", None, R, Tag::TunPort),
    opt("tun-nocsum", None, N, Tag::TunNoCsum),
    opt("tun-csum", None, N, Tag::TunCsum),
    opt("tun-remcsum", None, N, Tag::TunRemCsum),
];

/// Listing format flags (`FMT_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Format {
    /// `-n`
    pub numeric: bool,
    /// `-S` rules instead of a table.
    pub rule: bool,
    /// `--stats`
    pub stats: bool,
    /// `--rate`
    pub rate: bool,
    /// `--thresholds`
    pub thresholds: bool,
    /// `--persistent-conn`
    pub persistent_conn: bool,
    /// `--nosort`
    pub nosort: bool,
    /// `--exact`
    pub exact: bool,
    /// `--tun-info`
    pub tun_info: bool,
}

/// What a listing shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListWhat {
    /// The banner and every service.
    All,
    /// One service, without banner.
    Service(ServiceKey),
    /// The connection table (`-c`).
    Connections,
    /// `--timeout`
    Timeout,
    /// `--daemon`
    Daemon,
}

/// A fully checked command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// `-h`: the usage on stdout, exit 0.
    Usage,
    /// `-v`: the version on stdout, exit 0.
    Version,
    /// A change (one request to the daemon).
    Change(Request),
    /// A listing.
    List(ListWhat, Format),
    /// `-S`.
    Save(Format),
    /// `-R`.
    Restore,
}

/// How a command line is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// "Try `PROG -h' or 'PROG --help' for more information." — exit 255.
    #[error("try help")]
    TryHelp,
    /// ipvsadm's `fail(2, ...)`: the message (without the final newline) — exit 2.
    #[error("{0}")]
    Fail(String),
    /// A popt error, "ARG: reason" — exit 255.
    #[error("{0}")]
    Popt(String),
}

impl Refusal {
    /// The exit status ipvsadm uses.
    pub fn exit_code(&self) -> i32 {
        match self {
            Refusal::TryHelp | Refusal::Popt(_) => 255,
            Refusal::Fail(_) => 2,
        }
    }

    /// The stderr bytes ipvsadm prints, for program name `prog`.
    pub fn stderr_text(&self, prog: &str) -> String {
        match self {
            Refusal::TryHelp => {
                format!("Try `{prog} -h' or '{prog} --help' for more information.\n")
            }
            Refusal::Fail(m) | Refusal::Popt(m) => format!("{m}\n"),
        }
    }
}

fn fail(msg: impl Into<String>) -> Refusal {
    Refusal::Fail(msg.into())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fwd {
    Masq,
    Tunnel,
    Route,
    FullNat,
}

/// ipvsadm's `ipvs_service_t` while the options are applied.
#[derive(Debug, Clone)]
struct Svc {
    family: Option<Family>,
    protocol: Option<Protocol>,
    addr: Option<IpAddr>,
    port: u16,
    fwmark: u32,
    sched: String,
    persistent: bool,
    timeout: u32,
    netmask: u32,
    ops: bool,
    pe: String,
}

/// ipvsadm's `ipvs_dest_t`.
#[derive(Debug, Clone)]
struct Dst {
    addr: Option<IpAddr>,
    port: u16,
    fwd: Fwd,
    weight: i32,
    u_threshold: u32,
    l_threshold: u32,
    tun_type: TunnelType,
    tun_port: u16,
    csum: bool,
    remcsum: bool,
}

#[derive(Debug, Clone)]
struct Daemon {
    state: DaemonState,
    ifn: String,
    syncid: u8,
    maxlen: Option<u16>,
    group: Option<IpAddr>,
    port: Option<u16>,
    ttl: Option<u8>,
}

fn truncate(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

struct Parser<'a> {
    cmd: Cmd,
    options: u64,
    format: Format,
    svc: Svc,
    dest: Dst,
    daemon: Daemon,
    timeouts: Timeouts,
    sched_flags: Option<String>,
    flags: SchedFlags,
    resolver: &'a dyn Resolver,
}

impl Parser<'_> {
    fn set_option(&mut self, i: usize) -> Result<(), Refusal> {
        if self.options & (1 << i) != 0 {
            return Err(fail(format!(
                "multiple '{}' options specified",
                OPT_NAMES[i]
            )));
        }
        self.options |= 1 << i;
        Ok(())
    }

    fn has(&self, i: usize) -> bool {
        self.options & (1 << i) != 0
    }

    fn apply(&mut self, tag: Tag, arg: Option<&str>, bad: &str) -> Result<(), Refusal> {
        let a = arg.unwrap_or("");
        match tag {
            Tag::Tcp | Tag::Udp | Tag::Sctp => {
                self.set_option(o::SERVICE)?;
                let proto = match tag {
                    Tag::Tcp => Protocol::Tcp,
                    Tag::Udp => Protocol::Udp,
                    _ => Protocol::Sctp,
                };
                self.svc.protocol = Some(proto);
                let hp = parse_service(a, Some(proto), self.resolver)
                    .ok_or_else(|| fail("illegal virtual server address[:port] specified"))?;
                self.svc.addr = Some(hp.addr);
                self.svc.family = Some(Family::of(&hp.addr));
                if hp.addr.is_ipv6() {
                    self.svc.netmask = 128;
                }
                if let Some(p) = hp.port {
                    self.svc.port = p;
                }
            }
            Tag::Fwmark => {
                self.set_option(o::SERVICE)?;
                self.svc.family = Some(Family::Inet);
                self.svc.protocol = Some(Protocol::Tcp);
                self.svc.fwmark = parse_fwmark(a)
                    .ok_or_else(|| fail(format!("invalid fwmark value `{a}' specified")))?;
            }
            Tag::Sched => {
                self.set_option(o::SCHEDULER)?;
                self.svc.sched = truncate(a, 15);
            }
            Tag::Persistent => {
                self.set_option(o::PERSISTENT)?;
                self.svc.persistent = true;
                self.svc.timeout = match arg {
                    None => DEFAULT_PERSISTENT_TIMEOUT,
                    Some(t) => parse_timeout(t, 1)?,
                };
            }
            Tag::Netmask => {
                self.set_option(o::NETMASK)?;
                if self.svc.family != Some(Family::Inet6) {
                    self.svc.netmask = parse_netmask(a, self.resolver)
                        .ok_or_else(|| fail("illegal virtual server persistent mask specified"))?;
                } else {
                    let m = atoi(a);
                    if !(1..=128).contains(&m) {
                        return Err(fail("illegal ipv6 netmask specified"));
                    }
                    self.svc.netmask = m as u32;
                }
            }
            Tag::Real => {
                self.set_option(o::SERVER)?;
                let hp = parse_service(a, self.svc.protocol, self.resolver)
                    .ok_or_else(|| fail("illegal real server address[:port] specified"))?;
                self.dest.addr = Some(hp.addr);
                self.dest.port = hp.port.unwrap_or(self.svc.port);
            }
            Tag::Masq | Tag::Ipip | Tag::Gate | Tag::FullNat => {
                self.set_option(o::FORWARD)?;
                self.dest.fwd = match tag {
                    Tag::Masq => Fwd::Masq,
                    Tag::Ipip => Fwd::Tunnel,
                    Tag::Gate => Fwd::Route,
                    _ => Fwd::FullNat,
                };
            }
            Tag::Weight => {
                self.set_option(o::WEIGHT)?;
                self.dest.weight = string_to_number(a, 0, i64::from(i32::MAX))
                    .ok_or_else(|| fail("illegal weight specified"))?
                    as i32;
            }
            Tag::UThr => {
                self.set_option(o::UTHRESHOLD)?;
                self.dest.u_threshold = string_to_number(a, 0, i64::from(i32::MAX))
                    .ok_or_else(|| fail("illegal u_threshold specified"))?
                    as u32;
            }
            Tag::LThr => {
                self.set_option(o::LTHRESHOLD)?;
                self.dest.l_threshold = string_to_number(a, 0, i64::from(i32::MAX))
                    .ok_or_else(|| fail("illegal l_threshold specified"))?
                    as u32;
            }
            Tag::Conn => self.set_option(o::CONNECTION)?,
            Tag::Numeric => {
                self.set_option(o::NUMERIC)?;
                self.format.numeric = true;
            }
            Tag::McastIf => {
                self.set_option(o::MCAST)?;
                self.daemon.ifn = truncate(a, 15);
            }
            Tag::SyncId => {
                self.set_option(o::SYNCID)?;
                self.daemon.syncid = string_to_number(a, 0, 255)
                    .ok_or_else(|| fail("illegal syncid specified"))?
                    as u8;
            }
            Tag::TimeoutOpt => self.set_option(o::TIMEOUT)?,
            Tag::DaemonOpt => self.set_option(o::DAEMON)?,
            Tag::Stats => {
                self.set_option(o::STATS)?;
                self.format.stats = true;
            }
            Tag::Rate => {
                self.set_option(o::RATE)?;
                self.format.rate = true;
            }
            Tag::Thresholds => {
                self.set_option(o::THRESHOLDS)?;
                self.format.thresholds = true;
            }
            Tag::PConn => {
                self.set_option(o::PERSISTENTCONN)?;
                self.format.persistent_conn = true;
            }
            Tag::NoSort => {
                self.set_option(o::NOSORT)?;
                self.format.nosort = true;
            }
            Tag::Sort => {}
            Tag::Exact => {
                self.set_option(o::EXACT)?;
                self.format.exact = true;
            }
            Tag::Ipv6 => {
                if self.svc.fwmark != 0 {
                    self.svc.family = Some(Family::Inet6);
                    self.svc.netmask = 128;
                } else {
                    return Err(fail("-6 used before -f\n"));
                }
            }
            Tag::Ops => {
                self.set_option(o::ONEPACKET)?;
                self.svc.ops = true;
            }
            Tag::Pe => {
                self.set_option(o::PE)?;
                self.svc.pe = truncate(a, 15);
            }
            Tag::SchedFlags => {
                self.set_option(o::SCHED_FLAGS)?;
                self.sched_flags = Some(a.to_string());
            }
            Tag::McastGroup => {
                self.set_option(o::MCAST_GROUP)?;
                if a.contains(':') {
                    let g = inet_pton6(a)
                        .filter(|g| g.is_multicast())
                        .ok_or_else(|| fail(format!("invalid IPv6 mcast-group `{a}'")))?;
                    self.daemon.group = Some(IpAddr::V6(g));
                } else {
                    let g = inet_pton4(a)
                        .filter(|g| g.is_multicast())
                        .ok_or_else(|| fail(format!("invalid IPv4 mcast-group `{a}'")))?;
                    self.daemon.group = Some(IpAddr::V4(g));
                }
            }
            Tag::McastPort => {
                self.set_option(o::MCAST_PORT)?;
                self.daemon.port = Some(
                    string_to_number(a, 1, 65535)
                        .ok_or_else(|| fail("illegal mcast-port specified"))?
                        as u16,
                );
            }
            Tag::McastTtl => {
                self.set_option(o::MCAST_TTL)?;
                self.daemon.ttl = Some(
                    string_to_number(a, 1, 255)
                        .ok_or_else(|| fail("illegal mcast-ttl specified"))?
                        as u8,
                );
            }
            Tag::SyncMaxlen => {
                self.set_option(o::SYNC_MAXLEN)?;
                self.daemon.maxlen = Some(
                    string_to_number(a, 1, 65535 - 20 - 8)
                        .ok_or_else(|| fail("illegal sync-maxlen specified"))?
                        as u16,
                );
            }
            Tag::TunInfo => {
                self.set_option(o::TUN_INFO)?;
                self.format.tun_info = true;
            }
            Tag::TunType => {
                self.set_option(o::TUN_TYPE)?;
                self.dest.tun_type = match a {
                    "ipip" => TunnelType::Ipip,
                    "gue" => TunnelType::Gue,
                    "gre" => TunnelType::Gre,
                    _ => return Err(fail("illegal tunnel type specified")),
                };
            }
            Tag::TunPort => {
                self.set_option(o::TUN_PORT)?;
                self.dest.tun_port = string_to_number(a, 1, 65535)
                    .ok_or_else(|| fail("illegal tunnel port specified"))?
                    as u16;
            }
            Tag::TunNoCsum => self.set_option(o::TUN_NOCSUM)?,
            Tag::TunCsum => {
                self.set_option(o::TUN_CSUM)?;
                self.dest.csum = true;
            }
            Tag::TunRemCsum => {
                self.set_option(o::TUN_REMCSUM)?;
                self.dest.remcsum = true;
            }
            Tag::Cmd(_) | Tag::Help | Tag::Version | Tag::StartDaemon | Tag::StopDaemon => {
                return Err(fail(format!("invalid option `{bad}'")));
            }
        }
        Ok(())
    }

    /// `generic_opt_check`.
    fn check_matrix(&self) -> Result<(), Refusal> {
        let row = self.cmd.row();
        let mut first_exclusive: Option<usize> = None;
        for (j, &cell) in row.iter().enumerate() {
            if !self.has(j) {
                if cell == b'+' {
                    return Err(fail(format!(
                        "You need to supply the '{}' option for the '{}' command",
                        OPT_NAMES[j],
                        self.cmd.name()
                    )));
                }
            } else {
                if cell == b'x' {
                    return Err(fail(format!(
                        "Illegal '{}' option with the '{}' command",
                        OPT_NAMES[j],
                        self.cmd.name()
                    )));
                }
                if cell == b'1' {
                    match first_exclusive {
                        None => first_exclusive = Some(j),
                        Some(k) => {
                            return Err(fail(format!(
                                "The option '{}' conflicts with the '{}' option in the '{}' command",
                                OPT_NAMES[j],
                                OPT_NAMES[k],
                                self.cmd.name()
                            )));
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// `tunnel_opt_check`: tunnel type × (tun-port, tun-nocsum, tun-csum,
    /// tun-remcsum).
    fn check_tunnel(&self) -> Result<(), Refusal> {
        let row: &[u8; 4] = match self.dest.tun_type {
            TunnelType::Ipip => b"xxxx",
            TunnelType::Gue => b"+111",
            TunnelType::Gre => b"x11x",
        };
        let cols = [o::TUN_PORT, o::TUN_NOCSUM, o::TUN_CSUM, o::TUN_REMCSUM];
        let tname = self.dest.tun_type.name();
        let mut first: Option<usize> = None;
        for (cell, &k) in row.iter().zip(cols.iter()) {
            if !self.has(k) {
                if *cell == b'+' {
                    return Err(fail(format!(
                        "You need to supply the '{}' option for the '{tname}' tunnel type",
                        OPT_NAMES[k]
                    )));
                }
            } else {
                if *cell == b'x' {
                    return Err(fail(format!(
                        "Illegal '{}' option with the '{tname}' tunnel type",
                        OPT_NAMES[k]
                    )));
                }
                if *cell == b'1' {
                    match first {
                        None => first = Some(k),
                        Some(f) => {
                            return Err(fail(format!(
                                "The option '{}' conflicts with the '{}' option in the '{tname}' tunnel type",
                                OPT_NAMES[k], OPT_NAMES[f]
                            )));
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn service_key(&self) -> Option<ServiceKey> {
        if !self.has(o::SERVICE) {
            return None;
        }
        if self.svc.fwmark != 0 {
            return Some(ServiceKey::Fwmark {
                mark: self.svc.fwmark,
                family: self.svc.family.unwrap_or(Family::Inet),
            });
        }
        Some(ServiceKey::Addr {
            protocol: self.svc.protocol.unwrap_or(Protocol::Tcp),
            addr: self.svc.addr?,
            port: self.svc.port,
        })
    }

    fn service_spec(&self, key: ServiceKey, flags: SchedFlags) -> ServiceSpec {
        ServiceSpec {
            key,
            scheduler: self.svc.sched.clone(),
            persistent: self.svc.persistent,
            timeout: self.svc.timeout,
            netmask: self.svc.netmask,
            ops: self.svc.ops,
            sched_flags: flags,
            pe_name: (!self.svc.pe.is_empty()).then(|| self.svc.pe.clone()),
        }
    }

    fn dest_spec(&self) -> Option<DestSpec> {
        let fwd = match self.dest.fwd {
            Fwd::Masq => FwdMethod::Masq,
            Fwd::Route => FwdMethod::Route,
            Fwd::FullNat => FwdMethod::FullNat,
            Fwd::Tunnel => FwdMethod::Tunnel(TunnelSpec {
                kind: self.dest.tun_type,
                port: self.dest.tun_port,
                csum: if self.dest.remcsum {
                    TunnelCsum::RemCsum
                } else if self.dest.csum {
                    TunnelCsum::Csum
                } else {
                    TunnelCsum::NoCsum
                },
            }),
        };
        Some(DestSpec {
            addr: self.dest.addr?,
            port: self.dest.port,
            fwd,
            weight: self.dest.weight,
            u_threshold: self.dest.u_threshold,
            l_threshold: self.dest.l_threshold,
        })
    }
}

/// `parse_timeout`.
fn parse_timeout(s: &str, min: i64) -> Result<u32, Refusal> {
    string_to_number(s, min, MAX_TIMEOUT)
        .map(|v| v as u32)
        .ok_or_else(|| fail(format!("invalid timeout value `{s}' specified")))
}

/// `parse_sched_flags(sched, arg)`.
pub fn parse_sched_flags(sched: &str, arg: &str) -> Result<SchedFlags, Refusal> {
    let mut f = SchedFlags::default();
    for name in arg.split(',').filter(|s| !s.is_empty()) {
        match name {
            "flag-1" => f.flag1 = true,
            "flag-2" => f.flag2 = true,
            "flag-3" => f.flag3 = true,
            "sh-fallback" | "sh-port" | "mh-fallback" | "mh-port" => {
                if sched != &name[..2] {
                    return Err(fail(format!("incompatible scheduler flag `{name}'")));
                }
                if name.ends_with("fallback") {
                    f.flag1 = true;
                } else {
                    f.flag2 = true;
                }
            }
            _ => return Err(fail(format!("invalid scheduler flag `{name}'"))),
        }
    }
    Ok(f)
}

/// Reads one ipvsadm command line (`argv[0]` is the program name).
pub fn parse(argv: &[String], resolver: &dyn Resolver) -> Result<Action, Refusal> {
    let mut p = Popt::new(TABLE, argv);
    let (first, first_arg) = match p.next_opt() {
        Some(Ok(x)) => x,
        _ => return Err(Refusal::TryHelp),
    };
    let mut daemon_state = DaemonState::Master;
    let cmd = match first {
        Tag::Cmd(c) => c,
        Tag::StartDaemon | Tag::StopDaemon => {
            daemon_state = match first_arg {
                Some("master") => DaemonState::Master,
                Some("backup") => DaemonState::Backup,
                _ if first == Tag::StartDaemon => {
                    return Err(fail("illegal start-daemon parameter specified"));
                }
                _ => return Err(fail("illegal start_daemon specified")),
            };
            if first == Tag::StartDaemon {
                Cmd::StartDaemon
            } else {
                Cmd::StopDaemon
            }
        }
        Tag::Help => return Ok(Action::Usage),
        Tag::Version => return Ok(Action::Version),
        _ => return Err(Refusal::TryHelp),
    };
    let mut ps = Parser {
        cmd,
        options: 0,
        format: Format::default(),
        svc: Svc {
            family: None,
            protocol: None,
            addr: None,
            port: 0,
            fwmark: 0,
            sched: String::new(),
            persistent: false,
            timeout: 0,
            netmask: 0xffff_ffff,
            ops: false,
            pe: String::new(),
        },
        dest: Dst {
            addr: None,
            port: 0,
            fwd: Fwd::Route,
            weight: 1,
            u_threshold: 0,
            l_threshold: 0,
            tun_type: TunnelType::Ipip,
            tun_port: 0,
            csum: false,
            remcsum: false,
        },
        daemon: Daemon {
            state: daemon_state,
            ifn: String::new(),
            syncid: 0,
            maxlen: None,
            group: None,
            port: None,
            ttl: None,
        },
        timeouts: Timeouts::default(),
        sched_flags: None,
        flags: SchedFlags::default(),
        resolver,
    };
    loop {
        match p.next_opt() {
            None => break,
            Some(Ok((tag, arg))) => {
                let bad = p.bad_option();
                ps.apply(tag, arg, bad)?;
            }
            Some(Err(e)) => {
                return Err(Refusal::Popt(format!(
                    "{}: {}",
                    p.bad_option(),
                    popt_text(e)
                )));
            }
        }
    }
    if cmd == Cmd::Timeout {
        match (p.next_arg(), p.next_arg(), p.next_arg()) {
            (Some(a), Some(b), Some(c)) => {
                ps.timeouts = Timeouts {
                    tcp: parse_timeout(a, 0)?,
                    tcp_fin: parse_timeout(b, 0)?,
                    udp: parse_timeout(c, 0)?,
                };
            }
            _ => return Err(fail("--set option requires 3 timeout values")),
        }
    }
    if let Some(extra) = p.next_arg() {
        return Err(fail(format!("unexpected argument {extra}")));
    }
    // Scheduler flags are read with the scheduler named so far (none: "")
    // before any other check: `-D -t .. -b foo` is an invalid flag, not an
    // illegal option.
    if let Some(arg) = &ps.sched_flags {
        ps.flags = parse_sched_flags(&ps.svc.sched, arg)?;
    }
    process(ps)
}

fn popt_text(e: PoptError) -> &'static str {
    e.text()
}

/// `process_options` after the options are read.
fn process(mut ps: Parser<'_>) -> Result<Action, Refusal> {
    ps.check_matrix()?;
    let flags = ps.flags;
    if matches!(ps.cmd, Cmd::Add | Cmd::Edit) {
        if ps.svc.fwmark == 0 && ps.svc.port == 0 && !ps.svc.persistent {
            return Err(fail("Zero port specified for non-persistent service"));
        }
        if ps.svc.ops && ps.svc.fwmark == 0 && ps.svc.protocol != Some(Protocol::Udp) {
            return Err(fail(
                "One-Packet Scheduling is only for UDP virtual services",
            ));
        }
        if ps.svc.sched.is_empty() {
            ps.svc.sched = DEFAULT_SCHEDULER.to_string();
        }
    }
    if ps.cmd == Cmd::StartDaemon && ps.daemon.ifn.is_empty() {
        ps.daemon.ifn = DEFAULT_MCAST_IFN.to_string();
    }
    if matches!(ps.cmd, Cmd::AddDest | Cmd::EditDest) {
        if ps.svc.fwmark == 0 && matches!(ps.dest.fwd, Fwd::Tunnel | Fwd::Route) {
            ps.dest.port = ps.svc.port;
        }
        let dest_family = ps.dest.addr.as_ref().map(Family::of);
        let svc_family = ps.svc.family;
        if dest_family != svc_family && ps.dest.fwd != Fwd::Tunnel {
            return Err(fail(
                "Different address family is allowed only for tunneling servers",
            ));
        }
        let tun_opts = [
            o::TUN_TYPE,
            o::TUN_PORT,
            o::TUN_NOCSUM,
            o::TUN_CSUM,
            o::TUN_REMCSUM,
        ];
        if tun_opts.iter().any(|&k| ps.has(k)) && ps.dest.fwd != Fwd::Tunnel {
            return Err(fail("Tunnel options conflict with forward method"));
        }
        ps.check_tunnel()?;
    }

    let key = ps.service_key();
    let need_key = || key.ok_or_else(|| fail("illegal virtual server address[:port] specified"));
    let need_dest = || {
        ps.dest_spec()
            .ok_or_else(|| fail("illegal real server address[:port] specified"))
    };
    Ok(match ps.cmd {
        Cmd::List => {
            let (c, t, d) = (ps.has(o::CONNECTION), ps.has(o::TIMEOUT), ps.has(o::DAEMON));
            let (st, rt, th, pc) = (
                ps.has(o::STATS),
                ps.has(o::RATE),
                ps.has(o::THRESHOLDS),
                ps.has(o::PERSISTENTCONN),
            );
            if ((c || t || d) && (st || rt || th)) || ((t || d) && pc) {
                return Err(fail("options conflicts in the list command"));
            }
            let what = if c {
                ListWhat::Connections
            } else if let Some(k) = key {
                ListWhat::Service(k)
            } else if t {
                ListWhat::Timeout
            } else if d {
                ListWhat::Daemon
            } else {
                ListWhat::All
            };
            Action::List(what, ps.format)
        }
        Cmd::Restore => Action::Restore,
        Cmd::Save => Action::Save(Format {
            rule: true,
            ..ps.format
        }),
        Cmd::Flush => Action::Change(Request::Flush),
        Cmd::Add => Action::Change(Request::AddService(ps.service_spec(need_key()?, flags))),
        Cmd::Edit => Action::Change(Request::EditService(ps.service_spec(need_key()?, flags))),
        Cmd::Del => Action::Change(Request::DelService(need_key()?)),
        Cmd::Zero => Action::Change(Request::Zero(key)),
        Cmd::AddDest => Action::Change(Request::AddDest {
            service: need_key()?,
            dest: need_dest()?,
        }),
        Cmd::EditDest => Action::Change(Request::EditDest {
            service: need_key()?,
            dest: need_dest()?,
        }),
        Cmd::DelDest => {
            let d = need_dest()?;
            Action::Change(Request::DelDest {
                service: need_key()?,
                dest: DestKey {
                    addr: d.addr,
                    port: d.port,
                },
            })
        }
        Cmd::Timeout => Action::Change(Request::SetTimeouts(ps.timeouts)),
        Cmd::StartDaemon => Action::Change(Request::StartDaemon(DaemonConfig {
            state: ps.daemon.state,
            mcast_ifn: ps.daemon.ifn.clone(),
            syncid: ps.daemon.syncid,
            sync_maxlen: ps.daemon.maxlen,
            mcast_group: ps.daemon.group,
            mcast_port: ps.daemon.port,
            mcast_ttl: ps.daemon.ttl,
        })),
        Cmd::StopDaemon => Action::Change(Request::StopDaemon(ps.daemon.state)),
    })
}
