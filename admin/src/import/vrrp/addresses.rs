//! Which addresses follow VRRP (`[ha]`), and where the ones the import adds go: an instance on
//! their port, or a new instance in a sync group with the one they move with.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::IpAddr;

use config::Forward;

use super::text::apply_edits;
use super::{
    Added, HaSection, Instance, NewInstance, Planner, SyncGroup, COPIED, DEFAULT_GARP_DELAY_S,
    DEFAULT_GARP_REFRESH_S, DEFAULT_GARP_REPEAT,
};
use crate::import::kconf::Stmt;

impl Planner<'_> {
    /// The `[ha]` section, and the addresses to add to VRRP.
    pub(super) fn addresses(
        &mut self,
        instances: &[Instance<'_>],
        tree: &[Stmt],
    ) -> (HaSection, Vec<Added>) {
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

    /// Put the added addresses into existing instances (edits) or new ones (returned, with the
    /// sync groups that tie them to their partners, as text).
    pub(super) fn generate(
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
