//! Persistence templates (`ipvsadm -p timeout -M netmask`): client network + service -> backend.
//!
//! Contract: a fixed-capacity table, all memory allocated at construction, keyed by (service
//! index, client address AND netmask). A template remembers the backend a client network was
//! last scheduled to and expires `timeout` seconds after it was last refreshed. It is refreshed
//! by a [`PersistTable::lookup`] hit (each new connection of that client to that service) and by
//! [`PersistTable::refresh`], which the pipeline may call on packets or when a connection using
//! the template ends. This simplifies IPVS, where the template's timer restarts when its last
//! controlled connection is gone: calling `refresh` when a controlled session expires gives the
//! same "timeout after the last connection" behaviour. Expired templates are treated as absent
//! by every call and reclaimed by [`PersistTable::expire`] (bounded sweep) or on contact.
//!
//! Table full: [`PersistTable::insert`] fails with [`PersistFull`]; the caller schedules the
//! connection normally without a template and counts it.
//!
//! Layout: linear probing over a power-of-two array at most half full, with backward-shift
//! deletion (no tombstones).

use core::fmt;
use core::net::{Ipv4Addr, Ipv6Addr};

use super::hash::HashSeed;
use super::SessionAddr;
use crate::types::{BackendIdx, ServiceIdx};

#[derive(Clone, Copy)]
struct Entry<A> {
    net: A,
    service: ServiceIdx,
    backend: BackendIdx,
    expires: u32,
    used: bool,
}

/// One template as `ipvsadm -L -c` lists it (state NONE, client port 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Template<A> {
    /// Virtual service index.
    pub service: ServiceIdx,
    /// Client network (client address AND the service's netmask).
    pub net: A,
    /// Backend the network sticks to.
    pub backend: BackendIdx,
    /// Second at which it expires unless refreshed.
    pub expires: u32,
}

/// The template table is full; schedule without persistence and count it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PersistFull;

impl fmt::Display for PersistFull {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("persistence template table full")
    }
}

impl std::error::Error for PersistFull {}

/// A per-worker table of persistence templates.
#[derive(Clone)]
pub struct PersistTable<A: SessionAddr> {
    slots: Vec<Entry<A>>,
    mask: usize,
    len: usize,
    capacity: usize,
    seed: HashSeed,
    sweep: usize,
}

/// IPv4 persistence templates.
pub type PersistTable4 = PersistTable<Ipv4Addr>;
/// IPv6 persistence templates.
pub type PersistTable6 = PersistTable<Ipv6Addr>;

impl<A: SessionAddr> fmt::Debug for PersistTable<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PersistTable")
            .field("len", &self.len)
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl<A: SessionAddr> PersistTable<A> {
    /// A table for `capacity` templates, allocating all its memory now.
    pub fn with_capacity(capacity: usize, seed: HashSeed) -> Self {
        let size = (2 * capacity).max(2).next_power_of_two();
        let free = Entry {
            net: A::UNSPECIFIED,
            service: ServiceIdx::new(0),
            backend: BackendIdx::new(0),
            expires: 0,
            used: false,
        };
        Self {
            slots: vec![free; size],
            mask: size - 1,
            len: 0,
            capacity,
            seed,
            sweep: 0,
        }
    }

    /// Templates stored (including expired ones not yet reclaimed).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no templates are stored.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Maximum number of templates.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Exact bytes allocated.
    pub fn memory_bytes(&self) -> usize {
        self.slots.capacity() * core::mem::size_of::<Entry<A>>()
    }

    #[inline]
    fn home(&self, service: ServiceIdx, net: A) -> usize {
        (A::hash_addr(&self.seed, net, u64::from(service.get())) >> 32) as usize & self.mask
    }

    fn find(&self, service: ServiceIdx, net: A) -> Option<usize> {
        let mut i = self.home(service, net);
        loop {
            let e = &self.slots[i];
            if !e.used {
                return None;
            }
            if e.service == service && e.net == net {
                return Some(i);
            }
            i = (i + 1) & self.mask;
        }
    }

    /// Backward-shift deletion: pull later entries of the probe run into the hole.
    fn delete_at(&mut self, mut hole: usize) {
        let mut j = hole;
        loop {
            j = (j + 1) & self.mask;
            let e = self.slots[j];
            if !e.used {
                break;
            }
            let home = self.home(e.service, e.net);
            // The entry at j may move to the hole unless its home lies cyclically in (hole, j].
            let stays = if hole <= j {
                hole < home && home <= j
            } else {
                hole < home || home <= j
            };
            if !stays {
                self.slots[hole] = e;
                hole = j;
            }
        }
        self.slots[hole].used = false;
        self.len -= 1;
    }

    /// The live template's position for `client` (masked by `netmask`), reclaiming it if expired.
    fn find_live(&mut self, now: u32, service: ServiceIdx, net: A) -> Option<usize> {
        let i = self.find(service, net)?;
        if self.slots[i].expires <= now {
            self.delete_at(i);
            return None;
        }
        Some(i)
    }

    /// The backend `client`'s network sticks to for `service`; a hit refreshes the template to
    /// `now + timeout`.
    pub fn lookup(
        &mut self,
        now: u32,
        service: ServiceIdx,
        client: A,
        netmask: A,
        timeout: u32,
    ) -> Option<BackendIdx> {
        let i = self.find_live(now, service, client.masked(netmask))?;
        let e = &mut self.slots[i];
        e.expires = now.saturating_add(timeout);
        Some(e.backend)
    }

    /// Refresh a live template to `now + timeout`; false if there is none.
    pub fn refresh(
        &mut self,
        now: u32,
        service: ServiceIdx,
        client: A,
        netmask: A,
        timeout: u32,
    ) -> bool {
        match self.find_live(now, service, client.masked(netmask)) {
            Some(i) => {
                self.slots[i].expires = now.saturating_add(timeout);
                true
            }
            None => false,
        }
    }

    /// Record that `client`'s network sticks to `backend` for `service` until `now + timeout`
    /// (replacing any template it had).
    ///
    /// # Errors
    /// [`PersistFull`] when the table holds `capacity` templates.
    pub fn insert(
        &mut self,
        now: u32,
        service: ServiceIdx,
        client: A,
        netmask: A,
        backend: BackendIdx,
        timeout: u32,
    ) -> Result<(), PersistFull> {
        let net = client.masked(netmask);
        let expires = now.saturating_add(timeout);
        if let Some(i) = self.find(service, net) {
            let e = &mut self.slots[i];
            e.backend = backend;
            e.expires = expires;
            return Ok(());
        }
        if self.len >= self.capacity {
            return Err(PersistFull);
        }
        let mut i = self.home(service, net);
        while self.slots[i].used {
            i = (i + 1) & self.mask;
        }
        self.slots[i] = Entry {
            net,
            service,
            backend,
            expires,
            used: true,
        };
        self.len += 1;
        Ok(())
    }

    /// Remove `client`'s template for `service`, returning its backend if it was live.
    pub fn remove(
        &mut self,
        now: u32,
        service: ServiceIdx,
        client: A,
        netmask: A,
    ) -> Option<BackendIdx> {
        let i = self.find_live(now, service, client.masked(netmask))?;
        let backend = self.slots[i].backend;
        self.delete_at(i);
        Some(backend)
    }

    /// Reclaim expired templates, examining at most `budget` array slots from where the last
    /// call stopped. Returns how many were reclaimed.
    pub fn expire(&mut self, now: u32, budget: usize) -> usize {
        // Most services persist nothing: no sweep over an empty array on every tick.
        if self.len == 0 {
            return 0;
        }
        let mut reclaimed = 0;
        let mut i = self.sweep;
        for _ in 0..budget.min(self.slots.len()) {
            let e = &self.slots[i];
            if e.used && e.expires <= now {
                // Another entry may shift into `i`; look at it on the next step.
                self.delete_at(i);
                reclaimed += 1;
            } else {
                i = (i + 1) & self.mask;
            }
        }
        self.sweep = i;
        reclaimed
    }

    /// The live template of `client`'s network (masked by `netmask`) for `service`, without
    /// refreshing it.
    pub fn peek(
        &self,
        now: u32,
        service: ServiceIdx,
        client: A,
        netmask: A,
    ) -> Option<Template<A>> {
        let e = &self.slots[self.find(service, client.masked(netmask))?];
        (e.expires > now).then_some(Template {
            service: e.service,
            net: e.net,
            backend: e.backend,
            expires: e.expires,
        })
    }

    /// Array positions, for a walk in bounded steps with [`Self::template_at`].
    pub fn positions(&self) -> usize {
        self.slots.len()
    }

    /// The live template at array position `index`, if any (a resumable walk; a deletion may
    /// shift a template to an earlier position, so a walk can miss one that moves meanwhile).
    pub fn template_at(&self, index: usize, now: u32) -> Option<Template<A>> {
        let e = self.slots.get(index)?;
        (e.used && e.expires > now).then_some(Template {
            service: e.service,
            net: e.net,
            backend: e.backend,
            expires: e.expires,
        })
    }

    /// Iterate over the live templates at `now` (walks the whole array).
    pub fn iter(&self, now: u32) -> impl Iterator<Item = Template<A>> + '_ {
        self.slots
            .iter()
            .filter(move |e| e.used && e.expires > now)
            .map(|e| Template {
                service: e.service,
                net: e.net,
                backend: e.backend,
                expires: e.expires,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const M24: Ipv4Addr = Ipv4Addr::new(255, 255, 255, 0);
    const M32: Ipv4Addr = Ipv4Addr::BROADCAST;

    fn sv(n: u16) -> ServiceIdx {
        ServiceIdx::new(n)
    }

    fn be(n: u16) -> BackendIdx {
        BackendIdx::new(n)
    }

    fn ip(d: u8) -> Ipv4Addr {
        Ipv4Addr::new(10, 0, 0, d)
    }

    #[test]
    fn netmask_groups_clients_on_one_template() {
        let mut t = PersistTable4::with_capacity(16, HashSeed::new(1));
        t.insert(100, sv(1), ip(1), M24, be(7), 360).unwrap();
        assert_eq!(t.lookup(101, sv(1), ip(77), M24, 360), Some(be(7)));
        assert_eq!(
            t.lookup(101, sv(1), Ipv4Addr::new(10, 0, 1, 1), M24, 360),
            None
        );
        // Another service does not share it.
        assert_eq!(t.lookup(101, sv(2), ip(1), M24, 360), None);
        // With /32 each client is on its own.
        t.insert(100, sv(3), ip(1), M32, be(8), 360).unwrap();
        assert_eq!(t.lookup(101, sv(3), ip(77), M32, 360), None);
        assert_eq!(t.lookup(101, sv(3), ip(1), M32, 360), Some(be(8)));
        assert_eq!(t.iter(101).count(), 2);
    }

    #[test]
    fn ipv6_prefix_groups_clients() {
        let mut t = PersistTable6::with_capacity(4, HashSeed::new(2));
        let m = Ipv6Addr::prefix_mask(64);
        let a: Ipv6Addr = "2001:db8:1:2::1".parse().unwrap();
        let b: Ipv6Addr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: Ipv6Addr = "2001:db8:1:3::1".parse().unwrap();
        t.insert(0, sv(1), a, m, be(5), 60).unwrap();
        assert_eq!(t.lookup(1, sv(1), b, m, 60), Some(be(5)));
        assert_eq!(t.lookup(1, sv(1), c, m, 60), None);
    }

    #[test]
    fn templates_expire_timeout_after_last_refresh() {
        let mut t = PersistTable4::with_capacity(16, HashSeed::new(1));
        t.insert(0, sv(1), ip(1), M32, be(7), 300).unwrap();
        assert_eq!(t.lookup(299, sv(1), ip(1), M32, 300), Some(be(7))); // refreshed to 599
        assert!(t.refresh(500, sv(1), ip(1), M32, 300)); // refreshed to 800
        assert_eq!(t.expire(799, usize::MAX), 0);
        assert_eq!(t.lookup(799, sv(1), ip(1), M32, 300), Some(be(7))); // refreshed to 1099
        assert_eq!(t.expire(1099, 64), 1);
        assert!(t.is_empty());
        assert_eq!(t.lookup(1099, sv(1), ip(1), M32, 300), None);
        assert!(!t.refresh(1099, sv(1), ip(1), M32, 300));
    }

    #[test]
    fn expired_template_is_absent_before_the_sweep() {
        let mut t = PersistTable4::with_capacity(16, HashSeed::new(1));
        t.insert(0, sv(1), ip(1), M32, be(7), 10).unwrap();
        assert_eq!(t.lookup(10, sv(1), ip(1), M32, 10), None);
        assert!(t.is_empty(), "reclaimed on contact");
    }

    #[test]
    fn full_table_refuses_new_templates_but_keeps_old_ones() {
        let mut t = PersistTable4::with_capacity(3, HashSeed::new(9));
        for d in 1..=3 {
            t.insert(0, sv(1), ip(d), M32, be(d.into()), 100).unwrap();
        }
        assert_eq!(t.insert(0, sv(1), ip(4), M32, be(4), 100), Err(PersistFull));
        // Replacing an existing template is not a new one.
        t.insert(0, sv(1), ip(2), M32, be(22), 100).unwrap();
        for d in 1..=3u8 {
            let want = if d == 2 { 22 } else { u16::from(d) };
            assert_eq!(t.lookup(1, sv(1), ip(d), M32, 100), Some(be(want)));
        }
        assert_eq!(t.remove(1, sv(1), ip(1), M32), Some(be(1)));
        t.insert(1, sv(1), ip(4), M32, be(4), 100).unwrap();
    }

    #[test]
    fn deletion_keeps_colliding_entries_reachable() {
        // A 2-slot-per-entry table with many entries, deleting in every order pattern.
        let mut t = PersistTable4::with_capacity(64, HashSeed::new(5));
        for d in 0..64u8 {
            t.insert(
                0,
                sv(1),
                Ipv4Addr::new(10, 1, 0, d),
                M32,
                be(d.into()),
                1000,
            )
            .unwrap();
        }
        for d in (0..64u8).step_by(3) {
            assert_eq!(
                t.remove(0, sv(1), Ipv4Addr::new(10, 1, 0, d), M32),
                Some(be(d.into()))
            );
        }
        for d in 0..64u8 {
            let want = if d % 3 == 0 { None } else { Some(be(d.into())) };
            assert_eq!(
                t.lookup(0, sv(1), Ipv4Addr::new(10, 1, 0, d), M32, 1000),
                want
            );
        }
    }

    #[test]
    fn sweep_is_bounded() {
        let mut t = PersistTable4::with_capacity(100, HashSeed::new(5));
        for d in 0..100u8 {
            t.insert(0, sv(1), Ipv4Addr::new(10, 2, 0, d), M32, be(1), 5)
                .unwrap();
        }
        let size = t.slots.len();
        let mut total = 0;
        let mut calls = 0;
        while !t.is_empty() {
            total += t.expire(5, 16);
            calls += 1;
            assert!(calls <= size, "sweep makes progress");
        }
        assert_eq!(total, 100);
    }
}
