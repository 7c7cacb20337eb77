//! Privileged end-to-end test of the I/O layer: two namespaces created here joined by a veth
//! pair; the steering program on the director end, an AF_XDP socket (or the AF_PACKET
//! fallback) bounces UDP datagrams sent to a "VIP" port back to the client, while ARP and
//! other traffic keep reaching the kernel (XDP_PASS).
//!
//! Bounded: 8 datagrams per run, every wait capped (a few seconds at most). The namespaces are
//! deleted by name by their guards, also when a test fails. Nothing happens in the root
//! namespace.

#![allow(clippy::unwrap_used)]

use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::os::fd::AsFd;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use lvs_io::steer::proto;
use lvs_io::{Action, PacketIo, PacketSocket, SteerKey, Steering, XskConfig, XskSocket};
use lvs_sys::NetNs;

const DIR_IP: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 1);
const CLI_IP: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 2);
const VPORT: u16 = 9999;
const KERNEL_PORT: u16 = 9998;
const COUNT: usize = 8;

struct Lab {
    cli: NetNs,
    dir: NetNs,
}

fn lab(tag: &str) -> Lab {
    let pid = std::process::id();
    let cli = NetNs::create(&format!("lvsio-{pid}-{tag}c")).unwrap();
    let dir = NetNs::create(&format!("lvsio-{pid}-{tag}d")).unwrap();
    // Created directly inside the client namespace, peer moved straight into the director's.
    cli.ip(&[
        "link",
        "add",
        "vc",
        "type",
        "veth",
        "peer",
        "name",
        "vd",
        "netns",
        dir.name(),
    ])
    .unwrap();
    cli.ip(&["addr", "add", "10.77.0.2/24", "dev", "vc"])
        .unwrap();
    cli.ip(&["link", "set", "vc", "up"]).unwrap();
    cli.ip(&["link", "set", "lo", "up"]).unwrap();
    dir.ip(&["addr", "add", "10.77.0.1/24", "dev", "vd"])
        .unwrap();
    dir.ip(&["link", "set", "vd", "up"]).unwrap();
    dir.ip(&["link", "set", "lo", "up"]).unwrap();
    Lab { cli, dir }
}

/// Turns a UDP/IPv4 datagram to VPORT around in place (MACs, addresses, ports swapped:
/// the checksums stay valid). Anything else is dropped.
fn bounce(buf: &mut [u8], len: usize) -> Action {
    let f = &mut buf[..len];
    if len < 14 + 20 + 8 || f[12..14] != [0x08, 0x00] || f[14] != 0x45 || f[23] != 17 {
        return Action::Drop;
    }
    if u16::from_be_bytes([f[36], f[37]]) != VPORT {
        return Action::Drop;
    }
    for i in 0..6 {
        f.swap(i, 6 + i);
    }
    for i in 0..4 {
        f.swap(26 + i, 30 + i);
    }
    for i in 0..2 {
        f.swap(34 + i, 36 + i);
    }
    // The sender's veth leaves UDP checksums to "offload" (CHECKSUM_PARTIAL): on the wire the
    // field holds only the pseudo-header sum, which the client would reject once the frame
    // comes back as a new one. Zero means "no checksum" for UDP over IPv4.
    f[40] = 0;
    f[41] = 0;
    Action::Tx(len)
}

/// Runs the director loop on `io` until `COUNT` datagrams were bounced or 5 s passed.
fn serve<P: PacketIo>(io: &mut P, ready: mpsc::Sender<()>) -> usize {
    ready.send(()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut bounced = 0;
    while bounced < COUNT && Instant::now() < deadline {
        if !io.poll(100).unwrap() {
            continue;
        }
        io.recv_batch(64, |buf, len| {
            let a = bounce(buf, len);
            if a != Action::Drop {
                bounced += 1;
            }
            a
        })
        .unwrap();
    }
    bounced
}

/// Client: one datagram to the kernel port, then COUNT to the VIP port; returns the payloads
/// echoed back by the director.
fn client() -> Vec<Vec<u8>> {
    let s = UdpSocket::bind(SocketAddrV4::new(CLI_IP, 0)).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    s.send_to(b"kernel", SocketAddrV4::new(DIR_IP, KERNEL_PORT))
        .unwrap();
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(4);
    let mut next = 0;
    let mut buf = [0u8; 256];
    while got.len() < COUNT && Instant::now() < deadline {
        if next < COUNT {
            let msg = format!("lvsio-{next}");
            s.send_to(msg.as_bytes(), SocketAddrV4::new(DIR_IP, VPORT))
                .unwrap();
            next += 1;
        }
        if let Ok((n, from)) = s.recv_from(&mut buf) {
            assert_eq!(from, SocketAddrV4::new(DIR_IP, VPORT).into());
            got.push(buf[..n].to_vec());
        }
    }
    got
}

/// A kernel UDP socket on the director: what it receives was passed by XDP.
fn kernel_listener() -> UdpSocket {
    let k = UdpSocket::bind(SocketAddrV4::new(DIR_IP, KERNEL_PORT)).unwrap();
    k.set_read_timeout(Some(Duration::from_secs(4))).unwrap();
    k
}

fn expected() -> Vec<Vec<u8>> {
    (0..COUNT)
        .map(|i| format!("lvsio-{i}").into_bytes())
        .collect()
}

fn neigh_of_director(cli: &NetNs) -> String {
    String::from_utf8(
        cli.ip(&["neigh", "show", "10.77.0.1", "dev", "vc"])
            .unwrap()
            .stdout,
    )
    .unwrap()
}

#[test]
fn af_xdp_bounces_vip_traffic_while_kernel_keeps_arp_and_the_rest() {
    let lab = lab("xsk");
    let (ready_tx, ready_rx) = mpsc::channel();
    let (dir, cli) = (&lab.dir, &lab.cli);
    std::thread::scope(|sc| {
        let director = sc.spawn(move || {
            dir.run(move || {
                let ifindex = lvs_io::ifindex("vd").unwrap();
                let mut steer = Steering::load().unwrap();
                steer
                    .insert(SteerKey::service(proto::UDP, DIR_IP.into(), VPORT))
                    .unwrap();
                steer.attach(ifindex, false).unwrap();
                let cfg = XskConfig {
                    frames: 256,
                    ring_size: 64,
                    ..XskConfig::default()
                };
                let mut xsk = XskSocket::bind(ifindex, 0, cfg).unwrap();
                steer.set_socket(0, xsk.fd().as_fd()).unwrap();
                let kernel = kernel_listener();
                let bounced = serve(&mut xsk, ready_tx);
                let mut kb = [0u8; 64];
                let kernel_got = kernel.recv(&mut kb).map(|n| kb[..n].to_vec());
                (
                    bounced,
                    xsk.counters(),
                    steer.stats().unwrap(),
                    kernel_got.ok(),
                )
            })
            .unwrap()
        });
        ready_rx.recv_timeout(Duration::from_secs(10)).unwrap();
        let got = cli.run(client).unwrap();
        let (bounced, counters, stats, kernel_got) = director.join().unwrap();
        let mut got_sorted = got.clone();
        got_sorted.sort();
        let mut want = expected();
        want.sort();
        assert_eq!(got_sorted, want, "echoes through AF_XDP");
        assert_eq!(bounced, COUNT);
        assert_eq!(
            counters.rx, COUNT as u64,
            "only VIP traffic reached the socket"
        );
        assert_eq!(counters.tx, COUNT as u64);
        assert_eq!(stats.redirected, COUNT as u64, "{stats:?}");
        assert!(
            stats.passed >= 2,
            "ARP request and the kernel datagram passed: {stats:?}"
        );
        assert_eq!(
            kernel_got.as_deref(),
            Some(&b"kernel"[..]),
            "non-VIP UDP reached the kernel"
        );
        let neigh = neigh_of_director(cli);
        assert!(
            neigh.contains("lladdr"),
            "ARP resolved by the director's kernel: {neigh}"
        );
    });
}

#[test]
fn af_packet_fallback_bounces_vip_traffic() {
    let lab = lab("pkt");
    let (ready_tx, ready_rx) = mpsc::channel();
    let (dir, cli) = (&lab.dir, &lab.cli);
    std::thread::scope(|sc| {
        let director = sc.spawn(move || {
            dir.run(move || {
                let ifindex = lvs_io::ifindex("vd").unwrap();
                let mut io = PacketSocket::bind(ifindex).unwrap();
                let kernel = kernel_listener();
                let bounced = serve(&mut io, ready_tx);
                let mut kb = [0u8; 64];
                let kernel_got = kernel.recv(&mut kb).map(|n| kb[..n].to_vec());
                (bounced, kernel_got.ok())
            })
            .unwrap()
        });
        ready_rx.recv_timeout(Duration::from_secs(10)).unwrap();
        let got = cli.run(client).unwrap();
        let (bounced, kernel_got) = director.join().unwrap();
        let mut got_sorted = got.clone();
        got_sorted.sort();
        let mut want = expected();
        want.sort();
        assert_eq!(got_sorted, want, "echoes through AF_PACKET");
        assert_eq!(bounced, COUNT);
        assert_eq!(kernel_got.as_deref(), Some(&b"kernel"[..]));
    });
}
