//! lvsadm's own subcommands (invoked as `lvsadm SUBCOMMAND ...`).
//!
//! A subcommand is a first argument that does not start with `-`, so it can
//! never be mistaken for an ipvsadm command line (ipvsadm's first argument is
//! always an option). Add new ones to [`SUBCOMMANDS`].
//!
//! - `status [--json]`: daemon summary.
//! - `vrrp`: the VRRP instances of lvsd (`NAME STATE PRIORITY INTERFACE
//!   VIPS`), read from the status file lvsd keeps next to its socket
//!   (`SOCKET.vrrp`); exit 1 when lvsd runs no VRRP instance.
//! - `reload`: lvsd re-reads the keepalived.conf it was started with
//!   (`--config`) and applies only the difference, as on SIGHUP; prints
//!   its diagnostics on standard error and a summary on standard output.
//!   Exit 0 when the new configuration runs, 1 when it was rejected (the
//!   previous one keeps running), 2 when lvsd cannot be reached.
//! - `health [--json]`: lvsd's health checks, one row per checker
//!   (see [`crate::health`]).

use std::io::Write;

use lvs_ipvsadm::run::{Backend, ConnectError};
use lvs_proto::{NativeRequest, NativeResponse, Request, Response};

use crate::backend::SocketBackend;

type Handler = fn(&[String]) -> i32;

/// Name, one-line help, handler.
const SUBCOMMANDS: &[(&str, &str, Handler)] = &[
    ("status", "status [--json]   daemon summary", status),
    (
        "vrrp",
        "vrrp             VRRP instances: state, priority, VIPs",
        vrrp,
    ),
    (
        "reload",
        "reload           re-read lvsd's keepalived.conf, apply the difference",
        reload,
    ),
    (
        "health",
        "health [--json]  health checks: state, failures, last reason, weight",
        crate::health::health,
    ),
];

/// Runs a native subcommand if `argv[1]` names one.
pub fn dispatch(argv: &[String]) -> Option<i32> {
    let sub = argv.get(1)?;
    if sub.starts_with('-') {
        return None;
    }
    match SUBCOMMANDS.iter().find(|(n, _, _)| n == sub) {
        Some((_, _, h)) => Some(h(&argv[2..])),
        None if sub == "help" => {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "lvsadm SUBCOMMAND, or any ipvsadm command line:");
            for (_, help, _) in SUBCOMMANDS {
                let _ = writeln!(out, "  lvsadm {help}");
            }
            Some(0)
        }
        None => None,
    }
}

pub(crate) fn connect() -> Result<SocketBackend, i32> {
    let mut b = SocketBackend::from_env();
    match b.connect() {
        Ok(_) => Ok(b),
        Err(ConnectError::Unavailable(d) | ConnectError::VersionMismatch(d)) => {
            eprintln!("lvsadm: {d}");
            Err(2)
        }
        Err(ConnectError::Refused(errno)) => {
            eprintln!("lvsadm: lvsd refused: {}", errno.strerror());
            Err(2)
        }
    }
}

fn status(args: &[String]) -> i32 {
    let json = match args {
        [] => false,
        [a] if a == "--json" => true,
        _ => {
            eprintln!("usage: lvsadm status [--json]");
            return 2;
        }
    };
    let mut b = match connect() {
        Ok(b) => b,
        Err(c) => return c,
    };
    match b.call(Request::Native(NativeRequest::Status)) {
        Ok(Response::Native(NativeResponse::Status(s))) => {
            let mut out = std::io::stdout().lock();
            if json {
                match serde_json::to_string_pretty(&s) {
                    Ok(t) => {
                        let _ = writeln!(out, "{t}");
                    }
                    Err(e) => {
                        eprintln!("lvsadm: {e}");
                        return 1;
                    }
                }
            } else {
                let _ = writeln!(
                    out,
                    "{}: up {} s, {} services, {} destinations, {} connections",
                    s.server, s.uptime_secs, s.services, s.dests, s.connections
                );
            }
            0
        }
        Ok(Response::Error(e)) => {
            eprintln!("lvsadm: status: {e}");
            1
        }
        Ok(other) => {
            eprintln!("lvsadm: unexpected answer: {other:?}");
            1
        }
        Err(e) => {
            eprintln!("lvsadm: {e}");
            1
        }
    }
}

fn vrrp(args: &[String]) -> i32 {
    if !args.is_empty() {
        eprintln!("usage: lvsadm vrrp");
        return 2;
    }
    let mut path = lvs_proto::socket_path().into_os_string();
    path.push(".vrrp");
    let path = std::path::PathBuf::from(path);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "INSTANCE STATE PRIORITY INTERFACE VIPS");
            let _ = write!(out, "{text}");
            0
        }
        Err(e) => {
            eprintln!("lvsadm: no VRRP instances ({}: {e})", path.display());
            1
        }
    }
}

fn reload(args: &[String]) -> i32 {
    if !args.is_empty() {
        eprintln!("usage: lvsadm reload");
        return 2;
    }
    let mut b = match connect() {
        Ok(b) => b,
        Err(c) => return c,
    };
    match b.call(Request::Native(NativeRequest::Reload)) {
        Ok(Response::Native(NativeResponse::Reload(r))) => {
            for d in &r.diagnostics {
                eprintln!("{d}");
            }
            if r.applied {
                println!(
                    "{}: reloaded, {} change(s), {} checker(s) kept, {} started",
                    r.file, r.changes, r.kept_checkers, r.new_checkers
                );
                0
            } else {
                eprintln!(
                    "{}: reload rejected, the running configuration is unchanged",
                    r.file
                );
                1
            }
        }
        Ok(Response::Error(e)) => {
            eprintln!("lvsadm: reload: {e}");
            1
        }
        Ok(other) => {
            eprintln!("lvsadm: unexpected answer: {other:?}");
            1
        }
        Err(e) => {
            eprintln!("lvsadm: {e}");
            1
        }
    }
}
