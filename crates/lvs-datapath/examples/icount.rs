//! Workload driver for instruction counting under callgrind
//! (`crates/lvs-datapath/icount.sh`): `icount <case> <packets>` sets up a
//! data path with an established connection (or, for `new_wlc100`, a wlc
//! service over 100 destinations) and processes `packets` frames. Two runs
//! with different counts give the instructions of one packet, set-up cost
//! cancelled.
#![allow(clippy::unwrap_used, missing_docs)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};

use common::*;
use lvs_core::dest::TunnelCsum;
use lvs_core::{DestConfig, FwdMethod, Ipvs, Protocol, ServiceConfig, Time, TunnelType};
use lvs_datapath::{Datapath, Frame, Neighbour};

fn frame(
    src: Ipv4Addr,
    sport: u16,
    dst: Ipv4Addr,
    dport: u16,
    flags: u8,
    from_rs: bool,
) -> Vec<u8> {
    let p = ipv4(
        V4 {
            src,
            dst,
            proto: TCP,
            ttl: 64,
            tos: 0,
            id: 1,
            df: true,
        },
        &tcp(
            src.into(),
            dst.into(),
            sport,
            dport,
            1,
            2,
            flags,
            &[0x42; 64],
        ),
    );
    if from_rs {
        eth(dir_int_mac(), rs1_mac(), 0x0800, &p)
    } else {
        eth(dir_ext_mac(), router_mac(), 0x0800, &p)
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 {
        eprintln!(
            "usage: icount <nat_in|nat_out|dr|fullnat_in|fullnat_out|tun_ipip|tun_gue|tun_gre|new_wlc100> <packets>"
        );
        std::process::exit(2);
    }
    let n: usize = args[2].parse().unwrap();
    let case = args[1].as_str();
    let mut f = Frame::default();
    if case == "new_wlc100" {
        let mut ipvs = Ipvs::new();
        let k = key(Protocol::Tcp, vip4().into(), 80);
        ipvs.add_service(ServiceConfig::new(k).with_scheduler("wlc"))
            .unwrap();
        let mut cfg = machine();
        for i in 0..100u8 {
            let a = Ipv4Addr::new(10, 0, 0, 100 + i);
            ipvs.add_dest(
                &k,
                DestConfig::new(a.into(), 8080)
                    .with_fwd(FwdMethod::Masq)
                    .with_weight(1 + i32::from(i % 3)),
            )
            .unwrap();
            cfg.neighbours.push(Neighbour {
                ip: a.into(),
                mac: mac(0x40 + i),
            });
        }
        let mut dp = Datapath::new(ipvs, cfg);
        let inputs: Vec<Vec<u8>> = (0..n)
            .map(|i| {
                let c = Ipv4Addr::from(0xc633_0000u32 + (i as u32 >> 14));
                frame(c, 1024 + (i as u16 & 0x3fff), vip4(), 80, SYN, false)
            })
            .collect();
        for x in &inputs {
            f.load(x).unwrap();
            black_box(dp.process(Time(2), &mut f));
        }
        return;
    }
    let m = match case {
        "nat_in" | "nat_out" => FwdMethod::Masq,
        "dr" => FwdMethod::Route,
        "fullnat_in" | "fullnat_out" => FwdMethod::FullNat,
        "tun_ipip" => tun(TunnelType::Ipip, 0, TunnelCsum::NoCsum),
        "tun_gue" => tun(TunnelType::Gue, 6080, TunnelCsum::Csum),
        "tun_gre" => tun(TunnelType::Gre, 0, TunnelCsum::NoCsum),
        _ => {
            eprintln!("unknown case {case}");
            std::process::exit(2);
        }
    };
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
    f.load(&frame(client4(), 40000, vip4(), 80, SYN, false))
        .unwrap();
    black_box(dp.process(Time(1), &mut f));
    let input = if case.ends_with("_out") {
        let c = dp.ipvs().conns().find(|x| !x.is_template()).unwrap();
        let (to, p) = c.local.unwrap_or((client4().into(), 40000));
        let IpAddr::V4(to) = to else { unreachable!() };
        frame(rs1_4(), 8080, to, p, ACK, true)
    } else {
        frame(client4(), 40000, vip4(), 80, ACK, false)
    };
    for _ in 0..n {
        f.load(&input).unwrap();
        black_box(dp.process(Time(2), &mut f));
    }
}
