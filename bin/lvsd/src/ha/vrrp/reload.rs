//! Reload of the VRRP driver (SIGHUP / `lvsadm reload`, handed over by
//! `ha::reload`), as keepalived reloads its VRRP process:
//!
//! 1. The new `vrrp_instance` blocks are built as at start; an invalid set
//!    (duplicate VRID, ...) is refused and the running one stays.
//! 2. Instances that are gone are released (`Vrrp::release_removed`: a
//!    master sends a priority-0 advert and removes its VIPs).
//! 3. The engine moves to the new configuration (`Vrrp::reload`): kept
//!    instances (same name, interface, family, VRID) keep their state,
//!    timers and VIPs — no transition, no notify; a master whose priority,
//!    interval or address list changed advertises at once.
//! 4. A kept instance that holds its VIPs gets the set difference only:
//!    addresses that left are deleted, new ones added with rtnetlink and
//!    announced (`garp_master_repeat` gratuitous ARPs / NAs each; keepalived
//!    announces all the instance's addresses then, lvs-rs only the new
//!    ones). Unchanged addresses are not touched.
//! 5. Tracked interfaces and scripts that are still referenced keep their
//!    status and their script state (a running script is not restarted
//!    "unknown"; keepalived marks a good script "good" on reload).
//! 6. Sockets follow the interfaces in use; the crash guard and the status
//!    file are rewritten.
//! 7. A changed `lvs_sync_daemon` restarts the sync daemons: both stop, and
//!    the new ones start (both without an instance, else the one the
//!    instance's state asks for). An unchanged one is left running.
//!
//! Not reloaded: `vrrp_mcast_group4` (the sockets stay joined to the group
//! of the start).

use lvs_config::Config;
use lvs_proto::{DaemonState, Request};
use lvs_vrrp::{InstanceId, TrackKind, Vrrp};

use super::{Driver, Vip, Watch, build, garp_vips, groups_of, vip_op};

/// The VIPs of `old` that `new` no longer has, and those `new` adds.
pub(super) fn vip_diff(old: &[Vip], new: &[Vip]) -> (Vec<Vip>, Vec<Vip>) {
    let removed = old.iter().filter(|v| !new.contains(v)).cloned().collect();
    let added = new.iter().filter(|v| !old.contains(v)).cloned().collect();
    (removed, added)
}

/// Key of a tracked object across a reload.
fn watch_key(w: &Watch) -> (TrackKind, String) {
    match w {
        Watch::Link(n) => (TrackKind::Interface, n.clone()),
        Watch::Script(run) => (TrackKind::Script, run.script.command.clone()),
    }
}

impl Driver {
    /// Applies a reloaded configuration (module docs).
    pub(super) fn reload(&mut self, cfg: &Config) {
        let (mut vc, insts, mut watches) = build(cfg);
        // Tracked objects still referenced keep their status and state.
        for (i, w) in watches.iter_mut().enumerate() {
            let key = watch_key(w);
            let Some(old) = self.watches.iter().position(|o| watch_key(o) == key) else {
                continue;
            };
            if let Some(t) = vc.tracks.get_mut(i) {
                t.initial = self.engine.track_status(lvs_vrrp::TrackId(old));
            }
            if let (Watch::Script(new), Watch::Script(run)) = (w, &mut self.watches[old]) {
                new.tracker = run.tracker;
                new.next = run.next;
                new.running = run.running.take();
            }
        }
        if let Err(e) = Vrrp::new(vc.clone()) {
            tracing::error!("vrrp: reload refused, instances unchanged: {e}");
            return;
        }
        let now = self.now();
        let released = self.engine.release_removed(now, &vc).to_vec();
        self.apply(&released);
        // Old VIP lists of the kept instances, by new index.
        let sources: Vec<Option<usize>> = vc
            .instances
            .iter()
            .map(|c| self.engine.reload_source(c).map(|id| id.0))
            .collect();
        let old_vips: Vec<Option<Vec<Vip>>> = sources
            .iter()
            .map(|s| s.and_then(|o| self.insts.get(o)).map(|i| i.vips.clone()))
            .collect();
        let groups = groups_of(cfg, &vc);
        let actions = match self.engine.reload(now, vc) {
            Ok(a) => a.to_vec(),
            Err(e) => {
                tracing::error!("vrrp: reload: {e}");
                return;
            }
        };
        let kept = sources.iter().filter(|s| s.is_some()).count();
        tracing::info!(
            "vrrp: reload: {kept} instance(s) kept, {} new, {} removed",
            insts.len() - kept,
            self.insts.len().saturating_sub(kept)
        );
        self.insts = insts;
        self.groups = groups;
        self.watches = watches;
        self.holding = (0..self.insts.len())
            .map(|i| self.engine.vips_set(InstanceId(i)))
            .collect();
        self.open_sockets();
        for (j, old) in old_vips.iter().enumerate() {
            let (Some(old), Some(inst)) = (old, self.insts.get(j)) else {
                continue;
            };
            if !self.engine.vips_set(InstanceId(j)) {
                continue;
            }
            let (removed, added) = vip_diff(old, &inst.vips);
            for (list, add) in [(&removed, false), (&added, true)] {
                for v in list {
                    if let Err(e) = vip_op(v, add)
                        && !matches!(e, lvs_sys::SysError::Netlink(-17 | -99))
                    {
                        tracing::warn!("vrrp: {}: reload: {}/{}: {e}", inst.name, v.addr, v.prefix);
                    }
                }
            }
            if !removed.is_empty() || !added.is_empty() {
                tracing::info!(
                    "vrrp: {}: reload: {} VIP(s) added, {} removed, {} kept",
                    inst.name,
                    added.len(),
                    removed.len(),
                    inst.vips.len() - added.len()
                );
            }
            if !added.is_empty() {
                let repeat = self.engine.config(InstanceId(j)).garp.master_repeat;
                garp_vips(&inst.name, &added, repeat);
            }
        }
        self.apply(&actions);
        self.reload_sync(cfg);
        self.update_guard();
        self.write_status();
    }

    /// Step 7 of the module docs.
    fn reload_sync(&mut self, cfg: &Config) {
        let new = cfg.global.lvs_sync_daemon.clone();
        if new == self.sync_cfg {
            return;
        }
        self.sync_cfg = new.clone();
        self.sync = new.clone().filter(|s| s.instance.is_some());
        {
            let mut control = self.shared.lock();
            let now = self.shared.now();
            for st in [DaemonState::Master, DaemonState::Backup] {
                let _ = control.handle(now, Request::StopDaemon(st));
            }
        }
        tracing::info!("vrrp: reload: lvs_sync_daemon changed, sync daemons restarted");
        match new {
            Some(sd) if sd.instance.is_none() => super::super::start_both(&self.shared, &sd),
            Some(sd) => {
                let Some(name) = sd.instance.clone() else {
                    return;
                };
                let Some(i) = self.insts.iter().position(|i| i.name == name) else {
                    tracing::warn!("vrrp: lvs_sync_daemon: no instance {name}");
                    return;
                };
                let state = self.engine.state(InstanceId(i));
                // follow_sync starts the daemon this state asks for.
                self.follow_sync(&name, state);
            }
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vip(a: &str, prefix: u8, label: Option<&str>) -> Vip {
        Vip {
            addr: a.parse().unwrap(),
            prefix,
            dev: "e0".into(),
            label: label.map(str::to_owned),
        }
    }

    #[test]
    fn diff_touches_only_what_changed() {
        let old = vec![vip("10.0.0.100", 32, None), vip("10.0.0.101", 32, None)];
        let new = vec![
            vip("10.0.0.100", 32, None),
            vip("10.0.0.102", 32, None),
            // Same address, other prefix: removed and added again.
            vip("10.0.0.101", 24, None),
        ];
        let (removed, added) = vip_diff(&old, &new);
        assert_eq!(removed, vec![vip("10.0.0.101", 32, None)]);
        assert_eq!(
            added,
            vec![vip("10.0.0.102", 32, None), vip("10.0.0.101", 24, None)]
        );
        assert_eq!(vip_diff(&new, &new), (vec![], vec![]));
        // A label change is a change of the address.
        let (r, a) = vip_diff(&old[..1], &[vip("10.0.0.100", 32, Some("e0:1"))]);
        assert_eq!((r.len(), a.len()), (1, 1));
    }

    #[test]
    fn tracked_objects_are_keyed_by_kind_and_name() {
        let a = Watch::Link("e0".into());
        let b = Watch::Link("e1".into());
        assert_eq!(watch_key(&a), (TrackKind::Interface, "e0".to_owned()));
        assert_ne!(watch_key(&a), watch_key(&b));
    }
}
