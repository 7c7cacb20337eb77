//! What the grammar sends: requests built from ipvsadm command lines, worked
//! out by hand from ipvsadm's rules (reference §2.1 and the lab captures), and
//! property tests: no command line panics, and `-S` output read back by the
//! grammar rebuilds the same table.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::net::IpAddr;

use lvs_ipvsadm::format::list_all;
use lvs_ipvsadm::grammar::{Action, Format, ListWhat, parse};
use lvs_ipvsadm::{FilesResolver, NoNames, Refusal};
use lvs_proto::*;
use proptest::prelude::*;

fn argv(s: &str) -> Vec<String> {
    std::iter::once("ipvsadm")
        .chain(s.split_whitespace())
        .map(String::from)
        .collect()
}

fn req(s: &str) -> Request {
    match parse(&argv(s), &NoNames) {
        Ok(Action::Change(r)) => r,
        other => panic!("{s}: {other:?}"),
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn tcp(a: &str, port: u16) -> ServiceKey {
    ServiceKey::Addr {
        protocol: Protocol::Tcp,
        addr: ip(a),
        port,
    }
}

#[test]
fn add_service_defaults() {
    let Request::AddService(s) = req("-A -t 10.0.0.1:80") else {
        panic!()
    };
    assert_eq!(
        s,
        ServiceSpec {
            key: tcp("10.0.0.1", 80),
            scheduler: "wlc".into(),
            persistent: false,
            timeout: 0,
            netmask: 0xffff_ffff,
            ops: false,
            sched_flags: SchedFlags::default(),
            pe_name: None,
        }
    );
}

#[test]
fn persistence_and_netmasks() {
    let Request::AddService(s) = req("-A -t 10.0.0.1:80 -p -M 255.255.255.0") else {
        panic!()
    };
    assert!(s.persistent);
    assert_eq!((s.timeout, s.netmask), (360, 0xffff_ff00));
    // IPv6: prefix length; -M read before -t is an IPv4 mask, then reset to 128.
    let Request::AddService(s) = req("-A -t [2001:db8::1]:80 -p 10 -M 64") else {
        panic!()
    };
    assert_eq!((s.timeout, s.netmask), (10, 64));
    let Request::AddService(s) = req("-A -M 64 -t [2001:db8::1]:80 -p") else {
        panic!()
    };
    assert_eq!(s.netmask, 128);
    // IPv4 fwmark with a bare number: inet_aton("64") = 0.0.0.64.
    let Request::AddService(s) = req("-A -f 5 -p -M 64") else {
        panic!()
    };
    assert_eq!(s.netmask, 64);
    assert_eq!(
        s.key,
        ServiceKey::Fwmark {
            mark: 5,
            family: Family::Inet
        }
    );
    let Request::AddService(s) = req("-A -f 5 -6 -p -M 64") else {
        panic!()
    };
    assert_eq!(
        s.key,
        ServiceKey::Fwmark {
            mark: 5,
            family: Family::Inet6
        }
    );
    assert_eq!(s.netmask, 64);
    let Request::AddService(s) = req("-A -f 5 -6") else {
        panic!()
    };
    assert_eq!(s.netmask, 128);
}

#[test]
fn scheduler_flags_and_names() {
    let Request::AddService(s) = req("-A -t 10.0.0.1:80 -s sh -b sh-port,flag-3") else {
        panic!()
    };
    assert_eq!(
        s.sched_flags,
        SchedFlags {
            flag1: false,
            flag2: true,
            flag3: true
        }
    );
    let Request::AddService(s) = req("-A -u 10.0.0.1:53 -s sh -o -p --pe sip") else {
        panic!()
    };
    assert!(s.ops && s.persistent);
    assert_eq!(s.pe_name.as_deref(), Some("sip"));
    // Names are cut to 15 bytes as ipvsadm's strncpy does.
    let Request::AddService(s) = req("-A -t 10.0.0.1:80 -s abcdefghijklmnopq") else {
        panic!()
    };
    assert_eq!(s.scheduler, "abcdefghijklmno");
}

#[test]
fn real_server_ports() {
    let dest = |s: &str| match req(s) {
        Request::AddDest { dest, .. } | Request::EditDest { dest, .. } => dest,
        other => panic!("{other:?}"),
    };
    // Masquerading keeps the given port; no port means the service's.
    assert_eq!(dest("-a -t 10.0.0.1:80 -r 10.0.0.2:8080 -m").port, 8080);
    assert_eq!(dest("-a -t 10.0.0.1:80 -r 10.0.0.2 -m").port, 80);
    // Direct routing and tunnelling force the service port.
    assert_eq!(dest("-a -t 10.0.0.1:80 -r 10.0.0.2:8080 -g").port, 80);
    assert_eq!(dest("-a -t 10.0.0.1:80 -r 10.0.0.2:8080 -i").port, 80);
    assert_eq!(
        dest("-e -t 10.0.0.1:80 -r 10.0.0.2:8080").port,
        80,
        "-g is the default"
    );
    // ... except for fwmark services.
    assert_eq!(dest("-a -f 7 -r 10.0.0.2:8080 -g").port, 8080);
    // -r before -t: no service port known yet.
    assert_eq!(dest("-a -r 10.0.0.2 -t 10.0.0.1:80 -m").port, 0);
    // Deletion never forces the port.
    let Request::DelDest { dest, .. } = req("-d -t 10.0.0.1:80 -r 10.0.0.2:8080") else {
        panic!()
    };
    assert_eq!(
        dest,
        DestKey {
            addr: ip("10.0.0.2"),
            port: 8080
        }
    );
}

#[test]
fn real_server_options() {
    let Request::AddDest { service, dest } = req(
        "-a -t 10.0.0.1:80 -r 10.0.0.2 -i --tun-type gue --tun-port 6080 --tun-remcsum -w 2147483647 -x 9 -y 3",
    ) else {
        panic!()
    };
    assert_eq!(service, tcp("10.0.0.1", 80));
    assert_eq!(
        dest,
        DestSpec {
            addr: ip("10.0.0.2"),
            port: 80,
            fwd: FwdMethod::Tunnel(TunnelSpec {
                kind: TunnelType::Gue,
                port: 6080,
                csum: TunnelCsum::RemCsum
            }),
            weight: i32::MAX,
            u_threshold: 9,
            l_threshold: 3,
        }
    );
    let Request::AddDest { dest, .. } = req("-a -t [2001:db8::1]:80 -r 10.0.0.2 -i") else {
        panic!()
    };
    assert_eq!(
        dest.fwd,
        FwdMethod::Tunnel(TunnelSpec::default()),
        "ipip, no checksum"
    );
    let Request::AddDest { dest, .. } = req("-a -t 10.0.0.1:80 -r 10.0.0.2 --fullnat") else {
        panic!()
    };
    assert_eq!((dest.fwd, dest.port), (FwdMethod::FullNat, 80));
}

#[test]
fn other_commands() {
    assert_eq!(
        req("--set 10 0 30"),
        Request::SetTimeouts(Timeouts {
            tcp: 10,
            tcp_fin: 0,
            udp: 30
        })
    );
    assert_eq!(req("-Z"), Request::Zero(None));
    assert_eq!(
        req("-Z -u 10.0.0.1:53"),
        Request::Zero(Some(ServiceKey::Addr {
            protocol: Protocol::Udp,
            addr: ip("10.0.0.1"),
            port: 53
        }))
    );
    assert_eq!(
        req("--stop-daemon backup --syncid 4"),
        Request::StopDaemon(DaemonState::Backup)
    );
    assert_eq!(
        req("-D --sctp-service 10.0.0.1:9"),
        Request::DelService(ServiceKey::Addr {
            protocol: Protocol::Sctp,
            addr: ip("10.0.0.1"),
            port: 9
        })
    );
    let list = |s: &str| match parse(&argv(s), &NoNames) {
        Ok(Action::List(w, f)) => (w, f),
        other => panic!("{other:?}"),
    };
    assert_eq!(list("-Lnc").0, ListWhat::Connections);
    assert_eq!(list("-L --timeout").0, ListWhat::Timeout);
    assert_eq!(list("-l --daemon").0, ListWhat::Daemon);
    let (w, f) = list("-L -X --stats -t 10.0.0.1:80");
    assert_eq!(w, ListWhat::Service(tcp("10.0.0.1", 80)));
    assert!(f.exact && f.stats && !f.numeric);
    assert_eq!(
        parse(&argv("-S -n"), &NoNames),
        Ok(Action::Save(Format {
            numeric: true,
            rule: true,
            ..Format::default()
        }))
    );
}

#[test]
fn names_resolve_through_the_resolver() {
    let r = FilesResolver::new("10.0.0.9 web\n", "http 80/tcp www\ndomain 53/udp\n");
    let Ok(Action::Change(Request::AddService(s))) = parse(&argv("-A -t web:www"), &r) else {
        panic!()
    };
    assert_eq!(s.key, tcp("10.0.0.9", 80));
    assert!(matches!(
        parse(&argv("-A -t web:domain"), &r),
        Err(Refusal::Fail(_))
    ));
}

// ---------------------------------------------------------------- properties

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// No command line makes the grammar panic; refusals carry ipvsadm's exit
    /// codes.
    #[test]
    fn any_command_line_parses_or_is_refused(words in proptest::collection::vec(
        prop_oneof![
            Just("-A".to_string()), Just("-a".to_string()), Just("-L".to_string()),
            Just("-t".to_string()), Just("-r".to_string()), Just("-p".to_string()),
            Just("-M".to_string()), Just("-6".to_string()), Just("-f".to_string()),
            Just("--set".to_string()), Just("-b".to_string()), Just("--tun-type".to_string()),
            Just("=".to_string()), Just("-".to_string()), Just("--".to_string()),
            "[-a-zA-Z0-9:.=\\[\\],]{0,12}",
            "\\PC{0,6}",
        ],
        0..8,
    )) {
        let mut a = vec!["ipvsadm".to_string()];
        a.extend(words);
        match parse(&a, &NoNames) {
            Ok(_) => {}
            Err(r) => prop_assert!(matches!(r.exit_code(), 2 | 255)),
        }
    }
}

fn addr4() -> impl Strategy<Value = IpAddr> {
    any::<[u8; 4]>().prop_map(IpAddr::from)
}

fn addr6() -> impl Strategy<Value = IpAddr> {
    any::<[u16; 8]>().prop_map(IpAddr::from)
}

fn tunnel() -> impl Strategy<Value = FwdMethod> {
    prop_oneof![
        Just(FwdMethod::Tunnel(TunnelSpec::default())),
        (
            1u16..,
            prop_oneof![
                Just(TunnelCsum::NoCsum),
                Just(TunnelCsum::Csum),
                Just(TunnelCsum::RemCsum)
            ]
        )
            .prop_map(|(port, csum)| FwdMethod::Tunnel(TunnelSpec {
                kind: TunnelType::Gue,
                port,
                csum
            })),
        prop_oneof![Just(TunnelCsum::NoCsum), Just(TunnelCsum::Csum)].prop_map(|csum| {
            FwdMethod::Tunnel(TunnelSpec {
                kind: TunnelType::Gre,
                port: 0,
                csum,
            })
        }),
    ]
}

prop_compose! {
    fn service()(
        v6 in any::<bool>(),
        a4 in addr4(),
        a6 in addr6(),
        kind in 0u8..4,
        port in 1u16..,
        // ipvsadm prints marks as a signed int (4294967295 saves as `-f -1`,
        // which its parser refuses): the round trip holds up to i32::MAX.
        mark in 1u32..=i32::MAX as u32,
        sched in prop::sample::select(vec!["rr", "wrr", "lc", "wlc", "sh", "mh", "fo"]),
        persistent in any::<bool>(),
        timeout in 1u32..=2_678_400,
        mask4 in any::<u32>(),
        mask6 in 1u32..=128,
        ops in any::<bool>(),
        f in any::<[bool; 3]>(),
        pe in any::<bool>(),
        ndests in 0usize..4,
        dests in proptest::collection::vec((any::<bool>(), addr4(), addr6(), 0u16.., 0u8..5, tunnel(), 0i32.., 0u32..=i32::MAX as u32, 0u32..=i32::MAX as u32), 4),
    ) -> ServiceEntry {
        let addr = if v6 { a6 } else { a4 };
        let family = if v6 { Family::Inet6 } else { Family::Inet };
        let key = match kind {
            0 => ServiceKey::Addr { protocol: Protocol::Tcp, addr, port },
            1 => ServiceKey::Addr { protocol: Protocol::Udp, addr, port },
            2 => ServiceKey::Addr { protocol: Protocol::Sctp, addr, port },
            _ => ServiceKey::Fwmark { mark, family },
        };
        let udp_or_fwm = matches!(key, ServiceKey::Addr { protocol: Protocol::Udp, .. } | ServiceKey::Fwmark { .. });
        let netmask = match (persistent, v6) {
            (false, false) => 0xffff_ffff,
            (false, true) => 128,
            (true, false) => mask4,
            (true, true) => mask6,
        };
        let mut seen = std::collections::HashSet::new();
        let dests = dests.into_iter().take(ndests).filter_map(|(dv6, d4, d6, dport, fwd, tun, weight, u, l)| {
            let fwd = match fwd { 0 => FwdMethod::Masq, 1 => FwdMethod::Route, 2 => FwdMethod::FullNat, _ => tun };
            // Only tunnels may mix families.
            let d_is_v6 = if matches!(fwd, FwdMethod::Tunnel(_)) { dv6 } else { v6 };
            let daddr = if d_is_v6 { d6 } else { d4 };
            let svc_port = key.port();
            let forced = matches!(fwd, FwdMethod::Tunnel(_) | FwdMethod::Route) && !matches!(key, ServiceKey::Fwmark { .. });
            let dport = if forced { svc_port } else { dport };
            let (u, l) = (u.max(l), u.min(l));
            seen.insert((daddr, dport)).then_some(DestEntry {
                spec: DestSpec { addr: daddr, port: dport, fwd, weight, u_threshold: u, l_threshold: l },
                active_conns: 0, inact_conns: 0, persist_conns: 0, stats: Stats::default(),
            })
        }).collect();
        ServiceEntry {
            spec: ServiceSpec {
                key,
                scheduler: sched.to_string(),
                persistent,
                timeout: if persistent { timeout } else { 0 },
                netmask,
                ops: ops && udp_or_fwm,
                sched_flags: SchedFlags { flag1: f[0], flag2: f[1], flag3: f[2] },
                pe_name: pe.then(|| "sip".to_string()),
            },
            stats: Stats::default(),
            dests,
        }
    }
}

proptest! {
    /// `-Sn` output, read back line by line by the grammar, rebuilds exactly
    /// the services and destinations that were saved (the property that makes
    /// `ipvsadm-save | ipvsadm-restore` lossless, thresholds included).
    #[test]
    fn save_is_read_back_by_restore(svcs in proptest::collection::vec(service(), 0..5)) {
        // Port-0 services must be persistent; keep the ones ipvsadm accepts.
        let svcs: Vec<ServiceEntry> = svcs.into_iter().filter(|s| {
            s.spec.persistent || matches!(s.spec.key, ServiceKey::Fwmark { .. }) || s.spec.key.port() != 0
        }).collect();
        let mut out = String::new();
        let f = Format { numeric: true, rule: true, nosort: true, ..Format::default() };
        list_all(&mut out, &Info { version: Info::KERNEL_VERSION, conn_tab_size: 4096 }, &svcs, &f, &NoNames);
        let mut rebuilt: Vec<ServiceEntry> = Vec::new();
        for line in out.lines() {
            let a = argv(line);
            match parse(&a, &NoNames) {
                Ok(Action::Change(Request::AddService(spec))) => rebuilt.push(ServiceEntry {
                    spec, stats: Stats::default(), dests: Vec::new() }),
                Ok(Action::Change(Request::AddDest { service, dest })) => {
                    let s = rebuilt.iter_mut().find(|s| s.spec.key == service).unwrap();
                    s.dests.push(DestEntry { spec: dest, active_conns: 0, inact_conns: 0,
                        persist_conns: 0, stats: Stats::default() });
                }
                other => prop_assert!(false, "{line}: {other:?}"),
            }
        }
        prop_assert_eq!(rebuilt, svcs);
    }
}

#[test]
fn save_round_trip_uses_resolved_names_too() {
    let r = FilesResolver::new("10.0.0.1 vip\n10.0.0.2 rs\n", "http 80/tcp\n");
    let svc = ServiceEntry {
        spec: ServiceSpec {
            key: tcp("10.0.0.1", 80),
            scheduler: "rr".into(),
            persistent: false,
            timeout: 0,
            netmask: 0xffff_ffff,
            ops: false,
            sched_flags: SchedFlags::default(),
            pe_name: None,
        },
        stats: Stats::default(),
        dests: vec![],
    };
    let mut out = String::new();
    let f = Format {
        rule: true,
        ..Format::default()
    };
    list_all(
        &mut out,
        &Info {
            version: Info::KERNEL_VERSION,
            conn_tab_size: 4096,
        },
        std::slice::from_ref(&svc),
        &f,
        &r,
    );
    assert_eq!(out, "-A -t vip:http -s rr\n");
    assert_eq!(
        parse(&argv(out.trim_end()), &r),
        Ok(Action::Change(Request::AddService(svc.spec)))
    );
}
