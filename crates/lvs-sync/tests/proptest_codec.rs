//! Property tests: the decoder never panics and stays within the datagram; what the
//! encoder writes decodes to the same entries; the master never emits a message
//! larger than its limit (except a single oversized entry, as the kernel does).

#![allow(clippy::unwrap_used)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use lvs_sync::backup::{self, BackupConfig};
use lvs_sync::master::{Master, MasterConfig, SyncConn, SyncMark};
use lvs_sync::wire::{self, ConnEntry, MessageBuilder, Seq, SeqData, Version};
use proptest::prelude::*;

fn arb_addrs(v6: bool) -> BoxedStrategy<(IpAddr, IpAddr, IpAddr)> {
    if v6 {
        (any::<u128>(), any::<u128>(), any::<u128>())
            .prop_map(|(a, b, c)| {
                (
                    IpAddr::V6(Ipv6Addr::from(a)),
                    IpAddr::V6(Ipv6Addr::from(b)),
                    IpAddr::V6(Ipv6Addr::from(c)),
                )
            })
            .boxed()
    } else {
        (any::<u32>(), any::<u32>(), any::<u32>())
            .prop_map(|(a, b, c)| {
                (
                    IpAddr::V4(Ipv4Addr::from(a)),
                    IpAddr::V4(Ipv4Addr::from(b)),
                    IpAddr::V4(Ipv4Addr::from(c)),
                )
            })
            .boxed()
    }
}

#[derive(Debug, Clone)]
struct Owned {
    v6: bool,
    addrs: (IpAddr, IpAddr, IpAddr),
    protocol: u8,
    ports: (u16, u16, u16),
    flags: u32,
    state: u16,
    fwmark: u32,
    timeout: u32,
    seq: Option<[u32; 6]>,
    pe: Option<(Vec<u8>, Option<Vec<u8>>)>,
}

impl Owned {
    fn entry(&self, version: Version) -> ConnEntry<'_> {
        let seq = self.seq.map(|s| SeqData {
            in_seq: Seq {
                init_seq: s[0],
                delta: s[1],
                previous_delta: s[2],
            },
            out_seq: Seq {
                init_seq: s[3],
                delta: s[4],
                previous_delta: s[5],
            },
        });
        match version {
            // v0 carries 16-bit flags, no fwmark/timeout/PE; the sequence option is
            // present exactly when IN_SEQ/OUT_SEQ is set.
            Version::V0 => {
                let mut flags = self.flags & 0xffff;
                if seq.is_some() {
                    flags |= lvs_sync::flags::IN_SEQ;
                } else {
                    flags &= !lvs_sync::flags::SEQ_MASK;
                }
                ConnEntry {
                    protocol: self.protocol,
                    caddr: self.addrs.0,
                    vaddr: self.addrs.1,
                    daddr: self.addrs.2,
                    cport: self.ports.0,
                    vport: self.ports.1,
                    dport: self.ports.2,
                    flags,
                    state: self.state,
                    fwmark: 0,
                    timeout: 0,
                    seq,
                    pe_data: None,
                    pe_name: None,
                    unknown_mandatory_option: false,
                }
            }
            Version::V1 => ConnEntry {
                protocol: self.protocol,
                caddr: self.addrs.0,
                vaddr: self.addrs.1,
                daddr: self.addrs.2,
                cport: self.ports.0,
                vport: self.ports.1,
                dport: self.ports.2,
                flags: self.flags,
                state: self.state,
                fwmark: self.fwmark,
                timeout: self.timeout,
                seq,
                pe_data: self.pe.as_ref().map(|(d, _)| d.as_slice()),
                pe_name: self.pe.as_ref().and_then(|(_, n)| n.as_deref()),
                unknown_mandatory_option: false,
            },
        }
    }
}

fn arb_owned() -> impl Strategy<Value = Owned> {
    any::<bool>().prop_flat_map(|v6| {
        (
            arb_addrs(v6),
            any::<u8>(),
            any::<(u16, u16, u16)>(),
            any::<u32>(),
            any::<u16>(),
            any::<u32>(),
            any::<u32>(),
            proptest::option::of(any::<[u32; 6]>()),
            proptest::option::of((
                proptest::collection::vec(any::<u8>(), 1..=255),
                proptest::option::of(proptest::collection::vec(any::<u8>(), 1..=16)),
            )),
        )
            .prop_map(
                move |(addrs, protocol, ports, flags, state, fwmark, timeout, seq, pe)| Owned {
                    v6,
                    addrs,
                    protocol,
                    ports,
                    flags,
                    state,
                    fwmark,
                    timeout,
                    seq,
                    pe,
                },
            )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn decoding_arbitrary_bytes_never_panics(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        if let Ok(m) = wire::parse(&data) {
            let mut n = 0usize;
            for e in m.entries() {
                n += 1;
                if e.is_err() { break; }
            }
            prop_assert!(n <= 255);
        }
        let _ = backup::process(&BackupConfig::default(), &data, |_| {});
    }

    #[test]
    fn decoding_mutated_valid_messages_never_panics(
        es in proptest::collection::vec(arb_owned(), 1..6),
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
    ) {
        let mut b = MessageBuilder::new(Version::V1, 3, 65507, 0);
        for e in &es {
            b.push(&e.entry(Version::V1)).unwrap();
        }
        let mut d = b.finish();
        for (i, x) in flips {
            let i = i % d.len();
            if !(2..4).contains(&i) {
                d[i] ^= x;
            }
        }
        if let Ok(m) = wire::parse(&d) {
            for e in m.entries() {
                let _ = e;
            }
        }
        let _ = backup::process(&BackupConfig::default(), &d, |_| {});
    }

    #[test]
    fn v1_round_trip(es in proptest::collection::vec(arb_owned(), 1..20)) {
        let mut b = MessageBuilder::new(Version::V1, 9, 65507, 0);
        for e in &es {
            b.push(&e.entry(Version::V1)).unwrap();
        }
        let d = b.finish();
        let m = wire::parse(&d).unwrap();
        prop_assert_eq!(m.version, Version::V1);
        prop_assert_eq!(m.syncid, 9);
        let got: Vec<_> = m.entries().collect::<Result<_, _>>().unwrap();
        let want: Vec<_> = es.iter().map(|e| {
            let mut x = e.entry(Version::V1);
            // A PE name travels only with PE data; type 0 vs IPv6 from the addresses.
            if x.pe_data.is_none() { x.pe_name = None; }
            x
        }).collect();
        prop_assert_eq!(got, want);
    }

    #[test]
    fn v0_round_trip(es in proptest::collection::vec(arb_owned().prop_filter("v4", |o| !o.v6), 1..20)) {
        let mut b = MessageBuilder::new(Version::V0, 4, 65507, 0);
        for e in &es {
            b.push(&e.entry(Version::V0)).unwrap();
        }
        let d = b.finish();
        let m = wire::parse(&d).unwrap();
        // A v0 message whose first byte (nr_conns) is 0 would read as v1 only with
        // byte 5 = 1 and spare 0; with entries present nr_conns > 0, so it is v0.
        prop_assert_eq!(m.version, Version::V0);
        let got: Vec<_> = m.entries().collect::<Result<_, _>>().unwrap();
        let want: Vec<_> = es.iter().map(|e| e.entry(Version::V0)).collect();
        prop_assert_eq!(got, want);
    }

    #[test]
    fn master_messages_respect_maxlen(
        maxlen in 40usize..600,
        n in 1usize..80,
        v6_every in 1usize..5,
    ) {
        let mut m = Master::new(MasterConfig { syncid: 1, maxlen, qlen_max: 1000, ..MasterConfig::default() });
        for i in 0..n {
            let v6 = i % v6_every == 0;
            let (c, v, d): (IpAddr, IpAddr, IpAddr) = if v6 {
                ("fd00::2".parse().unwrap(), "fd00::100".parse().unwrap(), "fd00:2::2".parse().unwrap())
            } else {
                ([10, 0, 0, 2].into(), [10, 0, 0, 100].into(), [10, 0, 2, 2].into())
            };
            let mut conn = SyncConn {
                protocol: 17, caddr: c, vaddr: v, daddr: d, cport: i as u16, vport: 53, dport: 53,
                fwmark: 0, flags: 0x100, state: 0, timeout: Duration::from_secs(300),
                in_pkts: 0, seq: None, pe: None, mark: SyncMark::default(),
            };
            m.sync_conn(Duration::from_secs(1), &mut conn, 3, &mut []);
        }
        let mut entries = 0;
        while let Some(d) = m.poll_transmit(Duration::from_secs(10)) {
            let msg = wire::parse(&d).unwrap();
            let k = msg.entries().count();
            prop_assert!(k >= 1);
            prop_assert!(d.len() <= maxlen || k == 1, "{} bytes > {}", d.len(), maxlen);
            entries += k;
        }
        prop_assert_eq!(entries, n);
    }
}
