//! Address families and the address folds the kernel's hashing uses.

use std::net::IpAddr;

/// Address family of a service or destination (`AF_INET` / `AF_INET6`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Af {
    /// IPv4.
    Inet,
    /// IPv6.
    Inet6,
}

impl Af {
    /// Family of an address.
    pub fn of(addr: &IpAddr) -> Af {
        match addr {
            IpAddr::V4(_) => Af::Inet,
            IpAddr::V6(_) => Af::Inet6,
        }
    }
}

/// The kernel's `addr_fold` in host byte order: the IPv4 address itself, or
/// the XOR of the four 32-bit words of an IPv6 address (as used by the sh,
/// dh and mh schedulers: `ntohl(addr_fold)`).
pub fn addr_fold(addr: &IpAddr) -> u32 {
    match addr {
        IpAddr::V4(a) => u32::from(*a),
        IpAddr::V6(a) => {
            let o = a.octets();
            let w = |i: usize| u32::from_be_bytes([o[i], o[i + 1], o[i + 2], o[i + 3]]);
            w(0) ^ w(4) ^ w(8) ^ w(12)
        }
    }
}

/// Apply a persistence granularity to a client address: an IPv4 netmask
/// (host order, e.g. `0xffff_ff00`) or an IPv6 prefix length.
pub fn mask_addr(addr: &IpAddr, netmask: u32) -> IpAddr {
    match addr {
        IpAddr::V4(a) => IpAddr::V4((u32::from(*a) & netmask).into()),
        IpAddr::V6(a) => {
            let plen = netmask.min(128);
            let m: u128 = if plen == 0 {
                0
            } else {
                u128::MAX << (128 - plen)
            };
            IpAddr::V6((u128::from(*a) & m).into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fold_v6_xors_words() {
        let a: IpAddr = "2001:db8::1".parse().unwrap_or(IpAddr::V4(0.into()));
        assert_eq!(addr_fold(&a), 0x2001_0db8 ^ 1);
        let b: IpAddr = "10.1.2.3".parse().unwrap_or(IpAddr::V4(0.into()));
        assert_eq!(addr_fold(&b), 0x0a01_0203);
    }

    #[test]
    fn masks() {
        let a: IpAddr = "10.1.2.3".parse().unwrap_or(IpAddr::V4(0.into()));
        assert_eq!(mask_addr(&a, 0xffff_ff00).to_string(), "10.1.2.0");
        let b: IpAddr = "2001:db8:1:2::5".parse().unwrap_or(IpAddr::V4(0.into()));
        assert_eq!(mask_addr(&b, 48).to_string(), "2001:db8:1::");
        assert_eq!(mask_addr(&b, 128), b);
    }
}
