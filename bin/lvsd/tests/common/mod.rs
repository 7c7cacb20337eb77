#![allow(clippy::unwrap_used, dead_code)] // test code: a failed unwrap is a failed test

//! Helpers: scratch directories, the real `lvsd` binary under a kill-on-drop
//! guard, and the real `lvsadm` binary invoked as `ipvsadm` through a symlink
//! (argv0 selects the personality).

pub mod lab;
pub mod ops;
pub mod tunlab;

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Upper bound of every wait in these tests.
pub const BOUND: Duration = Duration::from_secs(15);

/// The captures of the real ipvsadm 1.31.
pub fn golden(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/ipvsadm/golden")
        .join(name)
}

/// The `lvsadm` binary of the same target directory and profile as `lvsd`.
/// `cargo test -p lvsd` does not build other packages' binaries, so it is
/// built here once (cargo releases its build lock while tests run).
pub fn lvsadm_exe() -> &'static Path {
    static EXE: OnceLock<PathBuf> = OnceLock::new();
    EXE.get_or_init(|| {
        let lvsd = Path::new(env!("CARGO_BIN_EXE_lvsd"));
        let profile_dir = lvsd.parent().unwrap();
        let target = profile_dir.parent().unwrap();
        let mut cmd = Command::new(env!("CARGO"));
        cmd.args(["build", "--quiet", "-p", "lvsadm", "--bin", "lvsadm"])
            .env("CARGO_TARGET_DIR", target)
            .current_dir(env!("CARGO_MANIFEST_DIR"));
        if profile_dir.file_name().unwrap() == "release" {
            cmd.arg("--release");
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "building lvsadm failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let exe = profile_dir.join("lvsadm");
        assert!(exe.exists(), "{} missing", exe.display());
        exe
    })
}

/// A scratch directory, removed on drop. Mode 0755 so that an unprivileged
/// child can reach a socket inside.
#[derive(Debug)]
pub struct Scratch {
    pub dir: PathBuf,
}

static SEQ: AtomicUsize = AtomicUsize::new(0);

impl Scratch {
    pub fn new(tag: &str) -> Scratch {
        let n = SEQ.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("lvsd-test-{}-{tag}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        // argv0 "ipvsadm" selects ipvsadm's personality.
        std::os::unix::fs::symlink(lvsadm_exe(), dir.join("ipvsadm")).unwrap();
        std::os::unix::fs::symlink(lvsadm_exe(), dir.join("ipvsadm-restore")).unwrap();
        std::os::unix::fs::symlink(lvsadm_exe(), dir.join("lvsadm")).unwrap();
        Scratch { dir }
    }

    /// The socket path used by this scratch's daemon (in a subdirectory that
    /// does not exist yet: lvsd creates it).
    pub fn socket(&self) -> PathBuf {
        self.dir.join("run/lvs/lvsd.sock")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A running `lvsd`, killed on drop.
#[derive(Debug)]
pub struct Daemon {
    pub child: Child,
    pub socket: PathBuf,
    pub log: PathBuf,
}

/// Whether something accepts connections on `path`.
pub fn live(path: &Path) -> bool {
    UnixStream::connect(path).is_ok()
}

/// Polls `f` until it is true or [`BOUND`] passes.
pub fn wait_until(mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + BOUND;
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    f()
}

impl Daemon {
    /// Starts `lvsd` with `LVSD_SOCKET` = the scratch socket and `args`,
    /// without waiting, in a network namespace of its own that has only
    /// `lo` (as the VM where ipvsadm was captured has no network card).
    /// Never in the machine's own namespace: a daemon started on a
    /// keepalived.conf runs its health checkers, and those must not reach
    /// any address outside the test.
    pub fn spawn(s: &Scratch, args: &[&str]) -> Daemon {
        let mut cmd = Command::new("unshare");
        cmd.args(["--net", "--", env!("CARGO_BIN_EXE_lvsd")]);
        Daemon::spawn_cmd(s, cmd, args)
    }

    /// Same as [`Daemon::spawn`] (kept for the callers that name the
    /// isolation explicitly).
    pub fn spawn_netns(s: &Scratch, args: &[&str]) -> Daemon {
        Daemon::spawn(s, args)
    }

    fn spawn_cmd(s: &Scratch, mut cmd: Command, args: &[&str]) -> Daemon {
        let socket = s.socket();
        let n = SEQ.fetch_add(1, Ordering::SeqCst);
        let log = s.dir.join(format!("lvsd-{n}.log"));
        let child = cmd
            .args(args)
            .env("LVSD_SOCKET", &socket)
            .env("RUST_LOG", "debug")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Daemon { child, socket, log }
    }

    /// Starts `lvsd` and waits until it accepts connections.
    pub fn start(s: &Scratch, args: &[&str]) -> Daemon {
        let mut d = Daemon::spawn(s, args);
        d.wait_ready();
        d
    }

    pub fn wait_ready(&mut self) {
        let ok = wait_until(|| live(&self.socket) || self.child.try_wait().unwrap().is_some());
        assert!(
            ok && live(&self.socket),
            "lvsd did not come up: {}",
            self.log_text()
        );
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends `sig` (a `kill` signal name) to the daemon.
    pub fn signal(&self, sig: &str) {
        let st = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(st.success());
    }

    /// Waits (bounded) for the daemon to exit.
    pub fn wait_exit(&mut self) -> ExitStatus {
        let mut status = None;
        wait_until(|| {
            status = self.child.try_wait().unwrap();
            status.is_some()
        });
        status.unwrap_or_else(|| panic!("lvsd did not exit: {}", self.log_text()))
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What one client run printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub stdout: String,
    pub stderr: String,
    pub code: i32,
}

/// Runs the real `lvsadm` as `name` (`ipvsadm`, `ipvsadm-restore`) from the
/// scratch directory, on `socket`, configured by `prepare`.
pub fn client_with(
    s: &Scratch,
    name: &str,
    socket: &Path,
    args: &[&str],
    stdin: &str,
    prepare: impl FnOnce(&mut Command),
) -> Outcome {
    let mut cmd = Command::new(s.dir.join(name));
    // ipvsadm prints its argv[0] in messages: invoke it as on a shell's PATH.
    cmd.arg0(name)
        .args(args)
        .env("LVSD_SOCKET", socket)
        .env("LVSADM_HOSTS", golden("etc-hosts"))
        .env("LVSADM_SERVICES", golden("etc-services"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    prepare(&mut cmd);
    let mut child = cmd.spawn().unwrap();
    // The child may exit without reading its input.
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    let out = child.wait_with_output().unwrap();
    Outcome {
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
        code: out.status.code().unwrap_or(-1),
    }
}

/// `ipvsadm ARGS` against the scratch's daemon.
pub fn ipvsadm(s: &Scratch, args: &[&str]) -> Outcome {
    client_with(s, "ipvsadm", &s.socket(), args, "", |_| {})
}

/// `ipvsadm ARGS < stdin` against the scratch's daemon.
pub fn ipvsadm_in(s: &Scratch, args: &[&str], stdin: &str) -> Outcome {
    client_with(s, "ipvsadm", &s.socket(), args, stdin, |_| {})
}

/// Whether the tests run as root (needed for network namespaces and for
/// dropping privileges).
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|e| e == "0"))
        })
        .unwrap_or(false)
}
