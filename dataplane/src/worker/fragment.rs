//! Fragmented TCP/UDP datagrams: the first fragment goes through the pipeline like a whole
//! packet and leaves its session's rewrite in a small per-worker table keyed by (source,
//! destination, protocol, IP identification); later fragments, which have no ports, find it
//! there and get the same addresses (and TUN's outer header, DR's MACs).
//!
//! No reassembly: a later fragment that arrives before its first fragment, or whose entry was
//! overwritten or has expired, is dropped and counted (`fragment_no_session`,
//! `fragment_expired`). Memory stays bounded (one fixed table per family, allocated with the
//! worker) and senders emit the first fragment first, so in order delivery is the common case.
//! Several workers: a first fragment redirected to its session's owner leaves a redirect entry
//! here, so later fragments that arrive on the same worker (NICs hash fragments by addresses
//! only, so all fragments of a datagram do) follow it; a later fragment on a worker that saw
//! no first fragment is dropped as `fragment_no_session`.
//!
//! Frames reach this path only after [`crate::wire::parse_frame`] refused them as fragments:
//! whole packets pay nothing for it.

use core::hash::BuildHasher;
use core::net::{Ipv4Addr, Ipv6Addr};
use std::collections::hash_map::RandomState;

use crate::forward;
use crate::frame::Frame;
use crate::rewrite::Family;
use crate::session::{Direction, Session};
use crate::snapshot::Snapshot;
use crate::types::{L4Proto, PortIdx};
use crate::wire::{parse_fragment, DropReason, FragInfo, L3, L4};

use super::{account, classify, Pkt, Verdict, Worker};

/// Default entries per family ([`super::WorkerConfig::fragments`]).
pub const FRAGMENT_ENTRIES: usize = 1024;
/// Seconds (of the worker's clock) an entry serves later fragments after its first fragment:
/// 2 to 3 s, as the clock ticks in whole seconds.
pub const FRAGMENT_TTL: u32 = 2;

/// The datagram a fragment belongs to (RFC 791 / RFC 8200).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Key<A> {
    src: A,
    dst: A,
    id: u32,
    proto: u8,
}

/// What later fragments of a datagram get.
#[derive(Clone, Copy, Debug)]
enum Action<A: Family> {
    /// The first fragment's session, in the first fragment's direction.
    Forward(Session<A>, Direction),
    /// The first fragment went to this worker.
    Redirect(u16),
}

#[derive(Clone, Copy, Debug)]
struct Entry<A: Family> {
    key: Key<A>,
    /// Last second the entry is used.
    until: u32,
    action: Action<A>,
}

/// One family's fragment table: direct-mapped, fixed size; a new datagram overwrites whatever
/// its slot held (counted when that was live).
#[derive(Debug)]
pub(crate) struct FragTable<A: Family> {
    slots: Box<[Option<Entry<A>>]>,
    hasher: RandomState,
}

/// By hand for `clone_from`, which copies into the slots already allocated (the fuzz harness
/// resets one worker per input: [`super::Worker::copy_from`]).
impl<A: Family> Clone for FragTable<A> {
    fn clone(&self) -> Self {
        FragTable {
            slots: self.slots.clone(),
            hasher: self.hasher.clone(),
        }
    }

    fn clone_from(&mut self, from: &Self) {
        self.slots.clone_from(&from.slots);
        self.hasher.clone_from(&from.hasher);
    }
}

impl<A: Family + core::hash::Hash> FragTable<A> {
    /// A table of `n` entries (at least 1), allocated now.
    pub(crate) fn new(n: usize) -> Self {
        FragTable {
            slots: vec![None; n.max(1)].into_boxed_slice(),
            hasher: RandomState::new(),
        }
    }

    fn slot(&self, k: &Key<A>) -> usize {
        // The modulo of a 64-bit hash: the table size need not be a power of two.
        (self.hasher.hash_one(k) % self.slots.len() as u64) as usize
    }

    /// Record `action` for `k`'s later fragments; return true when a live entry of another
    /// datagram was overwritten.
    fn insert(&mut self, k: Key<A>, action: Action<A>, now: u32) -> bool {
        let i = self.slot(&k);
        let evicted = self.slots[i].is_some_and(|e| e.key != k && e.until >= now);
        self.slots[i] = Some(Entry {
            key: k,
            until: now.saturating_add(FRAGMENT_TTL),
            action,
        });
        evicted
    }

    fn get(&self, k: &Key<A>, now: u32) -> Result<Action<A>, DropReason> {
        match self.slots[self.slot(k)] {
            Some(e) if e.key == *k && e.until >= now => Ok(e.action),
            Some(e) if e.key == *k => Err(DropReason::FragmentExpired),
            _ => Err(DropReason::FragmentNoSession),
        }
    }
}

/// Both families' tables.
#[derive(Debug)]
pub(crate) struct Frags {
    v4: FragTable<Ipv4Addr>,
    v6: FragTable<Ipv6Addr>,
}

/// By hand for `clone_from`, as [`FragTable`]'s.
impl Clone for Frags {
    fn clone(&self) -> Self {
        Frags {
            v4: self.v4.clone(),
            v6: self.v6.clone(),
        }
    }

    fn clone_from(&mut self, from: &Self) {
        self.v4.clone_from(&from.v4);
        self.v6.clone_from(&from.v6);
    }
}

impl Frags {
    pub(crate) fn new(n: usize) -> Self {
        Frags {
            v4: FragTable::new(n),
            v6: FragTable::new(n),
        }
    }
}

/// The families with a fragment table.
pub(crate) trait FragFamily: Family + core::hash::Hash {
    fn table(f: &mut Frags) -> &mut FragTable<Self>;
}

impl FragFamily for Ipv4Addr {
    fn table(f: &mut Frags) -> &mut FragTable<Self> {
        &mut f.v4
    }
}

impl FragFamily for Ipv6Addr {
    fn table(f: &mut Frags) -> &mut FragTable<Self> {
        &mut f.v6
    }
}

impl Worker {
    /// A frame [`crate::wire::parse_frame`] refused as a fragment (`r`).
    #[cold]
    #[inline(never)]
    pub(super) fn fragment<F: Frame>(
        &mut self,
        snap: &Snapshot,
        now: u32,
        in_port: PortIdx,
        frame: &mut F,
    ) -> Verdict {
        let (p, info) = match parse_fragment(frame.data()) {
            Ok(x) => x,
            Err(r) => return classify::refused(snap, frame.data(), r),
        };
        let mut pkt = Pkt::new(snap, now, in_port, frame, &p);
        match p.l3 {
            L3::Ipv4 { src, dst } => self.fragment_ip(&mut pkt, src, dst, info),
            L3::Ipv6 { src, dst } => self.fragment_ip(&mut pkt, src, dst, info),
            L3::Arp => Verdict::Drop(DropReason::Ipv4Fragment),
        }
    }

    fn fragment_ip<A: FragFamily, F: Frame>(
        &mut self,
        pkt: &mut Pkt<'_, F>,
        src: A,
        dst: A,
        info: FragInfo,
    ) -> Verdict
    where
        L4: classify::IcmpOf<A>,
    {
        let key = Key {
            src,
            dst,
            id: info.id,
            proto: pkt.p.l4_proto,
        };
        if info.first {
            let v = self.classify(pkt);
            if info.more {
                self.remember(pkt, key, v);
            }
            return v;
        }
        match A::table(&mut self.frags).get(&key, pkt.now) {
            Ok(Action::Redirect(w)) => Verdict::Redirect(w),
            Ok(Action::Forward(s, dir)) => {
                let bytes = (pkt.p.l3_end - pkt.p.l3_off) as u64;
                account::packet(&self.counters, s.service(), s.backend_idx(), dir, bytes);
                let c = &self.counters;
                forward::later_fragment(pkt, &s, dir, c, &mut self.admit)
                    .unwrap_or_else(Verdict::Drop)
            }
            Err(r) => Verdict::Drop(r),
        }
    }

    /// After a first fragment's verdict `v`: record what its later fragments get.
    fn remember<A: FragFamily, F: Frame>(&mut self, pkt: &Pkt<'_, F>, key: Key<A>, v: Verdict) {
        let action = match v {
            Verdict::Redirect(w) => Action::Redirect(w),
            Verdict::Tx(_) | Verdict::TxFragment { .. } => {
                let (sport, dport, proto) = match pkt.p.l4 {
                    L4::Tcp {
                        src_port, dst_port, ..
                    } => (src_port, dst_port, L4Proto::Tcp),
                    L4::Udp { src_port, dst_port } => (src_port, dst_port, L4Proto::Udp),
                    _ => return,
                };
                let fk = A::flow_key(key.src, sport, key.dst, dport, proto);
                let t = A::sessions(&mut self.tables);
                let Some((slot, dir)) = t.lookup(&fk) else {
                    return;
                };
                let Some(&s) = t.get(slot) else {
                    return;
                };
                Action::Forward(s, dir)
            }
            _ => return,
        };
        self.counters.fragments_tracked.inc();
        if A::table(&mut self.frags).insert(key, action, pkt.now) {
            self.counters.fragments_evicted.inc();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: u32) -> Key<Ipv4Addr> {
        Key {
            src: Ipv4Addr::new(198, 18, 0, 1),
            dst: Ipv4Addr::new(198, 18, 0, 2),
            id,
            proto: 17,
        }
    }

    #[test]
    fn test_one_slot_table_evicts_and_expires() {
        let mut t = FragTable::<Ipv4Addr>::new(1);
        assert!(!t.insert(key(1), Action::Redirect(1), 10));
        assert!(matches!(t.get(&key(1), 12), Ok(Action::Redirect(1))));
        assert_eq!(t.get(&key(1), 13).unwrap_err(), DropReason::FragmentExpired);
        // Live: counted as evicted; the old key is gone.
        assert!(t.insert(key(2), Action::Redirect(2), 12));
        assert_eq!(
            t.get(&key(1), 12).unwrap_err(),
            DropReason::FragmentNoSession
        );
        // Expired: overwritten without counting.
        assert!(!t.insert(key(3), Action::Redirect(3), 20));
        // The same datagram again (a retransmission): not an eviction.
        assert!(!t.insert(key(3), Action::Redirect(3), 20));
    }
}
