//! `setup --mode tun` as lvsadm runs it (snapshot → plan_setup → apply, inside the real
//! server's namespace) makes tunnelled traffic from the director reach a UDP socket on the
//! VIP, for IPIP, GUE on the given port and GRE, over IPv4 and IPv6 outer headers; the
//! diagnosis of the host is then clean; teardown (plan_teardown → apply) stops delivery and
//! restores the sysctls. Needs root.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::time::Duration;

use common::*;
use lvs_io::{PacketIo, PacketSocket};
use lvs_realserver::Mode;
use lvs_realserver::diagnose::{self, RealServerSpec};
use lvs_realserver::plan::{self, SetupSpec};
use lvs_realserver::snapshot::Snapshot;
use lvs_sys::NetNs;
use lvs_wire::encap::Tunnel;

fn mac_of(n: &NetNs, dev: &str) -> [u8; 6] {
    n.run(|| {
        let s = Snapshot::read().unwrap();
        <[u8; 6]>::try_from(s.link(dev).unwrap().mac.as_slice()).unwrap()
    })
    .unwrap()
}

#[test]
fn tun_setup_delivers_and_teardown_stops() {
    assert!(is_root(), "namespace tests need root");
    let pid = std::process::id();
    let dir = NetNs::create(&format!("lvsrs-d-{pid}-setup-dir")).unwrap();
    let rs = NetNs::create(&format!("lvsrs-d-{pid}-setup-rs")).unwrap();
    dir.ip(&[
        "link",
        "add",
        "d0",
        "type",
        "veth",
        "peer",
        "name",
        "r0",
        "netns",
        rs.name(),
    ])
    .unwrap();
    dir.ip(&["addr", "add", "10.0.0.1/24", "dev", "d0"])
        .unwrap();
    dir.ip(&["addr", "add", "fd00::1/64", "dev", "d0", "nodad"])
        .unwrap();
    dir.ip(&["link", "set", "d0", "up"]).unwrap();
    rs.ip(&["addr", "add", "10.0.0.2/24", "dev", "r0"]).unwrap();
    rs.ip(&["addr", "add", "fd00::2/64", "dev", "r0", "nodad"])
        .unwrap();
    rs.ip(&["link", "set", "r0", "up"]).unwrap();
    rs.ip(&["route", "add", "default", "via", "10.0.0.1"])
        .unwrap();
    rs.ip(&["-6", "route", "add", "default", "via", "fd00::1"])
        .unwrap();
    // A strict host (rp_filter 1) with a second interface r1 holding 192.168.5.0/24: a
    // client from that network arriving tunnelled on r0 passes only once setup has made
    // rp_filter loose on r0.
    rs.ip(&["link", "add", "r1", "type", "veth", "peer", "name", "r1p"])
        .unwrap();
    rs.ip(&["addr", "add", "192.168.5.2/24", "dev", "r1"])
        .unwrap();
    rs.ip(&["link", "set", "r1", "up"]).unwrap();
    rs.ip(&["link", "set", "r1p", "up"]).unwrap();
    rs.run(|| {
        lvs_sys::sysctl::write("net.ipv4.conf.all.rp_filter", "1").unwrap();
        lvs_sys::sysctl::write("net.ipv4.conf.r0.rp_filter", "1").unwrap();
    })
    .unwrap();
    let (rs_mac, dir_mac) = (mac_of(&rs, "r0"), mac_of(&dir, "d0"));

    let vips = vec![v4("10.9.9.9"), v6("fd99::9")];
    let spec = SetupSpec {
        mode: Mode::Tun,
        vips: vips.clone(),
        dev: Some("r0".into()),
        gateway: None,
        gue_port: Some(6080),
    };
    let applied = rs
        .run(|| {
            let s = Snapshot::read().unwrap();
            let p = plan::plan_setup(&s, &spec).unwrap();
            let (done, err) = plan::apply(&p.changes);
            assert!(err.is_none(), "{err:?}");
            assert_eq!(done, p.changes);
            // Clean afterwards, and nothing more to do.
            let s = Snapshot::read().unwrap();
            let mut rspec = RealServerSpec::new(Mode::Tun, vips.clone());
            rspec.dev = Some("r0".into());
            assert_eq!(diagnose::real_server(&s, &rspec), vec![]);
            assert!(plan::plan_setup(&s, &spec).unwrap().changes.is_empty());
            done
        })
        .unwrap();

    // Clients: one routed back via r0, one (192.168.5.0/24) whose route is r1 — only loose
    // rp_filter (set by setup) accepts the latter on r0.
    let cases: Vec<(Vec<u8>, IpAddr, IpAddr)> = vec![
        (
            inner_udp(v4("192.0.2.7"), v4("10.9.9.9"), 5001, 9000, b"ipip"),
            v4("10.0.0.2"),
            v4("192.0.2.7"),
        ),
        (
            inner_udp(
                v4("192.168.5.9"),
                v4("10.9.9.9"),
                5002,
                9000,
                b"gue-offside",
            ),
            v4("10.0.0.2"),
            v4("192.168.5.9"),
        ),
        (
            inner_udp(v6("2001:db8::7"), v6("fd99::9"), 5003, 9000, b"gre6"),
            v6("fd00::2"),
            v6("2001:db8::7"),
        ),
    ];
    let tunnels = [Tunnel::Ipip, gue(6080), Tunnel::Gre { csum: true }];
    let send_all = |expect: bool| {
        for ((inner, outer_dst, client), t) in cases.iter().zip(tunnels) {
            let vip = if client.is_ipv4() { vips[0] } else { vips[1] };
            let sock = rs
                .run(|| UdpSocket::bind(SocketAddr::new(vip, 9000)).unwrap())
                .unwrap();
            sock.set_read_timeout(Some(Duration::from_millis(400)))
                .unwrap();
            let src = if outer_dst.is_ipv4() {
                v4("10.0.0.1")
            } else {
                v6("fd00::1")
            };
            let f = frame(rs_mac, dir_mac, &encapsulate(inner, src, *outer_dst, t));
            dir.run(|| {
                let mut s = PacketSocket::bind(lvs_io::ifindex("d0").unwrap()).unwrap();
                assert_eq!(s.send_batch(&[&f[..]]).unwrap(), 1);
            })
            .unwrap();
            let mut buf = [0u8; 1500];
            match sock.recv_from(&mut buf) {
                Ok((n, from)) => {
                    assert!(expect, "delivered after teardown: {client}");
                    assert_eq!(from.ip(), *client);
                    assert_eq!(&buf[..n], &inner[inner.len() - n..]);
                }
                Err(e) => assert!(!expect, "{client} via {t:?}: nothing received ({e})"),
            }
        }
    };
    send_all(true);

    rs.run(|| {
        let s = Snapshot::read().unwrap();
        let t = plan::plan_teardown(&s, &applied);
        let (_, err) = plan::apply(&t.changes);
        assert!(err.is_none(), "{err:?}");
        assert_eq!(
            lvs_sys::sysctl::read("net.ipv4.conf.r0.rp_filter").unwrap(),
            "1"
        );
        assert_eq!(
            lvs_sys::sysctl::read("net.ipv4.conf.all.arp_ignore").unwrap(),
            "0"
        );
    })
    .unwrap();
    // The VIPs are gone with the teardown; put them back by hand: without the filter the
    // tunnelled packets still do not arrive.
    rs.ip(&["addr", "add", "10.9.9.9/32", "dev", "lo"]).unwrap();
    rs.ip(&["addr", "add", "fd99::9/128", "dev", "lo"]).unwrap();
    send_all(false);
}
