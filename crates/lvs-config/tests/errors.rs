//! Mistakes and the exact messages they produce (`file:line:col`).
//!
//! What counts as an error or a warning follows keepalived 2.2.7 as seen in
//! the lab VM: unknown keywords are skipped with a warning, keepalived's
//! load-time corrections are warnings with its wording, values it would
//! ignore are errors (the configuration is rejected).

use std::path::Path;

use lvs_config::{
    ConfigError, DiagKind, LvsMethod, MemFs, Options, Protocol, Report, Scheduler, Severity, check,
};

const FILE: &str = "/k/keepalived.conf";

fn report(src: &str) -> Report {
    check(
        &MemFs::new().with(FILE, src),
        Path::new(FILE),
        &Options::default(),
    )
}

/// All diagnostics as `line:col: severity: message` (file name dropped).
fn diags(src: &str) -> Vec<String> {
    report(src)
        .diagnostics
        .iter()
        .map(|d| {
            d.to_string()
                .trim_start_matches(FILE)
                .trim_start_matches(':')
                .to_owned()
        })
        .collect()
}

/// Wrap real-server statements in a valid virtual server (lines 1-3).
fn in_rs(body: &str) -> String {
    format!(
        "virtual_server 10.0.0.1 80 {{\n protocol TCP\n lb_algo rr\n lb_kind NAT\n real_server 10.0.1.1 80 {{\n{body}\n }}\n}}\n"
    )
}

#[test]
fn unbalanced_braces() {
    let src = "virtual_server 10.0.0.1 80 {\n  real_server 10.0.1.1 80 {\n    weight 2\n}\n";
    let errors: Vec<String> = diags(src)
        .into_iter()
        .filter(|d| d.contains("error"))
        .collect();
    assert_eq!(
        errors,
        ["1:28: error: missing `}`: the block of `virtual_server` opened here is never closed"]
    );
    let src = "global_defs {\n  router_id A\n}\n  }\n";
    assert_eq!(diags(src), ["4:3: error: extra `}`: no block is open here"]);
    let src = "global_defs {\n  { router_id A }\n}\n";
    assert_eq!(
        diags(src),
        ["2:3: error: unexpected `{`: no keyword before it to open a block for"]
    );
}

#[test]
fn a_block_keyword_without_its_block() {
    // keepalived 2.2.7: "Missing '{' at beginning of configuration block".
    let src = in_rs("  TCP_CHECK\n  weight 1");
    let d = diags(&src);
    assert_eq!(
        d,
        ["6:12: error: missing `{` at beginning of the `TCP_CHECK` block"]
    );
    let src = "virtual_server 10.0.0.1 80 {\n protocol TCP\n real_server 10.0.1.1 80\n}\n";
    let d = diags(src);
    assert_eq!(
        d[0],
        "3:25: error: missing `{` at beginning of the `real_server` block"
    );
}

#[test]
fn a_simple_keyword_with_a_block() {
    let d = diags(&in_rs("  weight 3 { }"));
    assert_eq!(d, ["6:12: error: `weight` does not take a block"]);
}

#[test]
fn bad_numbers_point_at_the_value() {
    let d = diags(&in_rs("  weight abc\n  uthreshold -4\n  lthreshold 3x"));
    assert_eq!(
        d,
        [
            "6:10: error: invalid `weight` value `abc`: not a number, expected 0..=2147483647",
            "7:14: error: invalid `uthreshold` value `-4`: negative number, expected 0..=4294967295",
            "8:14: error: invalid `lthreshold` value `3x`: not a number, expected 0..=4294967295",
        ]
    );
    let d = diags(&in_rs("  weight 99999999999"));
    assert_eq!(
        d,
        [
            "6:10: error: invalid `weight` value `99999999999`: out of range, expected 0..=2147483647"
        ]
    );
}

#[test]
fn missing_parameter_points_after_the_keyword() {
    let d = diags(&in_rs("  weight"));
    assert_eq!(d, ["6:9: error: `weight` is missing a number"]);
}

#[test]
fn bad_timers() {
    let src = "virtual_server 10.0.0.1 80 {\n protocol TCP\n delay_loop abc\n delay_loop 0\n real_server 10.0.1.1 80 { }\n}\n";
    let d = diags(src);
    assert_eq!(
        d[0],
        "3:13: error: invalid `delay_loop` value `abc`: not a number, expected seconds 0.000001..=1000000000"
    );
    assert_eq!(
        d[1],
        "4:13: error: invalid `delay_loop` value `0`: out of range, expected seconds 0.000001..=1000000000"
    );
}

#[test]
fn bad_enumerations() {
    let src = "virtual_server 10.0.0.1 80 {\n lb_algo bogus\n lb_kind FOO\n protocol XTP\n real_server 10.0.1.1 80 { }\n}\n";
    let d: Vec<String> = diags(src)
        .into_iter()
        .filter(|l| l.contains("error"))
        .collect();
    assert_eq!(
        d,
        [
            "2:10: error: invalid `lb_algo` value `bogus`: expected rr, wrr, lc, wlc, lblc, lblcr, dh, sh, sed, nq, mh, fo, ovf or twos",
            "3:10: error: invalid `lb_kind` value `FOO`: expected NAT, DR, TUN or FNAT",
            "4:11: error: invalid `protocol` value `XTP`: expected TCP, UDP or SCTP",
        ]
    );
}

#[test]
fn bad_addresses_and_ports() {
    let src = "virtual_server 10.0.0.1 99999 {\n real_server 10.0.1.1 80 { }\n}\n\
               virtual_server 10.0.0.2 80 {\n protocol TCP\n real_server 10.7.1.300 80 { }\n}\n";
    let d = diags(src);
    assert_eq!(
        d[0],
        "1:25: error: invalid `virtual_server` value `99999`: out of range, expected 0..=65535"
    );
    assert_eq!(
        d[1],
        "6:14: error: invalid `real_server` value `10.7.1.300`: not an IPv4 or IPv6 address"
    );
}

#[test]
fn tunnel_options_are_checked() {
    let d = diags(&in_rs("  lvs_method TUN type gue"));
    assert_eq!(
        d,
        ["6:26: error: `lvs_method`: gue tunnels require `port N`"]
    );
    let d = diags(&in_rs("  lvs_method TUN type ipip csum"));
    assert_eq!(
        d,
        ["6:3: error: `lvs_method`: ipip tunnels do not support a checksum option"]
    );
    let d = diags(&in_rs("  lvs_method TUN type gre remcsum"));
    assert_eq!(
        d,
        ["6:3: error: `lvs_method`: gre tunnels do not support the remote checksum option"]
    );
    let d = diags(&in_rs("  lvs_method TUN type vxlan"));
    assert_eq!(
        d,
        [
            "6:23: error: invalid `lvs_method` value `vxlan`: unknown tunnel type, expected ipip, gue or gre"
        ]
    );
    let d = diags(&in_rs("  lvs_method TUN port 6080"));
    assert_eq!(
        d,
        ["6:18: error: invalid `lvs_method` value `port`: only gue tunnels take a port"]
    );
    let r = report(&in_rs("  lvs_method TUN type gue port 6080 remcsum"));
    assert!(r.is_ok(), "{:?}", r.diagnostics);
}

#[test]
fn undefined_group_is_an_error() {
    let d = diags("virtual_server group NOPE {\n protocol TCP\n real_server 10.0.1.1 80 { }\n}\n");
    assert_eq!(
        d,
        ["1:1: error: virtual server group `NOPE` is not defined"]
    );
}

#[test]
fn real_server_of_another_family() {
    let src = "virtual_server 10.0.0.1 80 {\n protocol TCP\n lb_algo rr\n lb_kind NAT\n real_server 2001:db8::1 80 { }\n}\n";
    let d = diags(src);
    assert_eq!(
        d,
        [
            "5:2: error: address family of virtual server 10.0.0.1:80 and real server 2001:db8::1 don't match"
        ]
    );
    // Tunnelled real servers may differ.
    let src = "virtual_server 10.0.0.1 80 {\n protocol TCP\n lb_algo rr\n lb_kind TUN\n real_server 2001:db8::1 80 { }\n}\n";
    assert!(report(src).is_ok());
}

#[test]
fn sorry_server_options_before_the_sorry_server() {
    let src = "virtual_server 10.0.0.1 80 {\n protocol TCP\n lb_algo rr\n lb_kind NAT\n sorry_server_inhibit\n sorry_server 10.0.9.9 80\n real_server 10.0.1.1 80 { }\n}\n";
    assert_eq!(
        diags(src),
        [
            "5:2: error: `sorry_server_inhibit` used before or without `sorry_server` (keepalived ignores it)"
        ]
    );
}

#[test]
fn checker_mistakes() {
    let d = diags(&in_rs("  HTTP_GET {\n    connect_timeout 3\n  }"));
    assert_eq!(d, ["6:3: error: `HTTP_GET` has no `url` block to check"]);
    let d = diags(&in_rs("  HTTP_GET {\n    url { digest 00 }\n  }"));
    assert_eq!(
        d,
        [
            "7:18: error: invalid `digest` value `00`: expected 32 hex digits (an MD5)",
            "7:5: error: `url` block has no `path`",
            "6:3: error: `HTTP_GET` has no `url` block to check",
        ]
    );
    let d = diags(&in_rs(
        "  HTTP_GET {\n    url {\n path /\n status_code 200-299 700 }\n  }",
    ));
    assert_eq!(
        d,
        ["9:22: error: invalid `status_code` value `700`: out of range, expected 100..=599"]
    );
    // One statement per line, as keepalived: `path` takes one value.
    let d = diags(&in_rs(
        "  HTTP_GET {\n    url { path / status_code 200 }\n  }",
    ));
    assert_eq!(
        d,
        ["7:18: warning: extra parameter `status_code` after `path` - ignored"]
    );
    let d = diags(&in_rs("  MISC_CHECK {\n    misc_timeout 3\n  }"));
    assert_eq!(d, ["6:3: error: `MISC_CHECK` has no `misc_path`"]);
    let d = diags(&in_rs("  DNS_CHECK {\n    type PTR\n  }"));
    assert_eq!(
        d,
        ["7:10: error: invalid `type` value `PTR`: expected A, NS, CNAME, SOA, MX, TXT or AAAA"]
    );
    let d = diags(&in_rs("  UDP_CHECK {\n    payload 12 zz\n  }"));
    assert_eq!(
        d,
        ["7:13: error: invalid `payload` value `12`: `z` is not a hex digit"]
    );
}

#[test]
fn script_quoting_mistakes() {
    // keepalived 2.2.7: "String '...': missing terminating '".
    let d = diags(&in_rs("  notify_up \"/bin/x 'a b\""));
    assert_eq!(
        d,
        ["6:3: error: `notify_up`: missing terminating ' in `notify_up \"/bin/x 'a b\"`"]
    );
    // A single quote does not protect a comment (keepalived cuts the line).
    let d = diags(&in_rs("  notify_down '/bin/echo # down'"));
    assert_eq!(
        d,
        ["6:3: error: `notify_down`: missing terminating ' in `notify_down '/bin/echo`"]
    );
}

#[test]
fn vrrp_mistakes() {
    let src = "vrrp_instance VI_1 {\n  state MAYBE\n  interface eth0\n  priority 300\n}\n";
    assert_eq!(
        diags(src),
        [
            "2:9: error: invalid `state` value `MAYBE`: expected MASTER or BACKUP",
            "4:12: error: invalid `priority` value `300`: out of range, expected 1..=255",
            // keepalived 2.2.7: "(VI_1) the virtual router id must be set".
            "1:1: error: (VI_1) the virtual router id must be set",
        ]
    );
    let src = "vrrp_script chk {\n  interval 2\n}\nvrrp_instance VI_1 {\n virtual_router_id 9\n authentication {\n  auth_type PASS\n }\n track_script {\n  chk\n  missing weight 5\n }\n}\n";
    assert_eq!(
        diags(src),
        [
            "1:1: error: vrrp_script `chk` has no `script`",
            "6:2: error: `authentication` block has no `auth_pass`",
            "4:1: warning: (VI_1) track script chk not found, ignoring...",
            "4:1: warning: (VI_1) track script missing not found, ignoring...",
        ]
    );
    let src = "vrrp_instance VI_1 {\n virtual_router_id 9\n virtual_ipaddress {\n  10.0.0.1/24\n  2001:db8::1/64\n  10.0.0.2/33\n  10.0.0.3 dev\n  10.0.0.4 colour blue\n }\n}\n";
    assert_eq!(
        diags(src),
        [
            "6:3: error: invalid prefix length in `10.0.0.2/33`: out of range, expected 0..=32",
            "7:15: error: `dev` needs a value in `10.0.0.3 dev`",
            "8:12: error: invalid `virtual_ipaddress` value `colour`: unknown address option",
            "5:3: error: (VI_1) virtual_ipaddress 2001:db8::1 is not of the same family as the first one (use virtual_ipaddress_excluded for mixed families)",
        ]
    );
}

#[test]
fn unknown_keywords_are_warnings_and_their_blocks_are_skipped() {
    let src = "global_defs {\n   router_id R1\n   bogus_global 1\n}\n\
               virtual_server 10.7.0.1 80 {\n   protocol TCP\n   lb_algo rr\n   lb_kind NAT\n   frobnicate yes\n\
               \x20  real_server 10.7.1.1 80 {\n      TCP_CHECK {\n         nonsense 4\n      }\n   }\n\
               \x20  mystery_block {\n      a b\n   }\n}\nunknown_top {\n   x y\n}\n";
    let r = report(src);
    assert!(r.is_ok());
    let d: Vec<String> = r
        .diagnostics
        .iter()
        .map(|d| d.to_string()[FILE.len() + 1..].to_owned())
        .collect();
    assert_eq!(
        d,
        [
            "3:4: warning: unknown keyword `bogus_global` - ignored",
            "9:4: warning: unknown keyword `frobnicate` - ignored",
            "12:10: warning: unknown keyword `nonsense` - ignored",
            "15:4: warning: unknown keyword `mystery_block` - ignored (its block is skipped)",
            "19:1: warning: unknown keyword `unknown_top` - ignored (its block is skipped)",
        ]
    );
    assert!(
        r.diagnostics
            .iter()
            .all(|d| d.kind == DiagKind::UnknownKeyword)
    );
}

#[test]
fn unsupported_keepalived_keywords_are_named_as_such() {
    let src =
        "global_defs {\n enable_snmp_checker\n}\nstatic_routes {\n 10.0.0.0/8 via 1.2.3.4\n}\n";
    let r = report(src);
    assert!(r.is_ok());
    let d: Vec<(DiagKind, u32)> = r
        .diagnostics
        .iter()
        .map(|d| (d.kind, d.location.line))
        .collect();
    assert_eq!(d, [(DiagKind::Unsupported, 2), (DiagKind::Unsupported, 4)]);
    assert_eq!(
        r.diagnostics[0].message,
        "keepalived keyword `enable_snmp_checker` is not supported by lvs-rs - ignored"
    );
}

#[test]
fn keepalived_corrections_are_warnings_with_the_result_applied() {
    // Each message is keepalived 2.2.7's, seen in the lab.
    let src = "virtual_server 10.0.0.1 80 {\n ops\n sh-port\n lb_algo sh\n quorum 9\n hysteresis 9\n\
               \x20real_server 10.0.1.1 80 { weight 2 }\n real_server 10.0.1.1 80 { weight 3 }\n}\n";
    let r = report(src);
    let msgs: Vec<&str> = r.diagnostics.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(
        msgs,
        [
            "`sh-port` only applies to the sh scheduler (set `lvs_sched sh` before it) - ignoring",
            "virtual server 10.0.0.1:80: no protocol set - defaulting to UDP (as keepalived)",
            // keepalived's order too: the first real server takes the default
            // method before the second is found to be a duplicate.
            "virtual server 10.0.0.1:80: no forwarding method set, setting default NAT",
            "VS 10.0.0.1:80: real server 10.0.1.1:80 is duplicated - removing second rs",
            "quorum 9 for 10.0.0.1:80 exceeds total weight of real servers 2, reducing quorum to 2",
            "virtual server 10.0.0.1:80: hysteresis 9 >= quorum 2; setting hysteresis to 1",
        ]
    );
    assert!(
        r.diagnostics
            .iter()
            .all(|d| d.severity == Severity::Warning)
    );
    let cfg = r.config.unwrap();
    let vs = &cfg.virtual_servers[0];
    assert_eq!(vs.protocol, Some(Protocol::Udp));
    assert!(vs.one_packet, "ops stays with UDP");
    assert_eq!(vs.sched_flags.0, 0);
    assert_eq!(vs.scheduler, Some(Scheduler::Sh));
    assert_eq!((vs.quorum, vs.hysteresis), (2, 1));
    assert_eq!(vs.real_servers.len(), 1);
    assert_eq!(vs.real_servers[0].lvs_method, Some(LvsMethod::Nat));
}

#[test]
fn ops_needs_udp_and_ports_follow_the_virtual_server() {
    let src = "virtual_server 10.0.0.1 80 {\n protocol TCP\n lb_algo rr\n lb_kind DR\n ops\n\
               \x20real_server 10.0.1.1 8080 { }\n real_server 10.0.1.2 { }\n}\n";
    let r = report(src);
    let msgs: Vec<&str> = r.diagnostics.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(
        msgs,
        [
            "virtual server 10.0.0.1:80: one packet scheduling requires UDP - resetting",
            "virtual server 10.0.0.1:80 and real server 10.0.1.1:8080 ports don't match - resetting",
        ]
    );
    let cfg = r.config.unwrap();
    let ports: Vec<u16> = cfg.virtual_servers[0]
        .real_servers
        .iter()
        .map(|r| r.port)
        .collect();
    assert_eq!(ports, [80, 80]);
    assert!(!cfg.virtual_servers[0].one_packet);
}

#[test]
fn a_virtual_server_without_real_servers_is_dropped() {
    let r = report("virtual_server 10.0.0.1 80 {\n protocol TCP\n}\n");
    assert!(r.is_ok());
    assert_eq!(
        r.diagnostics[0].message,
        "virtual server 10.0.0.1:80 has no real servers - ignoring it"
    );
    assert!(r.config.unwrap().virtual_servers.is_empty());
}

#[test]
fn port_less_service_becomes_persistent() {
    let r = report(
        "virtual_server 10.0.0.1 {\n protocol TCP\n lb_algo rr\n lb_kind DR\n real_server 10.0.1.1 { }\n}\n",
    );
    assert_eq!(
        r.diagnostics[0].message,
        "virtual server 10.0.0.1:0: zero port only valid for persistent services - setting persistence_timeout 360"
    );
    assert_eq!(
        r.config.unwrap().virtual_servers[0].persistence_timeout,
        Some(360)
    );
}

#[test]
fn rejected_configuration_reports_all_errors() {
    let r = report(&in_rs("  weight abc\n  uthreshold x"));
    assert!(!r.is_ok());
    assert_eq!(r.errors().count(), 2);
    let Err(ConfigError::Rejected { diagnostics }) = r.clone().into_result() else {
        panic!("accepted")
    };
    assert_eq!(diagnostics.len(), 2);
    let e = r.into_result().unwrap_err();
    assert_eq!(
        e.to_string(),
        "configuration rejected: /k/keepalived.conf:6:10: error: invalid `weight` value `abc`: not a number, expected 0..=2147483647 (and 1 more errors)"
    );
}

#[test]
fn offending_text_is_kept() {
    let r = report(&in_rs("  weight abc"));
    let d = r.errors().next().unwrap();
    assert_eq!(d.text.as_deref(), Some("abc"));
    assert_eq!(d.kind, DiagKind::InvalidValue);
    assert_eq!((d.location.line, d.location.col), (6, 10));
}

#[test]
fn check_file_reads_the_real_file_system() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/keepalived/samples/inhibit.conf");
    let r = lvs_config::check_file(&path);
    assert!(r.is_ok(), "{:?}", r.diagnostics);
    assert_eq!(r.files, std::slice::from_ref(&path));
    let missing = lvs_config::check_file(path.with_file_name("does-not-exist.conf"));
    assert!(!missing.is_ok());
    assert_eq!(missing.diagnostics[0].kind, DiagKind::Include);
}
