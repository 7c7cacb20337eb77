//! A netfilter queue (`nfnetlink_queue`) reader: packets a netfilter rule
//! (`-j NFQUEUE --queue-num N`) hands to user space, with their mark and
//! input interface, and the verdicts that give them back to (or take them
//! from) the kernel.
//!
//! Contract:
//! - [`NfQueue::bind`] opens a `NETLINK_NETFILTER` socket in the calling
//!   thread's namespace and binds queue `num` in full-copy mode (up to
//!   65535 bytes of the packet, from its IP header). No `GSO` flag: the
//!   kernel segments large packets and completes partial checksums before
//!   queueing them, so what is read is a wire-ready IP packet. The queue is
//!   bound with `FAIL_OPEN`: when it is full the kernel accepts packets
//!   instead of dropping them (the kernel's stack then handles them as if
//!   lvsd were not there). Another process already bound to the number
//!   makes `bind` fail (`EBUSY`).
//! - [`NfQueue::recv`] reads one datagram without blocking and calls the
//!   closure for each packet message in it ([`Queued`]: id, mark, input
//!   interface, source MAC, link protocol, IP packet). Every packet read
//!   must get a verdict, else it stays queued (up to the queue's length,
//!   1024 by default) until the socket closes, which drops them.
//! - [`NfQueue::verdict`] gives one packet its verdict;
//!   [`NfQueue::verdict_batch`] gives every packet up to `id` that has none
//!   yet the same verdict, in one message (the kernel's batch verdict): the
//!   caller sends the individual ones first.
//!
//! Cost: one netlink datagram (a copy of the packet) per packet read, and
//! one message per verdict or batch; no allocation after `bind`.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use crate::SysError;

const NETLINK_NETFILTER: i32 = 12;
const NFNL_SUBSYS_QUEUE: u16 = 3;
const NFQNL_MSG_PACKET: u16 = 0;
const NFQNL_MSG_VERDICT: u16 = 1;
const NFQNL_MSG_CONFIG: u16 = 2;
const NFQNL_MSG_VERDICT_BATCH: u16 = 3;
const NLMSG_ERROR: u16 = 2;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_ACK: u16 = 4;

const NFQA_CFG_CMD: u16 = 1;
const NFQA_CFG_PARAMS: u16 = 2;
const NFQA_CFG_MASK: u16 = 4;
const NFQA_CFG_FLAGS: u16 = 5;
const NFQNL_CFG_CMD_BIND: u8 = 1;
const NFQNL_COPY_PACKET: u8 = 2;
const NFQA_CFG_F_FAIL_OPEN: u32 = 1;

const NFQA_PACKET_HDR: u16 = 1;
const NFQA_VERDICT_HDR: u16 = 2;
const NFQA_MARK: u16 = 3;
const NFQA_IFINDEX_INDEV: u16 = 5;
const NFQA_HWADDR: u16 = 9;
const NFQA_PAYLOAD: u16 = 10;

/// A verdict on a queued packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The kernel forgets the packet (`NF_DROP`).
    Drop,
    /// The kernel continues with it (`NF_ACCEPT`).
    Accept,
}

impl Verdict {
    fn code(self) -> u32 {
        match self {
            Verdict::Drop => 0,
            Verdict::Accept => 1,
        }
    }
}

/// One queued packet, borrowed from the receive buffer.
#[derive(Debug, Clone, Copy)]
pub struct Queued<'a> {
    /// The kernel's id of the packet in the queue (for the verdict).
    pub id: u32,
    /// Link-layer protocol (ethertype: 0x0800 IPv4, 0x86dd IPv6).
    pub hw_protocol: u16,
    /// The packet's mark (`skb->mark`; 0 when none).
    pub mark: u32,
    /// Input interface (0 when none, e.g. locally generated).
    pub indev: u32,
    /// The source link-layer address, when the input device has one.
    pub src_mac: Option<[u8; 6]>,
    /// The packet from its network header.
    pub payload: &'a [u8],
}

/// A bound netfilter queue.
#[derive(Debug)]
pub struct NfQueue {
    fd: OwnedFd,
    num: u16,
    seq: u32,
    buf: Vec<u8>,
    msg: Vec<u8>,
}

fn io(what: &str) -> SysError {
    SysError::Io(what.into(), std::io::Error::last_os_error())
}

fn put_attr(m: &mut Vec<u8>, ty: u16, data: &[u8]) {
    let len = 4 + data.len();
    m.extend_from_slice(&(len as u16).to_ne_bytes());
    m.extend_from_slice(&ty.to_ne_bytes());
    m.extend_from_slice(data);
    while !m.len().is_multiple_of(4) {
        m.push(0);
    }
}

impl NfQueue {
    /// Binds queue `num` (see the module docs).
    #[allow(unsafe_code)]
    pub fn bind(num: u16) -> Result<Self, SysError> {
        // SAFETY: plain syscall with integer arguments.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                NETLINK_NETFILTER,
            )
        };
        if fd < 0 {
            return Err(io("socket(NETLINK_NETFILTER)"));
        }
        // SAFETY: fd was just returned by socket() and is owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: sockaddr_nl is plain old data: all-zero is a valid value.
        let mut sa: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        sa.nl_family = libc::AF_NETLINK as u16;
        // SAFETY: sa is a live sockaddr_nl of the size passed.
        let rc = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&sa as *const libc::sockaddr_nl).cast(),
                std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(io("bind(NETLINK_NETFILTER)"));
        }
        let mut q = NfQueue {
            fd,
            num,
            seq: 0,
            buf: vec![0; 1 << 17],
            msg: Vec::with_capacity(64),
        };
        q.grow_rcvbuf(8 << 20);
        // Bind, then full copies, then fail-open.
        q.start(NFQNL_MSG_CONFIG, NLM_F_ACK);
        put_attr(&mut q.msg, NFQA_CFG_CMD, &[NFQNL_CFG_CMD_BIND, 0, 0, 0]);
        q.config()?;
        q.start(NFQNL_MSG_CONFIG, NLM_F_ACK);
        let mut params = [0u8; 5];
        params[..4].copy_from_slice(&0xffffu32.to_be_bytes());
        params[4] = NFQNL_COPY_PACKET;
        put_attr(&mut q.msg, NFQA_CFG_PARAMS, &params);
        q.config()?;
        q.start(NFQNL_MSG_CONFIG, NLM_F_ACK);
        put_attr(
            &mut q.msg,
            NFQA_CFG_FLAGS,
            &NFQA_CFG_F_FAIL_OPEN.to_be_bytes(),
        );
        put_attr(
            &mut q.msg,
            NFQA_CFG_MASK,
            &NFQA_CFG_F_FAIL_OPEN.to_be_bytes(),
        );
        q.config()?;
        Ok(q)
    }

    /// The queue number.
    pub fn num(&self) -> u16 {
        self.num
    }

    #[allow(unsafe_code)]
    fn grow_rcvbuf(&self, bytes: i32) {
        for opt in [libc::SO_RCVBUFFORCE, libc::SO_RCVBUF] {
            // SAFETY: bytes is a live i32 of the size passed, only read.
            let rc = unsafe {
                libc::setsockopt(
                    self.fd.as_raw_fd(),
                    libc::SOL_SOCKET,
                    opt,
                    (&bytes as *const i32).cast(),
                    std::mem::size_of::<i32>() as libc::socklen_t,
                )
            };
            if rc == 0 {
                return;
            }
        }
    }

    /// Starts a message of the queue subsystem in `msg`.
    fn start(&mut self, ty: u16, flags: u16) {
        self.seq = self.seq.wrapping_add(1);
        self.msg.clear();
        self.msg.extend_from_slice(&0u32.to_ne_bytes());
        self.msg
            .extend_from_slice(&((NFNL_SUBSYS_QUEUE << 8) | ty).to_ne_bytes());
        self.msg
            .extend_from_slice(&(NLM_F_REQUEST | flags).to_ne_bytes());
        self.msg.extend_from_slice(&self.seq.to_ne_bytes());
        self.msg.extend_from_slice(&0u32.to_ne_bytes());
        // nfgenmsg: family AF_UNSPEC, version 0, resource id (queue).
        self.msg.extend_from_slice(&[0, 0]);
        self.msg.extend_from_slice(&self.num.to_be_bytes());
    }

    #[allow(unsafe_code)]
    fn send_msg(&mut self) -> Result<(), SysError> {
        let len = self.msg.len() as u32;
        self.msg[..4].copy_from_slice(&len.to_ne_bytes());
        // SAFETY: msg is a live buffer of msg.len() bytes, only read by the kernel.
        let n = unsafe {
            libc::send(
                self.fd.as_raw_fd(),
                self.msg.as_ptr().cast(),
                self.msg.len(),
                0,
            )
        };
        if n < 0 {
            return Err(io("send(nfqueue)"));
        }
        Ok(())
    }

    /// Sends a configuration message and waits for its acknowledgement.
    fn config(&mut self) -> Result<(), SysError> {
        self.send_msg()?;
        let seq = self.seq;
        loop {
            let n = self.recv_raw(0)?.unwrap_or(0);
            let mut off = 0;
            while off + 16 <= n {
                let b = &self.buf[off..n];
                let len = u32::from_ne_bytes([b[0], b[1], b[2], b[3]]) as usize;
                let ty = u16::from_ne_bytes([b[4], b[5]]);
                let mseq = u32::from_ne_bytes([b[8], b[9], b[10], b[11]]);
                if len < 16 || len > b.len() {
                    return Err(SysError::Malformed("netlink length"));
                }
                if ty == NLMSG_ERROR && mseq == seq && len >= 20 {
                    let code = i32::from_ne_bytes([b[16], b[17], b[18], b[19]]);
                    return if code == 0 {
                        Ok(())
                    } else {
                        Err(SysError::Netlink(-code))
                    };
                }
                off += (len + 3) & !3;
            }
        }
    }

    #[allow(unsafe_code)]
    fn recv_raw(&mut self, flags: i32) -> Result<Option<usize>, SysError> {
        loop {
            // SAFETY: buf is a live, writable buffer of buf.len() bytes.
            let n = unsafe {
                libc::recv(
                    self.fd.as_raw_fd(),
                    self.buf.as_mut_ptr().cast(),
                    self.buf.len(),
                    flags,
                )
            };
            if n < 0 {
                let e = std::io::Error::last_os_error();
                return match e.raw_os_error() {
                    Some(libc::EINTR) => continue,
                    Some(libc::EAGAIN) => Ok(None),
                    Some(libc::ENOBUFS) => Err(SysError::Overrun),
                    _ => Err(SysError::Io("recv(nfqueue)".into(), e)),
                };
            }
            return Ok(Some(n as usize));
        }
    }

    /// Reads one datagram without blocking and calls `f` for each queued
    /// packet in it; returns how many packets were read (0: nothing
    /// waiting). Malformed messages are skipped (their packets, if any,
    /// keep waiting for a verdict the caller cannot give: the kernel
    /// accepts nothing it did not parse, so none are expected).
    pub fn recv(&mut self, mut f: impl FnMut(&Queued<'_>)) -> Result<usize, SysError> {
        let Some(n) = self.recv_raw(libc::MSG_DONTWAIT)? else {
            return Ok(0);
        };
        let mut count = 0;
        let mut off = 0;
        while off + 20 <= n {
            let b = &self.buf[off..n];
            let len = u32::from_ne_bytes([b[0], b[1], b[2], b[3]]) as usize;
            if len < 16 || len > b.len() {
                break;
            }
            let ty = u16::from_ne_bytes([b[4], b[5]]);
            if ty == (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET
                && let Some(q) = parse_packet(&b[20..len])
            {
                f(&q);
                count += 1;
            }
            off += (len + 3) & !3;
        }
        Ok(count)
    }

    /// Gives packet `id` its verdict.
    pub fn verdict(&mut self, id: u32, verdict: Verdict) -> Result<(), SysError> {
        self.verdict_msg(NFQNL_MSG_VERDICT, id, verdict)
    }

    /// Gives every packet up to `id` without a verdict yet this verdict.
    pub fn verdict_batch(&mut self, id: u32, verdict: Verdict) -> Result<(), SysError> {
        self.verdict_msg(NFQNL_MSG_VERDICT_BATCH, id, verdict)
    }

    fn verdict_msg(&mut self, ty: u16, id: u32, verdict: Verdict) -> Result<(), SysError> {
        self.start(ty, 0);
        let mut hdr = [0u8; 8];
        hdr[..4].copy_from_slice(&verdict.code().to_be_bytes());
        hdr[4..].copy_from_slice(&id.to_be_bytes());
        put_attr(&mut self.msg, NFQA_VERDICT_HDR, &hdr);
        self.send_msg()
    }
}

impl AsFd for NfQueue {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// Parses the attributes of a packet message (after its nfgenmsg).
fn parse_packet(mut a: &[u8]) -> Option<Queued<'_>> {
    let mut id = None;
    let mut q = Queued {
        id: 0,
        hw_protocol: 0,
        mark: 0,
        indev: 0,
        src_mac: None,
        payload: &[],
    };
    while a.len() >= 4 {
        let len = usize::from(u16::from_ne_bytes([a[0], a[1]]));
        let ty = u16::from_ne_bytes([a[2], a[3]]) & 0x3fff;
        if len < 4 || len > a.len() {
            return None;
        }
        let d = &a[4..len];
        let be32 = |d: &[u8]| {
            d.get(..4)
                .map(|x| u32::from_be_bytes([x[0], x[1], x[2], x[3]]))
        };
        match ty {
            NFQA_PACKET_HDR if d.len() >= 6 => {
                id = be32(d);
                q.hw_protocol = u16::from_be_bytes([d[4], d[5]]);
            }
            NFQA_MARK => q.mark = be32(d)?,
            NFQA_IFINDEX_INDEV => q.indev = be32(d)?,
            NFQA_HWADDR if d.len() >= 10 && u16::from_be_bytes([d[0], d[1]]) == 6 => {
                let mut mac = [0u8; 6];
                mac.copy_from_slice(&d[4..10]);
                q.src_mac = Some(mac);
            }
            NFQA_PAYLOAD => q.payload = d,
            _ => {}
        }
        a = &a[((len + 3) & !3).min(a.len())..];
    }
    q.id = id?;
    Some(q)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(ty: u16, data: &[u8]) -> Vec<u8> {
        let mut m = Vec::new();
        put_attr(&mut m, ty, data);
        m
    }

    #[test]
    fn packet_message_attributes_are_read() {
        let mut m = Vec::new();
        m.extend(attr(NFQA_PACKET_HDR, &[0, 0, 1, 2, 0x08, 0x00, 0, 0]));
        m.extend(attr(NFQA_MARK, &10u32.to_be_bytes()));
        m.extend(attr(NFQA_IFINDEX_INDEV, &7u32.to_be_bytes()));
        m.extend(attr(NFQA_HWADDR, &[0, 6, 0, 0, 2, 1, 2, 3, 4, 5, 0, 0]));
        m.extend(attr(NFQA_PAYLOAD, &[0x45, 0, 0, 20, 9]));
        let q = parse_packet(&m).unwrap();
        assert_eq!(q.id, 0x102);
        assert_eq!(q.hw_protocol, 0x0800);
        assert_eq!(q.mark, 10);
        assert_eq!(q.indev, 7);
        assert_eq!(q.src_mac, Some([2, 1, 2, 3, 4, 5]));
        assert_eq!(q.payload, &[0x45, 0, 0, 20, 9]);
    }

    #[test]
    fn a_message_without_packet_header_is_refused() {
        let m = attr(NFQA_MARK, &10u32.to_be_bytes());
        assert!(parse_packet(&m).is_none());
        // A truncated attribute stops the parse.
        let mut m = attr(NFQA_PACKET_HDR, &[0, 0, 0, 1, 0x86, 0xdd, 0, 0]);
        m.extend_from_slice(&[40, 0, 10, 0]);
        assert!(parse_packet(&m).is_none());
    }
}
