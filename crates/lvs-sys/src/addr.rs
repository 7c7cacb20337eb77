//! Adding and removing interface addresses with rtnetlink (`RTM_NEWADDR` /
//! `RTM_DELADDR`), in the calling thread's namespace: what the VRRP driver
//! does with its virtual addresses (keepalived's `netlink_ipaddress`).
//!
//! Contract: one request per call on a fresh `NETLINK_ROUTE` socket, acked
//! (`NLM_F_ACK`); the kernel's error number comes back as
//! [`SysError::Netlink`] (negative errno, e.g. `-17` EEXIST when adding an
//! address that is there, `-99` EADDRNOTAVAIL when deleting one that is
//! not). IPv4 addresses get `IFA_LOCAL` = `IFA_ADDRESS` (a plain local
//! address, as `ip addr add A/N dev D`) and an optional `IFA_LABEL`; IPv6
//! addresses may skip duplicate address detection (`IFA_F_NODAD`).

use std::net::IpAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use crate::SysError;

const NLMSG_ERROR: u16 = 2;
const RTM_NEWADDR: u16 = 20;
const RTM_DELADDR: u16 = 21;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_LABEL: u16 = 3;
const IFA_FLAGS: u16 = 8;
/// `IFA_F_NODAD`.
const NODAD: u32 = 0x02;
/// `RT_SCOPE_UNIVERSE`.
const SCOPE_GLOBAL: u8 = 0;

/// One address to add or remove.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddrSpec<'a> {
    /// Interface index.
    pub index: u32,
    /// Address.
    pub addr: IpAddr,
    /// Prefix length.
    pub prefix_len: u8,
    /// IPv4 label (`IFA_LABEL`, at most 15 bytes), e.g. `eth0:vip`.
    pub label: Option<&'a str>,
    /// IPv6: no duplicate address detection.
    pub nodad: bool,
}

fn attr(out: &mut Vec<u8>, ty: u16, payload: &[u8]) {
    let len = 4 + payload.len();
    out.extend_from_slice(&(len as u16).to_ne_bytes());
    out.extend_from_slice(&ty.to_ne_bytes());
    out.extend_from_slice(payload);
    while !out.len().is_multiple_of(4) {
        out.push(0);
    }
}

/// The `ifaddrmsg` and attributes of a request for `a`.
pub fn request_body(a: &AddrSpec<'_>) -> Vec<u8> {
    let (family, bytes): (u8, Vec<u8>) = match a.addr {
        IpAddr::V4(v4) => (libc::AF_INET as u8, v4.octets().to_vec()),
        IpAddr::V6(v6) => (libc::AF_INET6 as u8, v6.octets().to_vec()),
    };
    let mut b = Vec::with_capacity(64);
    b.push(family);
    b.push(a.prefix_len);
    b.push(0); // ifa_flags (the 32-bit IFA_FLAGS below carries them)
    b.push(SCOPE_GLOBAL);
    b.extend_from_slice(&a.index.to_ne_bytes());
    attr(&mut b, IFA_LOCAL, &bytes);
    attr(&mut b, IFA_ADDRESS, &bytes);
    if let (Some(l), IpAddr::V4(_)) = (a.label, a.addr) {
        let mut name = l.as_bytes().iter().take(15).copied().collect::<Vec<u8>>();
        name.push(0);
        attr(&mut b, IFA_LABEL, &name);
    }
    if a.nodad && a.addr.is_ipv6() {
        attr(&mut b, IFA_FLAGS, &NODAD.to_ne_bytes());
    }
    b
}

/// Adds `a` (fails with `Netlink(-17)` when it is already there).
pub fn add(a: &AddrSpec<'_>) -> Result<(), SysError> {
    request(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, &request_body(a))
}

/// Removes `a` (fails with `Netlink(-99)` when it is not there).
pub fn del(a: &AddrSpec<'_>) -> Result<(), SysError> {
    request(RTM_DELADDR, 0, &request_body(a))
}

fn io(what: &str) -> SysError {
    SysError::Io(what.to_owned(), std::io::Error::last_os_error())
}

/// Sends one acked request and waits for its acknowledgement.
#[allow(unsafe_code)]
fn request(ty: u16, flags: u16, body: &[u8]) -> Result<(), SysError> {
    // SAFETY: plain syscall with integer arguments.
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::NETLINK_ROUTE,
        )
    };
    if fd < 0 {
        return Err(io("socket(NETLINK_ROUTE)"));
    }
    // SAFETY: fd was just returned by socket() and is owned by nobody else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let seq: u32 = 1;
    let len = 16 + body.len();
    let mut m = Vec::with_capacity(len);
    m.extend_from_slice(&(len as u32).to_ne_bytes());
    m.extend_from_slice(&ty.to_ne_bytes());
    m.extend_from_slice(&(flags | NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes());
    m.extend_from_slice(&seq.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes());
    m.extend_from_slice(body);
    // SAFETY: m is a live buffer of m.len() bytes, only read by the kernel.
    let n = unsafe { libc::send(fd.as_raw_fd(), m.as_ptr().cast(), m.len(), 0) };
    if n < 0 {
        return Err(io("send(netlink)"));
    }
    let mut buf = [0u8; 4096];
    loop {
        // SAFETY: buf is a live, writable buffer of buf.len() bytes.
        let n = unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return Err(SysError::Io("recv(netlink)".into(), e));
        }
        let data = buf.get(..n as usize).unwrap_or_default();
        let mut off = 0;
        while off + 16 <= data.len() {
            let h = &data[off..];
            let mlen = u32::from_ne_bytes([h[0], h[1], h[2], h[3]]) as usize;
            let mty = u16::from_ne_bytes([h[4], h[5]]);
            let mseq = u32::from_ne_bytes([h[8], h[9], h[10], h[11]]);
            if mlen < 16 || off + mlen > data.len() {
                return Err(SysError::Malformed("netlink message length"));
            }
            if mty == NLMSG_ERROR && mseq == seq {
                let e = h
                    .get(16..20)
                    .map(|b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
                    .ok_or(SysError::Malformed("short NLMSG_ERROR"))?;
                return if e == 0 {
                    Ok(())
                } else {
                    Err(SysError::Netlink(e))
                };
            }
            off += (mlen + 3) & !3;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_request_has_local_address_and_label() {
        let b = request_body(&AddrSpec {
            index: 7,
            addr: "10.0.0.100".parse().unwrap(),
            prefix_len: 32,
            label: Some("e0:vip"),
            nodad: true,
        });
        // ifaddrmsg: AF_INET, /32, flags 0, scope global, index 7.
        assert_eq!(b[..4], [2, 32, 0, 0]);
        assert_eq!(b[4..8], 7u32.to_ne_bytes());
        // IFA_LOCAL then IFA_ADDRESS, 8 bytes each.
        assert_eq!(b[8..10], 8u16.to_ne_bytes());
        assert_eq!(b[10..12], IFA_LOCAL.to_ne_bytes());
        assert_eq!(b[12..16], [10, 0, 0, 100]);
        assert_eq!(b[18..20], IFA_ADDRESS.to_ne_bytes());
        assert_eq!(b[20..24], [10, 0, 0, 100]);
        // IFA_LABEL "e0:vip\0" (4 + 7, padded to 12); nodad ignored for IPv4.
        assert_eq!(b[24..26], 11u16.to_ne_bytes());
        assert_eq!(b[26..28], IFA_LABEL.to_ne_bytes());
        assert_eq!(&b[28..35], b"e0:vip\0");
        assert_eq!(b.len(), 36);
    }

    #[test]
    fn ipv6_request_carries_nodad() {
        let b = request_body(&AddrSpec {
            index: 3,
            addr: "fd00::100".parse().unwrap(),
            prefix_len: 128,
            label: Some("ignored"),
            nodad: true,
        });
        assert_eq!(b[..4], [10, 128, 0, 0]);
        // 8 + 2 × (4 + 16) + IFA_FLAGS (4 + 4).
        assert_eq!(b.len(), 8 + 40 + 8);
        assert_eq!(b[48..50], 8u16.to_ne_bytes());
        assert_eq!(b[50..52], IFA_FLAGS.to_ne_bytes());
        assert_eq!(b[52..56], NODAD.to_ne_bytes());
    }
}
