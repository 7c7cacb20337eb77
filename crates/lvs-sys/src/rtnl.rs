//! rtnetlink (`NETLINK_ROUTE`) without dependencies: dumps of links, addresses, routes and
//! neighbours of the calling thread's network namespace, a neighbour-resolution trigger, and
//! a monitor of link/address/route/neighbour changes.
//!
//! Kernel behaviour mirrored: a dump request (`NLM_F_DUMP`) is answered with multipart
//! messages ended by `NLMSG_DONE`; errors come as `NLMSG_ERROR` with a negative errno.
//! Resolution is triggered like `ip neigh replace ADDR dev DEV use` does: `RTM_NEWNEIGH` with
//! `NTF_USE`, which makes the kernel create the entry if needed and send a solicitation
//! (`neigh_event_send`); the answer shows up in a later dump or on the monitor.
//!
//! Monitor: a socket bound to multicast groups ([`Rtnl::monitor`]) receives one notification
//! per change (`RTM_NEW*` / `RTM_DEL*`). When the socket's receive buffer overflows the kernel
//! drops notifications and the next read fails with `ENOBUFS`
//! ([`SysError::Overrun`]): the reader must dump again. Open the monitor before the initial
//! dump so that nothing changes unseen in between. Monitor sockets ask for a 4 MiB receive
//! buffer (`SO_RCVBUFFORCE` when privileged, else `SO_RCVBUF` capped by `rmem_max`).
//!
//! Parsing is bounds-checked on every length read from the kernel: malformed messages give
//! [`SysError::Malformed`], never a panic.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use crate::SysError;

const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const RTM_NEWLINK: u16 = 16;
const RTM_GETLINK: u16 = 18;
const RTM_NEWADDR: u16 = 20;
const RTM_GETADDR: u16 = 22;
const RTM_NEWROUTE: u16 = 24;
const RTM_GETROUTE: u16 = 26;
const RTM_NEWNEIGH: u16 = 28;
const RTM_DELNEIGH: u16 = 29;
const RTM_GETNEIGH: u16 = 30;
const RTM_NEWRULE: u16 = 32;
const RTM_DELRULE: u16 = 33;

const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_MULTI: u16 = 0x2;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_DUMP: u16 = 0x300;
const NLM_F_REPLACE: u16 = 0x100;
const NLM_F_CREATE: u16 = 0x400;

const NTF_USE: u8 = 0x01;

/// Multicast groups for [`Rtnl::monitor`] (`RTMGRP_*`).
pub mod groups {
    /// Link changes.
    pub const LINK: u32 = 0x1;
    /// Neighbour changes.
    pub const NEIGH: u32 = 0x4;
    /// IPv4 address changes.
    pub const IPV4_IFADDR: u32 = 0x10;
    /// IPv4 route changes.
    pub const IPV4_ROUTE: u32 = 0x40;
    /// IPv6 address changes.
    pub const IPV6_IFADDR: u32 = 0x100;
    /// IPv6 route changes.
    pub const IPV6_ROUTE: u32 = 0x400;
    /// Everything a forwarding plane needs: links, neighbours, IPv4 and IPv6 addresses and
    /// routes.
    pub const ALL: u32 = LINK | NEIGH | IPV4_IFADDR | IPV4_ROUTE | IPV6_IFADDR | IPV6_ROUTE;
}

/// Neighbour states (`NUD_*`).
pub mod nud {
    /// Resolution in progress.
    pub const INCOMPLETE: u16 = 0x01;
    /// Confirmed reachable.
    pub const REACHABLE: u16 = 0x02;
    /// Valid but unconfirmed.
    pub const STALE: u16 = 0x04;
    /// Waiting before probing.
    pub const DELAY: u16 = 0x08;
    /// Probing.
    pub const PROBE: u16 = 0x10;
    /// Resolution failed.
    pub const FAILED: u16 = 0x20;
    /// No ARP needed (point-to-point, loopback).
    pub const NOARP: u16 = 0x40;
    /// Static entry.
    pub const PERMANENT: u16 = 0x80;
}

/// A network interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    /// Interface index.
    pub index: u32,
    /// Name.
    pub name: String,
    /// Hardware address (empty when none).
    pub mac: Vec<u8>,
    /// MTU.
    pub mtu: u32,
    /// `IFF_*` flags.
    pub flags: u32,
    /// Driver kind (`veth`, `dummy`, ...) when reported.
    pub kind: Option<String>,
}

impl Link {
    /// Administratively up (`IFF_UP`).
    pub fn is_up(&self) -> bool {
        self.flags & libc::IFF_UP as u32 != 0
    }
}

/// An address on an interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Address {
    /// Interface index.
    pub index: u32,
    /// The local address (`IFA_LOCAL`, or `IFA_ADDRESS` when absent).
    pub addr: IpAddr,
    /// Prefix length.
    pub prefix_len: u8,
    /// Scope (`RT_SCOPE_*`: 0 universe, 253 link, 254 host).
    pub scope: u8,
}

/// A route.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    /// Destination network (unspecified address for the default route).
    pub dst: IpAddr,
    /// Destination prefix length.
    pub dst_len: u8,
    /// Next hop, when the route has one.
    pub gateway: Option<IpAddr>,
    /// Output interface.
    pub oif: Option<u32>,
    /// Preferred source.
    pub prefsrc: Option<IpAddr>,
    /// Routing table id.
    pub table: u32,
    /// Route type (`RTN_*`: 1 unicast, 2 local, 3 broadcast...).
    pub kind: u8,
    /// Metric.
    pub priority: Option<u32>,
}

/// A neighbour (ARP / ND) entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Neighbour {
    /// Interface index.
    pub index: u32,
    /// Protocol address.
    pub addr: IpAddr,
    /// Link-layer address, when known.
    pub lladdr: Option<Vec<u8>>,
    /// `NUD_*` state (see [`nud`]).
    pub state: u16,
}

impl Neighbour {
    /// Usable for forwarding (reachable, stale, delay, probe, permanent or noarp) with a MAC.
    pub fn is_usable(&self) -> bool {
        let ok =
            nud::REACHABLE | nud::STALE | nud::DELAY | nud::PROBE | nud::PERMANENT | nud::NOARP;
        self.state & ok != 0 && self.lladdr.is_some()
    }
}

/// A policy-routing rule `from SRC ipproto PROTO sport PORT lookup TABLE` at a priority
/// (`ip rule`), the subset lvsd needs to route some local output its own way.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SourceRule {
    /// Priority (lower first).
    pub priority: u32,
    /// Source address (a host: /32 or /128).
    pub src: IpAddr,
    /// IP protocol (`FRA_IP_PROTO`).
    pub proto: u8,
    /// Source port (`FRA_SPORT_RANGE` of one port); 0: any.
    pub sport: u16,
    /// Table looked up.
    pub table: u32,
}

/// Appends one netlink attribute (4-byte aligned).
fn push_attr(b: &mut Vec<u8>, ty: u16, payload: &[u8]) {
    let len = 4 + payload.len();
    b.extend_from_slice(&(len as u16).to_ne_bytes());
    b.extend_from_slice(&ty.to_ne_bytes());
    b.extend_from_slice(payload);
    b.resize(align4(b.len()), 0);
}

fn family_of(a: &IpAddr) -> u8 {
    match a {
        IpAddr::V4(_) => libc::AF_INET as u8,
        IpAddr::V6(_) => libc::AF_INET6 as u8,
    }
}

fn octets(a: &IpAddr) -> Vec<u8> {
    match a {
        IpAddr::V4(v) => v.octets().to_vec(),
        IpAddr::V6(v) => v.octets().to_vec(),
    }
}

/// The body of an `RTM_NEWRULE` / `RTM_DELRULE` for `r` (struct fib_rule_hdr + attributes).
fn rule_body(r: &SourceRule) -> Vec<u8> {
    const FR_ACT_TO_TBL: u8 = 1;
    const FRA_SRC: u16 = 2;
    const FRA_PRIORITY: u16 = 6;
    const FRA_TABLE: u16 = 15;
    const FRA_IP_PROTO: u16 = 22;
    const FRA_SPORT_RANGE: u16 = 23;
    let src_len: u8 = if r.src.is_ipv4() { 32 } else { 128 };
    let table_byte = u8::try_from(r.table).unwrap_or(0);
    // family, dst_len, src_len, tos, table, res1, res2, action, flags
    let mut b = vec![
        family_of(&r.src),
        0,
        src_len,
        0,
        table_byte,
        0,
        0,
        FR_ACT_TO_TBL,
    ];
    b.extend_from_slice(&0u32.to_ne_bytes());
    push_attr(&mut b, FRA_SRC, &octets(&r.src));
    push_attr(&mut b, FRA_PRIORITY, &r.priority.to_ne_bytes());
    push_attr(&mut b, FRA_TABLE, &r.table.to_ne_bytes());
    push_attr(&mut b, FRA_IP_PROTO, &[r.proto]);
    if r.sport != 0 {
        let mut range = r.sport.to_ne_bytes().to_vec();
        range.extend_from_slice(&r.sport.to_ne_bytes());
        push_attr(&mut b, FRA_SPORT_RANGE, &range);
    }
    b
}

/// A change reported by the monitor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A link appeared or changed (`deleted` for RTM_DELLINK).
    Link {
        /// The link.
        link: Link,
        /// Removed.
        deleted: bool,
    },
    /// An address was added or removed.
    Address {
        /// The address.
        addr: Address,
        /// Removed.
        deleted: bool,
    },
    /// A route was added or removed.
    Route {
        /// The route.
        route: Route,
        /// Removed.
        deleted: bool,
    },
    /// A neighbour entry appeared, changed or was removed.
    Neighbour {
        /// The entry.
        neigh: Neighbour,
        /// Removed.
        deleted: bool,
    },
}

/// A rtnetlink socket.
#[derive(Debug)]
pub struct Rtnl {
    fd: OwnedFd,
    seq: u32,
    buf: Vec<u8>,
}

fn io(what: &str) -> SysError {
    SysError::Io(what.to_owned(), std::io::Error::last_os_error())
}

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

fn u16_at(b: &[u8], o: usize) -> Result<u16, SysError> {
    b.get(o..o + 2)
        .map(|s| u16::from_ne_bytes([s[0], s[1]]))
        .ok_or(SysError::Malformed("short u16"))
}

fn u32_at(b: &[u8], o: usize) -> Result<u32, SysError> {
    b.get(o..o + 4)
        .map(|s| u32::from_ne_bytes([s[0], s[1], s[2], s[3]]))
        .ok_or(SysError::Malformed("short u32"))
}

/// Iterates `(type, payload)` over the attributes in `b`.
fn attrs(b: &[u8]) -> impl Iterator<Item = Result<(u16, &[u8]), SysError>> {
    let mut off = 0usize;
    std::iter::from_fn(move || {
        if off + 4 > b.len() {
            return None;
        }
        let len = match u16_at(b, off) {
            Ok(l) => l as usize,
            Err(e) => return Some(Err(e)),
        };
        let ty = match u16_at(b, off + 2) {
            Ok(t) => t & 0x3fff, // strip NLA_F_NESTED / NLA_F_NET_BYTEORDER
            Err(e) => return Some(Err(e)),
        };
        if len < 4 || off + len > b.len() {
            off = b.len();
            return Some(Err(SysError::Malformed("attribute length")));
        }
        let payload = &b[off + 4..off + len];
        off += align4(len);
        Some(Ok((ty, payload)))
    })
}

fn ip_from(family: u8, b: &[u8]) -> Result<IpAddr, SysError> {
    match (i32::from(family), b.len()) {
        (libc::AF_INET, 4) => Ok(IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3]))),
        (libc::AF_INET6, 16) => {
            let mut a = [0u8; 16];
            a.copy_from_slice(b);
            Ok(IpAddr::V6(Ipv6Addr::from(a)))
        }
        _ => Err(SysError::Malformed("address length")),
    }
}

fn unspecified(family: u8) -> IpAddr {
    if i32::from(family) == libc::AF_INET6 {
        IpAddr::V6(Ipv6Addr::UNSPECIFIED)
    } else {
        IpAddr::V4(Ipv4Addr::UNSPECIFIED)
    }
}

fn cstr(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

/// Parses an `RTM_*LINK` body (ifinfomsg + attributes).
pub fn parse_link(body: &[u8]) -> Result<Link, SysError> {
    if body.len() < 16 {
        return Err(SysError::Malformed("ifinfomsg"));
    }
    let index = u32_at(body, 4)?;
    let flags = u32_at(body, 8)?;
    let mut l = Link {
        index,
        name: String::new(),
        mac: Vec::new(),
        mtu: 0,
        flags,
        kind: None,
    };
    for a in attrs(&body[16..]) {
        let (ty, p) = a?;
        match ty {
            1 => l.mac = p.to_vec(),    // IFLA_ADDRESS
            3 => l.name = cstr(p),      // IFLA_IFNAME
            4 => l.mtu = u32_at(p, 0)?, // IFLA_MTU
            18 => {
                // IFLA_LINKINFO { IFLA_INFO_KIND = 1 }
                for n in attrs(p) {
                    let (nt, np) = n?;
                    if nt == 1 {
                        l.kind = Some(cstr(np));
                    }
                }
            }
            _ => {}
        }
    }
    Ok(l)
}

/// Parses an `RTM_*ADDR` body (ifaddrmsg + attributes).
pub fn parse_addr(body: &[u8]) -> Result<Address, SysError> {
    if body.len() < 8 {
        return Err(SysError::Malformed("ifaddrmsg"));
    }
    let family = body[0];
    let prefix_len = body[1];
    let scope = body[3];
    let index = u32_at(body, 4)?;
    let (mut local, mut address) = (None, None);
    for a in attrs(&body[8..]) {
        let (ty, p) = a?;
        match ty {
            1 => address = Some(ip_from(family, p)?), // IFA_ADDRESS
            2 => local = Some(ip_from(family, p)?),   // IFA_LOCAL
            _ => {}
        }
    }
    let addr = local
        .or(address)
        .ok_or(SysError::Malformed("address without IFA_ADDRESS"))?;
    Ok(Address {
        index,
        addr,
        prefix_len,
        scope,
    })
}

/// Parses an `RTM_*ROUTE` body (rtmsg + attributes).
pub fn parse_route(body: &[u8]) -> Result<Route, SysError> {
    if body.len() < 12 {
        return Err(SysError::Malformed("rtmsg"));
    }
    let family = body[0];
    let mut r = Route {
        dst: unspecified(family),
        dst_len: body[1],
        gateway: None,
        oif: None,
        prefsrc: None,
        table: u32::from(body[4]),
        kind: body[7],
        priority: None,
    };
    for a in attrs(&body[12..]) {
        let (ty, p) = a?;
        match ty {
            1 => r.dst = ip_from(family, p)?,           // RTA_DST
            4 => r.oif = Some(u32_at(p, 0)?),           // RTA_OIF
            5 => r.gateway = Some(ip_from(family, p)?), // RTA_GATEWAY
            6 => r.priority = Some(u32_at(p, 0)?),      // RTA_PRIORITY
            7 => r.prefsrc = Some(ip_from(family, p)?), // RTA_PREFSRC
            15 => r.table = u32_at(p, 0)?,              // RTA_TABLE
            _ => {}
        }
    }
    Ok(r)
}

/// Parses an `RTM_*NEIGH` body (ndmsg + attributes).
pub fn parse_neigh(body: &[u8]) -> Result<Neighbour, SysError> {
    if body.len() < 12 {
        return Err(SysError::Malformed("ndmsg"));
    }
    let family = body[0];
    let index = u32_at(body, 4)?;
    let state = u16_at(body, 8)?;
    let (mut addr, mut lladdr) = (None, None);
    for a in attrs(&body[12..]) {
        let (ty, p) = a?;
        match ty {
            1 => addr = Some(ip_from(family, p)?), // NDA_DST
            2 => lladdr = Some(p.to_vec()),        // NDA_LLADDR
            _ => {}
        }
    }
    Ok(Neighbour {
        index,
        addr: addr.ok_or(SysError::Malformed("neighbour without NDA_DST"))?,
        lladdr,
        state,
    })
}

impl Rtnl {
    /// Opens a rtnetlink socket in the calling thread's namespace.
    pub fn open() -> Result<Self, SysError> {
        Self::open_groups(0)
    }

    /// Opens a socket subscribed to `groups` (see [`groups`]) for [`Rtnl::next_events`] and
    /// [`Rtnl::try_next_events`].
    pub fn monitor(groups: u32) -> Result<Self, SysError> {
        let s = Self::open_groups(groups)?;
        s.grow_rcvbuf(4 << 20);
        Ok(s)
    }

    /// Best effort: a larger receive buffer makes overruns rarer.
    #[allow(unsafe_code)]
    fn grow_rcvbuf(&self, bytes: i32) {
        for opt in [libc::SO_RCVBUFFORCE, libc::SO_RCVBUF] {
            // SAFETY: bytes is a live i32 of the size passed, only read.
            let rc = unsafe {
                libc::setsockopt(
                    self.fd.as_raw_fd(),
                    libc::SOL_SOCKET,
                    opt,
                    (&bytes as *const i32).cast(),
                    std::mem::size_of::<i32>() as libc::socklen_t,
                )
            };
            if rc == 0 {
                return;
            }
        }
    }

    #[allow(unsafe_code)]
    fn open_groups(groups: u32) -> Result<Self, SysError> {
        // SAFETY: plain syscall with integer arguments.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_ROUTE,
            )
        };
        if fd < 0 {
            return Err(io("socket(NETLINK_ROUTE)"));
        }
        // SAFETY: fd was just returned by socket() and is owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: sockaddr_nl is plain old data: all-zero is a valid value.
        let mut sa: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        sa.nl_family = libc::AF_NETLINK as u16;
        sa.nl_groups = groups;
        // SAFETY: sa is a live sockaddr_nl of the size passed.
        let rc = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&sa as *const libc::sockaddr_nl).cast(),
                std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(io("bind(NETLINK_ROUTE)"));
        }
        Ok(Self {
            fd,
            seq: 1,
            buf: vec![0; 1 << 16],
        })
    }

    #[allow(unsafe_code)]
    fn send(&mut self, ty: u16, flags: u16, body: &[u8]) -> Result<u32, SysError> {
        self.seq = self.seq.wrapping_add(1);
        let len = 16 + body.len();
        let mut m = Vec::with_capacity(len);
        m.extend_from_slice(&(len as u32).to_ne_bytes());
        m.extend_from_slice(&ty.to_ne_bytes());
        m.extend_from_slice(&(flags | NLM_F_REQUEST).to_ne_bytes());
        m.extend_from_slice(&self.seq.to_ne_bytes());
        m.extend_from_slice(&0u32.to_ne_bytes());
        m.extend_from_slice(body);
        // SAFETY: m is a live buffer of m.len() bytes, only read by the kernel.
        let n = unsafe { libc::send(self.fd.as_raw_fd(), m.as_ptr().cast(), m.len(), 0) };
        if n < 0 {
            return Err(io("send(netlink)"));
        }
        Ok(self.seq)
    }

    fn recv(&mut self) -> Result<usize, SysError> {
        self.recv_flags(0).map(|n| n.unwrap_or(0))
    }

    /// `recv` with `flags`; `None` when `MSG_DONTWAIT` found nothing (or a timeout passed).
    #[allow(unsafe_code)]
    fn recv_flags(&mut self, flags: i32) -> Result<Option<usize>, SysError> {
        loop {
            // SAFETY: buf is a live, writable buffer of buf.len() bytes.
            let n = unsafe {
                libc::recv(
                    self.fd.as_raw_fd(),
                    self.buf.as_mut_ptr().cast(),
                    self.buf.len(),
                    flags,
                )
            };
            if n < 0 {
                let e = std::io::Error::last_os_error();
                return match e.raw_os_error() {
                    Some(libc::EINTR) => continue,
                    Some(libc::EAGAIN) => Ok(None),
                    Some(libc::ENOBUFS) => Err(SysError::Overrun),
                    _ => Err(SysError::Io("recv(netlink)".into(), e)),
                };
            }
            return Ok(Some(n as usize));
        }
    }

    /// Sends a request and collects the bodies of the answers of type `want` until
    /// `NLMSG_DONE` (dumps) or the acknowledgement (requests with `NLM_F_ACK`).
    fn transact(
        &mut self,
        ty: u16,
        flags: u16,
        body: &[u8],
        want: u16,
    ) -> Result<Vec<Vec<u8>>, SysError> {
        let seq = self.send(ty, flags, body)?;
        let mut out = Vec::new();
        loop {
            let n = self.recv()?;
            let mut off = 0;
            let mut more = false;
            while off + 16 <= n {
                let b = &self.buf[..n];
                let len = u32_at(b, off)? as usize;
                let mty = u16_at(b, off + 4)?;
                let mflags = u16_at(b, off + 6)?;
                let mseq = u32_at(b, off + 8)?;
                if len < 16 || off + len > n {
                    return Err(SysError::Malformed("message length"));
                }
                let body = &b[off + 16..off + len];
                off += align4(len);
                if mseq != seq {
                    continue; // stale answer or broadcast
                }
                match mty {
                    NLMSG_DONE => return Ok(out),
                    NLMSG_ERROR => {
                        let err = u32_at(body, 0)? as i32;
                        if err == 0 {
                            return Ok(out); // ACK
                        }
                        return Err(SysError::Netlink(-err));
                    }
                    t if t == want => out.push(body.to_vec()),
                    _ => {}
                }
                more |= mflags & NLM_F_MULTI != 0;
            }
            if !more && flags & NLM_F_DUMP == 0 && flags & NLM_F_ACK == 0 {
                return Ok(out);
            }
        }
    }

    /// All links.
    pub fn links(&mut self) -> Result<Vec<Link>, SysError> {
        let body = [0u8; 16]; // ifinfomsg, AF_UNSPEC
        self.transact(RTM_GETLINK, NLM_F_DUMP, &body, RTM_NEWLINK)?
            .iter()
            .map(|b| parse_link(b))
            .collect()
    }

    /// All addresses (IPv4 and IPv6).
    pub fn addresses(&mut self) -> Result<Vec<Address>, SysError> {
        let body = [0u8; 8];
        self.transact(RTM_GETADDR, NLM_F_DUMP, &body, RTM_NEWADDR)?
            .iter()
            .map(|b| parse_addr(b))
            .collect()
    }

    /// All routes of all tables (IPv4 and IPv6).
    pub fn routes(&mut self) -> Result<Vec<Route>, SysError> {
        let body = [0u8; 12];
        self.transact(RTM_GETROUTE, NLM_F_DUMP, &body, RTM_NEWROUTE)?
            .iter()
            .map(|b| parse_route(b))
            .collect()
    }

    /// All neighbour entries (ARP and ND).
    pub fn neighbours(&mut self) -> Result<Vec<Neighbour>, SysError> {
        let body = [0u8; 12];
        self.transact(RTM_GETNEIGH, NLM_F_DUMP, &body, RTM_NEWNEIGH)?
            .iter()
            .map(|b| parse_neigh(b))
            .collect()
    }

    /// Adds a policy-routing rule (`ip rule add`); an identical existing rule is an error
    /// (`EEXIST`, [`SysError::Netlink`] 17).
    pub fn add_rule(&mut self, r: &SourceRule) -> Result<(), SysError> {
        self.transact(
            RTM_NEWRULE,
            NLM_F_ACK | NLM_F_CREATE | 0x200, // NLM_F_EXCL
            &rule_body(r),
            0,
        )?;
        Ok(())
    }

    /// Deletes a policy-routing rule (`ip rule del`).
    pub fn del_rule(&mut self, r: &SourceRule) -> Result<(), SysError> {
        self.transact(RTM_DELRULE, NLM_F_ACK, &rule_body(r), 0)?;
        Ok(())
    }

    /// Deletes every rule of `family` (`libc::AF_INET` / `AF_INET6`) at `priority`, as
    /// repeated `ip rule del priority P` do; returns how many went.
    pub fn del_rules_at(&mut self, family: u8, priority: u32) -> Result<usize, SysError> {
        const FRA_PRIORITY: u16 = 6;
        let mut body = vec![family, 0, 0, 0, 0, 0, 0, 0];
        body.extend_from_slice(&0u32.to_ne_bytes());
        push_attr(&mut body, FRA_PRIORITY, &priority.to_ne_bytes());
        let mut n = 0;
        loop {
            match self.transact(RTM_DELRULE, NLM_F_ACK, &body, 0) {
                Ok(_) => n += 1,
                Err(SysError::Netlink(e)) if e == libc::ENOENT => return Ok(n),
                Err(e) => return Err(e),
            }
            if n > 65_536 {
                return Ok(n);
            }
        }
    }

    /// Adds or replaces the default route of `family` through interface `ifindex` in
    /// `table` (`ip route replace default dev DEV table T`).
    pub fn replace_default_route(
        &mut self,
        family: u8,
        ifindex: u32,
        table: u32,
    ) -> Result<(), SysError> {
        const RTPROT_STATIC: u8 = 4;
        const RT_SCOPE_LINK: u8 = 253;
        const RTN_UNICAST: u8 = 1;
        const RTA_OIF: u16 = 4;
        const RTA_TABLE: u16 = 15;
        // family, dst_len, src_len, tos, table, protocol, scope, type, flags
        let mut b = vec![
            family,
            0,
            0,
            0,
            0,
            RTPROT_STATIC,
            RT_SCOPE_LINK,
            RTN_UNICAST,
        ];
        b.extend_from_slice(&0u32.to_ne_bytes());
        push_attr(&mut b, RTA_OIF, &ifindex.to_ne_bytes());
        push_attr(&mut b, RTA_TABLE, &table.to_ne_bytes());
        self.transact(
            RTM_NEWROUTE,
            NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE,
            &b,
            0,
        )?;
        Ok(())
    }

    /// Asks the kernel to resolve `addr` on interface `index` (ARP request / neighbour
    /// solicitation), creating the entry if needed, as `ip neigh replace ADDR dev DEV use`.
    pub fn resolve(&mut self, index: u32, addr: IpAddr) -> Result<(), SysError> {
        let (family, bytes): (u8, Vec<u8>) = match addr {
            IpAddr::V4(a) => (libc::AF_INET as u8, a.octets().to_vec()),
            IpAddr::V6(a) => (libc::AF_INET6 as u8, a.octets().to_vec()),
        };
        let mut body = Vec::with_capacity(12 + 4 + 16);
        body.push(family);
        body.extend_from_slice(&[0, 0, 0]);
        body.extend_from_slice(&index.to_ne_bytes());
        body.extend_from_slice(&0u16.to_ne_bytes()); // state: NUD_NONE
        body.push(NTF_USE);
        body.push(0); // type
        body.extend_from_slice(&((4 + bytes.len()) as u16).to_ne_bytes());
        body.extend_from_slice(&1u16.to_ne_bytes()); // NDA_DST
        body.extend_from_slice(&bytes);
        self.transact(
            RTM_NEWNEIGH,
            NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE,
            &body,
            0,
        )?;
        Ok(())
    }

    /// Blocks for the next batch of notifications (socket from [`Rtnl::monitor`]) and appends
    /// the recognised ones to `out` (nothing when a receive timeout set with
    /// [`Rtnl::set_timeout`] passed). [`SysError::Overrun`]: some were lost.
    pub fn next_events(&mut self, out: &mut Vec<Event>) -> Result<(), SysError> {
        let n = self.recv()?;
        self.parse_events(n, out)
    }

    /// Appends the notifications already queued on a monitor socket to `out`, without
    /// blocking; false when none was pending. [`SysError::Overrun`]: some were lost (the
    /// caller dumps again; later reads work).
    pub fn try_next_events(&mut self, out: &mut Vec<Event>) -> Result<bool, SysError> {
        let mut any = false;
        while let Some(n) = self.recv_flags(libc::MSG_DONTWAIT)? {
            self.parse_events(n, out)?;
            any = true;
        }
        Ok(any)
    }

    fn parse_events(&self, n: usize, out: &mut Vec<Event>) -> Result<(), SysError> {
        let b = &self.buf[..n];
        let mut off = 0;
        while off + 16 <= n {
            let len = u32_at(b, off)? as usize;
            let ty = u16_at(b, off + 4)?;
            if len < 16 || off + len > n {
                return Err(SysError::Malformed("message length"));
            }
            let body = &b[off + 16..off + len];
            off += align4(len);
            let deleted = ty % 4 == 1; // RTM_DEL* = RTM_NEW* + 1
            let ev = match ty {
                16 | 17 => Event::Link {
                    link: parse_link(body)?,
                    deleted,
                },
                20 | 21 => Event::Address {
                    addr: parse_addr(body)?,
                    deleted,
                },
                24 | 25 => Event::Route {
                    route: parse_route(body)?,
                    deleted,
                },
                RTM_NEWNEIGH | RTM_DELNEIGH => Event::Neighbour {
                    neigh: parse_neigh(body)?,
                    deleted,
                },
                _ => continue,
            };
            out.push(ev);
        }
        Ok(())
    }

    /// Sets a receive timeout (monitor sockets), `None` to block forever.
    #[allow(unsafe_code)]
    pub fn set_timeout(&self, t: Option<std::time::Duration>) -> Result<(), SysError> {
        let tv = match t {
            Some(d) => libc::timeval {
                tv_sec: d.as_secs() as libc::time_t,
                tv_usec: libc::suseconds_t::from(d.subsec_micros()),
            },
            None => libc::timeval {
                tv_sec: 0,
                tv_usec: 0,
            },
        };
        // SAFETY: tv is a live timeval of the size passed, only read.
        let rc = unsafe {
            libc::setsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                (&tv as *const libc::timeval).cast(),
                std::mem::size_of::<libc::timeval>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(io("setsockopt(SO_RCVTIMEO)"));
        }
        Ok(())
    }
}
