//! Katran-style fixture table: each case is a description, a service
//! configuration, and a sequence of (input frame, expected verdict,
//! expected output frame). Inputs and expected outputs are built by the
//! independent builder in `common` (full checksums from scratch), from the
//! kernel's rules worked by hand (comments say which rule).
//!
//! The table is also written as hex to `testdata/fixtures/*.txt` (one file
//! per case: `in <hex>` / `out <verdict> <hex>` lines) so that a later
//! BPF_PROG_TEST_RUN harness can replay it against an XDP object; the test
//! `fixture_files_are_current` fails when those files are stale (regenerate
//! with `LVS_DATAPATH_WRITE_FIXTURES=1 cargo test -p lvs-datapath`).

#![allow(clippy::unwrap_used)]

mod common;

use std::net::IpAddr;

use common::*;
use lvs_core::dest::TunnelCsum;
use lvs_core::{FwdMethod, Protocol, ServiceKey, Time, TunnelType};
use lvs_datapath::{Datapath, DropReason, Frame, FwmarkRule, Verdict};
use lvs_wire::MacAddr;

/// A value the expected bytes need that only the run knows (the GUE
/// source port of our flow hash, the FULLNAT local port `lvs-core`
/// allocated); the function builds the expected bytes from the data path
/// state after the step and the actual output.
type Later = Box<dyn Fn(&Datapath, &[u8]) -> Vec<u8>>;

/// Expected output.
enum Out {
    /// These exact bytes.
    Bytes(Vec<u8>),
    /// Bytes built once the run has told the free parameter.
    Computed(Later),
    /// The input, untouched.
    Same,
    /// Not checked (drops).
    Ignore,
}

struct Step {
    input: Vec<u8>,
    verdict: Verdict,
    out: Out,
}

struct Case {
    name: &'static str,
    desc: &'static str,
    dp: Datapath,
    steps: Vec<Step>,
}

// ------------------------------------------------------------ helpers

const CPORT: u16 = 40000;
const ID: u16 = 0x1234;

fn fwd_ext() -> Verdict {
    Verdict::Forward {
        ifindex: IF_EXT,
        next_hop: router_mac(),
    }
}
fn fwd_int(m: MacAddr) -> Verdict {
    Verdict::Forward {
        ifindex: IF_INT,
        next_hop: m,
    }
}
fn reply_ext() -> Verdict {
    Verdict::Reply {
        ifindex: IF_EXT,
        next_hop: router_mac(),
    }
}

/// An IP packet of either family with the fixtures' defaults: TOS 0,
/// id 0x1234, DF set (IPv4).
fn ip(src: IpAddr, dst: IpAddr, proto: u8, ttl: u8, l4: &[u8]) -> Vec<u8> {
    ip_df(src, dst, proto, ttl, true, l4)
}

fn ip_df(src: IpAddr, dst: IpAddr, proto: u8, ttl: u8, df: bool, l4: &[u8]) -> Vec<u8> {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => ipv4(
            V4 {
                src: s,
                dst: d,
                proto,
                ttl,
                tos: 0,
                id: ID,
                df,
            },
            l4,
        ),
        (IpAddr::V6(s), IpAddr::V6(d)) => ipv6(
            V6 {
                src: s,
                dst: d,
                next: proto,
                hlim: ttl,
                tc: 0,
            },
            l4,
        ),
        _ => panic!("mixed"),
    }
}

fn et(p: &[u8]) -> u16 {
    if p[0] >> 4 == 6 { 0x86dd } else { 0x0800 }
}

/// A frame from the client-side router to the director.
fn from_ext(p: &[u8]) -> Vec<u8> {
    eth(dir_ext_mac(), router_mac(), et(p), p)
}
/// A frame from a real server to the director.
fn from_rs(m: MacAddr, p: &[u8]) -> Vec<u8> {
    eth(dir_int_mac(), m, et(p), p)
}
/// A frame the director sends to the client-side router.
fn to_ext(p: &[u8]) -> Vec<u8> {
    eth(router_mac(), dir_ext_mac(), et(p), p)
}
/// A frame the director sends to a real server.
fn to_rs(m: MacAddr, p: &[u8]) -> Vec<u8> {
    eth(m, dir_int_mac(), et(p), p)
}

/// Transport segment of `proto`: TCP with `flags` and `data`, UDP with
/// checksum and `data`, SCTP with chunk type `flags` and `data` as value.
fn l4(proto: u8, s: IpAddr, d: IpAddr, sp: u16, dp: u16, flags: u8, data: &[u8]) -> Vec<u8> {
    match proto {
        TCP => tcp(
            s,
            d,
            sp,
            dp,
            1000,
            if flags & ACK != 0 { 2000 } else { 0 },
            flags,
            data,
        ),
        UDP => udp(s, d, sp, dp, data, true),
        SCTP => sctp(sp, dp, 0xdead_beef, flags, data),
        _ => panic!(),
    }
}

#[allow(clippy::too_many_arguments)]
fn pkt(
    proto: u8,
    s: IpAddr,
    sp: u16,
    d: IpAddr,
    dp: u16,
    ttl: u8,
    flags: u8,
    data: &[u8],
) -> Vec<u8> {
    ip(s, d, proto, ttl, &l4(proto, s, d, sp, dp, flags, data))
}

fn proto_of(p: u8) -> Protocol {
    match p {
        TCP => Protocol::Tcp,
        UDP => Protocol::Udp,
        _ => Protocol::Sctp,
    }
}

const INIT: u8 = 1;
const INIT_ACK: u8 = 2;
/// SCTP INIT chunk value: tag, a_rwnd, streams, initial TSN.
const INIT_VALUE: [u8; 16] = [0, 0, 0, 1, 0, 1, 0, 0, 0, 10, 0, 10, 0, 0, 0, 1];

/// Opening and reply flags/payload for a protocol.
fn open(proto: u8) -> (u8, &'static [u8]) {
    match proto {
        TCP => (SYN, b""),
        UDP => (0, b"query"),
        _ => (INIT, &INIT_VALUE),
    }
}
fn answer(proto: u8) -> (u8, &'static [u8]) {
    match proto {
        TCP => (SYN | ACK, b""),
        UDP => (0, b"answer"),
        _ => (INIT_ACK, &INIT_VALUE),
    }
}

fn addrs(v6: bool) -> (IpAddr, IpAddr, IpAddr) {
    if v6 {
        (client6().into(), vip6().into(), rs1_6().into())
    } else {
        (client4().into(), vip4().into(), rs1_4().into())
    }
}

// ---------------------------------------------------------------- cases

/// NAT: DNAT vip:80 → rs:8080 on the way in (`ip_vs_nat_xmit`: TTL
/// decremented by `__ip_vs_get_out_rt`, addresses/ports rewritten), SNAT
/// back on the reply (`handle_response`), then a second client packet on
/// the established connection.
fn nat_case(name: &'static str, proto: u8, v6: bool) -> Case {
    let (c, v, r) = addrs(v6);
    let dp = datapath(
        rr(key(proto_of(proto), v, 80)),
        &[(r, 8080, FwdMethod::Masq)],
    );
    let (of, od) = open(proto);
    let (af, ad) = answer(proto);
    let mut steps = vec![
        Step {
            input: from_ext(&pkt(proto, c, CPORT, v, 80, 64, of, od)),
            verdict: fwd_int(rs1_mac()),
            out: Out::Bytes(to_rs(rs1_mac(), &pkt(proto, c, CPORT, r, 8080, 63, of, od))),
        },
        Step {
            input: from_rs(rs1_mac(), &pkt(proto, r, 8080, c, CPORT, 64, af, ad)),
            verdict: fwd_ext(),
            out: Out::Bytes(to_ext(&pkt(proto, v, 80, c, CPORT, 63, af, ad))),
        },
    ];
    if proto == TCP {
        steps.push(Step {
            input: from_ext(&pkt(
                proto,
                c,
                CPORT,
                v,
                80,
                64,
                ACK | PSH,
                b"GET / HTTP/1.0\r\n\r\n",
            )),
            verdict: fwd_int(rs1_mac()),
            out: Out::Bytes(to_rs(
                rs1_mac(),
                &pkt(
                    proto,
                    c,
                    CPORT,
                    r,
                    8080,
                    63,
                    ACK | PSH,
                    b"GET / HTTP/1.0\r\n\r\n",
                ),
            )),
        });
    }
    Case {
        name,
        desc: "NAT: DNAT with port mapping in, SNAT out, TTL-1, checksums",
        dp,
        steps,
    }
}

/// DR: only the MAC header changes (and the TTL: every xmit decrements it).
fn dr_case(name: &'static str, proto: u8, v6: bool) -> Case {
    let (c, v, r) = addrs(v6);
    let dp = datapath(
        rr(key(proto_of(proto), v, 80)),
        &[(r, 80, FwdMethod::Route)],
    );
    let (of, od) = open(proto);
    let mut steps = vec![Step {
        input: from_ext(&pkt(proto, c, CPORT, v, 80, 64, of, od)),
        verdict: fwd_int(rs1_mac()),
        out: Out::Bytes(to_rs(rs1_mac(), &pkt(proto, c, CPORT, v, 80, 63, of, od))),
    }];
    if proto == TCP {
        steps.push(Step {
            input: from_ext(&pkt(proto, c, CPORT, v, 80, 20, ACK, b"x")),
            verdict: fwd_int(rs1_mac()),
            out: Out::Bytes(to_rs(
                rs1_mac(),
                &pkt(proto, c, CPORT, v, 80, 19, ACK, b"x"),
            )),
        });
    }
    Case {
        name,
        desc: "DR: destination MAC rewrite, TTL-1, addresses untouched",
        dp,
        steps,
    }
}

/// The outer header the kernel's `ip_vs_tunnel_xmit{,_v6}` builds: source
/// the director's address toward the RS, TTL = decremented inner TTL, DF
/// copied from an IPv4 inner packet (pmtu_disc=1), id 0, flow label 0,
/// DS = the inner DS with ECN encapsulated (all zero here).
fn outer(rs: IpAddr, proto: u8, inner_ttl: u8, df: bool, payload: &[u8]) -> Vec<u8> {
    outer_ds(rs, proto, inner_ttl, df, 0, payload)
}

/// [`outer`] with the DS byte the inner packet dictates.
fn outer_ds(rs: IpAddr, proto: u8, inner_ttl: u8, df: bool, ds: u8, payload: &[u8]) -> Vec<u8> {
    match rs {
        IpAddr::V4(d) => ipv4(
            V4 {
                src: dir_int4(),
                dst: d,
                proto,
                ttl: inner_ttl,
                tos: ds,
                id: 0,
                df,
            },
            payload,
        ),
        IpAddr::V6(d) => ipv6(
            V6 {
                src: dir_int6(),
                dst: d,
                next: proto,
                hlim: inner_ttl,
                tc: ds,
            },
            payload,
        ),
    }
}

/// TUN with IPIP (or GRE): `inner_v6` is the service family, `outer_v6`
/// the real server's.
fn tun_case(
    name: &'static str,
    inner_v6: bool,
    outer_v6: bool,
    kind: TunnelType,
    csum: TunnelCsum,
) -> Case {
    let (c, v, _) = addrs(inner_v6);
    let r: IpAddr = if outer_v6 {
        rs1_6().into()
    } else {
        rs1_4().into()
    };
    let dp = datapath(
        rr(key(Protocol::Tcp, v, 80)),
        &[(r, 80, tun(kind, 0, csum))],
    );
    let inner = pkt(TCP, c, CPORT, v, 80, 63, SYN, b"");
    let inner_proto = if inner_v6 { 41 } else { 4 };
    let df = !inner_v6;
    let out = match kind {
        TunnelType::Ipip => outer(r, inner_proto, 63, df, &inner),
        TunnelType::Gre => {
            // RFC 2784: C bit, version 0, protocol type = inner EtherType;
            // with C the checksum covers GRE header + payload.
            let ethertype: u16 = if inner_v6 { 0x86dd } else { 0x0800 };
            let with = csum != TunnelCsum::NoCsum;
            let mut g = vec![if with { 0x80 } else { 0 }, 0];
            g.extend(ethertype.to_be_bytes());
            if with {
                g.extend([0, 0, 0, 0]);
            }
            g.extend_from_slice(&inner);
            if with {
                let c = csum_of(&g);
                g[4..6].copy_from_slice(&c.to_be_bytes());
            }
            outer(r, 47, 63, df, &g)
        }
        TunnelType::Gue => unreachable!(),
    };
    Case {
        name,
        desc: "TUN: encapsulation with the kernel's outer header rules",
        dp,
        steps: vec![Step {
            input: from_ext(&pkt(TCP, c, CPORT, v, 80, 64, SYN, b"")),
            verdict: fwd_int(rs1_mac()),
            out: Out::Bytes(to_rs(rs1_mac(), &out)),
        }],
    }
}

fn csum_of(b: &[u8]) -> u16 {
    common::csum(b)
}

/// PMTU on a tunnel: a full-size DF packet does not fit the tunnel MTU
/// (1500 - 20 for IPIP over IPv4, 1500 - 40 over IPv6), so the client gets
/// "fragmentation needed" / "packet too big" with that MTU, from the
/// virtual address (`icmp_send` takes the local destination as source),
/// TTL 64, TOS 0xc0, quoting the packet after the TTL decrement, cut to
/// 576 / 1280 bytes.
fn pmtu_case(name: &'static str, v6: bool) -> Case {
    let (c, v, r) = addrs(v6);
    let dp = datapath(
        rr(key(Protocol::Tcp, v, 80)),
        &[(r, 80, tun(TunnelType::Ipip, 0, TunnelCsum::NoCsum))],
    );
    let hdr = if v6 { 40 } else { 20 };
    let data = vec![0x5a; 1500 - hdr - 20];
    let input = pkt(TCP, c, CPORT, v, 80, 64, ACK, &data);
    assert_eq!(input.len(), 1500);
    let quoted = pkt(TCP, c, CPORT, v, 80, 63, ACK, &data);
    let reply = if v6 {
        let q = &quoted[..1280 - 48];
        ipv6(
            V6 {
                src: vip6(),
                dst: client6(),
                next: ICMP6,
                hlim: 64,
                tc: 0,
            },
            &icmp6(vip6(), client6(), 2, 0, 1460, q),
        )
    } else {
        let q = &quoted[..576 - 28];
        ipv4(
            V4 {
                src: vip4(),
                dst: client4(),
                proto: ICMP,
                ttl: 64,
                tos: 0xc0,
                id: 0,
                df: false,
            },
            &icmp4(3, 4, 1480, q),
        )
    };
    // An established flow is needed: SYN first.
    let syn = pkt(TCP, c, CPORT, v, 80, 64, SYN, b"");
    let syn_out = outer(
        r,
        if v6 { 41 } else { 4 },
        63,
        !v6,
        &pkt(TCP, c, CPORT, v, 80, 63, SYN, b""),
    );
    Case {
        name,
        desc: "PMTU: too big for the tunnel with DF: ICMP to the client with the tunnel MTU",
        dp,
        steps: vec![
            Step {
                input: from_ext(&syn),
                verdict: fwd_int(rs1_mac()),
                out: Out::Bytes(to_rs(rs1_mac(), &syn_out)),
            },
            Step {
                input: from_ext(&input),
                verdict: reply_ext(),
                out: Out::Bytes(to_ext(&reply)),
            },
        ],
    }
}

/// `ip_vs_leave`: a service without destinations answers port
/// unreachable (ICMPv6 type 1 code 4), from the virtual address, quoting
/// the packet as received.
fn nodest_case(name: &'static str, proto: u8, v6: bool) -> Case {
    let (c, v, _) = addrs(v6);
    let dp = datapath(rr(key(proto_of(proto), v, 80)), &[]);
    let (of, od) = open(proto);
    let input = pkt(proto, c, CPORT, v, 80, 64, of, od);
    let reply = match (c, v) {
        (IpAddr::V6(c), IpAddr::V6(v)) => ipv6(
            V6 {
                src: v,
                dst: c,
                next: ICMP6,
                hlim: 64,
                tc: 0,
            },
            &icmp6(v, c, 1, 4, 0, &input),
        ),
        (IpAddr::V4(c), IpAddr::V4(v)) => ipv4(
            V4 {
                src: v,
                dst: c,
                proto: ICMP,
                ttl: 64,
                tos: 0xc0,
                id: 0,
                df: false,
            },
            &icmp4(3, 3, 0, &input),
        ),
        _ => unreachable!(),
    };
    Case {
        name,
        desc: "no destination: ICMP port unreachable from the VIP",
        dp,
        steps: vec![Step {
            input: from_ext(&input),
            verdict: reply_ext(),
            out: Out::Bytes(to_ext(&reply)),
        }],
    }
}

/// ICMP error from the client side about a NAT reply (`ip_vs_in_icmp`):
/// outer destination VIP → RS, quoted source VIP:80 → RS:8080, quoted IP
/// checksum recomputed, quoted transport checksum left alone, ICMP
/// checksum recomputed (`ip_vs_nat_icmp`), outer TTL-1.
fn icmp_in_nat_case(name: &'static str, v6: bool) -> Case {
    let (c, v, r) = addrs(v6);
    let dp = datapath(rr(key(Protocol::Tcp, v, 80)), &[(r, 8080, FwdMethod::Masq)]);
    let router: IpAddr = if v6 {
        router6().into()
    } else {
        router4().into()
    };
    // The reply as the director sent it, quoted by the router.
    let reply = pkt(TCP, v, 80, c, CPORT, 63, SYN | ACK, b"");
    let mut quote_in = reply.clone();
    let mut quote_out = reply.clone();
    match (v, r) {
        (IpAddr::V4(_), IpAddr::V4(r4)) => {
            quote_in.truncate(28);
            quote_out.truncate(28);
            quote_out[12..16].copy_from_slice(&r4.octets());
            quote_out[20..22].copy_from_slice(&8080u16.to_be_bytes());
            refill_ipv4_csum(&mut quote_out);
        }
        (IpAddr::V6(_), IpAddr::V6(r6)) => {
            quote_out[8..24].copy_from_slice(&r6.octets());
            quote_out[40..42].copy_from_slice(&8080u16.to_be_bytes());
        }
        _ => unreachable!(),
    }
    let err = |dst: IpAddr, ttl: u8, q: &[u8]| -> Vec<u8> {
        match (router, dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => ipv4(
                V4 {
                    src: s,
                    dst: d,
                    proto: ICMP,
                    ttl,
                    tos: 0xc0,
                    id: 7,
                    df: false,
                },
                &icmp4(3, 4, 1400, q),
            ),
            (IpAddr::V6(s), IpAddr::V6(d)) => ipv6(
                V6 {
                    src: s,
                    dst: d,
                    next: ICMP6,
                    hlim: ttl,
                    tc: 0,
                },
                &icmp6(s, d, 2, 0, 1400, q),
            ),
            _ => unreachable!(),
        }
    };
    let (of, od) = open(TCP);
    Case {
        name,
        desc: "ICMP error about a NAT reply, translated to the real server",
        dp,
        steps: vec![
            Step {
                input: from_ext(&pkt(TCP, c, CPORT, v, 80, 64, of, od)),
                verdict: fwd_int(rs1_mac()),
                out: Out::Bytes(to_rs(rs1_mac(), &pkt(TCP, c, CPORT, r, 8080, 63, of, od))),
            },
            Step {
                input: from_ext(&err(v, 250, &quote_in)),
                verdict: fwd_int(rs1_mac()),
                out: Out::Bytes(to_rs(rs1_mac(), &err(r, 249, &quote_out))),
            },
        ],
    }
}

/// ICMP error from the real server about a packet we sent it
/// (`ip_vs_out_icmp`): a UDP port unreachable. Outer source RS → VIP,
/// quoted destination RS:5353 → VIP:53.
fn icmp_out_nat_case(name: &'static str, v6: bool) -> Case {
    let (c, v, r) = addrs(v6);
    let dp = datapath(rr(key(Protocol::Udp, v, 53)), &[(r, 5353, FwdMethod::Masq)]);
    let sent = pkt(UDP, c, CPORT, r, 5353, 63, 0, b"query");
    let mut quote_out = sent.clone();
    match v {
        IpAddr::V4(v4) => {
            quote_out[16..20].copy_from_slice(&v4.octets());
            quote_out[22..24].copy_from_slice(&53u16.to_be_bytes());
            refill_ipv4_csum(&mut quote_out);
        }
        IpAddr::V6(v6a) => {
            quote_out[24..40].copy_from_slice(&v6a.octets());
            quote_out[42..44].copy_from_slice(&53u16.to_be_bytes());
        }
    }
    let err = |src: IpAddr, ttl: u8, q: &[u8]| -> Vec<u8> {
        match (src, c) {
            (IpAddr::V4(s), IpAddr::V4(d)) => ipv4(
                V4 {
                    src: s,
                    dst: d,
                    proto: ICMP,
                    ttl,
                    tos: 0xc0,
                    id: 9,
                    df: false,
                },
                &icmp4(3, 3, 0, q),
            ),
            (IpAddr::V6(s), IpAddr::V6(d)) => ipv6(
                V6 {
                    src: s,
                    dst: d,
                    next: ICMP6,
                    hlim: ttl,
                    tc: 0,
                },
                &icmp6(s, d, 1, 4, 0, q),
            ),
            _ => unreachable!(),
        }
    };
    Case {
        name,
        desc: "ICMP error from the real server, translated back to the VIP",
        dp,
        steps: vec![
            Step {
                input: from_ext(&pkt(UDP, c, CPORT, v, 53, 64, 0, b"query")),
                verdict: fwd_int(rs1_mac()),
                out: Out::Bytes(to_rs(rs1_mac(), &sent)),
            },
            Step {
                input: from_rs(rs1_mac(), &err(r, 64, &sent)),
                verdict: fwd_ext(),
                out: Out::Bytes(to_ext(&err(v, 63, &quote_out))),
            },
        ],
    }
}

/// Malformed and special frames on a NAT service.
fn malformed_cases() -> Vec<Case> {
    let (c, v, r) = addrs(false);
    let mk = || datapath(rr(key(Protocol::Tcp, v, 80)), &[(r, 8080, FwdMethod::Masq)]);
    let good = pkt(TCP, c, CPORT, v, 80, 64, SYN, b"");
    let mut out = Vec::new();

    let mut trunc = from_ext(&good);
    trunc.truncate(14 + 12);
    out.push(Case {
        name: "malformed_truncated_ipv4",
        desc: "IPv4 header cut short: drop",
        dp: mk(),
        steps: vec![Step {
            input: trunc,
            verdict: Verdict::Drop(DropReason::Malformed),
            out: Out::Ignore,
        }],
    });

    let mut badsum = good.clone();
    badsum[10] ^= 0x55;
    out.push(Case {
        name: "malformed_bad_ipv4_checksum",
        desc: "IPv4 header checksum wrong: drop (ip_rcv)",
        dp: mk(),
        steps: vec![Step {
            input: from_ext(&badsum),
            verdict: Verdict::Drop(DropReason::BadChecksum),
            out: Out::Ignore,
        }],
    });

    let mut badlen = good.clone();
    badlen[2..4].copy_from_slice(&2000u16.to_be_bytes());
    refill_ipv4_csum(&mut badlen);
    out.push(Case {
        name: "malformed_ipv4_total_length_past_frame",
        desc: "IPv4 total length beyond the frame: drop",
        dp: mk(),
        steps: vec![Step {
            input: from_ext(&badlen),
            verdict: Verdict::Drop(DropReason::Malformed),
            out: Out::Ignore,
        }],
    });

    let mut badoff = good.clone();
    badoff[20 + 12] = 0x20; // data offset 2 words < 5
    out.push(Case {
        name: "malformed_tcp_data_offset",
        desc: "TCP data offset under 5: drop",
        dp: mk(),
        steps: vec![Step {
            input: from_ext(&badoff),
            verdict: Verdict::Drop(DropReason::Malformed),
            out: Out::Ignore,
        }],
    });

    let ttl1 = pkt(TCP, c, CPORT, v, 80, 1, SYN, b"");
    let te = ipv4(
        V4 {
            src: vip4(),
            dst: client4(),
            proto: ICMP,
            ttl: 64,
            tos: 0xc0,
            id: 0,
            df: false,
        },
        &icmp4(11, 0, 0, &ttl1),
    );
    out.push(Case {
        name: "ttl_exceeded_ipv4",
        desc: "TTL 1 on a NAT service: ICMP time exceeded from the VIP (decrement_ttl)",
        dp: mk(),
        steps: vec![Step {
            input: from_ext(&ttl1),
            verdict: reply_ext(),
            out: Out::Bytes(to_ext(&te)),
        }],
    });

    let hl1 = pkt(TCP, client6().into(), CPORT, vip6().into(), 80, 1, SYN, b"");
    let te6 = ipv6(
        V6 {
            src: vip6(),
            dst: client6(),
            next: ICMP6,
            hlim: 64,
            tc: 0,
        },
        &icmp6(vip6(), client6(), 3, 0, 0, &hl1),
    );
    out.push(Case {
        name: "hop_limit_exceeded_ipv6",
        desc: "hop limit 1: ICMPv6 time exceeded from the VIP",
        dp: datapath(
            rr(key(Protocol::Tcp, vip6().into(), 80)),
            &[(rs1_6().into(), 8080, FwdMethod::Masq)],
        ),
        steps: vec![Step {
            input: from_ext(&hl1),
            verdict: reply_ext(),
            out: Out::Bytes(to_ext(&te6)),
        }],
    });

    // ARP request: not IP, the stack's business.
    let mut arp = vec![0, 1, 8, 0, 6, 4, 0, 1];
    arp.extend(router_mac().0);
    arp.extend(router4().octets());
    arp.extend([0; 6]);
    arp.extend(vip4().octets());
    out.push(Case {
        name: "arp_to_stack",
        desc: "ARP goes to the local stack unchanged",
        dp: mk(),
        steps: vec![Step {
            input: eth(MacAddr::BROADCAST, router_mac(), 0x0806, &arp),
            verdict: Verdict::Local,
            out: Out::Same,
        }],
    });

    // A first fragment (MF set) to the VIP.
    let mut frag = good.clone();
    frag[6] = 0x20; // MF, offset 0, DF clear
    refill_ipv4_csum(&mut frag);
    out.push(Case {
        name: "fragment_to_stack",
        desc: "fragments go to the stack for reassembly (policy), never forwarded",
        dp: mk(),
        steps: vec![Step {
            input: from_ext(&frag),
            verdict: Verdict::Local,
            out: Out::Same,
        }],
    });

    // A TCP ACK without a connection: not scheduled, VIP is local.
    out.push(Case {
        name: "ack_without_connection_to_stack",
        desc: "only a SYN creates a connection: a lone ACK passes to the stack",
        dp: mk(),
        steps: vec![Step {
            input: from_ext(&pkt(TCP, c, CPORT, v, 80, 64, ACK, b"")),
            verdict: Verdict::Local,
            out: Out::Same,
        }],
    });

    // ICMP error with a bad checksum about an existing connection.
    let mut q = pkt(TCP, v, 80, c, CPORT, 63, SYN | ACK, b"");
    q.truncate(28);
    let mut bad = icmp4(3, 4, 1400, &q);
    bad[2] ^= 0xff;
    let bad_ip = ipv4(
        V4 {
            src: router4(),
            dst: vip4(),
            proto: ICMP,
            ttl: 250,
            tos: 0xc0,
            id: 7,
            df: false,
        },
        &bad,
    );
    out.push(Case {
        name: "icmp_bad_checksum",
        desc: "ICMP error with a wrong checksum: drop (ip_vs_in_icmp checksum check)",
        dp: mk(),
        steps: vec![
            Step {
                input: from_ext(&good),
                verdict: fwd_int(rs1_mac()),
                out: Out::Bytes(to_rs(rs1_mac(), &pkt(TCP, c, CPORT, r, 8080, 63, SYN, b""))),
            },
            Step {
                input: from_ext(&bad_ip),
                verdict: Verdict::Drop(DropReason::BadChecksum),
                out: Out::Ignore,
            },
        ],
    });

    // Unknown destination, not local, no route toward it other than the
    // default: plain forwarding with TTL-1 (the director routes).
    let other = pkt(
        UDP,
        rs1_4().into(),
        5000,
        ip4("203.0.113.5").into(),
        53,
        64,
        0,
        b"x",
    );
    out.push(Case {
        name: "plain_forwarding",
        desc: "traffic that is no IPVS business and not local is routed (TTL-1, MACs)",
        dp: mk(),
        steps: vec![Step {
            input: from_rs(rs1_mac(), &other),
            verdict: fwd_ext(),
            out: Out::Bytes(to_ext(&pkt(
                UDP,
                rs1_4().into(),
                5000,
                ip4("203.0.113.5").into(),
                53,
                63,
                0,
                b"x",
            ))),
        }],
    });
    out
}

/// fwmark: a rule marks TCP to the VIP ports 80 and 443 with 10; the
/// fwmark service (DR) takes both, the packet's port is kept; port 8443
/// is not marked and has no service: it goes to the stack.
fn fwmark_case() -> Case {
    let (c, v, r) = addrs(false);
    let k = ServiceKey::Fwmark {
        af: lvs_core::Af::Inet,
        mark: 10,
    };
    let mut dp = datapath(rr(k), &[(r, 0, FwdMethod::Route)]);
    dp.config_mut().fwmark_rules.push(FwmarkRule {
        proto: Protocol::Tcp,
        vaddr: v,
        ports: vec![80, 443],
        mark: 10,
    });
    let mut steps = Vec::new();
    for port in [80u16, 443] {
        steps.push(Step {
            input: from_ext(&pkt(TCP, c, CPORT + port, v, port, 64, SYN, b"")),
            verdict: fwd_int(rs1_mac()),
            out: Out::Bytes(to_rs(
                rs1_mac(),
                &pkt(TCP, c, CPORT + port, v, port, 63, SYN, b""),
            )),
        });
    }
    steps.push(Step {
        input: from_ext(&pkt(TCP, c, CPORT, v, 8443, 64, SYN, b"")),
        verdict: Verdict::Local,
        out: Out::Same,
    });
    Case {
        name: "fwmark_dr",
        desc: "fwmark classification (TCP VIP:80,443 -> mark 10) feeding a fwmark DR service",
        dp,
        steps,
    }
}

/// Persistence: rr over two DR servers alternates, but a persistent
/// service sends the client's second connection (another port) to the
/// server of the first; a second client goes to the other server.
fn persistence_case() -> Case {
    let (c, v, _) = addrs(false);
    let c2: IpAddr = ip4("198.51.100.77").into();
    let dp = datapath(
        rr(key(Protocol::Tcp, v, 80)).with_persistence(300),
        &[
            (rs1_4().into(), 80, FwdMethod::Route),
            (rs2_4().into(), 80, FwdMethod::Route),
        ],
    );
    // rr's first pick is the head of the list: the last added (rs2), §0.
    let s = |cl: IpAddr, p: u16, m: MacAddr| Step {
        input: from_ext(&pkt(TCP, cl, p, v, 80, 64, SYN, b"")),
        verdict: fwd_int(m),
        out: Out::Bytes(to_rs(m, &pkt(TCP, cl, p, v, 80, 63, SYN, b""))),
    };
    Case {
        name: "persistence_dr",
        desc: "persistent service: same client, new port, same server; next client, next server",
        dp,
        steps: vec![
            s(c, 40001, rs2_mac()),
            s(c, 40002, rs2_mac()),
            s(c2, 40003, rs1_mac()),
            s(c, 40004, rs2_mac()),
        ],
    }
}

/// GUE (`ipvs_gue_encap`): UDP to `--tun-port` 6080 with a 4-byte GUE
/// header (version 0, no options, protocol 4 / 41, flags 0); UDP checksum
/// 0 for `nocsum`, full for `csum`; `remcsum` adds its option only for
/// `CHECKSUM_PARTIAL` packets, so a forwarded packet is framed as `csum`.
/// The UDP source port is our flow hash: read from the output, checked to
/// be in 32768..61000 and equal for two packets of a flow.
fn gue_case(name: &'static str, inner_v6: bool, outer_v6: bool, csum: TunnelCsum) -> Case {
    let (c, v, _) = addrs(inner_v6);
    let r: IpAddr = if outer_v6 {
        rs1_6().into()
    } else {
        rs1_4().into()
    };
    let dp = datapath(
        rr(key(Protocol::Tcp, v, 80)),
        &[(r, 80, tun(TunnelType::Gue, 6080, csum))],
    );
    let proto_byte = if inner_v6 { 41 } else { 4 };
    let with_csum = csum != TunnelCsum::NoCsum;
    let expect = move |inner: Vec<u8>| -> Later {
        Box::new(move |_: &Datapath, got: &[u8]| {
            let hl = if outer_v6 { 40 } else { 20 };
            let sport = u16::from_be_bytes([got[14 + hl], got[15 + hl]]);
            assert!((32768..61000).contains(&sport), "GUE source port {sport}");
            let mut g = vec![0, proto_byte, 0, 0];
            g.extend_from_slice(&inner);
            let src: IpAddr = if outer_v6 {
                dir_int6().into()
            } else {
                dir_int4().into()
            };
            let u = udp(src, r, sport, 6080, &g, with_csum);
            to_rs(rs1_mac(), &outer(r, UDP, inner_ttl(&inner), !inner_v6, &u))
        })
    };
    let syn_in = pkt(TCP, c, CPORT, v, 80, 64, SYN, b"");
    let ack_in = pkt(TCP, c, CPORT, v, 80, 64, ACK, b"data");
    Case {
        name,
        desc: "TUN GUE: UDP + GUE header, checksum per mode",
        dp,
        steps: vec![
            Step {
                input: from_ext(&syn_in),
                verdict: fwd_int(rs1_mac()),
                out: Out::Computed(expect(pkt(TCP, c, CPORT, v, 80, 63, SYN, b""))),
            },
            Step {
                input: from_ext(&ack_in),
                verdict: fwd_int(rs1_mac()),
                out: Out::Computed(expect(pkt(TCP, c, CPORT, v, 80, 63, ACK, b"data"))),
            },
        ],
    }
}

fn inner_ttl(p: &[u8]) -> u8 {
    if p[0] >> 4 == 6 { p[7] } else { p[8] }
}

/// The FULLNAT local port `lvs-core` gave the (only) connection.
fn lport(dp: &Datapath) -> u16 {
    dp.ipvs()
        .conns()
        .find(|c| !c.is_template())
        .and_then(|c| c.local)
        .map(|l| l.1)
        .unwrap()
}

/// FULLNAT: in, source → pool address and the allocated port, destination
/// → RS:8080; the reply from the RS to the pool address gets VIP:80 →
/// client:cport.
fn fullnat_case(name: &'static str, proto: u8, v6: bool) -> Case {
    let (c, v, r) = addrs(v6);
    let l: IpAddr = if v6 {
        fullnat_pool6().into()
    } else {
        fullnat_pool().into()
    };
    let mut dp = datapath(
        rr(key(proto_of(proto), v, 80)),
        &[(r, 8080, FwdMethod::FullNat)],
    );
    dp.set_fullnat_local_addrs(&[l]);
    let (of, od) = open(proto);
    let (af, ad) = answer(proto);
    Case {
        name,
        desc: "FULLNAT: source and destination rewritten, reply reversed",
        dp,
        steps: vec![
            Step {
                input: from_ext(&pkt(proto, c, CPORT, v, 80, 64, of, od)),
                verdict: fwd_int(rs1_mac()),
                out: Out::Computed(Box::new(move |dp: &Datapath, _: &[u8]| {
                    to_rs(rs1_mac(), &pkt(proto, l, lport(dp), r, 8080, 63, of, od))
                })),
            },
            Step {
                input: Vec::new(),
                verdict: fwd_ext(),
                out: Out::Bytes(to_ext(&pkt(proto, v, 80, c, CPORT, 63, af, ad))),
            },
        ],
    }
}

/// ICMP error from the client side about a DR connection's reply: relayed
/// to the real server like the connection's packets (MAC, TTL-1).
fn icmp_in_dr_case(name: &'static str, tunnel: bool) -> Case {
    let (c, v, r) = addrs(false);
    let m = if tunnel {
        tun(TunnelType::Ipip, 0, TunnelCsum::NoCsum)
    } else {
        FwdMethod::Route
    };
    let dp = datapath(rr(key(Protocol::Tcp, v, 80)), &[(r, 80, m)]);
    let mut quote = pkt(TCP, v, 80, c, CPORT, 63, SYN | ACK, b"");
    quote.truncate(28);
    let err = |ttl: u8| {
        ipv4(
            V4 {
                src: router4(),
                dst: vip4(),
                proto: ICMP,
                ttl,
                tos: 0xc0,
                id: 7,
                df: false,
            },
            &icmp4(3, 4, 1400, &quote),
        )
    };
    let syn_out = pkt(TCP, c, CPORT, v, 80, 63, SYN, b"");
    let (first, second) = if tunnel {
        // The ICMP's DS 0xc0 (ECN not-ECT) is copied to the outer header.
        (
            outer(r, 4, 63, true, &syn_out),
            outer_ds(r, 4, 249, false, 0xc0, &err(249)),
        )
    } else {
        (syn_out, err(249))
    };
    Case {
        name,
        desc: "ICMP error for a DR/TUN connection relayed to the real server",
        dp,
        steps: vec![
            Step {
                input: from_ext(&pkt(TCP, c, CPORT, v, 80, 64, SYN, b"")),
                verdict: fwd_int(rs1_mac()),
                out: Out::Bytes(to_rs(rs1_mac(), &first)),
            },
            Step {
                input: from_ext(&err(250)),
                verdict: fwd_int(rs1_mac()),
                out: Out::Bytes(to_rs(rs1_mac(), &second)),
            },
        ],
    }
}

/// FULLNAT ICMP from the RS about a packet we sent it (quote: pool:lport
/// → RS:5353): outer source → VIP, outer destination → client, quote →
/// client:cport → VIP:53.
fn icmp_out_fullnat_case() -> Case {
    let (c, v, r) = addrs(false);
    let l: IpAddr = fullnat_pool().into();
    let mut dp = datapath(
        rr(key(Protocol::Udp, v, 53)),
        &[(r, 5353, FwdMethod::FullNat)],
    );
    dp.set_fullnat_local_addrs(&[l]);
    let err = move |src: IpAddr, dst: IpAddr, ttl: u8, q: &[u8]| -> Vec<u8> {
        let (IpAddr::V4(s), IpAddr::V4(d)) = (src, dst) else {
            unreachable!()
        };
        ipv4(
            V4 {
                src: s,
                dst: d,
                proto: ICMP,
                ttl,
                tos: 0xc0,
                id: 9,
                df: false,
            },
            &icmp4(3, 3, 0, q),
        )
    };
    Case {
        name: "icmp_out_fullnat_v4",
        desc: "FULLNAT: ICMP error from the real server translated to the client",
        dp,
        steps: vec![
            Step {
                input: from_ext(&pkt(UDP, c, CPORT, v, 53, 64, 0, b"query")),
                verdict: fwd_int(rs1_mac()),
                out: Out::Computed(Box::new(move |dp: &Datapath, _: &[u8]| {
                    to_rs(rs1_mac(), &pkt(UDP, l, lport(dp), r, 5353, 63, 0, b"query"))
                })),
            },
            // Input filled in by `fill_fullnat_inputs`.
            Step {
                input: Vec::new(),
                verdict: fwd_ext(),
                out: Out::Computed(Box::new(move |dp: &Datapath, _: &[u8]| {
                    let sent = pkt(UDP, l, lport(dp), r, 5353, 63, 0, b"query");
                    let mut q = sent.clone();
                    q[12..16].copy_from_slice(&client4().octets());
                    q[16..20].copy_from_slice(&vip4().octets());
                    q[20..22].copy_from_slice(&CPORT.to_be_bytes());
                    q[22..24].copy_from_slice(&53u16.to_be_bytes());
                    refill_ipv4_csum(&mut q);
                    to_ext(&err(v, c, 63, &q))
                })),
            },
        ],
    }
}

/// Cases whose second input depends on the FULLNAT port: a twin of the
/// case (built by the same function, so configured alike) runs the first
/// step and tells the port `lvs-core` allocates, which is deterministic
/// for a fresh table; the case's own data path then allocates the same.
fn fill_fullnat_inputs(make_case: impl Fn() -> Case, make: impl Fn(u16) -> Vec<u8>) -> Case {
    let mut probe = make_case();
    let mut f = Frame::from_bytes(&probe.steps[0].input);
    let _ = probe.dp.process(Time(1000), &mut f);
    let p = lport(&probe.dp);
    let mut case = make_case();
    case.steps[1].input = make(p);
    case
}

fn fullnat_cases() -> Vec<Case> {
    let mut out = Vec::new();
    for (name, proto, v6) in [
        ("fullnat_tcp_v4", TCP, false),
        ("fullnat_tcp_v6", TCP, true),
        ("fullnat_udp_v4", UDP, false),
        ("fullnat_sctp_v6", SCTP, true),
    ] {
        let (c, _, r) = addrs(v6);
        let l: IpAddr = if v6 {
            fullnat_pool6().into()
        } else {
            fullnat_pool().into()
        };
        let (af, ad) = answer(proto);
        out.push(fill_fullnat_inputs(
            || fullnat_case(name, proto, v6),
            move |p| {
                let _ = c;
                from_rs(rs1_mac(), &pkt(proto, r, 8080, l, p, 64, af, ad))
            },
        ));
    }
    let (c, _, r) = addrs(false);
    let l: IpAddr = fullnat_pool().into();
    out.push(fill_fullnat_inputs(icmp_out_fullnat_case, move |p| {
        let sent = pkt(UDP, l, p, r, 5353, 63, 0, b"query");
        let (IpAddr::V4(rs), IpAddr::V4(_)) = (r, c) else {
            unreachable!()
        };
        let IpAddr::V4(l4a) = l else { unreachable!() };
        from_rs(
            rs1_mac(),
            &ipv4(
                V4 {
                    src: rs,
                    dst: l4a,
                    proto: ICMP,
                    ttl: 64,
                    tos: 0xc0,
                    id: 9,
                    df: false,
                },
                &icmp4(3, 3, 0, &sent),
            ),
        )
    }));
    out
}

/// Assorted transmit rules.
fn xmit_cases() -> Vec<Case> {
    let (c, v, r) = addrs(false);
    let mut out = Vec::new();

    // 802.1Q-tagged input: the output gets a fresh untagged header.
    let p = pkt(TCP, c, CPORT, v, 80, 64, SYN, b"");
    let mut tagged = Vec::new();
    tagged.extend(dir_ext_mac().0);
    tagged.extend(router_mac().0);
    tagged.extend([0x81, 0x00, 0x00, 0x64, 0x08, 0x00]);
    tagged.extend_from_slice(&p);
    out.push(Case {
        name: "nat_vlan_input",
        desc: "802.1Q input frame: NAT as usual, output untagged",
        dp: datapath(rr(key(Protocol::Tcp, v, 80)), &[(r, 8080, FwdMethod::Masq)]),
        steps: vec![Step {
            input: tagged,
            verdict: fwd_int(rs1_mac()),
            out: Out::Bytes(to_rs(rs1_mac(), &pkt(TCP, c, CPORT, r, 8080, 63, SYN, b""))),
        }],
    });

    // UDP without checksum stays without (udp_dnat_handler).
    let u0 = ip(c, v, UDP, 64, &udp(c, v, CPORT, 53, b"q", false));
    let u0_out = ip(c, r, UDP, 63, &udp(c, r, CPORT, 5353, b"q", false));
    out.push(Case {
        name: "nat_udp_zero_checksum_v4",
        desc: "NAT keeps an IPv4 UDP checksum of 0 as 0",
        dp: datapath(rr(key(Protocol::Udp, v, 53)), &[(r, 5353, FwdMethod::Masq)]),
        steps: vec![Step {
            input: from_ext(&u0),
            verdict: fwd_int(rs1_mac()),
            out: Out::Bytes(to_rs(rs1_mac(), &u0_out)),
        }],
    });

    // ECN: inner DS 0x2b (DSCP 10, CE) → outer 0x2a (CE encapsulates as
    // ECT(0), INET_ECN_encapsulate).
    let (IpAddr::V4(c4), IpAddr::V4(v4a), IpAddr::V4(r4)) = (c, v, r) else {
        unreachable!()
    };
    let seg = tcp(c, v, CPORT, 80, 1000, 0, SYN, b"");
    let mk_in = |ttl: u8| {
        ipv4(
            V4 {
                src: c4,
                dst: v4a,
                proto: TCP,
                ttl,
                tos: 0x2b,
                id: ID,
                df: true,
            },
            &seg,
        )
    };
    let ecn_out = ipv4(
        V4 {
            src: dir_int4(),
            dst: r4,
            proto: 4,
            ttl: 63,
            tos: 0x2a,
            id: 0,
            df: true,
        },
        &mk_in(63),
    );
    out.push(Case {
        name: "tun_ecn_ce",
        desc: "TUN outer DS: inner DSCP kept, CE becomes ECT(0)",
        dp: datapath(
            rr(key(Protocol::Tcp, v, 80)),
            &[(r, 80, tun(TunnelType::Ipip, 0, TunnelCsum::NoCsum))],
        ),
        steps: vec![Step {
            input: from_ext(&mk_in(64)),
            verdict: fwd_int(rs1_mac()),
            out: Out::Bytes(to_rs(rs1_mac(), &ecn_out)),
        }],
    });

    // pmtu_disc=0: outer DF clear although the inner packet has DF.
    let mut dp = datapath(
        rr(key(Protocol::Tcp, v, 80)),
        &[(r, 80, tun(TunnelType::Ipip, 0, TunnelCsum::NoCsum))],
    );
    dp.config_mut().pmtu_disc = false;
    out.push(Case {
        name: "tun_pmtu_disc_off",
        desc: "pmtu_disc=0: outer header without DF",
        dp,
        steps: vec![Step {
            input: from_ext(&pkt(TCP, c, CPORT, v, 80, 64, SYN, b"")),
            verdict: fwd_int(rs1_mac()),
            out: Out::Bytes(to_rs(
                rs1_mac(),
                &outer(r, 4, 63, false, &pkt(TCP, c, CPORT, v, 80, 63, SYN, b"")),
            )),
        }],
    });

    // Oversized for the tunnel without DF: the kernel fragments; we drop.
    let data = vec![0x5a; 1500 - 40];
    let big = ip_df(
        c,
        v,
        TCP,
        64,
        false,
        &tcp(c, v, CPORT, 80, 1000, 0, SYN, &data),
    );
    out.push(Case {
        name: "tun_oversize_without_df",
        desc: "too big for the tunnel, DF clear: dropped (fragmenting is not done)",
        dp: datapath(
            rr(key(Protocol::Tcp, v, 80)),
            &[(r, 80, tun(TunnelType::Ipip, 0, TunnelCsum::NoCsum))],
        ),
        steps: vec![Step {
            input: from_ext(&big),
            verdict: Verdict::Drop(DropReason::NeedsFragmentation),
            out: Out::Ignore,
        }],
    });

    // NAT toward a smaller MTU: frag needed with the route MTU, quoting
    // the packet before DNAT but after the TTL decrement (the kernel's
    // order in __ip_vs_get_out_rt).
    let mut dp = datapath(rr(key(Protocol::Tcp, v, 80)), &[(r, 8080, FwdMethod::Masq)]);
    dp.config_mut().interfaces[1].mtu = 1400;
    let data = vec![0x33; 1500 - 40];
    let big = pkt(TCP, c, CPORT, v, 80, 64, SYN, &data);
    let quoted = pkt(TCP, c, CPORT, v, 80, 63, SYN, &data);
    let fn_reply = ipv4(
        V4 {
            src: vip4(),
            dst: client4(),
            proto: ICMP,
            ttl: 64,
            tos: 0xc0,
            id: 0,
            df: false,
        },
        &icmp4(3, 4, 1400, &quoted[..548]),
    );
    out.push(Case {
        name: "pmtu_nat_v4",
        desc: "NAT to a 1400-byte link: frag needed 1400 to the client",
        dp,
        steps: vec![Step {
            input: from_ext(&big),
            verdict: reply_ext(),
            out: Out::Bytes(to_ext(&fn_reply)),
        }],
    });

    // No neighbour entry for the real server.
    let mut dp = datapath(rr(key(Protocol::Tcp, v, 80)), &[(r, 80, FwdMethod::Route)]);
    dp.config_mut().neighbours.retain(|n| n.ip != r);
    out.push(Case {
        name: "dr_no_neighbour",
        desc: "DR without the real server's MAC: drop",
        dp,
        steps: vec![Step {
            input: from_ext(&pkt(TCP, c, CPORT, v, 80, 64, SYN, b"")),
            verdict: Verdict::Drop(DropReason::NoNeighbour),
            out: Out::Ignore,
        }],
    });

    // Destination removed under a live connection, expire_nodest_conn off:
    // the connection's packets are dropped.
    let k = key(Protocol::Tcp, v, 80);
    let dp = datapath(rr(k), &[(r, 80, FwdMethod::Route)]);
    out.push(Case {
        name: "dr_dest_removed",
        desc: "connection whose destination was deleted: drop (expire_nodest_conn=0)",
        dp,
        steps: vec![
            Step {
                input: from_ext(&pkt(TCP, c, CPORT, v, 80, 64, SYN, b"")),
                verdict: fwd_int(rs1_mac()),
                out: Out::Bytes(to_rs(rs1_mac(), &pkt(TCP, c, CPORT, v, 80, 63, SYN, b""))),
            },
            // Filled in by `with_dest_removed`.
        ],
    });

    // SCTP DATA without a connection: not scheduled, to the stack.
    out.push(Case {
        name: "sctp_data_without_connection",
        desc: "only INIT creates an SCTP connection",
        dp: datapath(rr(key(Protocol::Sctp, v, 80)), &[(r, 80, FwdMethod::Route)]),
        steps: vec![Step {
            input: from_ext(&pkt(
                SCTP,
                c,
                CPORT,
                v,
                80,
                64,
                0,
                b"\0\0\0\x01\0\0\0\0\0\0\0\0",
            )),
            verdict: Verdict::Local,
            out: Out::Same,
        }],
    });
    out
}

/// Deletes the destination of `dr_dest_removed` after its first step
/// (configuration between packets) and adds the step that must drop.
fn with_dest_removed(mut case: Case) -> Case {
    let (c, v, r) = addrs(false);
    let mut f = Frame::from_bytes(&case.steps[0].input);
    let _ = case.dp.process(Time(999), &mut f);
    case.dp
        .ipvs_mut()
        .del_dest(&key(Protocol::Tcp, v, 80), &r, 80, Time(999))
        .unwrap();
    case.steps = vec![Step {
        input: from_ext(&pkt(TCP, c, CPORT, v, 80, 64, ACK, b"")),
        verdict: Verdict::Drop(DropReason::Core(
            lvs_core::conn::DropReason::DestUnavailable,
        )),
        out: Out::Ignore,
    }];
    case
}

/// An ICMP "fragmentation needed" (MTU 1300) from the real server about
/// an IPIP packet the director sent it (`ip_vs_in_icmp`, tunnel branch):
/// the director answers the client from the VIP, frag needed with MTU
/// min(1300, route MTU 1500) - 20 = 1280, quoting the inner packet as it
/// was tunnelled (TTL 63). Without DF on the inner packet the error is
/// absorbed.
fn tunnel_icmp_case(name: &'static str, df: bool) -> Case {
    let (c, v, r) = addrs(false);
    let dp = datapath(
        rr(key(Protocol::Tcp, v, 80)),
        &[(r, 80, tun(TunnelType::Ipip, 0, TunnelCsum::NoCsum))],
    );
    let inner_in = ip_df(c, v, TCP, 64, df, &tcp(c, v, CPORT, 80, 1000, 0, SYN, b""));
    let inner = ip_df(c, v, TCP, 63, df, &tcp(c, v, CPORT, 80, 1000, 0, SYN, b""));
    let tunnelled = outer(r, 4, 63, df, &inner);
    let IpAddr::V4(r4) = r else { unreachable!() };
    let err = ipv4(
        V4 {
            src: r4,
            dst: dir_int4(),
            proto: ICMP,
            ttl: 64,
            tos: 0xc0,
            id: 5,
            df: false,
        },
        &icmp4(3, 4, 1300, &tunnelled),
    );
    let answer = ipv4(
        V4 {
            src: vip4(),
            dst: client4(),
            proto: ICMP,
            ttl: 64,
            tos: 0xc0,
            id: 0,
            df: false,
        },
        &icmp4(3, 4, 1280, &inner),
    );
    Case {
        name,
        desc: "ICMP from the real server about a tunnelled packet: the director answers the client",
        dp,
        steps: vec![
            Step {
                input: from_ext(&inner_in),
                verdict: fwd_int(rs1_mac()),
                out: Out::Bytes(to_rs(rs1_mac(), &tunnelled)),
            },
            Step {
                input: from_rs(rs1_mac(), &err),
                verdict: if df {
                    reply_ext()
                } else {
                    Verdict::Drop(DropReason::IcmpAbsorbed)
                },
                out: if df {
                    Out::Bytes(to_ext(&answer))
                } else {
                    Out::Ignore
                },
            },
        ],
    }
}

/// Forwarded (not addressed to the director) packets follow `ip_forward`:
/// a NAT reply with TTL 1 gets time exceeded from the director's address
/// toward the sender (10.0.0.1), quoting the packet as received; an ICMP
/// error with TTL 1 gets no answer (`icmp_send` never answers errors).
fn forward_ttl_cases() -> Vec<Case> {
    let (c, v, r) = addrs(false);
    let mk = || datapath(rr(key(Protocol::Tcp, v, 80)), &[(r, 8080, FwdMethod::Masq)]);
    let syn = Step {
        input: from_ext(&pkt(TCP, c, CPORT, v, 80, 64, SYN, b"")),
        verdict: fwd_int(rs1_mac()),
        out: Out::Bytes(to_rs(rs1_mac(), &pkt(TCP, c, CPORT, r, 8080, 63, SYN, b""))),
    };
    let reply = pkt(TCP, r, 8080, c, CPORT, 1, SYN | ACK, b"");
    let IpAddr::V4(r4) = r else { unreachable!() };
    let te = ipv4(
        V4 {
            src: dir_int4(),
            dst: r4,
            proto: ICMP,
            ttl: 64,
            tos: 0xc0,
            id: 0,
            df: false,
        },
        &icmp4(11, 0, 0, &reply),
    );
    let mut quote = pkt(TCP, v, 80, c, CPORT, 63, SYN | ACK, b"");
    quote.truncate(28);
    let err_ttl1 = ipv4(
        V4 {
            src: router4(),
            dst: vip4(),
            proto: ICMP,
            ttl: 1,
            tos: 0xc0,
            id: 7,
            df: false,
        },
        &icmp4(3, 4, 1400, &quote),
    );
    vec![
        Case {
            name: "nat_reply_ttl_exceeded",
            desc: "NAT reply with TTL 1: time exceeded from the director's inside address",
            dp: mk(),
            steps: vec![
                Step {
                    input: syn.input.clone(),
                    verdict: syn.verdict,
                    out: Out::Bytes(to_rs(rs1_mac(), &pkt(TCP, c, CPORT, r, 8080, 63, SYN, b""))),
                },
                Step {
                    input: from_rs(rs1_mac(), &reply),
                    verdict: Verdict::Reply {
                        ifindex: IF_INT,
                        next_hop: rs1_mac(),
                    },
                    out: Out::Bytes(to_rs(rs1_mac(), &te)),
                },
            ],
        },
        Case {
            name: "icmp_error_ttl_exceeded_absorbed",
            desc: "an ICMP error that would expire is dropped without an answer",
            dp: mk(),
            steps: vec![
                syn,
                Step {
                    input: from_ext(&err_ttl1),
                    verdict: Verdict::Drop(DropReason::IcmpAbsorbed),
                    out: Out::Ignore,
                },
            ],
        },
    ]
}

fn all_cases() -> Vec<Case> {
    let mut v = vec![
        nat_case("nat_tcp_v4", TCP, false),
        nat_case("nat_tcp_v6", TCP, true),
        nat_case("nat_udp_v4", UDP, false),
        nat_case("nat_udp_v6", UDP, true),
        nat_case("nat_sctp_v4", SCTP, false),
        nat_case("nat_sctp_v6", SCTP, true),
        dr_case("dr_tcp_v4", TCP, false),
        dr_case("dr_tcp_v6", TCP, true),
        dr_case("dr_udp_v4", UDP, false),
        dr_case("dr_udp_v6", UDP, true),
        dr_case("dr_sctp_v4", SCTP, false),
        dr_case("dr_sctp_v6", SCTP, true),
        tun_case(
            "tun_ipip_4in4",
            false,
            false,
            TunnelType::Ipip,
            TunnelCsum::NoCsum,
        ),
        tun_case(
            "tun_ipip_6in6",
            true,
            true,
            TunnelType::Ipip,
            TunnelCsum::NoCsum,
        ),
        tun_case(
            "tun_ipip_4in6",
            false,
            true,
            TunnelType::Ipip,
            TunnelCsum::NoCsum,
        ),
        tun_case(
            "tun_ipip_6in4",
            true,
            false,
            TunnelType::Ipip,
            TunnelCsum::NoCsum,
        ),
        tun_case(
            "tun_gre_4in4",
            false,
            false,
            TunnelType::Gre,
            TunnelCsum::NoCsum,
        ),
        tun_case(
            "tun_gre_csum_4in4",
            false,
            false,
            TunnelType::Gre,
            TunnelCsum::Csum,
        ),
        tun_case(
            "tun_gre_6in6",
            true,
            true,
            TunnelType::Gre,
            TunnelCsum::NoCsum,
        ),
        tun_case(
            "tun_gre_csum_6in4",
            true,
            false,
            TunnelType::Gre,
            TunnelCsum::Csum,
        ),
        pmtu_case("pmtu_tun_v4", false),
        pmtu_case("pmtu_tun_v6", true),
        nodest_case("nodest_tcp_v4", TCP, false),
        nodest_case("nodest_udp_v6", UDP, true),
        nodest_case("nodest_sctp_v4", SCTP, false),
        icmp_in_nat_case("icmp_in_nat_v4", false),
        icmp_in_nat_case("icmp_in_nat_v6", true),
        icmp_out_nat_case("icmp_out_nat_v4", false),
        icmp_out_nat_case("icmp_out_nat_v6", true),
        fwmark_case(),
        persistence_case(),
    ];
    v.extend(malformed_cases());
    v.extend(fullnat_cases());
    for (name, iv6, ov6, cs) in [
        ("tun_gue_nocsum_4in4", false, false, TunnelCsum::NoCsum),
        ("tun_gue_csum_4in4", false, false, TunnelCsum::Csum),
        ("tun_gue_remcsum_4in4", false, false, TunnelCsum::RemCsum),
        ("tun_gue_csum_6in6", true, true, TunnelCsum::Csum),
        ("tun_gue_nocsum_4in6", false, true, TunnelCsum::NoCsum),
    ] {
        v.push(gue_case(name, iv6, ov6, cs));
    }
    v.push(icmp_in_dr_case("icmp_in_dr_v4", false));
    v.push(tunnel_icmp_case("icmp_from_rs_tun_frag_needed", true));
    v.push(tunnel_icmp_case("icmp_from_rs_tun_no_df_absorbed", false));
    v.extend(forward_ttl_cases());
    v.push(icmp_in_dr_case("icmp_in_tun_v4", true));
    for c in xmit_cases() {
        if c.name == "dr_dest_removed" {
            v.push(with_dest_removed(c));
        } else {
            v.push(c);
        }
    }
    v
}

fn verdict_text(v: &Verdict) -> String {
    match v {
        Verdict::Forward { ifindex, next_hop } => {
            format!("forward {ifindex} {}", hex(&next_hop.0))
        }
        Verdict::Reply { ifindex, next_hop } => format!("reply {ifindex} {}", hex(&next_hop.0)),
        Verdict::Local => "local".to_owned(),
        Verdict::Drop(r) => format!("drop {r:?}"),
    }
}

/// Runs a case on its data path; returns the failures and the case as
/// text (inputs, verdicts, outputs) for the fixture files.
fn run_case(case: Case) -> (Vec<String>, String) {
    let (f, t, _) = run_case_frames(case);
    (f, t)
}

/// Input and expected output frames of one step, for the pcap files.
type Pair = (Vec<u8>, Option<Vec<u8>>);

/// [`run_case`] plus the (input, expected output) frames.
fn run_case_frames(mut case: Case) -> (Vec<String>, String, Vec<Pair>) {
    let mut pairs = Vec::new();
    let mut failures = Vec::new();
    let mut text = format!("# {}: {}\n", case.name, case.desc);
    for (i, st) in case.steps.iter().enumerate() {
        let mut f = Frame::from_bytes(&st.input);
        let got = case.dp.process(Time(1000 + i as u64), &mut f);
        text += &format!("in {}\n", hex(&st.input));
        if got != st.verdict {
            failures.push(format!(
                "{} step {i}: verdict {got:?}, expected {:?}",
                case.name, st.verdict
            ));
            continue;
        }
        let want: Option<Vec<u8>> = match &st.out {
            Out::Bytes(b) => Some(b.clone()),
            Out::Computed(g) => Some(g(&case.dp, f.data())),
            Out::Same => Some(st.input.clone()),
            Out::Ignore => None,
        };
        text += &format!(
            "out {} {}\n",
            verdict_text(&st.verdict).replace(' ', ":"),
            want.as_deref().map_or("-".to_owned(), hex)
        );
        pairs.push((st.input.clone(), want.clone()));
        if let Some(w) = want
            && f.data() != w.as_slice()
        {
            let d = first_diff(f.data(), &w).unwrap_or(0);
            failures.push(format!(
                "{} step {i}: bytes differ at {d}\n got  {}\n want {}",
                case.name,
                hex(f.data()),
                hex(&w)
            ));
        }
    }
    (failures, text, pairs)
}

/// A classic pcap file (LINKTYPE_ETHERNET); packet `k` of step `j` of case
/// `i` gets the timestamp `i` s `j` µs so that inputs and outputs pair up.
fn pcap(packets: &[(u32, u32, &[u8])]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend(0xa1b2_c3d4u32.to_le_bytes());
    b.extend(2u16.to_le_bytes());
    b.extend(4u16.to_le_bytes());
    b.extend(0i32.to_le_bytes());
    b.extend(0u32.to_le_bytes());
    b.extend(65535u32.to_le_bytes());
    b.extend(1u32.to_le_bytes());
    for (sec, usec, p) in packets {
        b.extend(sec.to_le_bytes());
        b.extend(usec.to_le_bytes());
        b.extend((p.len() as u32).to_le_bytes());
        b.extend((p.len() as u32).to_le_bytes());
        b.extend_from_slice(p);
    }
    b
}

#[test]
fn fixture_table() {
    let cases = all_cases();
    let steps: usize = cases.iter().map(|c| c.steps.len()).sum();
    assert!(steps >= 80, "only {steps} fixture steps");
    let mut failures = Vec::new();
    for case in cases {
        failures.extend(run_case(case).0);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn fixture_files_are_current() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/fixtures");
    let write = std::env::var_os("LVS_DATAPATH_WRITE_FIXTURES").is_some();
    if write {
        std::fs::create_dir_all(&dir).unwrap();
    }
    let mut ins = Vec::new();
    let mut outs = Vec::new();
    for (i, case) in all_cases().into_iter().enumerate() {
        let name = case.name;
        let (failures, text, pairs) = run_case_frames(case);
        assert!(failures.is_empty(), "{}", failures.join("\n"));
        for (j, (inp, out)) in pairs.into_iter().enumerate() {
            ins.push((i as u32, j as u32, inp));
            if let Some(o) = out {
                outs.push((i as u32, j as u32, o));
            }
        }
        let path = dir.join(format!("{name}.txt"));
        if write {
            std::fs::write(&path, &text).unwrap();
        } else {
            let on_disk = std::fs::read_to_string(&path)
                .unwrap_or_else(|_| panic!("{} missing: regenerate the fixtures", path.display()));
            assert_eq!(on_disk, text, "{} is stale", path.display());
        }
    }
    let as_refs = |v: &[(u32, u32, Vec<u8>)]| -> Vec<u8> {
        let r: Vec<(u32, u32, &[u8])> = v.iter().map(|(a, b, p)| (*a, *b, p.as_slice())).collect();
        pcap(&r)
    };
    for (file, data) in [
        ("fixtures-in.pcap", as_refs(&ins)),
        ("fixtures-out.pcap", as_refs(&outs)),
    ] {
        let path = dir.join(file);
        if write {
            std::fs::write(&path, &data).unwrap();
        } else {
            let on_disk = std::fs::read(&path)
                .unwrap_or_else(|_| panic!("{} missing: regenerate the fixtures", path.display()));
            assert!(on_disk == data, "{} is stale", path.display());
        }
    }
}

fn first_diff(a: &[u8], b: &[u8]) -> Option<usize> {
    (0..a.len().max(b.len())).find(|&i| a.get(i) != b.get(i))
}
