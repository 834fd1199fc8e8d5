//! FullNAT local ports, free lists per (local address, real server): a new flow takes the next
//! free port of its pool instead of probing the session index for a free reply tuple.
//!
//! One [`PortPool`] per distinct reply tuple without its local port, `(laddr, backend, bport,
//! proto)`: two services sharing a real server and a local address share its pool, as they
//! share the tuple space. A pool is a bitmap over the 65536 ports (8 KiB) plus a one-bit-per-word
//! summary (128 bytes): a set bit is a port this worker may not hand out, either taken by a
//! session or not this worker's (below `lport_min`, another worker's under modulo steering, or
//! one whose reply RSS delivers elsewhere). Taking a port is a few word reads from a cursor
//! that moves on (a freed port is reused last, not first: the real server's TIME_WAIT for the
//! old connection has the whole cycle to end); giving one back clears its bit.
//!
//! Pools are built when the worker takes a new snapshot generation ([`LocalPorts::rebuild`],
//! the allocation happens there, never per packet): one per key that a FullNAT real server
//! (or sorry server) and its service's local addresses name, at most [`MAX_POOLS`] (bounded
//! memory, about 8.3 KiB each). A key whose pool survives the reload keeps its bitmap. A new
//! pool is a copy of the first one of its ownership class ([`Ownership::class`]: one class under
//! modulo steering, at most two per redirection-table entry under RSS), so 1024 new pools take
//! about 1-14 ms (modulo) or 44-87 ms (RSS, 128-entry table) on the worker at that reload,
//! against 170-210 ms when each was built port by port (measured on the shared 2-vCPU VM).
//! Real servers on port 0 (any-port services, whose reply port is the client's destination
//! port) and keys beyond the cap have no pool: their flows fall back to probing the index.
//!
//! A bit is a hint the session table confirms: the insert of a new session still checks its
//! reply key, so a port held by a session the pool does not know about (a pool built after
//! the session started, a synced session whose pool came later) is refused there and the
//! caller tries the next port, leaving that bit set until the session goes.

use core::hash::{Hash, Hasher};
use core::net::IpAddr;
use std::collections::HashMap;

use rustc_hash::FxBuildHasher;

use crate::owner::ReplySteering;
use crate::session::FwdMethod;
use crate::snapshot::Snapshot;
use crate::types::{BackendIdx, L4Proto};

/// Ports per pool: all of them (the bitmap is indexed by port).
const PORTS: usize = 1 << 16;
/// 64-bit words in a pool's bitmap.
const WORDS: usize = PORTS / 64;
/// Words of the summary (one bit per bitmap word: set when that word is full).
const SUMMARY: usize = WORDS / 64;

/// Most pools a worker keeps (about 8.3 KiB each: 8.3 MiB at most per worker); keys beyond
/// fall back to probing.
pub(super) const MAX_POOLS: usize = 1024;

/// Free ports of one `(laddr, backend, bport, proto)` reply tuple on one worker.
#[derive(Clone)]
pub(super) struct PortPool {
    /// Bit `p`: port `p` is taken or not this worker's.
    taken: Box<[u64]>,
    /// Bit `w`: `taken[w]` is all ones.
    full: [u64; SUMMARY],
    /// Ports free now.
    free: u32,
    /// RSS steering: the Toeplitz hash of the tuple without the local port.
    partial: u32,
    /// Where this pool's next search starts. A cursor per pool: a freed port of this reply
    /// tuple is reused only once the pool has handed out all its others (the longest time the
    /// real server's TIME_WAIT can have), and a pool's consecutive flows take consecutive bits
    /// of one word, which stays in cache between its visits (one cursor for the worker moved
    /// every pool's word on between visits: 15% of a new FullNAT flow's `perf` samples).
    next: u32,
}

impl core::fmt::Debug for PortPool {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PortPool")
            .field("free", &self.free)
            .finish_non_exhaustive()
    }
}

impl PortPool {
    /// A pool whose free ports are those `owned` says are this worker's.
    pub(super) fn new(owned: impl Fn(u16) -> bool, partial: u32) -> PortPool {
        let mut p = PortPool {
            taken: vec![!0u64; WORDS].into_boxed_slice(),
            full: [!0u64; SUMMARY],
            free: 0,
            partial,
            next: 0,
        };
        for port in 0..=u16::MAX {
            if owned(port) {
                p.clear(port);
            }
        }
        p
    }

    /// Ports free now.
    pub(super) fn free(&self) -> u32 {
        self.free
    }

    /// Take the first free port at or after `from` (wrapping round), `None` when none is left.
    /// A few word reads: `from`'s word, else the summary's first word with a free port.
    #[inline]
    pub(super) fn alloc(&mut self, from: u32) -> Option<u16> {
        if self.free == 0 {
            return None;
        }
        let start = from as usize % PORTS;
        let w = start / 64;
        let here = !self.taken[w] & (!0u64 << (start % 64));
        let (w, bits) = if here != 0 {
            (w, here)
        } else {
            let w = self.nonfull_word(w + 1)?;
            (w, !self.taken[w])
        };
        let port = (w * 64) as u32 + bits.trailing_zeros();
        let port = u16::try_from(port).ok()?;
        self.set(port);
        Some(port)
    }

    /// The first word at or after `from` (wrapping) with a free port.
    #[inline]
    fn nonfull_word(&self, from: usize) -> Option<usize> {
        let from = from % WORDS;
        let s = from / 64;
        let m = !self.full[s] & (!0u64 << (from % 64));
        if m != 0 {
            return Some(s * 64 + m.trailing_zeros() as usize);
        }
        // The other summary words, then this one's low bits again (wrapped round).
        (1..=SUMMARY).find_map(|k| {
            let i = (s + k) % SUMMARY;
            let m = !self.full[i];
            (m != 0).then(|| i * 64 + m.trailing_zeros() as usize)
        })
    }

    /// Mark `port` taken; false if it already was (or is not this worker's).
    #[inline]
    pub(super) fn set(&mut self, port: u16) -> bool {
        let (w, b) = (usize::from(port) / 64, 1u64 << (port % 64));
        if self.taken[w] & b != 0 {
            return false;
        }
        self.taken[w] |= b;
        if self.taken[w] == !0 {
            self.full[w / 64] |= 1 << (w % 64);
        }
        self.free -= 1;
        true
    }

    /// Mark `port` free; false if it already was. The caller checks that it is this worker's.
    #[inline]
    pub(super) fn clear(&mut self, port: u16) -> bool {
        let (w, b) = (usize::from(port) / 64, 1u64 << (port % 64));
        if self.taken[w] & b == 0 {
            return false;
        }
        self.taken[w] &= !b;
        self.full[w / 64] &= !(1 << (w % 64));
        self.free += 1;
        true
    }

    /// Bytes this pool holds.
    pub(super) const fn memory_bytes() -> usize {
        WORDS * 8 + core::mem::size_of::<PortPool>()
    }
}

/// No pool.
const NONE: u32 = u32::MAX;

/// What [`LocalPorts::alloc`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Alloc {
    /// This free port, now taken.
    Port(u16),
    /// The pool has no free port.
    Dry,
    /// The key has no pool (port-0 real server, or beyond [`MAX_POOLS`]).
    NoPool,
}

/// A pool's key: the reply tuple without the local port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct PoolKey {
    /// Local address.
    pub laddr: IpAddr,
    /// Real server address.
    pub backend: IpAddr,
    /// Real server port.
    pub bport: u16,
    /// Protocol.
    pub proto: L4Proto,
}

impl Hash for PoolKey {
    fn hash<H: Hasher>(&self, h: &mut H) {
        // Addresses as their bits (IpAddr's derived hash adds a discriminant per field).
        let bits = |a: IpAddr| match a {
            IpAddr::V4(a) => u128::from(u32::from(a)),
            IpAddr::V6(a) => u128::from(a) ^ (1 << 127),
        };
        h.write_u128(bits(self.laddr));
        h.write_u128(bits(self.backend));
        h.write_u32(u32::from(self.bport) << 8 | self.proto as u32);
    }
}

/// Which ports are a worker's: at or above `lport_min`, and either `port % workers == id`
/// (modulo steering) or whose reply RSS delivers to `id`.
#[derive(Clone, Debug)]
pub(super) struct Ownership {
    /// This worker.
    pub id: u16,
    /// Number of workers.
    pub workers: u16,
    /// Lowest FullNAT local port.
    pub lport_min: u16,
    /// How replies are steered.
    pub steering: ReplySteering,
}

impl Ownership {
    /// Which ports are this worker's depends on the key only through this: nothing under
    /// modulo steering; under RSS, the redirection-table bits of the hash's fixed part (the
    /// table is indexed by the hash's low bits) and the family.
    fn class(&self, partial: u32, v6: bool) -> (u32, bool) {
        match &self.steering {
            ReplySteering::Modulo => (0, false),
            ReplySteering::Rss(rs) => {
                let mask = u32::try_from(rs.reta().len().saturating_sub(1)).unwrap_or(u32::MAX);
                (partial & mask, v6)
            }
        }
    }

    /// The fixed part of the key's reply tuple hash (RSS steering; 0 otherwise).
    fn partial(&self, k: &PoolKey) -> u32 {
        match &self.steering {
            ReplySteering::Rss(rs) => rs
                .toeplitz()
                .partial(k.backend, k.laddr, k.bport)
                .unwrap_or(0),
            ReplySteering::Modulo => 0,
        }
    }

    /// Whether `port` of a pool with hash part `partial` (family `v6`) is this worker's.
    #[inline]
    fn owns(&self, partial: u32, v6: bool, port: u16) -> bool {
        if port < self.lport_min {
            return false;
        }
        match &self.steering {
            ReplySteering::Modulo => port % self.workers.max(1) == self.id,
            ReplySteering::Rss(rs) => rs.worker(rs.lport_hash(partial, v6, port)) == self.id,
        }
    }
}

/// A worker's pools, by key.
#[derive(Clone, Debug)]
pub(super) struct LocalPorts {
    own: Ownership,
    pools: Vec<PortPool>,
    /// Pool by key: where sessions give their ports back (off the per-packet path).
    keys: HashMap<PoolKey, u32, FxBuildHasher>,
    /// Per backend index: where its run of [`Self::slots`] starts ([`NONE`]: no FullNAT pools).
    first: Vec<u32>,
    /// Per backend and position in its service's local addresses: the pool ([`NONE`]: none).
    /// The new-flow path finds its pool with these two reads, no hashing.
    slots: Vec<u32>,
}

impl LocalPorts {
    /// No pools yet ([`Self::rebuild`] makes them).
    pub(super) fn new(own: Ownership) -> LocalPorts {
        LocalPorts {
            own,
            pools: Vec::new(),
            keys: HashMap::default(),
            first: Vec::new(),
            slots: Vec::new(),
        }
    }

    /// Number of pools.
    pub(super) fn len(&self) -> usize {
        self.pools.len()
    }

    /// Free ports in all pools.
    pub(super) fn free_ports(&self) -> u64 {
        self.pools.iter().map(|p| u64::from(p.free())).sum()
    }

    /// Bytes held by the pools.
    pub(super) fn memory_bytes(&self) -> usize {
        self.pools.len() * PortPool::memory_bytes()
    }

    /// The keys `snap` needs: for each FullNAT real server (and sorry server) not on port 0,
    /// each of its service's local addresses (by position) of the same family.
    fn wanted(snap: &Snapshot) -> Vec<(BackendIdx, Vec<Option<PoolKey>>)> {
        let mut out = Vec::new();
        for svc in snap.services.iter().flatten() {
            for &bid in svc.backends.iter().chain(svc.sorry.as_ref()) {
                let Some(b) = snap.backend(bid) else {
                    continue;
                };
                if b.method != FwdMethod::FullNat || b.port == 0 {
                    continue;
                }
                let keys = svc.laddrs.iter().map(|&laddr| {
                    (laddr.is_ipv4() == b.addr.is_ipv4()).then_some(PoolKey {
                        laddr,
                        backend: b.addr,
                        bport: b.port,
                        proto: svc.proto,
                    })
                });
                out.push((bid, keys.collect()));
            }
        }
        out
    }

    /// Make the pools `snap` needs, keeping those whose key it still names (their ports in
    /// use stay taken) and dropping the others (their sessions give ports back to nothing).
    /// Returns how many pools are new: the caller marks the ports its sessions hold in them
    /// ([`Self::claim`]). Allocates: once per configuration change, off the per-packet path.
    pub(super) fn rebuild(&mut self, snap: &Snapshot) -> usize {
        let mut fresh = 0;
        let mut old_pools: Vec<Option<PortPool>> = core::mem::take(&mut self.pools)
            .into_iter()
            .map(Some)
            .collect();
        let old_keys = core::mem::take(&mut self.keys);
        // Fresh pools by ownership class, for this rebuild only.
        let mut made: HashMap<(u32, bool), PortPool, FxBuildHasher> = HashMap::default();
        self.first.clear();
        self.slots.clear();
        for (bid, keys) in Self::wanted(snap) {
            let bid = bid.index();
            if self.first.len() <= bid {
                self.first.resize(bid + 1, NONE);
            }
            self.first[bid] = self.slots.len() as u32;
            for key in keys {
                let Some(key) = key else {
                    self.slots.push(NONE);
                    continue;
                };
                if let Some(&i) = self.keys.get(&key) {
                    self.slots.push(i);
                    continue;
                }
                if self.pools.len() >= MAX_POOLS {
                    self.slots.push(NONE);
                    continue;
                }
                let kept = old_keys
                    .get(&key)
                    .and_then(|&i| old_pools.get_mut(i as usize)?.take());
                let pool = kept.unwrap_or_else(|| {
                    fresh += 1;
                    let partial = self.own.partial(&key);
                    let v6 = key.laddr.is_ipv6();
                    let own = &self.own;
                    // Pools of one ownership class start alike: build once, copy 8 KiB after.
                    let mut pool = made
                        .entry(own.class(partial, v6))
                        .or_insert_with(|| PortPool::new(|p| own.owns(partial, v6, p), partial))
                        .clone();
                    pool.partial = partial;
                    pool
                });
                let i = self.pools.len() as u32;
                self.keys.insert(key, i);
                self.slots.push(i);
                self.pools.push(pool);
            }
        }
        fresh
    }

    /// The pool of `key`, if it has one.
    fn pool(&mut self, key: &PoolKey) -> Option<&mut PortPool> {
        let &i = self.keys.get(key)?;
        self.pools.get_mut(i as usize)
    }

    /// A free port of `key`'s pool, from the pool's cursor on.
    #[inline]
    pub(super) fn alloc(&mut self, key: &PoolKey) -> Alloc {
        match self.keys.get(key) {
            Some(&i) => self.alloc_in(i),
            None => Alloc::NoPool,
        }
    }

    /// [`Self::alloc`] for backend `bid` and its service's local address at position `laddr`
    /// (the new-flow path: two array reads find the pool).
    #[inline]
    pub(super) fn alloc_for(&mut self, bid: BackendIdx, laddr: usize) -> Alloc {
        let first = self.first.get(bid.index()).copied().unwrap_or(NONE);
        let i = self
            .slots
            .get((first as usize).wrapping_add(laddr))
            .copied()
            .filter(|_| first != NONE)
            .unwrap_or(NONE);
        self.alloc_in(i)
    }

    #[inline]
    fn alloc_in(&mut self, i: u32) -> Alloc {
        let Some(p) = self.pools.get_mut(i as usize) else {
            return Alloc::NoPool;
        };
        match p.alloc(p.next) {
            Some(port) => {
                p.next = u32::from(port) + 1;
                Alloc::Port(port)
            }
            None => Alloc::Dry,
        }
    }

    /// A session with reply tuple `key`:`port` went: its port is free again (if the key has a
    /// pool and the port is this worker's).
    #[inline]
    pub(super) fn release(&mut self, key: &PoolKey, port: u16) {
        let Some(&i) = self.keys.get(key) else {
            return;
        };
        let v6 = key.laddr.is_ipv6();
        if let Some(p) = self.pools.get_mut(i as usize) {
            if self.own.owns(p.partial, v6, port) {
                p.clear(port);
            }
        }
    }

    /// A session with reply tuple `key`:`port` arrived from elsewhere (session sync): its port
    /// is taken.
    pub(super) fn claim(&mut self, key: &PoolKey, port: u16) {
        if let Some(p) = self.pool(key) {
            p.set(port);
        }
    }
}

#[cfg(test)]
#[path = "lport_pool_tests.rs"]
mod tests;
