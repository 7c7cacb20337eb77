//! Steering what connections still use after their service or real server
//! left the configuration (`ipvsadm -D`, `-C`, `-d`, `-E` changing a
//! method).
//!
//! The kernel keeps the connection entries of a deleted service or real
//! server until they expire (the real server goes to the trash while they
//! hold it). With `expire_nodest_conn=0` (the default) their packets are
//! dropped silently (`NF_DROP`: the client retransmits into the void and
//! times out, no RST; the lab output `bin/lvsd/lab/ops_nodest.out` shows it
//! on Linux 6.1), with `expire_nodest_conn=1` the entry is expired by the
//! next packet. The engine does the same ([`lvs_core`]'s connection lookup
//! comes before the service lookup); lvsd's part is to keep handing it
//! those packets: a steering key (service `proto VIP:port`, its VIP, a NAT
//! reply source `proto RIP:rport`) or a fwmark that leaves the
//! configuration is kept while some connection entry still matches it,
//! instead of letting the director's own stack answer (a RST from the VIP)
//! or forward a real server's reply without translating it back.
//!
//! Cost: while something lingers, one scan of the connection table per
//! second ([`still_used`], under the control lock: a few milliseconds per
//! 100 000 entries); nothing when nothing lingers.

use std::collections::HashSet;

use lvs_core::Ipvs;
use lvs_core::conn::flags;
use lvs_io::SteerKey;

/// Keeps in `keys` and `marks` only those a connection entry (not a
/// template: templates carry no packets) still matches.
pub(crate) fn still_used(ipvs: &Ipvs, keys: &mut HashSet<SteerKey>, marks: &mut Vec<u32>) {
    let mut used: HashSet<SteerKey> = HashSet::new();
    let mut used_marks: Vec<u32> = Vec::new();
    for c in ipvs.conns().filter(|c| !c.is_template()) {
        let p = c.protocol;
        for k in [
            SteerKey::service(p, c.vaddr, c.vport),
            SteerKey::service(p, c.vaddr, 0),
            SteerKey::vip(c.vaddr),
        ] {
            if keys.contains(&k) {
                used.insert(k);
            }
        }
        let fwd = (c.flags & u32::from(flags::FWD_MASK)) as u16;
        if fwd == flags::FWD_MASQ || fwd == flags::FWD_FULLNAT {
            let k = SteerKey::reply_source(p, c.daddr, c.dport);
            if keys.contains(&k) {
                used.insert(k);
            }
        }
        if c.fwmark != 0 && marks.contains(&c.fwmark) && !used_marks.contains(&c.fwmark) {
            used_marks.push(c.fwmark);
        }
    }
    *keys = used;
    used_marks.sort_unstable();
    *marks = used_marks;
}
