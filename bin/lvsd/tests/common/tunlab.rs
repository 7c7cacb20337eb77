//! The routed lab of the TUN, FULLNAT, IPv6 and hashing end-to-end tests
//! (`e2e_tun.rs`, `e2e_fullnat.rs`, `e2e_v6.rs`, `e2e_hashfallback.rs`):
//! real servers in another subnet behind a router namespace, dual stack.
//!
//! ```text
//!  cli c0 10.10.0.2 fd00:10::2 (+ extra /32s)
//!  dir d0 10.10.0.1 fd00:10::1, VIP 10.10.0.100 fd00:10::100,
//!         FULLNAT laddrs 10.10.0.51 10.10.0.52 fd00:10::51
//!  router e0 10.10.0.254 fd00:10::254
//!        └──────────── sw: br0 (10.10.0.0/24, fd00:10::/64) ───────────┘
//!  router e1 10.30.0.254 fd00:30::254      dir d1 fd00:31::1 (IPv6 DR only)
//!        ┌──────────── sw: br1 (10.30.0.0/24, fd00:30::/64, fd00:31::/64) ┐
//!  rs1 r0 10.30.0.11 fd00:30::11 fd00:31::11   rs2 r0 10.30.0.12 fd00:30::12 fd00:31::12
//!  (default via 10.30.0.254 / fd00:30::254: the router, never the director)
//! ```
//!
//! The director reaches `10.30.0.0/24` and `fd00:30::/64` through the
//! router (so tunnels and FULLNAT cross a routed hop); only the IPv6 DR test
//! uses the on-link `fd00:31::/64` (DR needs the real servers on the
//! director's segment). The router forwards with `rp_filter` 0: the real
//! servers' direct replies carry the VIP as source and arrive on `e1`.
//! Namespaces `lvsd-e2e-PID-d-TAG-*`, deleted by name by their guards.
//!
//! Also here: the real `lvsadm realserver setup` run inside a real
//! server's namespace, a TCP server for any address that reads a request
//! body and answers with its name and the body's length, its client, and
//! readers of `/proc/net/snmp` and `ip route get`.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lvs_sys::NetNs;

use super::Scratch;
use super::lab::{netns, sh, sysctl, veth};

pub const VIP: Ipv4Addr = Ipv4Addr::new(10, 10, 0, 100);
pub const VIP6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x10, 0, 0, 0, 0, 0, 0x100);
pub const CLIENT: Ipv4Addr = Ipv4Addr::new(10, 10, 0, 2);
pub const CLIENT6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x10, 0, 0, 0, 0, 0, 2);
pub const RIPS: [Ipv4Addr; 2] = [Ipv4Addr::new(10, 30, 0, 11), Ipv4Addr::new(10, 30, 0, 12)];
pub const RIPS6: [Ipv6Addr; 2] = [
    Ipv6Addr::new(0xfd00, 0x30, 0, 0, 0, 0, 0, 0x11),
    Ipv6Addr::new(0xfd00, 0x30, 0, 0, 0, 0, 0, 0x12),
];
/// The real servers' addresses on the director's own segment (IPv6 DR).
pub const DR_RIPS6: [Ipv6Addr; 2] = [
    Ipv6Addr::new(0xfd00, 0x31, 0, 0, 0, 0, 0, 0x11),
    Ipv6Addr::new(0xfd00, 0x31, 0, 0, 0, 0, 0, 0x12),
];
/// The director's FULLNAT local addresses (on `d0`, reached by the router).
pub const LADDRS: [Ipv4Addr; 2] = [Ipv4Addr::new(10, 10, 0, 51), Ipv4Addr::new(10, 10, 0, 52)];
/// The director's IPv6 FULLNAT local address (on `d0`).
pub const LADDR6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x10, 0, 0, 0, 0, 0, 0x51);
/// The GUE port of the tunnels (director `--tun-port`, real server `--gue-port`).
pub const GUE_PORT: u16 = 6080;

pub struct TunLab {
    pub cli: NetNs,
    pub dir: NetNs,
    pub router: NetNs,
    pub sw: NetNs,
    pub rs: [NetNs; 2],
}

/// Builds the lab in namespaces tagged `d-TAG-*`; `extra` are more client
/// addresses (`/32` on `c0`, inside `10.10.0.0/24` so that the router
/// reaches them on `br0`).
pub fn tun_lab(tag: &str, extra: &[Ipv4Addr]) -> TunLab {
    let n = |role: &str| netns(&format!("d-{tag}-{role}"));
    let lab = TunLab {
        cli: n("cli"),
        dir: n("dir"),
        router: n("rt"),
        sw: n("sw"),
        rs: [n("rs1"), n("rs2")],
    };
    let TunLab {
        cli,
        dir,
        router,
        sw,
        rs,
    } = &lab;
    sh(sw, &["link", "add", "br0", "type", "bridge"]);
    sh(sw, &["link", "add", "br1", "type", "bridge"]);
    veth(cli, "c0", sw, "s0");
    veth(dir, "d0", sw, "s1");
    veth(router, "e0", sw, "s2");
    veth(router, "e1", sw, "t0");
    veth(&rs[0], "r0", sw, "t1");
    veth(&rs[1], "r0", sw, "t2");
    veth(dir, "d1", sw, "t3");
    for (p, br) in [
        ("s0", "br0"),
        ("s1", "br0"),
        ("s2", "br0"),
        ("t0", "br1"),
        ("t1", "br1"),
        ("t2", "br1"),
        ("t3", "br1"),
    ] {
        // No IPv6 on the bridge ports themselves (no DAD, no router solicitations).
        sysctl(sw, &format!("net.ipv6.conf.{p}.disable_ipv6"), "1");
        sh(sw, &["link", "set", p, "master", br, "up"]);
    }
    sh(sw, &["link", "set", "br0", "up"]);
    sh(sw, &["link", "set", "br1", "up"]);

    let add = |ns: &NetNs, dev: &str, addrs: &[&str]| {
        for a in addrs {
            let mut argv = vec!["addr", "add", a, "dev", dev];
            if a.contains(':') {
                argv.push("nodad");
            }
            sh(ns, &argv);
        }
        sh(ns, &["link", "set", dev, "up"]);
    };
    add(cli, "c0", &["10.10.0.2/24", "fd00:10::2/64"]);
    for a in extra {
        sh(cli, &["addr", "add", &format!("{a}/32"), "dev", "c0"]);
    }
    add(
        dir,
        "d0",
        &[
            "10.10.0.1/24",
            "10.10.0.100/24",
            "10.10.0.51/24",
            "10.10.0.52/24",
            "fd00:10::1/64",
            "fd00:10::100/64",
            "fd00:10::51/64",
        ],
    );
    add(dir, "d1", &["fd00:31::1/64"]);
    sh(dir, &["route", "add", "10.30.0.0/24", "via", "10.10.0.254"]);
    sh(
        dir,
        &["route", "add", "fd00:30::/64", "via", "fd00:10::254"],
    );

    sysctl(router, "net.ipv4.ip_forward", "1");
    sysctl(router, "net.ipv6.conf.all.forwarding", "1");
    for iface in ["all", "default", "e0", "e1"] {
        sysctl(router, &format!("net.ipv4.conf.{iface}.rp_filter"), "0");
    }
    add(router, "e0", &["10.10.0.254/24", "fd00:10::254/64"]);
    add(router, "e1", &["10.30.0.254/24", "fd00:30::254/64"]);

    for (i, r) in rs.iter().enumerate() {
        let (a4, a6, d6) = (RIPS[i], RIPS6[i], DR_RIPS6[i]);
        add(
            r,
            "r0",
            &[
                &format!("{a4}/24"),
                &format!("{a6}/64"),
                &format!("{d6}/64"),
            ],
        );
        sh(r, &["route", "add", "default", "via", "10.30.0.254"]);
        sh(r, &["-6", "route", "add", "default", "via", "fd00:30::254"]);
    }
    for ns in [cli, dir, router, sw, &rs[0], &rs[1]] {
        sh(ns, &["link", "set", "lo", "up"]);
    }
    lab
}

/// `ip netns exec NS ARGV`: its standard output (the command must succeed).
pub fn exec(ns: &NetNs, argv: &[&str]) -> String {
    let out = Command::new("ip")
        .args(["netns", "exec", ns.name()])
        .args(argv)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{argv:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The real `lvsadm realserver setup ARGS --state <scratch>/rs-NS.json`
/// inside `ns`: what it printed.
pub fn realserver_setup(scratch: &Scratch, ns: &NetNs, args: &[&str]) -> String {
    let state = scratch.dir.join(format!("rs-{}.json", ns.name()));
    let lvsadm = scratch.dir.join("lvsadm");
    let mut argv = vec![lvsadm.to_str().unwrap(), "realserver", "setup"];
    argv.extend_from_slice(args);
    argv.extend_from_slice(&["--state", state.to_str().unwrap()]);
    exec(ns, &argv)
}

/// A TCP server on each of `addrs` (port 80) in a real server's namespace:
/// reads a request (`Content-Length` body, if any) and answers `NAME LEN`
/// (the body's length), then closes. Records the peers; one thread per
/// connection. Stopped on drop.
pub struct EchoServer {
    stop: Arc<AtomicBool>,
    pub peers: Arc<Mutex<Vec<SocketAddr>>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl EchoServer {
    pub fn start(ns: &NetNs, addrs: &[SocketAddr], name: &'static str) -> EchoServer {
        let stop = Arc::new(AtomicBool::new(false));
        let peers = Arc::new(Mutex::new(Vec::new()));
        let mut threads = Vec::new();
        for &addr in addrs {
            let listener = ns.run(move || TcpListener::bind(addr)).unwrap().unwrap();
            listener.set_nonblocking(true).unwrap();
            let (stop2, peers2) = (stop.clone(), peers.clone());
            threads.push(std::thread::spawn(move || {
                let deadline = Instant::now() + Duration::from_secs(120);
                let mut conns = Vec::new();
                while !stop2.load(Ordering::Relaxed) && Instant::now() < deadline {
                    match listener.accept() {
                        Ok((s, peer)) => {
                            peers2.lock().unwrap().push(peer);
                            conns.push(std::thread::spawn(move || serve(s, name)));
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(2)),
                    }
                }
                for c in conns {
                    let _ = c.join();
                }
            }));
        }
        EchoServer {
            stop,
            peers,
            threads,
        }
    }

    pub fn seen(&self) -> Vec<SocketAddr> {
        self.peers.lock().unwrap().clone()
    }
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn serve(mut s: TcpStream, name: &str) {
    s.set_nonblocking(false).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut req = Vec::new();
    let mut buf = [0u8; 16384];
    let head_end = loop {
        if let Some(i) = req.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => req.extend_from_slice(&buf[..n]),
        }
    };
    let head = String::from_utf8_lossy(&req[..head_end]).to_ascii_lowercase();
    let want: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let mut got = req.len() - head_end;
    while got < want {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n,
        }
    }
    let body = format!("{name} {got}");
    let resp = format!(
        "HTTP/1.0 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = s.write_all(resp.as_bytes());
}

/// One request to `dst` with a body of `len` bytes, from the calling
/// thread's namespace (source `src` when given): the answer's body
/// (`NAME LEN`), or the error.
pub fn request(src: Option<IpAddr>, dst: SocketAddr, len: usize) -> Result<String, String> {
    let mut s = connect(src, dst)?;
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
    let head = format!(
        "POST / HTTP/1.0\r\nHost: {}\r\nContent-Length: {len}\r\n\r\n",
        dst.ip()
    );
    s.write_all(head.as_bytes())
        .map_err(|e| format!("write: {e}"))?;
    let chunk = vec![b'x'; 8192];
    let mut left = len;
    while left > 0 {
        let n = left.min(chunk.len());
        s.write_all(&chunk[..n])
            .map_err(|e| format!("write body: {e}"))?;
        left -= n;
    }
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).map_err(|e| format!("read: {e}"))?;
    let text = String::from_utf8_lossy(&resp).into_owned();
    match text.split_once("\r\n\r\n") {
        Some((_, body)) => Ok(body.to_string()),
        None => Err(format!("no body in {text:?}")),
    }
}

/// A TCP connection from `src` (any when `None`) to `dst`, bounded by 5 s.
pub fn connect(src: Option<IpAddr>, dst: SocketAddr) -> Result<TcpStream, String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .map_err(|e| e.to_string())?;
    let stream = rt.block_on(async {
        let sock = match dst {
            SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
            SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
        };
        if let Some(a) = src {
            sock.bind(SocketAddr::new(a, 0))?;
        }
        match tokio::time::timeout(Duration::from_secs(5), sock.connect(dst)).await {
            Ok(r) => r,
            Err(_) => Err(std::io::ErrorKind::TimedOut.into()),
        }
    });
    let stream = stream.map_err(|e| format!("connect: {e}"))?;
    let _guard = rt.enter();
    let std = stream.into_std().map_err(|e| e.to_string())?;
    std.set_nonblocking(false).map_err(|e| e.to_string())?;
    Ok(std)
}

/// A counter of `/proc/net/snmp` (`Icmp: InDestUnreachs`, ...) in `ns`.
pub fn snmp(ns: &NetNs, group: &str, name: &str) -> u64 {
    let text = exec(ns, &["cat", "/proc/net/snmp"]);
    let prefix = format!("{group}:");
    let mut lines = text.lines().filter(|l| l.starts_with(&prefix));
    let (names, values) = (lines.next().unwrap(), lines.next().unwrap());
    let i = names.split_whitespace().position(|n| n == name).unwrap();
    values.split_whitespace().nth(i).unwrap().parse().unwrap()
}

/// The `mtu N` of `ip route get DST` in `ns` (a cached path MTU), if any.
pub fn route_mtu(ns: &NetNs, dst: IpAddr) -> Option<u32> {
    let text = exec(ns, &["ip", "route", "get", &dst.to_string()]);
    let f: Vec<&str> = text.split_whitespace().collect();
    let i = f.iter().position(|w| *w == "mtu")?;
    f.get(i + 1)?.parse().ok()
}

/// A third real server `rs3` (tag `d-TAG-rs3`) on `br1` at `ip`/24, default
/// route via the router, `lo` up.
pub fn extra_rs(lab: &TunLab, tag: &str, ip: Ipv4Addr) -> NetNs {
    let r = netns(&format!("d-{tag}-rs3"));
    veth(&r, "r0", &lab.sw, "t4");
    sysctl(&lab.sw, "net.ipv6.conf.t4.disable_ipv6", "1");
    sh(&lab.sw, &["link", "set", "t4", "master", "br1", "up"]);
    sh(&r, &["addr", "add", &format!("{ip}/24"), "dev", "r0"]);
    sh(&r, &["link", "set", "r0", "up"]);
    sh(&r, &["link", "set", "lo", "up"]);
    sh(&r, &["route", "add", "default", "via", "10.30.0.254"]);
    r
}
