//! ipvsadm's sync daemons on ferrovs's session sync (`[sync]`, issue 15).
//!
//! The kernel runs two daemons, `master` (sends its connections) and `backup` (installs the
//! peers'), each started and stopped on its own. ferrovs runs one reliable channel whose
//! `[sync] mode` says which directions run, so the commands map onto the running `[sync]`:
//!
//! - `--start-daemon master|backup` sets `enabled = true` and adds that direction to `mode`
//!   (`master` + `backup` = `both`); `--syncid` and `--sync-maxlen` set `syncid` and
//!   `max_datagram`. `--mcast-interface IF` names the ferrovs port (or its exception-path TAP)
//!   that carries sync: it must be the port holding `[sync] listen`'s address (ferrovs binds
//!   there; peers know it by it); without `listen` in the file, the port's first address
//!   (IPv4 unless the group is IPv6) becomes `listen`, on `--mcast-port` or 8848.
//! - Like the kernel's daemon, no peer list is needed: without `[sync] peers` the channel
//!   discovers its peers on a multicast group (`[sync] group`, default the kernel's
//!   224.0.0.81; `--mcast-group`, `--mcast-port`, `--mcast-ttl` set `group`, `group_port` and
//!   `ttl`), then syncs each reliably (`control/src/sync/mod.rs`). The `key` comes from the
//!   configuration file only: every message carries an HMAC, so a forged hello creates no peer.
//!   With the `backup` direction and no peer list, `ferrovsadm --ready` then passes only once a
//!   discovered peer has resynced this gateway (`[sync] expect_peers`, 1 by default there).
//! - `--stop-daemon master|backup` removes that direction; the last one stops the channel.
//! - `-L --daemon` prints one line per running direction in ipvsadm's format
//!   ([`crate::format::daemons`]).
//!
//! The kernel's errors are kept ("Daemon has already run", "No daemon is running"), with a
//! second line saying why in ferrovs's terms. One channel has one `syncid` and one
//! `max_datagram`, so starting the second direction with different values is refused rather
//! than silently changing the running one. Changes go through the same commit as any admin
//! change (the channel restarts when its settings change, a new epoch its peers resync with);
//! like them, they last until the next reload from the file.

use config::{Config, SessionSync, SyncMode};

use crate::proto::{DaemonEntry, DaemonSpec, DaemonState};

/// ipvsadm's text for `EEXIST` on `--start-daemon`.
pub const E_DAEMON_RUNNING: &str = "Daemon has already run";
/// ipvsadm's text for `ESRCH` on `--stop-daemon`.
pub const E_NO_DAEMON: &str = "No daemon is running";

/// Why a daemon command was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DaemonError {
    /// The direction already runs.
    #[error("{E_DAEMON_RUNNING}\nferrovs: session sync already runs the {0} direction ([sync] mode = \"{1}\")")]
    AlreadyRunning(&'static str, &'static str),
    /// The direction does not run.
    #[error("{E_NO_DAEMON}\nferrovs: session sync does not run the {0} direction")]
    NotRunning(&'static str),
    /// `[sync]` lacks what only the file can give.
    #[error(
        "cannot start the {state} sync daemon: [sync] has no {missing}. ferrovs signs every sync \
         message with the [sync] key (HMAC-SHA256) and binds [sync] listen (or an address of \
         the --mcast-interface port); set them in the configuration file and reload"
    )]
    Unconfigured {
        /// The direction asked for.
        state: &'static str,
        /// The keys missing, comma-separated.
        missing: String,
    },
    /// `--mcast-interface` names nothing ferrovs has.
    #[error(
        "No such device\nferrovs: {0} is neither a ferrovs port nor a port's exception-path TAP \
         (ports: {1})"
    )]
    NoSuchInterface(String, String),
    /// `--mcast-interface` names a port that does not hold `[sync] listen`.
    #[error(
        "--mcast-interface {iface}: [sync] listen {listen} is {location}; ferrovs binds the sync \
         socket to [sync] listen, so start it without --mcast-interface or change listen in the \
         configuration file"
    )]
    WrongInterface {
        /// The interface given.
        iface: String,
        /// The listen address.
        listen: String,
        /// Where the listen address is.
        location: String,
    },
    /// The other direction runs with another value of a shared setting.
    #[error(
        "--{option} {asked} differs from the running {other} daemon's {running}: ferrovs runs \
         both directions on one channel with one {option}; stop the {other} daemon first or \
         start with --{option} {running}"
    )]
    Conflict {
        /// `syncid`, `sync-maxlen`, `mcast-group`, `mcast-port` or `mcast-ttl`.
        option: &'static str,
        /// The value asked for.
        asked: String,
        /// The running direction.
        other: &'static str,
        /// Its value.
        running: String,
    },
    /// An IPv6 `listen` and no group: the kernel's default group is IPv4.
    #[error(
        "cannot start the {0} sync daemon: [sync] listen is IPv6 and there are no [sync] peers; \
         give --mcast-group (a link-local group such as ff02::81) or set group or peers in the \
         configuration file"
    )]
    NoGroup(&'static str),
    /// `--sync-maxlen` below what one message needs.
    #[error(
        "--sync-maxlen {0}: ferrovs sends at least {min} bytes (a header, an HMAC and several \
         sessions per datagram)",
        min = config::MIN_SYNC_MAX_DATAGRAM
    )]
    MaxlenTooSmall(u16),
}

/// The directions `s` runs.
fn directions(s: &SessionSync) -> (bool, bool) {
    if s.enabled {
        (s.mode.sends(), s.mode.receives())
    } else {
        (false, false)
    }
}

fn mode_of(master: bool, backup: bool) -> SyncMode {
    match (master, backup) {
        (true, false) => SyncMode::Master,
        (false, true) => SyncMode::Backup,
        _ => SyncMode::Both,
    }
}

/// The port whose addresses include `ip`.
fn port_holding(cfg: &Config, ip: std::net::IpAddr) -> Option<&config::Port> {
    cfg.ports
        .iter()
        .find(|p| p.addresses.iter().any(|a| a.addr == ip))
}

/// Return `cfg` with the `spec.state` direction of session sync started.
///
/// # Errors
///
/// See [`DaemonError`]; `cfg` is not changed.
pub fn start(cfg: &Config, spec: &DaemonSpec) -> Result<Config, DaemonError> {
    let state = spec.state.name();
    let (master, backup) = directions(&cfg.sync);
    let (running_this, other) = match spec.state {
        DaemonState::Master => (master, backup.then_some("backup")),
        DaemonState::Backup => (backup, master.then_some("master")),
    };
    if running_this {
        return Err(DaemonError::AlreadyRunning(state, cfg.sync.mode.name()));
    }
    let s = &cfg.sync;
    let listen = s.listen.or_else(|| derived_listen(cfg, spec));
    let missing: Vec<&str> = [("listen", listen.is_none()), ("key", s.key.is_none())]
        .into_iter()
        .filter_map(|(k, absent)| absent.then_some(k))
        .collect();
    let Some(listen) = listen.filter(|_| missing.is_empty()) else {
        return Err(DaemonError::Unconfigured {
            state,
            missing: missing.join(", "),
        });
    };
    if let Some(iface) = &spec.mcast_interface {
        check_interface(cfg, iface, listen)?;
    }
    if let Some(n) = spec.maxlen {
        if n < config::MIN_SYNC_MAX_DATAGRAM {
            return Err(DaemonError::MaxlenTooSmall(n));
        }
    }
    // The kernel's daemon needs no peer list; neither does ferrovs's with a group.
    let group = match (spec.group.or(s.group), s.peers.is_empty()) {
        (Some(g), _) => Some(g),
        (None, false) => None,
        (None, true) if listen.is_ipv4() => Some(config::DEFAULT_SYNC_GROUP_V4.into()),
        (None, true) => return Err(DaemonError::NoGroup(state)),
    };
    if let Some(other) = other {
        let show = |v: Option<String>| v.unwrap_or_else(|| "(none)".to_owned());
        let checks = [
            (
                "syncid",
                spec.syncid.map(|v| v.to_string()),
                s.syncid.to_string(),
            ),
            (
                "sync-maxlen",
                spec.maxlen.map(|v| v.to_string()),
                s.max_datagram.to_string(),
            ),
            (
                "mcast-group",
                spec.group.map(|v| v.to_string()),
                show(s.group.map(|g| g.to_string())),
            ),
            (
                "mcast-port",
                spec.mcast_port.map(|v| v.to_string()),
                show(s.group_port.map(|p| p.to_string())),
            ),
            (
                "mcast-ttl",
                spec.ttl.map(|v| v.to_string()),
                s.ttl.to_string(),
            ),
        ];
        for (option, asked, running) in checks {
            if let Some(asked) = asked.filter(|a| *a != running) {
                return Err(DaemonError::Conflict {
                    option,
                    asked,
                    other,
                    running,
                });
            }
        }
    }
    let mut new = cfg.clone();
    new.sync.enabled = true;
    new.sync.mode = match spec.state {
        DaemonState::Master => mode_of(true, backup),
        DaemonState::Backup => mode_of(master, true),
    };
    new.sync.listen = Some(listen);
    new.sync.group = group;
    if let Some(id) = spec.syncid {
        new.sync.syncid = id;
    }
    if let Some(n) = spec.maxlen {
        new.sync.max_datagram = n;
    }
    if let Some(p) = spec.mcast_port {
        new.sync.group_port = Some(p);
    }
    if let Some(t) = spec.ttl {
        new.sync.ttl = t;
    }
    Ok(new)
}

/// `listen` from `--mcast-interface` when the file has none: the port's first address of the
/// group's family (IPv4 unless `--mcast-group` is IPv6), on `--mcast-port` or the kernel's 8848.
fn derived_listen(cfg: &Config, spec: &DaemonSpec) -> Option<std::net::SocketAddr> {
    let iface = spec.mcast_interface.as_deref()?;
    let port = cfg
        .ports
        .iter()
        .find(|p| p.name == iface || p.exception_path.as_deref() == Some(iface))?;
    let v4 = spec.group.is_none_or(|g| g.is_ipv4());
    let ip = port
        .addresses
        .iter()
        .map(|a| a.addr)
        .find(|a| a.is_ipv4() == v4)?;
    Some(std::net::SocketAddr::new(
        ip,
        spec.mcast_port.unwrap_or(config::DEFAULT_SYNC_PORT),
    ))
}

fn check_interface(
    cfg: &Config,
    iface: &str,
    listen: std::net::SocketAddr,
) -> Result<(), DaemonError> {
    let Some(port) = cfg
        .ports
        .iter()
        .find(|p| p.name == iface || p.exception_path.as_deref() == Some(iface))
    else {
        let names: Vec<&str> = cfg.ports.iter().map(|p| p.name.as_str()).collect();
        return Err(DaemonError::NoSuchInterface(
            iface.to_owned(),
            names.join(", "),
        ));
    };
    let holder = port_holding(cfg, listen.ip());
    if holder.is_some_and(|h| h.name == port.name) {
        return Ok(());
    }
    let listen = listen.ip().to_string();
    Err(DaemonError::WrongInterface {
        iface: iface.to_owned(),
        listen,
        location: match holder {
            Some(h) => format!("an address of port {}, not of port {}", h.name, port.name),
            None => "on no ferrovs port (a management interface?)".to_owned(),
        },
    })
}

/// Return `cfg` with the `state` direction of session sync stopped.
///
/// # Errors
///
/// [`DaemonError::NotRunning`] when that direction does not run.
pub fn stop(cfg: &Config, state: DaemonState) -> Result<Config, DaemonError> {
    let (master, backup) = directions(&cfg.sync);
    let (master, backup) = match state {
        DaemonState::Master if master => (false, backup),
        DaemonState::Backup if backup => (master, false),
        _ => return Err(DaemonError::NotRunning(state.name())),
    };
    let mut new = cfg.clone();
    if master || backup {
        new.sync.mode = mode_of(master, backup);
    } else {
        // The mode stays as written; only the channel stops.
        new.sync.enabled = false;
    }
    Ok(new)
}

/// The directions `cfg` runs, master first, as `-L --daemon` lists them.
pub fn running(cfg: &Config) -> Vec<DaemonEntry> {
    let s = &cfg.sync;
    let (master, backup) = directions(s);
    let Some(listen) = s.listen else {
        return Vec::new();
    };
    let iface =
        port_holding(cfg, listen.ip()).map_or_else(|| listen.ip().to_string(), |p| p.name.clone());
    let port = s.group_addr().map_or(listen.port(), |g| g.port());
    [(master, DaemonState::Master), (backup, DaemonState::Backup)]
        .into_iter()
        .filter(|(on, _)| *on)
        .map(|(_, state)| DaemonEntry {
            state,
            mcast_interface: iface.clone(),
            syncid: s.syncid,
            maxlen: s.max_datagram,
            port,
            group: s.group,
            ttl: if s.group.is_some() { s.ttl } else { 0 },
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
[[port]]
name = "wan0"
device = "net_null0"
addresses = ["198.18.0.2/24"]
exception_path = { tap = "tap-wan0" }

[[port]]
name = "lan0"
device = "net_null1"
addresses = ["198.18.2.2/24"]
exception_path = { tap = "tap-lan0" }
"#;

    const SYNC: &str = r#"
[sync]
listen = "198.18.2.2:8848"
peers = ["198.18.2.3:8848"]
key = "00112233445566778899aabbccddeeff"
syncid = 7
"#;

    fn cfg(text: &str) -> Config {
        config::parse(text, "t.toml").unwrap_or_else(|e| panic!("{e}"))
    }

    fn spec(state: DaemonState) -> DaemonSpec {
        DaemonSpec {
            state,
            mcast_interface: None,
            syncid: None,
            maxlen: None,
            group: None,
            mcast_port: None,
            ttl: None,
        }
    }

    #[test]
    fn start_adds_a_direction_and_stop_removes_it() {
        let c = cfg(&format!("{BASE}{SYNC}"));
        assert!(running(&c).is_empty(), "disabled: nothing runs");
        let m = start(&c, &spec(DaemonState::Master)).expect("start master");
        assert!(m.sync.enabled);
        assert_eq!(m.sync.mode, SyncMode::Master);
        assert_eq!(
            start(&m, &spec(DaemonState::Master))
                .unwrap_err()
                .to_string(),
            "Daemon has already run\nferrovs: session sync already runs the master direction \
             ([sync] mode = \"master\")"
        );
        let both = start(&m, &spec(DaemonState::Backup)).expect("start backup");
        assert_eq!(both.sync.mode, SyncMode::Both);
        let l = running(&both);
        assert_eq!(
            l.iter().map(|d| d.state).collect::<Vec<_>>(),
            [DaemonState::Master, DaemonState::Backup]
        );
        assert_eq!(l[0].mcast_interface, "lan0", "the port holding listen");
        assert_eq!((l[0].syncid, l[0].maxlen, l[0].port), (7, 1400, 8848));
        let b = stop(&both, DaemonState::Master).expect("stop master");
        assert!(b.sync.enabled);
        assert_eq!(b.sync.mode, SyncMode::Backup);
        let off = stop(&b, DaemonState::Backup).expect("stop backup");
        assert!(!off.sync.enabled);
        assert!(running(&off).is_empty());
        assert_eq!(
            stop(&off, DaemonState::Backup).unwrap_err().to_string(),
            "No daemon is running\nferrovs: session sync does not run the backup direction"
        );
        // Every result is a valid configuration.
        for c in [&m, &both, &b, &off] {
            crate::apply::validate(c).expect("valid");
        }
    }

    #[test]
    fn start_takes_syncid_and_maxlen_and_checks_the_interface() {
        let c = cfg(&format!("{BASE}{SYNC}"));
        let s = start(
            &c,
            &DaemonSpec {
                state: DaemonState::Backup,
                mcast_interface: Some("tap-lan0".into()),
                syncid: Some(9),
                maxlen: Some(1472),
                ..spec(DaemonState::Backup)
            },
        )
        .expect("start");
        assert_eq!((s.sync.syncid, s.sync.max_datagram), (9, 1472));
        assert_eq!(s.sync.mode, SyncMode::Backup);
        let with = |iface: &str| DaemonSpec {
            mcast_interface: Some(iface.into()),
            ..spec(DaemonState::Master)
        };
        assert!(
            start(&c, &with("lan0")).is_ok(),
            "the port's name works too"
        );
        assert_eq!(
            start(&c, &with("eth0")).unwrap_err().to_string(),
            "No such device\nferrovs: eth0 is neither a ferrovs port nor a port's exception-path \
             TAP (ports: wan0, lan0)"
        );
        let e = start(&c, &with("wan0")).unwrap_err().to_string();
        assert!(
            e.contains("198.18.2.2 is an address of port lan0, not of port wan0"),
            "{e}"
        );
        // The second direction must agree with the running one.
        let e = start(
            &s,
            &DaemonSpec {
                syncid: Some(3),
                ..spec(DaemonState::Master)
            },
        )
        .unwrap_err();
        assert_eq!(
            e,
            DaemonError::Conflict {
                option: "syncid",
                asked: "3".into(),
                other: "backup",
                running: "9".into()
            }
        );
        let e = start(
            &c,
            &DaemonSpec {
                maxlen: Some(100),
                ..spec(DaemonState::Master)
            },
        )
        .unwrap_err();
        assert_eq!(e, DaemonError::MaxlenTooSmall(100));
    }

    #[test]
    fn start_without_peers_or_key_says_why() {
        let c = cfg(BASE);
        let e = start(&c, &spec(DaemonState::Master))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with(
                "cannot start the master sync daemon: [sync] has no listen, key. ferrovs signs"
            ),
            "{e}"
        );
        let c = cfg(&format!("{BASE}{}", SYNC.replace("key = ", "# key = ")));
        let e = start(&c, &spec(DaemonState::Backup))
            .unwrap_err()
            .to_string();
        assert!(e.contains("[sync] has no key."), "{e}");
        // Without peers: the kernel's group for IPv4, an explicit one for IPv6.
        let no_peers = SYNC.replace("peers = ", "# peers = ");
        let c = cfg(&format!("{BASE}{no_peers}"));
        let s = start(&c, &spec(DaemonState::Backup)).expect("start");
        assert_eq!(s.sync.group, Some(config::DEFAULT_SYNC_GROUP_V4.into()));
        let l = running(&s);
        assert_eq!((l[0].port, l[0].ttl), (8848, 1));
        let v6 = no_peers.replace("198.18.2.2:8848", "[2001:2::2]:8848");
        let c = cfg(&format!("{BASE}{v6}"));
        assert_eq!(
            start(&c, &spec(DaemonState::Master)).unwrap_err(),
            DaemonError::NoGroup("master")
        );
    }
}
