//! The typed configuration.
//!
//! Values are as written, except where keepalived itself fills or corrects
//! them while loading (documented on each field): after a successful load
//! every virtual server has a protocol (address services), a scheduler and a
//! forwarding method, every real server a port, weight and method, and every
//! checker its resolved timing ([`CheckTiming`]).

mod check;
mod global;
mod lvs;
mod vrrp;

pub use check::*;
pub use global::*;
pub use lvs::*;
pub use vrrp::*;

use crate::diag::Location;

/// A whole keepalived configuration.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Config {
    /// `global_defs`.
    pub global: GlobalDefs,
    /// Top-level `SSL { ... }` (context for SSL_GET).
    pub ssl: Option<SslConfig>,
    /// `virtual_server_group` blocks, in file order.
    pub virtual_server_groups: Vec<VirtualServerGroup>,
    /// `virtual_server` blocks, in file order.
    pub virtual_servers: Vec<VirtualServer>,
    /// `vrrp_script` blocks.
    pub vrrp_scripts: Vec<VrrpScript>,
    /// `vrrp_sync_group` blocks.
    pub vrrp_sync_groups: Vec<VrrpSyncGroup>,
    /// `vrrp_instance` blocks.
    pub vrrp_instances: Vec<VrrpInstance>,
}

impl Config {
    /// The virtual server group called `name`.
    pub fn group(&self, name: &str) -> Option<&VirtualServerGroup> {
        self.virtual_server_groups.iter().find(|g| g.name == name)
    }

    /// The vrrp instance called `name`.
    pub fn vrrp_instance(&self, name: &str) -> Option<&VrrpInstance> {
        self.vrrp_instances.iter().find(|i| i.name == name)
    }

    /// The vrrp script called `name`.
    pub fn vrrp_script(&self, name: &str) -> Option<&VrrpScript> {
        self.vrrp_scripts.iter().find(|s| s.name == name)
    }
}

/// `SSL { password ca certificate key }`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SslConfig {
    /// Where the block is.
    pub location: Option<Location>,
    /// Private key password.
    pub password: Option<String>,
    /// CA file.
    pub ca: Option<String>,
    /// Certificate file.
    pub certificate: Option<String>,
    /// Key file.
    pub key: Option<String>,
}

/// A command to run: notify scripts, `misc_path`, `vrrp_script`'s `script`,
/// `quorum_up`/`quorum_down`.
///
/// keepalived splits the command string again with shell-like rules (single
/// and double quotes, backslash escapes everywhere): `"/bin/check.sh 'a b'
/// c"` runs `/bin/check.sh` with arguments `a b` and `c`. It never goes
/// through a shell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    /// Program and arguments (never empty).
    pub argv: Vec<String>,
    /// `username [:][groupname]` written after the command, if any.
    pub user: Option<ScriptUser>,
    /// The command string as written (after quote removal).
    pub command: String,
}

/// `username [:][groupname]`: who runs a script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptUser {
    /// User name.
    pub user: String,
    /// Group name (None: the user's primary group).
    pub group: Option<String>,
    /// `:` given: also set the user's supplementary groups.
    pub supplementary_groups: bool,
}
