//! The decapsulation program on what the real kernel's IPVS director sent to a real server
//! (`crates/lvs-wire/testdata/kernel-tunnel-side.pcap`, captured on the real server's veth in
//! the ipvs-ref lab, Linux 6.1: `--tun-type ipip`, `gue --tun-nocsum/--tun-csum/--tun-remcsum`
//! on port 6080 and `gre --tun-nocsum/--tun-csum`, 4in4, 6in6 and 4in6). Expected results come
//! from lvs-wire's independent tunnel parser: every tunnelled frame for the real server comes
//! out as its inner packet, except GUE with the remote-checksum option (outside the program's
//! contract: untouched); every other frame (the real server's own ICMP errors, neighbour
//! discovery, ARP) is untouched. Needs root (BPF_PROG_TEST_RUN).
#![allow(clippy::unwrap_used)]

mod common;

use std::path::PathBuf;

use common::*;
use lvs_realserver::decap::{Decap, DecapConfig, verdict};
use lvs_wire::encap::{self, TunnelKind};

fn read_pcap(path: &PathBuf) -> Vec<Vec<u8>> {
    let d = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(&d[..4], &[0xd4, 0xc3, 0xb2, 0xa1], "pcap magic");
    assert_eq!(
        u32::from_le_bytes(d[20..24].try_into().unwrap()),
        1,
        "Ethernet"
    );
    let mut off = 24;
    let mut out = Vec::new();
    while off < d.len() {
        let incl = u32::from_le_bytes(d[off + 8..off + 12].try_into().unwrap()) as usize;
        off += 16;
        out.push(d[off..off + incl].to_vec());
        off += incl;
    }
    out
}

#[test]
fn kernel_ipvs_tunnel_packets_are_decapsulated() {
    assert!(is_root(), "decap tests need root (BPF_PROG_TEST_RUN)");
    let path: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "..",
        "lvs-wire",
        "testdata",
        "kernel-tunnel-side.pcap",
    ]
    .iter()
    .collect();
    let d = Decap::load(&DecapConfig {
        gue_port: Some(6080),
        local: vec![v4("10.0.2.2"), v6("fd02::2")],
        force_compat: false,
    })
    .unwrap();
    let (mut decapsulated, mut remcsum, mut other) = (0u64, 0, 0);
    let mut kinds = [0u64; 3];
    for f in read_pcap(&path) {
        let et = u16::from_be_bytes([f[12], f[13]]);
        let (v, out) = d.test_run(&f).unwrap();
        assert_eq!(v, verdict::OK);
        let tunnel = if et == 0x0800 || et == 0x86dd {
            let ip = &f[14..];
            let to_rs = match ip[0] >> 4 {
                4 => ip[16..20] == [10, 0, 2, 2],
                _ => {
                    ip[24..40]
                        == v6("fd02::2")
                            .to_string()
                            .parse::<std::net::Ipv6Addr>()
                            .unwrap()
                            .octets()
                }
            };
            if to_rs {
                encap::decapsulate(ip, 6080).unwrap()
            } else {
                None
            }
        } else {
            None
        };
        match tunnel {
            Some(t) if matches!(t.kind, TunnelKind::Gue { remcsum: Some(_) }) => {
                remcsum += 1;
                assert_eq!(out, f);
            }
            Some(t) => {
                decapsulated += 1;
                kinds[match t.kind {
                    TunnelKind::Ipip => 0,
                    TunnelKind::Gue { .. } => 1,
                    TunnelKind::Gre => 2,
                }] += 1;
                let inner = &f[14 + t.inner_offset..14 + t.inner_offset + t.inner_len];
                let want_et: u16 = if t.inner_version == 6 { 0x86dd } else { 0x0800 };
                assert_eq!(&out[..12], &f[..12]);
                assert_eq!(u16::from_be_bytes([out[12], out[13]]), want_et);
                assert_eq!(&out[14..], inner, "{:?}", t.kind);
            }
            None => {
                other += 1;
                assert_eq!(out, f);
            }
        }
    }
    // wirecap.sh sent 12 tunnelled SYNs: one (41001, sent with checksum offload on) carries
    // the GUE remcsum option; 42004 (--tun-remcsum, complete checksum) is framed as plain csum.
    assert_eq!((decapsulated, remcsum), (11, 1));
    assert!(other >= 1, "other {other}");
    let st = d.stats().unwrap();
    assert_eq!([st.ipip, st.gue, st.gre], kinds);
    assert_eq!(kinds, [3, 5, 3]);
}
