//! ipvsadm's sync-daemon commands through `ferrovsadm`'s program and the admin handler:
//! `--start-daemon`, `--stop-daemon` and `-L --daemon` on the running `[sync]`, with ipvsadm's
//! output, messages and exit statuses.

mod common;

use admin::format;
use admin::proto::{DaemonEntry, DaemonState};
use common::{run, MemState};
use config::SyncMode;

/// The common base with `[sync]` ready to run but not enabled: its listen address is wan0's.
fn with_sync() -> config::Config {
    let text = format!(
        "{}\n[sync]\nlisten = \"10.0.0.254:8848\"\npeers = [\"10.0.0.253:8848\"]\n\
         key = \"00112233445566778899aabbccddeeff\"\nsyncid = 5\n",
        common::BASE
    );
    config::parse(&text, "sync.toml").unwrap_or_else(|e| panic!("{e}"))
}

fn args(s: &str) -> Vec<&str> {
    s.split_whitespace().collect()
}

/// Run `cmd` and return (exit status, stdout, stderr).
fn go(s: &mut MemState, cmd: &str) -> (u8, String, String) {
    let r = run(s, &args(cmd), "");
    (r.code, r.stdout, r.stderr)
}

#[test]
fn daemon_lines_have_ipvsadm_list_daemon_format() {
    let d = |state, syncid, maxlen, port| DaemonEntry {
        state,
        mcast_interface: "eth0".into(),
        syncid,
        maxlen,
        port,
        group: None,
        ttl: 0,
    };
    assert_eq!(
        format::daemons(&[
            d(DaemonState::Master, 0, 1472, 8848),
            d(DaemonState::Backup, 255, 0, 0)
        ]),
        "master sync daemon (mcast=eth0, syncid=0, maxlen=1472, port=8848)\n\
         backup sync daemon (mcast=eth0, syncid=255)\n"
    );
    assert_eq!(format::daemons(&[]), "");
}

#[test]
fn start_list_and_stop_the_two_directions() {
    let mut s = MemState::new(with_sync());
    assert_eq!(go(&mut s, "-L --daemon"), (0, String::new(), String::new()));

    assert_eq!(
        go(&mut s, "--start-daemon master --syncid 7"),
        (0, String::new(), String::new())
    );
    assert!(s.config.sync.enabled);
    assert_eq!(
        (s.config.sync.mode, s.config.sync.syncid),
        (SyncMode::Master, 7)
    );
    let master = "master sync daemon (mcast=wan0, syncid=7, maxlen=1400, port=8848)\n";
    assert_eq!(
        go(&mut s, "-L --daemon"),
        (0, master.to_owned(), String::new())
    );
    assert_eq!(go(&mut s, "-Ln --daemon").1, master);

    // The kernel's EEXIST, and nothing changed.
    let before = (s.config.clone(), s.commits);
    assert_eq!(
        go(&mut s, "--start-daemon master"),
        (
            255,
            String::new(),
            "Daemon has already run\nferrovs: session sync already runs the master direction \
             ([sync] mode = \"master\")\n"
                .to_owned()
        )
    );
    // One channel, one syncid.
    let (code, _, err) = go(&mut s, "--start-daemon backup --syncid 8");
    assert_eq!(code, 255);
    assert!(
        err.starts_with("--syncid 8 differs from the running master daemon's 7"),
        "{err}"
    );
    assert_eq!((s.config.clone(), s.commits), before);

    assert_eq!(
        go(&mut s, "--start-daemon backup --mcast-interface wan0").0,
        0
    );
    assert_eq!(s.config.sync.mode, SyncMode::Both);
    assert_eq!(
        go(&mut s, "-L --daemon").1,
        format!("{master}backup sync daemon (mcast=wan0, syncid=7, maxlen=1400, port=8848)\n")
    );

    assert_eq!(go(&mut s, "--stop-daemon master").0, 0);
    assert_eq!(s.config.sync.mode, SyncMode::Backup);
    assert_eq!(
        go(&mut s, "-L --daemon").1,
        "backup sync daemon (mcast=wan0, syncid=7, maxlen=1400, port=8848)\n"
    );
    assert_eq!(
        go(&mut s, "--stop-daemon master"),
        (
            255,
            String::new(),
            "No daemon is running\nferrovs: session sync does not run the master direction\n"
                .to_owned()
        )
    );
    assert_eq!(go(&mut s, "--stop-daemon backup").0, 0);
    assert!(!s.config.sync.enabled);
    assert_eq!(go(&mut s, "-L --daemon").1, "");
    // The running configuration as exported says the same.
    let toml = s.config.to_toml();
    assert!(toml.contains("[sync]\nenabled = false"), "{toml}");
}

/// The base with only a `[sync]` key: what an ipvsadm or keepalived user brings.
fn key_only() -> config::Config {
    let text = format!(
        "{}\n[sync]\nkey = \"00112233445566778899aabbccddeeff\"\n",
        common::BASE
    );
    config::parse(&text, "sync.toml").unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn start_daemon_without_peers_discovers_them_on_the_kernel_group() {
    // ipvsadm's usage: an interface and a sync id, no peer list.
    let mut s = MemState::new(key_only());
    assert_eq!(
        go(
            &mut s,
            "--start-daemon master --mcast-interface wan0 --syncid 5"
        ),
        (0, String::new(), String::new())
    );
    let c = &s.config.sync;
    assert!(c.enabled && c.peers.is_empty());
    assert_eq!(c.listen, Some("10.0.0.254:8848".parse().expect("literal")));
    assert_eq!(c.group, Some("224.0.0.81".parse().expect("literal")));
    assert_eq!(
        c.expected_peers(),
        1,
        "ready once a discovered peer resynced it"
    );
    let master =
        "master sync daemon (mcast=wan0, syncid=5, maxlen=1400, group=224.0.0.81, port=8848, ttl=1)\n";
    assert_eq!(go(&mut s, "-L --daemon").1, master);
    // The second direction must agree on the group.
    let (code, _, err) = go(&mut s, "--start-daemon backup --mcast-group 224.0.0.82");
    assert_eq!(code, 255);
    assert!(
        err.starts_with(
            "--mcast-group 224.0.0.82 differs from the running master daemon's 224.0.0.81"
        ),
        "{err}"
    );
    assert_eq!(go(&mut s, "--start-daemon backup --mcast-ttl 1").0, 0);
    assert_eq!(s.config.sync.mode, SyncMode::Both);
    let toml = s.config.to_toml();
    assert!(toml.contains("group = \"224.0.0.81\""), "{toml}");

    // The multicast options set the group; a routed group is refused by the config check.
    let mut s = MemState::new(key_only());
    let ok = "--start-daemon backup --mcast-interface wan0 --mcast-group 224.0.0.18 --mcast-port 9000 --mcast-ttl 2";
    assert_eq!(go(&mut s, ok).0, 0);
    assert_eq!(
        go(&mut s, "-L --daemon").1,
        "backup sync daemon (mcast=wan0, syncid=0, maxlen=1400, group=224.0.0.18, port=9000, ttl=2)\n"
    );
    assert_eq!(
        s.config.sync.listen,
        Some("10.0.0.254:9000".parse().expect("literal"))
    );
    let mut s = MemState::new(key_only());
    let (code, _, err) = go(
        &mut s,
        "--start-daemon backup --mcast-interface wan0 --mcast-group 239.1.1.1",
    );
    assert_eq!(code, 255);
    assert!(
        err.contains("sync.group: 239.1.1.1 is not a link-local group"),
        "{err}"
    );
    // An IPv6 group takes the port's IPv6 address.
    assert_eq!(
        go(
            &mut s,
            "--start-daemon master --mcast-interface wan0 --mcast-group ff02::81"
        )
        .0,
        0
    );
    assert_eq!(
        s.config.sync.listen,
        Some("[2001:db8::fe]:8848".parse().expect("literal"))
    );
}

#[test]
fn start_daemon_refusals_say_why() {
    // No [sync] listen and key: ferrovs's sync is signed, and binds an address.
    let mut s = MemState::new(common::base());
    let (code, out, err) = go(&mut s, "--start-daemon master");
    assert_eq!((code, out.as_str()), (255, ""));
    assert_eq!(
        err,
        "cannot start the master sync daemon: [sync] has no listen, key. ferrovs signs every \
         sync message with the [sync] key (HMAC-SHA256) and binds [sync] listen (or an address \
         of the --mcast-interface port); set them in the configuration file and reload\n"
    );
    // The interface gives the address; the key still comes from the file only.
    let (code, _, err) = go(&mut s, "--start-daemon master --mcast-interface wan0");
    assert_eq!(code, 255);
    assert!(err.contains("[sync] has no key."), "{err}");
    assert_eq!(s.commits, 0);

    let mut s = MemState::new(with_sync());
    let (code, _, err) = go(&mut s, "--start-daemon master --mcast-interface eth9");
    assert_eq!(code, 255);
    assert_eq!(
        err,
        "No such device\nferrovs: eth9 is neither a ferrovs port nor a port's exception-path TAP \
         (ports: wan0)\n"
    );
    let (code, _, err) = go(&mut s, "--start-daemon master --sync-maxlen 100");
    assert_eq!(code, 255);
    assert!(
        err.starts_with("--sync-maxlen 100: ferrovs sends at least 512 bytes"),
        "{err}"
    );
    assert_eq!(s.commits, 0);

    // A gateway whose workers have no sync rings.
    s.sync_available = Err("session sync cannot run: the workers have no sync rings".into());
    assert_eq!(
        go(&mut s, "--start-daemon backup"),
        (
            255,
            String::new(),
            "session sync cannot run: the workers have no sync rings\n".to_owned()
        )
    );
    assert_eq!(go(&mut s, "-L --daemon"), (0, String::new(), String::new()));

    // The gateway refusing the commit is told as it is.
    s.sync_available = Ok(());
    s.refuse_commit = Some("worker 0 did not confirm".into());
    assert_eq!(
        go(&mut s, "--start-daemon backup"),
        (255, String::new(), "worker 0 did not confirm\n".to_owned())
    );
    assert!(!s.config.sync.enabled);
}
