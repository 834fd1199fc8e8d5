//! The VRRP half of a keepalived.conf: an `[ha]` section for the ferrovs configuration and a
//! VRRP-only keepalived.conf for the box (`keepalived --vrrp -f FILE`).
//!
//! ferrovs does not speak VRRP: Debian's keepalived does, through the exception-path TAPs of the
//! ferrovs ports, and ferrovs owns an `[ha]` address only while keepalived has put it on a TAP.
//! The VRRP-only file keeps `global_defs`, `vrrp_script`, `vrrp_sync_group`, `vrrp_instance` (and
//! the trackers they may name: `vrrp_track_process`, `track_file`, `bfd_instance`, `garp_group`)
//! as they are written, comments included, with these edits, each told on stderr:
//! - `interface`, `dev` and `track_interface` names become the TAPs of the ferrovs ports they map
//!   to (`--interface IF=PORT`, else a port or TAP of that name, else the one port whose
//!   networks hold the instance's addresses, else the only port); the ports get an exception
//!   path when they had none;
//! - the virtual-server VIPs that no instance carries and the FullNAT local addresses are added
//!   to the `virtual_ipaddress` of the instance on their port (`virtual_ipaddress_excluded`
//!   for the other address family), or to a new instance on that port put in a
//!   `vrrp_sync_group` with the instance it must move with;
//! - what keepalived would refuse or ferrovs owns is commented out, not deleted: statements that
//!   are prose rather than keywords (the guides' annotated configs), LVS keywords inside a VRRP
//!   block, `lvs_*` in `global_defs`, DPVS's `dpdk_interface`.
//!
//! `virtual_server`, `virtual_server_group` and the DPVS address groups are left out: ferrovs
//! owns them. The `[ha]` addresses are every instance address that the ferrovs configuration has
//! (a service VIP, a port address or a local address) plus the addresses added.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::net::IpAddr;
use std::ops::Range;

use config::{Config, Forward};

use super::kconf::Stmt;
use super::Diagnostic;

/// Options of the VRRP import.
#[derive(Clone, Debug, Default)]
pub struct HaOptions {
    /// `--interface IF=PORT`: explicit mappings, used before any guess.
    pub interfaces: Vec<(String, String)>,
}

/// keepalived's default `vrrp_garp_master_repeat`.
pub const DEFAULT_GARP_REPEAT: u32 = 5;
/// keepalived's default `vrrp_garp_master_delay` (seconds).
pub const DEFAULT_GARP_DELAY_S: u32 = 5;
/// keepalived's default `vrrp_garp_master_refresh` (seconds, 0 = off).
pub const DEFAULT_GARP_REFRESH_S: u32 = 0;

/// The `[ha]` section: `mode = "vrrp"` and what follows VRRP.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HaSection {
    /// The VIPs and local addresses this box owns only while keepalived holds them.
    pub addresses: Vec<IpAddr>,
    /// Gratuitous ARP / unsolicited NA sent at once on becoming owner.
    pub garp_repeat: u32,
    /// Seconds until the second burst.
    pub garp_delay: u32,
    /// Seconds between refreshes while owner (0: none).
    pub garp_refresh: u32,
}

impl HaSection {
    /// The section as TOML, with a comment saying where it came from.
    // FOLLOW-UP(coordinator, after merging `hacore`): the config crate then has the `[ha]`
    // model; set it on the imported `Config` instead and let `Config::to_toml` write it (and
    // drop this), so the output is validated like the rest.
    pub fn to_toml(&self) -> String {
        let addrs: Vec<String> = self.addresses.iter().map(|a| format!("\"{a}\"")).collect();
        format!(
            "\n# Written by `ferrovs import keepalived --keepalived-out`: these addresses follow \
             keepalived's VRRP.\n# This box owns them (answers ARP/ND for them, sends gratuitous \
             ARP / unsolicited NA) only\n# while keepalived holds them on the ports' TAPs.\n\
             [ha]\nmode = \"vrrp\"\naddresses = [{}]\ngarp_repeat = {}\ngarp_delay = {}\n\
             garp_refresh = {}\n",
            addrs.join(", "),
            self.garp_repeat,
            self.garp_delay,
            self.garp_refresh
        )
    }
}

/// What the VRRP import produced.
#[derive(Clone, Debug)]
pub struct HaOutput {
    /// The `[ha]` section.
    pub section: HaSection,
    /// The VRRP-only keepalived.conf.
    pub keepalived_conf: String,
}

/// Top-level blocks kept in the VRRP-only file.
const KEPT: &[&str] = &[
    "global_defs",
    "vrrp_script",
    "vrrp_sync_group",
    "vrrp_instance",
    "vrrp_track_process",
    "track_file",
    "vrrp_track_file",
    "bfd_instance",
    "garp_group",
];

/// LVS keywords that keepalived refuses inside a VRRP block (the guides put `virtual_server`
/// where `virtual_ipaddress` belongs).
const LVS_WORDS: &[&str] = &[
    "virtual_server",
    "virtual_server_group",
    "real_server",
    "lb_algo",
    "lb_kind",
    "lvs_sched",
    "lvs_method",
    "persistence_timeout",
    "protocol",
];

/// The statements of a partner instance copied into an instance the import adds.
const COPIED: &[&str] = &[
    "state",
    "priority",
    "advert_int",
    "version",
    "nopreempt",
    "preempt_delay",
    "authentication",
    "accept",
    "no_accept",
    "down_timer_adverts",
    "garp_master_delay",
    "garp_master_repeat",
    "garp_master_refresh",
    "garp_master_refresh_repeat",
];

/// Build the `[ha]` section and the VRRP-only keepalived.conf of `text` (read into `tree`) for
/// `cfg`, the imported configuration, whose mapped ports get an exception path when they have
/// none. `file` names the source in the output's header.
///
/// # Errors
///
/// A `vrrp_instance` without a name or `interface`, an interface no port maps to, an
/// `--interface` naming no port, or no `vrrp_instance` at all.
pub(crate) fn plan(
    file: &str,
    text: &str,
    tree: &[Stmt],
    cfg: &mut Config,
    opts: &HaOptions,
    warn: &mut Vec<Diagnostic>,
    notes: &mut Vec<Diagnostic>,
) -> Result<HaOutput, Vec<Diagnostic>> {
    let mut p = Planner {
        text,
        cfg,
        opts,
        warn,
        notes,
        errors: Vec::new(),
        edits: Vec::new(),
        inserts: BTreeMap::new(),
        mapped: HashMap::new(),
    };
    for (i, port) in &opts.interfaces {
        if !p.cfg.ports.iter().any(|x| &x.name == port) {
            p.error(
                0,
                format!(
                    "--interface {i}={port}: no port {port}; ports: {}",
                    p.port_names()
                ),
            );
        }
    }
    let mut instances: Vec<Instance<'_>> = Vec::new();
    for st in tree.iter().filter(|s| s.key() == "vrrp_instance") {
        if let Some(inst) = p.instance(st) {
            instances.push(inst);
        }
    }
    if tree.iter().all(|s| s.key() != "vrrp_instance") {
        p.error(
            0,
            "no vrrp_instance: there is no VRRP to keep in a --keepalived-out file".into(),
        );
    }
    if !p.errors.is_empty() {
        return Err(p.errors);
    }
    for st in tree.iter().filter(|s| KEPT.contains(&s.key())) {
        p.clean(st, st.key(), 0);
    }
    for st in tree.iter().filter(|s| s.key() == "vrrp_sync_group") {
        p.map_track_interfaces(st, None);
    }
    let groups = sync_groups(tree);
    let (section, added) = p.addresses(&instances, tree);
    let generated = p.generate(&instances, &groups, &added);
    let conf = p.render(file, tree, &generated);
    Ok(HaOutput {
        section,
        keepalived_conf: conf,
    })
}

/// A `vrrp_instance` as far as the import needs it.
#[derive(Debug)]
struct Instance<'a> {
    st: &'a Stmt,
    name: String,
    port: String,
    /// Its addresses, `virtual_ipaddress` and `virtual_ipaddress_excluded`.
    vips: Vec<IpAddr>,
    v6: bool,
    vrid: Option<u8>,
    vip_block: Option<&'a Stmt>,
    excluded_block: Option<&'a Stmt>,
}

/// A `vrrp_sync_group`: its name, members and the `group` block to add a member to.
#[derive(Debug)]
struct SyncGroup {
    name: String,
    members: Vec<String>,
    group_close: Option<usize>,
}

fn sync_groups(tree: &[Stmt]) -> Vec<SyncGroup> {
    tree.iter()
        .filter(|s| s.key() == "vrrp_sync_group")
        .map(|s| {
            let group = s.children().iter().find(|c| c.key() == "group");
            SyncGroup {
                name: s.arg(1).unwrap_or("").to_owned(),
                members: group
                    .map(|g| g.children().iter().flat_map(|m| m.words.clone()).collect())
                    .unwrap_or_default(),
                group_close: group.and_then(|g| g.close),
            }
        })
        .collect()
}

/// An address the import adds to VRRP.
#[derive(Debug)]
struct Added {
    addr: IpAddr,
    port: String,
    why: String,
    /// The instance it should move with (index in `instances`).
    partner: Option<usize>,
}

/// Where an added address goes: an existing instance or a new one on its port.
#[derive(Debug)]
struct NewInstance {
    name: String,
    port: String,
    tap: String,
    partner: usize,
    vrid: u8,
    addrs: Vec<(IpAddr, String)>,
}

struct Planner<'a> {
    text: &'a str,
    cfg: &'a mut Config,
    opts: &'a HaOptions,
    warn: &'a mut Vec<Diagnostic>,
    notes: &'a mut Vec<Diagnostic>,
    errors: Vec<Diagnostic>,
    /// Replacements in the source: byte range, new text.
    edits: Vec<(Range<usize>, String)>,
    /// Text inserted at a byte offset, in order.
    inserts: BTreeMap<usize, String>,
    /// keepalived interface -> (port, TAP), decided once.
    mapped: HashMap<String, (String, String)>,
}

impl Planner<'_> {
    fn error(&mut self, line: usize, message: String) {
        self.errors.push(Diagnostic { line, message });
    }

    fn warning(&mut self, line: usize, message: String) {
        self.warn.push(Diagnostic { line, message });
    }

    fn note(&mut self, line: usize, message: String) {
        self.notes.push(Diagnostic { line, message });
    }

    fn port_names(&self) -> String {
        let v: Vec<&str> = self.cfg.ports.iter().map(|p| p.name.as_str()).collect();
        v.join(", ")
    }

    // -----------------------------------------------------------------------------------------
    // Interfaces.

    /// The port of a keepalived interface by name alone: `--interface`, a port of that name, a
    /// port whose TAP has that name (DPVS's `dpdk0.kni` also as `dpdk0`).
    fn port_by_name(&self, iface: &str) -> Option<(String, &'static str)> {
        if let Some((_, p)) = self.opts.interfaces.iter().find(|(i, _)| i == iface) {
            return Some((p.clone(), "--interface"));
        }
        let bare = iface.strip_suffix(".kni").unwrap_or(iface);
        for name in [iface, bare] {
            if let Some(p) = self.cfg.ports.iter().find(|p| p.name == name) {
                return Some((p.name.clone(), "a port of that name"));
            }
            if let Some(p) = self
                .cfg
                .ports
                .iter()
                .find(|p| p.exception_path.as_deref() == Some(name))
            {
                return Some((p.name.clone(), "the port with that TAP"));
            }
        }
        None
    }

    /// The one port whose networks hold any of `addrs`.
    fn port_by_address(&self, addrs: &[IpAddr]) -> Option<String> {
        let mut found: Vec<&str> = Vec::new();
        for p in &self.cfg.ports {
            if addrs
                .iter()
                .any(|a| p.addresses.iter().any(|pf| pf.contains(*a)))
            {
                found.push(&p.name);
            }
        }
        match found.as_slice() {
            [one] => Some((*one).to_owned()),
            _ => None,
        }
    }

    /// Give `port` an exception path when it has none, and return its TAP.
    fn tap_of(&mut self, port: &str, line: usize) -> String {
        let Some(p) = self.cfg.ports.iter_mut().find(|p| p.name == port) else {
            return port.to_owned();
        };
        if let Some(tap) = &p.exception_path {
            return tap.clone();
        }
        p.exception_path = Some(p.name.clone());
        let tap = p.name.clone();
        self.note(
            line,
            format!(
                "port {port}: exception_path turned on (TAP {tap}): keepalived speaks VRRP \
                 through it"
            ),
        );
        tap
    }

    /// Record a mapping decided for `iface` (one note per interface) and return its TAP.
    fn record(&mut self, iface: &str, port: String, how: &str, line: usize) -> String {
        if let Some((_, tap)) = self.mapped.get(iface) {
            return tap.clone();
        }
        let tap = self.tap_of(&port, line);
        self.note(
            line,
            format!("interface {iface} -> ferrovs port {port}, TAP {tap} ({how})"),
        );
        self.mapped.insert(iface.to_owned(), (port, tap.clone()));
        tap
    }

    /// Replace the word at `span` with `tap` when it differs.
    fn rename(&mut self, span: &Range<usize>, tap: &str) {
        if self.text[span.clone()].trim_matches('"') != tap {
            self.edits.push((span.clone(), tap.to_owned()));
        }
    }

    /// Map an interface named in a `dev` or `track_interface`: by name, else the instance's own
    /// interface; warn when nothing maps it.
    fn map_other(&mut self, what: &str, st: &Stmt, word: usize, own: Option<(&str, &str, &str)>) {
        let (Some(iface), Some(span)) = (st.arg(word), st.word_spans.get(word)) else {
            return;
        };
        let tap = if let Some((_, tap)) = self.mapped.get(iface) {
            Some(tap.clone())
        } else if let Some((port, how)) = self.port_by_name(iface) {
            Some(self.record(iface, port, how, st.line))
        } else {
            match own {
                Some((own_if, own_port, _)) if own_if == iface => {
                    let port = own_port.to_owned();
                    Some(self.record(iface, port, "the instance's interface", st.line))
                }
                _ => None,
            }
        };
        match tap {
            Some(tap) => self.rename(span, &tap),
            None => self.warning(
                st.line,
                format!(
                    "{what} {iface}: no ferrovs port maps to it; left as is (name a port {iface} \
                     or pass --interface {iface}=PORT)"
                ),
            ),
        }
    }

    fn map_track_interfaces(&mut self, st: &Stmt, own: Option<(&str, &str, &str)>) {
        for t in st
            .children()
            .iter()
            .filter(|c| c.key() == "track_interface")
        {
            for e in t.children() {
                self.map_other("track_interface", e, 0, own);
            }
        }
    }

    // -----------------------------------------------------------------------------------------
    // Instances.

    fn instance<'s>(&mut self, st: &'s Stmt) -> Option<Instance<'s>> {
        let Some(name) = st.arg(1) else {
            self.error(st.line, "vrrp_instance without a name".into());
            return None;
        };
        let block = st.children();
        let find = |k: &str| block.iter().find(|c| c.key() == k);
        let vip_block = find("virtual_ipaddress");
        let excluded_block = find("virtual_ipaddress_excluded");
        let entries: Vec<&Stmt> = vip_block
            .into_iter()
            .chain(excluded_block)
            .flat_map(Stmt::children)
            .collect();
        let mut vips = Vec::new();
        for e in &entries {
            match e
                .key()
                .split('/')
                .next()
                .and_then(|a| a.parse::<IpAddr>().ok())
            {
                Some(a) => vips.push(a),
                None if e.key().is_ascii() => self.warning(
                    e.line,
                    format!("virtual_ipaddress entry {}: not an address", e.key()),
                ),
                None => {}
            }
        }
        let own: Vec<IpAddr> = ["unicast_src_ip", "mcast_src_ip"]
            .iter()
            .filter_map(|k| find(k).and_then(|s| s.arg(1)).and_then(|a| a.parse().ok()))
            .collect();
        let peers: Vec<IpAddr> = find("unicast_peer")
            .map(|b| {
                b.children()
                    .iter()
                    .filter_map(|e| e.key().parse().ok())
                    .collect()
            })
            .unwrap_or_default();
        let first_vip = vip_block
            .and_then(|b| b.children().first())
            .and_then(|e| e.key().split('/').next())
            .and_then(|a| a.parse::<IpAddr>().ok());
        let v6 = first_vip
            .or_else(|| own.first().copied())
            .map_or(find("native_ipv6").is_some(), |a| a.is_ipv6());
        let vrid = find("virtual_router_id")
            .and_then(|s| s.arg(1))
            .and_then(|v| v.parse::<u8>().ok());
        let Some(iface_st) = find("interface") else {
            self.error(
                st.line,
                format!(
                    "vrrp_instance {name} has no interface: name the interface VRRP runs on (a \
                     ferrovs port, through its TAP)"
                ),
            );
            return None;
        };
        let Some(iface) = iface_st.arg(1) else {
            self.error(
                iface_st.line,
                format!("vrrp_instance {name}: interface needs a name"),
            );
            return None;
        };
        let hints: Vec<IpAddr> = own.iter().chain(&peers).chain(&vips).copied().collect();
        let decided = if let Some((port, _)) = self.mapped.get(iface) {
            Some((port.clone(), "as above"))
        } else if let Some(found) = self.port_by_name(iface) {
            Some(found)
        } else if let Some(port) = self.port_by_address(&hints) {
            Some((port, "its network holds the instance's addresses"))
        } else if self.cfg.ports.len() == 1 {
            Some((self.cfg.ports[0].name.clone(), "the only port"))
        } else {
            None
        };
        let Some((port, how)) = decided else {
            self.error(
                iface_st.line,
                format!(
                    "vrrp_instance {name}: interface {iface}: no ferrovs port maps to it (ports: \
                     {}); name a port {iface}, or pass --interface {iface}=PORT",
                    self.port_names()
                ),
            );
            return None;
        };
        let tap = self.record(iface, port.clone(), how, iface_st.line);
        if let Some(span) = iface_st.word_spans.get(1) {
            self.rename(span, &tap);
        }
        let own_map = Some((iface, port.as_str(), tap.as_str()));
        for e in &entries {
            if let Some(i) = e.words.iter().position(|w| w == "dev") {
                self.map_other("dev", e, i + 1, own_map);
            }
        }
        for r in block.iter().filter(|c| c.key() == "virtual_routes") {
            for e in r.children() {
                if let Some(i) = e.words.iter().position(|w| w == "dev") {
                    self.map_other("dev", e, i + 1, own_map);
                }
            }
        }
        self.map_track_interfaces(st, own_map);
        Some(Instance {
            st,
            name: name.to_owned(),
            port,
            vips,
            v6,
            vrid,
            vip_block,
            excluded_block,
        })
    }

    // -----------------------------------------------------------------------------------------
    // What keepalived would refuse.

    /// Comment out, inside the kept block `st` (of top-level kind `kind`), what keepalived would
    /// refuse or ferrovs owns.
    fn clean(&mut self, st: &Stmt, kind: &str, depth: usize) {
        for c in st.children() {
            let key = c.key();
            let why = if !key.is_ascii() {
                Some(format!("'{key}' is not a keepalived keyword (prose?)"))
            } else if depth == 0 && kind == "vrrp_instance" && LVS_WORDS.contains(&key) {
                Some(format!(
                    "{key} is not a vrrp_instance keyword and keepalived refuses it (a \
                     vrrp_instance's addresses go in virtual_ipaddress)"
                ))
            } else if depth == 0 && kind == "global_defs" && key.starts_with("lvs_") {
                Some(format!(
                    "global_defs {key}: ferrovs owns the virtual servers"
                ))
            } else if depth == 0
                && kind == "vrrp_instance"
                && matches!(key, "lvs_sync_daemon_interface" | "dpdk_interface")
            {
                Some(format!(
                    "{key}: ferrovs owns the ports and the virtual servers"
                ))
            } else {
                None
            };
            match why {
                Some(why) => {
                    self.edits.push((c.span.clone(), self.commented(&c.span)));
                    let msg = format!("{why}; commented out in the VRRP-only keepalived.conf");
                    if key.starts_with("lvs_") || key == "dpdk_interface" {
                        self.note(c.line, msg);
                    } else {
                        self.warning(c.line, msg);
                    }
                }
                None => self.clean(c, kind, depth + 1),
            }
        }
    }

    /// The source text of `span` as comment lines (a line break after it when code follows on
    /// its last line).
    fn commented(&self, span: &Range<usize>) -> String {
        let body = &self.text[span.clone()];
        let mut s = format!("# {}", body.replace('\n', "\n# "));
        let rest = rest_of_line(self.text, span.end).trim();
        if !rest.is_empty() && !rest.starts_with(['#', '!']) {
            s.push('\n');
        }
        s
    }

    // -----------------------------------------------------------------------------------------
    // Addresses.

    /// The `[ha]` section, and the addresses to add to VRRP.
    fn addresses(&mut self, instances: &[Instance<'_>], tree: &[Stmt]) -> (HaSection, Vec<Added>) {
        let mut known: Vec<IpAddr> = self.cfg.services.iter().map(|s| s.vip).collect();
        for p in &self.cfg.ports {
            known.extend(p.addresses.iter().map(|pf| pf.addr));
        }
        for pool in &self.cfg.local_address_pools {
            known.extend(pool.addresses.iter().copied());
        }
        let mut followed: Vec<IpAddr> = Vec::new();
        for inst in instances.iter() {
            for a in &inst.vips {
                if known.contains(a) {
                    push_unique(&mut followed, *a);
                } else {
                    let line = inst.vip_block.map_or(inst.st.line, |b| b.line);
                    self.note(
                        line,
                        format!(
                            "vrrp_instance {}: {a} is no service VIP, port address or local \
                             address of the ferrovs configuration; keepalived still moves it, \
                             ferrovs does not follow it",
                            inst.name
                        ),
                    );
                }
            }
        }
        let held = |instances: &[Instance<'_>], a: IpAddr| {
            instances.iter().position(|i| i.vips.contains(&a))
        };
        let vrrp_ports: Vec<&str> = {
            let mut v: Vec<&str> = instances.iter().map(|i| i.port.as_str()).collect();
            v.sort_unstable();
            v.dedup();
            v
        };
        let single_port = match vrrp_ports.as_slice() {
            [one] => Some((*one).to_owned()),
            _ => None,
        };
        let mut added: Vec<Added> = Vec::new();
        // The VIPs of virtual servers that no instance carries: without VRRP both gateways
        // would answer for them.
        let services: Vec<(IpAddr, Option<String>, bool)> = self
            .cfg
            .services
            .iter()
            .map(|s| {
                let fullnat = s.forward == Forward::FullNat
                    || s.real_servers.iter().any(|r| r.forward == Forward::FullNat);
                (s.vip, s.local_address_pool.clone(), fullnat)
            })
            .collect();
        for (vip, _, _) in &services {
            if held(instances, *vip).is_some() || added.iter().any(|a| a.addr == *vip) {
                continue;
            }
            let side = self
                .port_by_address(&[*vip])
                .or_else(|| single_port.clone());
            match side {
                Some(port) => added.push(Added {
                    addr: *vip,
                    port,
                    why: "virtual server VIP in no vrrp_instance".into(),
                    partner: None,
                }),
                None => self.warning(
                    line_of_vs(tree, *vip),
                    format!(
                        "virtual server VIP {vip} is in no vrrp_instance and on none of the \
                         ports' networks: not added to VRRP, so both gateways answer for it; add \
                         it to the virtual_ipaddress of the instance on its side"
                    ),
                ),
            }
        }
        // The FullNAT local addresses, with the instance that carries their service's VIP.
        for (vip, pool, fullnat) in &services {
            let (true, Some(pool)) = (*fullnat, pool) else {
                continue;
            };
            let Some(pool) = self
                .cfg
                .local_address_pools
                .iter()
                .find(|p| &p.name == pool)
            else {
                continue;
            };
            let partner = held(instances, *vip).or_else(|| {
                let a = added.iter().find(|a| a.addr == *vip)?;
                instances.iter().position(|i| i.port == a.port)
            });
            for a in &pool.addresses {
                if held(instances, *a).is_some() || added.iter().any(|x| x.addr == *a) {
                    continue;
                }
                added.push(Added {
                    addr: *a,
                    port: pool.port.clone(),
                    why: format!("FullNAT local address, pool {}", pool.name),
                    partner,
                });
            }
        }
        for a in &added {
            push_unique(&mut followed, a.addr);
        }
        if followed.is_empty() {
            self.warning(
                0,
                "no address follows VRRP: no vrrp_instance carries an address of the ferrovs \
                 configuration"
                    .into(),
            );
        }
        let section = HaSection {
            addresses: followed,
            garp_repeat: self.garp(tree, instances, "repeat", DEFAULT_GARP_REPEAT),
            garp_delay: self.garp(tree, instances, "delay", DEFAULT_GARP_DELAY_S),
            garp_refresh: self.garp(tree, instances, "refresh", DEFAULT_GARP_REFRESH_S),
        };
        (section, added)
    }

    /// `vrrp_garp_master_WHAT` from `global_defs`, else the value every instance setting
    /// `garp_master_WHAT` agrees on, else keepalived's default.
    fn garp(&mut self, tree: &[Stmt], instances: &[Instance<'_>], what: &str, default: u32) -> u32 {
        let global = format!("vrrp_garp_master_{what}");
        let local = format!("garp_master_{what}");
        let read = |p: &mut Self, s: &Stmt| -> Option<u32> {
            let v = s.arg(1)?;
            let parsed = v.parse::<u32>().ok();
            if parsed.is_none() {
                p.warning(
                    s.line,
                    format!("{} {v}: not a whole number, ignored for [ha]", s.key()),
                );
            }
            parsed
        };
        let globals: Vec<&Stmt> = tree
            .iter()
            .filter(|s| s.key() == "global_defs")
            .flat_map(Stmt::children)
            .filter(|s| s.key() == global)
            .collect();
        if let Some(v) = globals.last().and_then(|s| read(self, s)) {
            return v;
        }
        let mut seen: Vec<(usize, u32)> = Vec::new();
        for inst in instances {
            for s in inst.st.children().iter().filter(|s| s.key() == local) {
                if let Some(v) = read(self, s) {
                    seen.push((s.line, v));
                }
            }
        }
        match seen.as_slice() {
            [] => default,
            [(_, v), rest @ ..] if rest.iter().all(|(_, x)| x == v) => *v,
            [(line, _), ..] => {
                self.warning(
                    *line,
                    format!(
                        "the instances set different {local}; [ha] garp_{what} uses keepalived's \
                         default {default} (each instance's own GARPs keep its setting)"
                    ),
                );
                default
            }
        }
    }

    // -----------------------------------------------------------------------------------------
    // Additions.

    /// Put the added addresses into existing instances (edits) or new ones (returned, with the
    /// sync groups that tie them to their partners, as text).
    fn generate(
        &mut self,
        instances: &[Instance<'_>],
        groups: &[SyncGroup],
        added: &[Added],
    ) -> String {
        // Per existing instance: (into virtual_ipaddress, into virtual_ipaddress_excluded).
        let mut into: BTreeMap<usize, (Vec<String>, Vec<String>)> = BTreeMap::new();
        let mut new: Vec<NewInstance> = Vec::new();
        for a in added {
            let on_port: Vec<usize> = (0..instances.len())
                .filter(|&i| instances[i].port == a.port)
                .collect();
            let target = a
                .partner
                .filter(|p| on_port.contains(p))
                .or_else(|| {
                    on_port
                        .iter()
                        .copied()
                        .find(|&i| instances[i].v6 == a.addr.is_ipv6())
                })
                .or_else(|| on_port.first().copied());
            let entry = format!("{}   # added by ferrovs import: {}", a.addr, a.why);
            if let Some(t) = target {
                let inst = &instances[t];
                self.note(
                    inst.st.line,
                    format!(
                        "vrrp_instance {}: {} added ({}, on port {})",
                        inst.name, a.addr, a.why, a.port
                    ),
                );
                let slot = into.entry(t).or_default();
                if inst.v6 == a.addr.is_ipv6() {
                    slot.0.push(entry);
                } else {
                    slot.1.push(entry);
                }
                continue;
            }
            let partner = a.partner.unwrap_or(0);
            if let Some(n) = new.iter_mut().find(|n| n.port == a.port) {
                n.addrs.push((a.addr, a.why.clone()));
                continue;
            }
            let tap = self.tap_of(&a.port, instances[partner].st.line);
            let mut name = format!("ferrovs_{}", a.port);
            while instances.iter().any(|i| i.name == name) {
                name.push('_');
            }
            let used: Vec<u8> = instances
                .iter()
                .filter(|i| i.port == a.port)
                .filter_map(|i| i.vrid)
                .chain(new.iter().filter(|n| n.port == a.port).map(|n| n.vrid))
                .collect();
            let vrid = instances[partner]
                .vrid
                .filter(|v| !used.contains(v))
                .or_else(|| (1..=255).find(|v| !used.contains(v)))
                .unwrap_or(1);
            new.push(NewInstance {
                name,
                port: a.port.clone(),
                tap,
                partner,
                vrid,
                addrs: vec![(a.addr, a.why.clone())],
            });
        }
        for (t, (same, other)) in into {
            let inst = &instances[t];
            for (block, lines, kw) in [
                (inst.vip_block, same, "virtual_ipaddress"),
                (inst.excluded_block, other, "virtual_ipaddress_excluded"),
            ] {
                if lines.is_empty() {
                    continue;
                }
                match block.and_then(|b| b.close) {
                    Some(close) => self.insert_before(close, &lines),
                    None => {
                        let mut all = vec![format!("{kw} {{")];
                        all.extend(lines.iter().map(|l| format!("    {l}")));
                        all.push("}".into());
                        if let Some(close) = inst.st.close {
                            self.insert_before(close, &all);
                        }
                    }
                }
            }
        }
        let mut out = String::new();
        let mut new_groups: Vec<(String, Vec<String>)> = Vec::new();
        for n in &new {
            let partner = &instances[n.partner];
            let _ = write!(out, "{}", self.new_instance(n, partner));
            let addrs: Vec<String> = n.addrs.iter().map(|(a, _)| a.to_string()).collect();
            let existing = groups.iter().find(|g| g.members.contains(&partner.name));
            let group_name = match existing {
                Some(g) => {
                    if let Some(close) = g.group_close {
                        self.insert_before(close, std::slice::from_ref(&n.name));
                    }
                    g.name.clone()
                }
                None => {
                    let gname = format!("ferrovs_{}", partner.name);
                    match new_groups.iter_mut().find(|(g, _)| *g == gname) {
                        Some((_, members)) => members.push(n.name.clone()),
                        None => new_groups
                            .push((gname.clone(), vec![partner.name.clone(), n.name.clone()])),
                    }
                    gname
                }
            };
            self.note(
                partner.st.line,
                format!(
                    "vrrp_instance {} added on port {} (TAP {}) for {}, in vrrp_sync_group {} with \
                     {}",
                    n.name,
                    n.port,
                    n.tap,
                    addrs.join(", "),
                    group_name,
                    partner.name
                ),
            );
            if partner
                .st
                .children()
                .iter()
                .any(|c| c.key() == "unicast_peer")
            {
                self.warning(
                    partner.st.line,
                    format!(
                        "vrrp_instance {} uses unicast_peer; the added {} uses multicast on port \
                         {}: give it unicast_src_ip and unicast_peer on that network by hand",
                        partner.name, n.name, n.port
                    ),
                );
            }
        }
        for (g, members) in new_groups {
            let _ = write!(
                out,
                "\n# Added by ferrovs import: these instances move together (tracking weights \
                 apply to both).\nvrrp_sync_group {g} {{\n    group {{\n{}    }}\n    \
                 sync_group_tracking_weight\n}}\n",
                members
                    .iter()
                    .map(|m| format!("        {m}\n"))
                    .collect::<String>()
            );
        }
        out
    }

    /// The text of an instance added on another port, moving with `partner`.
    fn new_instance(&self, n: &NewInstance, partner: &Instance<'_>) -> String {
        let mut s = format!(
            "\n# Added by ferrovs import: addresses on port {} that must move with {} (its VRRP \
             settings are copied).\nvrrp_instance {} {{\n",
            n.port, partner.name, n.name
        );
        let _ = writeln!(s, "    interface {}", n.tap);
        let _ = writeln!(s, "    virtual_router_id {}", n.vrid);
        for c in partner.st.children() {
            let key = c.key();
            if COPIED.contains(&key) || (key.starts_with("track_") && key != "track_interface") {
                let _ = writeln!(s, "    {}", apply_edits(self.text, &c.span, &self.edits));
            } else if key == "track_interface" {
                // keepalived refuses to track an instance's own interface.
                let entries: Vec<String> = c
                    .children()
                    .iter()
                    .filter(|e| self.mapped.get(e.key()).map(|(_, t)| t) != Some(&n.tap))
                    .map(|e| format!("        {}\n", apply_edits(self.text, &e.span, &self.edits)))
                    .collect();
                if !entries.is_empty() {
                    let _ = write!(s, "    track_interface {{\n{}    }}\n", entries.concat());
                }
            }
        }
        let v6 = n.addrs[0].0.is_ipv6();
        for (kw, same) in [
            ("virtual_ipaddress", true),
            ("virtual_ipaddress_excluded", false),
        ] {
            let lines: Vec<String> = n
                .addrs
                .iter()
                .filter(|(a, _)| (a.is_ipv6() == v6) == same)
                .map(|(a, why)| format!("        {a}   # {why}\n"))
                .collect();
            if !lines.is_empty() {
                let _ = write!(s, "    {kw} {{\n{}    }}\n", lines.concat());
            }
        }
        s.push_str("}\n");
        s
    }

    /// Insert `lines` before the closing brace at `close`, indented one level deeper than it.
    fn insert_before(&mut self, close: usize, lines: &[String]) {
        let ls = line_start(self.text, close);
        let prefix = &self.text[ls..close];
        let (at, lead, indent) = if prefix.trim().is_empty() {
            (ls, String::new(), format!("{prefix}    "))
        } else {
            let ws: String = prefix.chars().take_while(|c| c.is_whitespace()).collect();
            (close, "\n".to_owned(), format!("{ws}    "))
        };
        let mut s = lead;
        for l in lines {
            let _ = writeln!(s, "{indent}{l}");
        }
        self.inserts.entry(at).or_default().push_str(&s);
    }

    // -----------------------------------------------------------------------------------------
    // Output.

    fn render(&mut self, file: &str, tree: &[Stmt], generated: &str) -> String {
        let mut edits = std::mem::take(&mut self.edits);
        edits.extend(self.inserts.iter().map(|(at, s)| (*at..*at, s.clone())));
        let mut out = format!(
            "! VRRP-only keepalived.conf for this ferrovs gateway, from {file}\n\
             ! (written by `ferrovs import keepalived --keepalived-out`).\n\
             ! Run it with `keepalived --vrrp -f THIS_FILE`: ferrovs owns the virtual servers and\n\
             ! follows the addresses keepalived puts on the ports' TAPs ([ha] in its configuration).\n"
        );
        let mut mapped: Vec<(&String, &(String, String))> = self.mapped.iter().collect();
        mapped.sort();
        for (iface, (port, tap)) in mapped {
            let _ = writeln!(out, "! interface {iface} -> ferrovs port {port}, TAP {tap}");
        }
        for (i, st) in tree.iter().enumerate() {
            if !kept(st) {
                continue;
            }
            out.push('\n');
            out.push_str(&comments_above(self.text, st.span.start));
            out.push_str(&apply_edits(self.text, &st.span, &edits));
            // Text after the block on its last line: up to the next kept statement there.
            let mut rest = rest_of_line(self.text, st.span.end);
            if let Some(next) = tree.get(i + 1).filter(|n| kept(n)) {
                let end = st.span.end + rest.len();
                if next.span.start < end {
                    rest = &self.text[st.span.end..next.span.start];
                }
            }
            let rest = rest.trim();
            if rest.starts_with(['#', '!']) {
                let _ = write!(out, " {rest}");
            } else if !rest.is_empty() {
                let _ = write!(out, " # {rest}");
            }
            out.push('\n');
        }
        out.push_str(generated);
        out
    }
}

/// Whether a top-level statement goes to the VRRP-only file (`$NAME=` definitions too, for the
/// blocks that use them).
fn kept(st: &Stmt) -> bool {
    KEPT.contains(&st.key()) || st.key().starts_with('$')
}

/// The source text of `span` with the edits inside it applied; an edit inside one already
/// applied (in a statement commented out) is skipped.
fn apply_edits(text: &str, span: &Range<usize>, edits: &[(Range<usize>, String)]) -> String {
    let mut inside: Vec<&(Range<usize>, String)> = edits
        .iter()
        .filter(|(r, _)| r.start >= span.start && r.end <= span.end)
        .collect();
    inside.sort_by_key(|(r, _)| (r.start, r.end));
    let mut out = String::new();
    let mut at = span.start;
    for (r, s) in inside {
        if r.start < at {
            continue;
        }
        out.push_str(&text[at..r.start]);
        out.push_str(s);
        at = r.end;
    }
    out.push_str(&text[at..span.end]);
    out
}

fn push_unique(v: &mut Vec<IpAddr>, a: IpAddr) {
    if !v.contains(&a) {
        v.push(a);
    }
}

/// The line of the `virtual_server` for `vip` (0 when it came from a group).
fn line_of_vs(tree: &[Stmt], vip: IpAddr) -> usize {
    tree.iter()
        .find(|s| s.key() == "virtual_server" && s.arg(1).and_then(|a| a.parse().ok()) == Some(vip))
        .map_or(0, |s| s.line)
}

fn line_start(text: &str, at: usize) -> usize {
    text[..at].rfind('\n').map_or(0, |i| i + 1)
}

/// The text from `at` to the end of its line (without the line break).
fn rest_of_line(text: &str, at: usize) -> &str {
    let rest = &text[at..];
    let end = rest.find('\n').unwrap_or(rest.len());
    rest[..end].trim_end_matches('\r')
}

/// The comment lines right above the line of `at` (up to a blank or other line).
fn comments_above(text: &str, at: usize) -> String {
    let mut start = line_start(text, at);
    while start > 0 {
        let prev = line_start(text, start - 1);
        let t = text[prev..start].trim();
        if t.starts_with('#') || t.starts_with('!') {
            start = prev;
        } else {
            break;
        }
    }
    text[start..line_start(text, at)].to_owned()
}
