//! Framing, handshake and serialisation tests.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::io::Cursor;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::unix::net::UnixStream;
use std::thread;

use lvs_proto::frame::{MAX_FRAME, encode};
use lvs_proto::*;
use proptest::prelude::*;

fn sample_service() -> ServiceEntry {
    ServiceEntry {
        spec: ServiceSpec {
            key: ServiceKey::Addr {
                protocol: Protocol::Tcp,
                addr: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
                port: 80,
            },
            scheduler: "wlc".into(),
            persistent: true,
            timeout: 360,
            netmask: 0xffff_ff00,
            ops: false,
            sched_flags: SchedFlags {
                flag1: true,
                flag2: false,
                flag3: true,
            },
            pe_name: Some("sip".into()),
        },
        stats: Stats {
            conns: 1,
            inpkts: 2,
            outpkts: 3,
            inbytes: 4,
            outbytes: 5,
            ..Stats::default()
        },
        dests: vec![DestEntry {
            spec: DestSpec {
                addr: IpAddr::V6(Ipv6Addr::LOCALHOST),
                port: 8080,
                fwd: FwdMethod::Tunnel(TunnelSpec {
                    kind: TunnelType::Gue,
                    port: 6080,
                    csum: TunnelCsum::RemCsum,
                }),
                weight: 3,
                u_threshold: 10,
                l_threshold: 5,
            },
            active_conns: 7,
            inact_conns: 8,
            persist_conns: 9,
            stats: Stats {
                cps: 11,
                outbps: u64::MAX,
                ..Stats::default()
            },
        }],
    }
}

#[test]
fn requests_and_responses_round_trip() {
    let svc = sample_service();
    let reqs = vec![
        Request::GetInfo,
        Request::AddService(svc.spec.clone()),
        Request::DelDest {
            service: ServiceKey::Fwmark {
                mark: u32::MAX,
                family: Family::Inet6,
            },
            dest: svc.dests[0].spec.key(),
        },
        Request::Batch {
            requests: vec![
                Request::Flush,
                Request::Zero(None),
                Request::ListConnections,
            ],
            atomic: true,
        },
        Request::StartDaemon(DaemonConfig {
            state: DaemonState::Backup,
            mcast_ifn: "eth1".into(),
            syncid: 9,
            sync_maxlen: Some(1400),
            mcast_group: Some(IpAddr::V4(Ipv4Addr::new(224, 0, 0, 99))),
            mcast_port: None,
            mcast_ttl: Some(3),
        }),
        Request::Native(NativeRequest::Status),
        Request::Native(NativeRequest::Reload),
    ];
    for r in reqs {
        let bytes = encode(&r).unwrap();
        let back: Request = read_frame(&mut Cursor::new(bytes)).unwrap();
        assert_eq!(back, r);
    }
    let resps = vec![
        Response::Native(lvs_proto::NativeResponse::Reload(lvs_proto::ReloadReport {
            applied: false,
            file: "/etc/keepalived/keepalived.conf".into(),
            changes: 0,
            kept_checkers: 2,
            new_checkers: 1,
            diagnostics: vec!["k.conf:3:5: error: unknown scheduler".into()],
        })),
        Response::Services(vec![svc.clone()]),
        Response::Error(ApiError::new(Errno::Eexist)),
        Response::Error(ApiError::new(Errno::Other(4242))),
        Response::BatchFailed {
            index: 3,
            error: ApiError::with_detail(Errno::Erange, "weight"),
        },
        Response::Connections(vec![ConnEntry {
            protocol: ConnProtocol::Ip,
            caddr: IpAddr::V4(Ipv4Addr::new(10, 9, 0, 0)),
            cport: 0,
            vaddr: IpAddr::V4(Ipv4Addr::new(0, 0, 0, 7)),
            vport: 0,
            daddr: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 11)),
            dport: 80,
            state: "NONE".into(),
            expires: 359,
            pe_name: None,
            pe_data: None,
        }]),
        Response::Info(Info {
            version: Info::KERNEL_VERSION,
            conn_tab_size: 4096,
        }),
    ];
    for r in resps {
        let bytes = encode(&r).unwrap();
        let back: Response = read_frame(&mut Cursor::new(bytes)).unwrap();
        assert_eq!(back, r);
    }
}

#[test]
fn errno_names_are_the_kernel_names_on_the_wire() {
    let json = serde_json::to_string(&Errno::Esrch).unwrap();
    assert_eq!(json, "\"ESRCH\"");
    let json = serde_json::to_string(&Errno::Other(200)).unwrap();
    assert_eq!(json, "200");
    assert_eq!(
        serde_json::from_str::<Errno>("\"EEXIST\"").unwrap(),
        Errno::Eexist
    );
}

proptest! {
    #[test]
    fn errno_numbers_round_trip(n in 0i32..200) {
        prop_assert_eq!(Errno::from_number(n).number(), n);
    }
}

#[test]
fn frames_have_a_big_endian_length_prefix() {
    let bytes = encode(&Request::Flush).unwrap();
    let body = br#""flush""#;
    assert_eq!(&bytes[..4], &(body.len() as u32).to_be_bytes());
    assert_eq!(&bytes[4..], body);
}

#[test]
fn empty_stream_is_closed_and_cut_frame_is_an_error() {
    let r: Result<Request, _> = read_frame(&mut Cursor::new(Vec::new()));
    assert!(matches!(r, Err(FrameError::Closed)));
    let mut bytes = encode(&Request::ListServices).unwrap();
    bytes.truncate(bytes.len() - 2);
    let r: Result<Request, _> = read_frame(&mut Cursor::new(bytes));
    assert!(matches!(r, Err(FrameError::Io(_))));
    let r: Result<Request, _> = read_frame(&mut Cursor::new(vec![0, 0]));
    assert!(matches!(r, Err(FrameError::Io(_))));
}

#[test]
fn oversized_frame_is_refused_before_reading_it() {
    let mut bytes = (MAX_FRAME + 1).to_be_bytes().to_vec();
    bytes.extend_from_slice(b"{}");
    let r: Result<Request, _> = read_frame(&mut Cursor::new(bytes));
    assert!(matches!(r, Err(FrameError::TooLarge(n)) if n == u64::from(MAX_FRAME) + 1));
}

#[test]
fn garbage_is_a_decode_error() {
    let mut bytes = 3u32.to_be_bytes().to_vec();
    bytes.extend_from_slice(b"{x}");
    let r: Result<Request, _> = read_frame(&mut Cursor::new(bytes));
    assert!(matches!(r, Err(FrameError::Decode(_))));
}

#[test]
fn handshake_then_call() {
    let (a, mut b) = UnixStream::pair().unwrap();
    let server = thread::spawn(move || {
        let hello = accept_handshake(&mut b, "fake lvsd").unwrap();
        assert_eq!(hello.version, PROTO_VERSION);
        let req: Request = read_frame(&mut b).unwrap();
        assert_eq!(req, Request::GetTimeouts);
        write_frame(
            &mut b,
            &Response::Timeouts(Timeouts {
                tcp: 900,
                tcp_fin: 120,
                udp: 300,
            }),
        )
        .unwrap();
    });
    let mut c = Client::handshake(a, "test").unwrap();
    assert_eq!(c.server(), "fake lvsd");
    let r = c.call(&Request::GetTimeouts).unwrap();
    assert_eq!(
        r,
        Response::Timeouts(Timeouts {
            tcp: 900,
            tcp_fin: 120,
            udp: 300
        })
    );
    server.join().unwrap();
}

#[test]
fn version_mismatch_is_reported_on_both_sides() {
    // A server that speaks version 2 talking to this (version 1) client.
    let (a, mut b) = UnixStream::pair().unwrap();
    let server = thread::spawn(move || {
        let hello: Hello = read_frame(&mut b).unwrap();
        assert_eq!(hello.version, PROTO_VERSION);
        write_frame(
            &mut b,
            &Welcome::Rejected {
                version: 2,
                server: "lvsd 9".into(),
            },
        )
        .unwrap();
    });
    let err = Client::handshake(a, "test").unwrap_err();
    let text = err.to_string();
    assert!(matches!(
        err,
        ClientError::VersionMismatch {
            server_version: 2,
            ..
        }
    ));
    assert!(
        text.contains("version 2") && text.contains("version 1"),
        "{text}"
    );
    server.join().unwrap();

    // A version-2 client talking to this server.
    let (mut a, mut b) = UnixStream::pair().unwrap();
    let server = thread::spawn(move || accept_handshake(&mut b, "lvsd").unwrap_err());
    let mut hello = Hello::new("future");
    hello.version = 2;
    write_frame(&mut a, &hello).unwrap();
    let w: Welcome = read_frame(&mut a).unwrap();
    assert_eq!(
        w,
        Welcome::Rejected {
            version: PROTO_VERSION,
            server: "lvsd".into()
        }
    );
    let err = server.join().unwrap();
    assert!(matches!(err, HandshakeError::Version { version: 2, .. }));
}

#[test]
fn wrong_magic_is_refused() {
    let (mut a, mut b) = UnixStream::pair().unwrap();
    let server = thread::spawn(move || accept_handshake(&mut b, "lvsd").unwrap_err());
    let mut hello = Hello::new("x");
    hello.magic = "http".into();
    write_frame(&mut a, &hello).unwrap();
    assert!(matches!(server.join().unwrap(), HandshakeError::BadMagic(m) if m == "http"));
}

#[test]
fn socket_path_default_and_override() {
    use std::ffi::OsStr;
    use std::path::Path;
    assert_eq!(
        conn::socket_path_from(None),
        Path::new("/run/lvs/lvsd.sock")
    );
    assert_eq!(
        conn::socket_path_from(Some(OsStr::new(""))),
        Path::new("/run/lvs/lvsd.sock")
    );
    assert_eq!(
        conn::socket_path_from(Some(OsStr::new("/tmp/x.sock"))),
        Path::new("/tmp/x.sock")
    );
}

#[test]
fn connect_to_missing_socket_names_the_path() {
    let p = std::env::temp_dir().join(format!("lvs-proto-missing-{}.sock", std::process::id()));
    let err = Client::connect(&p, "t").unwrap_err();
    assert!(matches!(err, ClientError::Connect { .. }));
    assert!(err.to_string().contains(p.to_str().unwrap()));
}
