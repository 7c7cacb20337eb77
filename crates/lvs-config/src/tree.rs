//! Logical lines to a tree of statements and `{ ... }` blocks.
//!
//! A statement is the run of words between line ends and braces. A `{`
//! opens a block for the statement just before it, on the same line or on an
//! earlier one (keepalived accepts `real_server A P` with the `{` on the next
//! line); a `{` with no such statement is an error. `}` closes the innermost
//! block; a `}` with no open block and a block left open at the end of the
//! configuration are errors (keepalived: "Extra '}' found", "There are N
//! missing '}'s").

use crate::diag::{DiagKind, Diags, Location};
use crate::preprocess::LogicalLine;
use crate::words::{self, Tok, TokKind};

/// One configuration word with its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Word {
    /// Text, without quotes.
    pub(crate) text: String,
    /// Whether it was written in double quotes.
    pub(crate) quoted: bool,
    /// Where it starts.
    pub(crate) loc: Location,
}

/// A keyword with its parameters and optional block.
#[derive(Debug, Clone)]
pub(crate) struct Stmt {
    /// Keyword first; never empty.
    pub(crate) words: Vec<Word>,
    /// The statement's text as written on its (preprocessed) line, from the
    /// keyword to the last parameter, quotes included.
    pub(crate) raw: String,
    /// Just past the last word (where a missing parameter would go).
    pub(crate) end: Location,
    /// The `{ ... }` block, if any.
    pub(crate) block: Option<Block>,
}

impl Stmt {
    pub(crate) fn keyword(&self) -> &str {
        &self.words[0].text
    }

    pub(crate) fn loc(&self) -> &Location {
        &self.words[0].loc
    }

    /// Parameters after the keyword.
    pub(crate) fn args(&self) -> &[Word] {
        &self.words[1..]
    }
}

/// The statements between a `{` and its `}` (or of the whole file).
#[derive(Debug, Clone, Default)]
pub(crate) struct Block {
    /// Where the `{` is (None for the top level).
    pub(crate) open: Option<Location>,
    pub(crate) stmts: Vec<Stmt>,
}

struct Frame {
    owner: Option<Stmt>,
    block: Block,
}

/// Build the statement tree.
pub(crate) fn build(lines: &[LogicalLine], diags: &mut Diags) -> Block {
    let mut stack = vec![Frame {
        owner: None,
        block: Block::default(),
    }];
    for line in lines {
        let toks = match words::lex(&line.text) {
            Ok(t) => t,
            Err(words::Unmatched(at)) => {
                // The preprocessor already reports a quote left open on a
                // physical line; only report quotes that substitution made.
                let known = diags.list.iter().rev().take(16).any(|d| {
                    d.kind == DiagKind::Syntax
                        && d.location.line == line.line
                        && d.location.file == line.file
                });
                if !known {
                    diags.error(
                        DiagKind::Syntax,
                        &line.loc(at),
                        "unmatched quote: `\"` is never closed".to_owned(),
                        &line.text,
                    );
                }
                let prefix: String = line.text.chars().take(at).collect();
                words::lex(&prefix).unwrap_or_default()
            }
        };
        let chars: Vec<char> = line.text.chars().collect();
        let mut run: Vec<&Tok> = Vec::new();
        for tok in &toks {
            match tok.kind {
                TokKind::Word => run.push(tok),
                TokKind::Open | TokKind::Close => {
                    flush(&mut stack, &mut run, line, &chars);
                    let loc = line.loc(tok.start);
                    if tok.kind == TokKind::Open {
                        open(&mut stack, loc, diags);
                    } else {
                        close(&mut stack, &loc, diags);
                    }
                }
            }
        }
        flush(&mut stack, &mut run, line, &chars);
    }
    while stack.len() > 1 {
        let Some(frame) = stack.pop() else { break };
        let open_loc = frame
            .block
            .open
            .clone()
            .unwrap_or_else(|| unknown_loc(lines));
        let what = frame
            .owner
            .as_ref()
            .map(|s| s.keyword().to_owned())
            .unwrap_or_default();
        diags.error(
            DiagKind::Syntax,
            &open_loc,
            format!("missing `}}`: the block of `{what}` opened here is never closed"),
            "{",
        );
        attach(&mut stack, frame);
    }
    stack.pop().map(|f| f.block).unwrap_or_default()
}

fn unknown_loc(lines: &[LogicalLine]) -> Location {
    match lines.last() {
        Some(l) => l.loc(0),
        None => Location::new(std::sync::Arc::from(std::path::Path::new("")), 0, 0),
    }
}

fn flush(stack: &mut [Frame], run: &mut Vec<&Tok>, line: &LogicalLine, chars: &[char]) {
    let (Some(first), Some(last)) = (run.first(), run.last()) else {
        return;
    };
    let raw: String = chars[first.start..last.end].iter().collect();
    let words = run
        .iter()
        .map(|t| Word {
            text: t.text.clone(),
            quoted: t.quoted,
            loc: line.loc(t.start),
        })
        .collect();
    let stmt = Stmt {
        words,
        raw,
        end: line.loc(last.end),
        block: None,
    };
    if let Some(top) = stack.last_mut() {
        top.block.stmts.push(stmt);
    }
    run.clear();
}

fn open(stack: &mut Vec<Frame>, loc: Location, diags: &mut Diags) {
    let owner = match stack.last_mut() {
        Some(top) if top.block.stmts.last().is_some_and(|s| s.block.is_none()) => {
            top.block.stmts.pop()
        }
        _ => {
            diags.error(
                DiagKind::Syntax,
                &loc,
                "unexpected `{`: no keyword before it to open a block for".to_owned(),
                "{",
            );
            None
        }
    };
    stack.push(Frame {
        owner,
        block: Block {
            open: Some(loc),
            stmts: Vec::new(),
        },
    });
}

fn close(stack: &mut Vec<Frame>, loc: &Location, diags: &mut Diags) {
    if stack.len() <= 1 {
        diags.error(
            DiagKind::Syntax,
            loc,
            "extra `}`: no block is open here".to_owned(),
            "}",
        );
        return;
    }
    if let Some(frame) = stack.pop() {
        attach(stack, frame);
    }
}

fn attach(stack: &mut [Frame], frame: Frame) {
    if let (Some(mut owner), Some(top)) = (frame.owner, stack.last_mut()) {
        owner.block = Some(frame.block);
        top.block.stmts.push(owner);
    }
}
