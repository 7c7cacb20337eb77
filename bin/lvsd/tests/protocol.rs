//! The daemon's side of lvs-proto, spoken directly: handshake refusals,
//! malformed requests, concurrent clients, and the lvsadm tests that ran
//! against the fake daemon (`bin/lvsadm/tests/cli.rs`) replayed against the
//! real one.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

use std::io::Write;
use std::os::unix::net::UnixStream;

use common::*;
use lvs_proto::{
    ApiError, Client, Errno, Hello, PROTO_VERSION, Request, Response, Welcome, read_frame,
    write_frame,
};
use lvs_testkit::cap_log::{Case, parse as parse_cap_log};

#[test]
fn version_mismatch_is_rejected_with_the_servers_version() {
    let s = Scratch::new("version");
    let _d = Daemon::start(&s, &[]);
    let mut stream = UnixStream::connect(s.socket()).unwrap();
    let mut hello = Hello::new("test");
    hello.version = PROTO_VERSION + 98;
    write_frame(&mut stream, &hello).unwrap();
    match read_frame::<_, Welcome>(&mut stream).unwrap() {
        Welcome::Rejected { version, server } => {
            assert_eq!(version, PROTO_VERSION);
            assert!(server.starts_with("lvsd "), "{server}");
        }
        other => panic!("{other:?}"),
    }
    // Then the daemon hangs up.
    assert!(read_frame::<_, Welcome>(&mut stream).is_err());

    // A peer that is not an lvs-rs client is dropped without an answer.
    let mut stream = UnixStream::connect(s.socket()).unwrap();
    let mut hello = Hello::new("test");
    hello.magic = "HTTP".into();
    write_frame(&mut stream, &hello).unwrap();
    assert!(read_frame::<_, Welcome>(&mut stream).is_err());
}

#[test]
fn malformed_request_is_einval_and_the_connection_survives() {
    let s = Scratch::new("malformed");
    let _d = Daemon::start(&s, &[]);
    let stream = UnixStream::connect(s.socket()).unwrap();
    let mut c = Client::handshake(stream.try_clone().unwrap(), "test").unwrap();
    // A well-framed body that is no request.
    let body = b"{\"NoSuchRequest\":1}";
    let mut raw = stream;
    raw.write_all(&u32::try_from(body.len()).unwrap().to_be_bytes())
        .unwrap();
    raw.write_all(body).unwrap();
    match read_frame::<_, Response>(&mut raw).unwrap() {
        Response::Error(ApiError { errno, .. }) => assert_eq!(errno, Errno::Einval),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        c.call(&Request::GetInfo).unwrap(),
        Response::Info(_)
    ));
}

#[test]
fn concurrent_clients_each_apply_whole() {
    let s = Scratch::new("concurrent");
    let _d = Daemon::start(&s, &[]);
    assert_eq!(
        ipvsadm(&s, &["-A", "-t", "10.7.0.1:80", "-s", "rr"]).code,
        0
    );
    // Eight clients at once, each restoring a batch of five destinations.
    std::thread::scope(|scope| {
        for i in 0..8 {
            let s = &s;
            scope.spawn(move || {
                let input: String = (0..5)
                    .map(|j| format!("-a -t 10.7.0.1:80 -r 10.7.{i}.{j} -m\n"))
                    .collect();
                let o = ipvsadm_in(s, &["-R"], &input);
                assert_eq!((o.code, o.stderr.as_str()), (0, ""));
            });
        }
    });
    let saved = ipvsadm(&s, &["-Sn"]).stdout;
    assert_eq!(saved.lines().count(), 1 + 40, "{saved}");
    // Each batch is contiguous in the kernel's list order (newest first):
    // no other client's request was applied in its middle.
    let mut nosort = ipvsadm(&s, &["-Ln", "--nosort"]).stdout;
    nosort = nosort
        .lines()
        .filter(|l| l.starts_with("  -> 10.7."))
        .map(|l| l.split('.').nth(2).unwrap().to_string())
        .collect::<Vec<_>>()
        .join(",");
    let groups: Vec<&str> = nosort.split(',').collect();
    for chunk in groups.chunks(5) {
        assert!(chunk.iter().all(|g| *g == chunk[0]), "{nosort}");
    }
}

#[test]
fn native_status_names_the_daemon() {
    let s = Scratch::new("status");
    let _d = Daemon::start(&s, &[]);
    assert_eq!(ipvsadm(&s, &["-A", "-t", "10.8.0.1:80"]).code, 0);
    assert_eq!(
        ipvsadm(&s, &["-a", "-t", "10.8.0.1:80", "-r", "10.8.0.2"]).code,
        0
    );
    let o = client_with(&s, "lvsadm", &s.socket(), &["status"], "", |_| {});
    assert_eq!(o.code, 0, "{}", o.stderr);
    let head = format!("lvsd {}: up ", env!("CARGO_PKG_VERSION"));
    assert!(
        o.stdout.starts_with(&head)
            && o.stdout
                .ends_with(" s, 1 services, 1 destinations, 0 connections\n"),
        "{}",
        o.stdout
    );
}

fn restore_input(cmd: &str) -> String {
    // The here-string of the capture log, $'...' quoted.
    let q = cmd.split("<<< $'").nth(1).unwrap().trim_end_matches('\'');
    let mut s = q.replace("\\n", "\n").replace("\\t", "\t");
    s.push('\n'); // a here-string ends with a newline
    s
}

#[test]
fn restores_that_ipvsadm_applies_fully_give_the_captured_listings() {
    // As bin/lvsadm/tests/cli.rs does against its fake daemon.
    let base = "-A -t 10.0.0.1:80 -s wlc\n-a -t 10.0.0.1:80 -r 10.0.0.11:80 -g -w 1\n";
    let cases = parse_cap_log(&std::fs::read_to_string(golden("argv2.log")).unwrap());
    let restores: Vec<(usize, &Case)> = cases
        .iter()
        .enumerate()
        .filter(|(_, c)| c.command.contains("<<<"))
        .collect();
    let s = Scratch::new("argv2");
    let conf = s.dir.join("base.conf");
    std::fs::write(&conf, base).unwrap();
    // 1st: all lines valid; 5th: `-L -n` inside the restore; 7th:
    // ipvsadm-restore; 8th: thresholds edited.
    for &k in &[0usize, 4, 6, 7] {
        let (idx, c) = restores[k];
        let _ = std::fs::remove_file(s.socket());
        let _d = Daemon::start(&s, &["--config", conf.to_str().unwrap()]);
        let (name, args): (&str, &[&str]) = if c.command.starts_with("ipvsadm-restore") {
            ("ipvsadm-restore", &[])
        } else {
            ("ipvsadm", &["-R"])
        };
        let got = client_with(
            &s,
            name,
            &s.socket(),
            args,
            &restore_input(&c.command),
            |_| {},
        );
        assert_eq!(
            (got.stdout.as_str(), got.stderr.as_str(), got.code),
            (c.stdout.as_str(), c.stderr.as_str(), c.code),
            "{}",
            c.command
        );
        for next in cases[idx + 1..]
            .iter()
            .take_while(|n| !n.command.contains("<<<"))
        {
            if next.command == "ipvsadm -Ln --thresholds" {
                let o = ipvsadm(&s, &["-Ln", "--thresholds"]);
                assert_eq!(o.stdout, next.stdout, "{}", c.command);
            } else if next.command == "ipvsadm -Sn" {
                // ipvsadm forgets the thresholds (7 and 3 here); lvsadm saves them.
                let want = if k == 7 {
                    next.stdout.replace(
                        "-r 10.0.0.33:80 -m -w 1\n",
                        "-r 10.0.0.33:80 -m -w 1 -x 7 -y 3\n",
                    )
                } else {
                    next.stdout.clone()
                };
                assert_eq!(ipvsadm(&s, &["-Sn"]).stdout, want, "{}", c.command);
            }
        }
    }
}

#[test]
fn fullnat_and_thresholds_survive_save_and_restore() {
    let s = Scratch::new("fullnat");
    let _d = Daemon::start(&s, &[]);
    let args = ["-A", "-t", "10.9.0.1:80", "-s", "wrr"];
    assert_eq!(ipvsadm(&s, &args).code, 0);
    let o = ipvsadm(
        &s,
        &[
            "-a",
            "-t",
            "10.9.0.1:80",
            "-r",
            "10.9.0.2:8080",
            "--fullnat",
            "-w",
            "3",
            "-x",
            "100",
            "-y",
            "50",
        ],
    );
    assert_eq!((o.code, o.stderr.as_str()), (0, ""));
    let saved = ipvsadm(&s, &["-Sn"]).stdout;
    assert_eq!(
        saved,
        "-A -t 10.9.0.1:80 -s wrr\n-a -t 10.9.0.1:80 -r 10.9.0.2:8080 --fullnat -w 3 -x 100 -y 50\n"
    );
    let s2 = Scratch::new("fullnat2");
    let _d2 = Daemon::start(&s2, &[]);
    let o = client_with(&s2, "ipvsadm-restore", &s2.socket(), &[], &saved, |_| {});
    assert_eq!((o.code, o.stderr.as_str()), (0, ""));
    assert_eq!(ipvsadm(&s2, &["-Sn"]).stdout, saved);
}
