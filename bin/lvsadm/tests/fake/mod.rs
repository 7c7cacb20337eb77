#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

//! A small in-test lvsd: speaks the lvs-proto protocol on a Unix socket and
//! keeps a tiny IPVS table with the kernel's refusals (EEXIST, ESRCH, ENOENT,
//! ERANGE, ENODEV), enough to drive `lvsadm` through ipvsadm command lines.

use std::net::IpAddr;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

use lvs_proto::*;

const SCHEDULERS: &[&str] = &[
    "rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh",
];

/// The table.
#[derive(Debug, Clone)]
pub struct Table {
    pub services: Vec<ServiceEntry>,
    pub timeouts: Timeouts,
    pub daemons: Vec<DaemonEntry>,
    /// Interfaces that exist (sync daemons).
    pub interfaces: Vec<String>,
}

impl Table {
    /// ipvsadm-capture's base state: `-A -t 10.0.0.1:80 -s wlc`,
    /// `-a -t 10.0.0.1:80 -r 10.0.0.11:80 -g -w 1`, default timeouts.
    pub fn base() -> Table {
        let key = ServiceKey::Addr {
            protocol: Protocol::Tcp,
            addr: "10.0.0.1".parse().unwrap(),
            port: 80,
        };
        Table {
            services: vec![ServiceEntry {
                spec: ServiceSpec {
                    key,
                    scheduler: "wlc".into(),
                    persistent: false,
                    timeout: 0,
                    netmask: 0xffff_ffff,
                    ops: false,
                    sched_flags: SchedFlags::default(),
                    pe_name: None,
                },
                stats: Stats::default(),
                dests: vec![dest(DestSpec {
                    addr: "10.0.0.11".parse().unwrap(),
                    port: 80,
                    fwd: FwdMethod::Route,
                    weight: 1,
                    u_threshold: 0,
                    l_threshold: 0,
                })],
            }],
            timeouts: Timeouts {
                tcp: 900,
                tcp_fin: 120,
                udp: 300,
            },
            daemons: Vec::new(),
            interfaces: vec!["lo".into()],
        }
    }

    fn find(&mut self, k: &ServiceKey) -> Option<&mut ServiceEntry> {
        self.services.iter_mut().find(|s| &s.spec.key == k)
    }

    fn check_spec(spec: &ServiceSpec) -> Result<(), Errno> {
        if !SCHEDULERS.contains(&spec.scheduler.as_str()) {
            return Err(Errno::Enoent);
        }
        if spec.pe_name.as_deref().is_some_and(|p| p != "sip") {
            return Err(Errno::Enoent);
        }
        Ok(())
    }

    fn check_dest(d: &DestSpec) -> Result<(), Errno> {
        if d.weight < 0 || d.l_threshold > d.u_threshold {
            return Err(Errno::Erange);
        }
        Ok(())
    }

    /// Applies one change, as the kernel would.
    pub fn apply(&mut self, req: &Request) -> Result<(), Errno> {
        match req {
            Request::AddService(spec) => {
                if self.find(&spec.key).is_some() {
                    return Err(Errno::Eexist);
                }
                Self::check_spec(spec)?;
                self.services.push(ServiceEntry {
                    spec: spec.clone(),
                    stats: Stats::default(),
                    dests: Vec::new(),
                });
            }
            Request::EditService(spec) => {
                Self::check_spec(spec)?;
                let s = self.find(&spec.key).ok_or(Errno::Esrch)?;
                s.spec = spec.clone();
            }
            Request::DelService(k) => {
                let n = self.services.len();
                self.services.retain(|s| &s.spec.key != k);
                if n == self.services.len() {
                    return Err(Errno::Esrch);
                }
            }
            Request::Flush => self.services.clear(),
            Request::Zero(None) => {}
            Request::Zero(Some(k)) => {
                self.find(k).ok_or(Errno::Esrch)?;
            }
            Request::AddDest { service, dest: d } => {
                let s = self.find(service).ok_or(Errno::Esrch)?;
                if s.dests.iter().any(|x| x.spec.key() == d.key()) {
                    return Err(Errno::Eexist);
                }
                Self::check_dest(d)?;
                s.dests.insert(0, dest(*d));
            }
            Request::EditDest { service, dest: d } => {
                let s = self.find(service).ok_or(Errno::Esrch)?;
                let x = s
                    .dests
                    .iter_mut()
                    .find(|x| x.spec.key() == d.key())
                    .ok_or(Errno::Enoent)?;
                Self::check_dest(d)?;
                x.spec = *d;
            }
            Request::DelDest { service, dest: k } => {
                let s = self.find(service).ok_or(Errno::Esrch)?;
                let n = s.dests.len();
                s.dests.retain(|x| x.spec.key() != *k);
                if n == s.dests.len() {
                    return Err(Errno::Enoent);
                }
            }
            Request::SetTimeouts(t) => {
                if t.tcp != 0 {
                    self.timeouts.tcp = t.tcp;
                }
                if t.tcp_fin != 0 {
                    self.timeouts.tcp_fin = t.tcp_fin;
                }
                if t.udp != 0 {
                    self.timeouts.udp = t.udp;
                }
            }
            Request::StartDaemon(c) => {
                if self.daemons.iter().any(|d| d.state == c.state) {
                    return Err(Errno::Eexist);
                }
                if !self.interfaces.contains(&c.mcast_ifn) {
                    return Err(Errno::Enodev);
                }
                let v6 = matches!(c.mcast_group, Some(IpAddr::V6(_)));
                self.daemons.push(DaemonEntry {
                    state: c.state,
                    mcast_ifn: c.mcast_ifn.clone(),
                    syncid: c.syncid,
                    sync_maxlen: Some(c.sync_maxlen.unwrap_or(if v6 { 1452 } else { 1472 })),
                    mcast_group: Some(c.mcast_group.unwrap_or("224.0.0.81".parse().unwrap())),
                    mcast_port: Some(c.mcast_port.unwrap_or(8848)),
                    mcast_ttl: Some(c.mcast_ttl.unwrap_or(1)),
                });
            }
            Request::StopDaemon(state) => {
                let n = self.daemons.len();
                self.daemons.retain(|d| d.state != *state);
                if n == self.daemons.len() {
                    return Err(Errno::Esrch);
                }
            }
            _ => return Err(Errno::Einval),
        }
        Ok(())
    }

    /// Answers one request.
    pub fn answer(&mut self, req: Request) -> Response {
        match req {
            Request::GetInfo => Response::Info(Info {
                version: Info::KERNEL_VERSION,
                conn_tab_size: 4096,
            }),
            Request::ListServices => Response::Services(self.services.clone()),
            Request::GetService(k) => match self.find(&k) {
                Some(s) => Response::Service(s.clone()),
                None => Response::Error(ApiError::new(Errno::Esrch)),
            },
            Request::ListConnections => Response::Connections(Vec::new()),
            Request::GetTimeouts => Response::Timeouts(self.timeouts),
            Request::ListDaemons => Response::Daemons(self.daemons.clone()),
            Request::Batch { requests, atomic } => {
                let mut work = self.clone();
                for (i, r) in requests.iter().enumerate() {
                    if let Err(e) = work.apply(r) {
                        if !atomic {
                            *self = work;
                        }
                        return Response::BatchFailed {
                            index: i as u32,
                            error: ApiError::new(e),
                        };
                    }
                }
                *self = work;
                Response::Ok
            }
            Request::Native(NativeRequest::Status) => {
                Response::Native(NativeResponse::Status(Status {
                    server: "fake lvsd".into(),
                    uptime_secs: 7,
                    services: self.services.len() as u32,
                    dests: self.services.iter().map(|s| s.dests.len() as u32).sum(),
                    connections: 0,
                }))
            }
            other => match self.apply(&other) {
                Ok(()) => Response::Ok,
                Err(e) => Response::Error(ApiError::new(e)),
            },
        }
    }
}

fn dest(spec: DestSpec) -> DestEntry {
    DestEntry {
        spec,
        active_conns: 0,
        inact_conns: 0,
        persist_conns: 0,
        stats: Stats::default(),
    }
}

/// A running fake daemon.
pub struct Server {
    pub path: PathBuf,
    pub table: Arc<Mutex<Table>>,
    pub requests: Arc<Mutex<Vec<Request>>>,
}

static SEQ: AtomicUsize = AtomicUsize::new(0);

impl Server {
    /// Listens on a fresh socket path with `table`.
    pub fn start(table: Table) -> Server {
        Server::start_with(table, PROTO_VERSION)
    }

    /// Same, announcing protocol `version` (to test mismatches).
    pub fn start_with(table: Table, version: u32) -> Server {
        let n = SEQ.fetch_add(1, Ordering::SeqCst);
        let path =
            std::env::temp_dir().join(format!("lvsadm-test-{}-{n}.sock", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path).unwrap();
        let table = Arc::new(Mutex::new(table));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (t, rq) = (table.clone(), requests.clone());
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut s) = stream else { return };
                let (t, rq) = (t.clone(), rq.clone());
                thread::spawn(move || {
                    if version != PROTO_VERSION {
                        let _: Result<Hello, _> = read_frame(&mut s);
                        let _ = write_frame(
                            &mut s,
                            &Welcome::Rejected {
                                version,
                                server: "lvsd (test)".into(),
                            },
                        );
                        return;
                    }
                    if accept_handshake(&mut s, "lvsd (test)").is_err() {
                        return;
                    }
                    while let Ok(req) = read_frame::<_, Request>(&mut s) {
                        rq.lock().unwrap().push(req.clone());
                        let resp = t.lock().unwrap().answer(req);
                        if write_frame(&mut s, &resp).is_err() {
                            return;
                        }
                    }
                });
            }
        });
        Server {
            path,
            table,
            requests,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
