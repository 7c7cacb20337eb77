//! A one-shot ARP probe: who answers "who has ADDR" on a link.
//!
//! [`probe`] broadcasts one ARP request for the target from the link's own MAC (sender IP:
//! the link's first IPv4 address, or 0.0.0.0 as an RFC 5227 probe when it has none) on an
//! AF_PACKET socket, collects the replies whose sender IP is the target for `wait`, and
//! returns the MACs that are not the link's own. On a director, any answer for a VIP comes
//! from a host that must not answer: a real server whose `arp_ignore` is wrong.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use lvs_io::{Action, PacketIo, PacketSocket};
use lvs_wire::arp::{self, ArpPacket};
use lvs_wire::ethernet::{self, MacAddr, ethertype};

use crate::Error;
use crate::snapshot::Snapshot;

fn io_err(e: lvs_io::IoError) -> Error {
    Error::Command(format!("arp probe: {e}"))
}

/// Probes `target` on `dev`; returns the distinct foreign MACs that answered within `wait`.
pub fn probe(
    s: &Snapshot,
    dev: &str,
    target: Ipv4Addr,
    wait: Duration,
) -> Result<Vec<[u8; 6]>, Error> {
    let link = s
        .link(dev)
        .ok_or_else(|| Error::Invalid(format!("no interface {dev}")))?;
    let own: [u8; 6] = link
        .mac
        .as_slice()
        .try_into()
        .map_err(|_| Error::Invalid(format!("{dev} has no Ethernet address")))?;
    let sip = s
        .addrs_on(dev)
        .find_map(|a| match a.addr {
            std::net::IpAddr::V4(v) => Some(v),
            std::net::IpAddr::V6(_) => None,
        })
        .unwrap_or(Ipv4Addr::UNSPECIFIED);
    let mut frame = [0u8; 60];
    let n = ethernet::write_header(
        &mut frame,
        MacAddr::BROADCAST,
        MacAddr(own),
        &[],
        ethertype::ARP,
    )
    .map_err(|e| Error::Invalid(e.to_string()))?;
    arp::write(
        &mut frame[n..],
        arp::OP_REQUEST,
        MacAddr(own),
        sip,
        MacAddr::ZERO,
        target,
    )
    .map_err(|e| Error::Invalid(e.to_string()))?;
    let mut sock = PacketSocket::bind(link.index).map_err(io_err)?;
    sock.send_batch(&[&frame[..]]).map_err(io_err)?;
    let mut found: Vec<[u8; 6]> = Vec::new();
    let deadline = Instant::now() + wait;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        let ms = i32::try_from(left.as_millis()).unwrap_or(i32::MAX).max(1);
        if !sock.poll(ms).map_err(io_err)? {
            continue;
        }
        sock.recv_batch(64, |buf, len| {
            let f = &buf[..len];
            if f.len() >= 14 + arp::LEN
                && u16::from_be_bytes([f[12], f[13]]) == ethertype::ARP
                && let Ok(p) = ArpPacket::new_checked(&f[14..])
                && p.operation() == arp::OP_REPLY
                && p.sender_ip() == target
            {
                let m = p.sender_mac().0;
                if m != own && !found.contains(&m) {
                    found.push(m);
                }
            }
            Action::Drop
        })
        .map_err(io_err)?;
    }
    Ok(found)
}
