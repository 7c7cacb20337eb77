//! Command line: `lvsd [--socket PATH] [--config FILE]`.

use std::path::PathBuf;

/// Usage text (`--help`, and after an argument error).
pub const USAGE: &str = "\
Usage: lvsd [--socket PATH] [--config FILE]

  --socket PATH   control socket (default: $LVSD_SOCKET, else /run/lvs/lvsd.sock)
  --config FILE   apply an ipvsadm-save file (one atomic restore) at start
  -h, --help      print this help
  -V, --version   print the version
";

/// What the daemon was asked to do.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Options {
    /// `--socket`.
    pub socket: Option<PathBuf>,
    /// `--config`.
    pub config: Option<PathBuf>,
}

/// Result of parsing.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    /// Run the daemon.
    Run(Options),
    /// `--help`.
    Help,
    /// `--version`.
    Version,
}

/// Argument errors.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ArgError {
    /// An option that takes a value came last.
    #[error("option {0} needs a value")]
    MissingValue(String),
    /// Not an option lvsd knows.
    #[error("unexpected argument {0:?}")]
    Unexpected(String),
    /// An option given twice.
    #[error("option {0} given twice")]
    Repeated(String),
}

/// Parses the arguments after the program name.
pub fn parse(args: &[String]) -> Result<Parsed, ArgError> {
    let mut opts = Options::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let (name, inline) = match a.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v.to_string())),
            _ => (a.as_str(), None),
        };
        let slot = match name {
            "-h" | "--help" => return Ok(Parsed::Help),
            "-V" | "--version" => return Ok(Parsed::Version),
            "--socket" => &mut opts.socket,
            "--config" => &mut opts.config,
            _ => return Err(ArgError::Unexpected(a.clone())),
        };
        let value = match inline {
            Some(v) => v,
            None => it
                .next()
                .cloned()
                .ok_or_else(|| ArgError::MissingValue(name.to_string()))?,
        };
        if value.is_empty() {
            return Err(ArgError::MissingValue(name.to_string()));
        }
        if slot.replace(PathBuf::from(value)).is_some() {
            return Err(ArgError::Repeated(name.to_string()));
        }
    }
    Ok(Parsed::Run(opts))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Parsed, ArgError> {
        parse(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn forms() {
        assert_eq!(p(&[]), Ok(Parsed::Run(Options::default())));
        let want = Options {
            socket: Some("/tmp/a.sock".into()),
            config: Some("/etc/x".into()),
        };
        assert_eq!(
            p(&["--socket", "/tmp/a.sock", "--config=/etc/x"]),
            Ok(Parsed::Run(want))
        );
        assert_eq!(p(&["--socket", "/a", "-h"]), Ok(Parsed::Help));
        assert_eq!(p(&["-V"]), Ok(Parsed::Version));
    }

    #[test]
    fn errors() {
        assert_eq!(
            p(&["--socket"]),
            Err(ArgError::MissingValue("--socket".into()))
        );
        assert_eq!(
            p(&["--socket="]),
            Err(ArgError::MissingValue("--socket".into()))
        );
        assert_eq!(p(&["-x"]), Err(ArgError::Unexpected("-x".into())));
        assert_eq!(
            p(&["--config", "a", "--config", "b"]),
            Err(ArgError::Repeated("--config".into()))
        );
        assert_eq!(
            p(&["--interfaces=eth0"]),
            Err(ArgError::Unexpected("--interfaces=eth0".into()))
        );
    }
}
