#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

//! Reload of a keepalived.conf (`lvsadm reload`, SIGHUP) on a control-plane
//! lvsd (no data plane: not in a named namespace). The real servers have no
//! checkers, so nothing is sent anywhere: what is checked is the table the
//! reload leaves, read with the real `lvsadm` as `ipvsadm -Sn`, against
//! expectations worked by hand from the two files.

mod common;

use std::path::Path;

use common::{Daemon, Outcome, Scratch, client_with, ipvsadm, is_root, wait_until};

fn conf(sched: &str, servers: &[(&str, u32)]) -> String {
    let mut t = format!(
        "virtual_server 192.0.2.1 80 {{\n    protocol TCP\n    lb_algo {sched}\n    lb_kind NAT\n"
    );
    for (ip, w) in servers {
        t.push_str(&format!(
            "    real_server {ip} 8080 {{\n        weight {w}\n    }}\n"
        ));
    }
    t.push_str("}\nvirtual_server 192.0.2.2 53 {\n    protocol UDP\n    lb_algo rr\n    lb_kind DR\n    real_server 10.9.0.1 53 {\n    }\n}\n");
    t
}

fn lvsadm(s: &Scratch, args: &[&str]) -> Outcome {
    client_with(s, "lvsadm", &s.socket(), args, "", |_| {})
}

fn table(s: &Scratch) -> String {
    let out = ipvsadm(s, &["-Sn"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    out.stdout
}

fn start(s: &Scratch, file: &Path) -> Daemon {
    assert!(
        is_root(),
        "this test needs root (lvsd answers root peers only): run the suite as root"
    );
    Daemon::start(s, &["--config", file.to_str().unwrap()])
}

#[test]
fn reload_applies_the_difference_and_rejects_a_broken_file() {
    let s = Scratch::new("reload");
    let file = s.dir.join("keepalived.conf");
    std::fs::write(&file, conf("wrr", &[("10.9.1.1", 3), ("10.9.1.2", 1)])).unwrap();
    let d = start(&s, &file);
    let t0 = table(&s);
    assert!(
        t0.contains("-a -t 192.0.2.1:80 -r 10.9.1.2:8080 -m -w 1"),
        "{t0}"
    );

    // wrr -> wlc, 10.9.1.1 weight 3 -> 5, 10.9.1.2 removed, 10.9.1.3 added;
    // the UDP service is untouched.
    std::fs::write(&file, conf("wlc", &[("10.9.1.1", 5), ("10.9.1.3", 2)])).unwrap();
    let out = lvsadm(&s, &["reload"]);
    assert_eq!(
        out.code,
        0,
        "{}\n{}\n{}",
        out.stdout,
        out.stderr,
        d.log_text()
    );
    // EditService, DelDest, AddDest, EditDest.
    assert!(
        out.stdout.contains("reloaded, 4 change(s)"),
        "{}",
        out.stdout
    );
    let t1 = table(&s);
    let mut want: Vec<&str> = vec![
        "-A -t 192.0.2.1:80 -s wlc",
        "-a -t 192.0.2.1:80 -r 10.9.1.1:8080 -m -w 5",
        "-a -t 192.0.2.1:80 -r 10.9.1.3:8080 -m -w 2",
        "-A -u 192.0.2.2:53 -s rr",
        "-a -u 192.0.2.2:53 -r 10.9.0.1:53 -g -w 1",
    ];
    let mut got: Vec<&str> = t1.lines().collect();
    want.sort_unstable();
    got.sort_unstable();
    assert_eq!(got, want, "{t1}");

    // Unchanged file: nothing to do.
    let out = lvsadm(&s, &["reload"]);
    assert!(
        out.stdout.contains("reloaded, 0 change(s)"),
        "{}",
        out.stdout
    );

    // Broken: rejected with file:line:col, table unchanged.
    std::fs::write(&file, conf("fastest", &[("10.9.1.1", 5)])).unwrap();
    let out = lvsadm(&s, &["reload"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let at = format!(
        "{}:3:13: error: invalid `lb_algo` value `fastest`",
        file.display()
    );
    assert!(out.stderr.contains(&at), "{}", out.stderr);
    assert_eq!(table(&s), t1);

    // Changed by hand, then reloaded: 10.9.1.3 deleted by hand and removed
    // by the file too; 10.9.1.4 added by hand and by the file.
    for argv in [
        &["-d", "-t", "192.0.2.1:80", "-r", "10.9.1.3:8080"][..],
        &[
            "-a",
            "-t",
            "192.0.2.1:80",
            "-r",
            "10.9.1.4:8080",
            "-m",
            "-w",
            "9",
        ],
    ] {
        let out = ipvsadm(&s, argv);
        assert_eq!(out.code, 0, "{}", out.stderr);
    }
    std::fs::write(&file, conf("wlc", &[("10.9.1.1", 5), ("10.9.1.4", 2)])).unwrap();
    let out = lvsadm(&s, &["reload"]);
    assert_eq!(
        out.code,
        0,
        "{}\n{}\n{}",
        out.stdout,
        out.stderr,
        d.log_text()
    );
    let t2 = table(&s);
    assert!(t2.contains("-r 10.9.1.4:8080 -m -w 2"), "{t2}");
    assert!(!t2.contains("10.9.1.3"), "{t2}");

    // SIGHUP does the same: 10.9.1.4 goes.
    std::fs::write(&file, conf("wlc", &[("10.9.1.1", 5)])).unwrap();
    d.signal("HUP");
    assert!(
        wait_until(|| !table(&s).contains("10.9.1.4")),
        "{}",
        d.log_text()
    );
}

#[test]
fn reload_without_a_keepalived_file_is_refused() {
    let s = Scratch::new("reload-none");
    let file = s.dir.join("rules");
    std::fs::write(&file, "-A -t 192.0.2.9:80 -s rr\n").unwrap();
    let _d = start(&s, &file);
    let out = lvsadm(&s, &["reload"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr
            .contains("not started with --config keepalived.conf"),
        "{}",
        out.stderr
    );
}

#[test]
fn omega_runs_the_down_scripts_at_shutdown() {
    let s = Scratch::new("omega");
    let file = s.dir.join("keepalived.conf");
    let d = s.dir.display();
    // Real servers without checkers are alive; at shutdown keepalived runs
    // notify_down of each alive server and quorum_down, with omega only.
    std::fs::write(
        &file,
        format!(
            "virtual_server 192.0.2.1 80 {{\n    protocol TCP\n    omega\n    quorum_down \"/usr/bin/touch {d}/omega.quorum\"\n    real_server 10.9.1.1 80 {{\n        notify_down \"/usr/bin/touch {d}/omega.rs\"\n    }}\n}}\nvirtual_server 192.0.2.2 80 {{\n    protocol TCP\n    quorum_down \"/usr/bin/touch {d}/plain.quorum\"\n    real_server 10.9.1.2 80 {{\n        notify_down \"/usr/bin/touch {d}/plain.rs\"\n    }}\n}}\n"
        ),
    )
    .unwrap();
    let mut daemon = start(&s, &file);
    daemon.signal("TERM");
    let status = daemon.wait_exit();
    assert!(status.success(), "{}", daemon.log_text());
    let exists = |n: &str| s.dir.join(n).exists();
    assert!(
        exists("omega.rs") && exists("omega.quorum"),
        "{}",
        daemon.log_text()
    );
    assert!(!exists("plain.rs") && !exists("plain.quorum"));
}
