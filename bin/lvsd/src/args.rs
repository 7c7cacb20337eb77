//! Command line: `lvsd [--socket PATH] [--config FILE] [--interfaces IF[,IF]] [--io xdp|afpacket]
//! [--fullnat-laddr ADDR[,ADDR]] [--metrics ADDR:PORT]`, or `lvsd --config-test FILE`.

use std::path::PathBuf;

/// Usage text (`--help`, and after an argument error).
pub const USAGE: &str = "\
Usage: lvsd [--socket PATH] [--config FILE] [--interfaces IF[,IF]] [--io xdp|afpacket]
            [--fullnat-laddr ADDR[,ADDR]] [--metrics ADDR:PORT]
       lvsd --config-test FILE

  --socket PATH       control socket (default: $LVSD_SOCKET, else /run/lvs/lvsd.sock)
  --config FILE       apply a keepalived.conf or an ipvsadm-save file (one atomic
                      batch) at start; a keepalived.conf's health checks run, and
                      SIGHUP or `lvsadm reload` re-reads it (graceful reload)
  --config-test FILE  check a keepalived.conf (like keepalived -t), print its
                      diagnostics and exit: 0 when valid, 1 on errors
  --interfaces LIST   interfaces to serve (default: every non-loopback interface,
                      when lvsd runs in a named network namespace)
  --io KIND           packet I/O: xdp (XDP steering + AF_XDP, default) or afpacket
  --fullnat-laddr LIST  FULLNAT local addresses (comma-separated, IPv4 and/or
                      IPv6): the sources of connections to --fullnat real servers
  --metrics ADDR:PORT serve Prometheus metrics at http://ADDR:PORT/metrics (off
                      by default)
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
    /// `--interfaces` (comma-separated).
    pub interfaces: Option<Vec<String>>,
    /// `--io`.
    pub io: IoKind,
    /// `--fullnat-laddr` (comma-separated): the FULLNAT local address pool.
    pub fullnat_laddrs: Vec<std::net::IpAddr>,
    /// `--metrics`: where to serve `GET /metrics`.
    pub metrics: Option<std::net::SocketAddr>,
}

/// Packet I/O backend (`--io`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IoKind {
    /// XDP steering into AF_XDP sockets.
    #[default]
    Xdp,
    /// AF_PACKET sockets.
    AfPacket,
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
    /// `--config-test FILE`: validate and exit.
    ConfigTest(PathBuf),
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
    /// A value the option does not accept.
    #[error("bad value {1:?} for {0}")]
    BadValue(String, String),
}

/// Parses the arguments after the program name.
pub fn parse(args: &[String]) -> Result<Parsed, ArgError> {
    let mut opts = Options::default();
    let mut io_given = false;
    let mut config_test: Option<PathBuf> = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let (name, inline) = match a.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v.to_string())),
            _ => (a.as_str(), None),
        };
        if matches!(name, "-h" | "--help") {
            return Ok(Parsed::Help);
        }
        if matches!(name, "-V" | "--version") {
            return Ok(Parsed::Version);
        }
        if !matches!(
            name,
            "--socket"
                | "--config"
                | "--config-test"
                | "--interfaces"
                | "--io"
                | "--fullnat-laddr"
                | "--metrics"
        ) {
            return Err(ArgError::Unexpected(a.clone()));
        }
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
        let repeated = match name {
            "--socket" => opts.socket.replace(PathBuf::from(value)).is_some(),
            "--config" => opts.config.replace(PathBuf::from(value)).is_some(),
            "--config-test" => config_test.replace(PathBuf::from(value)).is_some(),
            "--interfaces" => {
                let list: Vec<String> = value
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect();
                if list.is_empty() {
                    return Err(ArgError::BadValue(name.to_string(), value));
                }
                opts.interfaces.replace(list).is_some()
            }
            "--fullnat-laddr" => {
                let list: Option<Vec<std::net::IpAddr>> =
                    value.split(',').map(|a| a.trim().parse().ok()).collect();
                match list {
                    Some(l) => !std::mem::replace(&mut opts.fullnat_laddrs, l).is_empty(),
                    None => return Err(ArgError::BadValue(name.to_string(), value)),
                }
            }
            "--metrics" => match value.parse() {
                Ok(a) => opts.metrics.replace(a).is_some(),
                Err(_) => return Err(ArgError::BadValue(name.to_string(), value)),
            },
            _ => {
                opts.io = match value.as_str() {
                    "xdp" | "af_xdp" => IoKind::Xdp,
                    "afpacket" | "af_packet" => IoKind::AfPacket,
                    _ => return Err(ArgError::BadValue(name.to_string(), value)),
                };
                std::mem::replace(&mut io_given, true)
            }
        };
        if repeated {
            return Err(ArgError::Repeated(name.to_string()));
        }
    }
    if let Some(path) = config_test {
        return Ok(Parsed::ConfigTest(path));
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
            ..Options::default()
        };
        assert_eq!(
            p(&["--socket", "/tmp/a.sock", "--config=/etc/x"]),
            Ok(Parsed::Run(want))
        );
        assert_eq!(p(&["--socket", "/a", "-h"]), Ok(Parsed::Help));
        assert_eq!(p(&["-V"]), Ok(Parsed::Version));
        assert_eq!(
            p(&["--config-test", "/etc/k.conf"]),
            Ok(Parsed::ConfigTest("/etc/k.conf".into()))
        );
        assert_eq!(
            p(&["--config-test=/a", "--config-test", "/b"]),
            Err(ArgError::Repeated("--config-test".into()))
        );
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
            p(&["--interfaces=,"]),
            Err(ArgError::BadValue("--interfaces".into(), ",".into()))
        );
        assert_eq!(
            p(&["--io", "dpdk"]),
            Err(ArgError::BadValue("--io".into(), "dpdk".into()))
        );
        assert_eq!(
            p(&["--io", "xdp", "--io=afpacket"]),
            Err(ArgError::Repeated("--io".into()))
        );
    }

    #[test]
    fn data_plane_options() {
        let Ok(Parsed::Run(o)) = p(&["--interfaces", "eth0, eth1", "--io=afpacket"]) else {
            panic!("not parsed")
        };
        assert_eq!(o.interfaces, Some(vec!["eth0".into(), "eth1".into()]));
        assert_eq!(o.io, IoKind::AfPacket);
        let Ok(Parsed::Run(o)) = p(&[]) else {
            panic!("not parsed")
        };
        assert_eq!((o.interfaces, o.io), (None, IoKind::Xdp));
    }

    #[test]
    fn metrics_address() {
        let Ok(Parsed::Run(o)) = p(&["--metrics", "127.0.0.1:9917"]) else {
            panic!("not parsed")
        };
        assert_eq!(o.metrics, Some("127.0.0.1:9917".parse().unwrap()));
        let Ok(Parsed::Run(o)) = p(&["--metrics=[::1]:9100"]) else {
            panic!("not parsed")
        };
        assert_eq!(o.metrics, Some("[::1]:9100".parse().unwrap()));
        assert_eq!(
            p(&["--metrics", "127.0.0.1"]),
            Err(ArgError::BadValue("--metrics".into(), "127.0.0.1".into()))
        );
        assert_eq!(
            p(&["--metrics=:1", "--metrics=127.0.0.1:2"]),
            Err(ArgError::BadValue("--metrics".into(), ":1".into()))
        );
        assert_eq!(
            p(&["--metrics=127.0.0.1:1", "--metrics=127.0.0.1:2"]),
            Err(ArgError::Repeated("--metrics".into()))
        );
    }

    #[test]
    fn fullnat_local_addresses() {
        let Ok(Parsed::Run(o)) = p(&["--fullnat-laddr", "10.0.0.1, fd00::1"]) else {
            panic!("not parsed")
        };
        let want: Vec<std::net::IpAddr> =
            vec!["10.0.0.1".parse().unwrap(), "fd00::1".parse().unwrap()];
        assert_eq!(o.fullnat_laddrs, want);
        assert_eq!(
            p(&["--fullnat-laddr=10.0.0.1,x"]),
            Err(ArgError::BadValue(
                "--fullnat-laddr".into(),
                "10.0.0.1,x".into()
            ))
        );
        assert_eq!(
            p(&["--fullnat-laddr=10.0.0.1", "--fullnat-laddr=10.0.0.2"]),
            Err(ArgError::Repeated("--fullnat-laddr".into()))
        );
    }
}
