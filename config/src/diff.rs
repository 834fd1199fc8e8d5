//! Boot-only differences between two configurations, for refusing a live reload.
//!
//! `[dpdk]`, every `[[port]]` key, `[control]` and `ha.mode` are boot-only: EAL arguments,
//! lcores, mempools, table sizes, the ports' devices, queues and addresses, the control
//! listeners and the watcher of the exception-path TAPs are fixed when the gateway starts. A
//! reload whose new file changes any of them is refused as a whole ("restart required") and the running
//! configuration stays, as DPVS does for its `<init>` keys. Ports are matched by name, so
//! reordering `[[port]]` blocks is not a change; the commit keeps the running order
//! (`Config::keep_port_order`).

use core::fmt::Debug;

use crate::model::{Config, Port};
use crate::schema::format_lcore_list;

/// Push `key: old -> new` when the values differ.
fn cmp<T: PartialEq + Debug>(out: &mut Vec<String>, key: &str, a: &T, b: &T) {
    if a != b {
        out.push(format!("{key}: {a:?} -> {b:?}"));
    }
}

fn port_diff(out: &mut Vec<String>, a: &Port, b: &Port) {
    let k = |f: &str| format!("port[{}].{f}", a.name);
    cmp(out, &k("device"), &a.device, &b.device);
    cmp(out, &k("mtu"), &a.mtu, &b.mtu);
    let (aa, ba): (Vec<String>, Vec<String>) = (
        a.addresses.iter().map(ToString::to_string).collect(),
        b.addresses.iter().map(ToString::to_string).collect(),
    );
    cmp(out, &k("addresses"), &aa, &ba);
    let (am, bm) = (a.mac.map(|m| m.to_string()), b.mac.map(|m| m.to_string()));
    cmp(out, &k("mac"), &am, &bm);
    cmp(
        out,
        &k("exception_path"),
        &a.exception_path,
        &b.exception_path,
    );
    cmp(out, &k("rx_desc"), &a.rx_desc, &b.rx_desc);
    cmp(out, &k("tx_desc"), &a.tx_desc, &b.tx_desc);
}

/// Return one line per boot-only key that differs between `old` and `new`.
pub(crate) fn boot_only_diff(old: &Config, new: &Config) -> Vec<String> {
    let mut out = Vec::new();
    let (a, b) = (&old.dpdk, &new.dpdk);
    cmp(
        &mut out,
        "dpdk.lcores",
        &format_lcore_list(&a.lcores),
        &format_lcore_list(&b.lcores),
    );
    cmp(&mut out, "dpdk.main_lcore", &a.main_lcore, &b.main_lcore);
    cmp(
        &mut out,
        "dpdk.worker_lcores",
        &format_lcore_list(&a.worker_lcores),
        &format_lcore_list(&b.worker_lcores),
    );
    cmp(&mut out, "dpdk.lcore_cpus", &a.lcore_cpus, &b.lcore_cpus);
    cmp(&mut out, "dpdk.hugepages", &a.hugepages, &b.hugepages);
    cmp(&mut out, "dpdk.memory_mb", &a.memory_mb, &b.memory_mb);
    cmp(&mut out, "dpdk.file_prefix", &a.file_prefix, &b.file_prefix);
    cmp(
        &mut out,
        "dpdk.extra_eal_args",
        &a.extra_eal_args,
        &b.extra_eal_args,
    );
    cmp(
        &mut out,
        "dpdk.mbufs_per_port",
        &a.mbufs_per_port,
        &b.mbufs_per_port,
    );
    cmp(
        &mut out,
        "dpdk.session_capacity",
        &a.session_capacity,
        &b.session_capacity,
    );
    cmp(
        &mut out,
        "dpdk.persist_capacity",
        &a.persist_capacity,
        &b.persist_capacity,
    );
    cmp(&mut out, "dpdk.idle", &a.idle.name(), &b.idle.name());
    cmp(
        &mut out,
        "control.metrics_listen",
        &old.control.metrics_listen,
        &new.control.metrics_listen,
    );
    cmp(
        &mut out,
        "control.admin_socket",
        &old.control.admin_socket,
        &new.control.admin_socket,
    );
    // Not `cmp`: its message would print the users' password hashes.
    if old.control.console != new.control.console {
        out.push("control.console: the web console's settings changed".to_owned());
    }
    // The watcher of the exception-path TAPs starts with the gateway; the followed addresses
    // and the announcement timers are reloadable.
    cmp(
        &mut out,
        "ha.mode",
        &old.ha.mode.name(),
        &new.ha.mode.name(),
    );
    // The routes of `[announce]` live in one table for the process's life (a new table would
    // leave the old one's routes behind): the section and its table are fixed at start.
    cmp(
        &mut out,
        "announce.table",
        &old.announce.as_ref().map(|a| a.table),
        &new.announce.as_ref().map(|a| a.table),
    );
    // Port addresses go on the TAPs at start unless they follow HA (then keepalived puts them
    // there): which ones follow is fixed with the TAPs. Sorted: moving `[[port]]` blocks moves
    // no address.
    let floating = |c: &Config| -> Vec<String> {
        let followed = c.ha_followed();
        let mut v: Vec<String> = c
            .ports
            .iter()
            .flat_map(|p| p.addresses.iter().map(|a| a.addr))
            .filter(|a| followed.contains(a))
            .map(|a| a.to_string())
            .collect();
        v.sort();
        v
    };
    cmp(
        &mut out,
        "ha.addresses (port addresses)",
        &floating(old),
        &floating(new),
    );
    for p in &old.ports {
        match new.ports.iter().find(|n| n.name == p.name) {
            Some(n) => port_diff(&mut out, p, n),
            None => out.push(format!("port[{}]: removed", p.name)),
        }
    }
    for n in &new.ports {
        if !old.ports.iter().any(|p| p.name == n.name) {
            out.push(format!("port[{}]: added", n.name));
        }
    }
    out
}
