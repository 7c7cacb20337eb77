//! `global_defs { ... }`.

use std::net::IpAddr;
use std::time::Duration;

use super::{Cx, TIMER_MAX};
use crate::diag::DiagKind;
use crate::model::{FlushOnStop, GlobalDefs, LvsSyncDaemon, LvsTimeouts, NotifyFifo, SmtpServer};
use crate::tree::{Block, Stmt};

/// keepalived's `LVS_MAX_TIMEOUT` (31 days) for `lvs_timeouts`.
const LVS_MAX_TIMEOUT: u32 = 86_400 * 31;

/// `global_defs` keywords keepalived knows that lvs-rs does not implement
/// (process tuning, SNMP, D-Bus, firewall integration, reload helpers...).
const UNSUPPORTED: &[&str] = &[
    "tmp_config_directory",
    "config_save_dir",
    "process_names",
    "process_name",
    "vrrp_process_name",
    "checker_process_name",
    "bfd_process_name",
    "use_symlink_paths",
    "set_supplementary_groups",
    "startup_script",
    "startup_script_timeout",
    "shutdown_script",
    "shutdown_script_timeout",
    "vrrp_garp_extra_if",
    "v3_checksum_as_v2",
    "nftables",
    "nftables_priority",
    "nftables_counters",
    "nftables_ifindex",
    "nftables_ipvs",
    "nftables_ipvs_priority",
    "nftables_ipvs_start_fwmark",
    "vrrp_iptables",
    "vrrp_ipsets",
    "disable_local_igmp",
    "max_auto_priority",
    "min_auto_priority_delay",
    "vrrp_priority",
    "checker_priority",
    "bfd_priority",
    "vrrp_no_swap",
    "checker_no_swap",
    "bfd_no_swap",
    "vrrp_cpu_affinity",
    "checker_cpu_affinity",
    "bfd_cpu_affinity",
    "vrrp_rt_priority",
    "checker_rt_priority",
    "bfd_rt_priority",
    "vrrp_rlimit_rttime",
    "checker_rlimit_rttime",
    "bfd_rlimit_rttime",
    "snmp_socket",
    "enable_snmp_keepalived",
    "enable_snmp_vrrp",
    "enable_snmp_checker",
    "enable_snmp_rfc",
    "enable_snmp_rfcv2",
    "enable_snmp_rfcv3",
    "enable_traps",
    "snmp_vs_stats_update_interval",
    "snmp_rs_stats_update_interval",
    "enable_dbus",
    "dbus_service_name",
    "dbus_no_interface_name",
    "fifo_write_vrrp_states_on_reload",
    "vrrp_netlink_cmd_rcv_bufs",
    "vrrp_netlink_cmd_rcv_bufs_force",
    "vrrp_netlink_monitor_rcv_bufs",
    "vrrp_netlink_monitor_rcv_bufs_force",
    "lvs_netlink_cmd_rcv_bufs",
    "lvs_netlink_cmd_rcv_bufs_force",
    "lvs_netlink_monitor_rcv_bufs",
    "lvs_netlink_monitor_rcv_bufs_force",
    "process_monitor_rcv_bufs",
    "process_monitor_rcv_bufs_force",
    "vrrp_rx_bufs_policy",
    "vrrp_rx_bufs_multiplier",
    "rs_init_notifies",
    "no_checker_emails",
    "umask",
    "vrrp_delay_after_boot",
    "log_unknown_vrids",
    "vmac_prefix",
    "vmac_addr_prefix",
    "random_seed",
    "reload_check_config",
    "include_check",
    "reload_time_file",
    "reload_repeat",
    "reload_file",
    "data_use_instance",
    "state_file_location",
    "stats_file_location",
    "json_file_location",
    "json_version",
    "iproute_usr_dir",
    "iproute_etc_dir",
    "linkbeat_use_polling",
    "net_namespace",
    "net_namespace_ipvs",
    "namespace_with_ipsets",
    "instance",
    "use_pid_dir",
    "child_wait_time",
];

pub(super) fn global_defs(cx: &mut Cx<'_>, b: &Block, g: &mut GlobalDefs) {
    let secs = |n: u64| Duration::from_secs(n);
    for s in &b.stmts {
        let kw = s.keyword();
        match kw {
            "router_id" => g.router_id = cx.string_kw(s),
            "notification_email" => {
                if let Some(b) = cx.block(s) {
                    for line in cx.value_lines(b) {
                        g.notification_email
                            .extend(line.words.iter().map(|w| w.text.clone()));
                    }
                }
            }
            "notification_email_from" => g.notification_email_from = cx.string_kw(s),
            "smtp_server" => g.smtp_server = smtp_server(cx, s),
            "smtp_helo_name" => g.smtp_helo_name = cx.string_kw(s),
            "smtp_connect_timeout" => g.smtp_connect_timeout = cx.u32_kw(s, 1, 3600),
            "smtp_alert" => g.smtp_alert = cx.bool_kw(s),
            "smtp_alert_vrrp" => g.smtp_alert_vrrp = cx.bool_kw(s),
            "smtp_alert_checker" => g.smtp_alert_checker = cx.bool_kw(s),
            "no_email_faults" => g.no_email_faults = cx.flag_kw(s),
            "checker_log_all_failures" => g.checker_log_all_failures = cx.bool_kw(s),
            "script_user" => g.script_user = cx.user_kw(s),
            "enable_script_security" => g.enable_script_security = cx.flag_kw(s),
            "lvs_sync_daemon" => g.lvs_sync_daemon = lvs_sync_daemon(cx, s),
            "lvs_sync_daemon_interface" => {
                // Removed from keepalived 2.x (2.2.7 says "Unknown keyword");
                // still found in old configs and doc samples.
                cx.deprecated(s, "lvs_sync_daemon");
                if let Some(ifname) = cx.string_kw(s) {
                    let d = g
                        .lvs_sync_daemon
                        .get_or_insert_with(|| empty_sync(s, &ifname));
                    d.interface = ifname;
                }
            }
            "lvs_sync_daemon_id" => {
                cx.deprecated(s, "lvs_sync_daemon ... id N");
                if let Some(id) = cx.u32_kw(s, 0, 255) {
                    g.lvs_sync_daemon
                        .get_or_insert_with(|| empty_sync(s, ""))
                        .sync_id = Some(id as u8);
                }
            }
            "lvs_timeouts" => g.lvs_timeouts = lvs_timeouts(cx, s),
            "lvs_flush" => g.lvs_flush = cx.flag_kw(s),
            "lvs_flush_on_stop" => {
                if cx.simple(s) {
                    cx.max_args(s, 1);
                    g.lvs_flush_on_stop = match s.words.get(1) {
                        None => Some(FlushOnStop::All),
                        Some(w) if w.text == "VS" => Some(FlushOnStop::VirtualServers),
                        Some(w) => {
                            cx.invalid(w, kw, "expected `VS` or nothing");
                            None
                        }
                    };
                }
            }
            "notify_fifo" => fifo(cx, s, &mut g.notify_fifo),
            "vrrp_notify_fifo" => fifo(cx, s, &mut g.vrrp_notify_fifo),
            "lvs_notify_fifo" => fifo(cx, s, &mut g.lvs_notify_fifo),
            "notify_fifo_script" => fifo_script(cx, s, &mut g.notify_fifo),
            "vrrp_notify_fifo_script" => fifo_script(cx, s, &mut g.vrrp_notify_fifo),
            "lvs_notify_fifo_script" => fifo_script(cx, s, &mut g.lvs_notify_fifo),
            "dynamic_interfaces" => {
                if cx.simple(s) {
                    cx.max_args(s, 1);
                    if let Some(w) = s.words.get(1)
                        && w.text != "allow_if_changes"
                    {
                        cx.invalid(w, kw, "expected `allow_if_changes` or nothing");
                    }
                    g.dynamic_interfaces = true;
                }
            }
            "default_interface" => g.default_interface = cx.string_kw(s),
            "vrrp_mcast_group4" => match cx.ip_kw(s) {
                Some(IpAddr::V4(a)) => g.vrrp.mcast_group4 = Some(a),
                Some(IpAddr::V6(_)) => wrong_family(cx, s, "an IPv4"),
                None => {}
            },
            "vrrp_mcast_group6" => match cx.ip_kw(s) {
                Some(IpAddr::V6(a)) => g.vrrp.mcast_group6 = Some(a),
                Some(IpAddr::V4(_)) => wrong_family(cx, s, "an IPv6"),
                None => {}
            },
            "vrrp_version" => g.vrrp.version = cx.u32_kw(s, 2, 3).map(|v| v as u8),
            "vrrp_garp_master_delay" => {
                g.vrrp.garp_master_delay = cx.timer_kw(s, Duration::ZERO, secs(86_400));
            }
            "vrrp_garp_master_repeat" => g.vrrp.garp_master_repeat = cx.u32_kw(s, 0, u32::MAX),
            "vrrp_garp_master_refresh" => {
                g.vrrp.garp_master_refresh = cx.timer_kw(s, Duration::ZERO, secs(86_400));
            }
            "vrrp_garp_master_refresh_repeat" => {
                g.vrrp.garp_master_refresh_repeat = cx.u32_kw(s, 0, u32::MAX);
            }
            "vrrp_garp_lower_prio_delay" => {
                g.vrrp.garp_lower_prio_delay = cx.timer_kw(s, Duration::ZERO, secs(86_400));
            }
            "vrrp_garp_lower_prio_repeat" => {
                g.vrrp.garp_lower_prio_repeat = cx.u32_kw(s, 0, u32::MAX);
            }
            "vrrp_garp_interval" => {
                g.vrrp.garp_interval = cx.timer_kw(s, Duration::ZERO, secs(1));
            }
            "vrrp_gna_interval" => g.vrrp.gna_interval = cx.timer_kw(s, Duration::ZERO, secs(1)),
            "vrrp_min_garp" => g.vrrp.min_garp = cx.bool_kw(s),
            "vrrp_strict" => g.vrrp.strict = cx.flag_kw(s),
            "vrrp_skip_check_adv_addr" => g.vrrp.skip_check_adv_addr = cx.flag_kw(s),
            "vrrp_check_unicast_src" => g.vrrp.check_unicast_src = cx.flag_kw(s),
            "vrrp_down_timer_adverts" => g.vrrp.down_timer_adverts = cx.u32_kw(s, 1, 100),
            "vrrp_lower_prio_no_advert" => g.vrrp.lower_prio_no_advert = cx.bool_kw(s),
            "vrrp_higher_prio_send_advert" => g.vrrp.higher_prio_send_advert = cx.bool_kw(s),
            "vrrp_startup_delay" => {
                g.vrrp.startup_delay = cx.timer_kw(s, Duration::ZERO, TIMER_MAX);
            }
            "vrrp_notify_priority_changes" => g.vrrp.notify_priority_changes = cx.bool_kw(s),
            _ if UNSUPPORTED.contains(&kw) => cx.unsupported(s),
            _ => cx.unknown(s),
        }
    }
}

fn wrong_family(cx: &mut Cx<'_>, s: &Stmt, want: &str) {
    if let Some(w) = s.words.get(1) {
        cx.invalid(w, s.keyword(), &format!("expected {want} address"));
    }
}

fn empty_sync(s: &Stmt, ifname: &str) -> LvsSyncDaemon {
    LvsSyncDaemon {
        location: s.loc().clone(),
        interface: ifname.to_owned(),
        instance: None,
        sync_id: None,
        maxlen: None,
        port: None,
        ttl: None,
        group: None,
    }
}

fn smtp_server(cx: &mut Cx<'_>, s: &Stmt) -> Option<SmtpServer> {
    if !cx.simple(s) {
        return None;
    }
    cx.max_args(s, 2);
    let host = cx.arg(s, 1, "a server address")?.text.clone();
    let port = match s.words.get(2) {
        Some(_) => match cx.u32_at(s, 2, 1, 65535) {
            Some(p) => p as u16,
            None => return None,
        },
        None => 25,
    };
    Some(SmtpServer { host, port })
}

/// `lvs_sync_daemon IF [[inst] NAME] [id N] [maxlen N] [port N] [ttl N]
/// [group IP]`.
fn lvs_sync_daemon(cx: &mut Cx<'_>, s: &Stmt) -> Option<LvsSyncDaemon> {
    if !cx.simple(s) {
        return None;
    }
    let ifname = cx.arg(s, 1, "an interface")?.text.clone();
    let mut d = empty_sync(s, &ifname);
    let mut i = 2;
    let mut ok = true;
    while i < s.words.len() {
        let w = &s.words[i];
        match w.text.as_str() {
            "inst" => {
                d.instance = cx
                    .arg(s, i + 1, "an instance name after `inst`")
                    .map(|w| w.text.clone());
                ok &= d.instance.is_some();
            }
            "id" => {
                d.sync_id = cx.u32_at(s, i + 1, 0, 255).map(|v| v as u8);
                ok &= d.sync_id.is_some();
            }
            "maxlen" => {
                d.maxlen = cx.u32_at(s, i + 1, 1, 65507).map(|v| v as u16);
                ok &= d.maxlen.is_some();
            }
            "port" => {
                d.port = cx.u32_at(s, i + 1, 1, 65535).map(|v| v as u16);
                ok &= d.port.is_some();
            }
            "ttl" => {
                d.ttl = cx.u32_at(s, i + 1, 1, 255).map(|v| v as u8);
                ok &= d.ttl.is_some();
            }
            "group" => {
                d.group = cx.ip_at(s, i + 1);
                ok &= d.group.is_some();
            }
            _ if i == 2 => {
                // Backward compatible form: the instance without `inst`.
                d.instance = Some(w.text.clone());
                i += 1;
                continue;
            }
            _ => {
                cx.invalid(
                    w,
                    s.keyword(),
                    "expected inst, id, maxlen, port, ttl or group",
                );
                return None;
            }
        }
        i += 2;
    }
    ok.then_some(d)
}

fn lvs_timeouts(cx: &mut Cx<'_>, s: &Stmt) -> LvsTimeouts {
    let mut t = LvsTimeouts::default();
    if !cx.simple(s) {
        return t;
    }
    if s.words.len() < 2 {
        cx.err(
            DiagKind::Missing,
            &s.end,
            "`lvs_timeouts` needs at least one of tcp, tcpfin, udp".to_owned(),
            "lvs_timeouts",
        );
        return t;
    }
    let mut i = 1;
    while i < s.words.len() {
        let w = &s.words[i];
        let slot = match w.text.as_str() {
            "tcp" => &mut t.tcp,
            "tcpfin" => &mut t.tcpfin,
            "udp" => &mut t.udp,
            _ => {
                cx.invalid(w, "lvs_timeouts", "expected tcp, tcpfin or udp");
                i += 1;
                continue;
            }
        };
        *slot = cx.u32_at(s, i + 1, 1, LVS_MAX_TIMEOUT);
        i += 2;
    }
    t
}

fn fifo(cx: &mut Cx<'_>, s: &Stmt, slot: &mut Option<NotifyFifo>) {
    if !cx.simple(s) {
        return;
    }
    let Some(path) = cx.arg(s, 1, "a FIFO path").map(|w| w.text.clone()) else {
        return;
    };
    let words: Vec<String> = s.words[2..].iter().map(|w| w.text.clone()).collect();
    let user = if words.is_empty() {
        None
    } else {
        cx.user_from(s, &words)
    };
    let script = slot.take().and_then(|f| f.script);
    *slot = Some(NotifyFifo { path, user, script });
}

fn fifo_script(cx: &mut Cx<'_>, s: &Stmt, slot: &mut Option<NotifyFifo>) {
    if let Some(script) = cx.script_kw(s) {
        match slot {
            Some(f) => f.script = Some(script),
            None => {
                let kw = s.keyword();
                let fifo = kw.trim_end_matches("_script");
                cx.err(
                    DiagKind::Missing,
                    s.loc(),
                    format!("`{kw}` needs `{fifo}` (the FIFO) before it"),
                    kw,
                );
            }
        }
    }
}
