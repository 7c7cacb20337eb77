//! Latency probe: HTTP/1.0 GETs on new TCP connections at a fixed rate,
//! each timed from `connect` to the end of the answer (the server closes).
//!
//! Contract: runs in the calling process's namespace; starts one request
//! every `1/rate` s (open loop, one at a time: when a request is slower
//! than the interval the next starts late, which the report counts as
//! `late`); stops after `seconds` or `max_requests`; every connect/read has
//! a 1 s timeout. Reports p50/p90/p99/max in microseconds over the
//! successful requests and the number of failures.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// Probe parameters.
#[derive(Debug, Clone, Copy)]
pub struct LatencyConfig {
    /// Target `VIP:port`.
    pub target: SocketAddr,
    /// Requests per second.
    pub rate: u64,
    /// Time bound.
    pub seconds: f64,
    /// Count bound.
    pub max_requests: u64,
}

/// Result of a probe run.
#[derive(Debug, Clone, PartialEq)]
pub struct LatencyReport {
    /// Successful requests.
    pub ok: u64,
    /// Failed requests (timeout, refused, short answer).
    pub errors: u64,
    /// Requests that started later than scheduled.
    pub late: u64,
    /// Latency percentiles, microseconds: p50, p90, p99, max.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// Maximum.
    pub max: u64,
}

/// The `p`-th percentile (0..=100) of sorted `v` by the nearest-rank rule:
/// the smallest value with at least p % of the values at or below it.
/// 0 for an empty slice.
pub fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn one(target: SocketAddr) -> Result<(), std::io::Error> {
    let t = Duration::from_secs(1);
    let mut s = TcpStream::connect_timeout(&target, t)?;
    s.set_read_timeout(Some(t))?;
    s.set_write_timeout(Some(t))?;
    s.set_nodelay(true)?;
    s.write_all(b"GET / HTTP/1.0\r\nHost: bench\r\n\r\n")?;
    let mut buf = [0u8; 512];
    let mut got = 0usize;
    loop {
        match s.read(&mut buf)? {
            0 => break,
            n => got += n,
        }
    }
    if got < 12 || !buf.starts_with(b"HTTP/1.") {
        return Err(std::io::Error::other("short answer"));
    }
    Ok(())
}

/// Runs the probe.
pub fn run(cfg: &LatencyConfig) -> LatencyReport {
    let rate = cfg.rate.max(1);
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let limit = Duration::from_secs_f64(cfg.seconds.clamp(0.001, 600.0));
    let start = Instant::now();
    let mut lat = Vec::new();
    let (mut errors, mut late) = (0u64, 0u64);
    let mut i = 0u64;
    while i < cfg.max_requests {
        let due = interval * u32::try_from(i).unwrap_or(u32::MAX);
        if due >= limit {
            break;
        }
        let now = start.elapsed();
        if now < due {
            std::thread::sleep(due - now);
        } else if now > due + interval {
            late += 1;
        }
        let t0 = Instant::now();
        match one(cfg.target) {
            Ok(()) => lat.push(t0.elapsed().as_micros() as u64),
            Err(_) => errors += 1,
        }
        i += 1;
    }
    lat.sort_unstable();
    LatencyReport {
        ok: lat.len() as u64,
        errors,
        late,
        p50: percentile(&lat, 50.0),
        p90: percentile(&lat, 90.0),
        p99: percentile(&lat, 99.0),
        max: lat.last().copied().unwrap_or(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50.0), 50);
        assert_eq!(percentile(&v, 99.0), 99);
        assert_eq!(percentile(&v, 100.0), 100);
        assert_eq!(percentile(&v, 0.0), 1);
        assert_eq!(percentile(&[7], 99.0), 7);
        assert_eq!(percentile(&[], 50.0), 0);
        // 10 values: p99 is the largest, p50 the fifth.
        let w = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
        assert_eq!(percentile(&w, 99.0), 10);
        assert_eq!(percentile(&w, 50.0), 5);
    }

    #[test]
    fn a_closed_port_counts_errors() {
        // Bind then drop a listener: its port refuses connections.
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
        let target = l.local_addr().unwrap_or_else(|e| panic!("{e}"));
        drop(l);
        let r = run(&LatencyConfig {
            target,
            rate: 1000,
            seconds: 1.0,
            max_requests: 5,
        });
        assert_eq!((r.ok, r.errors), (0, 5));
    }

    #[test]
    fn a_local_http_server_is_timed() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
        let target = l.local_addr().unwrap_or_else(|e| panic!("{e}"));
        let srv = std::thread::spawn(move || {
            for _ in 0..3 {
                let (mut s, _) = l.accept().unwrap_or_else(|e| panic!("{e}"));
                let mut b = [0u8; 256];
                let _ = s.read(&mut b);
                let _ = s.write_all(b"HTTP/1.0 200 OK\r\n\r\nok");
            }
        });
        let r = run(&LatencyConfig {
            target,
            rate: 100,
            seconds: 5.0,
            max_requests: 3,
        });
        srv.join().unwrap_or_else(|_| panic!("server thread"));
        assert_eq!((r.ok, r.errors), (3, 0));
        assert!(r.p50 > 0 && r.p50 <= r.p99 && r.p99 <= r.max);
    }
}
