//! Virtual services: identity, flags and configuration.
//!
//! Mirrors `struct ip_vs_service` / `ip_vs_service_user_kern` and the uapi
//! flag values (`include/uapi/linux/ip_vs.h`).

use std::fmt;
use std::net::IpAddr;

use crate::addr::Af;

/// Transport protocol of a virtual service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    /// TCP (6).
    Tcp,
    /// UDP (17).
    Udp,
    /// SCTP (132).
    Sctp,
}

impl Protocol {
    /// IP protocol number.
    pub const fn number(self) -> u8 {
        match self {
            Protocol::Tcp => 6,
            Protocol::Udp => 17,
            Protocol::Sctp => 132,
        }
    }

    /// From an IP protocol number.
    pub const fn from_number(n: u8) -> Option<Protocol> {
        match n {
            6 => Some(Protocol::Tcp),
            17 => Some(Protocol::Udp),
            132 => Some(Protocol::Sctp),
            _ => None,
        }
    }

    /// Name as ipvsadm prints it (`TCP`, `UDP`, `SCTP`).
    pub const fn name(self) -> &'static str {
        match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
            Protocol::Sctp => "SCTP",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Identity of a virtual service: `<protocol, VIP, port>` (port 0 = all
/// ports) or a firewall mark per address family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ServiceKey {
    /// `-t`/`-u`/`--sctp-service VIP:port`.
    Addr {
        /// Transport protocol.
        proto: Protocol,
        /// Virtual address.
        addr: IpAddr,
        /// Virtual port (0 = all ports).
        port: u16,
    },
    /// `-f MARK [-6]`.
    Fwmark {
        /// Address family of the service.
        af: Af,
        /// Firewall mark (> 0).
        mark: u32,
    },
}

impl ServiceKey {
    /// Address family of the service.
    pub fn af(&self) -> Af {
        match self {
            ServiceKey::Addr { addr, .. } => Af::of(addr),
            ServiceKey::Fwmark { af, .. } => *af,
        }
    }

    /// Virtual port (0 for fwmark services).
    pub fn port(&self) -> u16 {
        match self {
            ServiceKey::Addr { port, .. } => *port,
            ServiceKey::Fwmark { .. } => 0,
        }
    }
}

/// Service flags (`IP_VS_SVC_F_*`), kept as the kernel's bit values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ServiceFlags(pub u32);

impl ServiceFlags {
    /// `IP_VS_SVC_F_PERSISTENT`.
    pub const PERSISTENT: u32 = 0x1;
    /// `IP_VS_SVC_F_HASHED` (internal; never stored here).
    pub const HASHED: u32 = 0x2;
    /// `IP_VS_SVC_F_ONEPACKET` (`-o`).
    pub const ONEPACKET: u32 = 0x4;
    /// `IP_VS_SVC_F_SCHED1` (sh-fallback / mh-fallback).
    pub const SCHED1: u32 = 0x8;
    /// `IP_VS_SVC_F_SCHED2` (sh-port / mh-port).
    pub const SCHED2: u32 = 0x10;
    /// `IP_VS_SVC_F_SCHED3`.
    pub const SCHED3: u32 = 0x20;
    /// `sh-fallback` alias of SCHED1.
    pub const SH_FALLBACK: u32 = Self::SCHED1;
    /// `sh-port` alias of SCHED2.
    pub const SH_PORT: u32 = Self::SCHED2;
    /// `mh-fallback` alias of SCHED1.
    pub const MH_FALLBACK: u32 = Self::SCHED1;
    /// `mh-port` alias of SCHED2.
    pub const MH_PORT: u32 = Self::SCHED2;

    /// Whether all bits of `bit` are set.
    pub const fn has(self, bit: u32) -> bool {
        self.0 & bit == bit
    }
}

/// Default persistence timeout of ipvsadm/libipvs (`-p` without a value).
pub const DEFAULT_PERSISTENT_TIMEOUT: u32 = 360;

/// What the user configures for a service (`ipvsadm -A/-E`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceConfig {
    /// Identity.
    pub key: ServiceKey,
    /// Scheduler name (`rr`, `wrr`, ... `twos`).
    pub scheduler: String,
    /// Flags (persistent, one-packet, scheduler flags).
    pub flags: ServiceFlags,
    /// Persistence timeout in seconds (meaningful when persistent).
    pub timeout: u32,
    /// Persistence granularity: IPv4 netmask in host order, or IPv6 prefix
    /// length.
    pub netmask: u32,
    /// Persistence engine name (`sip`), if any.
    pub pe_name: Option<String>,
}

impl ServiceConfig {
    /// A service with ipvsadm's defaults (`wlc`, not persistent, /32 or /128).
    pub fn new(key: ServiceKey) -> ServiceConfig {
        let netmask = match key.af() {
            Af::Inet => u32::MAX,
            Af::Inet6 => 128,
        };
        ServiceConfig {
            key,
            scheduler: "wlc".to_owned(),
            flags: ServiceFlags::default(),
            timeout: 0,
            netmask,
            pe_name: None,
        }
    }

    /// Builder: scheduler name.
    pub fn with_scheduler(mut self, name: &str) -> Self {
        name.clone_into(&mut self.scheduler);
        self
    }

    /// Builder: persistent with `timeout` seconds.
    pub fn with_persistence(mut self, timeout: u32) -> Self {
        self.flags.0 |= ServiceFlags::PERSISTENT;
        self.timeout = timeout;
        self
    }

    /// Builder: extra flag bits.
    pub fn with_flags(mut self, bits: u32) -> Self {
        self.flags.0 |= bits;
        self
    }

    /// Whether the service is persistent.
    pub fn is_persistent(&self) -> bool {
        self.flags.has(ServiceFlags::PERSISTENT)
    }
}

/// Stable handle of a service inside an [`crate::Ipvs`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServiceId(pub u32);
