//! The VRRP driver: runs the `vrrp_instance` blocks of the `--config`
//! keepalived.conf over `lvs-vrrp`'s pure engine.
//!
//! Contract:
//! - **Scope**: IPv4 instances (VRRP v2 and v3) and IPv6 instances (v3;
//!   the family is the VIPs'; an instance with VIPs of both is left out).
//!   AH authentication and `use_vmac` are logged as not supported.
//!   `vrrp_sync_group` blocks become engine sync groups (their own
//!   `track_*` blocks are not run yet).
//! - **Tracking**: `track_interface` entries, and the instance's own
//!   interface unless `dont_track_primary` (weight 0: down means FAULT),
//!   follow the links' up state, re-read every 200 ms; `track_script`
//!   entries run their `vrrp_script` every `interval` (killed after
//!   `timeout`, default the interval; exit status 0 is success), and
//!   `rise`/`fall`/`init_fail` decide up or down (`lvs_vrrp::ScriptTracker`);
//!   weights (the `track_script` one, else the script's) and `reverse`
//!   change the priority as keepalived does. Changes reach the engine with
//!   `Vrrp::set_track`.
//! - **Sockets**: one raw IP protocol 112 socket per interface and family,
//!   bound to the interface (`SO_BINDTODEVICE`), multicast TTL / hop limit
//!   255, no loopback; unicast peers get 255 too. IPv4: joined to
//!   224.0.0.18 (or `vrrp_mcast_group4`); received packets go whole (IP
//!   header included) to `Vrrp::handle_ipv4_packet`. IPv6: joined to
//!   ff02::12, bound to the interface's link-local address (the adverts'
//!   source); the payload goes to `Vrrp::handle_advert` with the
//!   destination and hop limit from `IPV6_PKTINFO` / `IPV6_HOPLIMIT`
//!   (`lvs_sys::rx6`; a missing hop limit counts as 0). The engine checks
//!   the TTL / hop limit (255 for multicast), version, VRID,
//!   authentication, interval and address list; rejections
//!   are logged (`WARN vrrp: NAME: advert rejected: REASON`), so an
//!   authentication mismatch with a peer shows in the log.
//! - **Timers**: the thread polls its sockets (non-blocking) and sleeps
//!   until the engine's `next_deadline`, at most 5 ms at a time, then runs
//!   `handle_timeout`; time is a monotonic clock since the driver started.
//! - **Actions**: adverts are built by the engine and sent to the group or
//!   to each `unicast_peer`; VIPs are added / removed with rtnetlink
//!   (`lvs_sys::addr`: `VIP/PREFIX` on the VIP's `dev`, `label`, IPv6
//!   without duplicate address detection, as keepalived);
//!   gratuitous ARPs (ARP requests sender = target = VIP, broadcast) and
//!   unsolicited neighbour advertisements leave on an AF_PACKET socket of
//!   the VIP's interface; `notify_master|backup|fault` and
//!   `notify` (`INSTANCE|GROUP NAME STATE PRIORITY` appended) run as
//!   programs (never through a shell), not waited for.
//! - **Crash guard**: while this director holds VIPs, an nftables table
//!   `inet lvsd_vrrp` drops, at the `input` hook, packets to a held VIP for
//!   the ports of its virtual services. A live lvsd never lets them reach
//!   the kernel (the data plane takes them in XDP), so nothing changes
//!   while it runs; but a SIGKILLed lvsd leaves its VIPs in the kernel,
//!   which would answer the clients' segments of established connections
//!   with resets until the new master's gratuitous ARPs move the clients:
//!   the table (left behind too) makes the dead director silent instead,
//!   so those connections survive on the new master. It is rebuilt when the
//!   services change (the control generation), removed with the VIPs, and
//!   at start with the stale VIPs. Needs `nft` (nftables).
//! - **Sync daemon**: `lvs_sync_daemon IF NAME` follows instance NAME: its
//!   master daemon runs while NAME is MASTER, its backup daemon otherwise
//!   (without an instance both run from the start; see `ha::start`).
//! - **Start**: configured VIPs left on the interfaces (by a previous lvsd
//!   that was killed) are removed first, then the engine starts (BACKUP, or
//!   MASTER at once for an address owner).
//! - **Status**: every transition rewrites `SOCKET.vrrp` (next to the
//!   control socket), one line per instance: `NAME STATE PRIORITY
//!   INTERFACE VIP/LEN[,...]` (what `lvsadm vrrp` prints), and logs
//!   `vrrp: NAME: entering STATE`.
//! - **Reload** (SIGHUP / `lvsadm reload`, through `ha::reload`): kept
//!   instances keep their state, new settings apply in place, VIPs change by
//!   set difference; removed instances are released, new ones start (the
//!   `reload` module).
//! - **Stop** (SIGTERM): masters send a priority-0 advert and remove their
//!   VIPs (`Vrrp::shutdown`). A SIGKILLed lvsd leaves its VIPs: the new
//!   master's gratuitous ARPs move the segment's neighbours over.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6, UdpSocket};
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use lvs_config::{Config, LvsSyncDaemon, Script, VrrpAuth, VrrpInstance, VrrpNotify, VrrpScript};
use lvs_proto::{DaemonState, Request};
use lvs_vrrp::packet;
use lvs_vrrp::{
    Action, Auth, GarpConfig, GroupConfig, InitialState, InstanceConfig, InstanceId, ScriptTracker,
    State, TrackConfig, TrackId, TrackKind, TrackRef, TrackStatus, Version, Vrrp, VrrpConfig,
};
use socket2::{Domain, Protocol, Socket, Type};

use crate::server::Shared;

mod reload;

/// Default VRRP IPv4 group.
const GROUP4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
/// Default VRRP IPv6 group.
const GROUP6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);
/// Longest sleep between socket polls.
const MAX_WAIT: Duration = Duration::from_millis(5);

/// A VIP as it is put on an interface.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Vip {
    addr: IpAddr,
    prefix: u8,
    dev: String,
    label: Option<String>,
}

/// What the driver keeps per instance besides the engine.
#[derive(Debug)]
struct Inst {
    name: String,
    dev: String,
    vips: Vec<Vip>,
    notify: VrrpNotify,
    peers: Vec<IpAddr>,
    /// IPv6 instance.
    v6: bool,
}

/// The running VRRP thread.
#[derive(Debug)]
pub struct VrrpDriver {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
    reload: std::sync::mpsc::Sender<Config>,
}

impl VrrpDriver {
    /// Hands a reloaded configuration to the thread (applied between two
    /// socket polls; see the `reload` module).
    pub fn reload(&self, cfg: Config) {
        if self.reload.send(cfg).is_err() {
            tracing::error!("vrrp: the thread is gone, reload not applied");
        }
    }

    /// Shuts the instances down (priority-0 adverts, VIPs removed) and
    /// stops the thread.
    pub fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        if self.thread.join().is_err() {
            tracing::error!("vrrp thread panicked");
        }
    }
}

fn vips_of(inst: &VrrpInstance, dev: &str) -> Vec<Vip> {
    inst.virtual_ipaddress
        .iter()
        .map(|v| Vip {
            addr: v.addr,
            prefix: v.prefix_len,
            dev: v.dev.clone().unwrap_or_else(|| dev.to_owned()),
            label: v.label.clone(),
        })
        .collect()
}

fn garp_of(cfg: &Config, inst: &VrrpInstance) -> GarpConfig {
    let g = &cfg.global.vrrp;
    let d = GarpConfig::default();
    let master_delay = inst
        .garp_master_delay
        .or(g.garp_master_delay)
        .unwrap_or(d.master_delay);
    let master_repeat = inst
        .garp_master_repeat
        .or(g.garp_master_repeat)
        .unwrap_or(d.master_repeat);
    GarpConfig {
        master_delay,
        master_repeat,
        master_refresh: inst
            .garp_master_refresh
            .or(g.garp_master_refresh)
            .filter(|r| !r.is_zero()),
        refresh_repeat: inst
            .garp_master_refresh_repeat
            .or(g.garp_master_refresh_repeat)
            .unwrap_or(d.refresh_repeat),
        lower_prio_repeat: inst
            .garp_lower_prio_repeat
            .or(g.garp_lower_prio_repeat)
            .unwrap_or(master_repeat),
        lower_prio_delay: inst
            .garp_lower_prio_delay
            .or(g.garp_lower_prio_delay)
            .unwrap_or(master_delay),
    }
}

/// A tracked object the driver watches.
#[derive(Debug)]
enum Watch {
    /// Interface by name.
    Link(String),
    /// A `vrrp_script`.
    Script(Box<ScriptRun>),
}

/// A `vrrp_script` and its running state.
#[derive(Debug)]
struct ScriptRun {
    script: Script,
    interval: Duration,
    timeout: Duration,
    tracker: ScriptTracker,
    next: Duration,
    running: Option<(Child, Duration)>,
}

/// The tracked objects (engine ids = index) and their watches.
#[derive(Debug, Default)]
struct Tracks {
    configs: Vec<TrackConfig>,
    watches: Vec<Watch>,
}

impl Tracks {
    fn link(&mut self, name: &str) -> TrackId {
        if let Some(i) = self
            .watches
            .iter()
            .position(|w| matches!(w, Watch::Link(n) if n == name))
        {
            return TrackId(i);
        }
        let up = link_up(name).unwrap_or(false);
        self.configs.push(TrackConfig {
            name: name.to_owned(),
            kind: TrackKind::Interface,
            initial: if up {
                TrackStatus::Up
            } else {
                TrackStatus::Down
            },
        });
        self.watches.push(Watch::Link(name.to_owned()));
        TrackId(self.watches.len() - 1)
    }

    fn script(&mut self, sc: &VrrpScript) -> TrackId {
        if let Some(i) = self
            .configs
            .iter()
            .position(|c| c.kind == TrackKind::Script && c.name == sc.name)
        {
            return TrackId(i);
        }
        self.configs.push(TrackConfig {
            name: sc.name.clone(),
            kind: TrackKind::Script,
            initial: if sc.init_fail {
                TrackStatus::Down
            } else {
                TrackStatus::Unknown
            },
        });
        self.watches.push(Watch::Script(Box::new(ScriptRun {
            script: sc.script.clone(),
            interval: sc.interval,
            timeout: sc.timeout.unwrap_or(sc.interval),
            tracker: ScriptTracker::new(sc.rise, sc.fall, sc.init_fail),
            next: Duration::ZERO,
            running: None,
        })));
        TrackId(self.watches.len() - 1)
    }
}

/// How often tracked links are re-read.
const LINK_POLL: Duration = Duration::from_millis(200);

impl ScriptRun {
    /// Starts the script when due; returns its result once it ended
    /// (`false` also when it could not start or ran past its timeout).
    fn poll(&mut self, now: Duration) -> Option<bool> {
        if let Some((child, started)) = &mut self.running {
            return match child.try_wait() {
                Ok(Some(status)) => {
                    self.running = None;
                    Some(status.success())
                }
                Ok(None) if now.saturating_sub(*started) > self.timeout => {
                    let _ = child.kill();
                    let _ = child.wait();
                    self.running = None;
                    Some(false)
                }
                Ok(None) => None,
                Err(_) => {
                    self.running = None;
                    Some(false)
                }
            };
        }
        if now < self.next {
            return None;
        }
        self.next = now + self.interval.max(Duration::from_millis(10));
        let (prog, args) = self.script.argv.split_first()?;
        match Command::new(prog)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
        {
            Ok(c) => {
                self.running = Some((c, now));
                None
            }
            Err(e) => {
                tracing::warn!("vrrp: cannot run {}: {e}", self.script.command);
                Some(false)
            }
        }
    }
}

/// Whether interface `name` is up (`None`: no such interface).
fn link_up(name: &str) -> Option<bool> {
    let mut rtnl = lvs_sys::rtnl::Rtnl::open().ok()?;
    let links = rtnl.links().ok()?;
    links.iter().find(|l| l.name == name).map(|l| l.is_up())
}

/// The link-local IPv6 address of interface `index`.
fn link_local(index: u32) -> Option<Ipv6Addr> {
    let mut rtnl = lvs_sys::rtnl::Rtnl::open().ok()?;
    rtnl.addresses()
        .ok()?
        .into_iter()
        .filter(|a| a.index == index)
        .find_map(|a| match a.addr {
            IpAddr::V6(v6) if v6.segments()[0] & 0xffc0 == 0xfe80 => Some(v6),
            _ => None,
        })
}

/// The engine's references for an instance's tracking.
fn track_refs(cfg: &Config, inst: &VrrpInstance, dev: &str, tracks: &mut Tracks) -> Vec<TrackRef> {
    let mut refs = Vec::new();
    if !inst.dont_track_primary {
        refs.push(TrackRef {
            id: tracks.link(dev),
            weight: 0,
            reverse: false,
        });
    }
    for ti in &inst.track_interface {
        refs.push(TrackRef {
            id: tracks.link(&ti.name),
            weight: ti.weight.unwrap_or(0),
            reverse: ti.reverse,
        });
    }
    for ts in &inst.track_script {
        let Some(sc) = cfg.vrrp_script(&ts.name) else {
            continue;
        };
        refs.push(TrackRef {
            id: tracks.script(sc),
            weight: ts.weight.unwrap_or(sc.weight),
            reverse: ts.reverse.unwrap_or(sc.reverse),
        });
    }
    refs
}

/// Engine configuration and driver bookkeeping from the keepalived.conf.
fn build(cfg: &Config) -> (VrrpConfig, Vec<Inst>, Vec<Watch>) {
    let mut vc = VrrpConfig::default();
    let mut insts = Vec::new();
    let mut tracks = Tracks::default();
    for inst in &cfg.vrrp_instances {
        let name = &inst.name;
        let Some(dev) = inst
            .interface
            .clone()
            .or_else(|| cfg.global.default_interface.clone())
        else {
            tracing::warn!("vrrp: {name}: no interface, instance left out");
            continue;
        };
        let Some((index, addr)) = super::interface_v4(&dev) else {
            tracing::warn!("vrrp: {name}: no interface {dev}, instance left out");
            continue;
        };
        let vips = vips_of(inst, &dev);
        let v6 = vips.first().is_some_and(|v| v.addr.is_ipv6());
        if vips.iter().any(|v| v.addr.is_ipv6() != v6) {
            tracing::warn!("vrrp: {name}: VIPs of both families, instance left out");
            continue;
        }
        let own = if v6 {
            link_local(index).map(IpAddr::V6)
        } else {
            addr.map(IpAddr::V4)
        };
        let src = inst.unicast_src_ip.or(inst.mcast_src_ip).or(own);
        let Some(src) = src.filter(|a| a.is_ipv6() == v6) else {
            tracing::warn!(
                "vrrp: {name}: {dev} has no address of the VIPs' family, instance left out"
            );
            continue;
        };
        if inst.use_vmac.is_some() {
            tracing::warn!("vrrp: {name}: use_vmac not supported yet");
        }
        // IPv6 is VRRPv3 only.
        let version = match inst.version.or(cfg.global.vrrp.version) {
            _ if v6 => Version::V3,
            Some(3) => Version::V3,
            _ => Version::V2,
        };
        let mut ic = InstanceConfig::new(
            name,
            index,
            inst.virtual_router_id,
            src,
            vips.iter().map(|v| v.addr).collect(),
        );
        ic.version = version;
        ic.priority = inst.priority;
        ic.advert_int = inst.advert_int;
        ic.initial_state = match inst.state {
            Some(lvs_config::VrrpState::Master) => InitialState::Master,
            _ => InitialState::Backup,
        };
        ic.nopreempt = inst.nopreempt;
        ic.preempt_delay = inst.preempt_delay.unwrap_or_default();
        ic.down_timer_adverts = inst.down_timer_adverts.unwrap_or(3);
        let peers: Vec<IpAddr> = inst
            .unicast_peer
            .iter()
            .map(|p| p.addr)
            .filter(|a| a.is_ipv6() == v6)
            .collect();
        ic.unicast_peers = peers.clone();
        ic.auth = match &inst.authentication {
            Some(VrrpAuth::Pass(p)) if version == Version::V2 => Auth::pass(p.as_bytes()),
            Some(VrrpAuth::Ah(_)) => {
                tracing::warn!("vrrp: {name}: AH authentication not supported, none used");
                Auth::None
            }
            _ => Auth::None,
        };
        ic.garp = garp_of(cfg, inst);
        ic.lower_prio_no_advert = inst.lower_prio_no_advert.unwrap_or(false);
        ic.higher_prio_send_advert = inst.higher_prio_send_advert.unwrap_or(false);
        ic.skip_check_adv_addr = inst
            .skip_check_adv_addr
            .unwrap_or(cfg.global.vrrp.skip_check_adv_addr);
        ic.tracks = track_refs(cfg, inst, &dev, &mut tracks);
        vc.instances.push(ic);
        insts.push(Inst {
            name: name.clone(),
            dev,
            vips,
            notify: inst.notify.clone(),
            peers,
            v6,
        });
    }
    for g in &cfg.vrrp_sync_groups {
        let members: Vec<String> = g
            .group
            .iter()
            .filter(|m| insts.iter().any(|i| &i.name == *m))
            .cloned()
            .collect();
        if !members.is_empty() {
            vc.groups.push(GroupConfig {
                name: g.name.clone(),
                members,
            });
        }
    }
    vc.tracks = tracks.configs;
    (vc, insts, tracks.watches)
}

/// The sync groups the engine runs, with their notify settings.
fn groups_of(cfg: &Config, vc: &VrrpConfig) -> Vec<(String, VrrpNotify)> {
    cfg.vrrp_sync_groups
        .iter()
        .filter(|g| vc.groups.iter().any(|x| x.name == g.name))
        .map(|g| (g.name.clone(), g.notify.clone()))
        .collect()
}

/// Starts the driver when the configuration has usable instances.
pub fn start(cfg: &Config, shared: Arc<Shared>, status: PathBuf) -> Option<VrrpDriver> {
    if cfg.vrrp_instances.is_empty() {
        return None;
    }
    let (vc, insts, watches) = build(cfg);
    if insts.is_empty() {
        return None;
    }
    let groups = groups_of(cfg, &vc);
    let engine = match Vrrp::new(vc) {
        Ok(e) => e,
        Err(e) => {
            tracing::error!("vrrp: {e}");
            return None;
        }
    };
    let group4 = cfg.global.vrrp.mcast_group4.unwrap_or(GROUP4);
    let sync = cfg
        .global
        .lvs_sync_daemon
        .clone()
        .filter(|s| s.instance.is_some());
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    let mut driver = Driver {
        reload_rx: rx,
        sync_cfg: cfg.global.lvs_sync_daemon.clone(),
        engine,
        insts,
        groups,
        sockets: HashMap::new(),
        group4,
        shared,
        sync,
        status,
        children: Vec::new(),
        buf: Vec::with_capacity(1500),
        epoch: Instant::now(),
        holding: Vec::new(),
        watches,
        links_at: Duration::ZERO,
        guard_generation: 0,
    };
    let thread = std::thread::Builder::new()
        .name("lvsd-vrrp".into())
        .spawn(move || driver.run(&stop2))
        .ok()?;
    Some(VrrpDriver {
        stop,
        thread,
        reload: tx,
    })
}

struct Driver {
    /// Reloaded configurations.
    reload_rx: std::sync::mpsc::Receiver<Config>,
    /// The whole `lvs_sync_daemon` of the running configuration.
    sync_cfg: Option<LvsSyncDaemon>,
    engine: Vrrp,
    insts: Vec<Inst>,
    groups: Vec<(String, VrrpNotify)>,
    /// Raw socket per (interface, IPv6).
    sockets: HashMap<(String, bool), UdpSocket>,
    group4: Ipv4Addr,
    shared: Arc<Shared>,
    sync: Option<LvsSyncDaemon>,
    status: PathBuf,
    children: Vec<Child>,
    buf: Vec<u8>,
    epoch: Instant,
    /// Instances whose VIPs are on the system.
    holding: Vec<bool>,
    /// Tracked objects, indexed like the engine's.
    watches: Vec<Watch>,
    /// When the links were last read.
    links_at: Duration,
    /// Control generation the crash guard was built for.
    guard_generation: u64,
}

/// Name of the crash-guard table.
const GUARD_TABLE: &str = "inet lvsd_vrrp";

/// Runs `nft -f -` with `script`; false when it failed.
fn nft(script: &str) -> bool {
    let child = Command::new("nft")
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!("vrrp: cannot run nft: {e}");
            return false;
        }
    };
    if let Some(mut stdin) = child.stdin.take() {
        use std::io::Write;
        let _ = stdin.write_all(script.as_bytes());
    }
    match child.wait_with_output() {
        Ok(o) if o.status.success() => true,
        Ok(o) => {
            tracing::warn!(
                "vrrp: nft failed: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            );
            false
        }
        Err(e) => {
            tracing::warn!("vrrp: nft: {e}");
            false
        }
    }
}

/// The crash-guard ruleset for `rules` (`(proto, vip, port)`, port 0 = all).
fn guard_script(rules: &[(&str, IpAddr, u16)]) -> String {
    let mut s = format!(
        "table {GUARD_TABLE}\ndelete table {GUARD_TABLE}\ntable {GUARD_TABLE} {{\n  chain input {{\n    type filter hook input priority -200; policy accept;\n"
    );
    for (proto, vip, port) in rules {
        let fam = if vip.is_ipv6() { "ip6" } else { "ip" };
        if *port == 0 {
            s.push_str(&format!(
                "    {fam} daddr {vip} meta l4proto {proto} drop\n"
            ));
        } else {
            s.push_str(&format!(
                "    {fam} daddr {vip} {proto} dport {port} drop\n"
            ));
        }
    }
    s.push_str("  }\n}\n");
    s
}

fn open_socket(dev: &str, group: Ipv4Addr) -> std::io::Result<UdpSocket> {
    let s = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::from(112)))?;
    s.bind_device(Some(dev.as_bytes()))?;
    let (index, addr) = super::interface_v4(dev)
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no such interface"))?;
    match addr {
        Some(a) => {
            s.join_multicast_v4(&group, &a)?;
            s.set_multicast_if_v4(&a)?;
        }
        None => s.join_multicast_v4_n(&group, &socket2::InterfaceIndexOrAddress::Index(index))?,
    }
    s.set_multicast_ttl_v4(255)?;
    s.set_ttl_v4(255)?;
    s.set_multicast_loop_v4(false)?;
    s.set_nonblocking(true)?;
    Ok(s.into())
}

fn open_socket6(dev: &str) -> std::io::Result<UdpSocket> {
    let s = Socket::new(Domain::IPV6, Type::RAW, Some(Protocol::from(112)))?;
    s.bind_device(Some(dev.as_bytes()))?;
    let (index, _) = super::interface_v4(dev)
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no such interface"))?;
    s.join_multicast_v6(&GROUP6, index)?;
    s.set_multicast_if_v6(index)?;
    s.set_multicast_hops_v6(255)?;
    s.set_unicast_hops_v6(255)?;
    s.set_multicast_loop_v6(false)?;
    if let Some(ll) = link_local(index) {
        s.bind(&SocketAddr::V6(SocketAddrV6::new(ll, 0, 0, index)).into())?;
    }
    s.set_nonblocking(true)?;
    lvs_sys::rx6::enable(s.as_fd()).map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(s.into())
}

fn state_name(s: State) -> &'static str {
    match s {
        State::Init => "INIT",
        State::Backup => "BACKUP",
        State::Master => "MASTER",
        State::Fault => "FAULT",
    }
}

/// Adds (`add`) or removes a VIP with rtnetlink; `Err` carries the
/// kernel's answer (EEXIST / EADDRNOTAVAIL included).
fn vip_op(v: &Vip, add: bool) -> Result<(), lvs_sys::SysError> {
    let (index, _) =
        super::interface_v4(&v.dev).ok_or_else(|| lvs_sys::SysError::InvalidName(v.dev.clone()))?;
    let spec = lvs_sys::addr::AddrSpec {
        index,
        addr: v.addr,
        prefix_len: v.prefix,
        label: v.label.as_deref(),
        // As keepalived: a VIP is usable at once, no duplicate detection.
        nodad: true,
    };
    if add {
        lvs_sys::addr::add(&spec)
    } else {
        lvs_sys::addr::del(&spec)
    }
}

/// A gratuitous ARP request for `ip` from `mac`.
fn garp_frame(mac: [u8; 6], ip: Ipv4Addr) -> [u8; 42] {
    let mut f = [0u8; 42];
    f[..6].copy_from_slice(&[0xff; 6]);
    f[6..12].copy_from_slice(&mac);
    f[12..14].copy_from_slice(&0x0806u16.to_be_bytes());
    f[14..16].copy_from_slice(&1u16.to_be_bytes()); // Ethernet
    f[16..18].copy_from_slice(&0x0800u16.to_be_bytes()); // IPv4
    f[18] = 6;
    f[19] = 4;
    f[20..22].copy_from_slice(&1u16.to_be_bytes()); // request
    f[22..28].copy_from_slice(&mac);
    f[28..32].copy_from_slice(&ip.octets());
    // Target hardware address zero (RFC 5227 announcement).
    f[38..42].copy_from_slice(&ip.octets());
    f
}

/// An unsolicited neighbour advertisement for `ip` from `mac` (RFC 4861
/// §7.2.6: to all nodes, Override set, Solicited clear, our link-layer
/// address as option), sourced from the VIP itself, hop limit 255.
fn na_frame(mac: [u8; 6], ip: Ipv6Addr) -> [u8; 86] {
    let all_nodes = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
    let mut f = [0u8; 86];
    f[..6].copy_from_slice(&[0x33, 0x33, 0, 0, 0, 1]);
    f[6..12].copy_from_slice(&mac);
    f[12..14].copy_from_slice(&0x86ddu16.to_be_bytes());
    // IPv6 header.
    f[14] = 0x60;
    f[18..20].copy_from_slice(&32u16.to_be_bytes());
    f[20] = 58; // ICMPv6
    f[21] = 255;
    f[22..38].copy_from_slice(&ip.octets());
    f[38..54].copy_from_slice(&all_nodes.octets());
    // ICMPv6 neighbour advertisement.
    f[54] = 136;
    f[58] = 0x20; // Override
    f[62..78].copy_from_slice(&ip.octets());
    f[78] = 2; // target link-layer address
    f[79] = 1;
    f[80..86].copy_from_slice(&mac);
    let mut pseudo = Vec::with_capacity(40 + 32);
    pseudo.extend_from_slice(&f[22..54]);
    pseudo.extend_from_slice(&32u32.to_be_bytes());
    pseudo.extend_from_slice(&[0, 0, 0, 58]);
    pseudo.extend_from_slice(&f[54..86]);
    let sum = lvs_wire::checksum::checksum(&pseudo);
    f[56..58].copy_from_slice(&sum.to_be_bytes());
    f
}

/// Sends `repeat` gratuitous ARPs (IPv4) or unsolicited neighbour
/// advertisements (IPv6) for each of `vips` from its interface.
fn garp_vips(name: &str, vips: &[Vip], repeat: u32) {
    for v in vips {
        let Some((index, _)) = super::interface_v4(&v.dev) else {
            continue;
        };
        let Some(mac) = super::interface_mac(index) else {
            continue;
        };
        let mut sock = match lvs_io::PacketSocket::bind(index) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("vrrp: {}: gratuitous ARP socket: {e}", name);
                return;
            }
        };
        let frame: Vec<u8> = match v.addr {
            IpAddr::V4(a) => garp_frame(mac, a).to_vec(),
            IpAddr::V6(a) => na_frame(mac, a).to_vec(),
        };
        for _ in 0..repeat {
            use lvs_io::PacketIo;
            if let Err(e) = sock.send_batch(&[&frame]) {
                tracing::debug!("vrrp: {}: gratuitous ARP / NA: {e}", name);
            }
        }
    }
}

impl Driver {
    fn now(&self) -> Duration {
        self.epoch.elapsed()
    }

    fn run(&mut self, stop: &AtomicBool) {
        // A killed predecessor may have left our VIPs behind.
        for inst in &self.insts {
            for v in &inst.vips {
                if vip_op(v, false).is_ok() {
                    tracing::info!(
                        "vrrp: {}: removed stale VIP {}/{}",
                        inst.name,
                        v.addr,
                        v.prefix
                    );
                }
            }
        }
        let _ = nft(&format!(
            "table {GUARD_TABLE}\ndelete table {GUARD_TABLE}\n"
        ));
        self.holding = vec![false; self.insts.len()];
        self.open_sockets();
        let now = self.now();
        let actions = self.engine.start(now).to_vec();
        self.apply(&actions);
        self.write_status();
        self.serve(stop);
    }

    /// Opens the raw socket of every (interface, family) an instance uses
    /// and closes the ones no instance uses any more.
    fn open_sockets(&mut self) {
        let keys: Vec<(String, bool)> = self.insts.iter().map(|i| (i.dev.clone(), i.v6)).collect();
        self.sockets.retain(|k, _| keys.contains(k));
        for key in keys {
            if self.sockets.contains_key(&key) {
                continue;
            }
            let opened = if key.1 {
                open_socket6(&key.0)
            } else {
                open_socket(&key.0, self.group4)
            };
            match opened {
                Ok(s) => {
                    self.sockets.insert(key, s);
                }
                Err(e) => tracing::error!("vrrp: raw socket on {}: {e}", key.0),
            }
        }
    }

    /// The main loop, until `stop`; then the instances shut down.
    fn serve(&mut self, stop: &AtomicBool) {
        let mut rx = vec![0u8; 65536];
        while !stop.load(Ordering::Relaxed) {
            while let Ok(cfg) = self.reload_rx.try_recv() {
                self.reload(&cfg);
            }
            let mut got = false;
            let keys: Vec<(String, bool)> = self.sockets.keys().cloned().collect();
            for key in keys {
                let Some(index) = self.engine_iface(&key.0) else {
                    continue;
                };
                while let Some(sock) = self.sockets.get(&key) {
                    let now = self.now();
                    let actions = if key.1 {
                        match lvs_sys::rx6::recv(sock.as_fd(), &mut rx) {
                            Ok(Some(r)) => {
                                let ip = packet::IpInfo {
                                    src: IpAddr::V6(r.src),
                                    dst: IpAddr::V6(r.dst.unwrap_or(GROUP6)),
                                    ttl: r.hop_limit.unwrap_or(0),
                                };
                                let msg = rx.get(..r.len).unwrap_or_default();
                                self.engine.handle_advert(now, index, &ip, msg).to_vec()
                            }
                            _ => break,
                        }
                    } else {
                        match sock.recv_from(&mut rx) {
                            Ok((n, _)) => {
                                let pkt = rx.get(..n).unwrap_or_default();
                                self.engine.handle_ipv4_packet(now, index, pkt).to_vec()
                            }
                            Err(_) => break,
                        }
                    };
                    got = true;
                    self.apply(&actions);
                }
            }
            self.track();
            // Services changed (a request, a reload): the guard follows.
            let generation = self.shared.generation();
            if generation != self.guard_generation {
                self.guard_generation = generation;
                if self.holding.iter().any(|h| *h) {
                    self.update_guard();
                }
            }
            let now = self.now();
            if self.engine.next_deadline().is_some_and(|d| d <= now) {
                let actions = self.engine.handle_timeout(now).to_vec();
                self.apply(&actions);
            }
            self.reap();
            if !got {
                let wait = self
                    .engine
                    .next_deadline()
                    .map_or(MAX_WAIT, |d| d.saturating_sub(self.now()))
                    .clamp(Duration::from_millis(1), MAX_WAIT);
                std::thread::sleep(wait);
            }
        }
        let now = self.now();
        for w in &mut self.watches {
            if let Watch::Script(run) = w
                && let Some((mut child, _)) = run.running.take()
            {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        let actions = self.engine.shutdown(now).to_vec();
        self.apply(&actions);
        let _ = nft(&format!(
            "table {GUARD_TABLE}\ndelete table {GUARD_TABLE}\n"
        ));
        let _ = std::fs::remove_file(&self.status);
    }

    /// Polls the tracked objects and reports changes to the engine.
    fn track(&mut self) {
        let now = self.now();
        let mut changes: Vec<(TrackId, TrackStatus)> = Vec::new();
        let read_links = now.saturating_sub(self.links_at) >= LINK_POLL;
        if read_links {
            self.links_at = now;
        }
        for (i, w) in self.watches.iter_mut().enumerate() {
            match w {
                Watch::Link(name) => {
                    if read_links {
                        let up = link_up(name).unwrap_or(false);
                        let st = if up {
                            TrackStatus::Up
                        } else {
                            TrackStatus::Down
                        };
                        if self.engine.track_status(TrackId(i)) != st {
                            tracing::info!(
                                "vrrp: interface {name} is {}",
                                if up { "up" } else { "down" }
                            );
                            changes.push((TrackId(i), st));
                        }
                    }
                }
                Watch::Script(run) => {
                    if let Some(ok) = run.poll(now)
                        && let Some(st) = run.tracker.record(ok)
                    {
                        tracing::info!(
                            "vrrp: script {} now {st:?} ({})",
                            run.script.command,
                            if ok { "succeeded" } else { "failed" }
                        );
                        changes.push((TrackId(i), st));
                    }
                }
            }
        }
        for (id, st) in changes {
            let now = self.now();
            let actions = self.engine.set_track(now, id, st).to_vec();
            self.apply(&actions);
        }
    }

    fn engine_iface(&self, dev: &str) -> Option<u32> {
        let i = self.insts.iter().position(|i| i.dev == dev)?;
        Some(self.engine.config(InstanceId(i)).iface)
    }

    fn apply(&mut self, actions: &[Action]) {
        let mut changed = false;
        for a in actions {
            match *a {
                Action::SendAdvert { instance, priority } => self.send_advert(instance, priority),
                Action::AddVips { instance } => self.vips(instance, "add"),
                Action::RemoveVips { instance } => self.vips(instance, "del"),
                Action::SendGratuitous { instance, repeat } => self.garp(instance, repeat),
                Action::Notify {
                    instance,
                    state,
                    priority,
                } => {
                    changed = true;
                    self.notify(instance, state, priority);
                }
                Action::NotifyStop { instance } => {
                    let Some(inst) = self.insts.get(instance.0) else {
                        continue;
                    };
                    tracing::info!("vrrp: {}: stopped", inst.name);
                    if let Some(s) = inst.notify.stop.clone() {
                        self.spawn(&s, &[]);
                    }
                }
                Action::GroupNotify { group, state } => {
                    let Some((name, notify)) = self.groups.get(group.0).cloned() else {
                        continue;
                    };
                    tracing::info!("vrrp: group {name}: entering {}", state_name(state));
                    self.run_notify(&notify, "GROUP", &name, state, 0);
                }
                Action::PriorityChanged { instance, priority } => {
                    if let Some(inst) = self.insts.get(instance.0) {
                        tracing::info!("vrrp: {}: priority now {priority}", inst.name);
                    }
                    changed = true;
                }
                Action::Rejected { instance, reason } => {
                    let name = instance
                        .and_then(|i| self.insts.get(i.0))
                        .map_or("-", |i| i.name.as_str());
                    tracing::warn!("vrrp: {name}: advert rejected: {reason}");
                }
                Action::OwnerConflict { instance } => {
                    if let Some(inst) = self.insts.get(instance.0) {
                        tracing::error!(
                            "vrrp: {}: another router also owns the addresses (priority 255); ours lowered to 254",
                            inst.name
                        );
                    }
                }
            }
        }
        if changed {
            self.write_status();
        }
    }

    fn send_advert(&mut self, id: InstanceId, priority: u8) {
        let Some(inst) = self.insts.get(id.0) else {
            return;
        };
        let Some(sock) = self.sockets.get(&(inst.dev.clone(), inst.v6)) else {
            return;
        };
        let scope = self.engine.config(id).iface;
        let dsts: Vec<IpAddr> = match (inst.peers.is_empty(), inst.v6) {
            (false, _) => inst.peers.clone(),
            (true, false) => vec![IpAddr::V4(self.group4)],
            (true, true) => vec![IpAddr::V6(GROUP6)],
        };
        for dst in dsts {
            self.buf.clear();
            if let Err(e) = self.engine.build_advert(id, priority, dst, &mut self.buf) {
                tracing::warn!("vrrp: {}: cannot build advert: {e}", inst.name);
                return;
            }
            let to = match dst {
                IpAddr::V4(a) => SocketAddr::V4(SocketAddrV4::new(a, 0)),
                IpAddr::V6(a) => SocketAddr::V6(SocketAddrV6::new(a, 0, 0, scope)),
            };
            if let Err(e) = sock.send_to(&self.buf, to) {
                tracing::debug!("vrrp: {}: send to {dst}: {e}", inst.name);
            }
        }
    }

    fn vips(&mut self, id: InstanceId, op: &str) {
        let Some(inst) = self.insts.get(id.0) else {
            return;
        };
        for v in &inst.vips {
            if let Err(e) = vip_op(v, op == "add") {
                // Adding one that is there (EEXIST), or removing one that
                // is not (EADDRNOTAVAIL), is no failure.
                if !matches!(e, lvs_sys::SysError::Netlink(-17 | -99)) {
                    tracing::warn!(
                        "vrrp: {}: {op} {}/{} dev {}: {e}",
                        inst.name,
                        v.addr,
                        v.prefix,
                        v.dev
                    );
                }
            }
        }
        tracing::info!(
            "vrrp: {}: {} {} VIP(s)",
            inst.name,
            if op == "add" { "added" } else { "removed" },
            inst.vips.len()
        );
        if let Some(h) = self.holding.get_mut(id.0) {
            *h = op == "add";
        }
        self.update_guard();
    }

    /// Rewrites the crash-guard table for the VIPs held now.
    fn update_guard(&self) {
        let held: Vec<IpAddr> = self
            .insts
            .iter()
            .zip(&self.holding)
            .filter(|(_, h)| **h)
            .flat_map(|(i, _)| i.vips.iter().map(|v| v.addr))
            .collect();
        let mut rules = Vec::new();
        {
            let control = self.shared.lock();
            for svc in control.ipvs.services() {
                if let lvs_core::ServiceKey::Addr {
                    proto,
                    addr: a,
                    port,
                } = svc.config.key
                    && held.contains(&a)
                {
                    let p = match proto {
                        lvs_core::Protocol::Tcp => "tcp",
                        lvs_core::Protocol::Udp => "udp",
                        lvs_core::Protocol::Sctp => "sctp",
                    };
                    rules.push((p, a, port));
                }
            }
        }
        if rules.is_empty() {
            let _ = nft(&format!(
                "table {GUARD_TABLE}\ndelete table {GUARD_TABLE}\n"
            ));
        } else {
            nft(&guard_script(&rules));
        }
    }

    fn garp(&mut self, id: InstanceId, repeat: u32) {
        let Some(inst) = self.insts.get(id.0) else {
            return;
        };
        garp_vips(&inst.name, &inst.vips, repeat);
    }

    fn notify(&mut self, id: InstanceId, state: State, priority: u8) {
        let Some(inst) = self.insts.get(id.0) else {
            return;
        };
        let name = inst.name.clone();
        let notify = inst.notify.clone();
        tracing::info!(
            "vrrp: {name}: entering {} (priority {priority})",
            state_name(state)
        );
        self.run_notify(&notify, "INSTANCE", &name, state, priority);
        self.follow_sync(&name, state);
    }

    fn run_notify(&mut self, n: &VrrpNotify, kind: &str, name: &str, state: State, prio: u8) {
        let script = match state {
            State::Master => n.master.clone(),
            State::Backup => n.backup.clone(),
            State::Fault => n.fault.clone(),
            State::Init => None,
        };
        if let Some(s) = script {
            self.spawn(&s, &[]);
        }
        if let Some(s) = n.any.clone() {
            let p = prio.to_string();
            self.spawn(&s, &[kind, name, state_name(state), &p]);
        }
    }

    fn spawn(&mut self, s: &Script, extra: &[&str]) {
        let Some((prog, args)) = s.argv.split_first() else {
            return;
        };
        match Command::new(prog)
            .args(args)
            .args(extra)
            .stdin(Stdio::null())
            .spawn()
        {
            Ok(c) => self.children.push(c),
            Err(e) => tracing::warn!("vrrp: cannot run {}: {e}", s.command),
        }
    }

    fn reap(&mut self) {
        self.children
            .retain_mut(|c| !matches!(c.try_wait(), Ok(Some(_)) | Err(_)));
    }

    /// `lvs_sync_daemon IF NAME`: master daemon while NAME is MASTER.
    fn follow_sync(&mut self, name: &str, state: State) {
        let Some(sd) = &self.sync else {
            return;
        };
        if sd.instance.as_deref() != Some(name) {
            return;
        }
        let vrid = self
            .insts
            .iter()
            .position(|i| i.name == name)
            .map(|i| self.engine.config(InstanceId(i)).vrid);
        let (run, stop) = if state == State::Master {
            (DaemonState::Master, DaemonState::Backup)
        } else {
            (DaemonState::Backup, DaemonState::Master)
        };
        let cfg = super::daemon_config(sd, run, vrid);
        let mut control = self.shared.lock();
        let now = self.shared.now();
        let _ = control.handle(now, Request::StopDaemon(stop));
        let _ = control.handle(now, Request::StartDaemon(cfg));
        tracing::info!("vrrp: {name}: sync daemon now {run:?}");
    }

    fn write_status(&self) {
        let mut text = String::new();
        for (i, inst) in self.insts.iter().enumerate() {
            let id = InstanceId(i);
            let vips: Vec<String> = inst
                .vips
                .iter()
                .map(|v| format!("{}/{}", v.addr, v.prefix))
                .collect();
            text.push_str(&format!(
                "{} {} {} {} {}\n",
                inst.name,
                state_name(self.engine.state(id)),
                self.engine.priority(id),
                inst.dev,
                vips.join(",")
            ));
        }
        let tmp = self.status.with_extension("vrrp.tmp");
        if std::fs::write(&tmp, text).is_ok() {
            let _ = std::fs::rename(&tmp, &self.status);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guard_drops_service_ports_of_held_vips() {
        let vip = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 100));
        let vip6: IpAddr = "fd00::100".parse().unwrap();
        let s = guard_script(&[("tcp", vip, 80), ("udp", vip, 0), ("tcp", vip6, 443)]);
        // Recreated atomically (create, delete, define) at the input hook.
        assert!(s.starts_with(
            "table inet lvsd_vrrp\ndelete table inet lvsd_vrrp\ntable inet lvsd_vrrp {"
        ));
        assert!(s.contains("type filter hook input priority -200; policy accept;"));
        assert!(s.contains("ip daddr 10.0.0.100 tcp dport 80 drop\n"));
        assert!(s.contains("ip daddr 10.0.0.100 meta l4proto udp drop\n"));
        assert!(s.contains("ip6 daddr fd00::100 tcp dport 443 drop\n"));
    }

    #[test]
    fn unsolicited_na_is_well_formed() {
        let mac = [2, 0, 0, 0, 0, 7];
        let vip: Ipv6Addr = "fd00::100".parse().unwrap();
        let f = na_frame(mac, vip);
        // To 33:33:00:00:00:01 (ff02::1), IPv6, ICMPv6, hop limit 255.
        assert_eq!(f[..6], [0x33, 0x33, 0, 0, 0, 1]);
        assert_eq!(f[12..14], [0x86, 0xdd]);
        assert_eq!((f[20], f[21]), (58, 255));
        assert_eq!(f[38..54], "ff02::1".parse::<Ipv6Addr>().unwrap().octets());
        // Type 136, Override only, target = VIP, option 2 with our MAC.
        assert_eq!((f[54], f[55], f[58]), (136, 0, 0x20));
        assert_eq!(f[62..78], vip.octets());
        assert_eq!(f[78..86], [2, 1, 2, 0, 0, 0, 0, 7]);
        // The checksum verifies (RFC 4443 §2.3): pseudo-header + message
        // sums to zero.
        let mut pseudo = Vec::new();
        pseudo.extend_from_slice(&f[22..54]);
        pseudo.extend_from_slice(&[0, 0, 0, 32, 0, 0, 0, 58]);
        pseudo.extend_from_slice(&f[54..86]);
        assert_eq!(lvs_wire::checksum::checksum(&pseudo), 0);
    }

    #[test]
    fn garp_is_an_arp_announcement() {
        let mac = [2, 0, 0, 0, 0, 7];
        let f = garp_frame(mac, Ipv4Addr::new(10, 0, 0, 100));
        // Broadcast, from us, ARP.
        assert_eq!(f[..6], [0xff; 6]);
        assert_eq!(f[6..12], mac);
        assert_eq!(f[12..14], [0x08, 0x06]);
        // Ethernet/IPv4, 6/4, request.
        assert_eq!(f[14..22], [0, 1, 8, 0, 6, 4, 0, 1]);
        // Sender = target = the VIP; target MAC zero.
        assert_eq!(f[22..28], mac);
        assert_eq!(f[28..32], [10, 0, 0, 100]);
        assert_eq!(f[32..38], [0; 6]);
        assert_eq!(f[38..42], [10, 0, 0, 100]);
    }
}
