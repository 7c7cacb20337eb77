//! Properties of the pure protocol pieces: no panic on any input, and
//! well-formed inputs parse to what they were built from.
#![allow(clippy::unwrap_used)]

use lvs_check::proto::{
    dns_answer_ok, dns_query, hex, http_request, parse_http_head, parse_smtp_reply,
};
use lvs_config::HttpProtocol;
use proptest::prelude::*;

proptest! {
    #[test]
    fn parsers_never_panic(data in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = parse_http_head(&data);
        let _ = parse_smtp_reply(&data);
        let q = dns_query(1, "example.com", 1).unwrap();
        let _ = dns_answer_ok(&q, &data);
        let _ = dns_answer_ok(&data, &data);
    }

    /// A reply of continuation lines `CODE-...` and a last `CODE ...` line
    /// parses to CODE and consumes exactly the reply.
    #[test]
    fn smtp_multiline_replies(
        code in 200u16..600,
        lines in proptest::collection::vec("[a-zA-Z0-9 .]{0,20}", 1..6),
        trailer in proptest::collection::vec(any::<u8>(), 0..20),
    ) {
        let mut reply = String::new();
        for (i, l) in lines.iter().enumerate() {
            let sep = if i + 1 == lines.len() { ' ' } else { '-' };
            reply.push_str(&format!("{code}{sep}{l}\r\n"));
        }
        let mut buf = reply.clone().into_bytes();
        buf.extend_from_slice(&trailer);
        prop_assert_eq!(parse_smtp_reply(&buf), Some((code, reply.len())));
        // Cut anywhere inside the last line: incomplete.
        prop_assert_eq!(parse_smtp_reply(&reply.as_bytes()[..reply.len() - 1]), None);
    }

    /// Any status and body: the head parses to the status and the body
    /// offset.
    #[test]
    fn http_heads_round_trip(
        status in 100u16..1000,
        headers in proptest::collection::vec(("[A-Za-z-]{1,12}", "[ -~]{0,30}"), 0..5),
        body in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let mut head = format!("HTTP/1.1 {status} Whatever\r\n");
        for (k, v) in &headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        let mut buf = head.clone().into_bytes();
        buf.extend_from_slice(&body);
        let h = parse_http_head(&buf).unwrap();
        prop_assert_eq!(h.status, status);
        prop_assert_eq!(h.body_start, head.len());
    }

    /// Names of valid labels encode to length-prefixed labels, and an
    /// answer built from the query (QR, one answer) is accepted.
    #[test]
    fn dns_names_encode(labels in proptest::collection::vec("[a-z0-9-]{1,20}", 0..5), id: u16) {
        let name = if labels.is_empty() { ".".to_owned() } else { labels.join(".") };
        let q = dns_query(id, &name, 28).unwrap();
        let mut expect = Vec::new();
        for l in &labels {
            expect.push(l.len() as u8);
            expect.extend_from_slice(l.as_bytes());
        }
        expect.push(0);
        expect.extend_from_slice(&[0, 28, 0, 1]);
        prop_assert_eq!(&q[12..], &expect[..]);
        let mut a = q.clone();
        a[2] |= 0x80;
        a[7] = 1;
        prop_assert!(dns_answer_ok(&q, &a));
    }
}

#[test]
fn request_and_hex_helpers() {
    assert_eq!(hex(&[0x00, 0xab, 0x10]), "00ab10");
    let r = http_request("/", "h:1", HttpProtocol::V1_0);
    assert!(r.ends_with("Host: h:1\r\n\r\n"));
}
