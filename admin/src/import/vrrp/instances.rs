//! keepalived interfaces -> ferrovs ports and their TAPs, and what the import reads of each
//! `vrrp_instance`.

use std::net::IpAddr;
use std::ops::Range;

use super::{Instance, Planner};
use crate::import::kconf::Stmt;

impl Planner<'_> {
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
    pub(super) fn port_by_address(&self, addrs: &[IpAddr]) -> Option<String> {
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
    pub(super) fn tap_of(&mut self, port: &str, line: usize) -> String {
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

    pub(super) fn map_track_interfaces(&mut self, st: &Stmt, own: Option<(&str, &str, &str)>) {
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

    pub(super) fn instance<'s>(&mut self, st: &'s Stmt) -> Option<Instance<'s>> {
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
}
