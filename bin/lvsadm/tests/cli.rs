//! CLI tests: the built `lvsadm` binary, invoked as `ipvsadm` (and the other
//! names), against the real ipvsadm 1.31's captured stdout, stderr and exit
//! status (`testdata/ipvsadm/golden/argv.log`, `argv2.log`), with a fake lvsd
//! on a Unix socket (`LVSD_SOCKET`) holding the state the captures started
//! from.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod fake;

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use fake::{Server, Table};
use lvs_proto::{Request, ServiceKey};

fn golden(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/ipvsadm/golden")
        .join(name)
}

struct Outcome {
    stdout: String,
    stderr: String,
    code: i32,
}

fn lvsadm(arg0: &str, args: &[&str], socket: &std::path::Path, stdin: &str) -> Outcome {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lvsadm"))
        .arg0(arg0)
        .args(args)
        .env("LVSD_SOCKET", socket)
        .env("LVSADM_HOSTS", golden("etc-hosts"))
        .env("LVSADM_SERVICES", golden("etc-services"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The child may exit without reading its input (e.g. lvsd unreachable).
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    let out = child.wait_with_output().unwrap();
    Outcome {
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
        code: out.status.code().unwrap_or(-1),
    }
}

use lvs_testkit::cap_log::{Case, parse as parse_cap_log};

#[test]
fn every_argv_case_matches_ipvsadm() {
    let text = std::fs::read_to_string(golden("argv.log")).unwrap();
    let cases = parse_cap_log(&text);
    assert!(cases.len() > 250, "{} cases", cases.len());
    let mut failures = Vec::new();
    for c in &cases {
        let args: Vec<&str> = c.command.split_whitespace().skip(1).collect();
        let server = Server::start(Table::base());
        let got = lvsadm("ipvsadm", &args, server.path(), "");
        if got.stdout != c.stdout || got.stderr != c.stderr || got.code != c.code {
            failures.push(format!(
                "$ {}\n  want rc={} out={:?} err={:?}\n  got  rc={} out={:?} err={:?}",
                c.command, c.code, c.stdout, c.stderr, got.code, got.stdout, got.stderr
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

fn argv2_case(cmd: &str) -> Case {
    let text = std::fs::read_to_string(golden("argv2.log")).unwrap();
    parse_cap_log(&text)
        .into_iter()
        .find(|c| c.command == cmd || c.command.starts_with(&format!("{cmd}   <<<")))
        .unwrap_or_else(|| panic!("no case {cmd:?}"))
}

fn assert_same(got: &Outcome, want: &Case) {
    assert_eq!(got.stdout, want.stdout, "{}: stdout", want.command);
    assert_eq!(got.stderr, want.stderr, "{}: stderr", want.command);
    assert_eq!(got.code, want.code, "{}: exit status", want.command);
}

#[test]
fn program_name_is_argv0_as_invoked() {
    let server = Server::start(Table::base());
    assert_same(
        &lvsadm("/sbin/ipvsadm", &["-h"], server.path(), ""),
        &argv2_case("/sbin/ipvsadm -h"),
    );
    assert_same(
        &lvsadm("/sbin/ipvsadm", &["--bogus"], server.path(), ""),
        &argv2_case("/sbin/ipvsadm --bogus"),
    );
    assert_same(
        &lvsadm("ipvsadm", &[], server.path(), ""),
        &argv2_case("ipvsadm"),
    );
}

#[test]
fn ipvsadm_save_script() {
    let server = Server::start(Table::base());
    for (args, cmd) in [
        (&[][..], "ipvsadm-save"),
        (&["-n"][..], "ipvsadm-save -n"),
        (&["-x"][..], "ipvsadm-save -x"),
        (&["foo"][..], "ipvsadm-save foo"),
    ] {
        assert_same(
            &lvsadm("ipvsadm-save", args, server.path(), ""),
            &argv2_case(cmd),
        );
    }
}

fn restore_input(cmd: &str) -> String {
    // The here-string of the capture log, $'...' quoted.
    let q = cmd.split("<<< $'").nth(1).unwrap().trim_end_matches('\'');
    let mut s = q.replace("\\n", "\n").replace("\\t", "\t");
    s.push('\n'); // a here-string ends with a newline
    s
}

fn save_n(server: &Server) -> String {
    lvsadm("ipvsadm", &["-Sn"], server.path(), "").stdout
}

#[test]
fn restore_that_ipvsadm_applies_fully_is_identical() {
    // Lines that all succeed: same (empty) output, same status, same table.
    let texts = std::fs::read_to_string(golden("argv2.log")).unwrap();
    let cases = parse_cap_log(&texts);
    let restores: Vec<(usize, &Case)> = cases
        .iter()
        .enumerate()
        .filter(|(_, c)| c.command.contains("<<<"))
        .collect();
    // 1st: all lines valid (weight 70000 is accepted); 5th: `-L -n` inside the
    // restore; 7th: ipvsadm-restore; 8th: thresholds edited.
    for &k in &[0usize, 4, 6, 7] {
        let (idx, c) = restores[k];
        let server = Server::start(Table::base());
        let arg0 = if c.command.starts_with("ipvsadm-restore") {
            "ipvsadm-restore"
        } else {
            "ipvsadm"
        };
        let args: &[&str] = if arg0 == "ipvsadm" { &["-R"] } else { &[] };
        let got = lvsadm(arg0, args, server.path(), &restore_input(&c.command));
        assert_same(&got, c);
        // The listings the capture took right after the restore.
        for next in cases[idx + 1..]
            .iter()
            .take_while(|n| !n.command.contains("<<<"))
        {
            if next.command == "ipvsadm -Ln --thresholds" {
                assert_same(
                    &lvsadm("ipvsadm", &["-Ln", "--thresholds"], server.path(), ""),
                    next,
                );
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
                assert_eq!(save_n(&server), want, "table after {}", c.command);
            }
        }
    }
}

#[test]
fn restore_is_atomic_and_names_the_line() {
    // ipvsadm applies line 1 and stops at line 2 (exit 2); lvsadm prints the
    // same message, names the line and applies nothing.
    let c = argv2_case("ipvsadm -R");
    assert_eq!(c.code, 0, "the first captured restore applies everything");
    let server = Server::start(Table::base());
    let input =
        "-A -t 10.0.0.20:80 -s rr\n-a -t 10.0.0.20:80 -r 10.0.0.21 -w x\n-A -t 10.0.0.21:80\n";
    let got = lvsadm("ipvsadm", &["-R"], server.path(), input);
    assert_eq!(
        got.stderr,
        "illegal weight specified\nipvsadm: restore failed at line 2, nothing applied\n"
    );
    assert_eq!(got.code, 2);
    assert_eq!(
        save_n(&server),
        "-A -t 10.0.0.1:80 -s wlc\n-a -t 10.0.0.1:80 -r 10.0.0.11:80 -g -w 1\n"
    );
    assert!(
        !server
            .requests
            .lock()
            .unwrap()
            .iter()
            .any(|r| matches!(r, Request::Batch { .. })),
        "nothing was sent"
    );

    // A line the kernel refuses: ipvsadm prints the error and carries on
    // (captured: "Service already exists\nService not defined\n", exit 0,
    // lines 2 and 4 applied); lvsadm refuses the whole batch.
    let cap = parse_cap_log(&std::fs::read_to_string(golden("argv2.log")).unwrap())
        .into_iter()
        .filter(|c| c.command.contains("<<<"))
        .nth(1)
        .unwrap();
    assert_eq!(cap.stderr, "Service already exists\nService not defined\n");
    let server = Server::start(Table::base());
    let got = lvsadm(
        "ipvsadm",
        &["-R"],
        server.path(),
        &restore_input(&cap.command),
    );
    assert_eq!(
        got.stderr,
        "Service already exists\nipvsadm: restore failed at line 1, nothing applied\n"
    );
    assert_eq!(got.code, 255);
    assert_eq!(server.table.lock().unwrap().services.len(), 1);

    // A `#` token inside a line is an argument, as in ipvsadm.
    let server = Server::start(Table::base());
    let got = lvsadm(
        "ipvsadm",
        &["-R"],
        server.path(),
        "-A -t 10.0.0.27:80 # trailing\n",
    );
    assert_eq!(
        got.stderr,
        "unexpected argument #\nipvsadm: restore failed at line 1, nothing applied\n"
    );
    assert_eq!(got.code, 2);

    // -R inside -R.
    let got = lvsadm(
        "ipvsadm",
        &["-R"],
        server.path(),
        "-A -t 10.0.0.29:80\n-R\n",
    );
    assert_eq!(
        got.stderr,
        "Try `ipvsadm -h' or 'ipvsadm --help' for more information.\nipvsadm: restore failed at line 2, nothing applied\n"
    );
    assert_eq!(got.code, 255);
}

#[test]
fn restore_skips_comments_and_blank_lines_and_the_word_ipvsadm() {
    let server = Server::start(Table::base());
    let input = "# a comment\n\n   \n  # indented comment\nipvsadm -A -t 10.0.0.25:80 ipvsadm -s rr\n\t-a\t-t 10.0.0.25:80   -r 10.0.0.26 -m\n";
    let got = lvsadm("ipvsadm", &["-R"], server.path(), input);
    assert_eq!(
        (got.stdout.as_str(), got.stderr.as_str(), got.code),
        ("", "", 0)
    );
    assert_eq!(
        save_n(&server),
        "-A -t 10.0.0.1:80 -s wlc\n-a -t 10.0.0.1:80 -r 10.0.0.11:80 -g -w 1\n\
         -A -t 10.0.0.25:80 -s rr\n-a -t 10.0.0.25:80 -r 10.0.0.26:80 -m -w 1\n"
    );
    // One atomic batch.
    let reqs = server.requests.lock().unwrap();
    let batches: Vec<&Request> = reqs
        .iter()
        .filter(|r| matches!(r, Request::Batch { .. }))
        .collect();
    assert_eq!(batches.len(), 1);
    assert!(matches!(batches[0], Request::Batch { requests, atomic: true } if requests.len() == 2));
}

#[test]
fn ipvsadm_restore_flushes_in_the_same_batch() {
    let server = Server::start(Table::base());
    let got = lvsadm(
        "ipvsadm-restore",
        &[],
        server.path(),
        "-A -t 10.0.0.30:80 -s rr\n-a -t 10.0.0.30:80 -r 10.0.0.31 -x\n",
    );
    assert_eq!(got.code, 255, "{}", got.stderr);
    assert_eq!(
        server.table.lock().unwrap().services.len(),
        1,
        "not even the flush happened"
    );
    let got = lvsadm(
        "ipvsadm-restore",
        &[],
        server.path(),
        "-A -t 10.0.0.30:80 -s rr\n",
    );
    assert_eq!(got.code, 0);
    let reqs = server.requests.lock().unwrap();
    let last = reqs
        .iter()
        .rev()
        .find(|r| matches!(r, Request::Batch { .. }))
        .unwrap();
    assert!(matches!(last, Request::Batch { requests, .. } if requests[0] == Request::Flush));
}

#[test]
fn save_then_restore_keeps_thresholds() {
    let server = Server::start(Table::base());
    let got = lvsadm(
        "ipvsadm",
        &[
            "-a",
            "-t",
            "10.0.0.1:80",
            "-r",
            "10.0.0.12:8080",
            "-m",
            "-x",
            "100",
            "-y",
            "50",
        ],
        server.path(),
        "",
    );
    assert_eq!(got.code, 0, "{}", got.stderr);
    let saved = save_n(&server);
    assert!(
        saved.contains("-a -t 10.0.0.1:80 -r 10.0.0.12:8080 -m -w 1 -x 100 -y 50\n"),
        "{saved}"
    );
    let other = Server::start(Table::base());
    let got = lvsadm("ipvsadm-restore", &[], other.path(), &saved);
    assert_eq!(got.code, 0, "{}", got.stderr);
    assert_eq!(save_n(&other), saved);
}

#[test]
fn fullnat_is_an_extra_forwarding_method() {
    let server = Server::start(Table::base());
    let got = lvsadm(
        "ipvsadm",
        &[
            "-a",
            "-t",
            "10.0.0.1:80",
            "-r",
            "10.0.0.12:8080",
            "--fullnat",
            "-w",
            "3",
        ],
        server.path(),
        "",
    );
    assert_eq!((got.stderr.as_str(), got.code), ("", 0));
    let list = lvsadm("ipvsadm", &["-Ln"], server.path(), "").stdout;
    assert!(
        list.contains("  -> 10.0.0.12:8080               FullNat 3      0          0         \n"),
        "{list}"
    );
    assert!(save_n(&server).contains("-r 10.0.0.12:8080 --fullnat -w 3\n"));
    // It is a forwarding method: exclusive with -g/-i/-m.
    let got = lvsadm(
        "ipvsadm",
        &[
            "-a",
            "-t",
            "10.0.0.1:80",
            "-r",
            "10.0.0.13",
            "--fullnat",
            "-m",
        ],
        server.path(),
        "",
    );
    assert_eq!(
        got.stderr,
        "multiple 'forwarding-method' options specified\n"
    );
}

#[test]
fn daemon_down_and_version_mismatch() {
    let missing = std::env::temp_dir().join(format!("lvsadm-none-{}.sock", std::process::id()));
    let want = std::fs::read_to_string(golden("noipvs_list.err")).unwrap();
    let got = lvsadm("ipvsadm", &["-Ln"], &missing, "");
    assert_eq!((got.stderr.as_str(), got.code), (want.as_str(), 2));
    // As `lvsadm`, one more line says why.
    let got = lvsadm("lvsadm", &["-Ln"], &missing, "");
    assert!(got.stderr.starts_with(&want));
    assert!(
        got.stderr[want.len()..].contains(missing.to_str().unwrap()),
        "{}",
        got.stderr
    );
    // ipvsadm-restore runs ipvsadm twice: two messages.
    let got = lvsadm("ipvsadm-restore", &[], &missing, "-C\n");
    assert_eq!(got.stderr, format!("{want}{want}"));

    let server = Server::start_with(Table::base(), 99);
    let got = lvsadm("ipvsadm", &["-Ln"], server.path(), "");
    assert_eq!(got.code, 2);
    assert!(
        got.stderr
            .starts_with("Can't initialize ipvs: Module is wrong version\n"),
        "{}",
        got.stderr
    );
    assert!(
        got.stderr.contains("version 99") && got.stderr.contains("version 1"),
        "{}",
        got.stderr
    );
}

#[test]
fn native_status() {
    let server = Server::start(Table::base());
    let got = lvsadm("lvsadm", &["status"], server.path(), "");
    assert_eq!(
        got.stdout,
        "fake lvsd: up 7 s, 1 services, 1 destinations, 0 connections\n"
    );
    let got = lvsadm("lvsadm", &["status", "--json"], server.path(), "");
    let v: serde_json::Value = serde_json::from_str(&got.stdout).unwrap();
    assert_eq!(v["services"], 1);
    // Invoked as ipvsadm, `status` is an unexpected first argument.
    let got = lvsadm("ipvsadm", &["status"], server.path(), "");
    assert_eq!(got.code, 255);
}

#[test]
fn requests_carry_what_ipvsadm_would_send() {
    let server = Server::start(Table::base());
    let got = lvsadm(
        "ipvsadm",
        &[
            "-E",
            "-t",
            "10.0.0.1:80",
            "-p",
            "-M",
            "255.255.0.0",
            "-b",
            "flag-2",
        ],
        server.path(),
        "",
    );
    assert_eq!(got.code, 0, "{}", got.stderr);
    let reqs = server.requests.lock().unwrap();
    let Some(Request::EditService(spec)) = reqs.last() else {
        panic!("{reqs:?}")
    };
    assert_eq!(
        spec.scheduler, "wlc",
        "-E resets the scheduler to the default"
    );
    assert!(spec.persistent && spec.timeout == 360 && spec.netmask == 0xffff_0000);
    assert!(spec.sched_flags.flag2 && !spec.sched_flags.flag1);
    assert!(matches!(spec.key, ServiceKey::Addr { port: 80, .. }));
}
