//! A frame buffer with headroom, so that a packet can grow at the front
//! (tunnel encapsulation) or be replaced (an ICMP answer) without
//! allocating.
//!
//! Contract: a [`Frame`] owns one buffer allocated once, at construction;
//! [`Frame::load`] copies a received frame at offset [`HEADROOM`] and every
//! later change (the data path rewriting, prepending or replacing bytes)
//! stays inside that buffer. The valid bytes are [`Frame::data`].

/// Bytes kept free before a loaded frame: enough for the largest
/// encapsulation (IPv6 40 + UDP 8 + GUE with remcsum 12) plus a new
/// Ethernet header, with room to spare.
pub const HEADROOM: usize = 128;

/// Default room after the headroom: a 9000-byte jumbo frame with two VLAN
/// tags.
pub const DEFAULT_CAPACITY: usize = 9022;

/// A frame buffer (see the module docs).
#[derive(Debug, Clone)]
pub struct Frame {
    buf: Box<[u8]>,
    start: usize,
    len: usize,
    /// Firewall mark given by the shell (0: none; see [`Frame::set_mark`]).
    mark: u32,
}

/// The frame does not fit the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("frame of {len} bytes does not fit a buffer of {capacity}")]
pub struct TooBig {
    /// Length offered.
    pub len: usize,
    /// Room available.
    pub capacity: usize,
}

impl Default for Frame {
    fn default() -> Self {
        Frame::with_capacity(DEFAULT_CAPACITY)
    }
}

impl Frame {
    /// An empty frame that can hold `capacity` bytes after [`HEADROOM`].
    /// Capacities under 1514 are raised to 1514 so that an ICMP answer
    /// (at most 14 + 1280 bytes) always fits.
    pub fn with_capacity(capacity: usize) -> Frame {
        let capacity = capacity.max(1514);
        Frame {
            buf: vec![0; HEADROOM + capacity].into_boxed_slice(),
            start: HEADROOM,
            len: 0,
            mark: 0,
        }
    }

    /// A frame holding a copy of `bytes` (allocates: for tests and tools).
    pub fn from_bytes(bytes: &[u8]) -> Frame {
        let mut f = Frame::with_capacity(bytes.len().max(DEFAULT_CAPACITY));
        // Cannot fail: the capacity was sized for it.
        let _ = f.load(bytes);
        f
    }

    /// Room after the headroom.
    pub fn capacity(&self) -> usize {
        self.buf.len() - HEADROOM
    }

    /// Replaces the contents with `bytes`, placed after the headroom.
    pub fn load(&mut self, bytes: &[u8]) -> Result<(), TooBig> {
        if bytes.len() > self.capacity() {
            return Err(TooBig {
                len: bytes.len(),
                capacity: self.capacity(),
            });
        }
        self.buf[HEADROOM..HEADROOM + bytes.len()].copy_from_slice(bytes);
        self.start = HEADROOM;
        self.len = bytes.len();
        self.mark = 0;
        Ok(())
    }

    /// Sets the packet's netfilter mark (`skb->mark`, e.g. read from an
    /// NFQUEUE message), until the next [`Frame::load`]. A non-zero mark is
    /// the packet's fwmark for the service lookup, before the
    /// configuration's `fwmark_rules`.
    pub fn set_mark(&mut self, mark: u32) {
        self.mark = mark;
    }

    /// The netfilter mark given by [`Frame::set_mark`] (0: none).
    pub fn mark(&self) -> u32 {
        self.mark
    }

    /// The frame's bytes.
    pub fn data(&self) -> &[u8] {
        &self.buf[self.start..self.start + self.len]
    }

    /// The frame's bytes, to change them in place.
    pub fn data_mut(&mut self) -> &mut [u8] {
        &mut self.buf[self.start..self.start + self.len]
    }

    /// Length of the frame.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the frame is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Offset of the frame's first byte in the buffer.
    pub(crate) fn start(&self) -> usize {
        self.start
    }

    /// The whole buffer, headroom included.
    pub(crate) fn raw_mut(&mut self) -> &mut [u8] {
        &mut self.buf
    }

    /// Makes `buf[start..start + len]` the frame. The caller keeps it
    /// inside the buffer.
    pub(crate) fn set_window(&mut self, start: usize, len: usize) {
        debug_assert!(start + len <= self.buf.len());
        self.start = start;
        self.len = len;
    }
}
