//! Shared test helpers: a minimal pcap reader and an independent checksum
//! reference (written from RFC 1071's definition, not the crate's code).
#![allow(dead_code, clippy::unwrap_used)]

use std::path::PathBuf;

/// Reads every frame of a classic little-endian microsecond pcap file.
pub fn read_pcap(name: &str) -> Vec<Vec<u8>> {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "testdata", name]
        .iter()
        .collect();
    let d = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(&d[..4], &[0xd4, 0xc3, 0xb2, 0xa1], "pcap magic");
    let linktype = u32::from_le_bytes(d[20..24].try_into().unwrap());
    assert_eq!(linktype, 1, "Ethernet link type");
    let mut off = 24;
    let mut out = Vec::new();
    while off < d.len() {
        let incl = u32::from_le_bytes(d[off + 8..off + 12].try_into().unwrap()) as usize;
        let orig = u32::from_le_bytes(d[off + 12..off + 16].try_into().unwrap()) as usize;
        assert_eq!(incl, orig, "capture is not truncated");
        off += 16;
        out.push(d[off..off + incl].to_vec());
        off += incl;
    }
    out
}

/// RFC 1071 by the book: 16-bit big-endian words, odd byte padded, carries
/// folded at the end.
pub fn ref_sum(parts: &[&[u8]]) -> u16 {
    let bytes: Vec<u8> = parts.iter().flat_map(|p| p.iter().copied()).collect();
    let mut acc: u64 = 0;
    for w in bytes.chunks(2) {
        let hi = u64::from(w[0]) << 8;
        let lo = w.get(1).map_or(0, |&b| u64::from(b));
        acc += hi | lo;
    }
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

/// Checksum by the book (with the field already zero in `parts`).
pub fn ref_checksum(parts: &[&[u8]]) -> u16 {
    !ref_sum(parts)
}

/// IPv4 pseudo-header bytes.
pub fn pseudo4(src: [u8; 4], dst: [u8; 4], proto: u8, len: usize) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&src);
    v.extend_from_slice(&dst);
    v.push(0);
    v.push(proto);
    v.extend_from_slice(&(len as u16).to_be_bytes());
    v
}

/// IPv6 pseudo-header bytes.
pub fn pseudo6(src: [u8; 16], dst: [u8; 16], next: u8, len: usize) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&src);
    v.extend_from_slice(&dst);
    v.extend_from_slice(&(len as u32).to_be_bytes());
    v.extend_from_slice(&[0, 0, 0, next]);
    v
}

/// CRC32c bit by bit, from the definition (reflected 0x82f63b78).
pub fn ref_crc32c(data: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in data {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0x82f6_3b78
            } else {
                c >> 1
            };
        }
    }
    !c
}

/// Hex string to bytes (whitespace ignored).
pub fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// A packet built by [`build`], with the layout needed to recompute its
/// checksums by the book.
#[derive(Debug, Clone)]
pub struct Built {
    /// IP packet bytes.
    pub bytes: Vec<u8>,
    /// Offset of the transport header.
    pub l4: usize,
    /// IPv6 (else IPv4).
    pub v6: bool,
    /// Transport protocol.
    pub proto: u8,
    /// UDP sent without checksum.
    pub udp_zero: bool,
}

/// What to build.
#[derive(Debug, Clone)]
pub struct Spec {
    pub v6: bool,
    pub proto: u8,
    pub src: [u8; 16],
    pub dst: [u8; 16],
    pub sport: u16,
    pub dport: u16,
    pub ttl: u8,
    pub tos: u8,
    pub ip_opts: usize,
    pub ext: usize,
    pub tcp_opts: usize,
    pub udp_zero: bool,
    pub payload: Vec<u8>,
}

fn be16(v: usize) -> [u8; 2] {
    (v as u16).to_be_bytes()
}

/// Builds an IP packet by hand (no crate code) and fills its checksums with
/// the reference implementation.
pub fn build(s: &Spec) -> Built {
    let mut l4 = Vec::new();
    match s.proto {
        6 => {
            l4.extend(s.sport.to_be_bytes());
            l4.extend(s.dport.to_be_bytes());
            l4.extend([0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88]);
            let doff = 5 + s.tcp_opts;
            l4.extend(((doff as u16) << 12 | 0x18).to_be_bytes());
            l4.extend([0xff, 0xff, 0, 0, 0, 0]);
            l4.extend(std::iter::repeat_n(1u8, s.tcp_opts * 4));
            l4.extend(&s.payload);
        }
        17 => {
            l4.extend(s.sport.to_be_bytes());
            l4.extend(s.dport.to_be_bytes());
            l4.extend(be16(8 + s.payload.len()));
            l4.extend([0, 0]);
            l4.extend(&s.payload);
        }
        132 => {
            l4.extend(s.sport.to_be_bytes());
            l4.extend(s.dport.to_be_bytes());
            l4.extend([0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 0]);
            l4.extend([0, 3]);
            l4.extend(be16(4 + s.payload.len()));
            l4.extend(&s.payload);
            while l4.len() % 4 != 0 {
                l4.push(0);
            }
        }
        _ => {
            l4.extend([if s.v6 { 128 } else { 8 }, 0, 0, 0]);
            l4.extend(s.sport.to_be_bytes());
            l4.extend(s.dport.to_be_bytes());
            l4.extend(&s.payload);
        }
    }
    let proto = match s.proto {
        6 | 17 | 132 => s.proto,
        _ if s.v6 => 58,
        _ => 1,
    };
    let mut p = Vec::new();
    if s.v6 {
        p.extend([0x60 | (s.tos >> 4), s.tos << 4, 0x12, 0x34]);
        p.extend(be16(s.ext * 8 + l4.len()));
        p.push(if s.ext > 0 { 60 } else { proto });
        p.push(s.ttl);
        p.extend(s.src);
        p.extend(s.dst);
        for i in 0..s.ext {
            p.push(if i + 1 < s.ext { 60 } else { proto });
            p.extend([0, 1, 4, 0, 0, 0, 0]);
        }
    } else {
        let hl = 20 + s.ip_opts * 4;
        p.push(0x40 | (hl / 4) as u8);
        p.push(s.tos);
        p.extend(be16(hl + l4.len()));
        p.extend([0xab, 0xcd, 0x40, 0]);
        p.push(s.ttl);
        p.push(proto);
        p.extend([0, 0]);
        p.extend(&s.src[..4]);
        p.extend(&s.dst[..4]);
        p.extend(std::iter::repeat_n(1u8, s.ip_opts * 4));
    }
    let l4_off = p.len();
    p.extend(l4);
    let mut b = Built {
        bytes: p,
        l4: l4_off,
        v6: s.v6,
        proto,
        udp_zero: s.udp_zero && proto == 17,
    };
    ref_fill(&mut b);
    b
}

/// Recomputes every checksum of `b` by the book.
pub fn ref_fill(b: &mut Built) {
    let l4 = b.l4;
    let p = &mut b.bytes;
    let len = p.len() - l4;
    let pseudo = |p: &[u8], proto: u8| -> Vec<u8> {
        if b.v6 {
            pseudo6(
                p[8..24].try_into().unwrap(),
                p[24..40].try_into().unwrap(),
                proto,
                len,
            )
        } else {
            pseudo4(
                p[12..16].try_into().unwrap(),
                p[16..20].try_into().unwrap(),
                proto,
                len,
            )
        }
    };
    if !b.v6 {
        p[10..12].fill(0);
        let c = ref_checksum(&[&p[..l4]]);
        p[10..12].copy_from_slice(&c.to_be_bytes());
    }
    match b.proto {
        6 => {
            p[l4 + 16..l4 + 18].fill(0);
            let c = ref_checksum(&[&pseudo(p, 6), &p[l4..]]);
            p[l4 + 16..l4 + 18].copy_from_slice(&c.to_be_bytes());
        }
        17 => {
            p[l4 + 6..l4 + 8].fill(0);
            if !b.udp_zero {
                let mut c = ref_checksum(&[&pseudo(p, 17), &p[l4..]]);
                if c == 0 {
                    c = 0xffff;
                }
                p[l4 + 6..l4 + 8].copy_from_slice(&c.to_be_bytes());
            }
        }
        132 => {
            p[l4 + 8..l4 + 12].fill(0);
            let c = ref_crc32c(&p[l4..]);
            p[l4 + 8..l4 + 12].copy_from_slice(&c.to_le_bytes());
        }
        1 => {
            p[l4 + 2..l4 + 4].fill(0);
            let c = ref_checksum(&[&p[l4..]]);
            p[l4 + 2..l4 + 4].copy_from_slice(&c.to_be_bytes());
        }
        _ => {
            p[l4 + 2..l4 + 4].fill(0);
            let c = ref_checksum(&[&pseudo(p, 58), &p[l4..]]);
            p[l4 + 2..l4 + 4].copy_from_slice(&c.to_be_bytes());
        }
    }
}

/// Proptest strategy for [`Spec`].
pub fn spec() -> impl proptest::strategy::Strategy<Value = Spec> {
    use proptest::prelude::*;
    (
        any::<bool>(),
        prop_oneof![Just(6u8), Just(17), Just(132), Just(1)],
        any::<[u8; 16]>(),
        any::<[u8; 16]>(),
        any::<(u16, u16, u8, u8)>(),
        (0usize..=10, 0usize..=3, 0usize..=10, any::<bool>()),
        proptest::collection::vec(any::<u8>(), 0..300),
    )
        .prop_map(
            |(
                v6,
                proto,
                src,
                dst,
                (sport, dport, ttl, tos),
                (ip_opts, ext, tcp_opts, udp_zero),
                payload,
            )| Spec {
                v6,
                proto,
                src,
                dst,
                sport,
                dport,
                ttl,
                tos,
                ip_opts,
                ext,
                tcp_opts,
                udp_zero,
                payload,
            },
        )
}
