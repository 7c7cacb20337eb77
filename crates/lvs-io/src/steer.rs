//! Loader and map control for the XDP steering program (`bpf/steer.c`).
//!
//! Contract of the program (see the C file's header for the exact rules):
//! frames of a virtual service, and NAT/FULLNAT replies, are redirected with
//! `bpf_redirect_map(xsks, rx_queue_index, XDP_PASS)` into the AF_XDP socket bound on the
//! receiving queue; everything else (ARP, neighbour discovery, ICMP echo, SSH, other traffic)
//! gets `XDP_PASS`, so the kernel keeps owning addresses, ARP and routing. IPv4 and IPv6,
//! up to two VLAN tags, up to four IPv6 extension headers; non-first fragments match on the
//! service address only ([`SteerKey::vip`]); ICMP errors match on the packet they quote.
//!
//! The object is built by `build.rs` with `clang -target bpf` and embedded in the crate; it is
//! loaded with aya. [`Steering::test_run`] runs it on a frame with `BPF_PROG_TEST_RUN`.

use std::net::IpAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

use aya::maps::{HashMap, MapData, PerCpuArray, XskMap};
use aya::programs::{Xdp, XdpMode};
use aya::{Ebpf, Pod};

use crate::IoError;

/// The compiled steering object.
pub static STEER_OBJ: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/steer.o"));

const PROG: &str = "lvs_steer";

/// XDP return codes (linux/bpf.h `enum xdp_action`).
pub mod action {
    /// Error inside the program.
    pub const ABORTED: u32 = 0;
    /// Drop.
    pub const DROP: u32 = 1;
    /// Give to the kernel stack.
    pub const PASS: u32 = 2;
    /// Transmit out of the receiving interface.
    pub const TX: u32 = 3;
    /// Redirect (here: into an AF_XDP socket).
    pub const REDIRECT: u32 = 4;
}

/// IP protocol numbers used in keys.
pub mod proto {
    /// Any protocol (only with port 0: "all traffic to this address").
    pub const ANY: u8 = 0;
    /// TCP.
    pub const TCP: u8 = 6;
    /// UDP.
    pub const UDP: u8 = 17;
    /// SCTP.
    pub const SCTP: u8 = 132;
}

pub(crate) const KIND_DST: u8 = 0;
pub(crate) const KIND_SRC: u8 = 1;
pub(crate) const KIND_VIP: u8 = 2;

/// Key of the `steer` map; layout shared with `struct steer_key` in `bpf/steer.c`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SteerKey {
    kind: u8,
    proto: u8,
    port_be: u16,
    family: u8,
    pad: [u8; 3],
    addr: [u8; 16],
}

// SAFETY: SteerKey is repr(C), Copy, made of integers and byte arrays with no implicit padding
// (1 + 1 + 2 + 1 + 3 + 16 = 24 bytes, 2-byte aligned fields at even offsets), so every bit
// pattern is valid and it can be copied to and from the kernel byte for byte.
#[allow(unsafe_code)]
unsafe impl Pod for SteerKey {}

impl SteerKey {
    /// A key from its fields (`addr` as the program reads it: IPv4 in the
    /// first four bytes).
    pub(crate) fn raw(kind: u8, proto: u8, port: u16, family: u8, addr: [u8; 16]) -> Self {
        Self {
            kind,
            proto,
            port_be: port.to_be(),
            family,
            pad: [0; 3],
            addr,
        }
    }

    fn new(kind: u8, proto: u8, addr: IpAddr, port: u16) -> Self {
        let (family, bytes) = match addr {
            IpAddr::V4(a) => {
                let mut b = [0u8; 16];
                b[..4].copy_from_slice(&a.octets());
                (4, b)
            }
            IpAddr::V6(a) => (6, a.octets()),
        };
        Self {
            kind,
            proto,
            port_be: port.to_be(),
            family,
            pad: [0; 3],
            addr: bytes,
        }
    }

    /// A virtual service `proto addr:port`; port 0 is a port-0 (all ports) service, and
    /// `proto::ANY` with port 0 steers all traffic to `addr` (except ICMP echo / ND).
    /// FULLNAT local addresses are registered the same way (`proto laddr:0`).
    pub fn service(proto: u8, addr: IpAddr, port: u16) -> Self {
        Self::new(KIND_DST, proto, addr, port)
    }

    /// Replies from a NAT real server `proto rip:rport` (matched on the source).
    pub fn reply_source(proto: u8, rip: IpAddr, rport: u16) -> Self {
        Self::new(KIND_SRC, proto, rip, rport)
    }

    /// Marks `addr` as a service address so that its non-first fragments are steered.
    pub fn vip(addr: IpAddr) -> Self {
        Self::new(KIND_VIP, 0, addr, 0)
    }

    /// What the key matches.
    pub fn kind(&self) -> SteerKind {
        match self.kind {
            KIND_SRC => SteerKind::ReplySource,
            KIND_VIP => SteerKind::Vip,
            _ => SteerKind::Service,
        }
    }

    /// IP protocol (`proto::ANY` for [`SteerKind::Vip`] keys).
    pub fn proto(&self) -> u8 {
        self.proto
    }

    /// Port (host order; 0 for all ports).
    pub fn port(&self) -> u16 {
        u16::from_be(self.port_be)
    }

    /// The address.
    pub fn addr(&self) -> IpAddr {
        if self.family == 4 {
            IpAddr::from([self.addr[0], self.addr[1], self.addr[2], self.addr[3]])
        } else {
            IpAddr::from(self.addr)
        }
    }
}

/// What a [`SteerKey`] matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SteerKind {
    /// Destination `proto addr:port` (a virtual service, port 0: all ports).
    Service,
    /// Source `proto addr:port` (replies of a NAT real server).
    ReplySource,
    /// Destination address of non-first fragments and port-less packets.
    Vip,
}

/// Steering counters summed over CPUs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SteerStats {
    /// Frames given to the kernel.
    pub passed: u64,
    /// Frames sent to `bpf_redirect_map` (into AF_XDP when a socket is bound on the queue).
    pub redirected: u64,
}

/// The loaded steering program and its maps.
pub struct Steering {
    ebpf: Ebpf,
    steer: HashMap<MapData, SteerKey, u32>,
    xsks: XskMap<MapData>,
    stats: PerCpuArray<MapData, u64>,
}

impl std::fmt::Debug for Steering {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Steering").finish_non_exhaustive()
    }
}

fn bpf_err(e: impl std::fmt::Display) -> IoError {
    IoError::Bpf(e.to_string())
}

impl Steering {
    /// Loads the embedded object into the kernel (needs CAP_BPF / root).
    pub fn load() -> Result<Self, IoError> {
        let mut ebpf = Ebpf::load(STEER_OBJ).map_err(bpf_err)?;
        let prog: &mut Xdp = ebpf
            .program_mut(PROG)
            .ok_or_else(|| bpf_err("program lvs_steer missing"))?
            .try_into()
            .map_err(bpf_err)?;
        prog.load().map_err(bpf_err)?;
        let take = |ebpf: &mut Ebpf, name: &str| {
            ebpf.take_map(name)
                .ok_or_else(|| bpf_err(format!("map {name} missing")))
        };
        let steer = HashMap::try_from(take(&mut ebpf, "steer")?).map_err(bpf_err)?;
        let xsks = XskMap::try_from(take(&mut ebpf, "xsks")?).map_err(bpf_err)?;
        let stats = PerCpuArray::try_from(take(&mut ebpf, "stats")?).map_err(bpf_err)?;
        Ok(Self {
            ebpf,
            steer,
            xsks,
            stats,
        })
    }

    fn prog(&mut self) -> Result<&mut Xdp, IoError> {
        self.ebpf
            .program_mut(PROG)
            .ok_or_else(|| bpf_err("program lvs_steer missing"))?
            .try_into()
            .map_err(bpf_err)
    }

    /// Attaches to `ifindex` of the calling thread's namespace. The attachment lasts until
    /// this value is dropped. `skb_mode` forces generic XDP (veth without native support).
    pub fn attach(&mut self, ifindex: u32, skb_mode: bool) -> Result<(), IoError> {
        let mode = if skb_mode {
            XdpMode::Skb
        } else {
            XdpMode::Default
        };
        self.prog()?
            .attach_to_if_index(ifindex, mode)
            .map_err(bpf_err)?;
        Ok(())
    }

    /// Adds (or replaces) a steering entry.
    pub fn insert(&mut self, key: SteerKey) -> Result<(), IoError> {
        self.steer.insert(key, 1, 0).map_err(bpf_err)
    }

    /// Removes a steering entry (absent entries are not an error).
    pub fn remove(&mut self, key: &SteerKey) -> Result<(), IoError> {
        match self.steer.remove(key) {
            Ok(()) => Ok(()),
            Err(aya::maps::MapError::KeyNotFound) => Ok(()),
            Err(aya::maps::MapError::SyscallError(e))
                if e.io_error.raw_os_error() == Some(libc::ENOENT) =>
            {
                Ok(())
            }
            Err(e) => Err(bpf_err(e)),
        }
    }

    /// Puts the bound AF_XDP socket `fd` in the slot of rx queue `queue`.
    pub fn set_socket(&mut self, queue: u32, fd: BorrowedFd<'_>) -> Result<(), IoError> {
        self.xsks.set(queue, fd.as_raw_fd(), 0).map_err(bpf_err)
    }

    /// Empties the slot of rx queue `queue` (frames then fall back to XDP_PASS).
    pub fn clear_socket(&mut self, queue: u32) -> Result<(), IoError> {
        self.xsks.unset(queue).map_err(bpf_err)
    }

    /// Counters summed over CPUs.
    pub fn stats(&self) -> Result<SteerStats, IoError> {
        let get = |i: u32| -> Result<u64, IoError> {
            let v = self.stats.get(&i, 0).map_err(bpf_err)?;
            Ok(v.iter().copied().sum())
        };
        Ok(SteerStats {
            passed: get(0)?,
            redirected: get(1)?,
        })
    }

    /// Runs the program once on `frame` with `BPF_PROG_TEST_RUN` (rx queue 0) and returns the
    /// XDP action (see [`action`]).
    pub fn test_run(&self, frame: &[u8]) -> Result<u32, IoError> {
        let prog: &Xdp = self
            .ebpf
            .program(PROG)
            .ok_or_else(|| bpf_err("program lvs_steer missing"))?
            .try_into()
            .map_err(bpf_err)?;
        let fd = prog.fd().map_err(bpf_err)?.as_fd().as_raw_fd();
        crate::sys::prog_test_run(fd, frame)
    }
}
