//! Statement tree to typed configuration.
//!
//! One function per block type walks its statements and dispatches on the
//! keyword. Keywords keepalived does not know are reported as warnings and
//! skipped with their block ("Unknown keyword", as keepalived); keepalived
//! keywords lvs-rs does not implement are skipped with an "unsupported"
//! warning. Values that cannot be read are errors.

mod check;
mod global;
mod lvs;
mod vrrp;

use std::net::IpAddr;
use std::time::Duration;

use crate::diag::{DiagKind, Diags, Location};
use crate::model::{Config, Script, ScriptUser, SslConfig};
use crate::tree::{Block, Stmt, Word};
use crate::value;
use crate::words::{SplitError, split_quoted_escaped};

/// Longest timer accepted: 10^9 s (keepalived's own limit is higher; no
/// working configuration comes near either).
pub(crate) const TIMER_MAX: Duration = Duration::from_secs(1_000_000_000);

/// Top-level keywords keepalived knows that lvs-rs does not implement.
const UNSUPPORTED_TOP: &[&str] = &[
    "static_ipaddress",
    "static_routes",
    "static_rules",
    "linkbeat_interfaces",
    "track_group",
    "track_file",
    "vrrp_track_file",
    "vrrp_track_process",
    "bfd_instance",
    "garp_group",
    "interface_up_down_delays",
    "net_namespace",
    "net_namespace_ipvs",
    "namespace_with_ipsets",
    "instance",
    "use_pid_dir",
    "linkbeat_use_polling",
    "child_wait_time",
];

/// Parse the top level.
pub(crate) fn config(root: &Block, d: &mut Diags) -> Config {
    let mut cx = Cx { d };
    let mut cfg = Config::default();
    for s in &root.stmts {
        match s.keyword() {
            "global_defs" => {
                if let Some(b) = cx.block(s) {
                    global::global_defs(&mut cx, b, &mut cfg.global);
                }
            }
            "virtual_server_group" => {
                if let Some(g) = lvs::virtual_server_group(&mut cx, s) {
                    cfg.virtual_server_groups.push(g);
                }
            }
            "virtual_server" => {
                if let Some(vs) = lvs::virtual_server(&mut cx, s) {
                    cfg.virtual_servers.push(vs);
                }
            }
            "vrrp_instance" => {
                if let Some(i) = vrrp::instance(&mut cx, s) {
                    cfg.vrrp_instances.push(i);
                }
            }
            "vrrp_sync_group" => {
                if let Some(g) = vrrp::sync_group(&mut cx, s) {
                    cfg.vrrp_sync_groups.push(g);
                }
            }
            "vrrp_script" => {
                if let Some(sc) = vrrp::script(&mut cx, s) {
                    cfg.vrrp_scripts.push(sc);
                }
            }
            "SSL" => {
                if let Some(b) = cx.block(s) {
                    if cfg.ssl.is_some() {
                        cx.warn(
                            DiagKind::Duplicate,
                            s.loc(),
                            "SSL context already specified - replacing".to_owned(),
                            "SSL",
                        );
                    }
                    cfg.ssl = Some(ssl(&mut cx, s, b));
                }
            }
            kw if UNSUPPORTED_TOP.contains(&kw) => cx.unsupported(s),
            _ => cx.unknown(s),
        }
    }
    cfg
}

fn ssl(cx: &mut Cx<'_>, s: &Stmt, b: &Block) -> SslConfig {
    let mut ssl = SslConfig {
        location: Some(s.loc().clone()),
        ..SslConfig::default()
    };
    for s in &b.stmts {
        match s.keyword() {
            "password" => ssl.password = cx.string_kw(s),
            "ca" => ssl.ca = cx.string_kw(s),
            "certificate" => {
                cx.not_applied(s);
                ssl.certificate = cx.string_kw(s);
            }
            "key" => {
                cx.not_applied(s);
                ssl.key = cx.string_kw(s);
            }
            _ => cx.unknown(s),
        }
    }
    ssl
}

/// Parsing context: the diagnostics sink and shared helpers.
pub(crate) struct Cx<'a> {
    pub(crate) d: &'a mut Diags,
}

impl Cx<'_> {
    pub(crate) fn err(&mut self, kind: DiagKind, loc: &Location, msg: String, text: &str) {
        self.d.error(kind, loc, msg, text);
    }

    pub(crate) fn warn(&mut self, kind: DiagKind, loc: &Location, msg: String, text: &str) {
        self.d.warn(kind, loc, msg, text);
    }

    /// keepalived: "Unknown keyword" (statement and block skipped).
    pub(crate) fn unknown(&mut self, s: &Stmt) {
        let with = if s.block.is_some() {
            " (its block is skipped)"
        } else {
            ""
        };
        let kw = s.keyword();
        self.warn(
            DiagKind::UnknownKeyword,
            s.loc(),
            format!("unknown keyword `{kw}` - ignored{with}"),
            kw,
        );
    }

    /// A keepalived keyword lvs-rs does not implement.
    pub(crate) fn unsupported(&mut self, s: &Stmt) {
        let kw = s.keyword();
        self.warn(
            DiagKind::Unsupported,
            s.loc(),
            format!("keepalived keyword `{kw}` is not supported by lvs-rs - ignored"),
            kw,
        );
    }

    /// A keepalived keyword that is read into the model but that lvs-rs's
    /// health checkers do not act on.
    pub(crate) fn not_applied(&mut self, s: &Stmt) {
        let kw = s.keyword();
        self.warn(
            DiagKind::Unsupported,
            s.loc(),
            format!("keepalived keyword `{kw}` is read but not applied by lvs-rs's checkers"),
            kw,
        );
    }

    /// An old spelling.
    pub(crate) fn deprecated(&mut self, s: &Stmt, instead: &str) {
        let kw = s.keyword();
        self.warn(
            DiagKind::Deprecated,
            s.loc(),
            format!("`{kw}` is deprecated - please use `{instead}`"),
            kw,
        );
    }

    /// The statement's block, or an error.
    pub(crate) fn block<'s>(&mut self, s: &'s Stmt) -> Option<&'s Block> {
        match &s.block {
            Some(b) => Some(b),
            None => {
                let kw = s.keyword();
                self.err(
                    DiagKind::Missing,
                    &s.end,
                    format!("missing `{{` at beginning of the `{kw}` block"),
                    kw,
                );
                None
            }
        }
    }

    /// A statement that must not have a block.
    pub(crate) fn simple(&mut self, s: &Stmt) -> bool {
        match &s.block {
            None => true,
            Some(b) => {
                let kw = s.keyword();
                let loc = b.open.clone().unwrap_or_else(|| s.end.clone());
                self.err(
                    DiagKind::Syntax,
                    &loc,
                    format!("`{kw}` does not take a block"),
                    "{",
                );
                false
            }
        }
    }

    /// Parameter `i` (1 = first after the keyword), or a "missing" error.
    pub(crate) fn arg<'s>(&mut self, s: &'s Stmt, i: usize, what: &str) -> Option<&'s Word> {
        match s.words.get(i) {
            Some(w) => Some(w),
            None => {
                let kw = s.keyword();
                self.err(
                    DiagKind::Missing,
                    &s.end,
                    format!("`{kw}` is missing {what}"),
                    kw,
                );
                None
            }
        }
    }

    /// Warn about parameters after the first `n`.
    pub(crate) fn max_args(&mut self, s: &Stmt, n: usize) {
        if let Some(w) = s.words.get(n + 1) {
            let kw = s.keyword();
            self.warn(
                DiagKind::InvalidValue,
                &w.loc,
                format!("extra parameter `{}` after `{kw}` - ignored", w.text),
                &w.text,
            );
        }
    }

    /// Report an unreadable value.
    pub(crate) fn invalid(&mut self, w: &Word, kw: &str, why: &str) {
        self.err(
            DiagKind::InvalidValue,
            &w.loc,
            format!("invalid `{kw}` value `{}`: {why}", w.text),
            &w.text,
        );
    }

    pub(crate) fn u64_at(&mut self, s: &Stmt, i: usize, lo: u64, hi: u64) -> Option<u64> {
        let w = self.arg(s, i, "a number")?;
        match value::uint(&w.text, lo, hi) {
            Ok(v) => Some(v),
            Err(e) => {
                self.invalid(w, s.keyword(), &e);
                None
            }
        }
    }

    pub(crate) fn u32_at(&mut self, s: &Stmt, i: usize, lo: u32, hi: u32) -> Option<u32> {
        self.u64_at(s, i, u64::from(lo), u64::from(hi))
            .map(|v| v as u32)
    }

    pub(crate) fn i32_at(&mut self, s: &Stmt, i: usize, lo: i32, hi: i32) -> Option<i32> {
        let w = self.arg(s, i, "a number")?;
        match value::int(&w.text, i64::from(lo), i64::from(hi)) {
            Ok(v) => Some(v as i32),
            Err(e) => {
                self.invalid(w, s.keyword(), &e);
                None
            }
        }
    }

    /// `keyword N` with N in `lo..=hi`.
    pub(crate) fn u32_kw(&mut self, s: &Stmt, lo: u32, hi: u32) -> Option<u32> {
        if !self.simple(s) {
            return None;
        }
        self.max_args(s, 1);
        self.u32_at(s, 1, lo, hi)
    }

    pub(crate) fn timer_at(
        &mut self,
        s: &Stmt,
        i: usize,
        lo: Duration,
        hi: Duration,
    ) -> Option<Duration> {
        let w = self.arg(s, i, "a time in seconds")?;
        match value::timer(&w.text, lo, hi) {
            Ok(v) => Some(v),
            Err(e) => {
                self.invalid(w, s.keyword(), &e);
                None
            }
        }
    }

    /// `keyword SECONDS`.
    pub(crate) fn timer_kw(&mut self, s: &Stmt, lo: Duration, hi: Duration) -> Option<Duration> {
        if !self.simple(s) {
            return None;
        }
        self.max_args(s, 1);
        self.timer_at(s, 1, lo, hi)
    }

    /// `keyword` alone.
    pub(crate) fn flag_kw(&mut self, s: &Stmt) -> bool {
        if !self.simple(s) {
            return false;
        }
        self.max_args(s, 0);
        true
    }

    /// `keyword [BOOL]` (no value means true).
    pub(crate) fn bool_kw(&mut self, s: &Stmt) -> Option<bool> {
        if !self.simple(s) {
            return None;
        }
        self.max_args(s, 1);
        match s.words.get(1) {
            None => Some(true),
            Some(w) => match value::boolean(&w.text) {
                Some(b) => Some(b),
                None => {
                    self.invalid(w, s.keyword(), "expected on|off|true|false|yes|no");
                    None
                }
            },
        }
    }

    /// `keyword STRING` (one word, quoted or not).
    pub(crate) fn string_kw(&mut self, s: &Stmt) -> Option<String> {
        if !self.simple(s) {
            return None;
        }
        self.max_args(s, 1);
        self.arg(s, 1, "a value").map(|w| w.text.clone())
    }

    pub(crate) fn ip_at(&mut self, s: &Stmt, i: usize) -> Option<IpAddr> {
        let w = self.arg(s, i, "an IP address")?;
        match value::ip(&w.text) {
            Ok(a) => Some(a),
            Err(e) => {
                self.invalid(w, s.keyword(), &e);
                None
            }
        }
    }

    /// `keyword IP`.
    pub(crate) fn ip_kw(&mut self, s: &Stmt) -> Option<IpAddr> {
        if !self.simple(s) {
            return None;
        }
        self.max_args(s, 1);
        self.ip_at(s, 1)
    }

    pub(crate) fn port_at(&mut self, s: &Stmt, i: usize) -> Option<u16> {
        let w = self.arg(s, i, "a port")?;
        match value::port(&w.text) {
            Ok(p) => Some(p),
            Err(e) => {
                self.invalid(w, s.keyword(), &e);
                None
            }
        }
    }

    /// `keyword COMMAND [USER [[:]GROUP]]`: a script, split like keepalived
    /// (the statement is re-read with shell-like quoting, then the command
    /// string is split into argv the same way).
    pub(crate) fn script_kw(&mut self, s: &Stmt) -> Option<Script> {
        if !self.simple(s) {
            return None;
        }
        self.arg(s, 1, "a script")?;
        let words = match split_quoted_escaped(&s.raw) {
            Ok(w) => w,
            Err(e) => {
                self.split_error(s, e);
                return None;
            }
        };
        let command = words.get(1).cloned().unwrap_or_default();
        let argv = match split_quoted_escaped(&command) {
            Ok(a) if !a.is_empty() => a,
            Ok(_) => {
                let kw = s.keyword();
                self.err(
                    DiagKind::Missing,
                    &s.end,
                    format!("`{kw}` has an empty command"),
                    kw,
                );
                return None;
            }
            Err(e) => {
                self.split_error(s, e);
                return None;
            }
        };
        let user = if words.len() > 2 {
            self.user_from(s, &words[2..])
        } else {
            None
        };
        Some(Script {
            argv,
            user,
            command,
        })
    }

    fn split_error(&mut self, s: &Stmt, e: SplitError) {
        let kw = s.keyword();
        let msg = match e {
            SplitError::Unterminated(q) => {
                format!("`{kw}`: missing terminating {q} in `{}`", s.raw)
            }
            SplitError::DanglingEscape => format!("`{kw}`: `\\` at the end of `{}`", s.raw),
        };
        self.err(DiagKind::Syntax, s.loc(), msg, &s.raw);
    }

    /// `USER [[:]GROUP]` from already split words.
    pub(crate) fn user_from(&mut self, s: &Stmt, words: &[String]) -> Option<ScriptUser> {
        let user = words.first()?.clone();
        let mut group = None;
        let mut supplementary = false;
        if let Some(g) = words.get(1) {
            match g.strip_prefix(':') {
                Some(rest) => {
                    supplementary = true;
                    if !rest.is_empty() {
                        group = Some(rest.to_owned());
                    }
                }
                None => group = Some(g.clone()),
            }
        }
        if words.len() > 2 {
            let kw = s.keyword();
            self.warn(
                DiagKind::InvalidValue,
                s.loc(),
                format!("`{kw}`: extra parameters after user and group - ignored"),
                &words[2],
            );
        }
        if user.is_empty() {
            return None;
        }
        Some(ScriptUser {
            user,
            group,
            supplementary_groups: supplementary,
        })
    }

    /// `keyword USER [[:]GROUP]` (script_user, MISC_CHECK user, ...).
    pub(crate) fn user_kw(&mut self, s: &Stmt) -> Option<ScriptUser> {
        if !self.simple(s) {
            return None;
        }
        self.arg(s, 1, "a user name")?;
        let words: Vec<String> = s.args().iter().map(|w| w.text.clone()).collect();
        self.user_from(s, &words)
    }

    /// Statements of a value block (`notification_email`, `group`, ...)
    /// as word lists; nested blocks are errors.
    pub(crate) fn value_lines<'s>(&mut self, b: &'s Block) -> Vec<&'s Stmt> {
        let mut out = Vec::new();
        for s in &b.stmts {
            if self.simple(s) {
                out.push(s);
            }
        }
        out
    }
}
