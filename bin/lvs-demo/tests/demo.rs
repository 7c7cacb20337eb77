//! The main job's program on its embedded configuration (seed 000 §1): 25
//! clients through `wrr` with weights 2 and 3 end as exactly 10 and 15
//! connections, all closed (inactive, TIME_WAIT).

use std::process::Command;

#[test]
fn default_config_splits_25_connections_10_and_15() {
    let out = Command::new(env!("CARGO_BIN_EXE_lvs-demo"))
        .output()
        .expect("run lvs-demo");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let listing: Vec<&str> = text
        .split("== ipvsadm -Ln\n")
        .nth(1)
        .expect("a -Ln listing")
        .lines()
        .take(6)
        .collect();
    let row = |addr: &str| {
        listing
            .iter()
            .find(|l| l.contains(addr))
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .expect("dest row")
    };
    // "  -> ADDR:PORT Masq WEIGHT ACTIVE INACTIVE"
    assert_eq!(row("192.168.100.23:80")[2..], ["Masq", "3", "0", "15"]);
    assert_eq!(row("192.168.100.39:80")[2..], ["Masq", "2", "0", "10"]);
    let conns = text
        .lines()
        .filter(|l| l.starts_with("TCP ") && l.contains("TIME_WAIT"))
        .count();
    assert_eq!(conns, 25);
}

#[test]
fn bad_config_is_refused_with_ipvsadm_text() {
    let dir = std::env::temp_dir().join(format!("lvs-demo-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let cfg = dir.join("bad.conf");
    std::fs::write(
        &cfg,
        "-A -t 10.0.0.1:80 -s wrr\n-a -t 10.0.0.1:80 -r 10.0.0.2 -w -3\n",
    )
    .expect("write config");
    let out = Command::new(env!("CARGO_BIN_EXE_lvs-demo"))
        .arg("--config")
        .arg(&cfg)
        .output()
        .expect("run lvs-demo");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("illegal weight specified"), "{err}");
    assert!(err.contains("line 2"), "{err}");
}
