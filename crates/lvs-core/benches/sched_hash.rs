//! Pick cost of the hashing / locality schedulers (sh dh mh lblc lblcr) at
//! 10, 100, 1000 and 10000 destinations, the cost of an lblc/lblcr cache
//! miss (the WLC scan), and the mh table build at M = 65521 with 1000
//! destinations.
//!
//! Destinations get pseudo-random weights (1..=100) and active (0..=120) /
//! inactive (0..=2000) counters from a fixed seed; none is OVERLOAD, so the
//! figures are the normal path. Picks cycle over 1024 client (sh, mh) or
//! destination (dh, lblc, lblcr) addresses; lblc/lblcr are warmed so every
//! pick is a cache hit. mh uses M = 65521 at every size (4093 cannot hold
//! 10000 destinations). Run briefly with
//! `cargo bench -p lvs-core --bench sched_hash -- --warm-up-time 1 --measurement-time 2`.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use lvs_core::dest::{Dest, DestArena, DestConfig, DestId};
use lvs_core::sched::lblc::wlc_pick;
use lvs_core::sched::mh::Mh;
use lvs_core::sched::{self, DestList, SchedParams, SchedRequest, XorShiftRandom};
use lvs_core::{ServiceFlags, ServiceId, Time};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

const SCHEDULERS: [&str; 5] = ["sh", "dh", "mh", "lblc", "lblcr"];
const SIZES: [u32; 4] = [10, 100, 1000, 10_000];

fn dests(n: u32, weighted: bool) -> (DestArena, Vec<DestId>) {
    let mut rng = SmallRng::seed_from_u64(0x4a54_u64 + u64::from(n));
    let mut arena = DestArena::default();
    let mut order = Vec::new();
    for i in 0..n {
        let addr = IpAddr::V4(Ipv4Addr::from(0xc0a8_0000 + i));
        let weight = if weighted { rng.gen_range(1..=100) } else { 1 };
        let cfg = DestConfig::new(addr, 80).with_weight(weight);
        let id = arena.insert_with(|id| {
            let mut d = Dest::new(id, ServiceId(0), cfg);
            d.activeconns = rng.gen_range(0..=120);
            d.inactconns = rng.gen_range(0..=2000);
            d
        });
        order.insert(0, id);
    }
    (arena, order)
}

fn requests() -> Vec<SchedRequest> {
    let mut rng = SmallRng::seed_from_u64(7);
    (0..1024)
        .map(|_| SchedRequest {
            now: Time(1000),
            saddr: IpAddr::V4(Ipv4Addr::from(rng.r#gen::<u32>())),
            sport: rng.r#gen(),
            daddr: IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + rng.gen_range(0..1_000_000u32))),
            dport: 80,
            flags: ServiceFlags::default(),
        })
        .collect()
}

fn picks(c: &mut Criterion) {
    let reqs = requests();
    let params = SchedParams {
        mh_table_size: 65521,
        ..SchedParams::default()
    };
    let mut g = c.benchmark_group("sched_hash_pick");
    for n in SIZES {
        let (arena, order) = dests(n, true);
        let list = DestList::new(&order, &arena);
        for name in SCHEDULERS {
            let mut s = sched::create(name, list, &params).expect("scheduler");
            let mut rng = XorShiftRandom(3);
            for r in &reqs {
                s.schedule(list, r, &mut rng);
            }
            let mut i = 0usize;
            g.bench_with_input(BenchmarkId::new(name, n), &n, |b, _| {
                b.iter(|| {
                    i = (i + 1) & 1023;
                    black_box(s.schedule(list, black_box(&reqs[i]), &mut rng))
                });
            });
        }
        g.bench_with_input(BenchmarkId::new("lblc-miss-wlc", n), &n, |b, _| {
            b.iter(|| black_box(wlc_pick(black_box(list))));
        });
    }
    g.finish();
}

fn mh_build(c: &mut Criterion) {
    let mut g = c.benchmark_group("mh_build");
    for (label, weighted) in [("equal", false), ("weighted", true)] {
        let (arena, order) = dests(1000, weighted);
        let list = DestList::new(&order, &arena);
        let mut mh = Mh::new(list, 65521).expect("mh");
        g.bench_function(BenchmarkId::new("65521x1000", label), |b| {
            b.iter(|| {
                mh.rebuild(black_box(list));
                black_box(mh.table()[0])
            });
        });
    }
    g.finish();
}

criterion_group!(benches, picks, mh_build);
criterion_main!(benches);
