//! Property tests: `process` never panics on arbitrary or mutated frames,
//! and every frame it forwards or answers with carries valid checksums at
//! every layer (verified with the independent sums of `common`, through
//! IPIP / GRE / GUE to the inner packet).
#![allow(clippy::unwrap_used)]

mod common;

use std::net::IpAddr;

use common::*;
use lvs_core::dest::TunnelCsum;
use lvs_core::{FwdMethod, Protocol, Time, TunnelType};
use lvs_datapath::{Datapath, Frame, Verdict};
use proptest::prelude::*;

/// Checks every checksum of the IP packet `p` (and of tunnelled inner
/// packets); returns a description of the first bad one.
fn check_ip(p: &[u8]) -> Result<(), String> {
    let (src, dst, proto, l4): (IpAddr, IpAddr, u8, &[u8]) = match p.first().map(|b| b >> 4) {
        Some(4) => {
            let ihl = usize::from(p[0] & 15) * 4;
            if sum16(&p[..ihl], 0) != 0xffff {
                return Err("IPv4 header checksum".into());
            }
            let total = usize::from(u16::from_be_bytes([p[2], p[3]]));
            let s: [u8; 4] = p[12..16].try_into().unwrap();
            let d: [u8; 4] = p[16..20].try_into().unwrap();
            (s.into(), d.into(), p[9], &p[ihl..total])
        }
        Some(6) => {
            let len = usize::from(u16::from_be_bytes([p[4], p[5]]));
            let s: [u8; 16] = p[8..24].try_into().unwrap();
            let d: [u8; 16] = p[24..40].try_into().unwrap();
            (s.into(), d.into(), p[6], &p[40..40 + len])
        }
        _ => return Err("not IP".into()),
    };
    let pseudo_ok = |proto: u8| {
        let mut all = Vec::new();
        match (src, dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                all.extend(s.octets());
                all.extend(d.octets());
                all.extend([0, proto]);
                all.extend((l4.len() as u16).to_be_bytes());
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => {
                all.extend(s.octets());
                all.extend(d.octets());
                all.extend((l4.len() as u32).to_be_bytes());
                all.extend([0, 0, 0, proto]);
            }
            _ => return false,
        }
        all.extend_from_slice(l4);
        sum16(&all, 0) == 0xffff
    };
    match proto {
        TCP if !pseudo_ok(TCP) => Err("TCP checksum".into()),
        UDP => {
            let c = u16::from_be_bytes([l4[6], l4[7]]);
            if !(c == 0 || pseudo_ok(UDP)) {
                return Err("UDP checksum".into());
            }
            if u16::from_be_bytes([l4[2], l4[3]]) == 6080 {
                let hlen = 8 + 4 + usize::from(l4[8] & 0x1f) * 4;
                return check_ip(&l4[hlen..]);
            }
            Ok(())
        }
        SCTP => {
            let mut z = l4.to_vec();
            let want = u32::from_le_bytes([z[8], z[9], z[10], z[11]]);
            z[8..12].fill(0);
            if crc32c(&z) == want {
                Ok(())
            } else {
                Err("SCTP CRC32c".into())
            }
        }
        ICMP if sum16(l4, 0) != 0xffff => Err("ICMP checksum".into()),
        ICMP6 if !pseudo_ok(ICMP6) => Err("ICMPv6 checksum".into()),
        4 | 41 => check_ip(l4),
        47 => {
            let c = l4[0] & 0x80 != 0;
            if c && sum16(l4, 0) != 0xffff {
                return Err("GRE checksum".into());
            }
            check_ip(&l4[if c { 8 } else { 4 }..])
        }
        _ => Ok(()),
    }
}

fn check_frame(f: &[u8]) -> Result<(), String> {
    check_ip(&f[14..])
}

fn method(i: u8) -> FwdMethod {
    match i % 8 {
        0 => FwdMethod::Masq,
        1 => FwdMethod::Route,
        2 => FwdMethod::FullNat,
        3 => tun(TunnelType::Ipip, 0, TunnelCsum::NoCsum),
        4 => tun(TunnelType::Gue, 6080, TunnelCsum::Csum),
        5 => tun(TunnelType::Gue, 6080, TunnelCsum::NoCsum),
        6 => tun(TunnelType::Gre, 0, TunnelCsum::Csum),
        _ => tun(TunnelType::Gre, 0, TunnelCsum::NoCsum),
    }
}

fn dp_for(m: FwdMethod, proto: Protocol, v6: bool, outer_v6: bool) -> Datapath {
    let v: IpAddr = if v6 { vip6().into() } else { vip4().into() };
    let r: IpAddr = if outer_v6 && matches!(m, FwdMethod::Tunnel(_))
        || v6 && !matches!(m, FwdMethod::Tunnel(_))
    {
        rs1_6().into()
    } else {
        rs1_4().into()
    };
    let port = if matches!(m, FwdMethod::Masq | FwdMethod::FullNat) {
        8080
    } else {
        80
    };
    let mut dp = datapath(rr(key(proto, v, 80)), &[(r, port, m)]);
    dp.set_fullnat_local_addrs(&[fullnat_pool().into(), fullnat_pool6().into()]);
    dp
}

#[allow(clippy::too_many_arguments)]
fn client_frame(
    proto: u8,
    v6: bool,
    host: u16,
    sport: u16,
    ttl: u8,
    tos: u8,
    df: bool,
    payload: &[u8],
) -> Vec<u8> {
    let (c, v): (IpAddr, IpAddr) = if v6 {
        let mut o = client6().octets();
        o[14..16].copy_from_slice(&host.to_be_bytes());
        (o.into(), vip6().into())
    } else {
        let mut o = client4().octets();
        o[2..4].copy_from_slice(&host.to_be_bytes());
        (o.into(), vip4().into())
    };
    let l4 = match proto {
        TCP => tcp(c, v, sport, 80, 1, 0, SYN, payload),
        UDP => udp(c, v, sport, 80, payload, true),
        _ => sctp(sport, 80, 1, 1, &[0u8; 16]),
    };
    let p = match (c, v) {
        (IpAddr::V4(s), IpAddr::V4(d)) => ipv4(
            V4 {
                src: s,
                dst: d,
                proto,
                ttl,
                tos,
                id: 1,
                df,
            },
            &l4,
        ),
        (IpAddr::V6(s), IpAddr::V6(d)) => ipv6(
            V6 {
                src: s,
                dst: d,
                next: proto,
                hlim: ttl,
                tc: tos,
            },
            &l4,
        ),
        _ => unreachable!(),
    };
    eth(
        dir_ext_mac(),
        router_mac(),
        if v6 { 0x86dd } else { 0x0800 },
        &p,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// Connection-opening packets of every method, family and protocol:
    /// whatever comes out (forward or ICMP answer) has valid checksums.
    #[test]
    fn forwarded_frames_have_valid_checksums(
        m in 0u8..8,
        proto in prop_oneof![Just(TCP), Just(UDP), Just(SCTP)],
        v6 in any::<bool>(),
        outer_v6 in any::<bool>(),
        host in any::<u16>(),
        sport in 1024u16..,
        ttl in 1u8..,
        tos in any::<u8>(),
        df in any::<bool>(),
        len in 0usize..1500,
        fill in any::<u8>(),
    ) {
        let meth = method(m);
        let lproto = match proto { TCP => Protocol::Tcp, UDP => Protocol::Udp, _ => Protocol::Sctp };
        let mut dp = dp_for(meth, lproto, v6, outer_v6);
        let payload = vec![fill; len];
        let input = client_frame(proto, v6, host, sport, ttl, tos, df, &payload);
        let mut f = Frame::from_bytes(&input);
        let v = dp.process(Time(5), &mut f);
        match v {
            Verdict::Forward { .. } | Verdict::Reply { .. } => {
                prop_assert_eq!(check_frame(f.data()), Ok(()), "verdict {:?}", v);
            }
            Verdict::Drop(_) | Verdict::Local => {}
        }
        // TTL 1 is always answered, never forwarded.
        if ttl == 1 {
            prop_assert!(matches!(v, Verdict::Reply { .. }), "ttl 1 gave {:?}", v);
        }
    }

    /// Arbitrary bytes never make `process` panic.
    #[test]
    fn arbitrary_frames_do_not_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let mut dp = dp_for(FwdMethod::Masq, Protocol::Tcp, false, false);
        let mut f = Frame::from_bytes(&bytes);
        let _ = dp.process(Time(1), &mut f);
    }

    /// Valid frames with a few bytes flipped never make `process` panic
    /// (a flipped transport byte gives a bad transport checksum that NAT
    /// carries along, as the kernel does, so checksums are not asserted).
    #[test]
    fn mutated_frames_do_not_panic(
        m in 0u8..8,
        v6 in any::<bool>(),
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6),
    ) {
        let mut dp = dp_for(method(m), Protocol::Tcp, v6, false);
        let mut input = client_frame(TCP, v6, 1, 40000, 64, 0, true, b"hello");
        for (at, x) in flips {
            let i = at % input.len();
            input[i] ^= x;
        }
        let mut f = Frame::from_bytes(&input);
        let _ = dp.process(Time(1), &mut f);
    }
}
