//! Diagnostics: where something was written, how bad it is, and what it was.
//!
//! Every diagnostic carries a [`Location`] (`file:line:column`, 1-based) and,
//! when there is one, the offending text. Warnings never make a configuration
//! invalid; a single error does (the whole configuration is rejected, as
//! `keepalived -t` exits non-zero).

use std::fmt;
use std::path::Path;
use std::sync::Arc;

/// A position in a configuration file: 1-based line and column.
///
/// Columns count characters of the physical line. For a line changed by
/// parameter substitution (`$NAME`), a `~SEQ` / `~LST` replay or a multi-line
/// definition, the column is the position in the expanded text of the line
/// that triggered the expansion.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Location {
    /// File the text came from (as the include directive named it, joined to
    /// the directory of the including file).
    pub file: Arc<Path>,
    /// 1-based line number (0 when the diagnostic is about the file itself).
    pub line: u32,
    /// 1-based column (0 when not applicable).
    pub col: u32,
}

impl Location {
    /// A location.
    pub fn new(file: Arc<Path>, line: u32, col: u32) -> Location {
        Location { file, line, col }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.col)
    }
}

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    /// Reported, the configuration still loads.
    Warning,
    /// The configuration is rejected.
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

/// What kind of problem a diagnostic reports (for programs; people read the
/// message).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DiagKind {
    /// A keyword keepalived does not know either; the statement (and its
    /// block) is skipped, as keepalived does.
    UnknownKeyword,
    /// A keepalived keyword lvs-rs does not implement; skipped.
    Unsupported,
    /// An old spelling that still works (`nb_get_retry`, ...).
    Deprecated,
    /// keepalived's own correction of a doubtful setting, applied the same
    /// way (default protocol, port reset, quorum reduced, ...).
    Corrected,
    /// Quoting, comments, braces, preprocessor directives.
    Syntax,
    /// A value that is not valid for its keyword.
    InvalidValue,
    /// A required parameter or block is missing.
    Missing,
    /// An `include` that matches no file or cannot be read.
    Include,
    /// A name that refers to nothing (virtual server group, vrrp script,
    /// vrrp instance).
    Reference,
    /// Something defined twice.
    Duplicate,
    /// A preprocessor or size limit was hit.
    Limit,
}

/// One problem found in a configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{location}: {severity}: {message}")]
pub struct Diagnostic {
    /// Warning or error.
    pub severity: Severity,
    /// Category.
    pub kind: DiagKind,
    /// Where.
    pub location: Location,
    /// Human readable text (names the offending text in backquotes).
    pub message: String,
    /// The offending text itself, when there is one.
    pub text: Option<String>,
}

impl Diagnostic {
    /// An error.
    pub fn error(kind: DiagKind, location: Location, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            kind,
            location,
            message: message.into(),
            text: None,
        }
    }

    /// A warning.
    pub fn warning(kind: DiagKind, location: Location, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            kind,
            location,
            message: message.into(),
            text: None,
        }
    }

    /// Attach the offending text.
    pub fn with_text(mut self, text: impl Into<String>) -> Diagnostic {
        self.text = Some(text.into());
        self
    }

    /// Whether this is an error.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Collector used by every stage.
#[derive(Debug, Default)]
pub(crate) struct Diags {
    pub(crate) list: Vec<Diagnostic>,
}

impl Diags {
    pub(crate) fn push(&mut self, d: Diagnostic) {
        self.list.push(d);
    }

    pub(crate) fn error(&mut self, kind: DiagKind, loc: &Location, msg: String, text: &str) {
        self.list
            .push(Diagnostic::error(kind, loc.clone(), msg).with_text(text));
    }

    pub(crate) fn warn(&mut self, kind: DiagKind, loc: &Location, msg: String, text: &str) {
        self.list
            .push(Diagnostic::warning(kind, loc.clone(), msg).with_text(text));
    }

    pub(crate) fn has_errors(&self) -> bool {
        self.list.iter().any(Diagnostic::is_error)
    }
}
