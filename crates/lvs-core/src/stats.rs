//! Counters and the kernel's rate estimator (`ip_vs_est.c`).
//!
//! Every 2 seconds the estimator takes the counters' deltas and folds them
//! into exponentially weighted moving averages with weight 1/4:
//! `avg += (rate - avg) >> 2`, where `rate` is the per-second delta scaled
//! by 2^10 for connections and packets (`delta << 9` over 2 s) and by 2^5
//! for bytes (`delta << 4`). Reading rounds to the nearest unit:
//! `(avg + 0x1ff) >> 10` and `(avg + 0xf) >> 5`. Those are the figures
//! `ipvsadm -L --rate` prints.
//!
//! Difference from the kernel, on purpose: `--stats` counters here are live,
//! while the kernel publishes per-CPU sums only when the estimator runs, so
//! its listings lag by up to 2 s.

/// Estimator period in milliseconds.
pub const ESTIMATOR_PERIOD_MS: u64 = 2000;

/// Per service, per destination or global traffic counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Connections scheduled.
    pub conns: u64,
    /// Packets client → server.
    pub inpkts: u64,
    /// Packets server → client.
    pub outpkts: u64,
    /// Bytes client → server.
    pub inbytes: u64,
    /// Bytes server → client.
    pub outbytes: u64,
}

/// Rates as ipvsadm shows them (per second).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rates {
    /// Connections per second.
    pub cps: u64,
    /// Incoming packets per second.
    pub inpps: u64,
    /// Outgoing packets per second.
    pub outpps: u64,
    /// Incoming bytes per second.
    pub inbps: u64,
    /// Outgoing bytes per second.
    pub outbps: u64,
}

/// The estimator's scaled averages and last samples.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Estimator {
    last: Counters,
    cps: i64,
    inpps: i64,
    outpps: i64,
    inbps: i64,
    outbps: i64,
}

fn ewma(avg: &mut i64, now: u64, last: u64, shift: u32) {
    let rate = (now.wrapping_sub(last) << shift) as i64;
    *avg += (rate - *avg) >> 2;
}

impl Estimator {
    /// One 2-second estimation step over the current counters.
    pub fn sample(&mut self, c: &Counters) {
        ewma(&mut self.cps, c.conns, self.last.conns, 9);
        ewma(&mut self.inpps, c.inpkts, self.last.inpkts, 9);
        ewma(&mut self.outpps, c.outpkts, self.last.outpkts, 9);
        ewma(&mut self.inbps, c.inbytes, self.last.inbytes, 4);
        ewma(&mut self.outbps, c.outbytes, self.last.outbytes, 4);
        self.last = *c;
    }

    /// Current rates, rounded as the kernel reads them.
    pub fn rates(&self) -> Rates {
        let r10 = |v: i64| (v.max(0) as u64 + 0x1ff) >> 10;
        let r5 = |v: i64| (v.max(0) as u64 + 0xf) >> 5;
        Rates {
            cps: r10(self.cps),
            inpps: r10(self.inpps),
            outpps: r10(self.outpps),
            inbps: r5(self.inbps),
            outbps: r5(self.outbps),
        }
    }

    /// Forget history (`ipvsadm -Z`): the kernel zeroes the averages and
    /// takes the current counters as the new base.
    pub fn reset(&mut self, c: &Counters) {
        *self = Estimator {
            last: *c,
            ..Estimator::default()
        };
    }
}

/// Counters plus their estimator.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Live counters.
    pub counters: Counters,
    /// Rate estimator.
    pub est: Estimator,
}

impl Stats {
    /// Count a new connection.
    #[inline]
    pub fn conn(&mut self) {
        self.counters.conns += 1;
    }

    /// Count a packet client → server.
    #[inline]
    pub fn inbound(&mut self, bytes: u64) {
        self.counters.inpkts += 1;
        self.counters.inbytes += bytes;
    }

    /// Count a packet server → client.
    #[inline]
    pub fn outbound(&mut self, bytes: u64) {
        self.counters.outpkts += 1;
        self.counters.outbytes += bytes;
    }

    /// Take back one [`Stats::inbound`] (`inbound`) or [`Stats::outbound`]
    /// packet of `bytes`.
    #[inline]
    pub fn uncount(&mut self, bytes: u64, inbound: bool) {
        let c = &mut self.counters;
        let (pkts, total) = if inbound {
            (&mut c.inpkts, &mut c.inbytes)
        } else {
            (&mut c.outpkts, &mut c.outbytes)
        };
        *pkts = pkts.saturating_sub(1);
        *total = total.saturating_sub(bytes);
    }

    /// One estimator step.
    pub fn estimate(&mut self) {
        let c = self.counters;
        self.est.sample(&c);
    }

    /// Zero counters and rates (`ipvsadm -Z`).
    pub fn zero(&mut self) {
        self.counters = Counters::default();
        self.est.reset(&self.counters);
    }

    /// Current rates.
    pub fn rates(&self) -> Rates {
        self.est.rates()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steady_rate_converges_to_exact_value() {
        let mut s = Stats::default();
        for _ in 0..60 {
            // 2 s worth of 100 conns/s, 1000 pkt/s, 1500 B per packet
            for _ in 0..200 {
                s.conn();
            }
            for _ in 0..2000 {
                s.inbound(1500);
            }
            s.estimate();
        }
        let r = s.rates();
        assert_eq!(r.cps, 100);
        assert_eq!(r.inpps, 1000);
        assert_eq!(r.inbps, 1_500_000);
        assert_eq!(r.outpps, 0);
    }

    #[test]
    fn first_sample_is_a_quarter() {
        let mut s = Stats::default();
        for _ in 0..800 {
            s.conn();
        }
        s.estimate();
        // 400 conn/s observed, EWMA moves a quarter of the way: 100.
        assert_eq!(s.rates().cps, 100);
        s.estimate();
        // no new conns: 100 - 25 = 75.
        assert_eq!(s.rates().cps, 75);
    }

    #[test]
    fn zero_clears() {
        let mut s = Stats::default();
        s.inbound(10);
        s.estimate();
        s.zero();
        assert_eq!(s.counters, Counters::default());
        assert_eq!(s.rates(), Rates::default());
        s.estimate();
        assert_eq!(s.rates(), Rates::default());
    }
}
