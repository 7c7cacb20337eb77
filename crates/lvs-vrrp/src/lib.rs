//! `lvs-vrrp`: VRRP versions 2 and 3 for IPv4 and IPv6, pure core.
//!
//! Contract: no sockets, no clock, no scripts. Time enters as a
//! [`std::time::Duration`] since an epoch chosen by the caller (the daemon
//! uses a monotonic clock); received packets enter as byte slices with
//! their IP source, destination and TTL; everything the router must do
//! leaves as [`engine::Action`]s, and [`engine::Vrrp::next_deadline`] says
//! when to call again. The socket driver (raw IP protocol 112, multicast
//! 224.0.0.18 / ff02::12 or unicast peers, TTL 255, netlink for VIPs,
//! gratuitous ARP and unsolicited NA, notify scripts) lives in the daemon.
//!
//! Behaviour mirrored: RFC 3768 (VRRPv2), RFC 5798 (VRRPv3) as keepalived
//! 2.x implements them (`keepalived/vrrp/vrrp.c`, `vrrp_scheduler.c`,
//! `vrrp_sync.c`, `vrrp_track.c`), specified in `docs/lvs-reference.md`
//! §4.6, and checked against real keepalived 2.2.7 adverts
//! (`testdata/vrrp/`):
//! - [`packet`]: the advert codec (v2 with authentication type 0/1, AH
//!   recognised and refused; v3 with the pseudo-header checksum);
//! - [`engine`]: INIT/BACKUP/MASTER/FAULT per instance, preemption,
//!   `nopreempt`, `preempt_delay`, owner and priority-0 rules, tracking,
//!   sync groups, gratuitous ARP scheduling, advert validation;
//! - [`config`]: instance, group and track configuration with keepalived's
//!   defaults;
//! - [`track`]: tracked-object weights and script rise/fall.

pub mod config;
pub mod engine;
pub mod packet;
pub mod track;

pub use config::{
    GarpConfig, GroupConfig, InitialState, InstanceConfig, TrackConfig, TrackId, TrackKind,
    TrackRef, VrrpConfig,
};
pub use engine::{Action, GroupId, InstanceId, RxError, State, Vrrp};
pub use packet::{Auth, Family, Version};
pub use track::{ScriptTracker, TrackStatus};
