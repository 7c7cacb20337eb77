//! Real servers ("destinations"): forwarding method, weight, thresholds and
//! the connection counters with the kernel's OVERLOAD hysteresis.
//!
//! Mirrors `struct ip_vs_dest`, `__ip_vs_update_dest` (`ip_vs_ctl.c`) and
//! `ip_vs_bind_dest` / `ip_vs_unbind_dest` (`ip_vs_conn.c`):
//! - binding a connection counts it as active, inactive or persistent
//!   (template) and sets OVERLOAD once `u_threshold != 0` and
//!   `active + inactive >= u_threshold`;
//! - unbinding clears OVERLOAD when `active + inactive < l_threshold` (if
//!   set), else when `(active + inactive) * 4 < u_threshold * 3` (if only the
//!   upper threshold is set), else unconditionally;
//! - an edit clears OVERLOAD when the new upper threshold is 0 or larger than
//!   the old one.

use std::net::IpAddr;

use crate::addr::Af;
use crate::service::ServiceId;
use crate::stats::Stats;

/// Tunnel encapsulation (`IP_VS_CONN_F_TUNNEL_TYPE_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TunnelType {
    /// IP-in-IP (4in4, 6in6, or mixed family). The default.
    #[default]
    Ipip,
    /// Generic UDP Encapsulation; needs a port.
    Gue,
    /// GRE.
    Gre,
}

/// Tunnel checksum option (`IP_VS_TUNNEL_ENCAP_FLAG_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TunnelCsum {
    /// `--tun-nocsum` (the default).
    #[default]
    NoCsum,
    /// `--tun-csum`.
    Csum,
    /// `--tun-remcsum` (GUE only).
    RemCsum,
}

/// Tunnel parameters of a `-i` destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TunnelConfig {
    /// Encapsulation.
    pub kind: TunnelType,
    /// Destination UDP port for GUE (`--tun-port`), 0 otherwise.
    pub port: u16,
    /// Checksum option.
    pub csum: TunnelCsum,
}

/// Forwarding method (`IP_VS_CONN_F_FWD_MASK`), plus our FULLNAT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FwdMethod {
    /// NAT (`-m`, MASQ = 0).
    Masq,
    /// Local delivery (LOCALNODE = 1), chosen when the dest is local.
    Local,
    /// Tunnel (`-i`, TUNNEL = 2).
    Tunnel(TunnelConfig),
    /// Direct routing (`-g`, DROUTE = 3), the default.
    Route,
    /// Full NAT (our extension, after DPVS): source rewritten to a local
    /// address of the director.
    FullNat,
}

impl FwdMethod {
    /// Whether the director sees replies (NAT and FULLNAT). Other methods
    /// give connections the `NOOUTPUT` flag and the INPUT_ONLY state table.
    pub fn sees_replies(&self) -> bool {
        matches!(self, FwdMethod::Masq | FwdMethod::FullNat)
    }

    /// Kernel flag value (FULLNAT has none in the kernel; we use 5).
    pub fn kernel_value(&self) -> u32 {
        match self {
            FwdMethod::Masq => 0,
            FwdMethod::Local => 1,
            FwdMethod::Tunnel(_) => 2,
            FwdMethod::Route => 3,
            FwdMethod::FullNat => 5,
        }
    }
}

/// Highest weight the kernel accepts (`INT_MAX`).
pub const MAX_WEIGHT: i32 = i32::MAX;

/// What the user configures for a destination (`ipvsadm -a/-e`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DestConfig {
    /// Real server address (may differ in family from the service only for
    /// tunnels).
    pub addr: IpAddr,
    /// Real server port.
    pub port: u16,
    /// Forwarding method.
    pub fwd: FwdMethod,
    /// Weight (0 = quiescent).
    pub weight: i32,
    /// Upper connection threshold (`-x`), 0 = none.
    pub u_threshold: u32,
    /// Lower connection threshold (`-y`), 0 = none.
    pub l_threshold: u32,
}

impl DestConfig {
    /// A DR destination with weight 1 and no thresholds (ipvsadm defaults).
    pub fn new(addr: IpAddr, port: u16) -> DestConfig {
        DestConfig {
            addr,
            port,
            fwd: FwdMethod::Route,
            weight: 1,
            u_threshold: 0,
            l_threshold: 0,
        }
    }

    /// Builder: weight.
    pub fn with_weight(mut self, w: i32) -> Self {
        self.weight = w;
        self
    }

    /// Builder: forwarding method.
    pub fn with_fwd(mut self, fwd: FwdMethod) -> Self {
        self.fwd = fwd;
        self
    }

    /// Builder: thresholds (`-x`, `-y`).
    pub fn with_thresholds(mut self, upper: u32, lower: u32) -> Self {
        self.u_threshold = upper;
        self.l_threshold = lower;
        self
    }
}

/// Stable handle of a destination inside an [`crate::Ipvs`]. Connections
/// refer to destinations by this handle; it survives removal to the trash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DestId(pub u32);

/// How a connection is counted on its destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnCount {
    /// Counted in `activeconns`.
    Active,
    /// Counted in `inactconns`.
    Inactive,
    /// A persistence template, counted in `persistconns`.
    Template,
}

/// A destination with its runtime state.
#[derive(Debug, Clone)]
pub struct Dest {
    /// Stable handle.
    pub id: DestId,
    /// Service the destination belongs (or belonged, when in the trash) to.
    pub service: ServiceId,
    /// Configuration.
    pub config: DestConfig,
    /// Last weight set, kept for mh (see [`Dest::last_weight`]).
    pub last_weight: i32,
    /// `IP_VS_DEST_F_AVAILABLE`: linked in its service (false in the trash).
    pub available: bool,
    /// `IP_VS_DEST_F_OVERLOAD`: set by the upper threshold.
    pub overload: bool,
    /// Active connections.
    pub activeconns: u32,
    /// Inactive connections.
    pub inactconns: u32,
    /// Persistence templates bound to this dest.
    pub persistconns: u32,
    /// Counters and rates.
    pub stats: Stats,
}

impl Dest {
    /// A new, available destination.
    pub fn new(id: DestId, service: ServiceId, config: DestConfig) -> Dest {
        Dest {
            id,
            service,
            config,
            last_weight: config.weight,
            available: true,
            overload: false,
            activeconns: 0,
            inactconns: 0,
            persistconns: 0,
            stats: Stats::default(),
        }
    }

    /// Address family of the destination address.
    pub fn af(&self) -> Af {
        Af::of(&self.config.addr)
    }

    /// Current weight.
    pub fn weight(&self) -> i32 {
        self.config.weight
    }

    /// `ip_vs_dest_conn_overhead`: `(activeconns << 8) + inactconns`.
    pub fn overhead(&self) -> u64 {
        (u64::from(self.activeconns) << 8) + u64::from(self.inactconns)
    }

    /// `ip_vs_dest_totalconns`: active + inactive (templates excluded).
    pub fn totalconns(&self) -> u64 {
        u64::from(self.activeconns) + u64::from(self.inactconns)
    }

    /// Whether ordinary schedulers may pick it: not OVERLOAD, weight > 0.
    pub fn is_schedulable(&self) -> bool {
        !self.overload && self.config.weight > 0
    }

    /// `ip_vs_bind_dest`: count a new connection and apply the upper
    /// threshold.
    pub fn bind(&mut self, how: ConnCount) {
        match how {
            ConnCount::Active => self.activeconns += 1,
            ConnCount::Inactive => self.inactconns += 1,
            ConnCount::Template => self.persistconns += 1,
        }
        let u = u64::from(self.config.u_threshold);
        if u != 0 && self.totalconns() >= u {
            self.overload = true;
        }
    }

    /// `ip_vs_unbind_dest`: uncount a connection and apply the hysteresis.
    pub fn unbind(&mut self, how: ConnCount) {
        match how {
            ConnCount::Active => self.activeconns = self.activeconns.saturating_sub(1),
            ConnCount::Inactive => self.inactconns = self.inactconns.saturating_sub(1),
            ConnCount::Template => self.persistconns = self.persistconns.saturating_sub(1),
        }
        let total = self.totalconns();
        let l = u64::from(self.config.l_threshold);
        let u = u64::from(self.config.u_threshold);
        if l != 0 {
            if total < l {
                self.overload = false;
            }
        } else if u != 0 {
            if total * 4 < u * 3 {
                self.overload = false;
            }
        } else {
            self.overload = false;
        }
    }

    /// A connection moved across the active/inactive boundary.
    pub fn move_count(&mut self, from: ConnCount, to: ConnCount) {
        if from == to {
            return;
        }
        match from {
            ConnCount::Active => self.activeconns = self.activeconns.saturating_sub(1),
            ConnCount::Inactive => self.inactconns = self.inactconns.saturating_sub(1),
            ConnCount::Template => self.persistconns = self.persistconns.saturating_sub(1),
        }
        match to {
            ConnCount::Active => self.activeconns += 1,
            ConnCount::Inactive => self.inactconns += 1,
            ConnCount::Template => self.persistconns += 1,
        }
    }

    /// Apply an edit (`__ip_vs_update_dest` without the list insertion):
    /// weight, thresholds, method; OVERLOAD cleared when the new upper
    /// threshold is 0 or above the old one; `last_weight` follows the
    /// weight unless the new weight is 0 (mh keeps a quiesced server's
    /// slots).
    pub fn apply_edit(&mut self, new: DestConfig) {
        if new.u_threshold == 0 || new.u_threshold > self.config.u_threshold {
            self.overload = false;
        }
        if new.weight > 0 {
            self.last_weight = new.weight;
        }
        self.config.weight = new.weight;
        self.config.fwd = new.fwd;
        self.config.u_threshold = new.u_threshold;
        self.config.l_threshold = new.l_threshold;
        self.available = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn dest(u: u32, l: u32) -> Dest {
        let cfg = DestConfig::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), 80).with_thresholds(u, l);
        Dest::new(DestId(0), ServiceId(0), cfg)
    }

    #[test]
    fn overload_sets_at_upper_and_clears_below_lower() {
        let mut d = dest(4, 2);
        for _ in 0..3 {
            d.bind(ConnCount::Active);
        }
        assert!(!d.overload);
        d.bind(ConnCount::Inactive);
        assert!(d.overload, "4 >= 4 sets OVERLOAD");
        d.unbind(ConnCount::Active); // 3
        assert!(d.overload);
        d.unbind(ConnCount::Active); // 2, not < 2
        assert!(d.overload);
        d.unbind(ConnCount::Active); // 1 < 2
        assert!(!d.overload);
    }

    #[test]
    fn overload_hysteresis_three_quarters_without_lower() {
        let mut d = dest(8, 0);
        for _ in 0..8 {
            d.bind(ConnCount::Active);
        }
        assert!(d.overload);
        d.unbind(ConnCount::Active); // 7*4=28 < 24? no
        d.unbind(ConnCount::Active); // 6*4=24 < 24? no
        assert!(d.overload);
        d.unbind(ConnCount::Active); // 5*4=20 < 24
        assert!(!d.overload);
    }

    #[test]
    fn templates_do_not_count_towards_threshold() {
        let mut d = dest(1, 0);
        d.bind(ConnCount::Template);
        assert_eq!(d.persistconns, 1);
        assert!(!d.overload, "templates are not part of active + inactive");
        d.bind(ConnCount::Active);
        assert!(d.overload);
    }
}

/// Storage of all destinations of a director, addressed by [`DestId`].
///
/// Services keep their destination order as a `Vec<DestId>`; the arena
/// keeps the data, so a handle stays valid while the destination sits in
/// the trash.
#[derive(Debug, Default, Clone)]
pub struct DestArena {
    slots: Vec<Option<Dest>>,
    free: Vec<u32>,
}

impl DestArena {
    /// Store a new destination built by `make` from its handle.
    pub fn insert_with(&mut self, make: impl FnOnce(DestId) -> Dest) -> DestId {
        match self.free.pop() {
            Some(i) => {
                let id = DestId(i);
                self.slots[i as usize] = Some(make(id));
                id
            }
            None => {
                let id = DestId(u32::try_from(self.slots.len()).unwrap_or(u32::MAX));
                self.slots.push(Some(make(id)));
                id
            }
        }
    }

    /// Free a destination's slot, returning it.
    pub fn remove(&mut self, id: DestId) -> Option<Dest> {
        let d = self.slots.get_mut(id.0 as usize)?.take();
        if d.is_some() {
            self.free.push(id.0);
        }
        d
    }

    /// Look a destination up.
    #[inline]
    pub fn get(&self, id: DestId) -> Option<&Dest> {
        self.slots.get(id.0 as usize).and_then(Option::as_ref)
    }

    /// Look a destination up, mutably.
    #[inline]
    pub fn get_mut(&mut self, id: DestId) -> Option<&mut Dest> {
        self.slots.get_mut(id.0 as usize).and_then(Option::as_mut)
    }

    /// Number of live slots (services' dests plus trash).
    pub fn len(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    /// Whether the arena is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// All stored destinations.
    pub fn iter(&self) -> impl Iterator<Item = &Dest> {
        self.slots.iter().filter_map(Option::as_ref)
    }

    /// All stored destinations, mutably.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut Dest> {
        self.slots.iter_mut().filter_map(Option::as_mut)
    }
}
