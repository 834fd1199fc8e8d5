//! DPVS's keepalived dialect (its fork of keepalived): what the LVS importer maps and what it
//! warns about, each with its line.
//!
//! - `local_address_group NAME { ADDRESS[-LAST] INTERFACE ... }` becomes a
//!   `[[local_address_pool]]` NAME; `laddr_group_name NAME` on a virtual server names it
//!   (read in [`super::keepalived`]). The pool's port is the one the entries' DPVS interface
//!   maps to: `--interface IF=PORT` (with `--keepalived-out`), a port named IF (or IF without
//!   `.kni`), else the one port whose networks hold the address. Without `--base`, the
//!   placeholder port takes each address that no port's networks hold as a host prefix
//!   (`/32`, `/128`), with a note, so the import validates; with a base, the error says which
//!   network to add to which port.
//! - `proxy_protocol v1|v2` becomes the service's `proxy_protocol` (TOA off), on a TCP service
//!   with NAT or FNAT real servers; elsewhere, and for DPVS's other values, a warning.
//! - `deny_address_group NAME { ADDRESS[-LAST] ... }` (DPVS's blacklist) named by a virtual
//!   server's `daddr_group_name`, and `allow_address_group` / `waddr_group_name` (its
//!   whitelist): the service's `deny_clients` and `allow_clients` (issue 17), one host prefix
//!   per address (ranges expanded as `virtual_server_group`'s are). A name no group defines is
//!   a warning, and the service is imported without that list.
//! - `syn_proxy` becomes the service's `syn_proxy = "on"` on a TCP service whose real servers
//!   all use NAT or FNAT and that has no `proxy_protocol` (elsewhere a warning). DPVS's cookie
//!   secret is random per process; ferrovs's is in the file: the import keeps the base's
//!   `[syn_proxy]` secret, or makes a random one and says so in a note (every gateway of the
//!   group needs the same).
//! - `dpdk_interface` (in a `vrrp_instance`) is noted and commented out by the VRRP import
//!   ([`super::vrrp`]); its `.kni` interface maps to the port without the suffix.

use std::net::IpAddr;

use std::collections::HashMap;

use config::{Config, LocalAddressPool, Prefix, Service};

use super::kconf::Stmt;
use super::Diagnostic;

/// What a local address group is placed against.
pub(super) struct Placement<'a> {
    /// `--interface IF=PORT` mappings (with `--keepalived-out`; empty otherwise).
    pub interfaces: &'a [(String, String)],
    /// The base is the placeholder: its port takes addresses no port holds.
    pub placeholder: bool,
}

/// Diagnostics of the DPVS part, by kind.
pub(super) struct Diags<'a> {
    pub warn: &'a mut Vec<Diagnostic>,
    pub notes: &'a mut Vec<Diagnostic>,
    pub errors: &'a mut Vec<Diagnostic>,
}

fn diag(to: &mut Vec<Diagnostic>, line: usize, message: String) {
    to.push(Diagnostic { line, message });
}

/// The port a DPVS interface name maps to by name: `--interface`, a port of that name, or of
/// that name without `.kni`.
fn port_by_name(cfg: &Config, at: &Placement<'_>, iface: &str) -> Option<(String, &'static str)> {
    if let Some((_, p)) = at.interfaces.iter().find(|(i, _)| i == iface) {
        return Some((p.clone(), "--interface"));
    }
    let bare = iface.strip_suffix(".kni").unwrap_or(iface);
    cfg.ports
        .iter()
        .find(|p| p.name == iface || p.name == bare)
        .map(|p| (p.name.clone(), "a port of that name"))
}

fn port_by_address(cfg: &Config, a: IpAddr) -> Option<String> {
    cfg.ports
        .iter()
        .find(|p| p.addresses.iter().any(|n| n.contains(a)))
        .map(|p| p.name.clone())
}

fn host_prefix(a: IpAddr) -> Prefix {
    Prefix {
        addr: a,
        len: if a.is_ipv4() { 32 } else { 128 },
    }
}

/// Read `local_address_group NAME { ... }` into a pool of `cfg` (replacing one of that name).
pub(super) fn local_address_group(
    st: &Stmt,
    cfg: &mut Config,
    at: &Placement<'_>,
    d: &mut Diags<'_>,
    expand: impl Fn(&str) -> Result<Vec<IpAddr>, String>,
) {
    let name = st.arg(1).unwrap_or("").to_owned();
    let mut addresses: Vec<IpAddr> = Vec::new();
    let mut pool_port: Option<String> = None;
    let mut told: Vec<String> = Vec::new();
    for e in st.children() {
        let addrs = match expand(e.key()) {
            Ok(a) => a,
            Err(m) => {
                diag(
                    d.warn,
                    e.line,
                    format!("local_address_group entry skipped: {m}"),
                );
                continue;
            }
        };
        let iface = e.arg(1).unwrap_or("");
        let Some(&first) = addrs.first() else {
            continue;
        };
        let by_name = if iface.is_empty() {
            None
        } else {
            port_by_name(cfg, at, iface)
        };
        let port = match (by_name, port_by_address(cfg, first)) {
            (Some((p, how)), _) => {
                if !told.contains(&iface.to_owned()) {
                    told.push(iface.to_owned());
                    diag(
                        d.notes,
                        e.line,
                        format!("interface {iface} -> ferrovs port {p} ({how})"),
                    );
                }
                p
            }
            (None, Some(p)) => {
                if !iface.is_empty() && !told.contains(&iface.to_owned()) {
                    told.push(iface.to_owned());
                    diag(
                        d.notes,
                        e.line,
                        format!(
                            "interface {iface} -> ferrovs port {p} (its networks hold {first})"
                        ),
                    );
                }
                p
            }
            (None, None) if at.placeholder => cfg
                .ports
                .first()
                .map(|p| p.name.clone())
                .unwrap_or_default(),
            (None, None) => {
                diag(
                    d.errors,
                    e.line,
                    format!(
                        "local_address_group {name}: {first}{} is on none of the base's ports' \
                         networks; add an address on its network to the [[port]] facing the \
                         real servers{}",
                        if iface.is_empty() {
                            String::new()
                        } else {
                            format!(" ({iface})")
                        },
                        if iface.is_empty() {
                            String::new()
                        } else {
                            format!(", or name that port {iface} (or pass --interface {iface}=PORT with --keepalived-out)")
                        }
                    ),
                );
                continue;
            }
        };
        match &pool_port {
            Some(pp) if *pp != port => {
                diag(
                    d.warn,
                    e.line,
                    format!(
                        "local_address_group {name}: {} skipped: it is on port {port}, the group's \
                         first address on port {pp}, and a ferrovs pool lives on one port",
                        e.key()
                    ),
                );
                continue;
            }
            Some(_) => {}
            None => pool_port = Some(port.clone()),
        }
        for a in addrs {
            if addresses.contains(&a) {
                continue;
            }
            let on_port = cfg
                .ports
                .iter()
                .find(|p| p.name == port)
                .is_some_and(|p| p.addresses.iter().any(|n| n.contains(a)));
            if !on_port {
                if at.placeholder {
                    if let Some(p) = cfg.ports.iter_mut().find(|p| p.name == port) {
                        p.addresses.push(host_prefix(a));
                        diag(
                            d.notes,
                            e.line,
                            format!(
                                "local address {a}: placeholder port {port} takes it as {} so the \
                                 pool validates; give {port} the real network instead (or import \
                                 with --base)",
                                host_prefix(a)
                            ),
                        );
                    }
                } else {
                    let nets: Vec<String> = cfg
                        .ports
                        .iter()
                        .find(|p| p.name == port)
                        .map(|p| p.addresses.iter().map(ToString::to_string).collect())
                        .unwrap_or_default();
                    diag(
                        d.errors,
                        e.line,
                        format!(
                            "local_address_group {name}: {a} is not on port {port}'s networks ({}); \
                             add an address on its network to port {port}",
                            if nets.is_empty() { "it has none".to_owned() } else { nets.join(", ") }
                        ),
                    );
                    continue;
                }
            }
            addresses.push(a);
        }
    }
    cfg.local_address_pools.retain(|p| p.name != name);
    cfg.local_address_pools.push(LocalAddressPool {
        name,
        addresses,
        port: pool_port.unwrap_or_default(),
    });
}

/// DPVS's address groups for admission, by (keyword, name): `deny_address_group` and
/// `allow_address_group`, each entry a host prefix per address it expands to (`expand`: the
/// `virtual_server_group` expansion); an entry that does not expand is a warning.
pub(super) fn address_groups(
    tree: &[Stmt],
    warn: &mut Vec<Diagnostic>,
    expand: fn(&str) -> Result<Vec<IpAddr>, String>,
) -> HashMap<(String, String), Vec<Prefix>> {
    let mut out = HashMap::new();
    for st in tree {
        if !matches!(st.key(), "deny_address_group" | "allow_address_group") {
            continue;
        }
        let mut prefixes = Vec::new();
        for e in st.children() {
            match expand(e.key()) {
                Ok(addrs) => prefixes.extend(addrs.into_iter().map(|addr| Prefix {
                    addr,
                    len: if addr.is_ipv4() { 32 } else { 128 },
                })),
                Err(m) => diag(
                    warn,
                    e.line,
                    format!("{} {}: {m}; skipped", st.key(), st.arg(1).unwrap_or("")),
                ),
            }
        }
        out.insert(
            (st.key().to_owned(), st.arg(1).unwrap_or("").to_owned()),
            prefixes,
        );
    }
    out
}

/// A virtual server's `daddr_group_name` / `waddr_group_name` into the admission lists of the
/// services it became (`services`); a group no statement defines is a warning.
pub(super) fn apply_address_groups(
    vs: &Stmt,
    groups: &HashMap<(String, String), Vec<Prefix>>,
    services: &mut [Service],
    warn: &mut Vec<Diagnostic>,
) {
    for s in vs.block.as_deref().unwrap_or_default() {
        let (group_kw, deny) = match s.key() {
            "daddr_group_name" => ("deny_address_group", true),
            "waddr_group_name" => ("allow_address_group", false),
            _ => continue,
        };
        let name = s.arg(1).unwrap_or("");
        let Some(prefixes) = groups.get(&(group_kw.to_owned(), name.to_owned())) else {
            diag(
                warn,
                s.line,
                format!(
                    "{} {name}: no {group_kw} {name} is defined; the service is imported \
                     without that list",
                    s.key()
                ),
            );
            continue;
        };
        for svc in services.iter_mut() {
            let list = if deny {
                &mut svc.admission.clients.deny
            } else {
                &mut svc.admission.clients.allow
            };
            for p in prefixes {
                if !list.contains(p) {
                    list.push(*p);
                }
            }
        }
    }
}

/// The warning for a `syn_proxy` the service cannot have.
pub(super) const SYN_PROXY_NOT_IMPORTED: &str = "syn_proxy is not imported: ferrovs's SYN proxy \
    needs a TCP service whose real servers all use NAT or FNAT, without proxy_protocol; the \
    service runs without one, SYNs reach the real servers";

/// A configuration with a `syn_proxy` service needs the cookie secret: keep the base's, else
/// make a random one (from the kernel's generator) and note it.
pub(super) fn syn_proxy_secret(cfg: &mut Config, notes: &mut Vec<Diagnostic>) {
    let uses = cfg
        .services
        .iter()
        .any(|s| s.syn_proxy != config::SynProxyMode::Off);
    if !uses || cfg.syn_proxy.secret.is_some() {
        return;
    }
    let mut b = [0u8; config::SYN_PROXY_SECRET_BYTES];
    let read = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut b));
    if read.is_err() {
        // validate() then refuses the import with the schema's reason.
        return;
    }
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    if let Ok(s) = config::SynProxySecret::parse(&hex) {
        cfg.syn_proxy.secret = Some(s);
        notes.push(Diagnostic {
            line: 0,
            message: "[syn_proxy] secret: a random cookie secret was made; give every gateway \
                      of the HA pair or ECMP group the same [syn_proxy] section"
                .to_owned(),
        });
    }
}

/// DPVS's `proxy_protocol v1` / `v2` on a `virtual_server`: the version ferrovs inserts too
/// (`None` for any other statement or value).
pub(super) fn proxy_protocol(st: &Stmt) -> Option<config::ProxyProtocol> {
    if st.key() != "proxy_protocol" {
        return None;
    }
    match st.arg(1)? {
        "v1" => Some(config::ProxyProtocol::V1),
        "v2" => Some(config::ProxyProtocol::V2),
        _ => None,
    }
}

/// A DPVS keyword of a `virtual_server` that ferrovs has no feature for yet: its warning, or
/// `None` for another keyword (or for a setting that is ferrovs's behaviour already).
pub(super) fn vs_keyword(st: &Stmt) -> Option<Option<String>> {
    let arg = st.arg(1).unwrap_or("");
    Some(match st.key() {
        "syn_proxy" => Some(SYN_PROXY_NOT_IMPORTED.to_owned()),
        "proxy_protocol" if matches!(arg, "disable" | "") => None,
        "proxy_protocol" => Some(format!(
            "proxy_protocol {arg} is not imported: ferrovs inserts v1 and v2 headers (`proxy_protocol \
             v1|v2`), no other kind; real servers that expect this one will refuse the connections"
        )),
        // Imported by `apply_address_groups` once the service exists.
        "daddr_group_name" | "waddr_group_name" => None,
        _ => return None,
    })
}
