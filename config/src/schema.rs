//! Reading and validating the TOML document into a [`Config`].
//!
//! One pass over the spanned tree, section by section in dependency order (dpdk, ports, pools,
//! routes, neighbours, services, timeouts, control), so cross-references (a route's port, a service's pool)
//! are checked against sections already read. Each check records its error and carries on with a
//! default, so one run reports every problem in the file. The defaults and ranges follow ipvsadm
//! 1.31's code (not its man page) and keepalived for health checks; `docs/config.md` lists them.

use core::ops::Range;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use toml::de::{DeTable, DeValue};

use crate::error::Sink;
use crate::model::*;
use crate::synproxy::SynProxyMode;
use crate::walk::{as_int, wrong_type, At, Tab};

/// Highest lcore id accepted (EAL further checks against its build's `RTE_MAX_LCORE`).
const MAX_LCORE: u32 = 1023;
/// Largest MTU accepted: common jumbo-frame limit of DPDK NICs.
const MAX_MTU: i64 = 9600;
/// Smallest MTU of a link carrying IPv6 (RFC 8200 §5).
const IPV6_MIN_MTU: u16 = 1280;
/// Longest Linux interface name (IFNAMSIZ - 1), for port names and TAP names.
const IFNAME_MAX: usize = 15;
/// EAL options that the `[dpdk]` keys and `[[port]]` already set.
const RESERVED_EAL_ARGS: [(&str, &str); 12] = [
    ("-l", "dpdk.lcores"),
    ("--lcores", "dpdk.lcores"),
    ("-c", "dpdk.lcores"),
    ("--main-lcore", "dpdk.main_lcore"),
    ("--master-lcore", "dpdk.main_lcore"),
    ("--file-prefix", "dpdk.file_prefix"),
    ("-m", "dpdk.memory_mb"),
    ("--no-huge", "dpdk.hugepages"),
    ("-a", "port.device"),
    ("--allow", "port.device"),
    ("--vdev", "port.device"),
    ("-b", "port.device"),
];

/// Read the whole document into a [`Config`]; every problem found is recorded in `sink`, and
/// the returned value is meaningful only when `sink` stays empty.
pub(crate) fn read(root: &DeTable<'_>, span: Range<usize>, sink: &mut Sink<'_>) -> Config {
    let mut root = Tab::new(root, span, String::new());
    let dpdk_tab = root.table(sink, "dpdk");
    let (dpdk, mbufs_span) = read_dpdk(dpdk_tab, sink);
    let ports = read_ports(&mut root, sink, &dpdk, mbufs_span);
    let pools = read_pools(&mut root, sink, &ports);
    let routes = read_routes(&mut root, sink, &ports);
    let neighbours = read_neighbours(&mut root, sink, &ports, &pools);
    let mut syn_proxy_use = None;
    let services = read_services(&mut root, sink, &pools, &mut syn_proxy_use);
    let timeouts = read_timeouts(root.table(sink, "timeouts"), sink);
    let control = read_control(root.table(sink, "control"), sink);
    let ha = read_ha(root.table(sink, "ha"), sink, &ports, &pools, &services);
    let sync = crate::sync::read_sync(root.table(sink, "sync"), sink);
    let announce =
        crate::announce::read_announce(root.table(sink, "announce"), sink, &ports, &services);
    let admission = crate::admission::read_admission(root.table(sink, "admission"), sink);
    let syn_proxy =
        crate::synproxy::read_syn_proxy(root.table(sink, "syn_proxy"), sink, syn_proxy_use);
    root.finish(sink);
    Config {
        dpdk,
        ports,
        routes,
        neighbours,
        local_address_pools: pools,
        services,
        timeouts,
        control,
        ha,
        sync,
        announce,
        admission,
        syn_proxy,
    }
}

// ---------------------------------------------------------------------------------------------
// [dpdk]

/// Parse an EAL lcore list such as `"0-3,8"` into sorted, unique lcore ids.
///
/// # Errors
///
/// Returns a message for the user when the syntax is wrong, a range is reversed or an id is
/// above 1023.
pub fn parse_lcore_list(s: &str) -> Result<Vec<u32>, String> {
    let bad =
        || format!("\"{s}\" is not an lcore list: expected numbers and ranges like \"0-3,8\"");
    let mut out = Vec::new();
    for part in s.split(',') {
        let part = part.trim();
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        let (a, b) = (
            a.trim().parse::<u32>().map_err(|_| bad())?,
            b.trim().parse::<u32>().map_err(|_| bad())?,
        );
        if a > b {
            return Err(format!("lcore range \"{part}\" is reversed"));
        }
        if b > MAX_LCORE {
            return Err(format!("lcore {b} is out of range 0..={MAX_LCORE}"));
        }
        out.extend(a..=b);
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// Format sorted lcore ids compactly, the inverse of [`parse_lcore_list`]: `[0,1,2,4]` -> `"0-2,4"`.
pub fn format_lcore_list(lcores: &[u32]) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < lcores.len() {
        let start = lcores[i];
        let mut end = start;
        while i + 1 < lcores.len() && lcores[i + 1] == end + 1 {
            i += 1;
            end = lcores[i];
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        i += 1;
    }
    parts.join(",")
}

/// Read an lcore list given as a string or an array of integers.
fn read_lcores(
    t: &mut Tab<'_, '_>,
    sink: &mut Sink<'_>,
    key: &'static str,
) -> Option<At<Vec<u32>>> {
    let val = t.raw(key)?;
    let path = t.key_path(key);
    let span = val.span();
    match val.get_ref() {
        DeValue::String(s) => match parse_lcore_list(s) {
            Ok(v) => Some(At { v, span }),
            Err(m) => {
                sink.error(&span, &path, m);
                None
            }
        },
        DeValue::Array(a) => {
            let mut v = Vec::new();
            for (i, item) in a.iter().enumerate() {
                let n = as_int(sink, item, &format!("{path}[{i}]"), 0, i64::from(MAX_LCORE))?;
                v.push(u32::try_from(n).ok()?);
            }
            v.sort_unstable();
            v.dedup();
            Some(At { v, span })
        }
        _ => {
            wrong_type(
                sink,
                val,
                &path,
                "a string like \"0-3\" or an array of integers",
            );
            None
        }
    }
}

fn read_dpdk(t: Option<Tab<'_, '_>>, sink: &mut Sink<'_>) -> (Dpdk, Option<Range<usize>>) {
    let mut d = Dpdk {
        lcores: vec![0, 1],
        main_lcore: 0,
        worker_lcores: vec![1],
        lcore_cpus: Vec::new(),
        hugepages: true,
        memory_mb: None,
        file_prefix: "ferrovs".to_owned(),
        extra_eal_args: Vec::new(),
        mbufs_per_port: DEFAULT_MBUFS_PER_PORT,
        session_capacity: DEFAULT_SESSION_CAPACITY,
        persist_capacity: DEFAULT_PERSIST_CAPACITY,
        idle: Idle::Busy,
    };
    let Some(mut t) = t else {
        return (d, None);
    };
    let lcores = read_lcores(&mut t, sink, "lcores");
    if let Some(l) = &lcores {
        if l.v.is_empty() {
            sink.error(&l.span, &t.key_path("lcores"), "the lcore list is empty");
        } else {
            d.lcores = l.v.clone();
        }
    }
    d.main_lcore = d.lcores[0];
    if let Some(m) = t.u32(sink, "main_lcore", 0, MAX_LCORE) {
        if d.lcores.contains(&m.v) {
            d.main_lcore = m.v;
        } else {
            sink.error(
                &m.span,
                &t.key_path("main_lcore"),
                format!(
                    "lcore {} is not in dpdk.lcores ({})",
                    m.v,
                    format_lcore_list(&d.lcores)
                ),
            );
        }
    }
    d.worker_lcores = d
        .lcores
        .iter()
        .copied()
        .filter(|&l| l != d.main_lcore)
        .collect();
    match read_lcores(&mut t, sink, "worker_lcores") {
        Some(w) => {
            let path = t.key_path("worker_lcores");
            if w.v.is_empty() {
                sink.error(&w.span, &path, "at least one worker lcore is needed");
            } else if w.v.contains(&d.main_lcore) {
                sink.error(
                    &w.span,
                    &path,
                    format!("the main lcore {} cannot also be a worker", d.main_lcore),
                );
            } else if let Some(x) = w.v.iter().find(|l| !d.lcores.contains(l)) {
                sink.error(
                    &w.span,
                    &path,
                    format!(
                        "lcore {x} is not in dpdk.lcores ({})",
                        format_lcore_list(&d.lcores)
                    ),
                );
            } else {
                d.worker_lcores = w.v;
            }
        }
        None => {
            if d.worker_lcores.is_empty() {
                let span = lcores.map_or(t.span(), |l| l.span);
                sink.error(
                    &span,
                    &t.key_path("lcores"),
                    "at least two lcores are needed: one main lcore and one worker",
                );
            }
        }
    }
    if let Some(val) = t.raw("lcore_cpus") {
        let path = t.key_path("lcore_cpus");
        let span = val.span();
        if let DeValue::Array(a) = val.get_ref() {
            let cpus: Vec<u32> = a
                .iter()
                .enumerate()
                .filter_map(|(i, item)| {
                    as_int(sink, item, &format!("{path}[{i}]"), 0, i64::from(MAX_LCORE))
                        .and_then(|n| u32::try_from(n).ok())
                })
                .collect();
            if cpus.len() == a.len() {
                if cpus.len() == d.lcores.len() {
                    d.lcore_cpus = cpus;
                } else {
                    sink.error(
                        &span,
                        &path,
                        format!(
                            "{} CPUs for {} lcores ({}): give one CPU per lcore, in lcores order",
                            cpus.len(),
                            d.lcores.len(),
                            format_lcore_list(&d.lcores)
                        ),
                    );
                }
            }
        } else {
            wrong_type(sink, val, &path, "an array of CPU numbers, one per lcore");
        }
    }
    if let Some(b) = t.bool(sink, "hugepages") {
        d.hugepages = b.v;
    }
    d.memory_mb = t.u32(sink, "memory_mb", 1, 1 << 24).map(|a| a.v);
    if let Some(p) = t.str(sink, "file_prefix") {
        let ok = !p.v.is_empty()
            && p.v.len() <= 64
            && p.v
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
        if ok {
            d.file_prefix = p.v.to_owned();
        } else {
            sink.error(
                &p.span,
                &t.key_path("file_prefix"),
                format!(
                    "\"{}\" is not a valid prefix: use 1 to 64 of A-Z a-z 0-9 _ - .",
                    p.v
                ),
            );
        }
    }
    if let Some(args) = t.strings(sink, "extra_eal_args") {
        for (i, a) in args.iter().enumerate() {
            let reserved = RESERVED_EAL_ARGS.iter().find(|(flag, _)| {
                a.v == *flag
                    || a.v.starts_with(&format!("{flag}="))
                    || (flag.len() == 2
                        && a.v.starts_with(flag)
                        && a.v.len() > 2
                        && !a.v.starts_with("--"))
            });
            if let Some((flag, key)) = reserved {
                sink.error(
                    &a.span,
                    &format!("{}[{i}]", t.key_path("extra_eal_args")),
                    format!("EAL option {flag} is set by {key}; set it there"),
                );
            }
        }
        d.extra_eal_args = args.into_iter().map(|a| a.v.to_owned()).collect();
    }
    let mut mbufs_span = None;
    if let Some(m) = t.u32(sink, "mbufs_per_port", 1024, 1 << 24) {
        d.mbufs_per_port = m.v;
        mbufs_span = Some(m.span);
    }
    if let Some(m) = t.u32(sink, "session_capacity", 1024, 1 << 28) {
        d.session_capacity = m.v;
    }
    if let Some(m) = t.u32(sink, "persist_capacity", 1024, 1 << 26) {
        d.persist_capacity = m.v;
    }
    if let Some(a) = t.str(sink, "idle") {
        match Idle::from_name(a.v) {
            Some(i) => d.idle = i,
            None => sink.error(
                &a.span,
                &t.key_path("idle"),
                format!(
                    "unknown idle mode \"{}\"; expected one of: busy, sleep",
                    a.v
                ),
            ),
        }
    }
    let span = mbufs_span.unwrap_or_else(|| t.span());
    t.finish(sink);
    (d, Some(span))
}

// ---------------------------------------------------------------------------------------------
// [[port]]

/// Return true for a valid port or pool name: a letter, then letters, digits, `_` or `-`.
fn valid_name(s: &str) -> bool {
    let mut c = s.chars();
    c.next().is_some_and(|f| f.is_ascii_alphabetic())
        && c.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// A port name that is also a valid Linux interface name (at most IFNAMSIZ - 1 characters).
pub(crate) fn valid_ifname(s: &str) -> bool {
    valid_name(s) && s.len() <= IFNAME_MAX
}

/// Return the identity of a device string (for duplicate detection), or `None` if malformed.
pub(crate) fn device_key(s: &str) -> Option<String> {
    let hex = |p: &str, n: usize| p.len() == n && p.chars().all(|c| c.is_ascii_hexdigit());
    let parts: Vec<&str> = s.split(':').collect();
    let (dom, bus, devfn) = match parts.as_slice() {
        [d, b, df] => (*d, *b, *df),
        [b, df] => ("0000", *b, *df),
        _ => ("", "", ""),
    };
    if let Some((dev, func)) = devfn.split_once('.') {
        if hex(dom, 4)
            && hex(bus, 2)
            && hex(dev, 2)
            && func.len() == 1
            && ('0'..='7').contains(&func.chars().next()?)
        {
            return Some(format!("{dom}:{bus}:{dev}.{func}").to_ascii_lowercase());
        }
    }
    let name = s.split(',').next()?;
    let ok = (name.starts_with("net_") || name.starts_with("eth_"))
        && name.len() > 4
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    ok.then(|| name.to_owned())
}

/// Return a message when `ip` cannot be a unicast host address.
fn bad_unicast(ip: IpAddr) -> Option<&'static str> {
    if ip.is_unspecified() {
        Some("the unspecified address is not allowed here")
    } else if ip.is_multicast() {
        Some("a multicast address is not allowed here")
    } else if ip == IpAddr::V4(std::net::Ipv4Addr::BROADCAST) {
        Some("the broadcast address is not allowed here")
    } else {
        None
    }
}

/// Parse an address at `span`, recording an error; also refuses non-unicast addresses.
pub(crate) fn parse_ip(sink: &mut Sink<'_>, a: &At<&str>, path: &str) -> Option<IpAddr> {
    match a.v.parse::<IpAddr>() {
        Ok(ip) => {
            if let Some(m) = bad_unicast(ip) {
                sink.error(&a.span, path, format!("{ip}: {m}"));
                None
            } else {
                Some(ip)
            }
        }
        Err(_) => {
            sink.error(
                &a.span,
                path,
                format!("\"{}\" is not an IPv4 or IPv6 address", a.v),
            );
            None
        }
    }
}

/// Parse a MAC at `m`, recording an error; refuses multicast and all-zero MACs, which `who`
/// ("a port") cannot have.
fn parse_unicast_mac(sink: &mut Sink<'_>, m: &At<&str>, path: &str, who: &str) -> Option<MacAddr> {
    match MacAddr::parse(m.v) {
        None => sink.error(
            &m.span,
            path,
            format!("\"{}\" is not a MAC address like 02:00:00:00:00:01", m.v),
        ),
        Some(mac) if mac.0[0] & 1 == 1 => sink.error(
            &m.span,
            path,
            format!("{mac} is a multicast MAC; {who} needs a unicast MAC"),
        ),
        Some(mac) if mac.0 == [0; 6] => {
            sink.error(&m.span, path, "the all-zero MAC is not allowed")
        }
        Some(mac) => return Some(mac),
    }
    None
}

/// Return the name of the first port with a connected network containing `ip`.
fn port_for(ports: &[Port], ip: IpAddr) -> Option<&Port> {
    ports
        .iter()
        .find(|p| p.addresses.iter().any(|a| a.contains(ip)))
}

/// The port `ip` (a route's next hop or a static neighbour: `what`) is on: the port its table
/// names (`port`; `Err` when that reference was refused already) must hold it in one of its
/// networks; without one, the port whose networks hold it. `None` after an error at `at` when
/// there is none.
fn on_link_port<'p>(
    sink: &mut Sink<'_>,
    at: (&Range<usize>, &str),
    ports: &'p [Port],
    port: Result<Option<&'p Port>, ()>,
    ip: IpAddr,
    what: &str,
) -> Option<&'p Port> {
    let (span, path) = at;
    match (port, port_for(ports, ip)) {
        (Err(()), _) => None,
        (Ok(Some(p)), _) if p.addresses.iter().any(|n| n.contains(ip)) => Some(p),
        (Ok(Some(p)), _) => {
            let nets = networks(p);
            sink.error(
                span,
                path,
                format!("{what} {ip} is not on port {}'s networks ({nets})", p.name),
            );
            None
        }
        (Ok(None), Some(p)) => Some(p),
        (Ok(None), None) => {
            let m = format!("{what} {ip} is not on any port's connected networks");
            sink.error(span, path, m);
            None
        }
    }
}

/// Describe a port's networks for messages: `10.0.0.0/24, 2001:db8::/64` or `no addresses`.
fn networks(p: &Port) -> String {
    if p.addresses.is_empty() {
        return "it has no addresses".to_owned();
    }
    let nets: Vec<String> = p
        .addresses
        .iter()
        .map(|a| {
            Prefix {
                addr: a.network(),
                len: a.len,
            }
            .to_string()
        })
        .collect();
    nets.join(", ")
}

fn read_ports(
    root: &mut Tab<'_, '_>,
    sink: &mut Sink<'_>,
    dpdk: &Dpdk,
    mbufs_span: Option<Range<usize>>,
) -> Vec<Port> {
    let tabs = root.tables(sink, "port");
    if tabs.is_empty() && !root.has("port") {
        sink.error(&root.span(), "port", "at least one [[port]] is required");
    }
    let mut ports = Vec::new();
    let mut seen = PortsSeen::default();
    for (i, mut t) in tabs.into_iter().enumerate() {
        let mut p = Port {
            name: format!("port{i}"),
            device: String::new(),
            mtu: 1500,
            addresses: Vec::new(),
            mac: None,
            exception_path: None,
            rx_desc: DEFAULT_DESC,
            tx_desc: DEFAULT_DESC,
        };
        read_port_name(&mut t, sink, &mut p, &mut seen, i);
        read_port_device(&mut t, sink, &mut p, &mut seen, i);
        let mtu = t.int(sink, "mtu", 68, MAX_MTU);
        if let Some(m) = &mtu {
            p.mtu = u16::try_from(m.v).unwrap_or(1500);
        }
        read_port_addresses(&mut t, sink, &mut p, &mut seen, i);
        if let Some(m) = &mtu {
            if p.mtu < IPV6_MIN_MTU && p.addresses.iter().any(|a| a.addr.is_ipv6()) {
                sink.error(
                    &m.span,
                    &t.key_path("mtu"),
                    format!(
                        "{} is below {IPV6_MIN_MTU}, the minimum MTU of a link with IPv6 addresses",
                        p.mtu
                    ),
                );
            }
        }
        if let Some(m) = t.str(sink, "mac") {
            p.mac = parse_unicast_mac(sink, &m, &t.key_path("mac"), "a port");
        }
        read_exception_path(&mut t, sink, &mut p, &mut seen, i);
        for (key, slot) in [("rx_desc", &mut p.rx_desc), ("tx_desc", &mut p.tx_desc)] {
            if let Some(n) = t.int(sink, key, 64, 32768) {
                match u16::try_from(n.v) {
                    Ok(v) if v.is_power_of_two() => *slot = v,
                    _ => sink.error(
                        &n.span,
                        &t.key_path(key),
                        format!("{} is not a power of two", n.v),
                    ),
                }
            }
        }
        let workers = u32::try_from(dpdk.worker_lcores.len()).unwrap_or(u32::MAX);
        let need = workers.saturating_mul(u32::from(p.rx_desc) + u32::from(p.tx_desc));
        if need > dpdk.mbufs_per_port {
            let span = mbufs_span.clone().unwrap_or_else(|| t.span());
            sink.error(
                &span,
                "dpdk.mbufs_per_port",
                format!(
                    "{} mbufs cannot fill port {}'s rings: {workers} worker queues x ({} RX + {} TX descriptors) = {need}",
                    dpdk.mbufs_per_port, p.name, p.rx_desc, p.tx_desc
                ),
            );
        }
        t.finish(sink);
        ports.push(p);
    }
    ports
}

/// What the ports read so far use, each only once: names, devices, TAPs, addresses.
#[derive(Default)]
struct PortsSeen {
    names: HashMap<String, usize>,
    devices: HashMap<String, usize>,
    taps: HashMap<String, usize>,
    addrs: HashMap<IpAddr, String>,
}

/// `name`: valid as an interface name, once among the ports.
fn read_port_name(
    t: &mut Tab<'_, '_>,
    sink: &mut Sink<'_>,
    p: &mut Port,
    seen: &mut PortsSeen,
    i: usize,
) {
    if let Some(n) = t.req_str(sink, "name") {
        let path = t.key_path("name");
        if !valid_name(n.v) || n.v.len() > IFNAME_MAX {
            sink.error(
                &n.span,
                &path,
                format!(
                    "\"{}\" is not a valid port name: a letter, then letters, digits, _ or -, at most {IFNAME_MAX} characters",
                    n.v
                ),
            );
        } else if let Some(first) = seen.names.get(n.v) {
            sink.error(
                &n.span,
                &path,
                format!(
                    "duplicate port name \"{}\" (first used by port[{first}])",
                    n.v
                ),
            );
        } else {
            seen.names.insert(n.v.to_owned(), i);
            p.name = n.v.to_owned();
        }
    }
}

/// `device`: a PCI address or a vdev spec, each device on one port only.
fn read_port_device(
    t: &mut Tab<'_, '_>,
    sink: &mut Sink<'_>,
    p: &mut Port,
    seen: &mut PortsSeen,
    i: usize,
) {
    if let Some(d) = t.req_str(sink, "device") {
        let path = t.key_path("device");
        match device_key(d.v) {
            None => sink.error(
                &d.span,
                &path,
                format!(
                    "\"{}\" is neither a PCI address (0000:03:00.0) nor a DPDK vdev spec (net_pcap0,iface=eth1)",
                    d.v
                ),
            ),
            Some(k) => {
                if let Some(first) = seen.devices.get(&k) {
                    sink.error(&d.span, &path, format!("device \"{}\" is already used by port[{first}]", d.v));
                } else {
                    seen.devices.insert(k, i);
                }
                p.device = d.v.to_owned();
            }
        }
    }
}

/// `addresses`: unicast prefixes, each address on one port only.
fn read_port_addresses(
    t: &mut Tab<'_, '_>,
    sink: &mut Sink<'_>,
    p: &mut Port,
    seen: &mut PortsSeen,
    i: usize,
) {
    if let Some(list) = t.strings(sink, "addresses") {
        let base = t.key_path("addresses");
        for (j, a) in list.iter().enumerate() {
            let path = format!("{base}[{j}]");
            match Prefix::parse(a.v) {
                Err(m) => sink.error(&a.span, &path, m),
                Ok(pfx) => {
                    if let Some(m) = bad_unicast(pfx.addr).or(pfx
                        .addr
                        .is_loopback()
                        .then_some("a loopback address is not allowed here"))
                    {
                        sink.error(&a.span, &path, format!("{}: {m}", pfx.addr));
                    } else if let Some(other) = seen.addrs.get(&pfx.addr) {
                        sink.error(
                            &a.span,
                            &path,
                            format!("address {} is already on {other}", pfx.addr),
                        );
                    } else {
                        seen.addrs.insert(pfx.addr, format!("port[{i}]"));
                        p.addresses.push(pfx);
                    }
                }
            }
        }
    }
}

/// `exception_path`: true (a TAP named like the port) or `{ tap = NAME }`, each TAP once.
fn read_exception_path(
    t: &mut Tab<'_, '_>,
    sink: &mut Sink<'_>,
    p: &mut Port,
    seen: &mut PortsSeen,
    i: usize,
) {
    if let Some(v) = t.raw("exception_path") {
        let path = t.key_path("exception_path");
        let tap = match v.get_ref() {
            DeValue::Boolean(b) => b.then(|| At {
                v: p.name.as_str(),
                span: v.span(),
            }),
            DeValue::Table(_) => Tab::value_as_table(sink, v, path.clone()).and_then(|mut et| {
                let tap = et.req_str(sink, "tap");
                et.finish(sink);
                tap
            }),
            _ => {
                wrong_type(
                    sink,
                    v,
                    &path,
                    "a boolean or a table like { tap = \"fv-wan0\" }",
                );
                None
            }
        };
        if let Some(tap) = tap {
            let tpath = if matches!(v.get_ref(), DeValue::Table(_)) {
                format!("{path}.tap")
            } else {
                path
            };
            let ok = !tap.v.is_empty()
                && tap.v.len() <= IFNAME_MAX
                && tap
                    .v
                    .chars()
                    .all(|c| c.is_ascii_graphic() && c != '/' && c != ':');
            if !ok {
                sink.error(
                    &tap.span,
                    &tpath,
                    format!("\"{}\" is not a valid interface name: 1 to {IFNAME_MAX} characters, no spaces, / or :", tap.v),
                );
            } else if let Some(first) = seen.taps.get(tap.v) {
                sink.error(
                    &tap.span,
                    &tpath,
                    format!(
                        "TAP interface \"{}\" is already used by port[{first}]",
                        tap.v
                    ),
                );
            } else {
                seen.taps.insert(tap.v.to_owned(), i);
                p.exception_path = Some(tap.v.to_owned());
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// [[local_address_pool]] and [[route]]

/// Resolve an optional `port = "name"` key against the ports; records unknown names.
fn read_port_ref<'p>(
    t: &mut Tab<'_, '_>,
    sink: &mut Sink<'_>,
    ports: &'p [Port],
) -> Result<Option<&'p Port>, ()> {
    let Some(n) = t.str(sink, "port") else {
        return Ok(None);
    };
    match ports.iter().find(|p| p.name == n.v) {
        Some(p) => Ok(Some(p)),
        None => {
            let names: Vec<&str> = ports.iter().map(|p| p.name.as_str()).collect();
            sink.error(
                &n.span,
                &t.key_path("port"),
                format!("unknown port \"{}\"; ports are: {}", n.v, names.join(", ")),
            );
            Err(())
        }
    }
}

fn read_pools(
    root: &mut Tab<'_, '_>,
    sink: &mut Sink<'_>,
    ports: &[Port],
) -> Vec<LocalAddressPool> {
    let mut pools = Vec::new();
    let mut names: HashMap<String, usize> = HashMap::new();
    for (i, mut t) in root
        .tables(sink, "local_address_pool")
        .into_iter()
        .enumerate()
    {
        let mut pool = LocalAddressPool {
            name: String::new(),
            addresses: Vec::new(),
            port: String::new(),
        };
        if let Some(n) = t.req_str(sink, "name") {
            let path = t.key_path("name");
            if !valid_name(n.v) {
                sink.error(
                    &n.span,
                    &path,
                    format!(
                        "\"{}\" is not a valid name: a letter, then letters, digits, _ or -",
                        n.v
                    ),
                );
            } else if let Some(first) = names.get(n.v) {
                sink.error(
                    &n.span,
                    &path,
                    format!(
                        "duplicate pool name \"{}\" (first used by local_address_pool[{first}])",
                        n.v
                    ),
                );
            } else {
                names.insert(n.v.to_owned(), i);
            }
            pool.name = n.v.to_owned();
        }
        let port = read_port_ref(&mut t, sink, ports);
        let explicit = port.ok().flatten();
        let mut pool_port: Option<&Port> = explicit;
        if !t.has("addresses") {
            t.raw("addresses");
            t.missing(sink, "addresses");
        }
        if let Some(list) = t.strings(sink, "addresses") {
            let base = t.key_path("addresses");
            if list.is_empty() {
                sink.error(&t.span(), &base, "a pool needs at least one address");
            }
            for (j, a) in list.iter().enumerate() {
                let path = format!("{base}[{j}]");
                let Some(ip) = parse_ip(sink, a, &path) else {
                    continue;
                };
                if pool.addresses.contains(&ip) {
                    sink.error(
                        &a.span,
                        &path,
                        format!("duplicate address {ip} in the pool"),
                    );
                    continue;
                }
                pool.addresses.push(ip);
                if port.is_err() {
                    continue;
                }
                let on = |p: &Port| p.addresses.iter().any(|n| n.contains(ip));
                match (explicit, pool_port, port_for(ports, ip)) {
                    (Some(p), _, _) if on(p) => {}
                    (Some(p), _, _) => sink.error(
                        &a.span,
                        &path,
                        format!("local address {ip} is not on port {}'s networks ({})", p.name, networks(p)),
                    ),
                    (None, _, None) => sink.error(
                        &a.span,
                        &path,
                        format!("local address {ip} is not on any port's networks; add a covering address to a [[port]]"),
                    ),
                    (None, None, Some(p)) => pool_port = Some(p),
                    (None, Some(pp), Some(_)) if on(pp) => {}
                    (None, Some(pp), Some(p)) => sink.error(
                        &a.span,
                        &path,
                        format!(
                            "local address {ip} is on port {}, but the pool's first address is on port {}; a pool lives on one port",
                            p.name, pp.name
                        ),
                    ),
                }
            }
        }
        pool.port = pool_port.map(|p| p.name.clone()).unwrap_or_default();
        t.finish(sink);
        pools.push(pool);
    }
    pools
}

fn read_routes(root: &mut Tab<'_, '_>, sink: &mut Sink<'_>, ports: &[Port]) -> Vec<Route> {
    let mut routes = Vec::new();
    let mut seen: HashMap<Prefix, usize> = HashMap::new();
    for (i, mut t) in root.tables(sink, "route").into_iter().enumerate() {
        let prefix = t.req_str(sink, "prefix").and_then(|a| {
            let path = t.key_path("prefix");
            match Prefix::parse(a.v) {
                Err(m) => {
                    sink.error(&a.span, &path, m);
                    None
                }
                Ok(p) if p.network() != p.addr => {
                    sink.error(
                        &a.span,
                        &path,
                        format!(
                            "{p} has host bits set; did you mean {}/{}?",
                            p.network(),
                            p.len
                        ),
                    );
                    None
                }
                Ok(p) => {
                    if let Some(first) = seen.get(&p) {
                        sink.error(
                            &a.span,
                            &path,
                            format!("duplicate route {p} (first in route[{first}])"),
                        );
                    } else {
                        seen.insert(p, i);
                    }
                    Some(p)
                }
            }
        });
        let via_at = t.req_str(sink, "via");
        let via = via_at
            .as_ref()
            .and_then(|a| parse_ip(sink, a, &t.key_path("via")));
        let port = read_port_ref(&mut t, sink, ports);
        let mut port_name = String::new();
        if let (Some(via), Some(va)) = (via, &via_at) {
            let path = t.key_path("via");
            if let Some(p) = prefix.filter(|p| p.addr.is_ipv4() != via.is_ipv4()) {
                sink.error(
                    &va.span,
                    &path,
                    format!("next hop {via} is not in the same address family as {p}"),
                );
            }
            if let Some(p) = on_link_port(sink, (&va.span, &path), ports, port, via, "next hop") {
                port_name.clone_from(&p.name);
            }
        }
        t.finish(sink);
        if let (Some(prefix), Some(via)) = (prefix, via) {
            routes.push(Route {
                prefix,
                via,
                port: port_name,
            });
        }
    }
    routes
}

fn read_neighbours(
    root: &mut Tab<'_, '_>,
    sink: &mut Sink<'_>,
    ports: &[Port],
    pools: &[LocalAddressPool],
) -> Vec<Neighbour> {
    let mut out = Vec::new();
    let mut seen: HashMap<IpAddr, usize> = HashMap::new();
    for (i, mut t) in root.tables(sink, "neighbour").into_iter().enumerate() {
        let addr_at = t.req_str(sink, "address");
        let address = addr_at
            .as_ref()
            .and_then(|a| parse_ip(sink, a, &t.key_path("address")));
        let mac = t
            .req_str(sink, "mac")
            .and_then(|m| parse_unicast_mac(sink, &m, &t.key_path("mac"), "a neighbour"));
        let port = read_port_ref(&mut t, sink, ports);
        let mut port_name = String::new();
        if let (Some(ip), Some(a)) = (address, &addr_at) {
            let path = t.key_path("address");
            let own = ports
                .iter()
                .find(|p| p.addresses.iter().any(|n| n.addr == ip));
            let pool = pools.iter().find(|p| p.addresses.contains(&ip));
            if let Some(first) = seen.get(&ip) {
                sink.error(
                    &a.span,
                    &path,
                    format!("duplicate neighbour {ip} (first in neighbour[{first}])"),
                );
            } else {
                seen.insert(ip, i);
            }
            if ip.is_loopback() {
                sink.error(
                    &a.span,
                    &path,
                    format!("{ip}: a loopback address is not allowed here"),
                );
            } else if let Some(p) = own {
                sink.error(
                    &a.span,
                    &path,
                    format!("{ip} is the gateway's own address on port {}", p.name),
                );
            } else if let Some(p) = pool {
                sink.error(
                    &a.span,
                    &path,
                    format!("{ip} is a local address of pool {}", p.name),
                );
            } else {
                if let Some(p) = on_link_port(sink, (&a.span, &path), ports, port, ip, "neighbour")
                {
                    port_name.clone_from(&p.name);
                }
            }
        }
        t.finish(sink);
        if let (Some(address), Some(mac)) = (address, mac) {
            out.push(Neighbour {
                address,
                mac,
                port: port_name,
            });
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// [[service]]

/// Parse `addr`, `addr:port`, `[v6]:port` or bare v6.
fn parse_addr_port(s: &str) -> Option<(IpAddr, Option<u16>)> {
    if let Ok(sa) = s.parse::<SocketAddr>() {
        return Some((sa.ip(), Some(sa.port())));
    }
    let s = s
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .unwrap_or(s);
    s.parse::<IpAddr>().ok().map(|ip| (ip, None))
}

/// Return the prefix length of a contiguous dotted IPv4 netmask.
fn netmask_len(s: &str) -> Option<u8> {
    let m = u32::from(s.parse::<std::net::Ipv4Addr>().ok()?);
    let len = m.leading_ones();
    (m.checked_shl(len).unwrap_or(0) == 0).then(|| u8::try_from(len).ok())?
}

/// What every real server of a service needs to know about it.
struct SvcCtx<'a> {
    vip: Option<IpAddr>,
    port: Option<u16>,
    forward: Forward,
    health_check: &'a HealthCheck,
}

fn read_services(
    root: &mut Tab<'_, '_>,
    sink: &mut Sink<'_>,
    pools: &[LocalAddressPool],
    syn_proxy_use: &mut Option<(Range<usize>, String)>,
) -> Vec<Service> {
    let mut services = Vec::new();
    let mut seen: HashMap<(IpAddr, u16, Protocol), usize> = HashMap::new();
    for (i, mut t) in root.tables(sink, "service").into_iter().enumerate() {
        let vip_at = t.req_str(sink, "vip");
        let vip = vip_at.as_ref().and_then(|a| {
            let ip = parse_ip(sink, a, &t.key_path("vip"))?;
            if ip.is_loopback() {
                sink.error(
                    &a.span,
                    &t.key_path("vip"),
                    format!("{ip}: a loopback address cannot be a VIP"),
                );
                return None;
            }
            Some(ip)
        });
        let port_at = if t.has("port") {
            t.int(sink, "port", 0, 65535)
        } else {
            t.raw("port");
            t.missing(sink, "port");
            None
        };
        let persistence = read_persistence(&mut t, sink);
        let port = port_at.as_ref().and_then(|p| u16::try_from(p.v).ok());
        if let (Some(0), Some(p), None) = (port, &port_at, persistence) {
            sink.error(
                &p.span,
                &t.key_path("port"),
                "port 0 is allowed only for a persistent service (ipvsadm: \"Zero port specified for non-persistent service\")",
            );
        }
        let protocol = read_protocol(&mut t, sink);
        if let (Some(vip), Some(port), Some(va)) = (vip, port, &vip_at) {
            if let Some(first) = seen.get(&(vip, port, protocol)) {
                let sa = SocketAddr::new(vip, port);
                sink.error(
                    &va.span,
                    &t.key_path("vip"),
                    format!(
                        "duplicate service {} {sa} (first defined as service[{first}])",
                        protocol.as_str()
                    ),
                );
            } else {
                seen.insert((vip, port, protocol), i);
            }
        }
        let scheduler = read_scheduler(&mut t, sink);
        let sched_flags = read_sched_flags(&mut t, sink, scheduler);
        let v6 = vip.is_some_and(|v| v.is_ipv6());
        let persistence_prefix_len = read_persistence_netmask(&mut t, sink, v6, persistence);
        let forward = read_forward(&mut t, sink);
        let pool_at = t.str(sink, "local_address_pool");
        let toa_at = t.str(sink, "toa");
        let pp_at = t.str(sink, "proxy_protocol");
        let mss_clamp = read_mss_clamp(&mut t, sink, protocol);
        let sp_at = t.str(sink, "syn_proxy");
        let sorry_at = t.str(sink, "sorry_server");
        let sloppy_at = t.bool(sink, "sloppy_tcp");
        let admission = crate::admission::read_service_admission(&mut t, sink);
        let health_check = t
            .table(sink, "health_check")
            .map_or_else(HealthCheck::none, |h| read_health_check(h, sink));

        let ctx = SvcCtx {
            vip,
            port,
            forward,
            health_check: &health_check,
        };
        let real_servers = read_real_servers(&mut t, sink, &ctx);

        let fullnat = forward == Forward::FullNat
            || real_servers.iter().any(|r| r.forward == Forward::FullNat);
        let local_address_pool =
            read_pool_choice(&t, sink, pools, pool_at.as_ref(), fullnat, &real_servers);
        let backends = (forward, real_servers.as_slice(), sorry_at.is_some());
        let proxy_protocol = read_proxy_protocol(&t, sink, pp_at.as_ref(), protocol, backends);
        let toa = if proxy_protocol == ProxyProtocol::Off {
            read_toa(&t, sink, toa_at.as_ref(), fullnat, protocol)
        } else {
            refuse_toa_with_proxy(&t, sink, toa_at.as_ref())
        };
        let syn_proxy = read_syn_proxy_mode(
            &t,
            sink,
            sp_at.as_ref(),
            (protocol, backends),
            proxy_protocol,
        );
        if syn_proxy != SynProxyMode::Off && syn_proxy_use.is_none() {
            if let Some(a) = &sp_at {
                *syn_proxy_use = Some((a.span.clone(), t.key_path("syn_proxy")));
            }
        }
        let sorry_server = sorry_at.as_ref().and_then(|a| {
            let path = t.key_path("sorry_server");
            let Some((ip, p)) = parse_addr_port(a.v) else {
                sink.error(&a.span, &path, format!("\"{}\" is not ADDRESS or ADDRESS:PORT (IPv6 as [ADDRESS]:PORT)", a.v));
                return None;
            };
            if let Some(m) = bad_unicast(ip) {
                sink.error(&a.span, &path, format!("{ip}: {m}"));
                return None;
            }
            if vip.is_some_and(|v| v.is_ipv4() != ip.is_ipv4()) {
                sink.error(&a.span, &path, format!("sorry server {ip} is not in the VIP's address family"));
                return None;
            }
            let port = port.unwrap_or(0);
            let sp = p.unwrap_or(port);
            if sp == 0 && port != 0 {
                sink.error(&a.span, &path, "port 0 is allowed only when the service port is 0");
                return None;
            }
            if matches!(forward, Forward::Dr | Forward::Tun) && sp != port {
                sink.error(
                    &a.span,
                    &path,
                    format!("port {sp} differs from the service port {port}: {} forwarding cannot change the port", forward.as_str()),
                );
                return None;
            }
            Some(SocketAddr::new(ip, sp))
        });
        let svc = Service {
            vip: vip.unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)),
            port: port.unwrap_or(0),
            protocol,
            scheduler,
            sched_flags,
            persistence_s: persistence,
            persistence_prefix_len,
            forward,
            local_address_pool,
            toa,
            proxy_protocol,
            mss_clamp,
            syn_proxy,
            sorry_server,
            health_check,
            real_servers,
            sloppy_tcp: sloppy_at.as_ref().map(|a| a.v),
            admission,
        };
        if let Some(a) = &sloppy_at {
            check_sloppy_tcp(&svc, a, &t.key_path("sloppy_tcp"), sink);
        }
        t.finish(sink);
        services.push(svc);
    }
    services
}

/// `local_address_pool`: required with FullNAT forwarding (and only there), naming a pool that
/// has an address of each FullNAT real server's family.
fn read_pool_choice(
    t: &Tab<'_, '_>,
    sink: &mut Sink<'_>,
    pools: &[LocalAddressPool],
    pool_at: Option<&At<&str>>,
    fullnat: bool,
    real_servers: &[RealServer],
) -> Option<String> {
    let mut local_address_pool = None;
    match (pool_at, fullnat) {
        (Some(p), true) => match pools.iter().find(|x| x.name == p.v) {
            Some(pool) => {
                local_address_pool = Some(pool.name.clone());
                for rs in real_servers {
                    if rs.forward == Forward::FullNat && !pool.addresses.iter().any(|a| a.is_ipv4() == rs.address.is_ipv4()) {
                        let fam = if rs.address.is_ipv4() { "IPv4" } else { "IPv6" };
                        sink.error(
                            &p.span,
                            &t.key_path("local_address_pool"),
                            format!("pool \"{}\" has no {fam} address to reach real server {}", pool.name, rs.address),
                        );
                    }
                }
            }
            None => {
                let names: Vec<&str> = pools.iter().map(|x| x.name.as_str()).collect();
                let known = if names.is_empty() { "none is defined".to_owned() } else { format!("pools are: {}", names.join(", ")) };
                sink.error(&p.span, &t.key_path("local_address_pool"), format!("unknown local address pool \"{}\"; {known}", p.v));
            }
        },
        (Some(p), false) => sink.error(&p.span, &t.key_path("local_address_pool"), "local_address_pool applies only to fullnat forwarding"),
        (None, true) => sink.error(
            &t.span(),
            &t.key_path("local_address_pool"),
            "fullnat forwarding needs a local_address_pool (the source addresses towards the real servers)",
        ),
        (None, false) => {}
    }
    local_address_pool
}

/// `toa`: ack by default for TCP FullNAT, off elsewhere (and refused there).
fn read_toa(
    t: &Tab<'_, '_>,
    sink: &mut Sink<'_>,
    toa_at: Option<&At<&str>>,
    fullnat: bool,
    protocol: Protocol,
) -> Toa {
    let mut toa = if fullnat && protocol == Protocol::Tcp {
        Toa::Ack
    } else {
        Toa::Off
    };
    if let Some(a) = toa_at {
        let path = t.key_path("toa");
        match a.v.parse::<Toa>().ok() {
            None => sink.error(
                &a.span,
                &path,
                format!(
                    "unknown toa mode \"{}\"; expected one of: off, syn, ack",
                    a.v
                ),
            ),
            Some(m) if m != Toa::Off && !(fullnat && protocol == Protocol::Tcp) => sink.error(
                &a.span,
                &path,
                "toa applies only to TCP services with fullnat forwarding",
            ),
            Some(m) => toa = m,
        }
    }
    toa
}

/// Smallest and largest `mss_clamp` (bytes): RFC 9293's default MSS, and a 9000-byte jumbo
/// frame's.
pub const MSS_CLAMP_RANGE: (u16, u16) = (536, 9000);

/// `mss_clamp`: off by default; a TCP service's MSS limit in [`MSS_CLAMP_RANGE`].
fn read_mss_clamp(t: &mut Tab<'_, '_>, sink: &mut Sink<'_>, protocol: Protocol) -> Option<u16> {
    let (lo, hi) = MSS_CLAMP_RANGE;
    let a = t.int(sink, "mss_clamp", i64::from(lo), i64::from(hi))?;
    if protocol != Protocol::Tcp {
        sink.error(
            &a.span,
            &t.key_path("mss_clamp"),
            "mss_clamp applies only to TCP services (UDP has no MSS)",
        );
        return None;
    }
    u16::try_from(a.v).ok()
}

/// `syn_proxy`: off by default; on only for a TCP service whose real servers, and sorry server,
/// are all NAT or FullNAT (the gateway translates sequence numbers both ways), not with `proxy_protocol`;
/// `auto` under the same conditions.
fn read_syn_proxy_mode(
    t: &Tab<'_, '_>,
    sink: &mut Sink<'_>,
    at: Option<&At<&str>>,
    (protocol, backends): (Protocol, Backends<'_>),
    pp: ProxyProtocol,
) -> SynProxyMode {
    let Some(a) = at else {
        return SynProxyMode::Off;
    };
    let path = t.key_path("syn_proxy");
    let m = match a.v {
        "off" => return SynProxyMode::Off,
        "on" => SynProxyMode::On,
        "auto" => SynProxyMode::Auto,
        other => {
            sink.error(
                &a.span,
                &path,
                format!("unknown syn_proxy \"{other}\"; expected one of: off, on, auto"),
            );
            return SynProxyMode::Off;
        }
    };
    let why = if protocol != Protocol::Tcp {
        Some("syn_proxy applies only to TCP services (UDP has no handshake)".to_owned())
    } else if let Some(note) = own_forward_bypasses(backends) {
        Some(format!(
            "syn_proxy needs nat or fullnat forwarding, not {}{note}: the gateway must see the replies to translate their sequence numbers",
            backends.0.as_str()
        ))
    } else if let Some(rs) = backends.1.iter().find(|r| !r.forward.sees_replies()) {
        Some(format!(
            "syn_proxy needs nat or fullnat forwarding: real server {} uses {}, whose replies bypass the gateway, so their sequence numbers cannot be translated",
            rs.address,
            rs.forward.as_str()
        ))
    } else if pp != ProxyProtocol::Off {
        Some("syn_proxy and proxy_protocol cannot be combined on one service".to_owned())
    } else {
        None
    };
    if let Some(m) = why {
        sink.error(&a.span, &path, m);
        return SynProxyMode::Off;
    }
    m
}

/// `proxy_protocol`: off by default; v1 or v2 only on a TCP service whose real servers, and
/// sorry server, are all NAT or FullNAT (the gateway must see the replies to translate their acknowledgements).
fn read_proxy_protocol(
    t: &Tab<'_, '_>,
    sink: &mut Sink<'_>,
    at: Option<&At<&str>>,
    protocol: Protocol,
    (forward, real_servers, sorry): Backends<'_>,
) -> ProxyProtocol {
    let Some(a) = at else {
        return ProxyProtocol::Off;
    };
    let path = t.key_path("proxy_protocol");
    let Ok(m) = a.v.parse::<ProxyProtocol>() else {
        sink.error(
            &a.span,
            &path,
            format!(
                "unknown proxy_protocol \"{}\"; expected one of: off, v1, v2",
                a.v
            ),
        );
        return ProxyProtocol::Off;
    };
    if m == ProxyProtocol::Off {
        return m;
    }
    if protocol != Protocol::Tcp {
        sink.error(
            &a.span,
            &path,
            "proxy_protocol applies only to TCP services (no UDP form is implemented)",
        );
        return ProxyProtocol::Off;
    }
    if let Some(note) = own_forward_bypasses((forward, real_servers, sorry)) {
        sink.error(
            &a.span,
            &path,
            format!(
                "proxy_protocol needs nat or fullnat forwarding, not {}{note}",
                forward.as_str()
            ),
        );
        return ProxyProtocol::Off;
    }
    if let Some(rs) = real_servers.iter().find(|r| !r.forward.sees_replies()) {
        sink.error(
            &a.span,
            &path,
            format!(
                "proxy_protocol needs nat or fullnat forwarding: real server {} uses {}, whose replies bypass the gateway, so their acknowledgements cannot be translated",
                rs.address,
                rs.forward.as_str()
            ),
        );
        return ProxyProtocol::Off;
    }
    m
}

/// `toa` on a service with `proxy_protocol`: off by default there; any other value refused
/// (one way to carry the client address per service).
fn refuse_toa_with_proxy(t: &Tab<'_, '_>, sink: &mut Sink<'_>, toa_at: Option<&At<&str>>) -> Toa {
    if let Some(a) = toa_at.filter(|a| a.v != "off") {
        sink.error(
            &a.span,
            &t.key_path("toa"),
            "toa and proxy_protocol both carry the client address: set toa = \"off\" (the default with proxy_protocol) or proxy_protocol = \"off\"",
        );
    }
    Toa::Off
}

/// `protocol`: tcp (the default) or udp.
fn read_protocol(t: &mut Tab<'_, '_>, sink: &mut Sink<'_>) -> Protocol {
    let mut protocol = Protocol::Tcp;
    if let Some(p) = t.str(sink, "protocol") {
        match p.v {
            "tcp" => protocol = Protocol::Tcp,
            "udp" => protocol = Protocol::Udp,
            other => sink.error(
                &p.span,
                &t.key_path("protocol"),
                format!("unknown protocol \"{other}\"; expected \"tcp\" or \"udp\""),
            ),
        }
    }
    protocol
}

/// `scheduler`: one of ipvsadm's (wlc by default).
fn read_scheduler(t: &mut Tab<'_, '_>, sink: &mut Sink<'_>) -> Scheduler {
    let mut scheduler = Scheduler::Wlc;
    if let Some(s) = t.str(sink, "scheduler") {
        match s.v.parse::<Scheduler>().ok() {
            Some(k) => scheduler = k,
            None => {
                let names: Vec<&str> = Scheduler::ALL.iter().map(|k| k.as_str()).collect();
                sink.error(
                    &s.span,
                    &t.key_path("scheduler"),
                    format!(
                        "unknown scheduler \"{}\"; expected one of: {}",
                        s.v,
                        names.join(", ")
                    ),
                );
            }
        }
    }
    scheduler
}

/// `sched_flags`: each known, for this scheduler, once.
fn read_sched_flags(
    t: &mut Tab<'_, '_>,
    sink: &mut Sink<'_>,
    scheduler: Scheduler,
) -> Vec<SchedFlag> {
    let mut sched_flags = Vec::new();
    if let Some(list) = t.strings(sink, "sched_flags") {
        let base = t.key_path("sched_flags");
        for (j, f) in list.iter().enumerate() {
            let path = format!("{base}[{j}]");
            match f.v.parse::<SchedFlag>().ok() {
                None => {
                    let names: Vec<&str> = SchedFlag::ALL.iter().map(|k| k.as_str()).collect();
                    sink.error(&f.span, &path, format!("unknown scheduler flag \"{}\"; expected one of: {}", f.v, names.join(", ")));
                }
                Some(flag) if flag.scheduler() != scheduler => sink.error(
                    &f.span,
                    &path,
                    format!(
                        "{} is valid only with scheduler \"{}\", not \"{}\" (ipvsadm: \"incompatible scheduler flag\")",
                        flag.as_str(),
                        flag.scheduler().as_str(),
                        scheduler.as_str()
                    ),
                ),
                Some(flag) if sched_flags.contains(&flag) => sink.error(&f.span, &path, format!("duplicate flag {}", flag.as_str())),
                Some(flag) => sched_flags.push(flag),
            }
        }
    }
    sched_flags
}

/// `persistence_netmask`: an IPv4 netmask or a prefix length (IPv6: a prefix length), only with
/// persistence; the host's full length without it.
fn read_persistence_netmask(
    t: &mut Tab<'_, '_>,
    sink: &mut Sink<'_>,
    v6: bool,
    persistence: Option<u32>,
) -> u8 {
    let mut persistence_prefix_len = if v6 { 128 } else { 32 };
    if let Some(val) = t.raw("persistence_netmask") {
        let path = t.key_path("persistence_netmask");
        let len = match (val.get_ref(), v6) {
            (DeValue::String(s), false) => netmask_len(s).or_else(|| {
                sink.error(
                    &val.span(),
                    &path,
                    format!("\"{s}\" is not a contiguous IPv4 netmask like \"255.255.255.0\""),
                );
                None
            }),
            (DeValue::Integer(_), _) => as_int(sink, val, &path, 0, if v6 { 128 } else { 32 })
                .and_then(|n| u8::try_from(n).ok()),
            (_, false) => {
                wrong_type(
                    sink,
                    val,
                    &path,
                    "an IPv4 netmask string or a prefix length",
                );
                None
            }
            (_, true) => {
                wrong_type(sink, val, &path, "an IPv6 prefix length (integer)");
                None
            }
        };
        if persistence.is_none() {
            sink.error(&val.span(), &path, "persistence_netmask needs persistence");
        } else if let Some(len) = len {
            persistence_prefix_len = len;
        }
    }
    persistence_prefix_len
}

/// `forward`: the service's default forwarding method (dr).
fn read_forward(t: &mut Tab<'_, '_>, sink: &mut Sink<'_>) -> Forward {
    let mut forward = Forward::Dr;
    if let Some(f) = t.str(sink, "forward") {
        match f.v.parse::<Forward>().ok() {
            Some(m) => forward = m,
            None => sink.error(
                &f.span,
                &t.key_path("forward"),
                format!(
                    "unknown forwarding method \"{}\"; expected one of: dr, nat, tun, fullnat",
                    f.v
                ),
            ),
        }
    }
    forward
}

/// Every `[[service.real_server]]`, each address:port once.
fn read_real_servers(
    t: &mut Tab<'_, '_>,
    sink: &mut Sink<'_>,
    ctx: &SvcCtx<'_>,
) -> Vec<RealServer> {
    let mut real_servers = Vec::new();
    let mut rs_seen: HashMap<(IpAddr, u16), usize> = HashMap::new();
    for (j, rt) in t.tables(sink, "real_server").into_iter().enumerate() {
        if let Some((rs, addr_span)) = read_real_server(rt, sink, ctx) {
            if let Some(first) = rs_seen.get(&(rs.address, rs.port)) {
                sink.error(
                    &addr_span,
                    &format!("{}.real_server[{j}].address", t.path()),
                    format!(
                        "duplicate real server {} (first defined as real_server[{first}])",
                        SocketAddr::new(rs.address, rs.port)
                    ),
                );
            } else {
                rs_seen.insert((rs.address, rs.port), j);
            }
            real_servers.push(rs);
        }
    }
    real_servers
}

/// Refuse a `sloppy_tcp` that cannot do what it says: on a UDP service (every datagram starts
/// a flow anyway), or `true` where gateways would not agree on the real server.
fn check_sloppy_tcp(svc: &Service, a: &At<bool>, path: &str, sink: &mut Sink<'_>) {
    if svc.protocol != Protocol::Tcp {
        sink.error(
            &a.span,
            path,
            "sloppy_tcp applies only to TCP services (every UDP datagram may start a flow)",
        );
    } else if a.v && !svc.scheduler.is_consistent() {
        sink.error(
            &a.span,
            path,
            format!(
                "sloppy_tcp = true needs a consistent scheduler (sh, dh or mh), not \"{}\": \
                 another gateway's choice for the flow cannot be known",
                svc.scheduler.as_str()
            ),
        );
    } else if a.v && !svc.sloppy_tcp_possible() {
        sink.error(
            &a.span,
            path,
            "sloppy_tcp = true needs dr or tun forwarding for every real server and the sorry \
             server (nat and fullnat replies must return through the gateway that owns the flow)",
        );
    }
}

/// The service's `forward`, its real servers, and whether it has a sorry server.
type Backends<'a> = (Forward, &'a [RealServer], bool);

/// When the service's own `forward` carries flows (it has no real servers, or a sorry server,
/// which forwards with it) and their replies bypass the gateway: what the refusal adds.
fn own_forward_bypasses((forward, real_servers, sorry): Backends<'_>) -> Option<&'static str> {
    if forward.sees_replies() {
        None
    } else if real_servers.is_empty() {
        Some("")
    } else if sorry {
        Some(" (the sorry server forwards with the service's forward)")
    } else {
        None
    }
}

/// Read `persistence`: `true` = 360 s, `false` = off, or seconds in 1..=31 days.
fn read_persistence(t: &mut Tab<'_, '_>, sink: &mut Sink<'_>) -> Option<u32> {
    let val = t.raw("persistence")?;
    let path = t.key_path("persistence");
    match val.get_ref() {
        DeValue::Boolean(b) => b.then_some(DEFAULT_PERSISTENCE_S),
        DeValue::Integer(_) => as_int(sink, val, &path, 1, i64::from(MAX_TIMEOUT_S))
            .and_then(|n| u32::try_from(n).ok()),
        _ => {
            wrong_type(sink, val, &path, "a boolean or a number of seconds");
            None
        }
    }
}

/// Read one real server; returns it with the span of its address.
fn read_real_server(
    mut t: Tab<'_, '_>,
    sink: &mut Sink<'_>,
    svc: &SvcCtx<'_>,
) -> Option<(RealServer, Range<usize>)> {
    let addr_at = t.req_str(sink, "address");
    let address = addr_at.as_ref().and_then(|a| {
        let path = t.key_path("address");
        let ip = parse_ip(sink, a, &path)?;
        if ip.is_loopback() {
            sink.error(
                &a.span,
                &path,
                format!("{ip}: a loopback address cannot be a real server"),
            );
            return None;
        }
        Some(ip)
    });
    let port_at = t.int(sink, "port", 0, 65535);
    let mut forward = svc.forward;
    if let Some(f) = t.str(sink, "forward") {
        match f.v.parse::<Forward>().ok() {
            Some(m) => forward = m,
            None => sink.error(
                &f.span,
                &t.key_path("forward"),
                format!(
                    "unknown forwarding method \"{}\"; expected one of: dr, nat, tun, fullnat",
                    f.v
                ),
            ),
        }
    }
    let svc_port = svc.port.unwrap_or(0);
    let port = match &port_at {
        None => svc_port,
        Some(p) => {
            let path = t.key_path("port");
            let n = u16::try_from(p.v).unwrap_or(0);
            if matches!(forward, Forward::Dr | Forward::Tun) && n != svc_port && svc.port.is_some()
            {
                sink.error(
                    &p.span,
                    &path,
                    format!(
                        "port {n} differs from the service port {svc_port}: {} forwarding cannot change the port (ipvsadm forces the virtual port for -g/-i)",
                        forward.as_str()
                    ),
                );
            } else if n == 0 && svc_port != 0 {
                sink.error(
                    &p.span,
                    &path,
                    "port 0 is allowed only when the service port is 0",
                );
            }
            n
        }
    };
    if let (Some(vip), Some(addr), Some(a)) = (svc.vip, address, &addr_at) {
        if vip.is_ipv4() != addr.is_ipv4() {
            let msg = if forward == Forward::Tun {
                format!("{addr} is not in the address family of VIP {vip}: ipvsadm allows mixed families only for tunnelling, and ferrovs does not support mixed-family tunnels yet")
            } else {
                format!("{addr} is not in the address family of VIP {vip} (ipvsadm: \"Different address family is allowed only for tunneling servers\")")
            };
            sink.error(&a.span, &t.key_path("address"), msg);
        }
    }
    let weight = t.u32(sink, "weight", 0, 65535).map_or(1, |a| a.v);
    let max = u32::try_from(i32::MAX).unwrap_or(u32::MAX);
    let u = t.u32(sink, "u_threshold", 0, max);
    let l = t.u32(sink, "l_threshold", 0, max);
    let (u_threshold, l_threshold) = (u.as_ref().map_or(0, |a| a.v), l.as_ref().map_or(0, |a| a.v));
    if let Some(la) = l.as_ref().filter(|a| a.v > 0) {
        let path = t.key_path("l_threshold");
        if u_threshold == 0 {
            sink.error(&la.span, &path, "l_threshold needs u_threshold");
        } else if la.v >= u_threshold {
            sink.error(
                &la.span,
                &path,
                format!("{} must be lower than u_threshold {u_threshold}", la.v),
            );
        }
    }
    let health_check = t
        .table(sink, "health_check")
        .map(|h| read_health_check(h, sink));
    let effective = health_check.as_ref().unwrap_or(svc.health_check);
    if port == 0
        && effective.port.is_none()
        && matches!(effective.kind, CheckKind::Tcp | CheckKind::Http(_))
    {
        sink.error(
            &t.span(),
            &t.key_path("health_check.port"),
            format!(
                "a {} check needs health_check.port when the real server port is 0",
                effective.kind.name()
            ),
        );
    }
    t.finish(sink);
    let (address, a) = (address?, addr_at?);
    Some((
        RealServer {
            address,
            port,
            weight,
            u_threshold,
            l_threshold,
            forward,
            health_check,
        },
        a.span,
    ))
}

/// Keys of a health check table and the check types they apply to.
const CHECK_KEYS: [(&str, &[&str]); 13] = [
    ("interval", &["tcp", "http", "command"]),
    ("timeout", &["tcp", "http", "command"]),
    ("retries", &["tcp", "http", "command"]),
    ("rise", &["tcp", "http", "command"]),
    ("fall", &["tcp", "http", "command"]),
    ("inhibit_on_failure", &["tcp", "http", "command"]),
    ("on_failure_sessions", &["tcp", "http", "command"]),
    ("port", &["tcp", "http"]),
    ("path", &["http"]),
    ("status", &["http"]),
    ("host", &["http"]),
    ("digest", &["http"]),
    ("command", &["command"]),
];

fn read_health_check(mut t: Tab<'_, '_>, sink: &mut Sink<'_>) -> HealthCheck {
    let kind_at = t.req_str(sink, "type");
    let kind_name = match kind_at.as_ref().map(|a| a.v) {
        Some(k @ ("tcp" | "http" | "command" | "none")) => Some(k),
        Some(other) => {
            if let Some(a) = &kind_at {
                sink.error(
                    &a.span,
                    &t.key_path("type"),
                    format!(
                        "unknown check type \"{other}\"; expected one of: tcp, http, command, none"
                    ),
                );
            }
            None
        }
        None => None,
    };
    let mut hc = HealthCheck::none();
    if let Some(a) = t.u32(sink, "interval", 1, 86400) {
        hc.interval_s = a.v;
    }
    if let Some(a) = t.u32(sink, "timeout", 1, 3600) {
        hc.timeout_s = a.v;
    }
    if let Some(a) = t.u32(sink, "retries", 0, 100) {
        hc.retries = a.v;
    }
    if let Some(a) = t.u32(sink, "rise", 1, 100) {
        hc.rise = a.v;
    }
    if let Some(a) = t.u32(sink, "fall", 1, 100) {
        hc.fall = a.v;
    }
    if let Some(a) = t.int(sink, "port", 1, 65535) {
        hc.port = u16::try_from(a.v).ok();
    }
    if let Some(a) = t.bool(sink, "inhibit_on_failure") {
        hc.inhibit_on_failure = a.v;
    }
    if let Some(a) = t.str(sink, "on_failure_sessions") {
        match SessionsOnFailure::from_name(a.v) {
            Some(p) => hc.on_failure_sessions = p,
            None => sink.error(
                &a.span,
                &t.key_path("on_failure_sessions"),
                format!(
                    "unknown session policy \"{}\"; expected one of: keep, drop",
                    a.v
                ),
            ),
        }
    }
    let mut http = HttpCheck {
        path: "/".to_owned(),
        status: vec![200],
        host: None,
        digest: None,
    };
    if let Some(p) = t.str(sink, "path") {
        if p.v.starts_with('/') {
            p.v.clone_into(&mut http.path);
        } else {
            sink.error(
                &p.span,
                &t.key_path("path"),
                format!("\"{}\" must start with /", p.v),
            );
        }
    }
    if let Some(arr) = t.array(sink, "status") {
        let base = t.key_path("status");
        if arr.v.is_empty() {
            sink.error(&arr.span, &base, "at least one status code is needed");
        } else {
            let codes: Vec<u16> = arr
                .v
                .iter()
                .enumerate()
                .filter_map(|(i, v)| {
                    as_int(sink, v, &format!("{base}[{i}]"), 100, 599)
                        .and_then(|n| u16::try_from(n).ok())
                })
                .collect();
            http.status = codes;
        }
    }
    if let Some(h) = t.str(sink, "host") {
        if h.v.is_empty() || h.v.chars().any(|c| c.is_whitespace() || c.is_control()) {
            sink.error(
                &h.span,
                &t.key_path("host"),
                "host must be a non-empty header value without spaces",
            );
        } else {
            http.host = Some(h.v.to_owned());
        }
    }
    if let Some(d) = t.str(sink, "digest") {
        if d.v.len() == 32 && d.v.chars().all(|c| c.is_ascii_hexdigit()) {
            http.digest = Some(d.v.to_ascii_lowercase());
        } else {
            sink.error(
                &d.span,
                &t.key_path("digest"),
                format!("\"{}\" is not an MD5 digest (32 hex digits)", d.v),
            );
        }
    }
    let mut command = String::new();
    if let Some(c) = t.str(sink, "command") {
        if c.v.trim().is_empty() {
            sink.error(&c.span, &t.key_path("command"), "the command is empty");
        } else {
            c.v.clone_into(&mut command);
        }
    }
    if let Some(kind) = kind_name {
        for (key, kinds) in CHECK_KEYS {
            if t.has(key) && !kinds.contains(&kind) {
                let val = t.raw_span(key);
                let applies = kinds
                    .iter()
                    .map(|k| format!("\"{k}\""))
                    .collect::<Vec<_>>()
                    .join(" or ");
                sink.error(
                    &val,
                    &t.key_path(key),
                    format!("{key} does not apply to type \"{kind}\" (only to type {applies})"),
                );
            }
        }
        if kind == "command" && !t.has("command") {
            t.missing(sink, "command");
        }
        hc.kind = match kind {
            "tcp" => CheckKind::Tcp,
            "http" => CheckKind::Http(http),
            "command" => CheckKind::Command(CommandCheck { command }),
            _ => CheckKind::None,
        };
        if kind == "none" {
            hc = HealthCheck::none();
        }
    }
    t.finish(sink);
    hc
}

// ---------------------------------------------------------------------------------------------
// [timeouts] and [control]

fn read_timeouts(t: Option<Tab<'_, '_>>, sink: &mut Sink<'_>) -> Timeouts {
    let mut out = Timeouts::default();
    let Some(mut t) = t else {
        return out;
    };
    for (key, slot, default) in [
        ("tcp", &mut out.tcp_s, DEFAULT_TCP_TIMEOUT_S),
        ("tcpfin", &mut out.tcpfin_s, DEFAULT_TCPFIN_TIMEOUT_S),
        ("udp", &mut out.udp_s, DEFAULT_UDP_TIMEOUT_S),
    ] {
        if let Some(a) = t.u32(sink, key, 0, MAX_TIMEOUT_S) {
            // ipvsadm --set: 0 leaves the value at its default.
            *slot = if a.v == 0 { default } else { a.v };
        }
    }
    t.finish(sink);
    out
}

fn read_control(t: Option<Tab<'_, '_>>, sink: &mut Sink<'_>) -> Control {
    let mut out = Control {
        metrics_listen: SocketAddr::from(([127, 0, 0, 1], 9173)),
        admin_socket: DEFAULT_ADMIN_SOCKET.to_owned(),
        console: None,
    };
    let Some(mut t) = t else {
        return out;
    };
    if let Some(m) = t.str(sink, "metrics_listen") {
        match m.v.parse::<SocketAddr>() {
            Ok(sa) => out.metrics_listen = sa,
            Err(_) => sink.error(
                &m.span,
                &t.key_path("metrics_listen"),
                format!("\"{}\" is not ADDRESS:PORT like \"127.0.0.1:9173\"", m.v),
            ),
        }
    }
    if let Some(s) = t.str(sink, "admin_socket") {
        if s.v.starts_with('/') && s.v.len() < 108 {
            out.admin_socket = s.v.to_owned();
        } else {
            sink.error(
                &s.span,
                &t.key_path("admin_socket"),
                format!(
                    "\"{}\" must be an absolute path shorter than 108 bytes",
                    s.v
                ),
            );
        }
    }
    out.console = read_console(&mut t, sink, out.metrics_listen);
    t.finish(sink);
    out
}

/// `control.console`, `console_allow`, `console_users`: the web console (off without
/// `console`; the other two then refer to nothing and are refused).
fn read_console(t: &mut Tab<'_, '_>, sink: &mut Sink<'_>, metrics: SocketAddr) -> Option<Console> {
    let listen = t.str(sink, "console");
    let mut allow = Vec::new();
    if let Some(list) = t.strings(sink, "console_allow") {
        let base = t.key_path("console_allow");
        for (j, a) in list.iter().enumerate() {
            match Prefix::parse(a.v) {
                Ok(p) => allow.push(p),
                Err(m) => sink.error(&a.span, &format!("{base}[{j}]"), m),
            }
        }
        if list.is_empty() {
            sink.error(
                &t.raw_span("console_allow"),
                &base,
                "empty: no client could connect; leave it out for loopback only",
            );
        }
    } else {
        allow = crate::model::default_console_allow();
    }
    let mut users: Vec<ConsoleUser> = Vec::new();
    if let Some(list) = t.strings(sink, "console_users") {
        let base = t.key_path("console_users");
        for (j, u) in list.iter().enumerate() {
            let path = format!("{base}[{j}]");
            match ConsoleUser::parse(u.v) {
                Ok(u2) if users.iter().any(|x| x.name == u2.name) => {
                    sink.error(
                        &u.span,
                        &path,
                        format!("user \"{}\" is listed twice", u2.name),
                    );
                }
                Ok(u2) => users.push(u2),
                Err(m) => sink.error(&u.span, &path, m),
            }
        }
    }
    let Some(listen) = listen else {
        for key in ["console_allow", "console_users"] {
            if t.has(key) {
                sink.error(
                    &t.raw_span(key),
                    &t.key_path(key),
                    "set without control.console (the console is off)",
                );
            }
        }
        return None;
    };
    let addr = match listen.v.parse::<SocketAddr>() {
        Ok(a)
            if a == metrics
                || (a.port() == metrics.port()
                    && (a.ip().is_unspecified() || metrics.ip().is_unspecified())) =>
        {
            sink.error(
                &listen.span,
                &t.key_path("console"),
                format!("{a} is where control.metrics_listen listens; give the console a port of its own"),
            );
            return None;
        }
        Ok(a) => a,
        Err(_) => {
            sink.error(
                &listen.span,
                &t.key_path("console"),
                format!(
                    "\"{}\" is not ADDRESS:PORT like \"127.0.0.1:8081\"",
                    listen.v
                ),
            );
            return None;
        }
    };
    Some(Console {
        listen: addr,
        allow,
        users,
    })
}

// ---------------------------------------------------------------------------------------------
// [ha]

/// The most gratuitous ARPs one burst may send.
const MAX_GARP_REPEAT: u32 = 100;
/// The longest delay before the second burst (keepalived takes any; an hour is plenty).
const MAX_GARP_DELAY_S: u32 = 3600;
/// The longest refresh interval: a day.
const MAX_GARP_REFRESH_S: u32 = 86400;

fn read_ha(
    t: Option<Tab<'_, '_>>,
    sink: &mut Sink<'_>,
    ports: &[Port],
    pools: &[LocalAddressPool],
    services: &[Service],
) -> Ha {
    let mut out = Ha::default();
    let Some(mut t) = t else {
        return out;
    };
    let mode_at = t.str(sink, "mode");
    if let Some(m) = &mode_at {
        match HaMode::from_name(m.v) {
            Some(mode) => out.mode = mode,
            None => sink.error(
                &m.span,
                &t.key_path("mode"),
                format!(
                    "\"{}\" is not an HA mode: expected \"none\" or \"vrrp\"",
                    m.v
                ),
            ),
        }
    }
    if let (Some(m), HaMode::Vrrp) = (&mode_at, out.mode) {
        if !ports.iter().any(|p| p.exception_path.is_some()) {
            sink.error(
                &m.span,
                &t.key_path("mode"),
                "mode \"vrrp\" follows the addresses keepalived puts on the exception-path TAPs, \
                 but no [[port]] has exception_path",
            );
        }
    }
    if let Some(list) = t.strings(sink, "addresses") {
        let base = t.key_path("addresses");
        if out.mode == HaMode::None {
            sink.error(
                &t.raw_span("addresses"),
                &base,
                "addresses needs mode = \"vrrp\" (without HA every address is always owned)",
            );
        } else if list.is_empty() {
            sink.error(
                &t.raw_span("addresses"),
                &base,
                "the list is empty: leave the key out to follow every VIP and local address",
            );
        }
        let mut addrs = Vec::new();
        for (j, a) in list.iter().enumerate() {
            let path = format!("{base}[{j}]");
            let Some(ip) = parse_ip(sink, a, &path) else {
                continue;
            };
            if addrs.contains(&ip) {
                sink.error(&a.span, &path, format!("duplicate address {ip}"));
                continue;
            }
            let vip = services.iter().any(|s| s.vip == ip);
            let laddr = pools.iter().any(|p| p.addresses.contains(&ip));
            let own = ports
                .iter()
                .any(|p| p.addresses.iter().any(|a| a.addr == ip));
            if !vip && !laddr && !own {
                sink.error(
                    &a.span,
                    &path,
                    format!(
                        "{ip} is no service VIP, local address or port address: [ha] follows \
                         only addresses this gateway answers for"
                    ),
                );
                continue;
            }
            addrs.push(ip);
        }
        out.addresses = Some(addrs);
    }
    if let Some(n) = t.u32(sink, "garp_repeat", 0, MAX_GARP_REPEAT) {
        out.garp_repeat = n.v;
    }
    if let Some(n) = t.u32(sink, "garp_delay", 0, MAX_GARP_DELAY_S) {
        out.garp_delay_s = n.v;
    }
    if let Some(n) = t.u32(sink, "garp_refresh", 0, MAX_GARP_REFRESH_S) {
        out.garp_refresh_s = n.v;
    }
    t.finish(sink);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_keys() {
        assert_eq!(device_key("0000:03:00.0").as_deref(), Some("0000:03:00.0"));
        assert_eq!(device_key("03:00.1").as_deref(), Some("0000:03:00.1"));
        assert_eq!(device_key("0000:AF:00.7").as_deref(), Some("0000:af:00.7"));
        assert_eq!(
            device_key("net_pcap0,rx_pcap=a.pcap").as_deref(),
            Some("net_pcap0")
        );
        assert_eq!(
            device_key("eth_af_packet0,iface=eth1").as_deref(),
            Some("eth_af_packet0")
        );
        for bad in ["eth1", "03:00.8", "0000:03:00", "net_", "NET_PCAP0", ""] {
            assert_eq!(device_key(bad), None, "{bad}");
        }
    }

    #[test]
    fn netmasks() {
        assert_eq!(netmask_len("255.255.255.0"), Some(24));
        assert_eq!(netmask_len("255.255.255.255"), Some(32));
        assert_eq!(netmask_len("0.0.0.0"), Some(0));
        assert_eq!(netmask_len("255.0.255.0"), None);
        assert_eq!(netmask_len("24"), None);
    }

    #[test]
    fn addr_ports() {
        let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
        assert_eq!(parse_addr_port("10.0.0.1"), Some((ip("10.0.0.1"), None)));
        assert_eq!(
            parse_addr_port("10.0.0.1:80"),
            Some((ip("10.0.0.1"), Some(80)))
        );
        assert_eq!(
            parse_addr_port("[2001:db8::1]:80"),
            Some((ip("2001:db8::1"), Some(80)))
        );
        assert_eq!(
            parse_addr_port("[2001:db8::1]"),
            Some((ip("2001:db8::1"), None))
        );
        assert_eq!(
            parse_addr_port("2001:db8::1"),
            Some((ip("2001:db8::1"), None))
        );
        assert_eq!(parse_addr_port("10.0.0.1:99999"), None);
    }
}
