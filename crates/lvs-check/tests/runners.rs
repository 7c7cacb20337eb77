//! The tokio runners against servers these tests start on 127.0.0.0/8
//! (HTTP, TLS, SMTP, DNS, UDP responders written here). Every test is
//! bounded by `BOUND`; no traffic leaves loopback.
#![cfg(feature = "io")]
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lvs_check::runner::{self, CheckSpec, Driver, TlsOptions, tls_client_config};
use lvs_check::{Action, Outcome, Target, XorShift};
use lvs_config::{MemFs, Options, VirtualServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};
use tokio::time::timeout;

const BOUND: Duration = Duration::from_secs(20);

fn load(conf: &str) -> VirtualServer {
    let fs = MemFs::new().with("/k.conf", conf);
    let report = lvs_config::check(&fs, Path::new("/k.conf"), &Options::default());
    let (cfg, _) = report.into_result().unwrap();
    cfg.virtual_servers.into_iter().next().unwrap()
}

/// A virtual server with one real server at `rs` and `checker` as its
/// only checker.
fn vs_with(proto: &str, rs: SocketAddr, checker: &str) -> VirtualServer {
    load(&format!(
        "virtual_server 10.0.0.1 80 {{\n protocol {proto}\n delay_loop 1\n real_server {} {} {{\n weight 5\n {checker}\n }}\n}}\n",
        rs.ip(),
        rs.port()
    ))
}

fn spec_of(vs: &VirtualServer) -> CheckSpec {
    let rs = &vs.real_servers[0];
    CheckSpec::new(vs, rs, &rs.checkers[0], None)
}

async fn check(proto: &str, rs: SocketAddr, checker: &str) -> Outcome {
    let vs = vs_with(proto, rs, checker);
    let spec = spec_of(&vs);
    let tls = tls_client_config(&TlsOptions::default()).unwrap();
    timeout(BOUND, runner::run(&spec, Some(&tls)))
        .await
        .unwrap()
}

/// A port with nothing listening (bound then released).
async fn closed_port() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap()
}

// ---------------------------------------------------------------- TCP

#[tokio::test]
async fn tcp_check_up_and_down() {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let tcp = "TCP_CHECK { connect_timeout 2 }";
    assert_eq!(check("TCP", addr, tcp).await, Outcome::Up);
    drop(l);
    assert_eq!(check("TCP", addr, tcp).await, Outcome::Down);
}

#[tokio::test]
async fn tcp_check_uses_connect_ip_port_and_bindto() {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let peer = tokio::spawn(async move { l.accept().await.unwrap().1 });
    // The real server is elsewhere (nothing there); connect_ip/port send
    // the check to our listener, from 127.0.0.3.
    let rs = closed_port().await;
    let conf = format!(
        "TCP_CHECK {{ connect_ip 127.0.0.1\n connect_port {}\n bindto 127.0.0.3\n connect_timeout 2 }}",
        addr.port()
    );
    assert_eq!(check("TCP", rs, &conf).await, Outcome::Up);
    let peer = timeout(BOUND, peer).await.unwrap().unwrap();
    assert_eq!(peer.ip().to_string(), "127.0.0.3");
}

// ---------------------------------------------------------------- HTTP

type Seen = Arc<Mutex<Vec<String>>>;

/// An HTTP server answering every connection with `status` and `body`,
/// recording the requests.
async fn http_server(status: u16, body: &'static [u8]) -> (SocketAddr, Seen) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let seen: Seen = Arc::default();
    let log = Arc::clone(&seen);
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = l.accept().await else {
                return;
            };
            let log = Arc::clone(&log);
            tokio::spawn(async move {
                let req = read_head(&mut s).await;
                log.lock().unwrap().push(req);
                let resp = format!(
                    "HTTP/1.0 {status} X\r\nContent-Length: {}\r\n\r\n",
                    body.len()
                );
                let _ = s.write_all(resp.as_bytes()).await;
                let _ = s.write_all(body).await;
            });
        }
    });
    (addr, seen)
}

async fn read_head<S: tokio::io::AsyncRead + Unpin>(s: &mut S) -> String {
    let mut buf = Vec::new();
    let mut b = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = s.read(&mut b).await.unwrap_or(0);
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&b[..n]);
    }
    String::from_utf8_lossy(&buf).into_owned()
}

/// MD5("hello world\n"), as `genhash` or `md5sum` prints it.
const HELLO_MD5: &str = "6f5902ac237024bdd0c176cb93063dc4";

#[tokio::test]
async fn http_get_status_and_request_shape() {
    // The request keepalived 2.2.7 sends (lab/keepalived_wire.out).
    let (addr, seen) = http_server(200, b"hello world\n").await;
    let conf = "HTTP_GET { url { path /health } connect_timeout 2 }";
    assert_eq!(check("TCP", addr, conf).await, Outcome::Up);
    let req = seen.lock().unwrap()[0].clone();
    let expect = format!(
        "GET /health HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nHost: 127.0.0.1:{}\r\n\r\n",
        addr.port()
    );
    assert_eq!(req, expect);
}

#[tokio::test]
async fn http_get_status_code_default_and_ranges() {
    let (addr, _) = http_server(404, b"").await;
    let plain = "HTTP_GET { url { path / } connect_timeout 2 }";
    assert_eq!(check("TCP", addr, plain).await, Outcome::Down);
    let range = "HTTP_GET { url { path /\n status_code 200 400-404 } connect_timeout 2 }";
    assert_eq!(check("TCP", addr, range).await, Outcome::Up);
    let other = "HTTP_GET { url { path /\n status_code 200-299 405 } connect_timeout 2 }";
    assert_eq!(check("TCP", addr, other).await, Outcome::Down);
}

#[tokio::test]
async fn http_get_digest_and_virtualhost() {
    let (addr, seen) = http_server(200, b"hello world\n").await;
    let good = format!(
        "HTTP_GET {{ url {{ path /a\n digest {HELLO_MD5}\n virtualhost www.example.com }} connect_timeout 2 }}"
    );
    assert_eq!(check("TCP", addr, &good).await, Outcome::Up);
    let bad =
        "HTTP_GET { url { path /a\n digest 00000000000000000000000000000000 } connect_timeout 2 }";
    assert_eq!(check("TCP", addr, bad).await, Outcome::Down);
    let req = seen.lock().unwrap()[0].clone();
    // A virtual host goes as written, without the port (keepalived 2.2.7,
    // lab/keepalived_wire.out).
    assert!(req.contains("\r\nHost: www.example.com\r\n"), "{req}");
}

#[tokio::test]
async fn http_get_every_url_must_pass_and_protocol_1_1() {
    let (addr, seen) = http_server(200, b"x").await;
    let conf = format!(
        "HTTP_GET {{ http_protocol 1.1\n url {{ path /one }} url {{ path /two\n digest {HELLO_MD5} }} connect_timeout 2 }}"
    );
    assert_eq!(check("TCP", addr, &conf).await, Outcome::Down);
    let reqs = seen.lock().unwrap().clone();
    assert_eq!(reqs.len(), 2);
    assert!(reqs[0].starts_with("GET /one HTTP/1.1\r\n"));
    assert!(reqs[1].contains("Connection: close\r\n"));
}

#[tokio::test]
async fn http_get_times_out_on_a_silent_server() {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let hold = tokio::spawn(async move {
        let (s, _) = l.accept().await.unwrap();
        tokio::time::sleep(Duration::from_secs(10)).await;
        drop(s);
    });
    let conf = "HTTP_GET { url { path / } connect_timeout 1 }";
    assert_eq!(check("TCP", addr, conf).await, Outcome::Down);
    hold.abort();
}

/// [`runner::run_explained`]: the verdict and the operator's reason.
async fn explain(rs: SocketAddr, checker: &str) -> (Outcome, String) {
    let vs = vs_with("TCP", rs, checker);
    let spec = spec_of(&vs);
    timeout(BOUND, runner::run_explained(&spec, None))
        .await
        .unwrap()
}

#[tokio::test]
async fn reasons_name_what_failed() {
    let closed = closed_port().await;
    let (down, up) = (Outcome::Down, Outcome::Up);
    let tcp = "TCP_CHECK { connect_timeout 2 }";
    let refused = "connect: Connection refused".to_owned();
    assert_eq!(explain(closed, tcp).await, (down, refused.clone()));
    let http = "HTTP_GET { url { path /x } connect_timeout 2 }";
    assert_eq!(
        explain(closed, http).await,
        (down, format!("/x: {refused}"))
    );
    let (s503, _) = http_server(503, b"busy").await;
    assert_eq!(
        explain(s503, http).await,
        (down, "/x: HTTP status 503".to_owned())
    );
    let (s200, _) = http_server(200, b"hello world\n").await;
    assert_eq!(explain(s200, tcp).await, (up, "connected".to_owned()));
    assert_eq!(
        explain(s200, http).await,
        (up, "HTTP status 200".to_owned())
    );
    let bad =
        "HTTP_GET { url { path /a\n digest 00000000000000000000000000000000 } connect_timeout 2 }";
    assert_eq!(
        explain(s200, bad).await,
        (down, "/a: digest mismatch".to_owned())
    );
    // A server that accepts and never answers: the bound, in seconds.
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent = l.local_addr().unwrap();
    let hold = tokio::spawn(async move {
        let (s, _) = l.accept().await.unwrap();
        tokio::time::sleep(Duration::from_secs(10)).await;
        drop(s);
    });
    let slow = "HTTP_GET { url { path / } connect_timeout 1 }";
    assert_eq!(
        explain(silent, slow).await,
        (down, "/: timeout after 1 s".to_owned())
    );
    hold.abort();
}

// ---------------------------------------------------------------- SSL

/// SNI names the TLS test server saw.
type Seen2 = Arc<Mutex<Vec<Option<String>>>>;

async fn tls_server(body: &'static [u8]) -> (SocketAddr, Seen2, String) {
    let cert = rcgen::generate_simple_self_signed(vec!["rs.example".to_owned()]).unwrap();
    let pem = cert.cert.pem();
    let der = rustls::pki_types::CertificateDer::from(cert.cert.der().to_vec());
    let key = rustls::pki_types::PrivateKeyDer::try_from(cert.key_pair.serialize_der()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![der], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(cfg));
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let snis: Arc<Mutex<Vec<Option<String>>>> = Arc::default();
    let log = Arc::clone(&snis);
    tokio::spawn(async move {
        loop {
            let Ok((s, _)) = l.accept().await else { return };
            let acceptor = acceptor.clone();
            let log = Arc::clone(&log);
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(s).await else {
                    return;
                };
                log.lock()
                    .unwrap()
                    .push(tls.get_ref().1.server_name().map(str::to_owned));
                let _ = read_head(&mut tls).await;
                let resp = format!("HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n", body.len());
                let _ = tls.write_all(resp.as_bytes()).await;
                let _ = tls.write_all(body).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (addr, snis, pem)
}

#[tokio::test]
async fn ssl_get_accepts_self_signed_and_checks_digest() {
    let (addr, snis, _) = tls_server(b"hello world\n").await;
    let good = format!("SSL_GET {{ url {{ path /\n digest {HELLO_MD5} }} connect_timeout 3 }}");
    assert_eq!(check("TCP", addr, &good).await, Outcome::Up);
    let bad =
        "SSL_GET { url { path /\n digest 0123456789abcdef0123456789abcdef } connect_timeout 3 }";
    assert_eq!(check("TCP", addr, bad).await, Outcome::Down);
    // No SNI unless enable_sni.
    assert_eq!(snis.lock().unwrap()[0], None);
}

#[tokio::test]
async fn ssl_get_sends_sni_when_enabled() {
    let (addr, snis, _) = tls_server(b"ok").await;
    let conf = "SSL_GET { url { path / } enable_sni\n sni_name rs.example\n connect_timeout 3 }";
    assert_eq!(check("TCP", addr, conf).await, Outcome::Up);
    let conf = "SSL_GET { url { path /\n virtualhost v.example } enable_sni\n connect_timeout 3 }";
    assert_eq!(check("TCP", addr, conf).await, Outcome::Up);
    let got = snis.lock().unwrap().clone();
    assert_eq!(
        got,
        vec![Some("rs.example".to_owned()), Some("v.example".to_owned())]
    );
}

#[tokio::test]
async fn ssl_get_fails_against_plain_http() {
    let (addr, _) = http_server(200, b"x").await;
    let conf = "SSL_GET { url { path / } connect_timeout 2 }";
    assert_eq!(check("TCP", addr, conf).await, Outcome::Down);
}

// ---------------------------------------------------------------- SMTP

async fn smtp_server(banner: &'static str) -> (SocketAddr, Seen) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let seen: Seen = Arc::default();
    let log = Arc::clone(&seen);
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = l.accept().await else {
                return;
            };
            let log = Arc::clone(&log);
            tokio::spawn(async move {
                let _ = s.write_all(banner.as_bytes()).await;
                let mut buf = Vec::new();
                let mut b = [0u8; 256];
                while let Ok(n) = s.read(&mut b).await {
                    if n == 0 {
                        break;
                    }
                    buf.extend_from_slice(&b[..n]);
                    while let Some(i) = buf.iter().position(|&c| c == b'\n') {
                        let line: Vec<u8> = buf.drain(..=i).collect();
                        let line = String::from_utf8_lossy(&line).trim_end().to_owned();
                        let reply: &[u8] = if line.starts_with("HELO") {
                            b"250-first\r\n250 hello\r\n"
                        } else {
                            b"221 bye\r\n"
                        };
                        log.lock().unwrap().push(line);
                        let _ = s.write_all(reply).await;
                    }
                }
            });
        }
    });
    (addr, seen)
}

#[tokio::test]
async fn smtp_check_banner_and_helo() {
    let (addr, seen) = smtp_server("220-welcome\r\n220 ready\r\n").await;
    let conf = "SMTP_CHECK { helo_name checker.example\n connect_timeout 2 }";
    assert_eq!(check("TCP", addr, conf).await, Outcome::Up);
    timeout(BOUND, async {
        while seen.lock().unwrap().len() < 2 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap();
    assert_eq!(
        seen.lock().unwrap().clone(),
        vec!["HELO checker.example".to_owned(), "QUIT".to_owned()]
    );
    let (bad, _) = smtp_server("554 go away\r\n").await;
    assert_eq!(check("TCP", bad, conf).await, Outcome::Down);
}

// ---------------------------------------------------------------- DNS

/// A DNS responder: answers with one A record, or with `rcode` and no
/// answer when `rcode != 0`; records the queries.
async fn dns_server(rcode: u8) -> (SocketAddr, Arc<Mutex<Vec<Vec<u8>>>>) {
    let s = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = s.local_addr().unwrap();
    let seen: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
    let log = Arc::clone(&seen);
    tokio::spawn(async move {
        let mut b = [0u8; 512];
        loop {
            let Ok((n, from)) = s.recv_from(&mut b).await else {
                return;
            };
            let q = b[..n].to_vec();
            log.lock().unwrap().push(q.clone());
            let mut a = q.clone();
            a[2] |= 0x80;
            a[3] = (a[3] & 0xf0) | rcode;
            if rcode == 0 {
                a[7] = 1;
                // Name pointer to the question, type A, class IN, TTL, 4 bytes.
                a.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 0, 0, 1]);
            }
            let _ = s.send_to(&a, from).await;
        }
    });
    (addr, seen)
}

#[tokio::test]
async fn dns_check_query_and_answer() {
    let (addr, seen) = dns_server(0).await;
    let conf = "DNS_CHECK { type A\n name www.example.com\n connect_timeout 2 }";
    assert_eq!(check("UDP", addr, conf).await, Outcome::Up);
    let q = seen.lock().unwrap()[0].clone();
    // Question: www.example.com, type A (1), class IN (1).
    let mut want = b"\x03www\x07example\x03com\x00".to_vec();
    want.extend_from_slice(&[0, 1, 0, 1]);
    assert_eq!(&q[12..], &want[..]);
    // Default query: SOA of the root.
    assert_eq!(
        check("UDP", addr, "DNS_CHECK { connect_timeout 2 }").await,
        Outcome::Up
    );
    let q = seen.lock().unwrap()[1].clone();
    assert_eq!(&q[12..], &[0, 0, 6, 0, 1]);
}

#[tokio::test]
async fn dns_check_fails_on_error_or_silence() {
    let (addr, _) = dns_server(3).await;
    let conf = "DNS_CHECK { type A\n name nowhere.example\n connect_timeout 2 }";
    assert_eq!(check("UDP", addr, conf).await, Outcome::Down);
    let silent = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let conf = "DNS_CHECK { connect_timeout 1 }";
    assert_eq!(
        check("UDP", silent.local_addr().unwrap(), conf).await,
        Outcome::Down
    );
}

// ---------------------------------------------------------------- UDP

async fn udp_echo(reply: Option<&'static [u8]>) -> SocketAddr {
    let s = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = s.local_addr().unwrap();
    tokio::spawn(async move {
        let mut b = [0u8; 512];
        loop {
            let Ok((n, from)) = s.recv_from(&mut b).await else {
                return;
            };
            let out = reply.unwrap_or(&b[..n]).to_vec();
            let _ = s.send_to(&out, from).await;
        }
    });
    addr
}

#[tokio::test]
async fn udp_check_reply_rules() {
    let addr = udp_echo(Some(b"\xab\xcd\x01")).await;
    let any = "UDP_CHECK { require_reply\n connect_timeout 2 }";
    assert_eq!(check("UDP", addr, any).await, Outcome::Up);
    let pat = "UDP_CHECK { payload 0102\n require_reply aXcd\n connect_timeout 2 }";
    assert_eq!(check("UDP", addr, pat).await, Outcome::Up);
    let wrong = "UDP_CHECK { require_reply abce\n connect_timeout 2 }";
    assert_eq!(check("UDP", addr, wrong).await, Outcome::Down);
    let short = "UDP_CHECK { require_reply\n min_reply_length 4\n connect_timeout 2 }";
    assert_eq!(check("UDP", addr, short).await, Outcome::Down);
    let long = "UDP_CHECK { require_reply\n max_reply_length 2\n connect_timeout 2 }";
    assert_eq!(check("UDP", addr, long).await, Outcome::Down);
}

#[tokio::test]
async fn udp_check_payload_is_sent_and_silence_rules() {
    let echo = udp_echo(None).await;
    let conf = "UDP_CHECK { payload 68656c6c6f\n require_reply 68656c6c6f\n connect_timeout 2 }";
    assert_eq!(check("UDP", echo, conf).await, Outcome::Up);
    let silent = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = silent.local_addr().unwrap();
    // Silence passes unless a reply is required.
    assert_eq!(
        check("UDP", addr, "UDP_CHECK { connect_timeout 1 }").await,
        Outcome::Up
    );
    assert_eq!(
        check(
            "UDP",
            addr,
            "UDP_CHECK { require_reply\n connect_timeout 1 }"
        )
        .await,
        Outcome::Down
    );
    // A closed port answers with ICMP port unreachable: down.
    drop(silent);
    assert_eq!(
        check("UDP", addr, "UDP_CHECK { connect_timeout 2 }").await,
        Outcome::Down
    );
}

// ---------------------------------------------------------------- MISC

fn script_dir() -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let d = std::env::temp_dir().join(format!("lvs-check-test-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).unwrap();
    d
}

fn write_script(name: &str, body: &str) -> String {
    use std::os::unix::fs::PermissionsExt;
    let p = script_dir().join(name);
    std::fs::write(&p, body).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p.to_string_lossy().into_owned()
}

async fn misc(checker: &str) -> Outcome {
    check("TCP", "127.0.0.1:80".parse().unwrap(), checker).await
}

#[tokio::test]
async fn misc_check_exit_codes_and_dynamic_weight() {
    assert_eq!(
        misc("MISC_CHECK { misc_path /bin/true }").await,
        Outcome::Up
    );
    assert_eq!(
        misc("MISC_CHECK { misc_path /bin/false }").await,
        Outcome::Down
    );
    let s = write_script("exit12.sh", "#!/bin/sh\nexit 12\n");
    assert_eq!(
        misc(&format!("MISC_CHECK {{ misc_path {s} }}")).await,
        Outcome::Down
    );
    assert_eq!(
        misc(&format!("MISC_CHECK {{ misc_path {s}\n misc_dynamic }}")).await,
        Outcome::UpWithWeight(10)
    );
    // Exit 0 under misc_dynamic: the configured weight (5) back.
    assert_eq!(
        misc("MISC_CHECK { misc_path /bin/true\n misc_dynamic }").await,
        Outcome::UpWithWeight(5)
    );
    // keepalived disables a checker whose program is missing: the server
    // stays up (lab/keepalived_rules2.out, 10.0.1.3).
    assert_eq!(
        misc("MISC_CHECK { misc_path /nonexistent/check }").await,
        Outcome::Up
    );
}

#[tokio::test]
async fn misc_check_arguments_are_not_shell_parsed() {
    // Through a shell this would exit 1; run directly, `echo` prints the
    // words and exits 0.
    assert_eq!(
        misc(r#"MISC_CHECK { misc_path "/bin/echo ok; exit 1" }"#).await,
        Outcome::Up
    );
    // Quoted arguments arrive whole: `test` gets exactly 3 arguments.
    assert_eq!(
        misc(r#"MISC_CHECK { misc_path "/usr/bin/test 'a b' = 'a b'" }"#).await,
        Outcome::Up
    );
}

#[tokio::test]
async fn misc_check_never_hands_a_file_without_hash_bang_to_sh() {
    // keepalived 2.2.7 does not run it (no marker) and reports success
    // (lab/keepalived_rules2.out, 10.0.1.1).
    let marker = script_dir().join("ran_nohb");
    let _ = std::fs::remove_file(&marker);
    let s = write_script("nohb", &format!("touch {}\nexit 1\n", marker.display()));
    assert_eq!(
        misc(&format!("MISC_CHECK {{ misc_path {s} }}")).await,
        Outcome::Up
    );
    assert!(!marker.exists());
}

#[tokio::test]
async fn misc_check_timeout_kills_the_program() {
    let marker = script_dir().join("survived");
    let _ = std::fs::remove_file(&marker);
    let s = write_script(
        "slow.sh",
        &format!("#!/bin/sh\nsleep 3\ntouch {}\n", marker.display()),
    );
    let started = std::time::Instant::now();
    assert_eq!(
        misc(&format!("MISC_CHECK {{ misc_path {s}\n misc_timeout 1 }}")).await,
        Outcome::Down
    );
    // Wait past the program's own end: the group was killed, no marker.
    let left = Duration::from_secs(4).saturating_sub(started.elapsed());
    tokio::time::sleep(left).await;
    assert!(!marker.exists());
}

#[tokio::test]
async fn misc_check_runs_as_script_user() {
    assert!(
        nix::unistd::Uid::effective().is_root(),
        "this privileged test needs root (it switches to script_user); run the suite as root"
    );
    let Some(nobody) = nix::unistd::User::from_name("nobody").unwrap() else {
        return;
    };
    let s = write_script(
        "whoami.sh",
        &format!(
            "#!/bin/sh\n[ \"$(id -u)\" = {} ] && exit 0\nexit 1\n",
            nobody.uid
        ),
    );
    assert_eq!(
        misc(&format!("MISC_CHECK {{ misc_path {s}\n user nobody }}")).await,
        Outcome::Up
    );
    assert_eq!(
        misc(&format!("MISC_CHECK {{ misc_path {s} }}")).await,
        Outcome::Down
    );
}

// ---------------------------------------------------------------- driver

#[tokio::test]
async fn driver_removes_a_stopped_server_and_adds_it_back() {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let vs = vs_with(
        "TCP",
        addr,
        "TCP_CHECK { connect_timeout 1\n retry 1\n delay_before_retry 1\n warmup 0 }",
    );
    let mut out = Vec::new();
    let mut d = Driver::new(&vs, None, None, &mut XorShift(1), &mut out);
    assert!(matches!(
        out[..],
        [Action::AddDest {
            target: Target::Real(0),
            ..
        }]
    ));
    drop(l);
    // delay_loop 1, retry 1: removed after two failed checks.
    let removed = timeout(BOUND, async {
        let mut out = Vec::new();
        loop {
            d.step(&mut out).await;
            if let Some(a) = out.iter().find(|a| matches!(a, Action::RemoveDest { .. })) {
                return *a;
            }
        }
    })
    .await
    .unwrap();
    assert!(matches!(
        removed,
        Action::RemoveDest {
            target: Target::Real(0),
            ..
        }
    ));
    assert!(!d.machine().is_alive(0));
    let l = TcpListener::bind(addr).await.unwrap();
    timeout(BOUND, async {
        let mut out = Vec::new();
        while !out.iter().any(|a| matches!(a, Action::AddDest { .. })) {
            d.step(&mut out).await;
        }
    })
    .await
    .unwrap();
    assert!(d.machine().is_alive(0));
    let mut out = Vec::new();
    d.shutdown(&mut out);
    assert!(matches!(out[..], [Action::RemoveDest { .. }]));
    drop(l);
}

// ---------------------------------------------------------------- misc

#[tokio::test]
async fn notify_scripts_run_without_waiting() {
    let marker = script_dir().join("notified");
    let _ = std::fs::remove_file(&marker);
    let s = write_script(
        "notify.sh",
        &format!("#!/bin/sh\necho \"$1 $2\" > {}\n", marker.display()),
    );
    let script = lvs_config::Script {
        argv: vec![s.clone(), "up".into(), "rs1".into()],
        user: None,
        command: format!("{s} up rs1"),
    };
    runner::spawn_notify(&script, None).unwrap();
    timeout(BOUND, async {
        while std::fs::read_to_string(&marker).map_or(true, |c| c != "up rs1\n") {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn ssl_get_with_a_ca_verifies_the_name() {
    let (addr, _, ca) = tls_server(b"ok").await;
    // The server's certificate is self-signed for rs.example: trusting it
    // as a CA, the check passes with SNI rs.example and fails otherwise.
    let tls = tls_client_config(&TlsOptions {
        ca_pem: Some(ca.into_bytes()),
    })
    .unwrap();
    let run = |conf: &'static str| {
        let tls = Arc::clone(&tls);
        async move {
            let vs = vs_with("TCP", addr, conf);
            let spec = spec_of(&vs);
            timeout(BOUND, runner::run(&spec, Some(&tls)))
                .await
                .unwrap()
        }
    };
    assert_eq!(
        run("SSL_GET { url { path / } enable_sni\n sni_name rs.example\n connect_timeout 3 }")
            .await,
        Outcome::Up
    );
    assert_eq!(
        run("SSL_GET { url { path / } connect_timeout 3 }").await,
        Outcome::Down
    );
    assert!(
        tls_client_config(&TlsOptions {
            ca_pem: Some(b"junk".to_vec())
        })
        .is_err()
    );
}

/// PING_CHECK outcome for a real server at `rs` (an IPv4 or IPv6 service
/// accordingly).
async fn ping(rs: std::net::IpAddr) -> Outcome {
    let vip = if rs.is_ipv6() {
        "2001:db8::1"
    } else {
        "10.0.0.1"
    };
    let vs = load(&format!(
        "virtual_server {vip} 80 {{\n protocol TCP\n delay_loop 1\n real_server {rs} 80 {{\n PING_CHECK {{\n connect_timeout 2\n }}\n }}\n}}\n"
    ));
    let spec = spec_of(&vs);
    timeout(BOUND, runner::run(&spec, None)).await.unwrap()
}

#[test]
fn ping_check_answers_on_loopback_and_fails_without_a_route() {
    assert!(
        nix::unistd::Uid::effective().is_root(),
        "this privileged test needs root (raw ICMP sockets, a network namespace); run the suite as root"
    );
    // A namespace of our own with only `lo`: nothing leaves it.
    let ns = lvs_sys::NetNs::create(&format!("lvsrs-c-{}-ping", std::process::id())).unwrap();
    ns.ip(&["link", "set", "lo", "up"]).unwrap();
    let got = ns
        .run(|| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                [
                    ping("127.0.0.1".parse().unwrap()).await,
                    ping("::1".parse().unwrap()).await,
                    // No route in this namespace: the send fails at once.
                    ping("10.255.0.1".parse().unwrap()).await,
                    ping("2001:db8:ffff::1".parse().unwrap()).await,
                ]
            })
        })
        .unwrap();
    assert_eq!(
        got,
        [Outcome::Up, Outcome::Up, Outcome::Down, Outcome::Down]
    );
}
