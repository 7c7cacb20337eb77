//! Listing and parsing costs: `-Ln` / `-Ln --stats` / `-Sn` of a 1000-service
//! table with 8 destinations each (sorted, as ipvsadm does), and parsing a
//! typical `-a` command line.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};

use criterion::{Criterion, criterion_group, criterion_main};
use lvs_ipvsadm::NoNames;
use lvs_ipvsadm::format::list_all;
use lvs_ipvsadm::grammar::{Format, parse};
use lvs_proto::*;

fn table() -> Vec<ServiceEntry> {
    (0..1000u32)
        .map(|i| ServiceEntry {
            spec: ServiceSpec {
                key: ServiceKey::Addr {
                    protocol: Protocol::Tcp,
                    // Scrambled so that sorting has work to do.
                    addr: IpAddr::V4(Ipv4Addr::from(
                        0x0a00_0000 | (i.wrapping_mul(2_654_435_761) >> 12),
                    )),
                    port: 80,
                },
                scheduler: "wlc".into(),
                persistent: i % 3 == 0,
                timeout: 360,
                netmask: 0xffff_ff00,
                ops: false,
                sched_flags: SchedFlags::default(),
                pe_name: None,
            },
            stats: Stats {
                conns: u64::from(i) * 1_000_003,
                inbytes: u64::from(i) << 30,
                ..Stats::default()
            },
            dests: (0..8u32)
                .map(|d| DestEntry {
                    spec: DestSpec {
                        addr: IpAddr::V4(Ipv4Addr::from(0xc0a8_0000 | (d * 7919 + i) & 0xffff)),
                        port: 8080,
                        fwd: FwdMethod::Masq,
                        weight: 1,
                        u_threshold: 0,
                        l_threshold: 0,
                    },
                    active_conns: d,
                    inact_conns: i,
                    persist_conns: 0,
                    stats: Stats::default(),
                })
                .collect(),
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let t = table();
    let info = Info {
        version: Info::KERNEL_VERSION,
        conn_tab_size: 4096,
    };
    for (name, f) in [
        (
            "list -Ln 1000x8",
            Format {
                numeric: true,
                ..Format::default()
            },
        ),
        (
            "list -Ln --stats 1000x8",
            Format {
                numeric: true,
                stats: true,
                ..Format::default()
            },
        ),
        (
            "save -Sn 1000x8",
            Format {
                numeric: true,
                rule: true,
                ..Format::default()
            },
        ),
    ] {
        c.bench_function(name, |b| {
            b.iter(|| {
                let mut out = String::with_capacity(1 << 20);
                list_all(&mut out, &info, black_box(&t), &f, &NoNames);
                out
            })
        });
    }
    let argv: Vec<String> = "ipvsadm -a -t 10.0.0.1:80 -r 10.0.0.2:8080 -m -w 3 -x 100 -y 50"
        .split_whitespace()
        .map(String::from)
        .collect();
    c.bench_function("parse -a", |b| b.iter(|| parse(black_box(&argv), &NoNames)));
}

criterion_group!(benches, bench);
criterion_main!(benches);
