//! `lvsadm`: the admin CLI of lvsd.
//!
//! Dispatch on the program name (`argv[0]`'s last path component):
//! - `ipvsadm`: ipvsadm 1.31, byte for byte (see `lvs-ipvsadm`);
//! - `ipvsadm-save`: the `ipvsadm-save` script (`-n` for numeric output, any
//!   other option prints the script's help and exits 1);
//! - `ipvsadm-restore`: the `ipvsadm-restore` script (flush, then restore from
//!   standard input) — atomic here: flush and restore are one batch;
//! - anything else (`lvsadm`): native subcommands ([`native`]) when the first
//!   argument names one, otherwise the ipvsadm grammar, with an extra line
//!   explaining why lvsd could not be reached.
//!
//! The daemon is reached at `/run/lvs/lvsd.sock` or `$LVSD_SOCKET`.
//! Name resolution uses `/etc/hosts` and `/etc/services`, then the system
//! resolver for host names not found there. `LVSADM_HOSTS` and
//! `LVSADM_SERVICES` name other files to read instead (and turn the system
//! resolver off); they exist for tests and diagnostics.

mod backend;
mod health;
mod native;
mod realserver;

use std::io::{self, BufReader, BufWriter, Write};
use std::process::ExitCode;

use lvs_ipvsadm::run::{Backend, ConnectError, Io, RunOptions, run};

use crate::backend::{SocketBackend, SystemResolver};

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let name = argv
        .first()
        .map(|a| a.rsplit('/').next().unwrap_or(a).to_string())
        .unwrap_or_else(|| "lvsadm".to_string());
    let code = match name.as_str() {
        "ipvsadm" => ipvsadm(&argv, RunOptions::default()),
        "ipvsadm-save" => ipvsadm_save(&argv),
        "ipvsadm-restore" => ipvsadm_restore(),
        _ => {
            if let Some(code) = realserver::dispatch(&argv) {
                code
            } else if let Some(code) = native::dispatch(&argv) {
                code
            } else {
                ipvsadm(
                    &argv,
                    RunOptions {
                        explain_connect_errors: true,
                        ..RunOptions::default()
                    },
                )
            }
        }
    };
    ExitCode::from(code as u8)
}

/// Runs the ipvsadm program with the process's standard streams.
fn ipvsadm(argv: &[String], opts: RunOptions) -> i32 {
    let mut backend = SocketBackend::from_env();
    run_with(argv, opts, &mut backend)
}

fn run_with(argv: &[String], opts: RunOptions, backend: &mut SocketBackend) -> i32 {
    let resolver = SystemResolver::from_env();
    let stdin = io::stdin();
    let mut stdin = BufReader::new(stdin.lock());
    let stdout = io::stdout();
    let mut stdout = BufWriter::new(stdout.lock());
    let stderr = io::stderr();
    let mut stderr = stderr.lock();
    let code = {
        let mut io = Io {
            stdin: &mut stdin,
            stdout: &mut stdout,
            stderr: &mut stderr,
        };
        run(argv, &mut io, backend, &resolver, opts)
    };
    let _ = stdout.flush();
    code
}

/// The `ipvsadm-save` script.
fn ipvsadm_save(argv: &[String]) -> i32 {
    let mut numeric = false;
    for a in argv.iter().skip(1) {
        if a == "-n" {
            numeric = true;
        } else if a.starts_with('-') {
            eprint!(
                "ipvsadm-save: Script to save the IPVS table to stdout.\n   With the -n option, prints out the table in numeric format.\n"
            );
            return 1;
        }
    }
    let mut args = vec!["ipvsadm".to_string(), "-S".to_string()];
    if numeric {
        args.push("-n".to_string());
    }
    ipvsadm(&args, RunOptions::default())
}

/// The `ipvsadm-restore` script: `ipvsadm -C` then `ipvsadm -R`, as one atomic
/// batch. When lvsd is unreachable both steps of the script would complain.
fn ipvsadm_restore() -> i32 {
    let mut backend = SocketBackend::from_env();
    if let Err(e) = backend.connect() {
        let reason = match e {
            ConnectError::Unavailable(_) => "Protocol not available".to_string(),
            ConnectError::VersionMismatch(_) => "Module is wrong version".to_string(),
            ConnectError::Refused(errno) => {
                lvs_ipvsadm::errors::strerror(lvs_ipvsadm::errors::Op::Other, errno)
            }
        };
        let msg = format!(
            "Can't initialize ipvs: {reason}\nAre you sure that IP Virtual Server is built in the kernel or as module?\n"
        );
        let mut err = io::stderr().lock();
        let _ = err.write_all(msg.as_bytes());
        let _ = err.write_all(msg.as_bytes());
        if let ConnectError::VersionMismatch(d) = e {
            let _ = writeln!(err, "ipvsadm: {d}");
        }
        return 2;
    }
    let args = vec!["ipvsadm".to_string(), "-R".to_string()];
    run_with(
        &args,
        RunOptions {
            flush_before_restore: true,
            ..RunOptions::default()
        },
        &mut backend,
    )
}
