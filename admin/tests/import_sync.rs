//! keepalived's `lvs_sync_daemon` imported into `[sync]`: what maps, what is told on stderr,
//! and a result that loads as a ferrovs configuration.

use std::net::SocketAddr;

use admin::import::{self, vrrp::HaOptions};
use config::SyncMode;

fn data(name: &str) -> String {
    let p = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

/// The director's two ports, their TAPs named as the kernel LVS box's interfaces were.
const BASE: &str = r#"
[[port]]
name = "client"
device = "net_null0"
addresses = ["198.18.1.2/24"]
exception_path = { tap = "eth0" }

[[port]]
name = "server"
device = "net_null1"
addresses = ["198.18.2.2/24"]
exception_path = { tap = "eth1" }
"#;

const KEY: &str = "5a1f0c9e3b7d24e8a6c1f09b3d5e7a2c4b6d8f0a1c3e5b7d9f1a2c4e6b8d0f13";

fn base(extra: &str) -> config::Config {
    config::parse(&format!("{BASE}{extra}"), "base.toml").unwrap_or_else(|e| panic!("{e}"))
}

fn sa(s: &str) -> SocketAddr {
    s.parse().expect("test address")
}

/// Import `text` onto `base`; the TOML must load, and is returned with stderr.
fn import(text: &str, base: &config::Config) -> (config::Config, String) {
    let out = import::keepalived_command("k.conf", text, Some(base), false);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let cfg = config::parse(&out.stdout, "imported.toml")
        .unwrap_or_else(|e| panic!("{e}\n{}", out.stdout));
    (cfg, out.stderr)
}

#[test]
fn lvs_sync_daemon_maps_to_sync_and_tells_what_does_not() {
    let (c, err) = import(&data("keepalived_sync_pair.conf"), &base(""));
    let s = &c.sync;
    assert_eq!(
        s.listen,
        Some(sa("198.18.2.2:8850")),
        "eth1 is server's TAP"
    );
    assert_eq!(s.peers, [sa("198.18.2.3:8850")], "VI_LAN's unicast_peer");
    assert_eq!(
        s.group,
        Some("224.0.0.81".parse().expect("literal")),
        "written group"
    );
    assert_eq!(s.ttl, 2);
    assert_eq!((s.syncid, s.max_datagram), (12, 1400));
    assert_eq!(s.mode, SyncMode::Both);
    assert!(!s.enabled, "no key in keepalived.conf: written disabled");
    assert_eq!(c.services.len(), 1, "the virtual server is imported too");
    for want in [
        "k.conf:9: note: lvs_sync_daemon: [sync] group = \"224.0.0.81\", ttl = 2: peers are \
         discovered there (authenticated hellos), each then synced reliably\n",
        "k.conf:9: warning: lvs_sync_daemon: [sync] is written disabled: ferrovs's session sync \
         carries an HMAC key on every message, and keepalived.conf has no key (the same on \
         every director: openssl rand -hex 32); add them, then set enabled = true (or run \
         ferrovsadm --start-daemon master and --start-daemon backup)\n",
        "k.conf:9: note: lvs_sync_daemon eth1: [sync] listen = \"198.18.2.2:8850\", syncid = 12, \
         max_datagram = 1400, mode = \"both\"\n",
        "k.conf:9: note: lvs_sync_daemon: [sync] peers from vrrp_instance VI_LAN's \
         unicast_peer: 198.18.2.3:8850\n",
    ] {
        assert!(err.contains(want), "no {want:?} in\n{err}");
    }
    assert!(!err.contains("lvs_sync_daemon is not imported"), "{err}");
    // Under --strict, what did not map is an error.
    let strict = import::keepalived_command(
        "k.conf",
        &data("keepalived_sync_pair.conf"),
        Some(&base("")),
        true,
    );
    assert_eq!(strict.code, 1);
    assert!(
        strict
            .stderr
            .contains("k.conf:9: error: lvs_sync_daemon: [sync] is written disabled"),
        "{}",
        strict.stderr
    );
}

#[test]
fn a_base_with_the_key_gives_a_running_channel() {
    let (c, err) = import(
        &data("keepalived_sync_pair.conf"),
        &base(&format!("\n[sync]\nkey = \"{KEY}\"\nrate = 50000\n")),
    );
    assert!(
        c.sync.enabled,
        "listen, peers and key known: enabled\n{err}"
    );
    assert_eq!(c.sync.rate, 50000, "the base's other keys stay");
    assert_eq!(
        c.sync.key.as_ref().map(config::SyncKey::to_hex).as_deref(),
        Some(KEY)
    );
    assert!(!err.contains("written disabled"), "{err}");
}

#[test]
fn older_forms_and_defaults_follow_keepalived() {
    let text = data("keepalived_sync_pair.conf");
    let old = text.replace(
        "lvs_sync_daemon eth1 VI_LAN id 12 maxlen 1400 port 8850 ttl 2 group 224.0.0.81",
        "lvs_sync_daemon eth1 VI_LAN",
    );
    let (c, err) = import(&old, &base(""));
    // No id: keepalived uses the instance's virtual router id; the kernel's port 8848.
    assert_eq!(c.sync.syncid, 51, "{err}");
    assert_eq!(c.sync.listen, Some(sa("198.18.2.2:8848")));
    assert_eq!(c.sync.peers, [sa("198.18.2.3:8848")]);
    assert_eq!(c.sync.group, None, "unicast_peer and no group: unicast");
    assert_eq!(c.sync.max_datagram, config::DEFAULT_SYNC_MAX_DATAGRAM);
    assert!(!err.contains("warning: lvs_sync_daemon ttl"), "{err}");

    let inst = text.replace(
        "lvs_sync_daemon eth1 VI_LAN id 12 maxlen 1400 port 8850 ttl 2 group 224.0.0.81",
        "lvs_sync_daemon server inst VI_LAN maxlen 300",
    );
    let (c, err) = import(&inst, &base(""));
    assert_eq!(
        c.sync.listen,
        Some(sa("198.18.2.2:8848")),
        "a port's own name"
    );
    assert_eq!(c.sync.syncid, 51);
    assert_eq!(c.sync.max_datagram, config::MIN_SYNC_MAX_DATAGRAM);
    assert!(
        err.contains(
            "warning: lvs_sync_daemon maxlen 300: ferrovs sends at least 512 bytes per datagram; \
             max_datagram = 512"
        ),
        "{err}"
    );
}

#[test]
fn without_unicast_peer_the_kernel_group_discovers_peers() {
    let text = data("keepalived_sync_pair.conf")
        .replace(
            "lvs_sync_daemon eth1 VI_LAN id 12 maxlen 1400 port 8850 ttl 2 group 224.0.0.81",
            "lvs_sync_daemon eth1 VI_LAN id 12",
        )
        .replace("    unicast_peer {\n        198.18.2.3\n    }\n", "");
    assert!(!text.contains("unicast_peer"));
    let (c, err) = import(&text, &base(&format!("\n[sync]\nkey = \"{KEY}\"\n")));
    let s = &c.sync;
    assert!(s.peers.is_empty());
    assert_eq!(
        s.group,
        Some("224.0.0.81".parse().expect("literal")),
        "{err}"
    );
    assert_eq!((s.ttl, s.syncid), (1, 12));
    assert_eq!(s.listen, Some(sa("198.18.2.2:8848")));
    assert!(s.enabled, "listen, group and key: it runs\n{err}");
    // Not ready until a peer found there resynced it (a restarted master whose peer is down
    // must not preempt with an empty table).
    assert_eq!((s.expect_peers, s.expected_peers()), (None, 1));
    let note = "k.conf:9: note: lvs_sync_daemon: [sync] group = \"224.0.0.81\", ttl = 1: peers \
                are discovered there (authenticated hellos), each then synced reliably; \
                ferrovsadm --ready waits for 1 of them to resync this gateway (expect_peers)\n";
    assert!(err.contains(note), "no {note:?} in\n{err}");
    // A routed group is told, and the kernel's group is used.
    let routed = text.replace(
        "lvs_sync_daemon eth1 VI_LAN id 12",
        "lvs_sync_daemon eth1 VI_LAN group 239.1.2.3",
    );
    let (c, err) = import(&routed, &base(""));
    assert_eq!(c.sync.group, Some("224.0.0.81".parse().expect("literal")));
    assert!(
        err.contains(
            "warning: lvs_sync_daemon group 239.1.2.3: not a link-local multicast group \
             (224.0.0.0/24, ff02::/16): ferrovs's exception path copies only those to the \
             kernel; not imported"
        ),
        "{err}"
    );
}

#[test]
fn an_interface_no_port_has_is_told() {
    let text =
        data("keepalived_sync_pair.conf").replace("lvs_sync_daemon eth1", "lvs_sync_daemon bond0");
    let (c, err) = import(&text, &base(""));
    assert_eq!(c.sync.listen, None);
    assert!(!c.sync.enabled);
    assert!(
        err.contains("k.conf:9: warning: lvs_sync_daemon bond0: no ferrovs port maps to it"),
        "{err}"
    );
    assert!(
        err.contains("keepalived.conf has no listen, no key"),
        "{err}"
    );
    // --keepalived-out's --interface maps it.
    let r = import::keepalived_ha_command(
        "k.conf",
        &text.replace("interface eth1", "interface bond0"),
        Some(&base("")),
        false,
        &HaOptions {
            interfaces: vec![("bond0".into(), "server".into())],
        },
    );
    assert_eq!(r.outcome.code, 0, "{}", r.outcome.stderr);
    assert!(
        r.outcome.stdout.contains("listen = \"198.18.2.2:8850\""),
        "{}",
        r.outcome.stdout
    );
}
