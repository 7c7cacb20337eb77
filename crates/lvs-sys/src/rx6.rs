//! Receiving IPv6 datagrams with their destination address and hop limit.
//!
//! A raw IPv6 socket delivers the payload without the IPv6 header; what a
//! VRRP router must check (RFC 5798 §7.1: hop limit 255, and the
//! destination for the checksum's pseudo-header) arrives as ancillary data
//! (`IPV6_PKTINFO`, `IPV6_HOPLIMIT`) once [`enable`] asked for it.
//! [`recv`] wraps `recvmsg(2)` and walks the control messages; no
//! allocation.

use std::net::Ipv6Addr;
use std::os::fd::{AsRawFd, BorrowedFd};

use crate::SysError;

/// One received datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rx6 {
    /// Payload bytes written to the buffer.
    pub len: usize,
    /// Source address.
    pub src: Ipv6Addr,
    /// Destination address (`IPV6_PKTINFO`).
    pub dst: Option<Ipv6Addr>,
    /// Interface it arrived on (`IPV6_PKTINFO`).
    pub ifindex: Option<u32>,
    /// Hop limit (`IPV6_HOPLIMIT`).
    pub hop_limit: Option<u8>,
}

fn io(what: &str) -> SysError {
    SysError::Io(what.to_owned(), std::io::Error::last_os_error())
}

/// Asks the kernel for `IPV6_PKTINFO` and `IPV6_HOPLIMIT` on `fd`.
#[allow(unsafe_code)]
pub fn enable(fd: BorrowedFd<'_>) -> Result<(), SysError> {
    let one: libc::c_int = 1;
    for (opt, name) in [
        (libc::IPV6_RECVPKTINFO, "IPV6_RECVPKTINFO"),
        (libc::IPV6_RECVHOPLIMIT, "IPV6_RECVHOPLIMIT"),
    ] {
        // SAFETY: `one` is a live c_int of the size passed; the kernel only reads it.
        let rc = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::IPPROTO_IPV6,
                opt,
                (&one as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(io(name));
        }
    }
    Ok(())
}

/// Receives one datagram without blocking; `Ok(None)` when none waits.
#[allow(unsafe_code)]
pub fn recv(fd: BorrowedFd<'_>, buf: &mut [u8]) -> Result<Option<Rx6>, SysError> {
    // 8-byte aligned room for both control messages.
    let mut control = [0u64; 16];
    // SAFETY: sockaddr_in6 is plain old data: all-zero is a valid value.
    let mut from: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: msghdr is plain old data: all-zero is a valid value.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_name = (&mut from as *mut libc::sockaddr_in6).cast();
    msg.msg_namelen = std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t;
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control);
    // SAFETY: every pointer in `msg` refers to a live buffer of the length
    // given (buf, from, control), valid for the duration of the call.
    let n = unsafe { libc::recvmsg(fd.as_raw_fd(), &mut msg, libc::MSG_DONTWAIT) };
    if n < 0 {
        let e = std::io::Error::last_os_error();
        return match e.raw_os_error() {
            Some(libc::EAGAIN | libc::EINTR) => Ok(None),
            _ => Err(SysError::Io("recvmsg".into(), e)),
        };
    }
    let mut rx = Rx6 {
        len: usize::try_from(n).unwrap_or(0).min(buf.len()),
        src: Ipv6Addr::from(from.sin6_addr.s6_addr),
        dst: None,
        ifindex: None,
        hop_limit: None,
    };
    // SAFETY: msg was filled by recvmsg; CMSG_FIRSTHDR/CMSG_NXTHDR only
    // return headers inside msg_control[..msg_controllen] (or null), and
    // each payload is read with read_unaligned after checking its length.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            let h = &*c;
            let data = libc::CMSG_DATA(c);
            let len = (h.cmsg_len as usize).saturating_sub(libc::CMSG_LEN(0) as usize);
            if h.cmsg_level == libc::IPPROTO_IPV6 {
                if h.cmsg_type == libc::IPV6_PKTINFO
                    && len >= std::mem::size_of::<libc::in6_pktinfo>()
                {
                    let info: libc::in6_pktinfo = std::ptr::read_unaligned(data.cast());
                    rx.dst = Some(Ipv6Addr::from(info.ipi6_addr.s6_addr));
                    rx.ifindex = Some(info.ipi6_ifindex);
                } else if h.cmsg_type == libc::IPV6_HOPLIMIT
                    && len >= std::mem::size_of::<libc::c_int>()
                {
                    let hl: libc::c_int = std::ptr::read_unaligned(data.cast());
                    rx.hop_limit = u8::try_from(hl).ok();
                }
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    Ok(Some(rx))
}
