//! Both ends of a control connection over a Unix stream socket: the socket
//! path, the client (connect + handshake + calls) and the server side of the
//! handshake.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use crate::frame::{FrameError, read_frame, write_frame};
use crate::msg::{Hello, MAGIC, PROTO_VERSION, Request, Response, Welcome};

/// Default control socket path.
pub const DEFAULT_SOCKET: &str = "/run/lvs/lvsd.sock";

/// Environment variable overriding [`DEFAULT_SOCKET`] (for `lvsd` and `lvsadm`
/// alike, so that several directors can run on one machine).
pub const SOCKET_ENV: &str = "LVSD_SOCKET";

/// The socket path to use: `$LVSD_SOCKET` when set and not empty, else
/// [`DEFAULT_SOCKET`].
pub fn socket_path() -> PathBuf {
    socket_path_from(std::env::var_os(SOCKET_ENV).as_deref())
}

/// [`socket_path`] with the environment value given.
pub fn socket_path_from(env: Option<&std::ffi::OsStr>) -> PathBuf {
    match env {
        Some(v) if !v.is_empty() => PathBuf::from(v),
        _ => PathBuf::from(DEFAULT_SOCKET),
    }
}

/// Client-side errors.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The socket could not be reached (daemon not running, wrong path, no
    /// permission).
    #[error("cannot connect to {path}: {source}")]
    Connect {
        /// The socket path tried.
        path: PathBuf,
        /// The connect error.
        source: std::io::Error,
    },
    /// The daemon speaks another protocol version.
    #[error(
        "protocol version mismatch: {server} speaks version {server_version}, \
         this client speaks version {PROTO_VERSION}"
    )]
    VersionMismatch {
        /// The server's version.
        server_version: u32,
        /// The server's self-description.
        server: String,
    },
    /// Framing or decoding failed, or the peer closed the connection.
    #[error(transparent)]
    Frame(#[from] FrameError),
}

/// A connected, handshaken client.
#[derive(Debug)]
pub struct Client<S = UnixStream> {
    stream: S,
    server: String,
}

impl Client<UnixStream> {
    /// Connects to `path` and performs the handshake as `client`.
    pub fn connect(path: &Path, client: &str) -> Result<Client<UnixStream>, ClientError> {
        let stream = UnixStream::connect(path).map_err(|source| ClientError::Connect {
            path: path.to_path_buf(),
            source,
        })?;
        Client::handshake(stream, client)
    }
}

impl<S: Read + Write> Client<S> {
    /// Performs the client side of the handshake on an open stream.
    pub fn handshake(mut stream: S, client: &str) -> Result<Client<S>, ClientError> {
        write_frame(&mut stream, &Hello::new(client))?;
        match read_frame::<_, Welcome>(&mut stream)? {
            Welcome::Accepted { server, .. } => Ok(Client { stream, server }),
            Welcome::Rejected { version, server } => Err(ClientError::VersionMismatch {
                server_version: version,
                server,
            }),
        }
    }

    /// The server's self-description from the handshake.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// Sends one request and waits for its response.
    pub fn call(&mut self, request: &Request) -> Result<Response, ClientError> {
        write_frame(&mut self.stream, request)?;
        Ok(read_frame(&mut self.stream)?)
    }
}

/// Server-side handshake errors.
#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    /// The peer is not an lvs-rs client.
    #[error("peer is not an lvs-rs control client (magic {0:?})")]
    BadMagic(String),
    /// The client speaks another version; it was told so and should be dropped.
    #[error("client {client} speaks protocol version {version}, not {PROTO_VERSION}")]
    Version {
        /// The client's version.
        version: u32,
        /// The client's self-description.
        client: String,
    },
    /// Framing or decoding failed.
    #[error(transparent)]
    Frame(#[from] FrameError),
}

/// Server side of the handshake: reads the [`Hello`], answers with a
/// [`Welcome`] and returns the hello when the versions match.
pub fn accept_handshake<S: Read + Write>(
    stream: &mut S,
    server: &str,
) -> Result<Hello, HandshakeError> {
    let hello: Hello = read_frame(stream)?;
    if hello.magic != MAGIC {
        return Err(HandshakeError::BadMagic(hello.magic));
    }
    if hello.version != PROTO_VERSION {
        write_frame(
            stream,
            &Welcome::Rejected {
                version: PROTO_VERSION,
                server: server.to_string(),
            },
        )?;
        return Err(HandshakeError::Version {
            version: hello.version,
            client: hello.client,
        });
    }
    write_frame(
        stream,
        &Welcome::Accepted {
            version: PROTO_VERSION,
            server: server.to_string(),
        },
    )?;
    Ok(hello)
}
