//! Per-packet connection logic of the director, without packet rewriting:
//! what `ip_vs_in_hook` / `ip_vs_out_hook` decide (`ip_vs_core.c`), as a
//! pure API the datapath calls with a [`PacketMeta`] and the current time.
//!
//! [`Ipvs::conn_in`] (client → server), in the kernel's order:
//! 1. due timers run first ([`Ipvs::expire`]), so a packet never meets a
//!    connection the kernel's timer would already have removed;
//! 2. look the connection up by `<proto, saddr, sport, daddr, dport>`;
//! 3. **reuse**: a connection-opening packet (TCP SYN, SCTP INIT) that hits
//!    an existing connection reschedules when `expire_nodest_conn` is on
//!    and the destination's weight is 0 (any `conn_reuse_mode`), or when
//!    `conn_reuse_mode != 0` and the connection is not controlled by a
//!    template and is TCP TIME_WAIT or CLOSE, TCP FIN_WAIT with `NOOUTPUT`
//!    when `conn_reuse_mode & 2`, or SCTP CLOSED. The old connection
//!    expires at once (unless it controls others). `conntrack` is taken
//!    as 0, so no packet is dropped for an old conntrack entry;
//! 4. a connection whose destination was removed (not AVAILABLE) expires
//!    at once when `expire_nodest_conn` is on and the packet goes on to be
//!    scheduled like a new one; otherwise the packet is dropped;
//! 5. no connection: TCP schedules only on a SYN without RST (any non-RST
//!    segment with `sloppy_tcp`), SCTP only on INIT (any non-ABORT chunk
//!    with `sloppy_sctp`), UDP always; else the packet passes;
//! 6. service lookup: the fwmark service of the packet's family, then
//!    `<proto, vaddr, vport>`, then `<proto, vaddr, 0>`. **Left out**: the
//!    FTP rule (port-21 service for data connections) and the FTP/bypass
//!    branches of `ip_vs_leave`;
//! 7. `ip_vs_schedule`: client port 20 (FTP data) is never scheduled
//!    (pass); persistent services go through templates (below); a
//!    non-persistent port-0 service schedules nothing and answers as "no
//!    destination" (ICMP); the scheduler runs through
//!    [`crate::sched::Scheduler::schedule`]; no destination → [`InVerdict::NoDest`];
//! 8. one-packet (`-o`) UDP connections are built, counted and dropped
//!    again after the packet, never inserted;
//! 9. counters: a new connection counts `conns` on the destination, the
//!    service and globally; every packet counts `inpkts`/`inbytes` on
//!    the three when the destination is available;
//! 10. the state machine runs (INPUT, or INPUT_ONLY for `NOOUTPUT`), then
//!     the timer is re-armed at `now + timeout of the new state`.
//!
//! Persistence (`ip_vs_sched_persist`, `ip_vs_check_template`): the
//! template key is `<proto, caddr & mask, 0, vaddr, vport>` where vport is
//! the packet's port if it is the service port (0 for a port-21 service),
//! or `<IP, caddr & mask, 0, fwmark, 0>` for fwmark services, or
//! `<proto, caddr & mask, 0, vaddr, 0>` for port-0 services. A template is
//! good while its destination is AVAILABLE and, with
//! `expire_quiescent_template`, has weight > 0; a bad one is re-keyed with
//! ports 0xffff (no longer found) and left to expire. A new template gets
//! the service's persistence timeout; every connection made through it
//! re-arms it for its timeout. The connection's real port is the
//! destination's when the packet hit the service port, else the packet's
//! own (fwmark and port-0 services).
//!
//! [`Ipvs::conn_out`] (server → client): reply lookup by `<proto, saddr,
//! sport, daddr, dport>` among NAT/FULLNAT connections, else — as the
//! kernel's `ip_vs_conn_out_get` does — a DR/TUN/local connection whose
//! `vaddr:vport → caddr:cport` the packet carries (a reply that passes the
//! director: no rewriting, but counted, and its OUTPUT transition clears
//! `NOOUTPUT`); `outpkts`/`outbytes`, OUTPUT state transition, timer
//! re-arm. No connection → pass (`nat_icmp_send` is not modelled).
//! [`Ipvs::conn_reply`] is `conn_lookup_out` then `conn_out` for a data
//! path, with one hash lookup when the reply index holds the connection.
//!
//! Per-packet cost on an established connection: one keyed hash and probe
//! per index consulted, no allocation; the timer check is inline (nothing
//! due: a comparison per family) and a re-arm only rewrites the deadline
//! unless it moves earlier (see `conn/wheel.rs`).
//!
//! Not modelled: the defense strategies (`drop_packet`, `drop_entry`,
//! `amemthresh`; `secure_tcp` is), persistence engines (`--pe sip`),
//! `cache_bypass`, ICMP error relaying, IPv6 fragments (packets are taken
//! as reassembled), local-client special cases.
//!
//! Cost per packet on an existing connection: one hash of the key, one
//! probe sequence in the client index, one state-table lookup, O(1) timer
//! re-arm; no allocation.

use std::net::IpAddr;

use super::Ipvs;
use crate::addr::Af;
use crate::conn::family::{Family, V4, V6};
use crate::conn::table::{Entry, InKey, OutKey};
use crate::conn::tcp::{self, Dir, TcpState};
use crate::conn::wheel::NIL;
use crate::conn::{
    ConnId, ConnInfo, ConnState, DropReason, FULLNAT_MIN_PORT, InForward, InVerdict, OutForward,
    OutVerdict, PacketMeta, SctpState, SyncedConn, Sysctls, Timeouts, flags, sctp, template_state,
};
use crate::dest::{ConnCount, DestId, FwdMethod, TunnelConfig};
use crate::sched::{RandomSource, SchedRequest};
use crate::service::{Protocol, ServiceFlags, ServiceId, ServiceKey};
use crate::time::Time;

/// FTP control port (`FTPPORT`).
const FTP_PORT: u16 = 21;
/// FTP data port (`FTPDATA`): never scheduled as a client port.
const FTP_DATA_PORT: u16 = 20;
/// Re-arm period of a template that still controls connections.
const TEMPLATE_REARM_SECS: u32 = 60;
/// Timeout of a template created from a v0 sync message.
const SYNC_TEMPLATE_SECS: u32 = 3 * 60;
/// Timeout of a connection before its first state transition.
const INITIAL_TIMEOUT_SECS: u32 = 3;

/// Outcome of trying to schedule a packet without a connection.
enum Sched {
    Conn(u32),
    Verdict(InVerdict),
}

/// Flags a sync message may carry (`IP_VS_CONN_F_BACKUP_MASK`).
const SYNC_MASK: u16 = flags::FWD_MASK
    | flags::NOOUTPUT
    | flags::INACTIVE
    | 0x0600 // SEQ_MASK
    | flags::NO_CPORT
    | flags::TEMPLATE;
/// Flags an update may change (`IP_VS_CONN_F_BACKUP_UPD_MASK`).
const SYNC_UPD_MASK: u16 = flags::INACTIVE | 0x0600;

fn conn_count(flags: u16) -> ConnCount {
    if flags & flags::TEMPLATE != 0 {
        ConnCount::Template
    } else if flags & flags::INACTIVE != 0 {
        ConnCount::Inactive
    } else {
        ConnCount::Active
    }
}

fn fwd_bits(f: &FwdMethod) -> u16 {
    (f.kernel_value() as u16) & flags::FWD_MASK
}

/// `is_new_conn`: a TCP SYN or an SCTP INIT.
fn is_new_conn(pkt: &PacketMeta) -> bool {
    match pkt.proto {
        Protocol::Tcp => pkt.tcp_flags & tcp::flags::SYN != 0,
        Protocol::Sctp => pkt.sctp_chunk == sctp::chunk::INIT,
        Protocol::Udp => false,
    }
}

/// `is_new_conn_expected`.
fn is_new_conn_expected<F: Family>(e: &Entry<F>, reuse_mode: u32) -> bool {
    if e.control != NIL {
        return false;
    }
    match Protocol::from_number(e.proto) {
        Some(Protocol::Tcp) => {
            e.state == TcpState::TimeWait as u8
                || e.state == TcpState::Close as u8
                || (reuse_mode & 2 != 0
                    && e.state == TcpState::FinWait as u8
                    && e.flags & flags::NOOUTPUT != 0)
        }
        Some(Protocol::Sctp) => e.state == SctpState::Closed as u8,
        _ => false,
    }
}

impl Ipvs {
    // ------------------------------------------------------ configuration

    /// The connection-handling sysctls.
    pub fn sysctls(&self) -> &Sysctls {
        &self.conn.sysctls
    }

    /// The connection-handling sysctls, to change them.
    pub fn sysctls_mut(&mut self) -> &mut Sysctls {
        &mut self.conn.sysctls
    }

    /// Per-state timeouts.
    pub fn timeouts(&self) -> &Timeouts {
        &self.conn.timeouts
    }

    /// `ipvsadm --set tcp tcpfin udp` (0 = unchanged).
    pub fn set_timeouts(&mut self, tcp: u32, tcpfin: u32, udp: u32) -> crate::Result<()> {
        self.conn.timeouts.set(tcp, tcpfin, udp)
    }

    /// Key the connection hashes (the kernel's random `ip_vs_conn_rnd`).
    /// Only possible while the table is empty; returns whether it was done.
    pub fn set_conn_hash_seed(&mut self, seed: u64) -> bool {
        if !self.conn.is_empty() {
            return false;
        }
        self.conn.t4.set_seed(seed) && self.conn.t6.set_seed(seed)
    }

    /// FULLNAT with several workers (one `Ipvs` per worker, as DPVS does per
    /// lcore): worker `worker` of `workers` allocates only local ports `p`
    /// with `p % workers == worker`. The workers share the local addresses
    /// without ever choosing the same `<laddr, lport>`, and a reply from a
    /// real server (destination `laddr:lport`) is steered to the worker that
    /// owns its connection by `lport % workers` — the rule the XDP steering
    /// program or the NIC's flow rules apply — so both directions of a
    /// connection meet the same table with no shared state. Returns false
    /// (and changes nothing) when `worker >= workers` or the share would be
    /// empty.
    pub fn set_fullnat_worker(&mut self, worker: u16, workers: u16) -> bool {
        if workers == 0
            || worker >= workers
            || u32::from(workers) > u32::from(u16::MAX - FULLNAT_MIN_PORT)
        {
            return false;
        }
        self.conn.fullnat.worker = worker;
        self.conn.fullnat.workers = workers;
        true
    }

    /// FULLNAT: the director's local addresses used as sources towards
    /// real servers (ports from [`FULLNAT_MIN_PORT`] up).
    pub fn set_fullnat_local_addrs(&mut self, addrs: &[IpAddr]) {
        self.conn.fullnat.v4 = addrs.iter().filter_map(V4::from_ip).collect();
        self.conn.fullnat.v6 = addrs.iter().filter_map(V6::from_ip).collect();
    }

    /// The connection table.
    pub fn conn_state(&self) -> &ConnState {
        &self.conn
    }

    /// Live connections plus templates.
    pub fn conn_count(&self) -> usize {
        self.conn.len()
    }

    // ------------------------------------------------------------ listing

    fn info<F: Family>(&self, slot: u32, e: &Entry<F>) -> ConnInfo {
        let dest = (e.dest != NIL).then_some(DestId(e.dest));
        let daddr = if e.flags & flags::MIXED_AF != 0 {
            dest.and_then(|d| self.dests.get(d))
                .map_or(F::to_ip(e.daddr), |d| d.config.addr)
        } else {
            F::to_ip(e.daddr)
        };
        let local = (e.flags & flags::FWD_MASK == flags::FWD_FULLNAT && !e.is_template())
            .then(|| (F::to_ip(e.laddr), e.lport));
        ConnInfo {
            id: ConnId::new(F::AF, slot),
            af: F::AF,
            protocol: e.proto,
            caddr: F::to_ip(e.caddr),
            cport: e.cport,
            vaddr: F::to_ip(e.vaddr),
            vport: e.vport,
            daddr,
            dport: e.dport,
            local,
            state: e.state,
            flags: u32::from(e.flags & flags::KERNEL),
            fwmark: e.fwmark,
            dest,
            control: (e.control != NIL).then(|| ConnId::new(F::AF, e.control)),
            n_control: e.n_control,
            in_pkts: e.in_pkts,
            timeout: e.timeout,
            expires: Time(e.deadline()),
        }
    }

    /// Every connection and template (what `ipvsadm -Lc` lists), IPv4
    /// first, in table order.
    pub fn conns(&self) -> impl Iterator<Item = ConnInfo> + '_ {
        let v4 = self.conn.t4.iter().map(|(i, e)| self.info(i, e));
        let v6 = self.conn.t6.iter().map(|(i, e)| self.info(i, e));
        v4.chain(v6)
    }

    /// One connection by handle.
    pub fn conn_info(&self, id: ConnId) -> Option<ConnInfo> {
        match id.af() {
            Af::Inet => self.conn_info_af::<V4>(id.slot()),
            Af::Inet6 => self.conn_info_af::<V6>(id.slot()),
        }
    }

    fn conn_info_af<F: Family>(&self, slot: u32) -> Option<ConnInfo> {
        let t = F::table(&self.conn);
        t.is_live(slot).then(|| self.info(slot, t.get(slot)))
    }

    // ------------------------------------------------- binding and expiry

    /// `ip_vs_conn_new` + `ip_vs_bind_dest`: store a connection or template
    /// bound to `dest`, counted inactive (or as a template), timeout 3 s,
    /// not armed.
    #[allow(clippy::too_many_arguments)]
    fn conn_new<F: Family>(
        &mut self,
        proto: u8,
        caddr: F::Addr,
        cport: u16,
        vaddr: F::Addr,
        vport: u16,
        dest: DestId,
        dport: u16,
        extra: u16,
        fwmark: u32,
    ) -> Result<u32, DropReason> {
        let Some(d) = self.dests.get(dest) else {
            return Err(DropReason::DestUnavailable);
        };
        let mut fl = extra | fwd_bits(&d.config.fwd) | flags::INACTIVE;
        if !d.config.fwd.sees_replies() {
            fl |= flags::NOOUTPUT;
        }
        if proto != Protocol::Udp.number() {
            fl &= !flags::ONE_PACKET;
        }
        let daddr = match F::from_ip(&d.config.addr) {
            Some(a) => a,
            None => {
                fl |= flags::MIXED_AF;
                F::Addr::default()
            }
        };
        let mut e = Entry::<F>::new(proto, caddr, cport, vaddr, vport, daddr, dport, fl);
        e.dest = dest.0;
        e.fwmark = fwmark;
        e.timeout = INITIAL_TIMEOUT_SECS;
        if fl & flags::FWD_MASK == flags::FWD_FULLNAT && fl & flags::TEMPLATE == 0 {
            let (la, lp) = self
                .alloc_local::<F>(proto, daddr, dport)
                .ok_or(DropReason::NoLocalPort)?;
            e.laddr = la;
            e.lport = lp;
        }
        let id = F::table_mut(&mut self.conn).insert(e);
        self.bind_dest(dest, conn_count(fl));
        Ok(id)
    }

    fn bind_dest(&mut self, dest: DestId, how: ConnCount) {
        if let Some(d) = self.dests.get_mut(dest) {
            d.bind(how);
        }
        self.dest_ref(dest);
    }

    /// A free FULLNAT local address and port towards `daddr:dport`.
    fn alloc_local<F: Family>(
        &mut self,
        proto: u8,
        daddr: F::Addr,
        dport: u16,
    ) -> Option<(F::Addr, u16)> {
        let locals = F::locals(&self.conn);
        let n = u32::try_from(locals.len()).ok().filter(|n| *n > 0)?;
        // This worker's ports: first, first + m, first + 2m, ... <= u16::MAX.
        let m = u32::from(self.conn.fullnat.workers.max(1));
        let k = u32::from(self.conn.fullnat.worker) % m;
        let min = u32::from(FULLNAT_MIN_PORT);
        let first = min + (k + m - min % m) % m;
        let span = (u32::from(u16::MAX) - first) / m + 1;
        let tries = n.saturating_mul(span).min(4096);
        let table = F::table(&self.conn);
        let mut cursor = self.conn.fullnat.cursor;
        let mut found = None;
        for _ in 0..tries {
            let c = cursor;
            cursor = cursor.wrapping_add(1);
            let addr = locals[(c % n) as usize];
            let port = (first + ((c / n) % span) * m) as u16;
            let key = OutKey {
                proto,
                daddr,
                dport,
                raddr: addr,
                rport: port,
            };
            if table.find_out(&key).is_none() {
                found = Some((addr, port));
                break;
            }
        }
        self.conn.fullnat.cursor = cursor;
        found
    }

    /// Remove an entry: unbind from its destination (OVERLOAD hysteresis),
    /// drop the destination reference, release its template.
    fn conn_free<F: Family>(&mut self, id: u32) {
        let e = F::table_mut(&mut self.conn).remove(id);
        if e.control != NIL {
            let t = F::table_mut(&mut self.conn);
            if t.is_live(e.control) {
                let ct = t.get_mut(e.control);
                ct.n_control = ct.n_control.saturating_sub(1);
            }
        }
        if e.dest != NIL {
            let d = DestId(e.dest);
            if let Some(dest) = self.dests.get_mut(d) {
                dest.unbind(conn_count(e.flags));
            }
            self.dest_unref(d);
        }
    }

    /// The timer of `id` fired at `at` (`ip_vs_conn_expire`): an entry
    /// that controls others is re-armed for 60 s, anything else goes.
    fn conn_timer<F: Family>(&mut self, id: u32, at: u64) {
        let t = F::table_mut(&mut self.conn);
        let e = t.get_mut(id);
        if e.n_control > 0 {
            e.timeout = TEMPLATE_REARM_SECS;
            t.arm(id, at + u64::from(TEMPLATE_REARM_SECS) * 1000);
        } else {
            self.conn_free::<F>(id);
        }
    }

    /// Run every timer due at `now`: connections expire, templates that
    /// still control connections are re-armed. Also performs the pending
    /// flush of connections to removed destinations when
    /// `expire_nodest_conn` is on.
    #[inline]
    pub fn expire(&mut self, now: Time) {
        // Every packet calls this: the common case (no flush pending,
        // nothing due in either family) is decided inline.
        if !self.conn.nodest_pending && self.conn.t4.idle(now.0) && self.conn.t6.idle(now.0) {
            return;
        }
        self.expire_due(now);
    }

    fn expire_due(&mut self, now: Time) {
        if self.conn.nodest_pending {
            self.conn.nodest_pending = false;
            if self.conn.sysctls.expire_nodest_conn {
                self.flush_nodest_conns();
            }
        }
        self.expire_af::<V4>(now);
        self.expire_af::<V6>(now);
    }

    fn expire_af<F: Family>(&mut self, now: Time) {
        while let Some(id) = F::table_mut(&mut self.conn).pop_due(now.0) {
            let at = F::table(&self.conn).get(id).deadline();
            self.conn_timer::<F>(id, at);
        }
    }

    /// `ip_vs_expire_nodest_conn_flush`: delete every connection whose
    /// destination is no longer AVAILABLE, and the templates left without
    /// controlled connections on such destinations. Runs by itself after a
    /// destination or service deletion when `expire_nodest_conn` is on.
    pub fn flush_nodest_conns(&mut self) {
        self.flush_nodest_af::<V4>();
        self.flush_nodest_af::<V6>();
    }

    fn dest_available(&self, dest: u32) -> bool {
        dest != NIL && self.dests.get(DestId(dest)).is_some_and(|d| d.available)
    }

    fn flush_nodest_af<F: Family>(&mut self) {
        let victims: Vec<(u32, bool)> = F::table(&self.conn)
            .iter()
            .filter(|(_, e)| e.dest != NIL && !self.dest_available(e.dest) && e.n_control == 0)
            .map(|(i, e)| (i, e.is_template()))
            .collect();
        for (id, template) in victims {
            if template || !F::table(&self.conn).is_live(id) {
                continue;
            }
            let ctl = F::table(&self.conn).get(id).control;
            self.conn_free::<F>(id);
            if ctl != NIL {
                let t = F::table(&self.conn);
                if t.is_live(ctl) && t.get(ctl).n_control == 0 {
                    self.conn_free::<F>(ctl);
                }
            }
        }
        let templates: Vec<u32> = F::table(&self.conn)
            .iter()
            .filter(|(_, e)| {
                e.is_template() && e.dest != NIL && !self.dest_available(e.dest) && e.n_control == 0
            })
            .map(|(i, _)| i)
            .collect();
        for id in templates {
            self.conn_free::<F>(id);
        }
    }

    // -------------------------------------------------- state transitions

    /// `ip_vs_set_state`: run the protocol state machine for a packet in
    /// `dir`, move the destination counters across the active/inactive
    /// boundary, assure the controlling template, apply the state's
    /// timeout.
    fn transition<F: Family>(&mut self, id: u32, dir: Dir, pkt: &PacketMeta) {
        let secure = self.conn.sysctls.secure_tcp_active();
        let (t, timeouts) = F::table_timeouts(&mut self.conn);
        let e = t.get_mut(id);
        let mut moved = None;
        let mut assure = false;
        match Protocol::from_number(e.proto) {
            Some(Protocol::Udp) => {
                e.timeout = timeouts.udp;
                assure = dir == Dir::Output;
            }
            Some(proto) => {
                let mut d = dir;
                if e.flags & flags::NOOUTPUT != 0 {
                    if dir == Dir::Output {
                        e.flags &= !flags::NOOUTPUT;
                    } else {
                        d = Dir::InputOnly;
                    }
                }
                let (new, active) = if proto == Protocol::Tcp {
                    let old = TcpState::from_u8(e.state).unwrap_or(TcpState::None);
                    let s = tcp::next_state(secure, d, pkt.tcp_flags, old);
                    (s as u8, s.is_active())
                } else {
                    let old = SctpState::from_u8(e.state).unwrap_or(SctpState::None);
                    let s = sctp::next_state(d, pkt.sctp_chunk, old);
                    (s as u8, s.is_active())
                };
                if new != e.state {
                    if e.dest != NIL {
                        let inactive = e.flags & flags::INACTIVE != 0;
                        if !inactive && !active {
                            e.flags |= flags::INACTIVE;
                            moved = Some((ConnCount::Active, ConnCount::Inactive));
                        } else if inactive && active {
                            e.flags &= !flags::INACTIVE;
                            moved = Some((ConnCount::Inactive, ConnCount::Active));
                        }
                    }
                    assure = new == TcpState::Established as u8 && proto == Protocol::Tcp
                        || new == SctpState::Established as u8 && proto == Protocol::Sctp;
                }
                e.state = new;
                e.timeout = timeouts.for_state(e.proto, new);
            }
            None => {}
        }
        let (dest, control) = (e.dest, e.control);
        if assure && control != NIL && t.is_live(control) {
            let ct = t.get_mut(control);
            if ct.is_template() {
                ct.state |= template_state::ASSURED;
            }
        }
        if let Some((from, to)) = moved
            && let Some(d) = self.dests.get_mut(DestId(dest))
        {
            d.move_count(from, to);
        }
    }

    // ------------------------------------------------------------ counters

    fn count_in(&mut self, dest: u32, len: u32) {
        self.count(dest, len, true);
    }

    fn count(&mut self, dest: u32, len: u32, inbound: bool) {
        if dest == NIL {
            return;
        }
        let Some(d) = self.dests.get_mut(DestId(dest)) else {
            return;
        };
        if !d.available {
            return;
        }
        let bytes = u64::from(len);
        let svc = d.service;
        if inbound {
            d.stats.inbound(bytes);
        } else {
            d.stats.outbound(bytes);
        }
        if let Some(s) = self.service_mut(svc) {
            if inbound {
                s.stats.inbound(bytes);
            } else {
                s.stats.outbound(bytes);
            }
        }
        if inbound {
            self.stats.inbound(bytes);
        } else {
            self.stats.outbound(bytes);
        }
    }

    /// Takes back the counting of one packet of `conn`, `len` bytes
    /// (`inbound`: client → server, which also counted in the connection's
    /// own packet count): for a data path that could not transmit the
    /// packet yet (its next hop is being resolved) and will process it
    /// again once it can, so that the packet is counted once, as the kernel
    /// counts it once before its neighbour layer queues it. The state
    /// transition is not undone (processing the packet again repeats it).
    pub fn uncount_packet(&mut self, conn: ConnId, len: u32, inbound: bool) {
        let dest = match conn.af() {
            Af::Inet => self.uncount_conn::<V4>(conn.slot(), inbound),
            Af::Inet6 => self.uncount_conn::<V6>(conn.slot(), inbound),
        };
        let Some(d) = dest.and_then(|d| self.dests.get_mut(DestId(d))) else {
            return;
        };
        if !d.available {
            return;
        }
        let bytes = u64::from(len);
        let svc = d.service;
        d.stats.uncount(bytes, inbound);
        if let Some(s) = self.service_mut(svc) {
            s.stats.uncount(bytes, inbound);
        }
        self.stats.uncount(bytes, inbound);
    }

    fn uncount_conn<F: Family>(&mut self, slot: u32, inbound: bool) -> Option<u32> {
        let t = F::table_mut(&mut self.conn);
        if !t.is_live(slot) {
            return None;
        }
        let e = t.get_mut(slot);
        if inbound {
            e.in_pkts = e.in_pkts.wrapping_sub(1);
        }
        (e.dest != NIL).then_some(e.dest)
    }

    /// `ip_vs_conn_stats`.
    fn count_conn(&mut self, svc: ServiceId, dest: DestId) {
        if let Some(d) = self.dests.get_mut(dest) {
            d.stats.conn();
        }
        if let Some(s) = self.service_mut(svc) {
            s.stats.conn();
        }
        self.stats.conn();
    }

    // --------------------------------------------------------- scheduling

    /// `ip_vs_service_find` without the FTP rule.
    fn service_find(
        &self,
        af: Af,
        fwmark: Option<u32>,
        proto: Protocol,
        vaddr: IpAddr,
        vport: u16,
    ) -> Option<ServiceId> {
        if let Some(mark) = fwmark.filter(|m| *m != 0)
            && let Some(id) = self.by_key.get(&ServiceKey::Fwmark { af, mark })
        {
            return Some(*id);
        }
        let exact = ServiceKey::Addr {
            proto,
            addr: vaddr,
            port: vport,
        };
        if let Some(id) = self.by_key.get(&exact) {
            return Some(*id);
        }
        let any_port = ServiceKey::Addr {
            proto,
            addr: vaddr,
            port: 0,
        };
        self.by_key.get(&any_port).copied()
    }

    /// `conn_schedule` of the protocol, then `ip_vs_schedule`.
    fn try_schedule<F: Family>(
        &mut self,
        now: Time,
        pkt: &PacketMeta,
        saddr: F::Addr,
        daddr: F::Addr,
        rng: &mut dyn RandomSource,
    ) -> Sched {
        let sys = self.conn.sysctls;
        let may = match pkt.proto {
            Protocol::Tcp => {
                pkt.tcp_flags & tcp::flags::RST == 0
                    && (sys.sloppy_tcp || pkt.tcp_flags & tcp::flags::SYN != 0)
            }
            Protocol::Sctp => {
                pkt.sctp_chunk != sctp::chunk::ABORT
                    && (sys.sloppy_sctp || pkt.sctp_chunk == sctp::chunk::INIT)
            }
            Protocol::Udp => true,
        };
        if !may {
            return Sched::Verdict(InVerdict::Pass);
        }
        let Some(svc) = self.service_find(F::AF, pkt.fwmark, pkt.proto, pkt.daddr, pkt.dport)
        else {
            return Sched::Verdict(InVerdict::Pass);
        };
        if pkt.sport == FTP_DATA_PORT {
            return Sched::Verdict(InVerdict::Pass);
        }
        let Some(s) = self.service(svc) else {
            return Sched::Verdict(InVerdict::Pass);
        };
        let (key, sflags, timeout, netmask) = (
            s.config.key,
            s.config.flags,
            s.config.timeout,
            s.config.netmask,
        );
        let req = SchedRequest {
            now,
            saddr: pkt.saddr,
            sport: pkt.sport,
            daddr: pkt.daddr,
            dport: pkt.dport,
            flags: sflags,
        };
        let one_packet = if sflags.has(ServiceFlags::ONEPACKET) && pkt.proto == Protocol::Udp {
            flags::ONE_PACKET
        } else {
            0
        };
        let proto = pkt.proto.number();
        let mark = pkt.fwmark.unwrap_or(0);
        let svc_port = key.port();

        if sflags.has(ServiceFlags::PERSISTENT) {
            return self.sched_persist::<F>(
                now, svc, key, timeout, netmask, &req, pkt, saddr, daddr, one_packet, rng,
            );
        }
        let is_fwmark = matches!(key, ServiceKey::Fwmark { .. });
        if !is_fwmark && pkt.dport != svc_port {
            // Port-0 service without persistence: the kernel logs "port
            // zero only supported in persistent services" and leaves.
            return Sched::Verdict(InVerdict::NoDest);
        }
        let Some(dest) = self.schedule(svc, &req, rng) else {
            return Sched::Verdict(InVerdict::NoDest);
        };
        let dport = match self.dests.get(dest).map(|d| d.config.port) {
            Some(p) if p != 0 => p,
            _ => pkt.dport,
        };
        match self.conn_new::<F>(
            proto, saddr, pkt.sport, daddr, pkt.dport, dest, dport, one_packet, mark,
        ) {
            Ok(id) => {
                self.count_conn(svc, dest);
                Sched::Conn(id)
            }
            Err(r) => Sched::Verdict(InVerdict::Drop(r)),
        }
    }

    /// `ip_vs_check_template`.
    fn check_template<F: Family>(&mut self, ct: u32) -> bool {
        let quiescent_expires = self.conn.sysctls.expire_quiescent_template;
        let dest = F::table(&self.conn).get(ct).dest;
        let ok = dest != NIL
            && self
                .dests
                .get(DestId(dest))
                .is_some_and(|d| d.available && !(quiescent_expires && d.config.weight == 0));
        if !ok {
            let t = F::table_mut(&mut self.conn);
            if t.get(ct).vport != 0xffff {
                t.unhash(ct);
                let e = t.get_mut(ct);
                e.dport = 0xffff;
                e.vport = 0xffff;
                e.cport = 0;
                t.hash(ct);
            }
        }
        ok
    }

    /// `ip_vs_sched_persist`.
    #[allow(clippy::too_many_arguments)]
    fn sched_persist<F: Family>(
        &mut self,
        now: Time,
        svc: ServiceId,
        key: ServiceKey,
        timeout: u32,
        netmask: u32,
        req: &SchedRequest,
        pkt: &PacketMeta,
        saddr: F::Addr,
        daddr: F::Addr,
        one_packet: u16,
        rng: &mut dyn RandomSource,
    ) -> Sched {
        let proto = pkt.proto.number();
        let mark = pkt.fwmark.unwrap_or(0);
        let svc_port = key.port();
        let snet = F::mask(saddr, netmask);
        let on_svc_port = pkt.dport == svc_port;
        let (tproto, tvaddr, tvport) = if on_svc_port {
            (
                proto,
                daddr,
                if svc_port != FTP_PORT { pkt.dport } else { 0 },
            )
        } else if let ServiceKey::Fwmark { mark: m, .. } = key {
            (0, F::fwmark_addr(m), 0)
        } else {
            (proto, daddr, 0)
        };
        let tkey = InKey {
            template: true,
            proto: tproto,
            caddr: snet,
            cport: 0,
            vaddr: tvaddr,
            vport: tvport,
        };
        let found = F::table(&self.conn).find_in(&tkey);
        let (ct, dest) = match found {
            Some(ct) if self.check_template::<F>(ct) => {
                (ct, DestId(F::table(&self.conn).get(ct).dest))
            }
            _ => {
                let Some(dest) = self.schedule(svc, req, rng) else {
                    return Sched::Verdict(InVerdict::NoDest);
                };
                let tdport = if on_svc_port && svc_port != FTP_PORT {
                    self.dests.get(dest).map_or(0, |d| d.config.port)
                } else {
                    0
                };
                let ct = match self.conn_new::<F>(
                    tproto,
                    snet,
                    0,
                    tvaddr,
                    tvport,
                    dest,
                    tdport,
                    flags::TEMPLATE,
                    mark,
                ) {
                    Ok(ct) => ct,
                    Err(r) => return Sched::Verdict(InVerdict::Drop(r)),
                };
                F::table_mut(&mut self.conn).get_mut(ct).timeout = timeout;
                (ct, dest)
            }
        };
        let dport = match self.dests.get(dest).map(|d| d.config.port) {
            Some(p) if on_svc_port && p != 0 => p,
            _ => pkt.dport,
        };
        let made = self.conn_new::<F>(
            proto, saddr, pkt.sport, daddr, pkt.dport, dest, dport, one_packet, mark,
        );
        // The template is re-armed for its timeout whether or not the
        // connection could be made (`ip_vs_conn_put(ct)`).
        let t = F::table_mut(&mut self.conn);
        let ttl = u64::from(t.get(ct).timeout) * 1000;
        t.arm(ct, now.0 + ttl);
        match made {
            Ok(id) => {
                t.get_mut(id).control = ct;
                t.get_mut(ct).n_control += 1;
                self.count_conn(svc, dest);
                Sched::Conn(id)
            }
            Err(r) => Sched::Verdict(InVerdict::Drop(r)),
        }
    }

    // ---------------------------------------------------------- packets in

    /// A client → server packet (`ip_vs_in_hook`): find or create its
    /// connection, run the state machine, count it, and say how to forward
    /// it. See the module documentation for the exact rules.
    pub fn conn_in(
        &mut self,
        now: Time,
        pkt: &PacketMeta,
        rng: &mut dyn RandomSource,
    ) -> InVerdict {
        self.expire(now);
        match (pkt.saddr, pkt.daddr) {
            (IpAddr::V4(_), IpAddr::V4(_)) => self.conn_in_af::<V4>(now, pkt, rng),
            (IpAddr::V6(_), IpAddr::V6(_)) => self.conn_in_af::<V6>(now, pkt, rng),
            _ => InVerdict::Drop(DropReason::Malformed),
        }
    }

    fn conn_in_af<F: Family>(
        &mut self,
        now: Time,
        pkt: &PacketMeta,
        rng: &mut dyn RandomSource,
    ) -> InVerdict {
        let (Some(saddr), Some(daddr)) = (F::from_ip(&pkt.saddr), F::from_ip(&pkt.daddr)) else {
            return InVerdict::Drop(DropReason::Malformed);
        };
        let key = InKey {
            template: false,
            proto: pkt.proto.number(),
            caddr: saddr,
            cport: pkt.sport,
            vaddr: daddr,
            vport: pkt.dport,
        };
        let sys = self.conn.sysctls;
        let mut cp = F::table(&self.conn).find_in(&key);

        if let Some(id) = cp
            && is_new_conn(pkt)
        {
            let e = *F::table(&self.conn).get(id);
            let quiesced = sys.expire_nodest_conn
                && e.dest != NIL
                && self
                    .dests
                    .get(DestId(e.dest))
                    .is_some_and(|d| d.config.weight == 0);
            let resched = quiesced
                || (sys.conn_reuse_mode != 0 && is_new_conn_expected(&e, sys.conn_reuse_mode));
            if resched {
                if e.n_control == 0 {
                    self.conn_timer::<F>(id, now.0);
                }
                cp = None;
            }
        }

        if let Some(id) = cp {
            let dest = F::table(&self.conn).get(id).dest;
            if dest != NIL && !self.dest_available(dest) {
                if !sys.expire_nodest_conn {
                    return InVerdict::Drop(DropReason::DestUnavailable);
                }
                self.conn_timer::<F>(id, now.0);
                cp = None;
            }
        }

        let (id, new) = match cp {
            Some(id) => (id, false),
            None => match self.try_schedule::<F>(now, pkt, saddr, daddr, rng) {
                Sched::Conn(id) => (id, true),
                Sched::Verdict(v) => return v,
            },
        };

        let dest = F::table(&self.conn).get(id).dest;
        self.count_in(dest, pkt.len);
        self.transition::<F>(id, Dir::Input, pkt);
        let verdict = self.in_forward::<F>(id, new);
        let t = F::table_mut(&mut self.conn);
        let (fl, ctl, timeout) = {
            let e = t.get(id);
            (e.flags, e.control, e.timeout)
        };
        if fl & flags::ONE_PACKET != 0 {
            // Freed right after transmission; its template hears of it.
            if ctl != NIL && t.is_live(ctl) {
                let ct = t.get_mut(ctl);
                ct.in_pkts = ct.in_pkts.wrapping_add(1);
            }
            self.conn_free::<F>(id);
        } else {
            let e = t.get_mut(id);
            e.in_pkts = e.in_pkts.wrapping_add(1);
            let (pkts, proto, state) = (e.in_pkts, e.proto, e.state);
            t.arm(id, now.0 + u64::from(timeout) * 1000);
            self.sync_out
                .offer(ConnId::new(F::AF, id), pkts, proto, state, ctl != NIL);
        }
        InVerdict::Forward(verdict)
    }

    fn in_forward<F: Family>(&self, id: u32, new: bool) -> InForward {
        let e = F::table(&self.conn).get(id);
        let dest = (e.dest != NIL).then_some(DestId(e.dest));
        let d = dest.and_then(|d| self.dests.get(d));
        let fwd = match e.flags & flags::FWD_MASK {
            flags::FWD_MASQ => FwdMethod::Masq,
            flags::FWD_LOCAL => FwdMethod::Local,
            flags::FWD_TUNNEL => FwdMethod::Tunnel(match d.map(|d| d.config.fwd) {
                Some(FwdMethod::Tunnel(cfg)) => cfg,
                _ => TunnelConfig::default(),
            }),
            flags::FWD_FULLNAT => FwdMethod::FullNat,
            _ => FwdMethod::Route,
        };
        let daddr = if e.flags & flags::MIXED_AF != 0 {
            d.map_or(F::to_ip(e.daddr), |d| d.config.addr)
        } else {
            F::to_ip(e.daddr)
        };
        InForward {
            conn: (e.flags & flags::ONE_PACKET == 0).then(|| ConnId::new(F::AF, id)),
            new,
            dest,
            fwd,
            daddr,
            dport: e.dport,
            local: (e.flags & flags::FWD_MASK == flags::FWD_FULLNAT)
                .then(|| (F::to_ip(e.laddr), e.lport)),
        }
    }

    /// The connection a client → server packet belongs to, without
    /// touching it (no state change, no timer, no counters): what ICMP
    /// error handling needs for the embedded packet.
    pub fn conn_lookup_in(&self, pkt: &PacketMeta) -> Option<ConnId> {
        match (pkt.saddr, pkt.daddr) {
            (IpAddr::V4(_), IpAddr::V4(_)) => self.lookup_in_af::<V4>(pkt),
            (IpAddr::V6(_), IpAddr::V6(_)) => self.lookup_in_af::<V6>(pkt),
            _ => None,
        }
    }

    fn lookup_in_af<F: Family>(&self, pkt: &PacketMeta) -> Option<ConnId> {
        let key = InKey {
            template: false,
            proto: pkt.proto.number(),
            caddr: F::from_ip(&pkt.saddr)?,
            cport: pkt.sport,
            vaddr: F::from_ip(&pkt.daddr)?,
            vport: pkt.dport,
        };
        F::table(&self.conn)
            .find_in(&key)
            .map(|id| ConnId::new(F::AF, id))
    }

    /// The connection a server → client packet answers, without touching
    /// it.
    pub fn conn_lookup_out(&self, pkt: &PacketMeta) -> Option<ConnId> {
        match (pkt.saddr, pkt.daddr) {
            (IpAddr::V4(_), IpAddr::V4(_)) => self.lookup_out_af::<V4>(pkt),
            (IpAddr::V6(_), IpAddr::V6(_)) => self.lookup_out_af::<V6>(pkt),
            _ => None,
        }
    }

    fn lookup_out_af<F: Family>(&self, pkt: &PacketMeta) -> Option<ConnId> {
        let key = OutKey {
            proto: pkt.proto.number(),
            daddr: F::from_ip(&pkt.saddr)?,
            dport: pkt.sport,
            raddr: F::from_ip(&pkt.daddr)?,
            rport: pkt.dport,
        };
        F::table(&self.conn)
            .find_out(&key)
            .map(|id| ConnId::new(F::AF, id))
    }

    // --------------------------------------------------------- packets out

    /// A server → client packet (`ip_vs_out_hook`): find the connection it
    /// answers (NAT/FULLNAT by the real server's address, others by the
    /// virtual address), count it, run the OUTPUT state transition.
    pub fn conn_out(&mut self, now: Time, pkt: &PacketMeta) -> OutVerdict {
        self.expire(now);
        match (pkt.saddr, pkt.daddr) {
            (IpAddr::V4(_), IpAddr::V4(_)) => self.conn_out_af::<V4>(now, pkt),
            (IpAddr::V6(_), IpAddr::V6(_)) => self.conn_out_af::<V6>(now, pkt),
            _ => OutVerdict::Pass,
        }
    }

    fn conn_out_af<F: Family>(&mut self, now: Time, pkt: &PacketMeta) -> OutVerdict {
        let (Some(saddr), Some(daddr)) = (F::from_ip(&pkt.saddr), F::from_ip(&pkt.daddr)) else {
            return OutVerdict::Pass;
        };
        let key = OutKey {
            proto: pkt.proto.number(),
            daddr: saddr,
            dport: pkt.sport,
            raddr: daddr,
            rport: pkt.dport,
        };
        let t = F::table(&self.conn);
        let id = match t.find_out(&key) {
            Some(id) => id,
            None => {
                // A connection that is not NATed also matches a packet from
                // its virtual address and port to its client: a DR/TUN
                // reply that passes the director (`ip_vs_conn_out_get`).
                let as_in = InKey {
                    template: false,
                    proto: key.proto,
                    caddr: daddr,
                    cport: pkt.dport,
                    vaddr: saddr,
                    vport: pkt.sport,
                };
                match t.find_in(&as_in) {
                    Some(id)
                        if !matches!(
                            t.get(id).flags & flags::FWD_MASK,
                            flags::FWD_MASQ | flags::FWD_FULLNAT
                        ) =>
                    {
                        id
                    }
                    _ => return OutVerdict::Pass,
                }
            }
        };
        OutVerdict::Forward(self.out_found::<F>(now, id, pkt))
    }

    /// Count, transition and re-arm connection `id` for the server →
    /// client packet `pkt` that belongs to it.
    fn out_found<F: Family>(&mut self, now: Time, id: u32, pkt: &PacketMeta) -> OutForward {
        let dest = F::table(&self.conn).get(id).dest;
        self.count(dest, pkt.len, false);
        self.transition::<F>(id, Dir::Output, pkt);
        let t = F::table_mut(&mut self.conn);
        let timeout = t.get(id).timeout;
        t.arm(id, now.0 + u64::from(timeout) * 1000);
        let e = t.get(id);
        OutForward {
            conn: ConnId::new(F::AF, id),
            vaddr: F::to_ip(e.vaddr),
            vport: e.vport,
            caddr: F::to_ip(e.caddr),
            cport: e.cport,
            fullnat: e.flags & flags::FWD_MASK == flags::FWD_FULLNAT,
        }
    }

    /// [`Ipvs::conn_lookup_out`] and, when it finds a connection,
    /// [`Ipvs::conn_out`], with one hash lookup on the common path: the
    /// reply of a NAT/FULLNAT connection (found by the reply index before
    /// due timers run, as that pair of calls finds it). `None` when the
    /// lookup finds nothing, or when a timer due at `now` ended the
    /// connection and `conn_out` would not forward the packet.
    pub fn conn_reply(&mut self, now: Time, pkt: &PacketMeta) -> Option<OutForward> {
        match (pkt.saddr, pkt.daddr) {
            (IpAddr::V4(_), IpAddr::V4(_)) => self.conn_reply_af::<V4>(now, pkt),
            (IpAddr::V6(_), IpAddr::V6(_)) => self.conn_reply_af::<V6>(now, pkt),
            _ => None,
        }
    }

    fn conn_reply_af<F: Family>(&mut self, now: Time, pkt: &PacketMeta) -> Option<OutForward> {
        let key = OutKey {
            proto: pkt.proto.number(),
            daddr: F::from_ip(&pkt.saddr)?,
            dport: pkt.sport,
            raddr: F::from_ip(&pkt.daddr)?,
            rport: pkt.dport,
        };
        let id = F::table(&self.conn).find_out(&key)?;
        self.reply_found::<F>(now, id, pkt)
    }

    /// The rest of [`Ipvs::conn_reply`] once the lookup found `id` (kept
    /// out of line: the lookup that misses, every client → server packet,
    /// stays small).
    #[inline(never)]
    fn reply_found<F: Family>(
        &mut self,
        now: Time,
        id: u32,
        pkt: &PacketMeta,
    ) -> Option<OutForward> {
        self.expire(now);
        if F::table(&self.conn).is_live(id) {
            // Expiry only frees entries, and the index keeps the order of
            // equal keys, so `id` is still the first match.
            return Some(self.out_found::<F>(now, id, pkt));
        }
        match self.conn_out_af::<F>(now, pkt) {
            OutVerdict::Forward(o) => Some(o),
            OutVerdict::Pass => None,
        }
    }

    // --------------------------------------------------------------- sync

    /// Enable the sync-out ring with `capacity` slots and `filter` (a sync
    /// master runs), or disable it (`None`). See `conn/sync_out.rs`.
    pub fn set_sync_out(
        &mut self,
        filter: Option<crate::conn::sync_out::SyncOutFilter>,
        capacity: usize,
    ) {
        self.sync_out.set(filter, capacity);
    }

    /// The sync-out ring (state and counters).
    pub fn sync_out(&self) -> &crate::conn::sync_out::SyncOut {
        &self.sync_out
    }

    /// Move the connections waiting in the sync-out ring (with their packet
    /// counts at the offering packet) to `out`.
    pub fn drain_sync_out(&mut self, out: &mut Vec<crate::conn::sync_out::SyncOutEvent>) {
        self.sync_out.drain_into(out);
    }

    /// Create or update a connection from a sync message (`ip_vs_proc_conn`):
    /// a new entry gets `IP_VS_CONN_F_SYNC`, the forwarding method of the
    /// local destination matching `<service of vaddr:vport or fwmark,
    /// daddr:dport>` (unbound when there is none) and the message's
    /// activity flag; an existing one takes the message's INACTIVE bit
    /// (moving the destination counters) and state. The timeout is the
    /// message's (v1) or the state's (v0; 3 min for templates). Returns
    /// `None` when the addresses mix families.
    pub fn insert_synced(&mut self, now: Time, s: &SyncedConn) -> Option<ConnId> {
        match (s.caddr, s.vaddr) {
            (IpAddr::V4(_), IpAddr::V4(_)) => self.insert_synced_af::<V4>(now, s),
            (IpAddr::V6(_), IpAddr::V6(_)) => self.insert_synced_af::<V6>(now, s),
            _ => None,
        }
    }

    /// `ip_vs_find_dest`: the local destination a synced connection
    /// belongs to.
    fn find_sync_dest(&self, af: Af, s: &SyncedConn) -> Option<DestId> {
        let svc = match Protocol::from_number(s.protocol) {
            Some(proto) => self.service_find(af, Some(s.fwmark), proto, s.vaddr, s.vport),
            None => self
                .by_key
                .get(&ServiceKey::Fwmark { af, mark: s.fwmark })
                .copied(),
        }?;
        self.find_dest(svc, &s.daddr, s.dport)
    }

    fn insert_synced_af<F: Family>(&mut self, now: Time, s: &SyncedConn) -> Option<ConnId> {
        let caddr = F::from_ip(&s.caddr)?;
        let vaddr = F::from_ip(&s.vaddr)?;
        let msg_flags = (s.flags as u16 & SYNC_MASK) | flags::SYNC;
        let template = msg_flags & flags::TEMPLATE != 0;
        let key = InKey {
            template,
            proto: s.protocol,
            caddr,
            cport: s.cport,
            vaddr,
            vport: s.vport,
        };
        let found = F::table(&self.conn).find_in(&key);
        let id = match found {
            Some(id) => {
                let t = F::table_mut(&mut self.conn);
                let e = t.get_mut(id);
                let mut moved = None;
                if (e.flags ^ msg_flags) & flags::INACTIVE != 0 && !template && e.dest != NIL {
                    moved = Some(if msg_flags & flags::INACTIVE != 0 {
                        (ConnCount::Active, ConnCount::Inactive)
                    } else {
                        (ConnCount::Inactive, ConnCount::Active)
                    });
                }
                e.flags = (msg_flags & SYNC_UPD_MASK) | (e.flags & !SYNC_UPD_MASK);
                let dest = e.dest;
                if let Some((from, to)) = moved
                    && let Some(d) = self.dests.get_mut(DestId(dest))
                {
                    d.move_count(from, to);
                }
                id
            }
            None => {
                let daddr = F::from_ip(&s.daddr);
                match self.find_sync_dest(F::AF, s) {
                    Some(dest) => {
                        let fl = msg_flags & !(flags::FWD_MASK | flags::NOOUTPUT | flags::INACTIVE);
                        let id = self
                            .conn_new::<F>(
                                s.protocol, caddr, s.cport, vaddr, s.vport, dest, s.dport, fl,
                                s.fwmark,
                            )
                            .ok()?;
                        if !template && msg_flags & flags::INACTIVE == 0 {
                            // The message says active: undo the inactive
                            // binding.
                            let t = F::table_mut(&mut self.conn);
                            t.get_mut(id).flags &= !flags::INACTIVE;
                            if let Some(d) = self.dests.get_mut(dest) {
                                d.move_count(ConnCount::Inactive, ConnCount::Active);
                            }
                        }
                        id
                    }
                    None => {
                        let daddr = daddr?;
                        let mut e = Entry::<F>::new(
                            s.protocol, caddr, s.cport, vaddr, s.vport, daddr, s.dport, msg_flags,
                        );
                        e.fwmark = s.fwmark;
                        F::table_mut(&mut self.conn).insert(e)
                    }
                }
            }
        };
        let timeouts = self.conn.timeouts;
        let t = F::table_mut(&mut self.conn);
        let e = t.get_mut(id);
        e.state = s.state;
        e.in_pkts = 3; // the default sync_threshold
        e.timeout = match s.timeout {
            Some(secs) if secs != 0 => secs,
            _ if template => SYNC_TEMPLATE_SECS,
            _ => timeouts.for_state(s.protocol, s.state),
        };
        let ttl = u64::from(e.timeout) * 1000;
        t.arm(id, now.0 + ttl);
        Some(ConnId::new(F::AF, id))
    }
}
