//! Pure protocol pieces of the checkers: what is sent and how an answer is
//! judged. No I/O; every parser takes untrusted bytes and never panics.
//!
//! - HTTP_GET / SSL_GET (keepalived `check_http.c`): the request is
//!   `GET <path> HTTP/1.0` (or `1.1`, or `1.0` with `Connection: close` for
//!   `1.0C`) with `User-Agent: KeepAliveClient` and a `Host` header: the
//!   url's `virtualhost`, else the checker's, real server's or virtual
//!   server's (as written), else `address:port` (IPv6 in brackets), as
//!   keepalived 2.2.7 sends them (lab/keepalived_wire.out). A response passes
//!   when its status is in the url's `status_code` set (200-299 by
//!   default) and, when `digest` is set, the MD5 of the body (everything
//!   after the blank line, read to the end of the connection) matches.
//! - DNS_CHECK (`check_dns.c`): one query with recursion desired, class
//!   IN; the answer must echo the id, have QR set, RCODE 0 and at least
//!   one answer record.
//! - SMTP_CHECK (`check_smtp.c`): the banner must be a 220 reply, `HELO`
//!   must get 250; replies may be multi-line (`250-...` then `250 ...`).
//! - PING_CHECK (`check_ping.c`): one ICMP echo request (ICMPv6 for IPv6
//!   real servers); the matching echo reply (same identifier and sequence
//!   number) passes. IPv4 requests carry their RFC 1071 checksum; the
//!   kernel fills the ICMPv6 one.

use std::net::IpAddr;

use lvs_config::HttpProtocol;

/// keepalived's HTTP User-Agent.
pub const USER_AGENT: &str = "KeepAliveClient";

/// The Host header value: the virtual host as written when there is one,
/// else the connect address (IPv6 in brackets) with `:port`, whatever the
/// port (keepalived 2.2.7 sends `Host: 127.0.0.1:80`, and `Host:
/// www.example.com` to port 8080; lab/keepalived_wire.out).
pub fn host_header(host: Option<&str>, addr: IpAddr, port: u16) -> String {
    match (host, addr) {
        (Some(h), _) => h.to_owned(),
        (None, IpAddr::V6(a)) => format!("[{a}]:{port}"),
        (None, IpAddr::V4(a)) => format!("{a}:{port}"),
    }
}

/// The GET request for `path`.
pub fn http_request(path: &str, host: &str, protocol: HttpProtocol) -> String {
    let (version, close) = match protocol {
        HttpProtocol::V1_0 => ("1.0", false),
        HttpProtocol::V1_0C => ("1.0", true),
        HttpProtocol::V1_1 => ("1.1", true),
    };
    let mut r = format!("GET {path} HTTP/{version}\r\nUser-Agent: {USER_AGENT}\r\n");
    if close {
        r.push_str("Connection: close\r\n");
    }
    r.push_str("Host: ");
    r.push_str(host);
    r.push_str("\r\n\r\n");
    r
}

/// A parsed HTTP response: the status code and where the body starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpHead {
    /// Status code.
    pub status: u16,
    /// Offset of the body in the buffer.
    pub body_start: usize,
}

/// Parses the status line and finds the end of the headers of `buf`.
/// `None` when the head is incomplete or not HTTP.
pub fn parse_http_head(buf: &[u8]) -> Option<HttpHead> {
    let end = find(buf, b"\r\n\r\n")
        .map(|i| i + 4)
        .or_else(|| find(buf, b"\n\n").map(|i| i + 2))?;
    let line_end = buf.iter().position(|&b| b == b'\n')?;
    let line = std::str::from_utf8(&buf[..line_end]).ok()?.trim_end();
    let mut parts = line.split_ascii_whitespace();
    let version = parts.next()?;
    if !version.starts_with("HTTP/") {
        return None;
    }
    let code = parts.next()?;
    if code.len() != 3 {
        return None;
    }
    let status = code.parse().ok()?;
    Some(HttpHead {
        status,
        body_start: end,
    })
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Lower-case hex of a digest (as `genhash` prints it).
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// An SMTP reply: its code, once complete.
///
/// Lines are `NNN-text` (more follow) or `NNN text` / `NNN` (last). Returns
/// `Some((code, consumed))` when a complete reply is at the start of `buf`,
/// `None` when more data is needed; a malformed line gives code 0.
pub fn parse_smtp_reply(buf: &[u8]) -> Option<(u16, usize)> {
    let mut at = 0;
    loop {
        let rest = &buf[at..];
        let nl = rest.iter().position(|&b| b == b'\n')?;
        let line = &rest[..nl];
        at += nl + 1;
        let code = line
            .get(..3)
            .and_then(|c| std::str::from_utf8(c).ok())
            .and_then(|c| c.parse::<u16>().ok());
        let Some(code) = code else {
            return Some((0, at));
        };
        if line.get(3) != Some(&b'-') {
            return Some((code, at));
        }
    }
}

/// DNS header flag: recursion desired.
const DNS_RD: u16 = 0x0100;
/// DNS class IN.
const DNS_CLASS_IN: u16 = 1;

/// Why a DNS name cannot be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DnsNameError {
    /// A label is empty or longer than 63 bytes.
    #[error("bad label in DNS name {0:?}")]
    Label(String),
    /// The encoded name exceeds 255 bytes.
    #[error("DNS name {0:?} too long")]
    TooLong(String),
}

/// Builds a DNS query for `name` (`.` is the root) and `qtype`.
pub fn dns_query(id: u16, name: &str, qtype: u16) -> Result<Vec<u8>, DnsNameError> {
    let mut q = Vec::with_capacity(32 + name.len());
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&DNS_RD.to_be_bytes());
    q.extend_from_slice(&1u16.to_be_bytes()); // QDCOUNT
    q.extend_from_slice(&[0; 6]); // AN, NS, AR counts
    let trimmed = name.strip_suffix('.').unwrap_or(name);
    if !trimmed.is_empty() {
        for label in trimmed.split('.') {
            if label.is_empty() || label.len() > 63 {
                return Err(DnsNameError::Label(name.to_owned()));
            }
            q.push(label.len() as u8);
            q.extend_from_slice(label.as_bytes());
        }
    }
    q.push(0);
    if q.len() - 12 > 255 {
        return Err(DnsNameError::TooLong(name.to_owned()));
    }
    q.extend_from_slice(&qtype.to_be_bytes());
    q.extend_from_slice(&DNS_CLASS_IN.to_be_bytes());
    Ok(q)
}

/// Whether `answer` is a good reply to `query` (built by [`dns_query`]):
/// same id, QR set, RCODE 0, the same question, at least one answer.
pub fn dns_answer_ok(query: &[u8], answer: &[u8]) -> bool {
    if answer.len() < 12 || query.len() < 12 {
        return false;
    }
    let flags = u16::from_be_bytes([answer[2], answer[3]]);
    let qr = flags & 0x8000 != 0;
    let rcode = flags & 0x000f;
    let qdcount = u16::from_be_bytes([answer[4], answer[5]]);
    let ancount = u16::from_be_bytes([answer[6], answer[7]]);
    let question = &query[12..];
    answer[..2] == query[..2]
        && qr
        && rcode == 0
        && qdcount == 1
        && ancount >= 1
        && answer
            .get(12..12 + question.len())
            .is_some_and(|q| q.eq_ignore_ascii_case(question))
}

/// The internet checksum (RFC 1071) of `data`.
pub fn inet_checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for pair in data.chunks(2) {
        let word = match pair {
            [a, b] => u16::from_be_bytes([*a, *b]),
            [a] => u16::from_be_bytes([*a, 0]),
            _ => 0,
        };
        sum += u32::from(word);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An ICMP echo request (type 8, or 128 for ICMPv6) with `payload`.
pub fn icmp_echo_request(v6: bool, id: u16, seq: u16, payload: &[u8]) -> Vec<u8> {
    let mut p = Vec::with_capacity(8 + payload.len());
    p.push(if v6 { 128 } else { 8 });
    p.push(0);
    p.extend_from_slice(&[0, 0]);
    p.extend_from_slice(&id.to_be_bytes());
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(payload);
    if !v6 {
        let c = inet_checksum(&p);
        p[2..4].copy_from_slice(&c.to_be_bytes());
    }
    p
}

/// Whether `packet`, as a raw socket returns it (IPv4: with its IP
/// header; ICMPv6: without), is the echo reply to request `id`/`seq`.
pub fn icmp_echo_reply_matches(v6: bool, packet: &[u8], id: u16, seq: u16) -> bool {
    let icmp = if v6 {
        packet
    } else {
        let Some(first) = packet.first() else {
            return false;
        };
        let ihl = usize::from(first & 0x0f) * 4;
        if first >> 4 != 4 || ihl < 20 {
            return false;
        }
        match packet.get(ihl..) {
            Some(rest) => rest,
            None => return false,
        }
    };
    let reply_type = if v6 { 129 } else { 0 };
    matches!(icmp, [t, 0, _, _, i0, i1, s0, s1, ..]
        if *t == reply_type
            && u16::from_be_bytes([*i0, *i1]) == id
            && u16::from_be_bytes([*s0, *s1]) == seq)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_shapes() {
        assert_eq!(
            http_request("/health", "www.example.com", HttpProtocol::V1_0),
            "GET /health HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nHost: www.example.com\r\n\r\n"
        );
        // Byte for byte what keepalived 2.2.7 sent (lab/keepalived_wire.out).
        assert_eq!(
            http_request("/b", "127.0.0.1:80", HttpProtocol::V1_1),
            "GET /b HTTP/1.1\r\nUser-Agent: KeepAliveClient\r\nConnection: close\r\nHost: 127.0.0.1:80\r\n\r\n"
        );
        assert_eq!(
            http_request("/c", "www.example.com", HttpProtocol::V1_0C),
            "GET /c HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nConnection: close\r\nHost: www.example.com\r\n\r\n"
        );
    }

    #[test]
    fn host_header_rules() {
        let v4: IpAddr = "10.1.2.3".parse().unwrap();
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        assert_eq!(host_header(None, v4, 80), "10.1.2.3:80");
        assert_eq!(host_header(None, v4, 8080), "10.1.2.3:8080");
        assert_eq!(host_header(None, v6, 443), "[2001:db8::1]:443");
        assert_eq!(host_header(Some("a.example"), v6, 81), "a.example");
    }

    #[test]
    fn http_heads() {
        let r = b"HTTP/1.1 204 No Content\r\nX: y\r\n\r\nbody";
        assert_eq!(
            parse_http_head(r),
            Some(HttpHead {
                status: 204,
                body_start: r.len() - 4
            })
        );
        assert_eq!(parse_http_head(b"HTTP/1.0 200 OK\r\n"), None);
        assert_eq!(parse_http_head(b"SSH-2.0-x\r\n\r\n"), None);
        assert_eq!(parse_http_head(b"HTTP/1.0 2000 OK\r\n\r\n"), None);
    }

    #[test]
    fn smtp_replies() {
        assert_eq!(parse_smtp_reply(b"220 ready\r\n"), Some((220, 11)));
        assert_eq!(parse_smtp_reply(b"250-a\r\n250-b\r\n"), None);
        assert_eq!(parse_smtp_reply(b"250-a\r\n250 b\r\nX"), Some((250, 14)));
        assert_eq!(parse_smtp_reply(b"hello\r\n"), Some((0, 7)));
        assert_eq!(parse_smtp_reply(b"220"), None);
    }

    #[test]
    fn dns_query_encoding() {
        // keepalived 2.2.7's query for `type A name www.example.com`, id
        // 0xee3b (lab/keepalived_wire.out).
        let lab = "ee3b0100000100000000000003777777076578616d706c6503636f6d0000010001";
        assert_eq!(hex(&dns_query(0xee3b, "www.example.com", 1).unwrap()), lab);
        let q = dns_query(0x1234, "www.example.com", 1).unwrap();
        assert_eq!(&q[..4], &[0x12, 0x34, 0x01, 0x00]);
        assert_eq!(&q[12..16], b"\x03www");
        assert_eq!(&q[q.len() - 4..], &[0, 1, 0, 1]);
        let root = dns_query(1, ".", 6).unwrap();
        assert_eq!(&root[12..], &[0, 0, 6, 0, 1]);
        assert!(dns_query(1, "a..b", 1).is_err());
        assert!(dns_query(1, &"a".repeat(64), 1).is_err());
    }

    #[test]
    fn dns_answer_rules() {
        let q = dns_query(7, "example.com", 1).unwrap();
        let mut a = q.clone();
        a[2] |= 0x80; // QR
        a[7] = 1; // ANCOUNT
        assert!(dns_answer_ok(&q, &a));
        let mut bad = a.clone();
        bad[1] = 8; // id
        assert!(!dns_answer_ok(&q, &bad));
        let mut bad = a.clone();
        bad[3] |= 3; // NXDOMAIN
        assert!(!dns_answer_ok(&q, &bad));
        let mut bad = a.clone();
        bad[7] = 0;
        assert!(!dns_answer_ok(&q, &bad));
        assert!(!dns_answer_ok(&q, &q));
        assert!(!dns_answer_ok(&q, &a[..11]));
    }

    #[test]
    fn internet_checksum_of_rfc_1071_example() {
        // RFC 1071 section 3: the words 0001 f203 f4f5 f6f7 sum to ddf2
        // (end-around carry), whose complement is 220d.
        assert_eq!(
            inet_checksum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]),
            0x220d
        );
        // An odd length pads with a zero byte.
        assert_eq!(inet_checksum(&[0xff]), !0xff00);
    }

    #[test]
    fn icmp_echo_request_and_reply() {
        let req = icmp_echo_request(false, 0x1234, 7, b"lvs");
        assert_eq!(&req[..2], &[8, 0]);
        assert_eq!(&req[4..8], &[0x12, 0x34, 0, 7]);
        // A packet carrying its checksum sums to zero.
        assert_eq!(inet_checksum(&req), 0);
        let v6 = icmp_echo_request(true, 1, 2, b"");
        assert_eq!(v6, [128, 0, 0, 0, 0, 1, 0, 2]);
        // IPv4 reply: a 20-byte header, then type 0 with the same id/seq.
        let mut reply = vec![0x45; 1];
        reply.extend_from_slice(&[0; 19]);
        reply.extend_from_slice(&[0, 0, 0, 0, 0x12, 0x34, 0, 7]);
        assert!(icmp_echo_reply_matches(false, &reply, 0x1234, 7));
        assert!(!icmp_echo_reply_matches(false, &reply, 0x1234, 8));
        assert!(!icmp_echo_reply_matches(false, &reply, 0x1235, 7));
        // Our own request looped back is not a reply.
        let mut looped = reply.clone();
        looped[20] = 8;
        assert!(!icmp_echo_reply_matches(false, &looped, 0x1234, 7));
        assert!(!icmp_echo_reply_matches(false, &reply[..24], 0x1234, 7));
        assert!(!icmp_echo_reply_matches(false, &[], 1, 1));
        assert!(icmp_echo_reply_matches(
            true,
            &[129, 0, 9, 9, 0, 1, 0, 2],
            1,
            2
        ));
        assert!(!icmp_echo_reply_matches(
            true,
            &[128, 0, 9, 9, 0, 1, 0, 2],
            1,
            2
        ));
    }
}
