//! Data carried by requests and responses: services, destinations, counters,
//! connections, timeouts, sync daemons.
//!
//! The shapes follow what the kernel's control interface (genetlink family
//! `IPVS`, `include/uapi/linux/ip_vs.h`) exchanges with ipvsadm, so that an
//! ipvsadm-compatible client can print exactly what ipvsadm prints. Field
//! values keep the kernel's meaning (e.g. [`ServiceSpec::netmask`] is a dotted
//! mask for IPv4 and a prefix length for IPv6, as in `ip_vs_service_user`).

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// Address family of a service or destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// IPv4 (`AF_INET` = 2).
    Inet,
    /// IPv6 (`AF_INET6` = 10).
    Inet6,
}

impl Family {
    /// The Linux `AF_*` number.
    pub fn af(self) -> u16 {
        match self {
            Family::Inet => 2,
            Family::Inet6 => 10,
        }
    }

    /// The family of an address.
    pub fn of(addr: &IpAddr) -> Family {
        match addr {
            IpAddr::V4(_) => Family::Inet,
            IpAddr::V6(_) => Family::Inet6,
        }
    }
}

/// Transport protocol of an address-based virtual service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// TCP (6), `-t`.
    Tcp,
    /// UDP (17), `-u`.
    Udp,
    /// SCTP (132), `--sctp-service`.
    Sctp,
}

impl Protocol {
    /// IANA protocol number.
    pub fn number(self) -> u16 {
        match self {
            Protocol::Tcp => 6,
            Protocol::Udp => 17,
            Protocol::Sctp => 132,
        }
    }

    /// Upper-case name as ipvsadm prints it (`TCP`, `UDP`, `SCTP`).
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
            Protocol::Sctp => "SCTP",
        }
    }
}

/// Identity of a virtual service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceKey {
    /// `<protocol, VIP, port>`; port 0 means every port (persistent services only).
    Addr {
        /// Transport protocol.
        protocol: Protocol,
        /// Virtual address.
        addr: IpAddr,
        /// Virtual port.
        port: u16,
    },
    /// Firewall-mark service (`-f`, with `-6` for IPv6).
    Fwmark {
        /// The mark (> 0).
        mark: u32,
        /// Address family of the service.
        family: Family,
    },
}

impl ServiceKey {
    /// Address family of the service.
    pub fn family(&self) -> Family {
        match self {
            ServiceKey::Addr { addr, .. } => Family::of(addr),
            ServiceKey::Fwmark { family, .. } => *family,
        }
    }

    /// The protocol of an address service, `None` for a fwmark service.
    pub fn protocol(&self) -> Option<Protocol> {
        match self {
            ServiceKey::Addr { protocol, .. } => Some(*protocol),
            ServiceKey::Fwmark { .. } => None,
        }
    }

    /// The virtual port (0 for a fwmark service).
    pub fn port(&self) -> u16 {
        match self {
            ServiceKey::Addr { port, .. } => *port,
            ServiceKey::Fwmark { .. } => 0,
        }
    }
}

/// Scheduler flags `IP_VS_SVC_F_SCHED1..3` (`-b`). Their names depend on the
/// scheduler: for sh `sh-fallback`/`sh-port`, for mh `mh-fallback`/`mh-port`,
/// otherwise `flag-1`..`flag-3`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct SchedFlags {
    /// `IP_VS_SVC_F_SCHED1` (0x08): sh-fallback / mh-fallback / flag-1.
    pub flag1: bool,
    /// `IP_VS_SVC_F_SCHED2` (0x10): sh-port / mh-port / flag-2.
    pub flag2: bool,
    /// `IP_VS_SVC_F_SCHED3` (0x20): flag-3.
    pub flag3: bool,
}

impl SchedFlags {
    /// True when no flag is set.
    pub fn is_empty(&self) -> bool {
        !(self.flag1 || self.flag2 || self.flag3)
    }
}

/// Configuration of a virtual service, as `-A`/`-E` send it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceSpec {
    /// Identity.
    pub key: ServiceKey,
    /// Scheduler name (`-s`, ipvsadm default `wlc`), at most 15 bytes.
    pub scheduler: String,
    /// `IP_VS_SVC_F_PERSISTENT` (`-p`).
    pub persistent: bool,
    /// Persistence timeout in seconds (meaningful when `persistent`).
    pub timeout: u32,
    /// Persistence granularity: for IPv4 the mask as a host-order integer
    /// (`0xffffffff` = /32), for IPv6 the prefix length (128 = none).
    pub netmask: u32,
    /// `IP_VS_SVC_F_ONEPACKET` (`-o`).
    pub ops: bool,
    /// Scheduler flags (`-b`).
    pub sched_flags: SchedFlags,
    /// Persistence engine (`--pe`), e.g. `sip`.
    pub pe_name: Option<String>,
}

/// Tunnel encapsulation of a `-i` destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TunnelType {
    /// IP-in-IP, the default.
    #[default]
    Ipip,
    /// Generic UDP Encapsulation (needs a port).
    Gue,
    /// GRE.
    Gre,
}

impl TunnelType {
    /// Name as ipvsadm prints it.
    pub fn name(self) -> &'static str {
        match self {
            TunnelType::Ipip => "ipip",
            TunnelType::Gue => "gue",
            TunnelType::Gre => "gre",
        }
    }
}

/// Tunnel checksum option (`IP_VS_TUNNEL_ENCAP_FLAG_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TunnelCsum {
    /// `--tun-nocsum`, the default.
    #[default]
    NoCsum,
    /// `--tun-csum`.
    Csum,
    /// `--tun-remcsum` (GUE only).
    RemCsum,
}

/// Tunnel parameters of a tunnel destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct TunnelSpec {
    /// Encapsulation.
    pub kind: TunnelType,
    /// GUE destination port, 0 when not used.
    pub port: u16,
    /// Checksum option.
    pub csum: TunnelCsum,
}

/// Forwarding method (`IP_VS_CONN_F_FWD_MASK`), plus FULLNAT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FwdMethod {
    /// NAT (`-m`).
    Masq,
    /// Local delivery (the kernel's LOCALNODE; reported, never requested).
    Local,
    /// Tunnel (`-i` and the tunnel options).
    Tunnel(TunnelSpec),
    /// Direct routing (`-g`, the default).
    Route,
    /// Full NAT (lvs-rs extension, `--fullnat`).
    FullNat,
}

/// Identity of a destination inside its service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DestKey {
    /// Real server address.
    pub addr: IpAddr,
    /// Real server port.
    pub port: u16,
}

/// Configuration of a real server, as `-a`/`-e` send it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DestSpec {
    /// Real server address (may differ in family from the service for tunnels).
    pub addr: IpAddr,
    /// Real server port.
    pub port: u16,
    /// Forwarding method.
    pub fwd: FwdMethod,
    /// Weight (ipvsadm accepts 0..=65535 on the command line).
    pub weight: i32,
    /// Upper connection threshold (`-x`), 0 = none.
    pub u_threshold: u32,
    /// Lower connection threshold (`-y`), 0 = none.
    pub l_threshold: u32,
}

impl DestSpec {
    /// The destination's identity.
    pub fn key(&self) -> DestKey {
        DestKey {
            addr: self.addr,
            port: self.port,
        }
    }
}

/// Counters and rates of a service, a destination or the whole table
/// (`struct ip_vs_stats64` plus the estimator's rates).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Stats {
    /// Connections scheduled.
    pub conns: u64,
    /// Packets in.
    pub inpkts: u64,
    /// Packets out.
    pub outpkts: u64,
    /// Bytes in.
    pub inbytes: u64,
    /// Bytes out.
    pub outbytes: u64,
    /// Connections per second (estimator).
    pub cps: u64,
    /// Packets in per second.
    pub inpps: u64,
    /// Packets out per second.
    pub outpps: u64,
    /// Bytes in per second.
    pub inbps: u64,
    /// Bytes out per second.
    pub outbps: u64,
}

/// A destination as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DestEntry {
    /// Configuration.
    pub spec: DestSpec,
    /// Active connections.
    pub active_conns: u32,
    /// Inactive connections.
    pub inact_conns: u32,
    /// Persistence templates pointing at this destination.
    pub persist_conns: u32,
    /// Counters.
    pub stats: Stats,
}

/// A virtual service as listed, with its destinations in the daemon's order
/// (the kernel keeps them newest first).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceEntry {
    /// Configuration.
    pub spec: ServiceSpec,
    /// Counters.
    pub stats: Stats,
    /// Destinations.
    pub dests: Vec<DestEntry>,
}

/// Protocol column of a connection entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConnProtocol {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
    /// SCTP.
    Sctp,
    /// IPPROTO_IP: the templates of fwmark services.
    Ip,
}

impl ConnProtocol {
    /// Name as `/proc/net/ip_vs_conn` (and so `ipvsadm -c`) prints it.
    pub fn name(self) -> &'static str {
        match self {
            ConnProtocol::Tcp => "TCP",
            ConnProtocol::Udp => "UDP",
            ConnProtocol::Sctp => "SCTP",
            ConnProtocol::Ip => "IP",
        }
    }
}

/// One entry of the connection table (a connection or a persistence template),
/// with the fields `/proc/net/ip_vs_conn` shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnEntry {
    /// Protocol.
    pub protocol: ConnProtocol,
    /// Client address (masked for templates).
    pub caddr: IpAddr,
    /// Client port (0 for templates).
    pub cport: u16,
    /// Virtual address; for a fwmark template the mark as an IPv4 address
    /// (as the kernel stores it).
    pub vaddr: IpAddr,
    /// Virtual port.
    pub vport: u16,
    /// Destination address.
    pub daddr: IpAddr,
    /// Destination port.
    pub dport: u16,
    /// State name as the kernel prints it (`ESTABLISHED`, `TIME_WAIT`, `UDP`,
    /// `NONE`, `ASSURED`, `C-SENT`, ...).
    pub state: String,
    /// Seconds until expiry.
    pub expires: u32,
    /// Persistence engine name, when the entry carries PE data.
    pub pe_name: Option<String>,
    /// Persistence engine data (e.g. a SIP Call-ID).
    pub pe_data: Option<String>,
}

/// The three timeouts `--set` changes (seconds; 0 = leave unchanged).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Timeouts {
    /// TCP ESTABLISHED.
    pub tcp: u32,
    /// TCP FIN_WAIT.
    pub tcp_fin: u32,
    /// UDP.
    pub udp: u32,
}

/// Role of a connection-sync daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DaemonState {
    /// Sends connection updates.
    Master,
    /// Receives them.
    Backup,
}

impl DaemonState {
    /// Name as ipvsadm prints it.
    pub fn name(self) -> &'static str {
        match self {
            DaemonState::Master => "master",
            DaemonState::Backup => "backup",
        }
    }
}

/// Sync daemon parameters (`--start-daemon` options). `None` / empty lets the
/// daemon apply its default, as the kernel does for zero values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaemonConfig {
    /// Role.
    pub state: DaemonState,
    /// Multicast interface (ipvsadm default `eth0`).
    pub mcast_ifn: String,
    /// Sync id 0..=255 (0 = accept all on a backup).
    pub syncid: u8,
    /// Maximum sync message length.
    pub sync_maxlen: Option<u16>,
    /// Multicast group.
    pub mcast_group: Option<IpAddr>,
    /// Multicast UDP port.
    pub mcast_port: Option<u16>,
    /// Multicast TTL.
    pub mcast_ttl: Option<u8>,
}

/// A running sync daemon as listed by `--daemon`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaemonEntry {
    /// Role.
    pub state: DaemonState,
    /// Multicast interface.
    pub mcast_ifn: String,
    /// Sync id.
    pub syncid: u8,
    /// Maximum sync message length, when reported.
    pub sync_maxlen: Option<u16>,
    /// Multicast group, when reported.
    pub mcast_group: Option<IpAddr>,
    /// Multicast port, when reported.
    pub mcast_port: Option<u16>,
    /// Multicast TTL, when reported.
    pub mcast_ttl: Option<u8>,
}

/// What `GET_INFO` reports: the IPVS version ipvsadm prints in its banner
/// and the connection hash table size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Info {
    /// Version code, `(major << 16) | (minor << 8) | patch`; the kernel reports
    /// 1.2.1 (`0x010201`).
    pub version: u32,
    /// Connection table size (`size=` in the banner; the kernel's default 4096).
    pub conn_tab_size: u32,
}

impl Info {
    /// The kernel's IPVS version, 1.2.1.
    pub const KERNEL_VERSION: u32 = 0x01_02_01;

    /// `(major, minor, patch)` of [`Info::version`].
    pub fn version_triple(&self) -> (u32, u32, u32) {
        (
            (self.version >> 16) & 0xff,
            (self.version >> 8) & 0xff,
            self.version & 0xff,
        )
    }
}
