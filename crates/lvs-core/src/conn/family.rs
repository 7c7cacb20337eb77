//! Address families of the connection table.
//!
//! IPv4 and IPv6 connections live in two tables with their own entry
//! layouts, so an IPv4 entry carries 4-byte addresses (see
//! [`super::table`] for the byte budget). Code that is the same for both
//! families is generic over [`Family`].

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::addr::Af;

use super::hash::KeyHasher;
use super::table::Table;
use super::{ConnState, Timeouts};

/// One address family of the connection table.
pub trait Family: fmt::Debug + Copy + Sized + 'static {
    /// Compact address representation.
    type Addr: Copy + Eq + Default + fmt::Debug;

    /// The family.
    const AF: Af;

    /// Convert an address of this family (`None` for the other family).
    fn from_ip(ip: &IpAddr) -> Option<Self::Addr>;

    /// Back to a standard address.
    fn to_ip(a: Self::Addr) -> IpAddr;

    /// Feed two addresses of a key to a key hasher (IPv4: both in one
    /// 64-bit word, one multiply).
    fn hash_addrs(h: &mut KeyHasher, a: Self::Addr, b: Self::Addr);

    /// The "address" a fwmark template stores in place of the virtual
    /// address: the mark in network order in the first 32 bits, the rest
    /// zero (the kernel's `union nf_inet_addr fwmark = { .ip = htonl(mark) }`).
    fn fwmark_addr(mark: u32) -> Self::Addr;

    /// Persistence granularity: AND with an IPv4 netmask (host order) or
    /// keep an IPv6 prefix of `netmask` bits.
    fn mask(a: Self::Addr, netmask: u32) -> Self::Addr;

    /// This family's table.
    fn table(cs: &ConnState) -> &Table<Self>;

    /// This family's table, mutably.
    fn table_mut(cs: &mut ConnState) -> &mut Table<Self>;

    /// This family's table, mutably, with the timeouts (split borrow: the
    /// state machine reads a timeout while it holds the entry).
    fn table_timeouts(cs: &mut ConnState) -> (&mut Table<Self>, &Timeouts);

    /// FULLNAT local addresses of this family.
    fn locals(cs: &ConnState) -> &[Self::Addr];
}

/// IPv4: addresses as host-order `u32`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct V4;

/// IPv6: addresses as four host-order 32-bit words, most significant first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct V6;

impl Family for V4 {
    type Addr = u32;
    const AF: Af = Af::Inet;

    #[inline]
    fn from_ip(ip: &IpAddr) -> Option<u32> {
        match ip {
            IpAddr::V4(a) => Some(u32::from(*a)),
            IpAddr::V6(_) => None,
        }
    }

    #[inline]
    fn to_ip(a: u32) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(a))
    }

    #[inline]
    fn hash_addrs(h: &mut KeyHasher, a: u32, b: u32) {
        h.write((u64::from(a) << 32) | u64::from(b));
    }

    #[inline]
    fn fwmark_addr(mark: u32) -> u32 {
        mark
    }

    #[inline]
    fn mask(a: u32, netmask: u32) -> u32 {
        a & netmask
    }

    #[inline]
    fn table(cs: &ConnState) -> &Table<V4> {
        &cs.t4
    }

    #[inline]
    fn table_mut(cs: &mut ConnState) -> &mut Table<V4> {
        &mut cs.t4
    }

    #[inline]
    fn table_timeouts(cs: &mut ConnState) -> (&mut Table<V4>, &Timeouts) {
        (&mut cs.t4, &cs.timeouts)
    }

    fn locals(cs: &ConnState) -> &[u32] {
        &cs.fullnat.v4
    }
}

impl Family for V6 {
    type Addr = [u32; 4];
    const AF: Af = Af::Inet6;

    #[inline]
    fn from_ip(ip: &IpAddr) -> Option<[u32; 4]> {
        match ip {
            IpAddr::V6(a) => Some(words(u128::from(*a))),
            IpAddr::V4(_) => None,
        }
    }

    #[inline]
    fn to_ip(a: [u32; 4]) -> IpAddr {
        IpAddr::V6(Ipv6Addr::from(unwords(a)))
    }

    #[inline]
    fn hash_addrs(h: &mut KeyHasher, a: [u32; 4], b: [u32; 4]) {
        for x in [a, b] {
            h.write((u64::from(x[0]) << 32) | u64::from(x[1]));
            h.write((u64::from(x[2]) << 32) | u64::from(x[3]));
        }
    }

    #[inline]
    fn fwmark_addr(mark: u32) -> [u32; 4] {
        [mark, 0, 0, 0]
    }

    fn mask(a: [u32; 4], netmask: u32) -> [u32; 4] {
        let plen = netmask.min(128);
        let m = if plen == 0 {
            0
        } else {
            u128::MAX << (128 - plen)
        };
        words(unwords(a) & m)
    }

    #[inline]
    fn table(cs: &ConnState) -> &Table<V6> {
        &cs.t6
    }

    #[inline]
    fn table_mut(cs: &mut ConnState) -> &mut Table<V6> {
        &mut cs.t6
    }

    #[inline]
    fn table_timeouts(cs: &mut ConnState) -> (&mut Table<V6>, &Timeouts) {
        (&mut cs.t6, &cs.timeouts)
    }

    fn locals(cs: &ConnState) -> &[[u32; 4]] {
        &cs.fullnat.v6
    }
}

#[inline]
fn words(x: u128) -> [u32; 4] {
    [
        (x >> 96) as u32,
        (x >> 64) as u32,
        (x >> 32) as u32,
        x as u32,
    ]
}

#[inline]
fn unwords(w: [u32; 4]) -> u128 {
    (u128::from(w[0]) << 96)
        | (u128::from(w[1]) << 64)
        | (u128::from(w[2]) << 32)
        | u128::from(w[3])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let a: IpAddr = "10.1.2.3".parse().unwrap();
        assert_eq!(V4::to_ip(V4::from_ip(&a).unwrap()), a);
        assert!(V6::from_ip(&a).is_none());
        let b: IpAddr = "2001:db8::1:2".parse().unwrap();
        assert_eq!(V6::to_ip(V6::from_ip(&b).unwrap()), b);
        assert!(V4::from_ip(&b).is_none());
    }

    #[test]
    fn masks_and_fwmark() {
        let a = V4::from_ip(&"10.1.2.3".parse().unwrap()).unwrap();
        assert_eq!(V4::to_ip(V4::mask(a, 0xffff_ff00)).to_string(), "10.1.2.0");
        let b = V6::from_ip(&"2001:db8:1:2::5".parse().unwrap()).unwrap();
        assert_eq!(V6::to_ip(V6::mask(b, 48)).to_string(), "2001:db8:1::");
        assert_eq!(V6::mask(b, 128), b);
        assert_eq!(V6::mask(b, 0), [0; 4]);
        assert_eq!(V4::to_ip(V4::fwmark_addr(1)).to_string(), "0.0.0.1");
        assert_eq!(V6::to_ip(V6::fwmark_addr(1)).to_string(), "0:1::");
    }
}
