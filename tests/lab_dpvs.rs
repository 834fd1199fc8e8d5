//! DPVS's local-address commands on the running gateway (issue 21 item 3), in the netns lab:
//! `ferrovsadm --add-laddr` on the FullNAT service puts a second local address into use for
//! new connections (the real servers see it as the source: nginx answers with the peer
//! address in `X-Client`), `-G` lists both with their connections, and `--del-laddr` takes the
//! first out of use. Needs root (namespaces); nextest runs it in the serial lab group.

mod common;

use std::collections::BTreeSet;
use std::process::{Child, Stdio};
use std::time::Duration;

use common::Lab;

/// `ferrovsadm ARGS` on the gateway host; its stdout, or panic with the gateway's log.
fn adm(lab: &Lab, args: &[&str]) -> String {
    let mut cmd = vec!["ferrovsadm"];
    cmd.extend_from_slice(args);
    let mut full = vec!["exec", "gw", "--"];
    full.extend_from_slice(&cmd);
    let out = lab.lab(&full);
    assert!(
        out.status.success(),
        "{cmd:?}: {}\n{}",
        common::text(&out),
        lab.logs()
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `n` new connections (one GET each) from the client: the source address each real server
/// saw (nginx's `X-Client: $remote_addr`).
fn sources(lab: &Lab, n: usize) -> Vec<String> {
    let url = format!("http://{}/", lab.var("VIP"));
    (0..n)
        .map(|_| {
            let head = lab.run(
                "client",
                &["curl", "-sS", "-m", "5", "-o", "/dev/null", "-D", "-", &url],
            );
            head.lines()
                .find_map(|l| l.strip_prefix("X-Client: "))
                .unwrap_or_else(|| panic!("no X-Client header in {head:?}"))
                .trim()
                .to_owned()
        })
        .collect()
}

/// A connection held open from the client (socat with its stdin open), closed when dropped.
struct Held(Child);

impl Drop for Held {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn set(v: &[String]) -> BTreeSet<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn lab_fullnat_add_laddr_is_used_by_new_connections_and_del_laddr_retires_it() {
    add_and_del_laddr("1");
}

/// The same with two workers: replies to the added address must reach the worker that owns
/// each session, though the address got no NIC steering rule at start (RSS-aware local ports
/// or the software redirect carry them, whichever the lab's ports allow).
#[test]
fn lab_fullnat_add_laddr_two_workers() {
    add_and_del_laddr("2");
}

fn add_and_del_laddr(workers: &str) {
    let lab = Lab::create("fvd", "fullnat", &["--workers", workers]);
    let first = lab.var("LADDR").to_owned();
    let second = "198.18.2.101";
    let service = format!("{}:80", lab.var("VIP"));
    // Before: every connection comes from the configured local address.
    let before = sources(&lab, 4);
    assert_eq!(set(&before), BTreeSet::from([first.as_str()]), "{before:?}");

    // DPVS's command, on the lab's server-side port ("server" in the single-gateway lab).
    adm(
        &lab,
        &["--add-laddr", "-z", second, "-t", &service, "-F", "server"],
    );
    // Local addresses take turns: eight new connections use both.
    let after = sources(&lab, 8);
    assert_eq!(
        set(&after),
        BTreeSet::from([first.as_str(), second]),
        "new connections use the added local address: {after:?}"
    );
    assert!(
        after.iter().filter(|a| *a == second).count() >= 3,
        "the added address takes about half the connections: {after:?}"
    );

    // -G in DPVS's format: the service, its pool's addresses (the lab's pool has an IPv6 one
    // too) and the connections from each. A connection held open keeps one session counted;
    // the connections just made from the added address stay in the table through their
    // closing states, so it counts some.
    let held = Held(
        lab.command(&[
            "exec",
            "client",
            "--",
            "socat",
            "-",
            &format!("TCP:{service}"),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("socat"),
    );
    let mut listing = String::new();
    let conns = |listing: &str, addr: &str| -> Option<u64> {
        listing
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .find(|r| r.first() == Some(&addr))
            .and_then(|r| r.last().and_then(|c| c.parse().ok()))
    };
    let counted = common::poll(Duration::from_secs(10), || {
        listing = adm(&lab, &["-G"]);
        conns(&listing, second).unwrap_or(0) >= 1
            && conns(&listing, &first).unwrap_or(0) + conns(&listing, second).unwrap_or(0) >= 2
    });
    let rows: Vec<Vec<&str>> = listing
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        rows[0],
        ["VIP:VPORT", "TOTAL", "SNAT_IP", "CONFLICTS", "CONNS"],
        "{listing}"
    );
    assert_eq!(rows[1][0], service, "{listing}");
    assert_eq!(
        rows[1][1],
        (rows.len() - 2).to_string(),
        "TOTAL counts the rows: {listing}"
    );
    let addrs: Vec<&str> = rows[2..].iter().map(|r| r[0]).collect();
    assert!(
        addrs.contains(&first.as_str()) && addrs.contains(&second),
        "{listing}"
    );
    assert!(
        counted.is_some(),
        "connections counted per local address:\n{listing}"
    );
    drop(held);

    // Retire the first: new connections all come from the added one.
    adm(
        &lab,
        &["--del-laddr", "-z", &first, "-t", &service, "-F", "server"],
    );
    let last = sources(&lab, 4);
    assert_eq!(set(&last), BTreeSet::from([second]), "{last:?}");
    // The running configuration says the same (what `-S`/a restart would keep).
    let cfg = adm(&lab, &["-G", "-t", &service]);
    assert!(cfg.contains(second) && !cfg.contains(&first), "{cfg}");
}
