//! SCTP association states, the chunk-event transition table and timeouts
//! (kernel `ip_vs_proto_sctp.c`, Linux 6.x).
//!
//! Behaviour mirrored:
//! - a packet is classified by its first chunk; when that chunk is COOKIE
//!   ECHO or COOKIE ACK and an ABORT follows it, the ABORT counts (the
//!   caller passes that *effective* chunk type, see
//!   [`crate::conn::PacketMeta::sctp_chunk`]); chunk types the table does
//!   not know count as DATA;
//! - tables per direction: INPUT, OUTPUT and INPUT_ONLY (`NOOUTPUT`
//!   connections), like TCP;
//! - only ESTABLISHED counts as active on the destination;
//! - timeouts: NONE 2 s, INIT1 and REJECTED 4 s, ESTABLISHED 900 s, every
//!   other state 61 s (`IP_VS_SCTP_MAX_RTO`).

use super::tcp::Dir;

/// SCTP chunk type numbers (RFC 9260).
pub mod chunk {
    /// DATA.
    pub const DATA: u8 = 0;
    /// INIT.
    pub const INIT: u8 = 1;
    /// INIT ACK.
    pub const INIT_ACK: u8 = 2;
    /// SACK.
    pub const SACK: u8 = 3;
    /// HEARTBEAT.
    pub const HEARTBEAT: u8 = 4;
    /// HEARTBEAT ACK.
    pub const HEARTBEAT_ACK: u8 = 5;
    /// ABORT.
    pub const ABORT: u8 = 6;
    /// SHUTDOWN.
    pub const SHUTDOWN: u8 = 7;
    /// SHUTDOWN ACK.
    pub const SHUTDOWN_ACK: u8 = 8;
    /// ERROR.
    pub const ERROR: u8 = 9;
    /// COOKIE ECHO.
    pub const COOKIE_ECHO: u8 = 10;
    /// COOKIE ACK.
    pub const COOKIE_ACK: u8 = 11;
    /// ECNE.
    pub const ECN_ECNE: u8 = 12;
    /// CWR.
    pub const ECN_CWR: u8 = 13;
    /// SHUTDOWN COMPLETE.
    pub const SHUTDOWN_COMPLETE: u8 = 14;
}

/// SCTP states with the kernel's numbers (`IP_VS_SCTP_S_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum SctpState {
    /// NONE (0).
    None = 0,
    /// INIT1 (1): first client INIT seen.
    Init1 = 1,
    /// INIT (2): INIT retransmitted.
    Init = 2,
    /// COOKIE_SENT (3): server INIT ACK seen.
    CookieSent = 3,
    /// COOKIE_REPLIED (4): client COOKIE ECHO seen.
    CookieReplied = 4,
    /// COOKIE_WAIT (5): server-initiated INIT seen.
    CookieWait = 5,
    /// COOKIE (6).
    Cookie = 6,
    /// COOKIE_ECHOED (7).
    CookieEchoed = 7,
    /// ESTABLISHED (8).
    Established = 8,
    /// SHUTDOWN_SENT (9).
    ShutdownSent = 9,
    /// SHUTDOWN_RECEIVED (10).
    ShutdownReceived = 10,
    /// SHUTDOWN_ACK_SENT (11).
    ShutdownAckSent = 11,
    /// REJECTED (12): INIT answered by ABORT.
    Rejected = 12,
    /// CLOSED (13).
    Closed = 13,
}

/// Number of SCTP states.
pub const STATES: usize = 14;

const ALL: [SctpState; STATES] = [
    SctpState::None,
    SctpState::Init1,
    SctpState::Init,
    SctpState::CookieSent,
    SctpState::CookieReplied,
    SctpState::CookieWait,
    SctpState::Cookie,
    SctpState::CookieEchoed,
    SctpState::Established,
    SctpState::ShutdownSent,
    SctpState::ShutdownReceived,
    SctpState::ShutdownAckSent,
    SctpState::Rejected,
    SctpState::Closed,
];

impl SctpState {
    /// From the kernel number.
    pub fn from_u8(n: u8) -> Option<SctpState> {
        ALL.get(n as usize).copied()
    }

    /// Name as `ipvsadm -Lc` prints it.
    pub const fn name(self) -> &'static str {
        match self {
            SctpState::None => "NONE",
            SctpState::Init1 => "INIT1",
            SctpState::Init => "INIT",
            SctpState::CookieSent => "C-SENT",
            SctpState::CookieReplied => "C-REPLIED",
            SctpState::CookieWait => "C-WAIT",
            SctpState::Cookie => "COOKIE",
            SctpState::CookieEchoed => "C-ECHOED",
            SctpState::Established => "ESTABLISHED",
            SctpState::ShutdownSent => "S-SENT",
            SctpState::ShutdownReceived => "S-RECEIVED",
            SctpState::ShutdownAckSent => "S-ACK-SENT",
            SctpState::Rejected => "REJECTED",
            SctpState::Closed => "CLOSED",
        }
    }

    /// Whether the state counts in `activeconns`.
    pub const fn is_active(self) -> bool {
        matches!(self, SctpState::Established)
    }

    /// Default timeout in seconds (`sctp_timeouts[]`).
    pub const fn default_timeout(self) -> u32 {
        match self {
            SctpState::None => 2,
            SctpState::Init1 | SctpState::Rejected => 4,
            SctpState::Established => 15 * 60,
            _ => 61,
        }
    }
}

// Events: what a chunk type means to the state machine (`ip_vs_sctp_event_t`).
const EV_DATA: usize = 0;
const EV_INIT: usize = 1;
const EV_INIT_ACK: usize = 2;
const EV_COOKIE_ECHO: usize = 3;
const EV_COOKIE_ACK: usize = 4;
const EV_SHUTDOWN: usize = 5;
const EV_SHUTDOWN_ACK: usize = 6;
const EV_SHUTDOWN_COMPLETE: usize = 7;
const EV_ERROR: usize = 8;
const EV_ABORT: usize = 9;
const EV_EVENTS: usize = 10;

/// Event of an (effective) chunk type; SACK, HEARTBEAT(-ACK), ECNE, CWR
/// and unknown types count as DATA.
fn event(chunk_type: u8) -> usize {
    match chunk_type {
        chunk::INIT => EV_INIT,
        chunk::INIT_ACK => EV_INIT_ACK,
        chunk::ABORT => EV_ABORT,
        chunk::SHUTDOWN => EV_SHUTDOWN,
        chunk::SHUTDOWN_ACK => EV_SHUTDOWN_ACK,
        chunk::ERROR => EV_ERROR,
        chunk::COOKIE_ECHO => EV_COOKIE_ECHO,
        chunk::COOKIE_ACK => EV_COOKIE_ACK,
        chunk::SHUTDOWN_COMPLETE => EV_SHUTDOWN_COMPLETE,
        _ => EV_DATA,
    }
}

use SctpState::{
    Closed as CL, Cookie as CO, CookieEchoed as CE, CookieReplied as CR, CookieSent as CS,
    CookieWait as CW, Established as ES, Init as IN, Init1 as I1, Rejected as RJ,
    ShutdownAckSent as SA, ShutdownReceived as SR, ShutdownSent as SS,
};

type Row = [SctpState; STATES];

/// `[direction][event]` → next state by current state (columns in
/// state-number order NO, I1, IN, CS, CR, CW, CO, CE, ES, SS, SR, SA, RJ,
/// CL); events in the order DATA, INIT, INIT_ACK, COOKIE_ECHO, COOKIE_ACK,
/// SHUTDOWN, SHUTDOWN_ACK, SHUTDOWN_COMPLETE, ERROR, ABORT.
static TABLE: [[Row; EV_EVENTS]; 3] = [
    // client → server
    [
        [ES, I1, IN, CS, CR, CW, CO, CE, ES, SS, SR, SA, RJ, CL],
        [I1, IN, IN, CS, CR, CW, CO, CE, ES, SS, SR, SA, IN, IN],
        [CW, CW, CW, CS, CR, CO, CO, CE, ES, SS, SR, SA, RJ, CL],
        [CR, IN, IN, CR, CR, CW, CO, CE, ES, SS, SR, SA, RJ, CL],
        [ES, I1, IN, CS, CR, CW, CO, ES, ES, SS, SR, SA, RJ, CL],
        [SR, I1, IN, CS, CR, CW, CO, CE, SR, SS, SR, SA, RJ, CL],
        [CL, IN, IN, CS, CR, CW, CO, CE, ES, CL, SR, CL, RJ, CL],
        [CL, CL, CL, CS, CR, CW, CO, CE, ES, SS, SR, CL, RJ, CL],
        [CL, I1, IN, CS, CR, CW, CO, CL, ES, SS, SR, SA, RJ, CL],
        [CL, CL, CL, CL, CL, RJ, CL, CL, CL, CL, CL, CL, CL, CL],
    ],
    // server → client
    [
        [ES, I1, IN, CS, CR, CW, CO, CE, ES, SS, SR, SA, RJ, CL],
        [CW, CW, CW, CW, CW, CW, CW, CW, ES, CW, CW, CW, CW, CW],
        [CS, CS, CS, CS, CR, CW, CO, CE, ES, SS, SR, SA, RJ, CL],
        [CE, CE, CE, CE, CE, CE, CE, CE, ES, SS, SR, SA, RJ, CL],
        [ES, ES, ES, ES, ES, ES, ES, ES, ES, SS, SR, SA, RJ, CL],
        [SS, SS, SS, SS, SS, SS, SS, SS, SS, SS, SR, SA, RJ, CL],
        [SA, SA, SA, SA, SA, CW, CO, CE, ES, SA, SA, SA, RJ, CL],
        [CL, I1, IN, CS, CR, CW, CO, CE, ES, SS, SR, SA, RJ, CL],
        [CL, CL, CL, CL, CL, CW, CO, CE, ES, SS, SR, SA, RJ, CL],
        [CL, RJ, CL, CL, CL, CL, CL, CL, CL, CL, CL, CL, CL, CL],
    ],
    // client → server, replies never seen
    [
        [ES, I1, IN, CS, CR, ES, CO, CE, ES, SS, SR, SA, RJ, CL],
        [I1, IN, IN, IN, IN, IN, CO, CE, ES, SS, SR, SA, IN, IN],
        [CE, CE, CE, CE, CE, CE, CO, CE, ES, SS, SR, SA, RJ, CL],
        [ES, ES, ES, ES, ES, ES, CO, CE, ES, SS, SR, SA, RJ, CL],
        [ES, I1, IN, ES, ES, CW, ES, ES, ES, SS, SR, SA, RJ, CL],
        [SR, I1, IN, CS, CR, CW, CO, CE, SR, SS, SR, SA, RJ, CL],
        [CL, IN, IN, CS, CR, CW, CO, CE, CL, CL, SR, CL, RJ, CL],
        [CL, CL, CL, CL, CL, CW, CO, CE, ES, SS, CL, CL, RJ, CL],
        [CL, I1, IN, CS, CR, CW, CO, CE, ES, SS, SR, SA, RJ, CL],
        [CL, CL, CL, CL, CL, RJ, CL, CL, CL, CL, CL, CL, CL, CL],
    ],
];

/// Next state for a packet whose effective chunk type is `chunk_type`,
/// seen in `dir` by an association in `state`.
pub fn next_state(dir: Dir, chunk_type: u8, state: SctpState) -> SctpState {
    TABLE[dir as usize][event(chunk_type)][state as usize]
}

#[cfg(test)]
mod tests {
    use super::chunk::*;
    use super::*;

    fn walk(steps: &[(Dir, u8)]) -> Vec<SctpState> {
        let mut s = SctpState::None;
        steps
            .iter()
            .map(|(d, c)| {
                s = next_state(*d, *c, s);
                s
            })
            .collect()
    }

    #[test]
    fn nat_association_setup_and_shutdown() {
        use Dir::*;
        let seq = walk(&[
            (Input, INIT),
            (Output, INIT_ACK),
            (Input, COOKIE_ECHO),
            (Output, COOKIE_ACK),
            (Input, DATA),
            (Output, SACK),
            (Input, SHUTDOWN),
            (Output, SHUTDOWN_ACK),
            (Input, SHUTDOWN_COMPLETE),
        ]);
        assert_eq!(seq, vec![I1, CS, CR, ES, ES, ES, SR, SA, CL]);
    }

    #[test]
    fn dr_association_setup_and_shutdown() {
        use Dir::*;
        let seq = walk(&[
            (InputOnly, INIT),
            (InputOnly, COOKIE_ECHO),
            (InputOnly, DATA),
            (InputOnly, SHUTDOWN),
            (InputOnly, SHUTDOWN_COMPLETE),
        ]);
        assert_eq!(seq, vec![I1, ES, ES, SR, CL]);
    }

    #[test]
    fn retransmitted_init_and_rejection() {
        use Dir::*;
        assert_eq!(walk(&[(Input, INIT), (Input, INIT)]), vec![I1, IN]);
        assert_eq!(walk(&[(Input, INIT), (Output, ABORT)]), vec![I1, RJ]);
        assert_eq!(walk(&[(Input, INIT), (Input, ABORT)]), vec![I1, CL]);
    }

    #[test]
    fn unknown_chunks_count_as_data() {
        assert_eq!(next_state(Dir::Input, 200, SctpState::None), ES);
        assert_eq!(next_state(Dir::Input, HEARTBEAT, SctpState::Init1), I1);
    }

    #[test]
    fn names_numbers_timeouts() {
        for (i, s) in ALL.iter().enumerate() {
            assert_eq!(SctpState::from_u8(i as u8), Some(*s));
        }
        assert_eq!(SctpState::CookieSent.name(), "C-SENT");
        assert_eq!(SctpState::ShutdownAckSent.name(), "S-ACK-SENT");
        assert_eq!(SctpState::Established.default_timeout(), 900);
        assert_eq!(SctpState::Init1.default_timeout(), 4);
        assert_eq!(SctpState::Closed.default_timeout(), 61);
        assert!(SctpState::Established.is_active());
        assert!(!SctpState::CookieEchoed.is_active());
    }
}
