//! The XDP steering program run with BPF_PROG_TEST_RUN on hand-built frames.
//!
//! Root only; these tests fail (never skip) when the program cannot be loaded or run. An
//! AF_XDP socket bound to `lo` of a namespace created here fills slot 0 of the XSKMAP, so a
//! steered frame yields XDP_REDIRECT (with an empty slot, bpf_redirect_map falls back to
//! XDP_PASS, which is tested too).

#![allow(clippy::unwrap_used)]

mod common;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::AsFd;

use common::*;
use lvs_io::steer::{action, proto};
use lvs_io::{PacketIo, SteerKey, Steering, XskConfig, XskSocket};
use lvs_sys::NetNs;
use proptest::prelude::*;

const VIP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 100);
const CLIENT: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 7);
const RIP: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 2);
const OTHER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const VIP6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x100);
const CLIENT6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 7);

fn ns_name(tag: &str) -> String {
    format!("lvsio-{}-{tag}", std::process::id())
}

/// Loads the program with the usual test services inside a fresh namespace, binds an AF_XDP
/// socket to its `lo` (queue 0) unless `no_socket`, and runs `f`.
fn with_steering<T: Send>(
    tag: &str,
    no_socket: bool,
    f: impl FnOnce(&mut Steering) -> T + Send,
) -> T {
    let ns = NetNs::create(&ns_name(tag)).unwrap();
    ns.run(|| {
        let mut s = Steering::load().unwrap();
        for k in [
            SteerKey::service(proto::TCP, IpAddr::V4(VIP), 80),
            SteerKey::service(proto::UDP, IpAddr::V4(VIP), 53),
            SteerKey::reply_source(proto::TCP, IpAddr::V4(RIP), 8080),
            SteerKey::service(proto::TCP, IpAddr::V6(VIP6), 443),
        ] {
            s.insert(k).unwrap();
        }
        let xsk = if no_socket {
            None
        } else {
            let cfg = XskConfig {
                frames: 64,
                ring_size: 32,
                ..XskConfig::default()
            };
            let x = XskSocket::bind(1, 0, cfg).unwrap();
            s.set_socket(0, x.fd().as_fd()).unwrap();
            Some(x)
        };
        let r = f(&mut s);
        drop(xsk);
        r
    })
    .unwrap()
}

fn run(s: &mut Steering, frame: &[u8]) -> u32 {
    s.test_run(frame).unwrap()
}

#[test]
fn arp_and_non_service_traffic_pass() {
    with_steering("pass", false, |s| {
        assert_eq!(
            run(s, &arp_request(CLIENT, VIP)),
            action::PASS,
            "ARP for the VIP"
        );
        // SSH to the VIP, not a service port.
        assert_eq!(run(s, &v4_frame(6, CLIENT, 40000, VIP, 22)), action::PASS);
        // Service port on another address.
        assert_eq!(run(s, &v4_frame(6, CLIENT, 40000, OTHER, 80)), action::PASS);
        // UDP service is UDP only.
        assert_eq!(run(s, &v4_frame(6, CLIENT, 40000, VIP, 53)), action::PASS);
        // ICMP echo to the VIP belongs to the kernel.
        assert_eq!(run(s, &v4_frame(1, CLIENT, 0, VIP, 0)), action::PASS);
        // Reply source port must match the real server's port.
        assert_eq!(run(s, &v4_frame(6, RIP, 22, CLIENT, 40000)), action::PASS);
        // Only an Ethernet header.
        assert_eq!(run(s, &[0u8; 14]), action::PASS);
        // The kernel refuses test frames shorter than an Ethernet header.
        assert!(s.test_run(&[0u8; 10]).is_err());
    });
}

#[test]
fn service_traffic_and_replies_redirect() {
    with_steering("redir", false, |s| {
        assert_eq!(
            run(s, &v4_frame(6, CLIENT, 40000, VIP, 80)),
            action::REDIRECT,
            "TCP SYN"
        );
        assert_eq!(
            run(s, &v4_frame(17, CLIENT, 40000, VIP, 53)),
            action::REDIRECT,
            "UDP"
        );
        assert_eq!(
            run(s, &v4_frame(6, RIP, 8080, CLIENT, 40000)),
            action::REDIRECT,
            "NAT reply"
        );
        assert_eq!(
            run(s, &v6_frame(6, CLIENT6, 40000, VIP6, 443)),
            action::REDIRECT,
            "IPv6 TCP"
        );
        assert_eq!(run(s, &v6_frame(6, CLIENT6, 40000, VIP6, 80)), action::PASS);
        // A freshly loaded program: exactly the 4 steered frames and the one passed.
        let st = s.stats().unwrap();
        assert_eq!((st.redirected, st.passed), (4, 1), "{st:?}");
    });
}

#[test]
fn vlan_tagged_frames() {
    with_steering("vlan", false, |s| {
        for vlans in [&[7u16][..], &[100, 7]] {
            let mut f = eth(0x0800, vlans);
            f.extend(ipv4(6, CLIENT, VIP, 0, &l4(6, 40000, 80)));
            assert_eq!(run(s, &f), action::REDIRECT, "vlans {vlans:?}");
            let mut f = eth(0x0800, vlans);
            f.extend(ipv4(6, CLIENT, VIP, 0, &l4(6, 40000, 22)));
            assert_eq!(run(s, &f), action::PASS, "vlans {vlans:?}");
            let mut f = eth(0x86dd, vlans);
            f.extend(ipv6(6, CLIENT6, VIP6, &l4(6, 40000, 443)));
            assert_eq!(run(s, &f), action::REDIRECT, "v6 vlans {vlans:?}");
        }
    });
}

#[test]
fn ipv6_extension_headers_and_fragments() {
    with_steering("v6ext", false, |s| {
        // Hop-by-hop (8 bytes, next = TCP) then TCP to the service.
        let mut p = vec![6, 0, 1, 4, 0, 0, 0, 0];
        p.extend(l4(6, 40000, 443));
        let mut f = eth(0x86dd, &[]);
        f.extend(ipv6(0, CLIENT6, VIP6, &p));
        assert_eq!(run(s, &f), action::REDIRECT, "hop-by-hop");
        // First fragment (offset 0, M=1) carries the ports.
        let mut p = vec![6, 0, 0, 1, 0, 0, 0, 9];
        p.extend(l4(6, 40000, 443));
        let mut f = eth(0x86dd, &[]);
        f.extend(ipv6(44, CLIENT6, VIP6, &p));
        assert_eq!(run(s, &f), action::REDIRECT, "first fragment");
        // Non-first fragment: no ports; steered only once the VIP is marked.
        let mut p = vec![6, 0, 0, 0xb8, 0, 0, 0, 9];
        p.extend([0xaa; 16]);
        let mut f = eth(0x86dd, &[]);
        f.extend(ipv6(44, CLIENT6, VIP6, &p));
        assert_eq!(run(s, &f), action::PASS, "later fragment, VIP not marked");
        s.insert(SteerKey::vip(IpAddr::V6(VIP6))).unwrap();
        assert_eq!(run(s, &f), action::REDIRECT, "later fragment, VIP marked");
    });
}

#[test]
fn ipv4_fragments_port0_and_all_vip_entries() {
    with_steering("v4frag", false, |s| {
        let mut later = eth(0x0800, &[]);
        later.extend(ipv4(6, CLIENT, VIP, 0x00b9, &[0xaa; 24]));
        assert_eq!(run(s, &later), action::PASS);
        s.insert(SteerKey::vip(IpAddr::V4(VIP))).unwrap();
        assert_eq!(run(s, &later), action::REDIRECT);

        // Port-0 service: every TCP port of OTHER, not UDP.
        s.insert(SteerKey::service(proto::TCP, IpAddr::V4(OTHER), 0))
            .unwrap();
        assert_eq!(
            run(s, &v4_frame(6, CLIENT, 1, OTHER, 9999)),
            action::REDIRECT
        );
        assert_eq!(run(s, &v4_frame(17, CLIENT, 1, OTHER, 9999)), action::PASS);

        // All traffic of an address, except ICMP echo (the kernel answers).
        let all = Ipv4Addr::new(10, 0, 0, 200);
        s.insert(SteerKey::service(proto::ANY, IpAddr::V4(all), 0))
            .unwrap();
        assert_eq!(
            run(s, &v4_frame(17, CLIENT, 1, all, 4242)),
            action::REDIRECT
        );
        assert_eq!(
            run(s, &v4_frame(132, CLIENT, 1, all, 4242)),
            action::REDIRECT
        );
        assert_eq!(run(s, &v4_frame(1, CLIENT, 0, all, 0)), action::PASS);

        // Removing an entry stops the steering.
        s.remove(&SteerKey::service(proto::TCP, IpAddr::V4(OTHER), 0))
            .unwrap();
        assert_eq!(run(s, &v4_frame(6, CLIENT, 1, OTHER, 9999)), action::PASS);
        s.remove(&SteerKey::service(proto::TCP, IpAddr::V4(OTHER), 0))
            .unwrap();
    });
}

#[test]
fn icmp_errors_follow_the_quoted_packet() {
    with_steering("icmp", false, |s| {
        // Fragmentation needed from a router about our reply VIP:80 -> CLIENT.
        let quoted = ipv4(6, VIP, CLIENT, 0x4000, &l4(6, 80, 40000));
        let mut icmp = vec![3, 4, 0, 0, 0, 0, 0x05, 0xdc];
        icmp.extend(&quoted[..28]);
        let mut f = eth(0x0800, &[]);
        f.extend(ipv4(1, Ipv4Addr::new(172, 16, 0, 1), VIP, 0, &icmp));
        assert_eq!(run(s, &f), action::REDIRECT, "frag needed about VIP:80");

        // Port unreachable from a real server about a packet we sent it (CLIENT -> RIP:8080).
        let quoted = ipv4(6, CLIENT, RIP, 0, &l4(6, 40000, 8080));
        let mut icmp = vec![3, 3, 0, 0, 0, 0, 0, 0];
        icmp.extend(&quoted[..28]);
        let mut f = eth(0x0800, &[]);
        f.extend(ipv4(1, RIP, CLIENT, 0, &icmp));
        assert_eq!(
            run(s, &f),
            action::REDIRECT,
            "unreachable from the real server"
        );

        // An error about unrelated traffic of the VIP's host (port 22) stays in the kernel.
        let quoted = ipv4(6, VIP, CLIENT, 0, &l4(6, 22, 40000));
        let mut icmp = vec![3, 4, 0, 0, 0, 0, 0x05, 0xdc];
        icmp.extend(&quoted[..28]);
        let mut f = eth(0x0800, &[]);
        f.extend(ipv4(1, Ipv4Addr::new(172, 16, 0, 1), VIP, 0, &icmp));
        assert_eq!(run(s, &f), action::PASS);

        // ICMPv6 packet too big about VIP6:443 -> CLIENT6.
        let quoted = ipv6(6, VIP6, CLIENT6, &l4(6, 443, 40000));
        let mut icmp = vec![2, 0, 0, 0, 0, 0, 0x05, 0x00];
        icmp.extend(&quoted[..48]);
        let mut f = eth(0x86dd, &[]);
        f.extend(ipv6(58, CLIENT6, VIP6, &icmp));
        assert_eq!(run(s, &f), action::REDIRECT, "ICMPv6 packet too big");

        // Neighbour solicitation for the VIP6: kernel.
        let mut ns = vec![135, 0, 0, 0, 0, 0, 0, 0];
        ns.extend(VIP6.octets());
        let mut f = eth(0x86dd, &[]);
        f.extend(ipv6(58, CLIENT6, VIP6, &ns));
        assert_eq!(run(s, &f), action::PASS, "neighbour solicitation");
    });
}

#[test]
fn fullnat_replies_to_local_addresses_and_ipv6_nat_replies() {
    with_steering("fnat", false, |s| {
        // FULLNAT: the real server answers to the director's local address, any port (9090 is
        // not a NAT reply source, so only the local-address entry can match).
        let laddr = Ipv4Addr::new(10, 1, 0, 250);
        assert_eq!(run(s, &v4_frame(6, RIP, 9090, laddr, 61000)), action::PASS);
        s.insert(SteerKey::service(proto::TCP, IpAddr::V4(laddr), 0))
            .unwrap();
        assert_eq!(
            run(s, &v4_frame(6, RIP, 9090, laddr, 61000)),
            action::REDIRECT
        );
        assert_eq!(
            run(s, &v4_frame(6, Ipv4Addr::new(10, 1, 0, 3), 22, laddr, 5)),
            action::REDIRECT
        );
        assert_eq!(
            run(s, &v4_frame(17, RIP, 9090, laddr, 61000)),
            action::PASS,
            "TCP only"
        );

        // NAT reply from an IPv6 real server.
        let rip6 = Ipv6Addr::new(0x2001, 0xdb8, 2, 0, 0, 0, 0, 2);
        assert_eq!(
            run(s, &v6_frame(17, rip6, 5353, CLIENT6, 40000)),
            action::PASS
        );
        s.insert(SteerKey::reply_source(proto::UDP, IpAddr::V6(rip6), 5353))
            .unwrap();
        assert_eq!(
            run(s, &v6_frame(17, rip6, 5353, CLIENT6, 40000)),
            action::REDIRECT
        );
        // The same address as an IPv4-mapped key must not collide with IPv4 entries.
        assert_eq!(
            run(
                s,
                &v4_frame(17, Ipv4Addr::new(32, 1, 13, 184), 5353, CLIENT, 1)
            ),
            action::PASS
        );
    });
}

#[test]
fn empty_socket_slot_falls_back_to_pass() {
    with_steering("nosock", true, |s| {
        let before = s.stats().unwrap();
        assert_eq!(run(s, &v4_frame(6, CLIENT, 40000, VIP, 80)), action::PASS);
        let after = s.stats().unwrap();
        assert_eq!(
            after.redirected,
            before.redirected + 1,
            "the program did try to redirect"
        );
    });
}

#[test]
fn arbitrary_and_truncated_frames_never_abort() {
    with_steering("prop", false, |s| {
        let good = v4_frame(6, CLIENT, 40000, VIP, 80);
        // Every truncation: the program must not fault; up to the ports it cannot match.
        for len in 14..good.len() {
            let r = run(s, &good[..len]);
            let ports_end = 14 + 20 + 4;
            if len < ports_end {
                assert_eq!(r, action::PASS, "prefix {len}");
            } else {
                assert_eq!(r, action::REDIRECT, "prefix {len}");
            }
        }
        let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(256));
        runner
            .run(&proptest::collection::vec(any::<u8>(), 14..200), |bytes| {
                let r = s.test_run(&bytes).unwrap();
                prop_assert!(r == action::PASS || r == action::REDIRECT, "got {}", r);
                Ok(())
            })
            .unwrap();
    });
}
