//! The exception path of each port: a kernel TAP interface with the port's MAC and addresses.

use std::sync::Arc;

use config::Config;
use dataplane::snapshot::Mac;
use dpdk::eal::Eal;
use dpdk::ethdev::{Port, PortConfig, RxQueue, TxQueue};
use dpdk::mempool::Mempool;

use super::fmt_mac;

/// A port's exception path: a kernel TAP interface (DPDK `net_tap`) with the port's MAC and
/// addresses, which control bridges to the wire.
pub(super) struct Tap {
    pub(super) rx: RxQueue,
    pub(super) tx: TxQueue,
    /// Declared last: queues drop first, then the port closes and the kernel interface goes.
    _port: Port,
}

/// Create the exception-path TAP of every port that has one.
pub(super) fn exception_paths(
    eal: &Eal,
    cfg: &Config,
    macs: &[Mac],
    pool: &Arc<Mempool>,
) -> Result<Vec<Option<Tap>>, String> {
    let mut out = Vec::new();
    for (i, pc) in cfg.ports.iter().enumerate() {
        let Some(name) = &pc.exception_path else {
            out.push(None);
            continue;
        };
        let mac = fmt_mac(macs.get(i).unwrap_or(&[0; 6]));
        let spec = format!("net_tap{i},iface={name},mac={mac}");
        let mut port = Port::probe(eal, &spec)
            .map_err(|e| format!("port {}: exception path TAP {name}: {e}", pc.name))?;
        port.configure(&PortConfig {
            rx_queues: 1,
            tx_queues: 1,
            ..Default::default()
        })
        .map_err(|e| format!("port {}: exception path {name}: configure: {e}", pc.name))?;
        let rx = port
            .rx_queue_setup(0, 512, pool)
            .map_err(|e| format!("exception path {name}: {e}"))?;
        let tx = port
            .tx_queue_setup(0, 512)
            .map_err(|e| format!("exception path {name}: {e}"))?;
        port.start()
            .map_err(|e| format!("exception path {name}: start: {e}"))?;
        // The kernel side: up, with the port's addresses, so its stack answers for them.
        let mut cmds = vec![vec!["link", "set", "dev", name.as_str(), "up"]
            .into_iter()
            .map(str::to_owned)
            .collect::<Vec<_>>()];
        for a in &pc.addresses {
            let mut c: Vec<String> = vec!["addr".into(), "replace".into(), a.to_string()];
            c.extend(["dev".into(), name.clone()]);
            if a.addr.is_ipv6() {
                c.push("nodad".into());
            }
            cmds.push(c);
        }
        for c in cmds {
            let st = std::process::Command::new("ip")
                .args(&c)
                .output()
                .map_err(|e| format!("exception path {name}: ip {}: {e}", c.join(" ")))?;
            if !st.status.success() {
                return Err(format!(
                    "exception path {name}: ip {}: {}",
                    c.join(" "),
                    String::from_utf8_lossy(&st.stderr).trim()
                ));
            }
        }
        println!(
            "ferrovs: port {}: exception path {name} (kernel TAP, mac {mac})",
            pc.name
        );
        out.push(Some(Tap {
            rx,
            tx,
            _port: port,
        }));
    }
    Ok(out)
}
