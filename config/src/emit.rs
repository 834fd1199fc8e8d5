//! Writing a [`Config`] back as TOML (`ferrovs config export`).
//!
//! The output is canonical rather than a copy of the input: every section in a fixed order,
//! every key with its effective value except where leaving it out reads back the same (no
//! health check, a real server inheriting the service's forwarding method, zero thresholds).
//! The contract, tested, is `parse(&c.to_toml()) == Ok(c)`.

use core::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};

use crate::model::*;
use crate::schema::format_lcore_list;
use crate::SessionSync;

/// Quote a TOML basic string.
fn q(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Format a list of displayable values as a TOML array of strings.
fn str_list<T: ToString>(items: impl IntoIterator<Item = T>) -> String {
    let v: Vec<String> = items.into_iter().map(|i| q(&i.to_string())).collect();
    format!("[{}]", v.join(", "))
}

/// Format an address with an optional port the way `sorry_server` reads it.
fn addr_port(sa: SocketAddr) -> String {
    sa.to_string()
}

/// Return the dotted IPv4 netmask of a prefix length.
fn netmask(len: u8) -> String {
    let m = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
    std::net::Ipv4Addr::from(m).to_string()
}

/// Write `[announce]`.
fn announce(o: &mut String, a: &crate::Announce) {
    let _ = writeln!(o, "\n[announce]\ntable = {}", a.table);
    if let Some(v) = &a.vips {
        let _ = writeln!(o, "vips = {}", str_list(v));
    }
    if let Some(d) = &a.device {
        let _ = writeln!(o, "device = {}", q(d));
    }
    let _ = writeln!(
        o,
        "rise = {}\nhold_down = {}\ndrain = {}\nbird_socket = {}",
        a.rise_s,
        a.hold_down_s,
        a.drain_s,
        q(&a.bird_socket)
    );
}

/// Write `[sync]` unless it has every default.
fn sync(o: &mut String, s: &SessionSync) {
    if *s == SessionSync::default() {
        return;
    }
    let _ = writeln!(o, "\n[sync]\nenabled = {}", s.enabled);
    if let Some(l) = s.listen {
        let _ = writeln!(o, "listen = {}", q(&l.to_string()));
    }
    let _ = writeln!(o, "peers = {}", str_list(&s.peers));
    if let Some(g) = s.group {
        let _ = writeln!(o, "group = {}\nttl = {}", q(&g.to_string()), s.ttl);
    }
    if let Some(p) = s.group_port {
        let _ = writeln!(o, "group_port = {p}");
    }
    if let Some(k) = &s.key {
        let _ = writeln!(o, "key = {}", q(&k.to_hex()));
    }
    let _ = writeln!(
        o,
        "syncid = {}\nmax_datagram = {}\nrate = {}\nmode = {}",
        s.syncid,
        s.max_datagram,
        s.rate,
        q(s.mode.name())
    );
    if let Some(n) = s.expect_peers {
        let _ = writeln!(o, "expect_peers = {n}");
    }
}

fn health_check(out: &mut String, header: &str, hc: &HealthCheck) {
    let _ = writeln!(out, "\n[{header}]");
    let _ = writeln!(out, "type = {}", q(hc.kind.name()));
    if hc.kind == CheckKind::None {
        return;
    }
    let _ = writeln!(out, "interval = {}", hc.interval_s);
    let _ = writeln!(out, "timeout = {}", hc.timeout_s);
    let _ = writeln!(out, "retries = {}", hc.retries);
    let _ = writeln!(out, "rise = {}", hc.rise);
    let _ = writeln!(out, "fall = {}", hc.fall);
    if let Some(p) = hc.port {
        let _ = writeln!(out, "port = {p}");
    }
    let _ = writeln!(out, "inhibit_on_failure = {}", hc.inhibit_on_failure);
    if hc.on_failure_sessions != SessionsOnFailure::Keep {
        let _ = writeln!(
            out,
            "on_failure_sessions = {}",
            q(hc.on_failure_sessions.name())
        );
    }
    match &hc.kind {
        CheckKind::Http(h) => {
            let _ = writeln!(out, "path = {}", q(&h.path));
            let codes: Vec<String> = h.status.iter().map(u16::to_string).collect();
            let _ = writeln!(out, "status = [{}]", codes.join(", "));
            if let Some(host) = &h.host {
                let _ = writeln!(out, "host = {}", q(host));
            }
            if let Some(d) = &h.digest {
                let _ = writeln!(out, "digest = {}", q(d));
            }
        }
        CheckKind::Command(c) => {
            let _ = writeln!(out, "command = {}", q(&c.command));
        }
        CheckKind::None | CheckKind::Tcp => {}
    }
}

/// `[syn_proxy]`, when it holds a secret or levels other than the defaults.
fn syn_proxy_keys(o: &mut String, k: &crate::SynProxyKeys, redact: bool) {
    let show = |s: &crate::SynProxySecret| {
        if redact {
            q("<redacted>")
        } else {
            q(&s.to_hex())
        }
    };
    let auto = k.auto != crate::SynProxyAuto::default();
    if k.secret.is_none() && !auto {
        return;
    }
    let _ = writeln!(o, "\n[syn_proxy]");
    if let Some(s) = &k.secret {
        let _ = writeln!(o, "secret = {}", show(s));
        if let Some(p) = &k.previous_secret {
            let _ = writeln!(o, "previous_secret = {}", show(p));
        }
    }
    if auto {
        let a = &k.auto;
        let _ = writeln!(
            o,
            "auto_on_syn_rate = {}\nauto_off_syn_rate = {}\nauto_on_table_fill = {}\n\
             auto_off_table_fill = {}\nauto_hold = {}",
            a.on_syn_rate, a.off_syn_rate, a.on_table_fill, a.off_table_fill, a.hold_s
        );
    }
}

/// Write `c` as a TOML document that [`crate::parse`] reads back to an equal [`Config`].
pub(crate) fn to_toml(c: &Config) -> String {
    to_toml_with(c, false)
}

/// [`to_toml`], with the SYN cookie secrets written as `"<redacted>"` when `redact` (what
/// leaves the gateway through the admin socket; such a text does not parse back).
pub(crate) fn to_toml_with(c: &Config, redact: bool) -> String {
    let mut o = String::new();
    let d = &c.dpdk;
    let _ = writeln!(o, "[dpdk]");
    let _ = writeln!(o, "lcores = {}", q(&format_lcore_list(&d.lcores)));
    let _ = writeln!(o, "main_lcore = {}", d.main_lcore);
    let _ = writeln!(
        o,
        "worker_lcores = {}",
        q(&format_lcore_list(&d.worker_lcores))
    );
    if !d.lcore_cpus.is_empty() {
        let cpus: Vec<String> = d.lcore_cpus.iter().map(u32::to_string).collect();
        let _ = writeln!(o, "lcore_cpus = [{}]", cpus.join(", "));
    }
    let _ = writeln!(o, "hugepages = {}", d.hugepages);
    if let Some(m) = d.memory_mb {
        let _ = writeln!(o, "memory_mb = {m}");
    }
    let _ = writeln!(o, "file_prefix = {}", q(&d.file_prefix));
    let _ = writeln!(o, "extra_eal_args = {}", str_list(&d.extra_eal_args));
    let _ = writeln!(o, "mbufs_per_port = {}", d.mbufs_per_port);
    let _ = writeln!(o, "session_capacity = {}", d.session_capacity);
    let _ = writeln!(o, "persist_capacity = {}", d.persist_capacity);
    if d.idle != Idle::Busy {
        let _ = writeln!(o, "idle = {}", q(d.idle.name()));
    }

    let t = &c.timeouts;
    let _ = writeln!(
        o,
        "\n[timeouts]\ntcp = {}\ntcpfin = {}\nudp = {}",
        t.tcp_s, t.tcpfin_s, t.udp_s
    );
    let _ = writeln!(
        o,
        "\n[control]\nmetrics_listen = {}\nadmin_socket = {}",
        q(&c.control.metrics_listen.to_string()),
        q(&c.control.admin_socket)
    );
    if let Some(k) = &c.control.console {
        let allow: Vec<String> = k
            .allow
            .iter()
            .map(|p| format!("{}/{}", p.addr, p.len))
            .collect();
        let users: Vec<String> = k
            .users
            .iter()
            .map(|u| format!("{}:{}", u.name, u.hash))
            .collect();
        let _ = writeln!(
            o,
            "console = {}\nconsole_allow = {}\nconsole_users = {}",
            q(&k.listen.to_string()),
            str_list(&allow),
            str_list(&users)
        );
    }
    if c.ha != Ha::default() {
        let h = &c.ha;
        let _ = writeln!(o, "\n[ha]\nmode = {}", q(h.mode.name()));
        if let Some(a) = &h.addresses {
            let _ = writeln!(o, "addresses = {}", str_list(a));
        }
        let _ = writeln!(
            o,
            "garp_repeat = {}\ngarp_delay = {}\ngarp_refresh = {}",
            h.garp_repeat, h.garp_delay_s, h.garp_refresh_s
        );
    }
    sync(&mut o, &c.sync);
    crate::admission::emit_section(&mut o, &c.admission);
    syn_proxy_keys(&mut o, &c.syn_proxy, redact);
    if let Some(a) = &c.announce {
        announce(&mut o, a);
    }

    for p in &c.ports {
        let _ = writeln!(
            o,
            "\n[[port]]\nname = {}\ndevice = {}\nmtu = {}",
            q(&p.name),
            q(&p.device),
            p.mtu
        );
        let _ = writeln!(o, "addresses = {}", str_list(&p.addresses));
        if let Some(m) = p.mac {
            let _ = writeln!(o, "mac = {}", q(&m.to_string()));
        }
        if let Some(tap) = &p.exception_path {
            let _ = writeln!(o, "exception_path = {{ tap = {} }}", q(tap));
        }
        let _ = writeln!(o, "rx_desc = {}\ntx_desc = {}", p.rx_desc, p.tx_desc);
    }
    for pool in &c.local_address_pools {
        let _ = writeln!(
            o,
            "\n[[local_address_pool]]\nname = {}\naddresses = {}\nport = {}",
            q(&pool.name),
            str_list(&pool.addresses),
            q(&pool.port)
        );
    }
    for r in &c.routes {
        let _ = writeln!(
            o,
            "\n[[route]]\nprefix = {}\nvia = {}\nport = {}",
            q(&r.prefix.to_string()),
            q(&r.via.to_string()),
            q(&r.port)
        );
    }
    for n in &c.neighbours {
        let _ = writeln!(
            o,
            "\n[[neighbour]]\naddress = {}\nmac = {}\nport = {}",
            q(&n.address.to_string()),
            q(&n.mac.to_string()),
            q(&n.port)
        );
    }
    for s in &c.services {
        let _ = writeln!(
            o,
            "\n[[service]]\nvip = {}\nport = {}",
            q(&s.vip.to_string()),
            s.port
        );
        let _ = writeln!(
            o,
            "protocol = {}\nscheduler = {}",
            q(s.protocol.as_str()),
            q(s.scheduler.as_str())
        );
        if !s.sched_flags.is_empty() {
            let _ = writeln!(
                o,
                "sched_flags = {}",
                str_list(s.sched_flags.iter().map(|f| f.as_str()))
            );
        }
        if let Some(p) = s.persistence_s {
            let _ = writeln!(o, "persistence = {p}");
            match s.vip {
                IpAddr::V4(_) => {
                    let _ = writeln!(
                        o,
                        "persistence_netmask = {}",
                        q(&netmask(s.persistence_prefix_len))
                    );
                }
                IpAddr::V6(_) => {
                    let _ = writeln!(o, "persistence_netmask = {}", s.persistence_prefix_len);
                }
            }
        }
        let _ = writeln!(o, "forward = {}", q(s.forward.as_str()));
        if let Some(pool) = &s.local_address_pool {
            let _ = writeln!(o, "local_address_pool = {}", q(pool));
        }
        if s.toa != Toa::Off || s.local_address_pool.is_some() && s.protocol == Protocol::Tcp {
            let _ = writeln!(o, "toa = {}", q(s.toa.as_str()));
        }
        if s.proxy_protocol != ProxyProtocol::Off {
            let _ = writeln!(o, "proxy_protocol = {}", q(s.proxy_protocol.as_str()));
        }
        if let Some(m) = s.mss_clamp {
            let _ = writeln!(o, "mss_clamp = {m}");
        }
        if s.syn_proxy != crate::SynProxyMode::Off {
            let _ = writeln!(o, "syn_proxy = {}", q(s.syn_proxy.as_str()));
        }
        if let Some(sa) = s.sorry_server {
            let _ = writeln!(o, "sorry_server = {}", q(&addr_port(sa)));
        }
        if let Some(b) = s.sloppy_tcp {
            let _ = writeln!(o, "sloppy_tcp = {b}");
        }
        crate::admission::emit_service(&mut o, &s.admission);
        if s.health_check.kind != CheckKind::None {
            health_check(&mut o, "service.health_check", &s.health_check);
        }
        for rs in &s.real_servers {
            let _ = writeln!(
                o,
                "\n[[service.real_server]]\naddress = {}\nport = {}\nweight = {}",
                q(&rs.address.to_string()),
                rs.port,
                rs.weight
            );
            if rs.u_threshold != 0 {
                let _ = writeln!(o, "u_threshold = {}", rs.u_threshold);
            }
            if rs.l_threshold != 0 {
                let _ = writeln!(o, "l_threshold = {}", rs.l_threshold);
            }
            if rs.forward != s.forward {
                let _ = writeln!(o, "forward = {}", q(rs.forward.as_str()));
            }
            if let Some(hc) = &rs.health_check {
                health_check(&mut o, "service.real_server.health_check", hc);
            }
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_escapes_what_toml_requires() {
        assert_eq!(q("a\"b\\c\nd\te\u{1}"), "\"a\\\"b\\\\c\\nd\\te\\u0001\"");
        assert_eq!(q("été"), "\"été\"");
    }

    #[test]
    fn netmask_of_prefix_length() {
        assert_eq!(netmask(0), "0.0.0.0");
        assert_eq!(netmask(24), "255.255.255.0");
        assert_eq!(netmask(32), "255.255.255.255");
    }
}
