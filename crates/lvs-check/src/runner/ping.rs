//! PING_CHECK: one ICMP echo over a raw socket (keepalived's `check_ping.c`
//! does the same), so it needs `CAP_NET_RAW` (lvsd runs as root; without
//! it the socket cannot be opened and the check fails). The socket is
//! connected to the target, so the kernel hands it only that host's ICMP;
//! replies are matched on identifier and sequence number
//! ([`crate::proto::icmp_echo_reply_matches`]). `bindto` sets the source
//! address; the whole exchange is bounded by `connect_timeout`.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU16, Ordering};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use super::CheckSpec;
use crate::proto::{icmp_echo_reply_matches, icmp_echo_request};

static SEQ: AtomicU16 = AtomicU16::new(1);

/// One PING_CHECK.
pub(super) async fn ping_check(spec: &CheckSpec) -> super::net::Verdict {
    let addr = spec.target.ip();
    match tokio::time::timeout(spec.timeout, echo(addr, spec.bind)).await {
        Ok(Ok(_)) => Ok("echo reply".to_owned()),
        Ok(Err(e)) => Err(super::net::io_reason("ICMP", &e)),
        Err(_) => Err(super::net::timed_out(spec.timeout)),
    }
}

async fn echo(addr: IpAddr, bind: Option<SocketAddr>) -> io::Result<bool> {
    let v6 = addr.is_ipv6();
    let (domain, proto) = if v6 {
        (Domain::IPV6, Protocol::ICMPV6)
    } else {
        (Domain::IPV4, Protocol::ICMPV4)
    };
    let sock = Socket::new(domain, Type::RAW, Some(proto))?;
    sock.set_nonblocking(true)?;
    if let Some(b) = bind {
        sock.bind(&SockAddr::from(SocketAddr::new(b.ip(), 0)))?;
    }
    sock.connect(&SockAddr::from(SocketAddr::new(addr, 0)))?;
    let seq = SEQ.fetch_add(1, Ordering::Relaxed);
    let id = (std::process::id() as u16).rotate_left(5) ^ seq.rotate_right(3);
    let request = icmp_echo_request(v6, id, seq, b"lvs-rs PING_CHECK");
    // The raw socket goes through tokio's UDP socket type, which only
    // issues send(2)/recv(2) on it: datagram semantics hold for raw sockets.
    let sock = tokio::net::UdpSocket::from_std(std::net::UdpSocket::from(sock))?;
    sock.send(&request).await?;
    let mut buf = [0u8; 2048];
    loop {
        let n = sock.recv(&mut buf).await?;
        if icmp_echo_reply_matches(v6, buf.get(..n).unwrap_or_default(), id, seq) {
            return Ok(true);
        }
    }
}
