//! The decapsulator on a real interface: a director namespace sends tunnel packets built by
//! lvs-wire over a veth to a real-server namespace whose VIP is on `lo`; the UDP socket bound
//! on the VIP must receive the inner datagram with the client's address as source (TUN keeps
//! the client IP). Without the filter the same packets never arrive (this kernel has no ipip,
//! gre or fou driver), which is what makes the test able to fail. Needs root.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::time::Duration;

use common::*;
use lvs_io::{PacketIo, PacketSocket};
use lvs_realserver::decap::{self, Decap, DecapConfig};
use lvs_sys::NetNs;
use lvs_wire::encap::Tunnel;

const GUE_PORT: u16 = 6080;

fn ns(tag: &str) -> NetNs {
    NetNs::create(&format!("lvsrs-d-{}-{tag}", std::process::id())).unwrap()
}

struct Lab {
    dir: NetNs,
    rs: NetNs,
    rs_mac: [u8; 6],
    dir_mac: [u8; 6],
}

fn mac_of(n: &NetNs, dev: &str) -> [u8; 6] {
    n.run(|| {
        let mut rt = lvs_sys::rtnl::Rtnl::open().unwrap();
        let l = rt
            .links()
            .unwrap()
            .into_iter()
            .find(|l| l.name == dev)
            .unwrap();
        <[u8; 6]>::try_from(l.mac.as_slice()).unwrap()
    })
    .unwrap()
}

fn lab(tag: &str) -> Lab {
    assert!(is_root(), "namespace tests need root");
    let dir = ns(&format!("{tag}-dir"));
    let rs = ns(&format!("{tag}-rs"));
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
    rs.ip(&["link", "set", "lo", "up"]).unwrap();
    rs.ip(&["addr", "add", "10.9.9.9/32", "dev", "lo"]).unwrap();
    rs.ip(&["addr", "add", "fd99::9/128", "dev", "lo"]).unwrap();
    // The way back to clients is through the director's side: strict rp_filter passes.
    rs.ip(&["route", "add", "default", "via", "10.0.0.1"])
        .unwrap();
    rs.ip(&["-6", "route", "add", "default", "via", "fd00::1"])
        .unwrap();
    rs.run(|| {
        lvs_sys::sysctl::write("net.ipv4.conf.all.rp_filter", "1").unwrap();
        lvs_sys::sysctl::write("net.ipv4.conf.r0.rp_filter", "1").unwrap();
    })
    .unwrap();
    let rs_mac = mac_of(&rs, "r0");
    let dir_mac = mac_of(&dir, "d0");
    Lab {
        dir,
        rs,
        rs_mac,
        dir_mac,
    }
}

/// Sends each tunnelled packet from the director side and returns, per packet, what the UDP
/// socket bound on the VIP received (payload and source), if anything.
fn deliver(l: &Lab, packets: &[(Vec<u8>, IpAddr)]) -> Vec<Option<(Vec<u8>, SocketAddr)>> {
    let mut out = Vec::new();
    for (p, vip) in packets {
        let sock =
            l.rs.run(|| UdpSocket::bind(SocketAddr::new(*vip, 9000)).unwrap())
                .unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(400)))
            .unwrap();
        let f = frame(l.rs_mac, l.dir_mac, p);
        l.dir
            .run(|| {
                let idx = lvs_io::ifindex("d0").unwrap();
                let mut s = PacketSocket::bind(idx).unwrap();
                assert_eq!(s.send_batch(&[&f[..]]).unwrap(), 1);
            })
            .unwrap();
        let mut buf = [0u8; 2048];
        out.push(
            sock.recv_from(&mut buf)
                .ok()
                .map(|(n, from)| (buf[..n].to_vec(), from)),
        );
    }
    out
}

#[test]
fn tunnelled_datagrams_reach_the_vip_with_the_client_address() {
    let l = lab("decap");
    let client4 = v4("192.0.2.7");
    let client6 = v6("2001:db8::7");
    let (vip4, vip6) = (v4("10.9.9.9"), v6("fd99::9"));
    let (d4, d6, r4, r6) = (v4("10.0.0.1"), v6("fd00::1"), v4("10.0.0.2"), v6("fd00::2"));
    let cases: Vec<(&str, Vec<u8>, IpAddr, IpAddr)> = vec![
        (
            "ipip 4in4",
            encapsulate(
                &inner_udp(client4, vip4, 5001, 9000, b"ipip4in4"),
                d4,
                r4,
                Tunnel::Ipip,
            ),
            vip4,
            client4,
        ),
        (
            "ipip 6in6",
            encapsulate(
                &inner_udp(client6, vip6, 5002, 9000, b"ipip6in6"),
                d6,
                r6,
                Tunnel::Ipip,
            ),
            vip6,
            client6,
        ),
        (
            "ipip 6in4",
            encapsulate(
                &inner_udp(client6, vip6, 5003, 9000, b"ipip6in4"),
                d4,
                r4,
                Tunnel::Ipip,
            ),
            vip6,
            client6,
        ),
        (
            "ipip 4in6",
            encapsulate(
                &inner_udp(client4, vip4, 5004, 9000, b"ipip4in6"),
                d6,
                r6,
                Tunnel::Ipip,
            ),
            vip4,
            client4,
        ),
        (
            "gue 4in4",
            encapsulate(
                &inner_udp(client4, vip4, 5005, 9000, b"gue4in4"),
                d4,
                r4,
                gue(GUE_PORT),
            ),
            vip4,
            client4,
        ),
        (
            "gue 6in6",
            encapsulate(
                &inner_udp(client6, vip6, 5006, 9000, b"gue6in6"),
                d6,
                r6,
                gue(GUE_PORT),
            ),
            vip6,
            client6,
        ),
        (
            "gre 4in4",
            encapsulate(
                &inner_udp(client4, vip4, 5007, 9000, b"gre4in4"),
                d4,
                r4,
                Tunnel::Gre { csum: false },
            ),
            vip4,
            client4,
        ),
        (
            "gre csum 6in4",
            encapsulate(
                &inner_udp(client6, vip6, 5008, 9000, b"gre6in4"),
                d4,
                r4,
                Tunnel::Gre { csum: true },
            ),
            vip6,
            client6,
        ),
    ];
    let packets: Vec<(Vec<u8>, IpAddr)> = cases.iter().map(|c| (c.1.clone(), c.2)).collect();

    // Without decapsulation nothing arrives.
    let before = deliver(&l, &packets[..2]);
    assert!(
        before.iter().all(Option::is_none),
        "delivered without decap: {before:?}"
    );

    l.rs.run(|| {
        let mut d = Decap::load(&DecapConfig {
            gue_port: Some(GUE_PORT),
            local: vec![r4, r6],
            force_compat: false,
        })
        .unwrap();
        d.attach("r0").unwrap();
        assert!(decap::is_attached("r0").unwrap());
    })
    .unwrap();
    let got = deliver(&l, &packets);
    for ((name, _, _, client), g) in cases.iter().zip(&got) {
        let (payload, from) = g
            .as_ref()
            .unwrap_or_else(|| panic!("{name}: nothing received"));
        let want = name.split(' ').next().unwrap();
        assert!(
            String::from_utf8_lossy(payload).starts_with(want),
            "{name}: payload {payload:?}"
        );
        assert_eq!(from.ip(), *client, "{name}: client address preserved");
    }

    // Detached: back to nothing.
    l.rs.run(|| {
        assert!(decap::detach("r0").unwrap());
        assert!(!decap::is_attached("r0").unwrap());
        assert!(!decap::detach("r0").unwrap());
    })
    .unwrap();
    let after = deliver(&l, &packets[..1]);
    assert!(after[0].is_none());
}
