//! Pick cost of the list-walking schedulers (rr wrr lc wlc sed nq fo ovf
//! twos) at 10, 100, 1000 and 10000 destinations.
//!
//! Each destination gets a pseudo-random weight (1..=100, one in ten
//! quiesced at 0), active (0..=120) and inactive (0..=2000) counters and a
//! one-in-twenty OVERLOAD flag, from a fixed seed, so runs are comparable.
//! Counters are not updated between picks: the figure is the cost of one
//! `schedule` call on a steady list. Run briefly with
//! `cargo bench -p lvs-core --bench sched_pick -- --warm-up-time 1 --measurement-time 2`.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use lvs_core::dest::{Dest, DestArena, DestConfig, DestId};
use lvs_core::sched::{self, DestList, SchedParams, SchedRequest, XorShiftRandom};
use lvs_core::{ServiceFlags, ServiceId, Time};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

const SCHEDULERS: [&str; 9] = ["rr", "wrr", "lc", "wlc", "sed", "nq", "fo", "ovf", "twos"];
const SIZES: [u32; 4] = [10, 100, 1000, 10_000];

fn dests(n: u32) -> (DestArena, Vec<DestId>) {
    let mut rng = SmallRng::seed_from_u64(0x5eed_u64 + u64::from(n));
    let mut arena = DestArena::default();
    let mut order = Vec::new();
    for i in 0..n {
        let addr = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i));
        let weight = if rng.gen_range(0..10) == 0 {
            0
        } else {
            rng.gen_range(1..=100)
        };
        let cfg = DestConfig::new(addr, 80).with_weight(weight);
        let id = arena.insert_with(|id| {
            let mut d = Dest::new(id, ServiceId(0), cfg);
            d.activeconns = rng.gen_range(0..=120);
            d.inactconns = rng.gen_range(0..=2000);
            d.overload = rng.gen_range(0..20) == 0;
            d
        });
        // Newest first, as the kernel keeps the list.
        order.insert(0, id);
    }
    (arena, order)
}

fn bench(c: &mut Criterion) {
    let req = SchedRequest {
        now: Time::ZERO,
        saddr: IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1)),
        sport: 40000,
        daddr: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
        dport: 80,
        flags: ServiceFlags::default(),
    };
    let lists: Vec<(u32, DestArena, Vec<DestId>)> = SIZES
        .iter()
        .map(|n| {
            let (a, o) = dests(*n);
            (*n, a, o)
        })
        .collect();
    for name in SCHEDULERS {
        let mut group = c.benchmark_group(format!("sched_pick/{name}"));
        for (n, arena, order) in &lists {
            let list = DestList::new(order, arena);
            let mut s =
                sched::create(name, list, &SchedParams::default()).expect("a list scheduler");
            let mut rng = XorShiftRandom(0x1234_5678);
            group.bench_with_input(BenchmarkId::from_parameter(n), n, |b, _| {
                b.iter(|| black_box(s.schedule(black_box(list), &req, &mut rng)));
            });
        }
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
