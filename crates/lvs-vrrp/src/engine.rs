//! The VRRP state machine of a router: all its instances, sync groups and
//! tracked objects, as keepalived 2.x runs RFC 3768 / RFC 5798.
//!
//! Inputs are `(now, event)`: a received advert, a timer expiry, a tracked
//! object changing state, shutdown. Outputs are [`Action`]s (send an advert
//! with a priority, add or remove the VIPs, send gratuitous ARPs /
//! unsolicited neighbour advertisements, run notify scripts, report a
//! rejected advert) and the next deadline ([`Vrrp::next_deadline`]). The
//! engine never reads a clock, opens a socket or runs a script.
//!
//! Rules mirrored (keepalived `vrrp.c`, `vrrp_scheduler.c`, `vrrp_sync.c`,
//! `vrrp_track.c`):
//! - Timers: `Master_Down_Interval = down_timer_adverts (3) ×
//!   Master_Adver_Interval + Skew_Time`, with `Skew_Time = (256 −
//!   priority) / 256` s in VRRPv2 and `(256 − priority) ×
//!   Master_Adver_Interval / 256` in VRRPv3 (computed in microseconds with
//!   keepalived's integer arithmetic). A backup that hears nothing for that
//!   long becomes master. A VRRPv3 backup adopts the master's interval.
//! - Start: every instance starts as BACKUP (FAULT when a weight-0 tracked
//!   object is down), except an address owner (priority 255) which becomes
//!   master at once. `state MASTER` on a non-owner has no other effect.
//! - Backup receiving: priority 0 → take over after Skew_Time; an advert
//!   with a priority ≥ ours, or any advert with `nopreempt`, or a lower one
//!   while `preempt_delay` has not run out since the first such advert →
//!   restart the down timer; a lower priority otherwise is discarded, so a
//!   higher-priority backup preempts when its down timer runs out.
//! - Master receiving: priority 0 → answer with an advert at once; a higher
//!   priority (or an equal one from a higher address) → become backup
//!   (remove VIPs); a lower one → answer with an advert (unless
//!   `lower_prio_no_advert`) and refresh ARP caches (`garp_lower_prio_*`).
//!   Two owners (255) conflict: ours drops to 254.
//! - Becoming master: add VIPs, `garp_master_repeat` gratuitous messages
//!   per VIP at once and again `garp_master_delay` later, periodic refresh
//!   (`garp_master_refresh`) checked at each advert, notify, send an advert.
//!   Leaving master: remove VIPs, notify; going to FAULT or stopping also
//!   sends a priority-0 advert so backups take over after Skew_Time.
//! - Tracking: weight-0 objects fault the instance while down; weighted ones
//!   move the effective priority (clamped to 1..=254; owners never change).
//! - Sync groups: a member whose down timer expires becomes master only if
//!   every other member also wants to (its timer expired too), else it
//!   restarts its timer; once one member becomes master all do; one leaving
//!   master takes all to backup; one faulting takes all to FAULT, and they
//!   leave FAULT together.
//! - Validation of adverts (RFC 3768 §7.1, RFC 5798 §7.1 as keepalived
//!   does it): TTL/hop limit 255 for multicast, version, VRID, v2 auth type
//!   and password, v2 interval, address count, and the VIP list (skipped
//!   for the known master with `skip_check_adv_addr`). Rejections are
//!   reported as [`Action::Rejected`] for the log and statistics.
//!
//! Deliberate differences from keepalived 2.2 (both RFC-conformant): a
//! master restarts its advert timer only when it actually sent an advert
//! (keepalived restarts it on any received packet, so a stream of invalid
//! adverts could delay ours); when a higher priority makes a master step
//! down, it keeps the new master's interval (keepalived resets it to its own
//! until the next advert). Sync-group tracking (`track_*` inside a
//! `vrrp_sync_group`) is not modelled: track on the instances.
//!
//! Cost: every event is O(instances in the router) at most; no allocation
//! once the action buffer has grown.

use std::cmp::Ordering;
use std::net::IpAddr;
use std::time::Duration;

use thiserror::Error;

use crate::config::{ConfigError, InitialState, InstanceConfig, TrackId, VrrpConfig};
use crate::packet::{
    self, Advert, AdvertSpec, Auth, EncodeError, Family, IpInfo, ParseError, Version, auth_type,
};
use crate::track::{self, TrackStatus};

mod reload;

/// Index of an instance in [`VrrpConfig::instances`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InstanceId(pub usize);

/// Index of a sync group in [`VrrpConfig::groups`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupId(pub usize);

/// Instance (and group) states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Not started.
    Init,
    /// Backup.
    Backup,
    /// Master.
    Master,
    /// Fault (a weight-0 tracked object is down).
    Fault,
}

/// Why an advert was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum RxError {
    /// Malformed packet.
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// No instance with this VRID on the interface.
    #[error("unknown VRID {0}")]
    UnknownVrid(u8),
    /// TTL / hop limit not 255 on a multicast advert.
    #[error("invalid ttl {0}, expect 255")]
    Ttl(u8),
    /// Other VRRP version than configured.
    #[error("invalid version {got}, expect {want}")]
    Version {
        /// Received.
        got: u8,
        /// Configured.
        want: u8,
    },
    /// Unknown auth type number.
    #[error("invalid auth type {0}")]
    InvalidAuthType(u8),
    /// Auth type differs from ours.
    #[error("received auth type {got}, expecting {want}")]
    AuthTypeMismatch {
        /// Received.
        got: u8,
        /// Configured.
        want: u8,
    },
    /// Wrong password.
    #[error("received an invalid password")]
    AuthFailure,
    /// VRRPv2 interval differs from ours.
    #[error("advertisement interval mismatch: mine {want} s, received {got} s")]
    IntervalMismatch {
        /// Received (seconds).
        got: u16,
        /// Configured (seconds).
        want: u16,
    },
    /// Address count differs from our VIP count.
    #[error("invalid address count {got}, expected {want}")]
    AddrCount {
        /// Received.
        got: usize,
        /// Configured.
        want: usize,
    },
    /// One of our VIPs is missing from the advert.
    #[error("an address of the instance is not in the advert")]
    AddrList,
}

/// What the driver must do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Send an advert with this priority (build it with [`Vrrp::build_advert`])
    /// to the multicast group or each unicast peer.
    SendAdvert {
        /// Instance.
        instance: InstanceId,
        /// Priority to announce (0 = stepping down).
        priority: u8,
    },
    /// Add the instance's VIPs (and excluded VIPs, routes, rules) to the system.
    AddVips {
        /// Instance.
        instance: InstanceId,
    },
    /// Remove them.
    RemoveVips {
        /// Instance.
        instance: InstanceId,
    },
    /// Send `repeat` gratuitous ARPs (IPv4) or unsolicited neighbour
    /// advertisements (IPv6) for each VIP.
    SendGratuitous {
        /// Instance.
        instance: InstanceId,
        /// Messages per VIP.
        repeat: u32,
    },
    /// The instance entered a state: run `notify_master/backup/fault` and
    /// `notify` (`INSTANCE name state priority`).
    Notify {
        /// Instance.
        instance: InstanceId,
        /// New state.
        state: State,
        /// Its effective priority.
        priority: u8,
    },
    /// The instance stopped (`notify_stop`).
    NotifyStop {
        /// Instance.
        instance: InstanceId,
    },
    /// A sync group entered a state (`GROUP name state`).
    GroupNotify {
        /// Group.
        group: GroupId,
        /// New state.
        state: State,
    },
    /// The effective priority changed.
    PriorityChanged {
        /// Instance.
        instance: InstanceId,
        /// New effective priority.
        priority: u8,
    },
    /// An advert was rejected (log it, count it).
    Rejected {
        /// The instance it was for, when known.
        instance: Option<InstanceId>,
        /// Why.
        reason: RxError,
    },
    /// Another router claims to own the addresses too (both priority 255):
    /// our priority was lowered to 254 (a configuration error to log).
    OwnerConflict {
        /// Instance.
        instance: InstanceId,
    },
}

/// Counters of an instance (the subset of keepalived's statistics that the
/// engine can know).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InstanceStats {
    /// Valid adverts received.
    pub adverts_received: u64,
    /// Adverts we asked to send.
    pub adverts_sent: u64,
    /// Times it became master.
    pub become_master: u64,
    /// Times it left master.
    pub release_master: u64,
    /// Rejected adverts.
    pub rejected: u64,
    /// Priority-0 adverts received.
    pub pri_zero_received: u64,
    /// Priority-0 adverts sent.
    pub pri_zero_sent: u64,
}

/// Skew time in microseconds, with keepalived's integer arithmetic
/// (`VRRP_TIMER_SKEW_CALC`).
fn skew_calc(version: Version, master_adver_int: Duration, pri_val: u64) -> Duration {
    match version {
        Version::V3 => {
            let cs = master_adver_int.as_micros() as u64 / 10_000;
            Duration::from_micros(pri_val * cs * 625 / 16)
        }
        Version::V2 => Duration::from_micros(pri_val * 1_000_000 / 256),
    }
}

/// `Skew_Time` for a priority.
pub fn skew_time(version: Version, master_adver_int: Duration, priority: u8) -> Duration {
    skew_calc(version, master_adver_int, 256 - u64::from(priority))
}

/// `Master_Down_Interval`.
pub fn master_down_interval(
    version: Version,
    down_timer_adverts: u32,
    master_adver_int: Duration,
    priority: u8,
) -> Duration {
    master_adver_int * down_timer_adverts + skew_time(version, master_adver_int, priority)
}

#[derive(Debug, Clone)]
struct Inst {
    cfg: InstanceConfig,
    group: Option<usize>,
    state: State,
    want: State,
    base_priority: u8,
    total_priority: i32,
    eff: u8,
    master_adver_int: Duration,
    ms_down_timer: Duration,
    sands: Option<Duration>,
    preempt_time: Option<Duration>,
    master_addr: Option<IpAddr>,
    master_priority: u8,
    num_fault: u32,
    vipset: bool,
    garp_delayed: Option<Duration>,
    garp_lower_delayed: Option<Duration>,
    garp_refresh_at: Option<Duration>,
    stats: InstanceStats,
}

impl Inst {
    fn skew(&self) -> Duration {
        skew_time(self.cfg.version, self.master_adver_int, self.eff)
    }

    fn skew_min(&self) -> Duration {
        skew_calc(self.cfg.version, self.master_adver_int, 1)
    }

    fn full_down(&self) -> Duration {
        self.master_adver_int * self.cfg.down_timer_adverts + self.skew()
    }

    fn init_sands(&mut self, now: Duration) {
        self.sands = match self.state {
            State::Master => Some(now + self.cfg.advert_int),
            State::Backup => Some(now + self.ms_down_timer),
            State::Fault | State::Init => None,
        };
    }
}

#[derive(Debug, Clone)]
struct Group {
    members: Vec<usize>,
    state: State,
    num_member_fault: u32,
}

enum MasterRx {
    Stay { sent: bool },
    StepDown { adver_int: Duration },
}

/// A router's VRRP engine.
#[derive(Debug, Clone)]
pub struct Vrrp {
    insts: Vec<Inst>,
    groups: Vec<Group>,
    tracks: Vec<TrackStatus>,
    out: Vec<Action>,
    started: bool,
}

impl Vrrp {
    /// Build the engine; nothing happens until [`Vrrp::start`].
    pub fn new(cfg: VrrpConfig) -> Result<Self, ConfigError> {
        let n_tracks = cfg.tracks.len();
        for (i, c) in cfg.instances.iter().enumerate() {
            c.validate(n_tracks)?;
            for d in &cfg.instances[..i] {
                if d.name == c.name {
                    return Err(ConfigError::DuplicateName(c.name.clone()));
                }
                if d.iface == c.iface && d.family() == c.family() && d.vrid == c.vrid {
                    return Err(ConfigError::DuplicateVrid(c.name.clone()));
                }
            }
        }
        let mut insts: Vec<Inst> = cfg
            .instances
            .into_iter()
            .map(|c| Inst {
                group: None,
                state: State::Init,
                want: if c.initial_state == InitialState::Master || c.priority == 255 {
                    State::Master
                } else {
                    State::Backup
                },
                base_priority: c.priority,
                total_priority: i32::from(c.priority),
                eff: c.priority,
                master_adver_int: c.advert_int,
                ms_down_timer: Duration::ZERO,
                sands: None,
                preempt_time: None,
                master_addr: None,
                master_priority: 0,
                num_fault: 0,
                vipset: false,
                garp_delayed: None,
                garp_lower_delayed: None,
                garp_refresh_at: None,
                stats: InstanceStats::default(),
                cfg: c,
            })
            .collect();
        let mut groups = Vec::new();
        for (gi, g) in cfg.groups.iter().enumerate() {
            let mut members = Vec::new();
            for m in &g.members {
                let idx = insts
                    .iter()
                    .position(|x| &x.cfg.name == m)
                    .ok_or_else(|| ConfigError::Group(g.name.clone()))?;
                if insts[idx].group.is_some() || members.contains(&idx) {
                    return Err(ConfigError::Group(g.name.clone()));
                }
                insts[idx].group = Some(gi);
                members.push(idx);
            }
            groups.push(Group {
                members,
                state: State::Init,
                num_member_fault: 0,
            });
        }
        let tracks = cfg.tracks.iter().map(|t| t.initial).collect();
        let mut v = Vrrp {
            insts,
            groups,
            tracks,
            out: Vec::new(),
            started: false,
        };
        for i in 0..v.insts.len() {
            v.recompute_tracking(i);
        }
        Ok(v)
    }

    /// Number of instances.
    pub fn len(&self) -> usize {
        self.insts.len()
    }

    /// True when there is no instance.
    pub fn is_empty(&self) -> bool {
        self.insts.is_empty()
    }

    /// Find an instance by name.
    pub fn find(&self, name: &str) -> Option<InstanceId> {
        self.insts
            .iter()
            .position(|i| i.cfg.name == name)
            .map(InstanceId)
    }

    /// Configuration of an instance.
    pub fn config(&self, id: InstanceId) -> &InstanceConfig {
        &self.insts[id.0].cfg
    }

    /// Current state of an instance.
    pub fn state(&self, id: InstanceId) -> State {
        self.insts[id.0].state
    }

    /// Effective priority of an instance.
    pub fn priority(&self, id: InstanceId) -> u8 {
        self.insts[id.0].eff
    }

    /// The master's priority and address as last heard by a backup.
    pub fn master(&self, id: InstanceId) -> Option<(IpAddr, u8)> {
        let i = &self.insts[id.0];
        i.master_addr.map(|a| (a, i.master_priority))
    }

    /// Current Master_Adver_Interval of an instance.
    pub fn master_adver_int(&self, id: InstanceId) -> Duration {
        self.insts[id.0].master_adver_int
    }

    /// Whether the instance holds its VIPs.
    pub fn vips_set(&self, id: InstanceId) -> bool {
        self.insts[id.0].vipset
    }

    /// Counters of an instance.
    pub fn stats(&self, id: InstanceId) -> InstanceStats {
        self.insts[id.0].stats
    }

    /// State of a sync group.
    pub fn group_state(&self, id: GroupId) -> State {
        self.groups[id.0].state
    }

    /// Status of a tracked object.
    pub fn track_status(&self, id: TrackId) -> TrackStatus {
        self.tracks[id.0]
    }

    /// The advert an instance sends with `priority`.
    pub fn advert_spec(&self, id: InstanceId, priority: u8) -> AdvertSpec<'_> {
        let c = &self.insts[id.0].cfg;
        AdvertSpec {
            version: c.version,
            vrid: c.vrid,
            priority,
            interval: c.interval_field(),
            auth: if c.version == Version::V2 {
                c.auth
            } else {
                Auth::None
            },
            addrs: &c.vips,
        }
    }

    /// Append the VRRP message an instance sends with `priority` to `dst`
    /// (the group, or a unicast peer) to `out`.
    pub fn build_advert(
        &self,
        id: InstanceId,
        priority: u8,
        dst: IpAddr,
        out: &mut Vec<u8>,
    ) -> Result<(), EncodeError> {
        let c = &self.insts[id.0].cfg;
        packet::encode(&self.advert_spec(id, priority), c.src_addr, dst, out)
    }

    /// The earliest time at which [`Vrrp::handle_timeout`] has work.
    pub fn next_deadline(&self) -> Option<Duration> {
        self.insts
            .iter()
            .flat_map(|i| [i.sands, i.garp_delayed, i.garp_lower_delayed])
            .flatten()
            .min()
    }

    fn emit(&mut self, a: Action) {
        match a {
            Action::SendAdvert { instance, priority } => {
                let s = &mut self.insts[instance.0].stats;
                s.adverts_sent += 1;
                if priority == 0 {
                    s.pri_zero_sent += 1;
                }
            }
            Action::Rejected {
                instance: Some(i), ..
            } => self.insts[i.0].stats.rejected += 1,
            _ => {}
        }
        self.out.push(a);
    }

    fn notify(&mut self, i: usize) {
        let (state, priority) = (self.insts[i].state, self.insts[i].eff);
        self.emit(Action::Notify {
            instance: InstanceId(i),
            state,
            priority,
        });
    }

    fn send_advert(&mut self, i: usize, priority: u8) {
        self.emit(Action::SendAdvert {
            instance: InstanceId(i),
            priority,
        });
    }

    /// Recompute fault count and total priority of an instance from the
    /// tracked objects (no transitions).
    fn recompute_tracking(&mut self, i: usize) -> (u32, i32) {
        let inst = &self.insts[i];
        let mut faults = 0;
        let mut total = i32::from(inst.base_priority);
        for t in &inst.cfg.tracks {
            let st = self.tracks[t.id.0];
            if track::faults(t, st) {
                faults += 1;
            }
            total += track::contribution(t, st);
        }
        let inst = &mut self.insts[i];
        inst.total_priority = total;
        if inst.base_priority != 255 {
            inst.eff = total.clamp(1, 254) as u8;
        }
        (faults, total)
    }

    /// `vrrp_init_state` for instance `i` (INIT → BACKUP or FAULT; an
    /// owner gets a 1 µs down timer so that it takes over at once).
    fn init_instance(&mut self, i: usize, now: Duration) {
        let inst = &mut self.insts[i];
        if inst.num_fault > 0 {
            inst.want = State::Fault;
        }
        let new_state = match inst.group {
            Some(g) => self.groups[g].state,
            None => inst.want,
        };
        let inst = &mut self.insts[i];
        let is_up = inst.num_fault == 0;
        if is_up
            && new_state == State::Master
            && inst.base_priority == 255
            && inst.want == State::Master
        {
            // The owner takes over at once (a 1 µs down timer).
            inst.state = State::Backup;
            inst.ms_down_timer = Duration::from_micros(1);
            inst.init_sands(now);
            return;
        }
        inst.ms_down_timer = if new_state == State::Backup && inst.want == State::Master {
            inst.master_adver_int + inst.skew_min()
        } else {
            inst.full_down()
        };
        inst.state = if is_up && new_state != State::Fault {
            State::Backup
        } else {
            State::Fault
        };
        inst.init_sands(now);
        self.notify(i);
    }

    /// Start every instance (keepalived's `vrrp_init_state`).
    pub fn start(&mut self, now: Duration) -> &[Action] {
        self.out.clear();
        if self.started {
            return &self.out;
        }
        self.started = true;
        for i in 0..self.insts.len() {
            let (faults, _) = self.recompute_tracking(i);
            self.insts[i].num_fault = faults;
        }
        for g in 0..self.groups.len() {
            let nf = self.groups[g]
                .members
                .iter()
                .filter(|&&m| self.insts[m].num_fault > 0)
                .count() as u32;
            let grp = &mut self.groups[g];
            grp.num_member_fault = nf;
            grp.state = if nf > 0 { State::Fault } else { State::Backup };
            let state = grp.state;
            self.emit(Action::GroupNotify {
                group: GroupId(g),
                state,
            });
        }
        for i in 0..self.insts.len() {
            self.init_instance(i, now);
        }
        &self.out
    }

    /// Run the timers that are due at `now` (advert timers, master-down
    /// timers, delayed gratuitous ARPs).
    pub fn handle_timeout(&mut self, now: Duration) -> &[Action] {
        self.out.clear();
        // Bounded: each pass moves a due deadline past `now`.
        for _ in 0..(3 * self.insts.len() + 4) {
            let due = (0..self.insts.len())
                .flat_map(|i| {
                    let x = &self.insts[i];
                    [
                        (x.sands, i, 0u8),
                        (x.garp_delayed, i, 1),
                        (x.garp_lower_delayed, i, 2),
                    ]
                })
                .filter_map(|(t, i, k)| t.filter(|t| *t <= now).map(|t| (t, i, k)))
                .min();
            let Some((_, i, kind)) = due else { break };
            match kind {
                0 => self.instance_timeout(i, now),
                1 => {
                    self.insts[i].garp_delayed = None;
                    let x = &self.insts[i];
                    if x.state == State::Master && x.vipset {
                        let repeat = x.cfg.garp.master_repeat;
                        self.emit(Action::SendGratuitous {
                            instance: InstanceId(i),
                            repeat,
                        });
                    }
                }
                _ => {
                    self.insts[i].garp_lower_delayed = None;
                    let x = &self.insts[i];
                    if x.state == State::Master && x.vipset {
                        let repeat = x.cfg.garp.lower_prio_repeat;
                        self.emit(Action::SendGratuitous {
                            instance: InstanceId(i),
                            repeat,
                        });
                    }
                }
            }
        }
        &self.out
    }

    fn instance_timeout(&mut self, i: usize, now: Duration) {
        let prev = self.insts[i].state;
        match prev {
            State::Backup => self.goto_master(i, now),
            State::Master => self.master_tx(i, now),
            _ => {}
        }
        self.tsm(prev, i, now);
        self.insts[i].init_sands(now);
    }

    fn goto_master(&mut self, i: usize, now: Duration) {
        self.insts[i].want = State::Master;
        self.state_goto_master(i, now);
    }

    fn state_goto_master(&mut self, i: usize, now: Duration) {
        if self.insts[i].group.is_some() && !self.can_goto_master(i, now) {
            self.insts[i].want = State::Master;
            return;
        }
        let inst = &mut self.insts[i];
        inst.state = State::Master;
        inst.init_sands(now);
        self.master_tx(i, now);
    }

    fn can_goto_master(&mut self, i: usize, now: Duration) -> bool {
        let Some(g) = self.insts[i].group else {
            return true;
        };
        if self.groups[g].state == State::Master {
            return true;
        }
        let others_want = self.groups[g]
            .members
            .iter()
            .all(|&m| m == i || self.insts[m].want == State::Master);
        if !others_want {
            let inst = &mut self.insts[i];
            inst.ms_down_timer = inst.full_down();
            inst.init_sands(now);
        }
        others_want
    }

    fn master_tx(&mut self, i: usize, now: Duration) {
        if !self.insts[i].vipset {
            self.become_master(i, now);
        } else {
            let x = &self.insts[i];
            if let (Some(refresh), Some(at)) = (x.cfg.garp.master_refresh, x.garp_refresh_at)
                && now > at
            {
                let repeat = x.cfg.garp.refresh_repeat;
                self.insts[i].garp_refresh_at = Some(now + refresh);
                self.emit(Action::SendGratuitous {
                    instance: InstanceId(i),
                    repeat,
                });
            }
        }
        let eff = self.insts[i].eff;
        self.send_advert(i, eff);
    }

    fn become_master(&mut self, i: usize, now: Duration) {
        let inst = &mut self.insts[i];
        inst.stats.become_master += 1;
        inst.vipset = true;
        inst.garp_refresh_at = inst.cfg.garp.master_refresh.map(|r| now + r);
        let repeat = inst.cfg.garp.master_repeat;
        let delay = inst.cfg.garp.master_delay;
        inst.garp_delayed = (delay > Duration::ZERO && repeat > 0).then_some(now + delay);
        let id = InstanceId(i);
        self.emit(Action::AddVips { instance: id });
        if repeat > 0 {
            self.emit(Action::SendGratuitous {
                instance: id,
                repeat,
            });
        }
        self.notify(i);
    }

    fn restore_interface(&mut self, i: usize, adv_f: bool) {
        if adv_f {
            self.send_advert(i, 0);
        }
        let inst = &mut self.insts[i];
        inst.garp_delayed = None;
        inst.garp_lower_delayed = None;
        inst.garp_refresh_at = None;
        if inst.vipset {
            inst.vipset = false;
            self.emit(Action::RemoveVips {
                instance: InstanceId(i),
            });
        }
    }

    /// `vrrp_state_leave_master`: `want` says where to (BACKUP or FAULT).
    fn leave_master(&mut self, i: usize, now: Duration, adv_f: bool) {
        let want = self.insts[i].want;
        let mut adv = adv_f;
        match want {
            State::Backup => {
                let inst = &mut self.insts[i];
                inst.preempt_time = None;
                inst.master_adver_int = inst.cfg.advert_int;
            }
            State::Fault => adv = true,
            _ => return,
        }
        self.restore_interface(i, adv);
        let inst = &mut self.insts[i];
        inst.state = want;
        inst.stats.release_master += 1;
        inst.ms_down_timer = inst.full_down();
        inst.init_sands(now);
        self.notify(i);
    }

    /// `vrrp_state_leave_fault` (also used to move BACKUP to FAULT).
    fn leave_fault(&mut self, i: usize, now: Duration) {
        let want = self.insts[i].want;
        if want == State::Master {
            self.state_goto_master(i, now);
        } else {
            if want == State::Fault && self.insts[i].state == State::Master {
                self.restore_interface(i, true);
            }
            let inst = &mut self.insts[i];
            let changed = inst.state != want;
            inst.state = want;
            if want == State::Backup {
                inst.preempt_time = None;
            }
            if changed {
                self.notify(i);
            }
        }
        let inst = &mut self.insts[i];
        inst.master_adver_int = inst.cfg.advert_int;
        inst.ms_down_timer = inst.full_down();
        inst.init_sands(now);
    }

    /// Transition side effects for sync groups (`VRRP_TSM`).
    fn tsm(&mut self, prev: State, i: usize, now: Duration) {
        if self.insts[i].group.is_none() {
            return;
        }
        match (prev, self.insts[i].state) {
            (State::Backup | State::Master | State::Fault, State::Master) => {
                self.sync_master(i, now)
            }
            (State::Master, State::Backup) => self.sync_backup(i, now),
            _ => {}
        }
    }

    fn sync_master(&mut self, i: usize, now: Duration) {
        let Some(g) = self.insts[i].group else { return };
        if self.groups[g].state == State::Master || !self.can_goto_master(i, now) {
            return;
        }
        for k in 0..self.groups[g].members.len() {
            let m = self.groups[g].members[k];
            if m == i || self.insts[m].state == State::Master {
                continue;
            }
            self.insts[m].want = State::Master;
            self.state_goto_master(m, now);
            self.insts[m].init_sands(now);
        }
        self.groups[g].state = State::Master;
        self.emit(Action::GroupNotify {
            group: GroupId(g),
            state: State::Master,
        });
    }

    fn sync_backup(&mut self, i: usize, now: Duration) {
        let Some(g) = self.insts[i].group else { return };
        if self.groups[g].state == State::Backup {
            return;
        }
        for k in 0..self.groups[g].members.len() {
            let m = self.groups[g].members[k];
            if m == i || self.insts[m].state == State::Backup {
                continue;
            }
            match self.insts[m].state {
                State::Master => {
                    self.insts[m].want = State::Backup;
                    self.leave_master(m, now, false);
                }
                State::Fault if self.insts[m].num_fault == 0 => {
                    self.insts[m].want = State::Backup;
                    self.leave_fault(m, now);
                }
                _ => {}
            }
        }
        self.groups[g].state = State::Backup;
        self.emit(Action::GroupNotify {
            group: GroupId(g),
            state: State::Backup,
        });
    }

    fn sync_fault(&mut self, i: usize, now: Duration) {
        let Some(g) = self.insts[i].group else { return };
        if self.groups[g].state == State::Fault {
            return;
        }
        for k in 0..self.groups[g].members.len() {
            let m = self.groups[g].members[k];
            if m == i {
                continue;
            }
            match self.insts[m].state {
                State::Master => {
                    self.insts[m].want = State::Fault;
                    self.leave_master(m, now, true);
                }
                State::Backup => {
                    self.insts[m].want = State::Fault;
                    self.leave_fault(m, now);
                }
                _ => {}
            }
        }
        self.groups[g].state = State::Fault;
        self.emit(Action::GroupNotify {
            group: GroupId(g),
            state: State::Fault,
        });
    }

    fn down_instance(&mut self, i: usize, now: Duration) {
        self.insts[i].want = State::Fault;
        if self.insts[i].state == State::Master {
            self.leave_master(i, now, true);
        } else {
            self.leave_fault(i, now);
        }
        if let Some(g) = self.insts[i].group {
            self.groups[g].num_member_fault += 1;
            if self.groups[g].num_member_fault == 1 {
                self.sync_fault(i, now);
            }
        }
    }

    fn try_up_instance(&mut self, i: usize, now: Duration) {
        let inst = &mut self.insts[i];
        inst.want = State::Backup;
        inst.master_adver_int = inst.cfg.advert_int;
        inst.ms_down_timer = inst.full_down();
        if let Some(g) = inst.group {
            let grp = &mut self.groups[g];
            grp.num_member_fault = grp.num_member_fault.saturating_sub(1);
            if grp.num_member_fault > 0 {
                return;
            }
        }
        self.leave_fault(i, now);
        if self.insts[i].group.is_some() {
            if self.insts[i].state == State::Master {
                self.sync_master(i, now);
            } else {
                self.sync_backup(i, now);
            }
        }
    }

    fn set_effective_priority(&mut self, i: usize) {
        let inst = &mut self.insts[i];
        if inst.base_priority == 255 {
            return;
        }
        let new = inst.total_priority.clamp(1, 254) as u8;
        if new == inst.eff {
            return;
        }
        let increasing = new > inst.eff;
        inst.eff = new;
        let old_down = inst.ms_down_timer;
        inst.ms_down_timer = inst.full_down();
        if inst.state == State::Backup
            && increasing
            && let Some(s) = inst.sands
        {
            inst.sands = Some(s.saturating_sub(old_down.saturating_sub(inst.ms_down_timer)));
        }
        self.emit(Action::PriorityChanged {
            instance: InstanceId(i),
            priority: new,
        });
    }

    /// A tracked object changed state (interface up/down, script result
    /// after rise/fall).
    pub fn set_track(&mut self, now: Duration, id: TrackId, status: TrackStatus) -> &[Action] {
        self.out.clear();
        if id.0 >= self.tracks.len() || self.tracks[id.0] == status {
            return &self.out;
        }
        self.tracks[id.0] = status;
        if !self.started {
            return &self.out;
        }
        for i in 0..self.insts.len() {
            if !self.insts[i].cfg.tracks.iter().any(|t| t.id == id) {
                continue;
            }
            let (faults, _) = {
                // Recompute without touching eff yet: set_effective_priority does it.
                let inst = &self.insts[i];
                let mut faults = 0;
                let mut total = i32::from(inst.base_priority);
                for t in &inst.cfg.tracks {
                    let st = self.tracks[t.id.0];
                    faults += u32::from(track::faults(t, st));
                    total += track::contribution(t, st);
                }
                self.insts[i].total_priority = total;
                (faults, total)
            };
            let before = self.insts[i].num_fault;
            self.insts[i].num_fault = faults;
            self.set_effective_priority(i);
            if before == 0 && faults > 0 {
                self.down_instance(i, now);
            } else if before > 0 && faults == 0 {
                self.try_up_instance(i, now);
            }
        }
        &self.out
    }

    /// Check an advert against an instance's configuration (keepalived's
    /// `vrrp_in_chk`).
    fn check(
        &self,
        i: usize,
        ip: &IpInfo,
        adv: &Advert<'_>,
        check_addr: bool,
    ) -> Result<(), RxError> {
        let c = &self.insts[i].cfg;
        if c.unicast_peers.is_empty() && ip.ttl != packet::TTL {
            return Err(RxError::Ttl(ip.ttl));
        }
        if adv.version != c.version {
            return Err(RxError::Version {
                got: adv.version.number(),
                want: c.version.number(),
            });
        }
        if c.version == Version::V2 && c.family() == Family::V4 {
            if adv.auth_type > auth_type::AH {
                return Err(RxError::InvalidAuthType(adv.auth_type));
            }
            let want = c.auth.type_number();
            if adv.auth_type != want {
                return Err(RxError::AuthTypeMismatch {
                    got: adv.auth_type,
                    want,
                });
            }
            if let Auth::Pass(p) = c.auth
                && adv.auth_data != p
            {
                return Err(RxError::AuthFailure);
            }
        }
        if c.version == Version::V2 {
            let want = c.interval_field();
            if adv.interval != want {
                return Err(RxError::IntervalMismatch {
                    got: adv.interval,
                    want,
                });
            }
        }
        if adv.addrs.len() != c.vips.len() {
            return Err(RxError::AddrCount {
                got: adv.addrs.len(),
                want: c.vips.len(),
            });
        }
        if check_addr && !c.vips.iter().all(|v| adv.addrs.contains(v)) {
            return Err(RxError::AddrList);
        }
        Ok(())
    }

    /// A VRRP message arrived on interface `iface` (`msg` is the IP payload;
    /// `ip` its source, destination and TTL / hop limit).
    pub fn handle_advert(
        &mut self,
        now: Duration,
        iface: u32,
        ip: &IpInfo,
        msg: &[u8],
    ) -> &[Action] {
        self.out.clear();
        let adv = match packet::parse(ip, msg) {
            Ok(a) => a,
            Err(e) => {
                self.emit(Action::Rejected {
                    instance: None,
                    reason: RxError::Parse(e),
                });
                return &self.out;
            }
        };
        let family = Family::of(&ip.src);
        let Some(i) = self.insts.iter().position(|x| {
            x.cfg.iface == iface && x.cfg.family() == family && x.cfg.vrid == adv.vrid
        }) else {
            self.emit(Action::Rejected {
                instance: None,
                reason: RxError::UnknownVrid(adv.vrid),
            });
            return &self.out;
        };
        let prev = self.insts[i].state;
        match prev {
            State::Backup => self.state_backup(i, now, ip, &adv),
            State::Master => match self.master_rx(i, now, ip, &adv) {
                MasterRx::Stay { sent } => {
                    if sent {
                        self.insts[i].init_sands(now);
                    }
                }
                MasterRx::StepDown { adver_int } => {
                    self.insts[i].want = State::Backup;
                    self.leave_master(i, now, false);
                    // Keep the new master's interval (RFC 5798 §6.4.3).
                    let inst = &mut self.insts[i];
                    inst.master_adver_int = adver_int;
                    inst.ms_down_timer = inst.full_down();
                    inst.init_sands(now);
                }
            },
            // FAULT and INIT ignore adverts.
            State::Fault | State::Init => return &self.out,
        }
        self.tsm(prev, i, now);
        &self.out
    }

    /// Convenience for raw IPv4 sockets: parse the whole IPv4 packet first.
    pub fn handle_ipv4_packet(&mut self, now: Duration, iface: u32, pkt: &[u8]) -> &[Action] {
        match packet::parse_ipv4(pkt) {
            Ok((ip, _)) => {
                let ihl = usize::from(pkt[0] & 0x0f) * 4;
                self.handle_advert(now, iface, &ip, &pkt[ihl..])
            }
            Err(e) => {
                self.out.clear();
                self.emit(Action::Rejected {
                    instance: None,
                    reason: RxError::Parse(e),
                });
                &self.out
            }
        }
    }

    fn state_backup(&mut self, i: usize, now: Duration, ip: &IpInfo, adv: &Advert<'_>) {
        let x = &self.insts[i];
        let check_addr = !x.cfg.skip_check_adv_addr || x.master_addr != Some(ip.src);
        if let Err(reason) = self.check(i, ip, adv, check_addr) {
            self.emit(Action::Rejected {
                instance: Some(InstanceId(i)),
                reason,
            });
            return;
        }
        let inst = &mut self.insts[i];
        inst.stats.adverts_received += 1;
        let prio = adv.priority;
        if prio == 0 {
            inst.stats.pri_zero_received += 1;
            inst.ms_down_timer = inst.skew();
            inst.init_sands(now);
            return;
        }
        let delay = inst.cfg.preempt_delay;
        let in_delay = delay > Duration::ZERO && inst.preempt_time.is_none_or(|t| t > now);
        if inst.cfg.nopreempt || prio >= inst.eff || in_delay {
            if inst.cfg.version == Version::V3 {
                inst.master_adver_int = adv.interval_duration();
            }
            inst.ms_down_timer = inst.full_down();
            inst.master_addr = Some(ip.src);
            inst.master_priority = prio;
            if delay > Duration::ZERO {
                if prio >= inst.eff {
                    inst.preempt_time = None;
                } else if inst.preempt_time.is_none() {
                    inst.preempt_time = Some(now + delay);
                }
            }
            inst.init_sands(now);
        } else {
            // Lower priority and preemption allowed: discard; the down timer
            // keeps running, so we take over when it expires.
            inst.master_addr = Some(ip.src);
        }
    }

    fn master_rx(&mut self, i: usize, now: Duration, ip: &IpInfo, adv: &Advert<'_>) -> MasterRx {
        if let Err(reason) = self.check(i, ip, adv, true) {
            self.emit(Action::Rejected {
                instance: Some(InstanceId(i)),
                reason,
            });
            return MasterRx::Stay { sent: false };
        }
        let inst = &mut self.insts[i];
        inst.stats.adverts_received += 1;
        let prio = adv.priority;
        let addr_cmp = cmp_addr(&ip.src, &inst.cfg.src_addr);
        let mut eff = inst.eff;
        let mut sent = false;
        if prio == 0 {
            inst.stats.pri_zero_received += 1;
        }
        if prio == 0
            || (inst.cfg.higher_prio_send_advert
                && (prio > eff || (prio == eff && addr_cmp == Ordering::Greater)))
        {
            self.send_advert(i, eff);
            sent = true;
            if prio == 0 {
                return MasterRx::Stay { sent };
            }
        }
        let inst = &mut self.insts[i];
        if prio == eff && addr_cmp != Ordering::Equal && eff == 255 {
            inst.eff = 254;
            inst.base_priority = 254;
            inst.total_priority = 254;
            eff = 254;
            self.emit(Action::OwnerConflict {
                instance: InstanceId(i),
            });
        }
        let inst = &self.insts[i];
        if prio < eff || (prio == eff && addr_cmp == Ordering::Less) {
            let (no_adv, repeat, delay) = (
                inst.cfg.lower_prio_no_advert,
                inst.cfg.garp.lower_prio_repeat,
                inst.cfg.garp.lower_prio_delay,
            );
            if !no_adv {
                self.send_advert(i, eff);
                sent = true;
            }
            if repeat > 0 {
                self.emit(Action::SendGratuitous {
                    instance: InstanceId(i),
                    repeat,
                });
                if delay > Duration::ZERO {
                    self.insts[i].garp_lower_delayed = Some(now + delay);
                }
            }
            return MasterRx::Stay { sent };
        }
        if prio > eff || (prio == eff && addr_cmp == Ordering::Greater) {
            let inst = &mut self.insts[i];
            let adver_int = if inst.cfg.version == Version::V3 {
                adv.interval_duration()
            } else {
                inst.master_adver_int
            };
            inst.master_priority = prio;
            inst.master_addr = Some(ip.src);
            return MasterRx::StepDown { adver_int };
        }
        MasterRx::Stay { sent }
    }

    /// Stop: masters send a priority-0 advert and remove their VIPs; every
    /// instance reports `notify_stop`.
    pub fn shutdown(&mut self, _now: Duration) -> &[Action] {
        self.out.clear();
        for i in 0..self.insts.len() {
            if self.insts[i].state == State::Master {
                self.restore_interface(i, true);
            }
            let inst = &mut self.insts[i];
            inst.state = State::Init;
            inst.sands = None;
            self.emit(Action::NotifyStop {
                instance: InstanceId(i),
            });
        }
        self.started = false;
        &self.out
    }
}

/// Compare two addresses as keepalived does (byte order; families apart).
fn cmp_addr(a: &IpAddr, b: &IpAddr) -> Ordering {
    match (a, b) {
        (IpAddr::V4(x), IpAddr::V4(y)) => x.octets().cmp(&y.octets()),
        (IpAddr::V6(x), IpAddr::V6(y)) => x.octets().cmp(&y.octets()),
        (IpAddr::V4(_), IpAddr::V6(_)) => Ordering::Less,
        (IpAddr::V6(_), IpAddr::V4(_)) => Ordering::Greater,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skew_and_down_interval_examples() {
        let s = Duration::from_secs;
        // keepalived man page: advert_int 1, priority 128 -> 3.5 s.
        assert_eq!(
            master_down_interval(Version::V2, 3, s(1), 128),
            Duration::from_millis(3500)
        );
        // v2 skew does not scale with the interval: (256-100)/256 s = 609375 us.
        assert_eq!(
            skew_time(Version::V2, s(5), 100),
            Duration::from_micros(609_375)
        );
        // v3, 100 cs, priority 100: 156 * 100 * 625 / 16 = 609375 us.
        assert_eq!(
            skew_time(Version::V3, s(1), 100),
            Duration::from_micros(609_375)
        );
        // v3, 10 cs, priority 200: 56 * 10 * 625 / 16 = 21875 us; down = 300 ms + skew.
        let ms100 = Duration::from_millis(100);
        assert_eq!(
            skew_time(Version::V3, ms100, 200),
            Duration::from_micros(21_875)
        );
        assert_eq!(
            master_down_interval(Version::V3, 3, ms100, 200),
            Duration::from_micros(321_875)
        );
        // Truncation: v3, 7 cs, priority 1: 255 * 7 * 625 / 16 = 69726.5 -> 69726 us.
        assert_eq!(
            skew_time(Version::V3, Duration::from_millis(70), 1),
            Duration::from_micros(69_726)
        );
    }
}
