//! Codec throughput: decoding a full 1472-byte message (40 IPv4 entries) and the
//! master's per-entry cost. Run briefly: `cargo bench -p lvs-sync --bench codec -- --warm-up-time 1 --measurement-time 2`.

use std::hint::black_box;
use std::net::IpAddr;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use lvs_sync::backup::{self, BackupConfig};
use lvs_sync::master::{Master, MasterConfig, SyncConn, SyncMark};
use lvs_sync::wire;

fn conn(i: u16) -> SyncConn {
    SyncConn {
        protocol: 6,
        caddr: IpAddr::from([10, 0, (i >> 8) as u8, i as u8]),
        vaddr: IpAddr::from([10, 0, 1, 100]),
        daddr: IpAddr::from([10, 0, 2, 2]),
        cport: 40000 + i,
        vport: 80,
        dport: 80,
        fwmark: 0,
        flags: 0,
        state: 1,
        timeout: Duration::from_secs(900),
        in_pkts: 0,
        seq: None,
        pe: None,
        mark: SyncMark::default(),
    }
}

fn full_message() -> Vec<u8> {
    let mut m = Master::new(MasterConfig::default());
    for i in 0..40 {
        let mut c = conn(i);
        m.sync_conn(Duration::from_secs(1), &mut c, 3, &mut []);
    }
    m.poll_transmit(Duration::from_secs(5))
        .expect("one message")
}

fn bench(c: &mut Criterion) {
    let msg = full_message();
    assert_eq!(msg.len(), 8 + 40 * 36);
    c.bench_function("decode 40-entry v1 message", |b| {
        b.iter(|| {
            let m = wire::parse(black_box(&msg)).expect("valid");
            m.entries().filter(|e| e.is_ok()).count()
        })
    });
    let cfg = BackupConfig::default();
    c.bench_function("backup process 40-entry v1 message", |b| {
        b.iter(|| {
            backup::process(&cfg, black_box(&msg), |u| {
                let _ = black_box(u);
            })
            .expect("valid")
        })
    });
    c.bench_function("master append 40 entries + flush", |b| {
        let mut conns: Vec<SyncConn> = (0..40).map(conn).collect();
        b.iter(|| {
            let mut m = Master::new(MasterConfig::default());
            for c in conns.iter_mut() {
                c.mark = SyncMark::default();
                m.sync_conn(Duration::from_secs(1), c, 3, &mut []);
            }
            m.poll_transmit(Duration::from_secs(5))
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
