//! Bytes per connection, measured: fills an `lvs_core::Ipvs` with N
//! ESTABLISHED IPv4 TCP connections (SYN then ACK through `conn_in`, rr
//! over 4 real servers, as `crates/lvs-core/benches/conn_table.rs` does)
//! and reads the process's resident set (`VmRSS`) before and after.
//!
//! The RSS difference is what the table really costs the daemon (slab
//! chunks, index buckets after their last growth, allocator slack), unlike
//! the table's own `heap_bytes()` (capacity arithmetic), which is reported
//! next to it.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

use lvs_core::conn::PacketMeta;
use lvs_core::conn::tcp::flags::{ACK, SYN};
use lvs_core::sched::XorShiftRandom;
use lvs_core::{DestConfig, FwdMethod, Ipvs, Protocol, ServiceConfig, ServiceKey, Time};

const VIP: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));

/// Result of one fill.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FillReport {
    /// Connections in the table after the fill.
    pub conns: usize,
    /// RSS growth, bytes.
    pub rss_bytes: u64,
    /// Peak RSS growth (`VmHWM` after minus `VmRSS` before), bytes: the
    /// index doubling holds the old and the new buckets for a moment.
    pub peak_bytes: u64,
    /// The table's own heap estimate, bytes.
    pub heap_bytes: usize,
    /// Fill time, seconds.
    pub seconds: f64,
}

/// `VmRSS` of this process in bytes, from `/proc/self/status`.
pub fn rss_bytes() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    status_kb(&s, "VmRSS:")
}

/// `VmHWM` (peak RSS) of this process in bytes.
pub fn peak_bytes() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    status_kb(&s, "VmHWM:")
}

/// A `Key:   N kB` line of a `/proc/PID/status` text, in bytes.
fn status_kb(status: &str, key: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with(key))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Client `i`: 20 000 source ports per address (distinct for i < 2^32).
fn client(i: u32) -> (IpAddr, u16) {
    let a = 0x0a80_0000 + i / 20_000;
    (IpAddr::V4(Ipv4Addr::from(a)), 20_000 + (i % 20_000) as u16)
}

/// Fills a fresh director with `n` connections forwarded by `fwd`.
pub fn fill(fwd: FwdMethod, n: u32) -> Result<FillReport, String> {
    let key = ServiceKey::Addr {
        proto: Protocol::Tcp,
        addr: VIP,
        port: 80,
    };
    let before = rss_bytes().ok_or("no VmRSS")?;
    let mut ipvs = Ipvs::new();
    ipvs.add_service(ServiceConfig::new(key).with_scheduler("rr"))
        .map_err(|e| e.to_string())?;
    for i in 1..=4 {
        let addr = IpAddr::V4(Ipv4Addr::new(10, 0, 1, i));
        ipvs.add_dest(&key, DestConfig::new(addr, 80).with_fwd(fwd))
            .map_err(|e| e.to_string())?;
    }
    let mut rng = XorShiftRandom(1);
    let now = Time(1000);
    let t0 = Instant::now();
    for i in 0..n {
        let c = client(i);
        ipvs.conn_in(
            now,
            &PacketMeta::tcp(c, (VIP, 80), SYN).with_len(60),
            &mut rng,
        );
        ipvs.conn_in(
            now,
            &PacketMeta::tcp(c, (VIP, 80), ACK).with_len(52),
            &mut rng,
        );
    }
    let seconds = t0.elapsed().as_secs_f64();
    let after = rss_bytes().ok_or("no VmRSS")?;
    let peak = peak_bytes().ok_or("no VmHWM")?;
    let report = FillReport {
        conns: ipvs.conn_count(),
        rss_bytes: after.saturating_sub(before),
        peak_bytes: peak.saturating_sub(before),
        heap_bytes: ipvs.conn_state().heap_bytes(),
        seconds,
    };
    drop(ipvs);
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vmrss_line_in_kib() {
        let s = "Name:\tx\nVmPeak:\t  10 kB\nVmRSS:\t    1234 kB\nRssAnon:\t 1 kB\n";
        assert_eq!(status_kb(s, "VmRSS:"), Some(1234 * 1024));
        assert_eq!(status_kb("Name: x\n", "VmRSS:"), None);
        assert_eq!(status_kb("VmHWM:\t 77 kB\n", "VmHWM:"), Some(77 * 1024));
    }

    #[test]
    fn clients_are_distinct() {
        let mut v: Vec<(IpAddr, u16)> = (0..100_000).map(client).collect();
        v.sort();
        v.dedup();
        assert_eq!(v.len(), 100_000);
    }

    #[test]
    fn a_small_fill_counts_every_connection() {
        let r = fill(FwdMethod::Masq, 5_000).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.conns, 5_000);
        assert!(r.heap_bytes >= 5_000 * 64, "{r:?}");
    }
}
