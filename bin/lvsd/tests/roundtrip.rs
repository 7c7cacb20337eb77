//! The lvsadm ⇄ lvsd round trip: the real `lvsd` binary on a scratch socket,
//! the real `lvsadm` binary invoked as `ipvsadm`, and the real ipvsadm
//! 1.31's captured output (`testdata/ipvsadm/golden/`) or ipvsadm's printf
//! rules worked by hand as the expectation.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

use common::*;
use lvs_testkit::cap_log::parse as parse_cap_log;

/// ipvsadm-capture's base state (the one `argv.log` was captured from).
const BASE: &str = "-A -t 10.0.0.1:80 -s wlc\n-a -t 10.0.0.1:80 -r 10.0.0.11:80 -g -w 1\n";

const BANNER: &str = "IP Virtual Server version 1.2.1 (size=4096)\n\
                      Prot LocalAddress:Port Scheduler Flags\n  \
                      -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n";

/// One destination line of `-Ln` (ipvsadm's `"  -> %-28s %-7s %-6d %-10u %-10u\n"`).
fn dest_line(addr: &str, fwd: &str, weight: i32) -> String {
    format!("  -> {addr:<28} {fwd:<7} {weight:<6} {:<10} {:<10}\n", 0, 0)
}

#[test]
fn every_argv_case_matches_ipvsadm_against_the_real_daemon() {
    assert!(
        is_root(),
        "this privileged test needs root for a network namespace: run the suite as root"
    );
    let text = std::fs::read_to_string(golden("argv.log")).unwrap();
    let cases = parse_cap_log(&text);
    assert!(cases.len() > 250, "{} cases", cases.len());
    let s = Scratch::new("argv");
    let base = s.dir.join("base.conf");
    std::fs::write(&base, BASE).unwrap();
    let mut failures = Vec::new();
    for c in &cases {
        let args: Vec<&str> = c.command.split_whitespace().skip(1).collect();
        let mut d = Daemon::spawn_netns(&s, &["--config", base.to_str().unwrap()]);
        d.wait_ready();
        let got = ipvsadm(&s, &args);
        if got.stdout != c.stdout || got.stderr != c.stderr || got.code != c.code {
            failures.push(format!(
                "$ {}\n  want rc={} out={:?} err={:?}\n  got  rc={} out={:?} err={:?}",
                c.command, c.code, c.stdout, c.stderr, got.code, got.stdout, got.stderr
            ));
        }
        drop(d);
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn services_destinations_and_kernel_errors() {
    let s = Scratch::new("edit");
    let _d = Daemon::start(&s, &[]);
    let ok = |args: &[&str]| {
        let o = ipvsadm(&s, args);
        assert_eq!((o.code, o.stderr.as_str()), (0, ""), "ipvsadm {args:?}");
    };
    ok(&["-A", "-t", "10.1.0.1:80", "-s", "wrr"]);
    ok(&[
        "-a",
        "-t",
        "10.1.0.1:80",
        "-r",
        "10.1.0.2:80",
        "-m",
        "-w",
        "2",
    ]);
    ok(&[
        "-a",
        "-t",
        "10.1.0.1:80",
        "-r",
        "10.1.0.3:80",
        "-m",
        "-w",
        "3",
    ]);
    ok(&["-A", "-u", "10.1.0.1:53", "-s", "rr"]);
    ok(&["-a", "-u", "10.1.0.1:53", "-r", "10.1.0.4", "-g"]);
    let want = format!(
        "{BANNER}TCP  10.1.0.1:80 wrr\n{}{}UDP  10.1.0.1:53 rr\n{}",
        dest_line("10.1.0.2:80", "Masq", 2),
        dest_line("10.1.0.3:80", "Masq", 3),
        dest_line("10.1.0.4:53", "Route", 1),
    );
    let got = ipvsadm(&s, &["-Ln"]);
    assert_eq!((got.stdout.as_str(), got.code), (want.as_str(), 0));

    // Edit a destination; delete one.
    ok(&[
        "-e",
        "-t",
        "10.1.0.1:80",
        "-r",
        "10.1.0.3:80",
        "-m",
        "-w",
        "0",
    ]);
    ok(&["-d", "-u", "10.1.0.1:53", "-r", "10.1.0.4"]);
    let got = ipvsadm(&s, &["-Ln", "-t", "10.1.0.1:80"]);
    assert_eq!(
        got.stdout,
        format!(
            "Prot LocalAddress:Port Scheduler Flags\n  \
             -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n\
             TCP  10.1.0.1:80 wrr\n{}{}",
            dest_line("10.1.0.2:80", "Masq", 2),
            dest_line("10.1.0.3:80", "Masq", 0)
        )
    );

    // The kernel's refusals, with libipvs's texts; operation errors exit 255
    // (reference §2.4).
    let refused = |args: &[&str], text: &str| {
        let o = ipvsadm(&s, args);
        assert_eq!(
            (o.stderr.as_str(), o.code),
            (format!("{text}\n").as_str(), 255),
            "ipvsadm {args:?}"
        );
    };
    refused(&["-A", "-t", "10.1.0.1:80"], "Service already exists");
    refused(&["-D", "-t", "10.9.9.9:80"], "No such service");
    refused(
        &["-a", "-t", "10.9.9.9:80", "-r", "10.1.0.2"],
        "Service not defined",
    );
    refused(
        &["-a", "-t", "10.1.0.1:80", "-r", "10.1.0.2:80", "-m"],
        "Destination already exists",
    );
    refused(
        &["-d", "-t", "10.1.0.1:80", "-r", "10.1.0.99"],
        "No such destination",
    );
    refused(
        &["-A", "-t", "10.1.0.9:80", "-s", "nosuch"],
        "Scheduler or persistence engine not found",
    );
    refused(
        &[
            "-a",
            "-t",
            "10.1.0.1:80",
            "-r",
            "10.1.0.7",
            "-x",
            "1",
            "-y",
            "5",
        ],
        "Numerical result out of range",
    );
    // A single-service listing of a missing service exits 1 (reference §0).
    let o = ipvsadm(&s, &["-Ln", "-t", "10.9.9.9:80"]);
    assert_eq!((o.stderr.as_str(), o.code), ("No such service\n", 1));

    // Delete the service; -C clears the rest.
    ok(&["-D", "-t", "10.1.0.1:80"]);
    ok(&["-C"]);
    assert_eq!(ipvsadm(&s, &["-Ln"]).stdout, BANNER);
}

#[test]
fn save_and_atomic_restore() {
    let s = Scratch::new("restore");
    let _d = Daemon::start(&s, &[]);
    let input = "-A -t 10.2.0.1:80 -s rr\n-a -t 10.2.0.1:80 -r 10.2.0.2:8080 -m -w 1\n\
                 -A -u 10.2.0.1:53 -s wlc -p 60\n-a -u 10.2.0.1:53 -r 10.2.0.3:53 -g -w 5 -x 10 -y 2\n";
    let o = ipvsadm_in(&s, &["-R"], input);
    assert_eq!((o.code, o.stderr.as_str()), (0, ""));
    // -S -n prints the lines back in ipvsadm's canonical form (same order:
    // services as added, thresholds kept).
    let saved = ipvsadm(&s, &["-Sn"]);
    assert_eq!(saved.code, 0);
    assert_eq!(saved.stdout, input);

    // A line the daemon refuses (the third: a service that already exists)
    // makes the whole restore fail; nothing of it is applied.
    let bad = "-A -t 10.2.0.9:80 -s rr\n-a -t 10.2.0.9:80 -r 10.2.0.10 -m\n-A -t 10.2.0.1:80\n";
    let o = ipvsadm_in(&s, &["-R"], bad);
    assert_eq!(
        (o.stderr.as_str(), o.code),
        (
            "Service already exists\nipvsadm: restore failed at line 3, nothing applied\n",
            255
        )
    );
    assert_eq!(ipvsadm(&s, &["-Sn"]).stdout, input, "nothing applied");

    // A line that does not parse: nothing sent, nothing applied.
    // (argv.log: a missing option value is "-X: missing argument", exit 255.)
    let o = ipvsadm_in(&s, &["-R"], "-C\n-A -t 10.2.0.20:80 -s\n");
    assert_eq!(
        (o.stderr.as_str(), o.code),
        (
            "-s: missing argument\nipvsadm: restore failed at line 2, nothing applied\n",
            255
        )
    );
    assert_eq!(ipvsadm(&s, &["-Sn"]).stdout, input, "the -C did not run");

    // ipvsadm-restore: flush and restore as one batch.
    let o = client_with(
        &s,
        "ipvsadm-restore",
        &s.socket(),
        &[],
        "-A -t 10.2.0.30:80 -s sh\n",
        |_| {},
    );
    assert_eq!((o.code, o.stderr.as_str()), (0, ""));
    assert_eq!(ipvsadm(&s, &["-Sn"]).stdout, "-A -t 10.2.0.30:80 -s sh\n");
}

#[test]
fn zero_timeouts_and_sync_daemons() {
    let s = Scratch::new("misc");
    let _d = Daemon::start(&s, &[]);
    let run = |args: &[&str]| ipvsadm(&s, args);
    assert_eq!(run(&["-A", "-t", "10.3.0.1:80"]).code, 0);
    assert_eq!(run(&["-Z"]).code, 0);
    assert_eq!(run(&["-Z", "-t", "10.3.0.1:80"]).code, 0);
    let o = run(&["-Z", "-t", "10.3.0.2:80"]);
    assert_eq!((o.stderr.as_str(), o.code), ("No such service\n", 255));
    let o = run(&["-Ln", "--stats"]);
    assert!(
        o.stdout.contains(
            "TCP  10.3.0.1:80                         0        0        0        0        0\n"
        ),
        "{}",
        o.stdout
    );

    // --set: 0 keeps a value (reference §1: timeouts).
    let timeout = |s: &str| format!("Timeout (tcp tcpfin udp): {s}\n");
    assert_eq!(run(&["-L", "--timeout"]).stdout, timeout("900 120 300"));
    assert_eq!(run(&["--set", "100", "0", "30"]).code, 0);
    assert_eq!(run(&["-L", "--timeout"]).stdout, timeout("100 120 30"));

    // Sync daemons: golden daemon_*.out texts, start twice → EEXIST, stop
    // what is not running → ESRCH, a missing interface → ENODEV.
    assert_eq!(run(&["-L", "--daemon"]).stdout, "");
    let o = run(&[
        "--start-daemon",
        "master",
        "--mcast-interface",
        "lo",
        "--syncid",
        "7",
    ]);
    assert_eq!((o.code, o.stderr.as_str()), (0, ""));
    assert_eq!(
        run(&["-L", "--daemon"]).stdout,
        "master sync daemon (mcast=lo, syncid=7, maxlen=1472, group=224.0.0.81, port=8848, ttl=1)\n"
    );
    let o = run(&["--start-daemon", "master", "--mcast-interface", "lo"]);
    assert_eq!(
        (o.stderr.as_str(), o.code),
        ("Daemon has already run\n", 255)
    );
    let o = run(&["--start-daemon", "backup", "--mcast-interface", "nosuchif0"]);
    assert_eq!((o.stderr.as_str(), o.code), ("No such device\n", 255));
    let o = run(&["--stop-daemon", "backup"]);
    assert_eq!((o.stderr.as_str(), o.code), ("No daemon is running\n", 255));
    assert_eq!(run(&["--stop-daemon", "master"]).code, 0);
    assert_eq!(run(&["-L", "--daemon"]).stdout, "");
}

#[test]
fn listing_banner_is_the_captured_one() {
    // The hand-written BANNER above against the capture of an empty table.
    let s = Scratch::new("banner");
    let _d = Daemon::start(&s, &[]);
    let want = std::fs::read_to_string(golden("empty_Ln.out")).unwrap();
    assert_eq!(BANNER, want);
    assert_eq!(ipvsadm(&s, &["-Ln"]).stdout, want);
}
