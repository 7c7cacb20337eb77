//! Storage of one address family's connections: a slab of compact entries
//! in fixed 1024-entry chunks, two hash indices (client side and reply
//! side) and the timer wheel.
//!
//! Layout and cost (IPv4): an [`Entry<V4>`] is 68 bytes (four 4-byte
//! addresses, four ports, protocol/state/flags, destination, controlling
//! template, `n_control`, `in_pkts`, fwmark, timeout, the deadline and the
//! two wheel links). The slab wastes at most one chunk, and growing it
//! never moves entries. Each index costs one 8-byte bucket per entry at a
//! load between 3/8 and 3/4 (10.7 to 21.3 bytes). The reply index holds
//! only connections whose replies pass the director (NAT, FULLNAT), so a
//! DR/TUN connection costs 79 to 90 bytes and a NAT one 90 to 111 bytes.
//! An IPv6 entry is 116 bytes.
//!
//! Keys:
//! - client side: `<template?, protocol, caddr, cport, vaddr, vport>`.
//!   Templates (cport 0, protocol 0 for fwmark templates whose `vaddr`
//!   holds the mark) share the index with connections, told apart by the
//!   template bit, as the kernel's `ip_vs_ct_in_get` tells them apart by
//!   `IP_VS_CONN_F_TEMPLATE`;
//! - reply side: `<protocol, daddr, dport, raddr, rport>` where
//!   `raddr:rport` is the client (NAT) or the director's local address and
//!   port (FULLNAT).
//!
//! Lookups hash the key (no allocation) and compare entries only on a
//! 32-bit hash match.

use super::family::Family;
use super::flags;
use super::hash::KeyHasher;
use super::index::Index;
use super::wheel::{Links, NIL, Wheel};

/// One connection or persistence template.
#[derive(Debug, Clone, Copy)]
pub struct Entry<F: Family> {
    /// Client address (templates: masked by the service netmask).
    pub caddr: F::Addr,
    /// Virtual address (fwmark templates: the mark, see
    /// [`Family::fwmark_addr`]).
    pub vaddr: F::Addr,
    /// Real server address (unused when `flags::MIXED_AF` is set: the
    /// destination's address, of the other family, applies).
    pub daddr: F::Addr,
    /// FULLNAT local address.
    pub laddr: F::Addr,
    /// Client port.
    pub cport: u16,
    /// Virtual port.
    pub vport: u16,
    /// Real server port.
    pub dport: u16,
    /// FULLNAT local port.
    pub lport: u16,
    /// IP protocol number (0 for fwmark templates).
    pub proto: u8,
    /// Protocol state number (templates: 0 NONE, 1 ASSURED).
    pub state: u8,
    /// Kernel `IP_VS_CONN_F_*` bits plus internal ones ([`flags`]).
    pub flags: u16,
    /// Destination (`DestId.0`) or [`NIL`].
    pub dest: u32,
    /// Controlling template (slot id) or [`NIL`].
    pub control: u32,
    /// Number of connections this entry controls.
    pub n_control: u32,
    /// Packets seen client → server.
    pub in_pkts: u32,
    /// Firewall mark of the packet that created it.
    pub fwmark: u32,
    /// Current timeout in seconds.
    pub timeout: u32,
    deadline: [u32; 2],
    tprev: u32,
    tnext: u32,
}

impl<F: Family> Entry<F> {
    /// A fresh entry (not linked anywhere).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        proto: u8,
        caddr: F::Addr,
        cport: u16,
        vaddr: F::Addr,
        vport: u16,
        daddr: F::Addr,
        dport: u16,
        flags: u16,
    ) -> Entry<F> {
        Entry {
            caddr,
            vaddr,
            daddr,
            laddr: F::Addr::default(),
            cport,
            vport,
            dport,
            lport: 0,
            proto,
            state: 0,
            flags,
            dest: NIL,
            control: NIL,
            n_control: 0,
            in_pkts: 0,
            fwmark: 0,
            timeout: 0,
            deadline: [0, 0],
            tprev: NIL,
            tnext: NIL,
        }
    }

    /// Expiry instant in ms.
    #[inline]
    pub fn deadline(&self) -> u64 {
        (u64::from(self.deadline[1]) << 32) | u64::from(self.deadline[0])
    }

    #[inline]
    fn set_deadline(&mut self, t: u64) {
        self.deadline = [t as u32, (t >> 32) as u32];
    }

    /// Whether this is a persistence template.
    #[inline]
    pub fn is_template(&self) -> bool {
        self.flags & flags::TEMPLATE != 0
    }

    /// Whether replies are indexed for it.
    #[inline]
    fn wants_reply_index(&self) -> bool {
        self.flags & (flags::TEMPLATE | flags::ONE_PACKET | flags::NOOUTPUT) == 0
            && matches!(
                self.flags & flags::FWD_MASK,
                flags::FWD_MASQ | flags::FWD_FULLNAT
            )
    }

    /// The reply-side peer: local address for FULLNAT, else the client.
    #[inline]
    fn reply_peer(&self) -> (F::Addr, u16) {
        if self.flags & flags::FWD_MASK == flags::FWD_FULLNAT {
            (self.laddr, self.lport)
        } else {
            (self.caddr, self.cport)
        }
    }
}

/// Client-side key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InKey<A> {
    /// Template lookup?
    pub template: bool,
    /// Protocol number.
    pub proto: u8,
    /// Client address.
    pub caddr: A,
    /// Client port.
    pub cport: u16,
    /// Virtual address.
    pub vaddr: A,
    /// Virtual port.
    pub vport: u16,
}

/// Reply-side key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutKey<A> {
    /// Protocol number.
    pub proto: u8,
    /// Real server address (the reply's source).
    pub daddr: A,
    /// Real server port.
    pub dport: u16,
    /// Client or FULLNAT local address (the reply's destination).
    pub raddr: A,
    /// Its port.
    pub rport: u16,
}

/// One family's table.
#[derive(Debug)]
pub struct Table<F: Family> {
    slab: Slab<F>,
    free: u32,
    live: usize,
    templates: usize,
    by_in: Index,
    by_out: Index,
    wheel: Wheel,
    /// Hashers keyed by the seed, built once (client side, reply side).
    hash_in: KeyHasher,
    hash_out: KeyHasher,
}

impl<F: Family> Default for Table<F> {
    fn default() -> Self {
        Table {
            slab: Slab::default(),
            free: NIL,
            live: 0,
            templates: 0,
            by_in: Index::default(),
            by_out: Index::default(),
            wheel: Wheel::default(),
            hash_in: in_hasher(super::hash::DEFAULT_SEED),
            hash_out: out_hasher(super::hash::DEFAULT_SEED),
        }
    }
}

fn in_hasher(seed: u64) -> KeyHasher {
    KeyHasher::new(seed)
}

fn out_hasher(seed: u64) -> KeyHasher {
    KeyHasher::new(seed ^ 0x6f75_745f_6b65_7973)
}

/// Entries per slab chunk.
const CHUNK_BITS: u32 = 10;
const CHUNK: usize = 1 << CHUNK_BITS;

/// Entry storage in fixed chunks of [`CHUNK`] entries: growing never moves
/// entries (no multi-megabyte copy stalls a packet), and at most one chunk
/// is partly unused.
#[derive(Debug)]
struct Slab<F: Family> {
    /// Fixed-size chunks: an index masked to `CHUNK - 1` needs no bounds
    /// check inside the chunk.
    chunks: Vec<Box<[Entry<F>; CHUNK]>>,
    len: u32,
}

impl<F: Family> Default for Slab<F> {
    fn default() -> Self {
        Slab {
            chunks: Vec::new(),
            len: 0,
        }
    }
}

impl<F: Family> Slab<F> {
    /// Append an entry, returning its id.
    fn push(&mut self, e: Entry<F>) -> u32 {
        let id = self.len;
        if id as usize == self.chunks.len() * CHUNK {
            let mut blank = e;
            blank.flags = flags::FREE;
            let chunk: Box<[Entry<F>; CHUNK]> =
                match vec![blank; CHUNK].into_boxed_slice().try_into() {
                    Ok(c) => c,
                    Err(_) => unreachable!("a chunk has CHUNK entries"),
                };
            self.chunks.push(chunk);
        }
        self.len += 1;
        self[id] = e;
        id
    }

    fn heap_bytes(&self) -> usize {
        self.chunks.len() * CHUNK * std::mem::size_of::<Entry<F>>()
            + self.chunks.capacity() * std::mem::size_of::<Box<[Entry<F>; CHUNK]>>()
    }

    fn iter(&self) -> impl Iterator<Item = &Entry<F>> + '_ {
        self.chunks
            .iter()
            .flat_map(|c| c.iter())
            .take(self.len as usize)
    }
}

impl<F: Family> std::ops::Index<u32> for Slab<F> {
    type Output = Entry<F>;
    #[inline]
    fn index(&self, id: u32) -> &Entry<F> {
        &self.chunks[(id >> CHUNK_BITS) as usize][id as usize & (CHUNK - 1)]
    }
}

impl<F: Family> std::ops::IndexMut<u32> for Slab<F> {
    #[inline]
    fn index_mut(&mut self, id: u32) -> &mut Entry<F> {
        &mut self.chunks[(id >> CHUNK_BITS) as usize][id as usize & (CHUNK - 1)]
    }
}

impl<F: Family> Links for Slab<F> {
    #[inline]
    fn prev(&self, id: u32) -> u32 {
        self[id].tprev
    }
    #[inline]
    fn set_prev(&mut self, id: u32, v: u32) {
        self[id].tprev = v;
    }
    #[inline]
    fn next(&self, id: u32) -> u32 {
        self[id].tnext
    }
    #[inline]
    fn set_next(&mut self, id: u32, v: u32) {
        self[id].tnext = v;
    }
    #[inline]
    fn deadline(&self, id: u32) -> u64 {
        self[id].deadline()
    }
}

impl<F: Family> Table<F> {
    /// Re-key the hash (only while empty; returns false otherwise).
    pub fn set_seed(&mut self, seed: u64) -> bool {
        if self.live != 0 {
            return false;
        }
        self.hash_in = in_hasher(seed);
        self.hash_out = out_hasher(seed);
        true
    }

    /// Live connections and templates.
    pub fn len(&self) -> usize {
        self.live
    }

    /// Live templates.
    pub fn templates(&self) -> usize {
        self.templates
    }

    /// Heap bytes held (slab, both indices, wheel heads).
    pub fn heap_bytes(&self) -> usize {
        self.slab.heap_bytes()
            + self.by_in.heap_bytes()
            + self.by_out.heap_bytes()
            + std::mem::size_of::<Wheel>()
            + 385 * 4
    }

    #[inline]
    fn hash_in(&self, k: &InKey<F::Addr>) -> u32 {
        let mut h = self.hash_in;
        h.write(
            u64::from(k.proto)
                | (u64::from(k.template) << 8)
                | (u64::from(k.cport) << 16)
                | (u64::from(k.vport) << 32),
        );
        F::hash_addrs(&mut h, k.caddr, k.vaddr);
        h.finish()
    }

    #[inline]
    fn hash_out(&self, k: &OutKey<F::Addr>) -> u32 {
        let mut h = self.hash_out;
        h.write(u64::from(k.proto) | (u64::from(k.dport) << 16) | (u64::from(k.rport) << 32));
        F::hash_addrs(&mut h, k.daddr, k.raddr);
        h.finish()
    }

    fn in_key(e: &Entry<F>) -> InKey<F::Addr> {
        InKey {
            template: e.is_template(),
            proto: e.proto,
            caddr: e.caddr,
            cport: e.cport,
            vaddr: e.vaddr,
            vport: e.vport,
        }
    }

    fn out_key(e: &Entry<F>) -> OutKey<F::Addr> {
        let (raddr, rport) = e.reply_peer();
        OutKey {
            proto: e.proto,
            daddr: e.daddr,
            dport: e.dport,
            raddr,
            rport,
        }
    }

    /// The entry in slot `id` (must be live).
    #[inline]
    pub fn get(&self, id: u32) -> &Entry<F> {
        &self.slab[id]
    }

    /// The entry in slot `id`, mutably. Changing key fields of an indexed
    /// entry requires [`Table::unhash`] / [`Table::hash`] around it.
    #[inline]
    pub fn get_mut(&mut self, id: u32) -> &mut Entry<F> {
        &mut self.slab[id]
    }

    /// Whether slot `id` holds a live entry.
    #[inline]
    pub fn is_live(&self, id: u32) -> bool {
        id < self.slab.len && self.slab[id].flags & flags::FREE == 0
    }

    /// Client-side lookup.
    #[inline]
    pub fn find_in(&self, k: &InKey<F::Addr>) -> Option<u32> {
        let h = self.hash_in(k);
        self.by_in.find(h, |id| Self::in_key(&self.slab[id]) == *k)
    }

    /// Reply-side lookup.
    #[inline]
    pub fn find_out(&self, k: &OutKey<F::Addr>) -> Option<u32> {
        if self.by_out.is_empty() {
            // DR/TUN only: replies are not indexed, skip the hashing.
            return None;
        }
        let h = self.hash_out(k);
        self.by_out
            .find(h, |id| Self::out_key(&self.slab[id]) == *k)
    }

    /// Store `e`, index it (unless one-packet) and return its slot. The
    /// entry is not armed yet.
    pub fn insert(&mut self, mut e: Entry<F>) -> u32 {
        e.tprev = NIL;
        e.tnext = NIL;
        e.flags &= !(flags::FREE | flags::HASHED | flags::OUT_HASHED);
        let id = if self.free != NIL {
            let id = self.free;
            self.free = self.slab[id].tnext;
            self.slab[id] = e;
            id
        } else {
            self.slab.push(e)
        };
        self.live += 1;
        if e.is_template() {
            self.templates += 1;
        }
        if e.flags & flags::ONE_PACKET == 0 {
            self.hash(id);
        }
        id
    }

    /// Put `id` into the indices its flags call for.
    pub fn hash(&mut self, id: u32) {
        let e = self.slab[id];
        if e.flags & flags::HASHED == 0 {
            let h = self.hash_in(&Self::in_key(&e));
            self.by_in.insert(h, id);
            self.slab[id].flags |= flags::HASHED;
        }
        if e.flags & flags::OUT_HASHED == 0 && e.wants_reply_index() {
            let h = self.hash_out(&Self::out_key(&e));
            self.by_out.insert(h, id);
            self.slab[id].flags |= flags::OUT_HASHED;
        }
    }

    /// Take `id` out of both indices (it stays live).
    pub fn unhash(&mut self, id: u32) {
        let e = self.slab[id];
        if e.flags & flags::HASHED != 0 {
            let h = self.hash_in(&Self::in_key(&e));
            self.by_in.remove(h, id);
        }
        if e.flags & flags::OUT_HASHED != 0 {
            let h = self.hash_out(&Self::out_key(&e));
            self.by_out.remove(h, id);
        }
        self.slab[id].flags &= !(flags::HASHED | flags::OUT_HASHED);
    }

    /// Remove `id`: unindex, disarm, free the slot. Returns the entry.
    pub fn remove(&mut self, id: u32) -> Entry<F> {
        self.unhash(id);
        self.wheel.remove(&mut self.slab, id);
        let e = self.slab[id];
        let slot = &mut self.slab[id];
        slot.flags = flags::FREE;
        slot.tnext = self.free;
        slot.tprev = NIL;
        slot.dest = NIL;
        slot.control = NIL;
        self.free = id;
        self.live -= 1;
        if e.is_template() {
            self.templates -= 1;
        }
        e
    }

    /// Set the deadline of `id` to `at` ms and (re)arm its timer.
    #[inline]
    pub fn arm(&mut self, id: u32, at: u64) {
        let old = self.slab[id].deadline();
        self.slab[id].set_deadline(at);
        self.wheel.rearm(&mut self.slab, id, old);
    }

    /// Whether nothing is due at `now` (see [`Wheel::idle`]).
    #[inline]
    pub fn idle(&self, now: u64) -> bool {
        self.wheel.idle(now)
    }

    /// Next entry due at `now` (unlinked from the wheel, still stored).
    #[inline]
    pub fn pop_due(&mut self, now: u64) -> Option<u32> {
        self.wheel.pop(&mut self.slab, now)
    }

    /// Live entries with their slots.
    pub fn iter(&self) -> impl Iterator<Item = (u32, &Entry<F>)> + '_ {
        self.slab
            .iter()
            .enumerate()
            .filter(|(_, e)| e.flags & flags::FREE == 0)
            .map(|(i, e)| (i as u32, e))
    }
}

#[cfg(test)]
mod tests {
    use super::super::family::{V4, V6};
    use super::*;

    fn conn(cport: u16, fwd: u16) -> Entry<V4> {
        Entry::new(
            6,
            0x0a00_0064,
            cport,
            0x0a00_0001,
            80,
            0x0a00_000b,
            8080,
            fwd,
        )
    }

    #[test]
    fn entry_sizes() {
        assert_eq!(std::mem::size_of::<Entry<V4>>(), 68);
        assert_eq!(std::mem::size_of::<Entry<V6>>(), 116);
    }

    #[test]
    fn both_directions_found_and_removed() {
        let mut t = Table::<V4>::default();
        let nat = t.insert(conn(1000, flags::FWD_MASQ));
        let dr = t.insert(conn(1001, flags::FWD_ROUTE | flags::NOOUTPUT));
        let k = |cport| InKey {
            template: false,
            proto: 6,
            caddr: 0x0a00_0064,
            cport,
            vaddr: 0x0a00_0001,
            vport: 80,
        };
        let o = |rport| OutKey {
            proto: 6,
            daddr: 0x0a00_000b,
            dport: 8080,
            raddr: 0x0a00_0064,
            rport,
        };
        assert_eq!(t.find_in(&k(1000)), Some(nat));
        assert_eq!(t.find_in(&k(1001)), Some(dr));
        assert_eq!(t.find_out(&o(1000)), Some(nat));
        assert_eq!(t.find_out(&o(1001)), None, "DR replies are not indexed");
        assert_eq!(
            t.find_in(&InKey {
                template: true,
                ..k(1000)
            }),
            None,
            "a connection is not a template"
        );
        t.remove(nat);
        assert_eq!(t.find_in(&k(1000)), None);
        assert_eq!(t.find_out(&o(1000)), None);
        assert_eq!(t.len(), 1);
        // The freed slot is reused.
        assert_eq!(t.insert(conn(1002, flags::FWD_MASQ)), nat);
    }

    #[test]
    fn fullnat_reply_key_uses_local_address() {
        let mut t = Table::<V4>::default();
        let mut e = conn(1000, flags::FWD_FULLNAT);
        e.laddr = 0xc0a8_0001;
        e.lport = 40000;
        let id = t.insert(e);
        let o = OutKey {
            proto: 6,
            daddr: 0x0a00_000b,
            dport: 8080,
            raddr: 0xc0a8_0001,
            rport: 40000,
        };
        assert_eq!(t.find_out(&o), Some(id));
        assert_eq!(
            t.find_out(&OutKey {
                raddr: 0x0a00_0064,
                rport: 1000,
                ..o
            }),
            None
        );
    }

    #[test]
    fn timers_fire_and_removed_entries_do_not() {
        let mut t = Table::<V4>::default();
        let a = t.insert(conn(1, flags::FWD_MASQ));
        let b = t.insert(conn(2, flags::FWD_MASQ));
        t.arm(a, 5000);
        t.arm(b, 3000);
        t.arm(a, 9000); // extended
        assert_eq!(t.pop_due(2999), None);
        assert_eq!(t.pop_due(3000), Some(b));
        t.remove(b);
        assert_eq!(t.pop_due(8999), None);
        assert_eq!(t.pop_due(9000), Some(a));
        let c = t.insert(conn(3, flags::FWD_MASQ));
        t.arm(c, 20_000);
        t.remove(c);
        assert_eq!(t.pop_due(100_000), None);
    }
}
