//! Turn a validated configuration, the ports' MACs and the neighbour table into the snapshot
//! workers read.
//!
//! Ids: services are numbered in file order and backends in file order within it. Live reload
//! (a later change) must keep ids stable across generations; until then a snapshot is built once
//! per boot plus once per neighbour change, with the same numbering each time.

use std::net::IpAddr;

use config::{Config, Forward, Protocol, Scheduler, Toa};
use dataplane::sched::{SchedFlag, SchedFlags, SchedulerKind};
use dataplane::session::FwdMethod;
use dataplane::snapshot::{
    BackendSpec, Mac, Persistence, PortInfo, Route, ServiceSpec, Snapshot, SnapshotBuilder, ToaMode,
};
use dataplane::types::L4Proto;

use crate::neigh::Neighbours;

/// Map the config's forwarding method to the dataplane's.
pub fn method(f: Forward) -> FwdMethod {
    match f {
        Forward::Dr => FwdMethod::Dr,
        Forward::Nat => FwdMethod::Nat,
        Forward::Tun => FwdMethod::Tun,
        Forward::FullNat => FwdMethod::FullNat,
    }
}

fn proto(p: Protocol) -> L4Proto {
    match p {
        Protocol::Tcp => L4Proto::Tcp,
        Protocol::Udp => L4Proto::Udp,
    }
}

fn scheduler(s: Scheduler) -> SchedulerKind {
    // The config validates names against the same list ipvsadm has.
    SchedulerKind::from_name(s.name()).unwrap_or(SchedulerKind::Wlc)
}

fn flags(kind: SchedulerKind, list: &[config::SchedFlag]) -> SchedFlags {
    let flags: Vec<SchedFlag> = list
        .iter()
        .filter_map(|f| SchedFlag::from_name(f.name()))
        .collect();
    SchedFlags::new(kind, &flags).unwrap_or(SchedFlags::NONE)
}

fn toa(t: Toa) -> ToaMode {
    match t {
        Toa::Off => ToaMode::Off,
        Toa::Syn => ToaMode::Syn,
        Toa::Ack => ToaMode::Ack,
    }
}

/// Every address control answers ARP/ND for on port `port`: the port's own addresses, and
/// (on any port) VIPs and FullNAT local addresses.
pub fn answers_for(cfg: &Config, port: usize, ip: IpAddr) -> bool {
    cfg.ports
        .get(port)
        .is_some_and(|p| p.addresses.iter().any(|a| a.addr == ip))
        || cfg.services.iter().any(|s| s.vip == ip)
        || cfg
            .local_address_pools
            .iter()
            .any(|p| p.addresses.contains(&ip))
}

/// Build generation `generation` of the snapshot.
pub fn build(cfg: &Config, macs: &[Mac], neighbours: &Neighbours, generation: u64) -> Snapshot {
    let mut b = SnapshotBuilder::new(generation);
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
    for (si, s) in cfg.services.iter().enumerate() {
        let kind = scheduler(s.scheduler);
        let mut spec = ServiceSpec::new(s.vip, s.port, proto(s.protocol));
        spec.id = u16::try_from(si).ok();
        spec.scheduler = kind;
        spec.flags = flags(kind, &s.sched_flags);
        spec.persistence = s.persistence_s.map(|t| Persistence {
            timeout_s: t,
            prefix_len: s.persistence_prefix_len,
        });
        spec.toa = toa(s.toa);
        if let Some(pool) = &s.local_address_pool {
            if let Some(p) = cfg.local_address_pools.iter().find(|p| &p.name == pool) {
                spec.laddrs = p.addresses.clone();
            }
        }
        spec.backends = s
            .real_servers
            .iter()
            .map(|rs| BackendSpec {
                id: None,
                addr: rs.address,
                port: rs.port,
                method: method(rs.forward),
                weight: rs.weight,
                u_threshold: rs.u_threshold,
                l_threshold: rs.l_threshold,
                available: true,
            })
            .collect();
        spec.sorry = s
            .sorry_server
            .map(|sa| BackendSpec::new(sa.ip(), sa.port(), method(s.forward)));
        b.service(spec);
    }
    b.build()
}

/// The addresses control should resolve proactively: every backend, sorry server and route
/// gateway, with the port it lives on and a source address of ours on that port.
pub fn wanted_neighbours(cfg: &Config, snap: &Snapshot) -> Vec<(IpAddr, u8, IpAddr)> {
    let mut out = Vec::new();
    let mut want = |dst: IpAddr| {
        let Some(route) = snap.route(dst) else { return };
        let hop = route.via.unwrap_or(dst);
        let Some(port) = cfg.ports.get(usize::from(route.port)) else {
            return;
        };
        let src = port
            .addresses
            .iter()
            .map(|a| a.addr)
            .find(|a| a.is_ipv4() == hop.is_ipv4());
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
        let snap = build(&cfg, &[[2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]], &n, 7);
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
        assert!(answers_for(&cfg, 1, "198.18.1.200".parse().unwrap()));
        assert!(answers_for(&cfg, 0, "198.18.0.100".parse().unwrap()));
        assert!(!answers_for(&cfg, 0, "198.18.1.1".parse().unwrap()));
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
}
