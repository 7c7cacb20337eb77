//! `include` patterns: glob(3) with `GLOB_BRACE`, as keepalived calls it.
//!
//! - csh braces are expanded first (`conf.d/{a,b}.conf`), each alternative
//!   globbed in turn, in the order written;
//! - `*`, `?` and `[...]` (with `!`/`^` negation and ranges) match within one
//!   path component; a backslash quotes the next character;
//! - a leading `.` in a name is only matched by a literal `.`;
//! - the matches of one alternative are sorted (byte order, like glob in the
//!   C locale).

use std::path::{Path, PathBuf};

use crate::fs::FileSource;

/// Most alternatives one brace pattern may expand to.
const MAX_BRACE_EXPANSIONS: usize = 4096;

/// Expand csh-style braces. Unbalanced braces are kept literally.
pub(crate) fn expand_braces(pattern: &str) -> Vec<String> {
    let mut out = Vec::new();
    expand_into(pattern, &mut out);
    out
}

fn expand_into(pattern: &str, out: &mut Vec<String>) {
    if out.len() >= MAX_BRACE_EXPANSIONS {
        return;
    }
    let bytes = pattern.as_bytes();
    // Find the first '{' that has a matching '}'.
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'{' => {
                if let Some((close, commas)) = matching_brace(bytes, i) {
                    let prefix = &pattern[..i];
                    let suffix = &pattern[close + 1..];
                    let mut start = i + 1;
                    let mut pieces = Vec::new();
                    for c in commas.iter().copied().chain(std::iter::once(close)) {
                        pieces.push(&pattern[start..c]);
                        start = c + 1;
                    }
                    for piece in pieces {
                        let mut s =
                            String::with_capacity(prefix.len() + piece.len() + suffix.len());
                        s.push_str(prefix);
                        s.push_str(piece);
                        s.push_str(suffix);
                        expand_into(&s, out);
                    }
                    return;
                }
                i += 1;
            }
            _ => i += 1,
        }
    }
    out.push(pattern.to_owned());
}

/// Index of the `}` matching the `{` at `open`, and the top-level commas.
fn matching_brace(bytes: &[u8], open: usize) -> Option<(usize, Vec<usize>)> {
    let mut depth = 0usize;
    let mut commas = Vec::new();
    let mut i = open;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => {
                i += 2;
                continue;
            }
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return Some((i, commas));
                }
            }
            b',' if depth == 1 => commas.push(i),
            _ => {}
        }
        i += 1;
    }
    None
}

/// Match one path component against one pattern component.
pub(crate) fn match_component(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    if n.first() == Some(&'.') && p.first() != Some(&'.') {
        return false;
    }
    match_from(&p, &n)
}

fn match_from(p: &[char], n: &[char]) -> bool {
    // Iterative matcher with single-star backtracking (enough for glob).
    let (mut pi, mut ni) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() {
            match p[pi] {
                '*' => {
                    star = Some((pi, ni));
                    pi += 1;
                    continue;
                }
                '?' => {
                    pi += 1;
                    ni += 1;
                    continue;
                }
                '[' => {
                    if let Some((matched, next)) = match_class(p, pi, n[ni]) {
                        if matched {
                            pi = next;
                            ni += 1;
                            continue;
                        }
                    } else if n[ni] == '[' {
                        // Unterminated class: literal '['.
                        pi += 1;
                        ni += 1;
                        continue;
                    }
                }
                '\\' if pi + 1 < p.len() => {
                    if p[pi + 1] == n[ni] {
                        pi += 2;
                        ni += 1;
                        continue;
                    }
                }
                c => {
                    if c == n[ni] {
                        pi += 1;
                        ni += 1;
                        continue;
                    }
                }
            }
        }
        // Mismatch: backtrack to the last star.
        match star {
            Some((sp, sn)) => {
                pi = sp + 1;
                ni = sn + 1;
                star = Some((sp, sn + 1));
            }
            None => return false,
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// Evaluate the class starting at `p[start] == '['` against `c`. Returns
/// whether it matched and the index after the class, or None if the class is
/// not terminated.
fn match_class(p: &[char], start: usize, c: char) -> Option<(bool, usize)> {
    let mut i = start + 1;
    let negate = matches!(p.get(i), Some('!') | Some('^'));
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    while i < p.len() {
        let mut lo = p[i];
        if lo == ']' && !first {
            return Some((matched != negate, i + 1));
        }
        first = false;
        if lo == '\\' && i + 1 < p.len() {
            i += 1;
            lo = p[i];
        }
        if i + 2 < p.len() && p[i + 1] == '-' && p[i + 2] != ']' {
            let mut hi = p[i + 2];
            let mut skip = 3;
            if hi == '\\' && i + 3 < p.len() {
                hi = p[i + 3];
                skip = 4;
            }
            if lo <= c && c <= hi {
                matched = true;
            }
            i += skip;
        } else {
            if lo == c {
                matched = true;
            }
            i += 1;
        }
    }
    None
}

/// Remove backslash quoting from a literal component.
fn unescape(comp: &str) -> String {
    let mut out = String::with_capacity(comp.len());
    let mut chars = comp.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Expand `pattern` (already joined to its base directory) into the existing
/// paths it names: files and directories, each brace alternative sorted.
pub(crate) fn glob(fs: &dyn FileSource, pattern: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for alt in expand_braces(pattern) {
        let mut found = glob_one(fs, &alt);
        found.sort();
        out.extend(found);
    }
    out
}

fn glob_one(fs: &dyn FileSource, pattern: &str) -> Vec<PathBuf> {
    let absolute = pattern.starts_with('/');
    let comps: Vec<&str> = pattern.split('/').filter(|c| !c.is_empty()).collect();
    let root = if absolute {
        PathBuf::from("/")
    } else {
        PathBuf::new()
    };
    let mut cands = vec![root];
    for (idx, comp) in comps.iter().enumerate() {
        let last = idx + 1 == comps.len();
        let mut next = Vec::new();
        if comp.contains(['*', '?', '[']) {
            for dir in &cands {
                let list_at: &Path = if dir.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    dir
                };
                let Ok(mut names) = fs.list_dir(list_at) else {
                    continue;
                };
                names.sort();
                for name in names {
                    if match_component(comp, &name) {
                        let p = dir.join(&name);
                        if last || fs.is_dir(&p) {
                            next.push(p);
                        }
                    }
                }
            }
        } else {
            let lit = unescape(comp);
            for dir in &cands {
                next.push(dir.join(&lit));
            }
        }
        cands = next;
        if cands.is_empty() {
            break;
        }
    }
    cands.retain(|p| !p.as_os_str().is_empty() && (fs.is_file(p) || fs.is_dir(p)));
    cands
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::MemFs;

    #[test]
    fn braces_expand_in_written_order_and_nest() {
        assert_eq!(expand_braces("a{b,c{d,e}}f"), vec!["abf", "acdf", "acef"]);
        assert_eq!(expand_braces("{x,}y"), vec!["xy", "y"]);
        assert_eq!(expand_braces("no{brace"), vec!["no{brace"]);
        assert_eq!(expand_braces("p\\{a,b}"), vec!["p\\{a,b}"]);
    }

    #[test]
    fn component_matching() {
        assert!(match_component("*.conf", "a.conf"));
        assert!(!match_component("*.conf", "a.conf~"));
        assert!(!match_component("*.conf", ".hidden.conf"));
        assert!(match_component(".*.conf", ".hidden.conf"));
        assert!(match_component("vs?.conf", "vs1.conf"));
        assert!(!match_component("vs?.conf", "vs12.conf"));
        assert!(match_component("vs[0-9].conf", "vs7.conf"));
        assert!(!match_component("vs[!0-9].conf", "vs7.conf"));
        assert!(match_component("vs[!0-9].conf", "vsx.conf"));
        assert!(match_component("a*b*c", "aXXbYYc"));
        assert!(!match_component("a*b*c", "aXXbYY"));
        assert!(match_component("\\*", "*"));
        assert!(!match_component("\\*", "x"));
    }

    #[test]
    fn glob_walks_directories_and_sorts_each_alternative() {
        let fs = MemFs::new()
            .with("/etc/k/conf.d/b.conf", "")
            .with("/etc/k/conf.d/a.conf", "")
            .with("/etc/k/conf.d/a.txt", "")
            .with("/etc/k/other/z.conf", "");
        assert_eq!(
            glob(&fs, "/etc/k/conf.d/*.conf"),
            vec![
                PathBuf::from("/etc/k/conf.d/a.conf"),
                PathBuf::from("/etc/k/conf.d/b.conf")
            ]
        );
        assert_eq!(
            glob(&fs, "/etc/k/{other,conf.d}/*.conf"),
            vec![
                PathBuf::from("/etc/k/other/z.conf"),
                PathBuf::from("/etc/k/conf.d/a.conf"),
                PathBuf::from("/etc/k/conf.d/b.conf"),
            ]
        );
        assert_eq!(
            glob(&fs, "/etc/k/*/z.conf"),
            vec![PathBuf::from("/etc/k/other/z.conf")]
        );
        assert!(glob(&fs, "/etc/k/none/*.conf").is_empty());
        assert!(glob(&fs, "/etc/k/missing.conf").is_empty());
    }
}
