//! Network checkers: TCP, HTTP/SSL, SMTP, DNS, UDP.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use lvs_config::{DnsCheck, HttpCheck, HttpProtocol, SmtpCheck, UdpCheck, UrlCheck};
use md5::{Digest, Md5};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream, UdpSocket};
use tokio::time::timeout;

use super::CheckSpec;
use crate::proto;
use crate::state::{RandomSource, XorShift};

/// Most bytes of an HTTP response head kept before giving up.
const MAX_HEAD: usize = 64 * 1024;
/// Most bytes of an SMTP reply kept before giving up.
const MAX_SMTP_REPLY: usize = 8 * 1024;

async fn connect(spec: &CheckSpec) -> io::Result<TcpStream> {
    let socket = match spec.target {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    if let Some(b) = spec.bind {
        socket.bind(b)?;
    }
    socket.connect(spec.target).await
}

/// Why a check passed (`Ok`) or failed (`Err`), in words for operators.
pub(super) type Verdict = Result<String, String>;

/// An I/O error as `what: description`, without the `(os error N)` tail:
/// `connect: Connection refused`.
pub(super) fn io_reason(what: &str, e: &io::Error) -> String {
    let text = e.to_string();
    let text = match text.rfind(" (os error ") {
        Some(i) if text.ends_with(')') => text[..i].to_owned(),
        _ => text,
    };
    format!("{what}: {text}")
}

/// `timeout after 3 s` (or `after 1.5 s`).
pub(super) fn timed_out(bound: std::time::Duration) -> String {
    let ms = bound.as_millis();
    if ms.is_multiple_of(1000) {
        format!("timeout after {} s", ms / 1000)
    } else {
        format!("timeout after {} s", bound.as_secs_f64())
    }
}

/// TCP_CHECK: the connection is accepted within the timeout.
pub(super) async fn tcp_check(spec: &CheckSpec) -> Verdict {
    match timeout(spec.timeout, connect(spec)).await {
        Ok(Ok(_)) => Ok("connected".to_owned()),
        Ok(Err(e)) => Err(io_reason("connect", &e)),
        Err(_) => Err(timed_out(spec.timeout)),
    }
}

/// SSL options of the top-level `SSL { ... }` block.
#[derive(Debug, Clone, Default)]
pub struct TlsOptions {
    /// Verify the server certificate against this CA bundle (PEM); `None`
    /// (keepalived's default) accepts any certificate.
    pub ca_pem: Option<Vec<u8>>,
}

/// Why a TLS client configuration cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsConfigError {
    /// rustls refused the settings.
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
    /// The CA bundle holds no usable certificate.
    #[error("TLS CA bundle: {0}")]
    Ca(String),
}

/// The client configuration of SSL_GET: TLS 1.2 and 1.3 with the ring
/// provider; no certificate verification unless a CA is given (keepalived
/// verifies nothing by default). SNI is decided per check.
pub fn tls_client_config(opts: &TlsOptions) -> Result<Arc<rustls::ClientConfig>, TlsConfigError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()?;
    let cfg = match &opts.ca_pem {
        None => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAny(
                provider.signature_verification_algorithms,
            )))
            .with_no_client_auth(),
        Some(pem) => {
            use rustls::pki_types::pem::PemObject;
            let mut roots = rustls::RootCertStore::empty();
            for cert in CertificateDer::pem_slice_iter(pem) {
                let cert = cert.map_err(|e| TlsConfigError::Ca(e.to_string()))?;
                roots.add(cert)?;
            }
            if roots.is_empty() {
                return Err(TlsConfigError::Ca("no certificate".into()));
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
    };
    Ok(Arc::new(cfg))
}

/// Accepts any server certificate, but still checks handshake signatures.
#[derive(Debug)]
struct AcceptAny(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}

/// HTTP_GET / SSL_GET: every url must pass, each within the timeout.
pub(super) async fn http_check(
    spec: &CheckSpec,
    check: &HttpCheck,
    tls: Option<&Arc<rustls::ClientConfig>>,
) -> Verdict {
    if check.urls.is_empty() {
        return Err("no url to check".to_owned());
    }
    let mut last = String::new();
    for url in &check.urls {
        last = match timeout(spec.timeout, http_url(spec, check, url, tls)).await {
            Ok(Ok(ok)) => ok,
            Ok(Err(e)) => return Err(format!("{}: {e}", url.path)),
            Err(_) => return Err(format!("{}: {}", url.path, timed_out(spec.timeout))),
        };
    }
    Ok(last)
}

async fn http_url(
    spec: &CheckSpec,
    check: &HttpCheck,
    url: &UrlCheck,
    tls: Option<&Arc<rustls::ClientConfig>>,
) -> Result<String, String> {
    let vhost = url.virtualhost.as_deref().or(spec.virtualhost.as_deref());
    let host = proto::host_header(vhost, spec.target.ip(), spec.target.port());
    let request = proto::http_request(
        &url.path,
        &host,
        check.http_protocol.unwrap_or(HttpProtocol::V1_0),
    );
    let tcp = connect(spec).await.map_err(|e| io_reason("connect", &e))?;
    match tls {
        None => http_exchange(tcp, &request, url).await,
        Some(cfg) => {
            let mut cfg = (**cfg).clone();
            cfg.enable_sni = check.enable_sni;
            let name = match (check.enable_sni, check.sni_name.as_deref().or(vhost)) {
                (true, Some(n)) => {
                    ServerName::try_from(n.to_owned()).map_err(|e| format!("SNI name: {e}"))?
                }
                _ => ServerName::IpAddress(spec.target.ip().into()),
            };
            let connector = tokio_rustls::TlsConnector::from(Arc::new(cfg));
            let stream = connector
                .connect(name, tcp)
                .await
                .map_err(|e| io_reason("TLS", &e))?;
            http_exchange(stream, &request, url).await
        }
    }
}

async fn http_exchange<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: S,
    request: &str,
    url: &UrlCheck,
) -> Result<String, String> {
    let send = |e: io::Error| io_reason("send", &e);
    let recv = |e: io::Error| io_reason("receive", &e);
    s.write_all(request.as_bytes()).await.map_err(send)?;
    s.flush().await.map_err(send)?;
    let mut head = Vec::with_capacity(1024);
    let mut chunk = [0u8; 8192];
    let parsed = loop {
        let n = read_tolerant(&mut s, &mut chunk).await.map_err(recv)?;
        if n == 0 {
            break proto::parse_http_head(&head);
        }
        head.extend_from_slice(&chunk[..n]);
        if let Some(h) = proto::parse_http_head(&head) {
            break Some(h);
        }
        if head.len() > MAX_HEAD {
            return Err(format!("HTTP response head over {MAX_HEAD} bytes"));
        }
    };
    let Some(h) = parsed else {
        return Err(if head.is_empty() {
            "closed without an HTTP response".to_owned()
        } else {
            "malformed HTTP response".to_owned()
        });
    };
    if !url.status_ok(h.status) {
        return Err(format!("HTTP status {}", h.status));
    }
    let Some(want) = url.digest else {
        return Ok(format!("HTTP status {}", h.status));
    };
    let mut md5 = Md5::new();
    md5.update(head.get(h.body_start..).unwrap_or_default());
    loop {
        let n = read_tolerant(&mut s, &mut chunk).await.map_err(recv)?;
        if n == 0 {
            break;
        }
        md5.update(&chunk[..n]);
    }
    let got: [u8; 16] = md5.finalize().into();
    if got == want {
        Ok(format!("HTTP status {}, digest matches", h.status))
    } else {
        Err("digest mismatch".to_owned())
    }
}

/// Reads, taking a TLS peer that closes without `close_notify` as the end.
async fn read_tolerant<S: AsyncRead + Unpin>(s: &mut S, buf: &mut [u8]) -> io::Result<usize> {
    match s.read(buf).await {
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(0),
        r => r,
    }
}

/// SMTP_CHECK: banner 220, HELO answered 250, then QUIT.
pub(super) async fn smtp_check(spec: &CheckSpec, check: &SmtpCheck) -> Verdict {
    let helo = check.helo_name.clone().unwrap_or_else(|| {
        nix::unistd::gethostname()
            .ok()
            .and_then(|h| h.into_string().ok())
            .unwrap_or_else(|| "localhost".into())
    });
    match timeout(spec.timeout, smtp_exchange(spec, &helo)).await {
        Ok(r) => r,
        Err(_) => Err(timed_out(spec.timeout)),
    }
}

async fn smtp_exchange(spec: &CheckSpec, helo: &str) -> Verdict {
    let mut s = connect(spec).await.map_err(|e| io_reason("connect", &e))?;
    let io = |e: io::Error| io_reason("SMTP", &e);
    let mut buf = Vec::new();
    let code = smtp_reply(&mut s, &mut buf).await.map_err(io)?;
    if code != 220 {
        return Err(format!("SMTP greeting {code}, not 220"));
    }
    s.write_all(format!("HELO {helo}\r\n").as_bytes())
        .await
        .map_err(io)?;
    let code = smtp_reply(&mut s, &mut buf).await.map_err(io)?;
    if code != 250 {
        return Err(format!("SMTP HELO answered {code}, not 250"));
    }
    // keepalived sends QUIT and does not wait for its answer.
    s.write_all(b"QUIT\r\n").await.map_err(io)?;
    Ok("SMTP 220, HELO 250".to_owned())
}

async fn smtp_reply(s: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<u16> {
    let mut chunk = [0u8; 1024];
    loop {
        if let Some((code, used)) = proto::parse_smtp_reply(buf) {
            buf.drain(..used);
            return Ok(code);
        }
        if buf.len() > MAX_SMTP_REPLY {
            return Ok(0);
        }
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            return Ok(0);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn seed() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0x9e37_79b9_7f4a_7c15)
}

async fn udp_socket(spec: &CheckSpec) -> io::Result<UdpSocket> {
    let local = spec.bind.unwrap_or(match spec.target.ip() {
        IpAddr::V4(_) => SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0),
        IpAddr::V6(_) => SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0),
    });
    let s = UdpSocket::bind(local).await?;
    s.connect(spec.target).await?;
    Ok(s)
}

/// DNS_CHECK: a query of `type`/`name` gets a good answer in time.
pub(super) async fn dns_check(spec: &CheckSpec, check: &DnsCheck) -> Verdict {
    let id = (XorShift(seed()).below(1 << 16)) as u16;
    let Ok(query) = proto::dns_query(id, &check.name, check.qtype.qtype()) else {
        return Err(format!("DNS name `{}` cannot be queried", check.name));
    };
    let exchange = async {
        let s = udp_socket(spec).await?;
        s.send(&query).await?;
        let mut buf = [0u8; 4096];
        loop {
            let n = s.recv(&mut buf).await?;
            // Ignore stray datagrams with another id; judge ours.
            if n >= 2 && buf[..2] == query[..2] {
                return Ok::<bool, io::Error>(proto::dns_answer_ok(&query, &buf[..n]));
            }
        }
    };
    match timeout(spec.timeout, exchange).await {
        Ok(Ok(true)) => Ok("DNS answer".to_owned()),
        Ok(Ok(false)) => Err("DNS answer refused (rcode or no record)".to_owned()),
        Ok(Err(e)) => Err(io_reason("DNS", &e)),
        Err(_) => Err(timed_out(spec.timeout)),
    }
}

/// UDP_CHECK: send the payload; with `require_reply`, a reply of the right
/// length (and pattern) must come in time; without it, only an ICMP error
/// (seen as a refused receive) fails the check.
pub(super) async fn udp_check(spec: &CheckSpec, check: &UdpCheck) -> Verdict {
    let payload = check.payload.clone().unwrap_or_else(|| {
        let mut r = XorShift(seed());
        (0..16).map(|_| r.below(256) as u8).collect()
    });
    let exchange = async {
        let s = udp_socket(spec).await?;
        s.send(&payload).await?;
        let mut buf = [0u8; 65536];
        let n = s.recv(&mut buf).await?;
        Ok::<usize, io::Error>(n).map(|n| buf[..n].to_vec())
    };
    match (timeout(spec.timeout, exchange).await, &check.require_reply) {
        (Err(_elapsed), None) => Ok("no ICMP error".to_owned()),
        (Err(_elapsed), Some(_)) => Err(timed_out(spec.timeout)),
        (Ok(Err(e)), _) => Err(io_reason("UDP", &e)),
        (Ok(Ok(_)), None) => Ok("UDP reply".to_owned()),
        (Ok(Ok(reply)), Some(pattern)) => {
            let len = u32::try_from(reply.len()).unwrap_or(u32::MAX);
            if len < check.min_reply_length || len > check.max_reply_length {
                Err(format!("UDP reply of {len} bytes"))
            } else if pattern.as_ref().is_some_and(|p| !p.matches(&reply)) {
                Err("UDP reply does not match".to_owned())
            } else {
                Ok("UDP reply".to_owned())
            }
        }
    }
}
