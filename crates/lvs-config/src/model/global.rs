//! `global_defs`: the LVS, checker and VRRP relevant subset.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use super::{Script, ScriptUser};
use crate::diag::Location;

/// `global_defs { ... }`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GlobalDefs {
    /// `router_id` (keepalived default: host name).
    pub router_id: Option<String>,
    /// `notification_email { ... }` addresses, as written (a display name in
    /// double quotes stays one entry).
    pub notification_email: Vec<String>,
    /// `notification_email_from`.
    pub notification_email_from: Option<String>,
    /// `smtp_server HOST [PORT]`.
    pub smtp_server: Option<SmtpServer>,
    /// `smtp_helo_name`.
    pub smtp_helo_name: Option<String>,
    /// `smtp_connect_timeout` in seconds (keepalived default 30).
    pub smtp_connect_timeout: Option<u32>,
    /// `smtp_alert [BOOL]`.
    pub smtp_alert: Option<bool>,
    /// `smtp_alert_vrrp [BOOL]`.
    pub smtp_alert_vrrp: Option<bool>,
    /// `smtp_alert_checker [BOOL]`.
    pub smtp_alert_checker: Option<bool>,
    /// `no_email_faults`.
    pub no_email_faults: bool,
    /// `checker_log_all_failures [BOOL]`.
    pub checker_log_all_failures: Option<bool>,
    /// `script_user USER [[:]GROUP]`.
    pub script_user: Option<ScriptUser>,
    /// `enable_script_security`.
    pub enable_script_security: bool,
    /// `lvs_sync_daemon ...` (or the old `lvs_sync_daemon_interface IF`).
    pub lvs_sync_daemon: Option<LvsSyncDaemon>,
    /// `lvs_timeouts [tcp S] [tcpfin S] [udp S]` (= `ipvsadm --set`).
    pub lvs_timeouts: LvsTimeouts,
    /// `lvs_flush`: flush IPVS at start.
    pub lvs_flush: bool,
    /// `lvs_flush_on_stop [VS]`.
    pub lvs_flush_on_stop: Option<FlushOnStop>,
    /// `notify_fifo` / `notify_fifo_script`.
    pub notify_fifo: Option<NotifyFifo>,
    /// `vrrp_notify_fifo` / `vrrp_notify_fifo_script`.
    pub vrrp_notify_fifo: Option<NotifyFifo>,
    /// `lvs_notify_fifo` / `lvs_notify_fifo_script`.
    pub lvs_notify_fifo: Option<NotifyFifo>,
    /// `dynamic_interfaces [allow_if_changes]`.
    pub dynamic_interfaces: bool,
    /// `default_interface` (for VIPs without `dev`; keepalived default eth0).
    pub default_interface: Option<String>,
    /// Global VRRP defaults.
    pub vrrp: VrrpGlobals,
}

/// `smtp_server HOST [PORT]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpServer {
    /// Address or name.
    pub host: String,
    /// Port (default 25).
    pub port: u16,
}

/// `lvs_sync_daemon IF [[inst] NAME] [id N] [maxlen N] [port N] [ttl N]
/// [group IP]`.
///
/// Without an instance both the master and the backup sync daemons run; with
/// one, the master runs while that instance is MASTER and the backup
/// otherwise. The sync id defaults to the instance's VRID (or 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LvsSyncDaemon {
    /// Where it is.
    pub location: Location,
    /// Interface to send/receive on.
    pub interface: String,
    /// VRRP instance whose state selects master/backup.
    pub instance: Option<String>,
    /// `id 0..255`.
    pub sync_id: Option<u8>,
    /// `maxlen 1..65507`.
    pub maxlen: Option<u16>,
    /// `port 1..65535` (kernel default 8848).
    pub port: Option<u16>,
    /// `ttl 1..255`.
    pub ttl: Option<u8>,
    /// `group IP` (default 224.0.0.81).
    pub group: Option<IpAddr>,
}

/// `lvs_timeouts`: values left `None` are not changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LvsTimeouts {
    /// TCP established timeout, seconds.
    pub tcp: Option<u32>,
    /// TCP FIN_WAIT timeout, seconds.
    pub tcpfin: Option<u32>,
    /// UDP timeout, seconds.
    pub udp: Option<u32>,
}

/// `lvs_flush_on_stop [VS]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlushOnStop {
    /// Flush everything.
    All,
    /// `VS`: delete keepalived's virtual servers (the kernel drops their
    /// real servers).
    VirtualServers,
}

/// A notify FIFO: `*_fifo NAME [USER [GROUP]]` and `*_fifo_script`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyFifo {
    /// FIFO path.
    pub path: String,
    /// Owner of the FIFO.
    pub user: Option<ScriptUser>,
    /// Script reading the FIFO (gets the FIFO name as last argument).
    pub script: Option<Script>,
}

/// Global VRRP settings (defaults for every instance).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VrrpGlobals {
    /// `vrrp_mcast_group4` (default 224.0.0.18).
    pub mcast_group4: Option<Ipv4Addr>,
    /// `vrrp_mcast_group6` (default ff02::12).
    pub mcast_group6: Option<Ipv6Addr>,
    /// `vrrp_version 2|3` (default 2; IPv6 instances use 3).
    pub version: Option<u8>,
    /// `vrrp_garp_master_delay` (default 5 s; 0 = no second burst).
    pub garp_master_delay: Option<Duration>,
    /// `vrrp_garp_master_repeat` (default 5).
    pub garp_master_repeat: Option<u32>,
    /// `vrrp_garp_master_refresh` (default 0 = off).
    pub garp_master_refresh: Option<Duration>,
    /// `vrrp_garp_master_refresh_repeat` (default 1).
    pub garp_master_refresh_repeat: Option<u32>,
    /// `vrrp_garp_lower_prio_delay`.
    pub garp_lower_prio_delay: Option<Duration>,
    /// `vrrp_garp_lower_prio_repeat`.
    pub garp_lower_prio_repeat: Option<u32>,
    /// `vrrp_garp_interval` (between ARPs on one interface).
    pub garp_interval: Option<Duration>,
    /// `vrrp_gna_interval` (between NAs on one interface).
    pub gna_interval: Option<Duration>,
    /// `vrrp_min_garp [BOOL]`.
    pub min_garp: Option<bool>,
    /// `vrrp_strict`.
    pub strict: bool,
    /// `vrrp_skip_check_adv_addr`.
    pub skip_check_adv_addr: bool,
    /// `vrrp_check_unicast_src`.
    pub check_unicast_src: bool,
    /// `vrrp_down_timer_adverts 1..100` (default 3).
    pub down_timer_adverts: Option<u32>,
    /// `vrrp_lower_prio_no_advert [BOOL]`.
    pub lower_prio_no_advert: Option<bool>,
    /// `vrrp_higher_prio_send_advert [BOOL]`.
    pub higher_prio_send_advert: Option<bool>,
    /// `vrrp_startup_delay`.
    pub startup_delay: Option<Duration>,
    /// `vrrp_notify_priority_changes [BOOL]`.
    pub notify_priority_changes: Option<bool>,
}
