//! The master side: which connections are sent, and how they are batched.
//!
//! Mirrors `ip_vs_sync_conn`, `ip_vs_sync_conn_needed`, `sb_queue_tail` and
//! the master thread of `ip_vs_sync.c`:
//!
//! - The datapath calls [`Master::on_input_packet`] for every client-to-
//!   server packet of a connection (the kernel's `ip_vs_in` hook): it bumps
//!   `in_pkts` (not for one-packet-scheduling connections) and decides.
//! - A connection is sent when [`should_sync`] says so:
//!   - templates always (rate limited only by `sync_refresh_period` or when
//!     `sync_threshold`'s period is 0);
//!   - with `sync_persist_mode`, connections controlled by a template never;
//!   - TCP only in ESTABLISHED, FIN_WAIT, CLOSE, CLOSE_WAIT, TIME_WAIT; a
//!     change into one of these states other than ESTABLISHED is sent at
//!     once; SCTP likewise with ESTABLISHED, SHUTDOWN_SENT,
//!     SHUTDOWN_RECEIVED, SHUTDOWN_ACK_SENT, CLOSED;
//!   - otherwise when `in_pkts % period == threshold` (default "3 50": the
//!     3rd packet, then every 50th), or only at `in_pkts == threshold` when
//!     the period is 0;
//!   - with `sync_refresh_period`, not again before that many seconds (or
//!     half the timeout, at least 10 s) unless the remaining time changed
//!     that much, with up to `sync_retries` retries spaced by 1/8 of the
//!     period.
//! - One-packet-scheduling connections are never sent.
//! - After a connection, its controller is considered too (a template gets
//!   its own `in_pkts` bumped; a controlling connection is judged as if at
//!   the threshold). Because a template is sent on *every* packet of the
//!   connections it controls, including their first (SYN) packet when the
//!   connection itself is not synced yet, the template reaches the backup
//!   before the connections it controls.
//! - Entries are appended to the current message until the next one would
//!   exceed `sync_maxlen` (or the format changes); the full message then
//!   joins a queue bounded by `sync_qlen_max` (on overflow it is dropped
//!   and counted). The current message is flushed when it is 2 s old
//!   (`IPVS_SYNC_FLUSH_TIME`): the kernel's thread checks that once a
//!   second, so the kernel sends such a message 2 to 3 s after its first
//!   entry; [`Master::poll_transmit`] releases it as soon as the 2 s have
//!   passed. Full messages are released at once (the kernel wakes its
//!   thread after `IPVS_SYNC_SEND_DELAY` = 20 ms, or as soon as 8 are
//!   queued). The default `qlen_max` here is 4096 messages; the kernel's
//!   default depends on free memory (free pages / 32).
//!
//! Extension (off by default): [`SyncPolicy::first_packet`] also sends a
//! new connection on its first packet, whatever its state, so a backup
//! learns the mapping before the third packet.
//!
//! Cost: [`should_sync`] is O(1); appending an entry is O(entry size); a
//! message buffer is allocated once per message (about one allocation per
//! 40 IPv4 entries at the default maxlen).

use std::collections::VecDeque;
use std::net::IpAddr;
use std::time::Duration;

use crate::flags;
use crate::proto::{IPPROTO_SCTP, IPPROTO_TCP, sctp, tcp};
use crate::wire::{self, ConnEntry, EncodeError, MessageBuilder, SeqData, Version};

/// `IPVS_SYNC_FLUSH_TIME`: the longest an entry waits in a partly filled message.
pub const FLUSH_TIME: Duration = Duration::from_secs(2);
/// Default sync multicast group, 224.0.0.81 (`IP_VS_SYNC_GROUP`).
pub const DEFAULT_GROUP_V4: [u8; 4] = [224, 0, 0, 81];
/// Default sync port (`IP_VS_SYNC_PORT`).
pub const DEFAULT_PORT: u16 = 8848;
/// Default multicast TTL.
pub const DEFAULT_TTL: u8 = 1;

/// Sync daemon role, for [`sync_maxlen`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Sending daemon.
    Master,
    /// Receiving daemon.
    Backup,
}

/// Message size limit as `start_sync_thread` computes it: the master
/// assumes an MTU of 1500 whatever the interface, the backup uses the
/// interface MTU clamped to 1500..=65535; both subtract the IP and UDP
/// headers (28 bytes for an IPv4 group, 48 for IPv6). A user value
/// (`--sync-maxlen`) is clamped to `min..=65535 - headers`, where `min` is
/// 1 for a master and 1024 for a backup. The backup's value is also the
/// size of its receive buffer: longer datagrams arrive truncated and fail
/// the size check.
pub fn sync_maxlen(role: Role, group_is_ipv6: bool, if_mtu: u32, user: Option<u32>) -> usize {
    let hlen: u32 = if group_is_ipv6 { 40 + 8 } else { 20 + 8 };
    let (mtu, min) = match role {
        Role::Master => (1500, 1),
        Role::Backup => (if_mtu.clamp(1500, 65535), 1024),
    };
    let v = match user {
        Some(u) if u > 0 => u.clamp(min, 65535 - hlen),
        _ => mtu - hlen,
    };
    v as usize
}

/// The sysctls that decide when a connection is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncPolicy {
    /// `sync_threshold`, first value (default 3).
    pub threshold: u32,
    /// `sync_threshold`, second value: the period (default 50; 0 = only
    /// once at the threshold, plus state changes).
    pub period: u32,
    /// `sync_refresh_period` (default 0 = off).
    pub refresh_period: Duration,
    /// `sync_retries` (0..=3, default 0).
    pub retries: u8,
    /// `sync_persist_mode` (default false).
    pub persist_mode: bool,
    /// Extension: also send a connection on its first packet, in any state.
    pub first_packet: bool,
}

impl Default for SyncPolicy {
    fn default() -> Self {
        SyncPolicy {
            threshold: 3,
            period: 50,
            refresh_period: Duration::ZERO,
            retries: 0,
            persist_mode: false,
            first_packet: false,
        }
    }
}

/// Per-connection bookkeeping of the sync decision (`cp->old_state`,
/// `cp->sync_endtime`). Zero for a new connection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncMark {
    /// State when the connection was last sent.
    pub old_state: u16,
    /// Expiry time announced by the last send (now + timeout at that time).
    pub sync_endtime: Duration,
    /// Retries done for the current refresh period.
    pub retries: u8,
}

/// The master's description of a connection or template (the lead maps
/// `lvs-core` connections to it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncConn {
    /// IP protocol (0 for fwmark templates).
    pub protocol: u8,
    /// Client address (the family of all three must agree).
    pub caddr: IpAddr,
    /// Virtual address.
    pub vaddr: IpAddr,
    /// Destination address.
    pub daddr: IpAddr,
    /// Client port.
    pub cport: u16,
    /// Virtual port.
    pub vport: u16,
    /// Destination port.
    pub dport: u16,
    /// Firewall mark.
    pub fwmark: u32,
    /// `IP_VS_CONN_F_*` flags ([`flags::TEMPLATE`] marks a template).
    pub flags: u32,
    /// Protocol state (template: 0 NONE / 1 ASSURED).
    pub state: u16,
    /// Current timeout (sent in seconds, rounded down).
    pub timeout: Duration,
    /// Input packet counter (`cp->in_pkts`).
    pub in_pkts: u32,
    /// Sequence adjustments (sent when `flags` has IN_SEQ/OUT_SEQ).
    pub seq: Option<SeqData>,
    /// Persistence-engine name and data (SIP), sent as options.
    pub pe: Option<(String, Vec<u8>)>,
    /// Sync bookkeeping.
    pub mark: SyncMark,
}

impl SyncConn {
    /// True for a persistence template.
    pub fn is_template(&self) -> bool {
        self.flags & flags::TEMPLATE != 0
    }

    /// The wire entry the master sends for this connection: flags without
    /// HASHED, the timeout in whole seconds.
    pub fn entry(&self) -> ConnEntry<'_> {
        ConnEntry {
            protocol: self.protocol,
            caddr: self.caddr,
            vaddr: self.vaddr,
            daddr: self.daddr,
            cport: self.cport,
            vport: self.vport,
            dport: self.dport,
            flags: self.flags & !flags::HASHED,
            state: self.state,
            fwmark: self.fwmark,
            timeout: u32::try_from(self.timeout.as_secs()).unwrap_or(u32::MAX),
            seq: if self.flags & flags::SEQ_MASK != 0 {
                Some(self.seq.unwrap_or_default())
            } else {
                None
            },
            pe_data: self.pe.as_ref().map(|(_, d)| d.as_slice()),
            pe_name: self.pe.as_ref().map(|(n, _)| n.as_bytes()),
            unknown_mandatory_option: false,
        }
    }
}

fn tcp_syncs(state: u16) -> bool {
    matches!(
        state,
        tcp::ESTABLISHED | tcp::FIN_WAIT | tcp::CLOSE | tcp::CLOSE_WAIT | tcp::TIME_WAIT
    )
}

fn sctp_syncs(state: u16) -> bool {
    matches!(
        state,
        sctp::ESTABLISHED
            | sctp::SHUTDOWN_SENT
            | sctp::SHUTDOWN_RECEIVED
            | sctp::SHUTDOWN_ACK_SENT
            | sctp::CLOSED
    )
}

/// `ip_vs_sync_conn_needed`: decide whether `conn` is sent now, given its
/// packet count `pkts`, and record the decision in `conn.mark`.
/// `in_persistence` tells whether a template controls the connection
/// (directly or through its controllers).
pub fn should_sync(
    policy: &SyncPolicy,
    now: Duration,
    conn: &mut SyncConn,
    pkts: u32,
    in_persistence: bool,
) -> bool {
    let orig = conn.mark;
    let endtime = now + conn.timeout;
    let mut retries = 0;
    if conn.is_template() {
        // Templates: only the rate limits below apply.
    } else if policy.persist_mode && in_persistence {
        return false;
    } else if policy.first_packet && pkts == 1 {
        return set(conn, endtime, 0);
    } else if conn.protocol == IPPROTO_TCP || conn.protocol == IPPROTO_SCTP {
        let (syncs, es) = if conn.protocol == IPPROTO_TCP {
            (tcp_syncs(conn.state), tcp::ESTABLISHED)
        } else {
            (sctp_syncs(conn.state), sctp::ESTABLISHED)
        };
        if !syncs {
            return false;
        }
        // A change into a synced state other than ESTABLISHED goes out at once; a change
        // into ESTABLISHED waits for the packet-count rule below.
        if conn.state != orig.old_state && conn.state != es {
            return set(conn, endtime, 0);
        }
    }

    let refresh = policy.refresh_period;
    if refresh > Duration::ZERO {
        let diff = endtime.abs_diff(orig.sync_endtime);
        let min_diff = (conn.timeout / 2).max(Duration::from_secs(10));
        if diff < refresh.min(min_diff) {
            if orig.retries >= policy.retries {
                return false;
            }
            // Retry only 1/8 of the refresh period after the last send.
            let last_send = orig.sync_endtime.saturating_sub(conn.timeout);
            if now < last_send + refresh / 8 {
                return false;
            }
            retries = orig.retries + 1;
        }
    }
    if policy.period > 0 {
        if !conn.is_template() && pkts % policy.period != policy.threshold {
            return false;
        }
    } else if refresh == Duration::ZERO && pkts != policy.threshold {
        return false;
    }
    set(conn, endtime, retries)
}

fn set(conn: &mut SyncConn, endtime: Duration, retries: u8) -> bool {
    conn.mark = SyncMark {
        old_state: conn.state,
        sync_endtime: endtime,
        retries,
    };
    true
}

/// Master configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MasterConfig {
    /// Sync id written into every message.
    pub syncid: u8,
    /// Message format (`sync_version`).
    pub version: Version,
    /// Largest message (see [`sync_maxlen`]).
    pub maxlen: usize,
    /// Most messages waiting to be sent (`sync_qlen_max`).
    pub qlen_max: usize,
    /// When to send connections.
    pub policy: SyncPolicy,
}

impl Default for MasterConfig {
    fn default() -> Self {
        MasterConfig {
            syncid: 0,
            version: Version::V1,
            maxlen: sync_maxlen(Role::Master, false, 1500, None),
            qlen_max: 4096,
            policy: SyncPolicy::default(),
        }
    }
}

/// Counters of the master.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MasterStats {
    /// Entries appended to messages.
    pub entries: u64,
    /// Messages handed out by [`Master::poll_transmit`].
    pub messages_sent: u64,
    /// Messages dropped because the queue was full.
    pub messages_dropped: u64,
    /// Connections that could not be encoded (mixed families, v0 and IPv6, PE too long).
    pub encode_errors: u64,
}

#[derive(Debug)]
struct Current {
    msg: MessageBuilder,
    first_use: Duration,
}

/// The master sync state: current message and send queue.
#[derive(Debug)]
pub struct Master {
    cfg: MasterConfig,
    current: Option<Current>,
    queue: VecDeque<Vec<u8>>,
    stats: MasterStats,
}

impl Master {
    /// A master with an empty queue.
    pub fn new(cfg: MasterConfig) -> Self {
        Master {
            cfg,
            current: None,
            queue: VecDeque::new(),
            stats: MasterStats::default(),
        }
    }

    /// Configuration in use.
    pub fn config(&self) -> &MasterConfig {
        &self.cfg
    }

    /// Change `sync_version`; the next entry flushes a message of the old format.
    pub fn set_version(&mut self, version: Version) {
        self.cfg.version = version;
    }

    /// Change the sync policy (sysctls).
    pub fn set_policy(&mut self, policy: SyncPolicy) {
        self.cfg.policy = policy;
    }

    /// Counters.
    pub fn stats(&self) -> MasterStats {
        self.stats
    }

    /// Messages waiting in the queue (not counting the current one).
    pub fn queue_len(&self) -> usize {
        self.queue.len()
    }

    /// The datapath saw a client-to-server packet of `conn`. `controls` is
    /// the chain of its controllers, nearest first (a persistence template,
    /// or an FTP control connection and then its template). Bumps
    /// `in_pkts` as the kernel does and queues what must be sent. Returns
    /// how many entries were added.
    pub fn on_input_packet(
        &mut self,
        now: Duration,
        conn: &mut SyncConn,
        controls: &mut [&mut SyncConn],
    ) -> usize {
        let pkts = if conn.flags & flags::ONE_PACKET != 0 {
            self.cfg.policy.threshold
        } else {
            conn.in_pkts = conn.in_pkts.wrapping_add(1);
            conn.in_pkts
        };
        self.sync_conn(now, conn, pkts, controls)
    }

    /// `ip_vs_sync_conn`: consider `conn` at packet count `pkts`, then its
    /// controllers. Version 1 walks the whole chain (a one-packet or
    /// not-yet-due connection still lets its template be considered);
    /// version 0 (`ip_vs_sync_conn_v0`) stops at the first link that is
    /// not IPv4, is one-packet or is not due, so there a template is only
    /// sent right after a connection it controls. Returns how many entries
    /// were added.
    pub fn sync_conn(
        &mut self,
        now: Duration,
        conn: &mut SyncConn,
        pkts: u32,
        controls: &mut [&mut SyncConn],
    ) -> usize {
        let in_persistence = controls.iter().any(|c| c.is_template());
        let (mut added, go_on) = self.consider(now, conn, pkts, in_persistence);
        if !go_on {
            return added;
        }
        for i in 0..controls.len() {
            let (head, rest) = controls.split_at_mut(i + 1);
            let c = &mut *head[i];
            let in_persistence = rest.iter().any(|c| c.is_template());
            let pkts = if c.is_template() {
                c.in_pkts = c.in_pkts.wrapping_add(1);
                c.in_pkts
            } else {
                self.cfg.policy.threshold
            };
            let (n, go_on) = self.consider(now, c, pkts, in_persistence);
            added += n;
            if !go_on {
                break;
            }
        }
        added
    }

    /// One link of the chain: returns (entries added, whether to go on to
    /// the controller).
    fn consider(
        &mut self,
        now: Duration,
        c: &mut SyncConn,
        pkts: u32,
        in_persistence: bool,
    ) -> (usize, bool) {
        let ops = c.flags & flags::ONE_PACKET != 0;
        match self.cfg.version {
            Version::V1 => {
                let sent = !ops
                    && should_sync(&self.cfg.policy, now, c, pkts, in_persistence)
                    && self.append(now, c);
                (usize::from(sent), true)
            }
            Version::V0 => {
                if !c.caddr.is_ipv4() || ops {
                    return (0, false);
                }
                if !should_sync(&self.cfg.policy, now, c, pkts, in_persistence) {
                    return (0, false);
                }
                let sent = self.append(now, c);
                (usize::from(sent), true)
            }
        }
    }

    /// Append one connection to the current message, queueing the current
    /// message first when the entry does not fit or the format changed.
    fn append(&mut self, now: Duration, conn: &SyncConn) -> bool {
        let version = self.cfg.version;
        let entry = conn.entry();
        if version == Version::V0 && !conn.caddr.is_ipv4() {
            // The kernel's v0 path silently ignores non-IPv4 connections.
            return false;
        }
        let len = match wire::entry_len(version, &entry) {
            Ok(l) => l,
            Err(_) => {
                self.stats.encode_errors += 1;
                return false;
            }
        };
        if let Some(cur) = &self.current
            && (cur.msg.version() != version || !cur.msg.fits(len))
        {
            self.queue_current();
        }
        let maxlen = self.cfg.maxlen;
        let syncid = self.cfg.syncid;
        let cur = self.current.get_or_insert_with(|| Current {
            msg: MessageBuilder::new(version, syncid, maxlen, len),
            first_use: now,
        });
        match cur.msg.push(&entry) {
            Ok(()) => {
                self.stats.entries += 1;
                true
            }
            Err(EncodeError::Full) => false,
            Err(_) => {
                self.stats.encode_errors += 1;
                false
            }
        }
    }

    /// `sb_queue_tail`: move the current message to the send queue, or drop
    /// it when the queue holds `qlen_max` messages.
    fn queue_current(&mut self) {
        if let Some(cur) = self.current.take() {
            if self.queue.len() < self.cfg.qlen_max {
                self.queue.push_back(cur.msg.finish());
            } else {
                self.stats.messages_dropped += 1;
            }
        }
    }

    /// The next message to send: queued messages first, then the current
    /// one once it is [`FLUSH_TIME`] old.
    pub fn poll_transmit(&mut self, now: Duration) -> Option<Vec<u8>> {
        if let Some(m) = self.queue.pop_front() {
            self.stats.messages_sent += 1;
            return Some(m);
        }
        if let Some(cur) = &self.current
            && now.saturating_sub(cur.first_use) >= FLUSH_TIME
        {
            let cur = self.current.take()?;
            self.stats.messages_sent += 1;
            return Some(cur.msg.finish());
        }
        None
    }

    /// When [`Master::poll_transmit`] next has something: now if messages
    /// are queued, else when the current message turns 2 s old.
    pub fn next_deadline(&self, now: Duration) -> Option<Duration> {
        if !self.queue.is_empty() {
            return Some(now);
        }
        self.current.as_ref().map(|c| c.first_use + FLUSH_TIME)
    }

    /// Stop: drop the queue and the current message (the kernel frees them
    /// when the master thread stops). Returns how many messages were dropped.
    pub fn stop(&mut self) -> usize {
        let n = self.queue.len() + usize::from(self.current.is_some());
        self.queue.clear();
        self.current = None;
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{IPPROTO_UDP, tcp};

    fn conn(protocol: u8, state: u16) -> SyncConn {
        SyncConn {
            protocol,
            caddr: IpAddr::from([10, 0, 1, 2]),
            vaddr: IpAddr::from([10, 0, 1, 100]),
            daddr: IpAddr::from([10, 0, 2, 2]),
            cport: 41000,
            vport: 80,
            dport: 80,
            fwmark: 0,
            flags: 0,
            state,
            timeout: Duration::from_secs(900),
            in_pkts: 0,
            seq: None,
            pe: None,
            mark: SyncMark::default(),
        }
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn maxlen_rules() {
        // §3.3: 1472 for an IPv4 group, 1452 for IPv6, whatever the interface MTU.
        assert_eq!(sync_maxlen(Role::Master, false, 9000, None), 1472);
        assert_eq!(sync_maxlen(Role::Master, true, 1280, None), 1452);
        // A backup uses the interface MTU (clamped to 1500..65535).
        assert_eq!(sync_maxlen(Role::Backup, false, 9000, None), 8972);
        assert_eq!(sync_maxlen(Role::Backup, false, 1280, None), 1472);
        // User values are clamped to [1 or 1024, 65535 - headers].
        assert_eq!(sync_maxlen(Role::Master, false, 1500, Some(100)), 100);
        assert_eq!(sync_maxlen(Role::Backup, false, 1500, Some(100)), 1024);
        assert_eq!(sync_maxlen(Role::Master, false, 1500, Some(70000)), 65507);
        assert_eq!(sync_maxlen(Role::Master, true, 1500, Some(70000)), 65487);
    }

    #[test]
    fn tcp_threshold_3_then_every_50() {
        // A TCP connection that is ESTABLISHED from packet 2 on: the state change into
        // ESTABLISHED does not sync by itself; packets 3, 53, 103 do.
        let p = SyncPolicy::default();
        let mut c = conn(IPPROTO_TCP, tcp::SYN_RECV);
        let mut synced = vec![];
        for pkt in 1..=110u32 {
            if pkt == 2 {
                c.state = tcp::ESTABLISHED;
            }
            if should_sync(&p, secs(u64::from(pkt)), &mut c, pkt, false) {
                synced.push(pkt);
            }
        }
        assert_eq!(synced, vec![3, 53, 103]);
    }

    #[test]
    fn state_changes_sync_at_once() {
        let p = SyncPolicy::default();
        let mut c = conn(IPPROTO_TCP, tcp::ESTABLISHED);
        assert!(should_sync(&p, secs(1), &mut c, 3, false));
        assert!(!should_sync(&p, secs(1), &mut c, 4, false));
        c.state = tcp::FIN_WAIT;
        assert!(should_sync(&p, secs(2), &mut c, 5, false), "into FIN_WAIT");
        assert!(!should_sync(&p, secs(2), &mut c, 6, false), "no change");
        c.state = tcp::TIME_WAIT;
        assert!(should_sync(&p, secs(3), &mut c, 7, false), "into TIME_WAIT");
        c.state = tcp::LAST_ACK;
        assert!(
            !should_sync(&p, secs(3), &mut c, 53, false),
            "LAST_ACK never syncs"
        );
        c.state = tcp::SYN_RECV;
        assert!(
            !should_sync(&p, secs(3), &mut c, 3, false),
            "SYN_RECV never syncs"
        );
    }

    #[test]
    fn sctp_states() {
        use crate::proto::{IPPROTO_SCTP, sctp};
        let p = SyncPolicy::default();
        let mut c = conn(IPPROTO_SCTP, sctp::COOKIE_ECHOED);
        assert!(
            !should_sync(&p, secs(1), &mut c, 3, false),
            "handshake states never sync"
        );
        c.state = sctp::ESTABLISHED;
        assert!(
            !should_sync(&p, secs(1), &mut c, 2, false),
            "ESTABLISHED waits for the count"
        );
        assert!(should_sync(&p, secs(1), &mut c, 3, false));
        for st in [
            sctp::SHUTDOWN_SENT,
            sctp::SHUTDOWN_RECEIVED,
            sctp::SHUTDOWN_ACK_SENT,
            sctp::CLOSED,
        ] {
            c.state = st;
            assert!(
                should_sync(&p, secs(1), &mut c, 4, false),
                "change into {st}"
            );
            assert!(
                !should_sync(&p, secs(1), &mut c, 5, false),
                "no change at {st}"
            );
        }
        c.state = sctp::REJECTED;
        assert!(!should_sync(&p, secs(1), &mut c, 53, false));
    }

    #[test]
    fn udp_and_templates() {
        let p = SyncPolicy::default();
        let mut u = conn(IPPROTO_UDP, 0);
        let hits: Vec<u32> = (1..=60)
            .filter(|&n| should_sync(&p, secs(1), &mut u, n, false))
            .collect();
        assert_eq!(hits, vec![3, 53]);
        let mut t = conn(IPPROTO_TCP, 0);
        t.flags = flags::TEMPLATE;
        assert!((1..=5).all(|n| should_sync(&p, secs(1), &mut t, n, false)));
        // Period 0: once at the threshold (templates included), plus state changes.
        let p0 = SyncPolicy {
            period: 0,
            ..SyncPolicy::default()
        };
        let hits: Vec<u32> = (1..=60)
            .filter(|&n| should_sync(&p0, secs(1), &mut t, n, false))
            .collect();
        assert_eq!(hits, vec![3]);
    }

    #[test]
    fn persist_mode_skips_controlled_connections() {
        let p = SyncPolicy {
            persist_mode: true,
            ..SyncPolicy::default()
        };
        let mut c = conn(IPPROTO_TCP, tcp::ESTABLISHED);
        assert!(!should_sync(&p, secs(1), &mut c, 3, true));
        assert!(should_sync(&p, secs(1), &mut c, 3, false));
    }

    #[test]
    fn refresh_period_limits_resends() {
        // sync_refresh_period 60 s, period 0: ES connection sent at packet 3 (first
        // time: diff from endtime 0 is large), then not again until the remaining time
        // moved by 60 s (min(60, max(900/2, 10)) = 60).
        let p = SyncPolicy {
            period: 0,
            refresh_period: secs(60),
            ..SyncPolicy::default()
        };
        let mut c = conn(IPPROTO_TCP, tcp::ESTABLISHED);
        c.mark.old_state = tcp::ESTABLISHED;
        assert!(should_sync(&p, secs(100), &mut c, 3, false));
        assert!(!should_sync(&p, secs(130), &mut c, 4, false));
        assert!(!should_sync(&p, secs(159), &mut c, 5, false));
        assert!(should_sync(&p, secs(160), &mut c, 6, false));
        // With one retry: allowed once, 1/8 period (7.5 s) after the last send.
        let p = SyncPolicy { retries: 1, ..p };
        let mut c = conn(IPPROTO_TCP, tcp::ESTABLISHED);
        c.mark.old_state = tcp::ESTABLISHED;
        assert!(should_sync(&p, secs(100), &mut c, 3, false));
        assert!(!should_sync(&p, secs(107), &mut c, 4, false));
        assert!(should_sync(&p, secs(108), &mut c, 5, false));
        assert_eq!(c.mark.retries, 1);
        assert!(!should_sync(&p, secs(120), &mut c, 6, false));
    }

    #[test]
    fn first_packet_extension() {
        let p = SyncPolicy {
            first_packet: true,
            ..SyncPolicy::default()
        };
        let mut c = conn(IPPROTO_TCP, tcp::SYN_RECV);
        assert!(should_sync(&p, secs(1), &mut c, 1, false));
        assert!(!should_sync(&p, secs(1), &mut c, 2, false));
    }

    #[test]
    fn template_goes_out_with_the_first_packet() {
        let mut m = Master::new(MasterConfig {
            syncid: 7,
            ..MasterConfig::default()
        });
        let mut t = conn(IPPROTO_TCP, 0);
        t.flags = flags::TEMPLATE | flags::NO_CPORT;
        t.cport = 0;
        t.timeout = secs(60);
        let mut c = conn(IPPROTO_TCP, tcp::SYN_RECV);
        let mut added = vec![];
        for pkt in 1..=3 {
            if pkt == 2 {
                c.state = tcp::ESTABLISHED;
            }
            added.push(m.on_input_packet(secs(10), &mut c, &mut [&mut t]));
        }
        // Packet 1: template only; 2: template only; 3: connection then template.
        assert_eq!(added, vec![1, 1, 2]);
        assert_eq!((c.in_pkts, t.in_pkts), (3, 3));
        assert_eq!(m.poll_transmit(secs(11)), None);
        let msg = m.poll_transmit(secs(12)).unwrap();
        let parsed = wire::parse(&msg).unwrap();
        let kinds: Vec<bool> = parsed.entries().map(|e| e.unwrap().is_template()).collect();
        assert_eq!(kinds, vec![true, true, false, true]);
    }

    #[test]
    fn batching_queue_and_overflow() {
        let mut m = Master::new(MasterConfig {
            maxlen: 100,
            qlen_max: 2,
            ..MasterConfig::default()
        });
        let mut c = conn(IPPROTO_TCP, tcp::ESTABLISHED);
        // Each call with pkts = 3 sends the connection (mark reset in between).
        for i in 0..7u16 {
            c.cport = 1000 + i;
            c.mark = SyncMark::default();
            c.mark.old_state = tcp::ESTABLISHED;
            assert_eq!(m.sync_conn(secs(1), &mut c, 3, &mut []), 1);
        }
        // 2 entries per message: 3 full messages were closed, only 2 fit in the
        // queue; the 7th entry is in the current message.
        assert_eq!(m.queue_len(), 2);
        assert_eq!(m.stats().messages_dropped, 1);
        assert_eq!(m.next_deadline(secs(1)), Some(secs(1)));
        let a = m.poll_transmit(secs(1)).unwrap();
        assert_eq!(a.len(), 8 + 2 * 36);
        assert!(m.poll_transmit(secs(1)).is_some());
        assert_eq!(m.poll_transmit(secs(2)), None);
        assert_eq!(m.next_deadline(secs(2)), Some(secs(3)));
        let last = m.poll_transmit(secs(3)).unwrap();
        assert_eq!(last.len(), 8 + 36);
    }

    #[test]
    fn version_switch_flushes_and_v0_skips_ipv6() {
        let mut m = Master::new(MasterConfig::default());
        let mut c = conn(IPPROTO_TCP, tcp::ESTABLISHED);
        c.mark.old_state = tcp::ESTABLISHED;
        m.sync_conn(secs(1), &mut c, 3, &mut []);
        m.set_version(Version::V0);
        c.mark = SyncMark::default();
        c.mark.old_state = tcp::ESTABLISHED;
        m.sync_conn(secs(1), &mut c, 3, &mut []);
        assert_eq!(m.queue_len(), 1);
        let mut c6 = conn(IPPROTO_TCP, tcp::ESTABLISHED);
        c6.caddr = "fd00::2".parse().unwrap();
        c6.vaddr = "fd00::100".parse().unwrap();
        c6.daddr = "fd00:2::2".parse().unwrap();
        c6.mark.old_state = tcp::ESTABLISHED;
        assert_eq!(m.sync_conn(secs(1), &mut c6, 3, &mut []), 0);
        let v1 = m.poll_transmit(secs(1)).unwrap();
        assert_eq!(wire::parse(&v1).unwrap().version, Version::V1);
        let v0 = m.poll_transmit(secs(3)).unwrap();
        assert_eq!(wire::parse(&v0).unwrap().version, Version::V0);
        assert_eq!(v0.len(), 4 + 24);
    }

    #[test]
    fn one_packet_connections_are_never_sent() {
        let mut m = Master::new(MasterConfig::default());
        let mut c = conn(IPPROTO_UDP, 0);
        c.flags = flags::ONE_PACKET;
        let mut t = conn(IPPROTO_UDP, 0);
        t.flags = flags::TEMPLATE;
        // v1: the OPS connection is skipped but its template is considered.
        assert_eq!(m.on_input_packet(secs(1), &mut c, &mut [&mut t]), 1);
        assert_eq!(c.in_pkts, 0);
        assert_eq!(t.in_pkts, 1);
    }
}
