//! The data plane: the XDP steering program and one packet socket per
//! served interface, and one worker thread running
//! [`lvs_datapath::Datapath::process`] on what they receive.
//!
//! Contract:
//! - **Interfaces**: `--interfaces IF[,IF]`, else every non-loopback
//!   interface of lvsd's namespace. Without `--interfaces`, lvsd serves
//!   interfaces only when its namespace is a named one (`/run/netns/*`, as
//!   `ip netns exec` gives): in any other namespace (the machine's own) it
//!   runs as a control plane only and says so, so that a bare `lvsd` never
//!   attaches XDP to a host's interfaces by surprise.
//! - **I/O** (`--io xdp`, the default): per interface, the steering program
//!   is loaded and attached (native mode, the kernel falls back as it
//!   decides) and an AF_XDP socket is bound on queue 0 (copy mode) and put
//!   in the program's socket map. `--io afpacket` binds an AF_PACKET socket
//!   instead: it sees a copy of every frame, so the worker applies the
//!   steering rule itself ([`lvs_io::classify`], checked against the XDP
//!   program) and ignores the rest, and the kernel's copy of what lvsd
//!   handles is dropped at the `netdev` ingress hook by an nftables table
//!   of lvsd's (`netdev lvsd`, see `dataplane/kfilter.rs`: created at start
//!   replacing a stale one, kept equal to the steering set, deleted on
//!   exit; needs `nft`). ICMP errors quoting our packets reach both. Frames
//!   sent on the interface (ours included) are never read back as input.
//! - **Steering** follows the configuration: every `proto VIP:port`
//!   service (and its VIP, for fragments), every NAT/FULLNAT destination
//!   as a reply source `proto RIP:rport` (for a fwmark service, TCP, UDP
//!   and SCTP from `RIP:rport`). The set is recomputed after each applied
//!   control request (a generation counter) and the difference written to
//!   every interface's map. A NAT / FULLNAT destination without a port
//!   (port-0 and fwmark services) answers from the packet's port: when such
//!   a destination is configured, every forwarded frame whose destination
//!   the engine translated gives its reply source, steered after the batch
//!   and before the frame is sent (one more header parse per forwarded
//!   frame, only then).
//! - **What connections still use** (`dataplane/linger.rs`): a key or
//!   fwmark that leaves the configuration (`-D`, `-C`, `-d`) stays steered
//!   while connection entries use it (scanned once a second while anything
//!   lingers), so that the engine, like the kernel, drops their packets
//!   silently (`expire_nodest_conn=0`) instead of the director's stack
//!   resetting them; the per-connection reply keys above leave the same way.
//! - **Fwmark services** (`dataplane/fwmark.rs`): the operator's netfilter
//!   rules mark the packets; lvsd's chain (table `security`, `INPUT`) queues
//!   the marks of the configured fwmark services to NFQUEUE 7600, the
//!   worker reads them with their mark and processes them like received
//!   frames; the kernel's verdict is DROP, or ACCEPT for a `Local` verdict.
//! - **Sharing the one `Ipvs`**: the control socket and the worker use the
//!   same [`lvs_control::Control`]. For each received batch the worker takes
//!   the control lock and swaps the control's `Ipvs` into its `Datapath`
//!   (`mem::swap`, no allocation), processes the batch and swaps it back;
//!   a control request therefore waits at most one batch, and the timers
//!   and listings see the counters the data path updated.
//! - **Machine view** (`lvs_datapath::Config`, `dataplane/machine.rs`):
//!   interfaces (MAC, MTU, first IPv4 / global IPv6 address), main-table
//!   unicast routes, the director's addresses (all interfaces) and the
//!   usable neighbours, dumped from rtnetlink at start and kept current by
//!   an rtnetlink monitor (links, neighbours, IPv4 and IPv6 addresses and
//!   routes; subscribed before the dump): a neighbour notification is
//!   applied in place, a link / address / route notification or a monitor
//!   overrun (`ENOBUFS`) makes it dump again. No timer: the worker reads
//!   the monitor once per loop turn. The real servers' addresses are given
//!   to the kernel to resolve (`NTF_USE`) as soon as they are configured. A
//!   packet whose next hop has no MAC is held (up to 16 packets, 300 ms),
//!   the kernel is asked to resolve the real servers and the packet's
//!   destination, and the held packets are processed again as soon as a
//!   neighbour notification arrives (and every 20 ms, to expire them; the
//!   connection exists by then, and the engine did not count the packet
//!   the first time, so it is counted once); when the pool is full or the
//!   time is up it is dropped (counted; missing from the statistics).
//!   The director's own addresses stay configured in the kernel, which
//!   keeps answering ARP.
//! - **Local real servers** (`dataplane/local.rs`): as the kernel decides
//!   per packet by the route to the real server, destinations whose address
//!   is local (loopback, or one of the director's) are routed, in the
//!   engine's machine view, to lvsd's TAP device `lvsd-local`; the listing
//!   keeps their configured method (the 6.1 kernel shows `Route` / `Masq`).
//!   Policy rules route the local servers' answers back into the TAP; the
//!   worker reads them and hands them to the engine (counted, NAT
//!   translated back, sent to the client), as the kernel's `LOCAL_OUT` hook
//!   does. Recomputed under the control lock whenever the configuration or
//!   the machine view changed, before any packet is processed against it.
//! - **Verdicts**: `Forward` / `Reply` are transmitted on the egress
//!   interface's socket (in place when it is the receiving one, else
//!   copied to a per-batch buffer and sent after the batch; to the TAP for a
//!   local real server, where the kernel receives it as from a wire). `Local`: an
//!   unfragmented IP packet the kernel did not get is written, with its MAC
//!   header readdressed, to lvsd's TAP device `lvsd-local`, where the
//!   kernel receives it as from a wire (packets to the director that
//!   create no connection, e.g. answers to the director's own connections
//!   from a steered NAT reply source, or a stray segment to the VIP: the
//!   kernel's stack handles them, as kernel IPVS lets it); fragments are
//!   dropped (no reassembly yet). `Drop` is dropped.
//! - **Checksums on veth** (`dataplane/checksum.rs`): a veth sender leaves
//!   TCP/UDP checksums partial (`CHECKSUM_PARTIAL`), and AF_XDP / AF_PACKET
//!   see the bytes as they are. Frames received on a veth interface get
//!   their TCP / UDP checksum recomputed before processing (IPv4 and IPv6,
//!   unfragmented; IPv4 UDP with a zero checksum left alone): one pass over
//!   the segment. Other interfaces are left alone.
//! - **Shutdown**: [`Dataplane::stop`] stops the worker, which drops its
//!   sockets and steering programs: the XDP programs are detached, the
//!   nftables table deleted, the TAP closed (it disappears) and its policy
//!   rules deleted. A killed lvsd leaves the table and the rules: the next
//!   start replaces / deletes them.
//! - **Not done**: several workers (one per RX queue): with one `Ipvs`
//!   shared behind the control lock they would only take turns; the
//!   per-worker `Ipvs` design is in docs/design.md.
//!
//! Cost per packet (beyond `process`): one copy in (frame into the
//! engine's buffer with headroom) and one copy out, plus the checksum pass
//! on veth (and, with AF_PACKET, the steering rule: one header walk and at
//! most five set lookups per frame); no allocation or formatting on the
//! packet path; one non-blocking read of the TAP and of the rtnetlink
//! monitor per loop turn. When idle the worker waits in one `poll(2)` over
//! every port's socket and the fwmark queue (`lvs_io::wait_readable`), so a
//! frame on any interface wakes it at once; the wait is limited to 1 ms,
//! the cadence of the housekeeping (TAP replies, rtnetlink monitor, held
//! frames, steering changes).

use std::collections::HashSet;
use std::net::IpAddr;
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use lvs_core::{FwdMethod, Ipvs, ServiceKey};
use lvs_datapath::{Datapath, DropReason, Frame, Route, Verdict};
use lvs_io::classify::{Steered, classify};
use lvs_io::steer::proto as steer_proto;
use lvs_io::{Action, IoError, PacketIo, PacketSocket, SteerKey, Steering, XskConfig, XskSocket};
use lvs_sys::rtnl::Rtnl;
use lvs_wire::parse::{self, L3};

use crate::args::IoKind;

mod checksum;
mod fwmark;
mod kfilter;
mod linger;
mod local;
mod machine;

use crate::server::Shared;
use checksum::complete_l4_checksum;
use fwmark::FwmarkPath;
use kfilter::KernelFilter;
use local::LocalPath;
use machine::{MachineView, machine_config};

/// Frames received per batch.
const BATCH: usize = 64;
/// Packets held while their next hop is resolved.
const HOLD_SLOTS: usize = 16;
/// How long a packet may be held.
const HOLD_TIME: Duration = Duration::from_millis(300);
/// While packets are held, how often they are processed again even without
/// a neighbour change (so that they expire on time).
const HOLD_RETRY: Duration = Duration::from_millis(20);
/// While keys or marks of a deleted service or real server are still used
/// by connections, how often the connection table is scanned for them.
const LINGER_SCAN: Duration = Duration::from_secs(1);

/// Why the data plane could not start.
#[derive(Debug, thiserror::Error)]
pub enum DataplaneError {
    /// An interface named in `--interfaces` does not exist.
    #[error("no interface {0:?} in this namespace")]
    NoInterface(String),
    /// Nothing to serve.
    #[error("no interface to serve")]
    Empty,
    /// rtnetlink failed.
    #[error("rtnetlink: {0}")]
    Rtnl(#[from] lvs_sys::SysError),
    /// Packet I/O or BPF failed.
    #[error("{ifname}: {source}")]
    Io {
        /// Interface.
        ifname: String,
        /// The error.
        source: IoError,
    },
    /// The kernel-side filter of `--io afpacket` could not be installed.
    #[error("kernel filter: {0}")]
    Filter(#[from] kfilter::FilterError),
    /// The worker thread could not be started or died during set-up.
    #[error("worker: {0}")]
    Worker(String),
}

/// What `--interfaces` / `--io` asked for.
#[derive(Debug, Clone)]
pub struct Options {
    /// Interfaces to serve (`None`: all non-loopback ones).
    pub interfaces: Option<Vec<String>>,
    /// Backend.
    pub io: IoKind,
}

/// The running data plane.
#[derive(Debug)]
pub struct Dataplane {
    stop: Arc<AtomicBool>,
    worker: JoinHandle<()>,
    /// Names of the served interfaces.
    pub interfaces: Vec<String>,
}

impl Dataplane {
    /// Stops the worker; its sockets close and its XDP programs detach.
    pub fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        if self.worker.join().is_err() {
            tracing::error!("data-plane worker panicked");
        }
    }
}

/// Whether the calling process's network namespace is a named one
/// (`/run/netns/NAME`).
pub fn in_named_namespace() -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(own) = std::fs::metadata("/proc/self/ns/net") else {
        return false;
    };
    let Ok(dir) = std::fs::read_dir("/run/netns") else {
        return false;
    };
    dir.flatten().any(|e| {
        std::fs::metadata(e.path()).is_ok_and(|m| m.dev() == own.dev() && m.ino() == own.ino())
    })
}

/// Starts the data plane (set-up happens on the worker thread, which owns
/// everything; its outcome is awaited here).
pub fn start(opts: Options, shared: Arc<Shared>) -> Result<Dataplane, DataplaneError> {
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::sync_channel(1);
    let stop2 = stop.clone();
    let worker = std::thread::Builder::new()
        .name("lvsd-dp".into())
        .spawn(move || match Worker::setup(&opts, shared) {
            Ok(mut w) => {
                let names = w.ports.iter().map(|p| p.name.clone()).collect();
                let _ = tx.send(Ok(names));
                w.run(&stop2);
            }
            Err(e) => {
                let _ = tx.send(Err(e));
            }
        })
        .map_err(|e| DataplaneError::Worker(e.to_string()))?;
    match rx.recv() {
        Ok(Ok(interfaces)) => Ok(Dataplane {
            stop,
            worker,
            interfaces,
        }),
        Ok(Err(e)) => {
            let _ = worker.join();
            Err(e)
        }
        Err(_) => {
            let _ = worker.join();
            Err(DataplaneError::Worker("died during set-up".into()))
        }
    }
}

/// A packet socket of either kind.
#[derive(Debug)]
enum Io {
    Xsk(Box<XskSocket>),
    Packet(PacketSocket),
}

impl Io {
    fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        match self {
            Io::Xsk(s) => s.fd(),
            Io::Packet(s) => s.fd(),
        }
    }
    fn poll(&mut self, timeout_ms: i32) -> Result<bool, IoError> {
        match self {
            Io::Xsk(s) => s.poll(timeout_ms),
            Io::Packet(s) => s.poll(timeout_ms),
        }
    }
    fn recv_batch<F: FnMut(&mut [u8], usize) -> Action>(
        &mut self,
        max: usize,
        f: F,
    ) -> Result<usize, IoError> {
        match self {
            Io::Xsk(s) => s.recv_batch(max, f),
            Io::Packet(s) => s.recv_batch(max, f),
        }
    }
    fn send(&mut self, frame: &[u8]) -> Result<usize, IoError> {
        match self {
            Io::Xsk(s) => s.send_batch(&[frame]),
            Io::Packet(s) => s.send_batch(&[frame]),
        }
    }
}

/// One served interface.
#[derive(Debug)]
struct Port {
    name: String,
    ifindex: u32,
    veth: bool,
    io: Io,
    /// Kept for as long as the port lives: dropping it detaches the program.
    steer: Option<Steering>,
}

/// Data-plane counters of the shell (the engine's are in `Datapath`).
#[derive(Debug, Default, Clone, Copy)]
struct ShellCounters {
    tx: u64,
    tx_failed: u64,
    no_neighbour: u64,
    held: u64,
    hold_expired: u64,
    no_port: u64,
    /// `Local` verdicts on fragments (not reassembled yet) or on frames the
    /// kernel already has (AF_PACKET copies it saw too): not reinjected.
    local_not_reinjected: u64,
    /// AF_PACKET frames that are not IPVS business (the kernel's).
    not_steered: u64,
    /// Local real servers' frames the engine did not send out.
    local_reply_dropped: u64,
}

/// A received frame waiting for its next hop's MAC.
#[derive(Debug)]
struct Held {
    frame: Frame,
    /// When it was held; `None`: the slot is free.
    since: Option<Instant>,
    veth: bool,
    /// The kernel did not get this frame: a `Local` verdict reinjects it.
    reinject: bool,
}

/// A frame waiting to leave by another interface than the one it came in.
#[derive(Debug)]
struct Pending {
    ifindex: u32,
    frame: Frame,
}

#[derive(Debug)]
struct Worker {
    shared: Arc<Shared>,
    ports: Vec<Port>,
    dp: Datapath,
    rtnl: Rtnl,
    steered: HashSet<SteerKey>,
    /// Real-server addresses of the configuration (resolved on a miss).
    dest_addrs: Vec<IpAddr>,
    generation: u64,
    counters: ShellCounters,
    held: Vec<Held>,
    /// `--io afpacket`: the nftables table keeping the kernel off our frames.
    kfilter: Option<KernelFilter>,
    /// Local delivery (`None` when the TAP could not be created).
    local: Option<LocalPath>,
    /// The generation whose local destinations were routed to the TAP
    /// (`u64::MAX`: redo at the next batch).
    marked: u64,
    /// Destinations whose address is local (see [`local`]).
    local_dests: Vec<IpAddr>,
    /// The rtnetlink monitor keeping `dp`'s machine view current.
    machine: MachineView,
    /// The served interfaces' indexes.
    ifindexes: Vec<u32>,
    /// Fwmark services' queue (`None`: not available, see [`fwmark`]).
    fwmark: Option<FwmarkPath>,
    /// Marks queued for fwmark services.
    marks: Vec<u32>,
    /// Keys and marks no longer in the configuration but still used by
    /// connections (steered until those expire, see [`linger`]).
    lingering: HashSet<SteerKey>,
    lingering_marks: Vec<u32>,
    last_linger_scan: Instant,
    /// A queued packet with its Ethernet header (reused).
    queue_buf: Vec<u8>,
    /// Reply sources of new NAT connections to steer after the batch.
    new_reply_keys: Vec<SteerKey>,
    /// Whether a NAT / FULLNAT real server has no port (port-0 or fwmark
    /// service): forwarded frames are then checked for new reply sources.
    nat_port0: bool,
}

fn io_err(ifname: &str) -> impl FnOnce(IoError) -> DataplaneError + '_ {
    move |source| DataplaneError::Io {
        ifname: ifname.to_string(),
        source,
    }
}

impl Worker {
    fn setup(opts: &Options, shared: Arc<Shared>) -> Result<Worker, DataplaneError> {
        let mut rtnl = Rtnl::open()?;
        let links = rtnl.links()?;
        let chosen: Vec<&lvs_sys::rtnl::Link> = match &opts.interfaces {
            Some(names) => names
                .iter()
                .map(|n| {
                    links
                        .iter()
                        .find(|l| &l.name == n)
                        .ok_or_else(|| DataplaneError::NoInterface(n.clone()))
                })
                .collect::<Result<_, _>>()?,
            None => links
                .iter()
                .filter(|l| l.name != "lo" && l.mac.len() == 6)
                .collect(),
        };
        if chosen.is_empty() {
            return Err(DataplaneError::Empty);
        }
        let mut ports = Vec::new();
        for link in &chosen {
            let name = link.name.as_str();
            let (io, steer) = match opts.io {
                IoKind::Xdp => {
                    let mut steer = Steering::load().map_err(io_err(name))?;
                    steer.attach(link.index, false).map_err(io_err(name))?;
                    let xsk = XskSocket::bind(link.index, 0, XskConfig::default())
                        .map_err(io_err(name))?;
                    steer
                        .set_socket(0, xsk.fd().as_fd())
                        .map_err(io_err(name))?;
                    (Io::Xsk(Box::new(xsk)), Some(steer))
                }
                IoKind::AfPacket => (
                    Io::Packet(PacketSocket::bind(link.index).map_err(io_err(name))?),
                    None,
                ),
            };
            ports.push(Port {
                name: link.name.clone(),
                ifindex: link.index,
                veth: link.kind.as_deref() == Some("veth"),
                io,
                steer,
            });
        }
        let kfilter = match opts.io {
            IoKind::AfPacket => {
                let ifs: Vec<(String, u32)> =
                    ports.iter().map(|p| (p.name.clone(), p.ifindex)).collect();
                Some(KernelFilter::install(&ifs, shared.clone())?)
            }
            IoKind::Xdp => None,
        };
        let local = match LocalPath::open() {
            Ok(l) => Some(l),
            Err(e) => {
                tracing::warn!("no local delivery (director-local real servers): {e}");
                None
            }
        };
        // Subscribe before the dump: nothing changes unseen in between.
        let machine = MachineView::open()?;
        let fwmark = match FwmarkPath::open() {
            Ok(f) => Some(f),
            Err(e) => {
                tracing::warn!("no fwmark services: {e}");
                None
            }
        };
        let ifindexes: Vec<u32> = ports.iter().map(|p| p.ifindex).collect();
        let config = machine_config(&mut rtnl, &links, &ifindexes)?;
        tracing::info!(
            interfaces = ?ports.iter().map(|p| &p.name).collect::<Vec<_>>(),
            routes = config.routes.len(),
            neighbours = config.neighbours.len(),
            "data plane ready"
        );
        let mut w = Worker {
            shared,
            ports,
            dp: Datapath::new(Ipvs::new(), config),
            rtnl,
            steered: HashSet::new(),
            dest_addrs: Vec::new(),
            generation: u64::MAX,
            counters: ShellCounters::default(),
            held: (0..HOLD_SLOTS)
                .map(|_| Held {
                    frame: Frame::default(),
                    since: None,
                    veth: false,
                    reinject: false,
                })
                .collect(),
            kfilter,
            local,
            marked: u64::MAX,
            local_dests: Vec::new(),
            machine,
            ifindexes,
            fwmark,
            marks: Vec::new(),
            lingering: HashSet::new(),
            lingering_marks: Vec::new(),
            last_linger_scan: Instant::now(),
            queue_buf: Vec::with_capacity(1 << 16),
            new_reply_keys: Vec::with_capacity(BATCH),
            nat_port0: false,
        };
        w.sync_steering();
        Ok(w)
    }

    /// Recomputes the steering set when the configuration changed.
    fn sync_steering(&mut self) {
        let generation = self.shared.generation();
        let linger_due = (!self.lingering.is_empty() || !self.lingering_marks.is_empty())
            && self.last_linger_scan.elapsed() >= LINGER_SCAN;
        if generation == self.generation && !linger_due {
            return;
        }
        self.generation = generation;
        let t0 = Instant::now();
        let mut resolve: Vec<IpAddr>;
        let removed: Vec<SteerKey>;
        let added: Vec<SteerKey>;
        let (want, marks, t_local, t_keys) = {
            let control = self.shared.lock();
            sync_local(
                &self.shared,
                &control,
                &mut self.marked,
                self.local.as_mut(),
                &mut self.local_dests,
                self.dp.config_mut(),
            );
            let t_local = t0.elapsed();
            let st = steering(&control.ipvs, self.steered.len() + 16);
            let mut want = st.keys;
            let mut marks = st.marks;
            self.nat_port0 = st.nat_port0;
            resolve = st.dests;
            let t_keys = t0.elapsed();
            // What leaves the configuration stays while connections use it.
            let left: Vec<SteerKey> = self
                .steered
                .iter()
                .filter(|k| !want.contains(k))
                .copied()
                .collect();
            let mut gone: HashSet<SteerKey> = left.iter().copied().collect();
            let mut gone_marks: Vec<u32> = self
                .marks
                .iter()
                .filter(|m| !marks.contains(m))
                .copied()
                .collect();
            self.last_linger_scan = Instant::now();
            if !gone.is_empty() || !gone_marks.is_empty() {
                linger::still_used(&control.ipvs, &mut gone, &mut gone_marks);
            }
            // The map changes: what left and no connection uses, what came.
            removed = left.into_iter().filter(|k| !gone.contains(k)).collect();
            added = want
                .iter()
                .filter(|k| !self.steered.contains(k))
                .copied()
                .collect();
            want.extend(gone.iter().copied());
            marks.extend(gone_marks.iter().copied());
            marks.sort_unstable();
            marks.dedup();
            self.lingering = gone;
            self.lingering_marks = gone_marks;
            (want, marks, t_local, t_keys)
        };
        if let Some(f) = self.fwmark.as_mut() {
            f.set_marks(&marks);
        }
        self.marks = marks;
        // With the kernel filter, the change is in place once `nft` applied
        // it: its thread acknowledges the generation then.
        let mut acked_later = false;
        if let Some(f) = self.kfilter.as_mut()
            && (!removed.is_empty() || !added.is_empty())
        {
            f.sync(&want, generation);
            acked_later = true;
        }
        // Nothing steers without a map (AF_PACKET sees every frame).
        for port in &mut self.ports {
            let Some(steer) = port.steer.as_mut() else {
                continue;
            };
            for key in &removed {
                if let Err(e) = steer.remove(key) {
                    tracing::warn!(interface = port.name, "steering remove: {e}");
                }
            }
            for key in &added {
                if let Err(e) = steer.insert(*key) {
                    tracing::warn!(interface = port.name, "steering insert: {e}");
                }
            }
        }
        self.steered = want;
        let t_maps = t0.elapsed();
        if !acked_later {
            self.shared.mark_applied(generation);
        }
        resolve.sort_unstable();
        resolve.dedup();
        self.dest_addrs = resolve;
        // Ask for the real servers' MACs before the first packet needs them.
        self.resolve_dests();
        tracing::debug!(
            keys = self.steered.len(),
            local_us = t_local.as_micros(),
            keys_us = t_keys.as_micros(),
            applied_us = t_maps.as_micros(),
            total_us = t0.elapsed().as_micros(),
            "steering updated"
        );
    }

    fn resolve_dests(&mut self) {
        for i in 0..self.dest_addrs.len() {
            self.resolve(self.dest_addrs[i]);
        }
    }

    /// Triggers neighbour resolution of the next hop towards `dst`.
    fn resolve(&mut self, dst: IpAddr) {
        let Some(route) = best_route(&self.dp.config().routes, &dst) else {
            return;
        };
        let hop = route.gateway.unwrap_or(dst);
        let ifindex = route.ifindex;
        let config = self.dp.config();
        if config.local_addrs.contains(&hop) || config.neighbours.iter().any(|n| n.ip == hop) {
            return;
        }
        if let Err(e) = self.rtnl.resolve(ifindex, hop) {
            tracing::debug!("resolve {hop}: {e}");
        }
    }

    fn run(&mut self, stop: &AtomicBool) {
        let mut pending: Vec<Pending> = (0..BATCH)
            .map(|_| Pending {
                ifindex: 0,
                frame: Frame::default(),
            })
            .collect();
        let mut frame = Frame::default();
        let mut last_retry = Instant::now();
        while !stop.load(Ordering::Relaxed) {
            self.sync_steering();
            let mut received = 0usize;
            let mut missed = false;
            for i in 0..self.ports.len() {
                let (n, m) = self.service_port(i, &mut frame, &mut pending);
                received += n;
                missed |= m;
            }
            let (n, m) = self.service_local_replies(&mut frame);
            received += n;
            missed |= m;
            let (n, m) = self.service_queue(&mut frame, &mut pending);
            received += n;
            missed |= m;
            if missed {
                self.resolve_dests();
                for i in 0..self.held.len() {
                    if self.held[i].since.is_some()
                        && let Some((src, dst)) = endpoints(&self.held[i].frame)
                    {
                        self.resolve(dst);
                        // An ICMP answer (port unreachable, fragmentation
                        // needed) goes back to the source: resolve it too,
                        // as the kernel's icmp_send output would.
                        self.resolve(src);
                    }
                }
            }
            let changed = self
                .machine
                .poll(&mut self.rtnl, &self.ifindexes, self.dp.config_mut());
            if changed.machine {
                // The view was rebuilt: route the local destinations again
                // (under the control lock, before the next batch).
                self.marked = u64::MAX;
            }
            let holding = self.held.iter().any(|h| h.since.is_some());
            if holding && (changed.neighbours || last_retry.elapsed() >= HOLD_RETRY) {
                self.retry_held(&mut frame);
                last_retry = Instant::now();
            }
            self.publish_stats();
            if received == 0 && !self.ports.is_empty() {
                // One wait over every port (service_port's poll(0) above
                // kicked the AF_XDP sockets that need a wakeup).
                let fds = self.ports.iter().map(|p| p.io.fd());
                let queue = self.fwmark.as_ref().map(|f| f.queue.as_fd());
                if let Err(e) = lvs_io::wait_readable(fds.chain(queue), 1) {
                    tracing::debug!("poll: {e}");
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        }
        let c = self.dp.counters();
        tracing::info!(
            forwarded = c.forwarded,
            local = c.local,
            dropped = c.dropped,
            replies = c.replies,
            tx = self.counters.tx,
            tx_failed = self.counters.tx_failed,
            no_neighbour = self.counters.no_neighbour,
            held = self.counters.held,
            hold_expired = self.counters.hold_expired,
            no_port = self.counters.no_port,
            not_steered = self.counters.not_steered,
            local_delivered = self.local.as_ref().map_or(0, |l| l.delivered),
            local_failed = self.local.as_ref().map_or(0, |l| l.failed),
            local_not_reinjected = self.counters.local_not_reinjected,
            local_replies = self.local.as_ref().map_or(0, |l| l.replies),
            local_reply_dropped = self.counters.local_reply_dropped,
            monitor_overruns = self.machine.overruns,
            "data plane stopped"
        );
        // Dropping the ports (by the caller dropping `self`) detaches the programs.
    }

    /// Publishes the counters for `--metrics` (a copy, no allocation).
    fn publish_stats(&self) {
        let c = self.dp.counters();
        let s = &self.counters;
        let local = self.local.as_ref();
        self.shared
            .dataplane_stats()
            .publish(crate::metrics::DataplaneValues {
                forwarded: c.forwarded,
                local: c.local,
                dropped: c.dropped,
                replies: c.replies,
                tx: s.tx,
                tx_failed: s.tx_failed,
                no_neighbour: s.no_neighbour,
                held: s.held,
                hold_expired: s.hold_expired,
                no_port: s.no_port,
                not_steered: s.not_steered,
                local_not_reinjected: s.local_not_reinjected,
                local_reply_dropped: s.local_reply_dropped,
                local_delivered: local.map_or(0, |l| l.delivered),
                local_failed: local.map_or(0, |l| l.failed),
                local_replies: local.map_or(0, |l| l.replies),
                held_now: self.held.iter().filter(|h| h.since.is_some()).count() as u64,
            });
    }

    /// Processes the held frames again (neighbours were just re-read).
    fn retry_held(&mut self, frame: &mut Frame) {
        let shared = self.shared.clone();
        let mut control = shared.lock();
        let now = shared.now();
        sync_local(
            &shared,
            &control,
            &mut self.marked,
            self.local.as_mut(),
            &mut self.local_dests,
            self.dp.config_mut(),
        );
        std::mem::swap(&mut control.ipvs, self.dp.ipvs_mut());
        for h in self.held.iter_mut() {
            let Some(since) = h.since else { continue };
            if frame.load(h.frame.data()).is_err() {
                h.since = None;
                continue;
            }
            frame.set_mark(h.frame.mark());
            if h.veth {
                complete_l4_checksum(frame);
            }
            let verdict = self.dp.process(now, frame);
            if verdict == Verdict::Local {
                h.since = None;
                local_verdict(frame, h.reinject, &mut self.local, &mut self.counters);
                continue;
            }
            match verdict {
                Verdict::Forward { ifindex, .. } | Verdict::Reply { ifindex, .. } => {
                    h.since = None;
                    send_to(
                        &mut self.ports,
                        &mut self.local,
                        &mut self.counters,
                        ifindex,
                        frame.data(),
                    );
                }
                Verdict::Drop(DropReason::NoNeighbour) if since.elapsed() < HOLD_TIME => {}
                Verdict::Drop(DropReason::NoNeighbour) => {
                    h.since = None;
                    self.counters.hold_expired += 1;
                }
                Verdict::Local | Verdict::Drop(_) => h.since = None,
            }
        }
        std::mem::swap(&mut control.ipvs, self.dp.ipvs_mut());
    }

    /// Processes what local real servers sent (read back from the TAP, see
    /// [`local`]) as the kernel's `LOCAL_OUT` hook does: counted on their
    /// connection, translated back for NAT, sent towards the client.
    /// Returns how many frames were read and whether a next hop was unknown.
    fn service_local_replies(&mut self, frame: &mut Frame) -> (usize, bool) {
        let Some(local) = self.local.as_mut() else {
            return (0, false);
        };
        if !local.read_reply(frame) {
            return (0, false);
        }
        let mut missed = false;
        let shared = self.shared.clone();
        let mut control = shared.lock();
        let now = shared.now();
        std::mem::swap(&mut control.ipvs, self.dp.ipvs_mut());
        let mut n = 0;
        loop {
            n += 1;
            match self.dp.process(now, frame) {
                Verdict::Forward { ifindex, .. } | Verdict::Reply { ifindex, .. } => send_to(
                    &mut self.ports,
                    &mut self.local,
                    &mut self.counters,
                    ifindex,
                    frame.data(),
                ),
                Verdict::Drop(DropReason::NoNeighbour) => {
                    // Held like received frames (the client's MAC is
                    // usually just being learnt): the kernel did not send
                    // it anywhere else.
                    self.counters.no_neighbour += 1;
                    missed = true;
                    if let (Some(l), Some(h)) = (
                        self.local.as_ref(),
                        self.held.iter_mut().find(|h| h.since.is_none()),
                    ) && h.frame.load(l.last_read()).is_ok()
                    {
                        h.since = Some(Instant::now());
                        h.veth = false;
                        h.reinject = false;
                        self.counters.held += 1;
                    }
                }
                // Never back into the TAP: that would loop.
                Verdict::Local | Verdict::Drop(_) => self.counters.local_reply_dropped += 1,
            }
            if n >= BATCH || !self.local.as_mut().is_some_and(|l| l.read_reply(frame)) {
                break;
            }
        }
        std::mem::swap(&mut control.ipvs, self.dp.ipvs_mut());
        (n, missed)
    }

    /// Steers the reply sources found by [`nat_reply_key`] (before the
    /// packets that will make the real server answer are sent). They leave
    /// with their last connection (see [`linger`]).
    fn add_reply_keys(&mut self) {
        for port in &mut self.ports {
            let Some(steer) = port.steer.as_mut() else {
                continue;
            };
            for key in &self.new_reply_keys {
                if let Err(e) = steer.insert(*key) {
                    tracing::warn!(interface = port.name, "steering insert: {e}");
                }
            }
        }
        // Kept while their connections live (the linger scan drops them).
        self.lingering.extend(self.new_reply_keys.iter().copied());
        self.steered.extend(self.new_reply_keys.drain(..));
        if let Some(f) = self.kfilter.as_mut() {
            f.sync(&self.steered, self.generation);
        }
    }

    /// Reads what the fwmark rules queued (see [`fwmark`]) and processes it
    /// like a received batch; returns how many packets were read and
    /// whether a next hop was unknown.
    fn service_queue(&mut self, frame: &mut Frame, pending: &mut [Pending]) -> (usize, bool) {
        let Some(fw) = self.fwmark.as_mut() else {
            return (0, false);
        };
        let mut missed = false;
        let mut npending = 0usize;
        let mut last_drop: Option<u32> = None;
        let mut accepts = [0u32; BATCH];
        let mut naccepts = 0usize;
        let read = {
            let shared = self.shared.clone();
            let mut control = shared.lock();
            let now = shared.now();
            sync_local(
                &shared,
                &control,
                &mut self.marked,
                self.local.as_mut(),
                &mut self.local_dests,
                self.dp.config_mut(),
            );
            std::mem::swap(&mut control.ipvs, self.dp.ipvs_mut());
            let dp = &mut self.dp;
            let counters = &mut self.counters;
            let held = &mut self.held;
            let scratch = &mut self.queue_buf;
            let steered = &self.steered;
            let new_keys = &mut self.new_reply_keys;
            let mut result = Ok(0);
            let mut total = 0usize;
            while total < BATCH {
                let r = fw.queue.recv(|q| {
                    // Every packet gets a verdict: DROP unless said otherwise.
                    let mut accept = false;
                    let dst_mac = dp
                        .config()
                        .interfaces
                        .iter()
                        .find(|i| i.ifindex == q.indev)
                        .map(|i| i.mac);
                    scratch.clear();
                    scratch.extend_from_slice(&dst_mac.map_or([0u8; 6], |m| m.0));
                    scratch.extend_from_slice(&q.src_mac.unwrap_or([0; 6]));
                    scratch.extend_from_slice(&q.hw_protocol.to_be_bytes());
                    scratch.extend_from_slice(q.payload);
                    if frame.load(scratch).is_ok() {
                        frame.set_mark(q.mark);
                        match dp.process(now, frame) {
                            Verdict::Forward { ifindex: out, .. }
                            | Verdict::Reply { ifindex: out, .. } => {
                                // A NAT real server without a port answers
                                // from the packet's port: steer it before
                                // it can answer.
                                if let Some(k) = nat_reply_key(scratch, frame.data())
                                    && !steered.contains(&k)
                                    && !new_keys.contains(&k)
                                    && new_keys.len() < BATCH
                                {
                                    new_keys.push(k);
                                }
                                if let Some(p) = pending.get_mut(npending)
                                    && p.frame.load(frame.data()).is_ok()
                                {
                                    p.ifindex = out;
                                    npending += 1;
                                }
                            }
                            Verdict::Drop(DropReason::NoNeighbour) => {
                                counters.no_neighbour += 1;
                                missed = true;
                                if let Some(h) = held.iter_mut().find(|h| h.since.is_none())
                                    && h.frame.load(scratch).is_ok()
                                {
                                    h.frame.set_mark(q.mark);
                                    h.since = Some(Instant::now());
                                    h.veth = false;
                                    h.reinject = true;
                                    counters.held += 1;
                                }
                            }
                            Verdict::Local => accept = true,
                            Verdict::Drop(_) => {}
                        }
                    } else {
                        accept = true;
                    }
                    if accept && naccepts < accepts.len() {
                        accepts[naccepts] = q.id;
                        naccepts += 1;
                    } else {
                        last_drop = Some(last_drop.map_or(q.id, |l: u32| l.max(q.id)));
                    }
                });
                match r {
                    Ok(0) => break,
                    Ok(k) => {
                        total += k;
                        result = Ok(total);
                    }
                    Err(e) => {
                        result = Err(e);
                        break;
                    }
                }
            }
            std::mem::swap(&mut control.ipvs, self.dp.ipvs_mut());
            result
        };
        let n = match read {
            Ok(n) => n,
            Err(e) => {
                tracing::debug!("fwmark queue: {e}");
                0
            }
        };
        if !self.new_reply_keys.is_empty() {
            self.add_reply_keys();
        }
        let Some(fw) = self.fwmark.as_mut() else {
            return (n, missed);
        };
        // The accepts first: the batch verdict covers every earlier packet
        // still without one.
        for id in &accepts[..naccepts] {
            if let Err(e) = fw.queue.verdict(*id, lvs_sys::nfqueue::Verdict::Accept) {
                tracing::debug!("fwmark verdict: {e}");
            }
        }
        if let Some(id) = last_drop
            && let Err(e) = fw.queue.verdict_batch(id, lvs_sys::nfqueue::Verdict::Drop)
        {
            tracing::debug!("fwmark verdict: {e}");
        }
        for p in &pending[..npending] {
            send_to(
                &mut self.ports,
                &mut self.local,
                &mut self.counters,
                p.ifindex,
                p.frame.data(),
            );
        }
        (n, missed)
    }

    /// Receives and processes one batch of port `i`; returns how many
    /// frames were received and whether a next hop was unknown.
    fn service_port(
        &mut self,
        i: usize,
        frame: &mut Frame,
        pending: &mut [Pending],
    ) -> (usize, bool) {
        match self.ports[i].io.poll(0) {
            Ok(true) => {}
            Ok(false) => return (0, false),
            Err(e) => {
                tracing::debug!(interface = self.ports[i].name, "poll: {e}");
                return (0, false);
            }
        }
        let mut missed = false;
        let mut npending = 0usize;
        let received;
        {
            let shared = self.shared.clone();
            let mut control = shared.lock();
            let now = shared.now();
            sync_local(
                &shared,
                &control,
                &mut self.marked,
                self.local.as_mut(),
                &mut self.local_dests,
                self.dp.config_mut(),
            );
            std::mem::swap(&mut control.ipvs, self.dp.ipvs_mut());
            let port = &mut self.ports[i];
            let (ifindex, veth) = (port.ifindex, port.veth);
            // AF_PACKET sees every frame: the steering rule is applied here.
            let copy_only = matches!(port.io, Io::Packet(_));
            let dp = &mut self.dp;
            let counters = &mut self.counters;
            let held = &mut self.held;
            let steered = &self.steered;
            let local = &mut self.local;
            let nat_port0 = self.nat_port0;
            let new_keys = &mut self.new_reply_keys;
            let result = port.io.recv_batch(BATCH, |buf, len| {
                // Whether the kernel did not get the frame (XDP redirected
                // it, or the nftables filter dropped the kernel's copy).
                let mut reinject = true;
                if copy_only {
                    match classify(&buf[..len], |k| steered.contains(k)) {
                        None => {
                            counters.not_steered += 1;
                            return Action::Drop;
                        }
                        Some(Steered::IcmpError) => reinject = false,
                        Some(Steered::Inbound) => {}
                    }
                }
                if frame.load(&buf[..len]).is_err() {
                    return Action::Drop;
                }
                if veth {
                    complete_l4_checksum(frame);
                }
                match dp.process(now, frame) {
                    Verdict::Forward { ifindex: out, .. } | Verdict::Reply { ifindex: out, .. } => {
                        // NAT to a real server without a port (port-0 and
                        // fwmark services): its reply source is known now.
                        if nat_port0
                            && let Some(k) = nat_reply_key(&buf[..len], frame.data())
                            && !steered.contains(&k)
                            && !new_keys.contains(&k)
                            && new_keys.len() < BATCH
                        {
                            new_keys.push(k);
                        }
                        let data = frame.data();
                        if out == ifindex && data.len() <= buf.len() {
                            buf[..data.len()].copy_from_slice(data);
                            return Action::Tx(data.len());
                        }
                        if let Some(p) = pending.get_mut(npending)
                            && p.frame.load(data).is_ok()
                        {
                            p.ifindex = out;
                            npending += 1;
                        }
                        Action::Drop
                    }
                    Verdict::Drop(DropReason::NoNeighbour) => {
                        counters.no_neighbour += 1;
                        missed = true;
                        // Hold the frame as received (`buf` is untouched).
                        if let Some(h) = held.iter_mut().find(|h| h.since.is_none())
                            && h.frame.load(&buf[..len]).is_ok()
                        {
                            h.since = Some(Instant::now());
                            h.veth = veth;
                            h.reinject = reinject;
                            counters.held += 1;
                        }
                        Action::Drop
                    }
                    Verdict::Local => {
                        local_verdict(frame, reinject, local, counters);
                        Action::Drop
                    }
                    Verdict::Drop(_) => Action::Drop,
                }
            });
            std::mem::swap(&mut control.ipvs, self.dp.ipvs_mut());
            received = match result {
                Ok(n) => n,
                Err(e) => {
                    tracing::debug!(interface = self.ports[i].name, "receive: {e}");
                    0
                }
            };
        }
        if !self.new_reply_keys.is_empty() {
            self.add_reply_keys();
        }
        for p in &pending[..npending] {
            send_to(
                &mut self.ports,
                &mut self.local,
                &mut self.counters,
                p.ifindex,
                p.frame.data(),
            );
        }
        (received, missed)
    }
}

/// Points the engine at the TAP for the local destinations when the
/// configuration (or the machine view: `marked` reset) changed since the
/// last time. Called with the control lock held: the generation moves under
/// that lock, so no packet is processed against a configuration whose local
/// destinations are not routed to the TAP yet.
fn sync_local(
    shared: &Shared,
    control: &lvs_control::Control,
    marked: &mut u64,
    local: Option<&mut LocalPath>,
    local_dests: &mut Vec<IpAddr>,
    config: &mut lvs_datapath::Config,
) {
    let generation = shared.generation();
    if *marked == generation {
        return;
    }
    *marked = generation;
    let Some(path) = local else { return };
    let addrs = local::local_dests(&control.ipvs, &config.local_addrs);
    if addrs != *local_dests {
        tracing::info!(addresses = ?addrs, "local real servers (through {})", local::TAP_NAME);
        *local_dests = addrs;
    }
    local::install(config, path.ifindex(), path.mac(), local_dests);
    path.set_rules(local::reply_rules(&control.ipvs, &config.local_addrs));
}

/// Sends a frame on the served interface `ifindex`, or to the local stack
/// when `ifindex` is the TAP's.
fn send_to(
    ports: &mut [Port],
    local: &mut Option<LocalPath>,
    counters: &mut ShellCounters,
    ifindex: u32,
    frame: &[u8],
) {
    if let Some(q) = ports.iter_mut().find(|q| q.ifindex == ifindex) {
        match q.io.send(frame) {
            Ok(1) => counters.tx += 1,
            Ok(_) | Err(_) => counters.tx_failed += 1,
        }
        return;
    }
    match local.as_mut() {
        Some(l) if l.ifindex() == ifindex => l.write(frame),
        _ => counters.no_port += 1,
    }
}

/// A `Local` verdict: hands an unfragmented IP packet the kernel did not
/// get to the local stack (see [`local`]).
fn local_verdict(
    frame: &Frame,
    reinject: bool,
    local: &mut Option<LocalPath>,
    counters: &mut ShellCounters,
) {
    let data = frame.data();
    let target = match parse::parse_frame(data) {
        Ok(sum) => match sum.l3 {
            L3::Ip(ip) if ip.fragment.is_none() && reinject => Some(sum.l3_offset),
            _ => None,
        },
        Err(_) => None,
    };
    match (target, local.as_mut()) {
        (Some(l3), Some(path)) => path.deliver(data, l3),
        _ => counters.local_not_reinjected += 1,
    }
}

/// The reply source `proto RIP:rport` of a packet the engine translated
/// (`input` → `output` changed the destination address or port: NAT,
/// FULLNAT); `None` for DR, tunnels and anything without ports.
fn nat_reply_key(input: &[u8], output: &[u8]) -> Option<SteerKey> {
    let (L3::Ip(a), L3::Ip(b)) = (
        parse::parse_frame(input).ok()?.l3,
        parse::parse_frame(output).ok()?.l3,
    ) else {
        return None;
    };
    let (_, adport) = a.transport.ports()?;
    let (_, bdport) = b.transport.ports()?;
    if a.protocol != b.protocol || (a.dst == b.dst && adport == bdport) {
        return None;
    }
    Some(SteerKey::reply_source(b.protocol, b.dst, bdport))
}

/// The IP source and destination of a frame.
fn endpoints(frame: &Frame) -> Option<(IpAddr, IpAddr)> {
    match parse::parse_frame(frame.data()).ok()?.l3 {
        L3::Ip(ip) => Some((ip.src, ip.dst)),
        _ => None,
    }
}

/// Longest-prefix route (the data path's rule, for resolution).
fn best_route<'a>(routes: &'a [Route], dst: &IpAddr) -> Option<&'a Route> {
    let mut best: Option<&Route> = None;
    for r in routes {
        if prefix_contains(&r.prefix, r.len, dst) && best.is_none_or(|b| r.len > b.len) {
            best = Some(r);
        }
    }
    best
}

fn prefix_contains(prefix: &IpAddr, len: u8, addr: &IpAddr) -> bool {
    match (prefix, addr) {
        (IpAddr::V4(p), IpAddr::V4(a)) => {
            let len = u32::from(len.min(32));
            let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
            u32::from(*p) & mask == u32::from(*a) & mask
        }
        (IpAddr::V6(p), IpAddr::V6(a)) => {
            let len = u32::from(len.min(128));
            let mask = if len == 0 {
                0
            } else {
                u128::MAX << (128 - len)
            };
            u128::from(*p) & mask == u128::from(*a) & mask
        }
        _ => false,
    }
}

/// Everything a configuration asks of the data plane, from one pass over
/// its services and real servers (at 10 000 services x 10 real servers a
/// pass is the cost of a control reply: see `sync_steering`).
#[derive(Debug, Default)]
struct SteerWant {
    /// What the steering maps must hold.
    keys: HashSet<SteerKey>,
    /// The marks of the fwmark services (sorted, deduplicated).
    marks: Vec<u32>,
    /// Whether a NAT / FULLNAT real server has no port.
    nat_port0: bool,
    /// The real servers' addresses (unsorted, with repeats).
    dests: Vec<IpAddr>,
}

/// One pass over `ipvs` (`capacity`: the expected number of keys).
fn steering(ipvs: &Ipvs, capacity: usize) -> SteerWant {
    let mut st = SteerWant {
        keys: HashSet::with_capacity(capacity),
        ..SteerWant::default()
    };
    for s in ipvs.services() {
        let addr_service = match s.config.key {
            ServiceKey::Addr { proto, addr, port } => {
                let p = proto.number();
                st.keys.insert(SteerKey::service(p, addr, port));
                st.keys.insert(SteerKey::vip(addr));
                Some(p)
            }
            ServiceKey::Fwmark { mark, .. } => {
                st.marks.push(mark);
                None
            }
        };
        for d in s.dests.iter().filter_map(|id| ipvs.dest(*id)) {
            st.dests.push(d.config.addr);
            if !matches!(d.config.fwd, FwdMethod::Masq | FwdMethod::FullNat) {
                continue;
            }
            st.nat_port0 |= d.config.port == 0;
            match addr_service {
                Some(p) => {
                    st.keys
                        .insert(SteerKey::reply_source(p, d.config.addr, d.config.port));
                }
                // A fwmark service has no protocol: its NAT real servers
                // with a port answer from that port whatever the protocol
                // (those without one are steered per connection, see
                // `linger`).
                None if d.config.port != 0 => {
                    for p in [steer_proto::TCP, steer_proto::UDP, steer_proto::SCTP] {
                        st.keys
                            .insert(SteerKey::reply_source(p, d.config.addr, d.config.port));
                    }
                }
                None => {}
            }
        }
    }
    st.marks.sort_unstable();
    st.marks.dedup();
    st
}

/// The marks of the configured fwmark services (sorted).
#[cfg(test)]
fn fwmark_marks(ipvs: &Ipvs) -> Vec<u32> {
    steering(ipvs, 0).marks
}

/// What the steering maps must hold for this configuration.
#[cfg(test)]
fn steering_keys(ipvs: &Ipvs) -> HashSet<SteerKey> {
    steering(ipvs, 0).keys
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn v4(s: &str) -> IpAddr {
        IpAddr::V4(s.parse::<Ipv4Addr>().unwrap())
    }

    #[test]
    fn held_frame_endpoints_are_source_and_destination() {
        // Ethernet + IPv4 (UDP 10.10.0.161 -> 10.10.0.100) + UDP header.
        let mut b = vec![0u8; 14 + 20 + 8];
        b[12..14].copy_from_slice(&[0x08, 0x00]);
        b[14] = 0x45;
        b[16..18].copy_from_slice(&28u16.to_be_bytes());
        b[22] = 64;
        b[23] = 17;
        b[26..30].copy_from_slice(&[10, 10, 0, 161]);
        b[30..34].copy_from_slice(&[10, 10, 0, 100]);
        let sum = !b[14..34]
            .chunks(2)
            .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
            .fold(0u32, |a, w| {
                let s = a + w;
                (s & 0xffff) + (s >> 16)
            }) as u16;
        b[24..26].copy_from_slice(&sum.to_be_bytes());
        b[38..40].copy_from_slice(&8u16.to_be_bytes());
        let mut f = Frame::default();
        f.load(&b).unwrap();
        assert_eq!(endpoints(&f), Some((v4("10.10.0.161"), v4("10.10.0.100"))));
    }

    /// Ethernet + IPv4 + UDP header, `src:sport -> dst:dport`.
    fn udp4(src: [u8; 4], sport: u16, dst: [u8; 4], dport: u16) -> Vec<u8> {
        let mut b = vec![0u8; 14 + 20 + 8];
        b[12..14].copy_from_slice(&[0x08, 0x00]);
        b[14] = 0x45;
        b[16..18].copy_from_slice(&28u16.to_be_bytes());
        b[22] = 64;
        b[23] = 17;
        b[26..30].copy_from_slice(&src);
        b[30..34].copy_from_slice(&dst);
        b[34..36].copy_from_slice(&sport.to_be_bytes());
        b[36..38].copy_from_slice(&dport.to_be_bytes());
        b[38..40].copy_from_slice(&8u16.to_be_bytes());
        b
    }

    #[test]
    fn a_translated_destination_is_the_reply_source_an_untouched_one_is_not() {
        let client = [172, 16, 10, 22];
        let vip = [172, 16, 10, 21];
        let rip = [192, 168, 100, 39];
        let input = udp4(client, 40000, vip, 53);
        // NAT: the destination became RIP:53, which will answer from there.
        assert_eq!(
            nat_reply_key(&input, &udp4(client, 40000, rip, 53)),
            Some(SteerKey::reply_source(
                steer_proto::UDP,
                v4("192.168.100.39"),
                53
            ))
        );
        // NAT to another port.
        assert_eq!(
            nat_reply_key(&input, &udp4(client, 40000, rip, 5353)),
            Some(SteerKey::reply_source(
                steer_proto::UDP,
                v4("192.168.100.39"),
                5353
            ))
        );
        // DR: same addresses and ports (only the MACs change).
        assert_eq!(nat_reply_key(&input, &input), None);
        // Not IP.
        assert_eq!(nat_reply_key(&[0u8; 20], &input), None);
    }

    #[test]
    fn fwmark_nat_destinations_with_a_port_are_reply_sources_for_every_protocol() {
        let mut c = lvs_control::Control::new(lvs_core::Time::ZERO, "t");
        for argv in [
            &["-A", "-f", "10", "-s", "rr"][..],
            &["-a", "-f", "10", "-r", "192.168.100.39:8080", "-m"],
            &["-a", "-f", "10", "-r", "192.168.100.23", "-m"],
            &["-A", "-f", "11"],
            &["-a", "-f", "11", "-r", "192.168.100.40:80", "-g"],
        ] {
            let (rc, _, err) = lvs_control::run_ipvsadm(&mut c, lvs_core::Time::ZERO, argv, "");
            assert_eq!(rc, 0, "{err}");
        }
        let want: HashSet<SteerKey> = [steer_proto::TCP, steer_proto::UDP, steer_proto::SCTP]
            .into_iter()
            .map(|p| SteerKey::reply_source(p, v4("192.168.100.39"), 8080))
            .collect();
        assert_eq!(steering_keys(&c.ipvs), want);
        assert_eq!(fwmark_marks(&c.ipvs), vec![10, 11]);
        let st = steering(&c.ipvs, 0);
        assert!(st.nat_port0, "192.168.100.23 is NAT without a port");
        let mut dests = st.dests;
        dests.sort_unstable();
        assert_eq!(
            dests,
            [
                v4("192.168.100.23"),
                v4("192.168.100.39"),
                v4("192.168.100.40")
            ]
        );
    }

    #[test]
    fn one_pass_over_address_services() {
        let mut c = lvs_control::Control::new(lvs_core::Time::ZERO, "t");
        for argv in [
            &["-A", "-t", "10.0.0.1:80"][..],
            &["-a", "-t", "10.0.0.1:80", "-r", "192.168.1.1:8080", "-m"],
            &["-a", "-t", "10.0.0.1:80", "-r", "192.168.1.2:80", "-g"],
            &["-A", "-u", "10.0.0.1:53"],
            &["-a", "-u", "10.0.0.1:53", "-r", "192.168.1.1:53", "-m"],
        ] {
            let (rc, _, err) = lvs_control::run_ipvsadm(&mut c, lvs_core::Time::ZERO, argv, "");
            assert_eq!(rc, 0, "{err}");
        }
        let st = steering(&c.ipvs, 0);
        // Per service its own key and the VIP's; per NAT real server its
        // reply source in the service's protocol; DR real servers none.
        let want: HashSet<SteerKey> = [
            SteerKey::service(steer_proto::TCP, v4("10.0.0.1"), 80),
            SteerKey::service(steer_proto::UDP, v4("10.0.0.1"), 53),
            SteerKey::vip(v4("10.0.0.1")),
            SteerKey::reply_source(steer_proto::TCP, v4("192.168.1.1"), 8080),
            SteerKey::reply_source(steer_proto::UDP, v4("192.168.1.1"), 53),
        ]
        .into_iter()
        .collect();
        assert_eq!(st.keys, want);
        assert!(st.marks.is_empty());
        assert!(!st.nat_port0);
        assert_eq!(st.dests.len(), 3);
    }

    #[test]
    fn longest_prefix_wins() {
        let routes = [
            Route {
                prefix: v4("0.0.0.0"),
                len: 0,
                gateway: Some(v4("10.0.0.1")),
                ifindex: 1,
            },
            Route {
                prefix: v4("192.168.100.0"),
                len: 24,
                gateway: None,
                ifindex: 2,
            },
        ];
        assert_eq!(
            best_route(&routes, &v4("192.168.100.39")).unwrap().ifindex,
            2
        );
        assert_eq!(
            best_route(&routes, &v4("192.168.101.1")).unwrap().ifindex,
            1
        );
        assert!(best_route(&routes[1..], &v4("8.8.8.8")).is_none());
    }

    proptest::proptest! {
        /// The chosen route contains the destination and no containing
        /// route is more specific; none is chosen only when none contains it.
        #[test]
        fn best_route_is_the_longest_containing_prefix(
            table in proptest::collection::vec((proptest::prelude::any::<u32>(), 0u8..=32), 0..12),
            dst in proptest::prelude::any::<u32>(),
        ) {
            let routes: Vec<Route> = table
                .iter()
                .enumerate()
                .map(|(i, (p, len))| Route {
                    prefix: IpAddr::V4(Ipv4Addr::from(*p)),
                    len: *len,
                    gateway: None,
                    ifindex: u32::try_from(i).unwrap(),
                })
                .collect();
            let d = IpAddr::V4(Ipv4Addr::from(dst));
            // Containment by the definition: the first `len` bits agree.
            let contains = |r: &Route| {
                let IpAddr::V4(p) = r.prefix else { return false };
                (0..u32::from(r.len)).all(|b| (u32::from(p) >> (31 - b)) & 1 == (dst >> (31 - b)) & 1)
            };
            match best_route(&routes, &d) {
                Some(r) => {
                    proptest::prop_assert!(contains(r));
                    proptest::prop_assert!(routes.iter().filter(|x| contains(x)).all(|x| x.len <= r.len));
                }
                None => proptest::prop_assert!(!routes.iter().any(contains)),
            }
        }
    }

    #[test]
    fn nat_destinations_are_reply_sources_dr_ones_are_not() {
        let mut c = lvs_control::Control::new(lvs_core::Time::ZERO, "t");
        for argv in [
            &["-A", "-t", "172.16.10.21:80", "-s", "wrr"][..],
            &[
                "-a",
                "-t",
                "172.16.10.21:80",
                "-r",
                "192.168.100.39",
                "-m",
                "-w",
                "2",
            ],
            &["-a", "-t", "172.16.10.21:80", "-r", "192.168.100.23", "-g"],
            &["-A", "-f", "7"],
        ] {
            let (rc, _, err) = lvs_control::run_ipvsadm(&mut c, lvs_core::Time::ZERO, argv, "");
            assert_eq!(rc, 0, "{err}");
        }
        let keys = steering_keys(&c.ipvs);
        let want: HashSet<SteerKey> = [
            SteerKey::service(steer_proto::TCP, v4("172.16.10.21"), 80),
            SteerKey::vip(v4("172.16.10.21")),
            SteerKey::reply_source(steer_proto::TCP, v4("192.168.100.39"), 80),
        ]
        .into_iter()
        .collect();
        assert_eq!(keys, want);
    }
}
