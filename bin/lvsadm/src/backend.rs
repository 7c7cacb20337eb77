//! The real daemon connection and the system name resolver.

use std::net::{IpAddr, Ipv4Addr, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;

use lvs_ipvsadm::run::{Backend, ConnectError, TransportError};
use lvs_ipvsadm::{FilesResolver, Resolver};
use lvs_proto::{Client, ClientError, Info, Request, Response, socket_path};

/// Talks to lvsd over its Unix socket.
#[derive(Debug)]
pub struct SocketBackend {
    path: PathBuf,
    client: Option<Client<UnixStream>>,
    info: Option<Info>,
}

impl SocketBackend {
    /// The socket from `$LVSD_SOCKET` or the default path.
    pub fn from_env() -> SocketBackend {
        SocketBackend {
            path: socket_path(),
            client: None,
            info: None,
        }
    }
}

fn client_name() -> String {
    format!("lvsadm {}", env!("CARGO_PKG_VERSION"))
}

impl Backend for SocketBackend {
    fn connect(&mut self) -> Result<Info, ConnectError> {
        if let Some(i) = self.info {
            return Ok(i);
        }
        let mut c = Client::connect(&self.path, &client_name()).map_err(|e| match e {
            ClientError::VersionMismatch { .. } => ConnectError::VersionMismatch(e.to_string()),
            // A non-root user cannot open the root-only (0600) socket: what
            // the kernel tells a non-root ipvsadm.
            ClientError::Connect { ref source, .. }
                if source.kind() == std::io::ErrorKind::PermissionDenied =>
            {
                ConnectError::Refused(lvs_proto::Errno::Eperm)
            }
            ClientError::Connect { .. } => {
                ConnectError::Unavailable(format!("{e} (is lvsd running?)"))
            }
            ClientError::Frame(_) => ConnectError::Unavailable(format!(
                "lvsd at {} did not complete the handshake: {e}",
                self.path.display()
            )),
        })?;
        let info = match c.call(&Request::GetInfo) {
            Ok(Response::Info(i)) => i,
            // lvsd refuses non-root peers with EPERM, as the kernel does.
            Ok(Response::Error(e)) => return Err(ConnectError::Refused(e.errno)),
            Ok(other) => {
                return Err(ConnectError::Unavailable(format!(
                    "unexpected answer to GetInfo: {other:?}"
                )));
            }
            Err(e) => return Err(ConnectError::Unavailable(e.to_string())),
        };
        self.client = Some(c);
        self.info = Some(info);
        Ok(info)
    }

    fn call(&mut self, req: Request) -> Result<Response, TransportError> {
        let c = self
            .client
            .as_mut()
            .ok_or_else(|| TransportError("not connected".into()))?;
        c.call(&req).map_err(|e| TransportError(e.to_string()))
    }
}

/// `/etc/hosts` and `/etc/services` (or the files named by `LVSADM_HOSTS` /
/// `LVSADM_SERVICES`), then the system resolver for IPv4 host lookups.
#[derive(Debug)]
pub struct SystemResolver {
    files: FilesResolver,
    use_system: bool,
}

impl SystemResolver {
    /// Reads the files now.
    pub fn from_env() -> SystemResolver {
        let hosts_path = std::env::var_os("LVSADM_HOSTS");
        let services_path = std::env::var_os("LVSADM_SERVICES");
        let use_system = hosts_path.is_none();
        let read = |p: Option<std::ffi::OsString>, default: &str| {
            let p = p
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(default));
            std::fs::read_to_string(p).unwrap_or_default()
        };
        let files = FilesResolver::new(
            &read(hosts_path, "/etc/hosts"),
            &read(services_path, "/etc/services"),
        );
        SystemResolver { files, use_system }
    }
}

impl Resolver for SystemResolver {
    fn host_to_ipv4(&self, name: &str) -> Option<Ipv4Addr> {
        if let Some(a) = self.files.host_to_ipv4(name) {
            return Some(a);
        }
        if !self.use_system || name.is_empty() {
            return None;
        }
        (name, 0u16)
            .to_socket_addrs()
            .ok()?
            .find_map(|sa| match sa.ip() {
                IpAddr::V4(a) => Some(a),
                IpAddr::V6(_) => None,
            })
    }

    fn addr_to_host(&self, addr: IpAddr) -> Option<String> {
        self.files.addr_to_host(addr)
    }

    fn service_to_port(&self, name: &str, proto: lvs_proto::Protocol) -> Option<u16> {
        self.files.service_to_port(name, proto)
    }

    fn port_to_service(&self, port: u16, proto: lvs_proto::Protocol) -> Option<String> {
        self.files.port_to_service(port, proto)
    }
}
