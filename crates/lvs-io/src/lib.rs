//! Packet I/O for the lvs-rs data plane.
//!
//! * [`steer`]: the XDP steering program (C, `bpf/steer.c`, built by `build.rs` with
//!   `clang -target bpf`), its loader (aya) and map control, and `BPF_PROG_TEST_RUN`.
//! * [`xsk`]: AF_XDP socket (UMEM, fill/completion/rx/tx rings), copy or zero-copy mode.
//! * [`afpacket`]: AF_PACKET fallback.
//! * [`classify`]: the steering program's decision computed in userspace (AF_PACKET).
//! * [`tap`]: a TAP device, to hand frames to the local stack as if received.
//!
//! Both backends implement [`PacketIo`]: receive a batch, handing each frame to a callback
//! that may rewrite it in place and send it back out of the same interface
//! ([`Action::Tx`]), and send a batch of frames. Neither allocates per packet.
//!
//! Everything here works in the calling thread's network namespace (interface indexes,
//! attachment), so callers enter the namespace first (see `lvs_sys::NetNs::run`).

pub mod afpacket;
pub mod classify;
pub mod steer;
mod sys;
pub mod tap;
pub mod xsk;

use std::os::fd::BorrowedFd;

pub use afpacket::PacketSocket;
pub use steer::{SteerKey, SteerKind, Steering};
pub use sys::ifindex;
pub use tap::Tap;
pub use xsk::{XskConfig, XskMode, XskSocket};

/// What to do with a received frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Release the buffer.
    Drop,
    /// Transmit the first `n` bytes of the (possibly rewritten) buffer out of the same
    /// interface.
    Tx(usize),
}

/// A packet source and sink bound to one interface queue.
pub trait PacketIo {
    /// The descriptor to wait on (readable when frames are pending).
    fn fd(&self) -> BorrowedFd<'_>;

    /// Waits up to `timeout_ms` for frames; true when some are ready.
    fn poll(&mut self, timeout_ms: i32) -> Result<bool, IoError>;

    /// Receives up to `max` frames without blocking. For each, `f(buf, len)` sees the frame
    /// in `buf[..len]` (`buf` may be longer: room to grow the frame) and decides its fate.
    /// Returns the number of frames received.
    fn recv_batch<F>(&mut self, max: usize, f: F) -> Result<usize, IoError>
    where
        F: FnMut(&mut [u8], usize) -> Action;

    /// Queues `frames` for transmission (copied); returns how many were accepted.
    fn send_batch(&mut self, frames: &[&[u8]]) -> Result<usize, IoError>;
}

/// How many descriptors [`wait_readable`] waits on at most.
pub const WAIT_MAX: usize = 64;

/// Waits up to `timeout_ms` (`-1`: no limit, `0`: just look) until one of `fds` is readable,
/// in one `poll(2)`: a data plane serving several sockets waits on all of them at once, so a
/// frame on any of them wakes it without delay. True when one is ready (or reports an error,
/// which its next read returns); false on timeout or a signal. At most [`WAIT_MAX`] fds
/// ([`IoError::Invalid`] beyond); no allocation.
///
/// For an AF_XDP socket, call its [`PacketIo::poll`] with timeout 0 first: that kicks the
/// kernel when the fill ring needs a wakeup, which a plain wait on its fd does not do.
pub fn wait_readable<'a>(
    fds: impl IntoIterator<Item = BorrowedFd<'a>>,
    timeout_ms: i32,
) -> Result<bool, IoError> {
    use std::os::fd::AsRawFd;
    let mut raw = [-1; WAIT_MAX];
    let mut n = 0usize;
    for fd in fds {
        let slot = raw
            .get_mut(n)
            .ok_or(IoError::Invalid("too many descriptors to wait on"))?;
        *slot = fd.as_raw_fd();
        n += 1;
    }
    sys::poll_in_many(&raw[..n], timeout_ms)
}

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
pub enum IoError {
    /// A system call failed.
    #[error("{0}: {1}")]
    Sys(&'static str, #[source] std::io::Error),
    /// Loading, attaching or map access of the BPF program failed.
    #[error("bpf: {0}")]
    Bpf(String),
    /// An argument or kernel answer was out of range.
    #[error("invalid: {0}")]
    Invalid(&'static str),
}
