//! `lvsadm health [--json]`: the health checks lvsd runs for its
//! `--config` keepalived.conf (`NativeRequest::Health`), so that operators
//! see why a real server is out without reading logs.
//!
//! The text form is one row per checker (a real server without checkers
//! gets one row with `-` checker columns), virtual servers and real servers
//! in configuration order, columns aligned with two spaces, in this fixed
//! order:
//!
//! | column | content |
//! |---|---|
//! | `VIRTUAL` | `ADDR:PORT PROTO`, `fwmark N` or `group NAME PROTO` |
//! | `REAL` | `ADDR:PORT` |
//! | `STATE` | real server: `up`, `down`, `warming` (a checker has no verdict yet), `quorum-sorry` (alive, but the sorry server serves) |
//! | `WEIGHT` | weight in effect in IPVS, `-` when not in the table |
//! | `SINCE` | time since the real server's last transition (`45s`, `3m07s`, `2h05m`, `4d03h`) |
//! | `CHECK` | `TCP_CHECK`, `HTTP_GET`, ... |
//! | `TARGET` | what it probes (`ADDR:PORT`, or the `misc_path` command) |
//! | `FAILS` | consecutive failures / `retry` |
//! | `LAST` | `ok`, `fail`, or `-` before the first result |
//! | `REASON` | why (`connect: Connection refused`, `HTTP status 503`, `timeout after 3 s`, `digest mismatch`...) |
//!
//! `--json` prints the `Vec<VsHealth>` answer as is (pretty JSON). Exit 0;
//! 1 when lvsd refuses (not started with `--config`), 2 when unreachable.

use std::io::Write;

use lvs_ipvsadm::run::Backend;
use lvs_proto::{NativeRequest, NativeResponse, Request, Response, VsHealth};

/// Column titles, in order.
pub const COLUMNS: [&str; 10] = [
    "VIRTUAL", "REAL", "STATE", "WEIGHT", "SINCE", "CHECK", "TARGET", "FAILS", "LAST", "REASON",
];

/// `45s`, `3m07s`, `2h05m`, `4d03h`: two units at most, truncated.
pub fn span(ms: u64) -> String {
    let s = ms / 1000;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        3600..86400 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d{:02}h", s / 86400, s % 86400 / 3600),
    }
}

/// The rows of the table, as cells (without the title row).
pub fn rows(vss: &[VsHealth]) -> Vec<[String; 10]> {
    let mut out = Vec::new();
    for vs in vss {
        for rs in &vs.reals {
            let real = [
                vs.name.clone(),
                rs.addr.clone(),
                rs.state.as_str().to_owned(),
                rs.weight.map_or_else(|| "-".to_owned(), |w| w.to_string()),
                span(rs.since_ms),
            ];
            if rs.checkers.is_empty() {
                let [a, b, c, d, e] = real.clone();
                out.push([
                    a,
                    b,
                    c,
                    d,
                    e,
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    String::new(),
                ]);
            }
            for ck in &rs.checkers {
                let [a, b, c, d, e] = real.clone();
                let last = match ck.last_ok {
                    None => "-",
                    Some(true) => "ok",
                    Some(false) => "fail",
                };
                out.push([
                    a,
                    b,
                    c,
                    d,
                    e,
                    ck.kind.clone(),
                    ck.target.clone(),
                    format!("{}/{}", ck.failures, ck.retry),
                    last.to_owned(),
                    ck.reason.clone(),
                ]);
            }
        }
    }
    out
}

/// The text table: the title row, then [`rows`], each column padded to
/// its widest cell plus two spaces (the last column is not padded).
pub fn format_table(vss: &[VsHealth]) -> String {
    let title = COLUMNS.map(str::to_owned);
    let rows = rows(vss);
    let mut width = [0usize; 10];
    for r in std::iter::once(&title).chain(&rows) {
        for (w, cell) in width.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for r in std::iter::once(&title).chain(&rows) {
        let mut line = String::new();
        for (i, cell) in r.iter().enumerate() {
            if i + 1 == r.len() {
                line.push_str(cell);
            } else {
                line.push_str(cell);
                let pad = width[i] - cell.chars().count() + 2;
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `lvsadm health [--json]`.
pub fn health(args: &[String]) -> i32 {
    let json = match args {
        [] => false,
        [a] if a == "--json" => true,
        _ => {
            eprintln!("usage: lvsadm health [--json]");
            return 2;
        }
    };
    let mut b = match crate::native::connect() {
        Ok(b) => b,
        Err(c) => return c,
    };
    match b.call(Request::Native(NativeRequest::Health)) {
        Ok(Response::Native(NativeResponse::Health(vss))) => {
            let mut out = std::io::stdout().lock();
            let text = if json {
                match serde_json::to_string_pretty(&vss) {
                    Ok(t) => t + "\n",
                    Err(e) => {
                        eprintln!("lvsadm: {e}");
                        return 1;
                    }
                }
            } else {
                format_table(&vss)
            };
            let _ = out.write_all(text.as_bytes());
            0
        }
        Ok(Response::Error(e)) => {
            eprintln!("lvsadm: health: {e}");
            1
        }
        Ok(other) => {
            eprintln!("lvsadm: unexpected answer: {other:?}");
            1
        }
        Err(e) => {
            eprintln!("lvsadm: {e}");
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lvs_proto::{CheckerHealth, HealthState, RealHealth};

    fn checker(kind: &str, failures: u32, last: Option<bool>, reason: &str) -> CheckerHealth {
        CheckerHealth {
            kind: kind.into(),
            target: "10.0.0.11:80".into(),
            state: HealthState::Up,
            failures,
            retry: 3,
            last_ok: last,
            reason: reason.into(),
            last_ms: last.map(|_| 1500),
        }
    }

    fn sample() -> Vec<VsHealth> {
        vec![VsHealth {
            name: "10.0.0.1:80 TCP".into(),
            quorum_up: true,
            sorry_active: false,
            reals: vec![
                RealHealth {
                    addr: "10.0.0.11:80".into(),
                    state: HealthState::Down,
                    weight: None,
                    since_ms: 187_400,
                    checkers: vec![
                        checker("TCP_CHECK", 4, Some(false), "connect: Connection refused"),
                        checker("HTTP_GET", 0, Some(true), "HTTP status 200"),
                    ],
                },
                RealHealth {
                    addr: "10.0.0.12:80".into(),
                    state: HealthState::QuorumSorry,
                    weight: Some(0),
                    since_ms: 3_725_000,
                    checkers: vec![],
                },
            ],
        }]
    }

    #[test]
    fn spans_truncate_to_two_units() {
        assert_eq!(span(0), "0s");
        assert_eq!(span(59_999), "59s");
        assert_eq!(span(60_000), "1m00s");
        assert_eq!(span(187_400), "3m07s");
        assert_eq!(span(3_725_000), "1h02m");
        // 4 days, 3 hours, 59 minutes.
        assert_eq!(span((4 * 86400 + 3 * 3600 + 59 * 60) * 1000), "4d03h");
    }

    #[test]
    fn one_row_per_checker_and_a_placeholder_row_without_checkers() {
        let r = rows(&sample());
        assert_eq!(r.len(), 3);
        assert_eq!(
            r[0],
            [
                "10.0.0.1:80 TCP",
                "10.0.0.11:80",
                "down",
                "-",
                "3m07s",
                "TCP_CHECK",
                "10.0.0.11:80",
                "4/3",
                "fail",
                "connect: Connection refused"
            ]
        );
        assert_eq!(
            r[1][5..],
            ["HTTP_GET", "10.0.0.11:80", "0/3", "ok", "HTTP status 200"]
        );
        assert_eq!(
            r[2][..5],
            [
                "10.0.0.1:80 TCP",
                "10.0.0.12:80",
                "quorum-sorry",
                "0",
                "1h02m"
            ]
        );
        assert_eq!(r[2][5..9], ["-", "-", "-", "-"]);
    }

    #[test]
    fn table_columns_align_on_the_widest_cell() {
        let t = format_table(&sample());
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 4);
        // Every column starts at the same offset on every line: the title
        // words are found where each row's cells start.
        let starts: Vec<usize> = COLUMNS.iter().map(|c| lines[0].find(c).unwrap()).collect();
        assert_eq!(starts[0], 0);
        // VIRTUAL is as wide as "10.0.0.1:80 TCP" (15) + 2.
        assert_eq!(starts[1], 17);
        for line in &lines[1..] {
            for w in starts.windows(2).filter(|w| w[1] < line.len()) {
                let before = &line[..w[1]];
                assert!(before.ends_with("  "), "{line:?}");
                assert_ne!(line.as_bytes()[w[1]], b' ', "{line:?}");
            }
        }
        // LAST is 4 wide ("LAST", "fail"): two blanks before REASON.
        assert!(lines[1].ends_with("  fail  connect: Connection refused"));
        // The row without checkers has no trailing blanks.
        assert!(lines[3].ends_with('-'));
    }

    #[test]
    fn json_names_states_in_kebab_case() {
        let j = serde_json::to_value(sample()).unwrap();
        assert_eq!(j[0]["reals"][1]["state"], "quorum-sorry");
        assert_eq!(j[0]["reals"][0]["weight"], serde_json::Value::Null);
        assert_eq!(
            j[0]["reals"][0]["checkers"][0]["reason"],
            "connect: Connection refused"
        );
    }
}
