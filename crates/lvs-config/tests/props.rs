//! Property tests: no input makes the reader panic or hang, and a few
//! invariants of the pipeline hold for any input.

use std::path::Path;

use lvs_config::{MemFs, Options, Severity, check, expand};
use proptest::prelude::*;

const FILE: &str = "/p/keepalived.conf";

fn opts() -> Options {
    Options {
        max_replayed_lines: 2_000,
        max_line_len: 1 << 14,
        max_files: 64,
        ..Options::default()
    }
}

/// Fragments that reach deep into the preprocessor and the parser.
fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("{".to_owned()),
        Just("}".to_owned()),
        Just("\"".to_owned()),
        Just("'".to_owned()),
        Just("\\".to_owned()),
        Just("#".to_owned()),
        Just("!".to_owned()),
        Just("\n".to_owned()),
        Just(" ".to_owned()),
        Just("$A=".to_owned()),
        Just("$A".to_owned()),
        Just("${A}".to_owned()),
        Just("$B= \\\n".to_owned()),
        Just("@x ".to_owned()),
        Just("@^x ".to_owned()),
        Just("~SEQ(N, 1, 3) ".to_owned()),
        Just("~SEQx(N,".to_owned()),
        Just("~LST({a,b},{1,2}) ".to_owned()),
        Just("${_RANDOM 1 9}".to_owned()),
        Just("include *.inc\n".to_owned()),
        Just("include {a,b}.inc\n".to_owned()),
        Just("virtual_server 10.0.0.1 80 ".to_owned()),
        Just("virtual_server group G ".to_owned()),
        Just("virtual_server_group G ".to_owned()),
        Just("real_server 10.0.0.2 80 ".to_owned()),
        Just("HTTP_GET ".to_owned()),
        Just("url ".to_owned()),
        Just("path / ".to_owned()),
        Just("status_code 200-299 ".to_owned()),
        Just("MISC_CHECK ".to_owned()),
        Just("misc_path \"/bin/x 'a b' \\x41\" ".to_owned()),
        Just("UDP_CHECK ".to_owned()),
        Just("payload 0a0X ".to_owned()),
        Just("lb_kind TUN type gue port 1 ".to_owned()),
        Just("vrrp_instance V ".to_owned()),
        Just("virtual_ipaddress ".to_owned()),
        Just("10.0.0.1/24 dev eth0 ".to_owned()),
        Just("track_script ".to_owned()),
        Just("weight ".to_owned()),
        Just("-3 ".to_owned()),
        Just("2001:db8::1-ff ".to_owned()),
        "[a-z0-9_./:-]{1,8}".prop_map(|s| s + " "),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let fs = MemFs::new().with(FILE, &bytes);
        let _ = check(&fs, Path::new(FILE), &opts());
    }

    #[test]
    fn keyword_soup_never_panics(parts in proptest::collection::vec(fragment(), 0..80),
                                 inc in proptest::collection::vec(fragment(), 0..20)) {
        let src: String = parts.concat();
        let inc: String = inc.concat();
        let fs = MemFs::new().with(FILE, &src).with("/p/a.inc", &inc).with("/p/b.inc", &src);
        let r = check(&fs, Path::new(FILE), &opts());
        // Rejected exactly when there is an error.
        prop_assert_eq!(r.config.is_some(), r.errors().next().is_none());
        // Every diagnostic about the root file points inside it.
        let lines = src.split('\n').count() as u32;
        for d in &r.diagnostics {
            if &*d.location.file == Path::new(FILE) {
                prop_assert!(d.location.line <= lines, "{} > {lines}: {d}", d.location.line);
            }
        }
    }

    #[test]
    fn comments_never_reach_the_parser(words in proptest::collection::vec("[a-z0-9_]{1,6}", 1..6),
                                       comment in "[ -~]{0,20}",
                                       bang in any::<bool>()) {
        // (A trailing `\` would continue the line, as in keepalived.)
        let comment = comment.trim_end_matches('\\');
        let mark = if bang { '!' } else { '#' };
        let src = format!("{} {mark}{comment}\n", words.join(" "));
        let fs = MemFs::new().with(FILE, &src);
        let (lines, diags) = expand(&fs, Path::new(FILE), &opts());
        prop_assert!(diags.is_empty());
        prop_assert_eq!(lines.len(), 1);
        prop_assert_eq!(&lines[0].text, &words.join(" "));
    }

    #[test]
    fn simple_words_survive_any_blank_layout(words in proptest::collection::vec("[a-z0-9_.:/-]{1,8}", 1..8),
                                             seps in proptest::collection::vec("[ \t]{1,3}", 8),
                                             lead in "[ \t]{0,4}") {
        let mut line = lead.clone();
        for (i, w) in words.iter().enumerate() {
            if i > 0 {
                line.push_str(&seps[i % seps.len()]);
            }
            line.push_str(w);
        }
        let fs = MemFs::new().with(FILE, format!("{line}\n"));
        let (lines, _) = expand(&fs, Path::new(FILE), &opts());
        prop_assert_eq!(lines.len(), 1);
        let got: Vec<&str> = lines[0].text.split([' ', '\t']).filter(|s| !s.is_empty()).collect();
        let want: Vec<&str> = words.iter().map(String::as_str).collect();
        prop_assert_eq!(got, want);
        // The reported column is where the first word starts.
        prop_assert_eq!(lines[0].location.col as usize, lead.chars().count() + 1);
    }

    #[test]
    fn seq_produces_the_arithmetic_progression(start in -50i64..50, step in 1i64..7, n in 0i64..20) {
        let end = start + step * n;
        let src = format!("~SEQ(I, {start}, {step}, {end}) v $I\n");
        let fs = MemFs::new().with(FILE, &src);
        let (lines, diags) = expand(&fs, Path::new(FILE), &opts());
        prop_assert!(diags.is_empty());
        let got: Vec<i64> = lines.iter().map(|l| l.text[2..].parse().unwrap()).collect();
        let want: Vec<i64> = (0..=n).map(|k| start + k * step).collect();
        prop_assert_eq!(got, want);
    }

    #[test]
    fn balanced_generated_blocks_parse_without_syntax_errors(depth in 1usize..6, width in 1usize..4) {
        fn block(d: usize, w: usize, out: &mut String) {
            for i in 0..w {
                if d == 0 {
                    out.push_str(&format!("k{i} v\n"));
                } else {
                    out.push_str(&format!("b{d}_{i} {{\n"));
                    block(d - 1, w, out);
                    out.push_str("}\n");
                }
            }
        }
        let mut src = String::new();
        block(depth, width, &mut src);
        let fs = MemFs::new().with(FILE, &src);
        let r = check(&fs, Path::new(FILE), &opts());
        prop_assert!(r.is_ok());
        // Only the unknown top-level keywords are reported, blocks skipped.
        prop_assert_eq!(r.diagnostics.len(), width);
        prop_assert!(r.diagnostics.iter().all(|d| d.severity == Severity::Warning));
    }
}
