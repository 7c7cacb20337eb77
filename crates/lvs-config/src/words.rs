//! Character-level rules of keepalived.conf: comments, the two word
//! splitters, and script command lines.
//!
//! - Comments start with `#` or `!` anywhere outside double quotes and run to
//!   the end of the line. `\#` and `\!` outside quotes are a literal `#`/`!`.
//!   Single quotes do not protect comment characters (keepalived only tracks
//!   double quotes at this stage).
//! - A line whose last character is `\` continues (used by multi-line
//!   definitions).
//! - Configuration words are separated by white space; a word starting with
//!   `"` runs to the next `"` (quotes removed, no escapes); `{` and `}`
//!   outside double quotes are words of their own wherever they appear.
//! - Script command lines (`notify_*`, `misc_path`, `script`, `quorum_up`,
//!   ...) are split again the way a shell would: `'...'` and `"..."` quote,
//!   adjacent quoted and unquoted parts join, backslash escapes (`\n`, `\t`,
//!   `\xHH`, `\nnn`, `\cC`, `\C`) work everywhere.

/// A line after comment removal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Decommented {
    /// Text without leading/trailing blanks and comment; a trailing `\` is
    /// kept when the line continues.
    pub(crate) text: String,
    /// Characters removed from the start (leading white space).
    pub(crate) lead: usize,
    /// Whether the line ended with a continuation `\`.
    pub(crate) cont: bool,
    /// Whether `\#` / `\!` were unescaped (columns after them shift).
    pub(crate) unescaped: bool,
    /// Whether a double quote was left open (column of the quote, 0-based
    /// char index in `text`).
    pub(crate) open_quote: Option<usize>,
}

fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// keepalived's `decomment()`.
pub(crate) fn decomment(line: &str) -> Decommented {
    let trimmed = line.trim_start_matches(is_blank);
    let lead = line[..line.len() - trimmed.len()].chars().count();
    let chars: Vec<char> = trimmed.chars().collect();
    let mut out: Vec<char> = Vec::with_capacity(chars.len());
    let mut quote: Option<usize> = None;
    let mut comment_at: Option<usize> = None;
    let mut cont = false;
    let mut unescaped = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '"' => {
                if comment_at.is_none() {
                    quote = match quote {
                        Some(_) => None,
                        None => Some(out.len()),
                    };
                }
                out.push(c);
                i += 1;
            }
            '\\' => {
                if i + 1 < chars.len() {
                    let n = chars[i + 1];
                    if quote.is_none() && (n == '#' || n == '!') {
                        out.push(n);
                        unescaped = true;
                    } else {
                        out.push(c);
                        out.push(n);
                    }
                    i += 2;
                } else {
                    cont = true;
                    i += 1;
                }
            }
            '#' | '!' if quote.is_none() && comment_at.is_none() => {
                comment_at = Some(out.len());
                out.push(c);
                i += 1;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    if let Some(at) = comment_at {
        out.truncate(at);
    }
    while out.last().is_some_and(|c| is_blank(*c)) {
        out.pop();
    }
    if cont {
        out.push('\\');
    }
    Decommented {
        text: out.into_iter().collect(),
        lead,
        cont,
        unescaped,
        open_quote: if comment_at.is_some() { None } else { quote },
    }
}

/// Kind of a configuration token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokKind {
    /// A word (possibly quoted).
    Word,
    /// `{`
    Open,
    /// `}`
    Close,
}

/// A token of a logical line, with its char offsets in that line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Tok {
    pub(crate) kind: TokKind,
    pub(crate) text: String,
    pub(crate) quoted: bool,
    /// Char index of the first character (the opening quote if quoted).
    pub(crate) start: usize,
    /// Char index one past the last character (past the closing quote).
    pub(crate) end: usize,
}

/// A quote that was not closed; char index of the quote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Unmatched(pub(crate) usize);

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c')
}

/// Split a logical line into words and braces (keepalived's default
/// tokenizer plus its brace splitting).
pub(crate) fn lex(line: &str) -> Result<Vec<Tok>, Unmatched> {
    let chars: Vec<char> = line.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if is_space(c) {
            i += 1;
            continue;
        }
        match c {
            '{' | '}' => {
                toks.push(Tok {
                    kind: if c == '{' {
                        TokKind::Open
                    } else {
                        TokKind::Close
                    },
                    text: c.to_string(),
                    quoted: false,
                    start: i,
                    end: i + 1,
                });
                i += 1;
            }
            '"' => {
                let start = i;
                let Some(rel) = chars[i + 1..].iter().position(|&c| c == '"') else {
                    return Err(Unmatched(start));
                };
                let close = i + 1 + rel;
                toks.push(Tok {
                    kind: TokKind::Word,
                    text: chars[i + 1..close].iter().collect(),
                    quoted: true,
                    start,
                    end: close + 1,
                });
                i = close + 1;
            }
            _ => {
                let start = i;
                while i < chars.len() && !is_space(chars[i]) && !matches!(chars[i], '"' | '{' | '}')
                {
                    i += 1;
                }
                toks.push(Tok {
                    kind: TokKind::Word,
                    text: chars[start..i].iter().collect(),
                    quoted: false,
                    start,
                    end: i,
                });
            }
        }
    }
    Ok(toks)
}

/// Why a script command line could not be split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SplitError {
    /// Quote character left open.
    Unterminated(char),
    /// A backslash at the very end.
    DanglingEscape,
}

/// keepalived's `alloc_strvec_quoted_escaped()`: shell-like splitting.
pub(crate) fn split_quoted_escaped(s: &str) -> Result<Vec<String>, SplitError> {
    let b: Vec<char> = s.chars().collect();
    let mut words = Vec::new();
    let mut i = 0;
    loop {
        while i < b.len() && is_space(b[i]) {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        let mut word: Vec<u8> = Vec::new();
        let mut quote: Option<char> = None;
        while i < b.len() {
            let c = b[i];
            if c == '\\' {
                i += 1;
                let Some(&e) = b.get(i) else {
                    return Err(SplitError::DanglingEscape);
                };
                let byte = match e {
                    'x' if b.get(i + 1).is_some_and(char::is_ascii_hexdigit) => {
                        i += 1;
                        let mut v: u8 = 0;
                        while let Some(d) = b.get(i).and_then(|c| c.to_digit(16)) {
                            v = (v << 4) | d as u8;
                            i += 1;
                        }
                        word.push(v);
                        continue;
                    }
                    'c' if i + 1 < b.len() => {
                        let ctl = (b[i + 1] as u32 & 0x1f) as u8;
                        i += 2;
                        word.push(ctl);
                        continue;
                    }
                    '0'..='7' => {
                        let mut v: u32 = 0;
                        let mut n = 0;
                        while n < 3 && matches!(b.get(i), Some('0'..='7')) {
                            v = (v << 3) + (b[i] as u32 - '0' as u32);
                            i += 1;
                            n += 1;
                        }
                        word.push(v as u8);
                        continue;
                    }
                    'a' => 0x07,
                    'b' => 0x08,
                    'E' => 0x1b,
                    'f' => 0x0c,
                    'n' => b'\n',
                    'r' => b'\r',
                    't' => b'\t',
                    'v' => 0x0b,
                    other => {
                        let mut buf = [0u8; 4];
                        word.extend_from_slice(other.encode_utf8(&mut buf).as_bytes());
                        i += 1;
                        continue;
                    }
                };
                word.push(byte);
                i += 1;
                continue;
            }
            match quote {
                Some(q) if c == q => {
                    quote = None;
                    i += 1;
                }
                Some(_) => {
                    let mut buf = [0u8; 4];
                    word.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                    i += 1;
                }
                None if c == '"' || c == '\'' => {
                    quote = Some(c);
                    i += 1;
                }
                None if is_space(c) => break,
                None => {
                    let mut buf = [0u8; 4];
                    word.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                    i += 1;
                }
            }
        }
        if let Some(q) = quote {
            return Err(SplitError::Unterminated(q));
        }
        words.push(String::from_utf8_lossy(&word).into_owned());
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dc(s: &str) -> String {
        decomment(s).text
    }

    #[test]
    fn comments_anywhere_outside_double_quotes() {
        assert_eq!(dc("   weight 3   # three"), "weight 3");
        assert_eq!(dc("weight 3!x"), "weight 3");
        assert_eq!(dc("# whole line"), "");
        assert_eq!(dc("! whole line"), "");
        assert_eq!(
            dc(r#"notify "/bin/echo # x" # y"#),
            r#"notify "/bin/echo # x""#
        );
        // Single quotes do not protect: the comment starts inside them.
        assert_eq!(dc("notify '/bin/echo # x'"), "notify '/bin/echo");
        assert_eq!(dc(r"weight 1 \# 3"), "weight 1 # 3");
        assert_eq!(dc(r#"x "\#" y"#), r#"x "\#" y"#);
    }

    #[test]
    fn leading_blanks_counted_and_continuation_kept() {
        let d = decomment("\t  $X=a b   \\");
        assert_eq!(d.text, "$X=a b\\");
        assert_eq!(d.lead, 3);
        assert!(d.cont);
        let d = decomment("$X=a # c \\");
        assert_eq!(d.text, "$X=a\\");
        assert!(d.cont);
    }

    #[test]
    fn open_double_quote_is_reported() {
        assert_eq!(decomment(r#"notify "abc"#).open_quote, Some(7));
        assert_eq!(decomment(r#"notify "abc""#).open_quote, None);
    }

    #[test]
    fn lexer_splits_braces_and_quotes() {
        let t = lex(r#"real_server 10.0.0.1 80{weight 2}"#).unwrap();
        let texts: Vec<&str> = t.iter().map(|t| t.text.as_str()).collect();
        assert_eq!(
            texts,
            ["real_server", "10.0.0.1", "80", "{", "weight", "2", "}"]
        );
        let t = lex(r#"a "b { c" d"e f"g"#).unwrap();
        let texts: Vec<&str> = t.iter().map(|t| t.text.as_str()).collect();
        assert_eq!(texts, ["a", "b { c", "d", "e f", "g"]);
        assert!(t[1].quoted && !t[0].quoted);
        assert_eq!((t[1].start, t[1].end), (2, 9));
        assert_eq!(lex(r#"x "open"#), Err(Unmatched(2)));
    }

    #[test]
    fn shell_like_split() {
        let w = split_quoted_escaped(r#"/bin/x 'a b' "c d" e\ f"#).unwrap();
        assert_eq!(w, ["/bin/x", "a b", "c d", "e f"]);
        let w = split_quoted_escaped(r#"abcd" efg h jkl "mnop"#).unwrap();
        assert_eq!(w, ["abcd efg h jkl mnop"]);
        let w = split_quoted_escaped(r#"abcd "efg h jkl" mnop"#).unwrap();
        assert_eq!(w, ["abcd", "efg h jkl", "mnop"]);
        let w = split_quoted_escaped(r"\x41\102\t\cA\q").unwrap();
        assert_eq!(w, ["AB\t\u{1}q"]);
        assert_eq!(
            split_quoted_escaped("'open"),
            Err(SplitError::Unterminated('\''))
        );
        assert_eq!(split_quoted_escaped("x\\"), Err(SplitError::DanglingEscape));
    }
}
