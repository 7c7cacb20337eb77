//! Configuration of VRRP instances, sync groups and tracked objects, with
//! keepalived's defaults (`vrrp_instance`, `vrrp_sync_group`, `vrrp_script`).

use std::net::IpAddr;
use std::time::Duration;

use thiserror::Error;

use crate::packet::{Auth, Family, MAX_V3_INTERVAL_CS, Version};
use crate::track::TrackStatus;

/// The `state` keyword: the state the instance wants at start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InitialState {
    /// `state BACKUP` (default).
    #[default]
    Backup,
    /// `state MASTER`: only an address owner (priority 255) starts as master
    /// at once; any other instance starts as backup and wins the election.
    Master,
}

/// Gratuitous ARP / unsolicited neighbour advertisement settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GarpConfig {
    /// `garp_master_delay`: second burst after becoming master (default 5 s; 0 = none).
    pub master_delay: Duration,
    /// `garp_master_repeat`: messages per address per burst (default 5).
    pub master_repeat: u32,
    /// `garp_master_refresh`: periodic refresh while master (default none).
    pub master_refresh: Option<Duration>,
    /// `garp_master_refresh_repeat`: messages per refresh (default 1).
    pub refresh_repeat: u32,
    /// `garp_lower_prio_repeat`: burst when a master hears a lower priority
    /// (default: `garp_master_repeat`; 0 = none).
    pub lower_prio_repeat: u32,
    /// `garp_lower_prio_delay`: second such burst (default: `garp_master_delay`).
    pub lower_prio_delay: Duration,
}

impl Default for GarpConfig {
    fn default() -> Self {
        GarpConfig {
            master_delay: Duration::from_secs(5),
            master_repeat: 5,
            master_refresh: None,
            refresh_repeat: 1,
            lower_prio_repeat: 5,
            lower_prio_delay: Duration::from_secs(5),
        }
    }
}

/// Index of a tracked object (interface or script) in [`VrrpConfig::tracks`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TrackId(pub usize);

/// An instance's use of a tracked object (`track_interface { IF weight W }`,
/// `track_script { S weight W [reverse] }`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrackRef {
    /// The object.
    pub id: TrackId,
    /// -253..=253. 0: failure puts the instance in FAULT. Positive: added to
    /// the priority while the object is up. Negative: added (subtracted)
    /// while it is down.
    pub weight: i32,
    /// `reverse`: the adjustment goes the other way (a positive weight is
    /// subtracted while up, a negative one added while down).
    pub reverse: bool,
}

/// Kind of tracked object (for logs; the engine treats them alike).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrackKind {
    /// An interface (up/down from netlink).
    Interface,
    /// A `vrrp_script` (up/down after rise/fall, see [`crate::track::ScriptTracker`]).
    Script,
}

/// A tracked object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackConfig {
    /// Name.
    pub name: String,
    /// Kind.
    pub kind: TrackKind,
    /// State at start: interfaces Up or Down; scripts Unknown until their
    /// first result (Down with `init_fail`).
    pub initial: TrackStatus,
}

/// One `vrrp_instance`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceConfig {
    /// Instance name.
    pub name: String,
    /// Interface index (as the driver numbers interfaces); adverts are
    /// matched by (interface, family, VRID).
    pub iface: u32,
    /// `virtual_router_id` 1..=255.
    pub vrid: u8,
    /// `version` 2 or 3.
    pub version: Version,
    /// `priority` 1..=255 (255 = address owner; default 100).
    pub priority: u8,
    /// `advert_int`: v2 whole seconds 1..=255; v3 10 ms steps up to 40.95 s.
    pub advert_int: Duration,
    /// `state`.
    pub initial_state: InitialState,
    /// `nopreempt`.
    pub nopreempt: bool,
    /// `preempt_delay` (0..=1000 s).
    pub preempt_delay: Duration,
    /// `down_timer_adverts` 1..=100 (default 3).
    pub down_timer_adverts: u32,
    /// `virtual_ipaddress` (the addresses sent in adverts; one family).
    pub vips: Vec<IpAddr>,
    /// Source address of our adverts (`unicast_src_ip`/`mcast_src_ip` or the
    /// interface's primary address; IPv6: link-local). Also breaks priority
    /// ties: the higher address wins.
    pub src_addr: IpAddr,
    /// `unicast_peer` list; empty = multicast. Unicast adverts skip the TTL check.
    pub unicast_peers: Vec<IpAddr>,
    /// `authentication` (v2 only).
    pub auth: Auth,
    /// GARP / NA settings.
    pub garp: GarpConfig,
    /// `lower_prio_no_advert`.
    pub lower_prio_no_advert: bool,
    /// `higher_prio_send_advert`.
    pub higher_prio_send_advert: bool,
    /// `skip_check_adv_addr`: do not check the address list of adverts from
    /// the known master.
    pub skip_check_adv_addr: bool,
    /// `track_interface` and `track_script` entries.
    pub tracks: Vec<TrackRef>,
}

impl InstanceConfig {
    /// An instance with keepalived's defaults.
    pub fn new(name: &str, iface: u32, vrid: u8, src_addr: IpAddr, vips: Vec<IpAddr>) -> Self {
        InstanceConfig {
            name: name.to_owned(),
            iface,
            vrid,
            version: Version::V2,
            priority: 100,
            advert_int: Duration::from_secs(1),
            initial_state: InitialState::Backup,
            nopreempt: false,
            preempt_delay: Duration::ZERO,
            down_timer_adverts: 3,
            vips,
            src_addr,
            unicast_peers: Vec::new(),
            auth: Auth::None,
            garp: GarpConfig::default(),
            lower_prio_no_advert: false,
            higher_prio_send_advert: false,
            skip_check_adv_addr: false,
            tracks: Vec::new(),
        }
    }

    /// Address family (of the source address).
    pub fn family(&self) -> Family {
        Family::of(&self.src_addr)
    }

    /// The interval field of our adverts (v2 seconds, v3 centiseconds).
    pub fn interval_field(&self) -> u16 {
        match self.version {
            Version::V2 => u16::try_from(self.advert_int.as_secs()).unwrap_or(u16::MAX),
            Version::V3 => u16::try_from(self.advert_int.as_millis() / 10).unwrap_or(u16::MAX),
        }
    }

    /// Check the values keepalived would refuse.
    pub fn validate(&self, n_tracks: usize) -> Result<(), ConfigError> {
        let name = || self.name.clone();
        if self.vrid == 0 {
            return Err(ConfigError::Vrid(name()));
        }
        if self.priority == 0 {
            return Err(ConfigError::Priority(name()));
        }
        match self.version {
            Version::V2 => {
                if self.advert_int.subsec_nanos() != 0
                    || !(1..=255).contains(&self.advert_int.as_secs())
                {
                    return Err(ConfigError::AdvertInt(name()));
                }
                if self.family() == Family::V6 && self.auth != Auth::None {
                    return Err(ConfigError::Auth(name()));
                }
            }
            Version::V3 => {
                let ms = self.advert_int.as_millis();
                if !self.advert_int.subsec_nanos().is_multiple_of(10_000_000)
                    || ms < 10
                    || ms > u128::from(MAX_V3_INTERVAL_CS) * 10
                {
                    return Err(ConfigError::AdvertInt(name()));
                }
                if self.auth != Auth::None {
                    return Err(ConfigError::Auth(name()));
                }
            }
        }
        if !(1..=100).contains(&self.down_timer_adverts) {
            return Err(ConfigError::DownTimerAdverts(name()));
        }
        if self.preempt_delay > Duration::from_secs(1000) {
            return Err(ConfigError::PreemptDelay(name()));
        }
        if self.vips.len() > 255 || self.vips.iter().any(|v| Family::of(v) != self.family()) {
            return Err(ConfigError::Vips(name()));
        }
        if self
            .unicast_peers
            .iter()
            .any(|v| Family::of(v) != self.family())
        {
            return Err(ConfigError::Vips(name()));
        }
        for t in &self.tracks {
            if t.id.0 >= n_tracks {
                return Err(ConfigError::UnknownTrack(name()));
            }
            if !(-253..=253).contains(&t.weight) {
                return Err(ConfigError::Weight(name()));
            }
        }
        Ok(())
    }
}

/// One `vrrp_sync_group`: its members change state together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupConfig {
    /// Group name.
    pub name: String,
    /// Member instance names.
    pub members: Vec<String>,
}

/// Everything the engine runs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VrrpConfig {
    /// Instances.
    pub instances: Vec<InstanceConfig>,
    /// Sync groups.
    pub groups: Vec<GroupConfig>,
    /// Tracked objects.
    pub tracks: Vec<TrackConfig>,
}

/// Configuration errors.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConfigError {
    /// VRID 0.
    #[error("({0}) the virtual router id must be 1..255")]
    Vrid(String),
    /// Priority 0.
    #[error("({0}) priority must be 1..255")]
    Priority(String),
    /// Interval out of range for the version.
    #[error("({0}) advert_int out of range for the VRRP version")]
    AdvertInt(String),
    /// Authentication with v3 or IPv6.
    #[error("({0}) authentication is only available with VRRPv2 over IPv4")]
    Auth(String),
    /// down_timer_adverts out of range.
    #[error("({0}) down_timer_adverts must be 1..100")]
    DownTimerAdverts(String),
    /// preempt_delay out of range.
    #[error("({0}) preempt_delay must be 0..1000 s")]
    PreemptDelay(String),
    /// VIPs of mixed families or too many.
    #[error("({0}) virtual addresses must be of the instance's family (at most 255)")]
    Vips(String),
    /// Reference to a track that does not exist.
    #[error("({0}) unknown tracked object")]
    UnknownTrack(String),
    /// Weight out of range.
    #[error("({0}) weight must be -253..253")]
    Weight(String),
    /// Two instances with the same (interface, family, VRID).
    #[error("({0}) duplicate VRID on the interface")]
    DuplicateVrid(String),
    /// Two instances with the same name.
    #[error("duplicate instance name {0}")]
    DuplicateName(String),
    /// Sync group naming an unknown instance, or an instance in two groups.
    #[error("sync group {0}: unknown instance or instance already in a group")]
    Group(String),
}
