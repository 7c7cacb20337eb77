//! The ipvsadm program: a command line in, bytes on stdout/stderr and an exit
//! status out, talking to the daemon through a [`Backend`]. Pure apart from the
//! backend, so that whole invocations are tested without sockets.
//!
//! Behaviour mirrored from ipvsadm 1.31:
//! - The daemon is reached **before** the command line is read (ipvsadm calls
//!   `ipvs_init` first), so even `-h` fails with "Can't initialize ipvs: ..."
//!   (exit 2) when it is unreachable.
//! - No argument lists everything; errors and exit codes as in [`crate::grammar`];
//!   an operation the daemon refuses prints libipvs's text and exits 255; a
//!   single-service listing of a missing service exits 1.
//!
//! Deliberate difference: `-R` is **atomic**. Every line is parsed first; a
//! line ipvsadm would reject prints ipvsadm's message plus
//! `PROG: restore failed at line N, nothing applied` and nothing is applied
//! (ipvsadm would have applied the lines before it). The changes then go to the
//! daemon as one all-or-nothing batch; if the daemon refuses one, its libipvs
//! text is printed with the same line note and the exit status is 255 (ipvsadm
//! would print the text, carry on and exit with the last line's status).
//! Lines whose first non-blank character is `#` are comments (ipvsadm's own
//! `-R` rejects them; its `ipvsadm-restore` wrapper filters them). Listing
//! commands inside a restore run after the batch is applied.

use std::io::{BufRead, Write};

use lvs_proto::{ApiError, Info, Request, Response};

use crate::errors::{Op, strerror};
use crate::format;
use crate::grammar::{Action, Format, ListWhat, Refusal, parse};
use crate::resolve::Resolver;
use crate::usage::{VERSION_LINE, usage};

/// Why the daemon could not be reached.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectError {
    /// Nothing listens on the socket (or it cannot be opened).
    #[error("{0}")]
    Unavailable(String),
    /// The daemon speaks another protocol version.
    #[error("{0}")]
    VersionMismatch(String),
    /// The daemon answered the first request with an error, as the kernel
    /// answers `IPVS_CMD_GET_INFO` from a non-root process with `EPERM`.
    #[error("refused: {}", .0.strerror())]
    Refused(lvs_proto::Errno),
}

/// A failure while talking to a connected daemon.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TransportError(pub String);

/// The daemon, as seen by the CLI.
pub trait Backend {
    /// Connects (handshake) and asks for [`Info`] (`ipvs_init`).
    fn connect(&mut self) -> Result<Info, ConnectError>;
    /// One request, one response.
    fn call(&mut self, req: Request) -> Result<Response, TransportError>;
}

/// Where the program's bytes go.
pub struct Io<'a> {
    /// Standard input (read by `-R`).
    pub stdin: &'a mut dyn BufRead,
    /// Standard output.
    pub stdout: &'a mut dyn Write,
    /// Standard error.
    pub stderr: &'a mut dyn Write,
}

impl std::fmt::Debug for Io<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Io")
    }
}

/// Options of a run.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunOptions {
    /// Add a line explaining why the daemon is unreachable (the `lvsadm`
    /// personality; `ipvsadm` prints exactly what ipvsadm prints).
    pub explain_connect_errors: bool,
    /// `ipvsadm-restore`: flush first, in the same atomic batch.
    pub flush_before_restore: bool,
}

/// Ends the program with this status (ipvsadm's `exit()` calls).
struct Exit(i32);

struct Ctx<'a, 'io> {
    prog: &'a str,
    io: &'a mut Io<'io>,
    backend: &'a mut dyn Backend,
    resolver: &'a dyn Resolver,
    info: Info,
    opts: RunOptions,
}

const INIT_HINT: &str = "Are you sure that IP Virtual Server is built in the kernel or as module?";

/// Runs one ipvsadm invocation; returns the exit status.
pub fn run(
    argv: &[String],
    io: &mut Io<'_>,
    backend: &mut dyn Backend,
    resolver: &dyn Resolver,
    opts: RunOptions,
) -> i32 {
    let prog = argv.first().map(String::as_str).unwrap_or("ipvsadm");
    let info = match backend.connect() {
        Ok(i) => i,
        Err(e) => {
            let (reason, detail) = match &e {
                ConnectError::Unavailable(d) => (
                    "Protocol not available".to_string(),
                    opts.explain_connect_errors.then_some(d),
                ),
                ConnectError::VersionMismatch(d) => {
                    ("Module is wrong version".to_string(), Some(d))
                }
                ConnectError::Refused(errno) => (strerror(Op::Other, *errno), None),
            };
            let _ = write!(io.stderr, "Can't initialize ipvs: {reason}\n{INIT_HINT}\n");
            if let Some(d) = detail {
                let _ = writeln!(io.stderr, "{prog}: {d}");
            }
            return 2;
        }
    };
    let mut cx = Ctx {
        prog,
        io,
        backend,
        resolver,
        info,
        opts,
    };
    let status = if argv.len() <= 1 {
        cx.list(ListWhat::All, &Format::default())
    } else {
        cx.process(argv, false)
    };
    let code = match status {
        Ok(r) | Err(Exit(r)) => r,
    };
    let _ = cx.io.stdout.flush();
    code & 0xff
}

impl Ctx<'_, '_> {
    fn err(&mut self, text: &str) {
        let _ = self.io.stderr.write_all(text.as_bytes());
    }

    fn out(&mut self, text: &str) {
        let _ = self.io.stdout.write_all(text.as_bytes());
    }

    fn call(&mut self, req: Request) -> Result<Response, Exit> {
        self.backend.call(req).map_err(|e| {
            let msg = format!("{}: lost the connection to lvsd: {e}\n", self.prog);
            self.err(&msg);
            Exit(255)
        })
    }

    /// `process_options`: `Ok(result)` is the command's result (0 or -1),
    /// `Err` an immediate exit.
    fn process(&mut self, argv: &[String], reading_stdin: bool) -> Result<i32, Exit> {
        let action = match parse(argv, self.resolver) {
            Ok(a) => a,
            Err(r) => {
                let text = r.stderr_text(self.prog);
                self.err(&text);
                return Err(Exit(r.exit_code()));
            }
        };
        self.execute(action, reading_stdin)
    }

    fn execute(&mut self, action: Action, reading_stdin: bool) -> Result<i32, Exit> {
        match action {
            Action::Usage => {
                let u = usage(self.prog);
                self.out(&u);
                Err(Exit(0))
            }
            Action::Version => {
                self.out(VERSION_LINE);
                Err(Exit(0))
            }
            Action::List(what, f) => self.list(what, &f),
            Action::Save(f) => self.list(ListWhat::All, &f),
            Action::Restore => {
                if reading_stdin {
                    let t = Refusal::TryHelp.stderr_text(self.prog);
                    self.err(&t);
                    return Err(Exit(255));
                }
                self.restore()
            }
            Action::Change(req) => {
                let op = Op::of(&req);
                match self.call(req)? {
                    Response::Ok => Ok(0),
                    Response::Error(e) => {
                        let t = format!("{}\n", strerror(op, e.errno));
                        self.err(&t);
                        Ok(-1)
                    }
                    other => Err(self.unexpected(&other)),
                }
            }
        }
    }

    fn unexpected(&mut self, r: &Response) -> Exit {
        let msg = format!("{}: unexpected answer from lvsd: {r:?}\n", self.prog);
        self.err(&msg);
        Exit(255)
    }

    fn list(&mut self, what: ListWhat, f: &Format) -> Result<i32, Exit> {
        let mut s = String::new();
        match what {
            ListWhat::All => {
                if !f.rule {
                    format::banner(&mut s, &self.info);
                    self.out(&s);
                    s.clear();
                }
                match self.call(Request::ListServices)? {
                    Response::Services(list) => format::list_body(&mut s, &list, f, self.resolver),
                    Response::Error(e) => return Err(self.list_error(Op::GetServices, &e)),
                    other => return Err(self.unexpected(&other)),
                }
            }
            ListWhat::Service(key) => match self.call(Request::GetService(key))? {
                Response::Service(svc) => format::list_service(&mut s, &svc, f, self.resolver),
                Response::Error(e) => return Err(self.list_error(Op::GetService, &e)),
                other => return Err(self.unexpected(&other)),
            },
            ListWhat::Connections => match self.call(Request::ListConnections)? {
                Response::Connections(c) => format::connections(&mut s, &c, f, self.resolver),
                Response::Error(e) => return Err(self.list_error(Op::Other, &e)),
                other => return Err(self.unexpected(&other)),
            },
            ListWhat::Timeout => match self.call(Request::GetTimeouts)? {
                Response::Timeouts(t) => format::timeouts(&mut s, &t),
                Response::Error(_) => return Err(Exit(1)),
                other => return Err(self.unexpected(&other)),
            },
            ListWhat::Daemon => match self.call(Request::ListDaemons)? {
                Response::Daemons(d) => format::daemons(&mut s, &d),
                Response::Error(_) => return Err(Exit(1)),
                other => return Err(self.unexpected(&other)),
            },
        }
        self.out(&s);
        Ok(0)
    }

    fn list_error(&mut self, op: Op, e: &ApiError) -> Exit {
        let t = format!("{}\n", strerror(op, e.errno));
        self.err(&t);
        Exit(1)
    }

    /// Atomic `-R` (see the module documentation).
    fn restore(&mut self) -> Result<i32, Exit> {
        let mut input = String::new();
        if let Err(e) = self.io.stdin.read_to_string(&mut input) {
            let msg = format!("{}: cannot read standard input: {e}\n", self.prog);
            self.err(&msg);
            return Err(Exit(2));
        }
        let mut batch: Vec<(usize, Request)> = Vec::new();
        if self.opts.flush_before_restore {
            batch.push((0, Request::Flush));
        }
        let mut deferred: Vec<Action> = Vec::new();
        let mut terminal: Option<Action> = None;
        for (i, line) in input.lines().enumerate() {
            let lineno = i + 1;
            let Some(argv) = restore_argv(self.prog, line) else {
                continue;
            };
            match parse(&argv, self.resolver) {
                Err(r) => {
                    let text = r.stderr_text(self.prog);
                    self.err(&text);
                    self.restore_note(lineno);
                    return Err(Exit(r.exit_code()));
                }
                Ok(Action::Restore) => {
                    let t = Refusal::TryHelp.stderr_text(self.prog);
                    self.err(&t);
                    self.restore_note(lineno);
                    return Err(Exit(255));
                }
                Ok(a @ (Action::Usage | Action::Version)) => {
                    terminal = Some(a);
                    break;
                }
                Ok(Action::Change(req)) => batch.push((lineno, req)),
                Ok(a) => deferred.push(a),
            }
        }
        if !batch.is_empty() {
            let requests: Vec<Request> = batch.iter().map(|(_, r)| r.clone()).collect();
            match self.call(Request::Batch {
                requests,
                atomic: true,
            })? {
                Response::Ok => {}
                Response::BatchFailed { index, error } => {
                    let (lineno, req) = batch
                        .get(index as usize)
                        .map(|(l, r)| (*l, Op::of(r)))
                        .unwrap_or((0, Op::Other));
                    let t = format!("{}\n", strerror(req, error.errno));
                    self.err(&t);
                    self.restore_note(lineno);
                    return Err(Exit(255));
                }
                Response::Error(e) => {
                    let t = format!("{}\n", strerror(Op::Other, e.errno));
                    self.err(&t);
                    return Err(Exit(255));
                }
                other => return Err(self.unexpected(&other)),
            }
        }
        for a in deferred {
            self.execute(a, true)?;
        }
        if let Some(a) = terminal {
            self.execute(a, true)?;
        }
        Ok(0)
    }

    fn restore_note(&mut self, lineno: usize) {
        let msg = if lineno == 0 {
            format!("{}: restore failed, nothing applied\n", self.prog)
        } else {
            format!(
                "{}: restore failed at line {lineno}, nothing applied\n",
                self.prog
            )
        };
        self.err(&msg);
    }
}

/// One `-R` input line as an argv: split on blanks, the word `ipvsadm`
/// dropped (as ipvsadm's reader does), `None` for a blank or `#` line.
pub fn restore_argv(prog: &str, line: &str) -> Option<Vec<String>> {
    let words: Vec<&str> = line
        .split([' ', '\t', '\r'])
        .filter(|w| !w.is_empty())
        .collect();
    if words.first().is_none_or(|w| w.starts_with('#')) {
        return None;
    }
    let mut argv = vec![prog.to_string()];
    argv.extend(
        words
            .into_iter()
            .filter(|w| *w != "ipvsadm")
            .map(str::to_string),
    );
    (argv.len() > 1).then_some(argv)
}
