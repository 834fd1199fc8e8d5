//! Turn a validated configuration, the ports' MACs and the neighbour table into the snapshot
//! workers read.
//!
//! Ids: sessions name their service and backend by id, so ids must stay stable across
//! generations (reloads, admin changes, neighbour updates): [`Ids`] keeps one per service
//! (VIP, port, protocol) and per real server of it, and reuses a removed one's id only when no
//! never-used id is left, oldest-removed first, so draining sessions keep their identity.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

use config::{Config, ServiceKey, SessionsOnFailure};
use dataplane::admission::{ClientLists, Rate, ServiceLimits};
use dataplane::sched::{SchedFlags, SchedFlagsError};
use dataplane::snapshot::{
    BackendSpec, Mac, Persistence, PortInfo, Route, ServiceSpec, Snapshot, SnapshotBuilder,
};
use dataplane::syncookie::{CookieKey, CookieKeys};
use dataplane::types::{BackendIdx, ServiceIdx};

use crate::health::BackendHealth;
use crate::neigh::Neighbours;

/// (service, address, port, is the sorry server).
type BackendKey = (ServiceKey, IpAddr, u16, bool);

/// A configuration needs more service or real-server ids than the workers' counter arrays hold
/// (they are sized at start).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("too many {what}: {wanted} wanted, room for {max} (restart with a larger table)")]
pub struct IdsExhausted {
    /// "services" or "real servers".
    pub what: &'static str,
    /// How many the configuration needs.
    pub wanted: usize,
    /// How many the table holds.
    pub max: usize,
}

/// A session timeout the dataplane cannot represent.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("timeouts: {0}")]
pub struct TimeoutsError(pub String);

/// Stable service and backend ids (see the module documentation).
#[derive(Debug)]
pub struct Ids {
    services: Table<ServiceKey>,
    backends: Table<BackendKey>,
}

#[derive(Debug)]
struct Table<K> {
    max: usize,
    ids: HashMap<K, u16>,
    next: usize,
    free: VecDeque<u16>,
}

impl<K: std::hash::Hash + Eq + Clone> Table<K> {
    fn new(max: usize) -> Self {
        Self {
            max: max.min(usize::from(u16::MAX)),
            ids: HashMap::new(),
            next: 0,
            free: VecDeque::new(),
        }
    }

    /// Give every key in `wanted` an id (existing ones keep theirs); release the others.
    fn assign(&mut self, wanted: &[K], what: &'static str) -> Result<(), IdsExhausted> {
        let keep: std::collections::HashSet<&K> = wanted.iter().collect();
        let gone: Vec<K> = self
            .ids
            .keys()
            .filter(|k| !keep.contains(k))
            .cloned()
            .collect();
        let needed = wanted.iter().filter(|k| !self.ids.contains_key(*k)).count();
        let available = (self.max - self.next) + self.free.len() + gone.len();
        if needed > available {
            return Err(IdsExhausted {
                what,
                wanted: self.ids.len() - gone.len() + needed,
                max: self.max,
            });
        }
        for k in gone {
            if let Some(id) = self.ids.remove(&k) {
                self.free.push_back(id);
            }
        }
        for k in wanted {
            if self.ids.contains_key(k) {
                continue;
            }
            let id = if self.next < self.max {
                self.next += 1;
                u16::try_from(self.next - 1).unwrap_or(u16::MAX)
            } else {
                self.free.pop_front().unwrap_or(u16::MAX)
            };
            self.ids.insert(k.clone(), id);
        }
        Ok(())
    }
}

impl Ids {
    /// Ids for up to `max_services` services and `max_backends` backends (the workers' counter
    /// arrays are sized to match).
    pub fn new(max_services: usize, max_backends: usize) -> Self {
        Self {
            services: Table::new(max_services),
            backends: Table::new(max_backends),
        }
    }

    /// Assign ids to everything in `cfg`, keeping those already known; release the ids of what
    /// `cfg` no longer has. On error nothing changed.
    ///
    /// # Errors
    /// When `cfg` needs more ids than the tables hold.
    pub fn assign(&mut self, cfg: &Config) -> Result<(), IdsExhausted> {
        let services: Vec<ServiceKey> = cfg.services.iter().map(config::Service::key).collect();
        let mut backends: Vec<BackendKey> = Vec::new();
        for s in &cfg.services {
            let k = s.key();
            backends.extend(s.real_servers.iter().map(|r| (k, r.address, r.port, false)));
            if let Some(sa) = s.sorry_server {
                backends.push((k, sa.ip(), sa.port(), true));
            }
        }
        // Services first; undo them if the backends do not fit, so a refused change leaves the
        // ids as they were.
        let saved = (
            self.services.ids.clone(),
            self.services.next,
            self.services.free.clone(),
        );
        self.services.assign(&services, "services")?;
        if let Err(e) = self.backends.assign(&backends, "real servers") {
            (self.services.ids, self.services.next, self.services.free) = saved;
            return Err(e);
        }
        Ok(())
    }

    /// Return the id of service `s`.
    pub fn service(&self, s: &config::Service) -> Option<ServiceIdx> {
        self.services
            .ids
            .get(&s.key())
            .copied()
            .map(ServiceIdx::new)
    }

    /// Return the id of real server `addr:port` of service `s` (`sorry`: its sorry server).
    pub fn backend(
        &self,
        s: &config::Service,
        addr: IpAddr,
        port: u16,
        sorry: bool,
    ) -> Option<BackendIdx> {
        self.backends
            .ids
            .get(&(s.key(), addr, port, sorry))
            .copied()
            .map(BackendIdx::new)
    }
}

/// Every address control answers ARP/ND for on port `port`: the port's own addresses, and
/// (on any port) VIPs and FullNAT local addresses; of those, only what this gateway owns in
/// `snap` (director HA: while the peer owns one, answering would be a split brain).
pub fn answers_for(cfg: &Config, snap: &Snapshot, port: usize, ip: IpAddr) -> bool {
    snap.is_owned(ip)
        && (cfg
            .ports
            .get(port)
            .is_some_and(|p| p.addresses.iter().any(|a| a.addr == ip))
            || cfg.services.iter().any(|s| s.vip == ip)
            || cfg
                .local_address_pools
                .iter()
                .any(|p| p.addresses.contains(&ip)))
}

/// The dataplane's session timeouts for `cfg` (`ipvsadm --set`; 0 keeps a default).
///
/// # Errors
/// A timeout the session tables cannot represent.
pub fn timeouts(cfg: &Config) -> Result<dataplane::session::Timeouts, TimeoutsError> {
    let mut t = dataplane::session::Timeouts::default();
    t.set(
        u64::from(cfg.timeouts.tcp_s),
        u64::from(cfg.timeouts.tcpfin_s),
        u64::from(cfg.timeouts.udp_s),
    )
    .map_err(|e| TimeoutsError(format!("{e:?}")))?;
    Ok(t)
}

/// Every service's scheduler flags as the dataplane holds them.
///
/// # Errors
/// A flag of another scheduler than its service's. The config file's schema and the admin
/// commands refuse those, so only a configuration assembled another way can have one; commit
/// refuses it rather than [`build`] dropping the flags.
pub fn sched_flags(cfg: &Config) -> Result<Vec<SchedFlags>, SchedFlagsError> {
    cfg.services
        .iter()
        .map(|s| SchedFlags::new(s.scheduler, &s.sched_flags))
        .collect()
}

/// Everything a snapshot is built from. A new per-snapshot input (say, which VIPs this node owns
/// under HA) is one more field here and one more use in [`build`], with no signature to change
/// at the callers that do not set it.
#[derive(Clone, Copy)]
pub struct Inputs<'a> {
    /// The running configuration.
    pub cfg: &'a Config,
    /// Each port's MAC (a configured `mac` wins).
    pub macs: &'a [Mac],
    /// What ARP/ND taught.
    pub neighbours: &'a Neighbours,
    /// Stable ids (call [`Ids::assign`] with `cfg` first; anything without an id gets a free one
    /// from the builder).
    pub ids: &'a Ids,
    /// `health(service, real_server)` (indices in `cfg`): each real server's health-check
    /// verdict; down takes it out of scheduling, or to weight 0 with `inhibit_on_failure`.
    pub health: &'a dyn Fn(usize, usize) -> BackendHealth,
    /// The addresses director HA does not own now (`ha::Ownership::not_owned`; empty without
    /// HA): no ARP/ND answers for them, no announcements.
    pub not_owned: &'a [IpAddr],
}

impl std::fmt::Debug for Inputs<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inputs")
            .field("services", &self.cfg.services.len())
            .field("ports", &self.macs.len())
            .field("neighbours", &self.neighbours.len())
            .finish_non_exhaustive()
    }
}

/// A health function for [`Inputs::health`] with no checks: every server schedulable.
pub fn unchecked(_service: usize, _real_server: usize) -> BackendHealth {
    BackendHealth::Unchecked
}

/// Build generation `generation` of the snapshot from `inputs`.
pub fn build(inputs: &Inputs<'_>, generation: u64) -> Snapshot {
    let Inputs {
        cfg,
        macs,
        neighbours,
        ids,
        health,
        not_owned,
    } = *inputs;
    let mut b = SnapshotBuilder::new(generation);
    for &a in not_owned {
        b.not_owned(a);
    }
    if let Ok(t) = timeouts(cfg) {
        b.timeouts(t);
    }
    for (i, p) in cfg.ports.iter().enumerate() {
        let mac = p
            .mac
            .map(|m| m.0)
            .or_else(|| macs.get(i).copied())
            .unwrap_or_default();
        let mut info = PortInfo {
            mac,
            addrs4: Vec::new(),
            addrs6: Vec::new(),
            mtu: p.mtu,
        };
        for a in &p.addresses {
            match a.addr {
                IpAddr::V4(v4) => info.addrs4.push(v4),
                IpAddr::V6(v6) => info.addrs6.push(v6),
            }
        }
        let idx = b.port(info);
        for a in &p.addresses {
            b.route(Route {
                prefix: a.network(),
                len: a.len,
                port: idx,
                via: None,
            });
        }
    }
    for r in &cfg.routes {
        let Some(port) = cfg.ports.iter().position(|p| p.name == r.port) else {
            continue;
        };
        let port = u8::try_from(port).unwrap_or(u8::MAX);
        b.route(Route {
            prefix: r.prefix.network(),
            len: r.prefix.len,
            port,
            via: Some(r.via),
        });
    }
    for (ip, e) in neighbours.iter() {
        b.neighbour(*ip, e.mac);
    }
    // Static entries last: they win over anything ARP/ND taught.
    for n in &cfg.neighbours {
        b.neighbour(n.address, n.mac.0);
    }
    // A pool no service names holds standby local addresses (another ECMP gateway's, which
    // director HA moves here when it dies): their replies and synced sessions, never new flows.
    for p in &cfg.local_address_pools {
        if !cfg
            .services
            .iter()
            .any(|s| s.local_address_pool.as_ref() == Some(&p.name))
        {
            for &a in &p.addresses {
                b.standby_laddr(a);
            }
        }
    }
    // Checked by commit (and at start): see `sched_flags`.
    let flags = sched_flags(cfg).unwrap_or_default();
    for (si, s) in cfg.services.iter().enumerate() {
        let mut spec = ServiceSpec::new(s.vip, s.port, s.protocol);
        spec.id = ids.service(s);
        spec.scheduler = s.scheduler;
        if let Some(&f) = flags.get(si) {
            spec.flags = f;
        }
        spec.persistence = s.persistence_s.map(|t| Persistence {
            timeout_s: t,
            prefix_len: s.persistence_prefix_len,
        });
        spec.toa = s.toa;
        spec.proxy_protocol = s.proxy_protocol;
        spec.mss_clamp = s.mss_clamp.unwrap_or(0);
        spec.syn_proxy = s.syn_proxy == config::SynProxyMode::On;
        spec.syn_proxy_auto = s.syn_proxy == config::SynProxyMode::Auto;
        if let Some(pool) = &s.local_address_pool {
            if let Some(p) = cfg.local_address_pools.iter().find(|p| &p.name == pool) {
                spec.laddrs = p.addresses.clone();
            }
        }
        spec.backends = s
            .real_servers
            .iter()
            .enumerate()
            .map(|(ri, rs)| {
                let verdict = health(si, ri);
                let (weight, available) = match verdict {
                    BackendHealth::Unchecked | BackendHealth::Up => (rs.weight, true),
                    BackendHealth::Down { inhibit: true } => (0, true),
                    BackendHealth::Down { inhibit: false } => (rs.weight, false),
                };
                let drop_sessions = matches!(verdict, BackendHealth::Down { .. })
                    && s.effective_health_check(rs).on_failure_sessions == SessionsOnFailure::Drop;
                BackendSpec {
                    id: ids.backend(s, rs.address, rs.port, false),
                    addr: rs.address,
                    port: rs.port,
                    method: rs.forward,
                    weight,
                    u_threshold: rs.u_threshold,
                    l_threshold: rs.l_threshold,
                    available,
                    drop_sessions,
                }
            })
            .collect();
        spec.expire_nodest = s.health_check.on_failure_sessions == SessionsOnFailure::Drop;
        spec.sloppy_tcp = s.sloppy_tcp();
        spec.sorry = s.sorry_server.map(|sa| BackendSpec {
            id: ids.backend(s, sa.ip(), sa.port(), true),
            ..BackendSpec::new(sa.ip(), sa.port(), s.forward)
        });
        spec.limits = service_limits(&s.admission);
        b.service(spec);
    }
    let a = &cfg.admission;
    b.clients(client_lists(&a.clients));
    b.icmp_errors((a.icmp_errors_per_s > 0).then_some(Rate {
        per_s: a.icmp_errors_per_s,
        burst: a.icmp_errors_burst,
    }));
    let a = &cfg.syn_proxy.auto;
    b.syn_auto(dataplane::synauto::AutoLevels {
        on_syn_rate: a.on_syn_rate,
        off_syn_rate: a.off_syn_rate,
        on_table_fill: a.on_table_fill,
        off_table_fill: a.off_table_fill,
        hold_s: a.hold_s,
    });
    b.syn_cookies(cfg.syn_proxy.secret.map(|cur| CookieKeys {
        current: CookieKey::new(cur.0),
        previous: cfg.syn_proxy.previous_secret.map(|p| CookieKey::new(p.0)),
    }));
    b.build()
}

/// The dataplane's lookup for config's client lists (built here, once per snapshot).
fn client_lists(l: &config::ClientLists) -> ClientLists {
    let pairs = |ps: &[config::Prefix]| -> Vec<_> { ps.iter().map(|p| (p.addr, p.len)).collect() };
    ClientLists::new(&pairs(&l.allow), &pairs(&l.deny))
}

/// A service's admission keys as the dataplane takes them.
fn service_limits(a: &config::ServiceAdmission) -> ServiceLimits {
    ServiceLimits {
        new_conns: (a.max_new_per_s > 0).then(|| Rate {
            per_s: a.max_new_per_s,
            burst: a.burst(),
        }),
        max_conns: a.max_conns,
        clients: client_lists(&a.clients),
    }
}

/// [`build`] with fresh ids for `cfg` and no health verdicts (tests).
#[cfg(test)]
pub(crate) fn build_for_test(
    cfg: &Config,
    macs: &[Mac],
    neighbours: &Neighbours,
    generation: u64,
) -> Snapshot {
    let mut ids = Ids::new(64, 64);
    ids.assign(cfg).expect("room for the test config");
    build(
        &Inputs {
            cfg,
            macs,
            neighbours,
            ids: &ids,
            health: &unchecked,
            not_owned: &[],
        },
        generation,
    )
}

/// The addresses control should resolve proactively: every backend, sorry server and route
/// gateway, with the port it lives on and a source address of ours on that port; static
/// neighbours (`[[neighbour]]`) are known already and left out.
pub fn wanted_neighbours(cfg: &Config, snap: &Snapshot) -> Vec<(IpAddr, u8, IpAddr)> {
    let mut out = Vec::new();
    let mut want = |dst: IpAddr| {
        let Some(route) = snap.route(dst) else { return };
        let hop = route.via.unwrap_or(dst);
        if cfg.neighbours.iter().any(|n| n.address == hop) {
            return;
        }
        let Some(port) = cfg.ports.get(usize::from(route.port)) else {
            return;
        };
        // A port address that follows HA is no source while the peer owns it.
        let src = port
            .addresses
            .iter()
            .map(|a| a.addr)
            .find(|a| a.is_ipv4() == hop.is_ipv4() && snap.is_owned(*a));
        if let Some(src) = src {
            if !out.iter().any(|(h, _, _)| *h == hop) {
                out.push((hop, route.port, src));
            }
        }
    };
    for s in &cfg.services {
        for rs in &s.real_servers {
            want(rs.address);
        }
        if let Some(sa) = s.sorry_server {
            want(sa.ip());
        }
    }
    for r in &cfg.routes {
        want(r.via);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use dataplane::session::FwdMethod;
    use dataplane::types::L4Proto;

    const CFG: &str = r#"
[dpdk]
lcores = "0-1"
hugepages = false

[[port]]
name = "wan0"
device = "net_memif0"
addresses = ["198.18.0.1/24"]

[[port]]
name = "lan0"
device = "net_memif1"
addresses = ["198.18.1.1/24"]

[[local_address_pool]]
name = "snat"
addresses = ["198.18.1.200"]

[[service]]
vip = "198.18.0.100"
port = 80
scheduler = "rr"
forward = "fullnat"
local_address_pool = "snat"
  [[service.real_server]]
  address = "198.18.1.11"
  [[service.real_server]]
  address = "198.18.1.12"
"#;

    #[test]
    fn test_config_becomes_a_snapshot() {
        let cfg = config::parse(CFG, "t.toml").expect("valid");
        let mut n = Neighbours::default();
        n.learn(
            "198.18.1.11".parse().unwrap(),
            [2, 0, 0, 0, 1, 11],
            1,
            std::time::Instant::now(),
        );
        let snap = build_for_test(&cfg, &[[2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]], &n, 7);
        assert_eq!(snap.generation, 7);
        assert_eq!(snap.ports.len(), 2);
        assert_eq!(snap.ports[1].mac, [2, 0, 0, 0, 0, 2]);
        let sid = snap
            .service_for("198.18.0.100".parse().unwrap(), 80, L4Proto::Tcp)
            .expect("service");
        let svc = snap.service(sid).unwrap();
        assert_eq!(svc.backends.len(), 2);
        assert_eq!(svc.laddrs, vec!["198.18.1.200".parse::<IpAddr>().unwrap()]);
        assert_eq!(
            snap.backend(svc.backends[0]).unwrap().method,
            FwdMethod::FullNat
        );
        assert_eq!(
            snap.next_hop("198.18.1.11".parse().unwrap()),
            Ok((1, [2, 0, 0, 0, 1, 11]))
        );
        assert!(snap.is_own("198.18.0.1".parse().unwrap()));
        assert!(answers_for(&cfg, &snap, 1, "198.18.1.200".parse().unwrap()));
        assert!(answers_for(&cfg, &snap, 0, "198.18.0.100".parse().unwrap()));
        assert!(!answers_for(&cfg, &snap, 0, "198.18.1.1".parse().unwrap()));
        let want = wanted_neighbours(&cfg, &snap);
        assert_eq!(want.len(), 2);
        assert_eq!(
            want[0],
            (
                "198.18.1.11".parse().unwrap(),
                1,
                "198.18.1.1".parse().unwrap()
            )
        );
    }

    /// ECMP FullNAT takeover (docs/ecmp.md): a pool no service names is a standby, known as
    /// local addresses (replies, synced sessions, ARP) but never given to new flows.
    #[test]
    fn test_a_pool_no_service_names_is_standby_local_addresses() {
        let text = CFG.replace(
            "[[service]]",
            "[[local_address_pool]]\nname = \"peer\"\naddresses = [\"198.18.1.202\"]\n\n[[service]]",
        );
        let cfg = config::parse(&text, "t.toml").expect("valid");
        let snap = build_for_test(
            &cfg,
            &[[2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]],
            &Neighbours::default(),
            1,
        );
        let standby: IpAddr = "198.18.1.202".parse().unwrap();
        assert!(snap.is_laddr(standby));
        assert!(snap.is_laddr("198.18.1.200".parse().unwrap()));
        assert!(!snap.is_laddr("198.18.1.1".parse().unwrap()));
        let sid = snap
            .service_for("198.18.0.100".parse().unwrap(), 80, L4Proto::Tcp)
            .expect("service");
        assert_eq!(
            snap.service(sid).unwrap().laddrs,
            vec!["198.18.1.200".parse::<IpAddr>().unwrap()],
            "new flows take the service's own pool only"
        );
        assert!(answers_for(&cfg, &snap, 1, standby));
    }

    #[test]
    fn test_addresses_not_owned_get_no_answers() {
        let cfg = config::parse(CFG, "t.toml").expect("valid");
        let mut ids = Ids::new(64, 64);
        ids.assign(&cfg).expect("room");
        let vip: IpAddr = "198.18.0.100".parse().unwrap();
        let laddr: IpAddr = "198.18.1.200".parse().unwrap();
        let own: IpAddr = "198.18.1.1".parse().unwrap();
        let snap = build(
            &Inputs {
                cfg: &cfg,
                macs: &[[2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]],
                neighbours: &Neighbours::default(),
                ids: &ids,
                health: &unchecked,
                not_owned: &[vip, laddr],
            },
            2,
        );
        assert!(!snap.is_owned(vip) && !snap.is_owned(laddr));
        assert!(!answers_for(&cfg, &snap, 0, vip), "the peer owns the VIP");
        assert!(!answers_for(&cfg, &snap, 1, laddr));
        assert!(
            answers_for(&cfg, &snap, 1, own),
            "own addresses never follow HA"
        );
        // The service itself stays: frames that still arrive are forwarded.
        assert!(snap.service_for(vip, 80, L4Proto::Tcp).is_some());
        // A floating port address (NAT real servers' gateway) is neither answered nor used as
        // a source for resolution while the peer owns it.
        let snap = build(
            &Inputs {
                cfg: &cfg,
                macs: &[[2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]],
                neighbours: &Neighbours::default(),
                ids: &ids,
                health: &unchecked,
                not_owned: &[own],
            },
            3,
        );
        assert!(!answers_for(&cfg, &snap, 1, own));
        assert!(
            wanted_neighbours(&cfg, &snap).is_empty(),
            "lan0's only address is not ours now: nothing to ask from"
        );
    }

    #[test]
    fn test_session_policy_reaches_the_snapshot() {
        // rs1 and rs2 use the service's check (drop), rs3 overrides it (keep, inhibit).
        let text = CFG.replace(
            "  [[service.real_server]]\n  address = \"198.18.1.11\"\n",
            "  [service.health_check]\n  type = \"tcp\"\n  on_failure_sessions = \"drop\"\n  \
             [[service.real_server]]\n  address = \"198.18.1.11\"\n",
        ) + "  [[service.real_server]]\n  address = \"198.18.1.13\"\n  \
             [service.real_server.health_check]\n  type = \"tcp\"\n  inhibit_on_failure = true\n";
        let cfg = config::parse(&text, "t.toml").unwrap_or_else(|e| panic!("{e}\n{text}"));
        let mut ids = Ids::new(8, 8);
        ids.assign(&cfg).expect("room");
        let verdicts = [
            BackendHealth::Down { inhibit: false },
            BackendHealth::Up,
            BackendHealth::Down { inhibit: true },
        ];
        let snap = build(
            &Inputs {
                cfg: &cfg,
                macs: &[],
                neighbours: &Neighbours::default(),
                ids: &ids,
                health: &|_, r| verdicts[r],
                not_owned: &[],
            },
            1,
        );
        assert!(snap.drops_sessions());
        let svc = snap
            .service(ids.service(&cfg.services[0]).unwrap())
            .unwrap();
        assert!(
            svc.expire_nodest,
            "the service's own check decides for removed servers"
        );
        let b: Vec<_> = svc
            .backends
            .iter()
            .map(|&i| *snap.backend(i).unwrap())
            .collect();
        assert_eq!(
            b.iter()
                .map(|b| (b.available, b.weight, b.drop_sessions))
                .collect::<Vec<_>>(),
            [(false, 1, true), (true, 1, false), (true, 0, false)]
        );
        // Keep (the default) everywhere: the forward path never looks.
        let plain = build_for_test(
            &config::parse(CFG, "t.toml").unwrap(),
            &[],
            &Neighbours::default(),
            1,
        );
        assert!(!plain.drops_sessions());
    }

    #[test]
    fn test_static_neighbours_win_and_are_not_resolved() {
        let text = format!(
            "{CFG}\n[[neighbour]]\naddress = \"198.18.1.12\"\nmac = \"02:00:00:00:01:12\"\n"
        );
        let cfg = config::parse(&text, "t.toml").expect("valid");
        let mut n = Neighbours::default();
        let now = std::time::Instant::now();
        // ARP said otherwise: the static entry still wins.
        n.learn("198.18.1.12".parse().unwrap(), [2, 0, 0, 0, 9, 9], 1, now);
        n.learn("198.18.1.11".parse().unwrap(), [2, 0, 0, 0, 1, 11], 1, now);
        let snap = build_for_test(&cfg, &[[2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]], &n, 1);
        assert_eq!(
            snap.next_hop("198.18.1.12".parse().unwrap()),
            Ok((1, [2, 0, 0, 0, 1, 0x12]))
        );
        assert_eq!(
            snap.next_hop("198.18.1.11".parse().unwrap()),
            Ok((1, [2, 0, 0, 0, 1, 11])),
            "learned entries stay"
        );
        let want: Vec<IpAddr> = wanted_neighbours(&cfg, &snap)
            .into_iter()
            .map(|(h, _, _)| h)
            .collect();
        assert_eq!(want, ["198.18.1.11".parse::<IpAddr>().unwrap()]);
    }

    #[test]
    fn test_ids_stay_stable_and_are_not_reused_early() {
        let two = |a: &str, b: &str| {
            config::parse(
                &format!(
                    "[[port]]\nname = \"p\"\ndevice = \"net_null0\"\naddresses = [\"198.18.0.1/24\"]\n\
                     [[service]]\nvip = \"{a}\"\nport = 80\n[[service.real_server]]\naddress = \"198.18.0.11\"\n\
                     [[service]]\nvip = \"{b}\"\nport = 80\n[[service.real_server]]\naddress = \"198.18.0.12\"\n"
                ),
                "t.toml",
            )
            .expect("valid")
        };
        let mut ids = Ids::new(3, 3);
        let c1 = two("198.18.0.100", "198.18.0.101");
        ids.assign(&c1).unwrap();
        let a = ids.service(&c1.services[0]).unwrap();
        let b = ids.service(&c1.services[1]).unwrap();
        assert_ne!(a, b);
        // Reordered: same ids.
        let c2 = two("198.18.0.101", "198.18.0.100");
        ids.assign(&c2).unwrap();
        assert_eq!(ids.service(&c2.services[1]), Some(a));
        assert_eq!(ids.service(&c2.services[0]), Some(b));
        // .100 removed, .102 added: a fresh id, not .100's (its sessions may still drain).
        let c3 = two("198.18.0.101", "198.18.0.102");
        ids.assign(&c3).unwrap();
        let c = ids.service(&c3.services[1]).unwrap();
        assert!(c != a && c != b, "fresh id first");
        // Only now, with no fresh id left, the oldest removed id is reused.
        let c4 = two("198.18.0.101", "198.18.0.103");
        ids.assign(&c4).unwrap();
        assert_eq!(ids.service(&c4.services[1]), Some(a));
        // Too many: refused, nothing changes.
        let before = ids.service(&c4.services[0]);
        let mut big = c4.clone();
        for i in 0..4 {
            let mut s = big.services[0].clone();
            s.vip = format!("198.18.0.{}", 120 + i).parse().unwrap();
            big.services.push(s);
        }
        assert!(ids
            .assign(&big)
            .unwrap_err()
            .to_string()
            .contains("too many services"));
        assert_eq!(ids.service(&c4.services[0]), before);
        assert_eq!(ids.service(&big.services[3]), None);
    }
}
