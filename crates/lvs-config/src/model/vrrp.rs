//! `vrrp_instance`, `vrrp_sync_group`, `vrrp_script`.

use std::net::IpAddr;
use std::time::Duration;

use super::{Script, ScriptUser};
use crate::diag::Location;

/// `state MASTER|BACKUP` (initial state; priority decides).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VrrpState {
    /// MASTER.
    Master,
    /// BACKUP.
    Backup,
}

/// `authentication { auth_type ...; auth_pass ... }` (VRRPv2 only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VrrpAuth {
    /// `auth_type PASS`: simple password (at most 8 characters are used).
    Pass(String),
    /// `auth_type AH`: IPsec AH (not recommended).
    Ah(String),
}

/// Address scope of a virtual address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddrScope {
    /// `global`.
    Global,
    /// `site`.
    Site,
    /// `link`.
    Link,
    /// `host`.
    Host,
    /// `nowhere`.
    Nowhere,
    /// A numeric scope.
    Other(u8),
}

/// One entry of `virtual_ipaddress { ... }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VirtualAddress {
    /// Where it is.
    pub location: Location,
    /// Address.
    pub addr: IpAddr,
    /// Prefix length (default /32 or /128).
    pub prefix_len: u8,
    /// `brd ADDR` (or `-`/`+`, kept as None / computed by the VRRP task).
    pub broadcast: Option<String>,
    /// `dev IF` (default: the instance's interface).
    pub dev: Option<String>,
    /// `scope`.
    pub scope: Option<AddrScope>,
    /// `label`.
    pub label: Option<String>,
    /// `peer ADDR`.
    pub peer: Option<IpAddr>,
    /// `no_track`.
    pub no_track: bool,
    /// `home`, `-nodad`, `mngtmpaddr`, `noprefixroute`, `autojoin`,
    /// `use_vmac`, `preferred_lft ..`: flags kept as written.
    pub extra: Vec<String>,
}

/// `track_interface { IF [weight N [reverse]] }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackInterface {
    /// Interface name.
    pub name: String,
    /// Weight -253..=253 (0 / none: failure means FAULT).
    pub weight: Option<i32>,
    /// `reverse`.
    pub reverse: bool,
}

/// `track_script { NAME [weight N [reverse|noreverse]] }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackScript {
    /// Name of a `vrrp_script`.
    pub name: String,
    /// Weight override -253..=253 (None: the script's own weight).
    pub weight: Option<i32>,
    /// `reverse` (Some(true)) / `noreverse` (Some(false)).
    pub reverse: Option<bool>,
}

/// `unicast_peer { IP [min_ttl N] [max_ttl N] }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnicastPeer {
    /// Peer address.
    pub addr: IpAddr,
    /// `min_ttl`.
    pub min_ttl: Option<u8>,
    /// `max_ttl`.
    pub max_ttl: Option<u8>,
}

/// Notify scripts of an instance or sync group.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VrrpNotify {
    /// `notify_master`.
    pub master: Option<Script>,
    /// `notify_backup`.
    pub backup: Option<Script>,
    /// `notify_fault`.
    pub fault: Option<Script>,
    /// `notify_stop`.
    pub stop: Option<Script>,
    /// `notify_deleted [SCRIPT]`: Some(None) sends DELETED without a script.
    pub deleted: Option<Option<Script>>,
    /// `notify` (any transition; extra args `INSTANCE|GROUP name state prio`).
    pub any: Option<Script>,
    /// `notify_master_rx_lower_pri`.
    pub master_rx_lower_pri: Option<Script>,
    /// `notify_priority_changes [BOOL]`.
    pub priority_changes: Option<bool>,
}

/// `use_vmac [[name] NAME] [MAC]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UseVmac {
    /// Interface name (default `vrrp.VRID`).
    pub name: Option<String>,
    /// MAC address (default 00:00:5e:00:01:VRID).
    pub mac: Option<String>,
}

/// `vrrp_instance NAME { ... }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VrrpInstance {
    /// Where it is.
    pub location: Location,
    /// Name.
    pub name: String,
    /// `state` (initial).
    pub state: Option<VrrpState>,
    /// `interface`.
    pub interface: Option<String>,
    /// `virtual_router_id` 1..=255 (required).
    pub virtual_router_id: u8,
    /// `priority` 1..=255 (default 100; 255 = address owner).
    pub priority: u8,
    /// `advert_int` (default 1 s; centiseconds with VRRPv3).
    pub advert_int: Duration,
    /// `version 2|3` (default: global `vrrp_version`, IPv6 forces 3).
    pub version: Option<u8>,
    /// `nopreempt` (`preempt` clears it).
    pub nopreempt: bool,
    /// `preempt_delay` 0..=1000 s.
    pub preempt_delay: Option<Duration>,
    /// `accept` (Some(true)) / `no_accept` (Some(false)).
    pub accept: Option<bool>,
    /// `down_timer_adverts` 1..=100 (default 3).
    pub down_timer_adverts: Option<u32>,
    /// `authentication`.
    pub authentication: Option<VrrpAuth>,
    /// `virtual_ipaddress`.
    pub virtual_ipaddress: Vec<VirtualAddress>,
    /// `virtual_ipaddress_excluded` (not in adverts).
    pub virtual_ipaddress_excluded: Vec<VirtualAddress>,
    /// `no_virtual_ipaddress`.
    pub no_virtual_ipaddress: bool,
    /// `promote_secondaries`.
    pub promote_secondaries: bool,
    /// `track_interface`.
    pub track_interface: Vec<TrackInterface>,
    /// `track_script` (only names of existing `vrrp_script`s are kept).
    pub track_script: Vec<TrackScript>,
    /// `dont_track_primary`.
    pub dont_track_primary: bool,
    /// `mcast_src_ip`.
    pub mcast_src_ip: Option<IpAddr>,
    /// `mcast_dst_ip`.
    pub mcast_dst_ip: Option<IpAddr>,
    /// `unicast_src_ip`.
    pub unicast_src_ip: Option<IpAddr>,
    /// `unicast_peer`.
    pub unicast_peer: Vec<UnicastPeer>,
    /// `unicast_ttl`.
    pub unicast_ttl: Option<u8>,
    /// `unicast_fault_no_peer`.
    pub unicast_fault_no_peer: bool,
    /// `check_unicast_src`.
    pub check_unicast_src: bool,
    /// `use_vmac`.
    pub use_vmac: Option<UseVmac>,
    /// `vmac_xmit_base`.
    pub vmac_xmit_base: bool,
    /// `garp_master_delay` (default global, 5 s).
    pub garp_master_delay: Option<Duration>,
    /// `garp_master_repeat` (default global, 5).
    pub garp_master_repeat: Option<u32>,
    /// `garp_master_refresh` (default global, off).
    pub garp_master_refresh: Option<Duration>,
    /// `garp_master_refresh_repeat` (default global, 1).
    pub garp_master_refresh_repeat: Option<u32>,
    /// `garp_lower_prio_delay`.
    pub garp_lower_prio_delay: Option<Duration>,
    /// `garp_lower_prio_repeat`.
    pub garp_lower_prio_repeat: Option<u32>,
    /// Notify scripts.
    pub notify: VrrpNotify,
    /// `smtp_alert [BOOL]`.
    pub smtp_alert: Option<bool>,
    /// `strict_mode [BOOL]`.
    pub strict_mode: Option<bool>,
    /// `skip_check_adv_addr [BOOL]`.
    pub skip_check_adv_addr: Option<bool>,
    /// `lower_prio_no_advert [BOOL]`.
    pub lower_prio_no_advert: Option<bool>,
    /// `higher_prio_send_advert [BOOL]`.
    pub higher_prio_send_advert: Option<bool>,
    /// `kernel_rx_buf_size`.
    pub kernel_rx_buf_size: Option<u32>,
    /// `debug LEVEL`.
    pub debug: Option<u8>,
}

impl VrrpInstance {
    /// An instance with keepalived's defaults (VRID 0 = not set yet).
    pub fn new(location: Location, name: String) -> VrrpInstance {
        VrrpInstance {
            location,
            name,
            state: None,
            interface: None,
            virtual_router_id: 0,
            priority: 100,
            advert_int: Duration::from_secs(1),
            version: None,
            nopreempt: false,
            preempt_delay: None,
            accept: None,
            down_timer_adverts: None,
            authentication: None,
            virtual_ipaddress: Vec::new(),
            virtual_ipaddress_excluded: Vec::new(),
            no_virtual_ipaddress: false,
            promote_secondaries: false,
            track_interface: Vec::new(),
            track_script: Vec::new(),
            dont_track_primary: false,
            mcast_src_ip: None,
            mcast_dst_ip: None,
            unicast_src_ip: None,
            unicast_peer: Vec::new(),
            unicast_ttl: None,
            unicast_fault_no_peer: false,
            check_unicast_src: false,
            use_vmac: None,
            vmac_xmit_base: false,
            garp_master_delay: None,
            garp_master_repeat: None,
            garp_master_refresh: None,
            garp_master_refresh_repeat: None,
            garp_lower_prio_delay: None,
            garp_lower_prio_repeat: None,
            notify: VrrpNotify::default(),
            smtp_alert: None,
            strict_mode: None,
            skip_check_adv_addr: None,
            lower_prio_no_advert: None,
            higher_prio_send_advert: None,
            kernel_rx_buf_size: None,
            debug: None,
        }
    }
}

/// `vrrp_sync_group NAME { group { ... } ... }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VrrpSyncGroup {
    /// Where it is.
    pub location: Location,
    /// Name.
    pub name: String,
    /// Member instance names (only existing instances are kept).
    pub group: Vec<String>,
    /// `track_interface`.
    pub track_interface: Vec<TrackInterface>,
    /// `track_script`.
    pub track_script: Vec<TrackScript>,
    /// Notify scripts.
    pub notify: VrrpNotify,
    /// `smtp_alert [BOOL]`.
    pub smtp_alert: Option<bool>,
    /// `sync_group_tracking_weight`.
    pub sync_group_tracking_weight: bool,
}

/// `vrrp_script NAME { ... }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VrrpScript {
    /// Where it is.
    pub location: Location,
    /// Name.
    pub name: String,
    /// `script` (required).
    pub script: Script,
    /// `interval` (default 1 s).
    pub interval: Duration,
    /// `timeout` (default: interval).
    pub timeout: Option<Duration>,
    /// `weight` -253..=253 (default 0: failure means FAULT).
    pub weight: i32,
    /// `weight N reverse`.
    pub reverse: bool,
    /// `rise` (default 1).
    pub rise: u32,
    /// `fall` (default 1).
    pub fall: u32,
    /// `user USER [[:]GROUP]`.
    pub user: Option<ScriptUser>,
    /// `init_fail`.
    pub init_fail: bool,
}
