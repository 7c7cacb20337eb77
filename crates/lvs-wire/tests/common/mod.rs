//! Shared test helpers: a minimal pcap reader and an independent checksum
//! reference (written from RFC 1071's definition, not the crate's code).
#![allow(dead_code)]

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
