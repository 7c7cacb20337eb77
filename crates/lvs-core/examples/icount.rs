//! Workload driver for instruction counting under callgrind (`scripts/icount`).
//!
//! `icount sched <name> <dests> <iterations>` builds a service with `dests`
//! destinations and varied counters, then performs `iterations` picks.
//! Running it twice with different iteration counts and dividing the
//! difference in instructions by the difference in iterations gives the
//! instruction cost of one pick, free of set-up cost.

use std::net::{IpAddr, Ipv4Addr};

use lvs_core::sched::{SchedRequest, XorShiftRandom};
use lvs_core::{DestConfig, Ipvs, Protocol, ServiceConfig, ServiceFlags, ServiceKey, Time};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: icount sched <scheduler> <dests> <iterations>";
    if args.len() != 5 || args[1] != "sched" {
        eprintln!("{usage}");
        std::process::exit(2);
    }
    let name = args[2].as_str();
    let (Ok(n), Ok(iters)) = (args[3].parse::<u32>(), args[4].parse::<u64>()) else {
        eprintln!("{usage}");
        std::process::exit(2);
    };
    let vip = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
    let key = ServiceKey::Addr {
        proto: Protocol::Tcp,
        addr: vip,
        port: 80,
    };
    let mut ipvs = Ipvs::new();
    ipvs.sched_params.mh_table_size = 65521;
    let flags = if name == "sh" || name == "mh" {
        ServiceFlags::SCHED1
    } else {
        0
    };
    let Ok(svc) = ipvs.add_service(
        ServiceConfig::new(key)
            .with_scheduler(name)
            .with_flags(flags),
    ) else {
        eprintln!("unknown scheduler {name}");
        std::process::exit(2);
    };
    for i in 0..n {
        let addr = IpAddr::V4(Ipv4Addr::from(0x0a01_0000 + i));
        let cfg = DestConfig::new(addr, 80).with_weight(1 + (i % 7) as i32);
        let Ok(id) = ipvs.add_dest(&key, cfg) else {
            eprintln!("cannot add dest {i}");
            std::process::exit(1);
        };
        if let Some(d) = ipvs.dest_mut(id) {
            d.activeconns = (i * 7919) % 101;
            d.inactconns = (i * 104_729) % 257;
        }
    }
    let mut rng = XorShiftRandom(0x9e37_79b9_7f4a_7c15);
    let mut hits = 0u64;
    for k in 0..iters {
        let client = 0xc0a8_0000u32.wrapping_add((k as u32).wrapping_mul(2_654_435_761));
        let req = SchedRequest {
            now: Time(k),
            saddr: IpAddr::V4(Ipv4Addr::from(client)),
            sport: (k & 0xffff) as u16,
            daddr: IpAddr::V4(Ipv4Addr::from(0x0a02_0000 + (k as u32 % 1024))),
            dport: 80,
            flags: ServiceFlags(flags),
        };
        if ipvs.schedule(svc, &req, &mut rng).is_some() {
            hits += 1;
        }
    }
    println!("{name} dests={n} iterations={iters} picked={hits}");
}
