//! Property tests: the parsers never panic on any bytes; what the encoder writes
//! parses back to the same advert; the engine survives any sequence of events and
//! keeps its invariants (a master holds its VIPs, nobody else does; deadlines are
//! never in the past after a timeout has been handled).

#![allow(clippy::unwrap_used)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use lvs_vrrp::engine::{State, Vrrp};
use lvs_vrrp::packet::{self, AdvertSpec, Auth, IpInfo, Version};
use lvs_vrrp::{
    GroupConfig, InstanceConfig, InstanceId, TrackConfig, TrackId, TrackKind, TrackRef,
    TrackStatus, VrrpConfig,
};
use proptest::prelude::*;

fn v4(x: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(x))
}

fn v6(x: u128) -> IpAddr {
    IpAddr::V6(Ipv6Addr::from(x))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn parsers_never_panic(data in proptest::collection::vec(any::<u8>(), 0..400), six in any::<bool>(), ttl in any::<u8>()) {
        let _ = packet::parse_ipv4(&data);
        let info = IpInfo {
            src: if six { v6(1) } else { v4(1) },
            dst: if six { v6(2) } else { v4(2) },
            ttl,
        };
        if let Ok(a) = packet::parse(&info, &data) {
            prop_assert!(a.addrs.iter().count() == a.addrs.len());
        }
    }

    #[test]
    fn encode_parse_round_trip(
        six in any::<bool>(),
        v3 in any::<bool>(),
        vrid in any::<u8>(),
        prio in any::<u8>(),
        interval in 1u16..=255,
        pass in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..8)),
        addrs in proptest::collection::vec(any::<u128>(), 0..20),
        src in any::<u128>(),
        dst in any::<u128>(),
    ) {
        let mk = |x: u128| if six { v6(x) } else { v4(x as u32) };
        let addrs: Vec<IpAddr> = addrs.into_iter().map(mk).collect();
        let version = if v3 { Version::V3 } else { Version::V2 };
        let auth = match (&pass, v3 || six) {
            (Some(p), false) => Auth::pass(p),
            _ => Auth::None,
        };
        let spec = AdvertSpec { version, vrid, priority: prio, interval, auth, addrs: &addrs };
        let (s, d) = (mk(src), mk(dst));
        let mut out = vec![];
        packet::encode(&spec, s, d, &mut out).unwrap();
        let info = IpInfo { src: s, dst: d, ttl: 255 };
        let a = packet::parse(&info, &out).unwrap();
        prop_assert_eq!(a.version, version);
        prop_assert_eq!((a.vrid, a.priority, a.interval), (vrid, prio, interval));
        prop_assert_eq!(a.addrs.iter().collect::<Vec<_>>(), addrs.clone());
        prop_assert_eq!(a.auth_type, auth.type_number());
        prop_assert_eq!(a.auth_data, auth.data());
        // Any single flipped bit is caught (checksum, length or header checks).
        for i in 0..out.len() {
            let mut bad = out.clone();
            bad[i] ^= 0x10;
            prop_assert!(packet::parse(&info, &bad).map(|b| b != a).unwrap_or(true));
        }
        if !six {
            let (IpAddr::V4(s4), IpAddr::V4(d4)) = (s, d) else { unreachable!() };
            let mut pkt = vec![];
            packet::encode_ipv4(&spec, s4, d4, 42, &mut pkt).unwrap();
            let (ipi, b) = packet::parse_ipv4(&pkt).unwrap();
            prop_assert_eq!((ipi.src, ipi.dst, ipi.ttl), (s, d, 255));
            prop_assert_eq!(b, a);
        }
    }
}

#[derive(Debug, Clone)]
enum Ev {
    Advert {
        inst: usize,
        prio: u8,
        from: u8,
        good: bool,
    },
    Timeout,
    Track(bool),
    Wait(u16),
}

fn arb_ev() -> impl Strategy<Value = Ev> {
    prop_oneof![
        (0usize..2, any::<u8>(), 1u8..5, any::<bool>()).prop_map(|(inst, prio, from, good)| {
            Ev::Advert {
                inst,
                prio,
                from,
                good,
            }
        }),
        Just(Ev::Timeout),
        any::<bool>().prop_map(Ev::Track),
        (1u16..5000).prop_map(Ev::Wait),
    ]
}

fn router(weight: i32, grouped: bool, prio: u8) -> Vrrp {
    let mut a = InstanceConfig::new("A", 1, 1, v4(0x0a000002), vec![v4(0x0a000064)]);
    let mut b = InstanceConfig::new("B", 1, 2, v4(0x0a000002), vec![v4(0x0a000065)]);
    a.priority = prio;
    b.priority = 100;
    b.version = Version::V3;
    b.advert_int = Duration::from_millis(300);
    a.tracks = vec![TrackRef {
        id: TrackId(0),
        weight,
        reverse: false,
    }];
    a.preempt_delay = Duration::from_secs(2);
    Vrrp::new(VrrpConfig {
        instances: vec![a, b],
        groups: if grouped {
            vec![GroupConfig {
                name: "G".into(),
                members: vec!["A".into(), "B".into()],
            }]
        } else {
            vec![]
        },
        tracks: vec![TrackConfig {
            name: "t".into(),
            kind: TrackKind::Script,
            initial: TrackStatus::Unknown,
        }],
    })
    .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn engine_invariants(
        weight in prop_oneof![Just(0i32), -50i32..50],
        grouped in any::<bool>(),
        prio in 1u8..=255,
        evs in proptest::collection::vec(arb_ev(), 1..120),
    ) {
        let mut v = router(weight, grouped, prio);
        let mut now = Duration::from_secs(1);
        v.start(now);
        for ev in evs {
            match ev {
                Ev::Wait(ms) => now += Duration::from_millis(u64::from(ms)),
                Ev::Timeout => {
                    if let Some(t) = v.next_deadline() {
                        now = now.max(t);
                    }
                    v.handle_timeout(now);
                    if let Some(t) = v.next_deadline() {
                        prop_assert!(t > now, "deadline {:?} not after {:?}", t, now);
                    }
                }
                Ev::Track(up) => {
                    v.set_track(now, TrackId(0), if up { TrackStatus::Up } else { TrackStatus::Down });
                }
                Ev::Advert { inst, prio, from, good } => {
                    let c = v.config(InstanceId(inst)).clone();
                    let src = v4(0x0a000000 + u32::from(from));
                    let spec = AdvertSpec {
                        version: c.version,
                        vrid: c.vrid,
                        priority: prio,
                        interval: c.interval_field(),
                        auth: Auth::None,
                        addrs: &c.vips,
                    };
                    let mut m = vec![];
                    packet::encode(&spec, src, v4(0xe0000012), &mut m).unwrap();
                    if !good {
                        m[3] ^= 1;
                    }
                    let info = IpInfo { src, dst: v4(0xe0000012), ttl: 255 };
                    v.handle_advert(now, 1, &info, &m);
                }
            }
            for i in 0..v.len() {
                let id = InstanceId(i);
                prop_assert_eq!(v.vips_set(id), v.state(id) == State::Master);
                let p = v.priority(id);
                prop_assert!(p >= 1);
            }
            if grouped {
                // A sync group never has one member master and another in FAULT.
                let s: Vec<State> = (0..2).map(|i| v.state(InstanceId(i))).collect();
                prop_assert!(!(s.contains(&State::Master) && s.contains(&State::Fault)), "{:?}", s);
            }
        }
        let acts = v.shutdown(now).to_vec();
        prop_assert!((0..v.len()).all(|i| !v.vips_set(InstanceId(i))));
        prop_assert!(!acts.is_empty());
    }
}
