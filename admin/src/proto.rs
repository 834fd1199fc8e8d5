//! The admin protocol: typed, versioned JSON lines over a Unix stream socket.
//!
//! One connection carries one exchange: the client writes one [`Envelope`] holding a [`Request`]
//! and a newline, the server answers with one `Envelope` holding a [`Response`] and a newline,
//! then closes. Every envelope carries [`PROTOCOL_VERSION`]; the server refuses a request whose
//! version differs with a [`Response::Error`] that names both versions, before it looks at the
//! body, so an old `ferrovsadm` talking to a new daemon (or the reverse) fails clearly instead of
//! misreading fields.
//!
//! The types here are the wire types, with their own serde derives, rather than the `config`
//! model: `config` stays free of serde, and the wire format does not change when the model gains
//! a field. The shared vocabulary (protocol, forwarding method, service key) is the `types`
//! crate's, serialized by its names. [`Op`] is what an ipvsadm command line asks for (the grammar's output); the server
//! applies it to its `config::Config` with [`crate::apply`].

use std::net::{IpAddr, SocketAddr};

use serde::{Deserialize, Serialize};

/// The protocol version every request and response carries. Bump it on any incompatible change.
pub const PROTOCOL_VERSION: u32 = 1;

/// The longest line either side accepts (a listing with many connections is the big one).
pub const MAX_LINE_BYTES: usize = 64 << 20;

/// A versioned message: `{"version": 1, "body": {...}}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope<T> {
    /// The sender's [`PROTOCOL_VERSION`].
    pub version: u32,
    /// The request or response.
    pub body: T,
}

impl<T> Envelope<T> {
    /// Wrap `body` with this build's protocol version.
    pub const fn new(body: T) -> Self {
        Self {
            version: PROTOCOL_VERSION,
            body,
        }
    }
}

// The vocabulary the wire shares with config and dataplane, serialized by name ("tcp", "dr"),
// under admin's short names.
pub use types::{Forward as Fwd, Protocol as Proto, ServiceKey};

/// The attributes `-A` and `-E` set. `-E` replaces all of them, as the kernel does: a service
/// edited without `-p` stops being persistent, and without `-s` goes back to `wlc`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceSpec {
    /// The service.
    pub key: ServiceKey,
    /// Scheduler name as given (`wlc` when `-s` was absent); unknown names are refused by the
    /// server with the kernel's "Scheduler or persistence engine not found".
    pub scheduler: String,
    /// Scheduler flags (`-b`), already checked against the scheduler by the grammar.
    pub sched_flags: Vec<String>,
    /// Persistence timeout in seconds (`-p`, 360 without a value); `None` = not persistent.
    pub persistence_s: Option<u32>,
    /// `-M`: for IPv4 the netmask as a host-order `u32`, for IPv6 the prefix length; `None` =
    /// the default (/32 or /128).
    pub netmask: Option<u32>,
    /// `--pe ENGINE`: ferrovs has no persistence engine, so any value is refused by the server
    /// as the kernel refuses an unknown one.
    pub pe: Option<String>,
    /// `--laddr-pool NAME` (ferrovs addition): the FullNAT local address pool. `None` on `-E`
    /// keeps the service's pool.
    pub laddr_pool: Option<String>,
}

/// The attributes `-a` and `-e` set. `-e` replaces all of them, as the kernel does (weight 1,
/// DR and no thresholds unless given).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerSpec {
    /// Real server address.
    pub address: IpAddr,
    /// Real server port (already forced to the virtual port for DR/TUN by the grammar).
    pub port: u16,
    /// Forwarding method.
    pub forward: Fwd,
    /// Weight 0..=65535.
    pub weight: u32,
    /// Upper connection threshold, 0 = none.
    pub u_threshold: u32,
    /// Lower connection threshold, 0 = none.
    pub l_threshold: u32,
}

/// One change to the running configuration, as one ipvsadm command line asks for it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// `-A`: add a virtual service.
    AddService(ServiceSpec),
    /// `-E`: edit a virtual service.
    EditService(ServiceSpec),
    /// `-D`: delete a virtual service and its real servers.
    DeleteService(ServiceKey),
    /// `-C`: delete every virtual service.
    Clear,
    /// `-a`: add a real server.
    AddServer {
        /// The virtual service.
        service: ServiceKey,
        /// The real server.
        server: ServerSpec,
    },
    /// `-e`: edit a real server.
    EditServer {
        /// The virtual service.
        service: ServiceKey,
        /// The real server's new attributes (it is found by address and port).
        server: ServerSpec,
    },
    /// `-d`: delete a real server.
    DeleteServer {
        /// The virtual service.
        service: ServiceKey,
        /// Real server address.
        address: IpAddr,
        /// Real server port.
        port: u16,
    },
    /// `--add-laddr -z ADDRESS -t|-u VIP:PORT -F PORT` (DPVS): add a FullNAT local address to
    /// the service's local address pool (a new pool on `port` when it has none).
    AddLaddr {
        /// The virtual service.
        service: ServiceKey,
        /// The local address.
        address: IpAddr,
        /// `-F`: the ferrovs port the address lives on.
        port: String,
    },
    /// `--del-laddr -z ADDRESS -t|-u VIP:PORT -F PORT` (DPVS): remove a local address from the
    /// service's pool.
    DelLaddr {
        /// The virtual service.
        service: ServiceKey,
        /// The local address.
        address: IpAddr,
        /// `-F`: the ferrovs port the address lives on.
        port: String,
    },
    /// `--set tcp tcpfin udp`: session timeouts in seconds; 0 leaves a value unchanged.
    SetTimeouts {
        /// Established TCP.
        tcp_s: u32,
        /// TCP after FIN.
        tcpfin_s: u32,
        /// UDP.
        udp_s: u32,
    },
}

/// What a listing should carry beyond the services.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListQuery {
    /// Only this service (`-L -t VIP:PORT`); the server answers "No such service" if absent.
    pub service: Option<ServiceKey>,
    /// Include the connection entries (`-L -c`); they can be many, so only on request.
    /// Counters, rates and timeouts are always included: they are cheap.
    pub connections: bool,
}

/// A request to the daemon.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Request {
    /// Apply changes atomically: all of them, validated as a whole, or none (`-R` sends a whole
    /// restore file as one request).
    Apply {
        /// The changes, in order.
        ops: Vec<Op>,
    },
    /// `-Z`: zero the counters of one service or all.
    Zero {
        /// The service; `None` = all.
        service: Option<ServiceKey>,
    },
    /// `-L`, `-S`, `-c`, `--timeout`: the running table.
    List(ListQuery),
    /// `--reload`: re-read the configuration file.
    Reload,
    /// The running configuration as TOML (`ferrovs config export`).
    GetConfig,
    /// The addresses director HA follows (`-L --ha`).
    Ha,
    /// Whether the gateway is ready to own addresses (`--ready`).
    Ready,
    /// `--start-daemon master|backup`: run that direction of session sync.
    StartDaemon(DaemonSpec),
    /// `--stop-daemon master|backup`: stop that direction of session sync.
    StopDaemon {
        /// The direction.
        state: DaemonState,
    },
    /// `-L --daemon`: the directions of session sync that run.
    Daemons,
    /// The VIP routes announced for ECMP (`-L --announce`).
    Announce,
    /// Withdraw every VIP and keep forwarding (`--drain`), or announce again (`--undrain`).
    Drain {
        /// Drained from now on.
        drained: bool,
    },
    /// `--get-laddr [-t|-u VIP:PORT]` (DPVS): the local addresses of one service or of all.
    Laddrs {
        /// The service; `None` = every service.
        service: Option<ServiceKey>,
    },
}

/// The daemon's answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Response {
    /// Done.
    Ok,
    /// Refused; `message` is ipvsadm's text where ipvsadm has one ("No such service").
    Error {
        /// One or more lines for stderr.
        message: String,
    },
    /// The running table.
    Listing(Listing),
    /// The running configuration.
    Config {
        /// TOML text, as `config::Config::to_toml` writes it.
        toml: String,
    },
    /// A reload succeeded.
    Reloaded {
        /// The configuration generation now running.
        generation: u64,
    },
    /// Director HA's state.
    Ha(HaListing),
    /// The ECMP announcements (`-L --announce`, and the answer to a drain).
    Announce(AnnounceListing),
    /// The readiness verdict.
    Ready {
        /// Healthy and ready to own addresses.
        ready: bool,
        /// One line: what is wrong, or what was checked.
        reason: String,
    },
    /// The sync daemons that run (`-L --daemon`), master first; empty when none does.
    Daemons {
        /// One entry per running direction.
        daemons: Vec<DaemonEntry>,
    },
    /// The local addresses of services (`--get-laddr`), in configuration order.
    Laddrs {
        /// One entry per service asked for.
        services: Vec<LaddrService>,
    },
}

/// One service's FullNAT local addresses (`--get-laddr`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LaddrService {
    /// The service.
    pub key: ServiceKey,
    /// Its local address pool, if any.
    pub pool: Option<String>,
    /// The pool's addresses, in pool order.
    pub laddrs: Vec<LaddrEntry>,
}

/// One local address of a service (`--get-laddr`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LaddrEntry {
    /// The address.
    pub address: IpAddr,
    /// The service's connections from this address now (DPVS's CONNS).
    pub conns: u64,
}

impl Response {
    /// Build an error response.
    pub fn error(message: impl Into<String>) -> Self {
        Self::Error {
            message: message.into(),
        }
    }
}

/// Packet, byte and connection counters and their rates, as `ipvsadm --stats` / `--rate` show.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Counters {
    /// Connections scheduled.
    pub conns: u64,
    /// Packets client -> server.
    pub inpkts: u64,
    /// Packets server -> client (0 for DR/TUN: replies bypass the director).
    pub outpkts: u64,
    /// Bytes client -> server.
    pub inbytes: u64,
    /// Bytes server -> client.
    pub outbytes: u64,
    /// Connections per second.
    pub cps: u64,
    /// Incoming packets per second.
    pub inpps: u64,
    /// Outgoing packets per second.
    pub outpps: u64,
    /// Incoming bytes per second (ipvsadm's header says BPS but means bytes).
    pub inbps: u64,
    /// Outgoing bytes per second.
    pub outbps: u64,
}

/// Live per-real-server state beyond the counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DestState {
    /// Established connections (ActiveConn).
    pub active_conns: u32,
    /// Other connections (InActConn).
    pub inactive_conns: u32,
    /// Persistence templates pointing at this server (PersistConn).
    pub persist_conns: u32,
    /// Counters and rates.
    pub counters: Counters,
}

/// A real server's health-check state (`ferrovsadm -L --health`, a ferrovs addition).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthState {
    /// No health check: always schedulable.
    Unchecked,
    /// The check passes.
    Up,
    /// The check fails: out of scheduling (or weight 0 with `inhibit_on_failure`).
    Down,
}

impl HealthState {
    /// Return the word the listing prints: `up`, `down` or `unchecked`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Unchecked => "unchecked",
            Self::Up => "up",
            Self::Down => "down",
        }
    }
}

/// The health of one real server as the gateway's checker sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DestHealth {
    /// The verdict.
    pub state: HealthState,
    /// Seconds the verdict has held (since the last transition, or since the check started);
    /// 0 for an unchecked server.
    #[serde(default)]
    pub for_s: u64,
    /// The check (`tcp`, `http GET /health`, `command ...`); `None` when unchecked.
    #[serde(default)]
    pub check: Option<String>,
    /// The last failed probe's reason, if any probe failed yet.
    #[serde(default)]
    pub last_failure: Option<String>,
}

impl DestHealth {
    /// The state of a server without a health check.
    pub const fn unchecked() -> Self {
        Self {
            state: HealthState::Unchecked,
            for_s: 0,
            check: None,
            last_failure: None,
        }
    }
}

/// One real server in a listing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DestEntry {
    /// Address.
    pub address: IpAddr,
    /// Port.
    pub port: u16,
    /// Forwarding method.
    pub forward: Fwd,
    /// Weight.
    pub weight: u32,
    /// Upper threshold (0 = none).
    pub u_threshold: u32,
    /// Lower threshold (0 = none).
    pub l_threshold: u32,
    /// Live state.
    #[serde(default)]
    pub state: DestState,
    /// Health-check state; `None` from a gateway that does not report it. Added without a
    /// protocol version change: older clients ignore the field, newer ones read its absence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<DestHealth>,
}

/// One virtual service in a listing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceEntry {
    /// The service.
    pub key: ServiceKey,
    /// Scheduler name.
    pub scheduler: String,
    /// Scheduler flag names.
    pub sched_flags: Vec<String>,
    /// Persistence timeout; `None` = not persistent.
    pub persistence_s: Option<u32>,
    /// Persistence granularity as a prefix length.
    pub persistence_prefix_len: u8,
    /// FullNAT local address pool (ferrovs addition; `-S` writes it as `--laddr-pool`).
    pub laddr_pool: Option<String>,
    /// Counters and rates of the whole service.
    #[serde(default)]
    pub counters: Counters,
    /// Real servers, in configuration order.
    pub real_servers: Vec<DestEntry>,
    /// The SYN proxy's mode and state (ferrovs addition, `-L --syn-proxy`); `None` from a
    /// gateway that does not report it. Added without a protocol version change, as
    /// [`DestEntry::health`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub syn_proxy: Option<SynProxyState>,
}

/// A service's `syn_proxy` setting, as the configuration names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SynProxyMode {
    /// SYNs go to the real servers.
    Off,
    /// Every worker answers the service's SYNs with cookies.
    On,
    /// Each worker engages it above a SYN rate or table fill and lets go with hysteresis.
    Auto,
}

impl SynProxyMode {
    /// Return the word the listing prints: `off`, `on` or `auto`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::On => "on",
            Self::Auto => "auto",
        }
    }
}

impl From<config::SynProxyMode> for SynProxyMode {
    fn from(m: config::SynProxyMode) -> Self {
        match m {
            config::SynProxyMode::Off => Self::Off,
            config::SynProxyMode::On => Self::On,
            config::SynProxyMode::Auto => Self::Auto,
        }
    }
}

/// A service's SYN proxy over the gateway's workers, as the metrics
/// `ferrovs_service_syn_proxy_*` count it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SynProxyState {
    /// The configured mode.
    pub mode: SynProxyMode,
    /// The gateway's workers.
    pub workers: u32,
    /// Workers answering the service's SYNs with cookies now: all with `on`, those that
    /// engaged it with `auto`, none with `off`.
    pub engaged_workers: u32,
    /// `auto`: times a worker engaged it, summed over the workers (0 otherwise).
    pub engaged_total: u64,
    /// `auto`: times a worker let it go, summed over the workers (0 otherwise).
    pub released_total: u64,
}

/// One connection (`ipvsadm -L -c`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnEntry {
    /// TCP or UDP.
    pub protocol: Proto,
    /// Client address and port (port 0 for a persistence template).
    pub client: SocketAddr,
    /// Virtual address and port.
    pub virtual_addr: SocketAddr,
    /// Real server address and port.
    pub destination: SocketAddr,
    /// State name as the kernel prints it (`ESTABLISHED`, `FIN_WAIT`, `UDP`, `NONE`, ...).
    pub state: String,
    /// Seconds until expiry.
    pub expire_s: u32,
    /// FullNAT: the local address and port the real server sees as the source; `None` for
    /// the other methods (and from gateways that do not report it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local: Option<SocketAddr>,
}

/// Session timeouts (`--timeout`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeoutsView {
    /// Established TCP.
    pub tcp_s: u32,
    /// TCP after FIN.
    pub tcpfin_s: u32,
    /// UDP.
    pub udp_s: u32,
}

impl From<config::Timeouts> for TimeoutsView {
    fn from(t: config::Timeouts) -> Self {
        Self {
            tcp_s: t.tcp_s,
            tcpfin_s: t.tcpfin_s,
            udp_s: t.udp_s,
        }
    }
}

/// The IPVS version ferrovs reports in listing headers: the one every ipvsadm output shows
/// (`IP Virtual Server version 1.2.1`), so scripts that parse the header keep working.
pub const IPVS_VERSION: (u8, u8, u8) = (1, 2, 1);

/// The running table, as the listing commands print it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listing {
    /// The `size=` of the header (the kernel's connection hash table size).
    pub conn_table_size: u32,
    /// Session timeouts.
    pub timeouts: TimeoutsView,
    /// Services, in configuration order (the formatter sorts unless `--nosort`).
    pub services: Vec<ServiceEntry>,
    /// Connections, when the query asked for them.
    #[serde(default)]
    pub connections: Vec<ConnEntry>,
}

/// One address director HA follows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HaAddress {
    /// The VIP or local address.
    pub address: IpAddr,
    /// Owned now (keepalived has it on an exception-path TAP).
    pub owned: bool,
    /// Since when, in seconds since the Unix epoch.
    pub since_s: u64,
    /// The TAP it is on, when owned.
    #[serde(default)]
    pub tap: Option<String>,
}

/// Director HA's state (`ferrovsadm -L --ha`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HaListing {
    /// `[ha] mode`: `none` or `vrrp`.
    pub mode: String,
    /// Whether the kernel's addresses have been read (nothing is owned before).
    pub synced: bool,
    /// Why the gateway cannot follow the kernel now, if it cannot.
    #[serde(default)]
    pub problem: Option<String>,
    /// The followed addresses, in address order.
    pub addresses: Vec<HaAddress>,
    /// The daemon's clock, seconds since the Unix epoch, for "how long ago".
    pub now_s: u64,
}

/// A direction of session sync, as ipvsadm names the kernel's two sync daemons.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DaemonState {
    /// Sends this gateway's sessions (`--start-daemon master`).
    Master,
    /// Installs the peers' sessions (`--start-daemon backup`).
    Backup,
}

impl DaemonState {
    /// Return ipvsadm's word: `master` or `backup`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Master => "master",
            Self::Backup => "backup",
        }
    }
}

/// What `--start-daemon` asks for. Unset options keep what `[sync]` (or the direction already
/// running) has.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaemonSpec {
    /// The direction to start.
    pub state: DaemonState,
    /// `--mcast-interface IF`: the ferrovs port (or its exception-path TAP) that carries sync;
    /// it must hold `[sync] listen`'s address. `None`: that port, whichever it is.
    #[serde(default)]
    pub mcast_interface: Option<String>,
    /// `--syncid N` -> `[sync] syncid`.
    #[serde(default)]
    pub syncid: Option<u8>,
    /// `--sync-maxlen N` -> `[sync] max_datagram`.
    #[serde(default)]
    pub maxlen: Option<u16>,
    /// `--mcast-group ADDR` -> `[sync] group`.
    #[serde(default)]
    pub group: Option<IpAddr>,
    /// `--mcast-port N` -> `[sync] group_port` (and `listen`'s port when it is derived).
    #[serde(default)]
    pub mcast_port: Option<u16>,
    /// `--mcast-ttl N` -> `[sync] ttl`.
    #[serde(default)]
    pub ttl: Option<u8>,
}

/// One running sync daemon (`-L --daemon`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaemonEntry {
    /// The direction.
    pub state: DaemonState,
    /// The ferrovs port that holds `[sync] listen`'s address, else that address.
    pub mcast_interface: String,
    /// `[sync] syncid`.
    pub syncid: u8,
    /// `[sync] max_datagram`.
    pub maxlen: u16,
    /// `[sync] listen`'s UDP port, or the group's when there is one.
    pub port: u16,
    /// `[sync] group`.
    #[serde(default)]
    pub group: Option<IpAddr>,
    /// `[sync] ttl` when there is a group (0: none).
    #[serde(default)]
    pub ttl: u8,
}

/// One VIP `[announce]` offers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnnounceVip {
    /// The VIP.
    pub vip: IpAddr,
    /// Its host route is in the table now.
    pub announced: bool,
    /// At least one real server is up with weight > 0 (announced, or waiting for rise /
    /// hold-down, unless drained).
    pub worthy: bool,
    /// Since when announced or withdrawn, in seconds since the Unix epoch.
    pub since_s: u64,
    /// The interface its route points at.
    #[serde(default)]
    pub device: Option<String>,
    /// Announcements and withdrawals so far.
    pub transitions: u64,
    /// Why it is worthy or not.
    pub why: String,
}

/// The ECMP announcements (`ferrovsadm -L --announce`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnnounceListing {
    /// The kernel routing table.
    pub table: u32,
    /// Every VIP withdrawn by `--drain` or a stop.
    pub drained: bool,
    /// Seconds until a stopping gateway (SIGTERM) stops.
    #[serde(default)]
    pub stopping_in_s: Option<u64>,
    /// Why the table is not as wanted, if it is not.
    #[serde(default)]
    pub problem: Option<String>,
    /// Routes in the table that are not ferrovs's.
    #[serde(default)]
    pub foreign: Vec<String>,
    /// Whether BIRD answers on its control socket.
    pub bird_up: bool,
    /// Why it does not, if it does not.
    #[serde(default)]
    pub bird_problem: Option<String>,
    /// Sessions the workers hold now (a drain waits for them).
    pub sessions: u64,
    /// The VIPs, in address order.
    pub vips: Vec<AnnounceVip>,
    /// The daemon's clock, seconds since the Unix epoch.
    pub now_s: u64,
}

/// Build the listing entry of one configured service, with the live state from `dest_state`.
pub fn service_entry(
    svc: &config::Service,
    counters: Counters,
    mut dest_state: impl FnMut(&config::RealServer) -> DestState,
) -> ServiceEntry {
    ServiceEntry {
        key: svc.key(),
        scheduler: svc.scheduler.as_str().to_owned(),
        sched_flags: svc
            .sched_flags
            .iter()
            .map(|f| f.as_str().to_owned())
            .collect(),
        persistence_s: svc.persistence_s,
        persistence_prefix_len: svc.persistence_prefix_len,
        laddr_pool: svc.local_address_pool.clone(),
        counters,
        real_servers: svc
            .real_servers
            .iter()
            .map(|rs| DestEntry {
                address: rs.address,
                port: rs.port,
                forward: rs.forward,
                weight: rs.weight,
                u_threshold: rs.u_threshold,
                l_threshold: rs.l_threshold,
                state: dest_state(rs),
                health: None,
            })
            .collect(),
        syn_proxy: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip_through_json() {
        let key = ServiceKey {
            protocol: Proto::Udp,
            vip: "2001:db8::1".parse().expect("ip"),
            port: 53,
        };
        let reqs = [
            Request::Apply {
                ops: vec![
                    Op::AddService(ServiceSpec {
                        key,
                        scheduler: "sh".into(),
                        sched_flags: vec!["sh-port".into()],
                        persistence_s: Some(360),
                        netmask: Some(64),
                        pe: None,
                        laddr_pool: None,
                    }),
                    Op::Clear,
                    Op::SetTimeouts {
                        tcp_s: 1,
                        tcpfin_s: 0,
                        udp_s: 3,
                    },
                ],
            },
            Request::Zero { service: Some(key) },
            Request::List(ListQuery {
                service: None,
                connections: true,
            }),
            Request::Reload,
            Request::GetConfig,
            Request::Ha,
            Request::Ready,
            Request::StartDaemon(DaemonSpec {
                state: DaemonState::Master,
                mcast_interface: Some("wan0".into()),
                syncid: Some(7),
                maxlen: Some(1400),
                group: Some("224.0.0.81".parse().expect("literal")),
                mcast_port: Some(8848),
                ttl: Some(1),
            }),
            Request::StopDaemon {
                state: DaemonState::Backup,
            },
            Request::Daemons,
            Request::Announce,
            Request::Drain { drained: true },
        ];
        for r in reqs {
            let line = serde_json::to_string(&Envelope::new(r.clone())).expect("encode");
            assert!(!line.contains('\n'), "one line: {line}");
            let back: Envelope<Request> = serde_json::from_str(&line).expect("decode");
            assert_eq!(back.body, r);
            assert_eq!(back.version, PROTOCOL_VERSION);
        }
    }

    #[test]
    fn health_is_optional_on_the_wire() {
        let mut d = DestEntry {
            address: "10.0.0.11".parse().expect("ip"),
            port: 80,
            forward: Fwd::Nat,
            weight: 1,
            u_threshold: 0,
            l_threshold: 0,
            state: DestState::default(),
            health: None,
        };
        // A gateway without health sends no field; a client reading it gets None.
        let line = serde_json::to_string(&d).expect("encode");
        assert!(!line.contains("health"), "{line}");
        let back: DestEntry = serde_json::from_str(&line).expect("decode");
        assert_eq!(back.health, None);
        d.health = Some(DestHealth {
            state: HealthState::Down,
            for_s: 7,
            check: Some("tcp".into()),
            last_failure: Some("connect: Connection refused".into()),
        });
        let line = serde_json::to_string(&d).expect("encode");
        assert!(
            line.contains(r#""health":{"state":"down","for_s":7"#),
            "{line}"
        );
        let back: DestEntry = serde_json::from_str(&line).expect("decode");
        assert_eq!(back, d);
    }

    #[test]
    fn ha_answers_round_trip_through_json() {
        let r = [
            Response::Ha(HaListing {
                mode: "vrrp".into(),
                synced: true,
                problem: None,
                addresses: vec![HaAddress {
                    address: "198.18.1.100".parse().expect("ip"),
                    owned: true,
                    since_s: 1_700_000_000,
                    tap: Some("eth0".into()),
                }],
                now_s: 1_700_000_012,
            }),
            Response::Ready {
                ready: false,
                reason: "port eth0: link down".into(),
            },
            Response::Daemons {
                daemons: vec![DaemonEntry {
                    state: DaemonState::Backup,
                    mcast_interface: "lan0".into(),
                    syncid: 7,
                    maxlen: 1400,
                    port: 8848,
                    group: Some("224.0.0.81".parse().expect("literal")),
                    ttl: 1,
                }],
            },
            Response::Announce(AnnounceListing {
                table: 100,
                drained: false,
                stopping_in_s: Some(4),
                problem: None,
                foreign: vec!["10.9.0.0/16 proto 4".into()],
                bird_up: true,
                bird_problem: None,
                sessions: 12,
                vips: vec![AnnounceVip {
                    vip: "198.18.1.100".parse().expect("ip"),
                    announced: true,
                    worthy: true,
                    since_s: 1_700_000_000,
                    device: Some("eth0".into()),
                    transitions: 1,
                    why: "1 of 2 real servers up with weight > 0".into(),
                }],
                now_s: 1_700_000_012,
            }),
        ];
        for r in r {
            let line = serde_json::to_string(&Envelope::new(r.clone())).expect("encode");
            let back: Envelope<Response> = serde_json::from_str(&line).expect("decode");
            assert_eq!(back.body, r);
        }
        let line = serde_json::to_string(&Request::Ready).expect("encode");
        assert_eq!(line, r#"{"type":"ready"}"#);
        let line = serde_json::to_string(&Request::StopDaemon {
            state: DaemonState::Master,
        })
        .expect("encode");
        assert_eq!(line, r#"{"type":"stop_daemon","state":"master"}"#);
        let line = serde_json::to_string(&Request::Drain { drained: false }).expect("encode");
        assert_eq!(line, r#"{"type":"drain","drained":false}"#);
    }

    #[test]
    fn wire_names_are_stable() {
        let line =
            serde_json::to_string(&Envelope::new(Request::Zero { service: None })).expect("encode");
        assert_eq!(
            line,
            r#"{"version":1,"body":{"type":"zero","service":null}}"#
        );
        let ok = serde_json::to_string(&Response::Ok).expect("encode");
        assert_eq!(ok, r#"{"type":"ok"}"#);
    }
}
