//! The lab's `cap` transcript format (`../shared/lab/ipvs-ref/scenarios/lib.sh`):
//! each command is `$ CMD`, followed by optional `[stdout]` / `[stderr]`
//! blocks holding the exact bytes, a `[no newline at end of stdout|stderr]`
//! marker when the stream did not end in a newline, and `[rc=N]`.

/// One captured command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case {
    /// The command line as run.
    pub command: String,
    /// Exact standard output.
    pub stdout: String,
    /// Exact standard error.
    pub stderr: String,
    /// Exit status.
    pub code: i32,
}

/// Parses a transcript. Blocks without an `[rc=N]` line are malformed
/// transcripts and are skipped.
pub fn parse(text: &str) -> Vec<Case> {
    let mut cases = Vec::new();
    for block in text.split("\n$ ").skip(1) {
        let Some((command, rest)) = block.split_once('\n') else {
            continue;
        };
        let (mut stdout, mut stderr) = (String::new(), String::new());
        let mut code = None;
        let mut cur: Option<&mut String> = None;
        for line in rest.split_inclusive('\n') {
            match line.trim_end_matches('\n') {
                "[stdout]" => cur = Some(&mut stdout),
                "[stderr]" => cur = Some(&mut stderr),
                l if l.starts_with("[rc=") => {
                    code = l[4..l.len() - 1].parse().ok();
                    break;
                }
                l if l.starts_with("[no newline at end of") => {
                    if let Some(c) = cur.as_mut() {
                        c.pop();
                    }
                }
                _ => {
                    if let Some(c) = cur.as_mut() {
                        c.push_str(line);
                    }
                }
            }
        }
        if let Some(code) = code {
            cases.push(Case {
                command: command.to_owned(),
                stdout,
                stderr,
                code,
            });
        }
    }
    cases
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_streams_markers_and_status() {
        let text = "header\n$ ipvsadm -v\n[stdout]\nipvsadm v1.31\n[rc=0]\n\
                    $ ipvsadm -x\n[stderr]\nbad\n[no newline at end of stderr]\n[rc=2]\n";
        let cases = parse(text);
        assert_eq!(cases.len(), 2);
        assert_eq!(
            cases[0],
            Case {
                command: "ipvsadm -v".into(),
                stdout: "ipvsadm v1.31\n".into(),
                stderr: String::new(),
                code: 0
            }
        );
        assert_eq!((cases[1].stderr.as_str(), cases[1].code), ("bad", 2));
    }
}
