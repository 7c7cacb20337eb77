//! AF_XDP socket (one UMEM, one socket, one rx queue) in copy or zero-copy mode.
//!
//! Layout: a UMEM of `frames` chunks of [`FRAME_SIZE`] bytes. Half of the chunks are handed
//! to the kernel through the fill ring at bind time; the other half form a free list used for
//! [`PacketIo::send_batch`]. A received frame is either recycled to the fill ring (drop) or
//! transmitted in place from the same chunk (the TX ring), and its chunk comes back through
//! the completion ring to the fill ring. Nothing is allocated per packet: the free list is a
//! `Vec` with its full capacity reserved up front.
//!
//! Rings are the kernel's single-producer/single-consumer rings shared through `mmap`;
//! producer and consumer indices are read with acquire and published with release ordering,
//! as `linux/if_xdp.h` requires. In copy mode TX needs a `sendto` kick per batch; with
//! `XDP_USE_NEED_WAKEUP` RX needs a kick only when the fill ring asks for it.
#![allow(unsafe_code)]

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicU32, Ordering};

use crate::sys::{self, Mmap};
use crate::{Action, IoError, PacketIo};

/// Size of one UMEM chunk (one frame).
pub const FRAME_SIZE: u32 = 2048;

/// Bind mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XskMode {
    /// `XDP_COPY`: works on every driver (veth, generic XDP).
    Copy,
    /// `XDP_ZEROCOPY`: needs driver support.
    ZeroCopy,
}

/// Options of [`XskSocket::bind`].
#[derive(Clone, Copy, Debug)]
pub struct XskConfig {
    /// UMEM chunks (power of two).
    pub frames: u32,
    /// Ring sizes (power of two, at most `frames`).
    pub ring_size: u32,
    /// Copy or zero-copy.
    pub mode: XskMode,
}

impl Default for XskConfig {
    fn default() -> Self {
        Self {
            frames: 4096,
            ring_size: 2048,
            mode: XskMode::Copy,
        }
    }
}

/// One mmapped ring and our cached view of its indices.
#[derive(Debug)]
struct Ring {
    _map: Mmap,
    producer: *const AtomicU32,
    consumer: *const AtomicU32,
    flags: *const AtomicU32,
    desc: *mut u8,
    mask: u32,
    size: u32,
    /// Producer rings: our next producer index. Consumer rings: our next consumer index.
    cached: u32,
}

// SAFETY: the raw pointers point into `map`, which the Ring owns; the Ring is only used
// through &mut self of its XskSocket.
unsafe impl Send for Ring {}

impl Ring {
    fn new(
        fd: BorrowedFd<'_>,
        off: &libc::xdp_ring_offset,
        size: u32,
        elem: usize,
        pgoff: u64,
    ) -> Result<Self, IoError> {
        let desc_off = usize::try_from(off.desc).map_err(|_| IoError::Invalid("ring offset"))?;
        let len = desc_off + size as usize * elem;
        let map = Mmap::shared(fd.as_raw_fd(), len, pgoff)?;
        let base = map.ptr();
        let at = |o: u64| -> Result<*mut u8, IoError> {
            let o = usize::try_from(o).map_err(|_| IoError::Invalid("ring offset"))?;
            if o + 4 > map.len() {
                return Err(IoError::Invalid("ring offset out of mapping"));
            }
            // SAFETY: o + 4 <= mapping length, checked just above.
            Ok(unsafe { base.add(o) })
        };
        let producer = at(off.producer)?.cast::<AtomicU32>();
        let consumer = at(off.consumer)?.cast::<AtomicU32>();
        let flags = at(off.flags)?.cast::<AtomicU32>();
        let desc = at(off.desc)?;
        let mut r = Self {
            _map: map,
            producer,
            consumer,
            flags,
            desc,
            mask: size - 1,
            size,
            cached: 0,
        };
        r.cached = 0;
        Ok(r)
    }

    fn load(p: *const AtomicU32, o: Ordering) -> u32 {
        // SAFETY: p points to a 4-byte aligned u32 inside the live mapping (kernel offsets are
        // aligned); the kernel accesses it atomically too.
        unsafe { (*p).load(o) }
    }

    fn store(p: *const AtomicU32, v: u32) {
        // SAFETY: as in `load`.
        unsafe { (*p).store(v, Ordering::Release) }
    }

    fn needs_wakeup(&self) -> bool {
        Self::load(self.flags, Ordering::Relaxed) & libc::XDP_RING_NEED_WAKEUP != 0
    }

    // ---- producer side (fill, tx) ----
    fn free(&self) -> u32 {
        let cons = Self::load(self.consumer, Ordering::Acquire);
        self.size - self.cached.wrapping_sub(cons)
    }

    fn publish(&self) {
        Self::store(self.producer, self.cached);
    }

    // ---- consumer side (rx, completion) ----
    fn available(&self) -> u32 {
        Self::load(self.producer, Ordering::Acquire).wrapping_sub(self.cached)
    }

    fn release(&self) {
        Self::store(self.consumer, self.cached);
    }

    fn addr_slot(&self, idx: u32) -> *mut u64 {
        // SAFETY: (idx & mask) < size and the mapping holds `size` u64 slots after desc.
        unsafe { self.desc.cast::<u64>().add((idx & self.mask) as usize) }
    }

    fn desc_slot(&self, idx: u32) -> *mut libc::xdp_desc {
        // SAFETY: (idx & mask) < size and the mapping holds `size` xdp_desc slots after desc.
        unsafe {
            self.desc
                .cast::<libc::xdp_desc>()
                .add((idx & self.mask) as usize)
        }
    }

    fn push_addr(&mut self, addr: u64) {
        // SAFETY: the caller checked free() > 0, so this slot is owned by us until publish.
        unsafe { self.addr_slot(self.cached).write_volatile(addr) };
        self.cached = self.cached.wrapping_add(1);
    }

    fn push_desc(&mut self, addr: u64, len: u32) {
        let d = libc::xdp_desc {
            addr,
            len,
            options: 0,
        };
        // SAFETY: the caller checked free() > 0, so this slot is owned by us until publish.
        unsafe { self.desc_slot(self.cached).write_volatile(d) };
        self.cached = self.cached.wrapping_add(1);
    }

    fn pop_addr(&mut self) -> u64 {
        // SAFETY: the caller checked available() > 0: the kernel published this slot.
        let a = unsafe { self.addr_slot(self.cached).read_volatile() };
        self.cached = self.cached.wrapping_add(1);
        a
    }

    fn pop_desc(&mut self) -> libc::xdp_desc {
        // SAFETY: the caller checked available() > 0: the kernel published this slot.
        let d = unsafe { self.desc_slot(self.cached).read_volatile() };
        self.cached = self.cached.wrapping_add(1);
        d
    }
}

/// Counters of one socket.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct XskCounters {
    /// Frames received.
    pub rx: u64,
    /// Frames queued for transmission.
    pub tx: u64,
    /// Frames dropped by the callback or for lack of TX room.
    pub dropped: u64,
}

/// An AF_XDP socket bound to one queue of one interface, with its own UMEM.
#[derive(Debug)]
pub struct XskSocket {
    fd: OwnedFd,
    umem: Mmap,
    fill: Ring,
    comp: Ring,
    rx: Ring,
    tx: Ring,
    free: Vec<u64>,
    frames: u32,
    counters: XskCounters,
}

impl XskSocket {
    /// Creates the UMEM and rings and binds to `ifindex`/`queue` of the calling thread's
    /// namespace.
    pub fn bind(ifindex: u32, queue: u32, cfg: XskConfig) -> Result<Self, IoError> {
        if !cfg.frames.is_power_of_two()
            || !cfg.ring_size.is_power_of_two()
            || cfg.ring_size > cfg.frames
            || cfg.frames < 2
        {
            return Err(IoError::Invalid(
                "frames and ring_size must be powers of two",
            ));
        }
        let fd = sys::socket(libc::AF_XDP, libc::SOCK_RAW, 0)?;
        let raw = fd.as_raw_fd();
        let umem = Mmap::anonymous(cfg.frames as usize * FRAME_SIZE as usize)?;
        let reg = libc::xdp_umem_reg {
            addr: umem.ptr() as u64,
            len: umem.len() as u64,
            chunk_size: FRAME_SIZE,
            headroom: 0,
            flags: 0,
            tx_metadata_len: 0,
        };
        sys::setsockopt(raw, libc::SOL_XDP, libc::XDP_UMEM_REG, &reg, "XDP_UMEM_REG")?;
        let n = cfg.ring_size;
        sys::setsockopt(
            raw,
            libc::SOL_XDP,
            libc::XDP_UMEM_FILL_RING,
            &n,
            "FILL_RING",
        )?;
        sys::setsockopt(
            raw,
            libc::SOL_XDP,
            libc::XDP_UMEM_COMPLETION_RING,
            &n,
            "COMP_RING",
        )?;
        sys::setsockopt(raw, libc::SOL_XDP, libc::XDP_RX_RING, &n, "RX_RING")?;
        sys::setsockopt(raw, libc::SOL_XDP, libc::XDP_TX_RING, &n, "TX_RING")?;
        let zero = libc::xdp_ring_offset {
            producer: 0,
            consumer: 0,
            desc: 0,
            flags: 0,
        };
        let mut off = libc::xdp_mmap_offsets {
            rx: zero,
            tx: zero,
            fr: zero,
            cr: zero,
        };
        let got = sys::getsockopt(
            raw,
            libc::SOL_XDP,
            libc::XDP_MMAP_OFFSETS,
            &mut off,
            "OFFSETS",
        )?;
        if got != std::mem::size_of::<libc::xdp_mmap_offsets>() {
            return Err(IoError::Invalid("kernel without ring flags (pre-5.4)"));
        }
        let b = fd.as_fd();
        let dsz = std::mem::size_of::<libc::xdp_desc>();
        let fill = Ring::new(b, &off.fr, n, 8, libc::XDP_UMEM_PGOFF_FILL_RING)?;
        let comp = Ring::new(b, &off.cr, n, 8, libc::XDP_UMEM_PGOFF_COMPLETION_RING)?;
        let rx = Ring::new(b, &off.rx, n, dsz, libc::XDP_PGOFF_RX_RING as u64)?;
        let tx = Ring::new(b, &off.tx, n, dsz, libc::XDP_PGOFF_TX_RING as u64)?;
        let mut s = Self {
            fd,
            umem,
            fill,
            comp,
            rx,
            tx,
            free: Vec::with_capacity(cfg.frames as usize),
            frames: cfg.frames,
            counters: XskCounters::default(),
        };
        for i in 0..cfg.frames {
            s.free.push(u64::from(i) * u64::from(FRAME_SIZE));
        }
        // Give the kernel up to half of the chunks (bounded by the fill ring) for receiving.
        let give = (cfg.frames / 2).min(n);
        for _ in 0..give {
            if let Some(a) = s.free.pop() {
                s.fill.push_addr(a);
            }
        }
        s.fill.publish();
        let flags = match cfg.mode {
            XskMode::Copy => libc::XDP_COPY,
            XskMode::ZeroCopy => libc::XDP_ZEROCOPY,
        } | libc::XDP_USE_NEED_WAKEUP;
        let sa = libc::sockaddr_xdp {
            sxdp_family: libc::AF_XDP as u16,
            sxdp_flags: flags,
            sxdp_ifindex: ifindex,
            sxdp_queue_id: queue,
            sxdp_shared_umem_fd: 0,
        };
        sys::bind(raw, &sa, "bind(AF_XDP)")?;
        Ok(s)
    }

    /// Counters so far.
    pub fn counters(&self) -> XskCounters {
        self.counters
    }

    /// Number of UMEM chunks.
    pub fn frames(&self) -> u32 {
        self.frames
    }

    fn chunk(&mut self, addr: u64, len: usize) -> Option<&mut [u8]> {
        let start = usize::try_from(addr).ok()?;
        let end = start.checked_add(len)?;
        if end > self.umem.len() || len > FRAME_SIZE as usize {
            return None;
        }
        // SAFETY: [start, end) lies inside the UMEM mapping (checked above); the chunk is owned
        // by userspace at this point (taken from the rx ring or the free list), and the
        // returned borrow is tied to &mut self so no other reference to it exists.
        Some(unsafe { std::slice::from_raw_parts_mut(self.umem.ptr().add(start), len) })
    }

    /// Moves completed TX chunks back to the free list, then refills the fill ring from it.
    fn recycle(&mut self) {
        let done = self.comp.available();
        for _ in 0..done {
            let a = self.comp.pop_addr();
            // The free list has capacity for every chunk: this never reallocates.
            self.free.push(a & !(u64::from(FRAME_SIZE) - 1));
        }
        if done > 0 {
            self.comp.release();
        }
        // Keep about half of the chunks for TX; feed the rest to the fill ring.
        let keep = (self.frames / 4) as usize;
        let mut room = self.fill.free();
        let mut pushed = false;
        while room > 0 && self.free.len() > keep {
            if let Some(a) = self.free.pop() {
                self.fill.push_addr(a);
                room -= 1;
                pushed = true;
            }
        }
        if pushed {
            self.fill.publish();
        }
    }
}

impl PacketIo for XskSocket {
    fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    fn poll(&mut self, timeout_ms: i32) -> Result<bool, IoError> {
        if self.rx.available() > 0 {
            return Ok(true);
        }
        if self.fill.needs_wakeup() {
            sys::kick_rx(self.fd.as_raw_fd());
        }
        sys::poll_in(self.fd.as_raw_fd(), timeout_ms)
    }

    fn recv_batch<F>(&mut self, max: usize, mut f: F) -> Result<usize, IoError>
    where
        F: FnMut(&mut [u8], usize) -> Action,
    {
        self.recycle();
        let n = (self.rx.available() as usize).min(max);
        let mut tx_queued = false;
        for _ in 0..n {
            let d = self.rx.pop_desc();
            let len = d.len as usize;
            let base = d.addr & !(u64::from(FRAME_SIZE) - 1);
            let off = (d.addr - base) as usize;
            let action = match self.chunk(base, FRAME_SIZE as usize) {
                Some(buf) if off + len <= buf.len() => {
                    // The callback sees the frame at the start of the slice (headroom is 0).
                    f(&mut buf[off..], len)
                }
                _ => Action::Drop,
            };
            self.counters.rx += 1;
            match action {
                Action::Tx(out_len)
                    if out_len > 0
                        && off + out_len <= FRAME_SIZE as usize
                        && self.tx.free() > 0 =>
                {
                    self.tx.push_desc(d.addr, out_len as u32);
                    self.counters.tx += 1;
                    tx_queued = true;
                }
                _ => {
                    self.counters.dropped += 1;
                    self.free.push(base);
                }
            }
        }
        if n > 0 {
            self.rx.release();
        }
        if tx_queued {
            self.tx.publish();
            sys::kick_tx(self.fd.as_raw_fd())?;
        }
        self.recycle();
        Ok(n)
    }

    fn send_batch(&mut self, frames: &[&[u8]]) -> Result<usize, IoError> {
        self.recycle();
        let mut sent = 0;
        for fr in frames {
            if fr.is_empty() || fr.len() > FRAME_SIZE as usize || self.tx.free() == 0 {
                break;
            }
            let Some(a) = self.free.pop() else { break };
            match self.chunk(a, fr.len()) {
                Some(buf) => buf.copy_from_slice(fr),
                None => {
                    self.free.push(a);
                    break;
                }
            }
            self.tx.push_desc(a, fr.len() as u32);
            sent += 1;
        }
        if sent > 0 {
            self.tx.publish();
            self.counters.tx += sent as u64;
            sys::kick_tx(self.fd.as_raw_fd())?;
        }
        Ok(sent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_geometry_is_refused_before_any_syscall() {
        for (frames, ring_size) in [(100, 64), (64, 48), (64, 128), (1, 1)] {
            let cfg = XskConfig {
                frames,
                ring_size,
                mode: XskMode::Copy,
            };
            assert!(
                matches!(XskSocket::bind(1, 0, cfg), Err(IoError::Invalid(_))),
                "{frames}/{ring_size}"
            );
        }
    }
}
