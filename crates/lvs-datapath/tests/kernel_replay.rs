//! Replays frames the real kernel received in the `ipvs-ref` lab (Linux
//! 6.1, `crates/lvs-wire/testdata/wirecap.sh`) through a `Datapath`
//! configured like that lab, and compares our output with what the kernel
//! sent: the tunnel-side capture for every TUN variant, and the
//! client-side capture for the PMTU answers and the relayed tunnel ICMP
//! error. The captures are independent of this crate.
//!
//! Fields the kernel derives from hashes are not reproducible and are
//! copied from the kernel's packet before comparing (each place says so):
//! the GUE UDP source port (`udp_flow_src_port`), the IPv4 id of ICMP
//! answers (`ip_select_ident`) and the IPv6 flow label of ICMPv6 answers
//! (auto flow labels).
#![allow(clippy::unwrap_used)]

mod common;

use std::net::IpAddr;

use common::{csum, l4_csum, refill_ipv4_csum};
use lvs_core::dest::TunnelCsum;
use lvs_core::{
    DestConfig, FwdMethod, Ipvs, Protocol, ServiceConfig, Time, TunnelConfig, TunnelType,
};
use lvs_datapath::{Config, Datapath, Frame, Interface, Neighbour, Route, Verdict};
use lvs_wire::MacAddr;

fn read_pcap(name: &str) -> Vec<Vec<u8>> {
    read_pcap_in("../lvs-wire/testdata", name)
}

fn read_pcap_in(dir: &str, name: &str) -> Vec<Vec<u8>> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(dir)
        .join(name);
    let b = std::fs::read(path).unwrap();
    assert_eq!(&b[..4], &0xa1b2_c3d4u32.to_le_bytes());
    let mut o = 24;
    let mut out = Vec::new();
    while o < b.len() {
        let il = u32::from_le_bytes(b[o + 8..o + 12].try_into().unwrap()) as usize;
        out.push(b[o + 16..o + 16 + il].to_vec());
        o += 16 + il;
    }
    out
}

fn a(s: &str) -> IpAddr {
    s.parse().unwrap()
}

const C0: MacAddr = MacAddr([2, 0, 0, 0, 0x0c, 0]);
const D0: MacAddr = MacAddr([2, 0, 0, 0, 0x0d, 0]);
const D1: MacAddr = MacAddr([2, 0, 0, 0, 0x0d, 1]);
const R0: MacAddr = MacAddr([2, 0, 0, 0, 0x0e, 0]);

/// The lab director: d0 (client side, MTU 1500) and d1 (real-server side,
/// MTU 1400), VIPs on lo.
fn lab() -> Config {
    let mut c = Config::new();
    c.interfaces = vec![
        Interface {
            ifindex: 1,
            mac: D0,
            mtu: 1500,
            v4: Some("10.0.1.1".parse().unwrap()),
            v6: Some("fd01::1".parse().unwrap()),
        },
        Interface {
            ifindex: 2,
            mac: D1,
            mtu: 1400,
            v4: Some("10.0.2.1".parse().unwrap()),
            v6: Some("fd02::1".parse().unwrap()),
        },
    ];
    for (p, len, i) in [
        ("10.0.1.0", 24, 1),
        ("fd01::", 64, 1),
        ("10.0.2.0", 24, 2),
        ("fd02::", 64, 2),
    ] {
        c.routes.push(Route {
            prefix: a(p),
            len,
            gateway: None,
            ifindex: i,
        });
    }
    for (ip, mac) in [
        ("10.0.1.2", C0),
        ("fd01::2", C0),
        ("10.0.2.2", R0),
        ("fd02::2", R0),
    ] {
        c.neighbours.push(Neighbour { ip: a(ip), mac });
    }
    c.local_addrs = vec![a("10.0.0.100"), a("10.0.0.101"), a("fd00::100")];
    c
}

fn dp(proto: Protocol, vip: &str, port: u16, rs: &str, fwd: FwdMethod) -> Datapath {
    let mut ipvs = Ipvs::new();
    let k = lvs_core::ServiceKey::Addr {
        proto,
        addr: a(vip),
        port,
    };
    ipvs.add_service(ServiceConfig::new(k).with_scheduler("rr"))
        .unwrap();
    ipvs.add_dest(&k, DestConfig::new(a(rs), port).with_fwd(fwd))
        .unwrap();
    Datapath::new(ipvs, lab())
}

fn t(kind: TunnelType, csum: TunnelCsum) -> FwdMethod {
    FwdMethod::Tunnel(TunnelConfig {
        kind,
        port: if kind == TunnelType::Gue { 6080 } else { 0 },
        csum,
    })
}

/// Copies the kernel's GUE source port into ours and refreshes our UDP
/// checksum (when present) with the independent sum.
fn adopt_gue_port(ours: &mut [u8], kernel: &[u8]) {
    let v6 = ours[14] >> 4 == 6;
    let l4 = 14 + if v6 { 40 } else { 20 };
    ours[l4..l4 + 2].copy_from_slice(&kernel[l4..l4 + 2]);
    if u16::from_be_bytes([ours[l4 + 6], ours[l4 + 7]]) != 0 {
        ours[l4 + 6] = 0;
        ours[l4 + 7] = 0;
        let (s, d): (IpAddr, IpAddr) = if v6 {
            let s: [u8; 16] = ours[22..38].try_into().unwrap();
            let d: [u8; 16] = ours[38..54].try_into().unwrap();
            (s.into(), d.into())
        } else {
            let s: [u8; 4] = ours[26..30].try_into().unwrap();
            let d: [u8; 4] = ours[30..34].try_into().unwrap();
            (s.into(), d.into())
        };
        let c = l4_csum(s, d, 17, &ours[l4..]);
        ours[l4 + 6..l4 + 8].copy_from_slice(&c.to_be_bytes());
    }
}

/// (client-side frame index, tunnel-side frame index, service, method,
/// GUE) for every TUN variant the lab sent with software checksums.
#[test]
fn tunnel_output_matches_the_kernel() {
    let client = read_pcap("kernel-client-side.pcap");
    let tunnel = read_pcap("kernel-tunnel-side.pcap");
    let v4 = ("10.0.0.100", "10.0.2.2");
    let v6 = ("fd00::100", "fd02::2");
    let mixed = ("10.0.0.101", "fd02::2");
    let cases = [
        (5, 4, v4, t(TunnelType::Ipip, TunnelCsum::NoCsum)),
        (7, 6, v4, t(TunnelType::Gue, TunnelCsum::NoCsum)),
        (9, 8, v4, t(TunnelType::Gue, TunnelCsum::Csum)),
        (13, 12, v4, t(TunnelType::Gue, TunnelCsum::RemCsum)),
        (15, 14, v4, t(TunnelType::Gre, TunnelCsum::NoCsum)),
        (17, 16, v4, t(TunnelType::Gre, TunnelCsum::Csum)),
        (21, 20, v6, t(TunnelType::Ipip, TunnelCsum::NoCsum)),
        (22, 22, v6, t(TunnelType::Gue, TunnelCsum::Csum)),
        (24, 24, v6, t(TunnelType::Gre, TunnelCsum::Csum)),
        (27, 28, mixed, t(TunnelType::Gue, TunnelCsum::Csum)),
        (28, 30, mixed, t(TunnelType::Ipip, TunnelCsum::NoCsum)),
    ];
    for (ci, ti, (vip, rs), m) in cases {
        let mut d = dp(Protocol::Tcp, vip, 80, rs, m);
        let mut f = Frame::from_bytes(&client[ci]);
        let v = d.process(Time(1), &mut f);
        assert_eq!(
            v,
            Verdict::Forward {
                ifindex: 2,
                next_hop: R0
            },
            "client frame {ci}"
        );
        let mut ours = f.data().to_vec();
        if matches!(
            m,
            FwdMethod::Tunnel(TunnelConfig {
                kind: TunnelType::Gue,
                ..
            })
        ) {
            adopt_gue_port(&mut ours, &tunnel[ti]);
        }
        assert_eq!(
            common::hex(&ours),
            common::hex(&tunnel[ti]),
            "client frame {ci} -> tunnel frame {ti}"
        );
    }
}

/// Frag needed (MTU 1380 = 1400 - 20) and packet too big (1360 = 1400 -
/// 40) for oversized UDP with DF to an IPIP service.
#[test]
fn pmtu_answers_match_the_kernel() {
    let client = read_pcap("kernel-client-side.pcap");
    for (ci, ki, vip, rs) in [
        (29, 30, "10.0.0.100", "10.0.2.2"),
        (31, 32, "fd00::100", "fd02::2"),
    ] {
        let mut d = dp(
            Protocol::Udp,
            vip,
            53,
            rs,
            t(TunnelType::Ipip, TunnelCsum::NoCsum),
        );
        let mut f = Frame::from_bytes(&client[ci]);
        let v = d.process(Time(1), &mut f);
        assert_eq!(
            v,
            Verdict::Reply {
                ifindex: 1,
                next_hop: C0
            }
        );
        let mut ours = f.data().to_vec();
        let k = &client[ki];
        if ours[14] >> 4 == 4 {
            // The kernel's IP id (a hash).
            ours[18..20].copy_from_slice(&k[18..20]);
            refill_ipv4_csum(&mut ours[14..]);
        } else {
            // The kernel's flow label (auto flow labels).
            ours[15] = (ours[15] & 0xf0) | (k[15] & 0x0f);
            ours[16..18].copy_from_slice(&k[16..18]);
        }
        assert_eq!(common::hex(&ours), common::hex(k), "client frame {ci}");
    }
}

/// An ICMP error the real server returns about a tunnelled packet
/// (`ip_vs_in_icmp`, tunnel branch): the director answers the client
/// itself, from the VIP, with the same type and code, quoting the inner
/// packet. Lab: UDP port unreachable about the GUE-tunnelled SYN 41001
/// (tunnel frames 2 → 3, client frame 4), and protocol unreachable about
/// the IPIP SYN 42001 (tunnel 4 → 5, client 6).
#[test]
fn tunnel_icmp_relay_matches_the_kernel() {
    let client = read_pcap("kernel-client-side.pcap");
    let tunnel = read_pcap("kernel-tunnel-side.pcap");
    for (syn, err, answer, m) in [
        (3, 3, 4, t(TunnelType::Gue, TunnelCsum::RemCsum)),
        (5, 5, 6, t(TunnelType::Ipip, TunnelCsum::NoCsum)),
        (15, 15, 16, t(TunnelType::Gre, TunnelCsum::NoCsum)),
    ] {
        let mut d = dp(Protocol::Tcp, "10.0.0.100", 80, "10.0.2.2", m);
        let mut f = Frame::from_bytes(&client[syn]);
        assert!(matches!(
            d.process(Time(1), &mut f),
            Verdict::Forward { .. }
        ));
        let mut f = Frame::from_bytes(&tunnel[err]);
        let v = d.process(Time(2), &mut f);
        assert_eq!(
            v,
            Verdict::Reply {
                ifindex: 1,
                next_hop: C0
            },
            "tunnel frame {err}"
        );
        let mut ours = f.data().to_vec();
        let k = &client[answer];
        ours[18..20].copy_from_slice(&k[18..20]);
        refill_ipv4_csum(&mut ours[14..]);
        assert_eq!(common::hex(&ours), common::hex(k), "tunnel frame {err}");
        let _ = csum;
    }
}

/// NAT (TCP v4 through the whole connection, TCP v6 SYN / RST, UDP with
/// the real server's port unreachable translated back), DR and "no
/// destination", from `testdata/kernel/natcap.sh` (same lab topology,
/// VIPs 10.0.0.100 (NAT), 10.0.0.102 (DR), 10.0.0.103 (no destination),
/// fd00::100 (NAT)). Frames are replayed in capture order through one
/// data path; each output must equal the kernel's frame on the other
/// side. The DR frame shows that DR decrements the TTL too.
#[test]
fn nat_and_dr_match_the_kernel() {
    let client = read_pcap_in("testdata/kernel", "nat-client-side.pcap");
    let server = read_pcap_in("testdata/kernel", "nat-server-side.pcap");
    let mut ipvs = Ipvs::new();
    let svc = |ipvs: &mut Ipvs, proto, vip: &str, port: u16, rs: Option<(&str, u16, FwdMethod)>| {
        let k = lvs_core::ServiceKey::Addr {
            proto,
            addr: a(vip),
            port,
        };
        ipvs.add_service(ServiceConfig::new(k).with_scheduler("rr"))
            .unwrap();
        if let Some((r, p, m)) = rs {
            ipvs.add_dest(&k, DestConfig::new(a(r), p).with_fwd(m))
                .unwrap();
        }
    };
    svc(
        &mut ipvs,
        Protocol::Tcp,
        "10.0.0.100",
        80,
        Some(("10.0.2.2", 8080, FwdMethod::Masq)),
    );
    svc(
        &mut ipvs,
        Protocol::Udp,
        "10.0.0.100",
        53,
        Some(("10.0.2.2", 5353, FwdMethod::Masq)),
    );
    svc(
        &mut ipvs,
        Protocol::Tcp,
        "fd00::100",
        80,
        Some(("fd02::2", 8080, FwdMethod::Masq)),
    );
    svc(
        &mut ipvs,
        Protocol::Tcp,
        "10.0.0.102",
        80,
        Some(("10.0.2.2", 80, FwdMethod::Route)),
    );
    svc(&mut ipvs, Protocol::Tcp, "10.0.0.103", 80, None);
    let mut cfg = lab();
    cfg.interfaces[1].mtu = 1500;
    cfg.local_addrs.push(a("10.0.0.102"));
    cfg.local_addrs.push(a("10.0.0.103"));
    let mut d = Datapath::new(ipvs, cfg);
    // (from the client side?, input index, expected: client side?, index)
    let steps = [
        (true, 2, false, 2),
        (false, 3, true, 3),
        (true, 4, false, 4),
        (true, 5, false, 5),
        (false, 6, true, 6),
        (false, 7, true, 7),
        (true, 8, false, 8),
        (false, 9, true, 9),
        (true, 10, false, 10),
        (false, 11, true, 11),
        (true, 14, false, 14),
        (false, 17, true, 15),
        (true, 16, false, 18),
        (false, 19, true, 17),
        (true, 18, false, 20),
        (true, 19, true, 20),
    ];
    for (i, (from_c, ii, to_c, oi)) in steps.into_iter().enumerate() {
        let input = if from_c { &client[ii] } else { &server[ii] };
        let want = if to_c { &client[oi] } else { &server[oi] };
        let mut f = Frame::from_bytes(input);
        let v = d.process(Time(1000 + i as u64), &mut f);
        let (ifindex, mac) = if to_c { (1, C0) } else { (2, R0) };
        let expect_v = if from_c && to_c {
            Verdict::Reply {
                ifindex,
                next_hop: mac,
            }
        } else {
            Verdict::Forward {
                ifindex,
                next_hop: mac,
            }
        };
        assert_eq!(v, expect_v, "step {i}");
        let mut ours = f.data().to_vec();
        if from_c && to_c {
            // The director's own ICMP: the kernel's IP id is a hash.
            ours[18..20].copy_from_slice(&want[18..20]);
            refill_ipv4_csum(&mut ours[14..]);
        }
        assert_eq!(common::hex(&ours), common::hex(want), "step {i}");
    }
}
