//! Per-packet cost of `Datapath::process`: an established flow for each
//! method (NAT in and out, DR, TUN IPIP / GUE csum / GRE, FULLNAT in and
//! out), and a new connection scheduled by wlc over 100 destinations.
//! Each iteration reloads the input into the frame (a ~100-byte copy)
//! and processes it.
#![allow(clippy::unwrap_used, missing_docs)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::hint::black_box;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use common::*;
use criterion::{Criterion, criterion_group, criterion_main};
use lvs_core::dest::TunnelCsum;
use lvs_core::{DestConfig, FwdMethod, Ipvs, Protocol, ServiceConfig, Time, TunnelType};
use lvs_datapath::{Datapath, Frame, Verdict};

fn client_tcp(sport: u16, flags: u8) -> Vec<u8> {
    let (c, v): (IpAddr, IpAddr) = (client4().into(), vip4().into());
    let p = ipv4(
        V4 {
            src: client4(),
            dst: vip4(),
            proto: TCP,
            ttl: 64,
            tos: 0,
            id: 1,
            df: true,
        },
        &tcp(c, v, sport, 80, 1, 2, flags, &[0x42; 64]),
    );
    eth(dir_ext_mac(), router_mac(), 0x0800, &p)
}

fn rs_reply(to: IpAddr, to_port: u16) -> Vec<u8> {
    let r: IpAddr = rs1_4().into();
    let IpAddr::V4(t) = to else { unreachable!() };
    let p = ipv4(
        V4 {
            src: rs1_4(),
            dst: t,
            proto: TCP,
            ttl: 64,
            tos: 0,
            id: 1,
            df: true,
        },
        &tcp(r, to, 8080, to_port, 1, 2, ACK, &[0x42; 64]),
    );
    eth(dir_int_mac(), rs1_mac(), 0x0800, &p)
}

fn established(m: FwdMethod) -> (Datapath, Vec<u8>, Option<Vec<u8>>) {
    let port = if matches!(m, FwdMethod::Masq | FwdMethod::FullNat) {
        8080
    } else {
        80
    };
    let mut dp = datapath(
        rr(key(Protocol::Tcp, vip4().into(), 80)),
        &[(rs1_4().into(), port, m)],
    );
    dp.set_fullnat_local_addrs(&[fullnat_pool().into()]);
    let mut f = Frame::from_bytes(&client_tcp(40000, SYN));
    assert!(matches!(
        dp.process(Time(1), &mut f),
        Verdict::Forward { .. }
    ));
    let reply = matches!(m, FwdMethod::Masq | FwdMethod::FullNat).then(|| {
        let c = dp.ipvs().conns().find(|x| !x.is_template()).unwrap();
        let (to, p) = c.local.unwrap_or((client4().into(), 40000));
        rs_reply(to, p)
    });
    (dp, client_tcp(40000, ACK), reply)
}

fn bench_established(c: &mut Criterion) {
    let mut g = c.benchmark_group("established");
    let cases = [
        ("nat", FwdMethod::Masq),
        ("dr", FwdMethod::Route),
        ("fullnat", FwdMethod::FullNat),
        ("tun_ipip", tun(TunnelType::Ipip, 0, TunnelCsum::NoCsum)),
        ("tun_gue_csum", tun(TunnelType::Gue, 6080, TunnelCsum::Csum)),
        ("tun_gre", tun(TunnelType::Gre, 0, TunnelCsum::NoCsum)),
    ];
    for (name, m) in cases {
        let (mut dp, input, reply) = established(m);
        let mut frame = Frame::default();
        g.bench_function(format!("{name}_in"), |b| {
            b.iter(|| {
                frame.load(&input).unwrap();
                black_box(dp.process(Time(2), &mut frame))
            })
        });
        if let Some(reply) = reply {
            g.bench_function(format!("{name}_out"), |b| {
                b.iter(|| {
                    frame.load(&reply).unwrap();
                    black_box(dp.process(Time(2), &mut frame))
                })
            });
        }
    }
    g.finish();
}

/// wlc over 100 NAT destinations; each SYN comes from a new client port.
/// The table is rebuilt (outside the timing) every 20 000 connections.
fn bench_new_conn(c: &mut Criterion) {
    let make = || {
        let mut ipvs = Ipvs::new();
        let k = key(Protocol::Tcp, vip4().into(), 80);
        ipvs.add_service(ServiceConfig::new(k).with_scheduler("wlc"))
            .unwrap();
        for i in 0..100u8 {
            let a: IpAddr = std::net::Ipv4Addr::new(10, 0, 0, 100 + i).into();
            ipvs.add_dest(
                &k,
                DestConfig::new(a, 8080)
                    .with_fwd(FwdMethod::Masq)
                    .with_weight(1 + i32::from(i % 3)),
            )
            .unwrap();
        }
        let mut cfg = machine();
        for i in 0..100u8 {
            cfg.neighbours.push(lvs_datapath::Neighbour {
                ip: std::net::Ipv4Addr::new(10, 0, 0, 100 + i).into(),
                mac: mac(0x40 + i),
            });
        }
        Datapath::new(ipvs, cfg)
    };
    let inputs: Vec<Vec<u8>> = (0..20_000u16).map(|i| client_tcp(1024 + i, SYN)).collect();
    c.bench_function("new_conn_wlc_100", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut frame = Frame::default();
            let mut done = 0u64;
            while done < iters {
                let mut dp = make();
                let n = (iters - done).min(inputs.len() as u64) as usize;
                let t = Instant::now();
                for input in &inputs[..n] {
                    frame.load(input).unwrap();
                    black_box(dp.process(Time(2), &mut frame));
                }
                total += t.elapsed();
                done += n as u64;
            }
            total
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .sample_size(20);
    targets = bench_established, bench_new_conn
}
criterion_main!(benches);
