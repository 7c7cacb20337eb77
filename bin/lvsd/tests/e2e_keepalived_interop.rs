#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

//! Interoperability of lvsd's VRRP with the real keepalived (Debian
//! package, run with `--vrrp` only): one L2 segment (a bridge namespace),
//! director `ka` runs keepalived, director `rs` runs lvsd, both with the
//! same `vrrp_instance` except `priority` (and, in the last test, the
//! password). Namespaces are `lvsha-PID-*`, deleted by their guards.
//!
//! Who is master is read from the system, not from the daemons' claims:
//! keepalived's MASTER holds the VIP on its interface (`ip addr`), lvsd's
//! status file says `MASTER` and the VIP is on its interface too.
//!
//! 1. VRRP v3, `advert_int 0.1`: keepalived 150 vs lvsd 100: keepalived is
//!    master, lvsd backup (lvsd accepted keepalived's adverts: no
//!    takeover); keepalived stops (SIGTERM: priority-0 advert) → lvsd
//!    takes over; keepalived starts again → it preempts and lvsd gives the
//!    VIP back. Then lvsd restarts with priority 200 → it preempts
//!    keepalived (keepalived accepted lvsd's adverts: VIP removed there);
//!    lvsd is SIGKILLed → keepalived takes over.
//! 2. VRRP v2, `advert_int 1`, `authentication { auth_type PASS }` with
//!    different passwords: lvsd logs each keepalived advert as rejected for
//!    authentication and, hearing no valid master, becomes master itself.
//! 3. VRRP v2 with the same password: keepalived 150 master, lvsd 100
//!    backup without a rejection; lvsd restarted at 200 preempts it.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Scratch, is_root, live};
use lvs_sys::NetNs;

fn netns(tag: &str) -> NetNs {
    NetNs::create(&format!("lvsha-{}-{tag}", std::process::id())).unwrap()
}

fn sh(ns: &NetNs, args: &[&str]) {
    ns.ip(args).unwrap();
}

struct Lab {
    ka: NetNs,
    lv: NetNs,
    sw: NetNs,
}

fn lab(tag: &str) -> Lab {
    let lab = Lab {
        ka: netns(&format!("{tag}-ka")),
        lv: netns(&format!("{tag}-lv")),
        sw: netns(&format!("{tag}-sw")),
    };
    sh(&lab.sw, &["link", "add", "br0", "type", "bridge"]);
    for (ns, peer, ip) in [(&lab.ka, "s0", "10.78.0.11"), (&lab.lv, "s1", "10.78.0.12")] {
        sh(
            ns,
            &[
                "link",
                "add",
                "e0",
                "type",
                "veth",
                "peer",
                "name",
                peer,
                "netns",
                lab.sw.name(),
            ],
        );
        sh(&lab.sw, &["link", "set", peer, "master", "br0", "up"]);
        sh(ns, &["addr", "add", &format!("{ip}/24"), "dev", "e0"]);
        sh(ns, &["link", "set", "e0", "up"]);
        sh(ns, &["link", "set", "lo", "up"]);
    }
    sh(&lab.sw, &["link", "set", "br0", "up"]);
    lab
}

/// The instance both run. `v3`: version 3 at 0.1 s, else version 2 at 1 s
/// with `auth_pass`.
fn instance(priority: u8, v3: bool, pass: &str) -> String {
    let timing = if v3 {
        "version 3\n    advert_int 0.1".to_string()
    } else {
        format!(
            "version 2\n    advert_int 1\n    authentication {{\n        auth_type PASS\n        auth_pass {pass}\n    }}"
        )
    };
    format!(
        "vrrp_instance VI_1 {{
    state BACKUP
    interface e0
    virtual_router_id 61
    priority {priority}
    {timing}
    virtual_ipaddress {{
        10.78.0.100/32
    }}
}}
"
    )
}

fn has_vip(ns: &NetNs) -> bool {
    let out = ns.ip(&["-o", "addr", "show", "dev", "e0"]).unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .contains("10.78.0.100/32")
}

fn wait(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    f()
}

/// A daemon process under a kill-on-drop guard, logging to a file.
struct Proc {
    child: Child,
    log: PathBuf,
}

impl Proc {
    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn signal(&mut self, sig: &str) {
        let st = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(st.success());
        let done = wait(Duration::from_secs(10), || {
            self.child.try_wait().unwrap().is_some()
        });
        assert!(done, "process did not exit on {sig}: {}", self.log_text());
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// keepalived, VRRP only, in the foreground, with its pid files and
/// configuration in `dir`.
fn keepalived(ns: &NetNs, dir: &Path, conf: &str, n: u32) -> Proc {
    let path = dir.join(format!("keepalived-{n}.conf"));
    std::fs::write(
        &path,
        format!("global_defs {{\n    router_id ka\n}}\n{conf}"),
    )
    .unwrap();
    let log = dir.join(format!("keepalived-{n}.log"));
    let pid = |name: &str| dir.join(format!("{name}-{n}.pid"));
    let child = Command::new("ip")
        .args(["netns", "exec", ns.name(), "keepalived"])
        .args(["--dont-fork", "--log-console", "--log-detail", "--vrrp"])
        .arg("--use-file")
        .arg(&path)
        .arg("--pid")
        .arg(pid("keepalived"))
        .arg("--vrrp_pid")
        .arg(pid("vrrp"))
        .arg("--checkers_pid")
        .arg(pid("checkers"))
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(Stdio::from(
            std::fs::OpenOptions::new().append(true).open(&log).unwrap(),
        ))
        .spawn()
        .unwrap();
    Proc { child, log }
}

/// lvsd with the instance as its `--config`.
fn lvsd(ns: &NetNs, scratch: &Scratch, conf: &str, n: u32) -> Proc {
    let path = scratch.dir.join(format!("lvsd-{n}.conf"));
    std::fs::write(&path, conf).unwrap();
    let log = scratch.dir.join(format!("lvsd-{n}.log"));
    let child = Command::new("ip")
        .args(["netns", "exec", ns.name(), env!("CARGO_BIN_EXE_lvsd")])
        .arg("--config")
        .arg(&path)
        .env("LVSD_SOCKET", scratch.socket())
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut p = Proc { child, log };
    let socket = scratch.socket();
    let up = wait(Duration::from_secs(15), || {
        live(&socket) || p.child.try_wait().unwrap().is_some()
    });
    assert!(
        up && live(&socket),
        "lvsd did not come up: {}",
        p.log_text()
    );
    p
}

/// lvsd's VRRP state from its status file.
fn lvsd_state(scratch: &Scratch) -> String {
    let mut p = scratch.socket().into_os_string();
    p.push(".vrrp");
    std::fs::read_to_string(PathBuf::from(p))
        .unwrap_or_default()
        .split_whitespace()
        .nth(1)
        .unwrap_or("")
        .to_string()
}

fn ka_is_master(lab: &Lab) -> bool {
    has_vip(&lab.ka)
}

fn lvsd_is_master(lab: &Lab, s: &Scratch) -> bool {
    lvsd_state(s) == "MASTER" && has_vip(&lab.lv)
}

fn lvsd_is_backup(lab: &Lab, s: &Scratch) -> bool {
    lvsd_state(s) == "BACKUP" && !has_vip(&lab.lv)
}

#[test]
fn election_takeover_and_give_back_with_keepalived() {
    assert!(
        is_root(),
        "this privileged test needs root (network namespaces, raw sockets): run the suite as root"
    );
    let lab = lab("ia");
    let scratch = Scratch::new("ha-interop");
    let dir = scratch.dir.clone();
    let limit = Duration::from_secs(5);

    // keepalived 150, lvsd 100.
    let mut ka = keepalived(&lab.ka, &dir, &instance(150, true, ""), 1);
    let mut lv = lvsd(&lab.lv, &scratch, &instance(100, true, ""), 1);
    let ctx = |ka: &Proc, lv: &Proc| {
        format!(
            "keepalived log:\n{}\nlvsd log:\n{}",
            ka.log_text(),
            lv.log_text()
        )
    };
    assert!(
        wait(limit, || ka_is_master(&lab)
            && lvsd_is_backup(&lab, &scratch)),
        "keepalived 150 master, lvsd 100 backup; {}",
        ctx(&ka, &lv)
    );
    // Stable: lvsd keeps accepting keepalived's adverts.
    std::thread::sleep(Duration::from_millis(1000));
    assert!(
        ka_is_master(&lab) && lvsd_is_backup(&lab, &scratch),
        "{}",
        ctx(&ka, &lv)
    );

    // keepalived stops: it sends priority 0, lvsd takes over.
    let t = Instant::now();
    ka.signal("TERM");
    assert!(
        wait(limit, || lvsd_is_master(&lab, &scratch)),
        "lvsd did not take over from a stopped keepalived; {}",
        ctx(&ka, &lv)
    );
    eprintln!(
        "interop: lvsd took over {:?} after keepalived's SIGTERM",
        t.elapsed()
    );
    assert!(!ka_is_master(&lab));

    // keepalived returns with the higher priority: it preempts.
    let t = Instant::now();
    let ka = keepalived(&lab.ka, &dir, &instance(150, true, ""), 2);
    assert!(
        wait(limit, || ka_is_master(&lab)
            && lvsd_is_backup(&lab, &scratch)),
        "keepalived did not preempt lvsd; {}",
        ctx(&ka, &lv)
    );
    eprintln!(
        "interop: keepalived preempted lvsd {:?} after its start",
        t.elapsed()
    );

    // lvsd returns with priority 200: it preempts keepalived.
    lv.signal("TERM");
    let scratch2 = Scratch::new("ha-interop2");
    let t = Instant::now();
    let mut lv = lvsd(&lab.lv, &scratch2, &instance(200, true, ""), 2);
    assert!(
        wait(limit, || lvsd_is_master(&lab, &scratch2)
            && !ka_is_master(&lab)),
        "lvsd 200 did not preempt keepalived 150; {}",
        ctx(&ka, &lv)
    );
    eprintln!(
        "interop: lvsd preempted keepalived {:?} after its start",
        t.elapsed()
    );
    std::thread::sleep(Duration::from_millis(1000));
    assert!(
        lvsd_is_master(&lab, &scratch2) && !ka_is_master(&lab),
        "{}",
        ctx(&ka, &lv)
    );

    // lvsd dies: keepalived takes over within its master-down interval.
    let t = Instant::now();
    lv.signal("KILL");
    assert!(
        wait(limit, || ka_is_master(&lab)),
        "keepalived did not take over from a killed lvsd; {}",
        ctx(&ka, &lv)
    );
    eprintln!(
        "interop: keepalived took over {:?} after lvsd's SIGKILL",
        t.elapsed()
    );
}

#[test]
fn authentication_mismatch_is_logged() {
    assert!(
        is_root(),
        "this privileged test needs root (network namespaces, raw sockets): run the suite as root"
    );
    let lab = lab("ib");
    let scratch = Scratch::new("ha-auth");
    let dir = scratch.dir.clone();
    let ka = keepalived(&lab.ka, &dir, &instance(150, false, "secret1"), 1);
    assert!(
        wait(Duration::from_secs(8), || ka_is_master(&lab)),
        "keepalived alone did not become master: {}",
        ka.log_text()
    );
    let lv = lvsd(&lab.lv, &scratch, &instance(100, false, "secret2"), 1);
    let logged = wait(Duration::from_secs(5), || {
        lv.log_text()
            .lines()
            .any(|l| l.contains("advert rejected") && l.contains("invalid password"))
    });
    assert!(
        logged,
        "no authentication rejection in lvsd's log:\n{}",
        lv.log_text()
    );
    // Hearing no valid advert, lvsd claims the VIP too.
    assert!(
        wait(Duration::from_secs(8), || lvsd_is_master(&lab, &scratch)),
        "lvsd state {}: {}",
        lvsd_state(&scratch),
        lv.log_text()
    );
    eprintln!(
        "interop: lvsd logged {:?}",
        lv.log_text()
            .lines()
            .find(|l| l.contains("advert rejected"))
            .unwrap_or("")
    );
}

/// VRRPv2 (`advert_int 1`, the same PASS password): keepalived 150 is
/// master and lvsd 100 backup (lvsd accepts keepalived's v2 adverts); lvsd
/// restarted at 200 preempts, and keepalived drops the VIP (keepalived
/// accepts lvsd's v2 adverts, authentication included).
#[test]
fn vrrp_v2_with_password_both_ways() {
    assert!(
        is_root(),
        "this privileged test needs root (network namespaces, raw sockets): run the suite as root"
    );
    let lab = lab("ic");
    let scratch = Scratch::new("ha-v2");
    let dir = scratch.dir.clone();
    let ka = keepalived(&lab.ka, &dir, &instance(150, false, "lvsrs12"), 1);
    let mut lv = lvsd(&lab.lv, &scratch, &instance(100, false, "lvsrs12"), 1);
    let ctx = |ka: &Proc, lv: &Proc| {
        format!(
            "keepalived log:\n{}\nlvsd log:\n{}",
            ka.log_text(),
            lv.log_text()
        )
    };
    assert!(
        wait(Duration::from_secs(8), || ka_is_master(&lab)
            && lvsd_is_backup(&lab, &scratch)),
        "keepalived 150 master, lvsd 100 backup; {}",
        ctx(&ka, &lv)
    );
    assert!(
        !lv.log_text().contains("advert rejected"),
        "{}",
        lv.log_text()
    );
    lv.signal("TERM");
    let scratch2 = Scratch::new("ha-v2b");
    let lv = lvsd(&lab.lv, &scratch2, &instance(200, false, "lvsrs12"), 2);
    assert!(
        wait(Duration::from_secs(8), || lvsd_is_master(&lab, &scratch2)
            && !ka_is_master(&lab)),
        "lvsd 200 did not preempt keepalived over v2; {}",
        ctx(&ka, &lv)
    );
}
