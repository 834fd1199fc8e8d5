//! The ownership state machine, event by event, with the announcement schedule.

use std::net::IpAddr;
use std::time::Duration;

use super::*;
use crate::ha::{Garp, Tap};

fn ip(s: &str) -> IpAddr {
    s.parse().expect("address")
}

const VIP: &str = "198.18.1.100";
const LADDR: &str = "198.18.2.100";

fn settings(repeat: u32, delay_s: u64, refresh_s: u64) -> Settings {
    Settings {
        followed: vec![ip(VIP), ip(LADDR), ip("2001:2:0:1::100")],
        taps: vec![
            Tap {
                name: "eth0".into(),
                port: 0,
            },
            Tap {
                name: "eth1".into(),
                port: 1,
            },
        ],
        garp: Garp {
            repeat,
            delay: Duration::from_secs(delay_s),
            refresh: Duration::from_secs(refresh_s),
        },
    }
}

fn on(ifname: &str, addr: &str) -> KernelAddr {
    KernelAddr {
        ifname: ifname.into(),
        addr: ip(addr),
    }
}

fn added(ifname: &str, addr: &str) -> Event {
    Event::Added(on(ifname, addr))
}

fn removed(ifname: &str, addr: &str) -> Event {
    Event::Removed(on(ifname, addr))
}

/// Ownership with keepalived's GARP defaults, synced to an empty kernel.
fn synced(t0: At) -> Ownership {
    let mut o = Ownership::new(settings(5, 5, 0), t0);
    assert!(o.apply(Event::Dump(Vec::new()), t0).is_empty());
    o
}

#[test]
fn nothing_is_owned_before_the_kernel_is_read() {
    let t0 = At::now();
    let mut o = Ownership::new(settings(5, 5, 0), t0);
    assert!(!o.synced());
    assert_eq!(o.not_owned().len(), 3);
    // Even an add notification cannot make an owner before the dump says where things are.
    assert!(o.apply(added("eth0", VIP), t0).is_empty());
    assert!(o.is_not_owned(ip(VIP)));
    let t = o.apply(Event::Dump(vec![on("eth0", VIP), on("lo", LADDR)]), t0);
    assert!(o.synced());
    assert_eq!(
        t,
        [Transition {
            addr: ip(VIP),
            owned: true,
            tap: Some("eth0".into()),
            why: "the kernel's addresses read".into(),
        }],
        "an address on another interface (lo) does not count"
    );
    assert_eq!(o.not_owned(), [ip(LADDR), ip("2001:2:0:1::100")]);
    assert_eq!(o.transitions(), 1);
    assert_eq!(o.last_change(), Some(t0.wall));
}

#[test]
fn an_address_follows_the_tap_both_ways() {
    let t0 = At::now();
    let mut o = synced(t0);
    let t1 = t0.after(Duration::from_secs(3));
    let t = o.apply(added("eth1", LADDR), t1);
    assert_eq!(t.len(), 1);
    assert!(t[0].owned);
    assert_eq!(t[0].why, "added to eth1");
    assert!(!o.is_not_owned(ip(LADDR)));
    let row = o.rows().into_iter().find(|r| r.addr == ip(LADDR)).unwrap();
    assert_eq!(
        (row.owned, row.since, row.tap.as_deref()),
        (true, t1.wall, Some("eth1"))
    );
    // A repeated add changes nothing; an unfollowed address changes nothing.
    assert!(o.apply(added("eth1", LADDR), t1).is_empty());
    assert!(o.apply(added("eth0", "198.18.1.7"), t1).is_empty());
    let t2 = t1.after(Duration::from_secs(60));
    let t = o.apply(removed("eth1", LADDR), t2);
    assert_eq!(t.len(), 1);
    assert!(!t[0].owned);
    assert_eq!(
        (t[0].tap.as_deref(), t[0].why.as_str()),
        (None, "removed from eth1")
    );
    assert!(o.is_not_owned(ip(LADDR)));
    assert_eq!(o.transitions(), 2);
    assert_eq!(o.last_change(), Some(t2.wall));
    // Removing what is not there, or from an interface that is no TAP, is harmless.
    assert!(o.apply(removed("eth1", LADDR), t2).is_empty());
    assert!(o.apply(removed("lo", VIP), t2).is_empty());
}

#[test]
fn becoming_owned_announces_at_once_then_after_the_delay() {
    let t0 = At::now();
    let mut o = synced(t0);
    assert_eq!(o.next_due(), None, "nothing owned, nothing to announce");
    o.apply(added("eth0", VIP), t0);
    assert_eq!(o.next_due(), Some(t0.mono));
    assert_eq!(
        o.due(t0.mono),
        [Announce {
            addr: ip(VIP),
            port: 0,
            count: 5
        }]
    );
    assert!(o.due(t0.mono + Duration::from_secs(4)).is_empty());
    let second = t0.mono + Duration::from_secs(5);
    assert_eq!(o.next_due(), Some(second));
    assert_eq!(
        o.due(second),
        [Announce {
            addr: ip(VIP),
            port: 0,
            count: 5
        }]
    );
    // garp_refresh 0: nothing more, ever.
    assert_eq!(o.next_due(), None);
    assert!(o.due(second + Duration::from_secs(3600)).is_empty());
}

#[test]
fn refreshes_repeat_while_owned_and_stop_when_not() {
    let t0 = At::now();
    let mut o = Ownership::new(settings(1, 1, 600), t0);
    o.apply(Event::Dump(vec![on("eth0", "2001:2:0:1::100")]), t0);
    let first = o.due(t0.mono);
    assert_eq!(first.len(), 1);
    assert_eq!((first[0].addr, first[0].count), (ip("2001:2:0:1::100"), 1));
    let s = Duration::from_secs;
    assert_eq!(o.due(t0.mono + s(1)).len(), 1, "second burst");
    assert_eq!(o.next_due(), Some(t0.mono + s(601)));
    assert_eq!(o.due(t0.mono + s(601)).len(), 1, "refresh");
    assert_eq!(o.next_due(), Some(t0.mono + s(1201)));
    o.apply(removed("eth0", "2001:2:0:1::100"), t0.after(s(700)));
    assert_eq!(o.next_due(), None);
    assert!(
        o.due(t0.mono + s(1201)).is_empty(),
        "no GARP while not owned"
    );
}

#[test]
fn no_delay_means_one_burst_and_no_repeat_means_none() {
    let t0 = At::now();
    let mut o = Ownership::new(settings(3, 0, 0), t0);
    o.apply(Event::Dump(vec![on("eth0", VIP)]), t0);
    assert_eq!(o.due(t0.mono)[0].count, 3);
    assert_eq!(o.next_due(), None);
    let mut quiet = Ownership::new(settings(0, 5, 0), t0);
    quiet.apply(Event::Dump(vec![on("eth0", VIP)]), t0);
    assert!(
        quiet.due(t0.mono).is_empty(),
        "garp_repeat 0: keepalived's own only"
    );
    assert!(quiet.due(t0.mono + Duration::from_secs(5)).is_empty());
}

#[test]
fn an_address_on_two_taps_stays_owned_and_moves() {
    let t0 = At::now();
    let mut o = synced(t0);
    o.apply(added("eth1", VIP), t0);
    o.due(t0.mono);
    let t = o.apply(added("eth0", VIP), t0);
    assert!(t.is_empty(), "still owned");
    assert_eq!(
        o.rows()[0].tap.as_deref(),
        Some("eth0"),
        "the first TAP in port order"
    );
    assert_eq!(o.due(t0.mono)[0].port, 0, "announced on the new TAP's port");
    let t = o.apply(removed("eth0", VIP), t0);
    assert!(t.is_empty());
    assert_eq!(o.rows()[0].tap.as_deref(), Some("eth1"));
    assert_eq!(o.due(t0.mono)[0].port, 1);
    assert_eq!(o.transitions(), 1);
}

#[test]
fn a_tap_that_disappears_takes_its_addresses_with_it() {
    let t0 = At::now();
    let mut o = synced(t0);
    o.apply(added("eth0", VIP), t0);
    o.apply(added("eth1", LADDR), t0);
    assert!(o.apply(Event::LinkGone("veth7".into()), t0).is_empty());
    let t = o.apply(Event::LinkGone("eth0".into()), t0);
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].addr, ip(VIP));
    assert!(!t[0].owned);
    assert!(
        t[0].why.contains("exception path eth0 disappeared"),
        "{}",
        t[0].why
    );
    assert!(
        !o.is_not_owned(ip(LADDR)),
        "the other TAP's address stays owned"
    );
    // The TAP comes back and keepalived puts the VIP on it again: owned again.
    let t = o.apply(added("eth0", VIP), t0);
    assert_eq!(t.len(), 1);
    assert!(t[0].owned && t[0].tap.as_deref() == Some("eth0"), "{t:?}");
    assert!(!o.is_not_owned(ip(VIP)));
}

#[test]
fn a_resync_dump_replaces_what_was_known() {
    let t0 = At::now();
    let mut o = synced(t0);
    o.apply(added("eth0", VIP), t0);
    // Notifications were lost: the new dump is the truth.
    let t = o.apply(Event::Dump(vec![on("eth1", LADDR)]), t0);
    let changes: Vec<(IpAddr, bool)> = t.iter().map(|t| (t.addr, t.owned)).collect();
    assert_eq!(changes, [(ip(VIP), false), (ip(LADDR), true)]);
}

#[test]
fn a_reload_follows_the_new_list_at_once() {
    let t0 = At::now();
    let mut o = synced(t0);
    o.apply(added("eth0", "198.18.1.101"), t0);
    assert!(
        !o.is_not_owned(ip("198.18.1.101")),
        "not followed: not in the set"
    );
    let mut s = settings(5, 5, 0);
    s.followed = vec![ip(VIP), ip("198.18.1.101")];
    let t = o.reconfigure(s, t0);
    let changes: Vec<(IpAddr, bool, &str)> = t
        .iter()
        .map(|t| (t.addr, t.owned, t.why.as_str()))
        .collect();
    assert_eq!(
        changes,
        [
            (ip(LADDR), true, "no longer follows HA: always owned"),
            (
                ip("2001:2:0:1::100"),
                true,
                "no longer follows HA: always owned"
            ),
            (ip("198.18.1.101"), true, "configuration reloaded"),
        ]
    );
    assert_eq!(o.not_owned(), [ip(VIP)]);
    assert_eq!(o.rows().len(), 2);
    assert_eq!(o.transitions(), 3);
}
