//! keepalived.conf -> ferrovs configuration.
//!
//! Maps the LVS half of keepalived: `virtual_server` (by address and port, or `group NAME`
//! expanded from `virtual_server_group`: single addresses, last-part ranges `10.0.0.3-10`,
//! `ae00::2-9`, and CIDR blocks), `real_server`, the checkers `TCP_CHECK`, `HTTP_GET`,
//! `SSL_GET` (as a TCP connect check, with a warning: ferrovs has no TLS check) and `MISC_CHECK`,
//! `lb_algo`/`lvs_sched`, `lb_kind`/`lvs_method` (NAT, DR, TUN, and DPVS's FNAT),
//! `persistence_timeout`, `persistence_granularity`, `protocol`, the scheduler flag keywords,
//! `weight`, `uthreshold`/`lthreshold`, `inhibit_on_failure`, `delay_loop`, `connect_timeout`,
//! `connect_port`, `retry`/`nb_get_retry`, `sorry_server`, `virtualhost`,
//! `global_defs { lvs_timeouts }`, `global_defs { lvs_sync_daemon }` (to `[sync]`, see
//! [`super::sync_daemon`]) and DPVS's dialect (`local_address_group` / `laddr_group_name` and
//! the warnings for what ferrovs does not have yet: [`super::dpvs`]).
//!
//! keepalived's own defaults apply, not ipvsadm's: NAT forwarding, `wlc` (both with
//! keepalived's warning when unset), weight 1, `delay_loop` 60 s, `connect_timeout` 5 s,
//! `retry` 1 (`MISC_CHECK` 0), HTTP status 200-299, persistence 360 s when
//! `persistence_timeout` has no value. Settings are inherited virtual server -> real server ->
//! checker, as keepalived does. keepalived declares a server down after one failed check (whose
//! attempts are `retry` + 1) and up after one success, so `rise` and `fall` are 1.
//!
//! VRRP (`vrrp_instance`, `vrrp_sync_group`, `vrrp_script`, `global_defs` VRRP keywords) is
//! keepalived's job: [`import`] warns that it is not imported, [`import_ha`] (`--keepalived-out`)
//! turns it into an `[ha]` section and a VRRP-only keepalived.conf for the box (module
//! [`super::vrrp`]).
//!
//! Everything else produces one warning: fwmark and SCTP services, checkers ferrovs does not
//! have, timers it has no equivalent for (`delay_before_retry`, `warmup`, `quorum`, ...), unknown
//! keywords. Import is lenient by default; the caller turns warnings into errors for `--strict`.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use config::{
    CheckKind, CommandCheck, Config, Forward, HealthCheck, HttpCheck, Protocol, RealServer,
    SchedFlag, Scheduler, Service, Toa, MAX_TIMEOUT_S,
};

use super::kconf::{self, Stmt};
use super::vrrp::{self, HaOptions};
use super::{Diagnostic, Imported};

// ---------------------------------------------------------------------------------------------
// Settings with keepalived's inheritance.

/// keepalived's `delay_loop` default (`KEEPALIVED_DEFAULT_DELAY`).
const DEFAULT_DELAY_LOOP_S: u32 = 60;
/// keepalived's `connect_timeout` default.
const DEFAULT_CONNECT_TIMEOUT_S: u32 = 5;
/// keepalived's `retry` default (MISC_CHECK: 0).
const DEFAULT_RETRY: u32 = 1;
/// The most addresses one group range may expand to.
const MAX_RANGE: u128 = 1024;

/// Settings that a virtual server passes to its real servers and those to their checkers.
#[derive(Clone, Debug, Default)]
struct Inherit {
    delay_loop: Option<u32>,
    connect_timeout: Option<u32>,
    retry: Option<u32>,
    inhibit: Option<bool>,
    forward: Option<Forward>,
    weight: Option<u32>,
    virtualhost: Option<String>,
    /// DPVS `expire_quiescent_conn` on the virtual server.
    sessions: Option<config::SessionsOnFailure>,
}

struct Ctx<'a> {
    warn: &'a mut Vec<Diagnostic>,
}

impl Ctx<'_> {
    fn w(&mut self, line: usize, message: impl Into<String>) {
        self.warn.push(Diagnostic {
            line,
            message: message.into(),
        });
    }

    /// Read a timer in seconds: keepalived accepts decimals, ferrovs whole seconds (rounded up).
    fn seconds(&mut self, st: &Stmt, min: u32, max: u32) -> Option<u32> {
        let Some(a) = st.arg(1) else {
            self.w(st.line, format!("{} needs a value", st.key()));
            return None;
        };
        let Ok(v) = a.parse::<f64>() else {
            self.w(st.line, format!("{} {a}: not a number", st.key()));
            return None;
        };
        let secs = v.ceil();
        if secs != v {
            self.w(
                st.line,
                format!(
                    "{} {a}: rounded up to {secs} s (ferrovs timers are whole seconds)",
                    st.key()
                ),
            );
        }
        let clamped = secs.clamp(f64::from(min), f64::from(max));
        if clamped != secs {
            self.w(
                st.line,
                format!(
                    "{} {a}: out of range {min}..={max}, using {clamped}",
                    st.key()
                ),
            );
        }
        // Clamped to a u32 range just above, so the cast is exact.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        Some(clamped as u32)
    }

    fn number(&mut self, st: &Stmt, min: u32, max: u32) -> Option<u32> {
        let Some(a) = st.arg(1) else {
            self.w(st.line, format!("{} needs a value", st.key()));
            return None;
        };
        match a.parse::<i64>() {
            Ok(v) if v >= i64::from(min) && v <= i64::from(max) => u32::try_from(v).ok(),
            Ok(v) => {
                let c = v.clamp(i64::from(min), i64::from(max));
                self.w(
                    st.line,
                    format!("{} {a}: out of range {min}..={max}, using {c}", st.key()),
                );
                u32::try_from(c).ok()
            }
            Err(_) => {
                self.w(st.line, format!("{} {a}: not a number", st.key()));
                None
            }
        }
    }

    fn flag(&mut self, st: &Stmt) -> bool {
        match st.arg(1) {
            None | Some("true" | "on" | "yes") => true,
            Some("false" | "off" | "no") => false,
            Some(other) => {
                self.w(
                    st.line,
                    format!("{} {other}: not a boolean, taken as true", st.key()),
                );
                true
            }
        }
    }

    fn forward(&mut self, st: &Stmt) -> Option<Forward> {
        let kind = st.arg(1).unwrap_or("");
        let f = match kind.to_ascii_uppercase().as_str() {
            "NAT" => Forward::Nat,
            "DR" => Forward::Dr,
            "TUN" => Forward::Tun,
            "FNAT" => Forward::FullNat,
            _ => {
                self.w(
                    st.line,
                    format!("{} {kind}: unknown forwarding method, ignored", st.key()),
                );
                return None;
            }
        };
        if f == Forward::Tun && st.words.len() > 2 {
            self.w(
                st.line,
                format!(
                    "{}: tunnel options ({}) not supported, using IPIP",
                    st.key(),
                    st.words[2..].join(" ")
                ),
            );
        }
        Some(f)
    }

    /// Read the settings shared by virtual servers, real servers and checkers; false if `st`
    /// is not one of them.
    fn inherit(&mut self, st: &Stmt, into: &mut Inherit) -> bool {
        match st.key() {
            "delay_loop" => into.delay_loop = self.seconds(st, 1, 86400).or(into.delay_loop),
            "connect_timeout" => {
                into.connect_timeout = self.seconds(st, 1, 3600).or(into.connect_timeout);
            }
            "retry" | "nb_get_retry" => into.retry = self.number(st, 0, 100).or(into.retry),
            "inhibit_on_failure" => into.inhibit = Some(self.flag(st)),
            "lb_kind" | "lvs_method" => into.forward = self.forward(st).or(into.forward),
            "weight" => into.weight = self.number(st, 0, 65535).or(into.weight),
            "virtualhost" => into.virtualhost = st.arg(1).map(str::to_owned),
            "delay_before_retry" | "warmup" | "alpha" | "smtp_alert" | "snmp_name"
            | "log_all_failures" => {
                if st.key() != "log_all_failures" {
                    self.w(
                        st.line,
                        format!("{} is not imported: ferrovs has no equivalent", st.key()),
                    );
                }
            }
            _ => return false,
        }
        true
    }

    fn unknown(&mut self, st: &Stmt, within: &str) {
        self.w(
            st.line,
            format!("unknown keyword '{}' in {within}, ignored", st.key()),
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Checkers.

/// Expand `status_code` values: codes and `LOW-HIGH` ranges.
fn status_codes(cx: &mut Ctx<'_>, st: &Stmt) -> Vec<u16> {
    let mut out = Vec::new();
    for w in &st.words[1..] {
        let (lo, hi) = w.split_once('-').unwrap_or((w, w));
        match (lo.parse::<u16>(), hi.parse::<u16>()) {
            (Ok(a), Ok(b)) if (100..=599).contains(&a) && (a..=599).contains(&b) => {
                out.extend(a..=b);
            }
            _ => cx.w(
                st.line,
                format!("status_code {w}: not a status code or range, ignored"),
            ),
        }
    }
    out
}

/// Build the health check of one checker block.
fn checker(cx: &mut Ctx<'_>, st: &Stmt, inherited: &Inherit) -> Option<HealthCheck> {
    let kind_name = st.key().to_owned();
    let mut own = inherited.clone();
    let mut port = None;
    let mut http = HttpCheck {
        path: "/".into(),
        status: (200..=299).collect(),
        host: inherited.virtualhost.clone(),
        digest: None,
    };
    let mut command = None;
    let mut misc_timeout = None;
    let mut urls = 0;
    for s in st.block.as_deref().unwrap_or_default() {
        if cx.inherit(s, &mut own) {
            continue;
        }
        match s.key() {
            "connect_port" => port = cx.number(s, 1, 65535).and_then(|p| u16::try_from(p).ok()),
            "connect_ip" | "bindto" | "bind_port" | "bind_if" | "fwmark" | "http_protocol"
            | "fast_recovery" | "enable_sni" | "sni_name" | "tls_compliant" | "misc_dynamic"
            | "user" | "helo_name" | "host" => {
                cx.w(
                    s.line,
                    format!(
                        "{kind_name} {} is not imported: ferrovs has no equivalent",
                        s.key()
                    ),
                );
            }
            "url" if matches!(kind_name.as_str(), "HTTP_GET" | "SSL_GET") => {
                urls += 1;
                if urls > 1 {
                    cx.w(
                        s.line,
                        format!("{kind_name}: only the first url block is imported"),
                    );
                    continue;
                }
                for u in s.block.as_deref().unwrap_or_default() {
                    match u.key() {
                        "path" => match u.arg(1) {
                            Some(p) if p.starts_with('/') => p.clone_into(&mut http.path),
                            other => cx.w(
                                u.line,
                                format!("url path {}: must start with /", other.unwrap_or("")),
                            ),
                        },
                        "digest" => match u.arg(1) {
                            Some(d)
                                if d.len() == 32 && d.chars().all(|c| c.is_ascii_hexdigit()) =>
                            {
                                http.digest = Some(d.to_ascii_lowercase());
                            }
                            other => cx.w(
                                u.line,
                                format!("url digest {}: not an MD5 digest", other.unwrap_or("")),
                            ),
                        },
                        "status_code" => {
                            let codes = status_codes(cx, u);
                            if !codes.is_empty() {
                                http.status = codes;
                            }
                        }
                        "virtualhost" => http.host = u.arg(1).map(str::to_owned),
                        "regex" | "regex_no_match" | "regex_options" | "regex_stack"
                        | "regex_min_offset" | "regex_max_offset" => {
                            cx.w(
                                u.line,
                                format!(
                                    "url {} is not imported: ferrovs has no body regex check",
                                    u.key()
                                ),
                            );
                        }
                        _ => cx.unknown(u, "url"),
                    }
                }
            }
            "misc_path" if kind_name == "MISC_CHECK" => {
                command = s.words.get(1..).map(|w| w.join(" "))
            }
            "misc_timeout" if kind_name == "MISC_CHECK" => misc_timeout = cx.seconds(s, 1, 3600),
            _ => cx.unknown(s, &kind_name),
        }
    }
    let kind = match kind_name.as_str() {
        "TCP_CHECK" => CheckKind::Tcp,
        "HTTP_GET" => CheckKind::Http(http),
        "SSL_GET" => {
            cx.w(
                st.line,
                "SSL_GET imported as a TCP connect check: ferrovs has no TLS/HTTPS check",
            );
            CheckKind::Tcp
        }
        "MISC_CHECK" => match command {
            Some(c) if !c.trim().is_empty() => CheckKind::Command(CommandCheck { command: c }),
            _ => {
                cx.w(st.line, "MISC_CHECK without misc_path ignored");
                return None;
            }
        },
        other => {
            cx.w(st.line, format!("{other} is not imported: ferrovs checks are TCP connect, HTTP GET and commands"));
            return None;
        }
    };
    let is_misc = matches!(kind, CheckKind::Command(_));
    let interval_s = own.delay_loop.unwrap_or(DEFAULT_DELAY_LOOP_S);
    let timeout_s = if is_misc {
        // keepalived's misc_timeout defaults to the check interval.
        misc_timeout.unwrap_or_else(|| interval_s.min(3600))
    } else {
        own.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT_S)
    };
    Some(HealthCheck {
        kind,
        interval_s,
        timeout_s,
        retries: own.retry.unwrap_or(if is_misc { 0 } else { DEFAULT_RETRY }),
        rise: 1,
        fall: 1,
        port,
        inhibit_on_failure: own.inhibit.unwrap_or(false),
        on_failure_sessions: own.sessions.unwrap_or_default(),
    })
}

// ---------------------------------------------------------------------------------------------
// Addresses and groups.

fn parse_ip(s: &str) -> Option<IpAddr> {
    s.parse().ok()
}

/// Expand a group entry: `IP`, `IP-LAST` (last byte / last group), `IP-IP` or `IP/LEN`.
fn expand(spec: &str) -> Result<Vec<IpAddr>, String> {
    if let Some((a, len)) = spec.split_once('/') {
        let p = config::Prefix::parse(&format!("{a}/{len}"))?;
        let (base, bits) = match p.network() {
            IpAddr::V4(n) => (u128::from(u32::from(n)), 32 - u32::from(p.len)),
            IpAddr::V6(n) => (u128::from(n), 128 - u32::from(p.len)),
        };
        let count = 1u128.checked_shl(bits).unwrap_or(u128::MAX);
        if count > MAX_RANGE {
            return Err(format!("{spec}: more than {MAX_RANGE} addresses"));
        }
        return Ok((0..count).map(|i| from_u128(p.addr, base + i)).collect());
    }
    let Some((a, b)) = spec.split_once('-') else {
        return parse_ip(spec)
            .map(|a| vec![a])
            .ok_or_else(|| format!("{spec}: not an address"));
    };
    let first = parse_ip(a).ok_or_else(|| format!("{a}: not an address"))?;
    let last = match (first, parse_ip(b)) {
        (_, Some(l)) => l,
        (IpAddr::V4(f), None) => {
            let n: u8 = b.parse().map_err(|_| format!("{spec}: bad range end"))?;
            let o = f.octets();
            IpAddr::V4(Ipv4Addr::new(o[0], o[1], o[2], n))
        }
        (IpAddr::V6(f), None) => {
            let n = u16::from_str_radix(b, 16).map_err(|_| format!("{spec}: bad range end"))?;
            let mut s = f.segments();
            s[7] = n;
            IpAddr::V6(Ipv6Addr::from(s))
        }
    };
    if first.is_ipv4() != last.is_ipv4() {
        return Err(format!("{spec}: mixed address families"));
    }
    let (lo, hi) = (to_u128(first), to_u128(last));
    if hi < lo {
        return Err(format!("{spec}: the range ends before it starts"));
    }
    if hi - lo >= MAX_RANGE {
        return Err(format!("{spec}: more than {MAX_RANGE} addresses"));
    }
    Ok((lo..=hi).map(|v| from_u128(first, v)).collect())
}

fn to_u128(a: IpAddr) -> u128 {
    match a {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}

fn from_u128(family: IpAddr, v: u128) -> IpAddr {
    match family {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::from(u32::try_from(v).unwrap_or(u32::MAX))),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::from(v)),
    }
}

/// One expanded `virtual_server_group` entry: source line, address, port.
type GroupEntry = (usize, IpAddr, Option<u16>);

/// The entries of one `virtual_server_group`.
fn read_group(cx: &mut Ctx<'_>, st: &Stmt) -> Vec<GroupEntry> {
    let mut out = Vec::new();
    for e in st.block.as_deref().unwrap_or_default() {
        if e.key() == "fwmark" {
            cx.w(e.line, "virtual_server_group fwmark entry not imported: fwmark services are not supported by ferrovs");
            continue;
        }
        let port = match e.arg(1).map(str::parse::<u16>) {
            None => None,
            Some(Ok(p)) => Some(p),
            Some(Err(_)) => {
                cx.w(
                    e.line,
                    format!("group entry {}: bad port", e.words.join(" ")),
                );
                continue;
            }
        };
        match expand(e.key()) {
            Ok(addrs) => out.extend(addrs.into_iter().map(|a| (e.line, a, port))),
            Err(m) => cx.w(e.line, format!("group entry skipped: {m}")),
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Virtual and real servers.

/// A virtual server's own settings, before expansion over its addresses.
struct VsSettings {
    line: usize,
    protocol: Protocol,
    scheduler: Scheduler,
    flags: Vec<SchedFlag>,
    persistence_s: Option<u32>,
    granularity: Option<String>,
    inherit: Inherit,
    sorry: Option<(usize, IpAddr, Option<u16>)>,
    pool: Option<String>,
    /// DPVS's `proxy_protocol v1|v2`, with its line.
    proxy: Option<(usize, config::ProxyProtocol)>,
    /// DPVS's `syn_proxy`, its line.
    syn_proxy: Option<usize>,
    real_servers: Vec<Stmt>,
    skip: bool,
}

fn read_vs(cx: &mut Ctx<'_>, st: &Stmt) -> VsSettings {
    let mut vs = VsSettings {
        line: st.line,
        protocol: Protocol::Tcp,
        scheduler: Scheduler::Wlc,
        flags: Vec::new(),
        persistence_s: None,
        granularity: None,
        inherit: Inherit::default(),
        sorry: None,
        pool: None,
        proxy: None,
        syn_proxy: None,
        real_servers: Vec::new(),
        skip: false,
    };
    let mut sched_set = false;
    let mut flag_words = Vec::new();
    for s in st.block.as_deref().unwrap_or_default() {
        if cx.inherit(s, &mut vs.inherit) {
            continue;
        }
        if let Some(v) = super::dpvs::proxy_protocol(s) {
            vs.proxy = Some((s.line, v));
            continue;
        }
        if s.key() == "syn_proxy" {
            vs.syn_proxy = Some(s.line);
            continue;
        }
        if let Some(warning) = super::dpvs::vs_keyword(s) {
            if let Some(w) = warning {
                cx.w(s.line, w);
            }
            continue;
        }
        match s.key() {
            "lb_algo" | "lvs_sched" => {
                let name = s.arg(1).unwrap_or("");
                match name.parse::<Scheduler>() {
                    Ok(k) => {
                        vs.scheduler = k;
                        sched_set = true;
                    }
                    Err(_) => cx.w(
                        s.line,
                        format!(
                            "{} {name}: scheduler not supported by ferrovs, using wlc",
                            s.key()
                        ),
                    ),
                }
            }
            "protocol" => match s.arg(1).map(str::to_ascii_uppercase).as_deref() {
                Some("TCP") => vs.protocol = Protocol::Tcp,
                Some("UDP") => vs.protocol = Protocol::Udp,
                other => {
                    cx.w(s.line, format!("protocol {}: not supported by ferrovs (TCP or UDP); virtual server skipped", other.unwrap_or("")));
                    vs.skip = true;
                }
            },
            "persistence_timeout" => {
                vs.persistence_s = match s.arg(1) {
                    None => Some(config::DEFAULT_PERSISTENCE_S),
                    Some(_) => cx.number(s, 0, MAX_TIMEOUT_S).filter(|&t| t > 0),
                };
            }
            "persistence_granularity" => vs.granularity = s.arg(1).map(str::to_owned),
            "sh-port" => flag_words.push((s.line, SchedFlag::ShPort)),
            "sh-fallback" => flag_words.push((s.line, SchedFlag::ShFallback)),
            "mh-port" => flag_words.push((s.line, SchedFlag::MhPort)),
            "mh-fallback" => flag_words.push((s.line, SchedFlag::MhFallback)),
            "sorry_server" => match s.arg(1).and_then(parse_ip) {
                Some(ip) => {
                    let port = s.arg(2).and_then(|p| p.parse::<u16>().ok());
                    vs.sorry = Some((s.line, ip, port));
                }
                None => cx.w(s.line, "sorry_server: not an address, ignored"),
            },
            "real_server" => vs.real_servers.push(s.clone()),
            "laddr_group_name" => vs.pool = s.arg(1).map(str::to_owned),
            "expire_quiescent_conn" => {
                vs.inherit.sessions = Some(config::SessionsOnFailure::Drop);
                cx.w(
                    s.line,
                    "expire_quiescent_conn imported as health_check.on_failure_sessions = \"drop\": \
                     ferrovs expires the sessions of servers their health check marks down, not of \
                     servers given weight 0 by hand",
                );
            }
            "ops"
            | "flag-1"
            | "flag-2"
            | "flag-3"
            | "hashed"
            | "persistence_engine"
            | "ha_suspend"
            | "omega"
            | "quorum"
            | "hysteresis"
            | "quorum_up"
            | "quorum_down"
            | "ip_family"
            | "sorry_server_inhibit"
            | "sorry_server_lvs_method"
            | "establish_timeout"
            | "hash_target"
            | "quic"
            | "vip_bind_dev"
            | "bps"
            | "limit_proportion" => {
                cx.w(
                    s.line,
                    format!("{} is not imported: ferrovs has no equivalent", s.key()),
                );
            }
            _ => cx.unknown(s, "virtual_server"),
        }
    }
    for (line, flag) in flag_words {
        if flag.scheduler() == vs.scheduler {
            if !vs.flags.contains(&flag) {
                vs.flags.push(flag);
            }
        } else {
            cx.w(
                line,
                format!(
                    "{flag} ignored: it applies only to the {} scheduler",
                    flag.scheduler().as_str()
                ),
            );
        }
    }
    if !sched_set {
        cx.w(
            st.line,
            "no lb_algo/lvs_sched set, using keepalived's default wlc",
        );
    }
    if vs.inherit.forward.is_none() {
        cx.w(
            st.line,
            "no lb_kind/lvs_method set, using keepalived's default NAT",
        );
    }
    vs
}

/// Build the real servers of one expanded service.
fn real_servers(
    cx: &mut Ctx<'_>,
    vs: &VsSettings,
    vip: IpAddr,
    vport: u16,
    warned: bool,
) -> Vec<RealServer> {
    let mut out: Vec<RealServer> = Vec::new();
    for st in &vs.real_servers {
        // Warnings about the real servers of a group are given for the first address only.
        let mut quiet = Vec::new();
        let mut rcx = Ctx {
            warn: if warned { &mut quiet } else { &mut *cx.warn },
        };
        let Some(addr) = st.arg(1).and_then(parse_ip) else {
            rcx.w(
                st.line,
                format!(
                    "real_server {}: not an address, skipped",
                    st.arg(1).unwrap_or("")
                ),
            );
            continue;
        };
        if addr.is_ipv4() != vip.is_ipv4() {
            rcx.w(
                st.line,
                format!("real_server {addr}: not in the address family of {vip}, skipped"),
            );
            continue;
        }
        let mut inh = vs.inherit.clone();
        let mut u_threshold = 0;
        let mut l_threshold = 0;
        let mut checks = Vec::new();
        let mut bodies = Vec::new();
        for s in st.block.as_deref().unwrap_or_default() {
            if rcx.inherit(s, &mut inh) {
                continue;
            }
            match s.key() {
                "uthreshold" => {
                    u_threshold = rcx
                        .number(s, 0, u32::try_from(i32::MAX).unwrap_or(u32::MAX))
                        .unwrap_or(0)
                }
                "lthreshold" => {
                    l_threshold = rcx
                        .number(s, 0, u32::try_from(i32::MAX).unwrap_or(u32::MAX))
                        .unwrap_or(0)
                }
                "notify_up" | "notify_down" => {
                    rcx.w(
                        s.line,
                        format!(
                            "{} is not imported: ferrovs logs and counts transitions instead",
                            s.key()
                        ),
                    );
                }
                k if k.ends_with("_CHECK") || k == "HTTP_GET" || k == "SSL_GET" => {
                    bodies.push(s.clone())
                }
                _ => rcx.unknown(s, "real_server"),
            }
        }
        for b in &bodies {
            if let Some(hc) = checker(&mut rcx, b, &inh) {
                checks.push((b.line, hc));
            }
        }
        if checks.len() > 1 {
            rcx.w(
                checks[1].0,
                "only the first health check of a real server is imported",
            );
        }
        let forward = inh.forward.unwrap_or(Forward::Nat);
        let mut port = match st.arg(2).map(str::parse::<u16>) {
            None => vport,
            Some(Ok(p)) => p,
            Some(Err(_)) => {
                rcx.w(
                    st.line,
                    format!(
                        "real_server {addr} {}: bad port, skipped",
                        st.arg(2).unwrap_or("")
                    ),
                );
                continue;
            }
        };
        if matches!(forward, Forward::Dr | Forward::Tun) && port != vport {
            rcx.w(st.line, format!("real_server {addr}: port {port} replaced by the virtual port {vport} ({} cannot change the port)", forward.as_str()));
            port = vport;
        }
        if port == 0 && vport != 0 {
            port = vport;
        }
        if l_threshold > 0 && l_threshold >= u_threshold {
            rcx.w(
                st.line,
                format!(
                    "lthreshold {l_threshold} ignored: it must be below uthreshold {u_threshold}"
                ),
            );
            l_threshold = 0;
        }
        if out.iter().any(|r| r.address == addr && r.port == port) {
            rcx.w(
                st.line,
                format!(
                    "real server {} is duplicated - removing second rs",
                    SocketAddr::new(addr, port)
                ),
            );
            continue;
        }
        let mut health_check = checks.into_iter().next().map(|(_, hc)| hc);
        if let Some(hc) = &mut health_check {
            if port == 0 && hc.port.is_none() && !matches!(hc.kind, CheckKind::Command(_)) {
                rcx.w(
                    st.line,
                    "health check dropped: the real server port is 0 and no connect_port is set",
                );
                health_check = None;
            }
        }
        out.push(RealServer {
            address: addr,
            port,
            weight: inh.weight.unwrap_or(1),
            u_threshold,
            l_threshold,
            forward,
            health_check,
        });
    }
    out
}

/// Import keepalived.conf `text` onto `base` (whose services, timeouts and pools it replaces or
/// extends). Warnings name everything not imported, VRRP included (see [`import_ha`]).
///
/// # Errors
///
/// The validation errors of the result (for example a FullNAT service whose local addresses are
/// on none of the base's ports).
pub fn import(text: &str, base: &Config) -> Result<Imported, Vec<Diagnostic>> {
    import_with(text, base, None, false)
}

/// Import keepalived.conf `text` as [`import`] does, onto the placeholder base
/// ([`super::placeholder_base`]): its port takes the local addresses no port holds, as host
/// prefixes, so that a DPVS `local_address_group` imports without `--base` (each told in a
/// note).
///
/// # Errors
///
/// As [`import`].
pub fn import_without_base(text: &str) -> Result<Imported, Vec<Diagnostic>> {
    import_with(text, &super::placeholder_base(), None, true)
}

/// Import keepalived.conf `text` onto `base` as [`import`] does, and its VRRP half as well: the
/// result's `ha` has the `[ha]` section and the VRRP-only keepalived.conf (see
/// [`super::vrrp`]); the ports VRRP runs on get an exception path. `file` names the source in
/// that file's header.
///
/// # Errors
///
/// As [`import`], and the VRRP errors: a `vrrp_instance` without a name or `interface`, an
/// interface no port maps to, no `vrrp_instance` at all.
pub fn import_ha(
    file: &str,
    text: &str,
    base: &Config,
    opts: &HaOptions,
) -> Result<Imported, Vec<Diagnostic>> {
    import_with(text, base, Some((file, opts)), false)
}

/// [`import_ha`] onto the placeholder base, as [`import_without_base`].
///
/// # Errors
///
/// As [`import_ha`].
pub fn import_ha_without_base(
    file: &str,
    text: &str,
    opts: &HaOptions,
) -> Result<Imported, Vec<Diagnostic>> {
    import_with(text, &super::placeholder_base(), Some((file, opts)), true)
}

fn import_with(
    text: &str,
    base: &Config,
    ha: Option<(&str, &HaOptions)>,
    placeholder: bool,
) -> Result<Imported, Vec<Diagnostic>> {
    let mut warnings = Vec::new();
    let tree = kconf::parse(text, &mut warnings);
    let mut notes = Vec::new();
    let mut errors = Vec::new();
    let mut cx = Ctx {
        warn: &mut warnings,
    };
    let mut cfg = base.clone();
    cfg.services.clear();
    let admission_groups = super::dpvs::address_groups(&tree, cx.warn, expand);
    let mut groups: HashMap<String, Vec<GroupEntry>> = HashMap::new();
    for st in &tree {
        if st.key() == "virtual_server_group" {
            let name = st.arg(1).unwrap_or("").to_owned();
            let entries = read_group(&mut cx, st);
            groups.insert(name, entries);
        }
    }
    for st in &tree {
        match st.key() {
            "virtual_server_group" => {}
            "virtual_server" => {
                let first = cfg.services.len();
                import_vs(&mut cx, st, &groups, &mut cfg);
                let svcs = &mut cfg.services[first..];
                super::dpvs::apply_address_groups(st, &admission_groups, svcs, cx.warn);
            }
            "global_defs" => {
                for g in st.block.as_deref().unwrap_or_default() {
                    if g.key() == "lvs_timeouts" {
                        lvs_timeouts(&mut cx, g, &mut cfg);
                    } else if g.key() == "lvs_sync_daemon" {
                        let interfaces = ha.map_or(&[][..], |(_, o)| o.interfaces.as_slice());
                        super::sync_daemon::import(
                            g, &tree, &mut cfg, interfaces, cx.warn, &mut notes,
                        );
                    } else if ha.is_none() || g.key().starts_with("lvs_") {
                        cx.w(g.line, format!("global_defs {} is not imported", g.key()));
                    }
                    // With --keepalived-out the other keywords stay in the VRRP-only file.
                }
            }
            "local_address_group" => {
                let placement = super::dpvs::Placement {
                    interfaces: ha.map_or(&[][..], |(_, o)| o.interfaces.as_slice()),
                    placeholder,
                };
                let mut d = super::dpvs::Diags {
                    warn: &mut *cx.warn,
                    notes: &mut notes,
                    errors: &mut errors,
                };
                super::dpvs::local_address_group(st, &mut cfg, &placement, &mut d, expand);
            }
            // Read before the loop, imported through the virtual servers that name them.
            "deny_address_group" | "allow_address_group" => {}
            "static_ipaddress" | "static_routes" | "static_rules" if ha.is_some() => cx.w(
                st.line,
                format!(
                    "{}: not imported and not kept: the box's own addresses and routes are the \
                     ferrovs ports' addresses and [[route]]",
                    st.key()
                ),
            ),
            "vrrp_instance" | "vrrp_sync_group" | "vrrp_script" | "vrrp_track_process"
            | "track_file" | "vrrp_track_file" | "bfd_instance" | "garp_group"
                if ha.is_some() => {}
            "vrrp_instance" | "vrrp_sync_group" | "vrrp_script" | "vrrp_track_process"
            | "static_ipaddress" | "static_routes" | "static_rules" => cx.w(
                st.line,
                format!(
                    "{} {}: VRRP and addresses are for high availability and are not imported; \
                     import with --keepalived-out FILE for an [ha] section and a VRRP-only \
                     keepalived.conf",
                    st.key(),
                    st.arg(1).unwrap_or("")
                ),
            ),
            k if k.starts_with('$') && ha.is_some() => {}
            "include" => cx.w(
                st.line,
                format!(
                    "include {}: not followed; import that file separately",
                    st.arg(1).unwrap_or("")
                ),
            ),
            _ => cx.w(st.line, format!("{} is not imported", st.key())),
        }
    }
    let ha = match ha {
        Some((file, opts)) => Some(vrrp::plan(
            file,
            text,
            &tree,
            &mut cfg,
            opts,
            &mut warnings,
            &mut notes,
        )?),
        None => None,
    };
    super::dpvs::syn_proxy_secret(&mut cfg, &mut notes);
    match crate::apply::validate(&cfg) {
        Ok(config) if errors.is_empty() => Ok(Imported {
            config,
            warnings,
            notes,
            ha,
        }),
        Ok(_) => Err(errors),
        Err(e) => {
            // What the import found first (with lines), then the schema's verdict.
            errors.extend(e.message.lines().map(|l| Diagnostic {
                line: 0,
                message: l.to_owned(),
            }));
            Err(errors)
        }
    }
}

fn lvs_timeouts(cx: &mut Ctx<'_>, st: &Stmt, cfg: &mut Config) {
    let mut i = 1;
    while i + 1 < st.words.len() {
        let v = st.words[i + 1]
            .parse::<u32>()
            .ok()
            .filter(|v| *v <= MAX_TIMEOUT_S);
        match (st.words[i].as_str(), v) {
            ("tcp", Some(v)) if v > 0 => cfg.timeouts.tcp_s = v,
            ("tcpfin", Some(v)) if v > 0 => cfg.timeouts.tcpfin_s = v,
            ("udp", Some(v)) if v > 0 => cfg.timeouts.udp_s = v,
            (k, _) => cx.w(
                st.line,
                format!("lvs_timeouts {k} {}: ignored", st.words[i + 1]),
            ),
        }
        i += 2;
    }
}

fn import_vs(
    cx: &mut Ctx<'_>,
    st: &Stmt,
    groups: &HashMap<String, Vec<GroupEntry>>,
    cfg: &mut Config,
) {
    let targets: Vec<(IpAddr, Option<u16>)> = match st.arg(1) {
        Some("fwmark") => {
            cx.w(
                st.line,
                "virtual_server fwmark: fwmark services are not supported by ferrovs; skipped",
            );
            return;
        }
        Some("match") => {
            cx.w(
                st.line,
                "virtual_server match (DPVS SNAT) is not supported by ferrovs; skipped",
            );
            return;
        }
        Some("group") => {
            let name = st.arg(2).unwrap_or("");
            match groups.get(name) {
                Some(entries) => entries.iter().map(|(_, a, p)| (*a, *p)).collect(),
                None => {
                    cx.w(
                        st.line,
                        format!(
                            "virtual_server group {name}: no such virtual_server_group; skipped"
                        ),
                    );
                    return;
                }
            }
        }
        Some(a) => match parse_ip(a) {
            Some(ip) => vec![(ip, st.arg(2).and_then(|p| p.parse().ok()))],
            None => {
                cx.w(
                    st.line,
                    format!("virtual_server {a}: not an address; skipped"),
                );
                return;
            }
        },
        None => {
            cx.w(st.line, "virtual_server without an address; skipped");
            return;
        }
    };
    let vs = read_vs(cx, st);
    if vs.skip {
        return;
    }
    for (i, (vip, port)) in targets.into_iter().enumerate() {
        let port = port.unwrap_or(0);
        let label = SocketAddr::new(vip, port);
        if port == 0 && vs.persistence_s.is_none() {
            cx.w(
                vs.line,
                format!("virtual server {label}: port 0 needs persistence_timeout; skipped"),
            );
            continue;
        }
        if vip.is_loopback() || vip.is_unspecified() {
            cx.w(
                vs.line,
                format!("virtual server {label}: not a usable VIP; skipped"),
            );
            continue;
        }
        let protocol = vs.protocol;
        if cfg
            .services
            .iter()
            .any(|s| s.vip == vip && s.port == port && s.protocol == protocol)
        {
            cx.w(
                vs.line,
                format!(
                    "virtual server {} {label} is duplicated; the second is skipped",
                    protocol.as_str()
                ),
            );
            continue;
        }
        let mut rs = real_servers(cx, &vs, vip, port, i > 0);
        let forward = vs.inherit.forward.unwrap_or(Forward::Nat);
        let prefix_max = if vip.is_ipv4() { 32 } else { 128 };
        let mut prefix = prefix_max;
        if let (Some(g), Some(_)) = (&vs.granularity, vs.persistence_s) {
            let len = if vip.is_ipv4() {
                g.parse::<Ipv4Addr>().ok().and_then(|m| {
                    let m = u32::from(m);
                    (m.leading_ones() + m.trailing_zeros() >= 32)
                        .then(|| u8::try_from(m.leading_ones()).unwrap_or(32))
                })
            } else {
                g.parse::<u8>().ok().filter(|l| *l <= 128)
            };
            match len {
                Some(l) => prefix = l,
                None if i == 0 => cx.w(
                    vs.line,
                    format!("persistence_granularity {g}: not a prefix netmask, ignored"),
                ),
                None => {}
            }
        }
        let sorry_server = vs.sorry.and_then(|(line, ip, p)| {
            let sp = if matches!(forward, Forward::Dr | Forward::Tun) {
                port
            } else {
                p.unwrap_or(port)
            };
            if ip.is_ipv4() != vip.is_ipv4() {
                if i == 0 {
                    cx.w(
                        line,
                        format!("sorry_server {ip}: not in the address family of {vip}, ignored"),
                    );
                }
                return None;
            }
            Some(SocketAddr::new(ip, sp))
        });
        // One check shared by every real server becomes the service's default.
        let mut health_check = HealthCheck::none();
        if let Some(first) = rs.first().and_then(|r| r.health_check.clone()) {
            if rs.iter().all(|r| r.health_check.as_ref() == Some(&first)) {
                health_check = first;
                for r in &mut rs {
                    r.health_check = None;
                }
            }
        }
        let fullnat =
            forward == Forward::FullNat || rs.iter().any(|r| r.forward == Forward::FullNat);
        let pool = if fullnat {
            if vs.pool.is_none() && i == 0 {
                cx.w(
                    vs.line,
                    "FNAT without laddr_group_name: ferrovs needs a local address pool",
                );
            }
            vs.pool.clone()
        } else {
            if vs.pool.is_some() && i == 0 {
                cx.w(
                    vs.line,
                    "laddr_group_name ignored: the virtual server does not use FNAT",
                );
            }
            None
        };
        // The PROXY header needs the replies (NAT, FullNAT) and TCP; TOA goes with it off.
        let proxy_protocol = match vs.proxy {
            Some((_, v))
                if protocol == Protocol::Tcp
                    && forward.sees_replies()
                    && rs.iter().all(|r| r.forward.sees_replies()) =>
            {
                v
            }
            Some((line, v)) => {
                if i == 0 {
                    cx.w(
                        line,
                        format!(
                            "proxy_protocol {v} not imported: ferrovs inserts the header only on TCP services whose real servers all use NAT or FNAT"
                        ),
                    );
                }
                config::ProxyProtocol::Off
            }
            None => config::ProxyProtocol::Off,
        };
        let with_proxy = proxy_protocol != config::ProxyProtocol::Off;
        // DPVS's SYN proxy: ferrovs's, where it can run (TCP, NAT/FNAT only, no PROXY header).
        let syn_proxy = match vs.syn_proxy {
            Some(_)
                if protocol == Protocol::Tcp
                    && !with_proxy
                    && forward.sees_replies()
                    && rs.iter().all(|r| r.forward.sees_replies()) =>
            {
                config::SynProxyMode::On
            }
            Some(line) => {
                if i == 0 {
                    cx.w(line, super::dpvs::SYN_PROXY_NOT_IMPORTED);
                }
                config::SynProxyMode::Off
            }
            None => config::SynProxyMode::Off,
        };
        cfg.services.push(Service {
            vip,
            port,
            protocol,
            scheduler: vs.scheduler,
            sched_flags: vs.flags.clone(),
            persistence_s: vs.persistence_s,
            persistence_prefix_len: if vs.persistence_s.is_some() {
                prefix
            } else {
                prefix_max
            },
            forward,
            local_address_pool: pool,
            toa: if fullnat && protocol == Protocol::Tcp && !with_proxy {
                Toa::Ack
            } else {
                Toa::Off
            },
            proxy_protocol,
            mss_clamp: None,
            syn_proxy,
            sorry_server,
            health_check,
            real_servers: rs,
            sloppy_tcp: None,
            admission: config::ServiceAdmission::default(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_ranges_expand() {
        let v = expand("192.168.200.3-10").expect("range");
        assert_eq!(v.len(), 8);
        assert_eq!(v[7].to_string(), "192.168.200.10");
        let v6 = expand("ae00::2-9").expect("v6 range");
        assert_eq!(v6.len(), 8);
        assert_eq!(v6[0].to_string(), "ae00::2");
        assert_eq!(expand("10.0.0.8/29").expect("cidr").len(), 8);
        assert!(expand("10.0.0.0/8").is_err());
        assert!(expand("10.0.0.9-3").is_err());
        assert!(expand("nonsense").is_err());
    }
}
