//! `lvsd`: the lvs-rs director daemon: the control socket `lvsadm` (invoked
//! as `ipvsadm`) talks to, and the data plane (XDP steering into AF_XDP
//! sockets, or AF_PACKET, and one worker running `lvs-datapath`) that
//! forwards the traffic of the configured virtual services. Both work on
//! the one [`lvs_control::Control`]; see the `dataplane` module for the
//! data plane's contract.
//!
//! Contract:
//! - **Socket**: `--socket PATH`, else `$LVSD_SOCKET`, else
//!   `/run/lvs/lvsd.sock` ([`lvs_proto::socket_path`]). The parent directory
//!   is created; the socket gets mode 0600. When the path already holds a
//!   socket that accepts a connection, another lvsd serves it and this one
//!   refuses to start (exit 1); a socket nobody listens on is stale and is
//!   replaced; anything that is not a socket is left alone (exit 1).
//! - **Peers**: the peer's credentials (`SO_PEERCRED`) are read on accept.
//!   A peer that is not root (uid 0) completes the handshake and then gets
//!   `EPERM` for every request, as the kernel answers a non-root ipvsadm
//!   (which then prints "Permission denied (you must be root)").
//! - **Requests**: each one is applied whole, under one lock, to a single
//!   [`lvs_control::Control`] (a batch is one request: an atomic restore
//!   applies all or nothing). Time is a monotonic clock, in milliseconds
//!   since the daemon started ([`lvs_core::Time`]). Starting a sync daemon on
//!   an interface that does not exist fails with `ENODEV`, as in the kernel.
//! - **Timers**: every second `Ipvs::tick` and `Ipvs::expire`; every two
//!   seconds `Ipvs::estimate` (the kernel's rate estimator period).
//! - **Configuration**: `--config FILE` applies, before the socket opens and
//!   through the same handler as socket requests, either an `ipvsadm-save`
//!   file (one atomic `ipvsadm -R` batch; a bad line stops the start, exit 1,
//!   and names the line) or a keepalived.conf: any file with a `{` or a line
//!   that does not start with `-` (after blanks; `#` comments aside) is read
//!   as keepalived syntax with `lvs_config::check_file`, lowered with
//!   `lvs_config::lower` to the table keepalived builds at start and applied
//!   as one atomic batch. Its warnings are logged; its errors are printed as
//!   `file:line:col: error: ...` and stop the start (exit 1). Its health
//!   checkers then run on lvsd's runtime, in lvsd's network namespace, and
//!   act on the table through the same handler (servers removed / weight 0
//!   and back, quorum and sorry server, notify scripts with a timeout, no
//!   shell, as keepalived): see the `health` module. VRRP and sync daemons:
//!   see the `ha` module.
//! - **Reload**: SIGHUP, or `lvsadm reload` (`NativeRequest::Reload`,
//!   answered with the diagnostics), re-reads the keepalived.conf, rejects
//!   it whole on any error (nothing changes), else applies only the
//!   difference as one atomic batch (unchanged services and destinations
//!   keep their connections and counters) and restarts only the checkers
//!   that changed; servers keep their up/down state (`health` module).
//!   Without a keepalived.conf `--config`, reload answers `EOPNOTSUPP`.
//! - **`--config-test FILE`**: `keepalived -t`: prints every diagnostic of
//!   the keepalived.conf on standard error (`file:line:col: severity:
//!   message`), exits 0 when it has no error, 1 otherwise; nothing is
//!   started. Unlike `keepalived -t` (exit 5 on an unknown keyword or one of
//!   its own load-time corrections too), warnings do not fail the test.
//! - **Handshake**: a client has 10 s to send its hello; a version mismatch
//!   is answered with the daemon's version, then the connection is closed.
//! - **Data plane**: `--interfaces IF[,IF]` (default: every non-loopback
//!   interface, in a named namespace only), `--io xdp|afpacket`; a failure
//!   to set it up stops the start (exit 1).
//! - **Shutdown**: SIGTERM or SIGINT stop the accept loop and the data-plane
//!   worker (its XDP programs are detached); the socket file is
//!   removed (only when it is still the one this process bound) and the
//!   process exits 0.
//! - **Metrics**: `--metrics ADDR:PORT` serves `GET /metrics` for
//!   Prometheus, built on demand under the control lock: see the `metrics`
//!   module.
//! - **Logs**: `tracing` to standard error; `RUST_LOG` filters (default
//!   `info`).

mod args;
mod dataplane;
mod ha;
mod health;
mod metrics;
mod server;

use std::io::IsTerminal;
use std::process::ExitCode;

use tracing_subscriber::EnvFilter;

/// `--config-test`: diagnostics on standard error, exit 0 when valid.
fn config_test(path: &std::path::Path) -> ExitCode {
    let report = lvs_config::check_file(path);
    for d in &report.diagnostics {
        eprintln!("{d}");
    }
    if report.is_ok() {
        println!("{}: configuration OK", path.display());
        ExitCode::SUCCESS
    } else {
        let n = report.errors().count();
        eprintln!("{}: {n} error(s), configuration rejected", path.display());
        ExitCode::FAILURE
    }
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let opts = match args::parse(&argv) {
        Ok(args::Parsed::Run(o)) => o,
        Ok(args::Parsed::Help) => {
            print!("{}", args::USAGE);
            return ExitCode::SUCCESS;
        }
        Ok(args::Parsed::Version) => {
            println!("lvsd {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Ok(args::Parsed::ConfigTest(path)) => return config_test(&path),
        Err(e) => {
            eprint!("lvsd: {e}\n{}", args::USAGE);
            return ExitCode::from(2);
        }
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();

    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            tracing::error!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(server::run(opts));
    // Connection tasks still open are dropped with the runtime.
    runtime.shutdown_background();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::FAILURE
        }
    }
}
