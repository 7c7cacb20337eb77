//! The UDP packet generator: pre-built 64-byte frames over N flows sent
//! from one interface through an AF_XDP socket (copy mode: `lvs_io`'s
//! [`XskSocket`], one `sendto` kick per batch, no system call per frame),
//! or an AF_PACKET socket (one `send` per frame) when AF_XDP is refused.
//!
//! Contract: runs in the calling process's network namespace (start it
//! with `ip netns exec`); sends round-robin over the flows for at most
//! `seconds` and at most `max_packets` frames, whichever comes first (both
//! bounds are mandatory), at full speed or paced to `pps`; prints one JSON
//! line with what it sent. The count is of frames handed to the kernel:
//! what arrives is counted at the sink.

use std::time::{Duration, Instant};

use lvs_io::{PacketIo, PacketSocket, XskConfig, XskMode, XskSocket, ifindex};

use crate::frame::{FrameSpec, flow_frames};

/// Generator parameters.
#[derive(Debug, Clone)]
pub struct GenConfig {
    /// Interface to send from (in the current namespace).
    pub ifname: String,
    /// Frame template.
    pub spec: FrameSpec,
    /// Number of flows (distinct source ports).
    pub flows: u16,
    /// First source port.
    pub base_port: u16,
    /// Frames per second; 0 = as fast as possible.
    pub pps: u64,
    /// Time bound.
    pub seconds: f64,
    /// Count bound.
    pub max_packets: u64,
    /// Use AF_PACKET instead of AF_XDP.
    pub afpacket: bool,
}

/// What one run sent.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GenReport {
    /// Frames accepted by the kernel.
    pub sent: u64,
    /// Wall time of the send loop.
    pub elapsed: Duration,
    /// "xdp" or "afpacket".
    pub backend: &'static str,
}

/// Generator errors.
#[derive(Debug, thiserror::Error)]
pub enum GenError {
    /// The interface or socket could not be set up.
    #[error("{0}")]
    Io(#[from] lvs_io::IoError),
    /// A parameter is out of range.
    #[error("invalid: {0}")]
    Invalid(&'static str),
}

/// Frames per batch handed to the socket.
const BATCH: usize = 64;

/// How many frames may have been sent by `elapsed` at `pps`, the
/// pacing rule (a token bucket without burst beyond one batch).
pub fn allowed(pps: u64, elapsed: Duration) -> u64 {
    if pps == 0 {
        return u64::MAX;
    }
    (elapsed.as_secs_f64() * pps as f64) as u64 + BATCH as u64
}

fn run_on<S: PacketIo>(sock: &mut S, cfg: &GenConfig, frames: &[Vec<u8>]) -> (u64, Duration) {
    let refs: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
    // The flows, repeated so that any window of BATCH frames is contiguous.
    let ring: Vec<&[u8]> = refs.iter().chain(refs.iter()).copied().collect();
    let n = refs.len();
    let limit = Duration::from_secs_f64(cfg.seconds);
    let start = Instant::now();
    let mut sent = 0u64;
    let mut pos = 0usize;
    let mut spins = 0u32;
    loop {
        let elapsed = start.elapsed();
        if elapsed >= limit || sent >= cfg.max_packets {
            break;
        }
        let room = allowed(cfg.pps, elapsed).saturating_sub(sent);
        if room == 0 {
            std::thread::sleep(Duration::from_micros(50));
            continue;
        }
        let want = (BATCH as u64).min(room).min(cfg.max_packets - sent) as usize;
        let take = want.min(n);
        match sock.send_batch(&ring[pos..pos + take]) {
            Ok(k) => {
                sent += k as u64;
                pos = (pos + k) % n;
                if k == 0 {
                    spins += 1;
                    if spins.is_multiple_of(64) {
                        std::thread::yield_now();
                    }
                }
            }
            Err(_) => std::thread::sleep(Duration::from_micros(100)),
        }
    }
    (sent, start.elapsed())
}

/// Runs the generator.
pub fn run(cfg: &GenConfig) -> Result<GenReport, GenError> {
    if cfg.flows == 0 {
        return Err(GenError::Invalid("flows must be at least 1"));
    }
    if !(cfg.seconds > 0.0 && cfg.seconds <= 600.0) {
        return Err(GenError::Invalid("seconds must be in (0, 600]"));
    }
    let frames = flow_frames(&cfg.spec, cfg.flows, cfg.base_port);
    let idx = ifindex(&cfg.ifname)?;
    if !cfg.afpacket {
        let xcfg = XskConfig {
            frames: 4096,
            ring_size: 2048,
            mode: XskMode::Copy,
        };
        if let Ok(mut sock) = XskSocket::bind(idx, 0, xcfg) {
            let (sent, elapsed) = run_on(&mut sock, cfg, &frames);
            return Ok(GenReport {
                sent,
                elapsed,
                backend: "xdp",
            });
        }
    }
    let mut sock = PacketSocket::bind(idx)?;
    let (sent, elapsed) = run_on(&mut sock, cfg, &frames);
    Ok(GenReport {
        sent,
        elapsed,
        backend: "afpacket",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pacing_allows_rate_times_time_plus_one_batch() {
        assert_eq!(allowed(1000, Duration::from_secs(2)), 2000 + BATCH as u64);
        assert_eq!(allowed(1000, Duration::ZERO), BATCH as u64);
        assert_eq!(allowed(0, Duration::from_secs(1)), u64::MAX);
    }
}
