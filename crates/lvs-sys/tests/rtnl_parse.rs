//! Netlink parsers on arbitrary and hand-built input (no privileges).

use lvs_sys::rtnl::{parse_addr, parse_link, parse_neigh, parse_route};
use proptest::prelude::*;

proptest! {
    #[test]
    fn parsers_never_panic(b in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = parse_link(&b);
        let _ = parse_addr(&b);
        let _ = parse_route(&b);
        let _ = parse_neigh(&b);
    }
}

fn attr(ty: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&((4 + payload.len()) as u16).to_ne_bytes());
    v.extend_from_slice(&ty.to_ne_bytes());
    v.extend_from_slice(payload);
    while v.len() % 4 != 0 {
        v.push(0);
    }
    v
}

#[test]
fn neighbour_message_by_hand() {
    // ndmsg: AF_INET, ifindex 3, state REACHABLE (2), then NDA_DST and NDA_LLADDR.
    let mut b = vec![2, 0, 0, 0];
    b.extend_from_slice(&3u32.to_ne_bytes());
    b.extend_from_slice(&2u16.to_ne_bytes());
    b.extend_from_slice(&[0, 0]);
    b.extend(attr(1, &[10, 0, 0, 9]));
    b.extend(attr(2, &[2, 0, 0, 0, 0, 9]));
    let n = parse_neigh(&b).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(n.index, 3);
    assert_eq!(n.addr, std::net::IpAddr::from([10, 0, 0, 9]));
    assert_eq!(n.lladdr.as_deref(), Some(&[2, 0, 0, 0, 0, 9][..]));
    assert!(n.is_usable());
    // An attribute claiming more bytes than there are is rejected, not trusted.
    let mut bad = b.clone();
    let at = 12;
    bad[at..at + 2].copy_from_slice(&200u16.to_ne_bytes());
    assert!(parse_neigh(&bad).is_err());
    // A 5-byte IPv4 address is rejected.
    let mut odd = b[..12].to_vec();
    odd.extend(attr(1, &[10, 0, 0, 9, 9]));
    assert!(parse_neigh(&odd).is_err());
}
