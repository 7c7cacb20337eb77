//! Thin, checked wrappers over the raw system calls used by this crate.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

use crate::IoError;

fn last(what: &'static str) -> IoError {
    IoError::Sys(what, io::Error::last_os_error())
}

/// `union bpf_attr` as used by BPF_PROG_TEST_RUN (linux/bpf.h `test` member), zero padded.
#[repr(C)]
#[derive(Default)]
struct TestRunAttr {
    prog_fd: u32,
    retval: u32,
    data_size_in: u32,
    data_size_out: u32,
    data_in: u64,
    data_out: u64,
    repeat: u32,
    duration: u32,
    ctx_size_in: u32,
    ctx_size_out: u32,
    ctx_in: u64,
    ctx_out: u64,
    flags: u32,
    cpu: u32,
    batch_size: u32,
    pad: u32,
}

const BPF_PROG_TEST_RUN: libc::c_long = 10;

/// Runs program `prog_fd` once on `data`; returns its return value.
pub(crate) fn prog_test_run(prog_fd: RawFd, data: &[u8]) -> Result<u32, IoError> {
    let mut out = [0u8; 4096];
    let mut attr = TestRunAttr {
        prog_fd: u32::try_from(prog_fd).map_err(|_| IoError::Invalid("negative fd"))?,
        data_size_in: u32::try_from(data.len()).map_err(|_| IoError::Invalid("frame too big"))?,
        data_size_out: out.len() as u32,
        data_in: data.as_ptr() as u64,
        data_out: out.as_mut_ptr() as u64,
        repeat: 1,
        ..Default::default()
    };
    // SAFETY: attr is a properly laid out bpf_attr prefix living for the call; data_in points to
    // `data` (data_size_in bytes, only read) and data_out to `out` (data_size_out bytes
    // writable); the size passed is the size of attr.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_PROG_TEST_RUN,
            &mut attr as *mut TestRunAttr,
            std::mem::size_of::<TestRunAttr>(),
        )
    };
    if rc != 0 {
        return Err(last("bpf(BPF_PROG_TEST_RUN)"));
    }
    Ok(attr.retval)
}

/// `socket(2)`.
pub(crate) fn socket(domain: i32, ty: i32, proto: i32) -> Result<OwnedFd, IoError> {
    // SAFETY: plain syscall with integer arguments.
    let fd = unsafe { libc::socket(domain, ty | libc::SOCK_CLOEXEC, proto) };
    if fd < 0 {
        return Err(last("socket"));
    }
    // SAFETY: fd was just returned by socket() and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `setsockopt(2)` with a plain-old-data value.
pub(crate) fn setsockopt<T: Copy>(
    fd: RawFd,
    level: i32,
    name: i32,
    val: &T,
    what: &'static str,
) -> Result<(), IoError> {
    // SAFETY: val points to a live T of the size passed; the kernel only reads it.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (val as *const T).cast(),
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(last(what));
    }
    Ok(())
}

/// `getsockopt(2)` into a plain-old-data value; returns the length written.
pub(crate) fn getsockopt<T: Copy>(
    fd: RawFd,
    level: i32,
    name: i32,
    val: &mut T,
    what: &'static str,
) -> Result<usize, IoError> {
    let mut len = std::mem::size_of::<T>() as libc::socklen_t;
    // SAFETY: val points to a live, writable T of `len` bytes; T is Copy (no drop glue) and
    // only ever instantiated with integer-only C structs for which any bytes are valid.
    let rc = unsafe { libc::getsockopt(fd, level, name, (val as *mut T).cast(), &mut len) };
    if rc != 0 {
        return Err(last(what));
    }
    Ok(len as usize)
}

/// An owned memory mapping, unmapped on drop.
#[derive(Debug)]
pub(crate) struct Mmap {
    ptr: *mut u8,
    len: usize,
}

// SAFETY: the mapping is plain memory owned by this value; access is synchronised by the
// owner (&mut for writes), so moving it to another thread is sound.
unsafe impl Send for Mmap {}

impl Mmap {
    /// Anonymous, private, zeroed memory (UMEM).
    pub(crate) fn anonymous(len: usize) -> Result<Self, IoError> {
        // SAFETY: a new anonymous mapping; no existing memory is affected.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_POPULATE,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(last("mmap(umem)"));
        }
        Ok(Self { ptr: p.cast(), len })
    }

    /// Shared mapping of `fd` at `offset` (AF_XDP rings).
    pub(crate) fn shared(fd: RawFd, len: usize, offset: u64) -> Result<Self, IoError> {
        let off = libc::off_t::try_from(offset).map_err(|_| IoError::Invalid("mmap offset"))?;
        // SAFETY: a new shared mapping of a socket's ring; no existing memory is affected.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_POPULATE,
                fd,
                off,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(last("mmap(ring)"));
        }
        Ok(Self { ptr: p.cast(), len })
    }

    pub(crate) fn ptr(&self) -> *mut u8 {
        self.ptr
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }
}

impl Drop for Mmap {
    fn drop(&mut self) {
        // SAFETY: ptr/len describe a mapping created by mmap and not yet unmapped.
        unsafe {
            libc::munmap(self.ptr.cast(), self.len);
        }
    }
}

/// `sendto(fd, NULL, 0, MSG_DONTWAIT, NULL, 0)`: kicks AF_XDP TX.
pub(crate) fn kick_tx(fd: RawFd) -> Result<(), IoError> {
    // SAFETY: zero-length send with null buffer and address, as the AF_XDP ABI specifies.
    let rc = unsafe {
        libc::sendto(
            fd,
            std::ptr::null(),
            0,
            libc::MSG_DONTWAIT,
            std::ptr::null(),
            0,
        )
    };
    if rc < 0 {
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EAGAIN | libc::EBUSY | libc::ENOBUFS | libc::ENETDOWN) => return Ok(()),
            _ => return Err(IoError::Sys("sendto(kick)", e)),
        }
    }
    Ok(())
}

/// `recvfrom(fd, NULL, 0, MSG_DONTWAIT, NULL, NULL)`: wakes AF_XDP RX/fill processing.
pub(crate) fn kick_rx(fd: RawFd) {
    // SAFETY: zero-length receive with null buffers, as the AF_XDP ABI specifies.
    unsafe {
        libc::recvfrom(
            fd,
            std::ptr::null_mut(),
            0,
            libc::MSG_DONTWAIT,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        );
    }
}

/// `poll(2)` on one fd for POLLIN; returns true when readable.
pub(crate) fn poll_in(fd: RawFd, timeout_ms: i32) -> Result<bool, IoError> {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, count 1.
    let rc = unsafe { libc::poll(&mut p, 1, timeout_ms) };
    if rc < 0 {
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::Interrupted {
            return Ok(false);
        }
        return Err(IoError::Sys("poll", e));
    }
    Ok(rc > 0 && p.revents & libc::POLLIN != 0)
}

/// `poll(2)` for POLLIN on up to [`crate::WAIT_MAX`] fds at once; true when one is readable
/// (or has an error / hang-up condition, which the next read reports). Interrupted: false.
pub(crate) fn poll_in_many(fds: &[RawFd], timeout_ms: i32) -> Result<bool, IoError> {
    let mut set = [libc::pollfd {
        fd: -1,
        events: libc::POLLIN,
        revents: 0,
    }; crate::WAIT_MAX];
    if fds.len() > set.len() {
        return Err(IoError::Invalid("too many descriptors to wait on"));
    }
    for (p, &fd) in set.iter_mut().zip(fds) {
        p.fd = fd;
    }
    // SAFETY: `set` is a live array of initialised pollfds and the count passed is at most
    // its length; entries with fd -1 are ignored by the kernel.
    let rc = unsafe { libc::poll(set.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) };
    if rc < 0 {
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::Interrupted {
            return Ok(false);
        }
        return Err(IoError::Sys("poll", e));
    }
    Ok(rc > 0)
}

/// `bind(2)` with a sockaddr of type T.
pub(crate) fn bind<T: Copy>(fd: RawFd, addr: &T, what: &'static str) -> Result<(), IoError> {
    // SAFETY: addr points to a live sockaddr-compatible T of the size passed.
    let rc = unsafe {
        libc::bind(
            fd,
            (addr as *const T).cast(),
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(last(what));
    }
    Ok(())
}

/// `if_nametoindex(3)`.
pub fn ifindex(name: &str) -> Result<u32, IoError> {
    let c = std::ffi::CString::new(name).map_err(|_| IoError::Invalid("interface name"))?;
    // SAFETY: c is a valid NUL-terminated string for the call.
    let i = unsafe { libc::if_nametoindex(c.as_ptr()) };
    if i == 0 {
        return Err(last("if_nametoindex"));
    }
    Ok(i)
}
