//! The validated, normalised configuration that the gateway and the control plane consume.
//!
//! Everything here has passed validation and has its defaults applied: addresses are parsed,
//! durations are whole seconds (`*_s`), real servers carry their effective forwarding method, and
//! references between sections (route -> port, pool -> port, service -> pool) are known to
//! resolve. Nothing keeps a reference to the source text; [`crate::Config::to_toml`] writes an
//! equivalent file back.

use core::fmt;
use std::net::{IpAddr, SocketAddr};

/// ipvsadm's default persistence timeout when `-p` has no value (`IPVS_SVC_PERSISTENT_TIMEOUT`).
pub const DEFAULT_PERSISTENCE_S: u32 = 360;
/// The longest persistence timeout and `--set` timeout ipvsadm accepts: 31 days.
pub const MAX_TIMEOUT_S: u32 = 31 * 24 * 3600;
/// Kernel IPVS default established-TCP timeout (`ipvsadm --set` first value).
pub const DEFAULT_TCP_TIMEOUT_S: u32 = 900;
/// Kernel IPVS default TCP FIN_WAIT timeout.
pub const DEFAULT_TCPFIN_TIMEOUT_S: u32 = 120;
/// Kernel IPVS default UDP timeout.
pub const DEFAULT_UDP_TIMEOUT_S: u32 = 300;
/// Default sessions per worker: 2^20, one 64-byte line each, 64 MiB per worker.
pub const DEFAULT_SESSION_CAPACITY: u32 = 1 << 20;
/// Default persistence templates per worker.
pub const DEFAULT_PERSIST_CAPACITY: u32 = 1 << 16;
/// Default mbufs per port: 2^16 - 1, the mempool's optimal size just below a power of two.
pub const DEFAULT_MBUFS_PER_PORT: u32 = (1 << 16) - 1;
/// Default RX/TX descriptors per queue (DPDK examples use 1024).
pub const DEFAULT_DESC: u16 = 1024;
/// Default Prometheus listen address (9173 is ferrovs's pick; nothing in the usual exporter set).
pub const DEFAULT_METRICS_LISTEN: &str = "127.0.0.1:9173";
/// Default admin socket path.
pub const DEFAULT_ADMIN_SOCKET: &str = "/run/ferrovs/admin.sock";

/// The whole configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// `[dpdk]`: EAL, cores, memory, table sizes (boot-only).
    pub dpdk: Dpdk,
    /// `[[port]]`: the NIC ports, in file order (boot-only).
    pub ports: Vec<Port>,
    /// `[[route]]`: static routes (reloadable).
    pub routes: Vec<Route>,
    /// `[[neighbour]]`: static neighbours (reloadable).
    pub neighbours: Vec<Neighbour>,
    /// `[[local_address_pool]]`: FullNAT local address pools (reloadable).
    pub local_address_pools: Vec<LocalAddressPool>,
    /// `[[service]]`: virtual services (reloadable).
    pub services: Vec<Service>,
    /// `[timeouts]`: session timeouts, as `ipvsadm --set` (reloadable).
    pub timeouts: Timeouts,
    /// `[control]`: metrics and admin endpoints.
    pub control: Control,
    /// `[ha]`: director HA, which addresses follow keepalived's VRRP decisions (reloadable,
    /// except `mode`).
    pub ha: Ha,
    /// `[sync]`: the session-sync channel between directors (reloadable; a change restarts the
    /// channel, see [`crate::SessionSync::restart_needed`]).
    pub sync: crate::SessionSync,
    /// `[announce]`: the VIP routes BIRD exports (ECMP scale-out); `None` without the section
    /// (reloadable, except `table`).
    pub announce: Option<crate::Announce>,
    /// `[admission]`: the gateway's client lists and ICMP error rate (reloadable).
    pub admission: crate::Admission,
    /// `[syn_proxy]`: the SYN cookie secrets (reloadable; a service with `syn_proxy` needs one).
    pub syn_proxy: crate::SynProxyKeys,
}

/// `[dpdk]`: settings that need a restart to change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dpdk {
    /// Every lcore EAL gets (`-l`), sorted and unique.
    pub lcores: Vec<u32>,
    /// The main (control) lcore.
    pub main_lcore: u32,
    /// The worker lcores, sorted; never contains the main lcore.
    pub worker_lcores: Vec<u32>,
    /// The CPU each lcore runs on, in `lcores` order (EAL `--lcores l@c`); empty = lcore n on
    /// CPU n (`-l`). Lets a small machine run more lcores than it has CPUs (labs, CI).
    pub lcore_cpus: Vec<u32>,
    /// Use hugepages; false passes `--no-huge`.
    pub hugepages: bool,
    /// EAL memory in MiB (`-m`); `None` leaves EAL's default.
    pub memory_mb: Option<u32>,
    /// EAL `--file-prefix`.
    pub file_prefix: String,
    /// Further EAL arguments, passed verbatim after ours.
    pub extra_eal_args: Vec<String>,
    /// mbufs in each port's mempool.
    pub mbufs_per_port: u32,
    /// Session table capacity per worker.
    pub session_capacity: u32,
    /// Persistence template capacity per worker.
    pub persist_capacity: u32,
    /// What a worker does when its queues are empty.
    pub idle: Idle,
}

/// `[dpdk] idle`: what a poll-mode worker does when its queues are empty.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Idle {
    /// Poll without pause: lowest latency, the worker's CPU stays at 100%.
    #[default]
    Busy,
    /// After a run of empty polls, sleep between polls with a growing, bounded pause; back to
    /// busy polling on the first frame. Gives an idle worker's CPU back (labs, small boxes).
    Sleep,
}

impl Idle {
    /// Return the config name.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Busy => "busy",
            Self::Sleep => "sleep",
        }
    }

    /// Parse a config name.
    pub fn from_name(s: &str) -> Option<Self> {
        [Self::Busy, Self::Sleep]
            .into_iter()
            .find(|t| t.name() == s)
    }
}

/// An IP address with a prefix length; the address may have host bits (a port's own address).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Prefix {
    /// The address as written.
    pub addr: IpAddr,
    /// The prefix length (0..=32 for IPv4, 0..=128 for IPv6).
    pub len: u8,
}

impl Prefix {
    /// Return the network address (host bits cleared).
    pub fn network(&self) -> IpAddr {
        match self.addr {
            IpAddr::V4(a) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.len)).unwrap_or(0);
                IpAddr::V4((u32::from(a) & mask).into())
            }
            IpAddr::V6(a) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.len))
                    .unwrap_or(0);
                IpAddr::V6((u128::from(a) & mask).into())
            }
        }
    }

    /// Return true when `ip` lies in this prefix's network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        ip.is_ipv4() == self.addr.is_ipv4()
            && Prefix {
                addr: ip,
                len: self.len,
            }
            .network()
                == self.network()
    }

    /// Parse `addr/len`; the error is a message for the user.
    pub fn parse(s: &str) -> Result<Self, String> {
        let Some((a, l)) = s.split_once('/') else {
            return Err(format!(
                "\"{s}\" is not a prefix: expected ADDRESS/LENGTH, e.g. \"10.0.0.1/24\""
            ));
        };
        let addr: IpAddr = a
            .parse()
            .map_err(|_| format!("\"{a}\" is not an IPv4 or IPv6 address"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        match l.parse::<u8>() {
            Ok(len) if len <= max => Ok(Self { addr, len }),
            _ => Err(format!("prefix length \"{l}\" is out of range 0..={max}")),
        }
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

/// An Ethernet MAC address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    /// Parse `aa:bb:cc:dd:ee:ff` (or with `-`).
    pub fn parse(s: &str) -> Option<Self> {
        let mut out = [0u8; 6];
        let mut parts = s.split([':', '-']);
        for b in &mut out {
            let p = parts.next()?;
            if p.len() != 2 {
                return None;
            }
            *b = u8::from_str_radix(p, 16).ok()?;
        }
        parts.next().is_none().then_some(Self(out))
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            m[0], m[1], m[2], m[3], m[4], m[5]
        )
    }
}

/// `[[port]]`: one NIC port owned by DPDK.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Port {
    /// Our name for the port (`wan0`), used by routes and pools.
    pub name: String,
    /// PCI address (`0000:03:00.0`) or DPDK vdev spec (`net_pcap0,iface=eth1`).
    pub device: String,
    /// MTU in bytes.
    pub mtu: u16,
    /// The box's own addresses on this port; their networks are connected routes.
    pub addresses: Vec<Prefix>,
    /// MAC override; `None` keeps the NIC's own.
    pub mac: Option<MacAddr>,
    /// Name of the kernel TAP interface for the exception path; `None` disables it.
    pub exception_path: Option<String>,
    /// RX descriptors per queue.
    pub rx_desc: u16,
    /// TX descriptors per queue.
    pub tx_desc: u16,
}

/// `[[route]]`: a static route.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    /// Destination network (host bits clear).
    pub prefix: Prefix,
    /// Next hop, on a connected network of `port`.
    pub via: IpAddr,
    /// The egress port's name.
    pub port: String,
}

/// `[[neighbour]]`: a static neighbour, like `ip neigh add ... nud permanent`: the snapshot
/// always has it, ARP and ND never replace it, and control does not resolve it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Neighbour {
    /// The neighbour's address, on a connected network of `port`.
    pub address: IpAddr,
    /// Its MAC (unicast, not zero).
    pub mac: MacAddr,
    /// The name of the port it is reached through.
    pub port: String,
}

/// `[[local_address_pool]]`: FullNAT source addresses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalAddressPool {
    /// The pool's name, referenced by `service.local_address_pool`.
    pub name: String,
    /// The local addresses, each on a connected network of `port`.
    pub addresses: Vec<IpAddr>,
    /// The port the addresses live on.
    pub port: String,
}

// The vocabulary config shares with admin and dataplane; `Scheduler` is config's name for the
// scheduler kind.
pub use types::{
    Forward, Protocol, ProxyProtocol, SchedFlag, SchedulerKind as Scheduler, ServiceKey, Toa,
};

/// `[[service]]`: one virtual service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Service {
    /// The virtual IP.
    pub vip: IpAddr,
    /// The virtual port; 0 (all ports) only for a persistent service.
    pub port: u16,
    /// TCP or UDP.
    pub protocol: Protocol,
    /// The scheduler.
    pub scheduler: Scheduler,
    /// Scheduler flags, each legal for `scheduler`, without duplicates.
    pub sched_flags: Vec<SchedFlag>,
    /// Persistence timeout in seconds; `None` = not persistent.
    pub persistence_s: Option<u32>,
    /// Persistence granularity as a prefix length (ipvsadm `-M`); 32 or 128 by default.
    pub persistence_prefix_len: u8,
    /// The service's forwarding method (the default for its real servers).
    pub forward: Forward,
    /// FullNAT local address pool name; set iff some real server uses FullNAT.
    pub local_address_pool: Option<String>,
    /// TOA mode; `Off` unless TCP with FullNAT real servers.
    pub toa: Toa,
    /// PROXY protocol header towards the real servers; `Off` unless TCP with NAT or FullNAT
    /// real servers only, and never together with TOA.
    pub proxy_protocol: ProxyProtocol,
    /// `mss_clamp`: the largest TCP MSS a forwarded SYN (and, with NAT/FullNAT, SYN-ACK)
    /// carries, in bytes; `None` = off. TCP services only.
    pub mss_clamp: Option<u16>,
    /// `syn_proxy`: the gateway answers SYNs with SYN cookies and opens the server leg on a
    /// valid ACK; `Off` unless TCP with NAT or FullNAT real servers only.
    pub syn_proxy: crate::SynProxyMode,
    /// Sorry server, used when no real server is available.
    pub sorry_server: Option<SocketAddr>,
    /// The default health check of the real servers.
    pub health_check: HealthCheck,
    /// The real servers, in file order.
    pub real_servers: Vec<RealServer>,
    /// `sloppy_tcp`: whether a TCP packet other than a SYN that finds no session starts one
    /// (IPVS's `net.ipv4.vs.sloppy_tcp`, per service); `None` when the file does not say
    /// (see [`Service::sloppy_tcp`] for the default).
    pub sloppy_tcp: Option<bool>,
    /// Admission control: `max_conns`, `max_new_per_s`, `max_new_burst`, `allow_clients`,
    /// `deny_clients` (reloadable).
    pub admission: crate::ServiceAdmission,
}

impl Service {
    /// Return what identifies the service: protocol, VIP and port.
    pub const fn key(&self) -> ServiceKey {
        ServiceKey {
            protocol: self.protocol,
            vip: self.vip,
            port: self.port,
        }
    }

    /// Whether mid-flow TCP packets without a session are scheduled: the `sloppy_tcp` key,
    /// by default on for a consistent scheduler (`sh`, `dh`, `mh`) with only DR and TUN real
    /// servers, where every gateway of an ECMP group picks the same one; off otherwise.
    pub fn sloppy_tcp(&self) -> bool {
        self.sloppy_tcp
            .unwrap_or_else(|| self.sloppy_tcp_possible())
    }

    /// Whether `sloppy_tcp` can take effect: TCP, a consistent scheduler, and DR or TUN for
    /// every real server and the sorry server (NAT and FullNAT replies must come back through
    /// the gateway that owns the flow).
    pub fn sloppy_tcp_possible(&self) -> bool {
        let dr_or_tun = |f: Forward| matches!(f, Forward::Dr | Forward::Tun);
        self.protocol == Protocol::Tcp
            && self.scheduler.is_consistent()
            && (self.sorry_server.is_none() || dr_or_tun(self.forward))
            && self.real_servers.iter().all(|r| dr_or_tun(r.forward))
    }

    /// Return the health check that applies to `rs` (its override, else the service's).
    pub fn effective_health_check<'a>(&'a self, rs: &'a RealServer) -> &'a HealthCheck {
        rs.health_check.as_ref().unwrap_or(&self.health_check)
    }
}

/// `[[service.real_server]]`: one backend of a service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RealServer {
    /// The backend address.
    pub address: IpAddr,
    /// The backend port (equal to the service port for DR/TUN).
    pub port: u16,
    /// Weight 0..=65535; 0 = quiescent.
    pub weight: u32,
    /// Upper connection threshold; 0 = none (ipvsadm `-x`).
    pub u_threshold: u32,
    /// Lower connection threshold; 0 = 3/4 of the upper one (ipvsadm `-y`).
    pub l_threshold: u32,
    /// The effective forwarding method (override, else the service's).
    pub forward: Forward,
    /// Health check override; `None` uses the service's.
    pub health_check: Option<HealthCheck>,
}

/// A health check (schema only: the checks run in the control plane).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HealthCheck {
    /// What to check.
    pub kind: CheckKind,
    /// Seconds between checks (keepalived `delay_loop`).
    pub interval_s: u32,
    /// Seconds before one attempt fails (keepalived `connect_timeout`).
    pub timeout_s: u32,
    /// Extra attempts within one check before it counts as failed (keepalived `retry`).
    pub retries: u32,
    /// Consecutive successful checks to mark a down server up.
    pub rise: u32,
    /// Consecutive failed checks to mark an up server down.
    pub fall: u32,
    /// Port to connect to; `None` = the real server's port (keepalived `connect_port`).
    pub port: Option<u16>,
    /// On failure set the weight to 0 instead of removing the server (keepalived).
    pub inhibit_on_failure: bool,
    /// What happens to the established sessions of a server this check marks down (and, for
    /// the service's own check, of a server removed from the service).
    pub on_failure_sessions: SessionsOnFailure,
}

impl HealthCheck {
    /// Default check interval (seconds).
    pub const DEFAULT_INTERVAL_S: u32 = 5;
    /// Default attempt timeout (seconds): keepalived's `connect_timeout`.
    pub const DEFAULT_TIMEOUT_S: u32 = 5;
    /// Default retries: keepalived's `retry`.
    pub const DEFAULT_RETRIES: u32 = 1;

    /// Return the check of a service that has no `health_check` table: none.
    pub fn none() -> Self {
        Self::with_kind(CheckKind::None)
    }

    /// Return a check of `kind` with every other setting at its default.
    pub fn with_kind(kind: CheckKind) -> Self {
        Self {
            kind,
            interval_s: Self::DEFAULT_INTERVAL_S,
            timeout_s: Self::DEFAULT_TIMEOUT_S,
            retries: Self::DEFAULT_RETRIES,
            rise: 1,
            fall: 1,
            port: None,
            inhibit_on_failure: false,
            on_failure_sessions: SessionsOnFailure::Keep,
        }
    }
}

/// `health_check.on_failure_sessions`: the fate of a dead server's established sessions.
///
/// LVS users know the two behaviours from the kernel's sysctls: `keep` is IPVS's default
/// (`expire_nodest_conn = 0`: connections of a removed destination go on until they time
/// out), `drop` is `expire_nodest_conn = 1` plus `expire_quiescent_template = 1` (packets of
/// such connections are dropped and the connections expired, so clients reconnect to a live
/// server, and persistence templates pointing at it are no longer used).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum SessionsOnFailure {
    /// Established sessions go on (they end on their own or time out).
    #[default]
    Keep,
    /// Packets of established sessions are dropped and their sessions expired.
    Drop,
}

impl SessionsOnFailure {
    /// Return the config name.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Keep => "keep",
            Self::Drop => "drop",
        }
    }

    /// Parse a config name.
    pub fn from_name(s: &str) -> Option<Self> {
        [Self::Keep, Self::Drop].into_iter().find(|t| t.name() == s)
    }
}

/// The kind of health check and its kind-specific settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckKind {
    /// No check: the server is always up (ipvsadm's static model).
    None,
    /// TCP connect.
    Tcp,
    /// HTTP GET.
    Http(HttpCheck),
    /// Run a command; exit 0 = up.
    Command(CommandCheck),
}

impl CheckKind {
    /// Return the config name of the kind.
    pub const fn name(&self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Tcp => "tcp",
            Self::Http(_) => "http",
            Self::Command(_) => "command",
        }
    }
}

/// HTTP GET check settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpCheck {
    /// Request path.
    pub path: String,
    /// Expected status codes.
    pub status: Vec<u16>,
    /// Host header; `None` = the real server's address.
    pub host: Option<String>,
    /// Expected MD5 of the body, lowercase hex (keepalived `digest`).
    pub digest: Option<String>,
}

/// Command check settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandCheck {
    /// The command line, run by `/bin/sh -c`.
    pub command: String,
}

/// `[timeouts]`: session timeouts in seconds, as `ipvsadm --set tcp tcpfin udp`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// Established TCP.
    pub tcp_s: u32,
    /// TCP after FIN.
    pub tcpfin_s: u32,
    /// UDP.
    pub udp_s: u32,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            tcp_s: DEFAULT_TCP_TIMEOUT_S,
            tcpfin_s: DEFAULT_TCPFIN_TIMEOUT_S,
            udp_s: DEFAULT_UDP_TIMEOUT_S,
        }
    }
}

/// `[control]`: the control plane's endpoints.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Control {
    /// Where `/metrics` listens.
    pub metrics_listen: SocketAddr,
    /// The admin Unix socket path.
    pub admin_socket: String,
    /// The web console (`control.console*`); `None` = off (the default).
    pub console: Option<Console>,
}

/// The web console's listener, who may connect, and who may change things.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Console {
    /// Where it listens (`control.console`).
    pub listen: SocketAddr,
    /// Client networks allowed to connect (`control.console_allow`); others are closed at once.
    pub allow: Vec<Prefix>,
    /// Users who may change things (`control.console_users`); none = a read-only console.
    pub users: Vec<ConsoleUser>,
}

/// The client networks a console allows when `control.console_allow` is absent: loopback.
pub fn default_console_allow() -> Vec<Prefix> {
    vec![
        Prefix {
            addr: IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 0)),
            len: 8,
        },
        Prefix {
            addr: IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
            len: 128,
        },
    ]
}

/// One console user: a name and a SHA-crypt password hash (`$5$...` or `$6$...`, as
/// `mkpasswd -m sha-256` or `openssl passwd -5` write them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsoleUser {
    /// The login name.
    pub name: String,
    /// The hash, in the crypt(3) format.
    pub hash: String,
}

impl ConsoleUser {
    /// Parse `NAME:HASH` (htpasswd style); the error is a message for the user.
    pub fn parse(s: &str) -> Result<Self, String> {
        let Some((name, hash)) = s.split_once(':') else {
            return Err(
                "expected \"NAME:HASH\" with a SHA-crypt hash (mkpasswd -m sha-256)".into(),
            );
        };
        if name.is_empty()
            || name.len() > 64
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-@".contains(&b))
        {
            return Err(format!(
                "user name \"{name}\" must be 1 to 64 of A-Z a-z 0-9 . _ - @"
            ));
        }
        check_sha_crypt(hash)?;
        Ok(Self {
            name: name.to_owned(),
            hash: hash.to_owned(),
        })
    }
}

/// Check the shape of a SHA-crypt hash: `$5$` (SHA-256, 43 hash characters) or `$6$` (SHA-512,
/// 86), an optional `rounds=N$` (1000..=999999999), a salt of at most 16 characters, all in
/// crypt's base-64 alphabet. The console verifies passwords against it.
fn check_sha_crypt(hash: &str) -> Result<(), String> {
    let bad = |why: &str| {
        Err(format!(
            "password hash is not SHA-crypt ($5$ or $6$, as mkpasswd -m sha-256 writes): {why}"
        ))
    };
    let b64 = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'/')
    };
    let (rest, want) = if let Some(r) = hash.strip_prefix("$5$") {
        (r, 43)
    } else if let Some(r) = hash.strip_prefix("$6$") {
        (r, 86)
    } else {
        return bad("it starts with neither $5$ nor $6$");
    };
    let mut parts: Vec<&str> = rest.split('$').collect();
    if let Some(r) = parts.first().and_then(|p| p.strip_prefix("rounds=")) {
        match r.parse::<u32>() {
            Ok(n) if (1000..=999_999_999).contains(&n) => {
                parts.remove(0);
            }
            _ => return bad("rounds must be 1000..=999999999"),
        }
    }
    match parts.as_slice() {
        [salt, h] if salt.len() <= 16 && b64(salt) && h.len() == want && b64(h) => Ok(()),
        [_, h] if h.len() != want => bad(&format!(
            "the hash part has {} characters, not {want}",
            h.len()
        )),
        _ => bad("expected $5$[rounds=N$]SALT$HASH"),
    }
}

/// keepalived's `vrrp_garp_master_repeat` default: gratuitous ARPs per burst.
pub const DEFAULT_GARP_REPEAT: u32 = 5;
/// keepalived's `vrrp_garp_master_delay` default: seconds until the second burst.
pub const DEFAULT_GARP_DELAY_S: u32 = 5;

/// How the gateway decides which addresses it owns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum HaMode {
    /// No director HA: every VIP and local address is always owned (a single gateway).
    #[default]
    None,
    /// keepalived's VRRP decides: an address is owned while it is on an exception-path TAP.
    Vrrp,
}

impl HaMode {
    /// Every mode, for messages.
    pub const ALL: [Self; 2] = [Self::None, Self::Vrrp];

    /// Return the config name.
    pub const fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Vrrp => "vrrp",
        }
    }

    /// Parse a config name.
    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.name() == s)
    }
}

/// `[ha]`: director HA. With `mode = "vrrp"`, keepalived (VRRP only) runs on the box and puts
/// its `virtual_ipaddress` entries on the exception-path TAPs; a followed address is owned
/// (ARP/ND answers, gratuitous ARP / unsolicited NA) only while one is there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ha {
    /// The mode (boot-only: the watcher of the TAPs starts with the gateway).
    pub mode: HaMode,
    /// The addresses that follow HA; `None` = every VIP and every local address (with
    /// `vrrp`). Each is a service VIP, in a local address pool, or a port address (a floating
    /// address such as NAT real servers' default gateway: ferrovs then leaves it off the TAP at
    /// start, keepalived puts it there).
    pub addresses: Option<Vec<IpAddr>>,
    /// Gratuitous ARPs / unsolicited NAs sent at once when an address becomes owned.
    pub garp_repeat: u32,
    /// Seconds until a second burst (0 = none), like keepalived's `vrrp_garp_master_delay`.
    pub garp_delay_s: u32,
    /// Seconds between refreshes while owned (0 = off), like `vrrp_garp_master_refresh`.
    pub garp_refresh_s: u32,
}

impl Default for Ha {
    fn default() -> Self {
        Self {
            mode: HaMode::None,
            addresses: None,
            garp_repeat: DEFAULT_GARP_REPEAT,
            garp_delay_s: DEFAULT_GARP_DELAY_S,
            garp_refresh_s: 0,
        }
    }
}

impl Config {
    /// Return the addresses director HA follows, sorted and unique: none without HA, else
    /// `ha.addresses`, or every VIP and every local address when that is not set.
    pub fn ha_followed(&self) -> Vec<IpAddr> {
        let mut out: Vec<IpAddr> = match (&self.ha.mode, &self.ha.addresses) {
            (HaMode::None, _) => Vec::new(),
            (HaMode::Vrrp, Some(list)) => list.clone(),
            (HaMode::Vrrp, None) => self
                .services
                .iter()
                .map(|s| s.vip)
                .chain(
                    self.local_address_pools
                        .iter()
                        .flat_map(|p| p.addresses.iter().copied()),
                )
                .collect(),
        };
        out.sort();
        out.dedup();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_network_and_contains() {
        let p = Prefix::parse("198.18.0.77/24").expect("valid");
        assert_eq!(p.network().to_string(), "198.18.0.0");
        assert!(p.contains("198.18.0.1".parse().expect("ip")));
        assert!(!p.contains("198.18.1.1".parse().expect("ip")));
        assert!(!p.contains("::1".parse().expect("ip")));
        let all = Prefix::parse("0.0.0.0/0").expect("valid");
        assert!(all.contains("203.0.113.9".parse().expect("ip")));
        let v6 = Prefix::parse("2001:db8::5/64").expect("valid");
        assert_eq!(v6.network().to_string(), "2001:db8::");
        assert!(v6.contains("2001:db8::ffff".parse().expect("ip")));
        assert!(Prefix::parse("10.0.0.0").is_err());
        assert!(Prefix::parse("10.0.0.0/33").is_err());
        assert!(Prefix::parse("::/129").is_err());
    }

    #[test]
    fn mac_parse_and_display() {
        let m = MacAddr::parse("02-AB-cd-00-00-01").expect("valid");
        assert_eq!(m.to_string(), "02:ab:cd:00:00:01");
        for bad in [
            "02:ab:cd:00:00",
            "02:ab:cd:00:00:01:02",
            "2:ab:cd:00:00:01",
            "zz:ab:cd:00:00:01",
        ] {
            assert_eq!(MacAddr::parse(bad), None, "{bad}");
        }
    }
}
