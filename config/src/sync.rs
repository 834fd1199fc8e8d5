//! `[sync]`: the session-sync channel between directors (its model, its key and its reader).
//!
//! Each gateway sends the sessions it carries to every peer over a kernel UDP socket (on an
//! exception-path TAP or a management interface) and installs the sessions its peers send, so an
//! established connection survives a failover (issue 15). The section maps onto
//! `ipvsadm --start-daemon master|backup --syncid N --sync-maxlen N` and keepalived's
//! `lvs_sync_daemon`, with what the kernel's daemon lacks: a peer list (unicast), a shared key
//! (every message carries an HMAC-SHA256), a rate cap and active-active (`mode = "both"`).
//!
//! The whole section is reloadable: a reload that changes anything but `rate` restarts the
//! channel ([`SessionSync::restart_needed`]); one that changes nothing in it leaves the channel
//! alone.

use core::fmt;
use std::net::{IpAddr, SocketAddr};

use base64::Engine as _;

use crate::error::Sink;
use crate::walk::Tab;

/// Default largest sync datagram in bytes: fits a 1500-byte MTU with IPv6 and UDP headers.
pub const DEFAULT_SYNC_MAX_DATAGRAM: u16 = 1400;
/// Smallest `max_datagram`: the header, the MAC and several IPv6 records must fit.
pub const MIN_SYNC_MAX_DATAGRAM: u16 = 512;
/// Largest `max_datagram`: the largest UDP payload over IPv4.
pub const MAX_SYNC_MAX_DATAGRAM: u16 = 65507;
/// Default rate cap in sessions per second, per peer (a full resync of 1M sessions in 1 s).
pub const DEFAULT_SYNC_RATE: u32 = 1_000_000;
/// Largest rate cap accepted (sessions per second).
pub const MAX_SYNC_RATE: u32 = 100_000_000;
/// Shortest key: 128 bits. 32 random bytes are recommended (`openssl rand -hex 32`).
pub const MIN_SYNC_KEY_BYTES: usize = 16;
/// Longest key (HMAC hashes longer keys first; more adds nothing).
pub const MAX_SYNC_KEY_BYTES: usize = 1024;
/// Most peers one gateway syncs with (every peer gets its own stream and resend queue).
pub const MAX_SYNC_PEERS: usize = 32;
/// Most peers one gateway discovers on the group, beside the listed ones (hellos from more are
/// refused and counted).
pub const MAX_SYNC_DISCOVERED: usize = 16;
/// The kernel sync daemon's IPv4 group (`ipvsadm --mcast-group`'s default).
pub const DEFAULT_SYNC_GROUP_V4: std::net::Ipv4Addr = std::net::Ipv4Addr::new(224, 0, 0, 81);
/// The kernel sync daemon's port (`ipvsadm --mcast-port`'s default).
pub const DEFAULT_SYNC_PORT: u16 = 8848;

/// Which directions of session sync run on this gateway (`ipvsadm --start-daemon STATE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum SyncMode {
    /// Send this gateway's sessions; do not install the peers' (`--start-daemon master`).
    Master,
    /// Install the peers' sessions; send none (`--start-daemon backup`).
    Backup,
    /// Both: active-active, and a backup that can take over and fail back (both daemons).
    #[default]
    Both,
}

impl SyncMode {
    /// Every mode, for messages.
    pub const ALL: [Self; 3] = [Self::Master, Self::Backup, Self::Both];

    /// Return the config name.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Master => "master",
            Self::Backup => "backup",
            Self::Both => "both",
        }
    }

    /// Parse a config name.
    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.name() == s)
    }

    /// Whether this gateway sends its sessions.
    pub const fn sends(self) -> bool {
        matches!(self, Self::Master | Self::Both)
    }

    /// Whether this gateway installs its peers' sessions.
    pub const fn receives(self) -> bool {
        matches!(self, Self::Backup | Self::Both)
    }
}

/// The shared HMAC key. `Debug` does not print it (configurations get logged).
#[derive(Clone, PartialEq, Eq)]
pub struct SyncKey(Vec<u8>);

impl SyncKey {
    /// Parse a key written as hex (an even number of `0-9a-fA-F`) or, failing that, standard
    /// base64 (padding optional), and check its length.
    ///
    /// # Errors
    ///
    /// A message for the user that never quotes the key.
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let bytes = match hex(s) {
            Some(b) => b,
            None => base64::engine::general_purpose::STANDARD_PAD_INDIFFERENT
                .decode(s)
                .map_err(|_| {
                    "the key is neither hex (an even number of 0-9 a-f) nor base64".to_owned()
                })?,
        };
        Self::from_bytes(bytes)
    }

    /// Wrap raw key bytes, checking the length.
    ///
    /// # Errors
    ///
    /// The key is shorter than [`MIN_SYNC_KEY_BYTES`] or longer than [`MAX_SYNC_KEY_BYTES`].
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, String> {
        if bytes.len() < MIN_SYNC_KEY_BYTES {
            return Err(format!(
                "the key is {} bytes; at least {MIN_SYNC_KEY_BYTES} are required (32 random \
                 bytes are recommended: openssl rand -hex 32)",
                bytes.len()
            ));
        }
        if bytes.len() > MAX_SYNC_KEY_BYTES {
            return Err(format!(
                "the key is {} bytes; at most {MAX_SYNC_KEY_BYTES} are accepted",
                bytes.len()
            ));
        }
        Ok(Self(bytes))
    }

    /// Return the key bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Return the key as lowercase hex (how `Config::to_toml` writes it).
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl fmt::Debug for SyncKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SyncKey(<{} bytes>)", self.0.len())
    }
}

/// Decode an even-length hex string; `None` when it is not one.
fn hex(s: &str) -> Option<Vec<u8>> {
    if s.is_empty() || !s.len().is_multiple_of(2) || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// `[sync]`: the session-sync channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionSync {
    /// Run the channel.
    pub enabled: bool,
    /// The address and UDP port the channel's socket binds to and sends from; required when
    /// enabled. Peers recognise this gateway by it.
    pub listen: Option<SocketAddr>,
    /// The other gateways' `listen` addresses (unicast); at least one when enabled, unless
    /// `group` is set.
    pub peers: Vec<SocketAddr>,
    /// A link-local multicast group (224.0.0.0/24 or ff02::/16, of `listen`'s family) on which
    /// gateways announce themselves with authenticated hellos, so peers are discovered without
    /// a list (`ipvsadm --mcast-group`, keepalived `lvs_sync_daemon ... group`).
    pub group: Option<IpAddr>,
    /// The group's UDP port; `None`: `listen`'s port (`--mcast-port`).
    pub group_port: Option<u16>,
    /// The hop limit of the group's hellos (`--mcast-ttl`); 1 keeps them on the link.
    pub ttl: u8,
    /// The shared HMAC-SHA256 key; required when enabled.
    pub key: Option<SyncKey>,
    /// The sync group id (`ipvsadm --syncid`): messages of another group are dropped.
    pub syncid: u8,
    /// The largest datagram the channel sends, in bytes (`--sync-maxlen`).
    pub max_datagram: u16,
    /// Rate cap in sessions per second sent to each peer, live and resync; 0 = no cap.
    pub rate: u32,
    /// Which directions run.
    pub mode: SyncMode,
    /// Peers (listed or discovered) that must have completed a full resync towards this
    /// gateway before its ready check passes; `None`: [`Self::expected_peers`]'s default.
    pub expect_peers: Option<u8>,
}

impl Default for SessionSync {
    fn default() -> Self {
        Self {
            enabled: false,
            listen: None,
            peers: Vec::new(),
            group: None,
            group_port: None,
            ttl: 1,
            key: None,
            syncid: 0,
            max_datagram: DEFAULT_SYNC_MAX_DATAGRAM,
            rate: DEFAULT_SYNC_RATE,
            mode: SyncMode::Both,
            expect_peers: None,
        }
    }
}

impl SessionSync {
    /// Return true when the section has what a channel needs from the file (`listen`, at
    /// least one peer or a group, `key`), enabled or not: `ferrovsadm --start-daemon` can
    /// then run it.
    pub fn can_run(&self) -> bool {
        self.listen.is_some()
            && (!self.peers.is_empty() || self.group.is_some())
            && self.key.is_some()
    }

    /// The group's address and port, when a group is set: the port is `group_port`, else
    /// `listen`'s, else the kernel daemon's 8848.
    pub fn group_addr(&self) -> Option<SocketAddr> {
        let port = self
            .group_port
            .or(self.listen.map(|l| l.port()))
            .unwrap_or(DEFAULT_SYNC_PORT);
        self.group.map(|g| SocketAddr::new(g, port))
    }

    /// Peers that must have completed a full resync towards this gateway, since its channel
    /// started, before it is ready (beside every listed peer, which is always waited for):
    /// `expect_peers`, else 1 with a group and no peer list (a gateway that discovers its
    /// peers cannot wait for one it never heard of, so it waits for one to be heard and
    /// resync it), else 0 (the listed peers are the ones waited for).
    pub fn expected_peers(&self) -> usize {
        self.expect_peers.map_or_else(
            || usize::from(self.group.is_some() && self.peers.is_empty()),
            usize::from,
        )
    }

    /// Return true when going from `self` to `new` needs the channel restarted: any change but
    /// `rate` (which the running channel takes as it is). A restart starts a new epoch, so the
    /// peers resync with this gateway.
    pub fn restart_needed(&self, new: &SessionSync) -> bool {
        let same = |s: &SessionSync| SessionSync {
            rate: 0,
            ..s.clone()
        };
        same(self) != same(new)
    }
}

/// Read `[sync]`; every problem is recorded in `sink`.
pub(crate) fn read_sync(t: Option<Tab<'_, '_>>, sink: &mut Sink<'_>) -> SessionSync {
    let mut out = SessionSync::default();
    let Some(mut t) = t else {
        return out;
    };
    let enabled = t.bool(sink, "enabled");
    out.enabled = enabled.as_ref().is_some_and(|e| e.v);
    let listen = t.str(sink, "listen");
    if let Some(l) = &listen {
        out.listen = socket_addr(sink, &t.key_path("listen"), l.v, &l.span);
    }
    let mut peers_written = None;
    if let Some(list) = t.strings(sink, "peers") {
        peers_written = Some(list.len());
        let base = t.key_path("peers");
        if list.len() > MAX_SYNC_PEERS {
            sink.error(
                &t.raw_span("peers"),
                &base,
                format!("{} peers; at most {MAX_SYNC_PEERS}", list.len()),
            );
        }
        for (i, p) in list.iter().enumerate() {
            let path = format!("{base}[{i}]");
            let Some(sa) = socket_addr(sink, &path, p.v, &p.span) else {
                continue;
            };
            let problem = if out.peers.contains(&sa) {
                Some(format!("duplicate peer {sa}"))
            } else if Some(sa) == out.listen {
                Some(format!("{sa} is this gateway's own listen address"))
            } else if out.listen.is_some_and(|l| l.is_ipv4() != sa.is_ipv4()) {
                Some(format!(
                    "{sa} is not of the listen address's family: one socket sends to every peer"
                ))
            } else {
                None
            };
            match problem {
                Some(m) => sink.error(&p.span, &path, m),
                None => out.peers.push(sa),
            }
        }
    }
    let group = t.str(sink, "group");
    if let Some(g) = &group {
        let path = t.key_path("group");
        match group_addr(g.v, out.listen) {
            Ok(ip) => out.group = Some(ip),
            Err(m) => sink.error(&g.span, &path, m),
        }
    }
    if let Some(n) = t.u32(sink, "group_port", 1, 65535) {
        out.group_port = u16::try_from(n.v).ok();
    }
    if let Some(n) = t.u32(sink, "ttl", 1, 255) {
        out.ttl = u8::try_from(n.v).unwrap_or(1);
    }
    if let Some(k) = t.str(sink, "key") {
        match SyncKey::parse(k.v) {
            Ok(key) => out.key = Some(key),
            Err(m) => sink.error(&k.span, &t.key_path("key"), m),
        }
    }
    if let Some(n) = t.u32(sink, "syncid", 0, 255) {
        out.syncid = u8::try_from(n.v).unwrap_or(0);
    }
    if let Some(n) = t.u32(
        sink,
        "max_datagram",
        u32::from(MIN_SYNC_MAX_DATAGRAM),
        u32::from(MAX_SYNC_MAX_DATAGRAM),
    ) {
        out.max_datagram = u16::try_from(n.v).unwrap_or(DEFAULT_SYNC_MAX_DATAGRAM);
    }
    if let Some(n) = t.u32(sink, "rate", 0, MAX_SYNC_RATE) {
        out.rate = n.v;
    }
    if let Some(m) = t.str(sink, "mode") {
        match SyncMode::from_name(m.v) {
            Some(mode) => out.mode = mode,
            None => sink.error(
                &m.span,
                &t.key_path("mode"),
                format!(
                    "\"{}\" is not a sync mode: expected \"master\", \"backup\" or \"both\"",
                    m.v
                ),
            ),
        }
    }
    read_expect_peers(&mut t, sink, &mut out);
    if out.enabled {
        // Required keys point at the `enabled = true` that requires them.
        let at = enabled.map_or_else(|| t.span(), |e| e.span);
        for (key, present) in [
            ("listen", listen.is_some()),
            ("peers", t.has("peers") || group.is_some()),
            ("key", t.has("key")),
        ] {
            if !present {
                let why = if key == "peers" {
                    "missing: required when enabled = true (or a multicast group)"
                } else {
                    "missing: required when enabled = true"
                };
                sink.error(&at, &t.key_path(key), why);
            }
        }
        if peers_written == Some(0) && group.is_none() {
            sink.error(
                &t.raw_span("peers"),
                &t.key_path("peers"),
                "at least one peer is required when enabled = true (or a multicast group)",
            );
        }
    }
    t.finish(sink);
    out
}

/// `expect_peers`: no more than the peers listed, plus the most a group can discover.
fn read_expect_peers(t: &mut Tab<'_, '_>, sink: &mut Sink<'_>, out: &mut SessionSync) {
    let most = MAX_SYNC_PEERS + MAX_SYNC_DISCOVERED;
    let Some(n) = t.u32(
        sink,
        "expect_peers",
        0,
        u32::try_from(most).unwrap_or(u32::MAX),
    ) else {
        return;
    };
    let listed = out.peers.len();
    let reachable = if out.group.is_some() {
        listed + MAX_SYNC_DISCOVERED
    } else {
        listed
    };
    let wanted = usize::try_from(n.v).unwrap_or(usize::MAX);
    if wanted > reachable {
        let why = if out.group.is_some() {
            format!(
                "{wanted} peers can never resync this gateway: {listed} listed and at most \
                 {MAX_SYNC_DISCOVERED} discovered on the group; the ready check would never pass"
            )
        } else {
            format!(
                "{wanted} peers can never resync this gateway: {listed} listed and no group to \
                 discover more; the ready check would never pass"
            )
        };
        sink.error(&n.span, &t.key_path("expect_peers"), why);
        return;
    }
    out.expect_peers = u8::try_from(n.v).ok();
}

/// Parse `[sync] group`: a link-local multicast address of `listen`'s family.
fn group_addr(s: &str, listen: Option<SocketAddr>) -> Result<IpAddr, String> {
    let ip: IpAddr = s
        .parse()
        .map_err(|_| format!("\"{s}\" is not an IP address like \"224.0.0.81\" or \"ff02::81\""))?;
    if !ip.is_multicast() {
        return Err(format!(
            "{ip} is not a multicast address (the kernel daemon's group is 224.0.0.81)"
        ));
    }
    let link_local = match ip {
        IpAddr::V4(a) => a.octets()[..3] == [224, 0, 0],
        IpAddr::V6(a) => a.segments()[0] == 0xff02,
    };
    if !link_local {
        return Err(format!(
            "{ip} is not a link-local group (224.0.0.0/24 or ff02::/16): the exception path \
             copies only those to the kernel, and sync peers share a link"
        ));
    }
    if listen.is_some_and(|l| l.is_ipv4() != ip.is_ipv4()) {
        return Err(format!(
            "{ip} is not of the listen address's family: the hellos go from listen"
        ));
    }
    Ok(ip)
}

/// Parse `ADDR:PORT` for a sync socket: a unicast address and a non-zero port.
fn socket_addr(
    sink: &mut Sink<'_>,
    path: &str,
    s: &str,
    span: &core::ops::Range<usize>,
) -> Option<SocketAddr> {
    let Ok(sa) = s.parse::<SocketAddr>() else {
        sink.error(
            span,
            path,
            format!("\"{s}\" is not ADDR:PORT like \"198.18.0.2:8848\" or \"[2001:db8::2]:8848\""),
        );
        return None;
    };
    let ip = sa.ip();
    let problem = if sa.port() == 0 {
        Some("port 0 is not allowed".to_owned())
    } else if ip.is_multicast() {
        Some(format!(
            "{ip} is multicast: peers and listen are unicast; a multicast group goes in \
             sync.group (see docs/config.md)"
        ))
    } else if ip.is_unspecified() {
        Some(format!(
            "{ip} is unspecified: give the gateway's own address, which the peers list"
        ))
    } else if ip == std::net::IpAddr::V4(std::net::Ipv4Addr::BROADCAST) {
        Some("the broadcast address is not allowed".to_owned())
    } else {
        None
    };
    match problem {
        Some(m) => {
            sink.error(span, path, m);
            None
        }
        None => Some(sa),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_as_hex_then_base64() {
        let hex32 = "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF";
        let k = SyncKey::parse(hex32).expect("hex");
        assert_eq!(k.as_bytes().len(), 32);
        assert_eq!(k.as_bytes()[1], 0x11);
        assert_eq!(k.to_hex(), hex32.to_ascii_lowercase());
        let b64 = SyncKey::parse("AAECAwQFBgcICQoLDA0ODxAREhM=").expect("base64");
        assert_eq!(b64.as_bytes(), (0u8..20).collect::<Vec<_>>().as_slice());
        let nopad = SyncKey::parse("AAECAwQFBgcICQoLDA0ODxAREhM").expect("base64 without =");
        assert_eq!(nopad, b64);
        assert!(SyncKey::parse("0011").unwrap_err().contains("2 bytes"));
        assert!(SyncKey::parse("not a key!")
            .unwrap_err()
            .contains("neither"));
        assert_eq!(
            format!("{k:?}"),
            "SyncKey(<32 bytes>)",
            "Debug hides the key"
        );
    }

    #[test]
    fn can_run_needs_listen_peers_and_key_not_enabled() {
        let mut s = SessionSync::default();
        assert!(!s.can_run());
        s.listen = Some("198.18.2.2:8848".parse().expect("addr"));
        s.peers = vec!["198.18.2.3:8848".parse().expect("addr")];
        assert!(!s.can_run(), "no key");
        s.key = Some(SyncKey::from_bytes(vec![7; 32]).expect("key"));
        assert!(s.can_run(), "disabled but complete");
        s.peers.clear();
        assert!(!s.can_run(), "no peer");
    }

    #[test]
    fn only_rate_is_live() {
        let a = SessionSync {
            enabled: true,
            ..SessionSync::default()
        };
        let b = SessionSync {
            rate: 5,
            ..a.clone()
        };
        assert!(!a.restart_needed(&b));
        assert!(!a.restart_needed(&a.clone()));
        let c = SessionSync {
            syncid: 3,
            ..a.clone()
        };
        assert!(a.restart_needed(&c));
        let d = SessionSync {
            mode: SyncMode::Backup,
            ..a.clone()
        };
        assert!(a.restart_needed(&d));
    }
}
