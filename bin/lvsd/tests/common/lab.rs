//! Namespace lab pieces shared by the end-to-end tests (`e2e_*.rs`): `ip`
//! and `sysctl` inside a namespace, veth pairs, a tiny HTTP server bound
//! inside a real server's namespace, one HTTP GET, the real `lvsd` started
//! inside the director's namespace, and a reader of `ipvsadm -ln --stats`
//! columns. Every wait is bounded; namespaces are [`NetNs`] guards that
//! delete themselves by name, also on failure.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lvs_sys::NetNs;

use super::{Scratch, live, wait_until};

/// A namespace named `lvsd-e2e-PID-tag` (unique per test process).
pub fn netns(tag: &str) -> NetNs {
    NetNs::create(&format!("lvsd-e2e-{}-{tag}", std::process::id())).unwrap()
}

/// `ip -n NS ARGS`, which must succeed.
pub fn sh(ns: &NetNs, args: &[&str]) {
    ns.ip(args).unwrap();
}

/// `sysctl -w KEY=VALUE` inside `ns`.
pub fn sysctl(ns: &NetNs, key: &str, value: &str) {
    let st = Command::new("ip")
        .args(["netns", "exec", ns.name(), "sysctl", "-qw"])
        .arg(format!("{key}={value}"))
        .status()
        .unwrap();
    assert!(st.success(), "sysctl {key}");
}

/// A veth pair: `a_if` in `a`, `b_if` in `b`.
pub fn veth(a: &NetNs, a_if: &str, b: &NetNs, b_if: &str) {
    sh(
        a,
        &[
            "link",
            "add",
            a_if,
            "type",
            "veth",
            "peer",
            "name",
            b_if,
            "netns",
            b.name(),
        ],
    );
}

/// The MAC address of `dev` in `ns`, lower case (`ip -o link show`).
pub fn mac(ns: &NetNs, dev: &str) -> String {
    let out = ns.ip(&["-o", "link", "show", "dev", dev]).unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let f: Vec<&str> = text.split_whitespace().collect();
    let i = f.iter().position(|w| *w == "link/ether").unwrap();
    f[i + 1].to_ascii_lowercase()
}

/// A tiny HTTP server in a real server's namespace: answers every request
/// with `body` and records the peers it saw. Stopped (and joined) on drop.
pub struct HttpServer {
    stop: Arc<AtomicBool>,
    pub peers: Arc<Mutex<Vec<IpAddr>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl HttpServer {
    pub fn start(ns: &NetNs, addr: Ipv4Addr, body: &'static str) -> HttpServer {
        // The socket belongs to the namespace it was created in.
        let listener = ns
            .run(move || TcpListener::bind(SocketAddr::new(addr.into(), 80)))
            .unwrap()
            .unwrap();
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let peers = Arc::new(Mutex::new(Vec::new()));
        let (stop2, peers2) = (stop.clone(), peers.clone());
        let thread = std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(120);
            while !stop2.load(Ordering::Relaxed) && Instant::now() < deadline {
                match listener.accept() {
                    Ok((mut s, peer)) => {
                        peers2.lock().unwrap().push(peer.ip());
                        s.set_nonblocking(false).unwrap();
                        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                        let mut req = Vec::new();
                        let mut buf = [0u8; 1024];
                        while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                            match s.read(&mut buf) {
                                Ok(0) | Err(_) => break,
                                Ok(n) => req.extend_from_slice(&buf[..n]),
                            }
                        }
                        let resp = format!(
                            "HTTP/1.0 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                            body.len()
                        );
                        let _ = s.write_all(resp.as_bytes());
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        HttpServer {
            stop,
            peers,
            thread: Some(thread),
        }
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// One HTTP GET to `vip:80` from the calling thread's namespace; the body,
/// or the error.
pub fn get(vip: Ipv4Addr) -> Result<String, String> {
    let mut s =
        TcpStream::connect_timeout(&SocketAddr::new(vip.into(), 80), Duration::from_secs(5))
            .map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(format!("GET / HTTP/1.0\r\nHost: {vip}\r\n\r\n").as_bytes())
        .map_err(|e| format!("write: {e}"))?;
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).map_err(|e| format!("read: {e}"))?;
    let text = String::from_utf8_lossy(&resp).into_owned();
    match text.split_once("\r\n\r\n") {
        Some((_, body)) => Ok(body.to_string()),
        None => Err(format!("no body in {text:?}")),
    }
}

/// `n` sequential GETs to `vip` from `ns`, bounded by a 90 s deadline.
pub fn get_many(ns: &NetNs, vip: Ipv4Addr, n: usize) -> Vec<Result<String, String>> {
    ns.run(|| {
        let deadline = Instant::now() + Duration::from_secs(90);
        (0..n)
            .map(|_| {
                if Instant::now() > deadline {
                    Err("deadline".to_string())
                } else {
                    get(vip)
                }
            })
            .collect()
    })
    .unwrap()
}

/// `lvsd` inside the director namespace, killed on drop (before the
/// namespaces go: declare it after the lab).
pub struct Lvsd {
    pub child: Child,
    pub log: std::path::PathBuf,
}

impl Lvsd {
    /// Starts `lvsd` (no arguments: every interface of `ns`) on the
    /// scratch's socket and waits until its data plane serves.
    pub fn start(ns: &NetNs, scratch: &Scratch) -> Lvsd {
        Lvsd::start_with(ns, scratch, &[])
    }

    /// Same, with extra arguments (`--io afpacket`).
    pub fn start_with(ns: &NetNs, scratch: &Scratch, args: &[&str]) -> Lvsd {
        let socket = scratch.socket();
        let log = scratch.dir.join("lvsd.log");
        let mut lvsd = Lvsd {
            child: Command::new("ip")
                .args(["netns", "exec", ns.name(), env!("CARGO_BIN_EXE_lvsd")])
                .args(args)
                .env("LVSD_SOCKET", &socket)
                .env("RUST_LOG", "info")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&log).unwrap())
                .spawn()
                .unwrap(),
            log,
        };
        assert!(
            wait_until(|| live(&socket) || lvsd.child.try_wait().unwrap().is_some())
                && live(&socket),
            "lvsd did not come up: {}",
            lvsd.log_text()
        );
        // The socket accepts before the data plane is up: wait for its log line.
        wait_until(|| {
            let t = lvsd.log_text();
            t.contains("serving") || t.contains("ERROR") || t.contains("control plane only")
        });
        assert!(
            lvsd.log_text().contains("serving"),
            "no data plane: {}",
            lvsd.log_text()
        );
        lvsd
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM, then a bounded wait for the exit; `None` if it did not exit.
    pub fn terminate(&mut self) -> Option<ExitStatus> {
        let st = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(st.success());
        let mut status = None;
        wait_until(|| {
            status = self.child.try_wait().unwrap();
            status.is_some()
        });
        status
    }
}

impl Drop for Lvsd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Column `n` (0-based, after the protocol and address) of the listing
/// line whose address is `addr`.
pub fn stats_column(listing: &str, addr: &str, n: usize) -> Option<u64> {
    listing.lines().find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        let i = f.iter().position(|w| *w == addr)?;
        f.get(i + 1 + n)?.parse().ok()
    })
}
