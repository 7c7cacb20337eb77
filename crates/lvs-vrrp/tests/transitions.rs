//! Every state transition of one instance (and of a sync group), driven by hand.
//! Expected times come from the RFC formulas worked by hand:
//!   VRRPv2, priority 100, advert 1 s: skew = 156/256 s = 609 375 us,
//!   Master_Down_Interval = 3 s + 609 375 us.

#![allow(clippy::unwrap_used)]

use std::net::IpAddr;
use std::time::Duration;

use lvs_vrrp::engine::{Action, RxError, State, Vrrp};
use lvs_vrrp::packet::{self, Auth, IpInfo, Version};
use lvs_vrrp::{
    GroupConfig, GroupId, InitialState, InstanceConfig, InstanceId, TrackConfig, TrackId,
    TrackKind, TrackRef, TrackStatus, VrrpConfig,
};

const I0: InstanceId = InstanceId(0);

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

fn us(v: u64) -> Duration {
    Duration::from_micros(v)
}

fn s(v: u64) -> Duration {
    Duration::from_secs(v)
}

const DOWN_100: u64 = 3_609_375; // us, v2 priority 100, advert 1 s

fn inst(prio: u8) -> InstanceConfig {
    let mut c = InstanceConfig::new("VI_1", 1, 51, ip("10.0.0.2"), vec![ip("10.0.0.100")]);
    c.priority = prio;
    c
}

fn engine(c: InstanceConfig) -> Vrrp {
    Vrrp::new(VrrpConfig {
        instances: vec![c],
        ..VrrpConfig::default()
    })
    .unwrap()
}

fn engine_with_track(c: InstanceConfig, initial: TrackStatus) -> Vrrp {
    Vrrp::new(VrrpConfig {
        instances: vec![c],
        groups: vec![],
        tracks: vec![TrackConfig {
            name: "chk".into(),
            kind: TrackKind::Script,
            initial,
        }],
    })
    .unwrap()
}

/// An advert from `src` with `prio`, as our own encoder builds it (VRID 51, v2, 1 s).
fn advert(src: &str, prio: u8) -> (IpInfo, Vec<u8>) {
    advert_with(
        src,
        prio,
        Version::V2,
        1,
        Auth::None,
        &[ip("10.0.0.100")],
        51,
    )
}

fn advert_with(
    src: &str,
    prio: u8,
    version: Version,
    interval: u16,
    auth: Auth,
    addrs: &[IpAddr],
    vrid: u8,
) -> (IpInfo, Vec<u8>) {
    let info = IpInfo {
        src: ip(src),
        dst: ip("224.0.0.18"),
        ttl: 255,
    };
    let spec = packet::AdvertSpec {
        version,
        vrid,
        priority: prio,
        interval,
        auth,
        addrs,
    };
    let mut out = vec![];
    packet::encode(&spec, info.src, info.dst, &mut out).unwrap();
    (info, out)
}

fn rx(v: &mut Vrrp, now: Duration, a: &(IpInfo, Vec<u8>)) -> Vec<Action> {
    v.handle_advert(now, 1, &a.0, &a.1).to_vec()
}

fn notify(state: State, priority: u8) -> Action {
    Action::Notify {
        instance: I0,
        state,
        priority,
    }
}

fn send(priority: u8) -> Action {
    Action::SendAdvert {
        instance: I0,
        priority,
    }
}

fn become_master_actions(prio: u8) -> Vec<Action> {
    vec![
        Action::AddVips { instance: I0 },
        Action::SendGratuitous {
            instance: I0,
            repeat: 5,
        },
        notify(State::Master, prio),
        send(prio),
    ]
}

#[test]
fn start_as_backup_then_master_after_down_interval() {
    let mut v = engine(inst(100));
    assert_eq!(v.start(s(10)), &[notify(State::Backup, 100)]);
    assert_eq!(v.state(I0), State::Backup);
    assert_eq!(v.next_deadline(), Some(s(10) + us(DOWN_100)));
    assert!(v.handle_timeout(s(10) + us(DOWN_100 - 1)).is_empty());
    assert_eq!(
        v.handle_timeout(s(10) + us(DOWN_100)),
        &become_master_actions(100)[..]
    );
    assert_eq!(v.state(I0), State::Master);
    assert!(v.vips_set(I0));
    // Next: an advert every second; the delayed GARP burst 5 s after takeover.
    let t = s(10) + us(DOWN_100);
    assert_eq!(v.next_deadline(), Some(t + s(1)));
    assert_eq!(v.handle_timeout(t + s(1)), &[send(100)]);
    for k in 2..5 {
        assert_eq!(v.handle_timeout(t + s(k)), &[send(100)]);
    }
    // Both due at once: the advert timer runs first.
    assert_eq!(
        v.handle_timeout(t + s(5)),
        &[
            send(100),
            Action::SendGratuitous {
                instance: I0,
                repeat: 5
            }
        ]
    );
    assert_eq!(v.stats(I0).become_master, 1);
}

#[test]
fn state_master_does_not_skip_the_election() {
    // `state MASTER` on a non-owner still waits for the down timer (keepalived 2.x).
    let mut c = inst(150);
    c.initial_state = InitialState::Master;
    let mut v = engine(c);
    v.start(s(0));
    assert_eq!(v.state(I0), State::Backup);
    // 3 s + 106/256 s = 3 414 062.5 -> 3 414 062 us.
    assert_eq!(v.next_deadline(), Some(us(3_414_062)));
}

#[test]
fn owner_becomes_master_at_once() {
    let mut v = engine(inst(255));
    assert!(v.start(s(0)).is_empty(), "no BACKUP notify for the owner");
    assert_eq!(v.next_deadline(), Some(us(1)));
    assert_eq!(v.handle_timeout(us(1)), &become_master_actions(255)[..]);
}

#[test]
fn backup_timer_restarts_on_higher_or_equal_priority() {
    let mut v = engine(inst(100));
    v.start(s(0));
    for (t, p) in [(1, 150), (2, 100), (3, 254)] {
        assert!(rx(&mut v, s(t), &advert("10.0.0.9", p)).is_empty());
        assert_eq!(v.next_deadline(), Some(s(t) + us(DOWN_100)));
    }
    assert_eq!(v.master(I0), Some((ip("10.0.0.9"), 254)));
    assert_eq!(v.stats(I0).adverts_received, 3);
}

#[test]
fn backup_preempts_a_lower_priority_master() {
    let mut v = engine(inst(100));
    v.start(s(0));
    rx(&mut v, s(1), &advert("10.0.0.9", 150));
    // The master now announces 50: discarded, the timer keeps running from t = 1 s.
    for t in [2, 3, 4] {
        assert!(rx(&mut v, s(t), &advert("10.0.0.9", 50)).is_empty());
        assert_eq!(v.next_deadline(), Some(s(1) + us(DOWN_100)));
    }
    v.handle_timeout(s(1) + us(DOWN_100));
    assert_eq!(v.state(I0), State::Master);
}

#[test]
fn nopreempt_keeps_a_lower_priority_master() {
    let mut c = inst(100);
    c.nopreempt = true;
    let mut v = engine(c);
    v.start(s(0));
    for t in 1..20 {
        rx(&mut v, s(t), &advert("10.0.0.9", 50));
        assert_eq!(v.next_deadline(), Some(s(t) + us(DOWN_100)));
        v.handle_timeout(s(t) + ms(999));
        assert_eq!(v.state(I0), State::Backup);
    }
}

#[test]
fn preempt_delay_postpones_preemption() {
    let mut c = inst(100);
    c.preempt_delay = s(10);
    let mut v = engine(c);
    v.start(s(0));
    // Lower-priority adverts every second from t = 1: accepted (timer restarted) while
    // the preempt time (1 + 10 = 11 s) is still in the future; from t = 11 on they are
    // discarded, so we take over Master_Down_Interval after the last accepted one.
    for t in 1..=10 {
        rx(&mut v, s(t), &advert("10.0.0.9", 50));
        assert_eq!(v.next_deadline(), Some(s(t) + us(DOWN_100)), "t={t}");
    }
    for t in [11, 12, 13] {
        rx(&mut v, s(t), &advert("10.0.0.9", 50));
        assert_eq!(v.next_deadline(), Some(s(10) + us(DOWN_100)), "t={t}");
    }
    v.handle_timeout(s(10) + us(DOWN_100));
    assert_eq!(v.state(I0), State::Master);
}

#[test]
fn priority_zero_makes_backup_take_over_after_skew() {
    let mut v = engine(inst(100));
    v.start(s(0));
    rx(&mut v, s(1), &advert("10.0.0.9", 200));
    rx(&mut v, s(2), &advert("10.0.0.9", 0));
    assert_eq!(v.next_deadline(), Some(s(2) + us(609_375)));
    v.handle_timeout(s(2) + us(609_375));
    assert_eq!(v.state(I0), State::Master);
    assert_eq!(v.stats(I0).pri_zero_received, 1);
}

fn master_at(prio: u8) -> (Vrrp, Duration) {
    let mut v = engine(inst(prio));
    v.start(s(0));
    let t = v.next_deadline().unwrap();
    v.handle_timeout(t);
    assert_eq!(v.state(I0), State::Master);
    (v, t)
}

#[test]
fn master_steps_down_for_higher_priority() {
    let (mut v, t) = master_at(100);
    let acts = rx(&mut v, t + ms(300), &advert("10.0.0.9", 101));
    assert_eq!(
        acts,
        vec![
            Action::RemoveVips { instance: I0 },
            notify(State::Backup, 100)
        ]
    );
    assert_eq!(v.state(I0), State::Backup);
    assert_eq!(v.next_deadline(), Some(t + ms(300) + us(DOWN_100)));
    assert_eq!(v.stats(I0).release_master, 1);
}

#[test]
fn master_answers_lower_priority_and_priority_zero() {
    let (mut v, t) = master_at(100);
    let acts = rx(&mut v, t + ms(300), &advert("10.0.0.9", 99));
    assert_eq!(
        acts,
        vec![
            send(100),
            Action::SendGratuitous {
                instance: I0,
                repeat: 5
            }
        ]
    );
    // The advert just sent restarts the advert timer.
    assert_eq!(v.next_deadline(), Some(t + ms(300) + s(1)));
    let acts = rx(&mut v, t + ms(500), &advert("10.0.0.9", 0));
    assert_eq!(acts, vec![send(100)]);
    assert_eq!(v.state(I0), State::Master);
}

#[test]
fn equal_priority_is_decided_by_the_address() {
    // Ours is 10.0.0.2: 10.0.0.9 wins, 10.0.0.1 loses.
    let (mut v, t) = master_at(100);
    let acts = rx(&mut v, t + ms(10), &advert("10.0.0.1", 100));
    assert_eq!(acts[0], send(100));
    assert_eq!(v.state(I0), State::Master);
    rx(&mut v, t + ms(20), &advert("10.0.0.9", 100));
    assert_eq!(v.state(I0), State::Backup);
}

#[test]
fn two_owners_conflict() {
    let (mut v, t) = master_at(255);
    let acts = rx(&mut v, t + ms(10), &advert("10.0.0.1", 255));
    assert!(acts.contains(&Action::OwnerConflict { instance: I0 }));
    assert_eq!(v.priority(I0), 254);
    // Now the other owner's adverts are a higher priority: we step down.
    rx(&mut v, t + ms(20), &advert("10.0.0.1", 255));
    assert_eq!(v.state(I0), State::Backup);
}

fn tracked(weight: i32, initial: TrackStatus) -> Vrrp {
    let mut c = inst(100);
    c.tracks = vec![TrackRef {
        id: TrackId(0),
        weight,
        reverse: false,
    }];
    engine_with_track(c, initial)
}

#[test]
fn fault_transitions() {
    // BACKUP -> FAULT -> BACKUP.
    let mut v = tracked(0, TrackStatus::Up);
    v.start(s(0));
    assert_eq!(
        v.set_track(s(1), TrackId(0), TrackStatus::Down),
        &[notify(State::Fault, 100)]
    );
    assert_eq!(v.next_deadline(), None);
    // FAULT ignores adverts.
    assert!(rx(&mut v, s(2), &advert("10.0.0.9", 200)).is_empty());
    assert_eq!(
        v.set_track(s(3), TrackId(0), TrackStatus::Up),
        &[notify(State::Backup, 100)]
    );
    assert_eq!(v.next_deadline(), Some(s(3) + us(DOWN_100)));
    // MASTER -> FAULT sends priority 0 and drops the VIPs.
    v.handle_timeout(s(3) + us(DOWN_100));
    assert_eq!(v.state(I0), State::Master);
    assert_eq!(
        v.set_track(s(9), TrackId(0), TrackStatus::Down),
        &[
            send(0),
            Action::RemoveVips { instance: I0 },
            notify(State::Fault, 100)
        ]
    );
    assert!(!v.vips_set(I0));
    // Starting with the object down (or a script that has not reported) starts in FAULT.
    let mut w = tracked(0, TrackStatus::Unknown);
    assert_eq!(w.start(s(0)), &[notify(State::Fault, 100)]);
    assert_eq!(
        w.set_track(s(1), TrackId(0), TrackStatus::Up),
        &[notify(State::Backup, 100)]
    );
}

#[test]
fn weights_move_the_priority() {
    let mut v = tracked(-30, TrackStatus::Up);
    v.start(s(0));
    assert_eq!(v.priority(I0), 100);
    let acts = v.set_track(s(1), TrackId(0), TrackStatus::Down).to_vec();
    assert_eq!(
        acts,
        vec![Action::PriorityChanged {
            instance: I0,
            priority: 70
        }]
    );
    assert_eq!(v.state(I0), State::Backup);
    // Priority going up again shortens the pending down timer by the skew difference:
    // skew(70) = 186/256 s = 726 562 us, skew(100) = 609 375 us.
    rx(&mut v, s(2), &advert("10.0.0.9", 200));
    assert_eq!(v.next_deadline(), Some(s(2) + us(3_726_562)));
    v.set_track(s(3), TrackId(0), TrackStatus::Up);
    assert_eq!(v.priority(I0), 100);
    assert_eq!(
        v.next_deadline(),
        Some(s(2) + us(3_726_562) - us(3_726_562 - DOWN_100))
    );
    // Positive weight, clamped at 254.
    let mut w = tracked(200, TrackStatus::Down);
    w.start(s(0));
    w.set_track(s(1), TrackId(0), TrackStatus::Up);
    assert_eq!(w.priority(I0), 254);
}

#[test]
fn owner_priority_never_moves() {
    let mut c = inst(255);
    c.tracks = vec![TrackRef {
        id: TrackId(0),
        weight: -50,
        reverse: false,
    }];
    let mut v = engine_with_track(c, TrackStatus::Up);
    v.start(s(0));
    v.set_track(s(1), TrackId(0), TrackStatus::Down);
    assert_eq!(v.priority(I0), 255);
}

#[test]
fn v3_backup_adopts_the_master_interval() {
    let mut c = inst(100);
    c.version = Version::V3;
    c.advert_int = s(1);
    let mut v = engine(c);
    v.start(s(0));
    let a = advert_with(
        "10.0.0.9",
        200,
        Version::V3,
        10,
        Auth::None,
        &[ip("10.0.0.100")],
        51,
    );
    rx(&mut v, s(1), &a);
    assert_eq!(v.master_adver_int(I0), ms(100));
    // 3 x 100 ms + 156 * 10 * 625 / 16 us = 300 ms + 60 937 us.
    assert_eq!(v.next_deadline(), Some(s(1) + us(360_937)));
    v.handle_timeout(s(1) + us(360_937));
    assert_eq!(v.state(I0), State::Master);
    // As master it sends with its own interval.
    assert_eq!(v.next_deadline(), Some(s(1) + us(360_937) + s(1)));
}

#[test]
fn garp_refresh_rides_on_adverts() {
    let mut c = inst(100);
    c.garp.master_refresh = Some(ms(2500));
    c.garp.refresh_repeat = 2;
    c.garp.master_delay = Duration::ZERO;
    let mut v = engine(c);
    v.start(s(0));
    let t = us(DOWN_100);
    v.handle_timeout(t);
    assert_eq!(v.handle_timeout(t + s(1)), &[send(100)]);
    assert_eq!(v.handle_timeout(t + s(2)), &[send(100)]);
    // Refresh due at t + 2.5 s: sent with the advert at t + 3 s.
    assert_eq!(
        v.handle_timeout(t + s(3)),
        &[
            Action::SendGratuitous {
                instance: I0,
                repeat: 2
            },
            send(100)
        ]
    );
    assert_eq!(v.handle_timeout(t + s(4)), &[send(100)]);
}

#[test]
fn shutdown_releases() {
    let (mut v, t) = master_at(100);
    assert_eq!(
        v.shutdown(t + s(1)),
        &[
            send(0),
            Action::RemoveVips { instance: I0 },
            Action::NotifyStop { instance: I0 }
        ]
    );
    assert_eq!(v.stats(I0).pri_zero_sent, 1);
}

#[test]
fn validation() {
    let mut c = inst(100);
    c.auth = Auth::pass(b"pw");
    let mut v = engine(c);
    v.start(s(0));
    let vips = [ip("10.0.0.100")];
    let rej = |reason| {
        vec![Action::Rejected {
            instance: Some(I0),
            reason,
        }]
    };
    let good = advert_with(
        "10.0.0.9",
        200,
        Version::V2,
        1,
        Auth::pass(b"pw"),
        &vips,
        51,
    );
    assert!(rx(&mut v, s(1), &good).is_empty());
    let mut ttl = good.clone();
    ttl.0.ttl = 254;
    assert_eq!(rx(&mut v, s(1), &ttl), rej(RxError::Ttl(254)));
    let a = advert_with(
        "10.0.0.9",
        200,
        Version::V2,
        1,
        Auth::pass(b"px"),
        &vips,
        51,
    );
    assert_eq!(rx(&mut v, s(1), &a), rej(RxError::AuthFailure));
    let a = advert_with(
        "10.0.0.9",
        200,
        Version::V2,
        2,
        Auth::pass(b"pw"),
        &vips,
        51,
    );
    assert_eq!(
        rx(&mut v, s(1), &a),
        rej(RxError::IntervalMismatch { got: 2, want: 1 })
    );
    let a = advert_with("10.0.0.9", 200, Version::V3, 100, Auth::None, &vips, 51);
    assert_eq!(
        rx(&mut v, s(1), &a),
        rej(RxError::Version { got: 3, want: 2 })
    );
    let two = [ip("10.0.0.100"), ip("10.0.0.101")];
    let a = advert_with("10.0.0.9", 200, Version::V2, 1, Auth::pass(b"pw"), &two, 51);
    assert_eq!(
        rx(&mut v, s(1), &a),
        rej(RxError::AddrCount { got: 2, want: 1 })
    );
    let other = [ip("10.0.0.200")];
    let a = advert_with(
        "10.0.0.9",
        200,
        Version::V2,
        1,
        Auth::pass(b"pw"),
        &other,
        51,
    );
    assert_eq!(rx(&mut v, s(1), &a), rej(RxError::AddrList));
    let a = advert_with(
        "10.0.0.9",
        200,
        Version::V2,
        1,
        Auth::pass(b"pw"),
        &vips,
        52,
    );
    assert_eq!(
        rx(&mut v, s(1), &a),
        vec![Action::Rejected {
            instance: None,
            reason: RxError::UnknownVrid(52)
        }]
    );
    let mut bad = good.clone();
    bad.1[2] ^= 1;
    assert!(matches!(
        rx(&mut v, s(1), &bad)[..],
        [Action::Rejected {
            instance: None,
            reason: RxError::Parse(packet::ParseError::BadChecksum(2))
        }]
    ));
    assert_eq!(v.stats(I0).rejected, 6);
    // Rejected adverts do not restart the timer.
    assert_eq!(v.next_deadline(), Some(s(1) + us(DOWN_100)));
}

#[test]
fn skip_check_adv_addr_trusts_the_known_master() {
    let mut c = inst(100);
    c.skip_check_adv_addr = true;
    let mut v = engine(c);
    v.start(s(0));
    rx(&mut v, s(1), &advert("10.0.0.9", 200));
    let other = [ip("10.0.0.200")];
    let a = advert_with("10.0.0.9", 200, Version::V2, 1, Auth::None, &other, 51);
    assert!(
        rx(&mut v, s(2), &a).is_empty(),
        "same master: list not checked"
    );
    let b = advert_with("10.0.0.8", 200, Version::V2, 1, Auth::None, &other, 51);
    assert!(matches!(
        rx(&mut v, s(3), &b)[..],
        [Action::Rejected { .. }]
    ));
}

fn group_engine(track_weight0: bool) -> Vrrp {
    let mut a = InstanceConfig::new("A", 1, 51, ip("10.0.0.2"), vec![ip("10.0.0.100")]);
    let mut b = InstanceConfig::new("B", 2, 52, ip("10.0.1.2"), vec![ip("10.0.1.100")]);
    a.priority = 100;
    b.priority = 100;
    if track_weight0 {
        b.tracks = vec![TrackRef {
            id: TrackId(0),
            weight: 0,
            reverse: false,
        }];
    }
    Vrrp::new(VrrpConfig {
        instances: vec![a, b],
        groups: vec![GroupConfig {
            name: "G".into(),
            members: vec!["A".into(), "B".into()],
        }],
        tracks: vec![TrackConfig {
            name: "eth1".into(),
            kind: TrackKind::Interface,
            initial: TrackStatus::Up,
        }],
    })
    .unwrap()
}

#[test]
fn sync_group_goes_master_together() {
    let (a, b) = (InstanceId(0), InstanceId(1));
    let mut v = group_engine(false);
    v.start(s(0));
    assert_eq!(v.group_state(GroupId(0)), State::Backup);
    // B keeps hearing its master; A's master is gone: A's timer expires but B does not
    // want master, so A restarts its timer.
    let adv_b = |p| {
        let info = IpInfo {
            src: ip("10.0.1.9"),
            dst: ip("224.0.0.18"),
            ttl: 255,
        };
        let spec = packet::AdvertSpec {
            version: Version::V2,
            vrid: 52,
            priority: p,
            interval: 1,
            auth: Auth::None,
            addrs: &[ip("10.0.1.100")],
        };
        let mut out = vec![];
        packet::encode(&spec, info.src, info.dst, &mut out).unwrap();
        (info, out)
    };
    for t in 1..=3 {
        v.handle_advert(s(t), 2, &adv_b(200).0, &adv_b(200).1);
    }
    let acts = v.handle_timeout(us(DOWN_100)).to_vec();
    assert!(acts.is_empty(), "{acts:?}");
    assert_eq!(v.state(a), State::Backup);
    // Next deadline: B's (its master's last advert at 3 s); A's is later (2 x down).
    assert_eq!(v.next_deadline(), Some(s(3) + us(DOWN_100)));
    // B's master goes silent after t = 3 s: B expires at 3 s + down, and with A wanting
    // master too, both become master.
    let acts = v.handle_timeout(s(3) + us(DOWN_100)).to_vec();
    assert_eq!((v.state(a), v.state(b)), (State::Master, State::Master));
    assert!(acts.contains(&Action::GroupNotify {
        group: GroupId(0),
        state: State::Master
    }));
    assert!(acts.contains(&Action::AddVips { instance: a }));
    assert!(acts.contains(&Action::AddVips { instance: b }));
    // A higher priority for A takes both back to backup.
    let info = IpInfo {
        src: ip("10.0.0.9"),
        dst: ip("224.0.0.18"),
        ttl: 255,
    };
    let spec = packet::AdvertSpec {
        version: Version::V2,
        vrid: 51,
        priority: 200,
        interval: 1,
        auth: Auth::None,
        addrs: &[ip("10.0.0.100")],
    };
    let mut m = vec![];
    packet::encode(&spec, info.src, info.dst, &mut m).unwrap();
    let acts = v.handle_advert(s(10), 1, &info, &m).to_vec();
    assert_eq!((v.state(a), v.state(b)), (State::Backup, State::Backup));
    assert!(acts.contains(&Action::RemoveVips { instance: b }));
    assert!(acts.contains(&Action::GroupNotify {
        group: GroupId(0),
        state: State::Backup
    }));
}

#[test]
fn sync_group_faults_together() {
    let (a, b) = (InstanceId(0), InstanceId(1));
    let mut v = group_engine(true);
    v.start(s(0));
    v.handle_timeout(us(DOWN_100));
    assert_eq!((v.state(a), v.state(b)), (State::Master, State::Master));
    let acts = v.set_track(s(5), TrackId(0), TrackStatus::Down).to_vec();
    assert_eq!((v.state(a), v.state(b)), (State::Fault, State::Fault));
    assert_eq!(v.group_state(GroupId(0)), State::Fault);
    assert!(acts.contains(&Action::SendAdvert {
        instance: a,
        priority: 0
    }));
    assert!(acts.contains(&Action::SendAdvert {
        instance: b,
        priority: 0
    }));
    let acts = v.set_track(s(6), TrackId(0), TrackStatus::Up).to_vec();
    assert_eq!((v.state(a), v.state(b)), (State::Backup, State::Backup));
    assert!(acts.contains(&Action::GroupNotify {
        group: GroupId(0),
        state: State::Backup
    }));
}
