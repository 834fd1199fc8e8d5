use std::collections::HashSet;
use std::sync::Arc;

use super::*;
use crate::rss::RssSteer;

const KEY: [u8; 40] = [
    0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0,
    0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30, 0xf2, 0x0c,
    0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
];

fn key() -> PoolKey {
    PoolKey {
        laddr: "198.18.1.200".parse().unwrap(),
        backend: "198.18.2.10".parse().unwrap(),
        bport: 8080,
        proto: L4Proto::Tcp,
    }
}

fn modulo(id: u16, workers: u16, lport_min: u16) -> Ownership {
    Ownership {
        id,
        workers,
        lport_min,
        steering: ReplySteering::Modulo,
    }
}

/// A pool of `k` and an allocator that walks it from `start` as the pool's cursor does.
fn pool(own: &Ownership, k: &PoolKey, start: u16) -> Walk {
    let partial = own.partial(k);
    let v6 = k.laddr.is_ipv6();
    Walk(
        PortPool::new(|p| own.owns(partial, v6, p), partial),
        u32::from(start),
    )
}

struct Walk(PortPool, u32);

impl Walk {
    fn alloc(&mut self) -> Option<u16> {
        let p = self.0.alloc(self.1)?;
        self.1 = u32::from(p) + 1;
        Some(p)
    }
    fn clear(&mut self, port: u16) -> bool {
        self.0.clear(port)
    }
    fn free(&self) -> u32 {
        self.0.free()
    }
}

/// Every free port is handed out exactly once, then the pool is exhausted.
#[test]
fn test_pool_hands_out_every_owned_port_once_then_none() {
    let own = modulo(0, 1, 1024);
    let mut p = pool(&own, &key(), 40_000);
    assert_eq!(p.free(), 65536 - 1024);
    let mut seen = HashSet::new();
    while let Some(port) = p.alloc() {
        assert!(port >= 1024, "port {port} below lport_min");
        assert!(seen.insert(port), "port {port} handed out twice");
    }
    assert_eq!(seen.len(), 65536 - 1024);
    assert_eq!(p.free(), 0);
    assert_eq!(p.alloc(), None, "an exhausted pool gives nothing");
}

/// 65k allocations interleaved with releases: no port is held twice at once, and a released
/// port comes back only after the cursor has gone round.
#[test]
fn test_no_port_held_twice_across_65k_allocations_with_releases() {
    let own = modulo(0, 1, 1024);
    let mut p = pool(&own, &key(), 0);
    let mut held: Vec<u16> = Vec::new();
    let mut live = HashSet::new();
    for i in 0..65_536u32 {
        let port = p.alloc().expect("a free port");
        assert!(
            live.insert(port),
            "port {port} handed out while held (step {i})"
        );
        held.push(port);
        // Keep about 30k held: release the oldest every other step.
        if held.len() > 30_000 && i % 2 == 0 {
            let old = held.remove(0);
            assert!(p.clear(old));
            live.remove(&old);
        }
    }
    assert_eq!(p.free() as usize, 65536 - 1024 - live.len());
}

#[test]
fn test_released_port_is_reused_after_the_others() {
    let own = modulo(0, 1, 1024);
    let mut p = pool(&own, &key(), 1024);
    let a = p.alloc().unwrap();
    let b = p.alloc().unwrap();
    assert_eq!((a, b), (1024, 1025));
    assert!(p.clear(a));
    assert!(!p.clear(a), "a free port is not freed twice");
    // The cursor goes on: 1026.. come first, `a` only once the rest are taken.
    let mut n = 0;
    let last = loop {
        let port = p.alloc().expect("free port");
        n += 1;
        if port == a {
            break port;
        }
    };
    assert_eq!(last, a);
    assert_eq!(n, 65536 - 1024 - 1, "every other port came first");
    assert_eq!(p.alloc(), None);
    assert!(p.clear(b));
    assert_eq!(p.alloc(), Some(b), "a released port is reused");
}

/// Modulo steering: worker 2 of 4 gets only ports that are 2 mod 4, from lport_min up.
#[test]
fn test_modulo_pool_holds_only_the_workers_ports() {
    let own = modulo(2, 4, 1025);
    let mut p = pool(&own, &key(), 7);
    let mut n = 0;
    while let Some(port) = p.alloc() {
        assert_eq!(port % 4, 2);
        assert!(port >= 1025);
        n += 1;
    }
    assert_eq!(n, (1026..=65535).filter(|x| x % 4 == 2).count());
}

/// RSS steering: every port handed out has a reply tuple the redirection table gives to this
/// worker, and the workers' pools split the port range between them with no overlap.
#[test]
fn test_rss_pool_ports_reply_to_this_worker_and_workers_do_not_overlap() {
    let workers = 4;
    let rs = Arc::new(RssSteer::new(&KEY, &RssSteer::round_robin_reta(128, workers)).unwrap());
    let k = key();
    let mut all = HashSet::new();
    for id in 0..workers {
        let own = Ownership {
            id,
            workers,
            lport_min: 1024,
            steering: ReplySteering::Rss(rs.clone()),
        };
        let mut p = pool(&own, &k, id.wrapping_mul(977));
        while let Some(port) = p.alloc() {
            let w = rs.worker_of(k.backend, k.laddr, k.bport, port).unwrap();
            assert_eq!(w, id, "port {port}: its reply goes to worker {w}");
            assert!(all.insert(port), "port {port} in two workers' pools");
        }
    }
    assert_eq!(
        all.len(),
        65536 - 1024,
        "together the workers have every port"
    );
}

/// The set of pools: release gives a port back only to its own pool and only if it is this
/// worker's; claim takes it.
#[test]
fn test_local_ports_release_and_claim_respect_key_and_ownership() {
    let mut lp = LocalPorts::new(modulo(1, 2, 1024));
    let k = key();
    let partial = 0;
    lp.keys.insert(k, 0);
    lp.pools
        .push(PortPool::new(|p| lp.own.owns(partial, false, p), partial));
    let free = lp.pool(&k).unwrap().free();
    let Alloc::Port(port) = lp.alloc(&k) else {
        panic!("a free port");
    };
    assert_eq!(port, 1025, "the first of worker 1's ports");
    let other = PoolKey { bport: 9090, ..k };
    assert_eq!(lp.alloc(&other), Alloc::NoPool);
    assert_eq!(port % 2, 1);
    // Another key's release does nothing here.
    lp.release(&other, port);
    assert_eq!(lp.pool(&k).unwrap().free(), free - 1);
    lp.release(&k, port);
    assert_eq!(lp.pool(&k).unwrap().free(), free);
    // Worker 0's port (even) never enters worker 1's pool, nor one below lport_min.
    lp.release(&k, 2000);
    lp.release(&k, 1001);
    assert_eq!(lp.pool(&k).unwrap().free(), free);
    lp.claim(&k, 3001);
    assert_eq!(lp.pool(&k).unwrap().free(), free - 1);
    lp.claim(&k, 3001);
    assert_eq!(lp.pool(&k).unwrap().free(), free - 1, "claimed once");
}

/// Each pool hands out its ports in order from its own cursor, whatever the other pools took
/// in between; a port given back is taken again only once the pool has gone round.
#[test]
fn test_each_pool_walks_its_own_ports_in_order() {
    let mut lp = LocalPorts::new(modulo(0, 1, 1024));
    let a = key();
    let b = PoolKey { bport: 9090, ..a };
    for (i, k) in [a, b].into_iter().enumerate() {
        lp.keys.insert(k, i as u32);
        lp.pools
            .push(PortPool::new(|p| lp.own.owns(0, false, p), 0));
    }
    let take = |lp: &mut LocalPorts, k: &PoolKey| match lp.alloc(k) {
        Alloc::Port(p) => p,
        other => panic!("{other:?}"),
    };
    let got: Vec<(u16, u16)> = (0..4)
        .map(|_| (take(&mut lp, &a), take(&mut lp, &b)))
        .collect();
    assert_eq!(
        got,
        [(1024, 1024), (1025, 1025), (1026, 1026), (1027, 1027)]
    );
    lp.release(&a, 1024);
    let next = take(&mut lp, &a);
    assert_eq!(next, 1028, "a's cursor goes on past the port given back");
    assert_eq!(take(&mut lp, &b), 1028);
}
