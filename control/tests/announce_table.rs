//! ferrovs's route table against a real kernel: a network namespace of its own with veth
//! interfaces standing in for an exception-path TAP; the table is read back with
//! `ip route show table N`, as BIRD's kernel protocol would see it. Needs root (network
//! namespaces), like the lab tests.

use std::os::fd::AsFd;
use std::process::Command;

use control::announce::table::RouteTable;

mod common;
use common::{ip, is_root, Netns};

/// `ip -n NS [-6] route show table N`, one route a line, trimmed.
fn table(ns: &Netns, v6: bool, n: u32) -> Vec<String> {
    let n = n.to_string();
    let mut a = vec!["-n", &ns.0];
    if v6 {
        a.push("-6");
    }
    a.extend(["route", "show", "table", &n]);
    let out = Command::new("ip").args(&a).output().expect("ip runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim().to_owned())
        .collect()
}

#[test]
fn the_table_holds_exactly_the_wanted_vips_and_nothing_else_is_touched() {
    assert!(
        is_root(),
        "this test needs root (a network namespace of its own); run it as root"
    );
    let ns = Netns::new("fvann");
    // This test's thread moves into the namespace; the socket is opened here.
    let f = std::fs::File::open(format!("/run/netns/{}", ns.0)).expect("netns file");
    rustix::thread::move_into_link_name_space(
        f.as_fd(),
        Some(rustix::thread::LinkNameSpaceType::Network),
    )
    .expect("setns");
    for tap in ["tap0", "tap1"] {
        let peer = format!("{tap}p");
        ns.ip(&["link", "add", tap, "type", "veth", "peer", "name", &peer]);
        ns.ip(&["link", "set", &peer, "up"]);
        ns.ip(&["link", "set", tap, "up"]);
    }

    let mut t = RouteTable::open(100).expect("socket");
    let want = vec![
        (ip("198.18.1.100"), "tap0".to_owned()),
        (ip("198.18.1.101"), "tap0".to_owned()),
        (ip("2001:2:0:1::100"), "tap0".to_owned()),
    ];
    let o = t.sync(&want).expect("sync");
    assert_eq!(o.added.len(), 3, "{o:?}");
    assert!(o.problems.is_empty() && o.foreign.is_empty(), "{o:?}");
    assert_eq!(
        table(&ns, false, 100),
        [
            "198.18.1.100 dev tap0 proto 247 scope link",
            "198.18.1.101 dev tap0 proto 247 scope link"
        ]
    );
    assert_eq!(
        table(&ns, true, 100),
        ["2001:2:0:1::100 dev tap0 proto 247 metric 1024 pref medium"]
    );
    assert!(
        table(&ns, false, 254)
            .iter()
            .all(|r| !r.contains("198.18.1.10")),
        "nothing in main: {:?}",
        table(&ns, false, 254)
    );
    // In sync: a second pass changes nothing.
    let o = t.sync(&want).expect("sync");
    assert!(o.added.is_empty() && o.removed.is_empty(), "{o:?}");

    // Someone else's route in the table: reported, never touched; `foreign` lists it.
    ns.ip(&[
        "route",
        "add",
        "10.9.0.0/16",
        "dev",
        "tap0",
        "table",
        "100",
        "proto",
        "static",
    ]);
    // A withdrawal, a route deleted by hand, and one moved to another interface.
    ns.ip(&["route", "del", "198.18.1.101", "table", "100"]);
    let want = vec![
        (ip("198.18.1.101"), "tap1".to_owned()),
        (ip("2001:2:0:1::100"), "tap0".to_owned()),
    ];
    let o = t.sync(&want).expect("sync");
    assert_eq!(o.removed, [ip("198.18.1.100")], "{o:?}");
    assert_eq!(o.added, [ip("198.18.1.101")], "{o:?}");
    assert_eq!(o.foreign.len(), 1, "{o:?}");
    assert_eq!(o.foreign[0].to_string(), "10.9.0.0/16 proto 4");
    assert_eq!(
        table(&ns, false, 100),
        [
            "10.9.0.0/16 dev tap0 proto static scope link",
            "198.18.1.101 dev tap1 proto 247 scope link"
        ]
    );
    assert_eq!(t.foreign().expect("dump").len(), 1);

    // The kernel flushes IPv4 routes with their interface going down; while it is down the
    // route cannot come back (the problem is reported, the rest done); once up, it does.
    ns.ip(&["link", "set", "tap1", "down"]);
    let o = t.sync(&want).expect("sync");
    assert_eq!(o.problems.len(), 1, "{o:?}");
    assert!(o.problems[0].contains("198.18.1.101"), "{o:?}");
    ns.ip(&["link", "set", "tap1", "up"]);
    let o = t.sync(&want).expect("sync");
    assert_eq!(o.added, [ip("198.18.1.101")], "{o:?}");
    // An interface that does not exist is a problem of its VIP alone.
    let o = t
        .sync(&[(ip("198.18.1.102"), "nosuch0".to_owned())])
        .expect("sync");
    assert_eq!(
        o.problems,
        ["198.18.1.102: interface nosuch0 does not exist"]
    );
    assert_eq!(o.removed.len(), 2, "{o:?}");
    assert_eq!(
        table(&ns, false, 100),
        ["10.9.0.0/16 dev tap0 proto static scope link"]
    );

    // Table ids above 255 travel in RTA_TABLE.
    let mut big = RouteTable::open(4242).expect("socket");
    big.sync(&[(ip("198.18.1.100"), "tap0".to_owned())])
        .expect("sync");
    assert_eq!(
        table(&ns, false, 4242),
        ["198.18.1.100 dev tap0 proto 247 scope link"]
    );
    assert!(big.foreign().expect("dump").is_empty());
    assert_eq!(
        table(&ns, false, 100),
        ["10.9.0.0/16 dev tap0 proto static scope link"],
        "table 100 untouched"
    );
}
