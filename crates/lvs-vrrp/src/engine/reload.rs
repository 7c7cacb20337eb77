//! Reload (keepalived's SIGHUP): the router moves to a new configuration
//! without disturbing the instances that are still there.
//!
//! Rules (keepalived 2.x `vrrp_daemon.c` reload, `vrrp.c`
//! `clear_diff_vrrp` / `restore_vrrp_state`, worked from their behaviour):
//! - An instance of the new configuration is the **same** instance as an
//!   old one when name, interface, family and VRID agree
//!   ([`Vrrp::reload_source`]); anything else is a removal plus an
//!   addition.
//! - A kept instance keeps its state (MASTER stays MASTER, BACKUP stays
//!   BACKUP: no transition, no notify, no election), its timers, the master
//!   it last heard, whether its VIPs are set, and its counters. Its new
//!   settings apply in place: the effective priority is recomputed from the
//!   new base priority and the tracked objects; a VRRPv2 instance and a
//!   master take the new `advert_int`, a VRRPv3 backup keeps the interval it
//!   adopted from its master; the down timer is recomputed. A **master**
//!   whose advertised content changed (priority, interval or address list)
//!   sends an advert at once, so that the backups learn it without waiting
//!   for the advert timer. The VIP set difference of a master is the
//!   driver's (it alone knows devices and labels): the engine keeps
//!   `vipset`. (The lab's keepalived 2.2.7, `testdata/vrrp/keepalived-reload.txt`:
//!   a MASTER reloaded with priority 100 → 150 and one more VIP stays
//!   MASTER and advertises 150 with both addresses 0.2 s after SIGHUP.)
//! - A removed instance is released first ([`Vrrp::release_removed`]): a
//!   master sends a priority-0 advert (its backups take over after
//!   Skew_Time) and removes its VIPs; all get a stop notification.
//! - A new instance starts as at daemon start (INIT → BACKUP, FAULT, or an
//!   owner at once MASTER).
//! - Sync groups are rebuilt; a group with a kept member keeps that
//!   member's state, one without starts as at daemon start.
//!
//! Tracked objects: the caller gives their current status as each
//! [`crate::TrackConfig::initial`] of the new configuration, so that a
//! reload does not make a running script "unknown" again.

use std::time::Duration;

use super::{Action, InstanceId, State, Vrrp};
use crate::config::{ConfigError, InstanceConfig, VrrpConfig};

/// Same router instance across a reload.
fn same(a: &InstanceConfig, b: &InstanceConfig) -> bool {
    a.name == b.name && a.iface == b.iface && a.vrid == b.vrid && a.family() == b.family()
}

impl Vrrp {
    /// The running instance that `new` continues across a reload, if any.
    pub fn reload_source(&self, new: &InstanceConfig) -> Option<InstanceId> {
        self.insts
            .iter()
            .position(|i| same(&i.cfg, new))
            .map(InstanceId)
    }

    /// First step of a reload: release the running instances that `cfg`
    /// no longer has (a master sends a priority-0 advert and removes its
    /// VIPs; each is stopped). The actions name the *running* instances.
    pub fn release_removed(&mut self, _now: Duration, cfg: &VrrpConfig) -> &[Action] {
        self.out.clear();
        for i in 0..self.insts.len() {
            if cfg.instances.iter().any(|n| same(&self.insts[i].cfg, n)) {
                continue;
            }
            if self.insts[i].state == State::Master {
                self.restore_interface(i, true);
            }
            let inst = &mut self.insts[i];
            inst.state = State::Init;
            inst.sands = None;
            self.emit(Action::NotifyStop {
                instance: InstanceId(i),
            });
        }
        &self.out
    }

    /// Second step of a reload: the engine runs `cfg` from now on, with the
    /// state of the kept instances carried over (module docs). The actions
    /// name instances of `cfg`. On an invalid `cfg` nothing changes.
    pub fn reload(&mut self, now: Duration, cfg: VrrpConfig) -> Result<&[Action], ConfigError> {
        let mut next = Vrrp::new(cfg)?;
        next.started = self.started;
        let sources: Vec<Option<usize>> = next
            .insts
            .iter()
            .map(|n| self.reload_source(&n.cfg).map(|id| id.0))
            .collect();
        for (j, src) in sources.iter().enumerate() {
            let Some(o) = src.map(|o| &self.insts[o]) else {
                continue;
            };
            let (faults, _) = next.recompute_tracking(j);
            let n = &mut next.insts[j];
            let was_eff = o.eff;
            n.state = o.state;
            n.want = o.want;
            n.master_adver_int =
                if o.state == State::Master || n.cfg.version == crate::packet::Version::V2 {
                    n.cfg.advert_int
                } else {
                    o.master_adver_int
                };
            n.preempt_time = o.preempt_time;
            n.master_addr = o.master_addr;
            n.master_priority = o.master_priority;
            n.num_fault = faults;
            n.vipset = o.vipset;
            n.garp_delayed = o.garp_delayed;
            n.garp_lower_delayed = o.garp_lower_delayed;
            n.garp_refresh_at = if n.cfg.garp.master_refresh.is_some() {
                o.garp_refresh_at
            } else {
                None
            };
            n.stats = o.stats;
            n.ms_down_timer = n.full_down();
            n.sands = o.sands;
            let advertised_changed = n.eff != was_eff
                || n.cfg.advert_int != o.cfg.advert_int
                || n.cfg.vips != o.cfg.vips
                || n.cfg.version != o.cfg.version;
            if n.eff != was_eff {
                let priority = n.eff;
                next.emit(Action::PriorityChanged {
                    instance: InstanceId(j),
                    priority,
                });
            }
            if next.insts[j].state == State::Master && advertised_changed {
                let priority = next.insts[j].eff;
                next.send_advert(j, priority);
                let n = &mut next.insts[j];
                n.sands = Some(now + n.cfg.advert_int);
            }
        }
        let started = next.started;
        for g in 0..next.groups.len() {
            let members = next.groups[g].members.clone();
            let nf = members
                .iter()
                .filter(|&&m| next.insts[m].num_fault > 0)
                .count() as u32;
            next.groups[g].num_member_fault = nf;
            let kept = members.iter().find(|&&m| sources[m].is_some());
            next.groups[g].state = match kept {
                Some(&m) => next.insts[m].state,
                None if !started => State::Init,
                None if nf > 0 => State::Fault,
                None => State::Backup,
            };
        }
        if started {
            for (i, src) in sources.iter().enumerate() {
                if src.is_none() {
                    let (faults, _) = next.recompute_tracking(i);
                    next.insts[i].num_fault = faults;
                    next.init_instance(i, now);
                }
            }
        }
        *self = next;
        Ok(&self.out)
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use super::*;
    use crate::config::{GarpConfig, GroupConfig};
    use crate::packet::{self, Advert, IpInfo, Version};

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn inst(name: &str, vrid: u8, prio: u8, vips: &[&str]) -> InstanceConfig {
        let mut c = InstanceConfig::new(
            name,
            1,
            vrid,
            ip("10.0.0.1"),
            vips.iter().map(|v| ip(v)).collect(),
        );
        c.priority = prio;
        c.version = Version::V3;
        c.advert_int = Duration::from_millis(100);
        // No delayed gratuitous burst: keeps the action lists short.
        c.garp = GarpConfig {
            master_delay: Duration::ZERO,
            ..GarpConfig::default()
        };
        c
    }

    fn router(insts: Vec<InstanceConfig>) -> VrrpConfig {
        VrrpConfig {
            instances: insts,
            ..VrrpConfig::default()
        }
    }

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    /// Runs the timers until `t`.
    fn run_until(v: &mut Vrrp, t: Duration) -> Vec<Action> {
        let mut all = Vec::new();
        while let Some(d) = v.next_deadline().filter(|d| *d <= t) {
            all.extend_from_slice(v.handle_timeout(d));
        }
        all
    }

    /// An advert from a peer 10.0.0.2 with `prio` for `c`'s VRID and VIPs.
    fn advert_from_peer(v: &mut Vrrp, now: Duration, c: &InstanceConfig, prio: u8) -> Vec<Action> {
        let spec = packet::AdvertSpec {
            version: Version::V3,
            vrid: c.vrid,
            priority: prio,
            interval: 10,
            auth: packet::Auth::None,
            addrs: &c.vips,
        };
        let mut buf = Vec::new();
        let (src, dst) = (ip("10.0.0.2"), ip("224.0.0.18"));
        packet::encode(&spec, src, dst, &mut buf).unwrap();
        let info = IpInfo { src, dst, ttl: 255 };
        v.handle_advert(now, 1, &info, &buf).to_vec()
    }

    fn transitions(a: &[Action]) -> usize {
        a.iter()
            .filter(|a| {
                matches!(
                    a,
                    Action::Notify { .. } | Action::AddVips { .. } | Action::RemoveVips { .. }
                )
            })
            .count()
    }

    /// A router that is MASTER of VI_1 (no peer: its down timer ran out).
    fn master(c: InstanceConfig) -> Vrrp {
        let mut v = Vrrp::new(router(vec![c])).unwrap();
        v.start(Duration::ZERO);
        run_until(&mut v, ms(1000));
        assert_eq!(v.state(InstanceId(0)), State::Master);
        v
    }

    #[test]
    fn unchanged_master_keeps_state_timers_and_sends_nothing() {
        let c = inst("VI_1", 51, 150, &["10.0.0.100"]);
        let mut v = master(c.clone());
        let deadline = v.next_deadline();
        let sent = v.stats(InstanceId(0)).adverts_sent;
        assert!(
            v.release_removed(ms(1000), &router(vec![c.clone()]))
                .is_empty()
        );
        let a = v.reload(ms(1000), router(vec![c])).unwrap().to_vec();
        assert!(a.is_empty(), "{a:?}");
        assert_eq!(v.state(InstanceId(0)), State::Master);
        assert!(v.vips_set(InstanceId(0)));
        assert_eq!(v.next_deadline(), deadline);
        assert_eq!(v.stats(InstanceId(0)).adverts_sent, sent);
        // It goes on advertising at its interval, and nothing else.
        let later = run_until(&mut v, ms(1350));
        assert_eq!(transitions(&later), 0, "{later:?}");
        assert!(later.iter().any(|a| matches!(a, Action::SendAdvert { .. })));
    }

    #[test]
    fn master_adds_a_vip_in_place_and_advertises_it_at_once() {
        let c = inst("VI_1", 51, 150, &["10.0.0.100"]);
        let mut v = master(c.clone());
        let c2 = inst("VI_1", 51, 150, &["10.0.0.100", "10.0.0.101"]);
        let a = v
            .reload(ms(1000), router(vec![c2.clone()]))
            .unwrap()
            .to_vec();
        assert_eq!(
            a,
            vec![Action::SendAdvert {
                instance: InstanceId(0),
                priority: 150
            }]
        );
        assert_eq!(v.state(InstanceId(0)), State::Master);
        assert!(v.vips_set(InstanceId(0)));
        assert_eq!(v.config(InstanceId(0)).vips, c2.vips);
        // The advert built now carries both addresses.
        let mut buf = Vec::new();
        v.build_advert(InstanceId(0), 150, ip("224.0.0.18"), &mut buf)
            .unwrap();
        let info = IpInfo {
            src: ip("10.0.0.1"),
            dst: ip("224.0.0.18"),
            ttl: 255,
        };
        let adv: Advert = packet::parse(&info, &buf).unwrap();
        assert_eq!(adv.addrs.len(), 2);
    }

    #[test]
    fn priority_change_is_advertised_at_once_and_a_backup_can_preempt() {
        // Backup at 100 hearing a master at 120: after a reload to 130 it
        // discards the master's lower adverts and preempts when its down
        // timer runs out; no transition at the reload itself.
        let c = inst("VI_1", 51, 100, &["10.0.0.100"]);
        let mut v = Vrrp::new(router(vec![c.clone()])).unwrap();
        v.start(Duration::ZERO);
        let mut t = ms(0);
        for _ in 0..5 {
            t += ms(100);
            advert_from_peer(&mut v, t, &c, 120);
        }
        assert_eq!(v.state(InstanceId(0)), State::Backup);
        let mut c2 = c.clone();
        c2.priority = 130;
        let a = v.reload(t, router(vec![c2.clone()])).unwrap().to_vec();
        assert_eq!(
            a,
            vec![Action::PriorityChanged {
                instance: InstanceId(0),
                priority: 130
            }]
        );
        assert_eq!(v.state(InstanceId(0)), State::Backup);
        // Down interval for 130 in v3 at 100 ms: 300 ms + 126*10*625/16 us.
        let down = ms(300) + Duration::from_micros(126 * 10 * 625 / 16);
        let mut got = Vec::new();
        for _ in 0..3 {
            t += ms(100);
            got.extend(run_until(&mut v, t));
            got.extend(advert_from_peer(&mut v, t, &c2, 120));
        }
        got.extend(run_until(&mut v, t + down));
        assert_eq!(v.state(InstanceId(0)), State::Master, "{got:?}");

        // A master whose priority changes sends an advert with it at once.
        let mut c3 = c2.clone();
        c3.priority = 140;
        let a = v.reload(t + down, router(vec![c3])).unwrap().to_vec();
        assert!(
            a.contains(&Action::SendAdvert {
                instance: InstanceId(0),
                priority: 140
            }),
            "{a:?}"
        );
        assert_eq!(v.state(InstanceId(0)), State::Master);
    }

    #[test]
    fn removed_master_releases_and_new_instance_starts_in_backup() {
        let c = inst("VI_1", 51, 150, &["10.0.0.100"]);
        let mut v = master(c);
        let n = inst("VI_2", 52, 100, &["10.0.0.200"]);
        let new = router(vec![n]);
        let a = v.release_removed(ms(1000), &new).to_vec();
        assert_eq!(
            a,
            vec![
                Action::SendAdvert {
                    instance: InstanceId(0),
                    priority: 0
                },
                Action::RemoveVips {
                    instance: InstanceId(0)
                },
                Action::NotifyStop {
                    instance: InstanceId(0)
                },
            ]
        );
        let a = v.reload(ms(1000), new).unwrap().to_vec();
        assert_eq!(
            a,
            vec![Action::Notify {
                instance: InstanceId(0),
                state: State::Backup,
                priority: 100
            }]
        );
        assert_eq!(v.config(InstanceId(0)).name, "VI_2");
        assert!(!v.vips_set(InstanceId(0)));
    }

    #[test]
    fn vrid_change_is_a_new_instance() {
        let c = inst("VI_1", 51, 150, &["10.0.0.100"]);
        let mut v = master(c.clone());
        let c2 = inst("VI_1", 52, 150, &["10.0.0.100"]);
        let new = router(vec![c2.clone()]);
        assert_eq!(v.reload_source(&c2), None);
        assert_eq!(v.reload_source(&c), Some(InstanceId(0)));
        let released = v.release_removed(ms(1000), &new).to_vec();
        assert!(released.contains(&Action::RemoveVips {
            instance: InstanceId(0)
        }));
        v.reload(ms(1000), new).unwrap();
        assert_eq!(v.state(InstanceId(0)), State::Backup);
    }

    #[test]
    fn invalid_configuration_changes_nothing() {
        let c = inst("VI_1", 51, 150, &["10.0.0.100"]);
        let mut v = master(c.clone());
        let mut dup = c.clone();
        dup.name = "VI_9".into();
        assert!(v.reload(ms(1000), router(vec![c, dup])).is_err());
        assert_eq!(v.len(), 1);
        assert_eq!(v.state(InstanceId(0)), State::Master);
    }

    #[test]
    fn group_keeps_its_state_with_a_kept_member() {
        let a = inst("VI_1", 51, 150, &["10.0.0.100"]);
        let b = inst("VI_2", 52, 150, &["10.0.0.200"]);
        let mut cfg = router(vec![a.clone(), b.clone()]);
        cfg.groups = vec![GroupConfig {
            name: "G".into(),
            members: vec!["VI_1".into(), "VI_2".into()],
        }];
        let mut v = Vrrp::new(cfg.clone()).unwrap();
        v.start(Duration::ZERO);
        run_until(&mut v, ms(1000));
        assert_eq!(v.state(InstanceId(0)), State::Master);
        assert_eq!(v.group_state(crate::GroupId(0)), State::Master);
        let out = v.reload(ms(1000), cfg).unwrap().to_vec();
        assert_eq!(transitions(&out), 0);
        assert_eq!(v.group_state(crate::GroupId(0)), State::Master);
        assert_eq!(v.state(InstanceId(1)), State::Master);
    }
}
