//! Pure diagnosis: a [`Snapshot`] and what the host is meant to be in, [`Finding`]s out.
//!
//! Each finding has a stable id (the first word of its line), the thing it is about, the
//! evidence read from the snapshot and a command that fixes it. The rules are the pitfalls the
//! seeds (000 §3–4, 001 §3, 004) walk through by hand; the kernel behaviour behind each rule is
//! in the comment of its id below.
//!
//! Real server ([`real_server`]), DR and TUN:
//! * `RS-VIP-MISSING`: the VIP is not a local address, so the kernel drops the packets the
//!   director sends it (DR: the frame is for us but the IP is not; TUN: the inner packet).
//! * `RS-VIP-ARPING`: the VIP sits on an interface that answers ARP (not `lo`, not NOARP):
//!   the host answers "who has VIP" and steals the director's traffic.
//! * `RS-VIP-PREFIX`: the VIP on `lo` with a shorter prefix than /32 (/128): the whole network
//!   becomes local (`lo` routes all of it to the host itself) and peers in it are unreachable.
//! * `RS-LO-DOWN`: the VIP is on a loopback that is down (a fresh namespace): not local.
//! * `RS-ARP-IGNORE`: `arp_ignore` in effect (max of `all` and the interface) on an ARPing
//!   interface is not 1 or 2: the host answers ARP for the VIP on `lo` through that interface.
//! * `RS-ARP-ANNOUNCE`: `arp_announce` in effect is not 2: ARP requests sent with the VIP as
//!   source teach the neighbours this host's MAC for the VIP.
//! * `RS-GW-DIP` (`dip` known): the default gateway is the director's DIP; DR/TUN replies must
//!   go straight to the client (through the router), a director holding the VIP drops them as
//!   martians (their source is its own address).
//! * `RS-RP-FILTER`: strict `rp_filter` (1) in effect on the receiving interface while the
//!   route back to clients (the default route) leaves by another interface or does not exist:
//!   requests from clients outside the interface's subnets fail the reverse-path check.
//!
//! TUN only:
//! * `RS-TUN-DECAP`: nothing decapsulates on the receiving interface: neither the lvs decap
//!   filter nor an up kernel tunnel device (`tunl0`, `ip6tnl0`, `gre0`...).
//! * `RS-RP-FILTER` (kernel tunnel device): strict `rp_filter` in effect on an up `tunl0`-like
//!   device when the lvs decap filter is not used: the inner packets come in on that device
//!   with the client's source and fail the reverse-path check.
//! * `RS-TUN-MTU`: the receiving interface's MTU is below the path MTU the director sends with
//!   (`path_mtu`, the director-side link MTU): tunnelled full-size packets are dropped on
//!   receive.
//!
//! NAT only:
//! * `RS-NAT-GW`: no default route, or (`dip` known) a default gateway other than the
//!   director's DIP: replies bypass the director and reach the client un-NATed.
//!
//! Director ([`director`]):
//! * `DIR-VIP-MISSING`: a service address is not local: nobody answers ARP for it here.
//! * `DIR-IP-FORWARD`: NAT real servers of a family whose forwarding switch is off: the
//!   real servers' own traffic (they route through the director) is dropped.
//! * `DIR-VIP-ARP`: an ARP probe for the VIP was answered by a MAC that is not this host's:
//!   a real server has wrong ARP sysctls, or set them after adding the VIP.
//! * `DIR-DR-ONLINK`: a DR real server reached through a gateway (DR rewrites only the MAC).
//! * `DIR-RP-FILTER` (the VIP is not local: the host routes the real servers' replies, the
//!   seed 000 §4 "Router"): replies with source VIP arrive on the interface towards the real
//!   server while the VIP is routed elsewhere; strict `rp_filter` there drops them.
//! * `DIR-TUN-MTU`: the tunnel MTU toward a TUN real server (its link MTU minus the
//!   encapsulation overhead) is below the client-side MTU: full-size client packets only get
//!   through with PMTU discovery (ICMP "fragmentation needed" reaching the clients).

use std::fmt;
use std::net::IpAddr;

use crate::snapshot::{IP_FORWARD, IP6_FORWARD, Snapshot, conf_key};
use crate::{Mode, TunType};

/// One problem found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// Stable identifier (`RS-ARP-IGNORE`).
    pub id: &'static str,
    /// What it is about (an address or an interface).
    pub subject: String,
    /// What was seen.
    pub evidence: String,
    /// A command (or commands, `;`-separated) that fixes it.
    pub fix: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: {}; fix: {}",
            self.id, self.subject, self.evidence, self.fix
        )
    }
}

fn finding(id: &'static str, subject: impl fmt::Display, evidence: String, fix: String) -> Finding {
    Finding {
        id,
        subject: subject.to_string(),
        evidence,
        fix,
    }
}

/// What a real server is meant to be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RealServerSpec {
    /// Forwarding method of its service.
    pub mode: Mode,
    /// Virtual addresses it serves (DR/TUN: must be local and silent).
    pub vips: Vec<IpAddr>,
    /// The interface facing the director; `None`: the default route's interface.
    pub dev: Option<String>,
    /// The director's address on the real servers' network, when known.
    pub dip: Option<IpAddr>,
    /// Tunnel type (TUN).
    pub tun_type: TunType,
    /// MTU of the director's link toward this host (TUN).
    pub path_mtu: u32,
}

impl RealServerSpec {
    /// A spec with defaults: interface from the default route, no DIP, IPIP, path MTU 1500.
    pub fn new(mode: Mode, vips: Vec<IpAddr>) -> Self {
        Self {
            mode,
            vips,
            dev: None,
            dip: None,
            tun_type: TunType::Ipip,
            path_mtu: 1500,
        }
    }
}

/// The interface facing the director: the one given, else the default route's (IPv4 first),
/// else the first up interface that is not loopback.
pub fn resolve_dev(s: &Snapshot, dev: Option<&str>, v6_only: bool) -> Option<String> {
    if let Some(d) = dev {
        return Some(d.to_owned());
    }
    let via_default = |v6| s.default_route(v6).and_then(|r| r.dev.clone());
    let d = if v6_only {
        via_default(true)
    } else {
        via_default(false).or_else(|| via_default(true))
    };
    d.or_else(|| {
        s.links
            .iter()
            .find(|l| l.up && !l.loopback)
            .map(|l| l.name.clone())
    })
}

fn host_prefix(a: IpAddr) -> u8 {
    if a.is_ipv4() { 32 } else { 128 }
}

/// Kernel tunnel devices that decapsulate IPIP/GRE themselves.
fn is_kernel_tunnel(kind: Option<&str>, name: &str) -> bool {
    matches!(
        kind,
        Some("ipip" | "ip6tnl" | "gre" | "ip6gre" | "sit" | "fou")
    ) || matches!(name, "tunl0" | "ip6tnl0" | "gre0" | "sit0")
}

/// Diagnoses a real server.
pub fn real_server(s: &Snapshot, spec: &RealServerSpec) -> Vec<Finding> {
    let mut out = Vec::new();
    let v6_only = !spec.vips.is_empty() && spec.vips.iter().all(IpAddr::is_ipv6);
    let dev = resolve_dev(s, spec.dev.as_deref(), v6_only);
    let dev_name = dev.as_deref().unwrap_or("<DEV>");
    let gw = s
        .default_route(v6_only)
        .and_then(|r| r.gateway.map(|g| (g, r.dev.clone())));

    if spec.mode == Mode::Nat {
        match (gw, spec.dip) {
            (None, dip) => out.push(finding(
                "RS-NAT-GW",
                "default route",
                "no default gateway: replies to clients have no way back through the director"
                    .into(),
                format!(
                    "ip route replace default via {} dev {dev_name}",
                    dip.map_or_else(|| "<DIP>".to_owned(), |d| d.to_string())
                ),
            )),
            (Some((g, _)), Some(dip)) if g != dip => out.push(finding(
                "RS-NAT-GW",
                "default route",
                format!(
                    "default gateway is {g}, not the director's DIP {dip}: replies bypass the \
                     director and reach clients un-NATed (source RIP)"
                ),
                format!("ip route replace default via {dip} dev {dev_name}"),
            )),
            _ => {}
        }
        return out;
    }

    // DR and TUN: the VIP must be local and silent.
    for &vip in &spec.vips {
        let hp = host_prefix(vip);
        let on: Vec<_> = s.addrs_of(vip).collect();
        if on.is_empty() {
            out.push(finding(
                "RS-VIP-MISSING",
                vip,
                "the VIP is not configured on this host: packets for it are dropped".into(),
                format!("ip addr add {vip}/{hp} dev lo"),
            ));
            continue;
        }
        for a in on {
            let link = s.link(&a.dev);
            let arps = link.is_none_or(|l| l.arps());
            if arps {
                out.push(finding(
                    "RS-VIP-ARPING",
                    vip,
                    format!(
                        "the VIP is on {} (an interface that answers ARP/ND): this host answers \
                         for the VIP and takes the director's traffic",
                        a.dev
                    ),
                    format!(
                        "ip addr del {vip}/{} dev {}; ip addr add {vip}/{hp} dev lo",
                        a.prefix, a.dev
                    ),
                ));
                continue;
            }
            if a.prefix != hp {
                out.push(finding(
                    "RS-VIP-PREFIX",
                    vip,
                    format!(
                        "the VIP is on {} as /{} instead of /{hp}: the whole network becomes \
                         local to this host",
                        a.dev, a.prefix
                    ),
                    format!(
                        "ip addr del {vip}/{} dev {}; ip addr add {vip}/{hp} dev {}",
                        a.prefix, a.dev, a.dev
                    ),
                ));
            }
            if let Some(l) = link
                && l.loopback
                && !l.up
            {
                out.push(finding(
                    "RS-LO-DOWN",
                    vip,
                    format!("the VIP is on {} which is down: it is not local", l.name),
                    format!("ip link set {} up", l.name),
                ));
            }
        }
    }

    // ARP sysctls on every interface that could answer for an IPv4 VIP.
    if spec.vips.iter().any(IpAddr::is_ipv4) {
        for l in s.links.iter().filter(|l| l.up && l.arps()) {
            let all = |k| s.sysctl(&conf_key("all", k)).unwrap_or(0);
            let own = |k| s.sysctl(&conf_key(&l.name, k)).unwrap_or(0);
            let ig = s.effective(&l.name, "arp_ignore");
            if !(1..=2).contains(&ig) {
                out.push(finding(
                    "RS-ARP-IGNORE",
                    &l.name,
                    format!(
                        "arp_ignore in effect is {ig} (all={}, {}={}): {} answers ARP for the \
                         VIP held on lo",
                        all("arp_ignore"),
                        l.name,
                        own("arp_ignore"),
                        l.name
                    ),
                    format!(
                        "sysctl -w net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.{}.arp_ignore=1",
                        l.name
                    ),
                ));
            }
            let an = s.effective(&l.name, "arp_announce");
            if an != 2 {
                out.push(finding(
                    "RS-ARP-ANNOUNCE",
                    &l.name,
                    format!(
                        "arp_announce in effect is {an} (all={}, {}={}): ARP requests from {} may \
                         carry the VIP as sender and teach neighbours this host's MAC for it",
                        all("arp_announce"),
                        l.name,
                        own("arp_announce"),
                        l.name
                    ),
                    format!(
                        "sysctl -w net.ipv4.conf.all.arp_announce=2 \
                         net.ipv4.conf.{}.arp_announce=2",
                        l.name
                    ),
                ));
            }
        }
    }

    if let (Some((g, _)), Some(dip)) = (gw, spec.dip)
        && g == dip
    {
        out.push(finding(
            "RS-GW-DIP",
            "default route",
            format!(
                "default gateway is the director's DIP {dip}: in {} mode replies must go to the \
                 client directly (via the router), the director drops packets from its own VIP",
                spec.mode
            ),
            format!("ip route replace default via <ROUTER> dev {dev_name}"),
        ));
    }

    if let Some(dev) = dev.as_deref()
        && spec.vips.iter().any(IpAddr::is_ipv4)
        && s.effective(dev, "rp_filter") == 1
    {
        let back = s.default_route(false).and_then(|r| r.dev.clone());
        if back.as_deref() != Some(dev) {
            out.push(finding(
                "RS-RP-FILTER",
                dev,
                format!(
                    "strict rp_filter on {dev} while the route back to clients {}: requests \
                     from clients outside {dev}'s subnets are dropped",
                    back.map_or_else(|| "does not exist".to_owned(), |b| format!("leaves by {b}"))
                ),
                format!("sysctl -w net.ipv4.conf.{dev}.rp_filter=2"),
            ));
        }
    }

    if spec.mode == Mode::Tun
        && let Some(dev) = dev.as_deref()
    {
        let link = s.link(dev);
        let ours = link.is_some_and(|l| l.decap);
        let kernel = s
            .links
            .iter()
            .any(|l| l.up && is_kernel_tunnel(l.kind.as_deref(), &l.name));
        // Kernel tunnel devices hand the inner packet in on themselves: strict rp_filter
        // there drops it, since the way back to the client is another interface (checked in
        // the ipvs-ref lab, lab/tun_rs_pitfalls.sh).
        if !ours {
            for t in s
                .links
                .iter()
                .filter(|l| l.up && is_kernel_tunnel(l.kind.as_deref(), &l.name))
            {
                if spec.vips.iter().any(IpAddr::is_ipv4) && s.effective(&t.name, "rp_filter") == 1 {
                    out.push(finding(
                        "RS-RP-FILTER",
                        &t.name,
                        format!(
                            "strict rp_filter on {} (all={}, {}={}): decapsulated packets arrive \
                             there with the client's address, which is routed elsewhere, and \
                             are dropped",
                            t.name,
                            s.sysctl(&conf_key("all", "rp_filter")).unwrap_or(0),
                            t.name,
                            s.sysctl(&conf_key(&t.name, "rp_filter")).unwrap_or(0)
                        ),
                        format!("sysctl -w net.ipv4.conf.{}.rp_filter=2", t.name),
                    ));
                }
            }
        }
        if !ours && !kernel {
            let vip = spec
                .vips
                .first()
                .map_or_else(|| "<VIP>".to_owned(), |v| v.to_string());
            out.push(finding(
                "RS-TUN-DECAP",
                dev,
                format!(
                    "no tunnel decapsulation: no lvs_decap filter on {dev} ingress and no kernel \
                     tunnel device up: tunnelled packets are dropped"
                ),
                format!("lvsadm realserver setup --mode tun --vip {vip} --dev {dev}"),
            ));
        }
        if let Some(l) = link
            && l.mtu < spec.path_mtu
        {
            out.push(finding(
                "RS-TUN-MTU",
                dev,
                format!(
                    "MTU {} is below the director's path MTU {}: tunnelled full-size packets \
                     ({} bytes, {} of them tunnel overhead) are dropped on receive",
                    l.mtu,
                    spec.path_mtu,
                    spec.path_mtu,
                    spec.tun_type.overhead(false)
                ),
                format!("ip link set dev {dev} mtu {}", spec.path_mtu),
            ));
        }
    }
    out
}

/// A real server of a director's service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirectorDest {
    /// Real server address.
    pub rip: IpAddr,
    /// Forwarding method.
    pub mode: Mode,
    /// Tunnel type (TUN).
    pub tun_type: TunType,
}

/// A virtual service as the director check sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirectorService {
    /// Virtual address (`None` for firewall-mark services).
    pub vip: Option<IpAddr>,
    /// Its real servers.
    pub dests: Vec<DirectorDest>,
}

/// An ARP reply seen while probing for a VIP.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArpAnswer {
    /// The probed address.
    pub vip: IpAddr,
    /// Interface the reply came in on.
    pub dev: String,
    /// Sender MAC of the reply.
    pub mac: [u8; 6],
}

fn mac_str(m: &[u8]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Diagnoses a director (or a router in front of DR real servers: services whose VIP is not
/// local to this host are checked for reverse-path filtering of the replies).
pub fn director(s: &Snapshot, services: &[DirectorService], arp: &[ArpAnswer]) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut seen_vip = Vec::new();
    for svc in services {
        let Some(vip) = svc.vip else { continue };
        if seen_vip.contains(&vip) {
            continue;
        }
        seen_vip.push(vip);
        if !s.is_local(vip) {
            let any_dr = svc.dests.iter().any(|d| d.mode != Mode::Nat);
            out.push(finding(
                "DIR-VIP-MISSING",
                vip,
                "the service address is not configured on this host: nobody here answers ARP/ND \
                 for it"
                    .into(),
                format!(
                    "ip addr add {vip}/{} dev <client-side interface>",
                    host_prefix(vip)
                ),
            ));
            // Not local: if this host forwards, it may be the router of the replies.
            if any_dr {
                router_rp_filter(s, vip, svc, &mut out);
            }
        }
    }
    for fam_v6 in [false, true] {
        let needs = services.iter().any(|svc| {
            svc.dests
                .iter()
                .any(|d| d.mode == Mode::Nat && d.rip.is_ipv6() == fam_v6)
        });
        let key = if fam_v6 { IP6_FORWARD } else { IP_FORWARD };
        if needs && s.sysctl(key).unwrap_or(0) != 1 {
            out.push(finding(
                "DIR-IP-FORWARD",
                key,
                format!(
                    "{key} is {}: NAT real servers route through this host and their own \
                     traffic is dropped",
                    s.sysctl(key).unwrap_or(0)
                ),
                format!("sysctl -w {key}=1"),
            ));
        }
    }
    // `arp` holds answers from other hosts only (the probe drops this host's own MACs).
    for a in arp {
        out.push(finding(
            "DIR-VIP-ARP",
            a.vip,
            format!(
                "{} on {} answers ARP for the VIP: a real server has arp_ignore/arp_announce \
                 wrong or set them after adding the VIP",
                mac_str(&a.mac),
                a.dev
            ),
            format!(
                "on that real server: lvsadm realserver setup --mode dr --vip {}; on the \
                 router and clients: ip neigh del {} dev <if>",
                a.vip, a.vip
            ),
        ));
    }
    let mut seen = Vec::new();
    for svc in services {
        for d in &svc.dests {
            if seen.contains(&(d.rip, d.mode)) {
                continue;
            }
            seen.push((d.rip, d.mode));
            let route = s.route_to(d.rip);
            match d.mode {
                Mode::Dr => {
                    if let Some(g) = route.and_then(|r| r.gateway) {
                        out.push(finding(
                            "DIR-DR-ONLINK",
                            d.rip,
                            format!(
                                "DR real server is reached through gateway {g}: direct routing \
                                 only rewrites the MAC and needs the real server on a directly \
                                 attached network"
                            ),
                            format!(
                                "attach the real server to the director's network, or use \
                                 tunnelling: ipvsadm -e ... -r {} -i",
                                d.rip
                            ),
                        ));
                    }
                }
                Mode::Tun => {
                    let Some(tdev) = route.and_then(|r| r.dev.as_deref()) else {
                        continue;
                    };
                    let Some(tl) = s.link(tdev) else { continue };
                    let client_mtu = svc
                        .vip
                        .and_then(|v| s.addrs_of(v).next())
                        .and_then(|a| s.link(&a.dev))
                        .filter(|l| !l.loopback)
                        .or_else(|| {
                            s.default_route(d.rip.is_ipv6())
                                .and_then(|r| r.dev.as_deref())
                                .and_then(|n| s.link(n))
                        })
                        .map_or(1500, |l| l.mtu);
                    let o = d.tun_type.overhead(d.rip.is_ipv6());
                    let t = tl.mtu.saturating_sub(o);
                    if t < client_mtu {
                        out.push(finding(
                            "DIR-TUN-MTU",
                            d.rip,
                            format!(
                                "tunnel MTU toward the real server is {t} ({tdev} MTU {} minus \
                                 {o} bytes of encapsulation), below the client-side MTU \
                                 {client_mtu}: full-size client packets need PMTU discovery \
                                 (ICMP fragmentation-needed must reach the clients)",
                                tl.mtu
                            ),
                            format!("ip link set dev {tdev} mtu {}", client_mtu + o),
                        ));
                    }
                }
                Mode::Nat => {}
            }
        }
    }
    out
}

fn router_rp_filter(s: &Snapshot, vip: IpAddr, svc: &DirectorService, out: &mut Vec<Finding>) {
    if !vip.is_ipv4() || s.sysctl(IP_FORWARD).unwrap_or(0) != 1 {
        return;
    }
    let vip_dev = s.dev_to(vip);
    let mut seen: Vec<&str> = Vec::new();
    for d in svc.dests.iter().filter(|d| d.mode != Mode::Nat) {
        let Some(rdev) = s.dev_to(d.rip) else {
            continue;
        };
        if Some(rdev) == vip_dev || seen.contains(&rdev) {
            continue;
        }
        seen.push(rdev);
        if s.effective(rdev, "rp_filter") == 1 {
            out.push(finding(
                "DIR-RP-FILTER",
                rdev,
                format!(
                    "replies from real server {} (source {vip}) arrive on {rdev} but {vip} is \
                     routed via {}: strict rp_filter on {rdev} drops them",
                    d.rip,
                    vip_dev.unwrap_or("nowhere")
                ),
                format!("sysctl -w net.ipv4.conf.{rdev}.rp_filter=2"),
            ));
        }
    }
}
