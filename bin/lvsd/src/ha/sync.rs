//! The connection sync daemons: what `ipvsadm --start-daemon master|backup`
//! starts in the kernel (`ip_vs_sync.c`), over `lvs-sync`'s pure rules.
//!
//! Contract:
//! - **Which daemons run** follows the control's daemon list
//!   (`Request::StartDaemon` / `StopDaemon`, from `ipvsadm` or from a
//!   keepalived.conf's `lvs_sync_daemon`): one thread, `lvsd-sync`,
//!   re-reads it after every control request (the generation counter) and
//!   every 100 ms (the VRRP driver changes it on transitions), and opens or
//!   closes the sockets. A socket that cannot be opened is logged
//!   and retried every second.
//! - **Master**: a UDP socket bound to the interface (`SO_BINDTODEVICE`,
//!   `IP_MULTICAST_IF`, source = the interface's first IPv4 address),
//!   multicast TTL `--mcast-ttl` (default 1), no loopback, sending to
//!   `--mcast-group:--mcast-port` (default 224.0.0.81:8848; an IPv6 group
//!   is sent on the interface with hop limit `--mcast-ttl`, and lowers the
//!   default `sync_maxlen` to 1452 as in the kernel). While it runs,
//!   the data path's sync-out ring is enabled in the shared `Ipvs`
//!   (`lvs_core::conn::sync_out`, 4096 slots): `conn_in` offers the
//!   connections the kernel could send at that packet, and every 5 ms the
//!   thread drains the ring under the control lock and runs
//!   `lvs_sync::Master::sync_conn` on each (with the connection's
//!   controlling template), which applies the kernel's exact rules
//!   (`sync_threshold` 3 50: the 3rd packet, then every 50th; a change into
//!   FIN_WAIT/CLOSE/CLOSE_WAIT/TIME_WAIT at once; templates on every packet
//!   of the connections they control; one-packet connections never) and
//!   batches entries into version 1 messages of at most `sync_maxlen`
//!   bytes. Full messages leave at once, a partly filled one 2 s after its
//!   first entry (`IPVS_SYNC_FLUSH_TIME`), as in the kernel. The
//!   per-connection "state when last sent" is kept here, keyed by the
//!   connection's addresses, and forgotten once its announced expiry is a
//!   minute past.
//! - **Sync on the first packet** (an extension, off by default, the
//!   kernel waits for the third): `LVSD_SYNC_FIRST_PACKET=1` in lvsd's
//!   environment also sends a new connection at its first packet, so a
//!   backup learns it before the handshake completes (still subject to the
//!   2 s flush of a partly filled message).
//! - **Backup**: a UDP socket bound to `group:port` on the interface, joined
//!   to the group there; each datagram is validated by
//!   `lvs_sync::backup::process` (size, sync id with 0 = any, version; v0
//!   and v1) and its entries are applied with `Ipvs::insert_synced` under
//!   one lock per datagram: **templates first**, then the connections, with
//!   the timeout the message carries (v1) or the state's (v0).
//! - **Stop**: `--stop-daemon` closes the socket; a master's queued
//!   messages are dropped and the ring disabled, as the kernel frees them.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4, SocketAddrV6, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use lvs_core::conn::sync_out::{SyncOutEvent, SyncOutFilter};
use lvs_core::conn::{ConnInfo, SyncedConn};
use lvs_core::{Ipvs, Time};
use lvs_proto::{DaemonEntry, DaemonState, Request, Response};
use lvs_sync::master::{Role, sync_maxlen};
use lvs_sync::{BackupConfig, Master, MasterConfig, SyncConn, SyncMark, SyncPolicy};
use socket2::{Domain, Protocol, Socket, Type};

use crate::server::Shared;

/// Slots of the data path's sync-out ring.
const RING: usize = 4096;
/// How often the master drains the ring (and the backup's receive timeout).
const TICK: Duration = Duration::from_millis(5);
/// Retry period of a daemon whose socket could not be opened.
const RETRY: Duration = Duration::from_secs(1);
/// How often the daemon list is re-read without a control request.
const RELIST: Duration = Duration::from_millis(100);
/// Largest datagram received.
const RX_BUF: usize = 65536;

/// The running sync thread.
#[derive(Debug)]
pub struct SyncDaemons {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl SyncDaemons {
    /// Stops the thread (and closes its sockets).
    pub fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        if self.thread.join().is_err() {
            tracing::error!("sync thread panicked");
        }
    }
}

/// Starts the thread that runs whatever sync daemons the control lists.
pub fn start(shared: Arc<Shared>) -> std::io::Result<SyncDaemons> {
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    let first_packet = std::env::var("LVSD_SYNC_FIRST_PACKET").is_ok_and(|v| v == "1");
    let thread = std::thread::Builder::new()
        .name("lvsd-sync".into())
        .spawn(move || run(&shared, &stop2, first_packet))?;
    Ok(SyncDaemons { stop, thread })
}

/// What identifies a connection across slot reuse.
type MarkKey = (u8, IpAddr, u16, IpAddr, u16, bool);

fn mark_key(i: &ConnInfo) -> MarkKey {
    (
        i.protocol,
        i.caddr,
        i.cport,
        i.vaddr,
        i.vport,
        i.is_template(),
    )
}

struct MasterDaemon {
    cfg: DaemonEntry,
    socket: UdpSocket,
    dst: SocketAddr,
    core: MasterCore,
}

/// The master's decisions, without the socket.
#[derive(Debug)]
struct MasterCore {
    master: Master,
    marks: HashMap<MarkKey, SyncMark>,
    ids: Vec<SyncOutEvent>,
    last_prune: Duration,
}

struct BackupDaemon {
    cfg: DaemonEntry,
    socket: UdpSocket,
    buf: Vec<u8>,
    updates: Vec<SyncedConn>,
    received: u64,
    applied: u64,
}

fn group_of(cfg: &DaemonEntry) -> SocketAddr {
    let group = cfg
        .mcast_group
        .unwrap_or(IpAddr::V4(Ipv4Addr::new(224, 0, 0, 81)));
    SocketAddr::new(group, cfg.mcast_port.unwrap_or(8848))
}

fn no_interface() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::NotFound, "no such interface")
}

fn open_master(cfg: &DaemonEntry, first_packet: bool) -> std::io::Result<MasterDaemon> {
    let group = group_of(cfg);
    let (index, addr) = super::interface_v4(&cfg.mcast_ifn).ok_or_else(no_interface)?;
    let ttl = u32::from(cfg.mcast_ttl.unwrap_or(1));
    let s = match group {
        SocketAddr::V4(_) => {
            let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
            s.bind_device(Some(cfg.mcast_ifn.as_bytes()))?;
            if let Some(a) = addr {
                s.set_multicast_if_v4(&a)?;
                s.bind(&SocketAddr::V4(SocketAddrV4::new(a, 0)).into())?;
            }
            s.set_multicast_ttl_v4(ttl)?;
            s.set_multicast_loop_v4(false)?;
            s
        }
        SocketAddr::V6(_) => {
            let s = Socket::new(Domain::IPV6, Type::DGRAM, Some(Protocol::UDP))?;
            s.bind_device(Some(cfg.mcast_ifn.as_bytes()))?;
            s.set_multicast_if_v6(index)?;
            s.set_multicast_hops_v6(ttl)?;
            s.set_multicast_loop_v6(false)?;
            s
        }
    };
    s.set_nonblocking(true)?;
    let dst = match group {
        // A link-scoped group needs the interface as its scope.
        SocketAddr::V6(g) => SocketAddr::V6(SocketAddrV6::new(*g.ip(), g.port(), 0, index)),
        v4 => v4,
    };
    let maxlen = sync_maxlen(
        Role::Master,
        group.is_ipv6(),
        1500,
        cfg.sync_maxlen.map(u32::from),
    );
    Ok(MasterDaemon {
        cfg: cfg.clone(),
        socket: s.into(),
        dst,
        core: MasterCore::new(cfg.syncid, maxlen, first_packet),
    })
}

fn open_backup(cfg: &DaemonEntry) -> std::io::Result<BackupDaemon> {
    let group = group_of(cfg);
    let (index, addr) = super::interface_v4(&cfg.mcast_ifn).ok_or_else(no_interface)?;
    let s = match group {
        SocketAddr::V4(g) => {
            let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
            s.set_reuse_address(true)?;
            s.bind_device(Some(cfg.mcast_ifn.as_bytes()))?;
            s.bind(&group.into())?;
            match addr {
                Some(a) => s.join_multicast_v4(g.ip(), &a)?,
                None => {
                    s.join_multicast_v4_n(g.ip(), &socket2::InterfaceIndexOrAddress::Index(index))?
                }
            }
            s
        }
        SocketAddr::V6(g) => {
            let s = Socket::new(Domain::IPV6, Type::DGRAM, Some(Protocol::UDP))?;
            s.set_reuse_address(true)?;
            s.set_only_v6(true)?;
            s.bind_device(Some(cfg.mcast_ifn.as_bytes()))?;
            s.bind(&SocketAddr::V6(SocketAddrV6::new(*g.ip(), g.port(), 0, index)).into())?;
            s.join_multicast_v6(g.ip(), index)?;
            s
        }
    };
    s.set_read_timeout(Some(TICK))?;
    Ok(BackupDaemon {
        cfg: cfg.clone(),
        socket: s.into(),
        buf: vec![0; RX_BUF],
        updates: Vec::new(),
        received: 0,
        applied: 0,
    })
}

fn since_epoch(t: Time) -> Duration {
    Duration::from_millis(t.0)
}

fn sync_conn(i: &ConnInfo, mark: SyncMark) -> SyncConn {
    SyncConn {
        protocol: i.protocol,
        caddr: i.caddr,
        vaddr: i.vaddr,
        daddr: i.daddr,
        cport: i.cport,
        vport: i.vport,
        dport: i.dport,
        fwmark: i.fwmark,
        flags: i.flags,
        state: u16::from(i.state),
        timeout: Duration::from_secs(u64::from(i.timeout)),
        in_pkts: i.in_pkts,
        seq: None,
        pe: None,
        mark,
    }
}

impl MasterCore {
    fn new(syncid: u8, maxlen: usize, first_packet: bool) -> MasterCore {
        MasterCore {
            master: Master::new(MasterConfig {
                syncid,
                maxlen,
                policy: SyncPolicy {
                    first_packet,
                    ..SyncPolicy::default()
                },
                ..MasterConfig::default()
            }),
            marks: HashMap::new(),
            ids: Vec::with_capacity(RING),
            last_prune: Duration::ZERO,
        }
    }

    /// Drain the ring and queue what the kernel's rules send (under the
    /// control lock, which the caller holds through `ipvs`).
    fn collect(&mut self, ipvs: &mut Ipvs, now: Duration) {
        self.ids.clear();
        ipvs.drain_sync_out(&mut self.ids);
        for ev in &self.ids {
            let Some(info) = ipvs.conn_info(ev.conn) else {
                continue;
            };
            let key = mark_key(&info);
            let mut conn = sync_conn(&info, self.marks.get(&key).copied().unwrap_or_default());
            let control = info.control.and_then(|c| ipvs.conn_info(c));
            // The count at the packet that offered it, as the kernel
            // decides in the packet's own path.
            let pkts = ev.in_pkts;
            match control {
                Some(ct) => {
                    let ckey = mark_key(&ct);
                    let mut t = sync_conn(&ct, self.marks.get(&ckey).copied().unwrap_or_default());
                    self.master.sync_conn(now, &mut conn, pkts, &mut [&mut t]);
                    self.marks.insert(ckey, t.mark);
                }
                None => {
                    self.master.sync_conn(now, &mut conn, pkts, &mut []);
                }
            }
            if conn.mark != SyncMark::default() {
                self.marks.insert(key, conn.mark);
            }
        }
        if now.saturating_sub(self.last_prune) > Duration::from_secs(10) {
            self.last_prune = now;
            let horizon = now.saturating_sub(Duration::from_secs(60));
            self.marks.retain(|_, m| m.sync_endtime > horizon);
        }
    }
}

impl MasterDaemon {
    fn transmit(&mut self, now: Duration) {
        while let Some(msg) = self.core.master.poll_transmit(now) {
            match self.socket.send_to(&msg, self.dst) {
                Ok(n) => tracing::debug!("sync master: sent {n} bytes to {}", self.dst),
                Err(e) => tracing::debug!("sync master: send failed: {e}"),
            }
        }
    }
}

impl BackupDaemon {
    /// Receive what is waiting (up to the read timeout) and apply it.
    fn receive(&mut self, shared: &Shared) {
        for _ in 0..64 {
            let n = match self.socket.recv_from(&mut self.buf) {
                Ok((n, _)) => n,
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return;
                }
                Err(e) => {
                    tracing::debug!("sync backup: receive failed: {e}");
                    return;
                }
            };
            self.received += 1;
            tracing::debug!("sync backup: received {n} bytes");
            self.apply(shared, n);
            // Later datagrams without waiting.
            if self.socket.set_nonblocking(true).is_err() {
                return;
            }
        }
    }

    fn apply(&mut self, shared: &Shared, n: usize) {
        let data = self.buf.get(..n).unwrap_or_default();
        decode(self.cfg.syncid, data, &mut self.updates);
        if self.updates.is_empty() {
            return;
        }
        let mut control = shared.lock();
        let now = shared.now();
        let applied = apply_updates(&mut control.ipvs, now, &self.updates);
        self.applied += applied as u64;
        tracing::debug!(
            "sync backup: {applied} of {} entries applied",
            self.updates.len()
        );
    }
}

/// Validate a datagram for sync id `syncid` and turn its entries into
/// `updates`, templates first.
fn decode(syncid: u8, data: &[u8], updates: &mut Vec<SyncedConn>) {
    let cfg = BackupConfig {
        syncid,
        ..BackupConfig::default()
    };
    updates.clear();
    let res = lvs_sync::backup::process(&cfg, data, |r| match r {
        Ok(u) => updates.push(SyncedConn {
            protocol: u.entry.protocol,
            caddr: u.entry.caddr,
            cport: u.entry.cport,
            vaddr: u.entry.vaddr,
            vport: u.entry.vport,
            daddr: u.entry.daddr,
            dport: u.entry.dport,
            flags: u.flags,
            state: u8::try_from(u.state).unwrap_or(u8::MAX),
            timeout: u
                .timeout_from_message
                .then(|| u32::try_from(u.timeout.as_secs()).unwrap_or(u32::MAX)),
            fwmark: u.entry.fwmark,
        }),
        Err(skip) => tracing::debug!("sync backup: entry skipped: {skip}"),
    });
    if let Err(e) = res {
        tracing::debug!("sync backup: datagram dropped: {e}");
    }
    // Templates before the connections they control (a stable sort keeps
    // the message order otherwise).
    updates.sort_by_key(|u| u.flags & lvs_sync::flags::TEMPLATE == 0);
}

/// Apply decoded updates; returns how many made or refreshed an entry.
fn apply_updates(ipvs: &mut Ipvs, now: Time, updates: &[SyncedConn]) -> usize {
    updates
        .iter()
        .filter(|u| ipvs.insert_synced(now, u).is_some())
        .count()
}

/// The daemons the control lists now.
fn listed(shared: &Shared) -> Vec<DaemonEntry> {
    let mut control = shared.lock();
    let now = shared.now();
    match control.handle(now, Request::ListDaemons) {
        Response::Daemons(d) => d,
        _ => Vec::new(),
    }
}

fn run(shared: &Shared, stop: &AtomicBool, first_packet: bool) {
    let mut master: Option<MasterDaemon> = None;
    let mut backup: Option<BackupDaemon> = None;
    let mut seen_generation = u64::MAX;
    let mut retry_at: Option<Instant> = None;
    let mut listed_at = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        let generation = shared.generation();
        // The VRRP driver starts and stops daemons without a socket request:
        // re-read the list now and then too.
        if generation != seen_generation
            || retry_at.is_some_and(|t| Instant::now() >= t)
            || listed_at.elapsed() >= RELIST
        {
            seen_generation = generation;
            retry_at = None;
            listed_at = Instant::now();
            let want = listed(shared);
            let want_master = want.iter().find(|d| d.state == DaemonState::Master);
            let want_backup = want.iter().find(|d| d.state == DaemonState::Backup);
            if master.as_ref().map(|m| &m.cfg) != want_master {
                if let Some(m) = master.take() {
                    let lost = {
                        let mut control = shared.lock();
                        let lost = control.ipvs.sync_out().lost();
                        control.ipvs.set_sync_out(None, 0);
                        lost
                    };
                    tracing::info!(
                        "sync master on {} stopped ({:?}, {lost} ring overflows)",
                        m.cfg.mcast_ifn,
                        m.core.master.stats()
                    );
                }
                if let Some(cfg) = want_master {
                    match open_master(cfg, first_packet) {
                        Ok(m) => {
                            let filter = SyncOutFilter {
                                first_packet,
                                ..SyncOutFilter::default()
                            };
                            shared.lock().ipvs.set_sync_out(Some(filter), RING);
                            tracing::info!(
                                "sync master on {} (syncid {}) sending to {}",
                                cfg.mcast_ifn,
                                cfg.syncid,
                                m.dst
                            );
                            master = Some(m);
                        }
                        Err(e) => {
                            tracing::error!("sync master on {}: {e}", cfg.mcast_ifn);
                            retry_at = Some(Instant::now() + RETRY);
                        }
                    }
                }
            }
            if backup.as_ref().map(|b| &b.cfg) != want_backup {
                if let Some(b) = backup.take() {
                    tracing::info!(
                        "sync backup on {} stopped ({} datagrams, {} entries applied)",
                        b.cfg.mcast_ifn,
                        b.received,
                        b.applied
                    );
                }
                if let Some(cfg) = want_backup {
                    match open_backup(cfg) {
                        Ok(b) => {
                            tracing::info!(
                                "sync backup on {} (syncid {}) listening",
                                cfg.mcast_ifn,
                                cfg.syncid
                            );
                            backup = Some(b);
                        }
                        Err(e) => {
                            tracing::error!("sync backup on {}: {e}", cfg.mcast_ifn);
                            retry_at = Some(Instant::now() + RETRY);
                        }
                    }
                }
            }
        }
        if let Some(m) = master.as_mut() {
            let now = {
                let mut control = shared.lock();
                let now = since_epoch(shared.now());
                m.core.collect(&mut control.ipvs, now);
                now
            };
            m.transmit(now);
        }
        match backup.as_mut() {
            Some(b) => {
                // Waits up to TICK for the first datagram.
                let _ = b.socket.set_nonblocking(false);
                b.receive(shared);
            }
            None => std::thread::sleep(TICK),
        }
    }
    if master.is_some() {
        shared.lock().ipvs.set_sync_out(None, 0);
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use lvs_core::conn::PacketMeta;
    use lvs_core::conn::tcp::flags::{ACK, SYN};
    use lvs_core::sched::XorShiftRandom;
    use lvs_core::{DestConfig, FwdMethod, Protocol, ServiceConfig, ServiceKey};

    use super::*;

    const VIP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 100);

    fn key() -> ServiceKey {
        ServiceKey::Addr {
            proto: Protocol::Tcp,
            addr: VIP.into(),
            port: 80,
        }
    }

    /// A DR director with one real server; `persistent` adds persistence.
    fn director(persistent: bool) -> Ipvs {
        let mut ipvs = Ipvs::new();
        let mut svc = ServiceConfig::new(key()).with_scheduler("rr");
        if persistent {
            svc = svc.with_persistence(300);
        }
        ipvs.add_service(svc).unwrap();
        ipvs.add_dest(
            &key(),
            DestConfig::new(Ipv4Addr::new(10, 0, 1, 1).into(), 80).with_fwd(FwdMethod::Route),
        )
        .unwrap();
        ipvs
    }

    /// `n` client packets of the connection from port `cport`: SYN, then
    /// ACKs.
    fn packets(ipvs: &mut Ipvs, now: Time, cport: u16, n: usize) {
        let mut rng = XorShiftRandom(7);
        for i in 0..n {
            let flags = if i == 0 { SYN } else { ACK };
            let pkt = PacketMeta::tcp(
                (Ipv4Addr::new(10, 0, 2, 2).into(), cport),
                (VIP.into(), 80),
                flags,
            );
            ipvs.conn_in(now, &pkt, &mut rng);
        }
    }

    /// Runs the master over `ipvs`'s ring and returns every message it
    /// sends within 3 s (its partly filled message leaves after 2 s).
    fn master_messages(ipvs: &mut Ipvs, core: &mut MasterCore) -> Vec<Vec<u8>> {
        core.collect(ipvs, Duration::from_secs(1));
        let mut out = Vec::new();
        while let Some(m) = core.master.poll_transmit(Duration::from_secs(4)) {
            out.push(m);
        }
        out
    }

    fn client_ports(ipvs: &Ipvs) -> Vec<(u16, u8, bool)> {
        let mut v: Vec<(u16, u8, bool)> = ipvs
            .conns()
            .map(|c| (c.cport, c.state, c.is_template()))
            .collect();
        v.sort_unstable();
        v
    }

    fn enable(ipvs: &mut Ipvs, first_packet: bool) {
        ipvs.set_sync_out(
            Some(SyncOutFilter {
                first_packet,
                ..SyncOutFilter::default()
            }),
            RING,
        );
    }

    #[test]
    fn backup_learns_connections_from_their_third_packet() {
        let mut master = director(false);
        enable(&mut master, false);
        let now = Time(1000);
        packets(&mut master, now, 40001, 3); // SYN, ACK, ACK: synced at the 3rd
        packets(&mut master, now, 40002, 2); // not yet
        let mut core = MasterCore::new(9, 1472, false);
        let msgs = master_messages(&mut master, &mut core);
        assert_eq!(msgs.len(), 1);

        let mut backup = director(false);
        let mut updates = Vec::new();
        decode(9, &msgs[0], &mut updates);
        assert_eq!(apply_updates(&mut backup, now, &updates), 1);
        let es = lvs_core::conn::TcpState::Established as u8;
        assert_eq!(client_ports(&backup), [(40001, es, false)]);
        // Bound to the local real server, with the master's timeout (the
        // ESTABLISHED one, 900 s).
        let c = backup.conns().next().unwrap();
        assert!(c.dest.is_some());
        assert_eq!(c.timeout, 900);
        // Another sync id is ignored.
        decode(8, &msgs[0], &mut updates);
        assert!(updates.is_empty());
    }

    #[test]
    fn first_packet_option_sends_a_connection_at_its_syn() {
        let mut master = director(false);
        enable(&mut master, true);
        let now = Time(1000);
        packets(&mut master, now, 40002, 1);
        let mut core = MasterCore::new(0, 1472, true);
        let msgs = master_messages(&mut master, &mut core);
        assert_eq!(msgs.len(), 1);
        let mut backup = director(false);
        let mut updates = Vec::new();
        decode(0, &msgs[0], &mut updates);
        apply_updates(&mut backup, now, &updates);
        let ports: Vec<u16> = client_ports(&backup).iter().map(|c| c.0).collect();
        assert_eq!(ports, [40002]);
    }

    #[test]
    fn persistence_template_reaches_the_backup_first() {
        let mut master = director(true);
        enable(&mut master, false);
        let now = Time(1000);
        packets(&mut master, now, 40003, 3);
        let mut core = MasterCore::new(0, 1472, false);
        let msgs = master_messages(&mut master, &mut core);
        let mut updates = Vec::new();
        decode(0, &msgs[0], &mut updates);
        // The kernel's order puts the template after the connection that
        // triggered it (and on every packet before): the backup applies
        // templates first.
        assert!(updates.len() >= 2, "{updates:?}");
        assert!(updates[0].flags & lvs_sync::flags::TEMPLATE != 0);
        let mut backup = director(true);
        apply_updates(&mut backup, now, &updates);
        let entries = client_ports(&backup);
        assert!(entries.iter().any(|e| e.2), "template: {entries:?}");
        assert!(entries.iter().any(|e| e.0 == 40003), "{entries:?}");
    }
}
