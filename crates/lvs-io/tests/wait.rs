//! `wait_readable`: one wait over several descriptors wakes on any of them.

use std::os::fd::AsFd;
use std::os::unix::net::UnixDatagram;

use lvs_io::{IoError, WAIT_MAX, wait_readable};

#[test]
fn nothing_pending_is_not_ready() {
    let (a, _a2) = UnixDatagram::pair().unwrap();
    let (b, _b2) = UnixDatagram::pair().unwrap();
    assert!(!wait_readable([a.as_fd(), b.as_fd()], 0).unwrap());
    assert!(!wait_readable([], 0).unwrap());
}

#[test]
fn a_datagram_on_the_last_descriptor_is_seen() {
    let pairs: Vec<_> = (0..5).map(|_| UnixDatagram::pair().unwrap()).collect();
    pairs[4].1.send(b"x").unwrap();
    assert!(wait_readable(pairs.iter().map(|p| p.0.as_fd()), 0).unwrap());
    // Only the first four: still nothing.
    assert!(!wait_readable(pairs.iter().take(4).map(|p| p.0.as_fd()), 0).unwrap());
    let mut buf = [0u8; 4];
    assert_eq!(pairs[4].0.recv(&mut buf).unwrap(), 1);
    assert!(!wait_readable(pairs.iter().map(|p| p.0.as_fd()), 0).unwrap());
}

#[test]
fn a_blocked_wait_wakes_on_the_second_socket() {
    let (a, _a2) = UnixDatagram::pair().unwrap();
    let (b, b2) = UnixDatagram::pair().unwrap();
    let t = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(20));
        b2.send(b"x").unwrap();
        b2
    });
    // No limit: returns only because the datagram arrived.
    assert!(wait_readable([a.as_fd(), b.as_fd()], -1).unwrap());
    let _b2 = t.join().unwrap();
}

#[test]
fn more_than_the_limit_is_refused() {
    let (a, _a2) = UnixDatagram::pair().unwrap();
    let fds = std::iter::repeat_n(a.as_fd(), WAIT_MAX + 1);
    assert!(matches!(wait_readable(fds, 0), Err(IoError::Invalid(_))));
    let fds = std::iter::repeat_n(a.as_fd(), WAIT_MAX);
    assert!(!wait_readable(fds, 0).unwrap());
}
