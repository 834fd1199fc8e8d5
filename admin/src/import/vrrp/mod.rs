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
//!   `vrrp_sync_group` with the instance it must move with (its partner: the new instance
//!   copies the partner's VRRP settings and tracking, and a group the import creates keeps
//!   tracking weights with `sync_group_tracking_weight`, which keepalived otherwise ignores in
//!   a sync group);
//! - what keepalived would refuse or ferrovs owns is commented out, not deleted: statements that
//!   are prose rather than keywords (the guides' annotated configs), LVS keywords inside a VRRP
//!   block, `lvs_*` in `global_defs`, DPVS's `dpdk_interface`.
//!
//! `virtual_server`, `virtual_server_group` and the DPVS address groups are left out: ferrovs
//! owns them. The `[ha]` addresses are every instance address that the ferrovs configuration has
//! (a service VIP, a port address or a local address) plus the addresses added.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::ops::Range;

use config::Config;

use super::kconf::Stmt;
use super::Diagnostic;

mod addresses;
mod instances;
mod text;

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
    // Written as text (with the comment) rather than through `Config::to_toml`; the import
    // tests load the whole output with `config::parse` and compare its `ha` with this section.
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

/// An instance the import adds on a port that has none, moving with `partner`.
#[derive(Debug)]
struct NewInstance {
    name: String,
    port: String,
    tap: String,
    partner: usize,
    vrid: u8,
    addrs: Vec<(IpAddr, String)>,
}

/// One VRRP import: the source, the configuration it edits, the diagnostics, and the edits to
/// the source text that make the VRRP-only file.
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
}
