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
        lab.tails(&["LOG"])
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `n` new connections (one GET each) from the client: the source address each real server
/// saw (nginx's `X-Client: $remote_addr`).
fn sources(lab: &Lab, n: usize) -> Vec<String> {
    let url = format!("http://{}/", lab.var("VIP"));
    (0..n)
        .map(|_| {
            let head = lab.run("client", &["curl", "-sS", "-m", "5", "-o", "/dev/null", "-D", "-", &url]);
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
    let lab = Lab::up("fvd", "fullnat", &["--workers", "1"]);
    let first = lab.var("LADDR").to_owned();
    let second = "198.18.2.101";
    let service = format!("{}:80", lab.var("VIP"));
    // Before: every connection comes from the configured local address.
    let before = sources(&lab, 4);
    assert_eq!(set(&before), BTreeSet::from([first.as_str()]), "{before:?}");

    // DPVS's command, on the lab's server-side port ("server" in the single-gateway lab).
    adm(&lab, &["--add-laddr", "-z", second, "-t", &service, "-F", "server"]);
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

    // -G in DPVS's format, with a held connection counted on its local address.
    let held = Held(
        lab.command(&["exec", "client", "--", "socat", "-", &format!("TCP:{service}")])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("socat"),
    );
    let mut listing = String::new();
    let counted = common::poll(Duration::from_secs(10), || {
        listing = adm(&lab, &["-G"]);
        listing
            .lines()
            .filter(|l| l.starts_with(' '))
            .filter_map(|l| l.split_whitespace().last())
            .any(|c| c == "1")
    });
    let rows: Vec<Vec<&str>> = listing.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(rows[0], ["VIP:VPORT", "TOTAL", "SNAT_IP", "CONFLICTS", "CONNS"], "{listing}");
    assert_eq!(rows[1], [service.as_str(), "2"], "{listing}");
    assert_eq!(rows[2][0], first, "{listing}");
    assert_eq!(rows[3][0], second, "{listing}");
    assert!(counted.is_some(), "the held connection is counted:\n{listing}");
    drop(held);

    // Retire the first: new connections all come from the added one.
    adm(&lab, &["--del-laddr", "-z", &first, "-t", &service, "-F", "server"]);
    let last = sources(&lab, 4);
    assert_eq!(set(&last), BTreeSet::from([second]), "{last:?}");
    // The running configuration says the same (what `-S`/a restart would keep).
    let cfg = adm(&lab, &["-G", "-t", &service]);
    assert!(
        cfg.contains(second) && !cfg.contains(&first),
        "{cfg}"
    );
}
