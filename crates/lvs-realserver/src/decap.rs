//! The tunnel decapsulator of TUN real servers (`bpf/decap.c`, tc ingress) and its loader.
//!
//! Contract of the program (the C file's header has the exact rules): on the interface it is
//! attached to, packets whose outer destination is one of [`DecapConfig::local`] (any address
//! when the list is empty) and that carry IPIP (4in4, 6in6, 6in4, 4in6), GUE to
//! [`DecapConfig::gue_port`] (variant 0 without flags, or variant 1) or GRE (version 0, with or
//! without checksum / key / sequence words) lose their outer headers and continue up the stack
//! as the inner packet; everything else passes unchanged. This replaces the kernel's `ipip`,
//! `ip6_tunnel`, `gre` and `fou` drivers on a real server: the inner packet arrives on the
//! physical interface, so its destination (the VIP) must be local (on `lo`) and `rp_filter`
//! must accept its source there, exactly as for a `tunl0` setup.
//!
//! The attachment is a classic cls_bpf filter (netlink, clsact qdisc) so it outlives the
//! process that made it: `lvsadm realserver setup --mode tun` exits and the filter stays;
//! [`detach`] removes filters named [`PROG`] from the interface. The configuration is compiled
//! into the program's read-only data at load time; to change it, detach and attach again.
//!
//! Mixed families (4in6, 6in4) use `bpf_skb_adjust_room`'s DECAP_L3 flags (Linux 6.3+); on
//! older kernels, which refuse them, the program switches the family with
//! `bpf_skb_change_proto` first (checked on Linux 6.1 in the ipvs-ref lab,
//! `lab/decap_kernel_director.sh`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::process::Command;

use aya::maps::PerCpuArray;
use aya::programs::tc::{NlOptions, SchedClassifier, TcAttachOptions, TcError};
use aya::programs::{TcAttachType, TestRun, TestRunOptions};
use aya::{Ebpf, EbpfLoader};

use crate::Error;

/// The compiled decapsulation object.
pub static DECAP_OBJ: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/decap.o"));

/// The program's (and the tc filter's) name.
pub const PROG: &str = "lvs_decap";

/// How many IPv4 / IPv6 local addresses the program can match.
pub const MAX_LOCAL4: usize = 8;
/// See [`MAX_LOCAL4`].
pub const MAX_LOCAL6: usize = 4;

/// tc verdicts (linux/pkt_cls.h).
pub mod verdict {
    /// Continue (here: to the stack, decapsulated or untouched).
    pub const OK: i32 = 0;
    /// Drop (a decapsulation step failed).
    pub const SHOT: i32 = 2;
}

/// What the program decapsulates.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DecapConfig {
    /// GUE UDP destination port (the director's `--tun-port`); `None` disables GUE.
    pub gue_port: Option<u16>,
    /// Outer destination addresses accepted; empty accepts any.
    pub local: Vec<IpAddr>,
    /// Always switch families (4in6, 6in4) the way kernels before 6.3 need
    /// (`bpf_skb_change_proto`, then `bpf_skb_adjust_room`) instead of trying the DECAP_L3
    /// flags first. The program falls back to it by itself when the flags are refused; this
    /// exists to test that path on newer kernels.
    pub force_compat: bool,
}

/// Counters of the program, summed over CPUs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DecapStats {
    /// IPIP packets decapsulated.
    pub ipip: u64,
    /// GUE packets decapsulated.
    pub gue: u64,
    /// GRE packets decapsulated.
    pub gre: u64,
    /// Packets passed unchanged.
    pub passed: u64,
}

/// A loaded (not necessarily attached) decapsulator.
pub struct Decap {
    ebpf: Ebpf,
}

impl std::fmt::Debug for Decap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decap").finish_non_exhaustive()
    }
}

fn bpf_err(e: impl std::fmt::Display) -> Error {
    Error::Bpf(e.to_string())
}

impl Decap {
    /// Loads the program with `cfg` compiled in (needs CAP_BPF / root).
    pub fn load(cfg: &DecapConfig) -> Result<Self, Error> {
        let v4: Vec<Ipv4Addr> = cfg
            .local
            .iter()
            .filter_map(|a| match a {
                IpAddr::V4(a) => Some(*a),
                IpAddr::V6(_) => None,
            })
            .collect();
        let v6: Vec<Ipv6Addr> = cfg
            .local
            .iter()
            .filter_map(|a| match a {
                IpAddr::V6(a) => Some(*a),
                IpAddr::V4(_) => None,
            })
            .collect();
        if v4.len() > MAX_LOCAL4 || v6.len() > MAX_LOCAL6 {
            return Err(Error::Invalid(format!(
                "at most {MAX_LOCAL4} IPv4 and {MAX_LOCAL6} IPv6 local addresses"
            )));
        }
        let mut local4 = [0u32; MAX_LOCAL4];
        for (slot, a) in local4.iter_mut().zip(&v4) {
            // Network order as the program compares the raw header word.
            *slot = u32::from_ne_bytes(a.octets());
        }
        let mut local6 = [[0u8; 16]; MAX_LOCAL6];
        for (slot, a) in local6.iter_mut().zip(&v6) {
            *slot = a.octets();
        }
        let n4 = v4.len() as u32;
        let n6 = v6.len() as u32;
        let port = cfg.gue_port.unwrap_or(0);
        let compat = u8::from(cfg.force_compat);
        let mut ebpf = EbpfLoader::new()
            .override_global("gue_port", &port, true)
            .override_global("force_compat", &compat, true)
            .override_global("n_local4", &n4, true)
            .override_global("local4", &local4, true)
            .override_global("n_local6", &n6, true)
            .override_global("local6", &local6, true)
            .load(DECAP_OBJ)
            .map_err(bpf_err)?;
        let prog: &mut SchedClassifier = ebpf
            .program_mut(PROG)
            .ok_or_else(|| bpf_err("program lvs_decap missing"))?
            .try_into()
            .map_err(bpf_err)?;
        prog.load().map_err(bpf_err)?;
        Ok(Self { ebpf })
    }

    fn prog(&self) -> Result<&SchedClassifier, Error> {
        self.ebpf
            .program(PROG)
            .ok_or_else(|| bpf_err("program lvs_decap missing"))?
            .try_into()
            .map_err(bpf_err)
    }

    /// Attaches to the ingress of `dev` (calling thread's namespace) as a netlink cls_bpf
    /// filter that stays after this value and the process are gone. Adds the clsact qdisc
    /// when missing. Returns the filter's priority.
    pub fn attach(&mut self, dev: &str) -> Result<u16, Error> {
        match aya::programs::tc::qdisc_add_clsact(dev) {
            Ok(()) => {}
            Err(TcError::NetlinkError(e)) if e.raw_os_error() == Some(libc_eexist()) => {}
            Err(e) => return Err(bpf_err(format!("clsact on {dev}: {e}"))),
        }
        let prog: &mut SchedClassifier = self
            .ebpf
            .program_mut(PROG)
            .ok_or_else(|| bpf_err("program lvs_decap missing"))?
            .try_into()
            .map_err(bpf_err)?;
        let id = prog
            .attach_with_options(
                dev,
                TcAttachType::Ingress,
                TcAttachOptions::Netlink(NlOptions::default()),
            )
            .map_err(|e| bpf_err(format!("attach to {dev}: {e}")))?;
        let link = prog.take_link(id).map_err(bpf_err)?;
        let prio = link.priority().map_err(bpf_err)?;
        // Dropping the link would detach the filter; the whole point is that it stays.
        std::mem::forget(link);
        Ok(prio)
    }

    /// Runs the program once on an Ethernet `frame` with `BPF_PROG_TEST_RUN`; returns the tc
    /// verdict and the frame as the program left it.
    pub fn test_run(&self, frame: &[u8]) -> Result<(i32, Vec<u8>), Error> {
        let mut out = vec![0u8; frame.len() + 256];
        let opts = TestRunOptions {
            data_in: Some(frame),
            data_out: Some(&mut out),
            ..TestRunOptions::default()
        };
        let r = self.prog()?.test_run(opts).map_err(bpf_err)?;
        let n = (r.data_size_out as usize).min(out.len());
        out.truncate(n);
        Ok((r.return_value as i32, out))
    }

    /// The program's counters (meaningful while this value holds the program).
    pub fn stats(&self) -> Result<DecapStats, Error> {
        let map = self
            .ebpf
            .map("decap_stats")
            .ok_or_else(|| bpf_err("map decap_stats missing"))?;
        let arr: PerCpuArray<_, u64> = PerCpuArray::try_from(map).map_err(bpf_err)?;
        let get = |i: u32| -> Result<u64, Error> {
            Ok(arr.get(&i, 0).map_err(bpf_err)?.iter().copied().sum())
        };
        Ok(DecapStats {
            ipip: get(0)?,
            gue: get(1)?,
            gre: get(2)?,
            passed: get(3)?,
        })
    }
}

const fn libc_eexist() -> i32 {
    17
}

/// Removes the decapsulation filters from the ingress of `dev`; false when there were none.
pub fn detach(dev: &str) -> Result<bool, Error> {
    match aya::programs::tc::qdisc_detach_program(dev, TcAttachType::Ingress, PROG) {
        Ok(()) => Ok(true),
        Err(TcError::IoError(e)) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(bpf_err(format!("detach from {dev}: {e}"))),
    }
}

/// Whether a filter named [`PROG`] sits on the ingress of `dev` (asks `tc filter show`; a
/// host without `tc` is reported as having none).
pub fn is_attached(dev: &str) -> Result<bool, Error> {
    let out = match Command::new("tc")
        .args(["filter", "show", "dev", dev, "ingress"])
        .output()
    {
        Ok(o) => o,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => {
            return Err(Error::Command(format!(
                "tc filter show dev {dev} ingress: {e}"
            )));
        }
    };
    if !out.status.success() {
        // No clsact qdisc: tc complains; nothing is attached then.
        return Ok(false);
    }
    Ok(String::from_utf8_lossy(&out.stdout).contains(PROG))
}
