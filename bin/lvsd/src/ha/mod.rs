//! High availability: the connection sync daemons ([`sync`]) and the VRRP
//! driver ([`vrrp`]). Both run on their own threads next to the control
//! socket and the data plane, and work on the one shared
//! [`lvs_control::Control`] under its lock. See `docs/ha.md`.

pub mod sync;
pub mod vrrp;

use std::net::{IpAddr, Ipv4Addr};

/// Index and first IPv4 address of interface `name` in this namespace.
pub fn interface_v4(name: &str) -> Option<(u32, Option<Ipv4Addr>)> {
    let mut rtnl = lvs_sys::rtnl::Rtnl::open().ok()?;
    let link = rtnl.links().ok()?.into_iter().find(|l| l.name == name)?;
    let addr = rtnl
        .addresses()
        .ok()?
        .into_iter()
        .filter(|a| a.index == link.index)
        .find_map(|a| match a.addr {
            IpAddr::V4(v4) => Some(v4),
            IpAddr::V6(_) => None,
        });
    Some((link.index, addr))
}

/// The MAC address of interface `index`.
pub fn interface_mac(index: u32) -> Option<[u8; 6]> {
    let mut rtnl = lvs_sys::rtnl::Rtnl::open().ok()?;
    let link = rtnl.links().ok()?.into_iter().find(|l| l.index == index)?;
    link.mac.get(..6)?.try_into().ok()
}

/// The running HA threads. The VRRP driver lives in [`RELOAD`], where a
/// reload finds it (or starts one).
#[derive(Debug)]
pub struct Ha {
    sync: Option<sync::SyncDaemons>,
}

impl Ha {
    /// Stops VRRP first (its masters hand over), then the sync daemons.
    pub fn stop(self) {
        let driver = reload_target().take().and_then(|t| t.vrrp);
        if let Some(v) = driver {
            v.stop();
        }
        if let Some(s) = self.sync {
            s.stop();
        }
    }
}

/// What a reload of the keepalived.conf reaches (set by [`start`] on a
/// director that serves; a control-plane-only lvsd has none).
#[derive(Debug)]
struct ReloadTarget {
    shared: std::sync::Arc<crate::server::Shared>,
    status: std::path::PathBuf,
    /// The `lvs_sync_daemon` of the running configuration.
    sync: Option<lvs_config::LvsSyncDaemon>,
    vrrp: Option<vrrp::VrrpDriver>,
}

static RELOAD: std::sync::Mutex<Option<ReloadTarget>> = std::sync::Mutex::new(None);

fn reload_target() -> std::sync::MutexGuard<'static, Option<ReloadTarget>> {
    RELOAD
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Reload hook (SIGHUP / `lvsadm reload`, called by the reload path with
/// the newly parsed keepalived.conf once it applied the virtual servers):
/// the VRRP instances and the sync daemons move to `cfg` as keepalived's
/// do (see `vrrp::reload`). With a running VRRP driver it gets the whole
/// configuration (instances and `lvs_sync_daemon`); without one, a
/// changed `lvs_sync_daemon` restarts the daemons here, and instances that
/// appeared start a driver. Returns at once: the driver applies it
/// between two socket polls.
pub fn reload(cfg: &lvs_config::Config) {
    let mut guard = reload_target();
    let Some(t) = guard.as_mut() else {
        return;
    };
    if let Some(v) = &t.vrrp {
        v.reload(cfg.clone());
        return;
    }
    let new = cfg.global.lvs_sync_daemon.clone();
    if new != t.sync {
        let mut control = t.shared.lock();
        let now = t.shared.now();
        for st in [
            lvs_proto::DaemonState::Master,
            lvs_proto::DaemonState::Backup,
        ] {
            let _ = control.handle(now, lvs_proto::Request::StopDaemon(st));
        }
        drop(control);
        tracing::info!("reload: lvs_sync_daemon changed, sync daemons restarted");
        if let Some(sd) = new.as_ref().filter(|s| s.instance.is_none()) {
            start_both(&t.shared, sd);
        }
    }
    t.sync = new;
    t.vrrp = vrrp::start(cfg, t.shared.clone(), t.status.clone());
}

/// Starts both sync daemons of an `lvs_sync_daemon` without an instance.
pub(crate) fn start_both(shared: &crate::server::Shared, sd: &lvs_config::LvsSyncDaemon) {
    let mut control = shared.lock();
    let now = shared.now();
    for state in [
        lvs_proto::DaemonState::Master,
        lvs_proto::DaemonState::Backup,
    ] {
        let req = lvs_proto::Request::StartDaemon(daemon_config(sd, state, None));
        let resp = control.handle(now, req);
        tracing::info!("lvs_sync_daemon {state:?} on {}: {resp:?}", sd.interface);
    }
}

/// The sync daemon `lvs_sync_daemon` asks for in role `state`; its sync id
/// defaults to the VRID of its instance (0 without one), as keepalived's.
pub fn daemon_config(
    sd: &lvs_config::LvsSyncDaemon,
    state: lvs_proto::DaemonState,
    vrid: Option<u8>,
) -> lvs_proto::DaemonConfig {
    lvs_proto::DaemonConfig {
        state,
        mcast_ifn: sd.interface.clone(),
        syncid: sd.sync_id.or(vrid).unwrap_or(0),
        sync_maxlen: sd.maxlen,
        mcast_group: sd.group,
        mcast_port: sd.port,
        mcast_ttl: sd.ttl,
    }
}

/// Starts the sync thread, and, when `--config` is a keepalived.conf with
/// `vrrp_instance` blocks, the VRRP driver. A keepalived.conf's
/// `lvs_sync_daemon` without an instance starts both sync daemons now;
/// with one, the VRRP driver starts and stops them on that instance's
/// transitions.
///
/// Only a director that forwards (`serving`: it runs a data plane, see
/// the `dataplane` module's rule) takes part in HA: a control-plane-only
/// lvsd (no `--interfaces` outside a named namespace, e.g. on a host)
/// neither runs VRRP (it would claim addresses on the host's interfaces)
/// nor opens sync sockets; daemons started with `ipvsadm --start-daemon`
/// are then only recorded, as before, and it says so.
pub fn start(
    opts: &crate::args::Options,
    shared: &std::sync::Arc<crate::server::Shared>,
    serving: bool,
) -> Ha {
    let config = opts
        .config
        .as_ref()
        .and_then(|p| lvs_config::check_file(p).config);
    if !serving {
        if config
            .as_ref()
            .is_some_and(|c| !c.vrrp_instances.is_empty() || c.global.lvs_sync_daemon.is_some())
        {
            tracing::info!("control plane only: VRRP instances and sync daemons are not run");
        }
        return Ha { sync: None };
    }
    let socket = opts.socket.clone().unwrap_or_else(lvs_proto::socket_path);
    let mut status = socket.into_os_string();
    status.push(".vrrp");
    let status: std::path::PathBuf = status.into();
    let mut vrrp = None;
    if let Some(cfg) = &config {
        if let Some(sd) = cfg
            .global
            .lvs_sync_daemon
            .as_ref()
            .filter(|s| s.instance.is_none())
        {
            start_both(shared, sd);
        }
        vrrp = vrrp::start(cfg, shared.clone(), status.clone());
    }
    if opts.config.is_some() {
        *reload_target() = Some(ReloadTarget {
            shared: shared.clone(),
            status,
            sync: config
                .as_ref()
                .and_then(|c| c.global.lvs_sync_daemon.clone()),
            vrrp,
        });
    }
    let sync = match sync::start(shared.clone()) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::error!("cannot start the sync thread: {e}");
            None
        }
    };
    Ha { sync }
}
