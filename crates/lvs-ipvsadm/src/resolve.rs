//! Name resolution as ipvsadm does it, over the text of `/etc/hosts` and
//! `/etc/services` (pure, so that tests are deterministic).
//!
//! ipvsadm uses `gethostbyname` / `gethostbyaddr` and `getservbyname` /
//! `getservbyport`. With glibc's default `files` source the rules are:
//! - **host → IPv4**: the first `/etc/hosts` line with an IPv4 address whose
//!   canonical name or an alias equals the name (ASCII case-insensitive).
//! - **address → host**: the canonical name (first name) of the first line with
//!   that address, IPv4 or IPv6.
//! - **service → port** and **port → service** for a protocol (`tcp`, `udp`,
//!   `sctp`): the first `/etc/services` line for that protocol whose name or an
//!   alias matches (case-sensitive), resp. the canonical name of the first line
//!   with that port.
//!
//! `#` starts a comment in both files. DNS is not consulted by
//! [`FilesResolver`]; [`crate::resolve::Resolver`] implementations may add it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use lvs_proto::Protocol;

/// The lookups ipvsadm performs.
pub trait Resolver {
    /// `gethostbyname` restricted to IPv4 (what ipvsadm's `host_to_addr` uses).
    fn host_to_ipv4(&self, name: &str) -> Option<Ipv4Addr>;
    /// `gethostbyaddr`: the canonical host name of an address.
    fn addr_to_host(&self, addr: IpAddr) -> Option<String>;
    /// `getservbyname(name, proto)`.
    fn service_to_port(&self, name: &str, proto: Protocol) -> Option<u16>;
    /// `getservbyport(port, proto)`: the canonical service name.
    fn port_to_service(&self, port: u16, proto: Protocol) -> Option<String>;
}

/// A resolver that knows no names (every lookup fails).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoNames;

impl Resolver for NoNames {
    fn host_to_ipv4(&self, _: &str) -> Option<Ipv4Addr> {
        None
    }
    fn addr_to_host(&self, _: IpAddr) -> Option<String> {
        None
    }
    fn service_to_port(&self, _: &str, _: Protocol) -> Option<u16> {
        None
    }
    fn port_to_service(&self, _: u16, _: Protocol) -> Option<String> {
        None
    }
}

#[derive(Debug, Clone)]
struct HostLine {
    addr: IpAddr,
    names: Vec<String>,
}

#[derive(Debug, Clone)]
struct ServiceLine {
    port: u16,
    proto: String,
    names: Vec<String>,
}

/// Resolver over the contents of `/etc/hosts` and `/etc/services`.
#[derive(Debug, Clone, Default)]
pub struct FilesResolver {
    hosts: Vec<HostLine>,
    services: Vec<ServiceLine>,
}

fn strip_comment(line: &str) -> &str {
    match line.find('#') {
        Some(i) => &line[..i],
        None => line,
    }
}

fn proto_name(p: Protocol) -> &'static str {
    match p {
        Protocol::Tcp => "tcp",
        Protocol::Udp => "udp",
        Protocol::Sctp => "sctp",
    }
}

impl FilesResolver {
    /// Parses the two files' text. Malformed lines are skipped, as glibc does.
    pub fn new(hosts: &str, services: &str) -> FilesResolver {
        let hosts = hosts
            .lines()
            .filter_map(|l| {
                let mut f = strip_comment(l).split_ascii_whitespace();
                let a = f.next()?;
                let addr = a
                    .parse::<Ipv4Addr>()
                    .map(IpAddr::V4)
                    .or_else(|_| a.parse::<Ipv6Addr>().map(IpAddr::V6))
                    .ok()?;
                let names: Vec<String> = f.map(str::to_string).collect();
                (!names.is_empty()).then_some(HostLine { addr, names })
            })
            .collect();
        let services = services
            .lines()
            .filter_map(|l| {
                let mut f = strip_comment(l).split_ascii_whitespace();
                let name = f.next()?;
                let (port, proto) = f.next()?.split_once('/')?;
                let port = port.parse::<u16>().ok()?;
                let mut names = vec![name.to_string()];
                names.extend(f.map(str::to_string));
                Some(ServiceLine {
                    port,
                    proto: proto.to_string(),
                    names,
                })
            })
            .collect();
        FilesResolver { hosts, services }
    }

    /// Reads `/etc/hosts` and `/etc/services` (a missing file counts as empty).
    pub fn from_system() -> FilesResolver {
        let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
        let services = std::fs::read_to_string("/etc/services").unwrap_or_default();
        FilesResolver::new(&hosts, &services)
    }
}

impl Resolver for FilesResolver {
    fn host_to_ipv4(&self, name: &str) -> Option<Ipv4Addr> {
        self.hosts.iter().find_map(|h| match h.addr {
            IpAddr::V4(a) if h.names.iter().any(|n| n.eq_ignore_ascii_case(name)) => Some(a),
            _ => None,
        })
    }

    fn addr_to_host(&self, addr: IpAddr) -> Option<String> {
        self.hosts
            .iter()
            .find(|h| h.addr == addr)
            .map(|h| h.names[0].clone())
    }

    fn service_to_port(&self, name: &str, proto: Protocol) -> Option<u16> {
        let p = proto_name(proto);
        self.services
            .iter()
            .find(|s| s.proto == p && s.names.iter().any(|n| n == name))
            .map(|s| s.port)
    }

    fn port_to_service(&self, port: u16, proto: Protocol) -> Option<String> {
        let p = proto_name(proto);
        self.services
            .iter()
            .find(|s| s.proto == p && s.port == port)
            .map(|s| s.names[0].clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTS: &str = "127.0.0.1 localhost\n# comment\n10.0.0.1 vip1.example vip # trailing\n\
                         10.0.0.1 second.example\n2001:db8::1 vip6.example\nbogus line\n\
                         10.0.0.2\n";
    const SERVICES: &str = "http\t\t80/tcp\t\twww\t# WorldWideWeb\nhttps 443/tcp\n\
                            https 443/udp\namqp 5672/sctp\nbroken 99999/tcp\ndomain 53/udp\n";

    #[test]
    fn hosts_lookups() {
        let r = FilesResolver::new(HOSTS, SERVICES);
        assert_eq!(r.host_to_ipv4("VIP"), Some(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(
            r.host_to_ipv4("second.example"),
            Some(Ipv4Addr::new(10, 0, 0, 1))
        );
        assert_eq!(
            r.host_to_ipv4("vip6.example"),
            None,
            "IPv6 lines do not answer IPv4"
        );
        assert_eq!(
            r.host_to_ipv4("trailing"),
            None,
            "comment words are not names"
        );
        assert_eq!(
            r.addr_to_host("10.0.0.1".parse().unwrap()).as_deref(),
            Some("vip1.example")
        );
        assert_eq!(
            r.addr_to_host("2001:db8::1".parse().unwrap()).as_deref(),
            Some("vip6.example")
        );
        assert_eq!(r.addr_to_host("10.0.0.2".parse().unwrap()), None);
    }

    #[test]
    fn services_lookups() {
        let r = FilesResolver::new(HOSTS, SERVICES);
        assert_eq!(r.service_to_port("www", Protocol::Tcp), Some(80));
        assert_eq!(r.service_to_port("http", Protocol::Udp), None);
        assert_eq!(r.service_to_port("HTTP", Protocol::Tcp), None);
        assert_eq!(r.service_to_port("amqp", Protocol::Sctp), Some(5672));
        assert_eq!(
            r.port_to_service(443, Protocol::Udp).as_deref(),
            Some("https")
        );
        assert_eq!(r.port_to_service(53, Protocol::Tcp), None);
        assert_eq!(r.service_to_port("broken", Protocol::Tcp), None);
    }
}
