//! `[announce]`: which VIPs this gateway offers to the routers, through a kernel routing table
//! of its own that BIRD exports over BGP (ECMP scale-out, issue 16, `docs/ecmp.md`).
//!
//! ferrovs keeps one host route (/32, /128) per announce-worthy VIP in `table`; BIRD's kernel
//! protocol learns that table and its BGP export filter offers the routes to the upstream
//! routers. The section is reloadable except `table` (a change of table would leave routes
//! behind in the old one).

use std::net::IpAddr;

use crate::error::Sink;
use crate::model::{Port, Service};
use crate::walk::Tab;

/// The routing protocol number ferrovs marks its routes with (`ip route ... proto 247`):
/// unassigned in iproute2's `rt_protos`; BIRD's `learn` imports routes of any protocol but
/// `kernel`, and its export filter can match `krt_source = 247`.
pub const ANNOUNCE_PROTOCOL: u8 = 247;
/// Default BIRD control socket (Debian's bird2 package).
pub const DEFAULT_BIRD_SOCKET: &str = "/run/bird/bird.ctl";
/// Default seconds of drain on SIGTERM: routes withdrawn, flows still forwarded.
pub const DEFAULT_DRAIN_S: u32 = 10;
/// Default seconds a withdrawn VIP stays withdrawn whatever its health.
pub const DEFAULT_HOLD_DOWN_S: u32 = 3;
/// The longest `rise`, `hold_down` and `drain`: an hour.
pub const MAX_ANNOUNCE_DELAY_S: u32 = 3600;
/// Kernel tables that are never ours: unspec (0), default (253), main (254), local (255).
pub const RESERVED_TABLES: [u32; 4] = [0, 253, 254, 255];

/// `[announce]`: the VIP routes ferrovs keeps for BIRD.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Announce {
    /// The kernel routing table id the routes live in (boot-only).
    pub table: u32,
    /// The VIPs announced while healthy; `None` = every service VIP.
    pub vips: Option<Vec<IpAddr>>,
    /// The interface every route points at; `None` = per VIP, the exception-path TAP of the
    /// port whose network holds it, else of the first port that has one.
    pub device: Option<String>,
    /// Seconds a VIP must stay announce-worthy before it is announced (0 = at once).
    pub rise_s: u32,
    /// Seconds a withdrawn VIP stays withdrawn, whatever its health (0 = none).
    pub hold_down_s: u32,
    /// Seconds SIGTERM keeps forwarding after withdrawing every VIP, before stopping.
    pub drain_s: u32,
    /// BIRD's control socket, checked for the `ferrovs_bird_up` metric and `ferrovs doctor`.
    pub bird_socket: String,
}

impl Announce {
    /// Defaults for `table`.
    pub fn new(table: u32) -> Self {
        Self {
            table,
            vips: None,
            device: None,
            rise_s: 0,
            hold_down_s: DEFAULT_HOLD_DOWN_S,
            drain_s: DEFAULT_DRAIN_S,
            bird_socket: DEFAULT_BIRD_SOCKET.to_owned(),
        }
    }
}

impl crate::Config {
    /// Return the VIPs `[announce]` offers, sorted and unique (empty without the section).
    pub fn announced_vips(&self) -> Vec<IpAddr> {
        let Some(a) = &self.announce else {
            return Vec::new();
        };
        let mut out: Vec<IpAddr> = match &a.vips {
            Some(list) => list.clone(),
            None => self.services.iter().map(|s| s.vip).collect(),
        };
        out.sort();
        out.dedup();
        out
    }

    /// Return the interface the route of `vip` points at: `announce.device`, else the
    /// exception-path TAP of the port whose network holds `vip`, else the first TAP.
    pub fn announce_device(&self, vip: IpAddr) -> Option<&str> {
        let a = self.announce.as_ref()?;
        if let Some(d) = &a.device {
            return Some(d);
        }
        let taps = || self.ports.iter().filter(|p| p.exception_path.is_some());
        taps()
            .find(|p| p.addresses.iter().any(|pf| pf.contains(vip)))
            .or_else(|| taps().next())
            .and_then(|p| p.exception_path.as_deref())
    }
}

/// Read `[announce]`; every problem is recorded in `sink`.
pub(crate) fn read_announce(
    t: Option<Tab<'_, '_>>,
    sink: &mut Sink<'_>,
    ports: &[Port],
    services: &[Service],
) -> Option<Announce> {
    let mut t = t?;
    let mut out = Announce::new(0);
    match t.int(sink, "table", 0, i64::from(u32::MAX)) {
        None if !t.has("table") => t.missing(sink, "table"),
        None => {}
        Some(n) => {
            let id = u32::try_from(n.v).unwrap_or(0);
            if RESERVED_TABLES.contains(&id) {
                sink.error(
                    &n.span,
                    &t.key_path("table"),
                    format!(
                        "table {id} is the kernel's own (0 unspec, 253 default, 254 main, 255 \
                         local): give ferrovs a table of its own, such as 100"
                    ),
                );
            }
            out.table = id;
        }
    }
    if let Some(list) = t.strings(sink, "vips") {
        let base = t.key_path("vips");
        if list.is_empty() {
            sink.error(
                &t.raw_span("vips"),
                &base,
                "the list is empty: leave the key out to announce every service VIP",
            );
        }
        let mut vips = Vec::new();
        for (j, a) in list.iter().enumerate() {
            let path = format!("{base}[{j}]");
            let Some(ip) = crate::schema::parse_ip(sink, a, &path) else {
                continue;
            };
            if vips.contains(&ip) {
                sink.error(&a.span, &path, format!("duplicate VIP {ip}"));
            } else if !services.iter().any(|s| s.vip == ip) {
                sink.error(
                    &a.span,
                    &path,
                    format!("{ip} is no service's VIP: only a service's VIP can be announced"),
                );
            } else {
                vips.push(ip);
            }
        }
        out.vips = Some(vips);
    }
    if let Some(d) = t.str(sink, "device") {
        if crate::schema::valid_ifname(d.v) {
            out.device = Some(d.v.to_owned());
        } else {
            sink.error(
                &d.span,
                &t.key_path("device"),
                format!(
                    "\"{}\" is not a valid interface name: a letter, then letters, digits, _ or \
                     -, at most 15 characters",
                    d.v
                ),
            );
        }
    } else if !ports.iter().any(|p| p.exception_path.is_some()) {
        sink.error(
            &t.span(),
            &t.key_path("device"),
            "no [[port]] has exception_path, so the routes have no TAP to point at: give \
             device, or an exception path (BIRD speaks BGP through it)",
        );
    }
    for (key, slot) in [
        ("rise", &mut out.rise_s),
        ("hold_down", &mut out.hold_down_s),
        ("drain", &mut out.drain_s),
    ] {
        if let Some(n) = t.u32(sink, key, 0, MAX_ANNOUNCE_DELAY_S) {
            *slot = n.v;
        }
    }
    if let Some(s) = t.str(sink, "bird_socket") {
        if s.v.starts_with('/') {
            s.v.clone_into(&mut out.bird_socket);
        } else {
            sink.error(
                &s.span,
                &t.key_path("bird_socket"),
                format!("\"{}\" is not an absolute path", s.v),
            );
        }
    }
    t.finish(sink);
    Some(out)
}
