//! Health checkers of a real server.

use std::net::IpAddr;
use std::ops::RangeInclusive;
use std::time::Duration;

use super::{CheckDefaults, Script, ScriptUser};
use crate::diag::Location;

/// One checker block inside a `real_server`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checker {
    /// Where it is.
    pub location: Location,
    /// Type and type-specific settings.
    pub kind: CheckKind,
    /// `connect_ip`, `connect_port`, `bindto`, `bind_if`, `bind_port`,
    /// `fwmark`.
    pub connect: ConnectOptions,
    /// Timing settings written in the checker block.
    pub written: CheckDefaults,
    /// `alpha [BOOL]` written in the block.
    pub alpha: Option<bool>,
    /// `log_all_failures [BOOL]`.
    pub log_all_failures: Option<bool>,
    /// Effective timing after inheritance (filled when loading).
    pub timing: CheckTiming,
}

/// Where and how a checker connects.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnectOptions {
    /// `connect_ip` (default: the real server's address).
    pub connect_ip: Option<IpAddr>,
    /// `connect_port` (default: the real server's port).
    pub connect_port: Option<u16>,
    /// `bindto`: source address.
    pub bindto: Option<IpAddr>,
    /// `bind_if`: source interface (needed for IPv6 link-local `bindto`).
    pub bind_if: Option<String>,
    /// `bind_port`: source port.
    pub bind_port: Option<u16>,
    /// `fwmark`: mark set on check packets.
    pub fwmark: Option<u32>,
}

/// Effective timing of a checker, resolved the way keepalived does
/// (`validate_check_config`): checker value, else real server, else virtual
/// server, else the checker type's default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckTiming {
    /// Interval between checks.
    pub delay_loop: Duration,
    /// Connection timeout.
    pub connect_timeout: Duration,
    /// Failures retried before the server is declared down.
    pub retry: u32,
    /// Delay between retries.
    pub delay_before_retry: Duration,
    /// Maximum random delay before the first check.
    pub warmup: Duration,
    /// Start in the failed state.
    pub alpha: bool,
}

impl Default for CheckTiming {
    fn default() -> CheckTiming {
        CheckTiming {
            delay_loop: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(5),
            retry: 1,
            delay_before_retry: Duration::from_secs(1),
            warmup: Duration::from_secs(60),
            alpha: false,
        }
    }
}

/// Checker type and its own settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckKind {
    /// `TCP_CHECK`: connect succeeds.
    Tcp,
    /// `HTTP_GET`.
    Http(HttpCheck),
    /// `SSL_GET`.
    Ssl(HttpCheck),
    /// `SMTP_CHECK`.
    Smtp(SmtpCheck),
    /// `DNS_CHECK`.
    Dns(DnsCheck),
    /// `MISC_CHECK`.
    Misc(MiscCheck),
    /// `UDP_CHECK`.
    Udp(UdpCheck),
    /// `PING_CHECK`.
    Ping,
}

impl CheckKind {
    /// The block keyword.
    pub fn keyword(&self) -> &'static str {
        match self {
            CheckKind::Tcp => "TCP_CHECK",
            CheckKind::Http(_) => "HTTP_GET",
            CheckKind::Ssl(_) => "SSL_GET",
            CheckKind::Smtp(_) => "SMTP_CHECK",
            CheckKind::Dns(_) => "DNS_CHECK",
            CheckKind::Misc(_) => "MISC_CHECK",
            CheckKind::Udp(_) => "UDP_CHECK",
            CheckKind::Ping => "PING_CHECK",
        }
    }
}

/// `http_protocol`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HttpProtocol {
    /// `1.0`.
    V1_0,
    /// `1.0C`: 1.0 with `Connection: close`.
    V1_0C,
    /// `1.1` (sends `Connection: close`).
    V1_1,
}

/// `HTTP_GET` / `SSL_GET` settings.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HttpCheck {
    /// `http_protocol` (keepalived default 1.0).
    pub http_protocol: Option<HttpProtocol>,
    /// `fast_recovery [BOOL]`.
    pub fast_recovery: Option<bool>,
    /// `url` blocks, checked in turn.
    pub urls: Vec<UrlCheck>,
    /// `virtualhost` of the checker.
    pub virtualhost: Option<String>,
    /// `enable_sni` (SSL_GET).
    pub enable_sni: bool,
    /// `sni_name` (SSL_GET).
    pub sni_name: Option<String>,
    /// `tls_compliant` (SSL_GET).
    pub tls_compliant: bool,
}

/// `url { ... }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlCheck {
    /// Where it is.
    pub location: Location,
    /// `path`.
    pub path: String,
    /// `digest`: MD5 of the body (from genhash).
    pub digest: Option<[u8; 16]>,
    /// `status_code` values and ranges; empty means the default 200-299.
    pub status_codes: Vec<RangeInclusive<u16>>,
    /// `virtualhost`.
    pub virtualhost: Option<String>,
    /// `regex`.
    pub regex: Option<String>,
    /// `regex_no_match`.
    pub regex_no_match: bool,
    /// `regex_options` words.
    pub regex_options: Vec<String>,
    /// `regex_min_offset`.
    pub regex_min_offset: Option<u64>,
    /// `regex_max_offset`.
    pub regex_max_offset: Option<u64>,
}

impl UrlCheck {
    /// Whether an HTTP status passes this URL's `status_code` rule.
    pub fn status_ok(&self, status: u16) -> bool {
        if self.status_codes.is_empty() {
            (200..=299).contains(&status)
        } else {
            self.status_codes.iter().any(|r| r.contains(&status))
        }
    }
}

/// `SMTP_CHECK` settings.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SmtpCheck {
    /// `helo_name` (default: local host name).
    pub helo_name: Option<String>,
}

/// DNS query types of `DNS_CHECK`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum DnsType {
    /// A.
    A,
    /// NS.
    Ns,
    /// CNAME.
    Cname,
    /// SOA (default).
    #[default]
    Soa,
    /// MX.
    Mx,
    /// TXT.
    Txt,
    /// AAAA.
    Aaaa,
}

impl DnsType {
    /// Query type number.
    pub const fn qtype(self) -> u16 {
        match self {
            DnsType::A => 1,
            DnsType::Ns => 2,
            DnsType::Cname => 5,
            DnsType::Soa => 6,
            DnsType::Mx => 15,
            DnsType::Txt => 16,
            DnsType::Aaaa => 28,
        }
    }
}

/// `DNS_CHECK` settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsCheck {
    /// `type` (default SOA).
    pub qtype: DnsType,
    /// `name` (default `.`).
    pub name: String,
}

impl Default for DnsCheck {
    fn default() -> DnsCheck {
        DnsCheck {
            qtype: DnsType::Soa,
            name: ".".to_owned(),
        }
    }
}

/// `MISC_CHECK` settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MiscCheck {
    /// `misc_path`: the program and its arguments.
    pub path: Script,
    /// `misc_timeout` (default: delay_loop).
    pub timeout: Option<Duration>,
    /// `misc_dynamic`: exit status 2..255 sets the weight to status - 2.
    pub dynamic: bool,
    /// `user USER [[:]GROUP]`.
    pub user: Option<ScriptUser>,
}

/// A hex byte pattern of `UDP_CHECK` (`require_reply`): each nibble may be
/// a wildcard (`X`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HexPattern {
    /// Byte values (wildcard nibbles are 0).
    pub bytes: Vec<u8>,
    /// Masks: 1 bits must match.
    pub masks: Vec<u8>,
}

impl HexPattern {
    /// Whether `data` matches over the shorter of the two lengths (as
    /// keepalived compares).
    pub fn matches(&self, data: &[u8]) -> bool {
        self.bytes
            .iter()
            .zip(&self.masks)
            .zip(data)
            .all(|((b, m), d)| (d & m) == (b & m))
    }
}

/// `UDP_CHECK` settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdpCheck {
    /// `payload` (None: random payload).
    pub payload: Option<Vec<u8>>,
    /// `require_reply [HEX]`: Some(None) = any reply, Some(Some(p)) =
    /// matching reply.
    pub require_reply: Option<Option<HexPattern>>,
    /// `min_reply_length` (default 0).
    pub min_reply_length: u32,
    /// `max_reply_length` (default 255).
    pub max_reply_length: u32,
}

impl Default for UdpCheck {
    fn default() -> UdpCheck {
        UdpCheck {
            payload: None,
            require_reply: None,
            min_reply_length: 0,
            max_reply_length: 255,
        }
    }
}
