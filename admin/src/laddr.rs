//! DPVS's local-address commands (`--add-laddr`, `--del-laddr`, `--get-laddr`) on ferrovs's
//! local address pools.
//!
//! DPVS keeps a list of local addresses per service; ferrovs keeps named pools
//! (`[[local_address_pool]]`, each on one port) that services name. The commands map so:
//! - `--add-laddr -z ADDR -t VIP:PORT -F PORT` adds ADDR to the service's pool; a service
//!   without a pool gets a new one on PORT, named after the service (`tcp-10-0-0-1-80`), and
//!   becomes a FullNAT service (as `-E --laddr-pool` makes it), so `-a ... -b` finds the pool.
//!   A pool several services name is shared: the address serves all of them (DPVS's lists are
//!   per service). `-F` must be the pool's port; ADDR must be on one of its networks.
//! - `--del-laddr` removes ADDR from the service's pool. The last address of a pool goes only
//!   when no real server (or sorry server) of the services naming it is FullNAT; the pool goes
//!   with it, and those services stop being FullNAT (servers added later default to DR).
//! - `--get-laddr [-t VIP:PORT]` lists each service with its pool's addresses and the
//!   service's connections from each, in DPVS's format ([`format`]).
//!
//! The messages are DPVS's `ipvs_strerror` texts where DPVS has one ("Service not defined",
//! "Local address already exists", "No such Local address").

use std::fmt::Write as _;
use std::net::IpAddr;

use config::{Config, Forward, LocalAddressPool, Protocol, Service, Toa};

use crate::apply::{ApplyError, E_SERVICE_NOT_DEFINED};
use crate::proto::{ConnEntry, LaddrEntry, LaddrService, ServiceKey};

/// DPVS's `ipvs_strerror` for `dpvs_add_laddr` / `EEXIST`.
pub const E_LADDR_EXISTS: &str = "Local address already exists";
/// DPVS's `ipvs_strerror` for `dpvs_del_laddr` / `ENOENT`.
pub const E_NO_SUCH_LADDR: &str = "No such Local address";

fn find(cfg: &Config, key: &ServiceKey) -> Result<usize, ApplyError> {
    cfg.services
        .iter()
        .position(|s| s.key() == *key)
        .ok_or_else(|| ApplyError::new(E_SERVICE_NOT_DEFINED))
}

/// The name of the pool `--add-laddr` makes for `svc`: a letter first, then letters, digits
/// and `-`, as pool names must be (`tcp-10-0-0-1-80`, `udp-2001-db8--1-53`).
fn pool_name(svc: &Service) -> String {
    let addr: String = svc
        .vip
        .to_string()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    format!("{}-{addr}-{}", svc.protocol.as_str(), svc.port)
}

/// Check `-F`: a port of the configuration, with ADDR on one of its networks.
fn check_port(cfg: &Config, port: &str, address: IpAddr) -> Result<(), ApplyError> {
    let Some(p) = cfg.ports.iter().find(|p| p.name == port) else {
        let names: Vec<&str> = cfg.ports.iter().map(|p| p.name.as_str()).collect();
        return Err(ApplyError::new(format!(
            "No such port `{port}' (-F names a ferrovs port; ports are: {})",
            names.join(", ")
        )));
    };
    if !p.addresses.iter().any(|n| n.contains(address)) {
        let nets: Vec<String> = p.addresses.iter().map(ToString::to_string).collect();
        let nets = if nets.is_empty() {
            "it has no addresses".to_owned()
        } else {
            nets.join(", ")
        };
        return Err(ApplyError::new(format!(
            "local address {address} is not on port {port}'s networks ({nets})"
        )));
    }
    Ok(())
}

/// Whether `svc` forwards anything by FullNAT (and so needs a pool).
fn is_fullnat(svc: &Service) -> bool {
    svc.forward == Forward::FullNat
        || svc
            .real_servers
            .iter()
            .any(|r| r.forward == Forward::FullNat)
}

/// Whether some real server (or the sorry server) of `svc` is forwarded by FullNAT now: the
/// service's own `forward` is only the default for servers added later.
fn forwards_fullnat(svc: &Service) -> bool {
    svc.real_servers
        .iter()
        .any(|r| r.forward == Forward::FullNat)
        || (svc.forward == Forward::FullNat && svc.sorry_server.is_some())
}

/// `--add-laddr`: see the module documentation.
///
/// # Errors
///
/// "Service not defined", an unknown port, an address off the port's networks, a pool on
/// another port, "Local address already exists".
pub fn add(
    cfg: &mut Config,
    key: &ServiceKey,
    address: IpAddr,
    port: &str,
) -> Result<(), ApplyError> {
    let i = find(cfg, key)?;
    check_port(cfg, port, address)?;
    let svc = &cfg.services[i];
    match svc.local_address_pool.clone() {
        Some(name) => {
            let pool = cfg
                .local_address_pools
                .iter_mut()
                .find(|p| p.name == name)
                .ok_or_else(|| ApplyError::new(format!("No such local address pool `{name}'")))?;
            if pool.addresses.contains(&address) {
                return Err(ApplyError::new(E_LADDR_EXISTS));
            }
            if pool.port != port {
                return Err(ApplyError::new(format!(
                    "the service's local address pool `{name}' lives on port {}, not {port} \
                     (a pool lives on one port)",
                    pool.port
                )));
            }
            pool.addresses.push(address);
        }
        None => {
            let mut name = pool_name(svc);
            let mut n = 2;
            while cfg.local_address_pools.iter().any(|p| p.name == name) {
                name = format!("{}-{n}", pool_name(svc));
                n += 1;
            }
            cfg.local_address_pools.push(LocalAddressPool {
                name: name.clone(),
                addresses: vec![address],
                port: port.to_owned(),
            });
            let svc = &mut cfg.services[i];
            svc.local_address_pool = Some(name);
            if !is_fullnat(svc) {
                // A pool is for FullNAT: the service's real servers default to it from now on,
                // as `-E --laddr-pool` makes them.
                svc.forward = Forward::FullNat;
            }
            if svc.protocol == Protocol::Tcp && svc.toa == Toa::Off {
                // The schema's default for a TCP FullNAT service.
                svc.toa = Toa::Ack;
            }
        }
    }
    Ok(())
}

/// `--del-laddr`: see the module documentation.
///
/// # Errors
///
/// "Service not defined", "No such Local address", `-F` not the pool's port, the last address
/// of a pool a FullNAT service needs.
pub fn del(
    cfg: &mut Config,
    key: &ServiceKey,
    address: IpAddr,
    port: &str,
) -> Result<(), ApplyError> {
    let i = find(cfg, key)?;
    let Some(name) = cfg.services[i].local_address_pool.clone() else {
        return Err(ApplyError::new(E_NO_SUCH_LADDR));
    };
    let Some(p) = cfg.local_address_pools.iter().position(|p| p.name == name) else {
        return Err(ApplyError::new(E_NO_SUCH_LADDR));
    };
    let pool = &cfg.local_address_pools[p];
    let Some(j) = pool.addresses.iter().position(|a| *a == address) else {
        return Err(ApplyError::new(E_NO_SUCH_LADDR));
    };
    if pool.port != port {
        return Err(ApplyError::new(format!(
            "local address {address} lives on port {}, not {port}",
            pool.port
        )));
    }
    if pool.addresses.len() > 1 {
        cfg.local_address_pools[p].addresses.remove(j);
        return Ok(());
    }
    let users: Vec<String> = cfg
        .services
        .iter()
        .filter(|s| s.local_address_pool.as_deref() == Some(name.as_str()) && forwards_fullnat(s))
        .map(|s| {
            format!(
                "{} {}",
                if s.protocol == Protocol::Tcp {
                    "TCP"
                } else {
                    "UDP"
                },
                crate::format::addr_port_numeric(s.vip, s.port)
            )
        })
        .collect();
    if !users.is_empty() {
        return Err(ApplyError::new(format!(
            "{address} is the last local address of pool `{name}', which FullNAT needs for {}: \
             add another first (--add-laddr), or delete the FullNAT real servers",
            users.join(", ")
        )));
    }
    cfg.local_address_pools.remove(p);
    for s in &mut cfg.services {
        if s.local_address_pool.as_deref() == Some(name.as_str()) {
            // No longer FullNAT: servers added later default to ipvsadm's DR again, and TOA
            // (FullNAT's) is off.
            s.local_address_pool = None;
            s.toa = Toa::Off;
            if s.forward == Forward::FullNat {
                s.forward = Forward::Dr;
            }
        }
    }
    Ok(())
}

/// The `--get-laddr` answer for `key` (or every service): each service's pool addresses, with
/// its connections from each counted in `conns`.
///
/// # Errors
///
/// "Service not defined" when `key` names no service.
pub fn listing(
    cfg: &Config,
    key: Option<&ServiceKey>,
    conns: &[ConnEntry],
) -> Result<Vec<LaddrService>, String> {
    let services: Vec<&Service> = match key {
        Some(k) => vec![cfg
            .services
            .iter()
            .find(|s| s.key() == *k)
            .ok_or_else(|| E_SERVICE_NOT_DEFINED.to_owned())?],
        None => cfg.services.iter().collect(),
    };
    Ok(services
        .into_iter()
        .map(|s| {
            let key = s.key();
            let pool = s
                .local_address_pool
                .as_ref()
                .and_then(|n| cfg.local_address_pools.iter().find(|p| &p.name == n));
            let laddrs = pool
                .map(|p| {
                    p.addresses
                        .iter()
                        .map(|&address| LaddrEntry {
                            address,
                            conns: conns
                                .iter()
                                .filter(|c| {
                                    c.protocol == key.protocol
                                        && c.virtual_addr.ip() == s.vip
                                        && c.virtual_addr.port() == s.port
                                        && c.local.is_some_and(|l| l.ip() == address)
                                })
                                .count() as u64,
                        })
                        .collect()
                })
                .unwrap_or_default();
            LaddrService {
                key,
                pool: s.local_address_pool.clone(),
                laddrs,
            }
        })
        .collect())
}

/// `--get-laddr` in DPVS's format (`list_laddrs_print_*` in its ipvsadm.c): a title, then per
/// service `VIP:VPORT` and the number of addresses, then one line per address. DPVS's
/// CONFLICTS column (local ports found taken when picking one) is not counted per address by
/// ferrovs and shows `-`; nothing at all when there are no services, as DPVS prints.
pub fn format(services: &[LaddrService]) -> String {
    let mut s = String::new();
    for (i, svc) in services.iter().enumerate() {
        if i == 0 {
            let _ = writeln!(
                s,
                "{:<20} {:<8} {:<20} {:<10} {:<10}",
                "VIP:VPORT", "TOTAL", "SNAT_IP", "CONFLICTS", "CONNS"
            );
        }
        let vname = crate::format::addr_port_numeric(svc.key.vip, svc.key.port);
        let _ = writeln!(s, "{vname:<20} {:<8} ", svc.laddrs.len());
        for l in &svc.laddrs {
            let _ = writeln!(
                s,
                "{:<20} {:<8} {:<20} {:<10} {:<10}",
                "",
                "",
                l.address.to_string(),
                "-",
                l.conns
            );
        }
    }
    s
}
