//! VRRP advert decoding (v2/v3, IPv4 whole packets and bare messages with
//! an IPv6 pseudo-header) and the engine's receive path over arbitrary
//! bytes: must never panic, and the engine's memory stays bounded (one
//! configured instance, actions cleared per call).
#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Mutex;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use lvs_vrrp::packet::{self, IpInfo};
use lvs_vrrp::{InstanceConfig, Version, Vrrp, VrrpConfig};

static ENGINE: Mutex<Option<(Vrrp, u64)>> = Mutex::new(None);

fn engine() -> Vrrp {
    let vip = IpAddr::V4(Ipv4Addr::new(10, 0, 5, 100));
    let src = IpAddr::V4(Ipv4Addr::new(10, 0, 5, 1));
    let mut v2 = InstanceConfig::new("v2", 1, 51, src, vec![vip]);
    v2.auth = lvs_vrrp::Auth::pass(b"lvsrs12");
    let mut v3 = InstanceConfig::new("v3", 1, 52, src, vec![vip]);
    v3.version = Version::V3;
    v3.advert_int = Duration::from_millis(100);
    let mut e = Vrrp::new(VrrpConfig {
        instances: vec![v2, v3],
        ..VrrpConfig::default()
    })
    .expect("valid configuration");
    e.start(Duration::ZERO);
    e
}

fuzz_target!(|data: &[u8]| {
    let _ = packet::parse_ipv4(data);
    let v6 = IpInfo {
        src: IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1)),
        dst: IpAddr::V6(Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12)),
        ttl: 255,
    };
    let _ = packet::parse(&v6, data);
    let mut guard = ENGINE.lock().unwrap_or_else(|e| e.into_inner());
    let (e, t) = guard.get_or_insert_with(|| (engine(), 0));
    *t += 1;
    let now = Duration::from_millis(*t * 7);
    let _ = e.handle_ipv4_packet(now, 1, data);
    let _ = e.handle_timeout(now);
});
