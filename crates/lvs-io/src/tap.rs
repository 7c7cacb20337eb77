//! A TAP device: frames written to it enter the kernel's stack as if the
//! device had received them (`netif_rx` on the TAP interface).
//!
//! The data plane uses one to hand packets to the local stack (IPVS's
//! `LOCALNODE` forwarding: a real server on the director itself) whatever
//! the packet backend. The device is not persistent: it disappears when the
//! [`Tap`] is dropped (the last descriptor closes), also when the process
//! dies. Reads and writes are non-blocking, one system call per frame; what
//! the kernel sends out of the device is read with [`Tap::read`] (unread
//! frames are dropped by the TAP queue when it is full).
#![allow(unsafe_code)]

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use crate::IoError;
use crate::sys;

const TUNSETIFF: libc::c_ulong = 0x4004_54ca; // _IOW('T', 202, int)
const IFF_TAP: i16 = 0x0002;
const IFF_NO_PI: i16 = 0x1000;

/// `struct ifreq` with the members used here (name, then the union as flags or a sockaddr).
#[repr(C)]
#[derive(Clone, Copy)]
struct IfReq {
    name: [u8; 16],
    /// `ifr_flags` (first two bytes) or `ifr_hwaddr` (sa_family + 14 bytes).
    data: [u8; 24],
}

impl IfReq {
    fn new(name: &str) -> Result<Self, IoError> {
        let b = name.as_bytes();
        if b.is_empty() || b.len() > 15 || b.contains(&0) {
            return Err(IoError::Invalid("interface name"));
        }
        let mut r = IfReq {
            name: [0; 16],
            data: [0; 24],
        };
        r.name[..b.len()].copy_from_slice(b);
        Ok(r)
    }

    fn flags(&self) -> i16 {
        i16::from_ne_bytes([self.data[0], self.data[1]])
    }

    fn set_flags(&mut self, f: i16) {
        self.data[..2].copy_from_slice(&f.to_ne_bytes());
    }
}

fn ioctl(fd: i32, req: libc::c_ulong, r: &mut IfReq, what: &'static str) -> Result<(), IoError> {
    // SAFETY: r is a live, writable ifreq-sized buffer (40 bytes) for the call; the requests
    // used here read and write only struct ifreq.
    let rc = unsafe { libc::ioctl(fd, req, r as *mut IfReq) };
    if rc < 0 {
        return Err(IoError::Sys(what, std::io::Error::last_os_error()));
    }
    Ok(())
}

/// An open TAP device.
#[derive(Debug)]
pub struct Tap {
    fd: OwnedFd,
    name: String,
    ifindex: u32,
}

impl Tap {
    /// Creates TAP device `name` (no packet-information header) in the calling thread's
    /// namespace, administratively down (see [`Tap::set_up`]).
    pub fn create(name: &str) -> Result<Self, IoError> {
        let mut req = IfReq::new(name)?;
        // SAFETY: the path is a NUL-terminated literal; plain open(2).
        let raw = unsafe {
            libc::open(
                c"/dev/net/tun".as_ptr(),
                libc::O_RDWR | libc::O_CLOEXEC | libc::O_NONBLOCK,
            )
        };
        if raw < 0 {
            return Err(IoError::Sys(
                "open(/dev/net/tun)",
                std::io::Error::last_os_error(),
            ));
        }
        // SAFETY: raw was just returned by open() and is owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        req.set_flags(IFF_TAP | IFF_NO_PI);
        ioctl(fd.as_raw_fd(), TUNSETIFF, &mut req, "ioctl(TUNSETIFF)")?;
        let ifindex = sys::ifindex(name)?;
        Ok(Self {
            fd,
            name: name.to_owned(),
            ifindex,
        })
    }

    /// The interface name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The interface index.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// Sets the device administratively up, without ARP (`IFF_NOARP`: the kernel sends
    /// what it routes out of the device without resolving a MAC first).
    pub fn set_up(&self) -> Result<(), IoError> {
        let ctl = sys::socket(libc::AF_INET, libc::SOCK_DGRAM, 0)?;
        let mut req = IfReq::new(&self.name)?;
        ioctl(
            ctl.as_raw_fd(),
            libc::SIOCGIFFLAGS as libc::c_ulong,
            &mut req,
            "ioctl(SIOCGIFFLAGS)",
        )?;
        req.set_flags(req.flags() | libc::IFF_UP as i16 | libc::IFF_NOARP as i16);
        ioctl(
            ctl.as_raw_fd(),
            libc::SIOCSIFFLAGS as libc::c_ulong,
            &mut req,
            "ioctl(SIOCSIFFLAGS)",
        )
    }

    /// The device's MAC address (frames for the local stack must carry it as destination).
    pub fn mac(&self) -> Result<[u8; 6], IoError> {
        let ctl = sys::socket(libc::AF_INET, libc::SOCK_DGRAM, 0)?;
        let mut req = IfReq::new(&self.name)?;
        ioctl(
            ctl.as_raw_fd(),
            libc::SIOCGIFHWADDR as libc::c_ulong,
            &mut req,
            "ioctl(SIOCGIFHWADDR)",
        )?;
        let mut mac = [0u8; 6];
        // sockaddr: sa_family (2 bytes), then sa_data.
        mac.copy_from_slice(&req.data[2..8]);
        Ok(mac)
    }

    /// Reads one frame the kernel sent out of the device into `buf`; `None` when there is
    /// none. A frame longer than `buf` is truncated (its length is not reported beyond it).
    pub fn read(&self, buf: &mut [u8]) -> Result<Option<usize>, IoError> {
        // SAFETY: buf is a live, writable buffer of buf.len() bytes for the call.
        let n = unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            return match e.raw_os_error() {
                Some(libc::EAGAIN | libc::EINTR) => Ok(None),
                _ => Err(IoError::Sys("read(tap)", e)),
            };
        }
        Ok(Some(n as usize))
    }

    /// Hands one Ethernet frame to the kernel; false when the device's queue refused it
    /// (`EAGAIN`).
    pub fn write(&self, frame: &[u8]) -> Result<bool, IoError> {
        // SAFETY: frame is a live buffer of frame.len() bytes, only read by the kernel.
        let n = unsafe { libc::write(self.fd.as_raw_fd(), frame.as_ptr().cast(), frame.len()) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            return match e.raw_os_error() {
                Some(libc::EAGAIN | libc::ENOBUFS) => Ok(false),
                _ => Err(IoError::Sys("write(tap)", e)),
            };
        }
        Ok(true)
    }
}
