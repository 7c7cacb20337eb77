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
fn icmp_in_nat_case(name: &'static str, v6: bool, msg: (u8, u8, u32)) -> Case {
    let (kind, code, rest) = msg;
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
                &icmp4(kind, code, rest, q),
            ),
            (IpAddr::V6(s), IpAddr::V6(d)) => ipv6(
                V6 {
                    src: s,
                    dst: d,
                    next: ICMP6,
                    hlim: ttl,
                    tc: 0,
                },
                &icmp6(s, d, kind, code, rest, q),
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
fn icmp_out_nat_case(name: &'static str, v6: bool, msg: (u8, u8, u32)) -> Case {
    let (kind, code, rest) = msg;
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
                &icmp4(kind, code, rest, q),
            ),
            (IpAddr::V6(s), IpAddr::V6(d)) => ipv6(
                V6 {
                    src: s,
                    dst: d,
                    next: ICMP6,
                    hlim: ttl,
                    tc: 0,
                },
                &icmp6(s, d, kind, code, rest, q),
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
        icmp_in_nat_case("icmp_in_nat_v4", false, (3, 4, 1400)),
        icmp_in_nat_case("icmp_in_nat_v6", true, (2, 0, 1400)),
        icmp_out_nat_case("icmp_out_nat_v4", false, (3, 3, 0)),
        icmp_out_nat_case("icmp_out_nat_v6", true, (1, 4, 0)),
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
    v.extend(more_cases());
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
    assert!(cases.len() >= 90, "only {} fixture cases", cases.len());
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

// ------------------------------------------------- coverage extension

/// An ICMP error message in its IP packet: IPv4 with TOS 0xc0 and the
/// given id (as `icmp_send` builds one), IPv6 with traffic class 0.
fn icmp_err(src: IpAddr, dst: IpAddr, ttl: u8, id: u16, msg: (u8, u8, u32), q: &[u8]) -> Vec<u8> {
    let (kind, code, rest) = msg;
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => ipv4(
            V4 {
                src: s,
                dst: d,
                proto: ICMP,
                ttl,
                tos: 0xc0,
                id,
                df: false,
            },
            &icmp4(kind, code, rest, q),
        ),
        (IpAddr::V6(s), IpAddr::V6(d)) => ipv6(
            V6 {
                src: s,
                dst: d,
                next: ICMP6,
                hlim: ttl,
                tc: 0,
            },
            &icmp6(s, d, kind, code, rest, q),
        ),
        _ => panic!("mixed"),
    }
}

/// What the director answers itself (`icmp_send`): TTL 64, id 0, the
/// quote cut so that the whole IP packet fits 576 / 1280 bytes.
fn director_icmp(src: IpAddr, dst: IpAddr, msg: (u8, u8, u32), quoted: &[u8]) -> Vec<u8> {
    let cap = if src.is_ipv4() { 576 - 28 } else { 1280 - 48 };
    let q = &quoted[..quoted.len().min(cap)];
    icmp_err(src, dst, 64, 0, msg, q)
}

fn rs_of(v6: bool) -> IpAddr {
    if v6 { rs1_6().into() } else { rs1_4().into() }
}

fn pool(v6: bool) -> IpAddr {
    if v6 {
        fullnat_pool6().into()
    } else {
        fullnat_pool().into()
    }
}

/// Writes source / destination address and ports of the IP packet `p`
/// (either family, no extension headers, transport ports first): `None`
/// leaves a field alone. The IPv4 header checksum is recomputed, the
/// transport checksum is not (what `ip_vs_nat_icmp` does to a quote).
fn set_quote(p: &mut [u8], src: Option<(IpAddr, u16)>, dst: Option<(IpAddr, u16)>) {
    let v4 = p[0] >> 4 == 4;
    let (sa, da, l4) = if v4 { (12, 16, 20) } else { (8, 24, 40) };
    for (field, at, port_at) in [(src, sa, l4), (dst, da, l4 + 2)] {
        if let Some((a, port)) = field {
            match a {
                IpAddr::V4(x) => p[at..at + 4].copy_from_slice(&x.octets()),
                IpAddr::V6(x) => p[at..at + 16].copy_from_slice(&x.octets()),
            }
            p[port_at..port_at + 2].copy_from_slice(&port.to_be_bytes());
        }
    }
    if v4 {
        refill_ipv4_csum(p);
    }
}

/// TUN (IPIP, same family) for UDP and SCTP: the opening packet and a
/// second one of the flow, each in an outer header per `outer`.
fn tun_proto_case(name: &'static str, proto: u8, v6: bool) -> Case {
    let (c, v, r) = addrs(v6);
    let dp = datapath(
        rr(key(proto_of(proto), v, 80)),
        &[(r, 80, tun(TunnelType::Ipip, 0, TunnelCsum::NoCsum))],
    );
    let (of, od) = open(proto);
    // Second packet: another datagram, or an SCTP DATA chunk (TSN 1,
    // stream 0, ssn 0, ppid 0, "abcd").
    let (sf, sd): (u8, &[u8]) = if proto == UDP {
        (0, b"more")
    } else {
        (0, b"\0\0\0\x01\0\0\0\0\0\0\0\0abcd")
    };
    let ipp = if v6 { 41 } else { 4 };
    let step = |f: u8, d: &[u8]| Step {
        input: from_ext(&pkt(proto, c, CPORT, v, 80, 64, f, d)),
        verdict: fwd_int(rs1_mac()),
        out: Out::Bytes(to_rs(
            rs1_mac(),
            &outer(r, ipp, 63, !v6, &pkt(proto, c, CPORT, v, 80, 63, f, d)),
        )),
    };
    Case {
        name,
        desc: "TUN IPIP for a non-TCP protocol: whole packet encapsulated, flow kept",
        dp,
        steps: vec![step(of, od), step(sf, sd)],
    }
}

/// PMTU for GRE / GUE / mixed-family IPIP (`__ip_vs_get_out_rt{,_v6}`
/// tunnel mode): MTU = route MTU 1500 - outer IP header (20 / 40) - GUE's
/// UDP + 4-byte header (remcsum adds only for CHECKSUM_PARTIAL) - GRE's
/// `gre_calc_hlen` (4, 8 with checksum). A 1500-byte DF packet (a SYN
/// with data, so it is scheduled) is answered from the VIP with that MTU
/// in the inner packet's family. The overheads are the real kernel's
/// (`testdata/kernel/pmtu-ops.sh`, see `testdata/README.md`).
fn pmtu_kind_case(
    name: &'static str,
    inner_v6: bool,
    outer_v6: bool,
    kind: TunnelType,
    csum: TunnelCsum,
    overhead: u32,
) -> Case {
    let (c, v, _) = addrs(inner_v6);
    let r = rs_of(outer_v6);
    let dp = datapath(
        rr(key(Protocol::Tcp, v, 80)),
        &[(r, 80, tun(kind, 6080, csum))],
    );
    let ih = if inner_v6 { 40 } else { 20 };
    let data = vec![0xa5; 1500 - ih - 20];
    let input = pkt(TCP, c, CPORT, v, 80, 64, SYN, &data);
    assert_eq!(input.len(), 1500);
    let quoted = pkt(TCP, c, CPORT, v, 80, 63, SYN, &data);
    let mtu = 1500 - overhead;
    let msg = if inner_v6 { (2, 0, mtu) } else { (3, 4, mtu) };
    Case {
        name,
        desc: "PMTU on a GRE/GUE/mixed tunnel: the MTU the kernel computes for that encapsulation",
        dp,
        steps: vec![Step {
            input: from_ext(&input),
            verdict: reply_ext(),
            out: Out::Bytes(to_ext(&director_icmp(v, c, msg, &quoted))),
        }],
    }
}

/// ICMP error from the client side about a FULLNAT reply: outer
/// destination VIP → RS and source → the connection's local address;
/// quote VIP:80 → RS:8080 as source, client:cport → local:lport as
/// destination (the reverse of what the RS sent); TTL-1.
fn icmp_in_fullnat_case(name: &'static str, v6: bool) -> Case {
    let (c, v, r) = addrs(v6);
    let l = pool(v6);
    let mut dp = datapath(
        rr(key(Protocol::Tcp, v, 80)),
        &[(r, 8080, FwdMethod::FullNat)],
    );
    dp.set_fullnat_local_addrs(&[l]);
    let router: IpAddr = if v6 {
        router6().into()
    } else {
        router4().into()
    };
    let msg = if v6 { (2, 0, 1400) } else { (3, 4, 1400) };
    let mut quote = pkt(TCP, v, 80, c, CPORT, 63, SYN | ACK, b"");
    if !v6 {
        quote.truncate(28);
    }
    let q_in = quote.clone();
    Case {
        name,
        desc: "FULLNAT: ICMP error about a reply translated toward the real server",
        dp,
        steps: vec![
            Step {
                input: from_ext(&pkt(TCP, c, CPORT, v, 80, 64, SYN, b"")),
                verdict: fwd_int(rs1_mac()),
                out: Out::Computed(Box::new(move |dp: &Datapath, _: &[u8]| {
                    to_rs(rs1_mac(), &pkt(TCP, l, lport(dp), r, 8080, 63, SYN, b""))
                })),
            },
            Step {
                input: from_ext(&icmp_err(router, v, 250, 7, msg, &q_in)),
                verdict: fwd_int(rs1_mac()),
                out: Out::Computed(Box::new(move |dp: &Datapath, _: &[u8]| {
                    let mut q = quote.clone();
                    set_quote(&mut q, Some((r, 8080)), Some((l, lport(dp))));
                    to_rs(rs1_mac(), &icmp_err(l, r, 249, 7, msg, &q))
                })),
            },
        ],
    }
}

/// FULLNAT ICMPv6 "packet too big" from the real server about a packet
/// the director sent it (quote local:lport → RS:5353): outer RS → local
/// becomes VIP → client, quote client:cport → VIP:53.
fn icmp_out_fullnat_v6_case() -> Case {
    let make = || {
        let (c, v, r) = addrs(true);
        let l = pool(true);
        let mut dp = datapath(
            rr(key(Protocol::Udp, v, 53)),
            &[(r, 5353, FwdMethod::FullNat)],
        );
        dp.set_fullnat_local_addrs(&[l]);
        Case {
            name: "icmp_out_fullnat_v6",
            desc: "FULLNAT: ICMPv6 packet too big from the real server translated to the client",
            dp,
            steps: vec![
                Step {
                    input: from_ext(&pkt(UDP, c, CPORT, v, 53, 64, 0, b"query")),
                    verdict: fwd_int(rs1_mac()),
                    out: Out::Computed(Box::new(move |dp: &Datapath, _: &[u8]| {
                        to_rs(rs1_mac(), &pkt(UDP, l, lport(dp), r, 5353, 63, 0, b"query"))
                    })),
                },
                Step {
                    input: Vec::new(),
                    verdict: fwd_ext(),
                    out: Out::Computed(Box::new(move |dp: &Datapath, _: &[u8]| {
                        let mut q = pkt(UDP, l, lport(dp), r, 5353, 63, 0, b"query");
                        set_quote(&mut q, Some((c, CPORT)), Some((v, 53)));
                        to_ext(&icmp_err(v, c, 63, 0, (2, 0, 1280), &q))
                    })),
                },
            ],
        }
    };
    fill_fullnat_inputs(make, |p| {
        let (_, _, r) = addrs(true);
        let l = pool(true);
        let sent = pkt(UDP, l, p, r, 5353, 63, 0, b"query");
        from_rs(rs1_mac(), &icmp_err(r, l, 64, 0, (2, 0, 1280), &sent))
    })
}

/// Fragments (the engine's policy: every fragment to the local stack for
/// reassembly, also on an established flow).
fn fragment_cases() -> Vec<Case> {
    let mut out = Vec::new();
    let (c, v, r) = addrs(false);
    let mk4 = || datapath(rr(key(Protocol::Tcp, v, 80)), &[(r, 8080, FwdMethod::Masq)]);
    // IPv4 non-first fragment (offset 1480, last): no transport header.
    let mut nf = ip_df(c, v, TCP, 64, false, &[0x77; 40]);
    nf[6..8].copy_from_slice(&(1480u16 / 8).to_be_bytes());
    refill_ipv4_csum(&mut nf);
    out.push(Case {
        name: "fragment_v4_non_first_to_stack",
        desc: "IPv4 non-first fragment (offset 1480): to the stack, bytes untouched",
        dp: mk4(),
        steps: vec![Step {
            input: from_ext(&nf),
            verdict: Verdict::Local,
            out: Out::Same,
        }],
    });

    let (c6, v6a, r6) = addrs(true);
    let mk6 = || {
        datapath(
            rr(key(Protocol::Tcp, v6a, 80)),
            &[(r6, 8080, FwdMethod::Masq)],
        )
    };
    // IPv6 fragment header (RFC 8200 §4.5): next header, reserved,
    // offset << 3 | M, identification.
    let frag6 = |offset: u16, more: bool, body: &[u8]| -> Vec<u8> {
        let mut f = vec![TCP, 0];
        f.extend(((offset / 8) << 3 | u16::from(more)).to_be_bytes());
        f.extend(0x0bad_cafeu32.to_be_bytes());
        f.extend_from_slice(body);
        let (IpAddr::V6(s), IpAddr::V6(d)) = (c6, v6a) else {
            unreachable!()
        };
        ipv6(
            V6 {
                src: s,
                dst: d,
                next: 44,
                hlim: 64,
                tc: 0,
            },
            &f,
        )
    };
    let seg = tcp(c6, v6a, CPORT, 80, 1000, 2000, ACK, &[0x42; 64]);
    out.push(Case {
        name: "fragment_v6_first_on_flow_to_stack",
        desc: "IPv6 first fragment of an established NAT flow: to the stack, not forwarded",
        dp: mk6(),
        steps: vec![
            Step {
                input: from_ext(&pkt(TCP, c6, CPORT, v6a, 80, 64, SYN, b"")),
                verdict: fwd_int(rs1_mac()),
                out: Out::Bytes(to_rs(
                    rs1_mac(),
                    &pkt(TCP, c6, CPORT, r6, 8080, 63, SYN, b""),
                )),
            },
            Step {
                input: from_ext(&frag6(0, true, &seg)),
                verdict: Verdict::Local,
                out: Out::Same,
            },
        ],
    });
    out.push(Case {
        name: "fragment_v6_non_first_to_stack",
        desc: "IPv6 non-first fragment (offset 1448): to the stack",
        dp: mk6(),
        steps: vec![Step {
            input: from_ext(&frag6(1448, false, &[0x24; 32])),
            verdict: Verdict::Local,
            out: Out::Same,
        }],
    });
    out
}

/// Malformed frames not covered by `malformed_cases`, and Ethernet
/// padding.
fn malformed_more_cases() -> Vec<Case> {
    let mut out = Vec::new();
    let (c, v, r) = addrs(false);
    let mk = |proto: Protocol| datapath(rr(key(proto, v, 80)), &[(r, 8080, FwdMethod::Masq)]);
    let drop = |input: Vec<u8>| {
        vec![Step {
            input,
            verdict: Verdict::Drop(DropReason::Malformed),
            out: Out::Ignore,
        }]
    };

    // IHL 4 (16 bytes), header checksum correct over those 16 bytes.
    let mut ihl = pkt(TCP, c, CPORT, v, 80, 64, SYN, b"");
    ihl[0] = 0x44;
    refill_ipv4_csum(&mut ihl);
    out.push(Case {
        name: "malformed_ipv4_ihl_under_5",
        desc: "IPv4 IHL 4: drop",
        dp: mk(Protocol::Tcp),
        steps: drop(from_ext(&ihl)),
    });

    // TCP header of 10 bytes, IPv4 total length consistent with it.
    let seg = tcp(c, v, CPORT, 80, 1000, 0, SYN, b"");
    out.push(Case {
        name: "malformed_truncated_tcp",
        desc: "IPv4 packet whose TCP header is 10 bytes: drop",
        dp: mk(Protocol::Tcp),
        steps: drop(from_ext(&ip(c, v, TCP, 64, &seg[..10]))),
    });

    // UDP header of 6 bytes.
    let useg = udp(c, v, CPORT, 80, b"", true);
    out.push(Case {
        name: "malformed_truncated_udp",
        desc: "IPv4 packet whose UDP header is 6 bytes: drop",
        dp: mk(Protocol::Udp),
        steps: drop(from_ext(&ip(c, v, UDP, 64, &useg[..6]))),
    });

    // IPv6 payload length larger than what the frame carries.
    let (c6, v6a, r6) = addrs(true);
    let mk6 = || {
        datapath(
            rr(key(Protocol::Tcp, v6a, 80)),
            &[(r6, 8080, FwdMethod::Masq)],
        )
    };
    let mut long6 = pkt(TCP, c6, CPORT, v6a, 80, 64, SYN, b"");
    long6[4..6].copy_from_slice(&100u16.to_be_bytes());
    out.push(Case {
        name: "malformed_ipv6_payload_length_past_frame",
        desc: "IPv6 payload length 100 with a 20-byte payload: drop",
        dp: mk6(),
        steps: drop(from_ext(&long6)),
    });

    // IPv6 header cut at 30 bytes.
    let mut t6 = from_ext(&pkt(TCP, c6, CPORT, v6a, 80, 64, SYN, b""));
    t6.truncate(14 + 30);
    out.push(Case {
        name: "malformed_truncated_ipv6",
        desc: "IPv6 header cut short: drop",
        dp: mk6(),
        steps: drop(t6),
    });

    // Minimum-size Ethernet frame: a 29-byte UDP packet padded to 60
    // bytes. The stack trims to the IP total length (`ip_rcv_core`); the
    // output carries no padding.
    let small = pkt(UDP, c, CPORT, v, 80, 64, 0, b"q");
    let mut padded = from_ext(&small);
    padded.resize(60, 0);
    out.push(Case {
        name: "nat_padded_frame",
        desc: "Ethernet padding after a short IPv4 packet is ignored and not forwarded",
        dp: mk(Protocol::Udp),
        steps: vec![Step {
            input: padded,
            verdict: fwd_int(rs1_mac()),
            out: Out::Bytes(to_rs(rs1_mac(), &pkt(UDP, c, CPORT, r, 8080, 63, 0, b"q"))),
        }],
    });
    out
}

/// Persistence granularity (`-M`): clients in the same /24 (IPv4) or /64
/// (IPv6) share the template, so they reach the same server; a client of
/// another prefix is scheduled anew (rr: the other server).
fn persistence_netmask_cases() -> Vec<Case> {
    let mut out = Vec::new();
    let v = vip4().into();
    let mut svc = rr(key(Protocol::Tcp, v, 80)).with_persistence(300);
    svc.netmask = 0xffff_ff00;
    let dp = datapath(
        svc,
        &[
            (rs1_4().into(), 80, FwdMethod::Route),
            (rs2_4().into(), 80, FwdMethod::Route),
        ],
    );
    let s = |cl: &str, p: u16, m: MacAddr| {
        let cl: IpAddr = ip4(cl).into();
        Step {
            input: from_ext(&pkt(TCP, cl, p, v, 80, 64, SYN, b"")),
            verdict: fwd_int(m),
            out: Out::Bytes(to_rs(m, &pkt(TCP, cl, p, v, 80, 63, SYN, b""))),
        }
    };
    out.push(Case {
        name: "persistence_netmask_24_dr",
        desc: "persistent DR service with netmask /24: the whole /24 sticks to one server",
        dp,
        steps: vec![
            s("198.51.100.10", 40001, rs2_mac()),
            s("198.51.100.77", 40002, rs2_mac()),
            s("203.0.113.9", 40003, rs1_mac()),
            s("198.51.100.200", 40004, rs2_mac()),
        ],
    });

    let v6a: IpAddr = vip6().into();
    let mut svc = rr(key(Protocol::Udp, v6a, 53)).with_persistence(300);
    svc.netmask = 64;
    let dp = datapath(
        svc,
        &[
            (rs1_6().into(), 5353, FwdMethod::Masq),
            (rs2_6().into(), 5353, FwdMethod::Masq),
        ],
    );
    let s6 = |cl: &str, p: u16, rs: IpAddr, m: MacAddr| {
        let cl: IpAddr = ip6(cl).into();
        Step {
            input: from_ext(&pkt(UDP, cl, p, v6a, 53, 64, 0, b"query")),
            verdict: fwd_int(m),
            out: Out::Bytes(to_rs(m, &pkt(UDP, cl, p, rs, 5353, 63, 0, b"query"))),
        }
    };
    out.push(Case {
        name: "persistence_prefix_64_nat_udp_v6",
        desc: "persistent NAT UDP IPv6 service with /64 granularity: same prefix, two ports, one server",
        dp,
        steps: vec![
            s6("2001:db8:99::10", 40001, rs2_6().into(), rs2_mac()),
            s6("2001:db8:99::10", 40002, rs2_6().into(), rs2_mac()),
            s6("2001:db8:99::77", 40003, rs2_6().into(), rs2_mac()),
            s6("2001:db8:98::5", 40004, rs1_6().into(), rs1_mac()),
        ],
    });
    out
}

/// fwmark over NAT, IPv6: TCP to VIP:80 and VIP:443 marked 10; the
/// destination has port 0, so the connection keeps the packet's port
/// (`ip_vs_schedule`: `dest->port ? dest->port : vport`); the reply from
/// RS:443 is SNATed back to VIP:443 (both seen on the real kernel,
/// `testdata/kernel/fwmark-nat6.sh`).
fn fwmark_nat_v6_case() -> Case {
    let (c, v, r) = addrs(true);
    let k = ServiceKey::Fwmark {
        af: lvs_core::Af::Inet6,
        mark: 10,
    };
    let mut dp = datapath(rr(k), &[(r, 0, FwdMethod::Masq)]);
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
                &pkt(TCP, c, CPORT + port, r, port, 63, SYN, b""),
            )),
        });
    }
    steps.push(Step {
        input: from_rs(
            rs1_mac(),
            &pkt(TCP, r, 443, c, CPORT + 443, 64, SYN | ACK, b""),
        ),
        verdict: fwd_ext(),
        out: Out::Bytes(to_ext(&pkt(
            TCP,
            v,
            443,
            c,
            CPORT + 443,
            63,
            SYN | ACK,
            b"",
        ))),
    });
    Case {
        name: "fwmark_nat_v6",
        desc: "IPv6 fwmark NAT service: two ports share mark 10, ports kept, reply SNATed",
        dp,
        steps,
    }
}

/// One-packet scheduling (`-o`, UDP): each datagram is scheduled on its
/// own (the connection is not kept), so the same client:port alternates
/// between the rr servers; the server's answer matches no connection and
/// is routed as it is (no SNAT), as the real kernel does
/// (`testdata/kernel/pmtu-ops.sh`).
fn ops_case() -> Case {
    let (c, v, _) = addrs(false);
    let svc = rr(key(Protocol::Udp, v, 53)).with_flags(lvs_core::ServiceFlags::ONEPACKET);
    let dp = datapath(
        svc,
        &[
            (rs1_4().into(), 53, FwdMethod::Masq),
            (rs2_4().into(), 53, FwdMethod::Masq),
        ],
    );
    let s = |rs: IpAddr, m: MacAddr| Step {
        input: from_ext(&pkt(UDP, c, CPORT, v, 53, 64, 0, b"query")),
        verdict: fwd_int(m),
        out: Out::Bytes(to_rs(m, &pkt(UDP, c, CPORT, rs, 53, 63, 0, b"query"))),
    };
    let r1: IpAddr = rs1_4().into();
    Case {
        name: "ops_udp_nat",
        desc: "one-packet scheduling: every datagram scheduled afresh, no connection kept",
        dp,
        steps: vec![
            s(rs2_4().into(), rs2_mac()),
            s(r1, rs1_mac()),
            s(rs2_4().into(), rs2_mac()),
            Step {
                input: from_rs(rs1_mac(), &pkt(UDP, r1, 53, c, CPORT, 64, 0, b"answer")),
                verdict: fwd_ext(),
                out: Out::Bytes(to_ext(&pkt(UDP, r1, 53, c, CPORT, 63, 0, b"answer"))),
            },
        ],
    }
}

/// TTL / hop limit 1 on DR and TUN services, and on a NAT reply over
/// IPv6: time exceeded, from the VIP for packets addressed to it, from
/// the director's inside address for forwarded replies.
fn ttl_more_cases() -> Vec<Case> {
    let mut out = Vec::new();
    let (c6, v6a, r6) = addrs(true);
    let hl1 = pkt(TCP, c6, CPORT, v6a, 80, 1, SYN, b"");
    out.push(Case {
        name: "dr_hop_limit_exceeded_v6",
        desc: "DR IPv6 with hop limit 1: ICMPv6 time exceeded from the VIP",
        dp: datapath(
            rr(key(Protocol::Tcp, v6a, 80)),
            &[(r6, 80, FwdMethod::Route)],
        ),
        steps: vec![Step {
            input: from_ext(&hl1),
            verdict: reply_ext(),
            out: Out::Bytes(to_ext(&director_icmp(v6a, c6, (3, 0, 0), &hl1))),
        }],
    });

    let (c, v, r) = addrs(false);
    let ttl1 = pkt(UDP, c, CPORT, v, 80, 1, 0, b"query");
    out.push(Case {
        name: "tun_ttl_exceeded_v4",
        desc: "TUN with TTL 1: time exceeded from the VIP, nothing encapsulated",
        dp: datapath(
            rr(key(Protocol::Udp, v, 80)),
            &[(r, 80, tun(TunnelType::Ipip, 0, TunnelCsum::NoCsum))],
        ),
        steps: vec![Step {
            input: from_ext(&ttl1),
            verdict: reply_ext(),
            out: Out::Bytes(to_ext(&director_icmp(v, c, (11, 0, 0), &ttl1))),
        }],
    });

    let reply = pkt(TCP, r6, 8080, c6, CPORT, 1, SYN | ACK, b"");
    out.push(Case {
        name: "nat_reply_hop_limit_exceeded_v6",
        desc: "NAT reply with hop limit 1: ICMPv6 time exceeded from the director's inside address",
        dp: datapath(
            rr(key(Protocol::Tcp, v6a, 80)),
            &[(r6, 8080, FwdMethod::Masq)],
        ),
        steps: vec![
            Step {
                input: from_ext(&pkt(TCP, c6, CPORT, v6a, 80, 64, SYN, b"")),
                verdict: fwd_int(rs1_mac()),
                out: Out::Bytes(to_rs(
                    rs1_mac(),
                    &pkt(TCP, c6, CPORT, r6, 8080, 63, SYN, b""),
                )),
            },
            Step {
                input: from_rs(rs1_mac(), &reply),
                verdict: Verdict::Reply {
                    ifindex: IF_INT,
                    next_hop: rs1_mac(),
                },
                out: Out::Bytes(to_rs(
                    rs1_mac(),
                    &director_icmp(dir_int6().into(), r6, (3, 0, 0), &reply),
                )),
            },
        ],
    });
    out
}

/// NAT toward a 1400-byte link over IPv6: packet too big 1400 from the
/// VIP, quoting the packet with the decremented hop limit, before DNAT.
fn pmtu_nat_v6_case() -> Case {
    let (c, v, r) = addrs(true);
    let mut dp = datapath(rr(key(Protocol::Tcp, v, 80)), &[(r, 8080, FwdMethod::Masq)]);
    dp.config_mut().interfaces[1].mtu = 1400;
    let data = vec![0x33; 1500 - 60];
    let big = pkt(TCP, c, CPORT, v, 80, 64, SYN, &data);
    let quoted = pkt(TCP, c, CPORT, v, 80, 63, SYN, &data);
    Case {
        name: "pmtu_nat_v6",
        desc: "NAT IPv6 to a 1400-byte link: packet too big 1400 to the client",
        dp,
        steps: vec![Step {
            input: from_ext(&big),
            verdict: reply_ext(),
            out: Out::Bytes(to_ext(&director_icmp(v, c, (2, 0, 1400), &quoted))),
        }],
    }
}

fn more_cases() -> Vec<Case> {
    let mut v = vec![
        tun_proto_case("tun_ipip_udp_v4", UDP, false),
        tun_proto_case("tun_ipip_sctp_v6", SCTP, true),
        nodest_case("nodest_tcp_v6", TCP, true),
        nodest_case("nodest_udp_v4", UDP, false),
        icmp_in_nat_case("icmp_in_nat_source_quench_v4", false, (4, 0, 0)),
        icmp_in_nat_case("icmp_in_nat_v6_addr_unreach", true, (1, 3, 0)),
        icmp_out_nat_case("icmp_out_nat_time_exceeded_v4", false, (11, 0, 0)),
        icmp_out_nat_case("icmp_out_nat_time_exceeded_v6", true, (3, 0, 0)),
        icmp_in_fullnat_case("icmp_in_fullnat_v4", false),
        icmp_in_fullnat_case("icmp_in_fullnat_v6", true),
        icmp_out_fullnat_v6_case(),
        pmtu_kind_case(
            "pmtu_gre_csum_v4",
            false,
            false,
            TunnelType::Gre,
            TunnelCsum::Csum,
            28,
        ),
        pmtu_kind_case(
            "pmtu_gre_6in6",
            true,
            true,
            TunnelType::Gre,
            TunnelCsum::NoCsum,
            44,
        ),
        pmtu_kind_case(
            "pmtu_gue_v4",
            false,
            false,
            TunnelType::Gue,
            TunnelCsum::NoCsum,
            32,
        ),
        pmtu_kind_case(
            "pmtu_gue_csum_6in6",
            true,
            true,
            TunnelType::Gue,
            TunnelCsum::Csum,
            52,
        ),
        pmtu_kind_case(
            "pmtu_ipip_4in6",
            false,
            true,
            TunnelType::Ipip,
            TunnelCsum::NoCsum,
            40,
        ),
        pmtu_nat_v6_case(),
        fwmark_nat_v6_case(),
        ops_case(),
    ];
    for (name, proto, v6) in [
        ("fullnat_udp_v6", UDP, true),
        ("fullnat_sctp_v4", SCTP, false),
    ] {
        let r = rs_of(v6);
        let l = pool(v6);
        let (af, ad) = answer(proto);
        v.push(fill_fullnat_inputs(
            || fullnat_case(name, proto, v6),
            move |p| from_rs(rs1_mac(), &pkt(proto, r, 8080, l, p, 64, af, ad)),
        ));
    }
    v.extend(fragment_cases());
    v.extend(malformed_more_cases());
    v.extend(persistence_netmask_cases());
    v.extend(ttl_more_cases());
    v
}
