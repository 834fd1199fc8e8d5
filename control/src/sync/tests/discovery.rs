//! Peers discovered through the multicast group (`[sync] group`): authenticated hellos, the
//! syncid, the sender id bound to the source address, the cap, expiry, a peer that forgot this
//! gateway, and the ready check.

use std::net::SocketAddr;
use std::time::Duration;

use super::sim::{addr, key, session, settings, Net, KEY};
use super::until_ready;
use crate::sync::auth::Auth;
use crate::sync::settings::sender_id_of;
use crate::sync::wire::{seal, Header, MsgType, FLAG_GROUP};
use crate::sync::{PeerState, Reject, Settings, Timing};

fn group() -> SocketAddr {
    "224.0.0.81:8848".parse().expect("literal")
}

/// Node `i` of `n` with no peer list, discovering through the group.
fn mcast(i: usize, timing: Timing) -> Settings {
    Settings {
        peers: Vec::new(),
        group: Some(group()),
        expect_peers: 1,
        ..settings(i, 1, timing)
    }
}

fn net(n: usize, timing: Timing, seed: u64) -> Net {
    Net::with(n, seed, |i| mcast(i, timing))
}

/// A group hello as gateway `from` would send it, sealed with `key` for `syncid`.
fn hello(key: &[u8], syncid: u8, from: SocketAddr, epoch: u64) -> Vec<u8> {
    let h = Header {
        kind: MsgType::Hello,
        syncid,
        flags: FLAG_GROUP,
        sender: sender_id_of(from),
        epoch,
        peer_epoch: 0,
        seq: 0,
        ack: 0,
        ts_us: 1,
    };
    let mut out = Vec::new();
    seal(&mut out, &h, &[], &Auth::new(key)).expect("seal");
    out
}

#[test]
fn sync_group_discovers_peers_resyncs_and_streams_without_a_peer_list() {
    let mut net = net(3, Timing::default(), 11);
    for n in 0..500 {
        let s = session(0, n);
        net.nodes[0].table.insert(key(&s), s);
    }
    assert!(!net.nodes[1].ch.ready(), "listening for peers first");
    until_ready(&mut net, Duration::from_secs(10));
    for i in 1..3 {
        assert_eq!(net.nodes[i].table, net.nodes[0].table, "node {i} resynced");
        let st = net.nodes[i].ch.stats();
        assert_eq!(st.peers.len(), 2, "both other nodes discovered");
        assert_eq!(st.peers_discovered, 2);
        assert!(st
            .peers
            .iter()
            .all(|p| p.discovered && p.state == PeerState::Up));
    }
    // Live updates under loss arrive on every node, in order: the per-peer reliable streams.
    net.loss = 0.1;
    let sent: Vec<_> = (0..2000).map(|n| session(0, 1000 + n)).collect();
    for s in &sent {
        net.queue(0, s.clone());
    }
    net.run_for(Duration::from_secs(5));
    for i in 1..3 {
        assert_eq!(
            net.live_from(i, 0),
            sent,
            "node {i}: every update, in order"
        );
    }
}

#[test]
fn sync_group_forged_or_foreign_hellos_create_no_peer() {
    let mut net = net(1, Timing::default(), 12);
    let stranger = addr(5);
    // Wrong key, wrong sync group, and a right one whose sender id is not its source's.
    net.inject(0, stranger, &hello(&[0x22; 32], 1, stranger, 77));
    net.inject(0, stranger, &hello(&KEY, 2, stranger, 77));
    net.inject(0, stranger, &hello(&KEY, 1, addr(6), 77));
    let st = net.nodes[0].ch.stats();
    assert!(st.peers.is_empty(), "{:?}", st.peers);
    assert_eq!(st.peers_discovered, 0);
    assert_eq!(st.rejected.get(Reject::Hmac), 1);
    assert_eq!(st.rejected.get(Reject::Syncid), 1);
    assert_eq!(st.rejected.get(Reject::UnknownPeer), 1);
    // The authentic one is taken.
    net.inject(0, stranger, &hello(&KEY, 1, stranger, 77));
    let st = net.nodes[0].ch.stats();
    assert_eq!(st.peers.len(), 1);
    assert_eq!(st.peers[0].addr, stranger);

    // Without a group, an authentic stranger is refused as before.
    let mut listed = Net::new(2, Timing::default(), 12);
    listed.inject(0, stranger, &hello(&KEY, 1, stranger, 77));
    let st = listed.nodes[0].ch.stats();
    assert_eq!(st.peers.len(), 1, "only the listed peer");
    assert_eq!(st.rejected.get(Reject::UnknownPeer), 1);
}

#[test]
fn sync_group_caps_discovered_peers_and_counts_the_refused() {
    let timing = Timing {
        max_discovered: 3,
        ..Timing::default()
    };
    let mut net = net(1, timing, 13);
    for i in 1..=5 {
        let a = addr(i);
        net.inject(0, a, &hello(&KEY, 1, a, 100 + i as u64));
    }
    let st = net.nodes[0].ch.stats();
    assert_eq!(st.peers.len(), 3);
    assert_eq!(st.rejected.get(Reject::PeerLimit), 2);
    // A known peer is not refused by the cap.
    net.inject(0, addr(1), &hello(&KEY, 1, addr(1), 101));
    assert_eq!(net.nodes[0].ch.stats().rejected.get(Reject::PeerLimit), 2);
}

#[test]
fn sync_group_expires_silent_peers_then_rediscovers_them() {
    let timing = Timing {
        expire: Duration::from_secs(5),
        ..Timing::default()
    };
    let mut net = net(2, timing, 14);
    until_ready(&mut net, Duration::from_secs(5));
    net.cut = vec![(0, 1), (1, 0)];
    net.run_for(Duration::from_secs(7));
    for i in 0..2 {
        let st = net.nodes[i].ch.stats();
        assert!(st.peers.is_empty(), "node {i} forgot its silent peer");
        assert_eq!(st.peers_expired, 1);
    }
    assert!(
        net.nodes[1].ch.ready(),
        "no peer heard from: nothing to wait for"
    );
    net.cut.clear();
    net.run_for(Duration::from_secs(3));
    for n in 0..100 {
        net.queue(0, session(0, n));
    }
    net.run_for(Duration::from_secs(1));
    assert_eq!(net.live_from(1, 0).len(), 100, "streams run again");
    assert_eq!(net.nodes[1].ch.stats().peers_discovered, 2);
}

#[test]
fn sync_group_peer_that_forgot_this_gateway_restarts_both_streams() {
    let timing = Timing {
        expire: Duration::from_secs(5),
        ..Timing::default()
    };
    let mut net = net(2, timing, 15);
    until_ready(&mut net, Duration::from_secs(5));
    for n in 0..300 {
        net.queue(1, session(1, n));
        net.queue(0, session(0, n));
    }
    net.run_for(Duration::from_secs(1));
    // Node 0 stops hearing node 1 (one-way): it forgets node 1, node 1 keeps its streams.
    net.cut = vec![(1, 0)];
    net.run_for(Duration::from_secs(7));
    assert!(net.nodes[0].ch.stats().peers.is_empty());
    assert_eq!(
        net.nodes[1].ch.stats().peers.len(),
        1,
        "node 1 still hears node 0"
    );
    net.cut.clear();
    net.run_for(Duration::from_secs(3));
    let st1 = net.nodes[1].ch.stats();
    assert_eq!(
        st1.peers[0].counters.resets, 1,
        "node 1 saw that node 0 forgot it"
    );
    // Both directions carry new sessions again, and node 0 has node 1's whole table.
    for n in 0..100 {
        net.queue(1, session(1, 5000 + n));
        net.queue(0, session(0, 5000 + n));
    }
    net.run_for(Duration::from_secs(2));
    let from1: Vec<_> = net.nodes[1].table.keys().collect();
    for k in from1 {
        assert!(net.nodes[0].table.contains_key(k), "node 0 lacks {k:?}");
    }
    assert!(net.live_from(1, 0).iter().any(|s| *s == session(0, 5099)));
    assert!(net.live_from(0, 1).iter().any(|s| *s == session(1, 5099)));
}

#[test]
fn sync_group_replayed_older_life_of_a_forgotten_peer_is_refused() {
    let timing = Timing {
        expire: Duration::from_secs(5),
        ..Timing::default()
    };
    let mut net = net(2, timing, 16);
    until_ready(&mut net, Duration::from_secs(5));
    net.capturing = true;
    net.run_for(Duration::from_secs(1));
    net.capturing = false;
    let old: Vec<Vec<u8>> = net
        .capture
        .iter()
        .filter(|(f, t, _)| (*f, *t) == (1, 0))
        .map(|(_, _, b)| b.clone())
        .collect();
    assert!(!old.is_empty());
    // Node 1 restarts (a new epoch), then goes silent until node 0 forgets it.
    let s1 = net.nodes[1].ch.settings().clone();
    net.restart(1, true, s1);
    net.run_for(Duration::from_secs(1));
    net.nodes[1].up = false;
    net.run_for(Duration::from_secs(7));
    assert!(net.nodes[0].ch.stats().peers.is_empty());
    let stale = net.nodes[0].ch.stats().rejected.get(Reject::Stale);
    for d in &old {
        net.inject(0, addr(1), d);
    }
    let st = net.nodes[0].ch.stats();
    assert!(st.peers.is_empty(), "an older life does not come back");
    assert_eq!(st.rejected.get(Reject::Stale) - stale, old.len() as u64);
}

#[test]
fn sync_group_ready_waits_for_the_discovered_peers_table() {
    let mut net = net(2, Timing::default(), 17);
    for n in 0..20_000 {
        let s = session(0, n);
        net.nodes[0].table.insert(key(&s), s);
    }
    // A slow resync (rate-capped) keeps node 1 not ready after the listening period.
    let s1 = Settings {
        rate: 2000,
        ..mcast(1, Timing::default())
    };
    let s0 = Settings {
        rate: 2000,
        ..mcast(0, Timing::default())
    };
    net.restart(0, true, s0);
    net.restart(1, false, s1);
    net.run_for(Duration::from_secs(3));
    assert_eq!(
        net.nodes[1].ch.peer_state(addr(0)),
        Some(PeerState::Syncing)
    );
    assert!(
        !net.nodes[1].ch.ready(),
        "the discovered peer's table is not all here"
    );
    until_ready(&mut net, Duration::from_secs(20));
    assert_eq!(net.nodes[1].table.len(), 20_000);
}

/// A ready pair whose node 1 then restarts with every datagram between them dropped.
fn restarted_with_the_path_cut(expect_peers: usize, seed: u64) -> Net {
    let mut net = net(2, Timing::default(), seed);
    for n in 0..300 {
        let s = session(0, n);
        net.nodes[0].table.insert(key(&s), s);
    }
    until_ready(&mut net, Duration::from_secs(5));
    net.cut = vec![(0, 1), (1, 0)];
    // What was on the wire lands before the restart.
    net.run_for(Duration::from_millis(500));
    let s1 = Settings {
        expect_peers,
        ..mcast(1, Timing::default())
    };
    net.restart(1, false, s1);
    net
}

#[test]
fn sync_group_restarted_gateway_that_hears_no_peer_is_not_ready() {
    let mut net = restarted_with_the_path_cut(1, 18);
    // Far past the listening period (`dead`, 2 s): no peer heard, none resynced it.
    net.run_for(Duration::from_secs(10));
    let st = net.nodes[1].ch.stats();
    assert!(st.peers.is_empty(), "{:?}", st.peers);
    assert!(
        !net.nodes[1].ch.ready(),
        "ready with an empty table and no peer heard"
    );
    assert!(net.nodes[1].table.is_empty());

    // The path returns: node 1 discovers node 0, takes its table, and only then is ready.
    net.cut.clear();
    let ok = net.run_while_not(Duration::from_secs(10), |n| n.nodes[1].ch.ready());
    assert!(ok, "not ready after the path returned");
    assert_eq!(
        net.nodes[1].table, net.nodes[0].table,
        "ready with the table"
    );
    assert_eq!(net.nodes[1].completes, vec![addr(0)]);

    // Its peer then goes silent for good and is forgotten: it resynced this gateway since the
    // channel started, so the gateway stays ready.
    net.nodes[0].up = false;
    net.run_for(Duration::from_secs(35));
    assert_eq!(net.nodes[1].ch.stats().peers_expired, 1);
    assert!(net.nodes[1].ch.ready(), "a resync since start is kept");
}

#[test]
fn sync_group_expect_peers_zero_is_ready_after_listening_alone() {
    // `expect_peers = 0`: the listening period alone (what a group without the key did).
    let mut net = restarted_with_the_path_cut(0, 19);
    assert!(!net.nodes[1].ch.ready(), "listening first");
    net.run_for(Duration::from_secs(3));
    assert!(net.nodes[1].ch.ready(), "no peer expected, none heard");
    assert!(net.nodes[1].table.is_empty());
}

#[test]
fn sync_group_expect_peers_two_waits_for_the_second_peer() {
    let s = |i| Settings {
        expect_peers: 2,
        ..mcast(i, Timing::default())
    };
    let mut net = Net::with(3, 20, s);
    for n in 0..200 {
        let s = session(2, n);
        net.nodes[2].table.insert(key(&s), s);
    }
    net.nodes[2].up = false;
    net.run_for(Duration::from_secs(8));
    for i in 0..2 {
        let st = net.nodes[i].ch.stats();
        assert_eq!(st.peers.len(), 1, "node {i} found the one running peer");
        assert_eq!(
            st.peers[0].state,
            PeerState::Up,
            "node {i}: resynced from it"
        );
        assert!(!net.nodes[i].ch.ready(), "node {i}: one peer of two");
    }
    // The second peer starts: both take its table, then are ready.
    net.nodes[2].up = true;
    let ok = net.run_while_not(Duration::from_secs(10), |n| {
        n.nodes[0].ch.ready() && n.nodes[1].ch.ready()
    });
    assert!(ok, "not ready with both peers resynced");
    for i in 0..2 {
        for n in 0..200 {
            assert!(net.nodes[i].table.contains_key(&key(&session(2, n))));
        }
    }
}
