//! Connection table at 1 M IPv4 entries: creating connections (SYN through
//! `Ipvs::conn_in`, rr scheduling included), the per-packet path on an
//! existing connection (hit), a bare lookup, and expiry.
//!
//! Run briefly: `cargo bench -p lvs-core --bench conn_table`. The setup
//! prints the heap bytes per connection (slab + indices + wheel, capacity
//! arithmetic) for a DR and a NAT table of 1 M connections.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use lvs_core::conn::PacketMeta;
use lvs_core::conn::tcp::flags::{ACK, SYN};
use lvs_core::sched::XorShiftRandom;
use lvs_core::{DestConfig, FwdMethod, Ipvs, Protocol, ServiceConfig, ServiceKey, Time};

const N: u32 = 1_000_000;
const VIP: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));

fn director(fwd: FwdMethod) -> Ipvs {
    let key = ServiceKey::Addr {
        proto: Protocol::Tcp,
        addr: VIP,
        port: 80,
    };
    let mut ipvs = Ipvs::new();
    ipvs.add_service(ServiceConfig::new(key).with_scheduler("rr"))
        .unwrap_or_else(|e| panic!("{e}"));
    for i in 1..=4 {
        let addr = IpAddr::V4(Ipv4Addr::new(10, 0, 1, i));
        ipvs.add_dest(&key, DestConfig::new(addr, 80).with_fwd(fwd))
            .unwrap_or_else(|e| panic!("{e}"));
    }
    ipvs
}

/// Client `i`: 20 000 source ports per address.
fn client(i: u32) -> (IpAddr, u16) {
    let a = 0x0a80_0000 + i / 20_000;
    (IpAddr::V4(Ipv4Addr::from(a)), 20_000 + (i % 20_000) as u16)
}

fn pkt(i: u32, flags: u8) -> PacketMeta {
    PacketMeta::tcp(client(i), (VIP, 80), flags).with_len(60)
}

/// `n` ESTABLISHED connections.
fn filled(fwd: FwdMethod, n: u32) -> (Ipvs, XorShiftRandom) {
    let mut ipvs = director(fwd);
    let mut rng = XorShiftRandom(1);
    let now = Time(1000);
    for i in 0..n {
        ipvs.conn_in(now, &pkt(i, SYN), &mut rng);
        ipvs.conn_in(now, &pkt(i, ACK), &mut rng);
    }
    (ipvs, rng)
}

fn report_memory() {
    for (name, fwd) in [("DR", FwdMethod::Route), ("NAT", FwdMethod::Masq)] {
        let (ipvs, _) = filled(fwd, N);
        let bytes = ipvs.conn_state().heap_bytes();
        eprintln!(
            "conn_table: {name}: {} connections, {bytes} heap bytes, {:.1} bytes/connection",
            ipvs.conn_count(),
            bytes as f64 / f64::from(N)
        );
    }
}

fn benches(c: &mut Criterion) {
    report_memory();
    let mut g = c.benchmark_group("conn_table_1M");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .sampling_mode(SamplingMode::Flat);

    // Creating connections: a table filled from 0 to 1 M, SYN per
    // connection, per-insert time.
    g.bench_function("insert_syn", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                let batch = left.min(u64::from(N)) as u32;
                let mut ipvs = director(FwdMethod::Route);
                let mut rng = XorShiftRandom(1);
                let t0 = Instant::now();
                for i in 0..batch {
                    black_box(ipvs.conn_in(Time(1000), &pkt(i, SYN), &mut rng));
                }
                total += t0.elapsed();
                left -= u64::from(batch);
            }
            total
        });
    });

    // Hits: a packet of an existing ESTABLISHED connection, spread over
    // the whole table (lookup, state transition, timer re-arm, counters).
    let (mut ipvs, mut rng) = filled(FwdMethod::Route, N);
    let mut i = 0u32;
    let mut now = 2000u64;
    g.bench_function("conn_in_hit", |b| {
        b.iter(|| {
            i = (i + 7919) % N;
            now += 1;
            black_box(ipvs.conn_in(Time(now), &pkt(i, ACK), &mut rng))
        });
    });
    g.bench_function("lookup_hit", |b| {
        b.iter(|| {
            i = (i + 7919) % N;
            black_box(ipvs.conn_lookup_in(&pkt(i, ACK)))
        });
    });
    g.bench_function("lookup_miss", |b| {
        b.iter(|| {
            i = (i + 7919) % N;
            black_box(ipvs.conn_lookup_in(&pkt(N + i, ACK)))
        });
    });
    drop(ipvs);

    // Expiry: 1 M connections in SYN_RECV (60 s) all expire in one run;
    // per-connection time of `expire` (unbind, unref, free, unindex).
    g.bench_function("expire", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                let batch = left.min(u64::from(N)) as u32;
                let mut ipvs = director(FwdMethod::Route);
                let mut rng = XorShiftRandom(1);
                for i in 0..batch {
                    ipvs.conn_in(Time(1000), &pkt(i, SYN), &mut rng);
                }
                let t0 = Instant::now();
                ipvs.expire(Time(1000 + 61_000));
                total += t0.elapsed();
                assert_eq!(ipvs.conn_count(), 0);
                left -= u64::from(batch);
            }
            total
        });
    });
    g.finish();
}

criterion_group!(conn_table, benches);
criterion_main!(conn_table);
