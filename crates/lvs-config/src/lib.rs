//! `lvs-config`: keepalived.conf, read the way keepalived reads it.
//!
//! Contract:
//! - Pure: no sockets, clocks, processes or ambient randomness. Files are
//!   read only through a [`FileSource`] ([`OsFs`] for the real tree, [`MemFs`]
//!   in tests); `${_RANDOM}` draws from [`Options::random_seed`]. `unsafe` is
//!   forbidden. Nothing here panics on any input (fuzzed by property tests).
//! - [`check_file`] is `keepalived -t` as a library call: it returns every
//!   warning and error with `file:line:column` and the offending text. A
//!   configuration with at least one error is rejected as a whole
//!   ([`Report::config`] is `None`); warnings never reject.
//! - Warnings: unknown keywords (skipped with their block, as keepalived
//!   does), keepalived keywords lvs-rs does not implement, deprecated
//!   spellings, and keepalived's own load-time corrections (protocol
//!   defaulting to UDP, port resets, quorum reductions...), applied the same
//!   way. Errors: unreadable values, unbalanced braces or quotes, missing
//!   blocks or parameters, includes matching no file, references to things
//!   not defined, limits hit.
//!
//! Pipeline (keepalived 2.2.7 semantics, checked against the real program in
//! the IPVS lab VM; see each module):
//! 1. `preprocess`: comments, `@id` conditionals,
//!    `$NAME=value` definitions (multi-line with `\`), `$NAME`/`${NAME}`
//!    expansion, `~SEQ`/`~SEQx`/`~LST` replays, `include` globs relative to
//!    the including file. Every logical line keeps its file and line.
//! 2. `tree`: words and quoted strings, `{`/`}` anywhere on a
//!    line, into statements and blocks.
//! 3. `parse`: blocks to the typed [`Config`] (`global_defs`,
//!    `virtual_server_group`, `virtual_server`, `real_server`, the checkers,
//!    `vrrp_instance`, `vrrp_sync_group`, `vrrp_script`, `SSL`).
//! 4. `validate`: cross references and keepalived's corrections; fills the
//!    effective defaults (scheduler `wlc`, method NAT, ports, weights,
//!    checker timing).

mod diag;
mod fs;
mod glob;
mod lower;
mod model;
mod parse;
mod preprocess;
mod tree;
mod validate;
mod value;
mod words;

use std::path::{Path, PathBuf};

pub use diag::{DiagKind, Diagnostic, Location, Severity};
pub use fs::{FileSource, MemFs, OsFs};
pub use lower::{
    TableService, dest_spec, diff, lower, lower_table, reconcile, timeouts, vs_services,
};
pub use model::*;

/// How to read a configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// keepalived's config id (`-i`; keepalived defaults to the first label
    /// of the host name): selects `@ID` lines, value of `${_INSTANCE}`.
    pub config_id: Option<String>,
    /// Seed for `${_RANDOM}`.
    pub random_seed: u64,
    /// Most files open at once through nested includes.
    pub max_include_depth: usize,
    /// Most file openings in total (includes can branch: a file including
    /// two files that include it again would otherwise grow exponentially).
    pub max_files: usize,
    /// Most lines produced by `~SEQ`/`~LST` replays and multi-line
    /// definitions, in total.
    pub max_replayed_lines: usize,
    /// Longest line after parameter substitution, in bytes.
    pub max_line_len: usize,
    /// Most bytes of preprocessed text in total (replays of long lines
    /// could otherwise reach `max_replayed_lines` × `max_line_len`).
    pub max_output_bytes: usize,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            config_id: None,
            random_seed: 0,
            max_include_depth: 32,
            max_files: 4096,
            max_replayed_lines: 1_000_000,
            max_line_len: 1 << 20,
            max_output_bytes: 64 << 20,
        }
    }
}

impl Options {
    /// Options with a config id.
    pub fn with_config_id(mut self, id: impl Into<String>) -> Options {
        self.config_id = Some(id.into());
        self
    }

    /// keepalived's defaults on this machine: the config id is the host
    /// name up to its first dot (read from `/proc/sys/kernel/hostname`).
    pub fn system() -> Options {
        let id = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .and_then(|h| h.trim().split('.').next().map(str::to_owned))
            .filter(|h| !h.is_empty());
        Options {
            config_id: id,
            ..Options::default()
        }
    }
}

/// Outcome of reading a configuration.
#[derive(Debug, Clone)]
pub struct Report {
    /// The configuration, when there is no error.
    pub config: Option<Config>,
    /// Warnings and errors, in the order found.
    pub diagnostics: Vec<Diagnostic>,
    /// Every file read, in the order opened (the root first; all matches of
    /// an include pattern are opened when its line is read).
    pub files: Vec<PathBuf>,
}

impl Report {
    /// Whether the configuration is accepted.
    pub fn is_ok(&self) -> bool {
        self.config.is_some()
    }

    /// The errors.
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
    }

    /// The warnings.
    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Warning)
    }

    /// The configuration and warnings, or the rejection.
    pub fn into_result(self) -> Result<(Config, Vec<Diagnostic>), ConfigError> {
        match self.config {
            Some(c) => Ok((c, self.diagnostics)),
            None => Err(ConfigError::Rejected {
                diagnostics: self.diagnostics,
            }),
        }
    }
}

/// Why a configuration cannot be used.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ConfigError {
    /// At least one error was found.
    #[error("configuration rejected: {}", summary(.diagnostics))]
    Rejected {
        /// All diagnostics (errors and warnings).
        diagnostics: Vec<Diagnostic>,
    },
}

fn summary(d: &[Diagnostic]) -> String {
    let errors: Vec<&Diagnostic> = d.iter().filter(|d| d.is_error()).collect();
    match errors.as_slice() {
        [] => "no error".to_owned(),
        [one] => one.to_string(),
        [first, rest @ ..] => format!("{first} (and {} more errors)", rest.len()),
    }
}

/// `keepalived -t` for the file at `path`, with [`Options::system`].
pub fn check_file(path: impl AsRef<Path>) -> Report {
    check(&OsFs, path.as_ref(), &Options::system())
}

/// Read and check the configuration rooted at `path` from `fs`.
pub fn check(fs: &dyn FileSource, path: &Path, opts: &Options) -> Report {
    let mut d = diag::Diags::default();
    let pre = preprocess::Preprocessor::new(fs, opts, &mut d).run(path);
    let root = tree::build(&pre.lines, &mut d);
    let mut cfg = parse::config(&root, &mut d);
    validate::validate(&mut cfg, &mut d);
    let config = if d.has_errors() { None } else { Some(cfg) };
    Report {
        config,
        diagnostics: d.list,
        files: pre.files,
    }
}

/// Load a configuration for use: the configuration and its warnings, or the
/// rejection with every diagnostic.
pub fn load(
    path: impl AsRef<Path>,
    opts: &Options,
) -> Result<(Config, Vec<Diagnostic>), ConfigError> {
    check(&OsFs, path.as_ref(), opts).into_result()
}

/// One line after preprocessing (what the parser sees).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpandedLine {
    /// File and line it comes from; the column of its first character.
    pub location: Location,
    /// The text.
    pub text: String,
}

/// The preprocessor alone: comments, conditionals, definitions, replays and
/// includes applied (useful to see what keepalived would parse).
pub fn expand(
    fs: &dyn FileSource,
    path: &Path,
    opts: &Options,
) -> (Vec<ExpandedLine>, Vec<Diagnostic>) {
    let mut d = diag::Diags::default();
    let pre = preprocess::Preprocessor::new(fs, opts, &mut d).run(path);
    let lines = pre
        .lines
        .into_iter()
        .map(|l| ExpandedLine {
            location: l.loc(0),
            text: l.text,
        })
        .collect();
    (lines, d.list)
}
