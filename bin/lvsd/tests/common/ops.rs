//! Helpers of the operational end-to-end tests (`e2e_ops.rs`,
//! `e2e_routed.rs`): a NAT lab whose client holds several source addresses,
//! a UDP server and an interactive TCP line server that answer with their
//! name, clients bound to a chosen source address (TCP through tokio's
//! `TcpSocket`, which can bind before connecting; closed with a RST so that
//! the director's entry goes to CLOSE), and listing readers for `-lnc` and
//! the real-server rows. Every wait is bounded.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lvs_sys::NetNs;

use super::lab::{netns, sh, sysctl, veth};

/// Connect / read bound of the clients here.
pub const IO_TIMEOUT: Duration = Duration::from_secs(3);

/// The NAT lab of seed 000 §1 with extra client addresses:
///
/// ```text
/// cli 172.16.10.22/24 (+ extra /32s) c0 ── d0 172.16.10.21/24 (VIP) dir d1 192.168.100.17/24
///                                                                      │
///                                              sw: bridge br0 (s0, s1, s2)
///                                                     │             │
///                              rs1 192.168.100.39/24 r0   rs2 192.168.100.23/24 r0
/// ```
///
/// The director routes `172.16.0.0/16` back through the client (the
/// client's extra addresses may lie outside `172.16.10.0/24`); the real
/// servers' default route is the director (NAT).
pub struct NatLab {
    pub cli: NetNs,
    pub dir: NetNs,
    pub sw: NetNs,
    pub rs: [NetNs; 2],
}

/// The VIP of [`NatLab`].
pub const NAT_VIP: Ipv4Addr = Ipv4Addr::new(172, 16, 10, 21);
/// The client's main address in [`NatLab`].
pub const NAT_CLIENT: Ipv4Addr = Ipv4Addr::new(172, 16, 10, 22);
/// The real servers of [`NatLab`].
pub const NAT_RIPS: [Ipv4Addr; 2] = [
    Ipv4Addr::new(192, 168, 100, 39),
    Ipv4Addr::new(192, 168, 100, 23),
];

/// Builds a [`NatLab`] in namespaces tagged `a-TAG-*`; `extra` are more
/// client addresses (added as /32 on `c0`).
pub fn nat_lab(tag: &str, extra: &[Ipv4Addr]) -> NatLab {
    let lab = NatLab {
        cli: netns(&format!("a-{tag}-cli")),
        dir: netns(&format!("a-{tag}-dir")),
        sw: netns(&format!("a-{tag}-sw")),
        rs: [
            netns(&format!("a-{tag}-rs1")),
            netns(&format!("a-{tag}-rs2")),
        ],
    };
    let NatLab { cli, dir, sw, rs } = &lab;
    veth(cli, "c0", dir, "d0");
    veth(dir, "d1", sw, "s0");
    sh(sw, &["link", "add", "br0", "type", "bridge"]);
    for (i, r) in rs.iter().enumerate() {
        veth(r, "r0", sw, &format!("s{}", i + 1));
    }
    for s in ["s0", "s1", "s2"] {
        sh(sw, &["link", "set", s, "master", "br0", "up"]);
    }
    sh(sw, &["link", "set", "br0", "up"]);
    sh(cli, &["addr", "add", "172.16.10.22/24", "dev", "c0"]);
    for a in extra {
        sh(cli, &["addr", "add", &format!("{a}/32"), "dev", "c0"]);
    }
    sh(cli, &["link", "set", "c0", "up"]);
    sh(
        cli,
        &["route", "add", "172.16.0.0/16", "via", "172.16.10.21"],
    );
    sh(dir, &["addr", "add", "172.16.10.21/24", "dev", "d0"]);
    sh(dir, &["addr", "add", "192.168.100.17/24", "dev", "d1"]);
    sh(dir, &["link", "set", "d0", "up"]);
    sh(dir, &["link", "set", "d1", "up"]);
    sh(
        dir,
        &[
            "route",
            "add",
            "172.16.0.0/16",
            "via",
            "172.16.10.22",
            "dev",
            "d0",
        ],
    );
    sysctl(dir, "net.ipv4.ip_forward", "1");
    for (r, ip) in rs.iter().zip(NAT_RIPS) {
        sh(r, &["addr", "add", &format!("{ip}/24"), "dev", "r0"]);
        sh(r, &["link", "set", "r0", "up"]);
        sh(r, &["route", "add", "default", "via", "192.168.100.17"]);
    }
    for n in [cli, dir, sw, &rs[0], &rs[1]] {
        sh(n, &["link", "set", "lo", "up"]);
    }
    lab
}

/// Something that serves in a real server's namespace until dropped, and
/// records the peers it saw (one entry per connection / datagram).
pub struct Server {
    stop: Arc<AtomicBool>,
    pub peers: Arc<Mutex<Vec<SocketAddr>>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Server {
    /// The peers seen so far.
    pub fn seen(&self) -> Vec<SocketAddr> {
        self.peers.lock().unwrap().clone()
    }

    /// A UDP server on `addr:port` answering every datagram with `name`.
    pub fn udp(ns: &NetNs, addr: Ipv4Addr, port: u16, name: &'static str) -> Server {
        let sock = ns
            .run(move || UdpSocket::bind(SocketAddr::new(addr.into(), port)))
            .unwrap()
            .unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let peers = Arc::new(Mutex::new(Vec::new()));
        let (stop2, peers2) = (stop.clone(), peers.clone());
        let t = std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(120);
            let mut buf = [0u8; 1500];
            while !stop2.load(Ordering::Relaxed) && Instant::now() < deadline {
                if let Ok((_, peer)) = sock.recv_from(&mut buf) {
                    peers2.lock().unwrap().push(peer);
                    let _ = sock.send_to(name.as_bytes(), peer);
                }
            }
        });
        Server {
            stop,
            peers,
            threads: vec![t],
        }
    }

    /// A TCP server on `addr:port`: every connection gets `name\n` for each
    /// line it sends, until it closes.
    pub fn lines(ns: &NetNs, addr: Ipv4Addr, port: u16, name: &'static str) -> Server {
        Server::tcp(ns, addr, port, name, serve_lines)
    }

    /// An HTTP/1.0 server on `addr:80` answering `body` and closing; one
    /// thread per connection, so that a connection cut by a change on the
    /// director (its request never comes) does not delay the next ones.
    pub fn http(ns: &NetNs, addr: Ipv4Addr, body: &'static str) -> Server {
        Server::tcp(ns, addr, 80, body, serve_http)
    }

    fn tcp(
        ns: &NetNs,
        addr: Ipv4Addr,
        port: u16,
        name: &'static str,
        serve: fn(TcpStream, &str, &AtomicBool),
    ) -> Server {
        let listener = ns
            .run(move || TcpListener::bind(SocketAddr::new(addr.into(), port)))
            .unwrap()
            .unwrap();
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let peers = Arc::new(Mutex::new(Vec::new()));
        let (stop2, peers2) = (stop.clone(), peers.clone());
        let t = std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(120);
            let mut conns = Vec::new();
            while !stop2.load(Ordering::Relaxed) && Instant::now() < deadline {
                match listener.accept() {
                    Ok((s, peer)) => {
                        peers2.lock().unwrap().push(peer);
                        let stop3 = stop2.clone();
                        conns.push(std::thread::spawn(move || serve(s, name, &stop3)));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
            for c in conns {
                let _ = c.join();
            }
        });
        Server {
            stop,
            peers,
            threads: vec![t],
        }
    }
}

fn serve_http(mut s: TcpStream, body: &str, _stop: &AtomicBool) {
    s.set_nonblocking(false).unwrap();
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let mut req = Vec::new();
    let mut buf = [0u8; 1024];
    while !req.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => req.extend_from_slice(&buf[..n]),
        }
    }
    let resp = format!(
        "HTTP/1.0 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = s.write_all(resp.as_bytes());
}

fn serve_lines(s: TcpStream, name: &str, stop: &AtomicBool) {
    s.set_nonblocking(false).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut w = s.try_clone().unwrap();
    let mut r = BufReader::new(s);
    let mut line = String::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
        match r.read_line(&mut line) {
            Ok(0) => return,
            Ok(_) if line.ends_with('\n') => {
                line.clear();
                if w.write_all(format!("{name}\n").as_bytes()).is_err() {
                    return;
                }
            }
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// A TCP connection from `src` (any address when `None`) to `dst`, made in
/// the calling thread's namespace, that resets (RST) when closed: the
/// director moves its entry to CLOSE, which expires after 10 s.
pub fn connect_from(src: Option<Ipv4Addr>, dst: SocketAddr) -> std::io::Result<TcpStream> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()?;
    let stream = rt.block_on(async {
        let sock = tokio::net::TcpSocket::new_v4()?;
        sock.set_zero_linger()?;
        if let Some(a) = src {
            sock.bind(SocketAddr::new(a.into(), 0))?;
        }
        match tokio::time::timeout(IO_TIMEOUT, sock.connect(dst)).await {
            Ok(r) => r,
            Err(_) => Err(std::io::ErrorKind::TimedOut.into()),
        }
    })?;
    let _guard = rt.enter();
    let std = stream.into_std()?;
    std.set_nonblocking(false)?;
    std.set_read_timeout(Some(IO_TIMEOUT))?;
    Ok(std)
}

/// A long-lived session with a [`Server::lines`] server.
pub struct Session {
    stream: TcpStream,
    reader: BufReader<TcpStream>,
    /// The client side's address.
    pub local: SocketAddr,
}

impl Session {
    /// Opens a session from `ns` (source `src` if given) to `dst`.
    pub fn open(ns: &NetNs, src: Option<Ipv4Addr>, dst: SocketAddr) -> Result<Session, String> {
        let stream = ns
            .run(move || connect_from(src, dst))
            .unwrap()
            .map_err(|e| format!("connect: {e}"))?;
        let local = stream.local_addr().unwrap();
        let reader = BufReader::new(stream.try_clone().unwrap());
        Ok(Session {
            stream,
            reader,
            local,
        })
    }

    /// One request/response: the name of the server that answered.
    pub fn ask(&mut self) -> Result<String, String> {
        self.stream
            .write_all(b"who\n")
            .map_err(|e| format!("write: {e}"))?;
        let mut line = String::new();
        match self.reader.read_line(&mut line) {
            Ok(0) => Err("closed".to_string()),
            Ok(_) => Ok(line.trim_end().to_string()),
            Err(e) => Err(format!("read: {e}")),
        }
    }

    /// Closes with a RST (zero linger).
    pub fn reset(self) {
        drop(self.reader);
        drop(self.stream);
    }
}

/// One HTTP GET (`HTTP/1.0`, the server closes) from source `src` to
/// `dst`, in the calling thread's namespace: the body, or the error kind
/// and text. The client's close is a RST, after the server's FIN.
pub fn get_from(
    src: Option<Ipv4Addr>,
    dst: SocketAddr,
) -> Result<String, (std::io::ErrorKind, String)> {
    let mut s = connect_from(src, dst).map_err(|e| (e.kind(), format!("connect: {e}")))?;
    s.write_all(format!("GET / HTTP/1.0\r\nHost: {}\r\n\r\n", dst.ip()).as_bytes())
        .map_err(|e| (e.kind(), format!("write: {e}")))?;
    let mut resp = Vec::new();
    s.read_to_end(&mut resp)
        .map_err(|e| (e.kind(), format!("read: {e}")))?;
    let text = String::from_utf8_lossy(&resp).into_owned();
    match text.split_once("\r\n\r\n") {
        Some((_, body)) => Ok(body.to_string()),
        None => Err((
            std::io::ErrorKind::InvalidData,
            format!("no body in {text:?}"),
        )),
    }
}

/// One UDP request from a fresh socket (a new source port, so a new
/// connection for the director) bound to `src` in the calling thread's
/// namespace: the answer and the local address used.
pub fn udp_ask(src: Ipv4Addr, dst: SocketAddr) -> Result<(String, SocketAddr), String> {
    let s = UdpSocket::bind(SocketAddr::new(src.into(), 0)).map_err(|e| format!("bind: {e}"))?;
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    s.connect(dst).map_err(|e| format!("connect: {e}"))?;
    s.send(b"who").map_err(|e| format!("send: {e}"))?;
    let mut buf = [0u8; 256];
    let n = s.recv(&mut buf).map_err(|e| format!("recv: {e}"))?;
    Ok((
        String::from_utf8_lossy(&buf[..n]).into_owned(),
        s.local_addr().unwrap(),
    ))
}

/// One `-lnc` entry: `pro expire state source virtual destination`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnEntry {
    pub proto: String,
    pub state: String,
    pub source: String,
    pub virt: String,
    pub dest: String,
}

/// The entries of an `ipvsadm -lnc` listing (the two title lines skipped).
pub fn conn_entries(listing: &str) -> Vec<ConnEntry> {
    listing
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() != 6 || !matches!(f[0], "TCP" | "UDP" | "SCTP") {
                return None;
            }
            Some(ConnEntry {
                proto: f[0].to_string(),
                state: f[2].to_string(),
                source: f[3].to_string(),
                virt: f[4].to_string(),
                dest: f[5].to_string(),
            })
        })
        .collect()
}

/// The `-> RIP:PORT ...` rows of a listing: address → the numbers after
/// the forwarding method (`-ln`: weight, ActiveConn, InActConn;
/// `--thresholds`: Uthreshold, Lthreshold, ActiveConn, InActConn) or after
/// the address (`--stats`, `--persistent-conn`: weight, PersistConn,
/// ActiveConn, InActConn).
pub fn dest_rows(listing: &str) -> HashMap<String, Vec<u64>> {
    listing
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.first() != Some(&"->") || f.get(1)?.starts_with("Remote") {
                return None;
            }
            let nums = f[2..].iter().filter_map(|w| w.parse().ok()).collect();
            Some((f[1].to_string(), nums))
        })
        .collect()
}

/// Whether `peers` all come from `ip`.
pub fn all_from(peers: &[SocketAddr], ip: Ipv4Addr) -> bool {
    peers.iter().all(|p| p.ip() == IpAddr::V4(ip))
}
