use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::*;
use crate::dest::TunnelConfig;
use crate::service::Protocol;

fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(a, b, c, d))
}

fn tcp(port: u16) -> ServiceKey {
    ServiceKey::Addr {
        proto: Protocol::Tcp,
        addr: v4(10, 0, 0, 1),
        port,
    }
}

#[test]
fn dests_are_newest_first() {
    let mut ipvs = Ipvs::new();
    let id = ipvs
        .add_service(ServiceConfig::new(tcp(80)).with_scheduler("rr"))
        .unwrap();
    for i in 1..=3 {
        ipvs.add_dest(&tcp(80), DestConfig::new(v4(10, 0, 1, i), 80))
            .unwrap();
    }
    let order: Vec<IpAddr> = ipvs
        .dest_list(id)
        .unwrap()
        .iter()
        .map(|d| d.config.addr)
        .collect();
    assert_eq!(
        order,
        vec![v4(10, 0, 1, 3), v4(10, 0, 1, 2), v4(10, 0, 1, 1)]
    );
}

#[test]
fn kernel_error_kinds() {
    let mut ipvs = Ipvs::new();
    assert_eq!(
        ipvs.add_service(ServiceConfig::new(tcp(80)).with_scheduler("nope"))
            .unwrap_err(),
        Error::NoScheduler("nope".into())
    );
    ipvs.add_service(ServiceConfig::new(tcp(80))).unwrap();
    assert_eq!(
        ipvs.add_service(ServiceConfig::new(tcp(80))).unwrap_err(),
        Error::Exists
    );
    assert_eq!(
        ipvs.edit_service(ServiceConfig::new(tcp(81))).unwrap_err(),
        Error::NoService
    );
    assert_eq!(
        ipvs.add_dest(&tcp(81), DestConfig::new(v4(10, 0, 1, 1), 80))
            .unwrap_err(),
        Error::NoService
    );
    let d = DestConfig::new(v4(10, 0, 1, 1), 80);
    ipvs.add_dest(&tcp(80), d).unwrap();
    assert_eq!(ipvs.add_dest(&tcp(80), d).unwrap_err(), Error::Exists);
    assert_eq!(
        ipvs.edit_dest(&tcp(80), DestConfig::new(v4(10, 0, 1, 2), 80))
            .unwrap_err(),
        Error::NoDest
    );
    assert_eq!(
        ipvs.edit_dest(&tcp(80), d.with_weight(-1)).unwrap_err(),
        Error::Range("weight")
    );
    assert!(matches!(
        ipvs.edit_dest(&tcp(80), d.with_thresholds(5, 6)),
        Err(Error::Range(_))
    ));
    let v6 = DestConfig::new(IpAddr::V6(Ipv6Addr::LOCALHOST), 80);
    assert!(matches!(
        ipvs.add_dest(&tcp(80), v6),
        Err(Error::Invalid(_))
    ));
    let v6tun = v6.with_fwd(FwdMethod::Tunnel(TunnelConfig::default()));
    ipvs.add_dest(&tcp(80), v6tun).unwrap();
    let gue = DestConfig::new(v4(10, 0, 1, 9), 80).with_fwd(FwdMethod::Tunnel(TunnelConfig {
        kind: TunnelType::Gue,
        ..TunnelConfig::default()
    }));
    assert!(matches!(
        ipvs.add_dest(&tcp(80), gue),
        Err(Error::Invalid(_))
    ));
    assert_eq!(
        ipvs.del_dest(&tcp(80), &v4(10, 0, 1, 7), 80, Time::ZERO)
            .unwrap_err(),
        Error::NoDest
    );
    assert_eq!(
        ipvs.del_service(&tcp(81), Time::ZERO).unwrap_err(),
        Error::NoService
    );
}

#[test]
fn removed_dest_is_revived_with_counters_at_head() {
    let mut ipvs = Ipvs::new();
    let id = ipvs.add_service(ServiceConfig::new(tcp(80))).unwrap();
    let a = ipvs
        .add_dest(&tcp(80), DestConfig::new(v4(10, 0, 1, 1), 80))
        .unwrap();
    ipvs.add_dest(&tcp(80), DestConfig::new(v4(10, 0, 1, 2), 80))
        .unwrap();
    ipvs.dest_mut(a)
        .unwrap()
        .bind(crate::dest::ConnCount::Active);
    ipvs.dest_ref(a);
    ipvs.del_dest(&tcp(80), &v4(10, 0, 1, 1), 80, Time::ZERO)
        .unwrap();
    assert!(!ipvs.dest(a).unwrap().available);
    assert_eq!(ipvs.trash().collect::<Vec<_>>(), vec![a]);
    ipvs.tick(Time(10 * DEST_TRASH_PERIOD_MS));
    assert!(ipvs.dest(a).is_some(), "referenced trash entries are kept");
    let again = ipvs
        .add_dest(
            &tcp(80),
            DestConfig::new(v4(10, 0, 1, 1), 80).with_weight(5),
        )
        .unwrap();
    assert_eq!(again, a);
    let d = ipvs.dest(a).unwrap();
    assert!(d.available);
    assert_eq!((d.activeconns, d.config.weight), (1, 5));
    assert_eq!(ipvs.dest_list(id).unwrap().ids()[0], a);
}

#[test]
fn unreferenced_trash_is_freed_after_period() {
    let mut ipvs = Ipvs::new();
    ipvs.add_service(ServiceConfig::new(tcp(80))).unwrap();
    let a = ipvs
        .add_dest(&tcp(80), DestConfig::new(v4(10, 0, 1, 1), 80))
        .unwrap();
    ipvs.del_dest(&tcp(80), &v4(10, 0, 1, 1), 80, Time(1000))
        .unwrap();
    ipvs.tick(Time(1000 + DEST_TRASH_PERIOD_MS - 1));
    assert!(ipvs.dest(a).is_some());
    ipvs.tick(Time(1000 + DEST_TRASH_PERIOD_MS));
    assert!(ipvs.dest(a).is_none());
}

#[test]
fn scheduler_change_keeps_dests() {
    let mut ipvs = Ipvs::new();
    let id = ipvs
        .add_service(ServiceConfig::new(tcp(80)).with_scheduler("rr"))
        .unwrap();
    ipvs.add_dest(&tcp(80), DestConfig::new(v4(10, 0, 1, 1), 80))
        .unwrap();
    ipvs.edit_service(ServiceConfig::new(tcp(80)).with_scheduler("wrr"))
        .unwrap();
    let s = ipvs.service(id).unwrap();
    assert_eq!(s.scheduler().name(), "wrr");
    assert_eq!(s.dests.len(), 1);
}
