//! Admission control (issue 17): per service `max_conns`, `max_new_per_s`, `max_new_burst`,
//! `allow_clients`, `deny_clients`; the `[admission]` section for the whole gateway:
//! `allow_clients`, `deny_clients`, `icmp_errors_per_s`, `icmp_errors_burst`. All reloadable.
//! What they do is in `docs/config.md` and `dataplane::admission`.

use std::collections::HashMap;

use crate::error::Sink;
use crate::model::Prefix;
use crate::walk::Tab;

/// Default `icmp_errors_per_s`: Linux's `icmp_msgs_per_sec`.
pub const DEFAULT_ICMP_ERRORS_PER_S: u32 = 1000;
/// Default `icmp_errors_burst`: Linux's `icmp_msgs_burst`.
pub const DEFAULT_ICMP_ERRORS_BURST: u32 = 50;
/// The highest rate, burst and cap the keys take (also what a u32 per-second rate can say
/// without overflow in the dataplane's micro-token arithmetic).
pub const MAX_ADMISSION_VALUE: u32 = 100_000_000;
/// Prefixes one list may hold.
pub const MAX_LIST_PREFIXES: usize = 100_000;

/// Allow and deny lists of client prefixes: the longest matching prefix decides; a client no
/// prefix covers is admitted unless `allow` has any prefix.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientLists {
    /// `allow_clients`: networks (host bits clear), IPv4 and IPv6 mixed.
    pub allow: Vec<Prefix>,
    /// `deny_clients`.
    pub deny: Vec<Prefix>,
}

impl ClientLists {
    /// Whether both lists are empty.
    pub fn is_empty(&self) -> bool {
        self.allow.is_empty() && self.deny.is_empty()
    }
}

/// A service's admission keys.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServiceAdmission {
    /// `max_conns`: connections at once (ActiveConn + InActConn); 0 = no cap.
    pub max_conns: u32,
    /// `max_new_per_s`: new connections a second; 0 = no limit.
    pub max_new_per_s: u32,
    /// `max_new_burst`: new connections at once after a quiet spell; 0 = `max_new_per_s`.
    pub max_new_burst: u32,
    /// `allow_clients`, `deny_clients`.
    pub clients: ClientLists,
}

impl ServiceAdmission {
    /// The burst in effect (`max_new_burst`, else `max_new_per_s`).
    pub fn burst(&self) -> u32 {
        if self.max_new_burst == 0 {
            self.max_new_per_s
        } else {
            self.max_new_burst
        }
    }

    /// Whether the service limits nothing.
    pub fn is_empty(&self) -> bool {
        self.max_conns == 0 && self.max_new_per_s == 0 && self.clients.is_empty()
    }
}

/// `[admission]`: the gateway's client lists and ICMP error rate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Admission {
    /// `allow_clients`, `deny_clients`: checked before each service's.
    pub clients: ClientLists,
    /// `icmp_errors_per_s`: ICMP errors the gateway sends itself a second (all workers); 0 =
    /// no limit.
    pub icmp_errors_per_s: u32,
    /// `icmp_errors_burst`.
    pub icmp_errors_burst: u32,
}

impl Default for Admission {
    fn default() -> Self {
        Admission {
            clients: ClientLists::default(),
            icmp_errors_per_s: DEFAULT_ICMP_ERRORS_PER_S,
            icmp_errors_burst: DEFAULT_ICMP_ERRORS_BURST,
        }
    }
}

/// Read `allow_clients` and `deny_clients` of table `t`: each a network (host bits clear),
/// listed once across both lists.
fn read_lists(t: &mut Tab<'_, '_>, sink: &mut Sink<'_>) -> ClientLists {
    let mut out = ClientLists::default();
    let mut seen: HashMap<Prefix, String> = HashMap::new();
    for key in ["allow_clients", "deny_clients"] {
        let Some(list) = t.strings(sink, key) else {
            continue;
        };
        let base = t.key_path(key);
        if list.len() > MAX_LIST_PREFIXES {
            sink.error(
                &t.raw_span(key),
                &base,
                format!("{} prefixes; at most {MAX_LIST_PREFIXES}", list.len()),
            );
            continue;
        }
        for (j, a) in list.iter().enumerate() {
            let path = format!("{base}[{j}]");
            let p = match Prefix::parse(a.v) {
                Ok(p) => p,
                Err(m) => {
                    sink.error(&a.span, &path, m);
                    continue;
                }
            };
            if p.network() != p.addr {
                let m = format!(
                    "{p} has host bits set; did you mean {}/{}?",
                    p.network(),
                    p.len
                );
                sink.error(&a.span, &path, m);
                continue;
            }
            if let Some(first) = seen.get(&p) {
                sink.error(
                    &a.span,
                    &path,
                    format!("{p} is listed twice (first as {first})"),
                );
                continue;
            }
            seen.insert(p, path);
            if key == "allow_clients" {
                out.allow.push(p);
            } else {
                out.deny.push(p);
            }
        }
    }
    out
}

/// A service's admission keys, from its table `t`.
pub(crate) fn read_service_admission(t: &mut Tab<'_, '_>, sink: &mut Sink<'_>) -> ServiceAdmission {
    let get = |t: &mut Tab<'_, '_>, sink: &mut Sink<'_>, key| {
        t.u32(sink, key, 0, MAX_ADMISSION_VALUE).map(|a| a.v)
    };
    let max_conns = get(t, sink, "max_conns").unwrap_or(0);
    let max_new_per_s = get(t, sink, "max_new_per_s").unwrap_or(0);
    let burst_at = t.u32(sink, "max_new_burst", 0, MAX_ADMISSION_VALUE);
    if let Some(b) = &burst_at {
        if max_new_per_s == 0 && b.v != 0 {
            sink.error(
                &b.span,
                &t.key_path("max_new_burst"),
                "max_new_burst needs max_new_per_s (the rate the burst belongs to)",
            );
        }
    }
    ServiceAdmission {
        max_conns,
        max_new_per_s,
        max_new_burst: burst_at.map_or(0, |a| a.v),
        clients: read_lists(t, sink),
    }
}

/// `[admission]`.
pub(crate) fn read_admission(t: Option<Tab<'_, '_>>, sink: &mut Sink<'_>) -> Admission {
    let mut out = Admission::default();
    let Some(mut t) = t else {
        return out;
    };
    out.clients = read_lists(&mut t, sink);
    if let Some(a) = t.u32(sink, "icmp_errors_per_s", 0, MAX_ADMISSION_VALUE) {
        out.icmp_errors_per_s = a.v;
    }
    if let Some(a) = t.u32(sink, "icmp_errors_burst", 1, MAX_ADMISSION_VALUE) {
        out.icmp_errors_burst = a.v;
    }
    t.finish(sink);
    out
}

fn prefixes(ps: &[Prefix]) -> String {
    let items: Vec<String> = ps.iter().map(|p| format!("\"{p}\"")).collect();
    format!("[{}]", items.join(", "))
}

fn emit_lists(o: &mut String, l: &ClientLists) {
    use std::fmt::Write;
    if !l.allow.is_empty() {
        let _ = writeln!(o, "allow_clients = {}", prefixes(&l.allow));
    }
    if !l.deny.is_empty() {
        let _ = writeln!(o, "deny_clients = {}", prefixes(&l.deny));
    }
}

/// Write a service's admission keys (those set).
pub(crate) fn emit_service(o: &mut String, a: &ServiceAdmission) {
    use std::fmt::Write;
    if a.max_conns != 0 {
        let _ = writeln!(o, "max_conns = {}", a.max_conns);
    }
    if a.max_new_per_s != 0 {
        let _ = writeln!(o, "max_new_per_s = {}", a.max_new_per_s);
    }
    if a.max_new_burst != 0 {
        let _ = writeln!(o, "max_new_burst = {}", a.max_new_burst);
    }
    emit_lists(o, &a.clients);
}

/// Write `[admission]` unless it is the default.
pub(crate) fn emit_section(o: &mut String, a: &Admission) {
    use std::fmt::Write;
    if *a == Admission::default() {
        return;
    }
    let _ = writeln!(
        o,
        "\n[admission]\nicmp_errors_per_s = {}\nicmp_errors_burst = {}",
        a.icmp_errors_per_s, a.icmp_errors_burst
    );
    emit_lists(o, &a.clients);
}
