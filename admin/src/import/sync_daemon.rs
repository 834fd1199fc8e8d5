//! keepalived's `global_defs { lvs_sync_daemon IF [[inst] INSTANCE] [id N] [maxlen N] [port N]
//! [ttl N] [group ADDR] }` -> `[sync]`.
//!
//! keepalived runs the kernel's multicast sync daemons on interface IF; ferrovs runs one
//! reliable channel from `[sync] listen` to each peer, signed with `key`, and finds its peers
//! on a multicast group or in a list. What maps:
//! - IF -> `listen`: an address of the ferrovs port IF names (`--interface IF=PORT`, a port of
//!   that name, or the port whose exception-path TAP has it), on UDP port `port N` (else the
//!   kernel's 8848);
//! - `id N` -> `syncid` (else, as keepalived does, the `virtual_router_id` of INSTANCE);
//! - `maxlen N` -> `max_datagram` (at least 512 in ferrovs);
//! - INSTANCE's `unicast_peer` addresses -> `peers`, on the same UDP port (the other directors,
//!   each of which must listen there);
//! - `group ADDR` -> `group` (a link-local group of `listen`'s family; another is told and the
//!   kernel's 224.0.0.81 used), `ttl N` -> `ttl`. Without `unicast_peer`, the group is set
//!   even when not written (the kernel's 224.0.0.81): peers are discovered there, as the
//!   kernel's daemons find each other; with `unicast_peer` and no `group`, sync stays unicast
//!   to those peers (VRRP unicast is often used where multicast does not pass);
//! - `mode = "both"`: keepalived starts both daemons and follows the VRRP state; ferrovs syncs
//!   both ways all the time (active-active, failback without loss).
//!
//! What cannot map is told on stderr: a routed `group`, and the missing `key`. `enabled` is
//! true only when the result can run (`listen`, peers or a group, and `key` all known, e.g.
//! from `--base`); otherwise `[sync]` is written disabled with a warning saying what to add.

use std::net::{IpAddr, SocketAddr};

use config::{Config, SyncMode, MAX_SYNC_MAX_DATAGRAM, MIN_SYNC_MAX_DATAGRAM};

use super::kconf::Stmt;
use super::Diagnostic;

/// The kernel sync daemon's UDP port (`IP_VS_SYNC_PORT`).
pub const KERNEL_SYNC_PORT: u16 = 8848;

/// What `lvs_sync_daemon` says.
#[derive(Debug, Default)]
struct Parsed {
    iface: String,
    instance: Option<String>,
    syncid: Option<u8>,
    maxlen: Option<u32>,
    port: Option<u16>,
    ttl: Option<u8>,
    group: Option<String>,
}

/// Read the statement's words as keepalived's `lvs_syncd_handler` does; problems are warnings.
fn parse(st: &Stmt, warn: &mut Vec<Diagnostic>) -> Option<Parsed> {
    let w = |m: String| Diagnostic {
        line: st.line,
        message: m,
    };
    let Some(iface) = st.arg(1) else {
        warn.push(w("lvs_sync_daemon requires interface: not imported".into()));
        return None;
    };
    let mut p = Parsed {
        iface: iface.to_owned(),
        ..Parsed::default()
    };
    let mut i = 2;
    while i < st.words.len() {
        let word = st.words[i].as_str();
        let value = st.arg(i + 1);
        let number = |lo: u32, hi: u32| {
            value
                .and_then(|v| v.parse::<u32>().ok())
                .filter(|n| (lo..=hi).contains(n))
        };
        match word {
            "inst" => p.instance = value.map(str::to_owned),
            "id" => match number(0, 255) {
                Some(n) => p.syncid = u8::try_from(n).ok(),
                None => warn.push(w(format!(
                    "lvs_sync_daemon id {}: not 0..255, ignored",
                    value.unwrap_or("")
                ))),
            },
            "maxlen" => match number(1, 65535 - 20 - 8) {
                Some(n) => p.maxlen = Some(n),
                None => warn.push(w(format!(
                    "lvs_sync_daemon maxlen {}: not 1..65507, ignored",
                    value.unwrap_or("")
                ))),
            },
            "port" => match number(1, 65535) {
                Some(n) => p.port = u16::try_from(n).ok(),
                None => warn.push(w(format!(
                    "lvs_sync_daemon port {}: not 1..65535, ignored",
                    value.unwrap_or("")
                ))),
            },
            "ttl" => match number(1, 255) {
                Some(n) => p.ttl = u8::try_from(n).ok(),
                None => warn.push(w(format!(
                    "lvs_sync_daemon ttl {}: not 1..255, ignored",
                    value.unwrap_or("")
                ))),
            },
            "group" => p.group = value.map(str::to_owned),
            // keepalived's older form: `lvs_sync_daemon IF INSTANCE [SYNCID]`.
            _ if i == 2 => {
                p.instance = Some(word.to_owned());
                i += 1;
                continue;
            }
            _ if i == 3 && word.parse::<u8>().is_ok() => {
                p.syncid = word.parse().ok();
                i += 1;
                continue;
            }
            _ => {
                warn.push(w(format!(
                    "lvs_sync_daemon: unknown option {word}, ignored"
                )));
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    Some(p)
}

/// The `vrrp_instance NAME` block in `tree`.
fn instance<'a>(tree: &'a [Stmt], name: &str) -> Option<&'a Stmt> {
    tree.iter()
        .find(|s| s.key() == "vrrp_instance" && s.arg(1) == Some(name))
}

/// The ferrovs port a keepalived interface names: `--interface`, a port of that name, the
/// port with a TAP of that name.
fn port_of<'a>(
    cfg: &'a Config,
    iface: &str,
    interfaces: &[(String, String)],
) -> Option<&'a config::Port> {
    let by_map = interfaces
        .iter()
        .find(|(i, _)| i == iface)
        .map(|(_, p)| p.as_str());
    cfg.ports.iter().find(|p| {
        by_map == Some(p.name.as_str())
            || (by_map.is_none() && (p.name == iface || p.exception_path.as_deref() == Some(iface)))
    })
}

/// Map `st` (an `lvs_sync_daemon` in `global_defs`) onto `cfg.sync`.
pub(super) fn import(
    st: &Stmt,
    tree: &[Stmt],
    cfg: &mut Config,
    interfaces: &[(String, String)],
    warn: &mut Vec<Diagnostic>,
    notes: &mut Vec<Diagnostic>,
) {
    let Some(p) = parse(st, warn) else {
        return;
    };
    let line = st.line;
    let inst = p.instance.as_deref().and_then(|n| instance(tree, n));
    if let (Some(name), None) = (&p.instance, inst) {
        warn.push(Diagnostic {
            line,
            message: format!("lvs_sync_daemon: no vrrp_instance {name}"),
        });
    }
    let udp = p.port.unwrap_or(KERNEL_SYNC_PORT);
    let s = &mut cfg.sync;
    s.mode = SyncMode::Both;
    // keepalived: without `id`, the instance's virtual router id.
    let vrid = inst
        .and_then(|i| i.children().iter().find(|c| c.key() == "virtual_router_id"))
        .and_then(|c| c.arg(1))
        .and_then(|v| v.parse::<u8>().ok());
    if let Some(id) = p.syncid.or(vrid) {
        s.syncid = id;
    }
    if let Some(n) = p.maxlen {
        let clamped = n.clamp(MIN_SYNC_MAX_DATAGRAM.into(), MAX_SYNC_MAX_DATAGRAM.into());
        if clamped != n {
            warn.push(Diagnostic {
                line,
                message: format!(
                    "lvs_sync_daemon maxlen {n}: ferrovs sends at least {MIN_SYNC_MAX_DATAGRAM} \
                     bytes per datagram; max_datagram = {clamped}"
                ),
            });
        }
        s.max_datagram = u16::try_from(clamped).unwrap_or(MIN_SYNC_MAX_DATAGRAM);
    }
    let listen_ip = match port_of(cfg, &p.iface, interfaces) {
        None => {
            warn.push(Diagnostic {
                line,
                message: format!(
                    "lvs_sync_daemon {}: no ferrovs port maps to it (name a port or its TAP {0}, \
                     or pass --interface {0}=PORT with --keepalived-out); set [sync] listen by hand",
                    p.iface
                ),
            });
            None
        }
        Some(port) => {
            let ip = port
                .addresses
                .iter()
                .map(|a| a.addr)
                .find(IpAddr::is_ipv4)
                .or_else(|| port.addresses.first().map(|a| a.addr));
            if ip.is_none() {
                warn.push(Diagnostic {
                    line,
                    message: format!(
                        "lvs_sync_daemon {}: port {} has no address for [sync] listen; set it by \
                         hand",
                        p.iface, port.name
                    ),
                });
            } else if port.exception_path.is_none() {
                notes.push(Diagnostic {
                    line,
                    message: format!(
                        "lvs_sync_daemon {}: port {} has no exception path, so the kernel does \
                         not have [sync] listen's address: turn exception_path on for it",
                        p.iface, port.name
                    ),
                });
            }
            ip
        }
    };
    let s = &mut cfg.sync;
    if let Some(t) = p.ttl {
        s.ttl = t;
    }
    if let Some(ip) = listen_ip {
        s.listen = Some(SocketAddr::new(ip, udp));
        notes.push(Diagnostic {
            line,
            message: format!(
                "lvs_sync_daemon {}: [sync] listen = \"{}\", syncid = {}, max_datagram = {}, \
                 mode = \"both\"",
                p.iface,
                SocketAddr::new(ip, udp),
                s.syncid,
                s.max_datagram
            ),
        });
    }
    // The other directors VRRP talks to unicast are the sync peers.
    let peers: Vec<SocketAddr> = inst
        .and_then(|i| i.children().iter().find(|c| c.key() == "unicast_peer"))
        .map(|u| {
            u.children()
                .iter()
                .filter_map(|c| c.key().parse::<IpAddr>().ok())
                .filter(|a| {
                    s.listen
                        .is_none_or(|l| l.is_ipv4() == a.is_ipv4() && l.ip() != *a)
                })
                .map(|a| SocketAddr::new(a, udp))
                .collect()
        })
        .unwrap_or_default();
    if !peers.is_empty() {
        notes.push(Diagnostic {
            line,
            message: format!(
                "lvs_sync_daemon: [sync] peers from vrrp_instance {}'s unicast_peer: {}",
                p.instance.as_deref().unwrap_or(""),
                peers
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        });
        s.peers = peers;
    }
    let written = p.group.as_deref().and_then(|g| {
        let ok = group_of(g, s.listen);
        if let Err(why) = &ok {
            warn.push(Diagnostic {
                line,
                message: format!("lvs_sync_daemon group {g}: {why}"),
            });
        }
        ok.ok()
    });
    let group = written.or_else(|| {
        (s.peers.is_empty() && s.listen.is_none_or(|l| l.is_ipv4()))
            .then_some(IpAddr::V4(config::DEFAULT_SYNC_GROUP_V4))
    });
    if let Some(g) = group {
        s.group = Some(g);
        notes.push(Diagnostic {
            line,
            message: format!(
                "lvs_sync_daemon: [sync] group = \"{g}\", ttl = {}: peers are discovered there \
                 (authenticated hellos), each then synced reliably{}",
                s.ttl,
                if s.peers.is_empty() {
                    format!(
                        "; ferrovsadm --ready waits for {} of them to resync this gateway \
                         (expect_peers)",
                        s.expected_peers()
                    )
                } else {
                    String::new()
                }
            ),
        });
    }
    s.enabled = s.can_run();
    if !s.enabled {
        let mut missing = Vec::new();
        if s.listen.is_none() {
            missing.push("listen");
        }
        if s.peers.is_empty() && s.group.is_none() {
            missing.push("peers (the other directors' ADDR:PORT) or group");
        }
        if s.key.is_none() {
            missing.push("key (the same on every director: openssl rand -hex 32)");
        }
        warn.push(Diagnostic {
            line,
            message: format!(
                "lvs_sync_daemon: [sync] is written disabled: ferrovs's session sync carries an \
                 HMAC key on every message, and keepalived.conf has no {}; add them, then set \
                 enabled = true (or run ferrovsadm --start-daemon master and --start-daemon \
                 backup)",
                missing.join(", no ")
            ),
        });
    }
}

/// `group ADDR` as `[sync] group` takes it: a link-local multicast group of `listen`'s family.
fn group_of(g: &str, listen: Option<SocketAddr>) -> Result<IpAddr, String> {
    let ip: IpAddr = g
        .parse()
        .map_err(|_| "not an IP address; not imported".to_owned())?;
    let link_local = match ip {
        IpAddr::V4(a) => a.octets()[..3] == [224, 0, 0],
        IpAddr::V6(a) => a.segments()[0] == 0xff02,
    };
    if !ip.is_multicast() || !link_local {
        return Err(
            "not a link-local multicast group (224.0.0.0/24, ff02::/16): ferrovs's exception \
             path copies only those to the kernel; not imported"
                .to_owned(),
        );
    }
    if listen.is_some_and(|l| l.is_ipv4() != ip.is_ipv4()) {
        return Err("not of [sync] listen's family; not imported".to_owned());
    }
    Ok(ip)
}
