//! `examples/bird.conf` against Debian's BIRD 2: it parses (`bird -p`), and a BIRD running it in
//! a network namespace learns exactly the routes ferrovs's route table writes (table 100,
//! proto 247, host routes) and nothing else, following additions and withdrawals. Needs root
//! (a network namespace) and bird2 (`make deps`).

use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use control::announce::table::RouteTable;

mod common;
use common::{ip, ip_cmd};

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/bird.conf")
}

#[test]
fn the_example_parses() {
    let out = Command::new("bird")
        .arg("-p")
        .arg("-c")
        .arg(example())
        .output()
        .expect("bird runs (apt-get install bird2, or make deps)");
    assert!(
        out.status.success(),
        "bird -p: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A network namespace with `eth0` (a veth) up at 198.18.1.1/24, deleted on drop with the BIRD
/// running in it.
struct Gateway {
    ns: String,
    bird: Option<Child>,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if let Some(b) = &mut self.bird {
            let _ = b.kill();
            let _ = b.wait();
        }
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).status();
    }
}

/// `birdc -s SOCK show route table T` (empty until BIRD answers).
fn show(sock: &Path, table: &str) -> String {
    Command::new("birdc")
        .arg("-s")
        .arg(sock)
        .args(["show", "route", "table", table])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

/// Wait (at most 10 s: BIRD follows netlink notifications, and scans every 2 s) for
/// `cond` on the table's listing.
fn wait_for(sock: &Path, table: &str, what: &str, cond: impl Fn(&str) -> bool) -> String {
    let start = Instant::now();
    loop {
        let s = show(sock, table);
        if cond(&s) {
            return s;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "{what}: {s}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn bird_learns_exactly_ferrovs_routes() {
    let ns = format!("fvbird{}", std::process::id());
    ip_cmd(&["netns", "add", &ns]);
    let mut gw = Gateway { ns, bird: None };
    let f = std::fs::File::open(format!("/run/netns/{}", gw.ns)).expect("netns file");
    rustix::thread::move_into_link_name_space(
        f.as_fd(),
        Some(rustix::thread::LinkNameSpaceType::Network),
    )
    .expect("setns");
    for args in [
        &["link", "set", "lo", "up"][..],
        &[
            "link", "add", "eth0", "type", "veth", "peer", "name", "eth0p",
        ],
        &["link", "set", "eth0p", "up"],
        &["link", "set", "eth0", "up"],
        &["addr", "add", "198.18.1.1/24", "dev", "eth0"],
        // Not ferrovs's: another protocol in its table, and proto 247 in another table.
        &[
            "route",
            "add",
            "10.9.0.0/16",
            "dev",
            "eth0",
            "table",
            "100",
            "proto",
            "static",
        ],
        &[
            "route",
            "add",
            "198.18.1.200",
            "dev",
            "eth0",
            "table",
            "101",
            "proto",
            "247",
        ],
    ] {
        let mut a = vec!["-n", gw.ns.as_str()];
        a.extend_from_slice(args);
        ip_cmd(&a);
    }
    let mut table = RouteTable::open(100).expect("socket");
    let o = table
        .sync(&[(ip("198.18.1.100"), "eth0".into())])
        .expect("sync");
    assert_eq!(o.added, [ip("198.18.1.100")]);

    let dir = tempfile::tempdir().expect("tempdir");
    let sock = dir.path().join("bird.ctl");
    // -f: foreground; the thread is in the namespace, and so is its child.
    gw.bird = Some(
        Command::new("bird")
            .arg("-f")
            .arg("-c")
            .arg(example())
            .arg("-s")
            .arg(&sock)
            .arg("-P")
            .arg(dir.path().join("bird.pid"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("bird starts"),
    );
    let routes = wait_for(&sock, "ferrovs4", "the VIP learned", |s| {
        s.contains("198.18.1.100/32")
    });
    assert!(
        !routes.contains("10.9.0.0"),
        "another protocol's route: {routes}"
    );
    assert!(
        !routes.contains("198.18.1.200"),
        "another table's route: {routes}"
    );
    assert!(routes.contains("eth0"), "{routes}");

    // ferrovs announces a second VIP and withdraws the first: BIRD follows.
    table
        .sync(&[(ip("198.18.1.101"), "eth0".into())])
        .expect("sync");
    let routes = wait_for(&sock, "ferrovs4", "the change followed", |s| {
        s.contains("198.18.1.101/32") && !s.contains("198.18.1.100/32")
    });
    assert!(!routes.contains("10.9.0.0"), "{routes}");
    // The BGP export filter sees them (the session itself needs a router: the ECMP lab).
    let protos = Command::new("birdc")
        .arg("-s")
        .arg(&sock)
        .args(["show", "protocols"])
        .output()
        .expect("birdc");
    let protos = String::from_utf8_lossy(&protos.stdout);
    for p in ["ferrovs_v4", "ferrovs_v6", "upstream", "bfd"] {
        assert!(protos.contains(p), "{p} missing: {protos}");
    }
}
