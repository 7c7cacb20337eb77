//! Preprocessor features, one by one.
//!
//! Expected outputs come from keepalived 2.2.7 run in the IPVS lab VM (the
//! `~SEQ`, `~LST`, multi-line, include and conditional cases were checked by
//! loading them with `keepalived -C` and reading `ipvsadm -Ln`), or from
//! keepalived.conf(5) worked by hand where the man page gives the result.

use std::path::Path;

use lvs_config::{DiagKind, Diagnostic, ExpandedLine, MemFs, Options, Severity, expand};

fn run(fs: &MemFs, root: &str, opts: &Options) -> (Vec<ExpandedLine>, Vec<Diagnostic>) {
    expand(fs, Path::new(root), opts)
}

fn texts(src: &str) -> Vec<String> {
    texts_with(src, &Options::default())
}

fn texts_with(src: &str, opts: &Options) -> Vec<String> {
    let fs = MemFs::new().with("/k/keepalived.conf", src);
    let (lines, diags) = run(&fs, "/k/keepalived.conf", opts);
    assert!(
        diags.iter().all(|d| d.severity == Severity::Warning),
        "{diags:?}"
    );
    lines.into_iter().map(|l| l.text).collect()
}

fn errors(src: &str) -> Vec<Diagnostic> {
    let fs = MemFs::new().with("/k/keepalived.conf", src);
    let (_, diags) = run(&fs, "/k/keepalived.conf", &Options::default());
    diags.into_iter().filter(Diagnostic::is_error).collect()
}

#[test]
fn comments_blank_lines_and_indentation_are_removed() {
    let src = "! Configuration File for keepalived\n\
               \n\
               global_defs {   # start\n\
               \t   router_id  LVS_1 ! trailing\n\
               }\n\
               # end\n";
    assert_eq!(texts(src), ["global_defs {", "router_id  LVS_1", "}"]);
}

#[test]
fn hash_inside_double_quotes_is_not_a_comment_but_escaped_hash_outside_is_literal() {
    let src = "notify \"/bin/echo # x\" # real comment\nweight 1 \\# 3\n";
    assert_eq!(texts(src), ["notify \"/bin/echo # x\"", "weight 1 # 3"]);
}

#[test]
fn crlf_line_ends_are_accepted() {
    assert_eq!(texts("a 1\r\nb 2\r\n"), ["a 1", "b 2"]);
}

#[test]
fn locations_count_lines_and_columns_of_the_physical_line() {
    let fs = MemFs::new().with(
        "/k/k.conf",
        "\n  # c\n\t\tvirtual_server 10.0.0.1 80 {\n}\n",
    );
    let (lines, _) = run(&fs, "/k/k.conf", &Options::default());
    assert_eq!(lines[0].location.to_string(), "/k/k.conf:3:3");
    assert_eq!(lines[1].location.to_string(), "/k/k.conf:4:1");
}

#[test]
fn conditional_lines_follow_the_config_id() {
    // keepalived.conf(5) "Conditional configuration": with -i main the
    // router_id is main_router and the peers are those of backup and backup2.
    let src = "@main   router_id main_router\n\
               @backup router_id backup_router\n\
               @^main    1.2.3.4\n\
               @^backup  1.2.3.5\n\
               @^backup2 1.2.3.6\n";
    let main = Options::default().with_config_id("main");
    assert_eq!(
        texts_with(src, &main),
        ["router_id main_router", "1.2.3.5", "1.2.3.6"]
    );
    // No config id: every @ID line is dropped, every @^ID line kept.
    assert_eq!(texts(src), ["1.2.3.4", "1.2.3.5", "1.2.3.6"]);
}

#[test]
fn a_conditional_with_nothing_after_it_is_dropped() {
    let main = Options::default().with_config_id("main");
    assert_eq!(texts_with("@main\nx\n", &main), ["x"]);
}

#[test]
fn conditional_column_points_after_the_prefix() {
    let fs = MemFs::new().with("/k/k.conf", "@main  weight 3\n");
    let (lines, _) = run(&fs, "/k/k.conf", &Options::default().with_config_id("main"));
    assert_eq!(lines[0].text, "weight 3");
    assert_eq!(lines[0].location.col, 8);
}

#[test]
fn definitions_replace_dollar_name_and_braced_name() {
    let src = "$X =5\n$X=3\nweight $X\nweight ${X}0\nweight $X.1\n$X =5\n";
    // `$X =5` is no definition (lab: "Unknown keyword '$X'"); once X is
    // defined its `$X` is replaced like any other. `$X.1` is not followed by
    // a blank: left alone (lab: "invalid number '$X.1'").
    assert_eq!(
        texts(src),
        ["$X =5", "weight 3", "weight 30", "weight $X.1", "3 =5"]
    );
}

#[test]
fn undefined_parameters_stay_as_written() {
    assert_eq!(
        texts("$A=1\nscript \"echo ${UNDEF} $HOME\"\n"),
        ["script \"echo ${UNDEF} $HOME\""]
    );
}

#[test]
fn substitution_happens_at_use_time_and_recursively() {
    // keepalived.conf(5) "Parameter substitution" example.
    let src = "$ADDRESS_BASE=10.2.${ADDRESS_BASE_SUB}\n\
               $ADDRESS_BASE_SUB=0\n\
               ${ADDRESS_BASE}.100/32\n\
               $ADDRESS_BASE_SUB=10\n\
               ${ADDRESS_BASE}.100/32\n";
    assert_eq!(texts(src), ["10.2.0.100/32", "10.2.10.100/32"]);
}

#[test]
fn a_parameter_may_expand_to_a_conditional() {
    // keepalived.conf(5): `$IF_MAIN=@main` then `$IF_MAIN priority 240`.
    let src = "$IF_MAIN=@main\n$IF_MAIN priority 240\n";
    assert_eq!(
        texts_with(src, &Options::default().with_config_id("main")),
        ["priority 240"]
    );
    assert!(texts(src).is_empty());
}

#[test]
fn definitions_inside_conditionals() {
    let src = "@main $PRIORITY=240\n@backup $PRIORITY=200\npriority $PRIORITY\n";
    assert_eq!(
        texts_with(src, &Options::default().with_config_id("backup")),
        ["priority 200"]
    );
}

#[test]
fn multi_line_definition_expands_to_several_lines() {
    let src = "$RS= \\\n\
               \x20 real_server 10.1.${V}.1 80 { \\\n\
               \x20     weight ${V} \\\n\
               \x20 }\n\
               $V=7\n\
               $RS\n";
    assert_eq!(texts(src), ["real_server 10.1.7.1 80 {", "weight 7", "}"]);
}

#[test]
fn multi_line_value_may_start_on_the_definition_line() {
    let src = "$ML= real_server 10.2.0.3 80 { \\\n  weight 9 \\\n  }\n$ML\n";
    assert_eq!(texts(src), ["real_server 10.2.0.3 80 {", "weight 9", "}"]);
}

#[test]
fn multi_line_definition_is_only_expanded_at_the_end_of_a_line() {
    let src = "$ML= a \\\n b\nx $ML\nx $ML y\n";
    assert_eq!(texts(src), ["x a", "b", "x $ML y"]);
}

#[test]
fn a_blank_line_ends_a_multi_line_definition() {
    // Lab: keepalived 2.2.7 reports "Unknown keyword 'weight'" for the line
    // after the blank one, i.e. the definition stopped there.
    let src = "$ML= \\\n  real_server 10.2.0.1 80 { \\\n\n      weight 7 \\\n  }\n$ML\n";
    // (Blanks before a trailing `\` go, as keepalived's decomment() does.)
    assert_eq!(texts(src), ["weight 7\\", "}", "real_server 10.2.0.1 80 {"]);
}

#[test]
fn a_comment_line_ends_a_multi_line_definition() {
    let src = "$ML= \\\n  real_server 10.2.0.1 80 { \\\n  # comment\n      weight 7\n$ML\n";
    assert_eq!(texts(src), ["weight 7", "real_server 10.2.0.1 80 {"]);
}

#[test]
fn nested_multi_line_definitions() {
    // keepalived.conf(5): a multi-line VS definition using a multi-line RS one.
    let src = "$RS= \\\n\
               real_server 192.168.${VS_NUM}.${RS_NUM} 80 { \\\n\
               weight 1 \\\n\
               }\n\
               $VS= \\\n\
               virtual_server 10.0.${VS_NUM}.4 80 { \\\n\
               $RS_NUM=1 \\\n\
               $RS \\\n\
               $RS_NUM=2 \\\n\
               $RS \\\n\
               }\n\
               $VS_NUM=0\n\
               $VS\n\
               $VS_NUM=1\n\
               $VS\n";
    let want = [
        "virtual_server 10.0.0.4 80 {",
        "real_server 192.168.0.1 80 {",
        "weight 1",
        "}",
        "real_server 192.168.0.2 80 {",
        "weight 1",
        "}",
        "}",
        "virtual_server 10.0.1.4 80 {",
        "real_server 192.168.1.1 80 {",
        "weight 1",
        "}",
        "real_server 192.168.1.2 80 {",
        "weight 1",
        "}",
        "}",
    ];
    assert_eq!(texts(src), want);
}

fn seq_values(spec: &str) -> Vec<String> {
    texts(&format!("{spec} v ${{N}}\n"))
        .into_iter()
        .map(|l| l.trim_start_matches("v ").to_owned())
        .collect()
}

#[test]
fn seq_forms_match_keepalived() {
    // All checked in the lab (real servers created by keepalived 2.2.7).
    assert_eq!(seq_values("~SEQ(N, 1, 3)"), ["1", "2", "3"]);
    assert_eq!(seq_values("~SEQ(N, 3)"), ["1", "2", "3"]);
    assert_eq!(seq_values("~SEQ(N, 0)"), ["1", "0"]);
    assert_eq!(seq_values("~SEQ(N, 5, 3)"), ["5", "4", "3"]);
    assert_eq!(
        seq_values("~SEQ(N, 010)"),
        ["1", "2", "3", "4", "5", "6", "7", "8"]
    );
    assert_eq!(seq_values("~SEQ(N, 2, 3, 9)"), ["2", "5", "8"]);
    assert_eq!(seq_values("~SEQ(N, -3)"), ["-1", "-2", "-3"]);
    assert_eq!(seq_values("~SEQx(N, 9, 11)"), ["9", "a", "b"]);
    // keepalived.conf(5): ~SEQx(SUBNET, 0x90, 0x10, 0xc0) gives 90 a0 b0 c0.
    assert_eq!(
        seq_values("~SEQx(N, 0x90, 0x10, 0xc0)"),
        ["90", "a0", "b0", "c0"]
    );
    assert_eq!(seq_values("~SEQ(N,4,4)"), ["4"]);
}

#[test]
fn seq_parameters_may_be_definitions() {
    assert_eq!(texts("$LAST=3\n~SEQ(I, 2, $LAST) x${I}\n"), ["x2", "x3"]);
}

#[test]
fn several_replays_on_one_line_nest_last_innermost() {
    // Lab: ~LST(A, 7, 9) ~SEQ(W, 1, 2) gave 7.1 7.2 9.1 9.2.
    assert_eq!(
        texts("~LST(A, 7, 9) ~SEQ(W, 1, 2) ${A}.${W}\n"),
        ["7.1", "7.2", "9.1", "9.2"]
    );
}

#[test]
fn list_with_tuples() {
    // keepalived.conf(5) "List blocks"; lab: {1,11},{2,12} gave weights 11, 12.
    let src = "~LST({IP, IP1}, {10,1},{20,4},{5,6},{12,8}) 192.168.${IP}.${IP1}\n";
    assert_eq!(
        texts(src),
        [
            "192.168.10.1",
            "192.168.20.4",
            "192.168.5.6",
            "192.168.12.8"
        ]
    );
}

#[test]
fn a_replayed_line_may_use_a_multi_line_definition() {
    // Lab: `~SEQ(N, 1, 3) $RS` created three real servers with weights 1..3.
    let src = "$RS= \\\nreal_server 10.9.1.${N} 80 { \\\nweight ${N} \\\n}\n~SEQ(N, 1, 3) $RS\n";
    let want = [
        "real_server 10.9.1.1 80 {",
        "weight 1",
        "}",
        "real_server 10.9.1.2 80 {",
        "weight 2",
        "}",
        "real_server 10.9.1.3 80 {",
        "weight 3",
        "}",
    ];
    assert_eq!(texts(src), want);
}

#[test]
fn only_the_rest_of_the_line_is_replayed() {
    // Lab: a `{` on a ~SEQ line is replayed, its block body is not.
    let src = "~SEQ(N, 1, 2) real_server 10.0.0.${N} 80 {\n  weight 1\n}\n";
    assert_eq!(
        texts(src),
        [
            "real_server 10.0.0.1 80 {",
            "real_server 10.0.0.2 80 {",
            "weight 1",
            "}"
        ]
    );
}

#[test]
fn invalid_seq_is_an_error_at_its_line() {
    for (src, msg) in [
        ("~SEQ(N, 1, 0, 3) x\n", "invalid ~SEQ values"),
        ("~SEQ(N, 1, -1, 3) x\n", "invalid ~SEQ values"),
        ("~SEQ(N) x\n", "invalid ~SEQ specification"),
        ("~SEQ N, 1) x\n", "invalid ~SEQ specification"),
        (
            "~SEQx(N, -1, 3) x\n",
            "~SEQx is only valid for positive numbers",
        ),
        ("~LST(A, {1, 2}) x\n", "~LST values do not match"),
    ] {
        let e = errors(&format!("\n  {src}"));
        assert_eq!(e.len(), 1, "{src}: {e:?}");
        assert!(e[0].message.contains(msg), "{src}: {}", e[0].message);
        assert_eq!((e[0].location.line, e[0].location.col), (2, 3), "{src}");
        assert_eq!(e[0].kind, DiagKind::Syntax);
    }
}

#[test]
fn predefined_parameters() {
    let fs = MemFs::new().with(
        "/etc/keepalived/keepalived.conf",
        "a ${_PWD} ${_INSTANCE} ${_HASH} ${_BANG}\n",
    );
    let (lines, _) = run(
        &fs,
        "/etc/keepalived/keepalived.conf",
        &Options::default().with_config_id("lb1"),
    );
    assert_eq!(lines[0].text, "a /etc/keepalived lb1 # !");
}

#[test]
fn random_is_seeded_and_in_range() {
    let src = "~SEQ(I, 1, 200) ${_RANDOM 5 9}\n";
    let a = texts(src);
    assert_eq!(a.len(), 200);
    assert!(
        a.iter()
            .all(|v| (5..=9).contains(&v.parse::<u32>().unwrap()))
    );
    // Every value of the range shows up in 200 draws, and a seed repeats.
    for want in 5..=9 {
        assert!(a.contains(&want.to_string()), "{want} never drawn");
    }
    assert_eq!(a, texts(src));
    let other = texts_with(
        src,
        &Options {
            random_seed: 99,
            ..Options::default()
        },
    );
    assert_ne!(a, other);
}

#[test]
fn include_is_relative_to_the_including_file() {
    // Lab: conf.d/a.conf including ../rs.inc found /tmp/k/rs.inc.
    let fs = MemFs::new()
        .with(
            "/etc/k/keepalived.conf",
            "top 1\ninclude conf.d/*.conf\ntop 2\n",
        )
        .with("/etc/k/conf.d/b.conf", "b 1\n")
        .with("/etc/k/conf.d/a.conf", "a 1\ninclude ../rs.inc\na 2\n")
        .with("/etc/k/rs.inc", "rs 1\n")
        .with("/etc/k/conf.d/c.txt", "never\n");
    let (lines, diags) = run(&fs, "/etc/k/keepalived.conf", &Options::default());
    assert!(diags.is_empty(), "{diags:?}");
    let got: Vec<(String, String)> = lines
        .iter()
        .map(|l| (l.text.clone(), l.location.to_string()))
        .collect();
    let want = [
        ("top 1", "/etc/k/keepalived.conf:1:1"),
        ("a 1", "/etc/k/conf.d/a.conf:1:1"),
        ("rs 1", "/etc/k/conf.d/../rs.inc:1:1"),
        ("a 2", "/etc/k/conf.d/a.conf:3:1"),
        ("b 1", "/etc/k/conf.d/b.conf:1:1"),
        ("top 2", "/etc/k/keepalived.conf:3:1"),
    ];
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn include_with_braces_keeps_the_written_order() {
    let fs = MemFs::new()
        .with("/k/k.conf", "include {z,a}.inc\n")
        .with("/k/a.inc", "a\n")
        .with("/k/z.inc", "z\n");
    let (lines, _) = run(&fs, "/k/k.conf", &Options::default());
    let t: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
    assert_eq!(t, ["z", "a"]);
}

#[test]
fn include_after_substitution_and_conditional() {
    // Lab: `include $INC` and `@main include sub/inc2.conf` both worked.
    let fs = MemFs::new()
        .with(
            "/k/k.conf",
            "$INC=sub/inc.conf\ninclude $INC\n@main include sub/inc2.conf\n",
        )
        .with("/k/sub/inc.conf", "one\n")
        .with("/k/sub/inc2.conf", "two\n");
    let (lines, _) = run(&fs, "/k/k.conf", &Options::default().with_config_id("main"));
    let t: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
    assert_eq!(t, ["one", "two"]);
}

#[test]
fn missing_include_is_an_error_pointing_at_the_pattern() {
    let fs = MemFs::new().with("/k/k.conf", "x\n  include   none/*.conf\n");
    let (_, diags) = run(&fs, "/k/k.conf", &Options::default());
    assert_eq!(diags.len(), 1);
    let d = &diags[0];
    assert_eq!(d.kind, DiagKind::Include);
    assert_eq!(
        d.to_string(),
        "/k/k.conf:2:13: error: include `none/*.conf` matches no configuration file"
    );
    assert_eq!(d.text.as_deref(), Some("none/*.conf"));
}

#[test]
fn include_loop_is_stopped() {
    let fs = MemFs::new().with("/k/k.conf", "x\ninclude k.conf\n");
    let (lines, diags) = run(
        &fs,
        "/k/k.conf",
        &Options {
            max_include_depth: 5,
            ..Options::default()
        },
    );
    assert_eq!(lines.len(), 5);
    assert_eq!(diags.len(), 1);
    assert_eq!(diags[0].kind, DiagKind::Limit);
    assert_eq!(diags[0].location.line, 2);
}

#[test]
fn branching_include_loop_is_bounded_by_the_file_count() {
    // Each file includes two files that include it again: without a total
    // bound the work would double at every level of the depth limit.
    let fs = MemFs::new()
        .with("/k/k.conf", "include {a,b}.inc\n")
        .with("/k/a.inc", "a\ninclude {a,b}.inc\n")
        .with("/k/b.inc", "b\ninclude {a,b}.inc\n");
    let opts = Options {
        max_files: 50,
        ..Options::default()
    };
    let (lines, diags) = run(&fs, "/k/k.conf", &opts);
    assert_eq!(lines.len(), 49);
    assert!(diags.iter().all(|d| d.kind == DiagKind::Limit));
    assert!(
        diags
            .iter()
            .any(|d| d.message.contains("more than 50 files opened")),
        "{diags:?}"
    );
}

#[test]
fn self_referencing_definition_is_an_error_not_a_hang() {
    let e = errors("$A=x$A\nvalue $A\n");
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].kind, DiagKind::Limit);
    assert_eq!(e[0].location.line, 2);
}

#[test]
fn replay_limit() {
    let fs = MemFs::new().with("/k/k.conf", "~SEQ(I, 1, 100000000) x\n");
    let (lines, diags) = run(
        &fs,
        "/k/k.conf",
        &Options {
            max_replayed_lines: 1000,
            ..Options::default()
        },
    );
    assert_eq!(lines.len(), 1000);
    assert_eq!(diags.len(), 1);
    assert_eq!(diags[0].kind, DiagKind::Limit);
}

#[test]
fn unterminated_double_quote_is_an_error_with_its_column() {
    let e = errors("  notify_up \"/bin/echo unterminated\n");
    assert_eq!(e.len(), 1);
    assert_eq!(
        e[0].to_string(),
        "/k/keepalived.conf:1:13: error: unterminated quote: `\"` is never closed"
    );
}

#[test]
fn missing_root_file() {
    let (lines, diags) = run(&MemFs::new(), "/k/none.conf", &Options::default());
    assert!(lines.is_empty());
    assert_eq!(diags.len(), 1);
    assert_eq!(diags[0].kind, DiagKind::Include);
    assert!(
        diags[0]
            .message
            .starts_with("cannot read configuration file `/k/none.conf`")
    );
}
