//! The backup side: validate a received datagram and turn its entries into
//! create/update decisions (`ip_vs_process_message`, `ip_vs_proc_sync_conn`,
//! `ip_vs_process_message_v0`, `ip_vs_proc_conn`).
//!
//! A datagram is dropped when it is shorter than 4 bytes, when its `size`
//! differs from its length, or when its sync id differs from the backup's
//! (unless the backup's sync id is 0). A version 1 message is recognised by
//! reserved byte 0, version byte 1 and spare 0; anything else is read as
//! version 0. Entries are then processed in order; a structural error stops
//! the walk, but the entries before it stay applied, as in the kernel.
//!
//! Per entry (both formats): a non-template entry of a protocol IPVS does
//! not know, or with a state beyond the protocol's, is skipped; a version 1
//! entry with an unknown mandatory option, with persistence-engine data but
//! no engine name, or naming an engine that is not available is skipped.
//! Flags are reduced to `BACKUP_MASK` (version 1; version 0 only loses
//! HASHED) and get `SYNC`. The timeout is the message's (version 1), or,
//! when the message carries none (version 0, or 0), the protocol's per-state
//! default, 3 minutes for templates. The entry's packet counter is set to
//! the sync threshold so the backup does not re-send it at once if it
//! becomes master.
//!
//! [`decide`] then says what to do with the local table: create, update
//! (only the INACTIVE and sequence bits are taken from the message; the
//! active/inactive counters of a bound destination move when INACTIVE
//! changes), replace a connection that now points to another destination,
//! or ignore a stale expiry message for such a connection.
//!
//! Cost: O(datagram length), no allocation.

use std::net::IpAddr;
use std::time::Duration;

use thiserror::Error;

use crate::flags;
use crate::proto::{self, StateTimeouts};
use crate::wire::{self, ConnEntry, EntryError, HeaderError, SeqData, Version};

/// Persistence engines IPVS has (the only one is SIP).
pub const KNOWN_PE: &[&[u8]] = &[b"sip"];

/// Backup configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupConfig {
    /// Sync id to accept; 0 accepts any.
    pub syncid: u8,
    /// `sync_threshold` first value: the packet count given to synced entries.
    pub threshold: u32,
    /// Per-state timeouts for entries that carry none.
    pub timeouts: StateTimeouts,
}

impl Default for BackupConfig {
    fn default() -> Self {
        BackupConfig {
            syncid: 0,
            threshold: 3,
            timeouts: StateTimeouts::default(),
        }
    }
}

/// Why a whole datagram (or its remainder) was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum DatagramError {
    /// Bad header.
    #[error(transparent)]
    Header(#[from] HeaderError),
    /// Another sync id ("Ignoring syncid").
    #[error("ignoring syncid {got} (ours is {ours})")]
    SyncId {
        /// The message's sync id.
        got: u8,
        /// The backup's.
        ours: u8,
    },
    /// Structural error inside the message; earlier entries were delivered.
    #[error(transparent)]
    Entry(#[from] EntryError),
}

/// Why one entry was skipped (the rest of the datagram is still processed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum SkipReason {
    /// Protocol IPVS does not handle.
    #[error("unsupported protocol {0}")]
    UnknownProtocol(u8),
    /// State number beyond the protocol's states.
    #[error("invalid state {state} for protocol {protocol}")]
    BadState {
        /// Protocol.
        protocol: u8,
        /// State.
        state: u16,
    },
    /// Version 1 option of unknown type without the ignorable bit.
    #[error("unknown mandatory option")]
    UnknownMandatoryOption,
    /// Persistence-engine data without an engine name.
    #[error("persistence-engine data without engine name")]
    PeDataWithoutName,
    /// The named persistence engine does not exist here.
    #[error("persistence engine not available")]
    UnknownPe,
}

/// One received entry, ready to apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncUpdate<'a> {
    /// The entry as received (addresses, ports, fwmark, raw flags, options).
    pub entry: ConnEntry<'a>,
    /// Flags the backup uses (masked, with [`flags::SYNC`]).
    pub flags: u32,
    /// State to set.
    pub state: u16,
    /// Timeout to set.
    pub timeout: Duration,
    /// Packet counter to set (the sync threshold).
    pub in_pkts: u32,
    /// Sequence adjustments to set, when carried.
    pub seq: Option<SeqData>,
    /// True when the message gave the timeout (version 1 with a nonzero value).
    pub timeout_from_message: bool,
}

impl SyncUpdate<'_> {
    /// True for a persistence template.
    pub fn is_template(&self) -> bool {
        self.flags & flags::TEMPLATE != 0
    }

    /// The sync bookkeeping the entry gets (`cp->old_state = cp->state`), so
    /// that if this backup becomes master it does not re-send the entry for
    /// a state it already had.
    pub fn initial_mark(&self) -> crate::master::SyncMark {
        crate::master::SyncMark {
            old_state: self.state,
            ..crate::master::SyncMark::default()
        }
    }
}

/// Outcome of a datagram that passed the header checks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Entries delivered.
    pub applied: usize,
    /// Entries skipped.
    pub skipped: usize,
}

/// Validate `data` and hand each entry to `f`, in order, as an update or a
/// skip reason. Returns the counts, or the reason the datagram (or its
/// remainder) was dropped.
pub fn process<'a>(
    cfg: &BackupConfig,
    data: &'a [u8],
    mut f: impl FnMut(Result<SyncUpdate<'a>, SkipReason>),
) -> Result<Summary, DatagramError> {
    let msg = wire::parse(data)?;
    if cfg.syncid != 0 && msg.syncid != cfg.syncid {
        return Err(DatagramError::SyncId {
            got: msg.syncid,
            ours: cfg.syncid,
        });
    }
    let mut sum = Summary::default();
    for e in msg.entries() {
        let e = e?;
        let r = check(cfg, msg.version, e);
        if r.is_ok() {
            sum.applied += 1;
        } else {
            sum.skipped += 1;
        }
        f(r);
    }
    Ok(sum)
}

fn check<'a>(
    cfg: &BackupConfig,
    version: Version,
    e: ConnEntry<'a>,
) -> Result<SyncUpdate<'a>, SkipReason> {
    if e.unknown_mandatory_option {
        return Err(SkipReason::UnknownMandatoryOption);
    }
    let flags = match version {
        Version::V1 => (e.flags & flags::BACKUP_MASK) | flags::SYNC,
        Version::V0 => (e.flags | flags::SYNC) & !flags::HASHED,
    };
    let template = flags & flags::TEMPLATE != 0;
    if !template {
        let n = proto::num_states(e.protocol).ok_or(SkipReason::UnknownProtocol(e.protocol))?;
        if e.state >= n {
            return Err(SkipReason::BadState {
                protocol: e.protocol,
                state: e.state,
            });
        }
    }
    if let Some(_data) = e.pe_data {
        match e.pe_name {
            None => return Err(SkipReason::PeDataWithoutName),
            Some(n) if !KNOWN_PE.contains(&n) => return Err(SkipReason::UnknownPe),
            Some(_) => {}
        }
    }
    let timeout_from_message = e.timeout > 0;
    let timeout = if timeout_from_message {
        Duration::from_secs(u64::from(e.timeout))
    } else {
        cfg.timeouts
            .for_entry(e.protocol, e.state, template)
            .unwrap_or(proto::TEMPLATE_TIMEOUT)
    };
    Ok(SyncUpdate {
        flags,
        state: e.state,
        timeout,
        in_pkts: cfg.threshold,
        seq: e.seq,
        timeout_from_message,
        entry: e,
    })
}

/// What the backup's table holds for the entry's key (protocol, client
/// address and port, virtual address and port; templates are looked up
/// among templates).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Existing {
    /// Destination address of the local entry.
    pub daddr: IpAddr,
    /// Destination port of the local entry.
    pub dport: u16,
    /// Flags of the local entry.
    pub flags: u32,
    /// Whether the local entry is bound to a destination.
    pub bound: bool,
}

/// Counter movement on the bound destination when an update flips INACTIVE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CounterMove {
    /// activeconns -1, inactconns +1.
    ToInactive,
    /// activeconns +1, inactconns -1.
    ToActive,
}

/// What to do with the local table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Apply {
    /// Create the entry with these flags (bind it to a destination matching
    /// af, daddr, dport, vaddr, vport, protocol, fwmark when one exists;
    /// otherwise keep it unbound).
    Create {
        /// Flags of the new entry.
        flags: u32,
    },
    /// Update the existing entry: set these flags, the state, timeout,
    /// packet counter and sequence data; try to bind it if unbound.
    Update {
        /// Merged flags (INACTIVE and sequence bits from the message).
        flags: u32,
        /// Counter movement on its destination.
        counters: Option<CounterMove>,
    },
    /// The local connection points to another destination and the message
    /// is not an expiry: expire the local one now and create a new entry.
    Replace {
        /// Flags of the new entry.
        flags: u32,
    },
    /// The local connection points to another destination and the message
    /// reports an inactive state of the old mapping: ignore it.
    IgnoreStale,
}

/// `ip_vs_proc_conn`: the table operation for `u` given the local entry.
pub fn decide(u: &SyncUpdate<'_>, existing: Option<&Existing>) -> Apply {
    let template = u.is_template();
    let Some(x) = existing else {
        return Apply::Create { flags: u.flags };
    };
    if !template && (x.dport != u.entry.dport || x.daddr != u.entry.daddr) {
        return if u.flags & flags::INACTIVE == 0 {
            Apply::Replace { flags: u.flags }
        } else {
            Apply::IgnoreStale
        };
    }
    let counters = if (x.flags ^ u.flags) & flags::INACTIVE != 0 && !template && x.bound {
        Some(if u.flags & flags::INACTIVE != 0 {
            CounterMove::ToInactive
        } else {
            CounterMove::ToActive
        })
    } else {
        None
    };
    Apply::Update {
        flags: (u.flags & flags::BACKUP_UPD_MASK) | (x.flags & !flags::BACKUP_UPD_MASK),
        counters,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{IPPROTO_TCP, IPPROTO_UDP, tcp};
    use crate::wire::MessageBuilder;

    fn entry(flags: u32, state: u16, timeout: u32) -> ConnEntry<'static> {
        ConnEntry {
            protocol: IPPROTO_TCP,
            caddr: IpAddr::from([10, 0, 1, 2]),
            vaddr: IpAddr::from([10, 0, 1, 100]),
            daddr: IpAddr::from([10, 0, 2, 2]),
            cport: 41000,
            vport: 80,
            dport: 80,
            flags,
            state,
            fwmark: 0,
            timeout,
            seq: None,
            pe_data: None,
            pe_name: None,
            unknown_mandatory_option: false,
        }
    }

    fn msg(version: Version, syncid: u8, es: &[ConnEntry<'_>]) -> Vec<u8> {
        let mut m = MessageBuilder::new(version, syncid, 1472, 0);
        for e in es {
            m.push(e).unwrap();
        }
        m.finish()
    }

    fn collect<'a>(
        cfg: &BackupConfig,
        data: &'a [u8],
    ) -> (
        Result<Summary, DatagramError>,
        Vec<Result<SyncUpdate<'a>, SkipReason>>,
    ) {
        let mut v = vec![];
        let r = process(cfg, data, |u| v.push(u));
        (r, v)
    }

    #[test]
    fn syncid_filter() {
        let data = msg(Version::V1, 7, &[entry(0, tcp::ESTABLISHED, 900)]);
        let any = BackupConfig::default();
        assert_eq!(collect(&any, &data).0.unwrap().applied, 1);
        let seven = BackupConfig {
            syncid: 7,
            ..BackupConfig::default()
        };
        assert_eq!(collect(&seven, &data).0.unwrap().applied, 1);
        let eight = BackupConfig {
            syncid: 8,
            ..BackupConfig::default()
        };
        assert_eq!(
            collect(&eight, &data).0,
            Err(DatagramError::SyncId { got: 7, ours: 8 })
        );
    }

    #[test]
    fn size_must_match_datagram() {
        let mut data = msg(Version::V1, 7, &[entry(0, tcp::ESTABLISHED, 900)]);
        data.push(0);
        assert!(matches!(
            collect(&BackupConfig::default(), &data).0,
            Err(DatagramError::Header(HeaderError::SizeMismatch { .. }))
        ));
    }

    #[test]
    fn flags_masks_and_timeouts() {
        let cfg = BackupConfig::default();
        // v1: NFCT (bit 16), HASHED and ONE_PACKET are not in BACKUP_MASK; SYNC is added.
        let raw =
            flags::FWD_DROUTE | flags::NOOUTPUT | flags::NFCT | flags::HASHED | flags::ONE_PACKET;
        let data = msg(Version::V1, 1, &[entry(raw, tcp::FIN_WAIT, 37)]);
        let (_, v) = collect(&cfg, &data);
        let u = v[0].clone().unwrap();
        assert_eq!(u.flags, flags::FWD_DROUTE | flags::NOOUTPUT | flags::SYNC);
        assert_eq!(u.timeout, Duration::from_secs(37));
        assert!(u.timeout_from_message);
        assert_eq!(u.in_pkts, 3);
        // v0: no timeout on the wire: FIN_WAIT default 120 s; only HASHED is dropped.
        let data = msg(Version::V0, 1, &[entry(raw & 0xffff, tcp::FIN_WAIT, 0)]);
        let (_, v) = collect(&cfg, &data);
        let u = v[0].clone().unwrap();
        assert_eq!(u.flags, (raw & 0xffff & !flags::HASHED) | flags::SYNC);
        assert_eq!(u.timeout, Duration::from_secs(120));
        assert!(!u.timeout_from_message);
        // v0 template: 3 minutes whatever the state.
        let data = msg(Version::V0, 1, &[entry(flags::TEMPLATE, 1, 0)]);
        let (_, v) = collect(&cfg, &data);
        assert_eq!(v[0].clone().unwrap().timeout, Duration::from_secs(180));
    }

    #[test]
    fn skips_do_not_stop_the_datagram() {
        let cfg = BackupConfig::default();
        let mut bad_proto = entry(0, 0, 10);
        bad_proto.protocol = 99;
        let bad_state = entry(0, tcp::COUNT, 10);
        let mut tpl_proto0 = entry(flags::TEMPLATE, 1, 60);
        tpl_proto0.protocol = 0;
        let mut pe_no_name = entry(0, tcp::ESTABLISHED, 10);
        pe_no_name.pe_data = Some(b"callid");
        let mut pe_unknown = entry(0, tcp::ESTABLISHED, 10);
        pe_unknown.pe_data = Some(b"callid");
        pe_unknown.pe_name = Some(b"xyz");
        let mut pe_sip = entry(0, tcp::ESTABLISHED, 10);
        pe_sip.pe_data = Some(b"callid");
        pe_sip.pe_name = Some(b"sip");
        let mut udp = entry(0, 0, 300);
        udp.protocol = IPPROTO_UDP;
        let data = msg(
            Version::V1,
            1,
            &[
                bad_proto, bad_state, tpl_proto0, pe_no_name, pe_unknown, pe_sip, udp,
            ],
        );
        let (r, v) = collect(&cfg, &data);
        assert_eq!(
            r,
            Ok(Summary {
                applied: 3,
                skipped: 4
            })
        );
        let kinds: Vec<_> = v.iter().map(|r| r.as_ref().err().copied()).collect();
        assert_eq!(
            kinds,
            vec![
                Some(SkipReason::UnknownProtocol(99)),
                Some(SkipReason::BadState {
                    protocol: 6,
                    state: 11
                }),
                None,
                Some(SkipReason::PeDataWithoutName),
                Some(SkipReason::UnknownPe),
                None,
                None
            ]
        );
    }

    #[test]
    fn decisions() {
        let cfg = BackupConfig::default();
        let data = msg(
            Version::V1,
            1,
            &[entry(flags::INACTIVE, tcp::FIN_WAIT, 120)],
        );
        let (_, v) = collect(&cfg, &data);
        let inactive = v[0].clone().unwrap();
        let data = msg(Version::V1, 1, &[entry(0, tcp::ESTABLISHED, 900)]);
        let (_, v) = collect(&cfg, &data);
        let active = v[0].clone().unwrap();

        assert_eq!(decide(&active, None), Apply::Create { flags: flags::SYNC });
        let same = Existing {
            daddr: IpAddr::from([10, 0, 2, 2]),
            dport: 80,
            flags: flags::HASHED, // a local, non-synced entry, active
            bound: true,
        };
        // Becoming inactive: counters move; INACTIVE comes from the message, the rest
        // (HASHED, no SYNC) stays local.
        assert_eq!(
            decide(&inactive, Some(&same)),
            Apply::Update {
                flags: flags::HASHED | flags::INACTIVE,
                counters: Some(CounterMove::ToInactive)
            }
        );
        assert_eq!(
            decide(&active, Some(&same)),
            Apply::Update {
                flags: flags::HASHED,
                counters: None
            }
        );
        let unbound = Existing {
            bound: false,
            flags: flags::INACTIVE,
            ..same
        };
        assert_eq!(
            decide(&active, Some(&unbound)),
            Apply::Update {
                flags: 0,
                counters: None
            }
        );
        let elsewhere = Existing {
            daddr: IpAddr::from([10, 0, 3, 2]),
            ..same
        };
        assert_eq!(
            decide(&active, Some(&elsewhere)),
            Apply::Replace { flags: flags::SYNC }
        );
        assert_eq!(decide(&inactive, Some(&elsewhere)), Apply::IgnoreStale);
    }
}
