//! The HA address watcher against a real kernel: a network namespace of its own with a veth
//! interface standing in for an exception-path TAP, addresses added and removed with `ip` as
//! keepalived would, and the ownership state machine fed with what the watcher reports.
//! Needs root (network namespaces), like the lab tests.

use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use control::ha::watcher::Watcher;
use control::ha::{At, Event, Garp, KernelAddr, Ownership, Settings, Tap};

mod common;
use common::{ip, is_root, Netns};

/// Wait for the first event `want` accepts, skipping the others (IPv6 link-local addresses
/// come and go on their own); fail after 5 s.
fn wait_for(w: &Watcher, what: &str, want: impl Fn(&Event) -> bool) -> Event {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match w.events().recv_timeout(left) {
            Ok(ev) if want(&ev) => return ev,
            Ok(_) => {}
            Err(e) => panic!("no {what} within 5 s: {e}; counts {:?}", w.counts()),
        }
    }
}

fn on(ifname: &str, a: &str) -> KernelAddr {
    KernelAddr {
        ifname: ifname.into(),
        addr: ip(a),
    }
}

#[test]
fn the_watcher_follows_addresses_on_a_real_kernel() {
    assert!(
        is_root(),
        "this test needs root (a network namespace of its own); run it as root"
    );
    let ns = Netns::new("fvhaw");
    // This test's thread moves into the namespace; the watcher opens its sockets here.
    let f = std::fs::File::open(format!("/run/netns/{}", ns.0)).expect("netns file");
    rustix::thread::move_into_link_name_space(
        f.as_fd(),
        Some(rustix::thread::LinkNameSpaceType::Network),
    )
    .expect("setns");
    ns.ip(&[
        "link", "add", "eth0", "type", "veth", "peer", "name", "eth0p",
    ]);
    ns.ip(&["link", "set", "eth0p", "up"]);
    ns.ip(&["link", "set", "eth0", "up"]);
    ns.ip(&["addr", "add", "198.18.1.1/24", "dev", "eth0"]);
    ns.ip(&["addr", "add", "198.18.1.100/32", "dev", "eth0"]);

    let w = Watcher::start().expect("watcher starts");
    let t0 = At::now();
    let mut own = Ownership::new(
        Settings {
            followed: vec![ip("198.18.1.100"), ip("198.18.1.101"), ip("2001:2::100")],
            taps: vec![Tap {
                name: "eth0".into(),
                port: 0,
            }],
            garp: Garp {
                repeat: 5,
                delay: Duration::ZERO,
                refresh: Duration::ZERO,
            },
        },
        t0,
    );
    let dump = wait_for(&w, "the dump", |e| matches!(e, Event::Dump(_)));
    let Event::Dump(addrs) = &dump else {
        unreachable!()
    };
    assert!(addrs.contains(&on("eth0", "198.18.1.100")), "{addrs:?}");
    assert!(addrs.contains(&on("eth0", "198.18.1.1")), "{addrs:?}");
    own.apply(dump, t0);
    assert_eq!(own.not_owned(), [ip("198.18.1.101"), ip("2001:2::100")]);

    // keepalived becomes master: its virtual_ipaddress entries appear.
    ns.ip(&["addr", "add", "198.18.1.101/32", "dev", "eth0"]);
    let ev = wait_for(&w, "the IPv4 add", |e| {
        *e == Event::Added(on("eth0", "198.18.1.101"))
    });
    let t = own.apply(ev, t0);
    assert_eq!((t.len(), t[0].owned), (1, true));
    ns.ip(&[
        "-6",
        "addr",
        "add",
        "2001:2::100/128",
        "dev",
        "eth0",
        "nodad",
    ]);
    let ev = wait_for(&w, "the IPv6 add", |e| {
        *e == Event::Added(on("eth0", "2001:2::100"))
    });
    own.apply(ev, t0);
    assert!(own.not_owned().is_empty());

    // keepalived steps down: they go again.
    ns.ip(&["addr", "del", "198.18.1.101/32", "dev", "eth0"]);
    let ev = wait_for(&w, "the IPv4 delete", |e| {
        *e == Event::Removed(on("eth0", "198.18.1.101"))
    });
    let t = own.apply(ev, t0);
    assert_eq!((t.len(), t[0].owned), (1, false));
    assert_eq!(own.not_owned(), [ip("198.18.1.101")]);

    // The TAP goes away: everything on it is no longer owned.
    ns.ip(&["link", "del", "eth0"]);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !own.not_owned().contains(&ip("198.18.1.100"))
        || !own.not_owned().contains(&ip("2001:2::100"))
    {
        let left = deadline.saturating_duration_since(Instant::now());
        let ev = w
            .events()
            .recv_timeout(left)
            .unwrap_or_else(|e| panic!("the TAP's removal not seen: {e}"));
        own.apply(ev, t0);
    }
    let c = w.counts();
    assert!(c.events >= 5, "{c:?}");
    assert_eq!((c.undecodable, c.errors), (0, 0), "{c:?}");
    assert_eq!(w.problem(), None);
    let stopped = Instant::now();
    w.stop();
    assert!(
        stopped.elapsed() < Duration::from_secs(2),
        "the thread stops"
    );
}
