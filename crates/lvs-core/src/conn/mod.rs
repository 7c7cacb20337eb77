//! The connection table: connection entries and persistence templates,
//! both directions indexed, protocol state machines, per-state timeouts, a
//! timer wheel, and the sysctls that steer them.
//!
//! Contract:
//! - connections are created, looked up, refreshed and expired only
//!   through [`crate::Ipvs`] (`conn_in`, `conn_out`, `expire`,
//!   `insert_synced`, in `ipvs/flow.rs`), which keeps destination counters
//!   (`activeconns`, `inactconns`, `persistconns`, OVERLOAD) and
//!   destination references in step with the table;
//! - time is the caller's `now` in milliseconds; an entry's deadline is
//!   `last packet + timeout of its state`, as the kernel's `mod_timer` on
//!   every packet makes it;
//! - nothing allocates per packet on lookup; creating a connection may
//!   grow the slab or an index (amortised).
//!
//! Kernel behaviour mirrored (`ip_vs_conn.c`):
//! - a new connection starts in state NONE with a 3 s timeout and the
//!   destination's connection flags (forwarding method, `NOOUTPUT` unless
//!   NAT, `INACTIVE`), so it is first counted *inactive*; its first state
//!   transition moves it to *active* when the state is an active one;
//! - a template (`IP_VS_CONN_F_TEMPLATE`) counts in `persistconns`, lives
//!   for the service's persistence timeout after its last use, and is not
//!   expired while it controls connections (`n_control > 0`): its timer is
//!   re-armed for 60 s instead, and the 60 s stay its timeout;
//! - expiring a connection unbinds it from its destination (OVERLOAD
//!   hysteresis), drops the destination reference and decrements its
//!   template's `n_control`;
//! - one-packet (`-o`, UDP) connections are never inserted.
//!
//! Where we differ: the kernel keeps one hash keyed by the client address
//! and port and walks its chain for both directions; we keep a client-side
//! and a reply-side index (see `conn/table.rs`). IPv4 and IPv6 have separate
//! tables with compact entries: **68 bytes per IPv4 entry** plus one
//! 8-byte index bucket (two for NAT) at ≤ 3/4 load.

use std::net::IpAddr;

use crate::addr::Af;
use crate::dest::{DestId, FwdMethod};
use crate::service::Protocol;
use crate::time::Time;

pub(crate) mod family;
pub(crate) mod hash;
pub(crate) mod index;
pub mod sctp;
pub mod sync_out;
pub(crate) mod table;
pub mod tcp;
pub mod udp;
pub(crate) mod wheel;

use family::{V4, V6};
use table::Table;

pub use sctp::SctpState;
pub use tcp::TcpState;

/// Connection flag bits (`IP_VS_CONN_F_*`, uapi values) and the internal
/// bits this crate keeps in the same 16-bit word.
pub mod flags {
    /// Forwarding method field.
    pub const FWD_MASK: u16 = 0x0007;
    /// NAT.
    pub const FWD_MASQ: u16 = 0x0000;
    /// Local node.
    pub const FWD_LOCAL: u16 = 0x0001;
    /// Tunnel.
    pub const FWD_TUNNEL: u16 = 0x0002;
    /// Direct routing.
    pub const FWD_ROUTE: u16 = 0x0003;
    /// Cache bypass.
    pub const FWD_BYPASS: u16 = 0x0004;
    /// FULLNAT (ours; no kernel value).
    pub const FWD_FULLNAT: u16 = 0x0005;
    /// Created by the sync daemon.
    pub const SYNC: u16 = 0x0020;
    /// In the (client-side) hash.
    pub const HASHED: u16 = 0x0040;
    /// Replies are not seen (every method but NAT/FULLNAT).
    pub const NOOUTPUT: u16 = 0x0080;
    /// Counted in `inactconns`.
    pub const INACTIVE: u16 = 0x0100;
    /// Client port unknown (FTP, sync). Not produced here.
    pub const NO_CPORT: u16 = 0x0800;
    /// Persistence template.
    pub const TEMPLATE: u16 = 0x1000;
    /// One-packet scheduling.
    pub const ONE_PACKET: u16 = 0x2000;

    /// Internal: daddr is of the other family (mixed-family tunnel); the
    /// destination's address applies.
    pub const MIXED_AF: u16 = 0x0008;
    /// Internal: in the reply-side index.
    pub const OUT_HASHED: u16 = 0x0010;
    /// Internal: free slab slot.
    pub const FREE: u16 = 0x4000;
    /// Bits that are the kernel's.
    pub const KERNEL: u16 = !(MIXED_AF | OUT_HASHED | FREE);
}

/// Template state numbers (`IP_VS_CTPL_S_*`).
pub mod template_state {
    /// Not yet confirmed by a controlled connection.
    pub const NONE: u8 = 0;
    /// A controlled connection reached ESTABLISHED (TCP, SCTP) or saw a
    /// reply (UDP).
    pub const ASSURED: u8 = 1;
}

/// Handle of a connection or template inside an [`crate::Ipvs`]. Valid
/// until the entry expires; slots are reused afterwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(u32);

impl ConnId {
    const V6: u32 = 1 << 31;

    pub(crate) fn new(af: Af, slot: u32) -> ConnId {
        match af {
            Af::Inet => ConnId(slot),
            Af::Inet6 => ConnId(slot | Self::V6),
        }
    }

    /// Address family.
    pub fn af(self) -> Af {
        if self.0 & Self::V6 != 0 {
            Af::Inet6
        } else {
            Af::Inet
        }
    }

    pub(crate) fn slot(self) -> u32 {
        self.0 & !Self::V6
    }
}

/// The sysctls that steer connection handling
/// (`/proc/sys/net/ipv4/vs/*`), with the kernel's defaults. `conntrack`
/// is taken as 0 (no netfilter conntrack): a reused connection is never
/// held back for an old conntrack entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sysctls {
    /// `conn_reuse_mode` (default 1): bit 0 reschedules a SYN that hits a
    /// TIME_WAIT/CLOSE connection, bit 1 also a FIN_WAIT one of a
    /// `NOOUTPUT` (DR/TUN) connection; 0 disables both.
    pub conn_reuse_mode: u32,
    /// `expire_nodest_conn` (default off).
    pub expire_nodest_conn: bool,
    /// `expire_quiescent_template` (default off).
    pub expire_quiescent_template: bool,
    /// `sloppy_tcp` (default off): any non-RST TCP packet may create a
    /// connection.
    pub sloppy_tcp: bool,
    /// `sloppy_sctp` (default off): any non-ABORT SCTP packet may create
    /// an association.
    pub sloppy_sctp: bool,
    /// `secure_tcp` (default 0): 0 off, 1/2 automatic (on while
    /// [`Sysctls::low_memory`]), 3 always; on means the `secure_tcp`
    /// state tables.
    pub secure_tcp: u8,
    /// Set by the shell when available memory is under `amemthresh`
    /// (arms the automatic defense modes).
    pub low_memory: bool,
}

impl Default for Sysctls {
    fn default() -> Self {
        Sysctls {
            conn_reuse_mode: 1,
            expire_nodest_conn: false,
            expire_quiescent_template: false,
            sloppy_tcp: false,
            sloppy_sctp: false,
            secure_tcp: 0,
            low_memory: false,
        }
    }
}

impl Sysctls {
    /// Whether the `secure_tcp` tables are in force.
    pub fn secure_tcp_active(&self) -> bool {
        self.secure_tcp >= 3 || (self.secure_tcp >= 1 && self.low_memory)
    }
}

/// Largest timeout `ipvsadm --set` accepts, in seconds (`INT_MAX / HZ`
/// with HZ = 250, Debian's kernels).
pub const MAX_SET_TIMEOUT: u32 = (i32::MAX as u32) / 250;

/// Per-state timeouts in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// TCP, by state number.
    pub tcp: [u32; tcp::STATES],
    /// UDP.
    pub udp: u32,
    /// SCTP, by state number.
    pub sctp: [u32; sctp::STATES],
}

impl Default for Timeouts {
    fn default() -> Self {
        let mut t = Timeouts {
            tcp: [0; tcp::STATES],
            udp: udp::DEFAULT_TIMEOUT,
            sctp: [0; sctp::STATES],
        };
        for (i, v) in t.tcp.iter_mut().enumerate() {
            *v = TcpState::from_u8(i as u8).map_or(2, TcpState::default_timeout);
        }
        for (i, v) in t.sctp.iter_mut().enumerate() {
            *v = SctpState::from_u8(i as u8).map_or(2, SctpState::default_timeout);
        }
        t
    }
}

impl Timeouts {
    /// `ipvsadm --set tcp tcpfin udp` (`ip_vs_set_timeout`): each nonzero
    /// value replaces the TCP ESTABLISHED, TCP FIN_WAIT or UDP timeout;
    /// values above [`MAX_SET_TIMEOUT`] are rejected (`EINVAL`).
    pub fn set(&mut self, tcp_secs: u32, tcpfin_secs: u32, udp_secs: u32) -> crate::Result<()> {
        if tcp_secs > MAX_SET_TIMEOUT || tcpfin_secs > MAX_SET_TIMEOUT || udp_secs > MAX_SET_TIMEOUT
        {
            return Err(crate::Error::Invalid("timeout out of range"));
        }
        if tcp_secs != 0 {
            self.tcp[TcpState::Established as usize] = tcp_secs;
        }
        if tcpfin_secs != 0 {
            self.tcp[TcpState::FinWait as usize] = tcpfin_secs;
        }
        if udp_secs != 0 {
            self.udp = udp_secs;
        }
        Ok(())
    }

    /// `(tcp, tcpfin, udp)` as `ipvsadm -L --timeout` prints them.
    pub fn get(&self) -> (u32, u32, u32) {
        (
            self.tcp[TcpState::Established as usize],
            self.tcp[TcpState::FinWait as usize],
            self.udp,
        )
    }

    /// Timeout of a connection state.
    pub fn for_state(&self, proto: u8, state: u8) -> u32 {
        let i = state as usize;
        match Protocol::from_number(proto) {
            Some(Protocol::Tcp) => self.tcp.get(i).copied().unwrap_or(2),
            Some(Protocol::Udp) => self.udp,
            Some(Protocol::Sctp) => self.sctp.get(i).copied().unwrap_or(2),
            None => 2,
        }
    }
}

/// Name of a state as `ipvsadm -Lc` prints it.
pub fn state_name(proto: u8, template: bool, state: u8) -> &'static str {
    if template {
        return match state {
            template_state::NONE => "NONE",
            template_state::ASSURED => "ASSURED",
            _ => "ERR!",
        };
    }
    match Protocol::from_number(proto) {
        Some(Protocol::Tcp) => TcpState::from_u8(state).map_or("ERR!", TcpState::name),
        Some(Protocol::Udp) => {
            if state == udp::NORMAL {
                udp::STATE_NAME
            } else {
                "ERR!"
            }
        }
        Some(Protocol::Sctp) => SctpState::from_u8(state).map_or("ERR!", SctpState::name),
        None => "NONE",
    }
}

/// Protocol name as the kernel's `ip_vs_proto_name` gives it (`IP` for
/// fwmark templates).
pub fn proto_name(proto: u8) -> &'static str {
    match Protocol::from_number(proto) {
        Some(p) => p.name(),
        None if proto == 0 => "IP",
        None => "?",
    }
}

/// What the datapath knows about a packet, as the per-packet entry points
/// need it. Addresses of both ends must be of one family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketMeta {
    /// Transport protocol.
    pub proto: Protocol,
    /// Source address.
    pub saddr: IpAddr,
    /// Source port.
    pub sport: u16,
    /// Destination address.
    pub daddr: IpAddr,
    /// Destination port.
    pub dport: u16,
    /// Firewall mark (`skb->mark`), if any.
    pub fwmark: Option<u32>,
    /// TCP flags byte ([`tcp::flags`]); ignored for other protocols.
    pub tcp_flags: u8,
    /// SCTP: type of the first chunk, or ABORT when a COOKIE ECHO / COOKIE
    /// ACK first chunk is followed by an ABORT ([`sctp::chunk`]).
    pub sctp_chunk: u8,
    /// Length of the IP packet in bytes (for the byte counters).
    pub len: u32,
}

impl PacketMeta {
    fn new(proto: Protocol, src: (IpAddr, u16), dst: (IpAddr, u16)) -> PacketMeta {
        PacketMeta {
            proto,
            saddr: src.0,
            sport: src.1,
            daddr: dst.0,
            dport: dst.1,
            fwmark: None,
            tcp_flags: 0,
            sctp_chunk: sctp::chunk::DATA,
            len: 0,
        }
    }

    /// A TCP segment with `flags`.
    pub fn tcp(src: (IpAddr, u16), dst: (IpAddr, u16), flags: u8) -> PacketMeta {
        PacketMeta {
            tcp_flags: flags,
            ..PacketMeta::new(Protocol::Tcp, src, dst)
        }
    }

    /// A UDP datagram.
    pub fn udp(src: (IpAddr, u16), dst: (IpAddr, u16)) -> PacketMeta {
        PacketMeta::new(Protocol::Udp, src, dst)
    }

    /// An SCTP packet whose (effective) first chunk is `chunk`.
    pub fn sctp(src: (IpAddr, u16), dst: (IpAddr, u16), chunk: u8) -> PacketMeta {
        PacketMeta {
            sctp_chunk: chunk,
            ..PacketMeta::new(Protocol::Sctp, src, dst)
        }
    }

    /// Builder: firewall mark.
    pub fn with_fwmark(mut self, mark: u32) -> Self {
        self.fwmark = Some(mark);
        self
    }

    /// Builder: packet length.
    pub fn with_len(mut self, len: u32) -> Self {
        self.len = len;
        self
    }
}

/// A client → server packet to forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InForward {
    /// The connection (`None` for a one-packet connection, which is not
    /// kept).
    pub conn: Option<ConnId>,
    /// Whether the connection was created by this packet.
    pub new: bool,
    /// Destination bound to the connection (`None` only for synced
    /// connections without a local destination).
    pub dest: Option<DestId>,
    /// Forwarding method (tunnel parameters from the destination).
    pub fwd: FwdMethod,
    /// Real server address.
    pub daddr: IpAddr,
    /// Real server port.
    pub dport: u16,
    /// FULLNAT: the director's local address and port to use as source.
    pub local: Option<(IpAddr, u16)>,
}

/// Why a packet is dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// The connection's destination was removed and `expire_nodest_conn`
    /// is off.
    DestUnavailable,
    /// FULLNAT: no free local address/port towards the real server.
    NoLocalPort,
    /// Addresses of two families in one packet.
    Malformed,
}

/// Verdict of [`crate::Ipvs::conn_in`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InVerdict {
    /// Forward on an existing or new connection.
    Forward(InForward),
    /// Not IPVS business (no service, not a connection-opening packet, or
    /// a client port the kernel never schedules): let the local stack have
    /// it.
    Pass,
    /// A service matched but no destination is available: answer ICMP
    /// (v6: ICMPv6) port unreachable and drop (`ip_vs_leave`).
    NoDest,
    /// Drop silently.
    Drop(DropReason),
}

/// A server → client packet to forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutForward {
    /// The connection.
    pub conn: ConnId,
    /// New source: the virtual address.
    pub vaddr: IpAddr,
    /// New source port: the virtual port.
    pub vport: u16,
    /// Destination: the client (differs from the packet's for FULLNAT).
    pub caddr: IpAddr,
    /// Destination port: the client's.
    pub cport: u16,
    /// The connection is FULLNAT: the destination is rewritten too (to
    /// `caddr:cport`); for NAT it is already the client.
    pub fullnat: bool,
}

/// Verdict of [`crate::Ipvs::conn_out`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutVerdict {
    /// A reply of a NAT/FULLNAT connection: rewrite and forward.
    Forward(OutForward),
    /// No connection: not IPVS business.
    Pass,
}

/// A connection or template as `ipvsadm -Lc` / `/proc/net/ip_vs_conn`
/// show it, plus the internals tests and sync need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnInfo {
    /// Handle.
    pub id: ConnId,
    /// Address family of the connection (the service's).
    pub af: Af,
    /// IP protocol number (0 for fwmark templates).
    pub protocol: u8,
    /// Client address (templates: masked).
    pub caddr: IpAddr,
    /// Client port (templates: 0).
    pub cport: u16,
    /// Virtual address (fwmark templates: the mark, as the kernel stores
    /// it).
    pub vaddr: IpAddr,
    /// Virtual port.
    pub vport: u16,
    /// Real server address.
    pub daddr: IpAddr,
    /// Real server port.
    pub dport: u16,
    /// FULLNAT local address and port.
    pub local: Option<(IpAddr, u16)>,
    /// State number.
    pub state: u8,
    /// Kernel flag bits (`IP_VS_CONN_F_*`).
    pub flags: u32,
    /// Firewall mark of the creating packet.
    pub fwmark: u32,
    /// Destination.
    pub dest: Option<DestId>,
    /// Controlling template.
    pub control: Option<ConnId>,
    /// Connections this one controls.
    pub n_control: u32,
    /// Client → server packets seen.
    pub in_pkts: u32,
    /// Current timeout in seconds.
    pub timeout: u32,
    /// Expiry instant.
    pub expires: Time,
}

impl ConnInfo {
    /// Whether it is a persistence template.
    pub fn is_template(&self) -> bool {
        self.flags & u32::from(flags::TEMPLATE) != 0
    }

    /// Protocol name (`TCP`, `UDP`, `SCTP`, `IP`).
    pub fn protocol_name(&self) -> &'static str {
        proto_name(self.protocol)
    }

    /// State name (`ESTABLISHED`, `UDP`, `ASSURED`, ...).
    pub fn state_name(&self) -> &'static str {
        state_name(self.protocol, self.is_template(), self.state)
    }

    /// Whole seconds left, as `/proc/net/ip_vs_conn` prints them.
    pub fn expires_in_secs(&self, now: Time) -> u64 {
        self.expires.0.saturating_sub(now.0) / 1000
    }

    /// Persistence engine name (none: no PE is implemented).
    pub fn pe_name(&self) -> Option<&'static str> {
        None
    }
}

/// A connection update received from a sync master (`ip_vs_proc_conn`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncedConn {
    /// IP protocol number (0 for fwmark templates).
    pub protocol: u8,
    /// Client address (family of the connection).
    pub caddr: IpAddr,
    /// Client port.
    pub cport: u16,
    /// Virtual address.
    pub vaddr: IpAddr,
    /// Virtual port.
    pub vport: u16,
    /// Real server address.
    pub daddr: IpAddr,
    /// Real server port.
    pub dport: u16,
    /// Kernel flag bits from the message.
    pub flags: u32,
    /// State number.
    pub state: u8,
    /// Timeout in seconds (v1 messages), or `None` (v0: the state's
    /// timeout, 3 min for templates).
    pub timeout: Option<u32>,
    /// Firewall mark.
    pub fwmark: u32,
}

/// FULLNAT local addresses, per family.
#[derive(Debug, Default, Clone)]
pub(crate) struct FullNatPool {
    pub v4: Vec<u32>,
    pub v6: Vec<[u32; 4]>,
    pub cursor: u32,
    /// This worker's share of the local ports: ports `p` with
    /// `p % workers == worker` (see [`crate::Ipvs::set_fullnat_worker`]).
    pub worker: u16,
    /// Number of workers sharing the local addresses (0 is taken as 1).
    pub workers: u16,
}

/// First local port FULLNAT allocates.
pub const FULLNAT_MIN_PORT: u16 = 1024;

/// Connection-table state of a director.
#[derive(Debug, Default)]
pub struct ConnState {
    pub(crate) t4: Table<V4>,
    pub(crate) t6: Table<V6>,
    pub(crate) sysctls: Sysctls,
    pub(crate) timeouts: Timeouts,
    pub(crate) fullnat: FullNatPool,
    /// A destination left its service: flush its connections at the next
    /// expiry run when `expire_nodest_conn` is on.
    pub(crate) nodest_pending: bool,
}

impl ConnState {
    /// Live connections and templates of both families.
    pub fn len(&self) -> usize {
        self.t4.len() + self.t6.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Live templates.
    pub fn templates(&self) -> usize {
        self.t4.templates() + self.t6.templates()
    }

    /// Heap bytes held by both tables.
    pub fn heap_bytes(&self) -> usize {
        self.t4.heap_bytes() + self.t6.heap_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_timeouts_zero_means_unchanged() {
        let mut t = Timeouts::default();
        assert_eq!(t.get(), (900, 120, 300));
        t.set(0, 30, 0).unwrap();
        assert_eq!(t.get(), (900, 30, 300));
        t.set(60, 0, 10).unwrap();
        assert_eq!(t.get(), (60, 30, 10));
        assert!(t.set(MAX_SET_TIMEOUT + 1, 0, 0).is_err());
        assert_eq!(t.get(), (60, 30, 10), "a rejected set changes nothing");
        assert_eq!(t.for_state(6, TcpState::Close as u8), 10);
        assert_eq!(t.for_state(17, 0), 10);
        assert_eq!(t.for_state(132, SctpState::Established as u8), 900);
    }

    #[test]
    fn names() {
        assert_eq!(state_name(6, true, 1), "ASSURED");
        assert_eq!(state_name(0, true, 0), "NONE");
        assert_eq!(state_name(6, false, 4), "FIN_WAIT");
        assert_eq!(state_name(17, false, 0), "UDP");
        assert_eq!(state_name(132, false, 3), "C-SENT");
        assert_eq!(proto_name(0), "IP");
        assert_eq!(proto_name(132), "SCTP");
    }

    #[test]
    fn secure_tcp_modes() {
        let mut s = Sysctls::default();
        assert!(!s.secure_tcp_active());
        s.secure_tcp = 1;
        assert!(!s.secure_tcp_active());
        s.low_memory = true;
        assert!(s.secure_tcp_active());
        s.secure_tcp = 3;
        s.low_memory = false;
        assert!(s.secure_tcp_active());
    }

    #[test]
    fn conn_id_carries_family() {
        let a = ConnId::new(Af::Inet6, 7);
        assert_eq!((a.af(), a.slot()), (Af::Inet6, 7));
        let b = ConnId::new(Af::Inet, 7);
        assert_eq!((b.af(), b.slot()), (Af::Inet, 7));
        assert_ne!(a, b);
    }
}
