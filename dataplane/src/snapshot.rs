//! The immutable configuration snapshot control publishes and workers read once per burst.
//!
//! A snapshot holds everything needed to *start* a flow: virtual services with their scheduler
//! tables, backends, FullNAT local addresses, the box's own addresses, routes and resolved
//! neighbours. Established flows never need it: their session records carry what forwarding
//! needs (DESIGN §3), so replacing a snapshot never breaks a live flow.
//!
//! Control builds a new one for every change (a reload, an ipvsadm command, a health
//! transition, a resolved neighbour) with [`SnapshotBuilder`] and swaps it in whole, never
//! piecemeal (STYLE rule 14).

use core::hash::{BuildHasherDefault, Hasher};
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::collections::{HashMap, HashSet};

use crate::admission::{ClientLists, Rate, ServiceLimits};
use crate::sched::{hash, SchedBackend, SchedFlags, Scheduler, SchedulerKind};
use crate::session::{FwdMethod, Timeouts};
use crate::types::{BackendIdx, L4Proto, PortIdx, ServiceIdx};

pub use crate::types::Mac;

/// A small, fast, non-keyed hasher for the snapshot's lookup maps (keys come from the config,
/// not from packets an attacker chooses freely... except the lookup key itself, which only
/// selects among configured entries, so flooding cannot grow anything).
#[derive(Default, Debug, Clone, Copy)]
pub struct FastHasher(u64);

impl Hasher for FastHasher {
    fn finish(&self) -> u64 {
        hash::mix(self.0, 0x9e37_79b9_7f4a_7c15)
    }
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut w = [0u8; 8];
            w[..chunk.len()].copy_from_slice(chunk);
            self.0 = hash::mix(self.0, u64::from_le_bytes(w));
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.0 = hash::mix(self.0, u64::from(i));
    }
    fn write_u16(&mut self, i: u16) {
        self.0 = hash::mix(self.0, u64::from(i));
    }
    fn write_u32(&mut self, i: u32) {
        self.0 = hash::mix(self.0, u64::from(i));
    }
    fn write_u64(&mut self, i: u64) {
        self.0 = hash::mix(self.0, i);
    }
}

/// The key of a service in [`Snapshot::service_for`]'s map: the address as 128 bits and the
/// port, protocol and family in one word, hashed as two words (two rounds of [`FastHasher`])
/// where the tuple's derived `Hash` fed it the address's discriminant, length and bytes apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct VipKey {
    addr: u128,
    /// Port, protocol << 16, 1 << 24 for IPv6.
    rest: u32,
}

impl VipKey {
    #[inline]
    fn new(a: IpAddr, port: u16, proto: L4Proto) -> Self {
        let (addr, v6) = match a {
            IpAddr::V4(a) => (u128::from(a.to_bits()), 0),
            IpAddr::V6(a) => (a.to_bits(), 1 << 24),
        };
        Self {
            addr,
            rest: u32::from(port) | u32::from(proto as u8) << 16 | v6,
        }
    }
}

impl core::hash::Hash for VipKey {
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.addr as u64 ^ ((self.addr >> 64) as u64).rotate_left(23));
        state.write_u64(u64::from(self.rest));
    }
}

/// Map type used by snapshots.
pub type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;
/// Set type used by snapshots.
pub type FastSet<K> = HashSet<K, BuildHasherDefault<FastHasher>>;

/// When FullNAT inserts the TCP option carrying the client address (TOA): the shared
/// vocabulary's [`types::Toa`].
pub use ::types::Toa as ToaMode;

/// Whether NAT/FullNAT TCP inserts a PROXY protocol header: the shared vocabulary's
/// [`types::ProxyProtocol`].
pub use ::types::ProxyProtocol;

/// Persistence (`ipvsadm -p TIMEOUT -M NETMASK`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Persistence {
    /// Template timeout in seconds.
    pub timeout_s: u32,
    /// Client address prefix length that shares a template (`-M`).
    pub prefix_len: u8,
}

/// A virtual service.
#[derive(Debug)]
pub struct Service {
    /// Virtual address.
    pub vip: IpAddr,
    /// Virtual port (0 = every port, persistent services only, as ipvsadm).
    pub port: u16,
    /// Protocol.
    pub proto: L4Proto,
    /// Scheduler over `backends` (positions match).
    pub scheduler: Scheduler,
    /// Global indices of this service's backends, in scheduler position order.
    pub backends: Vec<BackendIdx>,
    /// Persistence, if set.
    pub persistence: Option<Persistence>,
    /// FullNAT local addresses (same family as the backends).
    pub laddrs: Vec<IpAddr>,
    /// TOA insertion (FullNAT TCP).
    pub toa: ToaMode,
    /// PROXY protocol header in front of the client's first bytes (NAT/FullNAT TCP).
    pub proxy_protocol: ProxyProtocol,
    /// TCP MSS clamp: a forwarded SYN's MSS option is lowered to this (0 = off;
    /// [`crate::forward::mss`]).
    pub mss_clamp: u16,
    /// SYN proxy: SYNs are answered with a cookie, the server leg opens on a valid ACK
    /// ([`crate::forward::synproxy`]; TCP with NAT/FullNAT backends, and the snapshot has the
    /// cookie keys). Also set for `auto` (one flag test for services without it).
    pub syn_proxy: bool,
    /// `syn_proxy = "auto"`: each worker engages the proxy for the service by its own measures
    /// ([`crate::synauto`]); implies `syn_proxy`.
    pub syn_proxy_auto: bool,
    /// Backend that takes new flows when the scheduler finds none (keepalived's sorry server).
    pub sorry: Option<BackendIdx>,
    /// Whether picking needs connection counts (lc family, or a backend has thresholds).
    pub needs_loads: bool,
    /// Whether any backend forwards by NAT (its flows are owned by the client address).
    pub has_nat: bool,
    /// Drop (and expire) the sessions of backends no longer in this service (the kernel's
    /// `expire_nodest_conn`); otherwise they run until they time out.
    pub expire_nodest: bool,
    /// A TCP packet other than a SYN that finds no session starts one, as IPVS's
    /// `net.ipv4.vs.sloppy_tcp` (any packet but a RST is scheduled; an ACK opens the session
    /// ESTABLISHED). Set only where every gateway picks the same backend for the flow: the
    /// scheduler is consistent ([`SchedulerKind::is_consistent`]) and every real server (and
    /// the sorry server) forwards by DR or TUN, so a flow that ECMP moves to this gateway, or
    /// that outlived its session here, goes on to the backend that has it.
    pub sloppy_tcp: bool,
    /// Admission control (rate, cap, client lists); `None` when the service limits nothing.
    pub limits: Option<Box<ServiceLimits>>,
}

/// A real server of one service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backend {
    /// Address.
    pub addr: IpAddr,
    /// Port.
    pub port: u16,
    /// Forwarding method (ipvsadm sets it per real server).
    pub method: FwdMethod,
    /// Owning service.
    pub service: ServiceIdx,
    /// Weight (0 = quiescent).
    pub weight: u32,
    /// Healthy (takes new flows when its weight is above 0).
    pub available: bool,
    /// Down under the `drop` session policy: packets of its established sessions are dropped
    /// and the sessions removed, and persistence templates pointing at it are not used.
    pub drop_sessions: bool,
}

/// What a worker needs to know about one of the gateway's ports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortInfo {
    /// The port's MAC, the source of every frame sent on it.
    pub mac: Mac,
    /// The box's own IPv4 addresses on this port (the first is TUN's outer source).
    pub addrs4: Vec<Ipv4Addr>,
    /// The box's own IPv6 addresses on this port.
    pub addrs6: Vec<Ipv6Addr>,
    /// IP MTU.
    pub mtu: u16,
}

/// A route: `prefix/len` is reached through `port`, via a gateway or directly (connected).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Route {
    /// Network address.
    pub prefix: IpAddr,
    /// Prefix length.
    pub len: u8,
    /// Egress port.
    pub port: PortIdx,
    /// Next hop; `None` for a connected network (the destination is the next hop).
    pub via: Option<IpAddr>,
}

/// Why a next hop could not be found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NextHopError {
    /// No route covers the destination.
    NoRoute,
    /// The next hop's MAC is not known yet (control resolves it).
    Unresolved {
        /// The neighbour to resolve.
        neighbour: IpAddr,
        /// Port it lives on.
        port: PortIdx,
    },
}

/// The published configuration. Cheap to read, never mutated after [`SnapshotBuilder::build`].
#[derive(Debug)]
pub struct Snapshot {
    /// Configuration generation (increases with every publication).
    pub generation: u64,
    /// Virtual services by stable id (`None`: a free id).
    pub services: Vec<Option<Service>>,
    /// Backends of every service by stable id (`None`: a free id).
    pub backends: Vec<Option<Backend>>,
    /// The gateway's ports.
    pub ports: Vec<PortInfo>,
    /// Session timeouts (`ipvsadm --set`); `None` leaves each worker's as they are.
    pub timeouts: Option<Timeouts>,
    /// The gateway's client lists (checked before each service's); `None` when empty.
    pub clients: Option<Box<ClientLists>>,
    /// The rate of ICMP errors the gateway sends itself, over all workers; `None`: no limit.
    pub icmp_errors: Option<Rate>,
    routes: Vec<Route>,
    neighbours: FastMap<IpAddr, Mac>,
    /// Per backend id: its egress port and next-hop MAC when routed and resolved, found once
    /// when the snapshot is built ([`Snapshot::backend_next_hop`]).
    backend_hops: Vec<Option<(PortIdx, Mac)>>,
    vips: FastMap<VipKey, ServiceIdx>,
    vip_addrs: FastSet<IpAddr>,
    own: FastSet<IpAddr>,
    laddrs: FastSet<IpAddr>,
    nat_backends: FastSet<(IpAddr, u16, L4Proto)>,
    drops_sessions: bool,
    /// Whether some service sets `mss_clamp`: SYNs of other snapshots skip the lookup.
    clamps_mss: bool,
    /// Whether some service has the SYN proxy on.
    proxies_syn: bool,
    /// The SYN cookie keys (`[syn_proxy]`); `None` keeps every service's SYN proxy off.
    pub syn_cookies: Option<crate::forward::syncookie::CookieKeys>,
    /// When `syn_proxy = "auto"` services engage the proxy.
    pub syn_auto: crate::synauto::AutoLevels,
    /// Whether `not_owned` has any address: one flag load per packet while HA owns everything.
    any_not_owned: bool,
    not_owned: FastSet<IpAddr>,
}

impl Snapshot {
    /// Carry shared scheduler state (the `rr`/`wrr` cursor) over from `prev`, the generation
    /// this one replaces, for every service whose id and scheduler signature are unchanged: the
    /// rotation goes on across reloads and neighbour or health changes elsewhere.
    pub fn carry_scheduler_state(&mut self, prev: &Snapshot) {
        for (new, old) in self.services.iter_mut().zip(&prev.services) {
            if let (Some(new), Some(old)) = (new, old) {
                new.scheduler.carry_cursor(&old.scheduler);
            }
        }
    }

    /// Restart every service's `rr`/`wrr` rotation ([`Scheduler::restart_rotation`]).
    #[cfg(feature = "fuzzing")]
    pub fn restart_rotations(&self) {
        for s in self.services.iter().flatten() {
            s.scheduler.restart_rotation();
        }
    }

    /// Return the service with stable id `id`.
    #[inline]
    pub fn service(&self, id: ServiceIdx) -> Option<&Service> {
        self.services.get(id.index()).and_then(Option::as_ref)
    }

    /// Return the backend with stable id `id`.
    #[inline]
    pub fn backend(&self, id: BackendIdx) -> Option<&Backend> {
        self.backends.get(id.index()).and_then(Option::as_ref)
    }

    /// Return whether some backend or service uses the `drop` session policy (so the forward
    /// path of established sessions needs to look at their backend at all).
    #[inline]
    pub fn drops_sessions(&self) -> bool {
        self.drops_sessions
    }

    /// Return whether some service has the SYN proxy on.
    #[inline]
    pub fn proxies_syn(&self) -> bool {
        self.proxies_syn
    }

    /// Return whether some service clamps the TCP MSS (so a SYN needs to look at its service).
    #[inline]
    pub fn clamps_mss(&self) -> bool {
        self.clamps_mss
    }

    /// Return whether `addr:port` is a NAT real server (its replies come through us).
    #[inline]
    pub fn is_nat_backend(&self, addr: IpAddr, port: u16, proto: L4Proto) -> bool {
        !self.nat_backends.is_empty() && self.nat_backends.contains(&(addr, port, proto))
    }

    /// An empty snapshot (no services, no ports): everything is dropped as not ours.
    pub fn empty() -> Snapshot {
        SnapshotBuilder::new(0).build()
    }

    /// Return the service for a packet to `dst:dport` (exact port first, then a port-0
    /// persistent service on that address).
    #[inline]
    pub fn service_for(&self, dst: IpAddr, dport: u16, proto: L4Proto) -> Option<ServiceIdx> {
        if self.vips.is_empty() {
            return None;
        }
        self.vips
            .get(&VipKey::new(dst, dport, proto))
            .or_else(|| self.vips.get(&VipKey::new(dst, 0, proto)))
            .copied()
    }

    /// Return whether `a` is a virtual address of some service.
    #[inline]
    pub fn is_vip(&self, a: IpAddr) -> bool {
        self.vip_addrs.contains(&a)
    }

    /// Return whether `a` is one of the box's own addresses (traffic for the exception path).
    #[inline]
    pub fn is_own(&self, a: IpAddr) -> bool {
        self.own.contains(&a)
    }

    /// Return whether `a` is for the box itself: one of its own addresses, or a link-local
    /// multicast group (224.0.0.0/24, ff02::/16) where VRRP, OSPF, IGMP/MLD and their kind
    /// speak. Such traffic goes to the exception path, whatever its IP protocol.
    #[inline]
    pub fn is_for_box(&self, a: IpAddr) -> bool {
        is_link_local_multicast(a) || self.own.contains(&a)
    }

    /// Return whether this gateway owns `a` (director HA): true for every address unless HA
    /// follows it and it is not on the exception path now. A VIP or local address that is not
    /// owned gets no ARP/ND answers and no announcements; its traffic is still forwarded.
    #[inline]
    pub fn is_owned(&self, a: IpAddr) -> bool {
        !self.any_not_owned || !self.not_owned.contains(&a)
    }

    /// Return whether some address is not owned (so a packet's destination is worth checking).
    #[inline]
    pub fn any_not_owned(&self) -> bool {
        self.any_not_owned
    }

    /// Return the addresses this gateway does not own, in no particular order.
    pub fn not_owned(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.not_owned.iter().copied()
    }

    /// Return whether `a` is a FullNAT local address.
    #[inline]
    pub fn is_laddr(&self, a: IpAddr) -> bool {
        self.laddrs.contains(&a)
    }

    /// Return the known MAC of a neighbour.
    #[inline]
    pub fn neighbour(&self, a: IpAddr) -> Option<Mac> {
        self.neighbours.get(&a).copied()
    }

    /// Return the longest-prefix route to `dst`.
    pub fn route(&self, dst: IpAddr) -> Option<&Route> {
        // Routes are sorted longest prefix first; gateways have a handful of routes, so a scan
        // is as fast as a trie here and runs only when a flow starts.
        self.routes
            .iter()
            .find(|r| prefix_contains(r.prefix, r.len, dst))
    }

    /// Return the egress port and next-hop MAC for `dst`.
    pub fn next_hop(&self, dst: IpAddr) -> Result<(PortIdx, Mac), NextHopError> {
        let route = self.route(dst).ok_or(NextHopError::NoRoute)?;
        let hop = route.via.unwrap_or(dst);
        self.neighbour(hop)
            .map(|mac| (route.port, mac))
            .ok_or(NextHopError::Unresolved {
                neighbour: hop,
                port: route.port,
            })
    }

    /// [`Self::next_hop`] of backend `bid`'s address, found when the snapshot was built; a
    /// backend without one (unrouted, unresolved) is looked up again for the reason.
    #[inline]
    pub fn backend_next_hop(&self, bid: BackendIdx) -> Result<(PortIdx, Mac), NextHopError> {
        if let Some(Some(hop)) = self.backend_hops.get(bid.index()) {
            return Ok(*hop);
        }
        let addr = self.backend(bid).ok_or(NextHopError::NoRoute)?.addr;
        self.next_hop(addr)
    }

    /// Return the routes, longest prefix first.
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }
}

/// Return whether `a` is a link-local multicast group: 224.0.0.0/24 (RFC 5771's Local Network
/// Control Block, never forwarded) or ff02::/16 (link-scope). Every routing and HA protocol
/// the box may speak uses one (VRRP 224.0.0.18 / ff02::12, OSPF 224.0.0.5-6 / ff02::5-6,
/// IGMP 224.0.0.1 / .22, MLD ff02::1 / ::16, RIP 224.0.0.9).
#[inline]
pub fn is_link_local_multicast(a: IpAddr) -> bool {
    match a {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            o[0] == 224 && o[1] == 0 && o[2] == 0
        }
        IpAddr::V6(v6) => v6.segments()[0] == 0xff02,
    }
}

/// Return whether `addr` lies in `prefix/len` (families must match).
pub fn prefix_contains(prefix: IpAddr, len: u8, addr: IpAddr) -> bool {
    match (prefix, addr) {
        (IpAddr::V4(p), IpAddr::V4(a)) => {
            let len = u32::from(len.min(32));
            let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
            p.to_bits() & mask == a.to_bits() & mask
        }
        (IpAddr::V6(p), IpAddr::V6(a)) => {
            let len = u32::from(len.min(128));
            let mask = u128::MAX.checked_shl(128 - len).unwrap_or(0);
            p.to_bits() & mask == a.to_bits() & mask
        }
        _ => false,
    }
}

/// How a service is described to the builder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceSpec {
    /// Stable id (control allocates them; `None`: the builder picks a free one).
    pub id: Option<ServiceIdx>,
    /// Virtual address.
    pub vip: IpAddr,
    /// Virtual port.
    pub port: u16,
    /// Protocol.
    pub proto: L4Proto,
    /// Scheduler.
    pub scheduler: SchedulerKind,
    /// Scheduler flags.
    pub flags: SchedFlags,
    /// Persistence.
    pub persistence: Option<Persistence>,
    /// FullNAT local addresses.
    pub laddrs: Vec<IpAddr>,
    /// TOA.
    pub toa: ToaMode,
    /// PROXY protocol header (TCP with NAT/FullNAT backends; `control` refuses it elsewhere,
    /// and a DR/TUN or UDP session never gets it).
    pub proxy_protocol: ProxyProtocol,
    /// TCP MSS clamp (0 = off; TCP services only, `control` refuses it elsewhere).
    pub mss_clamp: u16,
    /// SYN proxy (TCP with NAT/FullNAT backends only; `control` refuses it elsewhere, and the
    /// builder keeps it off without cookie keys or on a UDP service).
    pub syn_proxy: bool,
    /// `syn_proxy = "auto"` (with `syn_proxy` set too): the proxy engages by each worker's
    /// measures ([`crate::synauto`]).
    pub syn_proxy_auto: bool,
    /// Real servers.
    pub backends: Vec<BackendSpec>,
    /// Sorry server: takes new flows when no real server can (forwarded with its own method).
    pub sorry: Option<BackendSpec>,
    /// Drop the sessions of backends removed from the service (`expire_nodest_conn`).
    pub expire_nodest: bool,
    /// Schedule a TCP packet other than a SYN that finds no session (IPVS's `sloppy_tcp`) when
    /// the scheduler is consistent and every real server forwards by DR or TUN; strict (only a
    /// SYN starts a flow) otherwise. On by default: it only takes effect where the choice is
    /// the same on every gateway ([`Service::sloppy_tcp`]).
    pub sloppy_tcp: bool,
    /// Admission control (see [`crate::admission`]).
    pub limits: ServiceLimits,
}

/// How a real server is described to the builder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BackendSpec {
    /// Stable id (control allocates them; `None`: the builder picks a free one).
    pub id: Option<BackendIdx>,
    /// Address.
    pub addr: IpAddr,
    /// Port.
    pub port: u16,
    /// Forwarding method.
    pub method: FwdMethod,
    /// Weight.
    pub weight: u32,
    /// Upper connection threshold (0: none).
    pub u_threshold: u32,
    /// Lower connection threshold (0: none).
    pub l_threshold: u32,
    /// Healthy (schedulable).
    pub available: bool,
    /// Drop its established sessions and ignore templates pointing at it (down under the
    /// `drop` session policy).
    pub drop_sessions: bool,
}

impl BackendSpec {
    /// A healthy backend with weight 1 and no thresholds.
    pub fn new(addr: IpAddr, port: u16, method: FwdMethod) -> Self {
        BackendSpec {
            id: None,
            addr,
            port,
            method,
            weight: 1,
            u_threshold: 0,
            l_threshold: 0,
            available: true,
            drop_sessions: false,
        }
    }

    /// The same with another weight.
    pub fn weight(mut self, weight: u32) -> Self {
        self.weight = weight;
        self
    }
}

impl ServiceSpec {
    /// A service with the default scheduler (wlc), no persistence, no backends.
    pub fn new(vip: IpAddr, port: u16, proto: L4Proto) -> Self {
        ServiceSpec {
            id: None,
            vip,
            port,
            proto,
            scheduler: SchedulerKind::Wlc,
            flags: SchedFlags::NONE,
            persistence: None,
            laddrs: Vec::new(),
            toa: ToaMode::default(),
            proxy_protocol: ProxyProtocol::Off,
            mss_clamp: 0,
            syn_proxy: false,
            syn_proxy_auto: false,
            backends: Vec::new(),
            sorry: None,
            expire_nodest: false,
            sloppy_tcp: true,
            limits: ServiceLimits::default(),
        }
    }
}

/// Builds a [`Snapshot`]; control's one way to make one.
#[derive(Debug)]
pub struct SnapshotBuilder {
    generation: u64,
    timeouts: Option<Timeouts>,
    services: Vec<ServiceSpec>,
    ports: Vec<PortInfo>,
    routes: Vec<Route>,
    neighbours: FastMap<IpAddr, Mac>,
    not_owned: FastSet<IpAddr>,
    standby_laddrs: FastSet<IpAddr>,
    clients: ClientLists,
    icmp_errors: Option<Rate>,
    syn_cookies: Option<crate::forward::syncookie::CookieKeys>,
    syn_auto: crate::synauto::AutoLevels,
}

impl SnapshotBuilder {
    /// Start a snapshot of generation `generation`.
    pub fn new(generation: u64) -> Self {
        SnapshotBuilder {
            generation,
            timeouts: None,
            services: Vec::new(),
            ports: Vec::new(),
            routes: Vec::new(),
            neighbours: FastMap::default(),
            not_owned: FastSet::default(),
            standby_laddrs: FastSet::default(),
            clients: ClientLists::default(),
            icmp_errors: None,
            syn_cookies: None,
            syn_auto: crate::synauto::AutoLevels::default(),
        }
    }

    /// Add a port (its index is the number of ports added before it). Its addresses' connected
    /// networks are not implied: add them with [`SnapshotBuilder::route`].
    pub fn port(&mut self, info: PortInfo) -> PortIdx {
        self.ports.push(info);
        PortIdx::try_from(self.ports.len() - 1).expect("at most 256 ports")
    }

    /// Add a route.
    pub fn route(&mut self, route: Route) -> &mut Self {
        self.routes.push(route);
        self
    }

    /// Record a resolved neighbour.
    pub fn neighbour(&mut self, addr: IpAddr, mac: Mac) -> &mut Self {
        self.neighbours.insert(addr, mac);
        self
    }

    /// Add a service.
    pub fn service(&mut self, spec: ServiceSpec) -> &mut Self {
        self.services.push(spec);
        self
    }

    /// Mark `addr` (a VIP or local address director HA follows) as not owned by this gateway
    /// now (see [`Snapshot::is_owned`]).
    pub fn not_owned(&mut self, addr: IpAddr) -> &mut Self {
        self.not_owned.insert(addr);
        self
    }

    /// Add a FullNAT local address that no service allocates from: a standby (another ECMP
    /// gateway's, which this one takes over with director HA when it dies). Replies to it, and
    /// sessions synced through it, are this gateway's ([`Snapshot::is_laddr`]); new flows never
    /// get it.
    pub fn standby_laddr(&mut self, addr: IpAddr) -> &mut Self {
        self.standby_laddrs.insert(addr);
        self
    }

    /// Set the gateway's client lists (checked for every new flow, before the service's).
    pub fn clients(&mut self, lists: ClientLists) -> &mut Self {
        self.clients = lists;
        self
    }

    /// Set the SYN cookie keys (`[syn_proxy]`; `None`: every service's SYN proxy stays off).
    pub fn syn_cookies(
        &mut self,
        keys: Option<crate::forward::syncookie::CookieKeys>,
    ) -> &mut Self {
        self.syn_cookies = keys;
        self
    }

    /// Set when `syn_proxy = "auto"` services engage the proxy.
    pub fn syn_auto(&mut self, levels: crate::synauto::AutoLevels) -> &mut Self {
        self.syn_auto = levels;
        self
    }

    /// Limit the ICMP errors the gateway sends itself (`None`: no limit).
    pub fn icmp_errors(&mut self, rate: Option<Rate>) -> &mut Self {
        self.icmp_errors = rate;
        self
    }

    /// Set the session timeouts workers apply when they take this snapshot.
    pub fn timeouts(&mut self, t: Timeouts) -> &mut Self {
        self.timeouts = Some(t);
        self
    }

    /// Build the snapshot: scheduler tables, lookup maps, sorted routes.
    ///
    /// # Panics
    /// With more than 65535 services or backends (control validates far below that).
    pub fn build(self) -> Snapshot {
        let mut sids = IdAlloc::new(
            self.services
                .iter()
                .filter_map(|s| s.id.map(ServiceIdx::get)),
        );
        let mut bids = IdAlloc::new(
            self.services
                .iter()
                .flat_map(|s| s.backends.iter().chain(s.sorry.iter()))
                .filter_map(|b| b.id.map(BackendIdx::get)),
        );
        let mut services: Vec<Option<Service>> = Vec::new();
        let mut backends: Vec<Option<Backend>> = Vec::new();
        let mut vips = FastMap::default();
        let mut vip_addrs = FastSet::default();
        let mut laddrs = self.standby_laddrs;
        let mut nat_backends = FastSet::default();
        for spec in self.services {
            let sidx = spec.id.unwrap_or_else(|| ServiceIdx::new(sids.next()));
            let mut add_backend = |b: &BackendSpec, weight: u32| {
                let idx = b.id.unwrap_or_else(|| BackendIdx::new(bids.next()));
                let slot = idx.index();
                if backends.len() <= slot {
                    backends.resize(slot + 1, None);
                }
                backends[slot] = Some(Backend {
                    addr: b.addr,
                    port: b.port,
                    method: b.method,
                    service: sidx,
                    weight,
                    available: b.available,
                    drop_sessions: b.drop_sessions,
                });
                if b.method == FwdMethod::Nat {
                    nat_backends.insert((b.addr, b.port, spec.proto));
                }
                idx
            };
            let mut idxs = Vec::with_capacity(spec.backends.len());
            let mut sched_in = Vec::with_capacity(spec.backends.len());
            for b in &spec.backends {
                let idx = add_backend(b, b.weight);
                idxs.push(idx);
                sched_in.push(SchedBackend {
                    id: idx,
                    identity: hash::backend_identity(b.addr, b.port),
                    weight: b.weight,
                    u_threshold: b.u_threshold,
                    l_threshold: b.l_threshold,
                    available: b.available,
                });
            }
            let sorry = spec.sorry.as_ref().map(|b| add_backend(b, b.weight.max(1)));
            vips.insert(VipKey::new(spec.vip, spec.port, spec.proto), sidx);
            vip_addrs.insert(spec.vip);
            laddrs.extend(spec.laddrs.iter().copied());
            let has_nat = spec.backends.iter().any(|b| b.method == FwdMethod::Nat);
            // NAT and FullNAT replies must come back through the gateway that owns the flow:
            // a mid-flow packet elsewhere has nothing to start.
            let sloppy_tcp = spec.sloppy_tcp
                && spec.scheduler.is_consistent()
                && spec
                    .backends
                    .iter()
                    .chain(spec.sorry.iter())
                    .all(|b| matches!(b.method, FwdMethod::Dr | FwdMethod::Tun));
            let syn_proxy_ok = (spec.syn_proxy || spec.syn_proxy_auto)
                && spec.proto == L4Proto::Tcp
                && self.syn_cookies.is_some()
                && spec
                    .backends
                    .iter()
                    .chain(spec.sorry.iter())
                    .all(|b| b.method.sees_replies());
            let needs_loads =
                spec.scheduler.uses_loads() || spec.backends.iter().any(|b| b.u_threshold > 0);
            let slot = sidx.index();
            if services.len() <= slot {
                services.resize_with(slot + 1, || None);
            }
            services[slot] = Some(Service {
                vip: spec.vip,
                port: spec.port,
                proto: spec.proto,
                scheduler: Scheduler::build(spec.scheduler, spec.flags, &sched_in),
                backends: idxs,
                persistence: spec.persistence,
                laddrs: spec.laddrs,
                toa: spec.toa,
                proxy_protocol: spec.proxy_protocol,
                mss_clamp: if spec.proto == L4Proto::Tcp {
                    spec.mss_clamp
                } else {
                    0
                },
                syn_proxy: syn_proxy_ok,
                syn_proxy_auto: syn_proxy_ok && spec.syn_proxy_auto,
                sorry,
                needs_loads,
                has_nat,
                expire_nodest: spec.expire_nodest,
                sloppy_tcp,
                limits: (!spec.limits.is_empty()).then(|| Box::new(spec.limits)),
            });
        }
        let mut own = FastSet::default();
        for p in &self.ports {
            own.extend(p.addrs4.iter().map(|&a| IpAddr::V4(a)));
            own.extend(p.addrs6.iter().map(|&a| IpAddr::V6(a)));
        }
        let mut routes = self.routes;
        // Longest prefix first; IPv6 and IPv4 never match each other.
        routes.sort_by_key(|r| core::cmp::Reverse(r.len));
        let drops_sessions = services.iter().flatten().any(|s| s.expire_nodest)
            || backends.iter().flatten().any(|b| b.drop_sessions);
        let clamps_mss = services.iter().flatten().any(|s| s.mss_clamp != 0);
        let proxies_syn = services.iter().flatten().any(|s| s.syn_proxy);
        let mut snap = Snapshot {
            drops_sessions,
            clamps_mss,
            proxies_syn,
            any_not_owned: !self.not_owned.is_empty(),
            not_owned: self.not_owned,
            generation: self.generation,
            timeouts: self.timeouts,
            clients: (!self.clients.is_empty()).then(|| Box::new(self.clients)),
            icmp_errors: self.icmp_errors,
            syn_cookies: self.syn_cookies,
            syn_auto: self.syn_auto,
            services,
            backends,
            ports: self.ports,
            routes,
            neighbours: self.neighbours,
            backend_hops: Vec::new(),
            vips,
            vip_addrs,
            own,
            laddrs,
            nat_backends,
        };
        // Every new flow to a backend needs its next hop: the route scan and the neighbour
        // lookup run here, once a publication, not once a flow.
        snap.backend_hops = (snap.backends.iter())
            .map(|b| b.as_ref().and_then(|b| snap.next_hop(b.addr).ok()))
            .collect();
        snap
    }
}

/// Hands out the smallest ids not taken explicitly.
struct IdAlloc {
    taken: FastSet<u16>,
    next: u16,
}

impl IdAlloc {
    fn new(taken: impl Iterator<Item = u16>) -> Self {
        IdAlloc {
            taken: taken.collect(),
            next: 0,
        }
    }

    fn next(&mut self) -> u16 {
        while self.taken.contains(&self.next) {
            self.next += 1;
        }
        let id = self.next;
        self.taken.insert(id);
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn test_service_lookup_exact_then_port_zero() {
        let mut b = SnapshotBuilder::new(1);
        b.service(ServiceSpec::new(v4("198.18.0.10"), 80, L4Proto::Tcp));
        let mut p = ServiceSpec::new(v4("198.18.0.11"), 0, L4Proto::Tcp);
        p.persistence = Some(Persistence {
            timeout_s: 360,
            prefix_len: 32,
        });
        b.service(p);
        let s = b.build();
        assert_eq!(
            s.service_for(v4("198.18.0.10"), 80, L4Proto::Tcp),
            Some(ServiceIdx::new(0))
        );
        assert_eq!(s.service_for(v4("198.18.0.10"), 81, L4Proto::Tcp), None);
        assert_eq!(s.service_for(v4("198.18.0.10"), 80, L4Proto::Udp), None);
        assert_eq!(
            s.service_for(v4("198.18.0.11"), 443, L4Proto::Tcp),
            Some(ServiceIdx::new(1))
        );
        assert!(s.is_vip(v4("198.18.0.11")));
        assert!(!s.is_vip(v4("198.18.0.12")));
    }

    /// The packed key keeps apart what the tuple did: families with the same low address bits,
    /// protocols, ports; IPv6 services are found exactly, port 0 as the fallback.
    #[test]
    fn test_service_keys_keep_families_protocols_and_ports_apart() {
        let mut b = SnapshotBuilder::new(1);
        b.service(ServiceSpec::new(v4("198.18.0.10"), 80, L4Proto::Tcp));
        // ::c612:a carries 198.18.0.10's 32 bits.
        b.service(ServiceSpec::new(v4("::c612:a"), 80, L4Proto::Tcp));
        b.service(ServiceSpec::new(v4("2001:2::10"), 80, L4Proto::Udp));
        let mut p = ServiceSpec::new(v4("2001:2::10"), 0, L4Proto::Tcp);
        p.persistence = Some(Persistence {
            timeout_s: 360,
            prefix_len: 128,
        });
        b.service(p);
        let s = b.build();
        let at = |a: &str, port, proto| s.service_for(v4(a), port, proto).map(|i| i.index());
        assert_eq!(at("198.18.0.10", 80, L4Proto::Tcp), Some(0));
        assert_eq!(at("::c612:a", 80, L4Proto::Tcp), Some(1));
        assert_eq!(at("::c612:a", 80, L4Proto::Udp), None);
        assert_eq!(at("::ffff:198.18.0.10", 80, L4Proto::Tcp), None);
        assert_eq!(at("2001:2::10", 80, L4Proto::Udp), Some(2));
        assert_eq!(at("2001:2::10", 80, L4Proto::Tcp), Some(3));
        assert_eq!(at("2001:2::10", 53, L4Proto::Udp), None);
        assert_eq!(at("2001:2::11", 80, L4Proto::Tcp), None);
        assert_ne!(
            VipKey::new(v4("198.18.0.10"), 80, L4Proto::Tcp),
            VipKey::new(v4("::c612:a"), 80, L4Proto::Tcp)
        );
    }

    /// Each backend's next hop is found at build time from that snapshot's routes and
    /// neighbours; one without a route or a resolved neighbour says why, as `next_hop` does.
    #[test]
    fn test_backend_next_hop_is_the_snapshots_own() {
        let mut b = SnapshotBuilder::new(1);
        b.route(Route {
            prefix: v4("198.18.1.0"),
            len: 24,
            port: 1,
            via: None,
        })
        .neighbour(v4("198.18.1.5"), [2, 0, 0, 0, 1, 5]);
        let mut svc = ServiceSpec::new(v4("198.18.0.10"), 80, L4Proto::Tcp);
        svc.backends = ["198.18.1.5", "198.18.1.6", "203.0.113.9"]
            .map(|a| BackendSpec::new(v4(a), 80, FwdMethod::Dr))
            .to_vec();
        b.service(svc);
        let s = b.build();
        let hop = |i| s.backend_next_hop(BackendIdx::new(i));
        assert_eq!(hop(0), Ok((1, [2, 0, 0, 0, 1, 5])));
        assert_eq!(
            hop(1),
            Err(NextHopError::Unresolved {
                neighbour: v4("198.18.1.6"),
                port: 1
            })
        );
        assert_eq!(hop(2), Err(NextHopError::NoRoute));
        assert_eq!(hop(7), Err(NextHopError::NoRoute));
    }

    #[test]
    fn test_stable_ids_are_kept_and_free_ones_filled() {
        let mut b = SnapshotBuilder::new(1);
        let mut a = ServiceSpec::new(v4("198.18.0.10"), 80, L4Proto::Tcp);
        a.id = Some(ServiceIdx::new(3));
        let mut rs = BackendSpec::new(v4("198.18.1.1"), 80, FwdMethod::Nat);
        rs.id = Some(BackendIdx::new(0));
        a.backends = vec![rs, BackendSpec::new(v4("198.18.1.2"), 80, FwdMethod::Nat)];
        b.service(a)
            .service(ServiceSpec::new(v4("198.18.0.11"), 80, L4Proto::Tcp));
        let s = b.build();
        assert_eq!(
            s.service_for(v4("198.18.0.10"), 80, L4Proto::Tcp),
            Some(ServiceIdx::new(3))
        );
        assert_eq!(
            s.service_for(v4("198.18.0.11"), 80, L4Proto::Tcp),
            Some(ServiceIdx::new(0))
        );
        assert_eq!(
            s.service(ServiceIdx::new(3)).unwrap().backends,
            [0, 1].map(BackendIdx::new)
        );
        assert_eq!(
            s.backend(BackendIdx::new(1)).unwrap().addr,
            v4("198.18.1.2")
        );
        assert!(s.service(ServiceIdx::new(1)).is_none());
        assert!(s.is_nat_backend(v4("198.18.1.2"), 80, L4Proto::Tcp));
        assert!(!s.is_nat_backend(v4("198.18.1.2"), 81, L4Proto::Tcp));
    }

    #[test]
    fn test_longest_prefix_route_and_neighbours() {
        let mut b = SnapshotBuilder::new(1);
        b.route(Route {
            prefix: v4("0.0.0.0"),
            len: 0,
            port: 0,
            via: Some(v4("198.18.0.1")),
        })
        .route(Route {
            prefix: v4("198.18.1.0"),
            len: 24,
            port: 1,
            via: None,
        })
        .neighbour(v4("198.18.0.1"), [2, 0, 0, 0, 0, 1])
        .neighbour(v4("198.18.1.5"), [2, 0, 0, 0, 1, 5]);
        let s = b.build();
        assert_eq!(s.next_hop(v4("198.18.1.5")), Ok((1, [2, 0, 0, 0, 1, 5])));
        assert_eq!(s.next_hop(v4("203.0.113.9")), Ok((0, [2, 0, 0, 0, 0, 1])));
        assert_eq!(
            s.next_hop(v4("198.18.1.6")),
            Err(NextHopError::Unresolved {
                neighbour: v4("198.18.1.6"),
                port: 1
            })
        );
        assert_eq!(
            s.next_hop("2001:db8::1".parse().unwrap()),
            Err(NextHopError::NoRoute)
        );
    }

    #[test]
    fn test_prefix_contains() {
        assert!(prefix_contains(v4("10.0.0.0"), 8, v4("10.255.1.1")));
        assert!(!prefix_contains(v4("10.0.0.0"), 8, v4("11.0.0.1")));
        assert!(prefix_contains(v4("0.0.0.0"), 0, v4("1.2.3.4")));
        assert!(prefix_contains(
            "2001:db8::".parse().unwrap(),
            32,
            "2001:db8:1::1".parse().unwrap()
        ));
        assert!(!prefix_contains(v4("0.0.0.0"), 0, "::1".parse().unwrap()));
    }
}
