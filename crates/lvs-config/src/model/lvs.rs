//! Virtual servers, groups and real servers.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use super::{Checker, Script};
use crate::diag::Location;

/// `persistence_timeout` without a value, and the timeout keepalived sets
/// for port-less services (`IPVS_SVC_PERSISTENT_TIMEOUT`), in seconds.
pub const DEFAULT_PERSISTENCE_TIMEOUT: u32 = 360;

/// Transport protocol of an address virtual server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
    /// SCTP.
    Sctp,
}

impl Protocol {
    /// Name as keepalived and ipvsadm print it.
    pub const fn name(self) -> &'static str {
        match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
            Protocol::Sctp => "SCTP",
        }
    }
}

/// Address family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    /// `inet`.
    Inet,
    /// `inet6`.
    Inet6,
}

impl Family {
    /// Family of an address.
    pub fn of(addr: &IpAddr) -> Family {
        match addr {
            IpAddr::V4(_) => Family::Inet,
            IpAddr::V6(_) => Family::Inet6,
        }
    }
}

/// The IPVS schedulers (`lvs_sched` / `lb_algo`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheduler {
    /// Round robin.
    Rr,
    /// Weighted round robin.
    Wrr,
    /// Least connection.
    Lc,
    /// Weighted least connection (keepalived's default).
    Wlc,
    /// Locality-based least connection.
    Lblc,
    /// LBLC with replication.
    Lblcr,
    /// Destination hashing.
    Dh,
    /// Source hashing.
    Sh,
    /// Shortest expected delay.
    Sed,
    /// Never queue.
    Nq,
    /// Maglev hashing.
    Mh,
    /// Weighted failover.
    Fo,
    /// Weighted overflow.
    Ovf,
    /// Power of two choices (Linux 6.17; not in keepalived 2.2.7's list).
    Twos,
}

impl Scheduler {
    /// All schedulers, in keepalived's documented order.
    pub const ALL: [Scheduler; 14] = [
        Scheduler::Rr,
        Scheduler::Wrr,
        Scheduler::Lc,
        Scheduler::Wlc,
        Scheduler::Lblc,
        Scheduler::Sh,
        Scheduler::Mh,
        Scheduler::Dh,
        Scheduler::Fo,
        Scheduler::Ovf,
        Scheduler::Lblcr,
        Scheduler::Sed,
        Scheduler::Nq,
        Scheduler::Twos,
    ];

    /// Kernel name.
    pub const fn name(self) -> &'static str {
        match self {
            Scheduler::Rr => "rr",
            Scheduler::Wrr => "wrr",
            Scheduler::Lc => "lc",
            Scheduler::Wlc => "wlc",
            Scheduler::Lblc => "lblc",
            Scheduler::Lblcr => "lblcr",
            Scheduler::Dh => "dh",
            Scheduler::Sh => "sh",
            Scheduler::Sed => "sed",
            Scheduler::Nq => "nq",
            Scheduler::Mh => "mh",
            Scheduler::Fo => "fo",
            Scheduler::Ovf => "ovf",
            Scheduler::Twos => "twos",
        }
    }

    /// From the kernel name (case-sensitive, as keepalived).
    pub fn from_name(name: &str) -> Option<Scheduler> {
        Scheduler::ALL.into_iter().find(|s| s.name() == name)
    }
}

impl fmt::Display for Scheduler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Scheduler flags (`ipvsadm -b`), as the kernel's bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SchedFlags(pub u32);

impl SchedFlags {
    /// `flag-1` (`IP_VS_SVC_F_SCHED1`; `sh-fallback`, `mh-fallback`).
    pub const FLAG_1: u32 = 0x08;
    /// `flag-2` (`IP_VS_SVC_F_SCHED2`; `sh-port`, `mh-port`).
    pub const FLAG_2: u32 = 0x10;
    /// `flag-3` (`IP_VS_SVC_F_SCHED3`).
    pub const FLAG_3: u32 = 0x20;

    /// Whether all bits of `bits` are set.
    pub const fn has(self, bits: u32) -> bool {
        self.0 & bits == bits
    }
}

/// Tunnel encapsulation of `lvs_method TUN [type ...]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TunnelType {
    /// IP in IP (default).
    #[default]
    Ipip,
    /// GUE to the given UDP port.
    Gue {
        /// Destination port (1..=65535).
        port: u16,
    },
    /// GRE.
    Gre,
}

/// Tunnel checksum option.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TunnelCsum {
    /// `nocsum` (default).
    #[default]
    NoCsum,
    /// `csum` (GUE, GRE).
    Csum,
    /// `remcsum` (GUE only).
    RemCsum,
}

/// `lvs_method` / `lb_kind`. keepalived's default is NAT (ipvsadm's is DR).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LvsMethod {
    /// `NAT` (masquerading).
    Nat,
    /// `DR` (direct routing).
    Dr,
    /// `TUN [type {ipip|gue port N|gre} [nocsum|csum|remcsum]]`.
    Tun {
        /// Encapsulation.
        kind: TunnelType,
        /// Checksum option.
        csum: TunnelCsum,
    },
    /// `FNAT` (lvs-rs extension: full NAT, source rewritten to a director
    /// address, after DPVS).
    FullNat,
}

/// Address of a virtual server.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum VsKey {
    /// `virtual_server IP [PORT]` (port 0 = all ports, persistent only).
    Addr {
        /// Virtual address.
        addr: IpAddr,
        /// Virtual port.
        port: u16,
    },
    /// `virtual_server fwmark N`.
    Fwmark(u32),
    /// `virtual_server group NAME`.
    Group(String),
}

impl fmt::Display for VsKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VsKey::Addr {
                addr: IpAddr::V6(a),
                port,
            } => write!(f, "[{a}]:{port}"),
            VsKey::Addr { addr, port } => write!(f, "{addr}:{port}"),
            VsKey::Fwmark(m) => write!(f, "fwmark {m}"),
            VsKey::Group(g) => write!(f, "group {g}"),
        }
    }
}

/// `persistence_granularity`: an IPv4 netmask or an IPv6 prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Granularity {
    /// IPv4 netmask (need not be contiguous, like ipvsadm `-M`).
    V4(Ipv4Addr),
    /// IPv6 prefix length 1..=128.
    V6(u8),
}

/// Health-check timing settings written at one level (virtual server, real
/// server or checker); unset values inherit from the level above.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CheckDefaults {
    /// `connect_timeout` (default 5 s).
    pub connect_timeout: Option<Duration>,
    /// `retry` (default 1; DNS_CHECK 3; MISC_CHECK 0).
    pub retry: Option<u32>,
    /// `delay_before_retry` (default 3 s HTTP/SSL, delay_loop DNS, 1 s
    /// others).
    pub delay_before_retry: Option<Duration>,
    /// `warmup` (default delay_loop).
    pub warmup: Option<Duration>,
    /// `delay_loop` (default 60 s).
    pub delay_loop: Option<Duration>,
}

/// `virtual_server_group NAME { ... }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VirtualServerGroup {
    /// Where it is.
    pub location: Location,
    /// Name.
    pub name: String,
    /// Entries in file order.
    pub entries: Vec<VsgEntry>,
}

/// One line of a virtual server group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VsgEntry {
    /// `IP [PORT]`, `IP-LAST`, `IP-IP`, `IP/LEN`, each with an optional port.
    /// Every address from `first` to `last` (inclusive) becomes a service.
    Range {
        /// First address.
        first: IpAddr,
        /// Last address (same family, `>= first`).
        last: IpAddr,
        /// Port (0 = none: the virtual server must be persistent).
        port: u16,
    },
    /// `fwmark N [inet|inet6]`.
    Fwmark {
        /// Mark.
        mark: u32,
        /// Family, when written.
        family: Option<Family>,
    },
}

impl VsgEntry {
    /// Number of addresses a range covers (saturating).
    pub fn len(&self) -> u128 {
        match self {
            VsgEntry::Range { first, last, .. } => {
                (addr_to_u128(last) - addr_to_u128(first)).saturating_add(1)
            }
            VsgEntry::Fwmark { .. } => 1,
        }
    }

    /// Whether the entry covers nothing (never true for a parsed entry).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The addresses of a range entry, in order (empty for a fwmark).
    pub fn addresses(&self) -> impl Iterator<Item = IpAddr> + '_ {
        let (lo, hi, v6) = match self {
            VsgEntry::Range { first, last, .. } => {
                (addr_to_u128(first), addr_to_u128(last), first.is_ipv6())
            }
            VsgEntry::Fwmark { .. } => (1, 0, false),
        };
        (lo..=hi).map(move |n| {
            if v6 {
                IpAddr::V6(Ipv6Addr::from(n))
            } else {
                IpAddr::V4(Ipv4Addr::from(u32::try_from(n).unwrap_or(u32::MAX)))
            }
        })
    }
}

pub(crate) fn addr_to_u128(a: &IpAddr) -> u128 {
    match a {
        IpAddr::V4(v) => u128::from(u32::from(*v)),
        IpAddr::V6(v) => u128::from(*v),
    }
}

/// `sorry_server IP [PORT]` with its options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SorryServer {
    /// Where it is.
    pub location: Location,
    /// Address.
    pub addr: IpAddr,
    /// Port (after loading: the virtual server's port unless NAT with an
    /// explicit port; 0 for fwmark services).
    pub port: u16,
    /// `sorry_server_inhibit`.
    pub inhibit: bool,
    /// `sorry_server_lvs_method` (after loading: the virtual server's method
    /// when not written).
    pub lvs_method: Option<LvsMethod>,
}

/// `virtual_server ... { ... }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VirtualServer {
    /// Where it is.
    pub location: Location,
    /// Address, fwmark or group.
    pub key: VsKey,
    /// `protocol` (after loading: UDP when an address service has none, as
    /// keepalived does; `None` for fwmark-only services, where it is
    /// ignored).
    pub protocol: Option<Protocol>,
    /// `ip_family` (or the family of the addresses).
    pub ip_family: Option<Family>,
    /// `lvs_sched` / `lb_algo` (after loading: `wlc` when not written).
    pub scheduler: Option<Scheduler>,
    /// `flag-1..3`, `sh-port`, `sh-fallback`, `mh-port`, `mh-fallback`.
    pub sched_flags: SchedFlags,
    /// `ops`: one-packet scheduling (UDP only).
    pub one_packet: bool,
    /// `hashed` (legacy, accepted and ignored by keepalived 2.x).
    pub hashed: bool,
    /// `lvs_method` / `lb_kind` (after loading: NAT when not written).
    pub lvs_method: Option<LvsMethod>,
    /// `persistence_engine` (`sip`).
    pub persistence_engine: Option<String>,
    /// `persistence_timeout [N]` in seconds (no value: 360). Set to 360 by
    /// `persistence_granularity` and by a port-less service.
    pub persistence_timeout: Option<u32>,
    /// `persistence_granularity`.
    pub persistence_granularity: Option<Granularity>,
    /// `ha_suspend`.
    pub ha_suspend: bool,
    /// `alpha`: real servers start down until a check passes.
    pub alpha: bool,
    /// `omega`: run quorum/RS-down notifiers at shutdown.
    pub omega: bool,
    /// `inhibit_on_failure`: weight 0 instead of removal.
    pub inhibit_on_failure: bool,
    /// `quorum` (default 1; after loading: at most the sum of the real
    /// servers' weights).
    pub quorum: u32,
    /// `hysteresis` (default 0; after loading: below `quorum`).
    pub hysteresis: u32,
    /// `quorum_up` script.
    pub quorum_up: Option<Script>,
    /// `quorum_down` script.
    pub quorum_down: Option<Script>,
    /// `weight`: default weight of the real servers (default 1).
    pub weight: u32,
    /// `virtualhost`: default Host header of HTTP checks.
    pub virtualhost: Option<String>,
    /// `smtp_alert [BOOL]`.
    pub smtp_alert: Option<bool>,
    /// `snmp_name`.
    pub snmp_name: Option<String>,
    /// `sorry_server`.
    pub sorry_server: Option<SorryServer>,
    /// Timing settings written at this level.
    pub check_defaults: CheckDefaults,
    /// `real_server` blocks in file order (duplicates removed).
    pub real_servers: Vec<RealServer>,
}

impl VirtualServer {
    /// A virtual server with keepalived's initial values.
    pub fn new(location: Location, key: VsKey) -> VirtualServer {
        VirtualServer {
            location,
            key,
            protocol: None,
            ip_family: None,
            scheduler: None,
            sched_flags: SchedFlags::default(),
            one_packet: false,
            hashed: false,
            lvs_method: None,
            persistence_engine: None,
            persistence_timeout: None,
            persistence_granularity: None,
            ha_suspend: false,
            alpha: false,
            omega: false,
            inhibit_on_failure: false,
            quorum: 1,
            hysteresis: 0,
            quorum_up: None,
            quorum_down: None,
            weight: 1,
            virtualhost: None,
            smtp_alert: None,
            snmp_name: None,
            sorry_server: None,
            check_defaults: CheckDefaults::default(),
            real_servers: Vec::new(),
        }
    }

    /// Whether the service is persistent.
    pub fn is_persistent(&self) -> bool {
        self.persistence_timeout.is_some()
    }
}

/// `real_server IP [PORT] { ... }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RealServer {
    /// Where it is.
    pub location: Location,
    /// Address.
    pub addr: IpAddr,
    /// Port as written (0 if none); after loading: the virtual server's port
    /// unless NAT with an explicit port, 0 for fwmark services.
    pub port: u16,
    /// `weight` (after loading: the virtual server's `weight` when not
    /// written).
    pub weight: Option<u32>,
    /// `lvs_method` (after loading: the virtual server's when not written).
    pub lvs_method: Option<LvsMethod>,
    /// `uthreshold` (= ipvsadm `-x`).
    pub uthreshold: Option<u32>,
    /// `lthreshold` (= ipvsadm `-y`).
    pub lthreshold: Option<u32>,
    /// `notify_up` script.
    pub notify_up: Option<Script>,
    /// `notify_down` script.
    pub notify_down: Option<Script>,
    /// `inhibit_on_failure [BOOL]` (after loading: the virtual server's when
    /// not written).
    pub inhibit_on_failure: Option<bool>,
    /// `alpha [BOOL]` (after loading: the virtual server's when not written).
    pub alpha: Option<bool>,
    /// `smtp_alert [BOOL]`.
    pub smtp_alert: Option<bool>,
    /// `virtualhost`.
    pub virtualhost: Option<String>,
    /// `snmp_name`.
    pub snmp_name: Option<String>,
    /// Timing settings written at this level.
    pub check_defaults: CheckDefaults,
    /// Health checkers.
    pub checkers: Vec<Checker>,
}

impl RealServer {
    /// A real server with nothing set.
    pub fn new(location: Location, addr: IpAddr, port: u16) -> RealServer {
        RealServer {
            location,
            addr,
            port,
            weight: None,
            lvs_method: None,
            uthreshold: None,
            lthreshold: None,
            notify_up: None,
            notify_down: None,
            inhibit_on_failure: None,
            alpha: None,
            smtp_alert: None,
            virtualhost: None,
            snmp_name: None,
            check_defaults: CheckDefaults::default(),
            checkers: Vec::new(),
        }
    }
}
