//! The keepalived.conf preprocessor: turns files into logical lines.
//!
//! Mirrors keepalived 2.2.7's `read_line()` (`lib/parser.c`), checked against
//! the real program in the IPVS lab VM. For each physical line, in order:
//!
//! 1. comments are removed (see [`crate::words`]); blank lines are skipped;
//! 2. while a multi-line definition is open, the line is appended to it (a
//!    trailing `\` continues it; a line without one, a blank line or a
//!    comment-only line ends it);
//! 3. `@ID rest` keeps `rest` only when `ID` equals the config id, `@^ID rest`
//!    only when it differs; with no config id every `@ID` line is dropped
//!    and every `@^ID` line kept; `@ID` with nothing after it is dropped;
//! 4. `$NAME=value` defines a parameter (no blank before `=`; a value ending
//!    in `\` starts a multi-line definition);
//! 5. `~SEQ(var, start, step, end)` / `~SEQx(...)` and `~LST(var, v1, v2...)`
//!    / `~LST({a,b}, {1,2}, ...)` replay the rest of the line once per value
//!    with `$var` defined (numbers read like C `strtol(.., 0)`, so `010` is
//!    octal 8; `~SEQ(N, end)` counts from 1 (or -1) towards `end`; several on
//!    one line nest, the last innermost);
//! 6. `$NAME` (followed by blank, `,`, `)` or end of line) and `${NAME}` are
//!    replaced by the value, at use time and recursively; undefined names are
//!    left alone. A multi-line definition is only expanded when its reference
//!    ends the line: its first line replaces the reference and the others
//!    follow as lines of their own. Predefined: `${_PWD}` (directory of the
//!    current file), `${_INSTANCE}` (config id), `${_RANDOM [MIN [MAX]]}`
//!    (seeded, deterministic), `${_HASH}` (`#`), `${_BANG}` (`!`);
//! 7. a line that is exactly `include PATTERN` reads the files the glob
//!    pattern matches (relative to the directory of the current file, braces
//!    allowed, sorted); a pattern matching no file is an error (keepalived
//!    2.2.7 `-t` reports "Config files missing").
//!
//! Every logical line keeps the file and line it came from (for replays and
//! multi-line expansions: the line that triggered them). Work is bounded:
//! include depth, files opened, total replayed lines, line length, total
//! output bytes and substitutions per line are limited by
//! [`crate::Options`]; hitting a limit is an error.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::Options;
use crate::diag::{DiagKind, Diagnostic, Diags, Location};
use crate::fs::FileSource;
use crate::glob;
use crate::words::decomment;

/// Substitutions allowed on one line before giving up (self-reference).
const MAX_SUBSTITUTIONS_PER_LINE: usize = 10_000;

/// One line after preprocessing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LogicalLine {
    /// The text, free of comments, conditionals and parameters.
    pub(crate) text: String,
    /// File the line (or the expansion that produced it) was read from.
    pub(crate) file: Arc<Path>,
    /// 1-based physical line number.
    pub(crate) line: u32,
    /// 0-based column (chars) of the first character of `text` in the
    /// physical line.
    pub(crate) col_base: u32,
}

impl LogicalLine {
    /// Location of the char at `offset` in `text`.
    pub(crate) fn loc(&self, offset: usize) -> Location {
        let col = self
            .col_base
            .saturating_add(u32::try_from(offset).unwrap_or(u32::MAX));
        Location::new(self.file.clone(), self.line, col.saturating_add(1))
    }
}

/// Result of preprocessing a configuration.
#[derive(Debug, Default)]
pub(crate) struct Preprocessed {
    pub(crate) lines: Vec<LogicalLine>,
    /// Every file read, in the order opened.
    pub(crate) files: Vec<PathBuf>,
}

#[derive(Debug, Clone)]
enum Value {
    Single(String),
    /// Lines of a multi-line definition (empty first line omitted).
    Multi(Vec<String>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Builtin {
    Pwd,
    Instance,
    Random,
    Hash,
    Bang,
}

#[derive(Debug, Clone)]
enum Def {
    User(Value),
    Builtin(Builtin),
}

#[derive(Debug, Clone)]
struct Origin {
    file: Arc<Path>,
    line: u32,
    col_base: u32,
}

#[derive(Debug)]
enum Frame {
    File {
        file: Arc<Path>,
        dir: PathBuf,
        lines: Vec<String>,
        next: usize,
    },
    Lines {
        lines: std::vec::IntoIter<String>,
        origin: Origin,
    },
    Seq {
        var: String,
        next: i64,
        step: i64,
        last: i64,
        hex: bool,
        text: String,
        origin: Origin,
    },
    List {
        vars: Vec<String>,
        rows: std::vec::IntoIter<Vec<String>>,
        text: String,
        origin: Origin,
    },
}

/// A line on its way through the pipeline.
struct Raw {
    text: String,
    origin: Origin,
}

struct PendingDef {
    name: String,
    lines: Vec<String>,
}

pub(crate) struct Preprocessor<'a> {
    fs: &'a dyn FileSource,
    opts: &'a Options,
    diags: &'a mut Diags,
    defs: HashMap<String, Def>,
    stack: Vec<Frame>,
    pending: Option<PendingDef>,
    replayed: usize,
    /// Bytes of the lines produced so far.
    produced: usize,
    rng: u64,
    out: Preprocessed,
}

impl<'a> Preprocessor<'a> {
    pub(crate) fn new(fs: &'a dyn FileSource, opts: &'a Options, diags: &'a mut Diags) -> Self {
        let mut defs = HashMap::new();
        defs.insert("_PWD".to_owned(), Def::Builtin(Builtin::Pwd));
        defs.insert("_INSTANCE".to_owned(), Def::Builtin(Builtin::Instance));
        defs.insert("_RANDOM".to_owned(), Def::Builtin(Builtin::Random));
        defs.insert("_HASH".to_owned(), Def::Builtin(Builtin::Hash));
        defs.insert("_BANG".to_owned(), Def::Builtin(Builtin::Bang));
        Preprocessor {
            fs,
            opts,
            diags,
            defs,
            stack: Vec::new(),
            pending: None,
            replayed: 0,
            // xorshift64* must not start at zero.
            produced: 0,
            rng: opts.random_seed | 1,
            out: Preprocessed::default(),
        }
    }

    /// Preprocess the configuration rooted at `path`.
    pub(crate) fn run(mut self, path: &Path) -> Preprocessed {
        let file: Arc<Path> = Arc::from(path);
        let loc = Location::new(file.clone(), 0, 0);
        if !self.open_file(path, &loc) {
            return self.out;
        }
        while let Some(raw) = self.next_raw() {
            if let Some(line) = self.process(raw) {
                self.produced = self.produced.saturating_add(line.text.len() + 1);
                if self.produced > self.opts.max_output_bytes {
                    self.diags.error(
                        DiagKind::Limit,
                        &line.loc(0),
                        format!(
                            "more than {} bytes after preprocessing - giving up",
                            self.opts.max_output_bytes
                        ),
                        "",
                    );
                    self.stack.clear();
                    self.pending = None;
                    break;
                }
                self.out.lines.push(line);
            }
        }
        if let Some(p) = self.pending.take() {
            self.finish_def(p);
        }
        self.out
    }

    fn open_file(&mut self, path: &Path, at: &Location) -> bool {
        match self.read_file(path, at) {
            Some(frame) => {
                self.stack.push(frame);
                true
            }
            None => false,
        }
    }

    /// Read a file into a frame (recorded in [`Preprocessed::files`]).
    fn read_file(&mut self, path: &Path, at: &Location) -> Option<Frame> {
        match self.fs.read(path) {
            Ok(bytes) => {
                let text = String::from_utf8_lossy(&bytes);
                let lines = text
                    .split('\n')
                    .map(|l| l.strip_suffix('\r').unwrap_or(l).to_owned());
                let mut lines: Vec<String> = lines.collect();
                if text.ends_with('\n') {
                    lines.pop();
                }
                let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
                self.out.files.push(path.to_path_buf());
                Some(Frame::File {
                    file: Arc::from(path),
                    dir,
                    lines,
                    next: 0,
                })
            }
            Err(e) => {
                self.diags.push(
                    Diagnostic::error(
                        DiagKind::Include,
                        at.clone(),
                        format!("cannot read configuration file `{}`: {e}", path.display()),
                    )
                    .with_text(path.display().to_string()),
                );
                None
            }
        }
    }

    /// Directory of the file being read (for `include` and `${_PWD}`).
    fn current_dir(&self) -> PathBuf {
        self.stack
            .iter()
            .rev()
            .find_map(|f| match f {
                Frame::File { dir, .. } => Some(dir.clone()),
                _ => None,
            })
            .unwrap_or_default()
    }

    fn file_depth(&self) -> usize {
        self.stack
            .iter()
            .filter(|f| matches!(f, Frame::File { .. }))
            .count()
    }

    fn bump_replayed(&mut self, origin: &Origin) -> bool {
        self.replayed += 1;
        if self.replayed > self.opts.max_replayed_lines {
            let loc = Location::new(origin.file.clone(), origin.line, origin.col_base + 1);
            self.diags.error(
                DiagKind::Limit,
                &loc,
                format!(
                    "more than {} lines produced by ~SEQ/~LST/multi-line definitions - giving up",
                    self.opts.max_replayed_lines
                ),
                "",
            );
            // Drop every replay frame; keep reading files.
            self.stack.retain(|f| matches!(f, Frame::File { .. }));
            return false;
        }
        true
    }

    /// The next line from the top of the stack.
    fn next_raw(&mut self) -> Option<Raw> {
        loop {
            let top = self.stack.last_mut()?;
            match top {
                Frame::File {
                    file, lines, next, ..
                } => {
                    if *next >= lines.len() {
                        self.stack.pop();
                        continue;
                    }
                    let physical = std::mem::take(&mut lines[*next]);
                    *next += 1;
                    let line_no = u32::try_from(*next).unwrap_or(u32::MAX);
                    let file = file.clone();
                    if physical.is_empty() {
                        // A blank line ends a multi-line definition.
                        if let Some(p) = self.pending.take() {
                            self.finish_def(p);
                        }
                        continue;
                    }
                    let d = decomment(&physical);
                    let col_base = u32::try_from(d.lead).unwrap_or(u32::MAX);
                    if let Some(q) = d.open_quote {
                        let loc = Location::new(file.clone(), line_no, col_base + 1 + q as u32);
                        self.diags.error(
                            DiagKind::Syntax,
                            &loc,
                            "unterminated quote: `\"` is never closed".to_owned(),
                            &d.text,
                        );
                    }
                    return Some(Raw {
                        text: d.text,
                        origin: Origin {
                            file,
                            line: line_no,
                            col_base,
                        },
                    });
                }
                Frame::Lines { lines, origin } => match lines.next() {
                    Some(text) => {
                        let origin = origin.clone();
                        if !self.bump_replayed(&origin) {
                            continue;
                        }
                        return Some(Raw { text, origin });
                    }
                    None => {
                        self.stack.pop();
                    }
                },
                Frame::Seq {
                    var,
                    next,
                    step,
                    last,
                    hex,
                    text,
                    origin,
                } => {
                    let value = if *hex {
                        format!("{:x}", *next)
                    } else {
                        next.to_string()
                    };
                    let var = var.clone();
                    let raw = Raw {
                        text: text.clone(),
                        origin: origin.clone(),
                    };
                    let cur = *next;
                    let done = match cur.checked_add(*step) {
                        Some(n) => {
                            *next = n;
                            (*step > 0 && n > *last) || (*step < 0 && n < *last)
                        }
                        None => true,
                    };
                    if done {
                        self.stack.pop();
                    }
                    if !self.bump_replayed(&raw.origin) {
                        continue;
                    }
                    self.defs.insert(var, Def::User(Value::Single(value)));
                    return Some(raw);
                }
                Frame::List {
                    vars,
                    rows,
                    text,
                    origin,
                } => match rows.next() {
                    Some(row) => {
                        let vars = vars.clone();
                        let raw = Raw {
                            text: text.clone(),
                            origin: origin.clone(),
                        };
                        if !self.bump_replayed(&raw.origin) {
                            continue;
                        }
                        for (v, val) in vars.into_iter().zip(row) {
                            self.defs.insert(v, Def::User(Value::Single(val)));
                        }
                        return Some(raw);
                    }
                    None => {
                        self.stack.pop();
                    }
                },
            }
        }
    }

    fn finish_def(&mut self, p: PendingDef) {
        let value = if p.lines.is_empty() {
            // An empty multi-line definition is an ordinary empty one.
            Value::Single(String::new())
        } else {
            Value::Multi(p.lines)
        };
        self.defs.insert(p.name, Def::User(value));
    }

    /// Run one line through the pipeline; `Some` if it survives as a
    /// logical line.
    fn process(&mut self, raw: Raw) -> Option<LogicalLine> {
        let Raw { mut text, origin } = raw;
        if let Some(mut p) = self.pending.take() {
            // Continuation of a multi-line definition.
            if let Some(body) = text.strip_suffix('\\') {
                let body = body.trim_end_matches([' ', '\t']);
                if !body.is_empty() {
                    p.lines.push(body.to_owned());
                }
                self.pending = Some(p);
            } else {
                if !text.is_empty() {
                    p.lines.push(text);
                }
                self.finish_def(p);
            }
            return None;
        }
        if text.is_empty() {
            return None;
        }
        let mut col_base = origin.col_base;
        let mut substitutions = 0usize;
        loop {
            if let Some(rest) = text.strip_prefix('@') {
                let (negate, rest) = match rest.strip_prefix('^') {
                    Some(r) => (true, r),
                    None => (false, rest),
                };
                let sp = rest.find([' ', '\t'])?;
                let id = &rest[..sp];
                let matches = self.opts.config_id.as_deref() == Some(id);
                if matches == negate {
                    return None;
                }
                let after = rest[sp..].trim_start_matches([' ', '\t']);
                let removed = text.len() - after.len();
                col_base += text[..removed].chars().count() as u32;
                text = after.to_owned();
            }
            if text.starts_with('$')
                && let Some((name, value, multi)) = parse_definition(&text)
            {
                if multi {
                    let mut lines = Vec::new();
                    if !value.is_empty() {
                        lines.push(value);
                    }
                    self.pending = Some(PendingDef { name, lines });
                } else {
                    self.defs.insert(name, Def::User(Value::Single(value)));
                }
                return None;
            }
            if text.starts_with("~SEQ") || text.starts_with("~LST") {
                let origin2 = Origin {
                    file: origin.file.clone(),
                    line: origin.line,
                    col_base,
                };
                self.directive(&text, origin2);
                return None;
            }
            if text.starts_with('~') {
                break;
            }
            if !text.contains('$') {
                break;
            }
            match self.substitute(&mut text, &origin, col_base, &mut substitutions) {
                Ok(true) => {
                    if text.starts_with('@') || text.starts_with('~') || text.contains('$') {
                        continue;
                    }
                    break;
                }
                Ok(false) => break,
                Err(()) => return None,
            }
        }
        if text.is_empty() {
            return None;
        }
        // include PATTERN (checked before brace splitting, as keepalived).
        if let Some((pattern, offset)) = include_target(&text) {
            let at = Location::new(
                origin.file.clone(),
                origin.line,
                col_base + text[..offset].chars().count() as u32 + 1,
            );
            self.include(&pattern, &at);
            return None;
        }
        Some(LogicalLine {
            text,
            file: origin.file.clone(),
            line: origin.line,
            col_base,
        })
    }

    fn include(&mut self, pattern: &str, at: &Location) {
        if self.out.files.len() >= self.opts.max_files {
            self.diags.error(
                DiagKind::Limit,
                at,
                format!(
                    "include `{pattern}`: more than {} files opened (include loop?)",
                    self.opts.max_files
                ),
                pattern,
            );
            return;
        }
        if self.file_depth() >= self.opts.max_include_depth {
            self.diags.error(
                DiagKind::Limit,
                at,
                format!(
                    "include `{pattern}`: more than {} nested files (include loop?)",
                    self.opts.max_include_depth
                ),
                pattern,
            );
            return;
        }
        let joined = if pattern.starts_with('/') {
            pattern.to_owned()
        } else {
            let dir = self.current_dir();
            if dir.as_os_str().is_empty() {
                pattern.to_owned()
            } else {
                format!("{}/{}", dir.display(), pattern)
            }
        };
        let matches: Vec<PathBuf> = glob::glob(self.fs, &joined)
            .into_iter()
            .filter(|p| self.fs.is_file(p))
            .collect();
        if matches.is_empty() {
            self.diags.error(
                DiagKind::Include,
                at,
                format!("include `{pattern}` matches no configuration file"),
                pattern,
            );
            return;
        }
        // Push in reverse so the first match is read first.
        let room = self.opts.max_files.saturating_sub(self.out.files.len());
        if matches.len() > room {
            self.diags.error(
                DiagKind::Limit,
                at,
                format!(
                    "include `{pattern}`: more than {} files opened (include loop?)",
                    self.opts.max_files
                ),
                pattern,
            );
        }
        let frames: Vec<Frame> = matches
            .iter()
            .take(room)
            .filter_map(|p| self.read_file(p, at))
            .collect();
        self.stack.extend(frames.into_iter().rev());
    }

    /// Handle `~SEQ(...)` / `~SEQx(...)` / `~LST(...)`.
    fn directive(&mut self, text: &str, origin: Origin) {
        let loc = Location::new(origin.file.clone(), origin.line, origin.col_base + 1);
        let parsed = if text.starts_with("~SEQ") {
            self.parse_seq(text, &origin)
        } else {
            self.parse_lst(text, &origin)
        };
        match parsed {
            Ok(frame) => self.stack.push(frame),
            Err(msg) => {
                self.diags.error(DiagKind::Syntax, &loc, msg, text);
            }
        }
    }

    fn parse_seq(&mut self, text: &str, origin: &Origin) -> Result<Frame, String> {
        let invalid = || format!("invalid ~SEQ specification `{text}`");
        let mut rest = &text[4..];
        let hex = rest.starts_with('x');
        if hex {
            rest = &rest[1..];
        }
        rest = rest.trim_start_matches([' ', '\t']);
        rest = rest.strip_prefix('(').ok_or_else(invalid)?;
        rest = rest.trim_start_matches([' ', '\t']);
        let var_end = rest.find([' ', '\t', ',', ')']).unwrap_or(rest.len());
        let var = &rest[..var_end];
        rest = rest[var_end..].trim_start_matches([' ', '\t']);
        if var.is_empty() || rest.is_empty() || rest.starts_with(')') {
            return Err(invalid());
        }
        // keepalived skips the separator without looking at it.
        let mut chars = rest.chars();
        chars.next();
        rest = chars.as_str().trim_start_matches([' ', '\t']);
        let close = rest.find(')').ok_or_else(invalid)?;
        let mut params = rest[..=close].to_owned();
        let remainder = rest[close + 1..].trim_start_matches([' ', '\t']).to_owned();
        let mut n = 0;
        self.substitute_single(&mut params, origin, &mut n)?;
        let (start, step, end) = seq_numbers(&params).ok_or_else(invalid)?;
        if step == 0 || (start < end && step < 0) || (start > end && step > 0) {
            return Err(format!("invalid ~SEQ values `{text}`"));
        }
        if hex && (start < 0 || end < 0) {
            return Err(format!("~SEQx is only valid for positive numbers `{text}`"));
        }
        let origin = Origin {
            file: origin.file.clone(),
            line: origin.line,
            col_base: origin.col_base + (text.chars().count() - remainder.chars().count()) as u32,
        };
        Ok(Frame::Seq {
            var: var.to_owned(),
            next: start,
            step,
            last: end,
            hex,
            text: remainder,
            origin,
        })
    }

    fn parse_lst(&mut self, text: &str, origin: &Origin) -> Result<Frame, String> {
        let invalid = || format!("invalid ~LST specification `{text}`");
        let rest = text[4..].trim_start_matches([' ', '\t']);
        let rest = rest.strip_prefix('(').ok_or_else(invalid)?;
        // The list ends at the first ')' (values cannot contain one).
        let close = rest.find(')').ok_or_else(invalid)?;
        let mut inner = rest[..close].to_owned();
        let remainder = rest[close + 1..].trim_start_matches([' ', '\t']).to_owned();
        let mut n = 0;
        self.substitute_single(&mut inner, origin, &mut n)?;
        let items = split_list_items(&inner).ok_or_else(invalid)?;
        let mut items = items.into_iter();
        let vars = items.next().ok_or_else(invalid)?;
        if vars.is_empty() || vars.iter().any(|v| !is_name(v)) {
            return Err(invalid());
        }
        let rows: Vec<Vec<String>> = items.collect();
        if rows.is_empty() || rows.iter().any(|r| r.len() != vars.len()) {
            return Err(format!(
                "~LST values do not match its variables in `{text}`"
            ));
        }
        let origin = Origin {
            file: origin.file.clone(),
            line: origin.line,
            col_base: origin.col_base + (text.chars().count() - remainder.chars().count()) as u32,
        };
        Ok(Frame::List {
            vars,
            rows: rows.into_iter(),
            text: remainder,
            origin,
        })
    }

    /// Replace parameters in a `~SEQ`/`~LST` parameter list (multi-line
    /// definitions are not allowed there).
    fn substitute_single(
        &mut self,
        text: &mut String,
        origin: &Origin,
        n: &mut usize,
    ) -> Result<(), String> {
        let depth = self.stack.len();
        match self.substitute(text, origin, origin.col_base, n) {
            Ok(_) if self.stack.len() == depth => Ok(()),
            Ok(_) => {
                self.stack.truncate(depth);
                Err(format!("multi-line definition used in parameters `{text}`"))
            }
            Err(()) => Err(format!("cannot expand parameters `{text}`")),
        }
    }

    /// Replace `$NAME` / `${NAME}` in `text`. Returns whether anything was
    /// replaced; `Err` after reporting a limit error.
    fn substitute(
        &mut self,
        text: &mut String,
        origin: &Origin,
        col_base: u32,
        count: &mut usize,
    ) -> Result<bool, ()> {
        let mut changed = false;
        let mut pos = 0usize;
        while let Some(rel) = text[pos..].find('$') {
            let at = pos + rel;
            if at + 1 >= text.len() {
                break;
            }
            let Some(r) = self.lookup(&text[at + 1..]) else {
                pos = at + 1;
                continue;
            };
            *count += 1;
            let (replacement, more) = match r.value {
                Value::Single(v) => (v, None),
                Value::Multi(mut lines) => {
                    let first = if lines.is_empty() {
                        String::new()
                    } else {
                        lines.remove(0)
                    };
                    (first, Some(lines))
                }
            };
            text.replace_range(at..at + 1 + r.len, &replacement);
            changed = true;
            if let Some(rest) = more {
                let o = Origin {
                    file: origin.file.clone(),
                    line: origin.line,
                    col_base,
                };
                self.stack.push(Frame::Lines {
                    lines: rest.into_iter(),
                    origin: o,
                });
            }
            if *count > MAX_SUBSTITUTIONS_PER_LINE || text.len() > self.opts.max_line_len {
                let loc = Location::new(origin.file.clone(), origin.line, col_base + 1);
                self.diags.error(
                    DiagKind::Limit,
                    &loc,
                    "parameter substitution does not terminate (a definition refers to itself?) \
                     or makes the line too long"
                        .to_owned(),
                    "",
                );
                return Err(());
            }
            if replacement.trim_start_matches([' ', '\t']).starts_with('~') {
                break;
            }
            pos = at;
        }
        Ok(changed)
    }

    /// Resolve the reference starting right after a `$`.
    fn lookup(&mut self, s: &str) -> Option<Ref> {
        let b = s.as_bytes();
        let braces = b.first() == Some(&b'{');
        let name_start = usize::from(braces);
        let first = *b.get(name_start)?;
        if !(first.is_ascii_alphabetic() || first == b'_') {
            return None;
        }
        let mut i = name_start + 1;
        while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
            i += 1;
        }
        let name = &s[name_start..i];
        let mut params: Option<(usize, usize)> = None;
        let len;
        let at_end;
        if braces {
            let mut last_nonspace: Option<usize> = None;
            let mut first_param: Option<usize> = None;
            while i < b.len() && (b[i] == b' ' || b[i].is_ascii_digit()) {
                if b[i] != b' ' {
                    first_param.get_or_insert(i);
                    last_nonspace = Some(i);
                }
                i += 1;
            }
            if let (Some(f), Some(l)) = (first_param, last_nonspace) {
                if l + 1 != i {
                    return None;
                }
                params = Some((f, l + 1));
            }
            if b.get(i) != Some(&b'}') {
                return None;
            }
            len = i + 1;
            at_end = len == b.len();
        } else {
            match b.get(i) {
                None | Some(b' ') | Some(b'\t') | Some(b',') | Some(b')') => {}
                _ => return None,
            }
            len = i;
            at_end = len == b.len();
        }
        let def = self.defs.get(name)?.clone();
        let value = match def {
            Def::User(v) => {
                if params.is_some() {
                    return None;
                }
                if matches!(v, Value::Multi(_)) && !at_end {
                    return None;
                }
                v
            }
            Def::Builtin(bi) => {
                if params.is_some() && bi != Builtin::Random {
                    return None;
                }
                Value::Single(self.builtin(bi, params.map(|(a, z)| &s[a..z])))
            }
        };
        Some(Ref { len, value })
    }

    fn builtin(&mut self, b: Builtin, params: Option<&str>) -> String {
        match b {
            Builtin::Pwd => self.current_dir().display().to_string(),
            Builtin::Instance => self.opts.config_id.clone().unwrap_or_default(),
            Builtin::Hash => "#".to_owned(),
            Builtin::Bang => "!".to_owned(),
            Builtin::Random => {
                let mut min: u64 = 0;
                let mut max: u64 = 32767;
                if let Some(p) = params {
                    let mut it = p.split(' ').filter(|s| !s.is_empty());
                    if let Some(a) = it.next() {
                        min = a.parse().unwrap_or(0);
                    }
                    if let Some(z) = it.next() {
                        max = z.parse().unwrap_or(32767);
                    }
                }
                if max < min {
                    std::mem::swap(&mut min, &mut max);
                }
                // xorshift64*
                let mut x = self.rng;
                x ^= x >> 12;
                x ^= x << 25;
                x ^= x >> 27;
                self.rng = x;
                let r = x.wrapping_mul(0x2545_f491_4f6c_dd1d);
                let span = (max - min).saturating_add(1);
                (min + r % span).to_string()
            }
        }
    }
}

struct Ref {
    /// Bytes after the `$` that the reference covers.
    len: usize,
    value: Value,
}

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `include PATTERN` (exactly two words, keepalived's default splitting):
/// the pattern and its byte offset.
fn include_target(text: &str) -> Option<(String, usize)> {
    let rest = text.strip_prefix("include")?;
    let trimmed = rest.trim_start_matches(|c: char| c.is_ascii_whitespace());
    if trimmed.len() == rest.len() || trimmed.is_empty() {
        return None;
    }
    let offset = text.len() - trimmed.len();
    let (pattern, after) = match trimmed.strip_prefix('"') {
        Some(q) => {
            let close = q.find('"')?;
            (&q[..close], &q[close + 1..])
        }
        None => {
            let end = trimmed
                .find(|c: char| c.is_ascii_whitespace() || c == '"')
                .unwrap_or(trimmed.len());
            (&trimmed[..end], &trimmed[end..])
        }
    };
    if !after.trim().is_empty() || pattern.is_empty() {
        return None;
    }
    Some((pattern.to_owned(), offset))
}

/// `$NAME=value`: name, value (first line) and whether it continues.
fn parse_definition(text: &str) -> Option<(String, String, bool)> {
    let body = text.strip_prefix('$')?;
    let eq = body.find('=')?;
    let name = &body[..eq];
    if !is_name(name) {
        return None;
    }
    let value = body[eq + 1..].trim_start_matches([' ', '\t']);
    match value.strip_suffix('\\') {
        Some(v) => Some((
            name.to_owned(),
            v.trim_end_matches([' ', '\t']).to_owned(),
            true,
        )),
        None => Some((name.to_owned(), value.to_owned(), false)),
    }
}

/// C `strtol(s, &end, 0)`: value and bytes consumed (0 if no digits).
fn strtol0(s: &str) -> (i64, usize) {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) {
        i += 1;
    }
    let mut neg = false;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        neg = b[i] == b'-';
        i += 1;
    }
    let (radix, digits_at) = if b.get(i) == Some(&b'0')
        && matches!(b.get(i + 1), Some(b'x') | Some(b'X'))
        && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit)
    {
        (16, i + 2)
    } else if b.get(i) == Some(&b'0') {
        (8, i)
    } else {
        (10, i)
    };
    let mut j = digits_at;
    let mut v: i64 = 0;
    while let Some(d) = b.get(j).and_then(|c| (*c as char).to_digit(radix)) {
        v = v
            .saturating_mul(i64::from(radix))
            .saturating_add(i64::from(d));
        j += 1;
    }
    if j == digits_at {
        return (0, 0);
    }
    (if neg { -v } else { v }, j)
}

/// The numbers of a `~SEQ`: `params` runs up to and including the `)`.
fn seq_numbers(params: &str) -> Option<(i64, i64, i64)> {
    let mut rest = params;
    let mut nums = Vec::with_capacity(3);
    loop {
        let (v, used) = strtol0(rest);
        nums.push(v);
        rest = rest[used..].trim_start_matches([' ', '\t']);
        if rest.starts_with(')') {
            break;
        }
        if nums.len() == 3 || !rest.starts_with(',') {
            return None;
        }
        rest = &rest[1..];
    }
    Some(match nums[..] {
        [end] => (
            if end < 0 { -1 } else { 1 },
            if end < 1 { -1 } else { 1 },
            end,
        ),
        [start, end] => (start, if start <= end { 1 } else { -1 }, end),
        [start, step, end] => (start, step, end),
        _ => return None,
    })
}

/// Items of a `~LST`: each is `{a, b}` or a single value.
fn split_list_items(inner: &str) -> Option<Vec<Vec<String>>> {
    let mut items = Vec::new();
    let mut rest = inner.trim();
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('{') {
            let close = r.find('}')?;
            items.push(r[..close].split(',').map(|v| v.trim().to_owned()).collect());
            rest = r[close + 1..].trim_start();
        } else {
            let end = rest.find(',').unwrap_or(rest.len());
            items.push(vec![rest[..end].trim().to_owned()]);
            rest = &rest[end..];
        }
        if let Some(r) = rest.strip_prefix(',') {
            rest = r.trim_start();
            if rest.is_empty() {
                return None;
            }
        } else if !rest.is_empty() {
            return None;
        }
    }
    Some(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strtol_bases() {
        assert_eq!(strtol0("010)"), (8, 3));
        assert_eq!(strtol0(" 0x1f,"), (31, 5));
        assert_eq!(strtol0("-3)"), (-3, 2));
        assert_eq!(strtol0("0)"), (0, 1));
        assert_eq!(strtol0(")"), (0, 0));
        assert_eq!(strtol0("0x)"), (0, 1));
    }

    #[test]
    fn seq_argument_forms() {
        // One number: from 1 (or -1) towards it.
        assert_eq!(seq_numbers("3)"), Some((1, 1, 3)));
        assert_eq!(seq_numbers("0)"), Some((1, -1, 0)));
        assert_eq!(seq_numbers("-2)"), Some((-1, -1, -2)));
        assert_eq!(seq_numbers("5, 3)"), Some((5, -1, 3)));
        assert_eq!(seq_numbers("2, 3, 9)"), Some((2, 3, 9)));
        assert_eq!(seq_numbers("1, 2, 3, 4)"), None);
        assert_eq!(seq_numbers("1; 2)"), None);
    }

    #[test]
    fn definitions() {
        assert_eq!(
            parse_definition("$A=1"),
            Some(("A".into(), "1".into(), false))
        );
        assert_eq!(
            parse_definition("$A=  x y  "),
            Some(("A".into(), "x y  ".into(), false))
        );
        assert_eq!(
            parse_definition("$A= \\"),
            Some(("A".into(), String::new(), true))
        );
        assert_eq!(
            parse_definition("$A=a b \\"),
            Some(("A".into(), "a b".into(), true))
        );
        assert_eq!(parse_definition("$A =1"), None);
        assert_eq!(parse_definition("$1A=1"), None);
        assert_eq!(parse_definition("$A"), None);
    }

    #[test]
    fn list_items() {
        assert_eq!(
            split_list_items("{IP, IP1}, {10,1},{20,4}"),
            Some(vec![
                vec!["IP".into(), "IP1".into()],
                vec!["10".into(), "1".into()],
                vec!["20".into(), "4".into()]
            ])
        );
        assert_eq!(
            split_list_items("A, 7, 9"),
            Some(vec![vec!["A".into()], vec!["7".into()], vec!["9".into()]])
        );
        assert_eq!(split_list_items("A, 7,"), None);
    }
}
