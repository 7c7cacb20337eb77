//! The sync-out ring: the data path's hook for a connection sync master.
//!
//! Contract: when enabled ([`crate::Ipvs::set_sync_out`]), every
//! client → server packet that [`crate::Ipvs::conn_in`] handles on an
//! inserted connection (one-packet connections never) offers the
//! connection's handle to a bounded ring, and the ring keeps it when the
//! kernel's master (`ip_vs_sync_conn_needed`) *could* send it at this
//! packet:
//! - the connection is controlled by a template (the kernel considers the
//!   template on every packet of the connections it controls);
//! - the packet count hits the rule: `in_pkts % period == threshold`
//!   (`period > 0`), or `in_pkts == threshold` (`period == 0`);
//! - [`SyncOutFilter::first_packet`] and this is the first packet;
//! - TCP in FIN_WAIT, CLOSE, CLOSE_WAIT, TIME_WAIT, or SCTP in
//!   SHUTDOWN_SENT, SHUTDOWN_RECEIVED, SHUTDOWN_ACK_SENT, CLOSED (a change
//!   into these states is sent at once; the master's own bookkeeping,
//!   `lvs_sync::should_sync`, removes repeats).
//!
//! This is a superset of what the kernel sends: the exact decision (with
//! the per-connection "state when last sent" and refresh bookkeeping) is
//! made by whoever drains the ring ([`crate::Ipvs::drain_sync_out`]), off
//! the packet path. When the ring is full the handle is dropped and
//! counted ([`SyncOut::lost`]); the ring's storage is allocated once, when
//! it is enabled, so offering never allocates.

use std::collections::VecDeque;

use super::ConnId;
use super::sctp::SctpState;
use super::tcp::TcpState;
use crate::service::Protocol;

/// When the ring keeps a connection (the master's `sync_threshold` and the
/// first-packet extension).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncOutFilter {
    /// `sync_threshold`, first value (kernel default 3).
    pub threshold: u32,
    /// `sync_threshold`, second value (kernel default 50).
    pub period: u32,
    /// Also keep a connection at its first packet.
    pub first_packet: bool,
}

impl Default for SyncOutFilter {
    fn default() -> Self {
        SyncOutFilter {
            threshold: 3,
            period: 50,
            first_packet: false,
        }
    }
}

/// One offered connection: its handle and its packet count at the packet
/// that offered it (the count the kernel's rule is applied to).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncOutEvent {
    /// The connection.
    pub conn: ConnId,
    /// `in_pkts` after counting the packet.
    pub in_pkts: u32,
}

/// The bounded ring of connections a sync master may have to send.
#[derive(Debug, Default)]
pub struct SyncOut {
    ring: VecDeque<SyncOutEvent>,
    cap: usize,
    filter: Option<SyncOutFilter>,
    lost: u64,
}

fn closing(proto: u8, state: u8) -> bool {
    match Protocol::from_number(proto) {
        Some(Protocol::Tcp) => [
            TcpState::FinWait,
            TcpState::Close,
            TcpState::CloseWait,
            TcpState::TimeWait,
        ]
        .iter()
        .any(|s| *s as u8 == state),
        Some(Protocol::Sctp) => [
            SctpState::ShutdownSent,
            SctpState::ShutdownReceived,
            SctpState::ShutdownAckSent,
            SctpState::Closed,
        ]
        .iter()
        .any(|s| *s as u8 == state),
        _ => false,
    }
}

impl SyncOut {
    /// Enable with `capacity` slots (allocated now), or disable (`None`:
    /// the ring is emptied and freed).
    pub(crate) fn set(&mut self, filter: Option<SyncOutFilter>, capacity: usize) {
        self.filter = filter;
        if filter.is_some() {
            self.cap = capacity.max(1);
            self.ring.clear();
            self.ring.reserve_exact(self.cap);
        } else {
            self.cap = 0;
            self.ring = VecDeque::new();
        }
    }

    /// Whether a master is listening.
    pub fn is_enabled(&self) -> bool {
        self.filter.is_some()
    }

    /// Handles dropped because the ring was full.
    pub fn lost(&self) -> u64 {
        self.lost
    }

    /// Handles waiting.
    pub fn len(&self) -> usize {
        self.ring.len()
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.ring.is_empty()
    }

    /// A packet of `id` was handled: `in_pkts` after counting it, its
    /// protocol and state after the transition, whether a template
    /// controls it.
    pub(crate) fn offer(&mut self, id: ConnId, in_pkts: u32, proto: u8, state: u8, ctl: bool) {
        let Some(f) = self.filter else {
            return;
        };
        let by_count = if f.period > 0 {
            in_pkts % f.period == f.threshold
        } else {
            in_pkts == f.threshold
        };
        let keep = ctl || by_count || (f.first_packet && in_pkts == 1) || closing(proto, state);
        if !keep {
            return;
        }
        if self.ring.len() >= self.cap {
            self.lost += 1;
            return;
        }
        self.ring.push_back(SyncOutEvent { conn: id, in_pkts });
    }

    /// Move every waiting event to `out`, oldest first.
    pub(crate) fn drain_into(&mut self, out: &mut Vec<SyncOutEvent>) {
        out.extend(self.ring.drain(..));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::addr::Af;

    fn ring(filter: SyncOutFilter, cap: usize) -> SyncOut {
        let mut r = SyncOut::default();
        r.set(Some(filter), cap);
        r
    }

    fn kept(r: &mut SyncOut) -> Vec<ConnId> {
        let mut v = Vec::new();
        r.drain_into(&mut v);
        // The count travels with the handle (these tests use slot = count
        // where it matters).
        v.iter().map(|e| e.conn).collect()
    }

    const TCP: u8 = 6;
    const UDP: u8 = 17;
    const ES: u8 = TcpState::Established as u8;

    #[test]
    fn disabled_keeps_nothing() {
        let mut r = SyncOut::default();
        r.offer(ConnId::new(Af::Inet, 1), 3, TCP, ES, true);
        assert!(r.is_empty());
        assert!(!r.is_enabled());
    }

    #[test]
    fn default_threshold_keeps_the_3rd_then_every_50th() {
        let mut r = ring(SyncOutFilter::default(), 1000);
        for pkts in 1..=110 {
            r.offer(ConnId::new(Af::Inet, pkts), pkts, UDP, 0, false);
        }
        let mut events = Vec::new();
        r.drain_into(&mut events);
        let counts: Vec<u32> = events.iter().map(|e| e.in_pkts).collect();
        assert_eq!(counts, [3, 53, 103]);
        assert!(events.iter().all(|e| e.conn.slot() == e.in_pkts));
    }

    #[test]
    fn period_zero_keeps_only_the_threshold_and_first_packet_option() {
        let f = SyncOutFilter {
            threshold: 2,
            period: 0,
            first_packet: true,
        };
        let mut r = ring(f, 100);
        for pkts in 1..=10 {
            r.offer(ConnId::new(Af::Inet, pkts), pkts, TCP, ES, false);
        }
        let slots: Vec<u32> = kept(&mut r).iter().map(|c| c.slot()).collect();
        assert_eq!(slots, [1, 2]);
    }

    #[test]
    fn closing_states_and_controlled_connections_are_always_offered() {
        let mut r = ring(SyncOutFilter::default(), 100);
        let id = ConnId::new(Af::Inet6, 7);
        r.offer(id, 10, TCP, TcpState::FinWait as u8, false);
        r.offer(id, 11, TCP, TcpState::TimeWait as u8, false);
        r.offer(id, 12, 132, SctpState::Closed as u8, false);
        r.offer(id, 13, TCP, ES, true);
        // Not closing, not due, not controlled.
        r.offer(id, 14, TCP, ES, false);
        r.offer(id, 15, TCP, TcpState::SynRecv as u8, false);
        assert_eq!(kept(&mut r).len(), 4);
    }

    #[test]
    fn full_ring_drops_and_counts() {
        let mut r = ring(SyncOutFilter::default(), 2);
        for slot in 0..5 {
            r.offer(ConnId::new(Af::Inet, slot), 3, TCP, ES, false);
        }
        assert_eq!(r.len(), 2);
        assert_eq!(r.lost(), 3);
        assert_eq!(kept(&mut r).len(), 2);
        // Disabling frees and stops.
        r.set(None, 0);
        r.offer(ConnId::new(Af::Inet, 1), 3, TCP, ES, false);
        assert!(r.is_empty());
    }
}
