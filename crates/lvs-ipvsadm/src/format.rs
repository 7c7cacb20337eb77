//! Listing and save formats, byte for byte as ipvsadm 1.31 prints them.
//!
//! Rules mirrored (observed on the real tool, see `testdata/ipvsadm/golden/`):
//! - **Banner** `IP Virtual Server version 1.2.1 (size=4096)` only when listing
//!   every service (not for one service, `-c`, `--timeout`, `--daemon`, `-S`).
//! - **Title** by the first of `--stats`, `--rate`, `--thresholds`,
//!   `--persistent-conn`, `--tun-info`, else the default; none for `-S`.
//! - **Service line**: `%-4s %s` (protocol, address) or `FWM  %d[ IPv6]`
//!   (the mark printed signed: 4294967295 is `-1`), truncated to 33 bytes for
//!   IPv4 services; then the scheduler, ` (flags)`, ` persistent T`,
//!   ` mask M`, ` pe NAME`, ` ops`. With `--stats`/`--rate`: `%-33s` and five
//!   numbers.
//! - **Destination line**: `  -> %-28s` (an IPv4 destination's name is
//!   truncated to 28 bytes, also inside an IPv6 service) then the columns of
//!   the format. ` pe NAME` is listed only for persistent services (`-S`
//!   saves `--pe` regardless).
//! - **Numbers**: without `--exact`, `%9llu` below 10^8 then `%8llu` with K, M,
//!   G, T (÷10^3, 10^6, 10^9, 10^12, thresholds 10^9, 10^11, 10^14); with
//!   `--exact` a width of max(9, digits + 1). `--rate` destination rows print
//!   CPS, InPPS and OutPPS as `%8llu` unscaled (ipvsadm's quirk).
//! - **Names** (without `-n`): host names from the resolver, port names for the
//!   service's protocol (none for fwmark services), IPv6 in brackets; an
//!   address:port string is cut at 59 bytes.
//! - **Sorting** (without `--nosort`): ipvsadm sorts with glibc's merge sort
//!   and libipvs's comparators, which subtract unsigned 32-bit values and read
//!   the difference as a signed int; the resulting order (fwmark 4294967295
//!   first, addresses more than 2^31 apart "inverted") is reproduced.
//!
//! Cost: O(n log n) for sorting, O(output) otherwise; listings are not a hot
//! path and build their output in a `String`.

use std::fmt::Write;
use std::net::IpAddr;

use lvs_proto::{
    ConnEntry, ConnProtocol, DaemonEntry, DestEntry, Family, FwdMethod, Info, Protocol,
    ServiceEntry, ServiceKey, Timeouts, TunnelCsum, TunnelType,
};

use crate::grammar::Format;
use crate::resolve::Resolver;

/// `addrport_to_anyname`: `host:port` (`[host]:port` for IPv6), numeric or
/// resolved, cut at 59 bytes like ipvsadm's 60-byte buffer.
pub fn addrport(
    addr: IpAddr,
    port: u16,
    proto: Option<Protocol>,
    numeric: bool,
    r: &dyn Resolver,
) -> String {
    let (open, close) = if addr.is_ipv6() { ("[", "]") } else { ("", "") };
    let mut s = if numeric {
        format!("{open}{}{close}:{port}", ntop(&addr))
    } else {
        let host = r.addr_to_host(addr).unwrap_or_else(|| ntop(&addr));
        let serv = proto
            .and_then(|p| r.port_to_service(port, p))
            .unwrap_or_else(|| port.to_string());
        format!("{open}{host}{close}:{serv}")
    };
    cut(&mut s, 59);
    s
}

/// glibc `inet_ntop`: IPv4 dotted; IPv6 with the longest run (at least two)
/// of zero groups compressed (the first on a tie), and the last 32 bits dotted
/// for `::a.b.c.d` and `::ffff:a.b.c.d`.
pub fn ntop(addr: &IpAddr) -> String {
    let v6 = match addr {
        IpAddr::V4(a) => return a.to_string(),
        IpAddr::V6(a) => a,
    };
    let w = v6.segments();
    let (mut best, mut best_len) = (usize::MAX, 0usize);
    let mut i = 0;
    while i < 8 {
        if w[i] == 0 {
            let start = i;
            while i < 8 && w[i] == 0 {
                i += 1;
            }
            if i - start > best_len {
                best = start;
                best_len = i - start;
            }
        } else {
            i += 1;
        }
    }
    if best_len < 2 {
        best = usize::MAX;
    }
    let mut out = String::with_capacity(40);
    let mut i = 0;
    while i < 8 {
        if i == best {
            out.push_str("::");
            i += best_len;
            continue;
        }
        if i != 0 && i != best.wrapping_add(best_len) {
            out.push(':');
        }
        if i == 6 && best == 0 && (best_len == 6 || (best_len == 5 && w[5] == 0xffff)) {
            let o = v6.octets();
            let _ = write!(out, "{}.{}.{}.{}", o[12], o[13], o[14], o[15]);
            break;
        }
        let _ = write!(out, "{:x}", w[i]);
        i += 1;
    }
    out
}

fn cut(s: &mut String, max: usize) {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
}

/// `print_largenum`.
pub fn largenum(out: &mut String, n: u64, exact: bool) {
    if exact {
        let digits = n.checked_ilog10().map_or(1, |d| d as usize + 1);
        let width = if digits <= 8 { 9 } else { digits + 1 };
        let _ = write!(out, "{n:>width$}");
    } else if n < 100_000_000 {
        let _ = write!(out, "{n:>9}");
    } else if n < 1_000_000_000 {
        let _ = write!(out, "{:>8}K", n / 1000);
    } else if n < 100_000_000_000 {
        let _ = write!(out, "{:>8}M", n / 1_000_000);
    } else if n < 100_000_000_000_000 {
        let _ = write!(out, "{:>8}G", n / 1_000_000_000);
    } else {
        let _ = write!(out, "{:>8}T", n / 1_000_000_000_000);
    }
}

/// The banner of a full listing.
pub fn banner(out: &mut String, info: &Info) {
    let (a, b, c) = info.version_triple();
    let _ = writeln!(
        out,
        "IP Virtual Server version {a}.{b}.{c} (size={})",
        info.conn_tab_size
    );
}

/// `print_title`.
pub fn title(out: &mut String, f: &Format) {
    let h = "Prot LocalAddress:Port";
    if f.stats {
        let _ = writeln!(
            out,
            "{h:<33} {:>8} {:>8} {:>8} {:>8} {:>8}\n  -> RemoteAddress:Port",
            "Conns", "InPkts", "OutPkts", "InBytes", "OutBytes"
        );
    } else if f.rate {
        let _ = writeln!(
            out,
            "{h:<33} {:>8} {:>8} {:>8} {:>8} {:>8}\n  -> RemoteAddress:Port",
            "CPS", "InPPS", "OutPPS", "InBPS", "OutBPS"
        );
    } else if f.thresholds {
        let _ = writeln!(
            out,
            "{h:<33} {:<10} {:<10} {:<10} {:<10}\n  -> RemoteAddress:Port",
            "Uthreshold", "Lthreshold", "ActiveConn", "InActConn"
        );
    } else if f.persistent_conn {
        let _ = writeln!(
            out,
            "{h:<33} {:<9} {:<11} {:<10} {:<10}\n  -> RemoteAddress:Port",
            "Weight", "PersistConn", "ActiveConn", "InActConn"
        );
    } else if f.tun_info {
        out.push_str(
            "Prot LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward TunnelInfo    Weight ActiveConn InActConn\n",
        );
    } else if !f.rule {
        out.push_str(
            "Prot LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n",
        );
    }
}

fn fwd_name(m: &FwdMethod) -> &'static str {
    match m {
        FwdMethod::Masq => "Masq",
        FwdMethod::Local => "Local",
        FwdMethod::Tunnel(_) => "Tunnel",
        FwdMethod::Route => "Route",
        FwdMethod::FullNat => "FullNat",
    }
}

fn fwd_switch(m: &FwdMethod) -> &'static str {
    match m {
        FwdMethod::Masq => "-m",
        FwdMethod::Tunnel(_) => "-i",
        FwdMethod::Local | FwdMethod::Route => "-g",
        FwdMethod::FullNat => "--fullnat",
    }
}

fn csum_flag(c: TunnelCsum) -> &'static str {
    match c {
        TunnelCsum::NoCsum => "-c",
        TunnelCsum::Csum => "+c",
        TunnelCsum::RemCsum => "r+c",
    }
}

fn csum_opt(c: TunnelCsum) -> &'static str {
    match c {
        TunnelCsum::NoCsum => "--tun-nocsum",
        TunnelCsum::Csum => "--tun-csum",
        TunnelCsum::RemCsum => "--tun-remcsum",
    }
}

fn tun_info(m: &FwdMethod) -> String {
    match m {
        FwdMethod::Tunnel(t) => match t.kind {
            TunnelType::Ipip => "ipip".to_string(),
            TunnelType::Gue => format!("gue:{}:{}", t.port, csum_flag(t.csum)),
            TunnelType::Gre => format!("gre:{}", csum_flag(t.csum)),
        },
        _ => "n/a".to_string(),
    }
}

/// Scheduler flag names as ipvsadm prints them (listing and `-b`).
pub fn sched_flag_names(sched: &str, f: &lvs_proto::SchedFlags) -> String {
    let mut parts: Vec<&str> = Vec::new();
    if f.flag1 {
        parts.push(match sched {
            "sh" => "sh-fallback",
            "mh" => "mh-fallback",
            _ => "flag-1",
        });
    }
    if f.flag2 {
        parts.push(match sched {
            "sh" => "sh-port",
            "mh" => "mh-port",
            _ => "flag-2",
        });
    }
    if f.flag3 {
        parts.push("flag-3");
    }
    parts.join(",")
}

fn mask_text(family: Family, netmask: u32) -> Option<String> {
    match family {
        Family::Inet => {
            (netmask != 0xffff_ffff).then(|| std::net::Ipv4Addr::from(netmask).to_string())
        }
        Family::Inet6 => (netmask != 128).then(|| netmask.to_string()),
    }
}

/// The service's name column (`TCP  addr:port`, `FWM  7`, or `-t addr:port` in
/// rules).
fn service_name(svc: &ServiceEntry, f: &Format, r: &dyn Resolver) -> String {
    match svc.spec.key {
        ServiceKey::Fwmark { mark, family } => {
            let m = mark as i32;
            match (f.rule, family) {
                (true, Family::Inet6) => format!("-f {m} -6"),
                (true, Family::Inet) => format!("-f {m}"),
                (false, Family::Inet6) => format!("FWM  {m} IPv6"),
                (false, Family::Inet) => format!("FWM  {m}"),
            }
        }
        ServiceKey::Addr {
            protocol,
            addr,
            port,
        } => {
            let v = addrport(addr, port, Some(protocol), f.numeric, r);
            if f.rule {
                let opt = match protocol {
                    Protocol::Tcp => "-t",
                    Protocol::Udp => "-u",
                    Protocol::Sctp => "--sctp-service",
                };
                format!("{opt} {v}")
            } else {
                let mut s = format!("{:<4} {v}", protocol.name());
                if addr.is_ipv4() {
                    cut(&mut s, 33);
                }
                s
            }
        }
    }
}

/// `print_service_entry`: one service and its destinations (sorted unless
/// `--nosort`).
pub fn service_entry(out: &mut String, svc: &ServiceEntry, f: &Format, r: &dyn Resolver) {
    let spec = &svc.spec;
    let family = spec.key.family();
    let name = service_name(svc, f, r);
    let flags = sched_flag_names(&spec.scheduler, &spec.sched_flags);
    if f.rule {
        let _ = write!(out, "-A {name} -s {}", spec.scheduler);
        if spec.persistent {
            let _ = write!(out, " -p {}", spec.timeout);
            if let Some(m) = mask_text(family, spec.netmask) {
                let _ = write!(out, " -M {m}");
            }
        }
        if let Some(pe) = &spec.pe_name {
            let _ = write!(out, " --pe {pe}");
        }
        if spec.ops {
            out.push_str(" -o");
        }
        if !flags.is_empty() {
            let _ = write!(out, " -b {flags}");
        }
    } else if f.stats || f.rate {
        let _ = write!(out, "{name:<33}");
        let st = &svc.stats;
        let nums = if f.stats {
            [st.conns, st.inpkts, st.outpkts, st.inbytes, st.outbytes]
        } else {
            [st.cps, st.inpps, st.outpps, st.inbps, st.outbps]
        };
        for n in nums {
            largenum(out, n, f.exact);
        }
    } else {
        let _ = write!(out, "{name} {}", spec.scheduler);
        if !flags.is_empty() {
            let _ = write!(out, " ({flags})");
        }
        if spec.persistent {
            let _ = write!(out, " persistent {}", spec.timeout);
            if let Some(m) = mask_text(family, spec.netmask) {
                let _ = write!(out, " mask {m}");
            }
            if let Some(pe) = &spec.pe_name {
                let _ = write!(out, " pe {pe}");
            }
        }
        if spec.ops {
            out.push_str(" ops");
        }
    }
    out.push('\n');

    let mut dests: Vec<&DestEntry> = svc.dests.iter().collect();
    if !f.nosort {
        glibc_msort(&mut dests, |a, b| cmp_dests(a, b));
    }
    let proto = spec.key.protocol();
    for d in dests {
        let ds = &d.spec;
        let mut dname = addrport(ds.addr, ds.port, proto, f.numeric, r);
        if !f.rule && ds.addr.is_ipv4() {
            cut(&mut dname, 28);
        }
        if f.rule {
            let _ = write!(
                out,
                "-a {name} -r {dname} {} -w {}",
                fwd_switch(&ds.fwd),
                ds.weight
            );
            if let FwdMethod::Tunnel(t) = &ds.fwd {
                match t.kind {
                    TunnelType::Ipip => out.push_str(" --tun-type ipip"),
                    TunnelType::Gue => {
                        let _ = write!(
                            out,
                            " --tun-type gue --tun-port {} {}",
                            t.port,
                            csum_opt(t.csum)
                        );
                    }
                    TunnelType::Gre => {
                        let _ = write!(out, " --tun-type gre {}", csum_opt(t.csum));
                    }
                }
            }
            // lvs-rs extension: ipvsadm forgets the thresholds, which its own -R
            // accepts; they are saved when set (a zero threshold prints nothing,
            // so tables without thresholds save byte-identically).
            if ds.u_threshold != 0 {
                let _ = write!(out, " -x {}", ds.u_threshold);
            }
            if ds.l_threshold != 0 {
                let _ = write!(out, " -y {}", ds.l_threshold);
            }
            out.push('\n');
        } else if f.stats {
            let _ = write!(out, "  -> {dname:<28}");
            let st = &d.stats;
            for n in [st.conns, st.inpkts, st.outpkts, st.inbytes, st.outbytes] {
                largenum(out, n, f.exact);
            }
            out.push('\n');
        } else if f.rate {
            let st = &d.stats;
            let _ = write!(
                out,
                "  -> {dname:<28} {:>8} {:>8} {:>8}",
                st.cps, st.inpps, st.outpps
            );
            largenum(out, st.inbps, f.exact);
            largenum(out, st.outbps, f.exact);
            out.push('\n');
        } else if f.thresholds {
            let _ = writeln!(
                out,
                "  -> {dname:<28} {:<10} {:<10} {:<10} {:<10}",
                ds.u_threshold, ds.l_threshold, d.active_conns, d.inact_conns
            );
        } else if f.persistent_conn {
            let _ = writeln!(
                out,
                "  -> {dname:<28} {:<9} {:<11} {:<10} {:<10}",
                ds.weight as u32, d.persist_conns, d.active_conns, d.inact_conns
            );
        } else if f.tun_info {
            let _ = writeln!(
                out,
                "  -> {dname:<28} {:<7} {:<13} {:<6} {:<10} {:<10}",
                fwd_name(&ds.fwd),
                tun_info(&ds.fwd),
                ds.weight,
                d.active_conns,
                d.inact_conns
            );
        } else {
            let _ = writeln!(
                out,
                "  -> {dname:<28} {:<7} {:<6} {:<10} {:<10}",
                fwd_name(&ds.fwd),
                ds.weight,
                d.active_conns,
                d.inact_conns
            );
        }
    }
}

/// `list_all` (and `-S`): banner unless saving, title, every service.
pub fn list_all(
    out: &mut String,
    info: &Info,
    services: &[ServiceEntry],
    f: &Format,
    r: &dyn Resolver,
) {
    if !f.rule {
        banner(out, info);
    }
    list_body(out, services, f, r);
}

/// [`list_all`] without the banner: title and services, sorted unless
/// `--nosort`.
pub fn list_body(out: &mut String, services: &[ServiceEntry], f: &Format, r: &dyn Resolver) {
    let mut svcs: Vec<&ServiceEntry> = services.iter().collect();
    if !f.nosort {
        glibc_msort(&mut svcs, |a, b| cmp_services(a, b));
    }
    title(out, f);
    for s in svcs {
        service_entry(out, s, f, r);
    }
}

/// `list_service`: title and one service.
pub fn list_service(out: &mut String, svc: &ServiceEntry, f: &Format, r: &dyn Resolver) {
    title(out, f);
    service_entry(out, svc, f, r);
}

/// `list_timeout`.
pub fn timeouts(out: &mut String, t: &Timeouts) {
    let _ = writeln!(
        out,
        "Timeout (tcp tcpfin udp): {} {} {}",
        t.tcp as i32, t.tcp_fin as i32, t.udp as i32
    );
}

/// `list_daemon`: master first, then backup.
pub fn daemons(out: &mut String, ds: &[DaemonEntry]) {
    for state in [
        lvs_proto::DaemonState::Master,
        lvs_proto::DaemonState::Backup,
    ] {
        for d in ds.iter().filter(|d| d.state == state) {
            let _ = write!(
                out,
                "{} sync daemon (mcast={}, syncid={}",
                d.state.name(),
                d.mcast_ifn,
                d.syncid
            );
            if let Some(m) = d.sync_maxlen {
                let _ = write!(out, ", maxlen={m}");
            }
            if let Some(g) = d.mcast_group {
                let _ = write!(out, ", group={g}");
            }
            if let Some(p) = d.mcast_port {
                let _ = write!(out, ", port={p}");
            }
            if let Some(t) = d.mcast_ttl {
                let _ = write!(out, ", ttl={t}");
            }
            out.push_str(")\n");
        }
    }
}

/// `list_conn`: the connection table, in the daemon's order.
pub fn connections(out: &mut String, conns: &[ConnEntry], f: &Format, r: &dyn Resolver) {
    out.push_str("IPVS connection entries\n");
    if f.persistent_conn {
        let _ = writeln!(
            out,
            "pro expire {:<11} {:<18} {:<18} {:<18} {:<16} pe_data",
            "state", "source", "virtual", "destination", "pe name"
        );
    } else {
        let _ = writeln!(
            out,
            "pro expire {:<11} {:<18} {:<18} destination",
            "state", "source", "virtual"
        );
    }
    for c in conns {
        let proto = match c.protocol {
            ConnProtocol::Tcp => Some(Protocol::Tcp),
            ConnProtocol::Udp => Some(Protocol::Udp),
            ConnProtocol::Sctp => Some(Protocol::Sctp),
            ConnProtocol::Ip => None,
        };
        let cname = addrport(c.caddr, c.cport, proto, f.numeric, r);
        let vname = addrport(c.vaddr, c.vport, proto, f.numeric, r);
        let dname = addrport(c.daddr, c.dport, proto, f.numeric, r);
        let expire = format!("{:02}:{:02}", c.expires / 60, c.expires % 60);
        let p = c.protocol.name();
        match (&c.pe_name, &c.pe_data) {
            (Some(pn), Some(pd)) if f.persistent_conn => {
                let _ = writeln!(
                    out,
                    "{p:<3} {expire:<6} {:<11} {cname:<18} {vname:<18} {dname:<16} {pn:<18} {pd}",
                    c.state
                );
            }
            _ => {
                let _ = writeln!(
                    out,
                    "{p:<3} {expire:<6} {:<11} {cname:<18} {vname:<18} {dname}",
                    c.state
                );
            }
        }
    }
}

/// The four big-endian 32-bit words of an address as libipvs stores it
/// (IPv4 in the first word).
fn words(a: &IpAddr) -> [u32; 4] {
    match a {
        IpAddr::V4(v4) => [u32::from(*v4), 0, 0, 0],
        IpAddr::V6(v6) => {
            let s = v6.segments();
            let w = |i: usize| (u32::from(s[2 * i]) << 16) | u32::from(s[2 * i + 1]);
            [w(0), w(1), w(2), w(3)]
        }
    }
}

/// C `int r = (u32)a - (u32)b`.
fn diff32(a: u32, b: u32) -> i32 {
    a.wrapping_sub(b) as i32
}

/// libipvs `ipvs_cmp_services`.
pub fn cmp_services(a: &ServiceEntry, b: &ServiceEntry) -> i32 {
    let parts = |s: &ServiceEntry| -> (u32, i32, i32, [u32; 4], i32) {
        match s.spec.key {
            ServiceKey::Fwmark { mark, family } => (mark, i32::from(family.af()), 0, [0; 4], 0),
            ServiceKey::Addr {
                protocol,
                addr,
                port,
            } => (
                0,
                i32::from(Family::of(&addr).af()),
                i32::from(protocol.number()),
                words(&addr),
                i32::from(port),
            ),
        }
    };
    let (m1, af1, p1, a1, port1) = parts(a);
    let (m2, af2, p2, a2, port2) = parts(b);
    let mut r = diff32(m1, m2);
    if r != 0 {
        return r;
    }
    r = af1 - af2;
    if r != 0 {
        return r;
    }
    r = p1 - p2;
    if r != 0 {
        return r;
    }
    if af1 == i32::from(Family::Inet6.af()) {
        for i in 0..4 {
            r = diff32(a1[i], a2[i]);
            if r != 0 {
                break;
            }
        }
    } else {
        r = diff32(a1[0], a2[0]);
    }
    if r != 0 {
        return r;
    }
    port1 - port2
}

/// libipvs `ipvs_cmp_dests` (the first entry's family decides how many
/// address words are compared).
pub fn cmp_dests(a: &DestEntry, b: &DestEntry) -> i32 {
    let (a1, a2) = (words(&a.spec.addr), words(&b.spec.addr));
    let mut r = 0;
    if a.spec.addr.is_ipv6() {
        for i in 0..4 {
            r = diff32(a1[i], a2[i]);
            if r != 0 {
                break;
            }
        }
    } else {
        r = diff32(a1[0], a2[0]);
    }
    if r != 0 {
        return r;
    }
    i32::from(a.spec.port) - i32::from(b.spec.port)
}

/// glibc's `qsort` for these sizes: a top-down merge sort that splits `n` into
/// `n/2` and `n - n/2` and takes from the left run while `cmp <= 0`. With a
/// consistent comparator this is a stable sort; with libipvs's wrapping
/// comparators it gives the order glibc gives.
pub fn glibc_msort<T: Copy>(v: &mut [T], cmp: impl Fn(&T, &T) -> i32) {
    let mut tmp: Vec<T> = v.to_vec();
    msort_rec(v, &mut tmp, &cmp);
}

fn msort_rec<T: Copy>(b: &mut [T], tmp: &mut [T], cmp: &impl Fn(&T, &T) -> i32) {
    let n = b.len();
    if n <= 1 {
        return;
    }
    let n1 = n / 2;
    {
        let (l, r) = b.split_at_mut(n1);
        let (tl, tr) = tmp.split_at_mut(n1);
        msort_rec(l, tl, cmp);
        msort_rec(r, tr, cmp);
    }
    let (mut i, mut j, mut k) = (0, n1, 0);
    while i < n1 && j < n {
        if cmp(&b[i], &b[j]) <= 0 {
            tmp[k] = b[i];
            i += 1;
        } else {
            tmp[k] = b[j];
            j += 1;
        }
        k += 1;
    }
    while i < n1 {
        tmp[k] = b[i];
        i += 1;
        k += 1;
    }
    // The rest of the right run is already in place.
    b[..k].copy_from_slice(&tmp[..k]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ln(n: u64, exact: bool) -> String {
        let mut s = String::new();
        largenum(&mut s, n, exact);
        s
    }

    #[test]
    fn largenum_scaling_worked_by_hand() {
        // The rule (reference §2.2): %9llu below 10^8, then %8llu + unit.
        assert_eq!(ln(0, false), "        0");
        assert_eq!(ln(99_999_999, false), " 99999999");
        assert_eq!(ln(100_000_000, false), "  100000K");
        assert_eq!(ln(999_999_999, false), "  999999K");
        assert_eq!(ln(1_000_000_000, false), "    1000M");
        assert_eq!(ln(99_999_999_999, false), "   99999M");
        assert_eq!(ln(100_000_000_000, false), "     100G");
        assert_eq!(ln(99_999_999_999_999, false), "   99999G");
        assert_eq!(ln(100_000_000_000_000, false), "     100T");
        assert_eq!(ln(u64::MAX, false), "18446744T");
        assert_eq!(ln(12, true), "       12");
        assert_eq!(ln(12_345_678, true), " 12345678");
        assert_eq!(ln(123_456_789, true), " 123456789");
        assert_eq!(ln(u64::MAX, true), " 18446744073709551615");
    }

    proptest! {
        #[test]
        fn largenum_is_nine_wide_below_a_billion_digits(n in 0u64..100_000_000_000_000_000) {
            // Without --exact every value takes exactly 9 columns.
            prop_assert_eq!(ln(n, false).len(), 9);
        }

        #[test]
        fn exact_reads_back(n: u64) {
            let s = ln(n, true);
            prop_assert!(s.starts_with(' '));
            prop_assert_eq!(s.trim_start().parse::<u64>().unwrap(), n);
        }

        #[test]
        fn msort_is_a_stable_sort_for_consistent_comparators(v in proptest::collection::vec((0u8..8, 0u16..1000), 0..60)) {
            let mut a: Vec<(u8, u16)> = v.clone();
            glibc_msort(&mut a, |x, y| i32::from(x.0) - i32::from(y.0));
            let mut b = v;
            b.sort_by_key(|x| x.0);
            prop_assert_eq!(a, b);
        }
    }

    #[test]
    fn ntop_matches_glibc_forms() {
        let n = |s: &str| ntop(&s.parse().unwrap());
        assert_eq!(n("2001:db8::1"), "2001:db8::1");
        assert_eq!(n("::"), "::");
        assert_eq!(n("::1"), "::1");
        assert_eq!(n("1::"), "1::");
        assert_eq!(n("2001:db8:0:1:0:0:0:1"), "2001:db8:0:1::1");
        assert_eq!(n("2001:0:0:1:0:0:0:1"), "2001:0:0:1::1");
        assert_eq!(n("2001:0:0:1:0:0:1:1"), "2001::1:0:0:1:1");
        assert_eq!(n("1:0:2:0:3:0:4:0"), "1:0:2:0:3:0:4:0");
        assert_eq!(n("::ffff:10.0.0.1"), "::ffff:10.0.0.1");
        assert_eq!(n("::10.0.0.1"), "::10.0.0.1");
        assert_eq!(n("::ffff:0:10.0.0.1"), "::ffff:0:a00:1");
        assert_eq!(n("10.9.0.2"), "10.9.0.2");
    }

    #[test]
    fn wrapping_comparator_puts_large_marks_first() {
        // 4294967295 - 7 wraps to a negative int: the big mark sorts first.
        assert!(diff32(u32::MAX, 7) < 0);
        assert!(
            diff32(0x0a00_0001, 0xc800_0001) > 0,
            "10.0.0.1 - 200.0.0.1 wraps positive"
        );
    }
}
