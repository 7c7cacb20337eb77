//! `lvsadm realserver setup|teardown|check` and `lvsadm check` in network namespaces: each
//! pitfall of the seeds is created by hand with `ip`/`sysctl`, and the check must name it
//! (stable id, exit 1); correct DR and TUN setups made by `setup` must check clean (exit 0),
//! `setup` must be idempotent, `--dry-run` must print the changes and apply none, and
//! `teardown` must restore what was there. Needs root.
#![allow(clippy::unwrap_used)]

#[allow(dead_code)]
mod fake;

use std::path::PathBuf;
use std::process::Command;

use lvs_proto::{DestSpec, FwdMethod, Request, ServiceKey, TunnelCsum, TunnelSpec, TunnelType};
use lvs_sys::NetNs;

const VIP: &str = "10.0.0.100";

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

/// A real server namespace (`r0` 10.0.0.2/24, default via the router 10.0.0.254) wired to a
/// director namespace (`d0` 10.0.0.1/24).
struct Lab {
    rs: NetNs,
    dir: NetNs,
    state: PathBuf,
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.state);
    }
}

fn lab(tag: &str) -> Lab {
    assert!(is_root(), "realserver namespace tests need root");
    let name = |r: &str| format!("lvsrs-d-{}-{tag}-{r}", std::process::id());
    let rs = NetNs::create(&name("rs")).unwrap();
    let dir = NetNs::create(&name("dir")).unwrap();
    rs.ip(&[
        "link",
        "add",
        "r0",
        "type",
        "veth",
        "peer",
        "name",
        "d0",
        "netns",
        dir.name(),
    ])
    .unwrap();
    rs.ip(&["addr", "add", "10.0.0.2/24", "dev", "r0"]).unwrap();
    rs.ip(&["link", "set", "r0", "up"]).unwrap();
    rs.ip(&["route", "add", "default", "via", "10.0.0.254"])
        .unwrap();
    dir.ip(&["addr", "add", "10.0.0.1/24", "dev", "d0"])
        .unwrap();
    dir.ip(&["link", "set", "d0", "up"]).unwrap();
    dir.ip(&["link", "set", "lo", "up"]).unwrap();
    let state = std::env::temp_dir().join(format!("{}.json", name("state")));
    let _ = std::fs::remove_file(&state);
    Lab { rs, dir, state }
}

struct Out {
    code: i32,
    stdout: String,
}

fn lvsadm_env(ns: &NetNs, args: &[&str], env: &[(&str, &str)]) -> Out {
    let mut c = Command::new("ip");
    c.args(["netns", "exec", ns.name(), env!("CARGO_BIN_EXE_lvsadm")])
        .args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    let o = c.output().unwrap();
    Out {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
    }
}

fn lvsadm(ns: &NetNs, args: &[&str]) -> Out {
    // No lvsd here: point the socket somewhere empty so `check` uses the command line.
    lvsadm_env(ns, args, &[("LVSD_SOCKET", "/nonexistent/lvsd.sock")])
}

impl Lab {
    fn rs_cmd(&self, args: &[&str]) -> Out {
        let mut a: Vec<&str> = args.to_vec();
        let st = self.state.to_str().unwrap();
        a.extend(["--state", st]);
        lvsadm(&self.rs, &a)
    }

    fn sysctl(&self, ns: &NetNs, key: &str) -> String {
        ns.run(|| lvs_sys::sysctl::read(key).unwrap()).unwrap()
    }

    fn set(&self, ns: &NetNs, key: &str, v: &str) {
        ns.run(|| lvs_sys::sysctl::write(key, v).unwrap()).unwrap();
    }

    fn show(&self, ns: &NetNs, args: &[&str]) -> String {
        String::from_utf8_lossy(&ns.ip(args).unwrap().stdout).into_owned()
    }
}

/// The finding ids of a check's output, in order.
fn ids(o: &Out) -> Vec<String> {
    o.stdout
        .lines()
        .filter(|l| l.starts_with("RS-") || l.starts_with("DIR-"))
        .map(|l| l.split_whitespace().next().unwrap().to_owned())
        .collect()
}

fn expect(o: &Out, want: &[&str]) {
    assert_eq!(ids(o), want, "output:\n{}", o.stdout);
    assert_eq!(o.code, if want.is_empty() { 0 } else { 1 }, "{}", o.stdout);
    if want.is_empty() {
        assert!(o.stdout.contains("ok: no problems found"), "{}", o.stdout);
    }
    // Every finding line says how to fix it.
    for l in o
        .stdout
        .lines()
        .filter(|l| l.starts_with("RS-") || l.starts_with("DIR-"))
    {
        assert!(l.contains("; fix: "), "{l}");
    }
}

#[test]
fn dr_dry_run_setup_idempotence_check_and_teardown() {
    let l = lab("dr");
    let check = ["realserver", "check", "--mode", "dr", "--vip", VIP];
    expect(
        &lvsadm(&l.rs, &check),
        &["RS-VIP-MISSING", "RS-ARP-IGNORE", "RS-ARP-ANNOUNCE"],
    );

    let setup = ["realserver", "setup", "--mode", "dr", "--vip", VIP];
    let want = "sysctl -w net.ipv4.conf.all.arp_ignore=1\n\
                sysctl -w net.ipv4.conf.all.arp_announce=2\n\
                sysctl -w net.ipv4.conf.r0.arp_ignore=1\n\
                sysctl -w net.ipv4.conf.r0.arp_announce=2\n\
                ip link set lo up\n\
                ip addr add 10.0.0.100/32 dev lo\n";
    let mut dry = setup.to_vec();
    dry.push("--dry-run");
    let o = l.rs_cmd(&dry);
    assert_eq!((o.code, o.stdout.as_str()), (0, want));
    // Nothing applied, nothing recorded.
    assert_eq!(l.sysctl(&l.rs, "net.ipv4.conf.all.arp_ignore"), "0");
    assert!(!l.show(&l.rs, &["addr", "show", "dev", "lo"]).contains(VIP));
    assert!(!l.state.exists());

    let o = l.rs_cmd(&setup);
    assert_eq!((o.code, o.stdout.as_str()), (0, want));
    assert_eq!(l.sysctl(&l.rs, "net.ipv4.conf.all.arp_ignore"), "1");
    assert_eq!(l.sysctl(&l.rs, "net.ipv4.conf.r0.arp_announce"), "2");
    assert!(
        l.show(&l.rs, &["addr", "show", "dev", "lo"])
            .contains("10.0.0.100/32")
    );
    expect(&lvsadm(&l.rs, &check), &[]);
    // Mode and VIP come from the recorded setup too.
    expect(&l.rs_cmd(&["realserver", "check"]), &[]);

    let o = l.rs_cmd(&setup);
    assert_eq!(o.code, 0);
    assert!(o.stdout.starts_with("nothing to change"), "{}", o.stdout);

    // The director (VIP on d0) probes ARP for the VIP: the real server stays silent.
    l.dir
        .ip(&["addr", "add", "10.0.0.100/32", "dev", "d0"])
        .unwrap();
    let dcheck = ["check", "--vip", VIP, "--rip", "10.0.0.2", "--mode", "dr"];
    expect(&lvsadm(&l.dir, &dcheck), &[]);

    let o = l.rs_cmd(&["realserver", "teardown"]);
    assert_eq!(o.code, 0);
    assert!(
        o.stdout.contains("ip addr del 10.0.0.100/32 dev lo"),
        "{}",
        o.stdout
    );
    assert!(
        o.stdout
            .contains("sysctl -w net.ipv4.conf.all.arp_ignore=0")
    );
    assert_eq!(l.sysctl(&l.rs, "net.ipv4.conf.all.arp_ignore"), "0");
    assert_eq!(l.sysctl(&l.rs, "net.ipv4.conf.r0.arp_announce"), "0");
    assert!(!l.show(&l.rs, &["addr", "show", "dev", "lo"]).contains(VIP));
    let o = l.rs_cmd(&["realserver", "teardown"]);
    assert_eq!(o.code, 0);
    assert!(o.stdout.starts_with("nothing to undo"), "{}", o.stdout);
}

#[test]
fn tun_setup_attaches_decap_and_teardown_detaches() {
    let l = lab("tun");
    let check = ["realserver", "check", "--mode", "tun", "--vip", VIP];
    // Sysctls right and VIP on lo, but nothing decapsulates.
    for (k, v) in [("all.arp_ignore", "1"), ("all.arp_announce", "2")] {
        l.set(&l.rs, &format!("net.ipv4.conf.{k}"), v);
    }
    l.rs.ip(&["link", "set", "lo", "up"]).unwrap();
    l.rs.ip(&["addr", "add", "10.0.0.100/32", "dev", "lo"])
        .unwrap();
    expect(&lvsadm(&l.rs, &check), &["RS-TUN-DECAP"]);

    let o = l.rs_cmd(&[
        "realserver",
        "setup",
        "--mode",
        "tun",
        "--vip",
        VIP,
        "--gue-port",
        "6080",
    ]);
    assert_eq!(o.code, 0, "{}", o.stdout);
    assert!(
        o.stdout.contains("tc filter add dev r0 ingress bpf"),
        "{}",
        o.stdout
    );
    assert!(o.stdout.contains("gue udp/6080"), "{}", o.stdout);
    let filters = || {
        let o = Command::new("ip")
            .args([
                "netns",
                "exec",
                l.rs.name(),
                "tc",
                "filter",
                "show",
                "dev",
                "r0",
                "ingress",
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    assert!(filters().contains("lvs_decap"));
    expect(&lvsadm(&l.rs, &check), &[]);
    let again = l.rs_cmd(&["realserver", "setup", "--mode", "tun", "--vip", VIP]);
    assert!(
        again.stdout.contains("nothing to change"),
        "{}",
        again.stdout
    );

    // A receive MTU below the director's link MTU.
    l.rs.ip(&["link", "set", "r0", "mtu", "1400"]).unwrap();
    expect(&lvsadm(&l.rs, &check), &["RS-TUN-MTU"]);
    l.rs.ip(&["link", "set", "r0", "mtu", "1500"]).unwrap();

    let o = l.rs_cmd(&["realserver", "teardown"]);
    assert_eq!(o.code, 0, "{}", o.stdout);
    assert!(!filters().contains("lvs_decap"));
    // The VIP was there before setup: teardown leaves it.
    assert!(
        l.show(&l.rs, &["addr", "show", "dev", "lo"])
            .contains("10.0.0.100/32")
    );
    expect(&lvsadm(&l.rs, &check), &["RS-TUN-DECAP"]);
}

#[test]
fn vip_on_an_arping_interface() {
    let l = lab("arping");
    l.rs.ip(&["addr", "add", "10.0.0.100/24", "dev", "r0"])
        .unwrap();
    let o = lvsadm(
        &l.rs,
        &["realserver", "check", "--mode", "dr", "--vip", VIP],
    );
    expect(&o, &["RS-VIP-ARPING", "RS-ARP-IGNORE", "RS-ARP-ANNOUNCE"]);
    assert!(o.stdout.contains("ip addr del 10.0.0.100/24 dev r0"));
    // Setup refuses to work around it.
    let s = l.rs_cmd(&["realserver", "setup", "--mode", "dr", "--vip", VIP]);
    assert_eq!(s.code, 1);
}

#[test]
fn vip_on_lo_with_a_network_prefix() {
    let l = lab("prefix");
    l.rs.ip(&["link", "set", "lo", "up"]).unwrap();
    l.rs.ip(&["addr", "add", "10.0.0.100/24", "dev", "lo"])
        .unwrap();
    l.set(&l.rs, "net.ipv4.conf.all.arp_ignore", "1");
    l.set(&l.rs, "net.ipv4.conf.all.arp_announce", "2");
    let o = lvsadm(
        &l.rs,
        &["realserver", "check", "--mode", "dr", "--vip", VIP],
    );
    expect(&o, &["RS-VIP-PREFIX"]);
    assert!(o.stdout.contains("as /24 instead of /32"));
}

#[test]
fn vip_on_a_loopback_that_is_down() {
    // A fresh namespace's lo is down: an address put there is not local.
    let l = lab("lodown");
    l.rs.ip(&["addr", "add", "10.0.0.100/32", "dev", "lo"])
        .unwrap();
    l.set(&l.rs, "net.ipv4.conf.all.arp_ignore", "1");
    l.set(&l.rs, "net.ipv4.conf.all.arp_announce", "2");
    let check = ["realserver", "check", "--mode", "dr", "--vip", VIP];
    let o = lvsadm(&l.rs, &check);
    expect(&o, &["RS-LO-DOWN"]);
    assert!(o.stdout.contains("fix: ip link set lo up"));
    l.rs.ip(&["link", "set", "lo", "up"]).unwrap();
    expect(&lvsadm(&l.rs, &check), &[]);
}

#[test]
fn arp_sysctls_set_after_the_vip_are_caught_by_the_director_probe() {
    let l = lab("late");
    // The mistake: the VIP goes on lo first, the ARP sysctls are still 0.
    l.rs.ip(&["link", "set", "lo", "up"]).unwrap();
    l.rs.ip(&["addr", "add", "10.0.0.100/32", "dev", "lo"])
        .unwrap();
    l.dir
        .ip(&["addr", "add", "10.0.0.100/32", "dev", "d0"])
        .unwrap();
    let rs_mac =
        l.rs.run(|| {
            let mut rt = lvs_sys::rtnl::Rtnl::open().unwrap();
            let r0 = rt
                .links()
                .unwrap()
                .into_iter()
                .find(|x| x.name == "r0")
                .unwrap();
            r0.mac
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>()
                .join(":")
        })
        .unwrap();
    let dcheck = ["check", "--vip", VIP, "--rip", "10.0.0.2", "--mode", "dr"];
    let o = lvsadm(&l.dir, &dcheck);
    expect(&o, &["DIR-VIP-ARP"]);
    assert!(
        o.stdout.contains(&rs_mac),
        "{} should name {rs_mac}",
        o.stdout
    );
    expect(
        &lvsadm(
            &l.rs,
            &["realserver", "check", "--mode", "dr", "--vip", VIP],
        ),
        &["RS-ARP-IGNORE", "RS-ARP-ANNOUNCE"],
    );
    // Fixed with setup: the probe gets no answer any more.
    let s = l.rs_cmd(&["realserver", "setup", "--mode", "dr", "--vip", VIP]);
    assert_eq!(s.code, 0, "{}", s.stdout);
    expect(&lvsadm(&l.dir, &dcheck), &[]);
}

#[test]
fn dr_gateway_is_the_director() {
    let l = lab("gwdip");
    l.rs.ip(&["route", "replace", "default", "via", "10.0.0.1"])
        .unwrap();
    let s = l.rs_cmd(&["realserver", "setup", "--mode", "dr", "--vip", VIP]);
    assert_eq!(s.code, 0);
    let o = lvsadm(
        &l.rs,
        &[
            "realserver",
            "check",
            "--mode",
            "dr",
            "--vip",
            VIP,
            "--dip",
            "10.0.0.1",
        ],
    );
    expect(&o, &["RS-GW-DIP"]);
}

#[test]
fn nat_gateway_not_the_director_and_setup_with_gateway() {
    let l = lab("natgw");
    let check = ["realserver", "check", "--mode", "nat", "--dip", "10.0.0.1"];
    let o = lvsadm(&l.rs, &check);
    expect(&o, &["RS-NAT-GW"]);
    assert!(o.stdout.contains("default gateway is 10.0.0.254"));
    // Setup reports the gateway and changes nothing without --gateway.
    let s = l.rs_cmd(&["realserver", "setup", "--mode", "nat"]);
    assert_eq!(s.code, 0);
    assert!(
        s.stdout.contains("default gateway is 10.0.0.254"),
        "{}",
        s.stdout
    );
    expect(&lvsadm(&l.rs, &check), &["RS-NAT-GW"]);
    let s = l.rs_cmd(&[
        "realserver",
        "setup",
        "--mode",
        "nat",
        "--gateway",
        "10.0.0.1",
    ]);
    assert_eq!(
        (s.code, s.stdout.as_str()),
        (0, "ip route replace default via 10.0.0.1 dev r0\n")
    );
    expect(&lvsadm(&l.rs, &check), &[]);
    let t = l.rs_cmd(&["realserver", "teardown"]);
    assert_eq!(t.code, 0);
    assert!(
        l.show(&l.rs, &["route", "show", "default"])
            .contains("via 10.0.0.254")
    );
}

#[test]
fn strict_rp_filter_with_clients_routed_elsewhere() {
    let l = lab("rpf");
    l.rs.ip(&["link", "add", "r1", "type", "veth", "peer", "name", "r1p"])
        .unwrap();
    l.rs.ip(&["addr", "add", "192.168.1.2/24", "dev", "r1"])
        .unwrap();
    l.rs.ip(&["link", "set", "r1", "up"]).unwrap();
    l.rs.ip(&[
        "route",
        "replace",
        "default",
        "via",
        "192.168.1.1",
        "dev",
        "r1",
    ])
    .unwrap();
    let s = l.rs_cmd(&[
        "realserver",
        "setup",
        "--mode",
        "dr",
        "--vip",
        VIP,
        "--dev",
        "r0",
    ]);
    assert_eq!(s.code, 0, "{}", s.stdout);
    l.set(&l.rs, "net.ipv4.conf.r0.rp_filter", "1");
    let check = [
        "realserver",
        "check",
        "--mode",
        "dr",
        "--vip",
        VIP,
        "--dev",
        "r0",
    ];
    let o = lvsadm(&l.rs, &check);
    expect(&o, &["RS-RP-FILTER"]);
    assert!(o.stdout.contains("leaves by r1"), "{}", o.stdout);
    l.set(&l.rs, "net.ipv4.conf.r0.rp_filter", "2");
    expect(&lvsadm(&l.rs, &check), &[]);
}

#[test]
fn director_forwarding_routing_and_tunnel_mtu() {
    let l = lab("dirck");
    l.dir
        .ip(&["addr", "add", "10.0.0.100/32", "dev", "d0"])
        .unwrap();
    l.dir
        .ip(&["route", "add", "default", "via", "10.0.0.254"])
        .unwrap();
    l.set(&l.dir, "net.ipv4.ip_forward", "0");
    let nat = [
        "check", "--no-arp", "--vip", VIP, "--rip", "10.0.0.2", "--mode", "nat",
    ];
    expect(&lvsadm(&l.dir, &nat), &["DIR-IP-FORWARD"]);
    l.set(&l.dir, "net.ipv4.ip_forward", "1");
    expect(&lvsadm(&l.dir, &nat), &[]);
    // A DR real server that is not on a directly attached network.
    let far = [
        "check",
        "--no-arp",
        "--vip",
        VIP,
        "--rip",
        "198.51.100.7",
        "--mode",
        "dr",
    ];
    expect(&lvsadm(&l.dir, &far), &["DIR-DR-ONLINK"]);
    // A tunnel over a 1500-byte link while clients use 1500: 1480 left for them.
    let tun = [
        "check",
        "--no-arp",
        "--vip",
        VIP,
        "--rip",
        "10.0.0.2",
        "--mode",
        "tun",
        "--tun-type",
        "gue",
    ];
    let o = lvsadm(&l.dir, &tun);
    expect(&o, &["DIR-TUN-MTU"]);
    assert!(o.stdout.contains("is 1468"), "{}", o.stdout);
}

#[test]
fn router_with_strict_rp_filter_drops_dr_replies() {
    // Seed 000 §4: the router between clients (192.0.2.0/24, where the VIP lives) and the
    // real servers (10.0.0.0/24) sees replies with source VIP coming from the wrong side.
    let l = lab("router");
    l.dir
        .ip(&["link", "add", "c0", "type", "veth", "peer", "name", "c0p"])
        .unwrap();
    l.dir
        .ip(&["addr", "add", "192.0.2.1/24", "dev", "c0"])
        .unwrap();
    l.dir.ip(&["link", "set", "c0", "up"]).unwrap();
    l.set(&l.dir, "net.ipv4.ip_forward", "1");
    l.set(&l.dir, "net.ipv4.conf.d0.rp_filter", "1");
    let args = [
        "check",
        "--no-arp",
        "--vip",
        "192.0.2.100",
        "--rip",
        "10.0.0.2",
        "--mode",
        "dr",
    ];
    let o = lvsadm(&l.dir, &args);
    expect(&o, &["DIR-VIP-MISSING", "DIR-RP-FILTER"]);
    assert!(o.stdout.contains("net.ipv4.conf.d0.rp_filter=2"));
    l.set(&l.dir, "net.ipv4.conf.d0.rp_filter", "2");
    expect(&lvsadm(&l.dir, &args), &["DIR-VIP-MISSING"]);
}

#[test]
fn director_check_reads_lvsd_table() {
    let l = lab("table");
    // The fake lvsd's base table: TCP 10.0.0.1:80 wlc with DR server 10.0.0.11; add a NAT and
    // a GRE tunnel server.
    let mut t = fake::Table::base();
    let service = ServiceKey::Addr {
        protocol: lvs_proto::Protocol::Tcp,
        addr: "10.0.0.1".parse().unwrap(),
        port: 80,
    };
    for (addr, fwd) in [
        ("10.0.0.12", FwdMethod::Masq),
        (
            "10.0.0.13",
            FwdMethod::Tunnel(TunnelSpec {
                kind: TunnelType::Gre,
                port: 0,
                csum: TunnelCsum::Csum,
            }),
        ),
    ] {
        t.apply(&Request::AddDest {
            service,
            dest: DestSpec {
                addr: addr.parse().unwrap(),
                port: 80,
                fwd,
                weight: 1,
                u_threshold: 0,
                l_threshold: 0,
            },
        })
        .unwrap();
    }
    let server = fake::Server::start(t);
    l.set(&l.dir, "net.ipv4.ip_forward", "0");
    let o = lvsadm_env(
        &l.dir,
        &["check", "--no-arp"],
        &[("LVSD_SOCKET", server.path().to_str().unwrap())],
    );
    expect(&o, &["DIR-IP-FORWARD", "DIR-TUN-MTU"]);
    assert!(o.stdout.contains("DIR-TUN-MTU 10.0.0.13"), "{}", o.stdout);
    // Without lvsd and without a service on the command line there is nothing to check.
    assert_eq!(lvsadm(&l.dir, &["check", "--no-arp"]).code, 2);
}

#[test]
fn ipv6_dr_setup_and_nat_forwarding() {
    let l = lab("v6");
    l.rs.ip(&["addr", "add", "fd00::2/64", "dev", "r0", "nodad"])
        .unwrap();
    l.rs.ip(&["-6", "route", "add", "default", "via", "fd00::fe"])
        .unwrap();
    // No ARP sysctls for an IPv6 VIP: only the address on lo, as /128.
    let setup = ["realserver", "setup", "--mode", "dr", "--vip", "fd00::100"];
    let mut dry = setup.to_vec();
    dry.push("--dry-run");
    let o = l.rs_cmd(&dry);
    assert_eq!(
        (o.code, o.stdout.as_str()),
        (0, "ip link set lo up\nip addr add fd00::100/128 dev lo\n")
    );
    let check = ["realserver", "check", "--mode", "dr", "--vip", "fd00::100"];
    expect(&lvsadm(&l.rs, &check), &["RS-VIP-MISSING"]);
    assert_eq!(l.rs_cmd(&setup).code, 0);
    expect(&lvsadm(&l.rs, &check), &[]);

    // The director of an IPv6 NAT service needs IPv6 forwarding.
    l.dir
        .ip(&["addr", "add", "fd00::1/64", "dev", "d0", "nodad"])
        .unwrap();
    l.dir
        .ip(&["addr", "add", "fd00::100/128", "dev", "lo"])
        .unwrap();
    l.set(&l.dir, "net.ipv6.conf.all.forwarding", "0");
    let nat = [
        "check",
        "--no-arp",
        "--vip",
        "fd00::100",
        "--rip",
        "fd00::2",
        "--mode",
        "nat",
    ];
    let o = lvsadm(&l.dir, &nat);
    expect(&o, &["DIR-IP-FORWARD"]);
    assert!(
        o.stdout
            .contains("sysctl -w net.ipv6.conf.all.forwarding=1")
    );
    l.set(&l.dir, "net.ipv6.conf.all.forwarding", "1");
    expect(&lvsadm(&l.dir, &nat), &[]);
}
