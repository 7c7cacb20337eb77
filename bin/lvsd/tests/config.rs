//! `lvsd --config keepalived.conf` and `lvsd --config-test FILE`, on the
//! real binary: the table built from keepalived samples must be the one
//! keepalived 2.2.7 built in the lab VM (`testdata/keepalived/samples/
//! *.ipvsadm`, `ipvsadm -Sn` after start-up), compared as sorted lines
//! (the kernel lists services in hash order); mistakes are named with
//! `file:line:col` and stop the start; warnings are logged and do not.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/keepalived/samples")
}

fn sorted_lines(text: &str) -> Vec<String> {
    let mut v: Vec<String> = text.lines().map(str::to_owned).collect();
    v.sort();
    v
}

#[test]
fn keepalived_samples_build_keepalived_tables() {
    // conditional.conf is left out: its lines depend on the host name.
    for tag in [
        "sample",
        "virtual_server_group",
        "fwmark",
        "inhibit",
        "quorum",
        "ipv6",
        "other_checkers",
        "include",
    ] {
        let s = Scratch::new("kconf");
        let conf = samples().join(format!("{tag}.conf"));
        let d = Daemon::start(&s, &["--config", conf.to_str().unwrap()]);
        let saved = ipvsadm(&s, &["-Sn"]);
        assert_eq!(saved.code, 0, "{}", saved.stderr);
        let want = std::fs::read_to_string(samples().join(format!("{tag}.ipvsadm"))).unwrap();
        assert_eq!(
            sorted_lines(&saved.stdout),
            sorted_lines(&want),
            "{tag}: {}",
            d.log_text()
        );
    }
}

#[test]
fn keepalived_errors_are_located_and_stop_the_start() {
    let s = Scratch::new("kbad");
    let conf = s.dir.join("keepalived.conf");
    std::fs::write(
        &conf,
        "virtual_server 10.9.0.1 80 {\n  protocol TCP\n  real_server 10.9.1.1 80 {\n    \
         weight abc\n  }\n}\n",
    )
    .unwrap();
    let mut d = Daemon::spawn(&s, &["--config", conf.to_str().unwrap()]);
    assert_eq!(d.wait_exit().code(), Some(1));
    let log = d.log_text();
    let at = format!(
        "{}:4:12: error: invalid `weight` value `abc`",
        conf.display()
    );
    assert!(log.contains(&at), "{log}");
    assert!(!s.socket().exists(), "started anyway: {log}");
}

#[test]
fn keepalived_warnings_are_logged_and_the_rest_applies() {
    let s = Scratch::new("kwarn");
    let conf = s.dir.join("keepalived.conf");
    std::fs::write(
        &conf,
        "virtual_server 10.9.0.1 80 {\n  protocol TCP\n  lb_algo rr\n  frobnicate yes\n  \
         lb_kind FNAT\n  real_server 10.9.1.1 80 {\n    weight 3\n  }\n}\n",
    )
    .unwrap();
    let d = Daemon::start(&s, &["--config", conf.to_str().unwrap()]);
    let saved = ipvsadm(&s, &["-Sn"]).stdout;
    assert_eq!(
        saved,
        "-A -t 10.9.0.1:80 -s rr\n-a -t 10.9.0.1:80 -r 10.9.1.1:80 --fullnat -w 3\n",
        "{}",
        d.log_text()
    );
    let log = d.log_text();
    assert!(
        log.contains(&format!(
            "{}:4:3: warning: unknown keyword `frobnicate`",
            conf.display()
        )),
        "{log}"
    );
}

fn config_test(path: &Path) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_lvsd"))
        .args(["--config-test", path.to_str().unwrap()])
        .env("LVSD_SOCKET", "/nonexistent/never-used.sock")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn config_test_validates_without_starting() {
    let s = Scratch::new("ktest");
    // Valid, with a warning: exit 0, the warning printed.
    let conf = s.dir.join("ok.conf");
    std::fs::write(
        &conf,
        "global_defs {\n  bogus_global 1\n}\nvirtual_server 10.9.0.1 80 {\n  protocol TCP\n  \
         real_server 10.9.1.1 80 {\n  }\n}\n",
    )
    .unwrap();
    let (code, stdout, stderr) = config_test(&conf);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stderr.contains(&format!(
            "{}:2:3: warning: unknown keyword `bogus_global`",
            conf.display()
        )),
        "{stderr}"
    );
    assert!(!Path::new("/nonexistent").exists());

    // Every sample keepalived accepted is accepted.
    for tag in ["sample", "quorum", "misc_check", "ssl_get", "vrrp_sync"] {
        let (code, stdout, stderr) = config_test(&samples().join(format!("{tag}.conf")));
        assert_eq!(code, 0, "{tag}: {stdout}{stderr}");
    }

    // Errors: non-zero, each located.
    let bad = s.dir.join("bad.conf");
    std::fs::write(
        &bad,
        "virtual_server 10.9.0.1 80 {\n  protocol TCP\n  real_server 10.9.1.1 80 {\n    \
         weight abc\n  }\n}\nvirtual_server group NOPE {\n}\n",
    )
    .unwrap();
    let (code, stdout, stderr) = config_test(&bad);
    assert_ne!(code, 0, "{stdout}{stderr}");
    assert!(
        stderr.contains(&format!("{}:4:12: error:", bad.display())),
        "{stderr}"
    );

    // A missing file is an error too.
    let (code, _, stderr) = config_test(&s.dir.join("absent.conf"));
    assert_ne!(code, 0, "{stderr}");
}
