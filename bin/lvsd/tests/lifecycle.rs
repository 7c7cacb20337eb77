//! The daemon's life: socket creation and mode, a second instance refused,
//! a stale socket replaced, SIGTERM/SIGINT removing the socket, `--config`,
//! and the refusal of non-root peers (`SO_PEERCRED`).

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::process::CommandExt;

use common::*;

const NOBODY: u32 = 65534;

#[test]
fn creates_the_directory_and_a_root_only_socket() {
    let s = Scratch::new("mode");
    assert!(!s.socket().parent().unwrap().exists());
    let _d = Daemon::start(&s, &[]);
    let meta = std::fs::symlink_metadata(s.socket()).unwrap();
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
}

#[test]
fn socket_option_wins_over_the_environment() {
    let s = Scratch::new("opt");
    let other = s.dir.join("other.sock");
    let mut d = Daemon::spawn(&s, &["--socket", other.to_str().unwrap()]);
    assert!(wait_until(|| live(&other)), "{}", d.log_text());
    assert!(!s.socket().exists());
    let o = client_with(&s, "ipvsadm", &other, &["-Ln"], "", |_| {});
    assert_eq!(o.code, 0, "{}", o.stderr);
    d.signal("TERM");
    assert!(d.wait_exit().success());
    assert!(!other.exists());
}

#[test]
fn second_instance_is_refused_and_the_first_keeps_serving() {
    let s = Scratch::new("second");
    let _first = Daemon::start(&s, &[]);
    assert_eq!(ipvsadm(&s, &["-A", "-t", "10.4.0.1:80"]).code, 0);
    let mut second = Daemon::spawn(&s, &[]);
    let st = second.wait_exit();
    assert_eq!(st.code(), Some(1));
    assert!(
        second.log_text().contains("already serving"),
        "{}",
        second.log_text()
    );
    // The first one still owns the socket and its state.
    assert_eq!(
        ipvsadm(&s, &["-Sn"]).stdout,
        "-A -t 10.4.0.1:80 -s wlc\n",
        "first daemon lost"
    );
}

#[test]
fn stale_socket_is_replaced_other_files_are_not() {
    let s = Scratch::new("stale");
    std::fs::create_dir_all(s.socket().parent().unwrap()).unwrap();
    // A socket file nobody listens on, as a crashed lvsd leaves it.
    drop(std::os::unix::net::UnixListener::bind(s.socket()).unwrap());
    assert!(s.socket().exists() && !live(&s.socket()));
    let d = Daemon::start(&s, &[]);
    assert_eq!(ipvsadm(&s, &["-Ln"]).code, 0);
    drop(d);

    // A regular file in the way is left alone.
    std::fs::remove_file(s.socket()).unwrap();
    std::fs::write(s.socket(), "precious").unwrap();
    let mut d = Daemon::spawn(&s, &[]);
    assert_eq!(d.wait_exit().code(), Some(1));
    assert!(d.log_text().contains("not a socket"), "{}", d.log_text());
    assert_eq!(std::fs::read_to_string(s.socket()).unwrap(), "precious");
}

#[test]
fn sigterm_and_sigint_remove_the_socket() {
    let want = std::fs::read_to_string(golden("noipvs_list.err")).unwrap();
    for sig in ["TERM", "INT"] {
        let s = Scratch::new("sig");
        let mut d = Daemon::start(&s, &[]);
        assert_eq!(ipvsadm(&s, &["-Ln"]).code, 0);
        d.signal(sig);
        let st = d.wait_exit();
        assert!(st.success(), "SIG{sig}: {st:?} {}", d.log_text());
        assert!(!s.socket().exists(), "SIG{sig} left the socket");
        // Daemon gone: ipvsadm's "Can't initialize ipvs", exit 2.
        let o = ipvsadm(&s, &["-Ln"]);
        assert_eq!((o.stderr.as_str(), o.code), (want.as_str(), 2));
        let o = ipvsadm(&s, &["-A", "-t", "10.4.0.1:80"]);
        assert_eq!((o.stderr.as_str(), o.code), (want.as_str(), 2));
    }
}

#[test]
fn config_is_applied_atomically_at_start() {
    let s = Scratch::new("config");
    let conf = s.dir.join("ipvs.conf");
    let text = "# saved\n-A -t 10.5.0.1:80 -s wrr\n-a -t 10.5.0.1:80 -r 10.5.0.2:80 -m -w 2\n\
                -a -t 10.5.0.1:80 -r 10.5.0.3:80 -m -w 3\n";
    std::fs::write(&conf, text).unwrap();
    let d = Daemon::start(&s, &["--config", conf.to_str().unwrap()]);
    let saved = ipvsadm(&s, &["-Sn"]).stdout;
    let lines: Vec<&str> = text.lines().skip(1).collect();
    assert_eq!(saved.lines().next(), Some(lines[0]));
    let mut dests: Vec<&str> = saved.lines().skip(1).collect();
    dests.sort_unstable();
    assert_eq!(dests, &lines[1..]);
    drop(d);

    // A refused line (duplicate service): no start, the line is named, no socket.
    std::fs::write(&conf, "-A -t 10.5.0.1:80\n-A -t 10.5.0.1:80\n").unwrap();
    let _ = std::fs::remove_file(s.socket());
    let mut d = Daemon::spawn(&s, &["--config", conf.to_str().unwrap()]);
    assert_eq!(d.wait_exit().code(), Some(1));
    let log = d.log_text();
    assert!(
        log.contains("Service already exists") && log.contains("line 2"),
        "{log}"
    );
    assert!(!s.socket().exists());

    // Requests of the file take the same path as a client's: a sync daemon
    // on a missing interface is ENODEV.
    std::fs::write(
        &conf,
        "-A -t 10.5.0.1:80\n--start-daemon master --mcast-interface nosuchif0\n",
    )
    .unwrap();
    let mut d = Daemon::spawn(&s, &["--config", conf.to_str().unwrap()]);
    assert_eq!(d.wait_exit().code(), Some(1));
    let log = d.log_text();
    assert!(
        log.contains("No such device") && log.contains("line 2"),
        "{log}"
    );
}

#[test]
fn bad_arguments_exit_2() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_lvsd"))
        .arg("--bogus")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Usage: lvsd"));
}

/// What the real ipvsadm 1.31 prints when run as uid 65534 (lab run,
/// `bin/lvsd/lab/nonroot.out`).
fn nonroot_want() -> String {
    "Can't initialize ipvs: Permission denied (you must be root)\n\
     Are you sure that IP Virtual Server is built in the kernel or as module?\n"
        .to_string()
}

#[test]
fn non_root_peers_are_refused_with_eperm() {
    assert!(
        is_root(),
        "this privileged test needs root to drop privileges: run the suite as root"
    );
    let lab = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("lab/nonroot.out"),
    )
    .unwrap();
    assert!(lab.contains(&nonroot_want()), "lab capture changed");

    let s = Scratch::new("peercred");
    let _d = Daemon::start(&s, &[]);
    assert_eq!(ipvsadm(&s, &["-A", "-t", "10.6.0.1:80"]).code, 0);
    let as_nobody = |args: &[&str]| {
        client_with(&s, "ipvsadm", &s.socket(), args, "", |c| {
            c.uid(NOBODY).gid(NOBODY);
        })
    };
    // Mode 0600: an unprivileged process cannot even connect; ipvsadm's
    // message is the same as the kernel's.
    let o = as_nobody(&["-Ln"]);
    assert_eq!((o.stderr.as_str(), o.code), (nonroot_want().as_str(), 2));

    // Open the socket to everyone: now the daemon sees the peer's uid
    // (SO_PEERCRED) and answers EPERM.
    std::fs::set_permissions(s.socket(), std::fs::Permissions::from_mode(0o666)).unwrap();
    std::fs::set_permissions(
        s.socket().parent().unwrap(),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    std::fs::set_permissions(
        s.socket().parent().unwrap().parent().unwrap(),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    for args in [&["-Ln"][..], &["-A", "-t", "10.6.0.2:80"], &["-C"]] {
        let o = as_nobody(args);
        assert_eq!(
            (o.stdout.as_str(), o.stderr.as_str(), o.code),
            ("", nonroot_want().as_str(), 2),
            "{args:?}"
        );
    }
    // The daemon saw a connection and refused it (not a connect failure).
    assert!(wait_until(|| _d.log_text().contains("not root")));
    // Nothing changed; root still gets answers.
    assert_eq!(ipvsadm(&s, &["-Sn"]).stdout, "-A -t 10.6.0.1:80 -s wlc\n");
}
