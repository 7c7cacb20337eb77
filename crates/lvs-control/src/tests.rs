//! End-to-end tests of the control plane: ipvsadm command lines (parsed and
//! printed by `lvs-ipvsadm`) against a [`Control`] in process. Expected
//! texts follow the reference formats (§2.2, §2.4), not our own output.

use std::net::{IpAddr, Ipv4Addr};

use lvs_core::conn::PacketMeta;
use lvs_core::sched::XorShiftRandom;

use super::*;

fn ipvsadm_in(control: &mut Control, now: Time, args: &str, stdin: &str) -> (i32, String, String) {
    let argv: Vec<&str> = args.split_whitespace().collect();
    run_ipvsadm(control, now, &argv, stdin)
}

fn ipvsadm(control: &mut Control, args: &str) -> (i32, String, String) {
    ipvsadm_in(control, Time::ZERO, args, "")
}

fn ok(control: &mut Control, args: &str) {
    let (rc, _, err) = ipvsadm(control, args);
    assert_eq!((rc, err.as_str()), (0, ""), "ipvsadm {args}");
}

#[test]
fn listing_after_adds_matches_ipvsadm_format() {
    let mut c = Control::new(Time::ZERO, "test");
    ok(&mut c, "-A -t 172.16.10.21:80 -s wrr");
    ok(&mut c, "-a -t 172.16.10.21:80 -r 192.168.100.39 -m -w 2");
    ok(&mut c, "-a -t 172.16.10.21:80 -r 192.168.100.23 -m -w 3");
    let (rc, out, _) = ipvsadm(&mut c, "-Ln");
    assert_eq!(rc, 0);
    assert_eq!(
        out,
        "IP Virtual Server version 1.2.1 (size=4096)\n\
         Prot LocalAddress:Port Scheduler Flags\n\
         \x20 -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n\
         TCP  172.16.10.21:80 wrr\n\
         \x20 -> 192.168.100.23:80            Masq    3      0          0         \n\
         \x20 -> 192.168.100.39:80            Masq    2      0          0         \n"
    );
}

#[test]
fn kernel_errors_print_libipvs_texts() {
    let mut c = Control::new(Time::ZERO, "test");
    ok(&mut c, "-A -t 10.0.0.1:80");
    let (rc, _, err) = ipvsadm(&mut c, "-A -t 10.0.0.1:80");
    assert_eq!((rc, err.as_str()), (255, "Service already exists\n"));
    let (rc, _, err) = ipvsadm(&mut c, "-a -t 10.0.0.2:80 -r 10.0.1.1");
    assert_eq!((rc, err.as_str()), (255, "Service not defined\n"));
    let (rc, _, err) = ipvsadm(&mut c, "-e -t 10.0.0.1:80 -r 10.0.1.1");
    assert_eq!((rc, err.as_str()), (255, "No such destination\n"));
    let (rc, _, err) = ipvsadm(&mut c, "-D -t 10.0.0.9:80");
    assert_eq!((rc, err.as_str()), (255, "No such service\n"));
    let (rc, _, err) = ipvsadm(&mut c, "-A -t 10.0.0.3:80 -s nosuch");
    assert_eq!(
        (rc, err.as_str()),
        (255, "Scheduler or persistence engine not found\n")
    );
    ok(&mut c, "-a -t 10.0.0.1:80 -r 10.0.1.1");
    let (rc, _, err) = ipvsadm(&mut c, "-a -t 10.0.0.1:80 -r 10.0.1.1");
    assert_eq!((rc, err.as_str()), (255, "Destination already exists\n"));
}

#[test]
fn failed_restore_applies_nothing() {
    let mut c = Control::new(Time::ZERO, "test");
    ok(&mut c, "-A -t 10.0.0.1:80 -s rr");
    let before = ipvsadm(&mut c, "-Sn").1;
    // Line 3 is refused by the kernel rules (the service already exists).
    let input = "-A -t 10.0.0.2:80 -s rr\n-a -t 10.0.0.2:80 -r 10.0.2.1 -m\n-A -t 10.0.0.1:80\n";
    let (rc, _, err) = ipvsadm_in(&mut c, Time::ZERO, "-R", input);
    assert_eq!(rc, 255, "{err}");
    assert!(err.contains("Service already exists"), "{err}");
    assert!(err.contains("line 3"), "{err}");
    assert_eq!(ipvsadm(&mut c, "-Sn").1, before, "nothing applied");
    // The same input without the bad line applies whole.
    let good = "-A -t 10.0.0.2:80 -s rr\n-a -t 10.0.0.2:80 -r 10.0.2.1 -m\n";
    assert_eq!(ipvsadm_in(&mut c, Time::ZERO, "-R", good).0, 0);
    assert_eq!(
        ipvsadm(&mut c, "-Sn").1,
        "-A -t 10.0.0.1:80 -s rr\n-A -t 10.0.0.2:80 -s rr\n-a -t 10.0.0.2:80 -r 10.0.2.1:80 -m -w 1\n"
    );
}

#[test]
fn stats_and_connections_follow_traffic() {
    let mut c = Control::new(Time::ZERO, "test");
    ok(&mut c, "-A -t 10.0.0.1:80 -s rr");
    ok(&mut c, "-a -t 10.0.0.1:80 -r 10.0.1.1 -m");
    let mut rng = XorShiftRandom(7);
    let client = (IpAddr::V4(Ipv4Addr::new(10, 9, 0, 1)), 40000);
    let vip = (IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), 80);
    let syn = PacketMeta::tcp(client, vip, lvs_core::conn::tcp::flags::SYN).with_len(60);
    assert!(matches!(
        c.ipvs.conn_in(Time(1000), &syn, &mut rng),
        lvs_core::conn::InVerdict::Forward(_)
    ));
    let (rc, out, _) = ipvsadm_in(&mut c, Time(1000), "-Ln --stats", "");
    assert_eq!(rc, 0);
    let lines: Vec<&str> = out.lines().collect();
    // Reference §2.2: "%-33s" then five largenum columns of "%9llu".
    let expected = format!(
        "{:<33}{:>9}{:>9}{:>9}{:>9}{:>9}",
        "TCP  10.0.0.1:80", 1, 1, 0, 60, 0
    );
    assert_eq!(lines[3], expected);
    let (_, out, _) = ipvsadm_in(&mut c, Time(1000), "-Lnc", "");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "IPVS connection entries");
    assert_eq!(
        lines[2],
        "TCP 01:00  SYN_RECV    10.9.0.1:40000     10.0.0.1:80        10.0.1.1:80"
    );
}

#[test]
fn sync_daemons_are_recorded_with_kernel_defaults() {
    let mut c = Control::new(Time::ZERO, "test");
    ok(
        &mut c,
        "--start-daemon master --mcast-interface eth1 --syncid 7",
    );
    let (rc, _, err) = ipvsadm(&mut c, "--start-daemon master");
    assert_eq!((rc, err.as_str()), (255, "Daemon has already run\n"));
    let (_, out, _) = ipvsadm(&mut c, "-L --daemon");
    assert_eq!(
        out,
        "master sync daemon (mcast=eth1, syncid=7, maxlen=1472, group=224.0.0.81, port=8848, ttl=1)\n"
    );
    ok(&mut c, "--stop-daemon master");
    let (rc, _, err) = ipvsadm(&mut c, "--stop-daemon master");
    assert_eq!((rc, err.as_str()), (255, "No daemon is running\n"));
}

#[test]
fn timeouts_round_trip() {
    let mut c = Control::new(Time::ZERO, "test");
    assert_eq!(
        ipvsadm(&mut c, "-L --timeout").1,
        "Timeout (tcp tcpfin udp): 900 120 300\n"
    );
    ok(&mut c, "--set 600 0 60");
    assert_eq!(
        ipvsadm(&mut c, "-L --timeout").1,
        "Timeout (tcp tcpfin udp): 600 120 60\n"
    );
}
