//! Focused typed-configuration cases not covered by the sample corpus.

use std::path::Path;
use std::time::Duration;

use lvs_config::{
    CheckKind, Config, Family, LvsMethod, MemFs, Options, Report, TunnelCsum, TunnelType, VsKey,
    VsgEntry, check,
};

const FILE: &str = "/k/keepalived.conf";

fn report(src: &str) -> Report {
    check(
        &MemFs::new().with(FILE, src),
        Path::new(FILE),
        &Options::default(),
    )
}

fn config(src: &str) -> Config {
    let r = report(src);
    let errors: Vec<String> = r.errors().map(ToString::to_string).collect();
    assert!(errors.is_empty(), "{errors:#?}");
    r.config.expect("accepted")
}

fn vs(body: &str) -> String {
    format!("virtual_server 10.0.0.1 80 {{\n protocol TCP\n lb_algo rr\n{body}\n}}\n")
}

#[test]
fn script_user_forms() {
    // `username [:][groupname]` (keepalived.conf(5), SCRIPTS). The `:` form
    // is newer than keepalived 2.2.7 (which looks up a group named `:g2`).
    let cfg = config(&vs(
        " real_server 10.0.1.1 80 {\n  notify_up /bin/up u1\n  notify_down \"/bin/down now\" u2 :g2\n  MISC_CHECK {\n   misc_path /bin/chk\n   user u3 :\n  }\n }",
    ));
    let rs = &cfg.virtual_servers[0].real_servers[0];
    let up = rs.notify_up.as_ref().unwrap();
    assert_eq!(up.argv, ["/bin/up"]);
    let u = up.user.as_ref().unwrap();
    assert_eq!(
        (u.user.as_str(), u.group.as_deref(), u.supplementary_groups),
        ("u1", None, false)
    );
    let down = rs.notify_down.as_ref().unwrap();
    assert_eq!(down.argv, ["/bin/down", "now"]);
    let u = down.user.as_ref().unwrap();
    assert_eq!(
        (u.group.as_deref(), u.supplementary_groups),
        (Some("g2"), true)
    );
    let CheckKind::Misc(m) = &rs.checkers[0].kind else {
        panic!()
    };
    let u = m.user.as_ref().unwrap();
    assert_eq!(
        (u.user.as_str(), u.group.as_deref(), u.supplementary_groups),
        ("u3", None, true)
    );
}

#[test]
fn escaped_script_arguments() {
    // keepalived.conf(5) "Quoted strings" example. The man page claims the
    // second argument comes out as ` spaces\x20file `; keepalived 2.2.7 in
    // the lab passed ` spaces\x0file ` to the script: escapes are decoded
    // inside single quotes too, and `\x` takes every hex digit that follows
    // (`\x20f` is 0x20f, truncated to 0x0f).
    let src = "$SG_NAME=SG1\n$INST=low\n".to_owned()
        + &vs(
            " real_server 10.0.1.1 80 {\n  notify_up \"/etc/keepalived/notify_event.sh ' spaces\\\\x20f\\x69le ' '\\\"s p a c e \\\"' ${SG_NAME}.$INST master\"\n }",
        );
    let cfg = config(&src);
    let up = cfg.virtual_servers[0].real_servers[0]
        .notify_up
        .clone()
        .unwrap();
    assert_eq!(
        up.argv,
        [
            "/etc/keepalived/notify_event.sh",
            " spaces\u{f}ile ",
            "\"s p a c e \"",
            "SG1.low",
            "master"
        ]
    );
}

#[test]
fn forwarding_methods_and_inheritance() {
    let cfg = config(&vs(
        " lb_kind TUN type gue port 6080 csum\n sorry_server 10.0.9.9\n sorry_server_lvs_method DR\n real_server 10.0.1.1 80 { }\n real_server 10.0.1.2 80 {\n  lvs_method NAT\n }\n real_server 10.0.1.3 80 {\n  lvs_method TUN type gre csum\n }\n real_server 10.0.1.4 80 {\n  lvs_method FNAT\n }",
    ));
    let v = &cfg.virtual_servers[0];
    let gue = LvsMethod::Tun {
        kind: TunnelType::Gue { port: 6080 },
        csum: TunnelCsum::Csum,
    };
    assert_eq!(v.lvs_method, Some(gue));
    let m: Vec<LvsMethod> = v
        .real_servers
        .iter()
        .map(|r| r.lvs_method.unwrap())
        .collect();
    assert_eq!(
        m,
        [
            gue,
            LvsMethod::Nat,
            LvsMethod::Tun {
                kind: TunnelType::Gre,
                csum: TunnelCsum::Csum
            },
            LvsMethod::FullNat
        ]
    );
    let ss = v.sorry_server.as_ref().unwrap();
    assert_eq!((ss.lvs_method, ss.port), (Some(LvsMethod::Dr), 80));
}

#[test]
fn ipv6_group_ranges_and_fwmark_families() {
    let cfg = config(
        "virtual_server_group G6 {\n 2001:db8::10-1f 443\n 2001:db8:1::/126\n fwmark 9 inet6\n}\nvirtual_server group G6 {\n protocol TCP\n persistence_timeout 30\n lb_kind TUN\n real_server 2001:db8:2::1 443 { }\n}\n",
    );
    let g = cfg.group("G6").unwrap();
    assert_eq!(g.entries[0].len(), 16);
    let addrs: Vec<String> = g.entries[1].addresses().map(|a| a.to_string()).collect();
    assert_eq!(
        addrs,
        [
            "2001:db8:1::",
            "2001:db8:1::1",
            "2001:db8:1::2",
            "2001:db8:1::3"
        ]
    );
    assert_eq!(
        g.entries[2],
        VsgEntry::Fwmark {
            mark: 9,
            family: Some(Family::Inet6)
        }
    );
    assert_eq!(cfg.virtual_servers[0].ip_family, Some(Family::Inet6));
}

#[test]
fn fwmark_service_with_tunnelled_ipv6_servers_takes_their_family() {
    let cfg = config(
        "virtual_server fwmark 3 {\n lb_kind TUN\n real_server 2001:db8::1 { }\n real_server 2001:db8::2 { }\n}\n",
    );
    assert_eq!(cfg.virtual_servers[0].key, VsKey::Fwmark(3));
    assert_eq!(cfg.virtual_servers[0].ip_family, Some(Family::Inet6));
    // Mixed families default to IPv4.
    let cfg = config(
        "virtual_server fwmark 3 {\n lb_kind TUN\n real_server 2001:db8::1 { }\n real_server 10.0.0.2 { }\n}\n",
    );
    assert_eq!(cfg.virtual_servers[0].ip_family, Some(Family::Inet));
}

#[test]
fn timing_inherits_virtual_then_real_then_checker() {
    let cfg = config(&vs(
        " delay_loop 30\n retry 4\n connect_timeout 7\n warmup 2\n real_server 10.0.1.1 80 {\n  delay_before_retry 9\n  retry 5\n  TCP_CHECK {\n   delay_loop 1.5\n  }\n  DNS_CHECK {\n   retry 0\n  }\n }\n real_server 10.0.1.2 80 {\n  DNS_CHECK { }\n }",
    ));
    let rs = &cfg.virtual_servers[0].real_servers;
    let t = rs[0].checkers[0].timing;
    assert_eq!(t.delay_loop, Duration::from_millis(1500));
    assert_eq!(t.retry, 5);
    assert_eq!(t.connect_timeout, Duration::from_secs(7));
    assert_eq!(t.delay_before_retry, Duration::from_secs(9));
    assert_eq!(t.warmup, Duration::from_secs(2));
    assert_eq!(rs[0].checkers[1].timing.retry, 0);
    // Virtual server retry 4 beats DNS_CHECK's own default of 3.
    let t = rs[1].checkers[0].timing;
    assert_eq!(t.retry, 4);
    assert_eq!(t.delay_before_retry, Duration::from_secs(30));
}

#[test]
fn global_notify_fifos_and_sync_daemon_forms() {
    let cfg = config(
        "global_defs {\n notify_fifo /run/k.fifo root root\n notify_fifo_script \"/bin/reader -v\"\n lvs_notify_fifo /run/lvs.fifo\n lvs_sync_daemon eth1 inst VI id 3\n lvs_flush_on_stop VS\n vrrp_version 3\n vrrp_garp_master_refresh 60\n vrrp_strict\n}\nvrrp_instance VI {\n virtual_router_id 3\n}\n",
    );
    let g = &cfg.global;
    let f = g.notify_fifo.as_ref().unwrap();
    assert_eq!(f.path, "/run/k.fifo");
    assert_eq!(f.user.as_ref().unwrap().group.as_deref(), Some("root"));
    assert_eq!(f.script.as_ref().unwrap().argv, ["/bin/reader", "-v"]);
    assert_eq!(g.lvs_notify_fifo.as_ref().unwrap().path, "/run/lvs.fifo");
    let d = g.lvs_sync_daemon.as_ref().unwrap();
    assert_eq!(
        (d.interface.as_str(), d.instance.as_deref(), d.sync_id),
        ("eth1", Some("VI"), Some(3))
    );
    assert_eq!(
        g.lvs_flush_on_stop,
        Some(lvs_config::FlushOnStop::VirtualServers)
    );
    assert_eq!(g.vrrp.version, Some(3));
    assert_eq!(g.vrrp.garp_master_refresh, Some(Duration::from_secs(60)));
    assert!(g.vrrp.strict);
}

#[test]
fn sync_daemon_instance_must_exist() {
    let r = report("global_defs {\n lvs_sync_daemon eth1 VI_NONE\n}\n");
    let e: Vec<String> = r.errors().map(ToString::to_string).collect();
    assert_eq!(
        e,
        ["/k/keepalived.conf:2:2: error: lvs_sync_daemon vrrp instance `VI_NONE` is not defined"]
    );
}

#[test]
fn deprecated_sync_daemon_interface_still_works() {
    let r = report("global_defs {\n lvs_sync_daemon_interface eth2\n}\n");
    assert!(r.is_ok());
    assert_eq!(
        r.diagnostics[0].message,
        "`lvs_sync_daemon_interface` is deprecated - please use `lvs_sync_daemon`"
    );
    assert_eq!(
        r.config.unwrap().global.lvs_sync_daemon.unwrap().interface,
        "eth2"
    );
}

#[test]
fn vrrp_details() {
    let cfg = config(
        "vrrp_instance VI {\n virtual_router_id 200\n advert_int 0.25\n version 3\n no_accept\n preempt_delay 4.5\n authentication {\n  auth_type AH\n  auth_pass 0123456789\n }\n virtual_ipaddress {\n  192.0.2.1/24 brd 192.0.2.255 dev eth0 scope link label eth0:1 no_track\n }\n virtual_ipaddress_excluded {\n  2001:db8::1/64\n }\n unicast_peer {\n  192.0.2.2 min_ttl 250 max_ttl 255\n }\n track_interface {\n  eth1 weight 10 reverse\n }\n use_vmac vrrp.200\n notify \"/bin/n all\"\n notify_deleted\n}\n",
    );
    let v = &cfg.vrrp_instances[0];
    assert_eq!(v.advert_int, Duration::from_millis(250));
    assert_eq!(v.accept, Some(false));
    assert_eq!(v.preempt_delay, Some(Duration::from_millis(4500)));
    assert_eq!(
        v.authentication,
        Some(lvs_config::VrrpAuth::Ah("01234567".into()))
    );
    let a = &v.virtual_ipaddress[0];
    assert_eq!(a.broadcast.as_deref(), Some("192.0.2.255"));
    assert_eq!(a.scope, Some(lvs_config::AddrScope::Link));
    assert!(a.no_track);
    assert_eq!(v.virtual_ipaddress_excluded[0].prefix_len, 64);
    assert_eq!(
        (v.unicast_peer[0].min_ttl, v.unicast_peer[0].max_ttl),
        (Some(250), Some(255))
    );
    assert_eq!(
        (v.track_interface[0].weight, v.track_interface[0].reverse),
        (Some(10), true)
    );
    assert_eq!(
        v.use_vmac.as_ref().unwrap().name.as_deref(),
        Some("vrrp.200")
    );
    assert_eq!(v.notify.any.as_ref().unwrap().argv, ["/bin/n", "all"]);
    assert_eq!(v.notify.deleted, Some(None));
}
