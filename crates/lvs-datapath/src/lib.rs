//! `lvs-datapath`: the director's packet engine as a pure function,
//! [`Datapath::process`]`(now, &mut Frame) -> Verdict`.
//!
//! The connection logic is `lvs-core`'s ([`Ipvs::conn_in`],
//! [`Ipvs::conn_out`], the side-effect-free lookups for ICMP errors); the
//! packet views and rewrites are `lvs-wire`'s. This crate mirrors what the
//! kernel's `ip_vs_core.c` hooks and `ip_vs_xmit.c` transmitters do to the
//! bytes, per `docs/lvs-reference.md` §0, §1.3 and §1.9:
//!
//! - **Classification**: the frame is parsed once; an IPv4 header with a
//!   bad checksum is dropped (the IP stack's check); non-IP frames go to the
//!   local stack. TCP/UDP/SCTP packets get a fwmark from the
//!   [`config::FwmarkRule`]s (our stand-in for iptables marks) and go to
//!   `lvs-core`, which looks services up in the kernel's order (fwmark,
//!   exact, port 0) and creates connections only on SYN / INIT / UDP.
//! - **Direction**: a packet answering a NAT/FULLNAT connection (reply
//!   index hit) takes the out path (`ip_vs_out_hook`); every other packet
//!   takes the in path (`ip_vs_in_hook`). A packet that is no IPVS
//!   business goes to the local stack when addressed to the director
//!   ([`Config::local_addrs`] or an interface address), else it is routed
//!   like any forwarded packet (the director is the real servers'
//!   gateway in NAT setups); on that way DR/TUN replies that pass the
//!   director are counted by [`Ipvs::conn_out`] as the kernel does.
//! - **Transmission** (`__ip_vs_get_out_rt`, for every method): route to
//!   the real server (DR and TUN: the real server itself is the next hop),
//!   TTL / hop limit must be > 1 (else ICMP time exceeded, from the
//!   packet's destination) and is decremented, then the MTU check
//!   (`ensure_mtu_is_adequate`): an IPv4 packet with DF, or any IPv6
//!   packet, larger than the route MTU (minus the tunnel overhead for TUN)
//!   is answered with "fragmentation needed" / "packet too big" quoting the
//!   packet as it is at that point (TTL already decremented, addresses not
//!   yet rewritten). Output frames get a fresh untagged Ethernet header:
//!   the egress interface's MAC as source, the neighbour's as destination.
//! - **NAT** (`ip_vs_nat_xmit`, `*_snat_handler`): destination address and
//!   port rewritten on the way in, source on the way out, with incremental
//!   checksums. **DR**: nothing but the MAC header. **TUN**
//!   (`ip_vs_tunnel_xmit{,_v6}`): IPIP (4in4, 6in6, mixed), GUE, GRE; outer
//!   source = the egress interface's address of the outer family, TTL = the
//!   decremented inner TTL, DS from the inner packet (ECN-encapsulated), DF
//!   copied from the inner IPv4 packet when `pmtu_disc` (clear otherwise
//!   and for IPv6 inner packets), id 0, IPv6 flow label 0. The GUE source
//!   port is our own flow hash in the kernel's default ephemeral range
//!   32768..61000 (the kernel's `udp_flow_src_port` uses the skb hash, which
//!   is not reproducible). **FULLNAT**: source and destination both
//!   rewritten (local address/port from `lvs-core`'s pool), reversed on
//!   the reply path.
//! - **ICMP** (`ip_vs_in_icmp`, `ip_vs_out_icmp`): IPv4 dest-unreach,
//!   source-quench, time-exceeded and every ICMPv6 error whose quoted
//!   packet belongs to a connection: checksum verified (bad: drop), then
//!   for NAT/FULLNAT the outer and quoted addresses and ports are
//!   translated (`ip_vs_nat_icmp`) and the message forwarded; for DR and
//!   TUN errors from the client side are forwarded to the real server
//!   like the connection's packets. An IPv4 error from a real server about
//!   a 4in4 tunnel packet (IPIP, GUE, GRE) is answered to the client from
//!   the virtual address with the same type and code, quoting the inner
//!   packet, the MTU of "fragmentation needed" adjusted as the kernel does
//!   (the tunnel branch of `ip_vs_in_icmp`). "No destination" (`ip_vs_leave`)
//!   answers ICMP / ICMPv6 port unreachable from the virtual address.
//!   ICMP answers are built as `icmp_send` does: TTL / hop limit 64, TOS
//!   `0xc0 | (orig & 0x1e)`, at most 576 (IPv4) / 1280 (IPv6) bytes; our IP
//!   id is 0 (the kernel's is a hash).
//! - **Fragments**: every IP fragment is handed to the local stack
//!   ([`Verdict::Local`]): the kernel reassembles before IPVS sees a
//!   packet (`ip_vs_gather_frags`, `nf_defrag_ipv6`), and the shell is
//!   expected to do the same and call `process` again with the whole
//!   packet. A fragment is never forwarded on a guessed flow.
//!
//! Checked against the real kernel: `tests/kernel_replay.rs` replays the
//! frames a Linux 6.1 director received in the lab and compares our
//! output with what it sent (every TUN variant, the PMTU answers, the
//! relayed tunnel ICMP errors), hash-derived fields aside.
//!
//! Not done here: fragmenting oversized packets without DF (dropped with
//! [`DropReason::NeedsFragmentation`]), counting ICMP errors in the
//! statistics, VLAN tags on output, `schedule_icmp`, `nat_icmp_send`, the
//! SCTP "COOKIE ECHO followed by ABORT" chunk rule of `PacketMeta`.
//!
//! Cost per packet on an established connection: one parse, one or two
//! connection lookups in `lvs-core` (the reply index first, then the
//! client index), one route and neighbour scan (linear in the small
//! tables of [`Config`]), O(1) rewriting with incremental checksums (GUE
//! csum / GRE csum read the packet once); no allocation (the frame grows
//! into its headroom, ICMP answers are built in a scratch buffer owned by
//! the [`Datapath`]; `tests/no_alloc.rs` proves it with a counting
//! allocator). Measured with `icount.sh` (callgrind): about 1650 (DR) to
//! 2400 (GUE with checksum) instructions per established packet, of
//! which `lvs-core`'s connection logic is roughly 40 %; `benches/`
//! gives the times.

pub mod config;
pub mod frame;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub use config::{Config, FwmarkRule, Interface, Neighbour, Route};
pub use frame::{Frame, HEADROOM};

use lvs_core::conn::{InForward, InVerdict, PacketMeta, flags as cflags};
use lvs_core::sched::{RandomSource, XorShiftRandom};
use lvs_core::{FwdMethod, Ipvs, Protocol, Time, TunnelConfig};
use lvs_wire::encap::{Encap, GueCsum, Outer, Tunnel};
use lvs_wire::ethernet::{self, ethertype};
use lvs_wire::ip::proto;
use lvs_wire::nat::{self, Rewrite};
use lvs_wire::parse::{self, IpSummary, L3, Transport};
use lvs_wire::{
    Icmpv4Packet, Icmpv6Packet, Ipv4Header, Ipv4Packet, Ipv6Header, Ipv6Packet, MacAddr, icmp,
    icmpv6,
};

/// Why a frame is dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DropReason {
    /// Truncated or inconsistent headers.
    #[error("malformed frame")]
    Malformed,
    /// IPv4 header or ICMP checksum wrong.
    #[error("bad checksum")]
    BadChecksum,
    /// No route to the destination.
    #[error("no route")]
    NoRoute,
    /// The next hop's MAC is not in the neighbour table. The connection
    /// logic ran (a new connection exists, its state moved) but the packet
    /// is not counted: the caller may hold the frame as received and
    /// process it again once the neighbour is known, and it is counted
    /// then, once, as the kernel counts a packet its neighbour layer
    /// queues.
    #[error("no neighbour entry")]
    NoNeighbour,
    /// No address of the needed family on the egress interface.
    #[error("no source address")]
    NoSourceAddr,
    /// Larger than the MTU without DF: the kernel would fragment.
    #[error("needs fragmentation")]
    NeedsFragmentation,
    /// The tunnel MTU is under the minimum (68 / 1280).
    #[error("tunnel MTU too small")]
    MtuTooSmall,
    /// An ICMP error consumed without an answer (the tunnel branch of
    /// `ip_vs_in_icmp` for a client not doing PMTU discovery), or a
    /// packet that would need an ICMP answer about an ICMP error.
    #[error("ICMP error absorbed")]
    IcmpAbsorbed,
    /// `lvs-core` dropped it.
    #[error("connection logic: {0:?}")]
    Core(lvs_core::conn::DropReason),
}

/// What to do with a processed frame. The frame itself was rewritten in
/// place (possibly grown at the front, or replaced by an answer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Send the frame on `ifindex`; its destination MAC is `next_hop`.
    Forward {
        /// Egress interface.
        ifindex: u32,
        /// Next hop's MAC (already written in the frame).
        next_hop: MacAddr,
    },
    /// Hand the (unchanged) frame to the local stack.
    Local,
    /// Drop it.
    Drop(DropReason),
    /// The frame was replaced by the director's answer (ICMP); send it on
    /// `ifindex` to `next_hop`.
    Reply {
        /// Egress interface.
        ifindex: u32,
        /// Next hop's MAC (already written in the frame).
        next_hop: MacAddr,
    },
}

/// Counters of the data path itself (connection, destination and service
/// counters live in `lvs-core`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Frames forwarded.
    pub forwarded: u64,
    /// Frames handed to the stack.
    pub local: u64,
    /// Frames dropped.
    pub dropped: u64,
    /// ICMP answers sent.
    pub replies: u64,
}

/// Size of the scratch buffer for ICMP answers: Ethernet + 1280.
const SCRATCH: usize = ethernet::HEADER_LEN + icmpv6::ERROR_MAX_PACKET;

/// Default hop limit of the director's own packets.
const DEFAULT_TTL: u8 = 64;

/// The packet engine: an [`Ipvs`] plus the shell's view of the machine.
#[derive(Debug)]
pub struct Datapath<R = XorShiftRandom> {
    ipvs: Ipvs,
    config: Config,
    rng: R,
    scratch: Box<[u8]>,
    counters: Counters,
}

/// Where the next hop is.
#[derive(Debug, Clone, Copy)]
struct Hop {
    ifindex: u32,
    mac: MacAddr,
    src_mac: MacAddr,
    mtu: u16,
    src_v4: Option<Ipv4Addr>,
    src_v6: Option<Ipv6Addr>,
}

/// Outcome of the transmit checks: go on, or a finished verdict.
type Step<T> = Result<T, Verdict>;

impl Datapath<XorShiftRandom> {
    /// A data path over `ipvs` with a deterministic random source.
    pub fn new(ipvs: Ipvs, config: Config) -> Self {
        Datapath::with_rng(ipvs, config, XorShiftRandom(0x9e37_79b9_7f4a_7c15))
    }
}

impl<R: RandomSource> Datapath<R> {
    /// A data path with the given random source (for schedulers).
    pub fn with_rng(ipvs: Ipvs, config: Config, rng: R) -> Self {
        Datapath {
            ipvs,
            config,
            rng,
            scratch: vec![0; SCRATCH].into_boxed_slice(),
            counters: Counters::default(),
        }
    }

    /// The IPVS state.
    pub fn ipvs(&self) -> &Ipvs {
        &self.ipvs
    }

    /// The IPVS state, to configure it.
    pub fn ipvs_mut(&mut self) -> &mut Ipvs {
        &mut self.ipvs
    }

    /// The machine view.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The machine view, to change it.
    pub fn config_mut(&mut self) -> &mut Config {
        &mut self.config
    }

    /// FULLNAT local-address pool (forwarded to `lvs-core`).
    pub fn set_fullnat_local_addrs(&mut self, addrs: &[IpAddr]) {
        self.ipvs.set_fullnat_local_addrs(addrs);
    }

    /// Data-path counters.
    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// Processes one received frame (see the crate docs).
    pub fn process(&mut self, now: Time, frame: &mut Frame) -> Verdict {
        let v = self.process_inner(now, frame);
        match v {
            Verdict::Forward { .. } => self.counters.forwarded += 1,
            Verdict::Local => self.counters.local += 1,
            Verdict::Drop(_) => self.counters.dropped += 1,
            Verdict::Reply { .. } => self.counters.replies += 1,
        }
        v
    }

    fn process_inner(&mut self, now: Time, frame: &mut Frame) -> Verdict {
        let Ok(sum) = parse::parse_frame(frame.data()) else {
            return Verdict::Drop(DropReason::Malformed);
        };
        let L3::Ip(ip) = sum.l3 else {
            return Verdict::Local;
        };
        let l3 = sum.l3_offset;
        if ip.version == 4 {
            let ok = Ipv4Packet::new_checked(&frame.data()[l3..l3 + ip.len])
                .is_ok_and(|p| p.verify_checksum());
            if !ok {
                return Verdict::Drop(DropReason::BadChecksum);
            }
        }
        if ip.fragment.is_some() {
            return Verdict::Local;
        }
        match ip.transport {
            Transport::Tcp { .. } | Transport::Udp { .. } | Transport::Sctp { .. } => {
                self.flow(now, frame, l3, &ip)
            }
            Transport::Icmp {
                kind:
                    icmp::kind::DEST_UNREACH | icmp::kind::SOURCE_QUENCH | icmp::kind::TIME_EXCEEDED,
                ..
            } => self.icmp_error(now, frame, l3, &ip),
            Transport::Icmpv6 { kind, .. } if kind < 128 => self.icmp_error(now, frame, l3, &ip),
            _ => self.not_ours(now, frame, l3, &ip, None),
        }
    }

    /// No IPVS business: local stack, or plain forwarding.
    fn not_ours(
        &mut self,
        now: Time,
        frame: &mut Frame,
        l3: usize,
        ip: &IpSummary,
        meta: Option<&PacketMeta>,
    ) -> Verdict {
        if self.config.is_local(&ip.dst) {
            return Verdict::Local;
        }
        if let Some(m) = meta {
            // A DR/TUN reply passing through: counted, not rewritten.
            let _ = self.ipvs.conn_out(now, m);
        }
        let hop = match self.hop(&ip.dst, false) {
            Ok(h) => h,
            Err(v) => return v,
        };
        self.transmit(frame, l3, ip, &hop, false)
            .unwrap_or_else(|v| v)
    }

    // ------------------------------------------------------------ flows

    fn meta(&self, ip: &IpSummary, mark: u32) -> Option<PacketMeta> {
        let (proto, sport, dport, tcp_flags, chunk) = match ip.transport {
            Transport::Tcp {
                src_port,
                dst_port,
                flags,
            } => (Protocol::Tcp, src_port, dst_port, flags as u8, 0),
            Transport::Udp { src_port, dst_port } => (Protocol::Udp, src_port, dst_port, 0, 0),
            Transport::Sctp {
                src_port,
                dst_port,
                first_chunk,
            } => (
                Protocol::Sctp,
                src_port,
                dst_port,
                0,
                first_chunk.unwrap_or(lvs_wire::sctp::chunk::DATA),
            ),
            _ => return None,
        };
        Some(PacketMeta {
            proto,
            saddr: ip.src,
            sport,
            daddr: ip.dst,
            dport,
            fwmark: if mark != 0 {
                Some(mark)
            } else {
                self.config.fwmark(proto, &ip.dst, dport)
            },
            tcp_flags,
            sctp_chunk: chunk,
            len: u32::try_from(ip.len).unwrap_or(u32::MAX),
        })
    }

    fn flow(&mut self, now: Time, frame: &mut Frame, l3: usize, ip: &IpSummary) -> Verdict {
        let Some(meta) = self.meta(ip, frame.mark()) else {
            return Verdict::Drop(DropReason::Malformed);
        };
        if ip.ttl <= 1 {
            if self.ipvs.conn_lookup_out(&meta).is_some() {
                // `ip_forward` answers before the FORWARD hook runs IPVS.
                return self.not_ours(now, frame, l3, ip, None);
            }
        } else if let Some(of) = self.ipvs.conn_reply(now, &meta) {
            // A reply of a NAT/FULLNAT connection (one lookup: the
            // connection found, counted and re-armed together).
            let rw = Rewrite {
                src: Some(of.vaddr),
                dst: of.fullnat.then_some(of.caddr),
                src_port: Some(of.vport),
                dst_port: of.fullnat.then_some(of.cport),
            };
            let v = self.nat_forward(frame, l3, ip, &of.caddr, rw, false);
            if v == Verdict::Drop(DropReason::NoNeighbour) {
                self.ipvs.uncount_packet(of.conn, meta.len, false);
            }
            return v;
        }
        match self.ipvs.conn_in(now, &meta, &mut self.rng) {
            InVerdict::Forward(f) => {
                let v = self.in_forward(frame, l3, ip, &f);
                if v == Verdict::Drop(DropReason::NoNeighbour)
                    && let Some(c) = f.conn
                {
                    self.ipvs.uncount_packet(c, meta.len, true);
                }
                v
            }
            InVerdict::NoDest => self.answer_unreachable(frame, l3, ip),
            InVerdict::Drop(r) => Verdict::Drop(DropReason::Core(r)),
            InVerdict::Pass => self.not_ours(now, frame, l3, ip, Some(&meta)),
        }
    }

    fn in_forward(
        &mut self,
        frame: &mut Frame,
        l3: usize,
        ip: &IpSummary,
        f: &InForward,
    ) -> Verdict {
        match f.fwd {
            FwdMethod::Local => Verdict::Local,
            FwdMethod::Masq => {
                let rw = Rewrite {
                    dst: Some(f.daddr),
                    dst_port: Some(f.dport),
                    ..Rewrite::default()
                };
                self.nat_forward(frame, l3, ip, &f.daddr, rw, true)
            }
            FwdMethod::FullNat => {
                let Some((laddr, lport)) = f.local else {
                    return Verdict::Drop(DropReason::Core(
                        lvs_core::conn::DropReason::NoLocalPort,
                    ));
                };
                let rw = Rewrite {
                    src: Some(laddr),
                    dst: Some(f.daddr),
                    src_port: Some(lport),
                    dst_port: Some(f.dport),
                };
                self.nat_forward(frame, l3, ip, &f.daddr, rw, true)
            }
            FwdMethod::Route => {
                let hop = match self.hop(&f.daddr, true) {
                    Ok(h) => h,
                    Err(v) => return v,
                };
                self.transmit(frame, l3, ip, &hop, true)
                    .unwrap_or_else(|v| v)
            }
            FwdMethod::Tunnel(t) => self.tunnel(frame, l3, ip, &f.daddr, &t),
        }
    }

    /// NAT / FULLNAT: route, TTL, MTU, then the rewrite and the MAC header.
    fn nat_forward(
        &mut self,
        frame: &mut Frame,
        l3: usize,
        ip: &IpSummary,
        to: &IpAddr,
        rw: Rewrite<IpAddr>,
        inbound: bool,
    ) -> Verdict {
        let hop = match self.hop(to, false) {
            Ok(h) => h,
            Err(v) => return v,
        };
        if let Err(v) = self.ttl_and_mtu(frame, l3, ip, &hop, None, inbound) {
            return v;
        }
        let pkt = &mut frame.data_mut()[l3..l3 + ip.len];
        if apply_rewrite(pkt, &rw).is_err() {
            return Verdict::Drop(DropReason::Malformed);
        }
        self.finish_l2(frame, l3, ip.len, &hop)
    }

    /// TUN: route to the real server, TTL, tunnel MTU, encapsulation.
    fn tunnel(
        &mut self,
        frame: &mut Frame,
        l3: usize,
        ip: &IpSummary,
        rs: &IpAddr,
        t: &TunnelConfig,
    ) -> Verdict {
        // Routed like any local output (no KNOWN_NH: that is DR's mode).
        let hop = match self.hop(rs, false) {
            Ok(h) => h,
            Err(v) => return v,
        };
        let tunnel = match t.kind {
            lvs_core::TunnelType::Ipip => Tunnel::Ipip,
            lvs_core::TunnelType::Gue => Tunnel::Gue {
                src_port: flow_port(ip),
                dst_port: t.port,
                csum: match t.csum {
                    lvs_core::dest::TunnelCsum::NoCsum => GueCsum::None,
                    lvs_core::dest::TunnelCsum::Csum => GueCsum::Csum,
                    lvs_core::dest::TunnelCsum::RemCsum => GueCsum::RemCsum,
                },
            },
            lvs_core::TunnelType::Gre => Tunnel::Gre {
                csum: t.csum != lvs_core::dest::TunnelCsum::NoCsum,
            },
        };
        // Placeholder outer to size the overhead; fields filled below.
        let mut encap = Encap {
            outer: match rs {
                IpAddr::V4(d) => Outer::V4 {
                    src: Ipv4Addr::UNSPECIFIED,
                    dst: *d,
                    ttl: 0,
                    tos: 0,
                    dont_fragment: false,
                    ident: 0,
                },
                IpAddr::V6(d) => Outer::V6 {
                    src: Ipv6Addr::UNSPECIFIED,
                    dst: *d,
                    hop_limit: 0,
                    traffic_class: 0,
                    flow_label: 0,
                },
            },
            tunnel,
        };
        let floor = if rs.is_ipv4() { 68 } else { 1280 };
        let tun = Some((encap.overhead(), floor));
        if let Err(v) = self.ttl_and_mtu(frame, l3, ip, &hop, tun, true) {
            return v;
        }
        let pkt = &frame.data()[l3..l3 + ip.len];
        let Ok(inner) = lvs_wire::encap::inner_fields(pkt) else {
            return Verdict::Drop(DropReason::Malformed);
        };
        encap.outer = match encap.outer {
            Outer::V4 { dst, .. } => {
                let Some(src) = hop.src_v4 else {
                    return Verdict::Drop(DropReason::NoSourceAddr);
                };
                Outer::V4 {
                    src,
                    dst,
                    ttl: inner.ttl,
                    tos: inner.ds,
                    dont_fragment: self.config.pmtu_disc && inner.dont_fragment,
                    ident: 0,
                }
            }
            Outer::V6 { dst, .. } => {
                let Some(src) = hop.src_v6 else {
                    return Verdict::Drop(DropReason::NoSourceAddr);
                };
                Outer::V6 {
                    src,
                    dst,
                    hop_limit: inner.ttl,
                    traffic_class: inner.ds,
                    flow_label: 0,
                }
            }
        };
        let inner_start = frame.start() + l3;
        let Ok(outer_start) = encap.encapsulate(frame.raw_mut(), inner_start, ip.len) else {
            return Verdict::Drop(DropReason::Malformed);
        };
        let outer_len = inner_start + ip.len - outer_start;
        let eth_start = outer_start - ethernet::HEADER_LEN;
        frame.set_window(eth_start, ethernet::HEADER_LEN + outer_len);
        self.write_l2(frame, &hop, encap_ethertype(&encap.outer));
        Verdict::Forward {
            ifindex: hop.ifindex,
            next_hop: hop.mac,
        }
    }

    // ------------------------------------------------------------- ICMP

    fn icmp_error(&mut self, now: Time, frame: &mut Frame, l3: usize, ip: &IpSummary) -> Verdict {
        let l4 = l3 + ip.l4_offset;
        let end = l3 + ip.len;
        // Verify the ICMP checksum and read the quoted packet's flow.
        let quoted = {
            let msg = &frame.data()[l4..end];
            match ip.version {
                4 => match Icmpv4Packet::new_checked(msg) {
                    Ok(m) if !m.verify_checksum() => {
                        return Verdict::Drop(DropReason::BadChecksum);
                    }
                    Ok(m) => m.embedded().ok().and_then(|q| {
                        quoted_flow(
                            q.protocol(),
                            q.src().into(),
                            q.dst().into(),
                            q.payload(),
                            q.is_fragment(),
                        )
                    }),
                    Err(_) => return Verdict::Drop(DropReason::Malformed),
                },
                _ => {
                    let (IpAddr::V6(s), IpAddr::V6(d)) = (ip.src, ip.dst) else {
                        return Verdict::Drop(DropReason::Malformed);
                    };
                    match Icmpv6Packet::new_checked(msg) {
                        Ok(m) if !m.verify_checksum(&s, &d) => {
                            return Verdict::Drop(DropReason::BadChecksum);
                        }
                        Ok(m) => m.embedded().ok().and_then(|q| {
                            let ul = q.upper_layer().ok()?;
                            let body = q.packet().get(ul.offset..)?;
                            quoted_flow(
                                ul.protocol,
                                q.src().into(),
                                q.dst().into(),
                                body,
                                ul.fragment.is_some_and(|f| f.offset != 0),
                            )
                        }),
                        Err(_) => return Verdict::Drop(DropReason::Malformed),
                    }
                }
            }
        };
        if ip.version == 4
            && self.config.is_local(&ip.dst)
            && let Some(v) = self.tunnel_icmp(frame, l3, ip)
        {
            return v;
        }
        let Some((proto, qsrc, qsport, qdst, qdport)) = quoted else {
            return self.not_ours(now, frame, l3, ip, None);
        };
        // The quoted packet travelled q.src → q.dst; its flow seen the
        // other way round is the one the error is about.
        let inverse = PacketMeta::new_flow(proto, (qdst, qdport), (qsrc, qsport));
        // Error from the real-server side about a packet we sent it
        // (`ip_vs_out_icmp`): the quote is client/local → real server.
        if let Some(id) = self.ipvs.conn_lookup_out(&inverse)
            && let Some(c) = self.ipvs.conn_info(id)
        {
            let fwd = (c.flags as u16) & cflags::FWD_MASK;
            let full = fwd == cflags::FWD_FULLNAT;
            let outer = Rewrite {
                src: Some(c.vaddr),
                dst: full.then_some(c.caddr),
                ..Rewrite::default()
            };
            let quote = Rewrite {
                src: full.then_some(c.caddr),
                dst: Some(c.vaddr),
                src_port: full.then_some(c.cport),
                dst_port: Some(c.vport),
            };
            return self.icmp_forward(frame, l3, ip, &c.caddr, outer, quote);
        }
        // Error from the client side about a reply (`ip_vs_in_icmp`): the
        // quote is virtual → client.
        if let Some(id) = self.ipvs.conn_lookup_in(&inverse)
            && let Some(c) = self.ipvs.conn_info(id)
        {
            let fwd = (c.flags as u16) & cflags::FWD_MASK;
            return match fwd {
                cflags::FWD_MASQ | cflags::FWD_FULLNAT => {
                    let full = fwd == cflags::FWD_FULLNAT;
                    let local = c.local;
                    let outer = Rewrite {
                        src: if full { local.map(|l| l.0) } else { None },
                        dst: Some(c.daddr),
                        ..Rewrite::default()
                    };
                    let quote = Rewrite {
                        src: Some(c.daddr),
                        dst: if full { local.map(|l| l.0) } else { None },
                        src_port: Some(c.dport),
                        dst_port: if full { local.map(|l| l.1) } else { None },
                    };
                    self.icmp_forward(frame, l3, ip, &c.daddr, outer, quote)
                }
                cflags::FWD_LOCAL => Verdict::Local,
                _ => {
                    let daddr = c
                        .dest
                        .and_then(|d| self.ipvs.dest(d))
                        .map_or(c.daddr, |d| d.config.addr);
                    match c.dest.and_then(|d| self.ipvs.dest(d)).map(|d| d.config.fwd) {
                        Some(FwdMethod::Tunnel(t)) => self.tunnel(frame, l3, ip, &daddr, &t),
                        _ => {
                            let hop = match self.hop(&daddr, true) {
                                Ok(h) => h,
                                Err(v) => return v,
                            };
                            self.transmit(frame, l3, ip, &hop, true)
                                .unwrap_or_else(|v| v)
                        }
                    }
                }
            };
        }
        self.not_ours(now, frame, l3, ip, None)
    }

    fn icmp_forward(
        &mut self,
        frame: &mut Frame,
        l3: usize,
        ip: &IpSummary,
        to: &IpAddr,
        outer: Rewrite<IpAddr>,
        quote: Rewrite<IpAddr>,
    ) -> Verdict {
        let hop = match self.hop(to, false) {
            Ok(h) => h,
            Err(v) => return v,
        };
        if let Err(v) = self.ttl_and_mtu(frame, l3, ip, &hop, None, false) {
            return v;
        }
        let l4 = ip.l4_offset;
        let pkt = &mut frame.data_mut()[l3..l3 + ip.len];
        let ok = match (v4_rw(&outer), v4_rw(&quote)) {
            (Some(o), Some(q)) => {
                nat::rewrite_ipv4(pkt, &o).is_ok()
                    && nat::rewrite_icmpv4_error(&mut pkt[l4..], &q).is_ok()
            }
            _ => match (v6_rw(&outer), v6_rw(&quote)) {
                (Some(o), Some(q)) => {
                    nat::rewrite_ipv6(pkt, &o).is_ok()
                        && match Ipv6Packet::new_checked(&*pkt) {
                            Ok(p) => {
                                let (s, d) = (p.src(), p.dst());
                                nat::rewrite_icmpv6_error(&mut pkt[l4..], &s, &d, &q).is_ok()
                            }
                            Err(_) => false,
                        }
                }
                _ => false,
            },
        };
        if !ok {
            return Verdict::Drop(DropReason::Malformed);
        }
        self.finish_l2(frame, l3, ip.len, &hop)
    }

    /// `ip_vs_leave`: port unreachable from the virtual address.
    fn answer_unreachable(&mut self, frame: &mut Frame, l3: usize, ip: &IpSummary) -> Verdict {
        let (kind, code) = if ip.version == 4 {
            (icmp::kind::DEST_UNREACH, icmp::code::PORT_UNREACH)
        } else {
            (icmpv6::kind::DEST_UNREACH, ICMPV6_PORT_UNREACH)
        };
        self.answer(frame, l3, ip.len, ip.dst, kind, code, 0)
    }

    /// Replaces the frame by an ICMP error about the packet at
    /// `frame[l3..l3 + len]`, from `src`, routed back to the packet's
    /// source.
    #[allow(clippy::too_many_arguments)]
    fn answer(
        &mut self,
        frame: &mut Frame,
        l3: usize,
        len: usize,
        src: IpAddr,
        kind: u8,
        code: u8,
        rest: u32,
    ) -> Verdict {
        let Ok(p) = parse::parse_ip(&frame.data()[l3..l3 + len]) else {
            return Verdict::Drop(DropReason::Malformed);
        };
        self.answer_about(frame, (l3, len), src, p.src, p.tos, (kind, code, rest))
    }

    /// Replaces the frame by an ICMP error from `src` to `dst` quoting
    /// `frame[at.0..at.0 + at.1]` (a packet whose DS byte is `tos`);
    /// `msg` is (type, code, rest of header).
    fn answer_about(
        &mut self,
        frame: &mut Frame,
        at: (usize, usize),
        src: IpAddr,
        dst: IpAddr,
        tos: u8,
        msg: (u8, u8, u32),
    ) -> Verdict {
        let (kind, code, rest) = msg;
        let orig = &frame.data()[at.0..at.0 + at.1];
        if is_icmp_error(orig) {
            // `icmp_send` never answers an ICMP error.
            return Verdict::Drop(DropReason::IcmpAbsorbed);
        }
        let hop = match self.hop(&dst, false) {
            Ok(h) => h,
            Err(v) => return v,
        };
        let out = &mut self.scratch[ethernet::HEADER_LEN..];
        let built = match (src, dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                let mut h = Ipv4Header::new(s, d, proto::ICMP);
                h.ttl = DEFAULT_TTL;
                h.tos = icmp::error_tos(tos);
                icmp::build_error(out, &h, kind, code, rest, orig).map(|n| (n, ethertype::IPV4))
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => {
                let mut h = Ipv6Header::new(s, d, proto::ICMPV6);
                h.hop_limit = DEFAULT_TTL;
                icmpv6::build_error(out, &h, kind, code, rest, orig).map(|n| (n, ethertype::IPV6))
            }
            _ => return Verdict::Drop(DropReason::Malformed),
        };
        let Ok((n, et)) = built else {
            return Verdict::Drop(DropReason::Malformed);
        };
        if ethernet::write_header(&mut self.scratch[..], hop.mac, hop.src_mac, &[], et).is_err() {
            return Verdict::Drop(DropReason::Malformed);
        }
        if frame
            .load(&self.scratch[..ethernet::HEADER_LEN + n])
            .is_err()
        {
            return Verdict::Drop(DropReason::Malformed);
        }
        Verdict::Reply {
            ifindex: hop.ifindex,
            next_hop: hop.mac,
        }
    }

    /// `ip_vs_in_icmp`, tunnel branch: an IPv4 ICMP error addressed to the
    /// director about a 4in4 IPIP / GUE / GRE packet it sent to a real
    /// server. The director answers the client itself, from the virtual
    /// address, with the same type and code, quoting the inner packet;
    /// for "fragmentation needed" the MTU becomes the route's path MTU
    /// (the reported one when lower, at least 552 as `ip_rt_min_pmtu`)
    /// minus 20 (the kernel subtracts the IPv4 header only, whatever the
    /// tunnel), and an inner packet without DF gets no answer. `None`:
    /// not such an error.
    fn tunnel_icmp(&mut self, frame: &mut Frame, l3: usize, ip: &IpSummary) -> Option<Verdict> {
        let l4 = l3 + ip.l4_offset;
        let end = l3 + ip.len;
        let msg = &frame.data()[l4..end];
        let m = Icmpv4Packet::new_checked(msg).ok()?;
        let q = m.embedded().ok()?;
        if q.is_fragment() || !self.config.is_local(&IpAddr::V4(q.src())) {
            return None;
        }
        let body = q.payload();
        let off = match q.protocol() {
            proto::IPIP => 0,
            proto::GRE => {
                let g = lvs_wire::gre::GreHeader::new_checked(body).ok()?;
                (g.protocol() == ethertype::IPV4).then_some(g.header_len())?
            }
            proto::UDP => {
                let g = lvs_wire::gue::GueHeader::new_checked(body.get(8..)?).ok()?;
                (!g.is_control() && g.protocol() == proto::IPIP).then_some(8 + g.header_len())?
            }
            _ => return None,
        };
        let inner = body.get(off..)?;
        let iq = Ipv4Packet::new_truncated(inner).ok()?;
        let (p, s, sp, d, dp) = quoted_flow(
            iq.protocol(),
            iq.src().into(),
            iq.dst().into(),
            iq.payload(),
            iq.is_fragment(),
        )?;
        let id = self
            .ipvs
            .conn_lookup_in(&PacketMeta::new_flow(p, (s, sp), (d, dp)))?;
        let c = self.ipvs.conn_info(id)?;
        if (c.flags as u16) & cflags::FWD_MASK != cflags::FWD_TUNNEL {
            return None;
        }
        let (kind, code) = (m.kind(), m.code());
        let mut rest = m.rest_of_header();
        if kind == icmp::kind::DEST_UNREACH && code == icmp::code::FRAG_NEEDED {
            if !iq.dont_fragment() {
                return Some(Verdict::Drop(DropReason::IcmpAbsorbed));
            }
            let reported = u32::from(m.next_hop_mtu());
            let route = match self.hop(&IpAddr::V4(q.dst()), true) {
                Ok(h) => u32::from(h.mtu),
                Err(v) => return Some(v),
            };
            let mut mtu = if reported < route {
                reported.max(552)
            } else {
                route
            };
            if mtu > 68 + 20 {
                mtu -= 20;
            }
            rest = mtu;
        }
        let tos = iq.tos();
        let start = l4 + icmp::HEADER_LEN + q.header_len() + off;
        let len = end - start;
        Some(self.answer_about(frame, (start, len), d, s, tos, (kind, code, rest)))
    }

    // ------------------------------------------------------ transmission

    /// Route to `to` and resolve the next hop (`to` itself when
    /// `known_nh`, as DR and TUN send to the real server directly).
    fn hop(&self, to: &IpAddr, known_nh: bool) -> Step<Hop> {
        let r = self
            .config
            .route(to)
            .ok_or(Verdict::Drop(DropReason::NoRoute))?;
        let iface = self
            .config
            .interface(r.ifindex)
            .ok_or(Verdict::Drop(DropReason::NoRoute))?;
        let nh = if known_nh {
            *to
        } else {
            r.gateway.unwrap_or(*to)
        };
        let mac = self
            .config
            .neighbour(&nh)
            .ok_or(Verdict::Drop(DropReason::NoNeighbour))?;
        Ok(Hop {
            ifindex: iface.ifindex,
            mac,
            src_mac: iface.mac,
            mtu: iface.mtu,
            src_v4: iface.v4,
            src_v6: iface.v6,
        })
    }

    /// `decrement_ttl` + `ensure_mtu_is_adequate`. `overhead` is the
    /// tunnel's; `inbound` says the packet was addressed to the director
    /// (ICMP answers then come from its destination address).
    ///
    /// `ip` summarises the (unmodified) packet at `l3`: its TTL,
    /// addresses and DF are read from there, not parsed again.
    fn ttl_and_mtu(
        &mut self,
        frame: &mut Frame,
        l3: usize,
        ip: &IpSummary,
        hop: &Hop,
        tun: Option<(usize, usize)>,
        inbound: bool,
    ) -> Step<()> {
        let len = ip.len;
        let v4 = ip.version == 4;
        let (ttl, src, dst) = (ip.ttl, ip.src, ip.dst);
        // IPv6 never fragments on the way: as if DF were set.
        let df = !v4 || ip.dont_fragment;
        // `icmp_send`: a packet addressed to the director is answered from
        // that address; a forwarded one from the director's address on the
        // way back to the sender.
        let icmp_src = |me: &Self| -> Option<IpAddr> {
            if inbound {
                return Some(dst);
            }
            let back = me.hop(&src, false).ok()?;
            if v4 {
                back.src_v4.map(IpAddr::V4)
            } else {
                back.src_v6.map(IpAddr::V6)
            }
        };
        if ttl <= 1 {
            let Some(from) = icmp_src(self) else {
                return Err(Verdict::Drop(DropReason::NoSourceAddr));
            };
            let (k, c) = if v4 {
                (icmp::kind::TIME_EXCEEDED, icmp::code::TTL_EXCEEDED)
            } else {
                (icmpv6::kind::TIME_EXCEEDED, 0)
            };
            return Err(self.answer(frame, l3, len, from, k, c, 0));
        }
        // IPVS (`__ip_vs_get_out_rt`) decrements before its MTU check, so
        // its ICMP quotes the decremented TTL; `ip_forward` checks the MTU
        // first.
        if inbound {
            decrement_ttl(&mut frame.data_mut()[l3..l3 + len], v4);
        }
        let route_mtu = usize::from(hop.mtu);
        let mtu = if let Some((overhead, floor)) = tun {
            let m = route_mtu.saturating_sub(overhead);
            if m < floor {
                return Err(Verdict::Drop(DropReason::MtuTooSmall));
            }
            m
        } else {
            route_mtu
        };
        if len > mtu {
            if v4 && !(df && (tun.is_none() || self.config.pmtu_disc)) {
                return Err(Verdict::Drop(DropReason::NeedsFragmentation));
            }
            let Some(from) = icmp_src(self) else {
                return Err(Verdict::Drop(DropReason::NoSourceAddr));
            };
            let m = u32::try_from(mtu).unwrap_or(u32::MAX);
            return Err(if v4 {
                self.answer(
                    frame,
                    l3,
                    len,
                    from,
                    icmp::kind::DEST_UNREACH,
                    icmp::code::FRAG_NEEDED,
                    m & 0xffff,
                )
            } else {
                self.answer(frame, l3, len, from, icmpv6::kind::PACKET_TOO_BIG, 0, m)
            });
        }
        if !inbound {
            decrement_ttl(&mut frame.data_mut()[l3..l3 + len], v4);
        }
        Ok(())
    }

    /// TTL, MTU, then the MAC header: forwarding without rewriting (DR,
    /// plain routing).
    fn transmit(
        &mut self,
        frame: &mut Frame,
        l3: usize,
        ip: &IpSummary,
        hop: &Hop,
        inbound: bool,
    ) -> Step<Verdict> {
        self.ttl_and_mtu(frame, l3, ip, hop, None, inbound)?;
        Ok(self.finish_l2(frame, l3, ip.len, hop))
    }

    /// Puts a fresh Ethernet header before the IP packet at `l3` (dropping
    /// any VLAN tags and trailing padding) and returns the forward verdict.
    fn finish_l2(&mut self, frame: &mut Frame, l3: usize, len: usize, hop: &Hop) -> Verdict {
        let ip_start = frame.start() + l3;
        let Some(eth_start) = ip_start.checked_sub(ethernet::HEADER_LEN) else {
            return Verdict::Drop(DropReason::Malformed);
        };
        let et = match frame.data().get(l3).map(|b| b >> 4) {
            Some(6) => ethertype::IPV6,
            _ => ethertype::IPV4,
        };
        frame.set_window(eth_start, ethernet::HEADER_LEN + len);
        self.write_l2(frame, hop, et);
        Verdict::Forward {
            ifindex: hop.ifindex,
            next_hop: hop.mac,
        }
    }

    fn write_l2(&self, frame: &mut Frame, hop: &Hop, et: u16) {
        // Cannot fail: the window holds at least the 14 header bytes.
        let _ = ethernet::write_header(frame.data_mut(), hop.mac, hop.src_mac, &[], et);
    }
}

/// Whether an IP packet (possibly a truncated quote) is an ICMP error
/// message (IPv4 types 3, 4, 5, 11, 12; ICMPv6 types below 128 right
/// after the fixed header).
fn is_icmp_error(p: &[u8]) -> bool {
    match p.first().map(|b| b >> 4) {
        Some(4) => {
            let ihl = usize::from(p[0] & 0x0f) * 4;
            let first_fragment = p.get(6..8).is_some_and(|f| f[0] & 0x1f == 0 && f[1] == 0);
            p.get(9) == Some(&proto::ICMP)
                && first_fragment
                && p.get(ihl).is_some_and(|t| matches!(t, 3 | 4 | 5 | 11 | 12))
        }
        Some(6) => p.get(6) == Some(&proto::ICMPV6) && p.get(40).is_some_and(|t| *t < 128),
        _ => false,
    }
}

/// Decrements the TTL / hop limit (not below zero) of an IP packet whose
/// header was validated by the parse (IPv4: header checksum updated
/// incrementally, RFC 1624, over the TTL/protocol word).
fn decrement_ttl(pkt: &mut [u8], v4: bool) {
    if v4 {
        if let Some(h) = pkt.get_mut(..12) {
            let old = u16::from_be_bytes([h[8], h[9]]);
            let new = (u16::from(h[8].saturating_sub(1)) << 8) | u16::from(h[9]);
            let check = u16::from_be_bytes([h[10], h[11]]);
            let c = lvs_wire::checksum::update16(check, old, new);
            h[8..10].copy_from_slice(&new.to_be_bytes());
            h[10..12].copy_from_slice(&c.to_be_bytes());
        }
    } else if let Some(hl) = pkt.get_mut(7) {
        *hl = hl.saturating_sub(1);
    }
}

/// ICMPv6 destination-unreachable code "port unreachable".
const ICMPV6_PORT_UNREACH: u8 = 4;

fn encap_ethertype(o: &Outer) -> u16 {
    match o {
        Outer::V4 { .. } => ethertype::IPV4,
        Outer::V6 { .. } => ethertype::IPV6,
    }
}

/// The flow of a quoted packet: protocol, source, source port,
/// destination, destination port. `None` for protocols IPVS does not
/// track, non-first fragments and quotes too short for the ports.
fn quoted_flow(
    protocol: u8,
    src: IpAddr,
    dst: IpAddr,
    l4: &[u8],
    non_first_fragment: bool,
) -> Option<(Protocol, IpAddr, u16, IpAddr, u16)> {
    if non_first_fragment {
        return None;
    }
    let p = Protocol::from_number(protocol)?;
    let sport = u16::from_be_bytes([*l4.first()?, *l4.get(1)?]);
    let dport = u16::from_be_bytes([*l4.get(2)?, *l4.get(3)?]);
    Some((p, src, sport, dst, dport))
}

trait NewFlow {
    fn new_flow(proto: Protocol, src: (IpAddr, u16), dst: (IpAddr, u16)) -> PacketMeta;
}

impl NewFlow for PacketMeta {
    fn new_flow(proto: Protocol, src: (IpAddr, u16), dst: (IpAddr, u16)) -> PacketMeta {
        match proto {
            Protocol::Tcp => PacketMeta::tcp(src, dst, 0),
            Protocol::Udp => PacketMeta::udp(src, dst),
            Protocol::Sctp => PacketMeta::sctp(src, dst, lvs_wire::sctp::chunk::DATA),
        }
    }
}

fn v4_rw(r: &Rewrite<IpAddr>) -> Option<Rewrite<Ipv4Addr>> {
    fn a(x: Option<IpAddr>) -> Option<Option<Ipv4Addr>> {
        match x {
            None => Some(None),
            Some(IpAddr::V4(v)) => Some(Some(v)),
            Some(IpAddr::V6(_)) => None,
        }
    }
    Some(Rewrite {
        src: a(r.src)?,
        dst: a(r.dst)?,
        src_port: r.src_port,
        dst_port: r.dst_port,
    })
}

fn v6_rw(r: &Rewrite<IpAddr>) -> Option<Rewrite<Ipv6Addr>> {
    fn a(x: Option<IpAddr>) -> Option<Option<Ipv6Addr>> {
        match x {
            None => Some(None),
            Some(IpAddr::V6(v)) => Some(Some(v)),
            Some(IpAddr::V4(_)) => None,
        }
    }
    Some(Rewrite {
        src: a(r.src)?,
        dst: a(r.dst)?,
        src_port: r.src_port,
        dst_port: r.dst_port,
    })
}

/// Applies an address/port rewrite to an IP packet of either family.
fn apply_rewrite(pkt: &mut [u8], rw: &Rewrite<IpAddr>) -> Result<(), lvs_wire::Error> {
    match pkt.first().map(|b| b >> 4) {
        Some(4) => match v4_rw(rw) {
            Some(r) => nat::rewrite_ipv4(pkt, &r),
            None => Err(family_error()),
        },
        _ => match v6_rw(rw) {
            Some(r) => nat::rewrite_ipv6(pkt, &r),
            None => Err(family_error()),
        },
    }
}

fn family_error() -> lvs_wire::Error {
    lvs_wire::Error::Unsupported {
        layer: lvs_wire::Layer::Ipv4,
        what: "address family change",
    }
}

/// GUE source port: a hash of the inner flow folded into 32768..61000
/// (the kernel's default `ip_local_port_range`, as `udp_flow_src_port`
/// uses).
fn flow_port(ip: &IpSummary) -> u16 {
    let mut h: u32 = 0x811c_9dc5;
    let mut mix = |b: &[u8]| {
        for &x in b {
            h = (h ^ u32::from(x)).wrapping_mul(0x0100_0193);
        }
    };
    match ip.src {
        IpAddr::V4(a) => mix(&a.octets()),
        IpAddr::V6(a) => mix(&a.octets()),
    }
    match ip.dst {
        IpAddr::V4(a) => mix(&a.octets()),
        IpAddr::V6(a) => mix(&a.octets()),
    }
    mix(&[ip.protocol]);
    if let Some((s, d)) = ip.transport.ports() {
        mix(&s.to_be_bytes());
        mix(&d.to_be_bytes());
    }
    let span = 61000u32 - 32768;
    let port = 32768 + ((u64::from(h) * u64::from(span)) >> 32) as u32;
    u16::try_from(port).unwrap_or(32768)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The in-place decrement gives the bytes of lvs-wire's
        /// `Ipv4Packet::decrement_ttl` / `Ipv6Packet::decrement_hop_limit`
        /// (TTL 0 and 1 included, any stored checksum).
        #[test]
        fn decrement_matches_lvs_wire(mut h in proptest::collection::vec(any::<u8>(), 40)) {
            h[0] = 0x45;
            h[2] = 0;
            h[3] = 40;
            h[6] &= 0x40;
            h[7] = 0;
            let mut want = h.clone();
            Ipv4Packet::new_checked(&mut want[..]).unwrap().decrement_ttl();
            decrement_ttl(&mut h, true);
            prop_assert_eq!(&h, &want);

            h[0] = 0x60;
            h[4] = 0;
            h[5] = 0;
            let mut want = h.clone();
            Ipv6Packet::new_checked(&mut want[..]).unwrap().decrement_hop_limit();
            decrement_ttl(&mut h, false);
            prop_assert_eq!(&h, &want);
        }
    }
}
