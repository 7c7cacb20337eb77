//! `lvsadm realserver setup|teardown|check` (on a real server) and `lvsadm check` (on a
//! director); the logic lives in the `lvs-realserver` crate, this is the command line.
//!
//! - `realserver setup --mode dr|tun|nat [--vip ADDR]... [--dev IF] [--gateway ADDR]
//!   [--gue-port PORT] [--dry-run] [--state FILE]`: applies what is missing, prints one
//!   command per change made (or, with `--dry-run`, to be made; nothing is applied), and
//!   records the changes and the values they replaced in the state file
//!   (`/run/lvs/realserver.json` by default). A second run prints `nothing to change`.
//! - `realserver teardown [--dry-run] [--state FILE]`: undoes the recorded changes that are
//!   still in place, newest first, and removes the state file.
//! - `realserver check [--mode M] [--vip ADDR]... [--dev IF] [--dip ADDR] [--tun-type T]
//!   [--path-mtu N] [--state FILE]`: one line per finding (`ID subject: evidence; fix:
//!   command`); mode and VIPs default to the recorded setup. Exit 1 when something is found.
//! - `check [--no-arp] [--arp-wait MS] [--vip ADDR --rip ADDR [--mode M] [--tun-type T]]...`:
//!   the director's table from lvsd (or the services given on the command line, e.g. on a
//!   router) against this host's addresses, routes and sysctls, plus an ARP probe for each
//!   IPv4 VIP on its interface. Exit 1 when something is found.
//!
//! Exit codes: 0 clean / done, 1 findings or a failed change, 2 usage errors (and `check`
//! without `--vip` when lvsd cannot be reached).

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use lvs_ipvsadm::run::Backend;
use lvs_proto::{FwdMethod, Request, Response, ServiceKey, TunnelType};
use lvs_realserver::diagnose::{self, ArpAnswer, DirectorDest, DirectorService, RealServerSpec};
use lvs_realserver::plan::{self, Change, STATE_FILE, SetupSpec, State};
use lvs_realserver::snapshot::Snapshot;
use lvs_realserver::{Mode, TunType};

use crate::backend::SocketBackend;

const USAGE: &str = "usage: lvsadm realserver setup --mode dr|tun|nat [--vip ADDR]... [--dev IF] [--gateway ADDR] [--gue-port PORT] [--dry-run] [--state FILE]
       lvsadm realserver teardown [--dry-run] [--state FILE]
       lvsadm realserver check [--mode dr|tun|nat] [--vip ADDR]... [--dev IF] [--dip ADDR] [--tun-type ipip|gue|gre] [--path-mtu N] [--state FILE]
       lvsadm check [--no-arp] [--arp-wait MS] [--vip ADDR --rip ADDR [--mode dr|tun|nat] [--tun-type T]]...";

/// Handles `lvsadm realserver ...` and `lvsadm check ...`; `None` for other command lines.
pub fn dispatch(argv: &[String]) -> Option<i32> {
    match argv.get(1).map(String::as_str) {
        Some("realserver") => Some(realserver(&argv[2..])),
        Some("check") => Some(director_check(&argv[2..])),
        _ => None,
    }
}

fn usage(msg: &str) -> i32 {
    eprintln!("lvsadm: {msg}\n{USAGE}");
    2
}

/// Options shared by the subcommands.
#[derive(Default)]
struct Opts {
    mode: Option<Mode>,
    vips: Vec<IpAddr>,
    rips: Vec<(IpAddr, Option<Mode>, Option<TunType>)>,
    dev: Option<String>,
    gateway: Option<IpAddr>,
    dip: Option<IpAddr>,
    gue_port: Option<u16>,
    tun_type: Option<TunType>,
    path_mtu: Option<u32>,
    dry_run: bool,
    no_arp: bool,
    arp_wait_ms: u64,
    state: Option<PathBuf>,
}

fn parse(args: &[String], allowed: &[&str]) -> Result<Opts, String> {
    let mut o = Opts {
        arp_wait_ms: 300,
        ..Opts::default()
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let a = a.as_str();
        if !allowed.contains(&a) {
            return Err(format!("unexpected argument {a:?}"));
        }
        let mut val = || {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{a} needs a value"))
        };
        let addr = |v: String| -> Result<IpAddr, String> {
            v.parse()
                .map_err(|_| format!("{a}: {v:?} is not an address"))
        };
        match a {
            "--mode" => {
                let v = val()?;
                let m = Mode::parse(&v).ok_or_else(|| format!("unknown mode {v:?}"))?;
                match o.rips.last_mut() {
                    Some(r) if r.1.is_none() => r.1 = Some(m),
                    _ => o.mode = Some(m),
                }
            }
            "--vip" => o.vips.push(addr(val()?)?),
            "--rip" => o.rips.push((addr(val()?)?, None, None)),
            "--dev" => o.dev = Some(val()?),
            "--gateway" => o.gateway = Some(addr(val()?)?),
            "--dip" => o.dip = Some(addr(val()?)?),
            "--gue-port" => {
                let v = val()?;
                let p: u16 = v.parse().map_err(|_| format!("bad port {v:?}"))?;
                if p == 0 {
                    return Err("--gue-port must be 1..65535".into());
                }
                o.gue_port = Some(p);
            }
            "--tun-type" => {
                let v = val()?;
                let t = TunType::parse(&v).ok_or_else(|| format!("unknown tunnel type {v:?}"))?;
                match o.rips.last_mut() {
                    Some(r) => r.2 = Some(t),
                    None => o.tun_type = Some(t),
                }
            }
            "--path-mtu" => {
                let v = val()?;
                o.path_mtu = Some(v.parse().map_err(|_| format!("bad MTU {v:?}"))?);
            }
            "--arp-wait" => {
                let v = val()?;
                o.arp_wait_ms = v.parse().map_err(|_| format!("bad wait {v:?}"))?;
            }
            "--state" => o.state = Some(PathBuf::from(val()?)),
            "--dry-run" => o.dry_run = true,
            "--no-arp" => o.no_arp = true,
            _ => return Err(format!("unexpected argument {a:?}")),
        }
    }
    Ok(o)
}

fn state_path(o: &Opts) -> PathBuf {
    o.state.clone().unwrap_or_else(|| PathBuf::from(STATE_FILE))
}

fn realserver(args: &[String]) -> i32 {
    let (sub, rest) = match args.split_first() {
        Some((s, r)) => (s.as_str(), r),
        None => return usage("realserver needs setup, teardown or check"),
    };
    match sub {
        "setup" => {
            let allowed = [
                "--mode",
                "--vip",
                "--dev",
                "--gateway",
                "--gue-port",
                "--dry-run",
                "--state",
            ];
            match parse(rest, &allowed) {
                Ok(o) => setup(&o),
                Err(e) => usage(&e),
            }
        }
        "teardown" => match parse(rest, &["--dry-run", "--state"]) {
            Ok(o) => teardown(&o),
            Err(e) => usage(&e),
        },
        "check" => {
            let allowed = [
                "--mode",
                "--vip",
                "--dev",
                "--dip",
                "--tun-type",
                "--path-mtu",
                "--state",
            ];
            match parse(rest, &allowed) {
                Ok(o) => rs_check(&o),
                Err(e) => usage(&e),
            }
        }
        "help" | "--help" | "-h" => {
            println!("{USAGE}");
            0
        }
        other => usage(&format!("unknown realserver subcommand {other:?}")),
    }
}

fn snapshot() -> Result<Snapshot, i32> {
    Snapshot::read().map_err(|e| {
        eprintln!("lvsadm: reading the host's network state: {e}");
        1
    })
}

fn setup(o: &Opts) -> i32 {
    let Some(mode) = o.mode else {
        return usage("setup needs --mode dr|tun|nat");
    };
    if mode != Mode::Nat && o.vips.is_empty() {
        return usage("setup --mode dr|tun needs --vip");
    }
    let s = match snapshot() {
        Ok(s) => s,
        Err(c) => return c,
    };
    let spec = SetupSpec {
        mode,
        vips: o.vips.clone(),
        dev: o.dev.clone(),
        gateway: o.gateway,
        gue_port: o.gue_port,
    };
    let p = match plan::plan_setup(&s, &spec) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("lvsadm: realserver setup: {e}");
            return 1;
        }
    };
    for n in &p.notes {
        println!("# {n}");
    }
    if p.changes.is_empty() {
        println!("nothing to change: already set up as a {mode} real server");
        return 0;
    }
    if o.dry_run {
        for c in &p.changes {
            println!("{}", c.command());
        }
        return 0;
    }
    let path = state_path(o);
    let mut st = match State::load(&path) {
        Ok(st) => st,
        Err(e) => {
            eprintln!("lvsadm: {e}");
            return 1;
        }
    };
    let (done, err) = plan::apply(&p.changes);
    for c in &done {
        println!("{}", c.command());
    }
    st.mode = Some(mode);
    st.applied.extend(done);
    if let Err(e) = st.save(&path) {
        eprintln!("lvsadm: {e}");
        return 1;
    }
    match err {
        None => 0,
        Some(e) => {
            eprintln!("lvsadm: realserver setup: {e} (changes made so far are recorded)");
            1
        }
    }
}

fn teardown(o: &Opts) -> i32 {
    let path = state_path(o);
    let st = match State::load(&path) {
        Ok(st) => st,
        Err(e) => {
            eprintln!("lvsadm: {e}");
            return 1;
        }
    };
    if st.applied.is_empty() {
        println!("nothing to undo: no setup recorded in {}", path.display());
        return 0;
    }
    let s = match snapshot() {
        Ok(s) => s,
        Err(c) => return c,
    };
    let p = plan::plan_teardown(&s, &st.applied);
    for n in &p.notes {
        println!("# {n}");
    }
    if o.dry_run {
        for c in &p.changes {
            println!("{}", c.command());
        }
        return 0;
    }
    let (done, err) = plan::apply(&p.changes);
    for c in &done {
        println!("{}", c.command());
    }
    if let Some(e) = err {
        eprintln!("lvsadm: realserver teardown: {e} (state file kept)");
        return 1;
    }
    if let Err(e) = State::default().save(&path) {
        eprintln!("lvsadm: {e}");
        return 1;
    }
    if done.is_empty() {
        println!("nothing to undo: the recorded changes are no longer in place");
    }
    0
}

fn rs_check(o: &Opts) -> i32 {
    let st = State::load(&state_path(o)).unwrap_or_default();
    let Some(mode) = o.mode.or(st.mode) else {
        return usage("check needs --mode (no setup recorded)");
    };
    let mut vips = o.vips.clone();
    let mut dev = o.dev.clone();
    if o.vips.is_empty() && o.mode.is_none_or(|m| Some(m) == st.mode) {
        for c in &st.applied {
            match c {
                Change::AddrAdd { addr, .. } => vips.push(*addr),
                Change::DecapAttach { dev: d, .. } if dev.is_none() => dev = Some(d.clone()),
                _ => {}
            }
        }
    }
    if mode != Mode::Nat && vips.is_empty() {
        return usage("check --mode dr|tun needs --vip (no setup recorded)");
    }
    let s = match snapshot() {
        Ok(s) => s,
        Err(c) => return c,
    };
    let mut spec = RealServerSpec::new(mode, vips.clone());
    spec.dev = dev;
    spec.dip = o.dip;
    if let Some(t) = o.tun_type {
        spec.tun_type = t;
    }
    if let Some(m) = o.path_mtu {
        spec.path_mtu = m;
    }
    let f = diagnose::real_server(&s, &spec);
    report(&f, &format!("{mode} real server"))
}

fn report(f: &[diagnose::Finding], what: &str) -> i32 {
    for x in f {
        println!("{x}");
    }
    if f.is_empty() {
        println!("ok: no problems found ({what})");
        0
    } else {
        1
    }
}

fn tun_type(t: TunnelType) -> TunType {
    match t {
        TunnelType::Ipip => TunType::Ipip,
        TunnelType::Gue => TunType::Gue,
        TunnelType::Gre => TunType::Gre,
    }
}

/// The services lvsd runs, or `None` (with the reason printed) when it cannot be asked.
fn lvsd_services() -> Option<Vec<DirectorService>> {
    let mut b = SocketBackend::from_env();
    if let Err(e) = b.connect() {
        eprintln!(
            "lvsadm: check: lvsd not reachable ({e}); give the service with --vip ADDR --rip ADDR"
        );
        return None;
    }
    match b.call(Request::ListServices) {
        Ok(Response::Services(list)) => Some(
            list.iter()
                .map(|s| DirectorService {
                    vip: match s.spec.key {
                        ServiceKey::Addr { addr, .. } => Some(addr),
                        ServiceKey::Fwmark { .. } => None,
                    },
                    dests: s
                        .dests
                        .iter()
                        .filter_map(|d| {
                            let (mode, t) = match d.spec.fwd {
                                FwdMethod::Masq => (Mode::Nat, TunType::Ipip),
                                FwdMethod::Route => (Mode::Dr, TunType::Ipip),
                                FwdMethod::Tunnel(t) => (Mode::Tun, tun_type(t.kind)),
                                FwdMethod::Local | FwdMethod::FullNat => return None,
                            };
                            Some(DirectorDest {
                                rip: d.spec.addr,
                                mode,
                                tun_type: t,
                            })
                        })
                        .collect(),
                })
                .collect(),
        ),
        Ok(other) => {
            eprintln!("lvsadm: check: unexpected answer from lvsd: {other:?}");
            None
        }
        Err(e) => {
            eprintln!("lvsadm: check: {e}");
            None
        }
    }
}

fn director_check(args: &[String]) -> i32 {
    let allowed = [
        "--no-arp",
        "--arp-wait",
        "--vip",
        "--rip",
        "--mode",
        "--tun-type",
    ];
    let o = match parse(args, &allowed) {
        Ok(o) => o,
        Err(e) => return usage(&e),
    };
    let services: Vec<DirectorService> = if o.vips.is_empty() {
        match lvsd_services() {
            Some(s) => s,
            None => return 2,
        }
    } else {
        if o.vips.len() != 1 && !o.rips.is_empty() {
            return usage("check: give one --vip with its --rip list");
        }
        o.vips
            .iter()
            .map(|&vip| DirectorService {
                vip: Some(vip),
                dests: o
                    .rips
                    .iter()
                    .map(|&(rip, m, t)| DirectorDest {
                        rip,
                        mode: m.or(o.mode).unwrap_or(Mode::Dr),
                        tun_type: t.or(o.tun_type).unwrap_or(TunType::Ipip),
                    })
                    .collect(),
            })
            .collect()
    };
    let s = match snapshot() {
        Ok(s) => s,
        Err(c) => return c,
    };
    let mut answers = Vec::new();
    if !o.no_arp {
        let mut probed = Vec::new();
        for vip in services.iter().filter_map(|s| s.vip) {
            let IpAddr::V4(v4) = vip else { continue };
            if probed.contains(&vip) {
                continue;
            }
            probed.push(vip);
            // Probe where the VIP lives. A VIP that is not local (this host is a router in
            // front of the service) is answered by the director, legitimately: no probe.
            let dev = s
                .addrs_of(vip)
                .find(|a| s.link(&a.dev).is_some_and(|l| l.arps()))
                .map(|a| a.dev.clone())
                .or_else(|| {
                    s.is_local(vip)
                        .then(|| s.dev_to(vip).map(str::to_owned))
                        .flatten()
                });
            let Some(dev) = dev else { continue };
            match lvs_realserver::arp::probe(&s, &dev, v4, Duration::from_millis(o.arp_wait_ms)) {
                Ok(macs) => answers.extend(macs.into_iter().map(|mac| ArpAnswer {
                    vip,
                    dev: dev.clone(),
                    mac,
                })),
                Err(e) => eprintln!("lvsadm: check: ARP probe for {vip} on {dev}: {e}"),
            }
        }
    }
    let f = diagnose::director(&s, &services, &answers);
    report(&f, &format!("director, {} service(s)", services.len()))
}
