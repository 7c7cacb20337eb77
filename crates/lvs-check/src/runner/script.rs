//! Running MISC_CHECK programs and notify scripts.
//!
//! keepalived 2.x splits the command line itself (lvs-config does the same
//! into [`lvs_config::Script::argv`]) and `execve`s the program directly.
//! No shell is ever involved: `;`, `|`, `$VAR` or `>` are plain arguments,
//! and a program file without a `#!` line is not handed to `/bin/sh`
//! either (its exec fails). Checked against keepalived 2.2.7 in the lab
//! (`lab/keepalived_rules.out`, `lab/keepalived_rules2.out`):
//! `"/bin/echo ok; exit 1"` passes, and a `#!`-less file is never run.
//!
//! Programs run in their own process group, with standard input and output
//! on `/dev/null`, as the configured user (its primary group or the
//! configured group; supplementary groups cleared when started as root),
//! and a MISC_CHECK program is killed with its whole group when its
//! timeout expires.

use std::io;
use std::process::Stdio;
use std::time::Duration;

use lvs_config::{Script, ScriptUser};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::{Group, Pid, User};
use tokio::process::{Child, Command};

/// How a MISC_CHECK program ended.
#[derive(Debug)]
pub enum MiscExit {
    /// It exited with this status.
    Exited(i32),
    /// It was killed: by a signal, or by us at the timeout.
    Killed,
    /// It could not be started (not found, not executable, unknown user).
    SpawnFailed(io::Error),
}

fn command(program: &str, args: &[String], user: Option<&ScriptUser>) -> io::Result<Command> {
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .kill_on_drop(true);
    if let Some(u) = user {
        let found = User::from_name(&u.user)
            .map_err(io::Error::from)?
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("user {}", u.user)))?;
        let gid = match &u.group {
            Some(g) => {
                Group::from_name(g)
                    .map_err(io::Error::from)?
                    .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("group {g}")))?
                    .gid
            }
            None => found.gid,
        };
        cmd.uid(found.uid.as_raw()).gid(gid.as_raw());
    }
    Ok(cmd)
}

/// Starts `argv` directly (never through a shell).
pub fn spawn(argv: &[String], user: Option<&ScriptUser>) -> io::Result<Child> {
    let (program, args) = argv
        .split_first()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "empty command"))?;
    command(program, args, user)?.spawn()
}

/// Runs a MISC_CHECK program for at most `limit`.
pub async fn run_program(argv: &[String], user: Option<&ScriptUser>, limit: Duration) -> MiscExit {
    let mut child = match spawn(argv, user) {
        Ok(c) => c,
        Err(e) => return MiscExit::SpawnFailed(e),
    };
    match tokio::time::timeout(limit, child.wait()).await {
        Ok(Ok(status)) => match status.code() {
            Some(c) => MiscExit::Exited(c),
            None => MiscExit::Killed,
        },
        Ok(Err(e)) => MiscExit::SpawnFailed(e),
        Err(_elapsed) => {
            if let Some(pid) = child.id().and_then(|p| i32::try_from(p).ok()) {
                let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
            }
            let _ = child.kill().await;
            MiscExit::Killed
        }
    }
}

/// Starts a notify script (`notify_up`/`notify_down`, `quorum_up`/`_down`)
/// without waiting for it; the child is reaped in the background.
pub fn spawn_notify(script: &Script, default_user: Option<&ScriptUser>) -> io::Result<()> {
    let mut child = spawn(&script.argv, script.user.as_ref().or(default_user))?;
    tokio::spawn(async move {
        let _ = child.wait().await;
    });
    Ok(())
}

/// Starts a notify script like [`spawn_notify`], and kills its process
/// group if it still runs after `limit` (the caller never waits for it).
pub fn spawn_notify_bounded(
    script: &Script,
    default_user: Option<&ScriptUser>,
    limit: Duration,
) -> io::Result<u32> {
    let mut child = spawn(&script.argv, script.user.as_ref().or(default_user))?;
    let pid = child.id().unwrap_or(0);
    tokio::spawn(async move {
        if tokio::time::timeout(limit, child.wait()).await.is_err() {
            if let Some(pid) = child.id().and_then(|p| i32::try_from(p).ok()) {
                let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
            }
            let _ = child.kill().await;
        }
    });
    Ok(pid)
}
