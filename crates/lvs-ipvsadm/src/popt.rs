//! Command-line scanning with popt's semantics (popt 1.19, as ipvsadm 1.31 is
//! built with on Debian 12).
//!
//! The rules mirrored, as observed on the real tool:
//! - Arguments are scanned left to right; an argument that does not start with
//!   `-`, or is exactly `-`, is a *leftover* (popt permutes: options may follow
//!   it). After `--` everything is a leftover.
//! - `--name` and `--name=value` are long options, matched exactly (no prefix
//!   abbreviation). `--name=value` on an option without argument is an error.
//! - `-abc` is a cluster of short options. A short option taking an argument
//!   takes the rest of the cluster (`-t10.0.0.1:80`, with one leading `=` skipped:
//!   `-t=10.0.0.1:80`), else the next argument whatever it looks like. A flag
//!   directly followed by `=` (`-L=`) is an error, like `--flag=value`.
//!   A single-dash long name (`-list`) is read as a cluster too.
//! - An *optional* argument (ipvsadm's `-p`) is the rest of the cluster, or the
//!   next argument unless that starts with `-`.
//! - On an error, the "bad option" popt reports is the last argument consumed
//!   (`poptBadOption(..., POPT_BADOPTION_NOALIAS)`), e.g. `-Lq` for `q`.
//!
//! Scanning costs O(total argument length); nothing is allocated per option
//! except the returned argument strings.

/// Whether an option takes an argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgKind {
    /// A flag.
    None,
    /// An argument is required.
    Required,
    /// An argument may follow (`-p [timeout]`).
    Optional,
}

/// One entry of an option table.
#[derive(Debug, Clone, Copy)]
pub struct OptDef<T> {
    /// Long name without dashes (empty if none).
    pub long: &'static str,
    /// Short name.
    pub short: Option<char>,
    /// Argument kind.
    pub kind: ArgKind,
    /// Value returned when the option is seen.
    pub tag: T,
}

/// A popt error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoptError {
    /// `POPT_ERROR_BADOPT`: no such option.
    BadOpt,
    /// `POPT_ERROR_NOARG`: a required argument is missing.
    NoArg,
    /// `POPT_ERROR_UNWANTEDARG`: `--flag=value` on a flag.
    UnwantedArg,
}

impl PoptError {
    /// `poptStrerror` text.
    pub fn text(self) -> &'static str {
        match self {
            PoptError::BadOpt => "unknown option",
            PoptError::NoArg => "missing argument",
            PoptError::UnwantedArg => "option does not take an argument",
        }
    }
}

/// The scanner state (a popt context over one argv).
#[derive(Debug)]
pub struct Popt<'a, T: Copy> {
    table: &'a [OptDef<T>],
    argv: &'a [String],
    /// Index of the next argument to consume.
    next: usize,
    /// Inside a short-option cluster: (argument index, byte offset).
    cluster: Option<(usize, usize)>,
    rest_leftover: bool,
    leftovers: Vec<&'a str>,
    next_leftover: usize,
}

impl<'a, T: Copy> Popt<'a, T> {
    /// A context over `argv` (`argv[0]` is the program name and is skipped).
    pub fn new(table: &'a [OptDef<T>], argv: &'a [String]) -> Popt<'a, T> {
        Popt {
            table,
            argv,
            next: 1,
            cluster: None,
            rest_leftover: false,
            leftovers: Vec::new(),
            next_leftover: 0,
        }
    }

    fn find_long(&self, name: &str) -> Option<&'a OptDef<T>> {
        self.table
            .iter()
            .find(|o| !o.long.is_empty() && o.long == name)
    }

    fn find_short(&self, c: char) -> Option<&'a OptDef<T>> {
        self.table.iter().find(|o| o.short == Some(c))
    }

    /// The next option with its argument; `None` at the end of the arguments.
    pub fn next_opt(&mut self) -> Option<Result<(T, Option<&'a str>), PoptError>> {
        let argv = self.argv;
        loop {
            let mut long_arg: Option<&'a str> = None;
            let opt: &'a OptDef<T>;
            if self.cluster.is_none() {
                if self.next >= argv.len() {
                    return None;
                }
                let s = argv[self.next].as_str();
                self.next += 1;
                if self.rest_leftover || !s.starts_with('-') || s == "-" {
                    self.leftovers.push(s);
                    continue;
                }
                if s == "--" {
                    self.rest_leftover = true;
                    continue;
                }
                let (body, one_dash) = match s.strip_prefix("--") {
                    Some(b) => (b, false),
                    None => (&s[1..], true),
                };
                let (name, value) = match body.find('=') {
                    Some(i) => (&body[..i], Some(&body[i + 1..])),
                    None => (body, None),
                };
                // No option of ipvsadm's table is a single-dash long option,
                // so `-name` always falls back to a short-option cluster.
                match (one_dash, self.find_long(name)) {
                    (false, Some(o)) => {
                        opt = o;
                        long_arg = value;
                    }
                    (false, None) => return Some(Err(PoptError::BadOpt)),
                    (true, _) => {
                        self.cluster = Some((self.next - 1, 1));
                        continue;
                    }
                }
            } else {
                let Some((idx, off)) = self.cluster.take() else {
                    continue;
                };
                let s = argv[idx].as_str();
                let Some(c) = s[off..].chars().next() else {
                    return Some(Err(PoptError::BadOpt));
                };
                let Some(o) = self.find_short(c) else {
                    return Some(Err(PoptError::BadOpt));
                };
                opt = o;
                let after = off + c.len_utf8();
                if after < s.len() {
                    self.cluster = Some((idx, after));
                }
            }
            let arg = match opt.kind {
                ArgKind::None => {
                    let eq = self
                        .cluster
                        .is_some_and(|(i, o)| argv[i].as_bytes()[o] == b'=');
                    if long_arg.is_some() || eq {
                        return Some(Err(PoptError::UnwantedArg));
                    }
                    None
                }
                ArgKind::Required | ArgKind::Optional => {
                    if let Some(v) = long_arg {
                        Some(v)
                    } else if let Some((idx, off)) = self.cluster.take() {
                        let rest = &argv[idx][off..];
                        Some(rest.strip_prefix('=').unwrap_or(rest))
                    } else if self.next >= argv.len() {
                        if opt.kind == ArgKind::Required {
                            return Some(Err(PoptError::NoArg));
                        }
                        None
                    } else {
                        let s = argv[self.next].as_str();
                        if opt.kind == ArgKind::Optional && s.starts_with('-') {
                            None
                        } else {
                            self.next += 1;
                            Some(s)
                        }
                    }
                }
            };
            return Some(Ok((opt.tag, arg)));
        }
    }

    /// What popt calls the bad option: the last argument consumed.
    pub fn bad_option(&self) -> &'a str {
        let argv = self.argv;
        argv.get(self.next.saturating_sub(1))
            .map(String::as_str)
            .unwrap_or("")
    }

    /// The next leftover argument (`poptGetArg`).
    pub fn next_arg(&mut self) -> Option<&'a str> {
        let a = self.leftovers.get(self.next_leftover).copied();
        if a.is_some() {
            self.next_leftover += 1;
        }
        a
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &[OptDef<char>] = &[
        OptDef {
            long: "list",
            short: Some('L'),
            kind: ArgKind::None,
            tag: 'L',
        },
        OptDef {
            long: "numeric",
            short: Some('n'),
            kind: ArgKind::None,
            tag: 'n',
        },
        OptDef {
            long: "tcp-service",
            short: Some('t'),
            kind: ArgKind::Required,
            tag: 't',
        },
        OptDef {
            long: "persistent",
            short: Some('p'),
            kind: ArgKind::Optional,
            tag: 'p',
        },
        OptDef {
            long: "set",
            short: None,
            kind: ArgKind::None,
            tag: 'S',
        },
    ];

    fn argv(s: &str) -> Vec<String> {
        std::iter::once("prog")
            .chain(s.split_whitespace())
            .map(String::from)
            .collect()
    }

    type Scanned = Result<(char, Option<String>), (PoptError, String)>;

    fn scan(s: &str) -> (Vec<Scanned>, Vec<String>) {
        let a = argv(s);
        let mut p = Popt::new(T, &a);
        let mut out = Vec::new();
        while let Some(r) = p.next_opt() {
            match r {
                Ok((t, arg)) => out.push(Ok((t, arg.map(String::from)))),
                Err(e) => {
                    out.push(Err((e, p.bad_option().to_string())));
                    break;
                }
            }
        }
        let mut rest = Vec::new();
        while let Some(x) = p.next_arg() {
            rest.push(x.to_string());
        }
        (out, rest)
    }

    fn ok(t: char, a: Option<&str>) -> Scanned {
        Ok((t, a.map(String::from)))
    }

    #[test]
    fn clusters_and_attached_values() {
        assert_eq!(scan("-Ln").0, vec![ok('L', None), ok('n', None)]);
        assert_eq!(
            scan("-Lt10.0.0.1:80").0,
            vec![ok('L', None), ok('t', Some("10.0.0.1:80"))]
        );
        assert_eq!(scan("-t=1.2.3.4").0, vec![ok('t', Some("1.2.3.4"))]);
        assert_eq!(scan("-t -L").0, vec![ok('t', Some("-L"))]);
        assert_eq!(
            scan("--tcp-service=x --tcp-service y").0,
            vec![ok('t', Some("x")), ok('t', Some("y"))]
        );
    }

    #[test]
    fn optional_argument() {
        assert_eq!(scan("-p").0, vec![ok('p', None)]);
        assert_eq!(scan("-p 30").0, vec![ok('p', Some("30"))]);
        assert_eq!(scan("-p30").0, vec![ok('p', Some("30"))]);
        assert_eq!(scan("-p=30").0, vec![ok('p', Some("30"))]);
        assert_eq!(scan("-pn").0, vec![ok('p', Some("n"))]);
        assert_eq!(scan("-p -n").0, vec![ok('p', None), ok('n', None)]);
        let (o, rest) = scan("-p -");
        assert_eq!(o, vec![ok('p', None)]);
        assert_eq!(rest, vec!["-"]);
    }

    #[test]
    fn errors_name_the_last_consumed_argument() {
        assert_eq!(scan("-L -q").0[1], Err((PoptError::BadOpt, "-q".into())));
        assert_eq!(scan("-Lq").0[1], Err((PoptError::BadOpt, "-Lq".into())));
        assert_eq!(
            scan("-L --lis").0[1],
            Err((PoptError::BadOpt, "--lis".into()))
        );
        assert_eq!(scan("-L -t").0[1], Err((PoptError::NoArg, "-t".into())));
        assert_eq!(
            scan("--list=x").0[0],
            Err((PoptError::UnwantedArg, "--list=x".into()))
        );
        // `-list` is the cluster l, i, s, t; `i` is unknown here.
        assert_eq!(scan("-list").0[0], Err((PoptError::BadOpt, "-list".into())));
    }

    #[test]
    fn leftovers_and_double_dash() {
        let (o, rest) = scan("a -L b -- -n c");
        assert_eq!(o, vec![ok('L', None)]);
        assert_eq!(rest, vec!["a", "b", "-n", "c"]);
    }
}
