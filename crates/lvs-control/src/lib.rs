//! `lvs-control`: the director's control-plane handler. It applies
//! [`lvs_proto::Request`]s to an [`lvs_core::Ipvs`] and answers with
//! [`lvs_proto::Response`]s, exactly as the kernel's control interface
//! answers ipvsadm, so that `lvsadm` prints what ipvsadm prints.
//!
//! Contract:
//! - pure: time enters as an argument; no sockets, no threads. The daemon
//!   owns the socket and calls [`Control::handle`] for each request; tests and
//!   the demonstration program call it in-process;
//! - each request is applied whole or not at all. A
//!   [`Request::Batch`] with `atomic` is first applied to a scratch copy of the
//!   configuration (services and destinations, no connections); only when
//!   every request of the batch succeeds there is it applied to the live
//!   state, so a failed restore changes nothing;
//! - errors carry the kernel's errno kinds (`EEXIST`, `ESRCH`, `ENOENT`,
//!   `ERANGE`, `EINVAL`) as [`lvs_core::Error::errno`] gives them;
//! - sync daemons are recorded here (start/stop/list with the kernel's
//!   defaults and refusals); running them is the daemon's business.

use std::net::{IpAddr, Ipv4Addr};

use lvs_core::conn::ConnInfo;
use lvs_core::dest::{Dest, TunnelCsum as CoreCsum, TunnelType as CoreTunnel};
use lvs_core::service::ServiceFlags;
use lvs_core::stats::Stats as CoreStats;
use lvs_core::{Af, DestConfig, FwdMethod, Ipvs, ServiceConfig, ServiceKey, Time, TunnelConfig};
use lvs_proto::{
    ApiError, ConnEntry, ConnProtocol, DaemonConfig, DaemonEntry, DaemonState, DestEntry, DestSpec,
    Errno, Family, Info, NativeRequest, NativeResponse, Request, Response, SchedFlags,
    ServiceEntry, ServiceSpec, Stats, Status, Timeouts,
};

/// Connection table size reported in the banner (the kernel's default
/// `1 << CONFIG_IP_VS_TAB_BITS`).
pub const CONN_TAB_SIZE: u32 = 4096;

/// Default sync multicast group (`IP_VS_SYNC_GROUP`).
const SYNC_GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 81);
/// Default sync port (`IP_VS_SYNC_PORT`).
const SYNC_PORT: u16 = 8848;

/// The control-plane state of a director.
#[derive(Debug)]
pub struct Control {
    /// The director model.
    pub ipvs: Ipvs,
    daemons: Vec<DaemonEntry>,
    started: Time,
    server: String,
}

type Answer = Result<Response, ApiError>;

fn api_error(e: &lvs_core::Error) -> ApiError {
    ApiError::with_detail(Errno::from_number(e.errno()), e.to_string())
}

impl Control {
    /// A director with no services, started at `now`, naming itself `server`
    /// in status answers.
    pub fn new(now: Time, server: impl Into<String>) -> Control {
        Control {
            ipvs: Ipvs::new(),
            daemons: Vec::new(),
            started: now,
            server: server.into(),
        }
    }

    /// Apply one request.
    pub fn handle(&mut self, now: Time, req: Request) -> Response {
        match req {
            Request::Batch { requests, atomic } => self.batch(now, requests, atomic),
            other => self.apply(now, other).unwrap_or_else(Response::Error),
        }
    }

    fn batch(&mut self, now: Time, requests: Vec<Request>, atomic: bool) -> Response {
        if requests.iter().any(|r| matches!(r, Request::Batch { .. })) {
            return Response::Error(ApiError::with_detail(Errno::Einval, "nested batch"));
        }
        if atomic {
            // Rehearse on a copy of the configuration first.
            let mut scratch = Control {
                ipvs: config_copy(&self.ipvs),
                daemons: self.daemons.clone(),
                started: self.started,
                server: String::new(),
            };
            for (i, r) in requests.iter().enumerate() {
                if let Err(error) = scratch.apply(now, r.clone()) {
                    return Response::BatchFailed {
                        index: index_u32(i),
                        error,
                    };
                }
            }
        }
        for (i, r) in requests.into_iter().enumerate() {
            if let Err(error) = self.apply(now, r) {
                return Response::BatchFailed {
                    index: index_u32(i),
                    error,
                };
            }
        }
        Response::Ok
    }

    fn apply(&mut self, now: Time, req: Request) -> Answer {
        let core = |r: lvs_core::Result<()>| r.map(|()| Response::Ok).map_err(|e| api_error(&e));
        match req {
            Request::GetInfo => Ok(Response::Info(Info {
                version: Info::KERNEL_VERSION,
                conn_tab_size: CONN_TAB_SIZE,
            })),
            Request::AddService(spec) => {
                core(self.ipvs.add_service(service_config(&spec)).map(|_| ()))
            }
            Request::EditService(spec) => core(self.ipvs.edit_service(service_config(&spec))),
            Request::DelService(key) => core(self.ipvs.del_service(&service_key(&key), now)),
            Request::Flush => {
                self.ipvs.flush(now);
                Ok(Response::Ok)
            }
            Request::Zero(key) => core(self.ipvs.zero(key.map(|k| service_key(&k)).as_ref())),
            Request::AddDest { service, dest } => {
                self.check_sync_family(&service, &dest)?;
                core(
                    self.ipvs
                        .add_dest(&service_key(&service), dest_config(&dest))
                        .map(|_| ()),
                )
            }
            Request::EditDest { service, dest } => {
                self.check_sync_family(&service, &dest)?;
                core(
                    self.ipvs
                        .edit_dest(&service_key(&service), dest_config(&dest)),
                )
            }
            Request::DelDest { service, dest } => {
                core(
                    self.ipvs
                        .del_dest(&service_key(&service), &dest.addr, dest.port, now),
                )
            }
            Request::SetTimeouts(t) => core(self.ipvs.set_timeouts(t.tcp, t.tcp_fin, t.udp)),
            Request::GetTimeouts => {
                let (tcp, tcp_fin, udp) = self.ipvs.timeouts().get();
                Ok(Response::Timeouts(Timeouts { tcp, tcp_fin, udp }))
            }
            Request::StartDaemon(cfg) => self.start_daemon(cfg),
            Request::StopDaemon(state) => {
                let before = self.daemons.len();
                self.daemons.retain(|d| d.state != state);
                if self.daemons.len() == before {
                    Err(ApiError::new(Errno::Esrch))
                } else {
                    Ok(Response::Ok)
                }
            }
            Request::ListDaemons => Ok(Response::Daemons(self.daemons.clone())),
            Request::ListServices => {
                let ipvs = &self.ipvs;
                Ok(Response::Services(
                    ipvs.services().map(|s| service_entry(ipvs, s)).collect(),
                ))
            }
            Request::GetService(key) => {
                let svc = self
                    .ipvs
                    .service_by_key(&service_key(&key))
                    .ok_or(ApiError::new(Errno::Esrch))?;
                Ok(Response::Service(service_entry(&self.ipvs, svc)))
            }
            Request::ListConnections => {
                let mut out: Vec<ConnEntry> =
                    self.ipvs.conns().map(|c| conn_entry(&c, now)).collect();
                // The kernel walks its hash table; we list oldest expiry last
                // for a stable, readable order.
                out.sort_by_key(|c| std::cmp::Reverse(c.expires));
                Ok(Response::Connections(out))
            }
            Request::Native(NativeRequest::Status) => {
                Ok(Response::Native(NativeResponse::Status(Status {
                    server: self.server.clone(),
                    uptime_secs: now.since(self.started).as_secs(),
                    services: u32::try_from(self.ipvs.service_count()).unwrap_or(u32::MAX),
                    dests: u32::try_from(
                        self.ipvs.services().map(|s| s.dests.len()).sum::<usize>(),
                    )
                    .unwrap_or(u32::MAX),
                    connections: self.ipvs.conn_count() as u64,
                })))
            }
            Request::Native(NativeRequest::Reload | NativeRequest::Health) => {
                Err(ApiError::with_detail(
                    Errno::Einval,
                    "reload and health are answered by lvsd, not inside a batch",
                ))
            }
            Request::Batch { .. } => Err(ApiError::with_detail(Errno::Einval, "nested batch")),
        }
    }

    /// The kernel refuses a destination of the other family while a sync
    /// daemon runs (a v1 message carries one family per connection).
    fn check_sync_family(
        &self,
        service: &lvs_proto::ServiceKey,
        dest: &DestSpec,
    ) -> Result<(), ApiError> {
        if !self.daemons.is_empty() && Family::of(&dest.addr) != service.family() {
            return Err(ApiError::with_detail(
                Errno::Einval,
                "mixed address family while a sync daemon runs",
            ));
        }
        Ok(())
    }

    fn start_daemon(&mut self, cfg: DaemonConfig) -> Answer {
        if self.daemons.iter().any(|d| d.state == cfg.state) {
            return Err(ApiError::new(Errno::Eexist));
        }
        let mixed = self.ipvs.services().any(|s| {
            s.dests
                .iter()
                .filter_map(|d| self.ipvs.dest(*d))
                .any(|d| d.af() != s.config.key.af())
        });
        if mixed {
            return Err(ApiError::with_detail(
                Errno::Einval,
                "a service has destinations of the other family",
            ));
        }
        let group = cfg.mcast_group.unwrap_or(IpAddr::V4(SYNC_GROUP));
        let default_maxlen = if group.is_ipv6() { 1452 } else { 1472 };
        self.daemons.push(DaemonEntry {
            state: cfg.state,
            mcast_ifn: cfg.mcast_ifn,
            syncid: cfg.syncid,
            sync_maxlen: Some(cfg.sync_maxlen.unwrap_or(default_maxlen)),
            mcast_group: Some(group),
            mcast_port: Some(cfg.mcast_port.unwrap_or(SYNC_PORT)),
            mcast_ttl: Some(cfg.mcast_ttl.unwrap_or(1)),
        });
        self.daemons.sort_by_key(|d| match d.state {
            DaemonState::Master => 0,
            DaemonState::Backup => 1,
        });
        Ok(Response::Ok)
    }
}

fn index_u32(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX)
}

/// A copy of `ipvs`'s configuration (services, destinations in the same list
/// order, timeouts), without connections or counters.
fn config_copy(ipvs: &Ipvs) -> Ipvs {
    let mut copy = Ipvs::new();
    copy.sched_params = ipvs.sched_params;
    let (tcp, fin, udp) = ipvs.timeouts().get();
    // Cannot fail: the values come from a valid table.
    let _ = copy.set_timeouts(tcp, fin, udp);
    for svc in ipvs.services() {
        if copy.add_service(svc.config.clone()).is_err() {
            continue;
        }
        // Oldest first, so that the copy's list order (newest first) is the same.
        for d in svc.dests.iter().rev().filter_map(|d| ipvs.dest(*d)) {
            let _ = copy.add_dest(&svc.config.key, d.config);
        }
    }
    copy
}

// ---------------------------------------------------------------- conversions

/// Protocol service key → model key.
pub fn service_key(k: &lvs_proto::ServiceKey) -> ServiceKey {
    match *k {
        lvs_proto::ServiceKey::Addr {
            protocol,
            addr,
            port,
        } => ServiceKey::Addr {
            proto: match protocol {
                lvs_proto::Protocol::Tcp => lvs_core::Protocol::Tcp,
                lvs_proto::Protocol::Udp => lvs_core::Protocol::Udp,
                lvs_proto::Protocol::Sctp => lvs_core::Protocol::Sctp,
            },
            addr,
            port,
        },
        lvs_proto::ServiceKey::Fwmark { mark, family } => ServiceKey::Fwmark {
            af: match family {
                Family::Inet => Af::Inet,
                Family::Inet6 => Af::Inet6,
            },
            mark,
        },
    }
}

/// Model service key → protocol key.
pub fn proto_service_key(k: &ServiceKey) -> lvs_proto::ServiceKey {
    match *k {
        ServiceKey::Addr { proto, addr, port } => lvs_proto::ServiceKey::Addr {
            protocol: match proto {
                lvs_core::Protocol::Tcp => lvs_proto::Protocol::Tcp,
                lvs_core::Protocol::Udp => lvs_proto::Protocol::Udp,
                lvs_core::Protocol::Sctp => lvs_proto::Protocol::Sctp,
            },
            addr,
            port,
        },
        ServiceKey::Fwmark { af, mark } => lvs_proto::ServiceKey::Fwmark {
            mark,
            family: match af {
                Af::Inet => Family::Inet,
                Af::Inet6 => Family::Inet6,
            },
        },
    }
}

/// Protocol service spec → model configuration.
pub fn service_config(s: &ServiceSpec) -> ServiceConfig {
    let mut bits = 0;
    if s.persistent {
        bits |= ServiceFlags::PERSISTENT;
    }
    if s.ops {
        bits |= ServiceFlags::ONEPACKET;
    }
    if s.sched_flags.flag1 {
        bits |= ServiceFlags::SCHED1;
    }
    if s.sched_flags.flag2 {
        bits |= ServiceFlags::SCHED2;
    }
    if s.sched_flags.flag3 {
        bits |= ServiceFlags::SCHED3;
    }
    ServiceConfig {
        key: service_key(&s.key),
        scheduler: s.scheduler.clone(),
        flags: ServiceFlags(bits),
        timeout: s.timeout,
        netmask: s.netmask,
        pe_name: s.pe_name.clone(),
    }
}

fn service_spec(c: &ServiceConfig) -> ServiceSpec {
    ServiceSpec {
        key: proto_service_key(&c.key),
        scheduler: c.scheduler.clone(),
        persistent: c.flags.has(ServiceFlags::PERSISTENT),
        timeout: c.timeout,
        netmask: c.netmask,
        ops: c.flags.has(ServiceFlags::ONEPACKET),
        sched_flags: SchedFlags {
            flag1: c.flags.has(ServiceFlags::SCHED1),
            flag2: c.flags.has(ServiceFlags::SCHED2),
            flag3: c.flags.has(ServiceFlags::SCHED3),
        },
        pe_name: c.pe_name.clone(),
    }
}

/// Protocol destination spec → model configuration.
pub fn dest_config(d: &DestSpec) -> DestConfig {
    let fwd = match d.fwd {
        lvs_proto::FwdMethod::Masq => FwdMethod::Masq,
        lvs_proto::FwdMethod::Local => FwdMethod::Local,
        lvs_proto::FwdMethod::Route => FwdMethod::Route,
        lvs_proto::FwdMethod::FullNat => FwdMethod::FullNat,
        lvs_proto::FwdMethod::Tunnel(t) => FwdMethod::Tunnel(TunnelConfig {
            kind: match t.kind {
                lvs_proto::TunnelType::Ipip => CoreTunnel::Ipip,
                lvs_proto::TunnelType::Gue => CoreTunnel::Gue,
                lvs_proto::TunnelType::Gre => CoreTunnel::Gre,
            },
            port: t.port,
            csum: match t.csum {
                lvs_proto::TunnelCsum::NoCsum => CoreCsum::NoCsum,
                lvs_proto::TunnelCsum::Csum => CoreCsum::Csum,
                lvs_proto::TunnelCsum::RemCsum => CoreCsum::RemCsum,
            },
        }),
    };
    DestConfig {
        addr: d.addr,
        port: d.port,
        fwd,
        weight: d.weight,
        u_threshold: d.u_threshold,
        l_threshold: d.l_threshold,
    }
}

fn dest_spec(c: &DestConfig) -> DestSpec {
    let fwd = match c.fwd {
        FwdMethod::Masq => lvs_proto::FwdMethod::Masq,
        FwdMethod::Local => lvs_proto::FwdMethod::Local,
        FwdMethod::Route => lvs_proto::FwdMethod::Route,
        FwdMethod::FullNat => lvs_proto::FwdMethod::FullNat,
        FwdMethod::Tunnel(t) => lvs_proto::FwdMethod::Tunnel(lvs_proto::TunnelSpec {
            kind: match t.kind {
                CoreTunnel::Ipip => lvs_proto::TunnelType::Ipip,
                CoreTunnel::Gue => lvs_proto::TunnelType::Gue,
                CoreTunnel::Gre => lvs_proto::TunnelType::Gre,
            },
            port: t.port,
            csum: match t.csum {
                CoreCsum::NoCsum => lvs_proto::TunnelCsum::NoCsum,
                CoreCsum::Csum => lvs_proto::TunnelCsum::Csum,
                CoreCsum::RemCsum => lvs_proto::TunnelCsum::RemCsum,
            },
        }),
    };
    DestSpec {
        addr: c.addr,
        port: c.port,
        fwd,
        weight: c.weight,
        u_threshold: c.u_threshold,
        l_threshold: c.l_threshold,
    }
}

fn stats(s: &CoreStats) -> Stats {
    let r = s.rates();
    Stats {
        conns: s.counters.conns,
        inpkts: s.counters.inpkts,
        outpkts: s.counters.outpkts,
        inbytes: s.counters.inbytes,
        outbytes: s.counters.outbytes,
        cps: r.cps,
        inpps: r.inpps,
        outpps: r.outpps,
        inbps: r.inbps,
        outbps: r.outbps,
    }
}

fn dest_entry(d: &Dest) -> DestEntry {
    DestEntry {
        spec: dest_spec(&d.config),
        active_conns: d.activeconns,
        inact_conns: d.inactconns,
        persist_conns: d.persistconns,
        stats: stats(&d.stats),
    }
}

fn service_entry(ipvs: &Ipvs, s: &lvs_core::ipvs::Service) -> ServiceEntry {
    ServiceEntry {
        spec: service_spec(&s.config),
        stats: stats(&s.stats),
        dests: s
            .dests
            .iter()
            .filter_map(|d| ipvs.dest(*d))
            .map(dest_entry)
            .collect(),
    }
}

fn conn_entry(c: &ConnInfo, now: Time) -> ConnEntry {
    let protocol = match lvs_core::Protocol::from_number(c.protocol) {
        Some(lvs_core::Protocol::Tcp) => ConnProtocol::Tcp,
        Some(lvs_core::Protocol::Udp) => ConnProtocol::Udp,
        Some(lvs_core::Protocol::Sctp) => ConnProtocol::Sctp,
        None => ConnProtocol::Ip,
    };
    ConnEntry {
        protocol,
        caddr: c.caddr,
        cport: c.cport,
        vaddr: c.vaddr,
        vport: c.vport,
        daddr: c.daddr,
        dport: c.dport,
        state: c.state_name().to_owned(),
        expires: u32::try_from(c.expires_in_secs(now)).unwrap_or(u32::MAX),
        pe_name: c.pe_name().map(str::to_owned),
        pe_data: None,
    }
}

/// Runs one `ipvsadm` invocation (`args`, without the program name) against
/// `control` in process, feeding `stdin` to `-R`; returns the exit status,
/// standard output and standard error. This is what `lvsadm` does over the
/// socket, without the socket: the demonstration program and tests use it.
pub fn run_ipvsadm(
    control: &mut Control,
    now: Time,
    args: &[&str],
    stdin: &str,
) -> (i32, String, String) {
    struct InProcess<'a> {
        control: &'a mut Control,
        now: Time,
    }
    impl lvs_ipvsadm::Backend for InProcess<'_> {
        fn connect(&mut self) -> Result<Info, lvs_ipvsadm::ConnectError> {
            match self.control.handle(self.now, Request::GetInfo) {
                Response::Info(i) => Ok(i),
                other => Err(lvs_ipvsadm::ConnectError::Unavailable(format!(
                    "unexpected answer {other:?}"
                ))),
            }
        }
        fn call(&mut self, req: Request) -> Result<Response, lvs_ipvsadm::TransportError> {
            Ok(self.control.handle(self.now, req))
        }
    }
    let argv: Vec<String> = std::iter::once("ipvsadm")
        .chain(args.iter().copied())
        .map(String::from)
        .collect();
    let mut input = stdin.as_bytes();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let mut io = lvs_ipvsadm::Io {
        stdin: &mut input,
        stdout: &mut out,
        stderr: &mut err,
    };
    let mut backend = InProcess { control, now };
    let rc = lvs_ipvsadm::run(
        &argv,
        &mut io,
        &mut backend,
        &lvs_ipvsadm::NoNames,
        lvs_ipvsadm::RunOptions::default(),
    );
    (
        rc,
        String::from_utf8_lossy(&out).into_owned(),
        String::from_utf8_lossy(&err).into_owned(),
    )
}

#[cfg(test)]
mod tests;
