//! AF_PACKET fallback backend (plain `recv`/`send` on a `SOCK_RAW` packet socket bound to one
//! interface), for kernels or drivers without AF_XDP.
//!
//! Unlike AF_XDP, an AF_PACKET socket receives a *copy*: the kernel stack still sees every
//! frame, so a daemon using this backend must keep the kernel from answering service traffic
//! itself. One receive buffer of [`MAX_FRAME`] bytes is allocated at bind time: no allocation
//! per packet. This is the plain `recv`/`send` variant (one system call per frame); a
//! TPACKET_V3 ring would cut that cost and is left for later.
//!
//! Our own transmissions are never read back as input: the socket asks the kernel not to loop
//! outgoing frames to it (`PACKET_IGNORE_OUTGOING`, Linux 4.20+; its absence is tolerated), and
//! every received frame whose `sll_pkttype` is `PACKET_OUTGOING` (sent by anyone on the bound
//! interface) is skipped anyway, before the callback sees it.
#![allow(unsafe_code)]

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

use crate::sys;
use crate::{Action, IoError, PacketIo};

/// Largest frame handled (Ethernet MTU 1500 + headers, with room for two VLAN tags).
pub const MAX_FRAME: usize = 2048;

const PACKET_IGNORE_OUTGOING: i32 = 23;
/// `sll_pkttype` of a frame leaving the interface.
const PACKET_OUTGOING: u8 = 4;

/// An AF_PACKET socket bound to one interface.
#[derive(Debug)]
pub struct PacketSocket {
    fd: OwnedFd,
    buf: Vec<u8>,
}

impl PacketSocket {
    /// Opens and binds to `ifindex` in the calling thread's namespace.
    pub fn bind(ifindex: u32) -> Result<Self, IoError> {
        let proto = (libc::ETH_P_ALL as u16).to_be();
        let fd = sys::socket(
            libc::AF_PACKET,
            libc::SOCK_RAW | libc::SOCK_NONBLOCK,
            i32::from(proto),
        )?;
        let one: i32 = 1;
        // Older kernels lack the option: the pkttype check in `recv_one` covers them.
        let _ = sys::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_PACKET,
            PACKET_IGNORE_OUTGOING,
            &one,
            "PACKET_IGNORE_OUTGOING",
        );
        let sll = libc::sockaddr_ll {
            sll_family: libc::AF_PACKET as u16,
            sll_protocol: proto,
            sll_ifindex: i32::try_from(ifindex).map_err(|_| IoError::Invalid("ifindex"))?,
            sll_hatype: 0,
            sll_pkttype: 0,
            sll_halen: 0,
            sll_addr: [0; 8],
        };
        sys::bind(fd.as_raw_fd(), &sll, "bind(AF_PACKET)")?;
        Ok(Self {
            fd,
            buf: vec![0; MAX_FRAME],
        })
    }

    /// Receives one frame: `Some((len, outgoing))`, `None` when nothing is pending.
    fn recv_one(&mut self) -> Result<Option<(usize, bool)>, IoError> {
        let mut from = libc::sockaddr_ll {
            sll_family: 0,
            sll_protocol: 0,
            sll_ifindex: 0,
            sll_hatype: 0,
            sll_pkttype: 0,
            sll_halen: 0,
            sll_addr: [0; 8],
        };
        let mut from_len = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
        // SAFETY: buf is a live, writable buffer of buf.len() bytes for the call; from is a
        // live, writable sockaddr_ll whose size is in from_len.
        let n = unsafe {
            libc::recvfrom(
                self.fd.as_raw_fd(),
                self.buf.as_mut_ptr().cast(),
                self.buf.len(),
                libc::MSG_DONTWAIT | libc::MSG_TRUNC,
                (&mut from as *mut libc::sockaddr_ll).cast(),
                &mut from_len,
            )
        };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            return match e.raw_os_error() {
                Some(libc::EAGAIN | libc::EINTR) => Ok(None),
                _ => Err(IoError::Sys("recv(AF_PACKET)", e)),
            };
        }
        Ok(Some((n as usize, from.sll_pkttype == PACKET_OUTGOING)))
    }

    fn send_one(fd: RawFd, frame: &[u8]) -> Result<bool, IoError> {
        // SAFETY: frame is a live buffer of frame.len() bytes, only read by the kernel.
        let n = unsafe { libc::send(fd, frame.as_ptr().cast(), frame.len(), libc::MSG_DONTWAIT) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            return match e.raw_os_error() {
                Some(libc::EAGAIN | libc::ENOBUFS) => Ok(false),
                _ => Err(IoError::Sys("send(AF_PACKET)", e)),
            };
        }
        Ok(true)
    }
}

impl PacketIo for PacketSocket {
    fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    fn poll(&mut self, timeout_ms: i32) -> Result<bool, IoError> {
        sys::poll_in(self.fd.as_raw_fd(), timeout_ms)
    }

    fn recv_batch<F>(&mut self, max: usize, mut f: F) -> Result<usize, IoError>
    where
        F: FnMut(&mut [u8], usize) -> Action,
    {
        let mut n = 0;
        // Skipped (outgoing) frames count towards a bound too, so one call stays short.
        let mut seen = 0;
        while n < max && seen < 2 * max {
            seen += 1;
            let Some((len, outgoing)) = self.recv_one()? else {
                break;
            };
            if outgoing {
                continue; // sent on this interface (by us or the kernel): not input
            }
            n += 1;
            if len > self.buf.len() {
                continue; // truncated: larger than MAX_FRAME
            }
            if let Action::Tx(out) = f(&mut self.buf, len)
                && out > 0
                && out <= self.buf.len()
            {
                Self::send_one(self.fd.as_raw_fd(), &self.buf[..out])?;
            }
        }
        Ok(n)
    }

    fn send_batch(&mut self, frames: &[&[u8]]) -> Result<usize, IoError> {
        let mut sent = 0;
        for fr in frames {
            if !Self::send_one(self.fd.as_raw_fd(), fr)? {
                break;
            }
            sent += 1;
        }
        Ok(sent)
    }
}
