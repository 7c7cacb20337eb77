//! TUN to a real server that is not on a directly connected network: the
//! kernel routes the outer packet like any locally generated one
//! (`ip_vs_tunnel_xmit` asks `__ip_vs_get_out_rt` without
//! `IP_VS_RT_MODE_KNOWN_NH`, which only DR uses), so it leaves through the
//! gateway of the route to the real server, with the gateway's MAC. Found
//! by `bin/lvsd/tests/e2e_tun.rs` (real servers behind a router): the data
//! path looked up the real server's own MAC and held every packet.

#![allow(clippy::unwrap_used)]

mod common;

use std::net::IpAddr;

use common::*;
use lvs_core::dest::TunnelCsum;
use lvs_core::{Protocol, Time, TunnelType};
use lvs_datapath::{Frame, Verdict};

fn syn(c: IpAddr, v: IpAddr) -> Vec<u8> {
    let seg = tcp(c, v, 40000, 80, 1, 0, SYN, b"");
    let p = match (c, v) {
        (IpAddr::V4(s), IpAddr::V4(d)) => ipv4(
            V4 {
                src: s,
                dst: d,
                proto: TCP,
                ttl: 64,
                tos: 0,
                id: 1,
                df: true,
            },
            &seg,
        ),
        (IpAddr::V6(s), IpAddr::V6(d)) => ipv6(
            V6 {
                src: s,
                dst: d,
                next: TCP,
                hlim: 64,
                tc: 0,
            },
            &seg,
        ),
        _ => unreachable!(),
    };
    let et = if c.is_ipv4() { 0x0800 } else { 0x86dd };
    eth(dir_ext_mac(), router_mac(), et, &p)
}

fn check(c: IpAddr, v: IpAddr, rs: IpAddr, kind: TunnelType) {
    let mut dp = datapath(
        rr(key(Protocol::Tcp, v, 80)),
        &[(rs, 80, tun(kind, 6080, TunnelCsum::NoCsum))],
    );
    let mut f = Frame::from_bytes(&syn(c, v));
    let got = dp.process(Time(1000), &mut f);
    // Only the default route (via the client-side router) leads there.
    assert_eq!(
        got,
        Verdict::Forward {
            ifindex: IF_EXT,
            next_hop: router_mac(),
        },
        "{rs} {kind:?}"
    );
    let out = f.data();
    let l3 = &out[14..];
    match rs {
        IpAddr::V4(r) => {
            assert_eq!(&out[12..14], &[0x08, 0x00]);
            assert_eq!(
                &l3[16..20],
                &r.octets(),
                "outer destination: the real server"
            );
        }
        IpAddr::V6(r) => {
            assert_eq!(&out[12..14], &[0x86, 0xdd]);
            assert_eq!(
                &l3[24..40],
                &r.octets(),
                "outer destination: the real server"
            );
        }
    }
}

#[test]
fn tunnel_to_a_routed_real_server_goes_through_the_gateway() {
    for kind in [TunnelType::Ipip, TunnelType::Gue, TunnelType::Gre] {
        check(
            client4().into(),
            vip4().into(),
            ip4("203.0.113.11").into(),
            kind,
        );
        check(
            client6().into(),
            vip6().into(),
            ip6("2001:db8:77::11").into(),
            kind,
        );
    }
}
