//! Upper/lower thresholds driven by real connections: OVERLOAD is set when
//! active + inactive reach `-x`, closed connections keep counting until
//! they expire, and it clears below `-y` (or below 3/4 of `-x` without
//! `-y`) — §0 and §1.6 of the reference, `ip_vs_bind_dest` /
//! `ip_vs_unbind_dest`.

#![allow(clippy::unwrap_used)]

mod conn_common;

use conn_common::*;
use lvs_core::conn::InVerdict;
use lvs_core::{DestConfig, FwdMethod, ServiceConfig};

const VIP: (&str, u16) = ("10.0.0.1", 80);

fn client(i: u16) -> (&'static str, u16) {
    ("10.9.0.1", 1000 + i)
}

/// Open connection `i` to ESTABLISHED.
fn open(lab: &mut Lab, i: u16) -> InVerdict {
    let v = lab.send(syn(client(i), VIP));
    if matches!(v, InVerdict::Forward(_)) {
        lab.fwd(ack(client(i), VIP));
    }
    v
}

/// Close connection `i` with a RST: CLOSE, 10 s.
fn close(lab: &mut Lab, i: u16) {
    lab.fwd(rst(client(i), VIP));
}

#[test]
fn overload_with_lower_threshold() {
    let mut lab = Lab::new();
    let key = tcp_key(VIP.0, VIP.1);
    lab.service(ServiceConfig::new(key).with_scheduler("rr"));
    let a = lab
        .ipvs
        .add_dest(
            &key,
            DestConfig::new(ip("10.0.1.1"), 80).with_thresholds(2, 1),
        )
        .unwrap();
    let overload = |lab: &Lab| lab.ipvs.dest(a).unwrap().overload;

    assert!(matches!(open(&mut lab, 1), InVerdict::Forward(_)));
    assert!(!overload(&lab));
    assert!(matches!(open(&mut lab, 2), InVerdict::Forward(_)));
    assert!(overload(&lab), "2 connections reach -x 2");
    assert_eq!(open(&mut lab, 3), InVerdict::NoDest);

    close(&mut lab, 1);
    assert_eq!(lab.counts(a), (1, 1, 0));
    assert!(
        overload(&lab),
        "a closed connection counts until it expires"
    );
    assert_eq!(open(&mut lab, 4), InVerdict::NoDest);

    lab.advance_secs(10);
    assert_eq!(lab.counts(a), (1, 0, 0));
    assert!(overload(&lab), "1 is not below -y 1");
    assert_eq!(open(&mut lab, 5), InVerdict::NoDest);

    close(&mut lab, 2);
    lab.advance_secs(10);
    assert_eq!(lab.counts(a), (0, 0, 0));
    assert!(!overload(&lab), "0 < -y 1 clears OVERLOAD");
    assert!(matches!(open(&mut lab, 6), InVerdict::Forward(_)));
    check_invariants(&lab.ipvs, lab.now);
}

#[test]
fn overload_three_quarters_without_lower_threshold() {
    let mut lab = Lab::new();
    let key = tcp_key(VIP.0, VIP.1);
    lab.service(ServiceConfig::new(key).with_scheduler("wlc"));
    let a = lab
        .ipvs
        .add_dest(
            &key,
            DestConfig::new(ip("10.0.1.1"), 80).with_thresholds(4, 0),
        )
        .unwrap();
    for i in 0..4 {
        assert!(matches!(open(&mut lab, i), InVerdict::Forward(_)));
    }
    assert!(lab.ipvs.dest(a).unwrap().overload);
    close(&mut lab, 0);
    lab.advance_secs(10);
    assert!(
        lab.ipvs.dest(a).unwrap().overload,
        "3 * 4 = 12 is not < 4 * 3"
    );
    close(&mut lab, 1);
    lab.advance_secs(10);
    assert!(!lab.ipvs.dest(a).unwrap().overload, "2 * 4 = 8 < 12");
    assert!(matches!(open(&mut lab, 9), InVerdict::Forward(_)));
}

#[test]
fn overloaded_server_is_skipped_and_others_take_over() {
    let mut lab = Lab::new();
    let key = tcp_key(VIP.0, VIP.1);
    lab.service(ServiceConfig::new(key).with_scheduler("rr"));
    let a = lab
        .ipvs
        .add_dest(
            &key,
            DestConfig::new(ip("10.0.1.1"), 80).with_thresholds(1, 0),
        )
        .unwrap();
    let b = lab.dest(&key, "10.0.1.2", 80, FwdMethod::Route);
    let picks: Vec<_> = (0..5)
        .map(|i| match open(&mut lab, i) {
            InVerdict::Forward(f) => f.dest.unwrap(),
            v => panic!("{v:?}"),
        })
        .collect();
    assert_eq!(picks.iter().filter(|d| **d == a).count(), 1);
    assert_eq!(picks.iter().filter(|d| **d == b).count(), 4);
    // Raising the upper threshold clears OVERLOAD at once.
    lab.ipvs
        .edit_dest(
            &key,
            DestConfig::new(ip("10.0.1.1"), 80).with_thresholds(10, 0),
        )
        .unwrap();
    assert!(!lab.ipvs.dest(a).unwrap().overload);
    check_invariants(&lab.ipvs, lab.now);
}
