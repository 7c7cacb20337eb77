//! Transport protocols and connection states as the sync protocol sees them.
//!
//! The backup validates every non-template entry against the protocol's
//! state count (`ip_vs_proto_get`, `pp->num_states`) and, for version 0
//! messages (which carry no timeout), takes the timeout from the protocol's
//! per-state table (`pd->timeout_table`), or 3 minutes for templates and for
//! protocols without a table (AH/ESP).

use std::time::Duration;

/// IP protocol number of TCP.
pub const IPPROTO_TCP: u8 = 6;
/// IP protocol number of UDP.
pub const IPPROTO_UDP: u8 = 17;
/// IP protocol number of SCTP.
pub const IPPROTO_SCTP: u8 = 132;
/// IP protocol number of ESP (IPVS handles it through the IKE connection).
pub const IPPROTO_ESP: u8 = 50;
/// IP protocol number of AH.
pub const IPPROTO_AH: u8 = 51;
/// Protocol 0: used by fwmark persistence templates.
pub const IPPROTO_IP: u8 = 0;

/// TCP connection states (`IP_VS_TCP_S_*`), as numbered on the wire.
pub mod tcp {
    /// NONE
    pub const NONE: u16 = 0;
    /// ESTABLISHED
    pub const ESTABLISHED: u16 = 1;
    /// SYN_SENT
    pub const SYN_SENT: u16 = 2;
    /// SYN_RECV
    pub const SYN_RECV: u16 = 3;
    /// FIN_WAIT
    pub const FIN_WAIT: u16 = 4;
    /// TIME_WAIT
    pub const TIME_WAIT: u16 = 5;
    /// CLOSE
    pub const CLOSE: u16 = 6;
    /// CLOSE_WAIT
    pub const CLOSE_WAIT: u16 = 7;
    /// LAST_ACK
    pub const LAST_ACK: u16 = 8;
    /// LISTEN
    pub const LISTEN: u16 = 9;
    /// SYNACK
    pub const SYNACK: u16 = 10;
    /// Number of TCP states.
    pub const COUNT: u16 = 11;
}

/// SCTP association states (`enum ip_vs_sctp_states`), as numbered on the wire.
pub mod sctp {
    /// NONE
    pub const NONE: u16 = 0;
    /// INIT1
    pub const INIT1: u16 = 1;
    /// INIT
    pub const INIT: u16 = 2;
    /// COOKIE_SENT
    pub const COOKIE_SENT: u16 = 3;
    /// COOKIE_REPLIED
    pub const COOKIE_REPLIED: u16 = 4;
    /// COOKIE_WAIT
    pub const COOKIE_WAIT: u16 = 5;
    /// COOKIE
    pub const COOKIE: u16 = 6;
    /// COOKIE_ECHOED
    pub const COOKIE_ECHOED: u16 = 7;
    /// ESTABLISHED
    pub const ESTABLISHED: u16 = 8;
    /// SHUTDOWN_SENT
    pub const SHUTDOWN_SENT: u16 = 9;
    /// SHUTDOWN_RECEIVED
    pub const SHUTDOWN_RECEIVED: u16 = 10;
    /// SHUTDOWN_ACK_SENT
    pub const SHUTDOWN_ACK_SENT: u16 = 11;
    /// REJECTED
    pub const REJECTED: u16 = 12;
    /// CLOSED
    pub const CLOSED: u16 = 13;
    /// Number of SCTP states.
    pub const COUNT: u16 = 14;
}

/// Template states (`IP_VS_CTPL_S_*`): NONE and ASSURED.
pub mod template {
    /// NONE
    pub const NONE: u16 = 0;
    /// ASSURED
    pub const ASSURED: u16 = 1;
    /// Number of template states (larger values are accepted but logged by the kernel).
    pub const COUNT: u16 = 2;
}

/// Number of states of a protocol IPVS knows, `None` for protocols IPVS
/// does not handle (the backup skips such entries).
pub fn num_states(protocol: u8) -> Option<u16> {
    match protocol {
        IPPROTO_TCP => Some(tcp::COUNT),
        IPPROTO_UDP => Some(1),
        IPPROTO_SCTP => Some(sctp::COUNT),
        IPPROTO_AH | IPPROTO_ESP => Some(1),
        _ => None,
    }
}

/// Timeout of templates, and of version 0 entries of protocols without a
/// timeout table.
pub const TEMPLATE_TIMEOUT: Duration = Duration::from_secs(180);

/// The per-state timeouts a backup applies to version 0 entries. Defaults
/// are the kernel's (`tcp_timeouts[]`, `udp_timeouts[]`, `sctp_timeouts[]`);
/// `ipvsadm --set tcp tcpfin udp` changes the TCP ESTABLISHED, TCP FIN_WAIT
/// and UDP values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateTimeouts {
    /// TCP, indexed by [`tcp`] state.
    pub tcp: [Duration; tcp::COUNT as usize],
    /// UDP (one state).
    pub udp: Duration,
    /// SCTP, indexed by [`sctp`] state.
    pub sctp: [Duration; sctp::COUNT as usize],
}

const fn s(secs: u64) -> Duration {
    Duration::from_secs(secs)
}

/// `IP_VS_SCTP_MAX_RTO`: (60 + 1) s.
const SCTP_MAX_RTO: Duration = s(61);

impl Default for StateTimeouts {
    fn default() -> Self {
        StateTimeouts {
            tcp: [
                s(2),       // NONE
                s(15 * 60), // ESTABLISHED
                s(2 * 60),  // SYN_SENT
                s(60),      // SYN_RECV
                s(2 * 60),  // FIN_WAIT
                s(2 * 60),  // TIME_WAIT
                s(10),      // CLOSE
                s(60),      // CLOSE_WAIT
                s(30),      // LAST_ACK
                s(2 * 60),  // LISTEN
                s(2 * 60),  // SYNACK
            ],
            udp: s(5 * 60),
            sctp: [
                s(2),         // NONE
                s(4),         // INIT1
                SCTP_MAX_RTO, // INIT
                SCTP_MAX_RTO, // COOKIE_SENT
                SCTP_MAX_RTO, // COOKIE_REPLIED
                SCTP_MAX_RTO, // COOKIE_WAIT
                SCTP_MAX_RTO, // COOKIE
                SCTP_MAX_RTO, // COOKIE_ECHOED
                s(15 * 60),   // ESTABLISHED
                SCTP_MAX_RTO, // SHUTDOWN_SENT
                SCTP_MAX_RTO, // SHUTDOWN_RECEIVED
                SCTP_MAX_RTO, // SHUTDOWN_ACK_SENT
                s(4),         // REJECTED
                SCTP_MAX_RTO, // CLOSED
            ],
        }
    }
}

impl StateTimeouts {
    /// The timeout a backup gives a version 0 entry (which carries none):
    /// templates get 3 minutes; connections their protocol's per-state
    /// value; protocols without a table (AH/ESP) 3 minutes. `None` for an
    /// unknown protocol or an out-of-range state (such entries are skipped).
    pub fn for_entry(&self, protocol: u8, state: u16, is_template: bool) -> Option<Duration> {
        if is_template {
            return Some(TEMPLATE_TIMEOUT);
        }
        let i = usize::from(state);
        match protocol {
            IPPROTO_TCP => self.tcp.get(i).copied(),
            IPPROTO_UDP => (state == 0).then_some(self.udp),
            IPPROTO_SCTP => self.sctp.get(i).copied(),
            IPPROTO_AH | IPPROTO_ESP => (state == 0).then_some(TEMPLATE_TIMEOUT),
            _ => None,
        }
    }

    /// Apply `ipvsadm --set tcp tcpfin udp` (0 leaves a value unchanged).
    pub fn set(&mut self, tcp: u32, tcpfin: u32, udp: u32) {
        if tcp > 0 {
            self.tcp[usize::from(tcp::ESTABLISHED)] = s(u64::from(tcp));
        }
        if tcpfin > 0 {
            self.tcp[usize::from(tcp::FIN_WAIT)] = s(u64::from(tcpfin));
        }
        if udp > 0 {
            self.udp = s(u64::from(udp));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_reference_table() {
        // lvs-reference.md §1.8: ES 900, SYN_RECV 60, FIN_WAIT 120, CLOSE 10, LAST_ACK 30,
        // UDP 300, SCTP ES 900, INIT1 4, REJECTED 4, every other SCTP state 61.
        let t = StateTimeouts::default();
        assert_eq!(
            t.for_entry(IPPROTO_TCP, tcp::ESTABLISHED, false),
            Some(s(900))
        );
        assert_eq!(t.for_entry(IPPROTO_TCP, tcp::SYN_RECV, false), Some(s(60)));
        assert_eq!(t.for_entry(IPPROTO_TCP, tcp::FIN_WAIT, false), Some(s(120)));
        assert_eq!(t.for_entry(IPPROTO_TCP, tcp::CLOSE, false), Some(s(10)));
        assert_eq!(t.for_entry(IPPROTO_TCP, tcp::LAST_ACK, false), Some(s(30)));
        assert_eq!(t.for_entry(IPPROTO_UDP, 0, false), Some(s(300)));
        assert_eq!(
            t.for_entry(IPPROTO_SCTP, sctp::ESTABLISHED, false),
            Some(s(900))
        );
        assert_eq!(t.for_entry(IPPROTO_SCTP, sctp::INIT1, false), Some(s(4)));
        assert_eq!(t.for_entry(IPPROTO_SCTP, sctp::COOKIE, false), Some(s(61)));
        assert_eq!(t.for_entry(IPPROTO_TCP, tcp::COUNT, false), None);
        assert_eq!(t.for_entry(IPPROTO_UDP, 1, false), None);
        assert_eq!(t.for_entry(99, 0, false), None);
        assert_eq!(t.for_entry(99, 7, true), Some(s(180)));
    }

    #[test]
    fn set_changes_exactly_three_values() {
        let mut t = StateTimeouts::default();
        t.set(60, 0, 20);
        assert_eq!(t.tcp[usize::from(tcp::ESTABLISHED)], s(60));
        assert_eq!(t.tcp[usize::from(tcp::FIN_WAIT)], s(120));
        assert_eq!(t.udp, s(20));
        let mut expected = StateTimeouts::default();
        expected.tcp[1] = s(60);
        expected.udp = s(20);
        assert_eq!(t, expected);
    }
}
