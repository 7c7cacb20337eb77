//! Linux system interfaces for the lvs-rs director.
//!
//! * [`netns`]: named network namespaces with a delete-on-drop guard, and running code inside
//!   one on a dedicated thread.
//! * [`rtnl`]: rtnetlink dumps of links, addresses, routes and neighbours of the calling
//!   thread's namespace, a neighbour-resolution trigger, and a monitor of their changes
//!   (blocking or non-blocking reads, overruns reported).
//! * [`addr`]: adding and removing interface addresses (rtnetlink), for VRRP's virtual IPs.
//! * [`rx6`]: receiving IPv6 datagrams with their destination and hop limit (VRRP over IPv6).
//! * [`sysctl`]: reading and writing `/proc/sys` keys.
//! * [`nfqueue`]: packets queued by netfilter (`NFQUEUE`) with their mark, and their verdicts.
//!
//! The kernel keeps owning addresses, ARP/ND and routing; the data plane reads them from here.

pub mod addr;
pub mod netns;
pub mod nfqueue;
pub mod rtnl;
pub mod rx6;
pub mod sysctl;

pub use netns::NetNs;

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
pub enum SysError {
    /// A system call or file operation failed.
    #[error("{0}: {1}")]
    Io(String, #[source] std::io::Error),
    /// An external command (`ip`) failed.
    #[error("command failed: {0}")]
    Command(String),
    /// A name given by the caller is not acceptable.
    #[error("invalid name: {0:?}")]
    InvalidName(String),
    /// The kernel answered with a netlink error.
    #[error("netlink error {0}")]
    Netlink(i32),
    /// A netlink message could not be parsed.
    #[error("malformed netlink message: {0}")]
    Malformed(&'static str),
    /// A monitor socket's receive buffer overflowed (`ENOBUFS`): notifications were lost, and
    /// the state must be dumped again.
    #[error("netlink notifications lost (receive buffer overrun)")]
    Overrun,
}
