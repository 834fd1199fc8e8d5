//! ipvsadm's listing formats, byte for byte (ipvsadm 1.31 `print_title`, `print_service_entry`,
//! `print_largenum`, `list_conn`, `list_timeout`, the `-S` rule format).
//!
//! Widths, truncation and trailing spaces follow the printf formats: the service column is
//! `"%-4s %s"` cut at 33 bytes for IPv4, the real-server column is cut at 28 bytes for IPv4,
//! destination rows end in the padding of `%-10u`, and large counters scale to K/M/G/T unless
//! `--exact`. Sorting (the default) orders services by address family, protocol, address and
//! port and real servers by address and port, numerically. ipvsadm's comparator subtracts
//! unsigned addresses into an `int` and so misorders addresses more than 2^31 apart; ferrovs
//! sorts correctly instead, which only differs for such pairs.
//!
//! ferrovs additions: the Forward column says `FullNat` for FullNAT real servers (as DPVS's
//! ipvsadm does), `-S` writes `--fullnat` for them and `--laddr-pool NAME` on the `-A` line of a
//! service with a local address pool. With `--health` (never by default, so ipvsadm's formats
//! stay byte for byte what scripts parse) every real-server row ends with a `Health` column:
//! `up 3m07s`, `down 12s (connect: Connection refused)` or `unchecked`, after the row's usual
//! columns, and the title names it after its last column. `-L --ha` ([`ha`]) lists the
//! addresses director HA follows: one row each, state `owned` or `not-owned` (one word, for
//! awk), how long, since when (UTC) and through which TAP. `-L --announce` ([`announce`]) lists
//! the VIP routes kept for BIRD (ECMP): a status line (table, drained or not, BIRD up or not,
//! sessions) and one row per VIP, state `announced`, `withdrawn`, `waiting` (worthy, held by
//! `rise` / `hold_down`) or `drained`, how long, the route's device and why. `-L --syn-proxy`
//! ([`syn_proxy`]) lists each service's SYN proxy: mode, workers engaged, switches.

use core::fmt::Write as _;
use std::net::IpAddr;

use crate::ipvsadm::Format;
use crate::names::Names;
use crate::proto::{
    AnnounceListing, ConnEntry, DaemonEntry, DestEntry, Fwd, HaListing, HealthState, Listing,
    Proto, ServiceEntry, SynProxyMode, IPVS_VERSION,
};
use types::SchedFlag;

/// Format `addr:port` numerically, IPv6 in brackets.
pub fn addr_port_numeric(addr: IpAddr, port: u16) -> String {
    match addr {
        IpAddr::V4(a) => format!("{a}:{port}"),
        IpAddr::V6(a) => format!("[{a}]:{port}"),
    }
}

/// ipvsadm's `addrport_to_anyname`: numeric with `-n`, else host and service names where known.
/// The result is cut at 59 bytes, the size of ipvsadm's buffer.
fn addrport(addr: IpAddr, port: u16, proto: Proto, numeric: bool, names: &dyn Names) -> String {
    let mut s = if numeric {
        addr_port_numeric(addr, port)
    } else {
        let host = names.addr_to_host(addr).unwrap_or_else(|| addr.to_string());
        let port = names
            .port_to_service(port, proto)
            .unwrap_or_else(|| port.to_string());
        match addr {
            IpAddr::V4(_) => format!("{host}:{port}"),
            IpAddr::V6(_) => format!("[{host}]:{port}"),
        }
    };
    truncate(&mut s, 59);
    s
}

/// Cut `s` to at most `n` bytes (on a character boundary).
fn truncate(s: &mut String, n: usize) {
    if s.len() > n {
        let mut i = n;
        while !s.is_char_boundary(i) {
            i -= 1;
        }
        s.truncate(i);
    }
}

/// ipvsadm's `print_largenum`.
fn largenum(out: &mut String, i: u64, exact: bool) {
    if exact {
        let len = i.to_string().len();
        let w = if len <= 8 { 9 } else { len + 1 };
        let _ = write!(out, "{i:>w$}");
        return;
    }
    let _ = if i < 100_000_000 {
        write!(out, "{i:>9}")
    } else if i < 1_000_000_000 {
        write!(out, "{:>8}K", i / 1_000)
    } else if i < 100_000_000_000 {
        write!(out, "{:>8}M", i / 1_000_000)
    } else if i < 100_000_000_000_000 {
        write!(out, "{:>8}G", i / 1_000_000_000)
    } else {
        write!(out, "{:>8}T", i / 1_000_000_000_000)
    };
}

/// ipvsadm's `print_title` (nothing for `-S`), plus the ferrovs `Health` column name with
/// `--health`: after the last column of the title line that names the real-server columns.
fn title(out: &mut String, f: &Format) {
    let start = out.len();
    title_ipvsadm(out, f);
    if f.health {
        let mut lines: Vec<String> = out[start..].lines().map(str::to_owned).collect();
        out.truncate(start);
        // --stats, --rate, --thresholds and --persistent-conn name every column on their first
        // line; the others on their second, whose InActConn heads a 10-wide column.
        let (i, sep) = if f.stats || f.rate || f.thresholds || f.persistent_conn {
            (0, " ")
        } else {
            (1, "  ")
        };
        if let Some(l) = lines.get_mut(i) {
            l.push_str(sep);
            l.push_str("Health");
        }
        for l in lines {
            out.push_str(&l);
            out.push('\n');
        }
    }
}

/// `ferrovsadm --health`: the Health column of one real server, with its leading space: the
/// state, how long it has held, and for a down server the last failure.
fn health_column(out: &mut String, d: &DestEntry) {
    let Some(h) = &d.health else {
        out.push_str(" n/a");
        return;
    };
    let _ = write!(out, " {}", h.state.name());
    if h.state == HealthState::Unchecked {
        return;
    }
    let _ = write!(out, " {}", duration(h.for_s));
    if h.state == HealthState::Down {
        if let Some(r) = &h.last_failure {
            let _ = write!(out, " ({r})");
        }
    }
}

/// A compact duration: `42s`, `3m07s`, `2h05m`, `3d04h`.
pub fn duration(s: u64) -> String {
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        3600..86400 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d{:02}h", s / 86400, s % 86400 / 3600),
    }
}

/// `YYYY-MM-DD HH:MM:SS` (UTC) of `s` seconds since the Unix epoch (proleptic Gregorian,
/// Howard Hinnant's `civil_from_days`).
pub fn utc(s: u64) -> String {
    let days = i64::try_from(s / 86400).unwrap_or(i64::MAX);
    let secs = s % 86400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// `ferrovsadm -L --ha`: the addresses director HA follows.
pub fn ha(l: &HaListing) -> String {
    let mut out = String::new();
    if l.mode == "none" {
        out.push_str("Director HA: mode none (every address is always owned)\n");
        return out;
    }
    let _ = writeln!(
        out,
        "Director HA: mode {}, {} address{} followed",
        l.mode,
        l.addresses.len(),
        if l.addresses.len() == 1 { "" } else { "es" }
    );
    if !l.synced {
        out.push_str("Waiting for the kernel's addresses: nothing is owned before\n");
    }
    if let Some(p) = &l.problem {
        let _ = writeln!(out, "Watcher: {p}");
    }
    let _ = writeln!(
        out,
        "{:<40} {:<10} {:<7} {:<20} TAP",
        "Address", "State", "For", "Since (UTC)"
    );
    for a in &l.addresses {
        let _ = writeln!(
            out,
            "{:<40} {:<10} {:<7} {:<20} {}",
            a.address.to_string(),
            if a.owned { "owned" } else { "not-owned" },
            duration(l.now_s.saturating_sub(a.since_s)),
            utc(a.since_s),
            a.tap.as_deref().unwrap_or("-")
        );
    }
    out
}

/// `ferrovsadm -L --announce` (and the answer to `--drain` / `--undrain`): the VIP routes.
pub fn announce(l: &AnnounceListing) -> String {
    let mut out = String::new();
    let n = l.vips.iter().filter(|v| v.announced).count();
    let state = match (l.drained, l.stopping_in_s) {
        (_, Some(s)) => format!("stopping in {s}s (drained)"),
        (true, None) => "drained".to_owned(),
        (false, None) => "active".to_owned(),
    };
    let _ = writeln!(
        out,
        "ECMP announce: table {}, {state}, {n} of {} VIP{} announced, {} session{}",
        l.table,
        l.vips.len(),
        if l.vips.len() == 1 { "" } else { "s" },
        l.sessions,
        if l.sessions == 1 { "" } else { "s" }
    );
    match (&l.bird_problem, l.bird_up) {
        (_, true) => out.push_str("BIRD: up\n"),
        (Some(p), false) => {
            let _ = writeln!(out, "BIRD: down ({p}); forwarding is not affected");
        }
        (None, false) => out.push_str("BIRD: not probed yet\n"),
    }
    if let Some(p) = &l.problem {
        let _ = writeln!(out, "Table: {p}");
    }
    if !l.foreign.is_empty() {
        let _ = writeln!(
            out,
            "Table: routes not ferrovs's (left alone): {}",
            l.foreign.join(", ")
        );
    }
    let _ = writeln!(
        out,
        "{:<40} {:<10} {:<7} {:<15} Why",
        "VIP", "State", "For", "Dev"
    );
    for v in &l.vips {
        let st = if v.announced {
            "announced"
        } else if l.drained {
            "drained"
        } else if v.worthy {
            "waiting"
        } else {
            "withdrawn"
        };
        let _ = writeln!(
            out,
            "{:<40} {:<10} {:<7} {:<15} {}",
            v.vip.to_string(),
            st,
            duration(l.now_s.saturating_sub(v.since_s)),
            v.device.as_deref().unwrap_or("-"),
            v.why
        );
    }
    out
}

/// `print_title` proper.
fn title_ipvsadm(out: &mut String, f: &Format) {
    let first = format!("{:<33}", "Prot LocalAddress:Port");
    if f.stats {
        let _ = writeln!(
            out,
            "{first} {:>8} {:>8} {:>8} {:>8} {:>8}\n  -> RemoteAddress:Port",
            "Conns", "InPkts", "OutPkts", "InBytes", "OutBytes"
        );
    } else if f.rate {
        let _ = writeln!(
            out,
            "{first} {:>8} {:>8} {:>8} {:>8} {:>8}\n  -> RemoteAddress:Port",
            "CPS", "InPPS", "OutPPS", "InBPS", "OutBPS"
        );
    } else if f.thresholds {
        let _ = writeln!(
            out,
            "{first} {:<10} {:<10} {:<10} {:<10}\n  -> RemoteAddress:Port",
            "Uthreshold", "Lthreshold", "ActiveConn", "InActConn"
        );
    } else if f.persistent_conn {
        let _ = writeln!(
            out,
            "{first} {:<9} {:<11} {:<10} {:<10}\n  -> RemoteAddress:Port",
            "Weight", "PersistConn", "ActiveConn", "InActConn"
        );
    } else if f.tun_info {
        out.push_str("Prot LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward TunnelInfo    Weight ActiveConn InActConn\n");
    } else {
        out.push_str("Prot LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n");
    }
}

/// The scheduler flags as `print_sched_flags` orders them (fallback before port, as
/// `SchedFlag::ALL` lists them).
fn sched_flags(s: &ServiceEntry) -> String {
    SchedFlag::ALL
        .iter()
        .map(|f| f.as_str())
        .filter(|f| s.sched_flags.iter().any(|g| g == f))
        .collect::<Vec<_>>()
        .join(",")
}

/// The dotted form of an IPv4 prefix length.
fn ipv4_mask(len: u8) -> std::net::Ipv4Addr {
    std::net::Ipv4Addr::from(u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0))
}

/// The persistence mask as ipvsadm prints it, if it is not the host mask.
fn mask_text(s: &ServiceEntry) -> Option<String> {
    match s.key.vip {
        IpAddr::V4(_) if s.persistence_prefix_len != 32 => {
            Some(ipv4_mask(s.persistence_prefix_len).to_string())
        }
        IpAddr::V6(_) if s.persistence_prefix_len != 128 => {
            Some(s.persistence_prefix_len.to_string())
        }
        _ => None,
    }
}

fn sorted_services<'a>(l: &'a Listing, f: &Format) -> Vec<&'a ServiceEntry> {
    let mut v: Vec<&ServiceEntry> = l.services.iter().collect();
    if !f.nosort {
        v.sort_by_key(|s| (s.key.vip.is_ipv6(), s.key.protocol, s.key.vip, s.key.port));
    }
    v
}

fn sorted_dests<'a>(s: &'a ServiceEntry, f: &Format) -> Vec<&'a DestEntry> {
    let mut v: Vec<&DestEntry> = s.real_servers.iter().collect();
    if !f.nosort {
        v.sort_by_key(|d| (d.address.is_ipv6(), d.address, d.port));
    }
    v
}

/// The service column or switch: `"TCP  10.0.0.1:80"` (cut at 33 for IPv4) or, for `-S`,
/// `"-t 10.0.0.1:80"`.
fn svc_name(s: &ServiceEntry, rule: bool, numeric: bool, names: &dyn Names) -> String {
    let v = addrport(s.key.vip, s.key.port, s.key.protocol, numeric, names);
    if rule {
        format!("{} {v}", s.key.protocol.switch())
    } else {
        let mut n = format!("{:<4} {v}", s.key.protocol.upper());
        if s.key.vip.is_ipv4() {
            truncate(&mut n, 33);
        }
        n
    }
}

/// `print_service_entry` for the listing formats.
fn service_entry(out: &mut String, s: &ServiceEntry, f: &Format, names: &dyn Names) {
    let name = svc_name(s, false, f.numeric, names);
    let c = &s.counters;
    if f.stats {
        let _ = write!(out, "{name:<33}");
        for n in [c.conns, c.inpkts, c.outpkts, c.inbytes, c.outbytes] {
            largenum(out, n, f.exact);
        }
    } else if f.rate {
        let _ = write!(out, "{name:<33}");
        for n in [c.cps, c.inpps, c.outpps, c.inbps, c.outbps] {
            largenum(out, n, f.exact);
        }
    } else {
        let _ = write!(out, "{name} {}", s.scheduler);
        let flags = sched_flags(s);
        if !flags.is_empty() {
            let _ = write!(out, " ({flags})");
        }
        if let Some(t) = s.persistence_s {
            let _ = write!(out, " persistent {t}");
            if let Some(m) = mask_text(s) {
                let _ = write!(out, " mask {m}");
            }
        }
    }
    out.push('\n');
    for d in sorted_dests(s, f) {
        let mut dname = addrport(d.address, d.port, s.key.protocol, f.numeric, names);
        if d.address.is_ipv4() {
            truncate(&mut dname, 28);
        }
        let st = &d.state;
        let c = &st.counters;
        if f.stats {
            let _ = write!(out, "  -> {dname:<28}");
            for n in [c.conns, c.inpkts, c.outpkts, c.inbytes, c.outbytes] {
                largenum(out, n, f.exact);
            }
        } else if f.rate {
            let _ = write!(
                out,
                "  -> {dname:<28} {:>8} {:>8} {:>8}",
                c.cps, c.inpps, c.outpps
            );
            largenum(out, c.inbps, f.exact);
            largenum(out, c.outbps, f.exact);
        } else if f.thresholds {
            let _ = write!(
                out,
                "  -> {dname:<28} {:<10} {:<10} {:<10} {:<10}",
                d.u_threshold, d.l_threshold, st.active_conns, st.inactive_conns
            );
        } else if f.persistent_conn {
            let _ = write!(
                out,
                "  -> {dname:<28} {:<9} {:<11} {:<10} {:<10}",
                d.weight, st.persist_conns, st.active_conns, st.inactive_conns
            );
        } else if f.tun_info {
            // ferrovs tunnels are IPIP only.
            let info = if d.forward == Fwd::Tun { "ipip" } else { "n/a" };
            let _ = write!(
                out,
                "  -> {dname:<28} {:<7} {info:<13} {:<6} {:<10} {:<10}",
                d.forward.column(),
                d.weight,
                st.active_conns,
                st.inactive_conns
            );
        } else {
            let _ = write!(
                out,
                "  -> {dname:<28} {:<7} {:<6} {:<10} {:<10}",
                d.forward.column(),
                d.weight,
                st.active_conns,
                st.inactive_conns
            );
        }
        if f.health {
            health_column(out, d);
        }
        out.push('\n');
    }
}

/// The header line of `-L` over the whole table.
fn header(out: &mut String, l: &Listing) {
    let (a, b, c) = IPVS_VERSION;
    let _ = writeln!(
        out,
        "IP Virtual Server version {a}.{b}.{c} (size={})",
        l.conn_table_size
    );
}

/// `ipvsadm -L [options]` over every service (`list_all`).
pub fn list_all(l: &Listing, f: &Format, names: &dyn Names) -> String {
    let mut out = String::new();
    header(&mut out, l);
    title(&mut out, f);
    for s in sorted_services(l, f) {
        service_entry(&mut out, s, f, names);
    }
    out
}

/// `ipvsadm -L -t VIP:PORT [options]` (`list_service`): no version header, as ipvsadm.
pub fn list_service(s: &ServiceEntry, f: &Format, names: &dyn Names) -> String {
    let mut out = String::new();
    title(&mut out, f);
    service_entry(&mut out, s, f, names);
    out
}

/// `ipvsadm -S [-n]`: the table as commands that `-R` reads back.
pub fn save(l: &Listing, numeric: bool, names: &dyn Names) -> String {
    let f = Format {
        numeric,
        ..Format::default()
    };
    let mut out = String::new();
    for s in sorted_services(l, &f) {
        let name = svc_name(s, true, numeric, names);
        let _ = write!(out, "-A {name} -s {}", s.scheduler);
        if let Some(t) = s.persistence_s {
            let _ = write!(out, " -p {t}");
            if let Some(m) = mask_text(s) {
                let _ = write!(out, " -M {m}");
            }
        }
        let flags = sched_flags(s);
        if !flags.is_empty() {
            let _ = write!(out, " -b {flags}");
        }
        if let Some(pool) = &s.laddr_pool {
            let _ = write!(out, " --laddr-pool {pool}");
        }
        out.push('\n');
        for d in sorted_dests(s, &f) {
            let dname = addrport(d.address, d.port, s.key.protocol, numeric, names);
            let _ = write!(
                out,
                "-a {name} -r {dname} {} -w {}",
                d.forward.switch(),
                d.weight
            );
            // ipvsadm 1.31 names the tunnel type of every -i server.
            if d.forward == Fwd::Tun {
                out.push_str(" --tun-type ipip");
            }
            out.push('\n');
        }
    }
    out
}

/// `ferrovsadm -L --syn-proxy`: per service, the SYN proxy's mode, the workers that answer its
/// SYNs with cookies now (of all), and for `auto` how often a worker engaged it and let it go
/// (`-` for the other modes, which do not switch); `n/a` from a gateway that does not report it.
pub fn syn_proxy(l: &Listing, f: &Format, names: &dyn Names) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<33} {:<5} {:<8} {:>10} {:>11}",
        "Prot LocalAddress:Port", "Mode", "Engaged", "SwitchedOn", "SwitchedOff"
    );
    for s in sorted_services(l, f) {
        let name = svc_name(s, false, f.numeric, names);
        let Some(p) = &s.syn_proxy else {
            let _ = writeln!(out, "{name:<33} n/a");
            continue;
        };
        let (on, off) = if p.mode == SynProxyMode::Auto {
            (p.engaged_total.to_string(), p.released_total.to_string())
        } else {
            ("-".to_owned(), "-".to_owned())
        };
        let _ = writeln!(
            out,
            "{name:<33} {:<5} {:<8} {on:>10} {off:>11}",
            p.mode.name(),
            format!("{}/{}", p.engaged_workers, p.workers)
        );
    }
    out
}

/// `ipvsadm -L --timeout`.
pub fn timeouts(l: &Listing) -> String {
    let t = &l.timeouts;
    format!(
        "Timeout (tcp tcpfin udp): {} {} {}\n",
        t.tcp_s, t.tcpfin_s, t.udp_s
    )
}

/// `ipvsadm -L --daemon` (`list_daemon`): one line per running daemon,
/// `"%s sync daemon (mcast=%s, syncid=%d[, maxlen=%u][, group=%s][, port=%u][, ttl=%u])"`.
/// `group` and `ttl` only with a `[sync] group` (discovery); `port` is `[sync] listen`'s, or
/// the group's when there is one.
pub fn daemons(d: &[DaemonEntry]) -> String {
    let mut out = String::new();
    for e in d {
        let _ = write!(
            out,
            "{} sync daemon (mcast={}, syncid={}",
            e.state.name(),
            e.mcast_interface,
            e.syncid
        );
        if e.maxlen != 0 {
            let _ = write!(out, ", maxlen={}", e.maxlen);
        }
        if let Some(g) = e.group {
            let _ = write!(out, ", group={g}");
        }
        if e.port != 0 {
            let _ = write!(out, ", port={}", e.port);
        }
        if e.ttl != 0 {
            let _ = write!(out, ", ttl={}", e.ttl);
        }
        out.push_str(")\n");
    }
    out
}

/// `ipvsadm -L -c [-n] [--persistent-conn]` (`list_conn`).
pub fn connections(conns: &[ConnEntry], f: &Format, names: &dyn Names) -> String {
    let mut out = String::from("IPVS connection entries\n");
    if f.persistent_conn {
        let _ = writeln!(
            out,
            "pro expire {:<11} {:<18} {:<18} {:<18} {:<16} pe_data",
            "state", "source", "virtual", "destination", "pe name"
        );
    } else {
        let _ = writeln!(
            out,
            "pro expire {:<11} {:<18} {:<18} destination",
            "state", "source", "virtual"
        );
    }
    for c in conns {
        let n =
            |sa: std::net::SocketAddr| addrport(sa.ip(), sa.port(), c.protocol, f.numeric, names);
        let expire = format!("{:02}:{:02}", c.expire_s / 60, c.expire_s % 60);
        let _ = writeln!(
            out,
            "{:<3} {expire:<6} {:<11} {:<18} {:<18} {}",
            c.protocol.upper(),
            c.state,
            n(c.client),
            n(c.virtual_addr),
            n(c.destination)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(i: u64, exact: bool) -> String {
        let mut s = String::new();
        largenum(&mut s, i, exact);
        s
    }

    #[test]
    fn largenum_scales_like_ipvsadm() {
        assert_eq!(num(0, false), "        0");
        assert_eq!(num(99_999_999, false), " 99999999");
        assert_eq!(num(184_940_123, false), "  184940K");
        assert_eq!(num(1_000_000_000, false), "    1000M");
        assert_eq!(num(100_000_000_000, false), "     100G");
        assert_eq!(num(100_000_000_000_000, false), "     100T");
        assert_eq!(num(12, true), "       12");
        assert_eq!(num(123_456_789_012, true), " 123456789012");
    }

    #[test]
    fn utc_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00:00");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00:00", "a leap day");
        assert_eq!(utc(1_700_000_000), "2023-11-14 22:13:20");
        assert_eq!(
            utc(4_107_542_399),
            "2100-02-28 23:59:59",
            "2100 is no leap year"
        );
        assert_eq!(utc(4_107_542_400), "2100-03-01 00:00:00");
    }

    #[test]
    fn ha_listing() {
        use crate::proto::HaAddress;
        let mut l = HaListing {
            mode: "vrrp".into(),
            synced: true,
            problem: None,
            addresses: vec![
                HaAddress {
                    address: "198.18.1.100".parse().unwrap(),
                    owned: true,
                    since_s: 1_700_000_000,
                    tap: Some("eth0".into()),
                },
                HaAddress {
                    address: "2001:2:0:1::100".parse().unwrap(),
                    owned: false,
                    since_s: 1_699_999_817,
                    tap: None,
                },
            ],
            now_s: 1_700_000_012,
        };
        assert_eq!(
            ha(&l),
            "Director HA: mode vrrp, 2 addresses followed\n\
             Address                                  State      For     Since (UTC)          TAP\n\
             198.18.1.100                             owned      12s     2023-11-14 22:13:20  eth0\n\
             2001:2:0:1::100                          not-owned  3m15s   2023-11-14 22:10:17  -\n"
        );
        l.synced = false;
        l.problem = Some("rtnetlink receive: No buffer space available".into());
        l.addresses.truncate(1);
        let text = ha(&l);
        assert!(text.starts_with(
            "Director HA: mode vrrp, 1 address followed\n\
             Waiting for the kernel's addresses: nothing is owned before\n\
             Watcher: rtnetlink receive: No buffer space available\n"
        ));
        l.mode = "none".into();
        assert_eq!(
            ha(&l),
            "Director HA: mode none (every address is always owned)\n"
        );
    }

    #[test]
    fn masks() {
        assert_eq!(ipv4_mask(24).to_string(), "255.255.255.0");
        assert_eq!(ipv4_mask(0).to_string(), "0.0.0.0");
    }
}
