//! Applying ipvsadm operations to a `config::Config`, with the kernel's semantics and messages.
//!
//! The kernel side of ipvsadm (`ip_vs_ctl.c`) decides what a command does to the table and which
//! `errno` it fails with; ipvsadm turns the errno into text with `ipvs_strerror`. This module
//! does the same to the configuration model, with the same checks in the same order and the
//! same strings ("Service already exists", "No such service", "Service not defined",
//! "Destination already exists", "No such destination", "Scheduler or persistence engine not
//! found"), so scripts that match on them keep working.
//!
//! Semantics worth knowing, all the kernel's:
//! - `-E` and `-e` replace every attribute they carry: an edit without `-p` makes a service
//!   non-persistent, without `-s` sets `wlc`, without `-w` sets weight 1 and without `-m`/`-i`
//!   sets DR. ferrovs-only attributes (health checks, sorry server, TOA) are kept.
//! - A lower threshold above the upper one is `ERANGE` ("Numerical result out of range").
//! - `--set` values of 0 leave that timeout unchanged.
//!
//! [`apply_all`] applies a batch to a copy and then validates the result as a whole with the
//! configuration schema (by writing it as TOML and parsing it back, the single source of truth
//! for validity), so a batch either yields a valid configuration or changes nothing.

use core::fmt;
use std::net::IpAddr;

use config::{
    Config, Forward, LocalAddressPool, Protocol, RealServer, SchedFlag, Scheduler, Service, Toa,
};

use crate::proto::{Op, ServerSpec, ServiceKey, ServiceSpec};

/// `ipvs_strerror` for `ipvs_add_service` / `EEXIST`.
pub const E_SERVICE_EXISTS: &str = "Service already exists";
/// `ipvs_strerror` for edit/delete/zero/list of a missing service (`ESRCH`).
pub const E_NO_SUCH_SERVICE: &str = "No such service";
/// `ipvs_strerror` for a real-server command on a missing service (`ESRCH`).
pub const E_SERVICE_NOT_DEFINED: &str = "Service not defined";
/// `ipvs_strerror` for `ipvs_add_dest` / `EEXIST`.
pub const E_DEST_EXISTS: &str = "Destination already exists";
/// `ipvs_strerror` for edit/delete of a missing real server (`ENOENT`).
pub const E_NO_SUCH_DEST: &str = "No such destination";
/// `ipvs_strerror` for an unknown scheduler or persistence engine (`ENOENT`).
pub const E_NO_SCHEDULER: &str = "Scheduler or persistence engine not found";
/// `strerror(ERANGE)`, which the kernel returns for a lower threshold above the upper one.
pub const E_RANGE: &str = "Numerical result out of range";

/// A refused operation; the message is what ferrovsadm prints.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApplyError {
    /// One or more lines, without a final newline.
    pub message: String,
}

impl ApplyError {
    pub(crate) fn new(m: impl Into<String>) -> Self {
        Self { message: m.into() }
    }
}

impl fmt::Display for ApplyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ApplyError {}

fn find(cfg: &Config, key: &ServiceKey) -> Option<usize> {
    cfg.services.iter().position(|s| s.key() == *key)
}

/// Convert `-M` to a prefix length: IPv4 masks must be contiguous (ferrovs matches persistence
/// on prefixes; the kernel would take any mask).
fn prefix_len(vip: IpAddr, netmask: Option<u32>) -> Result<u8, ApplyError> {
    match (vip, netmask) {
        (IpAddr::V4(_), None) => Ok(32),
        (IpAddr::V6(_), None) => Ok(128),
        (IpAddr::V6(_), Some(n)) => u8::try_from(n)
            .ok()
            .filter(|&n| n <= 128)
            .ok_or_else(|| ApplyError::new(format!("IPv6 prefix length {n} is out of range"))),
        (IpAddr::V4(_), Some(m)) => {
            let ones = m.leading_ones();
            if ones + m.trailing_zeros() >= 32 {
                Ok(u8::try_from(ones).unwrap_or(32))
            } else {
                Err(ApplyError::new(format!(
                    "persistence netmask {} is not contiguous: ferrovs supports prefix masks only",
                    std::net::Ipv4Addr::from(m)
                )))
            }
        }
    }
}

/// Check the scheduler, flags, engine and pool of `-A`/`-E` and write them into `svc`.
fn set_service_attrs(
    cfg: &Config,
    svc: &mut Service,
    spec: &ServiceSpec,
) -> Result<(), ApplyError> {
    let scheduler: Scheduler = spec
        .scheduler
        .parse()
        .map_err(|_| ApplyError::new(E_NO_SCHEDULER))?;
    if spec.pe.is_some() {
        // ferrovs has no persistence engine (the kernel's only one is `sip`).
        return Err(ApplyError::new(E_NO_SCHEDULER));
    }
    let mut flags = Vec::new();
    for f in &spec.sched_flags {
        let flag: SchedFlag = f.parse().map_err(|_| {
            ApplyError::new(format!("scheduler flag `{f}' is not supported by ferrovs"))
        })?;
        if flag.scheduler() != scheduler {
            return Err(ApplyError::new(format!(
                "incompatible scheduler flag `{f}'"
            )));
        }
        if !flags.contains(&flag) {
            flags.push(flag);
        }
    }
    let prefix = if spec.persistence_s.is_some() {
        prefix_len(spec.key.vip, spec.netmask)?
    } else if spec.key.vip.is_ipv4() {
        32
    } else {
        128
    };
    if let Some(pool) = &spec.laddr_pool {
        if !cfg.local_address_pools.iter().any(|p| &p.name == pool) {
            let names: Vec<&str> = cfg
                .local_address_pools
                .iter()
                .map(|p| p.name.as_str())
                .collect();
            let known = if names.is_empty() {
                "none is configured".to_owned()
            } else {
                format!("pools are: {}", names.join(", "))
            };
            return Err(ApplyError::new(format!(
                "No such local address pool `{pool}' ({known})"
            )));
        }
        svc.local_address_pool = Some(pool.clone());
        svc.forward = Forward::FullNat;
        if svc.protocol == Protocol::Tcp && svc.toa == Toa::Off {
            // The schema's default for a TCP FullNAT service.
            svc.toa = Toa::Ack;
        }
    }
    svc.scheduler = scheduler;
    svc.sched_flags = flags;
    svc.persistence_s = spec.persistence_s;
    svc.persistence_prefix_len = prefix;
    Ok(())
}

fn check_thresholds(server: &ServerSpec) -> Result<(), ApplyError> {
    if server.l_threshold > server.u_threshold {
        return Err(ApplyError::new(E_RANGE));
    }
    Ok(())
}

/// A FullNAT real server needs a local address pool on its service. Without one, the only pool
/// there is serves (as DPVS users expect of `-b`); with none or several, the error says which
/// exist.
fn check_fullnat(
    pools: &[LocalAddressPool],
    svc: &mut Service,
    server: &ServerSpec,
) -> Result<(), ApplyError> {
    if server.forward != Forward::FullNat || svc.local_address_pool.is_some() {
        return Ok(());
    }
    if let [only] = pools {
        svc.local_address_pool = Some(only.name.clone());
        if svc.protocol == Protocol::Tcp && svc.toa == Toa::Off {
            // The schema's default for a TCP FullNAT service, as -E --laddr-pool sets it.
            svc.toa = Toa::Ack;
        }
        return Ok(());
    }
    let names: Vec<&str> = pools.iter().map(|p| p.name.as_str()).collect();
    let known = if names.is_empty() {
        "none is configured: add a [[local_address_pool]] to the configuration".to_owned()
    } else {
        format!("pools are: {}", names.join(", "))
    };
    Err(ApplyError::new(format!(
        "FullNAT needs a local address pool on the service: {} {} --laddr-pool NAME ({known})",
        if svc.protocol == Protocol::Tcp {
            "-E -t"
        } else {
            "-E -u"
        },
        crate::format::addr_port_numeric(svc.vip, svc.port)
    )))
}

/// Apply one operation to `cfg` in place. The result is not validated as a whole; use
/// [`apply_all`] for that.
///
/// # Errors
///
/// The kernel's message for the operation, and `cfg` unchanged.
pub fn apply(cfg: &mut Config, op: &Op) -> Result<(), ApplyError> {
    match op {
        Op::AddService(spec) => {
            if find(cfg, &spec.key).is_some() {
                return Err(ApplyError::new(E_SERVICE_EXISTS));
            }
            let mut svc = Service {
                vip: spec.key.vip,
                port: spec.key.port,
                protocol: spec.key.protocol,
                scheduler: Scheduler::Wlc,
                sched_flags: Vec::new(),
                persistence_s: None,
                persistence_prefix_len: 32,
                forward: Forward::Dr,
                local_address_pool: None,
                toa: Toa::Off,
                proxy_protocol: config::ProxyProtocol::Off,
                mss_clamp: None,
                syn_proxy: config::SynProxyMode::Off,
                sorry_server: None,
                health_check: config::HealthCheck::none(),
                real_servers: Vec::new(),
                sloppy_tcp: None,
                admission: config::ServiceAdmission::default(),
            };
            set_service_attrs(cfg, &mut svc, spec)?;
            cfg.services.push(svc);
        }
        Op::EditService(spec) => {
            let i = find(cfg, &spec.key).ok_or_else(|| ApplyError::new(E_NO_SUCH_SERVICE))?;
            let mut svc = cfg.services[i].clone();
            set_service_attrs(cfg, &mut svc, spec)?;
            cfg.services[i] = svc;
        }
        Op::DeleteService(key) => {
            let i = find(cfg, key).ok_or_else(|| ApplyError::new(E_NO_SUCH_SERVICE))?;
            cfg.services.remove(i);
        }
        Op::Clear => cfg.services.clear(),
        Op::AddServer { service, server } => {
            let i = find(cfg, service).ok_or_else(|| ApplyError::new(E_SERVICE_NOT_DEFINED))?;
            check_thresholds(server)?;
            let svc = &mut cfg.services[i];
            if svc
                .real_servers
                .iter()
                .any(|r| r.address == server.address && r.port == server.port)
            {
                return Err(ApplyError::new(E_DEST_EXISTS));
            }
            check_fullnat(&cfg.local_address_pools, svc, server)?;
            svc.real_servers.push(RealServer {
                address: server.address,
                port: server.port,
                weight: server.weight,
                u_threshold: server.u_threshold,
                l_threshold: server.l_threshold,
                forward: server.forward,
                health_check: None,
            });
        }
        Op::EditServer { service, server } => {
            let i = find(cfg, service).ok_or_else(|| ApplyError::new(E_SERVICE_NOT_DEFINED))?;
            check_thresholds(server)?;
            let svc = &mut cfg.services[i];
            let j = svc
                .real_servers
                .iter()
                .position(|r| r.address == server.address && r.port == server.port)
                .ok_or_else(|| ApplyError::new(E_NO_SUCH_DEST))?;
            check_fullnat(&cfg.local_address_pools, svc, server)?;
            let rs = &mut svc.real_servers[j];
            rs.weight = server.weight;
            rs.u_threshold = server.u_threshold;
            rs.l_threshold = server.l_threshold;
            rs.forward = server.forward;
        }
        Op::DeleteServer {
            service,
            address,
            port,
        } => {
            let i = find(cfg, service).ok_or_else(|| ApplyError::new(E_SERVICE_NOT_DEFINED))?;
            let svc = &mut cfg.services[i];
            let j = svc
                .real_servers
                .iter()
                .position(|r| r.address == *address && r.port == *port)
                .ok_or_else(|| ApplyError::new(E_NO_SUCH_DEST))?;
            svc.real_servers.remove(j);
        }
        Op::AddLaddr {
            service,
            address,
            port,
        } => crate::laddr::add(cfg, service, *address, port)?,
        Op::DelLaddr {
            service,
            address,
            port,
        } => crate::laddr::del(cfg, service, *address, port)?,
        Op::SetTimeouts {
            tcp_s,
            tcpfin_s,
            udp_s,
        } => {
            let t = &mut cfg.timeouts;
            for (slot, v) in [
                (&mut t.tcp_s, *tcp_s),
                (&mut t.tcpfin_s, *tcpfin_s),
                (&mut t.udp_s, *udp_s),
            ] {
                if v != 0 {
                    *slot = v;
                }
            }
        }
    }
    Ok(())
}

/// Validate `cfg` as the configuration file would be: write it as TOML and parse it back.
///
/// # Errors
///
/// Every schema error, one per line as `key.path: message`.
pub fn validate(cfg: &Config) -> Result<Config, ApplyError> {
    config::parse(&cfg.to_toml(), "running configuration").map_err(|errs| {
        let lines: Vec<String> = errs
            .0
            .iter()
            .map(|e| {
                if e.key_path.is_empty() {
                    e.message.clone()
                } else {
                    format!("{}: {}", e.key_path, e.message)
                }
            })
            .collect();
        ApplyError::new(lines.join("\n"))
    })
}

/// Apply `ops` in order to a copy of `base` and validate the result: all or nothing.
///
/// # Errors
///
/// The first operation's error, or the validation errors of the result.
pub fn apply_all(base: &Config, ops: &[Op]) -> Result<Config, ApplyError> {
    let mut cfg = base.clone();
    for op in ops {
        apply(&mut cfg, op)?;
    }
    validate(&cfg)
}
