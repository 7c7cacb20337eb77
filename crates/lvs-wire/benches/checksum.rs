//! Checksum costs: RFC 1071 sum over 64- and 1500-byte buffers, RFC 1624
//! incremental updates, a NAT rewrite of a TCP/IPv4 packet (DNAT: address +
//! port, IP and TCP checksums), CRC32c, and GUE encapsulation with a UDP
//! checksum.

#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use lvs_wire::checksum;
use lvs_wire::encap::{Encap, GueCsum, Outer, Tunnel};
use lvs_wire::nat::{self, Rewrite};
use lvs_wire::{Ipv4Header, TcpSegment, crc32c, ip::proto, tcp};

fn data(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 131 + 7) as u8).collect()
}

/// A TCP/IPv4 packet with `payload` bytes of data and valid checksums.
fn tcp_packet(payload: usize) -> Vec<u8> {
    let src = Ipv4Addr::new(192, 0, 2, 10);
    let dst = Ipv4Addr::new(10, 0, 0, 100);
    let mut p = vec![0u8; 40 + payload];
    Ipv4Header::new(src, dst, proto::TCP)
        .write(&mut p, 20 + payload)
        .unwrap();
    let h = tcp::TcpHeader {
        src_port: 40000,
        dst_port: 80,
        seq: 1,
        ack: 2,
        flags: tcp::flags::ACK,
        window: 512,
        urgent: 0,
    };
    h.write(&mut p[20..], &[]).unwrap();
    p[40..].copy_from_slice(&data(payload));
    TcpSegment::new_checked(&mut p[20..])
        .unwrap()
        .fill_checksum_v4(src, dst);
    p
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("rfc1071");
    for n in [64usize, 1500] {
        let d = data(n);
        g.throughput(Throughput::Bytes(n as u64));
        g.bench_function(format!("checksum_{n}"), |b| {
            b.iter(|| checksum::checksum(black_box(&d)))
        });
    }
    g.finish();

    let mut g = c.benchmark_group("rfc1624");
    g.bench_function("update16", |b| {
        b.iter(|| checksum::update16(black_box(0x1234), black_box(80), black_box(8080)))
    });
    let (a, bb) = (Ipv4Addr::new(10, 0, 0, 100), Ipv4Addr::new(172, 16, 0, 5));
    g.bench_function("update_ipv4_addr", |b| {
        b.iter(|| checksum::update_ipv4_addr(black_box(0x1234), black_box(a), black_box(bb)))
    });
    let (a6, b6): (Ipv6Addr, Ipv6Addr) =
        ("2001:db8::100".parse().unwrap(), "fd00::5".parse().unwrap());
    g.bench_function("update_ipv6_addr", |b| {
        b.iter(|| checksum::update_ipv6_addr(black_box(0x1234), black_box(&a6), black_box(&b6)))
    });
    g.finish();

    let mut g = c.benchmark_group("packet");
    let pkt = tcp_packet(1460);
    let rw = Rewrite {
        dst: Some(Ipv4Addr::new(172, 16, 0, 5)),
        dst_port: Some(8080),
        ..Rewrite::default()
    };
    let mut buf = pkt.clone();
    g.bench_function("nat_dnat_tcp4_incremental", |b| {
        b.iter(|| {
            buf.copy_from_slice(&pkt);
            nat::rewrite_ipv4(black_box(&mut buf), black_box(&rw)).unwrap();
        })
    });
    g.bench_function("copy_only_1500", |b| {
        b.iter(|| {
            buf.copy_from_slice(black_box(&pkt));
        })
    });
    let d = data(1500);
    g.bench_function("crc32c_1500", |b| b.iter(|| crc32c::crc32c(black_box(&d))));
    let e = Encap {
        outer: Outer::V4 {
            src: Ipv4Addr::new(10, 0, 2, 1),
            dst: Ipv4Addr::new(10, 0, 2, 2),
            ttl: 63,
            tos: 0,
            dont_fragment: true,
            ident: 0,
        },
        tunnel: Tunnel::Gue {
            src_port: 40000,
            dst_port: 6080,
            csum: GueCsum::Csum,
        },
    };
    let small = tcp_packet(0);
    let head = e.max_header_len();
    for (name, inner) in [("gue_csum_encap_40", &small), ("gue_csum_encap_1500", &pkt)] {
        let mut frame = vec![0u8; head + inner.len()];
        g.bench_function(name, |b| {
            b.iter(|| {
                frame[head..].copy_from_slice(inner);
                e.encapsulate(black_box(&mut frame), head, inner.len())
                    .unwrap()
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .sample_size(30);
    targets = bench
}
criterion_main!(benches);
