//! Named network namespaces (`ip netns` compatible: `/run/netns/<name>`).
//!
//! [`NetNs::create`] makes a namespace with `ip netns add` and deletes it by name when the
//! guard is dropped (also on panic), so tests and tools never leave namespaces behind.
//! [`NetNs::run`] runs a closure on a fresh thread that has joined the namespace
//! (`setns(CLONE_NEWNET)` affects only the calling thread), so the caller's own thread, and
//! the machine's root namespace, are never touched.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::process::{Command, Output};

use crate::SysError;

/// A network namespace created by this process, deleted by name on drop.
#[derive(Debug)]
pub struct NetNs {
    name: String,
}

impl NetNs {
    /// Creates `/run/netns/<name>` with `ip netns add`.
    pub fn create(name: &str) -> Result<Self, SysError> {
        if name.is_empty() || name.contains('/') || name.len() > 64 {
            return Err(SysError::InvalidName(name.to_owned()));
        }
        let out = Command::new("ip")
            .args(["netns", "add", name])
            .output()
            .map_err(|e| SysError::Command(format!("ip netns add {name}: {e}")))?;
        if !out.status.success() {
            return Err(SysError::Command(format!(
                "ip netns add {name}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(Self {
            name: name.to_owned(),
        })
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `ip -n <name> <args>` and fails unless it succeeds.
    pub fn ip(&self, args: &[&str]) -> Result<Output, SysError> {
        let out = Command::new("ip")
            .arg("-n")
            .arg(&self.name)
            .args(args)
            .output()
            .map_err(|e| SysError::Command(format!("ip -n {} {args:?}: {e}", self.name)))?;
        if !out.status.success() {
            return Err(SysError::Command(format!(
                "ip -n {} {args:?}: {}",
                self.name,
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(out)
    }

    /// Runs `f` on a new thread that has joined this namespace, and returns its result.
    pub fn run<T, F>(&self, f: F) -> Result<T, SysError>
    where
        T: Send,
        F: FnOnce() -> T + Send,
    {
        let path = format!("/run/netns/{}", self.name);
        let file = File::open(&path).map_err(|e| SysError::Io(format!("open {path}"), e))?;
        std::thread::scope(|s| {
            s.spawn(|| {
                enter(&file)?;
                Ok(f())
            })
            .join()
            .map_err(|_| SysError::Command(format!("thread in {} panicked", self.name)))?
        })
    }
}

#[allow(unsafe_code)]
fn enter(file: &File) -> Result<(), SysError> {
    // SAFETY: setns takes a valid open namespace fd (borrowed from `file`, alive for the call)
    // and a namespace type constant; it only changes the calling thread's namespace.
    let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
    if rc != 0 {
        return Err(SysError::Io(
            "setns".into(),
            std::io::Error::last_os_error(),
        ));
    }
    Ok(())
}

impl Drop for NetNs {
    fn drop(&mut self) {
        // Best effort: the name is ours; report but do not panic inside drop.
        match Command::new("ip")
            .args(["netns", "del", &self.name])
            .output()
        {
            Ok(o) if o.status.success() => {}
            Ok(o) => eprintln!(
                "lvs-sys: ip netns del {}: {}",
                self.name,
                String::from_utf8_lossy(&o.stderr).trim()
            ),
            Err(e) => eprintln!("lvs-sys: ip netns del {}: {e}", self.name),
        }
    }
}
