//! TCP connection states, transition tables and timeouts
//! (kernel `ip_vs_proto_tcp.c`, Linux 6.x).
//!
//! Behaviour mirrored:
//! - a packet picks one event by flag priority **RST > SYN > FIN > ACK**; a
//!   segment with none of the four moves the connection to CLOSE;
//! - the table is chosen by direction: client→server (INPUT),
//!   server→client (OUTPUT), or INPUT_ONLY for connections flagged
//!   `NOOUTPUT` (DR, TUN, local: the director never sees replies, so a
//!   client FIN from ESTABLISHED leads to FIN_WAIT, not CLOSE_WAIT); the
//!   first reply seen clears `NOOUTPUT`;
//! - two table sets: the normal one and the `secure_tcp` one (`tcp_states_dos`),
//!   which holds a connection in SYN_RECV/SYNACK until the handshake
//!   completes;
//! - ESTABLISHED, SYN_SENT, SYN_RECV and SYNACK count as *active* on the
//!   destination, every other state as inactive (`tcp_state_active`);
//! - per-state default timeouts (§1.8 of the reference); `ipvsadm --set`
//!   changes ESTABLISHED (`tcp`) and FIN_WAIT (`tcpfin`).

/// TCP flag bits as in the header's flags byte.
pub mod flags {
    /// FIN.
    pub const FIN: u8 = 0x01;
    /// SYN.
    pub const SYN: u8 = 0x02;
    /// RST.
    pub const RST: u8 = 0x04;
    /// PSH.
    pub const PSH: u8 = 0x08;
    /// ACK.
    pub const ACK: u8 = 0x10;
}

/// TCP states with the kernel's numbers (`IP_VS_TCP_S_*`, carried by sync
/// messages).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum TcpState {
    /// NONE (0): created, no packet seen.
    None = 0,
    /// ESTABLISHED (1).
    Established = 1,
    /// SYN_SENT (2).
    SynSent = 2,
    /// SYN_RECV (3).
    SynRecv = 3,
    /// FIN_WAIT (4).
    FinWait = 4,
    /// TIME_WAIT (5).
    TimeWait = 5,
    /// CLOSE (6).
    Close = 6,
    /// CLOSE_WAIT (7).
    CloseWait = 7,
    /// LAST_ACK (8).
    LastAck = 8,
    /// LISTEN (9).
    Listen = 9,
    /// SYNACK (10).
    SynAck = 10,
}

/// Number of TCP states.
pub const STATES: usize = 11;

const ALL: [TcpState; STATES] = [
    TcpState::None,
    TcpState::Established,
    TcpState::SynSent,
    TcpState::SynRecv,
    TcpState::FinWait,
    TcpState::TimeWait,
    TcpState::Close,
    TcpState::CloseWait,
    TcpState::LastAck,
    TcpState::Listen,
    TcpState::SynAck,
];

impl TcpState {
    /// From the kernel number.
    pub fn from_u8(n: u8) -> Option<TcpState> {
        ALL.get(n as usize).copied()
    }

    /// Name as `/proc/net/ip_vs_conn` and `ipvsadm -Lc` print it.
    pub const fn name(self) -> &'static str {
        match self {
            TcpState::None => "NONE",
            TcpState::Established => "ESTABLISHED",
            TcpState::SynSent => "SYN_SENT",
            TcpState::SynRecv => "SYN_RECV",
            TcpState::FinWait => "FIN_WAIT",
            TcpState::TimeWait => "TIME_WAIT",
            TcpState::Close => "CLOSE",
            TcpState::CloseWait => "CLOSE_WAIT",
            TcpState::LastAck => "LAST_ACK",
            TcpState::Listen => "LISTEN",
            TcpState::SynAck => "SYNACK",
        }
    }

    /// Whether the state counts in the destination's `activeconns`.
    pub const fn is_active(self) -> bool {
        matches!(
            self,
            TcpState::Established | TcpState::SynSent | TcpState::SynRecv | TcpState::SynAck
        )
    }

    /// Default timeout in seconds (`tcp_timeouts[]`).
    pub const fn default_timeout(self) -> u32 {
        match self {
            TcpState::None => 2,
            TcpState::Established => 15 * 60,
            TcpState::SynSent => 2 * 60,
            TcpState::SynRecv => 60,
            TcpState::FinWait => 2 * 60,
            TcpState::TimeWait => 2 * 60,
            TcpState::Close => 10,
            TcpState::CloseWait => 60,
            TcpState::LastAck => 30,
            TcpState::Listen => 2 * 60,
            TcpState::SynAck => 120,
        }
    }
}

/// Which table a packet is looked up in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    /// Client → server, replies seen.
    Input = 0,
    /// Server → client.
    Output = 1,
    /// Client → server on a `NOOUTPUT` connection.
    InputOnly = 2,
}

/// The event a segment stands for: the first of RST, SYN, FIN, ACK
/// present, `None` when none is.
pub fn event(tcp_flags: u8) -> Option<usize> {
    if tcp_flags & flags::RST != 0 {
        Some(EV_RST)
    } else if tcp_flags & flags::SYN != 0 {
        Some(EV_SYN)
    } else if tcp_flags & flags::FIN != 0 {
        Some(EV_FIN)
    } else if tcp_flags & flags::ACK != 0 {
        Some(EV_ACK)
    } else {
        None
    }
}

const EV_SYN: usize = 0;
const EV_FIN: usize = 1;
const EV_ACK: usize = 2;
const EV_RST: usize = 3;

use TcpState::{
    Close as CL, CloseWait as CW, Established as ES, FinWait as FW, LastAck as LA, Listen as LI,
    SynAck as SA, SynRecv as SR, SynSent as SS, TimeWait as TW,
};

type Row = [TcpState; STATES];
/// `[direction][event]` → next state indexed by the current state
/// (columns in state-number order: NONE, ES, SS, SR, FW, TW, CL, CW, LA,
/// LI, SA). Events in the order SYN, FIN, ACK, RST.
type Table = [[Row; 4]; 3];

static NORMAL: Table = [
    // client → server
    [
        [SR, ES, ES, SR, SR, SR, SR, SR, SR, SR, SR],
        [CL, CW, SS, TW, TW, TW, CL, CW, LA, LI, TW],
        [ES, ES, SS, ES, FW, TW, CL, CW, CL, LI, ES],
        [CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, SR],
    ],
    // server → client
    [
        [SS, ES, SS, SR, SS, SS, SS, SS, SS, LI, SR],
        [TW, FW, SS, TW, FW, TW, CL, TW, LA, LI, TW],
        [ES, ES, SS, ES, FW, TW, CL, CW, LA, ES, ES],
        [CL, CL, SS, CL, CL, TW, CL, CL, CL, CL, CL],
    ],
    // client → server, replies never seen
    [
        [SR, ES, ES, SR, SR, SR, SR, SR, SR, SR, SR],
        [CL, FW, SS, TW, FW, TW, CL, CW, LA, LI, TW],
        [ES, ES, SS, ES, FW, TW, CL, CW, CL, LI, ES],
        [CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, CL],
    ],
];

static SECURE: Table = [
    [
        [SR, ES, ES, SR, SR, SR, SR, SR, SR, SR, SA],
        [CL, CW, SS, TW, TW, TW, CL, CW, LA, LI, SA],
        [ES, ES, SS, SR, FW, TW, CL, CW, CL, LI, SA],
        [CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, CL],
    ],
    [
        [SS, ES, SS, SA, SS, SS, SS, SS, SS, LI, SA],
        [TW, FW, SS, TW, FW, TW, CL, TW, LA, LI, TW],
        [ES, ES, SS, ES, FW, TW, CL, CW, LA, ES, ES],
        [CL, CL, SS, CL, CL, TW, CL, CL, CL, CL, CL],
    ],
    [
        [SA, ES, ES, SR, SA, SA, SA, SA, SA, SA, SA],
        [CL, FW, SS, TW, FW, TW, CL, CW, LA, LI, TW],
        [ES, ES, SS, ES, FW, TW, CL, CW, CL, LI, ES],
        [CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, CL],
    ],
];

/// Next state for a segment with `tcp_flags` seen in `dir` by a connection
/// in `state`; `secure` selects the `secure_tcp` tables.
pub fn next_state(secure: bool, dir: Dir, tcp_flags: u8, state: TcpState) -> TcpState {
    let table = if secure { &SECURE } else { &NORMAL };
    match event(tcp_flags) {
        Some(ev) => table[dir as usize][ev][state as usize],
        None => TcpState::Close,
    }
}

#[cfg(test)]
mod tests {
    use super::flags::*;
    use super::*;

    /// Walk a sequence of (direction, flags) from NONE.
    fn walk(secure: bool, steps: &[(Dir, u8)]) -> Vec<TcpState> {
        let mut s = TcpState::None;
        steps
            .iter()
            .map(|(d, f)| {
                s = next_state(secure, *d, *f, s);
                s
            })
            .collect()
    }

    #[test]
    fn nat_handshake_and_client_close() {
        use Dir::*;
        let seq = walk(
            false,
            &[
                (Input, SYN),
                (Output, SYN | ACK),
                (Input, ACK),
                (Input, FIN | ACK),
                (Output, ACK),
                (Output, FIN | ACK),
                (Input, ACK),
            ],
        );
        // The server's SYN+ACK is a SYN event: SYN_RECV holds until the
        // client's ACK.
        assert_eq!(seq, vec![SR, SR, ES, CW, CW, TW, TW]);
    }

    #[test]
    fn nat_server_closes_first() {
        use Dir::*;
        let seq = walk(
            false,
            &[
                (Input, SYN),
                (Output, SYN | ACK),
                (Input, ACK),
                (Output, FIN | ACK),
                (Input, FIN | ACK),
                (Output, ACK),
            ],
        );
        assert_eq!(seq, vec![SR, SR, ES, FW, TW, TW]);
    }

    /// §0 of the reference: DR connections typically end in FIN_WAIT.
    #[test]
    fn input_only_ends_in_fin_wait() {
        use Dir::*;
        let seq = walk(
            false,
            &[
                (InputOnly, SYN),
                (InputOnly, ACK),
                (InputOnly, ACK | PSH),
                (InputOnly, FIN | ACK),
                (InputOnly, ACK),
            ],
        );
        assert_eq!(seq, vec![SR, ES, ES, FW, FW]);
    }

    #[test]
    fn flag_priority_rst_syn_fin_ack() {
        let s = TcpState::Established;
        let all = SYN | FIN | ACK | RST;
        assert_eq!(next_state(false, Dir::Input, all, s), CL, "RST wins");
        assert_eq!(
            next_state(false, Dir::Input, SYN | FIN | ACK, s),
            ES,
            "then SYN"
        );
        assert_eq!(next_state(false, Dir::Input, FIN | ACK, s), CW, "then FIN");
        assert_eq!(next_state(false, Dir::Input, ACK | PSH, s), ES, "then ACK");
        assert_eq!(next_state(false, Dir::Input, PSH, s), CL, "no event: CLOSE");
    }

    #[test]
    fn secure_tcp_waits_for_the_handshake() {
        use Dir::*;
        // A SYN flood victim stays in SYN_RECV on repeated client ACKs
        // until the server answers.
        assert_eq!(walk(true, &[(Input, SYN), (Input, ACK)]), vec![SR, SR]);
        assert_eq!(
            walk(
                true,
                &[
                    (Input, SYN),
                    (Output, SYN | ACK),
                    (Input, ACK),
                    (Output, ACK)
                ]
            ),
            vec![SR, SA, SA, ES]
        );
        // DR under secure_tcp: SYN goes to SYNACK, the ACK completes it.
        assert_eq!(
            walk(true, &[(InputOnly, SYN), (InputOnly, ACK)]),
            vec![SA, ES]
        );
    }

    #[test]
    fn active_states_and_timeouts() {
        let active: Vec<&str> = ALL
            .iter()
            .filter(|s| s.is_active())
            .map(|s| s.name())
            .collect();
        assert_eq!(active, ["ESTABLISHED", "SYN_SENT", "SYN_RECV", "SYNACK"]);
        assert_eq!(TcpState::Established.default_timeout(), 900);
        assert_eq!(TcpState::FinWait.default_timeout(), 120);
        assert_eq!(TcpState::Close.default_timeout(), 10);
        for (i, s) in ALL.iter().enumerate() {
            assert_eq!(TcpState::from_u8(i as u8), Some(*s));
        }
        assert_eq!(TcpState::from_u8(11), None);
    }
}
